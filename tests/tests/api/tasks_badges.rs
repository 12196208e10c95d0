//! `evaluate_user_badges`, the daily sweep: every user meeting an active badge's criteria gets
//! it, once, however often the sweep runs or wherever a budget stops it.

use crate::tasks_support;

use accounts::activity::ingest::ingest_bus_event;
use accounts::badges::awards::held_badges;
use accounts::badges::criteria::parse_criteria;
use accounts::badges::definitions::{self, Category, NewBadge, Rarity};
use accounts::model::UserId;
use accounts::tasks::{self, Budget, RunStatus, badges_sweep};
use api_tests::app::TestApp;
use api_tests::fixtures::stored_user;
use api_tests::{TestTable, both_engines};
use serde_json::json;
use tasks_support::run;

async fn held(app: &TestApp, user: i64) -> usize {
    held_badges(&app.app, UserId(user)).await.unwrap().len()
}

both_engines!(
    async fn the_sweep_awards_each_badge_once(t: TestTable) {
        let app = TestApp::new(t).await;
        // No badges yet: the sweep reads the definitions and stops there.
        stored_user(&app.app, 1, "u1", true).await;
        let empty = run(&app.app, badges_sweep::NAME).await;
        assert_eq!(empty.items_written, 0);

        definitions::create(
            &app.app,
            accounts::access::Admin::SYSTEM,
            NewBadge {
                name: "First Post".into(),
                description: "Wrote a post".into(),
                category: Category::Achievement,
                icon: "fas fa-star".into(),
                color: "#123456".into(),
                image: None,
                criteria: parse_criteria(
                    &json!({"type": "counter", "field": "posts_count", "threshold": 1}),
                )
                .unwrap(),
                points: 10,
                rarity: Rarity::Common,
                is_active: true,
                series: None,
                tier: None,
            },
        )
        .await
        .unwrap();
        for id in 2..=12 {
            stored_user(&app.app, id, &format!("u{id}"), true).await;
        }
        // Posts counted by the ingestion, with no evaluator on the bus: only the sweep awards.
        for id in (2..=12).step_by(2) {
            let detail = json!({"event_type": "post_create", "user": id});
            ingest_bus_event(&app.app, Some(&format!("post-{id}")), detail)
                .await
                .unwrap();
        }
        assert_eq!(held(&app, 2).await, 0);

        let small = Budget::pages(1).with_page_size(3);
        let first = tasks::run(&app.app, badges_sweep::NAME, &small)
            .await
            .unwrap();
        assert_eq!(first.status, RunStatus::Checkpointed, "{first:?}");
        let mut awarded = first.details.get("badges_awarded").copied().unwrap_or(0);
        let rest = run(&app.app, badges_sweep::NAME).await;
        awarded += rest.details.get("badges_awarded").copied().unwrap_or(0);
        assert_eq!(awarded, 6);
        for id in 1..=12 {
            let expected = usize::from(id % 2 == 0 && id >= 2);
            assert_eq!(held(&app, id).await, expected, "user {id}");
        }
        let again = run(&app.app, badges_sweep::NAME).await;
        assert_eq!(again.details.get("badges_awarded"), None, "{again:?}");
    }
);
