//! Cold-start harness: serves the Lambda Runtime API on loopback, starts a function's binary
//! the way Lambda does (`AWS_LAMBDA_RUNTIME_API` and the environment of a function), hands it
//! one invocation and measures
//!
//! - init: process start → its first `GET /2018-06-01/runtime/invocation/next`;
//! - first response: process start → the first invocation's response posted;
//! - RSS after init (`VmRSS` when the first `next` arrives) and the peak after the first
//!   invocation (`VmHWM` when its response arrives), from `/proc/<pid>/status`;
//! - the CPU time of init (every thread's `schedstat` when the first `next` arrives), which a
//!   busy machine disturbs far less than the wall time;
//! - a warm invocation: the same event handed out `--warm` more times after the first, each
//!   timed from the `next` that fetched it to its response (the run's median).
//!
//! Each run starts a fresh process and kills it after its last response. Runs go round-robin
//! over the functions (so that a noisy moment hits all of them), one warm-up round is
//! discarded, and the table shows medians and each function's ratio to the baseline (the
//! hello-world function). Usage, from the workspace root:
//!
//! ```text
//! coldstart --runs 15 --baseline hello \
//!     hello=target/lambda/hello-lambda,events/auth-health.json \
//!     auth=target/lambda/auth,events/auth-health.json
//! ```
//!
//! Give it fresh copies of the binaries, as `scripts/bench-coldstart` does: a file the linker
//! has just written starts more slowly than a copy of it (docs/benchmarks.md, "Binaries as
//! Lambda has them").
//!
//! The functions read their configuration at init (shared/src/config.rs): the harness gives
//! them a DynamoDB table, SES, EventBridge, a signing key and dummy credentials, none of which
//! is contacted at init. The first invocation does whatever the event asks; a health event
//! reads the store once, so point `AWS_ENDPOINT_URL` at a moto that has the table
//! (`--env AWS_ENDPOINT_URL=http://127.0.0.1:5615`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Parser;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// A signing key set for the functions' configuration: a fixed, public, benchmark-only seed.
const BENCH_SIGNING_KEYS: &str = r#"{"keys": [{"kid": "coldstart", "private_key": "Y29sZHN0YXJ0LWJlbmNoLW9ubHktbm90LXNlY3JldCE"}]}"#;

#[derive(Parser, Debug)]
#[command(
    about = "Times the cold start of Lambda function binaries against a loopback Runtime API"
)]
struct Args {
    /// Functions to start, each `NAME=BINARY[,EVENT_FILE]` (the event defaults to `{}`).
    #[arg(required = true, value_name = "NAME=BINARY[,EVENT]")]
    functions: Vec<String>,
    /// Measured runs per function (after one discarded warm-up round).
    #[arg(long, default_value_t = 15)]
    runs: usize,
    /// The function the others are compared with.
    #[arg(long, default_value = "hello")]
    baseline: String,
    /// Extra or overriding environment variables of every function.
    #[arg(long = "env", value_name = "NAME=VALUE")]
    env: Vec<String>,
    /// Longest a run may take before it counts as failed.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// Invocations after the first in each run, timed as warm ones (0: none).
    #[arg(long, default_value_t = 10)]
    warm: u32,
}

/// One function to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FunctionSpec {
    name: String,
    binary: PathBuf,
    event: Option<PathBuf>,
}

/// Parses `NAME=BINARY[,EVENT]`.
fn parse_spec(spec: &str) -> Result<FunctionSpec, String> {
    let (name, rest) = spec
        .split_once('=')
        .ok_or_else(|| format!("`{spec}`: expected NAME=BINARY[,EVENT]"))?;
    let (binary, event) = match rest.split_once(',') {
        Some((binary, event)) => (binary, Some(event)),
        None => (rest, None),
    };
    if name.is_empty() || binary.is_empty() || event == Some("") {
        return Err(format!("`{spec}`: expected NAME=BINARY[,EVENT]"));
    }
    Ok(FunctionSpec {
        name: name.to_owned(),
        binary: binary.into(),
        event: event.map(PathBuf::from),
    })
}

/// Parses `NAME=VALUE`.
fn parse_env(var: &str) -> Result<(String, String), String> {
    match var.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("`{var}`: expected NAME=VALUE")),
    }
}

/// The Runtime API calls a function makes.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Next,
    Response(String),
    Error(String),
    InitError,
    Unknown,
}

fn route(method: &Method, path: &str) -> Route {
    const PREFIX: &str = "/2018-06-01/runtime/";
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Route::Unknown;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match (method, parts.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => Route::Next,
        (&Method::POST, ["invocation", id, "response"]) if !id.is_empty() => {
            Route::Response((*id).to_owned())
        }
        (&Method::POST, ["invocation", id, "error"]) if !id.is_empty() => {
            Route::Error((*id).to_owned())
        }
        (&Method::POST, ["init", "error"]) => Route::InitError,
        _ => Route::Unknown,
    }
}

/// A `kB` line of `/proc/<pid>/status` (`VmRSS:    12345 kB`), in KiB.
fn status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?;
        value.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// Resident and peak resident memory of a process, in KiB, and the CPU time its threads
/// have run so far.
#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    rss: u64,
    hwm: u64,
    cpu: Duration,
}

fn memory_of(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(Memory {
        rss: status_kib(&status, "VmRSS")?,
        hwm: status_kib(&status, "VmHWM")?,
        cpu: cpu_time(pid),
    })
}

/// CPU time of every live thread of the process (`/proc/<pid>/task/*/schedstat`, first field,
/// in nanoseconds). Unlike wall time it hardly moves when other processes load the machine.
fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let nanos: u64 = tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| schedstat_nanos(&stat))
        .sum();
    Duration::from_nanos(nanos)
}

/// The first field of a `schedstat` line: nanoseconds on the CPU.
fn schedstat_nanos(line: &str) -> Option<u64> {
    line.split_whitespace().next()?.parse().ok()
}

/// What the Runtime API saw during one run. Memory is read at the first `next` and the first
/// response only: reading `/proc` is the harness's own work, kept out of the warm timings.
#[derive(Debug)]
enum Mark {
    Next {
        at: Duration,
        memory: Option<Memory>,
    },
    Response {
        at: Duration,
        memory: Option<Memory>,
        body: Bytes,
    },
    Failed {
        what: &'static str,
        body: Bytes,
    },
}

/// The state of one run, shared with the Runtime API's connections.
struct Run {
    start: Instant,
    pid: AtomicU32,
    event: Bytes,
    /// Invocations handed out so far, and how many the run hands out in all.
    nexts: AtomicU32,
    invocations: u32,
    responses: AtomicU32,
    marks: mpsc::UnboundedSender<Mark>,
}

async fn runtime_api(
    run: Arc<Run>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let at = run.start.elapsed();
    let memory = || memory_of(run.pid.load(Ordering::SeqCst));
    let reply = |status: StatusCode, body: Bytes| {
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        response
    };
    match route(request.method(), request.uri().path()) {
        Route::Next => {
            let number = run.nexts.fetch_add(1, Ordering::SeqCst) + 1;
            if number > run.invocations {
                // The `next` after the last invocation waits for one that never comes: the
                // run ends and the process is killed.
                std::future::pending::<()>().await;
            }
            let _ = run.marks.send(Mark::Next {
                at,
                memory: if number == 1 { memory() } else { None },
            });
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() + 10_000);
            let mut response = reply(StatusCode::OK, run.event.clone());
            let headers = response.headers_mut();
            for (name, value) in [
                (
                    "lambda-runtime-aws-request-id",
                    format!("coldstart-{number}"),
                ),
                ("lambda-runtime-deadline-ms", deadline.to_string()),
                (
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:coldstart".to_owned(),
                ),
                (
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
                ),
                ("content-type", "application/json".to_owned()),
            ] {
                if let Ok(value) = value.parse() {
                    headers.insert(name, value);
                }
            }
            Ok(response)
        }
        Route::Response(_) => {
            let first = run.responses.fetch_add(1, Ordering::SeqCst) == 0;
            let memory = if first { memory() } else { None };
            let body = body_of(request).await;
            let _ = run.marks.send(Mark::Response { at, memory, body });
            Ok(reply(StatusCode::ACCEPTED, Bytes::new()))
        }
        Route::Error(_) => {
            let body = body_of(request).await;
            let _ = run.marks.send(Mark::Failed {
                what: "invocation error",
                body,
            });
            Ok(reply(StatusCode::ACCEPTED, Bytes::new()))
        }
        Route::InitError => {
            let body = body_of(request).await;
            let _ = run.marks.send(Mark::Failed {
                what: "init error",
                body,
            });
            Ok(reply(StatusCode::ACCEPTED, Bytes::new()))
        }
        Route::Unknown => Ok(reply(StatusCode::NOT_FOUND, Bytes::new())),
    }
}

async fn body_of(request: Request<Incoming>) -> Bytes {
    match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    }
}

/// Serves the Runtime API until the task is aborted (which drops every connection).
async fn serve(listener: TcpListener, run: Arc<Run>) {
    let mut connections = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        let run = run.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |r| runtime_api(run.clone(), r));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        // Reap finished connections so the set stays small.
        while connections.try_join_next().is_some() {}
    }
}

/// One measured cold start.
#[derive(Debug, Clone, Copy)]
struct Sample {
    init: Duration,
    /// CPU time of the process up to its first `next`.
    init_cpu: Duration,
    first_response: Duration,
    rss_after_init: u64,
    peak_after_first: u64,
    status: Option<u16>,
    /// The median of the run's warm invocations, `next` to response (zero without any).
    warm: Duration,
}

/// The environment of a Lambda function, then the caller's overrides.
fn function_env(
    name: &str,
    api: SocketAddr,
    overrides: &[(String, String)],
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = [
        ("AWS_LAMBDA_RUNTIME_API", api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_SESSION_TOKEN", "testing".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("STORE", "dynamodb".to_owned()),
        ("TABLE_NAME", "accounts-coldstart".to_owned()),
        ("MAIL", "ses".to_owned()),
        ("MAIL_FROM", "no-reply@example.com".to_owned()),
        ("BUS", "eventbridge".to_owned()),
        ("EVENT_BUS_NAME", "accounts-coldstart".to_owned()),
        ("RUST_LOG", "info".to_owned()),
        ("JWT_SIGNING_KEYS", BENCH_SIGNING_KEYS.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    env.extend(overrides.iter().cloned());
    env
}

/// Starts the function once, serves it one invocation and kills it.
async fn measure(
    spec: &FunctionSpec,
    event: &Bytes,
    overrides: &[(String, String)],
    timeout: Duration,
    warm: u32,
    log: &Path,
) -> Result<Sample, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind the Runtime API: {e}"))?;
    let api = listener
        .local_addr()
        .map_err(|e| format!("Runtime API address: {e}"))?;
    let env = function_env(&spec.name, api, overrides);
    let output = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let output_err = output
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let (marks, mut seen) = mpsc::unbounded_channel();

    let start = Instant::now();
    let child = Command::new(&spec.binary)
        .env_clear()
        .envs(&env)
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(output_err)
        .spawn()
        .map_err(|e| format!("start {}: {e}", spec.binary.display()))?;
    let mut child = Killed(child);
    let run = Arc::new(Run {
        start,
        pid: AtomicU32::new(child.0.id()),
        event: event.clone(),
        nexts: AtomicU32::new(0),
        invocations: 1 + warm,
        responses: AtomicU32::new(0),
        marks,
    });
    let server = tokio::spawn(serve(listener, run));

    let deadline = start + timeout;
    let mut init = None;
    let mut first = None;
    let mut fetched_at = None;
    let mut warm_times = Vec::new();
    let outcome = loop {
        let mark = tokio::time::timeout(Duration::from_millis(20), seen.recv()).await;
        match mark {
            Ok(Some(Mark::Next { at, memory })) => {
                if init.is_none() {
                    init = Some((at, memory));
                }
                fetched_at = Some(at);
            }
            Ok(Some(Mark::Response { at, memory, body })) => {
                let (Some((init_at, init_memory)), Some(fetched)) = (init, fetched_at.take())
                else {
                    break Err("a response without its `next`".to_owned());
                };
                let sample = match first {
                    Some(sample) => {
                        warm_times.push(at.saturating_sub(fetched).as_secs_f64());
                        sample
                    }
                    None => Sample {
                        init: init_at,
                        init_cpu: init_memory.map_or(Duration::ZERO, |m| m.cpu),
                        first_response: at,
                        rss_after_init: init_memory.map_or(0, |m| m.rss),
                        peak_after_first: memory.map_or(0, |m| m.hwm),
                        status: response_status(&body),
                        warm: Duration::ZERO,
                    },
                };
                first = Some(sample);
                if warm_times.len() == warm as usize {
                    let warm =
                        median(&mut warm_times).map_or(Duration::ZERO, Duration::from_secs_f64);
                    break Ok(Sample { warm, ..sample });
                }
            }
            Ok(Some(Mark::Failed { what, body })) => {
                break Err(format!("{what}: {}", String::from_utf8_lossy(&body)));
            }
            Ok(None) => break Err("the Runtime API stopped".to_owned()),
            Err(_) => {
                if let Ok(Some(status)) = child.0.try_wait() {
                    break Err(format!("exited early with {status}"));
                }
                if Instant::now() >= deadline {
                    break Err(format!("no response within {}s", timeout.as_secs()));
                }
            }
        }
    };
    child.kill();
    server.abort();
    outcome.map_err(|e| format!("{}: {e} (output in {})", spec.name, log.display()))
}

/// The child process, killed when dropped (an error path must not leave it running).
struct Killed(Child);

impl Killed {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `statusCode` of an API Gateway response, if the function answered with one (an event
/// function's answer has none: the table shows `event`).
fn response_status(body: &[u8]) -> Option<u16> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value
        .get("statusCode")?
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
}

/// The median (the mean of the middle two for an even count); `None` when empty.
fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// Medians of one function's samples: init ms, first response ms, RSS MiB, peak MiB, init CPU
/// ms, warm invocation µs.
fn medians(samples: &[Sample]) -> Option<[f64; 6]> {
    let column = |f: &dyn Fn(&Sample) -> f64| {
        let mut values: Vec<f64> = samples.iter().map(f).collect();
        median(&mut values)
    };
    Some([
        column(&|s| s.init.as_secs_f64() * 1000.0)?,
        column(&|s| s.first_response.as_secs_f64() * 1000.0)?,
        column(&|s| s.rss_after_init as f64 / 1024.0)?,
        column(&|s| s.peak_after_first as f64 / 1024.0)?,
        column(&|s| s.init_cpu.as_secs_f64() * 1000.0)?,
        column(&|s| s.warm.as_secs_f64() * 1_000_000.0)?,
    ])
}

fn size_mb(path: &Path) -> String {
    std::fs::metadata(path).map_or_else(
        |_| "?".to_owned(),
        |m| format!("{:.2}", m.len() as f64 / 1_000_000.0),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run(Args::parse()).await {
        eprintln!("coldstart: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let specs = args
        .functions
        .iter()
        .map(|s| parse_spec(s))
        .collect::<Result<Vec<_>, _>>()?;
    let overrides = args
        .env
        .iter()
        .map(|v| parse_env(v))
        .collect::<Result<Vec<_>, _>>()?;
    let events = specs
        .iter()
        .map(|spec| match &spec.event {
            None => Ok(Bytes::from_static(b"{}")),
            Some(path) => {
                let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                serde_json::from_slice::<serde_json::Value>(&text)
                    .map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
                Ok(Bytes::from(text))
            }
        })
        .collect::<Result<Vec<_>, String>>()?;
    let timeout = Duration::from_secs(args.timeout_secs);
    let logs = std::env::temp_dir();

    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); specs.len()];
    // Round 0 warms the page cache and is not counted.
    for round in 0..=args.runs {
        for (i, spec) in specs.iter().enumerate() {
            let log = logs.join(format!("coldstart-{}.log", spec.name));
            let sample = measure(spec, &events[i], &overrides, timeout, args.warm, &log).await?;
            if round > 0 {
                samples[i].push(sample);
            }
        }
        eprint!("\rround {round}/{}", args.runs);
    }
    eprintln!();

    let baseline = specs
        .iter()
        .position(|s| s.name == args.baseline)
        .and_then(|i| medians(&samples[i]));
    println!(
        "| function | size (MB) | init (ms) | init / {b} | init CPU (ms) | CPU / {b} | first response (ms) | first response / {b} | warm invocation (µs) | RSS after init (MiB) | RSS / {b} | peak RSS (MiB) | status |",
        b = args.baseline
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (spec, samples) in specs.iter().zip(&samples) {
        let Some([init, first, rss, peak, cpu, warm]) = medians(samples) else {
            continue;
        };
        let ratio = |value: f64, column: usize| {
            baseline.map_or_else(|| "-".to_owned(), |b| format!("{:.2}x", value / b[column]))
        };
        let statuses: Vec<String> = {
            let mut seen: Vec<String> = samples
                .iter()
                .map(|s| {
                    s.status
                        .map_or_else(|| "event".to_owned(), |c| c.to_string())
                })
                .collect();
            seen.sort();
            seen.dedup();
            seen
        };
        println!(
            "| {} | {} | {init:.1} | {} | {cpu:.1} | {} | {first:.1} | {} | {warm:.0} | {rss:.1} | {} | {peak:.1} | {} |",
            spec.name,
            size_mb(&spec.binary),
            ratio(init, 0),
            ratio(cpu, 4),
            ratio(first, 1),
            ratio(rss, 2),
            statuses.join(",")
        );
    }
    println!(
        "\nmedians of {} runs per function (one warm-up round discarded), {} functions round-robin; warm: the median of each run's {} warm invocations",
        args.runs,
        specs.len(),
        args.warm
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_function_specs() {
        assert_eq!(
            parse_spec("auth=target/lambda/auth,events/auth-health.json"),
            Ok(FunctionSpec {
                name: "auth".into(),
                binary: "target/lambda/auth".into(),
                event: Some("events/auth-health.json".into()),
            })
        );
        assert_eq!(parse_spec("hello=bin").map(|s| s.event), Ok(None));
        for bad in ["auth", "=bin", "auth=", "auth=bin,"] {
            assert!(parse_spec(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_env("A=b=c"), Ok(("A".into(), "b=c".into())));
        assert!(parse_env("=x").is_err());
    }

    #[test]
    fn routes_the_runtime_api() {
        let p = "/2018-06-01/runtime/";
        assert_eq!(
            route(&Method::GET, &format!("{p}invocation/next")),
            Route::Next
        );
        assert_eq!(
            route(&Method::POST, &format!("{p}invocation/abc/response")),
            Route::Response("abc".into())
        );
        assert_eq!(
            route(&Method::POST, &format!("{p}invocation/abc/error")),
            Route::Error("abc".into())
        );
        assert_eq!(
            route(&Method::POST, &format!("{p}init/error")),
            Route::InitError
        );
        assert_eq!(
            route(&Method::POST, &format!("{p}invocation/next")),
            Route::Unknown
        );
        assert_eq!(
            route(&Method::POST, &format!("{p}invocation//response")),
            Route::Unknown
        );
        assert_eq!(route(&Method::GET, "/other"), Route::Unknown);
    }

    #[test]
    fn reads_proc_status_fields() {
        let status = "Name:\tauth\nVmHWM:\t   14400 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(status_kib(status, "VmRSS"), Some(12345));
        assert_eq!(status_kib(status, "VmHWM"), Some(14400));
        assert_eq!(status_kib(status, "Threads"), None);
        assert_eq!(status_kib(status, "VmSwap"), None);
        assert_eq!(schedstat_nanos("12345678 2000 7\n"), Some(12_345_678));
        assert_eq!(schedstat_nanos(""), None);
    }

    #[test]
    fn medians_and_statuses() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(
            response_status(br#"{"statusCode": 200, "body": "x"}"#),
            Some(200)
        );
        assert_eq!(response_status(b"hello"), None);
    }

    #[test]
    fn overrides_win_over_the_lambda_environment() {
        let api: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        let env = function_env("auth", api, &[("TABLE_NAME".into(), "mine".into())]);
        assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "auth");
        assert_eq!(env["TABLE_NAME"], "mine");
    }
}
