//! Value types that parse: once a `Username` or `EmailAddress` exists it is valid, so nothing
//! downstream validates again.

mod passwords;
pub mod text;
mod time_zone;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use passwords::{PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, password_problems};
pub use time_zone::TimeZone;

/// A user's id: a positive integer, allocated in order, as clients of the Django version know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for UserId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.parse::<i64>() {
            Ok(n) if n > 0 && !s.starts_with('+') => Ok(UserId(n)),
            _ => Err(()),
        }
    }
}

/// The roles of the seed's `UserProfile.role`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    #[default]
    Normal,
    DataProvider,
    Professional,
    Admin,
    Moderator,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Owner,
        Role::Normal,
        Role::DataProvider,
        Role::Professional,
        Role::Admin,
        Role::Moderator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Normal => "normal",
            Role::DataProvider => "data_provider",
            Role::Professional => "professional",
            Role::Admin => "admin",
            Role::Moderator => "moderator",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Admins (and the platform owner) administer accounts.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Admin | Role::Owner)
    }

    /// Moderators act on content and accounts short of role changes.
    pub fn is_staff(self) -> bool {
        self.is_admin() || self == Role::Moderator
    }
}

/// A username: 3 to 30 characters of ASCII letters, digits, `_`, `.` and `-`. Unique without
/// regard to case; [`Username::key`] is the form uniqueness and lookups use.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Username, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("This field may not be blank.".into());
        }
        if !(3..=30).contains(&s.chars().count()) {
            return Err("Ensure this field has between 3 and 30 characters.".into());
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        {
            return Err(
                "Enter a valid username. This value may contain only letters, numbers, and _ . - characters."
                    .into(),
            );
        }
        Ok(Username(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form: the unique item and the username index use it.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl TryFrom<String> for Username {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Username::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

/// An email address, syntax-checked by the `email_address` crate (RFC 5322 addr-spec), at most
/// 254 characters. Unique without regard to case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<EmailAddress, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("This field may not be blank.".into());
        }
        let valid = s.len() <= 254
            && email_address::EmailAddress::parse_with_options(
                s,
                email_address::Options::default().without_display_text().without_domain_literal(),
            )
            .is_ok()
            // A deliverable address has a dot in its domain (no `user@localhost` sign-ups).
            && s.rsplit_once('@').is_some_and(|(_, domain)| domain.contains('.') && !domain.ends_with('.'));
        if !valid {
            return Err("Enter a valid email address.".into());
        }
        // Domains are case-insensitive; keep the local part as typed for display.
        let (local, domain) = s.rsplit_once('@').unwrap_or((s, ""));
        Ok(EmailAddress(format!(
            "{local}@{}",
            domain.to_ascii_lowercase()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form: the unique item uses it.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        EmailAddress::parse(&s)
    }
}

impl From<EmailAddress> for String {
    fn from(e: EmailAddress) -> String {
        e.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(
            Username::parse(" Jane.Doe-1 ").unwrap().as_str(),
            "Jane.Doe-1"
        );
        assert_eq!(Username::parse("Jane").unwrap().key(), "jane");
        for bad in ["", "ab", "a b c", "jäne", &"x".repeat(31), "jane@x"] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
        assert!(Username::parse(&"x".repeat(30)).is_ok());
    }

    #[test]
    fn emails() {
        assert_eq!(
            EmailAddress::parse("Jane@Example.COM").unwrap().as_str(),
            "Jane@example.com"
        );
        assert_eq!(
            EmailAddress::parse("Jane@Example.COM").unwrap().key(),
            "jane@example.com"
        );
        for bad in [
            "",
            "jane",
            "jane@",
            "@example.com",
            "jane@localhost",
            "Jane <jane@example.com>",
            "a@b@c.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_ids_are_positive_integers() {
        assert_eq!("12".parse::<UserId>(), Ok(UserId(12)));
        for bad in ["0", "-1", "+3", "x", "", "1.5"] {
            assert!(bad.parse::<UserId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn roles() {
        assert_eq!(Role::parse("data_provider"), Some(Role::DataProvider));
        assert!(
            Role::Owner.is_admin() && Role::Moderator.is_staff() && !Role::Moderator.is_admin()
        );
        assert_eq!(
            serde_json::to_string(&Role::DataProvider).unwrap(),
            "\"data_provider\""
        );
    }
}
