//! A store whose answer to one chosen write goes missing (the fault injector loses answers at
//! random; this one picks the write a test is about).
//!
//! [`LosesAnswers`] applies a transaction (or a delete) and then reports that no answer came in
//! time, as a
//! DynamoDB call that timed out after the write landed. Put under an App (which wraps it in the
//! service's `RetryingTable`), the retry of that transaction meets the transaction's own write:
//! what the service answers then is what these tests pin down.
//!
//! It can also stop answering altogether ([`LosesAnswers::stop_answering`]), at once or after a
//! number of calls that still answer ([`LosesAnswers::stop_answering_after`], the middle of a
//! write path): every call then waits for an answer that does not come until
//! [`LosesAnswers::answer_again`], as a store that hangs, for the request deadline's tests (a
//! caller that gave up has dropped its call by then); or throttle every transaction ([`LosesAnswers::throttle_transactions`]) while reads go
//! through.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use accounts::store::{
    Condition, IdempotencyToken, Item, Key, Page, Query, Scan, StoreError, StoreResult, Table,
    TxOp, Update,
};
use async_trait::async_trait;

pub struct LosesAnswers {
    inner: Arc<dyn Table>,
    /// The item whose next committed transaction loses its answer.
    armed: Mutex<Option<Key>>,
    lost: AtomicU64,
    /// Every call hangs while set.
    silent: AtomicBool,
    hung: AtomicU64,
    /// Calls still answered before the store falls silent, when set.
    countdown: Mutex<Option<u64>>,
    /// Calls passed on to the table.
    answered: AtomicU64,
    /// Every transaction is refused as throttled (without applying) while set.
    throttling: AtomicBool,
    throttled: AtomicU64,
}

impl LosesAnswers {
    pub fn new(inner: Arc<dyn Table>) -> Arc<LosesAnswers> {
        Arc::new(LosesAnswers {
            inner,
            armed: Mutex::new(None),
            lost: AtomicU64::new(0),
            silent: AtomicBool::new(false),
            hung: AtomicU64::new(0),
            countdown: Mutex::new(None),
            answered: AtomicU64::new(0),
            throttling: AtomicBool::new(false),
            throttled: AtomicU64::new(0),
        })
    }

    /// Refuses every transaction as throttled from now on, until called with `false`.
    pub fn throttle_transactions(&self, on: bool) {
        self.throttling.store(on, Ordering::SeqCst);
    }

    /// How many transactions were refused as throttled so far.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::SeqCst)
    }

    /// From now on every call waits, until [`LosesAnswers::answer_again`].
    pub fn stop_answering(&self) {
        self.silent.store(true, Ordering::SeqCst);
    }

    /// The next `calls` calls are answered as usual; every one after them waits, until
    /// [`LosesAnswers::answer_again`].
    pub fn stop_answering_after(&self, calls: u64) {
        *self.countdown.lock().unwrap() = Some(calls);
    }

    pub fn answer_again(&self) {
        *self.countdown.lock().unwrap() = None;
        self.silent.store(false, Ordering::SeqCst);
    }

    /// How many calls were passed on to the table so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::SeqCst)
    }

    /// How many calls were left hanging so far.
    pub fn hung(&self) -> u64 {
        self.hung.load(Ordering::SeqCst)
    }

    /// Does not return while the store is silent (the caller's future is dropped instead, or it
    /// goes on once the store answers again).
    async fn hang_if_silent(&self) {
        {
            let mut countdown = self.countdown.lock().unwrap();
            match *countdown {
                Some(0) => {
                    *countdown = None;
                    self.silent.store(true, Ordering::SeqCst);
                }
                Some(left) => *countdown = Some(left - 1),
                None => {}
            }
        }
        if self.silent.load(Ordering::SeqCst) {
            self.hung.fetch_add(1, Ordering::SeqCst);
            while self.silent.load(Ordering::SeqCst) {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        self.answered.fetch_add(1, Ordering::SeqCst);
    }

    /// The next transaction that touches `key` and commits, or delete of `key` that applies, is
    /// answered "no answer in time".
    pub fn lose_answer_to(&self, key: Key) {
        *self.armed.lock().unwrap() = Some(key);
    }

    /// After a write that applied: "no answer in time" if it touched the armed key.
    fn lose_if_armed(&self, keys: &[&Key]) -> StoreResult<()> {
        let armed = self.armed.lock().unwrap().clone();
        match armed {
            Some(key) if keys.contains(&&key) => self.lose(),
            _ => Ok(()),
        }
    }

    /// Disarms and reports the lost answer.
    fn lose(&self) -> StoreResult<()> {
        *self.armed.lock().unwrap() = None;
        self.lost.fetch_add(1, Ordering::SeqCst);
        Err(StoreError::Unavailable(
            "test: the write applied, its answer was lost".into(),
        ))
    }

    /// An App over `t`'s table seen through a `LosesAnswers`, and that wrapper.
    pub async fn under_app(t: crate::TestTable) -> (crate::app::TestApp, Arc<LosesAnswers>) {
        let store = LosesAnswers::new(t.table());
        let app = crate::app::TestApp::over(t, &[], store.clone()).await;
        (app, store)
    }

    /// How many answers were lost so far.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Table for LosesAnswers {
    fn engine(&self) -> &'static str {
        self.inner.engine()
    }
    async fn get(&self, key: &Key, consistent: bool) -> StoreResult<Option<Item>> {
        self.hang_if_silent().await;
        self.inner.get(key, consistent).await
    }
    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        self.hang_if_silent().await;
        self.inner.batch_get(keys).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        self.hang_if_silent().await;
        self.inner.put(item, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item> {
        self.hang_if_silent().await;
        self.inner.update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>> {
        self.hang_if_silent().await;
        // The answer is lost whatever it was, a refusal included.
        let answer = self.inner.delete(key, condition).await;
        self.lose_if_armed(&[key])?;
        answer
    }
    async fn query(&self, query: Query) -> StoreResult<Page> {
        self.hang_if_silent().await;
        self.inner.query(query).await
    }
    async fn transact_write_try(
        &self,
        ops: Vec<TxOp>,
        token: &IdempotencyToken,
    ) -> StoreResult<()> {
        self.hang_if_silent().await;
        if self.throttling.load(Ordering::SeqCst) {
            self.throttled.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Throttled(
                "test: the table is throttling".into(),
            ));
        }
        let touches_armed = {
            let armed = self.armed.lock().unwrap();
            armed
                .as_ref()
                .is_some_and(|key| ops.iter().any(|op| op.key().as_ref() == Some(key)))
        };
        self.inner.transact_write_try(ops, token).await?;
        if touches_armed {
            self.lose()?;
        }
        Ok(())
    }
    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        self.hang_if_silent().await;
        self.inner.scan(scan).await
    }
    async fn health(&self) -> StoreResult<()> {
        self.hang_if_silent().await;
        self.inner.health().await
    }
}
