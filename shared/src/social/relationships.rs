//! The caller's relationship with each of a list of users, in one batch read.

use serde::Serialize;

use super::edges::{FollowEdge, FollowStatus};
use crate::App;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{Item, Key, keys};

/// Most ids one request may ask about (four keys each: one batch read of at most 400 keys,
/// which the store splits into chunks of 100 fetched together).
pub const MAX_IDS: usize = 100;

/// Mastodon's relationship shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Relationship {
    pub id: UserId,
    /// I follow them (active).
    pub following: bool,
    /// They follow me (active).
    pub followed_by: bool,
    /// I asked to follow them and they have not answered.
    pub requested: bool,
    /// They asked to follow me.
    pub requested_by: bool,
    pub blocking: bool,
    pub blocked_by: bool,
}

/// The relationships of `me` with each id, in the order asked (duplicates answered once).
/// Unknown ids read as no relationship at all.
pub async fn relationships(
    app: &App,
    me: UserId,
    ids: &[UserId],
) -> Result<Vec<Relationship>, Error> {
    let mut unique = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique.contains(id) {
            unique.push(*id);
        }
    }
    if unique.len() > MAX_IDS {
        return Err(Error::field(
            "id",
            format!("Ask about at most {MAX_IDS} users at once."),
        ));
    }
    let keys: Vec<Key> = unique
        .iter()
        .flat_map(|&them| {
            [
                keys::follow_edge(me, them),
                keys::follow_edge(them, me),
                keys::block_edge(me, them),
                keys::block_edge(them, me),
            ]
        })
        .collect();
    let found = if keys.is_empty() {
        Vec::new()
    } else {
        app.table.batch_get(&keys).await?
    };
    let status = |item: &Option<Item>| -> Result<Option<FollowStatus>, Error> {
        Ok(match item {
            Some(item) => Some(FollowEdge::from_item(item)?.status),
            None => None,
        })
    };
    unique
        .iter()
        .zip(found.chunks(4))
        .map(|(&id, four)| {
            if id == me {
                return Ok(Relationship {
                    id,
                    following: false,
                    followed_by: false,
                    requested: false,
                    requested_by: false,
                    blocking: false,
                    blocked_by: false,
                });
            }
            let mine = status(&four[0])?;
            let theirs = status(&four[1])?;
            Ok(Relationship {
                id,
                following: mine == Some(FollowStatus::Active),
                followed_by: theirs == Some(FollowStatus::Active),
                requested: mine == Some(FollowStatus::Pending),
                requested_by: theirs == Some(FollowStatus::Pending),
                blocking: four[2].is_some(),
                blocked_by: four[3].is_some(),
            })
        })
        .collect()
}
