//! The scheduled tasks (the seed's Celery beat table), run by the `tasks` function on their
//! EventBridge schedules and by `accounts-admin run-task`. Every task goes through
//! [`runner::execute`]: one run at a time, a walk in pages with a checkpoint after each page, a
//! stop before the time budget ends, and a run record. See `docs/tasks.md`.

pub mod alerts;
pub mod badges_sweep;
pub mod counters;
pub mod engagement;
pub mod event_cleanup;
pub mod large_counts;
pub mod migrate_keys;
pub mod report;
pub mod runner;
pub mod security;
pub mod seed;
pub mod session_analytics;
pub mod session_cleanup;

use chrono::{DateTime, NaiveDate, Utc};

use crate::App;
use crate::activity::events::event_id_bound;
use crate::error::Error;
use crate::store::{SortCondition, Value, keys};
pub use runner::{Budget, RunRecord, RunStatus};

/// Every task this build runs, by the name its schedule passes.
pub const TASKS: &[&str] = &[
    counters::NAME,
    engagement::NAME,
    event_cleanup::NAME,
    security::NAME,
    session_analytics::NAME,
    alerts::NAME,
    session_cleanup::NAME,
    report::NAME,
    badges_sweep::NAME,
    crate::notifications::digest::NAME,
    large_counts::NAME,
];

/// Tasks an operator runs once (`accounts-admin run-task`), on no schedule: data migrations.
pub const ONE_OFF_TASKS: &[&str] = &[migrate_keys::NAME];

/// Runs the task `name` within `budget`. An unknown name is a field error on `task`.
pub async fn run(app: &App, name: &str, budget: &Budget) -> Result<RunRecord, Error> {
    match name {
        counters::NAME => runner::execute(app, &counters::UpdateUserCounters, budget).await,
        engagement::NAME => runner::execute(app, &engagement::UpdateEngagement, budget).await,
        event_cleanup::NAME => runner::execute(app, &event_cleanup::CleanupOldEvents, budget).await,
        security::NAME => runner::execute(app, &security::AnalyzeSecurity, budget).await,
        session_analytics::NAME => {
            runner::execute(app, &session_analytics::SessionAnalytics, budget).await
        }
        alerts::NAME => runner::execute(app, &alerts::EventAlerts::default(), budget).await,
        session_cleanup::NAME => {
            runner::execute(app, &session_cleanup::CleanupExpiredSessions, budget).await
        }
        report::NAME => runner::execute(app, &report::AnalyticsReport, budget).await,
        badges_sweep::NAME => {
            runner::execute(app, &badges_sweep::EvaluateUserBadges::default(), budget).await
        }
        large_counts::NAME => runner::execute(app, &large_counts::FoldFollowerCounts, budget).await,
        migrate_keys::NAME => runner::execute(app, &migrate_keys::MigrateKeys, budget).await,
        crate::notifications::digest::NAME => {
            runner::execute(app, &crate::notifications::digest::SendDigests, budget).await
        }
        other => Err(Error::field(
            "task",
            format!(
                "Unknown task `{other}`; known tasks: [{}].",
                TASKS
                    .iter()
                    .chain(ONE_OFF_TASKS)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// The first and the last instant of a UTC day, as `[start, end)`.
pub fn day_bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    (start, start + chrono::Duration::days(1))
}

/// The sort-key range of event ids created in `[from, to)` (ULIDs sort by time).
pub fn event_id_range(from: DateTime<Utc>, to: DateTime<Utc>) -> SortCondition {
    let last = to - chrono::Duration::milliseconds(1);
    SortCondition::Between(event_id_bound(from, false), event_id_bound(last, true))
}

/// The same range on event sort keys in a user's partition (`EVENT#<ulid>`).
pub fn event_sk_range(from: DateTime<Utc>, to: DateTime<Utc>) -> SortCondition {
    let last = to - chrono::Duration::milliseconds(1);
    SortCondition::Between(
        format!("{}{}", keys::EVENT_PREFIX, event_id_bound(from, false)),
        format!("{}{}", keys::EVENT_PREFIX, event_id_bound(last, true)),
    )
}

/// The user id of a profile, stats or event item (`id` or `user_id`).
pub fn item_user(item: &crate::store::Item) -> Option<crate::model::UserId> {
    item.get("id")
        .or_else(|| item.get("user_id"))
        .and_then(Value::as_i64)
        .map(crate::model::UserId)
}
