//! JWT refresh, logout, verify and user-info; the public keys (JWKS); API tokens.

use http::StatusCode;
use http::header::CACHE_CONTROL;
use serde::Deserialize;
use serde_json::json;

use crate::App;
use crate::auth::{api_tokens, jwt};
use crate::error::Error;
use crate::http::auth::{caller, caller_allow_unverified, client_info};
use crate::http::{ApiResponse, RequestCtx, response};
use crate::profiles::views::full_view;

/// How long clients and caches may keep the key set: short enough that a newly added key is
/// seen well before it signs (put it in the set, wait, then move it first).
const JWKS_CACHE_CONTROL: &str = "public, max-age=300";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTokenBody {
    name: String,
}

/// `POST /api/auth/jwt/refresh/` `{refresh}` → `{access, refresh, ...expiries}`.
pub async fn refresh(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let body: RefreshBody = ctx.json()?;
    let pair = jwt::refresh(app, &body.refresh, &client_info(ctx)).await?;
    Ok(ApiResponse::ok(&pair).with_header(CACHE_CONTROL, "no-store"))
}

/// `POST /api/auth/jwt/logout/` `{refresh}` → 204.
pub async fn logout(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let body: RefreshBody = ctx.json()?;
    jwt::logout(app, &body.refresh, &client_info(ctx)).await?;
    Ok(ApiResponse::no_content())
}

/// `POST /api/auth/jwt/verify/` `{token}` → `{token_type, expires_at}` or 401.
pub async fn verify(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let body: VerifyBody = ctx.json()?;
    let claims = jwt::verify(app, &body.token).await?;
    Ok(ApiResponse::ok(&json!({
        "valid": true,
        "token_type": claims.token_type,
        "expires_at": claims.expires_at(),
    })))
}

/// `GET /api/auth/jwt/user-info/`: the caller (the same view as `me`) and how they
/// authenticated.
pub async fn user_info(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller_allow_unverified(app, ctx).await?;
    let mut view = full_view(&principal.user);
    if let Some(fields) = view.as_object_mut() {
        fields.insert("auth_method".into(), json!(principal.method));
    }
    Ok(ApiResponse::ok(&view).with_header(CACHE_CONTROL, "no-store"))
}

/// `GET /api/auth/jwks/` and `GET /.well-known/jwks.json`: public, cacheable.
pub async fn jwks(app: &App, _ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    Ok(ApiResponse::ok(&app.keys.jwks()).with_header(CACHE_CONTROL, JWKS_CACHE_CONTROL))
}

/// `POST /api/auth/tokens/` `{name}` → 201 with the key, shown this once.
pub async fn create_api_token(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let body: CreateTokenBody = ctx.json()?;
    let created = api_tokens::create(app, &principal, &body.name, &client_info(ctx)).await?;
    Ok(ApiResponse::json(StatusCode::CREATED, &created).with_header(CACHE_CONTROL, "no-store"))
}

/// `GET /api/auth/tokens/`: the caller's tokens (name, prefix, created, last used).
pub async fn list_api_tokens(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let tokens = api_tokens::list(app, principal.id()).await?;
    Ok(ApiResponse::ok(&response::page(
        &tokens,
        None,
        Some(tokens.len() as i64),
    )))
}

/// `DELETE /api/auth/tokens/{id}/` → 204; someone else's (or no) token → 404.
pub async fn revoke_api_token(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    api_tokens::revoke(app, &principal, ctx.param("id"), &client_info(ctx)).await?;
    Ok(ApiResponse::no_content())
}
