//! Reports: the dashboard's panels and the management report on release progress. Each
//! function runs a fixed number of queries whatever the number of releases; counts, means
//! and 90th percentiles are computed by PostgreSQL.
//!
//! The management report's date range applies to when releases were **registered**
//! (`releases.created_at`): every table describes the releases registered in the range (of
//! the category and type chosen), so its numbers add up across tables.
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Date, Double, Integer, Nullable, Text, Timestamptz};

use std::collections::HashMap;

use crate::domain::histogram::{Bin, Histogram, Unit};
use crate::domain::permissions::Actor;
use crate::domain::roles::Role;
use crate::domain::workflow::{RecordState, ReleaseType};
use crate::models::tasks::{self as tm, MyTask};
use crate::schema::{phases, releases, workflows};
use crate::services::approvals::{self, InboxItem};

/// How many rows each dashboard panel shows; one more is read to tell whether more follow.
pub const DASHBOARD_ROWS: usize = 10;
/// How many days ahead the dashboard's schedule looks.
pub const SCHEDULE_DAYS: i64 = 14;
/// Most rows a CSV download holds.
pub const CSV_MAX_ROWS: i64 = 100_000;
/// Overdue releases listed on the management report's page (the CSV holds all of them).
pub const OVERDUE_ROWS: i64 = 50;
/// Weeks ahead in "busiest coming weeks".
pub const WEEKS_AHEAD: i64 = 8;

// ---------------------------------------------------------------- phases of release workflows

/// A phase of a release workflow, in workflow order.
#[derive(Debug, Clone, Queryable)]
pub struct PhaseInfo {
    pub id: i64,
    pub name: String,
    pub retired: bool,
    pub workflow_id: i64,
    pub workflow: String,
    pub workflow_retired: bool,
    pub workflow_draft: bool,
}

impl PhaseInfo {
    /// Whether new releases can be in it: shown even when nothing is there.
    pub fn in_use(&self) -> bool {
        !self.retired && !self.workflow_retired && !self.workflow_draft
    }
}

/// Every phase of every release workflow, by workflow then position (one query).
pub fn release_phases(conn: &mut PgConnection) -> QueryResult<Vec<PhaseInfo>> {
    phases::table
        .inner_join(workflows::table)
        .filter(workflows::record_kind.eq("release"))
        .order((workflows::name, workflows::id, phases::position, phases::id))
        .select((
            phases::id,
            phases::name,
            phases::retired,
            workflows::id,
            workflows::name,
            workflows::retired,
            workflows::draft,
        ))
        .load(conn)
}

/// "Build and Test", or "Build and Test (Release Management)" when several workflows are shown.
pub fn phase_label(phases: &[PhaseInfo], id: i64) -> String {
    let several = phases
        .iter()
        .filter(|p| p.in_use())
        .map(|p| p.workflow_id)
        .collect::<std::collections::HashSet<_>>()
        .len()
        > 1;
    match phases.iter().find(|p| p.id == id) {
        Some(p) if several => format!("{} ({})", p.name, p.workflow),
        Some(p) => p.name.clone(),
        None => format!("phase #{id}"),
    }
}

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
fn line_columns() -> (
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

// ---------------------------------------------------------------- the management report

/// The management report's filters, as they appear in the URL.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ReportFilter {
    /// Registered on or after this day (`YYYY-MM-DD`).
    #[serde(default)]
    pub from: String,
    /// Registered on or before this day.
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub category: String,
    #[serde(default, rename = "type")]
    pub release_type: String,
    /// Which table a CSV download holds.
    #[serde(default)]
    pub table: String,
}

/// The filters, checked: anything that does not parse is ignored (as on the release list).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub category: Option<i64>,
    pub release_type: Option<String>,
}

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

impl ReportFilter {
    pub fn scope(&self) -> Scope {
        Scope {
            from: date(&self.from),
            to: date(&self.to),
            category: self.category.trim().parse().ok(),
            release_type: ReleaseType::ALL
                .iter()
                .find(|t| t.as_str() == self.release_type)
                .map(|t| t.as_str().to_string()),
        }
    }

    /// The filters as a query string (without `table`), `""` when none is set.
    pub fn query(&self) -> String {
        let s = self.scope();
        let mut parts = Vec::new();
        if let Some(d) = s.from {
            parts.push(format!("from={d}"));
        }
        if let Some(d) = s.to {
            parts.push(format!("to={d}"));
        }
        if let Some(c) = s.category {
            parts.push(format!("category={c}"));
        }
        if let Some(t) = s.release_type {
            parts.push(format!("type={t}"));
        }
        parts.join("&")
    }
}

impl Scope {
    fn start_ts(&self) -> Option<DateTime<Utc>> {
        self.from
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
    }

    /// The day after `to`, so the whole of `to` is in the range.
    fn end_ts(&self) -> Option<DateTime<Utc>> {
        self.to
            .and_then(|d| d.succ_opt())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
    }

    /// The registration range as the whole months in it (read from kept histograms) and the
    /// days at either end that cover part of a month (read from the records).
    pub fn month_split(&self) -> MonthSplit {
        let month_of = |d: NaiveDate| d - chrono::Days::new(u64::from(d.day0()));
        // First whole month: `from`'s own when it is the 1st, else the next one (none past
        // the last month a date can be in).
        let first = match self.from {
            Some(d) if d.day() == 1 => Some(d),
            Some(d) => match month_of(d).checked_add_months(chrono::Months::new(1)) {
                Some(next) => Some(next),
                None => {
                    return MonthSplit {
                        months: None,
                        days: vec![(d, self.to.unwrap_or(NaiveDate::MAX))],
                    }
                }
            },
            None => None,
        };
        // End of the whole months (exclusive): the 1st of the month of the day after `to`.
        let end = self.to.map(|d| month_of(d.succ_opt().unwrap_or(d)));
        if let (Some(from), Some(to), Some(a), Some(b)) = (self.from, self.to, first, end) {
            if a >= b {
                return MonthSplit {
                    months: None,
                    days: vec![(from, to)],
                };
            }
        }
        let mut days = Vec::new();
        if let (Some(from), Some(a)) = (self.from, first) {
            if from < a {
                // `a` is the 1st of a month after `from`: the day before it exists.
                days.push((from, a - chrono::Days::new(1)));
            }
        }
        if let (Some(to), Some(b)) = (self.to, end) {
            if b <= to {
                days.push((b, to));
            }
        }
        MonthSplit {
            months: Some((first, end)),
            days,
        }
    }
}

/// See [`Scope::month_split`].
#[derive(Debug, PartialEq)]
pub struct MonthSplit {
    /// Months from the first (a 1st, or open) up to the second (exclusive, or open); `None`
    /// when the range holds no whole month.
    pub months: Option<(Option<NaiveDate>, Option<NaiveDate>)>,
    /// Inclusive day ranges read from the records.
    pub days: Vec<(NaiveDate, NaiveDate)>,
}

/// The scope's conditions on `releases r`: parameters $1 to $4.
const SCOPE: &str = "r.kind = 'release' \
    AND ($1::timestamptz IS NULL OR r.created_at >= $1) \
    AND ($2::timestamptz IS NULL OR r.created_at < $2) \
    AND ($3::bigint IS NULL OR r.category_id = $3) \
    AND ($4::text IS NULL OR r.release_type = $4)";

/// A query with `{scope}` replaced by the scope's conditions, its parameters bound.
fn scoped(sql: &str, s: &Scope) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    diesel::sql_query(sql.replace("{scope}", SCOPE))
        .into_boxed()
        .bind::<Nullable<Timestamptz>, _>(s.start_ts())
        .bind::<Nullable<Timestamptz>, _>(s.end_ts())
        .bind::<Nullable<BigInt>, _>(s.category)
        .bind::<Nullable<Text>, _>(s.release_type.clone())
}

/// One table of a report, as the page and the CSV show it: the first cell of each row
/// names the row.
#[derive(Debug, Clone)]
pub struct Table {
    /// `?table=` of its CSV, and the section's id.
    pub key: &'static str,
    pub title: &'static str,
    pub caption: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<TableRow>,
    /// What the table counts, in words.
    pub notes: Vec<String>,
    /// What the chart's bars measure, and the column whose text labels each bar;
    /// `None` for no chart.
    pub chart: Option<(&'static str, usize)>,
    /// Whether the cells after the row's name are numbers (aligned right).
    pub numeric: bool,
}

#[derive(Debug, Clone, Default)]
pub struct TableRow {
    pub cells: Vec<String>,
    /// Where the row's name links to, `""` for nowhere.
    pub href: String,
    /// A total row (not charted).
    pub total: bool,
    /// The bar drawn for this row, if any.
    pub chart_value: Option<f64>,
}

pub const TABLE_KEYS: &[&str] = &[
    "by_phase",
    "overdue",
    "outcomes",
    "lead_times",
    "on_time",
    "approvals",
    "weeks",
];

/// `66.7%`, or `—` when there is nothing to divide by.
pub fn pct(part: i64, whole: i64) -> String {
    if whole == 0 {
        "—".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

/// `2026-12-01 09:00 UTC`, or `—`.
fn when(t: &Option<DateTime<Utc>>) -> String {
    crate::views::opt_datetime(t)
}

/// Monday 00:00 UTC of the week of `now`.
pub fn week_start(now: DateTime<Utc>) -> DateTime<Utc> {
    day_start(now) - Duration::days(i64::from(now.weekday().num_days_from_monday()))
}

#[derive(QueryableByName)]
struct OverdueRow {
    #[diesel(sql_type = BigInt)]
    number: i64,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    release_type: String,
    #[diesel(sql_type = BigInt)]
    phase_id: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    phase_due_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    planned_end: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<BigInt>)]
    coordinator_id: Option<i64>,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

#[derive(QueryableByName)]
struct WeekCount {
    #[diesel(sql_type = Timestamptz)]
    week: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

const UNIT_NOTE: &str = "Durations are shown in the unit that suits the figures of this table (minutes, hours or days; \
     \u{201c}< 0.1\u{201d} is under a tenth of it); here in";

const PERCENTILE_NOTE: &str = "Counts and means are exact; the 90th percentile is read from durations kept in steps of 10 %, \
     so it is within 10 % of the exact figure (exact when few durations share a step).";

/// The management report's figures for a scope, from the kept cells (migration
/// `report_cells`): release counts and the durations as histograms.
#[derive(Debug, Default)]
pub struct Figures {
    /// Active releases by (phase, release type).
    pub active: HashMap<(i64, String), i64>,
    /// Releases by state (the active ones in all phases together).
    pub states: HashMap<String, i64>,
    /// Closed releases (successful or backed out) by their planned end: `on_time`, `late`, `unplanned`.
    pub delivery: HashMap<String, i64>,
    /// Completed phase visits, by phase.
    pub visits: HashMap<i64, Histogram>,
    /// Decided approvals, by phase.
    pub approvals: HashMap<i64, Histogram>,
    /// Registration to closing.
    pub closed: Histogram,
}

impl Figures {
    fn add(&mut self, c: Cell) {
        let bin = Bin {
            bin: c.bin,
            n: c.n,
            seconds: c.seconds,
        };
        match c.measure.as_str() {
            "visit" => self.visits.entry(c.phase_id).or_default().add(bin),
            "approval" => self.approvals.entry(c.phase_id).or_default().add(bin),
            "closed" => self.closed.add(bin),
            "on_time" | "late" | "unplanned" => *self.delivery.entry(c.measure).or_default() += c.n,
            state => {
                if state == RecordState::Active.as_str() {
                    *self.active.entry((c.phase_id, c.release_type)).or_default() += c.n;
                }
                *self.states.entry(c.measure).or_default() += c.n;
            }
        }
    }

    fn state(&self, s: RecordState) -> i64 {
        self.states.get(s.as_str()).copied().unwrap_or(0)
    }
}

#[derive(QueryableByName)]
struct Cell {
    #[diesel(sql_type = Text)]
    measure: String,
    #[diesel(sql_type = Text)]
    release_type: String,
    #[diesel(sql_type = BigInt)]
    phase_id: i64,
    #[diesel(sql_type = Integer)]
    bin: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Double)]
    seconds: f64,
}

/// The kept cells of the whole registration months in `[from, to)` (either end open), with
/// the changes not folded in yet.
const KEPT_CELLS: &str = "SELECT c.measure, c.release_type, c.phase_id, c.bin, sum(c.n)::bigint AS n, sum(c.seconds)::float8 AS seconds FROM ( \
        SELECT measure, month, category_id, release_type, phase_id, bin, n, seconds FROM report_cells \
        UNION ALL \
        SELECT measure, month, category_id, release_type, phase_id, bin, n, seconds FROM report_cell_changes) c \
     WHERE ($1::date IS NULL OR c.month >= $1) AND ($2::date IS NULL OR c.month < $2) \
       AND ($3::bigint IS NULL OR c.category_id = $3) AND ($4::text IS NULL OR c.release_type = $4) \
     GROUP BY c.measure, c.release_type, c.phase_id, c.bin";

/// The same cells computed from the records, for the days of a month only partly in scope.
const LIVE_CELLS: &str = "SELECT r.measure, r.release_type, r.phase_id, report_bin(r.s) AS bin, count(*) AS n, sum(r.s)::float8 AS seconds \
     FROM report_cell_records r WHERE {scope} GROUP BY r.measure, r.release_type, r.phase_id, report_bin(r.s)";

/// The scope's figures: whole months from the kept cells, the days at either end of the
/// range that cover only part of a month from the records (at most two queries more).
pub fn figures(conn: &mut PgConnection, s: &Scope) -> QueryResult<Figures> {
    let split = s.month_split();
    let mut cells: Vec<Cell> = Vec::new();
    if let Some((from, to)) = split.months {
        cells.extend(
            diesel::sql_query(KEPT_CELLS)
                .bind::<Nullable<Date>, _>(from)
                .bind::<Nullable<Date>, _>(to)
                .bind::<Nullable<BigInt>, _>(s.category)
                .bind::<Nullable<Text>, _>(s.release_type.clone())
                .load::<Cell>(conn)?,
        );
    }
    for (from, to) in split.days {
        let edge = Scope {
            from: Some(from),
            to: Some(to),
            ..s.clone()
        };
        cells.extend(scoped(LIVE_CELLS, &edge).load::<Cell>(conn)?);
    }
    let mut f = Figures::default();
    for c in cells {
        f.add(c);
    }
    Ok(f)
}

/// Moves the changes appended since the last fold into the kept cells (the deadline monitor
/// calls it); returns how many changes it moved.
pub fn fold_cells(conn: &mut PgConnection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Moved {
        #[diesel(sql_type = BigInt)]
        moved: i64,
    }
    Ok(diesel::sql_query("SELECT report_cells_fold() AS moved")
        .get_result::<Moved>(conn)?
        .moved)
}

/// Counts every cell afresh from the records (after a load with triggers off).
pub fn rebuild_cells(conn: &mut PgConnection) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::sql_query("SELECT report_cells_rebuild()")
            .execute(conn)
            .map(|_| ())
    })
}

/// The management report's tables (all of them, or the one named `only`), in page order.
/// `overdue_limit` bounds the overdue list (the page shows `OVERDUE_ROWS`, the CSV more).
pub fn management(
    conn: &mut PgConnection,
    s: &Scope,
    now: DateTime<Utc>,
    only: Option<&str>,
    overdue_limit: i64,
) -> QueryResult<Vec<Table>> {
    let phases = release_phases(conn)?;
    let want = |k: &str| only.is_none_or(|o| o == k);
    let kept = if ["by_phase", "outcomes", "lead_times", "on_time", "approvals"]
        .iter()
        .any(|k| want(k))
    {
        figures(conn, s)?
    } else {
        Figures::default()
    };
    let mut out = Vec::new();
    if want("by_phase") {
        out.push(by_phase_table(&kept, s, &phases));
    }
    if want("overdue") {
        out.push(overdue_table(conn, s, &phases, now, overdue_limit)?);
    }
    if want("outcomes") {
        out.push(outcomes_table(&kept));
    }
    if want("lead_times") {
        out.push(lead_times_table(&kept, &phases));
    }
    if want("on_time") {
        out.push(on_time_table(&kept));
    }
    if want("approvals") {
        out.push(approvals_table(&kept, &phases));
    }
    if want("weeks") {
        out.push(weeks_table(conn, s, now)?);
    }
    Ok(out)
}

fn count_row(name: String, href: String, cells: Vec<String>, chart_value: Option<f64>) -> TableRow {
    let mut all = vec![name];
    all.extend(cells);
    TableRow {
        cells: all,
        href,
        total: false,
        chart_value,
    }
}

/// Active releases by phase (rows) and type (columns).
fn by_phase_table(f: &Figures, s: &Scope, phases: &[PhaseInfo]) -> Table {
    let n = |phase: Option<i64>, t: Option<&str>| -> i64 {
        f.active
            .iter()
            .filter(|((p, ty), _)| phase.is_none_or(|x| *p == x) && t.is_none_or(|t| ty == t))
            .map(|(_, n)| *n)
            .sum()
    };
    let mut extra = String::new();
    if let Some(t) = &s.release_type {
        extra.push_str(&format!("&type={t}"));
    }
    if let Some(c) = s.category {
        extra.push_str(&format!("&category={c}"));
    }
    let mut rows: Vec<TableRow> = phases
        .iter()
        .filter(|p| p.in_use() || n(Some(p.id), None) > 0)
        .map(|p| {
            let mut cells: Vec<String> = ReleaseType::ALL
                .iter()
                .map(|t| n(Some(p.id), Some(t.as_str())).to_string())
                .collect();
            let total = n(Some(p.id), None);
            cells.push(total.to_string());
            count_row(
                phase_label(phases, p.id),
                format!("/releases?phase={}&state=active{extra}", p.id),
                cells,
                Some(total as f64),
            )
        })
        .collect();
    let mut totals: Vec<String> = ReleaseType::ALL
        .iter()
        .map(|t| n(None, Some(t.as_str())).to_string())
        .collect();
    totals.push(n(None, None).to_string());
    rows.push(TableRow {
        total: true,
        ..count_row("All phases".into(), String::new(), totals, None)
    });
    let mut columns = vec!["Phase"];
    columns.extend(ReleaseType::ALL.iter().map(|t| t.label()));
    columns.push("Total");
    Table {
        key: "by_phase",
        title: "Active releases by phase and type",
        caption: "Active releases by phase and type".into(),
        columns,
        rows,
        notes: vec!["Releases that are still under way, by the phase they are in now and their release type.".into()],
        chart: Some(("Active releases", 4)),
        numeric: true,
    }
}

/// Active releases whose phase due date or planned end has passed.
fn overdue_table(
    conn: &mut PgConnection,
    s: &Scope,
    phases: &[PhaseInfo],
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Table> {
    let rows: Vec<OverdueRow> = scoped(
        "SELECT r.number, r.title, r.release_type, r.phase_id, r.phase_due_at, r.planned_end, r.coordinator_id, \
                count(*) OVER () AS total \
         FROM releases r \
         WHERE {scope} AND r.state = 'active' AND (r.phase_due_at < $5 OR r.planned_end < $5) \
         ORDER BY LEAST(r.phase_due_at, r.planned_end), r.number LIMIT $6",
        s,
    )
    .bind::<Timestamptz, _>(now)
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    let total = rows.first().map(|r| r.total).unwrap_or(0);
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.coordinator_id).collect();
    let names = if ids.is_empty() {
        Vec::new()
    } else {
        crate::models::users::names(conn, &ids)?
    };
    let name = |id: Option<i64>| {
        id.and_then(|id| names.iter().find(|(i, _)| *i == id))
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    let mut notes = vec![match total {
        0 => "No active release is overdue: none has passed the due date of its phase or its planned end.".to_string(),
        1 => "1 active release is overdue: the due date of the phase it is in, or its planned end, has passed.".to_string(),
        n => format!("{n} active releases are overdue: the due date of the phase they are in, or their planned end, has passed."),
    }];
    if total > rows.len() as i64 {
        notes.push(format!(
            "The {} most overdue are listed; the CSV holds all of them.",
            rows.len()
        ));
    }
    Ok(Table {
        key: "overdue",
        title: "Overdue releases",
        caption: "Overdue releases, most overdue first".into(),
        columns: vec![
            "Release",
            "Title",
            "Type",
            "Phase",
            "Phase due",
            "Planned end",
            "Coordinator",
        ],
        rows: rows
            .iter()
            .map(|r| {
                count_row(
                    crate::paths::release_number(r.number),
                    crate::paths::release(r.number),
                    vec![
                        r.title.clone(),
                        r.release_type
                            .parse::<ReleaseType>()
                            .map(|t| t.label().to_string())
                            .unwrap_or_default(),
                        phase_label(phases, r.phase_id),
                        when(&r.phase_due_at),
                        when(&r.planned_end),
                        name(r.coordinator_id),
                    ],
                    None,
                )
            })
            .collect(),
        notes,
        chart: None,
        numeric: false,
    })
}

/// How releases ended, and each outcome's share of the releases that ended.
fn outcomes_table(f: &Figures) -> Table {
    let n = |st: RecordState| f.state(st);
    let ended_states = [
        RecordState::ClosedSuccessful,
        RecordState::ClosedBackedOut,
        RecordState::Abandoned,
    ];
    let ended: i64 = ended_states.iter().map(|s| n(*s)).sum();
    let mut rows: Vec<TableRow> = ended_states
        .iter()
        .map(|st| {
            count_row(
                st.label().into(),
                String::new(),
                vec![n(*st).to_string(), pct(n(*st), ended)],
                Some(n(*st) as f64),
            )
        })
        .collect();
    rows.push(TableRow {
        total: true,
        ..count_row(
            "Ended releases".into(),
            String::new(),
            vec![ended.to_string(), pct(ended, ended)],
            None,
        )
    });
    rows.push(TableRow {
        total: true,
        ..count_row(
            "Still active".into(),
            String::new(),
            vec![n(RecordState::Active).to_string(), "—".into()],
            None,
        )
    });
    Table {
        key: "outcomes",
        title: "Outcomes",
        caption: "Outcomes of the releases that ended".into(),
        columns: vec!["Outcome", "Releases", "Share of ended releases"],
        rows,
        notes: vec![
            "A release ends closed as successful, closed as backed out (its back-out plan was activated), or abandoned. \
             The success, back-out and abandon rates are each outcome's share of the releases that ended."
                .into(),
        ],
        chart: Some(("Releases", 1)),
        numeric: true,
    }
}

/// The unit for tables of these histograms: from every mean and 90th percentile shown.
fn unit_of<'a>(hs: impl IntoIterator<Item = &'a Histogram>) -> Unit {
    Unit::for_hours(
        hs.into_iter()
            .flat_map(|h| [h.mean_hours(), h.p90_hours()])
            .flatten(),
    )
}

/// Time spent in each phase, per visit, and from registration to closing.
fn lead_times_table(d: &Figures, phases: &[PhaseInfo]) -> Table {
    let empty = Histogram::default();
    let shown: Vec<(&PhaseInfo, &Histogram)> = phases
        .iter()
        .filter(|p| p.in_use() || d.visits.contains_key(&p.id))
        .map(|p| (p, d.visits.get(&p.id).unwrap_or(&empty)))
        .collect();
    let unit = unit_of(shown.iter().map(|(_, h)| *h).chain([&d.closed]));
    let mut rows: Vec<TableRow> = shown
        .iter()
        .map(|(p, h)| {
            let mean = h.mean_hours();
            count_row(
                phase_label(phases, p.id),
                String::new(),
                vec![
                    h.n().to_string(),
                    unit.format(mean),
                    unit.format(h.p90_hours()),
                ],
                mean.map(|m| unit.of_hours(m)),
            )
        })
        .collect();
    rows.push(TableRow {
        total: true,
        ..count_row(
            "Registered to closed".into(),
            String::new(),
            vec![
                d.closed.n().to_string(),
                unit.format(d.closed.mean_hours()),
                unit.format(d.closed.p90_hours()),
            ],
            None,
        )
    });
    Table {
        key: "lead_times",
        title: "Lead times",
        caption: format!("Lead time per phase and overall, in {}", unit.name()),
        columns: vec!["Phase", "Visits", unit.mean_column(), unit.p90_column()],
        rows,
        notes: vec![
            "Per phase: from entering the phase to leaving it, for every completed visit (a phase reworked is visited again; skipped phases are not counted). \
             Overall: from registration to closing, for releases closed as successful or backed out. \
             The 90th percentile is the time within which 9 in 10 finished."
                .into(),
            format!("{UNIT_NOTE} {}.", unit.name()),
            PERCENTILE_NOTE.into(),
        ],
        chart: Some((unit.mean_measure(), 2)),
        numeric: true,
    }
}

/// Ended releases against their planned end: only a successful closing can be on time.
fn on_time_table(f: &Figures) -> Table {
    let d = |k: &str| f.delivery.get(k).copied().unwrap_or(0);
    let (on_time, late, without_plan) = (d("on_time"), d("late"), d("unplanned"));
    let backed_out = f.state(RecordState::ClosedBackedOut);
    let abandoned = f.state(RecordState::Abandoned);
    let ended = on_time + late + without_plan + backed_out + abandoned;
    let row = |name: &str, v: i64| {
        count_row(
            name.into(),
            String::new(),
            vec![v.to_string()],
            Some(v as f64),
        )
    };
    let total = |name: &str, v: String| TableRow {
        total: true,
        ..count_row(name.into(), String::new(), vec![v], None)
    };
    Table {
        key: "on_time",
        title: "On-time delivery",
        caption: "Ended releases against their planned end".into(),
        columns: vec!["Measure", "Value"],
        rows: vec![
            row("Closed successful on or before the planned end", on_time),
            row("Closed successful after the planned end", late),
            row("Closed successful without a planned end (not rated)", without_plan),
            row("Closed as backed out (not delivered)", backed_out),
            row("Abandoned (not delivered)", abandoned),
            total("Ended releases", ended.to_string()),
            total("On-time rate of successful closings with a planned end", pct(on_time, on_time + late)),
            total("Delivered on time, of all ended releases", pct(on_time, ended)),
        ],
        notes: vec![
            "Only a release closed as successful can be on time: it is when it closed no later than its planned end. \
             A release closed as backed out or abandoned delivered nothing, whatever its dates, and is counted in a row of its own. \
             The on-time rate is the share of the successful closings with a planned end that closed on time; \
             the last row is the share of every ended release that was delivered on time."
                .into(),
        ],
        chart: Some(("Releases", 1)),
        numeric: true,
    }
}

/// How long approvals took, from being requested to their final decision.
fn approvals_table(d: &Figures, phases: &[PhaseInfo]) -> Table {
    let shown: Vec<(&PhaseInfo, &Histogram)> = phases
        .iter()
        .filter_map(|p| d.approvals.get(&p.id).filter(|h| h.n() > 0).map(|h| (p, h)))
        .collect();
    let mut all = Histogram::default();
    for h in d.approvals.values() {
        all.merge(h);
    }
    let unit = unit_of(shown.iter().map(|(_, h)| *h).chain([&all]));
    let mut table_rows: Vec<TableRow> = shown
        .iter()
        .map(|(p, h)| {
            count_row(
                format!("To leave {}", phase_label(phases, p.id)),
                String::new(),
                vec![
                    h.n().to_string(),
                    unit.format(h.mean_hours()),
                    unit.format(h.p90_hours()),
                ],
                h.mean_hours().map(|m| unit.of_hours(m)),
            )
        })
        .collect();
    table_rows.push(TableRow {
        total: true,
        ..count_row(
            "All approvals".into(),
            String::new(),
            vec![
                all.n().to_string(),
                unit.format(all.mean_hours()),
                unit.format(all.p90_hours()),
            ],
            None,
        )
    });
    Table {
        key: "approvals",
        title: "Approval turnaround",
        caption: format!("Approval turnaround, in {}", unit.name()),
        columns: vec!["Approval", "Decided", unit.mean_column(), unit.p90_column()],
        rows: table_rows,
        notes: vec![
            "From the approval being requested to its decision (approved or denied), across every round of votes. \
             Approvals withdrawn because the release left the phase, and those still pending, are not counted."
                .into(),
            format!("{UNIT_NOTE} {}.", unit.name()),
            PERCENTILE_NOTE.into(),
        ],
        chart: Some((unit.mean_measure(), 2)),
        numeric: true,
    }
}

/// Active releases whose planned window touches each of the coming weeks.
fn weeks_table(conn: &mut PgConnection, s: &Scope, now: DateTime<Utc>) -> QueryResult<Table> {
    let weeks: Vec<WeekCount> = scoped(
        // The active releases planned in the weeks are read once (by releases_active_schedule),
        // then placed in each week.
        "WITH planned AS MATERIALIZED ( \
             SELECT COALESCE(r.planned_start, r.planned_end) AS starts, COALESCE(r.planned_end, r.planned_start) AS ends \
             FROM releases r WHERE {scope} AND r.state = 'active' \
               AND COALESCE(r.planned_start, r.planned_end) < $6::timestamptz + interval '168 hours' \
               AND COALESCE(r.planned_end, r.planned_start) >= $5::timestamptz) \
         SELECT w.week, count(p.starts) AS n \
         FROM generate_series($5::timestamptz, $6::timestamptz, interval '168 hours') AS w(week) \
         LEFT JOIN planned p ON p.starts < w.week + interval '168 hours' AND p.ends >= w.week \
         GROUP BY w.week ORDER BY w.week",
        s,
    )
    .bind::<Timestamptz, _>(week_start(now))
    .bind::<Timestamptz, _>(week_start(now) + Duration::weeks(WEEKS_AHEAD - 1))
    .load(conn)?;
    Ok(Table {
        key: "weeks",
        title: "Busiest coming weeks",
        caption: format!("Active releases planned in each of the next {WEEKS_AHEAD} weeks"),
        columns: vec!["Week starting (Monday, UTC)", "Releases planned"],
        rows: weeks
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let label = format!("{}{}", w.week.format("%Y-%m-%d"), if i == 0 { " (this week)" } else { "" });
                count_row(label, String::new(), vec![w.n.to_string()], Some(w.n as f64))
            })
            .collect(),
        notes: vec![
            "Active releases whose planned window (planned start to planned end) touches the week; a release spanning several weeks counts in each."
                .into(),
        ],
        chart: Some(("Releases planned", 1)),
        numeric: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(from: &str, to: &str) -> MonthSplit {
        ReportFilter {
            from: from.into(),
            to: to.into(),
            ..Default::default()
        }
        .scope()
        .month_split()
    }

    fn d(s: &str) -> NaiveDate {
        date(s).unwrap()
    }

    #[test]
    fn an_open_range_is_all_kept_months() {
        assert_eq!(
            split("", ""),
            MonthSplit {
                months: Some((None, None)),
                days: vec![]
            }
        );
        assert_eq!(
            split("", "2026-06-20"),
            MonthSplit {
                months: Some((None, Some(d("2026-06-01")))),
                days: vec![(d("2026-06-01"), d("2026-06-20"))]
            }
        );
        assert_eq!(
            split("2026-03-01", ""),
            MonthSplit {
                months: Some((Some(d("2026-03-01")), None)),
                days: vec![]
            }
        );
    }

    #[test]
    fn part_months_at_either_end_are_read_by_day() {
        assert_eq!(
            split("2026-03-15", "2026-06-20"),
            MonthSplit {
                months: Some((Some(d("2026-04-01")), Some(d("2026-06-01")))),
                days: vec![
                    (d("2026-03-15"), d("2026-03-31")),
                    (d("2026-06-01"), d("2026-06-20"))
                ]
            }
        );
        assert_eq!(
            split("2026-03-01", "2026-06-30"),
            MonthSplit {
                months: Some((Some(d("2026-03-01")), Some(d("2026-07-01")))),
                days: vec![]
            }
        );
        assert_eq!(
            split("2024-02-01", "2024-02-29"),
            MonthSplit {
                months: Some((Some(d("2024-02-01")), Some(d("2024-03-01")))),
                days: vec![]
            }
        );
    }

    #[test]
    fn a_range_without_a_whole_month_is_read_by_day() {
        assert_eq!(
            split("2026-03-10", "2026-03-20"),
            MonthSplit {
                months: None,
                days: vec![(d("2026-03-10"), d("2026-03-20"))]
            }
        );
        assert_eq!(
            split("2026-03-02", "2026-04-01"),
            MonthSplit {
                months: None,
                days: vec![(d("2026-03-02"), d("2026-04-01"))]
            }
        );
        assert_eq!(
            split("2026-06-10", "2026-03-01"),
            MonthSplit {
                months: None,
                days: vec![(d("2026-06-10"), d("2026-03-01"))]
            }
        );
    }
}
