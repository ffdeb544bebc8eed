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
    pub require_tasks_done: bool,
    /// The record types it applies to (empty: every type).
    pub record_types: Vec<String>,
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
    /// The record types it accepts (empty: every type of its kind).
    pub record_types: Vec<String>,
}

impl CategoryRow {
    /// Whether a record of this type may be filed under the category.
    pub fn accepts(&self, record_type: &str) -> bool {
        crate::domain::workflow::category_accepts(&self.record_types, record_type)
    }
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
            record_types: self.record_types.clone(),
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
    workflows::table
        .find(id)
        .select(WorkflowRow::as_select())
        .first(conn)
}

pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<WorkflowRow>> {
    workflows::table
        .order((workflows::retired, workflows::name))
        .select(WorkflowRow::as_select())
        .load(conn)
}

/// All phases of a workflow (retired ones too), in order.
pub fn phases_of(conn: &mut PgConnection, workflow_id: i64) -> QueryResult<Vec<PhaseRow>> {
    phases::table
        .filter(phases::workflow_id.eq(workflow_id))
        .order((phases::position, phases::id))
        .select(PhaseRow::as_select())
        .load(conn)
}

pub fn transitions_of(
    conn: &mut PgConnection,
    workflow_id: i64,
) -> QueryResult<Vec<TransitionRow>> {
    transitions::table
        .filter(transitions::workflow_id.eq(workflow_id))
        .order(transitions::id)
        .select(TransitionRow::as_select())
        .load(conn)
}

/// The engine's view of a workflow.
pub fn load(conn: &mut PgConnection, workflow_id: i64) -> QueryResult<Workflow> {
    Ok(Workflow {
        phases: phases_of(conn, workflow_id)?
            .iter()
            .map(PhaseRow::to_def)
            .collect(),
        transitions: transitions_of(conn, workflow_id)?
            .iter()
            .map(TransitionRow::to_def)
            .collect(),
    })
}

/// Field rules of every phase of a workflow: (phase id, field key, rule).
/// A field with no row is read-only (the safe default for a field added later).
pub fn rules_of(
    conn: &mut PgConnection,
    workflow_id: i64,
) -> QueryResult<Vec<(i64, String, Rule)>> {
    let rows: Vec<(i64, String, String)> = phase_field_rules::table
        .inner_join(phases::table)
        .filter(phases::workflow_id.eq(workflow_id))
        .select((
            phase_field_rules::phase_id,
            phase_field_rules::field,
            phase_field_rules::rule,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(p, f, r)| (p, f, r.parse().unwrap_or(Rule::ReadOnly)))
        .collect())
}

pub fn category(conn: &mut PgConnection, id: i64) -> QueryResult<CategoryRow> {
    categories::table
        .find(id)
        .select(CategoryRow::as_select())
        .first(conn)
}

pub fn categories_all(conn: &mut PgConnection) -> QueryResult<Vec<CategoryRow>> {
    categories::table
        .order((categories::retired, categories::name))
        .select(CategoryRow::as_select())
        .load(conn)
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

// ---- Administration: what the workflow and category editors read and write. ----

pub fn phase(conn: &mut PgConnection, id: i64) -> QueryResult<PhaseRow> {
    phases::table
        .find(id)
        .select(PhaseRow::as_select())
        .first(conn)
}

pub fn transition(conn: &mut PgConnection, id: i64) -> QueryResult<TransitionRow> {
    transitions::table
        .find(id)
        .select(TransitionRow::as_select())
        .first(conn)
}

/// The workflow, locked until the transaction ends: edits to one workflow run one at a time,
/// so two edits each valid alone cannot together break it.
pub fn lock(conn: &mut PgConnection, id: i64) -> QueryResult<WorkflowRow> {
    workflows::table
        .find(id)
        .select(WorkflowRow::as_select())
        .for_update()
        .first(conn)
}

pub fn workflow_name_taken(
    conn: &mut PgConnection,
    name: &str,
    except: Option<i64>,
) -> QueryResult<bool> {
    use diesel::dsl::{exists, select};
    select(exists(
        workflows::table
            .filter(workflows::name.eq(name))
            .filter(workflows::id.ne(except.unwrap_or(0))),
    ))
    .get_result(conn)
}

pub fn category_name_taken(
    conn: &mut PgConnection,
    name: &str,
    except: Option<i64>,
) -> QueryResult<bool> {
    use diesel::dsl::{exists, select};
    select(exists(
        categories::table
            .filter(categories::name.eq(name))
            .filter(categories::id.ne(except.unwrap_or(0))),
    ))
    .get_result(conn)
}

/// Number of phases not retired, per workflow: (workflow id, count).
pub fn phase_counts(conn: &mut PgConnection) -> QueryResult<Vec<(i64, i64)>> {
    phases::table
        .filter(phases::retired.eq(false))
        .group_by(phases::workflow_id)
        .select((phases::workflow_id, diesel::dsl::count_star()))
        .load(conn)
}

pub fn categories_of(conn: &mut PgConnection, workflow_id: i64) -> QueryResult<Vec<CategoryRow>> {
    categories::table
        .filter(categories::workflow_id.eq(workflow_id))
        .order((categories::retired, categories::name))
        .select(CategoryRow::as_select())
        .load(conn)
}

/// Workflows a category may point at: published and not retired.
pub fn usable_workflows(conn: &mut PgConnection) -> QueryResult<Vec<WorkflowRow>> {
    workflows::table
        .filter(workflows::draft.eq(false))
        .filter(workflows::retired.eq(false))
        .order(workflows::name)
        .select(WorkflowRow::as_select())
        .load(conn)
}

/// Releases currently in this phase.
pub fn releases_in_phase(conn: &mut PgConnection, phase_id: i64) -> QueryResult<i64> {
    use crate::schema::releases;
    releases::table
        .filter(releases::kind.eq_any(crate::domain::workflow::RECORD_KINDS))
        .filter(releases::phase_id.eq(phase_id))
        .count()
        .get_result(conn)
}

/// Whether any record refers to the phase: a release in it, a phase visit, a history event.
/// Such a phase is retired, never deleted.
pub fn phase_in_use(conn: &mut PgConnection, phase_id: i64) -> QueryResult<bool> {
    use crate::schema::{history_events as h, release_phase_visits as v, releases as r};
    use diesel::dsl::{exists, select};
    Ok(select(exists(
        r::table
            .filter(r::kind.eq_any(crate::domain::workflow::RECORD_KINDS))
            .filter(r::phase_id.eq(phase_id)),
    ))
    .get_result(conn)?
        || select(exists(v::table.filter(v::phase_id.eq(phase_id)))).get_result(conn)?
        || select(exists(
            h::table.filter(
                h::from_phase_id
                    .eq(phase_id)
                    .or(h::to_phase_id.eq(phase_id)),
            ),
        ))
        .get_result(conn)?)
}

/// Releases that use the workflow.
pub fn releases_of_workflow(conn: &mut PgConnection, workflow_id: i64) -> QueryResult<i64> {
    use crate::schema::releases;
    releases::table
        .filter(releases::workflow_id.eq(workflow_id))
        .count()
        .get_result(conn)
}

/// Whether any record refers to the workflow or one of its phases.
pub fn workflow_in_use(conn: &mut PgConnection, workflow_id: i64) -> QueryResult<bool> {
    if releases_of_workflow(conn, workflow_id)? > 0 {
        return Ok(true);
    }
    for p in phases_of(conn, workflow_id)? {
        if phase_in_use(conn, p.id)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Releases registered in the category.
pub fn releases_of_category(conn: &mut PgConnection, category_id: i64) -> QueryResult<i64> {
    use crate::schema::releases;
    releases::table
        .filter(releases::kind.eq_any(crate::domain::workflow::RECORD_KINDS))
        .filter(releases::category_id.eq(category_id))
        .count()
        .get_result(conn)
}

pub fn insert_workflow(
    conn: &mut PgConnection,
    name: &str,
    description: &str,
    record_kind: &str,
) -> QueryResult<i64> {
    diesel::insert_into(workflows::table)
        .values((
            workflows::name.eq(name),
            workflows::description.eq(description),
            workflows::record_kind.eq(record_kind),
            workflows::draft.eq(true),
        ))
        .returning(workflows::id)
        .get_result(conn)
}

pub fn update_workflow(
    conn: &mut PgConnection,
    id: i64,
    name: &str,
    description: &str,
) -> QueryResult<usize> {
    diesel::update(workflows::table.find(id))
        .set((
            workflows::name.eq(name),
            workflows::description.eq(description),
            workflows::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
}

pub fn set_workflow_state(
    conn: &mut PgConnection,
    id: i64,
    draft: bool,
    retired: bool,
) -> QueryResult<usize> {
    diesel::update(workflows::table.find(id))
        .set((
            workflows::draft.eq(draft),
            workflows::retired.eq(retired),
            workflows::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
}

pub fn touch_workflow(conn: &mut PgConnection, id: i64) -> QueryResult<usize> {
    diesel::update(workflows::table.find(id))
        .set(workflows::updated_at.eq(diesel::dsl::now))
        .execute(conn)
}

/// Delete a workflow with its transitions, phases and their field rules.
pub fn delete_workflow(conn: &mut PgConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(transitions::table.filter(transitions::workflow_id.eq(id))).execute(conn)?;
    diesel::delete(phases::table.filter(phases::workflow_id.eq(id))).execute(conn)?;
    diesel::delete(workflows::table.find(id)).execute(conn)
}

#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = phases)]
pub struct PhaseValues {
    pub name: String,
    pub description: String,
    pub duration_hours: i32,
    pub emergency_duration_hours: i32,
    pub condition: String,
    /// The record types it is for (empty: every type).
    pub record_types: Vec<String>,
}

pub fn insert_phase(
    conn: &mut PgConnection,
    workflow_id: i64,
    position: i32,
    v: &PhaseValues,
) -> QueryResult<i64> {
    diesel::insert_into(phases::table)
        .values((
            v,
            phases::workflow_id.eq(workflow_id),
            phases::position.eq(position),
        ))
        .returning(phases::id)
        .get_result(conn)
}

pub fn update_phase(conn: &mut PgConnection, id: i64, v: &PhaseValues) -> QueryResult<usize> {
    diesel::update(phases::table.find(id)).set(v).execute(conn)
}

pub fn set_phase_position(conn: &mut PgConnection, id: i64, position: i32) -> QueryResult<usize> {
    diesel::update(phases::table.find(id))
        .set(phases::position.eq(position))
        .execute(conn)
}

/// The exit criterion "all tasks of this phase done or cancelled".
pub fn set_phase_require_tasks_done(
    conn: &mut PgConnection,
    id: i64,
    on: bool,
) -> QueryResult<usize> {
    diesel::update(phases::table.find(id))
        .set(phases::require_tasks_done.eq(on))
        .execute(conn)
}

pub fn set_phase_retired(conn: &mut PgConnection, id: i64, retired: bool) -> QueryResult<usize> {
    diesel::update(phases::table.find(id))
        .set(phases::retired.eq(retired))
        .execute(conn)
}

/// Delete a phase with its field rules and every transition from or to it.
pub fn delete_phase(conn: &mut PgConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(
        transitions::table.filter(
            transitions::from_phase_id
                .eq(id)
                .or(transitions::to_phase_id.eq(id)),
        ),
    )
    .execute(conn)?;
    diesel::delete(phases::table.find(id)).execute(conn)
}

/// Set field rules, replacing those already there: (phase id, field key, rule).
pub fn upsert_rules(conn: &mut PgConnection, rules: &[(i64, &str, Rule)]) -> QueryResult<usize> {
    use diesel::upsert::excluded;
    if rules.is_empty() {
        return Ok(0);
    }
    let rows: Vec<_> = rules
        .iter()
        .map(|(p, f, r)| {
            (
                phase_field_rules::phase_id.eq(*p),
                phase_field_rules::field.eq(*f),
                phase_field_rules::rule.eq(r.as_str()),
            )
        })
        .collect();
    diesel::insert_into(phase_field_rules::table)
        .values(rows)
        .on_conflict((phase_field_rules::phase_id, phase_field_rules::field))
        .do_update()
        .set(phase_field_rules::rule.eq(excluded(phase_field_rules::rule)))
        .execute(conn)
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = transitions)]
pub struct NewTransition {
    pub workflow_id: i64,
    pub from_phase_id: i64,
    pub to_phase_id: Option<i64>,
    pub kind: String,
    pub label: String,
    pub roles: Vec<String>,
    pub reason_required: bool,
    pub outcome: Option<String>,
}

pub fn insert_transition(conn: &mut PgConnection, t: &NewTransition) -> QueryResult<i64> {
    diesel::insert_into(transitions::table)
        .values(t)
        .returning(transitions::id)
        .get_result(conn)
}

pub fn delete_transition(conn: &mut PgConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(transitions::table.find(id)).execute(conn)
}

/// Remove the transitions that lead into a phase from other phases (when it is retired).
pub fn delete_transitions_into(conn: &mut PgConnection, phase_id: i64) -> QueryResult<usize> {
    diesel::delete(
        transitions::table
            .filter(transitions::to_phase_id.eq(phase_id))
            .filter(transitions::from_phase_id.ne(phase_id)),
    )
    .execute(conn)
}

#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = categories)]
pub struct CategoryValues {
    pub name: String,
    pub description: String,
    pub record_kind: String,
    pub workflow_id: i64,
}

pub fn insert_category(conn: &mut PgConnection, v: &CategoryValues) -> QueryResult<i64> {
    diesel::insert_into(categories::table)
        .values(v)
        .returning(categories::id)
        .get_result(conn)
}

pub fn update_category(conn: &mut PgConnection, id: i64, v: &CategoryValues) -> QueryResult<usize> {
    diesel::update(categories::table.find(id))
        .set(v)
        .execute(conn)
}

pub fn set_category_retired(conn: &mut PgConnection, id: i64, retired: bool) -> QueryResult<usize> {
    diesel::update(categories::table.find(id))
        .set(categories::retired.eq(retired))
        .execute(conn)
}

pub fn delete_category(conn: &mut PgConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(categories::table.find(id)).execute(conn)
}
