//! Signing in and out, and changing one's own password.
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{invalid, page, see_other};
use crate::auth::{CurrentUser, TypedSession};
use crate::db::{self, DbPool};
use crate::error::AppResult;
use crate::forms::{Form, FormErrors};
use crate::paths;
use crate::services::accounts::{self, SignIn};
use crate::views::Ctx;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(login_form)
        .service(login)
        .service(logout)
        .service(password_form)
        .service(change_password);
}

#[derive(Template)]
#[template(path = "account/login.html")]
struct LoginPage {
    ctx: Ctx,
    username: String,
    next: String,
    error: String,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// GET /login
#[get("/login")]
async fn login_form(session: TypedSession, q: web::Query<NextQuery>) -> AppResult<HttpResponse> {
    if session.user_id().is_some() {
        return Ok(see_other(paths::safe_next(q.next.as_deref())));
    }
    let ctx = Ctx::anonymous(session.csrf_token(), session.take_flash());
    page(&LoginPage {
        ctx,
        username: String::new(),
        next: paths::safe_next(q.next.as_deref()),
        error: String::new(),
    })
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// POST /login
#[post("/login")]
async fn login(
    req: HttpRequest,
    session: TypedSession,
    pool: web::Data<DbPool>,
    form: Form<LoginForm>,
) -> AppResult<HttpResponse> {
    let f = form.into_inner();
    let next = paths::safe_next(f.next.as_deref());
    let address = crate::auth::client_address(&req);
    let (username, password) = (f.username.clone(), f.password);
    let attempt = db::run(&pool, move |conn| {
        accounts::sign_in(conn, &username, &password, &address)
    })
    .await?;
    // The name's slowdown, slept here on the async side: no worker or pool thread is held.
    if !attempt.delay.is_zero() {
        actix_web::rt::time::sleep(attempt.delay).await;
    }
    let minutes = |n: i64| format!("{n} minute{}", if n == 1 { "" } else { "s" });
    let error = match attempt.outcome {
        SignIn::Ok { user_id, epoch, session_id } => {
            session.sign_in(user_id, epoch, &session_id)?;
            return Ok(see_other(next));
        }
        SignIn::Refused => "The user name or password is not correct.".to_string(),
        // Only from here: the account's owner, elsewhere, still signs in.
        SignIn::AddressLockedForName { minutes_left } => format!(
            "Too many failed sign-ins for this account from your network address. Signing in to it from here is locked: try again in {}.",
            minutes(minutes_left)
        ),
        // Not the account's fault: say so, or its owner would think someone is after them.
        SignIn::AddressLocked { minutes_left } => format!(
            "Too many failed sign-ins from your network address, for any account. Try again in {}.",
            minutes(minutes_left)
        ),
    };
    let ctx = Ctx::anonymous(session.csrf_token(), Vec::new());
    invalid(&LoginPage {
        ctx,
        username: f.username,
        next,
        error,
    })
}

#[derive(Deserialize)]
struct Empty {}

/// POST /logout
#[post("/logout")]
async fn logout(
    session: TypedSession,
    pool: web::Data<DbPool>,
    _form: Form<Empty>,
) -> AppResult<HttpResponse> {
    let sid = session.session_id();
    session.sign_out();
    // The session's row goes too, so a copy of the cookie is worth nothing from now on.
    if let Some(sid) = sid {
        db::run(&pool, move |conn| {
            Ok(crate::models::sessions::close(conn, &sid)?)
        })
        .await?;
    }
    Ok(see_other(paths::LOGIN))
}

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    ctx: Ctx,
    errors: FormErrors,
}

/// GET /account/password
#[get("/account/password")]
async fn password_form(user: CurrentUser) -> AppResult<HttpResponse> {
    page(&PasswordPage {
        ctx: user.ctx(),
        errors: FormErrors::default(),
    })
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm: String,
}

/// POST /account/password
#[post("/account/password")]
async fn change_password(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<DbPool>,
    form: Form<PasswordForm>,
) -> AppResult<HttpResponse> {
    let f = form.into_inner();
    let mut errors = FormErrors::default();
    if f.new_password != f.confirm {
        errors.add("confirm", "The two new passwords do not match.");
        return invalid(&PasswordPage {
            ctx: user.ctx(),
            errors,
        });
    }
    let uid = user.id;
    let sid = user.session.session_id().unwrap_or_default();
    let address = crate::auth::client_address(&req);
    let (result, delay) = db::run(&pool, move |conn| {
        let (changed, delay) =
            accounts::change_password(conn, uid, &f.current, &f.new_password, &address)?;
        if changed.is_ok() {
            crate::models::sessions::close_others(conn, uid, &sid)?;
        }
        Ok((changed, delay))
    })
    .await?;
    if !delay.is_zero() {
        actix_web::rt::time::sleep(delay).await;
    }
    match result {
        Ok(epoch) => {
            // Other sessions of this user end; this one carries on.
            user.session.set_epoch(epoch);
            user.flash("success", "Your password was changed.");
            Ok(see_other(paths::DASHBOARD))
        }
        Err((field, message)) => {
            errors.add(field, message);
            invalid(&PasswordPage {
                ctx: user.ctx(),
                errors,
            })
        }
    }
}
