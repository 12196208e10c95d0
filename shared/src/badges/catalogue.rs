//! The seed's catalogue: its 14 badges, each with criteria the evaluator can meet from the
//! data `stats` maintains, and three tiered series where the seed's badges have natural steps
//! (its "Progressive Difficulty: Bronze, Silver, Gold"): Content Creator by posts, Daily
//! Visitor by streak, Like Enthusiast by likes given (to platinum). Installed by
//! `accounts-admin install-badges`.
//!
//! Installing is idempotent: a badge whose name exists (any case, active or not) is left as it
//! is, so an administrator's later edits survive a second install; the missing ones are
//! created. Two installs racing are safe too: the unique name item lets one create win.

use serde::Serialize;
use serde_json::json;

use super::criteria::{Criteria, Logic, Operator, Requirement, Timeframe};
use super::definitions::{self, Category, NewBadge, Rarity, Tier};
use super::stats::{CounterField, DailyAction};
use crate::App;
use crate::activity::events::EventType;
use crate::error::Error;

fn counter(field: CounterField, threshold: f64, description: &str) -> Criteria {
    Criteria::Counter {
        field,
        threshold,
        description: Some(description.into()),
    }
}

fn requirement(field: CounterField, operator: Operator, value: f64) -> Requirement {
    Requirement {
        field,
        operator,
        value,
    }
}

#[allow(clippy::too_many_arguments)]
fn badge(
    name: &str,
    description: &str,
    category: Category,
    icon: &str,
    color: &str,
    rarity: Rarity,
    points: i64,
    criteria: Criteria,
) -> NewBadge {
    NewBadge {
        name: name.into(),
        description: description.into(),
        category,
        icon: icon.into(),
        color: color.into(),
        image: None,
        criteria,
        points,
        rarity,
        is_active: true,
        series: None,
        tier: None,
    }
}

/// The catalogue's badges, in the seed's order.
/// A data table (one entry per badge), long by nature: nothing to split.
pub fn badges() -> Vec<NewBadge> {
    use Category::{Achievement, Activity, Special};
    use CounterField as F;
    vec![
        badge(
            "First Post",
            "Create your first post.",
            Achievement,
            "fas fa-star",
            "#FFD700",
            Rarity::Common,
            10,
            counter(F::PostsCount, 1.0, "Create your first post"),
        ),
        badge(
            "Popular Creator",
            "Receive 100+ likes on a single post.",
            Achievement,
            "fas fa-fire",
            "#FF5722",
            Rarity::Epic,
            200,
            counter(F::MaxPostLikes, 100.0, "Receive 100 likes on a single post"),
        ),
        badge(
            "Community Helper",
            "Receive 50+ helpful votes on your comments.",
            Achievement,
            "fas fa-hands-helping",
            "#4CAF50",
            Rarity::Rare,
            75,
            counter(F::HelpfulVotesReceived, 50.0, "Receive 50 helpful votes"),
        ),
        badge(
            "Consistent Contributor",
            "Post items for 30 consecutive days.",
            Achievement,
            "fas fa-calendar-check",
            "#3F51B5",
            Rarity::Epic,
            250,
            Criteria::ConsecutiveDays {
                action: DailyAction::Post,
                days: 30,
                description: Some("Post on 30 consecutive days".into()),
            },
        ),
        badge(
            "Expert Reviewer",
            "Write 10+ detailed reviews.",
            Achievement,
            "fas fa-pen-fancy",
            "#9C27B0",
            Rarity::Rare,
            100,
            Criteria::EventBased {
                event_type: EventType::ReviewCreate,
                count: 10,
                quality_threshold: Some(4.0),
                description: Some("Write 10 reviews of quality 4.0 or better".into()),
            },
        ),
        badge(
            "Early Adopter",
            "Join within the first 1000 users.",
            Activity,
            "fas fa-seedling",
            "#8BC34A",
            Rarity::Rare,
            100,
            Criteria::MultiCriteria {
                requirements: vec![requirement(F::UserId, Operator::Le, 1000.0)],
                logic: Logic::And,
                description: Some("Be one of the first 1000 users".into()),
            },
        ),
        badge(
            "Social Butterfly",
            "Follow 50+ users and get 100+ followers.",
            Activity,
            "fas fa-users",
            "#E91E63",
            Rarity::Rare,
            100,
            Criteria::MultiCriteria {
                requirements: vec![
                    requirement(F::FollowingCount, Operator::Ge, 50.0),
                    requirement(F::FollowerCount, Operator::Ge, 100.0),
                ],
                logic: Logic::And,
                description: Some("Follow 50 users and have 100 followers".into()),
            },
        ),
        badge(
            "Comment Champion",
            "Leave 500+ comments.",
            Activity,
            "fas fa-comments",
            "#00BCD4",
            Rarity::Epic,
            150,
            counter(F::CommentsCount, 500.0, "Leave 500 comments"),
        ),
        badge(
            "Like Enthusiast",
            "Give 1000+ likes to other users.",
            Activity,
            "fas fa-heart",
            "#F44336",
            Rarity::Rare,
            75,
            Criteria::SocialInteraction {
                interactions: vec![super::stats::Interaction::Like],
                min_count: 1000,
                timeframe: Timeframe::AllTime,
                description: Some("Give 1000 likes".into()),
            },
        ),
        badge(
            "Daily Visitor",
            "Log in for 30 consecutive days.",
            Activity,
            "fas fa-door-open",
            "#607D8B",
            Rarity::Rare,
            100,
            Criteria::ConsecutiveDays {
                action: DailyAction::Login,
                days: 30,
                description: Some("Log in on 30 consecutive days".into()),
            },
        ),
        badge(
            "Beta Tester",
            "Take part in platform beta testing: have a bug report verified (administrators \
             also award it to other beta participants with award-badge).",
            Special,
            "fas fa-flask",
            "#795548",
            Rarity::Rare,
            50,
            Criteria::EventBased {
                event_type: EventType::BugReportVerified,
                count: 1,
                quality_threshold: None,
                description: Some("Have a beta bug report verified".into()),
            },
        ),
        badge(
            "Bug Hunter",
            "Report verified platform bugs.",
            Special,
            "fas fa-bug",
            "#FF9800",
            Rarity::Epic,
            150,
            counter(F::BugReportsVerified, 5.0, "Have 5 bug reports verified"),
        ),
        badge(
            "Community Leader",
            "Become a moderator or admin.",
            Special,
            "fas fa-crown",
            "#673AB7",
            Rarity::Legendary,
            500,
            counter(F::IsStaff, 1.0, "Become a moderator or administrator"),
        ),
        badge(
            "Content Creator",
            "Reach 1000+ followers.",
            Special,
            "fas fa-video",
            "#2196F3",
            Rarity::Legendary,
            500,
            counter(F::FollowerCount, 1000.0, "Reach 1000 followers"),
        ),
    ]
}

/// One tier of a series: named `<series>: <Tier>`.
fn tier(mut badge: NewBadge, series: &str, tier: Tier) -> NewBadge {
    badge.series = Some(series.into());
    badge.tier = Some(tier);
    badge
}

/// The tiered series, lowest tier first in each.
/// A data table (one entry per tier), long by nature: nothing to split.
pub fn tiered() -> Vec<NewBadge> {
    use Category::{Achievement, Activity};
    use CounterField as F;
    let streak = |days: u32| Criteria::ConsecutiveDays {
        action: DailyAction::Login,
        days,
        description: Some(format!("Visit on {days} consecutive days")),
    };
    let posts = |n: f64| counter(F::PostsCount, n, &format!("Create {n} posts"));
    let likes = |n: f64| counter(F::LikesGiven, n, &format!("Give {n} likes"));
    vec![
        tier(
            badge(
                "Content Creator: Bronze",
                "Create 10 posts.",
                Achievement,
                "fas fa-pen",
                "#CD7F32",
                Rarity::Common,
                15,
                posts(10.0),
            ),
            "Content Creator",
            Tier::Bronze,
        ),
        tier(
            badge(
                "Content Creator: Silver",
                "Create 50 posts.",
                Achievement,
                "fas fa-pen",
                "#C0C0C0",
                Rarity::Rare,
                50,
                posts(50.0),
            ),
            "Content Creator",
            Tier::Silver,
        ),
        tier(
            badge(
                "Content Creator: Gold",
                "Create 250 posts.",
                Achievement,
                "fas fa-pen",
                "#FFD700",
                Rarity::Epic,
                150,
                posts(250.0),
            ),
            "Content Creator",
            Tier::Gold,
        ),
        tier(
            badge(
                "Daily Visitor: Bronze",
                "Visit on 7 consecutive days.",
                Activity,
                "fas fa-door-open",
                "#CD7F32",
                Rarity::Common,
                20,
                streak(7),
            ),
            "Daily Visitor",
            Tier::Bronze,
        ),
        tier(
            badge(
                "Daily Visitor: Silver",
                "Visit on 90 consecutive days.",
                Activity,
                "fas fa-door-open",
                "#C0C0C0",
                Rarity::Rare,
                100,
                streak(90),
            ),
            "Daily Visitor",
            Tier::Silver,
        ),
        tier(
            badge(
                "Daily Visitor: Gold",
                "Visit on 365 consecutive days.",
                Activity,
                "fas fa-door-open",
                "#FFD700",
                Rarity::Epic,
                300,
                streak(365),
            ),
            "Daily Visitor",
            Tier::Gold,
        ),
        tier(
            badge(
                "Like Enthusiast: Bronze",
                "Give 100 likes.",
                Activity,
                "fas fa-heart",
                "#CD7F32",
                Rarity::Common,
                10,
                likes(100.0),
            ),
            "Like Enthusiast",
            Tier::Bronze,
        ),
        tier(
            badge(
                "Like Enthusiast: Silver",
                "Give 500 likes.",
                Activity,
                "fas fa-heart",
                "#C0C0C0",
                Rarity::Common,
                25,
                likes(500.0),
            ),
            "Like Enthusiast",
            Tier::Silver,
        ),
        tier(
            badge(
                "Like Enthusiast: Gold",
                "Give 2500 likes.",
                Activity,
                "fas fa-heart",
                "#FFD700",
                Rarity::Rare,
                75,
                likes(2500.0),
            ),
            "Like Enthusiast",
            Tier::Gold,
        ),
        tier(
            badge(
                "Like Enthusiast: Platinum",
                "Give 10000 likes.",
                Activity,
                "fas fa-heart",
                "#E5E4E2",
                Rarity::Epic,
                200,
                likes(10000.0),
            ),
            "Like Enthusiast",
            Tier::Platinum,
        ),
    ]
}

/// What an install did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InstallReport {
    /// Names created now.
    pub created: Vec<String>,
    /// Names that existed already (left unchanged).
    pub existing: Vec<String>,
}

impl InstallReport {
    pub fn to_json(&self) -> serde_json::Value {
        json!({ "created": self.created, "existing": self.existing })
    }
}

/// Creates the catalogue's badges that do not exist yet (by name, any case); leaves the others.
pub async fn install(app: &App) -> Result<InstallReport, Error> {
    let mut report = InstallReport::default();
    for new in badges().into_iter().chain(tiered()) {
        let name = new.name.clone();
        if definitions::find_by_name(app, &name).await?.is_some() {
            report.existing.push(name);
            continue;
        }
        match definitions::create(app, crate::access::Admin::SYSTEM, new).await {
            Ok(_) => report.created.push(name),
            // Another install created it between the lookup and the create.
            Err(Error::Invalid(errors)) if errors.0.contains_key("name") => {
                report.existing.push(name)
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}
