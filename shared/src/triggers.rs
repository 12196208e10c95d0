//! Entry points of the EventBridge-triggered functions, free of Lambda types: the `tasks`
//! function receives `{"task": "<name>"}` from its schedules, `badge-events` receives domain
//! events in EventBridge's envelope. Both answer `{"health": true}` with the store's health.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::App;
use crate::bus::DomainEvent;
use crate::error::Error;

/// The scheduled tasks this build knows; a schedule naming a task that is not here fails
/// loudly instead of doing nothing.
pub const KNOWN_TASKS: &[&str] = crate::tasks::TASKS;

/// `{"health": true}` → `{"status": "ok", "store": "<engine>"}` once the store answers.
async fn health(app: &App) -> Result<Value, Error> {
    app.table.health().await?;
    Ok(json!({ "status": "ok", "store": app.table.engine() }))
}

fn is_health(payload: &Value) -> bool {
    payload.get("health").and_then(Value::as_bool) == Some(true)
}

/// The `tasks` function's handler, without a deadline (tests, local runs).
pub async fn run_task(app: &App, payload: Value) -> Result<Value, Error> {
    run_task_until(app, payload, None).await
}

/// The `tasks` function's handler: `{"task": "<name>"}` from a schedule, or a `TaskContinue`
/// bus event (in EventBridge's envelope) asking to carry on with a checkpointed task. The run
/// stops before `deadline` (the Lambda's, less a reserve) and checkpoints. Answers the run
/// record.
pub async fn run_task_until(
    app: &App,
    payload: Value,
    deadline: Option<std::time::Instant>,
) -> Result<Value, Error> {
    if is_health(&payload) {
        return health(app).await;
    }
    let continued = payload.get("detail-type").and_then(Value::as_str)
        == Some(crate::tasks::runner::CONTINUE_DETAIL_TYPE);
    let task = if continued {
        payload.get("detail").and_then(|d| d.get("task"))
    } else {
        payload.get("task")
    };
    let name = task
        .and_then(Value::as_str)
        .ok_or_else(|| Error::field("task", "This field is required."))?;
    if !KNOWN_TASKS.contains(&name) {
        return Err(Error::field(
            "task",
            format!(
                "Unknown task `{name}`; known tasks: [{}].",
                KNOWN_TASKS.join(", ")
            ),
        ));
    }
    let budget = crate::tasks::Budget {
        deadline,
        ..crate::tasks::Budget::unlimited()
    };
    let record = crate::tasks::run(app, name, &budget).await?;
    serde_json::to_value(record).map_err(|e| Error::Internal(e.to_string()))
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

/// The `badge-events` function's handler: the platform's content events are ingested (event
/// log and badge counters) and then evaluated like the `ActivityCounted` event an API
/// ingestion publishes; this service's own events (follows, logins, activity, badges) go to
/// the badge evaluator, as the in-process bus subscriber does locally. A redelivered content
/// event is not counted again but evaluated again (an earlier delivery may have stopped
/// between the two); awards are put-if-absent, so nothing is awarded twice.
pub async fn handle_domain_event(app: &App, payload: Value) -> Result<Value, Error> {
    if is_health(&payload) {
        return health(app).await;
    }
    // The table's stream (its event source mapping in template.yaml): the day counts.
    if let Some(records) = crate::store::stream::records_of_lambda_event(&payload) {
        let records = records.map_err(|e| Error::BadRequest(e.to_string()))?;
        let applied = crate::activity::day_counts::apply(app, &records).await?;
        tracing::info!(
            records = records.len(),
            counted = applied.counted,
            redelivered = applied.redelivered_through.is_some(),
            "stream batch applied"
        );
        return Ok(json!({
            "stream_records": records.len(),
            "counted": applied.counted,
            "redelivered": applied.redelivered_through.is_some(),
        }));
    }
    let envelope_id = payload.get("id").and_then(Value::as_str).map(str::to_owned);
    let event = domain_event_from_envelope(payload)?;
    tracing::info!(source = %event.source, detail_type = %event.detail_type, "domain event received");
    if event.source == CONTENT_SOURCE {
        // The platform's content events feed the event log and the badge counters.
        let ingested =
            crate::activity::ingest::ingest_bus_event(app, envelope_id.as_deref(), event.detail)
                .await?;
        let counted = crate::activity::ingest::activity_counted(&ingested.event);
        let awarded = crate::badges::evaluate::evaluate_for_event(app, &counted).await?;
        return Ok(json!({
            "received": event.detail_type,
            "ingested": ingested.event.event_id,
            "duplicate": ingested.duplicate,
            "awarded": awarded_view(&awarded),
        }));
    }
    if event.source == crate::accounts::mail_feedback::SOURCE {
        let detail_type = event.detail_type.as_str();
        return crate::accounts::mail_feedback::handle(app, detail_type, &event.detail).await;
    }
    if event.source != crate::bus::EVENT_SOURCE {
        return Ok(json!({ "received": event.detail_type, "awarded": [] }));
    }
    if event.detail_type == crate::accounts::code_mail::CODE_MAIL_REQUESTED {
        // A code asked for by address, mailed here so the request's answer did not wait.
        crate::accounts::code_mail::handle(app, &event.detail).await?;
        return Ok(json!({ "received": event.detail_type, "awarded": [] }));
    }
    // The notification of a follow or an award (the recipient's inbox, the award email).
    crate::notifications::on_domain_event(app, &event).await?;
    let awarded = crate::badges::evaluate::evaluate_for_event(app, &event).await?;
    Ok(json!({ "received": event.detail_type, "awarded": awarded_view(&awarded) }))
}

/// `[{"user": <id>, "badge": <id>}, ...]`.
fn awarded_view(awarded: &[(crate::model::UserId, crate::badges::definitions::BadgeId)]) -> Value {
    awarded
        .iter()
        .map(|(user, badge)| json!({ "user": user, "badge": badge }))
        .collect()
}
