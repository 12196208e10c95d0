//! A [`Table`] that fails on purpose: throttling, timeouts and transaction conflicts at a
//! configurable rate, to show that the service survives a misbehaving store (`docs/faults.md`).
//!
//! ```text
//! let faulty = Arc::new(FaultyTable::new(inner, FaultConfig::new(FaultRate::parse("0.2")?)));
//! let app = App::assemble(config, clock, faulty.clone(), None).await?; // retries above it
//! faulty.stats(); // calls seen, faults injected by kind
//! ```
//!
//! Most injected faults happen *before* the call reaches the engine: the wrapped table never
//! sees the call, so it changed nothing. A real timeout may also strike *after* DynamoDB applied
//! a write, and that is injected too ([`FaultKind::AnswerLost`], writes only, unless the config
//! turns it off): the write is applied, then the caller hears "no answer in time", exactly as
//! for a timeout before. Retrying such a write meets the write's own effect (a failed condition),
//! which the retry layer and the callers must read correctly (`docs/faults.md`, "Ambiguous
//! timeouts").
//!
//! The faults are what the engines report for the real thing, so the layers above cannot tell
//! them apart: [`StoreError::Throttled`] (DynamoDB's throughput or request-rate exceptions),
//! [`StoreError::Unavailable`] (no answer in time), and for writes a conflict with a concurrent
//! transaction: [`StoreError::TransactionCanceled`] with a `Conflict` reason for a
//! transaction, `Throttled` (DynamoDB's `TransactionConflictException`) for a single write.
//!
//! With a seed the faults are deterministic: the same sequence of calls meets the same faults
//! (calls made concurrently take their draws in whatever order they arrive).

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::table::{
    CancelReason, Condition, IdempotencyToken, Key, Page, Query, Scan, StoreError, StoreResult,
    Table, TxOp, Update,
};
use super::value::Item;

/// Draws are made in parts per million.
const MILLION: u32 = 1_000_000;

/// The probability that one store call fails, from 0 (never) to 1 (always), kept in parts per
/// million so that configurations compare exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FaultRate(u32);

impl FaultRate {
    /// No call fails: the wrapper is transparent.
    pub const NEVER: FaultRate = FaultRate(0);
    /// Every call fails.
    pub const ALWAYS: FaultRate = FaultRate(MILLION);

    /// The rate `fraction` (0 to 1), rounded to parts per million; `None` outside that range.
    pub fn from_fraction(fraction: f64) -> Option<FaultRate> {
        if (0.0..=1.0).contains(&fraction) {
            Some(FaultRate((fraction * f64::from(MILLION)).round() as u32))
        } else {
            None
        }
    }

    /// `0.2`, `20%` or `1` (a fraction from 0 to 1, or a percentage from 0% to 100%).
    pub fn parse(text: &str) -> Result<FaultRate, String> {
        let text = text.trim();
        let (number, scale) = match text.strip_suffix('%') {
            Some(percent) => (percent.trim(), 100.0),
            None => (text, 1.0),
        };
        number
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .and_then(|n| FaultRate::from_fraction(n / scale))
            .ok_or_else(|| format!("`{text}` is not a rate from 0 to 1 (or 0% to 100%)"))
    }

    pub fn as_fraction(self) -> f64 {
        f64::from(self.0) / f64::from(MILLION)
    }

    fn strikes(self, rng: &mut fastrand::Rng) -> bool {
        self.0 > 0 && rng.u32(0..MILLION) < self.0
    }
}

impl FromStr for FaultRate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultRate::parse(s)
    }
}

/// `20%`, `0.5%`, `100%`.
impl fmt::Display for FaultRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Parts per million over 10 000 is exact for every rate a person types.
        write!(f, "{}%", f64::from(self.0) / 10_000.0)
    }
}

/// What to inject: the rate, a seed for a reproducible sequence of faults (random when `None`),
/// and whether a write's timeout may come after the write applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultConfig {
    pub rate: FaultRate,
    pub seed: Option<u64>,
    /// Writes may meet [`FaultKind::AnswerLost`] (on unless [`FaultConfig::answers_never_lost`]).
    pub lose_answers: bool,
}

impl FaultConfig {
    pub fn new(rate: FaultRate) -> FaultConfig {
        FaultConfig {
            rate,
            seed: None,
            lose_answers: true,
        }
    }

    pub fn seeded(rate: FaultRate, seed: u64) -> FaultConfig {
        FaultConfig {
            seed: Some(seed),
            ..FaultConfig::new(rate)
        }
    }

    /// Every fault strikes before the engine, so a failed call never changed anything (for
    /// tests that check that nothing was written).
    pub fn answers_never_lost(self) -> FaultConfig {
        FaultConfig {
            lose_answers: false,
            ..self
        }
    }
}

/// The kinds of fault, each a different engine failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The engine refused the call (throughput exceeded, too many requests).
    Throttle,
    /// The call did not get an answer in time (and did not reach the engine).
    Timeout,
    /// A write collided with a concurrent transaction on one of its items.
    Conflict,
    /// A write reached the engine and was applied (or refused, as the engine decided), and then
    /// the answer was lost: the caller hears the same "no answer in time" as for [`Timeout`].
    ///
    /// [`Timeout`]: FaultKind::Timeout
    AnswerLost,
}

/// How many calls a [`FaultyTable`] saw and how many it failed, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Every call, failed or passed on.
    pub calls: u64,
    pub throttled: u64,
    pub timed_out: u64,
    pub conflicts: u64,
    /// Writes applied by the engine and then answered "no answer in time".
    pub answers_lost: u64,
}

impl FaultStats {
    /// The calls that failed on purpose.
    pub fn injected(&self) -> u64 {
        self.throttled + self.timed_out + self.conflicts + self.answers_lost
    }

    /// The calls passed on to the wrapped table and answered as it answered.
    pub fn passed(&self) -> u64 {
        self.calls - self.injected()
    }
}

impl fmt::Display for FaultStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} calls, {} failed on purpose ({} throttled, {} timed out, {} conflicts, {} applied \
             and their answer lost)",
            self.calls,
            self.injected(),
            self.throttled,
            self.timed_out,
            self.conflicts,
            self.answers_lost
        )
    }
}

/// Whether a call reads or writes decides which faults it can meet: only writes conflict.
#[derive(Clone, Copy)]
enum Call<'a> {
    Read,
    Write,
    Transaction(&'a [TxOp]),
}

/// The wrapper. Share it in an `Arc`: one clone for the App, one to read [`FaultyTable::stats`].
pub struct FaultyTable {
    inner: Arc<dyn Table>,
    config: FaultConfig,
    rng: Mutex<fastrand::Rng>,
    calls: AtomicU64,
    throttled: AtomicU64,
    timed_out: AtomicU64,
    conflicts: AtomicU64,
    answers_lost: AtomicU64,
}

/// What an injected fault does to one call.
enum Fault {
    /// The call fails with this error before it reaches the engine.
    Refused(StoreError),
    /// The call is passed on, and whatever the engine answers, the caller hears a timeout.
    AnswerLost,
}

/// What a timeout looks like to the layers above, whether or not the call reached the engine.
fn no_answer_in_time() -> StoreError {
    StoreError::Unavailable("injected fault: no answer in time".into())
}

impl FaultyTable {
    pub fn new(inner: Arc<dyn Table>, config: FaultConfig) -> FaultyTable {
        let rng = match config.seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        FaultyTable {
            inner,
            config,
            rng: Mutex::new(rng),
            calls: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            answers_lost: AtomicU64::new(0),
        }
    }

    /// The wrapped table (calls made on it directly never fail on purpose).
    pub fn inner(&self) -> &Arc<dyn Table> {
        &self.inner
    }

    pub fn config(&self) -> FaultConfig {
        self.config
    }

    pub fn stats(&self) -> FaultStats {
        FaultStats {
            calls: self.calls.load(Ordering::SeqCst),
            throttled: self.throttled.load(Ordering::SeqCst),
            timed_out: self.timed_out.load(Ordering::SeqCst),
            conflicts: self.conflicts.load(Ordering::SeqCst),
            answers_lost: self.answers_lost.load(Ordering::SeqCst),
        }
    }

    /// Draws whether this call fails, and how. One lock for both draws keeps a seeded sequence
    /// reproducible.
    fn draw(&self, call: Call<'_>) -> Option<(FaultKind, usize)> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        // A panic elsewhere cannot leave a random number generator half-updated.
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.config.rate.strikes(&mut rng) {
            return None;
        }
        let writes = match call {
            Call::Read => false,
            Call::Write => true,
            Call::Transaction(ops) => !ops.is_empty(),
        };
        let kinds: &[FaultKind] = match (writes, self.config.lose_answers) {
            (false, _) => &[FaultKind::Throttle, FaultKind::Timeout],
            (true, false) => &[FaultKind::Throttle, FaultKind::Timeout, FaultKind::Conflict],
            (true, true) => &[
                FaultKind::Throttle,
                FaultKind::Timeout,
                FaultKind::Conflict,
                FaultKind::AnswerLost,
            ],
        };
        let kind = kinds[rng.usize(..kinds.len())];
        // Which operation of a transaction the conflict names.
        let op = match call {
            Call::Transaction(ops) if !ops.is_empty() => rng.usize(..ops.len()),
            _ => 0,
        };
        Some((kind, op))
    }

    /// The fault this call meets, if any.
    fn fault(&self, call: Call<'_>) -> Option<Fault> {
        let (kind, op) = self.draw(call)?;
        let counter = match kind {
            FaultKind::Throttle => &self.throttled,
            FaultKind::Timeout => &self.timed_out,
            FaultKind::Conflict => &self.conflicts,
            FaultKind::AnswerLost => &self.answers_lost,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        let error = match (kind, call) {
            (FaultKind::AnswerLost, _) => return Some(Fault::AnswerLost),
            (FaultKind::Throttle, _) => StoreError::Throttled(
                "injected fault: ProvisionedThroughputExceededException".into(),
            ),
            (FaultKind::Timeout, _) => no_answer_in_time(),
            (FaultKind::Conflict, Call::Transaction(ops)) => {
                let mut reasons = vec![CancelReason::None; ops.len()];
                reasons[op] = CancelReason::Conflict;
                StoreError::TransactionCanceled { reasons }
            }
            (FaultKind::Conflict, _) => {
                StoreError::Throttled("injected fault: TransactionConflictException".into())
            }
        };
        Some(Fault::Refused(error))
    }

    /// Runs `call` on the wrapped table (a future not yet polled) as `fault` says.
    async fn under<T>(
        fault: Option<Fault>,
        call: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        match fault {
            None => call.await,
            Some(Fault::Refused(error)) => Err(error),
            Some(Fault::AnswerLost) => {
                // The engine's answer, success or refusal, is what gets lost.
                let _lost = call.await;
                Err(no_answer_in_time())
            }
        }
    }
}

impl fmt::Debug for FaultyTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyTable")
            .field("engine", &self.inner.engine())
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

#[async_trait]
impl Table for FaultyTable {
    fn engine(&self) -> &'static str {
        self.inner.engine()
    }

    async fn get(&self, key: &Key, consistent: bool) -> StoreResult<Option<Item>> {
        Self::under(self.fault(Call::Read), self.inner.get(key, consistent)).await
    }

    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        Self::under(self.fault(Call::Read), self.inner.batch_get(keys)).await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        Self::under(self.fault(Call::Write), self.inner.put(item, condition)).await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item> {
        Self::under(
            self.fault(Call::Write),
            self.inner.update(key, update, condition),
        )
        .await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>> {
        Self::under(self.fault(Call::Write), self.inner.delete(key, condition)).await
    }

    async fn query(&self, query: Query) -> StoreResult<Page> {
        Self::under(self.fault(Call::Read), self.inner.query(query)).await
    }

    async fn transact_write_try(
        &self,
        ops: Vec<TxOp>,
        token: &IdempotencyToken,
    ) -> StoreResult<()> {
        let fault = self.fault(Call::Transaction(&ops));
        Self::under(fault, self.inner.transact_write_try(ops, token)).await
    }

    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        Self::under(self.fault(Call::Read), self.inner.scan(scan)).await
    }

    async fn health(&self) -> StoreResult<()> {
        Self::under(self.fault(Call::Read), self.inner.health()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::embedded::EmbeddedTable;
    use crate::store::{Index, Value};

    fn faulty(config: FaultConfig) -> (tempfile::TempDir, FaultyTable) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let table = EmbeddedTable::open(dir.path(), Arc::new(ManualClock::starting_now()))
            .expect("open the embedded table");
        (dir, FaultyTable::new(Arc::new(table), config))
    }

    fn item(sk: &str) -> Item {
        let mut item = Key::new("USER#1", sk).to_item();
        item.insert("n".into(), Value::Int(1));
        item
    }

    fn put_op(sk: &str) -> TxOp {
        TxOp::Put {
            item: item(sk),
            condition: None,
        }
    }

    #[test]
    fn rates_parse_as_fractions_or_percentages() {
        assert_eq!(FaultRate::parse("0.2"), Ok(FaultRate(200_000)));
        assert_eq!(FaultRate::parse(" 20% "), Ok(FaultRate(200_000)));
        assert_eq!(FaultRate::parse("1"), Ok(FaultRate::ALWAYS));
        assert_eq!(FaultRate::parse("100%"), Ok(FaultRate::ALWAYS));
        assert_eq!(FaultRate::parse("0"), Ok(FaultRate::NEVER));
        assert_eq!("0.5%".parse::<FaultRate>(), Ok(FaultRate(5_000)));
        for bad in ["", "x", "-0.1", "1.5", "101%", "NaN", "inf"] {
            assert!(FaultRate::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(FaultRate::parse("0.2").unwrap().to_string(), "20%");
        assert_eq!(FaultRate::parse("0.07").unwrap().to_string(), "7%");
        assert_eq!(FaultRate::parse("0.5%").unwrap().to_string(), "0.5%");
        assert_eq!(FaultRate::ALWAYS.as_fraction(), 1.0);
    }

    #[tokio::test]
    async fn rate_zero_never_fails_and_passes_results_through() {
        let (_dir, table) = faulty(FaultConfig::new(FaultRate::NEVER));
        for i in 0..200 {
            table.put(item(&format!("A{i}")), None).await.unwrap();
        }
        let direct = table
            .inner()
            .get(&Key::new("USER#1", "A7"), true)
            .await
            .unwrap();
        let through = table.get(&Key::new("USER#1", "A7"), true).await.unwrap();
        assert_eq!(through, direct);
        assert!(through.is_some());
        // Errors of the engine pass through unchanged too.
        let err = table
            .put(item("A7"), Some(Condition::item_absent()))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::ConditionFailed), "{err:?}");
        let stats = table.stats();
        assert_eq!((stats.calls, stats.injected()), (202, 0));
    }

    #[tokio::test]
    async fn rate_one_fails_every_call_before_it_reaches_the_engine() {
        let (_dir, table) = faulty(FaultConfig::seeded(FaultRate::ALWAYS, 7).answers_never_lost());
        let key = Key::new("USER#1", "A");
        for _ in 0..30 {
            assert!(table.put(item("A"), None).await.unwrap_err().is_retryable());
            assert!(
                table
                    .update(&key, Update::new().add("n", 1), None)
                    .await
                    .unwrap_err()
                    .is_retryable()
            );
            assert!(table.delete(&key, None).await.is_err());
            assert!(
                table
                    .transact_write(vec![put_op("B"), put_op("C")])
                    .await
                    .unwrap_err()
                    .is_retryable()
            );
            assert!(table.get(&key, true).await.is_err());
            assert!(table.batch_get(std::slice::from_ref(&key)).await.is_err());
            assert!(
                table
                    .query(Query::new(Index::Primary, "USER#1"))
                    .await
                    .is_err()
            );
            assert!(table.scan(Scan::segment(0, 1)).await.is_err());
            assert!(table.health().await.is_err());
        }
        // Nothing was written.
        let page = table.inner().scan(Scan::segment(0, 1)).await.unwrap();
        assert!(page.items.is_empty(), "{:?}", page.items);
        let stats = table.stats();
        assert_eq!(stats.calls, 270);
        assert_eq!(stats.injected(), 270);
        assert_eq!(stats.passed(), 0);
        // Every kind occurs; reads never conflict, so conflicts come from the 120 writes.
        assert!(stats.throttled > 0 && stats.timed_out > 0 && stats.conflicts > 0);
        assert!(stats.conflicts < 120, "{stats}");
        assert_eq!(stats.answers_lost, 0);
    }

    #[tokio::test]
    async fn a_lost_answer_applies_the_write_and_reports_a_timeout() {
        let (_dir, table) = faulty(FaultConfig::seeded(FaultRate::ALWAYS, 5));
        let key = |sk: &str| Key::new("USER#1", sk);
        let mut lost = Vec::new();
        for i in 0..40 {
            let sk = format!("P{i}");
            let before = table.stats().answers_lost;
            let err = table.put(item(&sk), None).await.unwrap_err();
            let answer_lost = table.stats().answers_lost > before;
            // The caller cannot tell a lost answer from a timeout before the engine.
            if answer_lost {
                assert!(
                    matches!(&err, StoreError::Unavailable(m) if m == "injected fault: no answer in time"),
                    "{err:?}"
                );
                lost.push(sk.clone());
            }
            // Only a lost answer wrote.
            let stored = table.inner().get(&key(&sk), true).await.unwrap();
            assert_eq!(stored.is_some(), answer_lost, "{sk}: {err:?}");
        }
        assert!(!lost.is_empty());
        // A transaction whose answer is lost applied whole; the engine's own refusal is lost too.
        let mut applied = 0;
        for i in 0..40 {
            let (a, b) = (format!("T{i}a"), format!("T{i}b"));
            let before = table.stats().answers_lost;
            table
                .transact_write(vec![put_op(&a), put_op(&b)])
                .await
                .unwrap_err();
            let answer_lost = table.stats().answers_lost > before;
            let stored_a = table.inner().get(&key(&a), true).await.unwrap().is_some();
            let stored_b = table.inner().get(&key(&b), true).await.unwrap().is_some();
            assert_eq!((stored_a, stored_b), (answer_lost, answer_lost), "T{i}");
            applied += usize::from(answer_lost);
        }
        assert!(applied > 0);
        let before = table.stats().answers_lost;
        let mut refused_then_lost = false;
        while !refused_then_lost {
            let err = table
                .put(item(&lost[0]), Some(Condition::item_absent()))
                .await
                .unwrap_err();
            refused_then_lost = table.stats().answers_lost > before;
            assert!(err.is_retryable(), "{err:?}");
        }
        // Reads never lose an answer (there is nothing to apply).
        let reads_before = table.stats().answers_lost;
        for _ in 0..50 {
            assert!(table.get(&key("P0"), true).await.is_err());
        }
        assert_eq!(table.stats().answers_lost, reads_before);
    }

    #[tokio::test]
    async fn injected_faults_look_like_the_engines_own() {
        let (_dir, table) = faulty(FaultConfig::seeded(FaultRate::ALWAYS, 1));
        let mut seen_cancel = false;
        for _ in 0..100 {
            match table
                .transact_write(vec![put_op("B"), put_op("C"), put_op("D")])
                .await
                .unwrap_err()
            {
                StoreError::TransactionCanceled { reasons } => {
                    seen_cancel = true;
                    assert_eq!(reasons.len(), 3);
                    let conflicts = reasons
                        .iter()
                        .filter(|r| **r == CancelReason::Conflict)
                        .count();
                    assert_eq!(conflicts, 1, "{reasons:?}");
                    assert!(
                        reasons
                            .iter()
                            .all(|r| matches!(r, CancelReason::None | CancelReason::Conflict))
                    );
                }
                StoreError::Throttled(m) | StoreError::Unavailable(m) => {
                    assert!(m.starts_with("injected fault"), "{m}");
                }
                other => panic!("not a fault an engine reports: {other:?}"),
            }
        }
        assert!(seen_cancel);
        for _ in 0..50 {
            let err = table
                .get(&Key::new("USER#1", "A"), false)
                .await
                .unwrap_err();
            assert!(
                matches!(err, StoreError::Throttled(_) | StoreError::Unavailable(_)),
                "{err:?}"
            );
        }
    }

    /// The outcome (failed or passed) of each of `n` gets.
    async fn pattern(table: &FaultyTable, n: usize) -> Vec<bool> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(table.get(&Key::new("USER#1", "A"), false).await.is_err());
        }
        out
    }

    #[tokio::test]
    async fn a_seed_gives_the_same_faults_and_the_rate_holds() {
        let rate = FaultRate::parse("0.2").unwrap();
        let (_a, first) = faulty(FaultConfig::seeded(rate, 42));
        let (_b, second) = faulty(FaultConfig::seeded(rate, 42));
        let (_c, other) = faulty(FaultConfig::seeded(rate, 43));
        let one = pattern(&first, 2000).await;
        assert_eq!(one, pattern(&second, 2000).await);
        assert_ne!(one, pattern(&other, 2000).await);
        let failed = one.iter().filter(|f| **f).count();
        // 20% of 2000 is 400; a binomial draw stays well within ±80 (over 4 sigma).
        assert!((320..=480).contains(&failed), "{failed} of 2000 failed");
        assert_eq!(first.stats().injected(), failed as u64);
    }
}
