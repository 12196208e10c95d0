//! Rate limits and login throttling, as store items with TTL so they hold across Lambda
//! instances.
//!
//! A limit is a fixed window: one item per (rule, subject, window start), counted by one
//! conditional `ADD`, so concurrent instances can never let more than `max` hits through. The
//! item expires shortly after its window ends. Login throttling is a per-account failure
//! counter with exponential backoff after [`LOCKOUT_THRESHOLD`] failures.

use crate::App;
use crate::activity::events::{EventType, NewEvent, Severity, log_event_best_effort};
use crate::auth::secrets::sha256_hex;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{Condition, Key, StoreError, Update, Value, is_expired, keys};

/// The fixed-window limits of the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// One code per 60 s per account.
    ResendCodeMinute,
    /// Five codes per hour per account.
    ResendCodeHour,
    /// Five registrations per 30 min per IP.
    RegisterPerIp,
    /// Failed logins per IP across every name: 300 per 15 min, a ceiling for spraying that
    /// leaves the people behind one address (a campus, a carrier NAT) alone.
    LoginPerIp,
    /// Failed logins per IP and submitted name: 10 per 15 min.
    LoginPerIpAndName,
    /// Password reset requests per account: 3 per hour.
    PasswordResetPerAccount,
}

/// What a [`Limit`] allows: `max` hits per fixed window of `window_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The name in the store key; stable, never reused for another rule.
    pub scope: &'static str,
    pub max: i64,
    pub window_secs: i64,
}

impl Limit {
    pub const ALL: [Limit; 6] = [
        Limit::ResendCodeMinute,
        Limit::ResendCodeHour,
        Limit::RegisterPerIp,
        Limit::LoginPerIp,
        Limit::LoginPerIpAndName,
        Limit::PasswordResetPerAccount,
    ];

    pub fn rule(self) -> Rule {
        let (scope, max, window_secs) = match self {
            Limit::ResendCodeMinute => ("resend-min", 1, 60),
            Limit::ResendCodeHour => ("resend-hour", 5, 3600),
            Limit::RegisterPerIp => ("register-ip", 5, 1800),
            // A new scope name: windows counted under the old 30-per-address rule do not carry over.
            Limit::LoginPerIp => ("login-ip-all", 300, 900),
            Limit::LoginPerIpAndName => ("login-ip-name", 10, 900),
            Limit::PasswordResetPerAccount => ("reset-account", 3, 3600),
        };
        Rule {
            scope,
            max,
            window_secs,
        }
    }
}

/// A window item outlives its window by this much, so a clock slightly behind another
/// instance's still finds it.
const WINDOW_SLACK_SECS: i64 = 60;

/// The failure count at which an account starts to wait between tries.
pub const LOCKOUT_THRESHOLD: i64 = 5;
/// The longest wait between tries of a locked account.
pub const MAX_LOCKOUT_SECS: i64 = 15 * 60;
/// Failures are forgotten this long after the last one.
pub const LOGIN_FAILURE_TTL_SECS: i64 = 24 * 3600;

const COUNT: &str = "count";
const FAILURES: &str = "failures";
const LAST_FAILURE: &str = "last_failure_epoch";

/// The window containing `now`: its start and its end (exclusive), epoch seconds.
fn window_bounds(rule: Rule, now: i64) -> (i64, i64) {
    let start = now - now.rem_euclid(rule.window_secs);
    (start, start + rule.window_secs)
}

/// The store key of a window. Subjects are client-controlled text (IPs, ids, addresses): only
/// their hash goes into the key, which keeps it free of separators and of personal data.
fn window_key(rule: Rule, subject: &str, window_start: i64) -> Key {
    keys::rate_window(rule.scope, &sha256_hex(subject)[..32], window_start)
}

/// The rule with its allowance multiplied by `RATE_LIMIT_SCALE` (1 unless a local run raised
/// it); the store key stays the rule's, so the scale only changes how many hits fit.
fn scaled(app: &App, limit: Limit) -> Rule {
    let rule = limit.rule();
    Rule {
        max: rule
            .max
            .saturating_mul(app.config.auth.rate_limit_scale.max(1)),
        ..rule
    }
}

fn limited(until: i64, now: i64) -> Error {
    Error::RateLimited {
        retry_after_secs: (until - now).max(1) as u64,
    }
}

/// Counts one hit of `limit` for `subject`; `Err(Error::RateLimited)` with the seconds to wait
/// when the window is full (the refused hit is not counted).
pub async fn hit(app: &App, limit: Limit, subject: &str) -> Result<(), Error> {
    let rule = scaled(app, limit);
    let now = app.clock.epoch_seconds();
    let (start, end) = window_bounds(rule, now);
    let update = Update::new()
        .add(COUNT, 1)
        .set_if_missing(keys::attr::EXPIRES_AT, end + WINDOW_SLACK_SECS);
    // A missing count is a fresh window: DynamoDB's `<` is false on a missing attribute.
    let room = Condition::Or(vec![
        Condition::NotExists(COUNT.into()),
        Condition::Lt(COUNT.into(), Value::Int(rule.max)),
    ]);
    match app
        .table
        .update(&window_key(rule, subject, start), update, Some(room))
        .await
    {
        Ok(_) => Ok(()),
        Err(StoreError::ConditionFailed) => Err(limited(end, now)),
        Err(e) => Err(e.into()),
    }
}

/// Whether `subject` could hit `limit` now, without counting a hit. For limits counted on
/// failures only (`LoginPerIp`): check before the attempt, [`hit`] when it fails.
pub async fn check(app: &App, limit: Limit, subject: &str) -> Result<(), Error> {
    let rule = scaled(app, limit);
    let now = app.clock.epoch_seconds();
    let (start, end) = window_bounds(rule, now);
    let item = app
        .table
        .get(&window_key(rule, subject, start), true)
        .await?;
    let count = item
        .as_ref()
        .and_then(|i| i.get(COUNT))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if count >= rule.max {
        Err(limited(end, now))
    } else {
        Ok(())
    }
}

/// The wait after the last failure once an account has `failures` of them.
pub fn lockout_secs(failures: i64) -> i64 {
    if failures < LOCKOUT_THRESHOLD {
        return 0;
    }
    // 2^10 already exceeds the cap; clamping the exponent keeps the shift in range.
    let exponent = (failures - LOCKOUT_THRESHOLD).min(10) as u32;
    (1i64 << exponent).min(MAX_LOCKOUT_SECS)
}

/// Whether the account may try a login now: after 5 failures it waits 2^(n-5) s (≤ 15 min).
/// On `Ok`, the failures recorded so far (0 when none), so that a successful login clears the
/// counter only when there is one to clear.
pub async fn check_login_allowed(app: &App, user: UserId) -> Result<i64, Error> {
    check_lock(app, &LockSubject::Account(user)).await
}

/// Whose failures a lockout counts: an account, or a submitted name that names none (counted
/// alike, so a lockout tells nobody whether the name exists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockSubject {
    Account(UserId),
    /// The normalised identifier (lower-case username or address) as submitted.
    UnknownName(String),
    /// Wrong second-factor codes of an account (sign-in, step-up, enrolment): the same
    /// backoff as passwords, counted apart so that a code guesser does not lock out the
    /// password and a password guesser does not lock out the codes.
    SecondFactor(UserId),
}

impl LockSubject {
    fn key(&self) -> Key {
        match self {
            LockSubject::Account(user) => keys::login_failures(*user),
            LockSubject::SecondFactor(user) => keys::mfa_failures(*user),
            LockSubject::UnknownName(name) => {
                keys::unknown_login_failures(&sha256_hex(&format!("login-name:{name}"))[..32])
            }
        }
    }
}

/// [`check_login_allowed`] for any [`LockSubject`].
pub async fn check_lock(app: &App, subject: &LockSubject) -> Result<i64, Error> {
    let now = app.clock.epoch_seconds();
    let Some(item) = app.table.get(&subject.key(), true).await? else {
        return Ok(0);
    };
    let failures = item.get(FAILURES).and_then(Value::as_i64).unwrap_or(0);
    let last = item.get(LAST_FAILURE).and_then(Value::as_i64).unwrap_or(0);
    let allowed_at = last + lockout_secs(failures);
    if now < allowed_at {
        Err(limited(allowed_at, now))
    } else {
        Ok(failures)
    }
}

/// Counts a failed login of the account. When the count reaches the lockout threshold, an
/// `account_locked` event is logged — once: only one ADD can return exactly the threshold.
pub async fn record_login_failure(app: &App, user: UserId) -> Result<(), Error> {
    record_failure(app, &LockSubject::Account(user)).await
}

/// [`record_login_failure`] for any [`LockSubject`] (the `account_locked` event is an
/// account's only).
pub async fn record_failure(app: &App, subject: &LockSubject) -> Result<(), Error> {
    let failures = add_failure(app, &subject.key()).await?;
    if let LockSubject::Account(user) = *subject
        && failures == LOCKOUT_THRESHOLD
    {
        crate::metrics::emit(crate::metrics::Metric::Lockout);
        let event = NewEvent::new(EventType::AccountLocked, Some(user))
            .severity(Severity::Medium)
            .description(format!(
                "{LOCKOUT_THRESHOLD} failed logins: further tries are throttled"
            ))
            .metadata(serde_json::json!({ "failures": failures }));
        log_event_best_effort(app, event).await;
    }
    Ok(())
}

/// Adds one failure and returns the new count. The counter's TTL slides with each failure.
///
/// Conditions see items that expired but were not yet removed, so an expired counter must be
/// restarted rather than added to; two tries settle any race with a concurrent restart.
async fn add_failure(app: &App, key: &Key) -> Result<i64, Error> {
    let now = app.clock.epoch_seconds();
    let expires_at = now + LOGIN_FAILURE_TTL_SECS;
    let live = Condition::Or(vec![
        Condition::NotExists(keys::attr::EXPIRES_AT.into()),
        Condition::Gt(keys::attr::EXPIRES_AT.into(), Value::Int(now)),
    ]);
    for _ in 0..3 {
        let add = Update::new()
            .add(FAILURES, 1)
            .set(LAST_FAILURE, now)
            .set(keys::attr::EXPIRES_AT, expires_at);
        match app.table.update(key, add, Some(live.clone())).await {
            Ok(item) => return Ok(item.get(FAILURES).and_then(Value::as_i64).unwrap_or(1)),
            Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
        let restart = Update::new()
            .set(FAILURES, 1)
            .set(LAST_FAILURE, now)
            .set(keys::attr::EXPIRES_AT, expires_at);
        let expired = Condition::Le(keys::attr::EXPIRES_AT.into(), Value::Int(now));
        match app.table.update(key, restart, Some(expired)).await {
            Ok(_) => return Ok(1),
            // Another instance restarted it first: add to theirs.
            Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Unavailable {
        reason: "the login failure counter kept changing".into(),
        retry_after_secs: 1,
    })
}

/// Forgets the failures of any [`LockSubject`].
pub async fn clear_failures(app: &App, subject: &LockSubject) -> Result<(), Error> {
    app.table.delete(&subject.key(), None).await?;
    Ok(())
}

/// Forgets the account's failures (after a successful login or a password reset).
pub async fn clear_login_failures(app: &App, user: UserId) -> Result<(), Error> {
    app.table.delete(&keys::login_failures(user), None).await?;
    Ok(())
}

/// The account's current failure count (0 when none, or when the counter expired).
pub async fn login_failures(app: &App, user: UserId) -> Result<i64, Error> {
    let now = app.clock.epoch_seconds();
    let item = app.table.get(&keys::login_failures(user), true).await?;
    Ok(item
        .filter(|i| !is_expired(i, now))
        .and_then(|i| i.get(FAILURES).and_then(Value::as_i64))
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_doubles_from_one_second_and_stops_at_fifteen_minutes() {
        assert_eq!(lockout_secs(0), 0);
        assert_eq!(lockout_secs(4), 0);
        assert_eq!(lockout_secs(5), 1);
        assert_eq!(lockout_secs(6), 2);
        assert_eq!(lockout_secs(7), 4);
        assert_eq!(lockout_secs(14), 512);
        assert_eq!(lockout_secs(15), 900);
        assert_eq!(lockout_secs(i64::MAX), 900);
    }

    #[test]
    fn windows_are_aligned_and_contain_now() {
        let rule = Limit::RegisterPerIp.rule();
        assert_eq!(window_bounds(rule, 3600), (3600, 5400));
        assert_eq!(window_bounds(rule, 5399), (3600, 5400));
        assert_eq!(window_bounds(rule, 5400), (5400, 7200));
    }

    #[test]
    fn subjects_are_hashed_into_distinct_keys() {
        let rule = Limit::LoginPerIp.rule();
        let a = window_key(rule, "10.0.0.1#x", 0);
        let b = window_key(rule, "10.0.0.1", 0);
        assert_ne!(a, b);
        assert!(!a.pk.contains("10.0.0.1"));
        let scopes: std::collections::HashSet<_> =
            Limit::ALL.iter().map(|l| l.rule().scope).collect();
        assert_eq!(scopes.len(), Limit::ALL.len());
    }
}
