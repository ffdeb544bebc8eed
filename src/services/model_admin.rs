//! Release model administration: creating a model (version 1, with an empty plan or a copy
//! of another model's), saving a change as a **new version** — never updating an old one, so
//! releases registered earlier keep the plan they were registered with — and retiring and
//! restoring. It also reads and validates the plan editor's rows (`t0_title`, `t0_phase`, …).
//!
//! Rules live here; `routes::admin_models` only extracts, authorises and renders.
use std::collections::HashMap;

use diesel::prelude::*;
use serde::Deserialize;

use crate::domain::permissions::Actor;
use crate::domain::workflow::{RecordKind, ReleaseType};
use crate::error::{AppError, AppResult};
use crate::forms::FormErrors;
use crate::models::groups;
use crate::models::release_models::{
    self as models, ModelTask, ModelVersion, NewModelTask, NewVersion,
};
use crate::models::workflows::{self as wfm, CategoryRow, PhaseRow};

/// Blank rows the plan editor offers for new tasks.
pub const BLANK_ROWS: usize = 3;
/// More rows than any plan needs: a guard against absurd posts.
pub const MAX_ROWS: usize = 500;
/// The longest due offset: a year.
pub const MAX_OFFSET_HOURS: i64 = 8760;
const MAX_DESCRIPTION: usize = 2000;

/// The create form (all text, validated here).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CreateInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub release_type: String,
    #[serde(default)]
    pub category: String,
    /// A model whose current plan the new one starts with; "" for an empty plan.
    #[serde(default)]
    pub copy_from: String,
    /// The create form's one-time key (`services::submissions`).
    #[serde(default)]
    pub submission_key: String,
}

/// One row of the plan editor, as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanRow {
    pub phase: String,
    pub title: String,
    pub description: String,
    /// `role:coordinator`, `role:manager` or `group:<id>`.
    pub assignee: String,
    pub offset: String,
    /// `hours` or `days`.
    pub unit: String,
    pub remove: bool,
}

impl PlanRow {
    pub fn blank() -> PlanRow {
        PlanRow {
            assignee: "role:coordinator".into(),
            unit: "days".into(),
            ..Default::default()
        }
    }

    /// Nothing typed and no phase chosen: a new row left empty is ignored.
    fn is_blank(&self) -> bool {
        self.title.trim().is_empty()
            && self.description.trim().is_empty()
            && self.offset.trim().is_empty()
            && self.phase.trim().is_empty()
    }
}

/// The edit form: the version it was read at, the version's fields and every plan row.
#[derive(Debug, Clone, Default)]
pub struct EditInput {
    pub version: String,
    pub description: String,
    pub release_type: String,
    pub category: String,
    /// Rows before this index show existing tasks (with "remove"); the rest are new.
    pub existing: usize,
    pub rows: Vec<PlanRow>,
}

impl EditInput {
    /// Read the posted form: `rows` says how many `t{i}_…` rows there are.
    pub fn from_form(f: &HashMap<String, String>) -> AppResult<EditInput> {
        let get = |k: &str| f.get(k).cloned().unwrap_or_default();
        let count = |k: &str| -> AppResult<usize> {
            get(k)
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= MAX_ROWS)
                .ok_or_else(|| {
                    AppError::BadRequest(
                        "The task plan form is incomplete: reload the page and try again.".into(),
                    )
                })
        };
        let n = count("rows")?;
        let existing = count("existing")?.min(n);
        let rows = (0..n)
            .map(|i| {
                let g = |field: &str| get(&format!("t{i}_{field}"));
                PlanRow {
                    phase: g("phase"),
                    title: g("title"),
                    description: g("description"),
                    assignee: g("assignee"),
                    offset: g("offset"),
                    unit: g("unit"),
                    remove: !g("remove").is_empty(),
                }
            })
            .collect();
        Ok(EditInput {
            version: get("version"),
            description: get("description"),
            release_type: get("release_type"),
            category: get("category"),
            existing,
            rows,
        })
    }

    /// The form as a version shows it: its tasks in plan order, then blank rows.
    pub fn from_version(v: &ModelVersion, tasks: &[ModelTask]) -> EditInput {
        let mut rows: Vec<PlanRow> = tasks
            .iter()
            .map(|t| {
                let (offset, unit) = offset_parts(t.due_offset_hours);
                PlanRow {
                    phase: t.phase_id.to_string(),
                    title: t.title.clone(),
                    description: t.description.clone(),
                    assignee: assignee_value(t.assignee_role.as_deref(), t.group_id),
                    offset,
                    unit: unit.into(),
                    remove: false,
                }
            })
            .collect();
        let existing = rows.len();
        rows.extend((0..BLANK_ROWS).map(|_| PlanRow::blank()));
        EditInput {
            version: v.version.to_string(),
            description: v.description.clone(),
            release_type: v.release_type.clone(),
            category: v.category_id.to_string(),
            existing,
            rows,
        }
    }
}

/// The select value of an assignee: `role:coordinator`, `role:manager`, `group:<id>`.
pub fn assignee_value(role: Option<&str>, group: Option<i64>) -> String {
    match (role, group) {
        (Some(r), _) => format!("role:{r}"),
        (None, Some(g)) => format!("group:{g}"),
        (None, None) => String::new(),
    }
}

/// How the editor shows an offset: whole days as days, anything else in hours.
pub fn offset_parts(hours: i32) -> (String, &'static str) {
    if hours > 0 && hours % 24 == 0 {
        ((hours / 24).to_string(), "days")
    } else {
        (hours.to_string(), "hours")
    }
}

/// "when the phase starts", "2 days after the phase starts", "4 hours after …".
pub fn offset_label(hours: i32) -> String {
    if hours == 0 {
        "When the phase starts".into()
    } else {
        format!(
            "{} after the phase starts",
            crate::views::duration_hours(hours)
        )
    }
}

/// A planned task as checked: what a version stores (position aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTask {
    pub phase_id: i64,
    pub title: String,
    pub description: String,
    pub role: Option<String>,
    pub group_id: Option<i64>,
    pub hours: i32,
}

impl PlannedTask {
    fn of(t: &ModelTask) -> PlannedTask {
        PlannedTask {
            phase_id: t.phase_id,
            title: t.title.clone(),
            description: t.description.clone(),
            role: t.assignee_role.clone(),
            group_id: t.group_id,
            hours: t.due_offset_hours,
        }
    }
}

/// Tasks in plan order: by the phase's place in the workflow, then their position.
pub fn plan_order(tasks: &mut [ModelTask], phases: &[PhaseRow]) {
    let rank = |p: i64| phases.iter().position(|x| x.id == p).unwrap_or(usize::MAX);
    tasks.sort_by_key(|t| (rank(t.phase_id), t.position, t.id));
}

/// Release categories a model may choose: those open to new releases, and `current`.
pub fn category_choices(
    conn: &mut PgConnection,
    current: Option<i64>,
) -> QueryResult<Vec<CategoryRow>> {
    let mut cats = wfm::active_categories(conn, RecordKind::Release.as_str())?;
    if let Some(id) = current.filter(|id| !cats.iter().any(|c| c.id == *id)) {
        cats.push(wfm::category(conn, id)?);
    }
    Ok(cats)
}

fn check_common(
    conn: &mut PgConnection,
    description: &str,
    release_type: &str,
    category: &str,
    current_category: Option<i64>,
    e: &mut FormErrors,
) -> QueryResult<(Option<ReleaseType>, Option<CategoryRow>)> {
    if description.chars().count() > MAX_DESCRIPTION {
        e.add(
            "description",
            "The description must be at most 2,000 characters.",
        );
    }
    let t = release_type.parse::<ReleaseType>().ok();
    if t.is_none() {
        e.add(
            "release_type",
            "Choose the default release type: emergency, major or minor.",
        );
    }
    let choices = category_choices(conn, current_category)?;
    let c = category
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|id| choices.into_iter().find(|c| c.id == id));
    if c.is_none() {
        e.add("category", "Choose a release category from the list.");
    }
    Ok((t, c))
}

/// Check every row against the workflow of the chosen category: new rows left empty and rows
/// marked "remove" drop out; the rest become the plan, grouped by phase in workflow order.
fn check_rows(
    conn: &mut PgConnection,
    input: &EditInput,
    category: Option<&CategoryRow>,
    e: &mut FormErrors,
) -> QueryResult<Vec<PlannedTask>> {
    let phases = match category {
        Some(c) => wfm::phases_of(conn, c.workflow_id)?,
        None => Vec::new(),
    };
    let group_ids: Vec<i64> = groups::all(conn)?.into_iter().map(|g| g.id).collect();
    let mut plan: Vec<(usize, usize, PlannedTask)> = Vec::new();
    for (i, row) in input.rows.iter().enumerate() {
        let n = i + 1;
        if row.remove || (i >= input.existing && row.is_blank()) {
            continue;
        }
        let key = |f: &str| format!("t{i}_{f}");
        let title = row.title.trim();
        if title.is_empty() {
            e.add(
                &key("title"),
                format!(
                    "Task {n}: enter a title, or {}.",
                    if i < input.existing {
                        "tick “Remove”"
                    } else {
                        "clear the row"
                    }
                ),
            );
        } else if title.chars().count() > 200 {
            e.add(
                &key("title"),
                format!("Task {n}: the title must be at most 200 characters."),
            );
        }
        if row.description.chars().count() > MAX_DESCRIPTION {
            e.add(
                &key("description"),
                format!("Task {n}: the description must be at most 2,000 characters."),
            );
        }
        let phase = row
            .phase
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|id| phases.iter().position(|p| p.id == id));
        match phase {
            Some(rank) if phases[rank].retired => {
                e.add(
                    &key("phase"),
                    format!(
                        "Task {n}: {} is retired: choose another phase, or remove the task.",
                        phases[rank].name
                    ),
                );
            }
            Some(_) => {}
            None if category.is_none() => {}
            None => e.add(
                &key("phase"),
                format!(
                    "Task {n}: choose a phase of the workflow of {}.",
                    category.map(|c| c.name.as_str()).unwrap_or("")
                ),
            ),
        }
        let (role, group_id) = match row.assignee.split_once(':') {
            Some(("role", r @ ("coordinator" | "manager"))) => (Some(r.to_string()), None),
            Some(("group", g)) if g.parse::<i64>().is_ok_and(|g| group_ids.contains(&g)) => {
                (None, g.parse::<i64>().ok())
            }
            _ => {
                e.add(&key("assignee"), format!("Task {n}: choose who gets the task: the release's coordinator, its manager or a group."));
                (None, None)
            }
        };
        let factor = match row.unit.as_str() {
            "hours" => Some(1),
            "days" => Some(24),
            _ => None,
        };
        let in_hours = row
            .offset
            .trim()
            .parse::<i64>()
            .ok()
            .zip(factor)
            .and_then(|(v, f)| v.checked_mul(f))
            .filter(|h| (0..=MAX_OFFSET_HOURS).contains(h));
        let hours = match in_hours {
            Some(h) => Some(h as i32),
            None if row.offset.trim().is_empty() => {
                e.add(&key("offset"), format!("Task {n}: enter the due offset, a whole number of hours or days (0 for when the phase starts)."));
                None
            }
            None => {
                e.add(&key("offset"), format!("Task {n}: the due offset must be a whole number from 0 to 8760 hours (365 days)."));
                None
            }
        };
        if let (Some(rank), Some(hours)) = (phase, hours) {
            plan.push((
                rank,
                i,
                PlannedTask {
                    phase_id: phases[rank].id,
                    title: title.to_string(),
                    description: row.description.clone(),
                    role,
                    group_id,
                    hours,
                },
            ));
        }
    }
    plan.sort_by_key(|(rank, i, _)| (*rank, *i));
    Ok(plan.into_iter().map(|(_, _, t)| t).collect())
}

fn insert_plan(
    conn: &mut PgConnection,
    version_id: i64,
    plan: &[PlannedTask],
) -> QueryResult<usize> {
    let mut position = 0;
    let mut last_phase = None;
    let rows: Vec<NewModelTask> = plan
        .iter()
        .map(|t| {
            position = if last_phase == Some(t.phase_id) {
                position + 1
            } else {
                1
            };
            last_phase = Some(t.phase_id);
            NewModelTask {
                model_version_id: version_id,
                phase_id: t.phase_id,
                position,
                title: t.title.clone(),
                description: t.description.clone(),
                assignee_role: t.role.clone(),
                group_id: t.group_id,
                due_offset_hours: t.hours,
            }
        })
        .collect();
    models::insert_tasks(conn, &rows)
}

/// Create a model: version 1 with an empty plan, or a copy of another model's current plan.
pub fn create(
    conn: &mut PgConnection,
    actor: Actor,
    input: &CreateInput,
) -> AppResult<Result<i64, FormErrors>> {
    conn.transaction(|conn| {
        let mut e = FormErrors::default();
        let name = input.name.trim();
        if name.is_empty() {
            e.add("name", "Enter a name for the model.");
        } else if name.chars().count() > 100 {
            e.add("name", "The name must be at most 100 characters.");
        } else if models::name_taken(conn, name)? {
            e.add("name", format!("There is already a model called {name}: choose another name."));
        }
        let (release_type, category) = check_common(conn, &input.description, &input.release_type, &input.category, None, &mut e)?;
        let mut plan = Vec::new();
        if let Some(from) = crate::forms::non_empty(&input.copy_from) {
            let source = from.parse::<i64>().ok().and_then(|id| models::latest_version(conn, id).ok());
            match (source, &category) {
                (None, _) => e.add("copy_from", "Choose a model to copy from the list, or an empty plan."),
                (Some(v), Some(c)) => {
                    let source_workflow = wfm::category(conn, v.category_id)?.workflow_id;
                    if source_workflow != c.workflow_id {
                        e.add("copy_from", "That model's plan uses the phases of another workflow: choose a model of the same category, or an empty plan.");
                    } else {
                        let phases = wfm::phases_of(conn, c.workflow_id)?;
                        let mut tasks = models::tasks_of(conn, v.id)?;
                        plan_order(&mut tasks, &phases);
                        plan = tasks.iter().map(PlannedTask::of).collect();
                    }
                }
                (Some(_), None) => {}
            }
        }
        let (Some(release_type), Some(category)) = (release_type, category) else { return Ok(Err(e)) };
        if !e.is_empty() {
            return Ok(Err(e));
        }
        let model = match models::insert_model(conn, name) {
            Ok(m) => m,
            // Another manager created the same name a moment ago.
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
                e.add("name", format!("There is already a model called {name}: choose another name."));
                return Ok(Err(e));
            }
            Err(err) => return Err(err.into()),
        };
        let v = models::insert_version(
            conn,
            &NewVersion {
                model_id: model.id,
                version: 1,
                description: &input.description,
                release_type: release_type.as_str(),
                category_id: category.id,
                created_by: Some(actor.id),
            },
        )?;
        insert_plan(conn, v.id, &plan)?;
        Ok(Ok(model.id))
    })
}

pub enum SaveOutcome {
    /// The new version's number.
    Saved(i32),
    /// The form matched the current version: no version was made.
    Unchanged,
    Invalid(FormErrors),
    /// A newer version was saved after the form was read: nothing was saved.
    Conflict(ModelVersion),
}

/// Save the edit form as a new version over the one it was read at. Old versions are never
/// changed: releases registered with them keep their plan.
pub fn save_version(
    conn: &mut PgConnection,
    actor: Actor,
    model_id: i64,
    input: &EditInput,
) -> AppResult<SaveOutcome> {
    conn.transaction(|conn| {
        models::lock(conn, model_id)?;
        let latest = models::latest_version(conn, model_id)?;
        let read_at: i32 = input.version.trim().parse().map_err(|_| {
            AppError::BadRequest(
                "The form has no valid version: reload the page and try again.".into(),
            )
        })?;
        if read_at != latest.version {
            return Ok(SaveOutcome::Conflict(latest));
        }
        let mut e = FormErrors::default();
        let (release_type, category) = check_common(
            conn,
            &input.description,
            &input.release_type,
            &input.category,
            Some(latest.category_id),
            &mut e,
        )?;
        let plan = check_rows(conn, input, category.as_ref(), &mut e)?;
        let (Some(release_type), Some(category)) = (release_type, category) else {
            return Ok(SaveOutcome::Invalid(e));
        };
        if !e.is_empty() {
            return Ok(SaveOutcome::Invalid(e));
        }
        let old_workflow = wfm::category(conn, latest.category_id)?.workflow_id;
        let old_phases = wfm::phases_of(conn, old_workflow)?;
        let mut old_tasks = models::tasks_of(conn, latest.id)?;
        plan_order(&mut old_tasks, &old_phases);
        let old_plan: Vec<PlannedTask> = old_tasks.iter().map(PlannedTask::of).collect();
        if latest.description == input.description
            && latest.release_type == release_type.as_str()
            && latest.category_id == category.id
            && old_plan == plan
        {
            return Ok(SaveOutcome::Unchanged);
        }
        let v = models::insert_version(
            conn,
            &NewVersion {
                model_id,
                version: latest.version + 1,
                description: &input.description,
                release_type: release_type.as_str(),
                category_id: category.id,
                created_by: Some(actor.id),
            },
        )?;
        insert_plan(conn, v.id, &plan)?;
        Ok(SaveOutcome::Saved(v.version))
    })
}

/// Retire (new releases can no longer choose it) or restore a model. Releases registered with
/// it keep their tasks either way.
pub fn set_retired(conn: &mut PgConnection, model_id: i64, retired: bool) -> AppResult<()> {
    conn.transaction(|conn| {
        models::lock(conn, model_id)?;
        models::set_retired(conn, model_id, retired)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_show_whole_days_as_days() {
        assert_eq!(offset_parts(48), ("2".into(), "days"));
        assert_eq!(offset_parts(30), ("30".into(), "hours"));
        assert_eq!(offset_parts(0), ("0".into(), "hours"));
        assert_eq!(offset_label(0), "When the phase starts");
        assert_eq!(offset_label(72), "3 days after the phase starts");
    }

    #[test]
    fn rows_are_read_by_index() {
        let f: HashMap<String, String> = [
            ("rows", "2"),
            ("existing", "1"),
            ("version", "4"),
            ("t0_title", "Update system"),
            ("t0_remove", "1"),
            ("t1_title", "Notify"),
            ("t1_unit", "hours"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let input = EditInput::from_form(&f).unwrap();
        assert_eq!(input.rows.len(), 2);
        assert_eq!(input.existing, 1);
        assert!(input.rows[0].remove);
        assert_eq!(input.rows[1].title, "Notify");
        assert_eq!(input.rows[1].unit, "hours");
        assert!(PlanRow::blank().is_blank());
    }

    #[test]
    fn an_absurd_row_count_is_refused() {
        let f: HashMap<String, String> = [
            ("rows".to_string(), "100000".to_string()),
            ("existing".to_string(), "0".to_string()),
        ]
        .into_iter()
        .collect();
        assert!(EditInput::from_form(&f).is_err());
    }
}
