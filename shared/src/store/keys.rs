//! The whole key schema of the single table, in one file. Nothing else formats `PK`, `SK` or
//! GSI key strings: domain code calls these functions.
//!
//! The table of every item's keys is `docs/architecture.md`, "The single table";
//! `keys_table.rs` holds it against the functions below, so adding a key function means
//! adding its row there and its sample in `keys_table.rs`.

use super::table::Key;
use super::value::{Item, Value};
use crate::model::UserId;

/// Attribute names with a meaning to the table itself.
pub mod attr {
    pub const PK: &str = "PK";
    pub const SK: &str = "SK";
    pub const GSI1PK: &str = "GSI1PK";
    pub const GSI1SK: &str = "GSI1SK";
    pub const GSI2PK: &str = "GSI2PK";
    pub const GSI2SK: &str = "GSI2SK";
    /// Epoch seconds; the table's TTL attribute.
    pub const EXPIRES_AT: &str = "expires_at";
}

/// The indexes a query can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Index {
    Primary,
    Gsi1,
    Gsi2,
}

impl Index {
    /// The index name as DynamoDB knows it (`None` for the table itself).
    pub fn name(self) -> Option<&'static str> {
        match self {
            Index::Primary => None,
            Index::Gsi1 => Some("GSI1"),
            Index::Gsi2 => Some("GSI2"),
        }
    }

    /// The partition and sort key attributes of the index.
    pub fn key_attrs(self) -> (&'static str, &'static str) {
        match self {
            Index::Primary => (attr::PK, attr::SK),
            Index::Gsi1 => (attr::GSI1PK, attr::GSI1SK),
            Index::Gsi2 => (attr::GSI2PK, attr::GSI2SK),
        }
    }

    pub const GSIS: [Index; 2] = [Index::Gsi1, Index::Gsi2];
}

/// The table's definition, the one place it is stated: `accounts-local --store dynamodb`
/// creates the table from it, and a test checks `template.yaml` against it.
pub mod table_definition {
    /// Every key attribute is a string (`S`).
    pub const KEY_ATTRIBUTES: [&str; 6] = ["PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK"];
    pub const HASH_KEY: &str = "PK";
    pub const RANGE_KEY: &str = "SK";
    /// (index name, hash key, range key); projection ALL.
    pub const GSIS: [(&str, &str, &str); 2] =
        [("GSI1", "GSI1PK", "GSI1SK"), ("GSI2", "GSI2PK", "GSI2SK")];
    pub const TTL_ATTRIBUTE: &str = "expires_at";
    pub const BILLING_MODE: &str = "PAY_PER_REQUEST";
    /// The table's stream carries new images (`store::stream`).
    pub const STREAM_VIEW_TYPE: &str = "NEW_IMAGE";
}

/// The item that `health` and the conformance suite may write to prove the table works.
pub fn health_probe() -> Key {
    Key::new("HEALTH", "PROBE")
}

/// Partition key prefixes of partitions that belong to one user, session, token, address,
/// name or source event: what one subject's traffic reaches, and no other subject's.
const ENTITY_PREFIXES: [&str; 15] = [
    ANON_PREFIX,
    "MFACHALLENGE#",
    "WEBAUTHN#",
    "PASSKEYCRED#",
    "USER#",
    "SESSION#",
    "UNIQUE#",
    "APITOKEN#",
    "REVOKED#",
    "INGESTED#",
    "RATE#",
    "TASKMARK#",
    "REPORT#",
    "METRICS#",
    "STREAMBATCH#",
];

/// True for a partition key value (of the table or a GSI) that belongs to one subject: a
/// user's partition, a session, a unique name ... Everything else (counters, the type, award
/// and name indexes, badge definitions, task partitions) is shared by all users' traffic. The
/// partition-heat simulation (`store::heat`) scales the two kinds apart.
pub fn is_entity_partition(pk: &str) -> bool {
    ENTITY_PREFIXES.iter().any(|p| pk.starts_with(p))
}

/// For a partition key value of a hash-sharded family, the family's name and its number of
/// shards; `None` for a key value that is not sharded. The heat simulation reports a family at
/// its mean per shard.
pub fn shard_family(pk: &str) -> Option<(String, u32)> {
    for (family, shards) in [
        (AWARDS, BOARD_SHARDS),
        (LEADERBOARD, BOARD_SHARDS),
        (USERNAME_INDEX, NAME_SHARDS),
        (DISPLAYNAME_INDEX, NAME_SHARDS),
    ] {
        if let Some(shard) = pk.strip_prefix(family).and_then(|r| r.strip_prefix('#'))
            && shard.len() == 2
            && shard.bytes().all(|b| b.is_ascii_digit())
        {
            return Some((format!("{family}#*"), shards as u32));
        }
    }
    if let Some(shard) = pk.strip_prefix(DIGEST).and_then(|r| r.strip_prefix('#'))
        && shard.len() == 2
        && shard.bytes().all(|b| b.is_ascii_digit())
    {
        return Some((format!("{DIGEST}#*"), BOARD_SHARDS as u32));
    }
    if let Some(shard) = pk.strip_prefix("SEVERE#")
        && shard.len() == 2
        && shard.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(("SEVERE#*".into(), SEVERE_SHARDS));
    }
    let rest = pk.strip_prefix(EVENT_TYPE_PREFIX)?;
    let (event_type, shard) = rest.rsplit_once('#')?;
    if shard.len() != 3 || !shard.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((
        format!("{EVENT_TYPE_PREFIX}{event_type}#*"),
        event_type_shards(event_type),
    ))
}

/// Sets an item's own key attributes (`PK`, `SK`), as a record's `to_item` does after
/// serialising its fields.
pub fn set_key(item: &mut Item, key: Key) {
    item.insert(attr::PK.into(), Value::S(key.pk));
    item.insert(attr::SK.into(), Value::S(key.sk));
}

/// Sets an index's key attributes on an item.
pub fn set_index_keys(item: &mut Item, index: Index, pk: String, sk: String) {
    let (pk_attr, sk_attr) = index.key_attrs();
    item.insert(pk_attr.into(), Value::S(pk));
    item.insert(sk_attr.into(), Value::S(sk));
}

/// The partition of everything a user owns.
pub fn user_partition(id: UserId) -> String {
    format!("USER#{id}")
}

/// The user's profile item: identity, status, privacy, counters (the seed's User + UserProfile).
pub fn user(id: UserId) -> Key {
    Key::new(user_partition(id), "PROFILE")
}

/// Shards of the name indexes (GSI1 `USERNAME#<nn>`, GSI2 `DISPLAYNAME#<nn>`), by user id.
pub const NAME_SHARDS: i64 = 16;

/// GSI1 keys of a user's name item (the unique username item, [`unique_username`]): the user
/// under `USERNAME#<user id mod 16>`, sorted by case-folded username, for username order and
/// prefix search without a scan; readers merge the shards. The entry lives on the narrow
/// unique item, written only on registration and rename, not on the profile, whose every
/// write (`last_active`, counters) would rewrite it (`docs/scale.md`).
pub fn username_index(username_key: &str, id: UserId) -> (String, String) {
    (
        format!("{USERNAME_INDEX}#{:02}", id.0.rem_euclid(NAME_SHARDS)),
        username_key.to_owned(),
    )
}

/// GSI2 keys of a user's name item: the user under `DISPLAYNAME#<user id mod 16>`, sorted by
/// lower-cased display name (the id keeps equal names apart), for display-name prefix search;
/// rewritten when the display name changes.
pub fn displayname_index(display_name: &str, id: UserId) -> (String, String) {
    (
        format!("{DISPLAYNAME_INDEX}#{:02}", id.0.rem_euclid(NAME_SHARDS)),
        format!("{}#{id}", display_name.to_lowercase()),
    )
}

/// Every GSI1 partition of the username index.
pub fn username_partitions() -> Vec<String> {
    (0..NAME_SHARDS)
        .map(|s| format!("{USERNAME_INDEX}#{s:02}"))
        .collect()
}

/// Every GSI2 partition of the display-name index.
pub fn displayname_partitions() -> Vec<String> {
    (0..NAME_SHARDS)
        .map(|s| format!("{DISPLAYNAME_INDEX}#{s:02}"))
        .collect()
}

/// The name indexes' family names; before issue 19 they were single key values on the
/// profile items (the `migrate_keys` task moves them).
pub const USERNAME_INDEX: &str = "USERNAME";
pub const DISPLAYNAME_INDEX: &str = "DISPLAYNAME";

pub fn credentials(id: UserId) -> Key {
    Key::new(user_partition(id), "CREDENTIALS")
}

pub fn settings(id: UserId) -> Key {
    Key::new(user_partition(id), "SETTINGS")
}

pub fn professional_profile(id: UserId) -> Key {
    Key::new(user_partition(id), "PRO")
}

/// GSI1 keys of a professional profile: every professional profile under `PROFESSIONALS`,
/// verified ones (`V#`) apart from unverified ones (`U#`), for the `is_verified` filter.
pub fn professional_index(verified: bool, id: UserId) -> (String, String) {
    let state = if verified { 'V' } else { 'U' };
    ("PROFESSIONALS".into(), format!("{state}#{:020}", id.0))
}

/// Prefix of the verified (`true`) or unverified professional profiles on GSI1.
pub fn professional_index_prefix(verified: bool) -> &'static str {
    if verified { "V#" } else { "U#" }
}

/// Failed-login counter of an account (throttling), with TTL.
pub fn login_failures(id: UserId) -> Key {
    Key::new(user_partition(id), "LOGINFAIL")
}

/// A TOTP factor of the user (pending until confirmed with a code, then active).
pub fn mfa_factor(id: UserId, factor_id: &str) -> Key {
    Key::new(
        user_partition(id),
        format!("{MFA_FACTOR_PREFIX}{factor_id}"),
    )
}

/// Prefix of the user's TOTP factors in their partition.
pub const MFA_FACTOR_PREFIX: &str = "MFA#TOTP#";

/// One unused recovery code of the user, named by the hash of the user and the code, so a
/// code is found (and spent) in one read or one conditional delete.
pub fn recovery_code(id: UserId, code_hash: &str) -> Key {
    Key::new(
        user_partition(id),
        format!("{RECOVERY_CODE_PREFIX}{code_hash}"),
    )
}

/// Prefix of the user's recovery codes in their partition.
pub const RECOVERY_CODE_PREFIX: &str = "MFA#RECOVERY#";

/// Failed second-factor codes of an account (the login backoff, counted apart), with TTL.
pub fn mfa_failures(id: UserId) -> Key {
    Key::new(user_partition(id), "MFAFAIL")
}

/// A sign-in waiting for its second factor, found by the hash of the token the client holds.
pub fn mfa_challenge(token_hash: &str) -> Key {
    Key::new(format!("MFACHALLENGE#{token_hash}"), "MFACHALLENGE")
}

/// A passkey of the user, named by the hash of its credential id (ids reach 1,023 bytes; a sort
/// key only 1,024).
pub fn passkey(id: UserId, credential_hash: &str) -> Key {
    Key::new(
        user_partition(id),
        format!("{PASSKEY_PREFIX}{credential_hash}"),
    )
}

/// Prefix of the user's passkeys in their partition.
pub const PASSKEY_PREFIX: &str = "PASSKEY#";

/// A credential id in use, with its owner: keeps ids unique across accounts and finds the
/// account of a usernameless sign-in.
pub fn passkey_credential(credential_hash: &str) -> Key {
    Key::new(format!("PASSKEYCRED#{credential_hash}"), "PASSKEYCRED")
}

/// A WebAuthn ceremony's challenge, found by its hash; spent by the write that completes it.
pub fn webauthn_challenge(challenge_hash: &str) -> Key {
    Key::new(format!("WEBAUTHN#{challenge_hash}"), "WEBAUTHN")
}

/// A code mailed to the user for one purpose (`verify`, `reset`).
pub fn emailed_code(id: UserId, purpose: &str) -> Key {
    Key::new(user_partition(id), format!("CODE#{purpose}"))
}

/// The token that cancels (or, within 7 days of completing it, reverts) an email change,
/// found by the hash of the token mailed to the old address in one read.
pub fn email_revert(token_hash: &str) -> Key {
    Key::new(format!("EMAILREVERT#{token_hash}"), "EMAILREVERT")
}

/// Login failures counted against an identifier that names no account (the hash of the
/// normalised username or address), so that unknown names lock exactly as known ones do.
pub fn unknown_login_failures(identifier_hash: &str) -> Key {
    Key::new(format!("LOGINFAIL#{identifier_hash}"), "LOGINFAIL")
}

/// The platform's security policy (`auth/policy.rs`): one item, read by staff's sensitive
/// actions only.
pub fn security_policy() -> Key {
    Key::new("POLICY#SECURITY", "POLICY")
}

/// The counter that allocates user ids, a block of them per process at a time.
pub fn user_id_counter() -> Key {
    Key::new("COUNTER#USER_ID", "COUNTER")
}

/// The item that makes a case-folded username unique; it holds the owner's id.
pub fn unique_username(username_key: &str) -> Key {
    Key::new(format!("UNIQUE#USERNAME#{username_key}"), "UNIQUE")
}

/// The item that makes a case-folded email address unique; it holds the owner's id.
pub fn unique_email(email_key: &str) -> Key {
    Key::new(format!("UNIQUE#EMAIL#{email_key}"), "UNIQUE")
}

/// An API token, found by the hash of its key in one read.
pub fn api_token(key_hash: &str) -> Key {
    Key::new(format!("APITOKEN#{key_hash}"), "APITOKEN")
}

/// GSI1 keys of an API token: the owner's tokens, oldest first.
pub fn api_token_index(owner: UserId, token_id: &str) -> (String, String) {
    (user_partition(owner), format!("APITOKEN#{token_id}"))
}

/// Prefix of the owner's API tokens on GSI1.
pub const API_TOKEN_PREFIX: &str = "APITOKEN#";

/// A login session (auth state and the seed's `UserSession` analytics in one item), with TTL at
/// its absolute expiry. Session ids are ULIDs, so they sort by start time.
pub fn session(session_id: &str) -> Key {
    Key::new(format!("SESSION#{session_id}"), "SESSION")
}

/// GSI1 keys of a session: the user's sessions, oldest first.
pub fn session_index(owner: UserId, session_id: &str) -> (String, String) {
    (user_partition(owner), format!("SESSION#{session_id}"))
}

/// Prefix of the owner's sessions on GSI1.
pub const SESSION_PREFIX: &str = "SESSION#";

/// A revoked (rotated or logged-out) refresh token, kept until the token would have expired.
pub fn revoked_token(jti: &str) -> Key {
    Key::new(format!("REVOKED#{jti}"), "REVOKED")
}

/// A user event (the seed's `UserEvent`). Event ids are ULIDs: newest first is descending SK.
pub fn event(owner: UserId, event_id: &str) -> Key {
    Key::new(user_partition(owner), format!("EVENT#{event_id}"))
}

/// Prefix of a user's events in their partition.
pub const EVENT_PREFIX: &str = "EVENT#";

/// The partition of the events about no known account from one client address (a login with
/// an unknown username, a bot refused at registration): `ADDR#<hash of the address>`, so that a
/// credential-stuffing run from many addresses spreads over as many partitions, and the
/// velocity check reads one address's events. `None` (no address known) is one partition of
/// its own; only internal paths log such events. Its sort keys have the form of a user's events.
pub fn anonymous_events(ip_hash: Option<&str>) -> String {
    format!("{ANON_PREFIX}{}", ip_hash.unwrap_or("unknown"))
}

/// Prefix of the anonymous event partitions.
pub const ANON_PREFIX: &str = "ADDR#";

/// An event about no known account, in its address's partition.
pub fn anonymous_event(ip_hash: Option<&str>, event_id: &str) -> Key {
    Key::new(
        anonymous_events(ip_hash),
        format!("{EVENT_PREFIX}{event_id}"),
    )
}

/// The partition all anonymous events had before issue 19 (read by the `migrate-keys` task
/// only).
pub const LEGACY_ANONYMOUS_EVENTS: &str = "EVENTS#ANON";

/// Shards of the by-type event index for one type, sized to the reference load
/// (`docs/scale.md`): each shard of a type below about a third of a partition's write limit.
/// An event's index entry takes 1 to 2 WCU (events are 0.5 to 1.5 KB). Readers of a type fan
/// out over all its shards ([`event_type_partitions`]) and merge by event id.
pub fn event_type_shards(event_type: &str) -> u32 {
    match event_type {
        // 40,000 and 30,000 a second at the reference load.
        "page_view" | "like_given" => 256,
        // 10,000 to 20,000 a second.
        "comment_create" | "post_create" | "login" | "profile_view" | "share" => 128,
        // Up to 5,000 a second (follows; a credential-stuffing run; sessions).
        "follow" | "unfollow" | "login_failed" | "session_started" | "token_refresh"
        | "like_removed" => 32,
        // Up to 1,000 a second each (registrations, their mails, badge awards).
        "register" | "verification_sent" | "badge_earned" | "logout" => 8,
        _ => 4,
    }
}

/// A stable hash of a string into `0..shards` (FNV-1a; the shard must not change between
/// builds, so not the standard library's randomised hasher).
fn shard_of(value: &str, shards: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in value.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % u64::from(shards.max(1))) as u32
}

/// GSI1 keys of an event: the events of one type, hash-sharded by event id
/// (`EVENTS#<type>#<shard>`), each shard in time order (security analysis, alerts, reports).
pub fn event_type_index(event_type: &str, event_id: &str) -> (String, String) {
    let shard = shard_of(event_id, event_type_shards(event_type));
    (
        format!("{EVENT_TYPE_PREFIX}{event_type}#{shard:03}"),
        event_id.to_owned(),
    )
}

const EVENT_TYPE_PREFIX: &str = "EVENTS#";

/// Every GSI1 partition of one event type's index: what a reader of the type fans out over.
pub fn event_type_partitions(event_type: &str) -> Vec<String> {
    (0..event_type_shards(event_type))
        .map(|shard| format!("{EVENT_TYPE_PREFIX}{event_type}#{shard:03}"))
        .collect()
}

/// The unsharded GSI1 partition of one event type before issue 19 (read by the
/// `migrate-keys` task only).
pub fn legacy_event_type_partition(event_type: &str) -> String {
    format!("{EVENT_TYPE_PREFIX}{event_type}")
}

/// One fixed window of a rate limit: `scope` names the rule (`resend`, `login-ip` ...),
/// `subject` what is limited (an account id, an IP), `window` the window's start (epoch s).
pub fn rate_window(scope: &str, subject: &str, window: i64) -> Key {
    Key::new(format!("RATE#{scope}#{subject}#{window}"), "RATE")
}

/// The follow edge "`follower` follows `followed`" (status active or pending), in the
/// follower's partition: the follower's following list is a query on the main key.
pub fn follow_edge(follower: UserId, followed: UserId) -> Key {
    Key::new(
        user_partition(follower),
        format!("{FOLLOWS_PREFIX}{followed}"),
    )
}

/// Prefix of a user's outgoing follow edges in their partition.
pub const FOLLOWS_PREFIX: &str = "FOLLOWS#";

/// GSI1 keys of an active follow edge: the followed user's followers. Pending edges have none
/// (the index is sparse), so a followers page holds active followers only.
pub fn follower_index(followed: UserId, follower: UserId) -> (String, String) {
    (
        user_partition(followed),
        format!("{FOLLOWER_PREFIX}{follower}"),
    )
}

/// Prefix of a user's followers on GSI1.
pub const FOLLOWER_PREFIX: &str = "FOLLOWER#";

/// GSI2 keys of a pending follow edge: the follow requests a private account has to answer.
pub fn follow_request_index(followed: UserId, follower: UserId) -> (String, String) {
    (
        user_partition(followed),
        format!("{REQUEST_PREFIX}{follower}"),
    )
}

/// Prefix of the follow requests to a user on GSI2.
pub const REQUEST_PREFIX: &str = "REQUEST#";

/// Shards of a large account's follower count (`social::large`).
pub const FOLLOWER_COUNT_SHARDS: i64 = 16;

/// One shard of a large account's follower count: `FOLLOWERS#<user>#<nn>`, each its own
/// partition, chosen by the follower's id (`follower mod 16`), so a celebrity's follows spread
/// over 16 partitions and an unfollow takes back from the shard its follow added to.
pub fn follower_count_shard(followed: UserId, follower: UserId) -> Key {
    follower_count_shard_at(followed, follower.0.rem_euclid(FOLLOWER_COUNT_SHARDS))
}

/// Shard `shard` (0..[`FOLLOWER_COUNT_SHARDS`]) of a large account's follower count.
pub fn follower_count_shard_at(followed: UserId, shard: i64) -> Key {
    Key::new(format!("FOLLOWERS#{followed}#{shard:02}"), "COUNT")
}

/// The registry of large accounts: one item per account, written once when it becomes large,
/// read by the `fold_follower_counts` task every minute.
pub fn large_account(user: UserId) -> Key {
    Key::new(LARGE_ACCOUNTS, format!("{:020}", user.0))
}

/// Partition of the large-account registry.
pub const LARGE_ACCOUNTS: &str = "LARGE_ACCOUNTS";

/// The block edge "`blocker` blocks `blocked`", in the blocker's partition.
pub fn block_edge(blocker: UserId, blocked: UserId) -> Key {
    Key::new(user_partition(blocker), format!("{BLOCKS_PREFIX}{blocked}"))
}

/// Prefix of a user's blocks in their partition.
pub const BLOCKS_PREFIX: &str = "BLOCKS#";

/// GSI1 keys of a block edge: who blocks a user (for erasing an account's edges).
pub fn blocker_index(blocked: UserId, blocker: UserId) -> (String, String) {
    (
        user_partition(blocked),
        format!("{BLOCKER_PREFIX}{blocker}"),
    )
}

/// Prefix of the users blocking a user on GSI1.
pub const BLOCKER_PREFIX: &str = "BLOCKER#";

/// GSI2 keys of an event that requires review and is not reviewed yet: the review queue, in
/// time order. Reviewing removes them (the index is sparse).
pub fn event_review_index(event_id: &str) -> (String, String) {
    ("REVIEW".to_owned(), event_id.to_owned())
}

/// Shards of the severe-event index.
pub const SEVERE_SHARDS: u32 = 16;

/// GSI2 keys of a high or critical event that is not on the review queue (not a security
/// event, or reviewed): `SEVERE#<shard>` / `<ulid>`, hash-sharded by event id. With the review
/// queue it is what the alerts task reads, instead of every event of every type.
pub fn severe_event_index(event_id: &str) -> (String, String) {
    let shard = shard_of(event_id, SEVERE_SHARDS);
    (format!("SEVERE#{shard:02}"), event_id.to_owned())
}

/// Every GSI2 partition of the severe-event index.
pub fn severe_event_partitions() -> Vec<String> {
    (0..SEVERE_SHARDS)
        .map(|shard| format!("SEVERE#{shard:02}"))
        .collect()
}

/// A user's activity counters (events ingested per type, quality review counts), read by the
/// badge criteria.
pub fn user_stats(id: UserId) -> Key {
    Key::new(user_partition(id), "STATS")
}

/// Marks a source event (an EventBridge event id, a client idempotency key) as ingested, so a
/// redelivery is not counted twice. Kept with a TTL.
pub fn ingested_event(source_id: &str) -> Key {
    Key::new(format!("INGESTED#{source_id}"), "INGESTED")
}

/// One UTC day of a user's activity: counts per event type and marks (login, follows) per
/// quarter hour, regrouped into the user's own days by the `consecutive_days` and timeframe
/// badge criteria. Kept with a TTL; `day` is `yyyy-mm-dd`, so the items sort by date.
pub fn activity_day(id: UserId, day: &str) -> Key {
    Key::new(user_partition(id), format!("{DAY_PREFIX}{day}"))
}

/// Prefix of a user's activity days in their partition.
pub const DAY_PREFIX: &str = "DAY#";

/// The like count of one post of `author` (the post id as the content service names it), for
/// the "most likes on a single post" badge counter.
pub fn post_likes(author: UserId, post_id: &str) -> Key {
    Key::new(user_partition(author), format!("POSTLIKES#{post_id}"))
}

/// A badge definition.
pub fn badge_definition(id: i64) -> Key {
    Key::new(format!("BADGE#{id}"), "DEFINITION")
}

/// How many users hold a badge (`count`), in an item of its own beside the definition, with no
/// index entry: on the definition, every award's ADD rewrote the definition's two index entries
/// (`BADGES`, `BADGES#ACTIVE`), which every award reaches (`docs/scale.md`). A definition
/// stored before may still carry an `earned_count` of its own; readers add the two.
pub fn badge_earned(id: i64) -> Key {
    Key::new(format!("BADGE#{id}"), "EARNED")
}

/// GSI1 keys of a badge definition: every definition (admins' list), in id order.
pub fn badge_index(id: i64) -> (String, String) {
    ("BADGES".into(), format!("{id:020}"))
}

/// GSI2 keys of an active badge definition: the active ones in one query (sparse).
pub fn active_badge_index(id: i64) -> (String, String) {
    ("BADGES#ACTIVE".into(), format!("{id:020}"))
}

/// The counter that allocates badge definition ids.
pub fn badge_id_counter() -> Key {
    Key::new("COUNTER#BADGE_ID", "COUNTER")
}

/// The item that makes a case-folded badge name unique; it holds the badge id.
pub fn unique_badge_name(name_key: &str) -> Key {
    Key::new(format!("UNIQUE#BADGENAME#{name_key}"), "UNIQUE")
}

/// A badge held by a user, in the user's partition.
pub fn user_badge(user: UserId, badge: i64) -> Key {
    Key::new(
        user_partition(user),
        format!("{USER_BADGE_PREFIX}{badge:020}"),
    )
}

/// Prefix of a user's badges in their partition.
pub const USER_BADGE_PREFIX: &str = "BADGE#";

/// GSI1 keys of a user badge: the holders of one badge (deleting a definition).
pub fn badge_holder_index(badge: i64, user: UserId) -> (String, String) {
    (format!("BADGE#{badge}"), format!("{:020}", user.0))
}

/// GSI1 partition of the holders of one badge.
pub fn badge_holders(badge: i64) -> String {
    format!("BADGE#{badge}")
}

/// Shards of the award index and of the leaderboard, each by the user id.
pub const BOARD_SHARDS: i64 = 16;

/// GSI2 keys of a user badge: the awards of one shard of users, in time order
/// (`AWARDS#<user id mod 16>`; recent awards and the 30-day board merge the shards). One key
/// value with ever-increasing sort keys took every award (`docs/scale.md`).
pub fn award_index(earned_ms: i64, user: UserId, badge: i64) -> (String, String) {
    (
        format!("{AWARDS}#{:02}", user.0.rem_euclid(BOARD_SHARDS)),
        format!("{earned_ms:015}#{}#{badge}", user.0),
    )
}

/// Every GSI2 partition of the award index.
pub fn award_partitions() -> Vec<String> {
    (0..BOARD_SHARDS)
        .map(|s| format!("{AWARDS}#{s:02}"))
        .collect()
}

/// GSI2 partition of every award before issue 19 (the `migrate_keys` task moves it).
pub const AWARDS: &str = "AWARDS";

/// A user's badge score: points, badge count and featured count (the leaderboard entry).
pub fn badge_score(user: UserId) -> Key {
    Key::new(user_partition(user), "BADGESCORE")
}

/// GSI1 keys of a badge score: the scores of one shard of users (`LEADERBOARD#<user id mod
/// 16>`), ascending order is most points first, then most badges, then lowest user id. The
/// board merges the shards' tops.
pub fn leaderboard_index(points: i64, count: i64, user: UserId) -> (String, String) {
    const TOP: i64 = 999_999_999_999_999;
    (
        format!("{LEADERBOARD}#{:02}", user.0.rem_euclid(BOARD_SHARDS)),
        format!(
            "{:015}#{:09}#{:020}",
            TOP - points.clamp(0, TOP),
            999_999_999 - count.clamp(0, 999_999_999),
            user.0
        ),
    )
}

/// Every GSI1 partition of the leaderboard.
pub fn leaderboard_partitions() -> Vec<String> {
    (0..BOARD_SHARDS)
        .map(|s| format!("{LEADERBOARD}#{s:02}"))
        .collect()
}

/// GSI1 partition of the all-time badge leaderboard before issue 19 (the `migrate_keys` task
/// moves it).
pub const LEADERBOARD: &str = "LEADERBOARD";

/// Shards of the badge aggregates.
pub const BADGE_STATS_SHARDS: i64 = 16;

/// One shard of the badge aggregates read by the analytics (updated in every award, revoke
/// and definition write transaction): `subject` (the user of an award or a revoke, the badge
/// of a definition write) picks it, so no one item takes every award (`docs/scale.md`).
pub fn badge_stats(subject: i64) -> Key {
    Key::new(
        format!("BADGESTATS#{:02}", subject.rem_euclid(BADGE_STATS_SHARDS)),
        "GLOBAL",
    )
}

/// The single aggregates item before issue 19: still read and summed with the shards, so the
/// counts it holds stay counted.
fn legacy_badge_stats() -> Key {
    Key::new("BADGESTATS", "GLOBAL")
}

/// Every item the badge aggregates are the sum of: the shards and the legacy item.
pub fn badge_stats_all() -> Vec<Key> {
    (0..BADGE_STATS_SHARDS)
        .map(badge_stats)
        .chain(std::iter::once(legacy_badge_stats()))
        .collect()
}

/// True for an item of the badge aggregates (a shard or the legacy item).
pub fn is_badge_stats(key: &Key) -> bool {
    key.sk == "GLOBAL" && (key.pk == "BADGESTATS" || key.pk.starts_with("BADGESTATS#"))
}

/// The partition of one scheduled task: its checkpoint, state and run records.
pub fn task_partition(task: &str) -> String {
    format!("TASK#{task}")
}

/// A task's checkpoint: where an unfinished run stopped, and the lease of the run in progress.
pub fn task_checkpoint(task: &str) -> Key {
    Key::new(task_partition(task), "CHECKPOINT")
}

/// What a task keeps from one finished run to the next (a watermark).
pub fn task_state(task: &str) -> Key {
    Key::new(task_partition(task), "STATE")
}

/// The record of one run of a task; run ids are ULIDs, so newest first is descending SK.
pub fn task_run(task: &str, run_id: &str) -> Key {
    Key::new(task_partition(task), format!("{TASK_RUN_PREFIX}{run_id}"))
}

/// Prefix of a task's run records in its partition.
pub const TASK_RUN_PREFIX: &str = "RUN#";

/// GSI1 keys of a run record: every task's runs in time order.
pub fn task_run_index(run_id: &str) -> (String, String) {
    ("TASKRUNS".into(), run_id.to_owned())
}

/// Marks an effect of a task done once for `subject` (a flagged pattern, say), with a TTL.
pub fn task_marker(task: &str, subject: &str) -> Key {
    Key::new(format!("TASKMARK#{task}#{subject}"), "MARK")
}

/// Slots of a day's event counts (`activity::day_counts`): a stream batch adds to the slot its
/// id hashes to, so concurrent batches spread over 16 items.
pub const DAY_COUNT_SLOTS: u32 = 16;

/// One slot of the event counts of one UTC day (`yyyy-mm-dd`), kept from the table's stream:
/// an attribute per event type.
pub fn day_count(day: &str, slot: u32) -> Key {
    Key::new(format!("DAYCOUNT#{day}#{slot:02}"), "COUNT")
}

/// The slot of a stream batch's counts.
pub fn day_count_slot(batch_id: &str) -> u32 {
    shard_of(batch_id, DAY_COUNT_SLOTS)
}

/// The marker of a stream batch applied to the day counts (kept two days, then expires): a
/// redelivered batch finds it and adds nothing.
pub fn stream_batch(batch_id: &str) -> Key {
    Key::new(format!("STREAMBATCH#{batch_id}"), "APPLIED")
}

/// The analytics report of one UTC day (`yyyy-mm-dd`).
pub fn daily_report(day: &str) -> Key {
    Key::new(format!("REPORT#{day}"), "REPORT")
}

/// GSI1 keys of a report: every report in date order.
pub fn daily_report_index(day: &str) -> (String, String) {
    ("REPORTS".into(), day.to_owned())
}

/// The session metrics of one UTC day (`yyyy-mm-dd`).
pub fn session_metrics(day: &str) -> Key {
    Key::new(format!("METRICS#SESSIONS#{day}"), "METRICS")
}

/// One notification of a user, in their partition (newest last in key order: ULIDs).
pub fn notification(user: UserId, id: &str) -> Key {
    Key::new(user_partition(user), format!("{NOTIFICATION_PREFIX}{id}"))
}

/// Prefix of a user's notifications in their partition.
pub const NOTIFICATION_PREFIX: &str = "NOTIF#";

/// The user's "read everything up to here" marker for notifications (written by the owner
/// only: no counter that other users' actions move).
pub fn notification_state(user: UserId) -> Key {
    Key::new(user_partition(user), "NOTIFSTATE")
}

/// GSI1 keys of a notification whose email waits for the user's digest: `DIGEST#<user id mod
/// 16>` / `<due ms, 15 digits>#<user id>#<ulid>` (sparse: removed once the digest is sent).
pub fn digest_index(due_ms: i64, user: UserId, id: &str) -> (String, String) {
    (
        format!("{DIGEST}#{:02}", user.0.rem_euclid(BOARD_SHARDS)),
        format!("{due_ms:015}#{}#{id}", user.0),
    )
}

/// Every GSI1 partition of the digest index.
pub fn digest_partitions() -> Vec<String> {
    (0..BOARD_SHARDS)
        .map(|s| format!("{DIGEST}#{s:02}"))
        .collect()
}

pub const DIGEST: &str = "DIGEST";
