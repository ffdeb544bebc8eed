//! Releases through their workflow: register, save the current phase's screen (with a version
//! check), take a transition — each in one transaction with its history.
use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use diesel::prelude::*;

use super::notify::{Note, Outbox};
use super::release_fields::{self, ReleaseRecord};
use super::workflow_config::WorkflowConfig;
use crate::domain::fields::{field_of, fields_for, Rule};
use crate::domain::permissions::{self, Actor, Parties};
use crate::domain::risk::{self, Level, Risk};
use crate::domain::workflow::{
    self, Blocker, ChangeType, GateNeeds, RecordKind, RecordState, ReleaseType, Situation,
    TransitionKind, Workflow,
};
use crate::error::{AppError, AppResult};
use crate::forms::FormErrors;
use crate::models::history::{self, FieldChange, NewEvent};
use crate::models::releases::{self as rel, ReleaseDetails};
use crate::models::workflows::{self as wfm, CategoryRow};
use crate::models::{groups, release_models as models, users};
use crate::paths;

/// A release with the workflow and field rules that govern it.
pub struct Loaded {
    pub record: ReleaseRecord,
    pub category: CategoryRow,
    /// Exit criteria of the current phase not met yet (open tasks, approvals, changes).
    pub gates: Vec<workflow::Gate>,
    /// Criteria that hold closing only, and criteria on entering phases.
    pub close_gates: Vec<workflow::Gate>,
    pub entry_gates: Vec<(i64, workflow::Gate)>,
    /// The workflow's configuration as kept in memory: the workflow and its field rules.
    pub config: Arc<WorkflowConfig>,
}

impl Loaded {
    pub fn workflow(&self) -> &Workflow {
        &self.config.workflow
    }

    pub fn rule(&self, phase_id: i64, key: &str) -> Rule {
        rule_in(&self.config.rules, phase_id, key)
    }

    pub fn current_rule(&self, key: &str) -> Rule {
        self.rule(self.record.release.phase_id, key)
    }

    pub fn parties(&self) -> Parties {
        parties(&self.record)
    }

    pub fn state(&self) -> RecordState {
        self.record
            .release
            .state
            .parse()
            .unwrap_or(RecordState::Active)
    }

    pub fn is_emergency(&self) -> bool {
        self.record.release.release_type == ReleaseType::Emergency.as_str()
    }

    pub fn kind(&self) -> RecordKind {
        self.record.kind()
    }

    /// `RL-000123` or `C-000045`.
    pub fn number(&self) -> String {
        paths::record_number(&self.record.release.kind, self.record.release.number)
    }

    /// What the engine needs to decide on this release's transitions for this user.
    pub fn situation(&self, actor: Actor) -> Situation {
        let r = &self.record.release;
        let kind = self.kind();
        let label_of = |k: &str| {
            field_of(kind, k)
                .map(|f| f.label.to_string())
                .unwrap_or_else(|| k.to_string())
        };
        let missing_to_leave = fields_for(kind)
            .iter()
            .filter(|f| self.current_rule(f.key) == Rule::Required && self.record.is_empty(f.key))
            .map(|f| label_of(f.key))
            .collect();
        let missing_to_enter = self
            .workflow()
            .phases
            .iter()
            .map(|p| {
                let missing = fields_for(kind)
                    .iter()
                    .filter(|f| {
                        self.rule(p.id, f.key) == Rule::Entry && self.record.is_empty(f.key)
                    })
                    .map(|f| label_of(f.key))
                    .collect();
                (p.id, missing)
            })
            .collect();
        let (impact, urgency) = r.levels();
        Situation {
            state: self.state(),
            phase_id: r.phase_id,
            impact,
            urgency,
            record_type: r.release_type.clone(),
            backed_out: r.backed_out,
            actor_roles: actor.roles,
            actor_may_work: permissions::can_work(actor, self.parties()),
            missing_to_leave,
            missing_to_enter,
            gates: self.gates.clone(),
            close_gates: self.close_gates.clone(),
            entry_gates: self.entry_gates.clone(),
        }
    }
}

pub fn rule_in(rules: &[(i64, String, Rule)], phase_id: i64, key: &str) -> Rule {
    rules
        .iter()
        .find(|(p, k, _)| *p == phase_id && k == key)
        .map(|(_, _, r)| *r)
        .unwrap_or(Rule::ReadOnly)
}

pub fn parties(r: &ReleaseRecord) -> Parties {
    Parties {
        registered_by: r.release.registered_by,
        coordinator_id: r.release.coordinator_id,
        manager_id: r.release.manager_id,
    }
}

pub fn load(conn: &mut PgConnection, number: i64) -> AppResult<Loaded> {
    load_kind(conn, RecordKind::Release, number)
}

/// A release or a change with what governs it, and the gates on its current moves.
pub fn load_kind(conn: &mut PgConnection, kind: RecordKind, number: i64) -> AppResult<Loaded> {
    let (release, details) = rel::with_details(conn, kind.as_str(), number)?;
    let config = super::workflow_config::of(conn, release.workflow_id)?;
    load_record(conn, kind, release, details, config, GateNeeds::ALL, None)
}

/// What governs a record already read (and perhaps locked) by the caller, with the gates
/// `needs` names evaluated (the others are left empty: see `GateNeeds`); `open_tasks`, the
/// open tasks of its phase when the caller read them with its lock.
fn load_record(
    conn: &mut PgConnection,
    kind: RecordKind,
    release: rel::Release,
    details: ReleaseDetails,
    config: Arc<WorkflowConfig>,
    needs: GateNeeds,
    open_tasks: Option<i64>,
) -> AppResult<Loaded> {
    let category = match config.category(release.category_id) {
        Some(c) => c.clone(),
        None => wfm::category(conn, release.category_id)?,
    };
    let require_tasks = config
        .flags_of(release.phase_id)
        .is_some_and(|f| f.require_tasks_done);
    let mut gates = Vec::new();
    let mut close_gates = Vec::new();
    let mut entry_gates = Vec::new();
    if release.state == RecordState::Active.as_str() {
        if needs.phase {
            gates.extend(super::tasks::open_tasks_gate(
                conn,
                &release,
                &config.workflow,
                require_tasks,
                open_tasks,
            )?);
            gates.extend(super::approvals::gate(conn, &release, &config)?);
        }
        if kind == RecordKind::Release && (needs.close || needs.entry) {
            let (c, e) = super::related::gates(conn, &release, &config, needs)?;
            close_gates = c;
            entry_gates = e;
        }
    }
    Ok(Loaded {
        record: ReleaseRecord { release, details },
        category,
        gates,
        close_gates,
        entry_gates,
        config,
    })
}

pub use super::people::{name_book, NameBook};

/// What the new-release form sends (all text: validated here, kept on failure).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RegisterInput {
    /// The form's one-time key (`services::submissions`).
    #[serde(default)]
    pub submission_key: String,
    #[serde(default)]
    pub category: String,
    #[serde(default, rename = "type")]
    pub release_type: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub impact: String,
    #[serde(default)]
    pub urgency: String,
    #[serde(default)]
    pub risk: String,
    #[serde(default)]
    pub risk_reason: String,
    #[serde(default)]
    pub planned_start: String,
    #[serde(default)]
    pub planned_end: String,
    #[serde(default)]
    pub coordinator: String,
    #[serde(default)]
    pub manager: String,
    /// A release model whose task plan (latest version) the release gets.
    #[serde(default)]
    pub model: String,
}

fn user_exists(conn: &mut PgConnection) -> QueryResult<impl Fn(i64) -> bool> {
    let ids: Vec<i64> = users::active(conn)?.into_iter().map(|(id, _)| id).collect();
    Ok(move |id| ids.contains(&id))
}

fn group_exists(conn: &mut PgConnection) -> QueryResult<impl Fn(i64) -> bool> {
    let ids: Vec<i64> = groups::all(conn)?.into_iter().map(|g| g.id).collect();
    Ok(move |id| ids.contains(&id))
}

/// Register a release; it starts in its workflow's first applicable phase.
/// Returns its number, or the form's messages.
pub fn register(
    conn: &mut PgConnection,
    actor: Actor,
    input: &RegisterInput,
) -> AppResult<Result<i64, FormErrors>> {
    register_kind(conn, RecordKind::Release, actor, input)
}

/// Register a release or a change; it starts in its workflow's first applicable phase.
pub fn register_kind(
    conn: &mut PgConnection,
    kind: RecordKind,
    actor: Actor,
    input: &RegisterInput,
) -> AppResult<Result<i64, FormErrors>> {
    if !permissions::can_register(actor) {
        return Err(AppError::Forbidden(format!(
            "Only release coordinators and managers register {}s.",
            kind.as_str()
        )));
    }
    let mut errors = FormErrors::default();
    let user_ok = user_exists(conn)?;
    let group_ok = group_exists(conn)?;
    let categories = wfm::active_categories(conn, kind.as_str())?;
    let category = input
        .category
        .parse::<i64>()
        .ok()
        .and_then(|id| categories.into_iter().find(|c| c.id == id));
    if category.is_none() {
        errors.add("category", "Choose a category.");
    }
    let release_type: Option<&'static str> = kind
        .types()
        .into_iter()
        .map(|(k, _)| k)
        .find(|k| *k == input.release_type);
    if release_type.is_none() {
        let names: Vec<_> = kind.types().into_iter().map(|(_, l)| l).collect();
        errors.add(
            "type",
            format!("Choose the {} type: {}.", kind.as_str(), names.join(", ")),
        );
    }
    // The category decides which types it takes (so the workflow a type follows is its own).
    if let (Some(c), Some(t)) = (&category, release_type) {
        if !c.accepts(t) {
            let takes: Vec<&str> = kind
                .types()
                .into_iter()
                .filter(|(k, _)| c.accepts(k))
                .map(|(_, l)| l)
                .collect();
            errors.add(
                "type",
                format!(
                    "The category {} takes {} {}s only: choose that type, or the category for {} {} {}.",
                    c.name,
                    takes.join(" or ").to_lowercase(),
                    kind.as_str(),
                    crate::views::article(kind.type_label(t)),
                    kind.type_label(t).to_lowercase(),
                    kind.as_str()
                ),
            );
        }
    }
    let keys: &[&str] = match kind {
        RecordKind::Release => &[
            "title",
            "description",
            "reason",
            "impact",
            "urgency",
            "planned_start",
            "planned_end",
            "coordinator",
            "manager",
        ],
        RecordKind::Change => &[
            "title",
            "description",
            "impact",
            "urgency",
            "planned_start",
            "planned_end",
            "coordinator",
        ],
    };
    for key in keys.iter().copied() {
        let raw = match key {
            "title" => &input.title,
            "description" => &input.description,
            "reason" => &input.reason,
            "impact" => &input.impact,
            "urgency" => &input.urgency,
            "planned_start" => &input.planned_start,
            "planned_end" => &input.planned_end,
            "coordinator" => &input.coordinator,
            _ => &input.manager,
        };
        if let Err(m) = release_fields::validate(kind, key, raw, &user_ok, &group_ok) {
            errors.add(key, m);
        }
    }
    let start = release_fields::parse_datetime(&input.planned_start);
    let end = release_fields::parse_datetime(&input.planned_end);
    if let (Some(s), Some(e)) = (start, end) {
        if e < s && !errors.has("planned_end") {
            errors.add(
                "planned_end",
                "The planned end must not be before the planned start.",
            );
        }
    }
    let (impact, urgency) = (
        input.impact.parse::<Level>().ok(),
        input.urgency.parse::<Level>().ok(),
    );
    let mut risk_value = None;
    let mut override_reason = None;
    if let (Some(i), Some(u)) = (impact, urgency) {
        let derived = risk::derive(i, u);
        match input.risk.trim() {
            "" => risk_value = Some(derived),
            r => match r.parse::<Risk>() {
                Ok(chosen) if chosen == derived => risk_value = Some(derived),
                Ok(chosen) if input.risk_reason.trim().is_empty() => {
                    errors.add(
                        "risk_reason",
                        format!(
                            "Say why the risk is {} rather than {} from impact and urgency.",
                            chosen.label(),
                            derived.label()
                        ),
                    );
                }
                Ok(chosen) => {
                    risk_value = Some(chosen);
                    override_reason = Some(input.risk_reason.trim().to_string());
                }
                Err(()) => errors.add("risk", "Choose the risk from the list."),
            },
        }
    }
    let model_version = match input.model.trim() {
        _ if kind == RecordKind::Change => None,
        "" => None,
        m => match m.parse::<i64>().ok().and_then(|id| {
            models::active_latest(conn)
                .ok()?
                .into_iter()
                .find(|(x, _)| x.id == id)
        }) {
            Some((_, v)) => Some(v),
            None => {
                errors.add("model", "Choose a release model from the list, or none.");
                None
            }
        },
    };
    if let (Some(v), Some(c)) = (&model_version, &category) {
        if v.category_id != c.id {
            errors.add("model", "This model is for another category: choose a model of the release's category, or none.");
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let (category, release_type, impact, urgency) = (
        category.unwrap(),
        release_type.unwrap(),
        impact.unwrap(),
        urgency.unwrap(),
    );
    let _ = ChangeType::ALL;
    let wf = wfm::load(conn, category.workflow_id)?;
    let fit = workflow::Fit {
        impact,
        urgency,
        record_type: release_type.to_string(),
    };
    let Some(first) = wf.first_phase(&fit).cloned() else {
        errors.add(
            "category",
            "This category's workflow has no phase a release can start in.",
        );
        return Ok(Err(errors));
    };
    // A coordinator who registers without naming one coordinates the release themselves.
    let coordinator = input.coordinator.parse::<i64>().ok().or_else(|| {
        actor
            .roles
            .has(crate::domain::roles::Role::Coordinator)
            .then_some(actor.id)
    });
    let manager = input.manager.parse::<i64>().ok();
    let risk_value = risk_value.unwrap_or(Risk::Low);
    conn.transaction(|conn| {
        let now = Utc::now();
        let due = first.due_at(now, release_type == ReleaseType::Emergency.as_str());
        let number = match kind {
            RecordKind::Change => Some(rel::next_change_number(conn)?),
            RecordKind::Release => None,
        };
        let r = rel::insert(
            conn,
            &rel::NewRelease {
                kind: kind.as_str(),
                number,
                title: input.title.trim(),
                release_type,
                category_id: category.id,
                workflow_id: category.workflow_id,
                phase_id: first.id,
                // Changes have no reason for release; the column wants one.
                reason: if kind == RecordKind::Change {
                    "other"
                } else {
                    &input.reason
                },
                registered_by: actor.id,
                coordinator_id: coordinator,
                manager_id: manager,
                impact: impact.as_str(),
                urgency: urgency.as_str(),
                risk: risk_value.as_str(),
                risk_override_reason: override_reason.as_deref(),
                planned_start: start,
                planned_end: end,
                phase_entered_at: now,
                phase_due_at: Some(due),
                model_version_id: model_version.as_ref().map(|v| v.id),
            },
        )?;
        rel::insert_details(
            conn,
            &ReleaseDetails {
                release_id: r.id,
                description: input.description.clone(),
                ..Default::default()
            },
        )?;
        super::approvals::open_on_entry(conn, &r, first.id, Some(actor.id))?;
        let mut summary = format!(
            "Registered as {} {} {} in {}",
            crate::views::article(kind.type_label(release_type)),
            kind.type_label(release_type),
            kind.as_str(),
            first.name
        );
        let mut planned = 0;
        if let Some(v) = &model_version {
            let waiting = super::tasks::back_out_only_phases(&wf);
            planned = super::tasks::create_planned(conn, &r, v.id, &|p| !waiting.contains(&p))?;
            let name = models::find(conn, v.model_id)?.name;
            summary.push_str(&format!(
                " from the model {name} (version {}), with {planned} planned tasks",
                v.version
            ));
        }
        // The first phase's visit, and the due dates of its planned tasks.
        rel::record_moved(conn, &r, true)?;
        if planned > 0 {
            let mut out = Outbox::default();
            let open = crate::models::tasks::open_in_phase_with_people(conn, r.id, first.id)?;
            super::tasks::on_phase_entered(&r, &open, &mut out);
            out.send(conn)?;
        }
        history::record(
            conn,
            &NewEvent {
                release_id: r.id,
                actor_id: Some(actor.id),
                record_version: r.version,
                kind: "registered",
                summary: &summary,
                from_phase_id: None,
                to_phase_id: Some(first.id),
                reason: None,
            },
            &[],
        )?;
        let manager: Vec<i64> = r.manager_id.into_iter().collect();
        super::notify::send(
            conn,
            &manager,
            Some(actor.id),
            &Note::about(&r, "registered", "registered", format!("{summary}.")),
        )?;
        Ok(Ok(r.number))
    })
}

pub enum SaveOutcome {
    Saved {
        changed: usize,
    },
    Invalid(FormErrors),
    /// Someone saved or moved the release since the form was read: their changes.
    Conflict(Vec<history::Event>),
}

/// Save the current phase's screen: only its editable fields, only over the version read.
pub fn save_screen(
    conn: &mut PgConnection,
    actor: Actor,
    number: i64,
    version: i32,
    values: &HashMap<String, String>,
) -> AppResult<SaveOutcome> {
    save_screen_kind(conn, RecordKind::Release, actor, number, version, values)
}

/// Save the current phase's screen of a release or a change.
pub fn save_screen_kind(
    conn: &mut PgConnection,
    kind: RecordKind,
    actor: Actor,
    number: i64,
    version: i32,
    values: &HashMap<String, String>,
) -> AppResult<SaveOutcome> {
    conn.transaction(|conn| {
        let rel::Locked { release: locked, details, stamp, last_hash, .. } = rel::with_details_for_update(conn, kind.as_str(), number)?;
        let config = super::workflow_config::at(conn, locked.workflow_id, stamp)?;
        // Saving a screen is held by field rules only, never by gates.
        let loaded = load_record(conn, kind, locked.clone(), details, config, GateNeeds::NONE, None)?;
        if loaded.state() != RecordState::Active {
            return Err(AppError::Forbidden(format!("{} is {}: it can no longer be changed.", loaded.number(), loaded.state().label().to_lowercase())));
        }
        if !permissions::can_work(actor, loaded.parties()) {
            return Err(AppError::Forbidden("Only this release's coordinator, its registrant or a release manager may change it.".into()));
        }
        if locked.version != version {
            return Ok(SaveOutcome::Conflict(history::of_release(conn, locked.id, Some(version))?));
        }
        let phase = locked.phase_id;
        for key in values.keys() {
            if key == "risk_reason" {
                continue;
            }
            let Some(def) = field_of(kind, key) else { continue };
            if !loaded.rule(phase, key).editable() {
                return Err(AppError::Forbidden(format!(
                    "{} cannot be changed in {}.",
                    def.label,
                    loaded.workflow().phase_name(phase)
                )));
            }
        }
        let user_ok = user_exists(conn)?;
        let group_ok = group_exists(conn)?;
        let mut errors = FormErrors::default();
        let mut next = loaded.record.clone();
        for f in fields_for(kind) {
            if let Some(v) = values.get(f.key) {
                match release_fields::validate(kind, f.key, v, &user_ok, &group_ok) {
                    Ok(()) => next.set(f.key, v),
                    Err(m) => errors.add(f.key, m),
                }
            }
        }
        let r = &mut next.release;
        if let (Some(s), Some(e)) = (r.planned_start, r.planned_end) {
            if e < s && !errors.has("planned_end") {
                errors.add("planned_end", "The planned end must not be before the planned start.");
            }
        }
        if let (Some(s), Some(e)) = (r.actual_start, r.actual_end) {
            if e < s && !errors.has("actual_end") {
                errors.add("actual_end", "The actual end must not be before the actual start.");
            }
        }
        apply_risk(&loaded, r, values, &mut errors);
        if !errors.is_empty() {
            return Ok(SaveOutcome::Invalid(errors));
        }
        let names = name_book(conn)?;
        let mut changes: Vec<FieldChange> = fields_for(kind)
            .iter()
            .filter(|f| loaded.record.raw(f.key) != next.raw(f.key))
            .map(|f| (f.label.to_string(), loaded.record.display(f.key, &names), next.display(f.key, &names)))
            .collect();
        if loaded.record.release.risk_override_reason != next.release.risk_override_reason {
            changes.push((
                "Reason for the risk override".into(),
                loaded.record.release.risk_override_reason.clone().unwrap_or_default(),
                next.release.risk_override_reason.clone().unwrap_or_default(),
            ));
        }
        if changes.is_empty() {
            return Ok(SaveOutcome::Saved { changed: 0 });
        }
        next.release.version += 1;
        next.release.updated_at = Utc::now();
        rel::save(conn, &next.release, &next.details)?;
        let summary = format!("Changed {}", changes.iter().map(|c| c.0.as_str()).collect::<Vec<_>>().join(", "));
        history::record_after(
            conn,
            &last_hash,
            &NewEvent { release_id: next.release.id, actor_id: Some(actor.id), record_version: next.release.version, kind: "edit", summary: &summary, from_phase_id: None, to_phase_id: None, reason: None },
            &changes,
        )?;
        let before = &loaded.record.release;
        if (before.coordinator_id, before.manager_id) != (next.release.coordinator_id, next.release.manager_id) {
            super::approvals::reevaluate(conn, &next.release, actor.id)?;
        }
        Ok(SaveOutcome::Saved { changed: changes.len() })
    })
}

/// Risk follows impact × urgency unless overridden, and an override needs a reason.
fn apply_risk(
    loaded: &Loaded,
    r: &mut rel::Release,
    values: &HashMap<String, String>,
    errors: &mut FormErrors,
) {
    let (Ok(i), Ok(u)) = (r.impact.parse::<Level>(), r.urgency.parse::<Level>()) else {
        return;
    };
    let derived = risk::derive(i, u);
    let reason = values
        .get("risk_reason")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    match values.get("risk").and_then(|v| v.parse::<Risk>().ok()) {
        Some(chosen) if chosen == derived => {
            r.risk = derived.as_str().into();
            r.risk_override_reason = None;
        }
        Some(chosen) => {
            let keep = loaded
                .record
                .release
                .risk_override_reason
                .clone()
                .filter(|_| loaded.record.release.risk == chosen.as_str());
            match (reason.is_empty(), keep) {
                (false, _) => r.risk_override_reason = Some(reason),
                (true, Some(old)) => r.risk_override_reason = Some(old),
                (true, None) => errors.add(
                    "risk_reason",
                    format!(
                        "Say why the risk is {} rather than {} from impact and urgency.",
                        chosen.label(),
                        derived.label()
                    ),
                ),
            }
            r.risk = chosen.as_str().into();
        }
        None => {
            if r.risk_override_reason.is_none() {
                r.risk = derived.as_str().into();
            }
        }
    }
}

/// Who hears of a transition: the coordinator and watchers of a phase entered, the managers
/// of a back-out, everyone involved of a close or an abandon.
#[allow(clippy::too_many_arguments)]
fn notify_transition(
    conn: &mut PgConnection,
    r: &rel::Release,
    watchers: &[i64],
    wf: &Workflow,
    t: &workflow::TransitionDef,
    summary: &str,
    reason: &str,
    actor: Actor,
    out: &mut Outbox,
) -> QueryResult<()> {
    let body = if reason.is_empty() {
        format!("{summary}.")
    } else {
        format!("{summary}. Reason: {reason}")
    };
    match t.kind {
        TransitionKind::Close | TransitionKind::Abandon => {
            let to = super::notify::involved(conn, r)?;
            let what = if t.kind == TransitionKind::Close {
                "closed"
            } else {
                "abandoned"
            };
            out.add(&to, Some(actor.id), Note::about(r, "ended", what, body));
        }
        _ => {
            let mut to: Vec<i64> = r.coordinator_id.into_iter().collect();
            to.extend_from_slice(watchers);
            let phase = wf.phase_name(r.phase_id);
            out.add(
                &to,
                Some(actor.id),
                Note::about(
                    r,
                    "phase_entered",
                    &format!("entered {phase}"),
                    body.clone(),
                ),
            );
            if t.kind == TransitionKind::BackOut {
                let managers = super::notify::managers(conn)?;
                out.add(
                    &managers,
                    Some(actor.id),
                    Note::about(r, "back_out", "back-out plan activated", body),
                );
            }
        }
    }
    Ok(())
}

pub enum TakeOutcome {
    Done(String),
    /// The form was read before the release last changed: nothing was done (a double submit).
    Stale,
    Blocked(Vec<String>),
    ReasonMissing,
}

/// Take a transition: moves the phase (skipping phases that do not apply), sets its due date,
/// keeps the phase visits and records the event — all in one transaction.
pub fn take_transition(
    conn: &mut PgConnection,
    actor: Actor,
    number: i64,
    transition_id: i64,
    version: i32,
    reason: &str,
) -> AppResult<TakeOutcome> {
    take_transition_kind(
        conn,
        RecordKind::Release,
        actor,
        number,
        transition_id,
        version,
        reason,
    )
}

/// Take a transition on a release or a change.
pub fn take_transition_kind(
    conn: &mut PgConnection,
    kind: RecordKind,
    actor: Actor,
    number: i64,
    transition_id: i64,
    version: i32,
    reason: &str,
) -> AppResult<TakeOutcome> {
    conn.transaction(|conn| {
        let rel::Locked {
            release: locked,
            details,
            stamp,
            last_hash,
            watchers,
            open_tasks,
        } = rel::with_details_for_update(conn, kind.as_str(), number)?;
        let config = super::workflow_config::at(conn, locked.workflow_id, stamp)?;
        let Some(t) = config.workflow.transition(transition_id).cloned() else {
            return Err(AppError::BadRequest(format!(
                "There is no such transition in this {}'s workflow.",
                kind.as_str()
            )));
        };
        // Who may not move it learns nothing of its state, not even that it changed.
        let parties = Parties {
            registered_by: locked.registered_by,
            coordinator_id: locked.coordinator_id,
            manager_id: locked.manager_id,
        };
        if let Some(b) = workflow::refusal(&t, actor.roles, permissions::can_work(actor, parties)) {
            return Err(AppError::Forbidden(b.to_string()));
        }
        if locked.version != version {
            return Ok(TakeOutcome::Stale);
        }
        // Where it lands (skipping the phases that do not apply): only the gates this
        // transition is held by are read, and of the entry gates only those of that phase.
        let landing = config.workflow.landing(&t, &locked.fit());
        let needs = GateNeeds::of(&t).landing_in(landing.as_ref().map(|(p, _)| *p));
        let loaded = load_record(
            conn,
            kind,
            locked.clone(),
            details,
            config,
            needs,
            Some(open_tasks),
        )?;
        let situation = loaded.situation(actor);
        let blockers = workflow::blockers(&loaded.workflow(), &t, &situation);
        if let Some(b) = blockers.iter().find(|b| {
            matches!(
                b,
                Blocker::Role(_) | Blocker::NotYourRecord | Blocker::Ended(_)
            )
        }) {
            return Err(AppError::Forbidden(b.to_string()));
        }
        if !blockers.is_empty() {
            return Ok(TakeOutcome::Blocked(
                blockers.iter().map(|b| b.to_string()).collect(),
            ));
        }
        let reason = reason.trim();
        if t.reason_required && reason.is_empty() {
            return Ok(TakeOutcome::ReasonMissing);
        }
        let now = history::now();
        let mut r = locked;
        let from = r.phase_id;
        let mut summary = t.label.clone();
        if let Some((landing, skipped)) = &landing {
            for s in skipped {
                rel::skip_visit(conn, r.id, *s, now)?;
                let cancelled: Vec<String> =
                    crate::models::tasks::settle_open(conn, r.id, Some(*s), "")?
                        .into_iter()
                        .map(|(_, title, _, _)| title)
                        .collect();
                summary.push_str(&format!(
                    " ({} skipped: it does not apply",
                    loaded.workflow().phase_name(*s)
                ));
                if !cancelled.is_empty() {
                    summary.push_str(&format!(
                        "; its tasks were cancelled: {}",
                        cancelled.join(", ")
                    ));
                }
                summary.push(')');
            }
            super::tasks::before_entering(conn, &r, &loaded.workflow(), *landing, t.kind)?;
            let phase = loaded
                .workflow()
                .phase(*landing)
                .expect("landing is a phase of the workflow");
            r.phase_id = *landing;
            r.phase_entered_at = now;
            r.phase_due_at = Some(phase.due_at(now, loaded.is_emergency()));
        }
        // Ending it settles its open work; a back-out, the unfinished work of the phase left.
        let settled = match workflow::settling(&t, kind.as_str()) {
            Some(s) => {
                let done = crate::models::tasks::settle_open(conn, r.id, s.phase, &s.reason)?;
                if !done.is_empty() {
                    let titles: Vec<&str> =
                        done.iter().map(|(_, title, _, _)| title.as_str()).collect();
                    summary.push_str(&format!(
                        " (open tasks cancelled, {}: {})",
                        s.reason,
                        titles.join(", ")
                    ));
                }
                done.into_iter().map(|d| (d, s.reason.clone())).collect()
            }
            None => Vec::new(),
        };
        if t.kind == TransitionKind::BackOut {
            r.backed_out = true;
        }
        let state = workflow::state_after(&t);
        if state != RecordState::Active {
            r.state = state.as_str().into();
            r.closed_at = Some(now);
            r.phase_due_at = None;
        }
        r.version += 1;
        r.updated_at = now;
        // The undecided approval of the phase left is withdrawn, the move stored and its
        // history event appended, in one statement.
        let taken = rel::Transitioned {
            actor_id: actor.id,
            left_phase_id: from,
            kind: t.kind.as_str(),
            summary: &summary,
            reason: (!reason.is_empty()).then_some(reason),
            prev_hash: &last_hash,
        };
        let open_tasks = rel::record_transition(conn, &r, landing.is_some(), &taken)?;
        let to_phase = landing.map(|(p, _)| p);
        // Everyone this move concerns is told in one statement, once it is made.
        let mut out = Outbox::default();
        if let Some(landing) = to_phase {
            super::tasks::on_phase_entered(&r, &open_tasks, &mut out);
            super::approvals::open_as_configured(
                conn,
                &r,
                landing,
                Some(actor.id),
                &loaded.config,
                &mut out,
            )?;
        }
        for ((_, title, assignee, group), why) in &settled {
            let to = super::notify::task_people(conn, *assignee, *group)?;
            out.add(
                &to,
                Some(actor.id),
                Note::about(
                    &r,
                    "task_cancelled",
                    &format!("task “{title}” cancelled"),
                    format!("The task “{title}” was cancelled: {why}."),
                ),
            );
        }
        notify_transition(
            conn,
            &r,
            &watchers,
            &loaded.workflow(),
            &t,
            &summary,
            reason,
            actor,
            &mut out,
        )?;
        out.send(conn)?;
        Ok(TakeOutcome::Done(summary))
    })
}
