//! Login sessions: one item per session holding the auth state (secret hash, CSRF token hash,
//! idle and absolute expiry) and the seed's `UserSession` fields.
//!
//! Rules:
//! - The `sessionid` cookie is `<sid>.<secret>`; the item stores only sha256(secret), compared
//!   in constant time. The CSRF token is stored as its sha256 too.
//! - A session is live while it is active (not ended), has seen activity within its idle
//!   timeout (sliding, `SESSION_IDLE_TIMEOUT`) and is before its absolute expiry
//!   (`SESSION_MAX_AGE`, also the item's TTL).
//! - Activity is written at most once a minute per session: a request writes `last_activity`
//!   only when the stored one is more than [`ACTIVITY_WRITE_INTERVAL_SECS`] old, conditionally
//!   on exactly that, so concurrent instances do not multiply writes. `pages_visited` counts
//!   every authenticated request: each instance counts the requests it served per session and
//!   adds them (plus the writing request) with the next activity write it makes; counts of an
//!   instance that stops before its next write are lost. The idle timeout is therefore measured
//!   from a `last_activity` that may be up to a minute behind the last request.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AuthMethod;
use super::client::{ClientInfo, DeviceInfo};
use super::secrets::{constant_time_eq, random_token, sha256_hex};
use crate::App;
use crate::accounts::UserRecord;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{
    Condition, Cursor, Item, Query, SortCondition, StoreError, Update, Value, from_item, keys,
    to_item,
};

/// Activity (`last_activity`, `pages_visited`) is written at most this often per session.
pub const ACTIVITY_WRITE_INTERVAL_SECS: i64 = 60;

/// Bounds of [`end_other_sessions`]: pages of this many sessions, at most this many pages.
const SESSIONS_PAGE: u32 = 100;
const MAX_SESSION_PAGES: usize = 50;

/// The viewer location when the session started (the seed's `location_data`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationData {
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
}

/// The session item. The two hashes never leave the domain (see the `Debug` impl); views of a
/// session are shaped by whoever lists them.
#[derive(Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub session_id: String,
    pub user_id: UserId,
    /// sha256 of the secret half of the cookie.
    pub secret_hash: String,
    /// sha256 of the CSRF token handed out with the session.
    pub csrf_hash: String,
    /// How the session was started: `session` (cookie login) or `jwt`.
    pub auth_method: String,
    #[serde(default)]
    pub ip_address: Option<String>,
    #[serde(default)]
    pub user_agent: String,
    #[serde(default)]
    pub device_info: DeviceInfo,
    #[serde(default)]
    pub location_data: LocationData,
    #[serde(default)]
    pub device_fingerprint: String,
    #[serde(default)]
    pub pages_visited: i64,
    pub started_at: DateTime<Utc>,
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    pub is_active: bool,
    #[serde(default)]
    pub is_deleted: bool,
    pub last_activity: DateTime<Utc>,
    /// `last_activity` in epoch seconds: the idle check and the throttled write use it.
    pub last_activity_epoch: i64,
    /// The sliding idle timeout this session was started with.
    pub idle_timeout_secs: i64,
    /// Absolute expiry, epoch seconds; the table's TTL attribute.
    pub expires_at: i64,
    /// Assurance level: 1 after a password, 2 after a second factor too (sessions stored
    /// before second factors read as 1).
    #[serde(default = "one")]
    pub aal: u8,
    /// The authentication methods (`pwd`, `otp`, `recovery`).
    #[serde(default)]
    pub amr: Vec<String>,
    /// When the password was last proved in this session (sign-in or step-up), epoch seconds.
    #[serde(default)]
    pub password_at: Option<i64>,
    /// When a second factor was last proved in this session, epoch seconds.
    #[serde(default)]
    pub second_factor_at: Option<i64>,
}

fn one() -> u8 {
    1
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("session_id", &self.session_id)
            .field("user_id", &self.user_id)
            .field("is_active", &self.is_active)
            .field("last_activity_epoch", &self.last_activity_epoch)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl SessionRecord {
    /// The session's assurance, as a principal carries it.
    pub fn assurance(&self) -> super::Assurance {
        super::Assurance {
            aal: self.aal,
            amr: self.amr.clone(),
            password_at: self.password_at,
            second_factor_at: self.second_factor_at,
        }
    }

    /// When the session goes idle unless there is activity before (epoch seconds).
    pub fn idle_expires_at(&self) -> i64 {
        self.last_activity_epoch
            .saturating_add(self.idle_timeout_secs)
    }

    /// When the session ends at the latest: idle or absolute expiry, whichever is first.
    pub fn valid_until(&self) -> i64 {
        self.idle_expires_at().min(self.expires_at)
    }

    /// Active, not idle, not past its absolute expiry at `now` (epoch seconds).
    pub fn is_live(&self, now: i64) -> bool {
        self.is_active
            && !self.is_deleted
            && self.ended_at.is_none()
            && now < self.expires_at
            && now < self.idle_expires_at()
    }

    /// Whether `token` is the CSRF token of this session (constant time).
    pub fn csrf_matches(&self, token: &str) -> bool {
        constant_time_eq(&sha256_hex(token), &self.csrf_hash)
    }

    pub fn to_item(&self) -> Result<Item, crate::store::ItemShapeError> {
        let mut item = to_item(self)?;
        let key = keys::session(&self.session_id);
        keys::set_key(&mut item, key);
        let (pk, sk) = keys::session_index(self.user_id, &self.session_id);
        keys::set_index_keys(&mut item, keys::Index::Gsi1, pk, sk);
        Ok(item)
    }
}

/// A session just started: its record and the secrets for the client (cookie values).
pub struct StartedSession {
    pub record: SessionRecord,
    /// The `sessionid` cookie value.
    pub cookie: String,
    /// The `csrftoken` cookie value.
    pub csrf_token: String,
}

impl std::fmt::Debug for StartedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartedSession")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

pub(crate) fn method_name(via: AuthMethod) -> &'static str {
    match via {
        AuthMethod::Session => "session",
        AuthMethod::Jwt => "jwt",
        AuthMethod::ApiToken => "api_token",
    }
}

fn chrono_value(at: DateTime<Utc>) -> Value {
    // The same representation serde gives the record's timestamps.
    serde_json::to_value(at)
        .map(Value::from)
        .unwrap_or(Value::Null)
}

/// Starts a session for a user who just proved who they are (one write), at the assurance of
/// a password.
pub async fn start_session(
    app: &App,
    user: &UserRecord,
    client: &ClientInfo,
    via: AuthMethod,
) -> Result<StartedSession, Error> {
    let started = new_session(app, user, client, via);
    store_session(app, &started).await?;
    Ok(started)
}

/// Writes a session made by [`new_session`]. A ULID with 80 random bits does not collide; the
/// condition makes sure of it anyway.
pub async fn store_session(app: &App, started: &StartedSession) -> Result<(), Error> {
    app.table
        .put(started.record.to_item()?, Some(Condition::item_absent()))
        .await?;
    Ok(())
}

/// A new session for a user who just proved who they are, not yet stored (so that a login can
/// store it beside other work).
pub fn new_session(
    app: &App,
    user: &UserRecord,
    client: &ClientInfo,
    via: AuthMethod,
) -> StartedSession {
    let assurance = super::Assurance::password(app.clock.epoch_seconds());
    new_session_with(app, user, client, via, assurance)
}

/// [`new_session`] at a given assurance (a sign-in completed with a second factor).
pub fn new_session_with(
    app: &App,
    user: &UserRecord,
    client: &ClientInfo,
    via: AuthMethod,
    assurance: super::Assurance,
) -> StartedSession {
    let now = app.clock.now();
    let epoch = now.timestamp();
    let session_id = ulid::Ulid::from_datetime(now.into()).to_string();
    let secret = random_token(32);
    let csrf_token = random_token(32);
    let record = SessionRecord {
        session_id: session_id.clone(),
        user_id: user.id,
        secret_hash: sha256_hex(&secret),
        csrf_hash: sha256_hex(&csrf_token),
        auth_method: method_name(via).into(),
        ip_address: client.ip_string(),
        user_agent: client.user_agent.clone().unwrap_or_default(),
        device_info: client.device_info(),
        location_data: LocationData {
            country: client.country.clone(),
            city: client.city.clone(),
        },
        device_fingerprint: client.fingerprint(),
        pages_visited: 0,
        started_at: now,
        ended_at: None,
        is_active: true,
        is_deleted: false,
        last_activity: now,
        last_activity_epoch: epoch,
        idle_timeout_secs: app.config.auth.session_idle_secs,
        expires_at: epoch.saturating_add(app.config.auth.session_absolute_secs),
        aal: assurance.aal,
        amr: assurance.amr,
        password_at: assurance.password_at,
        second_factor_at: assurance.second_factor_at,
    };
    StartedSession {
        cookie: format!("{}-{session_id}.{secret}", user.id),
        csrf_token,
        record,
    }
}

/// A session id is a ULID: 26 Crockford base32 characters. Anything else is not looked up.
fn is_session_id(s: &str) -> bool {
    s.len() == 26 && ulid::Ulid::from_string(s).is_ok()
}

/// The session item, whatever its state (strongly consistent: logout and suspension must take
/// effect on the next request).
pub async fn get_session(app: &App, session_id: &str) -> Result<Option<SessionRecord>, Error> {
    if !is_session_id(session_id) {
        return Ok(None);
    }
    let item = app.table.get(&keys::session(session_id), true).await?;
    Ok(item.map(|item| from_item(&item)).transpose()?)
}

/// The session if it exists and is active (not ended, not idle past the timeout, not past
/// its absolute expiry).
pub async fn active_session(app: &App, session_id: &str) -> Result<Option<SessionRecord>, Error> {
    let now = app.clock.epoch_seconds();
    Ok(get_session(app, session_id)
        .await?
        .filter(|s| s.is_live(now)))
}

/// What a `sessionid` cookie names: `<user id>-<session id>.<secret>` (the user id lets the
/// session and the user be read side by side, in one round trip; the session's own `user_id`
/// must agree, so editing it gains nothing). Cookies from before the user id are
/// `<session id>.<secret>` and still work, with the user read after the session.
pub struct CookieParts<'a> {
    pub user: Option<UserId>,
    pub session_id: &'a str,
    secret: &'a str,
}

impl<'a> CookieParts<'a> {
    pub fn parse(cookie: &'a str) -> Option<CookieParts<'a>> {
        let (named, secret) = cookie.split_once('.')?;
        if secret.is_empty() {
            return None;
        }
        let (user, session_id) = match named.split_once('-') {
            Some((user, session_id)) => (Some(UserId(user.parse().ok()?)), session_id),
            None => (None, named),
        };
        Some(CookieParts {
            user,
            session_id,
            secret,
        })
    }

    /// The session, if it is live, this cookie's secret matches it, and it belongs to the
    /// user the cookie names.
    pub fn accept(&self, app: &App, session: Option<SessionRecord>) -> Option<SessionRecord> {
        let now = app.clock.epoch_seconds();
        session
            .filter(|s| s.is_live(now))
            .filter(|s| self.user.is_none_or(|user| s.user_id == user))
            .filter(|s| constant_time_eq(&sha256_hex(self.secret), &s.secret_hash))
    }
}

/// Requests this instance served per session since its last activity write.
static PENDING_PAGES: LazyLock<Mutex<HashMap<String, i64>>> = LazyLock::new(Default::default);
/// Past this many sessions with unwritten counts, the counts are dropped (memory stays bounded).
const MAX_PENDING_SESSIONS: usize = 10_000;

fn pending_pages() -> std::sync::MutexGuard<'static, HashMap<String, i64>> {
    PENDING_PAGES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records one authenticated request on a live session (see the module rules: at most one
/// conditional write a minute). A write that loses the race to another instance, or fails,
/// does not fail the request: activity is bookkeeping.
pub async fn record_activity(app: &App, session: &SessionRecord) {
    let now = app.clock.epoch_seconds();
    let threshold = now - ACTIVITY_WRITE_INTERVAL_SECS;
    if session.last_activity_epoch >= threshold {
        let mut pending = pending_pages();
        if pending.len() >= MAX_PENDING_SESSIONS && !pending.contains_key(&session.session_id) {
            pending.clear();
        }
        *pending.entry(session.session_id.clone()).or_default() += 1;
        return;
    }
    let counted = pending_pages().remove(&session.session_id).unwrap_or(0);
    let update = Update::new()
        .set("last_activity", chrono_value(app.clock.now()))
        .set("last_activity_epoch", now)
        .add("pages_visited", counted + 1);
    let condition = Condition::eq("is_active", true).and(Condition::Lt(
        "last_activity_epoch".into(),
        Value::Int(threshold),
    ));
    match app
        .table
        .update(&keys::session(&session.session_id), update, Some(condition))
        .await
    {
        Ok(_) => {}
        Err(e) => {
            // Another instance wrote first (or the session just ended): keep the count for the
            // next write this instance makes.
            if counted > 0 {
                *pending_pages()
                    .entry(session.session_id.clone())
                    .or_default() += counted;
            }
            if !matches!(e, StoreError::ConditionFailed) {
                tracing::warn!(error = %e, "session activity not recorded");
            }
        }
    }
}

/// Extends the sliding idle window of a live session now (one conditional write). `None` when
/// the session stopped being live since it was read.
pub async fn refresh(app: &App, session: &SessionRecord) -> Result<Option<SessionRecord>, Error> {
    let now = app.clock.epoch_seconds();
    let counted = pending_pages().remove(&session.session_id).unwrap_or(0);
    let update = Update::new()
        .set("last_activity", chrono_value(app.clock.now()))
        .set("last_activity_epoch", now)
        .add("pages_visited", counted);
    // `is_live`, evaluated by the store against the item as stored.
    let condition = Condition::eq("is_active", true)
        .and(Condition::NotExists("ended_at".into()))
        .and(Condition::Gt(
            keys::attr::EXPIRES_AT.into(),
            Value::Int(now),
        ))
        .and(Condition::Gt(
            "last_activity_epoch".into(),
            Value::Int(now.saturating_sub(session.idle_timeout_secs)),
        ));
    match app
        .table
        .update(&keys::session(&session.session_id), update, Some(condition))
        .await
    {
        Ok(item) => Ok(Some(from_item(&item)?)),
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Ends a session (ended_at, is_active false). Ending an ended or unknown session is a no-op.
pub async fn end_session(app: &App, session_id: &str) -> Result<(), Error> {
    end(app, session_id).await.map(|_| ())
}

/// Ends a session if it was active; true when this call ended it.
async fn end(app: &App, session_id: &str) -> Result<bool, Error> {
    if !is_session_id(session_id) {
        return Ok(false);
    }
    pending_pages().remove(session_id);
    let update = Update::new()
        .set("is_active", false)
        .set("ended_at", chrono_value(app.clock.now()));
    match app
        .table
        .update(
            &keys::session(session_id),
            update,
            Some(Condition::eq("is_active", true)),
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The ids of a user's sessions still flagged active (idle ones included), newest last.
/// Reads the user's sessions on GSI1, a bounded number of pages.
pub async fn active_session_ids(app: &App, user: UserId) -> Result<Vec<String>, Error> {
    let (pk, _) = keys::session_index(user, "");
    let mut ids = Vec::new();
    let mut cursor: Option<Cursor> = None;
    for _ in 0..MAX_SESSION_PAGES {
        let query = Query::new(keys::Index::Gsi1, pk.clone())
            .sort(SortCondition::BeginsWith(keys::SESSION_PREFIX.into()))
            .filter(Condition::eq("is_active", true))
            .limit(SESSIONS_PAGE)
            .after(cursor.take());
        let page = app.table.query(query).await?;
        ids.extend(page.items.iter().filter_map(|item| {
            item.get("session_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(ids)
}

/// Ends every active session of the user but `keep`; returns how many ended.
pub async fn end_other_sessions(app: &App, user: UserId, keep: Option<&str>) -> Result<u32, Error> {
    let ids: Vec<String> = active_session_ids(app, user)
        .await?
        .into_iter()
        .filter(|id| Some(id.as_str()) != keep)
        .collect();
    let mut count = 0;
    // A few at a time: quick for the usual handful, gentle on the table for a long list.
    for chunk in ids.chunks(8) {
        for ended in futures::future::join_all(chunk.iter().map(|id| end(app, id))).await {
            if ended? {
                count += 1;
            }
        }
    }
    Ok(count)
}

/// Ends and deletes every session of the user, active or not (account erasure). Reads the
/// user's sessions on GSI1 page by page and deletes each; returns how many were deleted.
/// Idempotent: a retry deletes what an interrupted call left.
pub async fn delete_all_sessions(app: &App, user: UserId) -> Result<u32, Error> {
    let (pk, _) = keys::session_index(user, "");
    let mut deleted = 0;
    // Deleting moves the index under the cursor, so each round starts from the beginning
    // again; the bound keeps a runaway loop from running forever.
    for _ in 0..MAX_SESSION_PAGES {
        let query = Query::new(keys::Index::Gsi1, pk.clone())
            .sort(SortCondition::BeginsWith(keys::SESSION_PREFIX.into()))
            .limit(SESSIONS_PAGE);
        let page = app.table.query(query).await?;
        if page.items.is_empty() {
            break;
        }
        let ids: Vec<String> = page
            .items
            .iter()
            .filter_map(|item| item.get("session_id").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        for chunk in ids.chunks(8) {
            let deletions = chunk.iter().map(|id| delete_session(app, id));
            for result in futures::future::join_all(deletions).await {
                result?;
                deleted += 1;
            }
        }
        if page.next.is_none() {
            break;
        }
    }
    Ok(deleted)
}

/// Deletes one session item, whatever its state.
async fn delete_session(app: &App, session_id: &str) -> Result<(), Error> {
    pending_pages().remove(session_id);
    app.table.delete(&keys::session(session_id), None).await?;
    Ok(())
}
