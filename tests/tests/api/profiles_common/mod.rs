//! Helpers of the profiles tests (each test file uses a part of them), on top of
//! `api_tests::fixtures` (users with every item registration writes: `complete_person`).
#![allow(dead_code)]

use accounts::model::UserId;
use accounts::store::{Index, Item, Query, keys};
use api_tests::app::TestApp;
use api_tests::fixtures::{Person, all_pages, call};
use http::Method;
use serde_json::{Value as Json, json};

/// Every item of the user's partition, without the throttled activity bookkeeping and the
/// event log: what a request that must change nothing must leave as it was.
pub async fn snapshot(app: &TestApp, id: UserId) -> Vec<Item> {
    let query = Query::new(Index::Primary, keys::user_partition(id)).consistent();
    let items = all_pages(app.table(), query).await;
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

/// `GET` as `who`: the status and the body.
pub async fn get(app: &TestApp, who: &Person, path: &str) -> (u16, Json) {
    call(app, who, Method::GET, path, None).await
}

pub async fn patch(app: &TestApp, who: &Person, path: &str, body: Json) -> (u16, Json) {
    call(app, who, Method::PATCH, path, Some(body)).await
}

pub async fn put(app: &TestApp, who: &Person, path: &str, body: Json) -> (u16, Json) {
    call(app, who, Method::PUT, path, Some(body)).await
}

pub async fn post(app: &TestApp, who: &Person, path: &str, body: Json) -> (u16, Json) {
    call(app, who, Method::POST, path, Some(body)).await
}

pub async fn delete(app: &TestApp, who: &Person, path: &str) -> (u16, Json) {
    call(app, who, Method::DELETE, path, None).await
}

/// `follower` follows `followed` through the social API (a request when `followed` is
/// private, which `followed` then approves).
pub async fn follow(app: &TestApp, follower: &Person, followed: &Person) {
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
pub async fn block(app: &TestApp, blocker: &Person, blocked: &Person) {
    let (status, body) = post(
        app,
        blocker,
        "/api/blocks/",
        json!({ "blocked": blocked.id.0 }),
    )
    .await;
    assert_eq!(status, 201, "block: {body}");
}
