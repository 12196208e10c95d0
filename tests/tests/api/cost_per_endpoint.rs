//! Cost per endpoint: the store calls of a representative request of every route group, and on
//! DynamoDB the capacity units the engine reported, counted by `store::counting::CountingTable`
//! (the table in docs/benchmarks.md, "Cost per endpoint"). Each row is pinned to the documented
//! minimum of its endpoint: a request that starts making more calls fails here.
//!
//! `cargo test -p api-tests --test cost_per_endpoint -- --nocapture` prints the table. Every
//! request is authenticated with a JWT (a session read and a profile read), and each caller's
//! once-a-minute activity writes are warmed up first (the clock stands still afterwards).

use crate::users_support;

use accounts::model::Role;
use accounts::store::counting::{CountingTable, StoreCalls, StoreOp};
use api_tests::fixtures::{PASSWORD, Person, call, member};
use api_tests::{Engine, TestTable, both_engines};
use http::Method;
use serde_json::{Value as Json, json};
use users_support::counting_app;

/// One measured request.
struct Row {
    group: &'static str,
    request: String,
    calls: StoreCalls,
    /// The documented store calls, as `CountingTable` prints them (`get=2 query=1`).
    documented: &'static str,
}

/// Sends the request as `who`, asserts its status and returns what reached the store.
async fn measure(
    app: &api_tests::app::TestApp,
    table: &CountingTable,
    who: &Person,
    method: Method,
    path: &str,
    body: Option<Json>,
    status: u16,
) -> StoreCalls {
    table.reset();
    let (got, response) = call(app, who, method.clone(), path, body).await;
    assert_eq!(got, status, "{method} {path}: {response}");
    table.take()
}

fn capacity_cell(calls: &StoreCalls) -> String {
    if calls.capacity.is_reported() {
        format!("{} ({})", calls.capacity.total_units(), calls.capacity)
    } else {
        "-".to_owned()
    }
}

/// docs/benchmarks.md, read when the test is built: a change to either side must be made to both.
const BENCHMARKS: &str = include_str!("../../../docs/benchmarks.md");

/// The rows of the table under "## Cost per endpoint": (group, request without backticks, store
/// calls, total).
fn documented_rows() -> Vec<(String, String, String, String)> {
    let section = BENCHMARKS
        .split("\n## ")
        .find(|s| s.starts_with("Cost per endpoint"))
        .expect("docs/benchmarks.md has a \"Cost per endpoint\" section");
    section
        .lines()
        .skip_while(|line| !line.starts_with("| group | request |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<String> = line
                .split('|')
                .map(|cell| cell.trim().replace('`', ""))
                .collect();
            assert!(cells.len() >= 6, "a row of the cost table: {line}");
            (
                cells[1].clone(),
                cells[2].clone(),
                cells[3].clone(),
                cells[4].clone(),
            )
        })
        .collect()
}

/// The expected calls pinned in this test are the doc's table, row for row: same requests in the
/// same order, same store calls, and a total that adds up.
fn assert_rows_are_the_doc(rows: &[Row]) {
    let doc = documented_rows();
    let pinned: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.group.to_owned(), r.request.clone()))
        .collect();
    let listed: Vec<(String, String)> = doc
        .iter()
        .map(|(group, request, _, _)| (group.clone(), request.clone()))
        .collect();
    assert_eq!(
        listed, pinned,
        "docs/benchmarks.md, \"Cost per endpoint\", lists other requests than this test"
    );
    for (r, (_, request, calls, total)) in rows.iter().zip(&doc) {
        assert_eq!(
            calls, r.documented,
            "{request}: the store calls in docs/benchmarks.md differ from the ones pinned here"
        );
        let sum: u64 = calls
            .split_whitespace()
            .map(|c| {
                c.split_once('=')
                    .and_then(|(_, n)| n.parse::<u64>().ok())
                    .unwrap_or_else(|| panic!("{request}: a store call count: {c}"))
            })
            .sum();
        assert_eq!(total, &sum.to_string(), "{request}: the total column");
    }
}

both_engines!(
    async fn store_calls_of_every_group(t: TestTable) {
        let engine = t.engine();
        let (app, table) = counting_app(t).await;
        let admin = member(&app, "admin", Role::Admin).await;
        let alice = member(&app, "alice", Role::Normal).await;
        let bob = member(&app, "bob", Role::Normal).await;
        // The first request of each caller writes its activity (session and `last_active`).
        for who in [&admin, &alice, &bob] {
            call(&app, who, Method::GET, "/api/auth/me/", None).await;
        }

        let mut rows = Vec::new();
        let mut row = |group, request: String, calls: StoreCalls, documented| {
            rows.push(Row {
                group,
                request,
                calls,
                documented,
            });
        };

        // Auth.
        let calls = measure(
            &app,
            &table,
            &alice,
            Method::GET,
            "/api/auth/me/",
            None,
            200,
        )
        .await;
        row("auth", "GET /api/auth/me/".into(), calls, "get=2");
        table.reset();
        let login = app
            .post("/api/auth/jwt/login/")
            .json(json!({ "username": "alice", "password": PASSWORD }))
            .send()
            .await;
        assert_eq!(login.status, 200, "login: {}", login.body_json());
        // docs/benchmarks.md, "Authentication": 6 gets (the per-address-and-name limit is the
        // sixth, read beside the per-address one), the second-factor queries (TOTP factors and
        // passkeys, beside the profile), the new-device query, the session and the event.
        // Alice's visit of the day was recorded by her first request: the login writes no day
        // of its own (`activity::tallies::record_visit`, once a day).
        row(
            "auth",
            "POST /api/auth/jwt/login/".into(),
            table.take(),
            "get=6 put=2 query=3",
        );
        let calls = measure(
            &app,
            &table,
            &alice,
            Method::GET,
            "/api/auth/tokens/",
            None,
            200,
        )
        .await;
        row(
            "auth",
            "GET /api/auth/tokens/".into(),
            calls,
            "get=2 query=1",
        );
        table.reset();
        let health = app.get("/api/health/").send().await;
        assert_eq!(health.status, 200);
        row("auth", "GET /api/health/".into(), table.take(), "health=1");

        // Users.
        let calls = measure(
            &app,
            &table,
            &admin,
            Method::GET,
            "/api/users/?page_size=25",
            None,
            200,
        )
        .await;
        row(
            "users",
            "GET /api/users/?page_size=25 (admin)".into(),
            calls,
            "get=2 batch_get=1 query=16",
        );
        let own = format!("/api/users/{}/", alice.id);
        let calls = measure(&app, &table, &alice, Method::GET, &own, None, 200).await;
        row("users", "GET /api/users/{id}/ (own)".into(), calls, "get=3");

        // Profiles.
        let own_profile = format!("/api/profiles/{}/", alice.id);
        let calls = measure(&app, &table, &alice, Method::GET, &own_profile, None, 200).await;
        row(
            "profiles",
            "GET /api/profiles/{id}/ (own)".into(),
            calls,
            "get=2",
        );
        let bobs_profile = format!("/api/profiles/{}/", bob.id);
        let calls = measure(&app, &table, &alice, Method::GET, &bobs_profile, None, 200).await;
        row(
            "profiles",
            "GET /api/profiles/{id}/ (another user's, public)".into(),
            calls,
            "get=2 batch_get=1",
        );
        let calls = measure(
            &app,
            &table,
            &alice,
            Method::PATCH,
            &own_profile,
            Some(json!({ "bio": "hello" })),
            200,
        )
        .await;
        row(
            "profiles",
            "PATCH /api/profiles/{id}/ (bio)".into(),
            calls,
            "get=2 put=1 update=1",
        );
        let calls = measure(
            &app,
            &table,
            &alice,
            Method::GET,
            "/api/settings/",
            None,
            200,
        )
        .await;
        row("profiles", "GET /api/settings/".into(), calls, "get=3");

        // Social.
        let calls = measure(
            &app,
            &table,
            &alice,
            Method::POST,
            "/api/follows/",
            Some(json!({ "following": bob.id })),
            201,
        )
        .await;
        row(
            "social",
            "POST /api/follows/ (public account)".into(),
            calls,
            "get=2 put=1 transact_write=1",
        );
        let calls = measure(
            &app,
            &table,
            &bob,
            Method::GET,
            "/api/follows/?direction=followers",
            None,
            200,
        )
        .await;
        row(
            "social",
            "GET /api/follows/?direction=followers (own)".into(),
            calls,
            "get=2 batch_get=1 query=1",
        );
        let rels = format!("/api/relationships/?id={}", bob.id);
        let calls = measure(&app, &table, &alice, Method::GET, &rels, None, 200).await;
        row(
            "social",
            "GET /api/relationships/?id=… (one id)".into(),
            calls,
            "get=2 batch_get=1",
        );
        let edge = format!("/api/follows/{}-{}/", alice.id, bob.id);
        let calls = measure(&app, &table, &alice, Method::DELETE, &edge, None, 204).await;
        row(
            "social",
            "DELETE /api/follows/{id}/ (unfollow)".into(),
            calls,
            "get=2 batch_get=1 put=1 transact_write=1",
        );

        // Activity.
        let calls = measure(
            &app,
            &table,
            &alice,
            Method::POST,
            "/api/events/",
            Some(json!({ "event_type": "page_view" })),
            201,
        )
        .await;
        row(
            "activity",
            "POST /api/events/ (page_view)".into(),
            calls,
            "get=2 put=1",
        );
        let calls = measure(
            &app,
            &table,
            &alice,
            Method::GET,
            "/api/events/?page_size=50",
            None,
            200,
        )
        .await;
        row(
            "activity",
            "GET /api/events/?page_size=50".into(),
            calls,
            "get=2 query=1",
        );
        let calls = measure(
            &app,
            &table,
            &alice,
            Method::GET,
            "/api/sessions/",
            None,
            200,
        )
        .await;
        row(
            "activity",
            "GET /api/sessions/".into(),
            calls,
            "get=2 query=1",
        );

        println!("\n{engine}:\n");
        println!("| group | request | store calls | total | capacity units (DynamoDB) |");
        println!("|---|---|---|---|---|");
        for r in &rows {
            println!(
                "| {} | `{}` | {} | {} | {} |",
                r.group,
                r.request,
                r.calls.calls,
                r.calls.calls.total(),
                capacity_cell(&r.calls)
            );
        }

        assert_rows_are_the_doc(&rows);
        for r in &rows {
            assert_eq!(
                r.calls.calls.to_string(),
                r.documented,
                "{} {}: store calls differ from the documented minimum",
                r.group,
                r.request
            );
            assert_eq!(r.calls.failed.total(), 0, "{}: a call failed", r.request);
            // The engine reports capacity on every DynamoDB call that answers with it and
            // never on the embedded engine.
            match engine {
                Engine::Embedded => assert!(!r.calls.capacity.is_reported(), "{}", r.request),
                Engine::DynamoDb => assert!(
                    r.calls.capacity.reported.get >= r.calls.calls.get,
                    "{}: every get reports its capacity: {}",
                    r.request,
                    r.calls.capacity
                ),
            }
        }
        if engine == Engine::DynamoDb {
            // moto charges a flat half unit per GetItem when asked for the total.
            let me = &rows[0].calls.capacity;
            assert_eq!((me.reported.get, me.units(StoreOp::Get)), (2, 1.0));
        }
    }
);
