//! Badge analytics (the seed's `BadgeAnalyticsView`), from maintained aggregates only:
//!
//! - the aggregates (`keys::badge_stats`, 16 shards and the legacy item, summed from one batch
//!   read): definitions in total, active, per category and per rarity; awards in total; users
//!   holding at least one badge. Every definition write and every award and revoke moves one
//!   shard in its own transaction;
//! - the definitions (one query of GSI1 `BADGES`) with their `earned_count`, moved in the same
//!   award and revoke transactions: the 10 most earned;
//! - the 20 newest awards: the 20 newest of each of the 16 shards of GSI2 `AWARDS#<nn>` (queried
//!   at the same time), merged, with the holders' cards in one batch read.

use std::collections::HashMap;

use serde_json::{Value as Json, json};

use super::awards::UserBadge;
use super::definitions::{self, Category, Rarity, Tier};
use crate::App;
use crate::accounts::UserRecord;
use crate::error::Error;
use crate::store::{Index, Item, Key, Query, Value, from_item, keys};

pub const POPULAR: usize = 10;
pub const RECENT: usize = 20;

fn count(stats: &Item, attr: &str) -> i64 {
    stats.get(attr).and_then(Value::as_i64).unwrap_or(0).max(0)
}

/// The badge aggregates: every shard and the legacy item in one batch read, each number
/// summed.
async fn summed_stats(app: &App) -> Result<Item, Error> {
    let mut sum: HashMap<String, i64> = HashMap::new();
    for item in app
        .table
        .batch_get(&keys::badge_stats_all())
        .await?
        .into_iter()
        .flatten()
    {
        for (name, value) in &item {
            if let Some(n) = value.as_i64()
                && !matches!(name.as_str(), keys::attr::PK | keys::attr::SK)
            {
                *sum.entry(name.clone()).or_default() += n;
            }
        }
    }
    Ok(sum.into_iter().map(|(k, v)| (k, Value::Int(v))).collect())
}

/// The [`RECENT`] newest awards (the newest of each shard of the award index, at the same
/// time; the newest of those) and their holders' profiles (one batch read).
async fn newest_awards(
    app: &App,
) -> Result<(Vec<UserBadge>, HashMap<crate::model::UserId, UserRecord>), Error> {
    // The newest of each shard of the award index, at the same time; the newest of those.
    let pages = futures::future::try_join_all(keys::award_partitions().into_iter().map(|pk| {
        app.table.query(
            Query::new(Index::Gsi2, pk)
                .descending()
                .limit(RECENT as u32),
        )
    }))
    .await?;
    let mut newest: Vec<Item> = pages.into_iter().flat_map(|p| p.items).collect();
    let order = |i: &Item| {
        i.get(keys::attr::GSI2SK)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    newest.sort_by_key(|i| std::cmp::Reverse(order(i)));
    newest.truncate(RECENT);
    let awards = newest
        .iter()
        .map(UserBadge::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    let mut user_keys: Vec<Key> = awards.iter().map(|a| keys::user(a.user)).collect();
    user_keys.sort();
    user_keys.dedup();
    let users: HashMap<_, UserRecord> = if user_keys.is_empty() {
        HashMap::new()
    } else {
        app.table
            .batch_get(&user_keys)
            .await?
            .into_iter()
            .flatten()
            .map(|item| from_item::<UserRecord>(&item).map(|u| (u.id, u)))
            .collect::<Result<_, _>>()?
    };
    Ok((awards, users))
}

/// The analytics document.
pub async fn analytics(app: &App, _by: crate::access::Admin) -> Result<Json, Error> {
    // Three independent reads side by side: the aggregates; the definitions and their holder
    // counts; the newest awards and their holders.
    let (stats, defs, newest) = tokio::join!(
        summed_stats(app),
        definitions::list_all(app),
        newest_awards(app)
    );
    let (stats, defs, (awards, users)) = (stats?, defs?, newest?);

    let by_category: Vec<Json> = Category::ALL
        .iter()
        .map(
            |c| json!({"category": c, "count": count(&stats, &format!("category_{}", c.as_str()))}),
        )
        .collect();
    let rarity: Vec<Json> = Rarity::ALL
        .iter()
        .map(|r| json!({"rarity": r, "count": count(&stats, &format!("rarity_{}", r.as_str()))}))
        .collect();

    // Per tier: the definitions of it (in any series) and the awards they have.
    let tiers: Vec<Json> = Tier::ALL
        .iter()
        .map(|t| {
            let of_tier = defs.iter().filter(|d| d.tier == Some(*t));
            let (count, earned) =
                of_tier.fold((0i64, 0i64), |(n, e), d| (n + 1, e + d.earned_count));
            json!({"tier": t, "count": count, "earned_count": earned})
        })
        .collect();

    let mut popular: Vec<_> = defs.iter().filter(|d| d.earned_count > 0).collect();
    popular.sort_by(|a, b| b.earned_count.cmp(&a.earned_count).then(a.id.cmp(&b.id)));
    let popular: Vec<Json> = popular
        .into_iter()
        .take(POPULAR)
        .map(|d| json!({"badge_id": d.id, "badge__name": d.name, "name": d.name, "earned_count": d.earned_count}))
        .collect();

    let names: HashMap<_, _> = defs.iter().map(|d| (d.id, d.name.as_str())).collect();
    let recent: Vec<Json> = awards
        .iter()
        .map(|a| {
            json!({
                "id": a.id(),
                "user": {
                    "id": a.user,
                    "username": users.get(&a.user).map(|u| u.username.as_str()),
                },
                "badge": {"id": a.badge, "name": names.get(&a.badge)},
                "earned_at": a.earned_at,
                "awarded_by": a.awarded_by,
                "points": a.points,
            })
        })
        .collect();

    Ok(json!({
        "total_badges_defined": count(&stats, "total_definitions"),
        "active_badges": count(&stats, "active_definitions"),
        "total_awards": count(&stats, "total_awards"),
        "unique_badge_holders": count(&stats, "unique_holders"),
        "badges_by_category": by_category,
        "popular_badges": popular,
        "recent_awards": recent,
        "rarity_distribution": rarity,
        "tier_distribution": tiers,
    }))
}
