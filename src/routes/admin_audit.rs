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

/// One audit entry as the page shows it.
struct ActionRow {
    at: String,
    who: String,
    action: String,
    address: String,
    /// What the action changed about its actor's own roles or groups ("" when nothing).
    own_access_change: String,
    /// It gave the actor a role or group (rather than only taking one away).
    self_granted: bool,
}

impl From<audit::Entry> for ActionRow {
    fn from(e: audit::Entry) -> ActionRow {
        let own = e.own_access_change.unwrap_or_default();
        ActionRow {
            at: views::datetime(&e.at),
            who: e.who.unwrap_or_else(|| "(deleted)".into()),
            action: e.action,
            address: e.address,
            self_granted: own.starts_with("Self-granted"),
            own_access_change: own,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    ctx: Ctx,
    /// Administrators' changes to their own roles and groups, shown first.
    own_access: Vec<ActionRow>,
    actions: Vec<ActionRow>,
    sign_ins: Vec<(String, String, String, String)>,
}

/// GET /admin/audit
#[get("/admin/audit")]
async fn show(user: CurrentUser, pool: web::Data<DbPool>) -> AppResult<HttpResponse> {
    user.require(
        permissions::can_administer_users(user.actor()),
        "Only administrators see the audit.",
    )?;
    let (own_access, actions, sign_ins) = db::run(&pool, |conn| {
        Ok((
            audit::latest(conn, 50, true)?,
            audit::latest(conn, 200, false)?,
            login_events::latest(conn, 100)?,
        ))
    })
    .await?;
    page(&AuditPage {
        ctx: user.ctx(),
        own_access: own_access.into_iter().map(ActionRow::from).collect(),
        actions: actions.into_iter().map(ActionRow::from).collect(),
        sign_ins: sign_ins
            .into_iter()
            .map(|e| (views::datetime(&e.at), e.username, e.outcome, e.address))
            .collect(),
    })
}
