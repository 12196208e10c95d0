//! The social graph: follows (with approval for private accounts), blocks, relationships,
//! exact counters. The four functions below are what other
//! capabilities call.
//!
//! Every change of an edge and the counters it moves is one `transact_write` whose conditions
//! assert the state the change was computed from; a cancelled transaction (a condition that no
//! longer holds, or a conflict with a concurrent transaction) is re-read and retried with
//! jittered backoff, and after [`Loop::SOCIAL`]'s tries the request is a 503 that changed nothing
//! (`crate::retry`). The operations of each transaction are named ([`Transaction`]), and a
//! failed condition is read by its operation's name. A
//! table still throttling after the store's own retries is a 503 at once
//! ([`StoreError::calls_for_another_round`](crate::store::StoreError::calls_for_another_round)). So
//! `follower_count` and `following_count` equal the active edges at all times, except a large
//! account's follower count, which counts in shards and is folded every minute ([`large`]).
//! The rules and the API are in `docs/social.md`.

pub mod blocks;
pub mod edges;
pub mod follows;
pub mod large;
pub mod relationships;

use serde_json::json;

use crate::App;
use crate::activity::events::{self, NewEvent};
use crate::auth::client::ClientInfo;
use crate::bus::DomainEvent;
use crate::error::Error;
use crate::model::UserId;
use crate::retry::{Loop, Tries};
use crate::store::{Condition, Index, Query, SortCondition, Transaction, keys};

pub use edges::{BlockEdge, FollowEdge, FollowStatus, edge_id, parse_edge_id};

/// True when either user blocks the other (one batch read of the two block edges).
pub async fn blocked_either_way(app: &App, a: UserId, b: UserId) -> Result<bool, Error> {
    if a == b {
        return Ok(false);
    }
    let found = app
        .table
        .batch_get(&[keys::block_edge(a, b), keys::block_edge(b, a)])
        .await?;
    Ok(found.iter().any(Option::is_some))
}

/// True when `follower` actively follows `followed` (pending requests do not count).
pub async fn is_following(app: &App, follower: UserId, followed: UserId) -> Result<bool, Error> {
    let item = app
        .table
        .get(&keys::follow_edge(follower, followed), false)
        .await?;
    Ok(match item {
        Some(item) => FollowEdge::from_item(&item)?.is_active(),
        None => false,
    })
}

/// Approves every pending follow request to `user` (a private account turned public), fixing
/// the counters; returns how many were approved.
pub async fn approve_pending_requests(app: &App, user: UserId) -> Result<u32, Error> {
    let mut approved = 0;
    let mut cursor = None;
    loop {
        let query = Query::new(Index::Gsi2, keys::user_partition(user))
            .sort(SortCondition::BeginsWith(keys::REQUEST_PREFIX.into()))
            .limit(100)
            .after(cursor);
        let page = app.table.query(query).await?;
        for item in &page.items {
            let edge = FollowEdge::from_item(item)?;
            if follows::approve_edge(app, edge.follower, user)
                .await?
                .is_some()
            {
                approved += 1;
                publish(
                    app,
                    "FollowRequestApproved",
                    json!({"follower": edge.follower, "followed": user, "automatic": true}),
                )
                .await;
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(approved),
        }
    }
}

/// Removes every follow and block edge of `user` in both directions, fixing the other users'
/// counters, in bounded transactions; idempotent, so a crash half-way is finished by a retry.
pub async fn erase_edges(app: &App, user: UserId) -> Result<(), Error> {
    let own = keys::user_partition(user);
    // Outgoing follows (active and pending), followers, requests to the user, then blocks
    // both ways.
    let lists = [
        (Index::Primary, keys::FOLLOWS_PREFIX),
        (Index::Gsi1, keys::FOLLOWER_PREFIX),
        (Index::Gsi2, keys::REQUEST_PREFIX),
        (Index::Primary, keys::BLOCKS_PREFIX),
        (Index::Gsi1, keys::BLOCKER_PREFIX),
    ];
    for (index, prefix) in lists {
        let blocks = prefix == keys::BLOCKS_PREFIX || prefix == keys::BLOCKER_PREFIX;
        let mut cursor = None;
        loop {
            let mut query = Query::new(index, own.clone())
                .sort(SortCondition::BeginsWith(prefix.into()))
                .limit(100)
                .after(cursor);
            if index == Index::Primary {
                query = query.consistent();
            }
            let page = app.table.query(query).await?;
            for item in &page.items {
                if blocks {
                    // No counters: a plain delete (deleting a missing item is fine).
                    let edge = BlockEdge::from_item(item)?;
                    let key = keys::block_edge(edge.blocker, edge.blocked);
                    app.table.delete(&key, None).await?;
                } else {
                    let edge = FollowEdge::from_item(item)?;
                    follows::remove_edge(app, edge.follower, edge.following).await?;
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(())
}

/// What one try of a change came to.
pub(crate) enum Attempt<T> {
    Done(T),
    /// The state moved under us (or the store was busy): wait a little, read again, retry.
    Retry,
    /// What we assumed turned out wrong in a way the next try corrects at once (no wait).
    Again,
}

/// Counts the tries of one change under [`Loop::SOCIAL`]: at most 10, then 503.
pub(crate) struct Retries(Tries);

impl Retries {
    pub(crate) fn new() -> Self {
        Retries(Tries::new(Loop::SOCIAL))
    }

    /// Decides what happens after a try: the value, or `None` to try again (after waiting
    /// for `Retry`), or 503 when the tries are used up.
    pub(crate) async fn next<T>(&mut self, attempt: Attempt<T>) -> Result<Option<T>, Error> {
        match attempt {
            Attempt::Done(value) => return Ok(Some(value)),
            Attempt::Again => self.0.again()?,
            Attempt::Retry => self.0.retry().await?,
        }
        Ok(None)
    }
}

/// How a transaction ended, for the retry loop; `N` names the transaction's operations.
pub(crate) enum TxOutcome<N> {
    Committed,
    /// The operation with this name had a failed condition (the first such, in push order).
    Failed(N),
    /// A conflict with another transaction that outlasted the store's retries, or an answer
    /// that may have been lost: re-read and retry.
    Busy,
}

/// Commits `transaction` and sorts its end for the retry loop. Throttling that outlasted the
/// store's own retries is a 503 at once ([`StoreError::calls_for_another_round`](crate::store::StoreError::calls_for_another_round)): 10 rounds
/// of 4 tries made up to 40 calls per request to a table that was already throttling.
pub(crate) async fn commit<N>(app: &App, transaction: Transaction<N>) -> Result<TxOutcome<N>, Error>
where
    N: Copy + PartialEq + std::fmt::Debug,
{
    match transaction.commit(app.table.as_ref()).await {
        Ok(()) => Ok(TxOutcome::Committed),
        Err(failure) => match failure.first_failed_condition() {
            Some(name) => Ok(TxOutcome::Failed(name)),
            None if failure.store_error().calls_for_another_round() => Ok(TxOutcome::Busy),
            None => Err(failure.into()),
        },
    }
}

/// The attribute naming the request that wrote an edge. A transaction whose answer was lost
/// (a timeout; the SDK or our loop then tries again) may have committed: when the retry finds
/// the edge already there, this tells our own write from someone else's.
pub(crate) const REQUEST_ATTR: &str = "request_id";

pub(crate) fn new_request_id() -> String {
    ulid::Ulid::new().to_string()
}

/// True when the item was written by the request with this id.
pub(crate) fn written_by(item: &crate::store::Item, request: &str) -> bool {
    item.get(REQUEST_ATTR).and_then(crate::store::Value::as_str) == Some(request)
}

/// A profile exists and is not suspended: who may be followed (or follow).
pub(crate) fn usable_profile() -> Condition {
    Condition::item_present().and(Condition::Ne("is_suspended".into(), true.into()))
}

/// Logs a user event about `target` (best effort: the edge is the truth).
pub(crate) async fn log(
    app: &App,
    event_type: events::EventType,
    user: UserId,
    target: UserId,
    client: Option<&ClientInfo>,
    metadata: serde_json::Value,
) {
    let mut event = NewEvent::new(event_type, Some(user))
        .target(target)
        .metadata(metadata);
    if let Some(client) = client {
        event = event.client(client);
    }
    events::log_event_best_effort(app, event).await;
}

/// Publishes one domain event (best effort: a failure is logged and the request goes on).
pub(crate) async fn publish(app: &App, detail_type: &str, detail: serde_json::Value) {
    let event = DomainEvent::new(detail_type, detail, app.clock.now());
    if let Err(e) = app.bus.publish(&[event]).await {
        tracing::warn!(error = %e, detail_type, "domain event not published");
    }
}
