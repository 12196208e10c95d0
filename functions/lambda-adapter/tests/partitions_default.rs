//! Without narrowing, the SDK resolves endpoints from its own table of every partition: the
//! endpoints `partitions_narrowed` must reproduce, and a China region in its own partition.

mod common;

#[tokio::test]
async fn the_sdk_table_resolves_commercial_and_china_regions() {
    assert!(std::env::var_os(accounts::aws::PARTITION_TABLE_VAR).is_none());
    assert_eq!(
        common::endpoints::commercial_endpoints().await,
        common::endpoints::COMMERCIAL_ENDPOINTS
    );
    assert_eq!(
        common::endpoints::endpoints("cn-north-1", false, false).await,
        "https://dynamodb.cn-north-1.amazonaws.com.cn https://email.cn-north-1.amazonaws.com.cn https://events.cn-north-1.amazonaws.com.cn"
    );
}
