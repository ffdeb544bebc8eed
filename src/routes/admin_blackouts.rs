//! Blackout windows for release managers: the list with a create form, one blackout's edit
//! form, and deleting after a confirmation. Every handler checks
//! `permissions::can_manage_policy`; releases overlapping a blackout show a warning
//! (`services::conflicts`).
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{invalid, page, see_other, Sent};
use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::domain::permissions;
use crate::error::AppResult;
use crate::forms::{Form, FormErrors};
use crate::models::blackouts::{self as blk, Blackout, BlackoutInput};
use crate::models::workflows::{self as wfm, CategoryRow};
use crate::paths;
use crate::services::release_fields::parse_datetime;
use crate::services::submissions;
use crate::views::{self, Ctx};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(show)
        .service(update)
        .service(delete_confirm)
        .service(delete);
}

fn require_manager(user: &CurrentUser) -> AppResult<()> {
    user.require(
        permissions::can_manage_policy(user.actor()),
        "Only release managers may manage blackout windows.",
    )
}

type Options = Vec<(String, String)>;

/// The form as typed: kept as text so a failed form shows exactly what was entered.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BlackoutForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: String,
    #[serde(default)]
    pub category: String,
    /// The create form's one-time key (`services::submissions`).
    #[serde(default)]
    pub submission_key: String,
}

impl BlackoutForm {
    fn of(b: &Blackout) -> BlackoutForm {
        BlackoutForm {
            name: b.name.clone(),
            starts_at: views::datetime_input(&Some(b.starts_at)),
            ends_at: views::datetime_input(&Some(b.ends_at)),
            category: b.category_id.map(|c| c.to_string()).unwrap_or_default(),
            submission_key: String::new(),
        }
    }
}

struct Valid {
    name: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    category_id: Option<i64>,
}

/// Check the form against the release categories there are.
fn validate(f: &BlackoutForm, categories: &[CategoryRow]) -> Result<Valid, FormErrors> {
    let mut errors = FormErrors::default();
    let name = f.name.trim();
    if name.is_empty() {
        errors.add("name", "Enter a name, such as “Year-end change freeze”.");
    } else if name.chars().count() > 200 {
        errors.add("name", "The name must be at most 200 characters.");
    }
    let starts_at = parse_datetime(&f.starts_at);
    let ends_at = parse_datetime(&f.ends_at);
    if starts_at.is_none() {
        errors.add(
            "starts_at",
            "Enter when the blackout starts, as a date and time like 2026-12-20 00:00.",
        );
    }
    if ends_at.is_none() {
        errors.add(
            "ends_at",
            "Enter when the blackout ends, as a date and time like 2027-01-02 00:00.",
        );
    }
    if let (Some(s), Some(e)) = (starts_at, ends_at) {
        if e <= s {
            errors.add("ends_at", "The end must be after the start.");
        }
    }
    let category_id = match f.category.trim() {
        "" => None,
        c => match c
            .parse::<i64>()
            .ok()
            .filter(|id| categories.iter().any(|x| x.id == *id))
        {
            Some(id) => Some(id),
            None => {
                errors.add("category", "Choose a release category, or all categories.");
                None
            }
        },
    };
    match (errors.is_empty(), starts_at, ends_at) {
        (true, Some(starts_at), Some(ends_at)) => Ok(Valid {
            name: name.to_string(),
            starts_at,
            ends_at,
            category_id,
        }),
        _ => Err(errors),
    }
}

/// Release categories a blackout may name: those in use, plus `current` when retired.
fn category_options(categories: &[CategoryRow], current: Option<i64>) -> Options {
    categories
        .iter()
        .filter(|c| c.record_kind == "release" && (!c.retired || Some(c.id) == current))
        .map(|c| {
            (
                c.id.to_string(),
                if c.retired {
                    format!("{} (retired)", c.name)
                } else {
                    c.name.clone()
                },
            )
        })
        .collect()
}

fn release_categories(conn: &mut diesel::PgConnection) -> AppResult<Vec<CategoryRow>> {
    Ok(wfm::categories_all(conn)?
        .into_iter()
        .filter(|c| c.record_kind == "release")
        .collect())
}

fn when(b: &Blackout) -> String {
    format!(
        "{} to {}",
        views::datetime(&b.starts_at),
        views::datetime(&b.ends_at)
    )
}

// ---------------------------------------------------------------- the list

struct Row {
    href: String,
    name: String,
    when: String,
    category: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "admin/blackouts.html")]
struct ListPage {
    ctx: Ctx,
    upcoming: Vec<Row>,
    past: Vec<Row>,
    categories: Options,
    errors: FormErrors,
    f: BlackoutForm,
}

const PAST_SHOWN: i64 = 20;

async fn render_list(
    user: &CurrentUser,
    pool: &DbPool,
    mut f: BlackoutForm,
    errors: FormErrors,
) -> AppResult<HttpResponse> {
    submissions::issue(&mut f.submission_key);
    let now = Utc::now();
    let (upcoming, past, categories) = db::run(pool, move |conn| {
        Ok((
            blk::current_and_upcoming(conn, now)?,
            blk::past(conn, now, PAST_SHOWN)?,
            wfm::categories_all(conn)?,
        ))
    })
    .await?;
    let row = |b: &Blackout| Row {
        href: paths::admin_blackout(b.id),
        name: b.name.clone(),
        when: when(b),
        category: match b.category_id {
            Some(c) => categories
                .iter()
                .find(|x| x.id == c)
                .map(|x| x.name.clone())
                .unwrap_or_default(),
            None => "All categories".into(),
        },
        state: if b.ends_at <= now {
            "Over"
        } else if b.starts_at <= now {
            "In effect"
        } else {
            "Upcoming"
        },
    };
    let failed = !errors.is_empty();
    let p = ListPage {
        ctx: user.ctx(),
        upcoming: upcoming.iter().map(row).collect(),
        past: past.iter().map(row).collect(),
        categories: category_options(&categories, None),
        errors,
        f,
    };
    if failed {
        invalid(&p)
    } else {
        page(&p)
    }
}

/// GET /admin/blackouts
#[get("/admin/blackouts")]
async fn list(user: CurrentUser, pool: web::Data<DbPool>) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    render_list(&user, &pool, BlackoutForm::default(), FormErrors::default()).await
}

/// POST /admin/blackouts: create a blackout.
#[post("/admin/blackouts")]
async fn create(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    form: Form<BlackoutForm>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let f = form.into_inner();
    let (f2, uid) = (f.clone(), user.id);
    let create = move |conn: &mut diesel::PgConnection| {
        let categories = release_categories(conn)?;
        Ok(match validate(&f2, &categories) {
            Ok(v) => {
                let input = BlackoutInput {
                    name: &v.name,
                    starts_at: v.starts_at,
                    ends_at: v.ends_at,
                    category_id: v.category_id,
                };
                blk::insert(conn, &input, uid)?;
                Ok(v.name)
            }
            Err(e) => Err(e),
        })
    };
    let listed = |_: &String| paths::ADMIN_BLACKOUTS.to_string();
    match super::create_once(&user, &pool, &f.submission_key, create, listed).await? {
        Sent::Again(to_first) => Ok(to_first),
        Sent::Created(name, path) => {
            user.flash("success", format!("The blackout “{name}” was created."));
            Ok(see_other(path))
        }
        Sent::Invalid(errors) => render_list(&user, &pool, f, errors).await,
    }
}

// ---------------------------------------------------------------- one blackout

#[derive(Template)]
#[template(path = "admin/blackout.html")]
struct EditPage {
    ctx: Ctx,
    name: String,
    action: String,
    delete_href: String,
    categories: Options,
    errors: FormErrors,
    f: BlackoutForm,
}

async fn render_edit(
    user: &CurrentUser,
    pool: &DbPool,
    id: i64,
    f: Option<BlackoutForm>,
    errors: FormErrors,
) -> AppResult<HttpResponse> {
    let (b, categories) = db::run(pool, move |conn| {
        Ok((blk::find(conn, id)?, wfm::categories_all(conn)?))
    })
    .await?;
    let failed = !errors.is_empty();
    let p = EditPage {
        ctx: user.ctx(),
        name: b.name.clone(),
        action: paths::admin_blackout(id),
        delete_href: paths::admin_blackout_delete(id),
        categories: category_options(&categories, b.category_id),
        errors,
        f: f.unwrap_or_else(|| BlackoutForm::of(&b)),
    };
    if failed {
        invalid(&p)
    } else {
        page(&p)
    }
}

/// GET /admin/blackouts/{id}
#[get("/admin/blackouts/{id:\\d+}")]
async fn show(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    render_edit(&user, &pool, path.into_inner(), None, FormErrors::default()).await
}

/// POST /admin/blackouts/{id}: save the blackout.
#[post("/admin/blackouts/{id:\\d+}")]
async fn update(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    form: Form<BlackoutForm>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    let f = form.into_inner();
    let f2 = f.clone();
    let outcome = db::run(&pool, move |conn| {
        blk::find(conn, id)?;
        let categories = release_categories(conn)?;
        Ok(match validate(&f2, &categories) {
            Ok(v) => {
                let input = BlackoutInput {
                    name: &v.name,
                    starts_at: v.starts_at,
                    ends_at: v.ends_at,
                    category_id: v.category_id,
                };
                blk::update(conn, id, &input)?;
                Ok(v.name)
            }
            Err(e) => Err(e),
        })
    })
    .await?;
    match outcome {
        Ok(name) => {
            user.flash("success", format!("The blackout “{name}” was saved."));
            Ok(see_other(paths::ADMIN_BLACKOUTS))
        }
        Err(errors) => render_edit(&user, &pool, id, Some(f), errors).await,
    }
}

#[derive(Template)]
#[template(path = "admin/blackout_delete.html")]
struct DeletePage {
    ctx: Ctx,
    name: String,
    when: String,
    action: String,
    cancel: String,
}

/// GET /admin/blackouts/{id}/delete: the confirmation.
#[get("/admin/blackouts/{id:\\d+}/delete")]
async fn delete_confirm(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    let b = db::run(&pool, move |conn| Ok(blk::find(conn, id)?)).await?;
    page(&DeletePage {
        ctx: user.ctx(),
        name: b.name.clone(),
        when: when(&b),
        action: paths::admin_blackout_delete(id),
        cancel: paths::admin_blackout(id),
    })
}

#[derive(Deserialize)]
struct Empty {}

/// POST /admin/blackouts/{id}/delete
#[post("/admin/blackouts/{id:\\d+}/delete")]
async fn delete(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    _form: Form<Empty>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let id = path.into_inner();
    let b = db::run(&pool, move |conn| {
        let b = blk::find(conn, id)?;
        blk::delete(conn, id)?;
        Ok(b)
    })
    .await?;
    user.flash("success", format!("The blackout “{}” was deleted.", b.name));
    Ok(see_other(paths::ADMIN_BLACKOUTS))
}
