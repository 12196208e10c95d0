//! Follows through the HTTP API, on both engines (the seed's `test_follow`): follow and
//! unfollow with exact counters, requests to private accounts (approve, reject, withdraw,
//! automatic approval when the account turns public), removing a follower, who may act on an
//! edge, the following limit, and the events each change logs and publishes.

use crate::social_support;

use accounts::activity::events::EventType;
use accounts::model::{Role, UserId};
use accounts::social;
use accounts::store::{Update, keys};
use api_tests::app::TestApp;
use api_tests::fixtures::{
    Person, Recorder, detail, events_of, person, person_with, private_person,
};
use api_tests::{TestTable, both_engines};
use serde_json::json;
use social_support::*;

/// A follows B (public): 201 active, both counters move, the edge reads back by its id to
/// either end and to no one else, and the events go out.
async fn follow_and_unfollow_public(t: TestTable) {
    let app = TestApp::new(t).await;
    let recorder = Recorder::attach(&app.app);
    let a = person(&app.app, 1).await;
    let b = person(&app.app, 2).await;
    let c = person(&app.app, 3).await;

    let response = follow(&app, &a, b.id).await;
    assert_eq!(response.status, 201, "{:?}", response.body_json());
    let body = response.body_json();
    assert_eq!(body["id"], "1-2");
    assert_eq!(body["follower"], 1);
    assert_eq!(body["following"], 2);
    assert_eq!(body["status"], "active");
    assert!(body["created_at"].is_string());
    assert_eq!(counters(&app.app, a.id).await, (0, 1));
    assert_eq!(counters(&app.app, b.id).await, (1, 0));
    assert!(social::is_following(&app.app, a.id, b.id).await.unwrap());
    assert!(!social::is_following(&app.app, b.id, a.id).await.unwrap());

    // The edge, to either end; to a third user it does not exist.
    let (status, edge) = get_json(&app, &a, "/api/follows/1-2/").await;
    assert_eq!(status, 200);
    assert_eq!(edge["status"], "active");
    assert_eq!(edge["user"]["id"], 2, "the other end's card: {edge}");
    let (status, edge) = get_json(&app, &b, "/api/follows/1-2/").await;
    assert_eq!(status, 200);
    assert_eq!(edge["user"]["id"], 1);
    assert_eq!(get_json(&app, &c, "/api/follows/1-2/").await.0, 404);
    assert_eq!(get_json(&app, &a, "/api/follows/2-1/").await.0, 404);
    assert_eq!(get_json(&app, &a, "/api/follows/nonsense/").await.0, 404);

    // Events: the follower's log names the target; the bus carries UserFollowed.
    let logged = events_of(&app.app, a.id, EventType::Follow).await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].target_user, Some(b.id));
    assert_eq!(
        recorder.last("UserFollowed"),
        Some(json!({"follower": 1, "followed": 2}))
    );

    // A third user cannot delete it; the follower can, once.
    assert_eq!(unfollow(&app, &c, a.id, b.id).await.status, 404);
    assert_eq!(unfollow(&app, &a, a.id, b.id).await.status, 204);
    assert_eq!(unfollow(&app, &a, a.id, b.id).await.status, 404);
    assert_eq!(counters(&app.app, a.id).await, (0, 0));
    assert_eq!(counters(&app.app, b.id).await, (0, 0));
    assert!(!edge_exists(&app.app, a.id, b.id).await);
    let logged = events_of(&app.app, a.id, EventType::Unfollow).await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].target_user, Some(b.id));
    assert!(recorder.types().contains(&"UserUnfollowed".to_owned()));

    // Following again works.
    assert_eq!(follow(&app, &a, b.id).await.status, 201);
    assert_counters_exact(&app.app, &[a.id, b.id, c.id]).await;
}

/// Self-follow, an unknown or suspended target, a second follow, bad bodies: 400, and nothing
/// written.
async fn follow_refusals(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = person(&app.app, 1).await;
    let b = person(&app.app, 2).await;
    let s = person(&app.app, 3).await;
    app.app
        .table
        .update(
            &keys::user(s.id),
            Update::new().set("is_suspended", true),
            None,
        )
        .await
        .unwrap();

    let response = follow(&app, &a, a.id).await;
    assert_eq!(response.status, 400);
    assert_eq!(detail(&response), "You cannot follow yourself.");
    let response = follow(&app, &a, UserId(99)).await;
    assert_eq!(response.status, 400);
    assert_eq!(detail(&response), "User not found.");
    assert!(
        app.app
            .table
            .get(&keys::user(UserId(99)), true)
            .await
            .unwrap()
            .is_none(),
        "no profile item is made up for an unknown id"
    );
    let response = follow(&app, &a, s.id).await;
    assert_eq!(response.status, 400);
    assert_eq!(detail(&response), "User not found.");

    assert_eq!(follow(&app, &a, b.id).await.status, 201);
    let response = follow(&app, &a, b.id).await;
    assert_eq!(response.status, 400);
    assert_eq!(detail(&response), "You are already following this user.");

    for body in [
        json!({}),
        json!({"following": "x"}),
        json!({"following": 0}),
        json!({"following": [2]}),
    ] {
        let response = app
            .post("/api/follows/")
            .bearer(&a.token)
            .json(body.clone())
            .send()
            .await;
        assert_eq!(response.status, 400, "{body}");
        assert!(
            response.body_json()["following"].is_array(),
            "{body}: {:?}",
            response.body_json()
        );
    }
    // Anonymous callers are 401.
    let response = app
        .post("/api/follows/")
        .json(json!({"following": 2}))
        .send()
        .await;
    assert_eq!(response.status, 401);

    assert_eq!(counters(&app.app, a.id).await, (0, 1));
    assert_eq!(counters(&app.app, b.id).await, (1, 0));
    assert_eq!(counters(&app.app, s.id).await, (0, 0));
    assert_counters_exact(&app.app, &[a.id, b.id, s.id]).await;
}

/// `follower` in the body: accepted when it is the caller or the caller is an admin.
async fn follower_field(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = person(&app.app, 1).await;
    let b = person(&app.app, 2).await;
    let c = person(&app.app, 3).await;
    let admin = person_with(&app.app, 4, Role::Admin, false).await;

    let as_self = app
        .post("/api/follows/")
        .bearer(&a.token)
        .json(json!({"follower": 1, "following": 2}))
        .send()
        .await;
    assert_eq!(as_self.status, 201);
    let for_other = app
        .post("/api/follows/")
        .bearer(&a.token)
        .json(json!({"follower": 3, "following": 2}))
        .send()
        .await;
    assert_eq!(for_other.status, 403);
    assert!(!edge_exists(&app.app, c.id, b.id).await);

    let by_admin = app
        .post("/api/follows/")
        .bearer(&admin.token)
        .json(json!({"follower": "3", "following": 2}))
        .send()
        .await;
    assert_eq!(by_admin.status, 201, "{:?}", by_admin.body_json());
    assert_eq!(by_admin.body_json()["id"], "3-2");
    assert_eq!(counters(&app.app, b.id).await, (2, 0));
    assert_eq!(counters(&app.app, c.id).await, (0, 1));
    assert_eq!(counters(&app.app, admin.id).await, (0, 0));
}

/// A private account gets requests: pending edges count nowhere; the followed user approves
/// (counters move) or rejects; the follower may withdraw but not answer.
async fn requests_to_private_accounts(t: TestTable) {
    let app = TestApp::new(t).await;
    let recorder = Recorder::attach(&app.app);
    let p = private_person(&app.app, 1).await;
    let a = person(&app.app, 2).await;
    let b = person(&app.app, 3).await;
    let c = person(&app.app, 4).await;

    let response = follow(&app, &a, p.id).await;
    assert_eq!(response.status, 201);
    assert_eq!(response.body_json()["status"], "pending");
    assert_eq!(response.body_json()["approved_at"], json!(null));
    assert_eq!(counters(&app.app, p.id).await, (0, 0));
    assert_eq!(counters(&app.app, a.id).await, (0, 0));
    assert!(!social::is_following(&app.app, a.id, p.id).await.unwrap());
    let response = follow(&app, &a, p.id).await;
    assert_eq!(response.status, 400);
    assert_eq!(
        detail(&response),
        "You have already requested to follow this user."
    );
    assert_eq!(
        events_of(&app.app, a.id, EventType::FollowRequest).await[0].target_user,
        Some(p.id)
    );
    assert!(recorder.types().contains(&"FollowRequested".to_owned()));
    assert_eq!(follow(&app, &b, p.id).await.status, 201);

    // The requests, to the private user only.
    let (status, list) = get_json(&app, &p, "/api/follows/?status=pending").await;
    assert_eq!(status, 200);
    let ids: Vec<_> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("2-1"), json!("3-1")]);
    assert_eq!(list["results"][0]["user"]["id"], 2, "the requester's card");
    assert!(list.get("count").is_none(), "no count on requests");
    let (status, _) = get_json(&app, &a, "/api/follows/?status=pending&user=1").await;
    assert_eq!(status, 403);
    // The requester sees their own outgoing request.
    let (status, mine) =
        get_json(&app, &a, "/api/follows/?status=pending&direction=following").await;
    assert_eq!(status, 200);
    assert_eq!(mine["results"][0]["id"], "2-1");

    // Only the requested user answers; the requester gets 403, a stranger 404.
    let approve = |who: &Person, id: &str| {
        app.post(&format!("/api/follows/{id}/approve/"))
            .bearer(&who.token)
            .send()
    };
    assert_eq!(approve(&a, "2-1").await.status, 403);
    assert_eq!(approve(&c, "2-1").await.status, 404);
    let response = approve(&p, "2-1").await;
    assert_eq!(response.status, 200, "{:?}", response.body_json());
    assert_eq!(response.body_json()["status"], "active");
    assert!(response.body_json()["approved_at"].is_string());
    assert_eq!(counters(&app.app, p.id).await, (1, 0));
    assert_eq!(counters(&app.app, a.id).await, (0, 1));
    assert!(social::is_following(&app.app, a.id, p.id).await.unwrap());
    let response = approve(&p, "2-1").await;
    assert_eq!(response.status, 400, "an active edge is no request");
    assert_eq!(approve(&p, "4-1").await.status, 404);
    assert_eq!(
        events_of(&app.app, p.id, EventType::FollowApproved).await[0].target_user,
        Some(a.id)
    );
    // Now A follows P actively: the followers list shows A, requests no longer.
    let (_, followers) = get_json(&app, &p, "/api/follows/?direction=followers").await;
    assert_eq!(followers["count"], 1);
    assert_eq!(followers["results"][0]["id"], "2-1");
    let (_, requests) = get_json(&app, &p, "/api/follows/?status=pending").await;
    assert_eq!(requests["results"].as_array().unwrap().len(), 1);

    // Reject B's request: the edge goes, no counter moves.
    let reject = |who: &Person, id: &str| {
        app.post(&format!("/api/follows/{id}/reject/"))
            .bearer(&who.token)
            .send()
    };
    assert_eq!(reject(&b, "3-1").await.status, 403);
    assert_eq!(
        reject(&p, "2-1").await.status,
        400,
        "an active follow is not rejected"
    );
    assert_eq!(reject(&p, "3-1").await.status, 204);
    assert_eq!(reject(&p, "3-1").await.status, 404);
    assert!(!edge_exists(&app.app, b.id, p.id).await);
    assert_eq!(counters(&app.app, p.id).await, (1, 0));
    assert_eq!(counters(&app.app, b.id).await, (0, 0));
    assert_eq!(
        events_of(&app.app, p.id, EventType::FollowRejected).await[0].target_user,
        Some(b.id)
    );
    assert!(
        recorder
            .types()
            .contains(&"FollowRequestRejected".to_owned())
    );

    // C asks and withdraws: no counter moves either.
    assert_eq!(follow(&app, &c, p.id).await.status, 201);
    assert_eq!(unfollow(&app, &c, c.id, p.id).await.status, 204);
    assert!(!edge_exists(&app.app, c.id, p.id).await);
    assert_counters_exact(&app.app, &[p.id, a.id, b.id, c.id]).await;
}

/// The followed user removes a follower without blocking; the follower may follow again.
async fn remove_a_follower(t: TestTable) {
    let app = TestApp::new(t).await;
    let recorder = Recorder::attach(&app.app);
    let a = person(&app.app, 1).await;
    let b = person(&app.app, 2).await;
    assert_eq!(follow(&app, &a, b.id).await.status, 201);
    assert_eq!(unfollow(&app, &b, a.id, b.id).await.status, 204);
    assert_eq!(counters(&app.app, a.id).await, (0, 0));
    assert_eq!(counters(&app.app, b.id).await, (0, 0));
    let removed = events_of(&app.app, b.id, EventType::FollowerRemoved).await;
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].target_user, Some(a.id));
    assert!(recorder.types().contains(&"FollowerRemoved".to_owned()));
    assert!(!block_exists(&app.app, b.id, a.id).await);
    assert_eq!(follow(&app, &a, b.id).await.status, 201);
}

/// A private account turning public approves its pending requests, with the counters.
async fn turning_public_approves_requests(t: TestTable) {
    let app = TestApp::new(t).await;
    let p = private_person(&app.app, 1).await;
    let followers = [
        person(&app.app, 2).await,
        person(&app.app, 3).await,
        person(&app.app, 4).await,
    ];
    for f in &followers {
        assert_eq!(follow(&app, f, p.id).await.status, 201);
    }
    // One of them withdraws before the switch.
    assert_eq!(
        unfollow(&app, &followers[2], followers[2].id, p.id)
            .await
            .status,
        204
    );
    app.app
        .table
        .update(
            &keys::user(p.id),
            Update::new().set("is_private", false),
            None,
        )
        .await
        .unwrap();
    let approved = social::approve_pending_requests(&app.app, p.id)
        .await
        .unwrap();
    assert_eq!(approved, 2);
    assert_eq!(counters(&app.app, p.id).await, (2, 0));
    for f in &followers[..2] {
        assert!(social::is_following(&app.app, f.id, p.id).await.unwrap());
        assert_eq!(counters(&app.app, f.id).await, (0, 1));
    }
    // Idempotent: nothing left to approve.
    assert_eq!(
        social::approve_pending_requests(&app.app, p.id)
            .await
            .unwrap(),
        0
    );
    let ids: Vec<UserId> = std::iter::once(p.id)
        .chain(followers.iter().map(|f| f.id))
        .collect();
    assert_counters_exact(&app.app, &ids).await;
}

/// The following limit (configurable) is a 400, for follows and requests alike; unfollowing
/// makes room again.
async fn following_limit(t: TestTable) {
    let app = configured_app(t, &[("FOLLOWING_LIMIT", "2")]).await;
    let a = person(&app.app, 1).await;
    let targets = [
        person(&app.app, 2).await,
        person(&app.app, 3).await,
        person(&app.app, 4).await,
    ];
    let private = private_person(&app.app, 5).await;
    assert_eq!(follow(&app, &a, targets[0].id).await.status, 201);
    assert_eq!(follow(&app, &a, targets[1].id).await.status, 201);
    let response = follow(&app, &a, targets[2].id).await;
    assert_eq!(response.status, 400);
    assert_eq!(detail(&response), "You cannot follow more than 2 accounts.");
    let response = follow(&app, &a, private.id).await;
    assert_eq!(
        response.status, 400,
        "a request counts against the limit check too"
    );
    assert!(!edge_exists(&app.app, a.id, targets[2].id).await);
    assert_eq!(counters(&app.app, a.id).await, (0, 2));
    assert_eq!(counters(&app.app, targets[2].id).await, (0, 0));
    assert_eq!(unfollow(&app, &a, a.id, targets[0].id).await.status, 204);
    assert_eq!(follow(&app, &a, targets[2].id).await.status, 201);
}

/// Requests made under the limit can outnumber it: approving one past the limit is a 400 and
/// changes nothing; the request stays pending.
async fn approval_respects_the_following_limit(t: TestTable) {
    let app = configured_app(t, &[("FOLLOWING_LIMIT", "1")]).await;
    let a = person(&app.app, 1).await;
    let p = private_person(&app.app, 2).await;
    let q = private_person(&app.app, 3).await;
    assert_eq!(follow(&app, &a, p.id).await.status, 201);
    assert_eq!(follow(&app, &a, q.id).await.status, 201);
    let approve = |who: &Person, id: &str| {
        app.post(&format!("/api/follows/{id}/approve/"))
            .bearer(&who.token)
            .send()
    };
    assert_eq!(approve(&p, "1-2").await.status, 200);
    let response = approve(&q, "1-3").await;
    assert_eq!(response.status, 400, "{:?}", response.body_json());
    assert_eq!(
        detail(&response),
        "This user already follows 1 accounts, the most allowed."
    );
    assert_eq!(counters(&app.app, a.id).await, (0, 1));
    assert_eq!(counters(&app.app, q.id).await, (0, 0));
    let pending = outgoing(&app.app, a.id).await;
    assert!(
        pending
            .iter()
            .any(|e| e.following == q.id && !e.is_active())
    );
}

both_engines!(
    follow_and_unfollow_public,
    follow_refusals,
    follower_field,
    requests_to_private_accounts,
    remove_a_follower,
    turning_public_approves_requests,
    following_limit,
    approval_respects_the_following_limit,
);
