//! A whole App over one test's table: the routes answer through the same `Router::dispatch`
//! as accounts-local and the Lambda functions, with a ManualClock, the outbox mailer and the
//! in-process bus in the test's own directory.
//!
//! ```text
//! use api_tests::{TestTable, both_engines, app::TestApp};
//!
//! both_engines!(async fn registers(t: TestTable) {
//!     let app = TestApp::new(t).await;
//!     let response = app.post("/api/auth/register/").json(json!({...})).send().await;
//!     assert_eq!(response.status, 201);
//!     let code = app.last_code_for("jane@example.com").unwrap();
//! });
//! ```

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use accounts::App;
use accounts::clock::ManualClock;
use accounts::config::{Config, Deployment, Env};
use accounts::http::{ApiRequest, ApiResponse, Router};
use accounts::mail::outbox::{OutboxMessage, read_outbox};
use accounts::store::Table;
use http::Method;

use crate::TestTable;

/// A browser's user agent: register and login refuse empty and scripted user agents.
pub const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

pub struct TestApp {
    pub app: Arc<App>,
    pub router: Router,
    /// The test's table, clock and directory (kept alive as long as the App).
    pub t: TestTable,
}

impl TestApp {
    /// Applies the table's stream to the day counts, as the deployed consumer would have by
    /// now (`api_tests::stream`); returns the events counted.
    pub async fn apply_stream(&self) -> u64 {
        crate::stream::apply_stream(&self.app, &self.t).await
    }

    /// Builds the App over the test's table. Panics (the test fails) if it cannot.
    pub async fn new(t: TestTable) -> TestApp {
        TestApp::with_settings(t, &[]).await
    }

    /// Builds the App over the test's table with every store call reaching moto one at a time
    /// ([`crate::moto::isolated`], `EveryCall`), for tests that race requests: moto's
    /// conditions and ADDs are not atomic, DynamoDB's are. On the embedded engine the calls stay
    /// concurrent, and that is where the race is real.
    pub async fn one_call_at_a_time(t: TestTable) -> TestApp {
        let table = crate::moto::isolated(&t, crate::moto::Isolation::EveryCall);
        TestApp::over(t, &[], table).await
    }

    /// Builds the App with these settings (environment variables) on top of the local defaults.
    pub async fn with_settings(t: TestTable, settings: &[(&str, &str)]) -> TestApp {
        let table = t.table();
        TestApp::over(t, settings, table).await
    }

    /// Builds the App with these settings over `table` instead of the test's own table (a
    /// wrapper of it, say).
    pub async fn over(t: TestTable, settings: &[(&str, &str)], table: Arc<dyn Table>) -> TestApp {
        let app = build_app(&t, t.dir(), settings, table).await;
        TestApp {
            app: Arc::new(app),
            router: Router::all(),
            t,
        }
    }

    pub fn clock(&self) -> &Arc<ManualClock> {
        self.t.clock()
    }

    /// The store, to check what a request wrote.
    pub fn table(&self) -> &dyn Table {
        &*self.t
    }

    /// Sends a prepared request through the dispatch, then waits for the work it handed to the
    /// bus to do after the answer (code mails), so a test sees its effects as a client that
    /// waits a moment would.
    pub async fn send(&self, request: ApiRequest) -> ApiResponse {
        let response = self.router.dispatch(&self.app, request).await;
        self.settled().await;
        response
    }

    /// Sends a request and answers when the answer is ready, without waiting for the work
    /// handed to the bus (what a client measures).
    pub async fn send_unsettled(&self, request: ApiRequest) -> ApiResponse {
        self.router.dispatch(&self.app, request).await
    }

    /// Waits until the in-process bus has finished what requests handed it for after their
    /// answers.
    pub async fn settled(&self) {
        if let Some(bus) = &self.app.in_process_bus {
            bus.settled().await;
        }
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder<'_> {
        let request = ApiRequest::new(method, path).with_header("user-agent", BROWSER_UA);
        let mut request = request;
        request.source_ip = Some(IpAddr::from([198, 51, 100, 7]));
        RequestBuilder { app: self, request }
    }

    pub fn get(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::GET, path)
    }
    pub fn post(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::POST, path)
    }
    pub fn put(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::PUT, path)
    }
    pub fn patch(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::PATCH, path)
    }
    pub fn delete(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::DELETE, path)
    }

    /// Every mail sent so far, oldest first.
    pub fn outbox(&self) -> Vec<OutboxMessage> {
        read_outbox(&self.t.dir().join("outbox")).expect("read the outbox")
    }

    /// The six-digit code in the newest mail to `to` (case-insensitive), if any.
    pub fn last_code_for(&self, to: &str) -> Option<String> {
        self.outbox()
            .into_iter()
            .rev()
            .find(|m| m.to.eq_ignore_ascii_case(to))
            .and_then(|m| {
                m.text
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|run| run.len() == 6)
                    .map(str::to_owned)
            })
    }
}

/// An App on the test's clock over `table`, with `settings` on top of the local defaults and
/// `data_dir` for its files (a second App keeps its outbox apart in a directory of its own).
/// Panics (the test fails) if it cannot be built.
pub async fn build_app(
    t: &TestTable,
    data_dir: &Path,
    settings: &[(&str, &str)],
    table: Arc<dyn Table>,
) -> App {
    let data_dir = data_dir.to_str().expect("temp dir is UTF-8");
    let mut vars = vec![("DATA_DIR", data_dir)];
    vars.extend_from_slice(settings);
    let config =
        Config::from(&Settings(vars), Deployment::Local).expect("the test configuration is valid");
    let app = App::assemble(config, t.dyn_clock(), table, None)
        .await
        .unwrap_or_else(|e| panic!("build the App: {e}"));
    // Work handed to the bus for after the answer runs when a test settles, not beside the
    // request: a request's store calls and time are its own (`TestApp::send` settles).
    if let Some(bus) = &app.in_process_bus {
        bus.hold_after_response();
    }
    app
}

/// Settings as the configuration reads them from the environment; the first of a name wins.
struct Settings<'a>(Vec<(&'a str, &'a str)>);

impl Env for Settings<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

/// A request under construction; `send` dispatches it.
pub struct RequestBuilder<'a> {
    app: &'a TestApp,
    pub request: ApiRequest,
}

impl RequestBuilder<'_> {
    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.request = self.request.with_json(&body);
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.request = self.request.with_header(name, value);
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn api_token(self, key: &str) -> Self {
        self.header("authorization", &format!("Token {key}"))
    }

    /// Sends `Cookie:` with these name=value pairs.
    pub fn cookies(self, pairs: &[(&str, &str)]) -> Self {
        let cookie = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        self.header("cookie", &cookie)
    }

    /// The answer is due `within` from now (what the Lambda adapter sets from its deadline).
    pub fn due_within(mut self, within: std::time::Duration) -> Self {
        self.request.deadline = Some(tokio::time::Instant::now() + within);
        self
    }

    pub fn ip(mut self, ip: &str) -> Self {
        self.request.source_ip = ip.parse().ok();
        self
    }

    pub fn without_user_agent(mut self) -> Self {
        self.request.headers.remove("user-agent");
        self
    }

    pub async fn send(self) -> ApiResponse {
        self.app.send(self.request).await
    }

    /// [`TestApp::send_unsettled`].
    pub async fn send_unsettled(self) -> ApiResponse {
        self.app.send_unsettled(self.request).await
    }

    /// The request as built, for tests that time it themselves.
    pub fn build(self) -> ApiRequest {
        self.request
    }
}

/// The value of a `Set-Cookie` header's cookie `name` in a response, if set.
pub fn set_cookie(response: &ApiResponse, name: &str) -> Option<String> {
    response
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let first = v.split(';').next()?;
            let (k, val) = first.split_once('=')?;
            (k.trim() == name).then(|| val.trim().to_owned())
        })
}
