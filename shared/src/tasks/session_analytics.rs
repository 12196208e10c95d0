//! `update_user_session_analytics` (every 20 minutes): ends the sessions idle past their
//! timeout, and writes the day's session metrics (`keys::session_metrics`, the UTC day of the
//! run): sessions active during the day, those still live, average time spent, pages per
//! session, and sessions per device type.
//!
//! Ending is conditional on the session still being active with the `last_activity` the scan
//! read, so a request that just refreshed it wins. The session ends at the moment it went idle
//! (last activity + timeout), which is what its owner saw.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::day_bounds;
use super::runner::{Run, Source, Task, for_each};
use crate::auth::sessions::SessionRecord;
use crate::error::Error;
use crate::store::{Condition, Item, StoreError, Update, Value, from_item, keys};

pub const NAME: &str = "update_user_session_analytics";

pub struct SessionAnalytics;

/// The day's running totals.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub sessions: u64,
    pub live: u64,
    pub time_spent_secs: u64,
    pub pages: u64,
    pub devices: BTreeMap<String, u64>,
}

/// Ends an idle session; true when this call ended it.
async fn end_idle(run: &Run<'_>, session: &SessionRecord) -> Result<bool, Error> {
    let went_idle = DateTime::from_timestamp(session.idle_expires_at(), 0).unwrap_or(run.as_of);
    let update = Update::new()
        .set("is_active", false)
        .set("ended_at", Value::from(went_idle.min(run.as_of)))
        .set("end_reason", "idle");
    let condition = Condition::eq("is_active", true).and(Condition::eq(
        "last_activity_epoch",
        session.last_activity_epoch,
    ));
    match run
        .app
        .table
        .update(&keys::session(&session.session_id), update, Some(condition))
        .await
    {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

async fn visit(run: &Run<'_>, item: Item) -> Result<Totals, Error> {
    let mut totals = Totals::default();
    let Ok(mut session) = from_item::<SessionRecord>(&item) else {
        return Ok(totals);
    };
    let now = run.as_of.timestamp();
    if session.is_active && session.ended_at.is_none() && now >= session.idle_expires_at() {
        if end_idle(run, &session).await? {
            run.counts.written(1);
            run.counts.fixed(1);
            run.counts.note("sessions_ended", 1);
        }
        session.is_active = false;
        let went_idle = DateTime::from_timestamp(session.idle_expires_at(), 0).unwrap_or(run.as_of);
        session.ended_at = Some(went_idle.min(run.as_of));
    }
    let (day_start, day_end) = day_bounds(run.as_of.date_naive());
    let until: DateTime<Utc> = match session.ended_at {
        Some(ended) => ended,
        None if session.is_live(now) => run.as_of,
        None => session.last_activity,
    };
    if session.is_deleted || session.started_at >= day_end || until < day_start {
        return Ok(totals);
    }
    totals.sessions = 1;
    totals.live = u64::from(session.is_live(now));
    totals.time_spent_secs = (until - session.started_at).num_seconds().max(0) as u64;
    totals.pages = session.pages_visited.max(0) as u64;
    let device = match session.device_info.device_type.as_str() {
        "" => "other".to_owned(),
        d => d.to_lowercase(),
    };
    totals.devices.insert(device, 1);
    Ok(totals)
}

fn add(into: &mut Totals, delta: Totals) {
    into.sessions += delta.sessions;
    into.live += delta.live;
    into.time_spent_secs += delta.time_spent_secs;
    into.pages += delta.pages;
    for (device, n) in delta.devices {
        *into.devices.entry(device).or_default() += n;
    }
}

#[async_trait]
impl Task for SessionAnalytics {
    type State = Totals;

    fn name(&self) -> &'static str {
        NAME
    }

    async fn sources(&self, _run: &Run<'_>) -> Result<Vec<Source>, Error> {
        Ok(vec![Source::Scan {
            filter: Some(Condition::eq(keys::attr::SK, "SESSION")),
        }])
    }

    async fn page(&self, run: &Run<'_>, _phase: usize, items: Vec<Item>) -> Result<Totals, Error> {
        let mut totals = Totals::default();
        for delta in for_each(items, |item| visit(run, item)).await? {
            add(&mut totals, delta);
        }
        Ok(totals)
    }

    fn merge(state: &mut Totals, delta: Totals) {
        add(state, delta);
    }

    async fn finish(&self, run: &Run<'_>, totals: Totals) -> Result<(), Error> {
        let day = run.as_of.date_naive().to_string();
        let average = |sum: u64| {
            if totals.sessions == 0 {
                0.0
            } else {
                ((sum as f64 / totals.sessions as f64) * 100.0).round() / 100.0
            }
        };
        let mut item = keys::session_metrics(&day).to_item();
        item.insert("date".into(), Value::S(day));
        item.insert("sessions".into(), Value::Int(totals.sessions as i64));
        item.insert("active_sessions".into(), Value::Int(totals.live as i64));
        item.insert(
            "average_time_spent".into(),
            Value::Float(average(totals.time_spent_secs)),
        );
        item.insert(
            "pages_per_session".into(),
            Value::Float(average(totals.pages)),
        );
        item.insert(
            "devices".into(),
            Value::M(
                totals
                    .devices
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::Int(*v as i64)))
                    .collect(),
            ),
        );
        item.insert("updated_at".into(), Value::from(run.as_of));
        run.app.table.put(item, None).await?;
        run.counts.written(1);
        Ok(())
    }
}
