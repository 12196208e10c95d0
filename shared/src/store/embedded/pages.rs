//! Queries and scans: the SQL for one page, and reading it with DynamoDB's paging rules.
//!
//! `Limit` counts evaluated items, before the filter, so a page may hold fewer items than the
//! limit. `next` is set when evaluation stopped before the end (the limit, or the 1 MB that
//! DynamoDB reads at most per call), and is the key of the last evaluated item. Expired items
//! are excluded in SQL, so they are never evaluated.

use std::collections::BTreeMap;

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;

use super::rows::{decode, segment_of, segment_range, sql_error};
use crate::store::keys::{Index, attr};
use crate::store::{Condition, Cursor, Page, Query, Scan, SortCondition, StoreError, StoreResult};

/// DynamoDB stops a query or scan after reading 1 MB; so does this engine, which also bounds
/// the memory one page takes.
const PAGE_BYTES: usize = 1 << 20;

/// DynamoDB's limit on parallel scan segments.
const MAX_SEGMENTS: u32 = 1_000_000;

/// One page's statement. Every statement selects `pk, sk, <index pk>, <index sk>, body`.
#[derive(Debug)]
pub(super) struct PageSql {
    pub(super) sql: String,
    pub(super) params: Vec<SqlValue>,
    /// Which key attributes the cursor holds.
    index: Index,
    limit: Option<u32>,
    filter: Option<Condition>,
}

fn malformed(why: &str) -> StoreError {
    StoreError::BadCursor(why.to_owned())
}

fn check_limit(limit: Option<u32>) -> StoreResult<()> {
    if limit == Some(0) {
        return Err(StoreError::Validation("limit must be at least 1".into()));
    }
    Ok(())
}

/// The key attributes of a cursor, checked to be exactly `names`.
fn cursor_attrs(cursor: &Cursor, names: &[&str]) -> StoreResult<BTreeMap<String, String>> {
    let attrs = cursor.key_attrs()?;
    let fits = attrs.len() == names.len() && names.iter().all(|n| attrs.contains_key(*n));
    if !fits {
        return Err(malformed("it does not belong to this index"));
    }
    Ok(attrs)
}

/// The smallest string greater than every string that starts with `prefix`, if there is one:
/// the prefix with its last character moved to the next code point. UTF-8 byte order is code
/// point order, so `prefix <= s < upper` holds exactly for the strings with that prefix.
pub(super) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A sort key condition as a range: (operator, value) at either end.
type Bound = Option<(&'static str, String)>;

fn sort_range(sort: &SortCondition) -> (Bound, Bound) {
    let at = |op: &'static str, v: &str| Some((op, v.to_owned()));
    match sort {
        SortCondition::Eq(v) => (at(">=", v), at("<=", v)),
        SortCondition::Lt(v) => (None, at("<", v)),
        SortCondition::Le(v) => (None, at("<=", v)),
        SortCondition::Gt(v) => (at(">", v), None),
        SortCondition::Ge(v) => (at(">=", v), None),
        SortCondition::BeginsWith(prefix) => (
            at(">=", prefix),
            prefix_upper_bound(prefix).map(|upper| ("<", upper)),
        ),
        // Bounds the wrong way round select nothing, as `SortCondition::matches` has it.
        SortCondition::Between(lo, hi) => (at(">=", lo), at("<=", hi)),
    }
}

/// Appends the sort key condition on column `col`. With a cursor, the cursor is where reading
/// starts, so the bound at that end is written `+col`: SQLite then cannot pick it for the
/// index range and seeks to the cursor instead of reading from the start of the range.
fn sort_clauses(
    col: &str,
    sort: &SortCondition,
    descending: bool,
    has_cursor: bool,
    clauses: &mut Vec<String>,
    params: &mut Vec<SqlValue>,
) {
    let (lower, upper) = sort_range(sort);
    for (bound, is_start) in [(lower, !descending), (upper, descending)] {
        if let Some((op, value)) = bound {
            let unary = if has_cursor && is_start { "+" } else { "" };
            clauses.push(format!("{unary}{col} {op} ?"));
            params.push(SqlValue::Text(value));
        }
    }
}

/// The statement for one page of a query.
pub(super) fn query_sql(query: &Query, now: i64) -> StoreResult<PageSql> {
    check_limit(query.limit)?;
    if query.pk.is_empty() {
        return Err(StoreError::Validation(
            "the partition key of a query cannot be empty".into(),
        ));
    }
    // Every read is consistent here, so `consistent` (DynamoDB: main index only) changes nothing.
    let (pcol, scol) = match query.index {
        Index::Primary => ("pk", "sk"),
        Index::Gsi1 => ("gsi1pk", "gsi1sk"),
        Index::Gsi2 => ("gsi2pk", "gsi2sk"),
    };
    let mut clauses = vec![format!("{pcol} = ?")];
    let mut params = vec![SqlValue::Text(query.pk.clone())];
    if query.index == Index::Primary {
        // The unique key index starts with the segment hash.
        clauses.push("seg = ?".into());
        params.push(SqlValue::Integer(segment_of(&query.pk)));
    }
    if let Some(sort) = &query.sort {
        let has_cursor = query.cursor.is_some();
        sort_clauses(
            scol,
            sort,
            query.descending,
            has_cursor,
            &mut clauses,
            &mut params,
        );
    }
    let (cmp, dir) = if query.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some(cursor) = &query.cursor {
        let (pk_attr, sk_attr) = query.index.key_attrs();
        let names: &[&str] = match query.index {
            Index::Primary => &[attr::PK, attr::SK],
            _ => &[attr::PK, attr::SK, pk_attr, sk_attr],
        };
        let mut attrs = cursor_attrs(cursor, names)?;
        if attrs.get(pk_attr) != Some(&query.pk) {
            return Err(malformed("it belongs to another partition"));
        }
        let mut take = |name: &str| SqlValue::Text(attrs.remove(name).unwrap_or_default());
        if query.index == Index::Primary {
            clauses.push(format!("sk {cmp} ?"));
            params.push(take(attr::SK));
        } else {
            // Index sort keys may repeat; the table key breaks ties, as in DynamoDB.
            clauses.push(format!("({scol}, pk, sk) {cmp} (?, ?, ?)"));
            params.extend([take(sk_attr), take(attr::PK), take(attr::SK)]);
        }
    }
    clauses.push("(expires_at IS NULL OR expires_at > ?)".into());
    params.push(SqlValue::Integer(now));
    let order = match query.index {
        Index::Primary => format!("sk {dir}"),
        _ => format!("{scol} {dir}, pk {dir}, sk {dir}"),
    };
    params.push(limit_param(query.limit));
    let sql = format!(
        "SELECT pk, sk, {pcol}, {scol}, body FROM items WHERE {} ORDER BY {order} LIMIT ?",
        clauses.join(" AND "),
    );
    Ok(PageSql {
        sql,
        params,
        index: query.index,
        limit: query.limit,
        filter: query.filter.clone(),
    })
}

/// The statement for one page of a scan segment, in (segment hash, PK, SK) order.
pub(super) fn scan_sql(scan: &Scan, now: i64) -> StoreResult<PageSql> {
    check_limit(scan.limit)?;
    if scan.total_segments == 0 || scan.total_segments > MAX_SEGMENTS {
        return Err(StoreError::Validation(format!(
            "total segments must be between 1 and {MAX_SEGMENTS}"
        )));
    }
    if scan.segment >= scan.total_segments {
        return Err(StoreError::Validation(
            "segment must be below total segments".into(),
        ));
    }
    let (lo, hi) = segment_range(scan.segment, scan.total_segments);
    let mut clauses = vec!["seg < ?".to_owned()];
    let mut params = vec![SqlValue::Integer(hi)];
    match &scan.cursor {
        Some(cursor) => {
            let mut attrs = cursor_attrs(cursor, &[attr::PK, attr::SK])?;
            let pk = attrs.remove(attr::PK).unwrap_or_default();
            let sk = attrs.remove(attr::SK).unwrap_or_default();
            let seg = segment_of(&pk);
            if !(lo..hi).contains(&seg) {
                return Err(malformed("it belongs to another segment"));
            }
            // The cursor lies inside the segment, so it is the lower bound: SQLite seeks to it.
            clauses.push("(seg, pk, sk) > (?, ?, ?)".into());
            params.extend([
                SqlValue::Integer(seg),
                SqlValue::Text(pk),
                SqlValue::Text(sk),
            ]);
        }
        None => {
            clauses.push("seg >= ?".into());
            params.push(SqlValue::Integer(lo));
        }
    }
    clauses.push("(expires_at IS NULL OR expires_at > ?)".into());
    params.push(SqlValue::Integer(now));
    params.push(limit_param(scan.limit));
    let sql = format!(
        "SELECT pk, sk, NULL, NULL, body FROM items WHERE {} ORDER BY seg, pk, sk LIMIT ?",
        clauses.join(" AND "),
    );
    Ok(PageSql {
        sql,
        params,
        index: Index::Primary,
        limit: scan.limit,
        filter: scan.filter.clone(),
    })
}

/// One row past the limit tells whether evaluation stopped before the end; -1 is no limit.
fn limit_param(limit: Option<u32>) -> SqlValue {
    SqlValue::Integer(limit.map_or(-1, |n| i64::from(n) + 1))
}

/// The key attributes of the last evaluated row, as the cursor holds them.
struct LastKey {
    pk: String,
    sk: String,
    index_pk: Option<String>,
    index_sk: Option<String>,
}

impl LastKey {
    fn cursor(self, index: Index) -> Cursor {
        let mut attrs = BTreeMap::from([
            (attr::PK.to_owned(), self.pk),
            (attr::SK.to_owned(), self.sk),
        ]);
        if index != Index::Primary {
            let (pk_attr, sk_attr) = index.key_attrs();
            attrs.insert(pk_attr.to_owned(), self.index_pk.unwrap_or_default());
            attrs.insert(sk_attr.to_owned(), self.index_sk.unwrap_or_default());
        }
        Cursor::from_key_attrs(&attrs)
    }
}

/// Runs a page statement and applies the paging rules.
pub(super) fn read_page(conn: &Connection, page: PageSql) -> StoreResult<Page> {
    let mut stmt = conn.prepare_cached(&page.sql).map_err(sql_error)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(page.params.iter()))
        .map_err(sql_error)?;
    let mut items = Vec::new();
    let mut evaluated = 0usize;
    let mut bytes = 0usize;
    let mut last: Option<LastKey> = None;
    while let Some(row) = rows.next().map_err(sql_error)? {
        let body = row
            .get_ref(4)
            .and_then(|v| Ok(v.as_str()?))
            .map_err(sql_error)?;
        let at_limit = page.limit.is_some_and(|n| evaluated as u64 == u64::from(n));
        if at_limit || (evaluated > 0 && bytes + body.len() > PAGE_BYTES) {
            return Ok(Page {
                items,
                next: last.map(|k| k.cursor(page.index)),
            });
        }
        evaluated += 1;
        bytes += body.len();
        let item = decode(body)?;
        last = Some(LastKey {
            pk: row.get(0).map_err(sql_error)?,
            sk: row.get(1).map_err(sql_error)?,
            index_pk: row.get(2).map_err(sql_error)?,
            index_sk: row.get(3).map_err(sql_error)?,
        });
        if page.filter.as_ref().is_none_or(|f| f.matches(Some(&item))) {
            items.push(item);
        }
    }
    Ok(Page { items, next: None })
}
