//! Change requests: the same pages as releases, driven by the same engine and handlers, under
//! `/changes`; and relating changes and bundling releases from a release's page.
use std::collections::HashMap;

use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;

use super::see_other;
use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::domain::workflow::RecordKind;
use crate::error::AppResult;
use crate::forms::Form;
use crate::models::releases::ListFilter;
use crate::paths;
use crate::services::related;
use crate::services::releases::RegisterInput;
use crate::services::tasks::TaskInput;

use super::releases::{self as r, TransitionForm};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(new_form)
        .service(register)
        .service(show)
        .service(save)
        .service(transition)
        .service(add_task)
        .service(request_approval)
        .service(relate)
        .service(bundle);
}

/// GET /changes
#[get("/changes")]
async fn list(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    q: web::Query<ListFilter>,
) -> AppResult<HttpResponse> {
    r::list_kind(user, pool, RecordKind::Change, q.into_inner()).await
}

/// GET /changes/new
#[get("/changes/new")]
async fn new_form(user: CurrentUser, pool: web::Data<DbPool>) -> AppResult<HttpResponse> {
    r::new_change_form(user, pool).await
}

/// POST /changes/new
#[post("/changes/new")]
async fn register(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    form: Form<RegisterInput>,
) -> AppResult<HttpResponse> {
    r::register_kind(user, pool, RecordKind::Change, form.into_inner()).await
}

/// GET /changes/{number}
#[get("/changes/{number}")]
async fn show(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    r::show_kind(user, pool, RecordKind::Change, path.into_inner()).await
}

/// POST /changes/{number}: save the current phase's screen.
#[post("/changes/{number}")]
async fn save(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
    form: Form<HashMap<String, String>>,
) -> AppResult<HttpResponse> {
    r::save_kind(
        user,
        pool,
        RecordKind::Change,
        path.into_inner(),
        form.into_inner(),
    )
    .await
}

/// POST /changes/{number}/transitions
#[post("/changes/{number}/transitions")]
async fn transition(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
    form: Form<TransitionForm>,
) -> AppResult<HttpResponse> {
    r::transition_kind(
        user,
        pool,
        RecordKind::Change,
        path.into_inner(),
        form.into_inner(),
    )
    .await
}

/// POST /changes/{number}/tasks
#[post("/changes/{number}/tasks")]
async fn add_task(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
    form: Form<TaskInput>,
) -> AppResult<HttpResponse> {
    super::tasks::add_kind(
        user,
        pool,
        RecordKind::Change,
        path.into_inner(),
        form.into_inner(),
    )
    .await
}

/// POST /changes/{number}/approvals
#[post("/changes/{number}/approvals")]
async fn request_approval(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
    _f: Form<super::approvals::Empty>,
) -> AppResult<HttpResponse> {
    super::approvals::request_kind(user, pool, RecordKind::Change, path.into_inner()).await
}

#[derive(Deserialize)]
struct RelationForm {
    #[serde(default)]
    number: String,
    #[serde(default)]
    action: String,
}

/// POST /releases/{number}/changes: relate a change (`action=add`) or remove it.
#[post("/releases/{number}/changes")]
async fn relate(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
    form: Form<RelationForm>,
) -> AppResult<HttpResponse> {
    let number = r::parse_kind_number(RecordKind::Release, &path)?;
    let f = form.into_inner();
    let actor = user.actor();
    let remove = f.action == "remove";
    let outcome = db::run(&pool, move |conn| {
        related::relate_change(conn, actor, number, &f.number, remove)
    })
    .await?;
    let target = if remove {
        "related-changes"
    } else {
        "relate-number"
    };
    finish(&user, &pool, number, outcome, target).await
}

/// POST /releases/{number}/bundle: bundle a release into this package (`action=add`) or take it out.
#[post("/releases/{number}/bundle")]
async fn bundle(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
    form: Form<RelationForm>,
) -> AppResult<HttpResponse> {
    let number = r::parse_kind_number(RecordKind::Release, &path)?;
    let f = form.into_inner();
    let actor = user.actor();
    let remove = f.action == "remove";
    let outcome = db::run(&pool, move |conn| {
        related::bundle(conn, actor, number, &f.number, remove)
    })
    .await?;
    let target = if remove {
        "related-members"
    } else {
        "bundle-number"
    };
    finish(&user, &pool, number, outcome, target).await
}

async fn finish(
    user: &CurrentUser,
    pool: &DbPool,
    number: i64,
    outcome: Result<String, String>,
    target: &'static str,
) -> AppResult<HttpResponse> {
    match outcome {
        Ok(done) => {
            user.flash("success", done);
            Ok(see_other(format!("{}#related", paths::release(number))))
        }
        Err(why) => r::render_with_relation_error(user, pool, number, why, target).await,
    }
}
