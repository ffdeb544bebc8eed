//! Operations that span tables and commit in one transaction.
pub mod accounts;
pub mod mailer;
pub mod model_admin;
pub mod monitor;
pub mod notify;
pub mod approvals;
pub mod conflicts;
pub mod release_fields;
pub mod related;
pub mod releases;
pub mod reports;
pub mod tasks;
pub mod workflow_admin;

/// Entry gates from blackout windows: none until blackouts exist (filled in by `conflicts`).
pub fn blackout_gates(
    _conn: &mut diesel::PgConnection,
    _r: &crate::models::releases::Release,
    _wf: &crate::domain::workflow::Workflow,
) -> diesel::QueryResult<Vec<(i64, crate::domain::workflow::Gate)>> {
    Ok(Vec::new())
}
