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
use super::definitions;
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
    /// The badges counted (all time: held; 30 days: awarded in the window), for the tiers.
    held: Vec<i64>,
}

/// The users the viewer must not see listed: blocked either way (two queries side by side: the
/// viewer's blocks in their partition, the users blocking them on GSI1).
async fn hidden_for(app: &App, viewer: UserId) -> Result<HashSet<UserId>, Error> {
    let parse = |s: &str, prefix: &str| {
        s.strip_prefix(prefix)
            .and_then(|id| id.parse::<i64>().ok())
            .map(UserId)
    };
    let blocks = async {
        let mut hidden = Vec::new();
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
                None => return Ok::<_, Error>(hidden),
            }
        }
    };
    let blockers = async {
        let mut hidden = Vec::new();
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
                None => return Ok::<_, Error>(hidden),
            }
        }
    };
    let (blocks, blockers) = futures::join!(blocks, blockers);
    Ok(blocks?.into_iter().chain(blockers?).collect())
}

/// The all-time rows: the top `want` of the index, merged from its shards in index order.
///
/// Users land on shards by id, so each shard holds about a sixteenth of the top: every shard is
/// read at the same time for twice its share (and a few more), and only a shard whose page ran
/// out before the merged top's last row, so that it may hold more of the top, is read on, in
/// another round (rare: its share would have to be more than twice the average).
async fn all_time_rows(app: &App, want: usize, since_ms: i64) -> Result<Vec<Row>, Error> {
    let per_shard = (want.div_ceil(keys::BOARD_SHARDS as usize) * 2 + 4).min(want) as u32;
    let order = |i: &crate::store::Item| {
        i.get(keys::attr::GSI1SK)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .unwrap_or_default()
    };
    let read = |pk: String, cursor: Option<crate::store::Cursor>| {
        app.table
            .query(Query::new(Index::Gsi1, pk).limit(per_shard).after(cursor))
    };
    let partitions = keys::leaderboard_partitions();
    let mut pages =
        futures::future::try_join_all(partitions.iter().map(|pk| read(pk.clone(), None))).await?;
    let mut items: Vec<crate::store::Item> = Vec::new();
    loop {
        // Each shard's last row read so far (its rows come in index order).
        let mut last = Vec::with_capacity(pages.len());
        for page in &mut pages {
            last.push(page.items.last().map(order));
            items.append(&mut page.items);
        }
        items.sort_by_key(order);
        items.truncate(want);
        // The last row of the top so far; a shard whose last row read sorts before it may hold
        // more of the top.
        let cutoff = (items.len() == want).then(|| order(&items[want - 1]));
        let unfinished: Vec<(usize, crate::store::Cursor)> = pages
            .iter()
            .zip(&last)
            .enumerate()
            .filter(|(_, (_, last))| match (&cutoff, last) {
                (Some(cut), Some(last)) => last < cut,
                _ => true,
            })
            .filter_map(|(shard, (page, _))| page.next.clone().map(|next| (shard, next)))
            .collect();
        if unfinished.is_empty() {
            break;
        }
        let more = futures::future::try_join_all(
            unfinished
                .iter()
                .map(|(shard, next)| read(partitions[*shard].clone(), Some(next.clone()))),
        )
        .await?;
        for page in &mut pages {
            page.next = None;
        }
        for ((shard, _), page) in unfinished.into_iter().zip(more) {
            pages[shard] = page;
        }
    }
    items
        .iter()
        .map(|item| {
            let score = BadgeScore::from_item(item)?;
            Ok(Row {
                user: UserId(score.user_id),
                points: score.points,
                badges: score.badge_count,
                recent: score.earned_since(since_ms),
                held: score.held.keys().filter_map(|id| id.parse().ok()).collect(),
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
                held: Vec::new(),
            });
            row.held.push(award.badge.0);
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

/// What the board reads before the profiles, for `viewer`: who is hidden from them and the
/// ranked rows, side by side. Only reads (`http::auth::caller_with` may start it beside the
/// authentication); [`leaderboard`] finishes the board from it.
pub struct BoardReads {
    viewer: UserId,
    timeframe: LeaderboardTimeframe,
    hidden: HashSet<UserId>,
    rows: Vec<Row>,
    complete: bool,
}

/// Rows read for the all-time board: the top [`TOP`], a margin for users hidden from the
/// viewer (more hidden than that among the top only shortens the board), and ten for
/// accounts suspended or being erased.
const ALL_TIME_ROWS: usize = TOP + 50 + 10;

pub async fn board_reads(
    app: &App,
    viewer: UserId,
    timeframe: LeaderboardTimeframe,
) -> Result<BoardReads, Error> {
    let since_ms = (app.clock.now() - Duration::days(RECENT_DAYS)).timestamp_millis();
    let rows = async {
        match timeframe {
            LeaderboardTimeframe::AllTime => {
                Ok((all_time_rows(app, ALL_TIME_ROWS, since_ms).await?, true))
            }
            LeaderboardTimeframe::Last30Days => window_rows(app, since_ms).await,
        }
    };
    let (hidden, rows) = futures::join!(hidden_for(app, viewer), rows);
    let (rows, complete) = rows?;
    Ok(BoardReads {
        viewer,
        timeframe,
        hidden: hidden?,
        rows,
        complete,
    })
}

/// The board as its viewer may see it, from [`board_reads`]: `{"timeframe", "complete",
/// "results": [{rank, user, badge_points, total_badges, recent_badges}]}`.
pub async fn leaderboard(app: &App, reads: BoardReads) -> Result<Json, Error> {
    let BoardReads {
        viewer,
        timeframe,
        hidden,
        rows,
        complete,
    } = reads;
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
    // The active definitions (this process's copy, `definitions::list_active_cached`) count the
    // tiers of each row's badges; read beside the profiles.
    let profiles = async {
        if profile_keys.is_empty() {
            Ok(Vec::new())
        } else {
            app.table.batch_get(&profile_keys).await
        }
    };
    let (found, active) = futures::join!(profiles, definitions::list_active_cached(app));
    let (found, active) = (found?, active?);
    let tiers_of = |row: &Row| {
        definitions::tier_counts(
            row.held
                .iter()
                .filter_map(|id| active.iter().find(|d| d.id.0 == *id)),
        )
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
            "tiers": tiers_of(row),
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
