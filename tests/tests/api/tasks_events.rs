//! `cleanup_old_user_events`: events past the retention of their severity go, the others stay,
//! also after the retention was lowered (the TTL written with the event is not enough) or
//! raised (the TTL moves out).

use crate::tasks_support;

use std::sync::Arc;

use accounts::activity::events::{EventType, NewEvent, Severity};
use accounts::model::UserId;
use accounts::store::{Value, keys};
use accounts::tasks::event_cleanup;
use api_tests::app::{TestApp, build_app};
use api_tests::fixtures::stored_user;
use api_tests::{TestTable, both_engines};
use chrono::Duration;
use tasks_support::{event, item, run};

const DAY: i64 = 24 * 3600;

both_engines!(
    async fn events_past_retention_go_also_after_a_change(t: TestTable) {
        let app = TestApp::new(t).await;
        let ann = UserId(1);
        stored_user(&app.app, 1, "ann", true).await;
        let old_low = event(&app.app, NewEvent::new(EventType::Login, Some(ann))).await;
        let old_medium = event(
            &app.app,
            NewEvent::new(EventType::Login, Some(ann)).severity(Severity::Medium),
        )
        .await;
        app.clock().advance(Duration::days(40));
        let new_low = event(&app.app, NewEvent::new(EventType::Logout, Some(ann))).await;

        // Under the default retention (90 days low) nothing is old enough yet.
        let record = run(&app.app, event_cleanup::NAME).await;
        assert_eq!(record.details.get("deleted"), None, "{record:?}");
        for e in [&old_low, &old_medium, &new_low] {
            assert!(item(&app, &e.key()).await.is_some());
        }

        // Low events are now kept 30 days: the 40-day-old one goes, the rest stay, and the
        // TTL of what stays follows the new retention.
        let lowered = Arc::new(
            build_app(
                &app.t,
                app.t.dir(),
                &[("EVENT_RETENTION_LOW_DAYS", "30")],
                app.t.table(),
            )
            .await,
        );
        let record = run(&lowered, event_cleanup::NAME).await;
        assert_eq!(record.details.get("deleted"), Some(&1), "{record:?}");
        assert!(item(&app, &old_low.key()).await.is_none());
        assert!(item(&app, &old_medium.key()).await.is_some());
        let kept = item(&app, &new_low.key())
            .await
            .expect("the recent event stays");
        assert_eq!(
            kept.get(keys::attr::EXPIRES_AT).and_then(Value::as_i64),
            Some(new_low.created_at.timestamp() + 30 * DAY)
        );
        let again = run(&lowered, event_cleanup::NAME).await;
        assert_eq!(again.items_written, 0, "{again:?}");

        // Raised to 200 days: the TTL moves out instead of removing the event at 30.
        let raised = build_app(
            &app.t,
            app.t.dir(),
            &[("EVENT_RETENTION_LOW_DAYS", "200")],
            app.t.table(),
        )
        .await;
        run(&raised, event_cleanup::NAME).await;
        let kept = item(&app, &new_low.key()).await.unwrap();
        assert_eq!(
            kept.get(keys::attr::EXPIRES_AT).and_then(Value::as_i64),
            Some(new_low.created_at.timestamp() + 200 * DAY)
        );
    }
);
