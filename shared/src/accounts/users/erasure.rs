//! Erasure in bounded, idempotent steps (see the module rules in `users`).

use serde_json::json;

use crate::App;
use crate::access::{Actor, rank};
use crate::accounts::{UserRecord, email_key, get_user_consistent};
use crate::activity::events::{self, EventType, NewEvent, log_event_best_effort};
use crate::auth::Principal;
use crate::auth::client::ClientInfo;
use crate::auth::mfa::{self, Sensitive};
use crate::auth::{api_tokens, reauth, sessions};
use crate::error::Error;
use crate::model::UserId;
use crate::store::{
    Condition, Key, Query, SortCondition, StoreError, Transaction, TxOp, Update, Value, keys,
};

/// Items deleted per transaction while erasing an account.
pub(super) const ERASE_BATCH: usize = 25;
/// Bound on the pages one erasure step reads (a user's partition holds few non-event items).
pub(super) const ERASE_MAX_PAGES: usize = 40;

/// `DELETE /api/users/{id}/` as the API asks it: the owner proves the current password
/// (never with an API token alone); an administrator erasing someone else is trusted by role,
/// but not through an API token either.
pub async fn erase_user_as(
    app: &App,
    principal: &Principal,
    target: UserId,
    current_password: Option<&str>,
    client: &ClientInfo,
) -> Result<(), Error> {
    let actor = Actor::of(&principal.user);
    if actor.is(target) {
        reauth::confirm_current_password(app, principal, current_password, client).await?;
        mfa::require_recent_auth(app, principal, Sensitive::WithPassword).await?;
    } else {
        // Whether the account exists and who may erase it is decided below: an API token is
        // refused only where the answer would not be a 404 anyway.
        if actor.is_admin() {
            reauth::refuse_api_token(principal)?;
            mfa::require_recent_auth(app, principal, Sensitive::Action).await?;
        }
    }
    erase_user(app, actor, target, client).await
}

/// Erases an account completely (the owner, an administrator on an account of lower rank, or
/// the system: the command line). Events stay, anonymised. An account already being erased is
/// finished by an administrator's call (its owner can no longer sign in).
pub async fn erase_user(
    app: &App,
    actor: Actor,
    target: UserId,
    client: &ClientInfo,
) -> Result<(), Error> {
    let Some(user) = get_user_consistent(app, target).await? else {
        return Err(Error::NotFound);
    };
    let allowed = actor.is(target) || (actor.is_admin() && rank(user.role) <= actor.rank());
    if !allowed {
        return Err(if actor.is_admin() {
            Error::Forbidden("You cannot delete an account that outranks yours.".into())
        } else {
            Error::NotFound
        });
    }
    if !user.deleting {
        mark_deleting(app, &user).await?;
        let by = actor.user_id();
        log_event_best_effort(
            app,
            NewEvent::new(EventType::AccountDeleted, Some(target))
                .client(client)
                .description("account erased")
                .metadata(json!({ "by": by })),
        )
        .await;
    }
    sessions::delete_all_sessions(app, target).await?;
    api_tokens::delete_all(app, target).await?;
    crate::social::erase_edges(app, target).await?;
    // Badges first, so the points, the leaderboard and the badge aggregates stay exact.
    crate::badges::awards::erase_user_badges(app, target).await?;
    delete_partition_rest(app, target).await?;
    events::anonymise_user_events(app, target).await?;
    remove_identity(app, &user).await
}

/// Step 1, one transaction: the profile marked `deleting` and suspended (so every existing
/// credential stops working), out of the username index, and the credentials deleted (so no
/// new login starts).
pub(super) async fn mark_deleting(app: &App, user: &UserRecord) -> Result<(), Error> {
    let update = Update::new()
        .set("deleting", true)
        .set("is_suspended", true)
        .set("suspension_reason", "Account deleted.")
        .set("updated_at", Value::from(app.clock.now()))
        .remove(keys::attr::GSI1PK)
        .remove(keys::attr::GSI1SK);
    let tx = Transaction::new()
        .with(
            ErasureOp::Profile,
            TxOp::Update {
                key: keys::user(user.id),
                update,
                condition: Some(Condition::item_present()),
            },
        )
        .with(
            ErasureOp::Credentials,
            TxOp::Delete {
                key: keys::credentials(user.id),
                condition: None,
            },
        );
    match tx.commit(app.table.as_ref()).await {
        Ok(()) => Ok(()),
        Err(e) if e.condition_failed(ErasureOp::Profile) => Err(Error::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// The operations of the erasure's first and last steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ErasureOp {
    /// The profile: marked `deleting` (it exists), or deleted (while marked).
    Profile,
    Credentials,
    /// The unique username item, unless someone else's now.
    Username,
    /// The unique email item, unless someone else's now.
    Email,
}

/// The sort key just past every event of a partition: `EVENT#` with its last byte raised.
pub(super) fn after_events() -> String {
    let mut end = keys::EVENT_PREFIX.to_owned();
    if let Some(last) = end.pop() {
        end.push(char::from(last as u8 + 1));
    }
    end
}

/// Deletes every item of the user's partition but the profile and the events (settings,
/// professional profile, codes, login failures, badges, anything a later capability adds),
/// in transactions of [`ERASE_BATCH`]. The events are skipped by two key ranges, not read.
pub(super) async fn delete_partition_rest(app: &App, user: UserId) -> Result<(), Error> {
    let profile = keys::user(user);
    for range in [
        SortCondition::Lt(keys::EVENT_PREFIX.to_owned()),
        SortCondition::Ge(after_events()),
    ] {
        for _ in 0..ERASE_MAX_PAGES {
            let query = Query::new(keys::Index::Primary, keys::user_partition(user))
                .sort(range.clone())
                .limit(ERASE_BATCH as u32 + 1)
                .consistent();
            let page = app.table.query(query).await?;
            let doomed: Vec<Key> = page
                .items
                .iter()
                .filter_map(Key::of)
                .filter(|k| *k != profile)
                .take(ERASE_BATCH)
                .collect();
            if doomed.is_empty() {
                break;
            }
            // A passkey's credential id is taken in an item of its own: freed with it.
            let credentials: Vec<Key> = doomed
                .iter()
                .filter_map(|k| k.sk.strip_prefix(keys::PASSKEY_PREFIX))
                .map(keys::passkey_credential)
                .collect();
            let ops = doomed
                .into_iter()
                .chain(credentials)
                .map(|key| TxOp::Delete {
                    key,
                    condition: None,
                })
                .collect();
            app.table.transact_write(ops).await?;
        }
    }
    Ok(())
}

/// The last step, one transaction: the unique items (only if still this user's) and the
/// profile. After it the username and the email address are free.
pub(super) async fn remove_identity(app: &App, user: &UserRecord) -> Result<(), Error> {
    let owned = || {
        Some(Condition::Or(vec![
            Condition::item_absent(),
            Condition::eq("user_id", user.id.0),
        ]))
    };
    let tx = Transaction::new()
        .with(
            ErasureOp::Username,
            TxOp::Delete {
                key: keys::unique_username(&user.username.to_ascii_lowercase()),
                condition: owned(),
            },
        )
        .with(
            ErasureOp::Email,
            TxOp::Delete {
                key: keys::unique_email(&email_key(&user.email)),
                condition: owned(),
            },
        )
        .with(
            ErasureOp::Profile,
            TxOp::Delete {
                key: keys::user(user.id),
                condition: Some(Condition::eq("deleting", true)),
            },
        );
    match tx.commit(app.table.as_ref()).await {
        Ok(()) => Ok(()),
        Err(e) if e.any_condition_failed() => {
            // A unique item now belongs to someone else, or the profile is gone already (a
            // concurrent erasure finished first): delete only what is still ours.
            for key in [
                keys::unique_username(&user.username.to_ascii_lowercase()),
                keys::unique_email(&email_key(&user.email)),
            ] {
                let mine = Condition::eq("user_id", user.id.0);
                match app.table.delete(&key, Some(mine)).await {
                    Ok(_) | Err(StoreError::ConditionFailed) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            match app
                .table
                .delete(&keys::user(user.id), Some(Condition::eq("deleting", true)))
                .await
            {
                Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}
