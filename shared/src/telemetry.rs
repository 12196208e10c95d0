//! Logs are JSON lines on stdout (CloudWatch in Lambda), filtered by `RUST_LOG` (default info).

use tracing_subscriber::EnvFilter;

/// Installs the JSON log subscriber once; later calls do nothing (tests call it freely).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}
