//! Diesel structs and queries, one module per resource; each function takes
//! `&mut PgConnection` and returns `QueryResult` (services decide what an error means).
pub mod approvals;
pub mod audit;
pub mod blackouts;
pub mod groups;
pub mod history;
pub mod login_events;
pub mod release_models;
pub mod releases;
pub mod sessions;
pub mod tasks;
pub mod users;
pub mod workflows;

// Notifications name their user without a foreign key since migration 000031 (it cost every
// move a tenth of its CPU), so `diesel print-schema` no longer writes this join into schema.rs.
mod joins {
    use crate::schema::{notifications, users};
    diesel::joinable!(notifications -> users (user_id));
}
