//! The users capability: listing and searching accounts, administrators creating them, the
//! owner or an administrator changing identity fields, suspension, roles, and erasure.
//!
//! Rules:
//! - The list reads the GSI1 username index (`USERNAME` / lower-case username): a search is a
//!   `begins_with` on it, never a scan. `role`, `is_verified` (and, for non-administrators,
//!   "verified, not suspended") are query filters, applied after the page's limit as DynamoDB
//!   does: a filtered page can hold fewer users than asked for, even none, and still have a next
//!   page.
//! - A username or email change is one transaction: the profile update (conditioned on the
//!   values it replaces), the old unique item deleted conditioned on being this user's, the new
//!   one put conditioned on being absent. A changed email is unverified and gets a new code.
//! - Erasure runs in bounded steps, each idempotent, ordered so that a crash leaves an account
//!   that is marked `deleting` (it cannot log in, is listed nowhere) and a retry finishes:
//!   mark + credentials, sessions, API tokens, social edges, the rest of the partition (codes,
//!   login failures, settings, professional profile, badges), events anonymised, and last the
//!   unique items with the profile in one transaction.

use serde_json::json;

use crate::App;
use crate::access::{self, Visibility, rank};
pub use crate::access::{Actor, may_change_role};
use crate::accounts::registration::{
    self, CreateOptions, NAME_MAX_CHARS, RegisterInput, USERNAME_TAKEN,
};
use crate::accounts::{UserRecord, email_change, email_key, get_user_consistent, names};
use crate::activity::events::{self, EventType, NewEvent, log_event_best_effort};
use crate::activity::staff::log_staff_action;
use crate::auth::Principal;
use crate::auth::client::ClientInfo;
use crate::auth::mfa::{self, Sensitive};
use crate::auth::{api_tokens, reauth, sessions};
use crate::error::{Error, FieldErrors};
use crate::model::{EmailAddress, Role, UserId, Username};
use crate::store::{
    Condition, Cursor, Key, Query, SortCondition, StoreError, Transaction, TxOp, Update, Value,
    from_item, keys,
};
use std::collections::BTreeMap;

/// Page size of lists unless the client asks otherwise, and the most it may ask for.
pub const DEFAULT_PAGE_SIZE: u32 = 25;
pub const MAX_PAGE_SIZE: u32 = 100;

/// The longest suspension reason, in characters.
pub const REASON_MAX_CHARS: usize = 500;

/// Items deleted per transaction while erasing an account.
const ERASE_BATCH: usize = 25;
/// Bound on the pages one erasure step reads (a user's partition holds few non-event items).
const ERASE_MAX_PAGES: usize = 40;

const ADMIN_ONLY: &str = "Only administrators can change this field.";

/// What a list asks for.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub role: Option<Role>,
    pub is_verified: Option<bool>,
    /// A username prefix, matched without regard to case.
    pub search: Option<String>,
}

/// One page of users, each with how much of it the viewer sees
/// ([`access::profile_visibility`]).
#[derive(Clone, Debug)]
pub struct UserPage {
    pub users: Vec<(UserRecord, Visibility)>,
    pub next: Option<Cursor>,
}

/// A page of the users list, in username order. Administrators see every account (but those
/// being erased); others see verified, unsuspended accounts only, never one that blocks them or
/// that they block, and may not filter on `role` or `is_verified`.
pub async fn list_users(
    app: &App,
    viewer: Actor,
    filter: &ListFilter,
    page_size: u32,
    cursor: Option<Cursor>,
) -> Result<UserPage, Error> {
    let admin = viewer.is_admin();
    if !admin {
        let mut errors = FieldErrors::new();
        if filter.role.is_some() {
            errors.add("role", "Only administrators can filter on this field.");
        }
        if filter.is_verified.is_some() {
            errors.add(
                "is_verified",
                "Only administrators can filter on this field.",
            );
        }
        errors.into_result()?;
    }
    // The name index (16 shards merged), then the page's profiles in one batch; the filters
    // apply to the profiles, so a page may come back short (as a query filter's would).
    let prefix = filter
        .search
        .as_deref()
        .map(|p| p.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let after = cursor.as_ref().map(names::decode_cursor).transpose()?;
    let page = names::page(
        app,
        names::NameIndex::Username,
        &prefix,
        after.as_deref(),
        page_size.clamp(1, MAX_PAGE_SIZE),
    )
    .await?;
    // The profiles, and for others than staff the edges between viewer and each user (blocks
    // both ways, the follow), side by side.
    let ids: Vec<UserId> = page.entries.iter().map(|e| e.user).collect();
    let profile_keys: Vec<Key> = ids.iter().map(|id| keys::user(*id)).collect();
    let profiles = async {
        if profile_keys.is_empty() {
            return Ok(Vec::new());
        }
        app.table.batch_get(&profile_keys).await
    };
    let relations = async {
        match viewer.user_id() {
            Some(me) if !viewer.is_staff() => {
                crate::social::relationships::relations_among(app, me, &ids).await
            }
            _ => Ok(BTreeMap::new()),
        }
    };
    let (found, relations) = tokio::join!(profiles, relations);
    let relations = relations?;
    let mut users = Vec::with_capacity(ids.len());
    for item in found?.into_iter().flatten() {
        let user: UserRecord = from_item(&item)?;
        let relationship = relations.get(&user.id).copied().unwrap_or_default();
        let visibility = access::profile_visibility(viewer, Some(&user), relationship);
        let shown = visibility != Visibility::NotFound
            && filter.role.is_none_or(|role| user.role == role)
            && filter.is_verified.is_none_or(|v| user.is_verified == v)
            && (admin || (user.is_verified && !user.is_suspended));
        if shown {
            users.push((user, visibility));
        }
    }
    Ok(UserPage {
        users,
        next: page.next.as_deref().map(names::encode_cursor),
    })
}

/// The account `target` as `actor` may see it: themselves, or anyone for an administrator.
/// Anyone else, an unknown id and an account being erased are all `NotFound`.
pub async fn get_user_for(app: &App, actor: Actor, target: UserId) -> Result<UserRecord, Error> {
    access::require_own_or_admin(actor, target)?;
    match get_user_consistent(app, target).await? {
        Some(user) if !user.deleting => Ok(user),
        _ => Err(Error::NotFound),
    }
}

/// `POST /api/users/` input: a registration plus the role and verification state.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct CreateUserInput {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<String>,
    pub is_verified: Option<bool>,
}

fn parse_role(raw: &str) -> Result<Role, Error> {
    Role::parse(raw).ok_or_else(|| {
        let allowed: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        Error::field(
            "role",
            format!(
                "\"{raw}\" is not a valid choice. Choose one of: {}.",
                allowed.join(", ")
            ),
        )
    })
}

/// An administrator creates an account with profile and settings, verified or not (an
/// unverified one is mailed its code).
pub async fn create_user(
    app: &App,
    actor: Actor,
    input: CreateUserInput,
    client: &ClientInfo,
) -> Result<UserRecord, Error> {
    access::require_admin(actor)?;
    let role = match input.role.as_deref() {
        Some(raw) => parse_role(raw)?,
        None => Role::Normal,
    };
    access::may_create_with_role(actor, role)?;
    let registration = RegisterInput {
        username: input.username,
        email: input.email,
        password: input.password,
        first_name: input.first_name,
        last_name: input.last_name,
        honeypot: None,
    };
    let options = CreateOptions {
        role,
        is_verified: input.is_verified.unwrap_or(false),
        created_by: actor.user_id(),
    };
    registration::create_account(app, registration, options, client).await
}

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
struct Changes {
    username: Option<Username>,
    email: Option<EmailAddress>,
    first_name: Option<String>,
    last_name: Option<String>,
    role: Option<Role>,
    is_verified: Option<bool>,
}

fn validate_update(
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
async fn apply_update(
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
struct PlannedUpdate {
    tx: Transaction<AccountUpdateOp>,
    events: Vec<(EventType, serde_json::Value)>,
}

/// The transaction of the changes (the profile, conditioned on what was read; the name item
/// when the username or display name moves) and the events that say what changed; `None`
/// when nothing changes.
fn plan_update(
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
fn next_record(current: &UserRecord, changes: &Changes) -> UserRecord {
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
fn push_rename(
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
async fn commit_update(
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
enum AccountUpdateOp {
    /// A rename's old name item, still this user's.
    OldUsername,
    /// A rename's new name item, put if absent: a taken username fails here.
    NewUsername,
    /// The name item's search key, when the display name changes without a rename.
    NameIndex,
    /// The profile, as read (username, email, role) and not being erased.
    Profile,
}

/// Sets a role from the command line (`accounts-admin set-role`, [`Actor::System`]), or for
/// an administrator with the API's rules. Logs `role_change`.
pub async fn set_role(
    app: &App,
    actor: Actor,
    target: UserId,
    role: Role,
) -> Result<UserRecord, Error> {
    let current = match get_user_consistent(app, target).await? {
        Some(user) if !user.deleting => user,
        _ => return Err(Error::NotFound),
    };
    may_change_role(actor, &current, role)?;
    if current.role == role {
        return Ok(current);
    }
    let update = Update::new()
        .set("role", role.as_str())
        .set("updated_at", Value::from(app.clock.now()));
    let condition =
        Condition::item_present().and(Condition::Ne("deleting".into(), Value::Bool(true)));
    let item = match app
        .table
        .update(&keys::user(target), update, Some(condition))
        .await
    {
        Ok(item) => item,
        Err(StoreError::ConditionFailed) => return Err(Error::NotFound),
        Err(e) => return Err(e.into()),
    };
    log_staff_action(
        app,
        actor,
        target,
        EventType::RoleChange,
        json!({ "from": current.role, "to": role }),
        &ClientInfo::default(),
    )
    .await;
    Ok(from_item(&item)?)
}

/// Suspends (`Some(reason)`) or lifts the suspension (`None`) of an account: staff only, on
/// accounts that rank below them. Suspending ends every session of the account at once.
pub async fn set_suspension(
    app: &App,
    actor: Actor,
    target: UserId,
    reason: Option<&str>,
    client: &ClientInfo,
) -> Result<UserRecord, Error> {
    access::require_staff(actor)?;
    let reason = match reason {
        Some(raw) => {
            let reason = raw.trim();
            if reason.is_empty() {
                return Err(Error::field("reason", "This field may not be blank."));
            }
            if reason.chars().count() > REASON_MAX_CHARS {
                return Err(Error::field(
                    "reason",
                    format!("Ensure this field has no more than {REASON_MAX_CHARS} characters."),
                ));
            }
            Some(reason.to_owned())
        }
        None => None,
    };
    let current = match get_user_consistent(app, target).await? {
        Some(user) if !user.deleting => user,
        _ => return Err(Error::NotFound),
    };
    if actor.is(target) {
        return Err(Error::Forbidden("You cannot suspend yourself.".into()));
    }
    if rank(current.role) >= actor.rank() {
        return Err(Error::Forbidden(
            "You cannot suspend an account of your rank or above.".into(),
        ));
    }
    let suspended = reason.is_some();
    let update = Update::new()
        .set("is_suspended", suspended)
        .set("suspension_reason", reason.clone().unwrap_or_default())
        .set("updated_at", Value::from(app.clock.now()));
    let condition = Condition::item_present()
        .and(Condition::Ne("deleting".into(), Value::Bool(true)))
        .and(Condition::eq("role", current.role.as_str()));
    let item = match app
        .table
        .update(&keys::user(target), update, Some(condition))
        .await
    {
        Ok(item) => item,
        Err(StoreError::ConditionFailed) => {
            return Err(Error::Conflict(
                "The account changed at the same time; try again.".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let ended = if suspended {
        sessions::end_other_sessions(app, target, None).await?
    } else {
        0
    };
    let event_type = if suspended {
        EventType::AccountSuspended
    } else {
        EventType::AccountUnsuspended
    };
    log_staff_action(
        app,
        actor,
        target,
        event_type,
        json!({ "reason": reason, "sessions_ended": ended }),
        client,
    )
    .await;
    Ok(from_item(&item)?)
}

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
async fn mark_deleting(app: &App, user: &UserRecord) -> Result<(), Error> {
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
enum ErasureOp {
    /// The profile: marked `deleting` (it exists), or deleted (while marked).
    Profile,
    Credentials,
    /// The unique username item, unless someone else's now.
    Username,
    /// The unique email item, unless someone else's now.
    Email,
}

/// The sort key just past every event of a partition: `EVENT#` with its last byte raised.
fn after_events() -> String {
    let mut end = keys::EVENT_PREFIX.to_owned();
    if let Some(last) = end.pop() {
        end.push(char::from(last as u8 + 1));
    }
    end
}

/// Deletes every item of the user's partition but the profile and the events (settings,
/// professional profile, codes, login failures, badges, anything a later capability adds),
/// in transactions of [`ERASE_BATCH`]. The events are skipped by two key ranges, not read.
async fn delete_partition_rest(app: &App, user: UserId) -> Result<(), Error> {
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
async fn remove_identity(app: &App, user: &UserRecord) -> Result<(), Error> {
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
