//! Each UTC day's event counts by type, kept from the table's stream (`store::stream`) for the
//! daily report: at the reference load a day holds billions of events, which no report can
//! read, and counting them in each event's own write would be one more write per event.
//!
//! A stream batch (up to 1,000 new events) becomes ONE transaction: an ADD per type on the
//! day's count item for the batch's slot (`keys::day_count`, one per day the batch spans,
//! usually one), and a put-if-absent of the batch's marker (`keys::stream_batch`, keyed by the
//! batch's first record, expiring after two days). A redelivered batch (Lambda retries a batch
//! whole, from the same record) fails on its marker and adds nothing. The counts lag the
//! events by the stream's delivery (about a second, plus the batching window: five seconds in
//! `template.yaml`); the report runs hours after its day ends.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::App;
use crate::activity::events::EventRecord;
use crate::error::Error;
use crate::store::stream::{StreamRecord, batch_id};
use crate::store::{Condition, Item, StoreError, Transaction, TxOp, Update, Value, keys};

/// How long a batch's marker is kept: longer than DynamoDB Streams keeps a record (24 h).
pub const MARKER_TTL_SECS: i64 = 2 * 24 * 3600;

/// What applying a batch did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Events counted now.
    pub counted: u64,
    /// When a batch starting at the same record had been applied before (a redelivery):
    /// nothing was added, and this is the id of the last record that batch covered.
    pub redelivered_through: Option<String>,
}

/// Counts a stream batch's events into their days (one transaction). Records that are not
/// events, or unreadable, are skipped with a warning: a poison record must not stop the
/// stream.
pub async fn apply(app: &App, records: &[StreamRecord]) -> Result<Applied, Error> {
    let mut days: BTreeMap<NaiveDate, BTreeMap<&'static str, i64>> = BTreeMap::new();
    let mut counted = 0;
    for record in records {
        match EventRecord::from_item(&record.item) {
            Ok(event) => {
                *days
                    .entry(event.created_at.date_naive())
                    .or_default()
                    .entry(event.event_type.as_str())
                    .or_default() += 1;
                counted += 1;
            }
            Err(e) => tracing::warn!(record = %record.id, error = %e, "stream record skipped"),
        }
    }
    if days.is_empty() {
        return Ok(Applied::default());
    }
    let batch = batch_id(records);
    let slot = keys::day_count_slot(&batch);
    let marker_key = keys::stream_batch(&batch);
    let mut marker = Item::new();
    marker.insert(keys::attr::PK.into(), Value::S(marker_key.pk));
    marker.insert(keys::attr::SK.into(), Value::S(marker_key.sk));
    marker.insert("events".into(), Value::Int(counted as i64));
    let last = records.last().map(|r| r.id.clone()).unwrap_or_default();
    marker.insert("last".into(), Value::S(last));
    marker.insert(
        keys::attr::EXPIRES_AT.into(),
        Value::Int(app.clock.epoch_seconds() + MARKER_TTL_SECS),
    );
    let mut tx = Transaction::new().with(
        BatchOp::Marker,
        TxOp::Put {
            item: marker,
            condition: Some(Condition::item_absent()),
        },
    );
    for (nth, (day, types)) in days.iter().enumerate() {
        let mut update = Update::new().set("day", day.to_string());
        for (event_type, n) in types {
            update = update.add(event_type, *n);
        }
        tx.push(
            BatchOp::DayCount(nth),
            TxOp::Update {
                key: keys::day_count(&day.to_string(), slot),
                update,
                condition: None,
            },
        );
    }
    match tx.commit(app.table.as_ref()).await {
        Ok(()) => Ok(Applied {
            counted,
            redelivered_through: None,
        }),
        // The marker is there: a batch starting here was applied before. (After an unanswered
        // try, `MayHaveApplied`: by that try, or before.) A conflict or any other error fails
        // the batch, which is delivered again, and its marker decides.
        Err(e) if e.condition_failed(BatchOp::Marker) => redelivered(app, &batch).await,
        Err(e) if matches!(e.store_error(), StoreError::MayHaveApplied(_)) => {
            redelivered(app, &batch).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The operations of a batch's transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BatchOp {
    /// The batch's marker, put if absent: a redelivered batch fails here.
    Marker,
    /// The counts of the batch's `n`-th day.
    DayCount(usize),
}

async fn redelivered(app: &App, batch: &str) -> Result<Applied, Error> {
    let marker = app.table.get(&keys::stream_batch(batch), true).await?;
    let through = marker
        .as_ref()
        .and_then(|m| m.get("last"))
        .and_then(Value::as_str)
        .unwrap_or(batch)
        .to_owned();
    Ok(Applied {
        counted: 0,
        redelivered_through: Some(through),
    })
}

/// Applies the embedded engine's change feed until it is empty (`accounts-local` runs this
/// every second, the tests before they read counts): batches of up to 1,000 records, each
/// trimmed once applied. Returns the events counted.
#[cfg(feature = "local")]
pub async fn apply_feed(
    app: &App,
    feed: &crate::store::embedded::ChangeFeed,
) -> Result<u64, Error> {
    let mut counted = 0;
    loop {
        let records = feed.read(None, 1000)?;
        let Some(last) = records.last().map(|r| r.id.clone()) else {
            return Ok(counted);
        };
        let applied = apply(app, &records).await?;
        counted += applied.counted;
        // A batch applied before (the process stopped before trimming) may have ended
        // earlier than this read: trim to where it ended, and read on from there.
        feed.trim(applied.redelivered_through.as_deref().unwrap_or(&last))?;
    }
}

/// The event counts of one UTC day by type, summed over its slots (one batch read).
pub async fn read_day(app: &App, day: NaiveDate) -> Result<BTreeMap<String, u64>, Error> {
    let day = day.to_string();
    let slots: Vec<_> = (0..keys::DAY_COUNT_SLOTS)
        .map(|slot| keys::day_count(&day, slot))
        .collect();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for item in app.table.batch_get(&slots).await?.into_iter().flatten() {
        for (name, value) in &item {
            if name == "day" || name == keys::attr::PK || name == keys::attr::SK {
                continue;
            }
            if let Some(n) = value.as_i64().filter(|n| *n > 0) {
                *counts.entry(name.clone()).or_default() += n as u64;
            }
        }
    }
    Ok(counts)
}
