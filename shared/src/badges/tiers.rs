//! Badge tiers (the seed's "Progressive Difficulty: Bronze, Silver, Gold"): a definition may
//! belong to a series with a tier (`definitions::Tier`). Progress shows a series' next tier
//! (`progress`), the leaderboard and analytics count tiers, and the showcase here shows only
//! the highest tier a user holds of each series.

use std::collections::BTreeMap;

use super::awards::{self, UserBadge};
use super::definitions::{BadgeDefinition, BadgeId};
use crate::App;
use crate::error::Error;
use crate::model::UserId;
use crate::store::keys;

/// Most badges one showcase reads (every definition a user can hold, in pages of 100).
const PAGE: u32 = 100;

/// The user's badges as a showcase shows them (`GET /api/user-badges/?showcase=true`), in
/// badge id order with their definitions: of each series only the highest tier held, the
/// badges outside a series as they are; with `featured_only`, the featured ones, a featured
/// lower tier standing for the highest tier of its series. Reads the user's badges (one query
/// per 100) and their definitions (one batch read).
pub async fn showcase(
    app: &App,
    user: UserId,
    featured_only: bool,
) -> Result<Vec<(UserBadge, Option<BadgeDefinition>)>, Error> {
    let mut held = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = awards::list_page(app, user, false, PAGE, cursor).await?;
        held.extend(page);
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let defs = definitions_of(app, held.iter().map(|h| h.badge)).await?;
    let def = |id: BadgeId| defs.iter().find(|d| d.id == id);
    let series_of = |h: &UserBadge| {
        def(h.badge).and_then(|d| Some((d.series.as_ref()?.to_lowercase(), d.tier?)))
    };
    // The highest tier held of each series, and whether any tier of it is featured.
    let mut top: BTreeMap<String, (BadgeId, super::definitions::Tier, bool)> = BTreeMap::new();
    for h in &held {
        if let Some((series, tier)) = series_of(h) {
            let entry = top.entry(series).or_insert((h.badge, tier, false));
            if tier > entry.1 {
                entry.0 = h.badge;
                entry.1 = tier;
            }
            entry.2 |= h.is_featured;
        }
    }
    Ok(held
        .iter()
        .filter(|h| match series_of(h) {
            Some((series, _)) => {
                let (best, _, featured) = top[&series];
                best == h.badge && (!featured_only || featured)
            }
            None => !featured_only || h.is_featured,
        })
        .map(|h| (h.clone(), def(h.badge).cloned()))
        .collect())
}

/// The definitions of some badges in one batch read (those that still exist).
pub async fn definitions_of(
    app: &App,
    ids: impl Iterator<Item = BadgeId>,
) -> Result<Vec<BadgeDefinition>, Error> {
    let mut keys: Vec<_> = ids.map(|id| keys::badge_definition(id.0)).collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let found = app.table.batch_get(&keys).await?;
    Ok(found
        .into_iter()
        .flatten()
        .map(|item| BadgeDefinition::from_item(&item))
        .collect::<Result<_, _>>()?)
}
