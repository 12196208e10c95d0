//! Profiles, professional profiles and settings, with privacy.
//! The rules and the API are in `docs/profiles.md`.

pub mod professional;
pub mod profile;
pub mod settings;
pub mod validate;
pub mod views;
