//! Tasks: the plan a release model creates, due dates set as phases are entered, adding,
//! editing, starting and completing tasks — each change a history event of the release.
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::release_fields;
use crate::domain::permissions::{self, Actor, Parties};
use crate::domain::workflow::{Gate, RecordState, TransitionKind, Workflow};
use crate::error::{AppError, AppResult};
use crate::forms::FormErrors;
use crate::models::history::{self, NewEvent};
use crate::models::release_models;
use crate::models::releases::Release;
use crate::models::tasks::{self, NewTask, Task, TaskEdit};
use crate::models::{groups, users};
use crate::paths;

fn parties(r: &Release) -> Parties {
    Parties {
        registered_by: r.registered_by,
        coordinator_id: r.coordinator_id,
        manager_id: r.manager_id,
    }
}

/// Phases entered only by activating the back-out plan: their planned tasks wait for it.
pub fn back_out_only_phases(wf: &Workflow) -> Vec<i64> {
    wf.phases
        .iter()
        .filter(|p| {
            let mut inbound = wf
                .transitions
                .iter()
                .filter(|t| t.to == Some(p.id) && t.kind != TransitionKind::Rework);
            let mut any = false;
            let all_back_out = inbound.all(|t| {
                any = true;
                t.kind == TransitionKind::BackOut
            });
            any && all_back_out
        })
        .map(|p| p.id)
        .collect()
}

fn resolve_assignee(
    role: Option<&str>,
    group: Option<i64>,
    r: &Release,
) -> (Option<i64>, Option<i64>) {
    match role {
        Some("coordinator") => (r.coordinator_id, None),
        Some("manager") => (r.manager_id, None),
        _ => (None, group),
    }
}

/// Create the tasks a model version plans for `phases` of a release. Due dates come later,
/// when each phase is entered.
pub fn create_planned(
    conn: &mut PgConnection,
    r: &Release,
    version_id: i64,
    phases: &dyn Fn(i64) -> bool,
) -> QueryResult<usize> {
    let planned = release_models::tasks_of(conn, version_id)?;
    let mut n = 0;
    for mt in planned.iter().filter(|t| phases(t.phase_id)) {
        let (assignee_id, group_id) = resolve_assignee(mt.assignee_role.as_deref(), mt.group_id, r);
        tasks::insert(
            conn,
            &NewTask {
                release_id: r.id,
                phase_id: mt.phase_id,
                title: &mt.title,
                description: &mt.description,
                assignee_id,
                group_id,
                due_offset_hours: Some(mt.due_offset_hours),
                due_at: None,
            },
        )?;
        n += 1;
    }
    Ok(n)
}

/// A release is about to enter a phase by `kind`: on a back out, the model's back-out tasks
/// of that phase appear (once). Their due dates are set as the phase is entered
/// (`models::releases::record_moved`), with every open task's of the phase.
pub fn before_entering(
    conn: &mut PgConnection,
    r: &Release,
    wf: &Workflow,
    phase_id: i64,
    kind: TransitionKind,
) -> QueryResult<()> {
    if kind == TransitionKind::BackOut {
        if let Some(v) = r.model_version_id {
            let existing = tasks::of_release(conn, r.id)?
                .iter()
                .any(|t| t.phase_id == phase_id);
            if !existing && back_out_only_phases(wf).contains(&phase_id) {
                create_planned(conn, r, v, &|p| p == phase_id)?;
            }
        }
    }
    Ok(())
}

/// A release entered a phase: planned tasks are assigned, in effect, when their phase starts,
/// so the people of its open tasks (as the move returned them, with the due dates the entry
/// set) are told.
pub fn on_phase_entered(r: &Release, open: &[tasks::OpenTask], out: &mut super::notify::Outbox) {
    for t in open {
        let due = crate::views::opt_datetime(&t.due_at);
        out.add(
            &t.people,
            None,
            super::notify::Note::about(
                r,
                "task_assigned",
                &format!("task “{}”", t.title),
                format!("The task “{}” is yours, due {due}.", t.title),
            ),
        );
    }
}

/// The exit criterion "all tasks of this phase done or cancelled", when the phase has it.
/// `counted`: the open tasks of its phase when the caller has read them already (with the
/// record's lock).
pub fn open_tasks_gate(
    conn: &mut PgConnection,
    r: &Release,
    wf: &Workflow,
    require: bool,
    counted: Option<i64>,
) -> QueryResult<Option<Gate>> {
    if !require {
        return Ok(None);
    }
    let open = match counted {
        Some(n) => n,
        None => tasks::open_in_phase(conn, r.id, r.phase_id)?,
    };
    Ok((open > 0).then(|| Gate::OpenTasks {
        count: open as usize,
        phase: wf.phase_name(r.phase_id).to_string(),
    }))
}

/// What the task forms send (all text, validated here).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct TaskInput {
    /// The add form's one-time key (`services::submissions`).
    #[serde(default)]
    pub submission_key: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub assignee: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub due: String,
}

struct Checked {
    phase_id: i64,
    assignee_id: Option<i64>,
    group_id: Option<i64>,
    due_at: Option<DateTime<Utc>>,
}

fn check_input(
    conn: &mut PgConnection,
    wf: &Workflow,
    input: &TaskInput,
    default_phase: i64,
) -> AppResult<Result<Checked, FormErrors>> {
    let mut e = FormErrors::default();
    let title = input.title.trim();
    if title.is_empty() {
        e.add("title", "Enter a title for the task.");
    } else if title.chars().count() > 200 {
        e.add("title", "The title must be at most 200 characters.");
    }
    if input.description.chars().count() > 20_000 {
        e.add(
            "description",
            "The description must be at most 20,000 characters.",
        );
    }
    let phase_id = match input.phase.trim() {
        "" => default_phase,
        p => match p
            .parse::<i64>()
            .ok()
            .filter(|id| wf.phase(*id).is_some_and(|ph| !ph.retired))
        {
            Some(id) => id,
            None => {
                e.add("phase", "Choose a phase of this release's workflow.");
                default_phase
            }
        },
    };
    let active_users: Vec<i64> = users::active(conn)?.into_iter().map(|(id, _)| id).collect();
    let assignee_id = match input.assignee.trim() {
        "" => None,
        a => match a.parse::<i64>().ok().filter(|id| active_users.contains(id)) {
            Some(id) => Some(id),
            None => {
                e.add("assignee", "Choose an assignee from the list.");
                None
            }
        },
    };
    let group_ids = groups::all(conn)?
        .into_iter()
        .map(|g| g.id)
        .collect::<Vec<_>>();
    let group_id = match input.group.trim() {
        "" => None,
        g => match g.parse::<i64>().ok().filter(|id| group_ids.contains(id)) {
            Some(id) => Some(id),
            None => {
                e.add("group", "Choose a group from the list.");
                None
            }
        },
    };
    let due_at = match input.due.trim() {
        "" => None,
        d => match release_fields::parse_datetime(d) {
            Some(t) => Some(t),
            None => {
                e.add(
                    "due",
                    "The due date must be a date and time like 2026-12-01 09:00.",
                );
                None
            }
        },
    };
    Ok(if e.is_empty() {
        Ok(Checked {
            phase_id,
            assignee_id,
            group_id,
            due_at,
        })
    } else {
        Err(e)
    })
}

fn record(
    conn: &mut PgConnection,
    r: &Release,
    actor: Actor,
    summary: &str,
    changes: &[history::FieldChange],
) -> QueryResult<i64> {
    history::record(
        conn,
        &NewEvent {
            release_id: r.id,
            actor_id: Some(actor.id),
            record_version: r.version,
            kind: "task",
            summary,
            from_phase_id: None,
            to_phase_id: None,
            reason: None,
        },
        changes,
    )
}

fn refuse_if_ended(r: &Release) -> AppResult<()> {
    if r.state != RecordState::Active.as_str() {
        return Err(AppError::Forbidden(format!(
            "{} has ended: its tasks can no longer be changed.",
            paths::record_number(&r.kind, r.number)
        )));
    }
    Ok(())
}

/// Tell a task's assignee, or the members of its group, that it is theirs.
fn tell_assigned(
    conn: &mut PgConnection,
    r: &Release,
    actor: Actor,
    title: &str,
    assignee: Option<i64>,
    group: Option<i64>,
    due_at: &Option<DateTime<Utc>>,
) -> QueryResult<usize> {
    let to = super::notify::task_people(conn, assignee, group)?;
    let due = crate::views::opt_datetime(due_at);
    let note = super::notify::Note::about(
        r,
        "task_assigned",
        &format!("task “{title}”"),
        format!("The task “{title}” is yours, due {due}."),
    );
    super::notify::send(conn, &to, Some(actor.id), &note)
}

/// Add a task to a release (its coordinator, registrant or a manager).
pub fn add(
    conn: &mut PgConnection,
    actor: Actor,
    kind: crate::domain::workflow::RecordKind,
    number: i64,
    wf: &Workflow,
    input: &TaskInput,
) -> AppResult<Result<Task, FormErrors>> {
    conn.transaction(|conn| {
        let r = crate::models::releases::by_kind_number_for_update(conn, kind.as_str(), number)?;
        refuse_if_ended(&r)?;
        if !permissions::can_work(actor, parties(&r)) {
            return Err(AppError::Forbidden(format!(
                "Only this {}'s coordinator, its registrant or a release manager may add tasks.",
                kind.as_str()
            )));
        }
        let c = match check_input(conn, wf, input, r.phase_id)? {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let t = tasks::insert(
            conn,
            &NewTask {
                release_id: r.id,
                phase_id: c.phase_id,
                title: input.title.trim(),
                description: &input.description,
                assignee_id: c.assignee_id,
                group_id: c.group_id,
                due_offset_hours: None,
                due_at: c.due_at,
            },
        )?;
        record(
            conn,
            &r,
            actor,
            &format!("Added task “{}” in {}", t.title, wf.phase_name(t.phase_id)),
            &[],
        )?;
        // Its assignee or group may no longer approve the record.
        super::approvals::reevaluate(conn, &r, actor.id)?;
        tell_assigned(
            conn,
            &r,
            actor,
            &t.title,
            t.assignee_id,
            t.group_id,
            &t.due_at,
        )?;
        Ok(Ok(t))
    })
}

pub enum TaskAction {
    Start,
    Complete,
    Reopen,
    Cancel,
    Edit(TaskInput),
}

pub enum TaskOutcome {
    Done(String),
    /// The form was read before the task last changed: nothing was done.
    Stale,
    Invalid(FormErrors),
}

/// Change a task: the assignee, a group member, the coordinator or a manager start and
/// complete it; only those who may work the release edit, reopen or cancel it.
pub fn act(
    conn: &mut PgConnection,
    actor: Actor,
    task_id: i64,
    version: i32,
    action: TaskAction,
    wf_of: &dyn Fn(&mut PgConnection, i64) -> QueryResult<Workflow>,
) -> AppResult<TaskOutcome> {
    conn.transaction(|conn| {
        // Lock the record before its task: every transaction takes them in that order.
        let release_id = tasks::find(conn, task_id)?.release_id;
        let r = crate::models::releases::find_by_id_for_update(conn, release_id)?;
        let t = tasks::find_for_update(conn, task_id)?;
        refuse_if_ended(&r)?;
        let in_group = match t.group_id {
            Some(g) => groups::of_user(conn, actor.id)?.contains(&g),
            None => false,
        };
        let manages = permissions::can_work(actor, parties(&r));
        let may = match action {
            TaskAction::Start | TaskAction::Complete => {
                permissions::can_work_task(actor, parties(&r), t.assignee_id, in_group)
            }
            _ => manages,
        };
        if !may {
            let who = match action {
                TaskAction::Start | TaskAction::Complete => permissions::TASK_WORKERS,
                _ => "the release's coordinator, its registrant or a release manager",
            };
            return Err(AppError::Forbidden(format!("Only {who} may do this.")));
        }
        if t.version != version {
            return Ok(TaskOutcome::Stale);
        }
        let now = Utc::now();
        let mut edit = TaskEdit {
            phase_id: t.phase_id,
            title: t.title.clone(),
            description: t.description.clone(),
            assignee_id: t.assignee_id,
            group_id: t.group_id,
            due_at: t.due_at,
            status: t.status.clone(),
            completed_by: t.completed_by,
            completed_at: t.completed_at,
            started_by: t.started_by,
            cancel_reason: t.cancel_reason.clone(),
            version: t.version + 1,
            updated_at: now,
        };
        let wf = wf_of(conn, r.workflow_id)?;
        let mut changes = Vec::new();
        let summary = match action {
            TaskAction::Start if t.status == "open" => {
                edit.status = "in_progress".into();
                edit.started_by = Some(actor.id);
                format!("Started task “{}”", t.title)
            }
            TaskAction::Complete if t.is_open() => {
                edit.status = "done".into();
                edit.completed_by = Some(actor.id);
                edit.completed_at = Some(now);
                format!("Completed task “{}”", t.title)
            }
            TaskAction::Cancel if t.is_open() => {
                edit.status = "cancelled".into();
                format!("Cancelled task “{}”", t.title)
            }
            TaskAction::Reopen if !t.is_open() => {
                edit.status = "open".into();
                edit.cancel_reason = String::new();
                edit.completed_by = None;
                edit.completed_at = None;
                format!("Reopened task “{}”", t.title)
            }
            TaskAction::Edit(input) => {
                let c = match check_input(conn, &wf, &input, t.phase_id)? {
                    Ok(c) => c,
                    Err(e) => return Ok(TaskOutcome::Invalid(e)),
                };
                let names = super::people::name_book(conn)?;
                let who = |u: Option<i64>| {
                    u.map(|id| release_fields::Names::user(&names, id))
                        .unwrap_or_default()
                };
                let grp = |g: Option<i64>| {
                    g.map(|id| release_fields::Names::group(&names, id))
                        .unwrap_or_default()
                };
                let when = |d: Option<DateTime<Utc>>| crate::views::opt_datetime(&d);
                let mut diff = |label: &str, old: String, new: String| {
                    if old != new {
                        changes.push((label.to_string(), old, new));
                    }
                };
                diff(
                    "Task title",
                    t.title.clone(),
                    input.title.trim().to_string(),
                );
                diff(
                    "Task description",
                    t.description.clone(),
                    input.description.clone(),
                );
                diff(
                    "Task phase",
                    wf.phase_name(t.phase_id).to_string(),
                    wf.phase_name(c.phase_id).to_string(),
                );
                diff("Task assignee", who(t.assignee_id), who(c.assignee_id));
                diff("Task group", grp(t.group_id), grp(c.group_id));
                diff("Task due", when(t.due_at), when(c.due_at));
                edit.title = input.title.trim().to_string();
                edit.description = input.description;
                edit.phase_id = c.phase_id;
                edit.assignee_id = c.assignee_id;
                edit.group_id = c.group_id;
                edit.due_at = c.due_at;
                if changes.is_empty() {
                    return Ok(TaskOutcome::Done("Nothing had changed".into()));
                }
                format!("Edited task “{}”", edit.title)
            }
            _ => return Ok(TaskOutcome::Stale),
        };
        tasks::update(conn, t.id, &edit)?;
        record(conn, &r, actor, &summary, &changes)?;
        // Who worked it, or its new assignee or group, may no longer approve the record.
        super::approvals::reevaluate(conn, &r, actor.id)?;
        if (edit.assignee_id, edit.group_id) != (t.assignee_id, t.group_id)
            && edit.status != "cancelled"
        {
            tell_assigned(
                conn,
                &r,
                actor,
                &edit.title,
                edit.assignee_id,
                edit.group_id,
                &edit.due_at,
            )?;
        }
        Ok(TaskOutcome::Done(summary))
    })
}
