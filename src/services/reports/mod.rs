//! Reports: the dashboard's panels and the management report on release progress. Each
//! function runs a fixed number of queries whatever the number of releases; counts, means
//! and 90th percentiles are computed by PostgreSQL.
//!
//! The management report's date range applies to when releases were **registered**
//! (`releases.created_at`): every table describes the releases registered in the range (of
//! the category and type chosen), so its numbers add up across tables.
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Date, Double, Integer, Nullable, Text, Timestamptz};

use std::collections::HashMap;

use crate::domain::histogram::{Bin, Histogram, Unit};
use crate::domain::permissions::Actor;
use crate::domain::roles::Role;
use crate::domain::workflow::{RecordState, ReleaseType};
use crate::models::tasks::{self as tm, MyTask};
use crate::schema::{phases, releases, workflows};
use crate::services::approvals::{self, InboxItem};

/// How many rows each dashboard panel shows; one more is read to tell whether more follow.
pub const DASHBOARD_ROWS: usize = 10;
/// How many days ahead the dashboard's schedule looks.
pub const SCHEDULE_DAYS: i64 = 14;
/// Most rows a CSV download holds.
pub const CSV_MAX_ROWS: i64 = 100_000;
/// Overdue releases listed on the management report's page (the CSV holds all of them).
pub const OVERDUE_ROWS: i64 = 50;
/// Weeks ahead in "busiest coming weeks".
pub const WEEKS_AHEAD: i64 = 8;

// ---------------------------------------------------------------- phases of release workflows

/// A phase of a release workflow, in workflow order.
#[derive(Debug, Clone, Queryable)]
pub struct PhaseInfo {
    pub id: i64,
    pub name: String,
    pub retired: bool,
    pub workflow_id: i64,
    pub workflow: String,
    pub workflow_retired: bool,
    pub workflow_draft: bool,
}

impl PhaseInfo {
    /// Whether new releases can be in it: shown even when nothing is there.
    pub fn in_use(&self) -> bool {
        !self.retired && !self.workflow_retired && !self.workflow_draft
    }
}

/// Every phase of every release workflow, by workflow then position (one query).
pub fn release_phases(conn: &mut PgConnection) -> QueryResult<Vec<PhaseInfo>> {
    phases::table
        .inner_join(workflows::table)
        .filter(workflows::record_kind.eq("release"))
        .order((workflows::name, workflows::id, phases::position, phases::id))
        .select((
            phases::id,
            phases::name,
            phases::retired,
            workflows::id,
            workflows::name,
            workflows::retired,
            workflows::draft,
        ))
        .load(conn)
}

/// "Build and Test", or "Build and Test (Release Management)" when several workflows are shown.
pub fn phase_label(phases: &[PhaseInfo], id: i64) -> String {
    let several = phases
        .iter()
        .filter(|p| p.in_use())
        .map(|p| p.workflow_id)
        .collect::<std::collections::HashSet<_>>()
        .len()
        > 1;
    match phases.iter().find(|p| p.id == id) {
        Some(p) if several => format!("{} ({})", p.name, p.workflow),
        Some(p) => p.name.clone(),
        None => format!("phase #{id}"),
    }
}

mod dashboard;
mod management;
mod tables;

pub use dashboard::*;
pub use management::Table;
pub use management::*;
use tables::*;
