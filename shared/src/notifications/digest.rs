//! `send_notification_digests` (daily 06:00 UTC): the badge emails of users whose
//! `notification_frequency` is `daily` (or `weekly`, due the Monday after the award), one mail
//! per user with every badge due, read off the sparse digest index (`keys::digest_index`, 16
//! shards by user) up to the run's time: no scan. A sent notification leaves the index. The
//! settings are read again at sending: a user who turned email off (or whose address bounced)
//! gets nothing, and the entries go.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{BadgeRef, NotificationRecord, award_email, mailable};
use crate::accounts::{SettingsRecord, UserRecord};
use crate::error::Error;
use crate::model::UserId;
use crate::store::{
    Condition, Index, Item, Key, Query, SortCondition, StoreError, Update, from_item, keys,
};
use crate::tasks::runner::{Run, Source, Task};

pub const NAME: &str = "send_notification_digests";

pub struct SendDigests;

#[async_trait]
impl Task for SendDigests {
    type State = ();

    fn name(&self) -> &'static str {
        NAME
    }

    async fn sources(&self, run: &Run<'_>) -> Result<Vec<Source>, Error> {
        let due = format!("{:015}#~", run.as_of.timestamp_millis());
        Ok(keys::digest_partitions()
            .into_iter()
            .map(|pk| {
                Source::Query(Query::new(Index::Gsi1, pk).sort(SortCondition::Le(due.clone())))
            })
            .collect())
    }

    async fn page(&self, run: &Run<'_>, _phase: usize, items: Vec<Item>) -> Result<(), Error> {
        let mut per_user: BTreeMap<UserId, Vec<NotificationRecord>> = BTreeMap::new();
        for item in &items {
            let record = NotificationRecord::from_item(item)?;
            per_user.entry(record.user_id).or_default().push(record);
        }
        for (user, records) in per_user {
            let found = run
                .app
                .table
                .batch_get(&[keys::user(user), keys::settings(user)])
                .await?;
            let profile = found[0]
                .as_ref()
                .map(from_item::<UserRecord>)
                .transpose()?
                .filter(|u| !u.deleting);
            let settings = found[1]
                .as_ref()
                .map(from_item::<SettingsRecord>)
                .transpose()?;
            let badges: Vec<BadgeRef> = records.iter().filter_map(|r| r.badge.clone()).collect();
            if let (Some(profile), Some(settings)) = (profile, settings)
                && mailable(&profile, &settings)
                && settings.notification_frequency != "never"
                && !badges.is_empty()
            {
                let email = award_email(run.app, &profile, &badges);
                run.app.mailer.send(&email).await.map_err(|e| {
                    Error::Internal(format!("digest mail to user {user} not sent: {e}"))
                })?;
                run.counts.note("digests_sent", 1);
            }
            for record in &records {
                let key: Key = keys::notification(record.user_id, &record.id);
                let update = Update::new()
                    .remove(keys::attr::GSI1PK)
                    .remove(keys::attr::GSI1SK);
                match run
                    .app
                    .table
                    .update(&key, update, Some(Condition::item_present()))
                    .await
                {
                    Ok(_) | Err(StoreError::ConditionFailed) => run.counts.written(1),
                    Err(e) => return Err(e.into()),
                }
            }
            run.counts
                .note("notifications_digested", records.len() as u64);
        }
        Ok(())
    }
}
