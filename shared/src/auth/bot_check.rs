//! Refusing automated register and login requests: what `auth::bots` detects is answered with
//! a 400 and logged as `bot_detected`. Apart from the detection so that it stays free of the
//! event log (which reads the client, which reads the detection).

use serde_json::json;

use super::bots;
use super::client::ClientInfo;
use crate::App;
use crate::activity::events::{EventType, NewEvent, log_event_best_effort};
use crate::error::Error;

/// The answer to a request refused as automated (login and registration alike).
pub const BOT_REJECTED: &str = "Request rejected.";

/// Refuses automated requests (honeypot filled, no or a known-bot user agent) with a 400 and a
/// `bot_detected` event.
pub async fn refuse_bots(
    app: &App,
    client: &ClientInfo,
    honeypot: Option<&str>,
    endpoint: &str,
) -> Result<(), Error> {
    let Some(signal) = bots::detect(client.user_agent.as_deref(), honeypot) else {
        return Ok(());
    };
    let event = NewEvent::new(EventType::BotDetected, None)
        .client(client)
        .description(format!("automated {endpoint} refused"))
        .metadata(json!({ "endpoint": endpoint, "signal": signal.as_str() }))
        .failed("bot detected");
    log_event_best_effort(app, event).await;
    Err(Error::BadRequest(BOT_REJECTED.into()))
}
