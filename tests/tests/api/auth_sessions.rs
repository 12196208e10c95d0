//! Sessions, login and request authentication through the HTTP API, on both engines: login by
//! username and email, enumeration-equal failures, lockout and the per-IP limit, cookies and
//! CSRF, logout, idle and absolute expiry, suspension, throttled activity writes, access-token
//! auto-renewal, unverified accounts, and the store cost of `GET /api/auth/me/`.

use std::sync::Arc;

use accounts::clock::Clock;
use accounts::http::ApiResponse;
use accounts::model::UserId;
use accounts::store::counting::CountingTable;
use accounts::store::{Item, Table, Update, Value, keys};
use api_tests::app::{TestApp, set_cookie};
use api_tests::fixtures::{PASSWORD, Signup, jwt_login, register};
use api_tests::{TestTable, both_engines};
use chrono::Duration;
use serde_json::{Value as Json, json};

const CSRF_FAILED: &str = "CSRF Failed: CSRF token missing or incorrect.";
const NOT_VERIFIED: &str = "Email address not verified.";
const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";

// ------------------------------------------------------------------------------- helpers

/// A TestApp whose configuration has these variables on top of the local defaults, over
/// `table` (the test's own, or a wrapper of it).
async fn app_with(t: TestTable, vars: &[(&str, &str)], table: Option<Arc<dyn Table>>) -> TestApp {
    let table = table.unwrap_or_else(|| t.table());
    TestApp::over(t, vars, table).await
}

/// A browser's session after a cookie login: the two cookie values.
struct Browser {
    session: String,
    csrf: String,
}

async fn login(app: &TestApp, identifier: &str, password: &str) -> ApiResponse {
    let field = if identifier.contains('@') {
        "email"
    } else {
        "username"
    };
    app.post("/api/auth/login/")
        .json(json!({ field: identifier, "password": password }))
        .send()
        .await
}

async fn browser_login(app: &TestApp, username: &str) -> Browser {
    let response = login(app, username, PASSWORD).await;
    assert_eq!(response.status, 200, "login: {}", response.body_json());
    Browser {
        session: set_cookie(&response, "sessionid").expect("sessionid cookie"),
        csrf: set_cookie(&response, "csrftoken").expect("csrftoken cookie"),
    }
}

async fn me_with_cookie(app: &TestApp, b: &Browser) -> ApiResponse {
    app.get("/api/auth/me/")
        .cookies(&[("sessionid", &b.session), ("csrftoken", &b.csrf)])
        .send()
        .await
}

async fn me_with_bearer(app: &TestApp, access: &str) -> ApiResponse {
    app.get("/api/auth/me/").bearer(access).send().await
}

/// A cookie-authenticated POST with an optional `X-CSRFToken`.
async fn cookie_post(
    app: &TestApp,
    path: &str,
    b: &Browser,
    csrf_header: Option<&str>,
) -> ApiResponse {
    let mut request = app
        .post(path)
        .cookies(&[("sessionid", &b.session), ("csrftoken", &b.csrf)]);
    if let Some(token) = csrf_header {
        request = request.header("x-csrftoken", token);
    }
    request.send().await
}

fn set_cookie_headers(response: &ApiResponse) -> Vec<String> {
    response
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn cookie_header(response: &ApiResponse, name: &str) -> String {
    set_cookie_headers(response)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no Set-Cookie for {name}"))
}

fn detail(response: &ApiResponse) -> String {
    response.body_json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn profile_item(app: &TestApp, id: i64) -> Item {
    app.table()
        .get(&keys::user(UserId(id)), true)
        .await
        .unwrap()
        .expect("the profile item")
}

async fn session_item(app: &TestApp, session_id: &str) -> Item {
    app.table()
        .get(&keys::session(session_id), true)
        .await
        .unwrap()
        .expect("the session item")
}

fn session_id_of(b: &Browser) -> String {
    // `<user id>-<session id>.<secret>`
    let named = b.session.split('.').next().unwrap();
    named
        .split_once('-')
        .map_or(named, |(_, sid)| sid)
        .to_owned()
}

fn int(item: &Item, attr: &str) -> i64 {
    item.get(attr)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("{attr} is not a number"))
}

async fn events_of_type(app: &TestApp, event_type: &str) -> Vec<Item> {
    api_tests::fixtures::events_by_type(app.table(), event_type).await
}

// ------------------------------------------------------------------------------- login

async fn login_by_username_and_by_email(t: TestTable) {
    let app = TestApp::new(t).await;
    let id = register(&app, "ada").await.0;

    let response = login(&app, "ada", PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.body_json());
    let user = response.body_json();
    assert_eq!(user["id"], id);
    assert_eq!(user["username"], "ada");
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["is_verified"], true);
    let body = String::from_utf8_lossy(&response.body).to_lowercase();
    assert!(
        !body.contains("password") && !body.contains("hash"),
        "no secrets: {body}"
    );

    // The session cookie: HttpOnly, SameSite=Lax, Path=/, lives as long as the session; not
    // Secure on plain-HTTP localhost (the local default).
    let session = cookie_header(&response, "sessionid");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1209600"] {
        assert!(
            session.contains(attribute),
            "{attribute} missing: {session}"
        );
    }
    assert!(!session.contains("Secure"), "{session}");
    let csrf = cookie_header(&response, "csrftoken");
    assert!(
        csrf.contains("SameSite=Lax") && csrf.contains("Path=/"),
        "{csrf}"
    );
    assert!(
        !csrf.contains("HttpOnly"),
        "scripts must read the CSRF cookie: {csrf}"
    );

    let b = Browser {
        session: set_cookie(&response, "sessionid").unwrap(),
        csrf: set_cookie(&response, "csrftoken").unwrap(),
    };
    let me = me_with_cookie(&app, &b).await;
    assert_eq!(me.status, 200, "{}", me.body_json());
    let me = me.body_json();
    assert_eq!(me["id"], id);
    assert_eq!(me["display_name"], "ada");
    assert!(me.get("follower_count").is_some() && me.get("created_at").is_some());
    assert!(me.get("last_active_epoch").is_none());

    // By email, in any case.
    for email in ["ada@example.com", "ADA@Example.COM"] {
        let response = login(&app, email, PASSWORD).await;
        assert_eq!(response.status, 200, "{email}: {}", response.body_json());
        assert_eq!(response.body_json()["id"], id);
    }

    // JWT login: tokens, the user, and a session behind them; /me works with the token.
    let tokens = jwt_login(&app, "ada").await;
    assert_eq!(tokens.user["id"], id);
    let access = tokens.access.as_str();
    assert!(!tokens.refresh.is_empty());
    let me = me_with_bearer(&app, access).await;
    assert_eq!(me.status, 200, "{}", me.body_json());
    assert_eq!(me.body_json()["username"], "ada");

    assert_eq!(events_of_type(&app, "login").await.len(), 4);
}

async fn missing_fields_are_field_errors(t: TestTable) {
    let app = TestApp::new(t).await;
    let response = app.post("/api/auth/login/").json(json!({})).send().await;
    assert_eq!(response.status, 400);
    let body = response.body_json();
    assert!(
        body["username"].is_array() && body["password"].is_array(),
        "{body}"
    );
}

async fn wrong_password_and_unknown_account_answer_identically(t: TestTable) {
    let app = TestApp::new(t).await;
    register(&app, "grace").await;

    let wrong = login(&app, "grace", "Not-The-Password-1").await;
    let unknown = login(&app, "nobody-here", "Not-The-Password-1").await;
    let unknown_email = login(&app, "nobody@example.com", "Not-The-Password-1").await;
    let garbage = login(&app, "not a username!", "Not-The-Password-1").await;
    for response in [&wrong, &unknown, &unknown_email, &garbage] {
        assert_eq!(response.status, 400);
        assert_eq!(
            response.body_json(),
            json!({ "detail": "Invalid credentials." })
        );
        assert!(set_cookie_headers(response).is_empty());
    }
    let failures = events_of_type(&app, "login_failed").await;
    assert_eq!(failures.len(), 4, "every failure is logged");
    assert!(
        failures.iter().all(|e| e.get("ip_address").is_some()),
        "{failures:?}"
    );
}

async fn bots_are_refused(t: TestTable) {
    let app = TestApp::new(t).await;
    register(&app, "hopper").await;
    let honeypot = app
        .post("/api/auth/login/")
        .json(json!({ "username": "hopper", "password": PASSWORD, "website": "http://spam" }))
        .send()
        .await;
    assert_eq!(honeypot.status, 400);
    let scripted = app
        .post("/api/auth/login/")
        .header("user-agent", "python-requests/2.32")
        .json(json!({ "username": "hopper", "password": PASSWORD }))
        .send()
        .await;
    assert_eq!(scripted.status, 400);
    let no_agent = app
        .post("/api/auth/login/")
        .without_user_agent()
        .json(json!({ "username": "hopper", "password": PASSWORD }))
        .send()
        .await;
    assert_eq!(no_agent.status, 400);
    for response in [&honeypot, &scripted, &no_agent] {
        assert!(set_cookie_headers(response).is_empty());
    }
    assert_eq!(events_of_type(&app, "bot_detected").await.len(), 3);
    assert!(events_of_type(&app, "login").await.is_empty());
}

async fn lockout_backs_off_exponentially_and_success_resets_it(t: TestTable) {
    let app = TestApp::new(t).await;
    let id = register(&app, "linus").await.0;
    let wrong = "Wrong-Password-77";

    for n in 1..=5 {
        let response = login(&app, "linus", wrong).await;
        assert_eq!(response.status, 400, "failure {n}");
    }
    // Locked: even the right password waits, and the wait doubles with each failure.
    for (failures, wait) in [(5, 1), (6, 2), (7, 4), (8, 8)] {
        let response = login(&app, "linus", PASSWORD).await;
        assert_eq!(response.status, 429, "after {failures} failures");
        assert_eq!(response.headers["retry-after"], wait.to_string().as_str());
        // A wrong password gets the same 429 and is not counted: the lock comes before the
        // password, or the two answers would tell a guesser which one was right.
        let response = login(&app, "linus", wrong).await;
        assert_eq!(response.status, 429, "a wrong password while locked");
        assert_eq!(
            accounts::auth::limits::login_failures(&app.app, UserId(id))
                .await
                .unwrap(),
            failures,
            "the lock counts no failure"
        );
        app.clock().advance(Duration::seconds(wait - 1));
        assert_eq!(
            login(&app, "linus", PASSWORD).await.status,
            429,
            "still locked"
        );
        app.clock().advance(Duration::seconds(1));
        if failures < 8 {
            assert_eq!(login(&app, "linus", wrong).await.status, 400);
        }
    }
    // The wait is over: the right password logs in and forgets the failures. (A quarter of an
    // hour later, so that this address's window for the name is a fresh one.)
    app.clock().advance(Duration::minutes(15));
    assert_eq!(login(&app, "linus", PASSWORD).await.status, 200);
    for n in 1..=4 {
        assert_eq!(
            login(&app, "linus", wrong).await.status,
            400,
            "failure {n} after reset"
        );
    }
    assert_eq!(
        login(&app, "linus", PASSWORD).await.status,
        200,
        "4 failures do not lock"
    );
}

async fn failures_from_one_ip_are_limited_per_name_not_for_everyone_behind_it(t: TestTable) {
    let app = TestApp::new(t).await;
    register(&app, "barbara").await;
    // Thirty failures from one address (a campus, a carrier NAT) over thirty names...
    for n in 0..30 {
        let response = login(&app, &format!("ghost{n}"), "Whatever-123").await;
        assert_eq!(response.status, 400, "failure {n}");
    }
    // ...do not lock out the next person behind it.
    let response = login(&app, "barbara", PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.body_json());

    // Ten failures for one name from one address fill that pair's window: the right password
    // from there waits, from elsewhere it works (once the account's own backoff is over).
    // (At the start of a 15-minute window, each try after the account's backoff has passed.)
    let now = app.clock().now().timestamp();
    app.clock()
        .advance(Duration::seconds(900 - now.rem_euclid(900)));
    for n in 0..10 {
        let response = login(&app, "barbara", "Wrong-Password-9").await;
        assert_eq!(response.status, 400, "failure {n}");
        app.clock().advance(Duration::seconds(40));
    }
    let response = login(&app, "barbara", PASSWORD).await;
    assert_eq!(response.status, 429, "{}", response.body_json());
    assert!(response.headers.contains_key("retry-after"));
    let elsewhere = app
        .post("/api/auth/login/")
        .ip("203.0.113.50")
        .json(json!({ "username": "barbara", "password": PASSWORD }))
        .send()
        .await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.body_json());
}

async fn unknown_names_lock_exactly_like_accounts(t: TestTable) {
    let app = TestApp::new(t).await;
    register(&app, "known").await;
    for name in ["known", "nobody-here"] {
        let answers: Vec<u16> = {
            let mut answers = Vec::new();
            for _ in 0..6 {
                answers.push(login(&app, name, "Wrong-Password-5").await.status.as_u16());
            }
            answers
        };
        assert_eq!(answers, [400, 400, 400, 400, 400, 429], "{name}");
    }
}

// ------------------------------------------------------------------------------- CSRF, logout

async fn csrf_is_required_on_unsafe_cookie_requests(t: TestTable) {
    let app = TestApp::new(t).await;
    register(&app, "alan").await;
    let b = browser_login(&app, "alan").await;
    let path = "/api/auth/session/refresh/";

    let missing = cookie_post(&app, path, &b, None).await;
    assert_eq!(missing.status, 403);
    assert_eq!(detail(&missing), CSRF_FAILED);
    let wrong = cookie_post(&app, path, &b, Some("not-the-token")).await;
    assert_eq!(wrong.status, 403);
    assert_eq!(detail(&wrong), CSRF_FAILED);

    // Header and cookie equal, but not the session's token (a cookie planted by another site).
    let forged = Browser {
        session: b.session.clone(),
        csrf: "planted-token".into(),
    };
    let planted = cookie_post(&app, path, &forged, Some("planted-token")).await;
    assert_eq!(planted.status, 403);
    assert_eq!(detail(&planted), CSRF_FAILED);

    let right = cookie_post(&app, path, &b, Some(&b.csrf)).await;
    assert_eq!(right.status, 200, "{}", right.body_json());

    // Safe methods need no proof; bearer tokens need none either.
    let get = app
        .get("/api/auth/me/")
        .cookies(&[("sessionid", &b.session)])
        .send()
        .await;
    assert_eq!(get.status, 200);
    let check = app
        .get("/api/auth/session/check/")
        .cookies(&[("sessionid", &b.session)])
        .send()
        .await;
    assert_eq!(check.body_json()["valid"], true);
    let tokens = jwt_login(&app, "alan").await;
    let bearer = app.post(path).bearer(tokens.access.as_str()).send().await;
    assert_eq!(bearer.status, 200, "{}", bearer.body_json());

    // A secret that does not match the session's is no session at all.
    let sid = session_id_of(&b);
    let tampered = Browser {
        session: format!("{sid}.AAAA"),
        csrf: b.csrf.clone(),
    };
    assert_eq!(me_with_cookie(&app, &tampered).await.status, 401);
}

async fn logout_clears_the_cookies_and_ends_the_session(t: TestTable) {
    let app = TestApp::new(t).await;
    register(&app, "edsger").await;
    let b = browser_login(&app, "edsger").await;
    assert_eq!(me_with_cookie(&app, &b).await.status, 200);

    assert_eq!(
        cookie_post(&app, "/api/auth/logout/", &b, None)
            .await
            .status,
        403,
        "CSRF first"
    );
    let response = cookie_post(&app, "/api/auth/logout/", &b, Some(&b.csrf)).await;
    assert_eq!(response.status, 200, "{}", response.body_json());
    for name in ["sessionid", "csrftoken"] {
        let cleared = cookie_header(&response, name);
        assert!(cleared.starts_with(&format!("{name}=;")), "{cleared}");
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
    }
    let item = session_item(&app, &session_id_of(&b)).await;
    assert_eq!(item.get("is_active"), Some(&Value::Bool(false)));
    assert!(item.contains_key("ended_at"));

    let me = me_with_cookie(&app, &b).await;
    assert_eq!(me.status, 401);
    assert_eq!(detail(&me), NOT_AUTHENTICATED);
    assert_eq!(events_of_type(&app, "logout").await.len(), 1);

    // Logging out again only clears the cookies.
    let again = cookie_post(&app, "/api/auth/logout/", &b, Some(&b.csrf)).await;
    assert_eq!(again.status, 200);
}

// ------------------------------------------------------------------------------- expiry

async fn idle_sessions_expire_and_refresh_extends_them(t: TestTable) {
    let app = TestApp::new(t).await;
    register(&app, "barbara").await;

    let idle = browser_login(&app, "barbara").await;
    app.clock().advance(Duration::minutes(31));
    assert_eq!(
        me_with_cookie(&app, &idle).await.status,
        401,
        "31 idle minutes"
    );
    let check = app
        .get("/api/auth/session/check/")
        .cookies(&[("sessionid", &idle.session)])
        .send()
        .await;
    assert_eq!(check.body_json()["valid"], false);

    let b = browser_login(&app, "barbara").await;
    let check = app
        .get("/api/auth/session/check/")
        .cookies(&[("sessionid", &b.session)])
        .send()
        .await;
    let status = check.body_json();
    assert_eq!(status["valid"], true, "{status}");
    assert_eq!(status["idle_timeout_seconds"], 1800);
    assert!(status["expires_at"].is_string() && status["last_activity"].is_string());

    app.clock().advance(Duration::minutes(20));
    let refreshed = cookie_post(&app, "/api/auth/session/refresh/", &b, Some(&b.csrf)).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body_json());
    assert_eq!(refreshed.body_json()["valid"], true);
    let expires: chrono::DateTime<chrono::Utc> = refreshed.body_json()["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(expires, app.clock().now() + Duration::minutes(30));
    app.clock().advance(Duration::minutes(20));
    assert_eq!(
        me_with_cookie(&app, &b).await.status,
        200,
        "40 min after login, 20 after refresh"
    );

    // Requests slide the window too (written at most once a minute).
    app.clock().advance(Duration::minutes(29));
    assert_eq!(me_with_cookie(&app, &b).await.status, 200);
    app.clock().advance(Duration::minutes(29));
    assert_eq!(me_with_cookie(&app, &b).await.status, 200);
    app.clock().advance(Duration::minutes(31));
    assert_eq!(me_with_cookie(&app, &b).await.status, 401);
}

async fn sessions_end_at_their_absolute_expiry(t: TestTable) {
    // Access tokens outlive the session here, so only the session can refuse them.
    let vars = [
        ("SESSION_MAX_AGE", "3600"),
        ("ACCESS_TOKEN_TTL", "7200"),
        ("SECURE_COOKIES", "true"),
    ];
    let app = app_with(t, &vars, None).await;
    register(&app, "katherine").await;

    let response = login(&app, "katherine", PASSWORD).await;
    let session = cookie_header(&response, "sessionid");
    assert!(
        session.contains("Max-Age=3600") && session.contains("Secure"),
        "{session}"
    );
    assert!(cookie_header(&response, "csrftoken").contains("Secure"));
    let b = Browser {
        session: set_cookie(&response, "sessionid").unwrap(),
        csrf: set_cookie(&response, "csrftoken").unwrap(),
    };
    let tokens = jwt_login(&app, "katherine").await;
    let access = tokens.access.as_str();

    for _ in 0..2 {
        app.clock().advance(Duration::minutes(25));
        assert_eq!(me_with_cookie(&app, &b).await.status, 200);
        assert_eq!(me_with_bearer(&app, access).await.status, 200);
    }
    app.clock().advance(Duration::minutes(11));
    // 61 minutes after login, 11 after the last request: past the absolute expiry.
    assert_eq!(me_with_cookie(&app, &b).await.status, 401);
    assert_eq!(me_with_bearer(&app, access).await.status, 401);
    let refresh = app
        .post("/api/auth/jwt/refresh/")
        .json(json!({ "refresh": tokens.refresh }))
        .send()
        .await;
    assert_eq!(refresh.status, 401);
}

// ------------------------------------------------------------------------------- suspension

async fn suspended_accounts_cannot_log_in_and_their_sessions_end(t: TestTable) {
    let app = TestApp::new(t).await;
    let id = register(&app, "mallory").await.0;
    let b = browser_login(&app, "mallory").await;
    let tokens = jwt_login(&app, "mallory").await;
    let access = tokens.access.as_str();
    assert_eq!(me_with_cookie(&app, &b).await.status, 200);

    let suspend = Update::new()
        .set("is_suspended", true)
        .set("suspension_reason", "spam");
    app.table()
        .update(&keys::user(UserId(id)), suspend, None)
        .await
        .unwrap();

    let me = me_with_cookie(&app, &b).await;
    assert_eq!(me.status, 403);
    assert_eq!(detail(&me), "Account suspended: spam");
    // Every session of the account ended with it.
    assert_eq!(me_with_cookie(&app, &b).await.status, 401);
    assert_eq!(me_with_bearer(&app, access).await.status, 401);
    let session = session_item(&app, &session_id_of(&b)).await;
    assert_eq!(session.get("is_active"), Some(&Value::Bool(false)));

    let response = login(&app, "mallory", PASSWORD).await;
    assert_eq!(response.status, 403);
    assert_eq!(detail(&response), "Account suspended: spam");
    assert!(set_cookie_headers(&response).is_empty());
    // Without the password, the reason is not shown.
    let wrong = login(&app, "mallory", "Wrong-Password-77").await;
    assert_eq!(wrong.status, 400);
    assert_eq!(detail(&wrong), "Invalid credentials.");
}

// ------------------------------------------------------------------------------- activity

async fn last_active_and_session_activity_are_written_at_most_once_a_minute(t: TestTable) {
    let app = TestApp::new(t).await;
    let id = register(&app, "margaret").await.0;
    let tokens = jwt_login(&app, "margaret").await;
    let access = tokens.access.as_str();
    let login_epoch = app.clock().now().timestamp();

    // The login records the day's visit, and `last_active` with it.
    assert_eq!(
        int(&profile_item(&app, id).await, "last_active_epoch"),
        login_epoch
    );
    assert_eq!(me_with_bearer(&app, access).await.status, 200);
    let first = profile_item(&app, id).await;
    assert_eq!(
        int(&first, "last_active_epoch"),
        login_epoch,
        "the first request writes nothing more within the minute"
    );
    assert!(first.get("last_active").and_then(Value::as_str).is_some());

    app.clock().advance(Duration::seconds(30));
    for _ in 0..2 {
        assert_eq!(me_with_bearer(&app, access).await.status, 200);
    }
    assert_eq!(
        profile_item(&app, id).await,
        first,
        "no write within the minute"
    );

    let sid = base64_url_decode(access.split('.').nth(1).unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let session = session_item(&app, &sid).await;
    assert_eq!(int(&session, "last_activity_epoch"), login_epoch);
    assert_eq!(
        int(&session, "pages_visited"),
        0,
        "counted, not yet written"
    );

    app.clock().advance(Duration::seconds(31));
    assert_eq!(me_with_bearer(&app, access).await.status, 200);
    let now = app.clock().now().timestamp();
    assert_eq!(
        int(&profile_item(&app, id).await, "last_active_epoch"),
        now,
        "61 s later"
    );
    let session = session_item(&app, &sid).await;
    assert_eq!(int(&session, "last_activity_epoch"), now);
    assert_eq!(
        int(&session, "pages_visited"),
        4,
        "the 3 counted requests and this one"
    );

    // The same holds for session cookies: one write a minute.
    let b = browser_login(&app, "margaret").await;
    app.clock().advance(Duration::seconds(10));
    assert_eq!(me_with_cookie(&app, &b).await.status, 200);
    assert_eq!(int(&profile_item(&app, id).await, "last_active_epoch"), now);
    app.clock().advance(Duration::seconds(51));
    assert_eq!(me_with_cookie(&app, &b).await.status, 200);
    assert_eq!(
        int(&profile_item(&app, id).await, "last_active_epoch"),
        now + 61
    );
}

/// The payload of a JWT segment (base64url without padding), decoded by hand: the test does
/// not trust the service's own decoder.
fn base64_url_decode(segment: &str) -> Json {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut bytes = Vec::new();
    for c in segment.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64url") as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    serde_json::from_slice(&bytes).expect("a JSON payload")
}

async fn access_tokens_near_expiry_are_renewed(t: TestTable) {
    let app = TestApp::new(t).await;
    register(&app, "radia").await;
    let tokens = jwt_login(&app, "radia").await;
    let access = tokens.access.clone();
    let first_exp = base64_url_decode(access.split('.').nth(1).unwrap())["exp"]
        .as_i64()
        .unwrap();

    let fresh = me_with_bearer(&app, &access).await;
    assert_eq!(fresh.status, 200);
    assert!(
        !fresh.headers.contains_key("x-renewed-access"),
        "an hour left: no renewal"
    );

    // 56 minutes later (with activity in between, so the session stays live): 4 minutes left.
    app.clock().advance(Duration::minutes(28));
    assert!(
        !me_with_bearer(&app, &access)
            .await
            .headers
            .contains_key("x-renewed-access")
    );
    app.clock().advance(Duration::minutes(28));
    let near = me_with_bearer(&app, &access).await;
    assert_eq!(near.status, 200);
    let renewed = near.headers["x-renewed-access"]
        .to_str()
        .unwrap()
        .to_owned();
    let payload = base64_url_decode(renewed.split('.').nth(1).unwrap());
    assert!(payload["exp"].as_i64().unwrap() > first_exp);
    assert_eq!(payload["token_type"], "access");

    app.clock().advance(Duration::minutes(5));
    assert_eq!(
        me_with_bearer(&app, &access).await.status,
        401,
        "the old token expired"
    );
    let me = me_with_bearer(&app, &renewed).await;
    assert_eq!(
        me.status,
        200,
        "the renewed token works: {}",
        me.body_json()
    );

    // Cookie sessions have no access token to renew.
    let b = browser_login(&app, "radia").await;
    assert!(
        !me_with_cookie(&app, &b)
            .await
            .headers
            .contains_key("x-renewed-access")
    );
}

// ------------------------------------------------------------------------------- unverified

async fn unverified_accounts_log_in_but_are_restricted(t: TestTable) {
    let app = TestApp::new(t).await;
    Signup::new("newbie").unverified().register(&app).await;
    let b = browser_login(&app, "newbie").await;
    let tokens = jwt_login(&app, "newbie").await;
    let access = tokens.access.as_str();

    let me = me_with_cookie(&app, &b).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body_json()["is_verified"], false);
    assert_eq!(me_with_bearer(&app, access).await.status, 200);
    let check = app
        .get("/api/auth/session/check/")
        .bearer(access)
        .send()
        .await;
    assert_eq!(check.body_json()["valid"], true);

    let create = app
        .post("/api/auth/tokens/")
        .bearer(access)
        .json(json!({ "name": "ci" }))
        .send()
        .await;
    assert_eq!(create.status, 403);
    assert_eq!(detail(&create), NOT_VERIFIED);
    let change = cookie_post(&app, "/api/auth/password/change/", &b, Some(&b.csrf)).await;
    assert_eq!(change.status, 403);
    assert_eq!(detail(&change), NOT_VERIFIED);

    let refreshed = cookie_post(&app, "/api/auth/session/refresh/", &b, Some(&b.csrf)).await;
    assert_eq!(refreshed.status, 200);
    let out = cookie_post(&app, "/api/auth/logout/", &b, Some(&b.csrf)).await;
    assert_eq!(out.status, 200);
}

async fn anonymous_and_malformed_requests(t: TestTable) {
    let app = TestApp::new(t).await;
    let me = app.get("/api/auth/me/").send().await;
    assert_eq!(me.status, 401);
    assert_eq!(detail(&me), NOT_AUTHENTICATED);
    let check = app.get("/api/auth/session/check/").send().await;
    assert_eq!(check.status, 200);
    assert_eq!(check.body_json()["valid"], false);
    let basic = app
        .get("/api/auth/me/")
        .header("authorization", "Basic YTpi")
        .send()
        .await;
    assert_eq!(basic.status, 401);
    let junk = app.get("/api/auth/me/").bearer("not-a-jwt").send().await;
    assert_eq!(junk.status, 401);
    let cookie = app
        .get("/api/auth/me/")
        .cookies(&[("sessionid", "garbage")])
        .send()
        .await;
    assert_eq!(cookie.status, 401);
    assert_eq!(
        app.post("/api/auth/session/refresh/").send().await.status,
        401
    );
}

// ------------------------------------------------------------------------------- store cost

/// Reads and write attempts since the last call; counting starts afresh.
fn reads_and_writes(counting: &CountingTable) -> (u64, u64) {
    let calls = counting.take().calls;
    (calls.reads(), calls.writes())
}

async fn me_with_a_jwt_costs_one_session_read_and_one_profile_read(t: TestTable) {
    // The concurrent part below counts conditional writes that win; DynamoDB applies each
    // atomically, moto does not (two can both pass their condition), so on moto the calls
    // reach the server one at a time (`api_tests::moto`).
    let table = api_tests::moto::isolated(&t, api_tests::moto::Isolation::EveryCall);
    let counting = Arc::new(CountingTable::new(table));
    let app = app_with(t, &[], Some(counting.clone())).await;
    register(&app, "barbara").await;
    let tokens = jwt_login(&app, "barbara").await;
    let access = tokens.access.as_str();

    // The first request of the minute also records last_active (one conditional write).
    assert_eq!(me_with_bearer(&app, access).await.status, 200);
    counting.reset();
    for _ in 0..5 {
        assert_eq!(me_with_bearer(&app, access).await.status, 200);
        assert_eq!(
            reads_and_writes(&counting),
            (2, 0),
            "one session read, one profile read, no write"
        );
    }
    // A minute later: the session's activity and the profile's last_active, once each.
    app.clock().advance(Duration::seconds(61));
    assert_eq!(me_with_bearer(&app, access).await.status, 200);
    assert_eq!(reads_and_writes(&counting), (2, 2));
    assert_eq!(me_with_bearer(&app, access).await.status, 200);
    assert_eq!(reads_and_writes(&counting), (2, 0));

    // Concurrent requests (instances) that all see a stale minute: the conditional writes let
    // exactly one update of each item through.
    app.clock().advance(Duration::seconds(61));
    counting.reset();
    let requests = (0..8).map(|_| me_with_bearer(&app, access));
    for response in futures::future::join_all(requests).await {
        assert_eq!(response.status, 200);
    }
    assert_eq!(
        counting.snapshot().succeeded().writes(),
        2,
        "one session and one profile write"
    );
}

both_engines!(
    login_by_username_and_by_email,
    missing_fields_are_field_errors,
    wrong_password_and_unknown_account_answer_identically,
    bots_are_refused,
    lockout_backs_off_exponentially_and_success_resets_it,
    failures_from_one_ip_are_limited_per_name_not_for_everyone_behind_it,
    unknown_names_lock_exactly_like_accounts,
    csrf_is_required_on_unsafe_cookie_requests,
    logout_clears_the_cookies_and_ends_the_session,
    idle_sessions_expire_and_refresh_extends_them,
    sessions_end_at_their_absolute_expiry,
    suspended_accounts_cannot_log_in_and_their_sessions_end,
    last_active_and_session_activity_are_written_at_most_once_a_minute,
    access_tokens_near_expiry_are_renewed,
    unverified_accounts_log_in_but_are_restricted,
    anonymous_and_malformed_requests,
    me_with_a_jwt_costs_one_session_read_and_one_profile_read,
);
