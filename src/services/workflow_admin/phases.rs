//! Phases of a workflow: add, edit, move, remove and restore, and their approval rules.
use super::*;

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
pub(super) fn active_phase(phases: &[PhaseRow], s: &str) -> Option<PhaseRow> {
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

pub(super) fn default_roles() -> Vec<String> {
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

pub(super) fn label_within(s: String) -> String {
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
