//! What authentication costs, as `docs/benchmarks.md` reports it:
//! `cargo bench -p accounts --bench auth`.
//!
//! - `argon2id/hash` and `argon2id/verify`: one password hash and one verification with the
//!   production parameters, through the same blocking-pool hop the service uses;
//! - `login/jwt`: `POST /api/auth/jwt/login/` through the dispatch for a verified user (only
//!   failures count towards the per-IP limit and the lockout, so repeating it is fine);
//! - `me/jwt`: `GET /api/auth/me/` with a bearer access token through the dispatch.
//!
//! The App runs on the embedded engine in a temporary directory under Cargo's target tmp dir
//! (a real disk), with the system clock, and its table is a [`CountingTable`]: after the timed
//! runs the bench prints the store calls of one login and of one `me` request.

use std::hint::black_box;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use accounts::App;
use accounts::auth::passwords::{hash_password, verify_password};
use accounts::clock::SystemClock;
use accounts::config::{Config, Deployment};
use accounts::http::{ApiRequest, ApiResponse, Router};
use accounts::mail::outbox::read_outbox;
use accounts::store::counting::{CountingTable, StoreCalls};
use accounts::store::embedded::EmbeddedTable;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use http::Method;
use serde_json::json;
use tokio::runtime::Runtime;

const USERNAME: &str = "benchmark";
const EMAIL: &str = "benchmark@example.com";
const PASSWORD: &str = "Violet-Harbor-2931";
/// Register and login refuse empty and scripted user agents.
const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
/// `me` requests in the pass that counts store calls (after the timed run).
const COUNTED_REQUESTS: u64 = 200;

/// The App and what the bench reads besides it.
struct Bench {
    runtime: Runtime,
    app: App,
    router: Router,
    counting: Arc<CountingTable>,
}

impl Bench {
    fn open(dir: &Path) -> Bench {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let clock = Arc::new(SystemClock);
        let table = EmbeddedTable::open(dir, clock.clone()).expect("open the embedded table");
        let counting = Arc::new(CountingTable::new(Arc::new(table)));
        let data_dir = dir.to_str().expect("the temporary directory is UTF-8");
        let config = Config::from(&[("DATA_DIR", data_dir)], Deployment::Local)
            .expect("the local configuration is valid");
        let app = runtime
            .block_on(App::assemble(config, clock, counting.clone(), None))
            .unwrap_or_else(|e| panic!("build the App: {e}"));
        Bench {
            runtime,
            app,
            router: Router::all(),
            counting,
        }
    }

    /// A request from a browser at a fixed address.
    fn request(method: Method, path: &str) -> ApiRequest {
        let mut request = ApiRequest::new(method, path).with_header("user-agent", BROWSER_UA);
        request.source_ip = Some(IpAddr::from([198, 51, 100, 7]));
        request
    }

    fn send(&self, request: ApiRequest) -> ApiResponse {
        self.runtime
            .block_on(self.router.dispatch(&self.app, request))
    }

    fn login_request() -> ApiRequest {
        Bench::request(Method::POST, "/api/auth/jwt/login/")
            .with_json(&json!({ "username": USERNAME, "password": PASSWORD }))
    }

    fn me_request(access: &str) -> ApiRequest {
        Bench::request(Method::GET, "/api/auth/me/")
            .with_header("authorization", &format!("Bearer {access}"))
    }

    /// Registers the user and verifies the address with the mailed code, as a client would.
    fn register_verified_user(&self, outbox: &Path) {
        let register = Bench::request(Method::POST, "/api/auth/register/")
            .with_json(&json!({ "username": USERNAME, "email": EMAIL, "password": PASSWORD }));
        let response = self.send(register);
        assert_eq!(response.status, 201, "register: {}", response.body_json());

        let code = read_outbox(outbox)
            .expect("read the outbox")
            .into_iter()
            .rev()
            .find(|m| m.to == EMAIL)
            .and_then(|m| {
                m.text
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|run| run.len() == 6)
                    .map(str::to_owned)
            })
            .expect("a verification code in the outbox");
        let verify = Bench::request(Method::POST, "/api/auth/verify/")
            .with_json(&json!({ "email": EMAIL, "code": code }));
        let response = self.send(verify);
        assert_eq!(response.status, 200, "verify: {}", response.body_json());
    }

    /// A fresh access token.
    fn login(&self) -> String {
        let response = self.send(Bench::login_request());
        assert_eq!(response.status, 200, "login: {}", response.body_json());
        response.body_json()["access"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }
}

fn print_calls(what: &str, calls: &StoreCalls, requests: u64) {
    let per_request = calls.calls.total() as f64 / requests as f64;
    println!(
        "store calls, {what}: {requests} request(s), {per_request:.2} per request; \
         total {} ({}); failed {}",
        calls.calls.total(),
        calls.calls,
        calls.failed,
    );
}

fn auth(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a temporary directory");
    let bench = Bench::open(dir.path());
    bench.register_verified_user(&dir.path().join("outbox"));

    // Argon2id takes tens of milliseconds: flat sampling, few samples.
    let mut group = c.benchmark_group("argon2id");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    group.bench_function("hash", |b| {
        b.iter(|| {
            let phc = bench
                .runtime
                .block_on(hash_password(PASSWORD))
                .expect("hash");
            black_box(phc);
        })
    });
    let phc = bench
        .runtime
        .block_on(hash_password(PASSWORD))
        .expect("hash");
    group.bench_function("verify", |b| {
        b.iter(|| {
            let check = bench
                .runtime
                .block_on(verify_password(&phc, PASSWORD))
                .expect("verify");
            assert!(check.matches);
        })
    });
    group.finish();

    let mut group = c.benchmark_group("login");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    group.bench_function("jwt", |b| {
        b.iter(|| {
            let response = bench.send(Bench::login_request());
            assert_eq!(response.status, 200, "login: {}", response.body_json());
            black_box(response);
        })
    });
    group.finish();
    bench.counting.reset();
    let access = bench.login();
    print_calls("POST /api/auth/jwt/login/", &bench.counting.take(), 1);

    let mut group = c.benchmark_group("me");
    group
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    // The first request records the activity of the minute; the timed ones are the steady state
    // (and any minute boundary the run crosses adds its two throttled writes, as in production).
    let first = bench.send(Bench::me_request(&access));
    assert_eq!(first.status, 200, "me: {}", first.body_json());
    bench.counting.reset();
    let mut timed = 0u64;
    group.bench_function("jwt", |b| {
        b.iter(|| {
            timed += 1;
            let response = bench.send(Bench::me_request(&access));
            assert_eq!(response.status, 200, "me: {}", response.body_json());
            black_box(response);
        })
    });
    group.finish();
    print_calls(
        "GET /api/auth/me/ (the timed run, warm-up included)",
        &bench.counting.take(),
        timed,
    );
    for _ in 0..COUNTED_REQUESTS {
        let response = bench.send(Bench::me_request(&access));
        assert_eq!(response.status, 200, "me: {}", response.body_json());
    }
    print_calls(
        "GET /api/auth/me/ (a counted pass)",
        &bench.counting.take(),
        COUNTED_REQUESTS,
    );
}

criterion_group!(benches, auth);
criterion_main!(benches);
