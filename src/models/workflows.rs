//! Workflows, their phases, field rules and transitions, and the categories that use them;
//! `load` turns the rows into the engine's `domain::workflow::Workflow`.
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::domain::fields::Rule;
use crate::domain::roles::Roles;
use crate::domain::workflow::{Condition, PhaseDef, TransitionDef, TransitionKind, Workflow};
use crate::schema::{categories, phase_field_rules, phases, transitions, workflows};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = workflows)]
pub struct WorkflowRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub record_kind: String,
    pub retired: bool,
    pub draft: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = phases)]
pub struct PhaseRow {
    pub id: i64,
    pub workflow_id: i64,
    pub name: String,
    pub description: String,
    pub position: i32,
    pub duration_hours: i32,
    pub emergency_duration_hours: i32,
    pub condition: String,
    pub retired: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = transitions)]
pub struct TransitionRow {
    pub id: i64,
    pub workflow_id: i64,
    pub from_phase_id: i64,
    pub to_phase_id: Option<i64>,
    pub kind: String,
    pub label: String,
    pub roles: Vec<String>,
    pub reason_required: bool,
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = categories)]
pub struct CategoryRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub record_kind: String,
    pub workflow_id: i64,
    pub retired: bool,
    pub created_at: DateTime<Utc>,
}

impl PhaseRow {
    pub fn to_def(&self) -> PhaseDef {
        PhaseDef {
            id: self.id,
            name: self.name.clone(),
            position: self.position,
            condition: self.condition.parse().unwrap_or(Condition::Always),
            retired: self.retired,
            duration_hours: self.duration_hours,
            emergency_duration_hours: self.emergency_duration_hours,
        }
    }
}

impl TransitionRow {
    pub fn to_def(&self) -> TransitionDef {
        TransitionDef {
            id: self.id,
            from: self.from_phase_id,
            to: self.to_phase_id,
            kind: self.kind.parse().unwrap_or(TransitionKind::Advance),
            label: self.label.clone(),
            roles: Roles::from_strs(&self.roles),
            reason_required: self.reason_required,
            outcome: self.outcome.as_deref().and_then(|o| o.parse().ok()),
        }
    }
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<WorkflowRow> {
    workflows::table.find(id).select(WorkflowRow::as_select()).first(conn)
}

pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<WorkflowRow>> {
    workflows::table.order((workflows::retired, workflows::name)).select(WorkflowRow::as_select()).load(conn)
}

/// All phases of a workflow (retired ones too), in order.
pub fn phases_of(conn: &mut PgConnection, workflow_id: i64) -> QueryResult<Vec<PhaseRow>> {
    phases::table
        .filter(phases::workflow_id.eq(workflow_id))
        .order((phases::position, phases::id))
        .select(PhaseRow::as_select())
        .load(conn)
}

pub fn transitions_of(conn: &mut PgConnection, workflow_id: i64) -> QueryResult<Vec<TransitionRow>> {
    transitions::table
        .filter(transitions::workflow_id.eq(workflow_id))
        .order(transitions::id)
        .select(TransitionRow::as_select())
        .load(conn)
}

/// The engine's view of a workflow.
pub fn load(conn: &mut PgConnection, workflow_id: i64) -> QueryResult<Workflow> {
    Ok(Workflow {
        phases: phases_of(conn, workflow_id)?.iter().map(PhaseRow::to_def).collect(),
        transitions: transitions_of(conn, workflow_id)?.iter().map(TransitionRow::to_def).collect(),
    })
}

/// Field rules of every phase of a workflow: (phase id, field key, rule).
/// A field with no row is read-only (the safe default for a field added later).
pub fn rules_of(conn: &mut PgConnection, workflow_id: i64) -> QueryResult<Vec<(i64, String, Rule)>> {
    let rows: Vec<(i64, String, String)> = phase_field_rules::table
        .inner_join(phases::table)
        .filter(phases::workflow_id.eq(workflow_id))
        .select((phase_field_rules::phase_id, phase_field_rules::field, phase_field_rules::rule))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(p, f, r)| (p, f, r.parse().unwrap_or(Rule::ReadOnly)))
        .collect())
}

pub fn category(conn: &mut PgConnection, id: i64) -> QueryResult<CategoryRow> {
    categories::table.find(id).select(CategoryRow::as_select()).first(conn)
}

pub fn categories_all(conn: &mut PgConnection) -> QueryResult<Vec<CategoryRow>> {
    categories::table.order((categories::retired, categories::name)).select(CategoryRow::as_select()).load(conn)
}

/// Categories a new record of this kind may use.
pub fn active_categories(conn: &mut PgConnection, kind: &str) -> QueryResult<Vec<CategoryRow>> {
    categories::table
        .inner_join(workflows::table)
        .filter(categories::record_kind.eq(kind))
        .filter(categories::retired.eq(false))
        .filter(workflows::retired.eq(false))
        .order(categories::name)
        .select(CategoryRow::as_select())
        .load(conn)
}

/// Phase names by id for many workflows at once (for lists and filters).
pub fn phase_names(conn: &mut PgConnection, kind: &str) -> QueryResult<Vec<(i64, String, String)>> {
    phases::table
        .inner_join(workflows::table)
        .filter(workflows::record_kind.eq(kind))
        .order((workflows::name, phases::position))
        .select((phases::id, phases::name, workflows::name))
        .load(conn)
}
