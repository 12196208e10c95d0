//! `evaluate_user_badges` (daily 01:30): the seed's daily sweep. Every profile is evaluated
//! against every active badge it does not hold yet (`badges::evaluate`), the active
//! definitions read once per run. Awards are put-if-absent, so a repeated page or a second run
//! awards nothing twice; events arriving meanwhile are evaluated as they come (the
//! `badge-events` subscriber), this sweep catches what they missed.

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::counters::profiles;
use super::item_user;
use super::runner::{Run, Source, Task, for_each};
use crate::badges::definitions::{self, BadgeDefinition};
use crate::badges::evaluate;
use crate::error::Error;
use crate::store::Item;

pub const NAME: &str = "evaluate_user_badges";

/// The task; holds the active badges for the run once read.
#[derive(Default)]
pub struct EvaluateUserBadges {
    active: OnceCell<Vec<BadgeDefinition>>,
}

#[async_trait]
impl Task for EvaluateUserBadges {
    type State = ();

    fn name(&self) -> &'static str {
        NAME
    }

    async fn sources(&self, _run: &Run<'_>) -> Result<Vec<Source>, Error> {
        Ok(vec![Source::Scan {
            filter: Some(profiles()),
        }])
    }

    async fn page(&self, run: &Run<'_>, _phase: usize, items: Vec<Item>) -> Result<(), Error> {
        let active = self
            .active
            .get_or_try_init(|| definitions::list_active(run.app))
            .await?;
        if active.is_empty() {
            return Ok(());
        }
        let users: Vec<_> = items.iter().filter_map(item_user).collect();
        let awarded = for_each(users, |user| async move {
            evaluate::evaluate_user_against(run.app, user, active).await
        })
        .await?;
        let n: u64 = awarded.iter().map(|a| a.len() as u64).sum();
        if n > 0 {
            run.counts.written(n);
            run.counts.note("badges_awarded", n);
        }
        Ok(())
    }
}
