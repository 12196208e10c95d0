//! Helpers shared by the activity tests (sessions, events, ingestion).

#![allow(dead_code)]

use std::sync::Arc;

use accounts::App;
use accounts::activity::events::EventRecord;
use accounts::config::{Config, Deployment};
use accounts::http::{ApiResponse, Router};
use accounts::model::{Role, UserId};
use accounts::store::counting::CountingTable;
use accounts::store::{Query, SortCondition, Update, keys};
use api_tests::TestTable;
use api_tests::app::TestApp;
use serde_json::{Value as Json, json};

pub const PASSWORD: &str = "Corr3ct-Horse-Battery";

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

/// Registers and verifies a user through the API; returns the id.
pub async fn register(app: &TestApp, username: &str) -> UserId {
    let email = format!("{username}@example.com");
    let response = app
        .post("/api/auth/register/")
        .json(json!({ "username": username, "email": email, "password": PASSWORD }))
        .send()
        .await;
    assert_eq!(response.status, 201, "register: {}", response.body_json());
    let id = response.body_json()["id"].as_i64().expect("the new id");
    let code = app.last_code_for(&email).expect("a verification code");
    let response = app
        .post("/api/auth/verify/")
        .json(json!({ "email": email, "code": code }))
        .send()
        .await;
    assert_eq!(response.status, 200, "verify: {}", response.body_json());
    UserId(id)
}

/// A JWT login with this user agent: `(access, refresh, session id)`.
pub async fn jwt_login_as(app: &TestApp, username: &str, user_agent: &str) -> Tokens {
    let response = app
        .post("/api/auth/jwt/login/")
        .header("user-agent", user_agent)
        .json(json!({ "username": username, "password": PASSWORD }))
        .send()
        .await;
    assert_eq!(response.status, 200, "jwt login: {}", response.body_json());
    let body = response.body_json();
    let access = body["access"].as_str().expect("access").to_owned();
    let refresh = body["refresh"].as_str().expect("refresh").to_owned();
    let session_id = session_of(app, &access).await;
    Tokens {
        access,
        refresh,
        session_id,
    }
}

pub async fn jwt_login(app: &TestApp, username: &str) -> Tokens {
    jwt_login_as(app, username, api_tests::app::BROWSER_UA).await
}

pub struct Tokens {
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

/// Gives the user a role straight in the store (role changes are another issue's endpoint).
pub async fn set_role(app: &TestApp, user: UserId, role: Role) {
    app.table()
        .update(
            &keys::user(user),
            Update::new().set("role", role.as_str()),
            None,
        )
        .await
        .expect("set the role");
}

/// An API token of the user (created through the API with their access token).
pub async fn api_token(app: &TestApp, access: &str) -> String {
    let response = app
        .post("/api/auth/tokens/")
        .bearer(access)
        .json(json!({ "name": "service" }))
        .send()
        .await;
    assert_eq!(response.status, 201, "token: {}", response.body_json());
    response.body_json()["key"]
        .as_str()
        .expect("the key")
        .to_owned()
}

/// Every live event of the user in the store, newest first.
pub async fn stored_events(app: &TestApp, user: UserId) -> Vec<EventRecord> {
    let query = Query::new(keys::Index::Primary, keys::user_partition(user))
        .sort(SortCondition::BeginsWith(keys::EVENT_PREFIX.into()))
        .descending()
        .consistent();
    let page = app.table().query(query).await.expect("query events");
    page.items
        .iter()
        .map(|i| EventRecord::from_item(i).expect("an event"))
        .collect()
}

pub fn detail(response: &ApiResponse) -> String {
    response.body_json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub fn results(response: &ApiResponse) -> Vec<Json> {
    response.body_json()["results"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no results in {}", response.body_json()))
}
