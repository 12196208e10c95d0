//! One AWS SDK configuration for every client (DynamoDB, SES v2, EventBridge), loaded once at
//! cold start.
//!
//! The SDK crates are built without default features, so the HTTPS client is given explicitly:
//! rustls with ring. That keeps aws-lc-sys out of every binary (about 4.7 MB each). Region,
//! credentials and `AWS_ENDPOINT_URL` (moto in tests) come from the usual environment chain.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{HttpClient as _, http_client_fn};

use crate::config::AwsTrustStore;

/// The roots AWS service endpoints chain to: Amazon Root CA 1-4 and Starfield Services Root G2.
const AWS_ROOTS_PEM: &[u8] = include_bytes!("../certs/aws-roots.pem");

/// Loads the shared SDK configuration. Timeouts are short because every caller is a request
/// path or a task with its own deadline; a timeout surfaces as a retryable store error.
pub async fn sdk_config(trust: AwsTrustStore) -> aws_config::SdkConfig {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls_context(trust))
        .build_https();
    // The same client without its check at client construction: that check builds a TLS
    // configuration (parsing the roots) only to throw it away, once per SDK client, and the
    // first request builds the one it keeps anyway.
    let http_client =
        http_client_fn(move |settings, components| https.http_connector(settings, components));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(12))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(timeouts);
    // Lambda puts the credentials and the region in the environment, where the default chains
    // look first. Naming the environment providers when the variables are there gives the same
    // answer without building the rest of the chains (web identity with its own STS client,
    // the container and IMDS clients): about a sixth of a function's init.
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    if set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY") {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    if set("AWS_REGION") || set("AWS_DEFAULT_REGION") {
        loader = loader.region(aws_config::environment::EnvironmentVariableRegionProvider::new());
    }
    loader.load().await
}

/// The SDK builds the TLS configuration once per client at init (three clients here), and with
/// the platform's store that means reading and parsing every certificate in it each time: more
/// than half of a function's init CPU (docs/benchmarks.md, "Cold start"). AWS endpoints need
/// five roots, compiled in.
fn tls_context(trust: AwsTrustStore) -> TlsContext {
    let store = match trust {
        AwsTrustStore::AwsRoots => TrustStore::empty().with_pem_certificate(AWS_ROOTS_PEM),
        AwsTrustStore::System => TrustStore::default(),
    };
    TlsContext::builder()
        .with_trust_store(store)
        .build()
        .expect("a trust store alone is a valid TLS context")
}

/// An SDK client built at its first use rather than at cold start. Building a client costs
/// about as much CPU as the rest of a function's init together (the endpoint rules' partition
/// table is parsed and its regexes compiled per client, and the TLS configuration is built), and
/// most invocations never send mail or publish an event: only the DynamoDB client, which every
/// request needs, is built at init.
pub struct LazyClient<C> {
    sdk: aws_config::SdkConfig,
    make: fn(&aws_config::SdkConfig) -> C,
    client: std::sync::OnceLock<C>,
}

impl<C> LazyClient<C> {
    pub fn new(sdk: &aws_config::SdkConfig, make: fn(&aws_config::SdkConfig) -> C) -> Self {
        LazyClient {
            sdk: sdk.clone(),
            make,
            client: std::sync::OnceLock::new(),
        }
    }

    pub fn get(&self) -> &C {
        self.client.get_or_init(|| (self.make)(&self.sdk))
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use sha2::{Digest, Sha256};

    use super::*;

    /// The certificates of a PEM bundle, DER-encoded.
    fn certificates(pem: &str) -> Vec<Vec<u8>> {
        pem.split("-----BEGIN CERTIFICATE-----")
            .skip(1)
            .map(|rest| {
                let body = rest
                    .split("-----END CERTIFICATE-----")
                    .next()
                    .expect("every certificate ends");
                let base64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(base64)
                    .expect("PEM bodies are base64")
            })
            .collect()
    }

    #[test]
    fn the_compiled_in_roots_are_exactly_the_amazon_trust_services_roots() {
        // SHA-256 fingerprints as published at https://www.amazontrust.com/repository/.
        let expected = [
            "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e", // Amazon Root CA 1
            "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4", // Amazon Root CA 2
            "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4", // Amazon Root CA 3
            "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092", // Amazon Root CA 4
            "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5", // Starfield Services G2
        ];
        let pem = std::str::from_utf8(AWS_ROOTS_PEM).unwrap();
        let fingerprints: Vec<String> = certificates(pem)
            .iter()
            .map(|der| {
                Sha256::digest(der)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
            .collect();
        assert_eq!(fingerprints, expected);
    }

    #[tokio::test]
    async fn the_first_request_builds_tls_from_the_roots_and_refuses_a_stranger() {
        // A server that is not AWS: it answers the TLS handshake with plain text.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt as _;
            while let Ok((mut socket, _)) = listener.accept().await {
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\n\r\nnot TLS").await;
            }
        });
        for trust in [AwsTrustStore::AwsRoots, AwsTrustStore::System] {
            let sdk = sdk_config(trust).await;
            let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
                .endpoint_url(format!("https://127.0.0.1:{port}"))
                .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "test", "test", None, None, "test",
                ))
                .retry_config(aws_config::retry::RetryConfig::disabled())
                .build();
            // The TLS configuration is built here, from the trust store (a bad bundle panics).
            let outcome = aws_sdk_dynamodb::Client::from_conf(config)
                .list_tables()
                .send()
                .await;
            let error = outcome.expect_err("nothing that is not TLS is accepted");
            assert!(
                matches!(error, aws_sdk_dynamodb::error::SdkError::DispatchFailure(_)),
                "{trust:?}: {error:?}"
            );
        }
    }
}
