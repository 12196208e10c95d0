//! `migrate_keys`: events stored under the key design before issue 19 (anonymous events in
//! the one `EVENTS#ANON` partition, unsharded `EVENTS#<type>` index entries, severe events
//! without their sparse GSI2 entry) are re-keyed, so that the readers of the new keys (the
//! velocity check, the security and alerts tasks) find them; a run in small pieces gets the
//! same result, and a second run writes nothing.

use crate::tasks_support;

use accounts::activity::events::{EventRecord, EventType, NewEvent, Severity, prepare_event};
use accounts::badges::awards::{self, AwardedBy};
use accounts::badges::{catalogue, definitions};
use accounts::model::UserId;
use accounts::store::{Item, Key, Value, keys};
use accounts::tasks::{self, Budget, RunStatus, migrate_keys};
use api_tests::app::TestApp;
use api_tests::fixtures::{anonymous_events_from, client_at, events_by_type, stored_user};
use api_tests::{TestTable, both_engines};
use tasks_support::{item, run};

/// Writes `event` as the old key design stored it.
async fn legacy_event(app: &TestApp, event: NewEvent) -> EventRecord {
    let record = prepare_event(&app.app, event).await.unwrap();
    let mut stored: Item = record.to_item().unwrap();
    if record.user_id.is_none() {
        let old = Key::new(
            keys::LEGACY_ANONYMOUS_EVENTS,
            format!("{}{}", keys::EVENT_PREFIX, record.event_id),
        );
        stored.insert(keys::attr::PK.into(), Value::S(old.pk));
        stored.insert(keys::attr::SK.into(), Value::S(old.sk));
    }
    stored.insert(
        keys::attr::GSI1PK.into(),
        Value::S(keys::legacy_event_type_partition(
            record.event_type.as_str(),
        )),
    );
    if !record.requires_review {
        stored.remove(keys::attr::GSI2PK);
        stored.remove(keys::attr::GSI2SK);
    }
    app.table().put(stored, None).await.unwrap();
    record
}

fn legacy_anonymous_key(record: &EventRecord) -> Key {
    Key::new(
        keys::LEGACY_ANONYMOUS_EVENTS,
        format!("{}{}", keys::EVENT_PREFIX, record.event_id),
    )
}

fn attr(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(Value::as_str).map(str::to_owned)
}

async fn seed(app: &TestApp) -> (EventRecord, EventRecord, EventRecord) {
    stored_user(&app.app, 1, "ann", true).await;
    let anonymous = legacy_event(
        app,
        NewEvent::new(EventType::LoginFailed, None)
            .client(&client_at("203.0.113.9"))
            .failed("unknown account"),
    )
    .await;
    let login = legacy_event(app, NewEvent::new(EventType::Login, Some(UserId(1)))).await;
    let severe = legacy_event(
        app,
        NewEvent::new(EventType::PageView, Some(UserId(1))).severity(Severity::High),
    )
    .await;
    (anonymous, login, severe)
}

async fn assert_migrated(app: &TestApp, anonymous: &EventRecord, login: &EventRecord) {
    // The anonymous event is in its address's partition, and only there.
    assert!(item(app, &legacy_anonymous_key(anonymous)).await.is_none());
    let moved = anonymous_events_from(app.table(), "203.0.113.9").await;
    assert_eq!(moved.len(), 1);
    assert_eq!(
        attr(&moved[0], "event_id"),
        Some(anonymous.event_id.clone())
    );
    // Both are on the sharded type index.
    let failures = events_by_type(app.table(), "login_failed").await;
    assert_eq!(failures.len(), 1);
    let logins = events_by_type(app.table(), "login").await;
    assert_eq!(logins.len(), 1);
    assert_eq!(attr(&logins[0], "event_id"), Some(login.event_id.clone()));
}

/// Awards a badge to user 1, then moves its award and leaderboard entries back to the
/// unsharded index keys of the old design.
async fn legacy_award(app: &TestApp) -> (Key, Key) {
    catalogue::install(&app.app).await.unwrap();
    let def = definitions::find_by_name(&app.app, "Beta Tester")
        .await
        .unwrap()
        .expect("the catalogue badge");
    let held = awards::award(
        &app.app,
        accounts::access::Admin::SYSTEM,
        UserId(1),
        &def,
        AwardedBy::Admin,
        serde_json::Value::Null,
        "",
    )
    .await
    .unwrap()
    .expect("awarded");
    let badge_key = held.key();
    let score_key = keys::badge_score(UserId(1));
    for (key, attr, legacy) in [
        (&badge_key, keys::attr::GSI2PK, keys::AWARDS),
        (&score_key, keys::attr::GSI1PK, keys::LEADERBOARD),
    ] {
        let mut stored = item(app, key).await.expect("stored");
        stored.insert(attr.into(), Value::S(legacy.into()));
        app.table().put(stored, None).await.unwrap();
    }
    (badge_key, score_key)
}

/// A user as the key design before issue 19 stored them: the name index entries on the
/// profile (one key value per index), the unique username item holding only the owner's id.
async fn legacy_user(app: &TestApp, id: i64, name: &str, first_name: &str) {
    let mut user = accounts::accounts::UserRecord::new(
        UserId(id),
        name.into(),
        format!("{name}@example.com"),
        app.app.clock.now(),
    );
    user.is_verified = true;
    user.first_name = first_name.into();
    let mut profile = user.to_item().unwrap();
    for (attr, value) in [
        (keys::attr::GSI1PK, keys::USERNAME_INDEX.to_owned()),
        (keys::attr::GSI1SK, name.to_ascii_lowercase()),
        (keys::attr::GSI2PK, keys::DISPLAYNAME_INDEX.to_owned()),
        (
            keys::attr::GSI2SK,
            format!("{}#{id}", user.display_name().to_lowercase()),
        ),
    ] {
        profile.insert(attr.into(), Value::S(value));
    }
    app.table().put(profile, None).await.unwrap();
    let mut unique = keys::unique_username(&name.to_ascii_lowercase()).to_item();
    unique.insert("user_id".into(), Value::Int(id));
    app.table().put(unique, None).await.unwrap();
}

/// How many profiles a search finds.
async fn found(app: &TestApp, viewer: &accounts::accounts::UserRecord, q: &str) -> usize {
    accounts::profiles::profile::list_profiles(&app.app, viewer, Some(q), 25, None)
        .await
        .unwrap()
        .results
        .len()
}

both_engines!(
    async fn names_move_to_their_items(t: TestTable) {
        let app = TestApp::new(t).await;
        let viewer = stored_user(&app.app, 1, "ann", true).await;
        legacy_user(&app, 2, "zelda", "Quinn").await;
        // Before: the sharded indexes do not know her.
        assert_eq!(found(&app, &viewer, "zel").await, 0);
        let record = run(&app.app, migrate_keys::NAME).await;
        assert_eq!(record.details.get("names moved"), Some(&1), "{record:?}");
        let profile = item(&app, &keys::user(UserId(2))).await.unwrap();
        for attr in [keys::attr::GSI1PK, keys::attr::GSI2PK, keys::attr::GSI1SK] {
            assert!(!profile.contains_key(attr), "{attr} left on {profile:?}");
        }
        let name = item(&app, &keys::unique_username("zelda")).await.unwrap();
        assert_eq!(name["user_id"], Value::Int(2));
        assert!(keys::username_partitions().contains(&attr(&name, keys::attr::GSI1PK).unwrap()));
        // Found by username and by display name, once each.
        assert_eq!(found(&app, &viewer, "zel").await, 1);
        assert_eq!(found(&app, &viewer, "quinn").await, 1);
        let again = run(&app.app, migrate_keys::NAME).await;
        assert_eq!(again.items_written, 0, "{again:?}");
    }

    async fn holder_counts_move_to_their_items(t: TestTable) {
        let app = TestApp::new(t).await;
        stored_user(&app.app, 1, "ann", true).await;
        legacy_award(&app).await;
        let def = definitions::find_by_name(&app.app, "Beta Tester")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(def.earned_count, 1);
        // As the old design stored it: the count on the definition, none in a count item (three
        // holders, two of them from before).
        let mut stored = item(&app, &keys::badge_definition(def.id.0)).await.unwrap();
        stored.insert("earned_count".into(), Value::Int(2));
        app.table().put(stored, None).await.unwrap();
        let count_key = keys::badge_earned(def.id.0);
        let shown = || async {
            definitions::get(&app.app, def.id)
                .await
                .unwrap()
                .unwrap()
                .earned_count
        };
        assert_eq!(
            shown().await,
            3,
            "the stored part and the count item add up"
        );

        let record = run(&app.app, migrate_keys::NAME).await;
        assert_eq!(record.details.get("counts moved"), Some(&1), "{record:?}");
        let stored = item(&app, &keys::badge_definition(def.id.0)).await.unwrap();
        assert!(!stored.contains_key("earned_count"), "{stored:?}");
        assert_eq!(
            item(&app, &count_key).await.unwrap()["count"],
            Value::Int(3)
        );
        assert_eq!(shown().await, 3);
        let again = run(&app.app, migrate_keys::NAME).await;
        assert_eq!(again.items_written, 0, "{again:?}");
        assert_eq!(shown().await, 3);
    }

    async fn awards_and_scores_move_to_their_shards(t: TestTable) {
        let app = TestApp::new(t).await;
        stored_user(&app.app, 1, "ann", true).await;
        let (badge_key, score_key) = legacy_award(&app).await;
        let record = run(&app.app, migrate_keys::NAME).await;
        assert_eq!(record.details.get("reindexed"), Some(&2), "{record:?}");
        let badge = item(&app, &badge_key).await.unwrap();
        assert!(
            keys::award_partitions().contains(&attr(&badge, keys::attr::GSI2PK).unwrap()),
            "{badge:?}"
        );
        let score = item(&app, &score_key).await.unwrap();
        assert!(
            keys::leaderboard_partitions().contains(&attr(&score, keys::attr::GSI1PK).unwrap()),
            "{score:?}"
        );
        let again = run(&app.app, migrate_keys::NAME).await;
        assert_eq!(again.items_written, 0, "{again:?}");
    }

    async fn old_keys_are_rekeyed_once(t: TestTable) {
        let app = TestApp::new(t).await;
        let (anonymous, login, severe) = seed(&app).await;
        assert!(events_by_type(app.table(), "login").await.is_empty());

        let record = run(&app.app, migrate_keys::NAME).await;
        assert_eq!(record.details.get("moved"), Some(&1), "{record:?}");
        assert_eq!(record.details.get("reindexed"), Some(&2), "{record:?}");
        assert_migrated(&app, &anonymous, &login).await;
        // The severe event got its sparse key for the alerts task.
        let stored = item(&app, &severe.key()).await.expect("the severe event");
        assert_eq!(
            attr(&stored, keys::attr::GSI2PK),
            Some(keys::severe_event_index(&severe.event_id).0)
        );

        // A second run finds nothing to do.
        let again = run(&app.app, migrate_keys::NAME).await;
        assert_eq!(again.items_written, 0, "{again:?}");
        assert_migrated(&app, &anonymous, &login).await;
    }

    async fn a_migration_in_pieces_resumes_from_its_checkpoint(t: TestTable) {
        let app = TestApp::new(t).await;
        let (anonymous, login, _) = seed(&app).await;
        let small = Budget::pages(1).with_page_size(4);
        let mut runs = 0;
        loop {
            let record = tasks::run(&app.app, migrate_keys::NAME, &small)
                .await
                .unwrap();
            runs += 1;
            // Four scans of the whole table (on moto, in several segments each), a page of four
            // items a run.
            assert!(runs < 500, "the walk never ends");
            if record.status == RunStatus::Completed {
                break;
            }
            assert_eq!(record.status, RunStatus::Checkpointed);
        }
        assert!(runs > 1, "the budget stopped it midway ({runs} runs)");
        assert_migrated(&app, &anonymous, &login).await;
    }
);
