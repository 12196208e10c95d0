//! Latency of the embedded engine's basic operations, as `docs/benchmarks.md` reports them:
//! `cargo bench -p accounts --bench store`.
//!
//! The database lives under Cargo's target tmp dir (a real disk, unlike a tmpfs `/tmp`), so the
//! write numbers include the fsync that `synchronous = FULL` costs per commit.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use accounts::clock::SystemClock;
use accounts::store::embedded::EmbeddedTable;
use accounts::store::{
    Condition, Index, Item, Key, Query, SortCondition, Table, TxOp, Update, Value,
};
use criterion::{Criterion, criterion_group, criterion_main};

/// Items in the partition the reads use.
const PARTITION_ITEMS: usize = 1_000;
const PAGE: u32 = 25;

/// An item the size of a typical row of the table (a follow edge with its index keys).
fn edge(user: &str, n: usize) -> Item {
    let mut item = Key::new(format!("USER#{user}"), format!("FOLLOWS#{n:06}")).to_item();
    item.insert("GSI1PK".into(), Value::S(format!("USER#{n:06}")));
    item.insert("GSI1SK".into(), Value::S(format!("FOLLOWER#{user}")));
    item.insert("status".into(), Value::S("active".into()));
    item.insert("created_at".into(), Value::S("2025-01-01T00:00:00Z".into()));
    item.insert("note".into(), Value::S("x".repeat(120)));
    item
}

fn store(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a temporary directory");
    let table = EmbeddedTable::open(dir.path(), Arc::new(SystemClock)).expect("open the table");
    runtime.block_on(async {
        for n in 0..PARTITION_ITEMS {
            table
                .put(edge("reader", n), None)
                .await
                .expect("seed the partition");
        }
    });

    let mut group = c.benchmark_group("embedded");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));

    let mut n = 0usize;
    group.bench_function("put", |b| {
        b.iter(|| {
            n += 1;
            runtime
                .block_on(table.put(edge("writer", n), None))
                .expect("put");
        })
    });

    let mut n = 0usize;
    group.bench_function("get", |b| {
        b.iter(|| {
            n = (n + 7919) % PARTITION_ITEMS;
            let key = Key::new("USER#reader", format!("FOLLOWS#{n:06}"));
            let item = runtime.block_on(table.get(&key, true)).expect("get");
            black_box(item.expect("a seeded item"));
        })
    });

    let mut n = 0usize;
    group.bench_function("query_page_of_25", |b| {
        b.iter(|| {
            // A different page each time, anywhere in the partition.
            n = (n + 7919) % (PARTITION_ITEMS - PAGE as usize);
            let query = Query::new(Index::Primary, "USER#reader")
                .sort(SortCondition::Ge(format!("FOLLOWS#{n:06}")))
                .limit(PAGE);
            let page = runtime.block_on(table.query(query)).expect("query");
            assert_eq!(page.items.len(), PAGE as usize);
            black_box(page);
        })
    });

    let mut n = 0usize;
    group.bench_function("transaction_of_3", |b| {
        b.iter(|| {
            // A follow as the service writes it: the edge and both counters.
            n += 1;
            let ops = vec![
                TxOp::Put {
                    item: edge("tx", n),
                    condition: Some(Condition::item_absent()),
                },
                TxOp::Update {
                    key: Key::new("USER#tx", "PROFILE"),
                    update: Update::new().add("following", 1),
                    condition: None,
                },
                TxOp::Update {
                    key: Key::new(format!("USER#{n:06}"), "PROFILE"),
                    update: Update::new().add("followers", 1),
                    condition: None,
                },
            ];
            runtime
                .block_on(table.transact_write(ops))
                .expect("transaction");
        })
    });
    group.finish();
}

criterion_group!(benches, store);
criterion_main!(benches);
