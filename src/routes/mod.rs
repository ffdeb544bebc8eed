//! Thin handlers, one module per page area: extract, authorise, call a service, render or
//! redirect. `configure` is the one route table, used by the server and the tests alike.
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use diesel::PgConnection;

use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::error::AppResult;
use crate::services::submissions::{self, Once};

pub mod account;
pub mod admin_audit;
pub mod admin_blackouts;
pub mod admin_categories;
pub mod admin_groups;
pub mod admin_models;
pub mod admin_users;
pub mod admin_workflows;
pub mod approvals;
pub mod calendar;
pub mod calendar_feed;
pub mod changes;
pub mod dashboard;
pub mod health;
pub mod kept_page;
pub mod knowledge;
pub mod notifications;
pub mod release_report;
pub mod releases;
pub mod reloads;
pub mod reports;
pub mod tasks;

/// Every route of the application.
pub fn configure(cfg: &mut web::ServiceConfig) {
    account::configure(cfg);
    dashboard::configure(cfg);
    health::configure(cfg);
    changes::configure(cfg);
    reports::configure(cfg);
    releases::configure(cfg);
    tasks::configure(cfg);
    knowledge::configure(cfg);
    notifications::configure(cfg);
    approvals::configure(cfg);
    admin_users::configure(cfg);
    admin_audit::configure(cfg);
    admin_groups::configure(cfg);
    admin_workflows::configure(cfg);
    admin_categories::configure(cfg);
    admin_models::configure(cfg);
    calendar::configure(cfg);
    calendar_feed::configure(cfg);
    admin_blackouts::configure(cfg);
    reloads::configure(cfg);
}

/// POST → redirect → GET.
pub fn see_other(to: impl Into<String>) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.into()))
        .finish()
}

/// What came of a create form sent with its one-time submission key (`create_once`).
pub enum Sent<T, E> {
    /// This sending created `T`, shown at the path: answer with a 303 there.
    Created(T, String),
    /// The service refused the form; its key stays free for the corrected form.
    Invalid(E),
    /// The form had been sent before: the answer, a flash and a 303 to what the first made.
    Again(HttpResponse),
}

/// Marks the answer to a repeated form, which changed nothing (the audit skips it).
#[derive(Debug, Clone, Copy)]
pub struct Repeated;

/// Run `create` off the async threads once per submission `key` of the user
/// (`services::submissions::once`, one transaction with the key's claim). `path_of` says
/// where what it made is shown: the first answer and every repeat are sent there.
pub async fn create_once<T, E>(
    user: &CurrentUser,
    pool: &DbPool,
    key: &str,
    create: impl FnOnce(&mut PgConnection) -> AppResult<Result<T, E>> + Send + 'static,
    path_of: impl Fn(&T) -> String + Send + 'static,
) -> AppResult<Sent<T, E>>
where
    T: Send + 'static,
    E: Send + 'static,
{
    let (key, uid) = (key.to_string(), user.id);
    let once = db::run(pool, move |conn| {
        Ok(
            match submissions::once(conn, &key, uid, create, &path_of)? {
                Once::Created(t) => {
                    let path = path_of(&t);
                    Once::Created((t, path))
                }
                Once::Invalid(e) => Once::Invalid(e),
                Once::Repeat(path) => Once::Repeat(path),
            },
        )
    })
    .await?;
    Ok(match once {
        Once::Created((t, path)) => Sent::Created(t, path),
        Once::Invalid(e) => Sent::Invalid(e),
        Once::Repeat(path) => {
            user.flash(
                "info",
                "That form was already sent: nothing more was created, this is what it made.",
            );
            let mut answer = see_other(path);
            answer.extensions_mut().insert(Repeated);
            Sent::Again(answer)
        }
    })
}

/// What the administrative audit (`app::audit_admin_actions`) marks an entry with: the
/// handler's change was to the administrator's own roles or groups, and this is what changed.
#[derive(Debug, Clone)]
pub struct OwnAccessChange(pub String);

/// `resp`, carrying `change` (when there is one) to the audit.
pub fn with_own_access_change(mut resp: HttpResponse, change: Option<String>) -> HttpResponse {
    if let Some(c) = change {
        resp.extensions_mut().insert(OwnAccessChange(c));
    }
    resp
}

/// Render a page with 200.
pub fn page<T: askama::Template>(t: &T) -> Result<HttpResponse, crate::error::AppError> {
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(t.render()?))
}

/// Re-render a form with its messages: 422.
pub fn invalid<T: askama::Template>(t: &T) -> Result<HttpResponse, crate::error::AppError> {
    Ok(HttpResponse::UnprocessableEntity()
        .content_type("text/html; charset=utf-8")
        .body(t.render()?))
}

/// GET /static/{file}: the files of `static/`, embedded at build time.
pub async fn static_file(path: web::Path<String>) -> HttpResponse {
    let (body, mime): (&'static [u8], &str) = match path.as_str() {
        "app.css" => (
            include_bytes!("../../static/app.css"),
            "text/css; charset=utf-8",
        ),
        "print.css" => (
            include_bytes!("../../static/print.css"),
            "text/css; charset=utf-8",
        ),
        "favicon.svg" => (include_bytes!("../../static/favicon.svg"), "image/svg+xml"),
        _ => {
            return HttpResponse::NotFound()
                .content_type("text/plain")
                .body("not found")
        }
    };
    HttpResponse::Ok()
        .content_type(mime)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}
