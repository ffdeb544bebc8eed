//! Fast at scale, at a size CI can afford: the hot pages run a fixed number of statements
//! whatever the data (counted at two data sizes through Diesel's instrumentation), and none
//! of their statements needs a sequential scan of a large table (each one EXPLAINed with
//! sequential scans priced out, so a plan that still has one has no index to use).
use std::collections::HashMap;
use std::sync::{Mutex, Once};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use relman::tools::seed;

use crate::support::{TestApp, PASSWORD};

/// Statements run per database (each test has its own), and the SQL of those of the
/// database being traced.
static COUNTS: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);
static TRACE: Mutex<Option<(String, Vec<String>)>> = Mutex::new(None);
static INSTALL: Once = Once::new();

struct Counter {
    db: Option<String>,
}

impl Instrumentation for Counter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartEstablishConnection { url, .. } => {
                let path = url.split('?').next().unwrap_or(url);
                self.db = path.rsplit('/').next().map(str::to_string);
            }
            InstrumentationEvent::StartQuery { query, .. } => {
                let Some(db) = &self.db else { return };
                *COUNTS
                    .lock()
                    .unwrap()
                    .get_or_insert_with(HashMap::new)
                    .entry(db.clone())
                    .or_default() += 1;
                if let Some((traced, sql)) = TRACE.lock().unwrap().as_mut() {
                    if traced == db {
                        sql.push(query.to_string());
                    }
                }
            }
            _ => {}
        }
    }
}

fn install() {
    INSTALL.call_once(|| {
        diesel::connection::set_default_instrumentation(|| Some(Box::new(Counter { db: None })))
            .expect("instrumentation");
    });
}

fn count(db: &str) -> usize {
    COUNTS
        .lock()
        .unwrap()
        .as_ref()
        .and_then(|m| m.get(db).copied())
        .unwrap_or(0)
}

fn load(app: &TestApp, releases: u64, seed_no: u64) {
    let mut conn = app.db.conn();
    let opts = seed::Options {
        password: Some(PASSWORD.to_string()),
        batch: 500,
        ..seed::Options::new(releases, seed_no)
    };
    seed::run(&mut conn, &opts, true, &mut |_| {}).expect("seed");
}

#[derive(QueryableByName)]
struct One {
    #[diesel(sql_type = diesel::sql_types::Text)]
    v: String,
}

fn one(app: &TestApp, sql: &str) -> String {
    diesel::sql_query(format!("SELECT ({sql})::text AS v"))
        .get_result::<One>(&mut app.db.conn())
        .expect(sql)
        .v
}

/// The hot pages: the release list (first page and a later one), a release with tasks,
/// approvals and history, the dashboard, this month's calendar, the management report.
fn pages(app: &TestApp) -> Vec<String> {
    let build = one(app, "SELECT p.id FROM phases p JOIN workflows w ON w.id = p.workflow_id WHERE w.name = 'Release Management' AND p.name = 'Build and Test'");
    // The same release at both sizes: the oldest active one in Build and Test with a pending approval.
    let number = one(
        app,
        &format!("SELECT 'RL-' || lpad(min(r.number)::text, 6, '0') FROM releases r WHERE r.kind = 'release' AND r.state = 'active' AND r.phase_id = {build} AND EXISTS (SELECT 1 FROM approvals a WHERE a.release_id = r.id AND a.status = 'pending')"),
    );
    let month = chrono::Utc::now().format("%Y-%m");
    vec![
        format!("/releases?phase={build}"),
        format!("/releases?phase={build}&page=3"),
        format!("/releases/{number}"),
        "/".to_string(),
        format!("/calendar?month={month}"),
        "/reports/management".to_string(),
    ]
}

#[tokio::test]
async fn hot_pages_run_the_same_number_of_statements_at_two_data_sizes() {
    install();
    let app = TestApp::spawn().await;
    load(&app, 1_000, 1);
    let c = app.client();
    c.login(seed::LEAD_USERNAME, PASSWORD)
        .await
        .assert_redirect_to("/");
    let paths = pages(&app);
    let mut at_small = Vec::new();
    for p in &paths {
        c.get(p).await.assert_status(200);
        let before = count(&app.db.name);
        c.get(p).await.assert_status(200);
        at_small.push(count(&app.db.name) - before);
    }
    load(&app, 1_000, 2);
    for (p, small) in paths.iter().zip(&at_small) {
        // Seeding adds groups, so the first view reads the workflow's configuration afresh
        // (`services::workflow_config`), as the first view at the smaller size did.
        c.get(p).await.assert_status(200);
        let before = count(&app.db.name);
        c.get(p).await.assert_status(200);
        let large = count(&app.db.name) - before;
        eprintln!("{p}: {large} statements");
        assert_eq!(
            large, *small,
            "{p}: {small} statements at 1,000 releases, {large} at 2,000"
        );
        // A budget that catches an N+1 creeping in (the release page is the heaviest).
        assert!(large <= 70, "{p}: {large} statements");
    }
}

/// A statement as Diesel shows it (`SQL -- binds: [...]`) made runnable: the binds written
/// in as literals.
fn inline_binds(shown: &str) -> Option<String> {
    let (sql, binds) = shown.rsplit_once(" -- binds: ")?;
    let items = split_top(binds.trim().strip_prefix('[')?.strip_suffix(']')?);
    let mut sql = sql.to_string();
    for (i, item) in items.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", i + 1), &literal(item)?);
    }
    Some(sql)
}

fn split_top(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quoted, mut escaped) =
        (Vec::new(), String::new(), 0, false, false);
    for ch in s.chars() {
        if quoted {
            cur.push(ch);
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                quoted = false;
            }
            continue;
        }
        match ch {
            '"' => {
                quoted = true;
                cur.push(ch);
            }
            '[' | '(' => {
                depth += 1;
                cur.push(ch);
            }
            ']' | ')' => {
                depth -= 1;
                cur.push(ch);
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn literal(v: &str) -> Option<String> {
    if v == "None" {
        return Some("NULL".into());
    }
    if let Some(inner) = v.strip_prefix("Some(").and_then(|x| x.strip_suffix(')')) {
        return literal(inner);
    }
    if let Some(inner) = v.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        let items: Option<Vec<String>> = split_top(inner).iter().map(|x| literal(x)).collect();
        let items = items?;
        return Some(if items.is_empty() {
            "'{}'".into()
        } else {
            format!("ARRAY[{}]", items.join(", "))
        });
    }
    if let Some(inner) = v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        let text = inner.replace("\\\"", "\"").replace("\\\\", "\\");
        return Some(format!("'{}'", text.replace('\'', "''")));
    }
    if v == "true" || v == "false" || v.parse::<f64>().is_ok() {
        return Some(v.to_string());
    }
    // Dates and times print as ISO 8601: a quoted literal PostgreSQL reads in context.
    if v.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return Some(format!("'{v}'"));
    }
    None
}

const LARGE: &[&str] = &[
    "releases",
    "release_details",
    "release_phase_visits",
    "tasks",
    "history_events",
    "history_field_changes",
    "approvals",
    "approval_votes",
    "approval_log",
    "notifications",
    "alerts",
];

#[tokio::test]
async fn no_hot_page_needs_a_sequential_scan_of_a_large_table() {
    install();
    let app = TestApp::spawn().await;
    load(&app, 2_000, 3);
    let c = app.client();
    c.login(seed::LEAD_USERNAME, PASSWORD)
        .await
        .assert_redirect_to("/");
    let paths = pages(&app);
    for p in &paths {
        c.get(p).await.assert_status(200);
    }
    *TRACE.lock().unwrap() = Some((app.db.name.clone(), Vec::new()));
    for p in &paths {
        c.get(p).await.assert_status(200);
    }
    let (_, traced) = TRACE.lock().unwrap().take().unwrap();
    let mut conn = app.db.conn();
    diesel::sql_query("SET enable_seqscan = off")
        .execute(&mut conn)
        .unwrap();
    let mut explained = 0;
    let mut scans = Vec::new();
    for shown in traced.iter().filter(|s| {
        s.trim_start().to_uppercase().starts_with("SELECT")
            || s.trim_start().to_uppercase().starts_with("WITH")
    }) {
        let Some(sql) = inline_binds(shown) else {
            continue;
        };
        #[derive(QueryableByName)]
        struct Line {
            #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
            line: String,
        }
        let Ok(plan) = diesel::sql_query(format!("EXPLAIN {sql}")).load::<Line>(&mut conn) else {
            continue;
        };
        explained += 1;
        let plan: Vec<String> = plan.into_iter().map(|l| l.line).collect();
        for l in &plan {
            if let Some(t) = l
                .split("Seq Scan on ")
                .nth(1)
                .and_then(|x| x.split_whitespace().next())
            {
                if LARGE.contains(&t) {
                    scans.push(format!("{t}: {sql}\n{}", plan.join("\n")));
                }
            }
        }
    }
    assert!(
        explained >= 10,
        "only {explained} statements could be explained"
    );
    assert!(
        scans.is_empty(),
        "sequential scans of large tables on hot pages:\n\n{}",
        scans.join("\n\n")
    );
}

#[derive(QueryableByName, PartialEq, Debug)]
struct StateCount {
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    state: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn counts_kept(conn: &mut PgConnection) -> Vec<StateCount> {
    diesel::sql_query("SELECT kind, state, n FROM record_state_counts WHERE n <> 0 ORDER BY 1, 2")
        .load(conn)
        .unwrap()
}

fn counts_now(conn: &mut PgConnection) -> Vec<StateCount> {
    diesel::sql_query("SELECT kind, state, count(*) AS n FROM releases GROUP BY 1, 2 ORDER BY 1, 2")
        .load(conn)
        .unwrap()
}

/// The dashboard's per-state totals come from counts kept by triggers: they match a fresh
/// count after a bulk load, registering, a transition and changes in bulk.
#[tokio::test]
async fn per_state_counts_stay_equal_to_a_fresh_count() {
    let app = TestApp::spawn().await;
    load(&app, 300, 4);
    let mut conn = app.db.conn();
    assert_eq!(counts_kept(&mut conn), counts_now(&mut conn));
    let c = app
        .signed_in("cora", &[relman::domain::roles::Role::Coordinator])
        .await;
    let n = crate::releases::register(&c, "Counted", "minor", "low", "low").await;
    crate::releases::take(&app, &c, &n, "Abandon release", "not needed")
        .await
        .assert_status(303);
    diesel::sql_query("UPDATE releases SET state = 'closed_successful' WHERE id IN (SELECT id FROM releases WHERE state = 'active' ORDER BY id LIMIT 40)").execute(&mut conn).unwrap();
    diesel::sql_query("UPDATE releases SET title = title || ' (renamed)' WHERE id % 3 = 0")
        .execute(&mut conn)
        .unwrap();
    assert_eq!(counts_kept(&mut conn), counts_now(&mut conn));
}

/// A move tells the people of the open tasks of the phase it enters from one statement,
/// whatever the number of tasks: it runs as many statements with three group tasks waiting
/// there as with one (before, one more for each task's group).
#[tokio::test]
async fn a_move_runs_as_many_statements_whatever_the_tasks_of_the_phase_it_enters() {
    use crate::releases::{register, take};
    use relman::domain::roles::Role;
    use relman::schema::{phases, workflows};
    install();
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let plan: i64 = phases::table
        .inner_join(workflows::table)
        .filter(workflows::name.eq("Release Management"))
        .filter(phases::name.eq("Plan and Design"))
        .select(phases::id)
        .first(&mut app.db.conn())
        .unwrap();
    let group = relman::models::groups::all(&mut app.db.conn()).unwrap()[0].clone();
    app.user("gil", &[], &[&group.name]);
    app.user("gus", &[], &[&group.name]);
    let group = group.id;
    let mut statements = Vec::new();
    for tasks in [1, 3] {
        let n = register(&c, "Billing", "minor", "low", "low").await;
        for i in 0..tasks {
            c.post(
                &format!("/releases/{n}/tasks"),
                &[
                    ("title", format!("Prepare part {i}").as_str()),
                    ("phase", &plan.to_string()),
                    ("group", &group.to_string()),
                ],
            )
            .await
            .assert_status(303);
        }
        // Each member of the group is told of each task when the phase is entered.
        use relman::schema::{group_members, notifications};
        let members: i64 = group_members::table
            .filter(group_members::group_id.eq(group))
            .count()
            .get_result(&mut app.db.conn())
            .unwrap();
        let task_notes = || -> i64 {
            notifications::table
                .filter(notifications::kind.eq("task_assigned"))
                .count()
                .get_result(&mut app.db.conn())
                .unwrap()
        };
        let notes_before = task_notes();
        let before = count(&app.db.name);
        take(&app, &c, &n, "Advance to Plan and Design", "")
            .await
            .assert_status(303);
        statements.push(count(&app.db.name) - before);
        let told = task_notes() - notes_before;
        assert!(members > 0);
        assert_eq!(
            told,
            members * tasks,
            "{tasks} group tasks, {members} members"
        );
    }
    assert_eq!(
        statements[0], statements[1],
        "a move into a phase with 1 group task, then with 3: {statements:?} statements"
    );
}
