//! The single-table store: the port ([`Table`]), its value model, the key schema, and the two
//! engines (DynamoDB through the AWS SDK, embedded SQLite).

pub mod counting;
pub mod dynamo;
#[cfg(feature = "local")]
pub mod embedded;
pub mod faults;
pub mod heat;
pub mod keys;
#[cfg(test)]
mod keys_table;
pub mod latency;
mod limits;
pub mod retry;
pub mod stream;
pub mod table;
pub mod transaction;
pub mod value;

pub use keys::Index;
pub use table::{
    CancelReason, Condition, Cursor, IdempotencyToken, Key, MAX_TRANSACTION_OPS, Page, Query, Scan,
    SortCondition, StoreError, StoreResult, Table, TxOp, Update, UpdateAction, is_expired,
};
pub use transaction::{Transaction, TxFailure};
pub use value::{Item, ItemShapeError, Value, from_item, to_item};
