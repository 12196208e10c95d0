//! `update_user_engagement_scores`: the three scores follow the formula in docs/tasks.md from
//! the user's events of the last 30 days only, and a second run writes nothing.

use crate::tasks_support;

use accounts::activity::events::{EventType, NewEvent};
use accounts::model::UserId;
use accounts::store::{Value, keys};
use accounts::tasks::engagement;
use api_tests::app::TestApp;
use api_tests::fixtures::stored_user;
use api_tests::{TestTable, both_engines};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use tasks_support::{event, item, run};

async fn log(app: &TestApp, t: EventType, n: usize) {
    for _ in 0..n {
        event(&app.app, NewEvent::new(t, Some(UserId(1)))).await;
    }
}

async fn score(app: &TestApp, user: i64, name: &str) -> f64 {
    item(app, &keys::user(UserId(user)))
        .await
        .unwrap()
        .get(name)
        .and_then(Value::as_f64)
        .unwrap_or(-1.0)
}

both_engines!(
    async fn scores_follow_the_formula_over_thirty_days(t: TestTable) {
        let app = TestApp::new(t).await;
        let start = DateTime::parse_from_rfc3339("2030-01-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        app.clock().set(start);
        stored_user(&app.app, 1, "ann", true).await;
        stored_user(&app.app, 2, "bob", true).await;
        // Too old to count by the time the task runs.
        log(&app, EventType::PostCreate, 4).await;

        app.clock().set(start + Duration::days(31));
        log(&app, EventType::PostCreate, 2).await;
        log(&app, EventType::Login, 2).await;
        app.clock().advance(Duration::days(1));
        log(&app, EventType::CommentCreate, 1).await;
        event(
            &app.app,
            NewEvent::new(EventType::ReviewCreate, Some(UserId(1)))
                .metadata(json!({"quality": 4.0})),
        )
        .await;
        app.clock().advance(Duration::days(1));
        log(&app, EventType::LikeGiven, 3).await;
        log(&app, EventType::PostDelete, 1).await;
        app.clock().advance(Duration::hours(2));

        let record = run(&app.app, engagement::NAME).await;
        assert_eq!(
            record.items_written, 1,
            "only ann's scores change: {record:?}"
        );
        // 5×2 posts + 3 comment + 4 review + 1×3 likes + 0.5×2 logins + 2×3 active days.
        assert_eq!(score(&app, 1, "engagement_score").await, 27.0);
        // 3 of 4 contributions kept: 50×0.75, plus 10 × the average review quality 4.
        assert_eq!(score(&app, 1, "content_quality_score").await, 77.5);
        // 8 social and content events in 30 days.
        assert_eq!(score(&app, 1, "interaction_frequency").await, 0.27);
        assert_eq!(score(&app, 2, "engagement_score").await, 0.0);

        let again = run(&app.app, engagement::NAME).await;
        assert_eq!(again.items_written, 0, "{again:?}");
    }
);
