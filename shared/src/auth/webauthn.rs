//! The WebAuthn relying-party checks of a ceremony, on bytes: the client data, the
//! authenticator data, the attestation object of a registration, COSE public keys and the
//! signature of an assertion (W3C Web Authentication level 2, §7.1 and §7.2).
//!
//! Algorithms: ES256 (COSE -7, P-256 ECDSA with SHA-256, `p256`) and EdDSA (COSE -8, Ed25519,
//! `ed25519-dalek`); nothing else is offered or accepted, so no RSA. The CBOR and the
//! signature checks need the `passkeys` feature (only the auth function and accounts-local
//! link `p256` and `ciborium`); without it they answer [`Refusal::Unsupported`].
//!
//! Attestation: registrations ask for `none`; the statement of whatever format comes back is
//! not verified and decides nothing (no authenticator allow-list), so any format is taken and
//! only its authenticator data is read.
//!
//! What the passkey rules need of a ceremony (`auth/passkeys.rs` applies them): the client
//! data's type, challenge and origin; the authenticator data's RP id hash, user-present and
//! user-verified flags and sign counter; the credential id and public key of a registration.

use sha2::{Digest, Sha256};

/// COSE algorithm ids offered and accepted.
pub const COSE_ES256: i64 = -7;
pub const COSE_EDDSA: i64 = -8;

/// Authenticator data flags (§6.1).
const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_AT: u8 = 0x40;

/// Why a ceremony was refused. The messages are safe to show (no key material).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the {0} is not valid base64url")]
    Encoding(&'static str),
    #[error("clientDataJSON is not valid")]
    ClientData,
    #[error("the ceremony type is not {0}")]
    Type(&'static str),
    #[error("the origin is not one this service accepts")]
    Origin,
    #[error("the challenge is unknown, expired or already used")]
    Challenge,
    #[error("the authenticator data is not valid")]
    AuthenticatorData,
    #[error("the attestation object is not valid")]
    Attestation,
    #[error("the credential was made for another relying party")]
    RpId,
    #[error("the authenticator did not report user presence")]
    UserPresence,
    #[error("the authenticator did not verify the user")]
    UserVerification,
    #[error("the credential id does not match the authenticator data")]
    CredentialId,
    #[error("the public key is not an ES256 or EdDSA key")]
    Algorithm,
    #[error("the signature does not verify")]
    Signature,
    #[error("the sign counter did not increase: the authenticator may be cloned")]
    Counter,
    #[error("passkeys are not available in this build")]
    Unsupported,
}

/// base64url without padding, as WebAuthn's JSON carries bytes.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url, padded or not.
pub fn from_b64url(text: &str, what: &'static str) -> Result<Vec<u8>, Refusal> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .map_err(|_| Refusal::Encoding(what))
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The client data of a ceremony, once its type and origin passed.
#[derive(Debug)]
pub struct ClientData {
    /// The challenge as the client echoed it (base64url).
    pub challenge: String,
    /// SHA-256 of the JSON as sent: what the assertion's signature covers.
    pub hash: [u8; 32],
}

/// Checks `clientDataJSON` (§7.1 steps 5-10, §7.2 steps 10-14): its `type`, an origin among
/// `origins`, not cross-origin. The challenge is returned for the caller to look up.
pub fn client_data(
    json: &[u8],
    expected_type: &'static str,
    origins: &[String],
) -> Result<ClientData, Refusal> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Raw {
        #[serde(rename = "type")]
        kind: String,
        challenge: String,
        origin: String,
        #[serde(default)]
        cross_origin: Option<bool>,
    }
    let raw: Raw = serde_json::from_slice(json).map_err(|_| Refusal::ClientData)?;
    if raw.kind != expected_type {
        return Err(Refusal::Type(expected_type));
    }
    let origin = raw.origin.trim_end_matches('/');
    if !origins.iter().any(|o| o == origin) || raw.cross_origin == Some(true) {
        return Err(Refusal::Origin);
    }
    Ok(ClientData {
        challenge: raw.challenge,
        hash: sha256(json),
    })
}

/// The parts of authenticator data the rules read.
#[derive(Debug)]
pub struct AuthenticatorData {
    pub sign_count: u32,
    /// Registration only: the credential id and its COSE public key as sent.
    pub attested: Option<(Vec<u8>, Vec<u8>)>,
}

/// Parses authenticator data and checks the RP id hash and the UP and UV flags.
pub fn authenticator_data(bytes: &[u8], rp_id: &str) -> Result<AuthenticatorData, Refusal> {
    if bytes.len() < 37 {
        return Err(Refusal::AuthenticatorData);
    }
    if bytes[..32] != sha256(rp_id.as_bytes()) {
        return Err(Refusal::RpId);
    }
    let flags = bytes[32];
    if flags & FLAG_UP == 0 {
        return Err(Refusal::UserPresence);
    }
    if flags & FLAG_UV == 0 {
        return Err(Refusal::UserVerification);
    }
    let sign_count = u32::from_be_bytes([bytes[33], bytes[34], bytes[35], bytes[36]]);
    let attested = if flags & FLAG_AT != 0 {
        // aaguid (16), credential id length (2), credential id, COSE key (CBOR), extensions.
        let rest = &bytes[37..];
        if rest.len() < 18 {
            return Err(Refusal::AuthenticatorData);
        }
        let id_len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
        let rest = &rest[18..];
        if id_len == 0 || id_len > 1023 || rest.len() < id_len {
            return Err(Refusal::AuthenticatorData);
        }
        let (id, key) = rest.split_at(id_len);
        let key_len = cbor_item_len(key)?;
        Some((id.to_vec(), key[..key_len].to_vec()))
    } else {
        None
    };
    Ok(AuthenticatorData {
        sign_count,
        attested,
    })
}

/// A registration's attestation object: its authenticator data (§7.1 step 11).
pub fn attestation_auth_data(attestation_object: &[u8]) -> Result<Vec<u8>, Refusal> {
    imp::attestation_auth_data(attestation_object)
}

fn cbor_item_len(bytes: &[u8]) -> Result<usize, Refusal> {
    imp::cbor_item_len(bytes)
}

/// The COSE algorithm of a public key, if it is a key this service verifies.
pub fn key_algorithm(cose_key: &[u8]) -> Result<i64, Refusal> {
    imp::parse_key(cose_key).map(|k| k.algorithm())
}

/// Verifies an assertion's signature: over the authenticator data followed by the SHA-256 of
/// the client data (§7.2 step 20).
pub fn verify_assertion(
    cose_key: &[u8],
    auth_data: &[u8],
    client_data_hash: &[u8; 32],
    signature: &[u8],
) -> Result<(), Refusal> {
    let mut signed = Vec::with_capacity(auth_data.len() + 32);
    signed.extend_from_slice(auth_data);
    signed.extend_from_slice(client_data_hash);
    imp::parse_key(cose_key)?.verify(&signed, signature)
}

/// The counter rule (§6.1.1): when either count is non-zero, the new one must be greater.
pub fn counter_ok(stored: u32, presented: u32) -> bool {
    (stored == 0 && presented == 0) || presented > stored
}

#[cfg(feature = "passkeys")]
mod imp {
    use ciborium::Value;

    use super::{COSE_EDDSA, COSE_ES256, Refusal};

    pub enum PublicKey {
        Es256(p256::ecdsa::VerifyingKey),
        EdDsa(ed25519_dalek::VerifyingKey),
    }

    impl PublicKey {
        pub fn algorithm(&self) -> i64 {
            match self {
                PublicKey::Es256(_) => COSE_ES256,
                PublicKey::EdDsa(_) => COSE_EDDSA,
            }
        }

        pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), Refusal> {
            match self {
                PublicKey::Es256(key) => {
                    use p256::ecdsa::signature::Verifier;
                    let signature = p256::ecdsa::Signature::from_der(signature)
                        .map_err(|_| Refusal::Signature)?;
                    key.verify(message, &signature)
                        .map_err(|_| Refusal::Signature)
                }
                PublicKey::EdDsa(key) => {
                    let signature = ed25519_dalek::Signature::from_slice(signature)
                        .map_err(|_| Refusal::Signature)?;
                    key.verify_strict(message, &signature)
                        .map_err(|_| Refusal::Signature)
                }
            }
        }
    }

    fn int(value: &Value) -> Option<i128> {
        value.as_integer().map(i128::from)
    }

    fn entry(map: &[(Value, Value)], label: i128) -> Option<&Value> {
        map.iter()
            .find(|(k, _)| int(k) == Some(label))
            .map(|(_, v)| v)
    }

    fn bytes32(value: Option<&Value>) -> Result<[u8; 32], Refusal> {
        value
            .and_then(Value::as_bytes)
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .ok_or(Refusal::Algorithm)
    }

    /// A COSE_Key (RFC 9053): EC2 P-256 with ES256, or OKP Ed25519 with EdDSA.
    pub fn parse_key(cose_key: &[u8]) -> Result<PublicKey, Refusal> {
        let value: Value = ciborium::from_reader(cose_key).map_err(|_| Refusal::Algorithm)?;
        let map = value.as_map().ok_or(Refusal::Algorithm)?;
        let kty = entry(map, 1).and_then(int);
        let alg = entry(map, 3).and_then(int);
        let crv = entry(map, -1).and_then(int);
        match (kty, alg, crv) {
            (Some(2), Some(-7), Some(1)) => {
                let x = bytes32(entry(map, -2))?;
                let y = bytes32(entry(map, -3))?;
                let mut sec1 = [0u8; 65];
                sec1[0] = 0x04;
                sec1[1..33].copy_from_slice(&x);
                sec1[33..].copy_from_slice(&y);
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                    .map(PublicKey::Es256)
                    .map_err(|_| Refusal::Algorithm)
            }
            (Some(1), Some(-8), Some(6)) => {
                let x = bytes32(entry(map, -2))?;
                ed25519_dalek::VerifyingKey::from_bytes(&x)
                    .map(PublicKey::EdDsa)
                    .map_err(|_| Refusal::Algorithm)
            }
            _ => Err(Refusal::Algorithm),
        }
    }

    /// The length of the CBOR item at the start of `bytes`.
    pub fn cbor_item_len(bytes: &[u8]) -> Result<usize, Refusal> {
        let mut rest = bytes;
        let _: Value = ciborium::from_reader(&mut rest).map_err(|_| Refusal::AuthenticatorData)?;
        Ok(bytes.len() - rest.len())
    }

    pub fn attestation_auth_data(object: &[u8]) -> Result<Vec<u8>, Refusal> {
        let value: Value = ciborium::from_reader(object).map_err(|_| Refusal::Attestation)?;
        let map = value.as_map().ok_or(Refusal::Attestation)?;
        let field = |name: &str| {
            map.iter()
                .find(|(k, _)| k.as_text() == Some(name))
                .map(|(_, v)| v)
        };
        field("fmt")
            .and_then(Value::as_text)
            .ok_or(Refusal::Attestation)?;
        field("authData")
            .and_then(Value::as_bytes)
            .cloned()
            .ok_or(Refusal::Attestation)
    }
}

#[cfg(not(feature = "passkeys"))]
mod imp {
    use super::Refusal;

    pub enum PublicKey {}

    impl PublicKey {
        pub fn algorithm(&self) -> i64 {
            match *self {}
        }

        pub fn verify(&self, _message: &[u8], _signature: &[u8]) -> Result<(), Refusal> {
            match *self {}
        }
    }

    pub fn parse_key(_cose_key: &[u8]) -> Result<PublicKey, Refusal> {
        Err(Refusal::Unsupported)
    }

    pub fn cbor_item_len(_bytes: &[u8]) -> Result<usize, Refusal> {
        Err(Refusal::Unsupported)
    }

    pub fn attestation_auth_data(_object: &[u8]) -> Result<Vec<u8>, Refusal> {
        Err(Refusal::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_must_grow_unless_both_are_zero() {
        assert!(counter_ok(0, 0));
        assert!(counter_ok(0, 1));
        assert!(counter_ok(5, 6));
        assert!(!counter_ok(5, 5));
        assert!(!counter_ok(5, 4));
        assert!(!counter_ok(5, 0));
    }

    #[test]
    fn client_data_checks_type_and_origin() {
        let origins = vec!["http://localhost:3000".to_string()];
        let json = br#"{"type":"webauthn.get","challenge":"abc","origin":"http://localhost:3000"}"#;
        assert_eq!(
            client_data(json, "webauthn.get", &origins)
                .unwrap()
                .challenge,
            "abc"
        );
        assert_eq!(
            client_data(json, "webauthn.create", &origins).unwrap_err(),
            Refusal::Type("webauthn.create")
        );
        let evil = br#"{"type":"webauthn.get","challenge":"abc","origin":"https://evil.test"}"#;
        assert_eq!(
            client_data(evil, "webauthn.get", &origins).unwrap_err(),
            Refusal::Origin
        );
    }
}
