//! The badge leaderboard: top users by points, then badge count, without scanning.
//!
//! - `all_time`: one query of GSI1 `LEADERBOARD`, whose sort key (written by every award and
//!   revoke transaction on the user's badge score) orders by points, then badge count, then
//!   user id; the profiles of the page in one batch read. `recent_badges` (earned in the last
//!   30 days) comes from the award times the score item holds.
//! - `30d`: the awards of the last 30 days, read newest first from GSI2 `AWARDS` and summed
//!   per user, at most [`MAX_WINDOW_AWARDS`] awards (a bounded read). When the window holds
//!   more, the oldest awards beyond the bound are left out and the answer says
//!   `"complete": false`.
//!
//! Users the viewer blocks or is blocked by, suspended accounts and accounts being erased are
//! left out; everyone else appears with their public card (which private profiles show too).

use std::collections::{HashMap, HashSet};

use chrono::Duration;
use serde_json::{Value as Json, json};

use super::awards::{BadgeScore, UserBadge};
use crate::App;
use crate::accounts::UserRecord;
use crate::error::Error;
use crate::model::UserId;
use crate::profiles::views::public_card;
use crate::store::{Index, Key, Query, SortCondition, from_item, keys};

/// Entries of the board.
pub const TOP: usize = 50;
/// The most awards the 30-day board reads (newest first).
pub const MAX_WINDOW_AWARDS: usize = 2000;
/// Days that count as recent.
pub const RECENT_DAYS: i64 = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaderboardTimeframe {
    AllTime,
    Last30Days,
}

impl LeaderboardTimeframe {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "all_time" => Some(Self::AllTime),
            "30d" => Some(Self::Last30Days),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllTime => "all_time",
            Self::Last30Days => "30d",
        }
    }
}

/// One row before the viewer's filter.
struct Row {
    user: UserId,
    points: i64,
    badges: i64,
    recent: i64,
}

/// The users the viewer must not see listed: blocked either way (two queries: the viewer's
/// blocks in their partition, the users blocking them on GSI1).
async fn hidden_for(app: &App, viewer: UserId) -> Result<HashSet<UserId>, Error> {
    let mut hidden = HashSet::new();
    let parse = |s: &str, prefix: &str| {
        s.strip_prefix(prefix)
            .and_then(|id| id.parse::<i64>().ok())
            .map(UserId)
    };
    let mut cursor = None;
    loop {
        let query = Query::new(Index::Primary, keys::user_partition(viewer))
            .sort(SortCondition::BeginsWith(keys::BLOCKS_PREFIX.into()))
            .after(cursor);
        let page = app.table.query(query).await?;
        hidden.extend(
            page.items
                .iter()
                .filter_map(|i| Key::of(i).and_then(|k| parse(&k.sk, keys::BLOCKS_PREFIX))),
        );
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut cursor = None;
    loop {
        let query = Query::new(Index::Gsi1, keys::user_partition(viewer))
            .sort(SortCondition::BeginsWith(keys::BLOCKER_PREFIX.into()))
            .after(cursor);
        let page = app.table.query(query).await?;
        hidden.extend(page.items.iter().filter_map(|i| {
            i.get(keys::attr::GSI1SK)
                .and_then(|v| v.as_str())
                .and_then(|sk| parse(sk, keys::BLOCKER_PREFIX))
        }));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(hidden)
}

/// The all-time rows: the top of each shard of the index, at the same time, merged in index
/// order, with a margin for rows the viewer cannot see.
async fn all_time_rows(app: &App, want: usize, since_ms: i64) -> Result<Vec<Row>, Error> {
    let pages =
        futures::future::try_join_all(keys::leaderboard_partitions().into_iter().map(|pk| {
            app.table
                .query(Query::new(Index::Gsi1, pk).limit(want as u32))
        }))
        .await?;
    let mut items: Vec<_> = pages.into_iter().flat_map(|p| p.items).collect();
    let order = |i: &crate::store::Item| {
        i.get(keys::attr::GSI1SK)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    items.sort_by_key(order);
    items.truncate(want);
    items
        .iter()
        .map(|item| {
            let score = BadgeScore::from_item(item)?;
            Ok(Row {
                user: UserId(score.user_id),
                points: score.points,
                badges: score.badge_count,
                recent: score.earned_since(since_ms),
            })
        })
        .collect()
}

/// The 30-day rows: awards of the window, summed per user, read from every shard of the award
/// index at the same time, newest first, each shard at most its part of
/// [`MAX_WINDOW_AWARDS`]. The flag is false when the bound cut a shard's window short.
async fn window_rows(app: &App, since_ms: i64) -> Result<(Vec<Row>, bool), Error> {
    let lower = format!("{since_ms:015}");
    let per_shard = MAX_WINDOW_AWARDS.div_ceil(keys::BOARD_SHARDS as usize);
    let shards = futures::future::try_join_all(
        keys::award_partitions()
            .into_iter()
            .map(|pk| shard_window(app, pk, lower.clone(), per_shard)),
    )
    .await?;
    let mut per_user: HashMap<UserId, Row> = HashMap::new();
    let mut complete = true;
    for (awards, shard_complete) in shards {
        complete &= shard_complete;
        for award in awards {
            let row = per_user.entry(award.user).or_insert(Row {
                user: award.user,
                points: 0,
                badges: 0,
                recent: 0,
            });
            row.points += award.points;
            row.badges += 1;
            row.recent += 1;
        }
    }
    let mut rows: Vec<Row> = per_user.into_values().collect();
    rows.sort_by(|a, b| {
        b.points
            .cmp(&a.points)
            .then(b.badges.cmp(&a.badges))
            .then(a.user.cmp(&b.user))
    });
    Ok((rows, complete))
}

/// One shard's awards since `lower`, newest first, at most `cap`; true when that is all.
async fn shard_window(
    app: &App,
    pk: String,
    lower: String,
    cap: usize,
) -> Result<(Vec<UserBadge>, bool), Error> {
    let mut awards = Vec::new();
    let mut cursor = None;
    loop {
        let remaining = cap - awards.len();
        let query = Query::new(Index::Gsi2, pk.clone())
            .sort(SortCondition::Ge(lower.clone()))
            .descending()
            .limit(remaining.min(500) as u32)
            .after(cursor);
        let page = app.table.query(query).await?;
        for item in &page.items {
            awards.push(UserBadge::from_item(item)?);
        }
        match page.next {
            None => return Ok((awards, true)),
            Some(_) if awards.len() >= cap => return Ok((awards, false)),
            Some(next) => cursor = Some(next),
        }
    }
}

/// The board as `viewer` may see it: `{"timeframe", "complete", "results": [{rank, user,
/// badge_points, total_badges, recent_badges}]}`.
pub async fn leaderboard(
    app: &App,
    viewer: UserId,
    timeframe: LeaderboardTimeframe,
) -> Result<Json, Error> {
    let since_ms = (app.clock.now() - Duration::days(RECENT_DAYS)).timestamp_millis();
    let hidden = hidden_for(app, viewer).await?;
    let (rows, complete) = match timeframe {
        // The margin covers hidden users; more hidden than that only shortens the board.
        LeaderboardTimeframe::AllTime => (
            all_time_rows(app, TOP + hidden.len().min(50) + 10, since_ms).await?,
            true,
        ),
        LeaderboardTimeframe::Last30Days => window_rows(app, since_ms).await?,
    };
    let rows: Vec<Row> = rows
        .into_iter()
        .filter(|r| !hidden.contains(&r.user))
        .take(TOP + 10)
        .collect();
    // Each profile and the viewer's follow edge to it, in one batch read: a private account is
    // named only to itself and its followers; anyone else sees an anonymous entry at its rank.
    let profile_keys: Vec<Key> = rows
        .iter()
        .flat_map(|r| [keys::user(r.user), keys::follow_edge(viewer, r.user)])
        .collect();
    let found = if profile_keys.is_empty() {
        Vec::new()
    } else {
        app.table.batch_get(&profile_keys).await?
    };
    let mut results = Vec::new();
    for (row, pair) in rows.iter().zip(found.chunks(2)) {
        let Some(item) = &pair[0] else { continue };
        let user: UserRecord = from_item(item)?;
        if user.deleting || user.is_suspended {
            continue;
        }
        let follows = match &pair[1] {
            Some(edge) => crate::social::FollowEdge::from_item(edge)?.is_active(),
            None => false,
        };
        let named = !user.is_private || user.id == viewer || follows;
        results.push(json!({
            "rank": results.len() + 1,
            "user": if named { public_card(&user) } else { Json::Null },
            "anonymous": !named,
            "badge_points": row.points,
            "total_badges": row.badges,
            "recent_badges": row.recent,
        }));
        if results.len() == TOP {
            break;
        }
    }
    Ok(json!({
        "timeframe": timeframe.as_str(),
        "complete": complete,
        "results": results,
    }))
}
