//! Workflow and category administration: drafts and publishing, phases, field rules,
//! transitions, categories. Each operation checks its input field by field and commits in
//! one transaction; an edit to a published workflow is validated before it commits and
//! rolled back when the validator finds a problem, so a published workflow is never broken.
//!
//! Errors: database failures are `AppError` (the outer `AppResult`); what the user must fix
//! is a [`Refusal`] (the inner `Result`), shown on the form with the input kept.
use std::collections::HashMap;

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Deserialize;

use crate::domain::approval::{self, RULE_KEYS};
use crate::domain::fields::{release_field, Rule, RELEASE_FIELDS};
use crate::domain::roles::{Role, Roles};
use crate::domain::workflow::{
    ChangeType, Condition, Outcome, RecordKind, ReleaseType, TransitionKind,
};
use crate::domain::workflow_validator;
use crate::error::AppResult;
use crate::forms::FormErrors;
use crate::models::approvals::{self as am, Requirement};
use crate::models::groups;
use crate::models::workflows::{
    self as wfm, CategoryValues, NewTransition, PhaseRow, PhaseValues, WorkflowRow,
};

/// Why an operation was refused; nothing was changed.
#[derive(Debug)]
pub enum Refusal {
    /// The input is wrong: one message per form field.
    Invalid(FormErrors),
    /// The edit would leave a published workflow unusable: the validator's messages.
    Broken(Vec<String>),
}

impl Refusal {
    fn field(field: &str, message: impl Into<String>) -> Refusal {
        let mut e = FormErrors::default();
        e.add(field, message);
        Refusal::Invalid(e)
    }
}

/// A database result whose success may still be a refusal.
pub type Checked<T> = AppResult<Result<T, Refusal>>;

enum TxError {
    Db(DieselError),
    Refused(Refusal),
}

impl From<DieselError> for TxError {
    fn from(e: DieselError) -> Self {
        TxError::Db(e)
    }
}

impl From<Refusal> for TxError {
    fn from(r: Refusal) -> Self {
        TxError::Refused(r)
    }
}

fn in_tx<T>(
    conn: &mut PgConnection,
    f: impl FnOnce(&mut PgConnection) -> Result<T, TxError>,
) -> Checked<T> {
    match conn.transaction(f) {
        Ok(t) => Ok(Ok(t)),
        Err(TxError::Refused(r)) => Ok(Err(r)),
        Err(TxError::Db(e)) => Err(e.into()),
    }
}

/// Apply `f` to one workflow (locked) in a transaction; when the workflow is published,
/// validate the result and roll everything back if the validator finds problems.
fn edit<T>(
    conn: &mut PgConnection,
    workflow_id: i64,
    f: impl FnOnce(&mut PgConnection, &WorkflowRow) -> Result<T, TxError>,
) -> Checked<T> {
    in_tx(conn, |conn| {
        let wf = wfm::lock(conn, workflow_id)?;
        let out = f(conn, &wf)?;
        wfm::touch_workflow(conn, workflow_id)?;
        if !wf.draft {
            let problems = problems(conn, workflow_id)?;
            if !problems.is_empty() {
                return Err(Refusal::Broken(problems).into());
            }
        }
        Ok(out)
    })
}

/// What the validator says about a workflow as stored now.
pub fn problems(conn: &mut PgConnection, workflow_id: i64) -> QueryResult<Vec<String>> {
    let wf = wfm::load(conn, workflow_id)?;
    let rules = wfm::rules_of(conn, workflow_id)?;
    let grid: Vec<(i64, &str, Rule)> = rules
        .iter()
        .map(|(p, f, r)| {
            (
                *p,
                release_field(f).map(|d| d.label).unwrap_or(f.as_str()),
                *r,
            )
        })
        .collect();
    Ok(workflow_validator::problems(&wf, &grid))
}

fn is_fk_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)
    )
}

const NAME_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 2000;

/// A name: trimmed, 1 to 100 characters.
fn check_name(errors: &mut FormErrors, field: &str, value: &str, what: &str) -> String {
    let v = value.trim();
    if v.is_empty() {
        errors.add(field, format!("Enter a name for the {what}."));
    } else if v.chars().count() > NAME_MAX {
        errors.add(
            field,
            format!("The {what}'s name must be at most {NAME_MAX} characters."),
        );
    }
    v.to_string()
}

fn check_description(errors: &mut FormErrors, field: &str, value: &str) -> String {
    let v = value.trim();
    if v.chars().count() > DESCRIPTION_MAX {
        errors.add(
            field,
            format!("The description must be at most {DESCRIPTION_MAX} characters."),
        );
    }
    v.to_string()
}

fn parse_id(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

// ---- Workflows ----

/// The form that creates an empty workflow (also used to rename one).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WorkflowInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub record_kind: String,
    /// The create form's one-time key (`services::submissions`).
    #[serde(default)]
    pub submission_key: String,
}

/// Create an empty draft workflow. Returns its id.
pub fn create_empty(conn: &mut PgConnection, input: &WorkflowInput) -> Checked<i64> {
    let mut errors = FormErrors::default();
    let name = check_name(&mut errors, "name", &input.name, "workflow");
    let description = check_description(&mut errors, "description", &input.description);
    let kind = input.record_kind.parse::<RecordKind>();
    if kind.is_err() {
        errors.add(
            "record_kind",
            "Choose whether the workflow drives releases or changes.",
        );
    }
    in_tx(conn, |conn| {
        if !name.is_empty() && wfm::workflow_name_taken(conn, &name, None)? {
            errors.add(
                "name",
                format!("A workflow named {name} already exists: choose another name."),
            );
        }
        if !errors.is_empty() {
            return Err(Refusal::Invalid(errors).into());
        }
        let kind = kind.expect("checked above");
        Ok(wfm::insert_workflow(
            conn,
            &name,
            &description,
            kind.as_str(),
        )?)
    })
}

/// The form that copies a workflow.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CopyInput {
    #[serde(default)]
    pub copy_source: String,
    #[serde(default)]
    pub copy_name: String,
    /// The create form's one-time key (`services::submissions`).
    #[serde(default)]
    pub submission_key: String,
}

/// "Copy of X", shortened to fit, and numbered when that name is taken.
fn copy_name(conn: &mut PgConnection, source: &str) -> QueryResult<String> {
    for n in 1.. {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!(" ({n})")
        };
        let room = NAME_MAX - "Copy of ".len() - suffix.chars().count();
        let base: String = source.chars().take(room).collect();
        let name = format!("Copy of {base}{suffix}");
        if !wfm::workflow_name_taken(conn, &name, None)? {
            return Ok(name);
        }
    }
    unreachable!("some name is free")
}

/// Copy a workflow's phases (not the retired ones) with their exit criteria and approval
/// requirements, their field rules and the transitions between them into a new draft. Returns the new workflow's id.
pub fn copy(conn: &mut PgConnection, input: &CopyInput) -> Checked<i64> {
    let mut errors = FormErrors::default();
    let given = input.copy_name.trim().to_string();
    if given.chars().count() > NAME_MAX {
        errors.add(
            "copy_name",
            format!("The workflow's name must be at most {NAME_MAX} characters."),
        );
    }
    let Some(source_id) = parse_id(&input.copy_source) else {
        errors.add("copy_source", "Choose the workflow to copy.");
        return Ok(Err(Refusal::Invalid(errors)));
    };
    in_tx(conn, |conn| {
        let Some(source) = wfm::find(conn, source_id).optional()? else {
            errors.add(
                "copy_source",
                "That workflow no longer exists: choose another.",
            );
            return Err(Refusal::Invalid(errors).into());
        };
        if !given.is_empty() && wfm::workflow_name_taken(conn, &given, None)? {
            errors.add(
                "copy_name",
                format!("A workflow named {given} already exists: choose another name."),
            );
        }
        if !errors.is_empty() {
            return Err(Refusal::Invalid(errors).into());
        }
        let name = if given.is_empty() {
            copy_name(conn, &source.name)?
        } else {
            given
        };
        let new_id = wfm::insert_workflow(conn, &name, &source.description, &source.record_kind)?;
        let mut map: HashMap<i64, i64> = HashMap::new();
        let mut position = 0;
        for p in wfm::phases_of(conn, source_id)?
            .into_iter()
            .filter(|p| !p.retired)
        {
            position += 1;
            let id = wfm::insert_phase(conn, new_id, position, &values_of(&p))?;
            wfm::set_phase_require_tasks_done(conn, id, p.require_tasks_done)?;
            map.insert(p.id, id);
        }
        let sources: Vec<i64> = map.keys().copied().collect();
        for r in am::requirements_of(conn, &sources)? {
            if let Some(n) = map.get(&r.phase_id) {
                am::set_requirement(conn, &Requirement { phase_id: *n, ..r })?;
            }
        }
        let rules: Vec<(i64, String, Rule)> = wfm::rules_of(conn, source_id)?
            .into_iter()
            .filter_map(|(p, f, r)| map.get(&p).map(|n| (*n, f, r)))
            .collect();
        let refs: Vec<(i64, &str, Rule)> =
            rules.iter().map(|(p, f, r)| (*p, f.as_str(), *r)).collect();
        wfm::upsert_rules(conn, &refs)?;
        for t in wfm::transitions_of(conn, source_id)? {
            let Some(from) = map.get(&t.from_phase_id) else {
                continue;
            };
            let to = match t.to_phase_id {
                Some(to) => match map.get(&to) {
                    Some(n) => Some(*n),
                    None => continue,
                },
                None => None,
            };
            wfm::insert_transition(
                conn,
                &NewTransition {
                    workflow_id: new_id,
                    from_phase_id: *from,
                    to_phase_id: to,
                    kind: t.kind,
                    label: t.label,
                    roles: t.roles,
                    reason_required: t.reason_required,
                    outcome: t.outcome,
                },
            )?;
        }
        Ok(new_id)
    })
}

fn values_of(p: &PhaseRow) -> PhaseValues {
    PhaseValues {
        name: p.name.clone(),
        description: p.description.clone(),
        duration_hours: p.duration_hours,
        emergency_duration_hours: p.emergency_duration_hours,
        condition: p.condition.clone(),
        record_types: p.record_types.clone(),
    }
}

/// Rename a workflow or change its description (its kind stays).
pub fn rename(conn: &mut PgConnection, workflow_id: i64, input: &WorkflowInput) -> Checked<()> {
    let mut errors = FormErrors::default();
    let name = check_name(&mut errors, "name", &input.name, "workflow");
    let description = check_description(&mut errors, "description", &input.description);
    edit(conn, workflow_id, |conn, _| {
        if !name.is_empty() && wfm::workflow_name_taken(conn, &name, Some(workflow_id))? {
            errors.add(
                "name",
                format!("A workflow named {name} already exists: choose another name."),
            );
        }
        if !errors.is_empty() {
            return Err(Refusal::Invalid(errors).into());
        }
        wfm::update_workflow(conn, workflow_id, &name, &description)?;
        Ok(())
    })
}

/// Publish a draft: refused with the validator's messages while it has problems.
pub fn publish(conn: &mut PgConnection, workflow_id: i64) -> Checked<()> {
    in_tx(conn, |conn| {
        let wf = wfm::lock(conn, workflow_id)?;
        let problems = problems(conn, workflow_id)?;
        if !problems.is_empty() {
            return Err(Refusal::Broken(problems).into());
        }
        wfm::set_workflow_state(conn, workflow_id, false, wf.retired)?;
        Ok(())
    })
}

/// What removing a workflow would do, for the confirmation page.
pub struct WorkflowUse {
    pub releases: i64,
    pub in_use: bool,
    /// Categories pointing at it, not retired.
    pub active_categories: Vec<String>,
    /// Categories pointing at it, retired ones included.
    pub all_categories: Vec<String>,
}

pub fn workflow_use(conn: &mut PgConnection, workflow_id: i64) -> QueryResult<WorkflowUse> {
    let cats = wfm::categories_of(conn, workflow_id)?;
    Ok(WorkflowUse {
        releases: wfm::releases_of_workflow(conn, workflow_id)?,
        in_use: wfm::workflow_in_use(conn, workflow_id)?,
        active_categories: cats
            .iter()
            .filter(|c| !c.retired)
            .map(|c| c.name.clone())
            .collect(),
        all_categories: cats.into_iter().map(|c| c.name).collect(),
    })
}

/// Retire a workflow: no category may keep using it.
pub fn retire_workflow(conn: &mut PgConnection, workflow_id: i64) -> Checked<()> {
    in_tx(conn, |conn| {
        let wf = wfm::lock(conn, workflow_id)?;
        let cats: Vec<String> = wfm::categories_of(conn, workflow_id)?
            .into_iter()
            .filter(|c| !c.retired)
            .map(|c| c.name)
            .collect();
        if !cats.is_empty() {
            return Err(Refusal::Broken(vec![format!(
                "These categories use {}: {}. Point them at another workflow or retire them first.",
                wf.name,
                cats.join(", ")
            )])
            .into());
        }
        wfm::set_workflow_state(conn, workflow_id, wf.draft, true)?;
        Ok(())
    })
}

pub fn restore_workflow(conn: &mut PgConnection, workflow_id: i64) -> Checked<()> {
    in_tx(conn, |conn| {
        let wf = wfm::lock(conn, workflow_id)?;
        wfm::set_workflow_state(conn, workflow_id, wf.draft, false)?;
        Ok(())
    })
}

/// Delete a workflow nothing uses; one in use (or pointed at by a category) is refused.
pub fn delete_workflow(conn: &mut PgConnection, workflow_id: i64) -> Checked<()> {
    in_tx(conn, |conn| {
        let wf = wfm::lock(conn, workflow_id)?;
        let usage = workflow_use(conn, workflow_id)?;
        if usage.in_use {
            return Err(Refusal::Broken(vec![format!(
                "Releases use {}: it can be retired, never deleted.",
                wf.name
            )])
            .into());
        }
        if !usage.all_categories.is_empty() {
            return Err(Refusal::Broken(vec![format!(
                "These categories point at {}: {}. Point them at another workflow before deleting it.",
                wf.name,
                usage.all_categories.join(", ")
            )])
            .into());
        }
        match conn.transaction(|conn| wfm::delete_workflow(conn, workflow_id)) {
            Ok(_) => Ok(()),
            Err(e) if is_fk_violation(&e) => Err(Refusal::Broken(vec![format!(
                "Other records still refer to {}: retire it instead.",
                wf.name
            )])
            .into()),
            Err(e) => Err(e.into()),
        }
    })
}

// ---- Phases ----

/// The phase form: on the workflow page (add) and the phase page (edit). Durations are a
/// number and a unit; `phase_from` and `phase_to` (add only) connect the new phase.
#[derive(Debug, Clone, Deserialize)]
pub struct PhaseInput {
    #[serde(default)]
    pub phase_name: String,
    #[serde(default)]
    pub phase_description: String,
    #[serde(default)]
    pub phase_duration: String,
    #[serde(default)]
    pub phase_duration_unit: String,
    #[serde(default)]
    pub phase_emergency_duration: String,
    #[serde(default)]
    pub phase_emergency_unit: String,
    #[serde(default)]
    pub phase_condition: String,
    /// Add an advance transition into the new phase from this phase (id), if any.
    #[serde(default)]
    pub phase_from: String,
    /// Add a transition out of the new phase: a phase id (advance) or `close`.
    #[serde(default)]
    pub phase_to: String,
    // Edit only (the phase page): what leaving the phase needs. A new phase starts with the
    // tasks criterion on and no approval.
    /// Checkbox: all tasks of the phase done or cancelled before it is left.
    #[serde(default)]
    pub phase_require_tasks_done: Option<String>,
    /// Checkbox: leaving the phase needs an approval.
    #[serde(default)]
    pub phase_needs_approval: Option<String>,
    /// The approving group (id).
    #[serde(default)]
    pub phase_approval_group: String,
    /// A key of `domain::approval::RULE_KEYS`.
    #[serde(default)]
    pub phase_approval_rule: String,
    /// Quorum rule only: how many must approve; empty = more than half.
    #[serde(default)]
    pub phase_quorum_count: String,
    /// The group emergency releases go to (id); empty = the same group and rule.
    #[serde(default)]
    pub phase_emergency_group: String,
    #[serde(default)]
    pub phase_emergency_rule: String,
    /// The record types the phase is for (checkboxes; none: every type).
    #[serde(default)]
    pub phase_record_types: Vec<String>,
    /// Checkbox: members of a group a task is assigned to may approve their group's work.
    #[serde(default)]
    pub phase_own_group_may_approve: Option<String>,
    /// The add form's one-time key (`services::submissions`).
    #[serde(default)]
    pub submission_key: String,
}

impl Default for PhaseInput {
    fn default() -> Self {
        PhaseInput {
            phase_name: String::new(),
            phase_description: String::new(),
            phase_duration: "5".into(),
            phase_duration_unit: "days".into(),
            phase_emergency_duration: "4".into(),
            phase_emergency_unit: "hours".into(),
            phase_condition: Condition::Always.as_str().into(),
            phase_from: String::new(),
            phase_to: String::new(),
            phase_require_tasks_done: Some("on".into()),
            phase_needs_approval: None,
            phase_approval_group: String::new(),
            phase_approval_rule: "all".into(),
            phase_quorum_count: String::new(),
            phase_emergency_group: String::new(),
            phase_emergency_rule: "one".into(),
            phase_own_group_may_approve: None,
            phase_record_types: Vec::new(),
            submission_key: String::new(),
        }
    }
}

impl PhaseInput {
    /// The form filled with a phase's values (durations in days when they are whole days).
    pub fn of(p: &PhaseRow) -> PhaseInput {
        let (d, du) = split_hours(p.duration_hours);
        let (e, eu) = split_hours(p.emergency_duration_hours);
        PhaseInput {
            phase_name: p.name.clone(),
            phase_description: p.description.clone(),
            phase_duration: d,
            phase_duration_unit: du,
            phase_emergency_duration: e,
            phase_emergency_unit: eu,
            phase_condition: p.condition.clone(),
            phase_require_tasks_done: p.require_tasks_done.then(|| "on".into()),
            phase_record_types: p.record_types.clone(),
            ..PhaseInput::default()
        }
    }

    /// The form filled with a phase's values and its approval requirement. Without one, the
    /// approval fields offer `default_group` (all must approve) and `default_emergency` (one
    /// must approve), ready to be switched on.
    pub fn of_phase(
        p: &PhaseRow,
        requirement: Option<&Requirement>,
        default_group: Option<i64>,
        default_emergency: Option<i64>,
    ) -> PhaseInput {
        let id = |g: Option<i64>| g.map(|g| g.to_string()).unwrap_or_default();
        let base = PhaseInput::of(p);
        match requirement {
            Some(r) => PhaseInput {
                phase_needs_approval: Some("on".into()),
                phase_approval_group: r.group_id.to_string(),
                phase_approval_rule: r.rule.clone(),
                phase_quorum_count: r.quorum_count.map(|q| q.to_string()).unwrap_or_default(),
                phase_emergency_group: id(r.emergency_group_id),
                phase_emergency_rule: r.emergency_rule.clone(),
                phase_own_group_may_approve: r.own_group_may_approve.then(|| "on".into()),
                ..base
            },
            None => PhaseInput {
                phase_approval_group: id(default_group),
                phase_emergency_group: id(default_emergency),
                ..base
            },
        }
    }
}

fn split_hours(h: i32) -> (String, String) {
    if h % 24 == 0 {
        ((h / 24).to_string(), "days".into())
    } else {
        (h.to_string(), "hours".into())
    }
}

/// A duration typed as a number of hours or days, in hours (1 hour to 365 days).
fn check_duration(
    errors: &mut FormErrors,
    (field, unit_field): (&str, &str),
    amount: &str,
    unit: &str,
    what: &str,
) -> i32 {
    let factor = match unit {
        "hours" => 1,
        "days" => 24,
        _ => {
            errors.add(unit_field, "Choose hours or days.");
            return 1;
        }
    };
    match amount.trim().parse::<i32>() {
        Ok(n) if n >= 1 && n.checked_mul(factor).is_some_and(|h| h <= 8760) => n * factor,
        _ => {
            errors.add(
                field,
                format!("Enter the {what} as a whole number between 1 hour and 365 days."),
            );
            1
        }
    }
}

fn check_phase(errors: &mut FormErrors, input: &PhaseInput) -> PhaseValues {
    let name = check_name(errors, "phase_name", &input.phase_name, "phase");
    let description = check_description(errors, "phase_description", &input.phase_description);
    let duration_hours = check_duration(
        errors,
        ("phase_duration", "phase_duration_unit"),
        &input.phase_duration,
        &input.phase_duration_unit,
        "expected duration",
    );
    let emergency_duration_hours = check_duration(
        errors,
        ("phase_emergency_duration", "phase_emergency_unit"),
        &input.phase_emergency_duration,
        &input.phase_emergency_unit,
        "emergency duration",
    );
    let condition = match input.phase_condition.parse::<Condition>() {
        Ok(c) => c.as_str().to_string(),
        Err(()) => {
            errors.add("phase_condition", "Choose when the phase applies.");
            Condition::Always.as_str().to_string()
        }
    };
    let known = |t: &String| {
        ReleaseType::ALL.iter().any(|k| k.as_str() == t)
            || ChangeType::ALL.iter().any(|k| k.as_str() == t)
    };
    let mut record_types: Vec<String> = input
        .phase_record_types
        .iter()
        .filter(|t| known(t))
        .cloned()
        .collect();
    if record_types.len() != input.phase_record_types.len() {
        errors.add("phase_record_types", "Tick the types from the list.");
    }
    record_types.sort();
    record_types.dedup();
    PhaseValues {
        name,
        description,
        duration_hours,
        emergency_duration_hours,
        condition,
        record_types,
    }
}

/// A phase of this workflow that is not retired, by the id typed in a form.
fn active_phase(phases: &[PhaseRow], s: &str) -> Option<PhaseRow> {
    let id = parse_id(s)?;
    phases.iter().find(|p| p.id == id && !p.retired).cloned()
}

fn phase_name_clash(phases: &[PhaseRow], name: &str, except: Option<i64>) -> Option<String> {
    phases.iter().find(|p| p.name == name && Some(p.id) != except).map(|p| {
        if p.retired {
            format!("A retired phase of this workflow is named {name}: restore it, or choose another name.")
        } else {
            format!("This workflow already has a phase named {name}: choose another name.")
        }
    })
}

fn default_roles() -> Vec<String> {
    vec![
        Role::Coordinator.as_str().to_string(),
        Role::Manager.as_str().to_string(),
    ]
}

/// Add a phase at the end, with a field rule (editable) for every release field, and the
/// transitions into and out of it the form asked for. Returns the phase's id.
pub fn add_phase(conn: &mut PgConnection, workflow_id: i64, input: &PhaseInput) -> Checked<i64> {
    let mut errors = FormErrors::default();
    let values = check_phase(&mut errors, input);
    edit(conn, workflow_id, |conn, wf| {
        let phases = wfm::phases_of(conn, workflow_id)?;
        if let Some(m) = phase_name_clash(&phases, &values.name, None) {
            errors.add("phase_name", m);
        }
        let from = if input.phase_from.trim().is_empty() {
            None
        } else {
            let p = active_phase(&phases, &input.phase_from);
            if p.is_none() {
                errors.add("phase_from", "Choose a phase of this workflow, or none.");
            }
            p
        };
        let to = match input.phase_to.trim() {
            "" => None,
            "close" => Some(None),
            s => {
                let p = active_phase(&phases, s);
                if p.is_none() {
                    errors.add(
                        "phase_to",
                        "Choose a phase of this workflow, closing, or none.",
                    );
                }
                p.map(Some)
            }
        };
        if !errors.is_empty() {
            return Err(Refusal::Invalid(errors).into());
        }
        let position = phases.iter().map(|p| p.position).max().unwrap_or(0) + 1;
        let id = wfm::insert_phase(conn, workflow_id, position, &values)?;
        if wf.record_kind == RecordKind::Release.as_str() {
            let rules: Vec<(i64, &str, Rule)> = RELEASE_FIELDS
                .iter()
                .map(|f| (id, f.key, Rule::Editable))
                .collect();
            wfm::upsert_rules(conn, &rules)?;
        }
        if let Some(from) = from {
            wfm::insert_transition(conn, &advance(workflow_id, from.id, id, &values.name))?;
        }
        match to {
            Some(Some(next)) => {
                wfm::insert_transition(conn, &advance(workflow_id, id, next.id, &next.name))?;
            }
            Some(None) => {
                wfm::insert_transition(
                    conn,
                    &NewTransition {
                        workflow_id,
                        from_phase_id: id,
                        to_phase_id: None,
                        kind: TransitionKind::Close.as_str().into(),
                        label: "Close as successful".into(),
                        roles: default_roles(),
                        reason_required: false,
                        outcome: Some(Outcome::Successful.as_str().into()),
                    },
                )?;
            }
            None => {}
        }
        Ok(id)
    })
}

fn advance(workflow_id: i64, from: i64, to: i64, to_name: &str) -> NewTransition {
    NewTransition {
        workflow_id,
        from_phase_id: from,
        to_phase_id: Some(to),
        kind: TransitionKind::Advance.as_str().into(),
        label: label_within(format!("Advance to {to_name}")),
        roles: default_roles(),
        reason_required: false,
        outcome: None,
    }
}

fn label_within(s: String) -> String {
    s.chars().take(NAME_MAX).collect()
}

/// A phase of this workflow, or `NotFound` (404) when the id belongs to another.
pub fn phase_of(conn: &mut PgConnection, workflow_id: i64, phase_id: i64) -> AppResult<PhaseRow> {
    let p = wfm::phase(conn, phase_id)?;
    if p.workflow_id != workflow_id {
        return Err(crate::error::AppError::NotFound);
    }
    Ok(p)
}

pub const QUORUM_MAX: i32 = 1000;

fn is_rule_key(s: &str) -> bool {
    RULE_KEYS.iter().any(|(k, _)| *k == s)
}

/// The approval requirement the phase form asks for: `None` when "Needs approval to leave"
/// is unchecked (the other approval fields are then ignored). `group_ids` are the groups
/// that exist. A quorum count is kept only for the quorum rule.
fn check_approval(
    errors: &mut FormErrors,
    input: &PhaseInput,
    phase_id: i64,
    group_ids: &[i64],
) -> Option<Requirement> {
    input.phase_needs_approval.as_ref()?;
    let group = parse_id(&input.phase_approval_group).filter(|g| group_ids.contains(g));
    if group.is_none() {
        errors.add(
            "phase_approval_group",
            "Choose the group that approves leaving the phase.",
        );
    }
    let rule = input.phase_approval_rule.trim();
    if !is_rule_key(rule) {
        errors.add("phase_approval_rule", "Choose how the group decides.");
    }
    let quorum = match input.phase_quorum_count.trim() {
        "" => None,
        q => match q.parse::<i32>() {
            Ok(n) if (1..=QUORUM_MAX).contains(&n) => Some(n),
            _ => {
                errors.add(
                    "phase_quorum_count",
                    format!("Enter the quorum as a whole number from 1 to {QUORUM_MAX}, or leave it empty for more than half of the group."),
                );
                None
            }
        },
    };
    let emergency_group = match input.phase_emergency_group.trim() {
        "" => None,
        g => {
            let g = parse_id(g).filter(|g| group_ids.contains(g));
            if g.is_none() {
                errors.add(
                    "phase_emergency_group",
                    "Choose the group emergency releases go to, or the same as above.",
                );
            }
            g
        }
    };
    let emergency_rule = input.phase_emergency_rule.trim();
    if !is_rule_key(emergency_rule) {
        errors.add(
            "phase_emergency_rule",
            "Choose how the emergency group decides.",
        );
    }
    Some(Requirement {
        phase_id,
        group_id: group.unwrap_or(0),
        rule: rule.to_string(),
        quorum_count: if rule == approval::Rule::Quorum(None).key() {
            quorum
        } else {
            None
        },
        emergency_group_id: emergency_group,
        emergency_rule: emergency_rule.to_string(),
        own_group_may_approve: input.phase_own_group_may_approve.is_some(),
    })
}

/// Change a phase's name, description, durations and condition, and what leaving it needs:
/// its tasks done, an approval. Removing the approval requirement leaves the approvals
/// already requested as they are.
pub fn update_phase(
    conn: &mut PgConnection,
    workflow_id: i64,
    phase_id: i64,
    input: &PhaseInput,
) -> Checked<()> {
    let mut errors = FormErrors::default();
    let values = check_phase(&mut errors, input);
    edit(conn, workflow_id, |conn, _| {
        let phases = wfm::phases_of(conn, workflow_id)?;
        if !phases.iter().any(|p| p.id == phase_id) {
            return Err(DieselError::NotFound.into());
        }
        if let Some(m) = phase_name_clash(&phases, &values.name, Some(phase_id)) {
            errors.add("phase_name", m);
        }
        let group_ids: Vec<i64> = groups::all(conn)?.into_iter().map(|g| g.id).collect();
        let approval = check_approval(&mut errors, input, phase_id, &group_ids);
        if !errors.is_empty() {
            return Err(Refusal::Invalid(errors).into());
        }
        wfm::update_phase(conn, phase_id, &values)?;
        wfm::set_phase_require_tasks_done(
            conn,
            phase_id,
            input.phase_require_tasks_done.is_some(),
        )?;
        match approval {
            Some(r) => am::set_requirement(conn, &r)?,
            None => am::remove_requirement(conn, phase_id)?,
        };
        Ok(())
    })
}

/// Swap a phase with the nearest phase above (or below) it that is not retired.
pub fn move_phase(
    conn: &mut PgConnection,
    workflow_id: i64,
    phase_id: i64,
    up: bool,
) -> Checked<()> {
    edit(conn, workflow_id, |conn, _| {
        let mut phases = wfm::phases_of(conn, workflow_id)?;
        let Some(i) = phases.iter().position(|p| p.id == phase_id) else {
            return Err(DieselError::NotFound.into());
        };
        let j = if up {
            (0..i).rev().find(|&j| !phases[j].retired)
        } else {
            (i + 1..phases.len()).find(|&j| !phases[j].retired)
        };
        let Some(j) = j else { return Ok(()) };
        phases.swap(i, j);
        for (n, p) in phases.iter().enumerate() {
            let position = n as i32 + 1;
            if p.position != position {
                wfm::set_phase_position(conn, p.id, position)?;
            }
        }
        Ok(())
    })
}

/// What removing a phase would do, for the confirmation page.
pub struct PhaseUse {
    /// Releases in the phase now.
    pub releases_in_it: i64,
    /// Any record refers to it: it can only be retired.
    pub in_use: bool,
    /// Labels of transitions from other phases into it (removed when it is retired).
    pub transitions_in: Vec<String>,
}

pub fn phase_use(
    conn: &mut PgConnection,
    workflow_id: i64,
    phase_id: i64,
) -> QueryResult<PhaseUse> {
    let wf = wfm::load(conn, workflow_id)?;
    Ok(PhaseUse {
        releases_in_it: wfm::releases_in_phase(conn, phase_id)?,
        in_use: wfm::phase_in_use(conn, phase_id)?,
        transitions_in: wf
            .transitions
            .iter()
            .filter(|t| t.to == Some(phase_id) && t.from != phase_id)
            .map(|t| format!("{} (from {})", t.label, wf.phase_name(t.from)))
            .collect(),
    })
}

/// What happened to a removed phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    Deleted,
    Retired,
}

/// Retire a phase: transitions from other phases into it are removed (so nothing new enters
/// it), its own transitions out stay (so releases in it can leave). Releases in it stay there
/// until they are moved. With `delete` and nothing referring to it, it is deleted instead.
pub fn remove_phase(
    conn: &mut PgConnection,
    workflow_id: i64,
    phase_id: i64,
    delete: bool,
) -> Checked<Removed> {
    edit(conn, workflow_id, |conn, _| {
        let p = wfm::phase(conn, phase_id)?;
        if p.workflow_id != workflow_id {
            return Err(DieselError::NotFound.into());
        }
        if delete {
            if wfm::phase_in_use(conn, phase_id)? {
                return Err(Refusal::Broken(vec![format!(
                    "Releases have been in {}: it can be retired, never deleted.",
                    p.name
                )])
                .into());
            }
            // Records added by later features may refer to the phase too: then retire it.
            match conn.transaction(|conn| wfm::delete_phase(conn, phase_id)) {
                Ok(_) => return Ok(Removed::Deleted),
                Err(e) if is_fk_violation(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        wfm::delete_transitions_into(conn, phase_id)?;
        wfm::set_phase_retired(conn, phase_id, true)?;
        Ok(Removed::Retired)
    })
}

/// The form that restores a retired phase; `phase_from` adds an advance transition into it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RestoreInput {
    #[serde(default)]
    pub phase_from: String,
}

pub fn restore_phase(
    conn: &mut PgConnection,
    workflow_id: i64,
    phase_id: i64,
    input: &RestoreInput,
) -> Checked<()> {
    edit(conn, workflow_id, |conn, _| {
        let phases = wfm::phases_of(conn, workflow_id)?;
        let Some(p) = phases.iter().find(|p| p.id == phase_id).cloned() else {
            return Err(DieselError::NotFound.into());
        };
        let from = if input.phase_from.trim().is_empty() {
            None
        } else {
            match active_phase(&phases, &input.phase_from) {
                Some(f) if f.id != phase_id => Some(f),
                _ => {
                    return Err(Refusal::field(
                        "phase_from",
                        "Choose a phase of this workflow, or none.",
                    )
                    .into())
                }
            }
        };
        wfm::set_phase_retired(conn, phase_id, false)?;
        if let Some(from) = from {
            wfm::insert_transition(conn, &advance(workflow_id, from.id, phase_id, &p.name))?;
        }
        Ok(())
    })
}

// ---- Field rules ----

/// The form name of one cell of the field-rules grid.
pub fn rule_key(phase_id: i64, field: &str) -> String {
    format!("rule_{phase_id}_{field}")
}

/// Save the field-rules grid: every cell `rule_<phase id>_<field>` of the phases not retired.
/// Cells missing from the form (a phase added meanwhile) keep their rule.
pub fn save_rules(
    conn: &mut PgConnection,
    workflow_id: i64,
    form: &HashMap<String, String>,
) -> Checked<()> {
    edit(conn, workflow_id, |conn, _| {
        let phases = wfm::phases_of(conn, workflow_id)?;
        let mut errors = FormErrors::default();
        let mut rules: Vec<(i64, &str, Rule)> = Vec::new();
        for p in phases.iter().filter(|p| !p.retired) {
            for f in RELEASE_FIELDS {
                let key = rule_key(p.id, f.key);
                let Some(value) = form.get(&key) else {
                    continue;
                };
                match value.parse::<Rule>() {
                    Ok(r) => rules.push((p.id, f.key, r)),
                    Err(()) => errors.add(
                        &key,
                        format!("Choose a rule for {} in {}.", f.label, p.name),
                    ),
                }
            }
        }
        if !errors.is_empty() {
            return Err(Refusal::Invalid(errors).into());
        }
        wfm::upsert_rules(conn, &rules)?;
        Ok(())
    })
}

// ---- Transitions ----

/// The add-transition form.
#[derive(Debug, Clone, Deserialize)]
pub struct TransitionInput {
    #[serde(default)]
    pub t_from: String,
    #[serde(default)]
    pub t_to: String,
    #[serde(default)]
    pub t_kind: String,
    #[serde(default)]
    pub t_label: String,
    #[serde(default)]
    pub t_roles: Vec<String>,
    #[serde(default)]
    pub t_reason_required: Option<String>,
    #[serde(default)]
    pub t_outcome: String,
    /// The add form's one-time key (`services::submissions`).
    #[serde(default)]
    pub submission_key: String,
}

impl Default for TransitionInput {
    fn default() -> Self {
        TransitionInput {
            t_from: String::new(),
            t_to: String::new(),
            t_kind: TransitionKind::Advance.as_str().into(),
            t_label: String::new(),
            t_roles: default_roles(),
            t_reason_required: None,
            t_outcome: String::new(),
            submission_key: String::new(),
        }
    }
}

impl TransitionInput {
    pub fn has_role(&self, role: &str) -> bool {
        self.t_roles.iter().any(|r| r == role)
    }
}

/// The label a transition gets when none is typed.
fn default_label(kind: TransitionKind, to: Option<&str>, outcome: Option<Outcome>) -> String {
    label_within(match (kind, to, outcome) {
        (TransitionKind::Advance, Some(to), _) => format!("Advance to {to}"),
        (TransitionKind::Rework, Some(to), _) => format!("Rework in {to}"),
        (TransitionKind::BackOut, _, _) => "Activate back-out plan".into(),
        (TransitionKind::Abandon, _, _) => "Abandon".into(),
        (TransitionKind::Close, _, Some(Outcome::BackedOut)) => "Close as backed out".into(),
        (TransitionKind::Close, _, _) => "Close as successful".into(),
        (_, None, _) => kind.label().into(),
    })
}

/// Add a transition. Abandon and close end the record (no target phase); the others need
/// one; close needs an outcome. Rework and abandon always ask for a reason.
pub fn add_transition(
    conn: &mut PgConnection,
    workflow_id: i64,
    input: &TransitionInput,
) -> Checked<i64> {
    edit(conn, workflow_id, |conn, _| {
        let phases = wfm::phases_of(conn, workflow_id)?;
        let mut errors = FormErrors::default();
        let from = active_phase(&phases, &input.t_from);
        if from.is_none() {
            errors.add("t_from", "Choose the phase the transition leaves.");
        }
        let kind = input.t_kind.parse::<TransitionKind>().ok();
        if kind.is_none() {
            errors.add("t_kind", "Choose the kind of transition.");
        }
        let ends = matches!(kind, Some(TransitionKind::Abandon | TransitionKind::Close));
        let to = if input.t_to.trim().is_empty() {
            if kind.is_some() && !ends {
                errors.add(
                    "t_to",
                    "Choose the phase the transition leads to: only abandon and close have none.",
                );
            }
            None
        } else if ends {
            errors.add(
                "t_to",
                "Abandon and close end the record: leave the target phase empty.",
            );
            None
        } else {
            let p = active_phase(&phases, &input.t_to);
            match &p {
                None => errors.add("t_to", "Choose a phase of this workflow."),
                Some(p) if from.as_ref().is_some_and(|f| f.id == p.id) => {
                    errors.add("t_to", "A transition must lead to another phase.")
                }
                _ => {}
            }
            p
        };
        let outcome = match (input.t_outcome.trim(), kind) {
            ("", Some(TransitionKind::Close)) => {
                errors.add(
                    "t_outcome",
                    "Choose how a close ends the record: successful or backed out.",
                );
                None
            }
            ("", _) => None,
            (o, Some(TransitionKind::Close)) => {
                let parsed = o.parse::<Outcome>().ok();
                if parsed.is_none() {
                    errors.add("t_outcome", "Choose successful or backed out.");
                }
                parsed
            }
            (_, Some(_)) => {
                errors.add(
                    "t_outcome",
                    "Only a close transition has an outcome: choose none.",
                );
                None
            }
            (_, None) => None,
        };
        let label = input.t_label.trim().to_string();
        if label.chars().count() > NAME_MAX {
            errors.add(
                "t_label",
                format!("The label must be at most {NAME_MAX} characters."),
            );
        }
        let mut roles: Vec<Role> = Vec::new();
        for r in &input.t_roles {
            match r.parse::<Role>() {
                Ok(r) if !roles.contains(&r) => roles.push(r),
                Ok(_) => {}
                Err(_) => errors.add("t_roles", "Choose roles from the list."),
            }
        }
        if roles.is_empty() && !errors.has("t_roles") {
            errors.add(
                "t_roles",
                "Choose at least one role that may take the transition.",
            );
        }
        if !errors.is_empty() {
            return Err(Refusal::Invalid(errors).into());
        }
        let (from, kind) = (from.expect("checked"), kind.expect("checked"));
        let label = if label.is_empty() {
            default_label(kind, to.as_ref().map(|p| p.name.as_str()), outcome)
        } else {
            label
        };
        let reason_required = input.t_reason_required.is_some()
            || matches!(kind, TransitionKind::Rework | TransitionKind::Abandon);
        Ok(wfm::insert_transition(
            conn,
            &NewTransition {
                workflow_id,
                from_phase_id: from.id,
                to_phase_id: to.map(|p| p.id),
                kind: kind.as_str().into(),
                label,
                roles: Roles::of(&roles).to_strings(),
                reason_required,
                outcome: outcome.map(|o| o.as_str().into()),
            },
        )?)
    })
}

/// Remove a transition (nothing refers to transitions, so it is deleted).
pub fn remove_transition(
    conn: &mut PgConnection,
    workflow_id: i64,
    transition_id: i64,
) -> Checked<()> {
    edit(conn, workflow_id, |conn, _| {
        let t = wfm::transition(conn, transition_id)?;
        if t.workflow_id != workflow_id {
            return Err(DieselError::NotFound.into());
        }
        wfm::delete_transition(conn, transition_id)?;
        Ok(())
    })
}

// ---- Categories ----

/// The category form (create and edit).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CategoryInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub record_kind: String,
    #[serde(default)]
    pub workflow_id: String,
    /// The create form's one-time key (`services::submissions`).
    #[serde(default)]
    pub submission_key: String,
}

fn check_category(
    conn: &mut PgConnection,
    input: &CategoryInput,
    existing: Option<i64>,
) -> Result<CategoryValues, TxError> {
    let mut errors = FormErrors::default();
    let name = check_name(&mut errors, "name", &input.name, "category");
    if !name.is_empty() && wfm::category_name_taken(conn, &name, existing)? {
        errors.add(
            "name",
            format!("A category named {name} already exists: choose another name."),
        );
    }
    let description = check_description(&mut errors, "description", &input.description);
    let kind = input.record_kind.parse::<RecordKind>().ok();
    if kind.is_none() {
        errors.add(
            "record_kind",
            "Choose whether the category is for releases or changes.",
        );
    }
    let workflow = match parse_id(&input.workflow_id) {
        Some(id) => wfm::find(conn, id).optional()?,
        None => None,
    };
    match &workflow {
        None => errors.add("workflow_id", "Choose the workflow the category uses."),
        Some(w) if w.retired => errors.add(
            "workflow_id",
            format!("{} is retired: choose another workflow.", w.name),
        ),
        Some(w) if w.draft => errors.add(
            "workflow_id",
            format!(
                "{} is a draft: publish it first, or choose another workflow.",
                w.name
            ),
        ),
        Some(w) => {
            if let Some(k) = kind.filter(|k| k.as_str() != w.record_kind) {
                errors.add(
                    "workflow_id",
                    format!(
                        "{} drives {}s, but this category is for {}s: choose a {} workflow.",
                        w.name,
                        w.record_kind,
                        k.as_str(),
                        k.as_str()
                    ),
                );
            }
        }
    }
    if let (Some(id), Some(k)) = (existing, kind) {
        let current = wfm::category(conn, id)?;
        if current.record_kind != k.as_str() && wfm::releases_of_category(conn, id)? > 0 {
            errors.add(
                "record_kind",
                "Records already use this category: its kind cannot change.",
            );
        }
    }
    if !errors.is_empty() {
        return Err(Refusal::Invalid(errors).into());
    }
    Ok(CategoryValues {
        name,
        description,
        record_kind: kind.expect("checked").as_str().into(),
        workflow_id: workflow.expect("checked").id,
    })
}

pub fn create_category(conn: &mut PgConnection, input: &CategoryInput) -> Checked<i64> {
    in_tx(conn, |conn| {
        let values = check_category(conn, input, None)?;
        Ok(wfm::insert_category(conn, &values)?)
    })
}

/// Change a category. Releases already registered keep the workflow they started with.
pub fn update_category(
    conn: &mut PgConnection,
    category_id: i64,
    input: &CategoryInput,
) -> Checked<()> {
    in_tx(conn, |conn| {
        wfm::category(conn, category_id)?;
        let values = check_category(conn, input, Some(category_id))?;
        wfm::update_category(conn, category_id, &values)?;
        Ok(())
    })
}

pub fn retire_category(conn: &mut PgConnection, category_id: i64) -> Checked<()> {
    in_tx(conn, |conn| {
        wfm::category(conn, category_id)?;
        wfm::set_category_retired(conn, category_id, true)?;
        Ok(())
    })
}

/// Restore a retired category: its workflow must be usable.
pub fn restore_category(conn: &mut PgConnection, category_id: i64) -> Checked<()> {
    in_tx(conn, |conn| {
        let c = wfm::category(conn, category_id)?;
        let w = wfm::find(conn, c.workflow_id)?;
        if w.retired || w.draft {
            return Err(Refusal::Broken(vec![format!(
                "{} is {}: point the category at a published workflow before restoring it.",
                w.name,
                if w.retired { "retired" } else { "a draft" }
            )])
            .into());
        }
        wfm::set_category_retired(conn, category_id, false)?;
        Ok(())
    })
}

/// Delete a category no release uses; one in use is refused (retire it instead).
pub fn delete_category(conn: &mut PgConnection, category_id: i64) -> Checked<()> {
    in_tx(conn, |conn| {
        let c = wfm::category(conn, category_id)?;
        if wfm::releases_of_category(conn, category_id)? > 0 {
            return Err(Refusal::Broken(vec![format!(
                "Releases use {}: it can be retired, never deleted.",
                c.name
            )])
            .into());
        }
        match conn.transaction(|conn| wfm::delete_category(conn, category_id)) {
            Ok(_) => Ok(()),
            Err(e) if is_fk_violation(&e) => Err(Refusal::Broken(vec![format!(
                "Other records still refer to {}: retire it instead.",
                c.name
            )])
            .into()),
            Err(e) => Err(e.into()),
        }
    })
}
