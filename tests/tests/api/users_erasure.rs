//! `DELETE /api/users/{id}/`: the account is erased completely (events stay, anonymised), the
//! other users' counters are right, the username and email are free, and an erasure
//! interrupted half-way is finished by a retry.

use crate::users_support;

use accounts::model::{Role, UserId};
use accounts::store::{Key, Value, keys};
use api_tests::app::TestApp;
use api_tests::fixtures::{PASSWORD, Person, access_token, call, member, profile_item};
use api_tests::{TestTable, both_engines};
use http::Method;
use serde_json::json;
use users_support::snapshot;

/// Whether a stored value mentions `needle` anywhere (strings, lists, maps).
fn mentions(value: &Value, needle: &str) -> bool {
    match value {
        Value::S(s) => s.to_lowercase().contains(needle),
        Value::L(items) => items.iter().any(|v| mentions(v, needle)),
        Value::M(map) => map.values().any(|v| mentions(v, needle)),
        _ => false,
    }
}

async fn counters(app: &TestApp, id: UserId) -> (i64, i64) {
    let item = profile_item(&app.app, id).await.expect("the profile");
    (
        item["follower_count"].as_i64().unwrap_or(0),
        item["following_count"].as_i64().unwrap_or(0),
    )
}

/// Gives alice one of everything a user can own.
async fn populate(app: &TestApp, alice: &Person, bob: &Person, carol: &Person, dave: &Person) {
    for (who, whom) in [(alice, bob.id), (carol, alice.id)] {
        let body = Some(json!({"following": whom}));
        let (status, body) = call(app, who, Method::POST, "/api/follows/", body).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = call(
        app,
        alice,
        Method::POST,
        "/api/blocks/",
        Some(json!({"blocked": dave.id})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(
        app,
        alice,
        Method::POST,
        "/api/auth/tokens/",
        Some(json!({"name": "laptop"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // A reset code, a failed login, a second session, a professional profile and a badge.
    let response = app
        .post("/api/auth/password/reset/")
        .json(json!({"email": "alice@example.com"}))
        .send()
        .await;
    assert_eq!(response.status, 200, "{}", response.body_json());
    let response = app
        .post("/api/auth/jwt/login/")
        .json(json!({"username": "alice", "password": "wrong password 1"}))
        .send()
        .await;
    assert_eq!(response.status, 400);
    access_token(app, "alice").await;
    let id = alice.id;
    let mut pro = keys::professional_profile(id).to_item();
    pro.insert("user_id".into(), Value::Int(alice.id.0));
    pro.insert("company_name".into(), "Alice & Co".into());
    app.table().put(pro, None).await.unwrap();
    let mut badge = Key::new(keys::user_partition(id), "BADGE#first-follow").to_item();
    badge.insert("user_id".into(), Value::Int(alice.id.0));
    app.table().put(badge, None).await.unwrap();
}

/// No item of alice's but anonymised events: nothing under her key but events, nothing
/// anywhere that names her, holds her id or is indexed under her.
async fn assert_erased(app: &TestApp, alice: UserId) {
    let own = keys::user_partition(alice);
    for (key, item) in snapshot(app).await {
        let is_event = key.pk == own && key.sk.starts_with(keys::EVENT_PREFIX);
        if key.pk == own {
            assert!(is_event, "left behind: {key:?}");
        }
        // Other users' own events are their history, not hers.
        let others_event = key.pk != own && key.sk.starts_with(keys::EVENT_PREFIX);
        for (attr, value) in item.iter().filter(|_| !others_event) {
            assert!(
                !mentions(value, "alice"),
                "{key:?} still names her in {attr}: {value:?}"
            );
        }
        if !is_event {
            assert_ne!(
                item.get("user_id").and_then(Value::as_i64),
                Some(alice.0),
                "{key:?}"
            );
            for index in ["GSI1PK", "GSI2PK"] {
                assert_ne!(
                    item.get(index).and_then(Value::as_str),
                    Some(own.as_str()),
                    "{key:?} indexed under her"
                );
            }
        }
    }
}

both_engines!(
    async fn erasure_removes_everything_but_anonymised_events(t: TestTable) {
        let app = TestApp::new(t).await;
        let alice = member(&app, "alice", Role::Normal).await;
        let bob = member(&app, "bob", Role::Normal).await;
        let carol = member(&app, "carol", Role::Normal).await;
        let dave = member(&app, "dave", Role::Normal).await;
        populate(&app, &alice, &bob, &carol, &dave).await;
        assert_eq!(counters(&app, bob.id).await, (1, 0));
        assert_eq!(counters(&app, carol.id).await, (0, 1));

        // The owner proves the current password: without it, or with a wrong one, nothing goes.
        let own = format!("/api/users/{}/", alice.id);
        for (body, field) in [
            (None, "current_password"),
            (
                Some(json!({"current_password": "wrong password 1"})),
                "current_password",
            ),
        ] {
            let (status, answer) = call(&app, &alice, Method::DELETE, &own, body).await;
            assert_eq!(status, 400, "{answer}");
            assert!(answer[field].is_array(), "{answer}");
        }
        assert!(profile_item(&app.app, alice.id).await.is_some());
        let (status, body) = call(
            &app,
            &alice,
            Method::DELETE,
            &own,
            Some(json!({"current_password": PASSWORD})),
        )
        .await;
        assert_eq!(status, 204, "{body}");

        assert_erased(&app, alice.id).await;
        assert_eq!(counters(&app, bob.id).await, (0, 0));
        assert_eq!(counters(&app, carol.id).await, (0, 0));
        // The security log is kept: her events remain, under her id only.
        let events = snapshot(&app)
            .await
            .into_keys()
            .filter(|k| k.pk == keys::user_partition(alice.id))
            .count();
        assert!(events > 0, "her events are kept");

        // Her token is dead, her name and address are free.
        let (status, _) = call(&app, &alice, Method::GET, "/api/auth/me/", None).await;
        assert_eq!(status, 401);
        let response = app
            .post("/api/auth/register/")
            .json(json!({"username": "Alice", "email": "ALICE@example.com", "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(response.status, 201, "{}", response.body_json());
        assert_ne!(response.body_json()["id"].as_i64(), Some(alice.id.0));
    }
);

both_engines!(
    async fn an_interrupted_erasure_is_finished_by_a_retry(t: TestTable) {
        let app = TestApp::new(t).await;
        let admin = member(&app, "admin", Role::Admin).await;
        let alice = member(&app, "alice", Role::Normal).await;
        let bob = member(&app, "bob", Role::Normal).await;
        let carol = member(&app, "carol", Role::Normal).await;
        let dave = member(&app, "dave", Role::Normal).await;
        populate(&app, &alice, &bob, &carol, &dave).await;

        // The state the first step leaves (marked, credentials gone), as after a crash there.
        let id = alice.id;
        let mut item = profile_item(&app.app, alice.id).await.unwrap();
        item.insert("deleting".into(), Value::Bool(true));
        item.insert("is_suspended".into(), Value::Bool(true));
        item.remove("GSI1PK");
        item.remove("GSI1SK");
        app.table().put(item, None).await.unwrap();
        app.table()
            .delete(&keys::credentials(id), None)
            .await
            .unwrap();

        // Half-erased, the account is inert: no login, not listed, not found, not followable.
        let response = app
            .post("/api/auth/jwt/login/")
            .json(json!({"username": "alice", "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(response.status, 400);
        let (status, _) = call(&app, &alice, Method::GET, "/api/auth/me/", None).await;
        assert!(status == 401 || status == 403, "{status}");
        let (_, list) = call(&app, &admin, Method::GET, "/api/users/?search=alice", None).await;
        assert_eq!(list["results"], json!([]));
        let path = format!("/api/users/{}/", alice.id);
        let (status, _) = call(&app, &admin, Method::GET, &path, None).await;
        assert_eq!(status, 404);
        let (status, _) = call(
            &app,
            &bob,
            Method::POST,
            "/api/follows/",
            Some(json!({"following": alice.id})),
        )
        .await;
        assert!((400..500).contains(&status), "{status}");
        // The username is still held until the erasure finishes.
        let response = app
            .post("/api/auth/register/")
            .json(json!({"username": "alice", "email": "other@example.com", "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(response.status, 400);

        // An administrator's retry finishes the job; a second one finds nothing.
        let (status, body) = call(&app, &admin, Method::DELETE, &path, None).await;
        assert_eq!(status, 204, "{body}");
        assert_erased(&app, alice.id).await;
        assert_eq!(counters(&app, bob.id).await, (0, 0));
        assert_eq!(counters(&app, carol.id).await, (0, 0));
        let (status, _) = call(&app, &admin, Method::DELETE, &path, None).await;
        assert_eq!(status, 404);
    }
);
