//! Credentials to a Principal: session cookie (+ CSRF), Bearer JWT (+ live session), API token.
//!
//! Costs per request: a JWT or a cookie is one session read and one profile read, side by side
//! (the token, and the cookie, name both): **one round trip**; an API token is the token read
//! and what `api_tokens::authenticate` loads. On top, at most once a minute,
//! one conditional write of the session's activity and one of the profile's `last_active`;
//! and at the user's first request of each day in their time zone, instead of the latter, the
//! settings read (the time zone) and one transaction recording the day's visit
//! (`badges::tallies::record_visit`, what the "Daily Visitor" streak counts).

use futures::future::BoxFuture;

use super::client::ClientInfo;
use super::jwt::{self, TokenType};
use super::secrets::constant_time_eq;
use super::sessions::{self, SessionRecord};
use super::{AuthMethod, Credentials, Principal, api_tokens};
use crate::App;
use crate::access::suspended_detail;
use crate::accounts::{self, UserRecord};
use crate::activity::tallies;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{Condition, StoreError, Update, Value, keys};

/// `UserRecord.last_active` is written at most this often per user.
pub const LAST_ACTIVE_WRITE_INTERVAL_SECS: i64 = 60;

pub const CSRF_FAILED: &str = "CSRF Failed: CSRF token missing or incorrect.";
pub const MALFORMED_AUTHORIZATION: &str = "Invalid Authorization header.";

/// `Ok(None)` for anonymous requests; `Err(Unauthenticated)` for credentials that fail.
///
/// A `sessionid` cookie whose session is unknown, ended or expired reads as anonymous (as in
/// Django: a stale cookie must not lock a browser out of public pages); a wrong CSRF proof on an
/// unsafe method is 403. A suspended account is 403, and its sessions end.
pub async fn authenticate(
    app: &App,
    credentials: &Credentials,
    _client: &ClientInfo,
) -> Result<Option<Principal>, Error> {
    begin(app, credentials).outcome.await
}

/// An authentication under way: the user the credentials name before any store read, and the
/// rest of the work ([`authenticate`] is the two in sequence).
///
/// `claimed` is a JWT's subject (its signature and claims already checked) or the user part of
/// a session cookie (not yet checked against its session). A request whose reads depend only
/// on who is asking starts them with it, beside the authentication's own reads, and uses what
/// they return only once `outcome` has authenticated that very user
/// (`http::auth::caller_with`). `None` when the credentials name no user without a read (an
/// API token, an older cookie) or cannot pass at all.
pub struct Authentication<'a> {
    pub claimed: Option<UserId>,
    pub outcome: BoxFuture<'a, Result<Option<Principal>, Error>>,
}

/// Starts authenticating: the checks that need no store read happen now (a JWT's signature
/// and claims), the reads in `outcome`.
pub fn begin<'a>(app: &'a App, credentials: &'a Credentials) -> Authentication<'a> {
    let failed = |e: Error| Authentication {
        claimed: None,
        outcome: Box::pin(std::future::ready(Err(e))),
    };
    match credentials {
        Credentials::None => Authentication {
            claimed: None,
            outcome: Box::pin(std::future::ready(Ok(None))),
        },
        Credentials::Malformed => failed(Error::Unauthenticated(MALFORMED_AUTHORIZATION.into())),
        Credentials::Bearer(token) => match jwt::decode(app, token, TokenType::Access) {
            Err(e) => failed(e),
            Ok(claims) => Authentication {
                claimed: claims.sub.parse().ok(),
                outcome: Box::pin(async move {
                    let (principal, session) = by_access_token(app, claims).await?;
                    settle(app, principal, Some(session)).await
                }),
            },
        },
        Credentials::ApiToken(key) => Authentication {
            claimed: None,
            outcome: Box::pin(async move {
                let (user, token_id) = api_tokens::authenticate(app, key).await?;
                let principal = Principal {
                    user,
                    method: AuthMethod::ApiToken,
                    session_id: None,
                    api_token_id: Some(token_id),
                    renewed_access: None,
                    assurance: None,
                };
                settle(app, principal, None).await
            }),
        },
        Credentials::SessionCookie {
            cookie,
            csrf_cookie,
            csrf_header,
            unsafe_method,
        } => Authentication {
            claimed: sessions::CookieParts::parse(cookie).and_then(|parts| parts.user),
            outcome: Box::pin(async move {
                let Some((session, user)) = by_cookie(app, cookie).await? else {
                    return Ok(None);
                };
                if *unsafe_method
                    && !csrf_ok(&session, csrf_cookie.as_deref(), csrf_header.as_deref())
                {
                    return Err(Error::Forbidden(CSRF_FAILED.into()));
                }
                let principal = Principal {
                    user,
                    method: AuthMethod::Session,
                    session_id: Some(session.session_id.clone()),
                    api_token_id: None,
                    renewed_access: None,
                    assurance: Some(session.assurance()),
                };
                settle(app, principal, Some(session)).await
            }),
        },
    }
}

/// What every authenticated request does last: a suspended account is refused (and its
/// sessions end); the session's and the user's once-a-minute activity writes.
async fn settle(
    app: &App,
    principal: Principal,
    session: Option<SessionRecord>,
) -> Result<Option<Principal>, Error> {
    if principal.user.is_suspended {
        sessions::end_other_sessions(app, principal.user.id, None).await?;
        return Err(Error::Forbidden(suspended_detail(&principal.user)));
    }
    let session_activity = async {
        if let Some(session) = &session {
            sessions::record_activity(app, session).await;
        }
    };
    if tallies::visit_due(app, &principal.user) {
        // The first request of the user's day: the visit (with `last_active`) rides in one
        // transaction, once the time zone is read beside the session's write.
        let ((), zone) = tokio::join!(session_activity, tallies::visit_zone(app, principal.id()));
        tallies::record_visit(app, &principal.user, &zone, true).await;
    } else {
        session_activity.await;
        record_last_active(app, &principal.user).await;
    }
    Ok(Some(principal))
}

/// The double-submit check: the header equals the cookie, and both are the session's token.
fn csrf_ok(session: &SessionRecord, cookie: Option<&str>, header: Option<&str>) -> bool {
    match (cookie, header) {
        (Some(cookie), Some(header)) => {
            constant_time_eq(cookie, header) && session.csrf_matches(header)
        }
        _ => false,
    }
}

/// The live session of a `sessionid` cookie and its user (eventually consistent: suspension
/// reaches it within moments); `None` for a cookie that names no live session or a user that no
/// longer exists. A cookie that names its user has both read side by side, in one round trip.
async fn by_cookie(app: &App, cookie: &str) -> Result<Option<(SessionRecord, UserRecord)>, Error> {
    let Some(parts) = sessions::CookieParts::parse(cookie) else {
        return Ok(None);
    };
    let (session, user) = match parts.user {
        Some(user) => {
            let (session, user) = tokio::join!(
                sessions::get_session(app, parts.session_id),
                accounts::get_user(app, user)
            );
            (parts.accept(app, session?), user?)
        }
        None => match parts.accept(app, sessions::get_session(app, parts.session_id).await?) {
            Some(session) => {
                let user = accounts::get_user(app, session.user_id).await?;
                (Some(session), user)
            }
            None => (None, None),
        },
    };
    Ok(session.zip(user))
}

/// A Bearer access token whose signature and claims passed ([`begin`]): a live session of the token's subject,
/// and the subject's profile. Renews the token when little of its lifetime is left.
async fn by_access_token(
    app: &App,
    claims: jwt::Claims,
) -> Result<(Principal, SessionRecord), Error> {
    // A dead session answers like any other token that does not pass.
    let not_live = || Error::Unauthenticated(jwt::INVALID_TOKEN.into());
    let user_id: UserId = claims.sub.parse().map_err(|_| not_live())?;
    // The token names both: the session (read consistently, so an ended session fails on the
    // very next request) and the user are read side by side, one round trip.
    let (session, user) = tokio::join!(
        sessions::active_session(app, &claims.sid),
        accounts::get_user(app, user_id)
    );
    let session = session?.ok_or_else(not_live)?;
    if session.user_id != user_id {
        return Err(not_live());
    }
    let user = user?.ok_or_else(not_live)?;

    let left = claims.exp - app.clock.epoch_seconds();
    let renewed_access = if left < app.config.auth.renew_before_secs && !user.is_suspended {
        match jwt::issue_access(app, &session) {
            Ok(token) => Some(token),
            Err(e) => {
                // Renewal is a convenience: the request itself is authenticated.
                tracing::warn!(error = %e, "access token not renewed");
                None
            }
        }
    } else {
        None
    };
    let principal = Principal {
        user,
        method: AuthMethod::Jwt,
        session_id: Some(session.session_id.clone()),
        api_token_id: None,
        renewed_access,
        assurance: Some(session.assurance()),
    };
    Ok((principal, session))
}

/// Writes `last_active` when the stored value is more than a minute old, conditionally on
/// exactly that so that concurrent instances write once. Losing that race is normal; any other
/// failure is logged and does not fail the request.
async fn record_last_active(app: &App, user: &UserRecord) {
    let now = app.clock.now();
    let threshold = now.timestamp() - LAST_ACTIVE_WRITE_INTERVAL_SECS;
    if user.last_active_epoch >= threshold {
        return;
    }
    let update = Update::new()
        .set(
            "last_active",
            serde_json::to_value(now)
                .map(Value::from)
                .unwrap_or(Value::Null),
        )
        .set("last_active_epoch", now.timestamp());
    let condition = Condition::item_present().and(Condition::Or(vec![
        Condition::NotExists("last_active_epoch".into()),
        Condition::Lt("last_active_epoch".into(), Value::Int(threshold)),
    ]));
    match app
        .table
        .update(&keys::user(user.id), update, Some(condition))
        .await
    {
        Ok(_) | Err(StoreError::ConditionFailed) => {}
        Err(e) => tracing::warn!(error = %e, "last_active not recorded"),
    }
}
