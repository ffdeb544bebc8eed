//! Release model administration for release managers: the list with a create form, a model's
//! current version with its task plan and the edit form (saving makes a new version), any
//! version read-only, and retiring (after a confirmation) and restoring. Every handler checks
//! `permissions::can_manage_policy`; the rules live in `services::model_admin`.
use std::collections::HashMap;

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use diesel::PgConnection;
use serde::Deserialize;

use super::{invalid, page, see_other, Sent};
use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::domain::permissions;
use crate::domain::workflow::ReleaseType;
use crate::error::{AppError, AppResult};
use crate::forms::{Form, FormErrors};
use crate::models::groups::{self, Group};
use crate::models::release_models::{self as models, Model, ModelTask, ModelVersion};
use crate::models::workflows::{self as wfm, CategoryRow, PhaseRow};
use crate::paths;
use crate::services::model_admin::{self as svc, CreateInput, EditInput, PlanRow, SaveOutcome};
use crate::services::submissions;
use crate::views::{self, Ctx};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(show)
        .service(save)
        .service(show_version)
        .service(retire_confirm)
        .service(retire)
        .service(restore);
}

fn require_manager(user: &CurrentUser) -> AppResult<()> {
    user.require(
        permissions::can_manage_policy(user.actor()),
        "Only release managers may view and change release models.",
    )
}

fn type_label(t: &str) -> &'static str {
    t.parse::<ReleaseType>()
        .map(|t| t.label())
        .unwrap_or("Unknown")
}

fn type_options() -> Vec<(String, String)> {
    ReleaseType::ALL
        .iter()
        .map(|t| (t.as_str().to_string(), t.label().to_string()))
        .collect()
}

fn category_options(cats: &[CategoryRow]) -> Vec<(String, String)> {
    cats.iter()
        .map(|c| {
            (
                c.id.to_string(),
                if c.retired {
                    format!("{} (retired)", c.name)
                } else {
                    c.name.clone()
                },
            )
        })
        .collect()
}

fn assignee_label(role: Option<&str>, group: Option<i64>, groups: &[Group]) -> String {
    match (role, group) {
        (Some("coordinator"), _) => "Coordinator of the release".into(),
        (Some("manager"), _) => "Manager of the release".into(),
        (_, Some(g)) => groups
            .iter()
            .find(|x| x.id == g)
            .map(|x| format!("Group {}", x.name))
            .unwrap_or_else(|| "A group".into()),
        _ => "Nobody".into(),
    }
}

fn assignee_options(groups: &[Group]) -> Vec<(String, String)> {
    let mut out = vec![
        (
            "role:coordinator".to_string(),
            "Coordinator of the release".to_string(),
        ),
        (
            "role:manager".to_string(),
            "Manager of the release".to_string(),
        ),
    ];
    out.extend(
        groups
            .iter()
            .map(|g| (format!("group:{}", g.id), format!("Group {}", g.name))),
    );
    out
}

// ---- The list ----

struct ModelItem {
    href: String,
    name: String,
    version: i32,
    release_type: &'static str,
    category: String,
    tasks: i64,
    retired: bool,
}

#[derive(Template)]
#[template(path = "admin/models.html")]
struct ListPage {
    ctx: Ctx,
    rows: Vec<ModelItem>,
    types: Vec<(String, String)>,
    categories: Vec<(String, String)>,
    copy_options: Vec<(String, String)>,
    errors: FormErrors,
    f: CreateInput,
}

async fn render_list(
    user: &CurrentUser,
    pool: &DbPool,
    mut f: CreateInput,
    errors: FormErrors,
) -> AppResult<HttpResponse> {
    submissions::issue(&mut f.submission_key);
    let failed = !errors.is_empty();
    let (all, latest, counts, cats, choices) = db::run(pool, |conn| {
        let latest = models::latest_versions(conn)?;
        let ids: Vec<i64> = latest.iter().map(|v| v.id).collect();
        Ok((
            models::all(conn)?,
            latest,
            models::task_counts(conn, &ids)?,
            wfm::categories_all(conn)?,
            svc::category_choices(conn, None)?,
        ))
    })
    .await?;
    let mut rows = Vec::with_capacity(all.len());
    let mut copy_options = Vec::new();
    for m in all {
        let Some(v) = latest.iter().find(|v| v.model_id == m.id) else {
            continue;
        };
        copy_options.push((
            m.id.to_string(),
            format!("{} (version {})", m.name, v.version),
        ));
        rows.push(ModelItem {
            href: paths::admin_model(m.id),
            version: v.version,
            release_type: type_label(&v.release_type),
            category: cats
                .iter()
                .find(|c| c.id == v.category_id)
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            tasks: counts
                .iter()
                .find(|(id, _)| *id == v.id)
                .map(|(_, n)| *n)
                .unwrap_or(0),
            retired: m.retired,
            name: m.name,
        });
    }
    let p = ListPage {
        ctx: user.ctx(),
        rows,
        types: type_options(),
        categories: category_options(&choices),
        copy_options,
        errors,
        f,
    };
    if failed {
        invalid(&p)
    } else {
        page(&p)
    }
}

/// GET /admin/models
#[get("/admin/models")]
async fn list(user: CurrentUser, pool: web::Data<DbPool>) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let f = CreateInput {
        release_type: ReleaseType::Minor.as_str().into(),
        ..Default::default()
    };
    render_list(&user, &pool, f, FormErrors::default()).await
}

/// POST /admin/models: create a model (version 1).
#[post("/admin/models")]
async fn create(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    form: Form<CreateInput>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let f = form.into_inner();
    let (actor, input) = (user.actor(), f.clone());
    let create = move |conn: &mut PgConnection| svc::create(conn, actor, &input);
    let its_page = |id: &i64| paths::admin_model(*id);
    match super::create_once(&user, &pool, &f.submission_key, create, its_page).await? {
        Sent::Again(to_first) => Ok(to_first),
        Sent::Created(_, path) => {
            user.flash(
                "success",
                format!(
                    "The release model {} was created as version 1. Plan its tasks below.",
                    f.name.trim()
                ),
            );
            Ok(see_other(path))
        }
        Sent::Invalid(errors) => render_list(&user, &pool, f, errors).await,
    }
}

// ---- One model: its current version, the edit form, its versions ----

struct TaskView {
    title: String,
    description: String,
    assignee: String,
    due: String,
}

struct PhasePlan {
    /// Unique among the page's ids.
    key: String,
    name: String,
    tasks: Vec<TaskView>,
}

/// A version as the read-only views show it.
struct VersionView {
    number: i32,
    saved: String,
    description: String,
    release_type: &'static str,
    category: String,
    task_count: usize,
    plan: Vec<PhasePlan>,
}

struct VersionItem {
    number: i32,
    href: String,
    saved_by: String,
    saved_at: String,
    tasks: i64,
    current: bool,
}

/// One row of the plan editor with its messages.
struct RowView {
    i: usize,
    n: usize,
    existing: bool,
    row: PlanRow,
    e_title: String,
    e_description: String,
    e_phase: String,
    e_assignee: String,
    e_offset: String,
}

/// Everything a model's pages read, in one blocking call.
struct Loaded {
    model: Model,
    shown: ModelVersion,
    tasks: Vec<ModelTask>,
    latest: i32,
    versions: Vec<ModelVersion>,
    counts: Vec<(i64, i64)>,
    authors: Vec<(i64, String)>,
    category: CategoryRow,
    phases: Vec<PhaseRow>,
    /// Phases a task refers to outside its category's workflow (the category was re-pointed).
    stray_phases: Vec<PhaseRow>,
    groups: Vec<Group>,
    categories: Vec<CategoryRow>,
    /// Phases the editor offers: of the workflow of the category chosen in the form.
    form_phases: Vec<PhaseRow>,
}

fn load(
    conn: &mut PgConnection,
    id: i64,
    version: Option<i32>,
    form_category: Option<String>,
) -> AppResult<Loaded> {
    let model = models::find(conn, id)?;
    let versions = models::versions(conn, id)?;
    let latest = versions.first().ok_or(AppError::NotFound)?.version;
    let shown = match version {
        Some(n) => versions
            .iter()
            .find(|v| v.version == n)
            .cloned()
            .ok_or(AppError::NotFound)?,
        None => versions[0].clone(),
    };
    let category = wfm::category(conn, shown.category_id)?;
    let phases = wfm::phases_of(conn, category.workflow_id)?;
    let mut tasks = models::tasks_of(conn, shown.id)?;
    svc::plan_order(&mut tasks, &phases);
    let mut stray_phases: Vec<PhaseRow> = Vec::new();
    for t in &tasks {
        if !phases.iter().any(|p| p.id == t.phase_id)
            && !stray_phases.iter().any(|p| p.id == t.phase_id)
        {
            stray_phases.push(wfm::phase(conn, t.phase_id)?);
        }
    }
    let ids: Vec<i64> = versions.iter().map(|v| v.id).collect();
    let counts = models::task_counts(conn, &ids)?;
    let user_ids: Vec<i64> = versions.iter().filter_map(|v| v.created_by).collect();
    let authors = models::author_names(conn, &user_ids)?;
    let categories = svc::category_choices(conn, Some(versions[0].category_id))?;
    let form_workflow = form_category
        .and_then(|c| c.trim().parse::<i64>().ok())
        .and_then(|c| categories.iter().find(|x| x.id == c))
        .map(|c| c.workflow_id)
        .unwrap_or(category.workflow_id);
    let form_phases = if form_workflow == category.workflow_id {
        phases.clone()
    } else {
        wfm::phases_of(conn, form_workflow)?
    };
    Ok(Loaded {
        latest,
        shown,
        tasks,
        versions,
        counts,
        authors,
        phases,
        stray_phases,
        groups: groups::all(conn)?,
        categories,
        form_phases,
        category,
        model,
    })
}

impl Loaded {
    fn author(&self, v: &ModelVersion) -> String {
        match v.created_by {
            None => "Relman (out of the box)".into(),
            Some(u) => self
                .authors
                .iter()
                .find(|(id, _)| *id == u)
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| "A former user".into()),
        }
    }

    fn version_view(&self) -> VersionView {
        let task_view = |t: &ModelTask| TaskView {
            title: t.title.clone(),
            description: t.description.clone(),
            assignee: assignee_label(t.assignee_role.as_deref(), t.group_id, &self.groups),
            due: svc::offset_label(t.due_offset_hours),
        };
        let mut plan: Vec<PhasePlan> = self
            .phases
            .iter()
            .filter(|p| !p.retired || self.tasks.iter().any(|t| t.phase_id == p.id))
            .map(|p| PhasePlan {
                key: format!("phase-{}", p.id),
                name: if p.retired {
                    format!("{} (retired)", p.name)
                } else {
                    p.name.clone()
                },
                tasks: self
                    .tasks
                    .iter()
                    .filter(|t| t.phase_id == p.id)
                    .map(task_view)
                    .collect(),
            })
            .collect();
        plan.extend(self.stray_phases.iter().map(|p| {
            PhasePlan {
                key: format!("phase-{}", p.id),
                name: format!("{} (a phase of another workflow)", p.name),
                tasks: self
                    .tasks
                    .iter()
                    .filter(|t| t.phase_id == p.id)
                    .map(task_view)
                    .collect(),
            }
        }));
        let v = &self.shown;
        VersionView {
            number: v.version,
            saved: format!("{} on {}", self.author(v), views::datetime(&v.created_at)),
            description: v.description.clone(),
            release_type: type_label(&v.release_type),
            category: self.category.name.clone(),
            task_count: self.tasks.len(),
            plan,
        }
    }

    fn version_items(&self) -> Vec<VersionItem> {
        self.versions
            .iter()
            .map(|v| VersionItem {
                number: v.version,
                href: paths::admin_model_version(self.model.id, v.version),
                saved_by: self.author(v),
                saved_at: views::datetime(&v.created_at),
                tasks: self
                    .counts
                    .iter()
                    .find(|(id, _)| *id == v.id)
                    .map(|(_, n)| *n)
                    .unwrap_or(0),
                current: v.version == self.latest,
            })
            .collect()
    }

    fn phase_options(&self) -> Vec<(String, String)> {
        self.form_phases
            .iter()
            .map(|p| {
                (
                    p.id.to_string(),
                    if p.retired {
                        format!("{} (retired)", p.name)
                    } else {
                        p.name.clone()
                    },
                )
            })
            .collect()
    }
}

fn row_views(f: &EditInput, errors: &FormErrors) -> Vec<RowView> {
    f.rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let e = |field: &str| errors.get(&format!("t{i}_{field}")).to_string();
            RowView {
                i,
                n: i + 1,
                existing: i < f.existing,
                row: row.clone(),
                e_title: e("title"),
                e_description: e("description"),
                e_phase: e("phase"),
                e_assignee: e("assignee"),
                e_offset: e("offset"),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin/model.html")]
struct ModelPage {
    ctx: Ctx,
    name: String,
    retired: bool,
    v: VersionView,
    versions: Vec<VersionItem>,
    /// The version whose own page this is (none here: 0).
    viewing: i32,
    action: String,
    retire_href: String,
    restore_action: String,
    /// Why the save was refused because of a newer version ("" when it was not).
    conflict: String,
    errors: FormErrors,
    f: EditInput,
    rows: Vec<RowView>,
    types: Vec<(String, String)>,
    categories: Vec<(String, String)>,
    phase_options: Vec<(String, String)>,
    assignees: Vec<(String, String)>,
}

enum Status {
    Ok,
    Invalid,
    Conflict,
}

async fn render_model(
    user: &CurrentUser,
    pool: &DbPool,
    id: i64,
    f: Option<EditInput>,
    errors: FormErrors,
    conflict: String,
    status: Status,
) -> AppResult<HttpResponse> {
    let form_category = f.as_ref().map(|f| f.category.clone());
    let l = db::run(pool, move |conn| load(conn, id, None, form_category)).await?;
    let mut f = f.unwrap_or_else(|| EditInput::from_version(&l.shown, &l.tasks));
    if matches!(status, Status::Conflict) {
        // Saving again is a deliberate choice over the newer version.
        f.version = l.latest.to_string();
    }
    let p = ModelPage {
        ctx: user.ctx(),
        name: l.model.name.clone(),
        retired: l.model.retired,
        v: l.version_view(),
        versions: l.version_items(),
        viewing: 0,
        action: paths::admin_model(id),
        retire_href: paths::admin_model_retire(id),
        restore_action: paths::admin_model_restore(id),
        conflict,
        rows: row_views(&f, &errors),
        errors,
        f,
        types: type_options(),
        categories: category_options(&l.categories),
        phase_options: l.phase_options(),
        assignees: assignee_options(&l.groups),
    };
    match status {
        Status::Ok => page(&p),
        Status::Invalid => invalid(&p),
        Status::Conflict => Ok(HttpResponse::Conflict()
            .content_type("text/html; charset=utf-8")
            .body(p.render()?)),
    }
}

/// GET /admin/models/{id}
#[get("/admin/models/{id:\\d+}")]
async fn show(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    render_model(
        &user,
        &pool,
        path.into_inner(),
        None,
        FormErrors::default(),
        String::new(),
        Status::Ok,
    )
    .await
}

/// POST /admin/models/{id}: save the form as a new version.
#[post("/admin/models/{id:\\d+}")]
async fn save(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    form: Form<HashMap<String, String>>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    let input = EditInput::from_form(&form.into_inner())?;
    let (actor, i2) = (user.actor(), input.clone());
    let outcome = db::run(&pool, move |conn| svc::save_version(conn, actor, id, &i2)).await?;
    match outcome {
        SaveOutcome::Saved(n) => {
            user.flash("success", format!("Version {n} was saved. Releases registered from now on get its plan; releases registered earlier keep theirs."));
            Ok(see_other(paths::admin_model(id)))
        }
        SaveOutcome::Unchanged => {
            user.flash("info", "Nothing had changed, so no new version was made.");
            Ok(see_other(paths::admin_model(id)))
        }
        SaveOutcome::Invalid(errors) => {
            render_model(
                &user,
                &pool,
                id,
                Some(input),
                errors,
                String::new(),
                Status::Invalid,
            )
            .await
        }
        SaveOutcome::Conflict(latest) => {
            let who = db::run(&pool, move |conn| {
                Ok(match latest.created_by {
                    Some(u) => models::author_names(conn, &[u])?
                        .into_iter()
                        .next()
                        .map(|(_, n)| n)
                        .unwrap_or_else(|| "another user".into()),
                    None => "another user".into(),
                })
            })
            .await?;
            let message = format!(
                "While you were editing, {who} saved version {} (on {}), so your changes were not saved. They are kept in the form below: compare them with version {} shown above, then save again to make version {}.",
                latest.version,
                views::datetime(&latest.created_at),
                latest.version,
                latest.version + 1
            );
            render_model(
                &user,
                &pool,
                id,
                Some(input),
                FormErrors::default(),
                message,
                Status::Conflict,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "admin/model_version.html")]
struct VersionPage {
    ctx: Ctx,
    name: String,
    retired: bool,
    model_href: String,
    latest: i32,
    v: VersionView,
    versions: Vec<VersionItem>,
    viewing: i32,
}

/// GET /admin/models/{id}/versions/{version}: any version, read-only.
#[get("/admin/models/{id:\\d+}/versions/{version:\\d+}")]
async fn show_version(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<(i64, i32)>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let (id, n) = path.into_inner();
    let l = db::run(&pool, move |conn| load(conn, id, Some(n), None)).await?;
    page(&VersionPage {
        ctx: user.ctx(),
        name: l.model.name.clone(),
        retired: l.model.retired,
        model_href: paths::admin_model(id),
        latest: l.latest,
        viewing: n,
        v: l.version_view(),
        versions: l.version_items(),
    })
}

// ---- Retire and restore ----

#[derive(Template)]
#[template(path = "admin/model_confirm.html")]
struct ConfirmPage {
    ctx: Ctx,
    name: String,
    action: String,
    cancel: String,
}

/// GET /admin/models/{id}/retire: the confirmation.
#[get("/admin/models/{id:\\d+}/retire")]
async fn retire_confirm(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    let m = db::run(&pool, move |conn| Ok(models::find(conn, id)?)).await?;
    if m.retired {
        user.flash("info", format!("{} is already retired.", m.name));
        return Ok(see_other(paths::admin_model(id)));
    }
    page(&ConfirmPage {
        ctx: user.ctx(),
        name: m.name,
        action: paths::admin_model_retire(id),
        cancel: paths::admin_model(id),
    })
}

#[derive(Deserialize)]
struct Empty {}

/// POST /admin/models/{id}/retire
#[post("/admin/models/{id:\\d+}/retire")]
async fn retire(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    _form: Form<Empty>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    let m = db::run(&pool, move |conn| {
        svc::set_retired(conn, id, true)?;
        Ok(models::find(conn, id)?)
    })
    .await?;
    user.flash("success", format!("{} was retired: new releases can no longer choose it. Releases registered with it keep their tasks.", m.name));
    Ok(see_other(paths::admin_model(id)))
}

/// POST /admin/models/{id}/restore
#[post("/admin/models/{id:\\d+}/restore")]
async fn restore(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    _form: Form<Empty>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    let m = db::run(&pool, move |conn| {
        svc::set_retired(conn, id, false)?;
        Ok(models::find(conn, id)?)
    })
    .await?;
    user.flash(
        "success",
        format!("{} is restored: new releases can choose it again.", m.name),
    );
    Ok(see_other(paths::admin_model(id)))
}
