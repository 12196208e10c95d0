//! The DynamoDB engine: the port mapped one to one onto DynamoDB operations through the AWS SDK.
//!
//! Expressions are generated with placeholders only (`expr`), values map one to one (`convert`),
//! and SDK errors become the port's errors (`errors`). DynamoDB removes expired items late (and
//! moto never does), so every read hides items whose `expires_at` has passed on the injected
//! clock: in code for gets, and for queries and scans in the `FilterExpression`, or, when a
//! limit is set, in code so that expired items do not count against it (see `read_page`).
//!
//! Every item operation asks for `ReturnConsumedCapacity::Total` and hands the units to
//! [`crate::store::counting`], which adds them up when a `CountingTable` is counting the call
//! (the cost-per-endpoint table); the answer is a few bytes longer, and it costs nothing else.

// Creating and deleting the table: for accounts-local and the tests (feature `local`); in AWS
// the SAM template owns the table.
#[cfg(feature = "local")]
mod admin;
pub(crate) mod convert;
mod errors;
mod expr;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    ConditionCheck, ConsumedCapacity, Delete, KeysAndAttributes, Put, ReturnConsumedCapacity,
    ReturnValue, TransactWriteItem,
};
use futures::{StreamExt, TryStreamExt};

use self::convert::{
    AttrMap, cursor_from_last_key, from_attr_map, key_to_attrs, start_key, to_attr_map,
};
use self::errors::{cancel_reasons, from_sdk};
use self::expr::{Expr, SortPlan, TakesExpressions, mentions};
use crate::clock::Clock;
use crate::store::counting;
use crate::store::limits::{Sizing, check_item, check_key, check_transaction, check_update};
use crate::store::*;

/// DynamoDB's limit on keys in one `BatchGetItem`.
const BATCH_GET_MAX_KEYS: usize = 100;
/// Chunks of one batch get in flight at once.
const BATCH_GET_CONCURRENCY: usize = 4;
/// Retries of unprocessed keys before giving up with a retryable error.
const UNPROCESSED_RETRIES: u32 = 8;
/// DynamoDB's limit on `TotalSegments`.
const MAX_TOTAL_SEGMENTS: u32 = 1_000_000;
/// Calls one page of a limited query or scan may take when expired items crowd its window.
const MAX_PAGE_ROUNDS: u32 = 8;

pub struct DynamoTable {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoTable {
    pub fn new(sdk: &crate::aws::SdkConfig, table_name: String, clock: Arc<dyn Clock>) -> Self {
        DynamoTable {
            client: Client::new(sdk),
            table: table_name,
            clock,
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    fn err<E>(&self, err: SdkError<E>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        from_sdk(err, &self.table)
    }

    /// One chunk of a batch get (at most 100 distinct keys), retrying unprocessed keys with a
    /// jittered exponential backoff.
    async fn batch_get_chunk(&self, keys: Vec<AttrMap>) -> StoreResult<Vec<Item>> {
        let mut pending = keys;
        let mut items = Vec::new();
        let mut retries = 0;
        loop {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .build()
                .map_err(build_error)?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| self.err(e))?;
            report_capacity(out.consumed_capacity());
            if let Some(found) = out.responses.and_then(|mut r| r.remove(&self.table)) {
                for item in found {
                    items.push(from_attr_map(item)?);
                }
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(items);
            }
            retries += 1;
            if retries > UNPROCESSED_RETRIES {
                return Err(StoreError::Throttled(format!(
                    "batch get left keys unprocessed after {UNPROCESSED_RETRIES} retries"
                )));
            }
            tokio::time::sleep(backoff(retries)).await;
        }
    }

    /// One operation of a transaction that [`check_transaction`] accepted.
    fn tx_item(&self, op: &TxOp) -> StoreResult<TransactWriteItem> {
        let item = match op {
            TxOp::Put { item, condition } => {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_attr_map(item)?))
                    .expressions(Expr::new().with_condition(condition.as_ref())?)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().put(put)
            }
            TxOp::Update {
                key,
                update,
                condition,
            } => {
                let mut x = Expr::new();
                // Never `None`: the check refused updates without actions.
                let expression = x.update(update)?;
                let update = aws_sdk_dynamodb::types::Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_to_attrs(key)))
                    .set_update_expression(expression)
                    .expressions(x.with_condition(condition.as_ref())?)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().update(update)
            }
            TxOp::Delete { key, condition } => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_to_attrs(key)))
                    .expressions(Expr::new().with_condition(condition.as_ref())?)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().delete(delete)
            }
            TxOp::Check { key, condition } => {
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_to_attrs(key)))
                    .expressions(Expr::new().with_condition(Some(condition))?)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().condition_check(check)
            }
        };
        Ok(item.build())
    }

    /// Reads one page of a query or scan, one `round` (a DynamoDB call) at a time.
    ///
    /// Expired items are invisible to every read, so they must not count against the port's
    /// `Limit` either: only live items count as evaluated. Without a limit, the TTL filter goes
    /// into the `FilterExpression` and one call suffices. With a limit, the filter lets every
    /// expired item through (`expired OR filter`), so that the items evaluated but dropped are
    /// known to be live (`ScannedCount` minus the expired items returned); when expired items
    /// took part of the limit, the page is topped up from the `LastEvaluatedKey` with the rest.
    /// The cursor is always DynamoDB's own last evaluated key.
    async fn read_page(
        &self,
        limit: Option<u32>,
        mut start: Option<AttrMap>,
        filter: Option<&Condition>,
        now: i64,
        source: Source<'_>,
    ) -> StoreResult<Page> {
        let mut items = Vec::new();
        let mut remaining = limit;
        let mut rounds = 0;
        loop {
            rounds += 1;
            let answer = self
                .round(&source, limit.is_some(), now, remaining, start.take())
                .await?;
            let mut expired = 0u32;
            for raw in answer.items {
                let item = from_attr_map(raw)?;
                if is_expired(&item, now) {
                    expired += 1;
                } else if filter.is_none_or(|f| f.matches(Some(&item))) {
                    items.push(item);
                }
            }
            let last = answer.last.filter(|k| !k.is_empty());
            let Some(asked) = remaining else {
                return Ok(Page {
                    items,
                    next: cursor_from_last_key(last)?,
                });
            };
            let live = answer.scanned.saturating_sub(expired);
            let left = asked.saturating_sub(live);
            // Fewer evaluated than asked means DynamoDB's 1 MB cap ended the call: a short
            // page, as DynamoDB itself would return.
            let capped = answer.scanned < asked;
            if last.is_none() || left == 0 || capped || rounds >= MAX_PAGE_ROUNDS {
                return Ok(Page {
                    items,
                    next: cursor_from_last_key(last)?,
                });
            }
            remaining = Some(left);
            start = last;
        }
    }

    /// One query or scan call.
    async fn round(
        &self,
        source: &Source<'_>,
        limited: bool,
        now: i64,
        limit: Option<u32>,
        start: Option<AttrMap>,
    ) -> StoreResult<Round> {
        let mut x = Expr::new();
        match *source {
            Source::Query {
                index,
                pk,
                sort,
                remote_filter,
                descending,
                consistent,
            } => {
                let key_condition = x.key_condition(index, pk, sort);
                let filter = filter_expression(&mut x, remote_filter, now, limited)?;
                self.client
                    .query()
                    .table_name(&self.table)
                    .set_index_name(index.name().map(str::to_owned))
                    .key_condition_expression(key_condition)
                    .expressions(x.finish(filter))
                    .scan_index_forward(!descending)
                    .set_limit(limit.map(clamp_limit))
                    .set_exclusive_start_key(start)
                    .set_consistent_read(consistent.then_some(true))
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map(Round::from)
                    .map_err(|e| self.err(e))
            }
            Source::Scan {
                segment,
                total,
                filter,
            } => {
                let filter = filter_expression(&mut x, filter, now, limited)?;
                self.client
                    .scan()
                    .table_name(&self.table)
                    .segment(segment)
                    .total_segments(total)
                    .expressions(x.finish(filter))
                    .set_limit(limit.map(clamp_limit))
                    .set_exclusive_start_key(start)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map(Round::from)
                    .map_err(|e| self.err(e))
            }
        }
    }
}

/// What a page reads, apart from its position and limit.
enum Source<'a> {
    Query {
        index: Index,
        pk: &'a str,
        sort: Option<&'a SortCondition>,
        /// The part of the filter DynamoDB may evaluate (see `Table::query`).
        remote_filter: Option<&'a Condition>,
        descending: bool,
        /// Strongly consistent; only ever set for the main index.
        consistent: bool,
    },
    Scan {
        segment: i32,
        total: i32,
        filter: Option<&'a Condition>,
    },
}

/// What one query or scan call returned.
struct Round {
    items: Vec<AttrMap>,
    /// DynamoDB's `ScannedCount`: items evaluated before the filter.
    scanned: u32,
    last: Option<AttrMap>,
}

impl Round {
    fn new(items: Option<Vec<AttrMap>>, scanned: i32, last: Option<AttrMap>) -> Self {
        Round {
            items: items.unwrap_or_default(),
            scanned: u32::try_from(scanned).unwrap_or(0),
            last,
        }
    }
}

impl From<QueryOutput> for Round {
    fn from(out: QueryOutput) -> Self {
        report_capacity(out.consumed_capacity());
        Round::new(out.items, out.scanned_count, out.last_evaluated_key)
    }
}

impl From<ScanOutput> for Round {
    fn from(out: ScanOutput) -> Self {
        report_capacity(out.consumed_capacity());
        Round::new(out.items, out.scanned_count, out.last_evaluated_key)
    }
}

/// Hands the capacity units an answer reports (if any) to the counting wrapper.
fn report_capacity<'a>(consumed: impl IntoIterator<Item = &'a ConsumedCapacity>) {
    let mut reported = None;
    for units in consumed
        .into_iter()
        .filter_map(ConsumedCapacity::capacity_units)
    {
        *reported.get_or_insert(0.0) += units;
    }
    if let Some(units) = reported {
        counting::report_consumed_capacity(units);
    }
}

/// The `FilterExpression` of a query or scan (see [`DynamoTable::read_page`]).
fn filter_expression(
    x: &mut Expr,
    filter: Option<&Condition>,
    now: i64,
    limited: bool,
) -> StoreResult<Option<String>> {
    let user = filter.map(|f| x.condition(f)).transpose()?;
    Ok(if limited {
        user.map(|user| format!("{} OR ({user})", x.expired(now)))
    } else {
        let live = x.not_expired(now);
        Some(match user {
            Some(user) => format!("{live} AND ({user})"),
            None => live,
        })
    })
}

#[async_trait]
impl Table for DynamoTable {
    fn engine(&self) -> &'static str {
        "dynamodb"
    }

    async fn get(&self, key: &Key, consistent: bool) -> StoreResult<Option<Item>> {
        check_key(key)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_to_attrs(key)))
            .consistent_read(consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        report_capacity(out.consumed_capacity());
        let now = self.clock.epoch_seconds();
        Ok(out
            .item
            .map(from_attr_map)
            .transpose()?
            .filter(|item| !is_expired(item, now)))
    }

    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        keys.iter().try_for_each(check_key)?;
        // DynamoDB rejects a request that names one key twice.
        let mut seen = HashSet::new();
        let unique: Vec<&Key> = keys.iter().filter(|k| seen.insert(*k)).collect();
        let chunks: Vec<Vec<AttrMap>> = unique
            .chunks(BATCH_GET_MAX_KEYS)
            .map(|chunk| chunk.iter().map(|k| key_to_attrs(k)).collect())
            .collect();
        let found: Vec<Vec<Item>> = futures::stream::iter(chunks)
            .map(|chunk| self.batch_get_chunk(chunk))
            .buffer_unordered(BATCH_GET_CONCURRENCY)
            .try_collect()
            .await?;
        let now = self.clock.epoch_seconds();
        let by_key: HashMap<Key, Item> = found
            .into_iter()
            .flatten()
            .filter(|item| !is_expired(item, now))
            .filter_map(|item| Some((Key::of(&item)?, item)))
            .collect();
        Ok(keys.iter().map(|k| by_key.get(k).cloned()).collect())
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        check_item(&item, Sizing::LowerBound)?;
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attr_map(&item)?))
            .expressions(Expr::new().with_condition(condition.as_ref())?)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        report_capacity(out.consumed_capacity());
        Ok(())
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item> {
        check_update(key, &update)?;
        let mut x = Expr::new();
        let expression = x.update(&update)?;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_to_attrs(key)))
            .set_update_expression(expression)
            .expressions(x.with_condition(condition.as_ref())?)
            .return_values(ReturnValue::AllNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        report_capacity(out.consumed_capacity());
        match out.attributes.filter(|a| !a.is_empty()) {
            Some(attrs) => from_attr_map(attrs),
            // An update without actions of a missing item leaves just the key.
            None => Ok(key.to_item()),
        }
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>> {
        check_key(key)?;
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_to_attrs(key)))
            .expressions(Expr::new().with_condition(condition.as_ref())?)
            .return_values(ReturnValue::AllOld)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        report_capacity(out.consumed_capacity());
        // An expired leftover was already invisible: deleting it returns nothing.
        let now = self.clock.epoch_seconds();
        let old = out
            .attributes
            .filter(|a| !a.is_empty())
            .map(from_attr_map)
            .transpose()?;
        Ok(old.filter(|item| !is_expired(item, now)))
    }

    async fn query(&self, query: Query) -> StoreResult<Page> {
        if query.limit == Some(0) {
            return Err(StoreError::Validation(
                "a query limit must be at least 1".into(),
            ));
        }
        let start = query
            .cursor
            .as_ref()
            .map(|c| start_key(c, query.index, Some(&query.pk)))
            .transpose()?;
        let sort = match SortPlan::of(query.sort) {
            // Keys are never empty strings, so an empty partition holds nothing.
            _ if query.pk.is_empty() => return Ok(Page::default()),
            SortPlan::Nothing => return Ok(Page::default()),
            SortPlan::All => None,
            SortPlan::Only(sort) => Some(sort),
        };
        // DynamoDB refuses a FilterExpression that names the queried index's own key
        // attributes; such a filter is applied in code only, which means the same, since the
        // filter runs after Limit either way.
        let (hash, range) = query.index.key_attrs();
        let filter = query.filter.as_ref();
        let remote_filter = filter.filter(|f| !mentions(f, hash) && !mentions(f, range));
        let now = self.clock.epoch_seconds();
        // GSIs are eventually consistent only; DynamoDB rejects the flag there.
        let source = Source::Query {
            index: query.index,
            pk: &query.pk,
            sort: sort.as_ref(),
            remote_filter,
            descending: query.descending,
            consistent: query.consistent && query.index == Index::Primary,
        };
        self.read_page(query.limit, start, filter, now, source)
            .await
    }

    /// The token goes out as the `ClientRequestToken`. The SDK would otherwise make one per
    /// call, and the store's retries, above the SDK, are separate calls: each would be a new
    /// transaction to DynamoDB.
    async fn transact_write_try(
        &self,
        ops: Vec<TxOp>,
        token: &IdempotencyToken,
    ) -> StoreResult<()> {
        if ops.is_empty() {
            return Ok(());
        }
        check_transaction(&ops, Sizing::LowerBound)?;
        let items = ops
            .iter()
            .map(|op| self.tx_item(op))
            .collect::<StoreResult<Vec<_>>>()?;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(token.as_str())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                report_capacity(out.consumed_capacity());
                Ok(())
            }
            Err(err) => {
                if let SdkError::ServiceError(service) = &err
                    && let TransactWriteItemsError::TransactionCanceledException(cancelled) =
                        service.err()
                {
                    let reasons = cancel_reasons(cancelled.cancellation_reasons(), ops.len());
                    return Err(StoreError::TransactionCanceled { reasons });
                }
                Err(self.err(err))
            }
        }
    }

    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        if scan.total_segments == 0
            || scan.total_segments > MAX_TOTAL_SEGMENTS
            || scan.segment >= scan.total_segments
        {
            return Err(StoreError::Validation(format!(
                "scan segment {} of {} is out of range",
                scan.segment, scan.total_segments
            )));
        }
        if scan.limit == Some(0) {
            return Err(StoreError::Validation(
                "a scan limit must be at least 1".into(),
            ));
        }
        let start = scan
            .cursor
            .as_ref()
            .map(|c| start_key(c, Index::Primary, None))
            .transpose()?;
        let filter = scan.filter.as_ref();
        let now = self.clock.epoch_seconds();
        // Both bounds were checked above, so the conversions cannot fail.
        let segment = i32::try_from(scan.segment).unwrap_or(i32::MAX);
        let total = i32::try_from(scan.total_segments).unwrap_or(i32::MAX);
        let source = Source::Scan {
            segment,
            total,
            filter,
        };
        self.read_page(scan.limit, start, filter, now, source).await
    }

    async fn health(&self) -> StoreResult<()> {
        // One cheap read proves both that DynamoDB answers and that the table exists, with the
        // permission every function has anyway.
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_to_attrs(&keys::health_probe())))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        report_capacity(out.consumed_capacity());
        Ok(())
    }
}

fn build_error(err: BuildError) -> StoreError {
    StoreError::Backend(format!("could not build the DynamoDB request: {err}"))
}

fn clamp_limit(limit: u32) -> i32 {
    i32::try_from(limit).unwrap_or(i32::MAX)
}

/// 25 ms doubling per retry, capped at one second, with full jitter on the upper half.
fn backoff(retry: u32) -> Duration {
    let base = 25u64
        .saturating_mul(1 << retry.min(10).saturating_sub(1))
        .min(1000);
    Duration::from_millis(base / 2 + fastrand::u64(0..=base / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for retry in 1..=UNPROCESSED_RETRIES + 4 {
            let d = backoff(retry).as_millis();
            let base = (25u128 << (retry - 1).min(9)).min(1000);
            assert!(d >= base / 2 && d <= base, "retry {retry}: {d} ms");
        }
    }

    #[test]
    fn limits_clamp_to_the_wire_type() {
        assert_eq!(clamp_limit(10), 10);
        assert_eq!(clamp_limit(u32::MAX), i32::MAX);
    }

    /// Keeps the body of every request the client sends and answers each `200 {}`.
    #[derive(Clone, Debug, Default)]
    struct Recorder(Arc<std::sync::Mutex<Vec<serde_json::Value>>>);

    impl aws_smithy_runtime_api::client::http::HttpConnector for Recorder {
        fn call(
            &self,
            request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
        ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
            let body = request.body().bytes().unwrap_or_default();
            let json = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
            self.0.lock().unwrap().push(json);
            let response = aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
                200.try_into().unwrap(),
                aws_smithy_types::body::SdkBody::from("{}"),
            );
            aws_smithy_runtime_api::client::http::HttpConnectorFuture::ready(Ok(response))
        }
    }

    fn recorded_table() -> (DynamoTable, Recorder) {
        use aws_smithy_runtime_api::client::http::{SharedHttpConnector, http_client_fn};
        let recorder = Recorder::default();
        let connector = SharedHttpConnector::new(recorder.clone());
        let sdk = crate::aws::SdkConfig::builder()
            .behavior_version(
                aws_smithy_runtime_api::client::behavior_version::BehaviorVersion::latest(),
            )
            .region(aws_types::region::Region::new("us-east-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new("test", "test", None, None, "test"),
                ),
            )
            .http_client(http_client_fn(move |_, _| connector.clone()))
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
            .build();
        let clock = Arc::new(crate::clock::SystemClock);
        (DynamoTable::new(&sdk, "accounts".into(), clock), recorder)
    }

    #[tokio::test]
    async fn a_transaction_goes_out_with_its_token() {
        let (table, recorder) = recorded_table();
        let ops = || {
            vec![TxOp::Check {
                key: Key::new("USER#1", "PROFILE"),
                condition: Condition::Exists(keys::attr::PK.into()),
            }]
        };
        let token = IdempotencyToken::new();
        table.transact_write_try(ops(), &token).await.unwrap();
        table.transact_write_try(ops(), &token).await.unwrap();
        table.transact_write(ops()).await.unwrap();
        let sent: Vec<String> = recorder
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|body| {
                body["ClientRequestToken"]
                    .as_str()
                    .unwrap_or("none")
                    .to_owned()
            })
            .collect();
        assert_eq!(
            sent[..2],
            [token.as_str(), token.as_str()],
            "both tries, one token"
        );
        assert_ne!(
            sent[2],
            token.as_str(),
            "another transaction, another token"
        );
        assert_eq!(sent[2].len(), 26, "{sent:?}");
    }
}
