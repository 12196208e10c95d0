//! A transaction whose operations carry names, so that a cancellation is read as "the
//! operation named X failed its condition" rather than by the position of an operation in a
//! vector (which silently shifts when an operation is added or made optional).
//!
//! Each call site names its operations with a small enum of its own; [`Transaction::push`]
//! keeps the names beside the operations, and [`Transaction::commit`] runs them through
//! [`Table::transact_write`] and maps the engine's per-operation [`CancelReason`]s back to the
//! names. This is the one way the domain reads which operation of a transaction failed;
//! transactions whose failures are never told apart (bulk deletes of a cleanup) call
//! `transact_write` directly.

use std::fmt;

use super::table::{CancelReason, StoreError, Table, TxOp};

/// Operations to be written all or nothing, each under a name of type `N`.
#[derive(Clone, Debug)]
pub struct Transaction<N> {
    ops: Vec<TxOp>,
    names: Vec<N>,
}

impl<N: Copy + PartialEq + fmt::Debug> Transaction<N> {
    pub fn new() -> Self {
        Transaction {
            ops: Vec::new(),
            names: Vec::new(),
        }
    }

    /// Adds an operation under `name`. A name may be used once: a second operation under it
    /// would make the cancellation ambiguous, so it is a bug (caught in debug builds).
    pub fn push(&mut self, name: N, op: TxOp) {
        debug_assert!(
            !self.names.contains(&name),
            "transaction operation {name:?} pushed twice"
        );
        self.ops.push(op);
        self.names.push(name);
    }

    /// [`Transaction::push`], for building a transaction in one expression.
    pub fn with(mut self, name: N, op: TxOp) -> Self {
        self.push(name, op);
        self
    }

    /// True when an operation named `name` is in the transaction.
    pub fn contains(&self, name: N) -> bool {
        self.names.contains(&name)
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Writes the operations in one [`Table::transact_write`]. A failure keeps the store's
    /// error and the names of the operations whose conditions failed.
    pub async fn commit(self, table: &dyn Table) -> Result<(), TxFailure<N>> {
        let Transaction { ops, names } = self;
        match table.transact_write(ops).await {
            Ok(()) => Ok(()),
            Err(error) => Err(TxFailure::new(&names, error)),
        }
    }
}

impl<N: Copy + PartialEq + fmt::Debug> Default for Transaction<N> {
    fn default() -> Self {
        Transaction::new()
    }
}

/// Why a [`Transaction`] did not commit: the store's error, and for a cancellation the names
/// of the operations whose conditions failed, in the order they were pushed.
#[derive(Clone, Debug)]
pub struct TxFailure<N> {
    error: StoreError,
    failed_conditions: Vec<N>,
}

impl<N: Copy + PartialEq> TxFailure<N> {
    /// Reason `i` of a cancellation belongs to the operation pushed `i`-th.
    fn new(names: &[N], error: StoreError) -> Self {
        let failed_conditions = match &error {
            StoreError::TransactionCanceled { reasons } => names
                .iter()
                .zip(reasons)
                .filter(|(_, reason)| **reason == CancelReason::ConditionFailed)
                .map(|(name, _)| *name)
                .collect(),
            _ => Vec::new(),
        };
        TxFailure {
            error,
            failed_conditions,
        }
    }

    /// True when the operation named `name` failed its condition (false when it was not in
    /// the transaction).
    pub fn condition_failed(&self, name: N) -> bool {
        self.failed_conditions.contains(&name)
    }

    /// The first operation, in push order, whose condition failed.
    pub fn first_failed_condition(&self) -> Option<N> {
        self.failed_conditions.first().copied()
    }

    /// True when some operation failed its condition.
    pub fn any_condition_failed(&self) -> bool {
        !self.failed_conditions.is_empty()
    }

    /// True when the engine cancelled the transaction, for whatever reason (failed conditions
    /// or conflicts with other writes), as opposed to not answering or refusing the request.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.error, StoreError::TransactionCanceled { .. })
    }

    /// The store's error, for the questions it answers (`calls_for_another_round` ...).
    pub fn store_error(&self) -> &StoreError {
        &self.error
    }

    pub fn into_store_error(self) -> StoreError {
        self.error
    }
}

/// As the store's error reads: logs say what the engine answered.
impl<N> fmt::Display for TxFailure<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl<N> From<TxFailure<N>> for crate::error::Error {
    fn from(failure: TxFailure<N>) -> Self {
        failure.error.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Op {
        First,
        Second,
        Third,
    }

    fn check(pk: &str) -> TxOp {
        TxOp::Check {
            key: super::super::Key::new(pk, "A"),
            condition: super::super::Condition::item_present(),
        }
    }

    fn names() -> Vec<Op> {
        Transaction::new()
            .with(Op::First, check("1"))
            .with(Op::Second, check("2"))
            .with(Op::Third, check("3"))
            .names
    }

    #[test]
    fn a_cancellation_names_the_operation_pushed_at_the_failed_position() {
        let cancelled = StoreError::TransactionCanceled {
            reasons: vec![
                CancelReason::None,
                CancelReason::ConditionFailed,
                CancelReason::Conflict,
            ],
        };
        let failure = TxFailure::new(&names(), cancelled);
        assert!(failure.condition_failed(Op::Second));
        assert!(!failure.condition_failed(Op::First));
        assert!(!failure.condition_failed(Op::Third));
        assert_eq!(failure.first_failed_condition(), Some(Op::Second));
        assert!(failure.is_cancelled());
    }

    #[test]
    fn every_failed_condition_is_reported_in_push_order() {
        let cancelled = StoreError::TransactionCanceled {
            reasons: vec![
                CancelReason::None,
                CancelReason::ConditionFailed,
                CancelReason::ConditionFailed,
            ],
        };
        let failure = TxFailure::new(&names(), cancelled);
        assert_eq!(failure.first_failed_condition(), Some(Op::Second));
        assert!(failure.condition_failed(Op::Third));
    }

    #[test]
    fn conflicts_and_other_errors_name_no_operation() {
        let conflict = StoreError::TransactionCanceled {
            reasons: vec![CancelReason::Conflict; 3],
        };
        let failure = TxFailure::new(&names(), conflict);
        assert!(failure.is_cancelled() && !failure.any_condition_failed());

        let timeout = TxFailure::new(&names(), StoreError::Unavailable("timeout".into()));
        assert!(!timeout.is_cancelled() && !timeout.any_condition_failed());
        assert!(timeout.store_error().may_have_applied());
    }

    /// Through a real engine: the second operation's condition fails, and its name comes back.
    #[cfg(feature = "local")]
    #[tokio::test]
    async fn an_engine_cancellation_comes_back_under_the_failed_operations_name() {
        use super::super::embedded::EmbeddedTable;
        use super::super::{Condition, Key};

        let dir = tempfile::tempdir().unwrap();
        let clock = std::sync::Arc::new(crate::clock::ManualClock::starting_now());
        let table = EmbeddedTable::open(dir.path(), clock).unwrap();
        table.put(Key::new("1", "A").to_item(), None).await.unwrap();
        table.put(Key::new("3", "A").to_item(), None).await.unwrap();

        let transaction = Transaction::new()
            .with(Op::First, check("1"))
            .with(
                Op::Second,
                TxOp::Put {
                    item: Key::new("2", "A").to_item(),
                    condition: Some(Condition::item_present()),
                },
            )
            .with(Op::Third, check("3"));
        let failure = transaction.commit(&table).await.unwrap_err();
        assert_eq!(failure.first_failed_condition(), Some(Op::Second));
        assert!(
            table
                .get(&Key::new("2", "A"), true)
                .await
                .unwrap()
                .is_none()
        );
    }
}
