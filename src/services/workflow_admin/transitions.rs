//! Transitions between phases: add and remove.
use super::*;

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
