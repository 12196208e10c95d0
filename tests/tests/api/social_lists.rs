//! Follow lists through the HTTP API, on both engines: directions, another user's lists and
//! their privacy, cursor pagination, bad parameters; and the store calls of the endpoints
//! the issue names (follow, a followers page of 50, relationships for 40 ids).

use crate::social_support;

use accounts::store::counting::{CountingTable, OpCounts};
use accounts::store::{Update, keys};
use api_tests::app::TestApp;
use api_tests::fixtures::{Person, person, person_with, private_person};
use api_tests::{TestTable, both_engines};
use serde_json::{Value as Json, json};
use social_support::*;

fn ids(list: &Json) -> Vec<String> {
    list["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Following and followers of the caller and of others, with count, cards and cursors.
async fn directions_and_pages(t: TestTable) {
    let app = TestApp::new(t).await;
    let a = person(&app.app, 1).await;
    let mut others = Vec::new();
    for id in 2..=6 {
        let p = person(&app.app, id).await;
        assert_eq!(follow(&app, &a, p.id).await.status, 201);
        others.push(p);
    }
    assert_eq!(follow(&app, &others[0], a.id).await.status, 201);

    let (status, first) = get_json(&app, &a, "/api/follows/?page_size=2").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["count"], 5);
    assert_eq!(first["previous"], Json::Null);
    assert_eq!(ids(&first), ["1-2", "1-3"]);
    let card = &first["results"][0]["user"];
    assert_eq!(card["id"], 2, "the followed user's card: {card}");
    assert!(
        card.get("email").is_none(),
        "a public card has no email: {card}"
    );
    let mut seen = ids(&first);
    let mut next = first["next"].as_str().map(str::to_owned);
    while let Some(cursor) = next {
        let (status, page) = get_json(
            &app,
            &a,
            &format!("/api/follows/?page_size=2&cursor={cursor}"),
        )
        .await;
        assert_eq!(status, 200);
        seen.extend(ids(&page));
        next = page["next"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, ["1-2", "1-3", "1-4", "1-5", "1-6"]);

    let (_, followers) = get_json(&app, &a, "/api/follows/?direction=followers").await;
    assert_eq!(followers["count"], 1);
    assert_eq!(ids(&followers), ["2-1"]);
    assert_eq!(
        followers["results"][0]["user"]["id"], 2,
        "the follower's card"
    );

    // Another user's lists, public account.
    let (status, theirs) =
        get_json(&app, &others[1], "/api/follows/?user=1&direction=followers").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&theirs), ["2-1"]);
    let (status, _) = get_json(&app, &others[1], "/api/follows/?user=99").await;
    assert_eq!(status, 404);

    // Bad parameters are 400 on the parameter.
    for (query, field) in [
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page_size=x", "page_size"),
        ("direction=sideways", "direction"),
        ("status=maybe", "status"),
        ("user=abc", "user"),
        ("cursor=%21%21not-a-cursor", "cursor"),
    ] {
        let response = app
            .get(&format!("/api/follows/?{query}"))
            .bearer(&a.token)
            .send()
            .await;
        assert_eq!(response.status, 400, "{query}: {:?}", response.body_json());
        assert!(
            response.body_json()[field].is_array(),
            "{query}: {:?}",
            response.body_json()
        );
    }
    assert_eq!(app.get("/api/follows/").send().await.status, 401);
}

/// A private account's lists: to itself and its active followers only (a pending follower or
/// a stranger gets 403); a suspended account's lists are 404; staff see them.
async fn private_lists(t: TestTable) {
    let app = TestApp::new(t).await;
    let p = private_person(&app.app, 1).await;
    let follower = person(&app.app, 2).await;
    let asker = person(&app.app, 3).await;
    let stranger = person(&app.app, 4).await;
    let moderator = person_with(&app.app, 5, accounts::model::Role::Moderator, false).await;
    assert_eq!(follow(&app, &follower, p.id).await.status, 201);
    let approve = app
        .post("/api/follows/2-1/approve/")
        .bearer(&p.token)
        .send()
        .await;
    assert_eq!(approve.status, 200);
    assert_eq!(follow(&app, &asker, p.id).await.status, 201);

    for path in [
        "/api/follows/?user=1",
        "/api/follows/?user=1&direction=followers",
    ] {
        assert_eq!(get_json(&app, &p, path).await.0, 200, "self: {path}");
        assert_eq!(
            get_json(&app, &follower, path).await.0,
            200,
            "follower: {path}"
        );
        let (status, body) = get_json(&app, &asker, path).await;
        assert_eq!(status, 403, "pending follower: {path}");
        assert_eq!(body["detail"], "This account is private.");
        assert_eq!(
            get_json(&app, &stranger, path).await.0,
            403,
            "stranger: {path}"
        );
        assert_eq!(
            get_json(&app, &moderator, path).await.0,
            200,
            "staff: {path}"
        );
    }
    let (_, followers) =
        get_json(&app, &follower, "/api/follows/?user=1&direction=followers").await;
    assert_eq!(
        ids(&followers),
        ["2-1"],
        "pending requests are not followers"
    );

    app.app
        .table
        .update(
            &keys::user(p.id),
            Update::new().set("is_suspended", true),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        get_json(&app, &follower, "/api/follows/?user=1").await.0,
        404
    );
}

/// The calls an authenticated request makes before the handler's own (session and profile).
async fn auth_baseline(app: &TestApp, table: &CountingTable, who: &Person) -> OpCounts {
    table.reset();
    let response = app
        .get("/api/relationships/")
        .bearer(&who.token)
        .send()
        .await;
    assert_eq!(response.status, 200);
    table.take().calls
}

fn minus(total: OpCounts, baseline: OpCounts) -> OpCounts {
    total.saturating_sub(&baseline)
}

/// The store calls of follow (one transaction), a followers page of 50 (one query and one
/// batch read) and relationships for 40 ids (one batch read), beyond authentication.
async fn store_calls(t: TestTable) {
    let (app, table) = counting_app(t, &[]).await;
    let star = person(&app.app, 1).await;
    let mut fans = Vec::new();
    for id in 2..=52 {
        fans.push(person(&app.app, id).await);
    }
    let last = fans.pop().expect("52 users");
    for fan in &fans {
        assert_eq!(follow(&app, fan, star.id).await.status, 201);
    }
    // The first request of the day records the day's visit: made before anything is measured.
    auth_baseline(&app, &table, &last).await;
    let baseline = auth_baseline(&app, &table, &last).await;
    assert_eq!(baseline.transact_write, 0);

    table.reset();
    assert_eq!(follow(&app, &last, star.id).await.status, 201);
    let calls = minus(table.take().calls, baseline);
    // The event log is one put; everything else of a follow is the transaction.
    assert_eq!(calls.transact_write, 1, "{calls}");
    assert_eq!(calls.reads(), 0, "{calls}");
    assert_eq!(calls.put, 1, "the event: {calls}");
    println!("follow: {calls} beyond auth {baseline}");

    let baseline = auth_baseline(&app, &table, &star).await;
    table.reset();
    let (status, page) = get_json(
        &app,
        &star,
        "/api/follows/?direction=followers&page_size=50",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["results"].as_array().unwrap().len(), 50);
    let calls = minus(table.take().calls, baseline);
    assert_eq!(
        (calls.query, calls.batch_get, calls.total()),
        (1, 1, 2),
        "{calls}"
    );
    println!("own followers page of 50: {calls} beyond auth {baseline}");

    let baseline = auth_baseline(&app, &table, &last).await;
    table.reset();
    let (status, _) = get_json(
        &app,
        &last,
        "/api/follows/?user=1&direction=followers&page_size=50",
    )
    .await;
    assert_eq!(status, 200);
    let calls = minus(table.take().calls, baseline);
    assert_eq!(
        (calls.query, calls.batch_get, calls.total()),
        (1, 2, 3),
        "{calls}"
    );
    println!("another user's followers page of 50: {calls} beyond auth {baseline}");

    let query: String = (2..=41).map(|i| format!("id={i}&")).collect();
    table.reset();
    let (status, rels) = get_json(&app, &star, &format!("/api/relationships/?{query}")).await;
    assert_eq!(status, 200);
    assert_eq!(rels.as_array().unwrap().len(), 40);
    assert_eq!(
        rels[0],
        json!({"id": 2, "following": false, "followed_by": true, "requested": false,
        "requested_by": false, "blocking": false, "blocked_by": false})
    );
    let calls = minus(table.take().calls, baseline);
    assert_eq!((calls.batch_get, calls.total()), (1, 1), "{calls}");
    println!("relationships for 40 ids: {calls} beyond auth {baseline}");
}

both_engines!(directions_and_pages, private_lists, store_calls);
