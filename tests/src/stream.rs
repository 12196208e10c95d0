//! The table's stream in the tests, on both engines: the embedded engine's change feed, or
//! the DynamoDB stream of a moto table read through the Streams API, applied to the day
//! counts (`activity::day_counts`) as `accounts-local` and the `badge-events` function do.
//!
//! A DynamoDB test table has no stream until [`TestTable::enable_stream`] (moto keeps every
//! record of every stream in memory); the embedded feed is always there.

use std::collections::BTreeMap;

use accounts::App;
use accounts::activity::day_counts;
use accounts::store::stream::{StreamRecord, is_streamed};
use accounts::store::{Item, Value};
use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};

use crate::TestTable;

impl TestTable {
    /// Turns the DynamoDB table's stream on (the embedded feed needs nothing). Only what is
    /// written afterwards is streamed.
    pub async fn enable_stream(&self) {
        if let Some(dynamo) = self.dynamo() {
            dynamo
                .enable_stream()
                .await
                .expect("enable the table's stream");
        }
    }
}

/// Applies everything the stream holds that was not applied yet; returns the events counted.
pub async fn apply_stream(app: &App, t: &TestTable) -> u64 {
    let Some(dynamo) = t.dynamo() else {
        let feed = accounts::store::embedded::ChangeFeed::open(t.dir()).expect("open the feed");
        return day_counts::apply_feed(app, &feed)
            .await
            .expect("apply the change feed");
    };
    let arn = dynamo
        .stream_arn()
        .await
        .expect("describe the table")
        .expect("the table has a stream: call TestTable::enable_stream first");
    let sdk = crate::moto::sdk_config().await;
    let client = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let stream = client
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .expect("describe the stream");
    let shards: Vec<String> = stream
        .stream_description()
        .map(|d| {
            d.shards()
                .iter()
                .filter_map(|s| s.shard_id())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let mut counted = 0;
    for shard in shards {
        let after = t.stream_positions.lock().unwrap().get(&shard).cloned();
        let mut request = client
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(&shard);
        request = match &after {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(sequence),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let mut iterator = request
            .send()
            .await
            .expect("a shard iterator")
            .shard_iterator()
            .map(str::to_owned);
        while let Some(current) = iterator.take() {
            let page = client
                .get_records()
                .shard_iterator(&current)
                .limit(1000)
                .send()
                .await
                .expect("read the stream");
            if page.records().is_empty() {
                break;
            }
            let mut batch = Vec::new();
            let mut last_sequence = None;
            for record in page.records() {
                let Some(change) = record.dynamodb() else {
                    continue;
                };
                last_sequence = change.sequence_number().map(str::to_owned);
                let inserted = record.event_name().map(|n| n.as_str()) == Some("INSERT");
                let Some(image) = change.new_image().filter(|_| inserted) else {
                    continue;
                };
                let item = item_of(image);
                if is_streamed(&item) {
                    batch.push(StreamRecord {
                        id: record.event_id().unwrap_or_default().to_owned(),
                        item,
                    });
                }
            }
            if !batch.is_empty() {
                counted += day_counts::apply(app, &batch)
                    .await
                    .expect("apply a stream batch")
                    .counted;
            }
            if let Some(sequence) = last_sequence {
                t.stream_positions
                    .lock()
                    .unwrap()
                    .insert(shard.clone(), sequence);
            }
            iterator = page.next_shard_iterator().map(str::to_owned);
        }
    }
    counted
}

fn item_of(image: &std::collections::HashMap<String, AttributeValue>) -> Item {
    image
        .iter()
        .map(|(name, value)| (name.clone(), value_of(value)))
        .collect()
}

fn value_of(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::S(s.clone()),
        AttributeValue::N(n) => match n.parse::<i64>() {
            Ok(i) if !n.contains(['.', 'e', 'E']) => Value::Int(i),
            _ => Value::Float(n.parse().unwrap_or(f64::NAN)),
        },
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::L(items) => Value::L(items.iter().map(value_of).collect()),
        AttributeValue::M(map) => Value::M(
            map.iter()
                .map(|(k, v)| (k.clone(), value_of(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
        AttributeValue::Ss(set) => Value::Ss(set.iter().cloned().collect()),
        _ => Value::Null,
    }
}
