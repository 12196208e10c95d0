//! Listing and searching accounts, and reading one as a caller may see it.

use crate::App;
use crate::access::{self, Actor, Visibility};
use crate::accounts::{UserRecord, get_user_consistent, names};
use crate::error::{Error, FieldErrors};
use crate::model::{Role, UserId};
use crate::store::{Cursor, Key, from_item, keys};
use std::collections::BTreeMap;

/// Page size of lists unless the client asks otherwise, and the most it may ask for.
pub const DEFAULT_PAGE_SIZE: u32 = 25;
pub const MAX_PAGE_SIZE: u32 = 100;

/// What a list asks for.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub role: Option<Role>,
    pub is_verified: Option<bool>,
    /// A username prefix, matched without regard to case.
    pub search: Option<String>,
}

/// One page of users, each with how much of it the viewer sees
/// ([`access::profile_visibility`]).
#[derive(Clone, Debug)]
pub struct UserPage {
    pub users: Vec<(UserRecord, Visibility)>,
    pub next: Option<Cursor>,
}

/// A page of the users list, in username order. Administrators see every account (but those
/// being erased); others see verified, unsuspended accounts only, never one that blocks them or
/// that they block, and may not filter on `role` or `is_verified`.
pub async fn list_users(
    app: &App,
    viewer: Actor,
    filter: &ListFilter,
    page_size: u32,
    cursor: Option<Cursor>,
) -> Result<UserPage, Error> {
    let admin = viewer.is_admin();
    if !admin {
        let mut errors = FieldErrors::new();
        if filter.role.is_some() {
            errors.add("role", "Only administrators can filter on this field.");
        }
        if filter.is_verified.is_some() {
            errors.add(
                "is_verified",
                "Only administrators can filter on this field.",
            );
        }
        errors.into_result()?;
    }
    // The name index (16 shards merged), then the page's profiles in one batch; the filters
    // apply to the profiles, so a page may come back short (as a query filter's would).
    let prefix = filter
        .search
        .as_deref()
        .map(|p| p.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let after = cursor.as_ref().map(names::decode_cursor).transpose()?;
    let page = names::page(
        app,
        names::NameIndex::Username,
        &prefix,
        after.as_deref(),
        page_size.clamp(1, MAX_PAGE_SIZE),
    )
    .await?;
    // The profiles, and for others than staff the edges between viewer and each user (blocks
    // both ways, the follow), side by side.
    let ids: Vec<UserId> = page.entries.iter().map(|e| e.user).collect();
    let profile_keys: Vec<Key> = ids.iter().map(|id| keys::user(*id)).collect();
    let profiles = async {
        if profile_keys.is_empty() {
            return Ok(Vec::new());
        }
        app.table.batch_get(&profile_keys).await
    };
    let relations = async {
        match viewer.user_id() {
            Some(me) if !viewer.is_staff() => {
                crate::social::relationships::relations_among(app, me, &ids).await
            }
            _ => Ok(BTreeMap::new()),
        }
    };
    let (found, relations) = tokio::join!(profiles, relations);
    let relations = relations?;
    let mut users = Vec::with_capacity(ids.len());
    for item in found?.into_iter().flatten() {
        let user: UserRecord = from_item(&item)?;
        let relationship = relations.get(&user.id).copied().unwrap_or_default();
        let visibility = access::profile_visibility(viewer, Some(&user), relationship);
        let shown = visibility != Visibility::NotFound
            && filter.role.is_none_or(|role| user.role == role)
            && filter.is_verified.is_none_or(|v| user.is_verified == v)
            && (admin || (user.is_verified && !user.is_suspended));
        if shown {
            users.push((user, visibility));
        }
    }
    Ok(UserPage {
        users,
        next: page.next.as_deref().map(names::encode_cursor),
    })
}

/// The account `target` as `actor` may see it: themselves, or anyone for an administrator.
/// Anyone else, an unknown id and an account being erased are all `NotFound`.
pub async fn get_user_for(app: &App, actor: Actor, target: UserId) -> Result<UserRecord, Error> {
    access::require_own_or_admin(actor, target)?;
    match get_user_consistent(app, target).await? {
        Some(user) if !user.deleting => Ok(user),
        _ => Err(Error::NotFound),
    }
}
