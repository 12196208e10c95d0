//! Verification and reset codes requested by address, mailed after the answer.
//!
//! `POST /api/auth/password/reset/` and `/resend-code/` answer the same body for every address;
//! they must also take the same time, or the answer's latency tells whether an address has an
//! account (looking it up, writing a code and calling SES take milliseconds that an unknown
//! address does not spend). So the request path does the same work for every address: it
//! validates, counts the rate limits, and publishes one `CodeMailRequested` event. Whoever
//! handles the event (the `badge-events` function behind EventBridge in AWS; locally the
//! in-process bus, in a task of its own) looks the address up and, when it has an account in the
//! right state, issues and mails the code.

use serde_json::{Value as Json, json};

use crate::App;
use crate::accounts::user_by_email;
use crate::activity::events::{EventType, NewEvent, log_event_best_effort};
use crate::auth::client::ClientInfo;
use crate::auth::codes::{self, CodePurpose};
use crate::bus::DomainEvent;
use crate::error::Error;
use crate::model::EmailAddress;

/// The detail type of the event that asks for a code mail.
pub const CODE_MAIL_REQUESTED: &str = "CodeMailRequested";

/// What a code mail is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeMail {
    /// A new verification code, for an account that is not verified yet.
    Verification,
    /// A password reset code, for any account.
    Reset,
}

impl CodeMail {
    fn as_str(self) -> &'static str {
        match self {
            CodeMail::Verification => "verification",
            CodeMail::Reset => "reset",
        }
    }

    fn parse(raw: &str) -> Option<CodeMail> {
        match raw {
            "verification" => Some(CodeMail::Verification),
            "reset" => Some(CodeMail::Reset),
            _ => None,
        }
    }
}

/// Publishes the request; the same call, with the same cost, for every address.
pub async fn request(
    app: &App,
    kind: CodeMail,
    email: &EmailAddress,
    client: &ClientInfo,
) -> Result<(), Error> {
    let detail = json!({
        "kind": kind.as_str(),
        "email": email.as_str(),
        "ip": client.ip_string(),
        "user_agent": client.user_agent,
    });
    let event = DomainEvent::new(CODE_MAIL_REQUESTED, detail, app.clock.now());
    app.bus
        .publish_after_response(&[event])
        .await
        .map_err(|e| Error::Unavailable {
            reason: e.to_string(),
            retry_after_secs: 5,
        })
}

/// Handles a `CodeMailRequested` event: the lookup, the code and the mail. Nothing to do for
/// an address with no account (or, for a verification code, a verified one).
pub async fn handle(app: &App, detail: &Json) -> Result<(), Error> {
    let text = |name: &str| detail.get(name).and_then(Json::as_str);
    let (Some(kind), Some(email)) = (text("kind").and_then(CodeMail::parse), text("email")) else {
        return Err(Error::BadRequest(
            "a CodeMailRequested event without kind or email".into(),
        ));
    };
    let email = EmailAddress::parse(email)
        .map_err(|e| Error::BadRequest(format!("a CodeMailRequested event's address: {e}")))?;
    let client = ClientInfo {
        ip: text("ip").and_then(|ip| ip.parse().ok()),
        user_agent: text("user_agent").map(str::to_owned),
        ..ClientInfo::default()
    };
    let Some(user) = user_by_email(app, &email).await? else {
        return Ok(());
    };
    let (purpose, event_type, description) = match kind {
        CodeMail::Verification if user.is_verified => return Ok(()),
        CodeMail::Verification => (
            CodePurpose::Verify,
            EventType::VerificationSent,
            "verification code sent",
        ),
        CodeMail::Reset => (
            CodePurpose::Reset,
            EventType::PasswordResetRequested,
            "password reset code sent",
        ),
    };
    codes::issue_code(app, &user, purpose).await?;
    log_event_best_effort(
        app,
        NewEvent::new(event_type, Some(user.id))
            .client(&client)
            .description(description),
    )
    .await;
    Ok(())
}

/// The in-process bus's handler of code mails (the local counterpart of the EventBridge rule
/// that brings them to the `badge-events` function).
pub struct CodeMailSubscriber {
    parts: crate::app::AppParts,
}

impl CodeMailSubscriber {
    /// The handler over the ports of `app`, which must use the in-process bus.
    pub fn new(app: &App) -> Option<CodeMailSubscriber> {
        Some(CodeMailSubscriber {
            parts: crate::app::AppParts::of(app)?,
        })
    }
}

#[async_trait::async_trait]
impl crate::bus::Subscriber for CodeMailSubscriber {
    async fn handle(&self, event: &DomainEvent) {
        if event.source != crate::bus::EVENT_SOURCE || event.detail_type != CODE_MAIL_REQUESTED {
            return;
        }
        let Some(app) = self.parts.app() else {
            return;
        };
        if let Err(e) = handle(&app, &event.detail).await {
            tracing::warn!(error = %e, "code mail not sent");
        }
    }
}
