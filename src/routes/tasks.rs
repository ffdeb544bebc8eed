//! Tasks: adding one to a release, the task page, starting, completing, editing, and
//! "My tasks".
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{invalid, page, see_other, Sent};
use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::domain::permissions;
use crate::domain::workflow::{RecordKind, RecordState};
use crate::error::{AppError, AppResult};
use crate::forms::{Form, FormErrors};
use crate::models::tasks::{self as tm, MyTask};
use crate::models::{groups, releases as rel, users, workflows as wfm};
use crate::paths;
use crate::services::release_fields::Names;
use crate::services::releases as rsvc;
use crate::services::tasks::{self as svc, TaskAction, TaskInput, TaskOutcome};
use crate::views::{self, Ctx};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(my_tasks)
        .service(add)
        .service(show)
        .service(act);
}

/// POST /releases/{number}/tasks
#[post("/releases/{number}/tasks")]
async fn add(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
    form: Form<TaskInput>,
) -> AppResult<HttpResponse> {
    add_kind(
        user,
        pool,
        RecordKind::Release,
        path.into_inner(),
        form.into_inner(),
    )
    .await
}

/// Add a task to a release or a change.
pub(crate) async fn add_kind(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    kind: RecordKind,
    path: String,
    input: TaskInput,
) -> AppResult<HttpResponse> {
    let number = super::releases::parse_kind_number(kind, &path)?;
    let (actor, i2) = (user.actor(), input.clone());
    let outcome = super::create_once(
        &user,
        &pool,
        &input.submission_key,
        move |conn| {
            let r = rel::by_kind_number(conn, kind.as_str(), number)?;
            let wf = wfm::load(conn, r.workflow_id)?;
            svc::add(conn, actor, kind, number, &wf, &i2)
        },
        move |_| format!("{}#tasks", paths::record(kind.as_str(), number)),
    )
    .await?;
    match outcome {
        Sent::Again(to_first) => Ok(to_first),
        Sent::Created(t, path) => {
            user.flash("success", format!("Task “{}” was added.", t.title));
            Ok(see_other(path))
        }
        Sent::Invalid(errors) => {
            super::releases::render_with_task_errors(&user, &pool, kind, number, input, errors)
                .await
        }
    }
}

#[derive(Template)]
#[template(path = "tasks/show.html")]
struct TaskPage {
    ctx: Ctx,
    id: i64,
    /// Who may start and complete it, named.
    workers: String,
    version: i32,
    title: String,
    description: String,
    release_number: String,
    release_href: String,
    release_title: String,
    phase: String,
    assignee: String,
    group: String,
    status: String,
    is_open: bool,
    due: String,
    overdue: bool,
    completed: String,
    can_act: bool,
    can_manage: bool,
    input: TaskInput,
    errors: FormErrors,
    phases: Vec<(String, String)>,
    people: Vec<(String, String)>,
    group_options: Vec<(String, String)>,
}

pub fn status_label(s: &str) -> &'static str {
    match s {
        "open" => "Open",
        "in_progress" => "In progress",
        "done" => "Done",
        "cancelled" => "Cancelled",
        _ => "Unknown",
    }
}

/// A task's status as people read it, with why the record's move cancelled it.
pub fn status_text(t: &crate::models::tasks::Task) -> String {
    match (t.status.as_str(), t.cancel_reason.as_str()) {
        ("cancelled", why) if !why.is_empty() => format!("Cancelled: {why}"),
        (s, _) => status_label(s).to_string(),
    }
}

async fn task_page(
    user: &CurrentUser,
    pool: &DbPool,
    id: i64,
    input: Option<TaskInput>,
    errors: FormErrors,
) -> AppResult<TaskPage> {
    let actor = user.actor();
    let uid = user.id;
    let (t, r, wf, names, people, my_groups, group_list) = db::run(pool, move |conn| {
        let t = tm::find(conn, id)?;
        let r = rel::find_by_id(conn, t.release_id)?;
        let wf = wfm::load(conn, r.workflow_id)?;
        Ok((
            t,
            r,
            wf,
            rsvc::name_book(conn)?,
            users::active(conn)?,
            groups::of_user(conn, uid)?,
            groups::all(conn)?,
        ))
    })
    .await?;
    let parties = permissions::Parties {
        registered_by: r.registered_by,
        coordinator_id: r.coordinator_id,
        manager_id: r.manager_id,
    };
    let active = r.state == RecordState::Active.as_str();
    let in_group = t.group_id.is_some_and(|g| my_groups.contains(&g));
    let now = chrono::Utc::now();
    let input = input.unwrap_or_else(|| TaskInput {
        title: t.title.clone(),
        description: t.description.clone(),
        phase: t.phase_id.to_string(),
        assignee: t.assignee_id.map(|i| i.to_string()).unwrap_or_default(),
        group: t.group_id.map(|i| i.to_string()).unwrap_or_default(),
        due: views::datetime_input(&t.due_at),
        submission_key: String::new(),
    });
    let mut workers: Vec<String> = Vec::new();
    workers.extend(
        t.assignee_id
            .map(|i| format!("its assignee {}", names.user(i))),
    );
    workers.extend(t.group_id.map(|g| format!("members of {}", names.group(g))));
    workers.extend(
        r.coordinator_id
            .map(|i| format!("the coordinator {}", names.user(i))),
    );
    workers.extend(
        r.manager_id
            .map(|i| format!("the release manager {}", names.user(i))),
    );
    Ok(TaskPage {
        ctx: user.ctx(),
        id: t.id,
        workers: if workers.is_empty() {
            format!("nobody yet: {}", permissions::TASK_WORKERS)
        } else {
            workers.join(", ")
        },
        version: t.version,
        title: t.title.clone(),
        description: t.description.clone(),
        release_number: paths::record_number(&r.kind, r.number),
        release_href: paths::record(&r.kind, r.number),
        release_title: r.title.clone(),
        phase: wf.phase_name(t.phase_id).to_string(),
        assignee: t
            .assignee_id
            .map(|i| names.user(i))
            .unwrap_or_else(|| "nobody".into()),
        group: t.group_id.map(|i| names.group(i)).unwrap_or_default(),
        status: status_text(&t),
        is_open: t.is_open(),
        due: views::opt_datetime(&t.due_at),
        overdue: t.is_overdue(now),
        completed: match (t.completed_by, t.completed_at) {
            (Some(by), Some(at)) => format!("{} on {}", names.user(by), views::datetime(&at)),
            _ => String::new(),
        },
        can_act: active && permissions::can_work_task(actor, parties, t.assignee_id, in_group),
        can_manage: active && permissions::can_work(actor, parties),
        input,
        errors,
        phases: wf
            .phases
            .iter()
            .filter(|p| !p.retired)
            .map(|p| (p.id.to_string(), p.name.clone()))
            .collect(),
        people: people
            .into_iter()
            .map(|(i, n)| (i.to_string(), n))
            .collect(),
        group_options: group_list
            .into_iter()
            .map(|g| (g.id.to_string(), g.name))
            .collect(),
    })
}

/// GET /tasks/{id}
#[get("/tasks/{id}")]
async fn show(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    page(&task_page(&user, &pool, path.into_inner(), None, FormErrors::default()).await?)
}

#[derive(Deserialize)]
struct ActForm {
    #[serde(default)]
    action: String,
    // Text, not i32: `flatten` hands every value over as a string.
    #[serde(default)]
    version: String,
    #[serde(default)]
    return_to: String,
    #[serde(flatten)]
    input: TaskInput,
}

/// POST /tasks/{id}: start, complete, reopen, cancel or edit a task.
#[post("/tasks/{id}")]
async fn act(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    form: Form<ActForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let f = form.into_inner();
    let input = f.input.clone();
    let action = match f.action.as_str() {
        "start" => TaskAction::Start,
        "complete" => TaskAction::Complete,
        "reopen" => TaskAction::Reopen,
        "cancel" => TaskAction::Cancel,
        "edit" => TaskAction::Edit(f.input),
        _ => {
            return Err(AppError::BadRequest(
                "Unknown task action: use start, complete, reopen, cancel or edit.".into(),
            ))
        }
    };
    let version: i32 = f.version.parse().map_err(|_| {
        AppError::BadRequest("The form has no valid version: reload the page and try again.".into())
    })?;
    let actor = user.actor();
    let outcome = db::run(&pool, move |conn| {
        svc::act(conn, actor, id, version, action, &|c, w| wfm::load(c, w))
    })
    .await?;
    let back = paths::local_or(Some(&f.return_to), &format!("/tasks/{id}"));
    match outcome {
        TaskOutcome::Done(summary) => {
            user.flash("success", format!("{summary}."));
            Ok(see_other(back))
        }
        TaskOutcome::Stale => {
            user.flash("info", "The task had already changed since the page was loaded, so nothing was done. Check it and try again if needed.");
            Ok(see_other(back))
        }
        TaskOutcome::Invalid(errors) => {
            invalid(&task_page(&user, &pool, id, Some(input), errors).await?)
        }
    }
}

pub struct MyTaskView {
    pub id: i64,
    pub title: String,
    pub status: &'static str,
    pub can_start: bool,
    pub version: i32,
    pub due: String,
    pub overdue: bool,
    pub release: String,
    pub release_href: String,
    pub release_title: String,
    pub phase: String,
    pub via_group: bool,
}

#[derive(Template)]
#[template(path = "tasks/mine.html")]
struct MyTasksPage {
    ctx: Ctx,
    tasks: Vec<MyTaskView>,
}

pub fn my_task_views(rows: Vec<MyTask>, user_id: i64) -> Vec<MyTaskView> {
    let now = chrono::Utc::now();
    let mut views: Vec<MyTaskView> = rows
        .into_iter()
        .map(|t| MyTaskView {
            id: t.id,
            status: status_label(&t.status),
            can_start: t.status == "open",
            version: t.version,
            overdue: t.due_at.is_some_and(|d| d < now),
            due: views::opt_datetime(&t.due_at),
            release: paths::record_number(&t.release_kind, t.release_number),
            release_href: paths::record(&t.release_kind, t.release_number),
            release_title: t.release_title,
            phase: t.phase_name,
            via_group: t.assignee_id != Some(user_id) && t.group_id.is_some(),
            title: t.title,
        })
        .collect();
    // Overdue first (the query already orders by due date).
    views.sort_by_key(|v| !v.overdue);
    views
}

/// GET /tasks
#[get("/tasks")]
async fn my_tasks(user: CurrentUser, pool: web::Data<DbPool>) -> AppResult<HttpResponse> {
    let uid = user.id;
    let rows = db::run(&pool, move |conn| Ok(tm::open_for_user(conn, uid, 500)?)).await?;
    page(&MyTasksPage {
        ctx: user.ctx(),
        tasks: my_task_views(rows, uid),
    })
}
