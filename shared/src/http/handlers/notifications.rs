//! The notifications inbox (`docs/notifications.md`): the caller's own notifications only.

use crate::App;
use crate::error::Error;
use crate::http::auth::{caller, caller_with};
use crate::http::{ApiResponse, RequestCtx};
use crate::notifications;

/// `GET /api/notifications/?page_size=&cursor=` → `{next, previous, unread_count, results}`,
/// newest first. The page and the read marker are read beside the authentication.
pub async fn list(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let paging = ctx.paging();
    let wanted = paging.as_ref().ok().cloned();
    let (principal, reads) = caller_with(app, ctx, |me| {
        let wanted = wanted.clone();
        async move {
            match wanted {
                Some((size, cursor)) => notifications::inbox_reads(app, me, size, cursor)
                    .await
                    .map(Some),
                None => Ok(None),
            }
        }
    })
    .await?;
    // A caller who fails authentication hears that first, then a bad page size or cursor.
    let reads = match reads {
        Some(reads) => reads,
        None => {
            return Err(paging
                .err()
                .unwrap_or(Error::BadRequest("Bad paging.".into())));
        }
    };
    Ok(ApiResponse::ok(
        &notifications::inbox(app, &principal.user, reads).await?,
    ))
}

/// `POST /api/notifications/{id}/read/` → 200 with the notification, now read; 404 for an id
/// that is not one of the caller's notifications.
pub async fn mark_read(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let id = notifications::parse_id(ctx.param("id")).ok_or(Error::NotFound)?;
    let view = notifications::mark_read(app, &principal.user, &id).await?;
    Ok(ApiResponse::ok(&view))
}

/// `POST /api/notifications/read-all/` → 200 `{"unread_count": 0, "read_through"}`.
pub async fn read_all(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    Ok(ApiResponse::ok(
        &notifications::read_all(app, &principal.user).await?,
    ))
}
