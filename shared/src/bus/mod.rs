//! The domain event bus: EventBridge `PutEvents` in Lambda, an in-process bus locally.

pub mod eventbridge;
pub mod in_process;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The `source` of every event this service publishes.
pub const EVENT_SOURCE: &str = "accounts";

/// A domain event: what happened (`detail_type`, e.g. `UserFollowed`) and its JSON detail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    pub source: String,
    pub detail_type: String,
    pub detail: serde_json::Value,
    pub time: DateTime<Utc>,
}

impl DomainEvent {
    pub fn new(
        detail_type: impl Into<String>,
        detail: serde_json::Value,
        time: DateTime<Utc>,
    ) -> Self {
        DomainEvent {
            source: EVENT_SOURCE.into(),
            detail_type: detail_type.into(),
            detail,
            time,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum BusError {
    /// Some or all events were not accepted; none of the listed ones were delivered.
    #[error("events not published: {0}")]
    NotPublished(String),
}

#[async_trait]
pub trait EventBus: Send + Sync {
    fn engine(&self) -> &'static str;
    /// Publishes the events; on error, the caller may publish the whole batch again
    /// (subscribers must treat deliveries as at-least-once).
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), BusError>;

    /// Publishes events whose handling must not delay the answer to the request (work that
    /// would make the answer's timing tell something, such as whether an address has an
    /// account). EventBridge delivers every event after `PutEvents` returns anyway; the
    /// in-process bus delivers these in a task of their own.
    async fn publish_after_response(&self, events: &[DomainEvent]) -> Result<(), BusError> {
        self.publish(events).await
    }
}

/// Something that reacts to domain events delivered by the in-process bus (locally) or by an
/// EventBridge rule (in Lambda).
#[async_trait]
pub trait Subscriber: Send + Sync {
    async fn handle(&self, event: &DomainEvent);
}
