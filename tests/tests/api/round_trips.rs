//! Sequential store round trips per request, on the embedded engine behind a latency wrapper
//! (`store/latency.rs`): what decides a request's latency on DynamoDB. Prints the table that
//! docs/benchmarks.md ("Round trips per request") keeps, and asserts today's count of every
//! route listed, so that none can grow unnoticed, and that authenticating a request is one
//! round trip, and that every route with a goal meets it: reads at most 2 round trips with
//! authentication, writes at most 3, a password login at most 4.
//!
//! `cargo test -p api-tests --test api round_trips:: -- --nocapture` prints the table.

use crate::badges_core_support::{badge_body, create_badge};

use std::sync::Arc;
use std::time::Duration;

use accounts::model::UserId;
use accounts::store::latency::{LatencyTable, RoundTrips};
use api_tests::app::TestApp;
use api_tests::fixtures::{admin, person, private_person};
use api_tests::{Engine, TestTable, both_engines, run_on};
use http::Method;
use serde_json::{Value as Json, json};

/// Long enough that calls joined in one task really overlap, short enough for a quick test.
const LATENCY: Duration = Duration::from_millis(3);

/// A request to measure: method, path, the caller's token, the body, the goal for it
/// (if any) and today's count, which the test asserts.
type Step<'a> = (Method, String, &'a str, Option<Json>, Option<u64>, u64);

struct Measured {
    route: String,
    status: u16,
    trips: RoundTrips,
    /// The goal for the route, where one is set (asserted).
    goal: Option<u64>,
    /// Today's count, asserted: a change that adds a sequential round trip fails here.
    ceiling: u64,
}

async fn measure(
    app: &TestApp,
    table: &LatencyTable,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Json>,
) -> (u16, RoundTrips) {
    let mut request = app.request(method, path);
    if let Some(token) = token {
        request = request.bearer(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    table.take();
    let response = request.send().await;
    (response.status.as_u16(), table.take())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_per_route() {
    run_on(Engine::Embedded, |t| async move {
        let latency = Arc::new(LatencyTable::new(t.table(), LATENCY));
        let app = TestApp::over(t, &[("RATE_LIMIT_SCALE", "1000")], latency.clone()).await;
        let root = admin(&app.app, 11).await;
        let alice = person(&app.app, 12).await;
        let bob = person(&app.app, 13).await;
        let carol = private_person(&app.app, 14).await;
        let badge = create_badge(&app, &root, badge_body("Ten", "common", 10)).await;
        // Bob has a follower and a badge (so the board has a row whose profile is read); every
        // caller's once-a-minute activity writes are made before anything is measured.
        for (who, target) in [(&carol, &bob)] {
            let response = app
                .post("/api/follows/")
                .bearer(&who.token)
                .json(json!({"following": target.n()}))
                .send()
                .await;
            assert_eq!(response.status, 201, "{}", response.body_json());
        }
        let response = app
            .post("/api/user-badges/")
            .bearer(&root.token)
            .json(json!({"user": bob.n(), "badge": badge}))
            .send()
            .await;
        assert_eq!(response.status, 201, "{}", response.body_json());
        for who in [&root, &alice, &bob, &carol] {
            assert_eq!(
                app.get("/api/auth/me/").bearer(&who.token).send().await.status,
                200
            );
        }
        let response = app
            .post("/api/auth/register/")
            .json(json!({"username": "lena", "email": "lena@example.com", "password": "violet-harbour-42"}))
            .send()
            .await;
        assert_eq!(response.status, 201);

        let (a, b) = (alice.n(), bob.n());
        let steps: Vec<Step> = vec![
            (Method::GET, "/api/auth/me/".into(), &alice.token, None, Some(2), 1),
            (Method::GET, format!("/api/profiles/{b}/"), &alice.token, None, Some(2), 2),
            (Method::GET, format!("/api/follows/?user={b}&direction=followers"), &alice.token, None, Some(2), 2),
            (Method::GET, "/api/events/?page_size=50".into(), &alice.token, None, Some(2), 2),
            (Method::GET, format!("/api/users/{a}/badge-progress/"), &alice.token, None, Some(2), 2),
            (Method::GET, "/api/badges/leaderboard/".into(), &alice.token, None, Some(2), 2),
            (Method::GET, "/api/settings/".into(), &alice.token, None, Some(2), 2),
            (Method::GET, "/api/users/".into(), &alice.token, None, None, 3),
            (Method::GET, "/api/profiles/?search=user".into(), &alice.token, None, None, 4),
            (Method::GET, "/api/sessions/".into(), &alice.token, None, None, 2),
            (Method::GET, "/api/auth/tokens/".into(), &alice.token, None, None, 2),
            (Method::GET, "/api/blocks/".into(), &alice.token, None, None, 2),
            (Method::GET, "/api/badges/".into(), &alice.token, None, None, 3),
            (Method::GET, "/api/user-badges/".into(), &alice.token, None, None, 3),
            (Method::GET, "/api/badges/analytics/".into(), &root.token, None, None, 3),
            (Method::GET, format!("/api/relationships/?id={b}"), &alice.token, None, None, 2),
            (Method::POST, "/api/follows/".into(), &alice.token, Some(json!({"following": b})), Some(3), 3),
            (Method::DELETE, format!("/api/follows/{a}-{b}/"), &alice.token, None, Some(3), 3),
            (Method::PATCH, format!("/api/profiles/{a}/"), &alice.token, Some(json!({"bio": "hello"})), Some(3), 3),
            (Method::PATCH, "/api/settings/".into(), &alice.token, Some(json!({"theme": "dark"})), Some(3), 3),
            (Method::POST, "/api/user-badges/".into(), &root.token, Some(json!({"user": a, "badge": badge})), Some(3), 3),
            (Method::POST, "/api/events/".into(), &alice.token, Some(json!({"event_type": "page_view"})), Some(3), 2),
            (Method::POST, "/api/blocks/".into(), &alice.token, Some(json!({"blocked": 14})), None, 4),
            (Method::POST, "/api/auth/tokens/".into(), &alice.token, Some(json!({"name": "ci"})), None, 4),
        ];
        let mut rows = Vec::new();
        for (method, path, token, body, goal, ceiling) in steps {
            let (status, trips) = measure(&app, &latency, method.clone(), &path, Some(token), body).await;
            rows.push(Measured {
                route: format!("{method} {path}"),
                status,
                trips,
                goal,
                ceiling,
            });
        }
        // Badge progress when this process holds no copy of the active definitions: the
        // definitions beside the authentication, then the user's data and the holder counts.
        app.app.active_badges.invalidate();
        let (status, trips) = measure(
            &app,
            &latency,
            Method::GET,
            &format!("/api/users/{a}/badge-progress/"),
            Some(&alice.token),
            None,
        )
        .await;
        rows.push(Measured {
            route: format!("GET /api/users/{a}/badge-progress/ (no cached definitions)"),
            status,
            trips,
            goal: Some(2),
            ceiling: 2,
        });
        // A password login, and the anonymous health check.
        let (status, trips) = measure(
            &app,
            &latency,
            Method::POST,
            "/api/auth/jwt/login/",
            None,
            Some(json!({"username": "lena", "password": "violet-harbour-42"})),
        )
        .await;
        rows.push(Measured {
            route: "POST /api/auth/jwt/login/".into(),
            status,
            trips,
            goal: Some(4),
            ceiling: 4,
        });
        let (status, trips) =
            measure(&app, &latency, Method::GET, "/api/health/", None, None).await;
        rows.push(Measured {
            route: "GET /api/health/".into(),
            status,
            trips,
            goal: Some(1),
            ceiling: 1,
        });

        println!("\n| request | status | store calls | sequential round trips | goal | p50 in AWS at 5 ms a call |");
        println!("|---|---|---|---|---|---|");
        for r in &rows {
            println!(
                "| `{}` | {} | {} | {} | {} | ~{} ms |",
                r.route,
                r.status,
                r.trips.calls,
                r.trips.round_trips,
                r.goal.map(|g| format!("≤ {g}")).unwrap_or_else(|| "—".into()),
                r.trips.round_trips * 5
            );
        }
        for r in &rows {
            assert!(r.status < 400, "{}: {}", r.route, r.status);
            assert!(
                r.trips.round_trips <= r.ceiling,
                "{}: {} round trips, more than the {} recorded in docs/benchmarks.md",
                r.route,
                r.trips.round_trips,
                r.ceiling
            );
        }
        for r in &rows {
            if let Some(goal) = r.goal {
                assert!(
                    r.trips.round_trips <= goal,
                    "{}: {} round trips, the goal is {goal}",
                    r.route,
                    r.trips.round_trips
                );
            }
        }
        // Authentication itself is one round trip (a JWT's session and user side by side).
        assert_eq!(rows[0].trips.round_trips, 1, "GET /api/auth/me/");
    })
    .await;
}

/// The routes whose reads start beside the authentication (`http::auth::caller_with`), for a
/// caller `me` acting on `other` (an edge `me`→`other` exists) with `badge`.
fn read_ahead_routes(me: i64, other: i64) -> Vec<(Method, String)> {
    vec![
        (
            Method::GET,
            format!("/api/follows/?user={other}&direction=followers"),
        ),
        (Method::GET, format!("/api/users/{me}/badge-progress/")),
        (Method::GET, "/api/badges/leaderboard/".into()),
        (Method::DELETE, format!("/api/follows/{me}-{other}/")),
    ]
}

/// What is read beside the authentication serves nobody whose authentication then fails: a
/// suspended account gets 403 and an ended session 401 on every such route, the unfollow
/// removes no edge and the award awards nothing.
async fn reads_ahead_serve_no_failed_caller(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 11).await;
    let alice = person(&app.app, 12).await;
    let bob = person(&app.app, 13).await;
    let badge = create_badge(&app, &root, badge_body("Ten", "common", 10)).await;
    let follow_bob = |who: &api_tests::fixtures::Person| {
        app.post("/api/follows/")
            .bearer(&who.token)
            .json(json!({"following": bob.n()}))
    };
    let response = follow_bob(&alice).send().await;
    assert_eq!(response.status, 201, "{}", response.body_json());
    let edge_exists = |who: i64| {
        let app = &app.app;
        async move {
            accounts::social::is_following(app, UserId(who), bob.id)
                .await
                .unwrap()
        }
    };

    // Suspended while the session still lives (the suspend endpoint also ends the sessions,
    // which the 401 half below covers): the flag alone, as stored. The first refusal ends the
    // sessions too, so each route gets an account of its own.
    for n in 0..read_ahead_routes(0, 0).len() {
        let dave = person(&app.app, 20 + n as i64).await;
        let (method, path) = read_ahead_routes(dave.n(), bob.n()).swap_remove(n);
        let response = follow_bob(&dave).send().await;
        assert_eq!(response.status, 201, "{}", response.body_json());
        app.app
            .table
            .update(
                &accounts::store::keys::user(dave.id),
                accounts::store::Update::new().set("is_suspended", true),
                None,
            )
            .await
            .unwrap();
        let response = app
            .request(method.clone(), &path)
            .bearer(&dave.token)
            .send()
            .await;
        assert_eq!(
            response.status,
            403,
            "{method} {path}: {}",
            response.body_json()
        );
        assert!(
            edge_exists(dave.n()).await,
            "a suspended account unfollowed"
        );
    }

    accounts::auth::sessions::end_other_sessions(&app.app, alice.id, None)
        .await
        .unwrap();
    accounts::auth::sessions::end_other_sessions(&app.app, root.id, None)
        .await
        .unwrap();
    for (method, path) in read_ahead_routes(alice.n(), bob.n()) {
        let response = app
            .request(method.clone(), &path)
            .bearer(&alice.token)
            .send()
            .await;
        assert_eq!(
            response.status,
            401,
            "{method} {path}: {}",
            response.body_json()
        );
    }
    assert!(edge_exists(alice.n()).await, "an ended session unfollowed");
    let response = app
        .post("/api/user-badges/")
        .bearer(&root.token)
        .json(json!({"user": alice.n(), "badge": badge}))
        .send()
        .await;
    assert_eq!(response.status, 401, "{}", response.body_json());
    let held = accounts::badges::awards::held_badges(&app.app, alice.id)
        .await
        .unwrap();
    assert!(held.is_empty(), "an ended session awarded {held:?}");
}

both_engines!(reads_ahead_serve_no_failed_caller);
