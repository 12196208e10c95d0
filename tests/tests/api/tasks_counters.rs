//! `update_user_counters`: drifted follower, following and post counters are fixed from the
//! edges and the STATS counts, a second run fixes nothing, and a run stopped by its budget
//! carries on from its checkpoint to the same result as one uninterrupted run.

use crate::tasks_support;

use accounts::model::UserId;
use accounts::social::edges::{FollowEdge, FollowStatus};
use accounts::store::{Update, Value, keys};
use accounts::tasks::{self, Budget, RunStatus, counters};
use api_tests::app::TestApp;
use api_tests::fixtures::{profile_int, stored_user};
use api_tests::{TestTable, both_engines};
use tasks_support::run;

async fn follow(app: &TestApp, a: i64, b: i64, status: FollowStatus) {
    let edge = FollowEdge {
        follower: UserId(a),
        following: UserId(b),
        status,
        created_at: app.app.clock.now(),
        approved_at: None,
    };
    app.table()
        .put(edge.to_item().unwrap(), None)
        .await
        .unwrap();
}

/// Breaks a counter by writing the profile directly.
async fn set_counter(app: &TestApp, user: i64, name: &str, value: i64) {
    app.table()
        .update(
            &keys::user(UserId(user)),
            Update::new().set(name, value),
            None,
        )
        .await
        .unwrap();
}

both_engines!(
    async fn drifted_counters_are_fixed_once(t: TestTable) {
        let app = TestApp::new(t).await;
        for (id, name) in [(1, "ann"), (2, "bob"), (3, "cyd")] {
            stored_user(&app.app, id, name, true).await;
        }
        follow(&app, 1, 2, FollowStatus::Active).await;
        follow(&app, 3, 2, FollowStatus::Active).await;
        follow(&app, 2, 1, FollowStatus::Active).await;
        // Pending requests count nowhere.
        follow(&app, 1, 3, FollowStatus::Pending).await;
        let mut stats = keys::user_stats(UserId(2)).to_item();
        stats.insert("post_create".into(), Value::Int(5));
        stats.insert("post_delete".into(), Value::Int(2));
        app.table().put(stats, None).await.unwrap();

        // Correct counters for ann; bob's and cyd's drifted.
        set_counter(&app, 1, "following_count", 1).await;
        set_counter(&app, 1, "follower_count", 1).await;
        set_counter(&app, 2, "follower_count", 7).await;
        set_counter(&app, 2, "following_count", 0).await;
        set_counter(&app, 3, "posts_count", 4).await;
        set_counter(&app, 3, "following_count", 1).await;

        let record = run(&app.app, counters::NAME).await;
        assert_eq!(record.items_fixed, 2, "{record:?}");
        assert_eq!(profile_int(&app.app, UserId(2), "follower_count").await, 2);
        assert_eq!(profile_int(&app.app, UserId(2), "following_count").await, 1);
        assert_eq!(profile_int(&app.app, UserId(2), "posts_count").await, 3);
        assert_eq!(profile_int(&app.app, UserId(3), "posts_count").await, 0);
        assert_eq!(profile_int(&app.app, UserId(3), "following_count").await, 1);
        assert_eq!(profile_int(&app.app, UserId(1), "follower_count").await, 1);

        let again = run(&app.app, counters::NAME).await;
        assert_eq!(again.items_fixed, 0, "{again:?}");
        assert_eq!(again.items_written, 0, "{again:?}");
    }

    async fn a_stopped_run_resumes_from_its_checkpoint(t: TestTable) {
        let app = TestApp::new(t).await;
        let n = 24;
        for id in 1..=n {
            stored_user(&app.app, id, &format!("u{id}"), true).await;
            follow(&app, id, id % n + 1, FollowStatus::Active).await;
            set_counter(&app, id, "follower_count", 9).await;
        }
        let small = Budget::pages(2).with_page_size(4);
        let first = tasks::run(&app.app, counters::NAME, &small).await.unwrap();
        assert_eq!(first.status, RunStatus::Checkpointed, "{first:?}");
        assert_eq!(first.pages, 2);
        assert!(first.items_fixed < n as u64, "{first:?}");

        let mut runs = vec![first];
        while runs.last().unwrap().status == RunStatus::Checkpointed {
            let previous = runs.last().unwrap().run_id.clone();
            let next = tasks::run(&app.app, counters::NAME, &small).await.unwrap();
            assert_eq!(
                next.resumed_from.as_deref(),
                Some(previous.as_str()),
                "{next:?}"
            );
            assert_eq!(next.walk_started_at, runs[0].walk_started_at);
            runs.push(next);
            assert!(runs.len() < 100, "the walk never ends");
        }
        assert_eq!(runs.last().unwrap().status, RunStatus::Completed);
        let fixed: u64 = runs.iter().map(|r| r.items_fixed).sum();
        assert_eq!(fixed, n as u64, "every user fixed exactly once: {runs:?}");
        for id in 1..=n {
            assert_eq!(profile_int(&app.app, UserId(id), "follower_count").await, 1);
            assert_eq!(
                profile_int(&app.app, UserId(id), "following_count").await,
                1
            );
        }
        // A fresh walk after the finished one starts over and finds nothing to fix.
        let fresh = run(&app.app, counters::NAME).await;
        assert_eq!(fresh.resumed_from, None);
        assert_eq!(fresh.items_fixed, 0);
    }

    async fn a_second_run_meanwhile_is_skipped(t: TestTable) {
        let app = TestApp::new(t).await;
        stored_user(&app.app, 1, "ann", true).await;
        // A run holds the lease: it stopped without releasing it (a crash).
        let mut lease = keys::task_checkpoint(counters::NAME).to_item();
        lease.insert("lease_until".into(), Value::Int(app.t.now_epoch() + 600));
        lease.insert(
            "lease_run".into(),
            Value::S("01J0000000000000000000000X".into()),
        );
        app.table().put(lease, None).await.unwrap();
        let skipped = tasks::run(&app.app, counters::NAME, &Budget::unlimited())
            .await
            .unwrap();
        assert_eq!(skipped.status, RunStatus::Skipped);
        // Once the lease runs out, the next run goes ahead.
        app.clock().advance(chrono::Duration::seconds(601));
        run(&app.app, counters::NAME).await;
    }
);
