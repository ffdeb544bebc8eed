//! The bypass suite: direct POSTs that try to get round the process. Each is refused with the
//! right status and the database is exactly as before (rows compared before and after).
use diesel::prelude::*;
use diesel::sql_types::Text;
use relman::domain::roles::Role;

use crate::releases::{
    cab_approves, live_approval, phase_of, register, save, take, transition_id, version, vote,
};
use crate::support::{Client, Page, TestApp, PASSWORD};

#[derive(QueryableByName)]
struct Dump {
    #[diesel(sql_type = Text)]
    rows: String,
}

/// Every row of the tables the process writes, as text.
fn snapshot(app: &TestApp) -> String {
    let tables = [
        "releases",
        "release_details",
        "release_phase_visits",
        "tasks",
        "approvals",
        "approval_votes",
        "approval_log",
        "history_events",
        "history_field_changes",
        "notifications",
        "knowledge_articles",
        "watchers",
    ];
    let mut out = String::new();
    for t in tables {
        let q = format!(
            "SELECT coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '') AS rows FROM {t} x"
        );
        let d: Dump = diesel::sql_query(q).get_result(&mut app.conn()).unwrap();
        out.push_str(&format!("== {t}\n{}\n", d.rows));
    }
    out
}

async fn refused(
    app: &TestApp,
    what: &str,
    status: u16,
    attempt: impl std::future::Future<Output = Page>,
) -> Page {
    let before = snapshot(app);
    let page = attempt.await;
    assert_eq!(
        page.status, status,
        "{what}: expected {status}, got {}:\n{}",
        page.status, page.body
    );
    let after = snapshot(app);
    assert!(before == after, "{what}: the database changed");
    page
}

async fn post_transition(
    app: &TestApp,
    c: &Client,
    n: &str,
    transition: i64,
    reason: &str,
) -> Page {
    let v = version(app, n).to_string();
    c.post(
        &format!("/releases/{n}/transitions"),
        &[
            ("transition", &transition.to_string()),
            ("version", &v),
            ("reason", reason),
        ],
    )
    .await
}

#[tokio::test]
async fn direct_posts_that_try_to_skip_the_process_change_nothing() {
    let app = TestApp::spawn().await;
    app.user("cora", &[Role::Coordinator, Role::Approver], &["CAB"]);
    let c = app.client();
    c.login("cora", PASSWORD).await;
    app.user("ann", &[Role::Approver], &["CAB"]);
    let ann = app.client();
    ann.login("ann", PASSWORD).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;

    // Skip a phase: a transition that leaves another phase.
    let skip = {
        use relman::schema::transitions;
        transitions::table
            .filter(transitions::label.eq("Advance to Build and Test"))
            .select(transitions::id)
            .first::<i64>(&mut app.conn())
            .unwrap()
    };
    refused(
        &app,
        "skip a phase",
        422,
        post_transition(&app, &c, &n, skip, ""),
    )
    .await;

    // Open task.
    c.post(&format!("/releases/{n}/tasks"), &[("title", "Check")])
        .await
        .assert_status(303);
    let advance = transition_id(&app, &n, "Advance to Plan and Design");
    refused(
        &app,
        "advance with an open task",
        422,
        post_transition(&app, &c, &n, advance, ""),
    )
    .await;
    let task: i64 = relman::schema::tasks::table
        .select(relman::schema::tasks::id)
        .first(&mut app.conn())
        .unwrap();

    // Someone else's task.
    let stranger = app.signed_in("sam", &[Role::Approver]).await;
    refused(
        &app,
        "complete someone else's task",
        403,
        stranger.post(
            &format!("/tasks/{task}"),
            &[("action", "complete"), ("version", "1")],
        ),
    )
    .await;
    c.post(
        &format!("/tasks/{task}"),
        &[("action", "complete"), ("version", "1")],
    )
    .await
    .assert_status(303);
    take(&app, &c, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);

    // A required field empty.
    let to_build = transition_id(&app, &n, "Advance to Build and Test");
    refused(
        &app,
        "advance with required fields empty",
        422,
        post_transition(&app, &c, &n, to_build, ""),
    )
    .await;
    save(
        &app,
        &c,
        &n,
        &[
            ("release_plan", "P"),
            ("deployment_plan", "D"),
            ("test_criteria", "T"),
        ],
    )
    .await
    .assert_status(303);

    // Read-only and hidden fields.
    let v = version(&app, &n).to_string();
    refused(
        &app,
        "edit a hidden field",
        403,
        c.post(
            &format!("/releases/{n}"),
            &[("version", &v), ("test_result", "Passed")],
        ),
    )
    .await;

    // A pending approval; voting on one's own release.
    refused(
        &app,
        "advance with a pending approval",
        422,
        post_transition(&app, &c, &n, to_build, ""),
    )
    .await;
    let (aid, cycle) = live_approval(&app, &n);
    let cyc = cycle.to_string();
    refused(
        &app,
        "vote on one's own release",
        403,
        c.post(
            &format!("/approvals/{aid}/decision"),
            &[("decision", "approve"), ("cycle", &cyc)],
        ),
    )
    .await;

    // A denied approval; voting twice; voting in a closed round.
    ann.post(
        &format!("/approvals/{aid}/decision"),
        &[("decision", "deny"), ("cycle", &cyc), ("comment", "No")],
    )
    .await
    .assert_status(303);
    refused(
        &app,
        "advance with a denied approval",
        422,
        post_transition(&app, &c, &n, to_build, ""),
    )
    .await;
    refused(
        &app,
        "vote twice",
        303,
        ann.post(
            &format!("/approvals/{aid}/decision"),
            &[("decision", "approve"), ("cycle", &cyc)],
        ),
    )
    .await;
    ann.post(
        &format!("/approvals/{aid}/decision"),
        &[
            ("decision", "retract"),
            ("cycle", &cyc),
            ("comment", "Clarified"),
        ],
    )
    .await
    .assert_status(303);
    refused(
        &app,
        "vote in a closed round",
        303,
        ann.post(
            &format!("/approvals/{aid}/decision"),
            &[("decision", "approve"), ("cycle", &cyc)],
        ),
    )
    .await;

    // An unapproved related change holds Distribution and Rollout.
    let normal: i64 = {
        use relman::schema::categories;
        categories::table
            .filter(categories::name.eq("Normal change"))
            .select(categories::id)
            .first(&mut app.conn())
            .unwrap()
    };
    c.post(
        "/changes/new",
        &[
            ("category", &normal.to_string()),
            ("type", "normal"),
            ("title", "Driver"),
            ("description", "d"),
            ("impact", "low"),
            ("urgency", "low"),
        ],
    )
    .await
    .assert_status(303);
    c.post(
        &format!("/releases/{n}/changes"),
        &[("number", "C-000001"), ("action", "add")],
    )
    .await
    .assert_status(303);
    let other = register(&c, "Portal", "minor", "low", "low").await;
    refused(
        &app,
        "relate a change to two releases",
        422,
        c.post(
            &format!("/releases/{other}/changes"),
            &[("number", "C-000001"), ("action", "add")],
        ),
    )
    .await;
    save(&app, &c, &n, &[("backout_plan", "B")])
        .await
        .assert_status(303);
    cab_approves(&app, &n).await;
    ann.post(
        &format!("/approvals/{aid}/decision"),
        &[("decision", "approve"), ("cycle", &(cycle + 1).to_string())],
    )
    .await
    .assert_status(303);
    take(&app, &c, &n, "Advance to Build and Test", "")
        .await
        .assert_status(303);
    save(&app, &c, &n, &[("test_result", "Passed")])
        .await
        .assert_status(303);
    let (b, bc) = live_approval(&app, &n);
    cab_approves(&app, &n).await;
    ann.post(
        &format!("/approvals/{b}/decision"),
        &[("decision", "approve"), ("cycle", &bc.to_string())],
    )
    .await
    .assert_status(303);
    let to_rollout = transition_id(&app, &n, "Advance to Training");
    refused(
        &app,
        "enter Distribution with an unapproved change",
        422,
        post_transition(&app, &c, &n, to_rollout, ""),
    )
    .await;

    // A closed (abandoned) release is read-only.
    take(&app, &c, &other, "Abandon release", "Not needed")
        .await
        .assert_status(303);
    let v = version(&app, &other).to_string();
    refused(
        &app,
        "edit an abandoned release",
        403,
        c.post(
            &format!("/releases/{other}"),
            &[("version", &v), ("title", "Back")],
        ),
    )
    .await;
    refused(
        &app,
        "add a task to an abandoned release",
        403,
        c.post(&format!("/releases/{other}/tasks"), &[("title", "More")]),
    )
    .await;
    let rework = {
        use relman::schema::transitions;
        transitions::table
            .filter(transitions::label.eq("Abandon release"))
            .select(transitions::id)
            .first::<i64>(&mut app.conn())
            .unwrap()
    };
    refused(
        &app,
        "move an abandoned release",
        403,
        post_transition(&app, &c, &other, rework, "again"),
    )
    .await;
}

/// The plan fields leaving Plan and Design needs.
const PLAN: [(&str, &str); 4] = [
    ("release_plan", "Plan"),
    ("deployment_plan", "Deploy"),
    ("test_criteria", "All green"),
    ("backout_plan", "Restore the snapshot"),
];

fn notes_of(app: &TestApp, user: i64, kind: &str) -> Vec<String> {
    use relman::schema::notifications as n;
    n::table
        .filter(n::user_id.eq(user))
        .filter(n::kind.eq(kind))
        .select(n::body)
        .load(&mut app.conn())
        .unwrap()
}

#[tokio::test]
async fn a_coordinator_who_steps_aside_to_approve_her_own_release_cannot_advance_it() {
    let app = TestApp::spawn().await;
    let mara = app.signed_in("mara", &[Role::Manager]).await;
    let cora_id = app.user("cora", &[Role::Coordinator, Role::Approver], &["ECAB"]);
    let cora = app.client();
    cora.login("cora", PASSWORD).await;
    let cora_id = cora_id.to_string();
    let n = register(&mara, "Hotfix", "emergency", "medium", "medium").await;
    save(&app, &cora, &n, &[("coordinator", &cora_id)])
        .await
        .assert_status(303);
    take(&app, &cora, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    save(&app, &cora, &n, &PLAN).await.assert_status(303);

    // She clears the coordinator field (any coordinator may work a release nobody
    // coordinates), approves the ECAB approval ("one must approve"), and takes the field back.
    save(&app, &cora, &n, &[("coordinator", "")])
        .await
        .assert_status(303);
    vote(&app, &cora, &n, "approve", "")
        .await
        .assert_status(303);
    save(&app, &cora, &n, &[("coordinator", &cora_id)])
        .await
        .assert_status(303);

    // Her vote no longer counts: the advance is refused, and the page says why.
    let page = refused(
        &app,
        "advance on one's own approval",
        422,
        take(&app, &cora, &n, "Advance to Build and Test", ""),
    )
    .await;
    page.assert_contains("pending: the group has no eligible approvers");
    assert_eq!(phase_of(&app, &n), "Plan and Design");
    cora.get(&format!("/releases/{n}"))
        .await
        .assert_status(200)
        .assert_contains("this approval no longer counts: its voter became the coordinator")
        .assert_contains("Not eligible: you coordinate this release.")
        .assert_lacks("Vote as yourself");
    let told = notes_of(&app, cora_id.parse().unwrap(), "approval_void");
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].contains("no longer counts: its voter became the coordinator"),
        "{told:?}"
    );

    // Another ECAB member's approval lets it go on.
    cab_approves(&app, &n).await;
    take(&app, &cora, &n, "Advance to Build and Test", "")
        .await
        .assert_status(303);
}

#[tokio::test]
async fn the_named_release_manager_does_not_approve_the_release() {
    let app = TestApp::spawn().await;
    let colin = app.signed_in("colin", &[Role::Coordinator]).await;
    let max = app.user("max", &[Role::Manager, Role::Approver], &["CAB", "ECAB"]);
    let max_c = app.client();
    max_c.login("max", PASSWORD).await;
    let n = register(&colin, "Hotfix", "emergency", "medium", "medium").await;
    save(&app, &colin, &n, &[("manager", &max.to_string())])
        .await
        .assert_status(303);
    take(&app, &colin, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    max_c
        .get(&format!("/releases/{n}"))
        .await
        .assert_contains("Not eligible: you are this release&#39;s manager.");
    refused(
        &app,
        "the manager votes",
        403,
        vote(&app, &max_c, &n, "approve", ""),
    )
    .await;

    // A manager named after voting: the vote stops counting, and the manager is told.
    let n2 = register(&colin, "Hotfix 2", "emergency", "medium", "medium").await;
    take(&app, &colin, &n2, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    vote(&app, &max_c, &n2, "approve", "")
        .await
        .assert_status(303);
    save(&app, &colin, &n2, &[("manager", &max.to_string())])
        .await
        .assert_status(303);
    colin
        .get(&format!("/releases/{n2}"))
        .await
        .assert_contains("this approval no longer counts: its voter became the release manager");
    assert_eq!(notes_of(&app, max, "approval_void").len(), 1);
}

#[tokio::test]
async fn whoever_worked_a_task_or_shares_its_group_does_not_approve_the_release() {
    let app = TestApp::spawn().await;
    let colin = app.signed_in("colin", &[Role::Coordinator]).await;
    app.user("ada", &[Role::Approver], &["ECAB"]);
    app.user("eve", &[Role::Approver], &["ECAB"]);
    let ada = app.client();
    ada.login("ada", PASSWORD).await;
    let eve = app.client();
    eve.login("eve", PASSWORD).await;
    let ecab = relman::models::groups::all(&mut app.conn())
        .unwrap()
        .into_iter()
        .find(|g| g.name == "ECAB")
        .unwrap()
        .id
        .to_string();

    // An emergency release with a task for the ECAB group, which ada works.
    let with_group_task = |title: &'static str| {
        let (app, colin, ada, ecab) = (&app, &colin, &ada, ecab.clone());
        async move {
            let n = register(colin, title, "emergency", "medium", "medium").await;
            colin
                .post(
                    &format!("/releases/{n}/tasks"),
                    &[("title", "ECAB review"), ("group", &ecab)],
                )
                .await
                .assert_status(303);
            let task: i64 = {
                use relman::schema::tasks;
                tasks::table
                    .order(tasks::id.desc())
                    .select(tasks::id)
                    .first(&mut app.conn())
                    .unwrap()
            };
            for (action, v) in [("start", "1"), ("complete", "2")] {
                ada.post(
                    &format!("/tasks/{task}"),
                    &[("action", action), ("version", v)],
                )
                .await
                .assert_status(303);
            }
            take(app, colin, &n, "Advance to Plan and Design", "")
                .await
                .assert_status(303);
            n
        }
    };
    let n = with_group_task("Hotfix").await;
    let page = refused(
        &app,
        "approve after working its task",
        403,
        vote(&app, &ada, &n, "approve", ""),
    )
    .await;
    page.assert_contains("you worked on a task of this release");
    let page = refused(
        &app,
        "approve the own group's task",
        403,
        vote(&app, &eve, &n, "approve", ""),
    )
    .await;
    page.assert_contains("you are in a group a task of this release is assigned to");
    eve.get("/approvals")
        .await
        .assert_lacks(&n)
        .assert_lacks("Approvals <span class=\"count\">");

    // A workflow whose rule lets the group approve its own work: its members may, the one who
    // worked the task still may not.
    diesel::sql_query("UPDATE phase_approvals SET own_group_may_approve = true")
        .execute(&mut app.conn())
        .unwrap();
    let n = with_group_task("Hotfix 2").await;
    refused(
        &app,
        "approve after working its task",
        403,
        vote(&app, &ada, &n, "approve", ""),
    )
    .await;
    vote(&app, &eve, &n, "approve", "").await.assert_status(303);
    save(&app, &colin, &n, &PLAN).await.assert_status(303);
    take(&app, &colin, &n, "Advance to Build and Test", "")
        .await
        .assert_status(303);
}

#[tokio::test]
async fn a_refused_transition_says_refused_even_from_a_stale_form() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;
    let stranger = app.signed_in("sam", &[Role::Approver]).await;
    let t = transition_id(&app, &n, "Advance to Plan and Design").to_string();
    let stale = (version(&app, &n) - 1).to_string();
    let page = refused(
        &app,
        "a stranger's move from an old form",
        403,
        stranger.post(
            &format!("/releases/{n}/transitions"),
            &[("transition", &t), ("version", &stale), ("reason", "")],
        ),
    )
    .await;
    page.assert_lacks("changed");
}

#[tokio::test]
async fn an_ended_release_cannot_be_bundled_into_a_package() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let pkg = register(&c, "Package", "minor", "low", "low").await;
    let ended = register(&c, "Old", "minor", "low", "low").await;
    take(&app, &c, &ended, "Abandon release", "Not needed")
        .await
        .assert_status(303);
    let page = refused(
        &app,
        "bundle an abandoned release",
        422,
        c.post(
            &format!("/releases/{pkg}/bundle"),
            &[("number", &ended), ("action", "add")],
        ),
    )
    .await;
    page.assert_contains(&format!(
        "{ended} is abandoned: only an active release can be bundled into a package."
    ));
}

/// The value of a hidden field of a form on `page`.
fn hidden(page: &Page, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field"))
        + marker.len();
    page.body[at..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn a_form_that_creates_a_record_creates_it_once_however_often_it_is_sent() {
    use relman::schema::{releases, tasks};
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let key = hidden(&c.get("/releases/new").await, "submission_key");
    assert_eq!(key.len(), 32);
    let form = [
        ("submission_key", key.as_str()),
        ("category", "1"),
        ("type", "minor"),
        ("title", "Billing"),
        ("description", "Quarterly update"),
        ("reason", "business_requirement"),
        ("impact", "low"),
        ("urgency", "low"),
        ("planned_start", "2026-12-01T09:00"),
        ("planned_end", "2026-12-20T17:00"),
    ];
    // Twice at once, then once more: one release, and every answer leads to it.
    let token = c.csrf().await;
    let mut all = vec![("csrf_token", token.as_str())];
    all.extend_from_slice(&form);
    let body = serde_html_form::to_string(&all).unwrap();
    let send = || {
        c.http
            .post(format!("{}/releases/new", c.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
    };
    let (a, b) = tokio::join!(send(), send());
    let c3 = send().await.unwrap();
    let places: Vec<String> = [a.unwrap(), b.unwrap(), c3]
        .iter()
        .map(|r| {
            assert_eq!(r.status().as_u16(), 303);
            r.headers()["location"].to_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(places, vec!["/releases/RL-000001".to_string(); 3]);
    let count: i64 = releases::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(count, 1);

    // A refused form keeps its key for the corrected one, which then creates once.
    let page = c
        .post(
            "/releases/new",
            &[
                ("submission_key", "00112233445566778899aabbccddeeff"),
                ("title", ""),
            ],
        )
        .await;
    page.assert_status(422);
    assert_eq!(
        hidden(&page, "submission_key"),
        "00112233445566778899aabbccddeeff"
    );

    // Add task, twice: one task.
    let release = c.get("/releases/RL-000001").await;
    let key = hidden(&release, "submission_key");
    for _ in 0..2 {
        c.post(
            "/releases/RL-000001/tasks",
            &[("submission_key", &key), ("title", "Check")],
        )
        .await
        .assert_redirect_to("/releases/RL-000001#tasks");
    }
    let count: i64 = tasks::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(count, 1);
    // A fresh form is a new submission.
    let key = hidden(&c.get("/releases/RL-000001").await, "submission_key");
    c.post(
        "/releases/RL-000001/tasks",
        &[("submission_key", &key), ("title", "Check again")],
    )
    .await
    .assert_status(303);
    let count: i64 = tasks::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(count, 2);
}

#[tokio::test]
async fn direct_posts_around_the_type_task_and_ending_rules_change_nothing() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let other = app.signed_in("colin", &[Role::Coordinator]).await;
    let standard = {
        use relman::schema::categories;
        categories::table
            .filter(categories::name.eq("Standard change"))
            .select(categories::id)
            .first::<i64>(&mut app.conn())
            .unwrap()
            .to_string()
    };
    // An emergency filed under the pre-approved Standard category (item 1).
    refused(
        &app,
        "an emergency change under the standard category",
        422,
        c.post(
            "/changes/new",
            &[
                ("category", &standard),
                ("type", "emergency"),
                ("title", "Hotfix"),
                ("description", "Now"),
                ("impact", "high"),
                ("urgency", "high"),
            ],
        ),
    )
    .await
    .assert_contains("takes standard changes only");

    // Someone else's task, by a coordinator of another release (item 3).
    let n = register(&c, "Billing", "minor", "low", "low").await;
    c.post(&format!("/releases/{n}/tasks"), &[("title", "Check")])
        .await
        .assert_status(303);
    let task: i64 = relman::schema::tasks::table
        .select(relman::schema::tasks::id)
        .first(&mut app.conn())
        .unwrap();
    refused(
        &app,
        "another coordinator completes the task",
        403,
        other.post(
            &format!("/tasks/{task}"),
            &[("action", "complete"), ("version", "1")],
        ),
    )
    .await;

    // An ended release's settled work cannot be taken up again (item 2).
    take(&app, &c, &n, "Abandon release", "Not needed")
        .await
        .assert_status(303);
    refused(
        &app,
        "start a task the abandon cancelled",
        403,
        c.post(
            &format!("/tasks/{task}"),
            &[("action", "reopen"), ("version", "2")],
        ),
    )
    .await;
}
