//! `analyze_user_security_events`: the four patterns are flagged (events put on the review
//! queue, one high-severity `suspicious_activity` per finding), and a second run adds nothing.

use crate::tasks_support;

use accounts::activity::events::{EventRecord, EventType, NewEvent};
use accounts::activity::sessions::check_new_device;
use accounts::auth::AuthMethod;
use accounts::auth::sessions;
use accounts::model::UserId;
use accounts::store::Value;
use accounts::tasks::security;
use api_tests::app::TestApp;
use api_tests::fixtures::{client_at, stored_user};
use api_tests::{TestTable, both_engines};
use chrono::Duration;
use tasks_support::{event, item, run};

async fn failed_login(app: &TestApp, user: i64, ip: &str) -> EventRecord {
    event(
        &app.app,
        NewEvent::new(EventType::LoginFailed, Some(UserId(user)))
            .client(&client_at(ip))
            .failed("invalid credentials"),
    )
    .await
}

async fn findings(app: &TestApp) -> Vec<EventRecord> {
    api_tests::fixtures::events_by_type(app.table(), EventType::SuspiciousActivity.as_str())
        .await
        .iter()
        .map(|i| EventRecord::from_item(i).unwrap())
        .collect()
}

async fn flagged(app: &TestApp, e: &EventRecord) -> Option<String> {
    let stored = item(app, &e.key()).await.expect("the event");
    assert_eq!(
        stored.get("GSI2PK").and_then(Value::as_str).is_some(),
        stored.contains_key("flagged_pattern"),
        "a flagged event is on the review queue"
    );
    stored
        .get("flagged_pattern")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn pattern(e: &EventRecord) -> String {
    e.metadata["pattern"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

both_engines!(
    async fn the_four_patterns_are_flagged_once(t: TestTable) {
        let app = TestApp::new(t).await;
        for id in 1..=12 {
            stored_user(&app.app, id, &format!("u{id}"), true).await;
        }
        // 1. five accounts failing from one address; four from another is not enough.
        let mut spray = Vec::new();
        for id in 1..=5 {
            spray.push(failed_login(&app, id, "203.0.113.9").await);
        }
        for id in 1..=4 {
            failed_login(&app, id, "203.0.113.10").await;
        }
        // 2. three failures, then success; two failures then success is not enough.
        let mut tries = Vec::new();
        for _ in 0..3 {
            tries.push(failed_login(&app, 10, "198.51.100.20").await);
        }
        app.clock().advance(Duration::minutes(5));
        let success = event(
            &app.app,
            NewEvent::new(EventType::Login, Some(UserId(10))).client(&client_at("198.51.100.20")),
        )
        .await;
        failed_login(&app, 9, "198.51.100.21").await;
        failed_login(&app, 9, "198.51.100.21").await;
        let fine = event(&app.app, NewEvent::new(EventType::Login, Some(UserId(9)))).await;
        // 3. token reuse.
        let reuse = event(
            &app.app,
            NewEvent::new(EventType::TokenReuseDetected, Some(UserId(11))),
        )
        .await;
        // 4. a login from the US an hour after one from France.
        let user = stored_user(&app.app, 12, "u12", true).await;
        let mut france = client_at("192.0.2.1");
        france.country = Some("FR".into());
        sessions::start_session(&app.app, &user, &france, AuthMethod::Jwt)
            .await
            .unwrap();
        app.clock().advance(Duration::hours(1));
        let mut us = client_at("192.0.2.2");
        us.country = Some("US".into());
        let second = sessions::start_session(&app.app, &user, &us, AuthMethod::Jwt)
            .await
            .unwrap();
        check_new_device(&app.app, &second.record, &us).await;
        app.clock().advance(Duration::hours(1));

        let record = run(&app.app, security::NAME).await;
        assert_eq!(record.details.get("findings"), Some(&4), "{record:?}");
        let mut found: Vec<String> = findings(&app).await.iter().map(pattern).collect();
        found.sort();
        assert_eq!(
            found,
            [
                "failures_then_success",
                "ip_many_accounts",
                "new_country",
                "token_reuse"
            ]
        );
        for e in findings(&app).await {
            assert_eq!(e.severity, accounts::activity::events::Severity::High);
            assert!(e.requires_review);
        }
        for e in &spray {
            assert_eq!(flagged(&app, e).await.as_deref(), Some("ip_many_accounts"));
        }
        assert_eq!(
            flagged(&app, &success).await.as_deref(),
            Some("failures_then_success")
        );
        for e in &tries {
            assert!(flagged(&app, e).await.is_some());
        }
        assert_eq!(flagged(&app, &fine).await, None);
        assert_eq!(flagged(&app, &reuse).await.as_deref(), Some("token_reuse"));

        let again = run(&app.app, security::NAME).await;
        assert_eq!(again.details.get("findings"), None, "{again:?}");
        assert_eq!(findings(&app).await.len(), 4);
    }
);
