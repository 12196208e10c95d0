//! Progress towards the badges a user has not earned: `GET /api/users/{id}/badge-progress/`.
//!
//! One snapshot of the user's data (`stats::read_snapshot`: a batch get, plus one query of
//! activity days when an active badge has a streak or a 7d/30d window) and the active
//! definitions (one query); every badge is measured from those, none reads on its own.
//! Only the user themself and staff may look: progress reveals activity counts (likes given,
//! login streaks) that profiles do not show.

use serde_json::{Value as Json, json};

use super::criteria::{Logic, Operator, Timeframe};
use super::definitions::{self, BadgeDefinition, Tier};
use super::evaluate::{Assessment, Measure, Measured, assess, day_items_needed};
use super::stats::{self, CounterField, Interaction};
use crate::App;
use crate::auth::Principal;
use crate::error::Error;
use crate::model::UserId;

pub const NOT_YOURS: &str = "You may only see your own badge progress.";

/// Progress towards one badge.
#[derive(Clone, Debug, PartialEq)]
pub struct BadgeProgress {
    pub badge: BadgeDefinition,
    pub assessment: Assessment,
    /// For a tier of a series: the highest tier of that series the user holds.
    pub current_tier: Option<Tier>,
}

impl BadgeProgress {
    /// The seed's shape: `{badge, progress, requirements_met, total_requirements,
    /// next_milestone}`.
    pub fn view(&self) -> Json {
        json!({
            "badge": self.badge.view(),
            "progress": self.assessment.percent(),
            "requirements_met": self.assessment.requirements_met(),
            "total_requirements": self.assessment.measures.len(),
            "next_milestone": next_milestone(&self.assessment),
            "series": self.badge.series,
            "tier": self.badge.tier,
            "current_tier": self.current_tier,
        })
    }
}

/// What progress reads, before anything is decided: the active definitions (cached for a
/// few seconds, `definitions::list_active_cached`) and one snapshot of the user's data. Only
/// reads (`http::auth::caller_with` may start it beside the authentication); [`badge_progress`]
/// decides.
pub struct ProgressReads {
    active: std::sync::Arc<Vec<BadgeDefinition>>,
    snapshot: stats::Snapshot,
}

pub async fn progress_reads(app: &App, user: UserId) -> Result<ProgressReads, Error> {
    let active = definitions::list_active_cached(app).await?;
    let days = active
        .iter()
        .map(|b| day_items_needed(&b.criteria))
        .max()
        .unwrap_or(0);
    // The user's data and the badges' holder counts (their views show them), side by side.
    let (snapshot, counted) = tokio::join!(
        stats::read_snapshot(app, user, days),
        definitions::with_earned_counts(app, active.as_ref().clone())
    );
    Ok(ProgressReads {
        active: std::sync::Arc::new(counted?),
        snapshot: snapshot?,
    })
}

/// The user's progress towards every active badge they do not hold, in badge id order. The
/// user themself or staff; anyone else 403; an unknown user 404.
pub fn badge_progress(
    actor: &Principal,
    user: UserId,
    reads: ProgressReads,
) -> Result<Vec<BadgeProgress>, Error> {
    if actor.id() != user && !actor.user.role.is_staff() {
        return Err(Error::Forbidden(NOT_YOURS.into()));
    }
    let ProgressReads { active, snapshot } = reads;
    if snapshot.profile.as_ref().is_none_or(|p| p.deleting) {
        return Err(Error::NotFound);
    }
    // A series shows only its next tier: the lowest one not held (the higher ones follow).
    let series_key = |b: &BadgeDefinition| b.series.as_ref().map(|s| s.to_lowercase());
    let held_tier = |series: &str| {
        active
            .iter()
            .filter(|d| snapshot.held.contains(&d.id))
            .filter(|d| series_key(d).as_deref() == Some(series))
            .filter_map(|d| d.tier)
            .max()
    };
    let next_tier = |series: &str| {
        active
            .iter()
            .filter(|d| !snapshot.held.contains(&d.id))
            .filter(|d| series_key(d).as_deref() == Some(series))
            .filter_map(|d| d.tier)
            .min()
    };
    Ok(active
        .iter()
        .filter(|b| !snapshot.held.contains(&b.id))
        .filter(|b| match (series_key(b), b.tier) {
            (Some(series), Some(tier)) => next_tier(&series) == Some(tier),
            _ => true,
        })
        .map(|badge| {
            let assessment = assess(&badge.criteria, &snapshot);
            BadgeProgress {
                badge: badge.clone(),
                assessment,
                current_tier: series_key(badge).and_then(|s| held_tier(&s)),
            }
        })
        .collect())
}

/// "Need 25 more posts", "Need 1 more post".
fn need_more(n: u64, (one, many): (&str, &str)) -> String {
    format!("Need {n} more {}", if n == 1 { one } else { many })
}

/// A number as a milestone shows it: whole numbers without a fraction.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x:.1}")
    }
}

fn interactions_phrase(interactions: &[Interaction]) -> String {
    let names: Vec<&str> = interactions
        .iter()
        .map(|i| match i {
            Interaction::Like => "likes",
            Interaction::Comment => "comments",
            Interaction::Share => "shares",
            Interaction::Review => "reviews",
            Interaction::HelpfulVote => "helpful votes",
            Interaction::Follow => "follows",
        })
        .collect();
    match names.as_slice() {
        [] => "interactions".into(),
        [one] => (*one).into(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn timeframe_phrase(timeframe: Timeframe) -> &'static str {
    match timeframe {
        Timeframe::AllTime => "",
        Timeframe::Last30Days => " in the last 30 days",
        Timeframe::Last7Days => " in the last 7 days",
    }
}

/// How far from an "at least" target: the whole units still missing.
fn missing(have: f64, want: f64, strict: bool) -> u64 {
    let gap = want - have;
    let units = if strict {
        gap.floor() + 1.0
    } else {
        gap.ceil()
    };
    units.max(1.0) as u64
}

/// The human next step of one requirement that does not hold.
fn milestone_of(m: &Measure) -> String {
    let strict = m.operator == Operator::Gt;
    let at_least = matches!(m.operator, Operator::Ge | Operator::Gt);
    match &m.what {
        Measured::Counter(CounterField::IsStaff) => "Become a moderator or administrator".into(),
        Measured::Counter(CounterField::UserId) => match m.operator {
            Operator::Le => format!("Only the first {} users qualify", number(m.want)),
            Operator::Lt => format!("Only users before #{} qualify", number(m.want)),
            _ => format!("Needs a user id {} {}", m.operator.as_str(), number(m.want)),
        },
        Measured::Counter(field) if at_least => {
            let n = missing(m.have, m.want, strict);
            need_more(n, field.unit())
        }
        Measured::Counter(field) => {
            let (_, many) = field.unit();
            match m.operator {
                Operator::Le => format!("Need at most {} {many}", number(m.want)),
                Operator::Lt => format!("Need fewer than {} {many}", number(m.want)),
                Operator::Eq => format!("Need exactly {} {many}", number(m.want)),
                _ => format!("Need a number of {many} other than {}", number(m.want)),
            }
        }
        Measured::Streak { action, current } => {
            let n = (m.want as u64).saturating_sub(u64::from(*current)).max(1);
            format!(
                "{} {} more consecutive {}",
                action.verb(),
                n,
                if n == 1 { "day" } else { "days" }
            )
        }
        Measured::Events {
            event_type,
            quality,
        } => {
            let n = missing(m.have, m.want, false);
            let what = event_type.as_str().replace('_', " ");
            let events = if n == 1 { "event" } else { "events" };
            match quality {
                Some(q) => format!("Need {n} more {what} {events} of quality {q:.1} or better"),
                None => format!("Need {n} more {what} {events}"),
            }
        }
        Measured::Interactions {
            interactions,
            timeframe,
        } => {
            let n = missing(m.have, m.want, false);
            format!(
                "Need {n} more {}{}",
                interactions_phrase(interactions),
                timeframe_phrase(*timeframe)
            )
        }
    }
}

/// The next step towards a badge: the first requirement not met (AND), or the closest one
/// (OR). A met badge not yet awarded says so (the next evaluation awards it).
pub fn next_milestone(assessment: &Assessment) -> String {
    if assessment.met() {
        return "All requirements met: the badge is awarded at the next evaluation".into();
    }
    let mut open = assessment.measures.iter().filter(|m| !m.holds());
    let pick = match assessment.logic {
        Logic::And => open.next(),
        // The closest; on a tie the first listed.
        Logic::Or => open.fold(None, |best: Option<&Measure>, m| match best {
            Some(b) if b.fraction() >= m.fraction() => Some(b),
            _ => Some(m),
        }),
    };
    pick.map(milestone_of).unwrap_or_default()
}
