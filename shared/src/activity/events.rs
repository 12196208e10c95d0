//! The user event log (the seed's `UserEvent`).
//!
//! One item per event, written by one put: in the user's partition (`keys::event`), or, for
//! events about no known account, in the partition of the client's address (a hash of it,
//! `keys::anonymous_event`), indexed by type on GSI1 (`keys::event_type_index`, hash-sharded:
//! readers of a type fan out over `keys::event_type_partitions`). Each event expires after the retention of its
//! severity. The types, their groups and severities, the retention and the risk score are
//! documented in `docs/events.md`; a test keeps that file in step with this one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::App;
use crate::auth::client::ClientInfo;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{
    Condition, Cursor, Item, ItemShapeError, Key, Query, SortCondition, StoreError, TxOp, Update,
    Value, from_item, keys, to_item,
};

/// The families event types belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventGroup {
    Account,
    Authentication,
    Security,
    Social,
    Content,
    Badges,
    Settings,
    Admin,
}

impl EventGroup {
    pub const ALL: [EventGroup; 8] = [
        EventGroup::Account,
        EventGroup::Authentication,
        EventGroup::Security,
        EventGroup::Social,
        EventGroup::Content,
        EventGroup::Badges,
        EventGroup::Settings,
        EventGroup::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventGroup::Account => "account",
            EventGroup::Authentication => "authentication",
            EventGroup::Security => "security",
            EventGroup::Social => "social",
            EventGroup::Content => "content",
            EventGroup::Badges => "badges",
            EventGroup::Settings => "settings",
            EventGroup::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<EventGroup> {
        EventGroup::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// Declares the event types with their wire name, group, default severity and summary in one
/// table, so the four can never disagree.
macro_rules! event_types {
    ($($group:ident { $($variant:ident = $name:literal, $severity:ident, $summary:literal;)+ })+) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum EventType {
            $($(#[doc = $summary] $variant,)+)+
        }

        impl EventType {
            /// Every type, grouped as in `docs/events.md`.
            pub const ALL: &'static [EventType] = &[$($(EventType::$variant,)+)+];

            /// The stored and wire name (`login_failed`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($(EventType::$variant => $name,)+)+
                }
            }

            pub fn group(self) -> EventGroup {
                match self {
                    $($(EventType::$variant => EventGroup::$group,)+)+
                }
            }

            /// The severity an event of this type gets unless the writer says otherwise.
            pub fn default_severity(self) -> Severity {
                match self {
                    $($(EventType::$variant => Severity::$severity,)+)+
                }
            }

            /// One line on what the event records.
            pub fn summary(self) -> &'static str {
                match self {
                    $($(EventType::$variant => $summary,)+)+
                }
            }
        }
    };
}

event_types! {
    Account {
        Register = "register", Low, "An account was created.";
        VerificationSent = "verification_sent", Low, "A verification code was mailed.";
        Verify = "verify", Low, "The email address was verified with a code.";
        VerifyFailed = "verify_failed", Low, "A verification code was wrong, expired or used up.";
        ProfileUpdate = "profile_update", Low, "Profile fields were changed.";
        ProfessionalProfileUpdate = "professional_profile_update", Low, "The professional profile was changed.";
        EmailChange = "email_change", Medium, "The email address was changed (the new address confirmed with its code).";
        EmailChangeRequested = "email_change_requested", Medium, "A change of email address was asked for; the old address was told.";
        EmailChangeCancelled = "email_change_cancelled", Medium, "A pending email change was cancelled from the old address.";
        UsernameChange = "username_change", Low, "The username was changed.";
        AccountDeleted = "account_deleted", Medium, "The account was deleted.";
        DataExport = "data_export", Medium, "The user exported their data.";
    }
    Authentication {
        Login = "login", Low, "A password login succeeded (session or JWT).";
        LoginFailed = "login_failed", Medium, "A login failed (wrong password, unknown account, throttled).";
        Logout = "logout", Low, "A session was logged out.";
        TokenRefresh = "token_refresh", Low, "A refresh token was rotated.";
        SessionRefresh = "session_refresh", Low, "A session's idle timeout was extended.";
        SessionEnded = "session_ended", Low, "A session was ended other than by logout (password change, revocation).";
        ApiTokenCreated = "api_token_created", Medium, "An API token was created.";
        ApiTokenRevoked = "api_token_revoked", Low, "An API token was revoked.";
    }
    Security {
        PasswordChange = "password_change", Medium, "The password was changed by its owner.";
        PasswordResetRequested = "password_reset_requested", Low, "A password reset code was requested.";
        PasswordReset = "password_reset", Medium, "The password was reset with an emailed code.";
        TokenReuseDetected = "token_reuse_detected", High, "A rotated refresh token was used again; its session was revoked.";
        BotDetected = "bot_detected", Medium, "Register or login refused a bot (honeypot, user agent).";
        EmailChangeReverted = "email_change_reverted", High, "A completed email change was reverted from the old address; every session and token ended.";
        AccountLocked = "account_locked", Medium, "Failed logins reached the threshold; tries are throttled.";
        NewDeviceLogin = "new_device_login", Medium, "A login from a device not seen before.";
        SecurityAlert = "security_alert", High, "An alert raised by the security analysis.";
        SuspiciousActivity = "suspicious_activity", High, "Activity flagged as suspicious.";
        RateLimited = "rate_limited", Low, "A request was refused by a rate limit.";
        MfaEnabled = "mfa_enabled", Medium, "A second factor (TOTP) was confirmed and is active.";
        MfaDisabled = "mfa_disabled", Medium, "A second factor was removed by its owner.";
        MfaReset = "mfa_reset", High, "Staff removed every second factor of the account; the owner was told by mail.";
        MfaChallengeFailed = "mfa_challenge_failed", Medium, "A second-factor code (sign-in or step-up) was wrong, reused or throttled, or a passkey ceremony was refused.";
        RecoveryCodeUsed = "recovery_code_used", High, "A recovery code was spent; the owner was told by mail.";
        RecoveryCodesRegenerated = "recovery_codes_regenerated", Medium, "A new set of recovery codes replaced the old one.";
        PasskeyAdded = "passkey_added", Medium, "A passkey (WebAuthn credential) was registered.";
        PasskeyRemoved = "passkey_removed", Medium, "A passkey was removed by its owner.";
        PasskeySignIn = "passkey_sign_in", Low, "The user signed in with a passkey alone.";
        StepUp = "step_up", Low, "The session proved a password or a second factor again for a sensitive action.";
    }
    Social {
        Follow = "follow", Low, "The user followed someone.";
        Unfollow = "unfollow", Low, "The user unfollowed someone.";
        FollowRequest = "follow_request", Low, "The user asked to follow a private account.";
        FollowApproved = "follow_approved", Low, "The user approved a follow request.";
        FollowRejected = "follow_rejected", Low, "The user rejected a follow request.";
        FollowerRemoved = "follower_removed", Low, "The user removed a follower.";
        Block = "block", Low, "The user blocked someone.";
        Unblock = "unblock", Low, "The user unblocked someone.";
        ProfileView = "profile_view", Low, "The user viewed another profile.";
    }
    Content {
        PostCreate = "post_create", Low, "A post was published.";
        PostUpdate = "post_update", Low, "A post was edited.";
        PostDelete = "post_delete", Low, "A post was deleted.";
        CommentCreate = "comment_create", Low, "A comment was written.";
        CommentDelete = "comment_delete", Low, "A comment was deleted.";
        LikeGiven = "like_given", Low, "The user liked something.";
        LikeRemoved = "like_removed", Low, "The user took a like back.";
        Share = "share", Low, "The user shared something.";
        ReviewCreate = "review_create", Low, "A review was written.";
        HelpfulVote = "helpful_vote", Low, "The user voted a contribution helpful.";
        BugReportVerified = "bug_report_verified", Low, "A bug report of the user was verified.";
        ContentReported = "content_reported", Low, "The user reported content.";
        PageView = "page_view", Low, "A page was viewed.";
    }
    Badges {
        BadgeEarned = "badge_earned", Low, "A badge was awarded.";
        BadgeRevoked = "badge_revoked", Low, "A badge was taken back.";
        PointsAwarded = "points_awarded", Low, "Badge points were granted.";
    }
    Settings {
        SettingsUpdate = "settings_update", Low, "Settings were changed.";
        PrivacyChange = "privacy_change", Low, "Privacy settings were changed.";
        NotificationSettingsChange = "notification_settings_change", Low, "Notification settings were changed.";
    }
    Admin {
        AdminAction = "admin_action", Medium, "An administrator acted on the account.";
        EventReviewed = "event_reviewed", Low, "An event was marked reviewed.";
        RoleChange = "role_change", High, "The account's role was changed.";
        AccountSuspended = "account_suspended", High, "The account was suspended; its sessions ended.";
        AccountUnsuspended = "account_unsuspended", Medium, "The suspension was lifted.";
    }
}

impl EventType {
    /// Parses a stored or client-sent name. The seed's short names in badge criteria
    /// (`review`, `like`, `comment`) are accepted for the content types they mean.
    pub fn parse(s: &str) -> Option<EventType> {
        match s {
            "review" => Some(EventType::ReviewCreate),
            "like" => Some(EventType::LikeGiven),
            "comment" => Some(EventType::CommentCreate),
            _ => EventType::ALL.iter().copied().find(|t| t.as_str() == s),
        }
    }

    /// The seed's `is_security_event`: the security group, and the account, authentication
    /// and admin types an attacker would cause or an owner would want to know about.
    pub fn is_security(self) -> bool {
        self.group() == EventGroup::Security
            || matches!(
                self,
                EventType::LoginFailed
                    | EventType::VerifyFailed
                    | EventType::ApiTokenCreated
                    | EventType::ApiTokenRevoked
                    | EventType::EmailChange
                    | EventType::EmailChangeRequested
                    | EventType::EmailChangeCancelled
                    | EventType::AccountDeleted
                    | EventType::RoleChange
                    | EventType::AccountSuspended
                    | EventType::AccountUnsuspended
            )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// How long an event of this severity is kept.
    pub fn retention_days(self) -> i64 {
        match self {
            Severity::Low => 90,
            Severity::Medium => 365,
            Severity::High | Severity::Critical => 730,
        }
    }
}

/// The largest metadata object, as compact JSON.
pub const MAX_METADATA_BYTES: usize = 8 * 1024;
/// The deepest nesting of metadata (DynamoDB allows 32 levels for a whole item).
pub const MAX_METADATA_DEPTH: usize = 16;
/// Longer user agents are cut to this many characters before they are stored.
pub const MAX_USER_AGENT_CHARS: usize = 512;
/// Longer descriptions and error messages are cut to this many characters.
pub const MAX_TEXT_CHARS: usize = 1000;

/// An event to record. Build with [`NewEvent::new`] and the setters.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub event_type: EventType,
    /// `None` for events about no known account (a login with an unknown username).
    pub user: Option<UserId>,
    pub session_id: Option<String>,
    /// Defaults to the type's severity.
    pub severity: Option<Severity>,
    pub description: String,
    pub metadata: serde_json::Value,
    pub success: bool,
    pub error_message: Option<String>,
    pub target_user: Option<UserId>,
    pub client: Option<ClientInfo>,
}

impl NewEvent {
    pub fn new(event_type: EventType, user: Option<UserId>) -> Self {
        NewEvent {
            event_type,
            user,
            session_id: None,
            severity: None,
            description: String::new(),
            metadata: serde_json::Value::Object(Default::default()),
            success: true,
            error_message: None,
            target_user: None,
            client: None,
        }
    }
    pub fn client(mut self, client: &ClientInfo) -> Self {
        self.client = Some(client.clone());
        self
    }
    pub fn session(mut self, session_id: &str) -> Self {
        self.session_id = Some(session_id.to_owned());
        self
    }
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }
    pub fn metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = metadata;
        self
    }
    pub fn failed(mut self, error_message: impl Into<String>) -> Self {
        self.success = false;
        self.error_message = Some(error_message.into());
        self
    }
    pub fn target(mut self, user: UserId) -> Self {
        self.target_user = Some(user);
        self
    }
}

/// A stored event: the seed's `UserEvent` fields, the client's address and agent, the risk
/// score and the expiry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// A ULID: events sort by time within a partition and on the type index.
    pub event_id: String,
    /// `None` for events in the anonymous partition.
    #[serde(default)]
    pub user_id: Option<UserId>,
    #[serde(default)]
    pub session_id: Option<String>,
    pub event_type: EventType,
    pub severity: Severity,
    #[serde(default)]
    pub description: String,
    #[serde(default = "empty_object")]
    pub metadata: serde_json::Value,
    pub success: bool,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub target_user: Option<UserId>,
    #[serde(default)]
    pub ip_address: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    pub is_security: bool,
    /// 0–100, see [`risk_score`].
    pub risk_score: u8,
    pub requires_review: bool,
    #[serde(default)]
    pub reviewed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub reviewed_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    /// Epoch seconds: `created_at` plus the severity's retention (the table's TTL).
    pub expires_at: i64,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

impl EventRecord {
    /// Validates and completes an event at `now`; `event_id` must be a ULID string.
    pub fn build(
        event: NewEvent,
        event_id: String,
        now: DateTime<Utc>,
    ) -> Result<EventRecord, Error> {
        let metadata = checked_metadata(event.metadata)?;
        let severity = event
            .severity
            .unwrap_or(event.event_type.default_severity());
        let client = event.client.unwrap_or_default();
        let is_security = event.event_type.is_security();
        let risk = risk_score(&RiskInputs {
            severity,
            is_security,
            success: event.success,
            anonymous: event.user.is_none(),
            metadata: &metadata,
        });
        Ok(EventRecord {
            event_id,
            user_id: event.user,
            session_id: event.session_id,
            event_type: event.event_type,
            severity,
            description: truncated(&event.description, MAX_TEXT_CHARS),
            metadata,
            success: event.success,
            error_message: event.error_message.map(|m| truncated(&m, MAX_TEXT_CHARS)),
            target_user: event.target_user,
            ip_address: client.ip_string(),
            user_agent: client
                .user_agent
                .as_deref()
                .map(str::trim)
                .filter(|ua| !ua.is_empty())
                .map(|ua| truncated(ua, MAX_USER_AGENT_CHARS)),
            is_security,
            risk_score: risk,
            requires_review: is_security && severity >= Severity::High,
            reviewed_at: None,
            reviewed_by: None,
            created_at: now,
            expires_at: now.timestamp() + severity.retention_days() * 24 * 3600,
        })
    }

    /// The event's key: the owner's partition, or the partition of its address.
    pub fn key(&self) -> Key {
        match self.user_id {
            Some(user) => keys::event(user, &self.event_id),
            None => keys::anonymous_event(
                self.ip_address.as_deref().map(address_hash).as_deref(),
                &self.event_id,
            ),
        }
    }

    /// The whole item: the record, its key and its type-index entry.
    pub fn to_item(&self) -> Result<Item, ItemShapeError> {
        let mut item = to_item(self)?;
        let key = self.key();
        keys::set_key(&mut item, key);
        let (pk, sk) = keys::event_type_index(self.event_type.as_str(), &self.event_id);
        keys::set_index_keys(&mut item, keys::Index::Gsi1, pk, sk);
        if self.requires_review && self.reviewed_at.is_none() {
            let (pk, sk) = keys::event_review_index(&self.event_id);
            keys::set_index_keys(&mut item, keys::Index::Gsi2, pk, sk);
        } else if self.severity >= Severity::High {
            let (pk, sk) = keys::severe_event_index(&self.event_id);
            keys::set_index_keys(&mut item, keys::Index::Gsi2, pk, sk);
        }
        Ok(item)
    }

    pub fn from_item(item: &Item) -> Result<EventRecord, ItemShapeError> {
        from_item(item)
    }
}

/// The hash that names an address's anonymous event partition: the first 16 hex digits of its
/// SHA-256 (the partition key carries no address in clear; 64 bits keep addresses apart).
pub fn address_hash(ip: &str) -> String {
    let mut hex = crate::auth::secrets::sha256_hex(ip);
    hex.truncate(16);
    hex
}

/// Metadata must be a JSON object (null counts as empty) of at most [`MAX_METADATA_BYTES`]
/// and [`MAX_METADATA_DEPTH`] levels.
fn checked_metadata(metadata: serde_json::Value) -> Result<serde_json::Value, Error> {
    let metadata = match metadata {
        serde_json::Value::Null => empty_object(),
        object @ serde_json::Value::Object(_) => object,
        _ => return Err(Error::field("metadata", "Must be a JSON object.")),
    };
    let size = serde_json::to_vec(&metadata)
        .map(|bytes| bytes.len())
        .unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(Error::field(
            "metadata",
            format!(
                "Ensure this field has no more than {MAX_METADATA_BYTES} bytes (it has {size})."
            ),
        ));
    }
    if depth(&metadata) > MAX_METADATA_DEPTH {
        return Err(Error::field(
            "metadata",
            format!("Ensure this field nests no more than {MAX_METADATA_DEPTH} levels."),
        ));
    }
    Ok(metadata)
}

fn depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn truncated(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((cut, _)) => s[..cut].to_owned(),
        None => s.to_owned(),
    }
}

/// What the risk score of an event is computed from.
#[derive(Clone, Copy, Debug)]
pub struct RiskInputs<'a> {
    pub severity: Severity,
    pub is_security: bool,
    pub success: bool,
    /// The event is about no known account.
    pub anonymous: bool,
    /// The event's metadata; the signals below are read from it when the writer supplied them.
    pub metadata: &'a serde_json::Value,
}

/// The event's risk, 0 to 100 (the formula is in `docs/events.md`): a base by severity (low 5,
/// medium 20, high 45, critical 70), plus 15 for a failure, 10 for a security type, 10 for an
/// event about no known account, and 10 for each metadata signal set to `true`: `new_device`,
/// `new_ip`, `new_location`, `bot`. Capped at 100.
pub fn risk_score(inputs: &RiskInputs<'_>) -> u8 {
    let base: u32 = match inputs.severity {
        Severity::Low => 5,
        Severity::Medium => 20,
        Severity::High => 45,
        Severity::Critical => 70,
    };
    let flag = |name: &str| {
        inputs
            .metadata
            .get(name)
            .and_then(serde_json::Value::as_bool)
            == Some(true)
    };
    let signals = RISK_SIGNALS.iter().filter(|name| flag(name)).count() as u32;
    let score = base
        + if inputs.success { 0 } else { 15 }
        + if inputs.is_security { 10 } else { 0 }
        + if inputs.anonymous { 10 } else { 0 }
        + 10 * signals;
    score.min(100) as u8
}

/// Metadata flags that raise the risk score when `true`.
pub const RISK_SIGNALS: [&str; 4] = ["new_device", "new_ip", "new_location", "bot"];

/// A new event id: a ULID at the clock's millisecond with 80 random bits.
fn new_event_id(now: DateTime<Utc>) -> String {
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    ulid::Ulid::from_parts(millis, fastrand::u128(..)).to_string()
}

/// The smallest (`upper` false) or largest event id of the millisecond `at`: bounds of a time
/// range on event sort keys.
pub fn event_id_bound(at: DateTime<Utc>, upper: bool) -> String {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let random = if upper { u128::MAX } else { 0 };
    ulid::Ulid::from_parts(millis, random).to_string()
}

/// Similar events are counted over this many seconds before a failure.
pub const VELOCITY_WINDOW_SECS: i64 = 15 * 60;
/// At most this many recent events are read to count similar ones (one bounded query).
pub const VELOCITY_MAX_EVENTS: u32 = 50;

/// The velocity part of the risk score: 5 points per similar event in the window, at most 25.
pub fn velocity_points(similar: u32) -> u8 {
    similar.saturating_mul(5).min(25) as u8
}

/// Adds the velocity part to a score, capped at 100 (see `docs/events.md`).
pub fn risk_with_velocity(score: u8, similar: u32) -> u8 {
    (u32::from(score) + u32::from(velocity_points(similar))).min(100) as u8
}

/// How many events like `record` (same type, same account; for events about no account, the
/// same address too) failed in the velocity window before it: one query of the account's
/// partition, or of the address's anonymous partition, reading at most [`VELOCITY_MAX_EVENTS`]
/// events.
pub async fn similar_recent_failures(app: &App, record: &EventRecord) -> Result<u32, Error> {
    let since = record.created_at - chrono::Duration::seconds(VELOCITY_WINDOW_SECS);
    let lower = format!("{}{}", keys::EVENT_PREFIX, event_id_bound(since, false));
    // Up to this event's own id, which is not stored yet: every earlier event of the window.
    let upper = format!("{}{}", keys::EVENT_PREFIX, record.event_id);
    let mut filter = Condition::eq("event_type", record.event_type.as_str())
        .and(Condition::eq("success", false));
    if record.user_id.is_none() {
        match &record.ip_address {
            Some(ip) => filter = filter.and(Condition::eq("ip_address", ip.as_str())),
            // No account and no address: nothing ties earlier events to this one.
            None => return Ok(0),
        }
    }
    let query = Query::new(keys::Index::Primary, record.key().pk)
        .sort(SortCondition::Between(lower, upper))
        .descending()
        .limit(VELOCITY_MAX_EVENTS)
        .filter(filter);
    let page = app.table.query(query).await?;
    Ok(u32::try_from(page.items.len()).unwrap_or(u32::MAX))
}

/// Builds the record of an event at the clock's now, with the velocity part of its risk
/// score for failures (one bounded query; successes read nothing).
pub async fn prepare_event(app: &App, event: NewEvent) -> Result<EventRecord, Error> {
    let now = app.clock.now();
    let mut record = EventRecord::build(event, new_event_id(now), now)?;
    // The configured retention of the severity (the defaults are `retention_days`).
    let days = app.config.events.retention_days[record.severity as usize];
    record.expires_at = now.timestamp() + days * 24 * 3600;
    if !record.success {
        let similar = similar_recent_failures(app, &record).await?;
        record.risk_score = risk_with_velocity(record.risk_score, similar);
    }
    Ok(record)
}

/// Records an event (one write; a failure also reads its recent history once, for the
/// velocity part of the risk score). Invalid metadata is `Error::Invalid` on `metadata`, and
/// then nothing is written.
pub async fn log_event(app: &App, event: NewEvent) -> Result<(), Error> {
    let record = prepare_event(app, event).await?;
    app.table
        .put(record.to_item()?, Some(Condition::item_absent()))
        .await?;
    Ok(())
}

/// The put of an event, for a caller that writes it in the same transaction as the change it
/// records (one round trip fewer than a put after the change, and never an event for a change
/// that did not happen). Successful events read nothing to be prepared.
pub async fn event_put(app: &App, event: NewEvent) -> Result<crate::store::TxOp, Error> {
    let record = prepare_event(app, event).await?;
    Ok(crate::store::TxOp::Put {
        item: record.to_item()?,
        condition: Some(Condition::item_absent()),
    })
}

/// Attributes that say who, where and what in detail: account erasure removes them.
const PERSONAL_ATTRIBUTES: [&str; 6] = [
    "description",
    "error_message",
    "ip_address",
    "user_agent",
    "session_id",
    "target_user",
];
/// Events anonymised per transaction.
const ANONYMISE_BATCH: usize = 25;

/// Strips everything but the user id from the user's events (account erasure keeps the
/// security log, anonymised): description, metadata, error message, address, user agent,
/// session and target user go; type, severity, outcome, risk, review state and times stay.
/// Marks each event `anonymised`, so a retry after a crash skips what is done. Returns how
/// many events this call anonymised. Reads the partition page by page (a query per 100
/// events) and writes a transaction per 25 events.
pub async fn anonymise_user_events(app: &App, user: UserId) -> Result<u64, Error> {
    let mut done = 0u64;
    let mut cursor: Option<Cursor> = None;
    loop {
        let query = Query::new(keys::Index::Primary, keys::user_partition(user))
            .sort(SortCondition::BeginsWith(keys::EVENT_PREFIX.into()))
            .limit(100)
            .filter(Condition::NotExists("anonymised".into()))
            .after(cursor.take())
            .consistent();
        let page = app.table.query(query).await?;
        let targets: Vec<Key> = page.items.iter().filter_map(Key::of).collect();
        for chunk in targets.chunks(ANONYMISE_BATCH) {
            done += anonymise_batch(app, chunk).await?;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(done),
        }
    }
}

fn anonymise_update() -> Update {
    let mut update = Update::new()
        .set("metadata", Value::M(Default::default()))
        .set("anonymised", true);
    for name in PERSONAL_ATTRIBUTES {
        update = update.remove(name);
    }
    update
}

/// One transaction for the batch; when an event vanished meanwhile (its TTL ran out), the
/// rest are done one by one.
async fn anonymise_batch(app: &App, keys: &[Key]) -> Result<u64, Error> {
    // An update creates missing items: the condition keeps an expired event from coming back.
    let ops = keys
        .iter()
        .map(|key| TxOp::Update {
            key: key.clone(),
            update: anonymise_update(),
            condition: Some(Condition::item_present()),
        })
        .collect();
    match app.table.transact_write(ops).await {
        Ok(()) => Ok(keys.len() as u64),
        Err(StoreError::TransactionCanceled { .. }) => {
            let mut done = 0;
            for key in keys {
                match app
                    .table
                    .update(key, anonymise_update(), Some(Condition::item_present()))
                    .await
                {
                    Ok(_) => done += 1,
                    Err(StoreError::ConditionFailed) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(done)
        }
        Err(e) => Err(e.into()),
    }
}

/// Records an event; a failure is logged and does not fail the request that caused it.
pub async fn log_event_best_effort(app: &App, event: NewEvent) {
    let event_type = event.event_type;
    if let Err(e) = log_event(app, event).await {
        tracing::warn!(error = %e, event_type = ?event_type, "event not recorded");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::json;

    use super::*;

    #[test]
    fn there_are_at_least_fifty_types_with_unique_names_that_round_trip() {
        assert!(EventType::ALL.len() >= 50, "{} types", EventType::ALL.len());
        let names: HashSet<_> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(names.len(), EventType::ALL.len());
        for &t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            // serde's name is the stored name.
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
            assert!(!t.summary().is_empty());
        }
        for group in EventGroup::ALL {
            assert!(
                EventType::ALL.iter().any(|t| t.group() == group),
                "{group:?} is empty"
            );
            assert_eq!(EventGroup::parse(group.as_str()), Some(group));
        }
        assert_eq!(EventType::parse("review"), Some(EventType::ReviewCreate));
        assert_eq!(EventType::parse("Login"), None);
        assert_eq!(EventType::parse("nonsense"), None);
    }

    #[test]
    fn the_types_other_features_need_exist() {
        let needed = [
            "register",
            "verification_sent",
            "verify",
            "verify_failed",
            "login",
            "login_failed",
            "logout",
            "token_refresh",
            "token_reuse_detected",
            "password_change",
            "password_reset_requested",
            "password_reset",
            "api_token_created",
            "api_token_revoked",
            "bot_detected",
            "session_refresh",
            "account_locked",
            "new_device_login",
            "session_ended",
            "account_suspended",
            "account_unsuspended",
            "account_deleted",
            "profile_update",
            "email_change",
            "username_change",
            "role_change",
            "follow",
            "unfollow",
            "follow_request",
            "follow_approved",
            "follow_rejected",
            "follower_removed",
            "block",
            "unblock",
            "post_create",
            "post_delete",
            "comment_create",
            "like_given",
            "share",
            "review_create",
            "helpful_vote",
            "bug_report_verified",
            "page_view",
            "badge_earned",
            "badge_revoked",
            "settings_update",
            "privacy_change",
            "admin_action",
            "event_reviewed",
            "security_alert",
            "suspicious_activity",
            "rate_limited",
        ];
        for name in needed {
            assert!(EventType::parse(name).is_some(), "{name}");
        }
        assert_eq!(
            EventType::TokenReuseDetected.default_severity(),
            Severity::High
        );
        assert_eq!(
            EventType::AccountLocked.default_severity(),
            Severity::Medium
        );
        assert!(EventType::LoginFailed.is_security());
        assert!(EventType::BotDetected.is_security());
        assert!(!EventType::Follow.is_security());
        assert!(!EventType::Login.is_security());
    }

    #[test]
    fn docs_list_every_type_with_group_severity_and_retention() {
        let docs = include_str!("../../../docs/events.md");
        let count = format!("{} types in eight groups", EventType::ALL.len());
        assert!(docs.contains(&count), "docs/events.md should say {count}");
        for &t in EventType::ALL {
            let severity = t.default_severity();
            let row = format!(
                "| `{}` | {} | {} | {} days | {} | {} |",
                t.as_str(),
                t.group().as_str(),
                severity.as_str(),
                severity.retention_days(),
                if t.is_security() { "yes" } else { "" },
                t.summary()
            );
            assert!(docs.contains(&row), "docs/events.md lacks the row {row}");
        }
    }

    #[test]
    fn risk_score_adds_up_and_is_capped() {
        let empty = json!({});
        let low = RiskInputs {
            severity: Severity::Low,
            is_security: false,
            success: true,
            anonymous: false,
            metadata: &empty,
        };
        assert_eq!(risk_score(&low), 5);
        assert_eq!(
            risk_score(&RiskInputs {
                success: false,
                ..low
            }),
            20
        );
        assert_eq!(
            risk_score(&RiskInputs {
                severity: Severity::Medium,
                ..low
            }),
            20
        );
        assert_eq!(
            risk_score(&RiskInputs {
                severity: Severity::High,
                is_security: true,
                ..low
            }),
            55
        );
        let anonymous_failure = RiskInputs {
            severity: Severity::Medium,
            is_security: true,
            success: false,
            anonymous: true,
            metadata: &empty,
        };
        assert_eq!(risk_score(&anonymous_failure), 55);
        let signals =
            json!({"new_device": true, "new_ip": true, "new_location": false, "bot": "yes"});
        assert_eq!(
            risk_score(&RiskInputs {
                metadata: &signals,
                ..low
            }),
            25
        );
        let all = json!({"new_device": true, "new_ip": true, "new_location": true, "bot": true});
        let worst = RiskInputs {
            severity: Severity::Critical,
            is_security: true,
            success: false,
            anonymous: true,
            metadata: &all,
        };
        assert_eq!(risk_score(&worst), 100);
    }

    #[test]
    fn velocity_adds_five_per_similar_event_up_to_25_within_the_cap() {
        assert_eq!(velocity_points(0), 0);
        assert_eq!(velocity_points(1), 5);
        assert_eq!(velocity_points(5), 25);
        assert_eq!(velocity_points(50), 25);
        assert_eq!(risk_with_velocity(45, 2), 55);
        assert_eq!(risk_with_velocity(95, 3), 100);
    }

    #[test]
    fn only_unreviewed_events_that_need_review_are_on_the_queue() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let event = NewEvent::new(EventType::SecurityAlert, Some(UserId(3)));
        let mut record =
            EventRecord::build(event, "01J0000000000000000000002".into(), now).unwrap();
        let item = record.to_item().unwrap();
        assert_eq!(item.get("GSI2PK").and_then(Value::as_str), Some("REVIEW"));
        // Reviewed, a severe event leaves the queue for the severe-event index (alerts).
        record.reviewed_at = Some(now);
        let severe = keys::severe_event_index(&record.event_id).0;
        assert_eq!(
            record
                .to_item()
                .unwrap()
                .get("GSI2PK")
                .and_then(Value::as_str),
            Some(severe.as_str())
        );
        let low = NewEvent::new(EventType::Login, Some(UserId(3)));
        let low = EventRecord::build(low, "01J0000000000000000000003".into(), now).unwrap();
        assert!(!low.to_item().unwrap().contains_key("GSI2PK"));
    }

    #[test]
    fn event_id_bounds_enclose_every_id_of_their_millisecond() {
        let at = DateTime::from_timestamp(1_700_000_000, 5_000_000).unwrap();
        let id = new_event_id(at);
        assert!(event_id_bound(at, false) <= id && id <= event_id_bound(at, true));
        let later = new_event_id(at + chrono::Duration::milliseconds(1));
        assert!(later > event_id_bound(at, true));
    }

    #[test]
    fn records_take_severity_retention_review_and_trim_input() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let client = ClientInfo {
            ip: Some([192, 0, 2, 7].into()),
            user_agent: Some("x".repeat(2000)),
            ..ClientInfo::default()
        };
        let event = NewEvent::new(EventType::TokenReuseDetected, Some(UserId(3))).client(&client);
        let record = EventRecord::build(event, "01J0000000000000000000000".into(), now).unwrap();
        assert_eq!(record.severity, Severity::High);
        assert!(record.requires_review);
        assert_eq!(record.expires_at, 1_700_000_000 + 730 * 86_400);
        assert_eq!(
            record.user_agent.as_ref().map(String::len),
            Some(MAX_USER_AGENT_CHARS)
        );
        assert_eq!(record.ip_address.as_deref(), Some("192.0.2.7"));

        let raised = NewEvent::new(EventType::Follow, Some(UserId(3))).severity(Severity::High);
        let record = EventRecord::build(raised, "01J0000000000000000000001".into(), now).unwrap();
        assert!(!record.requires_review, "only security events need review");
        let item = record.to_item().unwrap();
        assert_eq!(EventRecord::from_item(&item).unwrap(), record);
    }

    #[test]
    fn metadata_must_be_a_small_shallow_object() {
        assert_eq!(
            checked_metadata(serde_json::Value::Null).unwrap(),
            json!({})
        );
        assert!(checked_metadata(json!([1, 2])).is_err());
        assert!(checked_metadata(json!("text")).is_err());
        let just_fits = json!({ "a": "x".repeat(MAX_METADATA_BYTES - 8) });
        assert_eq!(
            serde_json::to_vec(&just_fits).unwrap().len(),
            MAX_METADATA_BYTES
        );
        assert!(checked_metadata(just_fits).is_ok());
        let too_big = json!({ "a": "x".repeat(MAX_METADATA_BYTES - 7) });
        assert!(
            matches!(checked_metadata(too_big), Err(Error::Invalid(e)) if e.0.contains_key("metadata"))
        );
        let mut deep = json!(1);
        for _ in 0..MAX_METADATA_DEPTH {
            deep = json!({ "n": deep });
        }
        assert!(checked_metadata(deep.clone()).is_ok());
        assert!(checked_metadata(json!({ "n": deep })).is_err());
    }

    #[test]
    fn event_ids_are_ulids_in_time_order() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let a = new_event_id(t0);
        let b = new_event_id(t0 + chrono::Duration::milliseconds(1));
        assert_eq!(a.len(), 26);
        assert!(a < b);
        assert!(ulid::Ulid::from_string(&a).is_ok());
    }
}
