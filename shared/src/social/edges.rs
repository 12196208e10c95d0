//! The stored edges of the social graph and their ids.
//!
//! A follow edge lives in the follower's partition (`keys::follow_edge`); while active it is on
//! GSI1 under the followed user (their followers), while pending on GSI2 under the followed
//! user (the requests they have to answer). Both indexes are sparse, so each list is one query
//! without a filter. A block edge lives in the blocker's partition, on GSI1 under the blocked.
//!
//! Clients name an edge by `<a>-<b>` (follower-followed, blocker-blocked): the id is the key,
//! so `GET /api/follows/{id}/` is one read and needs no lookup item.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::UserId;
use crate::store::{Item, ItemShapeError, from_item, keys, to_item};

/// Active follows count in both users' counters; pending ones (requests to a private account)
/// do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FollowStatus {
    Active,
    Pending,
}

impl FollowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FollowStatus::Active => "active",
            FollowStatus::Pending => "pending",
        }
    }
}

/// "`follower` follows `following`".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FollowEdge {
    pub follower: UserId,
    pub following: UserId,
    pub status: FollowStatus,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub approved_at: Option<DateTime<Utc>>,
}

impl FollowEdge {
    pub fn id(&self) -> String {
        edge_id(self.follower, self.following)
    }

    pub fn is_active(&self) -> bool {
        self.status == FollowStatus::Active
    }

    /// The whole item: key, and the index entry its status calls for.
    pub fn to_item(&self) -> Result<Item, ItemShapeError> {
        let mut item = to_item(self)?;
        let key = keys::follow_edge(self.follower, self.following);
        keys::set_key(&mut item, key);
        let (index, (pk, sk)) = match self.status {
            FollowStatus::Active => (
                keys::Index::Gsi1,
                keys::follower_index(self.following, self.follower),
            ),
            FollowStatus::Pending => (
                keys::Index::Gsi2,
                keys::follow_request_index(self.following, self.follower),
            ),
        };
        keys::set_index_keys(&mut item, index, pk, sk);
        Ok(item)
    }

    pub fn from_item(item: &Item) -> Result<FollowEdge, ItemShapeError> {
        from_item(item)
    }
}

/// "`blocker` blocks `blocked`".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockEdge {
    pub blocker: UserId,
    pub blocked: UserId,
    #[serde(default)]
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

impl BlockEdge {
    pub fn id(&self) -> String {
        edge_id(self.blocker, self.blocked)
    }

    pub fn to_item(&self) -> Result<Item, ItemShapeError> {
        let mut item = to_item(self)?;
        let key = keys::block_edge(self.blocker, self.blocked);
        keys::set_key(&mut item, key);
        let (pk, sk) = keys::blocker_index(self.blocked, self.blocker);
        keys::set_index_keys(&mut item, keys::Index::Gsi1, pk, sk);
        Ok(item)
    }

    pub fn from_item(item: &Item) -> Result<BlockEdge, ItemShapeError> {
        from_item(item)
    }
}

/// The public id of an edge from `a` to `b`.
pub fn edge_id(a: UserId, b: UserId) -> String {
    format!("{a}-{b}")
}

/// The two ends of an edge id; `None` for anything [`edge_id`] does not make.
pub fn parse_edge_id(id: &str) -> Option<(UserId, UserId)> {
    let (a, b) = id.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_ids_round_trip_and_reject_junk() {
        assert_eq!(edge_id(UserId(12), UserId(3)), "12-3");
        assert_eq!(parse_edge_id("12-3"), Some((UserId(12), UserId(3))));
        for junk in [
            "", "12", "12-", "-3", "a-b", "1-2-3", "0-3", "1--3", "+1-3", "1- 3",
        ] {
            assert_eq!(parse_edge_id(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn index_entry_follows_the_status() {
        let mut edge = FollowEdge {
            follower: UserId(1),
            following: UserId(2),
            status: FollowStatus::Pending,
            created_at: Utc::now(),
            approved_at: None,
        };
        let item = edge.to_item().unwrap();
        assert_eq!(item["GSI2PK"].as_str(), Some("USER#2"));
        assert_eq!(item["GSI2SK"].as_str(), Some("REQUEST#1"));
        assert!(!item.contains_key("GSI1PK"));
        edge.status = FollowStatus::Active;
        let item = edge.to_item().unwrap();
        assert_eq!(item["GSI1SK"].as_str(), Some("FOLLOWER#1"));
        assert!(!item.contains_key("GSI2PK"));
        assert_eq!(FollowEdge::from_item(&item).unwrap(), edge);
    }
}
