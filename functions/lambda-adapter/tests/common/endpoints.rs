//! Endpoints the SDK's rules resolve for the three services the functions call, shared by the
//! test with the SDK's own partition table and the test with the narrowed one: each SDK crate
//! reads its table once per process, so the two need a process each.

use aws_sdk_dynamodb::config::endpoint::ResolveEndpoint as _;
use aws_sdk_eventbridge::config::endpoint::ResolveEndpoint as _;
use aws_sdk_sesv2::config::endpoint::ResolveEndpoint as _;

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

/// The DynamoDB, SES v2 and EventBridge endpoints of one region, space-separated.
pub async fn endpoints(region: &str, fips: bool, dual_stack: bool) -> String {
    let dynamodb = aws_sdk_dynamodb::config::endpoint::DefaultResolver::new()
        .resolve_endpoint(
            &aws_sdk_dynamodb::config::endpoint::Params::builder()
                .region(region)
                .use_fips(fips)
                .use_dual_stack(dual_stack)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let ses = aws_sdk_sesv2::config::endpoint::DefaultResolver::new()
        .resolve_endpoint(
            &aws_sdk_sesv2::config::endpoint::Params::builder()
                .region(region)
                .use_fips(fips)
                .use_dual_stack(dual_stack)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let events = aws_sdk_eventbridge::config::endpoint::DefaultResolver::new()
        .resolve_endpoint(
            &aws_sdk_eventbridge::config::endpoint::Params::builder()
                .region(region)
                .use_fips(fips)
                .use_dual_stack(dual_stack)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    format!("{} {} {}", dynamodb.url(), ses.url(), events.url())
}

/// The endpoints of every region of [`COMMERCIAL`].
pub async fn commercial_endpoints() -> Vec<String> {
    let mut all = Vec::new();
    for (region, fips, dual_stack) in COMMERCIAL {
        all.push(endpoints(region, fips, dual_stack).await);
    }
    all
}
