//! The mail port: SES v2 in Lambda, a file outbox locally.

pub mod outbox;
pub mod ses;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One message with a plain-text and an HTML part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum MailError {
    /// The provider refused or could not be reached; the message was not sent.
    #[error("mail not sent: {0}")]
    NotSent(String),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    fn engine(&self) -> &'static str;
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}
