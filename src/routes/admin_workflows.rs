//! Workflow administration for release managers: the list (create empty or as a copy), one
//! workflow's page (phases with durations, conditions and order; transitions; publish), a
//! phase's page, the field-rules grid, and confirmation pages before retiring or deleting.
//! Every handler checks `permissions::can_manage_policy`; the rules live in
//! `services::workflow_admin`.
use std::collections::HashMap;

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{invalid, page, see_other, Sent};
use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::domain::approval::{self, RULE_KEYS};
use crate::domain::fields::{Rule, RELEASE_FIELDS};
use crate::domain::permissions;
use crate::domain::roles::{Role, Roles};
use crate::domain::workflow::{Condition, Outcome, RecordKind, TransitionKind};
use crate::error::{AppError, AppResult};
use crate::forms::{Form, FormErrors};
use crate::models::approvals::{self as am, Requirement};
use crate::models::groups;
use crate::models::workflows::{self as wfm, PhaseRow, WorkflowRow};
use crate::paths;
use crate::services::submissions;
use crate::services::workflow_admin::{
    self as svc, CopyInput, PhaseInput, Refusal, Removed, RestoreInput, TransitionInput,
    WorkflowInput,
};
use crate::views::{duration_hours, Ctx};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create_workflow)
        .service(copy_workflow)
        .service(show)
        .service(rename)
        .service(publish)
        .service(retire_confirm)
        .service(retire)
        .service(restore)
        .service(add_phase)
        .service(phase_page)
        .service(update_phase)
        .service(move_phase)
        .service(phase_retire_confirm)
        .service(phase_retire)
        .service(phase_restore)
        .service(fields_page)
        .service(save_fields)
        .service(add_transition)
        .service(transition_remove_confirm)
        .service(transition_remove);
}

/// Only release managers own the release policy.
pub(crate) fn require_manager(user: &CurrentUser) -> AppResult<()> {
    user.require(
        permissions::can_manage_policy(user.actor()),
        "Only release managers may change workflows and categories.",
    )
}

/// "Draft", "Published", "Retired" — the workflow's state in words.
pub(crate) fn state_label(w: &WorkflowRow) -> &'static str {
    match (w.retired, w.draft) {
        (true, true) => "Retired draft",
        (true, false) => "Retired",
        (false, true) => "Draft",
        (false, false) => "Published",
    }
}

fn kind_label(kind: &str) -> &'static str {
    kind.parse::<RecordKind>()
        .map(|k| k.label())
        .unwrap_or("Unknown")
}

// ---- The generic confirmation page of this area ----

pub(crate) struct ConfirmButton {
    pub value: &'static str,
    pub label: String,
    pub danger: bool,
}

#[derive(Template)]
#[template(path = "admin/workflow_confirm.html")]
pub(crate) struct ConfirmPage {
    pub ctx: Ctx,
    pub title: String,
    pub paragraphs: Vec<String>,
    pub refused: Vec<String>,
    pub action: String,
    pub buttons: Vec<ConfirmButton>,
    pub cancel: String,
}

#[derive(Deserialize)]
pub(crate) struct ConfirmInput {
    #[serde(default)]
    pub action: String,
}

// ---- The list ----

struct WorkflowItem {
    href: String,
    name: String,
    kind: &'static str,
    state: &'static str,
    phases: i64,
    categories: String,
}

#[derive(Template)]
#[template(path = "admin/workflows.html")]
struct ListPage {
    ctx: Ctx,
    rows: Vec<WorkflowItem>,
    sources: Vec<(i64, String)>,
    errors: FormErrors,
    create: WorkflowInput,
    copy: CopyInput,
    kinds: &'static [RecordKind],
}

/// The list's rows, and the workflows a copy can start from: (id, label).
type ListRows = (Vec<WorkflowItem>, Vec<(i64, String)>);

fn list_rows(conn: &mut diesel::PgConnection) -> AppResult<ListRows> {
    let all = wfm::all(conn)?;
    let counts = wfm::phase_counts(conn)?;
    let cats = wfm::categories_all(conn)?;
    let sources = all
        .iter()
        .map(|w| {
            (
                w.id,
                format!("{} ({})", w.name, state_label(w).to_lowercase()),
            )
        })
        .collect();
    let rows = all
        .iter()
        .map(|w| {
            let names: Vec<String> = cats
                .iter()
                .filter(|c| c.workflow_id == w.id)
                .map(|c| {
                    if c.retired {
                        format!("{} (retired)", c.name)
                    } else {
                        c.name.clone()
                    }
                })
                .collect();
            WorkflowItem {
                href: paths::admin_workflow(w.id),
                name: w.name.clone(),
                kind: kind_label(&w.record_kind),
                state: state_label(w),
                phases: counts
                    .iter()
                    .find(|(id, _)| *id == w.id)
                    .map_or(0, |(_, n)| *n),
                categories: names.join(", "),
            }
        })
        .collect();
    Ok((rows, sources))
}

async fn render_list(
    user: &CurrentUser,
    pool: &DbPool,
    errors: FormErrors,
    mut create: WorkflowInput,
    mut copy: CopyInput,
) -> AppResult<HttpResponse> {
    submissions::issue(&mut create.submission_key);
    submissions::issue(&mut copy.submission_key);
    let failed = !errors.is_empty();
    let (rows, sources) = db::run(pool, list_rows).await?;
    let p = ListPage {
        ctx: user.ctx(),
        rows,
        sources,
        errors,
        create,
        copy,
        kinds: RecordKind::ALL,
    };
    if failed {
        invalid(&p)
    } else {
        page(&p)
    }
}

/// GET /admin/workflows
#[get("/admin/workflows")]
async fn list(user: CurrentUser, pool: web::Data<DbPool>) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let create = WorkflowInput {
        record_kind: RecordKind::Release.as_str().into(),
        ..Default::default()
    };
    render_list(
        &user,
        &pool,
        FormErrors::default(),
        create,
        CopyInput::default(),
    )
    .await
}

fn refusal_errors(r: Refusal, field: &str) -> FormErrors {
    match r {
        Refusal::Invalid(e) => e,
        Refusal::Broken(msgs) => {
            let mut e = FormErrors::default();
            for m in msgs {
                e.add(field, m);
            }
            e
        }
    }
}

/// POST /admin/workflows: a new, empty draft.
#[post("/admin/workflows")]
async fn create_workflow(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    form: Form<WorkflowInput>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let f = form.into_inner();
    let input = f.clone();
    let create = move |conn: &mut diesel::PgConnection| svc::create_empty(conn, &input);
    let its_page = |id: &i64| paths::admin_workflow(*id);
    match super::create_once(&user, &pool, &f.submission_key, create, its_page).await? {
        Sent::Again(to_first) => Ok(to_first),
        Sent::Created(_, path) => {
            user.flash(
                "success",
                format!(
                    "{} was created as a draft. Add its phases and transitions, then publish it.",
                    f.name.trim()
                ),
            );
            Ok(see_other(path))
        }
        Sent::Invalid(r) => {
            render_list(
                &user,
                &pool,
                refusal_errors(r, "name"),
                f,
                CopyInput::default(),
            )
            .await
        }
    }
}

/// POST /admin/workflows/copy: a new draft copying another workflow.
#[post("/admin/workflows/copy")]
async fn copy_workflow(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    form: Form<CopyInput>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let f = form.into_inner();
    let input = f.clone();
    let create = move |conn: &mut diesel::PgConnection| {
        Ok(match svc::copy(conn, &input)? {
            Ok(id) => Ok((id, wfm::find(conn, id)?.name)),
            Err(r) => Err(r),
        })
    };
    let its_page = |(id, _): &(i64, String)| paths::admin_workflow(*id);
    match super::create_once(&user, &pool, &f.submission_key, create, its_page).await? {
        Sent::Again(to_first) => Ok(to_first),
        Sent::Created((_, name), path) => {
            user.flash(
                "success",
                format!(
                    "{name} was created as a draft copy. Change what differs, then publish it."
                ),
            );
            Ok(see_other(path))
        }
        Sent::Invalid(r) => {
            let create = WorkflowInput {
                record_kind: RecordKind::Release.as_str().into(),
                ..Default::default()
            };
            render_list(&user, &pool, refusal_errors(r, "copy_source"), create, f).await
        }
    }
}

/// The record types of a workflow's kind ("release" or "change"), for a phase's "applies to".
fn types_of(record_kind: &str) -> Vec<(&'static str, &'static str)> {
    let kind = if record_kind == RecordKind::Change.as_str() {
        RecordKind::Change
    } else {
        RecordKind::Release
    };
    kind.types()
}

// ---- One workflow ----

struct PhaseItem {
    name: String,
    number: usize,
    duration: String,
    emergency: String,
    condition: String,
    /// What leaving the phase needs, in words; empty when nothing.
    leaving: String,
    href: String,
    move_href: String,
    remove_href: String,
    first: bool,
    last: bool,
}

struct TransitionItem {
    label: String,
    kind: &'static str,
    to: String,
    roles: String,
    reason: &'static str,
    outcome: &'static str,
    remove_href: String,
}

struct TransitionGroup {
    id: i64,
    from: String,
    from_retired: bool,
    rows: Vec<TransitionItem>,
}

#[derive(Template)]
#[template(path = "admin/workflow.html")]
struct WorkflowPage {
    ctx: Ctx,
    wf: WorkflowRow,
    kind: &'static str,
    state: &'static str,
    is_release: bool,
    action: String,
    publish_action: String,
    retire_href: String,
    restore_action: String,
    fields_href: String,
    phases_action: String,
    transitions_action: String,
    phases: Vec<PhaseItem>,
    retired_phases: Vec<PhaseItem>,
    groups: Vec<TransitionGroup>,
    categories: Vec<String>,
    /// What the validator says about the workflow as stored.
    problems: Vec<String>,
    /// Messages of a refused edit (nothing was changed).
    refused: Vec<String>,
    refused_title: String,
    errors: FormErrors,
    rename: WorkflowInput,
    pf: PhaseInput,
    transition: TransitionInput,
    /// Phases a new transition may use: (id, name).
    options: Vec<(i64, String)>,
    conditions: &'static [Condition],
    /// The record types of the workflow's kind a phase may be limited to: (key, label).
    record_types: Vec<(&'static str, &'static str)>,
    kinds: &'static [TransitionKind],
    roles: [Role; 4],
    outcomes: &'static [Outcome],
}

/// The input of the form that failed, kept for the re-rendered page.
#[derive(Default)]
struct Kept {
    errors: FormErrors,
    refused: Vec<String>,
    refused_title: String,
    rename: Option<WorkflowInput>,
    phase: Option<PhaseInput>,
    transition: Option<TransitionInput>,
}

impl Kept {
    fn refusal(r: Refusal, title: &str) -> Kept {
        match r {
            Refusal::Invalid(errors) => Kept {
                errors,
                ..Default::default()
            },
            Refusal::Broken(refused) => Kept {
                refused,
                refused_title: title.to_string(),
                ..Default::default()
            },
        }
    }

    fn failed(&self) -> bool {
        !self.errors.is_empty() || !self.refused.is_empty()
    }
}

const NOT_SAVED: &str = "Nothing was changed: the workflow would have these problems";

fn roles_text(roles: &[String]) -> String {
    let labels: Vec<&str> = Roles::from_strs(roles).iter().map(|r| r.label()).collect();
    labels.join(", ")
}

/// "all tasks done; CAB approval (All must approve; emergency: ECAB, One must approve)": what
/// leaving a phase needs, as the release engine applies it ("" when nothing).
pub(crate) fn leaving_needs(
    p: &PhaseRow,
    requirement: Option<&Requirement>,
    group_name: impl Fn(i64) -> String,
) -> String {
    let mut parts = Vec::new();
    if p.require_tasks_done {
        parts.push("all tasks done".to_string());
    }
    if let Some(r) = requirement {
        let label = |rule: &str, quorum: Option<i32>| {
            approval::Rule::from_parts(rule, quorum)
                .map(|r| r.label())
                .unwrap_or_else(|| rule.to_string())
        };
        let emergency = match r.emergency_group_id {
            // Emergency releases go to another group, under its rule (a quorum there is more than half).
            Some(g) => format!("{}, {}", group_name(g), label(&r.emergency_rule, None)),
            None => "same group and rule".into(),
        };
        parts.push(format!(
            "{} approval ({}; emergency: {emergency})",
            group_name(r.group_id),
            label(&r.rule, r.quorum_count)
        ));
    }
    parts.join("; ")
}

fn phase_item(
    wf_id: i64,
    p: &PhaseRow,
    number: usize,
    first: bool,
    last: bool,
    leaving: String,
) -> PhaseItem {
    PhaseItem {
        name: p.name.clone(),
        number,
        duration: duration_hours(p.duration_hours),
        emergency: duration_hours(p.emergency_duration_hours),
        condition: {
            let c = p
                .condition
                .parse::<Condition>()
                .map(|c| c.label())
                .unwrap_or("Always");
            if p.record_types.is_empty() {
                c.to_string()
            } else {
                format!("{c}; for {} only", p.record_types.join(", "))
            }
        },
        leaving,
        href: paths::admin_workflow_phase(wf_id, p.id),
        move_href: paths::admin_workflow_phase_move(wf_id, p.id),
        remove_href: paths::admin_workflow_phase_retire(wf_id, p.id),
        first,
        last,
    }
}

async fn render_workflow(
    user: &CurrentUser,
    pool: &DbPool,
    id: i64,
    kept: Kept,
) -> AppResult<HttpResponse> {
    let (wf, phases, transitions, categories, problems, requirements, group_names) =
        db::run(pool, move |conn| {
            let wf = wfm::find(conn, id)?;
            let phases = wfm::phases_of(conn, id)?;
            let transitions = wfm::transitions_of(conn, id)?;
            let categories = wfm::categories_of(conn, id)?;
            let problems = svc::problems(conn, id)?;
            let ids: Vec<i64> = phases.iter().map(|p| p.id).collect();
            let requirements = am::requirements_of(conn, &ids)?;
            let group_names: HashMap<i64, String> = groups::all(conn)?
                .into_iter()
                .map(|g| (g.id, g.name))
                .collect();
            Ok((
                wf,
                phases,
                transitions,
                categories,
                problems,
                requirements,
                group_names,
            ))
        })
        .await?;
    let leaving = |p: &PhaseRow| {
        let r = requirements.iter().find(|r| r.phase_id == p.id);
        leaving_needs(p, r, |g| {
            group_names
                .get(&g)
                .cloned()
                .unwrap_or_else(|| "Unknown group".into())
        })
    };
    let active: Vec<&PhaseRow> = phases.iter().filter(|p| !p.retired).collect();
    let n = active.len();
    let phase_items = active
        .iter()
        .enumerate()
        .map(|(i, p)| phase_item(id, p, i + 1, i == 0, i + 1 == n, leaving(p)))
        .collect();
    let retired_items = phases
        .iter()
        .filter(|p| p.retired)
        .map(|p| phase_item(id, p, 0, true, true, leaving(p)))
        .collect();
    let name_of = |pid: i64| {
        phases.iter().find(|p| p.id == pid).map(|p| {
            if p.retired {
                format!("{} (retired)", p.name)
            } else {
                p.name.clone()
            }
        })
    };
    let groups = phases
        .iter()
        .filter(|p| !p.retired)
        .chain(phases.iter().filter(|p| p.retired))
        .filter_map(|p| {
            let rows: Vec<TransitionItem> = transitions
                .iter()
                .filter(|t| t.from_phase_id == p.id)
                .map(|t| TransitionItem {
                    label: t.label.clone(),
                    kind: t
                        .kind
                        .parse::<TransitionKind>()
                        .map(|k| k.label())
                        .unwrap_or("Unknown"),
                    to: match t.to_phase_id {
                        Some(to) => name_of(to).unwrap_or_default(),
                        None => "Ends the record".into(),
                    },
                    roles: roles_text(&t.roles),
                    reason: if t.reason_required {
                        "Required"
                    } else {
                        "Not required"
                    },
                    outcome: t
                        .outcome
                        .as_deref()
                        .and_then(|o| o.parse::<Outcome>().ok())
                        .map(|o| o.label())
                        .unwrap_or(""),
                    remove_href: paths::admin_workflow_transition_remove(id, t.id),
                })
                .collect();
            (!rows.is_empty()).then(|| TransitionGroup {
                id: p.id,
                from: p.name.clone(),
                from_retired: p.retired,
                rows,
            })
        })
        .collect();
    let failed = kept.failed();
    // Each add form its own key; a refused one keeps the key it was sent with.
    let (mut pf, mut transition) = (
        kept.phase.unwrap_or_default(),
        kept.transition.unwrap_or_default(),
    );
    submissions::issue(&mut pf.submission_key);
    submissions::issue(&mut transition.submission_key);
    let p = WorkflowPage {
        ctx: user.ctx(),
        kind: kind_label(&wf.record_kind),
        state: state_label(&wf),
        is_release: wf.record_kind == RecordKind::Release.as_str(),
        action: paths::admin_workflow(id),
        publish_action: paths::admin_workflow_publish(id),
        retire_href: paths::admin_workflow_retire(id),
        restore_action: paths::admin_workflow_restore(id),
        fields_href: paths::admin_workflow_fields(id),
        phases_action: paths::admin_workflow_phases(id),
        transitions_action: paths::admin_workflow_transitions(id),
        options: active.iter().map(|p| (p.id, p.name.clone())).collect(),
        phases: phase_items,
        retired_phases: retired_items,
        groups,
        categories: categories
            .into_iter()
            .map(|c| {
                if c.retired {
                    format!("{} (retired)", c.name)
                } else {
                    c.name
                }
            })
            .collect(),
        problems,
        refused: kept.refused,
        refused_title: kept.refused_title,
        errors: kept.errors,
        rename: kept.rename.unwrap_or_else(|| WorkflowInput {
            name: wf.name.clone(),
            description: wf.description.clone(),
            record_kind: wf.record_kind.clone(),
            submission_key: String::new(),
        }),
        pf,
        transition,
        conditions: Condition::ALL,
        record_types: types_of(&wf.record_kind),
        kinds: TransitionKind::ALL,
        roles: Role::ALL,
        outcomes: Outcome::ALL,
        wf,
    };
    if failed {
        invalid(&p)
    } else {
        page(&p)
    }
}

/// GET /admin/workflows/{id}
#[get("/admin/workflows/{id:\\d+}")]
async fn show(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    render_workflow(&user, &pool, path.into_inner(), Kept::default()).await
}

/// POST /admin/workflows/{id}: rename, change the description.
#[post("/admin/workflows/{id:\\d+}")]
async fn rename(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    form: Form<WorkflowInput>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    let f = form.into_inner();
    let input = f.clone();
    match db::run(&pool, move |conn| svc::rename(conn, id, &input)).await? {
        Ok(()) => {
            user.flash("success", "The workflow's name and description were saved.");
            Ok(see_other(paths::admin_workflow(id)))
        }
        Err(r) => {
            let kept = Kept {
                rename: Some(f),
                ..Kept::refusal(r, NOT_SAVED)
            };
            render_workflow(&user, &pool, id, kept).await
        }
    }
}

#[derive(Deserialize)]
struct Empty {}

/// POST /admin/workflows/{id}/publish
#[post("/admin/workflows/{id:\\d+}/publish")]
async fn publish(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    _form: Form<Empty>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    match db::run(&pool, move |conn| svc::publish(conn, id)).await? {
        Ok(()) => {
            user.flash(
                "success",
                "The workflow is published: categories can use it now.",
            );
            Ok(see_other(paths::admin_workflow(id)))
        }
        Err(r) => {
            render_workflow(
                &user,
                &pool,
                id,
                Kept::refusal(
                    r,
                    "The workflow was not published: fix these problems first",
                ),
            )
            .await
        }
    }
}

fn workflow_confirm(
    user: &CurrentUser,
    wf: &WorkflowRow,
    usage: &svc::WorkflowUse,
    refused: Vec<String>,
) -> ConfirmPage {
    let mut paragraphs = Vec::new();
    let mut buttons = vec![ConfirmButton {
        value: "retire",
        label: format!("Retire {}", wf.name),
        danger: true,
    }];
    if !usage.active_categories.is_empty() {
        paragraphs.push(format!(
            "These categories use it: {}. Point them at another workflow or retire them before retiring it.",
            usage.active_categories.join(", ")
        ));
    }
    if usage.in_use {
        paragraphs.push(format!(
            "{} release{} use it, so it can be retired but never deleted. Releases already in it carry on; no new category can choose it.",
            usage.releases,
            if usage.releases == 1 { "" } else { "s" }
        ));
    } else if usage.all_categories.is_empty() {
        paragraphs.push("No release or category uses it: you may retire it (it can be restored later) or delete it for good.".into());
        buttons.push(ConfirmButton {
            value: "delete",
            label: format!("Delete {}", wf.name),
            danger: true,
        });
    } else {
        paragraphs.push(
            "Retired, it stays listed and can be restored; no category can choose it meanwhile."
                .into(),
        );
    }
    ConfirmPage {
        ctx: user.ctx(),
        title: format!("Retire the workflow {}?", wf.name),
        paragraphs,
        refused,
        action: paths::admin_workflow_retire(wf.id),
        buttons,
        cancel: paths::admin_workflow(wf.id),
    }
}

/// GET /admin/workflows/{id}/retire: the confirmation (retire, or delete when unused).
#[get("/admin/workflows/{id:\\d+}/retire")]
async fn retire_confirm(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    let (wf, usage) = db::run(&pool, move |conn| {
        Ok((wfm::find(conn, id)?, svc::workflow_use(conn, id)?))
    })
    .await?;
    page(&workflow_confirm(&user, &wf, &usage, Vec::new()))
}

/// POST /admin/workflows/{id}/retire: `action` is `retire` or `delete`.
#[post("/admin/workflows/{id:\\d+}/retire")]
async fn retire(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    form: Form<ConfirmInput>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    let delete = form.into_inner().action == "delete";
    let (name, outcome) = db::run(&pool, move |conn| {
        let name = wfm::find(conn, id)?.name;
        let outcome = if delete {
            svc::delete_workflow(conn, id)?
        } else {
            svc::retire_workflow(conn, id)?
        };
        Ok((name, outcome))
    })
    .await?;
    match outcome {
        Ok(()) if delete => {
            user.flash("success", format!("The workflow {name} was deleted."));
            Ok(see_other(paths::ADMIN_WORKFLOWS))
        }
        Ok(()) => {
            user.flash("success", format!("The workflow {name} is retired."));
            Ok(see_other(paths::admin_workflow(id)))
        }
        Err(r) => {
            let refused = match r {
                Refusal::Broken(m) => m,
                Refusal::Invalid(e) => e.0.into_iter().map(|(_, m)| m).collect(),
            };
            let (wf, usage) = db::run(&pool, move |conn| {
                Ok((wfm::find(conn, id)?, svc::workflow_use(conn, id)?))
            })
            .await?;
            invalid(&workflow_confirm(&user, &wf, &usage, refused))
        }
    }
}

/// POST /admin/workflows/{id}/restore
#[post("/admin/workflows/{id:\\d+}/restore")]
async fn restore(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    _form: Form<Empty>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    match db::run(&pool, move |conn| svc::restore_workflow(conn, id)).await? {
        Ok(()) => {
            user.flash("success", "The workflow is restored.");
            Ok(see_other(paths::admin_workflow(id)))
        }
        Err(r) => {
            render_workflow(
                &user,
                &pool,
                id,
                Kept::refusal(r, "The workflow was not restored"),
            )
            .await
        }
    }
}

// ---- Phases ----

/// POST /admin/workflows/{id}/phases: add a phase at the end.
#[post("/admin/workflows/{id:\\d+}/phases")]
async fn add_phase(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    form: Form<PhaseInput>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    let f = form.into_inner();
    let input = f.clone();
    let create = move |conn: &mut diesel::PgConnection| svc::add_phase(conn, id, &input);
    let its_workflow = move |_: &i64| paths::admin_workflow(id);
    match super::create_once(&user, &pool, &f.submission_key, create, its_workflow).await? {
        Sent::Again(to_first) => Ok(to_first),
        Sent::Created(_, path) => {
            user.flash(
                "success",
                format!("The phase {} was added.", f.phase_name.trim()),
            );
            Ok(see_other(path))
        }
        Sent::Invalid(r) => {
            let kept = Kept {
                phase: Some(f),
                ..Kept::refusal(r, NOT_SAVED)
            };
            render_workflow(&user, &pool, id, kept).await
        }
    }
}

#[derive(Template)]
#[template(path = "admin/workflow_phase.html")]
struct PhasePage {
    ctx: Ctx,
    wf_name: String,
    wf_href: String,
    phase: PhaseRow,
    releases_in_it: i64,
    action: String,
    retire_href: String,
    restore_action: String,
    /// Phases a restored phase may be reached from: (id, name).
    options: Vec<(i64, String)>,
    pf: PhaseInput,
    restore_from: String,
    errors: FormErrors,
    refused: Vec<String>,
    refused_title: String,
    conditions: &'static [Condition],
    /// The record types of the workflow's kind a phase may be limited to: (key, label).
    record_types: Vec<(&'static str, &'static str)>,
    /// Groups that may approve: (id, name).
    groups: Vec<(i64, String)>,
    rules: &'static [(&'static str, &'static str)],
}

struct PhaseKept {
    form: Option<PhaseInput>,
    restore_from: String,
    errors: FormErrors,
    refused: Vec<String>,
    refused_title: String,
}

async fn render_phase(
    user: &CurrentUser,
    pool: &DbPool,
    id: i64,
    phase_id: i64,
    kept: PhaseKept,
) -> AppResult<HttpResponse> {
    let (wf, phase, phases, releases_in_it, requirement, groups) = db::run(pool, move |conn| {
        let phase = svc::phase_of(conn, id, phase_id)?;
        Ok((
            wfm::find(conn, id)?,
            phase,
            wfm::phases_of(conn, id)?,
            wfm::releases_in_phase(conn, phase_id)?,
            am::requirement(conn, phase_id)?,
            groups::all(conn)?,
        ))
    })
    .await?;
    let named = |name: &str| groups.iter().find(|g| g.name == name).map(|g| g.id);
    let pf = kept.form.unwrap_or_else(|| {
        PhaseInput::of_phase(&phase, requirement.as_ref(), named("CAB"), named("ECAB"))
    });
    let failed = !kept.errors.is_empty() || !kept.refused.is_empty();
    let record_types = types_of(&wf.record_kind);
    let p = PhasePage {
        ctx: user.ctx(),
        wf_name: wf.name,
        wf_href: paths::admin_workflow(id),
        releases_in_it,
        action: paths::admin_workflow_phase(id, phase_id),
        retire_href: paths::admin_workflow_phase_retire(id, phase_id),
        restore_action: paths::admin_workflow_phase_restore(id, phase_id),
        options: phases
            .iter()
            .filter(|p| !p.retired && p.id != phase_id)
            .map(|p| (p.id, p.name.clone()))
            .collect(),
        pf,
        restore_from: kept.restore_from,
        errors: kept.errors,
        refused: kept.refused,
        refused_title: kept.refused_title,
        conditions: Condition::ALL,
        record_types,
        groups: groups.into_iter().map(|g| (g.id, g.name)).collect(),
        rules: &RULE_KEYS,
        phase,
    };
    if failed {
        invalid(&p)
    } else {
        page(&p)
    }
}

/// GET /admin/workflows/{id}/phases/{phase_id}
#[get("/admin/workflows/{id:\\d+}/phases/{phase_id:\\d+}")]
async fn phase_page(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let (id, phase_id) = path.into_inner();
    let kept = PhaseKept {
        form: None,
        restore_from: String::new(),
        errors: FormErrors::default(),
        refused: Vec::new(),
        refused_title: String::new(),
    };
    render_phase(&user, &pool, id, phase_id, kept).await
}

fn phase_kept(
    r: Refusal,
    form: Option<PhaseInput>,
    restore_from: String,
    title: &str,
) -> PhaseKept {
    match r {
        Refusal::Invalid(errors) => PhaseKept {
            form,
            restore_from,
            errors,
            refused: Vec::new(),
            refused_title: String::new(),
        },
        Refusal::Broken(refused) => PhaseKept {
            form,
            restore_from,
            errors: FormErrors::default(),
            refused,
            refused_title: title.to_string(),
        },
    }
}

/// POST /admin/workflows/{id}/phases/{phase_id}: save name, durations, condition, and what
/// leaving the phase needs (its tasks done, an approval).
#[post("/admin/workflows/{id:\\d+}/phases/{phase_id:\\d+}")]
async fn update_phase(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<(i64, i64)>,
    form: Form<PhaseInput>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let (id, phase_id) = path.into_inner();
    let f = form.into_inner();
    let input = f.clone();
    match db::run(&pool, move |conn| {
        svc::update_phase(conn, id, phase_id, &input)
    })
    .await?
    {
        Ok(()) => {
            user.flash(
                "success",
                format!("The phase {} was saved.", f.phase_name.trim()),
            );
            Ok(see_other(paths::admin_workflow(id)))
        }
        Err(r) => {
            render_phase(
                &user,
                &pool,
                id,
                phase_id,
                phase_kept(r, Some(f), String::new(), NOT_SAVED),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct MoveInput {
    #[serde(default)]
    direction: String,
}

/// POST /admin/workflows/{id}/phases/{phase_id}/move: `direction` is `up` or `down`.
#[post("/admin/workflows/{id:\\d+}/phases/{phase_id:\\d+}/move")]
async fn move_phase(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<(i64, i64)>,
    form: Form<MoveInput>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let (id, phase_id) = path.into_inner();
    let up = match form.into_inner().direction.as_str() {
        "up" => true,
        "down" => false,
        _ => return Err(AppError::BadRequest("Move a phase up or down.".into())),
    };
    let (name, outcome) = db::run(&pool, move |conn| {
        let name = svc::phase_of(conn, id, phase_id)?.name;
        Ok((name, svc::move_phase(conn, id, phase_id, up)?))
    })
    .await?;
    match outcome {
        Ok(()) => {
            user.flash(
                "success",
                format!("{name} moved {}.", if up { "up" } else { "down" }),
            );
            Ok(see_other(paths::admin_workflow(id)))
        }
        Err(r) => render_workflow(&user, &pool, id, Kept::refusal(r, NOT_SAVED)).await,
    }
}

fn phase_confirm(
    user: &CurrentUser,
    id: i64,
    phase: &PhaseRow,
    usage: &svc::PhaseUse,
    refused: Vec<String>,
) -> ConfirmPage {
    let mut paragraphs = Vec::new();
    let mut buttons = vec![ConfirmButton {
        value: "retire",
        label: format!("Retire {}", phase.name),
        danger: true,
    }];
    if usage.in_use {
        paragraphs.push(format!(
            "Releases have been in {}, so it can be retired but never deleted.{}",
            phase.name,
            match usage.releases_in_it {
                0 => String::new(),
                1 => " One release is in it now: it stays there until it is moved on.".into(),
                n => format!(" {n} releases are in it now: they stay there until they are moved on."),
            }
        ));
    } else {
        paragraphs.push("No release has used this phase: you may retire it (it can be restored later) or delete it with its field rules and transitions.".into());
        buttons.push(ConfirmButton {
            value: "delete",
            label: format!("Delete {}", phase.name),
            danger: true,
        });
    }
    if usage.transitions_in.is_empty() {
        paragraphs.push("No transition from another phase leads into it.".into());
    } else {
        paragraphs.push(format!(
            "Retiring it removes the transitions into it: {}. Its own transitions out stay, so releases in it can leave.",
            usage.transitions_in.join("; ")
        ));
    }
    ConfirmPage {
        ctx: user.ctx(),
        title: format!("Retire the phase {}?", phase.name),
        paragraphs,
        refused,
        action: paths::admin_workflow_phase_retire(id, phase.id),
        buttons,
        cancel: paths::admin_workflow(id),
    }
}

/// GET /admin/workflows/{id}/phases/{phase_id}/retire: the confirmation.
#[get("/admin/workflows/{id:\\d+}/phases/{phase_id:\\d+}/retire")]
async fn phase_retire_confirm(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let (id, phase_id) = path.into_inner();
    let (phase, usage) = db::run(&pool, move |conn| {
        let phase = svc::phase_of(conn, id, phase_id)?;
        Ok((phase, svc::phase_use(conn, id, phase_id)?))
    })
    .await?;
    page(&phase_confirm(&user, id, &phase, &usage, Vec::new()))
}

/// POST /admin/workflows/{id}/phases/{phase_id}/retire: `action` is `retire` or `delete`
/// (a phase any release refers to is retired either way).
#[post("/admin/workflows/{id:\\d+}/phases/{phase_id:\\d+}/retire")]
async fn phase_retire(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<(i64, i64)>,
    form: Form<ConfirmInput>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let (id, phase_id) = path.into_inner();
    let delete = form.into_inner().action == "delete";
    let (phase, outcome) = db::run(&pool, move |conn| {
        let phase = svc::phase_of(conn, id, phase_id)?;
        Ok((phase, svc::remove_phase(conn, id, phase_id, delete)?))
    })
    .await?;
    match outcome {
        Ok(Removed::Deleted) => {
            user.flash("success", format!("The phase {} was deleted.", phase.name));
            Ok(see_other(paths::admin_workflow(id)))
        }
        Ok(Removed::Retired) => {
            user.flash(
                "success",
                format!(
                    "The phase {} is retired. Releases in it stay there until they are moved.",
                    phase.name
                ),
            );
            Ok(see_other(paths::admin_workflow(id)))
        }
        Err(r) => {
            let refused = match r {
                Refusal::Broken(m) => m,
                Refusal::Invalid(e) => e.0.into_iter().map(|(_, m)| m).collect(),
            };
            let usage = db::run(&pool, move |conn| Ok(svc::phase_use(conn, id, phase_id)?)).await?;
            invalid(&phase_confirm(&user, id, &phase, &usage, refused))
        }
    }
}

/// POST /admin/workflows/{id}/phases/{phase_id}/restore
#[post("/admin/workflows/{id:\\d+}/phases/{phase_id:\\d+}/restore")]
async fn phase_restore(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<(i64, i64)>,
    form: Form<RestoreInput>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let (id, phase_id) = path.into_inner();
    let f = form.into_inner();
    let input = f.clone();
    match db::run(&pool, move |conn| {
        svc::phase_of(conn, id, phase_id)?;
        svc::restore_phase(conn, id, phase_id, &input)
    })
    .await?
    {
        Ok(()) => {
            user.flash("success", "The phase is restored.");
            Ok(see_other(paths::admin_workflow(id)))
        }
        Err(r) => {
            render_phase(
                &user,
                &pool,
                id,
                phase_id,
                phase_kept(r, None, f.phase_from, NOT_SAVED),
            )
            .await
        }
    }
}

// ---- The field-rules grid ----

struct GridCell {
    name: String,
    label: String,
    value: String,
}

struct GridRow {
    label: &'static str,
    cells: Vec<GridCell>,
}

#[derive(Template)]
#[template(path = "admin/workflow_fields.html")]
struct FieldsPage {
    ctx: Ctx,
    wf_name: String,
    wf_href: String,
    action: String,
    is_release: bool,
    phases: Vec<String>,
    rows: Vec<GridRow>,
    rules: [Rule; 5],
    errors: FormErrors,
    refused: Vec<String>,
}

async fn render_fields(
    user: &CurrentUser,
    pool: &DbPool,
    id: i64,
    submitted: Option<HashMap<String, String>>,
    errors: FormErrors,
    refused: Vec<String>,
) -> AppResult<HttpResponse> {
    let (wf, phases, rules) = db::run(pool, move |conn| {
        Ok((
            wfm::find(conn, id)?,
            wfm::phases_of(conn, id)?,
            wfm::rules_of(conn, id)?,
        ))
    })
    .await?;
    let active: Vec<&PhaseRow> = phases.iter().filter(|p| !p.retired).collect();
    let rows = RELEASE_FIELDS
        .iter()
        .map(|f| GridRow {
            label: f.label,
            cells: active
                .iter()
                .map(|p| {
                    let name = svc::rule_key(p.id, f.key);
                    let stored = rules
                        .iter()
                        .find(|(pid, key, _)| *pid == p.id && key == f.key)
                        .map_or(Rule::ReadOnly, |(_, _, r)| *r);
                    let value = submitted
                        .as_ref()
                        .and_then(|s| s.get(&name).cloned())
                        .unwrap_or_else(|| stored.as_str().to_string());
                    GridCell {
                        label: format!("{} in {}", f.label, p.name),
                        name,
                        value,
                    }
                })
                .collect(),
        })
        .collect();
    let failed = !errors.is_empty() || !refused.is_empty();
    let p = FieldsPage {
        ctx: user.ctx(),
        wf_href: paths::admin_workflow(id),
        action: paths::admin_workflow_fields(id),
        is_release: wf.record_kind == RecordKind::Release.as_str(),
        wf_name: wf.name,
        phases: active.iter().map(|p| p.name.clone()).collect(),
        rows,
        rules: Rule::ALL,
        errors,
        refused,
    };
    if failed {
        invalid(&p)
    } else {
        page(&p)
    }
}

/// GET /admin/workflows/{id}/fields: which fields each phase hides, shows, or requires.
#[get("/admin/workflows/{id:\\d+}/fields")]
async fn fields_page(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    render_fields(
        &user,
        &pool,
        path.into_inner(),
        None,
        FormErrors::default(),
        Vec::new(),
    )
    .await
}

/// POST /admin/workflows/{id}/fields: the whole grid at once.
#[post("/admin/workflows/{id:\\d+}/fields")]
async fn save_fields(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    form: Form<HashMap<String, String>>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    let f = form.into_inner();
    let input = f.clone();
    match db::run(&pool, move |conn| svc::save_rules(conn, id, &input)).await? {
        Ok(()) => {
            user.flash("success", "The field rules were saved.");
            Ok(see_other(paths::admin_workflow_fields(id)))
        }
        Err(Refusal::Invalid(errors)) => {
            render_fields(&user, &pool, id, Some(f), errors, Vec::new()).await
        }
        Err(Refusal::Broken(refused)) => {
            render_fields(&user, &pool, id, Some(f), FormErrors::default(), refused).await
        }
    }
}

// ---- Transitions ----

/// POST /admin/workflows/{id}/transitions: add a transition.
#[post("/admin/workflows/{id:\\d+}/transitions")]
async fn add_transition(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    form: Form<TransitionInput>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    let f = form.into_inner();
    let input = f.clone();
    let create = move |conn: &mut diesel::PgConnection| {
        Ok(match svc::add_transition(conn, id, &input)? {
            Ok(tid) => Ok(wfm::transition(conn, tid)?.label),
            Err(r) => Err(r),
        })
    };
    let its_workflow = move |_: &String| paths::admin_workflow(id);
    match super::create_once(&user, &pool, &f.submission_key, create, its_workflow).await? {
        Sent::Again(to_first) => Ok(to_first),
        Sent::Created(label, path) => {
            user.flash("success", format!("The transition “{label}” was added."));
            Ok(see_other(path))
        }
        Sent::Invalid(r) => {
            let kept = Kept {
                transition: Some(f),
                ..Kept::refusal(r, NOT_SAVED)
            };
            render_workflow(&user, &pool, id, kept).await
        }
    }
}

fn transition_confirm(
    user: &CurrentUser,
    id: i64,
    t: &wfm::TransitionRow,
    from: &str,
    refused: Vec<String>,
) -> ConfirmPage {
    ConfirmPage {
        ctx: user.ctx(),
        title: format!("Remove the transition “{}”?", t.label),
        paragraphs: vec![format!(
            "It leaves {from}. Releases will no longer be offered it; their history keeps the moves already made."
        )],
        refused,
        action: paths::admin_workflow_transition_remove(id, t.id),
        buttons: vec![ConfirmButton { value: "remove", label: "Remove the transition".into(), danger: true }],
        cancel: paths::admin_workflow(id),
    }
}

fn transition_of(
    conn: &mut diesel::PgConnection,
    id: i64,
    tid: i64,
) -> AppResult<(wfm::TransitionRow, String)> {
    let t = wfm::transition(conn, tid)?;
    if t.workflow_id != id {
        return Err(AppError::NotFound);
    }
    let from = wfm::phase(conn, t.from_phase_id)?.name;
    Ok((t, from))
}

/// GET /admin/workflows/{id}/transitions/{transition_id}/remove: the confirmation.
#[get("/admin/workflows/{id:\\d+}/transitions/{transition_id:\\d+}/remove")]
async fn transition_remove_confirm(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let (id, tid) = path.into_inner();
    let (t, from) = db::run(&pool, move |conn| transition_of(conn, id, tid)).await?;
    page(&transition_confirm(&user, id, &t, &from, Vec::new()))
}

/// POST /admin/workflows/{id}/transitions/{transition_id}/remove
#[post("/admin/workflows/{id:\\d+}/transitions/{transition_id:\\d+}/remove")]
async fn transition_remove(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<(i64, i64)>,
    _form: Form<ConfirmInput>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let (id, tid) = path.into_inner();
    let (t, from, outcome) = db::run(&pool, move |conn| {
        let (t, from) = transition_of(conn, id, tid)?;
        Ok((t, from, svc::remove_transition(conn, id, tid)?))
    })
    .await?;
    match outcome {
        Ok(()) => {
            user.flash(
                "success",
                format!("The transition “{}” was removed.", t.label),
            );
            Ok(see_other(paths::admin_workflow(id)))
        }
        Err(r) => {
            let refused = match r {
                Refusal::Broken(m) => m,
                Refusal::Invalid(e) => e.0.into_iter().map(|(_, m)| m).collect(),
            };
            let mut p = transition_confirm(&user, id, &t, &from, refused);
            p.paragraphs.push(
                "Add another way through the workflow first, then remove this transition.".into(),
            );
            invalid(&p)
        }
    }
}
