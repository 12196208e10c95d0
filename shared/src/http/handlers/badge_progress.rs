//! `GET /api/users/{id}/badge-progress/`: progress towards the badges the user has not earned
//! (the user themself or staff).

use crate::App;
use crate::badges::progress;
use crate::error::Error;
use crate::http::auth::caller;
use crate::http::{ApiResponse, RequestCtx};
use crate::model::UserId;

/// `{"eligible_badges": [{badge, progress, requirements_met, total_requirements,
/// next_milestone}]}`, one entry per active badge not held, in badge id order.
pub async fn badge_progress(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let user: UserId = ctx.param("id").parse().map_err(|_| Error::NotFound)?;
    let entries = progress::badge_progress(app, &principal, user).await?;
    let eligible: Vec<_> = entries.iter().map(progress::BadgeProgress::view).collect();
    Ok(ApiResponse::ok(
        &serde_json::json!({ "eligible_badges": eligible }),
    ))
}
