//! Password change (knowing the current one) and reset (with an emailed code).
//!
//! Both store the new Argon2id hash and touch the profile's `updated_at` (the seed's signal) in
//! one transaction, then end sessions: a change ends every other session (and so the access
//! and refresh tokens bound to them), a reset ends them all.

use serde_json::json;

use crate::App;
use crate::accounts::registration::{address_subject, email_field, required};
use crate::accounts::user_by_email;
use crate::accounts::{UserRecord, get_credentials};
use crate::activity::events::{EventType, NewEvent, Severity, log_event_best_effort};
use crate::auth::Principal;
use crate::auth::client::ClientInfo;
use crate::auth::codes::{self, CodePurpose};
use crate::auth::limits::{self, Limit};
use crate::auth::reauth::{WRONG_CURRENT_PASSWORD, refuse_api_token};
use crate::auth::{api_tokens, passwords, sessions};
use crate::error::{Error, FieldErrors};
use crate::model::password_problems;
use crate::store::{Condition, Transaction, TxOp, Update, Value, keys};

/// The attributes a user's password must not resemble.
fn attributes(user: &UserRecord) -> [(&'static str, &str); 4] {
    [
        ("username", user.username.as_str()),
        ("email address", user.email.as_str()),
        ("first name", user.first_name.as_str()),
        ("last name", user.last_name.as_str()),
    ]
}

/// Stores a new hash and stamps the profile, in one transaction. The credentials update is
/// conditional on the hash being the one the caller checked, so of two concurrent changes
/// only one wins; `Ok(false)` is the loser.
async fn store_password(
    app: &App,
    user: &UserRecord,
    old_hash: &str,
    new_hash: String,
) -> Result<bool, Error> {
    let now = app.clock.now();
    let stamp = Value::from(now);
    let tx = Transaction::new()
        .with(
            PasswordOp::Credentials,
            TxOp::Update {
                key: keys::credentials(user.id),
                update: Update::new()
                    .set("password_hash", new_hash)
                    .set("password_changed_at", stamp.clone()),
                condition: Some(
                    Condition::item_present().and(Condition::eq("password_hash", old_hash)),
                ),
            },
        )
        .with(
            PasswordOp::Profile,
            TxOp::Update {
                key: keys::user(user.id),
                update: Update::new().set("updated_at", stamp),
                condition: Some(Condition::item_present()),
            },
        );
    match tx.commit(app.table.as_ref()).await {
        Ok(()) => Ok(true),
        // The password changed meanwhile, or the account is gone.
        Err(e) if e.any_condition_failed() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The operations of a password change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PasswordOp {
    /// The credentials, still with the hash the current password was checked against.
    Credentials,
    /// The profile's `updated_at`.
    Profile,
}

/// What a password change or reset ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CredentialsEnded {
    /// Sessions ended, and with them the access and refresh tokens bound to them.
    pub sessions: u32,
    pub api_tokens: u32,
}

/// Changes the caller's password. A wrong current password is a 400 on `current_password` and
/// counts as a failed login (the same throttling applies: guessing it is guessing the
/// password). Every other session (with its refresh token) ends; the API tokens too when the
/// owner asks (`revoke_api_tokens`).
pub async fn change_password(
    app: &App,
    principal: &Principal,
    current: Option<&str>,
    new: Option<&str>,
    revoke_api_tokens: bool,
    client: &ClientInfo,
) -> Result<CredentialsEnded, Error> {
    refuse_api_token(principal)?;
    let mut errors = FieldErrors::new();
    let current = required(&mut errors, "current_password", current);
    let new = required(&mut errors, "new_password", new);
    let user = &principal.user;
    if let Some(new) = new {
        for problem in password_problems(new, &attributes(user)) {
            errors.add("new_password", problem);
        }
    }
    errors.into_result()?;
    let (Some(current), Some(new)) = (current, new) else {
        return Err(Error::Internal(
            "password change validation lost an error".into(),
        ));
    };

    limits::check_login_allowed(app, user.id).await?;
    let credentials = get_credentials(app, user.id)
        .await?
        .ok_or_else(|| Error::Internal(format!("user {} has no credentials", user.id)))?;
    let check = passwords::verify_password(&credentials.password_hash, current).await?;
    if !check.matches {
        limits::record_login_failure(app, user.id).await?;
        log_event_best_effort(
            app,
            NewEvent::new(EventType::PasswordChange, Some(user.id))
                .client(client)
                .severity(Severity::Medium)
                .description("password change refused: wrong current password")
                .failed("wrong current password"),
        )
        .await;
        return Err(Error::field("current_password", WRONG_CURRENT_PASSWORD));
    }
    crate::auth::mfa::require_recent_auth(
        app,
        principal,
        crate::auth::mfa::Sensitive::WithPassword,
    )
    .await?;

    let new_hash = passwords::hash_password(new).await?;
    if !store_password(app, user, &credentials.password_hash, new_hash).await? {
        // Another change landed since the check: the password checked is no longer current.
        return Err(Error::field("current_password", WRONG_CURRENT_PASSWORD));
    }
    let ended = CredentialsEnded {
        sessions: sessions::end_other_sessions(app, user.id, principal.session_id.as_deref())
            .await?,
        api_tokens: if revoke_api_tokens {
            api_tokens::delete_all(app, user.id).await?
        } else {
            0
        },
    };

    let mut event = NewEvent::new(EventType::PasswordChange, Some(user.id))
        .client(client)
        .description("password changed")
        .metadata(json!({
            "other_sessions_ended": ended.sessions,
            "api_tokens_revoked": ended.api_tokens,
        }));
    if let Some(sid) = principal.session_id.as_deref() {
        event = event.session(sid);
    }
    log_event_best_effort(app, event).await;
    Ok(ended)
}

/// Mails a reset code to the account of `email`. The answer is the same whether or not the
/// address has an account, and so is its time: the lookup and the mail happen after it
/// (`code_mail.rs`); the limit (`PasswordResetPerAccount`) is counted per address for every
/// address, so a 429 reveals nothing either.
pub async fn request_password_reset(
    app: &App,
    email: Option<&str>,
    client: &ClientInfo,
) -> Result<(), Error> {
    let mut errors = FieldErrors::new();
    let email = email_field(&mut errors, email);
    errors.into_result()?;
    let Some(email) = email else {
        return Err(Error::Internal("reset validation lost an error".into()));
    };
    limits::hit(
        app,
        Limit::PasswordResetPerAccount,
        &address_subject(&email),
    )
    .await?;

    // The lookup, the code and the mail happen after the answer, for every address alike.
    crate::accounts::code_mail::request(
        app,
        crate::accounts::code_mail::CodeMail::Reset,
        &email,
        client,
    )
    .await?;
    Ok(())
}

/// Sets a new password with an emailed reset code, then ends every session, refresh token and
/// API token of the account: whoever knew the old password may have made any of them.
/// Unknown addresses and bad codes get the same error on `code`. The new password is checked
/// before the code is consumed, so a refused password leaves the code usable.
pub async fn confirm_password_reset(
    app: &App,
    email: Option<&str>,
    code: Option<&str>,
    new_password: Option<&str>,
    client: &ClientInfo,
) -> Result<CredentialsEnded, Error> {
    let mut errors = FieldErrors::new();
    let email = email_field(&mut errors, email);
    let code = required(&mut errors, "code", code);
    let new = required(&mut errors, "new_password", new_password);
    // What can be said without knowing the account, said the same for every address.
    if let (Some(new), Some(email)) = (new, email.as_ref()) {
        for problem in password_problems(new, &[("email address", email.as_str())]) {
            errors.add("new_password", problem);
        }
    }
    errors.into_result()?;
    let (Some(email), Some(code), Some(new)) = (email, code, new) else {
        return Err(Error::Internal("reset validation lost an error".into()));
    };

    let Some(user) = user_by_email(app, &email).await? else {
        return Err(Error::field("code", codes::INVALID_CODE));
    };
    // Resemblance to the account's own names is only told to someone holding the right code.
    let similar = || {
        let problems = password_problems(new, &attributes(&user));
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(FieldErrors(
                std::iter::once(("new_password".to_owned(), problems)).collect(),
            )))
        }
    };
    if let Err(e) = codes::check_code_and(app, user.id, CodePurpose::Reset, code, similar).await {
        if matches!(&e, Error::Invalid(fields) if fields.0.contains_key("code")) {
            log_event_best_effort(
                app,
                NewEvent::new(EventType::PasswordReset, Some(user.id))
                    .client(client)
                    .severity(Severity::Medium)
                    .description("password reset refused: invalid code")
                    .failed("invalid code"),
            )
            .await;
        }
        return Err(e);
    }

    let credentials = get_credentials(app, user.id)
        .await?
        .ok_or_else(|| Error::Internal(format!("user {} has no credentials", user.id)))?;
    let new_hash = passwords::hash_password(new).await?;
    if !store_password(app, &user, &credentials.password_hash, new_hash).await? {
        return Err(Error::Unavailable {
            reason: "the password changed during the reset".into(),
            retry_after_secs: 1,
        });
    }
    let ended = CredentialsEnded {
        sessions: sessions::end_other_sessions(app, user.id, None).await?,
        api_tokens: api_tokens::delete_all(app, user.id).await?,
    };
    // The code proved control of the mailbox: earlier failed logins no longer count.
    if let Err(e) = limits::clear_login_failures(app, user.id).await {
        tracing::warn!(error = %e, "login failures not cleared after a reset");
    }
    log_event_best_effort(
        app,
        NewEvent::new(EventType::PasswordReset, Some(user.id))
            .client(client)
            .severity(Severity::Medium)
            .description("password reset with an emailed code")
            .metadata(json!({
                "sessions_ended": ended.sessions,
                "api_tokens_revoked": ended.api_tokens,
            })),
    )
    .await;
    Ok(ended)
}
