//! The Lambda mailer: SES v2 `SendEmail` with simple content (a subject, a text part and an
//! HTML part, all UTF-8) from the configured sender.

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use super::{Email, MailError, Mailer};

pub struct SesMailer {
    client: crate::aws::LazyClient<Client>,
    from: String,
    /// Sends with this configuration set (its bounce and complaint events), if any.
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(sdk: &crate::aws::SdkConfig, from: String) -> Self {
        SesMailer {
            client: crate::aws::LazyClient::new(sdk, Client::new),
            from,
            configuration_set: None,
        }
    }

    /// Every message names `configuration_set`.
    pub fn with_configuration_set(mut self, configuration_set: Option<String>) -> Self {
        self.configuration_set = configuration_set;
        self
    }
}

#[async_trait]
impl Mailer for SesMailer {
    fn engine(&self) -> &'static str {
        "ses"
    }

    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = Message::builder()
            .subject(utf8(&email.subject)?)
            .body(
                Body::builder()
                    .text(utf8(&email.text)?)
                    .html(utf8(&email.html)?)
                    .build(),
            )
            .build();
        self.client
            .get()
            .send_email()
            .from_email_address(&self.from)
            .set_configuration_set_name(self.configuration_set.clone())
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map(|_| ())
            .map_err(not_sent)
    }
}

fn utf8(data: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError::NotSent(format!("ses: {e}")))
}

/// The provider's error code and message, or the transport failure. Never the message itself:
/// it holds verification codes and reset links, which must stay out of logs.
fn not_sent<E, R>(err: SdkError<E, R>) -> MailError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let reason = match (&err, err.code()) {
        (SdkError::ServiceError(_), Some(code)) => {
            format!("ses: {code}: {}", err.message().unwrap_or("no message"))
        }
        _ => format!("ses: {}", DisplayErrorContext(&err)),
    };
    MailError::NotSent(reason)
}
