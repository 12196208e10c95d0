//! Conformance of both storage engines to the single-table port (`accounts::store::Table`).
//!
//! Every test runs on the embedded engine and on DynamoDB (moto). Keys are arbitrary strings:
//! this suite tests the port's contract, not the service's key schema. Expected results come
//! from the port's reference semantics (`Condition::matches`, `SortCondition::matches`) where
//! they exist, and are also pinned by hand so that no assertion can pass vacuously.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Debug;

use accounts::store::keys::attr;
use accounts::store::{
    CancelReason, Condition, Cursor, Index, Item, Key, MAX_TRANSACTION_OPS, Query, Scan,
    SortCondition, StoreError, StoreResult, TxOp, Update, Value,
};
use api_tests::moto::{Isolation, isolated};
use api_tests::{TestTable, both_engines};
use chrono::Duration;
use futures::StreamExt;

// ---------------------------------------------------------------------------------------------
// Helpers

fn key(pk: &str, sk: &str) -> Key {
    Key::new(pk, sk)
}

/// An item with its key and the given attributes.
fn item<'a>(pk: &str, sk: &str, attrs: impl IntoIterator<Item = (&'a str, Value)>) -> Item {
    let mut item = Key::new(pk, sk).to_item();
    for (name, value) in attrs {
        item.insert(name.to_owned(), value);
    }
    item
}

fn s(v: &str) -> Value {
    Value::S(v.to_owned())
}

/// The `SK` of each item, in order.
fn sks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| i[attr::SK].as_str().expect("SK is a string").to_owned())
        .collect()
}

fn keys_of(items: &[Item]) -> Vec<Key> {
    items
        .iter()
        .map(|i| Key::of(i).expect("every item has PK and SK"))
        .collect()
}

/// Writes items with a few writes in flight at once (plain puts, no condition).
async fn put_all(t: &TestTable, items: Vec<Item>) {
    let results: Vec<StoreResult<()>> = futures::stream::iter(items)
        .map(|i| t.put(i, None))
        .buffer_unordered(8)
        .collect()
        .await;
    for r in results {
        r.expect("put");
    }
}

/// The pages of a query, following cursors; no page may exceed the limit.
async fn query_pages(t: &TestTable, query: Query) -> Vec<Vec<Item>> {
    let limit = query.limit;
    let mut pages = Vec::new();
    let mut cursor = None;
    // A loop guard: a cursor that never ends would otherwise hang the test.
    for _ in 0..1_000 {
        let page = t
            .query(query.clone().after(cursor))
            .await
            .expect("query page");
        if let Some(limit) = limit {
            let n = page.items.len();
            assert!(
                n <= limit as usize,
                "a page of {n} exceeded the limit {limit}"
            );
        }
        pages.push(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return pages,
        }
    }
    panic!("query did not finish within 1000 pages");
}

/// Every item of a query, page by page.
async fn query_all(t: &TestTable, query: Query) -> Vec<Item> {
    query_pages(t, query).await.concat()
}

/// Every item of a query whose items all count (no filter, nothing expired): each page but the
/// last is full.
async fn query_all_full(t: &TestTable, query: Query) -> Vec<Item> {
    let limit = query.limit.expect("a paged query") as usize;
    let pages = query_pages(t, query).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    let (_last, before) = sizes.split_last().expect("at least one page");
    assert!(
        before.iter().all(|&n| n == limit),
        "pages not full: {sizes:?} (limit {limit})"
    );
    pages.concat()
}

/// Every page of one scan segment.
async fn scan_segment(t: &TestTable, scan: Scan) -> Vec<Item> {
    let limit = scan.limit;
    let mut items = Vec::new();
    let mut cursor = None;
    for _ in 0..1_000 {
        let page = t.scan(scan.clone().after(cursor)).await.expect("scan page");
        if let Some(limit) = limit {
            assert!(
                page.items.len() <= limit as usize,
                "a scan page exceeded the limit {limit}"
            );
        }
        items.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return items,
        }
    }
    panic!("scan segment did not finish within 1000 pages");
}

/// Every item of the table, through one whole-table scan.
async fn scan_everything(t: &TestTable) -> Vec<Item> {
    scan_segment(t, Scan::segment(0, 1)).await
}

#[track_caller]
fn assert_condition_failed<T: Debug>(result: StoreResult<T>) {
    match result {
        Err(StoreError::ConditionFailed) => {}
        other => panic!("expected ConditionFailed, got {other:?}"),
    }
}

#[track_caller]
fn assert_validation<T: Debug>(result: StoreResult<T>) {
    match result {
        Err(StoreError::Validation(_)) => {}
        other => panic!("expected a Validation error, got {other:?}"),
    }
}

/// A cursor the query did not make: its own error, which the API answers as a field error.
#[track_caller]
fn assert_bad_cursor<T: Debug>(result: StoreResult<T>) {
    match result {
        Err(StoreError::BadCursor(_)) => {}
        other => panic!("expected a BadCursor error, got {other:?}"),
    }
}

/// The conditional write's outcome as a boolean: did the condition hold?
#[track_caller]
fn held<T: Debug>(result: StoreResult<T>) -> bool {
    match result {
        Ok(_) => true,
        Err(StoreError::ConditionFailed) => false,
        Err(e) => panic!("a conditional write failed for another reason: {e:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Items: put, get, update, delete

async fn put_get_round_trips_every_value_type(t: TestTable) {
    let stored = item(
        "V",
        "all",
        [
            ("s", s("héllo wörld")),
            ("empty", s("")),
            ("int", Value::Int(-42)),
            ("big", Value::Int(i64::MAX)),
            ("small", Value::Int(i64::MIN + 1)),
            ("float", Value::Float(2.5)),
            ("negative_float", Value::Float(-0.125)),
            ("yes", Value::Bool(true)),
            ("no", Value::Bool(false)),
            ("null", Value::Null),
            (
                "list",
                Value::L(vec![s("a"), Value::Int(1), Value::Bool(false), Value::Null]),
            ),
            (
                "map",
                Value::M(BTreeMap::from([
                    ("k".to_owned(), s("v")),
                    ("n".to_owned(), Value::Int(7)),
                    (
                        "inner".to_owned(),
                        Value::M(BTreeMap::from([("x".to_owned(), s("y"))])),
                    ),
                ])),
            ),
            (
                "set",
                Value::Ss(BTreeSet::from(["b".to_owned(), "a".to_owned()])),
            ),
        ],
    );
    t.put(stored.clone(), None).await.unwrap();

    let got = t
        .get(&key("V", "all"), true)
        .await
        .unwrap()
        .expect("the item just written");
    assert_eq!(got, stored);
    // Integer-ness survives the round trip (DynamoDB stores both as N).
    assert!(
        matches!(got["int"], Value::Int(-42)),
        "int came back as {:?}",
        got["int"]
    );
    assert!(matches!(got["float"], Value::Float(f) if f == 2.5));
    assert!(matches!(got["big"], Value::Int(i64::MAX)));

    // Eventually consistent reads see it too (moto and SQLite are immediate).
    assert_eq!(
        t.get(&key("V", "all"), false).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(t.get(&key("V", "other"), true).await.unwrap(), None);
    assert_eq!(t.get(&key("W", "all"), true).await.unwrap(), None);

    // An unconditional put replaces the whole item.
    t.put(item("V", "all", [("only", Value::Int(1))]), None)
        .await
        .unwrap();
    let replaced = t.get(&key("V", "all"), true).await.unwrap().unwrap();
    assert_eq!(replaced, item("V", "all", [("only", Value::Int(1))]));
}

async fn items_without_string_keys_are_validation_errors(t: TestTable) {
    let mut no_sk = Item::new();
    no_sk.insert(attr::PK.into(), s("X"));
    assert_validation(t.put(no_sk, None).await);

    let mut no_pk = Item::new();
    no_pk.insert(attr::SK.into(), s("X"));
    assert_validation(t.put(no_pk, None).await);

    // Key attributes are non-empty strings.
    let bad = [
        (attr::PK, Value::Int(1)),
        (attr::SK, Value::Int(1)),
        (attr::PK, s("")),
        (attr::SK, s("")),
    ];
    for (name, value) in bad {
        let mut it = item("X", "1", []);
        it.insert(name.to_owned(), value);
        assert_validation(t.put(it, None).await);
    }
    let set = || Update::new().set("v", 1);
    assert_validation(t.update(&key("", "1"), set(), None).await);
    assert_validation(t.update(&key("X", ""), set(), None).await);

    assert!(
        scan_everything(&t).await.is_empty(),
        "nothing may be written"
    );
}

/// DynamoDB's size limits: partition keys up to 2048 bytes, sort keys up to 1024, items up to
/// 400 KB. The embedded engine enforces them too, so local runs fail where production would.
async fn oversized_keys_and_items_are_validation_errors(t: TestTable) {
    t.put(item(&"p".repeat(2048), &"s".repeat(1024), []), None)
        .await
        .expect("keys at the limits are fine");
    assert_validation(t.put(item(&"p".repeat(2049), "s", []), None).await);
    assert_validation(t.put(item("p", &"s".repeat(1025), []), None).await);
    let long = key(&"p".repeat(2049), "s");
    assert_validation(t.update(&long, Update::new().set("v", 1), None).await);

    let big = item("BIG", "1", [("blob", s(&"x".repeat(410 * 1024)))]);
    assert_validation(t.put(big, None).await);
    // An update that would grow an item past the limit fails and leaves it as it was.
    let small = item("BIG", "2", [("v", Value::Int(1))]);
    t.put(small.clone(), None).await.unwrap();
    let grow = Update::new().set("blob", s(&"x".repeat(410 * 1024)));
    assert_validation(t.update(&key("BIG", "2"), grow, None).await);
    assert_eq!(t.get(&key("BIG", "2"), true).await.unwrap(), Some(small));
    let fits = item("BIG", "3", [("blob", s(&"x".repeat(300 * 1024)))]);
    t.put(fits, None).await.expect("a 300 KB item fits");

    let mut stored = keys_of(&scan_everything(&t).await);
    stored.sort();
    assert_eq!(
        stored,
        [
            key("BIG", "2"),
            key("BIG", "3"),
            key(&"p".repeat(2048), &"s".repeat(1024))
        ]
    );
}

/// DynamoDB rejects an item whose GSI key attributes are not non-empty strings (the table
/// defines them as `S`). The embedded engine must too, and the DynamoDB engine must not rely
/// on moto for it (moto lets most of these through), or local runs hide the bug.
async fn index_key_attributes_must_be_non_empty_strings(t: TestTable) {
    let bad = [
        (attr::GSI1PK, Value::Int(1)),
        (attr::GSI1SK, Value::Bool(true)),
        (attr::GSI1PK, s("")),
        (attr::GSI2PK, s("")),
        (attr::GSI2SK, Value::Float(1.5)),
        (attr::GSI2SK, s("")),
    ];
    let mut accepted = Vec::new();
    for (name, value) in bad {
        let mut it = item("X", "1", [(attr::GSI1PK, s("G")), (attr::GSI1SK, s("1"))]);
        it.insert(name.to_owned(), value.clone());
        match t.put(it.clone(), None).await {
            Err(StoreError::Validation(_)) => {}
            other => accepted.push(format!("put with {name} = {value:?}: {other:?}")),
        }
        let tx = vec![TxOp::Put {
            item: it,
            condition: None,
        }];
        match t.transact_write(tx).await {
            Err(StoreError::Validation(_)) => {}
            other => accepted.push(format!(
                "transaction put with {name} = {value:?}: {other:?}"
            )),
        }
        let update = Update::new().set(name, value.clone());
        match t.update(&key("X", "2"), update, None).await {
            Err(StoreError::Validation(_)) => {}
            other => accepted.push(format!("update setting {name} = {value:?}: {other:?}")),
        }
    }
    assert!(
        accepted.is_empty(),
        "bad index key attributes were not Validation errors:\n{}",
        accepted.join("\n")
    );
    assert!(
        scan_everything(&t).await.is_empty(),
        "nothing may be written"
    );
}

async fn conditional_put_conflict(t: TestTable) {
    let first = item("C", "1", [("writer", s("first"))]);
    t.put(first.clone(), Some(Condition::item_absent()))
        .await
        .unwrap();

    let second = item("C", "1", [("writer", s("second"))]);
    assert_condition_failed(t.put(second, Some(Condition::item_absent())).await);
    assert_eq!(
        t.get(&key("C", "1"), true).await.unwrap(),
        Some(first.clone())
    );

    // item_present on a missing item fails and creates nothing.
    assert_condition_failed(
        t.put(item("C", "2", []), Some(Condition::item_present()))
            .await,
    );
    assert_eq!(t.get(&key("C", "2"), true).await.unwrap(), None);

    // item_present on the existing item succeeds and replaces it.
    let third = item("C", "1", [("writer", s("third"))]);
    t.put(third.clone(), Some(Condition::item_present()))
        .await
        .unwrap();
    assert_eq!(t.get(&key("C", "1"), true).await.unwrap(), Some(third));
}

async fn update_returns_all_new_and_creates_missing_items(t: TestTable) {
    // A missing item is created from its key.
    let created = t
        .update(
            &key("U", "1"),
            Update::new().set("name", "ada").set("n", 1),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        created,
        item("U", "1", [("name", s("ada")), ("n", Value::Int(1))])
    );

    // ALL_NEW: attributes the update did not touch are returned too.
    let updated = t
        .update(&key("U", "1"), Update::new().set("n", 2), None)
        .await
        .unwrap();
    assert_eq!(
        updated,
        item("U", "1", [("name", s("ada")), ("n", Value::Int(2))])
    );
    assert_eq!(t.get(&key("U", "1"), true).await.unwrap(), Some(updated));

    // SET if missing keeps what is there and fills what is not; REMOVE drops attributes.
    let after = t
        .update(
            &key("U", "1"),
            Update::new()
                .set_if_missing("name", "grace")
                .set_if_missing("joined", 2024)
                .remove("n")
                .remove("never_there"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        after,
        item("U", "1", [("name", s("ada")), ("joined", Value::Int(2024))])
    );
}

async fn add_starts_from_zero(t: TestTable) {
    // ADD on a missing item creates it, starting from zero.
    let fresh = t
        .update(&key("A", "new"), Update::new().add("n", 5), None)
        .await
        .unwrap();
    assert_eq!(fresh, item("A", "new", [("n", Value::Int(5))]));

    // A negative ADD on a missing item gives a negative number.
    let neg = t
        .update(&key("A", "neg"), Update::new().add("n", -3), None)
        .await
        .unwrap();
    assert_eq!(neg["n"], Value::Int(-3));

    // ADD on a missing attribute of an existing item.
    t.put(item("A", "some", [("other", s("x"))]), None)
        .await
        .unwrap();
    let some = t
        .update(&key("A", "some"), Update::new().add("n", -7), None)
        .await
        .unwrap();
    assert_eq!(
        some,
        item("A", "some", [("other", s("x")), ("n", Value::Int(-7))])
    );

    // ADD on an existing number, in both directions, and several ADDs in one update.
    let more = t
        .update(
            &key("A", "some"),
            Update::new().add("n", 10).add("m", 2),
            None,
        )
        .await
        .unwrap();
    assert_eq!(more["n"], Value::Int(3));
    assert_eq!(more["m"], Value::Int(2));
    let less = t
        .update(&key("A", "some"), Update::new().add("n", -4), None)
        .await
        .unwrap();
    assert!(matches!(less["n"], Value::Int(-1)), "n is {:?}", less["n"]);

    // Fractions add as numbers.
    let frac = t
        .update(&key("A", "some"), Update::new().add("n", 1.5), None)
        .await
        .unwrap();
    assert_eq!(frac["n"], Value::Float(0.5));
}

async fn add_to_a_non_number_is_a_validation_error(t: TestTable) {
    let before = item("A", "str", [("n", s("not a number"))]);
    t.put(before.clone(), None).await.unwrap();
    assert_validation(
        t.update(&key("A", "str"), Update::new().add("n", 1), None)
            .await,
    );
    assert_eq!(t.get(&key("A", "str"), true).await.unwrap(), Some(before));
}

async fn delete_returns_all_old(t: TestTable) {
    let stored = item("D", "1", [("v", Value::Int(1)), ("w", s("x"))]);
    t.put(stored.clone(), None).await.unwrap();

    assert_eq!(t.delete(&key("D", "1"), None).await.unwrap(), Some(stored));
    assert_eq!(t.get(&key("D", "1"), true).await.unwrap(), None);
    // Deleting what is not there is fine and returns nothing.
    assert_eq!(t.delete(&key("D", "1"), None).await.unwrap(), None);
    assert_eq!(t.delete(&key("D", "never"), None).await.unwrap(), None);
}

async fn failed_conditions_leave_items_unchanged(t: TestTable) {
    let stored = item("F", "1", [("state", s("open")), ("n", Value::Int(1))]);
    t.put(stored.clone(), None).await.unwrap();
    let closed = || Some(Condition::eq("state", "closed"));

    assert_condition_failed(
        t.update(&key("F", "1"), Update::new().add("n", 1), closed())
            .await,
    );
    assert_condition_failed(t.delete(&key("F", "1"), closed()).await);
    assert_condition_failed(t.put(item("F", "1", []), closed()).await);
    assert_eq!(t.get(&key("F", "1"), true).await.unwrap(), Some(stored));

    // An update conditioned on presence does not create a missing item.
    let present = Some(Condition::item_present());
    assert_condition_failed(
        t.update(&key("F", "2"), Update::new().set("x", 1), present)
            .await,
    );
    assert_eq!(t.get(&key("F", "2"), true).await.unwrap(), None);
    let present = Some(Condition::item_present());
    assert_condition_failed(t.delete(&key("F", "2"), present).await);

    // And the same conditions pass when they hold.
    let open = || Some(Condition::eq("state", "open"));
    let n = t
        .update(&key("F", "1"), Update::new().add("n", 1), open())
        .await
        .unwrap();
    assert_eq!(n["n"], Value::Int(2));
    assert!(t.delete(&key("F", "1"), open()).await.unwrap().is_some());
}

both_engines!(
    put_get_round_trips_every_value_type,
    items_without_string_keys_are_validation_errors,
    index_key_attributes_must_be_non_empty_strings,
    oversized_keys_and_items_are_validation_errors,
    conditional_put_conflict,
    update_returns_all_new_and_creates_missing_items,
    add_starts_from_zero,
    add_to_a_non_number_is_a_validation_error,
    delete_returns_all_old,
    failed_conditions_leave_items_unchanged
);

// ---------------------------------------------------------------------------------------------
// Conditions

async fn conditions_behave_as_matches_documents(t: TestTable) {
    let stored = item(
        "K",
        "1",
        [
            ("s", s("apple")),
            ("n", Value::Int(5)),
            ("f", Value::Float(2.5)),
            ("b", Value::Bool(true)),
        ],
    );
    t.put(stored.clone(), None).await.unwrap();

    use Condition as C;
    let yes = || C::Exists("s".into());
    let no = || C::Exists("zz".into());
    // (condition, whether it holds on `stored`), pinned by hand.
    let cases: Vec<(C, bool)> = vec![
        (C::Exists("s".into()), true),
        (C::Exists("zz".into()), false),
        (C::NotExists("zz".into()), true),
        (C::NotExists("s".into()), false),
        (C::item_present(), true),
        (C::item_absent(), false),
        (C::Eq("s".into(), s("apple")), true),
        (C::Eq("s".into(), s("Apple")), false),
        (C::Eq("n".into(), Value::Int(5)), true),
        (C::Eq("n".into(), Value::Float(5.0)), true),
        (C::Eq("n".into(), Value::Int(6)), false),
        (C::Eq("b".into(), Value::Bool(true)), true),
        (C::Eq("zz".into(), s("x")), false),
        (C::Ne("s".into(), s("pear")), true),
        (C::Ne("s".into(), s("apple")), false),
        (C::Ne("zz".into(), s("x")), true),
        (C::Lt("n".into(), Value::Int(6)), true),
        (C::Lt("n".into(), Value::Int(5)), false),
        (C::Le("n".into(), Value::Int(5)), true),
        (C::Le("n".into(), Value::Int(4)), false),
        (C::Gt("f".into(), Value::Float(2.4)), true),
        (C::Gt("f".into(), Value::Float(2.5)), false),
        (C::Ge("f".into(), Value::Float(2.5)), true),
        (C::Ge("n".into(), Value::Float(5.5)), false),
        (C::Gt("n".into(), Value::Float(4.5)), true),
        // Strings compare by UTF-8 bytes: "apple" < "apricot", and lower case > upper case.
        (C::Lt("s".into(), s("apricot")), true),
        (C::Gt("s".into(), s("Apple")), true),
        (C::Le("s".into(), s("apple")), true),
        (C::Ge("s".into(), s("b")), false),
        (C::Lt("zz".into(), Value::Int(1)), false),
        (C::Gt("zz".into(), Value::Int(1)), false),
        (C::BeginsWith("s".into(), "app".into()), true),
        (C::BeginsWith("s".into(), "apple".into()), true),
        (C::BeginsWith("s".into(), "pp".into()), false),
        (C::BeginsWith("zz".into(), "a".into()), false),
        (C::And(vec![yes(), yes()]), true),
        (C::And(vec![yes(), no()]), false),
        (C::Or(vec![no(), yes()]), true),
        (C::Or(vec![no(), no()]), false),
        (C::Not(Box::new(no())), true),
        (C::Not(Box::new(yes())), false),
        (C::Not(Box::new(C::Eq("s".into(), s("apple")))), false),
        (
            yes()
                .and(C::Lt("n".into(), Value::Int(10)))
                .and(C::Ne("s".into(), s("x"))),
            true,
        ),
        (
            yes().and(C::Lt("n".into(), Value::Int(10))).and(no()),
            false,
        ),
        (
            C::And(vec![
                C::Or(vec![no(), C::BeginsWith("s".into(), "ap".into())]),
                C::Not(Box::new(C::Or(vec![
                    no(),
                    C::Eq("n".into(), Value::Int(4)),
                ]))),
            ]),
            true,
        ),
    ];

    let k = key("K", "1");
    let mut wrong = Vec::new();
    for (i, (cond, expected)) in cases.iter().enumerate() {
        assert_eq!(
            cond.matches(Some(&stored)),
            *expected,
            "pinned case disagrees: {cond:?}"
        );
        // The update touches only its own `probe_<i>`, which no condition names. A SET, not an
        // ADD: the table's retry of an update whose answer was lost (a busy moto) repeats it.
        let probe = format!("probe_{i:02}");
        let result = t.update(&k, Update::new().set(&probe, 1), Some(cond.clone()));
        let got = held(result.await);
        if got != *expected {
            wrong.push(format!("{cond:?}: expected {expected}, engine said {got}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "conditions evaluated wrongly:\n{}",
        wrong.join("\n")
    );

    let mut after = t.get(&key("K", "1"), true).await.unwrap().unwrap();
    let applied: Vec<usize> = (0..cases.len())
        .filter(|i| after.remove(&format!("probe_{i:02}")).is_some())
        .collect();
    let trues: Vec<usize> = (0..cases.len()).filter(|i| cases[*i].1).collect();
    assert_eq!(
        applied, trues,
        "exactly the updates whose condition held applied"
    );
    assert_eq!(after, stored, "conditions must not change the item");
}

async fn conditions_on_a_missing_item(t: TestTable) {
    use Condition as C;
    let cases: Vec<(C, bool)> = vec![
        (C::item_absent(), true),
        (C::item_present(), false),
        (C::NotExists("s".into()), true),
        (C::Exists("s".into()), false),
        (C::Ne("s".into(), s("x")), true),
        (C::Eq("s".into(), s("x")), false),
        (C::Lt("n".into(), Value::Int(1)), false),
        (C::Ge("n".into(), Value::Int(1)), false),
        (C::BeginsWith("s".into(), "".into()), false),
        (C::Not(Box::new(C::item_present())), true),
        (
            C::Or(vec![C::item_present(), C::NotExists("n".into())]),
            true,
        ),
        (C::And(vec![C::item_absent(), C::Exists("n".into())]), false),
    ];
    let mut wrong = Vec::new();
    for (i, (cond, expected)) in cases.iter().enumerate() {
        assert_eq!(
            cond.matches(None),
            *expected,
            "pinned case disagrees: {cond:?}"
        );
        let k = key("M", &format!("{i:02}"));
        let got = held(
            t.put(item("M", &format!("{i:02}"), []), Some(cond.clone()))
                .await,
        );
        let exists = t.get(&k, true).await.unwrap().is_some();
        if got != *expected || exists != *expected {
            wrong.push(format!(
                "{cond:?}: expected {expected}, got {got}, written {exists}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "conditions on a missing item:\n{}",
        wrong.join("\n")
    );
}

async fn conditions_see_expired_items(t: TestTable) {
    let now = t.now_epoch();
    t.put(
        item("E", "1", [(attr::EXPIRES_AT, Value::Int(now - 5))]),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        t.get(&key("E", "1"), true).await.unwrap(),
        None,
        "expired: invisible"
    );

    // The expired leftover still exists for conditions, as in DynamoDB before TTL runs.
    assert_condition_failed(
        t.put(item("E", "1", []), Some(Condition::item_absent()))
            .await,
    );

    // absent_or_expired is how writers reuse such a key.
    let fresh = item(
        "E",
        "1",
        [
            ("v", Value::Int(2)),
            (attr::EXPIRES_AT, Value::Int(now + 60)),
        ],
    );
    t.put(fresh.clone(), Some(Condition::absent_or_expired(now)))
        .await
        .unwrap();
    assert_eq!(
        t.get(&key("E", "1"), true).await.unwrap(),
        Some(fresh.clone())
    );

    // The live item is neither absent nor expired.
    let again = item("E", "1", [("v", Value::Int(3))]);
    assert_condition_failed(t.put(again, Some(Condition::absent_or_expired(now))).await);
    assert_eq!(t.get(&key("E", "1"), true).await.unwrap(), Some(fresh));

    // A missing item is absent.
    t.put(item("E", "2", []), Some(Condition::absent_or_expired(now)))
        .await
        .unwrap();
}

both_engines!(
    conditions_behave_as_matches_documents,
    conditions_on_a_missing_item,
    conditions_see_expired_items
);

// ---------------------------------------------------------------------------------------------
// Transactions

async fn transaction_applies_every_operation(t: TestTable) {
    t.put(item("T", "check", [("state", s("open"))]), None)
        .await
        .unwrap();
    t.put(item("T", "gone", [("v", Value::Int(1))]), None)
        .await
        .unwrap();
    t.put(item("T", "counter", [("n", Value::Int(10))]), None)
        .await
        .unwrap();

    t.transact_write(vec![
        TxOp::Put {
            item: item("T", "new", [("v", s("x"))]),
            condition: Some(Condition::item_absent()),
        },
        TxOp::Update {
            key: key("T", "counter"),
            update: Update::new().add("n", 1),
            condition: Some(Condition::item_present()),
        },
        TxOp::Update {
            key: key("T", "created"),
            update: Update::new().add("n", 1),
            condition: None,
        },
        TxOp::Delete {
            key: key("T", "gone"),
            condition: Some(Condition::item_present()),
        },
        TxOp::Check {
            key: key("T", "check"),
            condition: Condition::eq("state", "open"),
        },
    ])
    .await
    .unwrap();

    let got = |sk: &'static str| {
        let t = &t;
        async move { t.get(&key("T", sk), true).await.unwrap() }
    };
    assert_eq!(got("new").await, Some(item("T", "new", [("v", s("x"))])));
    assert_eq!(
        got("counter").await,
        Some(item("T", "counter", [("n", Value::Int(11))]))
    );
    assert_eq!(
        got("created").await,
        Some(item("T", "created", [("n", Value::Int(1))]))
    );
    assert_eq!(got("gone").await, None);
    assert_eq!(
        got("check").await,
        Some(item("T", "check", [("state", s("open"))]))
    );
}

async fn transaction_rollback_reports_the_failing_index(t: TestTable) {
    let check = item("T", "c", [("state", s("open"))]);
    let doomed = item("T", "d", [("v", Value::Int(1))]);
    let counter = item("T", "b", [("n", Value::Int(1))]);
    put_all(&t, vec![check.clone(), doomed.clone(), counter.clone()]).await;

    let result = t
        .transact_write(vec![
            TxOp::Put {
                item: item("T", "a", []),
                condition: None,
            },
            TxOp::Update {
                key: key("T", "b"),
                update: Update::new().add("n", 1),
                condition: None,
            },
            TxOp::Check {
                key: key("T", "c"),
                condition: Condition::eq("state", "closed"),
            },
            TxOp::Delete {
                key: key("T", "d"),
                condition: None,
            },
        ])
        .await;
    let err = result.expect_err("the check fails, so the transaction must be cancelled");
    assert_eq!(err.failed_condition_index(), Some(2), "{err:?}");
    match &err {
        StoreError::TransactionCanceled { reasons } => assert_eq!(
            reasons,
            &vec![
                CancelReason::None,
                CancelReason::None,
                CancelReason::ConditionFailed,
                CancelReason::None
            ]
        ),
        other => panic!("expected TransactionCanceled, got {other:?}"),
    }
    assert!(!err.is_retryable());

    // Nothing of it was written.
    assert_eq!(t.get(&key("T", "a"), true).await.unwrap(), None);
    assert_eq!(t.get(&key("T", "b"), true).await.unwrap(), Some(counter));
    assert_eq!(
        t.get(&key("T", "c"), true).await.unwrap(),
        Some(check.clone())
    );
    assert_eq!(t.get(&key("T", "d"), true).await.unwrap(), Some(doomed));
}

async fn transaction_reports_every_failed_condition(t: TestTable) {
    t.put(item("T", "taken", []), None).await.unwrap();
    let err = t
        .transact_write(vec![
            TxOp::Check {
                key: key("T", "missing"),
                condition: Condition::item_present(),
            },
            TxOp::Put {
                item: item("T", "free", []),
                condition: Some(Condition::item_absent()),
            },
            TxOp::Put {
                item: item("T", "taken", []),
                condition: Some(Condition::item_absent()),
            },
        ])
        .await
        .expect_err("two conditions fail");
    assert_eq!(err.failed_condition_index(), Some(0), "{err:?}");
    match &err {
        StoreError::TransactionCanceled { reasons } => assert_eq!(
            reasons,
            &vec![
                CancelReason::ConditionFailed,
                CancelReason::None,
                CancelReason::ConditionFailed
            ]
        ),
        other => panic!("expected TransactionCanceled, got {other:?}"),
    }
    assert_eq!(t.get(&key("T", "free"), true).await.unwrap(), None);
}

async fn transaction_of_100_operations_succeeds_and_101_is_rejected(t: TestTable) {
    assert_eq!(MAX_TRANSACTION_OPS, 100);
    let ops = |prefix: &str, n: usize| -> Vec<TxOp> {
        (0..n)
            .map(|i| TxOp::Put {
                item: item(
                    "TX",
                    &format!("{prefix}#{i:03}"),
                    [("i", Value::Int(i as i64))],
                ),
                condition: Some(Condition::item_absent()),
            })
            .collect()
    };
    let keys = |prefix: &str, n: usize| -> Vec<Key> {
        (0..n)
            .map(|i| key("TX", &format!("{prefix}#{i:03}")))
            .collect()
    };

    t.transact_write(ops("ok", 100)).await.unwrap();
    let got = t.batch_get(&keys("ok", 100)).await.unwrap();
    assert_eq!(got.iter().filter(|i| i.is_some()).count(), 100);

    assert_validation(t.transact_write(ops("big", 101)).await);
    let got = t.batch_get(&keys("big", 101)).await.unwrap();
    assert_eq!(got.len(), 101);
    assert!(
        got.iter().all(Option::is_none),
        "a rejected transaction wrote something"
    );
}

async fn transaction_with_two_operations_on_one_item_is_rejected(t: TestTable) {
    t.put(item("TX", "counter", [("n", Value::Int(1))]), None)
        .await
        .unwrap();
    let result = t
        .transact_write(vec![
            TxOp::Put {
                item: item("TX", "x", []),
                condition: None,
            },
            TxOp::Update {
                key: key("TX", "counter"),
                update: Update::new().add("n", 1),
                condition: None,
            },
            TxOp::Update {
                key: key("TX", "x"),
                update: Update::new().set("v", 1),
                condition: None,
            },
        ])
        .await;
    assert_validation(result);
    assert_eq!(t.get(&key("TX", "x"), true).await.unwrap(), None);
    let counter = t.get(&key("TX", "counter"), true).await.unwrap().unwrap();
    assert_eq!(counter["n"], Value::Int(1));

    // A check and a write on one item is two operations on it too.
    let result = t
        .transact_write(vec![
            TxOp::Check {
                key: key("TX", "counter"),
                condition: Condition::item_present(),
            },
            TxOp::Delete {
                key: key("TX", "counter"),
                condition: None,
            },
        ])
        .await;
    assert_validation(result);
    assert!(t.get(&key("TX", "counter"), true).await.unwrap().is_some());
}

both_engines!(
    transaction_applies_every_operation,
    transaction_rollback_reports_the_failing_index,
    transaction_reports_every_failed_condition,
    transaction_of_100_operations_succeeds_and_101_is_rejected,
    transaction_with_two_operations_on_one_item_is_rejected
);

// ---------------------------------------------------------------------------------------------
// Queries

/// Sort keys chosen to exercise byte order: upper case before lower case, `#` before letters,
/// and a non-ASCII letter after all ASCII.
const QUERY_SKS: [&str; 11] = [
    "Z", "a", "b", "b#1", "b#2", "ba", "c", "d", "e#x", "é", "éa",
];

async fn query_with_every_sort_condition(t: TestTable) {
    let mut items: Vec<Item> = QUERY_SKS
        .iter()
        .map(|sk| item("Q", sk, [("sk_copy", s(sk))]))
        .collect();
    // Neighbouring partitions, one a prefix of the other, must not leak in.
    items.extend(QUERY_SKS.iter().map(|sk| item("Q#", sk, [])));
    items.extend(QUERY_SKS.iter().map(|sk| item("QQ", sk, [])));
    put_all(&t, items).await;

    use SortCondition as S;
    // (condition, how many of QUERY_SKS it selects), the count pinned by hand.
    let cases = [
        (S::Eq("b".into()), 1),
        (S::Eq("b#".into()), 0),
        (S::Lt("b#1".into()), 3),
        (S::Le("b#1".into()), 4),
        (S::Gt("c".into()), 4),
        (S::Ge("c".into()), 5),
        (S::BeginsWith("b".into()), 4),
        (S::BeginsWith("é".into()), 2),
        (S::Between("b#1".into(), "c".into()), 4),
        (S::Between("a".into(), "a".into()), 1),
    ];
    let mut sorted: Vec<&str> = QUERY_SKS.to_vec();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(sorted, QUERY_SKS, "QUERY_SKS is listed in byte order");

    // No sort condition: the whole partition, in byte order.
    let all = t
        .query(Query::new(Index::Primary, "Q").consistent())
        .await
        .unwrap();
    assert_eq!(sks(&all.items), QUERY_SKS);
    assert!(all.next.is_none());
    assert!(
        all.items.iter().all(|i| i["sk_copy"] == i[attr::SK]),
        "items are whole"
    );

    for (cond, count) in cases {
        let expected: Vec<&str> = sorted
            .iter()
            .copied()
            .filter(|sk| cond.matches(sk))
            .collect();
        assert_eq!(expected.len(), count, "pinned count disagrees for {cond:?}");
        let asc = t
            .query(Query::new(Index::Primary, "Q").sort(cond.clone()))
            .await
            .unwrap();
        assert_eq!(sks(&asc.items), expected, "ascending {cond:?}");
        assert!(asc.next.is_none(), "no limit: one page ({cond:?})");

        let desc = t
            .query(
                Query::new(Index::Primary, "Q")
                    .sort(cond.clone())
                    .descending(),
            )
            .await;
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(sks(&desc.unwrap().items), reversed, "descending {cond:?}");
    }

    // A partition with no items.
    let none = t
        .query(Query::new(Index::Primary, "nothing"))
        .await
        .unwrap();
    assert!(none.items.is_empty() && none.next.is_none());
}

async fn query_pages_without_duplicates_or_gaps(t: TestTable) {
    let sk = |i: usize| format!("I#{i:03}");
    let mut items: Vec<Item> = (0..120)
        .map(|i| item("P", &sk(i), [("i", Value::Int(i as i64))]))
        .collect();
    items.extend((0..5).map(|i| item("P2", &sk(i), [])));
    put_all(&t, items).await;

    let ascending: Vec<String> = (0..120).map(sk).collect();
    let descending: Vec<String> = ascending.iter().rev().cloned().collect();
    for size in [1u32, 7, 50] {
        let asc = query_all_full(&t, Query::new(Index::Primary, "P").limit(size)).await;
        assert_eq!(sks(&asc), ascending, "ascending, pages of {size}");
        let desc =
            query_all_full(&t, Query::new(Index::Primary, "P").limit(size).descending()).await;
        assert_eq!(sks(&desc), descending, "descending, pages of {size}");

        // Paging within a sort condition.
        let cond = SortCondition::Between(sk(10), sk(29));
        let window = query_all_full(
            &t,
            Query::new(Index::Primary, "P")
                .sort(cond.clone())
                .limit(size),
        );
        assert_eq!(
            sks(&window.await),
            ascending[10..30],
            "between, pages of {size}"
        );
        let q = Query::new(Index::Primary, "P")
            .sort(cond)
            .limit(size)
            .descending();
        let mut back: Vec<String> = ascending[10..30].to_vec();
        back.reverse();
        assert_eq!(
            sks(&query_all_full(&t, q).await),
            back,
            "between descending, pages of {size}"
        );
    }

    // A page of exactly the limit is full, and its cursor continues after its last item.
    let first = t
        .query(Query::new(Index::Primary, "P").limit(7))
        .await
        .unwrap();
    assert_eq!(sks(&first.items), ascending[..7]);
    let cursor = first.next.expect("more pages follow");
    let second = t
        .query(Query::new(Index::Primary, "P").limit(7).after(Some(cursor)))
        .await;
    assert_eq!(sks(&second.unwrap().items), ascending[7..14]);
}

async fn query_filter_applies_after_the_limit(t: TestTable) {
    let items: Vec<Item> = (0..30)
        .map(|i| {
            let state = if i % 2 == 0 { "on" } else { "off" };
            item(
                "FQ",
                &format!("{i:02}"),
                [("state", s(state)), ("i", Value::Int(i))],
            )
        })
        .collect();
    put_all(&t, items).await;
    let on = || Condition::eq("state", "on");
    let evens: Vec<String> = (0..30).step_by(2).map(|i| format!("{i:02}")).collect();

    let all = t
        .query(Query::new(Index::Primary, "FQ").filter(on()))
        .await
        .unwrap();
    assert_eq!(sks(&all.items), evens);

    // The limit counts evaluated items, before the filter (DynamoDB's Limit).
    let page = t
        .query(Query::new(Index::Primary, "FQ").limit(4).filter(on()))
        .await
        .unwrap();
    assert_eq!(sks(&page.items), ["00", "02"]);
    assert!(page.next.is_some(), "26 items were not evaluated yet");

    // Paging through a filtered query still finds every match, once.
    for size in [1, 7, 50] {
        let mut got = Vec::new();
        let mut cursor = None;
        for _ in 0..100 {
            let q = Query::new(Index::Primary, "FQ")
                .limit(size)
                .filter(on())
                .after(cursor);
            let page = t.query(q).await.unwrap();
            got.extend(page.items);
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        assert!(cursor.is_none(), "filtered paging did not end");
        assert_eq!(sks(&got), evens, "filtered, pages of {size}");
    }

    // A filter with a compound condition, descending.
    let cond = Condition::And(vec![on(), Condition::Ge("i".into(), Value::Int(24))]);
    let q = Query::new(Index::Primary, "FQ").filter(cond).descending();
    assert_eq!(sks(&t.query(q).await.unwrap().items), ["28", "26", "24"]);
}

both_engines!(
    query_with_every_sort_condition,
    query_pages_without_duplicates_or_gaps,
    query_filter_applies_after_the_limit
);

// ---------------------------------------------------------------------------------------------
// Global secondary indexes

async fn gsi_queries_page_through_repeated_sort_keys(t: TestTable) {
    // 30 members of one team: GSI1 sort keys repeat six times each, GSI2 ten times each.
    let months = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"];
    let cities = ["ams", "ber", "cph"];
    let items: Vec<Item> = (0..30)
        .map(|i| {
            item(
                &format!("U#{i:02}"),
                "MEMBER",
                [
                    (attr::GSI1PK, s("TEAM#1")),
                    (attr::GSI1SK, s(months[i % 5])),
                    (attr::GSI2PK, s("TEAM#1")),
                    (attr::GSI2SK, s(cities[i % 3])),
                    ("i", Value::Int(i as i64)),
                ],
            )
        })
        .collect();
    let mut all = items.clone();
    // Other partitions of the same indexes.
    all.extend((0..4).map(|i| {
        item(
            &format!("U#x{i}"),
            "MEMBER",
            [
                (attr::GSI1PK, s("TEAM#2")),
                (attr::GSI1SK, s("2024-01")),
                (attr::GSI2PK, s("TEAM#2")),
                (attr::GSI2SK, s("ams")),
            ],
        )
    }));
    put_all(&t, all).await;
    let expected_keys: BTreeSet<Key> = keys_of(&items).into_iter().collect();

    for (index, sk_attr) in [(Index::Gsi1, attr::GSI1SK), (Index::Gsi2, attr::GSI2SK)] {
        for size in [1u32, 7, 50] {
            for descending in [false, true] {
                let mut q = Query::new(index, "TEAM#1").limit(size);
                if descending {
                    q = q.descending();
                }
                let got = query_all_full(&t, q).await;
                let what = format!("{index:?}, pages of {size}, descending {descending}");
                let got_keys = keys_of(&got);
                let unique: BTreeSet<Key> = got_keys.iter().cloned().collect();
                assert_eq!(unique.len(), got_keys.len(), "duplicates: {what}");
                assert_eq!(unique, expected_keys, "gaps or strangers: {what}");

                let order: Vec<&str> = got.iter().map(|i| i[sk_attr].as_str().unwrap()).collect();
                let mut sorted = order.clone();
                sorted.sort_unstable();
                if descending {
                    sorted.reverse();
                }
                assert_eq!(order, sorted, "sort key order: {what}");
                // Projection ALL: the whole item comes back.
                for i in &got {
                    let k = Key::of(i).unwrap();
                    let n: usize = k.pk[2..].parse().unwrap();
                    assert_eq!(i, &items[n], "whole item: {what}");
                }
            }
        }
    }

    // Sort conditions on a GSI, paged.
    let q = Query::new(Index::Gsi1, "TEAM#1")
        .sort(SortCondition::Between("2024-02".into(), "2024-03".into()))
        .limit(5);
    let got = query_all_full(&t, q).await;
    assert_eq!(got.len(), 12);
    assert!(
        got.iter()
            .all(|i| ["2024-02", "2024-03"].contains(&i[attr::GSI1SK].as_str().unwrap()))
    );

    let q = Query::new(Index::Gsi2, "TEAM#1")
        .sort(SortCondition::Eq("ber".into()))
        .limit(3);
    let got = query_all_full(&t, q.descending()).await;
    let mut pks: Vec<String> = got
        .iter()
        .map(|i| i[attr::PK].as_str().unwrap().into())
        .collect();
    pks.sort();
    let expected: Vec<String> = (0..30)
        .filter(|i| i % 3 == 1)
        .map(|i| format!("U#{i:02}"))
        .collect();
    assert_eq!(pks, expected);

    let q = Query::new(Index::Gsi1, "TEAM#2").sort(SortCondition::BeginsWith("2024".into()));
    assert_eq!(t.query(q).await.unwrap().items.len(), 4);

    // A filter on a GSI query, paged: members 0..30 with i >= 25, in GSI1 order (month, then
    // any order within a month).
    let q = Query::new(Index::Gsi1, "TEAM#1")
        .filter(Condition::Ge("i".into(), Value::Int(25)))
        .limit(4);
    let got = query_all(&t, q).await;
    let mut is: Vec<i64> = got.iter().map(|i| i["i"].as_i64().unwrap()).collect();
    is.sort_unstable();
    assert_eq!(is, [25, 26, 27, 28, 29]);
    let months_seen: Vec<&str> = got
        .iter()
        .map(|i| i[attr::GSI1SK].as_str().unwrap())
        .collect();
    assert_eq!(
        months_seen,
        ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]
    );
}

async fn sparse_gsis_hold_only_items_with_their_attributes(t: TestTable) {
    let mut items = Vec::new();
    for i in 0..12 {
        let mut attrs = vec![("i", Value::Int(i))];
        if i % 2 == 0 {
            attrs.push((attr::GSI1PK, s("SPARSE")));
            attrs.push((attr::GSI1SK, s(&format!("{i:02}"))));
        }
        if i % 3 == 0 {
            attrs.push((attr::GSI2PK, s("SPARSE")));
            attrs.push((attr::GSI2SK, s(&format!("{i:02}"))));
        }
        items.push(item("S", &format!("{i:02}"), attrs));
    }
    put_all(&t, items).await;

    let gsi1 = t.query(Query::new(Index::Gsi1, "SPARSE")).await.unwrap();
    assert_eq!(sks(&gsi1.items), ["00", "02", "04", "06", "08", "10"]);
    let gsi2 = t.query(Query::new(Index::Gsi2, "SPARSE")).await.unwrap();
    assert_eq!(sks(&gsi2.items), ["00", "03", "06", "09"]);
    assert_eq!(
        t.query(Query::new(Index::Primary, "S"))
            .await
            .unwrap()
            .items
            .len(),
        12
    );

    // Removing the index attributes takes an item out of the index; adding puts one in.
    let out = Update::new().remove(attr::GSI1PK).remove(attr::GSI1SK);
    t.update(&key("S", "04"), out, None).await.unwrap();
    let into = Update::new()
        .set(attr::GSI1PK, "SPARSE")
        .set(attr::GSI1SK, "05");
    t.update(&key("S", "05"), into, None).await.unwrap();
    // Changing the index sort key moves the item within the index.
    t.update(&key("S", "00"), Update::new().set(attr::GSI1SK, "99"), None)
        .await
        .unwrap();
    // Changing the index partition key moves it to another partition.
    t.update(
        &key("S", "02"),
        Update::new().set(attr::GSI1PK, "ELSEWHERE"),
        None,
    )
    .await
    .unwrap();
    t.delete(&key("S", "08"), None).await.unwrap();

    let gsi1 = t.query(Query::new(Index::Gsi1, "SPARSE")).await.unwrap();
    assert_eq!(sks(&gsi1.items), ["05", "06", "10", "00"]);
    let moved = t.query(Query::new(Index::Gsi1, "ELSEWHERE")).await.unwrap();
    assert_eq!(sks(&moved.items), ["02"]);
}

both_engines!(
    gsi_queries_page_through_repeated_sort_keys,
    sparse_gsis_hold_only_items_with_their_attributes
);

// ---------------------------------------------------------------------------------------------
// Batch reads, TTL, scans

async fn batch_get_150_keys_in_key_order(t: TestTable) {
    let now = t.now_epoch();
    let sk = |i: usize| format!("B#{i:03}");
    // Items for i % 3 != 0; item 1 has expired and item 2 expires in the future.
    let items: Vec<Item> = (0..150)
        .filter(|i| i % 3 != 0)
        .map(|i| {
            let mut attrs = vec![("i", Value::Int(i as i64))];
            match i {
                1 => attrs.push((attr::EXPIRES_AT, Value::Int(now - 1))),
                2 => attrs.push((attr::EXPIRES_AT, Value::Int(now + 3600))),
                _ => {}
            }
            item("B", &sk(i), attrs)
        })
        .collect();
    put_all(&t, items).await;

    // A permutation of 0..150, so the order asked differs from the order stored.
    let order: Vec<usize> = (0..150).map(|j| (j * 37 + 11) % 150).collect();
    assert_eq!(order.iter().collect::<HashSet<_>>().len(), 150);
    let keys: Vec<Key> = order.iter().map(|&i| key("B", &sk(i))).collect();

    let got = t.batch_get(&keys).await.unwrap();
    assert_eq!(got.len(), 150);
    let mut present = 0;
    for ((k, &i), result) in keys.iter().zip(&order).zip(&got) {
        let expect_present = i % 3 != 0 && i != 1;
        match result {
            Some(found) => {
                assert!(expect_present, "{k:?} should be missing");
                assert_eq!(Key::of(found).as_ref(), Some(k), "result out of key order");
                assert_eq!(found["i"], Value::Int(i as i64));
                present += 1;
            }
            None => assert!(!expect_present, "{k:?} is missing from the result"),
        }
    }
    assert_eq!(present, 99);

    assert!(t.batch_get(&[]).await.unwrap().is_empty());
    let one = t
        .batch_get(&[key("B", &sk(2)), key("nope", "nope")])
        .await
        .unwrap();
    assert!(one[0].is_some() && one[1].is_none());
}

async fn expired_items_are_invisible_to_every_read(t: TestTable) {
    let now = t.now_epoch();
    let with = |sk: &str, expires: Option<i64>| {
        let mut attrs = vec![
            (attr::GSI1PK, s("TTL")),
            (attr::GSI1SK, s(sk)),
            (attr::GSI2PK, s("TTL")),
            (attr::GSI2SK, s(sk)),
        ];
        if let Some(at) = expires {
            attrs.push((attr::EXPIRES_AT, Value::Int(at)));
        }
        item("X", sk, attrs)
    };
    put_all(
        &t,
        vec![
            with("a-past", Some(now - 100)),
            with("b-now", Some(now)),
            with("c-soon", Some(now + 60)),
            with("d-never", None),
        ],
    )
    .await;

    let check = |visible: &'static [&'static str]| {
        let t = &t;
        async move {
            let all = ["a-past", "b-now", "c-soon", "d-never"];
            for sk in all {
                let got = t.get(&key("X", sk), true).await.unwrap();
                assert_eq!(got.is_some(), visible.contains(&sk), "get {sk}");
            }
            let keys: Vec<Key> = all.iter().map(|sk| key("X", sk)).collect();
            let batch = t.batch_get(&keys).await.unwrap();
            let seen: Vec<&str> = all
                .iter()
                .zip(&batch)
                .filter(|(_, r)| r.is_some())
                .map(|(sk, _)| *sk)
                .collect();
            assert_eq!(seen, visible, "batch_get");
            for index in [Index::Primary, Index::Gsi1, Index::Gsi2] {
                let pk = if index == Index::Primary { "X" } else { "TTL" };
                let page = t.query(Query::new(index, pk)).await.unwrap();
                assert_eq!(sks(&page.items), visible, "query on {index:?}");
                let paged = query_all(t, Query::new(index, pk).limit(1)).await;
                assert_eq!(sks(&paged), visible, "paged query on {index:?}");
            }
            let mut scanned = sks(&scan_everything(t).await);
            scanned.sort();
            assert_eq!(scanned, visible, "scan");
        }
    };

    check(&["c-soon", "d-never"]).await;
    t.clock().advance(Duration::seconds(59));
    check(&["c-soon", "d-never"]).await;
    // At its expiry second the item is gone (expires_at <= now).
    t.clock().advance(Duration::seconds(1));
    check(&["d-never"]).await;
}

async fn parallel_scan_covers_every_item_exactly_once(t: TestTable) {
    let mut items = Vec::new();
    for p in 0..20 {
        for sk in 0..3 {
            items.push(item(
                &format!("SC#{p:02}"),
                &format!("{sk}"),
                [("p", Value::Int(p))],
            ));
        }
    }
    put_all(&t, items.clone()).await;
    let expected: BTreeSet<Key> = keys_of(&items).into_iter().collect();

    let mut seen: Vec<Key> = Vec::new();
    let mut non_empty_segments = 0;
    for segment in 0..4 {
        let got = scan_segment(&t, Scan::segment(segment, 4).limit(3)).await;
        if !got.is_empty() {
            non_empty_segments += 1;
        }
        seen.extend(keys_of(&got));
    }
    let unique: BTreeSet<Key> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "an item was scanned twice");
    assert_eq!(unique, expected, "the segments must cover the table");
    // Not a correctness rule but the point of segments: with any reasonable spread, 20
    // partitions do not all land in one of 4 segments (chance 4^-19).
    assert!(
        non_empty_segments >= 2,
        "all 20 partitions SC#00..SC#19 fell into one segment of 4: the segment hash does not \
         spread similar partition keys, so a parallel scan would do all its work in one worker"
    );

    // A whole-table scan sees the same; a filter narrows a scan.
    let whole: BTreeSet<Key> = keys_of(&scan_everything(&t).await).into_iter().collect();
    assert_eq!(whole, expected);
    let mut filtered = Vec::new();
    for segment in 0..4 {
        let scan = Scan::segment(segment, 4)
            .limit(5)
            .filter(Condition::Lt("p".into(), Value::Int(2)));
        filtered.extend(keys_of(&scan_segment(&t, scan).await));
    }
    filtered.sort();
    let expected_filtered: Vec<Key> = expected
        .iter()
        .filter(|k| k.pk == "SC#00" || k.pk == "SC#01")
        .cloned()
        .collect();
    assert_eq!(filtered, expected_filtered);
}

both_engines!(
    batch_get_150_keys_in_key_order,
    expired_items_are_invisible_to_every_read,
    parallel_scan_covers_every_item_exactly_once
);

// ---------------------------------------------------------------------------------------------
// Concurrency

// On moto the calls reach the server one at a time (`api_tests::moto`: moto's own calls are not
// atomic, and a run of the suite saw two concurrent ADDs both return 1); DynamoDB and the
// embedded engine make every call atomic, and the embedded run is where these races are real.
async fn concurrent_conditional_puts_have_exactly_one_winner(t: TestTable) {
    let atomic = isolated(&t, Isolation::EveryCall);
    let tasks: Vec<_> = (0..20)
        .map(|writer| {
            let table = atomic.clone();
            tokio::spawn(async move {
                let it = item("RACE", "1", [("writer", Value::Int(writer))]);
                (writer, table.put(it, Some(Condition::item_absent())).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = 0;
    for task in tasks {
        match task.await.expect("task") {
            (writer, Ok(())) => winners.push(writer),
            (_, Err(StoreError::ConditionFailed)) => losers += 1,
            (_, Err(e)) => panic!("a racing put failed with {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(losers, 19);
    let stored = t.get(&key("RACE", "1"), true).await.unwrap().unwrap();
    assert_eq!(stored["writer"], Value::Int(winners[0]));
}

async fn concurrent_adds_are_atomic(t: TestTable) {
    let atomic = isolated(&t, Isolation::EveryCall);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let table = atomic.clone();
            tokio::spawn(async move {
                table
                    .update(&key("COUNT", "1"), Update::new().add("n", 1), None)
                    .await
            })
        })
        .collect();
    let mut returned = Vec::new();
    for task in tasks {
        let after = task.await.expect("task").expect("ADD");
        returned.push(after["n"].as_i64().expect("n is a number"));
    }
    // Each ADD saw its own value: the ALL_NEW results are exactly 1..=50.
    returned.sort_unstable();
    assert_eq!(returned, (1..=50).collect::<Vec<i64>>());
    let stored = t.get(&key("COUNT", "1"), true).await.unwrap().unwrap();
    assert_eq!(stored["n"], Value::Int(50));
}

both_engines!(
    concurrent_conditional_puts_have_exactly_one_winner,
    concurrent_adds_are_atomic
);

// ---------------------------------------------------------------------------------------------
// Bad input, health

async fn malformed_cursors_are_bad_cursor_errors(t: TestTable) {
    put_all(
        &t,
        (0..3).map(|i| item("MC", &format!("{i}"), [])).collect(),
    )
    .await;
    let wrong_attrs =
        Cursor::from_key_attrs(&BTreeMap::from([("nope".to_owned(), "x".to_owned())]));
    let cursors = [
        Cursor::from_client("!!not a cursor!!"),
        Cursor::from_client("bm90IGpzb24"), // base64 of "not json"
        wrong_attrs,
    ];
    for cursor in cursors {
        for index in [Index::Primary, Index::Gsi1] {
            let q = Query::new(index, "MC").after(Some(cursor.clone()));
            assert_bad_cursor(t.query(q).await);
        }
        assert_bad_cursor(
            t.scan(Scan::segment(0, 1).after(Some(cursor.clone())))
                .await,
        );
    }
    // A good cursor still works afterwards.
    let first = t
        .query(Query::new(Index::Primary, "MC").limit(1))
        .await
        .unwrap();
    let rest = t
        .query(Query::new(Index::Primary, "MC").after(first.next))
        .await
        .unwrap();
    assert_eq!(sks(&rest.items), ["1", "2"]);
}

async fn bad_query_and_scan_parameters_are_validation_errors(t: TestTable) {
    put_all(&t, vec![item("BQ", "1", [])]).await;
    // DynamoDB's bounds: Limit at least 1, Segment below TotalSegments, TotalSegments at least 1.
    assert_validation(t.query(Query::new(Index::Primary, "BQ").limit(0)).await);
    assert_validation(t.scan(Scan::segment(0, 1).limit(0)).await);
    assert_validation(t.scan(Scan::segment(4, 4)).await);
    assert_validation(t.scan(Scan::segment(0, 0)).await);
    assert_eq!(
        scan_segment(&t, Scan::segment(0, 1).limit(1)).await.len(),
        1
    );
}

both_engines!(
    malformed_cursors_are_bad_cursor_errors,
    bad_query_and_scan_parameters_are_validation_errors,
);

// The inline form of the macro, so both forms stay compiled.
both_engines!(
    async fn health_answers(t: TestTable) {
        t.health().await.unwrap();
        let expected = match t.engine() {
            api_tests::Engine::Embedded => "embedded",
            api_tests::Engine::DynamoDb => "dynamodb",
        };
        assert_eq!(t.table().engine(), expected);
        assert_eq!(t.engine().to_string(), expected);
    }
);
