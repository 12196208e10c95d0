//! Lost answers, on both engines: a transaction that applied but whose answer never came (a
//! DynamoDB timeout after the write landed). The service's retry then meets its own write;
//! every change below (registration, follow, unfollow, approve, block, a badge
//! definition, award and revocation) must
//! still get the answer it would have got without the fault, change the store once, and
//! publish its event once. `docs/faults.md`, "Ambiguous timeouts".

use crate::badges_core_support;
use crate::social_support;

use accounts::model::UserId;
use accounts::store::{Value, keys};
use api_tests::fixtures::{
    PASSWORD, Recorder, admin, badge_points, fresh_ip, person, private_person, verify_email,
};
use api_tests::lost_answers::LosesAnswers;
use api_tests::{TestTable, both_engines};
use serde_json::json;
use social_support::*;

/// The account transaction applied, its answer was lost, the retry found the username taken
/// by that very account: 201 with the account, one account, the code mailed and usable.
async fn registration(t: TestTable) {
    let (app, lossy) = LosesAnswers::under_app(t).await;
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
    let (app, lossy) = LosesAnswers::under_app(t).await;
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
    let (app, lossy) = LosesAnswers::under_app(t).await;
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
    let (app, lossy) = LosesAnswers::under_app(t).await;
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
    let (app, lossy) = LosesAnswers::under_app(t).await;
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
    let (app, lossy) = LosesAnswers::under_app(t).await;
    let recorder = Recorder::attach(&app.app);
    let root = admin(&app.app, 1).await;
    let user = person(&app.app, 2).await;
    let badge = badges::common_badge(&app, &root, "First Post", 25).await;
    lossy.lose_answer_to(keys::user_badge(user.id, badge));
    let response = badges::award(&app, &root, user.id, badge).await;
    assert_eq!(lossy.lost(), 1, "the fault struck");
    assert_eq!(response.status, 201, "{}", response.body_json());
    assert_eq!(response.body_json()["id"], format!("2-{badge}"));
    assert_eq!(badge_points(&app.app, user.id).await, 25);
    let stats = badges::analytics(&app, &root).await;
    assert_eq!(stats["total_awards"], 1);
    assert_eq!(stats["unique_badge_holders"], 1);
    assert_eq!(recorder.of_type("BadgeEarned").len(), 1);
}

/// Unblock: the retry of the delete finds the block gone, but cannot tell whether its own try
/// removed it or the try failed its condition because there was no block (the delete does not
/// read first, and a lost answer hides which). So 503 with `Retry-After`, the truth; the
/// client's retry then learns 404. The same for a block that never existed: never a 204 for it.
async fn unblock(t: TestTable) {
    let (app, lossy) = LosesAnswers::under_app(t).await;
    let a = person(&app.app, 1).await;
    let b = person(&app.app, 2).await;
    let c = person(&app.app, 3).await;
    assert_eq!(block(&app, &a, b.id).await.status, 201);
    let unblock = |target: UserId| {
        app.delete(&format!("/api/blocks/{}-{}/", a.id, target))
            .bearer(&a.token)
            .send()
    };
    lossy.lose_answer_to(keys::block_edge(a.id, b.id));
    let response = unblock(b.id).await;
    assert_eq!(lossy.lost(), 1, "the fault struck");
    assert_eq!(response.status, 503, "{}", response.body_json());
    assert_eq!(response.headers.get("retry-after").unwrap(), "1");
    assert!(!block_exists(&app.app, a.id, b.id).await);
    assert_eq!(unblock(b.id).await.status, 404);

    // No block between a and c: the lost answer hid a failed condition.
    lossy.lose_answer_to(keys::block_edge(a.id, c.id));
    let response = unblock(c.id).await;
    assert_eq!(lossy.lost(), 2, "the fault struck");
    assert_eq!(response.status, 503, "{}", response.body_json());
}

/// Badge definition: the retry finds the name taken by the definition its own try wrote (its
/// fresh id): 201 with that definition, one definition, counted once.
async fn badge_definition(t: TestTable) {
    use badges_core_support as badges;
    let (app, lossy) = LosesAnswers::under_app(t).await;
    let root = admin(&app.app, 1).await;
    let define = |name: &str| {
        app.post("/api/badges/")
            .bearer(&root.token)
            .json(badges::badge_body(name, "common", 20))
            .send()
    };
    // The first definition (id 1) writes its shard of the aggregates.
    lossy.lose_answer_to(keys::badge_stats(1));
    let response = define("Gold Star").await;
    assert_eq!(lossy.lost(), 1, "the fault struck");
    assert_eq!(response.status, 201, "{}", response.body_json());
    let id = response.body_json()["id"].as_i64().unwrap();
    let listed = app.get("/api/badges/").bearer(&root.token).send().await;
    let listed = listed.body_json();
    let items = listed["results"].as_array().expect("a page of badges");
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["id"], id);
    let stats = badges::analytics(&app, &root).await;
    assert_eq!(stats["total_badges_defined"], 1, "{stats}");
    // The name is really taken now.
    let again = define("gold star").await;
    assert_eq!(again.status, 400, "{}", again.body_json());
}

/// Badge revocation: the retry finds the badge gone, which its own try did: 204, the points
/// and aggregates taken back once.
async fn badge_revocation(t: TestTable) {
    use badges_core_support as badges;
    let (app, lossy) = LosesAnswers::under_app(t).await;
    let root = admin(&app.app, 1).await;
    let user = person(&app.app, 2).await;
    let badge = badges::common_badge(&app, &root, "First Post", 25).await;
    badges::award_ok(&app, &root, user.id, badge).await;
    lossy.lose_answer_to(keys::user_badge(user.id, badge));
    let revoke = || {
        app.delete(&format!("/api/user-badges/{}-{badge}/", user.id))
            .bearer(&root.token)
            .send()
    };
    let response = revoke().await;
    assert_eq!(lossy.lost(), 1, "the fault struck");
    assert_eq!(response.status, 204, "{}", response.body_json());
    assert_eq!(badge_points(&app.app, user.id).await, 0);
    let stats = badges::analytics(&app, &root).await;
    assert_eq!(stats["total_awards"], 0, "{stats}");
    assert_eq!(stats["unique_badge_holders"], 0, "{stats}");
    assert_eq!(revoke().await.status, 404);
}

both_engines!(
    badge_award,
    badge_definition,
    badge_revocation,
    unblock,
    registration,
    follow_public,
    unfollow,
    approve,
    block_removing_follows,
);
