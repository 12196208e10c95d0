//! The single-table port: what the domain may ask of the store, and nothing engine-specific.
//!
//! Both engines (`dynamo.rs`, `embedded.rs`) implement [`Table`] with DynamoDB's semantics:
//! conditions are evaluated against the item as stored, updates create missing items, ADD on a
//! missing attribute starts from zero, transactions are all or nothing and report per-operation
//! cancellation reasons, and queries page with an opaque cursor (the last evaluated key).
//! Items whose `expires_at` (epoch seconds) lies at or before the clock's now are invisible to
//! every read, on both engines, even before the engine removes them.

use std::fmt;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::keys::{Index, attr};
use super::value::{Item, Value};

/// DynamoDB's limit on one `TransactWriteItems` call, enforced by both engines.
pub const MAX_TRANSACTION_OPS: usize = 100;

/// The primary key of an item.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// The key of an item, if it has string `PK` and `SK` attributes.
    pub fn of(item: &Item) -> Option<Key> {
        Some(Key::new(
            item.get(attr::PK)?.as_str()?,
            item.get(attr::SK)?.as_str()?,
        ))
    }

    /// The key as item attributes, to start an item with.
    pub fn to_item(&self) -> Item {
        let mut item = Item::new();
        item.insert(attr::PK.into(), Value::S(self.pk.clone()));
        item.insert(attr::SK.into(), Value::S(self.sk.clone()));
        item
    }
}

/// A condition on one item, evaluated where DynamoDB evaluates a `ConditionExpression` (or a
/// `FilterExpression` on reads). Paths name top-level attributes.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    Exists(String),
    NotExists(String),
    Eq(String, Value),
    Ne(String, Value),
    Lt(String, Value),
    Le(String, Value),
    Gt(String, Value),
    Ge(String, Value),
    BeginsWith(String, String),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    /// The item does not exist (checked on the partition key, as DynamoDB idiom has it).
    pub fn item_absent() -> Self {
        Condition::NotExists(attr::PK.into())
    }

    /// The item exists.
    pub fn item_present() -> Self {
        Condition::Exists(attr::PK.into())
    }

    /// The item does not exist, or exists only as an expired leftover that TTL has not yet
    /// removed. Conditions see stored items, expired or not, so writers that reuse a key with a
    /// TTL need this form.
    pub fn absent_or_expired(now_epoch: i64) -> Self {
        Condition::Or(vec![
            Condition::item_absent(),
            Condition::Le(attr::EXPIRES_AT.into(), Value::Int(now_epoch)),
        ])
    }

    pub fn eq(path: &str, value: impl Into<Value>) -> Self {
        Condition::Eq(path.into(), value.into())
    }

    pub fn and(self, other: Condition) -> Self {
        match self {
            Condition::And(mut all) => {
                all.push(other);
                Condition::And(all)
            }
            first => Condition::And(vec![first, other]),
        }
    }

    /// Evaluates the condition on an item (`None` when the item does not exist). The embedded
    /// engine uses this directly; it is the reference semantics for the DynamoDB translation.
    pub fn matches(&self, item: Option<&Item>) -> bool {
        let get = |path: &str| item.and_then(|i| i.get(path));
        let cmp = |path: &str, v: &Value, ok: fn(std::cmp::Ordering) -> bool| {
            get(path).and_then(|have| have.compare(v)).is_some_and(ok)
        };
        match self {
            Condition::Exists(p) => get(p).is_some(),
            Condition::NotExists(p) => get(p).is_none(),
            Condition::Eq(p, v) => get(p).is_some_and(|have| have.same_as(v)),
            // DynamoDB: `a <> :v` is true when `a` is missing.
            Condition::Ne(p, v) => !get(p).is_some_and(|have| have.same_as(v)),
            Condition::Lt(p, v) => cmp(p, v, |o| o.is_lt()),
            Condition::Le(p, v) => cmp(p, v, |o| o.is_le()),
            Condition::Gt(p, v) => cmp(p, v, |o| o.is_gt()),
            Condition::Ge(p, v) => cmp(p, v, |o| o.is_ge()),
            Condition::BeginsWith(p, prefix) => get(p)
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with(prefix.as_str())),
            Condition::And(all) => all.iter().all(|c| c.matches(item)),
            Condition::Or(any) => any.iter().any(|c| c.matches(item)),
            Condition::Not(c) => !c.matches(item),
        }
    }
}

/// One action of an update (DynamoDB's `SET`, `SET if_not_exists`, `ADD`, `REMOVE`).
#[derive(Clone, Debug, PartialEq)]
pub enum UpdateAction {
    Set(String, Value),
    /// Sets the attribute only when it is missing.
    SetIfMissing(String, Value),
    /// Adds a number (negative to subtract); a missing attribute counts as zero.
    Add(String, Value),
    Remove(String),
}

/// An update of one item: the item is created from its key when it does not exist.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    pub actions: Vec<UpdateAction>,
}

impl Update {
    pub fn new() -> Self {
        Update::default()
    }
    pub fn set(mut self, path: &str, value: impl Into<Value>) -> Self {
        self.actions
            .push(UpdateAction::Set(path.into(), value.into()));
        self
    }
    pub fn set_if_missing(mut self, path: &str, value: impl Into<Value>) -> Self {
        self.actions
            .push(UpdateAction::SetIfMissing(path.into(), value.into()));
        self
    }
    pub fn add(mut self, path: &str, delta: impl Into<Value>) -> Self {
        self.actions
            .push(UpdateAction::Add(path.into(), delta.into()));
        self
    }
    pub fn remove(mut self, path: &str) -> Self {
        self.actions.push(UpdateAction::Remove(path.into()));
        self
    }
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Applies the update to an item in place (the reference semantics; the embedded engine
    /// uses it). ADD of a non-number, or to a non-number attribute, is a validation error.
    pub fn apply(&self, item: &mut Item) -> Result<(), StoreError> {
        for action in &self.actions {
            match action {
                UpdateAction::Set(p, v) => {
                    item.insert(p.clone(), v.clone());
                }
                UpdateAction::SetIfMissing(p, v) => {
                    item.entry(p.clone()).or_insert_with(|| v.clone());
                }
                UpdateAction::Add(p, delta) => {
                    let sum = match (item.get(p), delta) {
                        (None, d) if d.is_number() => d.clone(),
                        (Some(Value::Int(a)), Value::Int(b)) => {
                            Value::Int(a.checked_add(*b).ok_or_else(|| {
                                StoreError::Validation(format!("ADD overflows attribute {p}"))
                            })?)
                        }
                        (Some(a), b) if a.is_number() && b.is_number() => {
                            Value::Float(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0))
                        }
                        _ => {
                            return Err(StoreError::Validation(format!(
                                "ADD needs numbers: attribute {p}"
                            )));
                        }
                    };
                    item.insert(p.clone(), sum);
                }
                UpdateAction::Remove(p) => {
                    item.remove(p);
                }
            }
        }
        Ok(())
    }
}

/// A condition on the sort key of a query.
#[derive(Clone, Debug, PartialEq)]
pub enum SortCondition {
    Eq(String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
    BeginsWith(String),
    /// Inclusive at both ends, as DynamoDB's BETWEEN.
    Between(String, String),
}

impl SortCondition {
    pub fn matches(&self, sk: &str) -> bool {
        let sk = sk.as_bytes();
        match self {
            SortCondition::Eq(v) => sk == v.as_bytes(),
            SortCondition::Lt(v) => sk < v.as_bytes(),
            SortCondition::Le(v) => sk <= v.as_bytes(),
            SortCondition::Gt(v) => sk > v.as_bytes(),
            SortCondition::Ge(v) => sk >= v.as_bytes(),
            SortCondition::BeginsWith(v) => sk.starts_with(v.as_bytes()),
            SortCondition::Between(lo, hi) => sk >= lo.as_bytes() && sk <= hi.as_bytes(),
        }
    }
}

/// An opaque position in a query or scan: the last evaluated key, encoded. Clients get it as
/// a string and hand it back; nothing but the engines looks inside.
#[derive(Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    /// Encodes the key attributes of the last item returned (what DynamoDB calls
    /// `LastEvaluatedKey`): a map of attribute name to string value.
    pub fn from_key_attrs(attrs: &std::collections::BTreeMap<String, String>) -> Self {
        let json = serde_json::to_vec(attrs).unwrap_or_default();
        Cursor(URL_SAFE_NO_PAD.encode(json))
    }

    /// Decodes the key attributes; a cursor that was not made by [`Cursor::from_key_attrs`] is a
    /// validation error (bad client input, not a server fault).
    pub fn key_attrs(&self) -> Result<std::collections::BTreeMap<String, String>, StoreError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(self.0.as_bytes())
            .map_err(|_| StoreError::BadCursor("it does not decode".into()))?;
        serde_json::from_slice(&bytes)
            .map_err(|_| StoreError::BadCursor("it does not decode".into()))
    }

    /// Wraps a cursor string a client sent back.
    pub fn from_client(s: &str) -> Self {
        Cursor(s.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cursor({})", self.0)
    }
}

/// A query on the main key or a GSI.
#[derive(Clone, Debug)]
pub struct Query {
    pub index: Index,
    /// The partition key value on that index.
    pub pk: String,
    pub sort: Option<SortCondition>,
    /// Largest sort key first when true.
    pub descending: bool,
    /// At most this many items are evaluated (DynamoDB's `Limit`, applied before the filter).
    pub limit: Option<u32>,
    pub cursor: Option<Cursor>,
    pub filter: Option<Condition>,
    /// Strongly consistent read (main index only; GSIs are always eventually consistent).
    pub consistent: bool,
}

impl Query {
    pub fn new(index: Index, pk: impl Into<String>) -> Self {
        Query {
            index,
            pk: pk.into(),
            sort: None,
            descending: false,
            limit: None,
            cursor: None,
            filter: None,
            consistent: false,
        }
    }
    pub fn sort(mut self, cond: SortCondition) -> Self {
        self.sort = Some(cond);
        self
    }
    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }
    pub fn consistent(mut self) -> Self {
        self.consistent = true;
        self
    }
}

/// One segment of a parallel scan.
#[derive(Clone, Debug)]
pub struct Scan {
    pub segment: u32,
    pub total_segments: u32,
    pub limit: Option<u32>,
    pub cursor: Option<Cursor>,
    pub filter: Option<Condition>,
}

impl Scan {
    pub fn segment(segment: u32, total_segments: u32) -> Self {
        Scan {
            segment,
            total_segments,
            limit: None,
            cursor: None,
            filter: None,
        }
    }
}

/// The builder methods that queries and scans share, on their fields of the same names.
macro_rules! paging_builder {
    ($($read:ty),+) => {$(
        impl $read {
            pub fn limit(mut self, n: u32) -> Self {
                self.limit = Some(n);
                self
            }
            pub fn after(mut self, cursor: Option<Cursor>) -> Self {
                self.cursor = cursor;
                self
            }
            pub fn filter(mut self, cond: Condition) -> Self {
                self.filter = Some(cond);
                self
            }
        }
    )+};
}

paging_builder!(Query, Scan);

/// A page of a query or scan. `next` is `None` on the last page.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<Cursor>,
}

/// One operation of a transaction.
#[derive(Clone, Debug)]
pub enum TxOp {
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    Update {
        key: Key,
        update: Update,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    Check {
        key: Key,
        condition: Condition,
    },
}

impl TxOp {
    pub fn key(&self) -> Option<Key> {
        match self {
            TxOp::Put { item, .. } => Key::of(item),
            TxOp::Update { key, .. } | TxOp::Delete { key, .. } | TxOp::Check { key, .. } => {
                Some(key.clone())
            }
        }
    }
}

/// Why one operation of a cancelled transaction was cancelled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelReason {
    /// This operation was fine; another one cancelled the transaction.
    None,
    ConditionFailed,
    /// Another transaction or write touched the item at the same time.
    Conflict,
    Other(String),
}

/// The store layer's errors. The domain maps them; nothing above the domain sees them.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the condition of the write was not met")]
    ConditionFailed,
    #[error("transaction cancelled: {reasons:?}")]
    TransactionCanceled { reasons: Vec<CancelReason> },
    /// The engine is overloaded or throttling; the same call may succeed later.
    #[error("throttled: {0}")]
    Throttled(String),
    /// The engine did not answer in time or could not be reached; retryable.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A conditional write or transaction whose try went unanswered was tried again, and the
    /// retry failed its condition: the condition may have failed on the unanswered try's own
    /// write. The outcome is unknown; retryable. Only the caller can tell (`docs/faults.md`,
    /// "Ambiguous timeouts"): what it wrote carries its own id, or "already done" is done.
    #[error("store outcome unknown, the write may have applied: {0}")]
    MayHaveApplied(String),
    /// A cursor the client sent back that this query did not make (it does not decode, was
    /// made for another index, or belongs to another query): the client's mistake.
    #[error("bad cursor: {0}")]
    BadCursor(String),
    /// The request itself is invalid (too many operations, same item twice ...).
    #[error("invalid store request: {0}")]
    Validation(String),
    /// Anything else the engine reported.
    #[error("store failure: {0}")]
    Backend(String),
}

impl StoreError {
    /// The index of the first operation whose condition failed, for a cancelled transaction.
    pub fn failed_condition_index(&self) -> Option<usize> {
        match self {
            StoreError::TransactionCanceled { reasons } => reasons
                .iter()
                .position(|r| *r == CancelReason::ConditionFailed),
            _ => None,
        }
    }

    /// True when a condition of the write (or of an operation of the transaction) failed.
    pub fn is_condition_failure(&self) -> bool {
        matches!(self, StoreError::ConditionFailed) || self.failed_condition_index().is_some()
    }

    /// True when the call may have been applied though no answer said so: it went unanswered,
    /// or a retry after an unanswered try failed its condition.
    pub fn may_have_applied(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::MayHaveApplied(_)
        )
    }

    /// True when a change that met this error after the retry layer's tries is worth
    /// computing again from a fresh read: transactions collided, or a try may have applied (the
    /// next round looks for its own write). A failed condition is the caller's to read (the
    /// state moved, or the change is refused), so it is not counted here. Not throttling: the
    /// retry layer already waited it out and no try applied (an unanswered one would have made
    /// this `MayHaveApplied`), so another round would only add calls to a table that is
    /// throttling. The social graph's and the badges' loops go by it.
    pub fn calls_for_another_round(&self) -> bool {
        !matches!(self, StoreError::Throttled(_)) && self.is_retryable()
    }

    /// True when trying the same call again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Throttled(_)
            | StoreError::Unavailable(_)
            | StoreError::MayHaveApplied(_) => true,
            StoreError::TransactionCanceled { reasons } => {
                reasons.contains(&CancelReason::Conflict)
                    && !reasons.contains(&CancelReason::ConditionFailed)
            }
            _ => false,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Names one transaction across its tries ([`Table::transact_write_try`]): DynamoDB's
/// `ClientRequestToken`, a ULID (26 characters of the 36 allowed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyToken(String);

impl IdempotencyToken {
    /// A token no other transaction has.
    pub fn new() -> IdempotencyToken {
        IdempotencyToken(ulid::Ulid::new().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for IdempotencyToken {
    fn default() -> Self {
        IdempotencyToken::new()
    }
}

/// The single table. Every method is one engine round trip or, where DynamoDB splits a call
/// (batch get over 100 keys, unprocessed keys), the fewest round trips that complete it.
#[async_trait]
pub trait Table: Send + Sync {
    /// The engine's name, as `GET /api/health/` reports it: `embedded` or `dynamodb`.
    fn engine(&self) -> &'static str;

    /// One item by key; eventually consistent unless `consistent`.
    async fn get(&self, key: &Key, consistent: bool) -> StoreResult<Option<Item>>;

    /// Many items by key, in the order of `keys`; `None` where an item is missing or expired.
    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>>;

    /// Writes a whole item (it must have `PK` and `SK`), replacing any item with that key.
    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()>;

    /// Updates (or creates) an item and returns it as it is after the update.
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item>;

    /// Deletes an item and returns it as it was, if it existed.
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>>;

    /// A page of a query.
    async fn query(&self, query: Query) -> StoreResult<Page>;

    /// Up to [`MAX_TRANSACTION_OPS`] operations on distinct items, all or nothing. A failed
    /// condition gives [`StoreError::TransactionCanceled`] with one reason per operation.
    /// One transaction: a token of its own ([`Table::transact_write_try`]).
    async fn transact_write(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        self.transact_write_try(ops, &IdempotencyToken::new()).await
    }

    /// [`Table::transact_write`], as one try of a transaction that may be tried again: every
    /// try of one transaction carries the same `token`. DynamoDB answers a try whose token
    /// belongs to a transaction it already applied (within ten minutes) with success, without
    /// applying it again, so a retry after a lost answer does not fail on its own write. The
    /// retry layer makes the token; a wrapper passes it on; the embedded engine, which never
    /// loses an answer, ignores it. The one transaction method every `Table` implements, so no
    /// wrapper can drop the token.
    async fn transact_write_try(&self, ops: Vec<TxOp>, token: &IdempotencyToken)
    -> StoreResult<()>;

    /// A page of one segment of a parallel scan. The segments of one `total_segments` partition
    /// the table: every item is in exactly one.
    async fn scan(&self, scan: Scan) -> StoreResult<Page>;

    /// Checks that the engine answers (and, for DynamoDB, that the table exists).
    async fn health(&self) -> StoreResult<()>;
}

/// True when an item has expired at `now_epoch` and must be invisible to reads.
pub fn is_expired(item: &Item, now_epoch: i64) -> bool {
    item.get(attr::EXPIRES_AT)
        .and_then(Value::as_i64)
        .is_some_and(|at| at <= now_epoch)
}
