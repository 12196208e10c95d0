//! `update_user_session_analytics` ends idle sessions and writes the day's metrics;
//! `cleanup_expired_sessions` removes sessions that can never be used again and spent codes.

use crate::tasks_support;

use accounts::auth::AuthMethod;
use accounts::auth::codes::{self, CodePurpose};
use accounts::auth::sessions;
use accounts::model::UserId;
use accounts::store::{Update, Value, keys};
use accounts::tasks::{session_analytics, session_cleanup};
use api_tests::app::TestApp;
use api_tests::fixtures::{client, stored_user};
use api_tests::{TestTable, both_engines};
use chrono::{DateTime, Duration, Utc};
use tasks_support::{item, run};

fn ten_o_clock() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-01-15T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

both_engines!(
    async fn idle_sessions_end_and_the_day_is_measured(t: TestTable) {
        let app = TestApp::new(t).await;
        app.clock().set(ten_o_clock());
        let ann = stored_user(&app.app, 1, "ann", true).await;
        let idle = sessions::start_session(&app.app, &ann, &client(), AuthMethod::Jwt)
            .await
            .unwrap()
            .record;
        let busy = sessions::start_session(&app.app, &ann, &client(), AuthMethod::Jwt)
            .await
            .unwrap()
            .record;
        let ended = sessions::start_session(&app.app, &ann, &client(), AuthMethod::Jwt)
            .await
            .unwrap()
            .record;
        sessions::end_session(&app.app, &ended.session_id)
            .await
            .unwrap();
        app.clock().advance(Duration::minutes(20));
        assert!(sessions::refresh(&app.app, &busy).await.unwrap().is_some());
        app.clock().advance(Duration::minutes(11));

        let record = run(&app.app, session_analytics::NAME).await;
        assert_eq!(record.items_fixed, 1, "{record:?}");
        let stored = sessions::get_session(&app.app, &idle.session_id)
            .await
            .unwrap()
            .unwrap();
        assert!(!stored.is_active);
        assert_eq!(stored.ended_at, Some(ten_o_clock() + Duration::minutes(30)));
        let still = sessions::active_session(&app.app, &busy.session_id)
            .await
            .unwrap();
        assert!(still.is_some(), "a session with recent activity stays");

        let metrics = item(&app, &keys::session_metrics("2030-01-15"))
            .await
            .expect("the day's metrics");
        assert_eq!(metrics.get("sessions").and_then(Value::as_i64), Some(3));
        assert_eq!(
            metrics.get("active_sessions").and_then(Value::as_i64),
            Some(1)
        );
        // idle: 30 min until it went idle; busy: 31 min so far; ended at once: 0.
        assert_eq!(
            metrics.get("average_time_spent").and_then(Value::as_f64),
            Some((1800.0 + 1860.0) / 3.0)
        );
        let devices = match metrics.get("devices") {
            Some(Value::M(m)) => m.values().filter_map(Value::as_i64).sum::<i64>(),
            _ => 0,
        };
        assert_eq!(devices, 3);

        let again = run(&app.app, session_analytics::NAME).await;
        assert_eq!(again.items_fixed, 0, "{again:?}");
        let metrics_again = item(&app, &keys::session_metrics("2030-01-15"))
            .await
            .unwrap();
        assert_eq!(metrics_again.get("sessions"), metrics.get("sessions"));
    }

    async fn dead_sessions_and_spent_codes_are_removed(t: TestTable) {
        let app = TestApp::new(t).await;
        app.clock().set(ten_o_clock());
        let ann = stored_user(&app.app, 1, "ann", false).await;
        let bob = stored_user(&app.app, 2, "bob", false).await;
        let live = sessions::start_session(&app.app, &ann, &client(), AuthMethod::Session)
            .await
            .unwrap()
            .record;
        let ended = sessions::start_session(&app.app, &ann, &client(), AuthMethod::Session)
            .await
            .unwrap()
            .record;
        let idle = sessions::start_session(&app.app, &bob, &client(), AuthMethod::Session)
            .await
            .unwrap()
            .record;
        sessions::end_session(&app.app, &ended.session_id)
            .await
            .unwrap();
        app.clock().advance(Duration::minutes(10));
        assert!(sessions::refresh(&app.app, &live).await.unwrap().is_some());
        app.clock().advance(Duration::minutes(25));
        // Codes live 15 minutes: a used one goes now, an unused one stays until its expiry.
        codes::issue_code(&app.app, &ann, CodePurpose::Verify)
            .await
            .unwrap();
        codes::issue_code(&app.app, &bob, CodePurpose::Verify)
            .await
            .unwrap();
        app.table()
            .update(
                &keys::emailed_code(UserId(1), "verify"),
                Update::new().set("used", true),
                None,
            )
            .await
            .unwrap();

        let record = run(&app.app, session_cleanup::NAME).await;
        assert_eq!(
            record.details.get("sessions_deleted"),
            Some(&2),
            "{record:?}"
        );
        assert_eq!(record.details.get("codes_deleted"), Some(&1), "{record:?}");
        assert!(
            item(&app, &keys::session(&ended.session_id))
                .await
                .is_none()
        );
        assert!(item(&app, &keys::session(&idle.session_id)).await.is_none());
        assert!(item(&app, &keys::session(&live.session_id)).await.is_some());
        assert!(
            item(&app, &keys::emailed_code(UserId(1), "verify"))
                .await
                .is_none()
        );
        assert!(
            item(&app, &keys::emailed_code(UserId(2), "verify"))
                .await
                .is_some()
        );

        let again = run(&app.app, session_cleanup::NAME).await;
        assert_eq!(again.items_written, 0, "{again:?}");
    }
);
