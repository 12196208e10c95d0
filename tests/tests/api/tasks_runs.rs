//! Run records: every run is listed by `GET /api/tasks/runs/` for administrators, newest
//! first, filtered by `?task=`; the `tasks` function's handler runs tasks by name, from a
//! schedule's input or a continuation event, and refuses unknown names.

use crate::tasks_support;

use std::sync::Arc;

use accounts::model::Role;
use accounts::store::counting::{CountingTable, StoreOp};
use accounts::tasks::report;
use accounts::tasks::{counters, session_analytics};
use accounts::triggers::{KNOWN_TASKS, run_task};
use api_tests::app::TestApp;
use api_tests::fixtures::named_person;
use api_tests::{TestTable, both_engines};
use chrono::Duration;
use serde_json::json;
use tasks_support::run;

both_engines!(
    async fn store_calls_per_request(t: TestTable) {
        let counting = Arc::new(CountingTable::new(t.table()));
        let app = TestApp::over(t, &[], counting.clone()).await;
        let admin = named_person(&app.app, 1, "root", Role::Admin).await.token;
        run(&app.app, counters::NAME).await;
        run(&app.app, report::NAME).await;
        let day = app.app.clock.now().date_naive() - chrono::Duration::days(1);

        // A first request writes the session's activity (once a minute); then the caller's
        // session and profile, and one query (or one get).
        app.get("/api/tasks/runs/").bearer(&admin).send().await;
        counting.reset();
        let r = app.get("/api/tasks/runs/").bearer(&admin).send().await;
        assert_eq!(r.status, 200);
        let calls = counting.take().calls;
        assert_eq!((calls.of(StoreOp::Get), calls.of(StoreOp::Query)), (2, 1));
        assert_eq!(calls.writes(), 0, "{calls:?}");

        let r = app
            .get(&format!("/api/reports/?date={day}"))
            .bearer(&admin)
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.body_json());
        let calls = counting.take().calls;
        assert_eq!(calls.of(StoreOp::Get), 3, "{calls:?}");
        assert_eq!(calls.total(), 3, "{calls:?}");
    }

    async fn runs_are_listed_for_administrators(t: TestTable) {
        let app = TestApp::new(t).await;
        let admin = named_person(&app.app, 1, "root", Role::Owner).await.token;
        let normal = named_person(&app.app, 2, "ann", Role::Normal).await.token;
        let first = run(&app.app, counters::NAME).await;
        app.clock().advance(Duration::seconds(1));
        let second = run(&app.app, session_analytics::NAME).await;

        let response = app.get("/api/tasks/runs/").bearer(&admin).send().await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        let body = response.body_json();
        let results = body["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(results[0]["run_id"], second.run_id.as_str());
        assert_eq!(results[1]["run_id"], first.run_id.as_str());
        for field in [
            "task",
            "status",
            "started_at",
            "finished_at",
            "duration_ms",
            "items_read",
            "items_written",
            "items_fixed",
            "resumed_from",
        ] {
            assert!(
                results[0].get(field).is_some(),
                "{field} missing: {}",
                results[0]
            );
        }
        assert_eq!(results[1]["status"], "completed");

        let filtered = app
            .get("/api/tasks/runs/?task=update_user_counters")
            .bearer(&admin)
            .send()
            .await;
        let body = filtered.body_json();
        assert_eq!(body["results"].as_array().unwrap().len(), 1);
        assert_eq!(body["results"][0]["task"], counters::NAME);

        let paged = app
            .get("/api/tasks/runs/?page_size=1")
            .bearer(&admin)
            .send()
            .await;
        let body = paged.body_json();
        assert_eq!(body["results"].as_array().unwrap().len(), 1);
        assert!(body["next"].is_string());

        let unknown = app
            .get("/api/tasks/runs/?task=nope")
            .bearer(&admin)
            .send()
            .await;
        assert_eq!(unknown.status, 400);
        assert_eq!(app.get("/api/tasks/runs/").send().await.status, 401);
        assert_eq!(
            app.get("/api/tasks/runs/")
                .bearer(&normal)
                .send()
                .await
                .status,
            403
        );
    }

    async fn the_tasks_function_runs_tasks_by_name(t: TestTable) {
        let app = TestApp::new(t).await;
        assert_eq!(KNOWN_TASKS.len(), 11);
        for name in KNOWN_TASKS {
            let out = run_task(&app.app, json!({ "task": name })).await.unwrap();
            assert_eq!(out["status"], "completed", "{name}: {out}");
            assert_eq!(out["task"], *name);
            app.clock().advance(Duration::seconds(1));
        }
        let continued = run_task(
            &app.app,
            json!({
                "source": "accounts",
                "detail-type": "TaskContinue",
                "detail": { "task": counters::NAME },
            }),
        )
        .await
        .unwrap();
        assert_eq!(continued["task"], counters::NAME);
        assert!(run_task(&app.app, json!({ "task": "nope" })).await.is_err());
        assert!(run_task(&app.app, json!({})).await.is_err());
        let health = run_task(&app.app, json!({ "health": true })).await.unwrap();
        assert_eq!(health["status"], "ok");
    }
);
