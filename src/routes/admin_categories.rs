//! Category administration for release managers: the list with a create form, one category's
//! edit form, retiring (or deleting an unused one) after a confirmation, and restoring.
//! A category points at a published workflow of its own kind. Every handler checks
//! `permissions::can_manage_policy`; the rules live in `services::workflow_admin`.
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::admin_workflows::{
    require_manager, state_label, ConfirmButton, ConfirmInput, ConfirmPage,
};
use super::{invalid, page, see_other, Sent};
use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::domain::workflow::RecordKind;
use crate::error::AppResult;
use crate::forms::{Form, FormErrors};
use crate::models::workflows::{self as wfm, CategoryRow};
use crate::paths;
use crate::services::submissions;
use crate::services::workflow_admin::{self as svc, CategoryInput, Refusal};
use crate::views::Ctx;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create_category)
        .service(show)
        .service(update_category)
        .service(retire_confirm)
        .service(retire_category)
        .service(restore_category);
}

struct CategoryItem {
    href: String,
    name: String,
    kind: &'static str,
    workflow: String,
    workflow_href: String,
    retired: bool,
}

/// A workflow a category may choose: (id, label).
struct WorkflowOption {
    id: i64,
    label: String,
}

fn kind_label(kind: &str) -> &'static str {
    kind.parse::<RecordKind>()
        .map(|k| k.label())
        .unwrap_or("Unknown")
}

/// Published workflows not retired, plus `current` (whatever its state) so the form shows
/// what the category points at now.
fn workflow_options(
    conn: &mut diesel::PgConnection,
    current: Option<i64>,
) -> AppResult<Vec<WorkflowOption>> {
    let mut all = wfm::usable_workflows(conn)?;
    if let Some(id) = current.filter(|id| !all.iter().any(|w| w.id == *id)) {
        all.push(wfm::find(conn, id)?);
    }
    Ok(all
        .into_iter()
        .map(|w| {
            let state = if w.retired || w.draft {
                format!(", {}", state_label(&w).to_lowercase())
            } else {
                String::new()
            };
            WorkflowOption {
                id: w.id,
                label: format!(
                    "{} ({}s{state})",
                    w.name,
                    kind_label(&w.record_kind).to_lowercase()
                ),
            }
        })
        .collect())
}

#[derive(Template)]
#[template(path = "admin/categories.html")]
struct ListPage {
    ctx: Ctx,
    rows: Vec<CategoryItem>,
    workflows: Vec<WorkflowOption>,
    kinds: &'static [RecordKind],
    errors: FormErrors,
    f: CategoryInput,
}

async fn render_list(
    user: &CurrentUser,
    pool: &DbPool,
    mut f: CategoryInput,
    errors: FormErrors,
) -> AppResult<HttpResponse> {
    submissions::issue(&mut f.submission_key);
    let failed = !errors.is_empty();
    let (cats, workflows, options) = db::run(pool, |conn| {
        Ok((
            wfm::categories_all(conn)?,
            wfm::all(conn)?,
            workflow_options(conn, None)?,
        ))
    })
    .await?;
    let rows = cats
        .into_iter()
        .map(|c| {
            let w = workflows.iter().find(|w| w.id == c.workflow_id);
            CategoryItem {
                href: paths::admin_category(c.id),
                kind: kind_label(&c.record_kind),
                workflow: w.map(|w| w.name.clone()).unwrap_or_default(),
                workflow_href: paths::admin_workflow(c.workflow_id),
                retired: c.retired,
                name: c.name,
            }
        })
        .collect();
    let p = ListPage {
        ctx: user.ctx(),
        rows,
        workflows: options,
        kinds: RecordKind::ALL,
        errors,
        f,
    };
    if failed {
        invalid(&p)
    } else {
        page(&p)
    }
}

/// GET /admin/categories
#[get("/admin/categories")]
async fn list(user: CurrentUser, pool: web::Data<DbPool>) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let f = CategoryInput {
        record_kind: RecordKind::Release.as_str().into(),
        ..Default::default()
    };
    render_list(&user, &pool, f, FormErrors::default()).await
}

fn errors_of(r: Refusal) -> FormErrors {
    match r {
        Refusal::Invalid(e) => e,
        Refusal::Broken(msgs) => {
            let mut e = FormErrors::default();
            for m in msgs {
                e.add("name", m);
            }
            e
        }
    }
}

/// POST /admin/categories: create a category.
#[post("/admin/categories")]
async fn create_category(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    form: Form<CategoryInput>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let f = form.into_inner();
    let input = f.clone();
    let create = move |conn: &mut diesel::PgConnection| svc::create_category(conn, &input);
    let listed = |_: &i64| paths::ADMIN_CATEGORIES.to_string();
    match super::create_once(&user, &pool, &f.submission_key, create, listed).await? {
        Sent::Again(to_first) => Ok(to_first),
        Sent::Created(_, path) => {
            user.flash(
                "success",
                format!("The category {} was created.", f.name.trim()),
            );
            Ok(see_other(path))
        }
        Sent::Invalid(r) => render_list(&user, &pool, f, errors_of(r)).await,
    }
}

#[derive(Template)]
#[template(path = "admin/category.html")]
struct CategoryPage {
    ctx: Ctx,
    category: CategoryRow,
    releases: i64,
    action: String,
    retire_href: String,
    restore_action: String,
    workflows: Vec<WorkflowOption>,
    kinds: &'static [RecordKind],
    errors: FormErrors,
    refused: Vec<String>,
    f: CategoryInput,
}

async fn render_category(
    user: &CurrentUser,
    pool: &DbPool,
    id: i64,
    f: Option<CategoryInput>,
    errors: FormErrors,
    refused: Vec<String>,
) -> AppResult<HttpResponse> {
    let (category, releases, workflows) = db::run(pool, move |conn| {
        let c = wfm::category(conn, id)?;
        let options = workflow_options(conn, Some(c.workflow_id))?;
        Ok((c, wfm::releases_of_category(conn, id)?, options))
    })
    .await?;
    let failed = !errors.is_empty() || !refused.is_empty();
    let f = f.unwrap_or_else(|| CategoryInput {
        name: category.name.clone(),
        description: category.description.clone(),
        record_kind: category.record_kind.clone(),
        workflow_id: category.workflow_id.to_string(),
        submission_key: String::new(),
    });
    let p = CategoryPage {
        ctx: user.ctx(),
        releases,
        action: paths::admin_category(id),
        retire_href: paths::admin_category_retire(id),
        restore_action: paths::admin_category_restore(id),
        workflows,
        kinds: RecordKind::ALL,
        errors,
        refused,
        f,
        category,
    };
    if failed {
        invalid(&p)
    } else {
        page(&p)
    }
}

/// GET /admin/categories/{id}
#[get("/admin/categories/{id:\\d+}")]
async fn show(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    render_category(
        &user,
        &pool,
        path.into_inner(),
        None,
        FormErrors::default(),
        Vec::new(),
    )
    .await
}

/// POST /admin/categories/{id}: save the category.
#[post("/admin/categories/{id:\\d+}")]
async fn update_category(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    form: Form<CategoryInput>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    let f = form.into_inner();
    let input = f.clone();
    match db::run(&pool, move |conn| svc::update_category(conn, id, &input)).await? {
        Ok(()) => {
            user.flash(
                "success",
                format!("The category {} was saved.", f.name.trim()),
            );
            Ok(see_other(paths::ADMIN_CATEGORIES))
        }
        Err(Refusal::Invalid(errors)) => {
            render_category(&user, &pool, id, Some(f), errors, Vec::new()).await
        }
        Err(Refusal::Broken(m)) => {
            render_category(&user, &pool, id, Some(f), FormErrors::default(), m).await
        }
    }
}

fn category_confirm(
    user: &CurrentUser,
    c: &CategoryRow,
    releases: i64,
    refused: Vec<String>,
) -> ConfirmPage {
    let mut buttons = vec![ConfirmButton {
        value: "retire",
        label: format!("Retire {}", c.name),
        danger: true,
    }];
    let paragraph = if releases > 0 {
        format!(
            "{releases} release{} use it, so it can be retired but never deleted. They keep it; no new release can choose it.",
            if releases == 1 { "" } else { "s" }
        )
    } else {
        buttons.push(ConfirmButton {
            value: "delete",
            label: format!("Delete {}", c.name),
            danger: true,
        });
        "No release uses it: you may retire it (it can be restored later) or delete it for good."
            .to_string()
    };
    ConfirmPage {
        ctx: user.ctx(),
        title: format!("Retire the category {}?", c.name),
        paragraphs: vec![paragraph],
        refused,
        action: paths::admin_category_retire(c.id),
        buttons,
        cancel: paths::admin_category(c.id),
    }
}

/// GET /admin/categories/{id}/retire: the confirmation (retire, or delete when unused).
#[get("/admin/categories/{id:\\d+}/retire")]
async fn retire_confirm(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    let (c, n) = db::run(&pool, move |conn| {
        Ok((
            wfm::category(conn, id)?,
            wfm::releases_of_category(conn, id)?,
        ))
    })
    .await?;
    page(&category_confirm(&user, &c, n, Vec::new()))
}

/// POST /admin/categories/{id}/retire: `action` is `retire` or `delete`.
#[post("/admin/categories/{id:\\d+}/retire")]
async fn retire_category(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    form: Form<ConfirmInput>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    let delete = form.into_inner().action == "delete";
    let (c, outcome) = db::run(&pool, move |conn| {
        let c = wfm::category(conn, id)?;
        let outcome = if delete {
            svc::delete_category(conn, id)?
        } else {
            svc::retire_category(conn, id)?
        };
        Ok((c, outcome))
    })
    .await?;
    match outcome {
        Ok(()) => {
            let done = if delete { "deleted" } else { "retired" };
            user.flash("success", format!("The category {} was {done}.", c.name));
            Ok(see_other(paths::ADMIN_CATEGORIES))
        }
        Err(r) => {
            let refused = errors_of(r).0.into_iter().map(|(_, m)| m).collect();
            let n = db::run(&pool, move |conn| Ok(wfm::releases_of_category(conn, id)?)).await?;
            invalid(&category_confirm(&user, &c, n, refused))
        }
    }
}

#[derive(Deserialize)]
struct Empty {}

/// POST /admin/categories/{id}/restore
#[post("/admin/categories/{id:\\d+}/restore")]
async fn restore_category(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    _form: Form<Empty>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    match db::run(&pool, move |conn| svc::restore_category(conn, id)).await? {
        Ok(()) => {
            user.flash(
                "success",
                "The category is restored: new releases can choose it again.",
            );
            Ok(see_other(paths::admin_category(id)))
        }
        Err(r) => {
            let refused = errors_of(r).0.into_iter().map(|(_, m)| m).collect();
            render_category(&user, &pool, id, None, FormErrors::default(), refused).await
        }
    }
}
