//! Store calls per request of the users endpoints (the numbers in `docs/benchmarks.md`).
//! Every request here is authenticated with a JWT: one session read and one profile read, and
//! no activity write (the clock stands still, so the once-a-minute writes are not due).

use crate::users_support;

use accounts::model::Role;
use accounts::store::counting::OpCounts;
use api_tests::fixtures::{account, call, member};
use api_tests::{TestTable, both_engines};
use http::Method;
use serde_json::json;
use users_support::counting_app;

fn summary(c: &OpCounts) -> String {
    c.iter()
        .filter(|(_, n)| *n > 0)
        .map(|(op, n)| format!("{}={n}", op.name()))
        .collect::<Vec<_>>()
        .join(" ")
}

both_engines!(
    async fn store_calls_per_request(t: TestTable) {
        let (app, table) = counting_app(t).await;
        let admin = member(&app, "admin", Role::Admin).await;
        let alice = member(&app, "alice", Role::Normal).await;
        for i in 0..30 {
            account(&app.app, &format!("user{i:02}"), Role::Normal, true).await;
        }
        // Warm up: the first request of each caller writes `last_active` once.
        for who in [&admin, &alice] {
            call(&app, who, Method::GET, "/api/users/?page_size=1", None).await;
        }

        let measure = async |who, method, path: &str, body| {
            table.reset();
            let (status, response) = call(&app, who, method, path, body).await;
            assert!(status < 300, "{path}: {status} {response}");
            let calls = table.take().calls;
            println!("{path}: {}", summary(&calls));
            calls
        };

        // A list page of 25 for an administrator: auth (2 gets), the name index (its 16
        // shards at once, `accounts::names`) and the page's profiles in one batch read.
        let admin_page = measure(&admin, Method::GET, "/api/users/?page_size=25", None).await;
        assert_eq!(
            (
                admin_page.get,
                admin_page.query,
                admin_page.batch_get,
                admin_page.total()
            ),
            (2, 16, 1, 19)
        );
        // For anyone else: one batch read of the page's block edges on top, beside the
        // profiles'.
        let user_page = measure(&alice, Method::GET, "/api/users/?page_size=25", None).await;
        assert_eq!(
            (
                user_page.get,
                user_page.query,
                user_page.batch_get,
                user_page.total()
            ),
            (2, 16, 2, 20)
        );
        // A search page costs the same.
        let search = measure(&alice, Method::GET, "/api/users/?search=user1", None).await;
        assert_eq!(search.total(), 20);

        let own = format!("/api/users/{}/", alice.id);
        // Reading one's account: auth and one consistent profile read.
        let read = measure(&alice, Method::GET, &own, None).await;
        assert_eq!((read.get, read.total()), (3, 3));
        // A name change: auth, the profile before and after (consistent), one transaction,
        // the event.
        let names = measure(
            &alice,
            Method::PATCH,
            &own,
            Some(json!({"first_name": "Al"})),
        )
        .await;
        assert_eq!(
            (
                names.get,
                names.transact_write,
                names.writes(),
                names.total()
            ),
            (4, 1, 2, 6)
        );
        // A username change: still one transaction (profile + both unique items).
        let rename = measure(
            &alice,
            Method::PATCH,
            &own,
            Some(json!({"username": "alicia"})),
        )
        .await;
        assert_eq!((rename.transact_write, rename.writes()), (1, 2));
        assert_eq!(names.total(), rename.total());
    }
);
