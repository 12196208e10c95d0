//! What a JWT says: its user, session, lifetime, type, and the session's assurance when issued.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::UserId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    Access,
    Refresh,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    /// Not before: this service never sets it, but honours it in a token that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub token_type: TokenType,
    /// The session's assurance level when the token was issued (1 or 2; 0 in tokens issued
    /// before second factors). Informative: what a request may do is decided from the session.
    #[serde(default)]
    pub aal: u8,
    /// The session's authentication methods when the token was issued (RFC 8176 names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

impl Claims {
    /// The user the token speaks for (`sub`).
    pub fn user_id(&self) -> Option<UserId> {
        self.sub.parse().ok()
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_default()
    }
}
