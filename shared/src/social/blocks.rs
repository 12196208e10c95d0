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
    Condition, Cursor, Index, Query, SortCondition, StoreError, Transaction, TxOp, Update, Value,
    keys,
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
    let outward = keys::follow_edge(me, blocked);
    let inward = keys::follow_edge(blocked, me);
    let found = app
        .table
        .batch_get(&[
            outward.clone(),
            inward.clone(),
            keys::user(me),
            keys::user(blocked),
        ])
        .await?;
    if found[3].is_none() {
        return Err(Error::BadRequest(USER_NOT_FOUND.into()));
    }
    let block = BlockEdge {
        blocker: me,
        blocked,
        reason: reason.to_owned(),
        created_at: app.clock.now(),
    };
    let mut item = block.to_item()?;
    item.insert(REQUEST_ATTR.into(), Value::S(request.to_owned()));
    let mut tx = Transaction::new().with(
        BlockOp::Block,
        TxOp::Put {
            item,
            condition: Some(Condition::item_absent()),
        },
    );
    let mut removed = Vec::new();
    // My counters' deltas (theirs mirror them, below).
    let (mut my_following, mut my_followers) = (0i64, 0i64);
    for (name, key, item) in [
        (BlockOp::Outward, &outward, &found[0]),
        (BlockOp::Inward, &inward, &found[1]),
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
                        key: key.clone(),
                        condition: Some(Condition::eq("status", edge.status.as_str())),
                    },
                );
                removed.push(edge);
            }
            None => tx.push(
                name,
                TxOp::Check {
                    key: key.clone(),
                    condition: Condition::item_absent(),
                },
            ),
        }
    }
    // Their counters mirror mine: my following is their followers and the other way.
    let sides = [
        (
            BlockOp::Blocker,
            me,
            my_following,
            my_followers,
            found[2].is_some(),
        ),
        (BlockOp::Blocked, blocked, my_followers, my_following, true),
    ];
    for (name, user, following, followers, present) in sides {
        if following == 0 && followers == 0 {
            if user == blocked {
                tx.push(
                    name,
                    TxOp::Check {
                        key: keys::user(user),
                        condition: Condition::item_present(),
                    },
                );
            }
            continue;
        }
        let mut update = Update::new();
        if following != 0 {
            update = update.add("following_count", following);
        }
        if followers != 0 {
            update = update.add("follower_count", followers);
        }
        let op = if present {
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
        };
        tx.push(name, op);
    }
    match commit(app, tx).await? {
        TxOutcome::Committed => Ok(Attempt::Done((block, removed))),
        TxOutcome::Failed(BlockOp::Block) => {
            let key = keys::block_edge(me, blocked);
            match app.table.get(&key, true).await? {
                Some(item) if written_by(&item, request) => Ok(Attempt::Done((
                    BlockEdge::from_item(&item)?,
                    std::mem::take(unanswered),
                ))),
                _ => Err(Error::BadRequest(ALREADY_BLOCKED.into())),
            }
        }
        TxOutcome::Busy => {
            *unanswered = removed;
            Ok(Attempt::Retry)
        }
        // An edge or a profile moved since the read: read again.
        TxOutcome::Failed(_) => Ok(Attempt::Retry),
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
