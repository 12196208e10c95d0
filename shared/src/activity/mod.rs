//! Activity: the user event log (the seed's `UserEvent`) and, later, sessions analytics.

pub mod events;
