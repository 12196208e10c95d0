//! The leaderboard and the analytics through the HTTP API, on both engines: order by points,
//! then badge count, then id; `recent_badges`; the 30-day board as the clock moves; blocked
//! users left out; the analytics numbers after a known sequence of writes.

use crate::badges_core_support;

use std::sync::Arc;

use accounts::model::UserId;
use accounts::store::Table;
use accounts::store::counting::CountingTable;
use api_tests::app::TestApp;
use api_tests::fixtures::{Person, admin, person, stored_user, token_for};
use api_tests::{TestTable, both_engines};
use badges_core_support::*;
use serde_json::{Value as Json, json};

fn rows(board: &Json) -> Vec<(i64, i64, i64)> {
    board["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["user"]["id"].as_i64().unwrap(),
                r["badge_points"].as_i64().unwrap(),
                r["total_badges"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Points first, then badge count, then the lower user id; ranks count from 1.
async fn order_and_ties(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let b10 = common_badge(&app, &root, "Ten", 10).await;
    let b15 = common_badge(&app, &root, "Fifteen", 15).await;
    let b25 = common_badge(&app, &root, "TwentyFive", 25).await;
    let b25b = common_badge(&app, &root, "TwentyFive B", 25).await;
    let b60 = create_badge(&app, &root, badge_body("Sixty", "rare", 60)).await;
    let viewer = person(&app.app, 9).await;
    for id in 2..=5 {
        person(&app.app, id).await;
    }
    // user 2: 25 + 25 = 50 with 2 badges; user 3: 10 + 15 + 25 = 50 with 3;
    // user 4: 60 with 1; user 5: 25 + 25 = 50 with 2 (ties with 2, higher id).
    for (user, badges) in [
        (2, vec![b25, b25b]),
        (3, vec![b10, b15, b25]),
        (4, vec![b60]),
        (5, vec![b25b, b25]),
    ] {
        for badge in badges {
            award_ok(&app, &root, UserId(user), badge).await;
        }
    }
    let board = get_json(&app, &viewer, "/api/badges/leaderboard/", 200).await;
    assert_eq!(board["timeframe"], "all_time");
    assert_eq!(
        rows(&board),
        [(4, 60, 1), (3, 50, 3), (2, 50, 2), (5, 50, 2)]
    );
    let ranks: Vec<i64> = board["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rank"].as_i64().unwrap())
        .collect();
    assert_eq!(ranks, [1, 2, 3, 4]);
    assert_eq!(board["results"][0]["recent_badges"], 1);
    assert_eq!(board["results"][0]["user"]["username"], "user4");
    // A revoke moves the user down at once.
    let response = app
        .delete(&format!("/api/user-badges/4-{b60}/"))
        .bearer(&root.token)
        .send()
        .await;
    assert_eq!(response.status, 204);
    let board = get_json(&app, &viewer, "/api/badges/leaderboard/", 200).await;
    assert_eq!(rows(&board), [(3, 50, 3), (2, 50, 2), (5, 50, 2)]);
    get_json(
        &app,
        &viewer,
        "/api/badges/leaderboard/?timeframe=forever",
        400,
    )
    .await;
    assert_eq!(app.get("/api/badges/leaderboard/").send().await.status, 401);
}

/// Only the top 50 are listed.
async fn top_fifty(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let badge = common_badge(&app, &root, "Everyone", 10).await;
    let bonus = common_badge(&app, &root, "Bonus", 20).await;
    for id in 2..=53 {
        // Straight to the store, without a session: the board needs only the profiles.
        stored_user(&app.app, id, &format!("user{id}"), true).await;
        award_ok(&app, &root, UserId(id), badge).await;
    }
    award_ok(&app, &root, UserId(53), bonus).await;
    let board = get_json(&app, &root, "/api/badges/leaderboard/", 200).await;
    let listed = rows(&board);
    assert_eq!(listed.len(), 50);
    assert_eq!(listed[0], (53, 30, 2));
    assert_eq!(listed[1].0, 2);
    assert_eq!(listed[49].0, 50);
}

/// The board reads each shard for about twice its share of the top; a shard that holds more of
/// the top than that (here every leader is a multiple of 16, so all on one shard) is read on
/// until the top is complete.
async fn one_shard_holds_the_top(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let big = common_badge(&app, &root, "Big", 20).await;
    let small = common_badge(&app, &root, "Small", 10).await;
    for k in 1..=60 {
        let id = 16 * k;
        stored_user(&app.app, id, &format!("user{id}"), true).await;
        award_ok(&app, &root, UserId(id), big).await;
    }
    for id in 2..=11 {
        stored_user(&app.app, id, &format!("user{id}"), true).await;
        award_ok(&app, &root, UserId(id), small).await;
    }
    let board = get_json(&app, &root, "/api/badges/leaderboard/", 200).await;
    let listed: Vec<i64> = rows(&board).into_iter().map(|(id, _, _)| id).collect();
    let expected: Vec<i64> = (1..=50).map(|k| 16 * k).collect();
    assert_eq!(listed, expected);
}

/// The 30-day board counts only awards of the last 30 days; `recent_badges` on the all-time
/// board slides the same way.
async fn thirty_days_slide(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let old = create_badge(&app, &root, badge_body("Old", "epic", 300)).await;
    let new = common_badge(&app, &root, "New", 20).await;
    person(&app.app, 2).await;
    person(&app.app, 3).await;
    award_ok(&app, &root, UserId(2), old).await;
    app.clock().advance(chrono::Duration::days(20));
    let token = token_for(&app.app, root.id).await;
    let root = Person { token, ..root };
    award_ok(&app, &root, UserId(3), new).await;

    let window = get_json(&app, &root, "/api/badges/leaderboard/?timeframe=30d", 200).await;
    assert_eq!(window["timeframe"], "30d");
    assert_eq!(window["complete"], true);
    assert_eq!(rows(&window), [(2, 300, 1), (3, 20, 1)]);

    // Eleven days on, user 2's award is 31 days old.
    app.clock().advance(chrono::Duration::days(11));
    let token = token_for(&app.app, root.id).await;
    let root = Person { token, ..root };
    let window = get_json(&app, &root, "/api/badges/leaderboard/?timeframe=30d", 200).await;
    assert_eq!(rows(&window), [(3, 20, 1)]);
    assert_eq!(window["results"][0]["recent_badges"], 1);
    let all = get_json(
        &app,
        &root,
        "/api/badges/leaderboard/?timeframe=all_time",
        200,
    )
    .await;
    assert_eq!(rows(&all), [(2, 300, 1), (3, 20, 1)]);
    assert_eq!(all["results"][0]["recent_badges"], 0);
    assert_eq!(all["results"][1]["recent_badges"], 1);
    // A revoked award leaves the window too.
    let response = app
        .delete(&format!("/api/user-badges/3-{new}/"))
        .bearer(&root.token)
        .send()
        .await;
    assert_eq!(response.status, 204);
    let window = get_json(&app, &root, "/api/badges/leaderboard/?timeframe=30d", 200).await;
    assert_eq!(rows(&window), []);
}

/// Users blocked either way are not on the viewer's board.
async fn blocked_users_are_left_out(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let badge = common_badge(&app, &root, "Any", 10).await;
    let viewer = person(&app.app, 2).await;
    let blocker = person(&app.app, 3).await;
    person(&app.app, 4).await;
    person(&app.app, 5).await;
    for id in 2..=5 {
        award_ok(&app, &root, UserId(id), badge).await;
    }
    let response = app
        .post("/api/blocks/")
        .bearer(&blocker.token)
        .json(json!({"blocked": 2}))
        .send()
        .await;
    assert_eq!(response.status, 201);
    let response = app
        .post("/api/blocks/")
        .bearer(&viewer.token)
        .json(json!({"blocked": 4}))
        .send()
        .await;
    assert_eq!(response.status, 201);
    let board = get_json(&app, &viewer, "/api/badges/leaderboard/", 200).await;
    let users: Vec<i64> = rows(&board).iter().map(|r| r.0).collect();
    assert_eq!(users, [2, 5]);
    let board = get_json(&app, &root, "/api/badges/leaderboard/", 200).await;
    assert_eq!(rows(&board).len(), 4);
}

/// The analytics numbers after a known sequence, and admins only.
async fn analytics_after_a_known_sequence(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let user = person(&app.app, 2).await;
    person(&app.app, 3).await;
    person(&app.app, 4).await;
    let a = common_badge(&app, &root, "A", 10).await;
    let mut body = badge_body("B", "rare", 50);
    body["category"] = json!("activity");
    let b = create_badge(&app, &root, body).await;
    let mut body = badge_body("C", "legendary", 500);
    body["category"] = json!("special");
    body["is_active"] = json!(false);
    create_badge(&app, &root, body).await;
    let mut body = badge_body("D", "epic", 150);
    body["category"] = json!("special");
    let d = create_badge(&app, &root, body).await;

    award_ok(&app, &root, UserId(2), a).await;
    app.clock().advance(chrono::Duration::seconds(1));
    award_ok(&app, &root, UserId(2), b).await;
    app.clock().advance(chrono::Duration::seconds(1));
    award_ok(&app, &root, UserId(3), a).await;
    app.clock().advance(chrono::Duration::seconds(1));
    award_ok(&app, &root, UserId(4), a).await;
    app.clock().advance(chrono::Duration::seconds(1));
    award_ok(&app, &root, UserId(4), d).await;
    let response = app
        .delete(&format!("/api/user-badges/4-{d}/"))
        .bearer(&root.token)
        .send()
        .await;
    assert_eq!(response.status, 204);
    // Moving a definition between categories and deactivating it move the aggregates.
    let response = app
        .patch(&format!("/api/badges/{d}/"))
        .bearer(&root.token)
        .json(json!({"category": "achievement", "is_active": false}))
        .send()
        .await;
    assert_eq!(response.status, 200);

    let stats = analytics(&app, &root).await;
    assert_eq!(stats["total_badges_defined"], 4);
    assert_eq!(stats["active_badges"], 2);
    assert_eq!(stats["total_awards"], 4);
    assert_eq!(stats["unique_badge_holders"], 3);
    assert_eq!(
        stats["badges_by_category"],
        json!([
            {"category": "achievement", "count": 2},
            {"category": "activity", "count": 1},
            {"category": "special", "count": 1},
        ])
    );
    assert_eq!(
        stats["rarity_distribution"],
        json!([
            {"rarity": "common", "count": 1},
            {"rarity": "rare", "count": 1},
            {"rarity": "epic", "count": 1},
            {"rarity": "legendary", "count": 1},
        ])
    );
    assert_eq!(
        stats["popular_badges"],
        json!([
            {"badge_id": a, "badge__name": "A", "name": "A", "earned_count": 3},
            {"badge_id": b, "badge__name": "B", "name": "B", "earned_count": 1},
        ])
    );
    let recent: Vec<(i64, String)> = stats["recent_awards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["user"]["id"].as_i64().unwrap(),
                r["badge"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        recent,
        [
            (4, "A".to_owned()),
            (3, "A".to_owned()),
            (2, "B".to_owned()),
            (2, "A".to_owned())
        ]
    );
    assert_eq!(stats["recent_awards"][0]["user"]["username"], "user4");
    get_json(&app, &user, "/api/badges/analytics/", 403).await;
    assert_eq!(app.get("/api/badges/analytics/").send().await.status, 401);
}

/// Store calls of an award, a leaderboard read and an analytics read (printed with
/// `--nocapture`; `docs/benchmarks.md` lists them). Authentication (JWT: session and profile)
/// is included; the first request of each session is made before counting.
async fn store_calls(t: TestTable) {
    let counting = Arc::new(CountingTable::new(t.table()));
    let inner: Arc<dyn Table> = counting.clone();
    let app = TestApp::over(t, &[], inner).await;
    let root = admin(&app.app, 1).await;
    let viewer = person(&app.app, 2).await;
    let a = common_badge(&app, &root, "A", 10).await;
    let b = common_badge(&app, &root, "B", 20).await;
    for id in 3..=12 {
        person(&app.app, id).await;
        award_ok(&app, &root, UserId(id), a).await;
    }
    get_json(&app, &viewer, "/api/badges/", 200).await;
    let measure = |label: &str| {
        let calls = counting.take().calls;
        println!("{label}: {calls:?}");
        calls
    };
    counting.reset();

    award_ok(&app, &root, UserId(3), b).await;
    let c = measure("POST /api/user-badges/");
    // Auth 2 gets; definition, user and score in one batch read (beside the authentication:
    // `http::auth::caller_with`); the award transaction; the event put.
    assert_eq!(
        (c.get, c.batch_get, c.transact_write, c.put),
        (2, 1, 1, 1),
        "{c:?}"
    );

    get_json(&app, &viewer, "/api/badges/leaderboard/", 200).await;
    let c = measure("GET /api/badges/leaderboard/");
    // Auth 2 gets; the viewer's blocks both ways (2 queries), the board (its 16 shards, queried
    // at the same time: `docs/scale.md`), profiles.
    assert_eq!(
        (c.get, c.query, c.batch_get, c.writes()),
        (2, 18, 1, 0),
        "{c:?}"
    );

    get_json(&app, &viewer, "/api/badges/leaderboard/?timeframe=30d", 200).await;
    let c = measure("GET /api/badges/leaderboard/?timeframe=30d");
    assert_eq!(
        (c.get, c.query, c.batch_get, c.writes()),
        (2, 18, 1, 0),
        "{c:?}"
    );

    get_json(&app, &root, "/api/badges/analytics/", 200).await;
    let c = measure("GET /api/badges/analytics/");
    // Auth 2 gets; the aggregates' shards (1 batch_get), definitions (1 query, then their
    // holder counts: 1 batch_get) and the newest awards of each of the 16 shards (at the same
    // time), users (1 batch_get).
    assert_eq!(
        (c.get, c.query, c.batch_get, c.writes()),
        (2, 17, 3, 0),
        "{c:?}"
    );

    get_json(&app, &viewer, "/api/user-badges/?user=3", 200).await;
    let c = measure("GET /api/user-badges/?user=3");
    // Auth 2 gets; visibility (the user, both block edges); the page; the score; definitions.
    assert_eq!(
        (c.get, c.query, c.batch_get, c.writes()),
        (4, 1, 2, 0),
        "{c:?}"
    );
}

both_engines!(
    one_shard_holds_the_top,
    store_calls,
    order_and_ties,
    top_fifty,
    thirty_days_slide,
    blocked_users_are_left_out,
    analytics_after_a_known_sequence
);
