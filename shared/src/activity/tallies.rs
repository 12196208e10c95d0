//! What activity records about each user for the badge criteria to read, written where it
//! happens and read by `badges::stats` (which depends on this module, never the reverse):
//!
//! - the `STATS` attributes of content events: `review_create_quality_<t>` and
//!   `max_post_likes` (written by `activity::ingest` in the event's transaction);
//! - one activity day item per UTC day the user did something (`keys::activity_day`), its
//!   attributes per quarter-hour slot: ADD 1 to `<type>#<slot>` per counted content event,
//!   SET `login#<slot>` per sign-in day, SET `follow_<id>#<slot>` per follow. Writers need no
//!   read (no time zone lookup in the event's transaction); the reader regroups the slots into
//!   the days of the user's settings time zone;
//! - the daily visit: the first authentication of a user's local day marks it and announces
//!   `UserLoggedIn` on the bus, which the badge evaluator subscribes to. A sign-in calls this
//!   module, not the badges.

use chrono::{DateTime, Days, NaiveDate, Timelike, Utc};
use serde_json::json;

use crate::App;
use crate::accounts::{SettingsRecord, UserRecord};
use crate::activity::events::EventType;
use crate::bus::DomainEvent;
use crate::error::Error;
use crate::model::{TimeZone, UserId};
use crate::store::{Key, Transaction, TxOp, Update, Value, from_item, keys, keys::attr};

/// Longest streak a `consecutive_days` criterion may ask for (ten years): the day items kept.
pub const MAX_DAYS: u32 = 3650;

/// Quality thresholds counted on `STATS`, in tenths (1.0, 1.5, ... 5.0).
pub const QUALITY_THRESHOLDS: [u32; 9] = [10, 15, 20, 25, 30, 35, 40, 45, 50];

/// The `STATS` attribute counting events of a type of at least `tenths`/10 quality
/// (`review_create_quality_40`).
pub fn quality_attribute(event_type: EventType, tenths: u32) -> String {
    format!("{}_quality_{tenths}", event_type.as_str())
}

/// How long an activity day item is kept: longer than the longest streak a criterion may ask
/// for ([`MAX_DAYS`]) and the 30-day window, so a user has at most this many.
pub const DAY_TTL_DAYS: u64 = MAX_DAYS as u64 + 31;

/// The day item's mark of a login.
pub const LOGIN_MARK: &str = "login";

/// Prefix of the day item's follow marks (`follow_<followed id>`): a SET per followed user,
/// so a redelivered follow event marks the same attribute again instead of counting twice.
pub const FOLLOW_MARK_PREFIX: &str = "follow_";

/// The STATS attribute holding the most likes one post of the user has received.
pub const MAX_POST_LIKES: &str = "max_post_likes";

/// The user's time zone from their settings (UTC when unset or unknown).
pub fn zone_of(settings: Option<&SettingsRecord>) -> TimeZone {
    settings
        .and_then(|s| TimeZone::parse(&s.timezone))
        .unwrap_or_else(TimeZone::utc)
}

/// The user's calendar day of an instant.
pub fn local_day(zone: &TimeZone, at: DateTime<Utc>) -> NaiveDate {
    zone.local_date(at)
}

/// The day as the key and the `day` attribute spell it.
pub fn day_string(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// Minutes covered by one slot of a day item. Every time zone's offset is a multiple of 15
/// minutes, so a slot never straddles the start of a local day.
pub const SLOT_MINUTES: u32 = 15;

/// Separates an attribute's base name from its slot (`like_given#37`).
pub const SLOT_SEPARATOR: char = '#';

/// The UTC day of an instant and its quarter-hour slot (0–95).
fn slot_of(at: DateTime<Utc>) -> (NaiveDate, u32) {
    let naive = at.naive_utc();
    let minutes = naive.time().num_seconds_from_midnight() / 60;
    (naive.date(), minutes / SLOT_MINUTES)
}

fn slot_attribute(base: &str, slot: u32) -> String {
    format!("{base}{SLOT_SEPARATOR}{slot}")
}

/// The update of a day item: `changes` plus the bookkeeping (owner, day, expiry).
fn day_update(user: UserId, day: NaiveDate, changes: Update) -> Update {
    let expires = day
        .checked_add_days(Days::new(DAY_TTL_DAYS))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
        .unwrap_or(i64::MAX);
    changes
        .set_if_missing("user_id", Value::Int(user.0))
        .set("day", day_string(day))
        .set(attr::EXPIRES_AT, Value::Int(expires))
}

/// One write to the UTC day item of `at`: `change` builds the update of the slot attribute.
fn slot_write(user: UserId, at: DateTime<Utc>, base: &str, increment: bool) -> (Key, Update) {
    let (day, slot) = slot_of(at);
    let name = slot_attribute(base, slot);
    let change = if increment {
        Update::new().add(&name, 1)
    } else {
        Update::new().set(&name, Value::Int(1))
    };
    (
        keys::activity_day(user, &day_string(day)),
        day_update(user, day, change),
    )
}

/// The transaction operation counting an ingested event on the user's day item (ingestion
/// puts it in the event's transaction; no read: the time zone is applied when reading).
pub fn count_on_day(user: UserId, at: DateTime<Utc>, event_type: EventType) -> TxOp {
    let (key, update) = slot_write(user, at, event_type.as_str(), true);
    TxOp::Update {
        key,
        update,
        condition: None,
    }
}

/// Records a login on the user's day item (one write, no read) and announces it with
/// The operations of recording a visit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VisitOp {
    /// The profile's last visit, unless this one is recorded already.
    Profile,
    /// The day's active-user count.
    Day,
}

/// `UserLoggedIn` for the badge evaluator. Best-effort: a failure is logged and the login goes
/// on. The mark is a SET, so logins in the same quarter hour mark it once.
pub async fn record_login(app: &App, user: UserId) {
    let at = app.clock.now();
    let (key, update) = slot_write(user, at, LOGIN_MARK, false);
    if let Err(e) = app.table.update(&key, update, None).await {
        tracing::warn!(error = %e, user = user.0, "login day not recorded");
    }
    let event = DomainEvent::new(LOGGED_IN, json!({ "user_id": user }), at);
    if let Err(e) = app.bus.publish(&[event]).await {
        tracing::warn!(error = %e, "UserLoggedIn not published");
    }
}

/// Whether the user's visit of the current day (in their time zone) is still to be recorded:
/// the profile's `visit_until` is the end of the local day of the last recorded one.
pub fn visit_due(app: &App, user: &UserRecord) -> bool {
    app.clock.now().timestamp() >= user.visit_until
}

/// The user's time zone for [`record_visit`]: one read of the settings (UTC when it fails).
pub async fn visit_zone(app: &App, user: UserId) -> TimeZone {
    match app.table.get(&keys::settings(user), false).await {
        Ok(item) => zone_of(
            item.and_then(|item| from_item::<SettingsRecord>(&item).ok())
                .as_ref(),
        ),
        Err(e) => {
            tracing::warn!(error = %e, user = user.0, "time zone not read for the visit");
            TimeZone::utc()
        }
    }
}

/// Records that the user was active today, whatever authenticated them (a password login, a
/// session, a JWT, a refresh, an API token): ONE transaction that marks `login` on the day
/// item of this quarter hour (what `consecutive_days` of `login` reads: a day counts when the
/// user was signed in that day) and sets the profile's `last_active` and `visit_until` (the
/// end of this day in `zone`), conditioned on the stored `visit_until` being older, so that
/// concurrent requests write it once: at most one write per user per local day. Then
/// `UserLoggedIn` for the badge evaluator (unless `announce` is false: a login announces every
/// login itself, [`announce_login`]). Best-effort: a failure is logged, the request goes on.
pub async fn record_visit(app: &App, user: &UserRecord, zone: &TimeZone, announce: bool) {
    let now = app.clock.now();
    let until = zone.next_day_start(now).timestamp();
    let (day_key, day) = slot_write(user.id, now, LOGIN_MARK, false);
    let stamp = serde_json::to_value(now)
        .map(Value::from)
        .unwrap_or(Value::Null);
    let profile = Update::new()
        .set("last_active", stamp)
        .set("last_active_epoch", now.timestamp())
        .set("visit_until", until);
    let not_yet = crate::store::Condition::item_present().and(crate::store::Condition::Or(vec![
        crate::store::Condition::NotExists("visit_until".into()),
        crate::store::Condition::Lt("visit_until".into(), Value::Int(until)),
    ]));
    let tx = Transaction::new()
        .with(
            VisitOp::Profile,
            TxOp::Update {
                key: keys::user(user.id),
                update: profile,
                condition: Some(not_yet),
            },
        )
        .with(
            VisitOp::Day,
            TxOp::Update {
                key: day_key,
                update: day,
                condition: None,
            },
        );
    match tx.commit(app.table.as_ref()).await {
        Ok(()) if announce => announce_login(app, user.id).await,
        Ok(()) => {}
        // Recorded by a concurrent request already, or the account is gone.
        Err(e) if e.condition_failed(VisitOp::Profile) => {}
        Err(e) => tracing::warn!(error = %e, user = user.id.0, "visit not recorded"),
    }
}

/// `UserLoggedIn` for the badge evaluator: a login (every one: it also re-checks the role and
/// the scores no event announces), or the day's first visit.
pub async fn announce_login(app: &App, user: UserId) {
    let event = DomainEvent::new(LOGGED_IN, json!({ "user_id": user }), app.clock.now());
    if let Err(e) = app.bus.publish(&[event]).await {
        tracing::warn!(error = %e, "UserLoggedIn not published");
    }
}

/// The bus event announcing a login.
pub const LOGGED_IN: &str = "UserLoggedIn";

/// Marks on `follower`'s day item that they followed `followed` at `at`: the 7d/30d windows of
/// the `follow` interaction count these marks. Idempotent (a SET), so a redelivered follow
/// event does not count twice.
pub async fn record_follow(
    app: &App,
    follower: UserId,
    followed: UserId,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    let mark = format!("{FOLLOW_MARK_PREFIX}{followed}");
    let (key, update) = slot_write(follower, at, &mark, false);
    app.table.update(&key, update, None).await?;
    Ok(())
}
