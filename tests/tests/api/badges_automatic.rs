//! Automatic awards on both engines: follows through the API, content events through
//! `POST /api/events/` with an administrator's API token and through the `badge-events`
//! function (`triggers::handle_domain_event` with an EventBridge envelope), logins, the chain
//! of badge points, duplicate, reordered and 50 parallel deliveries awarding once, the daily
//! sweep's catch-up, `install-badges` twice, and the store calls of one event's evaluation.

use crate::badges_engine;

use std::sync::Arc;

use accounts::badges::catalogue;
use accounts::badges::criteria::parse_criteria;
use accounts::badges::definitions;
use accounts::badges::evaluate::{evaluate_for_event, evaluate_user};
use accounts::bus::DomainEvent;
use accounts::model::UserId;
use accounts::store::counting::CountingTable;
use accounts::store::{Update, keys};
use accounts::triggers::handle_domain_event;
use api_tests::app::TestApp;
use api_tests::fixtures::{NewAccount, badge_points, client, jwt_login, sign_in, user_in_zone};
use api_tests::{TestTable, both_engines};
use badges_engine::*;
use chrono::{Duration, SecondsFormat};
use futures::future::join_all;
use serde_json::json;

fn now_text(app: &TestApp) -> String {
    app.app
        .clock
        .now()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn follow(app: &TestApp, access: &str, whom: UserId) {
    let response = app
        .post("/api/follows/")
        .bearer(access)
        .json(json!({ "following": whom }))
        .send()
        .await;
    assert_eq!(response.status, 201, "follow: {}", response.body_json());
}

async fn follows_through_the_api_award_both_ends(t: TestTable) {
    let app = evaluating_app(t).await;
    let a = &app.app;
    let followed = badge(
        a,
        "First follower",
        json!({"type": "counter", "field": "follower_count", "threshold": 1}),
        10,
    )
    .await;
    let follows = badge(
        a,
        "First follow",
        json!({"type": "counter", "field": "following_count", "threshold": 1}),
        15,
    )
    .await;
    let weekly = badge(a, "Weekly follower", json!({"type": "social_interaction", "interactions": ["follow"], "min_count": 2, "timeframe": "7d"}), 20).await;
    let ada = user_in_zone(a, 1, "ada", "UTC").await;
    let bob = user_in_zone(a, 2, "bob", "UTC").await;
    let cat = user_in_zone(a, 3, "cat", "UTC").await;
    let ada_access = sign_in(a, &ada).await.access;

    follow(&app, &ada_access, bob.id).await;
    assert_eq!(held(a, bob.id).await, [followed.id]);
    assert_eq!(held(a, ada.id).await, [follows.id]);
    assert_eq!(badge_points(a, bob.id).await, 10);

    // Following the same account again (after an unfollow) is one account followed this week.
    let unfollow = app
        .delete(&format!("/api/follows/{}-{}/", ada.id, bob.id))
        .bearer(&ada_access)
        .send()
        .await;
    assert_eq!(unfollow.status, 204, "{}", unfollow.body_json());
    follow(&app, &ada_access, bob.id).await;
    assert_eq!(held(a, ada.id).await, [follows.id]);
    follow(&app, &ada_access, cat.id).await;
    assert_eq!(held(a, ada.id).await, [follows.id, weekly.id]);
    assert_eq!(badge_points(a, ada.id).await, 35);
}

async fn content_events_from_a_service_token_award(t: TestTable) {
    let app = evaluating_app(t).await;
    let a = &app.app;
    let first = badge(
        a,
        "First Post",
        json!({"type": "counter", "field": "posts_count", "threshold": 1}),
        10,
    )
    .await;
    let admin = user_in_zone(a, 1, "service", "UTC").await;
    a.table
        .update(
            &keys::user(admin.id),
            Update::new().set("role", "admin"),
            None,
        )
        .await
        .unwrap();
    let lena = user_in_zone(a, 2, "lena", "UTC").await;
    let access = sign_in(a, &admin).await.access;
    let token = app
        .post("/api/auth/tokens/")
        .bearer(&access)
        .json(json!({"name": "content service"}))
        .send()
        .await;
    assert_eq!(token.status, 201, "{}", token.body_json());
    let key = token.body_json()["key"].as_str().unwrap().to_owned();

    let logged = app
        .post("/api/events/")
        .api_token(&key)
        .json(json!({"event_type": "post_create", "user": lena.id, "metadata": {"post_id": "p1"}}))
        .send()
        .await;
    assert_eq!(logged.status, 201, "{}", logged.body_json());
    assert_eq!(held(a, lena.id).await, [first.id]);
    assert_eq!(badge_points(a, lena.id).await, 10);
}

async fn content_events_through_the_badge_events_function(t: TestTable) {
    // No bus evaluator: the function evaluates by itself, as in Lambda.
    let app = TestApp::new(t).await;
    let a = &app.app;
    let first = badge(
        a,
        "First Post",
        json!({"type": "counter", "field": "posts_count", "threshold": 1}),
        10,
    )
    .await;
    let lena = user_in_zone(a, 2, "lena", "UTC").await;
    let detail = json!({"event_type": "post_create", "user": lena.id});
    let event = envelope(
        "evt-1",
        "platform.content",
        "PostCreated",
        detail,
        &now_text(&app),
    );

    let answer = handle_domain_event(a, event.clone())
        .await
        .expect("delivered");
    assert_eq!(answer["duplicate"], false);
    assert_eq!(
        answer["awarded"],
        json!([{"user": lena.id, "badge": first.id}])
    );
    // A redelivery is not counted again and awards nothing.
    let again = handle_domain_event(a, event).await.expect("redelivered");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["awarded"], json!([]));
    assert_eq!(held(a, lena.id).await, [first.id]);
    assert_eq!(badge_points(a, lena.id).await, 10);
}

async fn reordered_and_repeated_follow_events_award_once(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = &app.app;
    let popular = badge(
        a,
        "Two followers",
        json!({"type": "counter", "field": "follower_count", "threshold": 2}),
        10,
    )
    .await;
    let bob = user_in_zone(a, 2, "bob", "UTC").await;
    // The social transaction moved the counter; its events arrive late and out of order.
    a.table
        .update(
            &keys::user(bob.id),
            Update::new().set("follower_count", 2),
            None,
        )
        .await
        .unwrap();
    let second = envelope(
        "f-2",
        "accounts",
        "UserFollowed",
        json!({"follower": 4, "followed": 2}),
        &now_text(&app),
    );
    let first = envelope(
        "f-1",
        "accounts",
        "UserFollowed",
        json!({"follower": 3, "followed": 2}),
        &now_text(&app),
    );
    let answer = handle_domain_event(a, second.clone()).await.unwrap();
    assert_eq!(answer["awarded"], json!([{"user": 2, "badge": popular.id}]));
    for late in [first, second] {
        let answer = handle_domain_event(a, late).await.unwrap();
        assert_eq!(answer["awarded"], json!([]));
    }
    assert_eq!(held(a, bob.id).await, [popular.id]);
    assert_eq!(badge_points(a, bob.id).await, 10);
}

async fn fifty_parallel_deliveries_award_once(t: TestTable) {
    let table = isolated(&t);
    let app = TestApp::over(t, &[("BADGES_EVALUATE_ON_BUS", "true")], table).await;
    let a = &app.app;
    let first = badge(
        a,
        "First Post",
        json!({"type": "counter", "field": "posts_count", "threshold": 1}),
        10,
    )
    .await;
    // Earned through the BadgeEarned event of the first award.
    let collector = badge(
        a,
        "Collector",
        json!({"type": "counter", "field": "badge_points", "threshold": 10}),
        25,
    )
    .await;
    let lena = user_in_zone(a, 2, "lena", "UTC").await;
    let detail = json!({"event_type": "post_create", "user": lena.id});
    let event = envelope(
        "evt-50",
        "platform.content",
        "PostCreated",
        detail,
        &now_text(&app),
    );
    let deliveries = (0..50).map(|_| handle_domain_event(a, event.clone()));
    for answer in join_all(deliveries).await {
        answer.expect("every delivery succeeds");
    }
    let mut got = held(a, lena.id).await;
    got.sort();
    assert_eq!(got, [first.id, collector.id]);
    assert_eq!(badge_points(a, lena.id).await, 35, "10 + 25, each once");
    let profile = a
        .table
        .get(&keys::user(lena.id), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(profile["posts_count"].as_i64(), Some(1), "counted once");

    // The same for an event of this service evaluated 50 times at once.
    let bob = user_in_zone(a, 3, "bob", "UTC").await;
    let followers = badge(
        a,
        "Followed",
        json!({"type": "counter", "field": "follower_count", "threshold": 1}),
        50,
    )
    .await;
    a.table
        .update(
            &keys::user(bob.id),
            Update::new().set("follower_count", 1),
            None,
        )
        .await
        .unwrap();
    let followed = DomainEvent::new(
        "UserFollowed",
        json!({"follower": 2, "followed": 3}),
        a.clock.now(),
    );
    let evaluations = (0..50).map(|_| evaluate_for_event(a, &followed));
    let awarded: usize = join_all(evaluations)
        .await
        .into_iter()
        .map(|r| {
            r.expect("evaluated")
                .iter()
                .filter(|(u, _)| *u == bob.id)
                .count()
        })
        .sum();
    assert_eq!(awarded, 1, "exactly one evaluation awarded");
    let mut got = held(a, bob.id).await;
    got.sort();
    assert_eq!(
        got,
        [collector.id, followers.id],
        "Collector through BadgeEarned"
    );
    assert_eq!(badge_points(a, bob.id).await, 75, "50 + 25, each once");
}

async fn logins_reach_the_evaluator(t: TestTable) {
    let app = evaluating_app(t).await;
    let a = &app.app;
    catalogue::install(a).await.expect("install");
    let streak = badge(
        a,
        "Two day visitor",
        json!({"type": "consecutive_days", "action": "login", "days": 2}),
        10,
    )
    .await;
    let vera = NewAccount::new("vera").client(client()).create(a).await;
    let login = || jwt_login(&app, "vera");
    let early = definitions::find_by_name(a, "Early Adopter")
        .await
        .unwrap()
        .unwrap();
    let leader = definitions::find_by_name(a, "Community Leader")
        .await
        .unwrap()
        .unwrap();

    login().await;
    assert_eq!(
        held(a, vera.id).await,
        [early.id],
        "one of the first 1000 users"
    );
    app.clock().advance(Duration::days(1));
    login().await;
    let mut got = held(a, vera.id).await;
    got.sort();
    assert_eq!(got, [early.id, streak.id]);

    // A new role is noticed at the next login.
    a.table
        .update(
            &keys::user(vera.id),
            Update::new().set("role", "moderator"),
            None,
        )
        .await
        .unwrap();
    login().await;
    assert!(held(a, vera.id).await.contains(&leader.id));
}

async fn the_daily_sweep_catches_up(t: TestTable) {
    // No evaluator on the bus: nothing is awarded until the sweep's step for the user.
    let app = TestApp::new(t).await;
    let a = &app.app;
    let first = badge(
        a,
        "First Post",
        json!({"type": "counter", "field": "posts_count", "threshold": 1}),
        10,
    )
    .await;
    let lena = user_in_zone(a, 2, "lena", "UTC").await;
    ingest_n(a, lena.id, "post_create", 1).await;
    assert!(held(a, lena.id).await.is_empty());
    assert_eq!(evaluate_user(a, lena.id).await.unwrap(), [first.id]);
    assert_eq!(evaluate_user(a, lena.id).await.unwrap(), []);
    assert_eq!(held(a, lena.id).await, [first.id]);
}

async fn install_badges_twice_installs_fourteen_once(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = &app.app;
    let first = catalogue::install(a).await.expect("first install");
    // The seed's 14 and the 10 tiers of the three tiered series.
    assert_eq!(first.created.len(), 24, "{first:?}");
    assert!(first.existing.is_empty());
    // An administrator's change survives a second install: the description, the colour and
    // the activity of one badge are changed, and the install must not put them back.
    let installed = definitions::find_by_name(a, "beta tester")
        .await
        .unwrap()
        .unwrap();
    let changes = definitions::BadgeChanges {
        description: Some("Tested the platform before it opened, locally rewritten.".into()),
        color: Some("#123456".into()),
        is_active: Some(false),
        ..Default::default()
    };
    let beta = definitions::update(a, accounts::access::Admin::SYSTEM, installed.id, changes)
        .await
        .expect("an administrator's change");
    assert_ne!(beta.description, installed.description);
    let second = catalogue::install(a).await.expect("second install");
    assert!(second.created.is_empty(), "{second:?}");
    assert_eq!(second.existing.len(), 24);
    let all = definitions::list_all(a).await.unwrap();
    assert_eq!(all.len(), 24);
    assert_eq!(
        definitions::find_by_name(a, "Beta Tester")
            .await
            .unwrap()
            .unwrap(),
        beta,
        "the reinstall kept the administrator's description, colour and inactivity"
    );
    let mut names: Vec<&str> = all.iter().map(|b| b.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "Beta Tester",
            "Bug Hunter",
            "Comment Champion",
            "Community Helper",
            "Community Leader",
            "Consistent Contributor",
            "Content Creator",
            "Content Creator: Bronze",
            "Content Creator: Gold",
            "Content Creator: Silver",
            "Daily Visitor",
            "Daily Visitor: Bronze",
            "Daily Visitor: Gold",
            "Daily Visitor: Silver",
            "Early Adopter",
            "Expert Reviewer",
            "First Post",
            "Like Enthusiast",
            "Like Enthusiast: Bronze",
            "Like Enthusiast: Gold",
            "Like Enthusiast: Platinum",
            "Like Enthusiast: Silver",
            "Popular Creator",
            "Social Butterfly",
        ]
    );
    for b in &all {
        // What is stored validates as a document an administrator would send.
        assert_eq!(
            parse_criteria(&b.criteria.to_json()).unwrap(),
            b.criteria,
            "{}",
            b.name
        );
        let (low, high) = b.rarity.points_band();
        assert!((low..=high).contains(&b.points), "{}", b.name);
    }
}

async fn store_calls_of_evaluating_one_event(t: TestTable) {
    let counting = Arc::new(CountingTable::new(t.table()));
    let app = TestApp::over(t, &[], counting.clone()).await;
    let a = &app.app;
    catalogue::install(a).await.expect("install");
    // Past the first 1000 users, so that no event here awards anything (Early Adopter).
    user_in_zone(a, 5001, "ada", "UTC").await;
    user_in_zone(a, 5002, "bob", "UTC").await;
    let events = [
        ("UserFollowed", json!({"follower": 5001, "followed": 5002})),
        (
            "ActivityCounted",
            json!({"user_id": 5001, "event_type": "post_create"}),
        ),
        (
            "ActivityCounted",
            json!({"user_id": 5001, "event_type": "like_given", "target_user": 5002}),
        ),
        ("UserLoggedIn", json!({"user_id": 5001})),
        ("ProfileUpdated", json!({"user_id": 5001})),
    ];
    let mut measured = Vec::new();
    for (detail_type, detail) in events {
        let event = DomainEvent::new(detail_type, detail, a.clock.now());
        counting.reset();
        evaluate_for_event(a, &event).await.expect("evaluated");
        let calls = counting.take().calls;
        println!("evaluate {detail_type}: {calls:?}");
        measured.push((calls.query, calls.batch_get, calls.writes()));
    }
    assert_eq!(
        measured,
        [
            // Active badges (then kept by the process: `ActiveCache`), one snapshot per user
            // (no day items), the follow mark.
            (1, 2, 1),
            // The snapshot and the day items (Consistent Contributor).
            (1, 1, 0),
            // The liker's snapshot with days (Like Enthusiast is all-time: none), the
            // author's (Popular Creator).
            (0, 2, 0),
            // The snapshot and the day items (Daily Visitor).
            (1, 1, 0),
            // Nothing a criterion reads: no call at all.
            (0, 0, 0),
        ]
    );
}

both_engines!(
    follows_through_the_api_award_both_ends,
    content_events_from_a_service_token_award,
    content_events_through_the_badge_events_function,
    reordered_and_repeated_follow_events_award_once,
    fifty_parallel_deliveries_award_once,
    logins_reach_the_evaluator,
    the_daily_sweep_catches_up,
    install_badges_twice_installs_fourteen_once,
    store_calls_of_evaluating_one_event,
);
