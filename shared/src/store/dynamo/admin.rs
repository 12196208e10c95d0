//! Creating and deleting the table, from its one definition (`store::keys::table_definition`).
//! Only accounts-local (`CREATE_TABLE`) and the tests create tables; in AWS the SAM template
//! does, so the Lambda functions are built without this (feature `local`).

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};

use super::{DynamoTable, build_error};
use crate::store::keys::table_definition;
use crate::store::{StoreError, StoreResult};

/// How long `create_table_if_missing` waits for the table and its indexes to become ACTIVE.
const ACTIVE_WAIT: Duration = Duration::from_secs(120);

impl DynamoTable {
    /// Creates the table from [`table_definition`] unless it exists, waits until it and its
    /// indexes are ACTIVE, and makes sure TTL is enabled on `expires_at`. True when this call
    /// created the table. Its stream is on, as in `template.yaml`.
    pub async fn create_table_if_missing(&self) -> StoreResult<bool> {
        self.create_table_with_stream(true).await
    }

    /// [`Self::create_table_if_missing`], with the stream on or off: the tests turn it on only
    /// where they read it (moto keeps every record of every stream in memory).
    pub async fn create_table_with_stream(&self, stream: bool) -> StoreResult<bool> {
        let hash = |name: &str| key_element(name, KeyType::Hash);
        let range = |name: &str| key_element(name, KeyType::Range);
        let definitions = table_definition::KEY_ATTRIBUTES
            .iter()
            .map(|name| {
                AttributeDefinition::builder()
                    .attribute_name(*name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build_error)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let indexes = table_definition::GSIS
            .iter()
            .map(|(name, pk, sk)| {
                GlobalSecondaryIndex::builder()
                    .index_name(*name)
                    .key_schema(hash(pk)?)
                    .key_schema(range(sk)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(build_error)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .set_attribute_definitions(Some(definitions))
            .key_schema(hash(table_definition::HASH_KEY)?)
            .key_schema(range(table_definition::RANGE_KEY)?)
            .set_global_secondary_indexes(Some(indexes))
            .billing_mode(BillingMode::from(table_definition::BILLING_MODE))
            .set_stream_specification(stream.then_some(stream_specification()?))
            .send()
            .await;
        let created = match created {
            Ok(_) => true,
            Err(e) if e.code() == Some("ResourceInUseException") => false,
            Err(e) => return Err(self.err(e)),
        };
        self.wait_until_active().await?;
        self.ensure_ttl().await?;
        Ok(created)
    }

    /// Turns the table's stream on (a table made without it).
    pub async fn enable_stream(&self) -> StoreResult<()> {
        self.client
            .update_table()
            .table_name(&self.table)
            .stream_specification(stream_specification()?)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The ARN of the table's stream, if it has one.
    pub async fn stream_arn(&self) -> StoreResult<Option<String>> {
        let described = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        Ok(described
            .table()
            .and_then(|t| t.latest_stream_arn())
            .map(str::to_owned))
    }

    /// Deletes the table; a table that is already gone is not an error.
    pub async fn delete_table(&self) -> StoreResult<()> {
        match self
            .client
            .delete_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    async fn wait_until_active(&self) -> StoreResult<()> {
        let deadline = Instant::now() + ACTIVE_WAIT;
        loop {
            let described = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await;
            let ready = match described {
                Ok(out) => out.table.is_some_and(|t| {
                    t.table_status() == Some(&TableStatus::Active)
                        && t.global_secondary_indexes()
                            .iter()
                            .all(|i| i.index_status() == Some(&IndexStatus::Active))
                }),
                // Right after CreateTable the table may not be visible yet.
                Err(e) if e.code() == Some("ResourceNotFoundException") => false,
                Err(e) => return Err(self.err(e)),
            };
            if ready {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StoreError::Unavailable(format!(
                    "table {} did not become ACTIVE within {}s",
                    self.table,
                    ACTIVE_WAIT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Enables TTL on the table's TTL attribute unless it already is (enabling twice is an
    /// error in DynamoDB, so this looks first).
    async fn ensure_ttl(&self) -> StoreResult<()> {
        if self.ttl_enabled().await? {
            return Ok(());
        }
        let spec = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(table_definition::TTL_ATTRIBUTE)
            .build()
            .map_err(build_error)?;
        let updated = self
            .client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(spec)
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            // Someone else enabled it between the look and the update.
            Err(e) if self.ttl_enabled().await? => {
                tracing::debug!(error = %self.err(e), "TTL enabled concurrently");
                Ok(())
            }
            Err(e) => Err(self.err(e)),
        }
    }

    async fn ttl_enabled(&self) -> StoreResult<bool> {
        let out = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        Ok(out.time_to_live_description.is_some_and(|d| {
            matches!(
                d.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            ) && d.attribute_name() == Some(table_definition::TTL_ATTRIBUTE)
        }))
    }
}

fn stream_specification() -> StoreResult<StreamSpecification> {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::from(table_definition::STREAM_VIEW_TYPE))
        .build()
        .map_err(build_error)
}

fn key_element(name: &str, kind: KeyType) -> StoreResult<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(build_error)
}
