//! The retry policy of the badges' optimistic transactions (awards, revokes, featuring,
//! definition changes): a cancelled transaction is re-read and tried again after a short
//! jittered wait, at most [`MAX_ATTEMPTS`] times, then answered with 503.

use std::time::Duration;

use crate::error::Error;

/// Tries of one award, revoke or definition change before it is answered with 503.
pub const MAX_ATTEMPTS: u32 = 12;

/// A short, jittered wait before retrying a cancelled transaction.
pub async fn pause() {
    tokio::time::sleep(Duration::from_millis(5 + fastrand::u64(0..=40))).await;
}

pub fn busy() -> Error {
    Error::Unavailable {
        reason: "badges are busy for this user; try again".into(),
        retry_after_secs: 1,
    }
}
