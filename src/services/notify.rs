//! Notifications: who is told what at the key points of the process. Each is written in the
//! caller's transaction, with an e-mail in the outbox for recipients who have an address.
use diesel::prelude::*;

use crate::models::releases::Release;
use crate::paths;
use crate::schema::{group_members, mail_outbox, notifications, tasks, users, watchers};

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

/// Tell `recipients` (never the actor who caused it; each person once; active users only).
pub fn send(conn: &mut PgConnection, recipients: &[i64], actor: Option<i64>, note: &Note) -> QueryResult<usize> {
    let mut ids: Vec<i64> = recipients.iter().copied().filter(|id| Some(*id) != actor).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(0);
    }
    let people: Vec<(i64, Option<String>)> = users::table
        .filter(users::id.eq_any(&ids))
        .filter(users::active.eq(true))
        .select((users::id, users::email))
        .load(conn)?;
    for (uid, email) in &people {
        let nid: i64 = diesel::insert_into(notifications::table)
            .values((
                notifications::user_id.eq(uid),
                notifications::release_id.eq(note.release_id),
                notifications::kind.eq(note.kind),
                notifications::subject.eq(&note.subject),
                notifications::body.eq(&note.body),
                notifications::link.eq(&note.link),
            ))
            .returning(notifications::id)
            .get_result(conn)?;
        if let Some(to) = email.as_deref().filter(|e| !e.is_empty()) {
            diesel::insert_into(mail_outbox::table)
                .values((
                    mail_outbox::notification_id.eq(nid),
                    mail_outbox::to_address.eq(to),
                    mail_outbox::subject.eq(&note.subject),
                    mail_outbox::text_body.eq(&note.body),
                    mail_outbox::link.eq(&note.link),
                ))
                .execute(conn)?;
        }
    }
    Ok(people.len())
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
