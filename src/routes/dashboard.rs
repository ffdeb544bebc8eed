//! The dashboard at `/`.
use actix_web::{get, web, HttpResponse};
use askama::Template;

use crate::auth::CurrentUser;
use crate::error::AppResult;
use crate::views::Ctx;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(dashboard);
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    ctx: Ctx,
    role_labels: Vec<&'static str>,
}

/// GET /
#[get("/")]
async fn dashboard(user: CurrentUser) -> AppResult<HttpResponse> {
    let role_labels = user.roles.iter().map(|r| r.label()).collect();
    super::page(&DashboardPage { ctx: user.ctx(), role_labels })
}
