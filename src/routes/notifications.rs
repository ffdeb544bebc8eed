//! My notifications (newest first, unread marked, mark read), and watching a record.
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use chrono::Utc;
use diesel::prelude::*;
use serde::Deserialize;

use super::{page, see_other};
use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::domain::workflow::RecordKind;
use crate::error::{AppError, AppResult};
use crate::forms::Form;
use crate::models::releases as rel;
use crate::paths;
use crate::schema::notifications as n;
use crate::services::notify;
use crate::views::{self, Ctx};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(read_all)
        .service(read_one)
        .service(watch_release)
        .service(watch_change);
}

pub struct NotificationView {
    pub id: i64,
    pub subject: String,
    pub body: String,
    pub link: String,
    pub at: String,
    pub unread: bool,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    ctx: Ctx,
    items: Vec<NotificationView>,
    unread: usize,
}

/// GET /notifications
#[get("/notifications")]
async fn list(user: CurrentUser, pool: web::Data<DbPool>) -> AppResult<HttpResponse> {
    let uid = user.id;
    let rows: Vec<(
        i64,
        String,
        String,
        String,
        chrono::DateTime<Utc>,
        Option<chrono::DateTime<Utc>>,
    )> = db::run(&pool, move |conn| {
        Ok(n::table
            .filter(n::user_id.eq(uid))
            .order(n::id.desc())
            .limit(200)
            .select((
                n::id,
                n::subject,
                n::body,
                n::link,
                n::created_at,
                n::read_at,
            ))
            .load(conn)?)
    })
    .await?;
    let items: Vec<NotificationView> = rows
        .into_iter()
        .map(|(id, subject, body, link, at, read)| NotificationView {
            id,
            subject,
            body,
            link,
            at: views::datetime(&at),
            unread: read.is_none(),
        })
        .collect();
    let unread = items.iter().filter(|i| i.unread).count();
    page(&NotificationsPage {
        ctx: user.ctx(),
        items,
        unread,
    })
}

#[derive(Deserialize)]
struct Empty {}

/// POST /notifications/read-all
#[post("/notifications/read-all")]
async fn read_all(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    _f: Form<Empty>,
) -> AppResult<HttpResponse> {
    let uid = user.id;
    let count = db::run(&pool, move |conn| {
        Ok(diesel::update(
            n::table
                .filter(n::user_id.eq(uid))
                .filter(n::read_at.is_null()),
        )
        .set(n::read_at.eq(Some(Utc::now())))
        .execute(conn)?)
    })
    .await?;
    user.flash(
        "success",
        format!(
            "Marked {count} notification{} as read.",
            if count == 1 { "" } else { "s" }
        ),
    );
    Ok(see_other("/notifications"))
}

#[derive(Deserialize)]
struct ReadForm {
    #[serde(default)]
    open: String,
}

/// POST /notifications/{id}/read: mark one read (and open its record when asked).
#[post("/notifications/{id}/read")]
async fn read_one(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    form: Form<ReadForm>,
) -> AppResult<HttpResponse> {
    let (id, uid) = (path.into_inner(), user.id);
    let link: Option<String> = db::run(&pool, move |conn| {
        // Only one's own: another user's id is simply not found.
        Ok(
            diesel::update(n::table.filter(n::id.eq(id)).filter(n::user_id.eq(uid)))
                .set(n::read_at.eq(Some(Utc::now())))
                .returning(n::link)
                .get_result(conn)
                .optional()?,
        )
    })
    .await?;
    let link = link.ok_or(AppError::NotFound)?;
    Ok(see_other(if form.into_inner().open == "1" {
        paths::safe_next(Some(&link))
    } else {
        "/notifications".into()
    }))
}

#[derive(Deserialize)]
struct WatchForm {
    #[serde(default)]
    action: String,
}

async fn watch(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    kind: RecordKind,
    path: String,
    f: WatchForm,
) -> AppResult<HttpResponse> {
    let number = super::releases::parse_kind_number(kind, &path)?;
    let (uid, on) = (user.id, f.action != "unwatch");
    db::run(&pool, move |conn| {
        let r = rel::by_kind_number(conn, kind.as_str(), number)?;
        Ok(notify::watch(conn, r.id, uid, on)?)
    })
    .await?;
    user.flash(
        "success",
        if on {
            "You are watching it: you will hear when it changes phase."
        } else {
            "You no longer watch it."
        },
    );
    Ok(see_other(paths::record(kind.as_str(), number)))
}

/// POST /releases/{number}/watch
#[post("/releases/{number}/watch")]
async fn watch_release(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
    f: Form<WatchForm>,
) -> AppResult<HttpResponse> {
    watch(
        user,
        pool,
        RecordKind::Release,
        path.into_inner(),
        f.into_inner(),
    )
    .await
}

/// POST /changes/{number}/watch
#[post("/changes/{number}/watch")]
async fn watch_change(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
    f: Form<WatchForm>,
) -> AppResult<HttpResponse> {
    watch(
        user,
        pool,
        RecordKind::Change,
        path.into_inner(),
        f.into_inner(),
    )
    .await
}
