//! Proving it is still the account's owner before a sensitive change: the current password
//! again, and never an API token. Password changes, email changes, erasure and the factor
//! changes of `auth::mfa` all ask here, so none of them depends on another.

use crate::App;
use crate::accounts::get_credentials;
use crate::accounts::registration::required;
use crate::activity::events::{EventType, NewEvent, Severity, log_event_best_effort};
use crate::auth::client::ClientInfo;
use crate::auth::{Principal, limits, passwords};
use crate::error::{Error, FieldErrors};

/// Django's message for a wrong current password.
pub const WRONG_CURRENT_PASSWORD: &str =
    "Your old password was entered incorrectly. Please enter it again.";

/// The answer to an API token asking for what only its owner, signed in, may do.
pub const API_TOKEN_NOT_ENOUGH: &str = "API tokens cannot change the email address or the password, or erase an account; sign in instead.";

/// Refuses API tokens: a leaked key must not be able to take the account over.
pub fn refuse_api_token(principal: &Principal) -> Result<(), Error> {
    if principal.method == crate::auth::AuthMethod::ApiToken {
        return Err(Error::Forbidden(API_TOKEN_NOT_ENOUGH.into()));
    }
    Ok(())
}

/// A sensitive change by the account's owner (email, erasure) proves the current password
/// again: signed in is not enough, since a session or token may be all an attacker has. A
/// wrong password is a 400 on `current_password` and counts as a failed login.
pub async fn confirm_current_password(
    app: &App,
    principal: &Principal,
    password: Option<&str>,
    client: &ClientInfo,
) -> Result<(), Error> {
    refuse_api_token(principal)?;
    let mut errors = FieldErrors::new();
    let password = required(&mut errors, "current_password", password);
    errors.into_result()?;
    let Some(password) = password else {
        return Err(Error::Internal("current_password lost its error".into()));
    };
    let user = &principal.user;
    limits::check_login_allowed(app, user.id).await?;
    let credentials = get_credentials(app, user.id)
        .await?
        .ok_or_else(|| Error::Internal(format!("user {} has no credentials", user.id)))?;
    if !passwords::verify_password(&credentials.password_hash, password)
        .await?
        .matches
    {
        limits::record_login_failure(app, user.id).await?;
        log_event_best_effort(
            app,
            NewEvent::new(EventType::LoginFailed, Some(user.id))
                .client(client)
                .severity(Severity::Medium)
                .description("a sensitive change refused: wrong current password")
                .failed("wrong current password"),
        )
        .await;
        return Err(Error::field("current_password", WRONG_CURRENT_PASSWORD));
    }
    Ok(())
}
