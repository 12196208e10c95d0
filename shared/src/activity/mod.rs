//! Activity: the user event log (the seed's `UserEvent`), its reading and ingestion, and the
//! sessions API (the seed's `UserSession`). See `docs/activity.md` and `docs/events.md`.

pub mod day_counts;
pub mod events;
pub mod feed;
pub mod ingest;
pub mod sessions;
pub mod staff;
pub mod tallies;
