//! The caller's settings (the seed's `UserSettings`): read, and validated writes. The settings'
//! `profile_visibility` and the profile's `is_private` are one switch: a change of either
//! writes both in one transaction.

use serde_json::{Map, Value as Json};

use super::validate;
use crate::App;
use crate::accounts::{SettingsRecord, UserRecord};
use crate::activity::events::{self, EventType, NewEvent};
use crate::auth::client::ClientInfo;
use crate::error::{Error, FieldErrors};
use crate::model::UserId;
use crate::retry::{Loop, Tries};
use crate::social;
use crate::store::{Condition, Transaction, TxOp, Update, Value, from_item, keys};

pub const NOTIFICATION_FREQUENCIES: [&str; 4] = ["immediate", "daily", "weekly", "never"];
pub const PROFILE_VISIBILITIES: [&str; 3] = ["public", "followers", "private"];
pub const THEMES: [&str; 3] = ["light", "dark", "system"];

const NOTIFICATION_FIELDS: [&str; 5] = [
    "email_notifications",
    "push_notifications",
    "warranty_expiry_notifications",
    "maintenance_reminder_notifications",
    "notification_frequency",
];

/// The settings of `user`, or the defaults when the item is missing (it is created at
/// registration; the first write creates it otherwise). One consistent read.
pub async fn get_settings(app: &App, user: UserId) -> Result<(SettingsRecord, bool), Error> {
    match app.table.get(&keys::settings(user), true).await? {
        Some(item) => Ok((from_item(&item)?, true)),
        None => Ok((SettingsRecord::defaults(user, app.clock.now()), false)),
    }
}

/// `PUT`/`PATCH /api/settings/`: validates every field (an invalid value names the field and
/// the allowed values), then writes the item conditionally on the version that was read, with
/// the profile's `is_private` (when the visibility's meaning changes) and the change's event in
/// the same transaction.
pub async fn update_settings(
    app: &App,
    caller: &UserRecord,
    changes: &Map<String, Json>,
    client: &ClientInfo,
) -> Result<SettingsRecord, Error> {
    let mut tries = Tries::new(Loop::SETTINGS);
    loop {
        let (current, exists) = get_settings(app, caller.id).await?;
        let mut next = current.clone();
        apply_changes(&mut next, changes)?;
        next.updated_at = app.clock.now();
        let condition = if exists {
            Condition::eq("updated_at", Value::from(current.updated_at))
        } else {
            Condition::item_absent()
        };
        let private = next.profile_visibility != "public";
        let mut tx = Transaction::new().with(
            SettingsOp::Settings,
            TxOp::Put {
                item: next.to_item()?,
                condition: Some(condition),
            },
        );
        let visibility_changed = private != caller.is_private;
        // The profile takes part in every write: its `is_private` follows the visibility, and
        // a write racing the account's erasure must not leave an orphaned settings item.
        let mut profile_update = Update::new();
        if visibility_changed {
            profile_update = profile_update
                .set("is_private", private)
                .set("updated_at", Value::from(next.updated_at));
        }
        let profile_op = if visibility_changed {
            TxOp::Update {
                key: keys::user(caller.id),
                update: profile_update,
                condition: Some(super::profile::writable_profile()),
            }
        } else {
            TxOp::Check {
                key: keys::user(caller.id),
                condition: super::profile::writable_profile(),
            }
        };
        tx.push(SettingsOp::Profile, profile_op);
        // The settings event is written in the same transaction: no round trip of its own.
        tx.push(
            SettingsOp::Event,
            events::event_put(app, change_event(caller.id, changes, client)).await?,
        );
        match tx.commit(app.table.as_ref()).await {
            Ok(()) => {
                if visibility_changed && !private {
                    social::approve_pending_requests(app, caller.id).await?;
                }
                return Ok(next);
            }
            // Another write of the settings got in between: read again and retry, and after
            // `Loop::SETTINGS`' tries answer 409.
            Err(e) if e.first_failed_condition() == Some(SettingsOp::Settings) => {
                tries.retry().await?;
            }
            // The profile is gone or being erased.
            Err(e) if e.first_failed_condition() == Some(SettingsOp::Profile) => {
                return Err(Error::NotFound);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The operations of a settings write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SettingsOp {
    /// The settings item, at the version read (or absent).
    Settings,
    /// The profile: writable, and its `is_private` when the visibility's meaning changes.
    Profile,
    /// The change's user event.
    Event,
}

/// The event a settings change logs (in the change's own transaction).
fn change_event(user: UserId, changes: &Map<String, Json>, client: &ClientInfo) -> NewEvent {
    let only_notifications = changes
        .keys()
        .all(|k| NOTIFICATION_FIELDS.contains(&k.as_str()));
    let event_type = if only_notifications && !changes.is_empty() {
        EventType::NotificationSettingsChange
    } else {
        EventType::SettingsUpdate
    };
    let mut fields: Vec<&String> = changes.keys().collect();
    fields.sort();
    NewEvent::new(event_type, Some(user))
        .client(client)
        .metadata(serde_json::json!({ "fields": fields }))
}

/// Applies and validates every field; all errors at once.
fn apply_changes(settings: &mut SettingsRecord, changes: &Map<String, Json>) -> Result<(), Error> {
    let mut errors = FieldErrors::new();
    for (field, value) in changes {
        let result = match field.as_str() {
            "email_notifications" => {
                validate::boolean(value).map(|v| settings.email_notifications = v)
            }
            "push_notifications" => {
                validate::boolean(value).map(|v| settings.push_notifications = v)
            }
            "warranty_expiry_notifications" => {
                validate::boolean(value).map(|v| settings.warranty_expiry_notifications = v)
            }
            "maintenance_reminder_notifications" => {
                validate::boolean(value).map(|v| settings.maintenance_reminder_notifications = v)
            }
            "mature_content" => validate::boolean(value).map(|v| settings.mature_content = v),
            "auto_play_videos" => validate::boolean(value).map(|v| settings.auto_play_videos = v),
            "notification_frequency" => validate::choice(value, &NOTIFICATION_FREQUENCIES)
                .map(|v| settings.notification_frequency = v),
            "profile_visibility" => validate::choice(value, &PROFILE_VISIBILITIES)
                .map(|v| settings.profile_visibility = v),
            "theme" => validate::choice(value, &THEMES).map(|v| settings.theme = v),
            "language" => validate::language(value).map(|v| settings.language = v),
            "timezone" => validate::timezone(value).map(|v| settings.timezone = v),
            // Read-only, ignored as DRF does: a client sends back what it read.
            "user_id" | "created_at" | "updated_at" => Ok(()),
            _ => Err("Unknown field.".to_owned()),
        };
        if let Err(message) = result {
            errors.add(field, message);
        }
    }
    errors.into_result()
}
