//! Awards through the HTTP API, on both engines: one badge per user and badge (also under 50
//! parallel awards), points given once and taken back on revoke, the featured limit, who may
//! award, read, feature and revoke, the events, and erasure of a holder.

use crate::badges_core_support;

use accounts::activity::events::EventType;
use accounts::model::UserId;
use api_tests::app::TestApp;
use api_tests::fixtures::{Person, admin, badge_points, events_of, person, person_with};
use api_tests::{TestTable, both_engines};
use badges_core_support::*;
use serde_json::json;

/// Awarding twice is 201 then 409: one badge, points once, one award in the aggregates.
async fn award_twice_gives_one_badge(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let user = person(&app.app, 2).await;
    let badge = common_badge(&app, &root, "First Post", 25).await;

    let response = award(&app, &root, user.id, badge).await;
    assert_eq!(response.status, 201, "{:?}", response.body_json());
    let body = response.body_json();
    assert_eq!(body["id"], format!("2-{badge}"));
    assert_eq!(body["user"], 2);
    assert_eq!(body["badge"]["name"], "First Post");
    // The seed's model: `awarded_by` defaults to "system".
    assert_eq!(body["awarded_by"], "system");
    assert_eq!(body["notes"], "test");
    assert_eq!(body["is_featured"], false);
    assert_eq!(body["progress_data"], json!({}));

    let again = award(&app, &root, user.id, badge).await;
    assert_eq!(again.status, 409, "{:?}", again.body_json());
    assert_eq!(badge_points(&app.app, user.id).await, 25);
    let held = get_json(&app, &user, "/api/user-badges/", 200).await;
    assert_eq!(held["count"], 1);
    assert_eq!(held["results"][0]["badge"]["id"], badge);
    let stats = analytics(&app, &root).await;
    assert_eq!(stats["total_awards"], 1);
    assert_eq!(stats["unique_badge_holders"], 1);
    assert_eq!(
        events_of(&app.app, user.id, EventType::BadgeEarned)
            .await
            .len(),
        1
    );
    let event = &events_of(&app.app, user.id, EventType::BadgeEarned).await[0];
    assert_eq!(event.metadata["points"], 25);
    assert_eq!(event.metadata["badge_id"], badge);
}

/// 50 parallel awards of the same badge to one user: exactly one succeeds.
async fn parallel_awards_give_one_badge(t: TestTable) {
    let app = concurrency_app(t).await;
    let root = admin(&app.app, 1).await;
    let user = person(&app.app, 2).await;
    let badge = create_badge(&app, &root, badge_body("Race", "epic", 200)).await;
    let calls = (0..50).map(|_| award(&app, &root, user.id, badge));
    let statuses: Vec<u16> = futures::future::join_all(calls)
        .await
        .iter()
        .map(|r| r.status.as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(badge_points(&app.app, user.id).await, 200);
    let stats = analytics(&app, &root).await;
    assert_eq!(stats["total_awards"], 1);
    assert_eq!(stats["unique_badge_holders"], 1);
    assert_eq!(stats["popular_badges"][0]["earned_count"], 1);
    let board = get_json(&app, &root, "/api/badges/leaderboard/", 200).await;
    assert_eq!(board["results"][0]["badge_points"], 200);
    assert_eq!(board["results"][0]["total_badges"], 1);
    assert_eq!(
        events_of(&app.app, user.id, EventType::BadgeEarned)
            .await
            .len(),
        1
    );
}

/// Only administrators award; bad bodies are 400; unknown users and badges are 400 on their
/// field; an inactive badge cannot be awarded.
async fn who_may_award(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let user = person(&app.app, 2).await;
    let badge = common_badge(&app, &root, "Any", 10).await;
    let response = award(&app, &user, user.id, badge).await;
    assert_eq!(response.status, 403);
    let response = app
        .post("/api/user-badges/")
        .json(json!({"user": 2, "badge": badge}))
        .send()
        .await;
    assert_eq!(response.status, 401);
    for (body, field) in [
        (json!({"badge": badge}), "user"),
        (json!({"user": 2}), "badge"),
        (json!({"user": 99, "badge": badge}), "user"),
        (json!({"user": 2, "badge": 999}), "badge"),
        (
            json!({"user": 2, "badge": badge, "awarded_by": "robot"}),
            "awarded_by",
        ),
        (json!({"user": 2, "badge": badge, "extra": true}), "extra"),
    ] {
        let response = app
            .post("/api/user-badges/")
            .bearer(&root.token)
            .json(body.clone())
            .send()
            .await;
        assert_eq!(response.status, 400, "{body}");
        assert!(
            response.body_json()[field].is_array(),
            "{body}: {:?}",
            response.body_json()
        );
    }
    let response = app
        .patch(&format!("/api/badges/{badge}/"))
        .bearer(&root.token)
        .json(json!({"is_active": false}))
        .send()
        .await;
    assert_eq!(response.status, 200);
    let response = award(&app, &root, user.id, badge).await;
    assert_eq!(response.status, 400);
    assert_eq!(badge_points(&app.app, user.id).await, 0);
}

/// The owner features at most 6 badges; others cannot feature theirs.
async fn featured_limit(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let user = person(&app.app, 2).await;
    let other = person(&app.app, 3).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let badge = common_badge(&app, &root, &format!("B{i}"), 10).await;
        award_ok(&app, &root, user.id, badge).await;
        ids.push(badge);
    }
    let feature = |badge: i64, on: bool, who: &Person| {
        let request = app
            .patch(&format!("/api/user-badges/2-{badge}/"))
            .bearer(&who.token)
            .json(json!({"is_featured": on}));
        async move { request.send().await }
    };
    for badge in &ids[..6] {
        let response = feature(*badge, true, &user).await;
        assert_eq!(response.status, 200, "{:?}", response.body_json());
        assert_eq!(response.body_json()["is_featured"], true);
    }
    let seventh = feature(ids[6], true, &user).await;
    assert_eq!(seventh.status, 400);
    assert!(seventh.body_json()["is_featured"].is_array());
    // Featuring one already featured changes nothing and is fine.
    assert_eq!(feature(ids[0], true, &user).await.status, 200);
    assert_eq!(feature(ids[0], false, &user).await.status, 200);
    assert_eq!(feature(ids[6], true, &user).await.status, 200);
    let featured = get_json(&app, &user, "/api/user-badges/?is_featured=true", 200).await;
    assert_eq!(featured["count"], 6);
    assert_eq!(featured["results"].as_array().unwrap().len(), 6);
    // Not the owner: 403, and not even an administrator.
    assert_eq!(feature(ids[0], true, &other).await.status, 403);
    assert_eq!(feature(ids[0], true, &root).await.status, 403);
    let response = app
        .patch(&format!("/api/user-badges/2-{}/", ids[0]))
        .bearer(&user.token)
        .json(json!({"notes": "mine"}))
        .send()
        .await;
    assert_eq!(response.status, 400);
    // Revoking a featured badge frees its place.
    let response = app
        .delete(&format!("/api/user-badges/2-{}/", ids[6]))
        .bearer(&root.token)
        .send()
        .await;
    assert_eq!(response.status, 204);
    assert_eq!(feature(ids[0], true, &user).await.status, 200);
}

/// Revoking takes the points back and fixes the aggregates, logs badge_revoked; only
/// administrators revoke; a second revoke is 404.
async fn revoke_restores_points_and_aggregates(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let user = person(&app.app, 2).await;
    let a = common_badge(&app, &root, "A", 15).await;
    let b = create_badge(&app, &root, badge_body("B", "rare", 50)).await;
    award_ok(&app, &root, user.id, a).await;
    award_ok(&app, &root, user.id, b).await;
    assert_eq!(badge_points(&app.app, user.id).await, 65);

    let path = format!("/api/user-badges/2-{b}/");
    assert_eq!(
        app.delete(&path).bearer(&user.token).send().await.status,
        403
    );
    assert_eq!(
        app.delete(&path).bearer(&root.token).send().await.status,
        204
    );
    assert_eq!(
        app.delete(&path).bearer(&root.token).send().await.status,
        404
    );
    assert_eq!(badge_points(&app.app, user.id).await, 15);
    let stats = analytics(&app, &root).await;
    assert_eq!(stats["total_awards"], 1);
    assert_eq!(stats["unique_badge_holders"], 1);
    let revoked = events_of(&app.app, user.id, EventType::BadgeRevoked).await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].metadata["points"], 50);
    assert_eq!(revoked[0].metadata["by"], 1);

    // The definition's points changed since: the revoke takes back what the award gave.
    let response = app
        .patch(&format!("/api/badges/{a}/"))
        .bearer(&root.token)
        .json(json!({"points": 25}))
        .send()
        .await;
    assert_eq!(response.status, 200);
    let path = format!("/api/user-badges/2-{a}/");
    assert_eq!(
        app.delete(&path).bearer(&root.token).send().await.status,
        204
    );
    assert_eq!(badge_points(&app.app, user.id).await, 0);
    let stats = analytics(&app, &root).await;
    assert_eq!(stats["total_awards"], 0);
    assert_eq!(stats["unique_badge_holders"], 0);
    let board = get_json(&app, &root, "/api/badges/leaderboard/", 200).await;
    assert_eq!(board["results"], json!([]));
    // And it can be earned again.
    award_ok(&app, &root, user.id, a).await;
    assert_eq!(badge_points(&app.app, user.id).await, 25);
}

/// Reading badges: the caller's by default, anyone's public ones, a private account's only by
/// followers and staff, none across a block; one badge by id with its definition.
async fn who_may_read(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let public = person(&app.app, 2).await;
    let private = person_with(&app.app, 3, accounts::model::Role::Normal, true).await;
    let stranger = person(&app.app, 4).await;
    let badge = common_badge(&app, &root, "Seen", 10).await;
    award_ok(&app, &root, public.id, badge).await;
    award_ok(&app, &root, private.id, badge).await;

    let list = get_json(&app, &stranger, "/api/user-badges/?user=2", 200).await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["results"][0]["badge"]["name"], "Seen");
    get_json(
        &app,
        &stranger,
        &format!("/api/user-badges/2-{badge}/"),
        200,
    )
    .await;
    get_json(&app, &stranger, "/api/user-badges/?user=3", 403).await;
    get_json(
        &app,
        &stranger,
        &format!("/api/user-badges/3-{badge}/"),
        403,
    )
    .await;
    get_json(&app, &root, "/api/user-badges/?user=3", 200).await;
    let own = get_json(&app, &private, "/api/user-badges/", 200).await;
    assert_eq!(own["count"], 1);
    get_json(&app, &stranger, "/api/user-badges/?user=99", 404).await;
    get_json(&app, &stranger, "/api/user-badges/?user=abc", 400).await;
    get_json(
        &app,
        &stranger,
        &format!("/api/user-badges/4-{badge}/"),
        404,
    )
    .await;
    get_json(&app, &stranger, "/api/user-badges/nonsense/", 404).await;
    assert_eq!(app.get("/api/user-badges/").send().await.status, 401);

    // A block hides the badges both ways.
    let response = app
        .post("/api/blocks/")
        .bearer(&public.token)
        .json(json!({"blocked": 4}))
        .send()
        .await;
    assert_eq!(response.status, 201, "{:?}", response.body_json());
    get_json(&app, &stranger, "/api/user-badges/?user=2", 404).await;
    get_json(&app, &public, "/api/user-badges/?user=4", 404).await;
    // Followers of the private account see its badges.
    let response = app
        .post("/api/follows/")
        .bearer(&stranger.token)
        .json(json!({"following": 3}))
        .send()
        .await;
    assert_eq!(response.status, 201);
    let response = app
        .post("/api/follows/4-3/approve/")
        .bearer(&private.token)
        .send()
        .await;
    assert_eq!(response.status, 200, "{:?}", response.body_json());
    get_json(&app, &stranger, "/api/user-badges/?user=3", 200).await;
}

/// Erasing a holder removes their badges and leaderboard entry and fixes the aggregates.
async fn erasure_removes_badges(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let gone = person(&app.app, 2).await;
    let stays = person(&app.app, 3).await;
    let badge = create_badge(&app, &root, badge_body("Mortal", "rare", 90)).await;
    award_ok(&app, &root, gone.id, badge).await;
    award_ok(&app, &root, stays.id, badge).await;
    let response = app.delete("/api/users/2/").bearer(&root.token).send().await;
    assert_eq!(response.status, 204, "{:?}", response.body_json());
    let stats = analytics(&app, &root).await;
    assert_eq!(stats["total_awards"], 1);
    assert_eq!(stats["unique_badge_holders"], 1);
    assert_eq!(stats["popular_badges"][0]["earned_count"], 1);
    let board = get_json(&app, &root, "/api/badges/leaderboard/", 200).await;
    let users: Vec<i64> = board["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["user"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(users, [3]);
    let left = accounts::badges::awards::held_badges(&app.app, UserId(2))
        .await
        .unwrap();
    assert!(left.is_empty());
    assert!(
        accounts::badges::awards::score(&app.app, UserId(2))
            .await
            .unwrap()
            .is_none()
    );
}

/// The domain functions the admin command and the evaluator use: by name, and Ok(None) for a
/// second award.
async fn award_by_name(t: TestTable) {
    use accounts::access::Admin;
    use accounts::badges::awards::{AwardedBy, award_by_name};
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let user = person(&app.app, 2).await;
    common_badge(&app, &root, "Beta Tester", 20).await;
    let (held, def) = award_by_name(
        &app.app,
        Admin::SYSTEM,
        user.id,
        "beta tester",
        "beta",
        AwardedBy::Admin,
    )
    .await
    .unwrap()
    .expect("awarded");
    assert_eq!(def.name, "Beta Tester");
    assert_eq!(held.notes, "beta");
    assert!(
        award_by_name(
            &app.app,
            Admin::SYSTEM,
            user.id,
            "Beta Tester",
            "again",
            AwardedBy::Admin
        )
        .await
        .unwrap()
        .is_none()
    );
    assert!(
        award_by_name(
            &app.app,
            Admin::SYSTEM,
            user.id,
            "No Such",
            "",
            AwardedBy::Admin
        )
        .await
        .is_err()
    );
    assert!(
        award_by_name(
            &app.app,
            Admin::SYSTEM,
            UserId(77),
            "Beta Tester",
            "",
            AwardedBy::Admin
        )
        .await
        .is_err()
    );
    assert_eq!(badge_points(&app.app, user.id).await, 20);
}

both_engines!(
    award_twice_gives_one_badge,
    parallel_awards_give_one_badge,
    who_may_award,
    featured_limit,
    revoke_restores_points_and_aggregates,
    who_may_read,
    erasure_removes_badges,
    award_by_name
);
