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
pub mod factor_records;
pub mod jwt;
mod jwt_claims;
mod jwt_crypto;
mod jwt_keys;
pub mod limits;
pub mod login;
pub mod mfa;
pub mod passkeys;
pub mod passwords;
pub mod policy;
pub mod principal;
pub mod reauth;
pub mod recovery_codes;
pub mod sealed;
pub mod secrets;
pub mod sessions;
pub mod totp;
pub mod webauthn;

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
    /// How strongly the session behind a cookie or a JWT was authenticated, and when (API
    /// tokens have none).
    pub assurance: Option<Assurance>,
}

/// The assurance of a session: its level (`aal`: 1 after a password, 2 after a second factor
/// too), the methods used (`amr`: RFC 8176 names, `pwd`, `otp`, and `recovery` for a recovery
/// code), and when the password and the second factor were last proved (epoch seconds; the
/// step-up rule reads them).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Assurance {
    pub aal: u8,
    pub amr: Vec<String>,
    pub password_at: Option<i64>,
    pub second_factor_at: Option<i64>,
}

impl Assurance {
    /// A password alone, proved at `now`.
    pub fn password(now: i64) -> Assurance {
        Assurance {
            aal: 1,
            amr: vec!["pwd".into()],
            password_at: Some(now),
            second_factor_at: None,
        }
    }

    /// A password and then a second factor (`otp` or `recovery`), the latter proved at `now`.
    pub fn two_factor(password_at: i64, method: &str, now: i64) -> Assurance {
        Assurance {
            aal: 2,
            amr: vec!["pwd".into(), method.into()],
            password_at: Some(password_at),
            second_factor_at: Some(now),
        }
    }
}

impl Principal {
    pub fn id(&self) -> crate::model::UserId {
        self.user.id
    }
}
