//! Passkeys: WebAuthn discoverable credentials registered by a signed-in user, listed, renamed
//! and removed by them, and a usernameless sign-in with one alone.
//!
//! Rules:
//! - A ceremony starts by storing a challenge (32 random bytes) with a [`CHALLENGE_TTL_SECS`]
//!   TTL in the table, so any instance can finish it; the write that completes the ceremony
//!   deletes it on the condition that it still exists and has not expired, so it is used once.
//!   A refused finish spends it too: a ceremony gets one try.
//! - Registering is a sensitive action like adding a TOTP factor (`mfa::require_recent_auth`,
//!   `Sensitive::Enrolment`); removing one is like removing a factor (`Sensitive::Action`).
//! - Every ceremony checks (`auth/webauthn.rs`): the client data's type, an origin among
//!   `WEBAUTHN_ORIGINS`, the challenge, the RP id hash of `WEBAUTHN_RP_ID`, user presence and
//!   user verification (a passkey signs in alone, so it must verify the user), and for a
//!   sign-in the signature and the sign counter (a non-zero counter must grow; the update is
//!   conditional on the count read, so two uses of one assertion cannot both pass).
//! - A credential id belongs to one account: a `PASSKEYCRED#` item names its owner, written
//!   with the passkey on the condition that it is absent. It also finds the account of a
//!   usernameless sign-in.
//! - A passkey sign-in is a session at aal2 with `amr: ["webauthn"]`; refusals are logged as
//!   `mfa_challenge_failed` against the credential's account when it is known.

use serde::Serialize;
use serde_json::{Value as Json, json};

use super::client::ClientInfo;
use super::factor_records::{self, active_factors, second_factors};
pub use super::factor_records::{PasskeyRecord, PasskeyView, keys_of, passkeys};
use super::policy::{Sensitive, require_recent_auth};
use super::recovery_codes;
use super::secrets::{random_token, sha256_hex};
use super::sessions::{self, StartedSession};
use super::webauthn::{self, COSE_EDDSA, COSE_ES256, Refusal};
use super::{Assurance, AuthMethod, Principal};
use crate::App;
use crate::accounts::{self, UserRecord};
use crate::activity::events::{EventType, NewEvent, log_event_best_effort};
use crate::error::Error;
use crate::model::UserId;
use crate::store::{Condition, Key, Transaction, TxOp, Update, Value, from_item, keys};

/// A ceremony must finish within this.
pub const CHALLENGE_TTL_SECS: i64 = 5 * 60;
/// Passkeys an account may have.
pub const MAX_PASSKEYS: usize = 10;
pub use super::factor_records::NAME_MAX_CHARS;

const REGISTER: &str = "register";
const SIGN_IN: &str = "sign_in";
const SECOND_STEP: &str = "second_step";
const STEP_UP: &str = "step_up";

/// What an assertion is asked for: who it must come from, and what its challenge is bound to.
#[derive(Clone, Copy, Debug)]
pub enum Ceremony<'a> {
    /// A usernameless sign-in: any account's passkey.
    SignIn,
    /// The second step of the pending sign-in whose token hashes to `pending`.
    SecondStep { user: UserId, pending: &'a str },
    /// A step-up in the session `session`.
    StepUp { user: UserId, session: &'a str },
}

impl Ceremony<'_> {
    fn purpose(self) -> &'static str {
        match self {
            Ceremony::SignIn => SIGN_IN,
            Ceremony::SecondStep { .. } => SECOND_STEP,
            Ceremony::StepUp { .. } => STEP_UP,
        }
    }

    fn user(self) -> Option<UserId> {
        match self {
            Ceremony::SignIn => None,
            Ceremony::SecondStep { user, .. } | Ceremony::StepUp { user, .. } => Some(user),
        }
    }

    /// What the challenge is bound to besides its user: a pending sign-in or a session.
    fn bound_to(self) -> Option<String> {
        match self {
            Ceremony::SignIn => None,
            Ceremony::SecondStep { pending, .. } => Some(pending.to_owned()),
            Ceremony::StepUp { session, .. } => Some(session.to_owned()),
        }
    }
}

/// The bytes of a registration's `PublicKeyCredential`, base64url as browsers' `toJSON` give.
#[derive(Debug, Default)]
pub struct Attestation<'a> {
    pub raw_id: Option<&'a str>,
    pub client_data_json: Option<&'a str>,
    pub attestation_object: Option<&'a str>,
    pub transports: Vec<String>,
}

/// The bytes of a sign-in's `PublicKeyCredential`.
#[derive(Debug, Default)]
pub struct Assertion<'a> {
    pub raw_id: Option<&'a str>,
    pub client_data_json: Option<&'a str>,
    pub authenticator_data: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub user_handle: Option<&'a str>,
}

fn required<'a>(value: Option<&'a str>, field: &str) -> Result<&'a str, Error> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::field(field, "This field is required."))
}

fn decode(value: Option<&str>, field: &'static str) -> Result<Vec<u8>, Error> {
    let text = required(value, field)?;
    webauthn::from_b64url(text, field).map_err(|_| Error::field(field, "Not valid base64url."))
}

fn passkey_name(name: Option<&str>) -> Result<String, Error> {
    factor_records::credential_name(name, "Passkey")
}

/// The user handle of an account's passkeys: its id, as text.
fn user_handle(user: UserId) -> String {
    webauthn::b64url(user.0.to_string().as_bytes())
}

fn credential_hash(raw_id: &[u8]) -> String {
    webauthn::sha256(raw_id)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ------------------------------------------------------------------------------- reading

async fn own_passkey(app: &App, user: UserId, passkey_id: &str) -> Result<PasskeyRecord, Error> {
    if passkey_id.len() != 64 || !passkey_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::NotFound);
    }
    let item = app
        .table
        .get(&keys::passkey(user, passkey_id), true)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(from_item(&item)?)
}

// ------------------------------------------------------------------------------- challenges

/// Stores a challenge for `purpose` (of `user` for a registration or a bound ceremony, and
/// bound to `bound_to` for a second step or a step-up); returns it, base64url.
async fn new_challenge(
    app: &App,
    purpose: &str,
    user: Option<UserId>,
    bound_to: Option<String>,
) -> Result<String, Error> {
    let challenge = random_token(32);
    let mut item = keys::webauthn_challenge(&sha256_hex(&challenge)).to_item();
    item.insert("purpose".into(), Value::S(purpose.into()));
    if let Some(user) = user {
        item.insert("user_id".into(), Value::Int(user.0));
    }
    if let Some(bound_to) = bound_to {
        item.insert("bound_to".into(), Value::S(bound_to));
    }
    item.insert(
        keys::attr::EXPIRES_AT.into(),
        Value::Int(app.clock.epoch_seconds() + CHALLENGE_TTL_SECS),
    );
    app.table.put(item, Some(Condition::item_absent())).await?;
    Ok(challenge)
}

/// A stored challenge that is live and was made for the purpose asked.
struct LiveChallenge {
    key: Key,
    user: Option<UserId>,
    bound_to: Option<String>,
}

/// The stored challenge the client data echoes, if it is live and for `purpose`.
async fn live_challenge(
    app: &App,
    challenge: &str,
    purpose: &str,
) -> Result<Option<LiveChallenge>, Error> {
    let key = keys::webauthn_challenge(&sha256_hex(challenge));
    let Some(item) = app.table.get(&key, true).await? else {
        return Ok(None);
    };
    let live = item
        .get(keys::attr::EXPIRES_AT)
        .and_then(Value::as_i64)
        .is_some_and(|at| at > app.clock.epoch_seconds());
    if !live || item.get("purpose").and_then(Value::as_str) != Some(purpose) {
        return Ok(None);
    }
    Ok(Some(LiveChallenge {
        key,
        user: item.get("user_id").and_then(Value::as_i64).map(UserId),
        bound_to: item
            .get("bound_to")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }))
}

/// The write that spends a challenge: only while it exists and has not expired.
fn spend_challenge(app: &App, key: &Key) -> TxOp {
    TxOp::Delete {
        key: key.clone(),
        condition: Some(Condition::item_present().and(Condition::Gt(
            keys::attr::EXPIRES_AT.into(),
            Value::Int(app.clock.epoch_seconds()),
        ))),
    }
}

/// Spends the challenge of a refused ceremony (best-effort: it expires anyway).
pub async fn spend_refused(app: &App, challenge: Option<&Key>) {
    if let Some(key) = challenge
        && let Err(e) = app.table.delete(key, None).await
    {
        tracing::warn!(error = %e, "passkey challenge not spent");
    }
}

/// A refused ceremony: its challenge spent (best-effort), the refusal logged, a 400.
async fn refused(
    app: &App,
    challenge: Option<&Key>,
    user: Option<UserId>,
    client: &ClientInfo,
    during: &str,
    why: Refusal,
) -> Error {
    spend_refused(app, challenge).await;
    log_event_best_effort(
        app,
        NewEvent::new(EventType::MfaChallengeFailed, user)
            .client(client)
            .failed("passkey ceremony refused")
            .metadata(json!({ "during": during, "method": "webauthn", "reason": why.to_string() })),
    )
    .await;
    Error::field("credential", why.to_string())
}

// ------------------------------------------------------------------------------- registration

/// `PublicKeyCredentialCreationOptions` for a new passkey of the caller.
pub async fn begin_registration(app: &App, principal: &Principal) -> Result<Json, Error> {
    require_recent_auth(app, principal, Sensitive::Enrolment).await?;
    let user = &principal.user;
    let existing = passkeys(app, user.id).await?;
    if existing.len() >= MAX_PASSKEYS {
        return Err(Error::BadRequest(format!(
            "At most {MAX_PASSKEYS} passkeys: remove one first."
        )));
    }
    let challenge = new_challenge(app, REGISTER, Some(user.id), None).await?;
    let exclude: Vec<Json> = existing
        .iter()
        .map(|p| json!({ "type": "public-key", "id": p.credential_id, "transports": p.transports }))
        .collect();
    Ok(json!({
        "publicKey": {
            "rp": { "id": app.config.auth.webauthn_rp_id, "name": app.config.auth.mfa_issuer },
            "user": {
                "id": user_handle(user.id),
                "name": user.username,
                "displayName": user.display_name(),
            },
            "challenge": challenge,
            "pubKeyCredParams": [
                { "type": "public-key", "alg": COSE_ES256 },
                { "type": "public-key", "alg": COSE_EDDSA },
            ],
            "timeout": CHALLENGE_TTL_SECS * 1000,
            "attestation": "none",
            "authenticatorSelection": {
                "residentKey": "required",
                "requireResidentKey": true,
                "userVerification": "required",
            },
            "excludeCredentials": exclude,
        }
    }))
}

/// A passkey registered; the recovery codes (shown once) when it is the account's first
/// second factor.
#[derive(Debug, Serialize)]
pub struct Registered {
    #[serde(flatten)]
    pub passkey: PasskeyView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// Checks a registration and stores the passkey (module rules).
pub async fn finish_registration(
    app: &App,
    principal: &Principal,
    credential: &Attestation<'_>,
    name: Option<&str>,
    client: &ClientInfo,
) -> Result<Registered, Error> {
    let name = passkey_name(name)?;
    let attested = check_attestation(app, principal, credential, client).await?;
    let user = principal.id();
    let record = PasskeyRecord {
        passkey_id: credential_hash(&attested.raw_id),
        user_id: user,
        credential_id: webauthn::b64url(&attested.raw_id),
        public_key: webauthn::b64url(&attested.public_key),
        algorithm: attested.algorithm,
        name,
        sign_count: i64::from(attested.sign_count),
        created_at: app.clock.now(),
        last_used_at: None,
        transports: credential
            .transports
            .iter()
            .take(8)
            .map(|t| t.chars().take(32).collect())
            .collect(),
    };
    let recovery_codes = store_passkey(app, &record, &attested.challenge, client).await?;
    log_event_best_effort(
        app,
        NewEvent::new(EventType::PasskeyAdded, Some(user))
            .client(client)
            .description("A passkey was registered")
            .metadata(
                json!({ "passkey_id": record.passkey_id, "algorithm": record.view().algorithm }),
            ),
    )
    .await;
    Ok(Registered {
        passkey: record.view(),
        recovery_codes,
    })
}

/// What a registration's checks established about the new credential.
struct Attested {
    /// The registration challenge's item, spent when the passkey is stored.
    challenge: Key,
    raw_id: Vec<u8>,
    public_key: Vec<u8>,
    algorithm: i64,
    sign_count: u32,
}

/// The ceremony's checks: the client data (type, origin) and a live registration challenge of
/// this user, a recent strong authentication, then the authenticator data (RP id, the
/// attested credential and its key). A refusal is logged and answered alike.
async fn check_attestation(
    app: &App,
    principal: &Principal,
    credential: &Attestation<'_>,
    client: &ClientInfo,
) -> Result<Attested, Error> {
    let raw_id = decode(credential.raw_id, "rawId")?;
    let client_data_json = decode(credential.client_data_json, "clientDataJSON")?;
    let attestation_object = decode(credential.attestation_object, "attestationObject")?;
    let user = principal.id();
    let cfg = &app.config.auth;
    let fail = |challenge: Option<Key>, why: Refusal| async move {
        refused(
            app,
            challenge.as_ref(),
            Some(user),
            client,
            "registration",
            why,
        )
        .await
    };
    let client_data =
        match webauthn::client_data(&client_data_json, "webauthn.create", &cfg.webauthn_origins) {
            Ok(data) => data,
            Err(why) => return Err(fail(None, why).await),
        };
    let challenge = match live_challenge(app, &client_data.challenge, REGISTER).await? {
        Some(live) if live.user == Some(user) => live.key,
        _ => return Err(fail(None, Refusal::Challenge).await),
    };
    require_recent_auth(app, principal, Sensitive::Enrolment).await?;
    let checked = webauthn::attestation_auth_data(&attestation_object).and_then(|auth_data| {
        let parsed = webauthn::authenticator_data(&auth_data, &cfg.webauthn_rp_id)?;
        let (id, key) = parsed.attested.ok_or(Refusal::AuthenticatorData)?;
        if id != raw_id {
            return Err(Refusal::CredentialId);
        }
        let algorithm = webauthn::key_algorithm(&key)?;
        Ok((parsed.sign_count, key, algorithm))
    });
    match checked {
        Ok((sign_count, public_key, algorithm)) => Ok(Attested {
            challenge,
            raw_id,
            public_key,
            algorithm,
            sign_count,
        }),
        Err(why) => Err(fail(Some(challenge), why).await),
    }
}

/// One transaction: the challenge spent, the credential id's owner item and the passkey put
/// if absent, and (for the account's first second factor) the recovery codes, which are
/// returned to be shown once.
async fn store_passkey(
    app: &App,
    record: &PasskeyRecord,
    challenge: &Key,
    client: &ClientInfo,
) -> Result<Option<Vec<String>>, Error> {
    let user = record.user_id;
    let mut owner = keys::passkey_credential(&record.passkey_id).to_item();
    owner.insert("user_id".into(), Value::Int(user.0));
    let mut tx = Transaction::new()
        .with(RegistrationOp::Challenge, spend_challenge(app, challenge))
        .with(
            RegistrationOp::CredentialOwner,
            TxOp::Put {
                item: owner,
                condition: Some(Condition::item_absent()),
            },
        )
        .with(
            RegistrationOp::Passkey,
            TxOp::Put {
                item: record.to_item()?,
                condition: Some(Condition::item_absent()),
            },
        );
    // The first second factor brings the recovery codes, as a first TOTP factor does: an
    // account whose only factor is a passkey must not be lost with the device.
    let recovery_codes = if second_factors(app, user).await?.any() {
        None
    } else {
        let (codes, writes) = recovery_codes::first_factor_recovery_set(app, user).await?;
        for (i, op) in writes.into_iter().enumerate() {
            tx.push(RegistrationOp::RecoveryCode(i), op);
        }
        Some(codes)
    };
    match tx.commit(&*app.table).await {
        Ok(()) => Ok(recovery_codes),
        Err(failure) if failure.condition_failed(RegistrationOp::Challenge) => Err(refused(
            app,
            None,
            Some(user),
            client,
            "registration",
            Refusal::Challenge,
        )
        .await),
        Err(failure)
            if failure.condition_failed(RegistrationOp::CredentialOwner)
                || failure.condition_failed(RegistrationOp::Passkey) =>
        {
            app.table.delete(challenge, None).await?;
            Err(Error::Conflict(
                "This passkey is already registered.".into(),
            ))
        }
        Err(failure) => Err(failure.into()),
    }
}

// ------------------------------------------------------------------------------- managing

pub async fn list(app: &App, user: UserId) -> Result<Vec<PasskeyView>, Error> {
    Ok(passkeys(app, user)
        .await?
        .iter()
        .map(PasskeyRecord::view)
        .collect())
}

pub async fn rename(
    app: &App,
    principal: &Principal,
    passkey_id: &str,
    name: Option<&str>,
) -> Result<PasskeyView, Error> {
    let name = factor_records::new_credential_name(name)?;
    let mut passkey = own_passkey(app, principal.id(), passkey_id).await?;
    factor_records::rename_credential(app, &passkey.key(), &name).await?;
    passkey.name = name;
    Ok(passkey.view())
}

/// Removes one of the caller's passkeys (a sensitive action, like removing a factor).
pub async fn remove(
    app: &App,
    principal: &Principal,
    passkey_id: &str,
    client: &ClientInfo,
) -> Result<(), Error> {
    let user = principal.id();
    let passkey = own_passkey(app, user, passkey_id).await?;
    require_recent_auth(app, principal, Sensitive::Action).await?;
    let (totp, registered) = tokio::join!(active_factors(app, user), passkeys(app, user));
    // The account's last second factor: its recovery codes go with it.
    let last = totp?.is_empty()
        && registered?
            .iter()
            .all(|p| p.passkey_id == passkey.passkey_id);
    let mut tx = Transaction::new()
        .with(
            RemovalOp::Passkey,
            TxOp::Delete {
                key: passkey.key(),
                condition: Some(Condition::item_present()),
            },
        )
        .with(
            RemovalOp::CredentialOwner,
            TxOp::Delete {
                key: keys::passkey_credential(&passkey.passkey_id),
                condition: None,
            },
        );
    if last {
        for (i, op) in recovery_codes::void_recovery_codes(app, user)
            .await?
            .into_iter()
            .enumerate()
        {
            tx.push(RemovalOp::RecoveryCode(i), op);
        }
    }
    match tx.commit(&*app.table).await {
        Ok(()) => {}
        // Removed meanwhile (another request of the owner's, or an administrator's reset).
        Err(failure) if failure.condition_failed(RemovalOp::Passkey) => {
            return Err(Error::NotFound);
        }
        Err(failure) => return Err(failure.into()),
    }
    log_event_best_effort(
        app,
        NewEvent::new(EventType::PasskeyRemoved, Some(user))
            .client(client)
            .description("A passkey was removed")
            .metadata(json!({ "passkey_id": passkey.passkey_id, "last": last })),
    )
    .await;
    Ok(())
}

// ------------------------------------------------------------------------------- sign-in

/// `PublicKeyCredentialRequestOptions` for `ceremony`: a usernameless sign-in has no allow
/// list (the authenticator offers its discoverable credentials for the RP id); a second step
/// or a step-up lists the account's passkeys, and an account without one is refused.
pub async fn request_options(app: &App, ceremony: Ceremony<'_>) -> Result<Json, Error> {
    let allow: Vec<Json> = match ceremony.user() {
        None => Vec::new(),
        Some(user) => {
            let registered = passkeys(app, user).await?;
            if registered.is_empty() {
                return Err(Error::BadRequest("This account has no passkey.".into()));
            }
            registered
                .iter()
                .map(|p| json!({ "type": "public-key", "id": p.credential_id, "transports": p.transports }))
                .collect()
        }
    };
    let challenge = new_challenge(
        app,
        ceremony.purpose(),
        ceremony.user(),
        ceremony.bound_to(),
    )
    .await?;
    Ok(json!({
        "publicKey": {
            "challenge": challenge,
            "rpId": app.config.auth.webauthn_rp_id,
            "timeout": CHALLENGE_TTL_SECS * 1000,
            "userVerification": "required",
            "allowCredentials": allow,
        }
    }))
}

/// An assertion that passed every check, not yet spent.
#[derive(Debug)]
pub struct CheckedAssertion {
    pub passkey: PasskeyRecord,
    sign_count: u32,
    challenge: Key,
}

/// The writes that spend a checked assertion, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssertionOp {
    /// The ceremony's challenge, deleted while live.
    Challenge,
    /// The passkey's sign counter, advanced from the count read.
    Counter,
}

impl CheckedAssertion {
    /// The writes that spend it, for the caller's transaction: the challenge (once, while
    /// live) and the sign counter (conditional on the count read, so one assertion is used
    /// once even where the authenticator keeps no counter).
    pub fn writes(&self, app: &App) -> [(AssertionOp, TxOp); 2] {
        [
            (
                AssertionOp::Challenge,
                spend_challenge(app, &self.challenge),
            ),
            (
                AssertionOp::Counter,
                TxOp::Update {
                    key: self.passkey.key(),
                    update: Update::new()
                        .set("sign_count", i64::from(self.sign_count))
                        .set("last_used_at", Value::from(app.clock.now())),
                    condition: Some(Condition::eq("sign_count", self.passkey.sign_count)),
                },
            ),
        ]
    }
}

/// The operations of a passkey sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SignInOp {
    Assertion(AssertionOp),
    Session,
}

/// The operations of a registration. The recovery codes of a first factor are told apart
/// only to keep the names unique: none has a condition that can fail but by a bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RegistrationOp {
    Challenge,
    CredentialOwner,
    Passkey,
    RecoveryCode(usize),
}

/// The operations of a removal; the voided recovery codes as in [`RegistrationOp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RemovalOp {
    Passkey,
    CredentialOwner,
    RecoveryCode(usize),
}

/// What checking an assertion found.
#[derive(Debug)]
pub enum Checked {
    Passed(CheckedAssertion),
    /// Refused: why, the challenge to spend (when it was found) and the account the
    /// credential belongs to (when it is known).
    Refused {
        why: Refusal,
        challenge: Option<Key>,
        user: Option<UserId>,
    },
}

/// Checks an assertion for `ceremony` (module rules) without writing anything. Malformed
/// input is an `Err` on its field; a failed check is `Ok(Checked::Refused)`.
pub async fn check_assertion(
    app: &App,
    credential: &Assertion<'_>,
    ceremony: Ceremony<'_>,
) -> Result<Checked, Error> {
    let raw_id = decode(credential.raw_id, "rawId")?;
    let client_data_json = decode(credential.client_data_json, "clientDataJSON")?;
    let auth_data = decode(credential.authenticator_data, "authenticatorData")?;
    let signature = decode(credential.signature, "signature")?;
    let user_handle_given = credential
        .user_handle
        .map(str::trim)
        .filter(|h| !h.is_empty());
    let cfg = &app.config.auth;
    let refuse = |why: Refusal, challenge: Option<&Key>, user: Option<UserId>| {
        Ok(Checked::Refused {
            why,
            challenge: challenge.cloned(),
            user,
        })
    };
    let client_data =
        match webauthn::client_data(&client_data_json, "webauthn.get", &cfg.webauthn_origins) {
            Ok(data) => data,
            Err(why) => return refuse(why, None, ceremony.user()),
        };
    let challenge = match live_challenge(app, &client_data.challenge, ceremony.purpose()).await? {
        // A bound ceremony's challenge was made for this account and this sign-in or session.
        Some(live) if live.user == ceremony.user() && live.bound_to == ceremony.bound_to() => {
            live.key
        }
        _ => return refuse(Refusal::Challenge, None, ceremony.user()),
    };
    let passkey_id = credential_hash(&raw_id);
    let owner = match ceremony.user() {
        Some(user) => Some(user),
        None => app
            .table
            .get(&keys::passkey_credential(&passkey_id), true)
            .await?
            .and_then(|item| item.get("user_id").and_then(Value::as_i64))
            .map(UserId),
    };
    let passkey = match owner {
        Some(owner) => app
            .table
            .get(&keys::passkey(owner, &passkey_id), true)
            .await?
            .map(|item| from_item::<PasskeyRecord>(&item))
            .transpose()?,
        None => None,
    };
    let Some(passkey) = passkey else {
        // Not a passkey of this service, or (for a bound ceremony) not one of this account's.
        let why = match ceremony.user() {
            Some(_) => Refusal::CredentialId,
            None => Refusal::Signature,
        };
        return refuse(why, Some(&challenge), ceremony.user());
    };
    let user_id = passkey.user_id;
    if user_handle_given.is_some_and(|h| h.trim_end_matches('=') != user_handle(user_id)) {
        return refuse(Refusal::CredentialId, Some(&challenge), Some(user_id));
    }
    let stored_count = u32::try_from(passkey.sign_count).unwrap_or(u32::MAX);
    let checked = webauthn::authenticator_data(&auth_data, &cfg.webauthn_rp_id).and_then(|data| {
        let key = webauthn::from_b64url(&passkey.public_key, "public key")?;
        webauthn::verify_assertion(&key, &auth_data, &client_data.hash, &signature)?;
        if !webauthn::counter_ok(stored_count, data.sign_count) {
            return Err(Refusal::Counter);
        }
        Ok(data.sign_count)
    });
    match checked {
        Ok(sign_count) => Ok(Checked::Passed(CheckedAssertion {
            passkey,
            sign_count,
            challenge,
        })),
        Err(why) => refuse(why, Some(&challenge), Some(user_id)),
    }
}

/// A sign-in with a passkey alone.
#[derive(Debug)]
pub struct PasskeySignIn {
    pub user: UserRecord,
    pub session: StartedSession,
}

/// Checks an assertion and starts a session at aal2 (module rules).
pub async fn finish_sign_in(
    app: &App,
    credential: &Assertion<'_>,
    via: AuthMethod,
    client: &ClientInfo,
) -> Result<PasskeySignIn, Error> {
    let fail = |challenge: Option<Key>, user: Option<UserId>, why: Refusal| async move {
        refused(app, challenge.as_ref(), user, client, "sign_in", why).await
    };
    let checked = match check_assertion(app, credential, Ceremony::SignIn).await? {
        Checked::Passed(checked) => checked,
        Checked::Refused {
            why,
            challenge,
            user,
        } => return Err(fail(challenge, user, why).await),
    };
    let user = match accounts::get_user_consistent(app, checked.passkey.user_id).await? {
        Some(user) if !user.deleting => user,
        _ => return Err(fail(Some(checked.challenge), None, Refusal::Signature).await),
    };
    if user.is_suspended {
        app.table.delete(&checked.challenge, None).await?;
        return Err(Error::Forbidden(crate::access::suspended_detail(&user)));
    }
    let assurance = Assurance {
        aal: 2,
        amr: vec!["webauthn".into()],
        password_at: None,
        second_factor_at: Some(app.clock.epoch_seconds()),
    };
    let started = sessions::new_session_with(app, &user, client, via, assurance);
    let mut tx = Transaction::new();
    for (name, op) in checked.writes(app) {
        tx.push(SignInOp::Assertion(name), op);
    }
    tx.push(
        SignInOp::Session,
        TxOp::Put {
            item: started.record.to_item()?,
            condition: Some(Condition::item_absent()),
        },
    );
    match tx.commit(&*app.table).await {
        Ok(()) => {}
        Err(failure) if failure.condition_failed(SignInOp::Assertion(AssertionOp::Challenge)) => {
            return Err(fail(None, Some(user.id), Refusal::Challenge).await);
        }
        Err(failure) if failure.condition_failed(SignInOp::Assertion(AssertionOp::Counter)) => {
            return Err(fail(Some(checked.challenge), Some(user.id), Refusal::Counter).await);
        }
        Err(failure) => return Err(failure.into()),
    }
    let passkey_id = &checked.passkey.passkey_id;
    log_event_best_effort(
        app,
        NewEvent::new(EventType::PasskeySignIn, Some(user.id))
            .client(client)
            .session(&started.record.session_id)
            .description("Signed in with a passkey")
            .metadata(
                json!({ "method": via, "amr": started.record.amr, "passkey_id": passkey_id }),
            ),
    )
    .await;
    crate::metrics::emit(crate::metrics::Metric::Login);
    Ok(PasskeySignIn {
        user,
        session: started,
    })
}
