//! Administration of groups (CAB, ECAB, assignment groups): the list with member counts and a
//! create form, a group's members with an add-member form, and removing a member after a
//! confirmation. Only administrators: every handler checks `permissions::can_administer_users`.
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::admin_users::{form_errors, require_admin, ConfirmPage};
use super::{invalid, page, see_other, with_own_access_change, Sent};
use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::error::{AppError, AppResult};
use crate::forms::{Form, FormErrors};
use crate::models::{groups, users};
use crate::paths;
use crate::services::{accounts, submissions};
use crate::views::Ctx;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(show)
        .service(add_member)
        .service(remove_confirm)
        .service(remove_member);
}

// ---- The list and the create form ----

struct GroupRow {
    href: String,
    name: String,
    description: String,
    members: i64,
}

#[derive(Template)]
#[template(path = "admin/groups.html")]
struct GroupsPage {
    ctx: Ctx,
    rows: Vec<GroupRow>,
    errors: FormErrors,
    name: String,
    description: String,
    submission_key: String,
}

fn group_rows(conn: &mut diesel::PgConnection) -> AppResult<Vec<GroupRow>> {
    let counts = groups::member_counts(conn)?;
    Ok(groups::all(conn)?
        .into_iter()
        .map(|g| GroupRow {
            href: paths::admin_group(g.id),
            members: counts
                .iter()
                .find(|(id, _)| *id == g.id)
                .map_or(0, |(_, n)| *n),
            name: g.name,
            description: g.description,
        })
        .collect())
}

/// GET /admin/groups
#[get("/admin/groups")]
async fn list(user: CurrentUser, pool: web::Data<DbPool>) -> AppResult<HttpResponse> {
    require_admin(&user)?;
    let rows = db::run(&pool, group_rows).await?;
    page(&GroupsPage {
        ctx: user.ctx(),
        rows,
        errors: FormErrors::default(),
        name: String::new(),
        description: String::new(),
        submission_key: submissions::new_key(),
    })
}

#[derive(Clone, Deserialize)]
struct NewGroupInput {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    submission_key: String,
}

/// POST /admin/groups
#[post("/admin/groups")]
async fn create(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    form: Form<NewGroupInput>,
) -> AppResult<HttpResponse> {
    require_admin(&user)?;
    let f = form.into_inner();
    let f2 = f.clone();
    let create = move |conn: &mut diesel::PgConnection| {
        accounts::admin_create_group(conn, &f2.name, &f2.description)
    };
    let its_page = |g: &groups::Group| paths::admin_group(g.id);
    match super::create_once(&user, &pool, &f.submission_key, create, its_page).await? {
        Sent::Again(to_first) => Ok(to_first),
        Sent::Created(g, path) => {
            user.flash(
                "success",
                format!("The group {} was created. Add its members here.", g.name),
            );
            Ok(see_other(path))
        }
        Sent::Invalid(errors) => invalid(&GroupsPage {
            ctx: user.ctx(),
            rows: db::run(&pool, group_rows).await?,
            errors: form_errors(errors),
            name: f.name,
            description: f.description,
            submission_key: f.submission_key,
        }),
    }
}

// ---- One group: members, add, remove ----

struct MemberRow {
    username: String,
    display_name: String,
    active: bool,
    remove_href: String,
}

struct Candidate {
    id: i64,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "admin/group.html")]
struct GroupPage {
    ctx: Ctx,
    errors: FormErrors,
    name: String,
    description: String,
    members: Vec<MemberRow>,
    candidates: Vec<Candidate>,
    add_action: String,
}

async fn group_page(
    user: &CurrentUser,
    pool: &DbPool,
    id: i64,
    errors: FormErrors,
    chosen: String,
) -> AppResult<GroupPage> {
    let (g, members, others) = db::run(pool, move |conn| {
        Ok((
            groups::find(conn, id)?,
            groups::members(conn, id)?,
            groups::active_non_members(conn, id)?,
        ))
    })
    .await?;
    Ok(GroupPage {
        ctx: user.ctx(),
        errors,
        name: g.name,
        description: g.description,
        members: members
            .into_iter()
            .map(|(uid, username, display_name, active)| MemberRow {
                username,
                display_name,
                active,
                remove_href: paths::admin_group_member_remove(id, uid),
            })
            .collect(),
        candidates: others
            .into_iter()
            .map(|(uid, username, display_name)| Candidate {
                id: uid,
                label: format!("{display_name} ({username})"),
                selected: chosen == uid.to_string(),
            })
            .collect(),
        add_action: paths::admin_group_members(id),
    })
}

/// GET /admin/groups/{id}
#[get("/admin/groups/{id}")]
async fn show(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    require_admin(&user)?;
    page(
        &group_page(
            &user,
            &pool,
            id.into_inner(),
            FormErrors::default(),
            String::new(),
        )
        .await?,
    )
}

#[derive(Deserialize)]
struct AddMemberInput {
    #[serde(default)]
    user_id: String,
}

/// POST /admin/groups/{id}/members
#[post("/admin/groups/{id}/members")]
async fn add_member(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    id: web::Path<i64>,
    form: Form<AddMemberInput>,
) -> AppResult<HttpResponse> {
    require_admin(&user)?;
    let id = id.into_inner();
    let chosen = form.into_inner().user_id;
    let typed = chosen.clone();
    let actor = user.actor();
    let outcome = db::run(&pool, move |conn| {
        Ok(accounts::admin_add_member(conn, actor, id, &typed)?
            .map(|(u, own)| (u.display_name, groups::find(conn, id).map(|g| g.name), own)))
    })
    .await?;
    match outcome {
        Ok((member, group, own)) => {
            user.flash("success", format!("{member} is a member of {}.", group?));
            Ok(with_own_access_change(
                see_other(paths::admin_group(id)),
                own,
            ))
        }
        Err(errors) => invalid(&group_page(&user, &pool, id, form_errors(errors), chosen).await?),
    }
}

/// The group and the member named in a removal path; 404 unless they are a member.
fn membership(
    conn: &mut diesel::PgConnection,
    group_id: i64,
    user_id: i64,
) -> AppResult<(groups::Group, users::User)> {
    let g = groups::find(conn, group_id)?;
    let u = users::find(conn, user_id)?;
    if !groups::is_member(conn, group_id, user_id)? {
        return Err(AppError::NotFound);
    }
    Ok((g, u))
}

/// GET /admin/groups/{id}/members/{user_id}/remove: the confirmation.
#[get("/admin/groups/{id}/members/{user_id}/remove")]
async fn remove_confirm(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    ids: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    require_admin(&user)?;
    let (group_id, user_id) = ids.into_inner();
    let (g, u) = db::run(&pool, move |conn| membership(conn, group_id, user_id)).await?;
    page(&ConfirmPage {
        ctx: user.ctx(),
        title: format!("Remove {} from {}?", u.display_name, g.name),
        message: format!(
            "{} ({}) will no longer be a member of {}: they stop receiving its approval requests and group tasks. \
             Decisions they already recorded are kept. You can add them again later.",
            u.display_name, u.username, g.name
        ),
        action: paths::admin_group_member_remove(group_id, user_id),
        button: "Remove from the group".into(),
        cancel: paths::admin_group(group_id),
    })
}

#[derive(Deserialize)]
struct Empty {}

/// POST /admin/groups/{id}/members/{user_id}/remove
#[post("/admin/groups/{id}/members/{user_id}/remove")]
async fn remove_member(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    ids: web::Path<(i64, i64)>,
    _form: Form<Empty>,
) -> AppResult<HttpResponse> {
    require_admin(&user)?;
    let (group_id, user_id) = ids.into_inner();
    let actor = user.actor();
    let (g, u, removed, own) = db::run(&pool, move |conn| {
        accounts::admin_remove_member(conn, actor, group_id, user_id)
    })
    .await?;
    // Submitting twice removes once; the second answer says so rather than failing.
    let message = if removed {
        format!("{} was removed from {}.", u.display_name, g.name)
    } else {
        format!("{} is not a member of {}.", u.display_name, g.name)
    };
    user.flash("success", message);
    Ok(with_own_access_change(
        see_other(paths::admin_group(group_id)),
        own,
    ))
}
