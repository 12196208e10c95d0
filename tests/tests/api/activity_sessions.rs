//! The sessions API (`/api/sessions/`) on both engines: listing with the current session
//! marked, one session, login through `POST`, ending one session (its access and refresh
//! tokens die at once), ending all others, owner-only access, and `new_device_login`.

use crate::activity_support;

use accounts::activity::events::EventType;
use accounts::model::Role;
use activity_support::*;
use api_tests::app::{TestApp, set_cookie};
use api_tests::fixtures::{PASSWORD, detail, events_newest_first, register, set_role};
use api_tests::{TestTable, both_engines};
use serde_json::json;

const FIREFOX_UA: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
const IPHONE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";

async fn lists_own_sessions_newest_first_with_the_current_marked(t: TestTable) {
    let app = TestApp::new(t).await;
    register(&app, "alice").await;
    let first = session_login(&app, "alice").await;
    app.clock().advance(chrono::Duration::seconds(5));
    let second = session_login_as(&app, "alice", IPHONE_UA).await;

    let list = app.get("/api/sessions/").bearer(&first.access).send().await;
    assert_eq!(list.status, 200);
    let sessions = results(&list);
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["session_id"], second.session_id.as_str());
    assert_eq!(sessions[1]["session_id"], first.session_id.as_str());
    assert_eq!(sessions[0]["is_current"], false);
    assert_eq!(sessions[1]["is_current"], true);
    let phone = &sessions[0];
    assert_eq!(phone["device_info"]["device_type"], "mobile");
    assert_eq!(phone["device_info"]["os"], "iPhone");
    assert_eq!(phone["is_active"], true);
    assert_eq!(phone["ip_address"], "198.51.100.7");
    assert_eq!(phone["auth_method"], "jwt");
    assert!(phone["device_fingerprint"].as_str().unwrap().len() == 32);
    for field in [
        "started_at",
        "last_activity",
        "pages_visited",
        "time_spent",
        "location_data",
    ] {
        assert!(phone.get(field).is_some(), "{field} missing");
    }
    let text = list.body_json().to_string();
    assert!(!text.contains("secret_hash") && !text.contains("csrf_hash"));

    // time_spent grows with the clock for a live session.
    app.clock().advance(chrono::Duration::seconds(30));
    let one = app
        .get(&format!("/api/sessions/{}/", first.session_id))
        .bearer(&first.access)
        .send()
        .await;
    assert_eq!(one.status, 200, "{}", one.body_json());
    assert_eq!(one.body_json()["is_current"], true);
    assert!(one.body_json()["time_spent"].as_i64().unwrap() >= 35);

    // Paging: one at a time, no overlap.
    let page1 = app
        .get("/api/sessions/?page_size=1")
        .bearer(&first.access)
        .send()
        .await;
    let next = page1.body_json()["next"]
        .as_str()
        .expect("a next cursor")
        .to_owned();
    let page2 = app
        .get(&format!("/api/sessions/?page_size=1&cursor={next}"))
        .bearer(&first.access)
        .send()
        .await;
    assert_eq!(results(&page1).len(), 1);
    assert_eq!(results(&page2).len(), 1);
    assert_ne!(
        results(&page1)[0]["session_id"],
        results(&page2)[0]["session_id"]
    );

    assert_eq!(app.get("/api/sessions/").send().await.status, 401);
    let bad = app
        .get("/api/sessions/?page_size=0")
        .bearer(&first.access)
        .send()
        .await;
    assert_eq!(bad.status, 400);
}

async fn post_sessions_logs_in_with_cookies(t: TestTable) {
    let app = TestApp::new(t).await;
    let id = register(&app, "bruno").await;
    let created = app
        .post("/api/sessions/")
        .json(json!({ "username": "bruno", "password": PASSWORD }))
        .send()
        .await;
    assert_eq!(created.status, 201, "{}", created.body_json());
    let body = created.body_json();
    assert_eq!(body["is_current"], true);
    assert_eq!(body["auth_method"], "session");
    assert_eq!(body["user"]["id"], id.0);
    let cookie = set_cookie(&created, "sessionid").expect("a session cookie");
    let csrf = set_cookie(&created, "csrftoken").expect("a csrf cookie");
    // `<user id>-<session id>.<secret>`: the user id lets both be read in one round trip.
    let named = format!("{}-{}.", id.0, body["session_id"].as_str().unwrap());
    assert!(cookie.starts_with(&named), "{cookie}");

    let list = app
        .get("/api/sessions/")
        .cookies(&[("sessionid", &cookie), ("csrftoken", &csrf)])
        .send()
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(results(&list)[0]["is_current"], true);

    // Same rules as the session login.
    let wrong = app
        .post("/api/sessions/")
        .json(json!({ "username": "bruno", "password": "nope-nope-nope" }))
        .send()
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(detail(&wrong), "Invalid credentials.");
    let missing = app.post("/api/sessions/").json(json!({})).send().await;
    assert_eq!(missing.status, 400);
    assert!(missing.body_json()["password"].is_array());
    let events = events_newest_first(&app.app, id).await;
    assert!(
        events
            .iter()
            .any(|e| e.event_type == EventType::LoginFailed)
    );
}

async fn ending_a_session_kills_its_access_and_refresh_tokens(t: TestTable) {
    let app = TestApp::new(t).await;
    let id = register(&app, "carla").await;
    let laptop = session_login(&app, "carla").await;
    let phone = session_login_as(&app, "carla", IPHONE_UA).await;

    assert_eq!(
        app.get("/api/auth/me/")
            .bearer(&laptop.access)
            .send()
            .await
            .status,
        200
    );
    let end = app
        .delete(&format!("/api/sessions/{}/", laptop.session_id))
        .bearer(&phone.access)
        .send()
        .await;
    assert_eq!(end.status, 204, "{}", end.body_json());

    let me = app.get("/api/auth/me/").bearer(&laptop.access).send().await;
    assert_eq!(me.status, 401, "the ended session's access token is dead");
    let refresh = app
        .post("/api/auth/jwt/refresh/")
        .json(json!({ "refresh": laptop.refresh }))
        .send()
        .await;
    assert_eq!(refresh.status, 401, "and so is its refresh token");
    assert_eq!(
        app.get("/api/auth/me/")
            .bearer(&phone.access)
            .send()
            .await
            .status,
        200,
        "the other session lives"
    );

    let ended = app
        .get(&format!("/api/sessions/{}/", laptop.session_id))
        .bearer(&phone.access)
        .send()
        .await;
    assert_eq!(ended.status, 200);
    assert_eq!(ended.body_json()["is_active"], false);
    assert!(ended.body_json()["ended_at"].is_string());
    // Ending it again is fine.
    let again = app
        .delete(&format!("/api/sessions/{}/", laptop.session_id))
        .bearer(&phone.access)
        .send()
        .await;
    assert_eq!(again.status, 204);
    let logged = events_newest_first(&app.app, id).await;
    let ended_events: Vec<_> = logged
        .iter()
        .filter(|e| e.event_type == EventType::SessionEnded)
        .collect();
    assert_eq!(ended_events.len(), 1, "one session_ended event");
    assert_eq!(
        ended_events[0].session_id.as_deref(),
        Some(laptop.session_id.as_str())
    );
    // Unknown or malformed ids are 404.
    for id in ["01JDXKZ0000000000000000009", "nope"] {
        let response = app
            .delete(&format!("/api/sessions/{id}/"))
            .bearer(&phone.access)
            .send()
            .await;
        assert_eq!(response.status, 404);
    }
}

async fn delete_all_ends_every_other_session(t: TestTable) {
    let app = TestApp::new(t).await;
    register(&app, "dora").await;
    let a = session_login(&app, "dora").await;
    let b = session_login_as(&app, "dora", FIREFOX_UA).await;
    let c = session_login_as(&app, "dora", IPHONE_UA).await;
    let response = app.delete("/api/sessions/").bearer(&c.access).send().await;
    assert_eq!(response.status, 200, "{}", response.body_json());
    assert_eq!(response.body_json()["ended"], 2);
    for dead in [&a, &b] {
        assert_eq!(
            app.get("/api/auth/me/")
                .bearer(&dead.access)
                .send()
                .await
                .status,
            401
        );
    }
    assert_eq!(
        app.get("/api/auth/me/")
            .bearer(&c.access)
            .send()
            .await
            .status,
        200
    );
    let list = app.get("/api/sessions/").bearer(&c.access).send().await;
    let active: Vec<_> = results(&list)
        .into_iter()
        .filter(|s| s["is_active"] == true)
        .collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["session_id"], c.session_id.as_str());
}

async fn nobody_reads_or_ends_another_users_sessions(t: TestTable) {
    let app = TestApp::new(t).await;
    let erin = register(&app, "erin").await;
    let frank = register(&app, "frank").await;
    let e = session_login(&app, "erin").await;
    let f = session_login(&app, "frank").await;
    let path = format!("/api/sessions/{}/", e.session_id);
    assert_eq!(app.get(&path).bearer(&f.access).send().await.status, 404);
    assert_eq!(app.delete(&path).bearer(&f.access).send().await.status, 404);
    assert_eq!(
        app.get("/api/auth/me/")
            .bearer(&e.access)
            .send()
            .await
            .status,
        200,
        "erin's session survived frank's try"
    );
    let others = app
        .get(&format!("/api/sessions/?user={}", erin.0))
        .bearer(&f.access)
        .send()
        .await;
    assert_eq!(others.status, 403);
    // Frank's delete-all touches only his own.
    app.delete("/api/sessions/").bearer(&f.access).send().await;
    assert_eq!(
        app.get("/api/auth/me/")
            .bearer(&e.access)
            .send()
            .await
            .status,
        200
    );

    // An administrator may.
    set_role(&app.app, frank, Role::Admin).await;
    let theirs = app
        .get(&format!("/api/sessions/?user={}", erin.0))
        .bearer(&f.access)
        .send()
        .await;
    assert_eq!(theirs.status, 200);
    assert_eq!(results(&theirs)[0]["session_id"], e.session_id.as_str());
    assert_eq!(results(&theirs)[0]["is_current"], false);
    assert_eq!(app.get(&path).bearer(&f.access).send().await.status, 200);
    assert_eq!(app.delete(&path).bearer(&f.access).send().await.status, 204);
    assert_eq!(
        app.get("/api/auth/me/")
            .bearer(&e.access)
            .send()
            .await
            .status,
        401
    );
}

async fn a_new_device_or_country_logs_new_device_login(t: TestTable) {
    let app = TestApp::new(t).await;
    let id = register(&app, "gina").await;
    // The first login has nothing to compare with; the same device again is not new.
    session_login(&app, "gina").await;
    session_login(&app, "gina").await;
    assert!(new_device_events(&app, id).await.is_empty());

    let phone = session_login_as(&app, "gina", IPHONE_UA).await;
    let events = new_device_events(&app, id).await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.severity.as_str(), "medium");
    assert_eq!(event.metadata["new_device"], true);
    assert_eq!(event.metadata["new_location"], false);
    assert_eq!(event.session_id.as_deref(), Some(phone.session_id.as_str()));
    // medium 20 + security 10 + new_device 10 (same IP: not new)
    assert_eq!(event.risk_score, 40);

    // A known device from a new country (CloudFront's viewer header) is new too.
    app.clock().advance(chrono::Duration::seconds(1));
    let response = app
        .post("/api/auth/jwt/login/")
        .header("cloudfront-viewer-country", "DE")
        .json(json!({ "username": "gina", "password": PASSWORD }))
        .send()
        .await;
    assert_eq!(response.status, 200);
    let events = new_device_events(&app, id).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].metadata["new_location"], true);
    assert_eq!(events[0].metadata["new_device"], false);
    assert_eq!(events[0].metadata["country"], "DE");

    // Listed for the owner through the events API too.
    let listed = app
        .get("/api/events/?event_type=new_device_login")
        .bearer(&phone.access)
        .send()
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(results(&listed).len(), 2);
}

async fn new_device_events(
    app: &TestApp,
    id: accounts::model::UserId,
) -> Vec<accounts::activity::events::EventRecord> {
    events_newest_first(&app.app, id)
        .await
        .into_iter()
        .filter(|e| e.event_type == EventType::NewDeviceLogin)
        .collect()
}

both_engines!(
    lists_own_sessions_newest_first_with_the_current_marked,
    post_sessions_logs_in_with_cookies,
    ending_a_session_kills_its_access_and_refresh_tokens,
    delete_all_ends_every_other_session,
    nobody_reads_or_ends_another_users_sessions,
    a_new_device_or_country_logs_new_device_login,
);
