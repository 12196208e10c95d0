//! Roles and suspension: the one role-change path (`role_change` logged) and suspending or
//! lifting a suspension.

use serde_json::json;

use crate::App;
use crate::access::{self, Actor, may_change_role, rank};
use crate::accounts::{UserRecord, get_user_consistent};
use crate::activity::events::EventType;
use crate::activity::staff::log_staff_action;
use crate::auth::client::ClientInfo;
use crate::auth::sessions;
use crate::error::Error;
use crate::model::{Role, UserId};
use crate::store::{Condition, StoreError, Update, Value, from_item, keys};

/// The longest suspension reason, in characters.
pub const REASON_MAX_CHARS: usize = 500;

pub(super) const ADMIN_ONLY: &str = "Only administrators can change this field.";

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
