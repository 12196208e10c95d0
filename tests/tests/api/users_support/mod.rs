//! What the users tests share besides `api_tests::fixtures` (accounts, logins, requests as a
//! person): a whole-table snapshot and an App whose store calls are counted.

// Each test file uses a part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;

use accounts::store::{Item, Key, Scan};
use api_tests::app::TestApp;

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
