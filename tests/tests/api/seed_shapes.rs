//! What the seed asks for (issue 23), on both engines: `count` on the badge list, `DELETE
//! /api/profiles/{id}/` as `DELETE /api/users/{id}/`, and the professional sign-up in one step.

use crate::badges_core_support;
use crate::users_support;

use accounts::model::Role;
use api_tests::app::TestApp;
use api_tests::{TestTable, both_engines};
use badges_core_support::{admin, badge_body, create_badge, get_json, person};
use http::Method;
use serde_json::json;
use users_support::{PASSWORD, call, member, profile};

/// `GET /api/badges/` counts what matches its filters, not the page: active ones for everyone,
/// inactive ones too for administrators.
async fn badge_count(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let user = person(&app.app, 2).await;
    for (name, rarity, points, category, active) in [
        ("A", "common", 10, "achievement", true),
        ("B", "rare", 50, "achievement", true),
        ("C", "common", 20, "activity", true),
        ("D", "epic", 200, "special", false),
    ] {
        let mut body = badge_body(name, rarity, points);
        body["category"] = json!(category);
        body["is_active"] = json!(active);
        create_badge(&app, &root, body).await;
    }
    let page = get_json(&app, &user, "/api/badges/?page_size=1", 200).await;
    assert_eq!(page["count"], 3, "{page}");
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    assert!(page["next"].is_string());
    for (query, user_count, admin_count) in [
        ("category=achievement", 2, 2),
        ("rarity=common", 2, 2),
        ("category=achievement&rarity=common", 1, 1),
        ("category=special", 0, 1),
        ("is_active=false", 0, 1),
        ("is_active=true", 3, 3),
        ("", 3, 4),
    ] {
        let path = format!("/api/badges/?{query}");
        let as_user = get_json(&app, &user, &path, 200).await;
        assert_eq!(as_user["count"], user_count, "{query}: {as_user}");
        let as_admin = get_json(&app, &root, &path, 200).await;
        assert_eq!(as_admin["count"], admin_count, "{query}: {as_admin}");
    }
    // Signed out too.
    let response = app.get("/api/badges/").send().await;
    assert_eq!(response.body_json()["count"], 3);
}

/// `DELETE /api/profiles/{id}/` erases the account like `DELETE /api/users/{id}/`: the owner
/// with the current password, an administrator without; anyone else hears 404.
async fn profile_delete(t: TestTable) {
    let app = TestApp::new(t).await;
    let alice = member(&app, "alice", Role::Normal).await;
    let bob = member(&app, "bob", Role::Normal).await;
    let root = member(&app, "root", Role::Admin).await;
    let own = format!("/api/profiles/{}/", alice.id);
    let (status, body) = call(&app, &alice, Method::DELETE, &own, None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["current_password"].is_array(), "{body}");
    let (status, body) = call(&app, &bob, Method::DELETE, &own, None).await;
    assert_eq!(status, 404, "{body}");
    assert!(profile(&app, alice.id).await.is_some());
    let proof = Some(json!({"current_password": PASSWORD}));
    let (status, body) = call(&app, &alice, Method::DELETE, &own, proof).await;
    assert_eq!(status, 204, "{body}");
    assert!(profile(&app, alice.id).await.is_none());

    let bobs = format!("/api/profiles/{}/", bob.id);
    let (status, body) = call(&app, &root, Method::DELETE, &bobs, None).await;
    assert_eq!(status, 204, "{body}");
    assert!(profile(&app, bob.id).await.is_none());
    let (status, _) = call(&app, &root, Method::GET, &bobs, None).await;
    assert_eq!(status, 404);
    let (status, _) = call(&app, &root, Method::DELETE, "/api/profiles/abc/", None).await;
    assert_eq!(status, 404);
}

/// `POST /api/auth/register/professional/`: the account, the professional role and the
/// professional profile in one step; errors of both parts together and nothing written on an
/// error; an administrator verifies the profile as before.
async fn pro_signup(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = member(&app, "root", Role::Admin).await;
    let path = "/api/auth/register/professional/";
    let signup = |body: serde_json::Value| {
        app.post(path)
            .ip(&api_tests::fixtures::fresh_ip())
            .json(body)
            .send()
    };
    // Field errors of both parts at once; nothing is written.
    let response = signup(json!({
        "username": "acme", "email": "not an address", "password": "violet-harbour-42",
        "professional": {"years_experience": 900, "website": "http://plain.example"},
    }))
    .await;
    assert_eq!(response.status, 400);
    let body = response.body_json();
    for field in [
        "email",
        "professional.years_experience",
        "professional.website",
        "professional.company_name",
    ] {
        assert!(body[field].is_array(), "{field}: {body}");
    }
    let response = signup(
        json!({"username": "acme", "email": "acme@example.com", "password": "violet-harbour-42"}),
    )
    .await;
    assert_eq!(response.status, 400);
    assert!(response.body_json()["professional"].is_array());
    let response = signup(json!({"username": "acme", "email": "acme@example.com", "password": "violet-harbour-42", "professional": "Acme"})).await;
    assert_eq!(response.status, 400);
    assert!(response.body_json()["professional"].is_array());

    let response = signup(json!({
        "username": "acme", "email": "acme@example.com", "password": "violet-harbour-42",
        "first_name": "Ada",
        "professional": {"company_name": "Acme Analytics", "job_title": "Data engineer", "website": "https://acme.example"},
    }))
    .await;
    assert_eq!(response.status, 201, "{}", response.body_json());
    let body = response.body_json();
    let id = body["id"].as_i64().unwrap();
    assert_eq!(body["role"], "professional");
    assert_eq!(body["is_verified"], false);
    assert_eq!(body["professional_profile"]["id"], id);
    assert_eq!(
        body["professional_profile"]["company_name"],
        "Acme Analytics"
    );
    assert_eq!(body["professional_profile"]["is_verified"], false);

    // The same username again: the whole sign-up fails, the first profile is untouched.
    let again = signup(json!({
        "username": "ACME", "email": "other@example.com", "password": "violet-harbour-42",
        "professional": {"company_name": "Other"},
    }))
    .await;
    assert_eq!(again.status, 400);
    assert!(again.body_json()["username"].is_array());

    // Verify the address, sign in: the profile is there, unverified until an admin says so.
    api_tests::fixtures::verify_email(&app, "acme@example.com").await;
    let response = app
        .post("/api/auth/jwt/login/")
        .json(json!({"username": "acme", "password": "violet-harbour-42"}))
        .send()
        .await;
    assert_eq!(response.status, 200, "{}", response.body_json());
    let token = response.body_json()["access"].as_str().unwrap().to_owned();
    let own = format!("/api/professional-profiles/{id}/");
    let response = app.get(&own).bearer(&token).send().await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body_json()["job_title"], "Data engineer");
    let verify = format!("/api/professional-profiles/{id}/verify/");
    let (status, body) = call(&app, &root, Method::POST, &verify, Some(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["is_verified"], true);
    let types = api_tests::fixtures::event_types(&app, accounts::model::UserId(id)).await;
    assert!(types.iter().any(|t| t == "register"), "{types:?}");
}

both_engines!(badge_count, profile_delete, pro_signup);
