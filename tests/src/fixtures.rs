//! What several test files need: accounts written straight to the store or made through the
//! API, sessions and their tokens, a user's stored events, client addresses, the answer to a
//! wrong code, and a recorder of the domain events on the in-process bus.
//!
//! ```text
//! use api_tests::fixtures::{events_of, sign_in, stored_user};
//!
//! let alice = stored_user(&app.app, 1, "alice", true).await;
//! let pair = sign_in(&app.app, &alice).await;
//! ```

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use accounts::App;
use accounts::accounts::UserRecord;
use accounts::activity::events::{EventRecord, EventType};
use accounts::auth::AuthMethod;
use accounts::auth::client::ClientInfo;
use accounts::auth::jwt::{self, TokenPair};
use accounts::auth::sessions;
use accounts::bus::{DomainEvent, Subscriber};
use accounts::http::ApiResponse;
use accounts::model::{Role, UserId};
use accounts::store::{Index, Item, Query, SortCondition, Table, Value, keys};
use async_trait::async_trait;
use serde_json::{Value as Json, json};

use crate::app::{BROWSER_UA, TestApp};

/// The answer to a wrong, expired or used-up emailed code.
pub const INVALID_CODE: &str = "Invalid or expired code.";

/// A browser at a fixed address, as the domain functions take a client.
pub fn client() -> ClientInfo {
    ClientInfo {
        ip: Some([198, 51, 100, 7].into()),
        user_agent: Some(BROWSER_UA.into()),
        ..ClientInfo::default()
    }
}

static NEXT_IP: AtomicU32 = AtomicU32::new(1);

/// A client address of its own for each call, so the per-IP limits (registration, login) only
/// bite where a test wants them to.
pub fn fresh_ip() -> String {
    format!("2001:db8::{:x}", NEXT_IP.fetch_add(1, Ordering::Relaxed))
}

/// A verified user and an access token of theirs.
#[derive(Clone, Debug)]
pub struct Person {
    pub id: UserId,
    pub token: String,
}

impl Person {
    pub fn n(&self) -> i64 {
        self.id.0
    }
}

/// Writes a verified user `user<id>` with this role and privacy straight to the store
/// (registration is tested elsewhere) and opens a JWT session for them.
pub async fn person_with(app: &App, id: i64, role: Role, private: bool) -> Person {
    let name = format!("user{id}");
    let mut user = UserRecord::new(
        UserId(id),
        name.clone(),
        format!("{name}@example.com"),
        app.clock.now(),
    );
    user.is_verified = true;
    user.role = role;
    user.is_private = private;
    app.table.put(user.to_item().unwrap(), None).await.unwrap();
    Person {
        id: user.id,
        token: token_for(app, user.id).await,
    }
}

/// A fresh access token of an existing user, from a new JWT session (after the clock moved past
/// the old one, say).
pub async fn token_for(app: &App, id: UserId) -> String {
    let user = accounts::accounts::get_user_consistent(app, id)
        .await
        .unwrap()
        .expect("the user exists");
    let started = sessions::start_session(app, &user, &client(), AuthMethod::Jwt)
        .await
        .unwrap();
    jwt::issue_pair(app, &started.record).unwrap().access
}

/// Records the domain events published on the in-process bus.
#[derive(Default)]
pub struct Recorder {
    pub seen: Mutex<Vec<DomainEvent>>,
}

#[async_trait]
impl Subscriber for Recorder {
    async fn handle(&self, event: &DomainEvent) {
        self.seen.lock().unwrap().push(event.clone());
    }
}

impl Recorder {
    pub fn attach(app: &App) -> Arc<Recorder> {
        let recorder = Arc::new(Recorder::default());
        app.in_process_bus
            .as_ref()
            .expect("tests use the in-process bus")
            .subscribe(recorder.clone());
        recorder
    }

    /// The detail types seen, in order.
    pub fn types(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.detail_type.clone())
            .collect()
    }

    /// The detail of the newest event of a type.
    pub fn last(&self, detail_type: &str) -> Option<Json> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|e| e.detail_type == detail_type)
            .map(|e| e.detail.clone())
    }

    /// The events of one detail type.
    pub fn of_type(&self, detail_type: &str) -> Vec<DomainEvent> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.detail_type == detail_type)
            .cloned()
            .collect()
    }
}

/// A user written straight to the store (registration is tested elsewhere).
pub async fn stored_user(app: &App, id: i64, name: &str, verified: bool) -> UserRecord {
    let mut user = UserRecord::new(
        UserId(id),
        name.into(),
        format!("{name}@example.com"),
        app.clock.now(),
    );
    user.is_verified = verified;
    app.table.put(user.to_item().unwrap(), None).await.unwrap();
    let stamp = app.clock.now().to_rfc3339();
    app.table.put(user.name_item(&stamp), None).await.unwrap();
    user
}

/// A new JWT session of the user and its first token pair (what `jwt/login` hands out).
pub async fn sign_in(app: &App, user: &UserRecord) -> TokenPair {
    let started = sessions::start_session(app, user, &client(), AuthMethod::Jwt)
        .await
        .unwrap();
    jwt::issue_pair(app, &started.record).unwrap()
}

/// Verifies `email` through the API with the newest code mailed to it; panics unless that
/// works.
pub async fn verify_email(app: &TestApp, email: &str) {
    let code = app
        .last_code_for(email)
        .expect("a verification code in the outbox");
    let response = app
        .post("/api/auth/verify/")
        .json(json!({ "email": email, "code": code }))
        .send()
        .await;
    assert_eq!(response.status, 200, "verify: {}", response.body_json());
}

/// Asserts the answer to a wrong code.
pub fn assert_invalid_code(response: &ApiResponse) {
    assert_eq!(response.status, 400, "{:?}", response.body_json());
    assert_eq!(response.body_json(), json!({ "code": [INVALID_CODE] }));
}

/// The user's stored events of one type, oldest first.
pub async fn events_of(app: &App, user: UserId, event_type: EventType) -> Vec<EventRecord> {
    event_items(&*app.table, user)
        .await
        .iter()
        .map(|item| EventRecord::from_item(item).expect("an event item"))
        .filter(|e| e.event_type == event_type)
        .collect()
}

/// The types of the user's stored events, oldest first.
pub async fn event_types(app: &TestApp, user: UserId) -> Vec<String> {
    event_items(app.table(), user)
        .await
        .iter()
        .filter_map(|item| {
            item.get("event_type")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

/// The event items of the user's partition, oldest first (one page is plenty for a test).
async fn event_items(table: &dyn Table, user: UserId) -> Vec<Item> {
    let query = Query::new(Index::Primary, keys::user_partition(user))
        .sort(SortCondition::BeginsWith(keys::EVENT_PREFIX.into()))
        .consistent();
    table.query(query).await.expect("query events").items
}

/// Every stored event of one type, from every shard of the by-type index (GSI1), oldest first.
pub async fn events_by_type(table: &dyn Table, event_type: &str) -> Vec<Item> {
    let mut items = Vec::new();
    for pk in keys::event_type_partitions(event_type) {
        let mut cursor = None;
        loop {
            let page = table
                .query(Query::new(Index::Gsi1, pk.clone()).after(cursor))
                .await
                .expect("query the type index");
            items.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    let id = |i: &Item| i.get("GSI1SK").and_then(Value::as_str).map(str::to_owned);
    items.sort_by_key(id);
    items
}

/// The events about no known account from one address (its anonymous partition), oldest first.
pub async fn anonymous_events_from(table: &dyn Table, ip: &str) -> Vec<Item> {
    let hash = accounts::activity::events::address_hash(ip);
    table
        .query(Query::new(Index::Primary, keys::anonymous_events(Some(&hash))).consistent())
        .await
        .expect("query the anonymous partition")
        .items
}
