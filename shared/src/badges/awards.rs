//! Awards: badges held by users, and the one place that moves points and aggregates.
//!
//! A user badge is `USER#<id>` / `BADGE#<badge id>` (one per user and badge: the award puts it
//! only if absent), on GSI1 under its badge (holders, for deleting a definition) and on GSI2
//! under `AWARDS` by time (recent awards, the 30-day leaderboard). Next to it the user's badge
//! score (`keys::badge_score`): points, badge count, featured count and the held badges with
//! their award time; its GSI1 sort key orders the all-time leaderboard.
//!
//! Award and revoke are each ONE transaction: the user badge, the profile's `badge_points`,
//! the score (conditioned on the totals it was computed from, so its sort key is exact), the
//! analytics aggregates and the definition's `earned_count`. A cancelled transaction is re-read
//! and retried with jittered backoff; after [`Loop::BADGES`]' tries the request is a 503 that
//! changed nothing (`crate::retry`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::definitions::{self, BadgeDefinition, BadgeId};
pub use super::score::{BadgeScore, score};
use crate::App;
use crate::access::{self, Actor, Admin};
use crate::activity::events::{EventType, NewEvent, log_event_best_effort};
use crate::bus::DomainEvent;
use crate::error::Error;
use crate::model::UserId;
use crate::retry::{Loop, Tries};
use crate::store::{
    Condition, Cursor, Index, Item, ItemShapeError, Key, Query, SortCondition, Transaction, TxOp,
    Update, Value, from_item, keys, to_item,
};

/// Most badges a user may feature on their profile.
pub const MAX_FEATURED: i64 = 6;
/// Longest notes of an award.
pub const NOTES_MAX_CHARS: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AwardedBy {
    System,
    Admin,
    Manual,
}

impl AwardedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            AwardedBy::System => "system",
            AwardedBy::Admin => "admin",
            AwardedBy::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<AwardedBy> {
        [AwardedBy::System, AwardedBy::Admin, AwardedBy::Manual]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// A badge held by a user, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserBadge {
    pub user: UserId,
    pub badge: BadgeId,
    pub earned_at: DateTime<Utc>,
    #[serde(default = "empty_object")]
    pub progress_data: Json,
    #[serde(default)]
    pub is_featured: bool,
    pub awarded_by: AwardedBy,
    #[serde(default)]
    pub notes: String,
    /// The points this award gave (taken back on revoke, whatever the definition says now).
    #[serde(default)]
    pub points: i64,
    /// Names the award attempt that wrote it: when a transaction's outcome was lost (a timeout
    /// after the store applied it, then a retry), finding our own id tells "awarded just now"
    /// from "held already".
    #[serde(default)]
    pub award_id: String,
}

fn empty_object() -> Json {
    Json::Object(Default::default())
}

impl UserBadge {
    /// The id clients use: `<user>-<badge>` (the key, so a read needs no lookup).
    pub fn id(&self) -> String {
        format!("{}-{}", self.user, self.badge)
    }

    pub fn key(&self) -> Key {
        keys::user_badge(self.user, self.badge.0)
    }

    pub fn to_item(&self) -> Result<Item, ItemShapeError> {
        let mut item = to_item(self)?;
        let key = self.key();
        keys::set_key(&mut item, key);
        let (pk, sk) = keys::badge_holder_index(self.badge.0, self.user);
        keys::set_index_keys(&mut item, Index::Gsi1, pk, sk);
        let (pk, sk) =
            keys::award_index(self.earned_at.timestamp_millis(), self.user, self.badge.0);
        keys::set_index_keys(&mut item, Index::Gsi2, pk, sk);
        Ok(item)
    }

    pub fn from_item(item: &Item) -> Result<UserBadge, ItemShapeError> {
        from_item(item)
    }

    /// What clients see, with the definition embedded when known (as in the seed's example).
    pub fn view(&self, def: Option<&BadgeDefinition>) -> Json {
        json!({
            "id": self.id(),
            "user": self.user,
            "badge": def.map(BadgeDefinition::view).unwrap_or(json!({"id": self.badge})),
            "earned_at": self.earned_at,
            "progress_data": self.progress_data,
            "is_featured": self.is_featured,
            "awarded_by": self.awarded_by,
            "notes": self.notes,
            "points": self.points,
        })
    }
}

/// Parses a user badge id `<user>-<badge>`.
pub fn parse_id(id: &str) -> Option<(UserId, BadgeId)> {
    let (user, badge) = id.split_once('-')?;
    let user: i64 = user.parse().ok().filter(|n| *n > 0)?;
    Some((UserId(user), badge.parse().ok()?))
}

/// The condition that the score is still what it was read as.
fn score_unchanged(old: Option<&BadgeScore>) -> Condition {
    match old {
        None => Condition::item_absent(),
        Some(s) => {
            Condition::eq("points", s.points).and(Condition::eq("badge_count", s.badge_count))
        }
    }
}

/// The score write for new totals: an update (keeping `featured_count`, which moves on its
/// own), or a delete when no badge is left.
fn score_op(
    user: UserId,
    old: Option<&BadgeScore>,
    points: i64,
    count: i64,
    held: &BTreeMap<String, i64>,
    featured_delta: i64,
) -> TxOp {
    let key = keys::badge_score(user);
    let condition = Some(score_unchanged(old));
    if count <= 0 {
        return TxOp::Delete { key, condition };
    }
    let (pk, sk) = keys::leaderboard_index(points, count, user);
    let held: BTreeMap<String, Value> = held
        .iter()
        .map(|(k, v)| (k.clone(), Value::Int(*v)))
        .collect();
    let mut update = Update::new()
        .set("user_id", user.0)
        .set("points", points)
        .set("badge_count", count)
        .set("held", Value::M(held))
        .set(keys::attr::GSI1PK, pk)
        .set(keys::attr::GSI1SK, sk);
    if featured_delta != 0 {
        update = update.add("featured_count", featured_delta);
    }
    TxOp::Update {
        key,
        update,
        condition,
    }
}

/// Awards `badge` to `user` in ONE transaction (user badge put-if-absent, profile
/// badge_points, leaderboard and analytics aggregates), then the badge_earned UserEvent and
/// the BadgeEarned bus event. Ok(None) when the user already holds it (nothing changes).
/// A missing user (or one being erased) or a missing or deleted badge is 404.
pub async fn award(
    app: &App,
    _by: Admin,
    user: UserId,
    badge: &BadgeDefinition,
    awarded_by: AwardedBy,
    progress_data: serde_json::Value,
    notes: &str,
) -> Result<Option<UserBadge>, Error> {
    award_from(app, user, badge, awarded_by, progress_data, notes, None).await
}

/// [`award`], its first try computed from `read_score` when the caller has read the score
/// already (eventually consistent, in a batch with what it needed: [`AwardReads`]). The
/// transaction asserts the score it was computed from, so a stale copy costs a retry, never a
/// wrong total; a stale copy saying the badge is held is read again, consistently.
async fn award_from(
    app: &App,
    user: UserId,
    badge: &BadgeDefinition,
    awarded_by: AwardedBy,
    progress_data: serde_json::Value,
    notes: &str,
    mut read_score: Option<Option<BadgeScore>>,
) -> Result<Option<UserBadge>, Error> {
    let held_badge = new_award(app, user, badge, awarded_by, progress_data, notes);
    let bid = badge.id.0.to_string();
    let holds =
        |score: &Option<BadgeScore>| score.as_ref().is_some_and(|s| s.held.contains_key(&bid));
    let mut tries = Tries::new(Loop::BADGES);
    loop {
        let old = match read_score.take() {
            Some(read) if !holds(&read) => read,
            _ => score(app, user).await?,
        };
        if holds(&old) {
            return held_already(app, &held_badge, badge).await;
        }
        let tx = award_transaction(&held_badge, badge, old.as_ref())?;
        match tx.commit(app.table.as_ref()).await {
            Ok(()) => {
                announce_award(app, &held_badge, badge).await;
                return Ok(Some(held_badge));
            }
            Err(e) => {
                if e.condition_failed(AwardOp::UserBadge) {
                    return held_already(app, &held_badge, badge).await;
                }
                if e.condition_failed(AwardOp::Profile) || e.condition_failed(AwardOp::Definition) {
                    return Err(Error::NotFound);
                }
                // The score moved: read again.
                if !e.any_condition_failed() && !e.store_error().calls_for_another_round() {
                    return Err(e.into());
                }
                tries.retry().await?;
            }
        }
    }
}

/// The user badge an award puts, under a new award id (earned now; no progress data is `{}`).
fn new_award(
    app: &App,
    user: UserId,
    badge: &BadgeDefinition,
    awarded_by: AwardedBy,
    progress_data: serde_json::Value,
    notes: &str,
) -> UserBadge {
    let progress_data = if progress_data.is_null() {
        empty_object()
    } else {
        progress_data
    };
    let award_id = ulid::Ulid::new().to_string();
    UserBadge {
        user,
        badge: badge.id,
        earned_at: app.clock.now(),
        progress_data,
        is_featured: false,
        awarded_by,
        notes: notes.to_owned(),
        points: badge.points,
        award_id,
    }
}

/// Held already: by someone else's award (`None`: nothing changes), or by ours whose answer
/// was lost (announced now, like any award of ours).
async fn held_already(
    app: &App,
    ours: &UserBadge,
    badge: &BadgeDefinition,
) -> Result<Option<UserBadge>, Error> {
    let found = get(app, ours.user, badge.id).await?;
    match found.filter(|found| found.award_id == ours.award_id) {
        Some(ours) => {
            announce_award(app, &ours, badge).await;
            Ok(Some(ours))
        }
        None => Ok(None),
    }
}

/// What a score holds before an award or a revoke (nothing when there is no score).
struct Totals {
    points: i64,
    count: i64,
    held: BTreeMap<String, i64>,
    featured: i64,
}

impl Totals {
    fn of(score: Option<&BadgeScore>) -> Totals {
        match score {
            Some(s) => Totals {
                points: s.points,
                count: s.badge_count,
                held: s.held.clone(),
                featured: s.featured_count,
            },
            None => Totals {
                points: 0,
                count: 0,
                held: BTreeMap::new(),
                featured: 0,
            },
        }
    }
}

/// The award's transaction, computed from the score `old` as read.
fn award_transaction(
    held_badge: &UserBadge,
    badge: &BadgeDefinition,
    old: Option<&BadgeScore>,
) -> Result<Transaction<AwardOp>, Error> {
    let user = held_badge.user;
    let Totals {
        points,
        count,
        mut held,
        ..
    } = Totals::of(old);
    held.insert(
        badge.id.0.to_string(),
        held_badge.earned_at.timestamp_millis(),
    );
    Ok(Transaction::new()
        .with(
            AwardOp::UserBadge,
            TxOp::Put {
                item: held_badge.to_item()?,
                condition: Some(Condition::item_absent()),
            },
        )
        .with(
            AwardOp::Profile,
            TxOp::Update {
                key: keys::user(user),
                update: Update::new().add("badge_points", badge.points),
                condition: Some(
                    Condition::item_present().and(Condition::Ne("deleting".into(), true.into())),
                ),
            },
        )
        .with(
            AwardOp::Score,
            score_op(user, old, points + badge.points, count + 1, &held, 0),
        )
        .with(
            AwardOp::Stats,
            TxOp::Update {
                key: keys::badge_stats(user.0),
                update: Update::new()
                    .add("total_awards", 1)
                    .add("unique_holders", i64::from(count == 0)),
                condition: None,
            },
        )
        .with(
            AwardOp::Definition,
            TxOp::Check {
                key: keys::badge_definition(badge.id.0),
                condition: Condition::item_present().and(Condition::NotExists("deleting".into())),
            },
        )
        // The holder count has an item of its own: on the definition it rewrote the
        // definition's index entries with every award (`docs/scale.md`).
        .with(
            AwardOp::EarnedCount,
            TxOp::Update {
                key: keys::badge_earned(badge.id.0),
                update: Update::new().add("count", 1),
                condition: None,
            },
        ))
}

/// The operations of an award's (or a revoke's) transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AwardOp {
    /// The user badge, put if absent.
    UserBadge,
    /// The profile's `badge_points`; the profile exists and is not being erased.
    Profile,
    /// The badge score, conditioned on the totals it was computed from.
    Score,
    Stats,
    /// The definition exists and is not being deleted.
    Definition,
    EarnedCount,
}

/// The seed's `award_badge(user, badge_name, notes, awarded_by)`: the active badge of that
/// name (case-insensitive; 400 on `badge` otherwise) to an existing user (404 otherwise).
/// `Ok(None)` when the user already holds it.
pub async fn award_by_name(
    app: &App,
    by: Admin,
    user: UserId,
    badge_name: &str,
    notes: &str,
    awarded_by: AwardedBy,
) -> Result<Option<(UserBadge, BadgeDefinition)>, Error> {
    let def = definitions::find_by_name(app, badge_name)
        .await?
        .filter(|d| d.is_active)
        .ok_or_else(|| Error::field("badge", format!("No active badge named {badge_name:?}.")))?;
    if crate::accounts::get_user(app, user)
        .await?
        .filter(|u| !u.deleting)
        .is_none()
    {
        return Err(Error::NotFound);
    }
    let notes: String = notes.chars().take(NOTES_MAX_CHARS).collect();
    let held = award(app, by, user, &def, awarded_by, empty_object(), &notes).await?;
    Ok(held.map(|h| (h, def)))
}

/// What `POST /api/user-badges/` reads before it awards, in one batch: the definition, the
/// user and the user's badge score. Only reads (`http::auth::caller_with` may start it beside
/// the authentication); [`grant`] decides.
pub struct AwardReads {
    user: UserId,
    definition: Option<BadgeDefinition>,
    holder: Option<crate::accounts::UserRecord>,
    score: Option<BadgeScore>,
}

pub async fn award_reads(app: &App, user: UserId, badge: BadgeId) -> Result<AwardReads, Error> {
    let found = app
        .table
        .batch_get(&[
            keys::badge_definition(badge.0),
            keys::user(user),
            keys::badge_score(user),
        ])
        .await?;
    let mut found = found.into_iter();
    let definition = found
        .next()
        .flatten()
        .map(|i| BadgeDefinition::from_item(&i))
        .transpose()?;
    let holder = found
        .next()
        .flatten()
        .map(|i| crate::store::from_item(&i))
        .transpose()?;
    let score = found
        .next()
        .flatten()
        .map(|i| BadgeScore::from_item(&i))
        .transpose()?;
    Ok(AwardReads {
        user,
        definition,
        holder,
        score,
    })
}

/// An administrator's award from what [`award_reads`] found: the active badge (400 on `badge`
/// otherwise) to an existing user (400 on `user`), then [`award`]. `Ok((None, _))` when the
/// user already holds it.
pub async fn grant(
    app: &App,
    _by: Admin,
    reads: AwardReads,
    awarded_by: AwardedBy,
    progress_data: serde_json::Value,
    notes: &str,
) -> Result<(Option<UserBadge>, BadgeDefinition), Error> {
    let def = reads
        .definition
        .filter(|d| d.is_active && !d.deleting)
        .ok_or_else(|| Error::field("badge", "No such active badge."))?;
    if reads.holder.as_ref().is_none_or(|u| u.deleting) {
        return Err(Error::field("user", "No such user."));
    }
    let held = award_from(
        app,
        reads.user,
        &def,
        awarded_by,
        progress_data,
        notes,
        Some(reads.score),
    )
    .await?;
    Ok((held, def))
}

/// The badge_earned event and the BadgeEarned bus event (best effort: the award stands).
async fn announce_award(app: &App, held: &UserBadge, badge: &BadgeDefinition) {
    crate::metrics::emit(crate::metrics::Metric::Award);
    log_event_best_effort(
        app,
        NewEvent::new(EventType::BadgeEarned, Some(held.user))
            .description(format!("Earned badge: {}", badge.name))
            .metadata(json!({
                "badge_id": badge.id,
                "badge_name": badge.name,
                "points": held.points,
                "awarded_by": held.awarded_by,
            })),
    )
    .await;
    let event = DomainEvent::new(
        "BadgeEarned",
        json!({
            "user_id": held.user,
            "badge_id": badge.id,
            "badge_name": badge.name,
            "points": held.points,
            "awarded_by": held.awarded_by,
        }),
        app.clock.now(),
    );
    if let Err(e) = app.bus.publish(&[event]).await {
        tracing::warn!(error = %e, "BadgeEarned not published");
    }
}

/// Every badge the user holds, in badge id order: one query of their partition (more pages
/// only past 1 MB).
pub async fn held_badges(app: &App, user: UserId) -> Result<Vec<UserBadge>, Error> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let query = Query::new(Index::Primary, keys::user_partition(user))
            .sort(SortCondition::BeginsWith(keys::USER_BADGE_PREFIX.into()))
            .after(cursor);
        let page = app.table.query(query).await?;
        for item in &page.items {
            out.push(UserBadge::from_item(item)?);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// One page of the user's badges (badge id order).
pub async fn list_page(
    app: &App,
    user: UserId,
    featured_only: bool,
    page_size: u32,
    cursor: Option<Cursor>,
) -> Result<(Vec<UserBadge>, Option<Cursor>), Error> {
    let mut query = Query::new(Index::Primary, keys::user_partition(user))
        .sort(SortCondition::BeginsWith(keys::USER_BADGE_PREFIX.into()))
        .limit(page_size)
        .after(cursor);
    if featured_only {
        query = query.filter(Condition::eq("is_featured", true));
    }
    let page = app.table.query(query).await?;
    let badges = page
        .items
        .iter()
        .map(UserBadge::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((badges, page.next))
}

/// One held badge.
pub async fn get(app: &App, user: UserId, badge: BadgeId) -> Result<Option<UserBadge>, Error> {
    let item = app
        .table
        .get(&keys::user_badge(user, badge.0), true)
        .await?;
    Ok(item.map(|i| UserBadge::from_item(&i)).transpose()?)
}

/// Why a badge is taken back: logs `badge_revoked` unless the account itself is going.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeCause {
    /// An administrator revoked it (`None`: the system did).
    Admin(Option<UserId>),
    /// Its definition is being deleted.
    DefinitionDeleted,
    /// The holder's account is being erased (no event: the account is going).
    Erasure,
}

/// Takes a badge back in ONE transaction: the user badge, the points it gave, the score and
/// the aggregates. `Ok(None)` when the user does not hold it.
pub async fn revoke(
    app: &App,
    user: UserId,
    badge: BadgeId,
    cause: RevokeCause,
) -> Result<Option<UserBadge>, Error> {
    // The badge (and its definition) as read by a try of ours that went unanswered: if the
    // badge is gone afterwards, that try revoked it (`docs/faults.md`, "Ambiguous timeouts").
    let mut unanswered: Option<(UserBadge, Option<BadgeDefinition>)> = None;
    let mut tries = Tries::new(Loop::BADGES);
    loop {
        let Some(held_badge) = get(app, user, badge).await? else {
            let Some((revoked, def)) = unanswered else {
                return Ok(None);
            };
            announce_revoke(app, &revoked, def.as_ref(), cause).await;
            return Ok(Some(revoked));
        };
        let old = score(app, user).await?;
        let def = definitions::get_any(app, badge, true).await?;
        let tx = revoke_transaction(user, badge, &held_badge, old.as_ref(), def.is_some());
        match tx.commit(app.table.as_ref()).await {
            Ok(()) => {
                announce_revoke(app, &held_badge, def.as_ref(), cause).await;
                return Ok(Some(held_badge));
            }
            Err(e) => {
                // Whichever condition failed, the badge or the score moved: read again.
                if !e.any_condition_failed() && !e.store_error().calls_for_another_round() {
                    return Err(e.into());
                }
                if e.store_error().may_have_applied() {
                    unanswered = Some((held_badge, def));
                }
                tries.retry().await?;
            }
        }
    }
}

/// The revoke's transaction, computed from the score `old` as read; the definition's check
/// and holder count only while the definition exists.
fn revoke_transaction(
    user: UserId,
    badge: BadgeId,
    held_badge: &UserBadge,
    old: Option<&BadgeScore>,
    definition_exists: bool,
) -> Transaction<AwardOp> {
    let Totals {
        points,
        count,
        mut held,
        featured,
    } = Totals::of(old);
    held.remove(&badge.0.to_string());
    let new_count = (count - 1).max(0);
    let featured_delta = if held_badge.is_featured && featured > 0 {
        -1
    } else {
        0
    };
    let new_points = (points - held_badge.points).max(0);
    let mut tx = Transaction::new()
        .with(
            AwardOp::UserBadge,
            TxOp::Delete {
                key: held_badge.key(),
                condition: Some(Condition::item_present()),
            },
        )
        .with(
            AwardOp::Profile,
            TxOp::Update {
                key: keys::user(user),
                update: Update::new().add("badge_points", -held_badge.points),
                condition: Some(Condition::item_present()),
            },
        )
        .with(
            AwardOp::Score,
            score_op(user, old, new_points, new_count, &held, featured_delta),
        )
        .with(
            AwardOp::Stats,
            TxOp::Update {
                key: keys::badge_stats(user.0),
                update: Update::new()
                    .add("total_awards", -1)
                    .add("unique_holders", -i64::from(new_count == 0)),
                condition: None,
            },
        );
    if definition_exists {
        tx.push(
            AwardOp::Definition,
            TxOp::Check {
                key: keys::badge_definition(badge.0),
                condition: Condition::item_present(),
            },
        );
        // A count that goes below zero here means the definition still carries part of it
        // (stored before the count item): the two add up.
        tx.push(
            AwardOp::EarnedCount,
            TxOp::Update {
                key: keys::badge_earned(badge.0),
                update: Update::new().add("count", -1),
                condition: None,
            },
        );
    }
    tx
}

async fn announce_revoke(
    app: &App,
    held: &UserBadge,
    def: Option<&BadgeDefinition>,
    cause: RevokeCause,
) {
    let (by, why) = match cause {
        RevokeCause::Admin(by) => (by, "revoked by an administrator"),
        RevokeCause::DefinitionDeleted => (None, "badge definition deleted"),
        RevokeCause::Erasure => return,
    };
    let name = def.map(|d| d.name.as_str()).unwrap_or_default();
    log_event_best_effort(
        app,
        NewEvent::new(EventType::BadgeRevoked, Some(held.user))
            .description(format!("Badge revoked: {name}"))
            .metadata(json!({
                "badge_id": held.badge,
                "badge_name": name,
                "points": held.points,
                "by": by,
                "reason": why,
            })),
    )
    .await;
}

/// Revokes every holder of a badge (deleting its definition), page by page until the holder
/// index shows none.
pub(crate) async fn revoke_all_holders(app: &App, badge: BadgeId) -> Result<(), Error> {
    loop {
        let query = Query::new(Index::Gsi1, keys::badge_holders(badge.0)).limit(100);
        let page = app.table.query(query).await?;
        if page.items.is_empty() {
            return Ok(());
        }
        for item in &page.items {
            let held = UserBadge::from_item(item)?;
            revoke(app, held.user, badge, RevokeCause::DefinitionDeleted).await?;
        }
    }
}

/// Takes back every badge of an account being erased, so that points, the leaderboard and
/// the aggregates stay exact; called by `accounts::users::erase_user` before it deletes the
/// rest of the partition.
pub async fn erase_user_badges(app: &App, user: UserId) -> Result<(), Error> {
    let mut cursor = None;
    let mut held = Vec::new();
    loop {
        let query = Query::new(Index::Primary, keys::user_partition(user))
            .sort(SortCondition::BeginsWith(keys::USER_BADGE_PREFIX.into()))
            .consistent()
            .after(cursor);
        let page = app.table.query(query).await?;
        // An item that is not a user badge moved no aggregate: the partition sweep deletes it.
        held.extend(
            page.items
                .iter()
                .filter_map(|i| UserBadge::from_item(i).ok()),
        );
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    for held in held {
        revoke(app, user, held.badge, RevokeCause::Erasure).await?;
    }
    // Nothing held any more: a score item left over (none should be) goes too.
    app.table.delete(&keys::badge_score(user), None).await?;
    Ok(())
}

/// Whether `viewer` may see `owner`'s badges: as the account's followers and following
/// (`access::require_connections_visible`): the owner and staff always; not found through a
/// block, for a suspended account or one being erased; 403 for a private account the viewer
/// does not follow.
pub async fn check_visible(app: &App, viewer: Actor, owner: UserId) -> Result<(), Error> {
    if viewer.is(owner) {
        return Ok(());
    }
    let user = crate::accounts::get_user(app, owner).await?;
    // Only the edges the answer depends on are read.
    let relationship = match (viewer.user_id(), &user) {
        (Some(me), Some(u)) if !viewer.is_staff() && !u.is_suspended && !u.deleting => {
            let blocked = crate::social::blocked_either_way(app, me, owner).await?;
            let follows =
                !blocked && u.is_private && crate::social::is_following(app, me, owner).await?;
            access::Relationship { blocked, follows }
        }
        _ => access::Relationship::default(),
    };
    let visibility = access::profile_visibility(viewer, user.as_ref(), relationship);
    match &user {
        Some(user) => access::require_connections_visible(visibility, user),
        None => Err(Error::NotFound),
    }
}

/// Who may feature or unfeature `owner`'s badges: the owner only. Anyone else is refused as
/// [`check_visible`] refuses them, or else with a permission error.
pub async fn check_feature(app: &App, actor: Actor, owner: UserId) -> Result<(), Error> {
    if actor.is(owner) {
        return Ok(());
    }
    check_visible(app, actor, owner).await?;
    Err(Error::PermissionDenied)
}

/// An administrator's revoke (`DELETE /api/user-badges/{id}/`): 404 when the user does not
/// hold the badge.
pub async fn revoke_as(app: &App, by: Admin, user: UserId, badge: BadgeId) -> Result<(), Error> {
    let cause = RevokeCause::Admin(by.actor().user_id());
    revoke(app, user, badge, cause)
        .await?
        .ok_or(Error::NotFound)
        .map(|_| ())
}

/// Sets whether the owner features a badge on their profile, at most [`MAX_FEATURED`] at a
/// time: the badge and the featured count in one transaction.
pub async fn set_featured(
    app: &App,
    user: UserId,
    badge: BadgeId,
    featured: bool,
) -> Result<UserBadge, Error> {
    let mut tries = Tries::new(Loop::BADGES);
    loop {
        let mut held = get(app, user, badge).await?.ok_or(Error::NotFound)?;
        if held.is_featured == featured {
            return Ok(held);
        }
        let delta: i64 = if featured { 1 } else { -1 };
        let count_ok = if featured {
            Condition::Or(vec![
                Condition::NotExists("featured_count".into()),
                Condition::Lt("featured_count".into(), Value::Int(MAX_FEATURED)),
            ])
        } else {
            Condition::item_present()
        };
        let tx = Transaction::new()
            .with(
                FeatureOp::UserBadge,
                TxOp::Update {
                    key: held.key(),
                    update: Update::new().set("is_featured", featured),
                    condition: Some(Condition::eq("is_featured", held.is_featured)),
                },
            )
            .with(
                FeatureOp::FeaturedCount,
                TxOp::Update {
                    key: keys::badge_score(user),
                    update: Update::new().add("featured_count", delta),
                    condition: Some(Condition::item_present().and(count_ok)),
                },
            );
        match tx.commit(app.table.as_ref()).await {
            Ok(()) => {
                held.is_featured = featured;
                return Ok(held);
            }
            Err(e) => {
                if featured && e.condition_failed(FeatureOp::FeaturedCount) {
                    return Err(Error::field(
                        "is_featured",
                        format!("At most {MAX_FEATURED} badges can be featured."),
                    ));
                }
                if !e.any_condition_failed() && !e.store_error().calls_for_another_round() {
                    return Err(e.into());
                }
                tries.retry().await?;
            }
        }
    }
}

/// The operations of featuring (or unfeaturing) a badge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FeatureOp {
    /// The user badge's `is_featured`, still as read.
    UserBadge,
    /// The score's `featured_count`, under [`MAX_FEATURED`] when featuring.
    FeaturedCount,
}
