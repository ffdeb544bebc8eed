//! Pure types and rules: roles and permissions, sign-in throttling, the risk matrix,
//! the field catalog and what text a field accepts, the workflow state machine. No Diesel, no
//! actix: unit-tested here.
pub mod approval;
pub mod calendar;
pub mod chain;
pub mod fields;
pub mod histogram;
pub mod lockout;
pub mod permissions;
pub mod report;
pub mod risk;
pub mod roles;
pub mod text;
pub mod workflow;
pub mod workflow_validator;
