//! Follows, blocks and relationships (`docs/social.md`).

use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::App;
use crate::accounts::UserRecord;
use crate::error::{Error, FieldErrors};
use crate::http::auth::{caller, caller_with, client_info};
use crate::http::response::page;
use crate::http::{ApiResponse, RequestCtx};
use crate::model::UserId;
use crate::profiles::views::public_card;
use crate::social::follows::{self, Direction, ListRequest};
use crate::social::{BlockEdge, FollowEdge, blocks, parse_edge_id, relationships};
use crate::store::Cursor;

/// Default and largest `?page_size=`.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FollowBody {
    following: Json,
    #[serde(default)]
    follower: Option<Json>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockBody {
    blocked: Json,
    #[serde(default)]
    reason: Option<String>,
}

const BAD_USER_ID: &str = "A valid user id is required.";

/// A user id from the body: a positive integer, or a string of one.
fn body_user_id(value: &Json) -> Option<UserId> {
    match value {
        Json::Number(n) => n.as_i64().filter(|n| *n > 0).map(UserId),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The two ends of the edge in the path (`<a>-<b>`); anything else is 404.
fn path_edge(ctx: &RequestCtx) -> Result<(UserId, UserId), Error> {
    parse_edge_id(ctx.param("id")).ok_or(Error::NotFound)
}

fn follow_view(edge: &FollowEdge, other: Option<&UserRecord>) -> Json {
    let mut view = json!({
        "id": edge.id(),
        "follower": edge.follower,
        "following": edge.following,
        "status": edge.status.as_str(),
        "created_at": edge.created_at,
        "approved_at": edge.approved_at,
    });
    if let (Some(other), Some(fields)) = (other, view.as_object_mut()) {
        fields.insert("user".into(), public_card(other));
    }
    view
}

fn block_view(edge: &BlockEdge, blocked: Option<&UserRecord>) -> Json {
    let mut view = json!({
        "id": edge.id(),
        "blocker": edge.blocker,
        "blocked": edge.blocked,
        "reason": edge.reason,
        "created_at": edge.created_at,
    });
    if let (Some(blocked), Some(fields)) = (blocked, view.as_object_mut()) {
        fields.insert("user".into(), public_card(blocked));
    }
    view
}

fn list_view(count: Option<i64>, next: Option<Cursor>, results: Vec<Json>) -> Json {
    page(&results, next.as_ref().map(Cursor::as_str), count)
}

/// `POST /api/follows/` `{following, follower?}` → 201 with the edge (active or pending).
pub async fn create_follow(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let body: FollowBody = ctx.json()?;
    let following = body_user_id(&body.following);
    let follower = match &body.follower {
        None | Some(Json::Null) => Some(principal.id()),
        Some(v) => body_user_id(v),
    };
    let (Some(following), Some(follower)) = (following, follower) else {
        let mut errors = FieldErrors::new();
        if following.is_none() {
            errors.add("following", BAD_USER_ID);
        }
        if follower.is_none() {
            errors.add("follower", BAD_USER_ID);
        }
        return Err(Error::Invalid(errors));
    };
    let edge = follows::follow(app, &principal, follower, following, &client_info(ctx)).await?;
    Ok(ApiResponse::created(&follow_view(&edge, None)))
}

/// `GET /api/follows/?direction=&user=&status=&page_size=&cursor=`.
pub async fn list_follows(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let request = match list_request(ctx) {
        Ok(request) => request,
        Err(e) => {
            // A caller who fails authentication hears that first.
            caller(app, ctx).await?;
            return Err(e);
        }
    };
    // The page (and another user's privacy) is read beside the authentication.
    let (principal, reads) =
        caller_with(app, ctx, |me| follows::list_reads(app, me, &request)).await?;
    let page = follows::list_page(app, &principal, request, reads).await?;
    let results = page
        .items
        .iter()
        .map(|(edge, other)| follow_view(edge, Some(other)))
        .collect();
    Ok(ApiResponse::ok(&list_view(page.count, page.next, results)))
}

/// The query of `GET /api/follows/`.
fn list_request(ctx: &RequestCtx) -> Result<ListRequest, Error> {
    let pending = match ctx.query_param("status") {
        None | Some("active") => false,
        Some("pending") => true,
        Some(_) => return Err(Error::field("status", "Expected `active` or `pending`.")),
    };
    let direction = match ctx.query_param("direction") {
        // The requests to answer are the default meaning of `?status=pending`.
        None if pending => Direction::Followers,
        None | Some("following") => Direction::Following,
        Some("followers") => Direction::Followers,
        Some(_) => {
            return Err(Error::field(
                "direction",
                "Expected `following` or `followers`.",
            ));
        }
    };
    let user = match ctx.query_param("user") {
        None => None,
        Some(v) => Some(
            v.parse::<UserId>()
                .map_err(|_| Error::field("user", BAD_USER_ID))?,
        ),
    };
    let (page_size, cursor) = ctx.paging()?;
    Ok(ListRequest {
        direction,
        user,
        pending,
        page_size,
        cursor,
    })
}

/// `GET /api/follows/{id}/`: to either end of the edge (or staff).
pub async fn get_follow(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let (follower, followed) = path_edge(ctx)?;
    let (edge, other) = follows::get(app, &principal, follower, followed).await?;
    Ok(ApiResponse::ok(&follow_view(&edge, other.as_ref())))
}

/// `DELETE /api/follows/{id}/` → 204: unfollow, withdraw a request, or remove a follower.
pub async fn delete_follow(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let Ok((follower, followed)) = path_edge(ctx) else {
        // A caller who fails authentication hears that first.
        caller(app, ctx).await?;
        return Err(Error::NotFound);
    };
    // The edge and both profiles are read beside the authentication.
    let (principal, reads) = caller_with(app, ctx, |me| {
        follows::edge_reads(app, me, follower, followed)
    })
    .await?;
    follows::delete(
        app,
        &principal,
        follower,
        followed,
        &client_info(ctx),
        reads,
    )
    .await?;
    Ok(ApiResponse::no_content())
}

/// `POST /api/follows/{id}/approve/` → 200 with the now active edge.
pub async fn approve_follow(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let (follower, followed) = path_edge(ctx)?;
    let edge = follows::approve(app, &principal, follower, followed, &client_info(ctx)).await?;
    Ok(ApiResponse::ok(&follow_view(&edge, None)))
}

/// `POST /api/follows/{id}/reject/` → 204.
pub async fn reject_follow(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let (follower, followed) = path_edge(ctx)?;
    follows::reject(app, &principal, follower, followed, &client_info(ctx)).await?;
    Ok(ApiResponse::no_content())
}

/// `POST /api/blocks/` `{blocked, reason?}` → 201.
pub async fn create_block(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let body: BlockBody = ctx.json()?;
    let blocked =
        body_user_id(&body.blocked).ok_or_else(|| Error::field("blocked", BAD_USER_ID))?;
    let reason = body.reason.unwrap_or_default();
    let edge = blocks::block(app, &principal, blocked, &reason, &client_info(ctx)).await?;
    Ok(ApiResponse::created(&block_view(&edge, None)))
}

/// `GET /api/blocks/`: the caller's blocks.
pub async fn list_blocks(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let (page_size, cursor) = ctx.paging()?;
    let page = blocks::list(app, &principal, page_size, cursor).await?;
    let results = page
        .items
        .iter()
        .map(|(edge, blocked)| block_view(edge, Some(blocked)))
        .collect();
    Ok(ApiResponse::ok(&list_view(None, page.next, results)))
}

/// `DELETE /api/blocks/{id}/` → 204.
pub async fn delete_block(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let (blocker, blocked) = path_edge(ctx)?;
    blocks::unblock(app, &principal, blocker, blocked, &client_info(ctx)).await?;
    Ok(ApiResponse::no_content())
}

/// `GET /api/relationships/?id=2&id=3` (also `id[]=`, and comma-separated values).
pub async fn relationships(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let mut ids = Vec::new();
    for value in ctx.query_params("id").chain(ctx.query_params("id[]")) {
        for part in value.split(',').filter(|p| !p.trim().is_empty()) {
            let id = part
                .trim()
                .parse::<UserId>()
                .map_err(|_| Error::field("id", format!("`{part}` is not a valid user id.")))?;
            ids.push(id);
        }
    }
    let found = relationships::relationships(app, principal.id(), &ids).await?;
    Ok(ApiResponse::ok(&found))
}
