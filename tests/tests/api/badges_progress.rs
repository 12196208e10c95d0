//! `GET /api/users/{id}/badge-progress/` on both engines: the seed's shape for every criteria
//! type with the catalogue installed, milestones and percentages as data arrives (AND, OR,
//! streaks, windows, quality), earned badges leaving the list, a met badge not yet awarded,
//! who may look, and the store calls of one request.

use crate::badges_engine;

use std::collections::BTreeMap;
use std::sync::Arc;

use accounts::badges::catalogue;
use accounts::badges::evaluate::evaluate_user;
use accounts::badges::stats;
use accounts::model::UserId;
use accounts::store::counting::CountingTable;
use accounts::store::{Update, keys};
use api_tests::app::TestApp;
use api_tests::fixtures::{sign_in, user_in_zone};
use api_tests::{TestTable, both_engines};
use badges_engine::*;
use chrono::Duration;
use serde_json::{Value as Json, json};

/// Progress entries by badge name: (progress, requirements_met, total, next_milestone).
type Entries = BTreeMap<String, (i64, i64, i64, String)>;

async fn progress(app: &TestApp, access: &str, user: UserId) -> Entries {
    let response = app
        .get(&format!("/api/users/{user}/badge-progress/"))
        .bearer(access)
        .send()
        .await;
    assert_eq!(response.status, 200, "{}", response.body_json());
    let body = response.body_json();
    let entries = body["eligible_badges"].as_array().expect("eligible_badges");
    entries
        .iter()
        .map(|e| {
            let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                [
                    "badge",
                    "current_tier",
                    "next_milestone",
                    "progress",
                    "requirements_met",
                    "series",
                    "tier",
                    "total_requirements",
                ],
                "{e}"
            );
            let n = |k: &str| e[k].as_i64().unwrap_or_else(|| panic!("{k} in {e}"));
            (
                e["badge"]["name"].as_str().unwrap().to_owned(),
                (
                    n("progress"),
                    n("requirements_met"),
                    n("total_requirements"),
                    e["next_milestone"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

fn entry(progress: i64, met: i64, total: i64, milestone: &str) -> (i64, i64, i64, String) {
    (progress, met, total, milestone.to_owned())
}

async fn every_criteria_type_has_its_progress_and_milestone(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = &app.app;
    catalogue::install(a).await.expect("install");
    badge(
        a,
        "Either",
        json!({"type": "multi_criteria", "logic": "OR", "requirements": [
        {"field": "posts_count", "operator": ">=", "value": 10},
        {"field": "comments_count", "operator": ">=", "value": 200}]}),
        10,
    )
    .await;
    badge(
        a,
        "Weekly engaged",
        json!({"type": "social_interaction",
        "interactions": ["like", "comment", "share"], "min_count": 5, "timeframe": "7d"}),
        10,
    )
    .await;
    let late = user_in_zone(a, 2000, "late", "UTC").await;
    let access = sign_in(a, &late).await.access;
    // Signed in today: the day's visit counts for the login streak (its write comes with the
    // first authenticated request, which the progress reads would race).
    let me = app.get("/api/auth/me/").bearer(&access).send().await;
    assert_eq!(me.status, 200);

    let fresh = progress(&app, &access, late.id).await;
    assert_eq!(
        fresh.len(),
        19,
        "the 14, the next tier of each of 3 series, 2 of the test"
    );
    let expected = [
        ("First Post", entry(0, 0, 1, "Need 1 more post")),
        (
            "Popular Creator",
            entry(0, 0, 1, "Need 100 more likes on a single post"),
        ),
        (
            "Community Helper",
            entry(0, 0, 1, "Need 50 more helpful votes"),
        ),
        (
            "Consistent Contributor",
            entry(0, 0, 1, "Post 30 more consecutive days"),
        ),
        (
            "Expert Reviewer",
            entry(
                0,
                0,
                1,
                "Need 10 more review create events of quality 4.0 or better",
            ),
        ),
        (
            "Early Adopter",
            entry(0, 0, 1, "Only the first 1000 users qualify"),
        ),
        (
            "Social Butterfly",
            entry(0, 0, 2, "Need 50 more followed accounts"),
        ),
        ("Comment Champion", entry(0, 0, 1, "Need 500 more comments")),
        ("Like Enthusiast", entry(0, 0, 1, "Need 1000 more likes")),
        (
            "Daily Visitor",
            entry(3, 0, 1, "Log in 29 more consecutive days"),
        ),
        (
            "Beta Tester",
            entry(0, 0, 1, "Need 1 more bug report verified event"),
        ),
        (
            "Bug Hunter",
            entry(0, 0, 1, "Need 5 more verified bug reports"),
        ),
        (
            "Community Leader",
            entry(0, 0, 1, "Become a moderator or administrator"),
        ),
        (
            "Content Creator",
            entry(0, 0, 1, "Need 1000 more followers"),
        ),
        ("Either", entry(0, 0, 2, "Need 10 more posts")),
        (
            "Weekly engaged",
            entry(
                0,
                0,
                1,
                "Need 5 more likes, comments or shares in the last 7 days",
            ),
        ),
    ];
    for (name, want) in &expected {
        assert_eq!(fresh.get(*name), Some(want), "{name}");
    }

    // Data arrives: counters (as their owners' transactions leave them), logins, reviews.
    a.table
        .update(
            &keys::user_stats(late.id),
            Update::new().set("comment_create", 125),
            None,
        )
        .await
        .unwrap();
    a.table
        .update(
            &keys::user(late.id),
            Update::new()
                .set("following_count", 50)
                .set("follower_count", 40),
            None,
        )
        .await
        .unwrap();
    stats::record_login(a, late.id).await;
    app.clock().advance(Duration::days(1));
    stats::record_login(a, late.id).await;
    for _ in 0..3 {
        ingest(a, late.id, "review_create", None, json!({"quality": 4.5})).await;
    }
    ingest(a, late.id, "like_given", None, json!({})).await;
    ingest(a, late.id, "share", None, json!({})).await;

    // A day later the morning's token has expired.
    let access = sign_in(a, &late).await.access;
    let later = progress(&app, &access, late.id).await;
    let expected = [
        (
            "Comment Champion",
            entry(25, 0, 1, "Need 375 more comments"),
        ),
        // AND averages: following 50/50 met, followers 40/100.
        (
            "Social Butterfly",
            entry(70, 1, 2, "Need 60 more followers"),
        ),
        (
            "Daily Visitor",
            entry(6, 0, 1, "Log in 28 more consecutive days"),
        ),
        (
            "Expert Reviewer",
            entry(
                30,
                0,
                1,
                "Need 7 more review create events of quality 4.0 or better",
            ),
        ),
        // OR takes the closest requirement: comments 125/200.
        ("Either", entry(62, 0, 2, "Need 75 more comments")),
        (
            "Weekly engaged",
            entry(
                40,
                0,
                1,
                "Need 3 more likes, comments or shares in the last 7 days",
            ),
        ),
    ];
    for (name, want) in &expected {
        assert_eq!(later.get(*name), Some(want), "{name}");
    }

    // An earned badge leaves the list.
    ingest(a, late.id, "post_create", None, json!({})).await;
    evaluate_user(a, late.id).await.expect("evaluate");
    let earned = progress(&app, &access, late.id).await;
    assert!(!earned.contains_key("First Post"));
    assert_eq!(earned.len(), 18);
}

async fn a_met_badge_not_yet_awarded_is_at_100(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = &app.app;
    catalogue::install(a).await.expect("install");
    let early = user_in_zone(a, 5, "early", "UTC").await;
    let access = sign_in(a, &early).await.access;
    let entries = progress(&app, &access, early.id).await;
    assert_eq!(
        entries["Early Adopter"],
        entry(
            100,
            1,
            1,
            "All requirements met: the badge is awarded at the next evaluation"
        )
    );
    evaluate_user(a, early.id).await.expect("evaluate");
    assert!(
        !progress(&app, &access, early.id)
            .await
            .contains_key("Early Adopter")
    );
}

async fn only_the_user_and_staff_see_progress(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = &app.app;
    catalogue::install(a).await.expect("install");
    let ada = user_in_zone(a, 1, "ada", "UTC").await;
    let bob = user_in_zone(a, 2, "bob", "UTC").await;
    let moderator = user_in_zone(a, 3, "mod", "UTC").await;
    a.table
        .update(
            &keys::user(moderator.id),
            Update::new().set("role", "moderator"),
            None,
        )
        .await
        .unwrap();
    let ada_access = sign_in(a, &ada).await.access;
    let bob_access = sign_in(a, &bob).await.access;
    let mod_access = sign_in(a, &moderator).await.access;
    let path = format!("/api/users/{}/badge-progress/", ada.id);

    let status = |r: accounts::http::ApiResponse| (r.status.as_u16(), r.body_json());
    assert_eq!(
        status(app.get(&path).bearer(&ada_access).send().await).0,
        200
    );
    assert_eq!(
        status(app.get(&path).bearer(&mod_access).send().await).0,
        200
    );
    assert_eq!(
        status(app.get(&path).bearer(&bob_access).send().await),
        (
            403,
            json!({"detail": "You may only see your own badge progress."})
        )
    );
    assert_eq!(status(app.get(&path).send().await).0, 401);
    let missing = app
        .get("/api/users/999/badge-progress/")
        .bearer(&mod_access)
        .send()
        .await;
    assert_eq!(missing.status, 404);
    let junk = app
        .get("/api/users/abc/badge-progress/")
        .bearer(&mod_access)
        .send()
        .await;
    assert_eq!(junk.status, 404);
}

async fn store_calls_of_a_progress_request(t: TestTable) {
    let counting = Arc::new(CountingTable::new(t.table()));
    let app = TestApp::over(t, &[], counting.clone()).await;
    let a = &app.app;
    catalogue::install(a).await.expect("install");
    let ada = user_in_zone(a, 2000, "ada", "UTC").await;
    let bob = user_in_zone(a, 2001, "bob", "UTC").await;
    let access = sign_in(a, &ada).await.access;
    let own = format!("/api/users/{}/badge-progress/", ada.id);
    let other = format!("/api/users/{}/badge-progress/", bob.id);
    // Warm up (the session's first use may write; the active definitions are cached), then
    // the authentication alone.
    app.get(&own).bearer(&access).send().await;
    counting.reset();
    assert_eq!(
        app.get("/api/auth/me/").bearer(&access).send().await.status,
        200
    );
    let auth = counting.take().calls;
    assert_eq!(app.get(&other).bearer(&access).send().await.status, 403);
    counting.reset();
    let response = app.get(&own).bearer(&access).send().await;
    assert_eq!(response.status, 200);
    let body: Json = response.body_json();
    // The seed's 14 and the next tier of each of the 3 tiered series.
    assert_eq!(body["eligible_badges"].as_array().unwrap().len(), 17);
    let calls = counting.take().calls;
    println!("progress with 17 pending: {calls:?}; auth alone: {auth:?}");
    assert_eq!(
        (
            calls.query - auth.query,
            calls.batch_get - auth.batch_get,
            calls.get - auth.get,
            calls.writes() - auth.writes()
        ),
        (1, 2, 0, 0),
        "day items (the active badges are cached); one batch get of profile, stats, settings and score, one of the badges' holder counts"
    );
}

both_engines!(
    every_criteria_type_has_its_progress_and_milestone,
    a_met_badge_not_yet_awarded_is_at_100,
    only_the_user_and_staff_see_progress,
    store_calls_of_a_progress_request,
);
