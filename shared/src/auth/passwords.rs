//! Password hashing with Argon2id (m=19456 KiB, t=2, p=1), off the async threads.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), so each one records
//! the parameters it was made with: a hash from older parameters still verifies, and
//! [`PasswordCheck::needs_rehash`] tells the login to store a fresh one.
//!
//! Hashing takes tens of milliseconds of CPU and 19 MiB of memory. It runs on a pool of its own
//! with one thread per core, each reusing one memory block for every hash: no more hashes run
//! at once than there are cores (more would only slow each other down), the 19 MiB is never
//! allocated and page-faulted again per hash, and the process keeps cores x 19 MiB at most.
//! (On tokio's blocking pool each of up to hundreds of threads kept its own 19 MiB in the
//! allocator's per-thread arenas: 3.7 GiB RSS after a login load.)

use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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

/// Today's parameters.
fn params() -> Result<Params, Error> {
    Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN))
        .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))
}

/// Runs Argon2 with the caller's reusable memory, growing it when a hash needs more.
fn argon2_into(
    argon: &Argon2<'_>,
    params: &Params,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Vec<Block>,
) -> Result<(), Error> {
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    argon
        .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..])
        .map_err(|e| Error::Internal(format!("argon2: {e}")))
}

fn hash_blocking(password: &str, memory: &mut Vec<Block>) -> Result<String, Error> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|e| Error::Internal(format!("random salt: {e}")))?;
    let params = params()?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; OUTPUT_LEN];
    argon2_into(&argon, &params, password, &salt, &mut out, memory)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(format!("salt: {e}")))?;
    let out = Output::new(&out).map_err(|e| Error::Internal(format!("argon2 output: {e}")))?;
    Ok(format!(
        "${}$v={}${}${}${}",
        Algorithm::Argon2id.ident(),
        u32::from(Version::V0x13),
        format_args!("m={M_COST_KIB},t={T_COST},p={P_COST}"),
        salt.as_str(),
        out
    ))
}

tokio::task_local! {
    /// Verifications run inside [`count_verifications`], counted in the task that asked for
    /// them: other tasks (other tests of the same binary) verifying at the same time do not
    /// count, as they would with a process-wide counter.
    static VERIFICATIONS_IN_SCOPE: std::cell::Cell<u64>;
}

/// Runs `work` and says how many password verifications it ran: lets a test check that a code
/// path spent the time of a verification without timing it (timings on a shared machine lie).
pub async fn count_verifications<F: std::future::Future>(work: F) -> (F::Output, u64) {
    VERIFICATIONS_IN_SCOPE
        .scope(std::cell::Cell::new(0), async {
            let output = work.await;
            (output, VERIFICATIONS_IN_SCOPE.with(std::cell::Cell::get))
        })
        .await
}

fn verify_blocking(
    phc: &str,
    password: &str,
    memory: &mut Vec<Block>,
) -> Result<PasswordCheck, Error> {
    // The messages never include the stored string: it is a secret too.
    let unreadable =
        |what: &str| Error::Internal(format!("stored password hash unreadable: {what}"));
    let parsed = PasswordHash::new(phc).map_err(|e| unreadable(&e.to_string()))?;
    // Verification uses the algorithm and parameters recorded in the hash, not today's.
    let algorithm =
        Algorithm::try_from(parsed.algorithm).map_err(|e| unreadable(&e.to_string()))?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| unreadable(&e.to_string()))?
        .unwrap_or_default();
    let expected = parsed.hash.ok_or_else(|| unreadable("no hash"))?;
    let params = Params::try_from(&parsed).map_err(|e| unreadable(&e.to_string()))?;
    let params = Params::new(
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        Some(expected.len()),
    )
    .map_err(|e| unreadable(&e.to_string()))?;
    let mut salt_buf = [0u8; 64];
    let salt = parsed
        .salt
        .ok_or_else(|| unreadable("no salt"))?
        .decode_b64(&mut salt_buf)
        .map_err(|e| unreadable(&e.to_string()))?;
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    argon2_into(&argon, &params, password, salt, &mut out, memory)?;
    // Constant-time comparison of the outputs (password-hash's `Output` equality).
    let computed = Output::new(&out).map_err(|e| Error::Internal(format!("argon2 output: {e}")))?;
    Ok(PasswordCheck {
        matches: computed == expected,
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

/// A job for the hashing pool: it gets the worker's reusable memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The hashing pool: one thread per core, started on first use, fed through one queue.
fn pool() -> &'static Mutex<mpsc::Sender<Job>> {
    static POOL: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = std::sync::Arc::new(Mutex::new(receiver));
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        for i in 0..workers {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    let mut memory: Vec<Block> = Vec::new();
                    loop {
                        // The lock is held only while waiting for the next job, not while
                        // hashing.
                        let job = receiver.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match job {
                            Ok(job) => job(&mut memory),
                            Err(_) => return,
                        }
                    }
                })
                .expect("start a password hashing thread");
        }
        Mutex::new(sender)
    })
}

/// Runs `work` on the hashing pool and waits for its answer without blocking the runtime.
async fn on_pool<T: Send + 'static>(
    work: impl FnOnce(&mut Vec<Block>) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move |memory| {
        let _ = reply.send(work(memory));
    });
    pool()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(job)
        .map_err(|_| Error::Internal("password hashing pool stopped".into()))?;
    answer
        .await
        .map_err(|_| Error::Internal("password hashing job dropped".into()))?
}

/// A new PHC string for `password` with a random salt and today's parameters.
pub async fn hash_password(password: &str) -> Result<String, Error> {
    let password = password.to_owned();
    on_pool(move |memory| hash_blocking(&password, memory)).await
}

/// Checks `password` against a stored PHC string. A hash that cannot be read is an internal
/// error, not a mismatch: it means the store holds something we did not write.
pub async fn verify_password(phc: &str, password: &str) -> Result<PasswordCheck, Error> {
    // Outside a counting scope there is nothing to count.
    let _ = VERIFICATIONS_IN_SCOPE.try_with(|n| n.set(n.get() + 1));
    let phc = phc.to_owned();
    let password = password.to_owned();
    on_pool(move |memory| verify_blocking(&phc, &password, memory)).await
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
    use argon2::{PasswordHasher, PasswordVerifier};

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

        // The pool's PHC strings are the standard encoding: the argon2 crate's own verifier
        // accepts them.
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"violet-harbour-42", &parsed)
                .is_ok()
        );

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
    async fn burning_time_runs_a_full_verification() {
        // The dummy hash is made once, with today's parameters, so a burn costs exactly one
        // verification of today's cost (counted, not timed: timings on a shared machine lie).
        burn_verification_time("warm-up").await;
        let dummy = dummy_hash().await.unwrap();
        assert!(!needs_rehash(dummy), "the dummy uses today's parameters");
        let ((), verified) = count_verifications(burn_verification_time("x")).await;
        assert_eq!(verified, 1, "a burn verifies once");
    }
}
