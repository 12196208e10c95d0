//! The permission matrix of `/api/users/`: for every endpoint and method, a second ordinary
//! user acting on the first user's account gets 403 or 404 and nothing is written; anonymous
//! callers get 401; moderators and administrators get exactly their documented rights.

use crate::users_support;

use std::collections::BTreeMap;

use accounts::model::{Role, UserId};
use accounts::store::{Item, Key};
use api_tests::app::TestApp;
use api_tests::fixtures::{PASSWORD, Person, call, member, profile_item};
use api_tests::{TestTable, both_engines};
use http::Method;
use serde_json::{Value as Json, json};
use users_support::snapshot;

/// Bookkeeping every authenticated request may write (activity, last use) is left out.
const VOLATILE: [&str; 6] = [
    "last_active",
    "last_active_epoch",
    "last_activity",
    "last_activity_epoch",
    "pages_visited",
    "last_used_at",
];

/// The table without events, rate-limit windows and per-request bookkeeping.
async fn state(app: &TestApp) -> BTreeMap<Key, Item> {
    snapshot(app)
        .await
        .into_iter()
        .filter(|(key, _)| !key.sk.starts_with("EVENT#") && !key.pk.starts_with("RATE#"))
        .map(|(key, mut item)| {
            for attr in VOLATILE {
                item.remove(attr);
            }
            (key, item)
        })
        .collect()
}

/// Every endpoint on `target`'s account, with a body that would change something.
fn requests(target: UserId) -> Vec<(Method, String, Option<Json>)> {
    let one = format!("/api/users/{target}/");
    vec![
        (Method::GET, one.clone(), None),
        (
            Method::PUT,
            one.clone(),
            Some(json!({"username": "taken_over", "email": "evil@example.com"})),
        ),
        (
            Method::PATCH,
            one.clone(),
            Some(json!({"first_name": "Pwned", "role": "admin"})),
        ),
        (Method::DELETE, one, None),
        (
            Method::POST,
            format!("/api/users/{target}/suspend/"),
            Some(json!({"reason": "because"})),
        ),
        (
            Method::POST,
            format!("/api/users/{target}/unsuspend/"),
            None,
        ),
        (
            Method::POST,
            "/api/users/".into(),
            Some(
                json!({"username": "made", "email": "made@example.com", "password": PASSWORD, "role": "admin"}),
            ),
        ),
    ]
}

/// The documented refusal (docs/users.md): the account endpoints (`/api/users/{id}/`) answer
/// 404 to whoever may not see the account, so its existence is not revealed; the staff and
/// administrator actions answer 403 to whoever lacks the role, whatever the account.
fn documented_refusal(method: &Method, path: &str) -> u16 {
    let account_endpoint = path.matches('/').count() == 4 && path != "/api/users/";
    if account_endpoint && *method != Method::POST {
        404
    } else {
        403
    }
}

/// Sends every request of [`requests`] but the `allowed` ones as `who`; each must get its
/// documented refusal and write nothing. Returns `(method, status, body)` of each answer.
async fn expect_refused(
    app: &TestApp,
    who: &Person,
    target: UserId,
    allowed: &[&str],
) -> Vec<(Method, u16, Json)> {
    let mut answers = Vec::new();
    for (method, path, body) in requests(target) {
        let name = format!("{method} {path}");
        if allowed.contains(&name.as_str()) {
            continue;
        }
        let before = state(app).await;
        let (status, response) = call(app, who, method.clone(), &path, body).await;
        assert_eq!(
            status,
            documented_refusal(&method, &path),
            "{} on {name}: {response}",
            who.username
        );
        assert_eq!(
            before,
            state(app).await,
            "{} on {name} wrote something",
            who.username
        );
        answers.push((method, status, response));
    }
    answers
}

both_engines!(
    async fn ordinary_users_cannot_touch_other_accounts(t: TestTable) {
        let app = TestApp::new(t).await;
        let alice = member(&app, "alice", Role::Normal).await;
        let mallory = member(&app, "mallory", Role::Normal).await;
        let on_alice = expect_refused(&app, &mallory, alice.id, &[]).await;
        // Unknown accounts answer exactly as others' accounts do: same statuses, same bodies.
        let on_nobody = expect_refused(&app, &mallory, UserId(999), &[]).await;
        assert_eq!(on_alice, on_nobody);

        // Anonymous: 401 everywhere, nothing written.
        for (method, path, body) in requests(alice.id) {
            let before = state(&app).await;
            let mut request = app.request(method.clone(), &path);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await;
            assert_eq!(response.status, 401, "{method} {path}");
            assert_eq!(before, state(&app).await, "{method} {path} wrote something");
        }

        // Her own account: read, change, but not suspend herself or create accounts.
        let own = format!("/api/users/{}/", alice.id);
        let (status, _) = call(&app, &alice, Method::GET, &own, None).await;
        assert_eq!(status, 200);
        let (status, _) = call(
            &app,
            &alice,
            Method::PATCH,
            &own,
            Some(json!({"first_name": "Al"})),
        )
        .await;
        assert_eq!(status, 200);
        expect_refused(
            &app,
            &alice,
            alice.id,
            &[
                &format!("GET {own}"),
                &format!("PUT {own}"),
                &format!("PATCH {own}"),
                &format!("DELETE {own}"),
            ],
        )
        .await;
        assert_eq!(
            profile_item(&app.app, alice.id).await.unwrap()["first_name"].as_str(),
            Some("Al")
        );
    }
);

both_engines!(
    async fn moderators_suspend_and_nothing_more(t: TestTable) {
        let app = TestApp::new(t).await;
        let alice = member(&app, "alice", Role::Normal).await;
        let moderator = member(&app, "moderator", Role::Moderator).await;
        let suspend = format!("POST /api/users/{}/suspend/", alice.id);
        let unsuspend = format!("POST /api/users/{}/unsuspend/", alice.id);
        expect_refused(&app, &moderator, alice.id, &[&suspend, &unsuspend]).await;
        let (status, _) = call(
            &app,
            &moderator,
            Method::POST,
            &format!("/api/users/{}/suspend/", alice.id),
            Some(json!({"reason": "spam"})),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = call(
            &app,
            &moderator,
            Method::POST,
            &format!("/api/users/{}/unsuspend/", alice.id),
            None,
        )
        .await;
        assert_eq!(status, 200);
    }
);

both_engines!(
    async fn administrators_have_every_right(t: TestTable) {
        let app = TestApp::new(t).await;
        let alice = member(&app, "alice", Role::Normal).await;
        let admin = member(&app, "admin", Role::Admin).await;
        let one = format!("/api/users/{}/", alice.id);
        let expected = [
            (Method::GET, one.clone(), None, 200),
            (
                Method::PATCH,
                one.clone(),
                Some(json!({"first_name": "Alice", "role": "professional"})),
                200,
            ),
            (
                Method::PUT,
                one.clone(),
                Some(json!({"username": "alice2", "email": "alice2@example.com"})),
                200,
            ),
            (
                Method::POST,
                format!("/api/users/{}/suspend/", alice.id),
                Some(json!({"reason": "x"})),
                200,
            ),
            (
                Method::POST,
                format!("/api/users/{}/unsuspend/", alice.id),
                None,
                200,
            ),
            (
                Method::POST,
                "/api/users/".into(),
                Some(
                    json!({"username": "made", "email": "made@example.com", "password": PASSWORD}),
                ),
                201,
            ),
            (Method::DELETE, one.clone(), None, 204),
            (Method::GET, one, None, 404),
        ];
        for (method, path, body, want) in expected {
            let (status, response) = call(&app, &admin, method.clone(), &path, body).await;
            assert_eq!(status, want, "{method} {path}: {response}");
        }
        let stored = profile_item(&app.app, alice.id).await;
        assert!(stored.is_none(), "{stored:?}");
    }
);
