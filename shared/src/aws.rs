//! One AWS SDK configuration for every client (DynamoDB, SES v2, EventBridge), loaded once at
//! cold start.
//!
//! The SDK crates are built without default features, so the HTTPS client is given explicitly:
//! rustls with ring. That keeps aws-lc-sys out of every binary (about 4.7 MB each).
//!
//! Where region and credentials come from depends on the build:
//! - A Lambda function (the accounts crate without feature `local`) reads them from the
//!   environment Lambda gives every function ([`from_environment`]): nothing else is ever
//!   there, and leaving out aws-config's chains (profile files, SSO, web identity with its own
//!   STS client, the container and IMDS clients) took about 0.6 MB off every function
//!   (docs/benchmarks.md, "Binary sizes").
//! - accounts-local, accounts-admin and the tests (feature `local`) run on a developer's machine,
//!   where credentials may be in profile files or come from SSO: aws-config's default chains.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_async::time::SystemTimeSource;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::http::{HttpClient as _, SharedHttpClient, http_client_fn};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::region::Region;

use crate::config::{AwsTrustStore, ConfigError, Env};

pub use aws_types::SdkConfig;

/// The roots AWS service endpoints chain to: Amazon Root CA 1-4 and Starfield Services Root G2.
const AWS_ROOTS_PEM: &[u8] = include_bytes!("../certs/aws-roots.pem");

/// Loads the shared SDK configuration: from the Lambda environment in a function, through
/// aws-config's default chains in a local build (module docs).
pub async fn sdk_config(trust: AwsTrustStore) -> Result<SdkConfig, ConfigError> {
    #[cfg(feature = "local")]
    {
        Ok(default_chain_config(trust).await)
    }
    #[cfg(not(feature = "local"))]
    {
        from_environment(&crate::config::ProcessEnv, trust)
    }
}

/// The configuration from the variables Lambda sets for every function: `AWS_REGION`,
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` (the execution role's
/// credentials, valid for the life of the execution environment); and, when set,
/// `AWS_ENDPOINT_URL` (moto), `AWS_USE_FIPS_ENDPOINT` and `AWS_USE_DUALSTACK_ENDPOINT`. A
/// missing region or key is named at start rather than failing the first request.
pub fn from_environment(env: &dyn Env, trust: AwsTrustStore) -> Result<SdkConfig, ConfigError> {
    let region = env
        .var("AWS_REGION")
        .or_else(|| env.var("AWS_DEFAULT_REGION"))
        .ok_or_else(|| ConfigError::new("AWS_REGION", "not set (Lambda sets it)"))?;
    let key = |name: &'static str| {
        env.var(name)
            .ok_or_else(|| ConfigError::new(name, "not set (Lambda sets the execution role's)"))
    };
    let credentials = Credentials::new(
        key("AWS_ACCESS_KEY_ID")?,
        key("AWS_SECRET_ACCESS_KEY")?,
        env.var("AWS_SESSION_TOKEN"),
        None,
        "Environment",
    );
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client(trust))
        .timeout_config(service_timeouts())
        .retry_config(RetryConfig::standard())
        .sleep_impl(TokioSleep::new())
        .time_source(SystemTimeSource::new())
        .use_fips(flag(env, "AWS_USE_FIPS_ENDPOINT")?)
        .use_dual_stack(flag(env, "AWS_USE_DUALSTACK_ENDPOINT")?);
    if let Some(url) = env.var("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(url);
    }
    Ok(builder.build())
}

/// A boolean the SDK reads from the environment: `true` or `false` in any case, unset is false.
fn flag(env: &dyn Env, name: &'static str) -> Result<bool, ConfigError> {
    match env.var(name) {
        None => Ok(false),
        Some(v) if v.trim().eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.trim().eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(ConfigError::new(name, "must be true or false")),
    }
}

/// aws-config's default chains, with the service's HTTPS client and a local build's time limits.
#[cfg(feature = "local")]
async fn default_chain_config(trust: AwsTrustStore) -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client(trust))
        .timeout_config(local_timeouts())
        .load()
        .await
}

/// A Lambda function's time limits. They are short because every caller is a request path
/// within the function's 10 s, or a task with its own deadline; a timeout surfaces as a
/// retryable store error.
fn service_timeouts() -> TimeoutConfig {
    time_limits(Duration::from_secs(5), Duration::from_secs(12))
}

/// accounts-local, accounts-admin and the tests mostly talk to moto: one Python process that,
/// on a busy two-core machine, answers a burst of concurrent calls several seconds late (seen
/// in CI: a seed transaction). An attempt cut off at 5 s there is an answer lost to slowness,
/// and a write that may have applied, not a fault worth reporting. Nothing local has a platform
/// deadline to keep, so an attempt gets 30 s.
#[cfg(feature = "local")]
fn local_timeouts() -> TimeoutConfig {
    time_limits(Duration::from_secs(30), Duration::from_secs(120))
}

/// Connecting gets 2 s everywhere: a loopback moto or a regional endpoint that does not accept
/// in 2 s is not there.
fn time_limits(attempt: Duration, operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

/// The HTTPS client every SDK client shares, without the SDK's check at client construction:
/// that check builds a TLS configuration (parsing the roots) only to throw it away, once per SDK
/// client, and the first request builds the one it keeps anyway.
fn https_client(trust: AwsTrustStore) -> SharedHttpClient {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls_context(trust))
        .build_https();
    http_client_fn(move |settings, components| https.http_connector(settings, components))
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
    sdk: SdkConfig,
    make: fn(&SdkConfig) -> C,
    client: std::sync::OnceLock<C>,
}

impl<C> LazyClient<C> {
    pub fn new(sdk: &SdkConfig, make: fn(&SdkConfig) -> C) -> Self {
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

/// The variable the SDK's endpoint rules read a partition table from, in place of the one
/// compiled into every SDK crate (smithy-rs#3610: "Allow custom partitions to be used at
/// runtime"). Each client crate reads it once, when its first client is built.
pub const PARTITION_TABLE_VAR: &str = "SMITHY_CLIENT_SDK_CUSTOM_PARTITION";

/// The commercial partition alone, as the SDK's own table describes it, without the names of
/// its regions: they carry no outputs of their own, and every one of them matches
/// `regionRegex`. Parsing the SDK's full table (eight partitions, 50 region names, eight
/// regexes) is 0.70 M instructions at every cold start, about 40% of a function's init
/// (docs/benchmarks.md, "Cold start"); this one is a tenth of that.
pub const COMMERCIAL_PARTITION_TABLE: &str = concat!(
    r#"{"partitions":[{"id":"aws","#,
    r#""outputs":{"dnsSuffix":"amazonaws.com","dualStackDnsSuffix":"api.aws","#,
    r#""implicitGlobalRegion":"us-east-1","name":"aws","supportsDualStack":true,"supportsFIPS":true},"#,
    r#""regionRegex":"^(us|eu|ap|sa|ca|me|af|il|mx)\\-\\w+\\-\\d+$","regions":{}}],"#,
    r#""version":"1.1"}"#
);

/// The area prefixes of the commercial partition's `regionRegex`.
const COMMERCIAL_AREAS: [&str; 9] = ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"];

/// The partition table a function should give the SDK, if any: the commercial partition alone
/// when the function's region is in it and nobody has named a table already. Any other region
/// (China, GovCloud, the isolated and sovereign partitions) keeps the SDK's full table, since
/// the narrowed one would resolve it to commercial endpoints.
pub fn narrowed_partition_table(
    region: Option<&str>,
    table_already_named: bool,
) -> Option<&'static str> {
    let region = region?;
    (!table_already_named && in_commercial_partition(region)).then_some(COMMERCIAL_PARTITION_TABLE)
}

/// Whether `region` matches the commercial partition's `^(us|eu|…|mx)\-\w+\-\d+$`, where
/// regex-lite's `\w` and `\d` are ASCII. None of the other partitions' regions match it.
fn in_commercial_partition(region: &str) -> bool {
    let mut parts = region.split('-');
    let (Some(area), Some(name), Some(number), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    COMMERCIAL_AREAS.contains(&area) && word(name) && digits(number)
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

    #[test]
    fn the_lambda_environment_names_what_is_missing() {
        let complete = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_USE_FIPS_ENDPOINT", "TRUE"),
        ];
        let sdk = from_environment(&complete, AwsTrustStore::AwsRoots).unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(sdk.use_fips(), Some(true));
        assert_eq!(sdk.use_dual_stack(), Some(false));
        assert_eq!(sdk.endpoint_url(), None);

        let default_region = [
            ("AWS_DEFAULT_REGION", "us-east-2"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ];
        let sdk = from_environment(&default_region, AwsTrustStore::AwsRoots).unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("us-east-2"));
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:5000"));

        let missing = |env: &dyn Env| {
            from_environment(env, AwsTrustStore::AwsRoots)
                .map(|_| ())
                .unwrap_err()
        };
        let no_region = [("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "s")];
        assert_eq!(missing(&no_region).var, "AWS_REGION");
        let no_key = [("AWS_REGION", "eu-west-1"), ("AWS_SECRET_ACCESS_KEY", "s")];
        assert_eq!(missing(&no_key).var, "AWS_ACCESS_KEY_ID");
        let no_secret = [("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "a")];
        let error = missing(&no_secret);
        assert_eq!(error.var, "AWS_SECRET_ACCESS_KEY");
        let bad_flag = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_USE_DUALSTACK_ENDPOINT", "yes"),
        ];
        assert_eq!(missing(&bad_flag).var, "AWS_USE_DUALSTACK_ENDPOINT");
    }

    #[tokio::test]
    async fn a_function_cuts_an_attempt_off_sooner_than_a_local_build() {
        let attempt = |sdk: &SdkConfig| sdk.timeout_config().unwrap().operation_attempt_timeout();
        let lambda = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ];
        let function = from_environment(&lambda, AwsTrustStore::AwsRoots).unwrap();
        // Four tries of 5 s already outlast a function's 10 s: the request deadline bounds them.
        assert_eq!(attempt(&function), Some(Duration::from_secs(5)));
        let local = sdk_config(AwsTrustStore::AwsRoots).await.unwrap();
        assert_eq!(attempt(&local), Some(Duration::from_secs(30)));
    }

    #[test]
    fn only_a_commercial_region_gets_the_narrowed_partition_table() {
        for region in [
            "us-east-1",
            "eu-west-3",
            "ap-southeast-7",
            "il-central-1",
            "mx-central-1",
        ] {
            assert_eq!(
                narrowed_partition_table(Some(region), false),
                Some(COMMERCIAL_PARTITION_TABLE),
                "{region}"
            );
        }
        // The other partitions' regions, and names the commercial regex does not match.
        for region in [
            "cn-north-1",
            "us-gov-west-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "us-isof-south-1",
            "eu-isoe-west-1",
            "eusc-de-east-1",
            "aws-global",
            "us-east",
            "us-east-1-a",
            "us-east-x",
            "us--1",
            "local",
            "",
        ] {
            assert_eq!(
                narrowed_partition_table(Some(region), false),
                None,
                "{region}"
            );
        }
        assert_eq!(narrowed_partition_table(None, false), None);
        // A table the operator named is theirs.
        assert_eq!(narrowed_partition_table(Some("us-east-1"), true), None);
    }

    #[test]
    fn the_narrowed_table_is_the_commercial_partition_of_the_sdk_format() {
        let table: serde_json::Value = serde_json::from_str(COMMERCIAL_PARTITION_TABLE).unwrap();
        assert_eq!(table["version"], "1.1");
        let partitions = table["partitions"].as_array().unwrap();
        assert_eq!(partitions.len(), 1);
        assert_eq!(partitions[0]["id"], "aws");
        assert_eq!(
            partitions[0]["regionRegex"],
            r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$"
        );
        assert_eq!(partitions[0]["outputs"]["dnsSuffix"], "amazonaws.com");
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
            let sdk = sdk_config(trust).await.unwrap();
            let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
                .endpoint_url(format!("https://127.0.0.1:{port}"))
                .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "test", "test", None, None, "test",
                ))
                .retry_config(RetryConfig::disabled())
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
