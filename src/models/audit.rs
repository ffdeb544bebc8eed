//! The audit of administrative actions (append-only).
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::{admin_audit, users};

/// Record an administrative action; `own_access_change` says what it changed about the
/// actor's own roles or groups, when it did.
pub fn record(
    conn: &mut PgConnection,
    actor: i64,
    action: &str,
    address: &str,
    own_access_change: Option<&str>,
) -> QueryResult<usize> {
    diesel::insert_into(admin_audit::table)
        .values((
            admin_audit::actor_id.eq(actor),
            admin_audit::action.eq(action),
            admin_audit::address.eq(address),
            admin_audit::own_access_change.eq(own_access_change),
        ))
        .execute(conn)
}

#[derive(Debug, Queryable)]
pub struct Entry {
    pub at: DateTime<Utc>,
    /// The actor's user name (`None` when the account is gone).
    pub who: Option<String>,
    pub action: String,
    pub address: String,
    /// Set when the action changed the actor's own roles or groups: what changed.
    pub own_access_change: Option<String>,
}

/// The newest entries; only those that changed their actor's own roles or groups when
/// `own_access_only`.
pub fn latest(
    conn: &mut PgConnection,
    limit: i64,
    own_access_only: bool,
) -> QueryResult<Vec<Entry>> {
    let mut q = admin_audit::table
        .left_join(users::table.on(users::id.nullable().eq(admin_audit::actor_id)))
        .select((
            admin_audit::at,
            users::username.nullable(),
            admin_audit::action,
            admin_audit::address,
            admin_audit::own_access_change,
        ))
        .into_boxed();
    if own_access_only {
        q = q.filter(admin_audit::own_access_change.is_not_null());
    }
    q.order(admin_audit::id.desc()).limit(limit).load(conn)
}
