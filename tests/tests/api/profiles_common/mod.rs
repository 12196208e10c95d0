//! Helpers of the profiles tests (each test file uses a part of them).
#![allow(dead_code)]

use accounts::App;
use accounts::accounts::{CredentialsRecord, SettingsRecord, UserRecord};
use accounts::auth::AuthMethod;
use accounts::auth::{jwt, sessions};
use accounts::model::{Role, UserId};
use accounts::store::{Item, Query, Value, keys};
use api_tests::app::TestApp;
use api_tests::fixtures::client;
use serde_json::{Value as Json, json};

/// A verified user with settings, credentials and unique items written straight to the store
/// (registration is tested elsewhere), and an access token of a JWT session of theirs.
pub struct TestUser {
    pub id: UserId,
    pub record: UserRecord,
    pub access: String,
}

pub async fn user(app: &App, id: i64, name: &str, role: Role) -> TestUser {
    let now = app.clock.now();
    let mut record = UserRecord::new(UserId(id), name.into(), format!("{name}@example.com"), now);
    record.is_verified = true;
    record.role = role;
    app.table
        .put(record.to_item().unwrap(), None)
        .await
        .unwrap();
    let settings = SettingsRecord::defaults(UserId(id), now);
    app.table
        .put(settings.to_item().unwrap(), None)
        .await
        .unwrap();
    let credentials = CredentialsRecord {
        user_id: UserId(id),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
        password_changed_at: now,
    };
    app.table
        .put(credentials.to_item().unwrap(), None)
        .await
        .unwrap();
    app.table
        .put(record.name_item(&now.to_rfc3339()), None)
        .await
        .unwrap();
    let mut email =
        keys::unique_email(&format!("{name}@example.com").to_ascii_lowercase()).to_item();
    email.insert("user_id".into(), Value::Int(id));
    app.table.put(email, None).await.unwrap();
    let started = sessions::start_session(app, &record, &client(), AuthMethod::Jwt)
        .await
        .unwrap();
    let access = jwt::issue_pair(app, &started.record).unwrap().access;
    TestUser {
        id: UserId(id),
        record,
        access,
    }
}

/// Every item of the user's partition, without the throttled activity bookkeeping and the
/// event log: what a request that must change nothing must leave as it was.
pub async fn snapshot(app: &TestApp, id: UserId) -> Vec<Item> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = app
            .table()
            .query(
                Query::new(accounts::store::Index::Primary, keys::user_partition(id))
                    .consistent()
                    .after(cursor),
            )
            .await
            .unwrap();
        items.extend(page.items);
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    items
        .into_iter()
        .filter(|i| {
            !i.get("SK").and_then(|v| v.as_str()).is_some_and(|sk| {
                // Events, and the day items of the daily visits (activity bookkeeping).
                sk.starts_with(keys::EVENT_PREFIX) || sk.starts_with(keys::DAY_PREFIX)
            })
        })
        .map(|mut i| {
            i.remove("last_active");
            i.remove("last_active_epoch");
            i.remove("visit_until");
            i
        })
        .collect()
}

pub async fn get(app: &TestApp, who: &TestUser, path: &str) -> (u16, Json) {
    let r = app.get(path).bearer(&who.access).send().await;
    (r.status.as_u16(), r.body_json())
}

pub async fn patch(app: &TestApp, who: &TestUser, path: &str, body: Json) -> (u16, Json) {
    let r = app.patch(path).bearer(&who.access).json(body).send().await;
    (r.status.as_u16(), r.body_json())
}

pub async fn put(app: &TestApp, who: &TestUser, path: &str, body: Json) -> (u16, Json) {
    let r = app.put(path).bearer(&who.access).json(body).send().await;
    (r.status.as_u16(), r.body_json())
}

pub async fn post(app: &TestApp, who: &TestUser, path: &str, body: Json) -> (u16, Json) {
    let r = app.post(path).bearer(&who.access).json(body).send().await;
    (r.status.as_u16(), r.body_json())
}

pub async fn delete(app: &TestApp, who: &TestUser, path: &str) -> (u16, Json) {
    let r = app.delete(path).bearer(&who.access).send().await;
    (r.status.as_u16(), r.body_json())
}

/// `follower` follows `followed` through the social API (a request when `followed` is
/// private, which `followed` then approves).
pub async fn follow(app: &TestApp, follower: &TestUser, followed: &TestUser) {
    let (status, body) = post(
        app,
        follower,
        "/api/follows/",
        json!({ "following": followed.id.0 }),
    )
    .await;
    assert!(status == 201 || status == 200, "follow: {status} {body}");
    if body["status"] == "pending" {
        let id = body["id"].as_str().unwrap().to_owned();
        let (status, body) = post(
            app,
            followed,
            &format!("/api/follows/{id}/approve/"),
            json!({}),
        )
        .await;
        assert_eq!(status, 200, "approve: {body}");
    }
}

/// `blocker` blocks `blocked` through the social API.
pub async fn block(app: &TestApp, blocker: &TestUser, blocked: &TestUser) {
    let (status, body) = post(
        app,
        blocker,
        "/api/blocks/",
        json!({ "blocked": blocked.id.0 }),
    )
    .await;
    assert_eq!(status, 201, "block: {body}");
}
