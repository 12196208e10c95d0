//! A [`Table`] that adds a fixed latency to every call, as a network round trip to DynamoDB
//! does, and counts the **round trips** a request makes one after another.
//!
//! In AWS a request's latency is decided by how many store calls it makes in sequence (each a
//! few milliseconds), not by the embedded engine's microseconds. With this wrapper
//! (`accounts-local --store-latency 5ms`, and the round-trip test) a request's time shows them:
//! calls started while another is in flight overlap with it and count once, so a batch read or
//! two reads joined with `tokio::join!` are one round trip, and a read that waits for another's
//! answer is a second.
//!
//! The count is a "wave" count: a call that starts when no call is in flight starts a new round
//! trip. The delay comes first in every call, so concurrent calls really are in flight together.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::table::{
    Condition, IdempotencyToken, Key, Page, Query, Scan, StoreResult, Table, TxOp, Update,
};
use super::value::Item;

/// Store calls and sequential round trips since the last [`LatencyTable::take`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoundTrips {
    pub calls: u64,
    pub round_trips: u64,
}

pub struct LatencyTable {
    inner: Arc<dyn Table>,
    delay: Duration,
    in_flight: AtomicUsize,
    calls: AtomicU64,
    round_trips: AtomicU64,
}

impl LatencyTable {
    pub fn new(inner: Arc<dyn Table>, delay: Duration) -> LatencyTable {
        LatencyTable {
            inner,
            delay,
            in_flight: AtomicUsize::new(0),
            calls: AtomicU64::new(0),
            round_trips: AtomicU64::new(0),
        }
    }

    /// The counts so far, and a fresh start.
    pub fn take(&self) -> RoundTrips {
        RoundTrips {
            calls: self.calls.swap(0, Ordering::SeqCst),
            round_trips: self.round_trips.swap(0, Ordering::SeqCst),
        }
    }

    async fn call<T>(
        &self,
        work: impl std::future::Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.in_flight.fetch_add(1, Ordering::SeqCst) == 0 {
            self.round_trips.fetch_add(1, Ordering::SeqCst);
        }
        tokio::time::sleep(self.delay).await;
        let result = work.await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

#[async_trait]
impl Table for LatencyTable {
    fn engine(&self) -> &'static str {
        self.inner.engine()
    }

    async fn get(&self, key: &Key, consistent: bool) -> StoreResult<Option<Item>> {
        self.call(self.inner.get(key, consistent)).await
    }

    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        self.call(self.inner.batch_get(keys)).await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        self.call(self.inner.put(item, condition)).await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item> {
        self.call(self.inner.update(key, update, condition)).await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>> {
        self.call(self.inner.delete(key, condition)).await
    }

    async fn query(&self, query: Query) -> StoreResult<Page> {
        self.call(self.inner.query(query)).await
    }

    async fn transact_write_try(
        &self,
        ops: Vec<TxOp>,
        token: &IdempotencyToken,
    ) -> StoreResult<()> {
        self.call(self.inner.transact_write_try(ops, token)).await
    }

    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        self.call(self.inner.scan(scan)).await
    }

    async fn health(&self) -> StoreResult<()> {
        self.call(self.inner.health()).await
    }
}
