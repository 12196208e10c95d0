//! The scheduled tasks' records for administrators: `GET /api/tasks/runs/` and
//! `GET /api/reports/`. See `docs/tasks.md`.

use chrono::NaiveDate;
use http::header::CACHE_CONTROL;
use serde_json::Value as Json;

use crate::App;
use crate::access::{self, Actor, Admin};
use crate::error::Error;
use crate::http::auth::caller;
use crate::http::{ApiResponse, RequestCtx, response};
use crate::store::Cursor;
use crate::tasks::{TASKS, report, runner};

fn page(results: Vec<Json>, next: Option<Cursor>) -> Json {
    response::page(&results, next.as_ref().map(Cursor::as_str), None)
}

/// The caller as an administrator (`access::require_admin`).
async fn admin(app: &App, ctx: &RequestCtx) -> Result<Admin, Error> {
    let principal = caller(app, ctx).await?;
    access::require_admin(Actor::of(&principal.user))
}

/// `GET /api/tasks/runs/[?task=<name>]`: run records, newest first.
pub async fn list_runs(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let by = admin(app, ctx).await?;
    let task = match ctx.query_param("task") {
        None | Some("") => None,
        Some(name) if TASKS.contains(&name) => Some(name),
        Some(name) => {
            return Err(Error::field(
                "task",
                format!(
                    "Unknown task `{name}`; known tasks: [{}].",
                    TASKS.join(", ")
                ),
            ));
        }
    };
    let (page_size, cursor) = ctx.paging()?;
    let (runs, next) = runner::list_runs(app, by, task, page_size, cursor).await?;
    let results = runs
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or(Json::Null))
        .collect();
    Ok(ApiResponse::ok(&page(results, next)).with_header(CACHE_CONTROL, "no-store"))
}

/// `GET /api/reports/?date=YYYY-MM-DD`: that day's report (404 until generated); without
/// `date`, the reports newest day first.
pub async fn reports(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let by = admin(app, ctx).await?;
    match ctx.query_param("date") {
        None | Some("") => {
            let (page_size, cursor) = ctx.paging()?;
            let (results, next) = report::list_reports(app, by, page_size, cursor).await?;
            Ok(ApiResponse::ok(&page(results, next)).with_header(CACHE_CONTROL, "no-store"))
        }
        Some(date) => {
            let day = NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|_| Error::field("date", "Enter a date in YYYY-MM-DD form."))?;
            let report = report::get_report(app, by, day)
                .await?
                .ok_or(Error::NotFound)?;
            Ok(ApiResponse::ok(&report).with_header(CACHE_CONTROL, "no-store"))
        }
    }
}
