//! JWTs through the HTTP API, on both engines: every rejection case (alg none, HMAC, unknown
//! or missing kid, a key that is not ours, tampering, wrong issuer or audience, expiry, the
//! wrong token type), refresh rotation with reuse detection and its grace window, logout
//! killing live access tokens, key rotation and the published key set, and the JWT flow from
//! registration to logout.

use accounts::App;
use accounts::activity::events::{EventType, Severity};
use accounts::auth::jwt::{self, INVALID_TOKEN};
use accounts::auth::sessions;
use accounts::clock::Clock;
use accounts::http::{ApiRequest, ApiResponse, Router};
use accounts::store::{Value, keys};
use api_tests::app::{TestApp, build_app};
use api_tests::fixtures::{events_of, sign_in, stored_user};
use api_tests::{TestTable, both_engines};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use http::Method;
use jsonwebtoken::Algorithm;
use serde_json::{Value as Json, json};

const SEED_1: [u8; 32] = [11; 32];
const SEED_2: [u8; 32] = [22; 32];
const FOREIGN_SEED: [u8; 32] = [33; 32];

// ------------------------------------------------------------------------------- helpers

/// The key-set document of `JWT_SIGNING_KEYS`.
fn key_set(keys: &[(&str, [u8; 32])]) -> String {
    let keys: Vec<Json> = keys
        .iter()
        .map(|(kid, seed)| json!({ "kid": kid, "private_key": URL_SAFE_NO_PAD.encode(seed) }))
        .collect();
    json!({ "keys": keys }).to_string()
}

/// A TestApp signing with `SEED_1` under kid `k1`, plus `vars`.
async fn app_with(t: TestTable, vars: &[(&str, &str)]) -> TestApp {
    let keys = key_set(&[("k1", SEED_1)]);
    let mut all = vec![("JWT_SIGNING_KEYS", keys.as_str())];
    all.extend_from_slice(vars);
    TestApp::with_settings(t, &all).await
}

async fn user_info(app: &TestApp, access: &str) -> ApiResponse {
    app.get("/api/auth/jwt/user-info/")
        .bearer(access)
        .send()
        .await
}

async fn refresh(app: &TestApp, refresh: &str) -> ApiResponse {
    app.post("/api/auth/jwt/refresh/")
        .json(json!({ "refresh": refresh }))
        .send()
        .await
}

async fn verify(app: &TestApp, token: &str) -> ApiResponse {
    app.post("/api/auth/jwt/verify/")
        .json(json!({ "token": token }))
        .send()
        .await
}

async fn logout(app: &TestApp, refresh: &str) -> ApiResponse {
    app.post("/api/auth/jwt/logout/")
        .json(json!({ "refresh": refresh }))
        .send()
        .await
}

/// Sends a request to an App that is not the TestApp's (key rotation).
async fn send_to(app: &App, request: ApiRequest) -> ApiResponse {
    Router::all().dispatch(app, request).await
}

fn bearer_get(path: &str, access: &str) -> ApiRequest {
    ApiRequest::new(Method::GET, path).with_header("authorization", &format!("Bearer {access}"))
}

/// Asserts the one answer every refused token gets.
fn assert_refused(response: &ApiResponse, case: &str) {
    assert_eq!(response.status, 401, "{case}: {:?}", response.body_json());
    assert_eq!(
        response.body_json(),
        json!({ "detail": INVALID_TOKEN }),
        "{case}"
    );
}

fn b64(json: &Json) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// The claims of a token, read without checking anything.
fn claims_of(token: &str) -> Json {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(token: &str) -> Json {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

/// A key to forge tokens with. Forging does not go through jsonwebtoken: the service's
/// jsonwebtoken provider knows EdDSA only (`shared/src/auth/jwt_crypto.rs`), and an attacker's
/// HS256 token is exactly what it must never be asked to make.
enum ForgeKey {
    Ed25519([u8; 32]),
    /// An HMAC secret (for HS256 and HS512).
    Secret(Vec<u8>),
}

/// HMAC (RFC 2104) over SHA-256 or SHA-512, block sizes 64 and 128.
fn hmac<D: sha2::Digest>(block: usize, secret: &[u8], message: &[u8]) -> Vec<u8> {
    let mut key = if secret.len() > block {
        D::digest(secret).to_vec()
    } else {
        secret.to_vec()
    };
    key.resize(block, 0);
    let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = D::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    D::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &Json, key: &ForgeKey) -> String {
    let mut header = json!({ "alg": format!("{alg:?}"), "typ": "JWT" });
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    let input = format!("{}.{}", b64(&header), b64(claims));
    let signature = match (alg, key) {
        (Algorithm::EdDSA, ForgeKey::Ed25519(seed)) => {
            use ed25519_dalek::Signer as _;
            ed25519_dalek::SigningKey::from_bytes(seed)
                .sign(input.as_bytes())
                .to_bytes()
                .to_vec()
        }
        (Algorithm::HS256, ForgeKey::Secret(secret)) => {
            hmac::<sha2::Sha256>(64, secret, input.as_bytes())
        }
        (Algorithm::HS512, ForgeKey::Secret(secret)) => {
            hmac::<sha2::Sha512>(128, secret, input.as_bytes())
        }
        (alg, _) => panic!("no forging for {alg:?} with this key"),
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// `claims` with some fields replaced.
fn with(claims: &Json, changes: Json) -> Json {
    let mut claims = claims.clone();
    for (k, v) in changes.as_object().unwrap() {
        claims[k] = v.clone();
    }
    claims
}

/// Replaces one character in the middle of a token part (0 header, 1 payload, 2 signature).
fn flip_char(token: &str, part: usize) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let s = &mut parts[part];
    let mid = s.len() / 2;
    let replacement = if &s[mid..=mid] == "A" { "B" } else { "A" };
    s.replace_range(mid..=mid, replacement);
    parts.join(".")
}

// --------------------------------------------------------------------------------- tests

/// Every forged or misused token gets the same 401, as an access token (user-info), as a
/// refresh token (refresh, logout) and at verify. Each forgery differs from a control that
/// passes in one thing only, so each case fails for its own reason.
async fn every_forged_or_misused_token_is_refused(t: TestTable) {
    let app = app_with(t, &[]).await;
    let user = stored_user(&app.app, 1, "alice", true).await;
    let pair = sign_in(&app.app, &user).await;
    let now = app.clock().epoch_seconds();
    let key = ForgeKey::Ed25519(SEED_1);

    let jwks = app.get("/api/auth/jwks/").send().await.body_json();
    let x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let public = URL_SAFE_NO_PAD.decode(&x).unwrap();

    for (kind, token) in [("access", &pair.access), ("refresh", &pair.refresh)] {
        let good = claims_of(token);
        // Controls: the real token, and a token forged here with the real key, both pass.
        let forged_good = sign(Algorithm::EdDSA, Some("k1"), &good, &key);
        assert_eq!(
            verify(&app, token).await.status,
            200,
            "{kind}: the real token"
        );
        assert_eq!(
            verify(&app, &forged_good).await.status,
            200,
            "{kind}: the control"
        );

        let none_header = json!({ "alg": "none", "typ": "JWT", "kid": "k1" });
        let cases: Vec<(&str, String)> = vec![
            ("alg none", format!("{}.{}.", b64(&none_header), b64(&good))),
            (
                "alg none with the real signature",
                format!(
                    "{}.{}.{}",
                    b64(&none_header),
                    b64(&good),
                    token.split('.').nth(2).unwrap()
                ),
            ),
            (
                "HS256 keyed with the public key",
                sign(
                    Algorithm::HS256,
                    Some("k1"),
                    &good,
                    &ForgeKey::Secret(public.clone()),
                ),
            ),
            (
                "HS256 keyed with the JWK x",
                sign(
                    Algorithm::HS256,
                    Some("k1"),
                    &good,
                    &ForgeKey::Secret(x.as_bytes().to_vec()),
                ),
            ),
            (
                "HS512 keyed with the public key",
                sign(
                    Algorithm::HS512,
                    Some("k1"),
                    &good,
                    &ForgeKey::Secret(public.clone()),
                ),
            ),
            (
                "our kid, another key",
                sign(
                    Algorithm::EdDSA,
                    Some("k1"),
                    &good,
                    &ForgeKey::Ed25519(FOREIGN_SEED),
                ),
            ),
            (
                "unknown kid",
                sign(Algorithm::EdDSA, Some("k9"), &good, &key),
            ),
            ("no kid", sign(Algorithm::EdDSA, None, &good, &key)),
            (
                "tampered payload",
                format!(
                    "{}.{}.{}",
                    token.split('.').next().unwrap(),
                    b64(&with(&good, json!({ "sub": "2" }))),
                    token.split('.').nth(2).unwrap()
                ),
            ),
            ("tampered signature", flip_char(token, 2)),
            ("tampered header", flip_char(token, 0)),
            (
                "wrong issuer",
                sign(
                    Algorithm::EdDSA,
                    Some("k1"),
                    &with(&good, json!({ "iss": "someone-else" })),
                    &key,
                ),
            ),
            (
                "no issuer",
                sign(
                    Algorithm::EdDSA,
                    Some("k1"),
                    &with(&good, json!({ "iss": null })),
                    &key,
                ),
            ),
            (
                "wrong audience",
                sign(
                    Algorithm::EdDSA,
                    Some("k1"),
                    &with(&good, json!({ "aud": "another-api" })),
                    &key,
                ),
            ),
            (
                "expired a second ago",
                sign(
                    Algorithm::EdDSA,
                    Some("k1"),
                    &with(&good, json!({ "exp": now - 1 })),
                    &key,
                ),
            ),
            (
                "expiring this second",
                sign(
                    Algorithm::EdDSA,
                    Some("k1"),
                    &with(&good, json!({ "exp": now })),
                    &key,
                ),
            ),
            (
                "no token type",
                sign(
                    Algorithm::EdDSA,
                    Some("k1"),
                    &with(&good, json!({ "token_type": null })),
                    &key,
                ),
            ),
            ("not a JWT", "not-a-token".to_owned()),
        ];
        for (case, forged) in &cases {
            let case = format!("{kind}: {case}");
            assert_refused(&verify(&app, forged).await, &format!("verify, {case}"));
            if kind == "access" {
                assert_refused(
                    &user_info(&app, forged).await,
                    &format!("user-info, {case}"),
                );
            } else {
                assert_refused(&refresh(&app, forged).await, &format!("refresh, {case}"));
                assert_refused(&logout(&app, forged).await, &format!("logout, {case}"));
            }
        }

        // Our signature, but no live session behind it. (Logout with such a token is
        // harmless and answers 204: there is nothing left to end.)
        let orphan = sign(
            Algorithm::EdDSA,
            Some("k1"),
            &with(&good, json!({ "sid": ulid::Ulid::new().to_string() })),
            &key,
        );
        assert_refused(
            &verify(&app, &orphan).await,
            &format!("{kind}: unknown session"),
        );
        if kind == "access" {
            assert_refused(&user_info(&app, &orphan).await, "access: unknown session");
        } else {
            assert_refused(&refresh(&app, &orphan).await, "refresh: unknown session");
        }
    }

    // The wrong type: a refresh token is no access token, and the reverse.
    assert_refused(
        &user_info(&app, &pair.refresh).await,
        "refresh token used as access",
    );
    assert_refused(
        &refresh(&app, &pair.access).await,
        "access token used to refresh",
    );
    assert_refused(
        &logout(&app, &pair.access).await,
        "access token used to log out",
    );

    // None of the above hurt the real tokens or their session.
    assert_eq!(user_info(&app, &pair.access).await.status, 200);
    assert_eq!(refresh(&app, &pair.refresh).await.status, 200);
}

/// Expiry follows the App's clock: a token is good until its `exp` second, then refused, while
/// a fresh token of the same live session still passes.
async fn tokens_expire_on_the_apps_clock(t: TestTable) {
    let app = app_with(
        t,
        &[("ACCESS_TOKEN_TTL", "600"), ("REFRESH_TOKEN_TTL", "1200")],
    )
    .await;
    let user = stored_user(&app.app, 1, "alice", true).await;
    let pair = sign_in(&app.app, &user).await;
    let sid = claims_of(&pair.access)["sid"].as_str().unwrap().to_owned();
    assert_eq!(
        claims_of(&pair.access)["exp"].as_i64().unwrap()
            - claims_of(&pair.access)["iat"].as_i64().unwrap(),
        600
    );

    app.clock().advance(Duration::seconds(599));
    assert_eq!(user_info(&app, &pair.access).await.status, 200);
    app.clock().advance(Duration::seconds(1));
    assert_refused(&user_info(&app, &pair.access).await, "expired access token");
    let session = accounts::auth::sessions::get_session(&app.app, &sid)
        .await
        .unwrap()
        .unwrap();
    let fresh = jwt::issue_access(&app.app, &session).unwrap();
    assert_eq!(
        user_info(&app, &fresh).await.status,
        200,
        "the session is live"
    );

    app.clock().advance(Duration::seconds(599));
    assert_eq!(
        verify(&app, &pair.refresh).await.status,
        200,
        "one second left"
    );
    app.clock().advance(Duration::seconds(1));
    assert_refused(&refresh(&app, &pair.refresh).await, "expired refresh token");
    assert_refused(&verify(&app, &pair.refresh).await, "expired refresh token");
    let fresh = jwt::issue_pair(&app.app, &session).unwrap();
    assert_eq!(refresh(&app, &fresh.refresh).await.status, 200);
}

/// A refresh rotates: a new pair, the old refresh token revoked by an item that lives until
/// the token would have expired, and a `token_refresh` event.
async fn refresh_rotates_and_revokes_the_old_token(t: TestTable) {
    let app = app_with(t, &[]).await;
    let user = stored_user(&app.app, 1, "alice", true).await;
    let first = sign_in(&app.app, &user).await;

    let response = refresh(&app, &first.refresh).await;
    assert_eq!(response.status, 200, "{:?}", response.body_json());
    assert_eq!(response.headers.get("cache-control").unwrap(), "no-store");
    let second = response.body_json();
    let (access, refresh_token) = (
        second["access"].as_str().unwrap(),
        second["refresh"].as_str().unwrap(),
    );
    assert_ne!(access, first.access);
    assert_ne!(refresh_token, first.refresh);
    let old = claims_of(&first.refresh);
    let new = claims_of(refresh_token);
    assert_eq!(new["sid"], old["sid"], "the same session");
    assert_eq!(new["sub"], json!("1"));
    assert_eq!(claims_of(access)["token_type"], "access");

    assert_eq!(user_info(&app, access).await.status, 200);
    // The first access token is still good: rotation revokes refresh tokens only.
    assert_eq!(user_info(&app, &first.access).await.status, 200);

    let revoked = app
        .table()
        .get(&keys::revoked_token(old["jti"].as_str().unwrap()), true)
        .await
        .unwrap()
        .expect("the old refresh token is revoked");
    assert_eq!(
        revoked.get("expires_at"),
        Some(&Value::Int(old["exp"].as_i64().unwrap()))
    );
    assert_eq!(
        revoked.get("session_id"),
        Some(&Value::S(old["sid"].as_str().unwrap().into()))
    );
    assert_refused(
        &verify(&app, &first.refresh).await,
        "a rotated refresh token",
    );
    let fresh = verify(&app, refresh_token).await;
    assert_eq!(fresh.status, 200);
    assert_eq!(fresh.body_json()["token_type"], "refresh");
    assert_eq!(
        fresh.body_json()["expires_at"],
        json!(chrono::DateTime::from_timestamp(new["exp"].as_i64().unwrap(), 0).unwrap())
    );

    let refreshes = events_of(&app.app, user.id, EventType::TokenRefresh).await;
    assert_eq!(refreshes.len(), 1);
    assert_eq!(refreshes[0].session_id.as_deref(), old["sid"].as_str());
}

/// A rotated refresh token used again within the grace window (parallel tabs) is answered
/// without revoking anything; after it, the whole session ends and the reuse is logged as a
/// high-severity event.
async fn reuse_within_the_grace_window_is_answered_after_it_ends_the_session(t: TestTable) {
    let app = app_with(t, &[]).await;
    let user = stored_user(&app.app, 1, "alice", true).await;
    let first = sign_in(&app.app, &user).await;
    let sid = claims_of(&first.refresh)["sid"]
        .as_str()
        .unwrap()
        .to_owned();

    let second = refresh(&app, &first.refresh).await.body_json();
    app.clock().advance(Duration::seconds(10));
    let response = refresh(&app, &first.refresh).await;
    assert_eq!(
        response.status,
        200,
        "reuse 10 s after rotation: {:?}",
        response.body_json()
    );
    let third = response.body_json();
    assert_ne!(third["refresh"], second["refresh"]);
    for access in [&second["access"], &third["access"]] {
        assert_eq!(user_info(&app, access.as_str().unwrap()).await.status, 200);
    }
    assert!(
        events_of(&app.app, user.id, EventType::TokenReuseDetected)
            .await
            .is_empty()
    );

    app.clock().advance(Duration::seconds(1));
    assert_refused(
        &refresh(&app, &first.refresh).await,
        "reuse 11 s after rotation",
    );
    // The session is over: every token of it, old and new, stops working.
    for access in [&second["access"], &third["access"]] {
        assert_refused(
            &user_info(&app, access.as_str().unwrap()).await,
            "access after reuse",
        );
    }
    for token in [&second["refresh"], &third["refresh"]] {
        assert_refused(
            &refresh(&app, token.as_str().unwrap()).await,
            "refresh after reuse",
        );
    }
    let session = sessions::get_session(&app.app, &sid)
        .await
        .unwrap()
        .unwrap();
    assert!(!session.is_active && session.ended_at.is_some());

    let reuse = events_of(&app.app, user.id, EventType::TokenReuseDetected).await;
    assert_eq!(reuse.len(), 1, "one token_reuse_detected event");
    assert_eq!(reuse[0].severity, Severity::High);
    assert_eq!(reuse[0].session_id.as_deref(), Some(sid.as_str()));
    assert!(!reuse[0].success);
    assert_eq!(reuse[0].ip_address.as_deref(), Some("198.51.100.7"));

    // Another session of the same user is not touched.
    let other = sign_in(&app.app, &user).await;
    assert_eq!(user_info(&app, &other.access).await.status, 200);
}

/// Two tabs refresh with the same token at the same moment: one rotates, the other is inside
/// the grace window; both get a working pair and the session lives on.
async fn concurrent_refreshes_both_succeed(t: TestTable) {
    let app = app_with(t, &[]).await;
    let user = stored_user(&app.app, 1, "alice", true).await;
    let first = sign_in(&app.app, &user).await;
    let (a, b) = futures::join!(refresh(&app, &first.refresh), refresh(&app, &first.refresh));
    for response in [&a, &b] {
        assert_eq!(response.status, 200, "{:?}", response.body_json());
        let access = response.body_json()["access"].as_str().unwrap().to_owned();
        assert_eq!(user_info(&app, &access).await.status, 200);
    }
    assert!(
        events_of(&app.app, user.id, EventType::TokenReuseDetected)
            .await
            .is_empty()
    );
    // Exactly one of the two rotated the token (the conditional put of its revocation); the
    // other was answered as a reuse within the grace window, rotating nothing.
    let refreshes = events_of(&app.app, user.id, EventType::TokenRefresh).await;
    let rotations = refreshes
        .iter()
        .filter(|e| e.metadata.get("reuse_within_grace").is_none())
        .count();
    let graced = refreshes.len() - rotations;
    assert_eq!((rotations, graced), (1, 1), "{refreshes:?}");
    let jti = claims_of(&first.refresh)["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = app
        .table()
        .get(&keys::revoked_token(&jti), true)
        .await
        .unwrap()
        .expect("the rotated token's revocation");
    assert_eq!(revoked["reason"].as_str(), Some("rotated"));
}

/// Logout revokes the refresh token and ends the session: its access tokens stop working at
/// once, with no clock movement; other sessions live on; logging out again changes nothing.
async fn logout_kills_live_access_tokens_at_once(t: TestTable) {
    let app = app_with(t, &[]).await;
    let user = stored_user(&app.app, 1, "alice", true).await;
    let pair = sign_in(&app.app, &user).await;
    let other = sign_in(&app.app, &user).await;
    assert_eq!(user_info(&app, &pair.access).await.status, 200);

    let response = logout(&app, &pair.refresh).await;
    assert_eq!(response.status, 204, "{:?}", response.body_json());

    assert_refused(&user_info(&app, &pair.access).await, "access after logout");
    assert_refused(&verify(&app, &pair.access).await, "verify after logout");
    assert_refused(&refresh(&app, &pair.refresh).await, "refresh after logout");
    let jti = claims_of(&pair.refresh)["jti"].as_str().unwrap().to_owned();
    assert!(
        app.table()
            .get(&keys::revoked_token(&jti), true)
            .await
            .unwrap()
            .is_some()
    );
    let logouts = events_of(&app.app, user.id, EventType::Logout).await;
    assert_eq!(logouts.len(), 1);

    assert_eq!(
        user_info(&app, &other.access).await.status,
        200,
        "another session"
    );
    assert_eq!(logout(&app, &pair.refresh).await.status, 204, "idempotent");
    let missing = app
        .post("/api/auth/jwt/logout/")
        .json(json!({}))
        .send()
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.body_json(),
        json!({ "refresh": ["This field is required."] })
    );
}

/// A suspended account gets no new tokens: refresh is 403 with the reason, and the session
/// ends.
async fn suspended_accounts_cannot_refresh(t: TestTable) {
    let app = app_with(t, &[]).await;
    let mut user = stored_user(&app.app, 1, "alice", true).await;
    let pair = sign_in(&app.app, &user).await;
    user.is_suspended = true;
    user.suspension_reason = "spam".into();
    app.table()
        .put(user.to_item().unwrap(), None)
        .await
        .unwrap();

    let response = refresh(&app, &pair.refresh).await;
    assert_eq!(response.status, 403, "{:?}", response.body_json());
    assert_eq!(
        response.body_json(),
        json!({ "detail": "Account suspended: spam" })
    );
    let sid = claims_of(&pair.refresh)["sid"].as_str().unwrap().to_owned();
    let session = sessions::get_session(&app.app, &sid)
        .await
        .unwrap()
        .unwrap();
    assert!(!session.is_active, "the session ended");
    let jti = claims_of(&pair.refresh)["jti"].as_str().unwrap().to_owned();
    assert!(
        app.table()
            .get(&keys::revoked_token(&jti), true)
            .await
            .unwrap()
            .is_none(),
        "nothing was rotated"
    );
}

/// Key rotation: an App whose set puts a new key before the old one signs with the new key and
/// still accepts tokens of the old one; its JWKS lists both. An App that does not know the new
/// key refuses its tokens.
async fn rotated_keys_keep_verifying_and_are_published(t: TestTable) {
    let old_app = app_with(t, &[]).await;
    let user = stored_user(&old_app.app, 1, "alice", true).await;
    let old_pair = sign_in(&old_app.app, &user).await;
    assert_eq!(header_of(&old_pair.access)["kid"], "k1");
    assert_eq!(header_of(&old_pair.access)["alg"], "EdDSA");

    let both = key_set(&[("k2", SEED_2), ("k1", SEED_1)]);
    let t = &old_app.t;
    let settings = [("JWT_SIGNING_KEYS", both.as_str())];
    let new_app = build_app(t, &t.dir().join("rotated"), &settings, t.table()).await;

    let response = send_to(
        &new_app,
        bearer_get("/api/auth/jwt/user-info/", &old_pair.access),
    )
    .await;
    assert_eq!(
        response.status, 200,
        "a token of the older key still verifies"
    );
    assert_eq!(response.body_json()["id"], 1);

    let request = ApiRequest::new(Method::POST, "/api/auth/jwt/refresh/")
        .with_json(&json!({ "refresh": old_pair.refresh }));
    let response = send_to(&new_app, request).await;
    assert_eq!(response.status, 200);
    let new_access = response.body_json()["access"].as_str().unwrap().to_owned();
    assert_eq!(header_of(&new_access)["kid"], "k2", "the first key signs");
    let response = send_to(
        &new_app,
        bearer_get("/api/auth/jwt/user-info/", &new_access),
    )
    .await;
    assert_eq!(response.status, 200);
    assert_refused(
        &user_info(&old_app, &new_access).await,
        "a key the App does not have",
    );

    for path in ["/api/auth/jwks/", "/.well-known/jwks.json"] {
        let response = send_to(&new_app, ApiRequest::new(Method::GET, path)).await;
        assert_eq!(response.status, 200, "{path}");
        let cache = response
            .headers
            .get("cache-control")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(cache.starts_with("public"), "{path}: {cache}");
        let jwks = response.body_json();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, ["k2", "k1"], "{path}");
        for key in jwks["keys"].as_array().unwrap() {
            let fields: Vec<&str> = key
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let mut fields = fields;
            fields.sort_unstable();
            assert_eq!(
                fields,
                ["alg", "crv", "kid", "kty", "use", "x"],
                "{path}: public only"
            );
            assert_eq!(key["kty"], "OKP");
            assert_eq!(key["crv"], "Ed25519");
            assert_eq!(key["alg"], "EdDSA");
            assert_eq!(key["use"], "sig");
        }
        let text = String::from_utf8(response.body.to_vec()).unwrap();
        for seed in [SEED_1, SEED_2] {
            assert!(
                !text.contains(&URL_SAFE_NO_PAD.encode(seed)),
                "{path}: no private key"
            );
        }
    }
}

/// With the default local configuration, accounts-local's key is generated into the data dir
/// (owner-only), published, and enough for another service to verify our tokens offline.
async fn the_published_key_verifies_tokens_offline(t: TestTable) {
    let app = TestApp::new(t).await;
    let path = app.t.dir().join("jwt-signing-keys.json");
    assert!(path.exists(), "the key file is generated in the data dir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is private");
    }

    let user = stored_user(&app.app, 1, "alice", true).await;
    let pair = sign_in(&app.app, &user).await;
    let jwks = app.get("/.well-known/jwks.json").send().await.body_json();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    let jwk = &jwks["keys"][0];
    assert_eq!(header_of(&pair.access)["kid"], jwk["kid"]);

    let key = jsonwebtoken::DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["accounts-api"]);
    validation.set_issuer(&["accounts"]);
    let data = jsonwebtoken::decode::<Json>(&pair.access, &key, &validation).unwrap();
    assert_eq!(data.claims["sub"], "1");
    let tampered = flip_char(&pair.access, 1);
    assert!(jsonwebtoken::decode::<Json>(&tampered, &key, &validation).is_err());
}

/// The JWT flow of the issue, all through the API: register with tokens, use them unverified
/// where that is allowed, verify with the mailed code, refresh, log out.
async fn jwt_register_verify_refresh_logout(t: TestTable) {
    let app = TestApp::new(t).await;
    let response = app
        .post("/api/auth/jwt/register/")
        .json(json!({
            "username": "jwt_jane",
            "email": "jane@example.com",
            "password": "Violet-Harbor-2931",
        }))
        .send()
        .await;
    assert_eq!(response.status, 201, "{:?}", response.body_json());
    let body = response.body_json();
    let access = body["access"].as_str().unwrap().to_owned();
    let refresh_token = body["refresh"].as_str().unwrap().to_owned();
    let claims = claims_of(&access);
    for claim in [
        "sub",
        "sid",
        "jti",
        "iat",
        "exp",
        "iss",
        "aud",
        "token_type",
    ] {
        assert!(claims.get(claim).is_some(), "claim {claim}");
    }
    assert_eq!(claims["iss"], "accounts");
    assert_eq!(claims["aud"], "accounts-api");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    let refresh_claims = claims_of(&refresh_token);
    assert_eq!(
        refresh_claims["exp"].as_i64().unwrap() - refresh_claims["iat"].as_i64().unwrap(),
        7 * 24 * 3600
    );

    let info = user_info(&app, &access).await;
    assert_eq!(info.status, 200, "user-info is open to unverified accounts");
    assert_eq!(info.body_json()["is_verified"], false);
    assert_eq!(info.body_json()["auth_method"], "jwt");
    assert_eq!(info.body_json()["username"], "jwt_jane");
    let tokens = app.get("/api/auth/tokens/").bearer(&access).send().await;
    assert_eq!(tokens.status, 403, "API tokens need a verified address");

    let code = app
        .last_code_for("jane@example.com")
        .expect("a code was mailed");
    let verified = app
        .post("/api/auth/verify/")
        .json(json!({ "email": "jane@example.com", "code": code }))
        .send()
        .await;
    assert_eq!(verified.status, 200, "{:?}", verified.body_json());

    let rotated = refresh(&app, &refresh_token).await;
    assert_eq!(rotated.status, 200);
    let access = rotated.body_json()["access"].as_str().unwrap().to_owned();
    let refresh_token = rotated.body_json()["refresh"].as_str().unwrap().to_owned();
    let info = user_info(&app, &access).await;
    assert_eq!(info.body_json()["is_verified"], true);
    let checked = verify(&app, &access).await;
    assert_eq!(checked.status, 200);
    assert_eq!(checked.body_json()["token_type"], "access");

    assert_eq!(logout(&app, &refresh_token).await.status, 204);
    assert_refused(&user_info(&app, &access).await, "access after logout");
}

both_engines!(
    every_forged_or_misused_token_is_refused,
    tokens_expire_on_the_apps_clock,
    refresh_rotates_and_revokes_the_old_token,
    reuse_within_the_grace_window_is_answered_after_it_ends_the_session,
    concurrent_refreshes_both_succeed,
    logout_kills_live_access_tokens_at_once,
    suspended_accounts_cannot_refresh,
    rotated_keys_keep_verifying_and_are_published,
    the_published_key_verifies_tokens_offline,
    jwt_register_verify_refresh_logout,
);
