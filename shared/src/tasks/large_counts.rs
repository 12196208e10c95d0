//! `fold_follower_counts` (every minute): folds each large account's follower-count shards
//! into its profile (`social::large::fold`), then checks the follower-count badges of the
//! account, which its follows do not evaluate one by one (`docs/scale.md`, "Large accounts").
//! A walk of the large-account registry: one partition, one item per large account.

use async_trait::async_trait;

use super::runner::{Run, Source, Task, for_each};
use crate::badges::definitions;
use crate::badges::evaluate::{self, Changes};
use crate::badges::stats::CounterField;
use crate::error::Error;
use crate::social::large;
use crate::store::Item;

pub const NAME: &str = "fold_follower_counts";

pub struct FoldFollowerCounts;

#[async_trait]
impl Task for FoldFollowerCounts {
    type State = ();

    fn name(&self) -> &'static str {
        NAME
    }

    async fn sources(&self, _run: &Run<'_>) -> Result<Vec<Source>, Error> {
        Ok(vec![Source::Query(large::registry_query())])
    }

    async fn page(&self, run: &Run<'_>, _phase: usize, items: Vec<Item>) -> Result<(), Error> {
        let active = definitions::list_active_cached(run.app).await?;
        let follower_badges: Vec<_> = active
            .iter()
            .filter(|b| Changes::of_field(CounterField::FollowerCount).touches(&b.criteria))
            .cloned()
            .collect();
        let users: Vec<_> = items.iter().filter_map(large::registry_user).collect();
        let folded = for_each(users, |user| {
            let follower_badges = &follower_badges;
            async move {
                if large::fold(run.app, user).await?.is_none() {
                    return Ok((0, 0));
                }
                let awarded =
                    evaluate::evaluate_user_against(run.app, user, follower_badges).await?;
                Ok((1u64, awarded.len() as u64))
            }
        })
        .await?;
        let (accounts, awards) = folded.iter().fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
        run.counts.written(accounts + awards);
        run.counts.note("accounts_folded", accounts);
        if awards > 0 {
            run.counts.note("badges_awarded", awards);
        }
        Ok(())
    }
}
