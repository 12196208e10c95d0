//! The black-box tests of the whole service, one module per former test file, in one test
//! binary: forty-odd binaries each linking the whole service cost CI minutes of linking, and
//! one binary lets the test harness run an embedded test beside a DynamoDB test that waits on
//! moto. Each test's store is its own (a fresh SQLite file, or a DynamoDB table with a ULID
//! name), so tests share nothing but the process.
//!
//! Run one file's tests with its module name: `cargo test -p api-tests --test api faults::`.

// Helpers shared by several modules.
mod activity_support;
mod badges_core_support;
mod badges_engine;
mod profiles_common;
mod social_support;
mod tasks_support;
mod users_support;

mod access_matrix;
mod account_takeover;
mod activity_day_counts;
mod activity_events;
mod activity_sessions;
mod auth_abuse;
mod auth_api_tokens;
mod auth_jwt;
mod auth_mfa;
mod auth_passkeys;
mod auth_passwords;
mod auth_registration;
mod auth_sessions;
mod badges_automatic;
mod badges_awards;
mod badges_criteria;
mod badges_definitions;
mod badges_leaderboard;
mod badges_progress;
mod cost_per_endpoint;
mod deadline;
mod events_log;
mod faults;
mod lost_answers;
mod mail_and_bus;
mod notifications;
mod openapi;
mod operations;
mod profiles_access;
mod profiles_api;
mod promises;
mod round_trips;
mod scale_heat;
mod security_hardening;
mod seed_shapes;
mod social_blocks;
mod social_concurrency;
mod social_follow;
mod social_large;
mod social_lists;
mod store_conformance;
mod tasks_alerts;
mod tasks_badges;
mod tasks_counters;
mod tasks_engagement;
mod tasks_events;
mod tasks_migrate_keys;
mod tasks_report;
mod tasks_runs;
mod tasks_security;
mod tasks_sessions;
mod template;
mod users_api;
mod users_cost;
mod users_erasure;
mod users_permissions;
