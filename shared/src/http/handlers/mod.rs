//! Thin handlers, one module per capability.

pub mod accounts;
pub mod activity;
pub mod health;
pub mod profiles;
pub mod sessions;
pub mod social;
pub mod tokens;
pub mod users;
