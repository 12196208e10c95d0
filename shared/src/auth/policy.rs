//! What a sensitive action needs: the step-up rule ([`require_recent_auth`]) and the
//! platform's security policy it reads, which administrators change at run time instead of by
//! redeploying. One setting so far: whether staff accounts must have a second factor.
//!
//! Rules:
//! - Sensitive actions need a second factor proved within [`STEP_UP_WINDOW_SECS`] when the
//!   account has one (a TOTP factor or a passkey), otherwise a password proved within it (or
//!   given with the request); the refusal is `Error::StepUpRequired` with what to do.
//! - Staff read it (a moderator can see why an action is refused); only administrators change
//!   it, after a recent strong authentication ([`require_recent_auth`]). A change is logged
//!   as a high-severity `admin_action` on the administrator's account, with the old and new
//!   values.
//! - Until an administrator first sets it, `MFA_REQUIRED_FOR_STAFF` gives the value: a
//!   deployment's starting point, not a second source of truth once the item exists.
//! - One item, read only by staff's sensitive actions and this setting's own routes: no key
//!   that every user's traffic reaches.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::Principal;
use super::client::ClientInfo;
use super::factor_records::second_factors;
use crate::App;
use crate::access::{self, Actor};
use crate::activity::events::{EventType, NewEvent, Severity, log_event_best_effort};
use crate::error::Error;
use crate::model::UserId;
use crate::store::{Item, Value, keys};

/// The policy as it applies now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecurityPolicy {
    /// Moderators, administrators and owners must enrol a second factor before any sensitive
    /// action (`mfa_enrolment_required` until they do).
    pub mfa_required_for_staff: bool,
    /// When an administrator last changed it (`null`: the deployment's default applies).
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<UserId>,
}

/// A change to the policy: the fields given are set.
#[derive(Clone, Copy, Debug, Default)]
pub struct PolicyChange {
    pub mfa_required_for_staff: Option<bool>,
}

fn from_item(app: &App, item: Option<&Item>) -> SecurityPolicy {
    let default = app.config.auth.mfa_required_for_staff;
    let Some(item) = item else {
        return SecurityPolicy {
            mfa_required_for_staff: default,
            updated_at: None,
            updated_by: None,
        };
    };
    SecurityPolicy {
        mfa_required_for_staff: item
            .get("mfa_required_for_staff")
            .and_then(Value::as_bool)
            .unwrap_or(default),
        updated_at: item
            .get("updated_at")
            .and_then(Value::as_str)
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            .map(|at| at.with_timezone(&Utc)),
        updated_by: item.get("updated_by").and_then(Value::as_i64).map(UserId),
    }
}

/// The policy in force (a strongly consistent read: a change applies to the next request).
pub async fn current(app: &App) -> Result<SecurityPolicy, Error> {
    let item = app.table.get(&keys::security_policy(), true).await?;
    Ok(from_item(app, item.as_ref()))
}

/// The policy, for staff.
pub async fn read(app: &App, principal: &Principal) -> Result<SecurityPolicy, Error> {
    let actor = Actor::of(&principal.user);
    // Non-staff are not told the setting exists.
    if !actor.is_staff() {
        return Err(Error::NotFound);
    }
    current(app).await
}

/// An administrator changes the policy (module rules).
pub async fn update(
    app: &App,
    principal: &Principal,
    change: PolicyChange,
    client: &ClientInfo,
) -> Result<SecurityPolicy, Error> {
    let actor = Actor::of(&principal.user);
    if !actor.is_staff() {
        return Err(Error::NotFound);
    }
    access::require_admin(actor)?;
    let Some(required) = change.mfa_required_for_staff else {
        return Err(Error::field(
            "mfa_required_for_staff",
            "This field is required.",
        ));
    };
    require_recent_auth(app, principal, Sensitive::Action).await?;
    let before = current(app).await?;
    let now = app.clock.now();
    let mut item = keys::security_policy().to_item();
    item.insert("mfa_required_for_staff".into(), Value::Bool(required));
    item.insert("updated_at".into(), Value::from(now));
    item.insert("updated_by".into(), Value::Int(principal.id().0));
    // Last writer wins: the item holds one choice, and both writers are logged.
    app.table.put(item, None).await?;
    log_event_best_effort(
        app,
        NewEvent::new(EventType::AdminAction, Some(principal.id()))
            .client(client)
            .severity(Severity::High)
            .description("The platform's security policy was changed")
            .metadata(json!({
                "action": "security_policy_change",
                "mfa_required_for_staff": { "from": before.mfa_required_for_staff, "to": required },
            })),
    )
    .await;
    Ok(SecurityPolicy {
        mfa_required_for_staff: required,
        updated_at: Some(now),
        updated_by: Some(principal.id()),
    })
}

// ------------------------------------------------------------------------------- step-up

/// How recent a strong authentication must be for a sensitive action.
pub const STEP_UP_WINDOW_SECS: i64 = 10 * 60;

/// What a sensitive action asks of the caller's session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sensitive {
    /// Adding a factor: a recent second factor when the account has one, else a recent
    /// password; the staff requirement does not apply (this is how it is met).
    Enrolment,
    /// Any other sensitive action.
    Action,
    /// An action that checked the current password itself (password change, own erasure,
    /// email change): a recent second factor when the account has one.
    WithPassword,
}

fn recent(at: Option<i64>, now: i64) -> bool {
    at.is_some_and(|at| now.saturating_sub(at) <= STEP_UP_WINDOW_SECS)
}

/// Refuses a sensitive action unless the caller's session authenticated strongly enough,
/// recently enough (module rules). API tokens have no session to step up: 403.
pub async fn require_recent_auth(
    app: &App,
    principal: &Principal,
    kind: Sensitive,
) -> Result<(), Error> {
    let Some(assurance) = &principal.assurance else {
        return Err(Error::Forbidden(
            "This needs a signed-in session; API tokens cannot do it.".into(),
        ));
    };
    let now = app.clock.epoch_seconds();
    // A passkey sign-in (or any second factor) proved within the window is strong enough
    // whether or not the account has a TOTP factor.
    if recent(assurance.second_factor_at, now) && assurance.aal >= 2 {
        return Ok(());
    }
    let factors = second_factors(app, principal.id()).await?;
    if factors.any() {
        if recent(assurance.second_factor_at, now) {
            return Ok(());
        }
        return Err(Error::StepUpRequired {
            code: "step_up_required",
            detail: "Confirm it is you with a second factor (a code from your authenticator \
                     app, a passkey or a recovery code) at POST /api/auth/mfa/step-up/, then \
                     try again."
                .into(),
            methods: factors.methods(),
        });
    }
    // The policy is read only for staff without a factor: nobody else's request reaches it.
    if kind != Sensitive::Enrolment
        && principal.user.role.is_staff()
        && current(app).await?.mfa_required_for_staff
    {
        return Err(Error::StepUpRequired {
            code: "mfa_enrolment_required",
            detail: "Staff accounts need a second factor: set one up at POST \
                     /api/auth/mfa/factors/ or /api/auth/passkeys/register/begin/ first."
                .into(),
            methods: vec!["totp", "webauthn"],
        });
    }
    if kind == Sensitive::WithPassword || recent(assurance.password_at, now) {
        return Ok(());
    }
    Err(Error::StepUpRequired {
        code: "step_up_required",
        detail: "Confirm it is you with your password at POST /api/auth/mfa/step-up/, then try \
                 again."
            .into(),
        methods: vec!["password"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_up_is_recent_for_ten_minutes() {
        assert!(recent(Some(1000), 1000 + STEP_UP_WINDOW_SECS));
        assert!(!recent(Some(1000), 1001 + STEP_UP_WINDOW_SECS));
        assert!(!recent(None, 0));
    }
}
