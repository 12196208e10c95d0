//! The vocabulary badge criteria may name, and the reading of the per-user data behind it,
//! maintained as events arrive so that evaluating a badge never recounts:
//!
//! - the profile's counters (`posts_count`, `follower_count`, `following_count`,
//!   `engagement_score`, `badge_points`), kept by their owners' transactions;
//! - the `STATS` item and the activity day items, written by activity (`activity::tallies`,
//!   re-exported here for the criteria's constants): one counter per ingested content event
//!   type, `received_<type>`, `review_create_quality_<t>`, `max_post_likes`; the day items'
//!   quarter-hour slots, regrouped here into the days of the user's settings time zone, so a
//!   change of time zone re-reads history correctly. `consecutive_days` criteria read streaks
//!   off the local days and the 7d/30d `social_interaction` windows sum them.
//!
//! [`read_snapshot`] reads all of it for one user in at most two concurrent calls: a batch
//! get of profile, STATS, settings and badge score (which lists the held badges), and one
//! query of the newest day items when a criterion needs them.
//!
//! The enums below are the contract between `criteria` (which validates documents against
//! them) and the evaluator (which reads their values). Add variants here; never rename one.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

use super::ids::BadgeId;
use super::score::BadgeScore;
use crate::App;
use crate::accounts::{SettingsRecord, UserRecord};
use crate::activity::events::EventType;
use crate::activity::tallies::SLOT_SEPARATOR;
pub use crate::activity::tallies::{
    DAY_TTL_DAYS, FOLLOW_MARK_PREFIX, LOGGED_IN, LOGIN_MARK, MAX_DAYS, MAX_POST_LIKES,
    QUALITY_THRESHOLDS, SLOT_MINUTES, announce_login, count_on_day, day_string, local_day,
    quality_attribute, record_follow, record_login, record_visit, visit_due, visit_zone, zone_of,
};
use crate::error::Error;
use crate::model::{TimeZone, UserId};
use crate::store::{Index, Item, Query, SortCondition, Value, from_item, keys};

/// A number about a user that `counter` and `multi_criteria` criteria compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterField {
    PostsCount,
    FollowerCount,
    FollowingCount,
    EngagementScore,
    /// The profile's `content_quality_score` (the daily engagement task computes it).
    ContentQualityScore,
    /// The profile's `interaction_frequency` (the daily engagement task computes it).
    InteractionFrequency,
    CommentsCount,
    LikesGiven,
    LikesReceived,
    SharesCount,
    ReviewsCount,
    HelpfulVotesReceived,
    BugReportsVerified,
    BadgePoints,
    BadgesCount,
    /// The user's id: ids are allocated in join order, so `user_id <= 1000` is "one of the
    /// first 1000 users".
    UserId,
    /// 1 for moderators, administrators and owners, 0 otherwise ("become a moderator").
    IsStaff,
    /// The most likes any one post of the user has received.
    MaxPostLikes,
}

impl CounterField {
    pub const ALL: [CounterField; 18] = [
        CounterField::PostsCount,
        CounterField::FollowerCount,
        CounterField::FollowingCount,
        CounterField::EngagementScore,
        CounterField::ContentQualityScore,
        CounterField::InteractionFrequency,
        CounterField::CommentsCount,
        CounterField::LikesGiven,
        CounterField::LikesReceived,
        CounterField::SharesCount,
        CounterField::ReviewsCount,
        CounterField::HelpfulVotesReceived,
        CounterField::BugReportsVerified,
        CounterField::BadgePoints,
        CounterField::BadgesCount,
        CounterField::UserId,
        CounterField::IsStaff,
        CounterField::MaxPostLikes,
    ];

    /// What one unit of the counter is, for milestones ("Need 25 more posts").
    pub fn unit(self) -> (&'static str, &'static str) {
        match self {
            CounterField::PostsCount => ("post", "posts"),
            CounterField::FollowerCount => ("follower", "followers"),
            CounterField::FollowingCount => ("followed account", "followed accounts"),
            CounterField::EngagementScore => ("engagement point", "engagement points"),
            CounterField::ContentQualityScore => {
                ("content quality point", "content quality points")
            }
            CounterField::InteractionFrequency => {
                ("interaction per active day", "interactions per active day")
            }
            CounterField::CommentsCount => ("comment", "comments"),
            CounterField::LikesGiven => ("like given", "likes given"),
            CounterField::LikesReceived => ("like received", "likes received"),
            CounterField::SharesCount => ("share", "shares"),
            CounterField::ReviewsCount => ("review", "reviews"),
            CounterField::HelpfulVotesReceived => ("helpful vote", "helpful votes"),
            CounterField::BugReportsVerified => ("verified bug report", "verified bug reports"),
            CounterField::BadgePoints => ("badge point", "badge points"),
            CounterField::BadgesCount => ("badge", "badges"),
            CounterField::UserId => ("user id", "user id"),
            CounterField::IsStaff => ("staff role", "staff role"),
            CounterField::MaxPostLikes => ("like on a single post", "likes on a single post"),
        }
    }

    /// The wire name (`posts_count`).
    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// What a `consecutive_days` criterion counts days of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DailyAction {
    Login,
    Post,
    Comment,
    Like,
}

impl DailyAction {
    /// The attribute of a day item that marks the action.
    pub fn day_attribute(self) -> &'static str {
        match self {
            DailyAction::Login => LOGIN_MARK,
            DailyAction::Post => EventType::PostCreate.as_str(),
            DailyAction::Comment => EventType::CommentCreate.as_str(),
            DailyAction::Like => EventType::LikeGiven.as_str(),
        }
    }

    /// The action as a milestone says it ("Log in 3 more consecutive days").
    pub fn verb(self) -> &'static str {
        match self {
            DailyAction::Login => "Log in",
            DailyAction::Post => "Post",
            DailyAction::Comment => "Comment",
            DailyAction::Like => "Like something",
        }
    }

    /// The action a counted event type is a day of, if any.
    pub fn of_event(t: EventType) -> Option<DailyAction> {
        match t {
            EventType::Login => Some(DailyAction::Login),
            EventType::PostCreate => Some(DailyAction::Post),
            EventType::CommentCreate => Some(DailyAction::Comment),
            EventType::LikeGiven => Some(DailyAction::Like),
            _ => None,
        }
    }
}

/// An interaction a `social_interaction` criterion sums.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interaction {
    Like,
    Comment,
    Share,
    Review,
    HelpfulVote,
    Follow,
}

impl Interaction {
    /// The content event type counting the interaction (`None` for follows, which are edges
    /// of the social graph, not ingested events).
    pub fn event_type(self) -> Option<EventType> {
        match self {
            Interaction::Like => Some(EventType::LikeGiven),
            Interaction::Comment => Some(EventType::CommentCreate),
            Interaction::Share => Some(EventType::Share),
            Interaction::Review => Some(EventType::ReviewCreate),
            Interaction::HelpfulVote => Some(EventType::HelpfulVote),
            Interaction::Follow => None,
        }
    }
}

/// The most day items one snapshot reads: the longest streak and a day.
pub const MAX_DAY_ITEMS: u32 = MAX_DAYS + 1;

/// Day items read per query page (a page of small items stays far below 1 MB).
const DAY_PAGE: u32 = 400;

/// One activity day of a user, in the user's time zone.
#[derive(Clone, Debug, PartialEq)]
pub struct DayRecord {
    pub day: NaiveDate,
    /// Counts per event type, `login`, and the follow marks (`follow_<id>`).
    pub counts: BTreeMap<String, i64>,
}

/// Regroups UTC day items into the user's local days, newest first: each slot's count goes to
/// the local day its start falls on.
fn local_days(items: &[Item], zone: &TimeZone) -> Vec<DayRecord> {
    let mut days: BTreeMap<NaiveDate, BTreeMap<String, i64>> = BTreeMap::new();
    for item in items {
        let Some(utc_day) = item
            .get("day")
            .and_then(Value::as_str)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        else {
            continue;
        };
        let midnight = utc_day.and_time(NaiveTime::MIN).and_utc();
        for (name, value) in item {
            let Some((base, slot)) = name.rsplit_once(SLOT_SEPARATOR) else {
                continue;
            };
            let (Ok(slot), Some(n)) = (slot.parse::<u32>(), value.as_i64()) else {
                continue;
            };
            let start = midnight + chrono::Duration::minutes(i64::from(slot * SLOT_MINUTES));
            *days
                .entry(local_day(zone, start))
                .or_default()
                .entry(base.to_owned())
                .or_default() += n;
        }
    }
    days.into_iter()
        .rev()
        .map(|(day, counts)| DayRecord { day, counts })
        .collect()
}

impl DayRecord {
    /// How many times the attribute was counted on this day.
    pub fn count(&self, attribute: &str) -> i64 {
        self.counts.get(attribute).copied().unwrap_or(0)
    }

    /// How many different users were followed on this day.
    pub fn follows(&self) -> i64 {
        self.counts
            .keys()
            .filter(|k| k.starts_with(FOLLOW_MARK_PREFIX))
            .count() as i64
    }
}

/// A streak of consecutive days with an action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Streak {
    /// The run that ends today or yesterday (still alive), else 0.
    pub current: u32,
    /// The longest run among the days read.
    pub best: u32,
}

/// Everything the criteria of one user read, taken at one instant.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub user: UserId,
    /// `None` when the account does not exist (nothing is evaluated then).
    pub profile: Option<UserRecord>,
    pub stats: Item,
    pub zone: TimeZone,
    pub today: NaiveDate,
    /// The newest activity days, newest first (empty when none were asked for).
    pub days: Vec<DayRecord>,
    pub held: Vec<BadgeId>,
}

/// Reads one user's data for every criterion: a batch get of profile, STATS, settings and
/// badge score, and, at the same time, a query of the day items covering the newest
/// `day_items` local days (skipped when 0).
pub async fn read_snapshot(app: &App, user: UserId, day_items: u32) -> Result<Snapshot, Error> {
    let wanted = [
        keys::user(user),
        keys::user_stats(user),
        keys::settings(user),
        keys::badge_score(user),
    ];
    let batch = app.table.batch_get(&wanted);
    let days = async {
        if day_items == 0 {
            return Ok(Vec::new());
        }
        // One page for every window and any streak up to a year; longer streaks page on.
        // A local day touches at most two UTC days: one item more covers the oldest.
        let wanted = day_items.min(MAX_DAY_ITEMS) as usize + 1;
        let mut items = Vec::new();
        let mut cursor = None;
        loop {
            let left = (wanted - items.len()) as u32;
            let query = Query::new(Index::Primary, keys::user_partition(user))
                .sort(SortCondition::BeginsWith(keys::DAY_PREFIX.into()))
                .descending()
                .limit(left.min(DAY_PAGE))
                .after(cursor);
            let page = app.table.query(query).await?;
            items.extend(page.items);
            match page.next {
                Some(next) if items.len() < wanted => cursor = Some(next),
                _ => return Ok::<_, Error>(items),
            }
        }
    };
    let (batch, days) = futures::join!(batch, days);
    let mut found = batch?.into_iter();
    let profile: Option<UserRecord> = found.next().flatten().map(|i| from_item(&i)).transpose()?;
    let stats = found.next().flatten().unwrap_or_default();
    let settings: Option<SettingsRecord> =
        found.next().flatten().map(|i| from_item(&i)).transpose()?;
    let zone = zone_of(settings.as_ref());
    let today = local_day(&zone, app.clock.now());
    let score: Option<BadgeScore> = found
        .next()
        .flatten()
        .map(|i| BadgeScore::from_item(&i))
        .transpose()?;
    let held = score
        .map(|s| {
            s.held
                .keys()
                .filter_map(|id| id.parse().ok().map(BadgeId))
                .collect()
        })
        .unwrap_or_default();
    let days = local_days(&days?, &zone);
    Ok(Snapshot {
        user,
        profile,
        stats,
        zone,
        today,
        days,
        held,
    })
}

impl Snapshot {
    fn stat(&self, attribute: &str) -> i64 {
        self.stats
            .get(attribute)
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }

    /// A count of `added` events less the `removed` ones, never below zero.
    fn net(&self, added: EventType, removed: EventType) -> i64 {
        (self.stat(added.as_str()) - self.stat(removed.as_str())).max(0)
    }

    fn received(&self, t: EventType) -> i64 {
        self.stat(&format!("received_{}", t.as_str()))
    }

    /// The value of a counter field.
    pub fn counter(&self, field: CounterField) -> f64 {
        let profile = self.profile.as_ref();
        let from_profile = |f: fn(&UserRecord) -> f64| profile.map(f).unwrap_or(0.0);
        match field {
            CounterField::PostsCount => from_profile(|p| p.posts_count as f64),
            CounterField::FollowerCount => from_profile(|p| p.followers() as f64),
            CounterField::FollowingCount => from_profile(|p| p.following_count as f64),
            CounterField::EngagementScore => from_profile(|p| p.engagement_score),
            CounterField::ContentQualityScore => from_profile(|p| p.content_quality_score),
            CounterField::InteractionFrequency => from_profile(|p| p.interaction_frequency),
            CounterField::BadgePoints => from_profile(|p| p.badge_points as f64),
            CounterField::IsStaff => from_profile(|p| f64::from(u8::from(p.role.is_staff()))),
            CounterField::UserId => self.user.0 as f64,
            CounterField::BadgesCount => self.held.len() as f64,
            CounterField::CommentsCount => {
                self.net(EventType::CommentCreate, EventType::CommentDelete) as f64
            }
            CounterField::LikesGiven => {
                self.net(EventType::LikeGiven, EventType::LikeRemoved) as f64
            }
            CounterField::LikesReceived => (self.received(EventType::LikeGiven)
                - self.received(EventType::LikeRemoved))
            .max(0) as f64,
            CounterField::SharesCount => self.stat(EventType::Share.as_str()) as f64,
            CounterField::ReviewsCount => self.stat(EventType::ReviewCreate.as_str()) as f64,
            CounterField::HelpfulVotesReceived => self.received(EventType::HelpfulVote) as f64,
            CounterField::BugReportsVerified => {
                self.stat(EventType::BugReportVerified.as_str()) as f64
            }
            CounterField::MaxPostLikes => self.stat(MAX_POST_LIKES) as f64,
        }
    }

    /// How many events of a type the user has had counted; with a quality threshold, only
    /// those of at least that quality (any event type whose events carry a `metadata.quality`).
    /// Qualities are counted in steps of 0.5 from 1.0 to 5.0: a threshold between steps counts
    /// from the next step up, above 5.0 nothing.
    pub fn event_count(&self, event_type: EventType, quality: Option<f64>) -> u64 {
        let count = match quality {
            None => self.stat(event_type.as_str()),
            Some(q) => {
                let tenths = (q * 10.0).ceil().max(0.0) as u32;
                match QUALITY_THRESHOLDS.into_iter().find(|t| *t >= tenths) {
                    Some(t) => self.stat(&quality_attribute(event_type, t)),
                    None => 0,
                }
            }
        };
        count.max(0) as u64
    }

    /// The interactions counted over all time.
    pub fn interactions_all_time(&self, interactions: &[Interaction]) -> u64 {
        interactions
            .iter()
            .map(|i| match i.event_type() {
                Some(t) => self.stat(t.as_str()),
                None => self.profile.as_ref().map_or(0, |p| p.following_count),
            })
            .map(|n| n.max(0) as u64)
            .sum()
    }

    /// The interactions counted on the last `window` days, today included.
    pub fn interactions_within(&self, interactions: &[Interaction], window: u32) -> u64 {
        let Some(first) = self
            .today
            .checked_sub_days(Days::new(u64::from(window.saturating_sub(1))))
        else {
            return 0;
        };
        self.days
            .iter()
            .filter(|d| d.day >= first && d.day <= self.today)
            .flat_map(|d| {
                interactions.iter().map(move |i| match i.event_type() {
                    Some(t) => d.count(t.as_str()),
                    None => d.follows(),
                })
            })
            .map(|n| n.max(0) as u64)
            .sum()
    }

    /// The streaks of an action among the days read.
    pub fn streak(&self, action: DailyAction) -> Streak {
        let attribute = action.day_attribute();
        let mut active: Vec<NaiveDate> = self
            .days
            .iter()
            .filter(|d| d.count(attribute) > 0)
            .map(|d| d.day)
            .collect();
        active.sort_unstable_by(|a, b| b.cmp(a));
        active.dedup();
        let mut streak = Streak::default();
        let mut run = 0u32;
        let mut previous: Option<NaiveDate> = None;
        let mut first_run = true;
        for day in active {
            let continues = previous.is_some_and(|p| p.pred_opt() == Some(day));
            if !continues && previous.is_some() {
                first_run = false;
                run = 0;
            }
            run += 1;
            streak.best = streak.best.max(run);
            if first_run {
                streak.current = run;
            }
            previous = Some(day);
        }
        // The newest run is current only if it reaches today or yesterday.
        let newest = self
            .days
            .iter()
            .filter(|d| d.count(attribute) > 0)
            .map(|d| d.day)
            .max();
        let alive = newest.is_some_and(|d| d == self.today || Some(d) == self.today.pred_opt());
        if !alive {
            streak.current = 0;
        }
        streak
    }
}
