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
    /// Deliveries of `publish_after_response` still running, for [`InProcessBus::settled`].
    in_flight: Arc<InFlight>,
    /// When set (tests), `publish_after_response` keeps its events here instead of spawning
    /// their delivery, and [`InProcessBus::settled`] delivers them: nothing runs beside the
    /// request that published them, so its store calls and time can be measured alone.
    held: std::sync::Mutex<Option<Vec<DomainEvent>>>,
}

#[derive(Default)]
struct InFlight {
    count: std::sync::atomic::AtomicUsize,
    done: tokio::sync::Notify,
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

    /// From now on, keep the events of `publish_after_response` until [`InProcessBus::settled`]
    /// (tests).
    pub fn hold_after_response(&self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get_or_insert_with(Vec::new);
    }

    /// Waits until every delivery started by `publish_after_response` has finished (tests and
    /// tools that read what those deliveries wrote), delivering held events first.
    pub async fn settled(&self) {
        use std::sync::atomic::Ordering;
        let held = {
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            held.as_mut().map(std::mem::take).unwrap_or_default()
        };
        if !held.is_empty() {
            deliver(self.snapshot(), &held).await;
        }
        loop {
            let notified = self.in_flight.done.notified();
            if self.in_flight.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
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
        deliver(self.snapshot(), events).await;
        Ok(())
    }

    /// Delivers in a task of its own: the request that published goes on at once.
    async fn publish_after_response(&self, events: &[DomainEvent]) -> Result<(), BusError> {
        use std::sync::atomic::Ordering;
        if let Some(held) = self
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            held.extend_from_slice(events);
            return Ok(());
        }
        let subscribers = self.snapshot();
        let events = events.to_vec();
        let in_flight = self.in_flight.clone();
        in_flight.count.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            deliver(subscribers, &events).await;
            in_flight.count.fetch_sub(1, Ordering::SeqCst);
            in_flight.done.notify_waiters();
        });
        Ok(())
    }
}

/// Delivers each event to each subscriber in turn (a copy of the list, so a subscriber may
/// itself subscribe without a deadlock).
async fn deliver(subscribers: Vec<Arc<dyn Subscriber>>, events: &[DomainEvent]) {
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
