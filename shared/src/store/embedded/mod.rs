//! The embedded engine: the single table in SQLite (`<data_dir>/accounts.sqlite3`), with the
//! port's DynamoDB semantics.
//!
//! - Durability: WAL with `synchronous = FULL`, so a commit has reached the disk before a write
//!   returns.
//! - Concurrency: writes go through one connection per instance, each in a `BEGIN IMMEDIATE`
//!   transaction that reads the current items, evaluates conditions with the port's own
//!   [`Condition::matches`] and [`Update::apply`], then writes. SQLite's write lock serialises
//!   writers across instances and processes (an admin command next to `accounts-local`); a
//!   writer that cannot get it within the busy timeout gets [`StoreError::Throttled`]. Reads
//!   use a small pool of connections; WAL readers see the last commit and never block writers.
//! - Blocking SQLite calls run on tokio's blocking pool.

mod feed;
pub use feed::ChangeFeed;
mod pages;
mod rows;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, TransactionBehavior, params};

use self::rows::{Row, load, load_live, remove, segment_of, sql_error};
use crate::clock::Clock;
use crate::store::keys::health_probe;
use crate::store::limits::{Sizing, check_key, check_transaction, check_update};
use crate::store::*;

/// The database file in the data dir.
pub const FILE_NAME: &str = "accounts.sqlite3";

/// How long a writer waits for another connection's write lock before giving up as throttled.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;

/// Idle read connections kept for reuse; more are opened under load and closed after.
const MAX_IDLE_READERS: usize = 8;

/// Expired items are removed a little at a time on the write path, so the file does not grow
/// forever: after every `PURGE_EVERY`th commit of an instance (and when it opens), at most
/// `PURGE_BATCH` items that expired more than `PURGE_GRACE_SECONDS` ago are deleted. Reads hide
/// expired items at once; the grace keeps a just-expired item visible to conditions for a
/// while, as DynamoDB's late TTL deletion does.
const PURGE_EVERY: u64 = 64;
const PURGE_BATCH: u32 = 256;
const PURGE_GRACE_SECONDS: i64 = 3600;

/// The embedded engine. Cheap to share behind an `Arc`; every clone of the port uses the same
/// connections.
pub struct EmbeddedTable {
    db: Arc<Db>,
    clock: Arc<dyn Clock>,
}

struct Db {
    path: PathBuf,
    busy_timeout: Duration,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    commits: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a connection leaves nothing half-done that SQLite does not undo.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EmbeddedTable {
    /// Opens (creating if needed) the table in `data_dir`.
    pub fn open(data_dir: &Path, clock: Arc<dyn Clock>) -> StoreResult<Self> {
        Self::open_with(data_dir, clock, BUSY_TIMEOUT)
    }

    fn open_with(
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        busy_timeout: Duration,
    ) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Backend(format!(
                "cannot create data dir {}: {e}",
                data_dir.display()
            ))
        })?;
        let path = data_dir.join(FILE_NAME);
        let mut writer = connect(&path, busy_timeout)?;
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(sql_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "{} cannot use write-ahead logging (journal mode {mode})",
                path.display()
            )));
        }
        writer
            .pragma_update(None, "synchronous", "FULL")
            .map_err(sql_error)?;
        migrate(&mut writer, &path)?;
        let db = Db {
            path,
            busy_timeout,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            commits: AtomicU64::new(0),
        };
        db.purge(&lock(&db.writer), clock.epoch_seconds());
        Ok(EmbeddedTable {
            db: Arc::new(db),
            clock,
        })
    }

    /// Reads run inline on the calling task: in WAL mode a reader never waits for the writer,
    /// and a read costs microseconds, far less than the two thread wake-ups of a hop to the
    /// blocking pool (a third of the CPU of `GET /api/auth/me/` went to those). Writes, which
    /// can wait for another process's lock, still go to the blocking pool.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.db.read(f)
    }

    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let db = self.db.clone();
        let now = self.clock.epoch_seconds();
        blocking(move || db.write(now, f)).await
    }
}

async fn blocking<T, F>(f: F) -> StoreResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> StoreResult<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("embedded store task failed: {e}")))?
}

fn connect(path: &Path, busy_timeout: Duration) -> StoreResult<Connection> {
    create_private(path)?;
    let conn = Connection::open(path).map_err(sql_error)?;
    conn.busy_timeout(busy_timeout).map_err(sql_error)?;
    // Page statements vary with index, sort condition, direction and cursor.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Creates the database file readable and writable by its owner only (0600), like the JWT key
/// file: it holds password hashes and every personal field. SQLite gives its `-wal` and `-shm`
/// files the main file's permissions. An existing file is left as it is.
fn create_private(path: &Path) -> StoreResult<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Backend(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

/// Creates the schema in a new file, and refuses a file made by a newer build.
fn migrate(conn: &mut Connection, path: &Path) -> StoreResult<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sql_error)?;
    match version {
        0 => {
            tx.execute_batch(rows::SCHEMA).map_err(sql_error)?;
            tx.execute_batch(rows::FEED_SCHEMA).map_err(sql_error)?;
            tx.pragma_update(None, "user_version", rows::SCHEMA_VERSION)
                .map_err(sql_error)?;
        }
        // Version 1 had no change feed: events stored before it are not fed.
        1 => {
            tx.execute_batch(rows::FEED_SCHEMA).map_err(sql_error)?;
            tx.pragma_update(None, "user_version", rows::SCHEMA_VERSION)
                .map_err(sql_error)?;
        }
        rows::SCHEMA_VERSION => {}
        newer => {
            return Err(StoreError::Backend(format!(
                "{} has schema version {newer}; this build knows version {}",
                path.display(),
                rows::SCHEMA_VERSION
            )));
        }
    }
    tx.commit().map_err(sql_error)
}

impl Db {
    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let idle = lock(&self.readers).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = connect(&self.path, self.busy_timeout)?;
                conn.pragma_update(None, "query_only", true)
                    .map_err(sql_error)?;
                conn
            }
        };
        let out = f(&conn);
        // A connection left inside a transaction, or one that failed oddly, is not reused.
        if conn.is_autocommit() && !matches!(out, Err(StoreError::Backend(_))) {
            let mut idle = lock(&self.readers);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
        out
    }

    /// Runs `f` in an immediate transaction on the writer connection and commits if it succeeds.
    fn write<T>(&self, now: i64, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = lock(&self.writer);
        if !conn.is_autocommit() {
            // Only a failed rollback leaves a transaction open; close it before going on.
            conn.execute_batch("ROLLBACK").map_err(sql_error)?;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_error)?;
        // Dropping the transaction on error rolls it back.
        let out = f(&tx)?;
        tx.commit().map_err(sql_error)?;
        if self.commits.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY == PURGE_EVERY - 1 {
            self.purge(&conn, now);
        }
        Ok(out)
    }

    /// Best effort: a purge that fails (another process holds the lock) is tried again later.
    fn purge(&self, conn: &Connection, now: i64) {
        let cutoff = now.saturating_sub(PURGE_GRACE_SECONDS);
        match rows::purge_expired(conn, cutoff, PURGE_BATCH) {
            Ok(0) => {}
            Ok(n) => tracing::debug!(removed = n, "embedded store: purged expired items"),
            Err(e) => tracing::warn!(error = %e, "embedded store: purging expired items failed"),
        }
    }
}

/// A transaction operation after the checks that need no stored data ([`check_transaction`]).
enum Planned {
    Put(Row, Option<Condition>),
    Update(Key, Update, Option<Condition>),
    Delete(Key, Option<Condition>),
    Check(Key, Condition),
}

impl Planned {
    fn new(op: TxOp) -> StoreResult<Planned> {
        Ok(match op {
            TxOp::Put { item, condition } => Planned::Put(Row::encode(&item)?, condition),
            TxOp::Update {
                key,
                update,
                condition,
            } => Planned::Update(key, update, condition),
            TxOp::Delete { key, condition } => Planned::Delete(key, condition),
            TxOp::Check { key, condition } => Planned::Check(key, condition),
        })
    }

    fn key(&self) -> &Key {
        match self {
            Planned::Put(row, _) => &row.key,
            Planned::Update(key, ..) | Planned::Delete(key, _) | Planned::Check(key, _) => key,
        }
    }

    fn condition(&self) -> Option<&Condition> {
        match self {
            Planned::Put(_, c) | Planned::Update(_, _, c) | Planned::Delete(_, c) => c.as_ref(),
            Planned::Check(_, c) => Some(c),
        }
    }
}

/// What one transaction operation writes once every condition has held.
enum Effect<'a> {
    Store(&'a Row),
    StoreNew(Row),
    Remove(&'a Key),
    Nothing,
}

/// Evaluates every operation against the items as stored before the transaction, then writes
/// all of them or none.
fn run_transaction(conn: &Connection, ops: &[Planned]) -> StoreResult<()> {
    let mut reasons = Vec::with_capacity(ops.len());
    let mut effects = Vec::with_capacity(ops.len());
    for op in ops {
        let current = load(conn, op.key())?;
        if op.condition().is_some_and(|c| !c.matches(current.as_ref())) {
            reasons.push(CancelReason::ConditionFailed);
            continue;
        }
        let effect = match op {
            Planned::Put(row, _) => Effect::Store(row),
            Planned::Update(key, update, _) => {
                let mut item = current.unwrap_or_else(|| key.to_item());
                match update.apply(&mut item) {
                    Ok(()) => Effect::StoreNew(Row::encode(&item)?),
                    // DynamoDB cancels the transaction when an update does not fit the stored
                    // item (ADD to a string, say), naming a validation error for that item.
                    Err(StoreError::Validation(_)) => {
                        reasons.push(CancelReason::Other("ValidationError".into()));
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            Planned::Delete(key, _) => Effect::Remove(key),
            Planned::Check(..) => Effect::Nothing,
        };
        reasons.push(CancelReason::None);
        effects.push(effect);
    }
    if reasons.iter().any(|r| *r != CancelReason::None) {
        return Err(StoreError::TransactionCanceled { reasons });
    }
    for effect in effects {
        match effect {
            Effect::Store(row) => row.store(conn)?,
            Effect::StoreNew(row) => row.store(conn)?,
            Effect::Remove(key) => remove(conn, key)?,
            Effect::Nothing => {}
        }
    }
    Ok(())
}

#[async_trait]
impl Table for EmbeddedTable {
    fn engine(&self) -> &'static str {
        "embedded"
    }

    async fn get(&self, key: &Key, _consistent: bool) -> StoreResult<Option<Item>> {
        // Every read sees the last commit: WAL reads are strongly consistent.
        check_key(key)?;
        let key = key.clone();
        let now = self.clock.epoch_seconds();
        self.read(move |conn| load_live(conn, &key, now)).await
    }

    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        keys.iter().try_for_each(check_key)?;
        let keys = keys.to_vec();
        let now = self.clock.epoch_seconds();
        self.read(move |conn| {
            // One snapshot for all the keys; dropping the read transaction ends it.
            let _snapshot = conn.unchecked_transaction().map_err(sql_error)?;
            keys.iter().map(|key| load_live(conn, key, now)).collect()
        })
        .await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        let row = Row::encode(&item)?;
        self.write(move |conn| {
            if let Some(condition) = condition {
                let current = load(conn, &row.key)?;
                if !condition.matches(current.as_ref()) {
                    return Err(StoreError::ConditionFailed);
                }
            }
            row.store(conn)
        })
        .await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item> {
        check_update(key, &update)?;
        let key = key.clone();
        self.write(move |conn| {
            let current = load(conn, &key)?;
            if condition.is_some_and(|c| !c.matches(current.as_ref())) {
                return Err(StoreError::ConditionFailed);
            }
            let mut item = current.unwrap_or_else(|| key.to_item());
            update.apply(&mut item)?;
            Row::encode(&item)?.store(conn)?;
            Ok(item)
        })
        .await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>> {
        check_key(key)?;
        let key = key.clone();
        self.write(move |conn| {
            let current = load(conn, &key)?;
            if condition.is_some_and(|c| !c.matches(current.as_ref())) {
                return Err(StoreError::ConditionFailed);
            }
            if current.is_some() {
                remove(conn, &key)?;
            }
            Ok(current)
        })
        .await
    }

    async fn query(&self, query: Query) -> StoreResult<Page> {
        let sql = pages::query_sql(&query, self.clock.epoch_seconds())?;
        self.read(move |conn| pages::read_page(conn, sql)).await
    }

    /// The token is not kept: a transaction here runs in this process and its answer cannot
    /// be lost, so there is never a retry of one that applied.
    async fn transact_write_try(
        &self,
        ops: Vec<TxOp>,
        _token: &IdempotencyToken,
    ) -> StoreResult<()> {
        if ops.is_empty() {
            return Ok(());
        }
        check_transaction(&ops, Sizing::Documented)?;
        let planned = ops
            .into_iter()
            .map(Planned::new)
            .collect::<StoreResult<Vec<_>>>()?;
        self.write(move |conn| run_transaction(conn, &planned))
            .await
    }

    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        let sql = pages::scan_sql(&scan, self.clock.epoch_seconds())?;
        self.read(move |conn| pages::read_page(conn, sql)).await
    }

    async fn health(&self) -> StoreResult<()> {
        let probe = health_probe();
        self.read(move |conn| {
            conn.query_row(
                "SELECT count(*) FROM items WHERE seg = ?1 AND pk = ?2 AND sk = ?3",
                params![segment_of(&probe.pk), probe.pk, probe.sk],
                |row| row.get::<_, i64>(0),
            )
            .map(drop)
            .map_err(sql_error)
        })
        .await
    }
}
