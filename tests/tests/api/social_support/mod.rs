//! Helpers shared by the social tests: verified users with access tokens (`api_tests::fixtures`)
//! and the counters and edges as stored.

#![allow(dead_code)]

use std::sync::Arc;

use accounts::App;
use accounts::accounts::UserRecord;
use accounts::config::{Config, Deployment};
use accounts::http::{ApiResponse, Router};
use accounts::model::{Role, UserId};
use accounts::social::{FollowEdge, FollowStatus};
use accounts::store::counting::CountingTable;
use accounts::store::{Index, Query, SortCondition, Table, keys};
use api_tests::TestTable;
use api_tests::app::TestApp;
use serde_json::{Value as Json, json};

pub use api_tests::fixtures::{Person, person_with};

pub async fn person(app: &App, id: i64) -> Person {
    person_with(app, id, Role::Normal, false).await
}

pub async fn private_person(app: &App, id: i64) -> Person {
    person_with(app, id, Role::Normal, true).await
}

/// The profile as stored now.
pub async fn profile(app: &App, id: UserId) -> UserRecord {
    accounts::accounts::get_user_consistent(app, id)
        .await
        .unwrap()
        .expect("the user exists")
}

/// (follower_count, following_count) of a user.
pub async fn counters(app: &App, id: UserId) -> (i64, i64) {
    let p = profile(app, id).await;
    (p.follower_count, p.following_count)
}

async fn all(table: &dyn Table, query: Query) -> Vec<accounts::store::Item> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = table.query(query.clone().after(cursor)).await.unwrap();
        items.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return items,
        }
    }
}

/// Every follow edge out of a user (active and pending), from the main key.
pub async fn outgoing(app: &App, id: UserId) -> Vec<FollowEdge> {
    let query = Query::new(Index::Primary, keys::user_partition(id))
        .sort(SortCondition::BeginsWith(keys::FOLLOWS_PREFIX.into()))
        .consistent();
    all(&*app.table, query)
        .await
        .iter()
        .map(|i| FollowEdge::from_item(i).unwrap())
        .collect()
}

/// The active edges into a user from `candidates`, each read from the follower's partition with
/// a consistent get (a cross-check that does not trust the followers index).
pub async fn active_followers(app: &App, id: UserId, candidates: &[UserId]) -> i64 {
    let mut n = 0;
    for &c in candidates {
        let edge = app
            .table
            .get(&keys::follow_edge(c, id), true)
            .await
            .unwrap();
        if let Some(item) = edge
            && FollowEdge::from_item(&item).unwrap().status == FollowStatus::Active
        {
            n += 1;
        }
    }
    n
}

/// Asserts that every listed user's counters equal their active edges among `users`.
pub async fn assert_counters_exact(app: &App, users: &[UserId]) {
    for &u in users {
        let following = outgoing(app, u)
            .await
            .iter()
            .filter(|e| e.status == FollowStatus::Active)
            .count() as i64;
        let followers = active_followers(app, u, users).await;
        let (follower_count, following_count) = counters(app, u).await;
        assert_eq!(following_count, following, "following_count of {u}");
        assert_eq!(follower_count, followers, "follower_count of {u}");
    }
}

/// True when the follow edge exists (any status).
pub async fn edge_exists(app: &App, a: UserId, b: UserId) -> bool {
    app.table
        .get(&keys::follow_edge(a, b), true)
        .await
        .unwrap()
        .is_some()
}

pub async fn block_exists(app: &App, a: UserId, b: UserId) -> bool {
    app.table
        .get(&keys::block_edge(a, b), true)
        .await
        .unwrap()
        .is_some()
}

/// `POST /api/follows/` as `who`.
pub async fn follow(app: &TestApp, who: &Person, target: UserId) -> ApiResponse {
    app.post("/api/follows/")
        .bearer(&who.token)
        .json(json!({ "following": target }))
        .send()
        .await
}

pub async fn unfollow(
    app: &TestApp,
    who: &Person,
    follower: UserId,
    followed: UserId,
) -> ApiResponse {
    app.delete(&format!("/api/follows/{follower}-{followed}/"))
        .bearer(&who.token)
        .send()
        .await
}

pub async fn block(app: &TestApp, who: &Person, target: UserId) -> ApiResponse {
    app.post("/api/blocks/")
        .bearer(&who.token)
        .json(json!({ "blocked": target }))
        .send()
        .await
}

pub async fn get_json(app: &TestApp, who: &Person, path: &str) -> (u16, Json) {
    let response = app.get(path).bearer(&who.token).send().await;
    (response.status.as_u16(), response.body_json())
}

/// The detail of an error response.
pub fn detail(response: &ApiResponse) -> String {
    response.body_json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A TestApp whose table counts its calls, with extra configuration variables.
pub async fn counting_app(t: TestTable, vars: &[(&str, &str)]) -> (TestApp, Arc<CountingTable>) {
    let table = Arc::new(CountingTable::new(t.table()));
    let app = app_with(t, table.clone(), vars).await;
    (app, table)
}

/// A TestApp with extra configuration variables (e.g. `FOLLOWING_LIMIT`).
pub async fn configured_app(t: TestTable, vars: &[(&str, &str)]) -> TestApp {
    let table = t.table();
    app_with(t, table, vars).await
}

struct Vars(Vec<(String, String)>);

impl accounts::config::Env for Vars {
    fn var(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

async fn app_with(t: TestTable, table: Arc<dyn Table>, vars: &[(&str, &str)]) -> TestApp {
    let data_dir = t.dir().to_str().expect("temp dir is UTF-8").to_owned();
    let mut env = vec![("DATA_DIR".to_owned(), data_dir)];
    env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let config = Config::from(&Vars(env), Deployment::Local).expect("a valid configuration");
    let app = App::assemble(config, t.dyn_clock(), table, None)
        .await
        .expect("build the App");
    TestApp {
        app: Arc::new(app),
        router: Router::all(),
        t,
    }
}

/// The user's logged events of one type, oldest first.
pub async fn events_of(
    app: &App,
    user: UserId,
    event_type: accounts::activity::events::EventType,
) -> Vec<accounts::activity::events::EventRecord> {
    let query = Query::new(Index::Primary, keys::user_partition(user))
        .sort(SortCondition::BeginsWith(keys::EVENT_PREFIX.into()))
        .consistent();
    all(&*app.table, query)
        .await
        .iter()
        .map(|i| accounts::activity::events::EventRecord::from_item(i).unwrap())
        .filter(|e| e.event_type == event_type)
        .collect()
}

/// The TestApp for the concurrency tests: on DynamoDB (moto) with serializable transactions,
/// on the embedded engine as it is (SQLite transactions are serializable).
pub async fn concurrency_app(t: TestTable) -> TestApp {
    let table = api_tests::moto::isolated(&t, api_tests::moto::Isolation::Transactions);
    app_with(t, table, &[]).await
}

/// [`concurrency_app`] with extra configuration variables.
pub async fn concurrency_app_with(t: TestTable, vars: &[(&str, &str)]) -> TestApp {
    let table = api_tests::moto::isolated(&t, api_tests::moto::Isolation::Transactions);
    app_with(t, table, vars).await
}
