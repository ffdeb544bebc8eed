//! `GET /admin/audit`: the administrative actions and sign-ins, for administrators.
use actix_web::{get, web, HttpResponse};
use askama::Template;

use super::page;
use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::domain::permissions;
use crate::error::AppResult;
use crate::models::{audit, login_events};
use crate::views::{self, Ctx};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show);
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    ctx: Ctx,
    actions: Vec<(String, String, String, String)>,
    sign_ins: Vec<(String, String, String, String)>,
}

/// GET /admin/audit
#[get("/admin/audit")]
async fn show(user: CurrentUser, pool: web::Data<DbPool>) -> AppResult<HttpResponse> {
    user.require(
        permissions::can_administer_users(user.actor()),
        "Only administrators see the audit.",
    )?;
    let (actions, sign_ins) = db::run(&pool, |conn| {
        Ok((audit::latest(conn, 200)?, login_events::latest(conn, 100)?))
    })
    .await?;
    page(&AuditPage {
        ctx: user.ctx(),
        actions: actions
            .into_iter()
            .map(|(at, who, action, addr)| {
                (
                    views::datetime(&at),
                    who.unwrap_or_else(|| "(deleted)".into()),
                    action,
                    addr,
                )
            })
            .collect(),
        sign_ins: sign_ins
            .into_iter()
            .map(|e| (views::datetime(&e.at), e.username, e.outcome, e.address))
            .collect(),
    })
}
