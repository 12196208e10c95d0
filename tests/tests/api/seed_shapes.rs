//! The shapes the seed shows (issue 23): `count` on the badge list, `DELETE
//! /api/profiles/{id}/` as `DELETE /api/users/{id}/`, on both engines.

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

both_engines!(badge_count, profile_delete);
