//! Operations that span tables and commit in one transaction.
pub mod accounts;
pub mod approvals;
pub mod conflicts;
pub mod knowledge;
pub mod mailer;
pub mod model_admin;
pub mod monitor;
pub mod notify;
pub mod people;
pub mod related;
pub mod release_fields;
pub mod releases;
pub mod reports;
pub mod submissions;
pub mod tasks;
pub mod workflow_admin;
pub mod workflow_config;
