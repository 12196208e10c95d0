//! A [`Table`] that records partition heat: the write and read capacity units each partition
//! key value of the table and of each GSI would take on DynamoDB, and each item, for the
//! partition-heat simulation (`tests/tests/api/scale_heat.rs`, `docs/scale.md`).
//!
//! Units follow DynamoDB's rules, with item sizes from `limits::item_size`:
//! - a write takes one unit per started KB of the larger of the item before and after it
//!   (a failed condition still takes them), twice that inside a transaction;
//! - a GSI takes the same for the entry it writes or removes, charged to the index partition
//!   named by the item's GSI key attributes: the old entry's partition when the item had one,
//!   the new entry's when it has one (both when the keys changed);
//! - a read takes half a unit per started 4 KB (a whole unit when strongly consistent), a
//!   query on the total size of the items it evaluated (before its filter: the recorder asks
//!   the engine again without the filter to learn that), a transaction's condition check two.
//!
//! The driver states what the calls stand for with a [`Weight`] before each operation: the
//! units a call takes are multiplied by its `shared` factor, or by its `entity` factor on a
//! partition of one user, session, address or name (`keys::is_entity_partition`), whose share
//! of a sampled load is not the share of the real one (see `docs/scale.md`, "How the
//! simulation scales"). Partitions of one sharded family (`keys::shard_family`) are reported as
//! the family's mean per shard: the hash spreads a real load evenly; a sample is too small to.
//!
//! The recorder reads the items it needs through the wrapped table (the item before a write,
//! the evaluated items of a filtered query); those reads are not recorded. Scans are recorded
//! as one total: a scan's reads spread over every partition.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::keys::{self, Index};
use super::limits::item_size;
use super::table::{
    Condition, IdempotencyToken, Key, Page, Query, Scan, StoreResult, Table, TxOp, Update,
};
use super::value::Item;

/// DynamoDB's throughput limit of one partition (table or GSI), per second.
pub const PARTITION_WCU: f64 = 1000.0;
pub const PARTITION_RCU: f64 = 3000.0;

/// What one sampled call stands for: the factor its units are multiplied by on shared
/// partitions and on entity partitions (units per second at the reference load, per unit
/// the sample took).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weight {
    pub shared: f64,
    pub entity: f64,
}

impl Weight {
    /// The same factor everywhere (a hot subject, a scheduled task).
    pub fn uniform(factor: f64) -> Weight {
        Weight {
            shared: factor,
            entity: factor,
        }
    }
}

/// Write and read units (per second, once weighted).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Units {
    pub write: f64,
    pub read: f64,
}

impl Units {
    /// The larger of the write and read shares of one partition's limit (1.0 = the limit).
    pub fn share(&self) -> f64 {
        (self.write / PARTITION_WCU).max(self.read / PARTITION_RCU)
    }
}

/// Where units were taken: a partition key value of an index, or an item on it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Spot {
    pub index: &'static str,
    pub pk: String,
    /// The sort key for an item; empty for a partition.
    pub sk: String,
}

impl fmt::Display for Spot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sk.is_empty() {
            write!(f, "{} {}", self.index, self.pk)
        } else {
            write!(f, "{} {} / {}", self.index, self.pk, self.sk)
        }
    }
}

/// The family of a sort key: its prefix up to and including the first `#` (all of it without).
fn sort_family(sk: &str) -> &str {
    match sk.find('#') {
        Some(i) => &sk[..=i],
        None => sk,
    }
}

fn index_label(index: Index) -> &'static str {
    index.name().unwrap_or("table")
}

#[derive(Default)]
struct Record {
    weight: Option<Weight>,
    /// Entity partitions that weigh as shared ones (a hot subject's).
    hot: Vec<String>,
    /// The sampled operation in progress ([`HeatTable::next_op`]).
    op: u64,
    partitions: HashMap<(Index, String), Units>,
    /// A partition's units by the family of the sort keys they went to (its prefix up to the
    /// first `#`), weighted as the partition: what split-for-heat spreads, and what it leaves.
    sort_families: HashMap<(Index, String, String), Units>,
    items: HashMap<(Index, String, String), ItemHeat>,
    scanned: Units,
}

/// An item's units, weighed both ways, and how many sampled operations reached it: an item
/// that one sampled operation alone reached (an event, an edge) is one of many such items at
/// the reference load, so it weighs as one subject's; an item that several reached (a counter,
/// a definition) is the same item for all of them.
#[derive(Default)]
struct ItemHeat {
    shared: Units,
    entity: Units,
    last_op: u64,
    ops: u32,
}

/// The recorder. Share it as an `Arc`: one clone for the App, one to read the heat.
pub struct HeatTable {
    inner: Arc<dyn Table>,
    record: Mutex<Record>,
}

/// One row of the heat report.
#[derive(Clone, Debug)]
pub struct HeatRow {
    pub spot: Spot,
    pub units: Units,
    /// Shards of a sharded family the row stands for (1 otherwise): its units are per shard.
    pub shards: u32,
}

impl HeatRow {
    pub fn share(&self) -> f64 {
        self.units.share()
    }
}

/// What a simulation recorded, hottest first.
#[derive(Clone, Debug, Default)]
pub struct HeatReport {
    pub partitions: Vec<HeatRow>,
    pub items: Vec<HeatRow>,
    /// Each partition's units by sort-key family (`spot.sk` is the family, e.g. `BLOCKS#`).
    pub sort_families: Vec<HeatRow>,
    pub scanned: Units,
}

impl HeatReport {
    /// The report as a Markdown table of the `n` hottest partition key values.
    pub fn table(&self, n: usize) -> String {
        let mut out = String::from(
            "| # | index | partition key value | WCU/s | RCU/s | share of a partition |\n\
             |---:|---|---|---:|---:|---:|\n",
        );
        for (i, row) in self.partitions.iter().take(n).enumerate() {
            out.push_str(&format!(
                "| {} | {} | `{}`{} | {:.0} | {:.0} | {:.1} % |\n",
                i + 1,
                row.spot.index,
                row.spot.pk,
                if row.shards > 1 {
                    format!(" (each of {})", row.shards)
                } else {
                    String::new()
                },
                row.units.write,
                row.units.read,
                100.0 * row.share()
            ));
        }
        out
    }
}

fn sorted(mut rows: Vec<HeatRow>) -> Vec<HeatRow> {
    rows.sort_by(|a, b| {
        b.share()
            .total_cmp(&a.share())
            .then_with(|| a.spot.cmp(&b.spot))
    });
    rows
}

fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

fn read_units(bytes: usize, consistent: bool) -> f64 {
    let blocks = bytes.div_ceil(4096).max(1) as f64;
    if consistent { blocks } else { blocks / 2.0 }
}

fn index_keys(item: &Item, index: Index) -> Option<(String, String)> {
    let (pk, sk) = index.key_attrs();
    Some((
        item.get(pk)?.as_str()?.to_owned(),
        item.get(sk)?.as_str()?.to_owned(),
    ))
}

impl HeatTable {
    pub fn new(inner: Arc<dyn Table>) -> HeatTable {
        HeatTable {
            inner,
            record: Mutex::new(Record::default()),
        }
    }

    /// What the calls from now on stand for; `None` stops recording.
    pub fn set_weight(&self, weight: Option<Weight>) {
        self.lock().weight = weight;
    }

    /// Entity partitions that weigh as shared ones from now on: a hot subject's (the
    /// celebrity a sampled class of requests all reaches).
    pub fn set_hot_partitions(&self, partitions: Vec<String>) {
        self.lock().hot = partitions;
    }

    /// Starts the next sampled operation (the driver calls it before each request).
    pub fn next_op(&self) {
        self.lock().op += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds weighted units to a partition's row and an item's row.
    fn charge(&self, index: Index, pk: &str, sk: &str, owner: &str, units: Units) {
        self.add(index, pk, Some((sk, owner)), true, units);
    }

    /// Adds weighted units to the partition's row (when `partition`) and to the item's row
    /// (when `item` names its sort key and the table partition of the item the entry is of:
    /// a GSI entry of a user's item is that user's).
    fn add(
        &self,
        index: Index,
        pk: &str,
        item: Option<(&str, &str)>,
        partition: bool,
        units: Units,
    ) {
        let mut record = self.lock();
        let Some(weight) = record.weight else { return };
        let hot = record.hot.iter().any(|h| h == pk);
        let factor = if keys::is_entity_partition(pk) && !hot {
            weight.entity
        } else {
            weight.shared
        };
        if partition {
            let p = record.partitions.entry((index, pk.to_owned())).or_default();
            p.write += units.write * factor;
            p.read += units.read * factor;
            if let Some((sk, _)) = item {
                let family = sort_family(sk).to_owned();
                let f = record
                    .sort_families
                    .entry((index, pk.to_owned(), family))
                    .or_default();
                f.write += units.write * factor;
                f.read += units.read * factor;
            }
        }
        if let Some((sk, owner)) = item {
            let op = record.op;
            let owner_hot = record.hot.iter().any(|h| h == owner);
            let entity = if owner_hot {
                weight.shared
            } else {
                weight.entity
            };
            let owned = keys::is_entity_partition(owner) && !owner_hot;
            let i = record
                .items
                .entry((index, pk.to_owned(), sk.to_owned()))
                .or_default();
            let shared = if owned { weight.entity } else { weight.shared };
            i.shared.write += units.write * shared;
            i.shared.read += units.read * shared;
            i.entity.write += units.write * entity;
            i.entity.read += units.read * entity;
            if i.ops == 0 || i.last_op != op {
                i.ops += 1;
                i.last_op = op;
            }
        }
    }

    fn recording(&self) -> bool {
        self.lock().weight.is_some()
    }

    /// Charges a write that turned `old` into `new` (either may be absent), `times` over.
    fn charge_write(&self, key: &Key, old: Option<&Item>, new: Option<&Item>, times: f64) {
        let size = old
            .map(item_size)
            .unwrap_or(0)
            .max(new.map(item_size).unwrap_or(0));
        let base = Units {
            write: write_units(size) * times,
            read: 0.0,
        };
        self.charge(Index::Primary, &key.pk, &key.sk, &key.pk, base);
        for index in Index::GSIS {
            let before = old.and_then(|i| index_keys(i, index));
            let after = new.and_then(|i| index_keys(i, index));
            let entry = |item: Option<&Item>| Units {
                write: write_units(item.map(item_size).unwrap_or(0)) * times,
                read: 0.0,
            };
            match (&before, &after) {
                (Some(b), Some(a)) if b == a => self.charge(index, &a.0, &a.1, &key.pk, base),
                _ => {
                    if let Some(b) = &before {
                        self.charge(index, &b.0, &b.1, &key.pk, entry(old));
                    }
                    if let Some(a) = &after {
                        self.charge(index, &a.0, &a.1, &key.pk, entry(new));
                    }
                }
            }
        }
    }

    async fn before(&self, key: &Key) -> Option<Item> {
        self.inner.get(key, true).await.ok().flatten()
    }

    /// The heat so far, scaled as recorded, hottest first; sharded families folded into one
    /// row each at their mean per shard.
    pub fn report(&self) -> HeatReport {
        let record = self.lock();
        let mut families: HashMap<(Index, String), (u32, Units)> = HashMap::new();
        let mut partitions = Vec::new();
        for ((index, pk), units) in &record.partitions {
            match keys::shard_family(pk) {
                Some((family, shards)) => {
                    let entry = families
                        .entry((*index, family))
                        .or_insert((shards, Units::default()));
                    entry.1.write += units.write;
                    entry.1.read += units.read;
                }
                None => partitions.push(HeatRow {
                    spot: Spot {
                        index: index_label(*index),
                        pk: pk.clone(),
                        sk: String::new(),
                    },
                    units: *units,
                    shards: 1,
                }),
            }
        }
        for ((index, family), (shards, units)) in families {
            let per = f64::from(shards.max(1));
            partitions.push(HeatRow {
                spot: Spot {
                    index: index_label(index),
                    pk: family,
                    sk: String::new(),
                },
                units: Units {
                    write: units.write / per,
                    read: units.read / per,
                },
                shards,
            });
        }
        let items = record
            .items
            .iter()
            .map(|((index, pk, sk), heat)| HeatRow {
                spot: Spot {
                    index: index_label(*index),
                    pk: pk.clone(),
                    sk: sk.clone(),
                },
                units: if heat.ops > 1 {
                    heat.shared
                } else {
                    heat.entity
                },
                shards: 1,
            })
            .collect();
        let sort_families = record
            .sort_families
            .iter()
            .map(|((index, pk, family), units)| HeatRow {
                spot: Spot {
                    index: index_label(*index),
                    pk: pk.clone(),
                    sk: family.clone(),
                },
                units: *units,
                shards: 1,
            })
            .collect();
        HeatReport {
            partitions: sorted(partitions),
            items: sorted(items),
            sort_families: sorted(sort_families),
            scanned: record.scanned,
        }
    }
}

#[async_trait]
impl Table for HeatTable {
    fn engine(&self) -> &'static str {
        self.inner.engine()
    }

    async fn get(&self, key: &Key, consistent: bool) -> StoreResult<Option<Item>> {
        let found = self.inner.get(key, consistent).await?;
        let units = Units {
            write: 0.0,
            read: read_units(found.as_ref().map(item_size).unwrap_or(0), consistent),
        };
        self.charge(Index::Primary, &key.pk, &key.sk, &key.pk, units);
        Ok(found)
    }

    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        let found = self.inner.batch_get(keys).await?;
        for (key, item) in keys.iter().zip(&found) {
            let units = Units {
                write: 0.0,
                read: read_units(item.as_ref().map(item_size).unwrap_or(0), false),
            };
            self.charge(Index::Primary, &key.pk, &key.sk, &key.pk, units);
        }
        Ok(found)
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        let key = Key::of(&item);
        let old = match (&key, self.recording()) {
            (Some(key), true) => self.before(key).await,
            _ => None,
        };
        let result = self.inner.put(item.clone(), condition).await;
        if let Some(key) = key {
            let new = if result.is_ok() { Some(&item) } else { None };
            self.charge_write(&key, old.as_ref(), new.or(old.as_ref()), 1.0);
        }
        result
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item> {
        let old = if self.recording() {
            self.before(key).await
        } else {
            None
        };
        let result = self.inner.update(key, update, condition).await;
        let new = result.as_ref().ok().or(old.as_ref());
        self.charge_write(key, old.as_ref(), new, 1.0);
        result
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>> {
        let old = if self.recording() {
            self.before(key).await
        } else {
            None
        };
        let result = self.inner.delete(key, condition).await;
        let new = if result.is_ok() { None } else { old.as_ref() };
        self.charge_write(key, old.as_ref(), new, 1.0);
        result
    }

    async fn query(&self, query: Query) -> StoreResult<Page> {
        let index = query.index;
        let consistent = query.consistent;
        let pk = query.pk.clone();
        let unfiltered = (self.recording() && query.filter.is_some()).then(|| Query {
            filter: None,
            ..query.clone()
        });
        let page = self.inner.query(query).await?;
        let evaluated = match unfiltered {
            Some(q) => self
                .inner
                .query(q)
                .await
                .map(|p| p.items)
                .unwrap_or_default(),
            None => page.items.clone(),
        };
        let bytes: usize = evaluated.iter().map(item_size).sum();
        let units = Units {
            write: 0.0,
            read: read_units(bytes, consistent),
        };
        self.add(index, &pk, None, true, units);
        // The partition row already holds the query's units; the items' rows get theirs too.
        for item in &evaluated {
            if index == Index::Primary {
                if let Some(key) = Key::of(item) {
                    let units = Units {
                        write: 0.0,
                        read: read_units(item_size(item), consistent),
                    };
                    self.add(
                        Index::Primary,
                        &key.pk,
                        Some((&key.sk, &key.pk)),
                        false,
                        units,
                    );
                }
            } else if let (Some((ipk, isk)), Some(key)) = (index_keys(item, index), Key::of(item)) {
                let units = Units {
                    write: 0.0,
                    read: read_units(item_size(item), false),
                };
                self.add(index, &ipk, Some((&isk, &key.pk)), false, units);
            }
        }
        Ok(page)
    }

    async fn transact_write_try(
        &self,
        ops: Vec<TxOp>,
        token: &IdempotencyToken,
    ) -> StoreResult<()> {
        let recording = self.recording();
        let mut before = Vec::new();
        if recording {
            for op in &ops {
                let old = match op.key() {
                    Some(key) => self.before(&key).await,
                    None => None,
                };
                before.push(old);
            }
        }
        let checks: Vec<(Option<Key>, bool)> = ops
            .iter()
            .map(|op| (op.key(), matches!(op, TxOp::Check { .. })))
            .collect();
        let result = self.inner.transact_write_try(ops, token).await;
        if recording {
            for ((key, is_check), old) in checks.into_iter().zip(before) {
                let Some(key) = key else { continue };
                if is_check {
                    let size = old.as_ref().map(item_size).unwrap_or(0);
                    let units = Units {
                        write: 0.0,
                        read: 2.0 * read_units(size, true),
                    };
                    self.charge(Index::Primary, &key.pk, &key.sk, &key.pk, units);
                    continue;
                }
                let new = if result.is_ok() {
                    self.before(&key).await
                } else {
                    old.clone()
                };
                self.charge_write(&key, old.as_ref(), new.as_ref(), 2.0);
            }
        }
        result
    }

    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        let unfiltered = (self.recording() && scan.filter.is_some()).then(|| Scan {
            filter: None,
            ..scan.clone()
        });
        let page = self.inner.scan(scan).await?;
        let evaluated = match unfiltered {
            Some(s) => self
                .inner
                .scan(s)
                .await
                .map(|p| p.items)
                .unwrap_or_default(),
            None => page.items.clone(),
        };
        let bytes: usize = evaluated.iter().map(item_size).sum();
        let mut record = self.lock();
        if let Some(weight) = record.weight {
            record.scanned.read += read_units(bytes, false) * weight.shared;
        }
        Ok(page)
    }

    async fn health(&self) -> StoreResult<()> {
        self.inner.health().await
    }
}

impl fmt::Debug for HeatTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeatTable")
            .field("engine", &self.inner.engine())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Value;

    fn item(pk: &str, sk: &str, bytes: usize) -> Item {
        let mut item = Key::new(pk, sk).to_item();
        item.insert("pad".into(), Value::S("x".repeat(bytes)));
        item
    }

    #[test]
    fn units_follow_dynamodb_rounding() {
        assert_eq!(write_units(0), 1.0);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(read_units(4096, false), 0.5);
        assert_eq!(read_units(4097, true), 2.0);
        assert!(item_size(&item("A", "B", 2000)) > 2000);
    }

    #[test]
    fn shares_are_of_the_tighter_limit() {
        let u = Units {
            write: 500.0,
            read: 300.0,
        };
        assert_eq!(u.share(), 0.5);
    }
}
