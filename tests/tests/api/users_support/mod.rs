//! What the users tests share: accounts made through the domain's own creation path (no
//! per-IP registration limit), logins through the API, and a whole-table snapshot.

// Each test file uses a part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;

use accounts::accounts::registration::{self, CreateOptions, RegisterInput};
use accounts::accounts::users;
use accounts::auth::client::ClientInfo;
use accounts::model::{Role, UserId};
use accounts::store::{Item, Key, Scan};
use api_tests::app::TestApp;
use serde_json::{Value as Json, json};

pub const PASSWORD: &str = "correct horse battery staple 42";

/// A signed-in account: its id, username and an access token.
#[derive(Clone, Debug)]
pub struct Member {
    pub id: i64,
    pub username: String,
    pub access: String,
}

/// Creates an account (verified or not) with the role, as `accounts-admin` and `POST
/// /api/users/` do.
pub async fn create(app: &TestApp, username: &str, role: Role, verified: bool) -> i64 {
    let input = RegisterInput {
        username: Some(username.into()),
        email: Some(format!("{username}@example.com")),
        password: Some(PASSWORD.into()),
        ..RegisterInput::default()
    };
    let options = CreateOptions {
        role: Role::Normal,
        is_verified: verified,
        created_by: None,
    };
    let user = registration::create_account(&app.app, input, options, &ClientInfo::default())
        .await
        .unwrap_or_else(|e| panic!("create {username}: {e}"));
    if role != Role::Normal {
        users::set_role(&app.app, accounts::access::Actor::System, user.id, role)
            .await
            .unwrap_or_else(|e| panic!("set the role of {username}: {e}"));
    }
    user.id.0
}

/// A JWT login; panics unless it succeeds.
pub async fn login(app: &TestApp, username: &str) -> String {
    let response = app
        .post("/api/auth/jwt/login/")
        .json(json!({ "username": username, "password": PASSWORD }))
        .send()
        .await;
    assert_eq!(
        response.status,
        200,
        "login {username}: {}",
        response.body_json()
    );
    response.body_json()["access"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// A verified account with the role, signed in.
pub async fn member(app: &TestApp, username: &str, role: Role) -> Member {
    let id = create(app, username, role, true).await;
    Member {
        id,
        username: username.into(),
        access: login(app, username).await,
    }
}

/// Sends a request as `who` (a body for the methods that have one).
pub async fn call(
    app: &TestApp,
    who: &Member,
    method: http::Method,
    path: &str,
    body: Option<Json>,
) -> (u16, Json) {
    let mut request = app.request(method, path).bearer(&who.access);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await;
    let json = if response.body.is_empty() {
        Json::Null
    } else {
        response.body_json()
    };
    (response.status.as_u16(), json)
}

/// Every item of the table, by key (a test-only scan). Items that change on every request
/// anyway (session activity, last_active, rate windows, events) are left out by the callers
/// that compare snapshots.
pub async fn snapshot(app: &TestApp) -> BTreeMap<Key, Item> {
    let mut all = BTreeMap::new();
    let mut cursor = None;
    loop {
        let page = app
            .table()
            .scan(Scan::segment(0, 1).after(cursor))
            .await
            .expect("scan the table");
        for item in page.items {
            let key = Key::of(&item).expect("every item has a key");
            all.insert(key, item);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
}

/// The profile item of a user, as stored.
pub async fn profile(app: &TestApp, id: i64) -> Option<Item> {
    app.table()
        .get(&accounts::store::keys::user(UserId(id)), true)
        .await
        .expect("read the profile")
}

/// A TestApp whose table counts the calls that reach it.
pub async fn counting_app(
    t: api_tests::TestTable,
) -> (
    TestApp,
    std::sync::Arc<accounts::store::counting::CountingTable>,
) {
    use std::sync::Arc;
    let table = Arc::new(accounts::store::counting::CountingTable::new(t.table()));
    let data_dir = t.dir().to_str().expect("temp dir is UTF-8").to_owned();
    let config = accounts::config::Config::from(
        &[("DATA_DIR", data_dir.as_str())],
        accounts::config::Deployment::Local,
    )
    .expect("the local test configuration is valid");
    let app = accounts::App::assemble(config, t.dyn_clock(), table.clone(), None)
        .await
        .unwrap_or_else(|e| panic!("build the App: {e}"));
    let app = TestApp {
        app: Arc::new(app),
        router: accounts::http::Router::all(),
        t,
    };
    (app, table)
}
