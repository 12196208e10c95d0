//! `generate_user_analytics_report` counts the day's users and events as seeded (the events
//! from the day counts the table's stream keeps: `activity::day_counts`), `GET /api/reports/`
//! shows it to administrators only, and a report made in several budgeted runs equals one made
//! in one run.

use crate::tasks_support;

use accounts::activity::events::{EventType, NewEvent};
use accounts::model::{Role, UserId};
use accounts::store::keys;
use accounts::tasks::{self, Budget, RunStatus, report};
use api_tests::app::TestApp;
use api_tests::fixtures::{named_person, stored_user};
use api_tests::{TestTable, both_engines};
use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};
use tasks_support::{event, run};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn log(app: &TestApp, t: EventType, user: i64) {
    event(&app.app, NewEvent::new(t, Some(UserId(user)))).await;
}

/// The seeded day 2030-01-15, with events the day before and after that must not count, and
/// the stream applied (as the deployed consumer has, hours before the report runs).
async fn seed_day(app: &TestApp) {
    app.clock().set(at("2030-01-13T12:00:00Z"));
    stored_user(&app.app, 9, "root", true).await;
    app.clock().set(at("2030-01-14T09:00:00Z"));
    stored_user(&app.app, 5, "eve", true).await;
    log(app, EventType::Register, 5).await;
    log(app, EventType::Login, 5).await;
    app.clock().set(at("2030-01-15T09:00:00Z"));
    for (id, name) in [(1, "ann"), (2, "bob"), (3, "cyd"), (4, "dan")] {
        stored_user(&app.app, id, name, id <= 2).await;
        log(app, EventType::Register, id).await;
    }
    log(app, EventType::Verify, 1).await;
    log(app, EventType::Verify, 2).await;
    for id in [1, 2, 5] {
        log(app, EventType::Login, id).await;
    }
    log(app, EventType::Follow, 1).await;
    log(app, EventType::Follow, 2).await;
    log(app, EventType::BadgeEarned, 1).await;
    app.clock().set(at("2030-01-15T23:59:59Z"));
    log(app, EventType::PageView, 4).await;
    app.clock().set(at("2030-01-16T00:30:00Z"));
    log(app, EventType::Login, 3).await;
    app.clock().set(at("2030-01-16T05:00:00Z"));
    assert_eq!(
        app.apply_stream().await,
        16,
        "every seeded event streamed once"
    );
    assert_eq!(app.apply_stream().await, 0, "nothing streamed twice");
}

/// A TestApp whose table streams (DynamoDB tables of the tests stream only when asked).
async fn streaming_app(t: TestTable) -> TestApp {
    t.enable_stream().await;
    TestApp::new(t).await
}

fn without_run(mut report: Json) -> Json {
    let fields = report.as_object_mut().unwrap();
    fields.remove("run_id");
    fields.remove("generated_at");
    report
}

both_engines!(
    async fn the_report_counts_the_seeded_day(t: TestTable) {
        let app = streaming_app(t).await;
        seed_day(&app).await;
        run(&app.app, report::NAME).await;
        let admin = named_person(&app.app, 9, "root", Role::Admin).await.token;

        let response = app
            .get("/api/reports/?date=2030-01-15")
            .bearer(&admin)
            .send()
            .await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        let body = response.body_json();
        let expected = json!({
            "date": "2030-01-15",
            "new_users": 4,
            "verified_users": 2,
            "active_users": 5,
            "logins": 3,
            "follows": 2,
            "badges_awarded": 1,
            "users_total": 6,
            "verified_total": 4,
            "events_by_type": {
                "register": 4, "verify": 2, "login": 3, "follow": 2, "badge_earned": 1,
                "page_view": 1
            },
            "events_total": 13,
        });
        assert_eq!(without_run(body.clone()), expected);

        let list = app.get("/api/reports/").bearer(&admin).send().await;
        assert_eq!(list.status, 200);
        assert_eq!(list.body_json()["results"][0]["date"], "2030-01-15");

        // Running again rewrites the same report.
        run(&app.app, report::NAME).await;
        let again = app
            .get("/api/reports/?date=2030-01-15")
            .bearer(&admin)
            .send()
            .await;
        assert_eq!(without_run(again.body_json()), expected);
    }

    async fn reports_are_for_administrators(t: TestTable) {
        let app = streaming_app(t).await;
        seed_day(&app).await;
        run(&app.app, report::NAME).await;
        let admin = named_person(&app.app, 9, "root", Role::Admin).await.token;
        let moderator = named_person(&app.app, 1, "ann", Role::Moderator)
            .await
            .token;
        let path = "/api/reports/?date=2030-01-15";
        assert_eq!(app.get(path).send().await.status, 401);
        assert_eq!(app.get(path).bearer(&moderator).send().await.status, 403);
        assert_eq!(
            app.get("/api/reports/")
                .bearer(&moderator)
                .send()
                .await
                .status,
            403
        );
        assert_eq!(app.get(path).bearer(&admin).send().await.status, 200);
        let missing = app
            .get("/api/reports/?date=2030-01-10")
            .bearer(&admin)
            .send()
            .await;
        assert_eq!(missing.status, 404);
        let bad = app
            .get("/api/reports/?date=15.01.2030")
            .bearer(&admin)
            .send()
            .await;
        assert_eq!(bad.status, 400);
        assert!(bad.body_json()["date"].is_array(), "{}", bad.body_json());
    }

    async fn a_report_made_in_pieces_equals_one_made_at_once(t: TestTable) {
        let app = streaming_app(t).await;
        seed_day(&app).await;
        run(&app.app, report::NAME).await;
        let key = keys::daily_report("2030-01-15");
        let whole = report::get_report(
            &app.app,
            accounts::access::Admin::SYSTEM,
            chrono::NaiveDate::from_ymd_opt(2030, 1, 15).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
        app.table().delete(&key, None).await.unwrap();

        let small = Budget::pages(2).with_page_size(2);
        // The walk reads the profiles, two a page, then the day counts.
        let mut runs = 0;
        loop {
            let record = tasks::run(&app.app, report::NAME, &small).await.unwrap();
            runs += 1;
            assert!(runs < 200, "the walk never ends");
            if record.status == RunStatus::Completed {
                break;
            }
            assert_eq!(record.status, RunStatus::Checkpointed);
        }
        assert!(runs >= 2, "the budget stopped it midway ({runs} runs)");
        let pieces = report::get_report(
            &app.app,
            accounts::access::Admin::SYSTEM,
            chrono::NaiveDate::from_ymd_opt(2030, 1, 15).unwrap(),
        )
        .await
        .unwrap()
        .expect("the report");
        assert_eq!(without_run(pieces), without_run(whole));
    }
);
