//! Registration, verification, code resends, password change and reset, and cancelling an
//! email change from the old address.

use chrono::{DateTime, Utc};
use http::header::CACHE_CONTROL;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::App;
use crate::accounts::registration::{self, RegisterInput};
use crate::accounts::{UserRecord, email_change, password};
use crate::auth::{AuthMethod, jwt, sessions};
use crate::error::Error;
use crate::http::auth::{caller, client_info};
use crate::http::{ApiResponse, RequestCtx};
use crate::model::{Role, UserId};

/// The one answer to a resend, whatever the address.
pub const RESEND_ANSWER: &str =
    "If this address belongs to an account that is not verified yet, a new code is on its way.";
/// The one answer to a reset request, whatever the address.
pub const RESET_ANSWER: &str = "If this address belongs to an account, a reset code is on its way.";

/// A newly registered user as the client sees it: no secrets, nothing but its own fields.
#[derive(Serialize)]
pub struct NewUserView<'a> {
    pub id: UserId,
    pub username: &'a str,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub is_verified: bool,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

impl<'a> From<&'a UserRecord> for NewUserView<'a> {
    fn from(user: &'a UserRecord) -> Self {
        NewUserView {
            id: user.id,
            username: &user.username,
            email: &user.email,
            first_name: &user.first_name,
            last_name: &user.last_name,
            is_verified: user.is_verified,
            role: user.role,
            created_at: user.created_at,
        }
    }
}

/// `POST /api/auth/register/` → 201 with the new, unverified user; the code goes out by mail.
pub async fn register(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let input: RegisterInput = ctx.json()?;
    let user = registration::register(app, input, &client_info(ctx)).await?;
    Ok(ApiResponse::created(&NewUserView::from(&user)))
}

/// The body of `POST /api/auth/register/professional/`: a registration plus `professional`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ProfessionalSignUp {
    #[serde(flatten)]
    account: RegisterInput,
    professional: Option<serde_json::Value>,
}

/// `POST /api/auth/register/professional/` → 201 with the new, unverified professional and
/// their professional profile (`professional_profile`), written in one transaction.
pub async fn register_professional(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let body: ProfessionalSignUp = ctx.json()?;
    let (user, profile) = registration::register_professional(
        app,
        body.account,
        body.professional.as_ref(),
        &client_info(ctx),
    )
    .await?;
    let mut view = serde_json::to_value(NewUserView::from(&user))
        .map_err(|e| Error::Internal(format!("user view: {e}")))?;
    view["professional_profile"] = profile.view();
    Ok(ApiResponse::created(&view))
}

/// `POST /api/auth/jwt/register/` → 201 `{user, access, refresh}`: registers as above and
/// starts a session for the tokens at once.
pub async fn jwt_register(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let input: RegisterInput = ctx.json()?;
    let client = client_info(ctx);
    let user = registration::register(app, input, &client).await?;
    let started = sessions::start_session(app, &user, &client, AuthMethod::Jwt).await?;
    let pair = match jwt::issue_pair(app, &started.record) {
        Ok(pair) => pair,
        Err(e) => {
            // No tokens, no session: the account stays, and a login gets tokens later.
            sessions::end_session(app, &started.record.session_id).await?;
            return Err(e);
        }
    };
    Ok(ApiResponse::created(&json!({
        "user": NewUserView::from(&user),
        "access": pair.access,
        "refresh": pair.refresh,
        "access_expires_at": pair.access_expires_at,
        "refresh_expires_at": pair.refresh_expires_at,
    }))
    .with_header(CACHE_CONTROL, "no-store"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct VerifyBody {
    email: Option<String>,
    code: Option<String>,
}

/// `POST /api/auth/verify/` `{email, code}` → 200 with the verified user.
pub async fn verify(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let body: VerifyBody = ctx.json()?;
    let user = registration::verify_email(
        app,
        body.email.as_deref(),
        body.code.as_deref(),
        &client_info(ctx),
    )
    .await?;
    Ok(ApiResponse::ok(&json!({
        "detail": "Email address verified.",
        "user": NewUserView::from(&user),
    })))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EmailBody {
    email: Option<String>,
}

/// `POST /api/auth/resend-code/` `{email}` → 200, the same for every address.
pub async fn resend_code(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let body: EmailBody = ctx.json()?;
    registration::resend_code(app, body.email.as_deref(), &client_info(ctx)).await?;
    Ok(ApiResponse::ok(&json!({ "detail": RESEND_ANSWER })))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChangeBody {
    current_password: Option<String>,
    new_password: Option<String>,
    /// Also revoke every API token of the account.
    revoke_api_tokens: Option<bool>,
}

/// `POST /api/auth/password/change/` `{current_password, new_password}` (authenticated,
/// verified) → 200; every other session of the account ends.
pub async fn change_password(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let body: ChangeBody = ctx.json()?;
    let ended = password::change_password(
        app,
        &principal,
        body.current_password.as_deref(),
        body.new_password.as_deref(),
        body.revoke_api_tokens.unwrap_or(false),
        &client_info(ctx),
    )
    .await?;
    Ok(ApiResponse::ok(&json!({
        "detail": "Password changed.",
        "other_sessions_ended": ended.sessions,
        "api_tokens_revoked": ended.api_tokens,
    })))
}

/// `POST /api/auth/password/reset/` `{email}` → 200, the same for every address.
pub async fn request_reset(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let body: EmailBody = ctx.json()?;
    password::request_password_reset(app, body.email.as_deref(), &client_info(ctx)).await?;
    Ok(ApiResponse::ok(&json!({ "detail": RESET_ANSWER })))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResetConfirmBody {
    email: Option<String>,
    code: Option<String>,
    new_password: Option<String>,
}

/// `POST /api/auth/password/reset/confirm/` `{email, code, new_password}` → 200; every
/// session of the account ends.
pub async fn confirm_reset(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let body: ResetConfirmBody = ctx.json()?;
    let ended = password::confirm_password_reset(
        app,
        body.email.as_deref(),
        body.code.as_deref(),
        body.new_password.as_deref(),
        &client_info(ctx),
    )
    .await?;
    Ok(ApiResponse::ok(&json!({
        "detail": "Password has been reset.",
        "sessions_ended": ended.sessions,
        "api_tokens_revoked": ended.api_tokens,
    })))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CancelEmailChangeBody {
    token: Option<String>,
}

/// `POST /api/auth/email/cancel/` `{token}` (no sign-in: the token was mailed to the old
/// address) → 200: a pending email change is dropped, or a completed one reverted with every
/// session and token of the account ended.
pub async fn cancel_email_change(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let body: CancelEmailChangeBody = ctx.json()?;
    let outcome =
        email_change::cancel_change(app, body.token.as_deref(), &client_info(ctx)).await?;
    let (detail, state) = match outcome {
        email_change::CancelOutcome::Cancelled => ("The email change was cancelled.", "cancelled"),
        email_change::CancelOutcome::Reverted => (
            "The email change was reverted and every session and token ended. Reset your password now.",
            "reverted",
        ),
    };
    Ok(ApiResponse::ok(
        &json!({ "detail": detail, "outcome": state }),
    ))
}
