//! The one retry layer of the store: a [`Table`] that tries a call again, after a jittered
//! exponential backoff, when the error says the same call may succeed later
//! ([`StoreError::is_retryable`]: throttling, no answer in time, a transaction cancelled only
//! by conflicts), up to [`RetryPolicy::max_attempts`] tries in all. Anything else (a failed
//! condition, a validation error, success) returns at once, unchanged.
//!
//! A lost answer is the one fault a retry can misread: a write that timed out may have applied,
//! and its retry then fails its own condition (the item it put is there). So when an earlier
//! try of a *conditional* write or a transaction went unanswered and a later try fails a
//! condition, the call reports [`StoreError::MayHaveApplied`], not the condition: this layer
//! cannot tell the call's own write from someone else's. Callers that can look for it (the
//! social graph's request ids, registration's and badge definitions' fresh ids, an award's
//! award id) or know that "already done" is done (unblock, revoke); the rest answer 503.
//!
//! The tries of one transaction share one [`IdempotencyToken`], DynamoDB's `ClientRequestToken`:
//! DynamoDB answers the retry of a transaction it applied with success, so there the rule above
//! is left for single-item conditional writes (which take no token) and for engines that ignore
//! tokens (moto).
//!
//! `App::assemble` puts it around every table, so every store call of every capability gets the
//! same bounded retries; what still fails after the last try becomes a 503 with `Retry-After`
//! (`Error::from(StoreError)`). The DynamoDB client's own retries are switched off for the table
//! (`App::build`), so a throttled call is tried [`RetryPolicy::max_attempts`] times in all, not
//! that many times the SDK's three. See `docs/faults.md` for why this layer and what a retry of
//! an ambiguous timeout means.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::counting::StoreOp;
use super::table::{
    Condition, IdempotencyToken, Key, Page, Query, Scan, StoreError, StoreResult, Table, TxOp,
    Update,
};
use super::value::Item;

/// How often, and how patiently, a call is tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles with each further retry...
    pub first_delay: Duration,
    /// ...up to this.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The service's policy: 4 tries, waiting about 20, 40 and 80 ms between them (at most
    /// 140 ms in all), so a request in a Lambda stays well inside its time while a store that
    /// fails one call in five still answers almost every request.
    pub const STORE: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        first_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    };

    /// The wait before retry number `retry` (1 for the first): the doubled delay `d`, capped,
    /// then drawn uniformly from `d/2..=d` so that callers that failed together spread out.
    pub fn delay(&self, retry: u32) -> Duration {
        let doubled = self
            .first_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16));
        let ceiling = doubled.min(self.max_delay);
        let half = ceiling / 2;
        let jitter = fastrand::u128(0..=(ceiling - half).as_nanos());
        half + Duration::from_nanos(u64::try_from(jitter).unwrap_or(u64::MAX))
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::STORE
    }
}

/// What a [`RetryingTable`] did: retries made, and calls that still failed retryably after the
/// last try.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetryStats {
    pub retries: u64,
    pub gave_up: u64,
}

pub struct RetryingTable {
    inner: Arc<dyn Table>,
    policy: RetryPolicy,
    retries: AtomicU64,
    gave_up: AtomicU64,
}

impl RetryingTable {
    pub fn new(inner: Arc<dyn Table>, policy: RetryPolicy) -> RetryingTable {
        RetryingTable {
            inner,
            policy: RetryPolicy {
                max_attempts: policy.max_attempts.max(1),
                ..policy
            },
            retries: AtomicU64::new(0),
            gave_up: AtomicU64::new(0),
        }
    }

    pub fn inner(&self) -> &Arc<dyn Table> {
        &self.inner
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    pub fn stats(&self) -> RetryStats {
        RetryStats {
            retries: self.retries.load(Ordering::SeqCst),
            gave_up: self.gave_up.load(Ordering::SeqCst),
        }
    }

    /// Runs `call` until it succeeds, fails for good, or the tries are used up. `call` makes a
    /// fresh request each time (the arguments are cloned: the engine consumes them).
    ///
    /// `conditional`: the call is a write that carries a condition (or a transaction), so its
    /// retry after a lost answer can fail on the earlier try's own write (module docs).
    async fn retry<T, F, Fut>(&self, op: StoreOp, conditional: bool, mut call: F) -> StoreResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = StoreResult<T>>,
    {
        let mut attempt = 1;
        let mut answer_lost = false;
        loop {
            match call().await {
                Err(e) if answer_lost && e.is_condition_failure() => {
                    tracing::warn!(op = %op, attempts = attempt, error = %e, "a retry after a lost answer failed its condition; the write may have applied");
                    return Err(StoreError::MayHaveApplied(format!(
                        "an earlier try went unanswered, then {e}"
                    )));
                }
                Err(e) if e.is_retryable() => {
                    answer_lost |= conditional && e.may_have_applied();
                    if attempt >= self.policy.max_attempts {
                        self.gave_up.fetch_add(1, Ordering::Relaxed);
                        crate::metrics::emit(crate::metrics::Metric::StoreUnavailable);
                        tracing::warn!(op = %op, attempts = attempt, error = %e, "store call failed after retries");
                        // Whatever the last try met, an unanswered one may have applied.
                        if answer_lost && !e.may_have_applied() {
                            return Err(StoreError::MayHaveApplied(format!(
                                "an earlier try went unanswered, the last {e}"
                            )));
                        }
                        return Err(e);
                    }
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    crate::metrics::emit(crate::metrics::Metric::StoreRetry);
                    tracing::debug!(op = %op, attempt, error = %e, "store call retried");
                    tokio::time::sleep(self.policy.delay(attempt)).await;
                    attempt += 1;
                }
                done => return done,
            }
        }
    }
}

impl fmt::Debug for RetryingTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryingTable")
            .field("engine", &self.inner.engine())
            .field("policy", &self.policy)
            .field("stats", &self.stats())
            .finish()
    }
}

#[async_trait]
impl Table for RetryingTable {
    fn engine(&self) -> &'static str {
        self.inner.engine()
    }

    async fn get(&self, key: &Key, consistent: bool) -> StoreResult<Option<Item>> {
        self.retry(StoreOp::Get, false, || self.inner.get(key, consistent))
            .await
    }

    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        self.retry(StoreOp::BatchGet, false, || self.inner.batch_get(keys))
            .await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        self.retry(StoreOp::Put, condition.is_some(), || {
            self.inner.put(item.clone(), condition.clone())
        })
        .await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item> {
        self.retry(StoreOp::Update, condition.is_some(), || {
            self.inner.update(key, update.clone(), condition.clone())
        })
        .await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>> {
        self.retry(StoreOp::Delete, condition.is_some(), || {
            self.inner.delete(key, condition.clone())
        })
        .await
    }

    async fn query(&self, query: Query) -> StoreResult<Page> {
        self.retry(StoreOp::Query, false, || self.inner.query(query.clone()))
            .await
    }

    /// Every try carries the one token, so that on DynamoDB a retry of a transaction that
    /// applied under a lost answer succeeds instead of failing on its own write.
    async fn transact_write_try(
        &self,
        ops: Vec<TxOp>,
        token: &IdempotencyToken,
    ) -> StoreResult<()> {
        self.retry(StoreOp::TransactWrite, true, || {
            self.inner.transact_write_try(ops.clone(), token)
        })
        .await
    }

    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        self.retry(StoreOp::Scan, false, || self.inner.scan(scan.clone()))
            .await
    }

    async fn health(&self) -> StoreResult<()> {
        self.retry(StoreOp::Health, false, || self.inner.health())
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::store::{CancelReason, StoreError};

    /// A table that answers each call with the next scripted result (`Ok` once the script is
    /// used up), counts the calls and keeps the idempotency token of each transaction try.
    struct Scripted {
        script: Mutex<Vec<StoreError>>,
        calls: AtomicU64,
        tokens: Mutex<Vec<IdempotencyToken>>,
    }

    impl Scripted {
        fn new(mut errors: Vec<StoreError>) -> Arc<Scripted> {
            errors.reverse();
            Arc::new(Scripted {
                script: Mutex::new(errors),
                calls: AtomicU64::new(0),
                tokens: Mutex::new(Vec::new()),
            })
        }

        fn next(&self) -> StoreResult<()> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            match self.script.lock().unwrap().pop() {
                Some(e) => Err(e),
                None => Ok(()),
            }
        }

        fn calls(&self) -> u64 {
            self.calls.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl Table for Scripted {
        fn engine(&self) -> &'static str {
            "scripted"
        }
        async fn get(&self, _: &Key, _: bool) -> StoreResult<Option<Item>> {
            self.next().map(|()| None)
        }
        async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
            self.next().map(|()| vec![None; keys.len()])
        }
        async fn put(&self, _: Item, _: Option<Condition>) -> StoreResult<()> {
            self.next()
        }
        async fn update(&self, key: &Key, _: Update, _: Option<Condition>) -> StoreResult<Item> {
            self.next().map(|()| key.to_item())
        }
        async fn delete(&self, _: &Key, _: Option<Condition>) -> StoreResult<Option<Item>> {
            self.next().map(|()| None)
        }
        async fn query(&self, _: Query) -> StoreResult<Page> {
            self.next().map(|()| Page::default())
        }
        async fn transact_write_try(
            &self,
            _: Vec<TxOp>,
            token: &IdempotencyToken,
        ) -> StoreResult<()> {
            self.tokens.lock().unwrap().push(token.clone());
            self.next()
        }
        async fn scan(&self, _: Scan) -> StoreResult<Page> {
            self.next().map(|()| Page::default())
        }
        async fn health(&self) -> StoreResult<()> {
            self.next()
        }
    }

    const FAST: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
    };

    fn throttled() -> StoreError {
        StoreError::Throttled("busy".into())
    }

    fn conflict() -> StoreError {
        StoreError::TransactionCanceled {
            reasons: vec![CancelReason::None, CancelReason::Conflict],
        }
    }

    #[tokio::test]
    async fn retryable_errors_are_retried_until_success() {
        let inner = Scripted::new(vec![
            throttled(),
            StoreError::Unavailable("late".into()),
            conflict(),
        ]);
        let table = RetryingTable::new(inner.clone(), FAST);
        table.transact_write(Vec::new()).await.unwrap();
        assert_eq!(inner.calls(), 4);
        assert_eq!(
            table.stats(),
            RetryStats {
                retries: 3,
                gave_up: 0
            }
        );
    }

    #[tokio::test]
    async fn every_try_of_one_transaction_carries_one_token() {
        let inner = Scripted::new(vec![StoreError::Unavailable("late".into()), throttled()]);
        let table = RetryingTable::new(inner.clone(), FAST);
        table.transact_write(Vec::new()).await.unwrap();
        table.transact_write(Vec::new()).await.unwrap();
        let tokens = inner.tokens.lock().unwrap().clone();
        assert_eq!(
            tokens.len(),
            4,
            "three tries of the first, one of the second"
        );
        assert_eq!(tokens[0], tokens[1]);
        assert_eq!(tokens[0], tokens[2]);
        assert_ne!(tokens[2], tokens[3], "another transaction, another token");
        // DynamoDB takes 1 to 36 characters.
        assert!((1..=36).contains(&tokens[0].as_str().len()));

        // A token given from above is the one every try carries.
        let given = IdempotencyToken::new();
        let inner = Scripted::new(vec![throttled()]);
        let table = RetryingTable::new(inner.clone(), FAST);
        table.transact_write_try(Vec::new(), &given).await.unwrap();
        assert_eq!(*inner.tokens.lock().unwrap(), vec![given.clone(), given]);
    }

    #[tokio::test]
    async fn the_tries_are_bounded_and_the_last_error_is_returned() {
        let inner = Scripted::new((0..10).map(|_| throttled()).collect());
        let table = RetryingTable::new(inner.clone(), FAST);
        let err = table.get(&Key::new("a", "b"), false).await.unwrap_err();
        assert!(matches!(err, StoreError::Throttled(_)), "{err:?}");
        assert_eq!(inner.calls(), 4);
        assert_eq!(table.stats().gave_up, 1);
        // The next call starts a fresh budget.
        let err = table.health().await.unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(inner.calls(), 8);
    }

    #[tokio::test]
    async fn other_errors_are_returned_at_once() {
        let failures = [
            StoreError::ConditionFailed,
            StoreError::Validation("bad".into()),
            StoreError::Backend("gone".into()),
            // A failed condition beside a conflict would fail again: not retried.
            StoreError::TransactionCanceled {
                reasons: vec![CancelReason::ConditionFailed, CancelReason::Conflict],
            },
        ];
        for failure in failures {
            let inner = Scripted::new(vec![failure.clone()]);
            let table = RetryingTable::new(inner.clone(), FAST);
            let err = table.put(Key::new("a", "b").to_item(), None).await;
            assert_eq!(
                format!("{:?}", err.unwrap_err()),
                format!("{failure:?}"),
                "passed through unchanged"
            );
            assert_eq!(inner.calls(), 1, "{failure:?} is not retried");
        }
    }

    fn late() -> StoreError {
        StoreError::Unavailable("late".into())
    }

    fn condition_failed_at_0() -> StoreError {
        StoreError::TransactionCanceled {
            reasons: vec![CancelReason::ConditionFailed, CancelReason::None],
        }
    }

    /// After an unanswered try, a conditional write or a transaction whose retry fails a
    /// condition may have failed on its own first write: reported as may have applied, not
    /// failed.
    #[tokio::test]
    async fn a_condition_failing_after_a_lost_answer_is_reported_as_may_have_applied() {
        let conditional = Some(Condition::item_absent());
        let inner = Scripted::new(vec![late(), StoreError::ConditionFailed]);
        let table = RetryingTable::new(inner.clone(), FAST);
        let err = table
            .put(Key::new("a", "b").to_item(), conditional.clone())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::MayHaveApplied(_)), "{err:?}");
        assert_eq!(inner.calls(), 2);

        let inner = Scripted::new(vec![late(), throttled(), condition_failed_at_0()]);
        let table = RetryingTable::new(inner.clone(), FAST);
        let err = table.transact_write(Vec::new()).await.unwrap_err();
        assert!(matches!(err, StoreError::MayHaveApplied(_)), "{err:?}");
        assert_eq!(inner.calls(), 3);

        let inner = Scripted::new(vec![late(), StoreError::ConditionFailed]);
        let table = RetryingTable::new(inner.clone(), FAST);
        let err = table
            .update(&Key::new("a", "b"), Update::new().add("n", 1), conditional)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::MayHaveApplied(_)), "{err:?}");
    }

    /// What the retry layer gives up with tells a caller's loop whether another round of the
    /// whole change is worth it: not for throttling, yes for an outcome it cannot know.
    #[tokio::test]
    async fn only_an_unknown_outcome_or_a_conflict_calls_for_another_round() {
        let throttled_out = Scripted::new(vec![throttled(), throttled(), throttled(), throttled()]);
        let err = RetryingTable::new(throttled_out, FAST)
            .transact_write(Vec::new())
            .await
            .unwrap_err();
        assert!(!err.calls_for_another_round(), "{err:?}");

        let unanswered = Scripted::new(vec![late(), throttled(), throttled(), throttled()]);
        let err = RetryingTable::new(unanswered, FAST)
            .transact_write(Vec::new())
            .await
            .unwrap_err();
        assert!(err.calls_for_another_round(), "{err:?}");

        let conflict = StoreError::TransactionCanceled {
            reasons: vec![CancelReason::Conflict],
        };
        assert!(conflict.calls_for_another_round());
        assert!(!StoreError::ConditionFailed.calls_for_another_round());
    }

    /// Giving up after an unanswered try of a conditional write says that it may have applied,
    /// whatever the last try met.
    #[tokio::test]
    async fn giving_up_after_a_lost_answer_says_the_write_may_have_applied() {
        let inner = Scripted::new(vec![late(), throttled(), throttled(), throttled()]);
        let table = RetryingTable::new(inner.clone(), FAST);
        let err = table
            .delete(&Key::new("a", "b"), Some(Condition::item_present()))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::MayHaveApplied(_)), "{err:?}");
        assert!(err.is_retryable());
        assert_eq!(inner.calls(), 4);

        // Without a condition there is nothing to misread: the last error as it is.
        let inner = Scripted::new(vec![late(), throttled(), throttled(), throttled()]);
        let table = RetryingTable::new(inner.clone(), FAST);
        let err = table.delete(&Key::new("a", "b"), None).await.unwrap_err();
        assert!(matches!(err, StoreError::Throttled(_)), "{err:?}");
    }

    /// A refusal (throttling, a conflict) means the try did not apply: the condition that fails
    /// after it is the caller's to see, as it is after no fault at all.
    #[tokio::test]
    async fn a_condition_failing_after_a_refusal_is_reported_as_it_is() {
        let inner = Scripted::new(vec![throttled(), conflict(), condition_failed_at_0()]);
        let table = RetryingTable::new(inner.clone(), FAST);
        let err = table.transact_write(Vec::new()).await.unwrap_err();
        assert_eq!(err.failed_condition_index(), Some(0), "{err:?}");
        assert_eq!(inner.calls(), 3);

        // An unconditional delete has no condition of its own to trip over.
        let inner = Scripted::new(vec![late(), StoreError::ConditionFailed]);
        let table = RetryingTable::new(inner.clone(), FAST);
        let err = table.delete(&Key::new("a", "b"), None).await.unwrap_err();
        assert!(matches!(err, StoreError::ConditionFailed), "{err:?}");
    }

    #[tokio::test]
    async fn one_attempt_means_no_retry() {
        let inner = Scripted::new(vec![throttled()]);
        let policy = RetryPolicy {
            max_attempts: 0,
            ..FAST
        };
        let table = RetryingTable::new(inner.clone(), policy);
        assert_eq!(table.policy().max_attempts, 1);
        assert!(
            table
                .query(Query::new(crate::store::Index::Primary, "a"))
                .await
                .is_err()
        );
        assert_eq!(inner.calls(), 1);
    }

    #[test]
    fn delays_double_with_jitter_up_to_the_cap() {
        let policy = RetryPolicy::STORE;
        for _ in 0..200 {
            for (retry, full) in [(1, 20), (2, 40), (3, 80), (4, 160), (5, 200), (30, 200)] {
                let d = policy.delay(retry);
                let full = Duration::from_millis(full);
                assert!(d >= full / 2 && d <= full, "retry {retry}: {d:?}");
            }
        }
        // The waits of one call: at most 20 + 40 + 80 ms.
        let worst: Duration = (1..policy.max_attempts)
            .map(|r| policy.first_delay * (1 << (r - 1)))
            .sum();
        assert_eq!(worst, Duration::from_millis(140));
    }
}
