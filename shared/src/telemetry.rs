//! Logs are JSON lines on stdout (CloudWatch in Lambda), filtered by `RUST_LOG` (default info).
//! Metric events (`metrics.rs`) are written beside them as CloudWatch EMF lines, whatever
//! `RUST_LOG` says, in the namespace `METRICS_NAMESPACE` (default `accounts`).

use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the JSON log subscriber and the metric lines once; later calls do nothing (tests
/// call it freely).
pub fn init() {
    init_with(true);
}

/// The JSON logs without the metric lines: a command whose stdout is its answer
/// (accounts-admin), and whose runs are not the service's.
pub fn init_without_metrics() {
    init_with(false);
}

fn init_with(metrics: bool) {
    let metrics = metrics.then(|| {
        crate::metrics::EmfLayer::stdout(
            std::env::var("METRICS_NAMESPACE")
                .unwrap_or_else(|_| crate::metrics::DEFAULT_NAMESPACE.to_owned()),
        )
        .with_filter(Targets::new().with_target(crate::metrics::TARGET, LevelFilter::INFO))
    });
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_target(false)
                .with_filter(
                    log_filter(std::env::var("RUST_LOG").ok().as_deref())
                        .with_target(crate::metrics::TARGET, LevelFilter::OFF),
                ),
        )
        .with(metrics)
        .try_init();
}

/// `RUST_LOG` as targets and levels (`info`, `warn,accounts=debug`, `aws_smithy_runtime=trace`).
/// `Targets` rather than the env-filter: the same syntax for targets and levels without the
/// regex engine the env-filter links (span and field filters are the part left out). An
/// unreadable value falls back to `info` instead of silencing the logs.
fn log_filter(rust_log: Option<&str>) -> Targets {
    let default = Targets::new().with_default(LevelFilter::INFO);
    match rust_log.map(str::trim) {
        None | Some("") => default,
        Some(spec) => spec.parse().unwrap_or_else(|e| {
            eprintln!("RUST_LOG `{spec}` ignored ({e}); logging at info");
            default
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn the_default_is_info() {
        for unset in [None, Some(""), Some("  ")] {
            let filter = log_filter(unset);
            assert!(filter.would_enable("accounts::http", &Level::INFO));
            assert!(!filter.would_enable("accounts::http", &Level::DEBUG));
        }
    }

    #[test]
    fn targets_and_levels_are_read() {
        let filter = log_filter(Some("warn,accounts::store=debug"));
        assert!(filter.would_enable("accounts::store::retry", &Level::DEBUG));
        assert!(!filter.would_enable("accounts::http", &Level::INFO));
        assert!(filter.would_enable("accounts::http", &Level::WARN));
    }

    #[test]
    fn an_unreadable_value_logs_at_info() {
        let filter = log_filter(Some("accounts=[not a level]"));
        assert!(filter.would_enable("accounts", &Level::INFO));
        assert!(!filter.would_enable("accounts", &Level::DEBUG));
    }
}
