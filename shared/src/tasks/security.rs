//! `analyze_user_security_events` (daily 00:15): looks at the last day's authentication events
//! (index queries on GSI1 by type and time, page by page) for four patterns:
//!
//! 1. many failed logins from one IP across accounts: [`IP_ACCOUNTS`] or more distinct
//!    accounts (events about no known account count as one) failing from one address;
//! 2. failed logins followed by success: a login preceded by [`FAILURES_BEFORE_SUCCESS`] or
//!    more failed logins of the same account within [`FAILURE_WINDOW_SECS`];
//! 3. token reuse: every `token_reuse_detected`;
//! 4. new country within hours: a `new_device_login` from a new country while a session of
//!    the same account from another country started within [`COUNTRY_WINDOW_SECS`].
//!
//! Each finding sets `requires_review` on the events concerned (putting them on the review
//! queue, GSI2) and records one high-severity `suspicious_activity` event, which
//! `process_user_event_alerts` then sends to the administrators, and logs it as a warning. The
//! event is written in one transaction with a marker item named after the finding, so running
//! the task again (or resuming it) records nothing twice.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::runner::{Run, Source, Task, for_each};
use super::{event_id_range, event_sk_range};
use crate::activity::events::{EventRecord, EventType, NewEvent, Severity, prepare_event};
use crate::auth::sessions::SessionRecord;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{
    Condition, Index, Item, Key, Query, SortCondition, StoreError, Transaction, TxOp, Update,
    Value, from_item, keys,
};

pub const NAME: &str = "analyze_user_security_events";

/// The events of this many hours before the run are analysed (a day and an overlap).
pub const WINDOW_HOURS: i64 = 25;
pub const IP_ACCOUNTS: usize = 5;
pub const FAILURES_BEFORE_SUCCESS: usize = 3;
pub const FAILURE_WINDOW_SECS: i64 = 3600;
pub const COUNTRY_WINDOW_SECS: i64 = 6 * 3600;
/// Addresses whose failures are tracked in the checkpoint (it is one store item, at most
/// 400 KB: each address takes well under 100 bytes, as at most [`IP_ACCOUNTS`] accounts are
/// kept per address). Addresses beyond it are counted in `details.ips_untracked`.
const MAX_TRACKED_IPS: usize = 4_000;
/// Failures of one address flagged for review at most.
const MAX_FLAGGED_PER_IP: usize = 1_000;
/// Markers are kept longer than any window that could see the same finding again.
const MARKER_TTL_SECS: i64 = 30 * 24 * 3600;

const PHASES: [EventType; 4] = [
    EventType::LoginFailed,
    EventType::Login,
    EventType::TokenReuseDetected,
    EventType::NewDeviceLogin,
];

/// The sources of a run in phase order: every shard of each type of [`PHASES`], so phase `i`
/// reads the type `phase_types()[i]`.
fn phase_types() -> Vec<(EventType, String)> {
    PHASES
        .iter()
        .flat_map(|t| {
            keys::event_type_partitions(t.as_str())
                .into_iter()
                .map(move |pk| (*t, pk))
        })
        .collect()
}

pub struct AnalyzeSecurity;

/// The accounts that failed to log in from each address (up to [`IP_ACCOUNTS`] each: enough to
/// decide). The failures themselves are queried again for the addresses found.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub ips: BTreeMap<String, BTreeSet<String>>,
    /// Failed logins from addresses beyond the first `MAX_TRACKED_IPS` (4,000).
    #[serde(default)]
    pub untracked: u64,
}

/// Puts an event on the review queue for `pattern` (once; a reviewed event stays reviewed).
async fn flag(run: &Run<'_>, key: Key, event_id: &str, pattern: &str) -> Result<(), Error> {
    let (pk, sk) = keys::event_review_index(event_id);
    let update = Update::new()
        .set("requires_review", true)
        .set("flagged_pattern", pattern)
        .set(keys::attr::GSI2PK, pk)
        .set(keys::attr::GSI2SK, sk);
    let condition = Condition::item_present()
        .and(Condition::NotExists("flagged_pattern".into()))
        .and(Condition::NotExists("reviewed_at".into()));
    match run.app.table.update(&key, update, Some(condition)).await {
        Ok(_) => {
            run.counts.written(1);
            run.counts.note("events_flagged", 1);
            Ok(())
        }
        Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Records the finding `subject` once: a `suspicious_activity` event (high) and its marker.
async fn raise(
    run: &Run<'_>,
    subject: &str,
    user: Option<UserId>,
    description: &str,
    metadata: serde_json::Value,
) -> Result<(), Error> {
    let event = NewEvent::new(EventType::SuspiciousActivity, user)
        .severity(Severity::High)
        .description(description)
        .metadata(metadata.clone());
    let record = prepare_event(run.app, event).await?;
    let mut marker = keys::task_marker(NAME, subject).to_item();
    marker.insert("event_id".into(), Value::S(record.event_id.clone()));
    marker.insert(
        keys::attr::EXPIRES_AT.into(),
        Value::Int(run.as_of.timestamp() + MARKER_TTL_SECS),
    );
    let tx = Transaction::new()
        .with(
            FindingOp::Marker,
            TxOp::Put {
                item: marker,
                condition: Some(Condition::item_absent()),
            },
        )
        .with(
            FindingOp::Event,
            TxOp::Put {
                item: record.to_item()?,
                condition: Some(Condition::item_absent()),
            },
        );
    match tx.commit(run.app.table.as_ref()).await {
        Ok(()) => {
            run.counts.written(2);
            run.counts.note("findings", 1);
            tracing::warn!(
                pattern = subject.split('#').next().unwrap_or(subject),
                user = user.map(|u| u.0),
                event_id = %record.event_id,
                severity = "high",
                metadata = %metadata,
                "security pattern found: {description}"
            );
            Ok(())
        }
        // Found before: the marker is there.
        Err(e) if e.condition_failed(FindingOp::Marker) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The operations of recording a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FindingOp {
    /// The finding's marker, put if absent: a finding already recorded fails here.
    Marker,
    /// The security event.
    Event,
}

fn record(item: &Item) -> Option<(Key, EventRecord)> {
    Some((Key::of(item)?, EventRecord::from_item(item).ok()?))
}

/// Pattern 2 for one successful login.
async fn failures_then_success(run: &Run<'_>, item: Item) -> Result<(), Error> {
    let Some((key, login)) = record(&item) else {
        return Ok(());
    };
    let Some(user) = login.user_id.filter(|_| login.success) else {
        return Ok(());
    };
    let from = login.created_at - chrono::Duration::seconds(FAILURE_WINDOW_SECS);
    let query = Query::new(Index::Primary, keys::user_partition(user))
        .sort(event_sk_range(from, login.created_at))
        .filter(Condition::eq("event_type", EventType::LoginFailed.as_str()))
        .limit(200);
    let page = run.app.table.query(query).await?;
    run.counts.read(page.items.len() as u64);
    if page.items.len() < FAILURES_BEFORE_SUCCESS {
        return Ok(());
    }
    flag(run, key, &login.event_id, "failures_then_success").await?;
    for failure in page.items.iter().filter_map(record) {
        flag(run, failure.0, &failure.1.event_id, "failures_then_success").await?;
    }
    raise(
        run,
        &format!("failures_then_success#{}", login.event_id),
        Some(user),
        "Login succeeded after repeated failed logins",
        json!({
            "pattern": "failures_then_success",
            "login_event": login.event_id,
            "failures": page.items.len(),
            "ip_address": login.ip_address,
        }),
    )
    .await
}

/// Pattern 3 for one reuse event.
async fn token_reuse(run: &Run<'_>, item: Item) -> Result<(), Error> {
    let Some((key, event)) = record(&item) else {
        return Ok(());
    };
    flag(run, key, &event.event_id, "token_reuse").await?;
    raise(
        run,
        &format!("token_reuse#{}", event.event_id),
        event.user_id,
        "A refresh token was reused",
        json!({
            "pattern": "token_reuse",
            "event": event.event_id,
            "ip_address": event.ip_address,
        }),
    )
    .await
}

/// Pattern 4 for one new-device login.
async fn new_country(run: &Run<'_>, item: Item) -> Result<(), Error> {
    let Some((key, event)) = record(&item) else {
        return Ok(());
    };
    let (Some(user), Some(country)) = (
        event.user_id,
        event
            .metadata
            .get("country")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
    ) else {
        return Ok(());
    };
    if event
        .metadata
        .get("new_location")
        .and_then(serde_json::Value::as_bool)
        != Some(true)
    {
        return Ok(());
    }
    let from = event.created_at - chrono::Duration::seconds(COUNTRY_WINDOW_SECS);
    let (pk, _) = keys::session_index(user, "");
    let lower = keys::session_index(user, &crate::activity::events::event_id_bound(from, false)).1;
    let upper = keys::session_index(
        user,
        &crate::activity::events::event_id_bound(event.created_at, true),
    )
    .1;
    let query = Query::new(Index::Gsi1, pk)
        .sort(SortCondition::Between(lower, upper))
        .limit(100);
    let page = run.app.table.query(query).await?;
    run.counts.read(page.items.len() as u64);
    let other = page
        .items
        .iter()
        .filter_map(|i| from_item::<SessionRecord>(i).ok())
        .filter(|s| Some(&s.session_id) != event.session_id.as_ref())
        .find_map(|s| s.location_data.country.filter(|c| *c != country));
    let Some(previous) = other else {
        return Ok(());
    };
    flag(run, key, &event.event_id, "new_country").await?;
    raise(
        run,
        &format!("new_country#{}", event.event_id),
        Some(user),
        "Login from a new country within hours of another country",
        json!({
            "pattern": "new_country",
            "event": event.event_id,
            "country": country,
            "previous_country": previous,
            "ip_address": event.ip_address,
        }),
    )
    .await
}

#[async_trait]
impl Task for AnalyzeSecurity {
    type State = State;

    fn name(&self) -> &'static str {
        NAME
    }

    async fn sources(&self, run: &Run<'_>) -> Result<Vec<Source>, Error> {
        let from = run.as_of - chrono::Duration::hours(WINDOW_HOURS);
        let to = run.as_of + chrono::Duration::milliseconds(1);
        Ok(phase_types()
            .into_iter()
            .map(|(_, pk)| {
                Source::Query(Query::new(Index::Gsi1, pk).sort(event_id_range(from, to)))
            })
            .collect())
    }

    async fn page(&self, run: &Run<'_>, phase: usize, items: Vec<Item>) -> Result<State, Error> {
        let mut state = State::default();
        match phase_types().get(phase).map(|(t, _)| t) {
            Some(EventType::LoginFailed) => {
                for (_, event) in items.iter().filter_map(record) {
                    let Some(ip) = event.ip_address.clone() else {
                        continue;
                    };
                    let account = match event.user_id {
                        Some(u) => u.to_string(),
                        None => "unknown".to_owned(),
                    };
                    state.ips.entry(ip).or_default().insert(account);
                }
            }
            Some(EventType::Login) => {
                for_each(items, |item| failures_then_success(run, item)).await?;
            }
            Some(EventType::TokenReuseDetected) => {
                for_each(items, |item| token_reuse(run, item)).await?;
            }
            Some(EventType::NewDeviceLogin) => {
                for_each(items, |item| new_country(run, item)).await?;
            }
            _ => {}
        }
        Ok(state)
    }

    fn merge(state: &mut State, delta: State) {
        for (ip, accounts) in delta.ips {
            if !state.ips.contains_key(&ip) && state.ips.len() >= MAX_TRACKED_IPS {
                state.untracked += 1;
                continue;
            }
            let into = state.ips.entry(ip).or_default();
            for account in accounts {
                if into.len() < IP_ACCOUNTS {
                    into.insert(account);
                }
            }
        }
    }

    async fn finish(&self, run: &Run<'_>, state: State) -> Result<(), Error> {
        let day = run.as_of.date_naive();
        if state.untracked > 0 {
            run.counts.note("ips_untracked", state.untracked);
            tracing::warn!(
                untracked = state.untracked,
                "failed logins from more addresses than tracked; some were not analysed"
            );
        }
        for (ip, accounts) in state.ips {
            if accounts.len() < IP_ACCOUNTS {
                continue;
            }
            let failures = failures_from(run, &ip).await?;
            for (key, event) in &failures {
                flag(run, key.clone(), &event.event_id, "ip_many_accounts").await?;
            }
            let distinct: BTreeSet<String> = failures
                .iter()
                .map(|(_, e)| e.user_id.map(|u| u.to_string()).unwrap_or_default())
                .collect();
            raise(
                run,
                &format!("ip_many_accounts#{ip}#{day}"),
                None,
                "Failed logins for many accounts from one address",
                json!({
                    "pattern": "ip_many_accounts",
                    "ip_address": ip,
                    "accounts": distinct.len(),
                    "failures": failures.len(),
                }),
            )
            .await?;
        }
        Ok(())
    }
}

/// The window's failed logins from `ip` (every shard of the type index, filtered on the
/// address), at most [`MAX_FLAGGED_PER_IP`].
async fn failures_from(run: &Run<'_>, ip: &str) -> Result<Vec<(Key, EventRecord)>, Error> {
    let from = run.as_of - chrono::Duration::hours(WINDOW_HOURS);
    let to = run.as_of + chrono::Duration::milliseconds(1);
    let mut found = Vec::new();
    for pk in keys::event_type_partitions(EventType::LoginFailed.as_str()) {
        let mut cursor = None;
        loop {
            let query = Query::new(Index::Gsi1, pk.clone())
                .sort(event_id_range(from, to))
                .filter(Condition::eq("ip_address", ip))
                .limit(run.page_size)
                .after(cursor);
            let page = run.app.table.query(query).await?;
            run.counts.read(page.items.len() as u64);
            found.extend(page.items.iter().filter_map(record));
            if found.len() >= MAX_FLAGGED_PER_IP {
                found.sort_by(|a, b| a.1.event_id.cmp(&b.1.event_id));
                found.truncate(MAX_FLAGGED_PER_IP);
                return Ok(found);
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    found.sort_by(|a, b| a.1.event_id.cmp(&b.1.event_id));
    Ok(found)
}
