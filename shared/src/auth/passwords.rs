//! Password hashing with Argon2id (m=19456 KiB, t=2, p=1), off the async threads.
//! OWNER: helper A.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), so each one records
//! the parameters it was made with: a hash from older parameters still verifies, and
//! [`PasswordCheck::needs_rehash`] tells the login to store a fresh one. Hashing takes tens of
//! milliseconds of CPU and about 19 MiB, so it runs on tokio's blocking pool, never on the
//! async workers.

use argon2::password_hash::{self, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::OnceCell;

use crate::error::Error;

/// Memory cost in KiB (OWASP's first Argon2id recommendation).
pub const M_COST_KIB: u32 = 19_456;
/// Iterations.
pub const T_COST: u32 = 2;
/// Lanes.
pub const P_COST: u32 = 1;
/// Hash output length in bytes.
const OUTPUT_LEN: usize = 32;
/// Salt length in bytes (the PHC recommendation is at least 16).
const SALT_LEN: usize = 16;

pub struct PasswordCheck {
    pub matches: bool,
    /// The stored hash uses other parameters than today's: rehash on this login.
    pub needs_rehash: bool,
}

/// Today's hasher.
fn hasher() -> Result<Argon2<'static>, Error> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN))
        .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &str) -> Result<String, Error> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|e| Error::Internal(format!("random salt: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(format!("salt: {e}")))?;
    let hash = hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| Error::Internal(format!("argon2 hash: {e}")))?;
    Ok(hash.to_string())
}

fn verify_blocking(phc: &str, password: &str) -> Result<PasswordCheck, Error> {
    // The message never includes the stored string: it is a secret too.
    let parsed = PasswordHash::new(phc)
        .map_err(|e| Error::Internal(format!("stored password hash unreadable: {e}")))?;
    // Verification uses the algorithm and parameters recorded in the hash, not today's, and
    // compares the outputs in constant time (password-hash's `Output` equality).
    let matches = match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => true,
        Err(password_hash::Error::Password) => false,
        Err(e) => return Err(Error::Internal(format!("argon2 verify: {e}"))),
    };
    Ok(PasswordCheck {
        matches,
        needs_rehash: parsed_needs_rehash(&parsed),
    })
}

fn parsed_needs_rehash(parsed: &PasswordHash<'_>) -> bool {
    if parsed.algorithm != Algorithm::Argon2id.ident()
        || parsed.version != Some(Version::V0x13.into())
    {
        return true;
    }
    let Ok(params) = Params::try_from(parsed) else {
        return true;
    };
    params.m_cost() != M_COST_KIB
        || params.t_cost() != T_COST
        || params.p_cost() != P_COST
        || parsed.hash.is_none_or(|h| h.len() != OUTPUT_LEN)
}

/// True when a stored PHC string was made with another algorithm, version or parameters than
/// today's (or cannot be read at all).
pub fn needs_rehash(phc: &str) -> bool {
    PasswordHash::new(phc).map_or(true, |parsed| parsed_needs_rehash(&parsed))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(format!("password hashing task failed: {e}")))?
}

/// A new PHC string for `password` with a random salt and today's parameters.
pub async fn hash_password(password: &str) -> Result<String, Error> {
    let password = password.to_owned();
    blocking(move || hash_blocking(&password)).await
}

/// Checks `password` against a stored PHC string. A hash that cannot be read is an internal
/// error, not a mismatch: it means the store holds something we did not write.
pub async fn verify_password(phc: &str, password: &str) -> Result<PasswordCheck, Error> {
    let phc = phc.to_owned();
    let password = password.to_owned();
    blocking(move || verify_blocking(&phc, &password)).await
}

/// A hash of a password nobody knows, with today's parameters, made once per process.
async fn dummy_hash() -> Result<&'static str, Error> {
    static DUMMY: OnceCell<String> = OnceCell::const_new();
    let hash = DUMMY
        .get_or_try_init(|| async {
            // Random, so no password can match it, not even by accident of a fixed string.
            hash_password(&crate::auth::secrets::random_token(24)).await
        })
        .await?;
    Ok(hash.as_str())
}

/// Spends the time of one verification, so that an unknown account answers as slowly as a
/// known one (no enumeration by timing).
pub async fn burn_verification_time(password: &str) {
    let outcome = match dummy_hash().await {
        Ok(dummy) => verify_password(dummy, password).await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "dummy password verification failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PHC string made with other parameters than today's (an "older" hash).
    fn hash_with(algorithm: Algorithm, m: u32, t: u32, password: &str) -> String {
        let params = Params::new(m, t, 1, Some(32)).unwrap();
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        Argon2::new(algorithm, Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn hashes_verify_and_carry_todays_parameters() {
        let phc = hash_password("violet-harbour-42").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!needs_rehash(&phc));

        let right = verify_password(&phc, "violet-harbour-42").await.unwrap();
        assert!(right.matches && !right.needs_rehash);
        let wrong = verify_password(&phc, "violet-harbour-43").await.unwrap();
        assert!(!wrong.matches);

        // A random salt each time: the same password never gives the same string.
        assert_ne!(phc, hash_password("violet-harbour-42").await.unwrap());
    }

    #[tokio::test]
    async fn older_parameters_verify_and_ask_for_a_rehash() {
        for old in [
            hash_with(Algorithm::Argon2id, 8192, 3, "violet-harbour-42"),
            hash_with(Algorithm::Argon2id, 19_456, 1, "violet-harbour-42"),
            hash_with(Algorithm::Argon2i, 19_456, 2, "violet-harbour-42"),
        ] {
            assert!(needs_rehash(&old), "{old}");
            let check = verify_password(&old, "violet-harbour-42").await.unwrap();
            assert!(check.matches && check.needs_rehash, "{old}");
            assert!(
                !verify_password(&old, "nope-nope-nope")
                    .await
                    .unwrap()
                    .matches
            );
        }
        assert!(!needs_rehash(&hash_with(
            Algorithm::Argon2id,
            19_456,
            2,
            "x"
        )));
        assert!(needs_rehash("not a phc string"));
    }

    #[tokio::test]
    async fn unreadable_hashes_are_errors_not_mismatches() {
        assert!(matches!(
            verify_password("$md5$abc", "pw").await,
            Err(Error::Internal(_))
        ));
    }

    #[tokio::test]
    async fn burning_time_costs_a_verification() {
        // The dummy hash is made once; a burn afterwards costs about one verification.
        burn_verification_time("warm-up").await;
        let phc = hash_password("violet-harbour-42").await.unwrap();
        let started = std::time::Instant::now();
        let _ = verify_password(&phc, "x").await.unwrap();
        let one_verify = started.elapsed();
        let started = std::time::Instant::now();
        burn_verification_time("x").await;
        let burn = started.elapsed();
        assert!(
            burn * 3 >= one_verify,
            "burn {burn:?} vs verify {one_verify:?}"
        );
    }
}
