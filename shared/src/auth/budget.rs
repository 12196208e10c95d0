//! Request budgets per caller: how many writes one account, or one API token, may send.
//!
//! A token bucket per caller **in the process's memory**: reads cost nothing and a budget
//! costs no store call (a store counter would add a write to every write). The price is that
//! each instance (each Lambda execution environment) keeps its own buckets, so N warm instances
//! allow up to N times the budget; concurrency limits bound N, and the budget stops what it is
//! for: one client hammering one instance (a single user wrote 4,000 events a second). The
//! fixed-window limits of `limits.rs` (store-backed, exact across instances) stay where
//! exactness matters: logins, codes, registrations.
//!
//! Three budgets: writes of a signed-in user (session or JWT), event ingestion by a signed-in
//! user (`POST /api/events/`, its own bucket), and writes with an API token (services; larger).

use std::collections::HashMap;
use std::sync::Mutex;

/// An allowance: `capacity` requests, refilled evenly over `window_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub capacity: u32,
    pub window_secs: u32,
}

/// What a caller has left, for the `X-RateLimit-*` headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowance {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
}

/// A refused request: the allowance (remaining 0) and the seconds until one request fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted {
    pub allowance: Allowance,
    pub retry_after_secs: u64,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated_ms: i64,
}

/// What a write is, for the budget it spends from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteKind {
    /// A user logging an event (`POST /api/events/`).
    EventIngestion,
    Other,
}

/// Takes one write of `principal` from its budget in this process: an API token's (services),
/// a user's event ingestion, or a user's other writes; each configured per 5 minutes (events
/// per minute) and multiplied by `RATE_LIMIT_SCALE`.
pub fn spend(
    app: &crate::App,
    principal: &crate::auth::Principal,
    kind: WriteKind,
) -> Result<Allowance, Exhausted> {
    let auth = &app.config.auth;
    let scale = u32::try_from(auth.rate_limit_scale.max(1)).unwrap_or(u32::MAX);
    let scaled = |capacity: u32, window_secs| Budget {
        capacity: capacity.saturating_mul(scale),
        window_secs,
    };
    let (key, budget) = match (&principal.api_token_id, principal.method, kind) {
        (Some(token), crate::auth::AuthMethod::ApiToken, _) => (
            format!("token:{token}"),
            scaled(auth.service_write_budget, 300),
        ),
        (_, _, WriteKind::EventIngestion) => (
            format!("events:{}", principal.id()),
            scaled(auth.event_budget, 60),
        ),
        (_, _, WriteKind::Other) => (
            format!("user:{}", principal.id()),
            scaled(auth.write_budget, 300),
        ),
    };
    app.budgets
        .take(&key, budget, app.clock.now().timestamp_millis())
}

/// Buckets kept before full ones are forgotten (a full bucket is the same as no bucket).
const MAX_BUCKETS: usize = 20_000;

/// The buckets of one process.
#[derive(Debug, Default)]
pub struct Budgets {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Budget {
    fn per_ms(self) -> f64 {
        f64::from(self.capacity) / (f64::from(self.window_secs.max(1)) * 1000.0)
    }

    fn refilled(self, bucket: Bucket, now_ms: i64) -> f64 {
        let elapsed = (now_ms - bucket.updated_ms).max(0) as f64;
        (bucket.tokens + elapsed * self.per_ms()).min(f64::from(self.capacity))
    }

    fn allowance(self, tokens: f64) -> Allowance {
        let missing = f64::from(self.capacity) - tokens;
        Allowance {
            limit: self.capacity,
            remaining: tokens.floor().max(0.0) as u32,
            reset_secs: (missing / self.per_ms() / 1000.0).ceil().max(0.0) as u64,
        }
    }
}

impl Budgets {
    /// Takes one request from `key`'s bucket at `now_ms`.
    pub fn take(&self, key: &str, budget: Budget, now_ms: i64) -> Result<Allowance, Exhausted> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| b.tokens < f64::from(budget.capacity) - 1.0);
        }
        let full = Bucket {
            tokens: f64::from(budget.capacity),
            updated_ms: now_ms,
        };
        let bucket = buckets.entry(key.to_owned()).or_insert(full);
        let tokens = budget.refilled(*bucket, now_ms);
        if tokens < 1.0 {
            *bucket = Bucket {
                tokens,
                updated_ms: now_ms,
            };
            let wait_ms = (1.0 - tokens) / budget.per_ms();
            return Err(Exhausted {
                allowance: budget.allowance(tokens),
                retry_after_secs: (wait_ms / 1000.0).ceil().max(1.0) as u64,
            });
        }
        *bucket = Bucket {
            tokens: tokens - 1.0,
            updated_ms: now_ms,
        };
        Ok(budget.allowance(tokens - 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_A_MINUTE: Budget = Budget {
        capacity: 5,
        window_secs: 60,
    };

    #[test]
    fn a_bucket_allows_its_capacity_then_refills_evenly() {
        let budgets = Budgets::default();
        for left in (0..5).rev() {
            let allowance = budgets.take("a", FIVE_A_MINUTE, 0).unwrap();
            assert_eq!(allowance.remaining, left);
        }
        let refused = budgets.take("a", FIVE_A_MINUTE, 0).unwrap_err();
        assert_eq!(refused.retry_after_secs, 12);
        assert_eq!(refused.allowance.remaining, 0);
        assert_eq!(refused.allowance.reset_secs, 60);
        // Another caller has a bucket of its own.
        assert!(budgets.take("b", FIVE_A_MINUTE, 0).is_ok());
        // 12 s later one request fits again, and only one.
        assert!(budgets.take("a", FIVE_A_MINUTE, 12_000).is_ok());
        assert!(budgets.take("a", FIVE_A_MINUTE, 12_000).is_err());
    }
}
