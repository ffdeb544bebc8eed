//! GET on the addresses that only take a POST whose refusal re-renders a page. A refused
//! POST answers 422 with the page it belongs to, shown at the POST's own address; reloading
//! that page or opening it from a bookmark or the history asks for the address with GET,
//! which these answer with a 303 to the page itself (at the panel the form was in). Nothing
//! is done again, and what refused the POST — a blocker, a missing field, a closed round — is
//! shown there as always.
use actix_web::{routes, web, HttpRequest, HttpResponse};

use super::admin_users::require_admin;
use super::admin_workflows::require_manager;
use super::see_other;
use crate::auth::CurrentUser;
use crate::domain::workflow::RecordKind;
use crate::error::AppResult;
use crate::paths;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(record_form)
        .service(change_form)
        .service(decision)
        .service(admin_form)
        .service(workflow_form)
        .service(workflow_phase_form);
}

/// The panel of the record page a form of it lives in, by the form's address.
fn panel(req: &HttpRequest) -> &'static str {
    match req.path().rsplit('/').next() {
        Some("transitions") => "#transitions",
        Some("tasks") => "#tasks",
        Some("changes" | "bundle") => "#related",
        _ => "",
    }
}

/// GET /releases/{number}/transitions (and /tasks, /changes, /bundle): to the release page.
#[routes]
#[get("/releases/{number}/transitions")]
#[get("/releases/{number}/tasks")]
#[get("/releases/{number}/changes")]
#[get("/releases/{number}/bundle")]
async fn record_form(
    _user: CurrentUser,
    req: HttpRequest,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let n = super::releases::parse_kind_number(RecordKind::Release, &path)?;
    Ok(see_other(format!("{}{}", paths::release(n), panel(&req))))
}

/// GET /changes/{number}/transitions (and /tasks): to the change page.
#[routes]
#[get("/changes/{number}/transitions")]
#[get("/changes/{number}/tasks")]
async fn change_form(
    _user: CurrentUser,
    req: HttpRequest,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let n = super::releases::parse_kind_number(RecordKind::Change, &path)?;
    Ok(see_other(format!(
        "{}{}",
        paths::record(RecordKind::Change.as_str(), n),
        panel(&req)
    )))
}

/// GET /approvals/{id}/decision: to the approval's page.
#[routes]
#[get("/approvals/{id}/decision")]
async fn decision(_user: CurrentUser, path: web::Path<i64>) -> AppResult<HttpResponse> {
    Ok(see_other(format!("/approvals/{}", path.into_inner())))
}

/// GET /admin/groups/{id}/members, /admin/users/{id}/password and …/reactivate: to the
/// group's or the user's page (administrators only, as those pages are).
#[routes]
#[get("/admin/groups/{id}/members")]
#[get("/admin/users/{id}/password")]
#[get("/admin/users/{id}/reactivate")]
async fn admin_form(
    user: CurrentUser,
    req: HttpRequest,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    require_admin(&user)?;
    let id = path.into_inner();
    Ok(see_other(if req.path().starts_with("/admin/groups/") {
        paths::admin_group(id)
    } else {
        paths::admin_user(id)
    }))
}

/// GET /admin/workflows/copy, /admin/workflows/{id}/phases (…/publish, …/restore,
/// …/transitions) and /admin/categories/{id}/restore: to the workflow list, the workflow's
/// or the category's page (release managers only, as those pages are).
#[routes]
#[get("/admin/workflows/copy")]
#[get("/admin/workflows/{id:\\d+}/phases")]
#[get("/admin/workflows/{id:\\d+}/publish")]
#[get("/admin/workflows/{id:\\d+}/restore")]
#[get("/admin/workflows/{id:\\d+}/transitions")]
#[get("/admin/categories/{id:\\d+}/restore")]
async fn workflow_form(user: CurrentUser, req: HttpRequest) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    // The pattern admits digits only; a number too long for an i64 is not found.
    let id = match req.match_info().get("id") {
        None => None,
        Some(id) => Some(
            id.parse::<i64>()
                .map_err(|_| crate::error::AppError::NotFound)?,
        ),
    };
    Ok(see_other(match id {
        None => paths::ADMIN_WORKFLOWS.to_string(),
        Some(id) if req.path().starts_with("/admin/categories/") => paths::admin_category(id),
        Some(id) => paths::admin_workflow(id),
    }))
}

/// GET /admin/workflows/{id}/phases/{phase_id}/move and …/restore: to the workflow's page
/// (a move is made from there) or the phase's (release managers only).
#[routes]
#[get("/admin/workflows/{id:\\d+}/phases/{phase_id:\\d+}/move")]
#[get("/admin/workflows/{id:\\d+}/phases/{phase_id:\\d+}/restore")]
async fn workflow_phase_form(
    user: CurrentUser,
    req: HttpRequest,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let (id, phase_id) = path.into_inner();
    Ok(see_other(if req.path().ends_with("/move") {
        paths::admin_workflow(id)
    } else {
        paths::admin_workflow_phase(id, phase_id)
    }))
}
