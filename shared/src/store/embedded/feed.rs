//! The embedded engine's change feed (`store::stream`): the new event items SQLite's trigger
//! wrote to the `changes` table, read in order and trimmed once applied. Opened on its own
//! connection beside the table, by the process that applies the feed (`accounts-local`, the
//! tests).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, params};

use super::rows::sql_error;
use super::{BUSY_TIMEOUT, FILE_NAME, connect, lock};
use crate::store::stream::StreamRecord;
use crate::store::{Item, StoreError, StoreResult};

/// A reader of the change feed of the table in one data directory.
pub struct ChangeFeed {
    conn: Mutex<Connection>,
}

impl ChangeFeed {
    /// Opens the feed of the table in `data_dir` (the table must have been opened once, which
    /// creates the feed).
    pub fn open(data_dir: &Path) -> StoreResult<ChangeFeed> {
        let conn = connect(&data_dir.join(FILE_NAME), BUSY_TIMEOUT)?;
        Ok(ChangeFeed {
            conn: Mutex::new(conn),
        })
    }

    /// Up to `limit` records after `after` (a record id), oldest first. A record's id is its
    /// sequence number, 20 digits.
    pub fn read(&self, after: Option<&str>, limit: u32) -> StoreResult<Vec<StreamRecord>> {
        let after: i64 = after.and_then(|a| a.parse().ok()).unwrap_or(0);
        let conn = lock(&self.conn);
        let mut stmt = conn
            .prepare_cached("SELECT seq, body FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .map_err(sql_error)?;
        let rows = stmt
            .query_map(params![after, limit], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(sql_error)?;
        let mut records = Vec::new();
        for row in rows {
            let (seq, body) = row.map_err(sql_error)?;
            let item: Item = serde_json::from_str(&body)
                .map_err(|e| StoreError::Backend(format!("unreadable feed record {seq}: {e}")))?;
            records.push(StreamRecord {
                id: format!("{seq:020}"),
                item,
            });
        }
        Ok(records)
    }

    /// Removes the records up to `upto` (a record id), once applied.
    pub fn trim(&self, upto: &str) -> StoreResult<()> {
        let upto: i64 = upto
            .parse()
            .map_err(|_| StoreError::Validation(format!("not a feed record id: {upto}")))?;
        lock(&self.conn)
            .execute("DELETE FROM changes WHERE seq <= ?1", params![upto])
            .map_err(sql_error)?;
        Ok(())
    }
}
