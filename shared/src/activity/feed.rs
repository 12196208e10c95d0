//! Reading the event log: a user's events with filters, the review queue, and reviewing.
//!
//! - A user's events are one query on their partition, newest first. `since`/`until` become a
//!   sort-key range (event ids are ULIDs, so time bounds are id bounds); `event_type`,
//!   `severity` and `success` are filters. DynamoDB applies a filter after reading a page, so a
//!   filtered page is filled with at most [`MAX_QUERIES_PER_PAGE`] queries and may come back
//!   short with a `next` cursor.
//! - The review queue is the sparse GSI2 partition `REVIEW`: events that require review and
//!   are not reviewed yet, newest first. Reviewing an event records who and when, takes it off
//!   the queue and logs `event_reviewed` for the reviewer, in one transaction.

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};

use super::events::{EventRecord, EventType, NewEvent, Severity, event_id_bound, prepare_event};
use crate::App;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{
    Condition, Cursor, Item, Key, Query, SortCondition, Transaction, TxOp, Update, Value,
    from_item, keys,
};

/// A filtered page is filled with at most this many queries.
pub const MAX_QUERIES_PER_PAGE: usize = 5;

/// What `GET /api/events/` filters on.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub event_type: Option<EventType>,
    pub severity: Option<Severity>,
    pub success: Option<bool>,
    /// Inclusive bounds on `created_at`.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl EventFilter {
    fn condition(&self) -> Option<Condition> {
        let mut all = Vec::new();
        if let Some(t) = self.event_type {
            all.push(Condition::eq("event_type", t.as_str()));
        }
        if let Some(s) = self.severity {
            all.push(Condition::eq("severity", s.as_str()));
        }
        if let Some(ok) = self.success {
            all.push(Condition::eq("success", ok));
        }
        match all.len() {
            0 => None,
            1 => all.pop(),
            _ => Some(Condition::And(all)),
        }
    }

    fn sort(&self) -> SortCondition {
        let prefix = keys::EVENT_PREFIX;
        let lower = self
            .since
            .map(|at| format!("{prefix}{}", event_id_bound(at, false)));
        let upper = self
            .until
            .map(|at| format!("{prefix}{}", event_id_bound(at, true)));
        match (lower, upper) {
            (None, None) => SortCondition::BeginsWith(prefix.into()),
            (Some(lower), None) => SortCondition::Between(lower, format!("{prefix}~")),
            (None, Some(upper)) => SortCondition::Between(prefix.into(), upper),
            (Some(lower), Some(upper)) => SortCondition::Between(lower, upper),
        }
    }
}

/// The API view of an event: the seed's `UserEvent` fields under their seed names, plus the
/// client's address and agent and the expiry.
pub fn event_view(event: &EventRecord) -> Json {
    json!({
        "id": event.event_id,
        "user": event.user_id,
        "session": event.session_id,
        "event_type": event.event_type,
        "group": event.event_type.group().as_str(),
        "severity": event.severity,
        "description": event.description,
        "metadata": event.metadata,
        "success": event.success,
        "error_message": event.error_message,
        "target_user": event.target_user,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "is_security_event": event.is_security,
        "risk_score": event.risk_score,
        "requires_review": event.requires_review,
        "reviewed_at": event.reviewed_at,
        "reviewed_by": event.reviewed_by,
        "created_at": event.created_at,
        "expires_at": event.expires_at,
    })
}

fn records(items: &[Item]) -> Result<Vec<EventRecord>, Error> {
    Ok(items
        .iter()
        .map(EventRecord::from_item)
        .collect::<Result<Vec<_>, _>>()?)
}

/// A page of the user's events, newest first.
pub async fn list_user_events(
    app: &App,
    user: UserId,
    filter: &EventFilter,
    page_size: u32,
    mut cursor: Option<Cursor>,
) -> Result<(Vec<EventRecord>, Option<Cursor>), Error> {
    let condition = filter.condition();
    let mut found = Vec::new();
    for _ in 0..MAX_QUERIES_PER_PAGE {
        let wanted = page_size - found.len() as u32;
        let mut query = Query::new(keys::Index::Primary, keys::user_partition(user))
            .sort(filter.sort())
            .descending()
            .limit(wanted)
            .after(cursor.take());
        if let Some(condition) = &condition {
            query = query.filter(condition.clone());
        }
        let page = app.table.query(query).await?;
        found.extend(records(&page.items)?);
        cursor = page.next;
        if cursor.is_none() || found.len() as u32 >= page_size {
            break;
        }
    }
    Ok((found, cursor))
}

/// A page of the review queue, newest first (one query on GSI2).
pub async fn review_queue(
    app: &App,
    _by: crate::access::Staff,
    page_size: u32,
    cursor: Option<Cursor>,
) -> Result<(Vec<EventRecord>, Option<Cursor>), Error> {
    let (pk, _) = keys::event_review_index("");
    let query = Query::new(keys::Index::Gsi2, pk)
        .descending()
        .limit(page_size)
        .after(cursor);
    let page = app.table.query(query).await?;
    Ok((records(&page.items)?, page.next))
}

/// Marks an event on the review queue reviewed by `reviewer` (staff) and logs
/// `event_reviewed` for the reviewer (none when the system reviews), in one transaction. An event that is not on the
/// queue (unknown, never needing review) is 404; one reviewed meanwhile is 409.
pub async fn review_event(
    app: &App,
    by: crate::access::Staff,
    event_id: &str,
    notes: Option<String>,
) -> Result<EventRecord, Error> {
    if ulid::Ulid::from_string(event_id).is_err() {
        return Err(Error::NotFound);
    }
    let reviewer = by.actor().user_id();
    let (pk, sk) = keys::event_review_index(event_id);
    let query = Query::new(keys::Index::Gsi2, pk).sort(SortCondition::Eq(sk));
    let page = app.table.query(query).await?;
    let item = page.items.first().ok_or(Error::NotFound)?;
    let key = Key::of(item).ok_or(Error::NotFound)?;
    let mut event = EventRecord::from_item(item)?;

    let now = app.clock.now();
    let at = serde_json::to_value(now)
        .map(Value::from)
        .unwrap_or(Value::Null);
    // Off the review queue, onto the severe-event index the alerts task reads.
    let (severe_pk, severe_sk) = keys::severe_event_index(&event.event_id);
    let update = Update::new()
        .set("reviewed_at", at)
        .set(
            "reviewed_by",
            reviewer.map_or(Value::Null, |r| Value::Int(r.0)),
        )
        .set(keys::attr::GSI2PK, severe_pk)
        .set(keys::attr::GSI2SK, severe_sk);
    let pending = Condition::item_present().and(Condition::NotExists("reviewed_at".into()));
    let mut log = NewEvent::new(EventType::EventReviewed, reviewer)
        .description(format!("Reviewed a {} event", event.event_type.as_str()))
        .metadata(json!({
            "event_id": event.event_id,
            "event_type": event.event_type,
            "notes": notes,
        }));
    if let Some(owner) = event.user_id {
        log = log.target(owner);
    }
    let reviewed = prepare_event(app, log).await?;
    let tx = Transaction::new()
        .with(
            ReviewOp::Event,
            TxOp::Update {
                key,
                update,
                condition: Some(pending),
            },
        )
        .with(
            ReviewOp::ReviewerEvent,
            TxOp::Put {
                item: reviewed.to_item()?,
                condition: Some(Condition::item_absent()),
            },
        );
    match tx.commit(app.table.as_ref()).await {
        Ok(()) => {}
        Err(e) if e.condition_failed(ReviewOp::Event) => {
            return Err(Error::Conflict("This event was already reviewed.".into()));
        }
        Err(e) => return Err(e.into()),
    }
    event.reviewed_at = Some(now);
    event.reviewed_by = reviewer;
    Ok(event)
}

/// The operations of a review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReviewOp {
    /// The reviewed event, still pending review.
    Event,
    /// The reviewer's `event_reviewed` event.
    ReviewerEvent,
}

/// One event of the user by id (for tests and detail views); `None` when unknown or expired.
pub async fn get_user_event(
    app: &App,
    user: UserId,
    event_id: &str,
) -> Result<Option<EventRecord>, Error> {
    if ulid::Ulid::from_string(event_id).is_err() {
        return Ok(None);
    }
    let item = app.table.get(&keys::event(user, event_id), true).await?;
    Ok(item.map(|item| from_item(&item)).transpose()?)
}
