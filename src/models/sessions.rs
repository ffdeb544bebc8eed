//! Signed-in sessions: a row per sign-in, found again on every request and deleted on
//! sign-out, so a copied session cookie stops working when its owner signs out.
use diesel::prelude::*;

use crate::models::users::User;
use crate::schema::{user_sessions, users};

/// A session row is kept at most this long, however active (sign in again after a week).
pub const MAX_AGE_DAYS: i64 = 7;

/// Record a new session for the user, clearing their sessions too old to be used.
pub fn open(conn: &mut PgConnection, user_id: i64, id: &str) -> QueryResult<()> {
    let too_old = chrono::Utc::now() - chrono::Duration::days(MAX_AGE_DAYS);
    diesel::delete(
        user_sessions::table
            .filter(user_sessions::user_id.eq(user_id))
            .filter(user_sessions::created_at.lt(too_old)),
    )
    .execute(conn)?;
    diesel::insert_into(user_sessions::table)
        .values((user_sessions::id.eq(id), user_sessions::user_id.eq(user_id)))
        .execute(conn)?;
    Ok(())
}

/// The user of a live session, with the database's count of writes (`relman_writes`, see
/// `kept`) read in the same statement: `None` when the session was closed, is too old, or is
/// not theirs.
pub fn user_of(
    conn: &mut PgConnection,
    user_id: i64,
    id: &str,
) -> QueryResult<Option<(User, i64)>> {
    let too_old = chrono::Utc::now() - chrono::Duration::days(MAX_AGE_DAYS);
    users::table
        .inner_join(user_sessions::table)
        .filter(users::id.eq(user_id))
        .filter(user_sessions::id.eq(id))
        .filter(user_sessions::created_at.ge(too_old))
        .select((User::as_select(), crate::kept::relman_writes_seen()))
        .first(conn)
        .optional()
}

pub fn close(conn: &mut PgConnection, id: &str) -> QueryResult<usize> {
    diesel::delete(user_sessions::table.find(id)).execute(conn)
}

/// End every other session of the user (after a password change).
pub fn close_others(conn: &mut PgConnection, user_id: i64, keep: &str) -> QueryResult<usize> {
    diesel::delete(
        user_sessions::table
            .filter(user_sessions::user_id.eq(user_id))
            .filter(user_sessions::id.ne(keep)),
    )
    .execute(conn)
}
