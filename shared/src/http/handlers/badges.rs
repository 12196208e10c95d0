//! Badge definitions, awards, the leaderboard and analytics (`docs/badges.md`).

use serde_json::{Map, Value as Json, json};

use crate::App;
use crate::access::{self, Actor, Admin};
use crate::auth::Principal;
use crate::badges::analytics;
use crate::badges::awards::{self, AwardedBy};
use crate::badges::criteria::parse_criteria;
use crate::badges::definitions::{
    self, BadgeChanges, BadgeDefinition, BadgeId, Category, ListFilter, NewBadge, Rarity, Tier,
};
use crate::badges::leaderboard::{self, LeaderboardTimeframe};
use crate::error::{Error, FieldErrors};
use crate::http::auth::{caller, caller_with, optional_caller};
use crate::http::response::page;
use crate::http::{ApiResponse, RequestCtx};
use crate::model::UserId;
use crate::store::Cursor;

/// The caller as an administrator, or a refusal (`access::require_admin`).
fn admin(principal: &Principal) -> Result<Admin, Error> {
    access::require_admin(Actor::of(&principal.user))
}

fn list_view(count: Option<i64>, next: Option<Cursor>, results: Vec<Json>) -> Json {
    page(&results, next.as_ref().map(Cursor::as_str), count)
}

fn badge_id(ctx: &RequestCtx) -> Result<BadgeId, Error> {
    ctx.param("id").parse().map_err(|_| Error::NotFound)
}

/// The JSON body as an object.
fn body(ctx: &RequestCtx) -> Result<Map<String, Json>, Error> {
    ctx.json::<Map<String, Json>>()
}

fn choice_message(allowed: &[&str]) -> String {
    format!("Expected one of: {}.", allowed.join(", "))
}

/// Fields of a definition a client writes; the read-only ones are ignored, as DRF does.
const WRITABLE: [&str; 12] = [
    "series",
    "tier",
    "name",
    "description",
    "category",
    "icon",
    "color",
    "image",
    "criteria",
    "points",
    "rarity",
    "is_active",
];
const READ_ONLY: [&str; 4] = ["id", "created_at", "updated_at", "earned_count"];

/// Reads the writable fields present in the body, with a 400 per bad field. `require_all`
/// (POST, PUT) makes the fields without a default required.
fn definition_changes(body: &Map<String, Json>, require_all: bool) -> Result<BadgeChanges, Error> {
    let mut errors = FieldErrors::new();
    let mut changes = BadgeChanges::default();
    for key in body.keys() {
        if !WRITABLE.contains(&key.as_str()) && !READ_ONLY.contains(&key.as_str()) {
            errors.add(key, "Unknown field.");
        }
    }
    let text = |errors: &mut FieldErrors, name: &str| -> Option<String> {
        match body.get(name) {
            None => {
                if require_all {
                    errors.add(name, "This field is required.");
                }
                None
            }
            Some(Json::String(s)) => Some(s.clone()),
            Some(_) => {
                errors.add(name, "Not a valid string.");
                None
            }
        }
    };
    changes.name = text(&mut errors, "name");
    changes.description = text(&mut errors, "description");
    changes.icon = text(&mut errors, "icon");
    changes.color = text(&mut errors, "color");
    match body.get("category") {
        None if require_all => errors.add("category", "This field is required."),
        None => {}
        Some(v) => match v.as_str().and_then(Category::parse) {
            Some(c) => changes.category = Some(c),
            None => errors.add(
                "category",
                choice_message(&Category::ALL.map(Category::as_str)),
            ),
        },
    }
    match body.get("rarity") {
        None if require_all => changes.rarity = Some(Rarity::Common),
        None => {}
        Some(v) => match v.as_str().and_then(Rarity::parse) {
            Some(r) => changes.rarity = Some(r),
            None => errors.add("rarity", choice_message(&Rarity::ALL.map(Rarity::as_str))),
        },
    }
    match body.get("points") {
        None if require_all => changes.points = Some(10),
        None => {}
        Some(v) => match v.as_i64() {
            Some(p) => changes.points = Some(p),
            None => errors.add("points", "A valid integer is required."),
        },
    }
    match body.get("is_active") {
        None if require_all => changes.is_active = Some(true),
        None => {}
        Some(Json::Bool(b)) => changes.is_active = Some(*b),
        Some(_) => errors.add("is_active", "Must be a valid boolean."),
    }
    match body.get("image") {
        None if require_all => changes.image = Some(None),
        None => {}
        Some(Json::Null) => changes.image = Some(None),
        Some(Json::String(s)) if s.is_empty() => changes.image = Some(None),
        Some(Json::String(s)) => changes.image = Some(Some(s.clone())),
        Some(_) => errors.add("image", "Not a valid string."),
    }
    match body.get("series") {
        None if require_all => changes.series = Some(None),
        None => {}
        Some(Json::Null) => changes.series = Some(None),
        Some(Json::String(s)) => changes.series = Some(Some(s.clone())),
        Some(_) => errors.add("series", "Not a valid string."),
    }
    match body.get("tier") {
        None if require_all => changes.tier = Some(None),
        None => {}
        Some(Json::Null) => changes.tier = Some(None),
        Some(v) => match v.as_str().and_then(Tier::parse) {
            Some(t) => changes.tier = Some(Some(t)),
            None => errors.add("tier", choice_message(&Tier::ALL.map(Tier::as_str))),
        },
    }
    match body.get("criteria") {
        None if require_all => errors.add("criteria", "This field is required."),
        None => {}
        Some(v) => match parse_criteria(v) {
            Ok(c) => changes.criteria = Some(c),
            Err(Error::Invalid(found)) => {
                for (field, messages) in found.0 {
                    for m in messages {
                        errors.add(&field, m);
                    }
                }
            }
            Err(other) => return Err(other),
        },
    }
    errors.into_result()?;
    Ok(changes)
}

/// `GET /api/badges/?category=&rarity=&is_active=&page_size=&cursor=`: active badges for
/// everyone (signed in or not), every badge for administrators.
pub async fn list(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = optional_caller(app, ctx).await?;
    let admin = principal.as_ref().is_some_and(|p| admin(p).is_ok());
    let category = match ctx.query_param("category").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(Category::parse(v).ok_or_else(|| {
            Error::field(
                "category",
                choice_message(&Category::ALL.map(Category::as_str)),
            )
        })?),
    };
    let rarity = match ctx.query_param("rarity").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(Rarity::parse(v).ok_or_else(|| {
            Error::field("rarity", choice_message(&Rarity::ALL.map(Rarity::as_str)))
        })?),
    };
    let filter = ListFilter {
        category,
        rarity,
        is_active: ctx.bool_param("is_active")?,
        include_inactive: admin,
    };
    let (page_size, cursor) = ctx.paging()?;
    let ((defs, next), count) = futures::future::try_join(
        definitions::list_page(app, &filter, page_size, cursor),
        definitions::count(app, &filter),
    )
    .await?;
    let results = defs.iter().map(BadgeDefinition::view).collect();
    Ok(ApiResponse::ok(&list_view(Some(count), next, results)))
}

/// `POST /api/badges/` (administrators) → 201 with the definition.
pub async fn create(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let by = admin(&principal)?;
    let changes = definition_changes(&body(ctx)?, true)?;
    let (
        Some(name),
        Some(description),
        Some(category),
        Some(icon),
        Some(color),
        Some(image),
        Some(criteria),
        Some(points),
        Some(rarity),
        Some(is_active),
        Some(series),
        Some(tier),
    ) = (
        changes.name,
        changes.description,
        changes.category,
        changes.icon,
        changes.color,
        changes.image,
        changes.criteria,
        changes.points,
        changes.rarity,
        changes.is_active,
        changes.series,
        changes.tier,
    )
    else {
        return Err(Error::BadRequest("Incomplete badge definition.".into()));
    };
    let def = definitions::create(
        app,
        by,
        NewBadge {
            name,
            description,
            category,
            icon,
            color,
            image,
            criteria,
            points,
            rarity,
            is_active,
            series,
            tier,
        },
    )
    .await?;
    Ok(ApiResponse::created(&def.view()))
}

/// `GET /api/badges/{id}/`: an inactive badge only to administrators (404 otherwise).
pub async fn retrieve(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = optional_caller(app, ctx).await?;
    let admin = principal.as_ref().is_some_and(|p| admin(p).is_ok());
    let def = definitions::get(app, badge_id(ctx)?)
        .await?
        .filter(|d| admin || d.is_active)
        .ok_or(Error::NotFound)?;
    Ok(ApiResponse::ok(&def.view()))
}

/// `PUT` (every field without a default) and `PATCH` (some) `/api/badges/{id}/`.
pub async fn update(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let by = admin(&principal)?;
    let id = badge_id(ctx)?;
    let full = ctx.request.method == http::Method::PUT;
    let changes = definition_changes(&body(ctx)?, full)?;
    let def = definitions::update(app, by, id, changes).await?;
    Ok(ApiResponse::ok(&def.view()))
}

/// `DELETE /api/badges/{id}/` → 204, after its awards and their points are gone.
pub async fn destroy(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let by = admin(&principal)?;
    crate::badges::retire::delete_definition(app, by, badge_id(ctx)?).await?;
    Ok(ApiResponse::no_content())
}

/// `GET /api/badges/leaderboard/?timeframe=all_time|30d`.
pub async fn leaderboard(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let timeframe = match ctx.query_param("timeframe").filter(|v| !v.is_empty()) {
        None => LeaderboardTimeframe::AllTime,
        Some(v) => match LeaderboardTimeframe::parse(v) {
            Some(timeframe) => timeframe,
            None => {
                // A caller who fails authentication hears that first.
                caller(app, ctx).await?;
                return Err(Error::field(
                    "timeframe",
                    choice_message(&["all_time", "30d"]),
                ));
            }
        },
    };
    // The rows and the viewer's blocks are read beside the authentication.
    let (_, reads) = caller_with(app, ctx, |viewer| {
        leaderboard::board_reads(app, viewer, timeframe)
    })
    .await?;
    let board = leaderboard::leaderboard(app, reads).await?;
    Ok(ApiResponse::ok(&board))
}

/// `GET /api/badges/analytics/` (administrators).
pub async fn analytics(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let by = admin(&principal)?;
    Ok(ApiResponse::ok(&analytics::analytics(app, by).await?))
}

/// The `{id}` of a user badge (`<user>-<badge>`); anything else is 404.
fn user_badge_id(ctx: &RequestCtx) -> Result<(UserId, BadgeId), Error> {
    awards::parse_id(ctx.param("id")).ok_or(Error::NotFound)
}

/// A user id from a body or query value: a positive integer, or a string of one.
fn user_id_of(value: &Json) -> Option<UserId> {
    match value {
        Json::Number(n) => n.as_i64().filter(|n| *n > 0).map(UserId),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `GET /api/user-badges/?user=<id>&is_featured=&showcase=&page_size=&cursor=` (default: the
/// caller), with `count` and each badge's definition embedded; `showcase=true` shows of each
/// badge series only the highest tier held (`badges::tiers::showcase`), in one page.
pub async fn list_user_badges(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let user = match ctx.query_param("user").filter(|v| !v.is_empty()) {
        None => principal.id(),
        Some(v) => v
            .parse::<UserId>()
            .map_err(|_| Error::field("user", "A valid user id is required."))?,
    };
    awards::check_visible(app, Actor::of(&principal.user), user).await?;
    let featured = ctx.bool_param("is_featured")? == Some(true);
    // Checked for every request, the showcase's too (which shows everything in one page).
    let (page_size, cursor) = ctx.paging()?;
    if ctx.bool_param("showcase")? == Some(true) {
        // Of each series only the highest tier held; every badge in one page.
        let shown = crate::badges::tiers::showcase(app, user, featured).await?;
        let results: Vec<Json> = shown.iter().map(|(h, d)| h.view(d.as_ref())).collect();
        return Ok(ApiResponse::ok(&list_view(
            Some(results.len() as i64),
            None,
            results,
        )));
    }
    let (held, next) = awards::list_page(app, user, featured, page_size, cursor).await?;
    let score = awards::score(app, user).await?.unwrap_or_default();
    let count = if featured {
        score.featured_count
    } else {
        score.badge_count
    };
    let defs = definitions_of(app, held.iter().map(|h| h.badge)).await?;
    let results = held
        .iter()
        .map(|h| h.view(defs.iter().find(|d| d.id == h.badge)))
        .collect();
    Ok(ApiResponse::ok(&list_view(Some(count), next, results)))
}

use crate::badges::tiers::definitions_of;

/// `GET /api/user-badges/{id}/` with the definition embedded.
pub async fn retrieve_user_badge(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let (user, badge) = user_badge_id(ctx)?;
    awards::check_visible(app, Actor::of(&principal.user), user).await?;
    let held = awards::get(app, user, badge)
        .await?
        .ok_or(Error::NotFound)?;
    let def = definitions::get_any(app, badge, false).await?;
    Ok(ApiResponse::ok(&held.view(def.as_ref())))
}

/// `POST /api/user-badges/` `{user, badge, notes?, progress_data?, awarded_by?}`
/// (administrators) → 201; 409 when the user already holds the badge.
pub async fn award(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let request = award_request(ctx);
    // The definition, the user and their score are read beside the authentication; an answer
    // keeps the order a caller meets: authentication, then role, then the body.
    let (principal, reads) = caller_with(app, ctx, |_| async {
        match &request {
            Ok(r) => awards::award_reads(app, r.user, r.badge).await.map(Some),
            Err(_) => Ok(None),
        }
    })
    .await?;
    let by = admin(&principal)?;
    let request = request?;
    let reads = reads.ok_or_else(|| Error::Internal("award read without a request".into()))?;
    let (held, def) = awards::grant(
        app,
        by,
        reads,
        request.awarded_by,
        request.progress,
        &request.notes,
    )
    .await?;
    match held {
        Some(held) => Ok(ApiResponse::created(&held.view(Some(&def)))),
        None => Err(Error::Conflict("The user already has this badge.".into())),
    }
}

/// The body of `POST /api/user-badges/`.
struct AwardRequest {
    user: UserId,
    badge: BadgeId,
    notes: String,
    progress: Json,
    awarded_by: AwardedBy,
}

fn award_request(ctx: &RequestCtx) -> Result<AwardRequest, Error> {
    let body = body(ctx)?;
    let mut errors = FieldErrors::new();
    for key in body.keys() {
        if !["user", "badge", "notes", "progress_data", "awarded_by"].contains(&key.as_str()) {
            errors.add(key, "Unknown field.");
        }
    }
    let user = match body.get("user") {
        None => {
            errors.add("user", "This field is required.");
            None
        }
        Some(v) => {
            let id = user_id_of(v);
            if id.is_none() {
                errors.add("user", "A valid user id is required.");
            }
            id
        }
    };
    let badge = match body.get("badge") {
        None => {
            errors.add("badge", "This field is required.");
            None
        }
        Some(v) => {
            let id = v.as_i64().filter(|n| *n > 0).map(BadgeId);
            if id.is_none() {
                errors.add("badge", "A valid badge id is required.");
            }
            id
        }
    };
    let notes = match body.get("notes") {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(s)) if s.chars().count() <= awards::NOTES_MAX_CHARS => s.clone(),
        Some(_) => {
            errors.add(
                "notes",
                format!(
                    "A string of at most {} characters.",
                    awards::NOTES_MAX_CHARS
                ),
            );
            String::new()
        }
    };
    let progress = match body.get("progress_data") {
        None | Some(Json::Null) => json!({}),
        Some(v @ Json::Object(_)) if v.to_string().len() <= 4096 => v.clone(),
        Some(_) => {
            errors.add("progress_data", "An object of at most 4 KB.");
            json!({})
        }
    };
    let awarded_by = match body.get("awarded_by") {
        None | Some(Json::Null) => AwardedBy::System,
        Some(v) => match v.as_str().and_then(AwardedBy::parse) {
            Some(a) => a,
            None => {
                errors.add("awarded_by", choice_message(&["system", "admin", "manual"]));
                AwardedBy::System
            }
        },
    };
    errors.into_result()?;
    let (Some(user), Some(badge)) = (user, badge) else {
        return Err(Error::BadRequest("user and badge are required.".into()));
    };
    Ok(AwardRequest {
        user,
        badge,
        notes,
        progress,
        awarded_by,
    })
}

/// `PATCH /api/user-badges/{id}/` `{is_featured}`: the owner only.
pub async fn update_user_badge(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let (user, badge) = user_badge_id(ctx)?;
    awards::check_feature(app, Actor::of(&principal.user), user).await?;
    let body = body(ctx)?;
    let mut errors = FieldErrors::new();
    for key in body.keys() {
        if key != "is_featured" {
            errors.add(key, "Only is_featured can be changed.");
        }
    }
    let featured = match body.get("is_featured") {
        Some(Json::Bool(b)) => Some(*b),
        Some(_) => {
            errors.add("is_featured", "Must be a valid boolean.");
            None
        }
        None => {
            errors.add("is_featured", "This field is required.");
            None
        }
    };
    errors.into_result()?;
    let Some(featured) = featured else {
        return Err(Error::field("is_featured", "This field is required."));
    };
    let held = awards::set_featured(app, user, badge, featured).await?;
    let def = definitions::get_any(app, badge, false).await?;
    Ok(ApiResponse::ok(&held.view(def.as_ref())))
}

/// `DELETE /api/user-badges/{id}/` (administrators) → 204: revoked, points taken back.
pub async fn revoke(app: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let principal = caller(app, ctx).await?;
    let by = admin(&principal)?;
    let (user, badge) = user_badge_id(ctx)?;
    awards::revoke_as(app, by, user, badge).await?;
    Ok(ApiResponse::no_content())
}
