//! How an item becomes a row and back, and the checks DynamoDB would make on the way in.

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use crate::store::keys::{Index, attr};
use crate::store::{Item, Key, StoreError, StoreResult, Update, UpdateAction, Value};

/// DynamoDB's limits on key attribute values, in UTF-8 bytes.
const MAX_PARTITION_KEY_BYTES: usize = 2048;
const MAX_SORT_KEY_BYTES: usize = 1024;
/// DynamoDB's limit on one item, measured as DynamoDB measures it ([`item_size`]).
const MAX_ITEM_BYTES: usize = 400 * 1024;
/// DynamoDB's limit on nested lists and maps. It also keeps the JSON body well inside
/// serde_json's recursion limit, so whatever is written can be read back.
const MAX_NESTING: usize = 32;

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

/// The schema version kept in `PRAGMA user_version`.
pub(super) const SCHEMA_VERSION: i64 = 1;

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

fn validation(msg: impl Into<String>) -> StoreError {
    StoreError::Validation(msg.into())
}

/// Checks a key as DynamoDB checks key attribute values: non-empty, within the size limits.
pub(super) fn check_key(key: &Key) -> StoreResult<()> {
    check_key_value(attr::PK, &key.pk, MAX_PARTITION_KEY_BYTES)?;
    check_key_value(attr::SK, &key.sk, MAX_SORT_KEY_BYTES)
}

fn check_key_value(name: &str, value: &str, max: usize) -> StoreResult<()> {
    if value.is_empty() {
        return Err(validation(format!(
            "key attribute {name} cannot be an empty string"
        )));
    }
    if value.len() > max {
        return Err(validation(format!(
            "key attribute {name} is longer than {max} bytes"
        )));
    }
    Ok(())
}

/// An item's size by DynamoDB's rules: attribute names and strings count their UTF-8 bytes,
/// a number one byte per two significant digits plus one, a boolean or null one byte, a list
/// or map three bytes plus one per element (a map's element names count too).
pub(super) fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &Value) -> usize {
    match value {
        Value::S(s) => s.len(),
        Value::Int(n) => number_size(&n.to_string()),
        Value::Float(f) => number_size(&format!("{f:e}")),
        Value::Bool(_) | Value::Null => 1,
        Value::L(items) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        Value::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        Value::Ss(set) => set.iter().map(String::len).sum(),
    }
}

/// The size of a number from its decimal form: its significant digits, halved, plus one.
fn number_size(decimal: &str) -> usize {
    let mantissa = decimal.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits
        .trim_start_matches('0')
        .trim_end_matches('0')
        .len()
        .max(1);
    significant.div_ceil(2) + 1
}

fn check_value(name: &str, value: &Value, depth: usize) -> StoreResult<()> {
    if depth > MAX_NESTING {
        return Err(validation(format!(
            "attribute {name} nests deeper than {MAX_NESTING}"
        )));
    }
    match value {
        Value::Float(f) if !f.is_finite() => Err(validation(format!(
            "attribute {name}: NaN and infinity are not numbers"
        ))),
        Value::Ss(set) if set.is_empty() => Err(validation(format!(
            "attribute {name}: a string set cannot be empty"
        ))),
        Value::L(items) => items
            .iter()
            .try_for_each(|v| check_value(name, v, depth + 1)),
        Value::M(map) => map
            .values()
            .try_for_each(|v| check_value(name, v, depth + 1)),
        _ => Ok(()),
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
        let key = Key::of(item).ok_or_else(|| validation("an item needs string PK and SK"))?;
        check_key(&key)?;
        for (name, value) in item {
            if name.is_empty() {
                return Err(validation("attribute names cannot be empty"));
            }
            check_value(name, value, 0)?;
        }
        if item_size(item) > MAX_ITEM_BYTES {
            return Err(validation(format!(
                "the item is larger than {MAX_ITEM_BYTES} bytes"
            )));
        }
        let mut gsi = [None, None];
        for (slot, index) in gsi.iter_mut().zip(Index::GSIS) {
            let (pk_attr, sk_attr) = index.key_attrs();
            let pk = gsi_key_value(item, pk_attr, MAX_PARTITION_KEY_BYTES)?;
            let sk = gsi_key_value(item, sk_attr, MAX_SORT_KEY_BYTES)?;
            // Sparse, like a GSI: only items with both index key attributes are in it.
            if let (Some(pk), Some(sk)) = (pk, sk) {
                *slot = Some((pk.to_owned(), sk.to_owned()));
            }
        }
        let expires_at = item.get(attr::EXPIRES_AT).and_then(Value::as_i64);
        let body = serde_json::to_string(item)
            .map_err(|e| validation(format!("item cannot be encoded: {e}")))?;
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

/// A GSI key attribute: absent is fine (the item is not in the index), but present it must be a
/// non-empty string, as the table declares every key attribute `S`.
fn gsi_key_value<'a>(item: &'a Item, name: &str, max: usize) -> StoreResult<Option<&'a str>> {
    match item.get(name) {
        None => Ok(None),
        Some(Value::S(s)) => check_key_value(name, s, max).map(|()| Some(s.as_str())),
        Some(_) => Err(validation(format!(
            "index key attribute {name} must be a string"
        ))),
    }
}

/// Checks what DynamoDB checks in an update expression before it looks at the item: key
/// attributes cannot change, one path per action, ADD takes a number.
pub(super) fn check_update(update: &Update) -> StoreResult<()> {
    let mut seen = std::collections::BTreeSet::new();
    for action in &update.actions {
        let path = match action {
            UpdateAction::Set(p, _)
            | UpdateAction::SetIfMissing(p, _)
            | UpdateAction::Remove(p) => p,
            UpdateAction::Add(p, delta) => {
                if !delta.is_number() {
                    return Err(validation(format!("ADD needs a number: attribute {p}")));
                }
                p
            }
        };
        if path.is_empty() {
            return Err(validation("attribute names cannot be empty"));
        }
        if path == attr::PK || path == attr::SK {
            return Err(validation(format!(
                "cannot update attribute {path}: it is part of the key"
            )));
        }
        if !seen.insert(path.as_str()) {
            return Err(validation(format!(
                "two actions of one update on attribute {path}"
            )));
        }
    }
    Ok(())
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
