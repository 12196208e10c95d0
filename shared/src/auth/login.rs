//! Password login shared by session login, JWT login and `POST /api/sessions/`.
//!
//! Order of checks, each for a reason:
//! 1. bot signals (honeypot, user agent): 400 and a `bot_detected` event, before any lookup;
//! 2. the failure limits per address and name (`LoginPerIpAndName`, 10 / 15 min) and per
//!    address across names (`LoginPerIp`, 300 / 15 min, for spraying), before any password work;
//! 3. the account: an unknown identifier has a lockout of its own (counted per submitted name),
//!    spends the time of a verification and answers exactly like a wrong password (no
//!    enumeration, by the answer or by the lockout);
//! 4. the account's lockout (`check_login_allowed`: 2^(n-5) s after 5 failures), before
//!    verifying, so a locked account cannot be probed;
//! 5. the password (Argon2id); a failure counts for the account and for the IP;
//! 6. only after the password: suspension (403 with the reason; its sessions end), so the reason
//!    is shown only to someone who knows the password;
//! 7. success: the failure counter is cleared, an outdated hash is rehashed, a session starts;
//!    or, for an account with an active second factor, a pending sign-in (`auth/mfa.rs`) and
//!    no session until the second step. Unverified accounts log in; endpoints restrict them.
//!
//! Four sequential store round trips on the way (docs/benchmarks.md, "Round trips per
//! request"): the windows with the name's unique item; the profile with its lockout counter,
//! credentials and second factors; the session's write with the new-device check; the event with the login day.

use serde_json::json;

use super::AuthMethod;
use super::bot_check::refuse_bots;
use super::client::ClientInfo;
use super::limits::{self, Limit, LockSubject};
use super::sessions::{self, StartedSession};
use super::{mfa, passwords};
use crate::App;
use crate::access::suspended_detail;
use crate::accounts::{self, UserRecord};
use crate::activity::events::{EventType, NewEvent, Severity, log_event_best_effort};
use crate::error::Error;
use crate::model::{EmailAddress, UserId, Username};
use crate::store::{Condition, StoreError, Update, keys};

pub const INVALID_CREDENTIALS: &str = "Invalid credentials.";
pub use super::bot_check::BOT_REJECTED;

/// What a login form sends.
#[derive(Clone)]
pub struct LoginInput {
    /// A username or an email address (anything with `@` is taken as an email address).
    pub identifier: String,
    pub password: String,
    /// The hidden honeypot field as sent (`None` when absent).
    pub honeypot: Option<String>,
}

impl std::fmt::Debug for LoginInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginInput")
            .field("identifier", &self.identifier)
            .finish_non_exhaustive()
    }
}

/// What a password that passed leads to: a session, or (for an account with an active second
/// factor) a pending sign-in the client completes at `POST /api/auth/mfa/verify/`.
// Made and moved once per login: boxing the larger variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum LoginOutcome {
    SignedIn(UserRecord, StartedSession),
    SecondFactorRequired(mfa::PendingSignIn),
}

/// Checks the password and starts a session (`via` says whether for a cookie or for tokens),
/// or, when the account has an active second factor, a pending sign-in (no session, no
/// tokens) that the second step turns into one.
pub async fn login(
    app: &App,
    input: LoginInput,
    client: &ClientInfo,
    via: AuthMethod,
) -> Result<LoginOutcome, Error> {
    refuse_bots(app, client, input.honeypot.as_deref(), "login").await?;
    let PasswordChecked {
        user,
        second_factors,
    } = check_password(app, &input, client, via).await?;
    if second_factors.any() {
        // No session yet: the second step makes it (`mfa::complete_sign_in`).
        let pending = mfa::begin_sign_in(app, &user, via, second_factors).await?;
        return Ok(LoginOutcome::SecondFactorRequired(pending));
    }
    let started = record_sign_in(app, &user, client, via).await?;
    crate::metrics::emit(crate::metrics::Metric::Login);
    Ok(LoginOutcome::SignedIn(user, started))
}

/// An account whose password was right, and its second factors.
struct PasswordChecked {
    user: UserRecord,
    second_factors: mfa::SecondFactors,
}

/// What round trip 2 reads of a named account, side by side.
struct AccountReads {
    user: UserRecord,
    /// The failures on record, or the refusal of a locked account.
    lock: Result<i64, Error>,
    credentials: Result<Option<accounts::CredentialsRecord>, Error>,
    second_factors: Result<mfa::SecondFactors, Error>,
}

/// Round trips 1 and 2, the password and the account's state: every refusal of a login
/// happens here, with its event and its failure count.
async fn check_password(
    app: &App,
    input: &LoginInput,
    client: &ClientInfo,
    via: AuthMethod,
) -> Result<PasswordChecked, Error> {
    let ip = client.ip_string();
    let name = normalised_identifier(&input.identifier);
    let pair = ip.as_deref().map(|ip| ip_and_name(ip, &name));
    let source = FailureSource {
        client,
        ip: ip.as_deref(),
        pair: pair.as_deref(),
    };
    let Some(reads) = read_account(app, input, &source).await? else {
        // A name with no account locks exactly as an account does: same reads, same writes,
        // same answers, so neither the lockout nor its absence tells whether it exists.
        let subject = LockSubject::UnknownName(name);
        limits::check_lock(app, &subject).await?;
        passwords::burn_verification_time(&input.password).await;
        limits::record_failure(app, &subject).await?;
        return Err(failed(app, &source, None, "unknown_account").await);
    };
    let AccountReads {
        user,
        lock,
        credentials,
        second_factors,
    } = reads;
    let prior_failures = match lock {
        Ok(failures) => failures,
        Err(locked) => {
            log_refused(
                app,
                &user,
                client,
                via,
                "account temporarily locked",
                "locked",
            )
            .await;
            return Err(locked);
        }
    };
    let Some(credentials) = credentials? else {
        // A profile without credentials cannot log in; it answers like any wrong password.
        passwords::burn_verification_time(&input.password).await;
        return Err(failed(app, &source, Some(user.id), "no_credentials").await);
    };
    let check = passwords::verify_password(&credentials.password_hash, &input.password).await?;
    if !check.matches {
        limits::record_login_failure(app, user.id).await?;
        return Err(failed(app, &source, Some(user.id), "wrong_password").await);
    }
    if user.is_suspended {
        sessions::end_other_sessions(app, user.id, None).await?;
        log_refused(app, &user, client, via, "account suspended", "suspended").await;
        return Err(Error::Forbidden(suspended_detail(&user)));
    }
    // Only an account with failures on record has a counter to clear: no write otherwise.
    if prior_failures > 0 {
        limits::clear_login_failures(app, user.id).await?;
    }
    if check.needs_rehash {
        rehash(app, user.id, &credentials.password_hash, &input.password).await;
    }
    Ok(PasswordChecked {
        user,
        second_factors: second_factors?,
    })
}

/// Round trip 1: both failure windows and the name's unique item, side by side (a full window
/// refuses before any password work); round trip 2: the profile, its lockout counter, its
/// credentials and its second factors, side by side. `None` when no account has the name.
async fn read_account(
    app: &App,
    input: &LoginInput,
    source: &FailureSource<'_>,
) -> Result<Option<AccountReads>, Error> {
    let (limited, account) = tokio::join!(
        check_failure_windows(app, source.ip, source.pair),
        account_id(app, &input.identifier)
    );
    limited?;
    let Some(id) = account? else {
        return Ok(None);
    };
    let (user, lock, credentials, second_factors) = tokio::join!(
        accounts::get_user_consistent(app, id),
        limits::check_login_allowed(app, id),
        accounts::get_credentials(app, id),
        mfa::second_factors(app, id)
    );
    Ok(user?.map(|user| AccountReads {
        user,
        lock,
        credentials,
        second_factors,
    }))
}

/// A right password refused for the account's state (locked, suspended): counted and logged.
async fn log_refused(
    app: &App,
    user: &UserRecord,
    client: &ClientInfo,
    via: AuthMethod,
    failure: &str,
    reason: &str,
) {
    crate::metrics::emit(crate::metrics::Metric::LoginFailed);
    log_event_best_effort(
        app,
        NewEvent::new(EventType::LoginFailed, Some(user.id))
            .client(client)
            .failed(failure)
            .metadata(json!({ "reason": reason, "method": via })),
    )
    .await;
}

/// Round trips 3 and 4 of a login that needs no second step: the session's write beside the
/// new-device check (which leaves the new session out of what it compares) and, when today's
/// visit is still to be recorded, the user's time zone; then the `login` event beside the
/// day's visit for the badge streaks and `UserLoggedIn` (both best-effort, the visit once a
/// day).
async fn record_sign_in(
    app: &App,
    user: &UserRecord,
    client: &ClientInfo,
    via: AuthMethod,
) -> Result<StartedSession, Error> {
    let started = sessions::new_session(app, user, client, via);
    let visit_due = crate::activity::tallies::visit_due(app, user);
    let (stored, (), zone) = tokio::join!(
        sessions::store_session(app, &started),
        crate::activity::sessions::check_new_device(app, &started.record, client),
        async {
            match visit_due {
                true => Some(crate::activity::tallies::visit_zone(app, user.id).await),
                false => None,
            }
        }
    );
    stored?;
    tokio::join!(
        log_event_best_effort(
            app,
            NewEvent::new(EventType::Login, Some(user.id))
                .client(client)
                .session(&started.record.session_id)
                .description("Logged in")
                .metadata(json!({ "method": via })),
        ),
        async {
            if let Some(zone) = &zone {
                crate::activity::tallies::record_visit(app, user, zone, false).await;
            }
            crate::activity::tallies::announce_login(app, user.id).await;
        }
    );
    Ok(started)
}

/// The id of the account an identifier names, if any. Identifiers that cannot be a username or
/// an email address name no account (and answer like a wrong password).
async fn account_id(app: &App, identifier: &str) -> Result<Option<UserId>, Error> {
    let identifier = identifier.trim();
    if identifier.contains('@') {
        match EmailAddress::parse(identifier) {
            Ok(email) => accounts::id_by_email(app, &email).await,
            Err(_) => Ok(None),
        }
    } else {
        match Username::parse(identifier) {
            Ok(username) => accounts::id_by_username(app, &username).await,
            Err(_) => Ok(None),
        }
    }
}

/// Both failure windows of the client's address (per address and name, and per address), read
/// side by side; `Err(RateLimited)` when either is full.
async fn check_failure_windows(
    app: &App,
    ip: Option<&str>,
    pair: Option<&str>,
) -> Result<(), Error> {
    let (Some(ip), Some(pair)) = (ip, pair) else {
        return Ok(());
    };
    let (per_ip, per_pair) = tokio::join!(
        limits::check(app, Limit::LoginPerIp, ip),
        limits::check(app, Limit::LoginPerIpAndName, pair)
    );
    per_ip.and(per_pair)
}

/// The submitted name as the lockout counts it: a username or address without regard to case.
fn normalised_identifier(identifier: &str) -> String {
    let identifier = identifier.trim();
    if identifier.contains('@') {
        match EmailAddress::parse(identifier) {
            Ok(email) => email.key(),
            Err(_) => identifier.to_lowercase(),
        }
    } else {
        identifier.to_lowercase()
    }
}

/// The subject of the per-address-and-name limit (only its hash is stored).
fn ip_and_name(ip: &str, name: &str) -> String {
    format!("{ip}#{name}")
}

/// Where a failed login came from, for the limits it counts against.
struct FailureSource<'a> {
    client: &'a ClientInfo,
    ip: Option<&'a str>,
    pair: Option<&'a str>,
}

/// Counts a failure against the client's address (and its address and name), logs it, and
/// gives the answer: the same 400 for every failure, or 429 once a window is full.
async fn failed(
    app: &App,
    source: &FailureSource<'_>,
    user: Option<UserId>,
    reason: &str,
) -> Error {
    crate::metrics::emit(crate::metrics::Metric::LoginFailed);
    let client = source.client;
    log_event_best_effort(
        app,
        NewEvent::new(EventType::LoginFailed, user)
            .client(client)
            .severity(Severity::Medium)
            .failed("invalid credentials")
            .metadata(json!({ "reason": reason })),
    )
    .await;
    if let (Some(ip), Some(pair)) = (source.ip, source.pair) {
        let (per_ip, per_pair) = tokio::join!(
            limits::hit(app, Limit::LoginPerIp, ip),
            limits::hit(app, Limit::LoginPerIpAndName, pair)
        );
        if let Err(limited) = per_ip.and(per_pair) {
            return limited;
        }
    }
    Error::BadRequest(INVALID_CREDENTIALS.into())
}

/// Replaces a hash made with older parameters, unless the password changed meanwhile. A failure
/// here leaves the old (still valid) hash: the login itself succeeded.
async fn rehash(app: &App, user: UserId, old_hash: &str, password: &str) {
    let new_hash = match passwords::hash_password(password).await {
        Ok(hash) => hash,
        Err(e) => {
            tracing::warn!(error = %e, "password rehash failed");
            return;
        }
    };
    let update = Update::new().set("password_hash", new_hash);
    let condition = Condition::eq("password_hash", old_hash);
    match app
        .table
        .update(&keys::credentials(user), update, Some(condition))
        .await
    {
        Ok(_) | Err(StoreError::ConditionFailed) => {}
        Err(e) => tracing::warn!(error = %e, "password rehash not stored"),
    }
}
