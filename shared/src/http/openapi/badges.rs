//! The Badges group: definitions, awards, the leaderboard, analytics and progress
//! (`docs/badges.md`).

use serde_json::{Value as Json, json};

use super::schemas::{boolean, integer, nullable_string, nullable_time, page, r, string, time};
use super::{Access, Op, bool_query, int_id, op, or_empty};

const CATEGORIES: [&str; 3] = ["achievement", "activity", "special"];
const RARITIES: [&str; 4] = ["common", "rare", "epic", "legendary"];
const CRITERIA_TYPES: [&str; 5] = [
    "counter",
    "consecutive_days",
    "multi_criteria",
    "event_based",
    "social_interaction",
];

/// The component schemas of this group.
pub(super) fn schemas() -> Json {
    json!({
        "BadgeCriteria": {
            "type": "object",
            "description": "A typed criteria document, tagged by `type`: `counter` {field, \
                threshold}, `consecutive_days` {action, days}, `multi_criteria` {requirements \
                [{field, operator, value}], logic AND|OR}, `event_based` {event_type, count, \
                quality_threshold?}, `social_interaction` {interactions, min_count, timeframe \
                all_time|30d|7d}; `description` optional. Anything else is a 400 naming the \
                path inside `criteria`.",
            "required": ["type"],
            "properties": { "type": { "type": "string", "enum": CRITERIA_TYPES } },
        },
        "Badge": {
            "type": "object",
            "required": ["id", "name", "description", "category", "icon", "color", "image",
                         "criteria", "points", "rarity", "is_active", "earned_count",
                         "created_at", "updated_at"],
            "properties": {
                "id": { "type": "integer", "minimum": 1 },
                "name": string(),
                "description": string(),
                "category": { "type": "string", "enum": CATEGORIES },
                "icon": string(),
                "color": string(),
                "image": nullable_string(),
                "criteria": r("BadgeCriteria"),
                "points": integer(),
                "rarity": { "type": "string", "enum": RARITIES },
                "is_active": boolean(),
                "earned_count": { "type": "integer", "minimum": 0 },
                "series": { "type": ["string", "null"], "description": "The series this badge is a tier of, with `tier`." },
                "tier": { "type": ["string", "null"], "enum": ["bronze", "silver", "gold", "platinum", null] },
                "created_at": time(),
                "updated_at": time(),
            },
        },
        "TierCounts": {
            "type": "object",
            "required": ["bronze", "silver", "gold", "platinum"],
            "properties": {
                "bronze": integer(), "silver": integer(), "gold": integer(), "platinum": integer(),
            },
        },
        "UserBadge": {
            "type": "object",
            "required": ["id", "user", "badge", "earned_at", "progress_data", "is_featured",
                         "awarded_by", "notes", "points"],
            "properties": {
                "id": { "type": "string", "pattern": "^[0-9]+-[0-9]+$" },
                "user": { "type": "integer", "minimum": 1 },
                "badge": {
                    "description": "The definition, embedded (just `{id}` if it is gone).",
                    "type": "object",
                    "required": ["id"],
                },
                "earned_at": time(),
                "progress_data": { "type": "object" },
                "is_featured": boolean(),
                "awarded_by": { "type": "string", "enum": ["system", "admin", "manual"] },
                "notes": string(),
                "points": integer(),
            },
        },
    })
}

fn badge_body(required: &[&str]) -> Json {
    json!({
        "type": "object",
        "required": required,
        "additionalProperties": false,
        "properties": {
            "name": string(),
            "description": string(),
            "category": { "type": "string", "enum": CATEGORIES },
            "icon": string(),
            "color": { "type": "string", "pattern": "^#[0-9A-Fa-f]{6}$" },
            "image": { "type": ["string", "null"], "description": "A URL; empty or null for none." },
            "criteria": r("BadgeCriteria"),
            "points": { "type": "integer", "description": "Within the rarity's band: common 10-25, rare 50-100, epic 150-300, legendary >= 500." },
            "rarity": { "type": "string", "enum": RARITIES },
            "is_active": boolean(),
            "series": { "type": ["string", "null"], "description": "A series (at most 100 characters) this badge is a tier of; `tier` with it, or both null." },
            "tier": { "type": ["string", "null"], "enum": ["bronze", "silver", "gold", "platinum", null], "description": "One definition per tier of a series." },
            "id": { "description": "Read-only: ignored." },
            "created_at": { "description": "Read-only: ignored." },
            "updated_at": { "description": "Read-only: ignored." },
            "earned_count": { "description": "Read-only: ignored." },
        },
    })
}

pub(super) fn operations() -> Vec<Op> {
    let badge_id = |o: Op| o.path_param("id", int_id(), "The badge definition's id.");
    let award_id = |o: Op| {
        o.path_param(
            "id",
            json!({ "type": "string", "pattern": "^[0-9]+-[0-9]+$" }),
            "`<user>-<badge>`.",
        )
    };
    let required = [
        "name",
        "description",
        "category",
        "icon",
        "color",
        "criteria",
    ];
    let leaderboard_entry = json!({
        "type": "object",
        "required": ["rank", "user", "badge_points", "total_badges", "recent_badges"],
        "properties": {
            "rank": { "type": "integer", "minimum": 1 },
            "user": { "anyOf": [r("UserCard"), { "type": "null" }], "description": "Null for a private account the viewer does not follow (`anonymous`)." },
            "anonymous": { "type": "boolean" },
            "badge_points": integer(),
            "total_badges": integer(),
            "recent_badges": integer(),
            "tiers": { "allOf": [r("TierCounts")], "description": "The counted badges (all time: held; 30d: earned in the window) per tier." },
        },
    });
    let counted = |key: &str| {
        json!({
            "type": "array",
            "items": {
                "type": "object",
                "required": [key, "count"],
                "properties": { key: string(), "count": integer() },
            },
        })
    };
    let mut ops = vec![
        op("GET", "/api/badges/", "badges")
            .summary("Badge definitions: active ones for everyone, all for administrators")
            .access(Access::Optional)
            .query("category", or_empty(json!({ "type": "string", "enum": CATEGORIES })), "Only this category.")
            .query("rarity", or_empty(json!({ "type": "string", "enum": RARITIES })), "Only this rarity.")
            .query("is_active", or_empty(bool_query()), "Only active (or inactive) ones.")
            .paged()
            .respond(200, "A page of definitions, with `count`: how many match the filters.", page(r("Badge"), true))
            .links_to(
                200,
                "/api/badges/{id}/",
                &["GET", "PUT", "PATCH", "DELETE"],
                "$response.body#/results/0/id",
            )
            .errors(&[400]),
        op("POST", "/api/badges/", "badges")
            .summary("Create a badge definition (administrators)")
            .access(Access::Verified)
            .body(badge_body(&required))
            .example(json!({
                "name": "First Post", "description": "Published a first post",
                "category": "achievement", "icon": "pencil", "color": "#3366FF",
                "criteria": { "type": "counter", "field": "posts_count", "threshold": 1 },
                "points": 10, "rarity": "common", "is_active": true,
            }))
            .respond(201, "The definition.", r("Badge"))
            .links_to(
                201,
                "/api/badges/{id}/",
                &["GET", "PUT", "PATCH", "DELETE"],
                "$response.body#/id",
            )
            .errors(&[409]),
        op("GET", "/api/badges/leaderboard/", "badges")
            .summary("Top 50 by badge points, then badge count")
            .access(Access::Verified)
            .query("timeframe", or_empty(json!({ "type": "string", "enum": ["all_time", "30d"] })), "Default all_time.")
            .respond(
                200,
                "The board.",
                json!({
                    "type": "object",
                    "required": ["timeframe", "complete", "results"],
                    "properties": {
                        "timeframe": { "type": "string", "enum": ["all_time", "30d"] },
                        "complete": boolean(),
                        "results": { "type": "array", "items": leaderboard_entry },
                    },
                }),
            )
            .errors(&[400]),
        op("GET", "/api/badges/analytics/", "badges")
            .summary("Badge analytics from maintained aggregates (administrators)")
            .access(Access::Verified)
            .respond(
                200,
                "The figures.",
                json!({
                    "type": "object",
                    "required": ["total_badges_defined", "active_badges", "total_awards",
                                 "unique_badge_holders", "badges_by_category", "popular_badges",
                                 "recent_awards", "rarity_distribution"],
                    "properties": {
                        "total_badges_defined": integer(),
                        "active_badges": integer(),
                        "total_awards": integer(),
                        "unique_badge_holders": integer(),
                        "badges_by_category": counted("category"),
                        "popular_badges": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["badge_id", "badge__name", "name", "earned_count"],
                                "properties": {
                                    "badge_id": integer(),
                                    "badge__name": { "type": "string", "description": "The seed's name for the badge's name." },
                                    "name": string(),
                                    "earned_count": integer(),
                                },
                            },
                        },
                        "recent_awards": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "user", "badge", "earned_at", "awarded_by", "points"],
                                "properties": {
                                    "id": string(),
                                    "user": { "type": "object", "properties": { "id": integer(), "username": nullable_string() } },
                                    "badge": { "type": "object", "properties": { "id": integer(), "name": nullable_string() } },
                                    "earned_at": time(),
                                    "awarded_by": string(),
                                    "points": integer(),
                                },
                            },
                        },
                        "rarity_distribution": counted("rarity"),
                        "tier_distribution": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["tier", "count", "earned_count"],
                                "properties": { "tier": string(), "count": integer(), "earned_count": integer() },
                            },
                        },
                    },
                }),
            ),
        badge_id(op("GET", "/api/badges/{id}/", "badges"))
            .summary("One definition (an inactive one only to administrators)")
            .access(Access::Optional)
            .respond(200, "The definition.", r("Badge"))
            .errors(&[404]),
        badge_id(op("DELETE", "/api/badges/{id}/", "badges"))
            .summary("Delete a definition, its awards and the points they gave (administrators)")
            .access(Access::Verified)
            .no_content()
            .errors(&[404, 409]),
        op("GET", "/api/user-badges/", "badges")
            .summary("A user's badges (default the caller), definitions embedded")
            .access(Access::Verified)
            .query("user", or_empty(json!({ "type": "integer", "minimum": 1 })), "Whose badges.")
            .query("is_featured", or_empty(bool_query()), "Only the featured ones.")
            .query("showcase", or_empty(bool_query()), "Of each badge series only the highest tier held, all in one page.")
            .paged()
            .respond(200, "A page with `count`.", page(r("UserBadge"), true))
            .errors(&[400, 404]),
        op("POST", "/api/user-badges/", "badges")
            .summary("Award a badge (administrators); 409 if the user holds it")
            .access(Access::Verified)
            .body(json!({
                "type": "object",
                "required": ["user", "badge"],
                "additionalProperties": false,
                "properties": {
                    "user": {
                        "anyOf": [
                            { "type": "integer", "minimum": 1 },
                            { "type": "string", "pattern": "^\\s*[0-9]+\\s*$" },
                        ],
                    },
                    "badge": { "type": "integer", "minimum": 1 },
                    "notes": { "type": ["string", "null"], "maxLength": 500 },
                    "progress_data": { "type": ["object", "null"] },
                    "awarded_by": { "type": ["string", "null"], "enum": ["system", "admin", "manual", null] },
                },
            }))
            .example(json!({ "user": 2, "badge": 1, "notes": "Welcome aboard" }))
            .respond(201, "The award.", r("UserBadge"))
            .links_to(
                201,
                "/api/user-badges/{id}/",
                &["GET", "PATCH", "DELETE"],
                "$response.body#/id",
            )
            .errors(&[409]),
        award_id(op("GET", "/api/user-badges/{id}/", "badges"))
            .summary("One award, definition embedded")
            .access(Access::Verified)
            .respond(200, "The award.", r("UserBadge"))
            .errors(&[404]),
        award_id(op("PATCH", "/api/user-badges/{id}/", "badges"))
            .summary("Feature or unfeature one of the caller's badges (at most 6 featured)")
            .access(Access::Verified)
            .body(json!({
                "type": "object",
                "required": ["is_featured"],
                "additionalProperties": false,
                "properties": { "is_featured": boolean() },
            }))
            .example(json!({ "is_featured": true }))
            .respond(200, "The award.", r("UserBadge"))
            .errors(&[404, 409]),
        award_id(op("DELETE", "/api/user-badges/{id}/", "badges"))
            .summary("Revoke an award and take its points back (administrators)")
            .access(Access::Verified)
            .no_content()
            .errors(&[404, 409]),
        op("GET", "/api/users/{id}/badge-progress/", "badges")
            .path_param("id", int_id(), "The user's id.")
            .summary("Progress towards each active badge the user does not hold (the user or staff)")
            .access(Access::Verified)
            .respond(
                200,
                "One entry per unearned active badge, in badge id order.",
                json!({
                    "type": "object",
                    "required": ["eligible_badges"],
                    "properties": {
                        "eligible_badges": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["badge", "progress", "requirements_met",
                                             "total_requirements", "next_milestone"],
                                "properties": {
                                    "badge": r("Badge"),
                                    "progress": { "type": "number", "minimum": 0, "maximum": 100 },
                                    "requirements_met": { "type": "integer", "minimum": 0 },
                                    "total_requirements": { "type": "integer", "minimum": 0 },
                                    "next_milestone": nullable_string(),
                                    "series": nullable_string(),
                                    "tier": nullable_string(),
                                    "current_tier": { "type": ["string", "null"], "description": "The highest tier of the series the user holds." },
                                },
                            },
                        },
                    },
                }),
            )
            .errors(&[404]),
    ];
    for (method, required) in [("PUT", &required[..]), ("PATCH", &[][..])] {
        ops.push(
            badge_id(op(method, "/api/badges/{id}/", "badges"))
                .summary(
                    "Change a definition (administrators); PUT needs every field without a default",
                )
                .access(Access::Verified)
                .body(badge_body(required))
                .respond(200, "The definition.", r("Badge"))
                .errors(&[404, 409]),
        );
    }
    ops
}

/// The scheduled tasks' records (group Activity): `/api/tasks/runs/` and `/api/reports/`.
pub(super) fn task_operations() -> Vec<Op> {
    let count = || json!({ "type": "integer", "minimum": 0 });
    let run = json!({
        "type": "object",
        "required": ["run_id", "task", "status", "started_at", "finished_at", "duration_ms",
                     "items_read", "items_written", "items_fixed"],
        "properties": {
            "run_id": string(),
            "task": string(),
            "status": { "type": "string", "enum": ["completed", "checkpointed", "skipped", "failed"] },
            "started_at": time(),
            "finished_at": time(),
            "duration_ms": count(),
            "items_read": count(),
            "items_written": count(),
            "items_fixed": count(),
            "details": { "type": "object", "additionalProperties": count() },
            "resumed_from": nullable_string(),
            "walk_started_at": time(),
            "pages": count(),
            "error": nullable_string(),
        },
    });
    let report = json!({
        "type": "object",
        "required": ["date"],
        "properties": {
            "date": { "type": "string", "format": "date" },
            "new_users": count(),
            "verified_users": count(),
            "active_users": count(),
            "logins": count(),
            "follows": count(),
            "badges_awarded": count(),
            "users_total": count(),
            "verified_total": count(),
            "events_by_type": { "type": "object", "additionalProperties": count() },
            "events_total": count(),
            "generated_at": time(),
            "updated_at": nullable_time(),
            "run_id": string(),
        },
    });
    vec![
        op("GET", "/api/tasks/runs/", "activity")
            .summary("Scheduled task runs, newest first (administrators)")
            .access(Access::Verified)
            .query(
                "task",
                string(),
                "Only this task (400 for an unknown name).",
            )
            .paged()
            .respond(200, "A page of run records.", page(run, false))
            .errors(&[400]),
        op("GET", "/api/reports/", "activity")
            .summary("Daily analytics reports (administrators): one day, or all newest first")
            .access(Access::Verified)
            .query(
                "date",
                or_empty(json!({ "type": "string", "format": "date" })),
                "YYYY-MM-DD: that day's report (404 until generated).",
            )
            .paged()
            .respond(
                200,
                "The day's report, or a page of reports without `date`.",
                json!({ "anyOf": [report.clone(), page(report, false)] }),
            )
            .errors(&[400, 404]),
    ]
}
