//! The event log API (`/api/events/`) on both engines: listing with filters and cursors,
//! the review queue and reviewing, who may log what, service ingestion feeding the counters
//! (one transaction), the EventBridge ingestion path, risk scores, account anonymisation, and
//! the store calls per request.

use crate::activity_support;

use std::fs;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use accounts::activity::events::{EventType, NewEvent, Severity, anonymise_user_events, log_event};
use accounts::activity::ingest::quality_attribute;
use accounts::auth::client::ClientInfo;
use accounts::bus::{DomainEvent, Subscriber};
use accounts::clock::Clock;
use accounts::model::{Role, UserId};
use accounts::store::{Item, Value, keys};
use accounts::triggers::handle_domain_event;
use activity_support::*;
use api_tests::app::TestApp;
use api_tests::fixtures::{api_token, events_newest_first, register, set_role};
use api_tests::{TestTable, both_engines};
use chrono::{Duration, SecondsFormat};
use serde_json::{Value as Json, json};

async fn stats(app: &TestApp, user: UserId) -> Item {
    app.table()
        .get(&keys::user_stats(user), true)
        .await
        .expect("read stats")
        .unwrap_or_default()
}

fn count(item: &Item, name: &str) -> i64 {
    item.get(name).and_then(Value::as_i64).unwrap_or(0)
}

async fn posts_count(app: &TestApp, access: &str) -> i64 {
    let me = app.get("/api/auth/me/").bearer(access).send().await;
    me.body_json()["posts_count"].as_i64().expect("posts_count")
}

async fn post_event(app: &TestApp, auth: Auth<'_>, body: Json) -> accounts::http::ApiResponse {
    let request = app.post("/api/events/").json(body);
    match auth {
        Auth::Bearer(t) => request.bearer(t),
        Auth::Token(k) => request.api_token(k),
    }
    .send()
    .await
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    Bearer(&'a str),
    Token(&'a str),
}

async fn lists_own_events_with_filters_and_cursors(t: TestTable) {
    let app = TestApp::new(t).await;
    let id = register(&app, "hana").await;
    let tokens = session_login(&app, "hana").await;
    let since = app.clock().now();
    for i in 0..3 {
        app.clock().advance(Duration::seconds(10));
        let logged = post_event(
            &app,
            Auth::Bearer(&tokens.access),
            json!({"event_type": "page_view", "metadata": {"path": format!("/p/{i}")}}),
        )
        .await;
        assert_eq!(logged.status, 201, "{}", logged.body_json());
        assert_eq!(logged.body_json()["user"], id.0);
        assert_eq!(logged.body_json()["session"], tokens.session_id.as_str());
    }
    // A failed login of the account is its own event (medium, failure).
    app.clock().advance(Duration::seconds(10));
    let wrong = app
        .post("/api/auth/jwt/login/")
        .json(json!({"username": "hana", "password": "wrong-wrong-wrong"}))
        .send()
        .await;
    assert_eq!(wrong.status, 400);

    let all = app.get("/api/events/").bearer(&tokens.access).send().await;
    assert_eq!(all.status, 200, "{}", all.body_json());
    let events = results(&all);
    assert!(
        events.len() >= 6,
        "register, verify, login, 3 views, failure"
    );
    let times: Vec<&str> = events
        .iter()
        .map(|e| e["created_at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    assert_eq!(events[0]["event_type"], "login_failed");
    let first = &events[0];
    for field in [
        "id",
        "user",
        "session",
        "event_type",
        "severity",
        "description",
        "metadata",
        "success",
        "error_message",
        "target_user",
        "requires_review",
        "reviewed_at",
        "reviewed_by",
        "created_at",
        "is_security_event",
        "risk_score",
    ] {
        assert!(first.get(field).is_some(), "{field} missing");
    }

    let get = |query: String| {
        let app = &app;
        let access = tokens.access.clone();
        async move {
            let response = app
                .get(&format!("/api/events/?{query}"))
                .bearer(&access)
                .send()
                .await;
            assert_eq!(response.status, 200, "{query}: {}", response.body_json());
            results(&response)
        }
    };
    let views = get("event_type=page_view".into()).await;
    assert_eq!(views.len(), 3);
    assert_eq!(views[0]["metadata"]["path"], "/p/2");
    let failures = get("success=false".into()).await;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["event_type"], "login_failed");
    let medium = get("severity=medium".into()).await;
    assert!(medium.iter().all(|e| e["severity"] == "medium"));
    assert!(medium.iter().any(|e| e["event_type"] == "login_failed"));
    let stamp = |at: chrono::DateTime<chrono::Utc>| {
        at.to_rfc3339_opts(SecondsFormat::Millis, true)
            .replace('+', "%2B")
    };
    let window = get(format!(
        "since={}&until={}",
        stamp(since + Duration::seconds(15)),
        stamp(since + Duration::seconds(30))
    ))
    .await;
    let paths: Vec<&str> = window
        .iter()
        .map(|e| e["metadata"]["path"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(paths, ["/p/2", "/p/1"]);

    // Cursor pagination: two pages of two, no overlap, then the rest.
    let page1 = app
        .get("/api/events/?page_size=2")
        .bearer(&tokens.access)
        .send()
        .await;
    let next = page1.body_json()["next"].as_str().expect("next").to_owned();
    let page2 = app
        .get(&format!("/api/events/?page_size=2&cursor={next}"))
        .bearer(&tokens.access)
        .send()
        .await;
    let ids = |r: &accounts::http::ApiResponse| -> Vec<String> {
        results(r)
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&page1).len(), 2);
    assert_eq!(ids(&page2).len(), 2);
    assert!(ids(&page1).iter().all(|i| !ids(&page2).contains(i)));
    assert_eq!(
        [ids(&page1), ids(&page2)].concat(),
        events
            .iter()
            .take(4)
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    );

    for bad in [
        "event_type=nonsense",
        "severity=huge",
        "success=maybe",
        "since=yesterday",
        "page_size=101",
        "cursor=%%%",
    ] {
        let response = app
            .get(&format!("/api/events/?{bad}"))
            .bearer(&tokens.access)
            .send()
            .await;
        assert_eq!(response.status, 400, "{bad}: {}", response.body_json());
    }
    assert_eq!(app.get("/api/events/").send().await.status, 401);
}

async fn users_log_only_client_events_for_themselves(t: TestTable) {
    let app = TestApp::new(t).await;
    let ivan = register(&app, "ivan").await;
    let jade = register(&app, "jade").await;
    let tokens = session_login(&app, "ivan").await;
    let before = events_newest_first(&app.app, ivan).await.len();
    let jade_before = events_newest_first(&app.app, jade).await.len();

    let ok = post_event(
        &app,
        Auth::Bearer(&tokens.access),
        json!({"event_type": "share", "user": ivan.0}),
    )
    .await;
    assert_eq!(ok.status, 201, "{}", ok.body_json());
    assert_eq!(
        ok.body_json()["counted"],
        false,
        "client events feed no counter"
    );

    let refused = [
        (json!({"event_type": "post_create"}), 403),
        (json!({"event_type": "login"}), 403),
        (json!({"event_type": "page_view", "user": jade.0}), 403),
        (json!({"event_type": "page_view", "severity": "high"}), 403),
        (json!({"event_type": "teleport"}), 400),
        (
            json!({"event_type": "page_view", "metadata": {"blob": "x".repeat(8 * 1024)}}),
            400,
        ),
        (json!({"event_type": "page_view", "metadata": [1, 2]}), 400),
        (json!({"event_type": "page_view", "colour": "red"}), 400),
        (json!({}), 400),
    ];
    for (body, status) in refused {
        let response = post_event(&app, Auth::Bearer(&tokens.access), body.clone()).await;
        assert_eq!(response.status, status, "{body}: {}", response.body_json());
    }
    let unknown = post_event(
        &app,
        Auth::Bearer(&tokens.access),
        json!({"event_type": "teleport"}),
    )
    .await;
    assert!(unknown.body_json()["event_type"].is_array());
    let big = post_event(
        &app,
        Auth::Bearer(&tokens.access),
        json!({"event_type": "page_view", "metadata": {"blob": "x".repeat(8 * 1024)}}),
    )
    .await;
    assert!(big.body_json()["metadata"].is_array());

    assert_eq!(
        events_newest_first(&app.app, ivan).await.len(),
        before + 1,
        "only the share"
    );
    assert_eq!(events_newest_first(&app.app, jade).await.len(), jade_before);
    assert!(stats(&app, ivan).await.is_empty());

    // A non-admin API token is an ordinary user.
    let key = api_token(&app, &tokens.access).await;
    let response = post_event(
        &app,
        Auth::Token(&key),
        json!({"event_type": "post_create", "user": ivan.0}),
    )
    .await;
    assert_eq!(response.status, 403);
    assert_eq!(posts_count(&app, &tokens.access).await, 0);
}

/// Records the types of the domain events published on the in-process bus.
struct Recorder(Arc<Mutex<Vec<(String, Json)>>>);

#[async_trait::async_trait]
impl Subscriber for Recorder {
    async fn handle(&self, event: &DomainEvent) {
        self.0
            .lock()
            .unwrap()
            .push((event.detail_type.clone(), event.detail.clone()));
    }
}

async fn a_service_token_feeds_the_counters_in_one_transaction(t: TestTable) {
    let (app, counting) = counted(t).await;
    let published = Arc::new(Mutex::new(Vec::new()));
    app.app
        .in_process_bus
        .as_ref()
        .expect("tests use the in-process bus")
        .subscribe(Arc::new(Recorder(published.clone())));
    let admin = register(&app, "kofi").await;
    let lena = register(&app, "lena").await;
    let mira = register(&app, "mira").await;
    set_role(&app.app, admin, Role::Admin).await;
    let admin_tokens = session_login(&app, "kofi").await;
    let key = api_token(&app, &admin_tokens.access).await;
    let lena_tokens = session_login(&app, "lena").await;

    // One event with counters: auth reads, then exactly one transaction and no other write.
    // The token's first use of the minute records last_used_at; count the steady state.
    app.get("/api/auth/me/").api_token(&key).send().await;
    counting.reset();
    let created = post_event(
        &app,
        Auth::Token(&key),
        json!({"event_type": "post_create", "user": lena.0, "metadata": {"post_id": "p1"}}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body_json());
    let calls = counting.take().calls;
    assert_eq!(calls.transact_write, 1, "{calls:?}");
    assert_eq!(
        (calls.reads(), calls.writes()),
        (2, 1),
        "the token and its owner, then one transaction: {calls:?}"
    );
    assert_eq!(created.body_json()["counted"], true);
    let announced: Vec<(String, Json)> = published
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| t == "ActivityCounted")
        .cloned()
        .collect();
    assert_eq!(announced.len(), 1, "the badge evaluator hears of it");
    assert_eq!(announced[0].1["user_id"], lena.0);
    assert_eq!(announced[0].1["event_type"], "post_create");
    assert_eq!(posts_count(&app, &lena_tokens.access).await, 1);

    post_event(
        &app,
        Auth::Token(&key),
        json!({"event_type": "post_create", "user": lena.0}),
    )
    .await;
    assert_eq!(posts_count(&app, &lena_tokens.access).await, 2);
    for _ in 0..3 {
        let deleted = post_event(
            &app,
            Auth::Token(&key),
            json!({"event_type": "post_delete", "user": lena.0}),
        )
        .await;
        assert_eq!(deleted.status, 201, "{}", deleted.body_json());
    }
    assert_eq!(
        posts_count(&app, &lena_tokens.access).await,
        0,
        "never below zero"
    );

    for quality in [4.5, 3.0, 5.0] {
        let review = post_event(&app, Auth::Token(&key), json!({"event_type": "review_create", "user": lena.0, "metadata": {"quality": quality}})).await;
        assert_eq!(review.status, 201, "{}", review.body_json());
    }
    let bad_quality = post_event(
        &app,
        Auth::Token(&key),
        json!({"event_type": "review", "user": lena.0, "metadata": {"quality": 7}}),
    )
    .await;
    assert_eq!(bad_quality.status, 400);
    for _ in 0..2 {
        post_event(
            &app,
            Auth::Token(&key),
            json!({"event_type": "like_given", "user": lena.0, "target_user": mira.0}),
        )
        .await;
    }
    let s = stats(&app, lena).await;
    assert_eq!(count(&s, "post_create"), 2);
    assert_eq!(count(&s, "post_delete"), 3);
    assert_eq!(count(&s, "review_create"), 3);
    assert_eq!(
        count(&s, &quality_attribute(EventType::ReviewCreate, 40)),
        2
    );
    assert_eq!(
        count(&s, &quality_attribute(EventType::ReviewCreate, 30)),
        3
    );
    assert_eq!(
        count(&s, &quality_attribute(EventType::ReviewCreate, 50)),
        1
    );
    assert_eq!(count(&s, "like_given"), 2);
    assert_eq!(count(&stats(&app, mira).await, "received_like_given"), 2);

    // Unknown users and targets: 400, nothing stored or counted.
    let events_before = events_newest_first(&app.app, lena).await.len();
    let ghost = post_event(
        &app,
        Auth::Token(&key),
        json!({"event_type": "post_create", "user": 999}),
    )
    .await;
    assert_eq!(ghost.status, 400);
    assert!(ghost.body_json()["user"].is_array());
    assert!(events_newest_first(&app.app, UserId(999)).await.is_empty());
    assert!(stats(&app, UserId(999)).await.is_empty());
    let no_target = post_event(
        &app,
        Auth::Token(&key),
        json!({"event_type": "like_given", "user": lena.0, "target_user": 998}),
    )
    .await;
    assert_eq!(no_target.status, 400);
    assert_eq!(
        events_newest_first(&app.app, lena).await.len(),
        events_before
    );
    assert_eq!(count(&stats(&app, lena).await, "like_given"), 2);
    let missing_user = post_event(
        &app,
        Auth::Token(&key),
        json!({"event_type": "post_create"}),
    )
    .await;
    assert_eq!(missing_user.status, 400);
    let not_content = post_event(
        &app,
        Auth::Token(&key),
        json!({"event_type": "login", "user": lena.0}),
    )
    .await;
    assert_eq!(not_content.status, 400);

    // An idempotency key counts once.
    let body = json!({"event_type": "comment_create", "user": lena.0, "idempotency_key": "c-77"});
    let first = post_event(&app, Auth::Token(&key), body.clone()).await;
    assert_eq!(first.status, 201);
    let again = post_event(&app, Auth::Token(&key), body).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body_json()["duplicate"], true);
    assert_eq!(count(&stats(&app, lena).await, "comment_create"), 1);

    // An admin with a session (a person, not a service) is an ordinary user here.
    let person = post_event(
        &app,
        Auth::Bearer(&admin_tokens.access),
        json!({"event_type": "post_create", "user": lena.0}),
    )
    .await;
    assert_eq!(person.status, 403);
}

fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

async fn content_events_from_the_bus_are_ingested_once(t: TestTable) {
    let app = TestApp::new(t).await;
    let one = register(&app, "nina").await;
    let two = register(&app, "omar").await;
    let text = fs::read_to_string(project_root().join("events/content-event.json"))
        .expect("events/content-event.json");
    let sample: Json = serde_json::from_str(&text).expect("the sample is JSON");
    assert_eq!(
        sample["detail"]["user"], one.0,
        "the sample names the first user"
    );
    assert_eq!(sample["detail"]["target_user"], two.0);

    app.clock().advance(Duration::seconds(1));
    let answer = handle_domain_event(&app.app, sample.clone())
        .await
        .expect("ingested");
    assert_eq!(answer["duplicate"], false, "{answer}");
    let s = stats(&app, one).await;
    assert_eq!(count(&s, "review_create"), 1);
    assert_eq!(
        count(&s, &quality_attribute(EventType::ReviewCreate, 45)),
        1
    );
    assert_eq!(
        count(&s, &quality_attribute(EventType::ReviewCreate, 50)),
        0
    );
    assert_eq!(count(&stats(&app, two).await, "received_review_create"), 1);
    let events = events_newest_first(&app.app, one).await;
    assert_eq!(events[0].event_type, EventType::ReviewCreate);
    assert_eq!(events[0].metadata["post_id"], "p-2002");

    // EventBridge delivers at least once: the same envelope id counts once.
    let answer = handle_domain_event(&app.app, sample.clone())
        .await
        .expect("a redelivery is fine");
    assert_eq!(answer["duplicate"], true);
    assert_eq!(count(&stats(&app, one).await, "review_create"), 1);

    // A post from the bus moves posts_count.
    let mut post = sample.clone();
    post["id"] = json!("another-envelope");
    post["detail"] = json!({"event_type": "post_create", "user": one.0});
    handle_domain_event(&app.app, post).await.expect("ingested");
    let tokens = session_login(&app, "nina").await;
    assert_eq!(posts_count(&app, &tokens.access).await, 1);

    // A malformed detail is refused (the invocation fails; EventBridge retries, then drops).
    let mut bad = sample;
    bad["id"] = json!("bad-envelope");
    bad["detail"] = json!({"event_type": "nonsense", "user": one.0});
    assert!(handle_domain_event(&app.app, bad).await.is_err());
}

async fn staff_read_anyones_events_and_work_the_review_queue(t: TestTable) {
    let app = TestApp::new(t).await;
    let pia = register(&app, "pia").await;
    let quinn = register(&app, "quinn").await;
    let mod_id = register(&app, "rosa").await;
    set_role(&app.app, mod_id, Role::Moderator).await;
    let pia_t = session_login(&app, "pia").await;
    let rosa_t = session_login(&app, "rosa").await;
    // High-severity security events need review; a low one does not.
    log_event(
        &app.app,
        NewEvent::new(EventType::TokenReuseDetected, Some(pia)),
    )
    .await
    .unwrap();
    app.clock().advance(Duration::seconds(1));
    log_event(
        &app.app,
        NewEvent::new(EventType::SecurityAlert, Some(quinn)),
    )
    .await
    .unwrap();
    log_event(&app.app, NewEvent::new(EventType::RateLimited, Some(quinn)))
        .await
        .unwrap();

    // Users see only their own.
    let theirs = app
        .get(&format!("/api/events/?user={}", quinn.0))
        .bearer(&pia_t.access)
        .send()
        .await;
    assert_eq!(theirs.status, 403);
    let queue = app
        .get("/api/events/?requires_review=true")
        .bearer(&pia_t.access)
        .send()
        .await;
    assert_eq!(queue.status, 403);
    let own = results(&app.get("/api/events/").bearer(&pia_t.access).send().await);
    assert!(own.iter().all(|e| e["user"] == pia.0));

    // Staff see anyone's.
    let quinns = app
        .get(&format!("/api/events/?user={}", quinn.0))
        .bearer(&rosa_t.access)
        .send()
        .await;
    assert_eq!(quinns.status, 200);
    assert!(
        results(&quinns)
            .iter()
            .any(|e| e["event_type"] == "security_alert")
    );
    let queue = app
        .get("/api/events/?requires_review=true")
        .bearer(&rosa_t.access)
        .send()
        .await;
    assert_eq!(queue.status, 200);
    let pending = results(&queue);
    let types: Vec<&str> = pending
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["security_alert", "token_reuse_detected"],
        "newest first, only those needing review"
    );
    let alert_id = pending[0]["id"].as_str().unwrap().to_owned();

    let path = format!("/api/events/{alert_id}/review/");
    assert_eq!(
        app.post(&path).bearer(&pia_t.access).send().await.status,
        403
    );
    app.clock().advance(Duration::seconds(5));
    let reviewed = app
        .post(&path)
        .bearer(&rosa_t.access)
        .json(json!({"notes": "checked"}))
        .send()
        .await;
    assert_eq!(reviewed.status, 200, "{}", reviewed.body_json());
    assert_eq!(reviewed.body_json()["reviewed_by"], mod_id.0);
    assert_eq!(
        reviewed.body_json()["reviewed_at"]
            .as_str()
            .map(|s| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap()),
        Some(app.clock().now())
    );
    let stored = events_newest_first(&app.app, quinn).await;
    let alert = stored.iter().find(|e| e.event_id == alert_id).unwrap();
    assert_eq!(alert.reviewed_by, Some(mod_id));
    let queue = results(
        &app.get("/api/events/?requires_review=true")
            .bearer(&rosa_t.access)
            .send()
            .await,
    );
    assert_eq!(queue.len(), 1, "off the queue");
    assert_eq!(
        app.post(&path).bearer(&rosa_t.access).send().await.status,
        404
    );
    let logged = events_newest_first(&app.app, mod_id).await;
    let review_log = logged
        .iter()
        .find(|e| e.event_type == EventType::EventReviewed)
        .expect("event_reviewed");
    assert_eq!(review_log.target_user, Some(quinn));
    assert_eq!(review_log.metadata["notes"], "checked");
    let unknown = app
        .post("/api/events/01JDXKZ0000000000000000009/review/")
        .bearer(&rosa_t.access)
        .send()
        .await;
    assert_eq!(unknown.status, 404);
}

async fn risk_scores_follow_the_documented_formula(t: TestTable) {
    let app = TestApp::new(t).await;
    let sara = register(&app, "sara").await;
    // Failed logins: medium 20 + failure 15 + security 10, plus 5 per similar failure in the
    // last 15 minutes.
    for _ in 0..3 {
        app.clock().advance(Duration::seconds(2));
        let response = app
            .post("/api/auth/jwt/login/")
            .json(json!({"username": "sara", "password": "wrong-wrong-wrong"}))
            .send()
            .await;
        assert_eq!(response.status, 400);
    }
    let failures: Vec<u8> = events_newest_first(&app.app, sara)
        .await
        .iter()
        .rev()
        .filter(|e| e.event_type == EventType::LoginFailed)
        .map(|e| e.risk_score)
        .collect();
    assert_eq!(failures, [45, 50, 55]);
    // Past the window the velocity is gone.
    app.clock().advance(Duration::minutes(16));
    log_event(
        &app.app,
        NewEvent::new(EventType::LoginFailed, Some(sara)).failed("x"),
    )
    .await
    .unwrap();
    assert_eq!(events_newest_first(&app.app, sara).await[0].risk_score, 45);

    // The velocity part is capped at 25; the total at 100.
    for _ in 0..7 {
        app.clock().advance(Duration::seconds(1));
        log_event(
            &app.app,
            NewEvent::new(EventType::SuspiciousActivity, Some(sara))
                .severity(Severity::Critical)
                .failed("x"),
        )
        .await
        .unwrap();
    }
    let scores: Vec<u8> = events_newest_first(&app.app, sara)
        .await
        .iter()
        .rev()
        .filter(|e| e.event_type == EventType::SuspiciousActivity)
        .map(|e| e.risk_score)
        .collect();
    // critical 70 + failure 15 + security 10 = 95, then +5 → 100 (capped)
    assert_eq!(scores, [95, 100, 100, 100, 100, 100, 100]);
    // Successes read no history and score as before: a login is 5.
    let login = events_newest_first(&app.app, sara)
        .await
        .into_iter()
        .find(|e| e.event_type == EventType::Register)
        .unwrap();
    assert_eq!(login.risk_score, 5);

    // Unknown accounts: velocity per address in the anonymous partition.
    let client = ClientInfo {
        ip: Some([203, 0, 113, 5].into()),
        ..ClientInfo::default()
    };
    for _ in 0..2 {
        app.clock().advance(Duration::seconds(1));
        log_event(
            &app.app,
            NewEvent::new(EventType::LoginFailed, None)
                .client(&client)
                .failed("x"),
        )
        .await
        .unwrap();
    }
    let other = ClientInfo {
        ip: Some([203, 0, 113, 6].into()),
        ..ClientInfo::default()
    };
    app.clock().advance(Duration::seconds(1));
    log_event(
        &app.app,
        NewEvent::new(EventType::LoginFailed, None)
            .client(&other)
            .failed("x"),
    )
    .await
    .unwrap();
    // Each address's events in its own partition, merged in time order.
    let mut anon = api_tests::fixtures::anonymous_events_from(app.table(), "203.0.113.5").await;
    anon.extend(api_tests::fixtures::anonymous_events_from(app.table(), "203.0.113.6").await);
    anon.sort_by_key(|i| i.get("SK").and_then(Value::as_str).map(str::to_owned));
    let scores: Vec<i64> = anon
        .iter()
        .map(|i| i.get("risk_score").and_then(Value::as_i64).unwrap())
        .collect();
    // 20 + 15 + 10 + anonymous 10 = 55; then +5 for the same address; another address 55.
    assert_eq!(scores, [55, 60, 55]);
}

async fn erasure_anonymises_events_and_is_idempotent(t: TestTable) {
    let app = TestApp::new(t).await;
    let tom = register(&app, "tom").await;
    let tokens = session_login(&app, "tom").await;
    post_event(&app, Auth::Bearer(&tokens.access), json!({"event_type": "page_view", "description": "Viewed /secret", "metadata": {"path": "/secret"}})).await;
    let before = events_newest_first(&app.app, tom).await;
    assert!(
        before
            .iter()
            .any(|e| e.ip_address.is_some() && e.user_agent.is_some())
    );
    let done = anonymise_user_events(&app.app, tom)
        .await
        .expect("anonymised");
    assert_eq!(done, before.len() as u64);
    let after = events_newest_first(&app.app, tom).await;
    assert_eq!(after.len(), before.len(), "kept for the security log");
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(new.event_id, old.event_id);
        assert_eq!(new.event_type, old.event_type);
        assert_eq!(new.user_id, Some(tom));
        assert_eq!(new.created_at, old.created_at);
        assert_eq!(
            (new.ip_address.as_deref(), new.user_agent.as_deref()),
            (None, None)
        );
        assert_eq!((new.session_id.as_deref(), new.target_user), (None, None));
        assert_eq!(new.description, "");
        assert_eq!(new.metadata, json!({}));
    }
    assert_eq!(
        anonymise_user_events(&app.app, tom).await.unwrap(),
        0,
        "a retry has nothing left"
    );
}

async fn store_calls_per_request(t: TestTable) {
    let (app, counting) = counted(t).await;
    let uma = register(&app, "uma").await;
    let tokens = session_login(&app, "uma").await;
    // The first request of a minute writes activity; count the steady state.
    app.get("/api/auth/me/").bearer(&tokens.access).send().await;

    counting.reset();
    let logged = post_event(
        &app,
        Auth::Bearer(&tokens.access),
        json!({"event_type": "page_view"}),
    )
    .await;
    assert_eq!(logged.status, 201);
    let calls = counting.take().calls;
    assert_eq!((calls.put, calls.writes()), (1, 1), "one put: {calls:?}");
    assert_eq!(calls.reads(), 2, "the session and the profile: {calls:?}");

    for _ in 0..60 {
        app.clock().advance(Duration::milliseconds(10));
        log_event(&app.app, NewEvent::new(EventType::PageView, Some(uma)))
            .await
            .unwrap();
    }
    counting.reset();
    let page = app
        .get("/api/events/?page_size=50")
        .bearer(&tokens.access)
        .send()
        .await;
    assert_eq!(results(&page).len(), 50);
    let calls = counting.take().calls;
    assert_eq!(calls.query, 1, "one query for the page: {calls:?}");
    assert_eq!((calls.reads(), calls.writes()), (3, 0), "{calls:?}");

    // Tracking: requests within the minute write nothing; the next minute writes once.
    counting.reset();
    for _ in 0..10 {
        app.get("/api/sessions/")
            .bearer(&tokens.access)
            .send()
            .await;
    }
    assert_eq!(counting.take().calls.writes(), 0);
    app.clock().advance(Duration::seconds(61));
    app.get("/api/sessions/")
        .bearer(&tokens.access)
        .send()
        .await;
    assert_eq!(
        counting.take().calls.writes(),
        2,
        "session activity and last_active, once each"
    );
}

async fn retention_is_configurable_per_severity(t: TestTable) {
    let data_dir = t.dir().to_str().expect("temp dir is UTF-8").to_owned();
    let vars = [
        ("DATA_DIR", data_dir.as_str()),
        ("EVENT_RETENTION_LOW_DAYS", "30"),
        ("EVENT_RETENTION_HIGH_DAYS", "1000"),
    ];
    let config = accounts::config::Config::from(&vars, accounts::config::Deployment::Local)
        .expect("a valid configuration");
    let app = accounts::App::assemble(config, t.dyn_clock(), t.table(), None)
        .await
        .expect("the App");
    let user = UserId(4);
    log_event(&app, NewEvent::new(EventType::PageView, Some(user)))
        .await
        .unwrap();
    t.clock().advance(Duration::seconds(1));
    log_event(&app, NewEvent::new(EventType::SecurityAlert, Some(user)))
        .await
        .unwrap();
    t.clock().advance(Duration::seconds(1));
    log_event(
        &app,
        NewEvent::new(EventType::LoginFailed, Some(user)).failed("x"),
    )
    .await
    .unwrap();
    let query =
        accounts::store::Query::new(accounts::store::Index::Primary, keys::user_partition(user))
            .consistent();
    let now = t.now_epoch();
    let days: Vec<i64> = t
        .query(query)
        .await
        .unwrap()
        .items
        .iter()
        .map(|i| (i.get("expires_at").and_then(Value::as_i64).unwrap() - now + 2) / 86_400)
        .collect();
    assert_eq!(days, [30, 1000, 365], "low, high, medium (the default)");
}

both_engines!(
    retention_is_configurable_per_severity,
    lists_own_events_with_filters_and_cursors,
    users_log_only_client_events_for_themselves,
    a_service_token_feeds_the_counters_in_one_transaction,
    content_events_from_the_bus_are_ingested_once,
    staff_read_anyones_events_and_work_the_review_queue,
    risk_scores_follow_the_documented_formula,
    erasure_anonymises_events_and_is_idempotent,
    store_calls_per_request,
);
