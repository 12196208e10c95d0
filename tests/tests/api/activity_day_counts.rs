//! The day counts kept from the table's stream (`activity::day_counts`), on both engines: new
//! events reach the consumer once each, through the embedded feed or the DynamoDB stream
//! (moto); a batch delivered again adds nothing; events that are changed or removed later
//! (anonymised, expired) leave their day's counts alone; the Lambda handler takes the
//! stream's event shape.

use crate::tasks_support;

use accounts::activity::day_counts;
use accounts::activity::events::{EventType, NewEvent};
use accounts::model::UserId;
use accounts::store::stream::StreamRecord;
use accounts::store::{Index, Query, SortCondition, keys};
use api_tests::app::TestApp;
use api_tests::{TestTable, both_engines};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value as Json, json};
use tasks_support::event;

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2030, 3, 1).unwrap()
}

async fn seeded(t: TestTable) -> TestApp {
    t.enable_stream().await;
    let app = TestApp::new(t).await;
    let at = DateTime::parse_from_rfc3339("2030-03-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    app.clock().set(at);
    for (t, n) in [(EventType::Login, 3), (EventType::PageView, 2)] {
        for i in 0..n {
            event(&app.app, NewEvent::new(t, Some(UserId(1 + i)))).await;
        }
    }
    app
}

/// The stored event items of user 1, as stream records.
async fn records_of_user_one(app: &TestApp) -> Vec<StreamRecord> {
    let query = Query::new(Index::Primary, keys::user_partition(UserId(1)))
        .sort(SortCondition::BeginsWith(keys::EVENT_PREFIX.into()))
        .consistent();
    let page = app.app.table.query(query).await.unwrap();
    page.items
        .into_iter()
        .enumerate()
        .map(|(i, item)| StreamRecord {
            id: format!("replayed-{i}"),
            item,
        })
        .collect()
}

both_engines!(
    async fn each_new_event_is_counted_once_in_its_day(t: TestTable) {
        let app = seeded(t).await;
        assert_eq!(app.apply_stream().await, 5);
        assert_eq!(app.apply_stream().await, 0, "nothing is streamed twice");
        let counts = day_counts::read_day(&app.app, day()).await.unwrap();
        assert_eq!(counts.get("login"), Some(&3), "{counts:?}");
        assert_eq!(counts.get("page_view"), Some(&2), "{counts:?}");
        assert_eq!(counts.len(), 2, "{counts:?}");
        // Another day has nothing.
        let other = day_counts::read_day(&app.app, day().succ_opt().unwrap()).await;
        assert!(other.unwrap().is_empty());

        // An event rewritten later (anonymised, here) is no new item: no count moves.
        accounts::activity::events::anonymise_user_events(&app.app, UserId(1))
            .await
            .unwrap();
        assert_eq!(app.apply_stream().await, 0);
        assert_eq!(day_counts::read_day(&app.app, day()).await.unwrap(), counts);
    }

    async fn a_batch_delivered_again_adds_nothing(t: TestTable) {
        let app = seeded(t).await;
        app.apply_stream().await;
        let before = day_counts::read_day(&app.app, day()).await.unwrap();
        let batch = records_of_user_one(&app).await;
        assert_eq!(batch.len(), 2, "user 1 logged in and viewed a page");
        let first = day_counts::apply(&app.app, &batch).await.unwrap();
        assert_eq!(first.counted, 2);
        assert_eq!(first.redelivered_through, None);
        let again = day_counts::apply(&app.app, &batch).await.unwrap();
        assert_eq!(again.counted, 0);
        assert_eq!(again.redelivered_through.as_deref(), Some("replayed-1"));
        let after = day_counts::read_day(&app.app, day()).await.unwrap();
        assert_eq!(after["login"], before["login"] + 1);
        assert_eq!(after["page_view"], before["page_view"] + 1);
    }

    async fn the_lambda_handler_counts_a_stream_event(t: TestTable) {
        let app = seeded(t).await;
        let batch = records_of_user_one(&app).await;
        let payload = json!({"Records": batch.iter().map(|r| json!({
            "eventID": r.id,
            "eventName": "INSERT",
            "eventSource": "aws:dynamodb",
            "dynamodb": {"SequenceNumber": "1", "NewImage": image(&r.item)},
        })).collect::<Vec<_>>()});
        let answer = accounts::triggers::handle_domain_event(&app.app, payload.clone())
            .await
            .unwrap();
        assert_eq!(answer["counted"], 2, "{answer}");
        let again = accounts::triggers::handle_domain_event(&app.app, payload)
            .await
            .unwrap();
        assert_eq!(again["counted"], 0, "{again}");
        assert_eq!(again["redelivered"], true, "{again}");
        let counts = day_counts::read_day(&app.app, day()).await.unwrap();
        assert_eq!((counts["login"], counts["page_view"]), (1, 1));
    }
);

/// An item as a DynamoDB JSON image, as Lambda's stream events carry it.
fn image(item: &accounts::store::Item) -> Json {
    use accounts::store::Value;
    fn attribute(v: &Value) -> Json {
        match v {
            Value::S(s) => json!({"S": s}),
            Value::Int(n) => json!({"N": n.to_string()}),
            Value::Float(f) => json!({"N": f.to_string()}),
            Value::Bool(b) => json!({"BOOL": b}),
            Value::Null => json!({"NULL": true}),
            Value::L(items) => json!({"L": items.iter().map(attribute).collect::<Vec<_>>()}),
            Value::M(map) => {
                json!({"M": map.iter().map(|(k, v)| (k.clone(), attribute(v))).collect::<serde_json::Map<_, _>>()})
            }
            Value::Ss(set) => json!({"SS": set}),
        }
    }
    Json::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), attribute(v)))
            .collect(),
    )
}
