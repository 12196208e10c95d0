//! `generate_user_analytics_report` (daily 05:00): the report of the previous UTC day, one
//! item per day (`keys::daily_report`), rewritten whole by every run for that day.
//!
//! - phase 0, a scan of the profiles: `users_total`, `verified_total`, `new_users` (created
//!   that day) and `active_users` (with at least one event that day: a one-item range query
//!   on the user's partition);
//! - then the day's event counts by type, kept from the table's stream
//!   (`activity::day_counts`, one batch read of the day's 16 slots): `events_by_type`, from
//!   which `logins` (`login`), `follows` (`follow`), `verified_users` (`verify`) and
//!   `badges_awarded` (`badge_earned`) are taken. Reading a day of events instead would be
//!   billions of items at the reference load (`docs/scale.md`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::counters::profiles;
use super::runner::{Run, Source, Task, for_each};
use super::{day_bounds, event_sk_range, item_user};
use crate::activity::day_counts;
use crate::activity::events::EventType;
use crate::error::Error;
use crate::store::{Cursor, Index, Item, Query, Value, keys};

pub const NAME: &str = "generate_user_analytics_report";

pub struct AnalyticsReport;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub users_total: u64,
    pub verified_total: u64,
    pub new_users: u64,
    pub active_users: u64,
    pub events_by_type: BTreeMap<String, u64>,
}

/// The day a run at `as_of` reports on: the day before.
pub fn report_day(run: &Run<'_>) -> NaiveDate {
    run.as_of.date_naive() - chrono::Duration::days(1)
}

async fn profile_counts(run: &Run<'_>, item: Item) -> Result<Counts, Error> {
    let mut counts = Counts::default();
    let Some(user) = item_user(&item) else {
        return Ok(counts);
    };
    let (start, end) = day_bounds(report_day(run));
    counts.users_total = 1;
    counts.verified_total =
        u64::from(item.get("is_verified").and_then(Value::as_bool) == Some(true));
    let created = item
        .get("created_at")
        .and_then(Value::as_str)
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&chrono::Utc));
    counts.new_users = u64::from(created.is_some_and(|c| c >= start && c < end));
    let query = Query::new(Index::Primary, keys::user_partition(user))
        .sort(event_sk_range(start, end))
        .limit(1);
    let page = run.app.table.query(query).await?;
    run.counts.read(page.items.len() as u64);
    counts.active_users = u64::from(!page.items.is_empty());
    Ok(counts)
}

fn add(into: &mut Counts, delta: Counts) {
    into.users_total += delta.users_total;
    into.verified_total += delta.verified_total;
    into.new_users += delta.new_users;
    into.active_users += delta.active_users;
    for (t, n) in delta.events_by_type {
        *into.events_by_type.entry(t).or_default() += n;
    }
}

#[async_trait]
impl Task for AnalyticsReport {
    type State = Counts;

    fn name(&self) -> &'static str {
        NAME
    }

    async fn sources(&self, _run: &Run<'_>) -> Result<Vec<Source>, Error> {
        Ok(vec![Source::Scan {
            filter: Some(profiles()),
        }])
    }

    async fn page(&self, run: &Run<'_>, _phase: usize, items: Vec<Item>) -> Result<Counts, Error> {
        let mut counts = Counts::default();
        for delta in for_each(items, |item| profile_counts(run, item)).await? {
            add(&mut counts, delta);
        }
        Ok(counts)
    }

    fn merge(state: &mut Counts, delta: Counts) {
        add(state, delta);
    }

    async fn finish(&self, run: &Run<'_>, mut counts: Counts) -> Result<(), Error> {
        counts.events_by_type = day_counts::read_day(run.app, report_day(run)).await?;
        run.counts.read(u64::from(keys::DAY_COUNT_SLOTS));
        let day = report_day(run).to_string();
        let by_type = |t: EventType| counts.events_by_type.get(t.as_str()).copied().unwrap_or(0);
        let report = json!({
            "date": day,
            "new_users": counts.new_users,
            "verified_users": by_type(EventType::Verify),
            "active_users": counts.active_users,
            "logins": by_type(EventType::Login),
            "follows": by_type(EventType::Follow),
            "badges_awarded": by_type(EventType::BadgeEarned),
            "users_total": counts.users_total,
            "verified_total": counts.verified_total,
            "events_by_type": counts.events_by_type,
            "events_total": counts.events_by_type.values().sum::<u64>(),
            "generated_at": run.as_of,
            "run_id": run.run_id,
        });
        let mut item: Item = match Value::from(report) {
            Value::M(map) => map,
            _ => Item::new(),
        };
        let key = keys::daily_report(&day);
        keys::set_key(&mut item, key);
        let (pk, sk) = keys::daily_report_index(&day);
        keys::set_index_keys(&mut item, Index::Gsi1, pk, sk);
        item.insert("updated_at".into(), Value::from(run.as_of));
        run.app.table.put(item, None).await?;
        run.counts.written(1);
        Ok(())
    }
}

/// The attributes of a report item that are not the report.
const KEY_ATTRIBUTES: [&str; 5] = ["PK", "SK", "GSI1PK", "GSI1SK", "updated_at"];

fn report_view(item: &Item) -> serde_json::Value {
    let mut view = serde_json::Map::new();
    for (name, value) in item {
        if !KEY_ATTRIBUTES.contains(&name.as_str()) {
            view.insert(name.clone(), serde_json::Value::from(value));
        }
    }
    serde_json::Value::Object(view)
}

/// The report of one day, if generated.
pub async fn get_report(
    app: &crate::App,
    _by: crate::access::Admin,
    day: NaiveDate,
) -> Result<Option<serde_json::Value>, Error> {
    let item = app
        .table
        .get(&keys::daily_report(&day.to_string()), false)
        .await?;
    Ok(item.as_ref().map(report_view))
}

/// The reports, newest day first.
pub async fn list_reports(
    app: &crate::App,
    _by: crate::access::Admin,
    page_size: u32,
    cursor: Option<Cursor>,
) -> Result<(Vec<serde_json::Value>, Option<Cursor>), Error> {
    let (pk, _) = keys::daily_report_index("");
    let query = Query::new(Index::Gsi1, pk)
        .descending()
        .limit(page_size)
        .after(cursor);
    let page = app.table.query(query).await?;
    Ok((page.items.iter().map(report_view).collect(), page.next))
}
