//! Authentication: passwords, emailed codes, sessions, JWTs, API tokens, and the rules that
//! keep accounts safe (throttling, lockout, bot detection).
//!
//! The HTTP layer turns a request into [`Credentials`] and a [`client::ClientInfo`];
//! [`principal::authenticate`] turns those into a [`Principal`]. Nothing here sees HTTP types.

pub mod api_tokens;
pub mod bot_check;
pub mod bots;
pub mod budget;
pub mod client;
pub mod codes;
pub mod jwt;
mod jwt_crypto;
pub mod limits;
pub mod login;
pub mod passwords;
pub mod principal;
pub mod secrets;
pub mod sessions;

use crate::accounts::UserRecord;

/// How a request proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// The `sessionid` cookie (CSRF-checked on unsafe methods).
    Session,
    /// `Authorization: Bearer <access JWT>`.
    Jwt,
    /// `Authorization: Token <API token>`.
    ApiToken,
}

/// What a request presented, as the HTTP layer read it from headers and cookies.
#[derive(Clone, Debug, Default)]
pub enum Credentials {
    #[default]
    None,
    Bearer(String),
    ApiToken(String),
    SessionCookie {
        cookie: String,
        /// The `csrftoken` cookie and the `X-CSRFToken` header, compared on unsafe methods.
        csrf_cookie: Option<String>,
        csrf_header: Option<String>,
        unsafe_method: bool,
    },
    /// An `Authorization` header that is none of the above (401, not anonymous).
    Malformed,
}

/// The authenticated caller.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: UserRecord,
    pub method: AuthMethod,
    /// The login session behind a cookie or a JWT (API tokens have none).
    pub session_id: Option<String>,
    /// The API token's id, for API-token requests.
    pub api_token_id: Option<String>,
    /// A fresh access token when the presented one was close to expiry (`X-Renewed-Access`).
    pub renewed_access: Option<String>,
}

impl Principal {
    pub fn id(&self) -> crate::model::UserId {
        self.user.id
    }
}
