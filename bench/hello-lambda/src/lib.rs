//! The hello-world function both baseline binaries serve; they differ only in their runtime.

use lambda_http::{Body, Error, Request, Response, service_fn};

/// Answers every request `{"hello": "world"}`.
pub async fn serve() -> Result<(), Error> {
    lambda_http::run(service_fn(|_request: Request| async {
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"hello": "world"}"#))
            .map_err(Error::from)
    }))
    .await
}
