//! The only place that knows Lambda: turns API Gateway requests into the accounts crate's
//! [`ApiRequest`] and back, and runs EventBridge-triggered handlers. Every function's `main` is
//! one call into here, which prepares the process, starts the tokio runtime and builds the App
//! once at cold start.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::OnceLock;

use accounts::App;
use accounts::config::Deployment;
use accounts::http::{ApiRequest, ApiResponse, Route, Router};
use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, service_fn};
use lambda_runtime::LambdaEvent;

/// What a function does at start: narrow the SDK's endpoint partition table
/// ([`narrow_endpoint_partitions`]), then start a tokio runtime on this one thread. Returns the
/// runtime and how the narrowing went, to be logged once telemetry is up.
///
/// One thread, not `#[tokio::main]`'s worker per core: Lambda hands an execution environment
/// one event at a time, so workers have nothing to run in parallel. They cost every cold start
/// their thread starts, and every I/O a hand-off between threads (the handler runs on the main
/// thread, the SDK's connections on the workers). Measured (docs/benchmarks.md, "Cold start"):
/// the first response 0.3-1.6 ms sooner, a warm health invocation 0.3-0.4 ms faster, init
/// shorter or even. Nothing blocks the one thread: Argon2, the only long CPU work of a
/// request, runs on its own pool (`accounts::auth::passwords`).
fn start_process() -> (tokio::runtime::Runtime, io::Result<bool>) {
    // SAFETY: the process has one thread yet; the runtime is built after this.
    let narrowed = unsafe { narrow_endpoint_partitions() };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    (runtime, narrowed)
}

/// The partition table given to the SDK, kept open for the life of the process: the SES and
/// EventBridge clients read it at their first use, long after init.
static PARTITION_TABLE: OnceLock<std::fs::File> = OnceLock::new();

/// Gives the SDK the commercial partition alone when the function's region is in it
/// ([`accounts::aws::narrowed_partition_table`]): each SDK crate otherwise parses its table of
/// every partition and region whenever its first client is built, 0.70 M instructions of every
/// cold start (docs/benchmarks.md, "Cold start"). The SDK reads the table from a file named by
/// [`accounts::aws::PARTITION_TABLE_VAR`]; the file is an anonymous one in memory
/// (`memfd_create`), named by its `/proc/self/fd` path, so nothing is written to disk and nothing
/// is left behind. Returns whether the table was narrowed; on any error the SDK keeps its own.
/// A child process would inherit the variable but not the descriptor (`MFD_CLOEXEC`), and an
/// SDK in it would fail to read the table: functions start none.
///
/// # Safety
/// Sets an environment variable: call it before the process starts any thread.
pub unsafe fn narrow_endpoint_partitions() -> io::Result<bool> {
    use std::io::{Read as _, Write as _};
    use std::os::fd::{AsRawFd as _, FromRawFd as _};

    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .ok();
    let named = std::env::var_os(accounts::aws::PARTITION_TABLE_VAR).is_some();
    let Some(table) = accounts::aws::narrowed_partition_table(region.as_deref(), named) else {
        return Ok(false);
    };
    // SAFETY: a plain system call with a NUL-terminated name; the result is checked.
    let fd = unsafe { libc::memfd_create(c"aws-partitions.json".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created by this process and nothing else owns it.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(table.as_bytes())?;
    let file = PARTITION_TABLE.get_or_init(|| file);
    let path = format!("/proc/self/fd/{}", file.as_raw_fd());
    // The SDK panics on a table it cannot read: read it back the way the SDK will first.
    let mut written = String::new();
    std::fs::File::open(&path)?.read_to_string(&mut written)?;
    if written != table {
        return Err(io::Error::other("the partition table read back differs"));
    }
    // SAFETY: the caller guarantees no other thread runs yet.
    unsafe { std::env::set_var(accounts::aws::PARTITION_TABLE_VAR, path) };
    Ok(true)
}

/// Sets up telemetry, reports how the partition narrowing went, and builds the App from the
/// environment, or stops the process with one line naming the setting that is missing or
/// invalid.
async fn app_or_exit(narrowed: io::Result<bool>) -> &'static App {
    accounts::telemetry::init();
    match narrowed {
        Ok(narrowed) => tracing::debug!(narrowed, "SDK endpoint partitions"),
        Err(e) => tracing::warn!(error = %e, "the SDK's full partition table is used"),
    }
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
pub fn serve_http(routes: &'static [Route]) -> Result<(), lambda_http::Error> {
    let (runtime, narrowed) = start_process();
    runtime.block_on(async move {
        let app = app_or_exit(narrowed).await;
        let router: &'static Router = Box::leak(Box::new(Router::with_routes(routes)));
        lambda_http::run(service_fn(move |request: Request| async move {
            let head = request.method() == http::Method::HEAD;
            let response = router.dispatch(app, api_request(request)).await;
            Ok::<_, Infallible>(lambda_response(response, head))
        }))
        .await
    })
}

/// Runs an EventBridge-triggered handler: the event's JSON in, a JSON summary out. A handler
/// error fails the invocation, so EventBridge's retry policy applies.
pub fn serve_events<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(&'static App, serde_json::Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<serde_json::Value, accounts::Error>> + Send,
{
    serve_events_with_deadline(
        move |app, payload, _deadline| handler(app, payload),
        std::time::Duration::ZERO,
    )
}

/// Like [`serve_events`], for handlers that must stop before the invocation's deadline: the
/// handler also gets the deadline as an `Instant`, `reserve` before the Lambda's own.
pub fn serve_events_with_deadline<F, Fut>(
    handler: F,
    reserve: std::time::Duration,
) -> Result<(), lambda_runtime::Error>
where
    F: Fn(&'static App, serde_json::Value, std::time::Instant) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<serde_json::Value, accounts::Error>> + Send,
{
    let (runtime, narrowed) = start_process();
    runtime.block_on(async move {
        let app = app_or_exit(narrowed).await;
        let handler = &*Box::leak(Box::new(handler));
        lambda_runtime::run(lambda_runtime::service_fn(
            move |event: LambdaEvent<serde_json::Value>| async move {
                let deadline = before_deadline(event.context.deadline(), reserve).into_std();
                handler(app, event.payload, deadline).await.map_err(|e| {
                    tracing::error!(error = %e, "event handler failed");
                    lambda_runtime::Error::from(e.to_string())
                })
            },
        ))
        .await
    })
}

/// How long before the Lambda's deadline an HTTP request is answered 503 if its handler has
/// not finished: time to send that answer, so the function is never stopped mid-request (API
/// Gateway would answer for it, without `Retry-After`, and Lambda would start a new execution
/// environment, a cold start).
pub const HTTP_ANSWER_RESERVE: std::time::Duration = std::time::Duration::from_millis(500);

/// The instant `reserve` before a Lambda deadline (a wall-clock time), on the monotonic clock.
fn before_deadline(
    deadline: std::time::SystemTime,
    reserve: std::time::Duration,
) -> tokio::time::Instant {
    let left = deadline
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    tokio::time::Instant::now() + left.saturating_sub(reserve)
}

/// Converts lambda_http's request into the dispatch's request, due [`HTTP_ANSWER_RESERVE`]
/// before the invocation's deadline.
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
    let deadline = request
        .lambda_context_ref()
        .map(|ctx| before_deadline(ctx.deadline(), HTTP_ANSWER_RESERVE));
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
        deadline,
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
