//! The sessions API over the session items of `auth::sessions` (the seed's `UserSession`):
//! listing a user's sessions, one session, ending one or all others, and spotting logins from
//! a new device or country.
//!
//! Rules:
//! - A user sees and ends only their own sessions; someone else's session is 404, the same as
//!   a session that does not exist. Administrators may act on anyone's (`?user=`).
//! - Ending a session makes it not live at once: every cookie and access-token request reads
//!   its session, and refreshing a token checks the session in its transaction.
//! - A login from a device fingerprint or a country that none of the user's recent sessions
//!   (the last [`RECENT_SESSIONS`], on GSI1) had logs `new_device_login` (medium). The first
//!   login of an account has nothing to compare with and logs nothing.

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};

use crate::App;
use crate::activity::events::{EventType, NewEvent, log_event_best_effort};
use crate::auth::Principal;
use crate::auth::client::ClientInfo;
use crate::auth::sessions::{self, SessionRecord};
use crate::error::Error;
use crate::model::UserId;
use crate::store::{Condition, Cursor, Query, SortCondition, Value, from_item, keys};

/// How many of the user's newest sessions a login is compared with.
pub const RECENT_SESSIONS: u32 = 20;

/// The API view of a session: the seed's `UserSession` fields, the computed `time_spent`
/// (seconds) and whether it is the caller's `is_current` one. The secret and CSRF hashes
/// never appear.
pub fn session_view(session: &SessionRecord, now: DateTime<Utc>, current: Option<&str>) -> Json {
    let live = session.is_live(now.timestamp());
    let until = match session.ended_at {
        Some(ended) => ended,
        None if live => now,
        None => session.last_activity,
    };
    let time_spent = (until - session.started_at).num_seconds().max(0);
    json!({
        "session_id": session.session_id,
        "user": session.user_id,
        "auth_method": session.auth_method,
        "ip_address": session.ip_address,
        "user_agent": session.user_agent,
        "device_info": session.device_info,
        "location_data": session.location_data,
        "device_fingerprint": session.device_fingerprint,
        "pages_visited": session.pages_visited,
        "started_at": session.started_at,
        "last_activity": session.last_activity,
        "ended_at": session.ended_at,
        "expires_at": DateTime::from_timestamp(session.valid_until(), 0),
        "is_active": live,
        "is_deleted": session.is_deleted,
        "time_spent": time_spent,
        "is_current": current == Some(session.session_id.as_str()),
        "aal": session.aal,
        "amr": session.amr,
    })
}

/// Whose sessions (or events) a request is about: the caller's own, or, for those allowed,
/// the `?user=` they name. Anyone else naming another user gets 403.
pub fn subject(
    principal: &Principal,
    requested: Option<UserId>,
    staff_may: bool,
) -> Result<UserId, Error> {
    match requested {
        None => Ok(principal.id()),
        Some(user) if user == principal.id() => Ok(user),
        Some(user) => {
            let actor = crate::access::Actor::of(&principal.user);
            if staff_may {
                crate::access::require_staff(actor)?;
            } else {
                crate::access::require_admin(actor)?;
            }
            Ok(user)
        }
    }
}

/// A page of the user's sessions, newest first (one query on GSI1). Ended sessions stay
/// listed until their absolute expiry; deleted ones are not listed.
pub async fn list_sessions(
    app: &App,
    user: UserId,
    page_size: u32,
    cursor: Option<Cursor>,
) -> Result<(Vec<SessionRecord>, Option<Cursor>), Error> {
    let (pk, _) = keys::session_index(user, "");
    let query = Query::new(keys::Index::Gsi1, pk)
        .sort(SortCondition::BeginsWith(keys::SESSION_PREFIX.into()))
        .descending()
        .limit(page_size)
        .after(cursor)
        .filter(Condition::Ne("is_deleted".into(), Value::Bool(true)));
    let page = app.table.query(query).await?;
    let records = page
        .items
        .iter()
        .map(from_item)
        .collect::<Result<Vec<SessionRecord>, _>>()?;
    Ok((records, page.next))
}

/// The session `session_id` if `principal` may see it: their own, or anyone's for an
/// administrator. Anything else is 404.
pub async fn visible_session(
    app: &App,
    principal: &Principal,
    session_id: &str,
) -> Result<SessionRecord, Error> {
    let session = sessions::get_session(app, session_id)
        .await?
        .filter(|s| !s.is_deleted && s.expires_at > app.clock.epoch_seconds())
        .ok_or(Error::NotFound)?;
    crate::access::require_own_or_admin(
        crate::access::Actor::of(&principal.user),
        session.user_id,
    )?;
    Ok(session)
}

/// Ends one session the principal may see ("log out that device") and logs `session_ended`
/// for its owner. Ending an ended session is not an error.
pub async fn end_visible_session(
    app: &App,
    principal: &Principal,
    session_id: &str,
    client: &ClientInfo,
) -> Result<(), Error> {
    let session = visible_session(app, principal, session_id).await?;
    if session.is_active {
        sessions::end_session(app, session_id).await?;
        let mut event = NewEvent::new(EventType::SessionEnded, Some(session.user_id))
            .session(session_id)
            .client(client)
            .description("Session ended from the sessions list")
            .metadata(json!({ "ended_by": principal.id(), "reason": "revoked" }));
        if session.user_id != principal.id() {
            event = event.target(principal.id());
        }
        log_event_best_effort(app, event).await;
    }
    Ok(())
}

/// Ends every session of the principal but the one the request came through; returns how
/// many ended.
pub async fn end_other_sessions(
    app: &App,
    principal: &Principal,
    client: &ClientInfo,
) -> Result<u32, Error> {
    let keep = principal.session_id.as_deref();
    let ended = sessions::end_other_sessions(app, principal.id(), keep).await?;
    if ended > 0 {
        let mut event = NewEvent::new(EventType::SessionEnded, Some(principal.id()))
            .client(client)
            .description("Other sessions ended")
            .metadata(json!({ "ended": ended, "reason": "end_others" }));
        if let Some(keep) = keep {
            event = event.session(keep);
        }
        log_event_best_effort(app, event).await;
    }
    Ok(ended)
}

/// After a login: compares the new session with the user's recent ones and logs
/// `new_device_login` when its device fingerprint, or its country, is new (one bounded query).
/// Bookkeeping: a failure is logged and does not fail the login.
pub async fn check_new_device(app: &App, session: &SessionRecord, client: &ClientInfo) {
    if let Err(e) = detect(app, session, client).await {
        tracing::warn!(error = %e, "new-device check skipped");
    }
}

async fn detect(app: &App, session: &SessionRecord, client: &ClientInfo) -> Result<(), Error> {
    let (pk, _) = keys::session_index(session.user_id, "");
    let query = Query::new(keys::Index::Gsi1, pk)
        .sort(SortCondition::BeginsWith(keys::SESSION_PREFIX.into()))
        .descending()
        .limit(RECENT_SESSIONS + 1);
    let page = app.table.query(query).await?;
    let previous: Vec<SessionRecord> = page
        .items
        .iter()
        .filter_map(|item| from_item::<SessionRecord>(item).ok())
        .filter(|s| s.session_id != session.session_id)
        .collect();
    if previous.is_empty() {
        return Ok(());
    }
    let new_device = !previous
        .iter()
        .any(|s| s.device_fingerprint == session.device_fingerprint);
    let country = session.location_data.country.as_deref();
    let new_location = country.is_some_and(|c| {
        !previous
            .iter()
            .any(|s| s.location_data.country.as_deref() == Some(c))
    });
    if !new_device && !new_location {
        return Ok(());
    }
    let new_ip = session
        .ip_address
        .as_deref()
        .is_some_and(|ip| !previous.iter().any(|s| s.ip_address.as_deref() == Some(ip)));
    let description = match (new_device, new_location) {
        (true, true) => "Login from a new device in a new country",
        (true, false) => "Login from a new device",
        _ => "Login from a new country",
    };
    let event = NewEvent::new(EventType::NewDeviceLogin, Some(session.user_id))
        .session(&session.session_id)
        .client(client)
        .description(description)
        .metadata(json!({
            "new_device": new_device,
            "new_location": new_location,
            "new_ip": new_ip,
            "device_info": session.device_info,
            "country": country,
            "city": session.location_data.city,
        }));
    log_event_best_effort(app, event).await;
    Ok(())
}
