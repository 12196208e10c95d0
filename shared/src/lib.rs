//! The accounts service's domain crate: everything but each binary's `main`.
//!
//! Layers, from the outside in: `http` (route table, request context, DRF-style responses),
//! the capabilities (plain async functions over [`App`]), and the ports (`store`, `mail`, `bus`,
//! `clock`) with their engines. Domain code sees no HTTP and no AWS types.

pub mod access;
pub mod accounts;
pub mod activity;
pub mod app;
pub mod auth;
pub mod aws;
pub mod badges;
pub mod bus;
pub mod clock;
pub mod config;
pub mod error;
pub mod http;
#[cfg(test)]
mod import_graph;
pub mod mail;
pub mod metrics;
pub mod model;
pub mod notifications;
pub mod profiles;
pub mod retry;
pub mod social;
pub mod store;
pub mod tasks;
pub mod telemetry;
pub mod triggers;

pub use app::App;
pub use error::{Error, FieldErrors};
