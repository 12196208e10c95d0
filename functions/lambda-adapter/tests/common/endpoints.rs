//! Endpoints the SDK's rules resolve for the three services the functions call, shared by the
//! test with the SDK's own partition table and the test with the narrowed one: each SDK crate
//! reads its table once per process, so the two need a process each.

/// Commercial regions, each with FIPS and dual-stack combinations.
pub const COMMERCIAL: [(&str, bool, bool); 6] = [
    ("us-east-1", false, false),
    ("eu-west-1", false, false),
    ("ap-southeast-2", true, false),
    ("ca-central-1", false, true),
    ("us-west-2", true, true),
    ("mx-central-1", false, false),
];

/// What the commercial partition gives them, in the order of [`COMMERCIAL`].
pub const COMMERCIAL_ENDPOINTS: [&str; 6] = [
    "https://dynamodb.us-east-1.amazonaws.com https://email.us-east-1.amazonaws.com https://events.us-east-1.amazonaws.com",
    "https://dynamodb.eu-west-1.amazonaws.com https://email.eu-west-1.amazonaws.com https://events.eu-west-1.amazonaws.com",
    "https://dynamodb-fips.ap-southeast-2.amazonaws.com https://email-fips.ap-southeast-2.amazonaws.com https://events-fips.ap-southeast-2.amazonaws.com",
    "https://dynamodb.ca-central-1.api.aws https://email.ca-central-1.api.aws https://events.ca-central-1.api.aws",
    "https://dynamodb-fips.us-west-2.api.aws https://email-fips.us-west-2.api.aws https://events-fips.us-west-2.api.aws",
    "https://dynamodb.mx-central-1.amazonaws.com https://email.mx-central-1.amazonaws.com https://events.mx-central-1.amazonaws.com",
];

/// The endpoint `$service`'s default rules resolve (each SDK crate has its own types).
macro_rules! resolve {
    ($service:ident, $region:expr, $fips:expr, $dual_stack:expr) => {{
        use $service::config::endpoint::{DefaultResolver, Params, ResolveEndpoint as _};
        let params = Params::builder()
            .region($region)
            .use_fips($fips)
            .use_dual_stack($dual_stack)
            .build()
            .unwrap();
        let endpoint = DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .unwrap();
        endpoint.url().to_owned()
    }};
}

/// The DynamoDB, SES v2 and EventBridge endpoints of one region, space-separated.
pub async fn endpoints(region: &str, fips: bool, dual_stack: bool) -> String {
    let dynamodb = resolve!(aws_sdk_dynamodb, region, fips, dual_stack);
    let ses = resolve!(aws_sdk_sesv2, region, fips, dual_stack);
    let events = resolve!(aws_sdk_eventbridge, region, fips, dual_stack);
    format!("{dynamodb} {ses} {events}")
}

/// The endpoints of every region of [`COMMERCIAL`].
pub async fn commercial_endpoints() -> Vec<String> {
    let mut all = Vec::new();
    for (region, fips, dual_stack) in COMMERCIAL {
        all.push(endpoints(region, fips, dual_stack).await);
    }
    all
}
