//! Large accounts: follower counts that no single item takes.
//!
//! An ordinary account's `follower_count` moves inside each follow's transaction, exact at all
//! times. A celebrity takes thousands of follows a second (`docs/scale.md`), and one item
//! serialises that: DynamoDB gives one item at most 1,000 write units a second, and
//! concurrent transactions on it conflict. So an account whose follower count reaches
//! `LARGE_ACCOUNT_FOLLOWERS` becomes **large**, once and for good:
//!
//! - [`promote`] sets `large_account` on the profile and registers the account
//!   (`keys::large_account`).
//! - A follow of a large account (and the unfollow of such a follow) ADDs to one of 16 shard
//!   items (`keys::follower_count_shard`, by the follower's id) instead of the profile; its
//!   transaction keeps everything exact that must be (one edge per pair, no block either way,
//!   the follower's limit). The target's state comes from a read just before (not asserted in
//!   the transaction, which would touch the hot item): a follow racing the account's switch to
//!   private or its suspension by less than that read's age lands as if made just before it.
//! - [`fold`] sums the shards into the profile's `large_followers` (a SET, idempotent): the
//!   `fold_follower_counts` task does it for every large account every minute, so a large
//!   account's shown count ([`UserRecord::followers`]) lags its edges by at most about a
//!   minute, and equals them once follows stop and a fold has run. Approvals and blocks still
//!   move `follower_count` on the profile: they are the owner's own actions, not the crowd's.
//!
//! Each process remembers the large accounts it has met ([`LargeAccounts`]): the first follow
//! of one in a process learns it from a failed condition on the profile, later ones go
//! straight to the shards.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::App;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{Condition, Item, Query, StoreError, TxOp, Update, Value, keys};

/// The large accounts this process has met. Never forgets: an account stays large.
#[derive(Default)]
pub struct LargeAccounts {
    known: Mutex<HashSet<i64>>,
}

impl LargeAccounts {
    pub fn knows(&self, user: UserId) -> bool {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&user.0)
    }

    pub fn learn(&self, user: UserId) {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user.0);
    }
}

/// The shard attribute that holds a shard's count.
pub const SHARD_COUNT: &str = "count";

/// Makes `user` a large account (idempotent): the profile flag and the registry entry, in one
/// transaction. Nothing when the profile is gone or already large.
pub async fn promote(app: &App, user: UserId) -> Result<(), Error> {
    let mut registry = Item::new();
    registry.insert("user_id".into(), Value::Int(user.0));
    let key = keys::large_account(user);
    registry.insert(keys::attr::PK.into(), Value::S(key.pk));
    registry.insert(keys::attr::SK.into(), Value::S(key.sk));
    let ops = vec![
        TxOp::Update {
            key: keys::user(user),
            update: Update::new().set("large_account", true),
            condition: Some(
                Condition::item_present().and(Condition::Ne("large_account".into(), true.into())),
            ),
        },
        TxOp::Put {
            item: registry,
            condition: None,
        },
    ];
    match app.table.transact_write(ops).await {
        Ok(()) => {
            tracing::info!(user = user.0, "the account is now large");
            app.large_accounts.learn(user);
            Ok(())
        }
        // Already large, or gone: nothing to do.
        Err(StoreError::TransactionCanceled { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Sums a large account's shards into its profile's `large_followers` (one batch read, one
/// conditional SET). Returns the sum, or `None` when the profile is gone.
pub async fn fold(app: &App, user: UserId) -> Result<Option<i64>, Error> {
    let total = shard_total(app, user).await?;
    let update = Update::new()
        .set("large_followers", total)
        .set("large_followers_at", app.clock.now().to_rfc3339());
    match app
        .table
        .update(&keys::user(user), update, Some(Condition::item_present()))
        .await
    {
        Ok(_) => Ok(Some(total)),
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The sum of a large account's follower-count shards now (one batch read).
pub async fn shard_total(app: &App, user: UserId) -> Result<i64, Error> {
    let shards: Vec<_> = (0..keys::FOLLOWER_COUNT_SHARDS)
        .map(|n| keys::follower_count_shard_at(user, n))
        .collect();
    let found = app.table.batch_get(&shards).await?;
    Ok(found
        .iter()
        .flatten()
        .filter_map(|item| item.get(SHARD_COUNT).and_then(Value::as_i64))
        .sum())
}

/// The large accounts of one registry page (the task's walk).
pub fn registry_query() -> Query {
    Query::new(crate::store::Index::Primary, keys::LARGE_ACCOUNTS)
}

/// The user a registry item names.
pub fn registry_user(item: &Item) -> Option<UserId> {
    item.get("user_id").and_then(Value::as_i64).map(UserId)
}
