//! Retiring a badge definition: its awards go first (each giving back its points), then the
//! definition itself. Here rather than in `definitions` so that definitions need not know
//! awards (awards read definitions).

use super::awards;
use super::definitions::{BadgeDefinition, BadgeId, Invalidate, get_any, name_key, stats_update};
use crate::App;
use crate::access::Admin;
use crate::error::Error;
use crate::retry::{Loop, Tries};
use crate::store::{Condition, Transaction, TxOp, Update, Value, keys};

/// Deletes a definition with its awards and the points they gave, in steps that a repeated
/// `DELETE` resumes:
/// 1. the definition is marked `deleting` and deactivated (one transaction with the active
///    count): it disappears from every list and award transactions refuse it;
/// 2. its holders (GSI1 `BADGE#<id>`) are revoked page by page, each revoke one transaction
///    that gives back the points and moves the aggregates;
/// 3. the definition and its unique name go, with the aggregates, in one transaction
///    conditioned on no holder being counted (the definition's own `earned_count`, if it still
///    has one, and its count item, deleted with it), so a holder the index had not shown yet
///    is not lost: the step repeats, or the request is a 503 that a retry finishes.
pub async fn delete_definition(app: &App, _by: Admin, id: BadgeId) -> Result<(), Error> {
    let _fresh = Invalidate(app);
    let def = get_any(app, id, true).await?.ok_or(Error::NotFound)?;
    if !def.deleting {
        mark_deleting(app, id, &def).await?;
    }
    revoke_holders_then_remove(app, id, &def).await
}

/// Step 1: the definition marked `deleting` and deactivated, at the version read (a 409 when
/// it changed meanwhile).
async fn mark_deleting(app: &App, id: BadgeId, def: &BadgeDefinition) -> Result<(), Error> {
    let update = Update::new()
        .set("deleting", true)
        .set("is_active", false)
        .set("updated_at", Value::from(app.clock.now()))
        .add("version", 1)
        .remove(keys::attr::GSI2PK)
        .remove(keys::attr::GSI2SK);
    let mut tx = Transaction::new().with(
        MarkOp::Definition,
        TxOp::Update {
            key: keys::badge_definition(id.0),
            update,
            condition: Some(Condition::eq("version", def.version)),
        },
    );
    if def.is_active {
        tx.push(
            MarkOp::ActiveCount,
            TxOp::Update {
                key: keys::badge_stats(id.0),
                update: Update::new().add("active_definitions", -1),
                condition: None,
            },
        );
    }
    match tx.commit(app.table.as_ref()).await {
        Ok(()) => Ok(()),
        // Someone changed it meanwhile: the caller may simply try again.
        Err(e) if e.condition_failed(MarkOp::Definition) => Err(Error::Conflict(
            "The badge changed while it was being deleted; try again.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Steps 2 and 3, repeated while a holder is still counted (or the store asks for another
/// round) and the definition is still there.
async fn revoke_holders_then_remove(
    app: &App,
    id: BadgeId,
    def: &BadgeDefinition,
) -> Result<(), Error> {
    let mut tries = Tries::new(Loop::BADGES);
    loop {
        awards::revoke_all_holders(app, id).await?;
        match removal_transaction(id, def)
            .commit(app.table.as_ref())
            .await
        {
            Ok(()) => return Ok(()),
            Err(e)
                if matches!(
                    e.first_failed_condition(),
                    Some(RemoveOp::Definition | RemoveOp::EarnedCount)
                ) || e.store_error().calls_for_another_round() =>
            {
                // A holder not yet visible on the index, or a concurrent writer.
                let still = get_any(app, id, true).await?;
                if still.is_none() {
                    return Ok(());
                }
                tries.retry().await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Step 3's transaction: the definition (while `deleting` and counting no holder), its unique
/// name (unless another definition holds it now), the aggregates and the holder count item.
fn removal_transaction(id: BadgeId, def: &BadgeDefinition) -> Transaction<RemoveOp> {
    Transaction::new()
        .with(
            RemoveOp::Definition,
            TxOp::Delete {
                key: keys::badge_definition(id.0),
                condition: Some(Condition::eq("deleting", true).and(Condition::Or(vec![
                    Condition::NotExists("earned_count".into()),
                    Condition::Le("earned_count".into(), Value::Int(0)),
                ]))),
            },
        )
        .with(
            RemoveOp::UniqueName,
            TxOp::Delete {
                key: keys::unique_badge_name(&name_key(&def.name)),
                condition: Some(Condition::Or(vec![
                    Condition::item_absent(),
                    Condition::eq("badge_id", id.0),
                ])),
            },
        )
        .with(
            RemoveOp::Stats,
            TxOp::Update {
                key: keys::badge_stats(id.0),
                update: stats_update(Update::new(), def.category, def.rarity, -1),
                condition: None,
            },
        )
        .with(
            RemoveOp::EarnedCount,
            TxOp::Delete {
                key: keys::badge_earned(id.0),
                condition: Some(Condition::Or(vec![
                    Condition::item_absent(),
                    Condition::Le("count".into(), Value::Int(0)),
                ])),
            },
        )
}

/// The operations of step 1: the definition marked `deleting`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MarkOp {
    /// The definition, at the version read.
    Definition,
    /// The active definitions' count (an active definition only).
    ActiveCount,
}

/// The operations of step 3: the definition and its unique name removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RemoveOp {
    /// The definition, while it is `deleting` and counts no holder.
    Definition,
    /// The unique name, unless another definition holds it now.
    UniqueName,
    Stats,
    /// The holder count item, at zero or absent.
    EarnedCount,
}
