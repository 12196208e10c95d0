//! Passkeys: registration and management for the signed-in caller, and the usernameless
//! sign-in (`auth/passkeys.rs` has the rules, `auth/webauthn.rs` the ceremony checks).
//! Bodies carry a `PublicKeyCredential` as browsers' `toJSON()` gives it (bytes base64url).

use http::header::CACHE_CONTROL;
use serde::Deserialize;
use serde_json::json;

use super::sessions::{cookie_login_answer, jwt_login_answer};
use crate::App;
use crate::auth::AuthMethod;
use crate::auth::passkeys::{self, Assertion, Attestation};
use crate::error::Error;
use crate::http::auth::{caller, client_info};
use crate::http::{ApiResponse, RequestCtx};

fn no_store(response: ApiResponse) -> ApiResponse {
    response.with_header(CACHE_CONTROL, "no-store")
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct CredentialResponse {
    #[serde(default, rename = "clientDataJSON")]
    client_data_json: Option<String>,
    #[serde(default)]
    attestation_object: Option<String>,
    #[serde(default)]
    authenticator_data: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    user_handle: Option<String>,
    #[serde(default)]
    transports: Vec<String>,
}

/// A `PublicKeyCredential` as JSON, and what this service adds to it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CredentialBody {
    #[serde(default)]
    #[allow(dead_code)]
    id: Option<String>,
    #[serde(default)]
    raw_id: Option<String>,
    #[serde(default, rename = "type")]
    #[allow(dead_code)]
    kind: Option<String>,
    #[serde(default)]
    response: Option<CredentialResponse>,
    /// Registration: the passkey's name.
    #[serde(default)]
    name: Option<String>,
    /// Sign-in: `session` (cookies, the default) or `jwt` (a token pair).
    #[serde(default)]
    mode: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameBody {
    #[serde(default)]
    name: Option<String>,
}

fn response_of(body: &CredentialBody) -> Result<&CredentialResponse, Error> {
    body.response
        .as_ref()
        .ok_or_else(|| Error::field("response", "This field is required."))
}

impl CredentialBody {
    /// The assertion of a sign-in, a second step or a step-up.
    pub(super) fn assertion(&self) -> Result<Assertion<'_>, Error> {
        let response = response_of(self)?;
        Ok(Assertion {
            raw_id: self.raw_id.as_deref(),
            client_data_json: response.client_data_json.as_deref(),
            authenticator_data: response.authenticator_data.as_deref(),
            signature: response.signature.as_deref(),
            user_handle: response.user_handle.as_deref(),
        })
    }
}

/// `GET /api/auth/passkeys/` → the caller's passkeys.
pub async fn list(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let passkeys = passkeys::list(app, principal.id()).await?;
    Ok(no_store(ApiResponse::ok(&json!({
        "count": passkeys.len(),
        "next": null,
        "previous": null,
        "results": passkeys,
    }))))
}

/// `POST /api/auth/passkeys/register/begin/` → the creation options for
/// `navigator.credentials.create`.
pub async fn begin_registration(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let options = passkeys::begin_registration(app, &principal).await?;
    Ok(no_store(ApiResponse::ok(&options)))
}

/// `POST /api/auth/passkeys/register/finish/` `{rawId, response: {clientDataJSON,
/// attestationObject, transports?}, name?}` → 201 with the passkey.
pub async fn finish_registration(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let body: CredentialBody = ctx.json()?;
    let response = response_of(&body)?;
    let attestation = Attestation {
        raw_id: body.raw_id.as_deref(),
        client_data_json: response.client_data_json.as_deref(),
        attestation_object: response.attestation_object.as_deref(),
        transports: response.transports.clone(),
    };
    let registered = passkeys::finish_registration(
        app,
        &principal,
        &attestation,
        body.name.as_deref(),
        &client_info(ctx),
    )
    .await?;
    Ok(no_store(ApiResponse::created(&registered)))
}

/// `PATCH /api/auth/passkeys/{id}/` `{name}` → the passkey.
pub async fn rename(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let body: NameBody = ctx.json()?;
    let passkey = passkeys::rename(app, &principal, ctx.param("id"), body.name.as_deref()).await?;
    Ok(no_store(ApiResponse::ok(&passkey)))
}

/// `DELETE /api/auth/passkeys/{id}/` → 204.
pub async fn remove(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    passkeys::remove(app, &principal, ctx.param("id"), &client_info(ctx)).await?;
    Ok(ApiResponse::no_content())
}

/// `POST /api/auth/passkeys/sign-in/begin/` → the request options for
/// `navigator.credentials.get` (usernameless).
pub async fn begin_sign_in(app: &App, _ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let options = passkeys::request_options(app, passkeys::Ceremony::SignIn).await?;
    Ok(no_store(ApiResponse::ok(&options)))
}

/// `POST /api/auth/passkeys/sign-in/finish/` `{rawId, response: {clientDataJSON,
/// authenticatorData, signature, userHandle}, mode?}` → what a login answers: the cookies and
/// the user (`mode: session`, the default) or the token pair and the user (`mode: jwt`).
pub async fn finish_sign_in(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let body: CredentialBody = ctx.json()?;
    let via = match body.mode.as_deref().map(str::trim) {
        None | Some("") | Some("session") => AuthMethod::Session,
        Some("jwt") => AuthMethod::Jwt,
        Some(_) => return Err(Error::field("mode", "Give \"session\" or \"jwt\".")),
    };
    let assertion = body.assertion()?;
    let done = passkeys::finish_sign_in(app, &assertion, via, &client_info(ctx)).await?;
    match via {
        AuthMethod::Jwt => jwt_login_answer(app, &done.user, &done.session).await,
        _ => Ok(cookie_login_answer(app, ctx, &done.user, &done.session)),
    }
}
