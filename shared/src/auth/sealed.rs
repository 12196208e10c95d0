//! Second-factor secrets at rest: sealed with ChaCha20-Poly1305 (RustCrypto's
//! `chacha20poly1305`) under a key from configuration, bound to the item they are stored in.
//!
//! The key set is `MFA_SECRET_KEYS`: comma-separated `<kid>:<base64url of 32 bytes>`; the
//! first key seals, every key opens (rotation: put a new key first, keep the old ones while
//! sealed secrets under them remain). accounts-local generates a key file in its data dir
//! (`MFA_SECRET_KEYS_FILE`), as it does for the JWT keys. A sealed value is
//! `<kid>.<base64url of nonce ‖ ciphertext ‖ tag>` with a random 96-bit nonce; the associated
//! data names the item (user and factor), so a sealed secret copied onto another factor does
//! not open.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::config::SecretKeysSource;

const NONCE_BYTES: usize = 12;

/// The keys that seal and open second-factor secrets; empty when the deployment has none
/// (second factors are then unavailable, and say so).
#[derive(Default)]
pub struct SealKeys {
    keys: Vec<(String, ChaCha20Poly1305)>,
}

impl fmt::Debug for SealKeys {
    // Key ids only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|(kid, _)| kid.as_str()).collect();
        f.debug_struct("SealKeys").field("kids", &kids).finish()
    }
}

impl SealKeys {
    /// Loads the keys; a file that does not exist yet is created with one new key.
    pub fn load(source: &SecretKeysSource) -> Result<SealKeys, String> {
        match source {
            SecretKeysSource::Unset => Ok(SealKeys::default()),
            SecretKeysSource::Inline(text) => SealKeys::parse(text),
            SecretKeysSource::File(path) => load_or_create(path),
        }
    }

    /// Parses `kid:key,kid:key`. Errors name the entry, never quote a key.
    pub fn parse(text: &str) -> Result<SealKeys, String> {
        let mut keys: Vec<(String, ChaCha20Poly1305)> = Vec::new();
        for (i, entry) in text.split(',').map(str::trim).enumerate() {
            let (kid, key) = entry
                .split_once(':')
                .ok_or_else(|| format!("entry {i}: expected `<kid>:<base64url key>`"))?;
            if kid.is_empty()
                || kid.len() > 32
                || !kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(format!(
                    "entry {i}: the kid must be 1 to 32 letters, digits, `-` or `_`"
                ));
            }
            if keys.iter().any(|(k, _)| k == kid) {
                return Err(format!("entry {i}: duplicate kid `{kid}`"));
            }
            let bytes = URL_SAFE_NO_PAD
                .decode(key.trim().trim_end_matches('='))
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| {
                    format!("entry {i} (kid `{kid}`): the key must be 32 bytes, base64url")
                })?;
            keys.push((
                kid.to_owned(),
                ChaCha20Poly1305::new(Key::from_slice(&bytes)),
            ));
        }
        Ok(SealKeys { keys })
    }

    /// A new key set of one random key, as the text to store.
    pub fn generate(kid: &str) -> String {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS random source is available");
        format!("{kid}:{}", URL_SAFE_NO_PAD.encode(key))
    }

    /// Whether any key is configured.
    pub fn available(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Seals `plaintext` for the item named by `context`; `None` without keys.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Option<String> {
        let (kid, cipher) = self.keys.first()?;
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).expect("the OS random source is available");
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Some(format!("{kid}.{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Opens what [`SealKeys::seal`] made for the same `context`; `None` for an unknown key,
    /// another context or a changed value.
    pub fn open(&self, sealed: &str, context: &str) -> Option<Vec<u8>> {
        let (kid, body) = sealed.split_once('.')?;
        let (_, cipher) = self.keys.iter().find(|(k, _)| k == kid)?;
        let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
        if bytes.len() <= NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .ok()
    }
}

/// accounts-local's key file: read it, or create it (owner-only) with one new key.
fn load_or_create(path: &Path) -> Result<SealKeys, String> {
    let shown = path.display();
    match std::fs::read_to_string(path) {
        Ok(text) => SealKeys::parse(text.trim()).map_err(|e| format!("{shown}: {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let kid = format!(
                "local-{}",
                &ulid::Ulid::new().to_string().to_ascii_lowercase()[..10]
            );
            let text = SealKeys::generate(&kid);
            match super::secrets::write_new_private_file(path, &text) {
                Ok(()) => {
                    tracing::info!(path = %shown, kid = %kid, "generated a second-factor secret key");
                    SealKeys::parse(&text).map_err(|e| format!("{shown}: {e}"))
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
                    SealKeys::parse(text.trim()).map_err(|e| format!("{shown}: {e}"))
                }
                Err(e) => Err(format!("{shown}: cannot create: {e}")),
            }
        }
        Err(e) => Err(format!("{shown}: cannot read: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_in_their_context_and_under_a_known_key() {
        let old = SealKeys::parse(&SealKeys::generate("old")).unwrap();
        let sealed = old.seal(b"secret", "USER#1/F1").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(old.open(&sealed, "USER#1/F1").unwrap(), b"secret");
        assert_eq!(old.open(&sealed, "USER#2/F1"), None, "another item");
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(old.open(&tampered, "USER#1/F1"), None);

        // Rotation: the new key seals, the old one still opens.
        let both = format!("{},{}", SealKeys::generate("new"), SealKeys::generate("x"));
        let rotated = SealKeys::parse(&both).unwrap();
        assert_eq!(rotated.open(&sealed, "USER#1/F1"), None, "unknown kid");
        assert!(rotated.seal(b"s", "c").unwrap().starts_with("new."));
        assert!(!SealKeys::default().available());
    }

    #[test]
    fn bad_key_sets_are_named_without_the_key() {
        for (text, expected) in [
            ("nokid", "expected"),
            ("a:short", "32 bytes"),
            ("a b:AAAA", "kid"),
        ] {
            let err = SealKeys::parse(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
        let key = SealKeys::generate("a");
        let err = SealKeys::parse(&format!("{key},{key}")).unwrap_err();
        assert!(
            err.contains("duplicate") && !err.contains(&key[2..]),
            "{err}"
        );
    }
}
