//! Workflows: create, copy, rename, publish, retire, restore and delete.
use super::*;

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
