//! The profile item through the profiles API: read with privacy, update with field rules,
//! search by username or display-name prefix, and the admin's create for a user without one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json, json};

use super::validate;
use super::views::{full_view, view_as};
use crate::App;
use crate::access::{self, Actor, Relationship, Visibility};
use crate::accounts::names::{self, NameIndex};
use crate::accounts::{self, SettingsRecord, UserRecord};
use crate::activity::events::{self, EventType, NewEvent};
use crate::auth::client::ClientInfo;
use crate::error::{Error, FieldErrors};
use crate::model::{Role, UserId};
use crate::retry::{Loop, Tries};
use crate::social;
use crate::store::{Condition, Key, Transaction, TxFailure, TxOp, Update, Value, from_item, keys};

/// Fields the owner (or an admin) writes.
const WRITABLE: [&str; 15] = [
    "first_name",
    "last_name",
    "phone_number",
    "date_of_birth",
    "bio",
    "profile_picture",
    "cover_media",
    "cover_media_type",
    "country",
    "city",
    "is_private",
    "show_email",
    "show_phone",
    "show_location",
    // Admins only, and never one's own: checked in `apply_role`.
    "role",
];

/// Read-only fields that answer 400 when a write sends a value other than the stored one: a
/// client would otherwise believe it changed the email, the username or the account status.
const LOCKED: [(&str, &str); 5] = [
    ("username", "Change the username through /api/users/{id}/."),
    (
        "email",
        "Change the email address through /api/users/{id}/.",
    ),
    ("is_verified", "This field is read-only."),
    (
        "is_suspended",
        "Suspension is changed through /api/users/{id}/suspend/.",
    ),
    (
        "suspension_reason",
        "Suspension is changed through /api/users/{id}/suspend/.",
    ),
];

/// Read-only fields silently ignored on write, as DRF does: derived values a client that
/// sends back what it read would carry along.
const IGNORED: [&str; 16] = [
    "id",
    "email_suppressed",
    "follower_count",
    "following_count",
    "posts_count",
    "badge_points",
    "engagement_score",
    "content_quality_score",
    "interaction_frequency",
    "created_at",
    "updated_at",
    "last_active",
    "full_name",
    "display_name",
    "location",
    "user",
];

pub const BIO_MAX_CHARS: usize = 500;
pub const CITY_MAX_CHARS: usize = 100;
pub const NAME_MAX_CHARS: usize = 150;
pub const COVER_MEDIA_TYPES: [&str; 2] = ["image", "video"];

/// The profile of `id` as `viewer` may see it (`access::profile_visibility`): every field for
/// the owner and staff, the public view or the card for others, 404 through a block.
pub async fn get_profile(app: &App, viewer: &UserRecord, id: UserId) -> Result<Json, Error> {
    let actor = Actor::of(viewer);
    if viewer.id == id {
        return Ok(full_view(viewer));
    }
    if actor.is_staff() {
        let user = accounts::get_user(app, id).await?;
        let visibility = access::profile_visibility(actor, user.as_ref(), Relationship::default());
        return user
            .and_then(|u| view_as(visibility, &u))
            .ok_or(Error::NotFound);
    }
    // The profile and the viewer's edges to it (both blocks, the follow) in one batch read:
    // one round trip after authentication.
    let found = app
        .table
        .batch_get(&[
            keys::user(id),
            keys::block_edge(viewer.id, id),
            keys::block_edge(id, viewer.id),
            keys::follow_edge(viewer.id, id),
        ])
        .await?;
    let user: Option<UserRecord> = found[0].as_ref().map(from_item).transpose()?;
    let follows = match &found[3] {
        Some(edge) => social::FollowEdge::from_item(edge)?.is_active(),
        None => false,
    };
    let relationship = Relationship {
        blocked: found[1].is_some() || found[2].is_some(),
        follows,
    };
    let visibility = access::profile_visibility(actor, user.as_ref(), relationship);
    user.and_then(|u| view_as(visibility, &u))
        .ok_or(Error::NotFound)
}

/// Who may write a profile (and the professional profile beside it): its owner and admins
/// (`access::require_self_or_admin`). Anyone else gets 404 when they may not see the user at
/// all (blocked either way) and 403 otherwise.
pub(crate) async fn check_write(
    app: &App,
    caller: &UserRecord,
    target: UserId,
) -> Result<(), Error> {
    let refused = match access::require_self_or_admin(Actor::of(caller), target) {
        Ok(()) => return Ok(()),
        Err(refused) => refused,
    };
    if social::blocked_either_way(app, caller.id, target).await? {
        return Err(Error::NotFound);
    }
    Err(refused)
}

/// `PUT`/`PATCH`: validates `changes` against the rules of each field, writes the changed
/// fields and `updated_at` in one update conditioned on the `updated_at` it read (with the
/// settings' `profile_visibility` in the same transaction when `is_private` changes), and
/// returns the full view. Changed by someone else in between twice running: 409.
pub async fn update_profile(
    app: &App,
    caller: &UserRecord,
    id: UserId,
    changes: &Map<String, Json>,
    client: &ClientInfo,
) -> Result<Json, Error> {
    check_write(app, caller, id).await?;
    // One's own profile was read to authenticate the request: the write is conditioned on its
    // `updated_at`, so a stale copy cannot undo a change made since, and costs no read. Another
    // account's (an admin's write), or a copy that turns out stale, is read consistently first.
    let mut current = if caller.id == id {
        caller.clone()
    } else {
        read_writable(app, id).await?
    };
    let mut tries = Tries::new(Loop::PROFILE);
    let (current, next) = loop {
        let mut next = current.clone();
        apply_changes(app, caller, &mut next, changes)?;
        next.updated_at = app.clock.now();
        if write_profile(app, id, &current, &next).await? {
            break (current, next);
        }
        // No wait: the usual cause is the stale copy the request authenticated with, which a
        // consistent read corrects; a second loss is a real race, answered 409 (`Loop::PROFILE`).
        tries.again()?;
        current = read_writable(app, id).await?;
    };
    let went_public = current.is_private && !next.is_private;

    if went_public {
        social::approve_pending_requests(app, id).await?;
    }
    // A role change is the security event every path logs (`role_change`, and the staff
    // member's `admin_action`), not a profile update.
    if current.role != next.role {
        crate::activity::staff::log_staff_action(
            app,
            Actor::of(caller),
            id,
            EventType::RoleChange,
            json!({ "from": current.role, "to": next.role }),
            client,
        )
        .await;
    }
    let mut changed: Vec<&str> = changes
        .keys()
        .map(String::as_str)
        .filter(|k| WRITABLE.contains(k) && *k != "role")
        .collect();
    changed.sort_unstable();
    if !changed.is_empty() {
        let mut event = NewEvent::new(EventType::ProfileUpdate, Some(caller.id))
            .client(client)
            .metadata(json!({ "fields": changed }));
        if caller.id != id {
            event = event.target(id);
        }
        events::log_event_best_effort(app, event).await;
    }
    Ok(full_view(&next))
}

/// The profile exists and no erasure of the account is under way (the users API marks the
/// profile `deleting` first).
/// The profile as stored now, if it may be written (not being erased).
async fn read_writable(app: &App, id: UserId) -> Result<UserRecord, Error> {
    match accounts::get_user_consistent(app, id).await? {
        Some(user) if !user.deleting => Ok(user),
        _ => Err(Error::NotFound),
    }
}

/// Writes the writable fields of `next` and `updated_at`, conditioned on the profile still
/// being `current` (its `updated_at`), with the settings' `profile_visibility` in the same
/// transaction when `is_private` changes. `Ok(false)` when the profile changed since `current`
/// was read (or is gone: the caller's re-read tells which).
async fn write_profile(
    app: &App,
    id: UserId,
    current: &UserRecord,
    next: &UserRecord,
) -> Result<bool, Error> {
    let mut item = next.to_item()?;
    let mut update = Update::new();
    for attr in WRITABLE.iter().copied().chain(["updated_at"]) {
        update = match item.remove(attr) {
            Some(Value::Null) | None => update.remove(attr),
            Some(value) => update.set(attr, value),
        };
    }
    let read = serde_json::to_value(current.updated_at)
        .map(Value::from)
        .map_err(|e| Error::Internal(format!("timestamp: {e}")))?;
    // An erasure under way (or done) must not be undone by an update that recreates a partial
    // item; a change since the read must not be undone by this one.
    let condition = writable_profile().and(Condition::eq("updated_at", read));
    // What else changes with the profile, in one transaction with it.
    let mut with = Vec::new();
    if current.is_private != next.is_private {
        // `is_private` and the settings' `profile_visibility` say the same thing: one write.
        let mut settings = match app.table.get(&keys::settings(id), true).await? {
            Some(item) => from_item::<SettingsRecord>(&item)?,
            None => SettingsRecord::defaults(id, next.updated_at),
        };
        settings.profile_visibility = if next.is_private {
            "followers".into()
        } else {
            "public".into()
        };
        settings.updated_at = next.updated_at;
        with.push(TxOp::Put {
            item: settings.to_item()?,
            condition: None,
        });
    }
    // The display name is the name item's search key (`accounts::names`): keep it in step.
    if current.display_name() != next.display_name() {
        with.push(names::name_index_op(next));
    }
    let result = if with.is_empty() {
        app.table
            .update(&keys::user(id), update, Some(condition))
            .await
            .map(drop)
    } else {
        let mut ops = vec![TxOp::Update {
            key: keys::user(id),
            update,
            condition: Some(condition),
        }];
        ops.extend(with);
        app.table.transact_write(ops).await
    };
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.is_condition_failure() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn writable_profile() -> Condition {
    Condition::item_present().and(Condition::Ne("deleting".into(), Value::Bool(true)))
}

/// Applies and validates every field of `changes` on `user`; all errors at once.
fn apply_changes(
    app: &App,
    caller: &UserRecord,
    user: &mut UserRecord,
    changes: &Map<String, Json>,
) -> Result<(), Error> {
    let mut errors = FieldErrors::new();
    let today = app.clock.now().date_naive();
    for (field, value) in changes {
        let result = match field.as_str() {
            "first_name" => validate::text(value, NAME_MAX_CHARS).map(|v| user.first_name = v),
            "last_name" => validate::text(value, NAME_MAX_CHARS).map(|v| user.last_name = v),
            "phone_number" => validate::phone(value).map(|v| user.phone_number = v),
            "date_of_birth" => validate::past_date(value, today).map(|v| user.date_of_birth = v),
            "bio" => validate::text(value, BIO_MAX_CHARS).map(|v| user.bio = v),
            "profile_picture" => validate::https_url(value).map(|v| user.profile_picture = v),
            "cover_media" => validate::https_url(value).map(|v| user.cover_media = v),
            "cover_media_type" => match value {
                Json::Null => {
                    user.cover_media_type = None;
                    Ok(())
                }
                v => {
                    validate::choice(v, &COVER_MEDIA_TYPES).map(|v| user.cover_media_type = Some(v))
                }
            },
            "country" => validate::country(value).map(|v| user.country = v),
            "city" => validate::optional_text(value, CITY_MAX_CHARS).map(|v| user.city = v),
            "is_private" => validate::boolean(value).map(|v| user.is_private = v),
            "show_email" => validate::boolean(value).map(|v| user.show_email = v),
            "show_phone" => validate::boolean(value).map(|v| user.show_phone = v),
            "show_location" => validate::boolean(value).map(|v| user.show_location = v),
            "role" => match apply_role(caller, user, value) {
                Err(Error::Forbidden(detail)) => return Err(Error::Forbidden(detail)),
                Err(_) => Err(validate::choice_message(&role_names())
                    .replace("{value}", value.as_str().unwrap_or(""))),
                Ok(()) => Ok(()),
            },
            other => {
                if let Some((_, message)) = LOCKED.iter().find(|(f, _)| *f == other) {
                    let current = full_view(user);
                    if current.get(other) == Some(value) {
                        Ok(())
                    } else {
                        Err((*message).to_owned())
                    }
                } else if IGNORED.contains(&other) {
                    Ok(())
                } else {
                    Err("Unknown field.".to_owned())
                }
            }
        };
        if let Err(message) = result {
            errors.add(field, message);
        }
    }
    errors.into_result()
}

fn role_names() -> Vec<&'static str> {
    Role::ALL.iter().map(|r| r.as_str()).collect()
}

/// A role change through the profile: the users API's rules (`access::may_change_role`, one
/// rule set for every path). Sending the current role is always fine (a round trip).
fn apply_role(caller: &UserRecord, user: &mut UserRecord, value: &Json) -> Result<(), Error> {
    let role = value
        .as_str()
        .and_then(Role::parse)
        .ok_or_else(|| Error::field("role", "invalid"))?;
    access::may_change_role(Actor::of(caller), user, role)?;
    user.role = role;
    Ok(())
}

/// A page of profiles.
pub struct ProfilePage {
    pub results: Vec<Json>,
    pub next: Option<String>,
}

/// Which of the two search streams a cursor continues, and where.
#[derive(serde::Serialize, serde::Deserialize)]
struct SearchCursor {
    /// `u`: the username stream; `d`: the display-name stream.
    s: char,
    /// The last sort key the stream returned; `None` starts the stream from its beginning.
    c: Option<String>,
}

/// `GET /api/profiles/[?search=]`: without `search`, every profile by username; with it, the
/// profiles whose username starts with it (GSI1) and then those whose display name does and
/// whose username does not (GSI2, the filter keeps the streams disjoint). Blocked users (either
/// way) are left out for non-staff viewers; private or suspended profiles show their card.
pub async fn list_profiles(
    app: &App,
    viewer: &UserRecord,
    search: Option<&str>,
    page_size: u32,
    cursor: Option<&str>,
) -> Result<ProfilePage, Error> {
    let prefix = search.map(|s| s.trim().to_lowercase()).unwrap_or_default();
    let position = match cursor {
        Some(c) => decode_cursor(c)?,
        None => SearchCursor { s: 'u', c: None },
    };
    let Hits { ids, next } = hits_of_page(app, &prefix, position, page_size).await?;
    let actor = Actor::of(viewer);
    let Found { users, relations } = profiles_and_relations(app, viewer, &ids, &prefix).await?;
    // Each as the viewer sees it (`access::profile_visibility`). A private account the viewer
    // sees only the card of is found by its (public) username, but not by its display name,
    // the person's real name.
    let results = users
        .iter()
        .filter_map(|u| {
            let relationship = relations.get(&u.id).copied().unwrap_or_default();
            let visibility = access::profile_visibility(actor, Some(u), relationship);
            let hidden_by_privacy = visibility == Visibility::Card
                && u.is_private
                && !prefix.is_empty()
                && !u.username.to_lowercase().starts_with(&prefix);
            if hidden_by_privacy {
                return None;
            }
            view_as(visibility, u)
        })
        .collect();
    Ok(ProfilePage {
        results,
        next: next.map(|c| encode_cursor(&c)),
    })
}

/// The users of a page of the search, and where the next page starts.
struct Hits {
    ids: Vec<UserId>,
    next: Option<SearchCursor>,
}

/// The users of the page, from the name indexes (each read merges its 16 shards): the
/// username stream, then for a search the display-name stream, from `position` on.
async fn hits_of_page(
    app: &App,
    prefix: &str,
    mut position: SearchCursor,
    page_size: u32,
) -> Result<Hits, Error> {
    let mut ids: Vec<UserId> = Vec::new();
    let next = loop {
        let wanted = page_size - ids.len() as u32;
        let index = if position.s == 'u' {
            NameIndex::Username
        } else {
            NameIndex::DisplayName
        };
        let page = names::page(app, index, prefix, position.c.as_deref(), wanted).await?;
        for entry in &page.entries {
            // The display-name stream leaves out whoever the username stream listed.
            if index == NameIndex::DisplayName
                && entry.sort_key(NameIndex::Username).starts_with(prefix)
            {
                continue;
            }
            ids.push(entry.user);
        }
        position = match page.next {
            Some(after) => SearchCursor {
                s: position.s,
                c: Some(after),
            },
            // The username stream is done: a search goes on with display names.
            None if position.s == 'u' && !prefix.is_empty() => SearchCursor { s: 'd', c: None },
            None => break None,
        };
        if ids.len() as u32 >= page_size {
            break Some(position);
        }
    };
    Ok(Hits { ids, next })
}

/// The profiles of a page's users that may be listed, and the viewer's relations to them.
struct Found {
    users: Vec<UserRecord>,
    /// Empty for staff, who see every profile whole.
    relations: BTreeMap<UserId, Relationship>,
}

/// The profiles and the viewer's edges to them, side by side; an account being erased, or an
/// index entry that no longer matches the search, is left out.
async fn profiles_and_relations(
    app: &App,
    viewer: &UserRecord,
    ids: &[UserId],
    prefix: &str,
) -> Result<Found, Error> {
    let profile_keys: Vec<Key> = ids.iter().map(|id| keys::user(*id)).collect();
    let profiles = async {
        if profile_keys.is_empty() {
            return Ok(Vec::new());
        }
        app.table.batch_get(&profile_keys).await
    };
    let actor = Actor::of(viewer);
    let relations = async {
        if actor.is_staff() {
            Ok(BTreeMap::new())
        } else {
            social::relationships::relations_among(app, viewer.id, ids).await
        }
    };
    let (profiles, relations) = tokio::join!(profiles, relations);
    let relations = relations?;
    let users: Vec<UserRecord> = profiles?
        .iter()
        .flatten()
        // An account being erased is left out.
        .filter(|i| i.get("deleting").and_then(Value::as_bool) != Some(true))
        .map(from_item::<UserRecord>)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        // An index entry a writer left stale must not produce a result that does not match.
        .filter(|u| {
            prefix.is_empty()
                || u.username.to_lowercase().starts_with(prefix)
                || u.display_name().to_lowercase().starts_with(prefix)
        })
        .collect();
    Ok(Found { users, relations })
}

fn encode_cursor(cursor: &SearchCursor) -> String {
    use base64::Engine as _;
    let json = serde_json::to_vec(cursor).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor(s: &str) -> Result<SearchCursor, Error> {
    use base64::Engine as _;
    let invalid = || Error::field("cursor", "Invalid cursor.");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.as_bytes())
        .map_err(|_| invalid())?;
    let cursor: SearchCursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if cursor.s != 'u' && cursor.s != 'd' {
        return Err(invalid());
    }
    Ok(cursor)
}

/// `POST /api/profiles/`: every registered user has a profile, so for anyone but an admin
/// this is a 400. An admin may recreate the profile of an account that has credentials but no
/// profile item, giving its username and email; the unique items must be free or already the
/// user's, and everything is one transaction.
pub async fn create_profile(
    app: &App,
    caller: &UserRecord,
    body: &Map<String, Json>,
) -> Result<Json, Error> {
    let target = target_of_creation(caller, body)?;
    access::require_self_or_admin(Actor::of(caller), target)?;
    require_account_without_profile(app, target).await?;
    let NewIdentity { username, email } = parse_identity(body)?;
    let now = app.clock.now();
    let mut user = UserRecord::new(target, username.as_str().into(), email.as_str().into(), now);
    let rest: Map<String, Json> = body
        .iter()
        .filter(|(k, _)| !["user", "username", "email"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    apply_changes(app, caller, &mut user, &rest)?;
    let tx = creation_transaction(&user, &email, now)?;
    if let Err(e) = tx.commit(app.table.as_ref()).await {
        return Err(creation_refused(e));
    }
    events::log_event_best_effort(
        app,
        NewEvent::new(EventType::ProfileUpdate, Some(caller.id))
            .target(target)
            .description("Profile created by an admin."),
    )
    .await;
    Ok(full_view(&user))
}

/// Whose profile a creation is for: the body's `user`, or the caller's own.
fn target_of_creation(caller: &UserRecord, body: &Map<String, Json>) -> Result<UserId, Error> {
    match body.get("user") {
        None | Some(Json::Null) => Ok(caller.id),
        Some(v) => v
            .as_i64()
            .filter(|n| *n > 0)
            .map(UserId)
            .ok_or_else(|| Error::field("user", "A valid user id is required.")),
    }
}

/// A profile is created only for an account that has credentials and no profile yet.
async fn require_account_without_profile(app: &App, target: UserId) -> Result<(), Error> {
    if accounts::get_user_consistent(app, target).await?.is_some() {
        return Err(Error::field("user", "This user already has a profile."));
    }
    if accounts::get_credentials(app, target).await?.is_none() {
        return Err(Error::field("user", "No such user."));
    }
    Ok(())
}

/// The username and email a created profile is given.
struct NewIdentity {
    username: crate::model::Username,
    email: crate::model::EmailAddress,
}

/// Both fields required and valid; the errors of both at once.
fn parse_identity(body: &Map<String, Json>) -> Result<NewIdentity, Error> {
    let mut errors = FieldErrors::new();
    let username = body
        .get("username")
        .and_then(Json::as_str)
        .map(crate::model::Username::parse);
    let email = body
        .get("email")
        .and_then(Json::as_str)
        .map(crate::model::EmailAddress::parse);
    let username = match username {
        Some(Ok(u)) => Some(u),
        Some(Err(e)) => {
            errors.add("username", e);
            None
        }
        None => {
            errors.add("username", "This field is required.");
            None
        }
    };
    let email = match email {
        Some(Ok(e)) => Some(e),
        Some(Err(e)) => {
            errors.add("email", e);
            None
        }
        None => {
            errors.add("email", "This field is required.");
            None
        }
    };
    errors.into_result()?;
    let (Some(username), Some(email)) = (username, email) else {
        return Err(Error::Internal("validated fields missing".into()));
    };
    Ok(NewIdentity { username, email })
}

/// The profile (put if absent), its username and email items (free or already the user's),
/// and a check that the account's credentials exist.
fn creation_transaction(
    user: &UserRecord,
    email: &crate::model::EmailAddress,
    now: DateTime<Utc>,
) -> Result<Transaction<CreateOp>, Error> {
    let target = user.id;
    let free_or_mine = |_: ()| {
        Condition::Or(vec![
            Condition::item_absent(),
            Condition::eq("user_id", target.0),
        ])
    };
    let unique = |key: Key| {
        let mut item = key.to_item();
        item.insert("user_id".into(), Value::Int(target.0));
        item
    };
    Ok(Transaction::new()
        .with(
            CreateOp::Profile,
            TxOp::Put {
                item: user.to_item()?,
                condition: Some(Condition::item_absent()),
            },
        )
        .with(
            CreateOp::Username,
            TxOp::Put {
                item: user.name_item(&now.to_rfc3339()),
                condition: Some(free_or_mine(())),
            },
        )
        .with(
            CreateOp::Email,
            TxOp::Put {
                item: unique(keys::unique_email(&email.key())),
                condition: Some(free_or_mine(())),
            },
        )
        .with(
            CreateOp::Credentials,
            TxOp::Check {
                key: keys::credentials(target),
                condition: Condition::item_present(),
            },
        ))
}

/// The error of a creation whose transaction failed: the field whose condition failed.
fn creation_refused(e: TxFailure<CreateOp>) -> Error {
    match e.first_failed_condition() {
        Some(CreateOp::Profile) => Error::field("user", "This user already has a profile."),
        Some(CreateOp::Username) => {
            Error::field("username", "A user with that username already exists.")
        }
        Some(CreateOp::Email) => Error::field("email", "A user with that email already exists."),
        Some(CreateOp::Credentials) => Error::field("user", "No such user."),
        None => e.into(),
    }
}

/// The operations of an admin's profile creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CreateOp {
    /// The profile, put if absent.
    Profile,
    /// The username's name item, free or already this user's.
    Username,
    /// The unique email item, free or already this user's.
    Email,
    /// The user's credentials exist.
    Credentials,
}
