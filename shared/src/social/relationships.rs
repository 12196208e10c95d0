//! The caller's relationship with each of a list of users, in one batch read.

use serde::Serialize;

use super::edges::{FollowEdge, FollowStatus};
use crate::App;
use crate::error::Error;
use crate::model::UserId;
use std::collections::BTreeMap;

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

/// The relationship between `viewer` and each of `users` (blocks either way, an active follow)
/// in one batch read of three edges each, rather than reads per user.
pub async fn relations_among(
    app: &App,
    viewer: UserId,
    users: &[UserId],
) -> Result<BTreeMap<UserId, crate::access::Relationship>, Error> {
    let others: Vec<UserId> = users.iter().copied().filter(|id| *id != viewer).collect();
    if others.is_empty() {
        return Ok(BTreeMap::new());
    }
    let edges: Vec<Key> = others
        .iter()
        .flat_map(|id| {
            [
                keys::block_edge(viewer, *id),
                keys::block_edge(*id, viewer),
                keys::follow_edge(viewer, *id),
            ]
        })
        .collect();
    let found = app.table.batch_get(&edges).await?;
    let mut relations = BTreeMap::new();
    for (id, edges) in others.iter().zip(found.chunks(3)) {
        let follows = match &edges[2] {
            Some(edge) => FollowEdge::from_item(edge)?.is_active(),
            None => false,
        };
        let relationship = crate::access::Relationship {
            blocked: edges[0].is_some() || edges[1].is_some(),
            follows,
        };
        relations.insert(*id, relationship);
    }
    Ok(relations)
}
