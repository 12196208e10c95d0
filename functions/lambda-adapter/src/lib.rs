//! The only place that knows Lambda: turns API Gateway requests into the accounts crate's
//! [`ApiRequest`] and back, and runs EventBridge-triggered handlers. Every function's `main` is
//! one call into here, after the App is built once at cold start.

use std::convert::Infallible;
use std::future::Future;

use accounts::App;
use accounts::config::Deployment;
use accounts::http::{ApiRequest, ApiResponse, Route, Router};
use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, service_fn};
use lambda_runtime::LambdaEvent;

/// Builds the App from the environment, or stops the process with one line naming the
/// setting that is missing or invalid.
async fn app_or_exit() -> &'static App {
    accounts::telemetry::init();
    match App::from_env(Deployment::Lambda).await {
        // Leaked once: the App lives as long as the execution environment.
        Ok(app) => Box::leak(Box::new(app)),
        Err(e) => {
            eprintln!("startup failed: {e}");
            tracing::error!(error = %e, "startup failed");
            std::process::exit(1);
        }
    }
}

/// Serves the routes of one group behind API Gateway (HTTP API, payload format 2.0). A function
/// passes its group's static (`accounts::http::AUTH_ROUTES`), not the `Group`, so that only that
/// group's handlers are linked into it.
pub async fn serve_http(routes: &'static [Route]) -> Result<(), lambda_http::Error> {
    let app = app_or_exit().await;
    let router: &'static Router = Box::leak(Box::new(Router::with_routes(routes)));
    lambda_http::run(service_fn(move |request: Request| async move {
        let head = request.method() == http::Method::HEAD;
        let response = router.dispatch(app, api_request(request)).await;
        Ok::<_, Infallible>(lambda_response(response, head))
    }))
    .await
}

/// Runs an EventBridge-triggered handler: the event's JSON in, a JSON summary out. A handler
/// error fails the invocation, so EventBridge's retry policy applies.
pub async fn serve_events<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(&'static App, serde_json::Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<serde_json::Value, accounts::Error>> + Send,
{
    let app = app_or_exit().await;
    let handler = &*Box::leak(Box::new(handler));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            handler(app, event.payload).await.map_err(|e| {
                tracing::error!(error = %e, "event handler failed");
                lambda_runtime::Error::from(e.to_string())
            })
        },
    ))
    .await
}

/// Like [`serve_events`], for handlers that must stop before the invocation's deadline: the
/// handler also gets the deadline as an `Instant`, `reserve` before the Lambda's own.
pub async fn serve_events_with_deadline<F, Fut>(
    handler: F,
    reserve: std::time::Duration,
) -> Result<(), lambda_runtime::Error>
where
    F: Fn(&'static App, serde_json::Value, std::time::Instant) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<serde_json::Value, accounts::Error>> + Send,
{
    let app = app_or_exit().await;
    let handler = &*Box::leak(Box::new(handler));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let left = event
                .context
                .deadline()
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default();
            let deadline = std::time::Instant::now() + left.saturating_sub(reserve);
            handler(app, event.payload, deadline).await.map_err(|e| {
                tracing::error!(error = %e, "event handler failed");
                lambda_runtime::Error::from(e.to_string())
            })
        },
    ))
    .await
}

/// Converts lambda_http's request into the dispatch's request.
pub fn api_request(request: Request) -> ApiRequest {
    let source_ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            ctx.http.source_ip.as_deref().and_then(|ip| ip.parse().ok())
        }
        _ => None,
    };
    let request_id = request
        .lambda_context_ref()
        .map(|ctx| ctx.request_id.clone());
    let (parts, body) = request.into_parts();
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        // lambda_http's Body is non-exhaustive; anything new is treated as empty.
        #[allow(unreachable_patterns)]
        _ => Bytes::new(),
    };
    ApiRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers,
        body,
        source_ip,
        request_id,
    }
}

/// Converts the dispatch's response into lambda_http's; JSON bodies travel as text.
pub fn lambda_response(response: ApiResponse, head: bool) -> http::Response<Body> {
    let body = if head || response.body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(response.body.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    let mut out = http::Response::new(body);
    *out.status_mut() = response.status;
    *out.headers_mut() = response.headers;
    out
}
