//! A request whose handler is still running at its deadline (a Lambda's, less a reserve) is
//! answered 503 with `Retry-After`, on both engines, and changes nothing it had not finished:
//! the function is never stopped mid-request, and a store that stops answering in the middle of
//! a write path leaves every change whole. `docs/faults.md`, "A store that stops answering".

use crate::social_support;

use std::time::Duration;

use api_tests::fixtures::{Person, person};
use api_tests::lost_answers::LosesAnswers;
use api_tests::{TestTable, both_engines};
use serde_json::json;
use social_support::*;

/// Without the deadline a request to a silent store would wait forever: fail instead.
async fn answered<F: std::future::Future>(request: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), request)
        .await
        .expect("answered by its deadline")
}

/// A store that stops answering: the follow is answered 503 at its deadline, with
/// `Retry-After` and the error shape; nothing moved. Answering again, the same follow is 201.
async fn a_hung_store_is_a_503_at_the_deadline(t: TestTable) {
    let (app, store) = LosesAnswers::under_app(t).await;
    let a = person(&app.app, 1).await;
    let b = person(&app.app, 2).await;
    let follow_due = |within: Duration| {
        app.post("/api/follows/")
            .bearer(&a.token)
            .json(json!({ "following": b.id }))
            .due_within(within)
            .send()
    };

    store.stop_answering();
    let response = answered(follow_due(Duration::from_millis(50))).await;
    store.answer_again();
    assert!(store.hung() >= 1, "the store was asked and did not answer");
    assert_eq!(response.status, 503, "{}", response.body_json());
    assert_eq!(response.headers["retry-after"], "1");
    assert!(response.body_json()["detail"].is_string());
    assert_eq!(counters(&app.app, a.id).await, (0, 0));
    assert_eq!(counters(&app.app, b.id).await, (0, 0));

    // With time to spare the same request goes through, once.
    let response = follow_due(Duration::from_secs(60)).await;
    assert_eq!(response.status, 201, "{}", response.body_json());
    assert_eq!(counters(&app.app, a.id).await, (0, 1));
    assert_eq!(counters(&app.app, b.id).await, (1, 0));
}

/// A read that hangs is cut the same way; a request with no deadline is never cut (accounts-local).
async fn a_hung_read_is_a_503_and_no_deadline_waits(t: TestTable) {
    let (app, store) = LosesAnswers::under_app(t).await;
    let a = person(&app.app, 1).await;
    let path = format!("/api/profiles/{}/", a.id);

    store.stop_answering();
    let response = answered(
        app.get(&path)
            .bearer(&a.token)
            .due_within(Duration::from_millis(50))
            .send(),
    )
    .await;
    assert_eq!(response.status, 503, "{}", response.body_json());
    assert_eq!(response.headers["retry-after"], "1");

    // Without a deadline the request waits for the store, however long.
    let waiting = tokio::time::timeout(
        Duration::from_millis(200),
        app.get(&path).bearer(&a.token).send(),
    )
    .await;
    assert!(
        waiting.is_err(),
        "a request without a deadline was answered by a silent store"
    );
    store.answer_again();
    let response = app
        .get(&path)
        .bearer(&a.token)
        .due_within(Duration::from_secs(60))
        .send()
        .await;
    assert_eq!(response.status, 200, "{}", response.body_json());
}

/// The pair `id` and `id + 1`, each following the other.
async fn mutual_pair(app: &api_tests::app::TestApp, id: i64) -> (Person, Person) {
    let a = person(&app.app, id).await;
    let b = person(&app.app, id + 1).await;
    assert_eq!(follow(app, &a, b.id).await.status, 201);
    assert_eq!(follow(app, &b, a.id).await.status, 201);
    (a, b)
}

/// The store stops answering in the middle of a block between two users who follow each other:
/// after 0, 1, 2, ... of the block's calls were answered, for every count up to all of them.
/// Each time the answer is the block's own or a 503 at the deadline, and the store holds all of
/// the block (the block edge, neither follow, every counter down) or none of it (no block, both
/// follows, every counter as it was), never a part. Some of the cuts fall after the block's
/// transaction committed (the event log's write is still to come): those answer 503 with the
/// whole block stored, which the client's retry then meets as "already blocked".
async fn a_store_that_stops_mid_write_leaves_no_partial_write(t: TestTable) {
    let (app, store) = LosesAnswers::under_app(t).await;
    // How many calls a block answered all the way makes.
    let (a, b) = mutual_pair(&app, 1).await;
    let before = store.answered();
    assert_eq!(block(&app, &a, b.id).await.status, 201);
    let calls = store.answered() - before;
    assert!(calls >= 3, "a block reads, writes and logs: {calls} calls");

    let (mut untouched, mut whole_then_cut, mut done) = (0, 0, 0);
    for answered_calls in 0..=calls {
        let (a, b) = mutual_pair(&app, 10 + 2 * answered_calls as i64).await;
        store.stop_answering_after(answered_calls);
        let response = answered(
            app.post("/api/blocks/")
                .bearer(&a.token)
                .json(json!({ "blocked": b.id }))
                .due_within(Duration::from_millis(300))
                .send_unsettled(),
        )
        .await;
        store.answer_again();
        app.settled().await;
        let status = response.status.as_u16();
        let blocked = block_exists(&app.app, a.id, b.id).await;
        let follows = (
            edge_exists(&app.app, a.id, b.id).await,
            edge_exists(&app.app, b.id, a.id).await,
        );
        let at = format!("cut after {answered_calls} of {calls} calls: {status}");
        if blocked {
            assert_eq!(follows, (false, false), "{at}: the block took the follows");
            assert_eq!(counters(&app.app, a.id).await, (0, 0), "{at}");
            assert_eq!(counters(&app.app, b.id).await, (0, 0), "{at}");
        } else {
            assert_eq!(follows, (true, true), "{at}: nothing of the block");
            assert_eq!(counters(&app.app, a.id).await, (1, 1), "{at}");
            assert_eq!(counters(&app.app, b.id).await, (1, 1), "{at}");
        }
        assert_counters_exact(&app.app, &[a.id, b.id]).await;
        match (status, blocked) {
            (503, false) => untouched += 1,
            (503, true) => whole_then_cut += 1,
            (201, true) => done += 1,
            _ => panic!("{at}: {}", response.body_json()),
        }
        if status == 503 {
            assert_eq!(response.headers["retry-after"], "1", "{at}");
        }
    }
    assert!(untouched >= 1, "a cut before the transaction");
    assert!(whole_then_cut >= 1, "a cut after the transaction committed");
    assert!(done >= 1, "a cut after the request's last call");
}

both_engines!(
    a_hung_store_is_a_503_at_the_deadline,
    a_hung_read_is_a_503_and_no_deadline_waits,
    a_store_that_stops_mid_write_leaves_no_partial_write,
);
