//! The sign-in log: every success, failure and lock-out, with the address it came from.
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::login_events;

pub fn record(
    conn: &mut PgConnection,
    username: &str,
    user_id: Option<i64>,
    outcome: &str,
    address: &str,
) -> QueryResult<usize> {
    diesel::insert_into(login_events::table)
        .values((
            login_events::username.eq(username),
            login_events::user_id.eq(user_id),
            login_events::outcome.eq(outcome),
            login_events::address.eq(address),
        ))
        .execute(conn)
}

/// Failures for this name since its last success, newest first (at most the last ten).
pub fn recent_failures(conn: &mut PgConnection, username: &str) -> QueryResult<Vec<DateTime<Utc>>> {
    let last_success: Option<DateTime<Utc>> = login_events::table
        .filter(login_events::username.eq(username))
        .filter(login_events::outcome.eq("success"))
        .select(diesel::dsl::max(login_events::at))
        .first(conn)?;
    let mut q = login_events::table
        .filter(login_events::username.eq(username))
        .filter(login_events::outcome.eq("failure"))
        .into_boxed();
    if let Some(t) = last_success {
        q = q.filter(login_events::at.gt(t));
    }
    q.order(login_events::at.desc())
        .select(login_events::at)
        .limit(10)
        .load(conn)
}

/// Failed sign-ins from an address since `since`, whatever the name.
pub fn failures_from(
    conn: &mut PgConnection,
    address: &str,
    since: DateTime<Utc>,
) -> QueryResult<i64> {
    login_events::table
        .filter(login_events::address.eq(address))
        .filter(login_events::outcome.eq("failure"))
        .filter(login_events::at.gt(since))
        .count()
        .get_result(conn)
}

#[derive(Debug, Queryable)]
pub struct LoginEvent {
    pub username: String,
    pub outcome: String,
    pub address: String,
    pub at: DateTime<Utc>,
}

/// The newest sign-in events, for the administrator.
pub fn latest(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<LoginEvent>> {
    login_events::table
        .order(login_events::id.desc())
        .select((
            login_events::username,
            login_events::outcome,
            login_events::address,
            login_events::at,
        ))
        .limit(limit)
        .load(conn)
}
