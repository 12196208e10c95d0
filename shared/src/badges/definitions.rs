//! Badge definitions: the catalogue of badges, with their typed criteria.
//!
//! A definition is `BADGE#<id>` / `DEFINITION`, on GSI1 under `BADGES` (every definition, for
//! administrators) and, while active, on GSI2 under `BADGES#ACTIVE` (one query for everyone
//! and for the evaluator). Names are unique case-insensitively through a unique item written in
//! the same transaction. Every definition write moves the analytics aggregates
//! (a shard of `keys::badge_stats`) in that transaction. Deleting a definition revokes its awards first
//! (`badges::retire`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::criteria::Criteria;
pub use super::ids::BadgeId;
use crate::App;
use crate::access::Admin;
use crate::error::{Error, FieldErrors};
use crate::retry::{Loop, Tries};
use crate::store::{
    Condition, Index, Item, ItemShapeError, Query, Transaction, TxOp, Update, Value, from_item,
    keys, to_item,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Achievement,
    Activity,
    Special,
}

impl Category {
    pub const ALL: [Category; 3] = [Category::Achievement, Category::Activity, Category::Special];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Achievement => "achievement",
            Category::Activity => "activity",
            Category::Special => "special",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rarity {
    Common,
    Rare,
    Epic,
    Legendary,
}

/// Most points any badge may give (legendary's band is open-ended in the seed).
pub const MAX_POINTS: i64 = 1_000_000;

impl Rarity {
    pub const ALL: [Rarity; 4] = [
        Rarity::Common,
        Rarity::Rare,
        Rarity::Epic,
        Rarity::Legendary,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rarity::Common => "common",
            Rarity::Rare => "rare",
            Rarity::Epic => "epic",
            Rarity::Legendary => "legendary",
        }
    }

    pub fn parse(s: &str) -> Option<Rarity> {
        Rarity::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The seed's points band, inclusive: common 10–25, rare 50–100, epic 150–300,
    /// legendary 500 and up (capped at [`MAX_POINTS`]).
    pub fn points_band(self) -> (i64, i64) {
        match self {
            Rarity::Common => (10, 25),
            Rarity::Rare => (50, 100),
            Rarity::Epic => (150, 300),
            Rarity::Legendary => (500, MAX_POINTS),
        }
    }
}

/// A badge's step in a series (the seed's "Progressive Difficulty: Bronze, Silver, Gold"),
/// lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Bronze,
    Silver,
    Gold,
    Platinum,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Bronze, Tier::Silver, Tier::Gold, Tier::Platinum];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Bronze => "bronze",
            Tier::Silver => "silver",
            Tier::Gold => "gold",
            Tier::Platinum => "platinum",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// How many of some badges are of each tier: `{"bronze": n, "silver": n, "gold": n,
/// "platinum": n}` (badges outside a series count nowhere).
pub fn tier_counts<'a>(defs: impl Iterator<Item = &'a BadgeDefinition>) -> Json {
    let mut counts = [0i64; 4];
    for def in defs {
        if let Some(tier) = def.tier {
            counts[tier as usize] += 1;
        }
    }
    json!({"bronze": counts[0], "silver": counts[1], "gold": counts[2], "platinum": counts[3]})
}

pub const NAME_MAX_CHARS: usize = 100;
pub const SERIES_MAX_CHARS: usize = 100;
pub const DESCRIPTION_MAX_CHARS: usize = 2000;
pub const ICON_MAX_CHARS: usize = 100;
pub const IMAGE_MAX_CHARS: usize = 500;
pub const NAME_TAKEN: &str = "A badge with that name already exists.";

/// A badge definition as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BadgeDefinition {
    pub id: BadgeId,
    pub name: String,
    pub description: String,
    pub category: Category,
    pub icon: String,
    pub color: String,
    #[serde(default)]
    pub image: Option<String>,
    pub criteria: Criteria,
    pub points: i64,
    pub rarity: Rarity,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How many users hold it: the `count` of its `keys::badge_earned` item (moved in the award
    /// and revoke transactions), plus what a definition stored before that item existed still
    /// carries ([`with_earned_counts`]). Never written on the definition.
    #[serde(default)]
    pub earned_count: i64,
    /// Bumped by every write; writes are conditioned on the version they read.
    #[serde(default)]
    pub version: i64,
    /// Being deleted: hidden, awards refused, its awards being revoked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleting: bool,
    /// The series this badge is a tier of ("Content Creator"), with its `tier`; both or neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
}

impl BadgeDefinition {
    /// The whole item: key and index entries (GSI2 only while active).
    pub fn to_item(&self) -> Result<Item, ItemShapeError> {
        let mut item = to_item(self)?;
        item.remove("earned_count");
        let key = keys::badge_definition(self.id.0);
        keys::set_key(&mut item, key);
        let (pk, sk) = keys::badge_index(self.id.0);
        keys::set_index_keys(&mut item, Index::Gsi1, pk, sk);
        if self.is_active && !self.deleting {
            let (pk, sk) = keys::active_badge_index(self.id.0);
            keys::set_index_keys(&mut item, Index::Gsi2, pk, sk);
        }
        Ok(item)
    }

    pub fn from_item(item: &Item) -> Result<BadgeDefinition, ItemShapeError> {
        from_item(item)
    }

    /// What clients see (the seed's fields, plus how many hold it).
    pub fn view(&self) -> Json {
        json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "icon": self.icon,
            "color": self.color,
            "image": self.image,
            "criteria": self.criteria.to_json(),
            "points": self.points,
            "rarity": self.rarity,
            "is_active": self.is_active,
            "earned_count": self.earned_count,
            "series": self.series,
            "tier": self.tier,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// The writable fields of a definition.
#[derive(Clone, Debug, PartialEq)]
pub struct NewBadge {
    pub name: String,
    pub description: String,
    pub category: Category,
    pub icon: String,
    pub color: String,
    pub image: Option<String>,
    pub criteria: Criteria,
    pub points: i64,
    pub rarity: Rarity,
    pub is_active: bool,
    pub series: Option<String>,
    pub tier: Option<Tier>,
}

/// A change of some writable fields (`PATCH`; `PUT` sets them all).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BadgeChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<Category>,
    pub icon: Option<String>,
    pub color: Option<String>,
    pub image: Option<Option<String>>,
    pub criteria: Option<Criteria>,
    pub points: Option<i64>,
    pub rarity: Option<Rarity>,
    pub is_active: Option<bool>,
    /// `Some(None)` takes the badge out of its series.
    pub series: Option<Option<String>>,
    pub tier: Option<Option<Tier>>,
}

/// `#RRGGBB`.
pub fn is_hex_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

pub(crate) fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl NewBadge {
    /// The rules every definition obeys, whoever writes it (API, catalogue, admin command).
    pub fn validate(&self) -> Result<(), Error> {
        let mut errors = FieldErrors::new();
        let mut text = |field: &str, value: &str, max: usize, required: bool| {
            if required && value.trim().is_empty() {
                errors.add(field, "This field may not be blank.");
            } else if value.chars().count() > max {
                errors.add(
                    field,
                    format!("Ensure this field has no more than {max} characters."),
                );
            }
        };
        text("name", &self.name, NAME_MAX_CHARS, true);
        text(
            "description",
            &self.description,
            DESCRIPTION_MAX_CHARS,
            true,
        );
        text("icon", &self.icon, ICON_MAX_CHARS, true);
        if !is_hex_color(&self.color) {
            errors.add("color", "Enter a color as #RRGGBB.");
        }
        if let Some(image) = &self.image {
            let ok = image.chars().count() <= IMAGE_MAX_CHARS
                && url::Url::parse(image)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            if !ok {
                errors.add("image", "Enter a valid http(s) URL.");
            }
        }
        match (&self.series, self.tier) {
            (Some(series), Some(_)) => {
                if series.trim().is_empty() {
                    errors.add("series", "This field may not be blank.");
                } else if series.chars().count() > SERIES_MAX_CHARS {
                    errors.add(
                        "series",
                        format!(
                            "Ensure this field has no more than {SERIES_MAX_CHARS} characters."
                        ),
                    );
                }
            }
            (None, None) => {}
            (Some(_), None) => errors.add("tier", "A badge in a series needs its tier."),
            (None, Some(_)) => errors.add("series", "A tier belongs to a series."),
        }
        let (low, high) = self.rarity.points_band();
        if !(low..=high).contains(&self.points) {
            let band = if self.rarity == Rarity::Legendary {
                format!("at least {low}")
            } else {
                format!("from {low} to {high}")
            };
            errors.add(
                "points",
                format!("A {} badge gives {band} points.", self.rarity.as_str()),
            );
        }
        errors.into_result()
    }
}

/// The stats deltas of a definition existing (`sign` 1) or not (-1).
pub(crate) fn stats_update(
    update: Update,
    def_category: Category,
    rarity: Rarity,
    sign: i64,
) -> Update {
    update
        .add("total_definitions", sign)
        .add(&format!("category_{}", def_category.as_str()), sign)
        .add(&format!("rarity_{}", rarity.as_str()), sign)
}

/// Creates a definition (administrators: `access::require_admin`): id from the counter, then one transaction with the unique name item
/// and the aggregates. A taken name (any case) is 400 on `name`.
pub async fn create(app: &App, _by: Admin, input: NewBadge) -> Result<BadgeDefinition, Error> {
    let _fresh = Invalidate(app);
    let input = trimmed(input);
    input.validate()?;
    let id = next_badge_id(app).await?;
    let def = new_definition(id, input, app.clock.now());
    check_tier_free(app, &def).await?;
    match create_transaction(&def)?.commit(app.table.as_ref()).await {
        Ok(()) => Ok(def),
        Err(e) if e.condition_failed(DefinitionOp::NewName) => {
            Err(Error::field("name", NAME_TAKEN))
        }
        // No answer, or a retry after none that met its own write: the id is this request's
        // alone, so a definition under it is this request's.
        Err(e) if e.store_error().may_have_applied() => match get_any(app, def.id, true).await? {
            Some(stored) if stored.name == def.name => Ok(def),
            _ => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// The input with its name and series trimmed, as they are stored (and compared).
fn trimmed(mut input: NewBadge) -> NewBadge {
    input.name = input.name.trim().to_owned();
    input.series = input.series.map(|s| s.trim().to_owned());
    input
}

/// The next definition id: the id counter moved by one (outside the transaction, so an id
/// a failed creation took is skipped, never reused).
async fn next_badge_id(app: &App) -> Result<BadgeId, Error> {
    let counter = app
        .table
        .update(
            &keys::badge_id_counter(),
            Update::new().add("value", 1),
            None,
        )
        .await?;
    let id = counter
        .get("value")
        .and_then(Value::as_i64)
        .ok_or_else(|| Error::Internal("badge id counter".into()))?;
    Ok(BadgeId(id))
}

/// A definition as first stored: version 1, held by no one, its color in upper case.
fn new_definition(id: BadgeId, input: NewBadge, now: DateTime<Utc>) -> BadgeDefinition {
    BadgeDefinition {
        id,
        name: input.name,
        description: input.description,
        category: input.category,
        icon: input.icon,
        color: input.color.to_ascii_uppercase(),
        image: input.image,
        criteria: input.criteria,
        points: input.points,
        rarity: input.rarity,
        is_active: input.is_active,
        created_at: now,
        updated_at: now,
        earned_count: 0,
        version: 1,
        deleting: false,
        series: input.series,
        tier: input.tier,
    }
}

/// The creation's transaction: the definition and its unique name item, both put if absent,
/// and the aggregates.
fn create_transaction(def: &BadgeDefinition) -> Result<Transaction<DefinitionOp>, Error> {
    let id = def.id.0;
    let mut unique = keys::unique_badge_name(&name_key(&def.name)).to_item();
    unique.insert("badge_id".into(), Value::Int(id));
    let stats = stats_update(Update::new(), def.category, def.rarity, 1)
        .add("active_definitions", i64::from(def.is_active));
    Ok(Transaction::new()
        .with(
            DefinitionOp::Definition,
            TxOp::Put {
                item: def.to_item()?,
                condition: Some(Condition::item_absent()),
            },
        )
        .with(
            DefinitionOp::NewName,
            TxOp::Put {
                item: unique,
                condition: Some(Condition::item_absent()),
            },
        )
        .with(
            DefinitionOp::Stats,
            TxOp::Update {
                key: keys::badge_stats(id),
                update: stats,
                condition: None,
            },
        ))
}

/// One definition per tier of a series: 400 on `tier` when another definition holds it
/// (checked against the definitions on write: administrators' writes are rare and serial).
async fn check_tier_free(app: &App, def: &BadgeDefinition) -> Result<(), Error> {
    let (Some(series), Some(tier)) = (&def.series, def.tier) else {
        return Ok(());
    };
    let taken = list_all(app).await?.into_iter().any(|other| {
        other.id != def.id
            && other.tier == Some(tier)
            && other
                .series
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(series))
    });
    if taken {
        return Err(Error::field(
            "tier",
            format!("The series already has a {} badge.", tier.as_str()),
        ));
    }
    Ok(())
}

/// A definition by id, including inactive ones; `None` when missing or being deleted.
pub async fn get(app: &App, id: BadgeId) -> Result<Option<BadgeDefinition>, Error> {
    Ok(get_any(app, id, false).await?.filter(|d| !d.deleting))
}

/// A definition by id even while it is being deleted. Read consistently (for a write that
/// follows) its `earned_count` is the stored part only; otherwise the definition and its count
/// come in one batch read.
pub(crate) async fn get_any(
    app: &App,
    id: BadgeId,
    consistent: bool,
) -> Result<Option<BadgeDefinition>, Error> {
    if consistent {
        let item = app.table.get(&keys::badge_definition(id.0), true).await?;
        return Ok(item
            .map(|item| BadgeDefinition::from_item(&item))
            .transpose()?);
    }
    let found = app
        .table
        .batch_get(&[keys::badge_definition(id.0), keys::badge_earned(id.0)])
        .await?;
    let mut found = found.into_iter();
    let Some(item) = found.next().flatten() else {
        return Ok(None);
    };
    let mut def = BadgeDefinition::from_item(&item)?;
    def.earned_count += found.next().flatten().as_ref().map_or(0, earned_in);
    Ok(Some(def))
}

/// The `count` of a `keys::badge_earned` item.
fn earned_in(item: &Item) -> i64 {
    item.get("count").and_then(Value::as_i64).unwrap_or(0)
}

/// The definitions with their holder counts: one batch read of their `keys::badge_earned`
/// items, each count added to what the definition itself still carries.
pub async fn with_earned_counts(
    app: &App,
    mut defs: Vec<BadgeDefinition>,
) -> Result<Vec<BadgeDefinition>, Error> {
    if defs.is_empty() {
        return Ok(defs);
    }
    let keys: Vec<_> = defs.iter().map(|d| keys::badge_earned(d.id.0)).collect();
    let found = app.table.batch_get(&keys).await?;
    for (def, item) in defs.iter_mut().zip(found) {
        def.earned_count += item.as_ref().map_or(0, earned_in);
    }
    Ok(defs)
}

/// How many hold badge `id` (its count item and what the definition carries), for a
/// definition read consistently.
async fn earned_count_of(app: &App, def: &BadgeDefinition) -> Result<i64, Error> {
    let item = app.table.get(&keys::badge_earned(def.id.0), false).await?;
    Ok(def.earned_count + item.as_ref().map_or(0, earned_in))
}

/// A definition by name (case-insensitive): the unique item, then the definition.
pub async fn find_by_name(app: &App, name: &str) -> Result<Option<BadgeDefinition>, Error> {
    let Some(unique) = app
        .table
        .get(&keys::unique_badge_name(&name_key(name)), false)
        .await?
    else {
        return Ok(None);
    };
    match unique.get("badge_id").and_then(Value::as_i64) {
        Some(id) => get(app, BadgeId(id)).await,
        None => Ok(None),
    }
}

/// Every page of a query, for the small definition partitions.
async fn query_all(app: &App, query: Query) -> Result<Vec<BadgeDefinition>, Error> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = app.table.query(query.clone().after(cursor)).await?;
        for item in &page.items {
            out.push(BadgeDefinition::from_item(item)?);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// Drops the process's copy of the active definitions when a definition write ends, however it
/// ends (an error may come after the write applied).
pub(crate) struct Invalidate<'a>(pub(crate) &'a App);

impl Drop for Invalidate<'_> {
    fn drop(&mut self) {
        self.0.active_badges.invalidate();
    }
}

/// How long a process trusts its copy of the active definitions ([`ActiveCache`]).
pub const ACTIVE_CACHE_TTL_MS: i64 = 30_000;

/// The active definitions as one process last read them, for the badge evaluation that runs on
/// every event: GSI2 `BADGES#ACTIVE` read per event took 26,000 RCU/s on one key value at the
/// reference load (`docs/scale.md`). A copy is used for [`ACTIVE_CACHE_TTL_MS`] by the App's
/// clock; this process's own definition writes (create, update, delete) drop it at once, other
/// processes' writes show within the TTL. Shared by the App and its bus evaluator.
#[derive(Default)]
pub struct ActiveCache {
    copy: std::sync::Mutex<Option<(i64, std::sync::Arc<Vec<BadgeDefinition>>)>>,
}

impl ActiveCache {
    /// Forgets the copy: the next read queries the index.
    pub fn invalidate(&self) {
        *self.copy.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn fresh(&self, now_ms: i64) -> Option<std::sync::Arc<Vec<BadgeDefinition>>> {
        let copy = self.copy.lock().unwrap_or_else(|e| e.into_inner());
        copy.as_ref()
            .filter(|(at, _)| (0..ACTIVE_CACHE_TTL_MS).contains(&(now_ms - at)))
            .map(|(_, defs)| defs.clone())
    }

    fn keep(&self, now_ms: i64, defs: std::sync::Arc<Vec<BadgeDefinition>>) {
        *self.copy.lock().unwrap_or_else(|e| e.into_inner()) = Some((now_ms, defs));
    }
}

/// The active definitions for evaluating events: this process's copy when it is younger than
/// [`ACTIVE_CACHE_TTL_MS`], else one query (then kept). `earned_count` in the copy may lag.
pub async fn list_active_cached(app: &App) -> Result<std::sync::Arc<Vec<BadgeDefinition>>, Error> {
    let now_ms = app.clock.now().timestamp_millis();
    if let Some(defs) = app.active_badges.fresh(now_ms) {
        return Ok(defs);
    }
    let defs = std::sync::Arc::new(list_active(app).await?);
    app.active_badges.keep(now_ms, defs.clone());
    Ok(defs)
}

/// Every active definition, in id order: one query of the sparse GSI2 (more only past 1 MB).
/// `earned_count` is the stored part only: the evaluator does not need it, and a view adds the
/// count items ([`with_earned_counts`]).
pub async fn list_active(app: &App) -> Result<Vec<BadgeDefinition>, Error> {
    let (pk, _) = keys::active_badge_index(0);
    let defs = query_all(app, Query::new(Index::Gsi2, pk)).await?;
    Ok(defs.into_iter().filter(|d| !d.deleting).collect())
}

/// Every definition, active or not, but not those being deleted (analytics, admin tools).
pub async fn list_all(app: &App) -> Result<Vec<BadgeDefinition>, Error> {
    let (pk, _) = keys::badge_index(0);
    let defs = query_all(app, Query::new(Index::Gsi1, pk)).await?;
    with_earned_counts(app, defs.into_iter().filter(|d| !d.deleting).collect()).await
}

/// Filters of the definition list.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub category: Option<Category>,
    pub rarity: Option<Rarity>,
    pub is_active: Option<bool>,
    /// Administrators see inactive definitions; everyone else only active ones.
    pub include_inactive: bool,
}

impl ListFilter {
    fn matches(&self, def: &BadgeDefinition) -> bool {
        !def.deleting
            && (self.include_inactive || def.is_active)
            && self.category.is_none_or(|c| def.category == c)
            && self.rarity.is_none_or(|r| def.rarity == r)
            && self.is_active.is_none_or(|a| def.is_active == a)
    }
}

/// How many definitions match the filter (the list's `count`). Everyone's (active only) comes
/// from this process's copy of the active definitions ([`list_active_cached`]: no store call
/// while it is fresh, so it may lag another process's write by [`ACTIVE_CACHE_TTL_MS`]);
/// an administrator's from one query of the whole GSI1 `BADGES` partition (a few dozen items).
pub async fn count(app: &App, filter: &ListFilter) -> Result<i64, Error> {
    let defs = if filter.include_inactive && filter.is_active != Some(true) {
        std::sync::Arc::new(list_all(app).await?)
    } else {
        list_active_cached(app).await?
    };
    Ok(defs.iter().filter(|d| filter.matches(d)).count() as i64)
}

/// One page of definitions, in id order. Filters are query filters (a page may be short).
pub async fn list_page(
    app: &App,
    filter: &ListFilter,
    page_size: u32,
    cursor: Option<crate::store::Cursor>,
) -> Result<(Vec<BadgeDefinition>, Option<crate::store::Cursor>), Error> {
    let only_active = !filter.include_inactive || filter.is_active == Some(true);
    if !filter.include_inactive && filter.is_active == Some(false) {
        return Ok((Vec::new(), None));
    }
    let mut conditions = vec![Condition::NotExists("deleting".into())];
    if let Some(c) = filter.category {
        conditions.push(Condition::eq("category", c.as_str()));
    }
    if let Some(r) = filter.rarity {
        conditions.push(Condition::eq("rarity", r.as_str()));
    }
    if filter.is_active == Some(false) {
        conditions.push(Condition::eq("is_active", false));
    }
    let (index, pk) = if only_active {
        (Index::Gsi2, keys::active_badge_index(0).0)
    } else {
        (Index::Gsi1, keys::badge_index(0).0)
    };
    let query = Query::new(index, pk)
        .limit(page_size)
        .after(cursor)
        .filter(Condition::And(conditions));
    let page = app.table.query(query).await?;
    let defs = page
        .items
        .iter()
        .map(BadgeDefinition::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((with_earned_counts(app, defs).await?, page.next))
}

/// Changes a definition (the result obeys every rule), in one transaction conditioned on the
/// version read: the definition, the unique name items when the name changes, the aggregates.
/// Points already awarded keep the value they had.
pub async fn update(
    app: &App,
    _by: Admin,
    id: BadgeId,
    changes: BadgeChanges,
) -> Result<BadgeDefinition, Error> {
    let _fresh = Invalidate(app);
    let mut tries = Tries::new(Loop::BADGES);
    loop {
        let old = get_any(app, id, true)
            .await?
            .filter(|d| !d.deleting)
            .ok_or(Error::NotFound)?;
        let merged = merge_changes(&old, &changes);
        merged.validate()?;
        let new = updated_definition(id, &old, merged, app.clock.now());
        if (&new.series, new.tier) != (&old.series, old.tier) {
            check_tier_free(app, &new).await?;
        }
        match update_transaction(&old, &new)?
            .commit(app.table.as_ref())
            .await
        {
            Ok(()) => {
                let earned_count = earned_count_of(app, &old).await?;
                return Ok(BadgeDefinition {
                    earned_count,
                    ..new
                });
            }
            Err(e) if e.condition_failed(DefinitionOp::NewName) => {
                return Err(Error::field("name", NAME_TAKEN));
            }
            // The definition (or its old name) moved: read again.
            Err(e) if e.any_condition_failed() || e.store_error().calls_for_another_round() => {
                tries.retry().await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The writable fields after `changes`: each changed one (name and series trimmed), else the
/// stored one.
fn merge_changes(old: &BadgeDefinition, changes: &BadgeChanges) -> NewBadge {
    NewBadge {
        name: changes
            .name
            .clone()
            .map(|n| n.trim().to_owned())
            .unwrap_or_else(|| old.name.clone()),
        description: changes
            .description
            .clone()
            .unwrap_or_else(|| old.description.clone()),
        category: changes.category.unwrap_or(old.category),
        icon: changes.icon.clone().unwrap_or_else(|| old.icon.clone()),
        color: changes.color.clone().unwrap_or_else(|| old.color.clone()),
        image: changes.image.clone().unwrap_or_else(|| old.image.clone()),
        criteria: changes
            .criteria
            .clone()
            .unwrap_or_else(|| old.criteria.clone()),
        points: changes.points.unwrap_or(old.points),
        rarity: changes.rarity.unwrap_or(old.rarity),
        is_active: changes.is_active.unwrap_or(old.is_active),
        series: changes
            .series
            .clone()
            .map(|s| s.map(|s| s.trim().to_owned()))
            .unwrap_or_else(|| old.series.clone()),
        tier: changes.tier.unwrap_or(old.tier),
    }
}

/// The definition to store: the merged fields (color in upper case) at the next version,
/// keeping its creation time and the holder count it carries.
fn updated_definition(
    id: BadgeId,
    old: &BadgeDefinition,
    merged: NewBadge,
    now: DateTime<Utc>,
) -> BadgeDefinition {
    BadgeDefinition {
        id,
        name: merged.name,
        description: merged.description,
        category: merged.category,
        icon: merged.icon,
        color: merged.color.to_ascii_uppercase(),
        image: merged.image,
        criteria: merged.criteria,
        points: merged.points,
        rarity: merged.rarity,
        is_active: merged.is_active,
        created_at: old.created_at,
        updated_at: now,
        earned_count: old.earned_count,
        version: old.version + 1,
        deleting: false,
        series: merged.series,
        tier: merged.tier,
    }
}

/// The update's transaction: the definition at the version read, the unique name items when
/// the name changes (case aside), the aggregates when they move.
fn update_transaction(
    old: &BadgeDefinition,
    new: &BadgeDefinition,
) -> Result<Transaction<DefinitionOp>, Error> {
    let id = new.id.0;
    // `earned_count` is not the definition's to write (`to_item` leaves it out): what an
    // older definition still carries stays as stored.
    let update = item_as_update(new.to_item()?, old)?;
    let mut tx = Transaction::new().with(
        DefinitionOp::Definition,
        TxOp::Update {
            key: keys::badge_definition(id),
            update,
            condition: Some(Condition::eq("version", old.version)),
        },
    );
    let renamed = name_key(&new.name) != name_key(&old.name);
    if renamed {
        tx.push(
            DefinitionOp::OldName,
            TxOp::Delete {
                key: keys::unique_badge_name(&name_key(&old.name)),
                condition: Some(Condition::eq("badge_id", id)),
            },
        );
        let mut unique = keys::unique_badge_name(&name_key(&new.name)).to_item();
        unique.insert("badge_id".into(), Value::Int(id));
        tx.push(
            DefinitionOp::NewName,
            TxOp::Put {
                item: unique,
                condition: Some(Condition::item_absent()),
            },
        );
    }
    let stats = stats_moved(old, new);
    if !stats.is_empty() {
        tx.push(
            DefinitionOp::Stats,
            TxOp::Update {
                key: keys::badge_stats(id),
                update: stats,
                condition: None,
            },
        );
    }
    Ok(tx)
}

/// What an update moves in the aggregates: the old category, rarity and active state out, the
/// new ones in (empty when none changed).
fn stats_moved(old: &BadgeDefinition, new: &BadgeDefinition) -> Update {
    // One ADD per attribute: an update may not name a path twice.
    let mut deltas: Vec<(String, i64)> = Vec::new();
    if old.category != new.category {
        deltas.push((format!("category_{}", old.category.as_str()), -1));
        deltas.push((format!("category_{}", new.category.as_str()), 1));
    }
    if old.rarity != new.rarity {
        deltas.push((format!("rarity_{}", old.rarity.as_str()), -1));
        deltas.push((format!("rarity_{}", new.rarity.as_str()), 1));
    }
    if old.is_active != new.is_active {
        deltas.push((
            "active_definitions".into(),
            if new.is_active { 1 } else { -1 },
        ));
    }
    deltas
        .iter()
        .fold(Update::new(), |u, (attr, delta)| u.add(attr, *delta))
}

/// The operations of a definition's creation or update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DefinitionOp {
    /// The definition: put if absent (create), or at the version read (update).
    Definition,
    /// A rename's old unique name, still this definition's.
    OldName,
    /// The unique name item of the (new) name, put if absent: a taken name fails here.
    NewName,
    Stats,
}

/// An update that sets every attribute of `item` and removes the index attributes it lacks
/// (deactivating drops the GSI2 entry).
fn item_as_update(item: Item, _old: &BadgeDefinition) -> Result<Update, Error> {
    let mut update = Update::new();
    for attr in [keys::attr::GSI2PK, keys::attr::GSI2SK, "series", "tier"] {
        if !item.contains_key(attr) {
            update = update.remove(attr);
        }
    }
    for (name, value) in item {
        if name != keys::attr::PK && name != keys::attr::SK {
            update = update.set(&name, value);
        }
    }
    Ok(update)
}
