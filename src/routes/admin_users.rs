//! Administration of user accounts: the list with the recent sign-in log, creating an account,
//! editing its details, roles and groups, resetting its password, deactivating (after a
//! confirmation) and reactivating it. Only administrators: every handler checks
//! `permissions::can_administer_users` before anything else.
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{invalid, page, see_other, with_own_access_change, Sent};
use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::domain::permissions;
use crate::domain::roles::{Role, Roles};
use crate::error::AppResult;
use crate::forms::{Form, FormErrors};
use crate::models::{groups, login_events, users};
use crate::paths;
use crate::services::accounts::{self, AccountDetails, FieldErrors};
use crate::services::submissions;
use crate::views::{self, Ctx};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The fixed paths first, so `new` and `sign-ins` are never taken for an `{id}`.
    cfg.service(list)
        .service(sign_ins)
        .service(new_form)
        .service(create)
        .service(edit_form)
        .service(update)
        .service(reset_password)
        .service(deactivate_confirm)
        .service(deactivate)
        .service(reactivate);
}

/// Refuse (403) anyone who is not an administrator.
pub(super) fn require_admin(user: &CurrentUser) -> AppResult<()> {
    user.require(
        permissions::can_administer_users(user.actor()),
        "Only administrators manage user accounts and groups.",
    )
}

pub(super) fn form_errors(errors: FieldErrors) -> FormErrors {
    let mut out = FormErrors::default();
    for (field, message) in errors {
        out.add(field, message);
    }
    out
}

/// The generic confirmation page for destructive actions: a POST form and a way back.
#[derive(Template)]
#[template(path = "admin/confirm.html")]
pub(super) struct ConfirmPage {
    pub ctx: Ctx,
    pub title: String,
    pub message: String,
    pub action: String,
    pub button: String,
    pub cancel: String,
}

// ---- The list and the sign-in log ----

struct UserRow {
    href: String,
    username: String,
    display_name: String,
    email: String,
    roles: String,
    groups: String,
    active: bool,
    is_me: bool,
}

struct SignInRow {
    at: String,
    username: String,
    outcome: &'static str,
    address: String,
}

fn sign_in_rows(events: Vec<login_events::LoginEvent>) -> Vec<SignInRow> {
    events
        .into_iter()
        .map(|e| SignInRow {
            at: views::datetime(&e.at),
            outcome: match e.outcome.as_str() {
                "success" => "Signed in",
                "failure" => "Failed: wrong name or password",
                "locked" => "Refused: too many failures from this address",
                "unlocked" => "Unlocked (relman user unlock)",
                _ => "Other",
            },
            username: e.username,
            address: e.address,
        })
        .collect()
}

fn role_labels(roles: Roles) -> String {
    if roles.is_empty() {
        "None".into()
    } else {
        roles.iter().map(Role::label).collect::<Vec<_>>().join(", ")
    }
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    ctx: Ctx,
    rows: Vec<UserRow>,
    sign_ins: Vec<SignInRow>,
    /// How many names had failed sign-ins lately (the sign-in page lists them).
    attacked: usize,
    sign_ins_href: &'static str,
}

/// A name with failed sign-ins lately, from one address: a row of "Accounts being attacked".
struct AttackRow {
    username: String,
    /// Whether an account has this name.
    known: bool,
    /// The name's failures from every address.
    name_failures: i64,
    address: String,
    failures: i64,
    last_at: String,
}

/// How far back the list of accounts being attacked looks.
const ATTACKS_HOURS: i64 = 24;
/// At most this many (name, address) rows.
const ATTACK_ROWS: i64 = 200;

fn attack_rows(summary: Vec<login_events::FailureSummary>) -> Vec<AttackRow> {
    summary
        .into_iter()
        .map(|f| AttackRow {
            name_failures: f.name_failures,
            known: f.known,
            username: f.username,
            address: f.address,
            failures: f.failures,
            last_at: views::datetime(&f.last_at),
        })
        .collect()
}

/// The failed sign-ins of the last [`ATTACKS_HOURS`] that still count, by name and address.
fn recent_attacks(
    conn: &mut diesel::PgConnection,
) -> diesel::QueryResult<Vec<login_events::FailureSummary>> {
    let since = chrono::Utc::now() - chrono::Duration::hours(ATTACKS_HOURS);
    login_events::failures_by_name_and_address(conn, since, ATTACK_ROWS)
}

/// How many sign-in events the user list shows; the sign-in page shows more.
const SIGN_INS_ON_LIST: i64 = 10;
const SIGN_INS_ON_LOG: i64 = 200;

/// GET /admin/users
#[get("/admin/users")]
async fn list(user: CurrentUser, pool: web::Data<DbPool>) -> AppResult<HttpResponse> {
    require_admin(&user)?;
    let me = user.id;
    let (rows, events, attacked) = db::run(&pool, move |conn| {
        let attacked = recent_attacks(conn)?
            .into_iter()
            .map(|f| f.username)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let all = users::all(conn)?;
        let group_names = groups::all(conn)?;
        let memberships = groups::memberships(conn)?;
        let events = login_events::latest(conn, SIGN_INS_ON_LIST)?;
        let rows = all
            .into_iter()
            .map(|u| {
                let mine: Vec<&str> = group_names
                    .iter()
                    .filter(|g| memberships.contains(&(u.id, g.id)))
                    .map(|g| g.name.as_str())
                    .collect();
                UserRow {
                    href: paths::admin_user(u.id),
                    roles: role_labels(u.role_set()),
                    groups: if mine.is_empty() {
                        "None".into()
                    } else {
                        mine.join(", ")
                    },
                    email: u.email.unwrap_or_default(),
                    is_me: u.id == me,
                    username: u.username,
                    display_name: u.display_name,
                    active: u.active,
                }
            })
            .collect::<Vec<_>>();
        Ok((rows, events, attacked))
    })
    .await?;
    page(&UsersPage {
        ctx: user.ctx(),
        rows,
        sign_ins: sign_in_rows(events),
        attacked,
        sign_ins_href: paths::ADMIN_SIGN_INS,
    })
}

#[derive(Template)]
#[template(path = "admin/users_sign_ins.html")]
struct SignInsPage {
    ctx: Ctx,
    attacks: Vec<AttackRow>,
    attacks_hours: i64,
    sign_ins: Vec<SignInRow>,
    limit: i64,
}

/// GET /admin/users/sign-ins: the accounts being attacked (failed sign-ins per name and
/// address that still count), then the sign-in log.
#[get("/admin/users/sign-ins")]
async fn sign_ins(user: CurrentUser, pool: web::Data<DbPool>) -> AppResult<HttpResponse> {
    require_admin(&user)?;
    let (attacks, events) = db::run(&pool, move |conn| {
        Ok((
            recent_attacks(conn)?,
            login_events::latest(conn, SIGN_INS_ON_LOG)?,
        ))
    })
    .await?;
    page(&SignInsPage {
        ctx: user.ctx(),
        attacks: attack_rows(attacks),
        attacks_hours: ATTACKS_HOURS,
        sign_ins: sign_in_rows(events),
        limit: SIGN_INS_ON_LOG,
    })
}

// ---- The account form, shared by "new" and "edit" ----

/// A checkbox of the roles or groups fieldset.
struct Choice {
    id: String,
    value: String,
    label: String,
    checked: bool,
}

/// What the account form shows: the values as typed (or as stored), and the choices.
struct AccountForm {
    /// A new account (the display name may be left empty) rather than an existing one.
    creating: bool,
    display_name: String,
    email: String,
    roles: Vec<Choice>,
    groups: Vec<Choice>,
}

impl AccountForm {
    fn new(
        creating: bool,
        display_name: String,
        email: String,
        roles: &[String],
        groups_chosen: &[String],
        all_groups: &[groups::Group],
    ) -> AccountForm {
        AccountForm {
            creating,
            display_name,
            email,
            roles: Role::ALL
                .into_iter()
                .map(|r| Choice {
                    id: format!("f-role-{}", r.as_str()),
                    value: r.as_str().into(),
                    label: r.label().into(),
                    checked: roles.iter().any(|x| x == r.as_str()),
                })
                .collect(),
            groups: all_groups
                .iter()
                .map(|g| Choice {
                    id: format!("f-group-{}", g.id),
                    value: g.id.to_string(),
                    label: g.name.clone(),
                    checked: groups_chosen.iter().any(|x| x.trim() == g.id.to_string()),
                })
                .collect(),
        }
    }

    fn from_user(u: &users::User, member_of: &[i64], all_groups: &[groups::Group]) -> AccountForm {
        let chosen: Vec<String> = member_of.iter().map(i64::to_string).collect();
        AccountForm::new(
            false,
            u.display_name.clone(),
            u.email.clone().unwrap_or_default(),
            &u.roles,
            &chosen,
            all_groups,
        )
    }
}

// ---- New account ----

#[derive(Template)]
#[template(path = "admin/user_new.html")]
struct NewUserPage {
    ctx: Ctx,
    errors: FormErrors,
    username: String,
    form: AccountForm,
    submission_key: String,
}

/// GET /admin/users/new
#[get("/admin/users/new")]
async fn new_form(user: CurrentUser, pool: web::Data<DbPool>) -> AppResult<HttpResponse> {
    require_admin(&user)?;
    let all_groups = db::run(&pool, |conn| Ok(groups::all(conn)?)).await?;
    let form = AccountForm::new(true, String::new(), String::new(), &[], &[], &all_groups);
    page(&NewUserPage {
        ctx: user.ctx(),
        errors: FormErrors::default(),
        username: String::new(),
        form,
        submission_key: submissions::new_key(),
    })
}

#[derive(Clone, Deserialize)]
struct NewUserInput {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: Vec<String>,
    #[serde(default)]
    group: Vec<String>,
    #[serde(default)]
    submission_key: String,
}

/// POST /admin/users/new
#[post("/admin/users/new")]
async fn create(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    form: Form<NewUserInput>,
) -> AppResult<HttpResponse> {
    require_admin(&user)?;
    let f = form.into_inner();
    let f2 = f.clone();
    let create = move |conn: &mut diesel::PgConnection| {
        let details = AccountDetails {
            display_name: &f2.display_name,
            email: &f2.email,
            roles: &f2.role,
            groups: &f2.group,
        };
        accounts::admin_create_user(conn, &f2.username, &f2.password, &details)
    };
    let listed = |_: &users::User| paths::ADMIN_USERS.to_string();
    match super::create_once(&user, &pool, &f.submission_key, create, listed).await? {
        Sent::Again(to_first) => Ok(to_first),
        Sent::Created(created, path) => {
            user.flash(
                "success",
                format!(
                    "The account {} was created. It can sign in now.",
                    created.username
                ),
            );
            Ok(see_other(path))
        }
        Sent::Invalid(errors) => {
            let all_groups = db::run(&pool, |conn| Ok(groups::all(conn)?)).await?;
            let form = AccountForm::new(
                true,
                f.display_name,
                f.email,
                &f.role,
                &f.group,
                &all_groups,
            );
            invalid(&NewUserPage {
                ctx: user.ctx(),
                errors: form_errors(errors),
                username: f.username,
                form,
                submission_key: f.submission_key,
            })
        }
    }
}

// ---- Edit an account ----

#[derive(Template)]
#[template(path = "admin/user_edit.html")]
struct EditUserPage {
    ctx: Ctx,
    errors: FormErrors,
    username: String,
    active: bool,
    is_me: bool,
    form: AccountForm,
    action: String,
    password_action: String,
    deactivate_href: String,
    reactivate_action: String,
}

impl EditUserPage {
    fn new(
        ctx: Ctx,
        errors: FormErrors,
        u: &users::User,
        me: i64,
        form: AccountForm,
    ) -> EditUserPage {
        EditUserPage {
            ctx,
            errors,
            username: u.username.clone(),
            active: u.active,
            is_me: u.id == me,
            form,
            action: paths::admin_user(u.id),
            password_action: paths::admin_user_password(u.id),
            deactivate_href: paths::admin_user_deactivate(u.id),
            reactivate_action: paths::admin_user_reactivate(u.id),
        }
    }
}

/// The account, its groups and all groups: what the edit page needs from the database.
fn load_account(
    conn: &mut diesel::PgConnection,
    id: i64,
) -> AppResult<(users::User, Vec<i64>, Vec<groups::Group>)> {
    Ok((
        users::find(conn, id)?,
        groups::of_user(conn, id)?,
        groups::all(conn)?,
    ))
}

/// The edit page as stored, with these messages (a refused password reset or deactivation).
async fn edit_page_with(
    user: &CurrentUser,
    pool: &DbPool,
    id: i64,
    errors: FormErrors,
) -> AppResult<EditUserPage> {
    let (u, member_of, all_groups) = db::run(pool, move |conn| load_account(conn, id)).await?;
    let form = AccountForm::from_user(&u, &member_of, &all_groups);
    Ok(EditUserPage::new(user.ctx(), errors, &u, user.id, form))
}

/// GET /admin/users/{id}
#[get("/admin/users/{id}")]
async fn edit_form(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    require_admin(&user)?;
    page(&edit_page_with(&user, &pool, id.into_inner(), FormErrors::default()).await?)
}

#[derive(Deserialize)]
struct EditUserInput {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: Vec<String>,
    #[serde(default)]
    group: Vec<String>,
}

/// POST /admin/users/{id}
#[post("/admin/users/{id}")]
async fn update(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    id: web::Path<i64>,
    form: Form<EditUserInput>,
) -> AppResult<HttpResponse> {
    require_admin(&user)?;
    let id = id.into_inner();
    let actor = user.actor();
    let f = form.into_inner();
    let (outcome, u, all_groups, f) = db::run(&pool, move |conn| {
        let details = AccountDetails {
            display_name: &f.display_name,
            email: &f.email,
            roles: &f.role,
            groups: &f.group,
        };
        let outcome = accounts::admin_update_user(conn, actor, id, &details)?;
        let u = users::find(conn, id)?;
        let all_groups = if outcome.is_err() {
            groups::all(conn)?
        } else {
            Vec::new()
        };
        Ok((outcome, u, all_groups, f))
    })
    .await?;
    match outcome {
        Ok(own) => {
            user.flash(
                "success",
                format!("The changes to {} were saved.", u.username),
            );
            Ok(with_own_access_change(see_other(paths::ADMIN_USERS), own))
        }
        Err(errors) => {
            let form = AccountForm::new(
                false,
                f.display_name,
                f.email,
                &f.role,
                &f.group,
                &all_groups,
            );
            invalid(&EditUserPage::new(
                user.ctx(),
                form_errors(errors),
                &u,
                user.id,
                form,
            ))
        }
    }
}

#[derive(Deserialize)]
struct PasswordInput {
    #[serde(default)]
    new_password: String,
}

/// POST /admin/users/{id}/password
#[post("/admin/users/{id}/password")]
async fn reset_password(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    id: web::Path<i64>,
    form: Form<PasswordInput>,
) -> AppResult<HttpResponse> {
    require_admin(&user)?;
    let id = id.into_inner();
    let new = form.into_inner().new_password;
    let outcome = db::run(&pool, move |conn| {
        let outcome = accounts::admin_reset_password(conn, id, &new)?;
        Ok(outcome.map(|epoch| (epoch, users::find(conn, id).map(|u| u.username))))
    })
    .await?;
    match outcome {
        Ok((epoch, username)) => {
            if id == user.id {
                // Resetting one's own password keeps this session (its other sessions end).
                user.session.set_epoch(epoch);
            }
            let name = username?;
            user.flash(
                "success",
                format!("The password of {name} was reset. Any session {name} had open has ended."),
            );
            Ok(see_other(paths::admin_user(id)))
        }
        Err(message) => {
            let mut errors = FormErrors::default();
            errors.add("new_password", message);
            invalid(&edit_page_with(&user, &pool, id, errors).await?)
        }
    }
}

// ---- Deactivate and reactivate ----

/// GET /admin/users/{id}/deactivate: the confirmation.
#[get("/admin/users/{id}/deactivate")]
async fn deactivate_confirm(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    require_admin(&user)?;
    let id = id.into_inner();
    let u = db::run(&pool, move |conn| Ok(users::find(conn, id)?)).await?;
    if let Some(why) = permissions::admin_self_edit_refusal(user.actor(), id, u.role_set(), false) {
        user.flash("error", why);
        return Ok(see_other(paths::admin_user(id)));
    }
    if !u.active {
        user.flash("success", format!("{} is already deactivated.", u.username));
        return Ok(see_other(paths::admin_user(id)));
    }
    page(&ConfirmPage {
        ctx: user.ctx(),
        title: format!("Deactivate {}?", u.username),
        message: format!(
            "{} ({}) will no longer be able to sign in, and any session they have open ends on their next request. \
             Their records and group memberships are kept, and you can reactivate the account later.",
            u.display_name, u.username
        ),
        action: paths::admin_user_deactivate(id),
        button: "Deactivate the account".into(),
        cancel: paths::admin_user(id),
    })
}

#[derive(Deserialize)]
struct Empty {}

/// POST /admin/users/{id}/deactivate
#[post("/admin/users/{id}/deactivate")]
async fn deactivate(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    id: web::Path<i64>,
    _form: Form<Empty>,
) -> AppResult<HttpResponse> {
    set_active(user, pool, id.into_inner(), false).await
}

/// POST /admin/users/{id}/reactivate
#[post("/admin/users/{id}/reactivate")]
async fn reactivate(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    id: web::Path<i64>,
    _form: Form<Empty>,
) -> AppResult<HttpResponse> {
    set_active(user, pool, id.into_inner(), true).await
}

async fn set_active(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    id: i64,
    active: bool,
) -> AppResult<HttpResponse> {
    require_admin(&user)?;
    let actor = user.actor();
    match db::run(&pool, move |conn| {
        accounts::admin_set_active(conn, actor, id, active)
    })
    .await?
    {
        Ok(u) => {
            let message = if active {
                format!("{} was reactivated and can sign in again.", u.username)
            } else {
                format!(
                    "{} was deactivated. Any session they had open has ended.",
                    u.username
                )
            };
            user.flash("success", message);
            Ok(see_other(paths::admin_user(id)))
        }
        Err(why) => {
            let mut errors = FormErrors::default();
            errors.add("active", why);
            invalid(&edit_page_with(&user, &pool, id, errors).await?)
        }
    }
}
