//! `update_user_counters` (every 30 minutes): recomputes each profile's `follower_count`,
//! `following_count` and `posts_count` and fixes those that drifted.
//!
//! - following: the user's active follow edges (a query on their partition, `FOLLOWS#`);
//! - followers: the active edges to the user (a query on GSI1, `FOLLOWER#`; pending edges are
//!   not on it);
//! - posts: `post_create − post_delete` from the user's `STATS` item, never below 0. The
//!   ingestion counts both in the same transaction as the event, and keeps counting after the
//!   events themselves expire (90 days), so the log alone could not say it.
//!
//! A large account's shards (`social::large`) hold part of its followers: its profile's
//! `follower_count` is compared with the edges less the shards.
//!
//! The fix is a conditional write: it applies only if the three counters still hold what the
//! scan read, so a follow that lands meanwhile is never overwritten (the next run looks again).

use async_trait::async_trait;

use super::runner::{Run, Source, Task, for_each};
use crate::error::Error;
use crate::model::UserId;
use crate::store::{
    Condition, Cursor, Index, Item, Query, SortCondition, StoreError, Update, Value, keys,
};

pub const NAME: &str = "update_user_counters";

pub struct UpdateUserCounters;

/// The profile items (the scan filter).
pub fn profiles() -> Condition {
    Condition::eq(keys::attr::SK, "PROFILE")
}

/// Counts the items of a query, page by page.
pub async fn count(run: &Run<'_>, query: Query) -> Result<i64, Error> {
    let mut total = 0i64;
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = run
            .app
            .table
            .query(query.clone().limit(1000).after(cursor.take()))
            .await?;
        run.counts.read(page.items.len() as u64);
        total += page.items.len() as i64;
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(total),
        }
    }
}

fn counter(item: &Item, name: &str) -> i64 {
    item.get(name).and_then(Value::as_i64).unwrap_or(0)
}

async fn fix_user(run: &Run<'_>, profile: Item, stats: Option<Item>) -> Result<(), Error> {
    let Some(user) = profile.get("id").and_then(Value::as_i64).map(UserId) else {
        return Ok(());
    };
    if profile.get("deleting").and_then(Value::as_bool) == Some(true) {
        return Ok(());
    }
    let partition = keys::user_partition(user);
    let following = Query::new(Index::Primary, partition.clone())
        .sort(SortCondition::BeginsWith(keys::FOLLOWS_PREFIX.into()))
        .filter(Condition::eq("status", "active"));
    let followers = Query::new(Index::Gsi1, partition)
        .sort(SortCondition::BeginsWith(keys::FOLLOWER_PREFIX.into()));
    let following = count(run, following).await?;
    let mut followers = count(run, followers).await?;
    // A large account's profile holds only the follows not counted in its shards.
    if profile.get("large_account").and_then(Value::as_bool) == Some(true) {
        followers -= crate::social::large::shard_total(run.app, user).await?;
    }
    let posts = stats
        .as_ref()
        .map(|s| (counter(s, "post_create") - counter(s, "post_delete")).max(0))
        .unwrap_or(0);

    let stored = [
        ("follower_count", followers),
        ("following_count", following),
        ("posts_count", posts),
    ];
    if stored
        .iter()
        .all(|(name, value)| counter(&profile, name) == *value)
    {
        return Ok(());
    }
    let mut update = Update::new();
    let mut unchanged = Condition::item_present();
    for (name, value) in stored {
        update = update.set(name, value);
        unchanged = match profile.get(name) {
            Some(seen) => unchanged.and(Condition::Eq(name.into(), seen.clone())),
            None => unchanged.and(Condition::NotExists(name.into())),
        };
    }
    match run
        .app
        .table
        .update(&keys::user(user), update, Some(unchanged))
        .await
    {
        Ok(_) => {
            run.counts.written(1);
            run.counts.fixed(1);
            tracing::info!(user = user.0, followers, following, posts, "counters fixed");
            Ok(())
        }
        // A counter moved since the scan read it: the next run checks again.
        Err(StoreError::ConditionFailed) => {
            run.counts.note("changed_meanwhile", 1);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

#[async_trait]
impl Task for UpdateUserCounters {
    type State = ();

    fn name(&self) -> &'static str {
        NAME
    }

    async fn sources(&self, _run: &Run<'_>) -> Result<Vec<Source>, Error> {
        Ok(vec![Source::Scan {
            filter: Some(profiles()),
        }])
    }

    async fn page(&self, run: &Run<'_>, _phase: usize, items: Vec<Item>) -> Result<(), Error> {
        // The page's STATS items in one batch read.
        let stats_keys: Vec<_> = items
            .iter()
            .filter_map(|i| i.get("id").and_then(Value::as_i64))
            .map(|id| keys::user_stats(UserId(id)))
            .collect();
        let stats = run.app.table.batch_get(&stats_keys).await?;
        run.counts.read(stats.iter().flatten().count() as u64);
        let mut stats = stats.into_iter();
        // batch_get answers in the order of the keys: one per profile that has an id.
        let pairs: Vec<(Item, Option<Item>)> = items
            .into_iter()
            .map(|profile| {
                let s = match profile.get("id").and_then(Value::as_i64) {
                    Some(_) => stats.next().flatten(),
                    None => None,
                };
                (profile, s)
            })
            .collect();
        for_each(pairs, |(profile, s)| fix_user(run, profile, s)).await?;
        Ok(())
    }
}
