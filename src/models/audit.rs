//! The audit of administrative actions (append-only).
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::{admin_audit, users};

pub fn record(
    conn: &mut PgConnection,
    actor: i64,
    action: &str,
    address: &str,
) -> QueryResult<usize> {
    diesel::insert_into(admin_audit::table)
        .values((
            admin_audit::actor_id.eq(actor),
            admin_audit::action.eq(action),
            admin_audit::address.eq(address),
        ))
        .execute(conn)
}

/// The newest entries: (when, who, action, address).
pub fn latest(
    conn: &mut PgConnection,
    limit: i64,
) -> QueryResult<Vec<(DateTime<Utc>, Option<String>, String, String)>> {
    admin_audit::table
        .left_join(users::table.on(users::id.nullable().eq(admin_audit::actor_id)))
        .order(admin_audit::id.desc())
        .limit(limit)
        .select((
            admin_audit::at,
            users::username.nullable(),
            admin_audit::action,
            admin_audit::address,
        ))
        .load(conn)
}
