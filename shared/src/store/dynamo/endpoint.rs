//! DynamoDB's endpoint for the common case, without the SDK's partition table.
//!
//! The SDK's default resolver parses its table of every AWS partition (a JSON document) and
//! compiles the partitions' region patterns the first time a client is built: about 0.7 million
//! instructions, a third of a function's cold start (docs/benchmarks.md, "Cold start"). A
//! function in a commercial region with the default settings gets one answer from all of that,
//! `https://dynamodb.<region>.amazonaws.com`, or the endpoint `AWS_ENDPOINT_URL` names. This
//! resolver answers those two cases itself and hands every other one (FIPS, dual-stack, the
//! other partitions, account-based endpoints, `local`) to the SDK's resolver, built at its first
//! use. A test holds the two to the same answers.

use std::sync::OnceLock;

use aws_sdk_dynamodb::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use aws_smithy_runtime_api::client::endpoint::EndpointFuture;
use aws_smithy_types::endpoint::Endpoint;

#[derive(Debug, Default)]
pub struct CommonCaseEndpoints {
    sdk_resolver: OnceLock<DefaultResolver>,
}

impl ResolveEndpoint for CommonCaseEndpoints {
    fn resolve_endpoint<'a>(&'a self, params: &'a Params) -> EndpointFuture<'a> {
        match common_case(params) {
            Some(url) => EndpointFuture::ready(Ok(Endpoint::builder().url(url).build())),
            None => self
                .sdk_resolver
                .get_or_init(DefaultResolver::new)
                .resolve_endpoint(params),
        }
    }
}

/// The URL when the parameters are the common case, else `None`.
fn common_case(params: &Params) -> Option<String> {
    let plain = params.use_fips() != Some(true)
        && params.use_dual_stack() != Some(true)
        // An account id (or an ARN naming one) may select an account-based endpoint.
        && params.account_id().is_none()
        && params.account_id_endpoint_mode().is_none_or(|m| m == "preferred")
        && params.resource_arn().is_none_or(|r| !r.starts_with("arn:"))
        && params
            .resource_arn_list()
            .is_none_or(|list| list.iter().all(|r| !r.starts_with("arn:")));
    if !plain {
        return None;
    }
    if let Some(endpoint) = params.endpoint() {
        return Some(endpoint.to_owned());
    }
    let region = params.region()?;
    commercial_region(region).then(|| format!("https://dynamodb.{region}.amazonaws.com"))
}

/// A region of the `aws` partition by its pattern, `^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$`
/// (the other partitions' regions never match it: `cn-`, `us-gov-…-1`, `us-iso-…-1`).
fn commercial_region(region: &str) -> bool {
    let mut parts = region.split('-');
    let (Some(area), Some(name), Some(number), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"].contains(&area)
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn both(params: &Params) -> (Option<Endpoint>, Option<Endpoint>) {
        let ours = common_case(params).map(|url| Endpoint::builder().url(url).build());
        let sdks = DefaultResolver::new().resolve_endpoint(params).await.ok();
        (ours, sdks)
    }

    fn params(
        region: &str,
        fips: bool,
        dual_stack: bool,
        endpoint: Option<&str>,
        account_id: Option<&str>,
        resource_arn: Option<&str>,
    ) -> Params {
        Params::builder()
            .region(region.to_owned())
            .use_fips(fips)
            .use_dual_stack(dual_stack)
            .set_endpoint(endpoint.map(str::to_owned))
            .set_account_id(account_id.map(str::to_owned))
            .set_resource_arn(resource_arn.map(str::to_owned))
            .build()
            .expect("valid parameters")
    }

    /// Every answer of the common case is the SDK's answer; and the common case is what a
    /// function in a commercial region and a test against moto meet.
    #[tokio::test]
    async fn answers_what_the_sdk_answers_or_leaves_it_to_the_sdk() {
        let regions = [
            "us-east-1",
            "us-west-2",
            "eu-central-1",
            "eu-central-2",
            "ap-southeast-7",
            "ap-east-2",
            "il-central-1",
            "mx-central-1",
            "ca-west-1",
            "sa-east-1",
            "af-south-1",
            "me-central-1",
            "eu-future-9",
            "us-gov-west-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "eu-isoe-west-1",
            "us-isof-south-1",
            "cn-north-1",
            "cn-northwest-1",
            "eusc-de-east-1",
            "aws-global",
            "local",
            "us-east",
            "us-east-1-a",
            "xx-east-1",
        ];
        let endpoints = [None, Some("http://127.0.0.1:5000")];
        let accounts = [None, Some("111122223333")];
        let arns = [
            None,
            Some("accounts"),
            Some("arn:aws:dynamodb:us-east-1:111122223333:table/accounts"),
        ];
        let mut answered = 0;
        let mut compared = 0;
        for region in regions {
            for fips in [false, true] {
                for dual_stack in [false, true] {
                    for endpoint in endpoints {
                        for account in accounts {
                            for arn in arns {
                                let p = params(region, fips, dual_stack, endpoint, account, arn);
                                let (ours, sdks) = both(&p).await;
                                compared += 1;
                                if let Some(ours) = ours {
                                    answered += 1;
                                    assert_eq!(Some(ours), sdks, "{p:?}");
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(compared, regions.len() * 2 * 2 * 2 * 2 * 3);
        // The common case: commercial regions (13) and the endpoint override on every region,
        // each with no account and a table name or no table: 13 * 2 + 26 * 2.
        assert_eq!(answered, 13 * 2 + regions.len() * 2);
    }

    #[tokio::test]
    async fn the_common_case_is_the_plain_regional_endpoint() {
        let p = params("eu-west-1", false, false, None, None, Some("accounts"));
        assert_eq!(
            common_case(&p).as_deref(),
            Some("https://dynamodb.eu-west-1.amazonaws.com")
        );
        let moto = params(
            "us-east-1",
            false,
            false,
            Some("http://127.0.0.1:5000"),
            None,
            None,
        );
        assert_eq!(common_case(&moto).as_deref(), Some("http://127.0.0.1:5000"));
        for other in [
            params("eu-west-1", true, false, None, None, None),
            params("eu-west-1", false, true, None, None, None),
            params("cn-north-1", false, false, None, None, None),
            params("local", false, false, None, None, None),
            params("eu-west-1", false, false, None, Some("111122223333"), None),
        ] {
            assert_eq!(common_case(&other), None, "{other:?}");
            // The SDK's resolver still answers them, through ours.
            let resolver = CommonCaseEndpoints::default();
            assert!(resolver.resolve_endpoint(&other).await.is_ok(), "{other:?}");
        }
    }
}
