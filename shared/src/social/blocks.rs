//! Blocks: block (removing follows and requests both ways, with the counters, in one
//! transaction), unblock, and the caller's list.

use serde_json::json;

use super::edges::{BlockEdge, FollowEdge};
use super::follows::{USER_NOT_FOUND, profiles_of};
use super::{
    Attempt, REQUEST_ATTR, Retries, TxOutcome, commit, log, new_request_id, publish, written_by,
};
use crate::App;
use crate::accounts::UserRecord;
use crate::activity::events::EventType;
use crate::auth::Principal;
use crate::auth::client::ClientInfo;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{
    Condition, Cursor, Index, Item, Query, SortCondition, StoreError, Transaction, TxOp, Update,
    Value, keys,
};

pub const SELF_BLOCK: &str = "You cannot block yourself.";
pub const ALREADY_BLOCKED: &str = "You have already blocked this user.";
/// Longest accepted block reason, in characters.
pub const REASON_MAX_CHARS: usize = 500;

/// Blocks `blocked` as the caller. The four edges between the two users are read in one batch
/// (with both profiles), and one transaction writes the block, deletes the follow edges that
/// were read (asserting each one's status, or its absence) and moves the counters of the active
/// ones; if anything moved in between, it is read and tried again.
pub async fn block(
    app: &App,
    actor: &Principal,
    blocked: UserId,
    reason: &str,
    client: &ClientInfo,
) -> Result<BlockEdge, Error> {
    let me = actor.id();
    if me == blocked {
        return Err(Error::BadRequest(SELF_BLOCK.into()));
    }
    let reason = reason.trim();
    if reason.chars().count() > REASON_MAX_CHARS {
        return Err(Error::field(
            "reason",
            format!("Ensure this field has no more than {REASON_MAX_CHARS} characters."),
        ));
    }
    let request = new_request_id();
    let mut unanswered = Vec::new();
    let mut retries = Retries::new();
    let (block, removed) = loop {
        let attempt = try_block(app, me, blocked, reason, &request, &mut unanswered).await?;
        if let Some(done) = retries.next(attempt).await? {
            break done;
        }
    };

    let removed_ids: Vec<String> = removed.iter().map(FollowEdge::id).collect();
    let metadata = json!({"block_id": block.id(), "removed_follows": removed_ids});
    log(app, EventType::Block, me, blocked, Some(client), metadata).await;
    let detail = json!({"blocker": me, "blocked": blocked, "removed_follows": removed_ids});
    publish(app, "UserBlocked", detail).await;
    Ok(block)
}

/// `DELETE /api/blocks/{id}/` by the blocker (anyone else, or no such block: 404).
pub async fn unblock(
    app: &App,
    actor: &Principal,
    blocker: UserId,
    blocked: UserId,
    client: &ClientInfo,
) -> Result<(), Error> {
    if actor.id() != blocker {
        return Err(Error::NotFound);
    }
    let key = keys::block_edge(blocker, blocked);
    match app
        .table
        .delete(&key, Some(Condition::item_present()))
        .await
    {
        Ok(_) => {}
        Err(StoreError::ConditionFailed) => return Err(Error::NotFound),
        Err(e) => return Err(e.into()),
    }
    let metadata = json!({"block_id": super::edge_id(blocker, blocked)});
    log(
        app,
        EventType::Unblock,
        blocker,
        blocked,
        Some(client),
        metadata,
    )
    .await;
    let detail = json!({"blocker": blocker, "blocked": blocked});
    publish(app, "UserUnblocked", detail).await;
    Ok(())
}

/// A page of the caller's blocks, each with the blocked user's profile.
pub struct BlockPage {
    pub items: Vec<(BlockEdge, UserRecord)>,
    pub next: Option<Cursor>,
}

/// The caller's blocks: one query and one batch read of the blocked profiles.
pub async fn list(
    app: &App,
    actor: &Principal,
    page_size: u32,
    cursor: Option<Cursor>,
) -> Result<BlockPage, Error> {
    let query = Query::new(Index::Primary, keys::user_partition(actor.id()))
        .sort(SortCondition::BeginsWith(keys::BLOCKS_PREFIX.into()))
        .limit(page_size)
        .after(cursor);
    let page = app.table.query(query).await?;
    let edges = page
        .items
        .iter()
        .map(BlockEdge::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    let profiles = profiles_of(app, edges.iter().map(|e| e.blocked)).await?;
    let items = edges
        .into_iter()
        .zip(profiles)
        .filter_map(|(edge, profile)| profile.map(|p| (edge, p)))
        .collect();
    Ok(BlockPage {
        items,
        next: page.next,
    })
}

/// One try of [`block`]. `request` marks the block edge, so that a try whose answer was lost
/// is recognised (with `unanswered`, the follows it removed).
async fn try_block(
    app: &App,
    me: UserId,
    blocked: UserId,
    reason: &str,
    request: &str,
    unanswered: &mut Vec<FollowEdge>,
) -> Result<Attempt<(BlockEdge, Vec<FollowEdge>)>, Error> {
    let found = read_for_block(app, me, blocked).await?;
    if found.blocked_profile.is_none() {
        return Err(Error::BadRequest(USER_NOT_FOUND.into()));
    }
    let block = BlockEdge {
        blocker: me,
        blocked,
        reason: reason.to_owned(),
        created_at: app.clock.now(),
    };
    let BlockPlan { tx, removed } = block_transaction(&block, request, &found)?;
    match commit(app, tx).await? {
        TxOutcome::Committed => Ok(Attempt::Done((block, removed))),
        TxOutcome::Failed(BlockOp::Block) => {
            block_already_there(app, me, blocked, request, unanswered).await
        }
        TxOutcome::Busy => {
            *unanswered = removed;
            Ok(Attempt::Retry)
        }
        // An edge or a profile moved since the read: read again.
        TxOutcome::Failed(_) => Ok(Attempt::Retry),
    }
}

/// What a block reads first, in one batch: the follow edges both ways and both profiles.
struct BlockReads {
    /// My follow of them.
    outward: Option<Item>,
    /// Their follow of me.
    inward: Option<Item>,
    /// My profile: if it is missing, the transaction asserts it still missing (no counters).
    blocker_profile: Option<Item>,
    /// Their profile: a block of a missing user is refused.
    blocked_profile: Option<Item>,
}

async fn read_for_block(app: &App, me: UserId, blocked: UserId) -> Result<BlockReads, Error> {
    let mut found = app
        .table
        .batch_get(&[
            keys::follow_edge(me, blocked),
            keys::follow_edge(blocked, me),
            keys::user(me),
            keys::user(blocked),
        ])
        .await?;
    Ok(BlockReads {
        outward: found[0].take(),
        inward: found[1].take(),
        blocker_profile: found[2].take(),
        blocked_profile: found[3].take(),
    })
}

/// A block's transaction and the follow edges it removes.
struct BlockPlan {
    tx: Transaction<BlockOp>,
    removed: Vec<FollowEdge>,
}

/// The block's transaction, computed from what was read: the block edge (put if absent), each
/// follow edge deleted as read (or asserted absent), and the counters those edges moved.
fn block_transaction(
    block: &BlockEdge,
    request: &str,
    found: &BlockReads,
) -> Result<BlockPlan, Error> {
    let (me, blocked) = (block.blocker, block.blocked);
    let mut item = block.to_item()?;
    item.insert(REQUEST_ATTR.into(), Value::S(request.to_owned()));
    let mut tx = Transaction::new().with(
        BlockOp::Block,
        TxOp::Put {
            item,
            condition: Some(Condition::item_absent()),
        },
    );
    let Removals {
        removed,
        my_following,
        my_followers,
    } = push_follow_removals(&mut tx, me, blocked, found)?;
    // Their counters mirror mine: my following is their followers and the other way.
    let sides = [
        (
            BlockOp::Blocker,
            me,
            my_following,
            my_followers,
            found.blocker_profile.is_some(),
        ),
        (BlockOp::Blocked, blocked, my_followers, my_following, true),
    ];
    for (name, user, following, followers, present) in sides {
        if let Some(op) = counters_op(user, following, followers, present, user == blocked) {
            tx.push(name, op);
        }
    }
    Ok(BlockPlan { tx, removed })
}

/// The follow edges a block removes, and my counters' deltas (theirs mirror them).
struct Removals {
    removed: Vec<FollowEdge>,
    my_following: i64,
    my_followers: i64,
}

/// Each follow edge between us, either way: deleted with the status it was read with, or
/// asserted still absent.
fn push_follow_removals(
    tx: &mut Transaction<BlockOp>,
    me: UserId,
    blocked: UserId,
    found: &BlockReads,
) -> Result<Removals, Error> {
    let mut removed = Vec::new();
    // My counters' deltas (theirs mirror them, in `block_transaction`).
    let (mut my_following, mut my_followers) = (0i64, 0i64);
    for (name, key, item) in [
        (
            BlockOp::Outward,
            keys::follow_edge(me, blocked),
            &found.outward,
        ),
        (
            BlockOp::Inward,
            keys::follow_edge(blocked, me),
            &found.inward,
        ),
    ] {
        match item {
            Some(item) => {
                let edge = FollowEdge::from_item(item)?;
                if edge.is_active() {
                    if edge.follower == me {
                        my_following -= 1;
                    } else {
                        my_followers -= 1;
                    }
                }
                tx.push(
                    name,
                    TxOp::Delete {
                        key,
                        condition: Some(Condition::eq("status", edge.status.as_str())),
                    },
                );
                removed.push(edge);
            }
            None => tx.push(
                name,
                TxOp::Check {
                    key,
                    condition: Condition::item_absent(),
                },
            ),
        }
    }
    Ok(Removals {
        removed,
        my_following,
        my_followers,
    })
}

/// One side's counters: ADD the deltas to a profile read as present (asserted present), or
/// assert it still missing. Without deltas: nothing, or (the blocked user's side,
/// `check_when_unmoved`) a check that the profile exists.
fn counters_op(
    user: UserId,
    following: i64,
    followers: i64,
    present: bool,
    check_when_unmoved: bool,
) -> Option<TxOp> {
    if following == 0 && followers == 0 {
        return check_when_unmoved.then(|| TxOp::Check {
            key: keys::user(user),
            condition: Condition::item_present(),
        });
    }
    let mut update = Update::new();
    if following != 0 {
        update = update.add("following_count", following);
    }
    if followers != 0 {
        update = update.add("follower_count", followers);
    }
    Some(if present {
        TxOp::Update {
            key: keys::user(user),
            update,
            condition: Some(Condition::item_present()),
        }
    } else {
        TxOp::Check {
            key: keys::user(user),
            condition: Condition::item_absent(),
        }
    })
}

/// The block edge's put failed: an earlier try of this request committed it (its answer was
/// lost, and `unanswered` holds the follows it removed), or the block was there before.
async fn block_already_there(
    app: &App,
    me: UserId,
    blocked: UserId,
    request: &str,
    unanswered: &mut Vec<FollowEdge>,
) -> Result<Attempt<(BlockEdge, Vec<FollowEdge>)>, Error> {
    let key = keys::block_edge(me, blocked);
    match app.table.get(&key, true).await? {
        Some(item) if written_by(&item, request) => Ok(Attempt::Done((
            BlockEdge::from_item(&item)?,
            std::mem::take(unanswered),
        ))),
        _ => Err(Error::BadRequest(ALREADY_BLOCKED.into())),
    }
}

/// The operations of a block's transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockOp {
    /// The block edge, put if absent.
    Block,
    /// My follow of them (deleted) or its absence (checked).
    Outward,
    /// Their follow of me (deleted) or its absence (checked).
    Inward,
    /// My counters, when a removed edge moves them.
    Blocker,
    /// Their counters, or that their profile exists.
    Blocked,
}
