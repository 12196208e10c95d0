//! The name indexes, read in order: every user's name item (the unique username item,
//! `UserRecord::name_item`) is in one of 16 shards of GSI1 `USERNAME#<nn>` (sorted by
//! case-folded username) and of GSI2 `DISPLAYNAME#<nn>` (sorted by lower-cased display name and
//! id), by user id (`keys::username_index`). One key value per index took every registration and,
//! while the entries were on the profile, every profile write (`docs/scale.md`).
//!
//! A page merges the shards: each is queried at the same time for its first `limit` entries
//! after the cursor (and under the prefix), which together hold the first `limit` entries of
//! the whole index; the page is those, in sort-key order. The cursor is the last sort key
//! returned, so the next page starts right after it in every shard. The items are narrow (a
//! user id and the keys), so reading a page's worth from each shard costs little; the callers
//! read the profiles of the page in one batch.

use crate::App;
use crate::accounts::UserRecord;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{
    Condition, Cursor, Index, Item, Query, SortCondition, TxOp, Update, Value, keys,
};

/// Which name index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameIndex {
    Username,
    DisplayName,
}

impl NameIndex {
    fn index(self) -> Index {
        match self {
            NameIndex::Username => Index::Gsi1,
            NameIndex::DisplayName => Index::Gsi2,
        }
    }

    fn sort_attr(self) -> &'static str {
        match self {
            NameIndex::Username => keys::attr::GSI1SK,
            NameIndex::DisplayName => keys::attr::GSI2SK,
        }
    }

    fn partitions(self) -> Vec<String> {
        match self {
            NameIndex::Username => keys::username_partitions(),
            NameIndex::DisplayName => keys::displayname_partitions(),
        }
    }
}

/// One entry of a page: the user, and the name item as stored (its other index's sort key
/// too, which the profile search uses to keep its two streams apart).
#[derive(Clone, Debug)]
pub struct NameEntry {
    pub user: UserId,
    pub item: Item,
}

impl NameEntry {
    /// The entry's sort key in `index`.
    pub fn sort_key(&self, index: NameIndex) -> &str {
        self.item
            .get(index.sort_attr())
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

pub struct NamePage {
    pub entries: Vec<NameEntry>,
    /// Where the next page starts (the last sort key of this one), when there is more.
    pub next: Option<String>,
}

/// The cursor a client holds for a page of the merged index.
pub fn encode_cursor(after: &str) -> Cursor {
    Cursor::from_key_attrs(&[("k".to_owned(), after.to_owned())].into())
}

/// The sort key a client's cursor continues after; 400 on `cursor` for anything else.
pub fn decode_cursor(cursor: &Cursor) -> Result<String, Error> {
    cursor
        .key_attrs()
        .ok()
        .and_then(|mut attrs| attrs.remove("k"))
        .ok_or_else(|| Error::field("cursor", "Invalid cursor."))
}

/// The key condition for the entries under `prefix` (all when empty) after `after`; `None`
/// when no entry can match (a cursor past the prefix's range).
fn range(prefix: &str, after: Option<&str>) -> Option<Option<SortCondition>> {
    Some(match after {
        None if prefix.is_empty() => None,
        None => Some(SortCondition::BeginsWith(prefix.to_owned())),
        Some(after) if prefix.is_empty() => Some(SortCondition::Gt(after.to_owned())),
        // Sort keys hold no control characters (`model/text.rs` refuses them in names), so
        // nothing lies between a key and the key followed by U+0001.
        Some(after) if after.starts_with(prefix) => Some(SortCondition::Between(
            format!("{after}\u{1}"),
            format!("{prefix}\u{10FFFF}"),
        )),
        Some(after) if after < prefix => Some(SortCondition::BeginsWith(prefix.to_owned())),
        Some(_) => return None,
    })
}

/// Up to `limit` entries of `index` under `prefix` after `after`, in sort-key order: every
/// shard queried at the same time (one round trip).
pub async fn page(
    app: &App,
    index: NameIndex,
    prefix: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<NamePage, Error> {
    let limit = limit.max(1);
    let Some(sort) = range(prefix, after) else {
        return Ok(NamePage {
            entries: Vec::new(),
            next: None,
        });
    };
    let pages = futures::future::try_join_all(index.partitions().into_iter().map(|pk| {
        let mut query = Query::new(index.index(), pk).limit(limit);
        if let Some(sort) = sort.clone() {
            query = query.sort(sort);
        }
        app.table.query(query)
    }))
    .await?;
    let shards_have_more = pages.iter().any(|p| p.next.is_some());
    let mut entries: Vec<NameEntry> = pages
        .into_iter()
        .flat_map(|p| p.items)
        .filter_map(|item| {
            let user = item.get("user_id").and_then(Value::as_i64).map(UserId)?;
            Some(NameEntry { user, item })
        })
        .collect();
    entries.sort_by(|a, b| a.sort_key(index).cmp(b.sort_key(index)));
    let more = shards_have_more || entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let next = match entries.last() {
        Some(last) if more => Some(last.sort_key(index).to_owned()),
        _ => None,
    };
    Ok(NamePage { entries, next })
}

/// The update of a user's name item to the index keys of `next` (its username unchanged),
/// conditioned on the item being the user's or missing (written whole then: an account stored
/// before names had items of their own gets one).
pub fn name_index_op(next: &UserRecord) -> TxOp {
    let username_key = next.username.to_ascii_lowercase();
    let (display_pk, display_sk) = next.displayname_index();
    let (name_pk, name_sk) = keys::username_index(&username_key, next.id);
    TxOp::Update {
        key: keys::unique_username(&username_key),
        update: Update::new()
            .set("user_id", next.id.0)
            .set(keys::attr::GSI1PK, name_pk)
            .set(keys::attr::GSI1SK, name_sk)
            .set(keys::attr::GSI2PK, display_pk)
            .set(keys::attr::GSI2SK, display_sk),
        condition: Some(Condition::Or(vec![
            Condition::item_absent(),
            Condition::eq("user_id", next.id.0),
        ])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_start_after_the_cursor_and_stay_under_the_prefix() {
        assert_eq!(range("", None), Some(None));
        assert_eq!(
            range("al", None),
            Some(Some(SortCondition::BeginsWith("al".into())))
        );
        assert_eq!(
            range("", Some("bob")),
            Some(Some(SortCondition::Gt("bob".into())))
        );
        assert_eq!(
            range("al", Some("alice")),
            Some(Some(SortCondition::Between(
                "alice\u{1}".into(),
                "al\u{10FFFF}".into()
            )))
        );
        assert_eq!(
            range("al", Some("aaron")),
            Some(Some(SortCondition::BeginsWith("al".into())))
        );
        assert_eq!(range("al", Some("bob")), None);
    }

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        let cursor = encode_cursor("alice");
        assert_eq!(decode_cursor(&cursor).unwrap(), "alice");
        assert!(decode_cursor(&Cursor::from_client("junk!")).is_err());
    }
}
