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
    let id: i64 = diesel::insert_into(history_events::table)
        .values((
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
        diesel::insert_into(history_field_changes::table).values(&rows).execute(conn)?;
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
pub fn of_release(conn: &mut PgConnection, release_id: i64, after_version: Option<i32>) -> QueryResult<Vec<Event>> {
    type Row = (i64, DateTime<Utc>, Option<String>, i32, String, String, Option<i64>, Option<i64>, Option<String>);
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
        .map(|(id, at, actor, record_version, kind, summary, from_phase_id, to_phase_id, reason)| Event {
            id,
            at,
            actor,
            record_version,
            kind,
            summary,
            from_phase_id,
            to_phase_id,
            reason,
            changes: changes.iter().filter(|c| c.0 == id).map(|c| (c.1.clone(), c.2.clone(), c.3.clone())).collect(),
        })
        .collect())
}
