//! Second factors through the HTTP API, on both engines: TOTP enrolment (secret shown once,
//! active only after a right code, stored sealed), listing, renaming and removal; sign-in with
//! a second factor for cookie and JWT logins (pending state, 5-minute expiry, aal/amr on the
//! session and the tokens); replay and the window edges; the login backoff on wrong codes;
//! recovery codes (single use, mail, regeneration); step-up for sensitive actions; and staff's
//! reset and requirement. Codes are computed from the enrolled secret at the test clock's time.

use accounts::activity::events::{EventType, Severity};
use accounts::auth::totp;
use accounts::clock::Clock;
use accounts::http::ApiResponse;
use accounts::model::{Role, UserId};
use accounts::store::{Index, Query, SortCondition, Value, keys};
use api_tests::app::{TestApp, set_cookie};
use api_tests::fixtures::{
    Login, PASSWORD, Signup, access_token, events_of, person_with, register,
};
use api_tests::{TestTable, both_engines};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use serde_json::{Value as Json, json};

const INVALID_CODE: &str = "Invalid code.";

// ------------------------------------------------------------------------------- helpers

/// A factor just enrolled and confirmed: the secret and the recovery codes.
struct Enrolled {
    factor_id: String,
    secret: Vec<u8>,
    recovery_codes: Vec<String>,
}

async fn enrol(app: &TestApp, token: &str) -> (String, Vec<u8>) {
    let response = app
        .post("/api/auth/mfa/factors/")
        .bearer(token)
        .json(json!({ "name": "Phone" }))
        .send()
        .await;
    assert_eq!(response.status, 201, "enrol: {}", response.body_json());
    let body = response.body_json();
    let secret = totp::from_base32(body["secret"].as_str().unwrap()).expect("a base32 secret");
    (body["factor"]["id"].as_str().unwrap().to_owned(), secret)
}

/// The code of `secret` at the test clock's now, `steps` steps away.
fn code(app: &TestApp, secret: &[u8], steps: i64) -> String {
    let now = app.clock().now().timestamp();
    totp::code_for_step(secret, totp::step_at(now) + steps)
}

async fn confirm(app: &TestApp, token: &str, factor_id: &str, code: &str) -> ApiResponse {
    app.post(&format!("/api/auth/mfa/factors/{factor_id}/confirm/"))
        .bearer(token)
        .json(json!({ "code": code }))
        .send()
        .await
}

/// Enrols and confirms a factor; the step used by the confirmation is spent, so the clock
/// moves to the next step before returning.
async fn enrol_and_confirm(app: &TestApp, token: &str) -> Enrolled {
    let (factor_id, secret) = enrol(app, token).await;
    let response = confirm(app, token, &factor_id, &code(app, &secret, 0)).await;
    assert_eq!(response.status, 200, "confirm: {}", response.body_json());
    let recovery_codes = response.body_json()["recovery_codes"]
        .as_array()
        .expect("the first factor brings recovery codes")
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    app.clock().advance(Duration::seconds(totp::STEP_SECS));
    Enrolled {
        factor_id,
        secret,
        recovery_codes,
    }
}

/// A JWT login that stops at the second factor: the pending sign-in's token.
async fn pending_jwt_login(app: &TestApp, username: &str) -> String {
    let response = Login::new(username).send(app).await;
    assert_eq!(response.status, 202, "pending: {}", response.body_json());
    let body = response.body_json();
    assert_eq!(body["mfa_required"], true);
    assert!(body.get("access").is_none() && body.get("refresh").is_none());
    body["mfa_token"].as_str().unwrap().to_owned()
}

async fn verify(app: &TestApp, mfa_token: &str, field: &str, value: &str) -> ApiResponse {
    app.post("/api/auth/mfa/verify/")
        .json(json!({ "mfa_token": mfa_token, field: value }))
        .send()
        .await
}

fn claims_of(token: &str) -> Json {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn me(app: &TestApp, token: &str) -> Json {
    let response = app.get("/api/auth/me/").bearer(token).send().await;
    assert_eq!(response.status, 200, "me: {}", response.body_json());
    response.body_json()
}

async fn factors(app: &TestApp, token: &str) -> Json {
    let response = app.get("/api/auth/mfa/factors/").bearer(token).send().await;
    assert_eq!(response.status, 200, "factors: {}", response.body_json());
    assert_eq!(
        response.headers.get("cache-control").unwrap(),
        "no-store",
        "authenticated answers are not cached"
    );
    response.body_json()
}

async fn create_api_token(app: &TestApp, token: &str) -> ApiResponse {
    app.post("/api/auth/tokens/")
        .bearer(token)
        .json(json!({ "name": "deploys" }))
        .send()
        .await
}

async fn step_up(app: &TestApp, token: &str, body: Json) -> ApiResponse {
    app.post("/api/auth/mfa/step-up/")
        .bearer(token)
        .json(body)
        .send()
        .await
}

fn assert_step_up_required(response: &ApiResponse, methods: &[&str]) {
    assert_eq!(response.status, 403, "{}", response.body_json());
    let body = response.body_json();
    assert_eq!(body["code"], "step_up_required", "{body}");
    assert_eq!(body["methods"], json!(methods), "{body}");
}

fn assert_wrong(response: &ApiResponse, field: &str) {
    assert_eq!(response.status, 400, "{}", response.body_json());
    assert_eq!(response.body_json(), json!({ field: [INVALID_CODE] }));
}

/// The stored items of the user's partition whose sort key starts with `prefix`.
async fn stored(app: &TestApp, user: UserId, prefix: &str) -> Vec<accounts::store::Item> {
    let query = Query::new(Index::Primary, keys::user_partition(user))
        .sort(SortCondition::BeginsWith(prefix.into()))
        .consistent();
    app.table().query(query).await.unwrap().items
}

// ------------------------------------------------------------------------------- enrolment

both_engines!(
    async fn enrol_confirm_list_rename_and_remove(t: TestTable) {
        let app = TestApp::new(t).await;
        let id = register(&app, "jane").await;
        let token = access_token(&app, "jane").await;

        let response = app
            .post("/api/auth/mfa/factors/")
            .bearer(&token)
            .json(json!({ "name": "Phone" }))
            .send()
            .await;
        assert_eq!(response.status, 201, "{}", response.body_json());
        assert_eq!(response.headers.get("cache-control").unwrap(), "no-store");
        let body = response.body_json();
        let encoded = body["secret"].as_str().unwrap().to_owned();
        let secret = totp::from_base32(&encoded).unwrap();
        assert_eq!(secret.len(), 20);
        let uri = body["otpauth_uri"].as_str().unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Accounts:jane?secret=") && uri.contains(&encoded),
            "{uri}"
        );
        assert!(uri.contains("algorithm=SHA1&digits=6&period=30"), "{uri}");
        assert!(body["qr_svg"].as_str().unwrap().contains("<svg"));
        assert_eq!(body["factor"]["status"], "pending");
        let factor_id = body["factor"]["id"].as_str().unwrap().to_owned();

        // Stored sealed: neither the base32 nor the raw secret is in the item.
        let items = stored(&app, id, keys::MFA_FACTOR_PREFIX).await;
        assert_eq!(items.len(), 1);
        let item_text = format!("{:?}", items[0]);
        assert!(!item_text.contains(&encoded), "{item_text}");
        assert!(!item_text.contains(&URL_SAFE_NO_PAD.encode(&secret)));

        // Pending: a sign-in still needs the password only.
        assert_eq!(Login::new("jane").send(&app).await.status, 200);
        let listed = factors(&app, &token).await;
        assert_eq!(listed["results"][0]["status"], "pending");
        assert!(
            !listed.to_string().contains(&encoded),
            "no secret after enrolment"
        );

        // A wrong code leaves it pending; the right one activates it.
        let wrong = confirm(&app, &token, &factor_id, &code(&app, &secret, 3)).await;
        assert_wrong(&wrong, "code");
        let response = confirm(&app, &token, &factor_id, &code(&app, &secret, 0)).await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        let body = response.body_json();
        assert_eq!(body["factor"]["status"], "active");
        let codes = body["recovery_codes"].as_array().unwrap();
        assert_eq!(codes.len(), 10);
        assert!(!body.to_string().contains(&encoded));
        assert_eq!(stored(&app, id, keys::RECOVERY_CODE_PREFIX).await.len(), 10);
        // Stored hashed: no code in any item.
        let stored_codes = format!("{:?}", stored(&app, id, keys::RECOVERY_CODE_PREFIX).await);
        assert!(
            codes
                .iter()
                .all(|c| !stored_codes.contains(c.as_str().unwrap()))
        );
        assert_eq!(
            confirm(&app, &token, &factor_id, &code(&app, &secret, 0))
                .await
                .status,
            409,
            "already active"
        );
        assert_eq!(
            events_of(&app.app, id, EventType::MfaEnabled).await.len(),
            1
        );

        let listed = factors(&app, &token).await;
        assert_eq!(listed["count"], 1);
        assert_eq!(listed["results"][0]["status"], "active");
        assert_eq!(listed["recovery_codes_remaining"], 10);

        let renamed = app
            .patch(&format!("/api/auth/mfa/factors/{factor_id}/"))
            .bearer(&token)
            .json(json!({ "name": "  Work phone " }))
            .send()
            .await;
        assert_eq!(renamed.status, 200, "{}", renamed.body_json());
        assert_eq!(renamed.body_json()["name"], "Work phone");
        assert_eq!(
            factors(&app, &token).await["results"][0]["name"],
            "Work phone"
        );

        // Removing is sensitive: the confirmation counted as a second factor, 11 minutes ago
        // is too long.
        app.clock().advance(Duration::minutes(11));
        let path = format!("/api/auth/mfa/factors/{factor_id}/");
        let refused = app.delete(&path).bearer(&token).send().await;
        assert_step_up_required(&refused, &["totp", "recovery_code"]);
        assert_eq!(factors(&app, &token).await["count"], 1, "nothing removed");
        let up = step_up(&app, &token, json!({ "code": code(&app, &secret, 0) })).await;
        assert_eq!(up.status, 200, "{}", up.body_json());
        assert_eq!(up.body_json()["aal"], 2);
        let removed = app.delete(&path).bearer(&token).send().await;
        assert_eq!(removed.status, 204);
        let listed = factors(&app, &token).await;
        assert_eq!(listed["count"], 0);
        assert_eq!(
            listed["recovery_codes_remaining"], 0,
            "the last factor takes the codes"
        );
        assert_eq!(
            events_of(&app.app, id, EventType::MfaDisabled).await.len(),
            1
        );
        assert_eq!(
            Login::new("jane").send(&app).await.status,
            200,
            "password alone again"
        );
        assert_eq!(app.delete(&path).bearer(&token).send().await.status, 404);
    }
);

both_engines!(
    async fn an_unconfirmed_factor_lapses_and_bad_input_is_a_4xx(t: TestTable) {
        let app = TestApp::new(t).await;
        let id = register(&app, "omar").await;
        let token = access_token(&app, "omar").await;

        let long = "x".repeat(65);
        let response = app
            .post("/api/auth/mfa/factors/")
            .bearer(&token)
            .json(json!({ "name": long }))
            .send()
            .await;
        assert_eq!(response.status, 400);
        assert!(response.body_json()["name"].is_array());
        let response = app
            .post("/api/auth/mfa/factors/")
            .bearer(&token)
            .json(json!({ "secret": "mine" }))
            .send()
            .await;
        assert_eq!(response.status, 400, "unknown field");
        assert!(
            stored(&app, id, keys::MFA_FACTOR_PREFIX).await.is_empty(),
            "no write"
        );
        assert_eq!(
            app.post("/api/auth/mfa/factors/")
                .json(json!({}))
                .send()
                .await
                .status,
            401
        );

        let (factor_id, secret) = enrol(&app, &token).await;
        let missing = confirm(&app, &token, &factor_id, "").await;
        assert_eq!(missing.status, 400);
        assert_eq!(
            missing.body_json(),
            json!({ "code": ["This field is required."] })
        );
        for bad in ["nope", "01ARZ3NDEKTSV4RRFFQ69G5FAV"] {
            let response = confirm(&app, &token, bad, "123456").await;
            assert_eq!(response.status, 404, "{bad}");
        }
        // Someone else's factor is not found either.
        register(&app, "pia").await;
        let other = access_token(&app, "pia").await;
        let response = confirm(&app, &other, &factor_id, &code(&app, &secret, 0)).await;
        assert_eq!(response.status, 404);

        app.clock().advance(Duration::seconds(
            accounts::auth::mfa::PENDING_FACTOR_TTL_SECS,
        ));
        let lapsed = confirm(&app, &token, &factor_id, &code(&app, &secret, 0)).await;
        assert_eq!(lapsed.status, 404, "{}", lapsed.body_json());
        assert_eq!(factors(&app, &token).await["count"], 0);

        let verify_bad = app
            .post("/api/auth/mfa/verify/")
            .json(json!({ "mfa_token": "x", "code": "123456", "recovery_code": "a" }))
            .send()
            .await;
        assert_eq!(verify_bad.status, 400);
        assert!(verify_bad.body_json()["code"].is_array());
        let no_token = app
            .post("/api/auth/mfa/verify/")
            .json(json!({ "code": "123456" }))
            .send()
            .await;
        assert_eq!(
            no_token.body_json(),
            json!({ "mfa_token": ["This field is required."] })
        );
        let unknown = verify(&app, "not-a-pending-sign-in", "code", "123456").await;
        assert_eq!(unknown.status, 400);
        assert!(unknown.body_json()["mfa_token"].is_array());
    }
);

// ------------------------------------------------------------------------------- sign-in

both_engines!(
    async fn both_logins_wait_for_the_second_factor_and_carry_aal2(t: TestTable) {
        let app = TestApp::new(t).await;
        let id = register(&app, "kim").await;
        let token = access_token(&app, "kim").await;
        assert_eq!(me(&app, &token).await["aal"], 1);
        assert_eq!(me(&app, &token).await["amr"], json!(["pwd"]));
        let enrolled = enrol_and_confirm(&app, &token).await;

        // Cookie login: 202, no cookies, no session.
        let session_count = |body: Json| body["results"].as_array().map(Vec::len);
        let sessions_before = session_count(
            app.get("/api/sessions/")
                .bearer(&token)
                .send()
                .await
                .body_json(),
        );
        assert!(sessions_before.is_some());
        let response = app
            .post("/api/auth/login/")
            .json(json!({ "username": "kim", "password": PASSWORD }))
            .send()
            .await;
        assert_eq!(response.status, 202, "{}", response.body_json());
        assert!(
            set_cookie(&response, "sessionid").is_none(),
            "no session yet"
        );
        let body = response.body_json();
        assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
        let cookie_token = body["mfa_token"].as_str().unwrap().to_owned();
        let sessions_after = session_count(
            app.get("/api/sessions/")
                .bearer(&token)
                .send()
                .await
                .body_json(),
        );
        assert_eq!(
            sessions_before, sessions_after,
            "a pending sign-in is no session"
        );

        let done = verify(
            &app,
            &cookie_token,
            "code",
            &code(&app, &enrolled.secret, 0),
        )
        .await;
        assert_eq!(done.status, 200, "{}", done.body_json());
        assert_eq!(done.body_json()["id"], id.0);
        let session = set_cookie(&done, "sessionid").expect("the session cookie");
        let csrf = set_cookie(&done, "csrftoken").unwrap();
        let me_cookie = app
            .get("/api/auth/me/")
            .cookies(&[("sessionid", &session), ("csrftoken", &csrf)])
            .send()
            .await
            .body_json();
        assert_eq!(me_cookie["aal"], 2);
        assert_eq!(me_cookie["amr"], json!(["pwd", "otp"]));
        // The pending sign-in is spent.
        app.clock().advance(Duration::seconds(totp::STEP_SECS));
        let again = verify(
            &app,
            &cookie_token,
            "code",
            &code(&app, &enrolled.secret, 0),
        )
        .await;
        assert_eq!(again.status, 400);
        assert!(again.body_json()["mfa_token"].is_array());

        // JWT login: 202 without tokens, then a pair that says aal2.
        let mfa_token = pending_jwt_login(&app, "kim").await;
        let done = verify(&app, &mfa_token, "code", &code(&app, &enrolled.secret, 0)).await;
        assert_eq!(done.status, 200, "{}", done.body_json());
        let body = done.body_json();
        let access = body["access"].as_str().unwrap();
        assert_eq!(body["user"]["id"], id.0);
        assert_eq!(claims_of(access)["aal"], 2);
        assert_eq!(claims_of(access)["amr"], json!(["pwd", "otp"]));
        assert_eq!(claims_of(body["refresh"].as_str().unwrap())["aal"], 2);
        assert_eq!(me(&app, access).await["aal"], 2);
        let sessions = app
            .get("/api/sessions/")
            .bearer(access)
            .send()
            .await
            .body_json();
        let current = sessions["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["is_current"] == true)
            .expect("the current session is listed")
            .clone();
        assert_eq!(current["aal"], 2);
        assert_eq!(current["amr"], json!(["pwd", "otp"]));
        // A refreshed pair keeps the session's assurance.
        let refreshed = app
            .post("/api/auth/jwt/refresh/")
            .json(json!({ "refresh": body["refresh"] }))
            .send()
            .await;
        assert_eq!(refreshed.status, 200);
        assert_eq!(
            claims_of(refreshed.body_json()["access"].as_str().unwrap())["aal"],
            2
        );

        let logins = events_of(&app.app, id, EventType::Login).await;
        assert!(
            logins
                .iter()
                .any(|e| e.metadata["amr"] == json!(["pwd", "otp"]))
        );
    }
);

both_engines!(
    async fn a_pending_sign_in_lasts_five_minutes(t: TestTable) {
        let app = TestApp::new(t).await;
        register(&app, "lea").await;
        let token = access_token(&app, "lea").await;
        let enrolled = enrol_and_confirm(&app, &token).await;

        let in_time = pending_jwt_login(&app, "lea").await;
        let late = pending_jwt_login(&app, "lea").await;
        app.clock().advance(Duration::seconds(299));
        let done = verify(&app, &in_time, "code", &code(&app, &enrolled.secret, 0)).await;
        assert_eq!(done.status, 200, "{}", done.body_json());
        app.clock().advance(Duration::seconds(1));
        let expired = verify(&app, &late, "code", &code(&app, &enrolled.secret, 1)).await;
        assert_eq!(expired.status, 400, "{}", expired.body_json());
        assert!(expired.body_json()["mfa_token"].is_array());
    }
);

both_engines!(
    async fn a_code_is_taken_once_within_one_step_either_side(t: TestTable) {
        let app = TestApp::new(t).await;
        let id = register(&app, "ivo").await;
        let token = access_token(&app, "ivo").await;
        let enrolled = enrol_and_confirm(&app, &token).await;
        let secret = &enrolled.secret;
        // enrol_and_confirm used the previous step's code: it is refused now (replay).
        let pending = pending_jwt_login(&app, "ivo").await;
        assert_wrong(
            &verify(&app, &pending, "code", &code(&app, secret, -1)).await,
            "code",
        );
        // Two steps back is outside the window.
        app.clock().advance(Duration::seconds(3 * totp::STEP_SECS));
        assert_wrong(
            &verify(&app, &pending, "code", &code(&app, secret, -2)).await,
            "code",
        );
        // One step back is the edge of the window.
        let done = verify(&app, &pending, "code", &code(&app, secret, -1)).await;
        assert_eq!(done.status, 200, "{}", done.body_json());

        let pending = pending_jwt_login(&app, "ivo").await;
        // The same code again: refused (taken once).
        assert_wrong(
            &verify(&app, &pending, "code", &code(&app, secret, -1)).await,
            "code",
        );
        // Two steps ahead is outside the window; one ahead is inside.
        assert_wrong(
            &verify(&app, &pending, "code", &code(&app, secret, 2)).await,
            "code",
        );
        let done = verify(&app, &pending, "code", &code(&app, secret, 1)).await;
        assert_eq!(done.status, 200, "{}", done.body_json());
        // After a later step was taken, the current step's code is refused too.
        let pending = pending_jwt_login(&app, "ivo").await;
        assert_wrong(
            &verify(&app, &pending, "code", &code(&app, secret, 0)).await,
            "code",
        );
        app.clock().advance(Duration::seconds(2 * totp::STEP_SECS));
        let done = verify(&app, &pending, "code", &code(&app, secret, 0)).await;
        assert_eq!(done.status, 200, "{}", done.body_json());

        let failed = events_of(&app.app, id, EventType::MfaChallengeFailed).await;
        assert_eq!(failed.len(), 5);
    }
);

both_engines!(
    async fn wrong_codes_back_off_like_logins(t: TestTable) {
        let app = TestApp::new(t).await;
        let id = register(&app, "uma").await;
        let token = access_token(&app, "uma").await;
        let enrolled = enrol_and_confirm(&app, &token).await;
        let right = |app: &TestApp| code(app, &enrolled.secret, 0);
        let wrong = |app: &TestApp| code(app, &enrolled.secret, 5);

        let pending = pending_jwt_login(&app, "uma").await;
        for _ in 0..5 {
            assert_wrong(&verify(&app, &pending, "code", &wrong(&app)).await, "code");
        }
        // Five wrong codes void the pending sign-in ...
        let void = verify(&app, &pending, "code", &right(&app)).await;
        assert_eq!(void.status, 400, "{}", void.body_json());
        assert!(void.body_json()["mfa_token"].is_array());
        // ... and the account waits (2^0 s after the fifth failure) even with a right code.
        let pending = pending_jwt_login(&app, "uma").await;
        let throttled = verify(&app, &pending, "code", &right(&app)).await;
        assert_eq!(throttled.status, 429, "{}", throttled.body_json());
        assert!(throttled.headers.get("retry-after").is_some());
        assert_eq!(
            stored(&app, id, "MFAFAIL").await[0]
                .get("failures")
                .and_then(Value::as_i64),
            Some(5)
        );
        app.clock().advance(Duration::seconds(2));
        let done = verify(&app, &pending, "code", &right(&app)).await;
        assert_eq!(done.status, 200, "{}", done.body_json());
        assert!(
            stored(&app, id, "MFAFAIL").await.is_empty(),
            "cleared by a right code"
        );
        assert_eq!(
            events_of(&app.app, id, EventType::MfaChallengeFailed)
                .await
                .len(),
            5
        );
    }
);

// ------------------------------------------------------------------------------- recovery

both_engines!(
    async fn recovery_codes_work_once_tell_the_owner_and_regenerate(t: TestTable) {
        let app = TestApp::new(t).await;
        let id = register(&app, "ada").await;
        let token = access_token(&app, "ada").await;
        let enrolled = enrol_and_confirm(&app, &token).await;
        let first = enrolled.recovery_codes[0].clone();

        let pending = pending_jwt_login(&app, "ada").await;
        // Typed in capitals without dashes: the same code.
        let typed = first.replace('-', "").to_uppercase();
        let done = verify(&app, &pending, "recovery_code", &typed).await;
        assert_eq!(done.status, 200, "{}", done.body_json());
        let access = done.body_json()["access"].as_str().unwrap().to_owned();
        assert_eq!(claims_of(&access)["amr"], json!(["pwd", "recovery"]));
        let used = events_of(&app.app, id, EventType::RecoveryCodeUsed).await;
        assert_eq!(used.len(), 1);
        assert_eq!(used[0].severity, Severity::High);
        let mail = app.outbox().into_iter().last().unwrap();
        assert_eq!(mail.to, "ada@example.com");
        assert!(mail.subject.contains("recovery code"), "{}", mail.subject);
        assert!(mail.text.contains("9 unused"), "{}", mail.text);

        let pending = pending_jwt_login(&app, "ada").await;
        assert_wrong(
            &verify(&app, &pending, "recovery_code", &first).await,
            "recovery_code",
        );
        assert_eq!(factors(&app, &access).await["recovery_codes_remaining"], 9);

        // Regenerating (the recovery sign-in is a recent second factor) voids the old set.
        let response = app
            .post("/api/auth/mfa/recovery-codes/")
            .bearer(&access)
            .send()
            .await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        let new_codes = response.body_json()["recovery_codes"].clone();
        assert_eq!(new_codes.as_array().unwrap().len(), 10);
        assert_eq!(factors(&app, &access).await["recovery_codes_remaining"], 10);
        let old_unused = &enrolled.recovery_codes[1];
        assert_wrong(
            &verify(&app, &pending, "recovery_code", old_unused).await,
            "recovery_code",
        );
        let done = verify(
            &app,
            &pending,
            "recovery_code",
            new_codes[0].as_str().unwrap(),
        )
        .await;
        assert_eq!(done.status, 200, "{}", done.body_json());
        assert_eq!(
            events_of(&app.app, id, EventType::RecoveryCodesRegenerated)
                .await
                .len(),
            1
        );
    }
);

// ------------------------------------------------------------------------------- step-up

both_engines!(
    async fn sensitive_actions_need_a_recent_strong_authentication(t: TestTable) {
        let app = TestApp::new(t).await;
        // Without a factor: a recent password.
        register(&app, "bodil").await;
        let token = access_token(&app, "bodil").await;
        assert_eq!(create_api_token(&app, &token).await.status, 201);
        app.clock().advance(Duration::minutes(11));
        let refused = create_api_token(&app, &token).await;
        assert_step_up_required(&refused, &["password"]);
        let list = app.get("/api/auth/tokens/").bearer(&token).send().await;
        assert_eq!(list.body_json()["count"], 1, "nothing created");
        let wrong = step_up(&app, &token, json!({ "password": "not-it-at-all" })).await;
        assert_eq!(wrong.status, 400);
        let up = step_up(&app, &token, json!({ "password": PASSWORD })).await;
        assert_eq!(up.status, 200, "{}", up.body_json());
        assert_eq!(up.body_json()["aal"], 1);
        assert_eq!(create_api_token(&app, &token).await.status, 201);
        assert_eq!(
            step_up(&app, &token, json!({})).await.status,
            400,
            "one proof is needed"
        );

        // With a factor: a recent second factor, a password is not enough.
        register(&app, "cyrus").await;
        let token = access_token(&app, "cyrus").await;
        let enrolled = enrol_and_confirm(&app, &token).await;
        app.clock().advance(Duration::minutes(11));
        assert_step_up_required(
            &create_api_token(&app, &token).await,
            &["totp", "recovery_code"],
        );
        let change = app
            .post("/api/auth/password/change/")
            .bearer(&token)
            .json(json!({ "current_password": PASSWORD, "new_password": "Quiet-Meadow-7714" }))
            .send()
            .await;
        assert_step_up_required(&change, &["totp", "recovery_code"]);
        assert_eq!(
            Login::new("cyrus").send(&app).await.status,
            202,
            "the password is unchanged"
        );
        let enrol_more = app
            .post("/api/auth/mfa/factors/")
            .bearer(&token)
            .json(json!({}))
            .send()
            .await;
        assert_step_up_required(&enrol_more, &["totp", "recovery_code"]);
        let up = step_up(&app, &token, json!({ "password": PASSWORD })).await;
        assert_eq!(up.status, 200);
        assert_step_up_required(
            &create_api_token(&app, &token).await,
            &["totp", "recovery_code"],
        );
        let up = step_up(
            &app,
            &token,
            json!({ "code": code(&app, &enrolled.secret, 0) }),
        )
        .await;
        assert_eq!(up.status, 200, "{}", up.body_json());
        assert_eq!(up.body_json()["aal"], 2);
        // The same code does not step up twice.
        let replay = step_up(
            &app,
            &token,
            json!({ "code": code(&app, &enrolled.secret, 0) }),
        )
        .await;
        assert_wrong(&replay, "code");
        assert_eq!(create_api_token(&app, &token).await.status, 201);
        let change = app
            .post("/api/auth/password/change/")
            .bearer(&token)
            .json(json!({ "current_password": PASSWORD, "new_password": "Quiet-Meadow-7714" }))
            .send()
            .await;
        assert_eq!(change.status, 200, "{}", change.body_json());
    }
);

// ------------------------------------------------------------------------------- staff

both_engines!(
    async fn an_administrator_resets_factors_and_the_owner_is_told(t: TestTable) {
        let app = TestApp::new(t).await;
        let id = register(&app, "eve").await;
        let token = access_token(&app, "eve").await;
        enrol_and_confirm(&app, &token).await;
        let admin = person_with(&app.app, 900, Role::Admin, false).await;
        let moderator = person_with(&app.app, 901, Role::Moderator, false).await;
        let path = format!("/api/users/{}/mfa/", id.0);

        assert_eq!(app.delete(&path).bearer(&token).send().await.status, 404);
        assert_eq!(
            app.delete(&path)
                .bearer(&moderator.token)
                .send()
                .await
                .status,
            403
        );
        let response = app.delete(&path).bearer(&admin.token).send().await;
        assert_eq!(response.status, 204, "{}", response.body_json());
        assert!(stored(&app, id, keys::MFA_FACTOR_PREFIX).await.is_empty());
        assert!(
            stored(&app, id, keys::RECOVERY_CODE_PREFIX)
                .await
                .is_empty()
        );
        assert_eq!(
            Login::new("eve").send(&app).await.status,
            200,
            "password alone again"
        );
        let reset = events_of(&app.app, id, EventType::MfaReset).await;
        assert_eq!(reset.len(), 1);
        let admin_actions = events_of(&app.app, admin.id, EventType::AdminAction).await;
        assert!(
            admin_actions
                .iter()
                .any(|e| e.metadata["action"] == "mfa_reset")
        );
        let mail = app.outbox().into_iter().last().unwrap();
        assert_eq!(mail.to, "eve@example.com");
        assert!(mail.subject.contains("reset"), "{}", mail.subject);
        assert_eq!(
            app.delete(&path).bearer(&admin.token).send().await.status,
            409
        );
    }
);

both_engines!(
    async fn staff_may_be_required_to_have_a_second_factor(t: TestTable) {
        let app = TestApp::with_settings(t, &[("MFA_REQUIRED_FOR_STAFF", "true")]).await;
        let target = register(&app, "sam").await;
        let moderator = person_with(&app.app, 902, Role::Moderator, false).await;
        let path = format!("/api/users/{}/suspend/", target.0);
        let refused = app
            .post(&path)
            .bearer(&moderator.token)
            .json(json!({ "reason": "spam" }))
            .send()
            .await;
        assert_eq!(refused.status, 403, "{}", refused.body_json());
        assert_eq!(refused.body_json()["code"], "mfa_enrolment_required");
        assert_eq!(
            Login::new("sam").send(&app).await.status,
            200,
            "not suspended"
        );

        // Enrolling is allowed, and with the factor the moderator may act.
        let enrolled = enrol_and_confirm(&app, &moderator.token).await;
        let _ = enrolled.factor_id;
        let done = app
            .post(&path)
            .bearer(&moderator.token)
            .json(json!({ "reason": "spam" }))
            .send()
            .await;
        assert_eq!(done.status, 200, "{}", done.body_json());
    }
);

both_engines!(
    async fn administrators_set_the_staff_requirement_at_run_time(t: TestTable) {
        let app = TestApp::new(t).await;
        let target = register(&app, "tess").await;
        register(&app, "ugo").await;
        let moderator = person_with(&app.app, 903, Role::Moderator, false).await;
        let admin = person_with(&app.app, 904, Role::Admin, false).await;

        // The deployment's default (MFA_REQUIRED_FOR_STAFF unset): off, never changed.
        let read = app
            .get("/api/security-policy/")
            .bearer(&moderator.token)
            .send()
            .await;
        assert_eq!(read.status, 200, "{}", read.body_json());
        assert_eq!(read.headers.get("cache-control").unwrap(), "no-store");
        assert_eq!(
            read.body_json(),
            json!({ "mfa_required_for_staff": false, "updated_at": null, "updated_by": null })
        );

        // Only administrators change it; a bad body is a field error.
        let refused = app
            .patch("/api/security-policy/")
            .bearer(&moderator.token)
            .json(json!({ "mfa_required_for_staff": true }))
            .send()
            .await;
        assert_eq!(refused.status, 403);
        let bad = app
            .patch("/api/security-policy/")
            .bearer(&admin.token)
            .json(json!({ "mfa_required_for_staff": "yes" }))
            .send()
            .await;
        assert_eq!(bad.status, 400, "{}", bad.body_json());
        let changed = app
            .patch("/api/security-policy/")
            .bearer(&admin.token)
            .json(json!({ "mfa_required_for_staff": true }))
            .send()
            .await;
        assert_eq!(changed.status, 200, "{}", changed.body_json());
        assert_eq!(changed.body_json()["mfa_required_for_staff"], true);
        assert_eq!(changed.body_json()["updated_by"], 904);
        let logged = events_of(&app.app, UserId(904), EventType::AdminAction)
            .await
            .pop()
            .expect("the change is logged");
        assert_eq!(logged.severity, Severity::High);
        assert_eq!(
            logged.metadata["mfa_required_for_staff"],
            json!({ "from": false, "to": true })
        );

        // It applies at once: the moderator without a factor is refused a sensitive action.
        let path = format!("/api/users/{}/suspend/", target.0);
        let refused = app
            .post(&path)
            .bearer(&moderator.token)
            .json(json!({ "reason": "spam" }))
            .send()
            .await;
        assert_eq!(refused.status, 403, "{}", refused.body_json());
        assert_eq!(refused.body_json()["code"], "mfa_enrolment_required");

        // Turned off again, the same request passes.
        let off = app
            .patch("/api/security-policy/")
            .bearer(&admin.token)
            .json(json!({ "mfa_required_for_staff": false }))
            .send()
            .await;
        assert_eq!(
            off.status,
            403,
            "the administrator has no factor now: {}",
            off.body_json()
        );
        assert_eq!(off.body_json()["code"], "mfa_enrolment_required");
        enrol_and_confirm(&app, &admin.token).await;
        let off = app
            .patch("/api/security-policy/")
            .bearer(&admin.token)
            .json(json!({ "mfa_required_for_staff": false }))
            .send()
            .await;
        assert_eq!(off.status, 200, "{}", off.body_json());
        let done = app
            .post(&path)
            .bearer(&moderator.token)
            .json(json!({ "reason": "spam" }))
            .send()
            .await;
        assert_eq!(done.status, 200, "{}", done.body_json());

        // Not staff: the setting does not exist for them.
        let user = access_token(&app, "ugo").await;
        let hidden = app.get("/api/security-policy/").bearer(&user).send().await;
        assert_eq!(hidden.status, 404);
    }
);

both_engines!(
    async fn the_export_lists_factors_without_their_secrets(t: TestTable) {
        let app = TestApp::new(t).await;
        let id = register(&app, "vera").await;
        let token = access_token(&app, "vera").await;
        let enrolled = enrol_and_confirm(&app, &token).await;
        let wrong = app
            .post("/api/auth/mfa/step-up/")
            .bearer(&token)
            .json(json!({ "code": "000000" }))
            .send()
            .await;
        assert_eq!(wrong.status, 400);

        let response = app
            .get(&format!("/api/users/{}/export/", id.0))
            .bearer(&token)
            .send()
            .await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        let export = response.body_json();
        assert_eq!(
            export["second_factors"][0]["id"],
            enrolled.factor_id.as_str()
        );
        assert_eq!(export["second_factors"][0]["status"], "active");
        assert_eq!(export["recovery_codes_remaining"], 10);
        assert_eq!(export["passkeys"], json!([]));
        assert!(export["second_factor_failures"].is_object(), "{export}");
        // No secret in any form: not the sealed secret, not a recovery code's hash.
        let text = export.to_string();
        assert!(!text.contains("sealed_secret"), "{text}");
        // Every item of the account has its section: nothing falls through to `other`.
        assert!(export.get("other").is_none(), "{}", export["other"]);
        for code in &enrolled.recovery_codes {
            assert!(!text.contains(code.as_str()));
        }
    }
);

// ------------------------------------------------------------------------------- access

both_engines!(
    async fn who_may_call_the_second_factor_routes(t: TestTable) {
        let app = TestApp::new(t).await;
        register(&app, "noor").await;
        let token = access_token(&app, "noor").await;
        let created = create_api_token(&app, &token).await;
        assert_eq!(created.status, 201);
        let key = created.body_json()["key"].as_str().unwrap().to_owned();

        // Anonymous: 401 on every route of a signed-in user.
        for (method, path) in [
            ("GET", "/api/auth/mfa/factors/"),
            ("POST", "/api/auth/mfa/factors/"),
            ("POST", "/api/auth/mfa/recovery-codes/"),
            ("POST", "/api/auth/mfa/step-up/"),
            ("DELETE", "/api/users/1/mfa/"),
        ] {
            let request = match method {
                "GET" => app.get(path),
                "DELETE" => app.delete(path),
                _ => app.post(path).json(json!({})),
            };
            assert_eq!(request.send().await.status, 401, "{method} {path}");
        }

        // An API token lists, but has no session to step up or to enrol with.
        let listed = app
            .get("/api/auth/mfa/factors/")
            .api_token(&key)
            .send()
            .await;
        assert_eq!(listed.status, 200);
        let enrol = app
            .post("/api/auth/mfa/factors/")
            .api_token(&key)
            .json(json!({}))
            .send()
            .await;
        assert_eq!(enrol.status, 403, "{}", enrol.body_json());
        let up = app
            .post("/api/auth/mfa/step-up/")
            .api_token(&key)
            .json(json!({ "password": PASSWORD }))
            .send()
            .await;
        assert_eq!(up.status, 400, "{}", up.body_json());

        // An unverified account may not manage factors.
        Signup::new("newbie").unverified().register(&app).await;
        let unverified = access_token(&app, "newbie").await;
        let refused = app
            .get("/api/auth/mfa/factors/")
            .bearer(&unverified)
            .send()
            .await;
        assert_eq!(refused.status, 403);
    }
);
