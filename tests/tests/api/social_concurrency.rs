//! The counters under concurrency, on both engines: 100 parallel follow/unfollow calls on one
//! pair, and 200 users following one user at once. Afterwards the counters equal the edges and
//! no request got a 500. On moto, transactions are made serializable as DynamoDB's are (see
//! `api_tests::moto::isolated`: moto's are not isolated), and every one of the 200 follows
//! succeeds there too: a 503 would be the follow loop giving up, which is what this test exists
//! to catch.

use crate::social_support;

use std::sync::Arc;

use accounts::model::UserId;
use api_tests::fixtures::person;
use api_tests::{TestTable, both_engines};
use social_support::*;

/// Statuses a follow or unfollow may answer under contention: done, already (not) following,
/// or 503 after the retries (which changed nothing).
const ALLOWED: [u16; 5] = [201, 204, 400, 404, 503];

async fn follow_unfollow_storm_on_one_pair(t: TestTable) {
    let app = Arc::new(concurrency_app(t).await);
    let a = person(&app.app, 1).await;
    let b = person(&app.app, 2).await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (app, a) = (app.clone(), a.clone());
        tasks.push(tokio::spawn(async move {
            let response = if i % 2 == 0 {
                follow(&app, &a, UserId(2)).await
            } else {
                unfollow(&app, &a, UserId(1), UserId(2)).await
            };
            (i % 2 == 0, response.status.as_u16(), response.body_json())
        }));
    }
    let mut follows_done = 0;
    let mut unfollows_done = 0;
    for task in tasks {
        let (is_follow, status, body) = task.await.expect("the request task");
        assert!(ALLOWED.contains(&status), "status {status}: {body}");
        match (is_follow, status) {
            (true, 201) => follows_done += 1,
            (false, 204) => unfollows_done += 1,
            _ => {}
        }
    }
    assert!(follows_done >= 1, "at least one follow went through");
    // Each successful unfollow removed a follow made before it.
    let now_following = edge_exists(&app.app, a.id, b.id).await;
    assert_eq!(follows_done - unfollows_done, i64::from(now_following));
    assert_eq!(
        counters(&app.app, a.id).await,
        (0, i64::from(now_following))
    );
    assert_eq!(
        counters(&app.app, b.id).await,
        (i64::from(now_following), 0)
    );
    assert_counters_exact(&app.app, &[a.id, b.id]).await;
}

async fn two_hundred_follow_one(t: TestTable) {
    let app = Arc::new(concurrency_app(t).await);
    let star = person(&app.app, 1).await;
    let mut fans = Vec::new();
    for id in 2..=201 {
        fans.push(person(&app.app, id).await);
    }
    let mut tasks = Vec::new();
    for fan in fans.iter().cloned() {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let response = follow(&app, &fan, UserId(1)).await;
            (fan.id, response.status.as_u16(), response.body_json())
        }));
    }
    let mut followed = 0;
    for task in tasks {
        let (fan, status, body) = task.await.expect("the request task");
        assert_eq!(status, 201, "{fan}: {body}");
        followed += 1;
        assert_eq!(counters(&app.app, fan).await, (0, 1), "{fan}");
    }
    let (followers, _) = counters(&app.app, star.id).await;
    assert_eq!(followers, followed);
    let all: Vec<UserId> = fans.iter().map(|f| f.id).collect();
    assert_eq!(active_followers(&app.app, star.id, &all).await, followed);
    assert_eq!(followed, 200, "all 200 follows succeeded");
}

both_engines!(follow_unfollow_storm_on_one_pair, two_hundred_follow_one);
