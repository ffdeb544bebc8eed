//! Approval requirements of phases, approvals with their cycles, votes, the log, delegations.
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use crate::schema::{
    approval_log, approval_votes, approvals, delegations, group_members, phase_approvals, users,
};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = phase_approvals)]
pub struct Requirement {
    pub phase_id: i64,
    pub group_id: i64,
    pub rule: String,
    pub quorum_count: Option<i32>,
    pub emergency_group_id: Option<i64>,
    pub emergency_rule: String,
    /// The members of a group a task is assigned to may approve (their group's own work).
    pub own_group_may_approve: bool,
}

pub fn requirement(conn: &mut PgConnection, phase_id: i64) -> QueryResult<Option<Requirement>> {
    phase_approvals::table
        .find(phase_id)
        .select(Requirement::as_select())
        .first(conn)
        .optional()
}

pub fn requirements_of(
    conn: &mut PgConnection,
    phase_ids: &[i64],
) -> QueryResult<Vec<Requirement>> {
    phase_approvals::table
        .filter(phase_approvals::phase_id.eq_any(phase_ids))
        .select(Requirement::as_select())
        .load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = approvals)]
pub struct Approval {
    pub id: i64,
    pub release_id: i64,
    pub phase_id: i64,
    pub group_id: i64,
    pub rule: String,
    pub quorum_count: Option<i32>,
    pub cycle: i32,
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Copied from the requirement when it was opened.
    pub own_group_may_approve: bool,
}

diesel::define_sql_function! {
    /// Migration 000035: an approval opened with its log entry, and the approvers its voters
    /// are chosen from.
    #[sql_name = "open_approval"]
    fn open_approval_sql(
        rec: diesel::sql_types::BigInt,
        in_phase: diesel::sql_types::BigInt,
        grp: diesel::sql_types::BigInt,
        approval_rule: diesel::sql_types::Text,
        quorum: diesel::sql_types::Nullable<diesel::sql_types::Integer>,
        actor: diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
        own_group: diesel::sql_types::Bool,
    ) -> diesel::sql_types::Record<(diesel::sql_types::BigInt, diesel::sql_types::Array<diesel::sql_types::BigInt>)>;
}

/// Open an approval of `release_id` in `phase_id` (cycle 1, logged as requested by `actor`):
/// its id and the active approvers of its group (by name).
pub fn open(
    conn: &mut PgConnection,
    release_id: i64,
    phase_id: i64,
    group_id: i64,
    rule: &str,
    quorum: Option<i32>,
    actor: Option<i64>,
    own_group_may_approve: bool,
) -> QueryResult<(i64, Vec<i64>)> {
    diesel::select(open_approval_sql(
        release_id,
        phase_id,
        group_id,
        rule,
        quorum,
        actor,
        own_group_may_approve,
    ))
    .get_result(conn)
}

pub fn find_for_update(conn: &mut PgConnection, id: i64) -> QueryResult<Approval> {
    approvals::table
        .find(id)
        .select(Approval::as_select())
        .for_update()
        .first(conn)
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Approval> {
    approvals::table
        .find(id)
        .select(Approval::as_select())
        .first(conn)
}

pub fn of_release(conn: &mut PgConnection, release_id: i64) -> QueryResult<Vec<Approval>> {
    approvals::table
        .filter(approvals::release_id.eq(release_id))
        .order(approvals::id.desc())
        .select(Approval::as_select())
        .load(conn)
}

/// The pending or denied approval of a record's phase, if any.
pub fn live(
    conn: &mut PgConnection,
    release_id: i64,
    phase_id: i64,
) -> QueryResult<Option<Approval>> {
    approvals::table
        .filter(approvals::release_id.eq(release_id))
        .filter(approvals::phase_id.eq(phase_id))
        .filter(approvals::status.eq_any(["pending", "denied"]))
        .select(Approval::as_select())
        .first(conn)
        .optional()
}

/// The newest approval of a record's phase (approved ones included).
pub fn latest(
    conn: &mut PgConnection,
    release_id: i64,
    phase_id: i64,
) -> QueryResult<Option<Approval>> {
    approvals::table
        .filter(approvals::release_id.eq(release_id))
        .filter(approvals::phase_id.eq(phase_id))
        .order(approvals::id.desc())
        .select(Approval::as_select())
        .first(conn)
        .optional()
}

pub fn set_status(
    conn: &mut PgConnection,
    id: i64,
    status: &str,
    decided: Option<DateTime<Utc>>,
) -> QueryResult<usize> {
    diesel::update(approvals::table.find(id))
        .set((
            approvals::status.eq(status),
            approvals::decided_at.eq(decided),
        ))
        .execute(conn)
}

pub fn new_cycle(conn: &mut PgConnection, id: i64, cycle: i32) -> QueryResult<usize> {
    diesel::update(approvals::table.find(id))
        .set((
            approvals::cycle.eq(cycle),
            approvals::status.eq("pending"),
            approvals::decided_at.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = approval_votes)]
pub struct Vote {
    pub id: i64,
    pub approval_id: i64,
    pub cycle: i32,
    pub voter_id: i64,
    pub cast_by: i64,
    pub decision: String,
    pub comment: String,
    pub at: DateTime<Utc>,
    /// The parts its voter played in the record when it was cast (`domain::approval::Part`).
    pub voter_parts: Vec<String>,
    /// Set when the vote was found void later in its round: the part its voter took.
    pub void_part: Option<String>,
}

/// Record a vote; `false` when this voter already voted in this cycle (nothing counted twice).
pub fn insert_vote(
    conn: &mut PgConnection,
    approval_id: i64,
    cycle: i32,
    voter: i64,
    cast_by: i64,
    decision: &str,
    comment: &str,
    voter_parts: &[&str],
) -> QueryResult<bool> {
    let n = diesel::insert_into(approval_votes::table)
        .values((
            approval_votes::approval_id.eq(approval_id),
            approval_votes::cycle.eq(cycle),
            approval_votes::voter_id.eq(voter),
            approval_votes::cast_by.eq(cast_by),
            approval_votes::decision.eq(decision),
            approval_votes::comment.eq(comment),
            approval_votes::voter_parts.eq(voter_parts),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(n == 1)
}

/// Mark a vote void for the rest of its round: its voter took `part` in the record.
pub fn void_vote(conn: &mut PgConnection, vote_id: i64, part: &str) -> QueryResult<usize> {
    diesel::update(
        approval_votes::table
            .find(vote_id)
            .filter(approval_votes::void_part.is_null()),
    )
    .set(approval_votes::void_part.eq(part))
    .execute(conn)
}

pub fn votes(conn: &mut PgConnection, approval_ids: &[i64]) -> QueryResult<Vec<Vote>> {
    approval_votes::table
        .filter(approval_votes::approval_id.eq_any(approval_ids))
        .order(approval_votes::id)
        .select(Vote::as_select())
        .load(conn)
}

pub fn log(
    conn: &mut PgConnection,
    approval_id: i64,
    cycle: i32,
    actor: Option<i64>,
    on_behalf_of: Option<i64>,
    action: &str,
    comment: &str,
) -> QueryResult<usize> {
    diesel::insert_into(approval_log::table)
        .values((
            approval_log::approval_id.eq(approval_id),
            approval_log::cycle.eq(cycle),
            approval_log::actor_id.eq(actor),
            approval_log::on_behalf_of_id.eq(on_behalf_of),
            approval_log::action.eq(action),
            approval_log::comment.eq(comment),
        ))
        .execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = approval_log)]
pub struct LogEntry {
    pub id: i64,
    pub approval_id: i64,
    pub cycle: i32,
    pub actor_id: Option<i64>,
    pub on_behalf_of_id: Option<i64>,
    pub action: String,
    pub comment: String,
    pub at: DateTime<Utc>,
}

pub fn log_of(conn: &mut PgConnection, approval_ids: &[i64]) -> QueryResult<Vec<LogEntry>> {
    approval_log::table
        .filter(approval_log::approval_id.eq_any(approval_ids))
        .order(approval_log::id)
        .select(LogEntry::as_select())
        .load(conn)
}

pub fn log_by_actor(conn: &mut PgConnection, actor: i64, limit: i64) -> QueryResult<Vec<LogEntry>> {
    approval_log::table
        .filter(approval_log::actor_id.eq(actor))
        .filter(approval_log::action.eq_any(["approve", "deny", "retract"]))
        .order(approval_log::id.desc())
        .limit(limit)
        .select(LogEntry::as_select())
        .load(conn)
}

/// Active members of a group holding the approver role: (id, display name).
pub fn group_approvers(conn: &mut PgConnection, group_id: i64) -> QueryResult<Vec<(i64, String)>> {
    group_members::table
        .inner_join(users::table)
        .filter(group_members::group_id.eq(group_id))
        .filter(users::active.eq(true))
        .filter(users::roles.contains(vec!["approver"]))
        .order(users::display_name)
        .select((users::id, users::display_name))
        .load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = delegations)]
pub struct Delegation {
    pub id: i64,
    pub delegator_id: i64,
    pub delegate_id: i64,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub created_at: DateTime<Utc>,
}

/// Who has delegated their approvals to `delegate` today.
pub fn delegators_of(
    conn: &mut PgConnection,
    delegate: i64,
    today: NaiveDate,
) -> QueryResult<Vec<i64>> {
    delegations::table
        .filter(delegations::delegate_id.eq(delegate))
        .filter(delegations::starts_on.le(today))
        .filter(delegations::ends_on.ge(today))
        .select(delegations::delegator_id)
        .distinct()
        .load(conn)
}

pub fn delegations_of(conn: &mut PgConnection, user: i64) -> QueryResult<Vec<Delegation>> {
    delegations::table
        .filter(
            delegations::delegator_id
                .eq(user)
                .or(delegations::delegate_id.eq(user)),
        )
        .order(delegations::starts_on.desc())
        .select(Delegation::as_select())
        .load(conn)
}

pub fn add_delegation(
    conn: &mut PgConnection,
    delegator: i64,
    delegate: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<usize> {
    diesel::insert_into(delegations::table)
        .values((
            delegations::delegator_id.eq(delegator),
            delegations::delegate_id.eq(delegate),
            delegations::starts_on.eq(from),
            delegations::ends_on.eq(to),
        ))
        .execute(conn)
}

/// End a delegation today (kept for the record, never deleted).
pub fn end_delegation(
    conn: &mut PgConnection,
    id: i64,
    delegator: i64,
    today: NaiveDate,
) -> QueryResult<usize> {
    let yesterday = today.pred_opt().unwrap_or(today);
    diesel::update(
        delegations::table
            .filter(delegations::id.eq(id))
            .filter(delegations::delegator_id.eq(delegator)),
    )
    .set(
        delegations::ends_on.eq(diesel::dsl::sql::<diesel::sql_types::Date>(
            "GREATEST(starts_on, ",
        )
        .bind::<diesel::sql_types::Date, _>(yesterday)
        .sql(")")),
    )
    .execute(conn)
}

/// Set a phase's approval requirement, replacing the one it had.
pub fn set_requirement(conn: &mut PgConnection, r: &Requirement) -> QueryResult<usize> {
    use diesel::upsert::excluded;
    diesel::insert_into(phase_approvals::table)
        .values((
            phase_approvals::phase_id.eq(r.phase_id),
            phase_approvals::group_id.eq(r.group_id),
            phase_approvals::rule.eq(&r.rule),
            phase_approvals::quorum_count.eq(r.quorum_count),
            phase_approvals::emergency_group_id.eq(r.emergency_group_id),
            phase_approvals::emergency_rule.eq(&r.emergency_rule),
            phase_approvals::own_group_may_approve.eq(r.own_group_may_approve),
        ))
        .on_conflict(phase_approvals::phase_id)
        .do_update()
        .set((
            phase_approvals::group_id.eq(excluded(phase_approvals::group_id)),
            phase_approvals::rule.eq(excluded(phase_approvals::rule)),
            phase_approvals::quorum_count.eq(excluded(phase_approvals::quorum_count)),
            phase_approvals::emergency_group_id.eq(excluded(phase_approvals::emergency_group_id)),
            phase_approvals::emergency_rule.eq(excluded(phase_approvals::emergency_rule)),
            phase_approvals::own_group_may_approve
                .eq(excluded(phase_approvals::own_group_may_approve)),
        ))
        .execute(conn)
}

/// Remove a phase's approval requirement (approvals already requested stay: they are records).
pub fn remove_requirement(conn: &mut PgConnection, phase_id: i64) -> QueryResult<usize> {
    diesel::delete(phase_approvals::table.find(phase_id)).execute(conn)
}
