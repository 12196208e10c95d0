//! Entry points of the EventBridge-triggered functions, free of Lambda types: the `tasks`
//! function receives `{"task": "<name>"}` from its schedules, `badge-events` receives domain
//! events in EventBridge's envelope. Both answer `{"health": true}` with the store's health.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::App;
use crate::bus::DomainEvent;
use crate::error::Error;

/// The scheduled tasks this build knows. The scheduled-jobs capability fills this list; a
/// schedule naming a task that is not here fails loudly instead of doing nothing.
pub const KNOWN_TASKS: &[&str] = &[];

/// `{"health": true}` → `{"status": "ok", "store": "<engine>"}` once the store answers.
async fn health(app: &App) -> Result<Value, Error> {
    app.table.health().await?;
    Ok(json!({ "status": "ok", "store": app.table.engine() }))
}

fn is_health(payload: &Value) -> bool {
    payload.get("health").and_then(Value::as_bool) == Some(true)
}

/// The `tasks` function's handler.
pub async fn run_task(app: &App, payload: Value) -> Result<Value, Error> {
    if is_health(&payload) {
        return health(app).await;
    }
    let name = payload
        .get("task")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::field("task", "This field is required."))?;
    Err(Error::field(
        "task",
        format!(
            "Unknown task `{name}`; known tasks: [{}].",
            KNOWN_TASKS.join(", ")
        ),
    ))
}

/// The source of the content service's events (posts, comments, likes, reviews ...): they are
/// ingested into the event log like `POST /api/events/` from a service.
pub const CONTENT_SOURCE: &str = "platform.content";

/// EventBridge's envelope around a domain event.
#[derive(Deserialize)]
struct Envelope {
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    detail: Value,
    time: DateTime<Utc>,
}

/// Reads a domain event out of EventBridge's envelope.
pub fn domain_event_from_envelope(payload: Value) -> Result<DomainEvent, Error> {
    let envelope: Envelope = serde_json::from_value(payload)
        .map_err(|e| Error::BadRequest(format!("not an EventBridge event: {e}")))?;
    Ok(DomainEvent {
        source: envelope.source,
        detail_type: envelope.detail_type,
        detail: envelope.detail,
        time: envelope.time,
    })
}

/// The `badge-events` function's handler: delivers the event to the same subscribers the
/// in-process bus feeds locally (none until the badges capability registers its evaluator).
pub async fn handle_domain_event(app: &App, payload: Value) -> Result<Value, Error> {
    if is_health(&payload) {
        return health(app).await;
    }
    let envelope_id = payload.get("id").and_then(Value::as_str).map(str::to_owned);
    let event = domain_event_from_envelope(payload)?;
    tracing::info!(source = %event.source, detail_type = %event.detail_type, "domain event received");
    if event.source == CONTENT_SOURCE {
        // The platform's content events feed the event log and the badge counters.
        let ingested =
            crate::activity::ingest::ingest_bus_event(app, envelope_id.as_deref(), event.detail)
                .await?;
        return Ok(json!({
            "received": event.detail_type,
            "ingested": ingested.event.event_id,
            "duplicate": ingested.duplicate,
        }));
    }
    Ok(json!({ "received": event.detail_type }))
}
