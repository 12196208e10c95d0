//! Session login and logout (cookies), JWT login, the current user, and the session check and
//! refresh endpoints.

use cookie::time::Duration as CookieDuration;
use cookie::{Cookie, SameSite};
use http::header::{CACHE_CONTROL, SET_COOKIE};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::App;
use crate::activity::events::{EventType, NewEvent, log_event_best_effort};
use crate::auth::login::{LoginInput, LoginOutcome, login as password_login};
use crate::auth::mfa::PendingSignIn;
use crate::auth::sessions::{self, SessionRecord, StartedSession};
use crate::auth::{AuthMethod, jwt};
use crate::error::{Error, FieldErrors};
use crate::http::auth::{
    CSRF_COOKIE, SESSION_COOKIE, caller_allow_unverified, client_info, optional_caller,
};
use crate::http::{ApiResponse, RequestCtx};
use crate::profiles::views::full_view;

/// A login form: a username or an email address, the password, and the hidden honeypot field
/// (`website`, as on registration), which people leave empty.
#[derive(Deserialize)]
struct LoginBody {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, rename = "website")]
    honeypot: Option<String>,
}

impl LoginBody {
    /// DRF-style field errors for what is missing; the identifier is the username when given.
    fn into_input(self) -> Result<LoginInput, Error> {
        let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let mut errors = FieldErrors::new();
        if !given(&self.username) && !given(&self.email) {
            errors.add("username", "Enter a username or an email address.");
        }
        if !given(&self.password) {
            errors.add("password", "This field is required.");
        }
        errors.into_result()?;
        let identifier = if given(&self.username) {
            self.username
        } else {
            self.email
        };
        Ok(LoginInput {
            identifier: identifier.unwrap_or_default(),
            password: self.password.unwrap_or_default(),
            honeypot: self.honeypot,
        })
    }
}

/// Sets the `sessionid` and `csrftoken` cookies for `max_age_secs` (0 clears them). The CSRF
/// cookie is not HttpOnly: the page's scripts read it to send it back as `X-CSRFToken`.
fn add_session_cookies(app: &App, ctx: &RequestCtx, session: &str, csrf: &str, max_age_secs: i64) {
    for (name, value, http_only) in [(SESSION_COOKIE, session, true), (CSRF_COOKIE, csrf, false)] {
        let cookie = Cookie::build((name, value))
            .http_only(http_only)
            .same_site(SameSite::Lax)
            .path("/")
            .secure(app.config.auth.secure_cookies)
            .max_age(CookieDuration::seconds(max_age_secs))
            .build();
        ctx.add_response_header(SET_COOKIE, &cookie.to_string());
    }
}

pub(crate) fn set_session_cookies(app: &App, ctx: &RequestCtx, started: &StartedSession) {
    let max_age = app.config.auth.session_absolute_secs;
    add_session_cookies(app, ctx, &started.cookie, &started.csrf_token, max_age);
}

fn clear_session_cookies(app: &App, ctx: &RequestCtx) {
    add_session_cookies(app, ctx, "", "", 0);
}

/// The login form of a request (also `POST /api/sessions/`).
pub(crate) fn login_input(ctx: &RequestCtx) -> Result<LoginInput, Error> {
    ctx.json::<LoginBody>()?.into_input()
}

/// The answer to a password that passed for an account with a second factor: 202, no session,
/// the token of the second step (`POST /api/auth/mfa/verify/`).
pub(crate) fn second_factor_required(pending: &PendingSignIn) -> ApiResponse {
    ApiResponse::json(
        http::StatusCode::ACCEPTED,
        &json!({
            "mfa_required": true,
            "mfa_token": pending.token,
            "expires_at": pending.expires_at,
            "methods": pending.methods,
        }),
    )
    .with_header(CACHE_CONTROL, "no-store")
}

/// `POST /api/auth/login/` `{username or email, password}` → 200 with the user; sets the
/// `sessionid` and `csrftoken` cookies. 202 without cookies when the account has a second
/// factor.
pub async fn login(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let input = ctx.json::<LoginBody>()?.into_input()?;
    let client = client_info(ctx);
    match password_login(app, input, &client, AuthMethod::Session).await? {
        LoginOutcome::SignedIn(user, started) => Ok(cookie_login_answer(app, ctx, &user, &started)),
        LoginOutcome::SecondFactorRequired(pending) => Ok(second_factor_required(&pending)),
    }
}

/// A cookie sign-in's answer: the cookies and the user.
pub(crate) fn cookie_login_answer(
    app: &App,
    ctx: &RequestCtx,
    user: &crate::accounts::UserRecord,
    started: &StartedSession,
) -> ApiResponse {
    set_session_cookies(app, ctx, started);
    ApiResponse::ok(&full_view(user)).with_header(CACHE_CONTROL, "no-store")
}

/// `POST /api/auth/jwt/login/` `{username or email, password}` → `{access, refresh, user}`,
/// bound to a new session (no cookies: the tokens carry the session id). 202 without tokens
/// when the account has a second factor.
pub async fn jwt_login(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let input = ctx.json::<LoginBody>()?.into_input()?;
    let client = client_info(ctx);
    match password_login(app, input, &client, AuthMethod::Jwt).await? {
        LoginOutcome::SignedIn(user, started) => jwt_login_answer(app, &user, &started).await,
        LoginOutcome::SecondFactorRequired(pending) => Ok(second_factor_required(&pending)),
    }
}

/// A JWT sign-in's answer: a token pair for the new session, and the user.
pub(crate) async fn jwt_login_answer(
    app: &App,
    user: &crate::accounts::UserRecord,
    started: &StartedSession,
) -> Result<ApiResponse, Error> {
    let pair = match jwt::issue_pair(app, &started.record) {
        Ok(pair) => pair,
        Err(e) => {
            // No tokens, no session: do not leave one behind that nobody can use.
            sessions::end_session(app, &started.record.session_id).await?;
            return Err(e);
        }
    };
    Ok(ApiResponse::ok(&json!({
        "access": pair.access,
        "refresh": pair.refresh,
        "access_expires_at": pair.access_expires_at,
        "refresh_expires_at": pair.refresh_expires_at,
        "user": full_view(user),
    }))
    .with_header(CACHE_CONTROL, "no-store"))
}

/// `POST /api/auth/logout/` → ends the caller's session (cookie or JWT) and clears the cookies.
/// Without a live session it only clears the cookies: logging out twice is not an error.
pub async fn logout(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = optional_caller(app, ctx).await?;
    if let Some(principal) = principal
        && let Some(session_id) = &principal.session_id
    {
        sessions::end_session(app, session_id).await?;
        let event = NewEvent::new(EventType::Logout, Some(principal.id()))
            .session(session_id)
            .client(&client_info(ctx))
            .description("Logged out")
            .metadata(json!({ "method": principal.method }));
        log_event_best_effort(app, event).await;
    }
    clear_session_cookies(app, ctx);
    Ok(ApiResponse::ok(
        &json!({ "detail": "Successfully logged out." }),
    ))
}

/// `GET /api/auth/me/`: the caller with their profile, for any authentication method, and the
/// session's assurance (`aal`, `amr`; null for API tokens).
pub async fn me(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller_allow_unverified(app, ctx).await?;
    let mut view = full_view(&principal.user);
    if let Some(fields) = view.as_object_mut() {
        let assurance = principal.assurance.as_ref();
        fields.insert("aal".into(), json!(assurance.map(|a| a.aal)));
        fields.insert("amr".into(), json!(assurance.map(|a| &a.amr)));
    }
    Ok(ApiResponse::ok(&view).with_header(CACHE_CONTROL, "no-store"))
}

fn rfc3339(epoch: i64) -> Json {
    chrono::DateTime::from_timestamp(epoch, 0).map_or(Json::Null, |at| json!(at))
}

fn session_status(app: &App, session: Option<&SessionRecord>) -> Json {
    match session {
        Some(s) => json!({
            "valid": true,
            "expires_at": rfc3339(s.valid_until()),
            "absolute_expires_at": rfc3339(s.expires_at),
            "last_activity": s.last_activity,
            "idle_timeout_seconds": s.idle_timeout_secs,
        }),
        None => json!({
            "valid": false,
            "expires_at": null,
            "absolute_expires_at": null,
            "last_activity": null,
            "idle_timeout_seconds": app.config.auth.session_idle_secs,
        }),
    }
}

/// `GET /api/auth/session/check/` → `{valid, expires_at, last_activity, idle_timeout_seconds}`:
/// `expires_at` is when the session ends without further activity (idle or absolute expiry,
/// whichever comes first). Anonymous callers and API tokens (no session) get `valid: false`.
pub async fn session_check(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = optional_caller(app, ctx).await?;
    let session = match principal.as_ref().and_then(|p| p.session_id.as_deref()) {
        Some(session_id) => sessions::active_session(app, session_id).await?,
        None => None,
    };
    Ok(ApiResponse::ok(&session_status(app, session.as_ref()))
        .with_header(CACHE_CONTROL, "no-store"))
}

/// `POST /api/auth/session/refresh/` → the session's status after moving its idle window to
/// start now. 400 for callers without a session (API tokens).
pub async fn session_refresh(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller_allow_unverified(app, ctx).await?;
    let Some(session_id) = principal.session_id.as_deref() else {
        return Err(Error::BadRequest(
            "This authentication method has no session.".into(),
        ));
    };
    let session = sessions::active_session(app, session_id).await?;
    let refreshed = match session {
        Some(session) => sessions::refresh(app, &session).await?,
        None => None,
    };
    let Some(refreshed) = refreshed else {
        return Err(Error::Unauthenticated(
            "Session has expired or ended.".into(),
        ));
    };
    let event = NewEvent::new(EventType::SessionRefresh, Some(principal.id()))
        .session(session_id)
        .client(&client_info(ctx))
        .description("Session idle timeout extended");
    log_event_best_effort(app, event).await;
    Ok(ApiResponse::ok(&session_status(app, Some(&refreshed)))
        .with_header(CACHE_CONTROL, "no-store"))
}
