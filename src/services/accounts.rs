//! Accounts: signing in with throttling, creating users, changing passwords, the first admin.
use diesel::prelude::*;

use crate::auth::password;
use crate::domain::lockout;
use crate::domain::roles::Roles;
use crate::error::{AppError, AppResult};
use crate::models::{groups, login_events, users};

pub enum SignIn {
    Ok { user_id: i64, epoch: i32 },
    /// Unknown name or wrong password: the same answer for both.
    Refused,
    /// Too many failures: try again after the lock ends.
    Locked { minutes_left: i64 },
}

/// Check a user name and password, throttled by name, recording the attempt.
/// Runs argon2: call inside `db::run`.
pub fn sign_in(conn: &mut PgConnection, username: &str, password_typed: &str, address: &str) -> AppResult<SignIn> {
    let name = username.trim().to_lowercase();
    let now = chrono::Utc::now();
    let failures = login_events::recent_failures(conn, &name)?;
    let user = users::find_by_username(conn, &name)?;
    let user_id = user.as_ref().map(|u| u.id);
    if let Some(until) = lockout::locked_until(&failures, now) {
        // Still do the hashing work so a locked name answers as slowly as any other.
        password::verify_dummy(password_typed);
        login_events::record(conn, &name, user_id, "locked", address)?;
        return Ok(SignIn::Locked { minutes_left: ((until - now).num_seconds() + 59) / 60 });
    }
    let ok = match &user {
        Some(u) => password::verify(&u.password_hash, password_typed) && u.active,
        None => {
            password::verify_dummy(password_typed);
            false
        }
    };
    if ok {
        login_events::record(conn, &name, user_id, "success", address)?;
        let u = user.expect("ok implies a user");
        return Ok(SignIn::Ok { user_id: u.id, epoch: u.session_epoch });
    }
    login_events::record(conn, &name, user_id, "failure", address)?;
    let mut failures = failures;
    failures.insert(0, now);
    if let Some(until) = lockout::locked_until(&failures, now) {
        return Ok(SignIn::Locked { minutes_left: ((until - now).num_seconds() + 59) / 60 });
    }
    Ok(SignIn::Refused)
}

/// Why a user name is refused, if it is.
pub fn username_problem(name: &str) -> Option<&'static str> {
    let ok_chars = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if name.is_empty() {
        Some("Enter a user name.")
    } else if name.len() > 64 {
        Some("The user name must be at most 64 characters.")
    } else if !ok_chars || !name.as_bytes()[0].is_ascii_alphanumeric() {
        Some("Use lower-case letters, digits, dots, dashes and underscores, starting with a letter or digit.")
    } else {
        None
    }
}

pub fn email_problem(email: &str) -> Option<&'static str> {
    let parts: Vec<_> = email.split('@').collect();
    if email.len() > 254 || parts.len() != 2 || parts[0].is_empty() || !parts[1].contains('.') || email.contains(char::is_whitespace) {
        Some("Enter an e-mail address like name@example.org.")
    } else {
        None
    }
}

pub struct NewAccount<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub email: Option<&'a str>,
    pub password: &'a str,
    pub roles: Roles,
    pub groups: &'a [i64],
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Create a user account (hashes the password: call off the async threads).
pub fn create_user(conn: &mut PgConnection, new: &NewAccount) -> Result<users::User, CreateError> {
    if let Some(p) = username_problem(new.username) {
        return Err(CreateError::Invalid(p.into()));
    }
    if let Some(p) = password::weakness(new.password) {
        return Err(CreateError::Invalid(p));
    }
    if let Some(p) = new.email.and_then(email_problem) {
        return Err(CreateError::Invalid(p.into()));
    }
    let hash = password::hash(new.password);
    conn.transaction(|conn| {
        if users::find_by_username(conn, new.username)?.is_some() {
            return Err(CreateError::Invalid(format!("The user name {} is already taken.", new.username)));
        }
        let display = if new.display_name.trim().is_empty() { new.username } else { new.display_name.trim() };
        let user = users::insert(
            conn,
            &users::NewUser {
                username: new.username,
                display_name: display,
                email: new.email,
                password_hash: &hash,
                roles: new.roles.to_strings(),
            },
        )?;
        for g in new.groups {
            groups::add_member(conn, *g, user.id)?;
        }
        Ok(user)
    })
}

/// On a database with no active administrator, create `admin` (roles admin and manager).
/// Returns the password when one was generated, to be printed once.
pub fn ensure_first_admin(conn: &mut PgConnection, preset: Option<&str>) -> Result<Option<String>, CreateError> {
    if users::any_active_admin(conn)? {
        return Ok(None);
    }
    let generated = preset.is_none();
    let pw = preset.map(str::to_string).unwrap_or_else(password::random_password);
    let roles = Roles::of(&[crate::domain::roles::Role::Admin, crate::domain::roles::Role::Manager]);
    match users::find_by_username(conn, "admin")? {
        // An `admin` account exists but lost its role or was deactivated: restore it.
        Some(u) => {
            if let Some(p) = password::weakness(&pw) {
                return Err(CreateError::Invalid(p));
            }
            users::set_password(conn, u.id, &password::hash(&pw))?;
            let mut all = u.role_set().to_strings();
            all.extend(roles.to_strings());
            let edit = users::UserEdit { display_name: &u.display_name, email: None, roles: Roles::from_strs(&all).to_strings(), active: true };
            users::update(conn, u.id, &edit)?;
        }
        None => {
            create_user(conn, &NewAccount { username: "admin", display_name: "Administrator", email: None, password: &pw, roles, groups: &[] })?;
        }
    }
    Ok(generated.then_some(pw))
}

/// Change one's own password after checking the current one. Returns the new session epoch.
pub fn change_password(conn: &mut PgConnection, user_id: i64, current: &str, new: &str) -> AppResult<Result<i32, (&'static str, String)>> {
    let user = users::find(conn, user_id)?;
    if !password::verify(&user.password_hash, current) {
        return Ok(Err(("current", "The current password is not correct.".into())));
    }
    if let Some(p) = password::weakness(new) {
        return Ok(Err(("new_password", p)));
    }
    let epoch = users::set_password(conn, user_id, &password::hash(new)).map_err(AppError::from)?;
    Ok(Ok(epoch))
}
