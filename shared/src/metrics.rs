//! Business and health metrics in CloudWatch Embedded Metric Format (EMF): one JSON log line
//! per metric event on stdout, which CloudWatch Logs turns into metrics; no API call at request
//! time. Locally the same line goes to the same stdout as the JSON logs.
//!
//! Call sites are one line, `metrics::emit(Metric::Login)`, and see no AWS type. An event is a
//! `tracing` event with the target [`TARGET`]; [`EmfLayer`] (installed by `telemetry::init`)
//! writes it as EMF, and the JSON log layer leaves it out. Tests read the lines of one future
//! with [`captured`], which scopes its own subscriber to that future (no global state).
//!
//! The metric names below are what `template.yaml`'s alarms and dashboard name
//! (`tests/tests/api/template.rs` checks that every alarm's metric is one of [`NAMES`]);
//! `docs/operations.md` lists them.

use std::future::Future;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// The `tracing` target of metric events.
pub const TARGET: &str = "accounts::metrics";

/// The namespace when `METRICS_NAMESPACE` is unset (the template sets `accounts/<stage>`).
pub const DEFAULT_NAMESPACE: &str = "accounts";

/// The dimension of the per-task metrics.
pub const TASK_DIMENSION: &str = "Task";

/// One metric event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric<'a> {
    /// An account registered (self-service or created by staff).
    Registration,
    /// An email address verified with its code.
    Verification,
    /// A successful login (session or JWT).
    Login,
    /// A login refused: unknown account, wrong password, locked, suspended.
    LoginFailed,
    /// An account reached the lockout threshold.
    Lockout,
    /// A rotated refresh token presented again (the session is ended).
    RefreshReuse,
    /// A follow edge created (or a follow request made).
    Follow,
    /// A badge awarded.
    Award,
    /// An activity event ingested (API or the content service's bus events).
    EventIngested,
    /// A scheduled task's run finished (completed, checkpointed, skipped or failed): one
    /// line with `TaskRuns` 1, `TaskCompleted` 1 or 0, `TaskPages` and `TaskDuration`.
    TaskRun {
        task: &'a str,
        completed: bool,
        pages: u64,
        duration_ms: u64,
    },
    /// A store call retried after a throttle, a timeout or a lost answer.
    StoreRetry,
    /// A store call that failed after its retries: answered 503.
    StoreUnavailable,
}

/// Every metric name, as written to CloudWatch.
pub const NAMES: &[&str] = &[
    "Registrations",
    "Verifications",
    "Logins",
    "LoginFailures",
    "Lockouts",
    "RefreshReuse",
    "Follows",
    "Awards",
    "EventsIngested",
    "TaskRuns",
    "TaskCompleted",
    "TaskPages",
    "TaskDuration",
    "StoreRetries",
    "StoreUnavailable",
];

impl Metric<'_> {
    /// The metric's name in CloudWatch (one of [`NAMES`]).
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Registration => "Registrations",
            Metric::Verification => "Verifications",
            Metric::Login => "Logins",
            Metric::LoginFailed => "LoginFailures",
            Metric::Lockout => "Lockouts",
            Metric::RefreshReuse => "RefreshReuse",
            Metric::Follow => "Follows",
            Metric::Award => "Awards",
            Metric::EventIngested => "EventsIngested",
            Metric::TaskRun { .. } => "TaskRuns",
            Metric::StoreRetry => "StoreRetries",
            Metric::StoreUnavailable => "StoreUnavailable",
        }
    }
}

tokio::task_local! {
    /// The lines of a [`captured`] future.
    static CAPTURED: Arc<Mutex<Vec<Value>>>;
}

/// Records one metric event.
pub fn emit(metric: Metric<'_>) {
    let name = metric.name();
    let _ = CAPTURED.try_with(|lines| {
        let (task, run) = match metric {
            Metric::TaskRun {
                task,
                completed,
                pages,
                duration_ms,
            } => (
                Some(task),
                Some(TaskRunFields {
                    completed,
                    pages,
                    duration_ms,
                }),
            ),
            _ => (None, None),
        };
        let now = chrono::Utc::now().timestamp_millis();
        let line = emf_line(DEFAULT_NAMESPACE, now, name, task, run);
        lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    });
    match metric {
        Metric::TaskRun {
            task,
            completed,
            pages,
            duration_ms,
        } => tracing::info!(target: TARGET, metric = name, task, completed, pages, duration_ms),
        _ => tracing::info!(target: TARGET, metric = name),
    }
}

/// The fields of a metric event.
#[derive(Default)]
struct Fields {
    metric: Option<String>,
    task: Option<String>,
    run: Option<TaskRunFields>,
}

/// The values of a `TaskRuns` line besides its task.
#[derive(Default, Clone, Copy)]
struct TaskRunFields {
    completed: bool,
    pages: u64,
    duration_ms: u64,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "metric" => self.metric = Some(value.to_owned()),
            "task" => self.task = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let run = self.run.get_or_insert_default();
        match field.name() {
            "pages" => run.pages = value,
            "duration_ms" => run.duration_ms = value,
            _ => {}
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "completed" {
            self.run.get_or_insert_default().completed = value;
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, value.max(0) as u64);
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

/// The EMF document of one metric event at `timestamp_ms`.
fn emf_line(
    namespace: &str,
    timestamp_ms: i64,
    name: &str,
    task: Option<&str>,
    run: Option<TaskRunFields>,
) -> Value {
    let mut root = Map::new();
    root.insert(name.to_owned(), json!(1));
    let mut metrics = vec![json!({ "Name": name, "Unit": "Count" })];
    if let Some(run) = run {
        root.insert("TaskCompleted".to_owned(), json!(u8::from(run.completed)));
        root.insert("TaskPages".to_owned(), json!(run.pages));
        root.insert("TaskDuration".to_owned(), json!(run.duration_ms));
        metrics.push(json!({ "Name": "TaskCompleted", "Unit": "Count" }));
        metrics.push(json!({ "Name": "TaskPages", "Unit": "Count" }));
        metrics.push(json!({ "Name": "TaskDuration", "Unit": "Milliseconds" }));
    }
    let dimensions = match task {
        Some(task) => {
            root.insert(TASK_DIMENSION.to_owned(), json!(task));
            json!([[TASK_DIMENSION]])
        }
        None => json!([[]]),
    };
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": dimensions,
                "Metrics": metrics,
            }],
        }),
    );
    Value::Object(root)
}

/// Where the EMF lines go.
type Sink = Arc<dyn Fn(Value) + Send + Sync>;

/// The layer that writes metric events as EMF lines; other events pass by.
pub struct EmfLayer {
    namespace: String,
    sink: Sink,
}

impl EmfLayer {
    /// Lines to stdout, one `write` per line (Lambda hands stdout to CloudWatch Logs).
    pub fn stdout(namespace: impl Into<String>) -> EmfLayer {
        EmfLayer {
            namespace: namespace.into(),
            sink: Arc::new(|line| {
                use std::io::Write;
                let mut text = line.to_string();
                text.push('\n');
                let _ = std::io::stdout().lock().write_all(text.as_bytes());
            }),
        }
    }
}

impl<S: Subscriber> Layer<S> for EmfLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let Some(name) = fields.metric else { return };
        let now = chrono::Utc::now().timestamp_millis();
        (self.sink)(emf_line(
            &self.namespace,
            now,
            &name,
            fields.task.as_deref(),
            fields.run,
        ));
    }
}

/// Runs `future` keeping the metric lines it emits, as the EMF layer writes them, and answers
/// them with the future's output. Only what the future itself polls is seen (not tasks it
/// spawns). The lines are kept by a task-local, not by a scoped tracing subscriber: tracing
/// caches per call site whether any subscriber wants an event, and with tests running side by
/// side that cache can say no to a scoped one (a lost line, seen in CI).
pub async fn captured<F: Future>(future: F) -> (F::Output, Vec<Value>) {
    let lines: Arc<Mutex<Vec<Value>>> = Arc::default();
    let output = CAPTURED.scope(lines.clone(), future).await;
    let lines = std::mem::take(&mut *lines.lock().unwrap_or_else(|e| e.into_inner()));
    (output, lines)
}

/// How many of `lines` record the metric `name`.
pub fn count(lines: &[Value], name: &str) -> usize {
    lines.iter().filter(|l| l.get(name).is_some()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_an_emf_document() {
        let line = emf_line("accounts/dev", 1_700_000_000_000, "Logins", None, None);
        assert_eq!(
            line,
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "accounts/dev",
                        "Dimensions": [[]],
                        "Metrics": [{ "Name": "Logins", "Unit": "Count" }],
                    }],
                },
                "Logins": 1,
            })
        );
    }

    #[test]
    fn a_task_run_has_its_task_and_duration() {
        let run = TaskRunFields {
            completed: true,
            pages: 3,
            duration_ms: 420,
        };
        let line = emf_line("ns", 1, "TaskRuns", Some("update_user_counters"), Some(run));
        assert_eq!(line["Task"], "update_user_counters");
        assert_eq!(line["TaskCompleted"], 1);
        assert_eq!(line["TaskPages"], 3);
        assert_eq!(line["TaskDuration"], 420);
        let cw = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Dimensions"], json!([["Task"]]));
        let names: Vec<&str> = cw["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["TaskRuns", "TaskCompleted", "TaskPages", "TaskDuration"]
        );
        assert!(names.iter().all(|n| NAMES.contains(n)));
    }

    #[test]
    fn every_metric_has_a_listed_name() {
        for metric in [
            Metric::Registration,
            Metric::Verification,
            Metric::Login,
            Metric::LoginFailed,
            Metric::Lockout,
            Metric::RefreshReuse,
            Metric::Follow,
            Metric::Award,
            Metric::EventIngested,
            Metric::TaskRun {
                task: "t",
                completed: false,
                pages: 0,
                duration_ms: 1,
            },
            Metric::StoreRetry,
            Metric::StoreUnavailable,
        ] {
            assert!(NAMES.contains(&metric.name()), "{metric:?}");
        }
    }

    #[tokio::test]
    async fn captured_sees_the_lines_of_its_future_only() {
        emit(Metric::Follow);
        let ((), lines) = captured(async {
            emit(Metric::Login);
            emit(Metric::TaskRun {
                task: "cleanup_expired_sessions",
                completed: true,
                pages: 2,
                duration_ms: 12,
            });
        })
        .await;
        assert_eq!(lines.len(), 2);
        assert_eq!(count(&lines, "Logins"), 1);
        assert_eq!(count(&lines, "Follows"), 0);
        assert_eq!(lines[1]["Task"], "cleanup_expired_sessions");
        assert_eq!(lines[1]["TaskDuration"], 12);
    }
}
