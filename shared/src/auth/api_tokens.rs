//! API tokens (`Authorization: Token <key>`): shown once, stored hashed.
//!
//! A key is `<prefix>_<secret>`: the prefix (8 hex digits) is public and shown in listings so
//! that a user can tell their tokens apart; the whole key is stored only as its SHA-256, which
//! is also the item's key, so authenticating is one read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Principal;
use super::client::ClientInfo;
use super::secrets::{random_token, sha256_hex};
use crate::App;
use crate::accounts::{UserRecord, get_user};
use crate::activity::events::{EventType, NewEvent, log_event_best_effort};
use crate::error::Error;
use crate::model::UserId;
use crate::store::{
    Condition, Item, Query, SortCondition, StoreError, Update, Value, from_item, keys, to_item,
};

/// Longest token name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Most tokens one user may hold at a time (so a listing is one bounded read).
pub const MAX_TOKENS_PER_USER: usize = 50;

/// `last_used_at` is written at most this often per token.
pub const LAST_USED_WRITE_INTERVAL_SECS: i64 = 60;

/// DRF's answer to an unknown or revoked token.
pub const INVALID_API_TOKEN: &str = "Invalid token.";

/// Keys longer than this are refused before hashing.
const MAX_KEY_CHARS: usize = 256;

/// The stored token (never shown as is: it holds the owner and no secret, but listings pick
/// their fields explicitly).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct TokenRecord {
    token_id: String,
    user_id: UserId,
    name: String,
    prefix: String,
    created_at: DateTime<Utc>,
    #[serde(default)]
    last_used_at: Option<DateTime<Utc>>,
    /// `last_used_at` in epoch seconds: the throttled write conditions on it.
    #[serde(default)]
    last_used_epoch: i64,
}

/// A token as its owner sees it in a listing: never the key, never its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiTokenView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A token just created: the only time the key is shown.
#[derive(Clone, Debug, Serialize)]
pub struct CreatedApiToken {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub key: String,
    pub created_at: DateTime<Utc>,
}

impl From<TokenRecord> for ApiTokenView {
    fn from(r: TokenRecord) -> Self {
        ApiTokenView {
            id: r.token_id,
            name: r.name,
            prefix: r.prefix,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

fn random_prefix() -> String {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn valid_name(name: &str) -> Result<String, Error> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::field("name", "This field may not be blank."));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::field(
            "name",
            format!("Ensure this field has no more than {MAX_NAME_CHARS} characters."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::field("name", "Control characters are not allowed."));
    }
    Ok(name.to_owned())
}

/// The owner's token items, oldest first (at most [`MAX_TOKENS_PER_USER`], plus a margin).
async fn owned_records(app: &App, owner: UserId) -> Result<Vec<(Item, TokenRecord)>, Error> {
    let pk = keys::user_partition(owner);
    let mut found = Vec::new();
    let mut cursor = None;
    loop {
        let query = Query::new(keys::Index::Gsi1, pk.clone())
            .sort(SortCondition::BeginsWith(keys::API_TOKEN_PREFIX.into()))
            .after(cursor);
        let page = app.table.query(query).await?;
        for item in page.items {
            let record: TokenRecord = from_item(&item)?;
            found.push((item, record));
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(found),
        }
    }
}

/// Creates a token for the caller. API tokens cannot mint API tokens: a leaked key must not be
/// able to outlive its own revocation.
pub async fn create(
    app: &App,
    principal: &Principal,
    name: &str,
    client: &ClientInfo,
) -> Result<CreatedApiToken, Error> {
    if principal.method == super::AuthMethod::ApiToken {
        return Err(Error::Forbidden(
            "API tokens cannot be created with an API token; sign in instead.".into(),
        ));
    }
    let name = valid_name(name)?;
    let owner = principal.id();
    // A sensitive action (step-up, `auth/mfa.rs`): its factor read goes beside the count.
    let (recent, owned) = tokio::join!(
        super::mfa::require_recent_auth(app, principal, super::mfa::Sensitive::Action),
        owned_records(app, owner)
    );
    recent?;
    if owned?.len() >= MAX_TOKENS_PER_USER {
        return Err(Error::field(
            "name",
            format!("You already have {MAX_TOKENS_PER_USER} API tokens; revoke one first."),
        ));
    }

    let token_id = ulid::Ulid::new().to_string();
    let prefix = random_prefix();
    let key = format!("{prefix}_{}", random_token(32));
    let record = TokenRecord {
        token_id: token_id.clone(),
        user_id: owner,
        name,
        prefix,
        created_at: app.clock.now(),
        last_used_at: None,
        last_used_epoch: 0,
    };
    let mut item = to_item(&record)?;
    item.extend(keys::api_token(&sha256_hex(&key)).to_item());
    let (gsi_pk, gsi_sk) = keys::api_token_index(owner, &token_id);
    keys::set_index_keys(&mut item, keys::Index::Gsi1, gsi_pk, gsi_sk);
    app.table.put(item, Some(Condition::item_absent())).await?;

    let mut event = NewEvent::new(EventType::ApiTokenCreated, Some(owner))
        .client(client)
        .description(format!("API token \"{}\" created", record.name))
        .metadata(json!({ "token_id": token_id, "prefix": record.prefix }));
    if let Some(sid) = &principal.session_id {
        event = event.session(sid);
    }
    log_event_best_effort(app, event).await;

    Ok(CreatedApiToken {
        id: record.token_id,
        name: record.name,
        prefix: record.prefix,
        key,
        created_at: record.created_at,
    })
}

/// The owner's tokens, oldest first.
pub async fn list(app: &App, owner: UserId) -> Result<Vec<ApiTokenView>, Error> {
    Ok(owned_records(app, owner)
        .await?
        .into_iter()
        .map(|(_, r)| r.into())
        .collect())
}

/// Deletes every token of the user (account erasure); returns how many. Idempotent.
pub async fn delete_all(app: &App, owner: UserId) -> Result<u32, Error> {
    let mut deleted = 0;
    for (item, _) in owned_records(app, owner).await? {
        if let Some(key) = crate::store::Key::of(&item) {
            app.table.delete(&key, None).await?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Revokes one of the caller's tokens. Another user's token id is `NotFound`, as an unknown
/// one is.
pub async fn revoke(
    app: &App,
    principal: &Principal,
    token_id: &str,
    client: &ClientInfo,
) -> Result<(), Error> {
    let owner = principal.id();
    let (pk, sk) = keys::api_token_index(owner, token_id);
    let page = app
        .table
        .query(Query::new(keys::Index::Gsi1, pk).sort(SortCondition::Eq(sk)))
        .await?;
    let item = page.items.into_iter().next().ok_or(Error::NotFound)?;
    let key = crate::store::Key::of(&item).ok_or_else(|| {
        Error::Internal(format!("API token {token_id} is listed without its key"))
    })?;
    let record: TokenRecord = from_item(&item)?;
    // The index may lag; the condition is what makes the owner check hold.
    let owned = Condition::item_present().and(Condition::eq("user_id", owner.0));
    match app.table.delete(&key, Some(owned)).await {
        Ok(_) => {}
        Err(StoreError::ConditionFailed) => return Err(Error::NotFound),
        Err(e) => return Err(e.into()),
    }

    let mut event = NewEvent::new(EventType::ApiTokenRevoked, Some(owner))
        .client(client)
        .description(format!("API token \"{}\" revoked", record.name))
        .metadata(json!({ "token_id": record.token_id, "prefix": record.prefix }));
    if let Some(sid) = &principal.session_id {
        event = event.session(sid);
    }
    log_event_best_effort(app, event).await;
    Ok(())
}

/// The owner and token id of a presented key; `Error::Unauthenticated` when unknown or revoked.
pub async fn authenticate(app: &App, key: &str) -> Result<(UserRecord, String), Error> {
    let invalid = || Error::Unauthenticated(INVALID_API_TOKEN.into());
    if key.is_empty() || key.len() > MAX_KEY_CHARS {
        return Err(invalid());
    }
    let token_key = keys::api_token(&sha256_hex(key));
    // Strongly consistent: a revoked key must stop working at once.
    let item = app.table.get(&token_key, true).await?.ok_or_else(invalid)?;
    let record: TokenRecord = from_item(&item)?;
    let user = get_user(app, record.user_id).await?.ok_or_else(invalid)?;

    let now = app.clock.now();
    let now_epoch = now.timestamp();
    if now_epoch - record.last_used_epoch >= LAST_USED_WRITE_INTERVAL_SECS {
        touch(app, &token_key, now, now_epoch).await;
    }
    Ok((user, record.token_id))
}

/// Records the use, at most once per interval even with concurrent requests on several
/// instances (the write is conditional on the stored time); failures do not fail the request.
async fn touch(app: &App, token_key: &crate::store::Key, now: DateTime<Utc>, now_epoch: i64) {
    // The representation serde gives the record's timestamps.
    let at = serde_json::to_value(now)
        .map(Value::from)
        .unwrap_or(Value::Null);
    let update = Update::new()
        .set("last_used_at", at)
        .set("last_used_epoch", now_epoch);
    let due = Condition::Or(vec![
        Condition::NotExists("last_used_epoch".into()),
        Condition::Le(
            "last_used_epoch".into(),
            Value::Int(now_epoch - LAST_USED_WRITE_INTERVAL_SECS),
        ),
    ]);
    // `item_present`: an update would otherwise recreate a token revoked in between.
    let condition = Condition::item_present().and(due);
    match app.table.update(token_key, update, Some(condition)).await {
        Ok(_) | Err(StoreError::ConditionFailed) => {}
        Err(e) => tracing::warn!(error = %e, "API token last use not recorded"),
    }
}
