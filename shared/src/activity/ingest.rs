//! Event ingestion: `POST /api/events/` and the content events arriving from EventBridge.
//!
//! Who may log what:
//! - An ordinary caller logs only client-side types ([`CLIENT_TYPES`]) and only for themselves;
//!   another type is 403, another user is 403, a severity is 403. Such an event is one put and
//!   feeds no counter (a client could inflate them).
//! - A service (an administrator's API token) and the bus log any content type
//!   ([`is_service_type`]) for any existing user. Such an event feeds the counters the badge
//!   criteria read, in the same transaction as the event:
//!   - the profile's `posts_count`: +1 for `post_create`, −1 for `post_delete` (never below 0);
//!   - the user's `STATS` item: ADD 1 to the attribute named after the type (`like_given`,
//!     `review_create` ...); for an event of any type with a numeric `metadata.quality`, ADD 1
//!     to `<type>_quality_<t>` for each threshold t in 10, 15, ... 50 (tenths) it reaches;
//!   - the target user's `STATS` item (when `target_user` is another user): ADD 1 to
//!     `received_<type>`.
//!   - the user's activity day item (`keys::activity_day`, the event's UTC day): ADD 1 to
//!     `<type>#<quarter-hour slot>`, which the badges regroup into days of the user's time
//!     zone for streaks and 7d/30d windows (`activity::tallies`, read by `badges::stats`);
//!   - for `like_given`/`like_removed` with a `target_user` (the author) and a
//!     `metadata.post_id`: the post's like count (`keys::post_likes`), an unconditional ADD
//!     (an unlike is conditioned on a positive count, and counts nothing at 0), so the likes
//!     of a busy post never wait for each other (a read-then-assert loop serialised them).
//!     After a like, the author's `STATS.max_post_likes` is raised to the post's count when it
//!     passes it (one consistent read of the count, one conditional write: the record only
//!     rises; a crash in between leaves it for the post's next like).
//! - An `idempotency_key` (the envelope's `id` for bus events) makes a redelivery a no-op: an
//!   `INGESTED#<source>` item with a TTL is put in the same transaction.
//!
//! Unknown types, bad metadata, or a user or target that does not exist are 400, and nothing
//! is stored.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::events::{EventGroup, EventRecord, EventType, NewEvent, Severity, prepare_event};
use crate::App;
use crate::activity::tallies::{self, MAX_POST_LIKES};
pub use crate::activity::tallies::{QUALITY_THRESHOLDS, quality_attribute};
use crate::auth::client::ClientInfo;
use crate::auth::{AuthMethod, Principal};
use crate::bus::DomainEvent;
use crate::error::{Error, FieldErrors};
use crate::model::UserId;
use crate::store::{Condition, StoreError, Transaction, TxOp, Update, Value, keys};

/// The types an ordinary user may log about themselves: what only the client sees.
pub const CLIENT_TYPES: [EventType; 4] = [
    EventType::PageView,
    EventType::Share,
    EventType::ProfileView,
    EventType::ContentReported,
];

/// The longest idempotency key.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 256;

/// How long an ingested source id is remembered for deduplication.
pub const DEDUPE_TTL_SECS: i64 = 7 * 24 * 3600;

/// Services may log the content group and profile views.
pub fn is_service_type(t: EventType) -> bool {
    t.group() == EventGroup::Content || t == EventType::ProfileView
}

/// What `POST /api/events/` and bus events carry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestInput {
    pub event_type: String,
    #[serde(default)]
    pub user: Option<UserId>,
    #[serde(default)]
    pub target_user: Option<UserId>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Who is logging.
#[derive(Clone, Copy, Debug)]
pub enum Writer<'a> {
    Caller(&'a Principal),
    /// An EventBridge event (trusted: only the platform's services put events on the bus).
    Bus,
}

impl Writer<'_> {
    fn is_service(&self) -> bool {
        match self {
            Writer::Bus => true,
            Writer::Caller(p) => p.method == AuthMethod::ApiToken && p.user.role.is_admin(),
        }
    }
}

/// The outcome: the stored event, or the one stored earlier under the same idempotency key.
#[derive(Clone, Debug)]
pub struct Ingested {
    pub event: EventRecord,
    /// True when the idempotency key was seen before: nothing was stored or counted now.
    pub duplicate: bool,
    /// True when the event fed the counters.
    pub counted: bool,
}

const FORBIDDEN_TYPE: &str =
    "You may only log client-side events (page_view, share, profile_view, content_reported).";
const FORBIDDEN_USER: &str = "You may only log events for yourself.";

fn parse_type(name: &str) -> Result<EventType, Error> {
    EventType::parse(name.trim())
        .ok_or_else(|| Error::field("event_type", format!("Unknown event type `{name}`.")))
}

/// A numeric `metadata.quality` between 0 and 5, when present.
fn event_quality(metadata: &serde_json::Value) -> Result<Option<f64>, Error> {
    match metadata.get("quality") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(q) => match q.as_f64() {
            Some(q) if (0.0..=5.0).contains(&q) => Ok(Some(q)),
            _ => Err(Error::field(
                "metadata",
                "quality must be a number from 0 to 5.",
            )),
        },
    }
}

/// Logs one event for `writer` (see the module rules).
pub async fn ingest(
    app: &App,
    writer: Writer<'_>,
    mut input: IngestInput,
    client: &ClientInfo,
) -> Result<Ingested, Error> {
    let event_type = parse_type(&input.event_type)?;
    let service = writer.is_service();
    let severity = parse_severity(input.severity.as_deref())?;
    let subject = subject_of(writer, service, event_type, input.user, severity.is_some())?;
    let idempotency_key = input.idempotency_key.take();
    let event = new_event(event_type, subject, severity, input, client);
    let record = prepare_event(app, event).await?;

    if !service {
        return uncounted_write(app, record).await;
    }

    // Any counted type may carry a quality (a review's stars, a post's or comment's rating).
    let quality = event_quality(&record.metadata)?;
    let dedupe = dedupe_source(writer, idempotency_key.as_deref())?;
    let ingested = counted_write(app, &record, quality, dedupe.as_deref()).await?;
    if ingested.counted && matches!(writer, Writer::Caller(_)) {
        // Bus events already reach the badge evaluator; API ones are announced for it.
        announce(app, &ingested.event).await;
    }
    Ok(ingested)
}

fn parse_severity(severity: Option<&str>) -> Result<Option<Severity>, Error> {
    severity
        .map(|s| {
            Severity::parse(s).ok_or_else(|| {
                Error::field("severity", "Must be one of low, medium, high, critical.")
            })
        })
        .transpose()
}

/// Whom an event is logged for, and the caller's session when it is their own.
struct Subject {
    user: UserId,
    session: Option<String>,
}

/// Who may log what (see the module rules): an ordinary caller only client-side types, for
/// themselves, without a severity; a service (or the bus) only service types, for the user it
/// names.
fn subject_of(
    writer: Writer<'_>,
    service: bool,
    event_type: EventType,
    user: Option<UserId>,
    has_severity: bool,
) -> Result<Subject, Error> {
    match writer {
        Writer::Caller(p) if !service => {
            if !CLIENT_TYPES.contains(&event_type) {
                return Err(Error::Forbidden(FORBIDDEN_TYPE.into()));
            }
            if user.is_some_and(|u| u != p.id()) {
                return Err(Error::Forbidden(FORBIDDEN_USER.into()));
            }
            if has_severity {
                return Err(Error::Forbidden(
                    "Only services may set the severity.".into(),
                ));
            }
            Ok(Subject {
                user: p.id(),
                session: p.session_id.clone(),
            })
        }
        _ => {
            if !is_service_type(event_type) {
                return Err(Error::field(
                    "event_type",
                    "Services may log content events only.",
                ));
            }
            let user = user.ok_or_else(|| Error::field("user", "This field is required."))?;
            Ok(Subject {
                user,
                session: None,
            })
        }
    }
}

/// The event as the input describes it, about `subject`.
fn new_event(
    event_type: EventType,
    subject: Subject,
    severity: Option<Severity>,
    input: IngestInput,
    client: &ClientInfo,
) -> NewEvent {
    let mut event = NewEvent::new(event_type, Some(subject.user))
        .client(client)
        .description(input.description.unwrap_or_default())
        .metadata(input.metadata.unwrap_or(serde_json::Value::Null));
    if let Some(session) = &subject.session {
        event = event.session(session);
    }
    if let Some(severity) = severity {
        event = event.severity(severity);
    }
    if input.success == Some(false) {
        event = event.failed(input.error_message.unwrap_or_default());
    }
    if let Some(target) = input.target_user {
        event = event.target(target);
    }
    event
}

/// An ordinary caller's event: one put, no counter.
async fn uncounted_write(app: &App, record: EventRecord) -> Result<Ingested, Error> {
    app.table
        .put(record.to_item()?, Some(Condition::item_absent()))
        .await?;
    crate::metrics::emit(crate::metrics::Metric::EventIngested);
    Ok(Ingested {
        event: record,
        duplicate: false,
        counted: false,
    })
}

/// The source id a counted event is deduplicated by: its idempotency key (trimmed; none when
/// blank), checked for length, and made the writer's own.
fn dedupe_source(
    writer: Writer<'_>,
    idempotency_key: Option<&str>,
) -> Result<Option<String>, Error> {
    let key = idempotency_key.map(str::trim).filter(|k| !k.is_empty());
    if key.is_some_and(|k| k.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS) {
        return Err(Error::field(
            "idempotency_key",
            format!("Ensure this field has no more than {MAX_IDEMPOTENCY_KEY_CHARS} characters."),
        ));
    }
    // Keys are per writer: two services cannot cancel each other's events.
    Ok(key.map(|k| match writer {
        Writer::Bus => format!("bus:{k}"),
        Writer::Caller(p) => format!("user{}:{k}", p.id()),
    }))
}

/// The `ActivityCounted` event of a counted event: what the badge evaluator reads.
pub fn activity_counted(event: &EventRecord) -> DomainEvent {
    let detail = json!({
        "user_id": event.user_id,
        "event_type": event.event_type,
        "event_id": event.event_id,
        "target_user": event.target_user,
    });
    DomainEvent::new("ActivityCounted", detail, event.created_at)
}

/// Publishes `ActivityCounted` (source `accounts`) after the counters moved. A failure is
/// logged: the store write is the truth, and the daily evaluation catches up.
async fn announce(app: &App, event: &EventRecord) {
    let published = activity_counted(event);
    if let Err(e) = app.bus.publish(&[published]).await {
        tracing::warn!(error = %e, "ActivityCounted not published");
    }
}

/// A like's post id (`metadata.post_id`, a string or a number) and author (`target_user`,
/// another user), when the like is about a post.
fn liked_post(record: &EventRecord, user: UserId) -> Option<(UserId, String)> {
    if !matches!(
        record.event_type,
        EventType::LikeGiven | EventType::LikeRemoved
    ) || !record.success
    {
        return None;
    }
    let author = record.target_user.filter(|t| *t != user)?;
    let post_id = match record.metadata.get("post_id")? {
        serde_json::Value::String(s) if !s.trim().is_empty() && s.len() <= 128 => {
            s.trim().to_owned()
        }
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some((author, post_id))
}

/// Raises the author's `max_post_likes` to the post's count when the count passes it: one
/// consistent read, one write conditioned on the record being lower. Best effort: a failure is
/// logged, and the post's next like raises it.
async fn raise_max_post_likes(app: &App, author: UserId, post_id: &str) {
    let raise = async {
        let Some(post) = app
            .table
            .get(&keys::post_likes(author, post_id), true)
            .await?
        else {
            return Ok(());
        };
        let Some(likes) = post.get("likes").and_then(Value::as_i64) else {
            return Ok(());
        };
        let update = Update::new()
            .set(MAX_POST_LIKES, Value::Int(likes))
            .set_if_missing("user_id", Value::Int(author.0));
        let lower = Condition::Or(vec![
            Condition::NotExists(MAX_POST_LIKES.into()),
            Condition::Lt(MAX_POST_LIKES.into(), Value::Int(likes)),
        ]);
        match app
            .table
            .update(&keys::user_stats(author), update, Some(lower))
            .await
        {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok::<(), StoreError>(()),
            Err(e) => Err(e),
        }
    };
    if let Err(e) = raise.await {
        tracing::warn!(error = %e, "max_post_likes not raised");
    }
}

/// The event and its counters in one transaction (see the module rules).
async fn counted_write(
    app: &App,
    record: &EventRecord,
    quality: Option<f64>,
    dedupe: Option<&str>,
) -> Result<Ingested, Error> {
    let Some(user) = record.user_id else {
        return Err(Error::field("user", "This field is required."));
    };
    let decrement_posts = record.event_type == EventType::PostDelete && record.success;
    let post = liked_post(record, user);
    let mut floor_reached = false;
    // An unlike of a post at 0 likes counts nothing on the post (the rest is counted).
    let mut post_at_zero = false;
    loop {
        let plan = plan(
            app,
            record,
            user,
            quality,
            dedupe,
            decrement_posts && !floor_reached,
            post.as_ref().filter(|_| !post_at_zero),
        )?;
        match plan.tx.commit(app.table.as_ref()).await {
            Ok(()) => {
                if let Some((author, post_id)) = &post
                    && record.event_type == EventType::LikeGiven
                {
                    raise_max_post_likes(app, *author, post_id).await;
                }
                crate::metrics::emit(crate::metrics::Metric::EventIngested);
                return Ok(Ingested {
                    event: record.clone(),
                    duplicate: false,
                    counted: true,
                });
            }
            Err(e) if e.is_cancelled() => {
                if e.condition_failed(IngestOp::Dedupe) {
                    return Ok(Ingested {
                        event: record.clone(),
                        duplicate: true,
                        counted: false,
                    });
                }
                if e.condition_failed(IngestOp::Profile) {
                    if plan.decrements && !floor_reached {
                        // posts_count is 0 (or the user is gone): try once without the −1.
                        floor_reached = true;
                        continue;
                    }
                    return Err(Error::field("user", "No such user."));
                }
                if e.condition_failed(IngestOp::Target) {
                    return Err(Error::field("target_user", "No such user."));
                }
                if e.condition_failed(IngestOp::PostLikes) && !post_at_zero {
                    // An unlike of a post at 0: count the rest without it.
                    post_at_zero = true;
                    continue;
                }
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        }
    }
}

struct Plan {
    tx: Transaction<IngestOp>,
    decrements: bool,
}

/// The operations of an ingestion's transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IngestOp {
    /// The event, put if absent.
    Event,
    /// The user's stats.
    Stats,
    /// The day's count of the event type.
    DayCount,
    /// The user's profile exists (and its `posts_count`, above 0 for a decrement).
    Profile,
    /// The target user's profile exists.
    Target,
    /// The target user's stats.
    TargetStats,
    /// A liked (or unliked) post's count; an unlike needs it above 0.
    PostLikes,
    /// The idempotency key's item, absent or expired: a duplicate fails here.
    Dedupe,
}

/// One try's transaction: the event, the user's stats and day count, the profile (with its
/// `posts_count`), the target's part and the idempotency key (see the module rules).
fn plan(
    app: &App,
    record: &EventRecord,
    user: UserId,
    quality: Option<f64>,
    dedupe: Option<&str>,
    decrement_posts: bool,
    liked: Option<&(UserId, String)>,
) -> Result<Plan, Error> {
    let now = app.clock.now();
    let at = serde_json::to_value(now)
        .map(Value::from)
        .unwrap_or(Value::Null);
    let mut tx = Transaction::new().with(
        IngestOp::Event,
        TxOp::Put {
            item: record.to_item()?,
            condition: Some(Condition::item_absent()),
        },
    );
    tx.push(IngestOp::Stats, stats_op(record, user, quality, at.clone()));
    tx.push(
        IngestOp::DayCount,
        tallies::count_on_day(user, record.created_at, record.event_type),
    );
    tx.push(IngestOp::Profile, profile_op(record, user, decrement_posts));
    if let Some(other) = record.target_user.filter(|t| *t != user) {
        push_target_ops(&mut tx, record, other, at, liked);
    }
    if let Some(source) = dedupe {
        tx.push(IngestOp::Dedupe, dedupe_op(source, record, now));
    }
    Ok(Plan {
        tx,
        decrements: decrement_posts,
    })
}

/// The user's stats: ADD 1 to the type's attribute, and to each quality threshold reached.
fn stats_op(record: &EventRecord, user: UserId, quality: Option<f64>, at: Value) -> TxOp {
    let mut stats = Update::new()
        .add(record.event_type.as_str(), 1)
        .set_if_missing("user_id", Value::Int(user.0))
        .set("updated_at", at);
    if let Some(q) = quality {
        let tenths = (q * 10.0).round() as u32;
        for threshold in QUALITY_THRESHOLDS.into_iter().filter(|t| tenths >= *t) {
            stats = stats.add(&quality_attribute(record.event_type, threshold), 1);
        }
    }
    TxOp::Update {
        key: keys::user_stats(user),
        update: stats,
        condition: None,
    }
}

/// The user's profile exists, with its `posts_count` moved by a post's creation or deletion
/// (a decrement only above 0).
fn profile_op(record: &EventRecord, user: UserId, decrement_posts: bool) -> TxOp {
    let exists = Condition::item_present();
    match record.event_type {
        EventType::PostCreate if record.success => TxOp::Update {
            key: keys::user(user),
            update: Update::new().add("posts_count", 1),
            condition: Some(exists),
        },
        EventType::PostDelete if decrement_posts => TxOp::Update {
            key: keys::user(user),
            update: Update::new().add("posts_count", -1),
            condition: Some(exists.and(Condition::Gt("posts_count".into(), Value::Int(0)))),
        },
        _ => TxOp::Check {
            key: keys::user(user),
            condition: exists,
        },
    }
}

/// For an event about another user: their profile exists, their stats count it as received,
/// and a like of their post moves the post's count.
fn push_target_ops(
    tx: &mut Transaction<IngestOp>,
    record: &EventRecord,
    other: UserId,
    at: Value,
    liked: Option<&(UserId, String)>,
) {
    tx.push(
        IngestOp::Target,
        TxOp::Check {
            key: keys::user(other),
            condition: Condition::item_present(),
        },
    );
    let update = Update::new()
        .add(&format!("received_{}", record.event_type.as_str()), 1)
        .set_if_missing("user_id", Value::Int(other.0))
        .set("updated_at", at);
    tx.push(
        IngestOp::TargetStats,
        TxOp::Update {
            key: keys::user_stats(other),
            update,
            condition: None,
        },
    );
    if let Some((author, post_id)) = liked.filter(|(author, _)| *author == other) {
        tx.push(
            IngestOp::PostLikes,
            post_likes_op(record.event_type, *author, post_id),
        );
    }
}

/// The idempotency key's item, with a TTL: put if absent or expired.
fn dedupe_op(source: &str, record: &EventRecord, now: DateTime<Utc>) -> TxOp {
    let mut item = keys::ingested_event(source).to_item();
    item.insert("event_id".into(), Value::S(record.event_id.clone()));
    item.insert(
        keys::attr::EXPIRES_AT.into(),
        Value::Int(now.timestamp() + DEDUPE_TTL_SECS),
    );
    TxOp::Put {
        item,
        condition: Some(Condition::absent_or_expired(now.timestamp())),
    }
}

/// The update of a post's like count: an unconditional ADD for a like; for an unlike, a
/// subtraction conditioned on a positive count.
fn post_likes_op(event_type: EventType, author: UserId, post_id: &str) -> TxOp {
    let like = event_type == EventType::LikeGiven;
    TxOp::Update {
        key: keys::post_likes(author, post_id),
        update: Update::new()
            .add("likes", if like { 1 } else { -1 })
            .set_if_missing("user_id", Value::Int(author.0))
            .set("post_id", post_id),
        condition: (!like).then(|| Condition::Gt("likes".into(), Value::Int(0))),
    }
}

/// A bus event's detail: the same fields as `POST /api/events/`. The envelope's `id` is the
/// idempotency key.
pub async fn ingest_bus_event(
    app: &App,
    envelope_id: Option<&str>,
    detail: serde_json::Value,
) -> Result<Ingested, Error> {
    let mut input: IngestInput = serde_json::from_value(detail).map_err(|e| {
        Error::Invalid(FieldErrors::new().with("detail", format!("Not an event: {e}")))
    })?;
    if input.idempotency_key.is_none() {
        input.idempotency_key = envelope_id.map(str::to_owned);
    }
    let ingested = ingest(app, Writer::Bus, input, &ClientInfo::default()).await?;
    tracing::info!(
        event_type = ingested.event.event_type.as_str(),
        duplicate = ingested.duplicate,
        "content event ingested"
    );
    Ok(ingested)
}

/// The view of an ingestion result for responses and the trigger's answer.
pub fn ingested_view(ingested: &Ingested) -> serde_json::Value {
    let mut view = super::feed::event_view(&ingested.event);
    if let Some(fields) = view.as_object_mut() {
        fields.insert("duplicate".into(), json!(ingested.duplicate));
        fields.insert("counted".into(), json!(ingested.counted));
    }
    view
}
