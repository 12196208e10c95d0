//! Follows: follow (active, or a request to a private account), unfollow, remove a follower,
//! approve and reject requests, one edge, and the lists.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::edges::{FollowEdge, FollowStatus};
use super::large;
use super::{
    Attempt, REQUEST_ATTR, Retries, TxOutcome, commit, log, new_request_id, publish,
    usable_profile, written_by,
};
use crate::App;
use crate::access;
use crate::accounts::UserRecord;
use crate::activity::events::EventType;
use crate::auth::Principal;
use crate::auth::client::ClientInfo;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{
    Condition, Cursor, Index, Item, Key, Page, Query, SortCondition, Transaction, TxOp, Update,
    Value, from_item, keys,
};

pub const SELF_FOLLOW: &str = "You cannot follow yourself.";
pub const USER_NOT_FOUND: &str = "User not found.";
pub const ALREADY_FOLLOWING: &str = "You are already following this user.";
pub const ALREADY_REQUESTED: &str = "You have already requested to follow this user.";
pub const BLOCKED: &str = "You cannot follow this user.";
pub const NOT_PENDING: &str = "This follow request is not pending.";
pub const PRIVATE_LISTS: &str = access::PRIVATE_ACCOUNT;

/// Follows `followed` as `follower` (the caller, or anyone when an admin acts for them).
/// One transaction: the edge (absent before), the counters of both users when the follow is
/// active, the target exists and is not suspended (and is public, or private for a request),
/// no block either way, and the follower's following count below the limit.
pub async fn follow(
    app: &App,
    actor: &Principal,
    follower: UserId,
    followed: UserId,
    client: &ClientInfo,
) -> Result<FollowEdge, Error> {
    if follower != actor.id() && !actor.user.role.is_admin() {
        return Err(Error::Forbidden(
            "You may only follow on your own behalf.".into(),
        ));
    }
    if follower == followed {
        return Err(Error::BadRequest(SELF_FOLLOW.into()));
    }
    let limit = app.config.social.following_limit;
    // Most accounts are public: try an active follow first, and learn otherwise from the
    // target's failed condition.
    let mut private = false;
    let request = new_request_id();
    let mut retries = Retries::new();
    let edge = loop {
        let attempt = try_follow(app, follower, followed, limit, &request, &mut private).await?;
        if let Some(edge) = retries.next(attempt).await? {
            break edge;
        }
    };

    let metadata = json!({"follow_id": edge.id(), "status": edge.status.as_str()});
    let (event, detail_type) = if edge.is_active() {
        (EventType::Follow, "UserFollowed")
    } else {
        (EventType::FollowRequest, "FollowRequested")
    };
    log(app, event, follower, followed, Some(client), metadata).await;
    let mut detail = json!({"follower": follower, "followed": followed});
    if app.large_accounts.knows(followed) {
        detail["large"] = true.into();
    }
    publish(app, detail_type, detail).await;
    crate::metrics::emit(crate::metrics::Metric::Follow);
    Ok(edge)
}

/// One edge, to either end of it (or staff), with the other end's profile.
pub async fn get(
    app: &App,
    actor: &Principal,
    follower: UserId,
    followed: UserId,
) -> Result<(FollowEdge, Option<UserRecord>), Error> {
    let me = actor.id();
    if me != follower && me != followed && !actor.user.role.is_staff() {
        return Err(Error::NotFound);
    }
    let other = if me == follower { followed } else { follower };
    let found = app
        .table
        .batch_get(&[keys::follow_edge(follower, followed), keys::user(other)])
        .await?;
    let mut found = found.into_iter();
    let edge = match found.next().flatten() {
        Some(item) => FollowEdge::from_item(&item)?,
        None => return Err(Error::NotFound),
    };
    let other = found.next().flatten().map(|i| from_item(&i)).transpose()?;
    Ok((edge, other))
}

/// `DELETE /api/follows/{id}/`: the follower unfollows (or withdraws a request), or the
/// followed user removes a follower (or rejects a request). Anyone else: 404.
pub async fn delete(
    app: &App,
    actor: &Principal,
    follower: UserId,
    followed: UserId,
    client: &ClientInfo,
    reads: EdgeReads,
) -> Result<(), Error> {
    let me = actor.id();
    if me != follower && me != followed {
        return Err(Error::NotFound);
    }
    let edge = remove_edge_from(app, follower, followed, reads.found)
        .await?
        .ok_or(Error::NotFound)?;
    let metadata = json!({"follow_id": edge.id(), "status": edge.status.as_str()});
    let detail = json!({"follower": follower, "followed": followed});
    let (event, user, target, detail_type) = match (me == follower, edge.status) {
        (true, FollowStatus::Active) => (EventType::Unfollow, me, followed, "UserUnfollowed"),
        (true, FollowStatus::Pending) => {
            (EventType::Unfollow, me, followed, "FollowRequestCancelled")
        }
        (false, FollowStatus::Active) => {
            (EventType::FollowerRemoved, me, follower, "FollowerRemoved")
        }
        (false, FollowStatus::Pending) => (
            EventType::FollowRejected,
            me,
            follower,
            "FollowRequestRejected",
        ),
    };
    log(app, event, user, target, Some(client), metadata).await;
    publish(app, detail_type, detail).await;
    Ok(())
}

/// What an unfollow reads first: the edge and both profiles, in one batch. Only reads
/// (`http::auth::caller_with` may start it beside the authentication), and only for a caller
/// at one end of the edge; [`delete`] decides.
pub struct EdgeReads {
    found: Option<Vec<Option<Item>>>,
}

pub async fn edge_reads(
    app: &App,
    me: UserId,
    follower: UserId,
    followed: UserId,
) -> Result<EdgeReads, Error> {
    if me != follower && me != followed {
        return Ok(EdgeReads { found: None });
    }
    Ok(EdgeReads {
        found: Some(read_for_removal(app, follower, followed).await?),
    })
}

/// The edge and both profiles, as [`try_remove`] computes its transaction from them.
async fn read_for_removal(
    app: &App,
    follower: UserId,
    followed: UserId,
) -> Result<Vec<Option<Item>>, Error> {
    Ok(app
        .table
        .batch_get(&[
            keys::follow_edge(follower, followed),
            keys::user(follower),
            keys::user(followed),
        ])
        .await?)
}

/// Removes the edge if it exists, with the counters when it was active, in one transaction
/// that asserts the state it was computed from (retried when that state moves). A missing
/// profile (an account being erased) is asserted missing and left alone.
pub async fn remove_edge(
    app: &App,
    follower: UserId,
    followed: UserId,
) -> Result<Option<FollowEdge>, Error> {
    remove_edge_from(app, follower, followed, None).await
}

/// [`remove_edge`], its first try computed from `read` when the caller read it already.
async fn remove_edge_from(
    app: &App,
    follower: UserId,
    followed: UserId,
    mut read: Option<Vec<Option<Item>>>,
) -> Result<Option<FollowEdge>, Error> {
    let mut retries = Retries::new();
    let mut unanswered = None;
    loop {
        let found = match read.take() {
            Some(found) => found,
            None => read_for_removal(app, follower, followed).await?,
        };
        let attempt = try_remove(app, follower, followed, found, &mut unanswered).await?;
        if let Some(removed) = retries.next(attempt).await? {
            return Ok(removed);
        }
    }
}

/// ADD `delta` to a counter of a profile read as present (asserted present), or assert the
/// profile still missing.
pub(crate) fn counter_op(user: UserId, counter: &str, delta: i64, present: bool) -> TxOp {
    if present {
        TxOp::Update {
            key: keys::user(user),
            update: Update::new().add(counter, delta),
            condition: Some(Condition::item_present()),
        }
    } else {
        TxOp::Check {
            key: keys::user(user),
            condition: Condition::item_absent(),
        }
    }
}

/// `POST /api/follows/{id}/approve/` by the followed user.
pub async fn approve(
    app: &App,
    actor: &Principal,
    follower: UserId,
    followed: UserId,
    client: &ClientInfo,
) -> Result<FollowEdge, Error> {
    if actor.id() != followed {
        return Err(not_yours(actor.id(), follower));
    }
    let edge = match approve_edge(app, follower, followed).await? {
        Some(edge) => edge,
        None => {
            return match read_edge(app, follower, followed).await? {
                Some(edge) if edge.is_active() => Err(Error::BadRequest(NOT_PENDING.into())),
                // Still pending: the follower is at the following limit.
                Some(_) => Err(Error::BadRequest(format!(
                    "This user already follows {} accounts, the most allowed.",
                    app.config.social.following_limit
                ))),
                None => Err(Error::NotFound),
            };
        }
    };
    let metadata = json!({"follow_id": edge.id()});
    log(
        app,
        EventType::FollowApproved,
        followed,
        follower,
        Some(client),
        metadata,
    )
    .await;
    let detail = json!({"follower": follower, "followed": followed});
    publish(app, "FollowRequestApproved", detail).await;
    Ok(edge)
}

/// The follower may see the edge but not answer it (403); anyone else gets 404.
fn not_yours(me: UserId, follower: UserId) -> Error {
    if me == follower {
        Error::Forbidden("Only the requested user may answer a follow request.".into())
    } else {
        Error::NotFound
    }
}

/// Turns a pending edge active with both counters, in one transaction; `None` when there is no
/// pending edge (or the follower's account is gone).
pub(crate) async fn approve_edge(
    app: &App,
    follower: UserId,
    followed: UserId,
) -> Result<Option<FollowEdge>, Error> {
    let mut retries = Retries::new();
    let mut unanswered = false;
    loop {
        let attempt = try_approve(app, follower, followed, &mut unanswered).await?;
        if let Some(approved) = retries.next(attempt).await? {
            return Ok(approved);
        }
    }
}

/// `POST /api/follows/{id}/reject/` by the followed user: deletes a pending edge (one
/// conditional delete; pending edges move no counter).
pub async fn reject(
    app: &App,
    actor: &Principal,
    follower: UserId,
    followed: UserId,
    client: &ClientInfo,
) -> Result<(), Error> {
    if actor.id() != followed {
        return Err(not_yours(actor.id(), follower));
    }
    let key = keys::follow_edge(follower, followed);
    let pending = Condition::eq("status", FollowStatus::Pending.as_str());
    match app.table.delete(&key, Some(pending)).await {
        Ok(_) => {}
        Err(crate::store::StoreError::ConditionFailed) => {
            return match read_edge(app, follower, followed).await? {
                Some(_) => Err(Error::BadRequest(NOT_PENDING.into())),
                None => Err(Error::NotFound),
            };
        }
        Err(e) => return Err(e.into()),
    }
    let metadata = json!({"follow_id": super::edge_id(follower, followed)});
    log(
        app,
        EventType::FollowRejected,
        followed,
        follower,
        Some(client),
        metadata,
    )
    .await;
    let detail = json!({"follower": follower, "followed": followed});
    publish(app, "FollowRequestRejected", detail).await;
    Ok(())
}

async fn read_edge(
    app: &App,
    follower: UserId,
    followed: UserId,
) -> Result<Option<FollowEdge>, Error> {
    let item = app
        .table
        .get(&keys::follow_edge(follower, followed), true)
        .await?;
    Ok(item.map(|i| FollowEdge::from_item(&i)).transpose()?)
}

/// Which list of a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Whom the user follows.
    Following,
    /// Who follows the user.
    Followers,
}

pub struct ListRequest {
    pub direction: Direction,
    /// Whose lists (the caller when `None`).
    pub user: Option<UserId>,
    /// Pending requests instead of active follows (the caller's own only).
    pub pending: bool,
    pub page_size: u32,
    pub cursor: Option<Cursor>,
}

/// A page of edges, each with the other end's profile.
pub struct FollowPage {
    /// The exact number of active edges (the profile's counter); `None` for requests.
    pub count: Option<i64>,
    pub items: Vec<(FollowEdge, UserRecord)>,
    pub next: Option<Cursor>,
}

/// What a page of the lists reads before anything is decided, for the caller `me`: the page of
/// edges and, for another user's lists, the owner's profile and the block and follow edges
/// between the owner and `me`, side by side. Only reads; [`list_page`] decides.
pub struct ListReads {
    page: Page,
    /// The owner, `me`→owner block, owner→`me` block, `me`→owner follow (another user's lists).
    owner: Option<Vec<Option<Item>>>,
}

pub async fn list_reads(app: &App, me: UserId, request: &ListRequest) -> Result<ListReads, Error> {
    let user = request.user.unwrap_or(me);
    if request.pending && user != me {
        // Refused by `list_page`: nothing to read.
        return Ok(ListReads {
            page: Page::default(),
            owner: None,
        });
    }
    let pk = keys::user_partition(user);
    let query = match (request.direction, request.pending) {
        (Direction::Following, pending) => {
            let status = if pending {
                FollowStatus::Pending
            } else {
                FollowStatus::Active
            };
            Query::new(Index::Primary, pk)
                .sort(SortCondition::BeginsWith(keys::FOLLOWS_PREFIX.into()))
                .filter(Condition::eq("status", status.as_str()))
        }
        (Direction::Followers, false) => Query::new(Index::Gsi1, pk)
            .sort(SortCondition::BeginsWith(keys::FOLLOWER_PREFIX.into())),
        (Direction::Followers, true) => {
            Query::new(Index::Gsi2, pk).sort(SortCondition::BeginsWith(keys::REQUEST_PREFIX.into()))
        }
    }
    .limit(request.page_size)
    .after(request.cursor.clone());

    if user == me {
        return Ok(ListReads {
            page: app.table.query(query).await?,
            owner: None,
        });
    }
    // The privacy read and the page run side by side; the page is dropped if access fails.
    let owner_keys = [
        keys::user(user),
        keys::block_edge(me, user),
        keys::block_edge(user, me),
        keys::follow_edge(me, user),
    ];
    let (owner, page) = tokio::join!(app.table.batch_get(&owner_keys), app.table.query(query));
    Ok(ListReads {
        page: page?,
        owner: Some(owner?),
    })
}

/// A page of one of the lists, from what [`list_reads`] read for this caller. Another user's
/// lists: 404 when either blocks the other (or the user does not exist, or is suspended), 403
/// when the account is private and the caller is not an active follower. Staff see every list.
/// Cost: [`list_reads`] (one round trip, which `http::auth::caller_with` overlaps with
/// authentication), then one batch read of the listed profiles (with the block edges between
/// them and the caller, for another user's lists).
pub async fn list_page(
    app: &App,
    actor: &Principal,
    request: ListRequest,
    reads: ListReads,
) -> Result<FollowPage, Error> {
    let me = actor.id();
    let user = request.user.unwrap_or(me);
    if request.pending && user != me {
        return Err(Error::Forbidden(
            "Follow requests are visible to their user only.".into(),
        ));
    }
    let owner = match &reads.owner {
        None => actor.user.clone(),
        Some(found) => visible_owner(actor, found)?,
    };
    let count = (!request.pending).then_some(match request.direction {
        Direction::Following => owner.following_count,
        Direction::Followers => owner.followers(),
    });
    let page = reads.page;

    let edges = page
        .items
        .iter()
        .map(FollowEdge::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    let other = |e: &FollowEdge| match request.direction {
        Direction::Following => e.following,
        Direction::Followers => e.follower,
    };
    // Another user's lists leave out everyone who blocks the caller or whom the caller blocks,
    // as every other list does: their block edges come in the same batch read as the profiles.
    let screen_blocks = user != me && !actor.user.role.is_staff();
    let listed: Vec<UserId> = edges.iter().map(other).collect();
    let (profiles, blocked) = if screen_blocks {
        profiles_and_blocks(app, me, &listed).await?
    } else {
        (
            profiles_of(app, listed.iter().copied()).await?,
            vec![false; listed.len()],
        )
    };
    let items = edges
        .into_iter()
        .zip(profiles)
        .zip(blocked)
        .filter(|(_, blocked)| !blocked)
        // An account being erased may still have edges for a moment: leave them out.
        .filter_map(|((edge, profile), _)| profile.map(|p| (edge, p)))
        .collect();
    Ok(FollowPage {
        count,
        items,
        next: page.next,
    })
}

/// The owner of lists the caller asked for, if the caller may see them
/// (`access::require_connections_visible`), from the owner's profile and the edges between
/// the two ([`ListReads::owner`]).
fn visible_owner(actor: &Principal, found: &[Option<Item>]) -> Result<UserRecord, Error> {
    let owner: Option<UserRecord> = found[0].as_ref().map(from_item).transpose()?;
    let follows = match &found[3] {
        Some(item) => FollowEdge::from_item(item)?.is_active(),
        None => false,
    };
    let relationship = access::Relationship {
        blocked: found[1].is_some() || found[2].is_some(),
        follows,
    };
    let viewer = access::Actor::of(&actor.user);
    let visibility = access::profile_visibility(viewer, owner.as_ref(), relationship);
    let owner = owner.ok_or(Error::NotFound)?;
    access::require_connections_visible(visibility, &owner)?;
    Ok(owner)
}

/// The profiles of these users and, for each, whether a block stands between them and `me`
/// either way: one batch read of three keys a user.
async fn profiles_and_blocks(
    app: &App,
    me: UserId,
    users: &[UserId],
) -> Result<(Vec<Option<UserRecord>>, Vec<bool>), Error> {
    if users.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let keys: Vec<Key> = users
        .iter()
        .flat_map(|&u| {
            [
                keys::user(u),
                keys::block_edge(me, u),
                keys::block_edge(u, me),
            ]
        })
        .collect();
    let found = app.table.batch_get(&keys).await?;
    let mut profiles = Vec::with_capacity(users.len());
    let mut blocked = Vec::with_capacity(users.len());
    for chunk in found.chunks(3) {
        profiles.push(chunk[0].as_ref().map(from_item).transpose()?);
        blocked.push(chunk[1].is_some() || chunk[2].is_some());
    }
    Ok((profiles, blocked))
}

/// The profiles of these users, in order, in one batch read (`None` for a missing one).
pub(crate) async fn profiles_of(
    app: &App,
    ids: impl Iterator<Item = UserId>,
) -> Result<Vec<Option<UserRecord>>, Error> {
    let keys: Vec<Key> = ids.map(keys::user).collect();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let found = app.table.batch_get(&keys).await?;
    found
        .into_iter()
        .map(|item: Option<Item>| Ok(item.map(|i| from_item(&i)).transpose()?))
        .collect()
}

/// One try of [`follow`], assuming the target public or (`private`) private.
///
/// An ordinary target's profile is in the transaction: its `follower_count` (an active follow)
/// or a check that it is private (a request), with the target usable, not large and below the
/// large-account threshold. A large target (`social::large`) is read just before instead, and
/// an active follow ADDs to one of its count shards.
async fn try_follow(
    app: &App,
    follower: UserId,
    followed: UserId,
    limit: i64,
    request: &str,
    private: &mut bool,
) -> Result<Attempt<FollowEdge>, Error> {
    let large = app.large_accounts.knows(followed);
    if large {
        *private = large_target_is_private(app, followed).await?;
    }
    let target = AssumedTarget {
        large,
        private: *private,
    };
    let edge = new_follow_edge(follower, followed, target.private, app.clock.now());
    let large_account_followers = app.config.social.large_account_followers;
    let tx = follow_transaction(&edge, request, target, limit, large_account_followers)?;
    match commit(app, tx).await? {
        TxOutcome::Committed => Ok(Attempt::Done(edge)),
        TxOutcome::Busy => Ok(Attempt::Retry),
        TxOutcome::Failed(FollowOp::Edge) => {
            edge_already_there(app, follower, followed, request).await
        }
        TxOutcome::Failed(FollowOp::Follower) => follower_refused(app, follower, limit).await,
        TxOutcome::Failed(FollowOp::Target) => {
            target_refused(app, followed, target.private, private).await
        }
        // Either block check: 403 without saying who blocked whom.
        TxOutcome::Failed(FollowOp::NoBlockByFollower | FollowOp::NoBlockByFollowed) => {
            Err(Error::Forbidden(BLOCKED.into()))
        }
        // Unconditional: a large account's shard cannot fail a condition.
        TxOutcome::Failed(FollowOp::TargetShard) => Ok(Attempt::Retry),
    }
}

/// What one try of a follow assumes of its target.
#[derive(Clone, Copy, Debug)]
struct AssumedTarget {
    /// A large account: read before the transaction, its follower count kept in shards.
    large: bool,
    /// Private: the follow is a request (pending), which moves no count.
    private: bool,
}

/// A large account is not in the follow's transaction: it is read first, and must be usable
/// (not suspended, not being erased). Its visibility decides between a follow and a request.
async fn large_target_is_private(app: &App, followed: UserId) -> Result<bool, Error> {
    match crate::accounts::get_user(app, followed).await? {
        Some(u) if !u.is_suspended && !u.deleting => Ok(u.is_private),
        _ => Err(Error::BadRequest(USER_NOT_FOUND.into())),
    }
}

/// The edge a follow writes: active and approved now, or pending for a private target.
fn new_follow_edge(
    follower: UserId,
    followed: UserId,
    private: bool,
    now: DateTime<Utc>,
) -> FollowEdge {
    let status = if private {
        FollowStatus::Pending
    } else {
        FollowStatus::Active
    };
    FollowEdge {
        follower,
        following: followed,
        status,
        created_at: now,
        approved_at: (!private).then_some(now),
    }
}

/// The follow's transaction. Its operations stay in this order, as a cancellation is read by
/// the first operation that failed its condition: the edge, the follower, the target (or its
/// shard), then no block either way.
fn follow_transaction(
    edge: &FollowEdge,
    request: &str,
    target: AssumedTarget,
    limit: i64,
    large_account_followers: i64,
) -> Result<Transaction<FollowOp>, Error> {
    let (follower, followed) = (edge.follower, edge.following);
    let mut item = edge.to_item()?;
    item.insert(REQUEST_ATTR.into(), Value::S(request.to_owned()));
    let mut tx = Transaction::new();
    tx.push(
        FollowOp::Edge,
        TxOp::Put {
            item,
            condition: Some(Condition::item_absent()),
        },
    );
    tx.push(
        FollowOp::Follower,
        follower_op(follower, target.private, limit),
    );
    if let Some((name, op)) = target_op(follower, followed, target, large_account_followers) {
        tx.push(name, op);
    }
    tx.push(
        FollowOp::NoBlockByFollower,
        TxOp::Check {
            key: keys::block_edge(follower, followed),
            condition: Condition::item_absent(),
        },
    );
    tx.push(
        FollowOp::NoBlockByFollowed,
        TxOp::Check {
            key: keys::block_edge(followed, follower),
            condition: Condition::item_absent(),
        },
    );
    Ok(tx)
}

/// The follower's profile: usable and under the following limit, with its `following_count`
/// for an active follow (a request only checks).
fn follower_op(follower: UserId, private: bool, limit: i64) -> TxOp {
    let under_limit = Condition::Or(vec![
        Condition::NotExists("following_count".into()),
        Condition::Lt("following_count".into(), Value::Int(limit)),
    ]);
    if private {
        TxOp::Check {
            key: keys::user(follower),
            condition: usable_profile().and(under_limit),
        }
    } else {
        TxOp::Update {
            key: keys::user(follower),
            update: Update::new().add("following_count", 1),
            condition: Some(usable_profile().and(under_limit)),
        }
    }
}

/// The target's part of the transaction: its profile, or a large account's count shard, or
/// nothing (a request to a large private account).
fn target_op(
    follower: UserId,
    followed: UserId,
    target: AssumedTarget,
    large_account_followers: i64,
) -> Option<(FollowOp, TxOp)> {
    // The target is in the transaction unless it is a large account.
    let ordinary = usable_profile().and(Condition::Ne("large_account".into(), true.into()));
    match (target.large, target.private) {
        (false, true) => Some((
            FollowOp::Target,
            TxOp::Check {
                key: keys::user(followed),
                condition: ordinary.and(Condition::eq("is_private", true)),
            },
        )),
        (false, false) => {
            // A public profile may lack `is_private`; `<> true` covers both.
            let below_large = Condition::Or(vec![
                Condition::NotExists("follower_count".into()),
                Condition::Lt("follower_count".into(), Value::Int(large_account_followers)),
            ]);
            Some((
                FollowOp::Target,
                TxOp::Update {
                    key: keys::user(followed),
                    update: Update::new().add("follower_count", 1),
                    condition: Some(
                        ordinary
                            .and(Condition::Ne("is_private".into(), true.into()))
                            .and(below_large),
                    ),
                },
            ))
        }
        (true, false) => Some((
            FollowOp::TargetShard,
            TxOp::Update {
                key: keys::follower_count_shard(followed, follower),
                update: Update::new().add(large::SHARD_COUNT, 1),
                condition: None,
            },
        )),
        // A request to a large private account moves no count.
        (true, true) => None,
    }
}

/// The edge's put failed: it is there already, written by an earlier try of this request
/// (whose answer was lost), or by an earlier follow or request.
async fn edge_already_there(
    app: &App,
    follower: UserId,
    followed: UserId,
    request: &str,
) -> Result<Attempt<FollowEdge>, Error> {
    let key = keys::follow_edge(follower, followed);
    match app.table.get(&key, true).await? {
        // An earlier try of this request did commit.
        Some(item) if written_by(&item, request) => {
            Ok(Attempt::Done(FollowEdge::from_item(&item)?))
        }
        Some(item) if FollowEdge::from_item(&item)?.is_active() => {
            Err(Error::BadRequest(ALREADY_FOLLOWING.into()))
        }
        Some(_) => Err(Error::BadRequest(ALREADY_REQUESTED.into())),
        // Unfollowed in between: try again.
        None => Ok(Attempt::Retry),
    }
}

/// The follower's condition failed: at the following limit, suspended or gone, or else its
/// profile moved in between (try again).
async fn follower_refused(
    app: &App,
    follower: UserId,
    limit: i64,
) -> Result<Attempt<FollowEdge>, Error> {
    let user = crate::accounts::get_user_consistent(app, follower).await?;
    match user {
        Some(u) if !u.is_suspended && u.following_count >= limit => Err(Error::BadRequest(
            format!("You cannot follow more than {limit} accounts."),
        )),
        Some(u) if !u.is_suspended => Ok(Attempt::Retry),
        _ => Err(Error::field("follower", USER_NOT_FOUND)),
    }
}

/// The target's condition failed: it is gone or suspended, or what the try assumed of it was
/// wrong (it is large, has just become large, or its visibility is the other one), which the
/// next try corrects at once; otherwise it moved in between (try again).
async fn target_refused(
    app: &App,
    followed: UserId,
    assumed_private: bool,
    private: &mut bool,
) -> Result<Attempt<FollowEdge>, Error> {
    let user = crate::accounts::get_user_consistent(app, followed).await?;
    match user {
        Some(u) if !u.is_suspended => {
            if u.large_account {
                app.large_accounts.learn(followed);
                Ok(Attempt::Again)
            } else if !u.is_private && u.follower_count >= app.config.social.large_account_followers
            {
                large::promote(app, followed).await?;
                Ok(Attempt::Again)
            } else if u.is_private == assumed_private {
                Ok(Attempt::Retry)
            } else {
                *private = u.is_private;
                Ok(Attempt::Again)
            }
        }
        _ => Err(Error::BadRequest(USER_NOT_FOUND.into())),
    }
}

/// The operations of a follow's transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FollowOp {
    /// The new edge, put if absent.
    Edge,
    /// The follower's profile: usable, under the following limit (and its count, if public).
    Follower,
    /// The followed profile, unless it is a large account: usable, of the assumed visibility,
    /// and its follower count.
    Target,
    /// A large account's follower count shard (unconditional).
    TargetShard,
    NoBlockByFollower,
    NoBlockByFollowed,
}

/// One try of [`remove_edge`].
///
/// `unanswered` holds the edge an earlier try removed without an answer: if the edge is gone
/// now, that try (or a concurrent remover) did it, and the removal is reported done.
async fn try_remove(
    app: &App,
    follower: UserId,
    followed: UserId,
    found: Vec<Option<Item>>,
    unanswered: &mut Option<FollowEdge>,
) -> Result<Attempt<Option<FollowEdge>>, Error> {
    let edge_key = keys::follow_edge(follower, followed);
    let Some(item) = &found[0] else {
        return Ok(Attempt::Done(unanswered.take()));
    };
    let edge = FollowEdge::from_item(item)?;
    let mut tx = Transaction::new().with(
        RemoveOp::Edge,
        TxOp::Delete {
            key: edge_key.clone(),
            condition: Some(Condition::eq("status", edge.status.as_str())),
        },
    );
    if edge.is_active() {
        tx.push(
            RemoveOp::FollowingCount,
            counter_op(follower, "following_count", -1, found[1].is_some()),
        );
        // A large account's follow was counted in a shard: it is taken back from there.
        let large = found[2]
            .as_ref()
            .and_then(|p| p.get("large_account"))
            .and_then(Value::as_bool)
            == Some(true);
        let followed_count = if large {
            TxOp::Update {
                key: keys::follower_count_shard(followed, follower),
                update: Update::new().add(large::SHARD_COUNT, -1),
                condition: None,
            }
        } else {
            counter_op(followed, "follower_count", -1, found[2].is_some())
        };
        tx.push(RemoveOp::FollowerCount, followed_count);
    }
    // Whichever condition failed, the state moved: read again.
    match commit(app, tx).await? {
        TxOutcome::Committed => Ok(Attempt::Done(Some(edge))),
        TxOutcome::Busy => {
            *unanswered = Some(edge);
            Ok(Attempt::Retry)
        }
        TxOutcome::Failed(_) => Ok(Attempt::Retry),
    }
}

/// One try of [`approve_edge`].
/// After a try without an answer (`unanswered`), an edge found active was approved by it.
async fn try_approve(
    app: &App,
    follower: UserId,
    followed: UserId,
    unanswered: &mut bool,
) -> Result<Attempt<Option<FollowEdge>>, Error> {
    let now = app.clock.now();
    let (gsi1pk, gsi1sk) = keys::follower_index(followed, follower);
    let approved_at = Value::from(serde_json::to_value(now).unwrap_or_default());
    let tx = Transaction::new()
        .with(
            ApproveOp::Edge,
            TxOp::Update {
                key: keys::follow_edge(follower, followed),
                update: Update::new()
                    .set("status", FollowStatus::Active.as_str())
                    .set("approved_at", approved_at)
                    .set(keys::attr::GSI1PK, gsi1pk)
                    .set(keys::attr::GSI1SK, gsi1sk)
                    .remove(keys::attr::GSI2PK)
                    .remove(keys::attr::GSI2SK),
                condition: Some(Condition::eq("status", FollowStatus::Pending.as_str())),
            },
        )
        .with(
            ApproveOp::FollowerCount,
            TxOp::Update {
                key: keys::user(followed),
                update: Update::new().add("follower_count", 1),
                condition: Some(Condition::item_present()),
            },
        )
        // The follower's limit holds at approval too: requests made under it can outnumber it.
        .with(
            ApproveOp::FollowingCount,
            TxOp::Update {
                key: keys::user(follower),
                update: Update::new().add("following_count", 1),
                condition: Some(Condition::item_present().and(Condition::Or(vec![
                    Condition::NotExists("following_count".into()),
                    Condition::Lt(
                        "following_count".into(),
                        Value::Int(app.config.social.following_limit),
                    ),
                ]))),
            },
        );
    // Whichever condition failed, there is no pending request to approve (or no room for it).
    match commit(app, tx).await? {
        TxOutcome::Committed => Ok(Attempt::Done(read_edge(app, follower, followed).await?)),
        TxOutcome::Busy => {
            *unanswered = true;
            Ok(Attempt::Retry)
        }
        TxOutcome::Failed(_) if *unanswered => {
            let edge = read_edge(app, follower, followed).await?;
            Ok(Attempt::Done(edge.filter(FollowEdge::is_active)))
        }
        TxOutcome::Failed(_) => Ok(Attempt::Done(None)),
    }
}

/// The operations of an unfollow's transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RemoveOp {
    /// The edge, deleted if its status is still the one read.
    Edge,
    /// The follower's `following_count` (an active edge only).
    FollowingCount,
    /// The followed user's `follower_count`, or a large account's shard (an active edge only).
    FollowerCount,
}

/// The operations of an approval's transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ApproveOp {
    /// The edge, pending until now.
    Edge,
    /// The followed user's `follower_count`.
    FollowerCount,
    /// The follower's `following_count`, under the following limit.
    FollowingCount,
}
