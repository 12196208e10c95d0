//! `GET /api/users/{id}/badge-progress/`: progress towards the badges the user has not earned
//! (the user themself or staff).

use crate::App;
use crate::badges::progress;
use crate::error::Error;
use crate::http::auth::{caller, caller_with};
use crate::http::{ApiResponse, RequestCtx};
use crate::model::UserId;

/// `{"eligible_badges": [{badge, progress, requirements_met, total_requirements,
/// next_milestone}]}`, one entry per active badge not held, in badge id order.
pub async fn badge_progress(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let Ok(user) = ctx.param("id").parse::<UserId>() else {
        // A caller who fails authentication hears that first.
        caller(app, ctx).await?;
        return Err(Error::NotFound);
    };
    // The definitions and the user's data are read beside the authentication.
    let (principal, reads) = caller_with(app, ctx, |_| progress::progress_reads(app, user)).await?;
    let entries = progress::badge_progress(&principal, user, reads)?;
    let eligible: Vec<_> = entries.iter().map(progress::BadgeProgress::view).collect();
    Ok(ApiResponse::ok(
        &serde_json::json!({ "eligible_badges": eligible }),
    ))
}
