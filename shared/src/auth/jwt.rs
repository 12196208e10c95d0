//! JWTs signed with Ed25519 (`EdDSA`, `kid` header), key rotation, JWKS, refresh rotation
//! with reuse detection.
//!
//! Access and refresh tokens are bound to a login session (`sid`): an access token is honoured
//! only while its session is active, and a refresh token rotates at every use. A rotated refresh
//! token leaves a revocation item (`keys::revoked_token(jti)`) that lives until the token would
//! have expired, which is how a second use of it is recognised.
//!
//! This module is the token flow (issue, verify, refresh, log out); the keys that sign and
//! verify are `jwt_keys`, the claims `jwt_claims`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::client::ClientInfo;
pub use super::jwt_claims::{Claims, TokenType};
pub use super::jwt_keys::KeySet;
use super::sessions;
use crate::App;
use crate::accounts::get_user;
use crate::activity::events::{EventType, NewEvent, Severity, log_event_best_effort};
use crate::error::Error;
use crate::store::{Condition, Item, StoreError, Transaction, TxOp, Value, keys};

/// The one answer to every token that does not pass, whatever the reason: a client learns
/// nothing about which check failed.
pub const INVALID_TOKEN: &str = "Token is invalid or expired.";

#[derive(Clone, Debug, Serialize)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_expires_at: DateTime<Utc>,
}

fn claims(app: &App, session: &sessions::SessionRecord, token_type: TokenType) -> Claims {
    let user = session.user_id;
    let session_id = &session.session_id;
    let now = app.clock.epoch_seconds();
    let ttl = match token_type {
        TokenType::Access => app.config.auth.access_ttl_secs,
        TokenType::Refresh => app.config.auth.refresh_ttl_secs,
    };
    Claims {
        sub: user.to_string(),
        sid: session_id.to_owned(),
        jti: ulid::Ulid::new().to_string(),
        iat: now,
        nbf: None,
        exp: now.saturating_add(ttl),
        iss: app.config.auth.jwt_issuer.clone(),
        aud: app.config.auth.jwt_audience.clone(),
        token_type,
        aal: session.aal,
        amr: session.amr.clone(),
    }
}

/// A new access and refresh pair for a session, carrying its assurance (`aal`, `amr`).
pub fn issue_pair(app: &App, session: &sessions::SessionRecord) -> Result<TokenPair, Error> {
    let access = claims(app, session, TokenType::Access);
    let refresh = claims(app, session, TokenType::Refresh);
    Ok(TokenPair {
        access: app.keys.sign(&access)?,
        refresh: app.keys.sign(&refresh)?,
        access_expires_at: access.expires_at(),
        refresh_expires_at: refresh.expires_at(),
    })
}

/// A new access token for a session (auto-renewal).
pub fn issue_access(app: &App, session: &sessions::SessionRecord) -> Result<String, Error> {
    app.keys.sign(&claims(app, session, TokenType::Access))
}

fn invalid() -> Error {
    Error::Unauthenticated(INVALID_TOKEN.into())
}

/// How far in the future a token's `iat` or `nbf` may lie: clocks of instances differ a little.
pub const CLOCK_SKEW_LEEWAY_SECS: i64 = 30;

/// Verifies signature, algorithm, key id, issuer, audience and expiry, whatever the type.
/// Every failure is `Error::Unauthenticated` with the same detail.
pub fn decode_any(app: &App, token: &str) -> Result<Claims, Error> {
    let auth = &app.config.auth;
    let claims = app
        .keys
        .verify(token, &auth.jwt_issuer, &auth.jwt_audience)
        .ok_or_else(invalid)?;
    // A token is good up to, not including, its `exp` second; one issued or valid only in the
    // future (beyond clock skew between instances) was not made by this service's clock.
    let now = app.clock.epoch_seconds();
    let from_the_future = claims.iat > now + CLOCK_SKEW_LEEWAY_SECS
        || claims
            .nbf
            .is_some_and(|nbf| nbf > now + CLOCK_SKEW_LEEWAY_SECS);
    if claims.exp <= now || from_the_future || claims.user_id().is_none() {
        return Err(invalid());
    }
    Ok(claims)
}

/// Verifies signature, algorithm, key id, issuer, audience, expiry and type; every failure is
/// `Error::Unauthenticated` with the same detail.
pub fn decode(app: &App, token: &str, expected: TokenType) -> Result<Claims, Error> {
    let claims = decode_any(app, token)?;
    if claims.token_type != expected {
        return Err(invalid());
    }
    Ok(claims)
}

/// Whether a token would be honoured now: valid, its session active, and (for a refresh
/// token) not yet rotated or revoked. `POST /api/auth/jwt/verify/`.
pub async fn verify(app: &App, token: &str) -> Result<Claims, Error> {
    let claims = decode_any(app, token)?;
    session_of(app, &claims).await?;
    if claims.token_type == TokenType::Refresh
        && app
            .table
            .get(&keys::revoked_token(&claims.jti), true)
            .await?
            .is_some()
    {
        return Err(invalid());
    }
    Ok(claims)
}

/// The token's session, when it is active and belongs to the token's user.
async fn session_of(app: &App, claims: &Claims) -> Result<sessions::SessionRecord, Error> {
    match sessions::active_session(app, &claims.sid).await? {
        Some(session) if Some(session.user_id) == claims.user_id() => Ok(session),
        _ => Err(invalid()),
    }
}

/// The revocation item of a refresh token: kept until the token would have expired. It names
/// no user (only the token and its session, both random ids), so an erased account leaves
/// nothing that points back to it even while these items wait for their TTL.
fn revocation_item(claims: &Claims, now: i64, reason: &str) -> Item {
    let mut item = keys::revoked_token(&claims.jti).to_item();
    item.insert("jti".into(), Value::S(claims.jti.clone()));
    item.insert("session_id".into(), Value::S(claims.sid.clone()));
    item.insert("revoked_at".into(), Value::Int(now));
    item.insert("reason".into(), Value::S(reason.into()));
    item.insert(keys::attr::EXPIRES_AT.into(), Value::Int(claims.exp));
    item
}

/// `POST /api/auth/jwt/refresh/`: rotates a refresh token into a new pair for the same session.
///
/// The operations of a refresh token's rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RotationOp {
    /// The old token's revocation, put if absent (a second use finds it).
    Revoke,
    /// The session is still active.
    SessionActive,
}

/// The old token is revoked in the same transaction that checks it was not revoked before, so
/// of two concurrent uses exactly one rotates. A second use within the grace window (parallel
/// tabs) is answered with a fresh pair; after it, the token is taken as stolen: the whole
/// session ends and a high-severity `token_reuse_detected` event is logged.
pub async fn refresh(
    app: &App,
    refresh_token: &str,
    client: &ClientInfo,
) -> Result<TokenPair, Error> {
    let claims = decode(app, refresh_token, TokenType::Refresh)?;
    let session = session_of(app, &claims).await?;
    let user = session.user_id;
    // A suspended account gets no new tokens, and its session ends (as at any other request).
    let record = get_user(app, user).await?.ok_or_else(invalid)?;
    if record.is_suspended {
        sessions::end_session(app, &claims.sid).await?;
        return Err(Error::Forbidden(crate::access::suspended_detail(&record)));
    }
    let now = app.clock.epoch_seconds();

    let rotate = TxOp::Put {
        item: revocation_item(&claims, now, "rotated"),
        condition: Some(Condition::item_absent()),
    };
    // The session must still be active when the rotation commits: a logout or a reuse kill
    // that lands between the read above and this write wins.
    let still_active = TxOp::Check {
        key: keys::session(&claims.sid),
        condition: Condition::eq("is_active", true),
    };
    let rotation = Transaction::new()
        .with(RotationOp::Revoke, rotate)
        .with(RotationOp::SessionActive, still_active);
    match rotation.commit(&*app.table).await {
        Ok(()) => {
            let pair = issue_pair(app, &session)?;
            let event = NewEvent::new(EventType::TokenRefresh, Some(user))
                .session(&claims.sid)
                .client(client)
                .description("Refresh token rotated");
            // A refresh is a visit too (the first of the user's day records it).
            let visit = async {
                if crate::activity::tallies::visit_due(app, &record) {
                    let zone = crate::activity::tallies::visit_zone(app, user).await;
                    crate::activity::tallies::record_visit(app, &record, &zone, true).await;
                }
            };
            tokio::join!(log_event_best_effort(app, event), visit);
            Ok(pair)
        }
        Err(failure) if failure.condition_failed(RotationOp::SessionActive) => Err(invalid()),
        Err(failure) if failure.condition_failed(RotationOp::Revoke) => {
            reused(app, &claims, &session, client, now).await
        }
        Err(failure) => Err(failure.into()),
    }
}

/// A refresh token that was already rotated (or revoked) is presented again.
async fn reused(
    app: &App,
    claims: &Claims,
    session: &sessions::SessionRecord,
    client: &ClientInfo,
    now: i64,
) -> Result<TokenPair, Error> {
    let user = session.user_id;
    let revoked = app
        .table
        .get(&keys::revoked_token(&claims.jti), true)
        .await?;
    let revoked_at = revoked
        .as_ref()
        .and_then(|item| item.get("revoked_at"))
        .and_then(Value::as_i64)
        .unwrap_or(i64::MIN);
    let rotated = revoked
        .as_ref()
        .and_then(|item| item.get("reason"))
        .and_then(Value::as_str)
        .is_some_and(|reason| reason == "rotated");

    if rotated && now.saturating_sub(revoked_at) <= app.config.auth.refresh_reuse_grace_secs {
        let pair = issue_pair(app, session)?;
        let event = NewEvent::new(EventType::TokenRefresh, Some(user))
            .session(&claims.sid)
            .client(client)
            .description("Rotated refresh token reused within the grace window")
            .metadata(json!({ "reuse_within_grace": true }));
        log_event_best_effort(app, event).await;
        return Ok(pair);
    }

    tracing::warn!(
        user_id = %user,
        session_id = %claims.sid,
        "refresh token reused after rotation: ending the session"
    );
    crate::metrics::emit(crate::metrics::Metric::RefreshReuse);
    sessions::end_session(app, &claims.sid).await?;
    let event = NewEvent::new(EventType::TokenReuseDetected, Some(user))
        .session(&claims.sid)
        .client(client)
        .severity(Severity::High)
        .description("A rotated refresh token was used again; the session was ended")
        .metadata(json!({ "seconds_since_rotation": now.saturating_sub(revoked_at).max(0) }))
        .failed("refresh token reuse");
    log_event_best_effort(app, event).await;
    Err(invalid())
}

/// `POST /api/auth/jwt/logout/`: revokes the refresh token and ends its session, so the
/// session's access tokens stop working at once (every access-token request checks it).
pub async fn logout(app: &App, refresh_token: &str, client: &ClientInfo) -> Result<(), Error> {
    let claims = decode(app, refresh_token, TokenType::Refresh)?;
    let user = claims.user_id().ok_or_else(invalid)?;
    let now = app.clock.epoch_seconds();
    let revoke = revocation_item(&claims, now, "logout");
    match app.table.put(revoke, Some(Condition::item_absent())).await {
        // Already rotated or revoked: the session still ends.
        Ok(()) | Err(StoreError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    sessions::end_session(app, &claims.sid).await?;
    let event = NewEvent::new(EventType::Logout, Some(user))
        .session(&claims.sid)
        .client(client)
        .description("JWT logout");
    log_event_best_effort(app, event).await;
    Ok(())
}
