//! The authorization matrix: every route × method × role (manager, coordinator, approver, admin,
//! a signed-in user with no role, anonymous) with the expected outcome. The route list is read
//! from the application's own route attributes, so a new route without a row here fails.
use std::collections::BTreeSet;

use diesel::prelude::*;
use relman::domain::roles::Role;
use relman::schema::{
    approvals, categories, delegations, knowledge_articles, notifications, phases, release_details,
    tasks, transitions, users, workflows,
};

use crate::support::{Client, TestApp, PASSWORD};

/// The (method, path pattern) of every handler, read from `src/routes/*.rs`.
fn declared_routes() -> BTreeSet<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes");
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let l = line.trim();
            for m in ["get", "post"] {
                if let Some(rest) = l.strip_prefix(&format!("#[{m}(\"")) {
                    let path = rest.split('"').next().unwrap().replace("\\\\", "\\");
                    out.insert((m.to_uppercase(), path));
                }
            }
        }
    }
    out
}

/// Outcomes per role, in the order manager, coordinator, approver, admin, no role, anonymous:
/// `A` allowed (a page, a redirect elsewhere than sign-in, or a 4xx about the input),
/// `F` 403, `L` redirect to sign-in, `4` 404.
pub struct Row {
    pub method: &'static str,
    pub pattern: &'static str,
    pub path: String,
    pub expect: &'static str,
    pub form: Vec<(&'static str, String)>,
}

fn row(
    method: &'static str,
    pattern: &'static str,
    path: impl Into<String>,
    expect: &'static str,
) -> Row {
    Row {
        method,
        pattern,
        path: path.into(),
        expect,
        form: Vec::new(),
    }
}

fn with(mut r: Row, form: &[(&'static str, &str)]) -> Row {
    r.form = form.iter().map(|(k, v)| (*k, v.to_string())).collect();
    r
}

pub struct Ids {
    task: i64,
    approval: i64,
    delegation: i64,
    notification: i64,
    knowledge: i64,
    blackout: i64,
    group: i64,
    victim: i64,
    workflow: i64,
    phase: i64,
    transition: i64,
    category: i64,
    abandon: i64,
    change_abandon: i64,
    release_version: i32,
    change_version: i32,
}

pub fn matrix(i: &Ids) -> Vec<Row> {
    let signed = "AAAAAL";
    let mgr = "AFFFFL";
    let adm = "FFFAFL";
    let work = "AAFFFL";
    let rv = i.release_version.to_string();
    let cv = i.change_version.to_string();
    let wf = format!("/admin/workflows/{}", i.workflow);
    let ph = format!("{wf}/phases/{}", i.phase);
    vec![
        row("GET", "/", "/", signed),
        row("GET", "/healthz", "/healthz", "AAAAAA"),
        row("GET", "/login", "/login", "AAAAAA"),
        with(
            row("POST", "/login", "/login", "AAAAAA"),
            &[("username", "nobody"), ("password", "x")],
        ),
        row("GET", "/account/password", "/account/password", signed),
        row("POST", "/account/password", "/account/password", signed),
        row("GET", "/account/calendar", "/account/calendar", signed),
        row(
            "POST",
            "/account/calendar/token",
            "/account/calendar/token",
            signed,
        ),
        row(
            "GET",
            "/account/delegations",
            "/account/delegations",
            "FFAFFL",
        ),
        row(
            "POST",
            "/account/delegations",
            "/account/delegations",
            "FFAFFL",
        ),
        row(
            "POST",
            "/account/delegations/{id}/end",
            format!("/account/delegations/{}/end", i.delegation),
            "44A44L",
        ),
        row("GET", "/releases", "/releases", signed),
        row("GET", "/releases.csv", "/releases.csv", signed),
        row("GET", "/releases/new", "/releases/new", work),
        row("POST", "/releases/new", "/releases/new", work),
        row("GET", "/releases/{number}", "/releases/RL-000001", signed),
        with(
            row("POST", "/releases/{number}", "/releases/RL-000001", work),
            &[("version", &rv)],
        ),
        with(
            row(
                "POST",
                "/releases/{number}/transitions",
                "/releases/RL-000001/transitions",
                work,
            ),
            &[
                ("transition", &i.abandon.to_string()),
                ("version", &rv),
                ("reason", ""),
            ],
        ),
        row(
            "POST",
            "/releases/{number}/tasks",
            "/releases/RL-000001/tasks",
            work,
        ),
        row(
            "POST",
            "/releases/{number}/changes",
            "/releases/RL-000001/changes",
            work,
        ),
        row(
            "POST",
            "/releases/{number}/bundle",
            "/releases/RL-000001/bundle",
            work,
        ),
        row(
            "POST",
            "/releases/{number}/approvals",
            "/releases/RL-000001/approvals",
            work,
        ),
        with(
            row(
                "POST",
                "/releases/{number}/watch",
                "/releases/RL-000001/watch",
                signed,
            ),
            &[("action", "watch")],
        ),
        row(
            "GET",
            "/releases/{number}/report",
            "/releases/RL-000001/report",
            signed,
        ),
        row(
            "GET",
            "/releases/{number}/publish",
            "/releases/RL-000001/publish",
            mgr,
        ),
        row(
            "POST",
            "/releases/{number}/publish",
            "/releases/RL-000001/publish",
            mgr,
        ),
        row("GET", "/changes", "/changes", signed),
        row("GET", "/changes/new", "/changes/new", work),
        row("POST", "/changes/new", "/changes/new", work),
        row("GET", "/changes/{number}", "/changes/C-000001", signed),
        with(
            row("POST", "/changes/{number}", "/changes/C-000001", work),
            &[("version", &cv)],
        ),
        with(
            row(
                "POST",
                "/changes/{number}/transitions",
                "/changes/C-000001/transitions",
                work,
            ),
            &[
                ("transition", &i.change_abandon.to_string()),
                ("version", &cv),
                ("reason", ""),
            ],
        ),
        row(
            "POST",
            "/changes/{number}/tasks",
            "/changes/C-000001/tasks",
            work,
        ),
        row(
            "POST",
            "/changes/{number}/approvals",
            "/changes/C-000001/approvals",
            work,
        ),
        with(
            row(
                "POST",
                "/changes/{number}/watch",
                "/changes/C-000001/watch",
                signed,
            ),
            &[("action", "watch")],
        ),
        row("GET", "/tasks", "/tasks", signed),
        row("GET", "/tasks/{id}", format!("/tasks/{}", i.task), signed),
        with(
            row("POST", "/tasks/{id}", format!("/tasks/{}", i.task), work),
            &[("action", "complete"), ("version", "0")],
        ),
        row("GET", "/approvals", "/approvals", signed),
        row(
            "GET",
            "/approvals/{id}",
            format!("/approvals/{}", i.approval),
            signed,
        ),
        with(
            row(
                "POST",
                "/approvals/{id}/decision",
                format!("/approvals/{}/decision", i.approval),
                "FFAFFL",
            ),
            &[("decision", "approve"), ("cycle", "1")],
        ),
        row("GET", "/notifications", "/notifications", signed),
        row(
            "POST",
            "/notifications/read-all",
            "/notifications/read-all",
            signed,
        ),
        row(
            "POST",
            "/notifications/{id}/read",
            format!("/notifications/{}/read", i.notification),
            "4A444L",
        ),
        row("GET", "/calendar", "/calendar", signed),
        row("GET", "/calendar.ics", "/calendar.ics", "444444"),
        row("GET", "/knowledge", "/knowledge", signed),
        row(
            "GET",
            "/knowledge/{id}",
            format!("/knowledge/{}", i.knowledge),
            signed,
        ),
        row("GET", "/reports/management", "/reports/management", mgr),
        row(
            "GET",
            "/reports/management.csv",
            "/reports/management.csv?table=by_phase",
            mgr,
        ),
        // Administration of accounts.
        row("GET", "/admin/users", "/admin/users", adm),
        row("GET", "/admin/users/new", "/admin/users/new", adm),
        row("POST", "/admin/users/new", "/admin/users/new", adm),
        row("GET", "/admin/users/sign-ins", "/admin/users/sign-ins", adm),
        row("GET", "/admin/audit", "/admin/audit", adm),
        row(
            "GET",
            "/admin/users/{id}",
            format!("/admin/users/{}", i.victim),
            adm,
        ),
        row(
            "POST",
            "/admin/users/{id}",
            format!("/admin/users/{}", i.victim),
            adm,
        ),
        row(
            "POST",
            "/admin/users/{id}/password",
            format!("/admin/users/{}/password", i.victim),
            adm,
        ),
        row(
            "GET",
            "/admin/users/{id}/deactivate",
            format!("/admin/users/{}/deactivate", i.victim),
            adm,
        ),
        row(
            "POST",
            "/admin/users/{id}/deactivate",
            format!("/admin/users/{}/deactivate", i.victim),
            adm,
        ),
        row(
            "POST",
            "/admin/users/{id}/reactivate",
            format!("/admin/users/{}/reactivate", i.victim),
            adm,
        ),
        row("GET", "/admin/groups", "/admin/groups", adm),
        row("POST", "/admin/groups", "/admin/groups", adm),
        row(
            "GET",
            "/admin/groups/{id}",
            format!("/admin/groups/{}", i.group),
            adm,
        ),
        row(
            "POST",
            "/admin/groups/{id}/members",
            format!("/admin/groups/{}/members", i.group),
            adm,
        ),
        row(
            "GET",
            "/admin/groups/{id}/members/{user_id}/remove",
            format!("/admin/groups/{}/members/{}/remove", i.group, i.victim),
            adm,
        ),
        row(
            "POST",
            "/admin/groups/{id}/members/{user_id}/remove",
            format!("/admin/groups/{}/members/{}/remove", i.group, i.victim),
            adm,
        ),
        // The release policy.
        row("GET", "/admin/workflows", "/admin/workflows", mgr),
        row("POST", "/admin/workflows", "/admin/workflows", mgr),
        row(
            "POST",
            "/admin/workflows/copy",
            "/admin/workflows/copy",
            mgr,
        ),
        row("GET", "/admin/workflows/{id:\\d+}", wf.clone(), mgr),
        row("POST", "/admin/workflows/{id:\\d+}", wf.clone(), mgr),
        row(
            "GET",
            "/admin/workflows/{id:\\d+}/fields",
            format!("{wf}/fields"),
            mgr,
        ),
        row(
            "POST",
            "/admin/workflows/{id:\\d+}/fields",
            format!("{wf}/fields"),
            mgr,
        ),
        row(
            "POST",
            "/admin/workflows/{id:\\d+}/phases",
            format!("{wf}/phases"),
            mgr,
        ),
        row(
            "GET",
            "/admin/workflows/{id:\\d+}/phases/{phase_id:\\d+}",
            ph.clone(),
            mgr,
        ),
        row(
            "POST",
            "/admin/workflows/{id:\\d+}/phases/{phase_id:\\d+}",
            ph.clone(),
            mgr,
        ),
        with(
            row(
                "POST",
                "/admin/workflows/{id:\\d+}/phases/{phase_id:\\d+}/move",
                format!("{ph}/move"),
                mgr,
            ),
            &[("direction", "down")],
        ),
        row(
            "GET",
            "/admin/workflows/{id:\\d+}/phases/{phase_id:\\d+}/retire",
            format!("{ph}/retire"),
            mgr,
        ),
        row(
            "POST",
            "/admin/workflows/{id:\\d+}/phases/{phase_id:\\d+}/retire",
            format!("{ph}/retire"),
            mgr,
        ),
        row(
            "POST",
            "/admin/workflows/{id:\\d+}/phases/{phase_id:\\d+}/restore",
            format!("{ph}/restore"),
            mgr,
        ),
        row(
            "POST",
            "/admin/workflows/{id:\\d+}/transitions",
            format!("{wf}/transitions"),
            mgr,
        ),
        row(
            "GET",
            "/admin/workflows/{id:\\d+}/transitions/{transition_id:\\d+}/remove",
            format!("{wf}/transitions/{}/remove", i.transition),
            mgr,
        ),
        row(
            "POST",
            "/admin/workflows/{id:\\d+}/transitions/{transition_id:\\d+}/remove",
            format!("{wf}/transitions/{}/remove", i.transition),
            mgr,
        ),
        row(
            "POST",
            "/admin/workflows/{id:\\d+}/publish",
            format!("{wf}/publish"),
            mgr,
        ),
        row(
            "GET",
            "/admin/workflows/{id:\\d+}/retire",
            format!("{wf}/retire"),
            mgr,
        ),
        row(
            "POST",
            "/admin/workflows/{id:\\d+}/retire",
            format!("{wf}/retire"),
            mgr,
        ),
        row(
            "POST",
            "/admin/workflows/{id:\\d+}/restore",
            format!("{wf}/restore"),
            mgr,
        ),
        row("GET", "/admin/categories", "/admin/categories", mgr),
        row("POST", "/admin/categories", "/admin/categories", mgr),
        row(
            "GET",
            "/admin/categories/{id:\\d+}",
            format!("/admin/categories/{}", i.category),
            mgr,
        ),
        row(
            "POST",
            "/admin/categories/{id:\\d+}",
            format!("/admin/categories/{}", i.category),
            mgr,
        ),
        row(
            "GET",
            "/admin/categories/{id:\\d+}/retire",
            format!("/admin/categories/{}/retire", i.category),
            mgr,
        ),
        row(
            "POST",
            "/admin/categories/{id:\\d+}/retire",
            format!("/admin/categories/{}/retire", i.category),
            mgr,
        ),
        row(
            "POST",
            "/admin/categories/{id:\\d+}/restore",
            format!("/admin/categories/{}/restore", i.category),
            mgr,
        ),
        row("GET", "/admin/models", "/admin/models", mgr),
        row("POST", "/admin/models", "/admin/models", mgr),
        row("GET", "/admin/models/{id:\\d+}", "/admin/models/2", mgr),
        row("POST", "/admin/models/{id:\\d+}", "/admin/models/2", mgr),
        row(
            "GET",
            "/admin/models/{id:\\d+}/versions/{version:\\d+}",
            "/admin/models/2/versions/1",
            mgr,
        ),
        row(
            "GET",
            "/admin/models/{id:\\d+}/retire",
            "/admin/models/2/retire",
            mgr,
        ),
        row(
            "POST",
            "/admin/models/{id:\\d+}/retire",
            "/admin/models/2/retire",
            mgr,
        ),
        row(
            "POST",
            "/admin/models/{id:\\d+}/restore",
            "/admin/models/2/restore",
            mgr,
        ),
        row("GET", "/admin/blackouts", "/admin/blackouts", mgr),
        row("POST", "/admin/blackouts", "/admin/blackouts", mgr),
        row(
            "GET",
            "/admin/blackouts/{id:\\d+}",
            format!("/admin/blackouts/{}", i.blackout),
            mgr,
        ),
        row(
            "POST",
            "/admin/blackouts/{id:\\d+}",
            format!("/admin/blackouts/{}", i.blackout),
            mgr,
        ),
        row(
            "GET",
            "/admin/blackouts/{id:\\d+}/delete",
            format!("/admin/blackouts/{}/delete", i.blackout),
            mgr,
        ),
        row(
            "POST",
            "/admin/blackouts/{id:\\d+}/delete",
            format!("/admin/blackouts/{}/delete", i.blackout),
            mgr,
        ),
        // GET on the addresses of POSTs that re-render a page: back to the page (routes/reloads.rs).
        row(
            "GET",
            "/releases/{number}/transitions",
            "/releases/RL-000001/transitions",
            signed,
        ),
        row(
            "GET",
            "/releases/{number}/tasks",
            "/releases/RL-000001/tasks",
            signed,
        ),
        row(
            "GET",
            "/releases/{number}/changes",
            "/releases/RL-000001/changes",
            signed,
        ),
        row(
            "GET",
            "/releases/{number}/bundle",
            "/releases/RL-000001/bundle",
            signed,
        ),
        row(
            "GET",
            "/changes/{number}/transitions",
            "/changes/C-000001/transitions",
            signed,
        ),
        row(
            "GET",
            "/changes/{number}/tasks",
            "/changes/C-000001/tasks",
            signed,
        ),
        row(
            "GET",
            "/approvals/{id}/decision",
            format!("/approvals/{}/decision", i.approval),
            signed,
        ),
        row(
            "GET",
            "/admin/groups/{id}/members",
            format!("/admin/groups/{}/members", i.group),
            adm,
        ),
        row(
            "GET",
            "/admin/users/{id}/password",
            format!("/admin/users/{}/password", i.victim),
            adm,
        ),
        row(
            "GET",
            "/admin/users/{id}/reactivate",
            format!("/admin/users/{}/reactivate", i.victim),
            adm,
        ),
        row("GET", "/admin/workflows/copy", "/admin/workflows/copy", mgr),
        row(
            "GET",
            "/admin/workflows/{id:\\d+}/phases",
            format!("{wf}/phases"),
            mgr,
        ),
        row(
            "GET",
            "/admin/workflows/{id:\\d+}/publish",
            format!("{wf}/publish"),
            mgr,
        ),
        row(
            "GET",
            "/admin/workflows/{id:\\d+}/restore",
            format!("{wf}/restore"),
            mgr,
        ),
        row(
            "GET",
            "/admin/workflows/{id:\\d+}/transitions",
            format!("{wf}/transitions"),
            mgr,
        ),
        row(
            "GET",
            "/admin/workflows/{id:\\d+}/phases/{phase_id:\\d+}/move",
            format!("{ph}/move"),
            mgr,
        ),
        row(
            "GET",
            "/admin/workflows/{id:\\d+}/phases/{phase_id:\\d+}/restore",
            format!("{ph}/restore"),
            mgr,
        ),
        row(
            "GET",
            "/admin/categories/{id:\\d+}/restore",
            format!("/admin/categories/{}/restore", i.category),
            mgr,
        ),
        // Last: it ends the session.
        row("POST", "/logout", "/logout", "LLLLLL"),
    ]
}

fn outcome(p: &crate::support::Page) -> char {
    match p.status {
        403 => 'F',
        404 => '4',
        303 if p
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("/login")) =>
        {
            'L'
        }
        s if s >= 500 => '!',
        _ => 'A',
    }
}

/// Users for every role (signed in, in role order) and the records the matrix names.
pub async fn fixture(app: &TestApp) -> (Vec<Client>, Ids) {
    let roles: [(&str, &[Role]); 5] = [
        ("manager", &[Role::Manager]),
        ("coordinator", &[Role::Coordinator]),
        ("approver", &[Role::Approver]),
        ("admin", &[Role::Admin]),
        ("norole", &[]),
    ];
    for (name, rs) in roles {
        app.user(name, rs, if name == "approver" { &["CAB"] } else { &[] });
    }
    let victim = app.user("victim", &[Role::Coordinator, Role::Approver], &["ECAB"]);
    let mut clients: Vec<Client> = Vec::new();
    for (name, _) in roles {
        let c = app.client();
        c.login(name, PASSWORD).await.assert_redirect_to("/");
        clients.push(c);
    }
    let (m, c, p) = (&clients[0], &clients[1], &clients[2]);

    // Fixtures: a release in Plan and Design (with a pending CAB approval and an evaluation to
    // publish), a change, a task, a delegation, a notification, a lesson, a blackout, a scratch
    // workflow and category.
    let n = crate::releases::register(c, "Billing", "minor", "low", "low").await;
    crate::releases::take(&app, c, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    c.post(&format!("/releases/{n}/tasks"), &[("title", "Check")])
        .await
        .assert_status(303);
    // The manager is named on it: the release's coordinator and manager work its tasks.
    let manager_id = users::table
        .filter(users::username.eq("manager"))
        .select(users::id)
        .first::<i64>(&mut app.conn())
        .unwrap()
        .to_string();
    crate::releases::save(app, c, &n, &[("manager", &manager_id)])
        .await
        .assert_status(303);
    c.post(
        "/changes/new",
        &[
            ("category", "2"),
            ("type", "normal"),
            ("title", "Driver"),
            ("description", "d"),
            ("impact", "low"),
            ("urgency", "low"),
        ],
    )
    .await
    .assert_status(303);
    let approver_id: i64 = users::table
        .filter(users::username.eq("approver"))
        .select(users::id)
        .first(&mut app.conn())
        .unwrap();
    let today = chrono::Utc::now().date_naive().to_string();
    p.post(
        "/account/delegations",
        &[
            ("delegate", &victim.to_string()),
            ("from", &today),
            ("to", &today),
        ],
    )
    .await
    .assert_status(303);
    m.post(
        "/admin/blackouts",
        &[
            ("name", "Freeze"),
            ("starts_at", "2027-01-10T00:00"),
            ("ends_at", "2027-01-12T00:00"),
            ("category", ""),
        ],
    )
    .await
    .assert_status(303);
    m.post(
        "/admin/workflows/copy",
        &[("copy_source", "1"), ("copy_name", "Scratch workflow")],
    )
    .await
    .assert_status(303);
    m.post(
        "/admin/categories",
        &[
            ("name", "Scratch"),
            ("description", ""),
            ("record_kind", "release"),
            ("workflow_id", "1"),
        ],
    )
    .await
    .assert_status(303);
    let mut conn = app.conn();
    let group = relman::models::groups::all(&mut conn)
        .unwrap()
        .into_iter()
        .find(|g| g.name == "ECAB")
        .unwrap()
        .id;
    let coordinator_id: i64 = users::table
        .filter(users::username.eq("coordinator"))
        .select(users::id)
        .first(&mut conn)
        .unwrap();
    diesel::update(release_details::table)
        .set(release_details::evaluation.eq("Lessons"))
        .execute(&mut conn)
        .unwrap();
    diesel::insert_into(knowledge_articles::table)
        .values((
            knowledge_articles::title.eq("Lesson"),
            knowledge_articles::body.eq("Body"),
            knowledge_articles::category_id.eq(1),
            knowledge_articles::published_by.eq(coordinator_id),
        ))
        .execute(&mut conn)
        .unwrap();
    diesel::insert_into(notifications::table)
        .values((
            notifications::user_id.eq(coordinator_id),
            notifications::kind.eq("test"),
            notifications::subject.eq("Hello"),
        ))
        .execute(&mut conn)
        .unwrap();
    let workflow: i64 = workflows::table
        .filter(workflows::name.eq("Scratch workflow"))
        .select(workflows::id)
        .first(&mut conn)
        .unwrap();
    let ids = Ids {
        task: tasks::table.select(tasks::id).first(&mut conn).unwrap(),
        approval: approvals::table
            .select(approvals::id)
            .first(&mut conn)
            .unwrap(),
        delegation: delegations::table
            .filter(delegations::delegator_id.eq(approver_id))
            .select(delegations::id)
            .first(&mut conn)
            .unwrap(),
        notification: notifications::table
            .filter(notifications::kind.eq("test"))
            .select(notifications::id)
            .first(&mut conn)
            .unwrap(),
        knowledge: knowledge_articles::table
            .select(knowledge_articles::id)
            .first(&mut conn)
            .unwrap(),
        blackout: relman::schema::blackouts::table
            .select(relman::schema::blackouts::id)
            .first(&mut conn)
            .unwrap(),
        group,
        victim,
        workflow,
        phase: phases::table
            .filter(phases::workflow_id.eq(workflow))
            .order(phases::position.desc())
            .select(phases::id)
            .first(&mut conn)
            .unwrap(),
        transition: transitions::table
            .filter(transitions::workflow_id.eq(workflow))
            .order(transitions::id.desc())
            .select(transitions::id)
            .first(&mut conn)
            .unwrap(),
        category: categories::table
            .filter(categories::name.eq("Scratch"))
            .select(categories::id)
            .first(&mut conn)
            .unwrap(),
        abandon: transitions::table
            .filter(transitions::label.eq("Abandon release"))
            .filter(transitions::from_phase_id.eq(2))
            .select(transitions::id)
            .first(&mut conn)
            .unwrap(),
        change_abandon: {
            let phase: i64 = relman::schema::releases::table
                .filter(relman::schema::releases::kind.eq("change"))
                .select(relman::schema::releases::phase_id)
                .first(&mut conn)
                .unwrap();
            transitions::table
                .filter(transitions::from_phase_id.eq(phase))
                .filter(transitions::kind.eq("abandon"))
                .select(transitions::id)
                .first(&mut conn)
                .unwrap()
        },
        release_version: 0,
        change_version: 0,
    };
    // Membership for the remove-member row.
    relman::models::groups::add_member(&mut conn, group, victim).unwrap();
    drop(conn);

    (clients, ids)
}

#[tokio::test]
async fn every_route_gives_each_role_exactly_its_access() {
    let app = TestApp::spawn().await;
    let (clients, ids) = fixture(&app).await;
    let rows = matrix(&ids);
    let declared = declared_routes();
    let covered: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.to_string(), r.pattern.to_string()))
        .collect();
    let missing: Vec<_> = declared.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "routes with no row in the authorization matrix: {missing:?}"
    );
    let stale: Vec<_> = covered.difference(&declared).collect();
    assert!(
        stale.is_empty(),
        "matrix rows for routes that no longer exist: {stale:?}"
    );

    let mut failures = Vec::new();
    for r in &rows {
        for (who, expected) in r.expect.chars().enumerate() {
            let anonymous = who == 5;
            let client = if anonymous {
                app.client()
            } else {
                clients[who].clone_session()
            };
            let version = |kind: &str| -> String {
                use relman::schema::releases as rl;
                rl::table
                    .filter(rl::kind.eq(kind))
                    .filter(rl::number.eq(1))
                    .select(rl::version)
                    .first::<i32>(&mut app.conn())
                    .unwrap()
                    .to_string()
            };
            let mut form: Vec<(&str, String)> = r.form.clone();
            for f in form.iter_mut() {
                if f.0 == "version" && f.1 == "0" && !r.path.starts_with("/tasks") {
                    f.1 = version(if r.path.starts_with("/changes") {
                        "change"
                    } else {
                        "release"
                    });
                }
            }
            let page = if r.method == "GET" {
                client.get(&r.path).await
            } else {
                let token = if anonymous {
                    client.get("/login").await.csrf().unwrap()
                } else {
                    client.csrf().await
                };
                let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
                all.extend(form.iter().map(|(k, v)| (*k, v.as_str())));
                client.post_raw(&r.path, &all).await
            };
            let got = outcome(&page);
            if got != expected {
                let role = [
                    "manager",
                    "coordinator",
                    "approver",
                    "admin",
                    "norole",
                    "anonymous",
                ][who];
                failures.push(format!(
                    "{} {} as {role}: expected {expected}, got {got} ({})",
                    r.method, r.path, page.status
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
