//! Helpers shared by the activity tests (sessions, events, ingestion), on top of
//! `api_tests::fixtures` (users, logins, stored events).

#![allow(dead_code)]

use std::sync::Arc;

use accounts::App;
use accounts::config::{Config, Deployment};
use accounts::http::{ApiResponse, Router};
use accounts::store::counting::CountingTable;
use api_tests::TestTable;
use api_tests::app::TestApp;
use api_tests::fixtures::Login;
use serde_json::Value as Json;

/// A TestApp whose store calls are counted.
pub async fn counted(t: TestTable) -> (TestApp, Arc<CountingTable>) {
    let counting = Arc::new(CountingTable::new(t.table()));
    let data_dir = t.dir().to_str().expect("temp dir is UTF-8").to_owned();
    let config = Config::from(&[("DATA_DIR", data_dir.as_str())], Deployment::Local)
        .expect("the local test configuration is valid");
    let app = App::assemble(config, t.dyn_clock(), counting.clone(), None)
        .await
        .unwrap_or_else(|e| panic!("build the App: {e}"));
    let app = TestApp {
        app: Arc::new(app),
        router: Router::all(),
        t,
    };
    (app, counting)
}

/// A JWT login through the API with this user agent, and the session it opened.
pub async fn session_login_as(app: &TestApp, username: &str, user_agent: &str) -> Session {
    let tokens = Login::new(username)
        .user_agent(user_agent)
        .tokens(app)
        .await;
    let session_id = session_of(app, &tokens.access).await;
    Session {
        access: tokens.access,
        refresh: tokens.refresh,
        session_id,
    }
}

/// A JWT login through the API from the test browser, and the session it opened.
pub async fn session_login(app: &TestApp, username: &str) -> Session {
    session_login_as(app, username, api_tests::app::BROWSER_UA).await
}

/// The tokens of a JWT login and the id of its session.
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub session_id: String,
}

/// The current session's id, as the sessions list marks it.
async fn session_of(app: &TestApp, access: &str) -> String {
    let list = app.get("/api/sessions/").bearer(access).send().await;
    assert_eq!(list.status, 200, "{}", list.body_json());
    list.body_json()["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|s| s["is_current"] == true)
        .and_then(|s| s["session_id"].as_str())
        .expect("the current session is marked")
        .to_owned()
}

pub fn results(response: &ApiResponse) -> Vec<Json> {
    response.body_json()["results"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no results in {}", response.body_json()))
}
