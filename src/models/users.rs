//! User accounts.
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::domain::roles::Roles;
use crate::schema::users;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub roles: Vec<String>,
    pub active: bool,
    pub session_epoch: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    pub fn role_set(&self) -> Roles {
        Roles::from_strs(&self.roles)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub roles: Vec<String>,
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<User> {
    users::table.find(id).select(User::as_select()).first(conn)
}

pub fn find_by_username(conn: &mut PgConnection, username: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::username.eq(username))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut PgConnection, new: &NewUser) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(new)
        .returning(User::as_returning())
        .get_result(conn)
}

pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<User>> {
    users::table
        .order(users::username)
        .select(User::as_select())
        .load(conn)
}

/// Active users, for pickers (coordinator, manager, assignee).
pub fn active(conn: &mut PgConnection) -> QueryResult<Vec<(i64, String)>> {
    users::table
        .filter(users::active.eq(true))
        .order(users::display_name)
        .select((users::id, users::display_name))
        .load(conn)
}

/// Active users holding `role`.
pub fn active_with_role(conn: &mut PgConnection, role: &str) -> QueryResult<Vec<(i64, String)>> {
    users::table
        .filter(users::active.eq(true))
        .filter(users::roles.contains(vec![role]))
        .order(users::display_name)
        .select((users::id, users::display_name))
        .load(conn)
}

pub fn any_active_admin(conn: &mut PgConnection) -> QueryResult<bool> {
    use diesel::dsl::{exists, select};
    select(exists(
        users::table
            .filter(users::active.eq(true))
            .filter(users::roles.contains(vec!["admin"])),
    ))
    .get_result(conn)
}

pub fn set_password(conn: &mut PgConnection, id: i64, password_hash: &str) -> QueryResult<i32> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::session_epoch.eq(users::session_epoch + 1),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .returning(users::session_epoch)
        .get_result(conn)
}

#[derive(Debug, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserEdit<'a> {
    pub display_name: &'a str,
    pub email: Option<Option<&'a str>>,
    pub roles: Vec<String>,
    pub active: bool,
}

pub fn update(conn: &mut PgConnection, id: i64, edit: &UserEdit) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((edit, users::updated_at.eq(diesel::dsl::now)))
        .execute(conn)
}

pub fn names(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::display_name))
        .load(conn)
}

/// An administrator's edit of an account's details; leaves `active` and the password alone.
pub fn update_details(
    conn: &mut PgConnection,
    id: i64,
    display_name: &str,
    email: Option<&str>,
    roles: Vec<String>,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((
            users::display_name.eq(display_name),
            users::email.eq(email),
            users::roles.eq(roles),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
}

/// Deactivate or reactivate an account. `CurrentUser` checks `active` on every request, so a
/// deactivated user's sessions end on their next request.
pub fn set_active(conn: &mut PgConnection, id: i64, active: bool) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((
            users::active.eq(active),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
}
