//! Groups (CAB, ECAB, assignment groups) and their members.
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::{group_members, groups, users};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = groups)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<Group>> {
    groups::table
        .order(groups::name)
        .select(Group::as_select())
        .load(conn)
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Group> {
    groups::table
        .find(id)
        .select(Group::as_select())
        .first(conn)
}

pub fn create(conn: &mut PgConnection, name: &str, description: &str) -> QueryResult<Group> {
    diesel::insert_into(groups::table)
        .values((groups::name.eq(name), groups::description.eq(description)))
        .returning(Group::as_returning())
        .get_result(conn)
}

pub fn name_taken(conn: &mut PgConnection, name: &str) -> QueryResult<bool> {
    use diesel::dsl::{exists, select};
    select(exists(
        groups::table.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(name) = lower(")
                .bind::<diesel::sql_types::Text, _>(name)
                .sql(")"),
        ),
    ))
    .get_result(conn)
}

/// Members of a group: (user id, username, display name, active).
pub fn members(
    conn: &mut PgConnection,
    group_id: i64,
) -> QueryResult<Vec<(i64, String, String, bool)>> {
    group_members::table
        .inner_join(users::table)
        .filter(group_members::group_id.eq(group_id))
        .order(users::display_name)
        .select((
            users::id,
            users::username,
            users::display_name,
            users::active,
        ))
        .load(conn)
}

pub fn member_counts(conn: &mut PgConnection) -> QueryResult<Vec<(i64, i64)>> {
    group_members::table
        .group_by(group_members::group_id)
        .select((group_members::group_id, diesel::dsl::count_star()))
        .load(conn)
}

pub fn add_member(conn: &mut PgConnection, group_id: i64, user_id: i64) -> QueryResult<usize> {
    diesel::insert_into(group_members::table)
        .values((
            group_members::group_id.eq(group_id),
            group_members::user_id.eq(user_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
}

pub fn remove_member(conn: &mut PgConnection, group_id: i64, user_id: i64) -> QueryResult<usize> {
    diesel::delete(
        group_members::table
            .filter(group_members::group_id.eq(group_id))
            .filter(group_members::user_id.eq(user_id)),
    )
    .execute(conn)
}

/// Ids of the groups a user belongs to.
pub fn of_user(conn: &mut PgConnection, user_id: i64) -> QueryResult<Vec<i64>> {
    group_members::table
        .filter(group_members::user_id.eq(user_id))
        .select(group_members::group_id)
        .load(conn)
}

/// Replace a user's memberships with exactly `group_ids`.
pub fn set_user_groups(
    conn: &mut PgConnection,
    user_id: i64,
    group_ids: &[i64],
) -> QueryResult<()> {
    diesel::delete(group_members::table.filter(group_members::user_id.eq(user_id)))
        .execute(conn)?;
    for g in group_ids {
        add_member(conn, *g, user_id)?;
    }
    Ok(())
}

/// Every membership as (user id, group id), for the user list (one query, not one per user).
pub fn memberships(conn: &mut PgConnection) -> QueryResult<Vec<(i64, i64)>> {
    group_members::table
        .select((group_members::user_id, group_members::group_id))
        .load(conn)
}

/// Which of `ids` are groups that exist.
pub fn existing_ids(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
    groups::table
        .filter(groups::id.eq_any(ids))
        .select(groups::id)
        .load(conn)
}

pub fn is_member(conn: &mut PgConnection, group_id: i64, user_id: i64) -> QueryResult<bool> {
    use diesel::dsl::{exists, select};
    select(exists(
        group_members::table
            .filter(group_members::group_id.eq(group_id))
            .filter(group_members::user_id.eq(user_id)),
    ))
    .get_result(conn)
}

/// Active users who are not members of the group: (user id, username, display name).
pub fn active_non_members(
    conn: &mut PgConnection,
    group_id: i64,
) -> QueryResult<Vec<(i64, String, String)>> {
    let members = group_members::table
        .filter(group_members::group_id.eq(group_id))
        .select(group_members::user_id);
    users::table
        .filter(users::active.eq(true))
        .filter(diesel::dsl::not(users::id.eq_any(members)))
        .order(users::display_name)
        .select((users::id, users::username, users::display_name))
        .load(conn)
}
