//! SES feedback: a hard bounce or a complaint about a message marks the recipient's account
//! (`UserRecord::email_suppressed`, "bounce" or "complaint") so the service stops mailing that
//! address, as AWS requires of senders. The events come from the SES configuration set of
//! `template.yaml` through the default EventBridge bus to the `badge-events` function
//! (`triggers.rs`); this module sees only their `detail-type` and `detail`.
//!
//! A soft (transient) bounce changes nothing. An address that names no account, or an account
//! whose address changed since, is left alone. A `detail` that is not an SES bounce or
//! complaint is an error, so EventBridge's delivery fails into the dead-letter queue instead
//! of being dropped.

use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::App;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{Condition, StoreError, Update, keys};

/// The `source` of SES's events on the bus.
pub const SOURCE: &str = "aws.ses";
/// The `detail-type` of a bounce.
pub const BOUNCED: &str = "Email Bounced";
/// The `detail-type` of a complaint.
pub const COMPLAINED: &str = "Email Complaint Received";

/// The user field, and its values.
pub const FIELD: &str = "email_suppressed";
pub const BOUNCE: &str = "bounce";
pub const COMPLAINT: &str = "complaint";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    bounced_recipients: Vec<Recipient>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    complained_recipients: Vec<Recipient>,
}

#[derive(Deserialize)]
struct BounceDetail {
    bounce: Bounce,
}

#[derive(Deserialize)]
struct ComplaintDetail {
    complaint: Complaint,
}

fn unreadable(detail_type: &str, e: impl std::fmt::Display) -> Error {
    Error::BadRequest(format!("not an SES `{detail_type}` event: {e}"))
}

/// Handles one SES event; answers the accounts it marked.
pub async fn handle(app: &App, detail_type: &str, detail: &Json) -> Result<Json, Error> {
    let (reason, recipients) = match detail_type {
        BOUNCED => {
            let d: BounceDetail =
                serde_json::from_value(detail.clone()).map_err(|e| unreadable(detail_type, e))?;
            // Only a permanent bounce says the address will never take mail.
            if d.bounce.bounce_type != "Permanent" {
                return Ok(json!({ "received": detail_type, "suppressed": [] }));
            }
            (BOUNCE, d.bounce.bounced_recipients)
        }
        COMPLAINED => {
            let d: ComplaintDetail =
                serde_json::from_value(detail.clone()).map_err(|e| unreadable(detail_type, e))?;
            (COMPLAINT, d.complaint.complained_recipients)
        }
        other => return Err(unreadable(other, "unexpected detail-type")),
    };
    let mut suppressed = Vec::new();
    for recipient in recipients {
        if let Some(user) = suppress(app, &recipient.email_address, reason).await? {
            suppressed.push(user);
        }
    }
    Ok(json!({ "received": detail_type, "suppressed": suppressed }))
}

/// Marks the account whose address `address` is, if any; answers its id.
async fn suppress(app: &App, address: &str, reason: &str) -> Result<Option<UserId>, Error> {
    // SES may write `Name <a@b>`; the address is what is inside the brackets.
    let bare = address
        .rsplit_once('<')
        .map_or(address, |(_, rest)| rest.trim_end_matches('>'))
        .trim();
    let Ok(email) = crate::model::EmailAddress::parse(bare) else {
        tracing::warn!(reason, "SES feedback for an unreadable address");
        return Ok(None);
    };
    let Some(id) = super::id_by_email(app, &email).await? else {
        return Ok(None);
    };
    let Some(user) = super::get_user(app, id).await? else {
        return Ok(None);
    };
    if !user.email.eq_ignore_ascii_case(email.as_str()) {
        return Ok(None);
    }
    let update = Update::new().set(FIELD, reason);
    // Only while the account still has that address (it may change in between).
    let condition = Condition::item_present().and(Condition::eq("email", user.email.as_str()));
    match app
        .table
        .update(&keys::user(id), update, Some(condition))
        .await
    {
        Ok(_) => {
            tracing::warn!(user = id.0, reason, "address suppressed after SES feedback");
            Ok(Some(id))
        }
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
