//! Accounts: the user's profile item (the seed's `User` + `UserProfile` in one item), its
//! credentials and settings, and lookups by id, username and email.

pub mod code_mail;
pub mod email_change;
pub mod export;
pub mod mail_feedback;
pub mod names;
pub mod password;
pub mod records;
pub mod registration;
pub mod users;

use crate::App;
use crate::error::Error;
use crate::model::{EmailAddress, UserId, Username};
use crate::store::{Key, Value, from_item, keys};

pub use records::{CredentialsRecord, SettingsRecord, UserRecord};

/// A user by id (`None` when there is no such user).
pub async fn get_user(app: &App, id: UserId) -> Result<Option<UserRecord>, Error> {
    let item = app.table.get(&keys::user(id), false).await?;
    Ok(item.map(|item| from_item(&item)).transpose()?)
}

/// A user by id with a strongly consistent read (right after a write, or before one).
pub async fn get_user_consistent(app: &App, id: UserId) -> Result<Option<UserRecord>, Error> {
    let item = app.table.get(&keys::user(id), true).await?;
    Ok(item.map(|item| from_item(&item)).transpose()?)
}

/// The owner of a unique item (username or email), if any. An address held after an email
/// change (so that the change can be reverted, `email_change.rs`) names no account: login,
/// reset and verification by the old address find nothing.
async fn owner_of(app: &App, unique: &Key) -> Result<Option<UserId>, Error> {
    let item = app.table.get(unique, true).await?;
    Ok(item
        .filter(|i| i.get(email_change::HELD_FOR_REVERT).is_none())
        .and_then(|i| i.get("user_id").and_then(Value::as_i64))
        .map(UserId))
}

/// The id of the user with this username (case-insensitive).
pub async fn id_by_username(app: &App, username: &Username) -> Result<Option<UserId>, Error> {
    owner_of(app, &keys::unique_username(&username.key())).await
}

/// The id of the user with this email address (case-insensitive).
pub async fn id_by_email(app: &App, email: &EmailAddress) -> Result<Option<UserId>, Error> {
    owner_of(app, &keys::unique_email(&email.key())).await
}

/// The account of an address, if there is one.
pub async fn user_by_email(app: &App, email: &EmailAddress) -> Result<Option<UserRecord>, Error> {
    match id_by_email(app, email).await? {
        Some(id) => get_user_consistent(app, id).await,
        None => Ok(None),
    }
}

/// The case-folded form of a stored address, as its unique item has it.
pub(crate) fn email_key(stored: &str) -> String {
    EmailAddress::parse(stored)
        .map(|e| e.key())
        .unwrap_or_else(|_| stored.to_lowercase())
}

/// The user's credentials (never leave the domain).
pub async fn get_credentials(app: &App, id: UserId) -> Result<Option<CredentialsRecord>, Error> {
    let item = app.table.get(&keys::credentials(id), true).await?;
    Ok(item.map(|item| from_item(&item)).transpose()?)
}
