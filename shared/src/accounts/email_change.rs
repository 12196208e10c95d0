//! Changing an account's email address without handing the account to whoever holds a token.
//!
//! An address change is the first step of an account takeover (change the address, reset the
//! password through it), so it is never immediate:
//! 1. **Request** (`PATCH /api/users/{id}/` with `email`): the owner proves the current
//!    password (an API token can never ask; an administrator acting on another account is
//!    trusted by role). A six-digit code goes to the new address; the old address is told at
//!    once and gets a cancel token. The account keeps its verified old address meanwhile:
//!    login, reset and mail use it. The pending change is the `email_change` code item and
//!    expires with it.
//! 2. **Confirm** (`POST /api/users/{id}/email/confirm/` with the code, signed in): one
//!    transaction moves the address: the profile, the new unique item, the old unique item
//!    kept but *held* (it names no account, but nobody else can take it) for
//!    [`REVERT_WINDOW_SECS`], and the cancel token marked completed.
//! 3. **Cancel** (`POST /api/auth/email/cancel/` with the token, no sign-in): a pending change
//!    is dropped; a completed one is reverted within [`REVERT_WINDOW_SECS`] (the old address
//!    back, verified, the new one released) and every session, refresh token and API token of
//!    the account ends, since whoever made the change may hold them.

use chrono::Duration;
use serde_json::json;

use crate::App;
use crate::accounts::registration::{EMAIL_TAKEN, unique_item};
use crate::accounts::{UserRecord, email_key, get_user_consistent};
use crate::activity::events::{EventType, NewEvent, Severity, log_event_best_effort};
use crate::auth::Principal;
use crate::auth::client::ClientInfo;
use crate::auth::codes::{self, CodePurpose};
use crate::auth::secrets::{random_token, sha256_hex};
use crate::auth::{api_tokens, sessions};
use crate::error::Error;
use crate::mail::Email;
use crate::model::{EmailAddress, UserId};
use crate::store::{Condition, Item, Key, StoreError, Transaction, TxOp, Update, Value, keys};

/// How long after a change completes the old address can still revert it.
pub const REVERT_WINDOW_SECS: i64 = 7 * 24 * 3600;

/// The attribute on a unique email item that holds an old address for a revert.
pub const HELD_FOR_REVERT: &str = "held_for_revert";

/// The one answer to a cancel token that is unknown, used or past its window.
pub const INVALID_CANCEL_TOKEN: &str = "Invalid or expired token.";

const NEW_EMAIL: &str = "new_email";
const REVERT_HASH: &str = "revert_hash";
const STATE_PENDING: &str = "pending";
const STATE_COMPLETED: &str = "completed";

/// The pending change an owner sees after asking for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingChange {
    pub new_email: String,
}

fn stamp(app: &App) -> Result<Value, Error> {
    Ok(Value::from(app.clock.now()))
}

/// A 400 on `email` when another account holds the address (or holds it for a revert).
pub async fn refuse_taken(app: &App, new: &EmailAddress) -> Result<(), Error> {
    let holder = app.table.get(&keys::unique_email(&new.key()), true).await?;
    match holder {
        Some(_) => Err(Error::field("email", EMAIL_TAKEN)),
        None => Ok(()),
    }
}

/// Starts a change of `user`'s address to `new` (the caller has checked who may ask). Refuses
/// an address that another account holds; the code goes to `new`, the notice and the cancel
/// token to the current address.
pub async fn request_change(
    app: &App,
    user: &UserRecord,
    new: &EmailAddress,
    by: Option<UserId>,
    client: &ClientInfo,
) -> Result<PendingChange, Error> {
    refuse_taken(app, new).await?;
    let token = random_token(32);
    let token_hash = sha256_hex(&token);
    let now = app.clock.now();
    let pending_until = now + Duration::seconds(app.config.auth.code_ttl_secs);

    // The cancel token outlives the pending change by the revert window, so a change confirmed
    // at the last moment can still be reverted for the whole window.
    let mut revert: Item = keys::email_revert(&token_hash).to_item();
    revert.insert("user_id".into(), Value::Int(user.id.0));
    revert.insert("old_email".into(), user.email.as_str().into());
    revert.insert(NEW_EMAIL.into(), new.as_str().into());
    revert.insert("state".into(), STATE_PENDING.into());
    revert.insert("created_at".into(), Value::S(now.to_rfc3339()));
    revert.insert(
        keys::attr::EXPIRES_AT.into(),
        Value::Int((pending_until + Duration::seconds(REVERT_WINDOW_SECS)).timestamp()),
    );
    app.table.put(revert, None).await?;

    let mut extra = Item::new();
    extra.insert(NEW_EMAIL.into(), new.as_str().into());
    extra.insert(REVERT_HASH.into(), token_hash.as_str().into());
    codes::issue_code_to(app, user, CodePurpose::EmailChange, new.as_str(), extra).await?;

    let notice = notice_email(app, user, new.as_str(), &token);
    if let Err(e) = app.mailer.send(&notice).await {
        // The change cannot complete unseen: without the notice, no code counts.
        app.table
            .delete(
                &keys::emailed_code(user.id, CodePurpose::EmailChange.as_str()),
                None,
            )
            .await?;
        return Err(Error::Unavailable {
            reason: format!("the notice to the current address was not sent: {e}"),
            retry_after_secs: 5,
        });
    }
    // A staff member's request details stay out of the account's own log.
    let mut event = NewEvent::new(EventType::EmailChangeRequested, Some(user.id))
        .description("email change asked for; the current address was told")
        .metadata(json!({ "by_staff": by.is_some() }));
    if by.is_none() {
        event = event.client(client);
    }
    log_event_best_effort(app, event).await;
    Ok(PendingChange {
        new_email: new.as_str().to_owned(),
    })
}

/// Confirms the pending change with the code mailed to the new address: the address moves in
/// one transaction. Wrong, expired or used codes are the usual field error on `code`.
/// Only the owner confirms, signed in (another account's id is a 404, as for any account one
/// may not see), and never with an API token.
pub async fn confirm_change(
    app: &App,
    principal: &Principal,
    target: UserId,
    code: Option<&str>,
    client: &ClientInfo,
) -> Result<UserRecord, Error> {
    if target != principal.id() {
        return Err(Error::NotFound);
    }
    crate::auth::reauth::refuse_api_token(principal)?;
    let user = &principal.user;
    let code = code
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Error::field("code", "This field is required."))?;
    let item =
        codes::check_code_and(app, user.id, CodePurpose::EmailChange, code, || Ok(())).await?;
    let new_email = item
        .get(NEW_EMAIL)
        .and_then(Value::as_str)
        .and_then(|raw| EmailAddress::parse(raw).ok())
        .ok_or_else(|| Error::Internal("an email-change code without its address".into()))?;
    let revert_hash = item
        .get(REVERT_HASH)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();

    let tx = confirm_transaction(app, user, &new_email, &revert_hash)?;
    match tx.commit(app.table.as_ref()).await {
        Ok(()) => {}
        Err(e) if e.is_cancelled() => {
            if e.condition_failed(ConfirmOp::NewEmail) {
                return Err(Error::field("email", EMAIL_TAKEN));
            }
            if e.condition_failed(ConfirmOp::Revert) {
                // Cancelled from the old address after the code was sent.
                return Err(Error::field("code", codes::INVALID_CODE));
            }
            return Err(Error::Conflict(
                "The account changed at the same time; try again.".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    log_event_best_effort(
        app,
        NewEvent::new(EventType::EmailChange, Some(user.id))
            .client(client)
            .description("email address changed; the old address can revert it for 7 days"),
    )
    .await;
    get_user_consistent(app, user.id)
        .await?
        .ok_or(Error::NotFound)
}

/// The move of the address in one transaction: the profile (still at the old address), the
/// new address's unique item put if absent, the old one held for the revert window, and the
/// cancel token turned from pending to completed.
fn confirm_transaction(
    app: &App,
    user: &UserRecord,
    new_email: &EmailAddress,
    revert_hash: &str,
) -> Result<Transaction<ConfirmOp>, Error> {
    let now = app.clock.now();
    let held_until = (now + Duration::seconds(REVERT_WINDOW_SECS)).timestamp();
    let mine = || Some(Condition::eq("user_id", user.id.0));
    Ok(Transaction::new()
        .with(
            ConfirmOp::Profile,
            TxOp::Update {
                key: keys::user(user.id),
                update: Update::new()
                    .set("email", new_email.as_str())
                    .set("is_verified", true)
                    .set("updated_at", stamp(app)?),
                condition: Some(
                    Condition::item_present()
                        .and(Condition::Ne("deleting".into(), Value::Bool(true)))
                        .and(Condition::eq("email", user.email.as_str())),
                ),
            },
        )
        .with(
            ConfirmOp::NewEmail,
            TxOp::Put {
                item: unique_item(
                    keys::unique_email(&new_email.key()),
                    user.id,
                    &now.to_rfc3339(),
                ),
                condition: Some(Condition::item_absent()),
            },
        )
        .with(
            ConfirmOp::OldEmail,
            TxOp::Update {
                key: keys::unique_email(&email_key(&user.email)),
                update: Update::new()
                    .set(HELD_FOR_REVERT, true)
                    .set(keys::attr::EXPIRES_AT, held_until),
                condition: mine(),
            },
        )
        .with(
            ConfirmOp::Revert,
            TxOp::Update {
                key: keys::email_revert(revert_hash),
                update: Update::new()
                    .set("state", STATE_COMPLETED)
                    .set("completed_at", Value::S(now.to_rfc3339()))
                    .set(keys::attr::EXPIRES_AT, held_until),
                condition: Some(
                    Condition::eq("state", STATE_PENDING).and(Condition::eq("user_id", user.id.0)),
                ),
            },
        ))
}

/// The operations of confirming an email change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConfirmOp {
    /// The profile, still at the old address and not being erased.
    Profile,
    /// The new address's unique item, put if absent: a taken address fails here.
    NewEmail,
    /// The old address's unique item, held for the revert window.
    OldEmail,
    /// The revert token, still pending (not cancelled from the old address).
    Revert,
}

/// What a cancel token did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The change had not been confirmed: it is dropped.
    Cancelled,
    /// The change had completed: the old address is back and every credential ended.
    Reverted,
}

/// Cancels a pending change, or reverts a completed one within its window, with the token
/// mailed to the old address. Every failure is the same field error on `token`.
pub async fn cancel_change(
    app: &App,
    token: Option<&str>,
    client: &ClientInfo,
) -> Result<CancelOutcome, Error> {
    let token = token
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 256);
    let Some(token) = token else {
        return Err(Error::field("token", "This field is required."));
    };
    let Some(revert) = read_cancel_token(app, token).await? else {
        return Err(invalid_cancel_token());
    };
    match revert.state.as_str() {
        STATE_PENDING => drop_pending_change(app, revert, client).await,
        STATE_COMPLETED => revert_completed_change(app, revert, client).await,
        _ => Err(invalid_cancel_token()),
    }
}

fn invalid_cancel_token() -> Error {
    Error::field("token", INVALID_CANCEL_TOKEN)
}

/// A cancel token's item as read: whose change, between which addresses, in which state.
struct CancelToken {
    key: Key,
    hash: String,
    user: UserId,
    old_email: String,
    new_email: String,
    state: String,
}

/// The live (unexpired) item of a cancel token, if there is one.
async fn read_cancel_token(app: &App, token: &str) -> Result<Option<CancelToken>, Error> {
    let hash = sha256_hex(token);
    let key = keys::email_revert(&hash);
    let Some(item) = app.table.get(&key, true).await? else {
        return Ok(None);
    };
    if crate::store::is_expired(&item, app.clock.epoch_seconds()) {
        return Ok(None);
    }
    let text = |name: &str| {
        item.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Ok(Some(CancelToken {
        user: UserId(item.get("user_id").and_then(Value::as_i64).unwrap_or(0)),
        old_email: text("old_email"),
        new_email: text(NEW_EMAIL),
        state: text("state"),
        key,
        hash,
    }))
}

/// Drops a change not yet confirmed: the token's item and (unless a later request replaced
/// it) the emailed code, in one transaction.
async fn drop_pending_change(
    app: &App,
    revert: CancelToken,
    client: &ClientInfo,
) -> Result<CancelOutcome, Error> {
    let CancelToken {
        key, hash, user, ..
    } = revert;
    let code_key = keys::emailed_code(user, CodePurpose::EmailChange.as_str());
    let mut ops = vec![TxOp::Delete {
        key,
        condition: Some(Condition::eq("state", STATE_PENDING)),
    }];
    // The code goes too, unless a later request replaced it (that one has its own token).
    let code = app.table.get(&code_key, true).await?;
    if code
        .as_ref()
        .and_then(|c| c.get(REVERT_HASH))
        .and_then(Value::as_str)
        == Some(&hash)
    {
        ops.push(TxOp::Delete {
            key: code_key,
            condition: Some(Condition::eq(REVERT_HASH, hash.as_str())),
        });
    }
    match app.table.transact_write(ops).await {
        Ok(()) => {
            log_event_best_effort(
                app,
                NewEvent::new(EventType::EmailChangeCancelled, Some(user))
                    .client(client)
                    .description("pending email change cancelled from the old address"),
            )
            .await;
            Ok(CancelOutcome::Cancelled)
        }
        // Confirmed meanwhile: the token now reverts; the client may send it again.
        Err(StoreError::TransactionCanceled { .. }) => Err(Error::Conflict(
            "The change completed at the same time; send the token again to revert it.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Puts the old address back on a completed change (verified; its unique item no longer held
/// for the revert; the new one's released), then ends every session and API token.
async fn revert_completed_change(
    app: &App,
    revert: CancelToken,
    client: &ClientInfo,
) -> Result<CancelOutcome, Error> {
    let CancelToken {
        key,
        user,
        old_email,
        new_email,
        ..
    } = revert;
    let Ok(old) = EmailAddress::parse(&old_email) else {
        return Err(invalid_cancel_token());
    };
    let mine = Condition::eq("user_id", user.0);
    let ops = vec![
        TxOp::Update {
            key: keys::user(user),
            update: Update::new()
                .set("email", old.as_str())
                .set("is_verified", true)
                .set("updated_at", stamp(app)?),
            condition: Some(
                Condition::item_present()
                    .and(Condition::Ne("deleting".into(), Value::Bool(true)))
                    .and(Condition::eq("email", new_email.as_str())),
            ),
        },
        TxOp::Delete {
            key: keys::unique_email(&email_key(&new_email)),
            condition: Some(mine.clone()),
        },
        TxOp::Update {
            key: keys::unique_email(&old.key()),
            update: Update::new()
                .remove(HELD_FOR_REVERT)
                .remove(keys::attr::EXPIRES_AT),
            condition: Some(mine),
        },
        TxOp::Delete {
            key,
            condition: Some(Condition::eq("state", STATE_COMPLETED)),
        },
    ];
    match app.table.transact_write(ops).await {
        Ok(()) => {}
        // The address changed again since, or the account is gone: nothing to revert to.
        Err(StoreError::TransactionCanceled { .. }) => return Err(invalid_cancel_token()),
        Err(e) => return Err(e.into()),
    }
    let sessions_ended = sessions::delete_all_sessions(app, user).await?;
    let tokens_revoked = api_tokens::delete_all(app, user).await?;
    log_event_best_effort(
        app,
        NewEvent::new(EventType::EmailChangeReverted, Some(user))
            .client(client)
            .severity(Severity::High)
            .description("email change reverted from the old address; every credential ended")
            .metadata(json!({
                "sessions_ended": sessions_ended,
                "api_tokens_revoked": tokens_revoked,
            })),
    )
    .await;
    Ok(CancelOutcome::Reverted)
}

/// The notice to the current address: what is changing, and the token that stops it.
fn notice_email(app: &App, user: &UserRecord, new_email: &str, token: &str) -> Email {
    let name = user.display_name();
    let days = REVERT_WINDOW_SECS / 86_400;
    let link = app
        .config
        .auth
        .public_url
        .as_deref()
        .map(|base| format!("{}/email/cancel?token={token}", base.trim_end_matches('/')));
    let how = match &link {
        Some(link) => {
            format!("open {link} (or send the token below to POST /api/auth/email/cancel/).")
        }
        None => "send the token below to POST /api/auth/email/cancel/.".to_owned(),
    };
    let text = format!(
        "Hello {name},\n\nSomeone asked to change your account's email address to {new_email}.\n\n\
         If that was not you, {how}\n\n    Cancel token: {token}\n\n\
         This stops the change, or, for {days} days after it completes, reverts it and signs \
         out every device and token. Then reset your password.\n"
    );
    let escaped = codes::html_escape;
    let html = format!(
        "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n\
         <p>Hello {name},</p>\n<p>Someone asked to change your account's email address to \
         <b>{new_email}</b>.</p>\n<p>If that was not you, {how}</p>\n<p>Cancel token: <code>{token}</code></p>\n\
         <p>This stops the change, or, for {days} days after it completes, reverts it and \
         signs out every device and token. Then reset your password.</p>\n</body></html>\n",
        name = escaped(&name),
        new_email = escaped(new_email),
        how = escaped(&how),
    );
    Email {
        to: user.email.clone(),
        subject: "Your email address is being changed".into(),
        text,
        html,
    }
}
