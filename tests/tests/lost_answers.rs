//! Lost answers, on both engines: a transaction that applied but whose answer never came (a
//! DynamoDB timeout after the write landed). The service's retry then meets its own write;
//! every change below (registration, follow, unfollow, approve, block, a badge award) must
//! still get the answer it would have got without the fault, change the store once, and
//! publish its event once. `docs/faults.md`, "Ambiguous timeouts".

mod badges_core_support;
mod social_support;

use std::sync::Arc;

use accounts::store::{Value, keys};
use api_tests::app::TestApp;
use api_tests::fixtures::{Recorder, fresh_ip, verify_email};
use api_tests::lost_answers::LosesAnswers;
use api_tests::{TestTable, both_engines};
use serde_json::json;
use social_support::*;

const PASSWORD: &str = "violet-harbour-42";

async fn lossy_app(t: TestTable) -> (TestApp, Arc<LosesAnswers>) {
    let lossy = LosesAnswers::new(t.table());
    let app = TestApp::over(t, &[], lossy.clone()).await;
    (app, lossy)
}

/// The account transaction applied, its answer was lost, the retry found the username taken
/// by that very account: 201 with the account, one account, the code mailed and usable.
async fn registration(t: TestTable) {
    let (app, lossy) = lossy_app(t).await;
    let register = |username: &str, email: &str| {
        app.post("/api/auth/register/")
            .ip(&fresh_ip())
            .json(json!({ "username": username, "email": email, "password": PASSWORD }))
            .send()
    };
    lossy.lose_answer_to(keys::unique_username("jane"));
    let response = register("Jane", "jane@example.com").await;
    assert_eq!(lossy.lost(), 1, "the fault struck");
    assert_eq!(response.status, 201, "{}", response.body_json());
    let body = response.body_json();
    assert_eq!(body["username"], "Jane");
    let id = body["id"].as_i64().unwrap();
    let unique = app
        .table()
        .get(&keys::unique_username("jane"), true)
        .await
        .unwrap()
        .expect("the username is held");
    assert_eq!(unique["user_id"], Value::Int(id), "by the account answered");

    let mails = app.outbox();
    assert_eq!(mails.len(), 1, "one code mailed");
    verify_email(&app, "jane@example.com").await;

    // A name that is really taken is still reported so.
    let again = register("JANE", "other@example.com").await;
    assert_eq!(again.status, 400, "{}", again.body_json());
    assert!(again.body_json()["username"].is_array());
}

/// Follow: the retry finds the edge its own try wrote (its request id): 201 active, the
/// counters moved once, one `UserFollowed`.
async fn follow_public(t: TestTable) {
    let (app, lossy) = lossy_app(t).await;
    let recorder = Recorder::attach(&app.app);
    let a = person(&app.app, 1).await;
    let b = person(&app.app, 2).await;
    lossy.lose_answer_to(keys::follow_edge(a.id, b.id));
    let response = follow(&app, &a, b.id).await;
    assert_eq!(lossy.lost(), 1, "the fault struck");
    assert_eq!(response.status, 201, "{}", response.body_json());
    assert_eq!(response.body_json()["status"], "active");
    assert_eq!(counters(&app.app, a.id).await, (0, 1));
    assert_eq!(counters(&app.app, b.id).await, (1, 0));
    assert_eq!(recorder.of_type("UserFollowed").len(), 1);
}

/// Unfollow: the retry finds the edge gone, which its own try did: 204, counters back to
/// zero, one `UserUnfollowed`.
async fn unfollow(t: TestTable) {
    let (app, lossy) = lossy_app(t).await;
    let recorder = Recorder::attach(&app.app);
    let a = person(&app.app, 1).await;
    let b = person(&app.app, 2).await;
    assert_eq!(follow(&app, &a, b.id).await.status, 201);
    lossy.lose_answer_to(keys::follow_edge(a.id, b.id));
    let response = social_support::unfollow(&app, &a, a.id, b.id).await;
    assert_eq!(lossy.lost(), 1, "the fault struck");
    assert_eq!(response.status, 204, "{}", response.body_json());
    assert!(!edge_exists(&app.app, a.id, b.id).await);
    assert_eq!(counters(&app.app, a.id).await, (0, 0));
    assert_eq!(counters(&app.app, b.id).await, (0, 0));
    assert_eq!(recorder.of_type("UserUnfollowed").len(), 1);
}

/// Approve: the retry finds the request no longer pending, because its own try approved it:
/// 200 active, counters moved once, one `FollowRequestApproved`.
async fn approve(t: TestTable) {
    let (app, lossy) = lossy_app(t).await;
    let recorder = Recorder::attach(&app.app);
    let p = private_person(&app.app, 1).await;
    let a = person(&app.app, 2).await;
    let requested = follow(&app, &a, p.id).await;
    assert_eq!(requested.body_json()["status"], "pending");
    lossy.lose_answer_to(keys::follow_edge(a.id, p.id));
    let response = app
        .post("/api/follows/2-1/approve/")
        .bearer(&p.token)
        .send()
        .await;
    assert_eq!(lossy.lost(), 1, "the fault struck");
    assert_eq!(response.status, 200, "{}", response.body_json());
    assert_eq!(response.body_json()["status"], "active");
    assert_eq!(counters(&app.app, p.id).await, (1, 0));
    assert_eq!(counters(&app.app, a.id).await, (0, 1));
    assert_eq!(recorder.of_type("FollowRequestApproved").len(), 1);
}

/// Block between users who follow each other: the retry finds its own block edge: 201, both
/// follows gone with the counters, one `UserBlocked` naming both removed follows.
async fn block_removing_follows(t: TestTable) {
    let (app, lossy) = lossy_app(t).await;
    let recorder = Recorder::attach(&app.app);
    let a = person(&app.app, 1).await;
    let b = person(&app.app, 2).await;
    assert_eq!(follow(&app, &a, b.id).await.status, 201);
    assert_eq!(follow(&app, &b, a.id).await.status, 201);
    lossy.lose_answer_to(keys::block_edge(a.id, b.id));
    let response = block(&app, &a, b.id).await;
    assert_eq!(lossy.lost(), 1, "the fault struck");
    assert_eq!(response.status, 201, "{}", response.body_json());
    assert!(block_exists(&app.app, a.id, b.id).await);
    assert!(!edge_exists(&app.app, a.id, b.id).await);
    assert!(!edge_exists(&app.app, b.id, a.id).await);
    assert_eq!(counters(&app.app, a.id).await, (0, 0));
    assert_eq!(counters(&app.app, b.id).await, (0, 0));
    let blocked = recorder.of_type("UserBlocked");
    assert_eq!(blocked.len(), 1);
    assert_eq!(
        blocked[0].detail["removed_follows"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{}",
        blocked[0].detail
    );
}

/// Badge award: the retry finds the badge held under its own award id: 201, the points and
/// the aggregates counted once, one `BadgeEarned`.
async fn badge_award(t: TestTable) {
    use badges_core_support as badges;
    let (app, lossy) = lossy_app(t).await;
    let recorder = Recorder::attach(&app.app);
    let root = badges::admin(&app.app, 1).await;
    let user = badges::person(&app.app, 2).await;
    let badge = badges::common_badge(&app, &root, "First Post", 25).await;
    lossy.lose_answer_to(keys::user_badge(user.id, badge));
    let response = badges::award(&app, &root, user.id, badge).await;
    assert_eq!(lossy.lost(), 1, "the fault struck");
    assert_eq!(response.status, 201, "{}", response.body_json());
    assert_eq!(response.body_json()["id"], format!("2-{badge}"));
    assert_eq!(badges::badge_points(&app.app, user.id).await, 25);
    let stats = badges::analytics(&app, &root).await;
    assert_eq!(stats["total_awards"], 1);
    assert_eq!(stats["unique_badge_holders"], 1);
    assert_eq!(recorder.of_type("BadgeEarned").len(), 1);
}

both_engines!(
    badge_award,
    registration,
    follow_public,
    unfollow,
    approve,
    block_removing_follows,
);
