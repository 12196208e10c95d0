//! Emailed six-digit codes (verification, password reset): stored hashed, expiring, single
//! use, at most 5 tries each.
//!
//! One item per user and purpose (`keys::emailed_code`): issuing a code replaces the earlier
//! one. The item holds `sha256(salt : user : code)` with a random per-code salt, so a leaked
//! table does not give codes away through a table of the 10^6 possible hashes.
//!
//! Every try, right or wrong, first takes one of the code's tries with a conditional ADD (the
//! code exists, is unused, unexpired and has tries left), and only then compares. So however
//! many guesses arrive at once, at most [`MAX_ATTEMPTS`] are ever compared; a right answer
//! then marks the code used, conditional on it being unused, so two concurrent right answers
//! cannot both pass. Every failure, whatever its cause, is the same field error.

use chrono::Duration;

use super::secrets;
use crate::App;
use crate::accounts::UserRecord;
use crate::error::Error;
use crate::mail::Email;
use crate::model::UserId;
use crate::store::{Condition, Item, StoreError, Update, Value, keys};

/// Digits in a code.
pub const CODE_DIGITS: u32 = 6;
/// Tries per code, the right one included: after this many wrong ones the code is dead.
pub const MAX_ATTEMPTS: i64 = 5;
/// The one answer to every failed check.
pub const INVALID_CODE: &str = "Invalid or expired code.";

const SALT: &str = "salt";
const CODE_HASH: &str = "code_hash";
const ATTEMPTS: &str = "attempts";
const USED: &str = "used";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodePurpose {
    Verify,
    Reset,
    /// Confirms a new email address; the item also holds the pending address.
    EmailChange,
}

impl CodePurpose {
    /// The purpose's name in the item's key.
    pub fn as_str(self) -> &'static str {
        match self {
            CodePurpose::Verify => "verify",
            CodePurpose::Reset => "reset",
            CodePurpose::EmailChange => "email_change",
        }
    }
}

fn code_hash(salt: &str, user: UserId, code: &str) -> String {
    secrets::sha256_hex(&format!("{salt}:{user}:{code}"))
}

fn invalid() -> Error {
    Error::field("code", INVALID_CODE)
}

/// Makes a new code (replacing any earlier one of that purpose) and mails it.
pub async fn issue_code(app: &App, user: &UserRecord, purpose: CodePurpose) -> Result<(), Error> {
    issue_code_to(app, user, purpose, &user.email, Item::new()).await
}

/// Makes a new code and mails it to `to` (a new address for [`CodePurpose::EmailChange`]);
/// `extra` attributes are stored on the code's item and come back from [`check_code_and`].
pub async fn issue_code_to(
    app: &App,
    user: &UserRecord,
    purpose: CodePurpose,
    to: &str,
    extra: Item,
) -> Result<(), Error> {
    let code = secrets::random_digits(CODE_DIGITS);
    let salt = secrets::random_token(16);
    let now = app.clock.now();
    let ttl = app.config.auth.code_ttl_secs;

    let mut item: Item = keys::emailed_code(user.id, purpose.as_str()).to_item();
    item.extend(extra);
    item.insert("user_id".into(), Value::Int(user.id.0));
    item.insert("purpose".into(), purpose.as_str().into());
    item.insert(SALT.into(), salt.as_str().into());
    item.insert(CODE_HASH.into(), code_hash(&salt, user.id, &code).into());
    item.insert(ATTEMPTS.into(), Value::Int(0));
    item.insert(USED.into(), Value::Bool(false));
    item.insert("created_at".into(), Value::S(now.to_rfc3339()));
    item.insert(
        keys::attr::EXPIRES_AT.into(),
        Value::Int((now + Duration::seconds(ttl)).timestamp()),
    );
    app.table.put(item, None).await?;
    // SES feedback marked the address: it is mailed no more (accounts/mail_feedback.rs).
    if user.email_suppressed.is_some() && to.eq_ignore_ascii_case(&user.email) {
        tracing::warn!(
            user = user.id.0,
            "code not mailed: the address is suppressed"
        );
        return Ok(());
    }

    let mut email = code_email(user, purpose, &code, ttl);
    email.to = to.to_owned();
    app.mailer
        .send(&email)
        .await
        .map_err(|e| Error::Unavailable {
            reason: e.to_string(),
            retry_after_secs: 5,
        })
}

/// Checks and consumes a code. Every failure answers the same way.
pub async fn check_code(
    app: &App,
    user: UserId,
    purpose: CodePurpose,
    code: &str,
) -> Result<(), Error> {
    check_code_and(app, user, purpose, code, || Ok(()))
        .await
        .map(drop)
}

/// Checks a code and, when it is right, asks `accept` before consuming it: an error from
/// `accept` (a new password that is refused, say) is returned and leaves the code unused, so
/// the user can correct the request without a new code. The try still counts. Returns the
/// code's item (with any attributes `issue_code_to` stored on it).
pub async fn check_code_and(
    app: &App,
    user: UserId,
    purpose: CodePurpose,
    code: &str,
    accept: impl FnOnce() -> Result<(), Error>,
) -> Result<Item, Error> {
    let code = code.trim();
    // A code of the wrong shape can match nothing; it costs no try and no store call.
    if code.len() != CODE_DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let key = keys::emailed_code(user, purpose.as_str());
    let now = app.clock.epoch_seconds();

    let live = Condition::item_present()
        .and(Condition::eq(USED, false))
        .and(Condition::Lt(ATTEMPTS.into(), Value::Int(MAX_ATTEMPTS)))
        .and(Condition::Gt(
            keys::attr::EXPIRES_AT.into(),
            Value::Int(now),
        ));
    let item = match app
        .table
        .update(&key, Update::new().add(ATTEMPTS, 1), Some(live))
        .await
    {
        Ok(item) => item,
        Err(StoreError::ConditionFailed) => return Err(invalid()),
        Err(e) => return Err(e.into()),
    };

    let salt = item.get(SALT).and_then(Value::as_str).unwrap_or_default();
    let stored = item
        .get(CODE_HASH)
        .and_then(Value::as_str)
        .unwrap_or_default();
    if stored.is_empty() || !secrets::constant_time_eq(&code_hash(salt, user, code), stored) {
        return Err(invalid());
    }
    accept()?;

    // Conditional on the same code still being unused: a concurrent right answer, or a new
    // code issued in between, makes this one fail.
    let unused = Condition::item_present()
        .and(Condition::eq(USED, false))
        .and(Condition::eq(CODE_HASH, stored));
    let used = Update::new()
        .set(USED, true)
        .set("used_at", Value::Int(now));
    match app.table.update(&key, used, Some(unused)).await {
        Ok(item) => Ok(item),
        Err(StoreError::ConditionFailed) => Err(invalid()),
        Err(e) => Err(e.into()),
    }
}

/// Escapes text for an HTML body.
pub(crate) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// "15 minutes", "1 hour", "90 seconds": the code's lifetime in words.
fn lifetime(ttl_secs: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if ttl_secs % 3600 == 0 {
        plural(ttl_secs / 3600, "hour")
    } else if ttl_secs % 60 == 0 {
        plural(ttl_secs / 60, "minute")
    } else {
        plural(ttl_secs, "second")
    }
}

/// The message that carries a code, in text and HTML. The code is the only run of six digits
/// in the text part, so a person (or a test) finds it at a glance.
fn code_email(user: &UserRecord, purpose: CodePurpose, code: &str, ttl_secs: i64) -> Email {
    let name = user.display_name();
    let lifetime = lifetime(ttl_secs);
    let (subject, intro, closing) = match purpose {
        CodePurpose::Verify => (
            "Verify your email address",
            "Use this code to verify your email address:",
            "If you did not create an account, you can ignore this message.",
        ),
        CodePurpose::Reset => (
            "Reset your password",
            "Use this code to choose a new password:",
            "If you did not ask to reset your password, ignore this message: your password stays as it is.",
        ),
        CodePurpose::EmailChange => (
            "Confirm your new email address",
            "Use this code to make this address your account's email address:",
            "If you did not ask for this change, ignore this message: nothing changes without the code.",
        ),
    };
    let text = format!(
        "Hello {name},\n\n{intro}\n\n    {code}\n\nThe code expires in {lifetime} and works once.\n\n{closing}\n"
    );
    let html = format!(
        "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n\
         <p>Hello {name},</p>\n<p>{intro}</p>\n\
         <p style=\"font-size: 28px; font-weight: bold; letter-spacing: 4px\">{code}</p>\n\
         <p>The code expires in {lifetime} and works once.</p>\n<p>{closing}</p>\n\
         </body></html>\n",
        name = html_escape(&name),
    );
    Email {
        to: user.email.clone(),
        subject: subject.into(),
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_bind_salt_user_and_code() {
        let h = code_hash("s", UserId(1), "123456");
        assert_eq!(h.len(), 64);
        assert_ne!(h, code_hash("t", UserId(1), "123456"));
        assert_ne!(h, code_hash("s", UserId(2), "123456"));
        assert_ne!(h, code_hash("s", UserId(1), "123457"));
        assert_ne!(h, secrets::sha256_hex("123456"));
    }

    #[test]
    fn the_mail_carries_the_code_once_and_escapes_names() {
        let mut user = UserRecord::new(
            UserId(7),
            "jane".into(),
            "jane@example.com".into(),
            chrono::Utc::now(),
        );
        user.first_name = "<Jane>".into();
        let mail = code_email(&user, CodePurpose::Verify, "042917", 900);
        assert_eq!(mail.to, "jane@example.com");
        let runs: Vec<&str> = mail
            .text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|r| r.len() == 6)
            .collect();
        assert_eq!(runs, ["042917"]);
        assert!(mail.text.contains("15 minutes"));
        assert!(mail.html.contains("042917") && mail.html.contains("&lt;Jane&gt;"));
        assert!(!mail.html.contains("<Jane>"));
        let reset = code_email(&user, CodePurpose::Reset, "000001", 3600);
        assert!(reset.subject.contains("password") && reset.text.contains("1 hour"));
    }
}
