//! accounts-local: every route of every group on one port, over the embedded store, the file
//! outbox and the in-process bus (or DynamoDB with `--store dynamodb`). Same dispatch as the
//! Lambda functions; only the entry point differs.

mod cli;
mod console;

use std::net::SocketAddr;
use std::time::Duration;

use accounts::App;
use accounts::config::StoreConfig;
use accounts::http::{ApiRequest, ApiResponse, Router};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

#[derive(Parser, Debug)]
#[command(
    name = "accounts-local",
    about = "Serve the whole accounts API locally"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    port: u16,
    #[command(flatten)]
    store: cli::StoreArgs,
    /// Make this fraction of store calls fail on purpose (throttling, timeouts, conflicts),
    /// e.g. 0.2 or 20%; see docs/faults.md.
    #[arg(long, env = "ACCOUNTS_INJECT_FAULTS", value_name = "RATE")]
    inject_faults: Option<String>,
    /// Make every store call wait this long first, as a round trip to DynamoDB does (`5ms`), so
    /// a request's time shows its sequential round trips; see docs/benchmarks.md.
    #[arg(long, env = "ACCOUNTS_STORE_LATENCY", value_name = "LATENCY")]
    store_latency: Option<String>,
    /// The built web console (`npm run build` in web/), served at `/` beside the API; when it
    /// has no index.html only the API is served.
    #[arg(long, env = "CONSOLE_DIR", default_value = "web/dist")]
    console_dir: std::path::PathBuf,
}

#[tokio::main]
async fn main() {
    accounts::telemetry::init();
    let args = Args::parse();
    let mut settings = Vec::new();
    if let Some(rate) = &args.inject_faults {
        settings.push(("ACCOUNTS_INJECT_FAULTS", rate.clone()));
    }
    if let Some(latency) = &args.store_latency {
        settings.push(("ACCOUNTS_STORE_LATENCY", latency.clone()));
    }
    let built = if settings.is_empty() {
        args.store.build_app().await
    } else {
        args.store.build_app_with(settings).await
    };
    let app: &'static App = match built {
        Ok(app) => Box::leak(Box::new(app)),
        Err(e) => {
            eprintln!("accounts-local: startup failed: {e}");
            std::process::exit(1);
        }
    };
    let router: &'static Router = Box::leak(Box::new(Router::all()));
    let console: Option<&'static console::Console> =
        console::Console::open(&args.console_dir).map(|c| &*Box::leak(Box::new(c)));

    let listener = match TcpListener::bind((args.host.as_str(), args.port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "accounts-local: cannot listen on {}:{}: {e}",
                args.host, args.port
            );
            std::process::exit(1);
        }
    };
    let addr = listener
        .local_addr()
        .expect("bound listener has an address");
    let mut where_ = match &app.config.store {
        StoreConfig::Embedded { data_dir } => format!("embedded store in {}", data_dir.display()),
        StoreConfig::DynamoDb { table_name, .. } => format!("dynamodb table {table_name}"),
    };
    if let Some(latency) = app.config.store_latency {
        where_.push_str(&format!(", {latency:?} added to every store call"));
    }
    if let Some(faults) = app.config.store_faults {
        where_.push_str(&format!(
            ", {} of store calls failing on purpose",
            faults.rate
        ));
    }
    match console {
        Some(console) => where_.push_str(&format!(", console from {}", console.root().display())),
        None => where_.push_str(", no console (run npm run build in web/)"),
    }
    println!("accounts-local listening on http://{addr} ({where_})");
    if let StoreConfig::Embedded { data_dir } = &app.config.store {
        apply_change_feed_every_second(app, data_dir);
    }

    serve(listener, app, router, console).await;
    println!("accounts-local stopped");
}

/// The embedded store's change feed, applied in process as DynamoDB Streams' consumer applies
/// the table's stream in AWS (`activity::day_counts`): every second, until the process stops.
fn apply_change_feed_every_second(app: &'static App, data_dir: &std::path::Path) {
    let feed = match accounts::store::embedded::ChangeFeed::open(data_dir) {
        Ok(feed) => feed,
        Err(e) => {
            tracing::error!(error = %e, "the change feed cannot be opened; day counts stand still");
            return;
        }
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Err(e) = accounts::activity::day_counts::apply_feed(app, &feed).await {
                tracing::warn!(error = %e, "applying the change feed failed; trying again");
            }
        }
    });
}

/// Accepts connections until Ctrl-C or SIGTERM, then lets in-flight requests finish (up to
/// 30 s) before returning. Every write is durable when its response is sent, so nothing that
/// was acknowledged is lost.
async fn serve(
    listener: TcpListener,
    app: &'static App,
    router: &'static Router,
    console: Option<&'static console::Console>,
) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let service = hyper::service::service_fn(move |request| handle(app, router, console, peer, request));
                let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                let connection = graceful.watch(connection.into_owned());
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "connection closed with an error");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests still running after 30 s; stopping anyway");
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn handle(
    app: &'static App,
    router: &'static Router,
    console: Option<&'static console::Console>,
    peer: SocketAddr,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    if let Some(console) = console
        && let Some(page) = console.answer(request.method(), request.uri().path()).await
    {
        return Ok(page);
    }
    let (parts, body) = request.into_parts();
    let head = parts.method == http::Method::HEAD;
    // Read at most one byte past the limit: enough to know the body is too large without
    // buffering an arbitrarily large upload. Past the limit the dispatch is handed a body of
    // limit + 1 bytes, so the one dispatch answers 413 (logged, with a request id). A body that
    // failed to arrive (the client went away) takes the same path; nobody reads that answer.
    let body = match Limited::new(body, app.config.max_body_bytes + 1)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::from(vec![0u8; app.config.max_body_bytes + 1]),
    };
    let request = ApiRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers,
        body,
        source_ip: Some(peer.ip()),
        request_id: None,
        // A local server has no platform deadline; a client that gives up just disconnects.
        deadline: None,
    };
    let response: ApiResponse = router.dispatch(app, request).await;
    let mut out = hyper::Response::new(Full::new(if head { Bytes::new() } else { response.body }));
    *out.status_mut() = response.status;
    *out.headers_mut() = response.headers;
    Ok(out)
}
