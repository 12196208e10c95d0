//! Registration, email verification and code resends, through the HTTP API on both engines:
//! the whole flow, field errors, case-insensitive uniqueness enforced by the transaction, and
//! every rule of the emailed codes (expiry, attempt cap, single use, resend limits, answers that
//! do not reveal accounts).

use accounts::clock::Clock;
use accounts::http::ApiResponse;
use accounts::model::UserId;
use accounts::store::{Value, keys};
use api_tests::app::TestApp;
use api_tests::fixtures::{PASSWORD, assert_invalid_code, event_types, fresh_ip};
use api_tests::{TestTable, both_engines};
use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value as Json, json};

async fn register_with(app: &TestApp, body: Json) -> ApiResponse {
    app.post("/api/auth/register/")
        .ip(&fresh_ip())
        .json(body)
        .send()
        .await
}

async fn register(app: &TestApp, username: &str, email: &str) -> ApiResponse {
    register_with(
        app,
        json!({ "username": username, "email": email, "password": PASSWORD }),
    )
    .await
}

async fn verify(app: &TestApp, email: &str, code: &str) -> ApiResponse {
    app.post("/api/auth/verify/")
        .json(json!({ "email": email, "code": code }))
        .send()
        .await
}

async fn resend(app: &TestApp, email: &str) -> ApiResponse {
    app.post("/api/auth/resend-code/")
        .json(json!({ "email": email }))
        .send()
        .await
}

fn code_for(app: &TestApp, email: &str) -> String {
    app.last_code_for(email)
        .unwrap_or_else(|| panic!("no code mailed to {email}"))
}

/// A code of the right shape that is not `code`.
fn other_code(code: &str) -> String {
    let n: u32 = code.parse().expect("codes are digits");
    format!("{:06}", (n + 1) % 1_000_000)
}

fn retry_after(response: &ApiResponse) -> u64 {
    response
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds")
}

fn user_id(response: &ApiResponse) -> i64 {
    response.body_json()["id"].as_i64().expect("the user's id")
}

// ------------------------------------------------------------------ the whole flow

async fn traditional_flow(t: TestTable) {
    let app = TestApp::new(t).await;
    let response = register_with(
        &app,
        json!({
            "username": "Jane.Doe",
            "email": "Jane@Example.COM",
            "password": PASSWORD,
            "first_name": "Jane",
            "last_name": "Doe",
        }),
    )
    .await;
    assert_eq!(response.status, 201, "{:?}", response.body_json());
    let user = response.body_json();
    let fields: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "created_at",
            "email",
            "first_name",
            "id",
            "is_verified",
            "last_name",
            "role",
            "username"
        ],
        "the public fields and nothing else"
    );
    assert_eq!(user["username"], "Jane.Doe");
    assert_eq!(user["email"], "Jane@example.com");
    assert_eq!(user["first_name"], "Jane");
    assert_eq!(user["last_name"], "Doe");
    assert_eq!(user["is_verified"], false);
    assert_eq!(user["role"], "normal");
    let id = user_id(&response);
    assert!(id > 0);

    // One transaction wrote the profile, credentials, settings and both unique items.
    let table = app.table();
    let uid = UserId(id);
    for key in [keys::user(uid), keys::credentials(uid), keys::settings(uid)] {
        assert!(table.get(&key, true).await.unwrap().is_some(), "{key:?}");
    }
    for key in [
        keys::unique_username("jane.doe"),
        keys::unique_email("jane@example.com"),
    ] {
        let item = table
            .get(&key, true)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{key:?}"));
        assert_eq!(item.get("user_id").and_then(Value::as_i64), Some(id));
    }
    let credentials = table
        .get(&keys::credentials(uid), true)
        .await
        .unwrap()
        .unwrap();
    let hash = credentials
        .get("password_hash")
        .and_then(Value::as_str)
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));

    // The code went out with a text and an HTML part, and is stored only as a salted hash.
    let mails = app.outbox();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.to, "Jane@example.com");
    assert!(!mail.subject.is_empty());
    let code = code_for(&app, "jane@example.com");
    assert!(mail.html.contains(&code) && mail.html.contains("<html"));
    let stored = table
        .get(&keys::emailed_code(uid, "verify"), true)
        .await
        .unwrap()
        .unwrap();
    let stored_text = format!("{stored:?}");
    assert!(
        !stored_text.contains(&code),
        "the code itself is not stored"
    );
    assert_eq!(stored.get("attempts").and_then(Value::as_i64), Some(0));

    // Unverified accounts may log in; verification flips the flag.
    let login = app
        .post("/api/auth/login/")
        .json(json!({ "username": "jane.doe", "password": PASSWORD }))
        .send()
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body_json());
    assert_eq!(login.body_json()["is_verified"], false);

    let verified = verify(&app, "JANE@example.com", &code).await;
    assert_eq!(verified.status, 200, "{:?}", verified.body_json());
    assert_eq!(verified.body_json()["user"]["is_verified"], true);
    let profile = table.get(&keys::user(uid), true).await.unwrap().unwrap();
    assert_eq!(
        profile.get("is_verified").and_then(Value::as_bool),
        Some(true)
    );

    let login = app
        .post("/api/auth/login/")
        .json(json!({ "email": "jane@example.com", "password": PASSWORD }))
        .send()
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body_json());
    assert_eq!(login.body_json()["is_verified"], true);

    let events = event_types(&app, UserId(id)).await;
    for wanted in ["register", "verification_sent", "verify"] {
        assert!(
            events.iter().any(|e| e == wanted),
            "{wanted} missing from {events:?}"
        );
    }
}

async fn jwt_register_returns_tokens(t: TestTable) {
    let app = TestApp::new(t).await;
    let response = app
        .post("/api/auth/jwt/register/")
        .ip(&fresh_ip())
        .json(
            json!({ "username": "jwtjane", "email": "jwtjane@example.com", "password": PASSWORD }),
        )
        .send()
        .await;
    assert_eq!(response.status, 201, "{:?}", response.body_json());
    let body = response.body_json();
    let access = body["access"].as_str().expect("an access token").to_owned();
    assert!(body["refresh"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(body["user"]["username"], "jwtjane");
    assert_eq!(body["user"]["is_verified"], false);
    assert!(
        app.last_code_for("jwtjane@example.com").is_some(),
        "the code is mailed too"
    );

    // The token works at once for what unverified accounts may do, and nothing else.
    let me = app.get("/api/auth/me/").bearer(&access).send().await;
    assert_eq!(me.status, 200, "{:?}", me.body_json());
    assert_eq!(me.body_json()["username"], "jwtjane");
    let change = app
        .post("/api/auth/password/change/")
        .bearer(&access)
        .json(json!({ "current_password": PASSWORD, "new_password": "amber-lantern-77" }))
        .send()
        .await;
    assert_eq!(change.status, 403);
    assert_eq!(
        change.body_json(),
        json!({ "detail": "Email address not verified." })
    );

    let code = code_for(&app, "jwtjane@example.com");
    assert_eq!(verify(&app, "jwtjane@example.com", &code).await.status, 200);
    let me = app.get("/api/auth/me/").bearer(&access).send().await;
    assert_eq!(me.body_json()["is_verified"], true);
}

// ------------------------------------------------------------------ validation

async fn every_invalid_field_is_reported(t: TestTable) {
    let app = TestApp::new(t).await;
    let cases: Vec<(Json, &str, &str)> = vec![
        (
            json!({ "username": "ab", "email": "a@example.com", "password": PASSWORD }),
            "username",
            "between 3 and 30",
        ),
        (
            json!({ "username": "bad name", "email": "a@example.com", "password": PASSWORD }),
            "username",
            "valid username",
        ),
        (
            json!({ "username": "x".repeat(31), "email": "a@example.com", "password": PASSWORD }),
            "username",
            "between 3 and 30",
        ),
        (
            json!({ "username": "jane", "email": "not-an-address", "password": PASSWORD }),
            "email",
            "valid email",
        ),
        (
            json!({ "username": "jane", "email": "jane@localhost", "password": PASSWORD }),
            "email",
            "valid email",
        ),
        (
            json!({ "username": "jane", "email": "jane@example.com", "password": "s3cr!t" }),
            "password",
            "too short",
        ),
        (
            json!({ "username": "jane", "email": "jane@example.com", "password": "x".repeat(129) }),
            "password",
            "no more than 128",
        ),
        (
            json!({ "username": "jane", "email": "jane@example.com", "password": "password123" }),
            "password",
            "too common",
        ),
        (
            json!({ "username": "jane", "email": "jane@example.com", "password": "4815162342" }),
            "password",
            "entirely numeric",
        ),
        (
            json!({ "username": "margarethe", "email": "m@example.com", "password": "Margarethe1" }),
            "password",
            "similar to the username",
        ),
        (
            json!({ "username": "mh", "email": "margarethe.h@example.com", "password": "margarethe.h" }),
            "password",
            "similar",
        ),
        (
            json!({ "username": "jane", "email": "j@example.com", "password": PASSWORD, "first_name": "x".repeat(151) }),
            "first_name",
            "no more than 150",
        ),
        (
            json!({ "username": "jane", "email": "j@example.com", "password": PASSWORD, "last_name": "y".repeat(151) }),
            "last_name",
            "no more than 150",
        ),
    ];
    for (body, field, fragment) in cases {
        let response = register_with(&app, body.clone()).await;
        assert_eq!(response.status, 400, "{body}: {:?}", response.body_json());
        let errors = response.body_json();
        let messages = errors[field]
            .as_array()
            .unwrap_or_else(|| panic!("{body}: no {field} in {errors}"));
        assert!(
            messages
                .iter()
                .any(|m| m.as_str().is_some_and(|m| m.contains(fragment))),
            "{body}: {field} {messages:?} lacks {fragment:?}"
        );
    }

    // Everything missing: every required field named at once.
    let response = register_with(&app, json!({})).await;
    assert_eq!(response.status, 400);
    let errors = response.body_json();
    for field in ["username", "email", "password"] {
        assert_eq!(
            errors[field],
            json!(["This field is required."]),
            "{errors}"
        );
    }

    // Nothing was written: no id was ever allocated, no mail went out.
    assert!(
        app.table()
            .get(&keys::user_id_counter(), true)
            .await
            .unwrap()
            .is_none()
    );
    assert!(app.outbox().is_empty());
}

async fn duplicates_are_refused_case_insensitively_with_nothing_written(t: TestTable) {
    let app = TestApp::new(t).await;
    let first = register(&app, "Jane", "jane@example.com").await;
    assert_eq!(first.status, 201);
    let first_id = user_id(&first);

    let same_name = register(&app, "JANE", "other@example.com").await;
    assert_eq!(same_name.status, 400);
    assert_eq!(
        same_name.body_json(),
        json!({ "username": ["A user with that username already exists."] })
    );

    let same_email = register(&app, "bob", "JANE@EXAMPLE.com").await;
    assert_eq!(same_email.status, 400);
    assert_eq!(
        same_email.body_json(),
        json!({ "email": ["A user with that email already exists."] })
    );

    let both = register(&app, "jane", "Jane@example.com").await;
    assert_eq!(both.status, 400);
    assert!(
        both.body_json()["username"].is_array(),
        "{:?}",
        both.body_json()
    );

    // The failed transactions left nothing: no unique item for the names and addresses they
    // tried, no profile, credentials or settings for the ids they allocated.
    let table = app.table();
    for key in [
        keys::unique_username("bob"),
        keys::unique_email("other@example.com"),
    ] {
        assert!(
            table.get(&key, true).await.unwrap().is_none(),
            "orphan {key:?}"
        );
    }
    let owner = table
        .get(&keys::unique_username("jane"), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.get("user_id").and_then(Value::as_i64), Some(first_id));
    for lost in 1..=3 {
        let uid = UserId(first_id + lost);
        for key in [keys::user(uid), keys::credentials(uid), keys::settings(uid)] {
            assert!(
                table.get(&key, true).await.unwrap().is_none(),
                "orphan {key:?}"
            );
        }
    }
    // Only the first registration mailed a code.
    assert_eq!(app.outbox().len(), 1);

    // The next registration gets a fresh id (gaps are fine) and works.
    let next = register(&app, "bob", "bob@example.com").await;
    assert_eq!(next.status, 201);
    assert!(user_id(&next) > first_id);
}

async fn concurrent_registrations_of_one_name_make_one_user(t: TestTable) {
    // moto applies transactions without a lock: two both passed the name's put-if-absent.
    let app = TestApp::one_call_at_a_time(t).await;
    let (a, b) = tokio::join!(
        register(&app, "twin", "twin-a@example.com"),
        register(&app, "TWIN", "twin-b@example.com"),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(
        statuses,
        [201, 400],
        "{:?} {:?}",
        a.body_json(),
        b.body_json()
    );
    let loser = if a.status == 400 { &a } else { &b };
    assert_eq!(
        loser.body_json(),
        json!({ "username": ["A user with that username already exists."] })
    );
    let loser_email = if a.status == 400 {
        "twin-a@example.com"
    } else {
        "twin-b@example.com"
    };
    assert!(
        app.table()
            .get(&keys::unique_email(loser_email), true)
            .await
            .unwrap()
            .is_none()
    );
}

// ------------------------------------------------------------------ abuse

async fn bots_are_refused(t: TestTable) {
    let app = TestApp::new(t).await;
    let honeypot = register_with(
        &app,
        json!({ "username": "robo", "email": "robo@example.com", "password": PASSWORD, "website": "http://spam.example" }),
    )
    .await;
    assert_eq!(honeypot.status, 400);
    let no_agent = app
        .post("/api/auth/register/")
        .ip(&fresh_ip())
        .without_user_agent()
        .json(json!({ "username": "robo", "email": "robo@example.com", "password": PASSWORD }))
        .send()
        .await;
    assert_eq!(no_agent.status, 400);
    let curl = app
        .post("/api/auth/register/")
        .ip(&fresh_ip())
        .header("user-agent", "curl/8.5.0")
        .json(json!({ "username": "robo", "email": "robo@example.com", "password": PASSWORD }))
        .send()
        .await;
    assert_eq!(curl.status, 400);

    assert!(
        app.table()
            .get(&keys::unique_username("robo"), true)
            .await
            .unwrap()
            .is_none()
    );
    assert!(app.outbox().is_empty());
    let bots = api_tests::fixtures::events_by_type(app.table(), "bot_detected").await;
    assert_eq!(bots.len(), 3, "one bot_detected event per refusal");

    // An empty honeypot is what people send.
    let person = register_with(
        &app,
        json!({ "username": "human", "email": "human@example.com", "password": PASSWORD, "website": "" }),
    )
    .await;
    assert_eq!(person.status, 201, "{:?}", person.body_json());
}

async fn registrations_are_limited_per_ip(t: TestTable) {
    let app = TestApp::new(t).await;
    let send = |n: u32| {
        app.post("/api/auth/register/")
            .ip("192.0.2.44")
            .json(json!({ "username": format!("user{n}"), "email": format!("user{n}@example.com"), "password": PASSWORD }))
            .send()
    };
    for n in 0..5 {
        assert_eq!(send(n).await.status, 201, "registration {n}");
    }
    let refused = send(5).await;
    assert_eq!(refused.status, 429);
    let wait = retry_after(&refused);
    assert!((1..=1800).contains(&wait), "{wait}");
    assert!(
        app.table()
            .get(&keys::unique_username("user5"), true)
            .await
            .unwrap()
            .is_none()
    );
    // Another address is not affected, and the window passes.
    assert_eq!(
        register(&app, "user6", "user6@example.com").await.status,
        201
    );
    app.clock().advance(Duration::seconds(wait as i64));
    assert_eq!(send(7).await.status, 201);
}

// ------------------------------------------------------------------ the codes

async fn codes_expire(t: TestTable) {
    let app = TestApp::new(t).await;
    assert_eq!(register(&app, "slow", "slow@example.com").await.status, 201);
    let code = code_for(&app, "slow@example.com");
    app.clock().advance(Duration::seconds(15 * 60));
    assert_invalid_code(&verify(&app, "slow@example.com", &code).await);

    // A new code lives its 15 minutes: still good one second before the end.
    assert_eq!(resend(&app, "slow@example.com").await.status, 200);
    let fresh = code_for(&app, "slow@example.com");
    app.clock().advance(Duration::seconds(15 * 60 - 1));
    let ok = verify(&app, "slow@example.com", &fresh).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body_json());
}

async fn five_wrong_tries_kill_the_code(t: TestTable) {
    let app = TestApp::new(t).await;
    let guesser = register(&app, "guesser", "guesser@example.com").await;
    assert_eq!(guesser.status, 201);
    let guesser = user_id(&guesser);
    assert_eq!(
        register(&app, "lucky", "lucky@example.com").await.status,
        201
    );

    // Four wrong tries leave the fifth for the right code.
    let lucky = code_for(&app, "lucky@example.com");
    for _ in 0..4 {
        assert_invalid_code(&verify(&app, "lucky@example.com", &other_code(&lucky)).await);
    }
    assert_eq!(verify(&app, "lucky@example.com", &lucky).await.status, 200);

    // Five wrong tries, each answered alike, close or not; then even the right code fails.
    let code = code_for(&app, "guesser@example.com");
    let n: u32 = code.parse().unwrap();
    // One next to the right code, one far, one repeated: all different from it.
    for offset in [1, 500_000, 111_111, 1, 999_999] {
        let wrong = format!("{:06}", (n + offset) % 1_000_000);
        assert_invalid_code(&verify(&app, "guesser@example.com", &wrong).await);
    }
    assert_invalid_code(&verify(&app, "guesser@example.com", &code).await);
    let events = event_types(&app, UserId(guesser)).await;
    let failures = events.iter().filter(|e| *e == "verify_failed").count();
    assert!(failures >= 5, "{events:?}");
}

async fn concurrent_guesses_cannot_exceed_the_cap(t: TestTable) {
    let app = TestApp::one_call_at_a_time(t).await;
    let racer = register(&app, "racer", "racer@example.com").await;
    assert_eq!(racer.status, 201);
    let racer = UserId(user_id(&racer));
    let code = code_for(&app, "racer@example.com");
    // Twenty wrong guesses at once, then the right one: the right one is the 21st try.
    let wrong: Vec<String> = (1..=20u32)
        .map(|i| format!("{:06}", (code.parse::<u32>().unwrap() + i) % 1_000_000))
        .collect();
    let guesses = wrong.iter().map(|w| verify(&app, "racer@example.com", w));
    for response in futures::future::join_all(guesses).await {
        assert_invalid_code(&response);
    }
    assert_invalid_code(&verify(&app, "racer@example.com", &code).await);
    let stored = app
        .table()
        .get(&keys::emailed_code(racer, "verify"), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.get("attempts").and_then(Value::as_i64),
        Some(5),
        "only five tries were ever taken"
    );
}

async fn codes_work_once(t: TestTable) {
    let app = TestApp::one_call_at_a_time(t).await;
    assert_eq!(register(&app, "once", "once@example.com").await.status, 201);
    let code = code_for(&app, "once@example.com");
    let (a, b) = tokio::join!(
        verify(&app, "once@example.com", &code),
        verify(&app, "once@example.com", &code)
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 400],
        "two concurrent right answers: one wins"
    );
    assert_invalid_code(&verify(&app, "once@example.com", &code).await);
    // Malformed codes and unknown addresses answer exactly the same.
    assert_invalid_code(&verify(&app, "once@example.com", "12ab56").await);
    assert_invalid_code(&verify(&app, "nobody@example.com", &code).await);
}

async fn a_resent_code_replaces_the_old(t: TestTable) {
    let app = TestApp::new(t).await;
    assert_eq!(
        register(&app, "again", "again@example.com").await.status,
        201
    );
    let old = code_for(&app, "again@example.com");
    assert_eq!(resend(&app, "again@example.com").await.status, 200);
    let new = code_for(&app, "again@example.com");
    assert_eq!(app.outbox().len(), 2);
    if new != old {
        assert_invalid_code(&verify(&app, "again@example.com", &old).await);
    }
    assert_eq!(verify(&app, "again@example.com", &new).await.status, 200);
}

async fn resends_wait_a_minute(t: TestTable) {
    let app = TestApp::new(t).await;
    assert_eq!(
        register(&app, "eager", "eager@example.com").await.status,
        201
    );
    assert_eq!(resend(&app, "eager@example.com").await.status, 200);
    let refused = resend(&app, "eager@example.com").await;
    assert_eq!(refused.status, 429);
    let wait = retry_after(&refused);
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(app.outbox().len(), 2, "the refused resend sent nothing");
    app.clock().advance(Duration::seconds(wait as i64));
    assert_eq!(resend(&app, "eager@example.com").await.status, 200);
    assert_eq!(app.outbox().len(), 3);
}

async fn resends_stop_at_five_an_hour(t: TestTable) {
    let app = TestApp::new(t).await;
    // Start at the top of an hour, so the five resends share one window.
    let now = app.clock().epoch_seconds();
    let next_hour = now - now.rem_euclid(3600) + 3600;
    app.clock().set(Utc.timestamp_opt(next_hour, 0).unwrap());
    assert_eq!(register(&app, "keen", "keen@example.com").await.status, 201);
    for n in 0..5 {
        let response = resend(&app, "keen@example.com").await;
        assert_eq!(response.status, 200, "resend {n}");
        app.clock().advance(Duration::seconds(61));
    }
    let refused = resend(&app, "keen@example.com").await;
    assert_eq!(refused.status, 429);
    let wait = retry_after(&refused);
    assert!(wait > 60 && wait <= 3600 - 5 * 61, "{wait}");
    assert_eq!(app.outbox().len(), 6);
    app.clock().advance(Duration::seconds(wait as i64));
    assert_eq!(resend(&app, "keen@example.com").await.status, 200);
}

async fn resend_answers_alike_for_every_address(t: TestTable) {
    let app = TestApp::new(t).await;
    assert_eq!(
        register(&app, "pending", "pending@example.com")
            .await
            .status,
        201
    );
    assert_eq!(register(&app, "done", "done@example.com").await.status, 201);
    let code = code_for(&app, "done@example.com");
    assert_eq!(verify(&app, "done@example.com", &code).await.status, 200);
    let mails_before = app.outbox().len();

    let addresses = [
        "pending@example.com",
        "done@example.com",
        "nobody@example.com",
    ];
    let mut first = Vec::new();
    let mut second = Vec::new();
    for address in addresses {
        first.push(resend(&app, address).await);
        second.push(resend(&app, address).await);
    }
    for answers in [&first, &second] {
        for response in answers.iter() {
            assert_eq!(response.status, answers[0].status);
            assert_eq!(response.body, answers[0].body);
            assert_eq!(
                response.headers.get("retry-after"),
                answers[0].headers.get("retry-after")
            );
        }
    }
    assert_eq!(first[0].status, 200);
    assert_eq!(
        second[0].status, 429,
        "the limit holds for every address alike"
    );
    // Only the unverified account got a mail.
    let mails = app.outbox();
    assert_eq!(mails.len(), mails_before + 1);
    assert_eq!(mails.last().unwrap().to, "pending@example.com");
}

both_engines!(
    traditional_flow,
    jwt_register_returns_tokens,
    every_invalid_field_is_reported,
    duplicates_are_refused_case_insensitively_with_nothing_written,
    concurrent_registrations_of_one_name_make_one_user,
    bots_are_refused,
    registrations_are_limited_per_ip,
    codes_expire,
    five_wrong_tries_kill_the_code,
    concurrent_guesses_cannot_exceed_the_cap,
    codes_work_once,
    a_resent_code_replaces_the_old,
    resends_wait_a_minute,
    resends_stop_at_five_an_hour,
    resend_answers_alike_for_every_address,
);
