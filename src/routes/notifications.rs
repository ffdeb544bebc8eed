//! My notifications (newest first, paged, filtered by unread and kind; mark read, one or
//! all), and watching a record.
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
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub link: String,
    pub at: String,
    pub unread: bool,
}

/// Notifications per page, and how far back the pages go.
const PER_PAGE: i64 = 25;
const MAX_PAGE: i64 = 200;

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    ctx: Ctx,
    items: Vec<NotificationView>,
    /// Unread in all (whatever the filters).
    unread: i64,
    q: ListQuery,
    kinds: Vec<(String, String)>,
    page: i64,
    prev_href: String,
    next_href: String,
    /// This page with its filters: where marking read comes back to.
    here: String,
}

/// GET parameters: `show=unread` (else all), `kind`, `page`; unknown values are ignored.
#[derive(Deserialize, Default, Clone)]
struct ListQuery {
    #[serde(default)]
    show: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    page: String,
}

impl ListQuery {
    fn unread_only(&self) -> bool {
        self.show == "unread"
    }

    fn href(&self, page: i64) -> String {
        let mut parts = Vec::new();
        if self.unread_only() {
            parts.push("show=unread".to_string());
        }
        if !self.kind.is_empty() {
            parts.push(format!("kind={}", paths::encode(&self.kind)));
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        if parts.is_empty() {
            "/notifications".into()
        } else {
            format!("/notifications?{}", parts.join("&"))
        }
    }
}

/// What a kind of notification is about, for the filter.
fn kind_label(kind: &str) -> String {
    match kind {
        "approval_decided" => "Approval decided".into(),
        "deadline_missed" => "Deadline missed".into(),
        "registered" => "Registered".into(),
        "task_assigned" => "Task assigned".into(),
        "back_out" => "Back-out plan activated".into(),
        "ended" => "Ended".into(),
        other => {
            let words = other.replace('_', " ");
            let mut c = words.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        }
    }
}

type Row = (
    i64,
    String,
    String,
    String,
    String,
    chrono::DateTime<Utc>,
    Option<chrono::DateTime<Utc>>,
);

/// GET /notifications: newest first, paged, filtered by unread and by kind.
#[get("/notifications")]
async fn list(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    q: web::Query<ListQuery>,
) -> AppResult<HttpResponse> {
    let mut q = q.into_inner();
    if q.show != "unread" {
        q.show = String::new();
    }
    let uid = user.id;
    let page_no = q.page.parse::<i64>().unwrap_or(1).clamp(1, MAX_PAGE);
    let q2 = q.clone();
    let (rows, kinds, unread): (Vec<Row>, Vec<String>, i64) = db::run(&pool, move |conn| {
        let kinds: Vec<String> = n::table
            .filter(n::user_id.eq(uid))
            .select(n::kind)
            .distinct()
            .load(conn)?;
        let mut query = n::table.filter(n::user_id.eq(uid)).into_boxed();
        if q2.unread_only() {
            query = query.filter(n::read_at.is_null());
        }
        if kinds.contains(&q2.kind) {
            query = query.filter(n::kind.eq(q2.kind.clone()));
        }
        let rows = query
            .order(n::id.desc())
            .offset((page_no - 1) * PER_PAGE)
            .limit(PER_PAGE + 1)
            .select((
                n::id,
                n::kind,
                n::subject,
                n::body,
                n::link,
                n::created_at,
                n::read_at,
            ))
            .load(conn)?;
        let unread: i64 = n::table
            .filter(n::user_id.eq(uid))
            .filter(n::read_at.is_null())
            .count()
            .get_result(conn)?;
        Ok((rows, kinds, unread))
    })
    .await?;
    if !kinds.contains(&q.kind) {
        q.kind = String::new();
    }
    let has_more = rows.len() as i64 > PER_PAGE && page_no < MAX_PAGE;
    let items: Vec<NotificationView> = rows
        .into_iter()
        .take(PER_PAGE as usize)
        .map(
            |(id, kind, subject, body, link, at, read)| NotificationView {
                id,
                kind: kind_label(&kind),
                subject,
                body,
                link,
                at: views::datetime(&at),
                unread: read.is_none(),
            },
        )
        .collect();
    let mut kinds: Vec<(String, String)> = kinds
        .into_iter()
        .map(|k| {
            let l = kind_label(&k);
            (k, l)
        })
        .collect();
    kinds.sort_by(|a, b| a.1.cmp(&b.1));
    page(&NotificationsPage {
        ctx: user.ctx(),
        items,
        unread,
        kinds,
        page: page_no,
        prev_href: if page_no > 1 {
            q.href(page_no - 1)
        } else {
            String::new()
        },
        next_href: if has_more {
            q.href(page_no + 1)
        } else {
            String::new()
        },
        here: q.href(page_no),
        q,
    })
}

#[derive(Deserialize)]
struct BackForm {
    /// The notifications page (with its filters) the form was on.
    #[serde(default)]
    return_to: String,
}

/// Back to the notifications page the form was on (only a notifications page).
fn back_to(return_to: &str) -> String {
    if return_to == "/notifications" || return_to.starts_with("/notifications?") {
        paths::local_or(Some(return_to), "/notifications")
    } else {
        "/notifications".into()
    }
}

/// POST /notifications/read-all: mark every one read, back to the page it was asked from.
#[post("/notifications/read-all")]
async fn read_all(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    f: Form<BackForm>,
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
    Ok(see_other(back_to(&f.into_inner().return_to)))
}

#[derive(Deserialize)]
struct ReadForm {
    #[serde(default)]
    open: String,
    #[serde(default)]
    return_to: String,
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
    let f = form.into_inner();
    Ok(see_other(if f.open == "1" {
        paths::safe_next(Some(&link))
    } else {
        back_to(&f.return_to)
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
