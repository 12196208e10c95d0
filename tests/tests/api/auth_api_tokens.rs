//! API tokens through the HTTP API, on both engines: create (shown once), list (never the key
//! or its hash), authenticate with `Authorization: Token`, throttled `last_used_at`, revoke
//! (owner only: someone else's id is 404), and who may manage tokens.

use accounts::activity::events::EventType;
use accounts::auth::secrets::sha256_hex;
use accounts::clock::Clock;
use accounts::store::{Value, keys};
use api_tests::app::TestApp;
use api_tests::fixtures::{events_of, sign_in, stored_user};
use api_tests::{TestTable, both_engines};
use chrono::Duration;
use serde_json::{Value as Json, json};

const INVALID_API_TOKEN: &str = "Invalid token.";

// ------------------------------------------------------------------------------- helpers

async fn create(app: &TestApp, access: &str, name: &str) -> Json {
    let response = app
        .post("/api/auth/tokens/")
        .bearer(access)
        .json(json!({ "name": name }))
        .send()
        .await;
    assert_eq!(response.status, 201, "{:?}", response.body_json());
    response.body_json()
}

async fn list(app: &TestApp, access: &str) -> Json {
    let response = app.get("/api/auth/tokens/").bearer(access).send().await;
    assert_eq!(response.status, 200, "{:?}", response.body_json());
    response.body_json()
}

async fn who_am_i(app: &TestApp, key: &str) -> accounts::http::ApiResponse {
    app.get("/api/auth/jwt/user-info/")
        .api_token(key)
        .send()
        .await
}

// --------------------------------------------------------------------------------- tests

/// Create shows the key once; the store holds only its hash; the list shows name, prefix and
/// times but never the key or the hash; the key authenticates as its owner.
async fn create_list_and_authenticate(t: TestTable) {
    let app = TestApp::new(t).await;
    let alice = stored_user(&app.app, 1, "alice", true).await;
    let access = sign_in(&app.app, &alice).await.access;

    let created = create(&app, &access, "  CI deploy  ").await;
    let key = created["key"].as_str().unwrap().to_owned();
    let prefix = created["prefix"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "CI deploy", "the name is trimmed");
    assert!(
        key.starts_with(&format!("{prefix}_")),
        "{key} starts with its prefix"
    );
    assert!(key.len() >= 40, "a long random key: {key}");
    assert!(created["created_at"].is_string());
    let second = create(&app, &access, "laptop").await;
    assert_ne!(second["key"], created["key"]);
    assert_ne!(second["id"], created["id"]);

    // Stored by hash, the key itself nowhere.
    let hash = sha256_hex(&key);
    let item = app
        .table()
        .get(&keys::api_token(&hash), true)
        .await
        .unwrap()
        .expect("the token is stored under the hash of its key");
    assert_eq!(item.get("user_id"), Some(&Value::Int(1)));
    let stored = serde_json::to_string(
        &item
            .iter()
            .map(|(k, v)| (k.clone(), Json::from(v)))
            .collect::<serde_json::Map<_, _>>(),
    )
    .unwrap();
    assert!(!stored.contains(&key), "the raw key is not stored");

    let listed = list(&app, &access).await;
    assert_eq!(listed["count"], 2);
    assert_eq!(listed["next"], Json::Null);
    let first = &listed["results"][0];
    assert_eq!(first["id"], json!(id));
    assert_eq!(first["name"], "CI deploy");
    assert_eq!(first["prefix"], json!(prefix));
    assert_eq!(first["last_used_at"], Json::Null);
    let mut fields: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["created_at", "id", "last_used_at", "name", "prefix"]
    );
    let text = listed.to_string();
    assert!(
        !text.contains(&key) && !text.contains(&hash),
        "no key or hash in the list"
    );

    let me = who_am_i(&app, &key).await;
    assert_eq!(me.status, 200, "{:?}", me.body_json());
    assert_eq!(me.body_json()["id"], 1);
    assert_eq!(me.body_json()["auth_method"], "api_token");
    let listed = list(&app, &access).await;
    assert_eq!(
        listed["results"][0]["last_used_at"],
        json!(app.clock().now()),
        "the use is recorded"
    );

    let created_events = events_of(&app.app, alice.id, EventType::ApiTokenCreated).await;
    assert_eq!(created_events.len(), 2);
    assert!(
        !format!("{created_events:?}").contains(&key),
        "events never hold the key"
    );
}

/// `last_used_at` is written at most once a minute per token.
async fn last_use_is_written_at_most_once_a_minute(t: TestTable) {
    let app = TestApp::new(t).await;
    let alice = stored_user(&app.app, 1, "alice", true).await;
    let access = sign_in(&app.app, &alice).await.access;
    let key = create(&app, &access, "script").await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let last_used = |listed: Json| listed["results"][0]["last_used_at"].clone();

    let start = app.clock().now();
    assert_eq!(who_am_i(&app, &key).await.status, 200);
    assert_eq!(last_used(list(&app, &access).await), json!(start));

    app.clock().advance(Duration::seconds(59));
    assert_eq!(who_am_i(&app, &key).await.status, 200);
    assert_eq!(
        last_used(list(&app, &access).await),
        json!(start),
        "59 s later: not written"
    );

    app.clock().advance(Duration::seconds(1));
    assert_eq!(who_am_i(&app, &key).await.status, 200);
    assert_eq!(
        last_used(list(&app, &access).await),
        json!(app.clock().now()),
        "60 s later: written"
    );
}

/// Revoking: only the owner's own tokens (another user's id is 404 and the token keeps
/// working); a revoked key is refused at once; revoking again is 404.
async fn revoke_is_owner_only_and_takes_effect_at_once(t: TestTable) {
    let app = TestApp::new(t).await;
    let alice = stored_user(&app.app, 1, "alice", true).await;
    let bob = stored_user(&app.app, 2, "bob", true).await;
    let alice_access = sign_in(&app.app, &alice).await.access;
    let bob_access = sign_in(&app.app, &bob).await.access;
    let alices = create(&app, &alice_access, "alice's").await;
    let bobs = create(&app, &bob_access, "bob's").await;
    let alice_key = alices["key"].as_str().unwrap();
    let alice_id = alices["id"].as_str().unwrap();

    assert_eq!(
        list(&app, &bob_access).await["count"],
        1,
        "bob sees his own"
    );

    let path = format!("/api/auth/tokens/{alice_id}/");
    let response = app.delete(&path).bearer(&bob_access).send().await;
    assert_eq!(response.status, 404, "someone else's token");
    assert_eq!(response.body_json(), json!({ "detail": "Not found." }));
    assert_eq!(who_am_i(&app, alice_key).await.status, 200, "still valid");
    let unknown = app
        .delete("/api/auth/tokens/01ARZ3NDEKTSV4RRFFQ69G5FAV/")
        .bearer(&alice_access)
        .send()
        .await;
    assert_eq!(unknown.status, 404);

    let response = app.delete(&path).bearer(&alice_access).send().await;
    assert_eq!(response.status, 204, "{:?}", response.body_json());
    let refused = who_am_i(&app, alice_key).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body_json(), json!({ "detail": INVALID_API_TOKEN }));
    assert_eq!(
        app.delete(&path).bearer(&alice_access).send().await.status,
        404
    );
    assert_eq!(list(&app, &alice_access).await["count"], 0);
    assert_eq!(
        who_am_i(&app, bobs["key"].as_str().unwrap()).await.status,
        200,
        "bob's token is untouched"
    );
    assert!(
        app.table()
            .get(&keys::api_token(&sha256_hex(alice_key)), true)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        events_of(&app.app, alice.id, EventType::ApiTokenRevoked)
            .await
            .len(),
        1
    );
}

/// Unknown keys are refused; managing tokens needs a signed-in, verified caller; an API token
/// may list and revoke but not mint more tokens; names are validated.
async fn who_may_manage_tokens(t: TestTable) {
    let app = TestApp::new(t).await;
    let alice = stored_user(&app.app, 1, "alice", true).await;
    let carol = stored_user(&app.app, 3, "carol", false).await;
    let access = sign_in(&app.app, &alice).await.access;

    for key in ["deadbeef_not-a-real-key", "x", &"k".repeat(5000)] {
        let response = who_am_i(&app, key).await;
        assert_eq!(response.status, 401, "{key:.20}");
        assert_eq!(response.body_json(), json!({ "detail": INVALID_API_TOKEN }));
    }

    let anonymous = app
        .post("/api/auth/tokens/")
        .json(json!({ "name": "x" }))
        .send()
        .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(app.get("/api/auth/tokens/").send().await.status, 401);

    let carol_access = sign_in(&app.app, &carol).await.access;
    let unverified = app
        .post("/api/auth/tokens/")
        .bearer(&carol_access)
        .json(json!({ "name": "x" }))
        .send()
        .await;
    assert_eq!(unverified.status, 403);
    assert_eq!(
        unverified.body_json(),
        json!({ "detail": "Email address not verified." })
    );

    let key = create(&app, &access, "automation").await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let minted = app
        .post("/api/auth/tokens/")
        .api_token(&key)
        .json(json!({ "name": "another" }))
        .send()
        .await;
    assert_eq!(minted.status, 403, "an API token cannot mint API tokens");
    let listed = app.get("/api/auth/tokens/").api_token(&key).send().await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body_json()["count"], 1);

    for (body, field_error) in [
        (json!({ "name": "   " }), "This field may not be blank."),
        (json!({}), "This field is required."),
        (
            json!({ "name": "n".repeat(101) }),
            "Ensure this field has no more than 100 characters.",
        ),
    ] {
        let response = app
            .post("/api/auth/tokens/")
            .bearer(&access)
            .json(body.clone())
            .send()
            .await;
        assert_eq!(response.status, 400, "{body}");
        assert_eq!(
            response.body_json(),
            json!({ "name": [field_error] }),
            "{body}"
        );
    }
    assert_eq!(list(&app, &access).await["count"], 1, "nothing was created");
}

both_engines!(
    create_list_and_authenticate,
    last_use_is_written_at_most_once_a_minute,
    revoke_is_owner_only_and_takes_effect_at_once,
    who_may_manage_tokens,
);
