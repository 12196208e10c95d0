//! Each criteria type evaluated on the data ingestion maintains, at its edges, on both
//! engines: thresholds exactly met and one short, AND vs OR, `!=` and `<=`, streaks across a
//! month end and a year end, a gap day, time-zone boundaries (Tokyo, Kolkata's half hour),
//! 7d/30d windows sliding out as the clock advances, event counts with quality, interaction
//! sums, and the most likes on a single post.

use crate::badges_engine;

use accounts::badges::definitions::{BadgeDefinition, BadgeId};
use accounts::badges::evaluate::evaluate_user;
use accounts::badges::stats;
use accounts::model::UserId;
use accounts::store::{Value, keys};
use api_tests::app::TestApp;
use api_tests::fixtures::{badge_points, user_in_zone};
use api_tests::{TestTable, both_engines};
use badges_engine::*;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("an RFC 3339 instant")
}

/// The names of the badges `evaluate_user` awards now, sorted.
async fn awarded_now(app: &TestApp, user: UserId, badges: &[&BadgeDefinition]) -> Vec<String> {
    let ids: Vec<BadgeId> = evaluate_user(&app.app, user).await.expect("evaluate");
    let mut names: Vec<String> = ids
        .iter()
        .map(|id| {
            badges
                .iter()
                .find(|b| b.id == *id)
                .map(|b| b.name.clone())
                .unwrap_or_else(|| format!("unknown badge {id:?}"))
        })
        .collect();
    names.sort();
    names
}

async fn counters_are_met_exactly_at_the_threshold(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = &app.app;
    let comments = badge(
        a,
        "Three comments",
        json!({"type": "counter", "field": "comments_count", "threshold": 3}),
        10,
    )
    .await;
    let posts = badge(
        a,
        "Two posts",
        json!({"type": "counter", "field": "posts_count", "threshold": 2}),
        20,
    )
    .await;
    let all = [&comments, &posts];
    let ada = user_in_zone(a, 1, "ada", "UTC").await;

    ingest_n(a, ada.id, "comment_create", 2).await;
    assert!(
        awarded_now(&app, ada.id, &all).await.is_empty(),
        "one short"
    );
    ingest_n(a, ada.id, "comment_create", 1).await;
    assert_eq!(awarded_now(&app, ada.id, &all).await, ["Three comments"]);
    assert!(
        awarded_now(&app, ada.id, &all).await.is_empty(),
        "held: not again"
    );
    assert_eq!(badge_points(a, ada.id).await, 10);

    // A deleted post counts down: 2 posts, 1 deleted is one short.
    ingest_n(a, ada.id, "post_create", 2).await;
    ingest_n(a, ada.id, "post_delete", 1).await;
    assert!(awarded_now(&app, ada.id, &all).await.is_empty());
    ingest_n(a, ada.id, "post_create", 1).await;
    assert_eq!(awarded_now(&app, ada.id, &all).await, ["Two posts"]);
    assert_eq!(badge_points(a, ada.id).await, 30);
    assert_eq!(held(a, ada.id).await.len(), 2);
}

async fn multi_criteria_and_or_and_comparisons(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = &app.app;
    let req =
        |field: &str, op: &str, value: i64| json!({"field": field, "operator": op, "value": value});
    let both = badge(
        a,
        "Both",
        json!({"type": "multi_criteria", "logic": "AND",
        "requirements": [req("posts_count", ">=", 1), req("comments_count", ">=", 1)]}),
        10,
    )
    .await;
    let either = badge(
        a,
        "Either",
        json!({"type": "multi_criteria", "logic": "OR",
        "requirements": [req("posts_count", ">=", 1), req("comments_count", ">=", 1)]}),
        10,
    )
    .await;
    let sharer = badge(
        a,
        "Sharer",
        json!({"type": "multi_criteria",
        "requirements": [req("shares_count", "!=", 0)]}),
        10,
    )
    .await;
    let early = badge(
        a,
        "Early",
        json!({"type": "multi_criteria",
        "requirements": [req("user_id", "<=", 1000)]}),
        10,
    )
    .await;
    let liker = badge(
        a,
        "Liker",
        json!({"type": "multi_criteria",
        "requirements": [req("likes_given", ">", 1), req("likes_given", "<", 3)]}),
        10,
    )
    .await;
    let all = [&both, &either, &sharer, &early, &liker];
    let early_user = user_in_zone(a, 1000, "early", "UTC").await;
    let late_user = user_in_zone(a, 1001, "late", "UTC").await;

    // `<=` holds at exactly 1000 and not at 1001; `!=` 0 does not hold at 0.
    assert_eq!(awarded_now(&app, early_user.id, &all).await, ["Early"]);
    assert!(awarded_now(&app, late_user.id, &all).await.is_empty());

    // OR is met by one requirement, AND needs both.
    ingest_n(a, late_user.id, "post_create", 1).await;
    assert_eq!(awarded_now(&app, late_user.id, &all).await, ["Either"]);
    ingest_n(a, late_user.id, "comment_create", 1).await;
    assert_eq!(awarded_now(&app, late_user.id, &all).await, ["Both"]);
    ingest_n(a, late_user.id, "share", 1).await;
    assert_eq!(awarded_now(&app, late_user.id, &all).await, ["Sharer"]);
    // `>` 1 is not met by 1; `> 1 AND < 3` by 2.
    ingest_n(a, late_user.id, "like_given", 1).await;
    assert!(awarded_now(&app, late_user.id, &all).await.is_empty());
    ingest_n(a, late_user.id, "like_given", 1).await;
    assert_eq!(awarded_now(&app, late_user.id, &all).await, ["Liker"]);
}

async fn streaks_cross_month_and_year_ends(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = &app.app;
    let poster = badge(
        a,
        "Three day poster",
        json!({"type": "consecutive_days", "action": "post", "days": 3}),
        50,
    )
    .await;
    let visitor = badge(
        a,
        "Three day visitor",
        json!({"type": "consecutive_days", "action": "login", "days": 3}),
        50,
    )
    .await;
    let all = [&poster, &visitor];
    let ada = user_in_zone(a, 1, "ada", "UTC").await;
    let bob = user_in_zone(a, 2, "bob", "UTC").await;

    // Year end: 30 and 31 December, then 1 January.
    app.clock().set(at("2026-12-30T10:00:00Z"));
    for day in 0..3 {
        if day > 0 {
            app.clock().advance(Duration::days(1));
        }
        ingest_n(a, ada.id, "post_create", 1).await;
        stats::record_login(a, ada.id).await;
        let expected: &[&str] = if day == 2 {
            &["Three day poster", "Three day visitor"]
        } else {
            &[]
        };
        assert_eq!(awarded_now(&app, ada.id, &all).await, expected, "day {day}");
    }

    // Month end: 30 and 31 January, then 1 February (posts only).
    app.clock().set(at("2027-01-30T23:59:00Z"));
    ingest_n(a, bob.id, "post_create", 1).await;
    app.clock().set(at("2027-01-31T00:00:00Z"));
    ingest_n(a, bob.id, "post_create", 1).await;
    assert!(awarded_now(&app, bob.id, &all).await.is_empty());
    app.clock().set(at("2027-02-01T12:00:00Z"));
    ingest_n(a, bob.id, "post_create", 1).await;
    assert_eq!(awarded_now(&app, bob.id, &all).await, ["Three day poster"]);
}

async fn a_gap_day_resets_the_streak(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = &app.app;
    let poster = badge(
        a,
        "Three day poster",
        json!({"type": "consecutive_days", "action": "post", "days": 3}),
        50,
    )
    .await;
    let all = [&poster];
    let ada = user_in_zone(a, 1, "ada", "UTC").await;
    app.clock().set(at("2026-05-01T09:00:00Z"));
    // 1 and 2 May, nothing on 3 May, then 4 May: the run is broken.
    ingest_n(a, ada.id, "post_create", 1).await;
    app.clock().advance(Duration::days(1));
    ingest_n(a, ada.id, "post_create", 2).await;
    app.clock().advance(Duration::days(2));
    ingest_n(a, ada.id, "post_create", 1).await;
    assert!(
        awarded_now(&app, ada.id, &all).await.is_empty(),
        "2 + gap + 1"
    );
    // Likes are not posts: 5 May with a like only does not continue the run.
    app.clock().advance(Duration::days(1));
    ingest_n(a, ada.id, "like_given", 1).await;
    assert!(awarded_now(&app, ada.id, &all).await.is_empty());
    ingest_n(a, ada.id, "post_create", 1).await;
    app.clock().advance(Duration::days(1));
    ingest_n(a, ada.id, "post_create", 1).await;
    assert_eq!(
        awarded_now(&app, ada.id, &all).await,
        ["Three day poster"],
        "4, 5, 6 May"
    );
}

async fn days_are_the_users_own_time_zone(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = &app.app;
    let poster = badge(
        a,
        "Two day poster",
        json!({"type": "consecutive_days", "action": "post", "days": 2}),
        25,
    )
    .await;
    let all = [&poster];
    let tokyo = user_in_zone(a, 1, "tokyo", "Asia/Tokyo").await;
    let utc = user_in_zone(a, 2, "utc", "UTC").await;
    let kolkata = user_in_zone(a, 3, "kolkata", "Asia/Kolkata").await;

    // 14:00 and 23:30 UTC on 10 March: one UTC day, but 23:00 on the 10th and 08:30 on the
    // 11th in Tokyo.
    app.clock().set(at("2026-03-10T14:00:00Z"));
    ingest_n(a, tokyo.id, "post_create", 1).await;
    ingest_n(a, utc.id, "post_create", 1).await;
    app.clock().set(at("2026-03-10T23:30:00Z"));
    ingest_n(a, tokyo.id, "post_create", 1).await;
    ingest_n(a, utc.id, "post_create", 1).await;
    assert_eq!(awarded_now(&app, tokyo.id, &all).await, ["Two day poster"]);
    assert!(awarded_now(&app, utc.id, &all).await.is_empty());

    // Kolkata is UTC+5:30: 18:20 UTC is 23:50 on the 10th, 18:35 UTC 00:05 on the 11th.
    app.clock().set(at("2026-03-10T18:20:00Z"));
    ingest_n(a, kolkata.id, "post_create", 1).await;
    assert!(awarded_now(&app, kolkata.id, &all).await.is_empty());
    app.clock().set(at("2026-03-10T18:35:00Z"));
    ingest_n(a, kolkata.id, "post_create", 1).await;
    assert_eq!(
        awarded_now(&app, kolkata.id, &all).await,
        ["Two day poster"]
    );
}

async fn timeframes_slide_out_as_the_clock_advances(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = &app.app;
    let week = badge(a, "Week liker", json!({"type": "social_interaction", "interactions": ["like"], "min_count": 3, "timeframe": "7d"}), 10).await;
    let month = badge(a, "Month liker", json!({"type": "social_interaction", "interactions": ["like"], "min_count": 3, "timeframe": "30d"}), 10).await;
    let all = [&week, &month];
    let (ann, ben, cat) = (
        user_in_zone(a, 1, "ann", "UTC").await,
        user_in_zone(a, 2, "ben", "UTC").await,
        user_in_zone(a, 3, "cat", "UTC").await,
    );
    app.clock().set(at("2026-06-01T12:00:00Z"));
    for u in [ann.id, ben.id, cat.id] {
        ingest_n(a, u, "like_given", 2).await;
    }
    // Six days later the first day is still inside the 7-day window.
    app.clock().advance(Duration::days(6));
    ingest_n(a, ben.id, "like_given", 1).await;
    assert_eq!(
        awarded_now(&app, ben.id, &all).await,
        ["Month liker", "Week liker"]
    );
    // Seven days later it has slid out of the week, not out of the month.
    app.clock().advance(Duration::days(1));
    ingest_n(a, ann.id, "like_given", 1).await;
    assert_eq!(awarded_now(&app, ann.id, &all).await, ["Month liker"]);
    // Thirty days later it has slid out of the month too.
    app.clock().set(at("2026-07-01T12:00:00Z"));
    ingest_n(a, cat.id, "like_given", 1).await;
    assert!(awarded_now(&app, cat.id, &all).await.is_empty());
}

async fn event_counts_with_a_quality_threshold(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = &app.app;
    let reviewer = badge(a, "Good reviewer", json!({"type": "event_based", "event_type": "review", "count": 2, "quality_threshold": 4.0}), 50).await;
    let hunter = badge(
        a,
        "Hunter",
        json!({"type": "event_based", "event_type": "bug_report_verified", "count": 1}),
        50,
    )
    .await;
    let all = [&reviewer, &hunter];
    let ada = user_in_zone(a, 1, "ada", "UTC").await;
    ingest(a, ada.id, "review_create", None, json!({"quality": 4.0})).await;
    ingest(a, ada.id, "review_create", None, json!({"quality": 3.9})).await;
    assert!(
        awarded_now(&app, ada.id, &all).await.is_empty(),
        "3.9 is below 4.0"
    );
    ingest(a, ada.id, "review_create", None, json!({"quality": 4.5})).await;
    assert_eq!(awarded_now(&app, ada.id, &all).await, ["Good reviewer"]);
    ingest_n(a, ada.id, "bug_report_verified", 1).await;
    assert_eq!(awarded_now(&app, ada.id, &all).await, ["Hunter"]);
}

async fn interactions_sum_over_all_time(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = &app.app;
    let engaged = badge(a, "Engaged", json!({"type": "social_interaction", "interactions": ["like", "comment", "share"], "min_count": 3, "timeframe": "all_time"}), 10).await;
    let all = [&engaged];
    let ada = user_in_zone(a, 1, "ada", "UTC").await;
    ingest_n(a, ada.id, "like_given", 1).await;
    app.clock().advance(Duration::days(100));
    ingest_n(a, ada.id, "comment_create", 1).await;
    // Reviews are not among the interactions named.
    ingest_n(a, ada.id, "review_create", 1).await;
    assert!(awarded_now(&app, ada.id, &all).await.is_empty());
    ingest_n(a, ada.id, "share", 1).await;
    assert_eq!(awarded_now(&app, ada.id, &all).await, ["Engaged"]);
}

async fn most_likes_on_a_single_post(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = &app.app;
    let popular = badge(
        a,
        "Popular",
        json!({"type": "counter", "field": "max_post_likes", "threshold": 3}),
        200,
    )
    .await;
    let all = [&popular];
    let author = user_in_zone(a, 1, "author", "UTC").await;
    for id in 2..=4 {
        user_in_zone(a, id, &format!("fan{id}"), "UTC").await;
    }
    let like = |fan: i64, post: &str, kind: &'static str| {
        let post = post.to_owned();
        async move {
            ingest(
                a,
                UserId(fan),
                kind,
                Some(author.id),
                json!({"post_id": post}),
            )
            .await;
        }
    };
    // Four likes over two posts: neither reaches three.
    for fan in [2, 3] {
        like(fan, "p1", "like_given").await;
        like(fan, "p2", "like_given").await;
    }
    assert!(awarded_now(&app, author.id, &all).await.is_empty());
    like(4, "p1", "like_given").await;
    assert_eq!(awarded_now(&app, author.id, &all).await, ["Popular"]);
    // Taking a like back lowers the post's count, not the record.
    like(4, "p1", "like_removed").await;
    let post = app
        .table()
        .get(&keys::post_likes(author.id, "p1"), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(post.get("likes").and_then(Value::as_i64), Some(2));
    let stats_item = app
        .table()
        .get(&keys::user_stats(author.id), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stats_item
            .get(stats::MAX_POST_LIKES)
            .and_then(Value::as_i64),
        Some(3)
    );
    // Taking back a like of a post nobody liked counts the event but never goes below zero.
    like(2, "p3", "like_removed").await;
    let untouched = app
        .table()
        .get(&keys::post_likes(author.id, "p3"), true)
        .await
        .unwrap();
    assert!(untouched.is_none(), "{untouched:?}");
    let stats_item = app
        .table()
        .get(&keys::user_stats(author.id), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stats_item
            .get("received_like_removed")
            .and_then(Value::as_i64),
        Some(2)
    );
}

async fn parallel_likes_of_one_post_keep_the_count_and_the_record(t: TestTable) {
    let table = isolated(&t);
    let app = TestApp::over(t, &[], table).await;
    let a = &app.app;
    let author = user_in_zone(a, 1, "author", "UTC").await;
    for id in 2..=9 {
        user_in_zone(a, id, &format!("fan{id}"), "UTC").await;
    }
    // Eight likes of one post at once: each ADDs to the count, none waits for another, and
    // the record follows the count each one reads after its own.
    let likes = (2..=9).map(|fan| {
        ingest(
            a,
            UserId(fan),
            "like_given",
            Some(author.id),
            json!({"post_id": "hot"}),
        )
    });
    futures::future::join_all(likes).await;
    let post = app
        .table()
        .get(&keys::post_likes(author.id, "hot"), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(post.get("likes").and_then(Value::as_i64), Some(8));
    let stats_item = app
        .table()
        .get(&keys::user_stats(author.id), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stats_item
            .get(stats::MAX_POST_LIKES)
            .and_then(Value::as_i64),
        Some(8)
    );
    assert_eq!(
        stats_item
            .get("received_like_given")
            .and_then(Value::as_i64),
        Some(8)
    );
}

both_engines!(
    parallel_likes_of_one_post_keep_the_count_and_the_record,
    counters_are_met_exactly_at_the_threshold,
    multi_criteria_and_or_and_comparisons,
    streaks_cross_month_and_year_ends,
    a_gap_day_resets_the_streak,
    days_are_the_users_own_time_zone,
    timeframes_slide_out_as_the_clock_advances,
    event_counts_with_a_quality_threshold,
    interactions_sum_over_all_time,
    most_likes_on_a_single_post,
);
