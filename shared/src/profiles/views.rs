//! What others may see of a user.
//!
//! Three views of a profile: the owner's (and staff's) [`full_view`], every field; the
//! [`public_card`], which anyone who may see the user at all sees, even of a private profile;
//! and [`public_view`], what a viewer who may see the profile gets: the card, the descriptive
//! fields, and email, phone and location only where the matching `show_*` flag is on.

use serde_json::{Value as Json, json};

use crate::accounts::UserRecord;

/// The public card every viewer may see, even of a private profile: id, username, display
/// name, picture, counts (what follow lists embed).
pub fn public_card(user: &UserRecord) -> serde_json::Value {
    json!({
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name(),
        "profile_picture": user.profile_picture,
        "is_private": user.is_private,
        "follower_count": user.followers(),
        "following_count": user.following_count,
        "posts_count": user.posts_count,
    })
}

/// Every field: what the owner, admins and moderators see.
pub fn full_view(user: &UserRecord) -> Json {
    let mut view = serde_json::to_value(user).unwrap_or_else(|_| json!({}));
    if let Some(fields) = view.as_object_mut() {
        // Bookkeeping for the throttled activity write, not part of the API.
        fields.remove("last_active_epoch");
        fields.remove("visit_until");
        // A large account's follows counted in shards are part of its follower count.
        fields.remove("large_account");
        fields.remove("large_followers");
        fields.insert("follower_count".into(), json!(user.followers()));
        fields.insert("full_name".into(), json!(user.full_name()));
        fields.insert("display_name".into(), json!(user.display_name()));
        fields.insert("location".into(), json!(user.location()));
    }
    view
}

/// What another user sees of a profile they may see in full (a public profile, or a private
/// one they follow): contact and location fields only where the owner chose to show them.
pub fn public_view(user: &UserRecord) -> Json {
    let mut view = public_card(user);
    let Some(fields) = view.as_object_mut() else {
        return view;
    };
    let mut put = |k: &str, v: Json| {
        fields.insert(k.into(), v);
    };
    put("first_name", json!(user.first_name));
    put("last_name", json!(user.last_name));
    put("full_name", json!(user.full_name()));
    put("bio", json!(user.bio));
    put("cover_media", json!(user.cover_media));
    put("cover_media_type", json!(user.cover_media_type));
    put("role", json!(user.role));
    put("is_verified", json!(user.is_verified));
    put("badge_points", json!(user.badge_points));
    put("created_at", json!(user.created_at));
    if user.show_email {
        put("email", json!(user.email));
    }
    if user.show_phone {
        put("phone_number", json!(user.phone_number));
    }
    if user.show_location {
        put("country", json!(user.country));
        put("city", json!(user.city));
        put("location", json!(user.location()));
    }
    view
}

/// The view a visibility answer shows (`access::profile_visibility`); `None` for `NotFound`.
pub fn view_as(visibility: crate::access::Visibility, user: &UserRecord) -> Option<Json> {
    use crate::access::Visibility;
    match visibility {
        Visibility::Full => Some(full_view(user)),
        Visibility::Public => Some(public_view(user)),
        Visibility::Card => Some(public_card(user)),
        Visibility::NotFound => None,
    }
}
