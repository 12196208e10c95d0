//! The owner or an administrator changing identity fields: username, names, email (through
//! `email_change`), role and verification, in one transaction with the name item.

use serde_json::json;

use super::create::parse_role;
use super::list::get_user_for;
use super::moderation::ADMIN_ONLY;
use crate::App;
use crate::access::{Actor, may_change_role, rank};
use crate::accounts::registration::{NAME_MAX_CHARS, USERNAME_TAKEN};
use crate::accounts::{UserRecord, email_change, email_key, get_user_consistent, names};
use crate::activity::events::{EventType, NewEvent, log_event_best_effort};
use crate::activity::staff::log_staff_action;
use crate::auth::Principal;
use crate::auth::client::ClientInfo;
use crate::auth::mfa::{self, Sensitive};
use crate::auth::reauth;
use crate::error::{Error, FieldErrors};
use crate::model::{EmailAddress, Role, UserId, Username};
use crate::store::{Condition, Transaction, TxOp, Update, Value, keys};

/// `PUT`/`PATCH /api/users/{id}/` input. Fields not named here (counters, timestamps, profile
/// fields, which the profiles endpoints change) are ignored, as DRF ignores read-only fields.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct UpdateUserInput {
    pub username: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Administrators only, as `access::may_change_role` says (403 otherwise).
    pub role: Option<String>,
    pub is_verified: Option<bool>,
    /// The owner's current password: required to change the email address.
    pub current_password: Option<String>,
}

/// What an update changes, validated.
pub(super) struct Changes {
    username: Option<Username>,
    email: Option<EmailAddress>,
    first_name: Option<String>,
    last_name: Option<String>,
    role: Option<Role>,
    is_verified: Option<bool>,
}

pub(super) fn validate_update(
    input: &UpdateUserInput,
    partial: bool,
    current: &UserRecord,
    admin: bool,
) -> Result<Changes, Error> {
    let mut errors = FieldErrors::new();
    let mut required = |field: &str, present: bool| {
        if !partial && !present {
            errors.add(field, "This field is required.");
        }
    };
    required("username", input.username.is_some());
    required("email", input.email.is_some());
    let username = input.username.as_deref().and_then(|raw| {
        Username::parse(raw)
            .map_err(|e| errors.add("username", e))
            .ok()
    });
    let email = input.email.as_deref().and_then(|raw| {
        EmailAddress::parse(raw)
            .map_err(|e| errors.add("email", e))
            .ok()
    });
    let mut name = |field: &str, raw: &Option<String>| {
        let value = raw.as_deref().map(|v| v.trim().to_owned());
        if let Some(v) = &value
            && v.chars().count() > NAME_MAX_CHARS
        {
            errors.add(
                field,
                format!("Ensure this field has no more than {NAME_MAX_CHARS} characters."),
            );
        }
        value
    };
    let first_name = name("first_name", &input.first_name);
    let last_name = name("last_name", &input.last_name);
    let role = match input.role.as_deref() {
        None => None,
        Some(raw) => match Role::parse(raw) {
            Some(role) if role == current.role => None,
            // Who may give which role is `access::may_change_role`'s to say (a 403).
            Some(role) => Some(role),
            None => {
                if let Err(Error::Invalid(e)) = parse_role(raw) {
                    for (field, messages) in e.0 {
                        for m in messages {
                            errors.add(&field, m);
                        }
                    }
                }
                None
            }
        },
    };
    let is_verified = match input.is_verified {
        Some(v) if v == current.is_verified => None,
        Some(_) if !admin => {
            errors.add("is_verified", ADMIN_ONLY);
            None
        }
        other => other,
    };
    errors.into_result()?;
    Ok(Changes {
        username,
        email,
        first_name,
        last_name,
        role,
        is_verified,
    })
}

/// What an update did: the account as stored, and the email change it started, if any.
#[derive(Clone, Debug)]
pub struct Updated {
    pub user: UserRecord,
    pub pending_email: Option<email_change::PendingChange>,
}

/// The owner or an administrator updates the account's identity fields. A new username moves
/// its unique item in the same transaction as the profile. A new email address is never set
/// here: it starts an email change (`email_change.rs`), which the owner asks for with the
/// current password (never with an API token) and confirms with the code mailed to the new
/// address. Administrators may also set `role` (not their own) and `is_verified`.
pub async fn update_user(
    app: &App,
    principal: &Principal,
    target: UserId,
    input: UpdateUserInput,
    partial: bool,
    client: &ClientInfo,
) -> Result<Updated, Error> {
    let actor = Actor::of(&principal.user);
    let current = get_user_for(app, actor, target).await?;
    let admin = actor.is_admin();
    let mut changes = validate_update(&input, partial, &current, admin)?;
    if let Some(role) = changes.role {
        may_change_role(actor, &current, role)?;
    }
    if admin && !actor.is(target) && rank(current.role) > actor.rank() {
        return Err(Error::Forbidden(
            "You cannot change an account that outranks yours.".into(),
        ));
    }
    // The address is changed only through an email change, started after the rest.
    let new_email = changes
        .email
        .take()
        .filter(|e| e.key() != email_key(&current.email));
    if new_email.is_some() {
        if actor.is(target) {
            reauth::confirm_current_password(
                app,
                principal,
                input.current_password.as_deref(),
                client,
            )
            .await?;
            mfa::require_recent_auth(app, principal, Sensitive::WithPassword).await?;
        } else {
            reauth::refuse_api_token(principal)?;
            mfa::require_recent_auth(app, principal, Sensitive::Action).await?;
        }
    }
    // A staff member changing a role confirms it is them (step-up), once the change is
    // otherwise valid.
    if changes.role.is_some_and(|role| role != current.role) {
        mfa::require_recent_auth(app, principal, Sensitive::Action).await?;
    }
    if let Some(new) = &new_email {
        // Refused before anything else is written, so a taken address changes nothing.
        email_change::refuse_taken(app, new).await?;
    }
    let user = apply_update(app, actor, target, current, changes, client).await?;
    let pending_email = match new_email {
        Some(new) => {
            let by = actor.user_id().filter(|id| *id != target);
            Some(email_change::request_change(app, &user, &new, by, client).await?)
        }
        None => None,
    };
    Ok(Updated {
        user,
        pending_email,
    })
}

/// Writes the validated changes other than the address in one transaction, and logs them.
pub(super) async fn apply_update(
    app: &App,
    actor: Actor,
    target: UserId,
    current: UserRecord,
    changes: Changes,
    client: &ClientInfo,
) -> Result<UserRecord, Error> {
    let Some(planned) = plan_update(&current, &changes, target, app.clock.now()) else {
        return Ok(current);
    };
    commit_update(app, target, planned.tx).await?;
    let user = get_user_consistent(app, target)
        .await?
        .ok_or(Error::NotFound)?;
    for (event_type, metadata) in planned.events {
        if actor.is(target) {
            let event = NewEvent::new(event_type, Some(target))
                .client(client)
                .metadata(metadata);
            log_event_best_effort(app, event).await;
        } else {
            log_staff_action(app, actor, target, event_type, metadata, client).await;
        }
    }
    Ok(user)
}

/// An account update's transaction and the events it will log.
pub(super) struct PlannedUpdate {
    tx: Transaction<AccountUpdateOp>,
    events: Vec<(EventType, serde_json::Value)>,
}

/// The transaction of the changes (the profile, conditioned on what was read; the name item
/// when the username or display name moves) and the events that say what changed; `None`
/// when nothing changes.
pub(super) fn plan_update(
    current: &UserRecord,
    changes: &Changes,
    target: UserId,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<PlannedUpdate> {
    let mut update = Update::new().set("updated_at", Value::from(now));
    let mut tx = Transaction::new();
    let mut condition = Condition::item_present()
        .and(Condition::Ne("deleting".into(), Value::Bool(true)))
        .and(Condition::eq("username", current.username.as_str()))
        .and(Condition::eq("email", current.email.as_str()));
    let mut events = Vec::new();

    // The record as it will be: the name item (unique username, name indexes) follows it.
    let next = next_record(current, changes);
    let renamed = !next.username.eq_ignore_ascii_case(&current.username);

    if let Some(username) = changes
        .username
        .as_ref()
        .filter(|u| u.as_str() != current.username)
    {
        update = update.set("username", username.as_str());
        if renamed {
            push_rename(&mut tx, current, &next, now);
        }
        events.push((
            EventType::UsernameChange,
            json!({ "from": current.username, "to": username.as_str() }),
        ));
    }
    let mut profile_fields = Vec::new();
    for (field, value, old) in [
        ("first_name", &changes.first_name, &current.first_name),
        ("last_name", &changes.last_name, &current.last_name),
    ] {
        if let Some(value) = value.as_ref().filter(|v| *v != old) {
            update = update.set(field, value.as_str());
            profile_fields.push(field);
        }
    }
    // The display name (full name, else username) is the name item's GSI2 search key: keep it
    // in step (a rename writes a whole new name item above).
    if !renamed && next.display_name() != current.display_name() {
        tx.push(AccountUpdateOp::NameIndex, names::name_index_op(&next));
    }
    if let Some(role) = changes.role.filter(|r| *r != current.role) {
        update = update.set("role", role.as_str());
        condition = condition.and(Condition::eq("role", current.role.as_str()));
        events.push((
            EventType::RoleChange,
            json!({ "from": current.role, "to": role }),
        ));
    }
    if let Some(verified) = changes.is_verified {
        update = update.set("is_verified", verified);
        events.push((
            EventType::AdminAction,
            json!({ "action": "set_verified", "is_verified": verified }),
        ));
    }
    if !profile_fields.is_empty() {
        events.push((
            EventType::ProfileUpdate,
            json!({ "fields": profile_fields }),
        ));
    }
    if events.is_empty() {
        return None;
    }
    tx.push(
        AccountUpdateOp::Profile,
        TxOp::Update {
            key: keys::user(target),
            update,
            condition: Some(condition),
        },
    );
    Some(PlannedUpdate { tx, events })
}

/// The record with the changes to its names applied.
pub(super) fn next_record(current: &UserRecord, changes: &Changes) -> UserRecord {
    let mut next = current.clone();
    if let Some(username) = &changes.username {
        next.username = username.as_str().to_owned();
    }
    if let Some(first) = &changes.first_name {
        next.first_name = first.clone();
    }
    if let Some(last) = &changes.last_name {
        next.last_name = last.clone();
    }
    next
}

/// A rename moves the unique username item: the old one goes (if still the user's), the new
/// one is put if absent (a taken name fails the transaction on it).
pub(super) fn push_rename(
    tx: &mut Transaction<AccountUpdateOp>,
    current: &UserRecord,
    next: &UserRecord,
    now: chrono::DateTime<chrono::Utc>,
) {
    tx.push(
        AccountUpdateOp::OldUsername,
        TxOp::Delete {
            key: keys::unique_username(&current.username.to_ascii_lowercase()),
            condition: Some(Condition::eq("user_id", current.id.0)),
        },
    );
    tx.push(
        AccountUpdateOp::NewUsername,
        TxOp::Put {
            item: next.name_item(&now.to_rfc3339()),
            condition: Some(Condition::item_absent()),
        },
    );
}

/// Commits an account update: a taken username is a field error, a vanished account a 404,
/// anything else that changed meanwhile a 409 to retry.
pub(super) async fn commit_update(
    app: &App,
    target: UserId,
    tx: Transaction<AccountUpdateOp>,
) -> Result<(), Error> {
    match tx.commit(app.table.as_ref()).await {
        Ok(()) => Ok(()),
        Err(e) if e.any_condition_failed() => {
            let mut errors = FieldErrors::new();
            if e.condition_failed(AccountUpdateOp::NewUsername) {
                errors.add("username", USERNAME_TAKEN);
            }
            errors.into_result()?;
            if e.condition_failed(AccountUpdateOp::Profile)
                && get_user_consistent(app, target).await?.is_none()
            {
                return Err(Error::NotFound);
            }
            Err(Error::Conflict(
                "The account changed at the same time; try again.".into(),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// The operations of an account update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AccountUpdateOp {
    /// A rename's old name item, still this user's.
    OldUsername,
    /// A rename's new name item, put if absent: a taken username fails here.
    NewUsername,
    /// The name item's search key, when the display name changes without a rename.
    NameIndex,
    /// The profile, as read (username, email, role) and not being erased.
    Profile,
}
