//! A [`Table`] that counts the calls reaching the table it wraps: per operation, how many were
//! made and how many failed. Tests use it to pin the store cost of a request, and benchmarks to
//! report it (a DynamoDB bill is per call, so calls per request are the cost per endpoint).
//!
//! ```text
//! let table = Arc::new(CountingTable::new(inner));
//! let app = App::assemble(config, clock, table.clone(), None).await?;
//! table.reset();
//! router.dispatch(&app, request).await;
//! let calls = table.take().calls; // e.g. calls.get == 2, calls.writes() == 0
//! ```
//!
//! Each counter is its own atomic: a snapshot taken while calls are in flight may show a call
//! as made but not yet as failed. Read the counters between requests for exact numbers.
//!
//! On DynamoDB the engine also reports the capacity units each call consumed (it asks for
//! `ReturnConsumedCapacity::Total`); the wrapper adds them up per operation in
//! [`StoreCalls::capacity`]. The report travels in a task-local scope that the wrapper opens
//! around each call it forwards, so the [`Table`] port stays as it is and a table that is not
//! counted pays nothing. With wrappers nested, the innermost `CountingTable` gets the units.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use super::table::{
    Condition, IdempotencyToken, Key, Page, Query, Scan, StoreResult, Table, TxOp, Update,
};
use super::value::Item;

/// One operation of the [`Table`] port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoreOp {
    Get,
    BatchGet,
    Put,
    Update,
    Delete,
    Query,
    TransactWrite,
    Scan,
    Health,
}

impl StoreOp {
    /// Every operation, in the port's order.
    pub const ALL: [StoreOp; 9] = [
        StoreOp::Get,
        StoreOp::BatchGet,
        StoreOp::Put,
        StoreOp::Update,
        StoreOp::Delete,
        StoreOp::Query,
        StoreOp::TransactWrite,
        StoreOp::Scan,
        StoreOp::Health,
    ];

    /// The port method's name (`get`, `batch_get`, ...).
    pub fn name(self) -> &'static str {
        match self {
            StoreOp::Get => "get",
            StoreOp::BatchGet => "batch_get",
            StoreOp::Put => "put",
            StoreOp::Update => "update",
            StoreOp::Delete => "delete",
            StoreOp::Query => "query",
            StoreOp::TransactWrite => "transact_write",
            StoreOp::Scan => "scan",
            StoreOp::Health => "health",
        }
    }

    /// Reads items: get, batch_get, query, scan.
    pub fn is_read(self) -> bool {
        matches!(
            self,
            StoreOp::Get | StoreOp::BatchGet | StoreOp::Query | StoreOp::Scan
        )
    }

    /// Writes (or tries to write) items: put, update, delete, transact_write.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            StoreOp::Put | StoreOp::Update | StoreOp::Delete | StoreOp::TransactWrite
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for StoreOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A count per operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    pub get: u64,
    pub batch_get: u64,
    pub put: u64,
    pub update: u64,
    pub delete: u64,
    pub query: u64,
    pub transact_write: u64,
    pub scan: u64,
    pub health: u64,
}

impl OpCounts {
    /// The count of one operation.
    pub fn of(&self, op: StoreOp) -> u64 {
        match op {
            StoreOp::Get => self.get,
            StoreOp::BatchGet => self.batch_get,
            StoreOp::Put => self.put,
            StoreOp::Update => self.update,
            StoreOp::Delete => self.delete,
            StoreOp::Query => self.query,
            StoreOp::TransactWrite => self.transact_write,
            StoreOp::Scan => self.scan,
            StoreOp::Health => self.health,
        }
    }

    fn slot(&mut self, op: StoreOp) -> &mut u64 {
        match op {
            StoreOp::Get => &mut self.get,
            StoreOp::BatchGet => &mut self.batch_get,
            StoreOp::Put => &mut self.put,
            StoreOp::Update => &mut self.update,
            StoreOp::Delete => &mut self.delete,
            StoreOp::Query => &mut self.query,
            StoreOp::TransactWrite => &mut self.transact_write,
            StoreOp::Scan => &mut self.scan,
            StoreOp::Health => &mut self.health,
        }
    }

    /// Every operation with its count, in the port's order (zeros included).
    pub fn iter(&self) -> impl Iterator<Item = (StoreOp, u64)> + '_ {
        StoreOp::ALL.into_iter().map(|op| (op, self.of(op)))
    }

    /// All operations together.
    pub fn total(&self) -> u64 {
        self.iter().map(|(_, n)| n).sum()
    }

    /// get + batch_get + query + scan.
    pub fn reads(&self) -> u64 {
        self.iter()
            .filter(|(op, _)| op.is_read())
            .map(|(_, n)| n)
            .sum()
    }

    /// put + update + delete + transact_write.
    pub fn writes(&self) -> u64 {
        self.iter()
            .filter(|(op, _)| op.is_write())
            .map(|(_, n)| n)
            .sum()
    }

    /// Each count minus the other's, never below zero (the calls between two snapshots).
    pub fn saturating_sub(&self, other: &OpCounts) -> OpCounts {
        let mut out = OpCounts::default();
        for op in StoreOp::ALL {
            *out.slot(op) = self.of(op).saturating_sub(other.of(op));
        }
        out
    }
}

/// `get=1 query=2` (operations with a zero count left out; `none` when all are zero).
impl fmt::Display for OpCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (op, n) in self.iter().filter(|(_, n)| *n > 0) {
            if !first {
                f.write_str(" ")?;
            }
            write!(f, "{op}={n}")?;
            first = false;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// Capacity units the engine reported as consumed, per operation. DynamoDB reports them (in
/// steps of 0.5); the embedded engine reports nothing, and moto reports fixed placeholders
/// (see docs/benchmarks.md, "Cost per endpoint").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    /// Thousandths of a capacity unit, so that the counters stay exact integers.
    pub milli_units: OpCounts,
    /// Calls whose answer carried a consumed-capacity figure.
    pub reported: OpCounts,
}

impl Capacity {
    /// Units consumed by one operation.
    pub fn units(&self, op: StoreOp) -> f64 {
        self.milli_units.of(op) as f64 / 1000.0
    }

    /// Units consumed by all operations.
    pub fn total_units(&self) -> f64 {
        self.milli_units.total() as f64 / 1000.0
    }

    /// Whether any call reported capacity (never on the embedded engine).
    pub fn is_reported(&self) -> bool {
        self.reported.total() > 0
    }

    fn saturating_sub(&self, other: &Capacity) -> Capacity {
        Capacity {
            milli_units: self.milli_units.saturating_sub(&other.milli_units),
            reported: self.reported.saturating_sub(&other.reported),
        }
    }
}

/// `get=0.5 put=1` (operations that reported nothing left out; `none` when none reported).
impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (op, _) in self.reported.iter().filter(|(_, n)| *n > 0) {
            if !first {
                f.write_str(" ")?;
            }
            write!(f, "{op}={}", self.units(op))?;
            first = false;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// What a [`CountingTable`] has seen: the calls made and, of those, the ones that returned an
/// error (a failed condition included), and the capacity the engine reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreCalls {
    pub calls: OpCounts,
    pub failed: OpCounts,
    pub capacity: Capacity,
}

impl StoreCalls {
    /// The calls that returned `Ok` (for writes: the ones that took effect).
    pub fn succeeded(&self) -> OpCounts {
        self.calls.saturating_sub(&self.failed)
    }

    /// The calls made after `earlier` (a snapshot of the same table).
    pub fn since(&self, earlier: &StoreCalls) -> StoreCalls {
        StoreCalls {
            calls: self.calls.saturating_sub(&earlier.calls),
            failed: self.failed.saturating_sub(&earlier.failed),
            capacity: self.capacity.saturating_sub(&earlier.capacity),
        }
    }
}

const OPS: usize = StoreOp::ALL.len();

/// Where an engine's capacity reports go: the counters of one `CountingTable`.
#[derive(Default)]
struct CapacityCounters {
    milli_units: [AtomicU64; OPS],
    reported: [AtomicU64; OPS],
}

/// The scope a `CountingTable` opens around one forwarded call.
#[derive(Clone)]
struct Listener {
    counters: Arc<CapacityCounters>,
    op: StoreOp,
}

tokio::task_local! {
    static LISTENER: Listener;
}

/// Called by an engine after a call whose answer said how many capacity units it consumed.
/// Does nothing unless a [`CountingTable`] is counting the call.
pub(crate) fn report_consumed_capacity(units: f64) {
    // Capacity is never negative and a call consumes far below u64::MAX thousandths.
    let milli = (units.max(0.0) * 1000.0).round() as u64;
    let _ = LISTENER.try_with(|listener| {
        let slot = listener.op.index();
        listener.counters.milli_units[slot].fetch_add(milli, Ordering::SeqCst);
        listener.counters.reported[slot].fetch_add(1, Ordering::SeqCst);
    });
}

/// The wrapper. Cheap to share: wrap it in an `Arc`, hand a clone to the App and keep one to
/// read the counts.
pub struct CountingTable {
    inner: Arc<dyn Table>,
    calls: [AtomicU64; OPS],
    failed: [AtomicU64; OPS],
    capacity: Arc<CapacityCounters>,
}

impl CountingTable {
    pub fn new(inner: Arc<dyn Table>) -> CountingTable {
        CountingTable {
            inner,
            calls: Default::default(),
            failed: Default::default(),
            capacity: Default::default(),
        }
    }

    /// The wrapped table (calls made through it directly are not counted).
    pub fn inner(&self) -> &Arc<dyn Table> {
        &self.inner
    }

    /// The counts so far.
    pub fn snapshot(&self) -> StoreCalls {
        self.read_counters(|counter| counter.load(Ordering::SeqCst))
    }

    /// Sets every count back to zero.
    pub fn reset(&self) {
        self.take();
    }

    /// The counts so far, and zero from now on: no call is lost between the read and the reset.
    pub fn take(&self) -> StoreCalls {
        self.read_counters(|counter| counter.swap(0, Ordering::SeqCst))
    }

    fn read_counters(&self, read: impl Fn(&AtomicU64) -> u64) -> StoreCalls {
        let mut out = StoreCalls::default();
        for op in StoreOp::ALL {
            let i = op.index();
            *out.calls.slot(op) = read(&self.calls[i]);
            *out.failed.slot(op) = read(&self.failed[i]);
            *out.capacity.milli_units.slot(op) = read(&self.capacity.milli_units[i]);
            *out.capacity.reported.slot(op) = read(&self.capacity.reported[i]);
        }
        out
    }

    /// Forwards one call: counts it, listens for the engine's capacity report while it runs,
    /// and counts its failure.
    async fn count<T>(
        &self,
        op: StoreOp,
        call: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        self.calls[op.index()].fetch_add(1, Ordering::SeqCst);
        let listener = Listener {
            counters: self.capacity.clone(),
            op,
        };
        let result = LISTENER.scope(listener, call).await;
        if result.is_err() {
            self.failed[op.index()].fetch_add(1, Ordering::SeqCst);
        }
        result
    }
}

impl fmt::Debug for CountingTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingTable")
            .field("engine", &self.inner.engine())
            .field("counts", &self.snapshot())
            .finish()
    }
}

#[async_trait]
impl Table for CountingTable {
    fn engine(&self) -> &'static str {
        self.inner.engine()
    }

    async fn get(&self, key: &Key, consistent: bool) -> StoreResult<Option<Item>> {
        self.count(StoreOp::Get, self.inner.get(key, consistent))
            .await
    }

    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        self.count(StoreOp::BatchGet, self.inner.batch_get(keys))
            .await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        self.count(StoreOp::Put, self.inner.put(item, condition))
            .await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item> {
        self.count(StoreOp::Update, self.inner.update(key, update, condition))
            .await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>> {
        self.count(StoreOp::Delete, self.inner.delete(key, condition))
            .await
    }

    async fn query(&self, query: Query) -> StoreResult<Page> {
        self.count(StoreOp::Query, self.inner.query(query)).await
    }

    async fn transact_write_try(
        &self,
        ops: Vec<TxOp>,
        token: &IdempotencyToken,
    ) -> StoreResult<()> {
        self.count(
            StoreOp::TransactWrite,
            self.inner.transact_write_try(ops, token),
        )
        .await
    }

    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        self.count(StoreOp::Scan, self.inner.scan(scan)).await
    }

    async fn health(&self) -> StoreResult<()> {
        self.count(StoreOp::Health, self.inner.health()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::embedded::EmbeddedTable;
    use crate::store::{Index, Value};

    fn counting() -> (tempfile::TempDir, CountingTable) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let table = EmbeddedTable::open(dir.path(), Arc::new(ManualClock::starting_now()))
            .expect("open the embedded table");
        (dir, CountingTable::new(Arc::new(table)))
    }

    fn item(sk: &str) -> Item {
        let mut item = Key::new("USER#1", sk).to_item();
        item.insert("n".into(), Value::Int(1));
        item
    }

    #[tokio::test]
    async fn counts_each_operation_and_its_failures() {
        let (_dir, table) = counting();
        let key = Key::new("USER#1", "A");
        table.put(item("A"), None).await.unwrap();
        // The same conditional put again fails: counted as made and as failed.
        assert!(
            table
                .put(item("A"), Some(Condition::item_absent()))
                .await
                .is_err()
        );
        table.get(&key, true).await.unwrap();
        table.batch_get(std::slice::from_ref(&key)).await.unwrap();
        table
            .update(&key, Update::new().add("n", 1), None)
            .await
            .unwrap();
        table
            .query(Query::new(Index::Primary, "USER#1"))
            .await
            .unwrap();
        table.scan(Scan::segment(0, 1)).await.unwrap();
        table
            .transact_write(vec![TxOp::Put {
                item: item("B"),
                condition: None,
            }])
            .await
            .unwrap();
        table.delete(&key, None).await.unwrap();
        table.health().await.unwrap();

        let seen = table.snapshot();
        let expected = OpCounts {
            get: 1,
            batch_get: 1,
            put: 2,
            update: 1,
            delete: 1,
            query: 1,
            transact_write: 1,
            scan: 1,
            health: 1,
        };
        assert_eq!(seen.calls, expected);
        assert_eq!(
            seen.failed,
            OpCounts {
                put: 1,
                ..OpCounts::default()
            }
        );
        assert_eq!(seen.succeeded().put, 1);
        assert_eq!(seen.calls.total(), 10);
        assert_eq!(seen.calls.reads(), 4);
        assert_eq!(seen.calls.writes(), 5);
        assert_eq!(seen.succeeded().writes(), 4);
        assert_eq!(
            seen.calls.to_string(),
            "get=1 batch_get=1 put=2 update=1 delete=1 query=1 transact_write=1 scan=1 health=1"
        );
        // A snapshot does not reset.
        assert_eq!(table.snapshot(), seen);
    }

    #[tokio::test]
    async fn take_and_reset_start_afresh() {
        let (_dir, table) = counting();
        table.get(&Key::new("USER#1", "A"), false).await.unwrap();
        let before = table.snapshot();
        table.get(&Key::new("USER#1", "A"), false).await.unwrap();
        table.put(item("A"), None).await.unwrap();
        assert_eq!(
            table.snapshot().since(&before).calls.to_string(),
            "get=1 put=1"
        );

        let taken = table.take();
        assert_eq!((taken.calls.get, taken.calls.put), (2, 1));
        assert_eq!(table.snapshot(), StoreCalls::default());
        assert_eq!(table.snapshot().calls.to_string(), "none");

        table.health().await.unwrap();
        table.reset();
        assert_eq!(table.snapshot().calls.total(), 0);
    }

    /// An engine that reports capacity as DynamoDB does: half a unit per get, 2 per write.
    struct Reporting(Arc<dyn Table>);

    #[async_trait]
    impl Table for Reporting {
        fn engine(&self) -> &'static str {
            "reporting"
        }
        async fn get(&self, key: &Key, consistent: bool) -> StoreResult<Option<Item>> {
            report_consumed_capacity(0.5);
            self.0.get(key, consistent).await
        }
        async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
            self.0.batch_get(keys).await
        }
        async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
            report_consumed_capacity(2.0);
            self.0.put(item, condition).await
        }
        async fn update(&self, key: &Key, u: Update, c: Option<Condition>) -> StoreResult<Item> {
            self.0.update(key, u, c).await
        }
        async fn delete(&self, key: &Key, c: Option<Condition>) -> StoreResult<Option<Item>> {
            self.0.delete(key, c).await
        }
        async fn query(&self, query: Query) -> StoreResult<Page> {
            self.0.query(query).await
        }
        async fn transact_write_try(
            &self,
            ops: Vec<TxOp>,
            token: &IdempotencyToken,
        ) -> StoreResult<()> {
            self.0.transact_write_try(ops, token).await
        }
        async fn scan(&self, scan: Scan) -> StoreResult<Page> {
            self.0.scan(scan).await
        }
        async fn health(&self) -> StoreResult<()> {
            self.0.health().await
        }
    }

    #[tokio::test]
    async fn adds_up_the_capacity_the_engine_reports() {
        let (_dir, plain) = counting();
        let table = CountingTable::new(Arc::new(Reporting(plain.inner().clone())));
        let key = Key::new("USER#1", "A");
        table.put(item("A"), None).await.unwrap();
        table.get(&key, false).await.unwrap();
        table.get(&key, true).await.unwrap();
        table.health().await.unwrap();

        let seen = table.take();
        assert_eq!(seen.capacity.units(StoreOp::Get), 1.0);
        assert_eq!(seen.capacity.units(StoreOp::Put), 2.0);
        assert_eq!(seen.capacity.total_units(), 3.0);
        assert_eq!(
            (seen.capacity.reported.get, seen.capacity.reported.put),
            (2, 1)
        );
        // An operation the engine reported nothing for is left out, not shown as zero.
        assert_eq!(seen.capacity.to_string(), "get=1 put=2");
        assert_eq!(table.snapshot().capacity, Capacity::default());

        // A report outside any counted call goes nowhere (and does not fail).
        report_consumed_capacity(5.0);
        assert!(!table.snapshot().capacity.is_reported());

        // Nested wrappers: the innermost one, next to the engine, gets the units.
        let outer = CountingTable::new(Arc::new(CountingTable::new(Arc::new(Reporting(
            plain.inner().clone(),
        )))));
        outer.get(&key, false).await.unwrap();
        assert_eq!(outer.snapshot().calls.get, 1);
        assert!(!outer.snapshot().capacity.is_reported());
    }

    #[tokio::test]
    async fn the_embedded_engine_reports_no_capacity() {
        let (_dir, table) = counting();
        table.put(item("A"), None).await.unwrap();
        table.get(&Key::new("USER#1", "A"), true).await.unwrap();
        let seen = table.snapshot();
        assert_eq!(seen.calls.total(), 2);
        assert!(!seen.capacity.is_reported());
        assert_eq!(seen.capacity.to_string(), "none");
    }

    #[tokio::test]
    async fn passes_results_through_unchanged() {
        let (_dir, table) = counting();
        assert_eq!(table.engine(), table.inner().engine());
        table.put(item("A"), None).await.unwrap();
        let through = table.get(&Key::new("USER#1", "A"), true).await.unwrap();
        let direct = table
            .inner()
            .get(&Key::new("USER#1", "A"), true)
            .await
            .unwrap();
        assert_eq!(through, direct);
        assert!(through.is_some());
        // Calls made on the inner table directly are not counted.
        assert_eq!(table.snapshot().calls.get, 1);
    }
}
