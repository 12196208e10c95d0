//! What the scheduled-task tests share: running a task, users and administrators, events at a
//! chosen time.

#![allow(dead_code)]

use accounts::App;
use accounts::accounts::UserRecord;
use accounts::activity::events::{EventRecord, EventType, NewEvent, Severity, prepare_event};
use accounts::auth::client::ClientInfo;
use accounts::model::{Role, UserId};
use accounts::store::{Condition, Item, Key, Value, keys};
use accounts::tasks::{self, Budget, RunRecord, RunStatus};
use api_tests::app::TestApp;
use api_tests::fixtures::{sign_in, stored_user};

/// Runs the task to the end (no budget) and returns its record; panics if it fails.
pub async fn run(app: &App, name: &str) -> RunRecord {
    let record = tasks::run(app, name, &Budget::unlimited())
        .await
        .unwrap_or_else(|e| panic!("{name} failed: {e}"));
    assert_eq!(record.status, RunStatus::Completed, "{record:?}");
    record
}

/// A verified user with `role`, and an access token of theirs.
pub async fn user_with_token(app: &App, id: i64, name: &str, role: Role) -> (UserRecord, String) {
    let mut user = stored_user(app, id, name, true).await;
    if role != Role::Normal {
        user.role = role;
        app.table.put(user.to_item().unwrap(), None).await.unwrap();
    }
    let pair = sign_in(app, &user).await;
    (user, pair.access)
}

/// A client at `ip`.
pub fn client_at(ip: &str) -> ClientInfo {
    ClientInfo {
        ip: ip.parse().ok(),
        user_agent: Some(api_tests::app::BROWSER_UA.into()),
        ..ClientInfo::default()
    }
}

/// Stores an event now (the clock's now) and returns it.
pub async fn event(app: &App, event: NewEvent) -> EventRecord {
    let record = prepare_event(app, event).await.unwrap();
    app.table
        .put(record.to_item().unwrap(), Some(Condition::item_absent()))
        .await
        .unwrap();
    record
}

/// A high-severity event of `user`.
pub async fn high_event(app: &App, user: UserId) -> EventRecord {
    event(
        app,
        NewEvent::new(EventType::SuspiciousActivity, Some(user)).severity(Severity::High),
    )
    .await
}

/// The stored item under `key` (strongly consistent), if any.
pub async fn item(app: &TestApp, key: &Key) -> Option<Item> {
    app.table().get(key, true).await.unwrap()
}

/// An integer attribute of the user's profile.
pub async fn profile_int(app: &TestApp, user: UserId, name: &str) -> i64 {
    item(app, &keys::user(user))
        .await
        .expect("profile")
        .get(name)
        .and_then(Value::as_i64)
        .unwrap_or(0)
}
