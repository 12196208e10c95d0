//! Blocks through the HTTP API, on both engines: a block removes follows and requests both
//! ways with the counters, stops follows both ways (403 without saying who blocked whom),
//! hides each user's lists from the other (404), lists and unblocks; relationships; and the
//! cross-team functions `blocked_either_way` and `erase_edges`.

use crate::social_support;

use accounts::activity::events::EventType;
use accounts::model::UserId;
use accounts::social;
use api_tests::app::TestApp;
use api_tests::fixtures::{Person, Recorder, detail, events_of, person, private_person};
use api_tests::{TestTable, both_engines};
use serde_json::json;
use social_support::*;

/// A and B follow each other, C follows A and B follows C; then A blocks B.
async fn block_removes_follows_both_ways(t: TestTable) {
    let app = TestApp::new(t).await;
    let recorder = Recorder::attach(&app.app);
    let a = person(&app.app, 1).await;
    let b = person(&app.app, 2).await;
    let c = person(&app.app, 3).await;
    assert_eq!(follow(&app, &a, b.id).await.status, 201);
    assert_eq!(follow(&app, &b, a.id).await.status, 201);
    assert_eq!(follow(&app, &c, a.id).await.status, 201);
    assert_eq!(follow(&app, &b, c.id).await.status, 201);
    assert_eq!(counters(&app.app, a.id).await, (2, 1));

    let response = block(&app, &a, b.id).await;
    assert_eq!(response.status, 201, "{:?}", response.body_json());
    let body = response.body_json();
    assert_eq!(body["id"], "1-2");
    assert_eq!(body["blocker"], 1);
    assert_eq!(body["blocked"], 2);
    assert!(!edge_exists(&app.app, a.id, b.id).await);
    assert!(!edge_exists(&app.app, b.id, a.id).await);
    // Only the edges between A and B went.
    assert_eq!(counters(&app.app, a.id).await, (1, 0));
    assert_eq!(counters(&app.app, b.id).await, (0, 1));
    assert_counters_exact(&app.app, &[a.id, b.id, c.id]).await;
    assert!(
        social::blocked_either_way(&app.app, a.id, b.id)
            .await
            .unwrap()
    );
    assert!(
        social::blocked_either_way(&app.app, b.id, a.id)
            .await
            .unwrap()
    );
    assert!(
        !social::blocked_either_way(&app.app, a.id, c.id)
            .await
            .unwrap()
    );

    let logged = events_of(&app.app, a.id, EventType::Block).await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].target_user, Some(b.id));
    let published = recorder.last("UserBlocked").expect("UserBlocked published");
    assert_eq!(published["blocker"], 1);
    assert_eq!(published["blocked"], 2);
    assert_eq!(published["removed_follows"], json!(["1-2", "2-1"]));

    // Neither may follow the other, and the refusal is the same both ways.
    let ab = follow(&app, &a, b.id).await;
    let ba = follow(&app, &b, a.id).await;
    assert_eq!((ab.status.as_u16(), ba.status.as_u16()), (403, 403));
    assert_eq!(detail(&ab), detail(&ba));
    assert!(!detail(&ab).contains("blocked you"));

    // Twice, self, unknown, bad: 400.
    let again = block(&app, &a, b.id).await;
    assert_eq!(again.status, 400);
    assert_eq!(detail(&again), "You have already blocked this user.");
    assert_eq!(block(&app, &a, a.id).await.status, 400);
    assert_eq!(block(&app, &a, UserId(77)).await.status, 400);
    let bad = app
        .post("/api/blocks/")
        .bearer(&a.token)
        .json(json!({"blocked": "me"}))
        .send()
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body_json()["blocked"].is_array());
    // B may block A as well: both edges then exist.
    assert_eq!(block(&app, &b, a.id).await.status, 201);
    assert!(block_exists(&app.app, b.id, a.id).await);
}

/// A pending request is removed by a block from either side, and no counter moves.
async fn block_removes_requests(t: TestTable) {
    let app = TestApp::new(t).await;
    let p = private_person(&app.app, 1).await;
    let a = person(&app.app, 2).await;
    let b = person(&app.app, 3).await;
    assert_eq!(follow(&app, &a, p.id).await.status, 201);
    assert_eq!(follow(&app, &b, p.id).await.status, 201);
    assert_eq!(follow(&app, &p, a.id).await.status, 201);
    // P blocks A (A asked P, P follows A); B (who asked P) blocks P.
    assert_eq!(block(&app, &p, a.id).await.status, 201);
    assert!(!edge_exists(&app.app, a.id, p.id).await);
    assert!(!edge_exists(&app.app, p.id, a.id).await);
    assert_eq!(block(&app, &b, p.id).await.status, 201);
    assert!(!edge_exists(&app.app, b.id, p.id).await);
    assert_counters_exact(&app.app, &[p.id, a.id, b.id]).await;
    assert_eq!(counters(&app.app, p.id).await, (0, 0));
    assert_eq!(counters(&app.app, a.id).await, (0, 0));
}

/// The blocks list, unblocking (blocker only), and each user's lists hidden from the other.
async fn list_unblock_and_hidden_lists(t: TestTable) {
    let app = TestApp::new(t).await;
    let recorder = Recorder::attach(&app.app);
    let a = person(&app.app, 1).await;
    let b = person(&app.app, 2).await;
    let c = person(&app.app, 3).await;
    assert_eq!(block(&app, &a, b.id).await.status, 201);
    let with_reason = app
        .post("/api/blocks/")
        .bearer(&a.token)
        .json(json!({"blocked": c.n(), "reason": "  spam  "}))
        .send()
        .await;
    assert_eq!(with_reason.status, 201);
    assert_eq!(with_reason.body_json()["reason"], "spam");
    let too_long = app
        .post("/api/blocks/")
        .bearer(&b.token)
        .json(json!({"blocked": 3, "reason": "x".repeat(501)}))
        .send()
        .await;
    assert_eq!(too_long.status, 400);
    assert!(too_long.body_json()["reason"].is_array());

    let (status, list) = get_json(&app, &a, "/api/blocks/?page_size=1").await;
    assert_eq!(status, 200);
    assert_eq!(list["results"].as_array().unwrap().len(), 1);
    assert_eq!(list["results"][0]["id"], "1-2");
    assert_eq!(list["results"][0]["user"]["id"], 2);
    let cursor = list["next"].as_str().expect("a next cursor").to_owned();
    let (_, rest) = get_json(
        &app,
        &a,
        &format!("/api/blocks/?page_size=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(rest["results"][0]["id"], "1-3");
    let (_, theirs) = get_json(&app, &b, "/api/blocks/").await;
    assert_eq!(theirs["results"], json!([]), "B blocks no one");

    // Each is 404 to the other on list endpoints; a bystander still sees both.
    for path in [
        "/api/follows/?user=1",
        "/api/follows/?user=1&direction=followers",
    ] {
        assert_eq!(get_json(&app, &b, path).await.0, 404, "{path}");
    }
    assert_eq!(get_json(&app, &a, "/api/follows/?user=2").await.0, 404);
    let d = person(&app.app, 4).await;
    assert_eq!(get_json(&app, &d, "/api/follows/?user=1").await.0, 200);

    // Only the blocker unblocks; then they may follow each other again.
    assert_eq!(
        app.delete("/api/blocks/1-2/")
            .bearer(&b.token)
            .send()
            .await
            .status,
        404
    );
    assert_eq!(
        app.delete("/api/blocks/2-1/")
            .bearer(&b.token)
            .send()
            .await
            .status,
        404,
        "there is no such block"
    );
    assert_eq!(
        app.delete("/api/blocks/1-2/")
            .bearer(&a.token)
            .send()
            .await
            .status,
        204
    );
    assert_eq!(
        app.delete("/api/blocks/1-2/")
            .bearer(&a.token)
            .send()
            .await
            .status,
        404
    );
    assert!(!block_exists(&app.app, a.id, b.id).await);
    assert_eq!(
        events_of(&app.app, a.id, EventType::Unblock).await[0].target_user,
        Some(b.id)
    );
    assert!(recorder.types().contains(&"UserUnblocked".to_owned()));
    assert_eq!(follow(&app, &b, a.id).await.status, 201);
    assert_eq!(get_json(&app, &b, "/api/follows/?user=1").await.0, 200);
}

/// `GET /api/relationships/?id=..`: every flag, in the order asked, bad ids 400.
async fn relationships(t: TestTable) {
    let app = TestApp::new(t).await;
    let me = person(&app.app, 1).await;
    let friend = person(&app.app, 2).await;
    let fan = person(&app.app, 3).await;
    let private = private_person(&app.app, 4).await;
    let asker = person(&app.app, 5).await;
    let blocker = person(&app.app, 6).await;
    let blocked = person(&app.app, 7).await;
    // A private user with an active follow out to `asker` and a request in from them.
    let mine_private = private_person(&app.app, 8).await;
    assert_eq!(follow(&app, &me, friend.id).await.status, 201);
    assert_eq!(follow(&app, &friend, me.id).await.status, 201);
    assert_eq!(follow(&app, &fan, me.id).await.status, 201);
    assert_eq!(follow(&app, &me, private.id).await.status, 201);
    assert_eq!(block(&app, &blocker, me.id).await.status, 201);
    assert_eq!(block(&app, &me, blocked.id).await.status, 201);
    assert_eq!(follow(&app, &mine_private, asker.id).await.status, 201);
    assert_eq!(follow(&app, &asker, mine_private.id).await.status, 201);

    let (status, list) = get_json(
        &app,
        &me,
        "/api/relationships/?id=2&id=3&id=4&id=6&id=7&id=99&id=1&id=2",
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let row = |id: i64, flags: [bool; 6]| {
        json!({"id": id, "following": flags[0], "followed_by": flags[1], "requested": flags[2],
               "requested_by": flags[3], "blocking": flags[4], "blocked_by": flags[5]})
    };
    assert_eq!(
        list,
        json!([
            row(2, [true, true, false, false, false, false]),
            row(3, [false, true, false, false, false, false]),
            row(4, [false, false, true, false, false, false]),
            row(6, [false, false, false, false, false, true]),
            row(7, [false, false, false, false, true, false]),
            row(99, [false; 6]),
            row(1, [false; 6]),
        ])
    );
    let (_, asked) = get_json(&app, &mine_private, "/api/relationships/?id=5").await;
    assert_eq!(
        asked,
        json!([row(5, [true, false, false, true, false, false])])
    );
    let (_, comma) = get_json(&app, &me, "/api/relationships/?id=2,3").await;
    assert_eq!(comma.as_array().unwrap().len(), 2);
    let (_, none) = get_json(&app, &me, "/api/relationships/").await;
    assert_eq!(none, json!([]));

    let (status, bad) = get_json(&app, &me, "/api/relationships/?id=2&id=x").await;
    assert_eq!(status, 400);
    assert!(bad["id"].is_array());
    let many: String = (1..=101).map(|i| format!("id={i}&")).collect();
    assert_eq!(
        get_json(&app, &me, &format!("/api/relationships/?{many}"))
            .await
            .0,
        400
    );
    let hundred: String = (1..=100).map(|i| format!("id={i}&")).collect();
    assert_eq!(
        get_json(&app, &me, &format!("/api/relationships/?{hundred}"))
            .await
            .0,
        200
    );
}

/// `erase_edges` removes every edge of a user both ways with the others' counters, and a
/// second run is harmless.
async fn erase_edges(t: TestTable) {
    let app = TestApp::new(t).await;
    let x = private_person(&app.app, 1).await;
    let others: Vec<Person> = vec![
        person(&app.app, 2).await,
        person(&app.app, 3).await,
        private_person(&app.app, 4).await,
        person(&app.app, 5).await,
        person(&app.app, 6).await,
    ];
    // x follows 2 and 3 and asks 4; 2 follows x (approved), 5 asks x; x blocks 6, 7 blocks
    // x; edges not involving x (3 blocks 6, 6 follows 2) must stay.
    assert_eq!(follow(&app, &x, others[0].id).await.status, 201);
    assert_eq!(follow(&app, &x, others[1].id).await.status, 201);
    assert_eq!(follow(&app, &x, others[2].id).await.status, 201);
    assert_eq!(follow(&app, &others[0], x.id).await.status, 201);
    let approve = app
        .post("/api/follows/2-1/approve/")
        .bearer(&x.token)
        .send()
        .await;
    assert_eq!(approve.status, 200);
    assert_eq!(follow(&app, &others[3], x.id).await.status, 201);
    assert_eq!(block(&app, &x, others[4].id).await.status, 201);
    assert_eq!(block(&app, &others[1], others[4].id).await.status, 201);
    assert_eq!(follow(&app, &others[4], others[0].id).await.status, 201);
    let blocker_of_x = person(&app.app, 7).await;
    assert_eq!(block(&app, &blocker_of_x, x.id).await.status, 201);

    social::erase_edges(&app.app, x.id).await.unwrap();
    for o in others.iter().chain([&blocker_of_x]) {
        assert!(!edge_exists(&app.app, x.id, o.id).await);
        assert!(!edge_exists(&app.app, o.id, x.id).await);
        assert!(!block_exists(&app.app, x.id, o.id).await);
        assert!(!block_exists(&app.app, o.id, x.id).await);
    }
    assert_eq!(counters(&app.app, x.id).await, (0, 0));
    assert_eq!(
        counters(&app.app, others[0].id).await,
        (1, 0),
        "6 still follows 2"
    );
    assert_eq!(counters(&app.app, others[1].id).await, (0, 0));
    assert_eq!(counters(&app.app, others[4].id).await, (0, 1));
    assert!(
        block_exists(&app.app, others[1].id, others[4].id).await,
        "other blocks stay"
    );
    let ids: Vec<UserId> = std::iter::once(x.id)
        .chain(others.iter().map(|o| o.id))
        .collect();
    assert_counters_exact(&app.app, &ids).await;
    social::erase_edges(&app.app, x.id).await.unwrap();
    assert_counters_exact(&app.app, &ids).await;
}

both_engines!(
    block_removes_follows_both_ways,
    block_removes_requests,
    list_unblock_and_hidden_lists,
    relationships,
    erase_edges,
);
