//! The append-only history: events with actor and time, and field changes as old → new.
//! Nothing here updates or deletes (and the database refuses it).
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::{history_events, history_field_changes, users};

pub struct NewEvent<'a> {
    pub release_id: i64,
    pub actor_id: Option<i64>,
    pub record_version: i32,
    pub kind: &'a str,
    pub summary: &'a str,
    pub from_phase_id: Option<i64>,
    pub to_phase_id: Option<i64>,
    pub reason: Option<&'a str>,
}

/// One field's change: (field key, old value, new value), as people read them.
pub type FieldChange = (String, String, String);

pub fn record(conn: &mut PgConnection, e: &NewEvent, changes: &[FieldChange]) -> QueryResult<i64> {
    // One writer per record at a time, so its chain never forks.
    crate::schema::releases::table
        .find(e.release_id)
        .select(crate::schema::releases::id)
        .for_update()
        .first::<i64>(conn)?;
    record_locked(conn, e, changes)
}

diesel::define_sql_function! {
    /// Migration 000026: the last hash of a record's history chain, "" when it has none. Every
    /// append reads it with this, in a statement run after the record's row lock is held
    /// (`record_locked`, `models::releases::with_details_for_update`).
    fn history_last_hash(rec: diesel::sql_types::BigInt) -> diesel::sql_types::Text;
}

/// `record` for a caller that holds the record's row lock already (taken in this transaction).
pub fn record_locked(
    conn: &mut PgConnection,
    e: &NewEvent,
    changes: &[FieldChange],
) -> QueryResult<i64> {
    let prev: String = diesel::select(history_last_hash(e.release_id)).get_result(conn)?;
    record_after(conn, &prev, e, changes)
}

/// The present moment to the microsecond, as PostgreSQL keeps it, so an event's hash
/// recomputes from its stored row.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).expect("now is representable")
}

/// The hash of event `e` at `at`, chained onto `prev` (the record's last hash, or "").
pub fn seal(prev: &str, e: &NewEvent, at: DateTime<Utc>, changes: &[FieldChange]) -> String {
    crate::domain::chain::hash(
        prev,
        &crate::domain::chain::EventContent {
            release_id: e.release_id,
            actor_id: e.actor_id,
            at,
            record_version: e.record_version,
            kind: e.kind,
            summary: e.summary,
            from_phase_id: e.from_phase_id,
            to_phase_id: e.to_phase_id,
            reason: e.reason,
            changes,
        },
    )
}

/// `record_locked` for a caller that read the chain's last hash `prev` under the lock
/// (`models::releases::with_details_for_update`).
pub fn record_after(
    conn: &mut PgConnection,
    prev: &str,
    e: &NewEvent,
    changes: &[FieldChange],
) -> QueryResult<i64> {
    let at = now();
    let hash = seal(prev, e, at, changes);
    let id: i64 = diesel::insert_into(history_events::table)
        .values((
            history_events::at.eq(at),
            history_events::prev_hash.eq(prev),
            history_events::hash.eq(&hash),
            history_events::release_id.eq(e.release_id),
            history_events::actor_id.eq(e.actor_id),
            history_events::record_version.eq(e.record_version),
            history_events::kind.eq(e.kind),
            history_events::summary.eq(e.summary),
            history_events::from_phase_id.eq(e.from_phase_id),
            history_events::to_phase_id.eq(e.to_phase_id),
            history_events::reason.eq(e.reason),
        ))
        .returning(history_events::id)
        .get_result(conn)?;
    if !changes.is_empty() {
        let rows: Vec<_> = changes
            .iter()
            .map(|(f, o, n)| {
                (
                    history_field_changes::event_id.eq(id),
                    history_field_changes::field.eq(f.as_str()),
                    history_field_changes::old_value.eq(o.as_str()),
                    history_field_changes::new_value.eq(n.as_str()),
                )
            })
            .collect();
        diesel::insert_into(history_field_changes::table)
            .values(&rows)
            .execute(conn)?;
    }
    Ok(id)
}

#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<String>,
    pub record_version: i32,
    pub kind: String,
    pub summary: String,
    pub from_phase_id: Option<i64>,
    pub to_phase_id: Option<i64>,
    pub reason: Option<String>,
    pub changes: Vec<FieldChange>,
}

/// A release's history, oldest first, optionally only events after a version (two queries).
pub fn of_release(
    conn: &mut PgConnection,
    release_id: i64,
    after_version: Option<i32>,
) -> QueryResult<Vec<Event>> {
    type Row = (
        i64,
        DateTime<Utc>,
        Option<String>,
        i32,
        String,
        String,
        Option<i64>,
        Option<i64>,
        Option<String>,
    );
    let mut q = history_events::table
        .left_join(users::table.on(users::id.nullable().eq(history_events::actor_id)))
        .filter(history_events::release_id.eq(release_id))
        .into_boxed();
    if let Some(v) = after_version {
        q = q.filter(history_events::record_version.gt(v));
    }
    let rows: Vec<Row> = q
        .order(history_events::id)
        .select((
            history_events::id,
            history_events::at,
            users::display_name.nullable(),
            history_events::record_version,
            history_events::kind,
            history_events::summary,
            history_events::from_phase_id,
            history_events::to_phase_id,
            history_events::reason,
        ))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let changes: Vec<(i64, String, String, String)> = history_field_changes::table
        .filter(history_field_changes::event_id.eq_any(&ids))
        .order(history_field_changes::id)
        .select((
            history_field_changes::event_id,
            history_field_changes::field,
            history_field_changes::old_value,
            history_field_changes::new_value,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, at, actor, record_version, kind, summary, from_phase_id, to_phase_id, reason)| {
                Event {
                    id,
                    at,
                    actor,
                    record_version,
                    kind,
                    summary,
                    from_phase_id,
                    to_phase_id,
                    reason,
                    changes: changes
                        .iter()
                        .filter(|c| c.0 == id)
                        .map(|c| (c.1.clone(), c.2.clone(), c.3.clone()))
                        .collect(),
                }
            },
        )
        .collect())
}

/// The first broken link of every record's chain: (record id, event id, what is wrong).
/// Reads the whole history once, in record order.
pub fn verify(conn: &mut PgConnection) -> QueryResult<(usize, Vec<(i64, i64, String)>)> {
    type Row = (
        i64,
        Option<i64>,
        Option<i64>,
        DateTime<Utc>,
        i32,
        String,
        String,
        Option<i64>,
        Option<i64>,
        Option<String>,
        String,
        String,
    );
    let mut broken = Vec::new();
    let mut checked = 0;
    let mut after: (i64, i64) = (i64::MIN, i64::MIN);
    loop {
        let rows: Vec<Row> = history_events::table
            .filter(history_events::release_id.is_not_null())
            .filter(
                history_events::release_id.assume_not_null().gt(after.0).or(
                    history_events::release_id
                        .assume_not_null()
                        .eq(after.0)
                        .and(history_events::id.gt(after.1)),
                ),
            )
            .order((history_events::release_id, history_events::id))
            .limit(5000)
            .select((
                history_events::id,
                history_events::release_id,
                history_events::actor_id,
                history_events::at,
                history_events::record_version,
                history_events::kind,
                history_events::summary,
                history_events::from_phase_id,
                history_events::to_phase_id,
                history_events::reason,
                history_events::prev_hash,
                history_events::hash,
            ))
            .load(conn)?;
        if rows.is_empty() {
            break;
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let changes: Vec<(i64, String, String, String)> = history_field_changes::table
            .filter(history_field_changes::event_id.eq_any(&ids))
            .order(history_field_changes::id)
            .select((
                history_field_changes::event_id,
                history_field_changes::field,
                history_field_changes::old_value,
                history_field_changes::new_value,
            ))
            .load(conn)?;
        // The previous hash of the first record in this batch continues from the last batch.
        let mut prev_by_record: Option<(i64, String)> = None;
        if after.0 != i64::MIN {
            let last: Option<String> = history_events::table
                .filter(history_events::id.eq(after.1))
                .select(history_events::hash)
                .first(conn)
                .optional()?;
            prev_by_record = last.map(|h| (after.0, h));
        }
        for (id, rid, actor, at, version, kind, summary, from, to, reason, prev_hash, hash) in &rows
        {
            let rid = rid.unwrap_or_default();
            checked += 1;
            let expected_prev = match &prev_by_record {
                Some((r, h)) if *r == rid => h.clone(),
                _ => String::new(),
            };
            let mine: Vec<(String, String, String)> = changes
                .iter()
                .filter(|c| c.0 == *id)
                .map(|c| (c.1.clone(), c.2.clone(), c.3.clone()))
                .collect();
            let computed = crate::domain::chain::hash(
                prev_hash,
                &crate::domain::chain::EventContent {
                    release_id: rid,
                    actor_id: *actor,
                    at: *at,
                    record_version: *version,
                    kind,
                    summary,
                    from_phase_id: *from,
                    to_phase_id: *to,
                    reason: reason.as_deref(),
                    changes: &mine,
                },
            );
            let already = broken
                .last()
                .is_some_and(|(r, _, _): &(i64, i64, String)| *r == rid);
            if !already {
                if *prev_hash != expected_prev {
                    broken.push((rid, *id, "its link to the previous event does not match (an event was removed or changed)".to_string()));
                } else if computed != *hash {
                    broken.push((
                        rid,
                        *id,
                        "its content does not match its hash (the event was edited)".to_string(),
                    ));
                }
            }
            prev_by_record = Some((rid, hash.clone()));
            after = (rid, *id);
        }
    }
    Ok((checked, broken))
}
