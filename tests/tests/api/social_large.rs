//! Large accounts (`social::large`), on both engines: past `LARGE_ACCOUNT_FOLLOWERS` an
//! account's follows count in shards, not on its profile; the `fold_follower_counts` task
//! brings the shown count to the edges; unfollows take back from where the follow counted;
//! `update_user_counters` agrees; and a storm of follows and unfollows converges.

use crate::social_support;
use crate::tasks_support;

use std::sync::Arc;

use accounts::model::UserId;
use accounts::social::large;
use accounts::store::{Index, Query, SortCondition, keys};
use accounts::tasks::{counters, large_counts};
use api_tests::fixtures::{Person, person, profile};
use api_tests::{TestTable, both_engines};
use social_support::*;

const THRESHOLD: &str = "3";

async fn shown_followers(app: &api_tests::app::TestApp, who: &Person, user: UserId) -> i64 {
    let (status, body) = get_json(app, who, &format!("/api/profiles/{user}/")).await;
    assert_eq!(status, 200, "{body}");
    body["follower_count"].as_i64().expect("a follower count")
}

async fn notifications_stored(app: &accounts::App, user: UserId) -> usize {
    let query = Query::new(Index::Primary, keys::user_partition(user))
        .sort(SortCondition::BeginsWith(keys::NOTIFICATION_PREFIX.into()))
        .consistent();
    app.table.query(query).await.unwrap().items.len()
}

async fn follows_past_the_threshold_count_in_shards(t: TestTable) {
    let app = configured_app(
        t,
        &[
            ("LARGE_ACCOUNT_FOLLOWERS", THRESHOLD),
            ("BADGES_EVALUATE_ON_BUS", "true"),
        ],
    )
    .await;
    let star = person(&app.app, 1).await;
    let mut fans = Vec::new();
    for id in 2..=8 {
        let fan = person(&app.app, id).await;
        let r = follow(&app, &fan, star.id).await;
        assert_eq!(r.status, 201, "{}", r.body_json());
        fans.push(fan);
    }
    let stored = profile(&app.app, star.id).await;
    assert!(stored.large_account, "the account became large");
    // The first three follows counted on the profile; the other four did not touch it.
    assert_eq!(stored.follower_count, 3);
    assert_eq!(shown_followers(&app, &fans[0], star.id).await, 3);
    // The star was told of the first three follows only.
    assert_eq!(notifications_stored(&app.app, star.id).await, 3);

    let record = tasks_support::run(&app.app, large_counts::NAME).await;
    assert!(
        record.details.get("accounts_folded") == Some(&1),
        "{record:?}"
    );
    assert_eq!(shown_followers(&app, &fans[0], star.id).await, 7);
    // The owner's own view (every field) shows the same count, and no bookkeeping.
    let (_, own) = get_json(&app, &star, &format!("/api/profiles/{}/", star.id)).await;
    assert_eq!(own["follower_count"], 7, "{own}");
    assert!(own.get("large_followers").is_none(), "{own}");
    let (_, list) = get_json(&app, &star, "/api/follows/?direction=followers").await;
    assert_eq!(list["count"], 7, "{list}");

    // A follow counted in a shard, and one counted on the profile, unfollowed.
    for fan in [&fans[6], &fans[0]] {
        let r = unfollow(&app, fan, fan.id, star.id).await;
        assert_eq!(r.status, 204, "{}", r.body_json());
    }
    tasks_support::run(&app.app, large_counts::NAME).await;
    assert_eq!(shown_followers(&app, &fans[1], star.id).await, 5);
    let all: Vec<UserId> = fans.iter().map(|f| f.id).collect();
    assert_eq!(active_followers(&app.app, star.id, &all).await, 5);

    // The drift fixer sees the shards: nothing to fix.
    let record = tasks_support::run(&app.app, counters::NAME).await;
    assert_eq!(record.items_fixed, 0, "{record:?}");
    let stored = profile(&app.app, star.id).await;
    assert_eq!(stored.followers(), 5);
}

async fn a_storm_on_a_large_account_converges(t: TestTable) {
    let app = Arc::new(concurrency_app_with(t, &[("LARGE_ACCOUNT_FOLLOWERS", "5")]).await);
    let star = person(&app.app, 1).await;
    let mut fans = Vec::new();
    for id in 2..=61 {
        fans.push(person(&app.app, id).await);
    }
    let mut tasks = Vec::new();
    for fan in fans.iter().cloned() {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let r = follow(&app, &fan, UserId(1)).await;
            (fan.id, r.status.as_u16(), r.body_json())
        }));
    }
    for task in tasks {
        let (fan, status, body) = task.await.expect("the request task");
        assert_eq!(status, 201, "{fan}: {body}");
    }
    // A third of them unfollow, at once.
    let mut tasks = Vec::new();
    for fan in fans.iter().step_by(3).cloned() {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let r = unfollow(&app, &fan, fan.id, UserId(1)).await;
            (fan.id, r.status.as_u16(), r.body_json())
        }));
    }
    for task in tasks {
        let (fan, status, body) = task.await.expect("the request task");
        assert_eq!(status, 204, "{fan}: {body}");
    }
    let all: Vec<UserId> = fans.iter().map(|f| f.id).collect();
    let edges = active_followers(&app.app, star.id, &all).await;
    assert_eq!(edges, 40);
    // The profile took no follow past the threshold.
    let stored = profile(&app.app, star.id).await;
    assert!(stored.large_account);
    assert!(stored.follower_count <= 5, "{}", stored.follower_count);
    assert!(large::fold(&app.app, star.id).await.unwrap().is_some());
    assert_eq!(profile(&app.app, star.id).await.followers(), edges);
    for fan in &fans {
        let (_, following) = counters(&app.app, fan.id).await;
        assert_eq!(following, i64::from(fan.id.0 % 3 != 2), "{}", fan.id);
    }
}

both_engines!(
    follows_past_the_threshold_count_in_shards,
    a_storm_on_a_large_account_converges
);
