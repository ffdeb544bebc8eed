//! Operations that span tables and commit in one transaction.
pub mod accounts;
pub mod model_admin;
pub mod approvals;
pub mod release_fields;
pub mod releases;
pub mod tasks;
pub mod workflow_admin;
