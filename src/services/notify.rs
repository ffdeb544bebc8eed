//! Notifications: who is told what at the key points of the process. Each is written in the
//! caller's transaction, with an e-mail in the outbox for recipients who have an address.
use diesel::prelude::*;

use crate::models::releases::Release;
use crate::paths;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};

use crate::schema::{group_members, notifications, tasks, watchers};

/// One notification, the same for every recipient.
#[derive(Debug, Clone)]
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
    /// Migration 000025: notes `i` to the recipients whose `note_of` is `i` (1-based), each
    /// active one notified and mailed when they have an address, in one statement.
    fn notify_notes(
        recipients: Array<BigInt>,
        note_of: Array<Integer>,
        about: Array<Nullable<BigInt>>,
        note_kind: Array<Text>,
        note_subject: Array<Text>,
        note_body: Array<Text>,
        note_link: Array<Text>,
    ) -> Integer;
}

/// Notes collected while a change is made, sent together at its end (one statement).
#[derive(Default)]
pub struct Outbox {
    notes: Vec<(Vec<i64>, Note)>,
}

impl Outbox {
    /// Tell `recipients` (never the actor who caused it; each person once).
    pub fn add(&mut self, recipients: &[i64], actor: Option<i64>, note: Note) {
        let mut ids: Vec<i64> = recipients
            .iter()
            .copied()
            .filter(|id| Some(*id) != actor)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if !ids.is_empty() {
            self.notes.push((ids, note));
        }
    }

    /// Send every note; answers how many people were notified (active users only).
    pub fn send(self, conn: &mut PgConnection) -> QueryResult<usize> {
        if self.notes.is_empty() {
            return Ok(0);
        }
        let (mut recipients, mut note_of) = (Vec::new(), Vec::new());
        let (mut about, mut kind, mut subject, mut body, mut link) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, (ids, n)) in self.notes.into_iter().enumerate() {
            note_of.extend(std::iter::repeat_n(i as i32 + 1, ids.len()));
            recipients.extend(ids);
            about.push(n.release_id);
            kind.push(n.kind);
            subject.push(n.subject);
            body.push(n.body);
            link.push(n.link);
        }
        let sent: i32 = diesel::select(notify_notes(
            recipients, note_of, about, kind, subject, body, link,
        ))
        .get_result(conn)?;
        Ok(sent as usize)
    }
}

/// Tell `recipients` (never the actor who caused it; each person once; active users only).
pub fn send(
    conn: &mut PgConnection,
    recipients: &[i64],
    actor: Option<i64>,
    note: &Note,
) -> QueryResult<usize> {
    let mut out = Outbox::default();
    out.add(recipients, actor, note.clone());
    out.send(conn)
}

/// The people a record concerns: registrant, coordinator, manager, task assignees, watchers.
pub fn involved(conn: &mut PgConnection, r: &Release) -> QueryResult<Vec<i64>> {
    let mut ids = vec![r.registered_by];
    ids.extend(r.coordinator_id);
    ids.extend(r.manager_id);
    ids.extend(
        tasks::table
            .filter(tasks::release_id.eq(r.id))
            .select(tasks::assignee_id)
            .load::<Option<i64>>(conn)?
            .into_iter()
            .flatten(),
    );
    ids.extend(watchers_of(conn, r.id)?);
    Ok(ids)
}

pub fn watchers_of(conn: &mut PgConnection, release_id: i64) -> QueryResult<Vec<i64>> {
    watchers::table
        .filter(watchers::release_id.eq(release_id))
        .select(watchers::user_id)
        .load(conn)
}

/// Every active release manager.
pub fn managers(conn: &mut PgConnection) -> QueryResult<Vec<i64>> {
    Ok(crate::models::users::active_with_role(conn, "manager")?
        .into_iter()
        .map(|(id, _)| id)
        .collect())
}

/// The assignee of a task, or the members of its group.
pub fn task_people(
    conn: &mut PgConnection,
    assignee: Option<i64>,
    group: Option<i64>,
) -> QueryResult<Vec<i64>> {
    match (assignee, group) {
        (Some(a), _) => Ok(vec![a]),
        (None, Some(g)) => group_members::table
            .filter(group_members::group_id.eq(g))
            .select(group_members::user_id)
            .load(conn),
        _ => Ok(Vec::new()),
    }
}

pub fn watch(
    conn: &mut PgConnection,
    release_id: i64,
    user_id: i64,
    on: bool,
) -> QueryResult<usize> {
    if on {
        diesel::insert_into(watchers::table)
            .values((
                watchers::release_id.eq(release_id),
                watchers::user_id.eq(user_id),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
    } else {
        diesel::delete(
            watchers::table
                .filter(watchers::release_id.eq(release_id))
                .filter(watchers::user_id.eq(user_id)),
        )
        .execute(conn)
    }
}

pub fn unread_count(conn: &mut PgConnection, user_id: i64) -> QueryResult<i64> {
    notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::read_at.is_null())
        .count()
        .get_result(conn)
}
