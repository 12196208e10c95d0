//! What the scheduled-task tests share, on top of `api_tests::fixtures` (users, profiles): running
//! a task, events at a chosen time, and items as stored.

#![allow(dead_code)]

use accounts::App;
use accounts::activity::events::{EventRecord, EventType, NewEvent, Severity, prepare_event};
use accounts::model::UserId;
use accounts::store::{Condition, Item, Key};
use accounts::tasks::{self, Budget, RunRecord, RunStatus};
use api_tests::app::TestApp;

/// Runs the task to the end (no budget) and returns its record; panics if it fails.
pub async fn run(app: &App, name: &str) -> RunRecord {
    let record = tasks::run(app, name, &Budget::unlimited())
        .await
        .unwrap_or_else(|e| panic!("{name} failed: {e}"));
    assert_eq!(record.status, RunStatus::Completed, "{record:?}");
    record
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
