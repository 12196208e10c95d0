//! The Lambda event bus: EventBridge `PutEvents` to the configured bus.
//!
//! `PutEvents` takes at most 10 entries and 256 KiB per call, and it can accept some entries of
//! a call while refusing others (throttling, internal errors). Events are therefore sent in
//! batches within both limits, and the refused entries of a batch are sent once more before
//! the failure is reported.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_smithy_types::DateTime;

use super::{BusError, DomainEvent, EventBus};

/// Most entries in one `PutEvents` call.
const MAX_ENTRIES: usize = 10;
/// Most bytes in one `PutEvents` call, counted as EventBridge counts them.
const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Pause before sending refused entries again: most refusals are throttling.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

pub struct EventBridgeBus {
    client: crate::aws::LazyClient<Client>,
    bus_name: String,
}

impl EventBridgeBus {
    pub fn new(sdk: &crate::aws::SdkConfig, bus_name: String) -> Self {
        EventBridgeBus {
            client: crate::aws::LazyClient::new(sdk, Client::new),
            bus_name,
        }
    }

    fn entry(&self, event: &DomainEvent) -> Result<(PutEventsRequestEntry, usize), BusError> {
        let detail = serde_json::to_string(&event.detail).map_err(|e| {
            BusError::NotPublished(format!("{}: detail is not JSON: {e}", event.detail_type))
        })?;
        // EventBridge's size rule: 14 bytes for the time, plus the UTF-8 lengths of the rest.
        let size = 14 + event.source.len() + event.detail_type.len() + detail.len();
        let time = DateTime::from_secs_and_nanos(
            event.time.timestamp(),
            event.time.timestamp_subsec_nanos(),
        );
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(&event.source)
            .detail_type(&event.detail_type)
            .detail(detail)
            .time(time)
            .build();
        Ok((entry, size))
    }

    /// Sends one batch, then its refused entries once more; returns how many entries were
    /// still refused, with the reason of the last refusal. A failure of a call is an error.
    async fn put_batch(
        &self,
        batch: Vec<PutEventsRequestEntry>,
    ) -> Result<Option<(usize, String)>, String> {
        let (refused, _) = self.put_once(batch).await?;
        if refused.is_empty() {
            return Ok(None);
        }
        tokio::time::sleep(RETRY_PAUSE).await;
        let (refused, reason) = self.put_once(refused).await?;
        Ok((!refused.is_empty()).then_some((refused.len(), reason)))
    }

    async fn put_once(
        &self,
        entries: Vec<PutEventsRequestEntry>,
    ) -> Result<(Vec<PutEventsRequestEntry>, String), String> {
        let output = self
            .client
            .get()
            .put_events()
            .set_entries(Some(entries.clone()))
            .send()
            .await
            .map_err(|e| match e.code() {
                Some(code) => format!("{code}: {}", e.message().unwrap_or("no message")),
                None => DisplayErrorContext(&e).to_string(),
            })?;
        Ok(refused(&entries, &output))
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    fn engine(&self) -> &'static str {
        "eventbridge"
    }

    async fn publish(&self, events: &[DomainEvent]) -> Result<(), BusError> {
        let total = events.len();
        let mut batches: Vec<Vec<PutEventsRequestEntry>> = Vec::new();
        let mut batch_bytes = 0;
        for event in events {
            let (entry, size) = self.entry(event)?;
            match batches.last_mut() {
                Some(batch)
                    if batch.len() < MAX_ENTRIES && batch_bytes + size <= MAX_BATCH_BYTES =>
                {
                    batch.push(entry);
                }
                _ => {
                    batches.push(vec![entry]);
                    batch_bytes = 0;
                }
            }
            batch_bytes += size;
        }

        let mut sent = 0;
        let mut failed = 0;
        let mut last_reason = String::new();
        for batch in batches {
            let size = batch.len();
            match self.put_batch(batch).await {
                Ok(None) => {}
                Ok(Some((refused, reason))) => {
                    failed += refused;
                    last_reason = reason;
                }
                Err(reason) => {
                    // The call itself failed (network, credentials, missing bus): the batches
                    // after it would fail the same way, so stop here.
                    let unsent = total - sent;
                    return Err(BusError::NotPublished(format!(
                        "{} of {total} events not published to bus {}: {reason}",
                        unsent + failed,
                        self.bus_name
                    )));
                }
            }
            sent += size;
        }
        if failed > 0 {
            return Err(BusError::NotPublished(format!(
                "{failed} of {total} events refused by bus {}: {last_reason}",
                self.bus_name
            )));
        }
        Ok(())
    }
}

/// The entries of `sent` that `output` reports as refused, and the reason given for the last
/// of them. Result entries come in request order; a missing one counts as refused.
fn refused(
    sent: &[PutEventsRequestEntry],
    output: &PutEventsOutput,
) -> (Vec<PutEventsRequestEntry>, String) {
    if output.failed_entry_count() == 0 {
        return (Vec::new(), String::new());
    }
    let results = output.entries();
    let mut refused = Vec::new();
    let mut reason = String::from("no reason given");
    for (index, entry) in sent.iter().enumerate() {
        match results.get(index) {
            Some(result) if result.error_code().is_none() && result.event_id().is_some() => {}
            Some(result) => {
                refused.push(entry.clone());
                reason = format!(
                    "{}: {}",
                    result.error_code().unwrap_or("unknown"),
                    result.error_message().unwrap_or("no message")
                );
            }
            None => refused.push(entry.clone()),
        }
    }
    (refused, reason)
}
