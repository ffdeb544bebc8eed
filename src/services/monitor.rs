//! The deadline monitor: finds phases, tasks and releases past their due time and raises an
//! alert for each cause once — a partial unique index makes that true with any number of
//! monitors running at once — and notifies the coordinator and manager. The change that
//! resolves a cause clears its alert (migration 000034's triggers); the monitor sweeps every
//! open alert at its start and hourly, for changes made with triggers off.
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};

use super::notify::{self, Note};
use crate::models::releases::{self as rel};
use crate::schema::alerts;

#[derive(QueryableByName)]
struct Raised {
    #[diesel(sql_type = BigInt)]
    release_id: i64,
    #[diesel(sql_type = Text)]
    detail: String,
}

/// What one run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Run {
    pub raised: usize,
    pub cleared: usize,
}

/// How often the background monitor sweeps every open alert (`clear_resolved`).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// One whole pass of the monitor at `now`, the sweep of open alerts included.
pub fn run_once(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<Run> {
    run_pass(conn, now, true)
}

/// One pass at `now`: raise what is newly overdue, and with `sweep` clear every open alert
/// whose cause is gone.
fn run_pass(conn: &mut PgConnection, now: DateTime<Utc>, sweep: bool) -> QueryResult<Run> {
    let run = raise_and_clear(conn, now, sweep)?;
    if run.raised + run.cleared > 0 {
        // Its alerts and notifications change what pages show: drop what is kept, here and
        // in the other instances.
        crate::kept::written();
        crate::kept::count_database_write(conn)?;
    }
    // What transitions and votes appended since the last pass joins the management report's
    // kept cells (the report reads both, so this changes no figure).
    crate::services::reports::fold_cells(conn)?;
    Ok(run)
}

fn raise_and_clear(conn: &mut PgConnection, now: DateTime<Utc>, sweep: bool) -> QueryResult<Run> {
    conn.transaction(|conn| {
        // A pass is a background sweep: at a million releases PostgreSQL would run its
        // statements with parallel workers, taking every core from the requests being served
        // for most of a second (the deep list page's p99 rose from about 25 ms to 86-205 ms in
        // the benchmark's runs a pass fell in).
        // One process leaves them the other core. Nor is it worth compiling (JIT): its
        // statements are priced high at a million rows and would be compiled on every pass.
        diesel::sql_query("SET LOCAL max_parallel_workers_per_gather = 0").execute(conn)?;
        diesel::sql_query("SET LOCAL jit = off").execute(conn)?;
        let cleared = if sweep { clear_resolved(conn, now)? } else { 0 };
        let mut raised: Vec<Raised> = Vec::new();
        // Each cause is skipped when its alert is already open (an index probe) before the
        // insert: a conflicting insert costs far more, and most causes are old ones. ON
        // CONFLICT still settles two monitors racing for a new one.
        // Phases past their due date.
        raised.extend(
            diesel::sql_query(
                "INSERT INTO alerts (release_id, kind, subject_id, detail, raised_at)
                 SELECT r.id, 'phase_overdue', r.phase_id,
                        'The phase ' || p.name || ' was due ' || to_char(r.phase_due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC', $1
                 FROM releases r JOIN phases p ON p.id = r.phase_id
                 WHERE r.state = 'active' AND r.phase_due_at < $1
                   AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.release_id = r.id AND a.kind = 'phase_overdue'
                                   AND a.subject_id = r.phase_id AND a.cleared_at IS NULL)
                 ON CONFLICT (release_id, kind, subject_id) WHERE cleared_at IS NULL DO NOTHING
                 RETURNING release_id, detail",
            )
            .bind::<Timestamptz, _>(now)
            .load::<Raised>(conn)?,
        );
        // Tasks past their due date, each looking up its own release by key (the LATERAL
        // with OFFSET 0 keeps it a lookup): joined by hash, PostgreSQL read the heap of every
        // active release, 31,000 pages at a million (0.11 s warm, 7.7 s once under load)
        // against 0.03 s.
        raised.extend(
            diesel::sql_query(
                "INSERT INTO alerts (release_id, kind, subject_id, detail, raised_at)
                 SELECT t.release_id, 'task_overdue', t.id,
                        'The task “' || t.title || '” was due ' || to_char(t.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC', $1
                 FROM tasks t
                 CROSS JOIN LATERAL (SELECT 1 FROM releases r WHERE r.id = t.release_id AND r.state = 'active' OFFSET 0) r
                 WHERE t.status IN ('open', 'in_progress') AND t.due_at < $1
                   AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.release_id = t.release_id AND a.kind = 'task_overdue'
                                   AND a.subject_id = t.id AND a.cleared_at IS NULL)
                 ON CONFLICT (release_id, kind, subject_id) WHERE cleared_at IS NULL DO NOTHING
                 RETURNING release_id, detail",
            )
            .bind::<Timestamptz, _>(now)
            .load::<Raised>(conn)?,
        );
        // Releases past their planned end.
        raised.extend(
            diesel::sql_query(
                "INSERT INTO alerts (release_id, kind, subject_id, detail, raised_at)
                 SELECT r.id, 'release_overdue', 0,
                        'The planned end was ' || to_char(r.planned_end AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC', $1
                 FROM releases r
                 WHERE r.state = 'active' AND r.planned_end < $1
                   AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.release_id = r.id AND a.kind = 'release_overdue'
                                   AND a.subject_id = 0 AND a.cleared_at IS NULL)
                 ON CONFLICT (release_id, kind, subject_id) WHERE cleared_at IS NULL DO NOTHING
                 RETURNING release_id, detail",
            )
            .bind::<Timestamptz, _>(now)
            .load::<Raised>(conn)?,
        );
        for a in &raised {
            let r = rel::find_by_id(conn, a.release_id)?;
            let mut to: Vec<i64> = r.coordinator_id.into_iter().collect();
            to.extend(r.manager_id);
            let note = Note::about(&r, "deadline_missed", "a deadline was missed", format!("{}.", a.detail));
            notify::send(conn, &to, None, &note)?;
        }
        Ok(Run { raised: raised.len(), cleared })
    })
}

/// Clear alerts whose cause is resolved: the release moved on or ended, the task was done,
/// the due date moved. The changes themselves clear their alerts (migration 000034); this
/// catches what was changed with triggers off (a bulk load, a restore).
fn clear_resolved(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    // Each open alert looks up its own release by key (the LATERAL with OFFSET 0 keeps it a
    // lookup): left to itself the planner hashes every release instead, 3.8 s at a million
    // against 0.35 s.
    diesel::sql_query(
        "UPDATE alerts a SET cleared_at = $1
         FROM (SELECT o.id FROM alerts o
               CROSS JOIN LATERAL (SELECT r.state, r.phase_id, r.phase_due_at, r.planned_end
                                   FROM releases r WHERE r.id = o.release_id OFFSET 0) r
               WHERE o.cleared_at IS NULL AND (
                    r.state <> 'active'
                 OR (o.kind = 'phase_overdue' AND (r.phase_id <> o.subject_id OR r.phase_due_at IS NULL OR r.phase_due_at >= $1))
                 OR (o.kind = 'release_overdue' AND (r.planned_end IS NULL OR r.planned_end >= $1))
                 OR (o.kind = 'task_overdue' AND NOT EXISTS (
                       SELECT 1 FROM tasks t WHERE t.id = o.subject_id AND t.status IN ('open', 'in_progress') AND t.due_at < $1)))) gone
         WHERE a.id = gone.id",
    )
    .bind::<Timestamptz, _>(now)
    .execute(conn)
}

/// Open alerts of a release, oldest first: (kind, detail, raised at).
pub fn open_alerts(
    conn: &mut PgConnection,
    release_id: i64,
) -> QueryResult<Vec<(String, String, DateTime<Utc>)>> {
    alerts::table
        .filter(alerts::release_id.eq(release_id))
        .filter(alerts::cleared_at.is_null())
        .order(alerts::id)
        .select((alerts::kind, alerts::detail, alerts::raised_at))
        .load(conn)
}

/// One pass of the background monitor; whether it ran (a failure is logged, and the next
/// round tries again).
fn background_pass(pool: &crate::db::DbPool, sweep: bool) -> bool {
    let mut conn = match pool.get() {
        Ok(conn) => conn,
        Err(e) => {
            tracing::warn!(error = %e, "deadline monitor: no database connection");
            return false;
        }
    };
    match run_pass(&mut conn, Utc::now(), sweep) {
        Ok(run) => {
            if run.raised + run.cleared > 0 {
                tracing::info!(
                    raised = run.raised,
                    cleared = run.cleared,
                    "deadline monitor"
                );
            }
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "deadline monitor failed; retrying next round");
            false
        }
    }
}

/// Run the monitor every `interval` on its own thread, for as long as the process lives.
pub fn spawn(pool: crate::db::DbPool, interval: std::time::Duration) {
    std::thread::Builder::new()
        .name("relman-monitor".into())
        .spawn(move || {
            let mut last_sweep: Option<std::time::Instant> = None;
            loop {
                let sweep = last_sweep.is_none_or(|at| at.elapsed() >= SWEEP_EVERY);
                if background_pass(&pool, sweep) && sweep {
                    last_sweep = Some(std::time::Instant::now());
                }
                std::thread::sleep(interval);
            }
        })
        .expect("spawn the monitor thread");
}
