//! Sessions (`/api/sessions/`) and the event log (`/api/events/`). See `docs/activity.md`.

use chrono::{DateTime, Utc};
use http::StatusCode;
use http::header::CACHE_CONTROL;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::sessions::{login_input, set_session_cookies};
use crate::App;
use crate::access::{self, Actor};
use crate::activity::events::{EventType, Severity};
use crate::activity::feed::{self, EventFilter, event_view};
use crate::activity::ingest::{self, IngestInput, Writer, ingested_view};
use crate::activity::sessions::{self as activity_sessions, session_view, subject};
use crate::auth::AuthMethod;
use crate::auth::login::{LoginOutcome, login as password_login};
use crate::error::Error;
use crate::http::auth::{caller, caller_allow_unverified, client_info};
use crate::http::{ApiResponse, RequestCtx, response};
use crate::model::UserId;
use crate::profiles::views::full_view;
use crate::store::Cursor;

fn page(results: Vec<Json>, next: Option<Cursor>) -> Json {
    response::page(&results, next.as_ref().map(Cursor::as_str), None)
}

/// `?user=<id>`, when given.
fn user_param(ctx: &RequestCtx) -> Result<Option<UserId>, Error> {
    match ctx.query_param("user") {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<UserId>()
            .ok()
            .filter(|u| u.0 > 0)
            .map(Some)
            .ok_or_else(|| Error::field("user", "A valid user id is required.")),
    }
}

// ------------------------------------------------------------------------------- sessions

/// `GET /api/sessions/`: the caller's sessions, newest first, the current one marked;
/// administrators may pass `?user=`.
pub async fn list_sessions(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller_allow_unverified(app, ctx).await?;
    let user = subject(&principal, user_param(ctx)?, false)?;
    let (page_size, cursor) = ctx.paging()?;
    let (sessions, next) = activity_sessions::list_sessions(app, user, page_size, cursor).await?;
    let now = app.clock.now();
    let current = principal.session_id.as_deref();
    let results = sessions
        .iter()
        .map(|s| session_view(s, now, current))
        .collect();
    Ok(ApiResponse::ok(&page(results, next)).with_header(CACHE_CONTROL, "no-store"))
}

/// `GET /api/sessions/{id}/`: one of the caller's sessions (anyone's for administrators).
pub async fn get_session(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller_allow_unverified(app, ctx).await?;
    let session = activity_sessions::visible_session(app, &principal, ctx.param("id")).await?;
    let view = session_view(&session, app.clock.now(), principal.session_id.as_deref());
    Ok(ApiResponse::ok(&view).with_header(CACHE_CONTROL, "no-store"))
}

/// `POST /api/sessions/` `{username or email, password}`: a session login (the same rules and
/// cookies as `POST /api/auth/login/`) → 201 with the new session and the user.
pub async fn create_session(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let input = login_input(ctx)?;
    let client = client_info(ctx);
    let (user, started) = match password_login(app, input, &client, AuthMethod::Session).await? {
        LoginOutcome::SignedIn(user, started) => (user, started),
        LoginOutcome::SecondFactorRequired(pending) => {
            return Ok(super::sessions::second_factor_required(&pending));
        }
    };
    set_session_cookies(app, ctx, &started);
    let mut view = session_view(
        &started.record,
        app.clock.now(),
        Some(&started.record.session_id),
    );
    if let Some(fields) = view.as_object_mut() {
        fields.insert("user".into(), full_view(&user));
    }
    Ok(ApiResponse::json(StatusCode::CREATED, &view).with_header(CACHE_CONTROL, "no-store"))
}

/// `DELETE /api/sessions/{id}/` → 204: ends that session; its cookie, access and refresh
/// tokens stop working at once.
pub async fn end_session(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller_allow_unverified(app, ctx).await?;
    activity_sessions::end_visible_session(app, &principal, ctx.param("id"), &client_info(ctx))
        .await?;
    Ok(ApiResponse::no_content())
}

/// `DELETE /api/sessions/` → `{"ended": n}`: ends every session of the caller but the current.
pub async fn end_other_sessions(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller_allow_unverified(app, ctx).await?;
    let ended = activity_sessions::end_other_sessions(app, &principal, &client_info(ctx)).await?;
    Ok(ApiResponse::ok(&json!({ "ended": ended })))
}

// --------------------------------------------------------------------------------- events

fn parse_time(ctx: &RequestCtx, name: &str) -> Result<Option<DateTime<Utc>>, Error> {
    match ctx.query_param(name) {
        None | Some("") => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v)
            .map(|at| Some(at.with_timezone(&Utc)))
            .map_err(|_| Error::field(name, "Enter a date and time in RFC 3339 form.")),
    }
}

fn event_filter(ctx: &RequestCtx) -> Result<EventFilter, Error> {
    let event_type = match ctx.query_param("event_type") {
        None | Some("") => None,
        Some(v) => Some(
            EventType::parse(v)
                .ok_or_else(|| Error::field("event_type", format!("Unknown event type `{v}`.")))?,
        ),
    };
    let severity = match ctx.query_param("severity") {
        None | Some("") => None,
        Some(v) => Some(Severity::parse(v).ok_or_else(|| {
            Error::field("severity", "Must be one of low, medium, high, critical.")
        })?),
    };
    let filter = EventFilter {
        event_type,
        severity,
        success: ctx.bool_param("success")?,
        since: parse_time(ctx, "since")?,
        until: parse_time(ctx, "until")?,
    };
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && since > until
    {
        return Err(Error::field("until", "Must not be before since."));
    }
    Ok(filter)
}

/// `GET /api/events/?event_type=&severity=&success=&since=&until=&page_size=&cursor=`: the
/// caller's events, newest first. Staff may pass `?user=`, and `?requires_review=true` for
/// the review queue.
pub async fn list_events(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let (page_size, cursor) = ctx.paging()?;
    // Every filter is checked before the branch: the review queue applies none of them, but a
    // malformed value is still a 400, never silently ignored.
    let requested_user = user_param(ctx)?;
    let filter = event_filter(ctx)?;
    if ctx.bool_param("requires_review")? == Some(true) {
        let by = access::require_staff(Actor::of(&principal.user))?;
        let (events, next) = feed::review_queue(app, by, page_size, cursor).await?;
        let results = events.iter().map(event_view).collect();
        return Ok(ApiResponse::ok(&page(results, next)));
    }
    let user = subject(&principal, requested_user, true)?;
    let (events, next) = feed::list_user_events(app, user, &filter, page_size, cursor).await?;
    let results = events.iter().map(event_view).collect();
    Ok(ApiResponse::ok(&page(results, next)))
}

/// `POST /api/events/` → 201 with the event (200 with `duplicate: true` for a repeated
/// idempotency key).
pub async fn log_event(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let input: IngestInput = ctx.json()?;
    let ingested =
        ingest::ingest(app, Writer::Caller(&principal), input, &client_info(ctx)).await?;
    let status = if ingested.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(ApiResponse::json(status, &ingested_view(&ingested)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    #[serde(default)]
    notes: Option<String>,
}

/// `POST /api/events/{id}/review/` `{notes?}` (staff) → the event with `reviewed_at` and
/// `reviewed_by`.
pub async fn review_event(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let by = access::require_staff(Actor::of(&principal.user))?;
    let body: ReviewBody = ctx.json()?;
    let notes = body.notes.map(|n| n.chars().take(1000).collect());
    let event = feed::review_event(app, by, ctx.param("id"), notes).await?;
    Ok(ApiResponse::ok(&event_view(&event)))
}
