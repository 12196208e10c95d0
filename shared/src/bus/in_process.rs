//! The local event bus: every published event goes to every subscriber, in the order they
//! subscribed, before `publish` returns. Local runs and tests therefore see a subscriber's
//! effects right after the call that published the event.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use futures::FutureExt;

use super::{BusError, DomainEvent, EventBus, Subscriber};

#[derive(Default)]
pub struct InProcessBus {
    subscribers: RwLock<Vec<Arc<dyn Subscriber>>>,
}

impl InProcessBus {
    pub fn new() -> Self {
        InProcessBus::default()
    }

    /// Adds a subscriber; it receives every event published from now on.
    pub fn subscribe(&self, subscriber: Arc<dyn Subscriber>) {
        // The lock is never held across a call that can panic, so a poisoned lock still holds
        // a consistent list.
        self.subscribers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(subscriber);
    }

    fn snapshot(&self) -> Vec<Arc<dyn Subscriber>> {
        self.subscribers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl EventBus for InProcessBus {
    fn engine(&self) -> &'static str {
        "in-process"
    }

    /// Delivers each event to each subscriber in turn. A subscriber that panics is logged and
    /// skipped: one broken reaction must not fail the request that published the event, nor
    /// keep the other subscribers from seeing it.
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), BusError> {
        // A copy of the list, so a subscriber may itself subscribe without a deadlock.
        let subscribers = self.snapshot();
        for event in events {
            for (index, subscriber) in subscribers.iter().enumerate() {
                let delivery = AssertUnwindSafe(subscriber.handle(event)).catch_unwind();
                if let Err(payload) = delivery.await {
                    tracing::error!(
                        detail_type = %event.detail_type,
                        subscriber = index,
                        panic = %panic_message(payload.as_ref()),
                        "event subscriber panicked; delivery to the others goes on"
                    );
                }
            }
        }
        Ok(())
    }
}

/// The text of a panic, when it has one (`panic!("...")` carries a `&str` or a `String`).
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "non-text panic payload"
    }
}
