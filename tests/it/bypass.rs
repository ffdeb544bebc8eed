//! The bypass suite: direct POSTs that try to get round the process. Each is refused with the
//! right status and the database is exactly as before (rows compared before and after).
use diesel::prelude::*;
use diesel::sql_types::Text;
use relman::domain::roles::Role;

use crate::releases::{cab_approves, live_approval, register, save, take, transition_id, version};
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
