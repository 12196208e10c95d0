//! Giving moto the atomicity DynamoDB guarantees, for the concurrency tests.
//!
//! moto serves requests on threads without a lock: an `UpdateItem` ADD is a read and a write
//! (two concurrent ADDs can lose one), an update creates the item and then sets its attributes
//! one by one (a concurrent read can see it half made), `TransactWriteItems` applies its
//! operations one at a time (two can both pass a put-if-absent) and, on a cancellation, puts
//! back a copy of the whole table taken when it began, undoing what others committed meanwhile
//! (`moto/dynamodb/models/__init__.py`, `transact_write_items`). DynamoDB makes every call
//! atomic and isolates transactions; the embedded engine does too. So on moto the concurrency
//! tests let this process's calls reach the server one at a time; the requests under test still
//! interleave between calls (two can read the same state before either writes), which is the
//! race the service must win.

use std::sync::Arc;

use accounts::store::{
    Condition, IdempotencyToken, Item, Key, Page, Query, Scan, StoreResult, Table, TxOp, Update,
};
use async_trait::async_trait;

use crate::{Engine, TestTable};

/// Which calls wait for each other on moto.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// Only transactions, one at a time: enough where the race is between transactions.
    Transactions,
    /// Every call, one at a time.
    EveryCall,
}

/// The test's table; on DynamoDB (moto) with the given isolation, on the embedded engine as it
/// is.
pub fn isolated(t: &TestTable, isolation: Isolation) -> Arc<dyn Table> {
    match t.engine() {
        Engine::Embedded => t.table(),
        Engine::DynamoDb => Arc::new(Gated {
            inner: t.table(),
            isolation,
            gate: tokio::sync::Mutex::new(()),
        }),
    }
}

struct Gated {
    inner: Arc<dyn Table>,
    isolation: Isolation,
    gate: tokio::sync::Mutex<()>,
}

impl Gated {
    /// Waits for the gate when every call is isolated.
    async fn turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.isolation {
            Isolation::EveryCall => Some(self.gate.lock().await),
            Isolation::Transactions => None,
        }
    }
}

#[async_trait]
impl Table for Gated {
    fn engine(&self) -> &'static str {
        self.inner.engine()
    }
    async fn get(&self, key: &Key, consistent: bool) -> StoreResult<Option<Item>> {
        let _turn = self.turn().await;
        self.inner.get(key, consistent).await
    }
    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        let _turn = self.turn().await;
        self.inner.batch_get(keys).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        let _turn = self.turn().await;
        self.inner.put(item, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item> {
        let _turn = self.turn().await;
        self.inner.update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>> {
        let _turn = self.turn().await;
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> StoreResult<Page> {
        let _turn = self.turn().await;
        self.inner.query(query).await
    }
    async fn transact_write_try(
        &self,
        ops: Vec<TxOp>,
        token: &IdempotencyToken,
    ) -> StoreResult<()> {
        // Transactions wait in both modes.
        let _one_at_a_time = self.gate.lock().await;
        self.inner.transact_write_try(ops, token).await
    }
    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        let _turn = self.turn().await;
        self.inner.scan(scan).await
    }
    async fn health(&self) -> StoreResult<()> {
        self.inner.health().await
    }
}

/// The SDK configuration the service uses, with time limits for moto: one Python process that
/// serves every test of a run, and under the parallel tests of one binary can take longer than
/// the service's production limits (5 s an attempt, 12 s an operation) to answer. A real timeout
/// there would make a test fail for moto's speed, not for the code's behaviour (and a write
/// whose answer came too late would be retried into a conflict).
pub async fn sdk_config() -> aws_config::SdkConfig {
    use std::time::Duration;
    accounts::aws::sdk_config(accounts::config::AwsTrustStore::AwsRoots)
        .await
        .expect("the tests' environment names region and credentials")
        .to_builder()
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(60))
                .operation_timeout(Duration::from_secs(120))
                .build(),
        )
        .build()
}
