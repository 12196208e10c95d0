//! Helpers shared by the social tests, on top of `api_tests::fixtures` (users, profiles,
//! events): follows and blocks through the API, the counters and edges as stored, and the Apps
//! of the concurrency and cost tests.

#![allow(dead_code)]

use std::sync::Arc;

use accounts::App;
use accounts::config::{Config, Deployment};
use accounts::http::{ApiResponse, Router};
use accounts::model::UserId;
use accounts::social::{FollowEdge, FollowStatus};
use accounts::store::counting::CountingTable;
use accounts::store::{Index, Query, SortCondition, Table, keys};
use api_tests::TestTable;
use api_tests::app::TestApp;
use api_tests::fixtures::{Person, all_pages, call, profile};
use serde_json::{Value as Json, json};

/// (follower_count, following_count) of a user.
pub async fn counters(app: &App, id: UserId) -> (i64, i64) {
    let p = profile(app, id).await;
    (p.follower_count, p.following_count)
}

/// Every follow edge out of a user (active and pending), from the main key.
pub async fn outgoing(app: &App, id: UserId) -> Vec<FollowEdge> {
    let query = Query::new(Index::Primary, keys::user_partition(id))
        .sort(SortCondition::BeginsWith(keys::FOLLOWS_PREFIX.into()))
        .consistent();
    all_pages(&*app.table, query)
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

/// `GET` as `who`: the status and the body.
pub async fn get_json(app: &TestApp, who: &Person, path: &str) -> (u16, Json) {
    call(app, who, http::Method::GET, path, None).await
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
