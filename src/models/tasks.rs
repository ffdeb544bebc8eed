//! Tasks of a release, each in one of its phases.
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::{group_members, phases, releases, tasks};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = tasks)]
pub struct Task {
    pub id: i64,
    pub release_id: i64,
    pub phase_id: i64,
    pub title: String,
    pub description: String,
    pub assignee_id: Option<i64>,
    pub group_id: Option<i64>,
    pub status: String,
    pub due_offset_hours: Option<i32>,
    pub due_at: Option<DateTime<Utc>>,
    pub completed_by: Option<i64>,
    pub completed_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Who started it (kept when it is reopened: they worked on it).
    pub started_by: Option<i64>,
    /// Why the record's move cancelled it ("release abandoned"); empty otherwise.
    pub cancel_reason: String,
}

impl Task {
    pub fn is_open(&self) -> bool {
        matches!(self.status.as_str(), "open" | "in_progress")
    }

    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.is_open() && self.due_at.is_some_and(|d| d < now)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = tasks)]
pub struct NewTask<'a> {
    pub release_id: i64,
    pub phase_id: i64,
    pub title: &'a str,
    pub description: &'a str,
    pub assignee_id: Option<i64>,
    pub group_id: Option<i64>,
    pub due_offset_hours: Option<i32>,
    pub due_at: Option<DateTime<Utc>>,
}

pub fn insert(conn: &mut PgConnection, t: &NewTask) -> QueryResult<Task> {
    diesel::insert_into(tasks::table)
        .values(t)
        .returning(Task::as_returning())
        .get_result(conn)
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Task> {
    tasks::table.find(id).select(Task::as_select()).first(conn)
}

pub fn find_for_update(conn: &mut PgConnection, id: i64) -> QueryResult<Task> {
    tasks::table
        .find(id)
        .select(Task::as_select())
        .for_update()
        .first(conn)
}

pub fn of_release(conn: &mut PgConnection, release_id: i64) -> QueryResult<Vec<Task>> {
    tasks::table
        .filter(tasks::release_id.eq(release_id))
        .order(tasks::id)
        .select(Task::as_select())
        .load(conn)
}

pub fn open_in_phase(conn: &mut PgConnection, release_id: i64, phase_id: i64) -> QueryResult<i64> {
    tasks::table
        .filter(tasks::release_id.eq(release_id))
        .filter(tasks::phase_id.eq(phase_id))
        .filter(tasks::status.eq_any(["open", "in_progress"]))
        .count()
        .get_result(conn)
}

/// An open task of a phase and whom it is for: its assignee, or else every member of its
/// group (a move reads them with its writes: `models::releases::record_transition`).
#[derive(Debug, serde::Deserialize)]
pub struct OpenTask {
    pub title: String,
    pub due_at: Option<DateTime<Utc>>,
    pub people: Vec<i64>,
}

/// The open tasks of a phase of a release, by id, with their people: one statement whatever
/// the number of tasks (a registration tells each of them; a move reads them with its writes,
/// the same way, in `record_transition`).
pub fn open_in_phase_with_people(
    conn: &mut PgConnection,
    release_id: i64,
    phase_id: i64,
) -> QueryResult<Vec<OpenTask>> {
    // (task, title, due, assignee, a member of its group when it has no assignee)
    type Row = (i64, String, Option<DateTime<Utc>>, Option<i64>, Option<i64>);
    let rows: Vec<Row> = tasks::table
        .left_join(
            group_members::table.on(tasks::assignee_id
                .is_null()
                .and(tasks::group_id.eq(group_members::group_id.nullable()))),
        )
        .filter(tasks::release_id.eq(release_id))
        .filter(tasks::phase_id.eq(phase_id))
        .filter(tasks::status.eq_any(["open", "in_progress"]))
        .order((tasks::id, group_members::user_id))
        .select((
            tasks::id,
            tasks::title,
            tasks::due_at,
            tasks::assignee_id,
            group_members::user_id.nullable(),
        ))
        .load(conn)?;
    let mut out: Vec<OpenTask> = Vec::new();
    let mut last = None;
    for (id, title, due_at, assignee, member) in rows {
        if last != Some(id) {
            last = Some(id);
            out.push(OpenTask {
                title,
                due_at,
                people: assignee.into_iter().collect(),
            });
        }
        if let (Some(m), Some(t)) = (member, out.last_mut()) {
            t.people.push(m);
        }
    }
    Ok(out)
}

/// A task a record's move settled: (id, title, assignee, group).
pub type Settled = (i64, String, Option<i64>, Option<i64>);

/// Cancel the open tasks of a record (of one phase when `phase_id` is given) because of its
/// move, saying why (`""`: a phase skipped), in one statement; in the order they were added.
pub fn settle_open(
    conn: &mut PgConnection,
    release_id: i64,
    phase_id: Option<i64>,
    reason: &str,
) -> QueryResult<Vec<Settled>> {
    let open = tasks::release_id
        .eq(release_id)
        .and(tasks::status.eq_any(["open", "in_progress"]));
    let set = (
        tasks::status.eq("cancelled"),
        tasks::cancel_reason.eq(reason),
        tasks::updated_at.eq(Utc::now()),
        tasks::version.eq(tasks::version + 1),
    );
    let returning = (tasks::id, tasks::title, tasks::assignee_id, tasks::group_id);
    let mut settled: Vec<Settled> = match phase_id {
        Some(p) => diesel::update(tasks::table.filter(open.and(tasks::phase_id.eq(p))))
            .set(set)
            .returning(returning)
            .get_results(conn)?,
        None => diesel::update(tasks::table.filter(open))
            .set(set)
            .returning(returning)
            .get_results(conn)?,
    };
    settled.sort_by_key(|t| t.0);
    Ok(settled)
}

/// A row of "My tasks": the task with its release's number, title and current phase.
#[derive(Debug, Clone, Queryable)]
pub struct MyTask {
    pub id: i64,
    pub title: String,
    pub status: String,
    pub due_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub release_number: i64,
    pub release_kind: String,
    pub release_title: String,
    pub phase_name: String,
    pub assignee_id: Option<i64>,
    pub group_id: Option<i64>,
}

/// Open tasks of active releases assigned to the user or one of their groups, that are due:
/// in their release's current phase or with a due date. Overdue first, then by due date.
pub fn open_for_user(
    conn: &mut PgConnection,
    user_id: i64,
    limit: i64,
) -> QueryResult<Vec<MyTask>> {
    let my_groups = group_members::table
        .filter(group_members::user_id.eq(user_id))
        .select(group_members::group_id.nullable());
    tasks::table
        .inner_join(releases::table)
        .inner_join(phases::table)
        .filter(tasks::status.eq_any(["open", "in_progress"]))
        .filter(releases::state.eq("active"))
        .filter(
            tasks::assignee_id
                .eq(user_id)
                .or(tasks::group_id.eq_any(my_groups)),
        )
        .filter(
            tasks::phase_id
                .eq(releases::phase_id)
                .or(tasks::due_at.is_not_null()),
        )
        .order((tasks::due_at.asc().nulls_last(), tasks::id))
        .select((
            tasks::id,
            tasks::title,
            tasks::status,
            tasks::due_at,
            tasks::version,
            releases::number,
            releases::kind,
            releases::title,
            phases::name,
            tasks::assignee_id,
            tasks::group_id,
        ))
        .limit(limit)
        .load(conn)
}

#[derive(Debug, AsChangeset)]
#[diesel(table_name = tasks, treat_none_as_null = true)]
pub struct TaskEdit {
    pub phase_id: i64,
    pub title: String,
    pub description: String,
    pub assignee_id: Option<i64>,
    pub group_id: Option<i64>,
    pub due_at: Option<DateTime<Utc>>,
    pub status: String,
    pub completed_by: Option<i64>,
    pub completed_at: Option<DateTime<Utc>>,
    pub started_by: Option<i64>,
    pub cancel_reason: String,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

pub fn update(conn: &mut PgConnection, id: i64, edit: &TaskEdit) -> QueryResult<usize> {
    diesel::update(tasks::table.find(id))
        .set(edit)
        .execute(conn)
}
