//! Reports: the dashboard, the printable release report, the management report (each number
//! checked against a count made here from the database), and the CSV downloads.
use chrono::{DateTime, Datelike, Duration, Utc};
use diesel::prelude::*;
use relman::domain::histogram::Unit;
use relman::domain::roles::Role;
use relman::schema::{approvals, categories, phases, release_phase_visits, releases};
use relman::services::reports::{pct, week_start};

use crate::releases::{cab_approves, register, save, take, to_distribution};
use crate::support::{Client, TestApp};

// ---------------------------------------------------------------- helpers

/// The rows of the table with this caption: each row's cells as text (row header first).
fn table(html: &str, caption: &str) -> Vec<Vec<String>> {
    let doc = scraper::Html::parse_document(html);
    let tables = scraper::Selector::parse("table").unwrap();
    let cap = scraper::Selector::parse("caption").unwrap();
    let tr = scraper::Selector::parse("tbody tr").unwrap();
    let cell = scraper::Selector::parse("th, td").unwrap();
    let text = |e: scraper::ElementRef| {
        e.text()
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let t = doc
        .select(&tables)
        .find(|t| t.select(&cap).next().is_some_and(|c| text(c) == caption))
        .unwrap_or_else(|| panic!("no table captioned {caption:?} in:\n{html}"));
    t.select(&tr)
        .map(|r| r.select(&cell).map(text).collect())
        .collect()
}

/// The caption of the first table whose caption starts with `prefix`.
fn caption_starting(html: &str, prefix: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let cap = scraper::Selector::parse("table caption").unwrap();
    doc.select(&cap)
        .map(|c| {
            c.text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .find(|c| c.starts_with(prefix))
        .unwrap_or_else(|| panic!("no table captioned {prefix:?}…"))
}

/// A table of durations (its caption ends "in minutes", "in hours" or "in days"): its rows
/// and the unit it is in.
fn duration_table(html: &str, prefix: &str) -> (Vec<Vec<String>>, Unit) {
    let caption = caption_starting(html, prefix);
    let unit = match caption.rsplit(' ').next() {
        Some("minutes") => Unit::Minutes,
        Some("hours") => Unit::Hours,
        Some("days") => Unit::Days,
        _ => panic!("no unit in {caption:?}"),
    };
    (table(html, &caption), unit)
}

fn lead_table(html: &str) -> (Vec<Vec<String>>, Unit) {
    duration_table(html, "Lead time per phase and overall, in ")
}

fn turnaround_table(html: &str) -> (Vec<Vec<String>>, Unit) {
    duration_table(html, "Approval turnaround, in ")
}

/// The cell in the row named `row`, column `col` (0 is the row's name).
#[track_caller]
fn cell<'a>(rows: &'a [Vec<String>], row: &str, col: usize) -> &'a str {
    &rows
        .iter()
        .find(|r| r[0] == row)
        .unwrap_or_else(|| panic!("no row {row:?} in {rows:?}"))[col]
}

/// Every link's target, as a browser reads it.
fn links(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let a = scraper::Selector::parse("a[href]").unwrap();
    doc.select(&a)
        .filter_map(|e| e.value().attr("href").map(str::to_string))
        .collect()
}

#[track_caller]
fn assert_links_to(html: &str, href: &str) {
    assert!(
        links(html).iter().any(|l| l == href),
        "no link to {href:?} in {:?}",
        links(html)
    );
}

fn parse_csv(body: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(body.as_bytes());
    let head = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(str::to_string).collect())
        .collect();
    (head, rows)
}

/// GET with the response headers too.
async fn get_with_headers(c: &Client, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = c
        .http
        .get(format!("{}{path}", c.base))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

fn number_of(n: &str) -> i64 {
    relman::paths::parse_release_number(n).unwrap()
}

/// `percentile_cont(0.9)`: linear interpolation between the closest ranks.
fn p90(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pos = 0.9 * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

/// The report's 90th percentile is read from steps 10 % wide: within 10 % of the exact one
/// (and the 0.05 of rounding to one decimal), in the table's unit.
#[track_caller]
fn assert_p90(shown: &str, values: &[f64], unit: Unit, what: &str) {
    match p90(values) {
        None => assert_eq!(shown, "—", "{what}"),
        Some(x) => {
            let x = unit.of_hours(x);
            if shown == "< 0.1" {
                assert!(
                    x > 0.0 && x < 0.1 * 1.1,
                    "{what}: {shown} against the exact {x:.3}"
                );
                return;
            }
            let v: f64 = shown
                .parse()
                .unwrap_or_else(|_| panic!("{what}: {shown:?} is not a number"));
            assert!(
                (v - x).abs() <= x * 0.1 + 0.05,
                "{what}: {shown} against the exact {x:.3}"
            );
        }
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

fn hours_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_microseconds().unwrap() as f64 / 3_600_000_000.0
}

type ReleaseFacts = (
    i64,
    String,
    String,
    String,
    i64,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// Every release: (number, phase, type, state, category, created, closed, planned start, planned end, phase due).
fn all_releases(app: &TestApp) -> Vec<ReleaseFacts> {
    releases::table
        .inner_join(phases::table)
        .filter(releases::kind.eq("release"))
        .select((
            releases::number,
            phases::name,
            releases::release_type,
            releases::state,
            releases::category_id,
            releases::created_at,
            releases::closed_at,
            releases::planned_start,
            releases::planned_end,
            releases::phase_due_at,
        ))
        .load(&mut app.conn())
        .unwrap()
}

/// Register a release in a category through the form, with extra fields.
async fn register_in(
    c: &Client,
    category: i64,
    title: &str,
    release_type: &str,
    extra: &[(&str, &str)],
) -> String {
    let cat = category.to_string();
    let mut fields = vec![
        ("category", cat.as_str()),
        ("type", release_type),
        ("title", title),
        ("description", "Report test"),
        ("reason", "business_requirement"),
        ("impact", "low"),
        ("urgency", "low"),
        ("risk", ""),
        ("planned_start", "2026-12-01T09:00"),
        ("planned_end", "2026-12-20T17:00"),
    ];
    fields.extend_from_slice(extra);
    let p = c.post("/releases/new", &fields).await;
    assert_eq!(p.status, 303, "registering failed:\n{}", p.body);
    p.location
        .as_deref()
        .unwrap()
        .trim_start_matches("/releases/")
        .to_string()
}

fn set_sql(app: &TestApp, sql: &str) {
    diesel::sql_query(sql).execute(&mut app.conn()).unwrap();
}

/// A fixed data set: releases in several phases, one overdue by its phase, one by its plan,
/// one abandoned, one closed successful, one closed backed out, one in another category,
/// and backdated phase visits and approvals so durations differ.
async fn data_set(app: &TestApp) -> i64 {
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let infra: i64 = diesel::insert_into(categories::table)
        .values((
            categories::name.eq("Infrastructure"),
            categories::record_kind.eq("release"),
            categories::workflow_id.eq(1_i64),
        ))
        .returning(categories::id)
        .get_result(&mut app.conn())
        .unwrap();

    let alpha = register(&c, "Alpha", "major", "medium", "medium").await;
    take(app, &c, &alpha, "Advance to Plan and Design", "")
        .await
        .assert_status(303);

    let bravo = register(&c, "Bravo", "minor", "low", "low").await;
    set_sql(
        app,
        &format!(
            "UPDATE releases SET phase_due_at = now() - interval '2 days' WHERE number = {}",
            number_of(&bravo)
        ),
    );

    let charlie = register(&c, "Charlie", "emergency", "low", "low").await;
    take(app, &c, &charlie, "Abandon release", "No longer needed")
        .await
        .assert_status(303);

    let delta = register(&c, "Delta", "major", "medium", "high").await;
    to_distribution(app, &c, &delta).await;
    save(app, &c, &delta, &[("actual_start", "2026-11-20T10:00")])
        .await
        .assert_status(303);
    cab_approves(app, &delta).await;
    take(app, &c, &delta, "Advance to Verification", "")
        .await
        .assert_status(303);
    save(
        app,
        &c,
        &delta,
        &[
            ("actual_end", "2026-11-21T10:00"),
            ("verification", "Green"),
            ("evaluation", "Fine"),
        ],
    )
    .await
    .assert_status(303);
    take(app, &c, &delta, "Close as successful", "")
        .await
        .assert_status(303);

    let echo = register(&c, "Echo", "minor", "low", "low").await;
    to_distribution(app, &c, &echo).await;
    save(app, &c, &echo, &[("actual_start", "2026-11-20T10:00")])
        .await
        .assert_status(303);
    take(app, &c, &echo, "Activate back-out plan", "Payments failing")
        .await
        .assert_status(303);
    take(app, &c, &echo, "Advance to Verification", "")
        .await
        .assert_status(303);
    save(
        app,
        &c,
        &echo,
        &[
            ("actual_end", "2026-11-21T10:00"),
            ("verification", "Old version back"),
            ("evaluation", "Thin tests"),
        ],
    )
    .await
    .assert_status(303);
    take(app, &c, &echo, "Close as backed out", "")
        .await
        .assert_status(303);

    let foxtrot = register_in(&c, infra, "Foxtrot", "minor", &[]).await;
    set_sql(
        app,
        &format!("UPDATE releases SET planned_start = now() - interval '5 days', planned_end = now() - interval '1 day' WHERE number = {}", number_of(&foxtrot)),
    );
    let golf = register(&c, "Golf", "major", "low", "low").await;
    set_sql(
        app,
        &format!("UPDATE releases SET planned_start = now() + interval '8 days', planned_end = now() + interval '9 days' WHERE number = {}", number_of(&golf)),
    );
    // Durations that differ from visit to visit, approval to approval.
    set_sql(app, "UPDATE release_phase_visits SET entered_at = left_at - ((id % 7) + 1) * interval '5 hours 10 minutes' WHERE status = 'left'");
    set_sql(app, "UPDATE approvals SET opened_at = decided_at - ((id % 4) + 1) * interval '3 hours 20 minutes' WHERE decided_at IS NOT NULL");
    set_sql(app, "UPDATE releases SET created_at = created_at - interval '3 days 4 hours' WHERE title = 'Delta'");
    infra
}

// ---------------------------------------------------------------- the management report

/// The on-time table against a count of the records: only a successful closing is on time
/// (or late, or unrated without a planned end); backed out and abandoned are rows of their own.
#[track_caller]
fn assert_on_time_matches_records(html: &str, all: &[ReleaseFacts]) {
    let on_time = table(html, "Ended releases against their planned end");
    let successful: Vec<_> = all.iter().filter(|r| r.3 == "closed_successful").collect();
    let in_time = successful
        .iter()
        .filter(|r| r.8.is_some_and(|e| r.6.unwrap() <= e))
        .count() as i64;
    let late = successful
        .iter()
        .filter(|r| r.8.is_some_and(|e| r.6.unwrap() > e))
        .count() as i64;
    let unplanned = successful.iter().filter(|r| r.8.is_none()).count() as i64;
    let count = |s: &str| all.iter().filter(|r| r.3 == s).count() as i64;
    let ended = count("closed_successful") + count("closed_backed_out") + count("abandoned");
    for (row, n) in [
        ("Closed successful on or before the planned end", in_time),
        ("Closed successful after the planned end", late),
        (
            "Closed successful without a planned end (not rated)",
            unplanned,
        ),
        (
            "Closed as backed out (not delivered)",
            count("closed_backed_out"),
        ),
        ("Abandoned (not delivered)", count("abandoned")),
        ("Ended releases", ended),
    ] {
        assert_eq!(cell(&on_time, row, 1), n.to_string(), "{row}");
    }
    assert_eq!(
        cell(
            &on_time,
            "On-time rate of successful closings with a planned end",
            1
        ),
        pct(in_time, in_time + late)
    );
    assert_eq!(
        cell(&on_time, "Delivered on time, of all ended releases", 1),
        pct(in_time, ended)
    );
}

#[tokio::test]
async fn every_number_of_the_management_report_matches_a_count_of_the_data() {
    let app = TestApp::spawn().await;
    let infra = data_set(&app).await;
    let m = app.signed_in("mona", &[Role::Manager]).await;
    let page = m.get("/reports/management").await;
    page.assert_status(200)
        .assert_lacks("<nav")
        .assert_contains("All releases.")
        .assert_contains("printed");
    let html = &page.body;
    let now = Utc::now();
    let all = all_releases(&app);
    let active: Vec<_> = all.iter().filter(|r| r.3 == "active").collect();

    // Active by phase and type.
    let by_phase = table(html, "Active releases by phase and type");
    for phase in [
        "Assess",
        "Plan and Design",
        "Build and Test",
        "Training",
        "Distribution and Rollout",
        "Back Out",
        "Verification",
    ] {
        for (col, t) in [(1, "emergency"), (2, "major"), (3, "minor")] {
            let n = active.iter().filter(|r| r.1 == phase && r.2 == t).count();
            assert_eq!(cell(&by_phase, phase, col), n.to_string(), "{phase} / {t}");
        }
        assert_eq!(
            cell(&by_phase, phase, 4),
            active.iter().filter(|r| r.1 == phase).count().to_string(),
            "{phase}"
        );
    }
    assert_eq!(cell(&by_phase, "All phases", 4), active.len().to_string());
    assert_eq!(
        cell(&by_phase, "Assess", 4),
        "3",
        "Bravo, Foxtrot and Golf are in Assess"
    );
    let assess: i64 = phases::table
        .filter(phases::name.eq("Assess"))
        .filter(phases::workflow_id.eq(1))
        .select(phases::id)
        .first(&mut app.conn())
        .unwrap();
    assert_links_to(html, &format!("/releases?phase={assess}&state=active"));

    // Overdue.
    let overdue: Vec<_> = active
        .iter()
        .filter(|r| r.9.is_some_and(|d| d < now) || r.8.is_some_and(|d| d < now))
        .collect();
    assert_eq!(
        overdue.len(),
        2,
        "Bravo by its phase, Foxtrot by its planned end"
    );
    page.assert_contains("2 active releases are overdue");
    let rows = table(html, "Overdue releases, most overdue first");
    let mut listed: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    let mut expected: Vec<String> = overdue
        .iter()
        .map(|r| relman::paths::release_number(r.0))
        .collect();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);

    // Outcomes.
    let outcomes = table(html, "Outcomes of the releases that ended");
    let count = |s: &str| all.iter().filter(|r| r.3 == s).count() as i64;
    let ended = count("closed_successful") + count("closed_backed_out") + count("abandoned");
    assert_eq!(ended, 3);
    for (row, state) in [
        ("Closed — successful", "closed_successful"),
        ("Closed — backed out", "closed_backed_out"),
        ("Abandoned", "abandoned"),
    ] {
        assert_eq!(cell(&outcomes, row, 1), count(state).to_string(), "{row}");
        assert_eq!(cell(&outcomes, row, 2), pct(count(state), ended), "{row}");
    }
    assert_eq!(cell(&outcomes, "Closed — successful", 2), "33.3%");
    assert_eq!(cell(&outcomes, "Ended releases", 1), "3");
    assert_eq!(cell(&outcomes, "Still active", 1), active.len().to_string());

    // Lead times per phase, from the visits themselves.
    let visits: Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)> = release_phase_visits::table
        .inner_join(phases::table.on(phases::id.eq(release_phase_visits::phase_id)))
        .filter(release_phase_visits::status.eq("left"))
        .select((
            phases::name,
            release_phase_visits::entered_at,
            release_phase_visits::left_at,
        ))
        .load(&mut app.conn())
        .unwrap();
    let (lead, unit) = lead_table(html);
    for phase in [
        "Assess",
        "Plan and Design",
        "Build and Test",
        "Distribution and Rollout",
        "Back Out",
        "Verification",
    ] {
        let h: Vec<f64> = visits
            .iter()
            .filter(|v| v.0 == phase)
            .map(|v| hours_between(v.1, v.2.unwrap()))
            .collect();
        assert_eq!(cell(&lead, phase, 1), h.len().to_string(), "{phase}");
        assert_eq!(cell(&lead, phase, 2), unit.format(mean(&h)), "{phase}");
        assert_p90(cell(&lead, phase, 3), &h, unit, phase);
    }
    assert_eq!(cell(&lead, "Training", 1), "0");
    assert_eq!(cell(&lead, "Training", 2), "—");
    let closed: Vec<f64> = all
        .iter()
        .filter(|r| r.3 == "closed_successful" || r.3 == "closed_backed_out")
        .map(|r| hours_between(r.5, r.6.unwrap()))
        .collect();
    assert_eq!(cell(&lead, "Registered to closed", 1), "2");
    assert_eq!(
        cell(&lead, "Registered to closed", 2),
        unit.format(mean(&closed))
    );
    assert_p90(
        cell(&lead, "Registered to closed", 3),
        &closed,
        unit,
        "registered to closed",
    );
    assert!(
        mean(&closed).unwrap() > 38.0,
        "Delta was registered three days earlier"
    );

    // On time against the planned end: successful closings only.
    assert_on_time_matches_records(html, &all);

    // Approval turnaround, from the approvals themselves.
    let decided: Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)> = approvals::table
        .inner_join(phases::table.on(phases::id.eq(approvals::phase_id)))
        .filter(approvals::status.eq_any(["approved", "denied"]))
        .select((phases::name, approvals::opened_at, approvals::decided_at))
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(
        decided.len(),
        5,
        "Delta: three approvals; Echo: two (the third was withdrawn by the back-out)"
    );
    let (turn, unit) = turnaround_table(html);
    for phase in [
        "Plan and Design",
        "Build and Test",
        "Distribution and Rollout",
    ] {
        let h: Vec<f64> = decided
            .iter()
            .filter(|a| a.0 == phase)
            .map(|a| hours_between(a.1, a.2.unwrap()))
            .collect();
        let row = format!("To leave {phase}");
        assert_eq!(cell(&turn, &row, 1), h.len().to_string(), "{phase}");
        assert_eq!(cell(&turn, &row, 2), unit.format(mean(&h)), "{phase}");
        assert_p90(cell(&turn, &row, 3), &h, unit, phase);
    }
    let h: Vec<f64> = decided
        .iter()
        .map(|a| hours_between(a.1, a.2.unwrap()))
        .collect();
    assert_eq!(cell(&turn, "All approvals", 1), "5");
    assert_eq!(cell(&turn, "All approvals", 2), unit.format(mean(&h)));
    assert_p90(cell(&turn, "All approvals", 3), &h, unit, "all approvals");

    // The coming weeks.
    let weeks = table(html, "Active releases planned in each of the next 8 weeks");
    assert_eq!(weeks.len(), 8);
    let w0 = week_start(now);
    for (i, row) in weeks.iter().enumerate() {
        let start = w0 + Duration::weeks(i as i64);
        let end = start + Duration::weeks(1);
        let n = active
            .iter()
            .filter(|r| match (r.7.or(r.8), r.8.or(r.7)) {
                (Some(s), Some(e)) => s < end && e >= start,
                _ => false,
            })
            .count();
        assert!(
            row[0].starts_with(&start.format("%Y-%m-%d").to_string()),
            "{row:?}"
        );
        assert_eq!(row[1], n.to_string(), "week of {start}");
    }

    // Charts: inline SVG with a title, no script and no style attributes.
    page.assert_contains(
        "<svg class=\"chart\" role=\"img\" aria-labelledby=\"chart-by_phase-title\"",
    )
    .assert_contains("<title id=\"chart-by_phase-title\">")
    .assert_lacks("<script")
    .assert_lacks(" style=");

    // Filtered: another category and type.
    let filtered = m
        .get(&format!("/reports/management?category={infra}&type=minor"))
        .await;
    filtered
        .assert_status(200)
        .assert_contains("category Infrastructure, type Minor");
    let by_phase = table(&filtered.body, "Active releases by phase and type");
    assert_eq!(cell(&by_phase, "Assess", 3), "1", "Foxtrot");
    assert_eq!(cell(&by_phase, "All phases", 4), "1");
    filtered.assert_contains("1 active release is overdue");
    let outcomes = table(&filtered.body, "Outcomes of the releases that ended");
    assert_eq!(cell(&outcomes, "Ended releases", 1), "0");
    assert_eq!(cell(&outcomes, "Ended releases", 2), "—");
    // Registered tomorrow or later: nothing.
    let tomorrow = (now + Duration::days(1)).format("%Y-%m-%d").to_string();
    let later = m.get(&format!("/reports/management?from={tomorrow}")).await;
    assert_eq!(
        cell(
            &table(&later.body, "Active releases by phase and type"),
            "All phases",
            4
        ),
        "0"
    );
    // Registered in the last two days: Delta (three days old) drops out of the closed ones.
    let since = (now - Duration::days(2)).format("%Y-%m-%d").to_string();
    let recent = m.get(&format!("/reports/management?from={since}")).await;
    assert_eq!(
        cell(
            &table(&recent.body, "Outcomes of the releases that ended"),
            "Closed — successful",
            1
        ),
        "0"
    );

    // Each table's CSV holds the same cells as the page.
    assert_links_to(html, "/reports/management.csv?table=outcomes");
    let lead_caption = caption_starting(html, "Lead time per phase and overall, in ");
    let turnaround_caption = caption_starting(html, "Approval turnaround, in ");
    for (key, caption) in [
        ("by_phase", "Active releases by phase and type"),
        ("outcomes", "Outcomes of the releases that ended"),
        ("lead_times", lead_caption.as_str()),
        ("on_time", "Ended releases against their planned end"),
        ("approvals", turnaround_caption.as_str()),
        ("overdue", "Overdue releases, most overdue first"),
    ] {
        let (status, headers, body) =
            get_with_headers(&m, &format!("/reports/management.csv?table={key}")).await;
        assert_eq!(status, 200, "{key}: {body}");
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        assert!(
            headers["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment; filename=\"management-"),
            "{headers:?}"
        );
        let (_, rows) = parse_csv(&body);
        assert_eq!(rows, table(html, caption), "{key}");
    }
    let filtered_csv = get_with_headers(
        &m,
        &format!("/reports/management.csv?table=by_phase&category={infra}&type=minor"),
    )
    .await
    .2;
    assert_eq!(
        parse_csv(&filtered_csv).1,
        table(&filtered.body, "Active releases by phase and type")
    );
    assert_eq!(
        m.get("/reports/management.csv?table=nonsense").await.status,
        400
    );
}

/// Register a release with its planned window through the form.
async fn register_planned(
    c: &Client,
    title: &str,
    release_type: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> String {
    let (start, end) = (
        start.format("%Y-%m-%dT%H:%M").to_string(),
        end.format("%Y-%m-%dT%H:%M").to_string(),
    );
    let p = c
        .post(
            "/releases/new",
            &[
                ("category", "1"),
                ("type", release_type),
                ("title", title),
                ("description", "Report test"),
                ("reason", "business_requirement"),
                ("impact", "low"),
                ("urgency", "low"),
                ("risk", ""),
                ("planned_start", &start),
                ("planned_end", &end),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "registering failed:\n{}", p.body);
    p.location
        .as_deref()
        .unwrap()
        .trim_start_matches("/releases/")
        .to_string()
}

/// Carry a release through Distribution and Rollout and Verification to its close, through
/// the pages: `successful` or backed out on the way.
async fn close_through_the_pages(app: &TestApp, c: &Client, n: &str, successful: bool) {
    to_distribution(app, c, n).await;
    save(app, c, n, &[("actual_start", "2026-11-20T10:00")])
        .await
        .assert_status(303);
    if successful {
        cab_approves(app, n).await;
    } else {
        take(app, c, n, "Activate back-out plan", "Payments failing")
            .await
            .assert_status(303);
    }
    take(app, c, n, "Advance to Verification", "")
        .await
        .assert_status(303);
    save(
        app,
        c,
        n,
        &[
            ("actual_end", "2026-11-21T10:00"),
            ("verification", "Checked"),
            ("evaluation", "Noted"),
        ],
    )
    .await
    .assert_status(303);
    let close = if successful {
        "Close as successful"
    } else {
        "Close as backed out"
    };
    take(app, c, n, close, "").await.assert_status(303);
}

/// The values written beside the bars of a chart.
fn bar_values(html: &str, key: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(&format!("svg[aria-labelledby=\"chart-{key}-title\"] text"))
        .unwrap();
    // Each bar has its label, then its value.
    doc.select(&sel)
        .map(|t| t.text().collect::<String>())
        .collect::<Vec<_>>()
        .chunks(2)
        .filter_map(|p| p.get(1).cloned())
        .collect()
}

#[tokio::test]
async fn on_time_counts_only_successful_closings_and_durations_read_in_a_unit_that_fits() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let now = Utc::now();
    let days = Duration::days;
    // Ended through the pages, each as a release team would.
    let on_time = register_planned(&c, "On time", "minor", now - days(1), now + days(5)).await;
    close_through_the_pages(&app, &c, &on_time, true).await;
    let late = register_planned(&c, "Late", "minor", now - days(10), now - days(1)).await;
    close_through_the_pages(&app, &c, &late, true).await;
    // Backed out well before its planned end: not delivered, so not on time.
    let backed_out =
        register_planned(&c, "Backed out", "major", now - days(1), now + days(5)).await;
    close_through_the_pages(&app, &c, &backed_out, false).await;
    let abandoned = register_planned(&c, "Abandoned", "minor", now, now + days(5)).await;
    take(&app, &c, &abandoned, "Abandon release", "No longer needed")
        .await
        .assert_status(303);
    let _active = register_planned(&c, "Still going", "major", now, now + days(3)).await;
    // Visits of minutes and approvals of minutes: the hours they used to be shown in read "0.0".
    set_sql(&app, "UPDATE release_phase_visits SET entered_at = left_at - ((id % 5) + 2) * interval '3 minutes' WHERE status = 'left'");
    set_sql(&app, "UPDATE approvals SET opened_at = decided_at - ((id % 3) + 1) * interval '4 minutes' WHERE decided_at IS NOT NULL");

    let m = app.signed_in("mona", &[Role::Manager]).await;
    let page = m.get("/reports/management").await;
    page.assert_status(200);
    let html = &page.body;
    let all = all_releases(&app);
    assert_eq!(all.len(), 5);

    // On time: one, though the backed-out release closed before its planned end too.
    assert_on_time_matches_records(html, &all);
    let rows = table(html, "Ended releases against their planned end");
    assert_eq!(
        cell(&rows, "Closed successful on or before the planned end", 1),
        "1"
    );
    assert_eq!(
        cell(&rows, "Closed successful after the planned end", 1),
        "1"
    );
    assert_eq!(cell(&rows, "Closed as backed out (not delivered)", 1), "1");
    assert_eq!(cell(&rows, "Abandoned (not delivered)", 1), "1");
    assert_eq!(cell(&rows, "Ended releases", 1), "4");
    assert_eq!(
        cell(
            &rows,
            "On-time rate of successful closings with a planned end",
            1
        ),
        "50.0%"
    );
    assert_eq!(
        cell(&rows, "Delivered on time, of all ended releases", 1),
        "25.0%"
    );

    // Outcomes, from the records.
    let outcomes = table(html, "Outcomes of the releases that ended");
    let count = |s: &str| all.iter().filter(|r| r.3 == s).count() as i64;
    for (row, state) in [
        ("Closed — successful", "closed_successful"),
        ("Closed — backed out", "closed_backed_out"),
        ("Abandoned", "abandoned"),
    ] {
        assert_eq!(cell(&outcomes, row, 1), count(state).to_string(), "{row}");
        assert_eq!(cell(&outcomes, row, 2), pct(count(state), 4), "{row}");
    }
    assert_eq!(
        cell(&outcomes, "Still active", 1),
        count("active").to_string()
    );
    let by_phase = table(html, "Active releases by phase and type");
    assert_eq!(
        cell(&by_phase, "All phases", 4),
        count("active").to_string()
    );

    // Lead times and approval turnaround in minutes, every figure from the records.
    let (_, unit) = lead_table(html);
    assert_eq!(
        unit,
        Unit::Minutes,
        "visits of minutes are shown in minutes"
    );
    assert_lead_times(html, &left_visits(&app), |_, _| true, "all");
    let (lead, _) = lead_table(html);
    let closed: Vec<f64> = all
        .iter()
        .filter(|r| r.3 == "closed_successful" || r.3 == "closed_backed_out")
        .map(|r| hours_between(r.5, r.6.unwrap()))
        .collect();
    assert_eq!(cell(&lead, "Registered to closed", 1), "3");
    assert_eq!(
        cell(&lead, "Registered to closed", 2),
        unit.format(mean(&closed))
    );
    let decided: Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)> = approvals::table
        .inner_join(phases::table.on(phases::id.eq(approvals::phase_id)))
        .filter(approvals::status.eq_any(["approved", "denied"]))
        .select((phases::name, approvals::opened_at, approvals::decided_at))
        .load(&mut app.conn())
        .unwrap();
    let (turn, unit) = turnaround_table(html);
    assert_eq!(unit, Unit::Minutes);
    let h: Vec<f64> = decided
        .iter()
        .map(|a| hours_between(a.1, a.2.unwrap()))
        .collect();
    assert_eq!(cell(&turn, "All approvals", 1), h.len().to_string());
    assert_eq!(cell(&turn, "All approvals", 2), unit.format(mean(&h)));
    assert_p90(cell(&turn, "All approvals", 3), &h, unit, "all approvals");
    page.assert_contains("<th scope=\"col\">Mean (minutes)</th>");

    // The bars read as the cells do, and none of them says "0.0".
    for key in ["lead_times", "approvals"] {
        let values = bar_values(html, key);
        assert!(!values.is_empty(), "{key} has a chart");
        for v in &values {
            assert!(v != "0.0", "{key}: a bar labelled 0.0 in {values:?}");
        }
    }
    let lead_values = bar_values(html, "lead_times");
    let visited: Vec<&String> = lead
        .iter()
        .filter(|r| r[0] != "Registered to closed" && r[1] != "0")
        .map(|r| &r[2])
        .collect();
    for v in visited {
        assert!(
            lead_values.contains(v),
            "{v} is a bar's label: {lead_values:?}"
        );
    }
}

/// Every left visit: (phase, hours, category, registered).
fn left_visits(app: &TestApp) -> Vec<(String, f64, i64, DateTime<Utc>)> {
    release_phase_visits::table
        .inner_join(phases::table.on(phases::id.eq(release_phase_visits::phase_id)))
        .inner_join(releases::table.on(releases::id.eq(release_phase_visits::release_id)))
        .filter(release_phase_visits::status.eq("left"))
        .filter(releases::kind.eq("release"))
        .select((
            phases::name,
            release_phase_visits::entered_at,
            release_phase_visits::left_at,
            releases::category_id,
            releases::created_at,
        ))
        .load::<(
            String,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
            i64,
            DateTime<Utc>,
        )>(&mut app.conn())
        .unwrap()
        .into_iter()
        .map(|(p, e, l, c, r)| (p, hours_between(e, l.unwrap()), c, r))
        .collect()
}

/// The lead-time rows of a report page against the visits `keep` selects.
#[track_caller]
fn assert_lead_times(
    html: &str,
    visits: &[(String, f64, i64, DateTime<Utc>)],
    keep: impl Fn(i64, DateTime<Utc>) -> bool,
    what: &str,
) {
    let (lead, unit) = lead_table(html);
    for phase in [
        "Assess",
        "Plan and Design",
        "Build and Test",
        "Training",
        "Distribution and Rollout",
        "Back Out",
        "Verification",
    ] {
        let h: Vec<f64> = visits
            .iter()
            .filter(|v| v.0 == phase && keep(v.2, v.3))
            .map(|v| v.1)
            .collect();
        assert_eq!(
            cell(&lead, phase, 1),
            h.len().to_string(),
            "{what}: {phase}"
        );
        assert_eq!(
            cell(&lead, phase, 2),
            unit.format(mean(&h)),
            "{what}: {phase}"
        );
        assert_p90(cell(&lead, phase, 3), &h, unit, phase);
    }
}

/// Folds the appended changes, then compares every kept cell with a count of the records.
#[track_caller]
fn assert_cells_match_records(app: &TestApp) {
    relman::services::reports::fold_cells(&mut app.conn()).unwrap();
    let wrong: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM (SELECT * FROM report_cells WHERE n <> 0) k \
         FULL JOIN report_cells_from_records r USING (measure, month, category_id, release_type, phase_id, bin) \
         WHERE k.n IS DISTINCT FROM r.n OR abs(k.seconds - r.seconds) > 0.01",
    )
    .get_result(&mut app.conn())
    .unwrap();
    assert_eq!(
        wrong, 0,
        "kept cells that differ from a count of the records"
    );
}

/// Lead times and turnaround come from kept histograms: folding the appended changes into
/// them, moving a release to another category, and ranges that cover part of a month (read
/// from the records) all give the figures a count of the data gives.
#[tokio::test]
async fn kept_durations_match_the_records_through_folds_edits_and_part_months() {
    let app = TestApp::spawn().await;
    let infra = data_set(&app).await;
    let m = app.signed_in("mona", &[Role::Manager]).await;
    let turn = |html: &str| turnaround_table(html).0;
    let before = m.get("/reports/management").await.body;
    assert_lead_times(&before, &left_visits(&app), |_, _| true, "before the fold");

    let moved = relman::services::reports::fold_cells(&mut app.conn()).unwrap();
    assert!(moved > 0, "the data set's transitions appended durations");
    let waiting: i64 =
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM report_cell_changes")
            .get_result(&mut app.conn())
            .unwrap();
    assert_eq!(waiting, 0);
    let after = m.get("/reports/management").await.body;
    assert_eq!(lead_table(&after), lead_table(&before));
    assert_eq!(turn(&after), turn(&before));
    assert_eq!(
        relman::services::reports::fold_cells(&mut app.conn()).unwrap(),
        0,
        "nothing left to fold"
    );
    assert_cells_match_records(&app);

    // Delta moves to Infrastructure: its visits and approvals follow it.
    set_sql(
        &app,
        &format!("UPDATE releases SET category_id = {infra} WHERE title = 'Delta'"),
    );
    let visits = left_visits(&app);
    let infra_page = m
        .get(&format!("/reports/management?category={infra}"))
        .await
        .body;
    assert_lead_times(&infra_page, &visits, |c, _| c == infra, "Infrastructure");
    assert_ne!(
        cell(&turn(&infra_page), "All approvals", 1),
        "0",
        "Delta's approvals moved with it"
    );
    let rest = m
        .get(&format!(
            "/reports/management?category={}",
            visits.iter().find(|v| v.2 != infra).map(|v| v.2).unwrap()
        ))
        .await
        .body;
    assert_lead_times(&rest, &visits, |c, _| c != infra, "the other category");
    assert_cells_match_records(&app);

    // Ranges by day: a whole month, part of one, and one that starts mid-month.
    let now = Utc::now();
    let day = |t: DateTime<Utc>| t.date_naive();
    let first = day(now).with_day(1).unwrap();
    let last = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap()
        .pred_opt()
        .unwrap();
    let since = day(now - Duration::days(2));
    for (from, to) in [
        (first, last),
        (since, day(now)),
        (since, last),
        (first - Duration::days(40), day(now)),
    ] {
        let page = m
            .get(&format!("/reports/management?from={from}&to={to}"))
            .await
            .body;
        assert_lead_times(
            &page,
            &visits,
            |_, r| day(r) >= from && day(r) <= to,
            &format!("{from} to {to}"),
        );
    }
}

#[tokio::test]
async fn only_managers_see_the_management_report_and_its_nav_item() {
    let app = TestApp::spawn().await;
    let c = app
        .signed_in("cora", &[Role::Coordinator, Role::Approver])
        .await;
    c.get("/reports/management").await.assert_status(403);
    c.get("/reports/management.csv?table=outcomes")
        .await
        .assert_status(403);
    c.get("/")
        .await
        .assert_status(200)
        .assert_lacks("href=\"/reports/management\"");
    let m = app.signed_in("mona", &[Role::Manager]).await;
    m.get("/")
        .await
        .assert_contains("<a href=\"/reports/management\">Reports</a>");
    m.get("/reports/management")
        .await
        .assert_status(200)
        .assert_contains("Management report: release progress");
}

// ---------------------------------------------------------------- the release list as CSV

#[tokio::test]
async fn the_release_list_csv_has_the_rows_of_the_filtered_list_and_survives_a_csv_parser() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let mut numbers = Vec::new();
    for (title, t) in [
        ("One", "minor"),
        ("Two", "major"),
        ("Three", "minor"),
        ("Four", "minor"),
        ("Five", "emergency"),
    ] {
        numbers.push((register(&c, title, t, "low", "low").await, t));
    }
    let tricky = "Billing, \"quoted\" edition\nsecond line — ünïcode";
    set_sql(
        &app,
        &format!(
            "UPDATE releases SET title = $${tricky}$$ WHERE number = {}",
            number_of(&numbers[2].0)
        ),
    );
    take(&app, &c, &numbers[3].0, "Abandon release", "Not needed")
        .await
        .assert_status(303);

    let list = c.get("/releases?type=minor&state=active&sort=number").await;
    list.assert_status(200);
    assert_links_to(
        &list.body,
        "/releases.csv?type=minor&state=active&sort=number",
    );
    let page_rows = table(&list.body, "Releases, page 1");
    let page_numbers: Vec<String> = page_rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(
        page_numbers,
        vec![numbers[0].0.clone(), numbers[2].0.clone()]
    );

    let (status, headers, body) =
        get_with_headers(&c, "/releases.csv?type=minor&state=active&sort=number").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"releases-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let (head, rows) = parse_csv(&body);
    assert_eq!(&head[..3], ["Number", "Title", "Type"]);
    let csv_numbers: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(
        csv_numbers, page_numbers,
        "the same rows as the page, in the same order"
    );
    assert_eq!(
        rows[1][1], tricky,
        "a comma, quotes, a line break and non-ASCII survive the round trip"
    );
    assert_eq!(rows[0][2], "Minor");
    assert_eq!(rows[0][5], "Active");

    // Without filters: every release, past the page size of the list.
    let all = parse_csv(&get_with_headers(&c, "/releases.csv").await.2).1;
    assert_eq!(all.len(), 5);
    // A title that a spreadsheet would run as a formula is defused.
    set_sql(
        &app,
        &format!(
            "UPDATE releases SET title = '=HYPERLINK(\"x\")' WHERE number = {}",
            number_of(&numbers[0].0)
        ),
    );
    let rows = parse_csv(&get_with_headers(&c, "/releases.csv?sort=number").await.2).1;
    assert_eq!(rows[0][1], "'=HYPERLINK(\"x\")");
}

// ---------------------------------------------------------------- the dashboard

/// The caption of the dashboard's "next 14 days" table.
fn schedule_caption() -> String {
    format!(
        "Active releases whose planned window meets the time between now and {}, by planned start",
        (Utc::now() + Duration::days(14)).format("%Y-%m-%d")
    )
}

#[tokio::test]
async fn the_next_14_days_lists_the_active_releases_whose_planned_window_meets_them() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let window = |n: &str, start: &str, end: &str| {
        set_sql(
            &app,
            &format!(
                "UPDATE releases SET planned_start = now() + interval '{start}', planned_end = now() + interval '{end}' WHERE number = {}",
                number_of(n)
            ),
        )
    };
    // Before: started weeks ago, ended a minute ago (today, most likely).
    let before = register(&c, "Ended a minute ago", "minor", "low", "low").await;
    window(&before, "-21 days", "-1 minute");
    // Long before: started and ended weeks ago.
    let long_before = register(&c, "Weeks ago", "minor", "low", "low").await;
    window(&long_before, "-30 days", "-20 days");
    // Across: started three weeks ago, still planned to run for two days.
    let across = register(&c, "Running since three weeks", "major", "low", "low").await;
    window(&across, "-21 days", "2 days");
    // Inside.
    let inside = register(&c, "In five days", "minor", "low", "low").await;
    window(&inside, "5 days", "6 days");
    // At the far edge: starts just before the 14 days are up.
    let edge = register(&c, "Just inside", "minor", "low", "low").await;
    window(&edge, "13 days 23 hours 58 minutes", "15 days");
    // After: starts a day after the 14 days.
    let after = register(&c, "Too late", "minor", "low", "low").await;
    window(&after, "15 days", "16 days");
    // Ended: its window is in the 14 days, but it was abandoned.
    let ended = register(&c, "Abandoned one", "minor", "low", "low").await;
    window(&ended, "3 days", "4 days");
    take(&app, &c, &ended, "Abandon release", "Not needed")
        .await
        .assert_status(303);

    let page = c.get("/").await;
    page.assert_status(200);
    let rows = table(&page.body, &schedule_caption());
    let listed: Vec<String> = rows
        .iter()
        .map(|r| r[0].split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(
        listed,
        vec![across.clone(), inside.clone(), edge.clone()],
        "across, inside and at the edge, by planned start; not {before} (ended a minute ago), \
         {long_before}, {after} (after the 14 days) or {ended} (abandoned): {rows:?}"
    );
}

#[tokio::test]
async fn the_dashboard_shows_my_tasks_my_approvals_releases_by_phase_and_the_schedule() {
    let app = TestApp::spawn().await;
    let cora_id = app.user("cora", &[Role::Coordinator], &[]);
    let c = app.client();
    c.login("cora", crate::support::PASSWORD)
        .await
        .assert_redirect_to("/");
    let cora = cora_id.to_string();
    let planned = register_in(
        &c,
        1,
        "Payroll 7",
        "major",
        &[("model", "1"), ("coordinator", &cora)],
    )
    .await;
    set_sql(&app, &format!("UPDATE releases SET planned_start = now() + interval '30 days', planned_end = now() + interval '40 days' WHERE number = {}", number_of(&planned)));
    let other = register(&c, "Billing 4.2", "minor", "low", "low").await;
    take(&app, &c, &other, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    set_sql(&app, &format!("UPDATE releases SET planned_start = now() + interval '2 days', planned_end = now() + interval '3 days' WHERE number = {}", number_of(&other)));

    let page = c.get("/").await;
    page.assert_status(200)
        .assert_contains("Welcome, cora (test)")
        .assert_contains("Release Coordinator")
        .assert_contains("My open tasks");
    let task: (i64, String) = relman::schema::tasks::table
        .filter(relman::schema::tasks::assignee_id.eq(cora_id))
        .filter(relman::schema::tasks::due_at.is_not_null())
        .order(relman::schema::tasks::id)
        .select((relman::schema::tasks::id, relman::schema::tasks::title))
        .first(&mut app.conn())
        .expect("the model gave cora a task");
    page.assert_contains(&format!("<a href=\"/tasks/{}\">{}</a>", task.0, task.1))
        .assert_contains("href=\"/tasks\"");
    page.assert_contains(&format!("href=\"/releases/{planned}\""));
    // Releases by phase: one in Assess, one in Plan and Design, each count a link.
    let ids: Vec<(String, i64)> = phases::table
        .filter(phases::workflow_id.eq(1))
        .select((phases::name, phases::id))
        .load(&mut app.conn())
        .unwrap();
    let id = |n: &str| ids.iter().find(|(x, _)| x == n).unwrap().1;
    page.assert_contains(&format!("<a href=\"/releases?phase={}&amp;state=active\">1<span class=\"visually-hidden\"> active in Assess</span></a>", id("Assess")));
    page.assert_contains(&format!("<a href=\"/releases?phase={}&amp;state=active\">1<span class=\"visually-hidden\"> active in Plan and Design</span></a>", id("Plan and Design")));
    let rows = table(&page.body, "Release Management: 2 active");
    assert_eq!(
        cell(&rows, "Build and Test", 1),
        "0 active in Build and Test"
    );
    // The next 14 days: Billing is planned in two days; Payroll in a month is not.
    let schedule = table(&page.body, &schedule_caption());
    assert_eq!(schedule.len(), 1);
    assert!(schedule[0][0].starts_with(&other), "{schedule:?}");
    // Overdue releases cora coordinates.
    page.assert_contains("No release is overdue.");
    set_sql(
        &app,
        &format!(
            "UPDATE releases SET phase_due_at = now() - interval '1 day' WHERE number = {}",
            number_of(&planned)
        ),
    );
    let page = c.get("/").await;
    let overdue = table(
        &page.body,
        "Overdue releases: the phase's due date or the planned end has passed",
    );
    assert_eq!(overdue.len(), 1);
    assert!(overdue[0][0].starts_with(&planned));
    page.assert_lacks("Approvals waiting for me");

    // An approver of the CAB sees the Plan and Design approval of Billing.
    app.user("abe", &[Role::Approver], &["CAB"]);
    let a = app.client();
    a.login("abe", crate::support::PASSWORD)
        .await
        .assert_redirect_to("/");
    let page = a.get("/").await;
    let waiting = table(
        &page.body,
        "Approvals waiting for my decision, oldest first",
    );
    assert_eq!(waiting.len(), 1);
    assert!(waiting[0][0].starts_with(&other), "{waiting:?}");
    page.assert_contains("<a href=\"/approvals\">Approvals inbox (1 waiting)</a>")
        .assert_lacks("Overdue releases");

    // A manager sees the totals and every overdue release.
    let m = app.signed_in("mona", &[Role::Manager]).await;
    let page = m.get("/").await;
    page.assert_contains("<a href=\"/releases?state=active\">2<span class=\"visually-hidden\"> active releases</span></a>")
        .assert_contains("<a href=\"/reports/management#overdue\">1<span class=\"visually-hidden\"> overdue releases</span></a>");
    let overdue = table(
        &page.body,
        "Overdue releases: the phase's due date or the planned end has passed",
    );
    assert_eq!(overdue.len(), 1);
}

// ---------------------------------------------------------------- the release report

#[tokio::test]
async fn the_release_report_is_printable_and_holds_the_record_its_timeline_approvals_and_history() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register_in(&c, 1, "Billing 4.2", "major", &[("model", "1")]).await;
    diesel::update(relman::schema::tasks::table)
        .set(relman::schema::tasks::status.eq("done"))
        .execute(&mut app.conn())
        .unwrap();
    take(&app, &c, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    save(
        &app,
        &c,
        &n,
        &[
            ("release_plan", "Plan\nin two steps"),
            ("deployment_plan", "Deploy"),
            ("test_criteria", "All green"),
            ("backout_plan", "Restore the snapshot"),
        ],
    )
    .await
    .assert_status(303);
    app.user("abe", &[Role::Approver], &["CAB"]);
    let abe = app.client();
    abe.login("abe", crate::support::PASSWORD)
        .await
        .assert_redirect_to("/");
    crate::releases::vote(&app, &abe, &n, "deny", "Too risky")
        .await
        .assert_status(303);
    set_sql(
        &app,
        &format!(
            "UPDATE releases SET phase_due_at = now() - interval '1 day' WHERE number = {}",
            number_of(&n)
        ),
    );
    set_sql(&app, "UPDATE release_phase_visits SET due_at = now() - interval '1 day' WHERE status = 'current'");

    c.get(&format!("/releases/{n}"))
        .await
        .assert_contains(&format!(
            "<a class=\"button secondary\" href=\"/releases/{n}/report\">Print report</a>"
        ));
    let page = c.get(&format!("/releases/{n}/report")).await;
    page.assert_status(200)
        .assert_lacks("<nav")
        .assert_contains("<link rel=\"stylesheet\" href=\"/static/print.css\">")
        .assert_contains(&format!(
            "<span class=\"record-number\">{n}</span> Billing 4.2"
        ))
        .assert_contains("Release report")
        .assert_contains("printed ");
    let fields = table(&page.body, &format!("Fields of {n}"));
    assert_eq!(
        fields.len(),
        relman::domain::fields::RELEASE_FIELDS.len(),
        "every field of the release"
    );
    assert_eq!(cell(&fields, "Release plan", 1), "Plan in two steps");
    assert_eq!(cell(&fields, "Back-out plan", 1), "Restore the snapshot");
    assert_eq!(
        cell(&fields, "Post-implementation evaluation", 1),
        "Not filled in"
    );
    let timeline = table(
        &page.body,
        &format!("Phases of {n} in the order it went through them"),
    );
    assert_eq!(timeline.len(), 2);
    assert_eq!(timeline[0][0], "Assess");
    assert_ne!(timeline[0][2], "—", "Assess was left: when");
    assert_eq!(timeline[1][0], "Plan and Design");
    assert_eq!(timeline[1][2], "Current phase");
    assert!(
        timeline[1][4].starts_with("Overdue by 1 day"),
        "{timeline:?}"
    );
    // Tasks in one table, a heading row per phase.
    let tasks = table(&page.body, &format!("Tasks of {n} by phase"));
    assert_eq!(tasks[0], vec!["Assess".to_string()], "{tasks:?}");
    assert!(tasks.len() > 1);
    // The summary: who decided, the windows, the work.
    page.assert_contains("<section id=\"summary\"");
    let decided = table(&page.body, &format!("Approvals of {n} and who decided"));
    assert_eq!(decided.len(), 1, "{decided:?}");
    assert_eq!(decided[0][0], "CAB, to leave Plan and Design");
    assert_eq!(decided[0][3], "abe (test) denied: Too risky");
    let windows = table(&page.body, &format!("Planned and actual window of {n}"));
    assert_eq!(
        windows[0][..3],
        ["Planned", "2026-12-01 09:00", "2026-12-20 17:00"]
    );
    assert_eq!(windows[0][3], "19 days 8 hours");
    assert_eq!(windows[1][1], "—", "not started yet");
    page.assert_contains("Tasks: ");
    let history = table(&page.body, &format!("History of {n}, oldest first"));
    assert!(
        history
            .iter()
            .any(|r| r[2].contains("Advance to Plan and Design")),
        "{history:?}"
    );
    assert!(
        history.iter().any(|r| r[3].contains("Release plan")),
        "field changes are in the history: {history:?}"
    );
    page.assert_contains("<h3 id=\"approval-")
        .assert_contains("CAB approval to leave Plan and Design");
    let log = table(
        &page.body,
        "Log of the CAB approval to leave Plan and Design",
    );
    assert!(
        log.iter().any(|r| r[3] == "Denied" && r[4] == "Too risky"),
        "{log:?}"
    );
    for id in ["record", "timeline", "tasks", "approvals", "history"] {
        page.assert_contains(&format!("<section id=\"{id}\""));
    }
    c.get("/releases/RL-999999/report").await.assert_status(404);
}

/// GET the raw bytes of a download.
async fn get_bytes(c: &Client, path: &str) -> Vec<u8> {
    let r = c
        .http
        .get(format!("{}{path}", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{path}");
    r.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn every_csv_download_starts_with_a_utf8_byte_order_mark_so_spreadsheets_read_non_ascii_names(
) {
    let app = TestApp::spawn().await;
    let chloe = app.user("chloe", &[Role::Coordinator], &[]);
    set_sql(
        &app,
        &format!("UPDATE users SET display_name = 'Chloé Müller' WHERE id = {chloe}"),
    );
    let m = app.signed_in("mona", &[Role::Manager]).await;
    let chloe = chloe.to_string();
    let n = register_in(&m, 1, "Café façade", "minor", &[("coordinator", &chloe)]).await;
    set_sql(
        &app,
        &format!(
            "UPDATE releases SET title = '=1+2 Crème' WHERE number = {}",
            number_of(&n)
        ),
    );
    let bom = [0xEF, 0xBB, 0xBF];
    let body = get_bytes(&m, "/releases.csv").await;
    assert_eq!(&body[..3], bom, "the release list CSV opens with the BOM");
    assert!(
        body[3..].starts_with(b"Number,Title,"),
        "then the header row"
    );
    let text = std::str::from_utf8(&body[3..]).expect("UTF-8 after the BOM");
    assert!(
        text.contains("Chloé Müller"),
        "the coordinator's name in UTF-8: {text}"
    );
    assert!(
        text.contains("'=1+2 Crème"),
        "a formula-like title is still neutralised: {text}"
    );
    assert_eq!(
        text.matches('\u{feff}').count(),
        0,
        "one BOM, at the start only"
    );
    for table in relman::services::reports::TABLE_KEYS {
        let body = get_bytes(&m, &format!("/reports/management.csv?table={table}")).await;
        assert_eq!(&body[..3], bom, "management.csv?table={table}");
        assert_ne!(body[3], 0xEF, "one BOM only ({table})");
    }
}

// ---------------------------------------------------------------- the release report on paper

/// Runs a program of the test tool set, with a clear message when it is missing.
fn run_tool(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs (tests/run installs it): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Where a `YYYY-MM-DD` in `text` is not followed by its time on the same line: a date broken
/// over two lines.
fn broken_dates(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let mut broken = Vec::new();
    for i in 0..b.len() {
        let is_date = digits(i..i + 4)
            && b.get(i + 4) == Some(&b'-')
            && digits(i + 5..i + 7)
            && b.get(i + 7) == Some(&b'-')
            && digits(i + 8..i + 10)
            && (i == 0 || !b[i - 1].is_ascii_digit());
        if is_date {
            let time = b.get(i + 10) == Some(&b' ')
                && digits(i + 11..i + 13)
                && b.get(i + 13) == Some(&b':');
            if !time {
                broken.push(String::from_utf8_lossy(&b[i..(i + 16).min(b.len())]).into_owned());
            }
        }
        // A date cut after its year: "2026-" with the rest of it elsewhere.
        let cut = digits(i..i + 4)
            && b.get(i + 4) == Some(&b'-')
            && !b.get(i + 5).is_some_and(u8::is_ascii_digit)
            && (i == 0 || !b[i - 1].is_ascii_digit());
        if cut {
            broken.push(String::from_utf8_lossy(&b[i..(i + 5).min(b.len())]).into_owned());
        }
    }
    broken
}

/// The demo's largest release (most history, tasks and approval decisions) prints on at most
/// six A4 pages, page 1 its summary alone, no date broken over lines: the report page as a
/// browser prints it (headless Chromium), counted by poppler's `pdfinfo`.
#[tokio::test]
async fn the_demos_largest_release_prints_a_one_page_summary_and_at_most_six_pages() {
    let app = TestApp::spawn().await;
    let demo = relman::tools::demo::load(&mut app.conn()).expect("demo loads");
    let pw = demo
        .users
        .iter()
        .find(|(u, _)| u == "mara")
        .unwrap()
        .1
        .clone();
    let m = app.client();
    m.login("mara", &pw).await.assert_redirect_to("/");
    let largest: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT r.number FROM releases r WHERE r.kind = 'release' ORDER BY \
           (SELECT count(*) FROM history_events h WHERE h.release_id = r.id) \
         + (SELECT count(*) FROM tasks t WHERE t.release_id = r.id) \
         + (SELECT count(*) FROM approval_log l JOIN approvals a ON a.id = l.approval_id WHERE a.release_id = r.id) DESC, \
           r.number LIMIT 1",
    )
    .get_result(&mut app.conn())
    .unwrap();
    let n = relman::paths::release_number(largest);
    let page = m.get(&format!("/releases/{n}/report")).await;
    page.assert_status(200);

    // The page as saved from the browser, its style sheets fetched from the test server.
    let dir = std::env::temp_dir().join(format!("relman-report-{}-{largest}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join("report.html");
    let pdf = dir.join("report.pdf");
    std::fs::write(
        &html,
        page.body
            .replace("href=\"/static/", &format!("href=\"{}/static/", app.base)),
    )
    .unwrap();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let print_to = format!("--print-to-pdf={}", pdf.display());
    let profile = format!("--user-data-dir={}", dir.join("profile").display());
    run_tool(
        &chromium,
        &[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            &profile,
            &print_to,
            html.to_str().unwrap(),
        ],
    );
    let pdf = pdf.to_str().unwrap();
    let info = run_tool("pdfinfo", &[pdf]);
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no page count in {info}"));
    assert!(info.contains("(A4)"), "printed on A4: {info}");
    eprintln!("{n} prints on {pages} pages");
    assert!(
        (2..=6).contains(&pages),
        "{n} printed on {pages} pages, not 2 to 6"
    );

    // Page 1 is the summary, whole; the details start on page 2.
    let text = |p: usize| {
        let p = p.to_string();
        run_tool("pdftotext", &["-layout", "-f", &p, "-l", &p, pdf, "-"])
    };
    let first = text(1);
    for part in [
        "Summary",
        "OUTCOME",
        &format!("Planned and actual window of {n}"),
        "Phase timeline",
        &format!("Approvals of {n} and who decided"),
        "Tasks: ",
    ] {
        assert!(first.contains(part), "page 1 lacks {part:?}:\n{first}");
    }
    assert!(
        !first.contains("Fields of"),
        "the details are not on page 1:\n{first}"
    );
    assert!(
        text(2).trim_start().starts_with("Release record"),
        "the details start on page 2:\n{}",
        text(2)
    );
    for p in 1..=pages {
        let t = text(p);
        assert!(
            broken_dates(&t).is_empty(),
            "page {p}: dates broken over lines {:?}:\n{t}",
            broken_dates(&t)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
