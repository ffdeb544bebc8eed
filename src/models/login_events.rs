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

/// When the name's failures stop counting: its last successful sign-in (from `address` only,
/// when given) or its last unlock (`relman user unlock`), whichever is later.
fn last_reset(
    conn: &mut PgConnection,
    username: &str,
    address: Option<&str>,
) -> QueryResult<Option<DateTime<Utc>>> {
    let mut q = login_events::table
        .filter(login_events::username.eq(username))
        .into_boxed();
    q = match address {
        Some(a) => q.filter(
            login_events::outcome
                .eq("unlocked")
                .or(login_events::outcome
                    .eq("success")
                    .and(login_events::address.eq(a.to_string()))),
        ),
        None => q.filter(login_events::outcome.eq_any(["success", "unlocked"])),
    };
    q.select(diesel::dsl::max(login_events::at)).first(conn)
}

/// Failures for this name (from `address` only, when given) since the failures last stopped
/// counting (`last_reset`), newest first (at most the last ten).
fn failures_since_reset(
    conn: &mut PgConnection,
    username: &str,
    address: Option<&str>,
) -> QueryResult<Vec<DateTime<Utc>>> {
    let reset = last_reset(conn, username, address)?;
    let mut q = login_events::table
        .filter(login_events::username.eq(username))
        .filter(login_events::outcome.eq("failure"))
        .into_boxed();
    if let Some(a) = address {
        q = q.filter(login_events::address.eq(a.to_string()));
    }
    if let Some(t) = reset {
        q = q.filter(login_events::at.gt(t));
    }
    q.order(login_events::at.desc())
        .select(login_events::at)
        .limit(10)
        .load(conn)
}

/// Failures for this name from any address since its last success or unlock, newest first
/// (at most the last ten): what slows its sign-ins down.
pub fn recent_failures(conn: &mut PgConnection, username: &str) -> QueryResult<Vec<DateTime<Utc>>> {
    failures_since_reset(conn, username, None)
}

/// Failures for this name from this address since the last success from there or the name's
/// unlock, newest first (at most the last ten): what locks the address out of the name.
pub fn recent_failures_from(
    conn: &mut PgConnection,
    username: &str,
    address: &str,
) -> QueryResult<Vec<DateTime<Utc>>> {
    failures_since_reset(conn, username, Some(address))
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

/// One name's failed sign-ins within a period, from one address: a row of the page that shows
/// administrators which accounts are being attacked.
#[derive(Debug, QueryableByName)]
pub struct FailureSummary {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub username: String,
    /// Whether an account has this name (attackers also try names that do not exist).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub known: bool,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub address: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub failures: i64,
    /// Failures for the name from every address together.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub name_failures: i64,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub last_at: DateTime<Utc>,
}

/// Failed sign-ins since `since`, per name and address, counting only those after the name's
/// last success or unlock: the names with the most failures first (at most `limit` rows).
pub fn failures_by_name_and_address(
    conn: &mut PgConnection,
    since: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<FailureSummary>> {
    diesel::sql_query(
        "WITH f0 AS ( \
             SELECT username, address, at FROM login_events \
             WHERE outcome = 'failure' AND at > $1 \
         ), reset AS ( \
             SELECT n.username, (SELECT max(e.at) FROM login_events e \
                 WHERE e.username = n.username AND e.outcome IN ('success', 'unlocked') \
                 AND e.at > $1) AS at \
             FROM (SELECT DISTINCT username FROM f0) n \
         ), f AS ( \
             SELECT f0.username, f0.address, count(*) AS failures, max(f0.at) AS last_at \
             FROM f0 JOIN reset r ON r.username = f0.username \
             WHERE r.at IS NULL OR f0.at > r.at \
             GROUP BY f0.username, f0.address \
         ) \
         SELECT f.username, EXISTS (SELECT 1 FROM users u WHERE u.username = f.username) AS known, \
                f.address, f.failures, \
                (sum(f.failures) OVER (PARTITION BY f.username))::BIGINT AS name_failures, \
                f.last_at \
         FROM f ORDER BY name_failures DESC, f.username, f.failures DESC, f.address \
         LIMIT $2",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(since)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
}
