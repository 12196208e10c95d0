//! `update_user_engagement_scores` (daily 02:00): `engagement_score`, `content_quality_score`
//! and `interaction_frequency` of every profile from the user's own events of the last 30 days
//! (a range query on the user's partition: event ids are ULIDs, so the range is by time). The
//! formula is in `docs/tasks.md`; [`scores`] is its one implementation. A profile is written
//! only when a score changed.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;

use super::counters::profiles;
use super::runner::{Run, Source, Task, for_each};
use super::{event_sk_range, item_user};
use crate::activity::events::{EventGroup, EventType};
use crate::error::Error;
use crate::model::UserId;
use crate::store::{Condition, Cursor, Index, Item, Query, StoreError, Update, Value, keys};

pub const NAME: &str = "update_user_engagement_scores";

/// The window the scores look at.
pub const WINDOW_DAYS: i64 = 30;

/// Points per event in the engagement score.
pub const WEIGHTS: [(EventType, f64); 12] = [
    (EventType::PostCreate, 5.0),
    (EventType::ReviewCreate, 4.0),
    (EventType::CommentCreate, 3.0),
    (EventType::BugReportVerified, 5.0),
    (EventType::Share, 2.0),
    (EventType::LikeGiven, 1.0),
    (EventType::HelpfulVote, 1.0),
    (EventType::Follow, 1.0),
    (EventType::FollowApproved, 1.0),
    (EventType::ProfileView, 0.5),
    (EventType::Login, 0.5),
    (EventType::PageView, 0.1),
];
/// Points per day with at least one event.
pub const ACTIVE_DAY_POINTS: f64 = 2.0;

/// What the scores are computed from: one user's successful events in the window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Activity {
    pub by_type: HashMap<EventType, u64>,
    /// Distinct UTC days with an event.
    pub active_days: u64,
    /// `metadata.quality` (0–5) of the reviews that carry one.
    pub review_qualities: Vec<f64>,
}

/// The three scores, rounded to two decimals: (engagement, content quality, interaction
/// frequency).
pub fn scores(activity: &Activity) -> (f64, f64, f64) {
    let n = |t: EventType| activity.by_type.get(&t).copied().unwrap_or(0) as f64;
    let weighted: f64 = WEIGHTS.iter().map(|(t, w)| w * n(*t)).sum();
    let engagement = (weighted + ACTIVE_DAY_POINTS * activity.active_days as f64).min(100.0);

    let created =
        n(EventType::PostCreate) + n(EventType::CommentCreate) + n(EventType::ReviewCreate);
    let quality = if created == 0.0 {
        0.0
    } else {
        let deleted = n(EventType::PostDelete) + n(EventType::CommentDelete);
        let kept = ((created - deleted) / created).clamp(0.0, 1.0);
        let rated = &activity.review_qualities;
        let average = if rated.is_empty() {
            3.0
        } else {
            rated.iter().sum::<f64>() / rated.len() as f64
        };
        (50.0 * kept + 10.0 * average.clamp(0.0, 5.0)).min(100.0)
    };

    let interactions: u64 = activity
        .by_type
        .iter()
        .filter(|(t, _)| matches!(t.group(), EventGroup::Social | EventGroup::Content))
        .map(|(_, n)| *n)
        .sum();
    let frequency = interactions as f64 / WINDOW_DAYS as f64;
    (round2(engagement), round2(quality), round2(frequency))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Reads the user's events of the window, page by page, into an [`Activity`].
async fn activity(run: &Run<'_>, user: UserId) -> Result<Activity, Error> {
    let from = run.as_of - chrono::Duration::days(WINDOW_DAYS);
    let query = Query::new(Index::Primary, keys::user_partition(user))
        .sort(event_sk_range(from, run.as_of))
        .filter(Condition::eq("success", true));
    let mut activity = Activity::default();
    let mut days = BTreeSet::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = run
            .app
            .table
            .query(query.clone().limit(500).after(cursor.take()))
            .await?;
        run.counts.read(page.items.len() as u64);
        for item in &page.items {
            let Some(t) = item
                .get("event_type")
                .and_then(Value::as_str)
                .and_then(EventType::parse)
            else {
                continue;
            };
            *activity.by_type.entry(t).or_default() += 1;
            if let Some(day) = item
                .get("created_at")
                .and_then(Value::as_str)
                .and_then(|s| s.get(..10))
            {
                days.insert(day.to_owned());
            }
            if t == EventType::ReviewCreate
                && let Some(Value::M(meta)) = item.get("metadata")
                && let Some(q) = meta.get("quality").and_then(Value::as_f64)
            {
                activity.review_qualities.push(q);
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    activity.active_days = days.len() as u64;
    Ok(activity)
}

async fn score_user(run: &Run<'_>, profile: Item) -> Result<(), Error> {
    let Some(user) = item_user(&profile) else {
        return Ok(());
    };
    let (engagement, quality, frequency) = scores(&activity(run, user).await?);
    let current = |name: &str| profile.get(name).and_then(Value::as_f64).unwrap_or(0.0);
    if current("engagement_score") == engagement
        && current("content_quality_score") == quality
        && current("interaction_frequency") == frequency
    {
        return Ok(());
    }
    let update = Update::new()
        .set("engagement_score", Value::Float(engagement))
        .set("content_quality_score", Value::Float(quality))
        .set("interaction_frequency", Value::Float(frequency));
    match run
        .app
        .table
        .update(&keys::user(user), update, Some(Condition::item_present()))
        .await
    {
        Ok(_) => {
            run.counts.written(1);
            Ok(())
        }
        // Erased meanwhile.
        Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub struct UpdateEngagement;

#[async_trait]
impl Task for UpdateEngagement {
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
        for_each(items, |profile| score_user(run, profile)).await?;
        Ok(())
    }
}
