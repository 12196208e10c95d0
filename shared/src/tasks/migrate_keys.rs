//! `migrate_keys` (one-off, `accounts-admin run-task migrate_keys`; not scheduled): re-keys
//! the events stored under the key design before issue 19 (`docs/scale.md`):
//!
//! - an event about no known account in the one legacy partition `EVENTS#ANON` moves to the
//!   partition of its address (`keys::anonymous_event`): one transaction puts the item under
//!   its new key (if absent) and deletes the old one;
//! - an event whose GSI1 entry is the unsharded `EVENTS#<type>` gets its sharded one
//!   (`keys::event_type_index`);
//! - a high or critical event with no GSI2 entry (not on the review queue) gets its sparse
//!   severe-event entry (`keys::severe_event_index`), which the alerts task reads;
//! - a user badge on the unsharded GSI2 `AWARDS` gets its shard (`keys::award_index`), and a
//!   badge score on the unsharded GSI1 `LEADERBOARD` its shard (`keys::leaderboard_index`);
//! - a profile that carries the name index entries (GSI1 `USERNAME`, GSI2 `DISPLAYNAME`, one
//!   key value each) loses them, and its name item (the unique username item) gets the sharded
//!   ones (`UserRecord::name_item`), in one transaction;
//! - a badge definition that carries its `earned_count` gives it to its count item
//!   (`keys::badge_earned`), in one transaction conditioned on the value read.
//!
//! The walk is four filtered scans (the event items, then the user badges and scores, then
//! the profiles with index keys, then the definitions with a count), checkpointed after every
//! page like every
//! task (resumable). Every write compares with what it read first and is conditional (the item
//! still exists; the new key is still free), so an item already migrated is left alone, a page
//! repeated after a crash changes nothing more, and a second run writes nothing. Attributes the
//! record type does not know (alert claims, anonymisation marks) move with the item as stored.

use async_trait::async_trait;

use super::runner::{Run, Source, Task, for_each};
use crate::accounts::UserRecord;
use crate::activity::events::{EventRecord, Severity};
use crate::badges::awards::{BadgeScore, UserBadge};
use crate::error::Error;
use crate::model::UserId;
use crate::store::{
    Condition, Item, Key, StoreError, Transaction, TxOp, Update, Value, from_item, keys,
};

pub const NAME: &str = "migrate_keys";

pub struct MigrateKeys;

/// What one event item needs, if anything.
enum Change {
    /// Set these index key attributes in place.
    Index(Key, Update),
    /// Move the item to `to` (with its index keys fixed), delete it at `from`.
    Move { from: Key, to: Item },
    /// Take the name index entries off a profile and put them on its name item.
    Names(Box<UserRecord>),
    /// Move a definition's stored `earned_count` to its count item.
    Earned { badge: i64, count: i64 },
}

/// The holder count a definition still carries, to move to its count item.
fn earned_change(item: &Item) -> Option<Change> {
    let count = item.get("earned_count").and_then(Value::as_i64)?;
    let badge = item.get("id").and_then(Value::as_i64)?;
    Some(Change::Earned { badge, count })
}

fn index_value(item: &Item, attr: &str) -> Option<String> {
    item.get(attr).and_then(Value::as_str).map(str::to_owned)
}

/// The index key attributes the item should have that it does not.
fn index_fixes(item: &Item, record: &EventRecord) -> Vec<(&'static str, String)> {
    let mut fixes = Vec::new();
    let (pk, sk) = keys::event_type_index(record.event_type.as_str(), &record.event_id);
    if index_value(item, keys::attr::GSI1PK).as_deref() != Some(pk.as_str()) {
        fixes.push((keys::attr::GSI1PK, pk));
        fixes.push((keys::attr::GSI1SK, sk));
    }
    if !item.contains_key(keys::attr::GSI2PK) && record.severity >= Severity::High {
        let (pk, sk) = keys::severe_event_index(&record.event_id);
        fixes.push((keys::attr::GSI2PK, pk));
        fixes.push((keys::attr::GSI2SK, sk));
    }
    fixes
}

fn change_of(item: &Item) -> Option<Change> {
    let key = Key::of(item)?;
    let record = EventRecord::from_item(item).ok()?;
    let fixes = index_fixes(item, &record);
    let wanted = record.key();
    if wanted != key {
        let mut to = item.clone();
        to.insert(keys::attr::PK.into(), Value::S(wanted.pk));
        to.insert(keys::attr::SK.into(), Value::S(wanted.sk));
        for (attr, value) in fixes {
            to.insert(attr.into(), Value::S(value));
        }
        return Some(Change::Move { from: key, to });
    }
    if fixes.is_empty() {
        return None;
    }
    let mut update = Update::new();
    for (attr, value) in fixes {
        update = update.set(attr, value);
    }
    Some(Change::Index(key, update))
}

/// The sharded index keys of a user badge (GSI2) or a badge score (GSI1), when the item is on
/// an unsharded one.
fn board_change(item: &Item) -> Option<Change> {
    let key = Key::of(item)?;
    let (attrs, (pk, sk)) = if key.sk == keys::badge_score(crate::model::UserId(0)).sk {
        let score = BadgeScore::from_item(item).ok()?;
        let index = keys::leaderboard_index(
            score.points,
            score.badge_count,
            crate::model::UserId(score.user_id),
        );
        ((keys::attr::GSI1PK, keys::attr::GSI1SK), index)
    } else {
        let badge = UserBadge::from_item(item).ok()?;
        let index = keys::award_index(
            badge.earned_at.timestamp_millis(),
            badge.user,
            badge.badge.0,
        );
        ((keys::attr::GSI2PK, keys::attr::GSI2SK), index)
    };
    if index_value(item, attrs.0).as_deref() == Some(pk.as_str()) {
        return None;
    }
    Some(Change::Index(
        key,
        Update::new().set(attrs.0, pk).set(attrs.1, sk),
    ))
}

/// The name index entries a profile still carries, to move to its name item.
fn names_change(item: &Item) -> Option<Change> {
    let indexed = [keys::attr::GSI1PK, keys::attr::GSI2PK]
        .iter()
        .any(|attr| item.contains_key(*attr));
    if !indexed {
        return None;
    }
    from_item::<UserRecord>(item)
        .ok()
        .map(|user| Change::Names(Box::new(user)))
}

/// Writes one change; each write is conditional, so a repeated page changes nothing more.
async fn apply(run: &Run<'_>, change: Change) -> Result<(), Error> {
    match change {
        Change::Earned { badge, count } => move_earned_count(run, badge, count).await,
        Change::Names(user) => move_name_index(run, &user).await,
        Change::Index(key, update) => reindex(run, &key, update).await,
        Change::Move { from, to } => move_item(run, from, to).await,
    }
}

/// A definition's `earned_count` onto its count item, conditioned on the value read.
async fn move_earned_count(run: &Run<'_>, badge: i64, count: i64) -> Result<(), Error> {
    let tx = Transaction::new()
        .with(
            MigrationOp::From,
            TxOp::Update {
                key: keys::badge_definition(badge),
                update: Update::new().remove("earned_count"),
                condition: Some(Condition::eq("earned_count", count)),
            },
        )
        .with(
            MigrationOp::To,
            TxOp::Update {
                key: keys::badge_earned(badge),
                update: Update::new().add("count", count),
                condition: None,
            },
        );
    match tx.commit(run.app.table.as_ref()).await {
        Ok(()) => {
            run.counts.written(2);
            run.counts.note("counts moved", 1);
        }
        // Moved already (a repeated page), or the definition is gone.
        Err(e) if e.first_failed_condition() == Some(MigrationOp::From) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// A profile's name index entries off the profile and onto its name item.
async fn move_name_index(run: &Run<'_>, user: &UserRecord) -> Result<(), Error> {
    let profile = TxOp::Update {
        key: keys::user(user.id),
        update: Update::new()
            .remove(keys::attr::GSI1PK)
            .remove(keys::attr::GSI1SK)
            .remove(keys::attr::GSI2PK)
            .remove(keys::attr::GSI2SK),
        condition: Some(Condition::item_present()),
    };
    // An account being erased is out of the indexes already: its keys just go.
    let mut tx = Transaction::new().with(MigrationOp::From, profile);
    if !user.deleting {
        tx.push(MigrationOp::To, crate::accounts::names::name_index_op(user));
    }
    let written = tx.len() as u64;
    match tx.commit(run.app.table.as_ref()).await {
        Ok(()) => {
            run.counts.written(written);
            run.counts.note("names moved", 1);
        }
        // The profile is gone meanwhile: nothing to move.
        Err(e) if e.first_failed_condition() == Some(MigrationOp::From) => {}
        // The username's unique item is someone else's (a rename raced the walk):
        // the profile is re-read on the next run; nothing is lost meanwhile.
        Err(e) if e.first_failed_condition() == Some(MigrationOp::To) => {
            run.counts.note("names skipped", 1);
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Index key attributes set in place, while the item exists.
async fn reindex(run: &Run<'_>, key: &Key, update: Update) -> Result<(), Error> {
    match run
        .app
        .table
        .update(key, update, Some(Condition::item_present()))
        .await
    {
        Ok(_) => {
            run.counts.written(1);
            run.counts.note("reindexed", 1);
        }
        // Gone meanwhile (TTL, cleanup): nothing to migrate.
        Err(StoreError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// The item put at its new key (if free) and deleted at its old one, in one transaction.
async fn move_item(run: &Run<'_>, from: Key, to: Item) -> Result<(), Error> {
    let tx = Transaction::new()
        .with(
            MigrationOp::To,
            TxOp::Put {
                item: to,
                condition: Some(Condition::item_absent()),
            },
        )
        .with(
            MigrationOp::From,
            TxOp::Delete {
                key: from.clone(),
                condition: Some(Condition::item_present()),
            },
        );
    match tx.commit(run.app.table.as_ref()).await {
        Ok(()) => {
            run.counts.written(2);
            run.counts.note("moved", 1);
        }
        Err(e) if e.first_failed_condition() == Some(MigrationOp::To) => {
            // Already at its new key (a repeated page): only the old copy is left.
            run.app.table.delete(&from, None).await?;
            run.counts.written(1);
        }
        // The old item is gone meanwhile: nothing to move.
        Err(e) if e.first_failed_condition() == Some(MigrationOp::From) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// The two sides of a migration's transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MigrationOp {
    /// Where the data was: the definition's `earned_count`, the profile's index keys, the
    /// item at its old key.
    From,
    /// Where it goes: the count item, the name index item, the item at its new key.
    To,
}

#[async_trait]
impl Task for MigrateKeys {
    type State = ();

    fn name(&self) -> &'static str {
        NAME
    }

    async fn sources(&self, _run: &Run<'_>) -> Result<Vec<Source>, Error> {
        let user_badges = Condition::BeginsWith(keys::attr::PK.into(), "USER#".into()).and(
            Condition::BeginsWith(keys::attr::SK.into(), keys::USER_BADGE_PREFIX.into()),
        );
        let scores = Condition::eq(
            keys::attr::SK,
            keys::badge_score(crate::model::UserId(0)).sk,
        );
        Ok(vec![
            Source::Scan {
                filter: Some(Condition::BeginsWith(
                    keys::attr::SK.into(),
                    keys::EVENT_PREFIX.into(),
                )),
            },
            Source::Scan {
                filter: Some(Condition::Or(vec![user_badges, scores])),
            },
            Source::Scan {
                filter: Some(
                    Condition::eq(keys::attr::SK, keys::badge_definition(0).sk)
                        .and(Condition::Exists("earned_count".into())),
                ),
            },
            Source::Scan {
                filter: Some(Condition::eq(keys::attr::SK, keys::user(UserId(0)).sk).and(
                    Condition::Or(vec![
                        Condition::Exists(keys::attr::GSI1PK.into()),
                        Condition::Exists(keys::attr::GSI2PK.into()),
                    ]),
                )),
            },
        ])
    }

    async fn page(&self, run: &Run<'_>, phase: usize, items: Vec<Item>) -> Result<(), Error> {
        let changes: Vec<Change> = match phase {
            0 => items.iter().filter_map(change_of).collect(),
            1 => items.iter().filter_map(board_change).collect(),
            2 => items.iter().filter_map(earned_change).collect(),
            _ => items.iter().filter_map(names_change).collect(),
        };
        for_each(changes, |change| apply(run, change)).await?;
        Ok(())
    }
}
