//! Notifications (`docs/notifications.md`): the in-app inbox and the badge award email (the
//! seed's `send_badge_notification`).
//!
//! A notification is made from a domain event after the write that published it, where the
//! badge evaluator runs (the `badge-events` function on AWS; the in-process bus subscriber
//! locally): `BadgeEarned` (an award by the evaluator, an administrator or the command),
//! `UserFollowed` (new follower), `FollowRequested` (follow request) and
//! `FollowRequestApproved` (request approved). So an award or a follow gains no write of its
//! own: the notification is ONE put in the recipient's partition (`keys::notification`), its id
//! a ULID derived from the event, put-if-absent, so a redelivered event makes no second one.
//!
//! The recipient's settings decide: with `push_notifications` off nothing alerts (the inbox
//! lists every notification, `unread_count` is 0); for a badge, `email_notifications` on mails
//! it (text and HTML: name, description, points, a link) at once with `notification_frequency`
//! `immediate`, or marks it for the digest (`daily`; `weekly` on the next Monday) that the
//! `send_notification_digests` task mails (`tasks::notification_digest`); `never` mails nothing.
//!
//! `unread_count` is no counter: it counts the unread notifications after the owner's read
//! marker (`keys::notification_state`, written by "read all"), so nothing that other users do
//! writes a shared item. A notification shows its actor only as the card anyone may see, and
//! not at all across a block (either way) or once the actor is suspended or gone.

pub mod digest;

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::App;
use crate::accounts::{SettingsRecord, UserRecord};
use crate::badges::definitions::{BadgeDefinition, BadgeId};
use crate::bus::DomainEvent;
use crate::error::Error;
use crate::mail::Email;
use crate::model::UserId;
use crate::profiles::views::public_card;
use crate::store::{
    Condition, Cursor, Index, Item, ItemShapeError, Query, SortCondition, StoreError, Update,
    Value, from_item, keys, to_item,
};

/// How long a notification is kept (the table's TTL removes it).
pub const KEEP_DAYS: i64 = 90;

/// Most notifications `unread_count` counts (it reads them: a user with more sees this).
pub const UNREAD_COUNT_MAX: usize = 500;

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    BadgeEarned,
    NewFollower,
    FollowRequest,
    RequestApproved,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::BadgeEarned,
        Kind::NewFollower,
        Kind::FollowRequest,
        Kind::RequestApproved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::BadgeEarned => "badge_earned",
            Kind::NewFollower => "new_follower",
            Kind::FollowRequest => "follow_request",
            Kind::RequestApproved => "request_approved",
        }
    }
}

/// The badge of a `badge_earned` notification, as it was when awarded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BadgeRef {
    pub id: BadgeId,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub points: i64,
}

/// A notification as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub user_id: UserId,
    pub id: String,
    pub kind: Kind,
    /// The user whose action it reports (follows); shown only as policy allows.
    #[serde(default)]
    pub actor: Option<UserId>,
    #[serde(default)]
    pub badge: Option<BadgeRef>,
    #[serde(default)]
    pub read: bool,
    pub created_at: DateTime<Utc>,
}

impl NotificationRecord {
    /// The item; `digest_due` puts it on the digest index (its email waits for the digest).
    pub fn to_item(&self, digest_due: Option<DateTime<Utc>>) -> Result<Item, ItemShapeError> {
        let mut item = to_item(self)?;
        let key = keys::notification(self.user_id, &self.id);
        keys::set_key(&mut item, key);
        let expires = (self.created_at + Duration::days(KEEP_DAYS)).timestamp();
        item.insert(keys::attr::EXPIRES_AT.into(), Value::Int(expires));
        if let Some(due) = digest_due {
            let (pk, sk) = keys::digest_index(due.timestamp_millis(), self.user_id, &self.id);
            keys::set_index_keys(&mut item, Index::Gsi1, pk, sk);
        }
        Ok(item)
    }

    pub fn from_item(item: &Item) -> Result<NotificationRecord, ItemShapeError> {
        from_item(item)
    }
}

/// A notification id: a ULID (26 characters of Crockford's base 32).
pub fn parse_id(raw: &str) -> Option<String> {
    ulid::Ulid::from_string(raw).ok().map(|u| u.to_string())
}

/// The id of the notification an event makes: the event's time and a hash of the event, so a
/// redelivery names the same item.
fn id_for(event: &DomainEvent, recipient: UserId) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(
        format!(
            "{}|{}|{}|{}",
            event.detail_type,
            event.detail,
            event.time.timestamp_millis(),
            recipient.0
        )
        .as_bytes(),
    );
    let mut random = [0u8; 16];
    random.copy_from_slice(&digest[..16]);
    let millis = u64::try_from(event.time.timestamp_millis()).unwrap_or(0);
    ulid::Ulid::from_parts(millis, u128::from_be_bytes(random)).to_string()
}

fn user_in(detail: &Json, names: &[&str]) -> Option<UserId> {
    names
        .iter()
        .find_map(|n| detail.get(*n))
        .and_then(Json::as_i64)
        .filter(|n| *n > 0)
        .map(UserId)
}

/// The notification a domain event makes, if any (`{recipient, kind, actor}`).
fn plan(event: &DomainEvent) -> Option<(UserId, Kind, Option<UserId>)> {
    if event.source != crate::bus::EVENT_SOURCE {
        return None;
    }
    let d = &event.detail;
    let follower = || user_in(d, &["follower"]);
    let followed = || user_in(d, &["followed"]);
    match event.detail_type.as_str() {
        // A large account is not told of each follow (thousands a second: `social::large`).
        "UserFollowed" if d.get("large").and_then(Json::as_bool) == Some(true) => None,
        "UserFollowed" => Some((followed()?, Kind::NewFollower, Some(follower()?))),
        "FollowRequested" => Some((followed()?, Kind::FollowRequest, Some(follower()?))),
        "FollowRequestApproved" => Some((follower()?, Kind::RequestApproved, Some(followed()?))),
        "BadgeEarned" => Some((user_in(d, &["user_id", "user"])?, Kind::BadgeEarned, None)),
        _ => None,
    }
}

/// Makes the notification of a domain event (nothing for other events): ONE put,
/// put-if-absent. A follow's reads nothing first (a celebrity's settings would be read by every
/// follow of them: `docs/scale.md`); a badge's reads the recipient's profile, settings and the
/// definition in one batch first, and its email goes out after the put, when the settings
/// allow.
pub async fn on_domain_event(app: &App, event: &DomainEvent) -> Result<(), Error> {
    let Some((recipient, kind, actor)) = plan(event) else {
        return Ok(());
    };
    let record = NotificationRecord {
        user_id: recipient,
        id: id_for(event, recipient),
        kind,
        actor,
        badge: None,
        read: false,
        created_at: event.time,
    };
    if kind != Kind::BadgeEarned {
        put_if_new(app, &record, None).await?;
        return Ok(());
    }
    notify_badge_earned(app, event, record).await
}

/// A badge's notification: read what it needs, put it (on the digest index when the
/// recipient's mail settings say `daily` or `weekly`), and mail it when they say `immediate`.
async fn notify_badge_earned(
    app: &App,
    event: &DomainEvent,
    mut record: NotificationRecord,
) -> Result<(), Error> {
    let recipient = record.user_id;
    let badge_id = event.detail.get("badge_id").and_then(Json::as_i64);
    let Some(found) = read_badge_recipient(app, recipient, badge_id).await? else {
        return Ok(());
    };
    let Some(badge) = badge_of_award(event, badge_id, found.definition) else {
        return Ok(());
    };
    record.badge = Some(badge);
    let mail = if mailable(&found.user, &found.settings) {
        found.settings.notification_frequency.as_str()
    } else {
        "never"
    };
    let digest_due = match mail {
        "daily" => Some(event.time),
        "weekly" => Some(next_monday(event.time)),
        _ => None,
    };
    if !put_if_new(app, &record, digest_due).await? {
        // Made already by an earlier delivery of the same event (its email went then).
        return Ok(());
    }
    if mail == "immediate"
        && let Some(badge) = &record.badge
    {
        let email = award_email(app, &found.user, std::slice::from_ref(badge));
        if let Err(e) = app.mailer.send(&email).await {
            tracing::warn!(error = %e, user = recipient.0, "badge email not sent");
        }
    }
    Ok(())
}

/// Puts the notification if absent: `false` when a delivery of the same event made it already.
async fn put_if_new(
    app: &App,
    record: &NotificationRecord,
    digest_due: Option<DateTime<Utc>>,
) -> Result<bool, Error> {
    let put = app
        .table
        .put(record.to_item(digest_due)?, Some(Condition::item_absent()))
        .await;
    match put {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// What a badge notification reads first.
struct BadgeRecipient {
    user: UserRecord,
    /// The stored settings, or the defaults.
    settings: SettingsRecord,
    /// The badge's definition, when the event names a badge that is still defined.
    definition: Option<BadgeDefinition>,
}

/// The recipient's profile and settings and the badge's definition, in one batch read; `None`
/// when the recipient is gone or being erased (no notification then).
async fn read_badge_recipient(
    app: &App,
    recipient: UserId,
    badge_id: Option<i64>,
) -> Result<Option<BadgeRecipient>, Error> {
    let mut read = vec![keys::user(recipient), keys::settings(recipient)];
    if let Some(badge) = badge_id {
        read.push(keys::badge_definition(badge));
    }
    let found = app.table.batch_get(&read).await?;
    let Some(user) = found[0]
        .as_ref()
        .map(from_item::<UserRecord>)
        .transpose()?
        .filter(|u| !u.deleting)
    else {
        return Ok(None);
    };
    let settings = found[1]
        .as_ref()
        .map(from_item::<SettingsRecord>)
        .transpose()?
        .unwrap_or_else(|| SettingsRecord::defaults(recipient, app.clock.now()));
    let definition = found
        .get(2)
        .and_then(Option::as_ref)
        .map(BadgeDefinition::from_item)
        .transpose()?;
    Ok(Some(BadgeRecipient {
        user,
        settings,
        definition,
    }))
}

/// The badge as the notification keeps it: its definition (with the event's points, when it
/// has them), or else the name and points the event carries; `None` when neither names it.
fn badge_of_award(
    event: &DomainEvent,
    badge_id: Option<i64>,
    definition: Option<BadgeDefinition>,
) -> Option<BadgeRef> {
    let points = event.detail.get("points").and_then(Json::as_i64);
    let name = event.detail.get("badge_name").and_then(Json::as_str);
    match (badge_id, definition, name) {
        (Some(id), Some(def), _) => Some(BadgeRef {
            id: BadgeId(id),
            name: def.name,
            description: def.description,
            points: points.unwrap_or(def.points),
        }),
        (Some(id), None, Some(name)) => Some(BadgeRef {
            id: BadgeId(id),
            name: name.to_owned(),
            description: String::new(),
            points: points.unwrap_or(0),
        }),
        _ => None,
    }
}

/// Whether the user wants (and can get) notification mail.
pub(crate) fn mailable(user: &UserRecord, settings: &SettingsRecord) -> bool {
    settings.email_notifications && user.email_suppressed.is_none() && !user.email.is_empty()
}

/// The first instant of the Monday after `at` (UTC): when a weekly digest goes.
fn next_monday(at: DateTime<Utc>) -> DateTime<Utc> {
    let days = 7 - i64::from(at.weekday().num_days_from_monday());
    (at.date_naive() + Duration::days(days))
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
}

/// Where a user's badge is shown: the console's public badge page.
fn badge_link(app: &App, user: &UserRecord, badge: BadgeId) -> String {
    let path = format!("/u/{}/badges/{}", user.username, badge);
    match app.config.auth.public_url.as_deref() {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => path,
    }
}

/// The award email (one badge) or a digest (several): text and HTML with each badge's name,
/// description, points and a link to it.
pub(crate) fn award_email(app: &App, user: &UserRecord, badges: &[BadgeRef]) -> Email {
    let escape = crate::auth::codes::html_escape;
    let subject = match badges {
        [one] => format!("You earned the badge {}", one.name),
        many => format!("You earned {} badges", many.len()),
    };
    let mut text = format!("Hello {},\n\n", user.display_name());
    let mut html = format!(
        "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n<p>Hello {},</p>\n<ul>\n",
        escape(&user.display_name())
    );
    for badge in badges {
        let link = badge_link(app, user, badge.id);
        text.push_str(&format!(
            "You earned the badge \"{}\" ({} points).\n{}\nSee it at {link}\n\n",
            badge.name, badge.points, badge.description
        ));
        html.push_str(&format!(
            "<li><p><strong>{}</strong> ({} points)</p><p>{}</p><p><a href=\"{}\">See your badge</a></p></li>\n",
            escape(&badge.name),
            badge.points,
            escape(&badge.description),
            escape(&link)
        ));
    }
    text.push_str("You get this mail because your settings ask for email notifications.\n");
    html.push_str(
        "</ul>\n<p>You get this mail because your settings ask for email notifications.</p>\n</body></html>\n",
    );
    Email {
        to: user.email.clone(),
        subject,
        text,
        html,
    }
}

/// The reads of the inbox, beside the authentication (`http::auth::caller_with`): the newest
/// page and the read marker.
pub struct InboxReads {
    page: crate::store::Page,
    marker: Option<String>,
    /// The owner's `push_notifications`: off, nothing alerts (`unread_count` is 0).
    alerts: bool,
}

pub async fn inbox_reads(
    app: &App,
    user: UserId,
    page_size: u32,
    cursor: Option<Cursor>,
) -> Result<InboxReads, Error> {
    let query = Query::new(Index::Primary, keys::user_partition(user))
        .sort(SortCondition::BeginsWith(keys::NOTIFICATION_PREFIX.into()))
        .descending()
        .limit(page_size)
        .after(cursor);
    let (page, (marker, alerts)) = futures::try_join!(
        async { Ok::<_, Error>(app.table.query(query).await?) },
        marker_and_alerts(app, user)
    )?;
    Ok(InboxReads {
        page,
        marker,
        alerts,
    })
}

/// The read marker and the owner's `push_notifications`, in one batch read.
async fn marker_and_alerts(app: &App, user: UserId) -> Result<(Option<String>, bool), Error> {
    let found = app
        .table
        .batch_get(&[keys::notification_state(user), keys::settings(user)])
        .await?;
    let marker = found[0].as_ref().and_then(|i| {
        i.get("read_through")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let alerts = found[1]
        .as_ref()
        .map(from_item::<SettingsRecord>)
        .transpose()?
        .is_none_or(|s| s.push_notifications);
    Ok((marker, alerts))
}

/// `GET /api/notifications/`: the owner's notifications, newest first, with `unread_count`.
pub async fn inbox(app: &App, viewer: &UserRecord, reads: InboxReads) -> Result<Json, Error> {
    let InboxReads {
        page,
        marker,
        alerts,
    } = reads;
    let records = page
        .items
        .iter()
        .map(NotificationRecord::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    let unread = async {
        match alerts {
            true => unread_count(app, viewer.id, marker.as_deref()).await,
            false => Ok(0),
        }
    };
    let (views, unread) =
        futures::try_join!(render(app, viewer, &records, marker.as_deref()), unread)?;
    Ok(json!({
        "next": page.next.as_ref().map(Cursor::as_str),
        "previous": null,
        "unread_count": unread,
        "results": views,
    }))
}

/// Unread notifications after the marker, counted up to [`UNREAD_COUNT_MAX`].
async fn unread_count(app: &App, user: UserId, marker: Option<&str>) -> Result<usize, Error> {
    let sort = match marker {
        Some(m) => SortCondition::Between(
            format!("{}{m}", keys::NOTIFICATION_PREFIX),
            format!("{}~", keys::NOTIFICATION_PREFIX),
        ),
        None => SortCondition::BeginsWith(keys::NOTIFICATION_PREFIX.into()),
    };
    let mut count = 0;
    let mut cursor = None;
    loop {
        let query = Query::new(Index::Primary, keys::user_partition(user))
            .sort(sort.clone())
            .filter(Condition::eq("read", false))
            .after(cursor);
        let page = app.table.query(query).await?;
        count += page
            .items
            .iter()
            .filter(|i| {
                i.get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| marker.is_none_or(|m| id > m))
            })
            .count();
        match page.next {
            Some(next) if count < UNREAD_COUNT_MAX => cursor = Some(next),
            _ => return Ok(count.min(UNREAD_COUNT_MAX)),
        }
    }
}

/// The views of some notifications: each actor as the card anyone may see, or `null` across
/// a block (either way), for a suspended or erased account; one batch read of the actors and
/// the block edges both ways.
async fn render(
    app: &App,
    viewer: &UserRecord,
    records: &[NotificationRecord],
    marker: Option<&str>,
) -> Result<Vec<Json>, Error> {
    let mut actors: Vec<UserId> = records.iter().filter_map(|r| r.actor).collect();
    actors.sort();
    actors.dedup();
    let mut cards: HashMap<UserId, Json> = HashMap::new();
    if !actors.is_empty() {
        let read: Vec<_> = actors
            .iter()
            .flat_map(|a| {
                [
                    keys::user(*a),
                    keys::block_edge(viewer.id, *a),
                    keys::block_edge(*a, viewer.id),
                ]
            })
            .collect();
        let found = app.table.batch_get(&read).await?;
        for (actor, three) in actors.iter().zip(found.chunks(3)) {
            let blocked = three[1].is_some() || three[2].is_some();
            let user = three[0].as_ref().map(from_item::<UserRecord>).transpose()?;
            if let Some(user) = user.filter(|u| !blocked && !u.deleting && !u.is_suspended) {
                cards.insert(*actor, public_card(&user));
            }
        }
    }
    Ok(records
        .iter()
        .map(|r| {
            let actor = r.actor.and_then(|a| cards.get(&a).cloned());
            let name = actor
                .as_ref()
                .and_then(|c| c["username"].as_str())
                .unwrap_or("A user")
                .to_owned();
            let message = match (r.kind, &r.badge) {
                (Kind::BadgeEarned, Some(b)) => {
                    format!("You earned the badge {} ({} points).", b.name, b.points)
                }
                (Kind::BadgeEarned, None) => "You earned a badge.".into(),
                (Kind::NewFollower, _) => format!("{name} started following you."),
                (Kind::FollowRequest, _) => format!("{name} asked to follow you."),
                (Kind::RequestApproved, _) => format!("{name} approved your follow request."),
            };
            let read = r.read || marker.is_some_and(|m| r.id.as_str() <= m);
            json!({
                "id": r.id,
                "kind": r.kind.as_str(),
                "created_at": r.created_at,
                "read": read,
                "actor": actor,
                "badge": r.badge.as_ref().map(|b| json!({
                    "id": b.id, "name": b.name, "description": b.description, "points": b.points,
                })),
                "message": message,
            })
        })
        .collect())
}

/// `POST /api/notifications/{id}/read/`: the owner's notification, now read (404 if none).
pub async fn mark_read(app: &App, viewer: &UserRecord, id: &str) -> Result<Json, Error> {
    let key = keys::notification(viewer.id, id);
    let updated = app
        .table
        .update(
            &key,
            Update::new().set("read", true),
            Some(Condition::item_present()),
        )
        .await;
    let item = match updated {
        Ok(item) => item,
        Err(StoreError::ConditionFailed) => return Err(Error::NotFound),
        Err(e) => return Err(e.into()),
    };
    let record = NotificationRecord::from_item(&item)?;
    let mut views = render(app, viewer, std::slice::from_ref(&record), None).await?;
    views.pop().ok_or(Error::NotFound)
}

/// `POST /api/notifications/read-all/`: one write of the owner's read marker; everything up
/// to now reads as read.
pub async fn read_all(app: &App, viewer: &UserRecord) -> Result<Json, Error> {
    let now = app.clock.now();
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    // The greatest id of this millisecond: every notification made until now is at or below.
    let marker = ulid::Ulid::from_parts(millis, u128::MAX).to_string();
    let mut item = keys::notification_state(viewer.id).to_item();
    item.insert("user_id".into(), Value::Int(viewer.id.0));
    item.insert("read_through".into(), Value::S(marker.clone()));
    item.insert(
        "updated_at".into(),
        serde_json::to_value(now)
            .map(Value::from)
            .unwrap_or(Value::Null),
    );
    app.table.put(item, None).await?;
    Ok(json!({ "unread_count": 0, "read_through": marker }))
}

/// Every notification of a user (the personal data export), newest first.
pub async fn all_of(app: &App, user: UserId) -> Result<Vec<NotificationRecord>, Error> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let query = Query::new(Index::Primary, keys::user_partition(user))
            .sort(SortCondition::BeginsWith(keys::NOTIFICATION_PREFIX.into()))
            .descending()
            .after(cursor);
        let page = app.table.query(query).await?;
        for item in &page.items {
            out.push(NotificationRecord::from_item(item)?);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// The in-process bus subscriber that makes notifications locally, as the `badge-events`
/// function does on AWS (subscribed with the badge evaluator).
pub struct BusNotifier {
    parts: crate::app::AppParts,
}

impl BusNotifier {
    pub fn new(app: &App) -> Option<BusNotifier> {
        Some(BusNotifier {
            parts: crate::app::AppParts::of(app)?,
        })
    }
}

#[async_trait::async_trait]
impl crate::bus::Subscriber for BusNotifier {
    async fn handle(&self, event: &DomainEvent) {
        if plan(event).is_none() {
            return;
        }
        let Some(app) = self.parts.app() else {
            return;
        };
        if let Err(e) = on_domain_event(&app, event).await {
            tracing::warn!(error = %e, detail_type = %event.detail_type, "notification not made");
        }
    }
}
