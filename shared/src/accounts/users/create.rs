//! Administrators creating accounts.

use crate::App;
use crate::access::{self, Actor};
use crate::accounts::UserRecord;
use crate::accounts::registration::{self, CreateOptions, RegisterInput};
use crate::auth::client::ClientInfo;
use crate::error::Error;
use crate::model::Role;

/// `POST /api/users/` input: a registration plus the role and verification state.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct CreateUserInput {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<String>,
    pub is_verified: Option<bool>,
}

pub(super) fn parse_role(raw: &str) -> Result<Role, Error> {
    Role::parse(raw).ok_or_else(|| {
        let allowed: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        Error::field(
            "role",
            format!(
                "\"{raw}\" is not a valid choice. Choose one of: {}.",
                allowed.join(", ")
            ),
        )
    })
}

/// An administrator creates an account with profile and settings, verified or not (an
/// unverified one is mailed its code).
pub async fn create_user(
    app: &App,
    actor: Actor,
    input: CreateUserInput,
    client: &ClientInfo,
) -> Result<UserRecord, Error> {
    access::require_admin(actor)?;
    let role = match input.role.as_deref() {
        Some(raw) => parse_role(raw)?,
        None => Role::Normal,
    };
    access::may_create_with_role(actor, role)?;
    let registration = RegisterInput {
        username: input.username,
        email: input.email,
        password: input.password,
        first_name: input.first_name,
        last_name: input.last_name,
        honeypot: None,
    };
    let options = CreateOptions {
        role,
        is_verified: input.is_verified.unwrap_or(false),
        created_by: actor.user_id(),
    };
    registration::create_account(app, registration, options, client).await
}
