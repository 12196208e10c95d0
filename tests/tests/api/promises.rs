//! Promises of the docs that only a race can break, each on both engines: the loser of two
//! concurrent writes gets 409 (a username change, a professional profile edit against a
//! verification, a review), parallel featuring stops at 6, overlapping alert runs send once, and
//! the once-a-minute activity writes are made once by concurrent requests.
//!
//! Most races here are made exact rather than left to the scheduler: [`Hold`] parks the first
//! write a test names before it reaches the store, the test sends the rival request to the end,
//! then lets the parked write go. The parked request read the state before its rival wrote, so
//! only the write's condition stands between it and a lost update. Every store call then reaches
//! the engine one after another, so moto's lack of isolation (`api_tests::moto`) plays no part.
//! The featuring test races twelve requests for real instead, one store call at a time on moto
//! (`TestApp::one_call_at_a_time`).

use crate::{badges_core_support, profiles_common, tasks_support};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use accounts::activity::events::EventType;
use accounts::model::{Role, UserId};
use accounts::store::{
    Condition, IdempotencyToken, Item, Key, Page, Query, Scan, StoreResult, Table, TxOp, Update,
    UpdateAction, Value, keys,
};
use accounts::tasks::{self, Budget, alerts};
use api_tests::app::TestApp;
use api_tests::fixtures::{Recorder, admin, complete_person, events_of, named_person, person};
use api_tests::{TestTable, both_engines};
use async_trait::async_trait;
use chrono::Duration;
use serde_json::json;
use tokio::sync::Semaphore;

/// A write the hold may park.
enum Call<'a> {
    Update(&'a Update),
    Transaction(&'a [TxOp]),
}

type Matcher = Box<dyn Fn(&Call<'_>) -> bool + Send + Sync>;

/// The test's table; the first write that matches what [`Hold::arm`] names waits before it
/// reaches the store until [`Hold::release`]. It also counts the updates the store applied, by
/// the attributes they set.
struct Hold {
    inner: Arc<dyn Table>,
    armed: Mutex<Option<Matcher>>,
    held: Semaphore,
    released: Semaphore,
    applied: Mutex<BTreeMap<String, u64>>,
}

impl Hold {
    fn over(t: &TestTable) -> Arc<Hold> {
        Arc::new(Hold {
            inner: t.table(),
            armed: Mutex::new(None),
            held: Semaphore::new(0),
            released: Semaphore::new(0),
            applied: Mutex::new(BTreeMap::new()),
        })
    }

    /// Parks the next write that `matches` (once).
    fn arm(&self, matches: impl Fn(&Call<'_>) -> bool + Send + Sync + 'static) {
        *self.armed.lock().unwrap() = Some(Box::new(matches));
    }

    /// Waits until the armed write is parked; fails the test if it never comes.
    async fn parked(&self) {
        tokio::time::timeout(StdDuration::from_secs(60), self.held.acquire())
            .await
            .expect("the armed write was made")
            .expect("the semaphore is open")
            .forget();
    }

    /// Lets the parked write go on to the store.
    fn release(&self) {
        self.released.add_permits(1);
    }

    /// How many updates setting `attribute` the store applied (since the last `reset`).
    fn applied(&self, attribute: &str) -> u64 {
        self.applied
            .lock()
            .unwrap()
            .get(attribute)
            .copied()
            .unwrap_or(0)
    }

    fn reset(&self) {
        self.applied.lock().unwrap().clear();
    }

    async fn maybe_park(&self, call: Call<'_>) {
        let hit = {
            let mut armed = self.armed.lock().unwrap();
            let hit = armed.as_ref().is_some_and(|matches| matches(&call));
            if hit {
                *armed = None;
            }
            hit
        };
        if hit {
            self.held.add_permits(1);
            self.released
                .acquire()
                .await
                .expect("the semaphore is open")
                .forget();
        }
    }
}

/// Whether the update sets `attribute` (to `value`, when given).
fn sets(update: &Update, attribute: &str, value: Option<&str>) -> bool {
    update.actions.iter().any(|action| match action {
        UpdateAction::Set(name, set) if name == attribute => match (value, set) {
            (None, _) => true,
            (Some(want), Value::S(got)) => want == got,
            _ => false,
        },
        _ => false,
    })
}

fn touches(ops: &[TxOp], key: &Key) -> bool {
    ops.iter().any(|op| op.key().as_ref() == Some(key))
}

#[async_trait]
impl Table for Hold {
    fn engine(&self) -> &'static str {
        self.inner.engine()
    }
    async fn get(&self, key: &Key, consistent: bool) -> StoreResult<Option<Item>> {
        self.inner.get(key, consistent).await
    }
    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        self.inner.batch_get(keys).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        self.inner.put(item, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item> {
        self.maybe_park(Call::Update(&update)).await;
        let names: Vec<String> = update
            .actions
            .iter()
            .filter_map(|a| match a {
                UpdateAction::Set(name, _) => Some(name.clone()),
                _ => None,
            })
            .collect();
        let answer = self.inner.update(key, update, condition).await;
        if answer.is_ok() {
            let mut applied = self.applied.lock().unwrap();
            for name in names {
                *applied.entry(name).or_default() += 1;
            }
        }
        answer
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>> {
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> StoreResult<Page> {
        self.inner.query(query).await
    }
    async fn transact_write_try(
        &self,
        ops: Vec<TxOp>,
        token: &IdempotencyToken,
    ) -> StoreResult<()> {
        self.maybe_park(Call::Transaction(&ops)).await;
        self.inner.transact_write_try(ops, token).await
    }
    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        self.inner.scan(scan).await
    }
    async fn health(&self) -> StoreResult<()> {
        self.inner.health().await
    }
}

async fn held_app(t: TestTable) -> (TestApp, Arc<Hold>) {
    let hold = Hold::over(&t);
    let app = TestApp::over(t, &[], hold.clone()).await;
    (app, hold)
}

async fn stored(app: &TestApp, key: &Key) -> Option<Item> {
    app.table().get(key, true).await.expect("read the store")
}

/// docs/users.md: a username change is conditioned on the username it replaces, so of two
/// concurrent changes one passes and the other is 409. The loser here is a case-only change,
/// which touches no unique item: only the profile's condition can stop it.
async fn username_change_race(t: TestTable) {
    let (app, hold) = held_app(t).await;
    let robin = complete_person(&app.app, 1, "robin", Role::Normal).await;
    let path = format!("/api/users/{}/", robin.id);
    let profile = keys::user(robin.id);
    // The day's visit (a transaction on the profile) is recorded before the hold is armed.
    let me = app.get("/api/auth/me/").bearer(&robin.token).send().await;
    assert_eq!(me.status, 200);
    hold.arm(move |call| matches!(call, Call::Transaction(ops) if touches(ops, &profile)));
    let (first, second) = tokio::join!(
        app.patch(&path)
            .bearer(&robin.token)
            .json(json!({ "username": "Robin" }))
            .send(),
        async {
            hold.parked().await;
            let second = app
                .patch(&path)
                .bearer(&robin.token)
                .json(json!({ "username": "robyn" }))
                .send()
                .await;
            hold.release();
            second
        }
    );
    assert_eq!(second.status, 200, "{}", second.body_json());
    assert_eq!(first.status, 409, "{}", first.body_json());
    let profile = stored(&app, &keys::user(robin.id)).await.unwrap();
    assert_eq!(profile["username"], Value::from("robyn"));
    let unique = stored(&app, &keys::unique_username("robyn")).await.unwrap();
    assert_eq!(unique["user_id"], Value::Int(1));
    assert!(
        stored(&app, &keys::unique_username("robin"))
            .await
            .is_none()
    );
    let (status, body) = profiles_common::get(&app, &robin, &path).await;
    assert_eq!((status, body["username"].as_str()), (200, Some("robyn")));
}

/// docs/profiles.md: professional profile writes are conditional on the `updated_at` read, so
/// an owner's edit that read the profile before an administrator verified it is 409, and the
/// verification stays.
async fn professional_race(t: TestTable) {
    let (app, hold) = held_app(t).await;
    let pia = complete_person(&app.app, 1, "pia", Role::Professional).await;
    let root = complete_person(&app.app, 2, "root", Role::Admin).await;
    let (status, body) = profiles_common::post(
        &app,
        &pia,
        "/api/professional-profiles/",
        json!({ "company_name": "Acme" }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    app.clock().advance(Duration::seconds(1));
    let path = format!("/api/professional-profiles/{}/", pia.id);
    let item = keys::professional_profile(pia.id);
    hold.arm(move |call| matches!(call, Call::Transaction(ops) if touches(ops, &item)));
    let (edit, verify) = tokio::join!(
        profiles_common::patch(&app, &pia, &path, json!({ "job_title": "Welder" })),
        async {
            hold.parked().await;
            let verify =
                profiles_common::post(&app, &root, &format!("{path}verify/"), json!({})).await;
            hold.release();
            verify
        }
    );
    assert_eq!(verify.0, 200, "{}", verify.1);
    assert_eq!(edit.0, 409, "{}", edit.1);
    let (status, body) = profiles_common::get(&app, &pia, &path).await;
    assert_eq!(status, 200);
    assert_eq!(body["is_verified"], true, "{body}");
    assert_ne!(body["job_title"], "Welder", "{body}");
}

/// docs/activity.md: an event reviewed concurrently is 409 for the second reviewer, and only the
/// first logs `event_reviewed`.
async fn review_race(t: TestTable) {
    let (app, hold) = held_app(t).await;
    let rosa = complete_person(&app.app, 1, "rosa", Role::Moderator).await;
    let sam = complete_person(&app.app, 2, "sam", Role::Moderator).await;
    complete_person(&app.app, 3, "quinn", Role::Normal).await;
    let event = tasks_support::high_event(&app.app, UserId(3)).await;
    let (status, queue) =
        profiles_common::get(&app, &rosa, "/api/events/?requires_review=true").await;
    assert_eq!(status, 200);
    assert_eq!(
        queue["results"][0]["id"],
        event.event_id.as_str(),
        "{queue}"
    );
    let path = format!("/api/events/{}/review/", event.event_id);
    let key = event.key();
    hold.arm(move |call| matches!(call, Call::Transaction(ops) if touches(ops, &key)));
    let (first, second) = tokio::join!(
        profiles_common::post(&app, &rosa, &path, json!({})),
        async {
            hold.parked().await;
            let second = profiles_common::post(&app, &sam, &path, json!({})).await;
            hold.release();
            second
        }
    );
    assert_eq!(second.0, 200, "{}", second.1);
    assert_eq!(first.0, 409, "{}", first.1);
    let item = stored(&app, &event.key()).await.unwrap();
    assert_eq!(item["reviewed_by"], Value::Int(2));
    let reviewed = |id| events_of(&app.app, UserId(id), EventType::EventReviewed);
    assert_eq!(reviewed(1).await.len(), 0);
    assert_eq!(reviewed(2).await.len(), 1);
}

/// docs/badges.md: twelve parallel requests to feature twelve badges feature exactly 6; the
/// others are 400 on `is_featured`.
async fn parallel_featuring(t: TestTable) {
    let app = Arc::new(TestApp::one_call_at_a_time(t).await);
    let root = admin(&app.app, 1).await;
    let user = person(&app.app, 2).await;
    let mut badges = Vec::new();
    for i in 0..12 {
        let badge = badges_core_support::common_badge(&app, &root, &format!("B{i}"), 10).await;
        badges_core_support::award_ok(&app, &root, user.id, badge).await;
        badges.push(badge);
    }
    let mut tasks = Vec::new();
    for badge in badges {
        let (app, token) = (app.clone(), user.token.clone());
        tasks.push(tokio::spawn(async move {
            let response = app
                .patch(&format!("/api/user-badges/2-{badge}/"))
                .bearer(&token)
                .json(json!({ "is_featured": true }))
                .send()
                .await;
            (response.status.as_u16(), response.body_json())
        }));
    }
    let mut featured = 0;
    for task in tasks {
        let (status, body) = task.await.expect("the request task");
        match status {
            200 => featured += 1,
            400 => assert!(body["is_featured"].is_array(), "{body}"),
            _ => panic!("status {status}: {body}"),
        }
    }
    assert_eq!(featured, 6);
    let listed = badges_core_support::get_json(
        &app,
        &user,
        "/api/user-badges/?is_featured=true&page_size=50",
        200,
    )
    .await;
    assert_eq!(listed["count"], 6, "{listed}");
    assert_eq!(listed["results"].as_array().unwrap().len(), 6);
    let score = stored(&app, &keys::badge_score(user.id)).await.unwrap();
    assert_eq!(score["featured_count"], Value::Int(6));
}

fn alert_mails(app: &TestApp) -> usize {
    app.outbox()
        .iter()
        .filter(|m| m.subject.starts_with("Security alert"))
        .count()
}

/// docs/tasks.md: two runs of `process_user_event_alerts` that overlap (the first outlived its
/// lease while about to claim an event) send the event once: the first one's claim fails.
async fn overlapping_alert_runs(t: TestTable) {
    let (app, hold) = held_app(t).await;
    let bus = Recorder::attach(&app.app);
    named_person(&app.app, 1, "root", Role::Admin).await;
    let high = tasks_support::high_event(&app.app, UserId(1)).await;
    hold.arm(|call| {
        matches!(call, Call::Update(update) if sets(update, "alert_state", Some(alerts::CLAIMED)))
    });
    let budget = Budget::unlimited();
    let (first, second) = tokio::join!(tasks::run(&app.app, alerts::NAME, &budget), async {
        hold.parked().await;
        // The first run is stuck past its lease: the next scheduled run takes over.
        app.clock().advance(Duration::minutes(16));
        let second = tasks_support::run(&app.app, alerts::NAME).await;
        hold.release();
        second
    });
    assert_eq!(second.details.get("alerts_sent"), Some(&1), "{second:?}");
    if let Ok(first) = &first {
        assert_eq!(first.details.get("alerts_sent"), None, "{first:?}");
    }
    app.settled().await;
    assert_eq!(bus.of_type("SecurityAlert").len(), 1);
    assert_eq!(alert_mails(&app), 1);
    let item = stored(&app, &high.key()).await.unwrap();
    assert_eq!(item["alert_state"], Value::from(alerts::SENT));
}

/// docs/auth.md: the session's `last_activity` and the profile's `last_active` are written at
/// most once a minute, by updates conditional on the stored time, so two requests that both
/// read an old value write each once.
async fn activity_written_once(t: TestTable) {
    let (app, hold) = held_app(t).await;
    let robin = complete_person(&app.app, 1, "robin", Role::Normal).await;
    let me = || profiles_common::get(&app, &robin, "/api/auth/me/");
    assert_eq!(me().await.0, 200);
    app.clock().advance(Duration::seconds(61));
    hold.reset();
    hold.arm(
        |call| matches!(call, Call::Update(update) if sets(update, "last_activity_epoch", None)),
    );
    let (first, second) = tokio::join!(me(), async {
        hold.parked().await;
        let second = me().await;
        hold.release();
        second
    });
    assert_eq!((first.0, second.0), (200, 200));
    assert_eq!(hold.applied("last_activity_epoch"), 1, "session activity");
    assert_eq!(
        hold.applied("last_active_epoch"),
        1,
        "the profile's last_active"
    );
}

both_engines!(
    username_change_race,
    professional_race,
    review_race,
    parallel_featuring,
    overlapping_alert_runs,
    activity_written_once
);
