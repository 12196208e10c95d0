//! jsonwebtoken's cryptography, reduced to the one algorithm this service signs with: Ed25519
//! (`EdDSA`), on ed25519-dalek.
//!
//! jsonwebtoken's `rust_crypto` provider dispatches over every JWS algorithm at run time, so it
//! links RSA, P-256, P-384 and HMAC into every binary (about 0.6 MB of a function) although only
//! EdDSA is ever accepted (`KeySet::verify_signature` refuses any other `alg` before a key is
//! touched). Any other algorithm asked of this provider is an `UnsupportedAlgorithm` error,
//! never a panic.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use sha2::Digest as _;

/// The provider, installed once per process by [`install`].
static EDDSA_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(ErrorKind::UnsupportedAlgorithm.into()),
        rsa_pub_components_from_public_key: |_| Err(ErrorKind::UnsupportedAlgorithm.into()),
        ec_pub_components_from_private_key: |_, _| Err(ErrorKind::UnsupportedAlgorithm.into()),
        ed_pub_components_from_private_key: ed_public_key_of,
        compute_digest: digest,
    },
};

/// Makes this the process's provider. Called before the first signature (when a key set is
/// built); later calls do nothing. When a test build also enables jsonwebtoken's own
/// `rust_crypto` provider and something used it first, that one stays: it verifies EdDSA too.
pub fn install() {
    if CryptoProvider::try_get_default().is_none() {
        let _ = EDDSA_ONLY.install_default();
    }
}

/// The 32-byte seed of the PKCS#8 document `pkcs8_der` writes.
fn seed_of(key: &EncodingKey) -> Result<[u8; 32]> {
    if key.family() != AlgorithmFamily::Ed {
        return Err(ErrorKind::InvalidEddsaKey.into());
    }
    seed_of_pkcs8(key.as_bytes()).ok_or_else(|| ErrorKind::InvalidEddsaKey.into())
}

struct Ed25519Signer(ed25519_dalek::SigningKey);

impl signature::Signer<Vec<u8>> for Ed25519Signer {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(self.0.sign(message).to_bytes().to_vec())
    }
}

impl JwtSigner for Ed25519Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct Ed25519Verifier(ed25519_dalek::VerifyingKey);

impl signature::Verifier<Vec<u8>> for Ed25519Verifier {
    fn verify(&self, message: &[u8], sig: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        let sig = ed25519_dalek::Signature::from_slice(sig)?;
        // Strict: refuses the non-canonical and small-order forms a plain `verify` accepts.
        self.0.verify_strict(message, &sig)
    }
}

impl JwtVerifier for Ed25519Verifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    if *algorithm != Algorithm::EdDSA {
        return Err(ErrorKind::UnsupportedAlgorithm.into());
    }
    let seed = seed_of(key)?;
    Ok(Box::new(Ed25519Signer(
        ed25519_dalek::SigningKey::from_bytes(&seed),
    )))
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    if *algorithm != Algorithm::EdDSA || key.family() != AlgorithmFamily::Ed {
        return Err(ErrorKind::UnsupportedAlgorithm.into());
    }
    let public: &[u8; 32] = key
        .try_get_as_bytes()?
        .try_into()
        .map_err(|_| ErrorKind::InvalidEddsaKey)?;
    let key =
        ed25519_dalek::VerifyingKey::from_bytes(public).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(Box::new(Ed25519Verifier(key)))
}

fn ed_public_key_of(pkcs8: &[u8], curve: &EllipticCurve) -> Result<Vec<u8>> {
    if *curve != EllipticCurve::Ed25519 {
        return Err(ErrorKind::UnsupportedAlgorithm.into());
    }
    let seed = seed_of(&EncodingKey::from_ed_der(pkcs8))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes()
        .to_vec())
}

fn digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>> {
    Ok(match hash {
        ThumbprintHash::SHA256 => sha2::Sha256::digest(data).to_vec(),
        ThumbprintHash::SHA384 => sha2::Sha384::digest(data).to_vec(),
        ThumbprintHash::SHA512 => sha2::Sha512::digest(data).to_vec(),
        _ => return Err(ErrorKind::UnsupportedAlgorithm.into()),
    })
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

#[cfg(test)]
mod tests {
    use jsonwebtoken::signature::Signer as _;

    use super::*;

    const SEED: [u8; 32] = [7; 32];

    fn keys() -> (EncodingKey, DecodingKey) {
        let public = ed25519_dalek::SigningKey::from_bytes(&SEED)
            .verifying_key()
            .to_bytes();
        (
            EncodingKey::from_ed_der(&super::pkcs8_der(&SEED)),
            DecodingKey::from_ed_der(&public),
        )
    }

    #[test]
    fn signs_and_verifies_eddsa_as_ed25519_dalek_does() {
        let (encoding, decoding) = keys();
        let message = b"header.claims".to_vec();
        let sig = signer(&Algorithm::EdDSA, &encoding)
            .unwrap()
            .try_sign(&message)
            .unwrap();
        // The same signature ed25519-dalek gives (Ed25519 is deterministic).
        let expected = ed25519_dalek::SigningKey::from_bytes(&SEED).sign(&message);
        assert_eq!(sig, expected.to_bytes().to_vec());

        let check = verifier(&Algorithm::EdDSA, &decoding).unwrap();
        assert!(check.verify(&message, &sig).is_ok());
        assert!(check.verify(b"header.claimz", &sig).is_err());
        let mut flipped = sig.clone();
        flipped[10] ^= 1;
        assert!(check.verify(&message, &flipped).is_err());
        assert!(check.verify(&message, &sig[..63].to_vec()).is_err());
    }

    #[test]
    fn every_other_algorithm_is_an_error_not_a_panic() {
        let (encoding, decoding) = keys();
        let hmac_key = EncodingKey::from_secret(b"secret").unwrap();
        for algorithm in [
            Algorithm::HS256,
            Algorithm::HS512,
            Algorithm::RS256,
            Algorithm::PS256,
            Algorithm::ES256,
            Algorithm::ES384,
        ] {
            assert!(signer(&algorithm, &encoding).is_err(), "{algorithm:?}");
            assert!(signer(&algorithm, &hmac_key).is_err(), "{algorithm:?}");
            assert!(verifier(&algorithm, &decoding).is_err(), "{algorithm:?}");
        }
        // An HMAC secret is no Ed25519 key, whatever the algorithm asked.
        assert!(signer(&Algorithm::EdDSA, &hmac_key).is_err());
        assert!(
            verifier(
                &Algorithm::EdDSA,
                &DecodingKey::from_secret(b"secret").unwrap()
            )
            .is_err()
        );
        assert!((EDDSA_ONLY.key_utils.rsa_pub_components_from_public_key)(b"x").is_err());
    }

    #[test]
    fn the_public_key_comes_from_the_pkcs8_document() {
        let public = ed_public_key_of(&super::pkcs8_der(&SEED), &EllipticCurve::Ed25519).unwrap();
        let expected = ed25519_dalek::SigningKey::from_bytes(&SEED)
            .verifying_key()
            .to_bytes();
        assert_eq!(public, expected.to_vec());
        assert!(ed_public_key_of(b"short", &EllipticCurve::Ed25519).is_err());
    }
}
