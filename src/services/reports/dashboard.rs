//! The dashboard's panels: the counts by phase, the newest and the due releases, the schedule.
use super::*;

// ---------------------------------------------------------------- the dashboard

/// A release as a dashboard row (overdue releases, the schedule).
#[derive(Debug, Clone, Queryable)]
pub struct ReleaseLine {
    pub number: i64,
    pub title: String,
    pub release_type: String,
    pub phase: String,
    pub phase_due_at: Option<DateTime<Utc>>,
    pub planned_start: Option<DateTime<Utc>>,
    pub planned_end: Option<DateTime<Utc>>,
    pub coordinator_id: Option<i64>,
}

/// Active releases in one phase of a release workflow.
pub struct PhaseCount {
    pub phase_id: i64,
    pub phase: String,
    pub workflow: String,
    pub count: i64,
}

pub struct Dashboard {
    /// My open tasks, overdue first (at most `DASHBOARD_ROWS + 1`).
    pub tasks: Vec<MyTask>,
    /// Approvals waiting for my vote (approvers only).
    pub approvals: Vec<InboxItem>,
    /// Overdue active releases I coordinate or manage (all of them for managers);
    /// `None` for users who neither coordinate nor manage.
    pub overdue: Option<Vec<ReleaseLine>>,
    pub by_phase: Vec<PhaseCount>,
    /// Active releases whose planned window meets the next `SCHEDULE_DAYS` days.
    pub schedule: Vec<ReleaseLine>,
    /// Managers: every release by state, and how many active ones are overdue.
    pub totals: Option<(Vec<(String, i64)>, i64)>,
    /// Names of the coordinators in the rows above.
    pub names: Vec<(i64, String)>,
}

/// Start of the UTC day of `now`.
pub fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
}

/// The dashboard's panels for this user (at most 9 queries plus the approvals inbox's).
pub fn dashboard(
    conn: &mut PgConnection,
    actor: Actor,
    now: DateTime<Utc>,
) -> QueryResult<Dashboard> {
    let limit = DASHBOARD_ROWS as i64 + 1;
    let manager = actor.roles.has(Role::Manager);
    let tasks = tm::open_for_user(conn, actor.id, limit)?;
    let approvals = if actor.roles.has(Role::Approver) {
        approvals::inbox(conn, actor, DASHBOARD_ROWS as i64)?
    } else {
        Vec::new()
    };

    let overdue = if manager || actor.roles.has(Role::Coordinator) {
        // Uses releases_state_number (state = 'active'), or releases_coordinator_number.
        let mut q = releases::table
            .inner_join(phases::table)
            .filter(releases::kind.eq("release"))
            .filter(releases::state.eq(RecordState::Active.as_str()))
            .filter(
                releases::phase_due_at
                    .lt(now)
                    .or(releases::planned_end.lt(now)),
            )
            .into_boxed();
        if !manager {
            q = q.filter(
                releases::coordinator_id
                    .eq(actor.id)
                    .or(releases::manager_id.eq(actor.id)),
            );
        }
        Some(
            q.order((releases::phase_due_at.asc().nulls_last(), releases::number))
                .limit(limit)
                .select(line_columns())
                .load::<ReleaseLine>(conn)?,
        )
    } else {
        None
    };

    // Uses releases_state_number: one row per phase.
    let counts: Vec<(i64, i64)> = releases::table
        .filter(releases::kind.eq("release"))
        .filter(releases::state.eq(RecordState::Active.as_str()))
        .group_by(releases::phase_id)
        .select((releases::phase_id, diesel::dsl::count_star()))
        .load(conn)?;
    let phases = release_phases(conn)?;
    let by_phase = phases
        .iter()
        .filter_map(|p| {
            let count = counts
                .iter()
                .find(|(id, _)| *id == p.id)
                .map(|(_, n)| *n)
                .unwrap_or(0);
            (count > 0 || p.in_use()).then(|| PhaseCount {
                phase_id: p.id,
                phase: p.name.clone(),
                workflow: p.workflow.clone(),
                count,
            })
        })
        .collect();

    let (from, to) = schedule_window(now);
    let schedule = schedule(conn, from, to, limit)?;

    let totals = if manager {
        let by_state = crate::models::releases::state_counts(conn, "release")?;
        let overdue_count: i64 = releases::table
            .filter(releases::kind.eq("release"))
            .filter(releases::state.eq(RecordState::Active.as_str()))
            .filter(
                releases::phase_due_at
                    .lt(now)
                    .or(releases::planned_end.lt(now)),
            )
            .count()
            .get_result(conn)?;
        let ordered = RecordState::ALL
            .iter()
            .map(|s| {
                (
                    s.as_str().to_string(),
                    by_state
                        .iter()
                        .find(|(k, _)| k == s.as_str())
                        .map(|(_, n)| *n)
                        .unwrap_or(0),
                )
            })
            .collect();
        Some((ordered, overdue_count))
    } else {
        None
    };

    let mut ids: Vec<i64> = schedule
        .iter()
        .chain(overdue.iter().flatten())
        .filter_map(|r| r.coordinator_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let names = if ids.is_empty() {
        Vec::new()
    } else {
        crate::models::users::names(conn, &ids)?
    };
    Ok(Dashboard {
        tasks,
        approvals,
        overdue,
        by_phase,
        schedule,
        totals,
        names,
    })
}

#[allow(clippy::type_complexity)]
pub(super) fn line_columns() -> (
    releases::number,
    releases::title,
    releases::release_type,
    phases::name,
    releases::phase_due_at,
    releases::planned_start,
    releases::planned_end,
    releases::coordinator_id,
) {
    (
        releases::number,
        releases::title,
        releases::release_type,
        phases::name,
        releases::phase_due_at,
        releases::planned_start,
        releases::planned_end,
        releases::coordinator_id,
    )
}

/// The dashboard's "next `SCHEDULE_DAYS` days": from this moment (not the start of the day,
/// so a window that ended this morning is not "next") to the same moment `SCHEDULE_DAYS`
/// days on.
pub fn schedule_window(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    (now, now + Duration::days(SCHEDULE_DAYS))
}

/// Active releases whose planned window (start to end; either alone when the other is
/// missing) meets `[from, to]`: it starts no later than `to` and ends no earlier than `from`,
/// so one that started weeks ago and is still planned to run is in, one that ended before
/// `from` or starts after `to` is not; ended releases never. By planned start. Written on
/// the window's two ends as `coalesce` expressions so that `releases_active_schedule` is read
/// in order and the scan stops after `limit` rows.
pub fn schedule(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<ReleaseLine>> {
    use diesel::dsl::sql;
    let starts =
        || sql::<Nullable<Timestamptz>>("coalesce(releases.planned_start, releases.planned_end)");
    let ends =
        || sql::<Nullable<Timestamptz>>("coalesce(releases.planned_end, releases.planned_start)");
    releases::table
        .inner_join(phases::table)
        .filter(releases::kind.eq("release"))
        .filter(releases::state.eq(RecordState::Active.as_str()))
        .filter(starts().le(to))
        .filter(ends().ge(from))
        .order((starts().asc(), releases::number))
        .limit(limit)
        .select(line_columns())
        .load(conn)
}
