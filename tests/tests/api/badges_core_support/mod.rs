//! Helpers shared by the badges-core tests (definitions, awards, leaderboard): badge
//! definitions made and awarded through the API as an `api_tests::fixtures::Person`, and the
//! analytics.

#![allow(dead_code)]

use accounts::http::ApiResponse;
use accounts::model::UserId;
use api_tests::app::TestApp;
use api_tests::fixtures::Person;
use serde_json::{Value as Json, json};

/// A valid definition body: a counter badge of this rarity and points.
pub fn badge_body(name: &str, rarity: &str, points: i64) -> Json {
    json!({
        "name": name,
        "description": format!("The {name} badge"),
        "category": "achievement",
        "icon": "fas fa-star",
        "color": "#FFD700",
        "criteria": {"type": "counter", "field": "posts_count", "threshold": 10},
        "points": points,
        "rarity": rarity,
    })
}

/// Creates a definition through the API as `admin`; panics unless 201. Returns its id.
pub async fn create_badge(app: &TestApp, admin: &Person, body: Json) -> i64 {
    let response = app
        .post("/api/badges/")
        .bearer(&admin.token)
        .json(body)
        .send()
        .await;
    assert_eq!(response.status, 201, "{:?}", response.body_json());
    response.body_json()["id"].as_i64().expect("an id")
}

/// A common badge of 10 points (or `points` within 10..=25).
pub async fn common_badge(app: &TestApp, admin: &Person, name: &str, points: i64) -> i64 {
    create_badge(app, admin, badge_body(name, "common", points)).await
}

/// Awards through the API as `admin`.
pub async fn award(app: &TestApp, admin: &Person, user: UserId, badge: i64) -> ApiResponse {
    app.post("/api/user-badges/")
        .bearer(&admin.token)
        .json(json!({"user": user.0, "badge": badge, "notes": "test"}))
        .send()
        .await
}

/// Awards and asserts 201.
pub async fn award_ok(app: &TestApp, admin: &Person, user: UserId, badge: i64) {
    let response = award(app, admin, user, badge).await;
    assert_eq!(response.status, 201, "{:?}", response.body_json());
}

/// `GET` as `who`, asserting the status; returns the body.
pub async fn get_json(app: &TestApp, who: &Person, path: &str, status: u16) -> Json {
    let response = app.get(path).bearer(&who.token).send().await;
    assert_eq!(
        response.status,
        status,
        "GET {path}: {:?}",
        response.body_json()
    );
    response.body_json()
}

/// The analytics document (as an admin).
pub async fn analytics(app: &TestApp, admin: &Person) -> Json {
    get_json(app, admin, "/api/badges/analytics/", 200).await
}

/// The TestApp for concurrency tests: one store call at a time on moto (see `api_tests::moto`),
/// the embedded engine as it is (SQLite transactions are serializable).
pub async fn concurrency_app(t: api_tests::TestTable) -> TestApp {
    TestApp::one_call_at_a_time(t).await
}
