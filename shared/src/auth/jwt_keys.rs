//! The JWT signing keys: Ed25519 seeds from configuration or a generated local file, the first
//! signing and all verifying (rotation), the JWKS document, and a cache of tokens already
//! verified in this process.

use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value as Json, json};

use super::jwt_claims::Claims;
use super::jwt_crypto::{pkcs8_der, seed_of_pkcs8};
use super::secrets::write_new_private_file;
use crate::config::SigningKeysSource;
use crate::error::Error;

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
    pub(super) fn verify(&self, token: &str, issuer: &str, audience: &str) -> Option<Claims> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::jwt_claims::TokenType;

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
