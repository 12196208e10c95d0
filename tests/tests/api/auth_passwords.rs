//! Password change and reset, through the HTTP API on both engines: a change ends every other
//! session (and so their tokens) and stamps the profile; a reset works end to end with an
//! emailed code under the same rules as verification, answers alike for every address, and
//! ends every session.

use accounts::http::ApiResponse;
use accounts::model::UserId;
use accounts::store::{Value, keys};
use api_tests::app::{TestApp, set_cookie};
use api_tests::fixtures::{
    Login, PASSWORD, Signup, Tokens, assert_invalid_code, event_types, fresh_ip,
};
use api_tests::{TestTable, both_engines};
use chrono::Duration;
use serde_json::{Value as Json, json};

const NEW_PASSWORD: &str = "amber-lantern-77";
const WRONG_CURRENT: &str = "Your old password was entered incorrectly. Please enter it again.";
const RESET_ANSWER: &str = "If this address belongs to an account, a reset code is on its way.";

/// Registers an account from an address of its own (verified when asked) and returns its id.
async fn account(app: &TestApp, username: &str, email: &str, verified: bool) -> UserId {
    Signup::new(username)
        .email(email)
        .ip(&fresh_ip())
        .verified(verified)
        .register(app)
        .await
}

/// A JWT login from an address of its own.
async fn jwt_login(app: &TestApp, username: &str, password: &str) -> ApiResponse {
    login(username, password).send(app).await
}

/// The tokens of a JWT login from an address of its own.
async fn tokens(app: &TestApp, username: &str, password: &str) -> Tokens {
    login(username, password).tokens(app).await
}

fn login(username: &str, password: &str) -> Login {
    Login::new(username).password(password).ip(&fresh_ip())
}

async fn me_status(app: &TestApp, access: &str) -> u16 {
    app.get("/api/auth/me/")
        .bearer(access)
        .send()
        .await
        .status
        .as_u16()
}

async fn refresh_status(app: &TestApp, refresh: &str) -> u16 {
    app.post("/api/auth/jwt/refresh/")
        .json(json!({ "refresh": refresh }))
        .send()
        .await
        .status
        .as_u16()
}

async fn change(app: &TestApp, access: &str, body: Json) -> ApiResponse {
    app.post("/api/auth/password/change/")
        .bearer(access)
        .json(body)
        .send()
        .await
}

async fn request_reset(app: &TestApp, email: &str) -> ApiResponse {
    app.post("/api/auth/password/reset/")
        .json(json!({ "email": email }))
        .send()
        .await
}

async fn confirm_reset(app: &TestApp, email: &str, code: &str, new_password: &str) -> ApiResponse {
    app.post("/api/auth/password/reset/confirm/")
        .json(json!({ "email": email, "code": code, "new_password": new_password }))
        .send()
        .await
}

fn reset_code(app: &TestApp, email: &str) -> String {
    let mail = app
        .outbox()
        .into_iter()
        .rev()
        .find(|m| m.to.eq_ignore_ascii_case(email))
        .unwrap_or_else(|| panic!("no mail to {email}"));
    assert!(
        mail.subject.to_lowercase().contains("password"),
        "{}",
        mail.subject
    );
    app.last_code_for(email).unwrap()
}

async fn profile_updated_at(app: &TestApp, user: UserId) -> String {
    let item = app
        .table()
        .get(&keys::user(user), true)
        .await
        .unwrap()
        .unwrap();
    item.get("updated_at")
        .and_then(Value::as_str)
        .unwrap()
        .to_owned()
}

async fn password_hash(app: &TestApp, user: UserId) -> String {
    let item = app
        .table()
        .get(&keys::credentials(user), true)
        .await
        .unwrap()
        .unwrap();
    item.get("password_hash")
        .and_then(Value::as_str)
        .unwrap()
        .to_owned()
}

// ------------------------------------------------------------------ change

async fn change_ends_every_other_session(t: TestTable) {
    let app = TestApp::new(t).await;
    let carol = account(&app, "carol", "carol@example.com", true).await;
    let here = tokens(&app, "carol", PASSWORD).await;
    let elsewhere = tokens(&app, "carol", PASSWORD).await;
    let cookie_login = app
        .post("/api/auth/login/")
        .json(json!({ "username": "carol", "password": PASSWORD }))
        .send()
        .await;
    assert_eq!(cookie_login.status, 200);
    let session_cookie = set_cookie(&cookie_login, "sessionid").expect("a session cookie");
    let cookie_me = || {
        app.get("/api/auth/me/")
            .cookies(&[("sessionid", &session_cookie)])
            .send()
    };
    assert_eq!(cookie_me().await.status, 200);

    let before_updated = profile_updated_at(&app, carol).await;
    let before_hash = password_hash(&app, carol).await;
    app.clock().advance(Duration::seconds(30));

    // A wrong current password changes nothing and ends nothing.
    let wrong = change(
        &app,
        &here.access,
        json!({ "current_password": "not-my-password", "new_password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(
        wrong.body_json(),
        json!({ "current_password": [WRONG_CURRENT] })
    );
    assert_eq!(me_status(&app, &elsewhere.access).await, 200);
    assert_eq!(password_hash(&app, carol).await, before_hash);

    let response = change(
        &app,
        &here.access,
        json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(response.status, 200, "{:?}", response.body_json());
    assert_eq!(response.body_json()["other_sessions_ended"], 2);

    // The other sessions are over, with their access and refresh tokens and their cookie.
    assert_eq!(me_status(&app, &elsewhere.access).await, 401);
    assert_eq!(refresh_status(&app, &elsewhere.refresh).await, 401);
    assert_eq!(cookie_me().await.status, 401);
    // The caller's own session goes on.
    assert_eq!(me_status(&app, &here.access).await, 200);
    assert_eq!(refresh_status(&app, &here.refresh).await, 200);

    // A new hash, and the profile's updated_at moved (the seed's signal).
    let after_hash = password_hash(&app, carol).await;
    assert_ne!(after_hash, before_hash);
    assert!(after_hash.starts_with("$argon2id$"));
    assert_ne!(profile_updated_at(&app, carol).await, before_updated);

    assert_eq!(jwt_login(&app, "carol", PASSWORD).await.status, 400);
    assert_eq!(jwt_login(&app, "carol", NEW_PASSWORD).await.status, 200);
    let events = event_types(&app, carol).await;
    assert!(
        events.iter().filter(|e| *e == "password_change").count() >= 2,
        "{events:?}"
    );
}

async fn change_validates_and_needs_a_verified_caller(t: TestTable) {
    let app = TestApp::new(t).await;
    account(&app, "dave", "dave@example.com", true).await;
    account(&app, "erin", "erin@example.com", false).await;
    let dave = tokens(&app, "dave", PASSWORD).await;

    let missing = change(&app, &dave.access, json!({})).await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.body_json(),
        json!({ "current_password": ["This field is required."], "new_password": ["This field is required."] })
    );
    for (new, fragment) in [
        ("short", "too short"),
        ("password123", "too common"),
        ("dave12345", "similar"),
    ] {
        let response = change(
            &app,
            &dave.access,
            json!({ "current_password": PASSWORD, "new_password": new }),
        )
        .await;
        assert_eq!(response.status, 400);
        let messages = response.body_json()["new_password"].clone();
        assert!(messages.to_string().contains(fragment), "{new}: {messages}");
    }

    let anonymous = app
        .post("/api/auth/password/change/")
        .json(json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }))
        .send()
        .await;
    assert_eq!(anonymous.status, 401);

    let erin = tokens(&app, "erin", PASSWORD).await;
    let unverified = change(
        &app,
        &erin.access,
        json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(unverified.status, 403);
    assert_eq!(
        unverified.body_json(),
        json!({ "detail": "Email address not verified." })
    );
}

async fn guessing_the_current_password_is_throttled(t: TestTable) {
    let app = TestApp::new(t).await;
    account(&app, "frank", "frank@example.com", true).await;
    let frank = tokens(&app, "frank", PASSWORD).await;
    for n in 0..5 {
        let response = change(
            &app,
            &frank.access,
            json!({ "current_password": format!("guess-{n}-xyz"), "new_password": NEW_PASSWORD }),
        )
        .await;
        assert_eq!(response.status, 400, "guess {n}");
    }
    // Five wrong guesses: the next try waits, even with the right password.
    let throttled = change(
        &app,
        &frank.access,
        json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(throttled.status, 429);
    assert!(throttled.headers.get("retry-after").is_some());
    app.clock().advance(Duration::seconds(2));
    let ok = change(
        &app,
        &frank.access,
        json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body_json());
}

// ------------------------------------------------------------------ reset

async fn reset_end_to_end(t: TestTable) {
    let app = TestApp::new(t).await;
    let dorothea = account(&app, "dorothea", "dorothea@example.com", true).await;
    let session = tokens(&app, "dorothea", PASSWORD).await;
    let before_updated = profile_updated_at(&app, dorothea).await;
    app.clock().advance(Duration::seconds(30));

    let response = request_reset(&app, "Dorothea@Example.com").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body_json(), json!({ "detail": RESET_ANSWER }));
    let code = reset_code(&app, "dorothea@example.com");
    let mail = app.outbox().pop().unwrap();
    assert!(mail.html.contains(&code));

    assert_invalid_code(
        &confirm_reset(
            &app,
            "dorothea@example.com",
            &format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000),
            NEW_PASSWORD,
        )
        .await,
    );
    // A refused new password leaves the code usable.
    let weak = confirm_reset(&app, "dorothea@example.com", &code, "dorothea99").await;
    assert_eq!(weak.status, 400);
    assert!(
        weak.body_json()["new_password"]
            .to_string()
            .contains("similar"),
        "{:?}",
        weak.body_json()
    );
    let common = confirm_reset(&app, "dorothea@example.com", &code, "password123").await;
    assert_eq!(common.status, 400);
    assert!(common.body_json()["new_password"].is_array());

    let done = confirm_reset(&app, "dorothea@example.com", &code, NEW_PASSWORD).await;
    assert_eq!(done.status, 200, "{:?}", done.body_json());
    // Every session ended, with its tokens.
    assert_eq!(me_status(&app, &session.access).await, 401);
    assert_eq!(refresh_status(&app, &session.refresh).await, 401);
    assert_ne!(profile_updated_at(&app, dorothea).await, before_updated);

    // The code worked once.
    assert_invalid_code(
        &confirm_reset(&app, "dorothea@example.com", &code, "another-good-pass-9").await,
    );

    assert_eq!(jwt_login(&app, "dorothea", PASSWORD).await.status, 400);
    assert_eq!(jwt_login(&app, "dorothea", NEW_PASSWORD).await.status, 200);
    let events = event_types(&app, dorothea).await;
    for wanted in ["password_reset_requested", "password_reset"] {
        assert!(
            events.iter().any(|e| e == wanted),
            "{wanted} missing from {events:?}"
        );
    }
}

async fn reset_codes_expire_and_die_after_five_wrong_tries(t: TestTable) {
    let app = TestApp::new(t).await;
    account(&app, "gina", "gina@example.com", true).await;
    account(&app, "hank", "hank@example.com", true).await;

    assert_eq!(request_reset(&app, "gina@example.com").await.status, 200);
    let code = reset_code(&app, "gina@example.com");
    let n: u32 = code.parse().unwrap();
    for offset in [1, 2, 3, 400_000, 1] {
        let wrong = format!("{:06}", (n + offset) % 1_000_000);
        assert_invalid_code(&confirm_reset(&app, "gina@example.com", &wrong, NEW_PASSWORD).await);
    }
    assert_invalid_code(&confirm_reset(&app, "gina@example.com", &code, NEW_PASSWORD).await);
    assert_eq!(
        jwt_login(&app, "gina", PASSWORD).await.status,
        200,
        "the password did not change"
    );

    assert_eq!(request_reset(&app, "hank@example.com").await.status, 200);
    let code = reset_code(&app, "hank@example.com");
    app.clock().advance(Duration::seconds(15 * 60));
    assert_invalid_code(&confirm_reset(&app, "hank@example.com", &code, NEW_PASSWORD).await);
    assert_eq!(jwt_login(&app, "hank", PASSWORD).await.status, 200);

    // A verification code is no reset code.
    account(&app, "ivan", "ivan@example.com", false).await;
    let verification = app.last_code_for("ivan@example.com").unwrap();
    assert_invalid_code(
        &confirm_reset(&app, "ivan@example.com", &verification, NEW_PASSWORD).await,
    );
}

async fn reset_answers_alike_for_every_address(t: TestTable) {
    let app = TestApp::new(t).await;
    account(&app, "verified", "verified@example.com", true).await;
    account(&app, "unverified", "unverified@example.com", false).await;
    let mails_before = app.outbox().len();

    let addresses = [
        "verified@example.com",
        "unverified@example.com",
        "nobody@example.com",
    ];
    // Three requests an hour per address are answered, the fourth is refused: alike for all.
    for round in 0..4 {
        let answers: Vec<ApiResponse> = {
            let mut answers = Vec::new();
            for address in addresses {
                answers.push(request_reset(&app, address).await);
            }
            answers
        };
        let expected = if round < 3 { 200 } else { 429 };
        for response in &answers {
            assert_eq!(response.status, expected, "round {round}");
            assert_eq!(response.body, answers[0].body, "round {round}");
            assert_eq!(
                response.headers.get("retry-after"),
                answers[0].headers.get("retry-after")
            );
        }
    }
    // Mails only to the two accounts, three each.
    let mails = app.outbox();
    assert_eq!(mails.len(), mails_before + 6);
    assert!(mails.iter().all(|m| m.to != "nobody@example.com"));

    // Confirming for an unknown address is the same error as a wrong code.
    assert_invalid_code(&confirm_reset(&app, "nobody@example.com", "123456", NEW_PASSWORD).await);
}

both_engines!(
    change_ends_every_other_session,
    change_validates_and_needs_a_verified_caller,
    guessing_the_current_password_is_throttled,
    reset_end_to_end,
    reset_codes_expire_and_die_after_five_wrong_tries,
    reset_answers_alike_for_every_address,
);
