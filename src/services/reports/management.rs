//! The management report: its filter and scope, the figures read in one pass, the report.
use super::*;

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

pub(super) fn date(s: &str) -> Option<NaiveDate> {
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
    pub(super) fn start_ts(&self) -> Option<DateTime<Utc>> {
        self.from
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
    }

    /// The day after `to`, so the whole of `to` is in the range.
    pub(super) fn end_ts(&self) -> Option<DateTime<Utc>> {
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
pub(super) const SCOPE: &str = "r.kind = 'release' \
    AND ($1::timestamptz IS NULL OR r.created_at >= $1) \
    AND ($2::timestamptz IS NULL OR r.created_at < $2) \
    AND ($3::bigint IS NULL OR r.category_id = $3) \
    AND ($4::text IS NULL OR r.release_type = $4)";

/// A query with `{scope}` replaced by the scope's conditions, its parameters bound.
pub(super) fn scoped(sql: &str, s: &Scope) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
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
pub(super) fn when(t: &Option<DateTime<Utc>>) -> String {
    crate::views::opt_datetime(t)
}

/// Monday 00:00 UTC of the week of `now`.
pub fn week_start(now: DateTime<Utc>) -> DateTime<Utc> {
    day_start(now) - Duration::days(i64::from(now.weekday().num_days_from_monday()))
}

#[derive(QueryableByName)]
pub(super) struct OverdueRow {
    #[diesel(sql_type = BigInt)]
    pub(super) number: i64,
    #[diesel(sql_type = Text)]
    pub(super) title: String,
    #[diesel(sql_type = Text)]
    pub(super) release_type: String,
    #[diesel(sql_type = BigInt)]
    pub(super) phase_id: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub(super) phase_due_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub(super) planned_end: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(super) coordinator_id: Option<i64>,
    #[diesel(sql_type = BigInt)]
    pub(super) total: i64,
}

#[derive(QueryableByName)]
pub(super) struct WeekCount {
    #[diesel(sql_type = Timestamptz)]
    pub(super) week: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    pub(super) n: i64,
}

pub(super) const UNIT_NOTE: &str = "Durations are shown in the unit that suits the figures of this table (minutes, hours or days; \
     \u{201c}< 0.1\u{201d} is under a tenth of it); here in";

pub(super) const PERCENTILE_NOTE: &str = "Counts and means are exact; the 90th percentile is read from durations kept in steps of 10 %, \
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
    pub(super) fn add(&mut self, c: Cell) {
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

    pub(super) fn state(&self, s: RecordState) -> i64 {
        self.states.get(s.as_str()).copied().unwrap_or(0)
    }
}

#[derive(QueryableByName)]
pub(super) struct Cell {
    #[diesel(sql_type = Text)]
    pub(super) measure: String,
    #[diesel(sql_type = Text)]
    pub(super) release_type: String,
    #[diesel(sql_type = BigInt)]
    pub(super) phase_id: i64,
    #[diesel(sql_type = Integer)]
    pub(super) bin: i32,
    #[diesel(sql_type = BigInt)]
    pub(super) n: i64,
    #[diesel(sql_type = Double)]
    pub(super) seconds: f64,
}

/// The kept cells of the whole registration months in `[from, to)` (either end open), with
/// the changes not folded in yet.
pub(super) const KEPT_CELLS: &str = "SELECT c.measure, c.release_type, c.phase_id, c.bin, sum(c.n)::bigint AS n, sum(c.seconds)::float8 AS seconds FROM ( \
        SELECT measure, month, category_id, release_type, phase_id, bin, n, seconds FROM report_cells \
        UNION ALL \
        SELECT measure, month, category_id, release_type, phase_id, bin, n, seconds FROM report_cell_changes) c \
     WHERE ($1::date IS NULL OR c.month >= $1) AND ($2::date IS NULL OR c.month < $2) \
       AND ($3::bigint IS NULL OR c.category_id = $3) AND ($4::text IS NULL OR c.release_type = $4) \
     GROUP BY c.measure, c.release_type, c.phase_id, c.bin";

/// The same cells computed from the records, for the days of a month only partly in scope.
pub(super) const LIVE_CELLS: &str = "SELECT r.measure, r.release_type, r.phase_id, report_bin(r.s) AS bin, count(*) AS n, sum(r.s)::float8 AS seconds \
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
