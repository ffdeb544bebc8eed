//! Accounts: signing in with throttling, creating users, changing passwords, the first admin;
//! and what administrators do to accounts and groups (each form checked field by field).
use diesel::prelude::*;

use crate::auth::password;
use crate::domain::lockout;
use crate::domain::permissions::{self, Actor};
use crate::domain::roles::Roles;
use crate::error::{AppError, AppResult};
use crate::models::{groups, login_events, users};

pub enum SignIn {
    Ok {
        user_id: i64,
        epoch: i32,
        session_id: String,
    },
    /// Unknown name or wrong password: the same answer for both.
    Refused,
    /// Too many failures for this name from this address: not from here, for a while.
    AddressLockedForName { minutes_left: i64 },
    /// Too many failures from this address, whatever the names: try again later.
    AddressLocked { minutes_left: i64 },
}

/// The answer to a sign-in attempt, and how long to wait before giving it (the name's
/// slowdown, `lockout::delay`): the caller sleeps off the async threads' blocking pool.
pub struct Attempt {
    pub outcome: SignIn,
    pub delay: std::time::Duration,
}

/// How sign-ins for a name from an address are held back right now.
struct Throttle {
    delay: std::time::Duration,
    /// This address is locked out: of this name (`false`) or of every name (`true`).
    locked: Option<(bool, i64)>,
}

fn throttle(
    conn: &mut PgConnection,
    name: &str,
    address: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> QueryResult<Throttle> {
    let delay = lockout::delay(&login_events::recent_failures(conn, name)?, now);
    // Many names tried from one place (password spraying): the address, for every name.
    if login_events::failures_from(conn, address, now - lockout::window())?
        >= lockout::MAX_FAILURES_PER_ADDRESS
    {
        let minutes = lockout::window().num_minutes();
        return Ok(Throttle {
            delay,
            locked: Some((true, minutes)),
        });
    }
    let here = login_events::recent_failures_from(conn, name, address)?;
    Ok(Throttle {
        delay,
        locked: lockout::locked_until(&here, now)
            .map(|until| (false, lockout::minutes_left(until, now))),
    })
}

/// Check a user name and password, throttled by name (a slowdown) and by address (a lock),
/// recording the attempt. Runs argon2, and the same hashing work whatever the outcome, so the
/// time taken reveals neither the name nor the lock: call inside `db::run`.
pub fn sign_in(
    conn: &mut PgConnection,
    username: &str,
    password_typed: &str,
    address: &str,
) -> AppResult<Attempt> {
    let name = username.trim().to_lowercase();
    let now = chrono::Utc::now();
    let user = users::find_by_username(conn, &name)?;
    let user_id = user.as_ref().map(|u| u.id);
    let Throttle { delay, locked } = throttle(conn, &name, address, now)?;
    let refused = |outcome| Ok(Attempt { outcome, delay });
    if let Some((every_name, minutes_left)) = locked {
        password::verify_dummy(password_typed);
        login_events::record(conn, &name, user_id, "locked", address)?;
        return refused(if every_name {
            SignIn::AddressLocked { minutes_left }
        } else {
            SignIn::AddressLockedForName { minutes_left }
        });
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
        let session_id = crate::auth::TypedSession::new_id();
        crate::models::sessions::open(conn, u.id, &session_id)?;
        return Ok(Attempt {
            outcome: SignIn::Ok {
                user_id: u.id,
                epoch: u.session_epoch,
                session_id,
            },
            delay,
        });
    }
    login_events::record(conn, &name, user_id, "failure", address)?;
    // This failure may be the one that locks the address out of the name: say so now.
    let here = login_events::recent_failures_from(conn, &name, address)?;
    if let Some(until) = lockout::locked_until(&here, now) {
        return refused(SignIn::AddressLockedForName {
            minutes_left: lockout::minutes_left(until, now),
        });
    }
    refused(SignIn::Refused)
}

/// What `relman user unlock NAME` did.
pub struct Unlocked {
    pub username: String,
    /// The name's failed sign-ins that counted until now (at most ten are looked at).
    pub failures_cleared: usize,
}

/// `relman user unlock NAME`: the account's failed sign-ins stop counting (they stay in the
/// log, followed by an "unlocked" event), so its sign-ins are no longer slowed and no address
/// is locked out of it any more. An address locked out of every name (thirty failures over
/// many names) stays locked until its own lock ends. A name without an account is `NotFound`.
pub fn unlock(conn: &mut PgConnection, username: &str) -> AppResult<Unlocked> {
    let name = username.trim().to_lowercase();
    let user = users::find_by_username(conn, &name)?.ok_or(AppError::NotFound)?;
    let failures_cleared = login_events::recent_failures(conn, &name)?.len();
    login_events::record(conn, &name, Some(user.id), "unlocked", "command line")?;
    Ok(Unlocked {
        username: name,
        failures_cleared,
    })
}

/// Why a user name is refused, if it is.
pub fn username_problem(name: &str) -> Option<&'static str> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
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
    if email.len() > 254
        || parts.len() != 2
        || parts[0].is_empty()
        || !parts[1].contains('.')
        || email.contains(char::is_whitespace)
    {
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
    if let Some(p) = password::weakness_for(new.password, new.username) {
        return Err(CreateError::Invalid(p));
    }
    if let Some(p) = new.email.and_then(email_problem) {
        return Err(CreateError::Invalid(p.into()));
    }
    // The command line's `--display-name` too, not only the forms (`forms::Form`).
    if let Some(p) =
        crate::domain::text::control_character_problem("display_name", new.display_name)
    {
        return Err(CreateError::Invalid(p));
    }
    let hash = password::hash(new.password);
    conn.transaction(|conn| {
        if users::find_by_username(conn, new.username)?.is_some() {
            return Err(CreateError::Invalid(format!(
                "The user name {} is already taken.",
                new.username
            )));
        }
        let display = if new.display_name.trim().is_empty() {
            new.username
        } else {
            new.display_name.trim()
        };
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
pub fn ensure_first_admin(
    conn: &mut PgConnection,
    preset: Option<&str>,
) -> Result<Option<String>, CreateError> {
    if users::any_active_admin(conn)? {
        return Ok(None);
    }
    let generated = preset.is_none();
    let pw = preset
        .map(str::to_string)
        .unwrap_or_else(password::random_password);
    let roles = Roles::of(&[
        crate::domain::roles::Role::Admin,
        crate::domain::roles::Role::Manager,
    ]);
    match users::find_by_username(conn, "admin")? {
        // An `admin` account exists but lost its role or was deactivated: restore it.
        Some(u) => {
            if let Some(p) = password::weakness(&pw) {
                return Err(CreateError::Invalid(p));
            }
            users::set_password(conn, u.id, &password::hash(&pw))?;
            let mut all = u.role_set().to_strings();
            all.extend(roles.to_strings());
            let edit = users::UserEdit {
                display_name: &u.display_name,
                email: None,
                roles: Roles::from_strs(&all).to_strings(),
                active: true,
            };
            users::update(conn, u.id, &edit)?;
        }
        None => {
            create_user(
                conn,
                &NewAccount {
                    username: "admin",
                    display_name: "Administrator",
                    email: None,
                    password: &pw,
                    roles,
                    groups: &[],
                },
            )?;
        }
    }
    Ok(generated.then_some(pw))
}

/// The new session epoch, or the field and message of a refused password change.
pub type PasswordChange = Result<i32, (&'static str, String)>;

/// Change one's own password after checking the current one. Returns the new session epoch
/// (or the field and message of the refusal), and how long to wait before answering. A wrong
/// current password counts as a failed sign-in for the account from this address, and is
/// throttled the same way, so someone holding a stolen session cannot guess the password here
/// faster than at sign-in.
pub fn change_password(
    conn: &mut PgConnection,
    user_id: i64,
    current: &str,
    new: &str,
    address: &str,
) -> AppResult<(PasswordChange, std::time::Duration)> {
    let user = users::find(conn, user_id)?;
    let now = chrono::Utc::now();
    let Throttle { delay, locked } = throttle(conn, &user.username, address, now)?;
    if let Some((_, minutes)) = locked {
        password::verify_dummy(current);
        let refused = format!("Too many wrong passwords. Try again in {minutes} minute(s).");
        return Ok((Err(("current", refused)), delay));
    }
    if !password::verify(&user.password_hash, current) {
        login_events::record(conn, &user.username, Some(user.id), "failure", address)?;
        return Ok((
            Err(("current", "The current password is not correct.".into())),
            delay,
        ));
    }
    if let Some(p) = password::weakness_for(new, &user.username) {
        return Ok((Err(("new_password", p)), delay));
    }
    let epoch = users::set_password(conn, user_id, &password::hash(new)).map_err(AppError::from)?;
    Ok((Ok(epoch), delay))
}

// ---- Administration: accounts and groups as an administrator edits them. ----

/// What is wrong with a form, field by field: (field name, message), in the form's order.
pub type FieldErrors = Vec<(&'static str, String)>;

/// The order fields appear in the account and group forms, so the summary reads top to bottom.
const FIELD_ORDER: &[&str] = &[
    "username",
    "display_name",
    "email",
    "password",
    "new_password",
    "role",
    "group",
    "name",
    "description",
    "user_id",
];

fn sorted(mut errors: FieldErrors) -> FieldErrors {
    errors.sort_by_key(|(f, _)| {
        FIELD_ORDER
            .iter()
            .position(|x| x == f)
            .unwrap_or(usize::MAX)
    });
    errors
}

fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// An account's details as an administrator typed them (all but user name and password).
pub struct AccountDetails<'a> {
    pub display_name: &'a str,
    pub email: &'a str,
    /// `role` values: each must be a known role.
    pub roles: &'a [String],
    /// `group` values: each must be the id of an existing group.
    pub groups: &'a [String],
}

struct CheckedDetails {
    /// `None` when left empty.
    display_name: Option<String>,
    email: Option<String>,
    roles: Roles,
    groups: Vec<i64>,
}

fn check_details(
    conn: &mut PgConnection,
    d: &AccountDetails,
    errors: &mut FieldErrors,
) -> QueryResult<CheckedDetails> {
    let display_name = d.display_name.trim();
    if display_name.chars().count() > 100 {
        errors.push((
            "display_name",
            "The display name must be at most 100 characters.".into(),
        ));
    }
    let email = d.email.trim();
    if !email.is_empty() {
        if let Some(p) = email_problem(email) {
            errors.push(("email", p.into()));
        }
    }
    let mut roles = Vec::new();
    for r in d.roles {
        match r.parse::<crate::domain::roles::Role>() {
            Ok(role) => roles.push(role),
            Err(_) => {
                errors.push((
                    "role",
                    format!("“{r}” is not a role. Choose from the roles listed."),
                ));
                break;
            }
        }
    }
    let mut groups_wanted = Vec::new();
    for g in d.groups {
        match g.trim().parse::<i64>() {
            Ok(id) if !groups_wanted.contains(&id) => groups_wanted.push(id),
            Ok(_) => {}
            Err(_) => {
                errors.push(("group", "Choose groups from the list.".into()));
                break;
            }
        }
    }
    if !groups_wanted.is_empty()
        && groups::existing_ids(conn, &groups_wanted)?.len() != groups_wanted.len()
    {
        errors.push((
            "group",
            "One of the chosen groups does not exist (any more). Choose again from the list."
                .into(),
        ));
    }
    Ok(CheckedDetails {
        display_name: (!display_name.is_empty()).then(|| display_name.to_string()),
        email: (!email.is_empty()).then(|| email.to_string()),
        roles: Roles::of(&roles),
        groups: groups_wanted,
    })
}

/// An administrator creates an account with an initial password. Every field is checked and
/// every problem reported at once. Hashes the password: call inside `db::run`.
pub fn admin_create_user(
    conn: &mut PgConnection,
    username: &str,
    password_typed: &str,
    d: &AccountDetails,
) -> AppResult<Result<users::User, FieldErrors>> {
    let mut errors = FieldErrors::new();
    let username = username.trim();
    let taken = || format!("The user name {username} is already taken. Choose another.");
    if let Some(p) = username_problem(username) {
        errors.push(("username", p.into()));
    } else if users::find_by_username(conn, username)?.is_some() {
        errors.push(("username", taken()));
    }
    if let Some(p) = password::weakness_for(password_typed, username) {
        errors.push(("password", p));
    }
    let c = check_details(conn, d, &mut errors)?;
    if !errors.is_empty() {
        return Ok(Err(sorted(errors)));
    }
    let hash = password::hash(password_typed);
    let display = c.display_name.as_deref().unwrap_or(username);
    let created = conn.transaction(|conn| {
        let user = users::insert(
            conn,
            &users::NewUser {
                username,
                display_name: display,
                email: c.email.as_deref(),
                password_hash: &hash,
                roles: c.roles.to_strings(),
            },
        )?;
        for g in &c.groups {
            groups::add_member(conn, *g, user.id)?;
        }
        Ok(user)
    });
    match created {
        Ok(user) => Ok(Ok(user)),
        // Someone else took the name between the check and the insert.
        Err(e) if is_unique_violation(&e) => Ok(Err(vec![("username", taken())])),
        Err(e) => Err(e.into()),
    }
}

/// Names of groups by id, in `ids`' order (ids without a group are left out).
fn group_names(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<String>> {
    let all = groups::all(conn)?;
    Ok(ids
        .iter()
        .filter_map(|id| all.iter().find(|g| g.id == *id).map(|g| g.name.clone()))
        .collect())
}

fn own_change(
    actor: Actor,
    target: i64,
    roles: (Roles, Roles),
    before: &[String],
    after: &[String],
) -> Option<String> {
    let before: Vec<&str> = before.iter().map(String::as_str).collect();
    let after: Vec<&str> = after.iter().map(String::as_str).collect();
    permissions::own_access_change(actor, target, roles, (&before, &after)).map(|c| c.describe())
}

/// An administrator edits an account's display name, e-mail, roles and groups. Refuses to let
/// administrators remove their own admin role. A missing account is `NotFound`. When the
/// account is the administrator's own and its roles or groups changed, returns what changed,
/// for the audit to flag (`permissions::own_access_change`).
pub fn admin_update_user(
    conn: &mut PgConnection,
    actor: Actor,
    user_id: i64,
    d: &AccountDetails,
) -> AppResult<Result<Option<String>, FieldErrors>> {
    conn.transaction(|conn| {
        let user = users::find(conn, user_id)?;
        let mut errors = FieldErrors::new();
        let c = check_details(conn, d, &mut errors)?;
        if c.display_name.is_none() {
            errors.push(("display_name", "Enter a display name.".into()));
        }
        if !errors.iter().any(|(f, _)| *f == "role") {
            if let Some(why) =
                permissions::admin_self_edit_refusal(actor, user_id, c.roles, user.active)
            {
                errors.push(("role", why.into()));
            }
        }
        if !errors.is_empty() {
            return Ok(Err(sorted(errors)));
        }
        let own = if actor.id == user_id {
            let member_of = groups::of_user(conn, user_id)?;
            let before = group_names(conn, &member_of)?;
            let after = group_names(conn, &c.groups)?;
            own_change(actor, user_id, (user.role_set(), c.roles), &before, &after)
        } else {
            None
        };
        let display = c.display_name.as_deref().unwrap_or(&user.username);
        users::update_details(
            conn,
            user_id,
            display,
            c.email.as_deref(),
            c.roles.to_strings(),
        )?;
        groups::set_user_groups(conn, user_id, &c.groups)?;
        // A new group or role may void a vote of theirs (separation of duties).
        super::approvals::reevaluate_votes_of(conn, user_id, actor.id)?;
        Ok(Ok(own))
    })
}

/// Deactivate or reactivate an account; administrators cannot deactivate themselves.
/// Returns the account as it was, or why the change is refused.
pub fn admin_set_active(
    conn: &mut PgConnection,
    actor: Actor,
    user_id: i64,
    active: bool,
) -> AppResult<Result<users::User, &'static str>> {
    let user = users::find(conn, user_id)?;
    if let Some(why) = permissions::admin_self_edit_refusal(actor, user_id, user.role_set(), active)
    {
        return Ok(Err(why));
    }
    users::set_active(conn, user_id, active)?;
    Ok(Ok(user))
}

/// An administrator sets a new password for an account; its sessions end (the epoch moves on).
/// Returns the new session epoch. Hashes the password: call inside `db::run`.
pub fn admin_reset_password(
    conn: &mut PgConnection,
    user_id: i64,
    new: &str,
) -> AppResult<Result<i32, String>> {
    let user = users::find(conn, user_id)?;
    if let Some(p) = password::weakness_for(new, &user.username) {
        return Ok(Err(p));
    }
    Ok(Ok(users::set_password(
        conn,
        user_id,
        &password::hash(new),
    )?))
}

/// Create a group; its name must be new (ignoring case).
pub fn admin_create_group(
    conn: &mut PgConnection,
    name: &str,
    description: &str,
) -> AppResult<Result<groups::Group, FieldErrors>> {
    let name = name.trim();
    let description = description.trim();
    let taken = || format!("There is already a group named {name}. Choose another name.");
    let mut errors = FieldErrors::new();
    if name.is_empty() {
        errors.push(("name", "Enter a group name.".into()));
    } else if name.chars().count() > 100 {
        errors.push((
            "name",
            "The group name must be at most 100 characters.".into(),
        ));
    } else if groups::name_taken(conn, name)? {
        errors.push(("name", taken()));
    }
    if description.chars().count() > 2000 {
        errors.push((
            "description",
            "The description must be at most 2000 characters.".into(),
        ));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    match groups::create(conn, name, description) {
        Ok(g) => Ok(Ok(g)),
        Err(e) if is_unique_violation(&e) => Ok(Err(vec![("name", taken())])),
        Err(e) => Err(e.into()),
    }
}

/// Add an active user to a group (adding a member twice changes nothing). Returns the user, and
/// when administrators added themselves, what the audit flags (`own_access_change`). A missing
/// group is `NotFound`; a bad choice of user is a message for the `user_id` field.
pub fn admin_add_member(
    conn: &mut PgConnection,
    actor: Actor,
    group_id: i64,
    user_id: &str,
) -> AppResult<Result<(users::User, Option<String>), FieldErrors>> {
    let group = groups::find(conn, group_id)?;
    let user = match user_id.trim().parse::<i64>() {
        Ok(id) => users::find(conn, id).optional()?,
        Err(_) => None,
    };
    let Some(user) = user else {
        return Ok(Err(vec![(
            "user_id",
            "Choose a user from the list.".into(),
        )]));
    };
    if !user.active {
        return Ok(Err(vec![(
            "user_id",
            format!(
                "{} is deactivated: reactivate the account first.",
                user.display_name
            ),
        )]));
    }
    let added = groups::add_member(conn, group_id, user.id)? > 0;
    if added {
        // Sharing a task's group may void a vote of theirs (separation of duties).
        super::approvals::reevaluate_votes_of(conn, user.id, actor.id)?;
    }
    let roles = (user.role_set(), user.role_set());
    let own = added
        .then(|| {
            own_change(
                actor,
                user.id,
                roles,
                &[],
                std::slice::from_ref(&group.name),
            )
        })
        .flatten();
    Ok(Ok((user, own)))
}

/// Take a user out of a group (taking them out twice changes nothing). Returns whether they
/// were a member, and when administrators took themselves out, what the audit flags.
pub fn admin_remove_member(
    conn: &mut PgConnection,
    actor: Actor,
    group_id: i64,
    user_id: i64,
) -> AppResult<(groups::Group, users::User, bool, Option<String>)> {
    let (group, user) = (groups::find(conn, group_id)?, users::find(conn, user_id)?);
    let removed = groups::remove_member(conn, group_id, user_id)? > 0;
    let roles = (user.role_set(), user.role_set());
    let own = removed
        .then(|| {
            own_change(
                actor,
                user.id,
                roles,
                std::slice::from_ref(&group.name),
                &[],
            )
        })
        .flatten();
    Ok((group, user, removed, own))
}
