//! Thin handlers, one module per capability.

pub mod accounts;
pub mod activity;
pub mod badge_progress;
pub mod badges;
pub mod health;
pub mod mfa;
pub mod notifications;
pub mod passkeys;
pub mod profiles;
pub mod sessions;
pub mod social;
pub mod tasks;
pub mod tokens;
pub mod users;
