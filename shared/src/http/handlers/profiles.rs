//! Profiles, professional profiles and settings: thin handlers over `crate::profiles`.

use http::StatusCode;
use serde_json::{Map, Value as Json};

use crate::App;
use crate::error::Error;
use crate::http::auth::{caller, client_info};
use crate::http::{ApiResponse, RequestCtx, response};
use crate::model::UserId;
use crate::profiles::{professional, profile, settings};

/// The `{id}` of the path: a malformed id names no object, so 404.
fn path_id(ctx: &RequestCtx) -> Result<UserId, Error> {
    ctx.param("id").parse().map_err(|_| Error::NotFound)
}

fn page(results: Vec<Json>, next: Option<String>) -> ApiResponse {
    ApiResponse::ok(&response::page(&results, next.as_deref(), None))
}

fn body(ctx: &RequestCtx) -> Result<Map<String, Json>, Error> {
    ctx.json::<Map<String, Json>>()
}

/// `GET /api/profiles/[?search=&page_size=&cursor=]`.
pub async fn list_profiles(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let size = ctx.page_size()?;
    let search = ctx.query_param("search").filter(|s| !s.trim().is_empty());
    let found = profile::list_profiles(
        app,
        &principal.user,
        search,
        size,
        ctx.query_param("cursor"),
    )
    .await?;
    Ok(page(found.results, found.next))
}

/// `POST /api/profiles/`: 400 when the profile exists; admins create a missing one.
pub async fn create_profile(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let view = profile::create_profile(app, &principal.user, &body(ctx)?).await?;
    Ok(ApiResponse::created(&view))
}

/// `GET /api/profiles/{id}/`.
pub async fn get_profile(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let view = profile::get_profile(app, &principal.user, path_id(ctx)?).await?;
    Ok(ApiResponse::ok(&view))
}

/// `PUT`/`PATCH /api/profiles/{id}/`: the owner or an admin.
pub async fn update_profile(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let id = path_id(ctx)?;
    let changes = body(ctx)?;
    let view =
        profile::update_profile(app, &principal.user, id, &changes, &client_info(ctx)).await?;
    Ok(ApiResponse::ok(&view))
}

/// `GET /api/professional-profiles/[?is_verified=&page_size=&cursor=]`.
pub async fn list_professional(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let size = ctx.page_size()?;
    let is_verified = ctx.bool_param("is_verified")?;
    let found = professional::list(
        app,
        &principal.user,
        is_verified,
        size,
        ctx.query_param("cursor"),
    )
    .await?;
    Ok(page(found.results, found.next))
}

/// `POST /api/professional-profiles/`: the caller's own, once.
pub async fn create_professional(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let view = professional::create(app, &principal.user, &body(ctx)?, &client_info(ctx)).await?;
    Ok(ApiResponse::json(StatusCode::CREATED, &view))
}

/// `GET /api/professional-profiles/{id}/`.
pub async fn get_professional(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let view = professional::get(app, &principal.user, path_id(ctx)?).await?;
    Ok(ApiResponse::ok(&view))
}

/// `PUT`/`PATCH /api/professional-profiles/{id}/`: the owner or an admin.
pub async fn update_professional(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let id = path_id(ctx)?;
    let changes = body(ctx)?;
    let view = professional::update(app, &principal.user, id, &changes, &client_info(ctx)).await?;
    Ok(ApiResponse::ok(&view))
}

/// `DELETE /api/professional-profiles/{id}/`: the owner or an admin.
pub async fn delete_professional(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    professional::delete(app, &principal.user, path_id(ctx)?, &client_info(ctx)).await?;
    Ok(ApiResponse::no_content())
}

/// `POST /api/professional-profiles/{id}/verify/`: admins only.
pub async fn verify_professional(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let view = professional::verify(app, &principal.user, path_id(ctx)?, &client_info(ctx)).await?;
    Ok(ApiResponse::ok(&view))
}

/// `GET /api/settings/`: the caller's.
pub async fn get_settings(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let (record, _) = settings::get_settings(app, principal.id()).await?;
    Ok(ApiResponse::ok(&record))
}

/// `PUT`/`PATCH /api/settings/`: the caller's.
pub async fn update_settings(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let changes = body(ctx)?;
    let record =
        settings::update_settings(app, &principal.user, &changes, &client_info(ctx)).await?;
    Ok(ApiResponse::ok(&record))
}
