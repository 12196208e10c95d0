//! The smallest `lambda_http` function: the same lambda_http features, tokio runtime and build
//! profile as the accounts functions, and nothing else. `bench/coldstart` reports each function
//! beside it, so the ratios show what the accounts code itself adds to a cold start.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_request: Request| async {
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"hello": "world"}"#))
            .map_err(Error::from)
    }))
    .await
}
