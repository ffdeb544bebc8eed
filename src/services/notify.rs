//! Notifications: who is told what at the key points of the process. Each is written in the
//! caller's transaction, with an e-mail in the outbox for recipients who have an address.
use diesel::prelude::*;

use crate::models::releases::Release;
use crate::paths;
use diesel::sql_types::{Array, BigInt, Nullable, Text};

use crate::schema::{group_members, notifications, tasks, watchers};

/// One notification, the same for every recipient.
pub struct Note {
    pub kind: &'static str,
    pub subject: String,
    pub body: String,
    pub link: String,
    pub release_id: Option<i64>,
}

impl Note {
    /// A note about a record, linking to it; the subject starts with its number.
    pub fn about(r: &Release, kind: &'static str, what: &str, body: impl Into<String>) -> Note {
        let number = paths::record_number(&r.kind, r.number);
        Note {
            kind,
            subject: format!("{number} {}: {what}", r.title),
            body: body.into(),
            link: paths::record(&r.kind, r.number),
            release_id: Some(r.id),
        }
    }
}

diesel::define_sql_function! {
    /// Migration 000021: a notification to each active recipient and an e-mail for each with
    /// an address, in one statement; answers how many were notified.
    fn notify_people(
        recipients: Array<BigInt>,
        about: Nullable<BigInt>,
        note_kind: Text,
        note_subject: Text,
        note_body: Text,
        note_link: Text,
    ) -> Integer;
}

/// Tell `recipients` (never the actor who caused it; each person once; active users only).
pub fn send(conn: &mut PgConnection, recipients: &[i64], actor: Option<i64>, note: &Note) -> QueryResult<usize> {
    let mut ids: Vec<i64> = recipients.iter().copied().filter(|id| Some(*id) != actor).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(0);
    }
    let sent: i32 = diesel::select(notify_people(ids, note.release_id, note.kind, &note.subject, &note.body, &note.link)).get_result(conn)?;
    Ok(sent as usize)
}

/// The people a record concerns: registrant, coordinator, manager, task assignees, watchers.
pub fn involved(conn: &mut PgConnection, r: &Release) -> QueryResult<Vec<i64>> {
    let mut ids = vec![r.registered_by];
    ids.extend(r.coordinator_id);
    ids.extend(r.manager_id);
    ids.extend(tasks::table.filter(tasks::release_id.eq(r.id)).select(tasks::assignee_id).load::<Option<i64>>(conn)?.into_iter().flatten());
    ids.extend(watchers_of(conn, r.id)?);
    Ok(ids)
}

pub fn watchers_of(conn: &mut PgConnection, release_id: i64) -> QueryResult<Vec<i64>> {
    watchers::table.filter(watchers::release_id.eq(release_id)).select(watchers::user_id).load(conn)
}

/// Every active release manager.
pub fn managers(conn: &mut PgConnection) -> QueryResult<Vec<i64>> {
    Ok(crate::models::users::active_with_role(conn, "manager")?.into_iter().map(|(id, _)| id).collect())
}

/// The assignee of a task, or the members of its group.
pub fn task_people(conn: &mut PgConnection, assignee: Option<i64>, group: Option<i64>) -> QueryResult<Vec<i64>> {
    match (assignee, group) {
        (Some(a), _) => Ok(vec![a]),
        (None, Some(g)) => group_members::table.filter(group_members::group_id.eq(g)).select(group_members::user_id).load(conn),
        _ => Ok(Vec::new()),
    }
}

pub fn watch(conn: &mut PgConnection, release_id: i64, user_id: i64, on: bool) -> QueryResult<usize> {
    if on {
        diesel::insert_into(watchers::table)
            .values((watchers::release_id.eq(release_id), watchers::user_id.eq(user_id)))
            .on_conflict_do_nothing()
            .execute(conn)
    } else {
        diesel::delete(watchers::table.filter(watchers::release_id.eq(release_id)).filter(watchers::user_id.eq(user_id))).execute(conn)
    }
}

pub fn unread_count(conn: &mut PgConnection, user_id: i64) -> QueryResult<i64> {
    notifications::table.filter(notifications::user_id.eq(user_id)).filter(notifications::read_at.is_null()).count().get_result(conn)
}
