//! Operations that span tables and commit in one transaction.
pub mod accounts;
pub mod knowledge;
pub mod mailer;
pub mod model_admin;
pub mod monitor;
pub mod notify;
pub mod approvals;
pub mod conflicts;
pub mod demo;
pub mod release_fields;
pub mod related;
pub mod releases;
pub mod reports;
pub mod seed;
pub mod tasks;
pub mod workflow_admin;

/// Entry gates from blackout windows: a release whose planned window overlaps a blackout may
/// not enter a phase marked `blocked_by_blackouts`, unless it is an emergency.
pub fn blackout_gates(
    conn: &mut diesel::PgConnection,
    r: &crate::models::releases::Release,
    _wf: &crate::domain::workflow::Workflow,
) -> diesel::QueryResult<Vec<(i64, crate::domain::workflow::Gate)>> {
    use diesel::prelude::*;
    if r.release_type == "emergency" {
        return Ok(Vec::new());
    }
    let held: Vec<i64> = crate::schema::phases::table
        .filter(crate::schema::phases::workflow_id.eq(r.workflow_id))
        .filter(crate::schema::phases::blocked_by_blackouts.eq(true))
        .select(crate::schema::phases::id)
        .load(conn)?;
    if held.is_empty() {
        return Ok(Vec::new());
    }
    let blackouts = conflicts::blackouts_overlapping(conn, r)?;
    if blackouts.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = blackouts.iter().map(|b| b.name.clone()).collect();
    Ok(held
        .into_iter()
        .map(|p| {
            let why = format!("The planned window falls in the blackout {}: only an emergency release may deploy then.", names.join(", "));
            (p, crate::domain::workflow::Gate::Other(why))
        })
        .collect())
}
