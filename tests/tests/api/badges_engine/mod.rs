//! What the badge engine's tests share, on top of `api_tests::fixtures` (users in a time zone,
//! badge points): Apps with and without the bus evaluator, badges from criteria documents,
//! content events fed through the bus ingestion, and the badges a user holds.

#![allow(dead_code)]

use accounts::App;
use accounts::activity::ingest::{Ingested, ingest_bus_event};
use accounts::badges::awards::held_badges;
use accounts::badges::criteria::parse_criteria;
use accounts::badges::definitions::{self, BadgeDefinition, BadgeId, Category, NewBadge, Rarity};
use accounts::model::UserId;
use api_tests::TestTable;
use api_tests::app::TestApp;
use serde_json::{Value as Json, json};

/// An App whose in-process bus feeds the badge evaluator (as accounts-local runs).
pub async fn evaluating_app(t: TestTable) -> TestApp {
    TestApp::with_settings(t, &[("BADGES_EVALUATE_ON_BUS", "true")]).await
}

/// An active badge with these criteria (validated as the API validates them).
pub async fn badge(app: &App, name: &str, criteria: Json, points: i64) -> BadgeDefinition {
    let rarity = match points {
        ..=25 => Rarity::Common,
        26..=100 => Rarity::Rare,
        101..=300 => Rarity::Epic,
        _ => Rarity::Legendary,
    };
    let criteria = parse_criteria(&criteria)
        .unwrap_or_else(|e| panic!("criteria of {name} are invalid: {e:?}"));
    definitions::create(
        app,
        accounts::access::Admin::SYSTEM,
        NewBadge {
            name: name.into(),
            description: format!("{name} (test)"),
            category: Category::Achievement,
            icon: "fas fa-star".into(),
            color: "#123456".into(),
            image: None,
            criteria,
            points,
            rarity,
            is_active: true,
            series: None,
            tier: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("create {name}: {e:?}"))
}

/// A content event as the platform puts it on the bus, ingested (not evaluated).
pub async fn ingest(
    app: &App,
    user: UserId,
    event_type: &str,
    target: Option<UserId>,
    metadata: Json,
) -> Ingested {
    let detail = json!({
        "event_type": event_type,
        "user": user,
        "target_user": target,
        "metadata": metadata,
    });
    let id = ulid::Ulid::new().to_string();
    ingest_bus_event(app, Some(&id), detail)
        .await
        .unwrap_or_else(|e| panic!("ingest {event_type}: {e:?}"))
}

/// `n` events of one type by `user`.
pub async fn ingest_n(app: &App, user: UserId, event_type: &str, n: usize) {
    for _ in 0..n {
        ingest(app, user, event_type, None, json!({})).await;
    }
}

/// The ids of the badges the user holds.
pub async fn held(app: &App, user: UserId) -> Vec<BadgeId> {
    held_badges(app, user)
        .await
        .expect("read held badges")
        .into_iter()
        .map(|b| b.badge)
        .collect()
}

/// An EventBridge envelope around a detail, as the `badge-events` function receives it.
pub fn envelope(id: &str, source: &str, detail_type: &str, detail: Json, time: &str) -> Json {
    json!({
        "version": "0",
        "id": id,
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    })
}

/// The test's table, every call atomic on moto as on DynamoDB (see `api_tests::moto`).
pub fn isolated(t: &TestTable) -> std::sync::Arc<dyn accounts::store::Table> {
    api_tests::moto::isolated(t, api_tests::moto::Isolation::EveryCall)
}
