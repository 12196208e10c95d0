//! Personal data export: `GET /api/users/{id}/export/` (the owner; administrators), the
//! counterpart of the erasure (`users::erase_user`). Everything stored about the user in one
//! JSON document, assembled without a scan: three queries side by side (each paged to its
//! end), the user's partition (profile, settings, professional profile, follows made, blocks
//! made, events, badges and the badge score, activity counters and days, notifications) and the
//! user's entries on GSI1 (followers, sessions, API tokens) and GSI2 (follow requests
//! received). Second factors appear as the API shows them (TOTP factors and passkeys, and how many
//! recovery codes are left). Secrets never leave: the password hash, emailed codes, session
//! secrets, API token hashes and keys, TOTP secrets, recovery code hashes. Who blocks the user is theirs, not the user's, and stays out. Each export
//! is logged as a `data_export` event.

use serde_json::{Map, Value as Json, json};

use super::UserRecord;
use crate::App;
use crate::activity::events::{EventType, NewEvent, log_event_best_effort};
use crate::auth::Principal;
use crate::auth::client::ClientInfo;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{Index, Item, Query, from_item, keys};

/// Attributes that never leave in an export: keys and index keys (a token's hash is its key),
/// secrets and bookkeeping.
const NEVER: [&str; 12] = [
    "PK",
    "SK",
    "GSI1PK",
    "GSI1SK",
    "GSI2PK",
    "GSI2SK",
    "expires_at",
    "secret_hash",
    "csrf_hash",
    "password_hash",
    "key_hash",
    "version",
];

fn clean(item: &Item) -> Result<Json, Error> {
    let mut map: Map<String, Json> = from_item(item)?;
    for attr in NEVER {
        map.remove(attr);
    }
    Ok(Json::Object(map))
}

fn sk(item: &Item) -> &str {
    item.get(keys::attr::SK)
        .and_then(|v| v.as_str())
        .unwrap_or("")
}

fn index_sk<'a>(item: &'a Item, attr: &str) -> &'a str {
    item.get(attr).and_then(|v| v.as_str()).unwrap_or("")
}

/// Every page of a query.
async fn all(app: &App, query: Query) -> Result<Vec<Item>, Error> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = app.table.query(query.clone().after(cursor)).await?;
        items.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(items),
        }
    }
}

/// The export of `target` for `actor`: the owner, or an administrator (anyone else: 404, as
/// if there were no such account). Never with an API token (403): a token made for a script
/// does not carry off the whole account.
pub async fn export_user(
    app: &App,
    actor: &Principal,
    target: UserId,
    client: &ClientInfo,
) -> Result<Json, Error> {
    crate::access::require_own_or_admin(crate::access::Actor::of(&actor.user), target)?;
    crate::auth::reauth::refuse_api_token(actor)?;
    let partition = keys::user_partition(target);
    let (own, on_gsi1, on_gsi2) = futures::try_join!(
        all(app, Query::new(Index::Primary, partition.clone())),
        all(app, Query::new(Index::Gsi1, partition.clone())),
        all(app, Query::new(Index::Gsi2, partition)),
    )?;
    let Some(profile) = own.iter().find(|i| sk(i) == "PROFILE") else {
        return Err(Error::NotFound);
    };
    let user: UserRecord = from_item(profile)?;
    if user.deleting {
        return Err(Error::NotFound);
    }
    let mut export = Export::default();
    for item in &own {
        export.add_own(item)?;
    }
    for item in &on_gsi1 {
        export.add_index_entry(item)?;
    }
    for item in &on_gsi2 {
        if index_sk(item, keys::attr::GSI2SK).starts_with(keys::REQUEST_PREFIX) {
            export.list("follow_requests_received", clean(item)?);
        }
    }
    let document = export.finish(&user, app.clock.now());

    let mut event = NewEvent::new(EventType::DataExport, Some(actor.id()))
        .client(client)
        .description("Personal data exported");
    if actor.id() != target {
        event = event.target(target);
    }
    log_event_best_effort(app, event).await;
    Ok(document)
}

/// The lists an export always has, empty or not.
const LISTS: [&str; 12] = [
    "following",
    "followers",
    "follow_requests_received",
    "blocks",
    "sessions",
    "api_tokens",
    "events",
    "badges",
    "notifications",
    "activity_days",
    "second_factors",
    "passkeys",
];

/// The single items an export always has, `null` when the user has none.
const SINGLES: [&str; 4] = [
    "settings",
    "professional_profile",
    "activity_counters",
    "badge_score",
];

/// An export being put together from the user's items.
#[derive(Default)]
struct Export {
    document: Map<String, Json>,
    single: Map<String, Json>,
    recovery_codes: usize,
}

impl Export {
    fn list(&mut self, name: &str, value: Json) {
        match self.document.get_mut(name) {
            Some(Json::Array(items)) => items.push(value),
            _ => {
                self.document
                    .insert(name.to_owned(), Json::Array(vec![value]));
            }
        };
    }

    /// An item of the user's own partition, by its sort key.
    fn add_own(&mut self, item: &Item) -> Result<(), Error> {
        let key = sk(item);
        let single = match key {
            "SETTINGS" => Some("settings"),
            "PRO" => Some("professional_profile"),
            "STATS" => Some("activity_counters"),
            "BADGESCORE" => Some("badge_score"),
            "NOTIFSTATE" => Some("notifications_read_marker"),
            "LOGINFAIL" => Some("login_failures"),
            "MFAFAIL" => Some("second_factor_failures"),
            _ => None,
        };
        if let Some(name) = single {
            self.single.insert(name.into(), clean(item)?);
            return Ok(());
        }
        match key {
            "PROFILE" => {}
            // Secrets: the password hash, emailed codes.
            "CREDENTIALS" => {}
            _ if key.starts_with("CODE#") => {}
            // Second factors as their owner sees them in the API: never a TOTP secret (sealed
            // or not), never a recovery code's hash, only how many codes are left.
            _ if key.starts_with(keys::MFA_FACTOR_PREFIX) => {
                let factor: crate::auth::mfa::FactorRecord = from_item(item)?;
                self.list("second_factors", json!(factor.view()));
            }
            _ if key.starts_with(keys::PASSKEY_PREFIX) => {
                let passkey: crate::auth::passkeys::PasskeyRecord = from_item(item)?;
                self.list("passkeys", json!(passkey.view()));
            }
            _ if key.starts_with(keys::RECOVERY_CODE_PREFIX) => self.recovery_codes += 1,
            _ => {
                let list = [
                    (keys::FOLLOWS_PREFIX, "following"),
                    (keys::BLOCKS_PREFIX, "blocks"),
                    (keys::EVENT_PREFIX, "events"),
                    (keys::USER_BADGE_PREFIX, "badges"),
                    (keys::DAY_PREFIX, "activity_days"),
                    (keys::NOTIFICATION_PREFIX, "notifications"),
                ]
                .into_iter()
                .find(|(prefix, _)| key.starts_with(prefix))
                .map_or("other", |(_, name)| name);
                self.list(list, clean(item)?);
            }
        }
        Ok(())
    }

    /// An entry of GSI1 under the user's partition: followers, sessions, API tokens.
    fn add_index_entry(&mut self, item: &Item) -> Result<(), Error> {
        let key = index_sk(item, keys::attr::GSI1SK);
        if key.starts_with(keys::FOLLOWER_PREFIX) {
            self.list("followers", clean(item)?);
        } else if key.starts_with(keys::SESSION_PREFIX) {
            self.list("sessions", clean(item)?);
        } else if key.starts_with(keys::API_TOKEN_PREFIX) {
            // The name and when it was made and used; never the key or its hash.
            let token = clean(item)?;
            self.list(
                "api_tokens",
                json!({
                    "id": token.get("token_id").or_else(|| token.get("id")),
                    "name": token.get("name"),
                    "prefix": token.get("prefix"),
                    "created_at": token.get("created_at"),
                    "last_used_at": token.get("last_used_at"),
                }),
            );
        }
        // `BLOCKER#`: who blocks the user is not the user's to see.
        Ok(())
    }

    /// The document: every list and single item present, the user's full view, the time.
    fn finish(mut self, user: &UserRecord, now: chrono::DateTime<chrono::Utc>) -> Json {
        let mut document = std::mem::take(&mut self.document);
        for name in LISTS {
            document
                .entry(name)
                .or_insert_with(|| Json::Array(Vec::new()));
        }
        document.insert(
            "recovery_codes_remaining".into(),
            json!(self.recovery_codes),
        );
        for name in SINGLES {
            document.insert(name.into(), self.single.remove(name).unwrap_or(Json::Null));
        }
        document.extend(self.single);
        document.insert("user".into(), crate::profiles::views::full_view(user));
        document.insert("exported_at".into(), json!(now));
        Json::Object(document)
    }
}
