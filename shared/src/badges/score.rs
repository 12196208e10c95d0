//! The user's badge score item (`keys::badge_score`): points, badge count, featured count and
//! the held badges with their award time. Awards and revokes write it (`awards`); the
//! leaderboard, the engine's snapshot and the showcase read it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::App;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{Item, ItemShapeError, from_item, keys};

/// The user's badge score: the leaderboard entry and the featured count.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BadgeScore {
    pub user_id: i64,
    #[serde(default)]
    pub points: i64,
    #[serde(default)]
    pub badge_count: i64,
    #[serde(default)]
    pub featured_count: i64,
    /// Held badge id → award time (epoch ms): `recent_badges` without reading the badges.
    #[serde(default)]
    pub held: BTreeMap<String, i64>,
}

impl BadgeScore {
    pub fn from_item(item: &Item) -> Result<BadgeScore, ItemShapeError> {
        from_item(item)
    }

    /// Badges earned at or after `since_ms`.
    pub fn earned_since(&self, since_ms: i64) -> i64 {
        self.held.values().filter(|at| **at >= since_ms).count() as i64
    }
}

/// The user's score as stored (`None`: no badges).
pub async fn score(app: &App, user: UserId) -> Result<Option<BadgeScore>, Error> {
    let item = app.table.get(&keys::badge_score(user), true).await?;
    Ok(item.map(|i| BadgeScore::from_item(&i)).transpose()?)
}
