//! An account's second factors as stored, and what several flows read of them: its TOTP
//! factors and passkeys, whether it has any ([`second_factors`]), and the one rule for naming
//! either. The flows (`mfa`, `passkeys`) build on this module; it names neither.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::App;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{
    Condition, Item, Key, Query, SortCondition, StoreError, Update, from_item, keys, to_item,
};

/// Longest factor name.
pub const NAME_MAX_CHARS: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorStatus {
    Pending,
    Active,
}

/// A TOTP factor as stored. The sealed secret never leaves the domain (see `Debug`, and
/// [`FactorView`] for what clients see).
#[derive(Clone, Serialize, Deserialize)]
pub struct FactorRecord {
    pub factor_id: String,
    pub user_id: UserId,
    pub name: String,
    /// The secret, sealed for this user and factor.
    pub sealed_secret: String,
    pub status: FactorStatus,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub activated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// The last step whose code was accepted (0: none yet).
    #[serde(default)]
    pub last_step: i64,
    /// Pending factors only: when the unconfirmed enrolment lapses (the table's TTL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for FactorRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FactorRecord")
            .field("factor_id", &self.factor_id)
            .field("user_id", &self.user_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl FactorRecord {
    pub(super) fn key(&self) -> Key {
        keys::mfa_factor(self.user_id, &self.factor_id)
    }

    pub(super) fn to_item(&self) -> Result<Item, Error> {
        let mut item = to_item(self)?;
        let key = self.key();
        keys::set_key(&mut item, key);
        Ok(item)
    }

    /// The secret, unsealed.
    pub(super) fn secret(&self, app: &App) -> Result<Vec<u8>, Error> {
        app.seal_keys
            .open(
                &self.sealed_secret,
                &seal_context(self.user_id, &self.factor_id),
            )
            .ok_or_else(|| {
                Error::Internal(format!(
                    "the secret of factor {} does not open with the configured keys",
                    self.factor_id
                ))
            })
    }

    pub fn view(&self) -> FactorView {
        FactorView {
            id: self.factor_id.clone(),
            kind: "totp",
            name: self.name.clone(),
            status: self.status,
            created_at: self.created_at,
            activated_at: self.activated_at,
            last_used_at: self.last_used_at,
        }
    }
}

/// What clients see of a factor.
#[derive(Clone, Debug, Serialize)]
pub struct FactorView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: String,
    pub status: FactorStatus,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What the associated data of a sealed secret names: its user and factor.
pub(super) fn seal_context(user: UserId, factor_id: &str) -> String {
    format!("totp:{user}:{factor_id}")
}

/// Every factor of the user, pending and active (expired enrolments are invisible).
pub async fn factors(app: &App, user: UserId) -> Result<Vec<FactorRecord>, Error> {
    let query = Query::new(keys::Index::Primary, keys::user_partition(user))
        .sort(SortCondition::BeginsWith(keys::MFA_FACTOR_PREFIX.into()))
        .consistent()
        .limit(50);
    let page = app.table.query(query).await?;
    page.items
        .iter()
        .map(|item| from_item(item).map_err(Error::from))
        .collect()
}

/// The user's active factors.
pub async fn active_factors(app: &App, user: UserId) -> Result<Vec<FactorRecord>, Error> {
    Ok(factors(app, user)
        .await?
        .into_iter()
        .filter(|f| f.status == FactorStatus::Active)
        .collect())
}

/// The second factors an account has: active TOTP factors and passkeys (a passkey is a
/// second factor after a password as well as a sign-in of its own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecondFactors {
    pub totp: bool,
    pub passkeys: bool,
}

impl SecondFactors {
    pub fn any(self) -> bool {
        self.totp || self.passkeys
    }

    /// What a pending sign-in or a step-up accepts as the second factor.
    pub fn methods(self) -> Vec<&'static str> {
        let mut methods = Vec::with_capacity(3);
        if self.totp {
            methods.push("totp");
        }
        if self.passkeys {
            methods.push("webauthn");
        }
        methods.push("recovery_code");
        methods
    }
}

/// The user's second factors (the sign-in and step-up rules read this): one round trip.
pub async fn second_factors(app: &App, user: UserId) -> Result<SecondFactors, Error> {
    let (totp, passkeys) = tokio::join!(
        active_factors(app, user),
        super::passkeys::passkeys(app, user)
    );
    Ok(SecondFactors {
        totp: !totp?.is_empty(),
        passkeys: !passkeys?.is_empty(),
    })
}

/// The name of a factor or passkey as given (trimmed, at most [`NAME_MAX_CHARS`]), or
/// `default` when none is.
pub(crate) fn credential_name(name: Option<&str>, default: &str) -> Result<String, Error> {
    let name = name.map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Ok(default.into());
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(Error::field(
            "name",
            format!("Ensure this field has no more than {NAME_MAX_CHARS} characters."),
        ));
    }
    Ok(name.to_owned())
}

/// A new name for a factor or passkey: a blank one is a field error.
pub(crate) fn new_credential_name(name: Option<&str>) -> Result<String, Error> {
    match name.map(str::trim) {
        Some(n) if !n.is_empty() => credential_name(Some(n), ""),
        _ => Err(Error::field("name", "This field may not be blank.")),
    }
}

/// Stores `name` on the caller's factor or passkey at `key` (read as the caller's just
/// before); one gone meanwhile is 404.
pub(crate) async fn rename_credential(
    app: &App,
    key: &crate::store::Key,
    name: &str,
) -> Result<(), Error> {
    match app
        .table
        .update(
            key,
            Update::new().set("name", name),
            Some(Condition::item_present()),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(StoreError::ConditionFailed) => Err(Error::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// A passkey as stored. The public key is not secret, but is not shown either.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PasskeyRecord {
    /// SHA-256 (hex) of the credential id: the passkey's id in URLs and keys.
    pub passkey_id: String,
    pub user_id: UserId,
    /// The credential id, base64url.
    pub credential_id: String,
    /// The COSE public key as the authenticator sent it, base64url.
    pub public_key: String,
    pub algorithm: i64,
    pub name: String,
    pub sign_count: i64,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub transports: Vec<String>,
}

impl PasskeyRecord {
    pub(super) fn key(&self) -> Key {
        keys::passkey(self.user_id, &self.passkey_id)
    }

    pub(super) fn to_item(&self) -> Result<Item, Error> {
        let mut item = to_item(self)?;
        let key = self.key();
        keys::set_key(&mut item, key);
        Ok(item)
    }

    pub fn view(&self) -> PasskeyView {
        PasskeyView {
            id: self.passkey_id.clone(),
            kind: "webauthn",
            name: self.name.clone(),
            credential_id: self.credential_id.clone(),
            algorithm: match self.algorithm {
                super::webauthn::COSE_ES256 => "ES256",
                _ => "EdDSA",
            },
            created_at: self.created_at,
            last_used_at: self.last_used_at,
        }
    }
}

/// What clients see of a passkey.
#[derive(Clone, Debug, Serialize)]
pub struct PasskeyView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: String,
    pub credential_id: String,
    pub algorithm: &'static str,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The user's passkeys.
pub async fn passkeys(app: &App, user: UserId) -> Result<Vec<PasskeyRecord>, Error> {
    let query = Query::new(keys::Index::Primary, keys::user_partition(user))
        .sort(SortCondition::BeginsWith(keys::PASSKEY_PREFIX.into()))
        .consistent()
        .limit(50);
    let page = app.table.query(query).await?;
    page.items
        .iter()
        .map(|item| from_item(item).map_err(Error::from))
        .collect()
}

/// The items of a passkey: itself and its credential id's owner item.
pub fn keys_of(passkey: &PasskeyRecord) -> [Key; 2] {
    [passkey.key(), keys::passkey_credential(&passkey.passkey_id)]
}
