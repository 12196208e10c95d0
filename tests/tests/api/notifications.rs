//! Notifications (issue 23), on both engines: the inbox (newest first, cursors,
//! `unread_count`), read one and read all, the four kinds (badge earned, new follower, follow
//! request, request approved), the award email and its settings (`email_notifications`,
//! `push_notifications`, `notification_frequency` with the daily digest task), and a blocked
//! actor who is never shown.

use accounts::model::Role;
use api_tests::app::TestApp;
use api_tests::fixtures::{Person, person_with};
use api_tests::{TestTable, both_engines};
use serde_json::{Value as Json, json};

async fn app_with_notifier(t: TestTable) -> TestApp {
    TestApp::with_settings(
        t,
        &[
            ("BADGES_EVALUATE_ON_BUS", "true"),
            ("PUBLIC_URL", "https://accounts.example.com"),
        ],
    )
    .await
}

async fn inbox(app: &TestApp, who: &Person, query: &str) -> Json {
    let response = app
        .get(&format!("/api/notifications/{query}"))
        .bearer(&who.token)
        .send()
        .await;
    assert_eq!(response.status, 200, "{}", response.body_json());
    response.body_json()
}

fn kinds(page: &Json) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn post_ok(app: &TestApp, who: &Person, path: &str, body: Json) -> Json {
    let response = app.post(path).bearer(&who.token).json(body).send().await;
    assert!(
        response.status.is_success(),
        "{path}: {} {}",
        response.status,
        response.body_json()
    );
    response.body_json()
}

/// A badge (common, 10 points) made through the API.
async fn badge(app: &TestApp, root: &Person, name: &str) -> i64 {
    let body = json!({
        "name": name, "description": format!("{name}, for testing"), "category": "special",
        "icon": "fas fa-star", "color": "#FFD700", "points": 20, "rarity": "common",
        "criteria": {"type": "counter", "field": "posts_count", "threshold": 1000},
    });
    post_ok(app, root, "/api/badges/", body).await["id"]
        .as_i64()
        .unwrap()
}

async fn award(app: &TestApp, root: &Person, user: &Person, badge: i64) {
    let body = json!({"user": user.n(), "badge": badge});
    post_ok(app, root, "/api/user-badges/", body).await;
}

async fn inbox_flow(t: TestTable) {
    let app = app_with_notifier(t).await;
    let a = &app.app;
    let root = person_with(a, 1, Role::Admin, false).await;
    let alice = person_with(a, 2, Role::Normal, false).await;
    let bob = person_with(a, 3, Role::Normal, false).await;
    let carol = person_with(a, 4, Role::Normal, true).await;
    let pioneer = badge(&app, &root, "Pioneer").await;

    // Bob follows alice (public) and asks carol (private), who approves.
    post_ok(&app, &bob, "/api/follows/", json!({"following": alice.n()})).await;
    post_ok(&app, &bob, "/api/follows/", json!({"following": carol.n()})).await;
    let page = inbox(&app, &carol, "").await;
    assert_eq!(kinds(&page), ["follow_request"]);
    assert_eq!(page["results"][0]["actor"]["username"], "user3");
    assert_eq!(page["results"][0]["message"], "user3 asked to follow you.");
    let approve = format!("/api/follows/{}-{}/approve/", bob.n(), carol.n());
    post_ok(&app, &carol, &approve, json!({})).await;
    let page = inbox(&app, &bob, "").await;
    assert_eq!(kinds(&page), ["request_approved"]);
    assert_eq!(page["results"][0]["actor"]["username"], "user4");

    // An award: the inbox and the email (text and HTML: name, description, points, link).
    app.clock().advance(chrono::Duration::seconds(5));
    award(&app, &root, &alice, pioneer).await;
    let page = inbox(&app, &alice, "").await;
    assert_eq!(
        kinds(&page),
        ["badge_earned", "new_follower"],
        "newest first"
    );
    assert_eq!(page["unread_count"], 2);
    assert_eq!(page["results"][0]["badge"]["name"], "Pioneer");
    assert_eq!(page["results"][0]["badge"]["points"], 20);
    assert_eq!(page["results"][0]["actor"], Json::Null);
    assert_eq!(page["results"][1]["actor"]["username"], "user3");
    let mails: Vec<_> = app
        .outbox()
        .into_iter()
        .filter(|m| m.to == "user2@example.com")
        .collect();
    assert_eq!(mails.len(), 1);
    let link = format!("https://accounts.example.com/u/user2/badges/{pioneer}");
    for body in [&mails[0].text, &mails[0].html] {
        for part in [
            "Pioneer",
            "Pioneer, for testing",
            "20 points",
            link.as_str(),
        ] {
            assert!(body.contains(part), "{part} in {body}");
        }
    }
    assert!(mails[0].subject.contains("Pioneer"));

    // Cursors: one at a time.
    let first = inbox(&app, &alice, "?page_size=1").await;
    assert_eq!(kinds(&first), ["badge_earned"]);
    let cursor = first["next"].as_str().expect("a next cursor");
    let second = inbox(&app, &alice, &format!("?page_size=1&cursor={cursor}")).await;
    assert_eq!(kinds(&second), ["new_follower"]);

    // Read one, then all.
    let id = page["results"][1]["id"].as_str().unwrap().to_owned();
    let read = post_ok(
        &app,
        &alice,
        &format!("/api/notifications/{id}/read/"),
        json!({}),
    )
    .await;
    assert_eq!(read["read"], true);
    assert_eq!(inbox(&app, &alice, "").await["unread_count"], 1);
    // Someone else's notification, or no notification at all: 404.
    for (who, path) in [
        (&bob, format!("/api/notifications/{id}/read/")),
        (
            &alice,
            "/api/notifications/01ARZ3NDEKTSV4RRFFQ69G5FAV/read/".to_owned(),
        ),
        (&alice, "/api/notifications/not-an-id/read/".to_owned()),
    ] {
        let response = app
            .post(&path)
            .bearer(&who.token)
            .json(json!({}))
            .send()
            .await;
        assert_eq!(response.status, 404, "{path}");
    }
    let all = post_ok(&app, &alice, "/api/notifications/read-all/", json!({})).await;
    assert_eq!(all["unread_count"], 0);
    let page = inbox(&app, &alice, "").await;
    assert_eq!(page["unread_count"], 0);
    assert!(
        page["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["read"] == true)
    );
    // A newer one is unread again.
    app.clock().advance(chrono::Duration::seconds(5));
    let other = badge(&app, &root, "Second").await;
    award(&app, &root, &alice, other).await;
    assert_eq!(inbox(&app, &alice, "").await["unread_count"], 1);

    // A block hides the actor (either way): no name, no card.
    post_ok(&app, &alice, "/api/blocks/", json!({"blocked": bob.n()})).await;
    let page = inbox(&app, &alice, "").await;
    let follow = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "new_follower")
        .unwrap()
        .clone();
    assert_eq!(follow["actor"], Json::Null);
    assert!(!follow.to_string().contains("user3"), "{follow}");
    assert_eq!(follow["message"], "A user started following you.");

    // Bad input is a 400 on its field; no credentials, 401.
    let response = app
        .get("/api/notifications/?page_size=zero")
        .bearer(&alice.token)
        .send()
        .await;
    assert_eq!(response.status, 400);
    assert!(response.body_json()["page_size"].is_array());
    assert_eq!(app.get("/api/notifications/").send().await.status, 401);
}

async fn settings_respected(t: TestTable) {
    let app = app_with_notifier(t).await;
    let a = &app.app;
    let root = person_with(a, 1, Role::Admin, false).await;
    let quiet = person_with(a, 2, Role::Normal, false).await;
    let daily = person_with(a, 3, Role::Normal, false).await;
    let pioneer = badge(&app, &root, "Pioneer").await;
    let explorer = badge(&app, &root, "Explorer").await;
    let patch = |who: &Person, body: Json| {
        app.patch("/api/settings/")
            .bearer(&who.token)
            .json(body)
            .send()
    };
    let response = patch(
        &quiet,
        json!({"email_notifications": false, "push_notifications": false}),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body_json());
    let response = patch(&daily, json!({"notification_frequency": "daily"})).await;
    assert_eq!(response.status, 200, "{}", response.body_json());
    let mails_to = |to: &str| {
        app.outbox()
            .into_iter()
            .filter(|m| m.to == to)
            .collect::<Vec<_>>()
    };

    // No email, no push: the award is in the inbox, alerting nothing; nothing is mailed.
    award(&app, &root, &quiet, pioneer).await;
    let page = inbox(&app, &quiet, "").await;
    assert_eq!(kinds(&page), ["badge_earned"]);
    assert_eq!(page["unread_count"], 0);
    assert!(mails_to("user2@example.com").is_empty());
    let response = patch(&quiet, json!({"push_notifications": true})).await;
    assert_eq!(response.status, 200);
    assert_eq!(inbox(&app, &quiet, "").await["unread_count"], 1);

    // A daily digest: nothing at once, one mail with both badges from the task, then nothing.
    award(&app, &root, &daily, pioneer).await;
    award(&app, &root, &daily, explorer).await;
    assert_eq!(inbox(&app, &daily, "").await["unread_count"], 2);
    assert!(mails_to("user3@example.com").is_empty());
    app.clock().advance(chrono::Duration::minutes(1));
    let run = accounts::triggers::run_task(a, json!({"task": "send_notification_digests"}))
        .await
        .expect("the digest task");
    assert_eq!(run["status"], "completed", "{run}");
    let mails = mails_to("user3@example.com");
    assert_eq!(mails.len(), 1, "one digest");
    for part in ["Pioneer", "Explorer"] {
        assert!(mails[0].text.contains(part) && mails[0].html.contains(part));
    }
    accounts::triggers::run_task(a, json!({"task": "send_notification_digests"}))
        .await
        .expect("the digest task again");
    assert_eq!(mails_to("user3@example.com").len(), 1, "sent once");
}

both_engines!(inbox_flow, settings_respected);
