//! Badges and achievements: definitions with typed criteria, awards, automatic evaluation,
//! progress, leaderboard and analytics.

pub mod analytics;
pub mod awards;
pub mod catalogue;
pub mod criteria;
pub mod definitions;
pub mod evaluate;
pub mod ids;
pub mod leaderboard;
pub mod progress;
pub mod retire;
pub mod score;
pub mod stats;
pub mod tiers;
