//! `/api/users/`: list and search, administrators creating accounts, the owner or an
//! administrator reading, changing and erasing an account, staff suspending one.

use http::StatusCode;
use http::header::CACHE_CONTROL;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::App;
use crate::access;
use crate::accounts::UserRecord;
use crate::accounts::users::{self, Actor, CreateUserInput, ListFilter, UpdateUserInput};
use crate::auth::mfa::{self, Sensitive};
use crate::auth::policy::{self, PolicyChange};
use crate::error::Error;
use crate::http::auth::{caller, client_info};
use crate::http::{ApiResponse, RequestCtx, response};
use crate::model::{Role, UserId};
use crate::profiles::views;
use crate::profiles::views::full_view;
use crate::store::Cursor;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuspendBody {
    #[serde(default)]
    reason: Option<String>,
}

/// The `{id}` of the path: anything but a positive integer names no user.
fn target(ctx: &RequestCtx) -> Result<UserId, Error> {
    ctx.param("id").parse().map_err(|_| Error::NotFound)
}

/// `GET /api/users/?search=&role=&is_verified=&page_size=&cursor=`: each user as the viewer
/// sees them (`access::profile_visibility`).
pub async fn list(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let role = match ctx.query_param("role").filter(|r| !r.is_empty()) {
        None => None,
        Some(raw) => Some(
            Role::parse(raw)
                .ok_or_else(|| Error::field("role", format!("\"{raw}\" is not a valid choice.")))?,
        ),
    };
    let filter = ListFilter {
        role,
        is_verified: ctx.bool_param("is_verified")?,
        search: ctx.query_param("search").map(str::to_owned),
    };
    let cursor = ctx
        .query_param("cursor")
        .filter(|c| !c.is_empty())
        .map(Cursor::from_client);
    let actor = Actor::of(&principal.user);
    let page = users::list_users(app, actor, &filter, ctx.page_size()?, cursor).await?;
    let results: Vec<Json> = page
        .users
        .iter()
        .filter_map(|(user, visibility)| views::view_as(*visibility, user))
        .collect();
    Ok(ApiResponse::ok(&response::page(
        &results,
        page.next.as_ref().map(Cursor::as_str),
        None,
    )))
}

fn user_response(status: StatusCode, user: &UserRecord) -> ApiResponse {
    ApiResponse::json(status, &full_view(user)).with_header(CACHE_CONTROL, "no-store")
}

/// `POST /api/users/` (administrators): `{username, email, password, first_name?, last_name?,
/// role?, is_verified?}` → 201 with the user.
pub async fn create(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let actor = Actor::of(&principal.user);
    access::require_admin(actor)?;
    let input: CreateUserInput = ctx.json()?;
    let user = users::create_user(app, actor, input, &client_info(ctx)).await?;
    Ok(user_response(StatusCode::CREATED, &user))
}

/// `GET /api/users/{id}/`: the user themself or an administrator; anyone else 404.
pub async fn retrieve(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let user = users::get_user_for(app, Actor::of(&principal.user), target(ctx)?).await?;
    Ok(user_response(StatusCode::OK, &user))
}

async fn update(app: &App, ctx: &RequestCtx, partial: bool) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let id = target(ctx)?;
    let input: UpdateUserInput = ctx.json()?;
    let updated =
        users::update_user(app, &principal, id, input, partial, &client_info(ctx)).await?;
    let mut body = full_view(&updated.user);
    // The address stays the old one until the new one is confirmed with its code.
    body["pending_email"] = json!(updated.pending_email.map(|p| p.new_email));
    Ok(ApiResponse::ok(&body).with_header(CACHE_CONTROL, "no-store"))
}

/// `PUT /api/users/{id}/`: `username` and `email` required.
pub async fn replace(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    update(app, ctx, false).await
}

/// `PATCH /api/users/{id}/`: any subset of the fields.
pub async fn partial_update(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    update(app, ctx, true).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordProofBody {
    current_password: Option<String>,
}

/// `DELETE /api/users/{id}/` `{current_password}` (the owner; an administrator erasing
/// someone else needs none) → 204 once the account is erased.
pub async fn destroy(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let body: PasswordProofBody = ctx.json()?;
    users::erase_user_as(
        app,
        &principal,
        target(ctx)?,
        body.current_password.as_deref(),
        &client_info(ctx),
    )
    .await?;
    Ok(ApiResponse::no_content())
}

/// `GET /api/users/{id}/export/` (the owner; administrators; never with an API token) → 200
/// with everything stored about the user (`accounts::export`).
pub async fn export(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let doc =
        crate::accounts::export::export_user(app, &principal, target(ctx)?, &client_info(ctx))
            .await?;
    Ok(ApiResponse::ok(&doc))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeBody {
    code: Option<String>,
}

/// `POST /api/users/{id}/email/confirm/` `{code}` (the owner, signed in; not with an API token)
/// → 200 with the user, whose address is now the confirmed new one.
pub async fn confirm_email_change(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let body: CodeBody = ctx.json()?;
    let user = crate::accounts::email_change::confirm_change(
        app,
        &principal,
        target(ctx)?,
        body.code.as_deref(),
        &client_info(ctx),
    )
    .await?;
    Ok(user_response(StatusCode::OK, &user))
}

/// `POST /api/users/{id}/suspend/` `{reason}` (administrators and moderators).
pub async fn suspend(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let actor = Actor::of(&principal.user);
    let id = target(ctx)?;
    // Staff only, decided before the body is read (`set_suspension` decides it again).
    access::require_staff(actor)?;
    let body: SuspendBody = ctx.json()?;
    let reason = body.reason.unwrap_or_default();
    mfa::require_recent_auth(app, &principal, Sensitive::Action).await?;
    let user = users::set_suspension(app, actor, id, Some(&reason), &client_info(ctx)).await?;
    Ok(user_response(StatusCode::OK, &user))
}

/// `POST /api/users/{id}/unsuspend/` (administrators and moderators).
pub async fn unsuspend(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let actor = Actor::of(&principal.user);
    let id = target(ctx)?;
    if actor.is_staff() {
        mfa::require_recent_auth(app, &principal, Sensitive::Action).await?;
    }
    let user = users::set_suspension(app, actor, id, None, &client_info(ctx)).await?;
    Ok(user_response(StatusCode::OK, &user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyBody {
    #[serde(default)]
    mfa_required_for_staff: Option<bool>,
}

/// `GET /api/security-policy/` (staff) → the platform's security policy.
pub async fn security_policy(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let current = policy::read(app, &principal).await?;
    Ok(ApiResponse::ok(&current).with_header(CACHE_CONTROL, "no-store"))
}

/// `PATCH /api/security-policy/` `{mfa_required_for_staff}` (administrators, after a step-up).
pub async fn update_security_policy(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let body: PolicyBody = ctx.json()?;
    let change = PolicyChange {
        mfa_required_for_staff: body.mfa_required_for_staff,
    };
    let updated = policy::update(app, &principal, change, &client_info(ctx)).await?;
    Ok(ApiResponse::ok(&updated).with_header(CACHE_CONTROL, "no-store"))
}
