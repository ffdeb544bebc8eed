//! `GET /healthz`: 200 `ok` when the database answers, 503 otherwise; no sign-in.
use actix_web::{get, web, HttpResponse};
use diesel::prelude::*;

use crate::db::{self, DbPool};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz);
}

/// GET /healthz
#[get("/healthz")]
async fn healthz(pool: web::Data<DbPool>) -> HttpResponse {
    let answered = db::run(&pool, |conn| {
        Ok(diesel::sql_query("SELECT 1").execute(conn)?)
    })
    .await;
    match answered {
        Ok(_) => HttpResponse::Ok().content_type("text/plain").body("ok"),
        Err(_) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unavailable"),
    }
}
