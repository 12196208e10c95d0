//! A request whose handler is still running at its deadline (a Lambda's, less a reserve) is
//! answered 503 with `Retry-After`, on both engines, and changes nothing it had not finished:
//! the function is never stopped mid-request. `docs/faults.md`, "A store that stops answering".

use crate::social_support;

use std::time::Duration;

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

both_engines!(
    a_hung_store_is_a_503_at_the_deadline,
    a_hung_read_is_a_503_and_no_deadline_waits,
);
