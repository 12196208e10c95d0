//! One AWS SDK configuration for every client (DynamoDB, SES v2, EventBridge), loaded once at
//! cold start.
//!
//! The SDK crates are built without default features, so the HTTPS client is given explicitly:
//! rustls with ring. That keeps aws-lc-sys out of every binary (about 4.7 MB each). Region,
//! credentials and `AWS_ENDPOINT_URL` (moto in tests) come from the usual environment chain.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Loads the shared SDK configuration. Timeouts are short because every caller is a request
/// path or a task with its own deadline; a timeout surfaces as a retryable store error.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(12))
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(timeouts)
        .load()
        .await
}
