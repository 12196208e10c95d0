//! Synthetic data for tests and benchmarks (`accounts-admin seed --users N`): verified and
//! unverified users with profiles, credentials, settings and unique items, three follows each
//! (user i follows the next three ids, so every counter is known without a lookup), counted
//! posts, events over the last days (registration, logins, a post, some failed logins) and a
//! session each (most of them idle).
//!
//! Fast: one Argon2 hash made by the caller serves every account, and the items go up to 100
//! to a transaction, `parallel` transactions at a time ([`PARALLEL`] by default; moto needs 1:
//! it is not safe for concurrent transactions).

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;

use crate::App;
use crate::accounts::{CredentialsRecord, SettingsRecord, UserRecord};
use crate::activity::events::{EventRecord, EventType, NewEvent};
use crate::auth::client::{ClientInfo, DeviceInfo};
use crate::auth::secrets::sha256_hex;
use crate::auth::sessions::{LocationData, SessionRecord};
use crate::error::Error;
use crate::model::UserId;
use crate::social::edges::{FollowEdge, FollowStatus};
use crate::store::{Condition, Item, MAX_TRANSACTION_OPS, TxOp, Update, Value, keys};

/// Follows per user.
pub const FOLLOWS: i64 = 3;
/// Transactions in flight at once, by default.
pub const PARALLEL: usize = 8;
/// Users per transaction (their items stay under the 100-operation limit).
const USERS_PER_TX: usize = 6;

/// What a seeding made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seeded {
    pub first: UserId,
    pub last: UserId,
    pub items: u64,
}

fn event(t: EventType, user: UserId, at: DateTime<Utc>, n: u64) -> Result<Item, Error> {
    let ip = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
    let client = ClientInfo {
        ip: ip.parse().ok(),
        user_agent: Some("seed".into()),
        ..ClientInfo::default()
    };
    let mut new = NewEvent::new(t, Some(user)).client(&client);
    if t == EventType::LoginFailed {
        new = new.failed("invalid credentials");
    }
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let id = ulid::Ulid::from_parts(millis, fastrand::u128(..)).to_string();
    let record = EventRecord::build(new, id, at)?;
    Ok(record.to_item()?)
}

/// One seeded user: what their items are made from. `n` is their place in the seeding (from 0),
/// which spreads their times and marks some of them (unverified, a failed login, mobile).
struct SeedUser {
    user: UserId,
    n: u64,
    name: String,
    created: DateTime<Utc>,
}

/// The items of user `id` (of `first..=last`), each with whether it is unique (put only if
/// absent).
fn user_items(
    id: i64,
    first: i64,
    count: i64,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(Item, bool)>, Error> {
    let n = (id - first) as u64;
    let seeded = SeedUser {
        user: UserId(id),
        n,
        name: format!("seed{id}"),
        created: now - Duration::days((n % 30) as i64 + 2) - Duration::seconds(n as i64 % 3600),
    };
    let follows = FOLLOWS.min(count - 1).max(0);
    let mut items = account_items(&seeded, hash, follows)?;
    for k in 1..=follows {
        let target = first + (id - first + k) % count;
        let edge = FollowEdge {
            follower: seeded.user,
            following: UserId(target),
            status: FollowStatus::Active,
            created_at: seeded.created,
            approved_at: None,
        };
        items.push((edge.to_item()?, false));
    }
    let mut stats = keys::user_stats(seeded.user).to_item();
    stats.insert("user_id".into(), Value::Int(id));
    stats.insert("post_create".into(), Value::Int(1));
    items.push((stats, false));

    items.extend(event_items(&seeded, now)?);
    items.push((session(&seeded, now).to_item()?, false));
    Ok(items)
}

/// The account itself: the profile (its counters counting the follows and the one post),
/// credentials and settings, and its unique name and email items.
fn account_items(seeded: &SeedUser, hash: &str, follows: i64) -> Result<Vec<(Item, bool)>, Error> {
    let (user, n, name, created) = (seeded.user, seeded.n, &seeded.name, seeded.created);
    let mut profile = UserRecord::new(user, name.clone(), format!("{name}@example.com"), created);
    profile.is_verified = !n.is_multiple_of(5);
    profile.following_count = follows;
    profile.follower_count = follows;
    profile.posts_count = 1;
    let mut items: Vec<(Item, bool)> = vec![
        (profile.to_item()?, true),
        (
            CredentialsRecord {
                user_id: user,
                password_hash: hash.to_owned(),
                password_changed_at: created,
            }
            .to_item()?,
            true,
        ),
        (SettingsRecord::defaults(user, created).to_item()?, true),
    ];
    items.push((profile.name_item(&created.to_rfc3339()), true));
    let mut email = keys::unique_email(&format!("{name}@example.com")).to_item();
    email.insert("user_id".into(), Value::Int(user.0));
    items.push((email, true));
    Ok(items)
}

/// The user's events: registration, a recent login and a post after it, and for every tenth
/// user a failed login just before.
fn event_items(seeded: &SeedUser, now: DateTime<Utc>) -> Result<Vec<(Item, bool)>, Error> {
    let (user, n) = (seeded.user, seeded.n);
    let mut items = vec![(event(EventType::Register, user, seeded.created, n)?, false)];
    let login_at = now - Duration::hours((n % 48) as i64) - Duration::minutes((n % 60) as i64);
    items.push((event(EventType::Login, user, login_at, n)?, false));
    items.push((
        event(
            EventType::PostCreate,
            user,
            login_at + Duration::minutes(5),
            n,
        )?,
        false,
    ));
    if n.is_multiple_of(10) {
        items.push((
            event(
                EventType::LoginFailed,
                user,
                login_at - Duration::minutes(2),
                n,
            )?,
            false,
        ));
    }
    Ok(items)
}

/// The user's session, started within the last four hours (a third of them on mobile).
fn session(seeded: &SeedUser, now: DateTime<Utc>) -> SessionRecord {
    let n = seeded.n;
    let started = now - Duration::minutes((n % 240) as i64);
    let session_id = ulid::Ulid::from_parts(
        u64::try_from(started.timestamp_millis()).unwrap_or(0),
        fastrand::u128(..),
    )
    .to_string();
    SessionRecord {
        session_id: session_id.clone(),
        user_id: seeded.user,
        secret_hash: sha256_hex(&session_id),
        csrf_hash: sha256_hex(&seeded.name),
        auth_method: "jwt".into(),
        ip_address: Some(format!("10.0.{}.{}", (n >> 8) & 255, n & 255)),
        user_agent: "seed".into(),
        device_info: DeviceInfo {
            device_type: if n.is_multiple_of(3) {
                "mobile"
            } else {
                "desktop"
            }
            .into(),
            ..DeviceInfo::default()
        },
        location_data: LocationData::default(),
        device_fingerprint: String::new(),
        pages_visited: (n % 7) as i64,
        started_at: started,
        ended_at: None,
        is_active: true,
        is_deleted: false,
        last_activity: started,
        last_activity_epoch: started.timestamp(),
        idle_timeout_secs: 30 * 60,
        expires_at: started.timestamp() + 14 * 24 * 3600,
        aal: 1,
        amr: vec!["pwd".into()],
        password_at: Some(started.timestamp()),
        second_factor_at: None,
    }
}

/// Creates `count` users after the highest id allocated so far; `hash` is the Argon2 hash of
/// their (shared) password. `progress` is called with the users done so far, after every
/// transaction.
pub async fn seed(
    app: &App,
    count: u64,
    hash: &str,
    parallel: usize,
    progress: impl Fn(u64),
) -> Result<Seeded, Error> {
    let count = i64::try_from(count).map_err(|_| Error::field("users", "Too many users."))?;
    if count <= 0 {
        return Err(Error::field("users", "Ensure this value is at least 1."));
    }
    let counter = app
        .table
        .update(
            &keys::user_id_counter(),
            Update::new().add("value", count),
            None,
        )
        .await?;
    let last = counter
        .get("value")
        .and_then(Value::as_i64)
        .unwrap_or(count);
    let first = last - count + 1;
    let now = app.clock.now();
    let ids: Vec<i64> = (first..=last).collect();
    let chunks: Vec<Vec<i64>> = ids.chunks(USERS_PER_TX).map(<[i64]>::to_vec).collect();
    let mut written = 0u64;
    let mut users_done = 0u64;
    let mut results = futures::stream::iter(chunks.into_iter().map(|chunk| async move {
        let mut ops = Vec::with_capacity(MAX_TRANSACTION_OPS);
        for id in &chunk {
            for (item, unique) in user_items(*id, first, count, hash, now)? {
                // Never overwrite an account or a name someone holds.
                let condition = unique.then(Condition::item_absent);
                ops.push(TxOp::Put { item, condition });
            }
        }
        let n = ops.len() as u64;
        app.table.transact_write(ops).await?;
        Ok::<_, Error>((chunk.len() as u64, n))
    }))
    .buffer_unordered(parallel.max(1));
    while let Some(result) = results.next().await {
        let (users, items) = result?;
        users_done += users;
        written += items;
        progress(users_done);
    }
    Ok(Seeded {
        first: UserId(first),
        last: UserId(last),
        items: written,
    })
}
