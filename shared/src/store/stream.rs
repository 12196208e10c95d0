//! The table's change stream, as the consumers see it: the new items whose sort key starts
//! with [`STREAMED_PREFIX`] (the events), each with the shard it came on and its sequence
//! number there. DynamoDB Streams delivers them to the `badge-events` function (the event
//! source mapping in `template.yaml` filters on the same prefix); the embedded engine keeps a
//! change feed written by SQLite triggers in the same transaction as the write
//! (`store::embedded::ChangeFeed`), which `accounts-local` applies in process.
//!
//! Delivery is at least once, in batches: Lambda retries a failed batch (one that failed, or
//! whose function stopped before answering) whole, from the same record; the event source
//! mapping never splits a batch (`BisectBatchOnFunctionError: false`). A consumer applies each
//! batch in one transaction with a marker of the batch ([`batch_id`]), so a batch is applied
//! exactly once (`activity::day_counts`).

use serde_json::Value as Json;

use super::keys::{EVENT_PREFIX, attr};
use super::{Item, StoreError, StoreResult, Value};

/// Sort-key prefix of the items the stream carries to consumers: the events.
pub const STREAMED_PREFIX: &str = EVENT_PREFIX;

/// One new item from the stream.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamRecord {
    /// The record's id: DynamoDB Streams' `eventID`; the feed's sequence number locally.
    pub id: String,
    pub item: Item,
}

/// The identity of a batch: its first record's id. Lambda delivers a failed or unanswered
/// batch again from the same record, and the embedded feed is read again from where it was
/// last trimmed. So "a batch starting here was applied" is what a consumer must remember, with
/// where that batch ended.
pub fn batch_id(records: &[StreamRecord]) -> String {
    records.first().map(|r| r.id.clone()).unwrap_or_default()
}

/// True when the item is one the stream carries to consumers.
pub fn is_streamed(item: &Item) -> bool {
    item.get(attr::SK)
        .and_then(Value::as_str)
        .is_some_and(|sk| sk.starts_with(STREAMED_PREFIX))
}

/// The records of a DynamoDB Streams event as Lambda delivers it (`{"Records": [...]}` with
/// `eventSource` `aws:dynamodb`); `None` for any other payload. Only INSERTs of streamed
/// items are kept (the event source mapping's filter should leave nothing else).
pub fn records_of_lambda_event(payload: &Json) -> Option<StoreResult<Vec<StreamRecord>>> {
    let records = payload.get("Records")?.as_array()?;
    let first = records.first()?;
    if first.get("eventSource").and_then(Json::as_str) != Some("aws:dynamodb") {
        return None;
    }
    Some(
        records
            .iter()
            .filter(|r| r.get("eventName").and_then(Json::as_str) == Some("INSERT"))
            .map(record_of_lambda)
            .filter(|r| !matches!(r, Ok(record) if !is_streamed(&record.item)))
            .collect(),
    )
}

fn record_of_lambda(record: &Json) -> StoreResult<StreamRecord> {
    let bad = |what: &str| StoreError::Validation(format!("stream record without {what}"));
    let id = record
        .get("eventID")
        .and_then(Json::as_str)
        .ok_or_else(|| bad("an eventID"))?;
    let image = record
        .get("dynamodb")
        .and_then(|d| d.get("NewImage"))
        .ok_or_else(|| bad("a new image"))?;
    Ok(StreamRecord {
        id: id.to_owned(),
        item: image_to_item(image)?,
    })
}

/// An item from its DynamoDB JSON image (`{"PK": {"S": "..."}, "n": {"N": "1"}, ...}`).
pub fn image_to_item(image: &Json) -> StoreResult<Item> {
    let map = image
        .as_object()
        .ok_or_else(|| StoreError::Validation("an image must be an object".into()))?;
    map.iter()
        .map(|(name, value)| Ok((name.clone(), attribute(value)?)))
        .collect()
}

fn attribute(value: &Json) -> StoreResult<Value> {
    let unreadable = || StoreError::Validation(format!("unreadable attribute value {value}"));
    let object = value.as_object().ok_or_else(unreadable)?;
    let (kind, inner) = object.iter().next().ok_or_else(unreadable)?;
    Ok(match (kind.as_str(), inner) {
        ("S", Json::String(s)) => Value::S(s.clone()),
        ("N", Json::String(n)) => super::dynamo::convert::parse_number(n)?,
        ("BOOL", Json::Bool(b)) => Value::Bool(*b),
        ("NULL", _) => Value::Null,
        ("L", Json::Array(items)) => {
            Value::L(items.iter().map(attribute).collect::<StoreResult<_>>()?)
        }
        ("M", map @ Json::Object(_)) => Value::M(image_to_item(map)?),
        ("SS", Json::Array(items)) => Value::Ss(
            items
                .iter()
                .map(|s| s.as_str().map(str::to_owned).ok_or_else(unreadable))
                .collect::<StoreResult<_>>()?,
        ),
        _ => return Err(unreadable()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_lambda_stream_event_gives_its_inserted_events() {
        let payload = json!({"Records": [
            {"eventSource": "aws:dynamodb", "eventName": "INSERT", "eventID": "e1",
             "dynamodb": {"SequenceNumber": "1200", "NewImage": {
                "PK": {"S": "USER#1"}, "SK": {"S": "EVENT#01J"}, "n": {"N": "3"},
                "f": {"N": "1.5"}, "ok": {"BOOL": true}, "none": {"NULL": true},
                "l": {"L": [{"S": "a"}]}, "m": {"M": {"k": {"S": "v"}}}, "ss": {"SS": ["x"]}}}},
            {"eventSource": "aws:dynamodb", "eventName": "MODIFY", "eventID": "e2",
             "dynamodb": {"SequenceNumber": "1300", "NewImage": {"SK": {"S": "EVENT#02"}}}},
            {"eventSource": "aws:dynamodb", "eventName": "INSERT", "eventID": "e3",
             "dynamodb": {"SequenceNumber": "1400", "NewImage": {"SK": {"S": "PROFILE"}}}}
        ]});
        let records = records_of_lambda_event(&payload).unwrap().unwrap();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(r.id, "e1");
        assert_eq!(batch_id(&records), "e1");
        assert_eq!(r.item["n"], Value::Int(3));
        assert_eq!(r.item["f"], Value::Float(1.5));
        assert_eq!(r.item["ok"], Value::Bool(true));
        assert_eq!(r.item["none"], Value::Null);
        assert_eq!(r.item["l"], Value::L(vec![Value::S("a".into())]));
        assert!(matches!(&r.item["m"], Value::M(m) if m["k"] == Value::S("v".into())));
        assert!(matches!(&r.item["ss"], Value::Ss(s) if s.contains("x")));
        assert!(records_of_lambda_event(&json!({"detail": {}})).is_none());
    }
}
