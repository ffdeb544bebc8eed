//! The management report's tables, each built from the figures already read.
use super::*;

pub(super) fn count_row(
    name: String,
    href: String,
    cells: Vec<String>,
    chart_value: Option<f64>,
) -> TableRow {
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
pub(super) fn by_phase_table(f: &Figures, s: &Scope, phases: &[PhaseInfo]) -> Table {
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
pub(super) fn overdue_table(
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
pub(super) fn outcomes_table(f: &Figures) -> Table {
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
pub(super) fn unit_of<'a>(hs: impl IntoIterator<Item = &'a Histogram>) -> Unit {
    Unit::for_hours(
        hs.into_iter()
            .flat_map(|h| [h.mean_hours(), h.p90_hours()])
            .flatten(),
    )
}

/// Time spent in each phase, per visit, and from registration to closing.
pub(super) fn lead_times_table(d: &Figures, phases: &[PhaseInfo]) -> Table {
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
pub(super) fn on_time_table(f: &Figures) -> Table {
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
pub(super) fn approvals_table(d: &Figures, phases: &[PhaseInfo]) -> Table {
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
pub(super) fn weeks_table(
    conn: &mut PgConnection,
    s: &Scope,
    now: DateTime<Utc>,
) -> QueryResult<Table> {
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
