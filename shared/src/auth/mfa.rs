//! Second factors: TOTP factors and recovery codes, the second step of a sign-in, step-up for
//! sensitive actions, and staff's reset of an account's factors.
//!
//! Rules:
//! - A TOTP factor is enrolled pending (its secret shown once, with the `otpauth://` URI and a
//!   QR code) and becomes active only when a correct code confirms it; an unconfirmed factor
//!   expires after [`PENDING_FACTOR_TTL_SECS`]. The secret is stored sealed
//!   (`auth/sealed.rs`) and never leaves the service again.
//! - A code is accepted once: each factor keeps the last step used (`last_step`) and a code is
//!   taken only for a later step, by a write conditional on exactly that, so two requests with
//!   the same code cannot both pass.
//! - Wrong codes count against the account with the login backoff (`limits::LockSubject::
//!   SecondFactor`: 2^(n-5) s after 5 failures) and are logged as `mfa_challenge_failed`.
//! - Confirming the first factor hands out ten recovery codes, once; each is an item named by
//!   its hash, spent by a conditional delete (so once). Regenerating replaces the set in one
//!   transaction. Spending one is a high-severity `recovery_code_used` and a mail to the owner.
//! - A password sign-in of an account with an active factor stores a pending sign-in
//!   ([`CHALLENGE_TTL_SECS`], at most [`CHALLENGE_MAX_ATTEMPTS`] wrong codes) and hands the
//!   client its token instead of a session; the second step deletes the pending item, spends
//!   the code and stores the session in one transaction.
//! - Sensitive actions need a recent strong authentication (`policy::require_recent_auth`,
//!   re-exported here); `step_up` is how a session proves one. The stored factors are
//!   `factor_records`, the recovery codes `recovery_codes`.

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};

use super::client::ClientInfo;
pub use super::factor_records::{
    FactorRecord, FactorStatus, FactorView, NAME_MAX_CHARS, SecondFactors, active_factors, factors,
    second_factors,
};
use super::factor_records::{
    credential_name, new_credential_name, rename_credential, seal_context,
};
use super::limits::{self, LockSubject};
use super::passkeys::{Assertion, AssertionOp, Ceremony, Checked};
pub use super::policy::{STEP_UP_WINDOW_SECS, Sensitive, require_recent_auth};
pub use super::recovery_codes::RECOVERY_CODES;
use super::recovery_codes::{
    recovery_code_keys, recovery_hash, recovery_set, spend_recovery_code, typed_code,
    void_recovery_codes,
};
use super::secrets::{random_token, sha256_hex};
use super::sessions::{self, StartedSession};
use super::webauthn::Refusal;
use super::{Assurance, AuthMethod, Principal, totp};
use crate::App;
use crate::accounts::{self, UserRecord};
use crate::activity::events::{EventType, NewEvent, Severity, log_event_best_effort};
use crate::error::{Error, FieldErrors};
use crate::mail::Email;
use crate::model::UserId;
use crate::store::{Condition, Key, StoreError, Transaction, TxOp, Update, Value, from_item, keys};

/// Factors (pending and active) an account may have.
pub const MAX_FACTORS: usize = 5;
/// An enrolled factor not confirmed within this is gone.
pub const PENDING_FACTOR_TTL_SECS: i64 = 15 * 60;
/// The second step of a sign-in must come within this.
pub const CHALLENGE_TTL_SECS: i64 = 5 * 60;
/// Wrong codes one pending sign-in takes before it is void.
pub const CHALLENGE_MAX_ATTEMPTS: i64 = 5;

pub const INVALID_CODE: &str = "Invalid code.";
pub const SIGN_IN_EXPIRED: &str = "This sign-in has expired or is unknown; sign in again.";
pub const UNAVAILABLE: &str = "Second factors are not available on this deployment.";

fn require_available(app: &App) -> Result<(), Error> {
    if app.seal_keys.available() {
        Ok(())
    } else {
        Err(Error::Forbidden(UNAVAILABLE.into()))
    }
}

// ------------------------------------------------------------------------------- reading

/// The factors and how many recovery codes are left: `GET /api/auth/mfa/factors/`.
pub struct FactorList {
    pub factors: Vec<FactorView>,
    pub recovery_codes_remaining: usize,
}

pub async fn list(app: &App, user: UserId) -> Result<FactorList, Error> {
    let (factors, codes) = tokio::join!(factors(app, user), recovery_code_keys(app, user));
    Ok(FactorList {
        factors: factors?.iter().map(FactorRecord::view).collect(),
        recovery_codes_remaining: codes?.len(),
    })
}

// ------------------------------------------------------------------------------- codes

/// Whether the account may guess a code now (the login backoff, on its own counter).
async fn check_guess_allowed(app: &App, user: UserId) -> Result<(), Error> {
    limits::check_lock(app, &LockSubject::SecondFactor(user))
        .await
        .map(|_| ())
}

/// Counts a wrong code and logs it; the answer is a 400 on `field`.
async fn wrong_code(
    app: &App,
    user: UserId,
    client: &ClientInfo,
    during: &str,
    field: &str,
) -> Error {
    wrong_proof(app, user, client, during, field, None).await
}

/// Counts a refused proof and logs it; the answer is a 400 on `field` saying why (a passkey's
/// refusal names the check that failed; a code is just invalid).
async fn wrong_proof(
    app: &App,
    user: UserId,
    client: &ClientInfo,
    during: &str,
    field: &str,
    refusal: Option<Refusal>,
) -> Error {
    if let Err(e) = limits::record_failure(app, &LockSubject::SecondFactor(user)).await {
        return e;
    }
    let (failure, metadata) = match &refusal {
        None => (
            "wrong, reused or expired code",
            json!({ "during": during, "method": field }),
        ),
        Some(why) => (
            "passkey ceremony refused",
            json!({ "during": during, "method": "webauthn", "reason": why.to_string() }),
        ),
    };
    log_event_best_effort(
        app,
        NewEvent::new(EventType::MfaChallengeFailed, Some(user))
            .client(client)
            .failed(failure)
            .metadata(metadata),
    )
    .await;
    match refusal {
        None => Error::field(field, INVALID_CODE),
        Some(why) => Error::field(field, why.to_string()),
    }
}

/// Forgets the account's wrong codes after a right one (best-effort: the success stands).
async fn clear_guesses(app: &App, user: UserId) {
    if let Err(e) = limits::clear_failures(app, &LockSubject::SecondFactor(user)).await {
        tracing::warn!(error = %e, "second-factor failures not cleared");
    }
}

/// The active factor `code` belongs to and its step, for a step later than the factor's last
/// used one (a code already used, or an older one, matches nothing).
fn match_code<'a>(
    app: &App,
    factors: &'a [FactorRecord],
    code: &str,
) -> Result<Option<(&'a FactorRecord, i64)>, Error> {
    let now = app.clock.epoch_seconds();
    for factor in factors {
        let secret = factor.secret(app)?;
        if let Some(step) = totp::matching_step(&secret, code, now)
            && step > factor.last_step
        {
            return Ok(Some((factor, step)));
        }
    }
    Ok(None)
}

/// The write that takes step `step` of `factor`: only if no later or equal step was taken.
fn take_step(app: &App, factor: &FactorRecord, step: i64) -> TxOp {
    TxOp::Update {
        key: factor.key(),
        update: Update::new()
            .set("last_step", step)
            .set("last_used_at", Value::from(app.clock.now())),
        condition: Some(
            Condition::eq("status", "active")
                .and(Condition::Lt("last_step".into(), Value::Int(step))),
        ),
    }
}

/// The high-severity event and the owner's mail of a spent recovery code.
async fn recovery_code_used(app: &App, user: &UserRecord, client: &ClientInfo, during: &str) {
    let remaining = recovery_code_keys(app, user.id)
        .await
        .map(|k| k.len())
        .unwrap_or(0);
    log_event_best_effort(
        app,
        NewEvent::new(EventType::RecoveryCodeUsed, Some(user.id))
            .client(client)
            .severity(Severity::High)
            .description("A recovery code was used")
            .metadata(json!({ "during": during, "remaining": remaining })),
    )
    .await;
    let mail = security_mail(
        user,
        "A recovery code was used on your account",
        &format!(
            "A recovery code of your account was just used to {during}. {remaining} unused \
             codes are left. If that was not you, sign in, remove your second factors and set them up again, \
             and change your password."
        ),
    );
    if let Err(e) = app.mailer.send(&mail).await {
        tracing::warn!(error = %e, "recovery code notice not sent");
    }
}

/// A short security notice to the account's address.
fn security_mail(user: &UserRecord, subject: &str, body: &str) -> Email {
    let name = user.display_name();
    let escaped = super::codes::html_escape;
    Email {
        to: user.email.clone(),
        subject: subject.into(),
        text: format!("Hello {name},\n\n{body}\n"),
        html: format!(
            "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n<p>Hello {}\
             ,</p>\n<p>{}</p>\n</body></html>\n",
            escaped(&name),
            escaped(body)
        ),
    }
}

// ------------------------------------------------------------------------------- enrolment

/// A factor just enrolled: the only answer that carries its secret.
pub struct Enrolment {
    pub factor: FactorView,
    /// base32, as apps take it typed in.
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolment")
            .field("factor", &self.factor)
            .finish_non_exhaustive()
    }
}

fn factor_name(name: Option<&str>) -> Result<String, Error> {
    credential_name(name, "Authenticator app")
}

/// Enrols a TOTP factor, pending until [`confirm_totp`].
pub async fn enrol_totp(
    app: &App,
    principal: &Principal,
    name: Option<&str>,
) -> Result<Enrolment, Error> {
    require_available(app)?;
    let name = factor_name(name)?;
    require_recent_auth(app, principal, Sensitive::Enrolment).await?;
    let user = &principal.user;
    if factors(app, user.id).await?.len() >= MAX_FACTORS {
        return Err(Error::BadRequest(format!(
            "At most {MAX_FACTORS} factors: remove one first."
        )));
    }
    let now = app.clock.now();
    let factor_id = ulid::Ulid::from_datetime(now.into()).to_string();
    let mut secret = vec![0u8; totp::SECRET_BYTES];
    getrandom::fill(&mut secret).expect("the OS random source is available");
    let sealed_secret = app
        .seal_keys
        .seal(&secret, &seal_context(user.id, &factor_id))
        .ok_or_else(|| Error::Internal("sealing a factor secret".into()))?;
    let record = FactorRecord {
        factor_id,
        user_id: user.id,
        name,
        sealed_secret,
        status: FactorStatus::Pending,
        created_at: now,
        activated_at: None,
        last_used_at: None,
        last_step: 0,
        expires_at: Some(now.timestamp() + PENDING_FACTOR_TTL_SECS),
    };
    app.table
        .put(record.to_item()?, Some(Condition::item_absent()))
        .await?;
    let otpauth_uri = totp::otpauth_uri(&app.config.auth.mfa_issuer, &user.username, &secret);
    let qr_svg = totp::qr_svg(&otpauth_uri)
        .ok_or_else(|| Error::Internal("the otpauth URI does not fit a QR code".into()))?;
    Ok(Enrolment {
        factor: record.view(),
        secret: totp::base32(&secret),
        otpauth_uri,
        qr_svg,
    })
}

/// The operations of a factor's confirmation. Recovery codes are told apart only to keep the
/// names unique (their puts cannot fail but by a bug).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConfirmOp {
    Factor,
    Session,
    RecoveryCode(usize),
}

/// The operations of a factor's removal, the voided recovery codes as in [`ConfirmOp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RemoveOp {
    Factor,
    RecoveryCode(usize),
}

/// The operations of a sign-in's second step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SecondStepOp {
    /// The pending sign-in, deleted while live.
    Pending,
    Proof(ProofOp),
    Session,
}

/// The operations of a step-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StepUpOp {
    Proof(ProofOp),
    Session,
}

/// A factor confirmed; the recovery codes when it is the account's first.
#[derive(Debug)]
pub struct Confirmed {
    pub factor: FactorView,
    pub recovery_codes: Option<Vec<String>>,
}

/// The caller's factor `factor_id`, or 404.
async fn own_factor(app: &App, user: UserId, factor_id: &str) -> Result<FactorRecord, Error> {
    if ulid::Ulid::from_string(factor_id).is_err() {
        return Err(Error::NotFound);
    }
    let item = app
        .table
        .get(&keys::mfa_factor(user, factor_id), true)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(from_item(&item)?)
}

fn required_code(code: Option<&str>, field: &str) -> Result<String, Error> {
    match code.map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => Ok(code.to_owned()),
        None => Err(Error::field(field, "This field is required.")),
    }
}

/// Confirms a pending factor with a code from the app: the factor turns active, the session
/// proved a second factor just now (aal2), and the first factor brings the recovery codes.
/// All in one transaction.
pub async fn confirm_totp(
    app: &App,
    principal: &Principal,
    factor_id: &str,
    code: Option<&str>,
    client: &ClientInfo,
) -> Result<Confirmed, Error> {
    require_available(app)?;
    let code = typed_code(&required_code(code, "code")?);
    let user = principal.id();
    let factor = own_factor(app, user, factor_id).await?;
    if factor.status == FactorStatus::Active {
        return Err(Error::Conflict("This factor is already active.".into()));
    }
    check_guess_allowed(app, user).await?;
    let now = app.clock.now();
    let epoch = now.timestamp();
    let Some(step) = totp::matching_step(&factor.secret(app)?, &code, epoch) else {
        return Err(wrong_code(app, user, client, "enrolment", "code").await);
    };
    let first = !second_factors(app, user).await?.any();
    let mut tx = Transaction::new().with(
        ConfirmOp::Factor,
        TxOp::Update {
            key: factor.key(),
            update: Update::new()
                .set("status", "active")
                .set("activated_at", Value::from(now))
                .set("last_used_at", Value::from(now))
                .set("last_step", step)
                .remove(keys::attr::EXPIRES_AT),
            condition: Some(Condition::eq("status", "pending").and(Condition::Gt(
                keys::attr::EXPIRES_AT.into(),
                Value::Int(epoch),
            ))),
        },
    );
    if let Some(session_id) = &principal.session_id {
        tx.push(
            ConfirmOp::Session,
            elevate_session(session_id, principal, "otp", epoch),
        );
    }
    let codes = if first {
        let old = recovery_code_keys(app, user).await?;
        let (codes, writes) = recovery_set(app, user, &old);
        for (i, op) in writes.into_iter().enumerate() {
            tx.push(ConfirmOp::RecoveryCode(i), op);
        }
        Some(codes)
    } else {
        None
    };
    match tx.commit(&*app.table).await {
        Ok(()) => {}
        // Confirmed (or lapsed) meanwhile.
        Err(failure) if failure.condition_failed(ConfirmOp::Factor) => {
            return Err(Error::Conflict("This factor is no longer pending.".into()));
        }
        Err(failure) if failure.condition_failed(ConfirmOp::Session) => {
            return Err(Error::Unauthenticated(
                "Session has expired or ended.".into(),
            ));
        }
        Err(failure) => return Err(failure.into()),
    }
    clear_guesses(app, user).await;
    log_event_best_effort(
        app,
        NewEvent::new(EventType::MfaEnabled, Some(user))
            .client(client)
            .description("A TOTP factor was confirmed")
            .metadata(json!({ "factor_id": factor.factor_id, "first": first })),
    )
    .await;
    let mut confirmed = factor.clone();
    confirmed.status = FactorStatus::Active;
    confirmed.activated_at = Some(now);
    confirmed.last_used_at = Some(now);
    confirmed.expires_at = None;
    Ok(Confirmed {
        factor: confirmed.view(),
        recovery_codes: codes,
    })
}

/// The write that records a second factor proved now in a live session (aal2).
fn elevate_session(session_id: &str, principal: &Principal, method: &str, now: i64) -> TxOp {
    let password_at = principal
        .assurance
        .as_ref()
        .and_then(|a| a.password_at)
        .unwrap_or(now);
    let assurance = Assurance::two_factor(password_at, method, now);
    TxOp::Update {
        key: keys::session(session_id),
        update: assurance_update(&assurance),
        condition: Some(Condition::eq("is_active", true)),
    }
}

fn assurance_update(assurance: &Assurance) -> Update {
    let amr: Vec<Value> = assurance.amr.iter().map(|m| Value::S(m.clone())).collect();
    let mut update = Update::new()
        .set("aal", i64::from(assurance.aal))
        .set("amr", Value::L(amr));
    if let Some(at) = assurance.password_at {
        update = update.set("password_at", at);
    }
    if let Some(at) = assurance.second_factor_at {
        update = update.set("second_factor_at", at);
    }
    update
}

/// Renames one of the caller's factors.
pub async fn rename_factor(
    app: &App,
    principal: &Principal,
    factor_id: &str,
    name: Option<&str>,
) -> Result<FactorView, Error> {
    let name = new_credential_name(name)?;
    let mut factor = own_factor(app, principal.id(), factor_id).await?;
    rename_credential(app, &factor.key(), &name).await?;
    factor.name = name;
    Ok(factor.view())
}

/// Removes one of the caller's factors (a sensitive action: a recent second factor). Removing
/// the last active one turns second factors off and voids the recovery codes, in the same
/// transaction.
pub async fn remove_factor(
    app: &App,
    principal: &Principal,
    factor_id: &str,
    client: &ClientInfo,
) -> Result<(), Error> {
    let user = principal.id();
    let factor = own_factor(app, user, factor_id).await?;
    require_recent_auth(app, principal, Sensitive::Action).await?;
    let (active, passkeys) = tokio::join!(
        active_factors(app, user),
        super::passkeys::passkeys(app, user)
    );
    let last = factor.status == FactorStatus::Active
        && active?.iter().all(|f| f.factor_id == factor.factor_id)
        && passkeys?.is_empty();
    let mut tx = Transaction::new().with(
        RemoveOp::Factor,
        TxOp::Delete {
            key: factor.key(),
            condition: Some(Condition::item_present()),
        },
    );
    if last {
        for (i, op) in void_recovery_codes(app, user)
            .await?
            .into_iter()
            .enumerate()
        {
            tx.push(RemoveOp::RecoveryCode(i), op);
        }
    }
    match tx.commit(&*app.table).await {
        Ok(()) => {}
        Err(failure) if failure.condition_failed(RemoveOp::Factor) => {
            return Err(Error::NotFound);
        }
        Err(failure) => return Err(failure.into()),
    }
    if factor.status == FactorStatus::Active {
        log_event_best_effort(
            app,
            NewEvent::new(EventType::MfaDisabled, Some(user))
                .client(client)
                .description("A TOTP factor was removed")
                .metadata(json!({ "factor_id": factor.factor_id, "last": last })),
        )
        .await;
    }
    Ok(())
}

/// Replaces the caller's recovery codes with a new set (sensitive: a recent second factor).
pub async fn regenerate_recovery_codes(
    app: &App,
    principal: &Principal,
    client: &ClientInfo,
) -> Result<Vec<String>, Error> {
    let user = principal.id();
    if !second_factors(app, user).await?.any() {
        return Err(Error::BadRequest(
            "Recovery codes come with a second factor: set one up first.".into(),
        ));
    }
    require_recent_auth(app, principal, Sensitive::Action).await?;
    let old = recovery_code_keys(app, user).await?;
    let (codes, ops) = recovery_set(app, user, &old);
    app.table.transact_write(ops).await?;
    log_event_best_effort(
        app,
        NewEvent::new(EventType::RecoveryCodesRegenerated, Some(user))
            .client(client)
            .description("A new set of recovery codes replaced the old one")
            .metadata(json!({ "voided": old.len() })),
    )
    .await;
    Ok(codes)
}

// ------------------------------------------------------------------------------- sign-in

/// A sign-in waiting for its second factor: what the client holds instead of a session.
pub struct PendingSignIn {
    /// The token of the second step (shown once; stored as its hash).
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub methods: Vec<&'static str>,
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Stores a pending sign-in for a user whose password just passed.
pub async fn begin_sign_in(
    app: &App,
    user: &UserRecord,
    via: AuthMethod,
    factors: SecondFactors,
) -> Result<PendingSignIn, Error> {
    let now = app.clock.epoch_seconds();
    let token = random_token(32);
    let expires_at = now + CHALLENGE_TTL_SECS;
    let mut item = keys::mfa_challenge(&sha256_hex(&token)).to_item();
    item.insert("user_id".into(), Value::Int(user.id.0));
    item.insert("via".into(), Value::S(sessions::method_name(via).into()));
    item.insert("password_at".into(), Value::Int(now));
    item.insert("attempts".into(), Value::Int(0));
    item.insert(keys::attr::EXPIRES_AT.into(), Value::Int(expires_at));
    app.table.put(item, Some(Condition::item_absent())).await?;
    Ok(PendingSignIn {
        token,
        expires_at: DateTime::from_timestamp(expires_at, 0).unwrap_or_default(),
        methods: factors.methods(),
    })
}

/// What proves the second factor.
#[derive(Clone, Copy)]
pub enum Proof<'a> {
    Totp(&'a str),
    RecoveryCode(&'a str),
    /// An assertion of one of the account's passkeys, for a challenge from
    /// [`passkey_options_for_sign_in`] or [`passkey_options_for_step_up`].
    Passkey(&'a Assertion<'a>),
}

impl Proof<'_> {
    fn field(self) -> &'static str {
        match self {
            Proof::Totp(_) => "code",
            Proof::RecoveryCode(_) => "recovery_code",
            Proof::Passkey(_) => "passkey",
        }
    }

    fn amr(self) -> &'static str {
        match self {
            Proof::Totp(_) => "otp",
            Proof::RecoveryCode(_) => "recovery",
            Proof::Passkey(_) => "webauthn",
        }
    }
}

/// The writes that spend a second-factor proof, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProofOp {
    /// The TOTP factor's step, taken once.
    TotpStep,
    /// The recovery code, deleted once.
    RecoveryCode,
    Passkey(AssertionOp),
}

/// What checking a second-factor proof found.
enum ProofCheck {
    /// The writes that spend it, for the transaction that uses it.
    Spend(Vec<(ProofOp, TxOp)>),
    /// Wrong; a passkey's refusal says which check failed.
    Wrong(Option<Refusal>),
}

/// Checks a second-factor proof of `user` without writing anything (a refused passkey
/// ceremony spends its challenge: one try each).
async fn check_proof(
    app: &App,
    user: UserId,
    proof: Proof<'_>,
    ceremony: Ceremony<'_>,
) -> Result<ProofCheck, Error> {
    Ok(match proof {
        Proof::Totp(code) => {
            require_available(app)?;
            let factors = active_factors(app, user).await?;
            match match_code(app, &factors, &typed_code(code))? {
                Some((factor, step)) => {
                    ProofCheck::Spend(vec![(ProofOp::TotpStep, take_step(app, factor, step))])
                }
                None => ProofCheck::Wrong(None),
            }
        }
        Proof::RecoveryCode(code) => {
            let key = keys::recovery_code(user, &recovery_hash(user, code));
            match app.table.get(&key, true).await? {
                Some(_) => ProofCheck::Spend(vec![(
                    ProofOp::RecoveryCode,
                    spend_recovery_code(user, code),
                )]),
                None => ProofCheck::Wrong(None),
            }
        }
        Proof::Passkey(assertion) => {
            match super::passkeys::check_assertion(app, assertion, ceremony).await? {
                Checked::Passed(checked) => ProofCheck::Spend(
                    checked
                        .writes(app)
                        .into_iter()
                        .map(|(name, op)| (ProofOp::Passkey(name), op))
                        .collect(),
                ),
                Checked::Refused { why, challenge, .. } => {
                    super::passkeys::spend_refused(app, challenge.as_ref()).await;
                    ProofCheck::Wrong(Some(why))
                }
            }
        }
    })
}

/// The request options of a passkey as the second step of the pending sign-in `token`.
pub async fn passkey_options_for_sign_in(app: &App, token: &str) -> Result<Json, Error> {
    let token_hash = sha256_hex(token.trim());
    let pending = app
        .table
        .get(&keys::mfa_challenge(&token_hash), true)
        .await?
        .filter(|item| {
            item.get(keys::attr::EXPIRES_AT)
                .and_then(Value::as_i64)
                .is_some_and(|at| at > app.clock.epoch_seconds())
        })
        .ok_or_else(sign_in_expired)?;
    let user = pending
        .get("user_id")
        .and_then(Value::as_i64)
        .map(UserId)
        .ok_or_else(sign_in_expired)?;
    let ceremony = Ceremony::SecondStep {
        user,
        pending: &token_hash,
    };
    super::passkeys::request_options(app, ceremony).await
}

/// The request options of a passkey as a step-up in the caller's session.
pub async fn passkey_options_for_step_up(app: &App, principal: &Principal) -> Result<Json, Error> {
    let Some(session_id) = &principal.session_id else {
        return Err(Error::BadRequest(
            "This authentication method has no session.".into(),
        ));
    };
    let ceremony = Ceremony::StepUp {
        user: principal.id(),
        session: session_id,
    };
    super::passkeys::request_options(app, ceremony).await
}

impl std::fmt::Debug for Proof<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.field())
    }
}

/// A sign-in completed with its second factor.
#[derive(Debug)]
pub struct CompletedSignIn {
    pub user: UserRecord,
    pub session: StartedSession,
    /// Whether the first step was a cookie login or a JWT login.
    pub via: AuthMethod,
}

fn sign_in_expired() -> Error {
    Error::field("mfa_token", SIGN_IN_EXPIRED)
}

/// The second step: the pending sign-in, spent with a code, becomes a session at aal2.
pub async fn complete_sign_in(
    app: &App,
    token: &str,
    proof: Proof<'_>,
    client: &ClientInfo,
) -> Result<CompletedSignIn, Error> {
    let token_hash = sha256_hex(token.trim());
    let challenge_key = keys::mfa_challenge(&token_hash);
    let PendingRead {
        user,
        via,
        password_at,
    } = read_pending(app, &challenge_key).await?;
    check_guess_allowed(app, user.id).await?;

    let now = app.clock.epoch_seconds();
    let ceremony = Ceremony::SecondStep {
        user: user.id,
        pending: &token_hash,
    };
    let spend = match check_proof(app, user.id, proof, ceremony).await? {
        ProofCheck::Spend(writes) => writes,
        ProofCheck::Wrong(refusal) => {
            return Err(failed_attempt(app, &challenge_key, &user, client, proof, refusal).await);
        }
    };
    let assurance = Assurance::two_factor(password_at, proof.amr(), now);
    let started = sessions::new_session_with(app, &user, client, via, assurance);
    let tx = second_step_transaction(&challenge_key, spend, &started, now)?;
    match tx.commit(&*app.table).await {
        Ok(()) => {}
        Err(failure) => {
            return Err(match failure.first_failed_condition() {
                Some(SecondStepOp::Pending) => sign_in_expired(),
                // The code or the assertion was used by a concurrent request: a replay.
                Some(SecondStepOp::Proof(_)) => {
                    let refusal = matches!(proof, Proof::Passkey(_)).then_some(Refusal::Challenge);
                    failed_attempt(app, &challenge_key, &user, client, proof, refusal).await
                }
                _ => failure.into(),
            });
        }
    }
    clear_guesses(app, user.id).await;
    log_event_best_effort(
        app,
        NewEvent::new(EventType::Login, Some(user.id))
            .client(client)
            .session(&started.record.session_id)
            .description("Logged in with a second factor")
            .metadata(json!({ "method": via, "amr": started.record.amr })),
    )
    .await;
    if let Proof::RecoveryCode(_) = proof {
        recovery_code_used(app, &user, client, "sign in").await;
    }
    crate::metrics::emit(crate::metrics::Metric::Login);
    Ok(CompletedSignIn {
        user,
        session: started,
        via,
    })
}

/// A pending sign-in as read: whose, for a cookie or tokens, and when the password was proved.
struct PendingRead {
    user: UserRecord,
    via: AuthMethod,
    password_at: i64,
}

/// The pending sign-in and its account; unknown, expired, or an account since deleted all read
/// as an expired sign-in, and a suspended account's pending sign-in is dropped.
async fn read_pending(app: &App, challenge_key: &Key) -> Result<PendingRead, Error> {
    let challenge = app
        .table
        .get(challenge_key, true)
        .await?
        .ok_or_else(sign_in_expired)?;
    let user_id = challenge
        .get("user_id")
        .and_then(Value::as_i64)
        .map(UserId)
        .ok_or_else(sign_in_expired)?;
    let via = match challenge.get("via").and_then(Value::as_str) {
        Some("jwt") => AuthMethod::Jwt,
        _ => AuthMethod::Session,
    };
    let password_at = challenge
        .get("password_at")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let user = match accounts::get_user_consistent(app, user_id).await? {
        Some(user) if !user.deleting => user,
        _ => return Err(sign_in_expired()),
    };
    if user.is_suspended {
        app.table.delete(challenge_key, None).await?;
        return Err(Error::Forbidden(crate::access::suspended_detail(&user)));
    }
    Ok(PendingRead {
        user,
        via,
        password_at,
    })
}

/// The second step's one transaction: the pending sign-in deleted (while unexpired), the
/// proof spent, the session stored.
fn second_step_transaction(
    challenge_key: &Key,
    spend: Vec<(ProofOp, TxOp)>,
    started: &StartedSession,
    now: i64,
) -> Result<Transaction<SecondStepOp>, Error> {
    let mut tx = Transaction::new().with(
        SecondStepOp::Pending,
        TxOp::Delete {
            key: challenge_key.clone(),
            condition: Some(Condition::item_present().and(Condition::Gt(
                keys::attr::EXPIRES_AT.into(),
                Value::Int(now),
            ))),
        },
    );
    for (name, op) in spend {
        tx.push(SecondStepOp::Proof(name), op);
    }
    tx.push(
        SecondStepOp::Session,
        TxOp::Put {
            item: started.record.to_item()?,
            condition: Some(Condition::item_absent()),
        },
    );
    Ok(tx)
}

/// A wrong code on a pending sign-in: counted for the account (backoff) and for the pending
/// sign-in, which is void after [`CHALLENGE_MAX_ATTEMPTS`].
async fn failed_attempt(
    app: &App,
    challenge_key: &Key,
    user: &UserRecord,
    client: &ClientInfo,
    proof: Proof<'_>,
    refusal: Option<Refusal>,
) -> Error {
    let room = Condition::item_present().and(Condition::Lt(
        "attempts".into(),
        Value::Int(CHALLENGE_MAX_ATTEMPTS - 1),
    ));
    match app
        .table
        .update(challenge_key, Update::new().add("attempts", 1), Some(room))
        .await
    {
        Ok(_) => {}
        Err(StoreError::ConditionFailed) => {
            if let Err(e) = app.table.delete(challenge_key, None).await {
                return e.into();
            }
        }
        Err(e) => return e.into(),
    }
    wrong_proof(app, user.id, client, "sign_in", proof.field(), refusal).await
}

// ------------------------------------------------------------------------------- step-up

/// What a step-up proves.
#[derive(Clone, Copy)]
pub enum StepUpProof<'a> {
    Password(&'a str),
    Second(Proof<'a>),
}

/// Proves the password or a second factor again in the caller's session, for the sensitive
/// actions of the next [`STEP_UP_WINDOW_SECS`]. Returns the session's new assurance.
pub async fn step_up(
    app: &App,
    principal: &Principal,
    proof: StepUpProof<'_>,
    client: &ClientInfo,
) -> Result<Assurance, Error> {
    let (Some(session_id), Some(current)) = (&principal.session_id, &principal.assurance) else {
        return Err(Error::BadRequest(
            "This authentication method has no session.".into(),
        ));
    };
    let user = principal.id();
    let StepUpChecked {
        assurance,
        spend,
        method,
    } = check_step_up(app, principal, proof, session_id, current, client).await?;
    let second = !spend.is_empty();
    let mut tx = Transaction::new();
    for (name, op) in spend {
        tx.push(StepUpOp::Proof(name), op);
    }
    tx.push(
        StepUpOp::Session,
        TxOp::Update {
            key: keys::session(session_id),
            update: assurance_update(&assurance),
            condition: Some(Condition::eq("is_active", true)),
        },
    );
    match tx.commit(&*app.table).await {
        Ok(()) => {}
        Err(failure) => {
            return Err(match failure.first_failed_condition() {
                Some(StepUpOp::Proof(_)) => {
                    let (field, refusal) = match proof {
                        StepUpProof::Second(p @ Proof::Passkey(_)) => {
                            (p.field(), Some(Refusal::Challenge))
                        }
                        StepUpProof::Second(p) => (p.field(), None),
                        StepUpProof::Password(_) => ("password", None),
                    };
                    wrong_proof(app, user, client, "step_up", field, refusal).await
                }
                Some(StepUpOp::Session) => {
                    Error::Unauthenticated("Session has expired or ended.".into())
                }
                None => failure.into(),
            });
        }
    }
    if second {
        clear_guesses(app, user).await;
    }
    log_event_best_effort(
        app,
        NewEvent::new(EventType::StepUp, Some(user))
            .client(client)
            .session(session_id)
            .description("Authentication confirmed for a sensitive action")
            .metadata(json!({ "method": method })),
    )
    .await;
    if let StepUpProof::Second(Proof::RecoveryCode(_)) = proof {
        recovery_code_used(app, &principal.user, client, "confirm a sensitive action").await;
    }
    Ok(assurance)
}

/// What a step-up's proof established: the session's new assurance, the proof's writes (a
/// TOTP step taken, a recovery code or a passkey challenge spent; none for a password) and its
/// method name for the event.
struct StepUpChecked {
    assurance: Assurance,
    spend: Vec<(ProofOp, TxOp)>,
    method: &'static str,
}

/// Checks a step-up's proof: the current password (refused and counted as a failed login when
/// wrong), or a second factor within the guess limit, bound to this session.
async fn check_step_up(
    app: &App,
    principal: &Principal,
    proof: StepUpProof<'_>,
    session_id: &str,
    current: &Assurance,
    client: &ClientInfo,
) -> Result<StepUpChecked, Error> {
    let user = principal.id();
    let now = app.clock.epoch_seconds();
    let (assurance, spend, method) = match proof {
        StepUpProof::Password(password) => {
            crate::auth::reauth::confirm_current_password(app, principal, Some(password), client)
                .await?;
            let assurance = Assurance {
                password_at: Some(now),
                amr: if current.amr.is_empty() {
                    vec!["pwd".into()]
                } else {
                    current.amr.clone()
                },
                aal: current.aal.max(1),
                ..current.clone()
            };
            (assurance, Vec::new(), "pwd")
        }
        StepUpProof::Second(second) => {
            check_guess_allowed(app, user).await?;
            let ceremony = Ceremony::StepUp {
                user,
                session: session_id,
            };
            let spend = match check_proof(app, user, second, ceremony).await? {
                ProofCheck::Spend(writes) => writes,
                ProofCheck::Wrong(refusal) => {
                    return Err(
                        wrong_proof(app, user, client, "step_up", second.field(), refusal).await,
                    );
                }
            };
            let password_at = current.password_at.unwrap_or(now);
            (
                Assurance::two_factor(password_at, second.amr(), now),
                spend,
                second.amr(),
            )
        }
    };
    Ok(StepUpChecked {
        assurance,
        spend,
        method,
    })
}

// ------------------------------------------------------------------------------- staff

/// An administrator removes every factor, passkey and recovery code of an account of lower rank (the
/// owner lost their device): logged on both accounts, and the owner told by mail.
pub async fn reset_factors(
    app: &App,
    principal: &Principal,
    target: UserId,
    client: &ClientInfo,
) -> Result<(), Error> {
    use crate::access::{self, Actor};
    use crate::activity::staff::log_staff_action;
    let actor = Actor::of(&principal.user);
    // Non-staff are not told the route exists; moderators are refused.
    if !actor.is_staff() {
        return Err(Error::NotFound);
    }
    access::require_admin(actor)?;
    if actor.is(target) {
        return Err(Error::BadRequest(
            "Remove your own factors from your account's security settings.".into(),
        ));
    }
    let user = match accounts::get_user_consistent(app, target).await? {
        Some(user) if !user.deleting => user,
        _ => return Err(Error::NotFound),
    };
    if access::rank(user.role) >= actor.rank() {
        return Err(Error::Forbidden(
            "You cannot change an account that outranks yours.".into(),
        ));
    }
    require_recent_auth(app, principal, Sensitive::Action).await?;
    let (factors, codes, passkeys) = tokio::join!(
        factors(app, target),
        recovery_code_keys(app, target),
        super::passkeys::passkeys(app, target)
    );
    let factors = factors?;
    let passkeys = passkeys?;
    let mut ops: Vec<TxOp> = factors
        .iter()
        .map(|f| TxOp::Delete {
            key: f.key(),
            condition: None,
        })
        .collect();
    ops.extend(codes?.into_iter().map(|key| TxOp::Delete {
        key,
        condition: None,
    }));
    for passkey in &passkeys {
        for key in super::passkeys::keys_of(passkey) {
            ops.push(TxOp::Delete {
                key,
                condition: None,
            });
        }
    }
    if ops.is_empty() {
        return Err(Error::Conflict("This account has no second factor.".into()));
    }
    app.table.transact_write(ops).await?;
    log_staff_action(
        app,
        actor,
        target,
        EventType::MfaReset,
        json!({ "factors_removed": factors.len(), "passkeys_removed": passkeys.len() }),
        client,
    )
    .await;
    let mail = security_mail(
        &user,
        "The second factors of your account were reset",
        "An administrator removed every second factor and recovery code of your account. You \
         sign in with your password alone until you set up a factor again. If you did not ask \
         for this, change your password and contact support.",
    );
    if let Err(e) = app.mailer.send(&mail).await {
        tracing::warn!(error = %e, "factor reset notice not sent");
    }
    Ok(())
}

/// The field errors of a body that names no proof, or more than one.
pub fn one_proof_of<'a>(
    fields: &[(&'static str, Option<&'a str>)],
) -> Result<(&'static str, &'a str), Error> {
    let given: Vec<(&'static str, &'a str)> = fields
        .iter()
        .filter_map(|(name, value)| {
            value
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| (*name, v))
        })
        .collect();
    match given.as_slice() {
        [one] => Ok(*one),
        [] => {
            let mut errors = FieldErrors::new();
            for (name, _) in fields {
                errors.add(name, "Give one of these fields.");
            }
            Err(Error::Invalid(errors))
        }
        more => {
            let mut errors = FieldErrors::new();
            for (name, _) in more {
                errors.add(name, "Give only one of these fields.");
            }
            Err(Error::Invalid(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::recovery_codes::new_recovery_code;

    #[test]
    fn recovery_codes_are_random_and_hash_as_typed() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(code.matches('-').count(), 3);
        assert_ne!(code, new_recovery_code());
        let user = UserId(7);
        let hash = recovery_hash(user, &code);
        assert_eq!(
            hash,
            recovery_hash(user, &code.to_uppercase().replace('-', " "))
        );
        assert_ne!(hash, recovery_hash(UserId(8), &code), "bound to the user");
    }

    #[test]
    fn the_methods_offered_follow_the_factors() {
        let both = SecondFactors {
            totp: true,
            passkeys: true,
        };
        assert_eq!(both.methods(), ["totp", "webauthn", "recovery_code"]);
        let passkeys_only = SecondFactors {
            totp: false,
            passkeys: true,
        };
        assert!(passkeys_only.any());
        assert_eq!(passkeys_only.methods(), ["webauthn", "recovery_code"]);
        assert!(!SecondFactors::default().any());
    }

    #[test]
    fn exactly_one_proof() {
        assert_eq!(
            one_proof_of(&[("code", Some("1")), ("recovery_code", None)]).unwrap(),
            ("code", "1")
        );
        assert!(one_proof_of(&[("code", Some(" ")), ("recovery_code", None)]).is_err());
        assert!(one_proof_of(&[("code", Some("1")), ("recovery_code", Some("2"))]).is_err());
    }
}
