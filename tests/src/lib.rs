//! The harness of the black-box tests: every test runs once per storage engine.
//!
//! [`both_engines!`] turns one async test body into a module with two tests, `embedded` and
//! `dynamodb`, so a failure names the engine. Each run gets a fresh table of its own
//! ([`TestTable`]): a new SQLite database in a temporary directory, or a new DynamoDB table
//! named `t-<ulid>` on moto (started by `scripts/test`), so tests run in parallel without
//! seeing each other's items. Time is a [`ManualClock`] the test moves by hand.
//!
//! ```text
//! use api_tests::{TestTable, both_engines};
//!
//! both_engines!(async fn put_then_get(t: TestTable) {
//!     t.put(Key::new("a", "b").to_item(), None).await.unwrap();
//!     assert!(t.get(&Key::new("a", "b"), true).await.unwrap().is_some());
//! });
//! ```

pub mod app;
pub mod fixtures;
pub mod lost_answers;
pub mod moto;
pub mod stream;

use std::fmt;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use accounts::clock::{Clock, ManualClock};
use accounts::store::Table;
use accounts::store::dynamo::DynamoTable;
use accounts::store::embedded::EmbeddedTable;
use tempfile::TempDir;

/// The storage engines every black-box test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Embedded,
    DynamoDb,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Embedded => "embedded",
            Engine::DynamoDb => "dynamodb",
        })
    }
}

/// A fresh table for one test, with its clock and a scratch directory.
///
/// It dereferences to the [`Table`] port, so a test calls `t.get(..)`, `t.put(..)` directly;
/// [`TestTable::table`] hands out the `Arc` for spawned tasks (or for building an `App`).
/// Dropping it removes the temporary directory and, for DynamoDB, deletes the table.
pub struct TestTable {
    table: Arc<dyn Table>,
    clock: Arc<ManualClock>,
    engine: Engine,
    /// The embedded engine's data dir; for DynamoDB a scratch dir (an outbox, say). Declared
    /// after `table` so the database is closed before its directory goes.
    dir: TempDir,
    dynamo_table_name: Option<String>,
    /// The DynamoDB engine itself (its stream), `None` for the embedded engine.
    dynamo: Option<Arc<DynamoTable>>,
    /// How far each DynamoDB stream shard has been applied (`stream::apply_stream`).
    pub(crate) stream_positions: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl TestTable {
    /// The table, to share with spawned tasks or an `App`.
    pub fn table(&self) -> Arc<dyn Table> {
        self.table.clone()
    }

    /// The test's clock: advance it to make time pass for the table (and anything built on it).
    pub fn clock(&self) -> &Arc<ManualClock> {
        &self.clock
    }

    /// The clock as the port type, for building an `App` or anything else that takes one.
    pub fn dyn_clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The clock's now, in epoch seconds (the unit of `expires_at`).
    pub fn now_epoch(&self) -> i64 {
        self.clock.epoch_seconds()
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// A directory that lives as long as the table (the embedded engine's data dir).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The DynamoDB engine (`None` for the embedded engine).
    pub fn dynamo(&self) -> Option<&Arc<DynamoTable>> {
        self.dynamo.as_ref()
    }

    /// The DynamoDB table's name (`None` for the embedded engine).
    pub fn dynamo_table_name(&self) -> Option<&str> {
        self.dynamo_table_name.as_deref()
    }
}

impl Deref for TestTable {
    type Target = dyn Table;

    fn deref(&self) -> &Self::Target {
        &*self.table
    }
}

impl Drop for TestTable {
    fn drop(&mut self) {
        if let Some(name) = self.dynamo_table_name.take() {
            delete_dynamo_table(name);
        }
    }
}

/// Builds a fresh, empty table on `engine` with a [`ManualClock`] starting at the real now.
///
/// Panics (the test fails) when the engine cannot be set up; for DynamoDB that includes moto
/// not running, since a skipped run must never pass for a green one.
pub async fn test_table(engine: Engine) -> TestTable {
    let clock = Arc::new(ManualClock::starting_now());
    let dir = tempfile::tempdir().expect("create a temporary directory");
    match engine {
        Engine::Embedded => {
            let table = EmbeddedTable::open(dir.path(), clock.clone())
                .unwrap_or_else(|e| panic!("open the embedded table: {e}"));
            TestTable {
                table: Arc::new(table),
                clock,
                engine,
                dir,
                dynamo_table_name: None,
                dynamo: None,
                stream_positions: Default::default(),
            }
        }
        Engine::DynamoDb => {
            require_moto();
            let name = format!("t-{}", ulid::Ulid::new());
            let sdk = crate::moto::sdk_config().await;
            let table = Arc::new(DynamoTable::new(&sdk, name.clone(), clock.clone()));
            // No stream unless a test turns it on (`TestTable::enable_stream`): moto keeps
            // every stream record in memory, and most tests never read one.
            match table.create_table_with_stream(false).await {
                Ok(_) => {}
                Err(e) => {
                    // A half-made table is still worth removing.
                    delete_dynamo_table(name.clone());
                    panic!("create DynamoDB table {name} on moto: {e}");
                }
            }
            TestTable {
                table: table.clone(),
                clock,
                engine,
                dir,
                dynamo_table_name: Some(name),
                dynamo: Some(table),
                stream_positions: Default::default(),
            }
        }
    }
}

/// Panics with the one message that tells the reader what to run instead.
fn require_moto() {
    let set = std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| !v.trim().is_empty());
    if !set {
        panic!("moto is not running: AWS_ENDPOINT_URL is unset; run scripts/test");
    }
}

/// Best-effort removal of a test's DynamoDB table, bounded in time; moto forgets everything
/// when it stops anyway, so a failure here only costs memory until then.
///
/// `Drop` cannot await, and the test's runtime may be single-threaded or already winding
/// down, so the call runs on a thread of its own with a small runtime and its own client.
fn delete_dynamo_table(name: String) {
    let worker = std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            let sdk = crate::moto::sdk_config().await;
            let client = aws_sdk_dynamodb::Client::new(&sdk);
            let delete = client.delete_table().table_name(name).send();
            let _ = tokio::time::timeout(Duration::from_secs(5), delete).await;
        });
    });
    let _ = worker.join();
}

/// Runs one async test body on one engine: `both_engines!` expands to two tests that call
/// this, one per engine.
pub async fn run_on<F, Fut>(engine: Engine, body: F)
where
    F: FnOnce(TestTable) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    body(test_table(engine).await).await;
}

/// Declares tests that run on both engines, in one of two forms.
///
/// By name, for async functions declared as usual (rustfmt formats them; a function left out
/// of the list is dead code, which clippy rejects):
///
/// ```text
/// async fn put_then_get(t: TestTable) {
///     // `t` derefs to `dyn Table`; `t.clock()` is the ManualClock; `t.table()` the Arc.
/// }
/// both_engines!(put_then_get, another_test);
/// ```
///
/// Or inline, one or more functions in one invocation:
///
/// ```text
/// both_engines!(async fn put_then_get(t: TestTable) { /* ... */ });
/// ```
///
/// Either way each name becomes a module with two tests, `embedded` and `dynamodb`, on a
/// two-worker multi-thread runtime, so `cargo test put_then_get::dynamodb` runs one of them.
/// The test file needs `tokio` (a dependency of this crate); the inline form does
/// `use super::*`, so the body sees the file's imports.
#[macro_export]
macro_rules! both_engines {
    ($($(#[$meta:meta])* async fn $name:ident($arg:ident: $ty:ty) $body:block)+) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn body($arg: $ty) $body

                $crate::both_engines!(@tests body);
            }
        )+
    };
    (@tests $path:path) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn embedded() {
            $crate::run_on($crate::Engine::Embedded, $path).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn dynamodb() {
            $crate::run_on($crate::Engine::DynamoDb, $path).await;
        }
    };
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                $crate::both_engines!(@tests super::$name);
            }
        )+
    };
}
