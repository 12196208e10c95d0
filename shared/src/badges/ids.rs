//! The id of a badge definition, which every badge module names.

use serde::{Deserialize, Serialize};

/// A badge definition's id: a positive integer allocated in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BadgeId(pub i64);

impl std::fmt::Display for BadgeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for BadgeId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<i64>() {
            Ok(n) if n > 0 => Ok(BadgeId(n)),
            _ => Err(()),
        }
    }
}
