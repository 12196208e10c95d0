//! Automatic awards: whether a user meets a badge's criteria, from one snapshot of the data
//! `stats` maintains, and the two ways evaluation starts:
//!
//! - [`evaluate_for_event`]: a domain event (from EventBridge in the `badge-events` function,
//!   from the in-process bus locally) names the users it changed and what changed for them;
//!   only the active badges whose criteria read that are checked;
//! - [`evaluate_user`]: every active badge not yet held (the daily sweep).
//!
//! Evaluation only reads: the counters moved when the event was ingested. An award is
//! put-if-absent (`awards::award`), so duplicate, concurrent or reordered deliveries award a
//! badge once.

use serde_json::{Value as Json, json};

use super::awards::{self, AwardedBy};
use super::criteria::{Criteria, Logic, Operator, Requirement, Timeframe};
use super::definitions::{self, BadgeDefinition, BadgeId};
use super::stats::{self, CounterField, DailyAction, Interaction, Snapshot};
use crate::App;
use crate::activity::events::EventType;
use crate::bus::DomainEvent;
use crate::error::Error;
use crate::model::UserId;
use crate::retry::{Loop, Tries};

/// One requirement of a criterion, measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Measure {
    pub what: Measured,
    pub have: f64,
    pub want: f64,
    pub operator: Operator,
}

/// What a requirement measures (for milestones and progress data).
#[derive(Clone, Debug, PartialEq)]
pub enum Measured {
    Counter(CounterField),
    /// A streak; `current` is the run still alive (what the next milestone counts from).
    Streak {
        action: DailyAction,
        current: u32,
    },
    Events {
        event_type: EventType,
        quality: Option<f64>,
    },
    Interactions {
        interactions: Vec<Interaction>,
        timeframe: Timeframe,
    },
}

impl Measure {
    pub fn holds(&self) -> bool {
        self.operator.holds(self.have, self.want)
    }

    /// How far along the requirement is, 0.0 to 1.0. Only "at least" comparisons have a way
    /// there; the others hold or do not.
    pub fn fraction(&self) -> f64 {
        if self.holds() {
            return 1.0;
        }
        let have = match &self.what {
            Measured::Streak { current, .. } => f64::from(*current),
            _ => self.have,
        };
        match self.operator {
            Operator::Ge | Operator::Gt if self.want > 0.0 => (have / self.want).clamp(0.0, 0.99),
            _ => 0.0,
        }
    }

    /// The measure's key in progress data (`posts_count`, `login_streak`, ...).
    pub fn key(&self) -> String {
        match &self.what {
            Measured::Counter(f) => f.as_str(),
            Measured::Streak { action, .. } => format!("{}_streak", action.day_attribute()),
            Measured::Events { event_type, .. } => event_type.as_str().to_owned(),
            Measured::Interactions { .. } => "interactions".to_owned(),
        }
    }
}

/// A criterion measured on a snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    pub measures: Vec<Measure>,
    pub logic: Logic,
}

impl Assessment {
    pub fn met(&self) -> bool {
        match self.logic {
            Logic::And => self.measures.iter().all(Measure::holds),
            Logic::Or => self.measures.iter().any(Measure::holds),
        }
    }

    pub fn requirements_met(&self) -> usize {
        self.measures.iter().filter(|m| m.holds()).count()
    }

    /// 0–100: 100 exactly when met; AND averages its requirements, OR takes the closest.
    pub fn percent(&self) -> u8 {
        if self.met() {
            return 100;
        }
        let fractions = self.measures.iter().map(Measure::fraction);
        let fraction = match self.logic {
            Logic::And => fractions.sum::<f64>() / self.measures.len().max(1) as f64,
            Logic::Or => fractions.fold(0.0, f64::max),
        };
        (fraction * 100.0).floor().clamp(0.0, 99.0) as u8
    }

    /// The values measured, as an award's `progress_data`.
    pub fn data(&self) -> Json {
        let values: serde_json::Map<String, Json> = self
            .measures
            .iter()
            .map(|m| (m.key(), json!(m.have)))
            .collect();
        Json::Object(values)
    }
}

/// Measures a criterion on a snapshot.
pub fn assess(criteria: &Criteria, snapshot: &Snapshot) -> Assessment {
    match criteria {
        Criteria::Counter {
            field, threshold, ..
        } => one_at_least(
            Measured::Counter(*field),
            snapshot.counter(*field),
            *threshold,
        ),
        Criteria::ConsecutiveDays { action, days, .. } => {
            let streak = snapshot.streak(*action);
            one_at_least(
                Measured::Streak {
                    action: *action,
                    current: streak.current,
                },
                f64::from(streak.best),
                f64::from(*days),
            )
        }
        Criteria::MultiCriteria {
            requirements,
            logic,
            ..
        } => assess_requirements(requirements, *logic, snapshot),
        Criteria::EventBased {
            event_type,
            count,
            quality_threshold,
            ..
        } => one_at_least(
            Measured::Events {
                event_type: *event_type,
                quality: *quality_threshold,
            },
            snapshot.event_count(*event_type, *quality_threshold) as f64,
            *count as f64,
        ),
        Criteria::SocialInteraction {
            interactions,
            min_count,
            timeframe,
            ..
        } => {
            let have = match timeframe.days() {
                None => snapshot.interactions_all_time(interactions),
                Some(days) => snapshot.interactions_within(interactions, days as u32),
            };
            one_at_least(
                Measured::Interactions {
                    interactions: interactions.clone(),
                    timeframe: *timeframe,
                },
                have as f64,
                *min_count as f64,
            )
        }
    }
}

/// A criterion of one requirement, "at least `want`" (every type but `multi_criteria`).
fn one_at_least(what: Measured, have: f64, want: f64) -> Assessment {
    Assessment {
        measures: vec![Measure {
            what,
            have,
            want,
            operator: Operator::Ge,
        }],
        logic: Logic::And,
    }
}

/// A `multi_criteria`: each requirement's counter compared as it says, combined by `logic`.
fn assess_requirements(
    requirements: &[Requirement],
    logic: Logic,
    snapshot: &Snapshot,
) -> Assessment {
    Assessment {
        measures: requirements
            .iter()
            .map(|r| Measure {
                what: Measured::Counter(r.field),
                have: snapshot.counter(r.field),
                want: r.value,
                operator: r.operator,
            })
            .collect(),
        logic,
    }
}

/// How many activity day items a criterion reads (0: none).
pub fn day_items_needed(criteria: &Criteria) -> u32 {
    match criteria {
        Criteria::ConsecutiveDays { days, .. } => days.saturating_add(1),
        Criteria::SocialInteraction { timeframe, .. } => timeframe.days().map_or(0, |d| d as u32),
        _ => 0,
    }
}

/// The day items a set of badges reads.
fn day_items_for<'a>(badges: impl IntoIterator<Item = &'a BadgeDefinition>) -> u32 {
    badges
        .into_iter()
        .map(|b| day_items_needed(&b.criteria))
        .max()
        .unwrap_or(0)
}

/// What an event changed for one user: the criteria reading any of it are re-checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    pub fields: Vec<CounterField>,
    pub actions: Vec<DailyAction>,
    pub event_types: Vec<EventType>,
    pub interactions: Vec<Interaction>,
}

impl Changes {
    /// A change of one counter.
    pub fn of_field(field: CounterField) -> Self {
        Changes::default().field(field)
    }

    fn field(mut self, field: CounterField) -> Self {
        self.fields.push(field);
        self
    }

    fn has_field(&self, field: CounterField) -> bool {
        self.fields.contains(&field)
    }

    /// True when the criterion reads something that changed.
    pub fn touches(&self, criteria: &Criteria) -> bool {
        match criteria {
            Criteria::Counter { field, .. } => self.has_field(*field),
            Criteria::MultiCriteria { requirements, .. } => {
                requirements.iter().any(|r| self.has_field(r.field))
            }
            Criteria::ConsecutiveDays { action, .. } => self.actions.contains(action),
            Criteria::EventBased { event_type, .. } => self.event_types.contains(event_type),
            Criteria::SocialInteraction { interactions, .. } => {
                interactions.iter().any(|i| self.interactions.contains(i))
            }
        }
    }
}

/// The counter a counted content event moves for its user.
fn own_field(t: EventType) -> Option<CounterField> {
    Some(match t {
        EventType::PostCreate | EventType::PostDelete => CounterField::PostsCount,
        EventType::CommentCreate | EventType::CommentDelete => CounterField::CommentsCount,
        EventType::LikeGiven | EventType::LikeRemoved => CounterField::LikesGiven,
        EventType::Share => CounterField::SharesCount,
        EventType::ReviewCreate => CounterField::ReviewsCount,
        EventType::BugReportVerified => CounterField::BugReportsVerified,
        _ => return None,
    })
}

/// What a counted content event changed for its user.
pub fn changes_of_activity(t: EventType) -> Changes {
    let mut changes = Changes {
        event_types: vec![t],
        actions: DailyAction::of_event(t).into_iter().collect(),
        interactions: [
            Interaction::Like,
            Interaction::Comment,
            Interaction::Share,
            Interaction::Review,
            Interaction::HelpfulVote,
        ]
        .into_iter()
        .filter(|i| i.event_type() == Some(t))
        .collect(),
        ..Changes::default()
    };
    if let Some(field) = own_field(t) {
        changes = changes.field(field);
    }
    changes
}

/// What a counted content event changed for the user it was about (`target_user`).
fn changes_of_received(t: EventType) -> Changes {
    let changes = Changes::default();
    match t {
        EventType::LikeGiven => changes
            .field(CounterField::LikesReceived)
            .field(CounterField::MaxPostLikes),
        EventType::LikeRemoved => changes.field(CounterField::LikesReceived),
        EventType::HelpfulVote => changes.field(CounterField::HelpfulVotesReceived),
        _ => changes,
    }
}

fn user_in(detail: &Json, names: &[&str]) -> Option<UserId> {
    names
        .iter()
        .find_map(|n| detail.get(*n).and_then(Json::as_i64))
        .filter(|id| *id > 0)
        .map(UserId)
}

/// The users a domain event changed, with what changed for each. Events that change nothing a
/// criterion reads give none.
pub fn affected_users(event: &DomainEvent) -> Vec<(UserId, Changes)> {
    let d = &event.detail;
    let mut out = Vec::new();
    match event.detail_type.as_str() {
        "UserFollowed" | "FollowRequestApproved" => {
            if let Some(follower) = user_in(d, &["follower"]) {
                let mut changes = Changes::default().field(CounterField::FollowingCount);
                changes.interactions.push(Interaction::Follow);
                out.push((follower, changes));
            }
            // A large account's follower count is in shards until the minute's fold, and the
            // fold task checks its badges then (`social::large`).
            let large = d.get("large").and_then(Json::as_bool) == Some(true);
            if let Some(followed) = user_in(d, &["followed"]).filter(|_| !large) {
                out.push((
                    followed,
                    Changes::default().field(CounterField::FollowerCount),
                ));
            }
        }
        // Counters that go down can satisfy `<`, `<=` and `!=` requirements.
        "UserUnfollowed" | "FollowerRemoved" => {
            if let Some(follower) = user_in(d, &["follower"]) {
                out.push((
                    follower,
                    Changes::default().field(CounterField::FollowingCount),
                ));
            }
            if let Some(followed) = user_in(d, &["followed"]) {
                out.push((
                    followed,
                    Changes::default().field(CounterField::FollowerCount),
                ));
            }
        }
        "ActivityCounted" => {
            let t = d
                .get("event_type")
                .and_then(Json::as_str)
                .and_then(EventType::parse);
            if let (Some(user), Some(t)) = (user_in(d, &["user_id", "user"]), t) {
                out.push((user, changes_of_activity(t)));
                if let Some(target) = user_in(d, &["target_user"]).filter(|u| *u != user) {
                    out.push((target, changes_of_received(t)));
                }
            }
        }
        stats::LOGGED_IN => {
            if let Some(user) = user_in(d, &["user_id", "user"]) {
                // A login also re-checks what no event announces: the role (staff badges),
                // the join order and the engagement score the scheduled tasks compute.
                let mut changes = Changes::default()
                    .field(CounterField::UserId)
                    .field(CounterField::IsStaff)
                    .field(CounterField::EngagementScore)
                    .field(CounterField::ContentQualityScore)
                    .field(CounterField::InteractionFrequency);
                changes.actions.push(DailyAction::Login);
                out.push((user, changes));
            }
        }
        "BadgeEarned" | "BadgeRevoked" => {
            if let Some(user) = user_in(d, &["user_id", "user"]) {
                out.push((
                    user,
                    Changes::default()
                        .field(CounterField::BadgePoints)
                        .field(CounterField::BadgesCount),
                ));
            }
        }
        _ => {}
    }
    out
}

/// Awards the badges of `candidates` the snapshot meets and does not hold.
async fn award_met(
    app: &App,
    snapshot: &Snapshot,
    candidates: &[&BadgeDefinition],
) -> Result<Vec<BadgeId>, Error> {
    let mut awarded = Vec::new();
    let mut first_error = None;
    for badge in candidates {
        if snapshot.held.contains(&badge.id) {
            continue;
        }
        let assessment = assess(&badge.criteria, snapshot);
        if !assessment.met() {
            continue;
        }
        let mut tries = Tries::new(Loop::BADGE_EVALUATION);
        loop {
            let data = assessment.data();
            match awards::award(
                app,
                crate::access::Admin::SYSTEM,
                snapshot.user,
                badge,
                AwardedBy::System,
                data,
                "",
            )
            .await
            {
                Ok(Some(_)) => {
                    awarded.push(badge.id);
                    break;
                }
                Ok(None) => break,
                // A concurrent award of the same badge (or another write to the profile)
                // conflicted: the put-if-absent decides on the next try.
                Err(Error::Unavailable { .. }) if tries.wait_for_another().await => continue,
                Err(e) => {
                    tracing::warn!(error = %e, user = snapshot.user.0, badge = badge.id.0, "badge award failed");
                    first_error.get_or_insert(e);
                    break;
                }
            }
        }
    }
    match first_error {
        Some(e) if awarded.is_empty() => Err(e),
        _ => Ok(awarded),
    }
}

/// Checks every active badge the user does not hold and awards those met (the daily sweep's
/// step for one user). Returns the badges awarded now.
pub async fn evaluate_user(app: &App, user: UserId) -> Result<Vec<BadgeId>, Error> {
    let active = definitions::list_active_cached(app).await?;
    evaluate_user_against(app, user, &active).await
}

/// [`evaluate_user`] with the active badges already read (a sweep reads them once).
pub async fn evaluate_user_against(
    app: &App,
    user: UserId,
    active: &[BadgeDefinition],
) -> Result<Vec<BadgeId>, Error> {
    if active.is_empty() {
        return Ok(Vec::new());
    }
    let snapshot = stats::read_snapshot(app, user, day_items_for(active)).await?;
    if snapshot.profile.as_ref().is_none_or(|p| p.deleting) {
        return Ok(Vec::new());
    }
    let candidates: Vec<&BadgeDefinition> = active.iter().collect();
    award_met(app, &snapshot, &candidates).await
}

/// Evaluates the badges a domain event can affect, for the users it names. Follow events
/// first mark the follower's day (the 7d/30d `follow` windows). Returns the awards made.
pub async fn evaluate_for_event(
    app: &App,
    event: &DomainEvent,
) -> Result<Vec<(UserId, BadgeId)>, Error> {
    let affected = affected_users(event);
    if affected.is_empty() {
        return Ok(Vec::new());
    }
    if matches!(
        event.detail_type.as_str(),
        "UserFollowed" | "FollowRequestApproved"
    ) && let (Some(follower), Some(followed)) = (
        user_in(&event.detail, &["follower"]),
        user_in(&event.detail, &["followed"]),
    ) {
        stats::record_follow(app, follower, followed, event.time).await?;
    }
    let active = definitions::list_active_cached(app).await?;
    let mut awarded = Vec::new();
    for (user, changes) in affected {
        let candidates: Vec<&BadgeDefinition> = active
            .iter()
            .filter(|b| changes.touches(&b.criteria))
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let snapshot =
            stats::read_snapshot(app, user, day_items_for(candidates.iter().copied())).await?;
        if snapshot.profile.as_ref().is_none_or(|p| p.deleting) {
            continue;
        }
        for badge in award_met(app, &snapshot, &candidates).await? {
            awarded.push((user, badge));
        }
    }
    Ok(awarded)
}

/// The badge evaluator as a subscriber of the in-process bus (subscribed by `App::assemble`
/// when `BADGES_EVALUATE_ON_BUS` is on). It holds the App's ports, not the App (the App owns
/// the bus, which owns its subscribers), and the bus only weakly, so nothing leaks.
pub struct BusEvaluator {
    parts: crate::app::AppParts,
}

impl BusEvaluator {
    /// The evaluator over the ports of `app`, which must use the in-process bus.
    pub fn new(app: &App) -> Option<BusEvaluator> {
        Some(BusEvaluator {
            parts: crate::app::AppParts::of(app)?,
        })
    }
}

#[async_trait::async_trait]
impl crate::bus::Subscriber for BusEvaluator {
    async fn handle(&self, event: &DomainEvent) {
        if event.source != crate::bus::EVENT_SOURCE {
            return;
        }
        let Some(app) = self.parts.app() else {
            return;
        };
        // A failure is logged: the daily sweep awards what an event missed.
        if let Err(e) = evaluate_for_event(&app, event).await {
            tracing::warn!(error = %e, detail_type = %event.detail_type, "badge evaluation failed");
        }
    }
}
