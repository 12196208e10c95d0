//! What staff (or the command line) did to an account, logged the same way by every area
//! that lets them: role changes, suspensions, factor resets, profile edits.

use serde_json::json;

use crate::App;
use crate::access::Actor;
use crate::activity::events::{EventType, NewEvent, log_event_best_effort};
use crate::auth::client::ClientInfo;
use crate::model::UserId;

/// Logs what staff (or the system: the command line) did to an account, in two events: the
/// account's own log says what happened and when, with no one's request details; the actor's
/// log has an `admin_action` with their address and user agent and the target. The target
/// reads their own log, so nothing about the staff member goes there.
pub async fn log_staff_action(
    app: &App,
    actor: Actor,
    target: UserId,
    event_type: EventType,
    metadata: serde_json::Value,
    client: &ClientInfo,
) {
    let description = match actor {
        Actor::User { .. } => "changed by staff",
        Actor::System => "changed from the command line",
    };
    log_event_best_effort(
        app,
        NewEvent::new(event_type, Some(target))
            .description(description)
            .metadata(metadata.clone()),
    )
    .await;
    if let Some(actor) = actor.user_id() {
        let mut detail = json!({ "action": event_type.as_str(), "target": target });
        if let (Some(out), Some(extra)) = (detail.as_object_mut(), metadata.as_object()) {
            for (k, v) in extra {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        log_event_best_effort(
            app,
            NewEvent::new(EventType::AdminAction, Some(actor))
                .client(client)
                .target(target)
                .description(format!("{} on user {target}", event_type.as_str()))
                .metadata(detail),
        )
        .await;
    }
}
