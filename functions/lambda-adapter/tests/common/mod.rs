//! Shared by the partition tests.

pub mod endpoints;
