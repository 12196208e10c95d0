//! Second factors: the caller's TOTP factors and recovery codes, the second step of a sign-in,
//! step-up, and staff's reset of an account's factors (`auth/mfa.rs` has the rules).

use http::header::CACHE_CONTROL;
use serde::Deserialize;
use serde_json::json;

use super::passkeys::CredentialBody;
use super::sessions::{cookie_login_answer, jwt_login_answer};
use crate::App;
use crate::auth::AuthMethod;
use crate::auth::mfa::{self, Proof, StepUpProof};
use crate::error::Error;
use crate::http::auth::{caller, client_info};
use crate::http::{ApiResponse, RequestCtx};
use crate::model::UserId;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameBody {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    #[serde(default)]
    code: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    #[serde(default)]
    mfa_token: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    recovery_code: Option<String>,
    /// A passkey's assertion (`PublicKeyCredential` JSON) for the challenge of
    /// `POST /api/auth/mfa/verify/passkey/`.
    #[serde(default)]
    passkey: Option<CredentialBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepUpBody {
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    recovery_code: Option<String>,
    /// A passkey's assertion for the challenge of `POST /api/auth/mfa/step-up/passkey/`.
    #[serde(default)]
    passkey: Option<CredentialBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingBody {
    #[serde(default)]
    mfa_token: Option<String>,
}

/// A passkey given in a body counts as one proof among the code fields.
fn passkey_given(passkey: &Option<CredentialBody>) -> Option<&'static str> {
    passkey.as_ref().map(|_| "passkey")
}

fn no_store(response: ApiResponse) -> ApiResponse {
    response.with_header(CACHE_CONTROL, "no-store")
}

/// `GET /api/auth/mfa/factors/` → `{results, recovery_codes_remaining}`.
pub async fn list_factors(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let listed = mfa::list(app, principal.id()).await?;
    Ok(no_store(ApiResponse::ok(&json!({
        "count": listed.factors.len(),
        "next": null,
        "previous": null,
        "results": listed.factors,
        "recovery_codes_remaining": listed.recovery_codes_remaining,
    }))))
}

/// `POST /api/auth/mfa/factors/` `{name?}` → 201 with the pending factor, its secret, the
/// `otpauth://` URI and the QR code (SVG), this once.
pub async fn enrol(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let body: NameBody = ctx.json()?;
    let enrolment = mfa::enrol_totp(app, &principal, body.name.as_deref()).await?;
    Ok(no_store(ApiResponse::created(&json!({
        "factor": enrolment.factor,
        "secret": enrolment.secret,
        "otpauth_uri": enrolment.otpauth_uri,
        "qr_svg": enrolment.qr_svg,
    }))))
}

/// `POST /api/auth/mfa/factors/{id}/confirm/` `{code}` → the active factor, and the recovery
/// codes (shown this once) when it is the account's first.
pub async fn confirm(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let body: CodeBody = ctx.json()?;
    let confirmed = mfa::confirm_totp(
        app,
        &principal,
        ctx.param("id"),
        body.code.as_deref(),
        &client_info(ctx),
    )
    .await?;
    Ok(no_store(ApiResponse::ok(&json!({
        "factor": confirmed.factor,
        "recovery_codes": confirmed.recovery_codes,
    }))))
}

/// `PATCH /api/auth/mfa/factors/{id}/` `{name}` → the factor.
pub async fn rename(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let body: NameBody = ctx.json()?;
    let factor = mfa::rename_factor(app, &principal, ctx.param("id"), body.name.as_deref()).await?;
    Ok(no_store(ApiResponse::ok(&factor)))
}

/// `DELETE /api/auth/mfa/factors/{id}/` → 204.
pub async fn remove(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    mfa::remove_factor(app, &principal, ctx.param("id"), &client_info(ctx)).await?;
    Ok(ApiResponse::no_content())
}

/// `POST /api/auth/mfa/recovery-codes/` → a new set of ten codes, shown this once.
pub async fn regenerate_recovery_codes(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let codes = mfa::regenerate_recovery_codes(app, &principal, &client_info(ctx)).await?;
    Ok(no_store(ApiResponse::ok(
        &json!({ "recovery_codes": codes }),
    )))
}

/// `POST /api/auth/mfa/verify/` `{mfa_token, code | recovery_code}` → what the login the
/// pending sign-in came from answers: the cookies and the user, or the token pair and the user.
pub async fn verify(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let body: VerifyBody = ctx.json()?;
    let token = body
        .mfa_token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let proof = mfa::one_proof_of(&[
        ("code", body.code.as_deref()),
        ("recovery_code", body.recovery_code.as_deref()),
        ("passkey", passkey_given(&body.passkey)),
    ]);
    let Some(token) = token else {
        return Err(Error::field("mfa_token", "This field is required."));
    };
    let assertion = match (&proof, &body.passkey) {
        (Ok(("passkey", _)), Some(passkey)) => Some(passkey.assertion()?),
        _ => None,
    };
    let proof = match (proof?, &assertion) {
        (("passkey", _), Some(assertion)) => Proof::Passkey(assertion),
        (("code", code), _) => Proof::Totp(code),
        ((_, code), _) => Proof::RecoveryCode(code),
    };
    let done = mfa::complete_sign_in(app, token, proof, &client_info(ctx)).await?;
    match done.via {
        AuthMethod::Jwt => jwt_login_answer(app, &done.user, &done.session).await,
        _ => Ok(cookie_login_answer(app, ctx, &done.user, &done.session)),
    }
}

/// `POST /api/auth/mfa/step-up/` `{password | code | recovery_code}` → the session's new
/// assurance.
pub async fn step_up(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let body: StepUpBody = ctx.json()?;
    let given = mfa::one_proof_of(&[
        ("password", body.password.as_deref()),
        ("code", body.code.as_deref()),
        ("recovery_code", body.recovery_code.as_deref()),
        ("passkey", passkey_given(&body.passkey)),
    ])?;
    let assertion = match (given, &body.passkey) {
        (("passkey", _), Some(passkey)) => Some(passkey.assertion()?),
        _ => None,
    };
    let proof = match (given, &assertion) {
        (("passkey", _), Some(assertion)) => StepUpProof::Second(Proof::Passkey(assertion)),
        (("password", password), _) => StepUpProof::Password(password),
        (("code", code), _) => StepUpProof::Second(Proof::Totp(code)),
        ((_, code), _) => StepUpProof::Second(Proof::RecoveryCode(code)),
    };
    let assurance = mfa::step_up(app, &principal, proof, &client_info(ctx)).await?;
    Ok(no_store(ApiResponse::ok(&json!({
        "aal": assurance.aal,
        "amr": assurance.amr,
        "password_at": assurance.password_at.and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
        "second_factor_at": assurance
            .second_factor_at
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
        "valid_for_seconds": mfa::STEP_UP_WINDOW_SECS,
    }))))
}

/// `DELETE /api/users/{id}/mfa/` → 204: an administrator removes every second factor of an
/// account of lower rank.
pub async fn reset(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let target: UserId = ctx.param("id").parse().map_err(|_| Error::NotFound)?;
    mfa::reset_factors(app, &principal, target, &client_info(ctx)).await?;
    Ok(ApiResponse::no_content())
}

/// `POST /api/auth/mfa/verify/passkey/` `{mfa_token}` → the request options for a passkey as
/// the second step of that pending sign-in (the account's passkeys allowed).
pub async fn passkey_options_for_sign_in(
    app: &App,
    ctx: &RequestCtx,
) -> Result<ApiResponse, Error> {
    let body: PendingBody = ctx.json()?;
    let token = body
        .mfa_token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::field("mfa_token", "This field is required."))?;
    let options = mfa::passkey_options_for_sign_in(app, token).await?;
    Ok(no_store(ApiResponse::ok(&options)))
}

/// `POST /api/auth/mfa/step-up/passkey/` → the request options for a passkey as a step-up in
/// the caller's session.
pub async fn passkey_options_for_step_up(
    app: &App,
    ctx: &RequestCtx,
) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let options = mfa::passkey_options_for_step_up(app, &principal).await?;
    Ok(no_store(ApiResponse::ok(&options)))
}
