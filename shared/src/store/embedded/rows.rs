//! How an item becomes a row and back.

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use crate::store::keys::{Index, attr};
use crate::store::limits::{Sizing, check_item};
use crate::store::{Item, Key, StoreError, StoreResult, Value};

/// The table and its indexes. Key columns are TEXT with SQLite's default BINARY collation,
/// which orders by UTF-8 bytes as DynamoDB orders sort keys.
pub(super) const SCHEMA: &str = "
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        seg INTEGER NOT NULL,
        pk TEXT NOT NULL,
        sk TEXT NOT NULL,
        gsi1pk TEXT,
        gsi1sk TEXT,
        gsi2pk TEXT,
        gsi2sk TEXT,
        expires_at INTEGER,
        body TEXT NOT NULL
    );
    CREATE UNIQUE INDEX items_key ON items (seg, pk, sk);
    CREATE INDEX items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
    CREATE INDEX items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk) WHERE gsi2pk IS NOT NULL;
    CREATE INDEX items_expiry ON items (expires_at) WHERE expires_at IS NOT NULL;
";

/// The change feed (version 2): every new event item, written by a trigger in the same
/// transaction as the item, read and trimmed by `ChangeFeed` (`store::stream`). An upsert that
/// replaces an item does not fire `AFTER INSERT`, so only new items are fed, as DynamoDB
/// Streams' `INSERT` records are. The prefix is `store::stream::STREAMED_PREFIX`.
pub(super) const FEED_SCHEMA: &str = "
    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        body TEXT NOT NULL
    );
    CREATE TRIGGER items_feed AFTER INSERT ON items
    WHEN substr(NEW.sk, 1, 6) = 'EVENT#'
    BEGIN
        INSERT INTO changes (body) VALUES (NEW.body);
    END;
";

/// The schema version kept in `PRAGMA user_version`.
pub(super) const SCHEMA_VERSION: i64 = 2;

/// The scan segment hash of a partition key. It is stored, so it must stay the same across
/// builds and platforms: 32-bit FNV-1a, then MurmurHash3's finalizer, because FNV-1a alone
/// barely moves the high bits (which pick the segment) when keys differ in their last bytes
/// (`USER#1`, `USER#2`). Keeping a partition in one segment is what DynamoDB does.
pub(super) fn segment_of(pk: &str) -> i64 {
    i64::from(avalanche(fnv1a(pk.as_bytes())))
}

pub(super) fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash: u32, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

/// MurmurHash3's `fmix32`: every input bit flips each output bit with probability near 1/2.
pub(super) fn avalanche(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// The half-open range of hashes that segment `segment` of `total` covers; the ranges of one
/// `total` tile `[0, 2^32)`.
pub(super) fn segment_range(segment: u32, total: u32) -> (i64, i64) {
    let span = 1u64 << 32;
    let bound = |s: u64| (s * span / u64::from(total)) as i64;
    (bound(u64::from(segment)), bound(u64::from(segment) + 1))
}

/// SQLite's errors as the port's: a lock held too long by another connection or process is
/// worth retrying, anything else is not.
pub(super) fn sql_error(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Throttled(format!("embedded store busy: {e}"))
        }
        _ => StoreError::Backend(format!("embedded store: {e}")),
    }
}

/// An item ready to store: validated, with the columns SQLite indexes.
#[derive(Debug)]
pub(super) struct Row {
    pub key: Key,
    seg: i64,
    gsi: [Option<(String, String)>; 2],
    expires_at: Option<i64>,
    body: String,
}

impl Row {
    /// Validates an item the way DynamoDB validates a written item and encodes it.
    pub fn encode(item: &Item) -> StoreResult<Row> {
        let key = check_item(item, Sizing::Documented)?;
        // Sparse, like a GSI: only items with both index key attributes are in it (the check
        // made sure that those present are strings).
        let gsi = Index::GSIS.map(|index| {
            let (pk_attr, sk_attr) = index.key_attrs();
            let pk = item.get(pk_attr).and_then(Value::as_str)?;
            let sk = item.get(sk_attr).and_then(Value::as_str)?;
            Some((pk.to_owned(), sk.to_owned()))
        });
        let expires_at = item.get(attr::EXPIRES_AT).and_then(Value::as_i64);
        let body = serde_json::to_string(item)
            .map_err(|e| StoreError::Validation(format!("item cannot be encoded: {e}")))?;
        Ok(Row {
            seg: segment_of(&key.pk),
            key,
            gsi,
            expires_at,
            body,
        })
    }

    /// Inserts the row, replacing the item with the same key.
    pub fn store(&self, conn: &Connection) -> StoreResult<()> {
        let mut stmt = conn
            .prepare_cached(
                "INSERT INTO items (seg, pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, expires_at, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (seg, pk, sk) DO UPDATE SET
                    gsi1pk = excluded.gsi1pk, gsi1sk = excluded.gsi1sk,
                    gsi2pk = excluded.gsi2pk, gsi2sk = excluded.gsi2sk,
                    expires_at = excluded.expires_at, body = excluded.body",
            )
            .map_err(sql_error)?;
        let [g1, g2] = &self.gsi;
        stmt.execute(params![
            self.seg,
            self.key.pk,
            self.key.sk,
            g1.as_ref().map(|g| &g.0),
            g1.as_ref().map(|g| &g.1),
            g2.as_ref().map(|g| &g.0),
            g2.as_ref().map(|g| &g.1),
            self.expires_at,
            self.body,
        ])
        .map_err(sql_error)?;
        Ok(())
    }
}

/// Reads a stored body back.
pub(super) fn decode(body: &str) -> StoreResult<Item> {
    serde_json::from_str(body)
        .map_err(|e| StoreError::Backend(format!("embedded store: unreadable item: {e}")))
}

/// The stored item with this key, expired or not (what conditions see).
pub(super) fn load(conn: &Connection, key: &Key) -> StoreResult<Option<Item>> {
    let mut stmt = conn
        .prepare_cached("SELECT body FROM items WHERE seg = ?1 AND pk = ?2 AND sk = ?3")
        .map_err(sql_error)?;
    let body: Option<String> = stmt
        .query_row(params![segment_of(&key.pk), key.pk, key.sk], |row| {
            row.get(0)
        })
        .optional()
        .map_err(sql_error)?;
    body.as_deref().map(decode).transpose()
}

/// The item with this key unless it has expired at `now` (what reads see).
pub(super) fn load_live(conn: &Connection, key: &Key, now: i64) -> StoreResult<Option<Item>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT body FROM items WHERE seg = ?1 AND pk = ?2 AND sk = ?3
             AND (expires_at IS NULL OR expires_at > ?4)",
        )
        .map_err(sql_error)?;
    let body: Option<String> = stmt
        .query_row(params![segment_of(&key.pk), key.pk, key.sk, now], |row| {
            row.get(0)
        })
        .optional()
        .map_err(sql_error)?;
    body.as_deref().map(decode).transpose()
}

pub(super) fn remove(conn: &Connection, key: &Key) -> StoreResult<()> {
    let mut stmt = conn
        .prepare_cached("DELETE FROM items WHERE seg = ?1 AND pk = ?2 AND sk = ?3")
        .map_err(sql_error)?;
    stmt.execute(params![segment_of(&key.pk), key.pk, key.sk])
        .map_err(sql_error)?;
    Ok(())
}

/// Deletes at most `batch` items that expired at or before `cutoff`; returns how many.
pub(super) fn purge_expired(conn: &Connection, cutoff: i64, batch: u32) -> StoreResult<usize> {
    let mut stmt = conn
        .prepare_cached(
            "DELETE FROM items WHERE id IN
             (SELECT id FROM items WHERE expires_at <= ?1 LIMIT ?2)",
        )
        .map_err(sql_error)?;
    stmt.execute(params![cutoff, batch]).map_err(sql_error)
}
