//! `process_user_event_alerts`: each high or critical event goes out once, as a
//! `SecurityAlert` on the bus and a mail to every administrator, even when the task runs twice
//! or crashes after sending.

use crate::tasks_support;

use std::sync::Arc;

use accounts::activity::events::{EventType, NewEvent, Severity};
use accounts::model::{Role, UserId};
use accounts::store::{
    Condition, IdempotencyToken, Item, Key, Page, Query, Scan, StoreError, StoreResult, Table,
    TxOp, Update, UpdateAction, Value,
};
use accounts::tasks::{self, Budget, alerts};
use api_tests::app::{TestApp, build_app};
use api_tests::fixtures::{Recorder, named_person};
use api_tests::{TestTable, both_engines};
use async_trait::async_trait;
use chrono::Duration;
use tasks_support::{event, high_event, item, run};

/// The table, but marking an alert sent fails: the run "crashes" right after sending.
struct CrashAfterSend(Arc<dyn Table>);

fn marks_sent(update: &Update) -> bool {
    update.actions.iter().any(|a| {
        matches!(a, UpdateAction::Set(name, Value::S(v)) if name == "alert_state" && v == "sent")
    })
}

#[async_trait]
impl Table for CrashAfterSend {
    fn engine(&self) -> &'static str {
        self.0.engine()
    }
    async fn get(&self, key: &Key, consistent: bool) -> StoreResult<Option<Item>> {
        self.0.get(key, consistent).await
    }
    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        self.0.batch_get(keys).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        self.0.put(item, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item> {
        if marks_sent(&update) {
            return Err(StoreError::Backend("injected crash after sending".into()));
        }
        self.0.update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>> {
        self.0.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> StoreResult<Page> {
        self.0.query(query).await
    }
    async fn transact_write_try(
        &self,
        ops: Vec<TxOp>,
        token: &IdempotencyToken,
    ) -> StoreResult<()> {
        self.0.transact_write_try(ops, token).await
    }
    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        self.0.scan(scan).await
    }
    async fn health(&self) -> StoreResult<()> {
        self.0.health().await
    }
}

fn alert_mails(app: &TestApp) -> usize {
    app.outbox()
        .iter()
        .filter(|m| m.subject.starts_with("Security alert"))
        .count()
}

both_engines!(
    async fn each_alert_goes_out_once(t: TestTable) {
        let app = TestApp::new(t).await;
        let bus = Recorder::attach(&app.app);
        named_person(&app.app, 1, "root", Role::Owner).await;
        named_person(&app.app, 2, "admin", Role::Admin).await;
        named_person(&app.app, 3, "moderator", Role::Moderator).await;
        let high = high_event(&app.app, UserId(3)).await;
        let critical = event(
            &app.app,
            NewEvent::new(EventType::AccountSuspended, Some(UserId(3)))
                .severity(Severity::Critical),
        )
        .await;
        // Low and medium events raise no alert.
        event(&app.app, NewEvent::new(EventType::Login, Some(UserId(3)))).await;
        event(
            &app.app,
            NewEvent::new(EventType::PasswordChange, Some(UserId(3))),
        )
        .await;

        let record = run(&app.app, alerts::NAME).await;
        assert_eq!(record.details.get("alerts_sent"), Some(&2), "{record:?}");
        let sent = bus.of_type("SecurityAlert");
        let mut ids: Vec<&str> = sent
            .iter()
            .filter_map(|e| e.detail["event_id"].as_str())
            .collect();
        ids.sort();
        let mut expected = vec![high.event_id.as_str(), critical.event_id.as_str()];
        expected.sort();
        assert_eq!(ids, expected);
        // Two administrators (owner and admin; not the moderator), two alerts.
        assert_eq!(alert_mails(&app), 4);
        let to: Vec<String> = app.outbox().iter().map(|m| m.to.clone()).collect();
        assert!(!to.iter().any(|t| t.starts_with("moderator")), "{to:?}");

        // Running again, now and later, sends nothing more.
        run(&app.app, alerts::NAME).await;
        app.clock().advance(Duration::minutes(5));
        run(&app.app, alerts::NAME).await;
        assert_eq!(bus.of_type("SecurityAlert").len(), 2);
        assert_eq!(alert_mails(&app), 4);

        // A new event after those runs goes out on the next.
        app.clock().advance(Duration::minutes(1));
        high_event(&app.app, UserId(3)).await;
        app.clock().advance(Duration::minutes(4));
        run(&app.app, alerts::NAME).await;
        assert_eq!(bus.of_type("SecurityAlert").len(), 3);
        assert_eq!(alert_mails(&app), 6);
    }

    async fn a_crash_after_sending_never_sends_again(t: TestTable) {
        let app = TestApp::new(t).await;
        named_person(&app.app, 1, "root", Role::Admin).await;
        let high = high_event(&app.app, UserId(1)).await;
        let crashing = build_app(
            &app.t,
            app.t.dir(),
            &[],
            Arc::new(CrashAfterSend(app.t.table())),
        )
        .await;
        let bus = Recorder::attach(&crashing);
        let failed = tasks::run(&crashing, alerts::NAME, &Budget::unlimited()).await;
        assert!(failed.is_err(), "the injected crash fails the run");
        assert_eq!(alert_mails(&app), 1, "the mail went out before the crash");
        assert_eq!(bus.of_type("SecurityAlert").len(), 1);

        // The next runs (the schedule's retry, then later ones) do not send it again.
        let bus = Recorder::attach(&app.app);
        run(&app.app, alerts::NAME).await;
        app.clock().advance(Duration::minutes(16));
        let later = run(&app.app, alerts::NAME).await;
        assert_eq!(alert_mails(&app), 1);
        assert!(bus.of_type("SecurityAlert").is_empty());
        // Once the crashed run's lease is over, the claim is reported as uncertain.
        assert_eq!(later.details.get("alerts_uncertain"), Some(&1), "{later:?}");
        let stored = item(&app, &high.key()).await.unwrap();
        assert_eq!(
            stored.get("alert_state").and_then(Value::as_str),
            Some(alerts::UNCERTAIN)
        );
    }

    async fn a_failed_send_is_tried_again(t: TestTable) {
        let app = TestApp::new(t).await;
        named_person(&app.app, 1, "root", Role::Admin).await;
        let high = high_event(&app.app, UserId(1)).await;
        // The mail directory cannot be written: the send fails, and the claim is released.
        let outbox = app.t.dir().join("outbox");
        std::fs::remove_dir_all(&outbox).ok();
        std::fs::write(&outbox, b"not a directory").unwrap();
        let failed = tasks::run(&app.app, alerts::NAME, &Budget::unlimited()).await;
        assert!(failed.is_err());
        let stored = item(&app, &high.key()).await.unwrap();
        assert!(!stored.contains_key("alert_state"), "{stored:?}");
        std::fs::remove_file(&outbox).unwrap();
        std::fs::create_dir(&outbox).unwrap();
        let record = run(&app.app, alerts::NAME).await;
        assert_eq!(record.details.get("alerts_sent"), Some(&1), "{record:?}");
        assert_eq!(alert_mails(&app), 1);
    }
);
