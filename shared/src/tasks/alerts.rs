//! `process_user_event_alerts` (every 5 minutes): each high or critical event not yet alerted
//! becomes one `SecurityAlert` on the bus and one mail to every administrator (admin and owner
//! roles, verified), exactly once.
//!
//! Finding them: one GSI1 query per event type over the events since the last run's start
//! less [`OVERLAP_SECS`] (the watermark in `keys::task_state`; a day back on the first run),
//! filtered on severity and on having no `alert_state`.
//!
//! Exactly once: the event item carries the alert's state.
//! 1. claim: `alert_state = claimed` (with the claim time and run), on the condition that the
//!    event has no `alert_state`. Only one run can claim an event, so two runs (or a retry)
//!    never both send it.
//! 2. send: the bus event, then the mails.
//! 3. done: `alert_state = sent`.
//!
//! A run that crashes after sending (or between claiming and marking) leaves `claimed`: the
//! event is never sent again. Once the claim is older than the lease of a run (so its claimant
//! cannot still be working), the next run marks it `uncertain` and logs an error naming it: a
//! crash in the instant between the claim and the send may have lost that alert, and an
//! operator can look it up. A send that fails with an error (the bus or the mailer refusing)
//! releases the claim, so the next run tries again.

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::OnceCell;

use super::event_id_range;
use super::runner::{LEASE_SECS, Run, Source, Task};
use crate::accounts::UserRecord;
use crate::activity::events::EventRecord;
use crate::bus::DomainEvent;
use crate::error::Error;
use crate::mail::Email;
use crate::model::UserId;
use crate::store::{
    Condition, Cursor, Index, Item, Key, Query, StoreError, Update, Value, from_item, keys,
};

pub const NAME: &str = "process_user_event_alerts";

/// Events from this long before the previous run's start are looked at again (late index
/// updates, clock skew between writers); the claim keeps them from going out twice.
pub const OVERLAP_SECS: i64 = 15 * 60;
/// How far back the first run ever looks.
pub const FIRST_RUN_LOOKBACK_SECS: i64 = 24 * 3600;

pub const CLAIMED: &str = "claimed";
pub const SENT: &str = "sent";
pub const UNCERTAIN: &str = "uncertain";

/// The task; remembers the administrators' addresses for the run once asked.
#[derive(Default)]
pub struct EventAlerts {
    admins: OnceCell<Vec<String>>,
}

/// Where the previous finished run started (epoch seconds), if any.
async fn watermark(run: &Run<'_>) -> Result<Option<i64>, Error> {
    let item = run.app.table.get(&keys::task_state(NAME), true).await?;
    Ok(item.and_then(|i| i.get("since").and_then(Value::as_i64)))
}

/// The verified administrators' addresses: a walk of the username index's shards and a batch
/// read of each page's profiles (only made when there is something to send).
async fn admin_addresses(run: &Run<'_>) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for pk in keys::username_partitions() {
        let mut cursor: Option<Cursor> = None;
        loop {
            let query = Query::new(Index::Gsi1, pk.clone())
                .limit(100)
                .after(cursor.take());
            let page = run.app.table.query(query).await?;
            let profiles: Vec<Key> = page
                .items
                .iter()
                .filter_map(|i| i.get("user_id").and_then(Value::as_i64))
                .map(|id| keys::user(UserId(id)))
                .collect();
            if !profiles.is_empty() {
                let found = run.app.table.batch_get(&profiles).await?;
                run.counts.read((page.items.len() + profiles.len()) as u64);
                out.extend(
                    found
                        .iter()
                        .flatten()
                        .filter_map(|i| from_item::<UserRecord>(i).ok())
                        .filter(|u| u.role.is_admin() && u.is_verified)
                        .filter(|u| !u.is_suspended && !u.deleting)
                        .map(|u| u.email),
                );
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(out)
}

fn alert_mail(to: &str, event: &EventRecord) -> Email {
    let user = event
        .user_id
        .map(|u| u.to_string())
        .unwrap_or_else(|| "no known account".into());
    let subject = format!(
        "Security alert: {} ({})",
        event.event_type.as_str(),
        event.severity.as_str()
    );
    let text = format!(
        "A {} event needs attention.\n\nEvent: {}\nUser: {}\nSeverity: {}\nRisk score: {}\n\
         Time: {}\nAddress: {}\nDescription: {}\n",
        event.event_type.as_str(),
        event.event_id,
        user,
        event.severity.as_str(),
        event.risk_score,
        event.created_at.to_rfc3339(),
        event.ip_address.as_deref().unwrap_or("unknown"),
        event.description,
    );
    let html = format!("<pre>{}</pre>", html_escape(&text));
    Email {
        to: to.to_owned(),
        subject,
        text,
        html,
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

async fn set_state(
    run: &Run<'_>,
    key: &Key,
    update: Update,
    condition: Condition,
) -> Result<bool, Error> {
    match run.app.table.update(key, update, Some(condition)).await {
        Ok(_) => {
            run.counts.written(1);
            Ok(true)
        }
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

impl EventAlerts {
    async fn alert(&self, run: &Run<'_>, item: Item) -> Result<(), Error> {
        let (Some(key), Ok(event)) = (Key::of(&item), EventRecord::from_item(&item)) else {
            return Ok(());
        };
        let now = run.app.clock.epoch_seconds();
        if item.get("alert_state").and_then(Value::as_str) == Some(CLAIMED) {
            // Claimed by a run that cannot still be running: it may have sent, so never resend.
            let claimed = item
                .get("alert_claimed_epoch")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if claimed + LEASE_SECS <= now
                && set_state(
                    run,
                    &key,
                    Update::new().set("alert_state", UNCERTAIN),
                    Condition::eq("alert_state", CLAIMED),
                )
                .await?
            {
                run.counts.note("alerts_uncertain", 1);
                tracing::error!(
                    event_id = %event.event_id,
                    "security alert claimed by a run that stopped; it may not have been sent"
                );
            }
            return Ok(());
        }

        let claim = Update::new()
            .set("alert_state", CLAIMED)
            .set("alert_claimed_epoch", now)
            .set("alert_run", run.run_id.as_str());
        let unclaimed = Condition::item_present().and(Condition::NotExists("alert_state".into()));
        if !set_state(run, &key, claim, unclaimed).await? {
            return Ok(());
        }
        match self.send(run, &event).await {
            Ok(mails) => {
                let done = Update::new()
                    .set("alert_state", SENT)
                    .set("alerted_at", Value::from(run.app.clock.now()))
                    .set("alert_mails", mails as i64);
                set_state(
                    run,
                    &key,
                    done,
                    Condition::eq("alert_run", run.run_id.as_str()),
                )
                .await?;
                run.counts.note("alerts_sent", 1);
                run.counts.note("mails_sent", mails);
                Ok(())
            }
            Err(e) => {
                // Nothing (or not everything) went out and the run is alive to say so: release
                // the claim so that the next run tries again.
                let release = Update::new()
                    .remove("alert_state")
                    .remove("alert_claimed_epoch")
                    .remove("alert_run");
                set_state(
                    run,
                    &key,
                    release,
                    Condition::eq("alert_run", run.run_id.as_str()),
                )
                .await?;
                Err(e)
            }
        }
    }

    /// Publishes the alert and mails the administrators; returns how many mails went out.
    async fn send(&self, run: &Run<'_>, event: &EventRecord) -> Result<u64, Error> {
        let detail = json!({
            "event_id": event.event_id,
            "user_id": event.user_id,
            "event_type": event.event_type,
            "severity": event.severity,
            "risk_score": event.risk_score,
            "ip_address": event.ip_address,
            "description": event.description,
            "created_at": event.created_at,
        });
        run.app
            .bus
            .publish(&[DomainEvent::new(
                "SecurityAlert",
                detail,
                run.app.clock.now(),
            )])
            .await
            .map_err(|e| Error::Unavailable {
                reason: e.to_string(),
                retry_after_secs: 60,
            })?;
        let admins = self.admins.get_or_try_init(|| admin_addresses(run)).await?;
        let mut sent = 0;
        for to in admins {
            run.app
                .mailer
                .send(&alert_mail(to, event))
                .await
                .map_err(|e| Error::Unavailable {
                    reason: e.to_string(),
                    retry_after_secs: 60,
                })?;
            sent += 1;
        }
        Ok(sent)
    }
}

#[async_trait]
impl Task for EventAlerts {
    type State = ();

    fn name(&self) -> &'static str {
        NAME
    }

    async fn sources(&self, run: &Run<'_>) -> Result<Vec<Source>, Error> {
        let from = chrono::DateTime::from_timestamp(window_start(run).await?, 0)
            .unwrap_or(run.as_of - chrono::Duration::seconds(FIRST_RUN_LOOKBACK_SECS));
        // Up to and including the run's own millisecond.
        Ok(sources(from, run.as_of + chrono::Duration::milliseconds(1)))
    }

    async fn page(&self, run: &Run<'_>, _phase: usize, items: Vec<Item>) -> Result<(), Error> {
        // One at a time: alerts are few, and the mails go out in event order.
        for item in items {
            self.alert(run, item).await?;
        }
        Ok(())
    }

    async fn finish(&self, run: &Run<'_>, _state: ()) -> Result<(), Error> {
        let mut item = keys::task_state(NAME).to_item();
        item.insert(
            "since".into(),
            Value::Int(run.as_of.timestamp() - OVERLAP_SECS),
        );
        run.app.table.put(item, None).await?;
        run.counts.written(1);
        Ok(())
    }
}

/// The high and critical events over `[from, to)` not yet sent, and claims that may have been
/// abandoned: a query of the review queue and of each shard of the severe-event index (GSI2;
/// every high or critical event is on exactly one of them), not of every event.
fn sources(from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>) -> Vec<Source> {
    let severe = Condition::Or(vec![
        Condition::eq("severity", "high"),
        Condition::eq("severity", "critical"),
    ]);
    let pending = Condition::Or(vec![
        Condition::NotExists("alert_state".into()),
        Condition::eq("alert_state", CLAIMED),
    ]);
    let (review, _) = keys::event_review_index("");
    std::iter::once(review)
        .chain(keys::severe_event_partitions())
        .map(|pk| {
            Source::Query(
                Query::new(Index::Gsi2, pk)
                    .sort(event_id_range(from, to))
                    .filter(severe.clone().and(pending.clone())),
            )
        })
        .collect()
}

/// The window start for a run at `as_of`: the previous run's watermark, or a day back.
async fn window_start(run: &Run<'_>) -> Result<i64, Error> {
    Ok(watermark(run)
        .await?
        .unwrap_or(run.as_of.timestamp() - FIRST_RUN_LOOKBACK_SECS))
}
