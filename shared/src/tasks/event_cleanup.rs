//! `cleanup_old_user_events` (daily 03:15): deletes every event older than the retention its
//! severity has NOW (`EVENT_RETENTION_*_DAYS`), and moves the TTL of the others to match it.
//! An event's TTL is fixed when it is written, so after the retention is lowered the TTL alone
//! would keep old events too long (and after it is raised, delete them too early); TTL removal
//! is also late by up to two days on DynamoDB. Deletions go 25 to a transaction; deleting an
//! item that is gone already is not an error, so a repeated page changes nothing.

use async_trait::async_trait;

use super::runner::{Run, Source, Task, for_each};
use crate::activity::events::Severity;
use crate::error::Error;
use crate::store::{Condition, Item, Key, StoreError, TxOp, Update, Value, keys};

pub const NAME: &str = "cleanup_old_user_events";

const DELETE_BATCH: usize = 25;

pub struct CleanupOldEvents;

/// The epoch second an event's retention ends under the current configuration.
fn retention_end(run: &Run<'_>, item: &Item) -> Option<i64> {
    let severity = item
        .get("severity")
        .and_then(Value::as_str)
        .and_then(Severity::parse)?;
    let event_id = item.get("event_id").and_then(Value::as_str)?;
    let created_ms = ulid::Ulid::from_string(event_id).ok()?.timestamp_ms();
    let days = run.app.config.events.retention_days[severity as usize];
    Some(i64::try_from(created_ms / 1000).ok()? + days * 24 * 3600)
}

async fn retime(run: &Run<'_>, key: Key, end: i64) -> Result<(), Error> {
    let update = Update::new().set(keys::attr::EXPIRES_AT, end);
    match run
        .app
        .table
        .update(&key, update, Some(Condition::item_present()))
        .await
    {
        Ok(_) => {
            run.counts.written(1);
            run.counts.note("ttl_adjusted", 1);
            Ok(())
        }
        Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[async_trait]
impl Task for CleanupOldEvents {
    type State = ();

    fn name(&self) -> &'static str {
        NAME
    }

    async fn sources(&self, _run: &Run<'_>) -> Result<Vec<Source>, Error> {
        Ok(vec![Source::Scan {
            filter: Some(Condition::BeginsWith(
                keys::attr::SK.into(),
                keys::EVENT_PREFIX.into(),
            )),
        }])
    }

    async fn page(&self, run: &Run<'_>, _phase: usize, items: Vec<Item>) -> Result<(), Error> {
        let now = run.as_of.timestamp();
        let mut expired = Vec::new();
        let mut retimed = Vec::new();
        for item in &items {
            let (Some(key), Some(end)) = (Key::of(item), retention_end(run, item)) else {
                continue;
            };
            if end <= now {
                expired.push(key);
            } else if item.get(keys::attr::EXPIRES_AT).and_then(Value::as_i64) != Some(end) {
                retimed.push((key, end));
            }
        }
        for chunk in expired.chunks(DELETE_BATCH) {
            let ops = chunk
                .iter()
                .map(|key| TxOp::Delete {
                    key: key.clone(),
                    condition: None,
                })
                .collect();
            run.app.table.transact_write(ops).await?;
            run.counts.written(chunk.len() as u64);
            run.counts.note("deleted", chunk.len() as u64);
        }
        for_each(retimed, |(key, end)| retime(run, key, end)).await?;
        Ok(())
    }
}
