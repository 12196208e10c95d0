//! The event log writer: one put per event, the stored shape, retention by severity, refused
//! metadata, and the anonymous partition.

use std::sync::Arc;

use accounts::App;
use accounts::activity::events::{
    EventRecord, EventType, NewEvent, Severity, log_event, log_event_best_effort,
};
use accounts::auth::client::ClientInfo;
use accounts::clock::Clock;
use accounts::config::{Config, Deployment};
use accounts::error::Error;
use accounts::model::UserId;
use accounts::store::counting::CountingTable;
use accounts::store::{Index, Item, Key, Query, SortCondition, Value, keys};
use api_tests::{TestTable, both_engines};
use chrono::Duration;
use serde_json::json;

/// An App over the test's table with every store call counted.
async fn counted_app(t: &TestTable) -> (App, Arc<CountingTable>) {
    let counting = Arc::new(CountingTable::new(t.table()));
    let data_dir = t.dir().to_str().expect("temp dir is UTF-8").to_owned();
    let config = Config::from(&[("DATA_DIR", data_dir.as_str())], Deployment::Local)
        .expect("the local test configuration is valid");
    let app = App::assemble(config, t.dyn_clock(), counting.clone(), None)
        .await
        .unwrap_or_else(|e| panic!("build the App: {e}"));
    (app, counting)
}

fn client() -> ClientInfo {
    ClientInfo {
        ip: Some([198, 51, 100, 23].into()),
        user_agent: Some(
            "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0".into(),
        ),
        accept_language: Some("en".into()),
        ..ClientInfo::default()
    }
}

/// Every live event item in a partition, oldest first.
async fn partition(t: &TestTable, pk: String) -> Vec<Item> {
    let query = Query::new(Index::Primary, pk)
        .sort(SortCondition::BeginsWith(keys::EVENT_PREFIX.into()))
        .consistent();
    t.query(query).await.expect("query a partition").items
}

fn s<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{name} is not a string in {item:?}"))
}

fn n(item: &Item, name: &str) -> i64 {
    item.get(name)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("{name} is not a number in {item:?}"))
}

async fn an_event_is_one_put_of_the_documented_shape(t: TestTable) {
    let (app, counting) = counted_app(&t).await;
    let user = UserId(11);
    let event = NewEvent::new(EventType::NewDeviceLogin, Some(user))
        .client(&client())
        .session("01HSESSION0000000000000000")
        .description("Login from a new device")
        .metadata(json!({"new_device": true, "browser": "Firefox"}))
        .target(UserId(12));
    log_event(&app, event).await.expect("logged");
    let calls = counting.snapshot().calls;
    assert_eq!(
        (calls.put, calls.writes(), calls.reads()),
        (1, 1, 0),
        "exactly one put"
    );

    let items = partition(&t, keys::user_partition(user)).await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    let event_id = s(item, "event_id");
    assert_eq!(event_id.len(), 26, "a ULID");
    assert_eq!(Key::of(item), Some(keys::event(user, event_id)));
    let (gsi_pk, gsi_sk) = keys::event_type_index("new_device_login", event_id);
    assert_eq!(
        (s(item, "GSI1PK"), s(item, "GSI1SK")),
        (gsi_pk.as_str(), gsi_sk.as_str())
    );
    assert_eq!(s(item, "event_type"), "new_device_login");
    assert_eq!(s(item, "severity"), "medium");
    assert_eq!(s(item, "description"), "Login from a new device");
    assert_eq!(s(item, "session_id"), "01HSESSION0000000000000000");
    assert_eq!(s(item, "ip_address"), "198.51.100.23");
    assert!(s(item, "user_agent").contains("Firefox/121.0"));
    assert_eq!(n(item, "user_id"), 11);
    assert_eq!(n(item, "target_user"), 12);
    assert_eq!(item.get("success").and_then(Value::as_bool), Some(true));
    assert_eq!(item.get("is_security").and_then(Value::as_bool), Some(true));
    assert_eq!(
        item.get("requires_review").and_then(Value::as_bool),
        Some(false)
    );
    // medium 20 + security 10 + new_device 10
    assert_eq!(n(item, "risk_score"), 40);
    assert!(!item.contains_key("error_message") && !item.contains_key("reviewed_at"));
    let metadata = match item.get("metadata") {
        Some(Value::M(map)) => map,
        other => panic!("metadata is not a map: {other:?}"),
    };
    assert_eq!(
        metadata.get("browser").and_then(Value::as_str),
        Some("Firefox")
    );
    let now = t.clock().now();
    assert_eq!(n(item, "expires_at"), now.timestamp() + 365 * 86_400);
    let record = EventRecord::from_item(item).expect("reads back");
    assert_eq!(record.created_at, now);
    assert_eq!(record.user_id, Some(user));

    // The type index finds it.
    let by_type = t
        .query(Query::new(Index::Gsi1, gsi_pk))
        .await
        .expect("query GSI1");
    assert_eq!(by_type.items.len(), 1);

    // A failure records its message and raises the risk.
    let failed = NewEvent::new(EventType::LoginFailed, Some(user)).failed("Wrong password.");
    log_event(&app, failed).await.expect("logged");
    let items = partition(&t, keys::user_partition(user)).await;
    let failed = items
        .iter()
        .find(|i| s(i, "event_type") == "login_failed")
        .expect("stored");
    assert_eq!(item_bool(failed, "success"), Some(false));
    assert_eq!(s(failed, "error_message"), "Wrong password.");
    assert_eq!(n(failed, "risk_score"), 45); // medium 20 + failure 15 + security 10
}

fn item_bool(item: &Item, name: &str) -> Option<bool> {
    item.get(name).and_then(Value::as_bool)
}

async fn retention_follows_severity(t: TestTable) {
    let (app, _) = counted_app(&t).await;
    let user = UserId(5);
    for severity in [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ] {
        let event = NewEvent::new(EventType::SecurityAlert, Some(user)).severity(severity);
        log_event(&app, event).await.expect("logged");
    }
    log_event(
        &app,
        NewEvent::new(EventType::TokenReuseDetected, Some(user)),
    )
    .await
    .expect("logged");
    let now = t.now_epoch();
    let items = partition(&t, keys::user_partition(user)).await;
    let mut kept: Vec<(String, i64, bool)> = items
        .iter()
        .map(|i| {
            (
                s(i, "severity").to_owned(),
                (n(i, "expires_at") - now) / 86_400,
                item_bool(i, "requires_review").unwrap(),
            )
        })
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        [
            ("critical".to_owned(), 730, true),
            ("high".to_owned(), 730, true),
            ("high".to_owned(), 730, true),
            ("low".to_owned(), 90, false),
            ("medium".to_owned(), 365, false),
        ]
    );

    // Reads stop showing each event when its retention ends.
    let live = |days: i64| {
        let t = &t;
        async move {
            t.clock().advance(Duration::days(days));
            partition(t, keys::user_partition(user)).await.len()
        }
    };
    assert_eq!(live(90).await, 4, "low events live 90 days");
    assert_eq!(live(365 - 90).await, 3);
    assert_eq!(live(730 - 365).await, 0);
}

async fn oversized_or_malformed_metadata_is_refused_and_nothing_stored(t: TestTable) {
    let (app, counting) = counted_app(&t).await;
    let user = UserId(9);
    let big = json!({ "blob": "x".repeat(8 * 1024) });
    let err = log_event(
        &app,
        NewEvent::new(EventType::ProfileUpdate, Some(user)).metadata(big.clone()),
    )
    .await
    .expect_err("over 8 KiB");
    assert!(
        matches!(&err, Error::Invalid(fields) if fields.0.contains_key("metadata")),
        "{err:?}"
    );
    let err = log_event(
        &app,
        NewEvent::new(EventType::ProfileUpdate, Some(user)).metadata(json!([1])),
    )
    .await
    .expect_err("not an object");
    assert!(
        matches!(&err, Error::Invalid(fields) if fields.0.contains_key("metadata")),
        "{err:?}"
    );
    // Best effort swallows the refusal.
    log_event_best_effort(
        &app,
        NewEvent::new(EventType::ProfileUpdate, Some(user)).metadata(big),
    )
    .await;
    assert_eq!(counting.snapshot().calls.writes(), 0, "nothing was written");
    assert!(partition(&t, keys::user_partition(user)).await.is_empty());

    // Just under the limit is fine.
    let fits = json!({ "blob": "x".repeat(8 * 1024 - 12) });
    log_event(
        &app,
        NewEvent::new(EventType::ProfileUpdate, Some(user)).metadata(fits),
    )
    .await
    .expect("fits");
    assert_eq!(partition(&t, keys::user_partition(user)).await.len(), 1);
}

async fn events_about_no_account_go_to_the_anonymous_partition(t: TestTable) {
    let (app, counting) = counted_app(&t).await;
    let event = NewEvent::new(EventType::LoginFailed, None)
        .client(&client())
        .metadata(json!({"username": "ghost"}))
        .failed("No such account.");
    log_event(&app, event).await.expect("logged");
    assert_eq!(counting.snapshot().calls.put, 1);
    // The partition of the client's address, by its hash.
    let hash = accounts::activity::events::address_hash("198.51.100.23");
    let items = partition(&t, keys::anonymous_events(Some(&hash))).await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(
        Key::of(item),
        Some(keys::anonymous_event(Some(&hash), s(item, "event_id")))
    );
    assert!(!item.contains_key("user_id"));
    assert_eq!(s(item, "ip_address"), "198.51.100.23");
    // medium 20 + failure 15 + security 10 + anonymous 10
    assert_eq!(n(item, "risk_score"), 55);
    assert_eq!(n(item, "expires_at"), t.now_epoch() + 365 * 86_400);
    let record = EventRecord::from_item(item).expect("reads back");
    assert_eq!(record.user_id, None);
    assert_eq!(record.metadata, json!({"username": "ghost"}));
    let by_type = api_tests::fixtures::events_by_type(&*t, "login_failed").await;
    assert_eq!(by_type.len(), 1);
}

both_engines!(
    an_event_is_one_put_of_the_documented_shape,
    retention_follows_severity,
    oversized_or_malformed_metadata_is_refused_and_nothing_stored,
    events_about_no_account_go_to_the_anonymous_partition,
);
