//! The one policy of the domain's optimistic loops: a change computed from a read and written
//! with conditions that assert that read is tried again, from a fresh read, when another
//! writer got in between. Each kind of loop has a named [`Loop`] (how many tries in all, and
//! what running out of them answers); all of them wait the same jittered [`backoff`] between
//! tries; running out answers 503 with `Retry-After` ([`Error::Unavailable`]), except where a
//! loop says why it answers otherwise. The rules, and the reasons for each limit, are in
//! `docs/faults.md`, "Optimistic retries".
//!
//! This is the loop *above* the store: the store's own retry layer ([`crate::store::retry`])
//! repeats one call that may succeed unchanged (throttling, no answer); these loops recompute
//! the change because the state it was computed from moved.

use std::time::Duration;

use crate::error::Error;

/// One kind of optimistic loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loop {
    /// Tries in all, the first included.
    pub attempts: u32,
    exhausted: Exhausted,
}

/// What a loop answers when its tries are used up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exhausted {
    /// 503, `Retry-After: 1`: contention the service expects to pass; this says what is busy.
    Busy(&'static str),
    /// 409: the one document a client edits kept changing under its write (another of the
    /// user's own clients, or an admin); the client should look at it again before resending.
    LostUpdate(&'static str),
}

impl Loop {
    /// Follows, unfollows, approvals and blocks: an edge and the counters of two users, which
    /// any number of other users' follows move at once (a popular account's followers).
    pub const SOCIAL: Loop = Loop {
        attempts: 10,
        exhausted: Exhausted::Busy("the social graph is busy for these users; try again"),
    };

    /// Awards, revokes, featuring, definition changes and retirements: one user's badge
    /// score and showcase, which the evaluator, admins and the user change at once.
    pub const BADGES: Loop = Loop {
        attempts: 12,
        exhausted: Exhausted::Busy("badges are busy for this user; try again"),
    };

    /// The evaluator's award of a met badge, around [`Loop::BADGES`]: an award that still
    /// found the user busy is tried again a few times before the sweep logs the award's own
    /// 503 and moves on (`Tries::wait_for_another`).
    pub const BADGE_EVALUATION: Loop = Loop {
        attempts: 5,
        exhausted: Exhausted::Busy("badges are busy for this user; try again"),
    };

    /// A user's settings document (`PUT`/`PATCH /api/settings/`). Running out is a 409, not a
    /// 503: see [`Exhausted::LostUpdate`] and `docs/faults.md`.
    pub const SETTINGS: Loop = Loop {
        attempts: 3,
        exhausted: Exhausted::LostUpdate("The settings changed meanwhile; try again."),
    };

    /// A profile (`PUT`/`PATCH /api/profiles/{id}/`, one's own or, by staff, another's): the
    /// write is conditioned on the `updated_at` of the copy the request authenticated with, so
    /// the first retry is the one that reads the profile consistently.
    pub const PROFILE: Loop = Loop {
        attempts: 2,
        exhausted: Exhausted::LostUpdate("The profile changed at the same time; try again."),
    };

    /// The answer once the tries are used up.
    pub fn exhausted(&self) -> Error {
        match self.exhausted {
            Exhausted::Busy(reason) => Error::Unavailable {
                reason: reason.into(),
                retry_after_secs: 1,
            },
            Exhausted::LostUpdate(message) => Error::Conflict(message.into()),
        }
    }
}

/// The wait before retry number `retry` (1 for the first): 10 ms doubling per retry, capped
/// at 400 ms, drawn uniformly from the upper half so that writers that collided spread out.
pub fn backoff(retry: u32) -> Duration {
    let ceiling = (10u64 << retry.saturating_sub(1).min(6)).min(400);
    Duration::from_millis(ceiling / 2 + fastrand::u64(0..=ceiling / 2))
}

/// Counts the tries of one change under a [`Loop`].
#[derive(Debug)]
pub struct Tries {
    kind: Loop,
    tries: u32,
    waits: u32,
}

impl Tries {
    pub fn new(kind: Loop) -> Self {
        Tries {
            kind,
            tries: 0,
            waits: 0,
        }
    }

    /// After a try that lost to another writer: `Ok` once the backoff has passed and another
    /// try is allowed, or the loop's answer when the tries are used up.
    pub async fn retry(&mut self) -> Result<(), Error> {
        if self.wait_for_another().await {
            Ok(())
        } else {
            Err(self.kind.exhausted())
        }
    }

    /// After a try whose assumption turned out wrong in a way the next try corrects (no other
    /// writer to let pass): `Ok` at once, or the loop's answer when the tries are used up.
    pub fn again(&mut self) -> Result<(), Error> {
        self.tries += 1;
        if self.tries >= self.kind.attempts {
            Err(self.kind.exhausted())
        } else {
            Ok(())
        }
    }

    /// [`Tries::retry`] for a caller that answers with an error of its own when the tries are
    /// used up: true after the wait, false (at once) when no try is left.
    pub async fn wait_for_another(&mut self) -> bool {
        self.tries += 1;
        if self.tries >= self.kind.attempts {
            return false;
        }
        self.waits += 1;
        tokio::time::sleep(backoff(self.waits)).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_allows_exactly_its_attempts() {
        for kind in [
            Loop::SOCIAL,
            Loop::BADGES,
            Loop::BADGE_EVALUATION,
            Loop::SETTINGS,
            Loop::PROFILE,
        ] {
            let mut tries = Tries::new(kind);
            // The first try is not counted until it fails; every failed try but the last
            // allows another.
            let mut made = 1;
            while tries.again().is_ok() {
                made += 1;
            }
            assert_eq!(made, kind.attempts, "{kind:?}");
        }
    }

    #[tokio::test]
    async fn retry_waits_while_tries_are_left_then_answers_the_loops_error() {
        let mut tries = Tries::new(Loop::PROFILE);
        assert!(tries.retry().await.is_ok());
        assert!(matches!(tries.retry().await, Err(Error::Conflict(_))));
    }

    #[test]
    fn running_out_answers_503_unless_the_loop_is_a_lost_update() {
        assert!(matches!(
            Loop::SOCIAL.exhausted(),
            Error::Unavailable {
                retry_after_secs: 1,
                ..
            }
        ));
        assert!(matches!(
            Loop::BADGES.exhausted(),
            Error::Unavailable { .. }
        ));
        assert!(matches!(Loop::SETTINGS.exhausted(), Error::Conflict(_)));
        assert!(matches!(Loop::PROFILE.exhausted(), Error::Conflict(_)));
    }

    #[test]
    fn the_backoff_doubles_within_its_jitter_and_stops_at_400_ms() {
        for _ in 0..100 {
            let first = backoff(1);
            assert!(first >= Duration::from_millis(5) && first <= Duration::from_millis(10));
            let fourth = backoff(4);
            assert!(fourth >= Duration::from_millis(40) && fourth <= Duration::from_millis(80));
            let late = backoff(30);
            assert!(late >= Duration::from_millis(200) && late <= Duration::from_millis(400));
        }
    }
}
