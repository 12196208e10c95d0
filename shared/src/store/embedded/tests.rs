//! Tests of what only the embedded engine has: its file, its locking across instances, its
//! hashing and SQL bounds, its purge. The shared semantics are in the conformance suite.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

use super::pages::prefix_upper_bound;
use super::rows::{avalanche, fnv1a, segment_of, segment_range};
use super::*;
use crate::clock::ManualClock;
use crate::store::keys::attr;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::starting_now())
}

fn open(dir: &Path, clock: &Arc<ManualClock>) -> EmbeddedTable {
    EmbeddedTable::open(dir, clock.clone()).expect("open the embedded table")
}

fn item(pk: &str, sk: &str, attrs: &[(&str, Value)]) -> Item {
    let mut item = Key::new(pk, sk).to_item();
    for (name, value) in attrs {
        item.insert((*name).to_owned(), value.clone());
    }
    item
}

/// Every page of a query, following the cursor.
async fn all_pages(table: &EmbeddedTable, query: Query) -> (Vec<Item>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut cursor = None;
    loop {
        let page = table
            .query(query.clone().after(cursor))
            .await
            .expect("query a page");
        pages += 1;
        items.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return (items, pages),
        }
    }
}

fn sk_of(item: &Item) -> &str {
    item.get(attr::SK)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

#[test]
fn segment_hash_is_stable_and_spreads_similar_keys() {
    // Published FNV-1a 32-bit test vectors; MurmurHash3's finalizer keeps zero at zero.
    assert_eq!(fnv1a(b""), 0x811c_9dc5);
    assert_eq!(fnv1a(b"a"), 0xe40c_292c);
    assert_eq!(fnv1a(b"foobar"), 0xbf9c_f968);
    assert_eq!(avalanche(0), 0);
    // The hash is stored: these values must never change.
    assert_eq!(segment_of(""), 0xab3e_7c0b);
    assert_eq!(segment_of("a"), 0x1a80_b1b3);
    assert_eq!(segment_of("USER#1"), 0x459a_94d4);
    // Keys that differ only at the end spread over the segments.
    let mut per_segment = [0; 4];
    for n in 0..100 {
        per_segment[(segment_of(&format!("USER#{n}")) >> 30) as usize] += 1;
    }
    assert!(per_segment.iter().all(|&n| n >= 10), "{per_segment:?}");
}

#[test]
fn segment_ranges_tile_the_hash_space() {
    for total in [1u32, 2, 3, 7, 10, 1000, 999_983, 1_000_000] {
        assert_eq!(segment_range(0, total).0, 0);
        assert_eq!(segment_range(total - 1, total).1, 1 << 32);
        let sample = [
            0,
            1,
            total / 3,
            total / 2,
            total.saturating_sub(2),
            total - 1,
        ];
        for segment in sample.into_iter().filter(|s| s + 1 < total) {
            let (lo, hi) = segment_range(segment, total);
            assert!(lo < hi, "segment {segment} of {total} is empty");
            assert_eq!(
                hi,
                segment_range(segment + 1, total).0,
                "gap after {segment}/{total}"
            );
        }
    }
}

#[test]
fn prefix_bound_selects_exactly_the_prefixed_strings() {
    assert_eq!(prefix_upper_bound("abc").as_deref(), Some("abd"));
    assert_eq!(prefix_upper_bound(""), None);
    assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
    assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
    assert_eq!(prefix_upper_bound("\u{D7FF}").as_deref(), Some("\u{E000}"));
    let samples = [
        "",
        "a",
        "ab",
        "abc",
        "abd",
        "ab\u{0}",
        "ab\u{7F}",
        "ab\u{80}",
        "ab\u{FFFF}",
        "ab\u{10000}",
        "ac",
        "b",
        "a\u{10FFFF}",
        "a\u{10FFFF}z",
        "é",
        "éa",
        "\u{D7FF}",
        "\u{E000}",
        "ü#1",
    ];
    for prefix in samples {
        let upper = prefix_upper_bound(prefix);
        for s in samples {
            let in_range = s.as_bytes() >= prefix.as_bytes()
                && upper.as_ref().is_none_or(|u| s.as_bytes() < u.as_bytes());
            assert_eq!(
                in_range,
                s.starts_with(prefix),
                "prefix {prefix:?}, string {s:?}"
            );
        }
    }
}

#[tokio::test]
async fn file_is_in_the_data_dir_in_wal_mode_with_full_sync() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("new").join("data");
    let table = open(&nested, &clock());
    assert!(nested.join(FILE_NAME).is_file());
    let writer = lock(&table.db.writer);
    let mode: String = writer
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    let sync: i64 = writer
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "synchronous must be FULL");
}

#[tokio::test]
async fn a_returned_write_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let key = Key::new("USER#1", "PROFILE");
    {
        let table = open(dir.path(), &clock);
        table
            .put(item("USER#1", "PROFILE", &[("n", Value::Int(1))]), None)
            .await
            .unwrap();
        table
            .update(&key, Update::new().add("n", 41), None)
            .await
            .unwrap();
        // A second instance sees the commit while the first is still open (nothing is only in
        // the first instance's memory).
        let other = open(dir.path(), &clock);
        let seen = other
            .get(&key, true)
            .await
            .unwrap()
            .expect("item visible to a second instance");
        assert_eq!(seen.get("n"), Some(&Value::Int(42)));
    }
    let reopened = open(dir.path(), &clock);
    let item = reopened
        .get(&key, true)
        .await
        .unwrap()
        .expect("item survives reopening");
    assert_eq!(item.get("n"), Some(&Value::Int(42)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_race_a_conditional_write_and_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let tables = [
        Arc::new(open(dir.path(), &clock)),
        Arc::new(open(dir.path(), &clock)),
    ];
    for round in 0..10 {
        let pk = format!("UNIQUE#USERNAME#name{round}");
        let mut tasks = Vec::new();
        for writer in 0..16 {
            let table = tables[writer % 2].clone();
            let item = item(&pk, "UNIQUE", &[("owner", Value::Int(writer as i64))]);
            tasks.push(tokio::spawn(async move {
                table.put(item, Some(Condition::item_absent())).await
            }));
        }
        let mut wins = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => wins += 1,
                Err(StoreError::ConditionFailed) => {}
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
        assert_eq!(wins, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_never_lose_an_increment() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let tables = [
        Arc::new(open(dir.path(), &clock)),
        Arc::new(open(dir.path(), &clock)),
    ];
    let key = Key::new("USER#1", "PROFILE");
    let mut tasks = Vec::new();
    for writer in 0..8 {
        let table = tables[writer % 2].clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                table
                    .update(&key, Update::new().add("followers", 1), None)
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let item = tables[0].get(&key, true).await.unwrap().unwrap();
    assert_eq!(item.get("followers"), Some(&Value::Int(200)));
}

#[tokio::test]
async fn a_writer_locked_out_by_another_connection_is_throttled() {
    let dir = tempfile::tempdir().unwrap();
    let table = EmbeddedTable::open_with(dir.path(), clock(), Duration::from_millis(50)).unwrap();
    let other = Connection::open(dir.path().join(FILE_NAME)).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = table.put(item("a", "b", &[]), None).await.unwrap_err();
    assert!(matches!(err, StoreError::Throttled(_)), "got {err:?}");
    assert!(err.is_retryable());
    // Reads go on while another connection writes.
    assert_eq!(table.get(&Key::new("a", "b"), true).await.unwrap(), None);
    other.execute_batch("ROLLBACK").unwrap();
    table
        .put(item("a", "b", &[]), None)
        .await
        .expect("the write goes through once the lock is free");
}

#[tokio::test]
async fn an_unreadable_row_is_a_backend_error() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path(), &clock());
    let raw = Connection::open(dir.path().join(FILE_NAME)).unwrap();
    raw.execute(
        "INSERT INTO items (seg, pk, sk, body) VALUES (?1, 'p', 's', 'not json')",
        [segment_of("p")],
    )
    .unwrap();
    let err = table.get(&Key::new("p", "s"), true).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "got {err:?}");
    let err = table
        .query(Query::new(Index::Primary, "p"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "got {err:?}");
}

#[tokio::test]
async fn a_file_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), &clock()));
    let raw = Connection::open(dir.path().join(FILE_NAME)).unwrap();
    raw.pragma_update(None, "user_version", 99).unwrap();
    drop(raw);
    match EmbeddedTable::open(dir.path(), clock()) {
        Err(StoreError::Backend(msg)) => assert!(msg.contains("schema version 99"), "{msg}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

#[tokio::test]
async fn expired_items_are_purged_only_after_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let table = open(dir.path(), &clock);
    let now = clock.epoch_seconds();
    let long_ago = now - PURGE_GRACE_SECONDS - 1;
    table
        .put(
            item("old", "x", &[(attr::EXPIRES_AT, Value::Int(long_ago))]),
            None,
        )
        .await
        .unwrap();
    table
        .put(
            item("recent", "x", &[(attr::EXPIRES_AT, Value::Int(now - 1))]),
            None,
        )
        .await
        .unwrap();
    for n in 0..PURGE_EVERY {
        table
            .put(item("filler", &format!("{n}"), &[]), None)
            .await
            .unwrap();
    }
    let count = |pk: &'static str| {
        let raw = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        raw.query_row("SELECT count(*) FROM items WHERE pk = ?1", [pk], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
    };
    assert_eq!(
        count("old"),
        0,
        "an item expired beyond the grace is purged"
    );
    assert_eq!(
        count("recent"),
        1,
        "a just-expired item stays for conditions"
    );
    // Hidden from reads, still seen by conditions.
    assert_eq!(
        table.get(&Key::new("recent", "x"), true).await.unwrap(),
        None
    );
    let err = table
        .put(item("recent", "x", &[]), Some(Condition::item_absent()))
        .await;
    assert!(matches!(err, Err(StoreError::ConditionFailed)));
    table
        .put(
            item("recent", "x", &[]),
            Some(Condition::absent_or_expired(now)),
        )
        .await
        .expect("an expired leftover may be replaced");
}

#[tokio::test]
async fn gsi_pages_are_stable_when_index_sort_keys_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path(), &clock());
    for n in 0..7 {
        let attrs = [
            (attr::GSI1PK, Value::from("BADGE#1")),
            (
                attr::GSI1SK,
                Value::from(if n < 5 { "2024-01-01" } else { "2024-01-02" }),
            ),
        ];
        table
            .put(item(&format!("USER#{}", 9 - n), "BADGE#1", &attrs), None)
            .await
            .unwrap();
    }
    // Not in the index: half a GSI key, or none.
    table
        .put(
            item("USER#x", "BADGE#1", &[(attr::GSI1PK, "BADGE#1".into())]),
            None,
        )
        .await
        .unwrap();
    table
        .put(item("USER#y", "BADGE#1", &[]), None)
        .await
        .unwrap();

    let query = Query::new(Index::Gsi1, "BADGE#1").limit(2);
    let (items, pages) = all_pages(&table, query.clone()).await;
    let users: Vec<&str> = items.iter().map(|i| i["PK"].as_str().unwrap()).collect();
    assert_eq!(
        users,
        [
            "USER#5", "USER#6", "USER#7", "USER#8", "USER#9", "USER#3", "USER#4"
        ]
    );
    assert_eq!(pages, 4);
    let (items, _) = all_pages(&table, query.descending()).await;
    let users: Vec<&str> = items.iter().map(|i| i["PK"].as_str().unwrap()).collect();
    assert_eq!(
        users,
        [
            "USER#4", "USER#3", "USER#9", "USER#8", "USER#7", "USER#6", "USER#5"
        ]
    );

    // The GSI cursor holds the index key and the table key, as LastEvaluatedKey does.
    let page = table
        .query(Query::new(Index::Gsi1, "BADGE#1").limit(1))
        .await
        .unwrap();
    let attrs = page.next.unwrap().key_attrs().unwrap();
    let names: Vec<&str> = attrs.keys().map(String::as_str).collect();
    assert_eq!(names, ["GSI1PK", "GSI1SK", "PK", "SK"]);
}

#[tokio::test]
async fn cursors_from_elsewhere_are_bad_cursor_errors() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path(), &clock());
    for n in 0..3 {
        let attrs = [
            (attr::GSI1PK, Value::from("G")),
            (attr::GSI1SK, Value::from(format!("{n}"))),
        ];
        table
            .put(item("P", &format!("S{n}"), &attrs), None)
            .await
            .unwrap();
    }
    let primary = table
        .query(Query::new(Index::Primary, "P").limit(1))
        .await
        .unwrap()
        .next;
    let gsi = table
        .query(Query::new(Index::Gsi1, "G").limit(1))
        .await
        .unwrap()
        .next;
    let cases = [
        Query::new(Index::Gsi1, "G").after(primary.clone()),
        Query::new(Index::Primary, "P").after(gsi.clone()),
        Query::new(Index::Gsi2, "G").after(gsi),
        Query::new(Index::Primary, "OTHER").after(primary),
        Query::new(Index::Primary, "P").after(Some(Cursor::from_client("%%%not base64"))),
        Query::new(Index::Primary, "P").after(Some(Cursor::from_client("bm90IGpzb24"))),
        Query::new(Index::Primary, "P").after(Some(Cursor::from_key_attrs(&BTreeMap::new()))),
    ];
    for query in cases {
        match table.query(query.clone()).await {
            Err(StoreError::BadCursor(_)) => {}
            other => panic!("{query:?} gave {other:?}"),
        }
    }
    // A scan cursor of one segment does not resume another.
    let mut found = None;
    for segment in 0..4 {
        let page = table
            .scan(Scan::segment(segment, 4).limit(1))
            .await
            .unwrap();
        if let Some(next) = page.next {
            found = Some((segment, next));
        }
    }
    let (segment, next) = found.expect("some segment holds the partition");
    let err = table
        .scan(Scan::segment((segment + 1) % 4, 4).after(Some(next)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::BadCursor(_)), "got {err:?}");
}

#[tokio::test]
async fn a_page_stops_after_a_megabyte_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path(), &clock());
    let blob = "x".repeat(200 * 1024);
    for n in 0..12 {
        table
            .put(
                item("BIG", &format!("{n:02}"), &[("blob", blob.clone().into())]),
                None,
            )
            .await
            .unwrap();
    }
    let first = table
        .query(Query::new(Index::Primary, "BIG"))
        .await
        .unwrap();
    assert!(
        first.items.len() < 12 && first.next.is_some(),
        "{} items",
        first.items.len()
    );
    let (items, pages) = all_pages(&table, Query::new(Index::Primary, "BIG")).await;
    assert_eq!(items.len(), 12);
    assert!(pages >= 3);
    let sks: Vec<&str> = items.iter().map(sk_of).collect();
    let mut sorted = sks.clone();
    sorted.sort();
    assert_eq!(sks, sorted);
}

#[tokio::test]
async fn scan_segments_partition_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let table = open(dir.path(), &clock);
    let now = clock.epoch_seconds();
    for n in 0..200 {
        table
            .put(item(&format!("USER#{n}"), "PROFILE", &[]), None)
            .await
            .unwrap();
        table
            .put(item(&format!("USER#{n}"), "SETTINGS", &[]), None)
            .await
            .unwrap();
    }
    table
        .put(
            item("GONE", "x", &[(attr::EXPIRES_AT, Value::Int(now))]),
            None,
        )
        .await
        .unwrap();
    for total in [1, 3, 8] {
        let mut seen = Vec::new();
        for segment in 0..total {
            let mut cursor = None;
            loop {
                let page = table
                    .scan(Scan::segment(segment, total).limit(17).after(cursor))
                    .await
                    .unwrap();
                seen.extend(page.items.iter().map(|i| Key::of(i).unwrap()));
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        assert_eq!(seen.len(), 400, "{total} segments");
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 400, "{total} segments overlap");
    }
}

#[tokio::test]
async fn writes_dynamodb_would_reject_are_validation_errors() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path(), &clock());
    let bad_items = [
        item("p", "s", &[("f", Value::Float(f64::NAN))]),
        item("p", "s", &[("set", Value::Ss(Default::default()))]),
        item(
            "p",
            "s",
            &[(attr::GSI1PK, Value::Int(1)), (attr::GSI1SK, "x".into())],
        ),
        item("p", "s", &[(attr::GSI2SK, "".into())]),
        item("", "s", &[]),
        item("p", &"s".repeat(1025), &[]),
        Item::new(),
    ];
    for bad in bad_items {
        let err = table.put(bad.clone(), None).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Validation(_)),
            "{bad:?} gave {err:?}"
        );
    }
    let key = Key::new("p", "s");
    let bad_updates = [
        Update::new().set(attr::PK, "q"),
        Update::new().set("a", 1).remove("a"),
        Update::new().add("n", "one"),
        Update::new().set(attr::GSI1PK, 5),
    ];
    for bad in bad_updates {
        let err = table.update(&key, bad.clone(), None).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Validation(_)),
            "{bad:?} gave {err:?}"
        );
    }
    assert_eq!(
        table.get(&key, true).await.unwrap(),
        None,
        "nothing was written"
    );
}

#[tokio::test]
async fn a_transaction_update_that_does_not_fit_the_stored_item_cancels_it() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path(), &clock());
    table
        .put(item("a", "1", &[("n", "text".into())]), None)
        .await
        .unwrap();
    let err = table
        .transact_write(vec![
            TxOp::Put {
                item: item("b", "1", &[]),
                condition: None,
            },
            TxOp::Update {
                key: Key::new("a", "1"),
                update: Update::new().add("n", 1),
                condition: None,
            },
        ])
        .await
        .unwrap_err();
    match err {
        StoreError::TransactionCanceled { reasons } => {
            assert_eq!(reasons[0], CancelReason::None);
            assert!(
                matches!(&reasons[1], CancelReason::Other(why) if why.starts_with("ValidationError"))
            );
        }
        other => panic!("got {other:?}"),
    }
    assert_eq!(table.get(&Key::new("b", "1"), true).await.unwrap(), None);
}

/// The plan SQLite picks for a page statement.
fn plan(conn: &Connection, sql: &pages::PageSql) -> String {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.sql))
        .unwrap();
    let rows = stmt
        .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
            r.get::<_, String>(3)
        })
        .unwrap();
    rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
}

#[tokio::test]
async fn pages_seek_through_an_index_and_never_sort() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path(), &clock());
    let conn = lock(&table.db.writer);
    let gsi_cursor = Cursor::from_key_attrs(&BTreeMap::from(
        [("GSI1PK", "G"), ("GSI1SK", "b"), ("PK", "p"), ("SK", "s")]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
    ));
    let primary_cursor = Cursor::from_key_attrs(&BTreeMap::from(
        [("PK", "G"), ("SK", "b")].map(|(k, v)| (k.to_owned(), v.to_owned())),
    ));
    let sorts = [
        None,
        Some(SortCondition::Eq("b".into())),
        Some(SortCondition::BeginsWith("b".into())),
        Some(SortCondition::Between("a".into(), "c".into())),
        Some(SortCondition::Gt("a".into())),
        Some(SortCondition::Le("c".into())),
    ];
    for sort in sorts {
        for descending in [false, true] {
            for (index, cursor) in [
                (Index::Gsi1, &gsi_cursor),
                (Index::Primary, &primary_cursor),
            ] {
                let mut query = Query::new(index, "G").limit(25).after(Some(cursor.clone()));
                query.sort = sort.clone();
                query.descending = descending;
                let sql = pages::query_sql(&query, 0).unwrap();
                let plan = plan(&conn, &sql);
                assert!(
                    !plan.contains("TEMP B-TREE") && !plan.contains("SCAN"),
                    "{plan}"
                );
                let seeks_cursor = match index {
                    Index::Primary => plan.contains("items_key (seg=? AND pk=? AND sk"),
                    _ => plan.contains("(gsi1sk,pk,sk)"),
                };
                assert!(seeks_cursor, "{sort:?} descending={descending}: {plan}");
            }
        }
    }
    // The segment of 4 that holds the cursor's partition.
    let segment = ((segment_of("G") * 4) >> 32) as u32;
    let scan = Scan::segment(segment, 4)
        .limit(10)
        .after(Some(primary_cursor.clone()));
    let sql = pages::scan_sql(&scan, 0).unwrap();
    assert!(
        plan(&conn, &sql).contains("(seg,pk,sk)>"),
        "{}",
        plan(&conn, &sql)
    );
    let sql = pages::scan_sql(&Scan::segment(0, 1).limit(10), 0).unwrap();
    let plan = plan(&conn, &sql);
    assert!(
        plan.contains("USING INDEX items_key") && !plan.contains("TEMP B-TREE"),
        "{plan}"
    );
}

#[tokio::test]
async fn sort_conditions_page_in_byte_order_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(dir.path(), &clock());
    let sks = [
        "a",
        "a#1",
        "a#2",
        "a#10",
        "ab",
        "b",
        "b\u{0}",
        "b\u{7F}",
        "b\u{80}",
        "bé",
        "b\u{FFFF}",
        "b\u{10000}",
        "b\u{10FFFF}",
        "c",
        "Z",
        "é",
        "\u{E000}",
    ];
    for (n, sk) in sks.iter().enumerate() {
        let gsi = [
            (attr::GSI2PK, Value::from("G")),
            (attr::GSI2SK, Value::from(*sk)),
        ];
        table.put(item("P", sk, &gsi), None).await.unwrap();
        // A twin under another partition: same GSI sort key, so the table key breaks the tie.
        let twin_pk = format!("Q{}", n % 3);
        table.put(item(&twin_pk, sk, &gsi), None).await.unwrap();
    }
    let sorts = [
        None,
        Some(SortCondition::Eq("b".into())),
        Some(SortCondition::Lt("b".into())),
        Some(SortCondition::Le("b".into())),
        Some(SortCondition::Gt("b".into())),
        Some(SortCondition::Ge("b\u{80}".into())),
        Some(SortCondition::BeginsWith("b".into())),
        Some(SortCondition::BeginsWith("a#".into())),
        Some(SortCondition::BeginsWith("b\u{10FFFF}".into())),
        Some(SortCondition::Between("a#10".into(), "bé".into())),
        Some(SortCondition::Between("b".into(), "a".into())),
        Some(SortCondition::Eq(String::new())),
        Some(SortCondition::Ge(String::new())),
        Some(SortCondition::BeginsWith(String::new())),
    ];
    for sort in &sorts {
        let mut expected: Vec<&str> = sks
            .iter()
            .copied()
            .filter(|sk| sort.as_ref().is_none_or(|s| s.matches(sk)))
            .collect();
        expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for descending in [false, true] {
            let mut want = expected.clone();
            if descending {
                want.reverse();
            }
            for limit in [1, 2, 5, 100] {
                let mut query = Query::new(Index::Primary, "P").limit(limit);
                query.sort = sort.clone();
                query.descending = descending;
                let (items, _) = all_pages(&table, query.clone()).await;
                let got: Vec<&str> = items.iter().map(sk_of).collect();
                assert_eq!(got, want, "{sort:?} descending={descending} limit={limit}");

                query.index = Index::Gsi2;
                query.pk = "G".into();
                let (items, _) = all_pages(&table, query).await;
                let got: Vec<(&str, &str)> = items
                    .iter()
                    .map(|i| (i["GSI2SK"].as_str().unwrap(), i["PK"].as_str().unwrap()))
                    .collect();
                let mut want_gsi: Vec<(&str, &str)> = Vec::new();
                for sk in &want {
                    let n = sks.iter().position(|s| s == sk).unwrap();
                    let mut pair = [("P", *sk), (["Q0", "Q1", "Q2"][n % 3], *sk)];
                    pair.sort();
                    if descending {
                        pair.reverse();
                    }
                    want_gsi.extend(pair.iter().map(|(pk, sk)| (*sk, *pk)));
                }
                assert_eq!(
                    got, want_gsi,
                    "GSI {sort:?} descending={descending} limit={limit}"
                );
            }
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let _store = open(dir.path(), &clock());
    let mode = std::fs::metadata(dir.path().join(FILE_NAME))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
