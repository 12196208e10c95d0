//! Thin handlers, one module per capability.

pub mod accounts;
pub mod health;
pub mod sessions;
pub mod tokens;
