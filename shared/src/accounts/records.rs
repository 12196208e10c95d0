//! The stored shapes of a user's items. Fields are the seed's "Models (Detailed)". Records are
//! what the store holds; what clients see is shaped by each capability's views.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Role, UserId};
use crate::store::{Item, ItemShapeError, Value, keys, to_item};

fn default_true() -> bool {
    true
}

/// The profile item: identity, status, privacy, analytics and recommendation fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: UserId,
    pub username: String,
    pub email: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub role: Role,
    /// The email address is verified (the seed's `UserProfile.is_verified`).
    #[serde(default)]
    pub is_verified: bool,
    #[serde(default)]
    pub is_suspended: bool,
    #[serde(default)]
    pub suspension_reason: String,
    /// The account is being erased (`accounts::users::erase_user`): it cannot log in, is listed
    /// nowhere, and only an administrator's `DELETE` (which finishes the erasure) touches it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleting: bool,
    /// The address hard-bounced (`"bounce"`) or its owner complained (`"complaint"`): the
    /// service mails it no more (`accounts/mail_feedback.rs`). Owner and staff see it.
    #[serde(default)]
    pub email_suppressed: Option<String>,

    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub date_of_birth: Option<String>,
    #[serde(default)]
    pub bio: String,
    #[serde(default)]
    pub profile_picture: Option<String>,
    #[serde(default)]
    pub cover_media: Option<String>,
    #[serde(default)]
    pub cover_media_type: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub city: Option<String>,

    #[serde(default)]
    pub is_private: bool,
    #[serde(default)]
    pub show_email: bool,
    #[serde(default)]
    pub show_phone: bool,
    #[serde(default = "default_true")]
    pub show_location: bool,

    #[serde(default)]
    pub follower_count: i64,
    /// A large account's follows count into shard items instead of `follower_count`, which a
    /// task folds them into every minute (`social::large`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub large_account: bool,
    /// A large account's follows counted in its shards, as last folded.
    #[serde(default)]
    pub large_followers: i64,
    #[serde(default)]
    pub following_count: i64,
    #[serde(default)]
    pub posts_count: i64,
    #[serde(default)]
    pub badge_points: i64,
    #[serde(default)]
    pub engagement_score: f64,
    #[serde(default)]
    pub content_quality_score: f64,
    #[serde(default)]
    pub interaction_frequency: f64,

    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub last_active: Option<DateTime<Utc>>,
    /// `last_active` as epoch seconds: the throttled activity write conditions on it.
    #[serde(default)]
    pub last_active_epoch: i64,
    /// Epoch seconds at which the local day of the last recorded visit ends: authentication
    /// records one visit per day in the user's time zone (`activity::tallies::record_visit`).
    #[serde(default)]
    pub visit_until: i64,
}

impl UserRecord {
    /// The follower count to show: the profile's exact count, plus a large account's follows
    /// counted in shards as last folded (`social::large`, at most about a minute behind).
    pub fn followers(&self) -> i64 {
        self.follower_count + self.large_followers
    }

    /// A new, unverified user with default profile values.
    pub fn new(id: UserId, username: String, email: String, now: DateTime<Utc>) -> Self {
        UserRecord {
            id,
            username,
            email,
            first_name: String::new(),
            last_name: String::new(),
            role: Role::Normal,
            is_verified: false,
            is_suspended: false,
            suspension_reason: String::new(),
            deleting: false,
            email_suppressed: None,
            phone_number: None,
            date_of_birth: None,
            bio: String::new(),
            profile_picture: None,
            cover_media: None,
            cover_media_type: None,
            country: None,
            city: None,
            is_private: false,
            show_email: false,
            show_phone: false,
            show_location: true,
            follower_count: 0,
            large_account: false,
            large_followers: 0,
            following_count: 0,
            posts_count: 0,
            badge_points: 0,
            engagement_score: 0.0,
            content_quality_score: 0.0,
            interaction_frequency: 0.0,
            created_at: now,
            updated_at: now,
            last_active: None,
            last_active_epoch: 0,
            visit_until: 0,
        }
    }

    /// The seed's computed `full_name`.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_owned()
    }

    /// The seed's computed `display_name`: the full name, else the username.
    pub fn display_name(&self) -> String {
        let full = self.full_name();
        if full.is_empty() {
            self.username.clone()
        } else {
            full
        }
    }

    /// The seed's computed `location`: "city, country" from what is set.
    pub fn location(&self) -> Option<String> {
        let parts: Vec<&str> = [self.city.as_deref(), self.country.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() {
            None
        } else {
            Some(parts.join(", "))
        }
    }

    /// The whole item: the record and its key. The name index entries are on the narrow
    /// [`UserRecord::name_item`], not here: every profile write would rewrite them.
    pub fn to_item(&self) -> Result<Item, ItemShapeError> {
        let mut item = to_item(self)?;
        let key = keys::user(self.id);
        keys::set_key(&mut item, key);
        Ok(item)
    }

    /// The unique item of this user's username (`keys::unique_username`, holding the owner's
    /// id) with the user's entries in the username (GSI1) and display-name (GSI2) indexes:
    /// written on registration and rename, its GSI2 keys again when the display name changes.
    pub fn name_item(&self, created_at: &str) -> Item {
        let mut item = keys::unique_username(&self.username.to_ascii_lowercase()).to_item();
        item.insert("user_id".into(), Value::Int(self.id.0));
        item.insert("created_at".into(), created_at.into());
        let (pk, sk) = keys::username_index(&self.username.to_ascii_lowercase(), self.id);
        keys::set_index_keys(&mut item, keys::Index::Gsi1, pk, sk);
        let (pk, sk) = self.displayname_index();
        keys::set_index_keys(&mut item, keys::Index::Gsi2, pk, sk);
        item
    }

    /// This user's display-name index keys (GSI2 of the name item).
    pub fn displayname_index(&self) -> (String, String) {
        keys::displayname_index(&self.display_name(), self.id)
    }
}

/// The credentials item: the Argon2id PHC string. Never serialised to a client or a log.
#[derive(Clone, Serialize, Deserialize)]
pub struct CredentialsRecord {
    pub user_id: UserId,
    pub password_hash: String,
    pub password_changed_at: DateTime<Utc>,
}

impl std::fmt::Debug for CredentialsRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsRecord")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl CredentialsRecord {
    pub fn to_item(&self) -> Result<Item, ItemShapeError> {
        let mut item = to_item(self)?;
        let key = keys::credentials(self.user_id);
        keys::set_key(&mut item, key);
        Ok(item)
    }
}

/// The settings item (the seed's `UserSettings`), created with defaults at registration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingsRecord {
    pub user_id: UserId,
    #[serde(default = "default_true")]
    pub email_notifications: bool,
    #[serde(default = "default_true")]
    pub push_notifications: bool,
    #[serde(default = "default_true")]
    pub warranty_expiry_notifications: bool,
    #[serde(default = "default_true")]
    pub maintenance_reminder_notifications: bool,
    /// immediate, daily, weekly, never
    pub notification_frequency: String,
    /// public, followers, private
    pub profile_visibility: String,
    pub language: String,
    /// light, dark, system
    pub theme: String,
    /// An IANA time zone name.
    pub timezone: String,
    #[serde(default)]
    pub mature_content: bool,
    #[serde(default = "default_true")]
    pub auto_play_videos: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SettingsRecord {
    pub fn defaults(user_id: UserId, now: DateTime<Utc>) -> Self {
        SettingsRecord {
            user_id,
            email_notifications: true,
            push_notifications: true,
            warranty_expiry_notifications: true,
            maintenance_reminder_notifications: true,
            notification_frequency: "immediate".into(),
            profile_visibility: "public".into(),
            language: "en".into(),
            theme: "system".into(),
            timezone: "UTC".into(),
            mature_content: false,
            auto_play_videos: true,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn to_item(&self) -> Result<Item, ItemShapeError> {
        let mut item = to_item(self)?;
        let key = keys::settings(self.user_id);
        keys::set_key(&mut item, key);
        Ok(item)
    }
}
