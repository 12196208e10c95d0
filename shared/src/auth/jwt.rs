//! JWTs signed with Ed25519 (`EdDSA`, `kid` header), key rotation, JWKS, refresh rotation
//! with reuse detection.
//!
//! Access and refresh tokens are bound to a login session (`sid`): an access token is honoured
//! only while its session is active, and a refresh token rotates at every use. A rotated refresh
//! token leaves a revocation item (`keys::revoked_token(jti)`) that lives until the token would
//! have expired, which is how a second use of it is recognised.

use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::client::ClientInfo;
use super::sessions;
use crate::App;
use crate::accounts::get_user;
use crate::activity::events::{EventType, NewEvent, Severity, log_event_best_effort};
use crate::config::SigningKeysSource;
use crate::error::Error;
use crate::model::UserId;
use crate::store::{Condition, Item, StoreError, Transaction, TxOp, Value, keys};

/// The one answer to every token that does not pass, whatever the reason: a client learns
/// nothing about which check failed.
pub const INVALID_TOKEN: &str = "Token is invalid or expired.";

/// Tokens longer than this are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 4096;

/// Key ids: short, printable, safe in a header and a file.
const MAX_KID_CHARS: usize = 64;

/// One signing key: the private half as the PKCS#8 document jsonwebtoken signs with, and the
/// public half derived when first needed.
struct SigningKey {
    kid: String,
    /// The seed's only copy in the key set (see [`seed_of_pkcs8`]).
    encoding: EncodingKey,
    /// Derived at the first verification or JWKS answer, not at start: deriving costs a
    /// quarter of a million instructions of a cold start, and many processes never need it (the
    /// scheduled tasks and the badge-events consumer never verify; login, registration and
    /// cookie or API-token requests neither).
    public: OnceLock<PublicKey>,
}

struct PublicKey {
    decoding: DecodingKey,
    /// base64url: the JWK `x`.
    x: String,
}

/// The signing keys: the first signs, all verify.
///
/// Rotation: put a new key first and keep the old ones until the longest-lived token they
/// signed (a refresh token) has expired; then drop them.
pub struct KeySet {
    keys: Vec<SigningKey>,
    /// Tokens whose signature and claims already verified in this process, by SHA-256 of the
    /// token. Skips the signature check (tens of microseconds) on a token's later requests;
    /// expiry and the session are still checked on every request by the callers. Sound because
    /// a token never changes and the keys of a process never change (a key is withdrawn by
    /// deploying a new key set, which is a new process).
    verified: VerifiedCache,
}

/// A bounded map of verified tokens: when full it is emptied and starts over, which costs one
/// signature check per live token and keeps memory fixed.
#[derive(Default)]
struct VerifiedCache(std::sync::Mutex<std::collections::HashMap<[u8; 32], Claims>>);

/// Verified tokens remembered at most (about 0.5 KiB each).
const VERIFIED_CACHE_ENTRIES: usize = 8192;

impl VerifiedCache {
    fn digest(token: &str) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(token.as_bytes()).into()
    }

    fn get(&self, digest: &[u8; 32]) -> Option<Claims> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(digest)
            .cloned()
    }

    fn put(&self, digest: [u8; 32], claims: &Claims) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= VERIFIED_CACHE_ENTRIES {
            map.clear();
        }
        map.insert(digest, claims.clone());
    }
}

impl fmt::Debug for KeySet {
    // Key ids only: the private keys never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("kids", &self.kids())
            .finish()
    }
}

/// The key-set document: `{"keys": [{"kid": "...", "private_key": "<base64url seed>"}]}`.
impl KeySet {
    /// Loads (or, for a file that does not exist yet, generates and saves) the key set.
    ///
    /// The error names what is wrong and never quotes the document (it holds secrets).
    pub fn load(source: &SigningKeysSource) -> Result<KeySet, String> {
        match source {
            SigningKeysSource::Inline(document) => KeySet::parse(document),
            SigningKeysSource::File(path) => load_or_create_file(path),
        }
    }

    /// Parses a key-set document.
    pub fn parse(document: &str) -> Result<KeySet, String> {
        // Every signature goes through a key set, so this is before the first one.
        super::jwt_crypto::install();
        let json: Json = serde_json::from_str(document).map_err(|e| {
            // Position only: serde's messages can quote the input.
            format!(
                "not a JSON document (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        let entries = json
            .get("keys")
            .and_then(Json::as_array)
            .ok_or("expected an object with a `keys` array")?;
        if entries.is_empty() {
            return Err("`keys` is empty: at least one key is needed to sign".into());
        }
        let mut keys: Vec<SigningKey> = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let kid = entry
                .get("kid")
                .and_then(Json::as_str)
                .ok_or_else(|| format!("keys[{i}]: `kid` must be a string"))?;
            if !valid_kid(kid) {
                return Err(format!(
                    "keys[{i}]: `kid` must be 1 to {MAX_KID_CHARS} letters, digits, `.`, `_` or `-`"
                ));
            }
            if keys.iter().any(|k| k.kid == kid) {
                return Err(format!("keys[{i}]: duplicate kid `{kid}`"));
            }
            let seed = entry
                .get("private_key")
                .and_then(Json::as_str)
                .and_then(decode_seed)
                .ok_or_else(|| {
                    format!(
                        "keys[{i}] (kid `{kid}`): `private_key` must be the base64url encoding \
                         of a 32-byte Ed25519 seed"
                    )
                })?;
            keys.push(SigningKey::from_seed(kid, &seed));
        }
        Ok(KeySet {
            keys,
            verified: VerifiedCache::default(),
        })
    }

    /// A key set of one freshly generated key, as a document to store (for accounts-local).
    pub fn generate_document(kid: &str) -> String {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the OS random source is available");
        let document = json!({
            "keys": [{ "kid": kid, "private_key": URL_SAFE_NO_PAD.encode(seed) }]
        });
        serde_json::to_string_pretty(&document).unwrap_or_default()
    }

    /// The key ids, signing key first.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }

    /// The public keys as a JWKS document.
    pub fn jwks(&self) -> Json {
        let keys: Vec<Json> = self
            .keys
            .iter()
            .map(|k| {
                json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": k.public().x,
                    "kid": k.kid,
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        json!({ "keys": keys })
    }

    /// Signs claims with the first key (its `kid` in the header).
    pub fn sign(&self, claims: &Claims) -> Result<String, Error> {
        let key = &self.keys[0];
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|e| Error::Internal(format!("signing a token: {e}")))
    }

    /// Checks the algorithm, the key id and the signature, then issuer and audience. Expiry and
    /// type are the caller's (they need the clock and the context). `None` on any failure.
    fn verify(&self, token: &str, issuer: &str, audience: &str) -> Option<Claims> {
        if token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let digest = VerifiedCache::digest(token);
        if let Some(claims) = self.verified.get(&digest) {
            // Issuer and audience are part of what was verified; the configuration that set
            // them does not change within a process, but check them anyway: it is cheap.
            if claims.iss == issuer && claims.aud == audience {
                return Some(claims);
            }
        }
        let claims = self.verify_signature(token, issuer, audience)?;
        self.verified.put(digest, &claims);
        Some(claims)
    }

    fn verify_signature(&self, token: &str, issuer: &str, audience: &str) -> Option<Claims> {
        // `alg: none` and unknown algorithms do not even parse as a header.
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::EdDSA {
            return None;
        }
        let kid = header.kid?;
        let key = self.keys.iter().find(|k| k.kid == kid)?;

        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        // Expiry is checked against the App's clock, not the system's.
        validation.validate_exp = false;
        validation.leeway = 0;
        let data =
            jsonwebtoken::decode::<Claims>(token, &key.public().decoding, &validation).ok()?;
        Some(data.claims)
    }
}

impl SigningKey {
    fn from_seed(kid: &str, seed: &[u8; 32]) -> SigningKey {
        SigningKey {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_ed_der(&pkcs8_der(seed)),
            public: OnceLock::new(),
        }
    }

    fn public(&self) -> &PublicKey {
        self.public.get_or_init(|| {
            let seed = seed_of_pkcs8(self.encoding.as_bytes())
                .expect("the document is the one from_seed wrote with pkcs8_der");
            let public = ed25519_dalek::SigningKey::from_bytes(&seed)
                .verifying_key()
                .to_bytes();
            PublicKey {
                decoding: DecodingKey::from_ed_der(&public),
                x: URL_SAFE_NO_PAD.encode(public),
            }
        })
    }
}

/// The fixed prefix of an Ed25519 PKCS#8 (RFC 5958 v1) document, as RFC 8410 section 7 lays it
/// out: version 0, algorithm id-Ed25519, an octet string in an octet string; the 32-byte seed
/// follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The PKCS#8 document of an Ed25519 seed: what jsonwebtoken's `EncodingKey` holds.
pub(super) fn pkcs8_der(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = Vec::with_capacity(PKCS8_ED25519_PREFIX.len() + seed.len());
    der.extend_from_slice(&PKCS8_ED25519_PREFIX);
    der.extend_from_slice(seed);
    der
}

/// The seed back out of a document [`pkcs8_der`] wrote; `None` for anything else.
pub(super) fn seed_of_pkcs8(der: &[u8]) -> Option<[u8; 32]> {
    der.strip_prefix(&PKCS8_ED25519_PREFIX)?.try_into().ok()
}

fn decode_seed(text: &str) -> Option<[u8; 32]> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .ok()?;
    bytes.try_into().ok()
}

fn valid_kid(kid: &str) -> bool {
    (1..=MAX_KID_CHARS).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The key file of accounts-local: read it, or create it with one new key (owner-only).
fn load_or_create_file(path: &Path) -> Result<KeySet, String> {
    let shown = path.display();
    match std::fs::read_to_string(path) {
        Ok(document) => {
            warn_if_readable_by_others(path);
            KeySet::parse(&document).map_err(|reason| format!("{shown}: {reason}"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let kid = format!(
                "local-{}",
                ulid::Ulid::new().to_string().to_ascii_lowercase()
            );
            let document = KeySet::generate_document(&kid);
            match write_new_private_file(path, &document) {
                Ok(()) => {
                    tracing::info!(path = %shown, kid = %kid, "generated a JWT signing key");
                    KeySet::parse(&document).map_err(|reason| format!("{shown}: {reason}"))
                }
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let document = std::fs::read_to_string(path)
                        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
                    KeySet::parse(&document).map_err(|reason| format!("{shown}: {reason}"))
                }
                Err(e) => Err(format!("{shown}: cannot create: {e}")),
            }
        }
        Err(e) => Err(format!("{shown}: cannot read: {e}")),
    }
}

/// Writes a file that must not exist yet, readable by its owner only, so that no other
/// process ever sees it half written: a private temporary file, then a hard link to the final
/// name (which fails if that name exists).
pub(super) fn write_new_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;

    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp-{}", ulid::Ulid::new()));
    let temporary = std::path::PathBuf::from(temporary);

    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(contents.as_bytes())?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    linked
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "the JWT key file is readable by others: chmod 600");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    Access,
    Refresh,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    /// Not before: this service never sets it, but honours it in a token that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub token_type: TokenType,
    /// The session's assurance level when the token was issued (1 or 2; 0 in tokens issued
    /// before second factors). Informative: what a request may do is decided from the session.
    #[serde(default)]
    pub aal: u8,
    /// The session's authentication methods when the token was issued (RFC 8176 names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

impl Claims {
    /// The user the token speaks for (`sub`).
    pub fn user_id(&self) -> Option<UserId> {
        self.sub.parse().ok()
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_default()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_expires_at: DateTime<Utc>,
}

fn claims(app: &App, session: &sessions::SessionRecord, token_type: TokenType) -> Claims {
    let user = session.user_id;
    let session_id = &session.session_id;
    let now = app.clock.epoch_seconds();
    let ttl = match token_type {
        TokenType::Access => app.config.auth.access_ttl_secs,
        TokenType::Refresh => app.config.auth.refresh_ttl_secs,
    };
    Claims {
        sub: user.to_string(),
        sid: session_id.to_owned(),
        jti: ulid::Ulid::new().to_string(),
        iat: now,
        nbf: None,
        exp: now.saturating_add(ttl),
        iss: app.config.auth.jwt_issuer.clone(),
        aud: app.config.auth.jwt_audience.clone(),
        token_type,
        aal: session.aal,
        amr: session.amr.clone(),
    }
}

/// A new access and refresh pair for a session, carrying its assurance (`aal`, `amr`).
pub fn issue_pair(app: &App, session: &sessions::SessionRecord) -> Result<TokenPair, Error> {
    let access = claims(app, session, TokenType::Access);
    let refresh = claims(app, session, TokenType::Refresh);
    Ok(TokenPair {
        access: app.keys.sign(&access)?,
        refresh: app.keys.sign(&refresh)?,
        access_expires_at: access.expires_at(),
        refresh_expires_at: refresh.expires_at(),
    })
}

/// A new access token for a session (auto-renewal).
pub fn issue_access(app: &App, session: &sessions::SessionRecord) -> Result<String, Error> {
    app.keys.sign(&claims(app, session, TokenType::Access))
}

fn invalid() -> Error {
    Error::Unauthenticated(INVALID_TOKEN.into())
}

/// How far in the future a token's `iat` or `nbf` may lie: clocks of instances differ a little.
pub const CLOCK_SKEW_LEEWAY_SECS: i64 = 30;

/// Verifies signature, algorithm, key id, issuer, audience and expiry, whatever the type.
/// Every failure is `Error::Unauthenticated` with the same detail.
pub fn decode_any(app: &App, token: &str) -> Result<Claims, Error> {
    let auth = &app.config.auth;
    let claims = app
        .keys
        .verify(token, &auth.jwt_issuer, &auth.jwt_audience)
        .ok_or_else(invalid)?;
    // A token is good up to, not including, its `exp` second; one issued or valid only in the
    // future (beyond clock skew between instances) was not made by this service's clock.
    let now = app.clock.epoch_seconds();
    let from_the_future = claims.iat > now + CLOCK_SKEW_LEEWAY_SECS
        || claims
            .nbf
            .is_some_and(|nbf| nbf > now + CLOCK_SKEW_LEEWAY_SECS);
    if claims.exp <= now || from_the_future || claims.user_id().is_none() {
        return Err(invalid());
    }
    Ok(claims)
}

/// Verifies signature, algorithm, key id, issuer, audience, expiry and type; every failure is
/// `Error::Unauthenticated` with the same detail.
pub fn decode(app: &App, token: &str, expected: TokenType) -> Result<Claims, Error> {
    let claims = decode_any(app, token)?;
    if claims.token_type != expected {
        return Err(invalid());
    }
    Ok(claims)
}

/// Whether a token would be honoured now: valid, its session active, and (for a refresh
/// token) not yet rotated or revoked. `POST /api/auth/jwt/verify/`.
pub async fn verify(app: &App, token: &str) -> Result<Claims, Error> {
    let claims = decode_any(app, token)?;
    session_of(app, &claims).await?;
    if claims.token_type == TokenType::Refresh
        && app
            .table
            .get(&keys::revoked_token(&claims.jti), true)
            .await?
            .is_some()
    {
        return Err(invalid());
    }
    Ok(claims)
}

/// The token's session, when it is active and belongs to the token's user.
async fn session_of(app: &App, claims: &Claims) -> Result<sessions::SessionRecord, Error> {
    match sessions::active_session(app, &claims.sid).await? {
        Some(session) if Some(session.user_id) == claims.user_id() => Ok(session),
        _ => Err(invalid()),
    }
}

/// The revocation item of a refresh token: kept until the token would have expired. It names
/// no user (only the token and its session, both random ids), so an erased account leaves
/// nothing that points back to it even while these items wait for their TTL.
fn revocation_item(claims: &Claims, now: i64, reason: &str) -> Item {
    let mut item = keys::revoked_token(&claims.jti).to_item();
    item.insert("jti".into(), Value::S(claims.jti.clone()));
    item.insert("session_id".into(), Value::S(claims.sid.clone()));
    item.insert("revoked_at".into(), Value::Int(now));
    item.insert("reason".into(), Value::S(reason.into()));
    item.insert(keys::attr::EXPIRES_AT.into(), Value::Int(claims.exp));
    item
}

/// `POST /api/auth/jwt/refresh/`: rotates a refresh token into a new pair for the same session.
///
/// The operations of a refresh token's rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RotationOp {
    /// The old token's revocation, put if absent (a second use finds it).
    Revoke,
    /// The session is still active.
    SessionActive,
}

/// The old token is revoked in the same transaction that checks it was not revoked before, so
/// of two concurrent uses exactly one rotates. A second use within the grace window (parallel
/// tabs) is answered with a fresh pair; after it, the token is taken as stolen: the whole
/// session ends and a high-severity `token_reuse_detected` event is logged.
pub async fn refresh(
    app: &App,
    refresh_token: &str,
    client: &ClientInfo,
) -> Result<TokenPair, Error> {
    let claims = decode(app, refresh_token, TokenType::Refresh)?;
    let session = session_of(app, &claims).await?;
    let user = session.user_id;
    // A suspended account gets no new tokens, and its session ends (as at any other request).
    let record = get_user(app, user).await?.ok_or_else(invalid)?;
    if record.is_suspended {
        sessions::end_session(app, &claims.sid).await?;
        return Err(Error::Forbidden(super::principal::suspended_detail(
            &record,
        )));
    }
    let now = app.clock.epoch_seconds();

    let rotate = TxOp::Put {
        item: revocation_item(&claims, now, "rotated"),
        condition: Some(Condition::item_absent()),
    };
    // The session must still be active when the rotation commits: a logout or a reuse kill
    // that lands between the read above and this write wins.
    let still_active = TxOp::Check {
        key: keys::session(&claims.sid),
        condition: Condition::eq("is_active", true),
    };
    let rotation = Transaction::new()
        .with(RotationOp::Revoke, rotate)
        .with(RotationOp::SessionActive, still_active);
    match rotation.commit(&*app.table).await {
        Ok(()) => {
            let pair = issue_pair(app, &session)?;
            let event = NewEvent::new(EventType::TokenRefresh, Some(user))
                .session(&claims.sid)
                .client(client)
                .description("Refresh token rotated");
            // A refresh is a visit too (the first of the user's day records it).
            let visit = async {
                if crate::badges::stats::visit_due(app, &record) {
                    let zone = crate::badges::stats::visit_zone(app, user).await;
                    crate::badges::stats::record_visit(app, &record, &zone, true).await;
                }
            };
            tokio::join!(log_event_best_effort(app, event), visit);
            Ok(pair)
        }
        Err(failure) if failure.condition_failed(RotationOp::SessionActive) => Err(invalid()),
        Err(failure) if failure.condition_failed(RotationOp::Revoke) => {
            reused(app, &claims, &session, client, now).await
        }
        Err(failure) => Err(failure.into()),
    }
}

/// A refresh token that was already rotated (or revoked) is presented again.
async fn reused(
    app: &App,
    claims: &Claims,
    session: &sessions::SessionRecord,
    client: &ClientInfo,
    now: i64,
) -> Result<TokenPair, Error> {
    let user = session.user_id;
    let revoked = app
        .table
        .get(&keys::revoked_token(&claims.jti), true)
        .await?;
    let revoked_at = revoked
        .as_ref()
        .and_then(|item| item.get("revoked_at"))
        .and_then(Value::as_i64)
        .unwrap_or(i64::MIN);
    let rotated = revoked
        .as_ref()
        .and_then(|item| item.get("reason"))
        .and_then(Value::as_str)
        .is_some_and(|reason| reason == "rotated");

    if rotated && now.saturating_sub(revoked_at) <= app.config.auth.refresh_reuse_grace_secs {
        let pair = issue_pair(app, session)?;
        let event = NewEvent::new(EventType::TokenRefresh, Some(user))
            .session(&claims.sid)
            .client(client)
            .description("Rotated refresh token reused within the grace window")
            .metadata(json!({ "reuse_within_grace": true }));
        log_event_best_effort(app, event).await;
        return Ok(pair);
    }

    tracing::warn!(
        user_id = %user,
        session_id = %claims.sid,
        "refresh token reused after rotation: ending the session"
    );
    crate::metrics::emit(crate::metrics::Metric::RefreshReuse);
    sessions::end_session(app, &claims.sid).await?;
    let event = NewEvent::new(EventType::TokenReuseDetected, Some(user))
        .session(&claims.sid)
        .client(client)
        .severity(Severity::High)
        .description("A rotated refresh token was used again; the session was ended")
        .metadata(json!({ "seconds_since_rotation": now.saturating_sub(revoked_at).max(0) }))
        .failed("refresh token reuse");
    log_event_best_effort(app, event).await;
    Err(invalid())
}

/// `POST /api/auth/jwt/logout/`: revokes the refresh token and ends its session, so the
/// session's access tokens stop working at once (every access-token request checks it).
pub async fn logout(app: &App, refresh_token: &str, client: &ClientInfo) -> Result<(), Error> {
    let claims = decode(app, refresh_token, TokenType::Refresh)?;
    let user = claims.user_id().ok_or_else(invalid)?;
    let now = app.clock.epoch_seconds();
    let revoke = revocation_item(&claims, now, "logout");
    match app.table.put(revoke, Some(Condition::item_absent())).await {
        // Already rotated or revoked: the session still ends.
        Ok(()) | Err(StoreError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    sessions::end_session(app, &claims.sid).await?;
    let event = NewEvent::new(EventType::Logout, Some(user))
        .session(&claims.sid)
        .client(client)
        .description("JWT logout");
    log_event_best_effort(app, event).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(keys: &[(&str, [u8; 32])]) -> String {
        let keys: Vec<Json> = keys
            .iter()
            .map(|(kid, seed)| json!({ "kid": kid, "private_key": URL_SAFE_NO_PAD.encode(seed) }))
            .collect();
        json!({ "keys": keys }).to_string()
    }

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "7".into(),
            sid: "S".into(),
            jti: "J".into(),
            iat: 0,
            nbf: None,
            exp,
            iss: "iss".into(),
            aud: "aud".into(),
            token_type: TokenType::Access,
            aal: 1,
            amr: vec!["pwd".into()],
        }
    }

    #[test]
    fn the_verified_cache_never_admits_what_the_signature_check_refuses() {
        let set = KeySet::parse(&document(&[("a", [7; 32])])).unwrap();
        let token = set.sign(&claims(i64::MAX)).unwrap();
        // First check verifies the signature, the second comes from the cache.
        assert_eq!(set.verify(&token, "iss", "aud"), Some(claims(i64::MAX)));
        assert_eq!(set.verify(&token, "iss", "aud"), Some(claims(i64::MAX)));
        // A tampered token is another digest: it goes through the signature check and fails.
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(set.verify(&tampered, "iss", "aud"), None);
        // The cached claims still answer only for their issuer and audience.
        assert_eq!(set.verify(&token, "other", "aud"), None);
        assert_eq!(set.verify(&token, "iss", "other"), None);
    }

    #[test]
    fn first_key_signs_and_every_key_verifies() {
        let old = KeySet::parse(&document(&[("old", [1; 32])])).unwrap();
        let both = KeySet::parse(&document(&[("new", [2; 32]), ("old", [1; 32])])).unwrap();
        let token = old.sign(&claims(i64::MAX)).unwrap();
        assert_eq!(both.verify(&token, "iss", "aud"), Some(claims(i64::MAX)));
        let token = both.sign(&claims(i64::MAX)).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(),
            Some("new")
        );
        assert_eq!(old.verify(&token, "iss", "aud"), None, "unknown kid");
        assert_eq!(both.verify(&token, "other", "aud"), None, "issuer");
        assert_eq!(both.verify(&token, "iss", "other"), None, "audience");
        assert_eq!(both.kids(), vec!["new", "old"]);
    }

    #[test]
    fn a_key_of_the_same_kid_but_another_seed_does_not_verify() {
        let a = KeySet::parse(&document(&[("k", [1; 32])])).unwrap();
        let b = KeySet::parse(&document(&[("k", [3; 32])])).unwrap();
        assert!(
            b.verify(&a.sign(&claims(i64::MAX)).unwrap(), "iss", "aud")
                .is_none()
        );
    }

    #[test]
    fn jwks_publishes_the_public_keys() {
        let seed = [5u8; 32];
        let set = KeySet::parse(&document(&[("a", seed), ("b", [6; 32])])).unwrap();
        let jwks = set.jwks();
        let first = &jwks["keys"][0];
        let public = ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes();
        assert_eq!(first["x"], URL_SAFE_NO_PAD.encode(public));
        assert_eq!(first["kty"], "OKP");
        assert_eq!(first["crv"], "Ed25519");
        assert_eq!(first["alg"], "EdDSA");
        assert_eq!(first["kid"], "a");
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        assert!(
            !jwks.to_string().contains(&URL_SAFE_NO_PAD.encode(seed)),
            "no private key"
        );
    }

    #[test]
    fn invalid_documents_are_named_without_quoting_secrets() {
        let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA";
        let cases = [
            ("not json".to_owned(), "not a JSON document"),
            (json!({ "keys": secret }).to_string(), "`keys` array"),
            (json!({ "keys": [] }).to_string(), "empty"),
            (
                json!({ "keys": [{ "private_key": secret }] }).to_string(),
                "`kid`",
            ),
            (
                json!({ "keys": [{ "kid": "a b", "private_key": secret }] }).to_string(),
                "`kid`",
            ),
            (
                json!({ "keys": [{ "kid": "a", "private_key": secret }] }).to_string(),
                "32-byte",
            ),
            (
                json!({ "keys": [{ "kid": "a", "private_key": 5 }] }).to_string(),
                "32-byte",
            ),
            (document(&[("a", [1; 32]), ("a", [2; 32])]), "duplicate kid"),
        ];
        for (doc, expected) in cases {
            let err = KeySet::parse(&doc).unwrap_err();
            assert!(err.contains(expected), "{doc}: {err}");
            assert!(!err.contains(secret), "{err}");
        }
        let debug = format!("{:?}", KeySet::parse(&document(&[("a", [9; 32])])).unwrap());
        assert_eq!(debug, "KeySet { kids: [\"a\"] }");
    }

    #[test]
    fn the_key_file_is_created_private_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("keys.json");
        let source = SigningKeysSource::File(path.clone());
        let first = KeySet::load(&source).unwrap();
        let second = KeySet::load(&source).unwrap();
        assert_eq!(first.jwks(), second.jwks());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");

        std::fs::write(&path, "{}").unwrap();
        let err = KeySet::load(&source).unwrap_err();
        assert!(
            err.contains("keys.json") && err.contains("`keys` array"),
            "{err}"
        );
    }
}
