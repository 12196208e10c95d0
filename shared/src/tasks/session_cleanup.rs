//! `cleanup_expired_sessions` (daily 04:00): removes the session items that can never be used
//! again, and spent emailed codes.
//!
//! - sessions ended (logout, revocation, idle end by `update_user_session_analytics`), idle
//!   past their timeout, or marked deleted: deleted now instead of at their absolute expiry;
//! - emailed codes used up (`used`) or out of attempts: deleted;
//! - anything whose `expires_at` has passed (sessions at their absolute expiry, revoked
//!   refresh tokens at the token's expiry, codes past their lifetime) is already invisible to
//!   every read on both engines, so no request can use it; the engines remove it (the embedded
//!   engine's purge, DynamoDB's TTL). The port hides such items from scans too, so this task
//!   does not (and need not) see them.

use async_trait::async_trait;

use super::runner::{Run, Source, Task};
use crate::auth::sessions::SessionRecord;
use crate::error::Error;
use crate::store::{Condition, Item, Key, TxOp, Value, from_item, keys};

pub const NAME: &str = "cleanup_expired_sessions";

const DELETE_BATCH: usize = 25;

pub struct CleanupExpiredSessions;

fn dead(run: &Run<'_>, item: &Item) -> Option<(Key, &'static str)> {
    let key = Key::of(item)?;
    let now = run.as_of.timestamp();
    if key.sk == "SESSION" {
        let session: SessionRecord = from_item(item).ok()?;
        return (!session.is_live(now)).then_some((key, "sessions_deleted"));
    }
    if key.sk.starts_with("CODE#") {
        let used = item.get("used").and_then(Value::as_bool) == Some(true);
        let attempts = item.get("attempts").and_then(Value::as_i64).unwrap_or(0);
        return (used || attempts >= crate::auth::codes::MAX_ATTEMPTS)
            .then_some((key, "codes_deleted"));
    }
    None
}

#[async_trait]
impl Task for CleanupExpiredSessions {
    type State = ();

    fn name(&self) -> &'static str {
        NAME
    }

    async fn sources(&self, _run: &Run<'_>) -> Result<Vec<Source>, Error> {
        Ok(vec![Source::Scan {
            filter: Some(Condition::Or(vec![
                Condition::eq(keys::attr::SK, "SESSION"),
                Condition::BeginsWith(keys::attr::SK.into(), "CODE#".into()),
            ])),
        }])
    }

    async fn page(&self, run: &Run<'_>, _phase: usize, items: Vec<Item>) -> Result<(), Error> {
        let dead: Vec<(Key, &'static str)> = items.iter().filter_map(|i| dead(run, i)).collect();
        for chunk in dead.chunks(DELETE_BATCH) {
            let ops = chunk
                .iter()
                .map(|(key, _)| TxOp::Delete {
                    key: key.clone(),
                    condition: None,
                })
                .collect();
            run.app.table.transact_write(ops).await?;
            run.counts.written(chunk.len() as u64);
            for (_, what) in chunk {
                run.counts.note(what, 1);
            }
        }
        Ok(())
    }
}
