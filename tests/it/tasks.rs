//! Tasks and release models: the planned tasks, due dates on phase entry, the exit criterion,
//! My tasks, who may complete a task, history.
use diesel::prelude::*;
use relman::domain::roles::Role;
use relman::schema::{history_events, phases, releases, tasks};

use crate::releases::{phase_of, save, take};
use crate::support::{Client, TestApp};

fn model_id(app: &TestApp, name: &str) -> i64 {
    use relman::schema::release_models;
    release_models::table
        .filter(release_models::name.eq(name))
        .select(release_models::id)
        .first(&mut app.conn())
        .unwrap()
}

async fn register_from_model(
    app: &TestApp,
    c: &Client,
    model: &str,
    manager: i64,
    impact: &str,
) -> String {
    let model = model_id(app, model).to_string();
    let manager = manager.to_string();
    let p = c
        .post(
            "/releases/new",
            &[
                ("category", "1"),
                ("type", "major"),
                ("model", &model),
                ("title", "Payroll 7"),
                ("description", "Yearly payroll update"),
                ("reason", "business_requirement"),
                ("impact", impact),
                ("urgency", impact),
                ("planned_start", "2026-12-01T09:00"),
                ("planned_end", "2026-12-20T17:00"),
                ("manager", &manager),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    p.location
        .unwrap()
        .trim_start_matches("/releases/")
        .to_string()
}

/// (title, phase, status, has a due date) of every task, in creation order.
fn task_rows(app: &TestApp) -> Vec<(String, String, String, bool)> {
    tasks::table
        .inner_join(phases::table)
        .order(tasks::id)
        .select((
            tasks::title,
            phases::name,
            tasks::status,
            tasks::due_at.is_not_null(),
        ))
        .load(&mut app.conn())
        .unwrap()
}

fn task_id(app: &TestApp, title: &str) -> i64 {
    tasks::table
        .filter(tasks::title.eq(title))
        .select(tasks::id)
        .first(&mut app.conn())
        .unwrap()
}

fn task_version(app: &TestApp, id: i64) -> String {
    tasks::table
        .find(id)
        .select(tasks::version)
        .first::<i32>(&mut app.conn())
        .unwrap()
        .to_string()
}

async fn act(app: &TestApp, c: &Client, title: &str, action: &str) -> crate::support::Page {
    let id = task_id(app, title);
    let v = task_version(app, id);
    c.post(
        &format!("/tasks/{id}"),
        &[("action", action), ("version", &v), ("return_to", "/tasks")],
    )
    .await
}

#[tokio::test]
async fn a_major_release_model_creates_its_plan_and_due_dates_appear_as_phases_are_entered() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let mona = app.user("mona", &[Role::Manager], &[]);
    let n = register_from_model(&app, &c, "Major release", mona, "medium").await;
    let rows = task_rows(&app);
    assert!(
        rows.contains(&(
            "Confirm funding".into(),
            "Assess".into(),
            "open".into(),
            true
        )),
        "{rows:?}"
    );
    assert!(
        rows.contains(&(
            "Create the release plan".into(),
            "Plan and Design".into(),
            "open".into(),
            false
        )),
        "{rows:?}"
    );
    assert!(rows.contains(&(
        "Update system".into(),
        "Distribution and Rollout".into(),
        "open".into(),
        false
    )));
    assert!(
        !rows.iter().any(|r| r.1 == "Back Out"),
        "back-out tasks wait for the back-out plan"
    );
    let release_model: Option<i64> = releases::table
        .select(releases::model_version_id)
        .first(&mut app.conn())
        .unwrap();
    assert!(release_model.is_some());

    let page = c.get(&format!("/releases/{n}")).await;
    page.assert_contains("Risk and impact analysis")
        .assert_contains("Assess <span class=\"muted\">(current phase)</span>")
        .assert_contains("set when the phase starts");
    page.assert_contains("with 11 planned tasks")
        .assert_contains("3 open tasks in Assess.");

    // The manager's tasks went to the release's manager, the coordinator's to its coordinator.
    let funding: Option<i64> = tasks::table
        .filter(tasks::title.eq("Confirm funding"))
        .select(tasks::assignee_id)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(funding, Some(mona));

    for t in [
        "Risk and impact analysis",
        "Confirm funding",
        "Evaluate financial impact",
    ] {
        act(&app, &c, t, "complete")
            .await
            .assert_redirect_to("/tasks");
    }
    take(&app, &c, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    let rows = task_rows(&app);
    assert!(
        rows.contains(&(
            "Create the release plan".into(),
            "Plan and Design".into(),
            "open".into(),
            true
        )),
        "due date set on entry: {rows:?}"
    );
    assert!(rows.contains(&(
        "Verify test criteria".into(),
        "Build and Test".into(),
        "open".into(),
        false
    )));
    // The move told the people of each open task of Plan and Design, with the due date the
    // entry set (the move's own statement returns them: models::releases::record_transition).
    use relman::schema::notifications;
    let planned: Vec<(String, Option<i64>, Option<chrono::DateTime<chrono::Utc>>)> = tasks::table
        .inner_join(phases::table)
        .filter(phases::name.eq("Plan and Design"))
        .filter(tasks::status.eq("open"))
        .select((tasks::title, tasks::assignee_id, tasks::due_at))
        .load(&mut app.conn())
        .unwrap();
    assert!(planned.len() >= 2, "{planned:?}");
    for (title, assignee, due) in planned {
        let assignee = assignee.expect("the model's tasks have assignees");
        let body = format!(
            "The task “{title}” is yours, due {}.",
            relman::views::opt_datetime(&due)
        );
        let told: i64 = notifications::table
            .filter(notifications::user_id.eq(assignee))
            .filter(notifications::kind.eq("task_assigned"))
            .filter(notifications::body.eq(&body))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(told, 1, "{body}");
    }
}

#[tokio::test]
async fn an_open_task_holds_the_phase_until_its_assignee_completes_it_from_my_tasks() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let mona_id = app.user("mona", &[Role::Manager], &[]);
    let n = register_from_model(&app, &c, "Minor release", mona_id, "low").await;
    let refused = take(&app, &c, &n, "Advance to Plan and Design", "").await;
    refused
        .assert_status(422)
        .assert_contains("1 open task in Assess.");
    assert_eq!(phase_of(&app, &n), "Assess");

    let mine = c.get("/tasks").await;
    mine.assert_status(200)
        .assert_contains("Risk and impact analysis")
        .assert_contains(&n);
    act(&app, &c, "Risk and impact analysis", "start")
        .await
        .assert_redirect_to("/tasks");
    c.get("/tasks").await.assert_contains("In progress");
    act(&app, &c, "Risk and impact analysis", "complete")
        .await
        .assert_redirect_to("/tasks");
    c.get("/tasks")
        .await
        .assert_contains("You have no open tasks");
    take(&app, &c, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);

    let summaries: Vec<String> = history_events::table
        .filter(history_events::kind.eq("task"))
        .select(history_events::summary)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(
        summaries,
        vec![
            "Started task “Risk and impact analysis”",
            "Completed task “Risk and impact analysis”"
        ]
    );
    c.get(&format!("/releases/{n}"))
        .await
        .assert_contains("Completed task “Risk and impact analysis”");
}

#[tokio::test]
async fn only_the_assignee_group_coordinator_or_a_manager_may_complete_a_task() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = crate::releases::register(&c, "Billing", "minor", "low", "low").await;
    let cab = relman::models::groups::all(&mut app.conn())
        .unwrap()
        .into_iter()
        .find(|g| g.name == "CAB")
        .unwrap()
        .id
        .to_string();
    c.post(
        &format!("/releases/{n}/tasks"),
        &[
            ("title", "Check the CAB minutes"),
            ("group", &cab),
            ("due", "2026-12-05T12:00"),
        ],
    )
    .await
    .assert_status(303);
    let stranger = app.signed_in("sam", &[Role::Approver]).await;
    act(&app, &stranger, "Check the CAB minutes", "complete")
        .await
        .assert_status(403);
    let other_coord = app.signed_in("otto", &[Role::Coordinator]).await;
    act(&app, &other_coord, "Check the CAB minutes", "complete")
        .await
        .assert_status(403);
    let status: String = tasks::table
        .select(tasks::status)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(status, "open");
    // A member of the task's group may.
    app.user("gwen", &[Role::Approver], &["CAB"]);
    let gwen = app.client();
    gwen.login("gwen", crate::support::PASSWORD).await;
    gwen.get("/tasks")
        .await
        .assert_contains("Check the CAB minutes")
        .assert_contains("for your group");
    act(&app, &gwen, "Check the CAB minutes", "complete")
        .await
        .assert_redirect_to("/tasks");
    let (status, by): (String, Option<i64>) = tasks::table
        .select((tasks::status, tasks::completed_by))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(status, "done");
    assert!(by.is_some());
    // A stranger cannot edit or cancel either.
    act(&app, &stranger, "Check the CAB minutes", "reopen")
        .await
        .assert_status(403);
}

#[tokio::test]
async fn adding_and_editing_tasks_is_validated_and_kept_in_history() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = crate::releases::register(&c, "Billing", "minor", "low", "low").await;
    let bad = c
        .post(
            &format!("/releases/{n}/tasks"),
            &[
                ("title", ""),
                ("due", "next tuesday"),
                ("description", "<b>keep me</b>"),
            ],
        )
        .await;
    bad.assert_status(422)
        .assert_contains("Enter a title for the task.")
        .assert_contains("like 2026-12-01 09:00")
        .assert_contains("&#60;b&#62;keep me&#60;/b&#62;");
    c.post(
        &format!("/releases/{n}/tasks"),
        &[("title", "Order licences"), ("due", "2026-12-05T12:00")],
    )
    .await
    .assert_status(303);
    let id = task_id(&app, "Order licences");
    let v = task_version(&app, id);
    c.post(
        &format!("/tasks/{id}"),
        &[
            ("action", "edit"),
            ("version", &v),
            ("title", "Order licences (x20)"),
            ("due", "2026-12-06T12:00"),
        ],
    )
    .await
    .assert_status(303);
    let page = c.get(&format!("/releases/{n}")).await;
    page.assert_contains("Added task “Order licences”")
        .assert_contains("Task title")
        .assert_contains("Order licences (x20)")
        .assert_contains("2026-12-06 12:00 UTC");
    // A stale edit does nothing.
    c.post(
        &format!("/tasks/{id}"),
        &[("action", "edit"), ("version", &v), ("title", "Old form")],
    )
    .await
    .assert_status(303);
    let title: String = tasks::table
        .find(id)
        .select(tasks::title)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(title, "Order licences (x20)");
}

#[tokio::test]
async fn activating_the_back_out_plan_creates_the_models_back_out_tasks_and_skipped_phases_cancel_theirs(
) {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let mona = app.user("mona", &[Role::Manager], &[]);
    let n = register_from_model(&app, &c, "Major release", mona, "medium").await;
    // Complete the plan phase by phase.
    let complete_open = |app: &TestApp| {
        diesel::update(
            tasks::table
                .filter(tasks::status.eq("open"))
                .filter(tasks::due_at.is_not_null()),
        )
        .set(tasks::status.eq("done"))
        .execute(&mut app.conn())
        .unwrap();
    };
    complete_open(&app);
    take(&app, &c, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    save(
        &app,
        &c,
        &n,
        &[
            ("release_plan", "P"),
            ("deployment_plan", "D"),
            ("test_criteria", "T"),
            ("backout_plan", "B"),
        ],
    )
    .await;
    complete_open(&app);
    crate::releases::cab_approves(&app, &n).await;
    take(&app, &c, &n, "Advance to Build and Test", "")
        .await
        .assert_status(303);
    save(&app, &c, &n, &[("test_result", "Passed")]).await;
    complete_open(&app);
    crate::releases::cab_approves(&app, &n).await;
    take(&app, &c, &n, "Advance to Training", "")
        .await
        .assert_status(303);
    assert_eq!(phase_of(&app, &n), "Distribution and Rollout");
    let rows = task_rows(&app);
    assert!(
        rows.contains(&(
            "Build and deliver training".into(),
            "Training".into(),
            "cancelled".into(),
            false
        )),
        "{rows:?}"
    );
    save(&app, &c, &n, &[("actual_start", "2026-12-02T10:00")]).await;
    take(&app, &c, &n, "Activate back-out plan", "Deployment failed")
        .await
        .assert_status(303);
    let rows = task_rows(&app);
    assert!(
        rows.contains(&(
            "Restore the previous version".into(),
            "Back Out".into(),
            "open".into(),
            true
        )),
        "{rows:?}"
    );
    take(&app, &c, &n, "Advance to Verification", "")
        .await
        .assert_status(422)
        .assert_contains("2 open tasks in Back Out.");
}

fn task_by_title(app: &TestApp, title: &str) -> (i64, String, String) {
    tasks::table
        .filter(tasks::title.eq(title))
        .select((tasks::id, tasks::status, tasks::cancel_reason))
        .first(&mut app.conn())
        .unwrap()
}

fn release_phase_id(app: &TestApp, name: &str) -> String {
    phases::table
        .filter(phases::name.eq(name))
        .order(phases::id)
        .select(phases::id)
        .first::<i64>(&mut app.conn())
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn ending_a_release_or_backing_it_out_settles_its_open_work_and_says_why() {
    use crate::releases::{register, to_distribution};
    use relman::schema::notifications;
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let bob = app.user("bob", &[Role::Coordinator], &[]);
    let bob_s = bob.to_string();

    // Abandoning: every open task is cancelled, shown and recorded as such, its people told.
    let a = register(&c, "Billing", "minor", "low", "low").await;
    c.post(
        &format!("/releases/{a}/tasks"),
        &[("title", "Check the invoices"), ("assignee", &bob_s)],
    )
    .await
    .assert_status(303);
    take(&app, &c, &a, "Abandon release", "Not needed")
        .await
        .assert_status(303);
    let (id, status, why) = task_by_title(&app, "Check the invoices");
    assert_eq!(
        (status.as_str(), why.as_str()),
        ("cancelled", "release abandoned")
    );
    c.get(&format!("/releases/{a}"))
        .await
        .assert_contains("Cancelled: release abandoned")
        .assert_contains("open tasks cancelled, release abandoned: Check the invoices");
    c.get(&format!("/tasks/{id}"))
        .await
        .assert_contains("Cancelled: release abandoned");
    let told: i64 = notifications::table
        .filter(notifications::user_id.eq(bob))
        .filter(notifications::kind.eq("task_cancelled"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(told, 1);

    // Backing out: the rollout's unfinished work is cancelled; closing, what is left.
    let b = register(&c, "Portal", "minor", "low", "low").await;
    to_distribution(&app, &c, &b).await;
    let rollout = release_phase_id(&app, "Distribution and Rollout");
    c.post(
        &format!("/releases/{b}/tasks"),
        &[("title", "Update system"), ("phase", &rollout)],
    )
    .await
    .assert_status(303);
    let (task, _, _) = task_by_title(&app, "Update system");
    c.post(
        &format!("/tasks/{task}"),
        &[("action", "start"), ("version", "1")],
    )
    .await
    .assert_status(303);
    let plan = release_phase_id(&app, "Plan and Design");
    c.post(
        &format!("/releases/{b}/tasks"),
        &[("title", "Archive the plan"), ("phase", &plan)],
    )
    .await
    .assert_status(303);
    save(&app, &c, &b, &[("actual_start", "2026-12-02T10:00")])
        .await
        .assert_status(303);
    take(&app, &c, &b, "Activate back-out plan", "Payments failing")
        .await
        .assert_status(303);
    assert_eq!(task_by_title(&app, "Update system").1, "cancelled");
    assert_eq!(task_by_title(&app, "Update system").2, "backed out");
    assert_eq!(
        task_by_title(&app, "Archive the plan").1,
        "open",
        "another phase's work stays"
    );
    take(&app, &c, &b, "Advance to Verification", "")
        .await
        .assert_status(303);
    save(
        &app,
        &c,
        &b,
        &[
            ("actual_end", "2026-12-03T10:00"),
            ("verification", "Old version back"),
            ("evaluation", "Thin test data"),
        ],
    )
    .await
    .assert_status(303);
    take(&app, &c, &b, "Close as backed out", "")
        .await
        .assert_status(303);
    let (_, status, why) = task_by_title(&app, "Archive the plan");
    assert_eq!(
        (status.as_str(), why.as_str()),
        ("cancelled", "release closed")
    );
    let open: i64 = tasks::table
        .filter(tasks::status.eq_any(["open", "in_progress"]))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(open, 0, "an ended release leaves no work open");
}

#[tokio::test]
async fn only_the_assignee_its_group_and_the_releases_coordinator_and_manager_work_a_task() {
    use crate::releases::register;
    let app = TestApp::spawn().await;
    let cora = app.signed_in("cora", &[Role::Coordinator]).await;
    let mara = app.user("mara", &[Role::Manager], &[]);
    let mara_c = app.client();
    mara_c.login("mara", crate::support::PASSWORD).await;
    let other_manager = app.signed_in("max", &[Role::Manager]).await;
    let other_coordinator = app.signed_in("colin", &[Role::Coordinator]).await;
    let n = register(&cora, "Billing", "minor", "low", "low").await;
    save(&app, &cora, &n, &[("manager", &mara.to_string())])
        .await
        .assert_status(303);
    let mara_s = mara.to_string();
    cora.post(
        &format!("/releases/{n}/tasks"),
        &[("title", "Confirm funding"), ("assignee", &mara_s)],
    )
    .await
    .assert_status(303);
    let (task, _, _) = task_by_title(&app, "Confirm funding");
    let path = format!("/tasks/{task}");
    cora.get(&path).await.assert_contains(
        "Who may start and complete it</dt><dd>its assignee mara (test), the coordinator cora (test), the release manager mara (test)",
    );
    for (who, c) in [
        ("another manager", &other_manager),
        ("another coordinator", &other_coordinator),
    ] {
        let p = c
            .post(&path, &[("action", "complete"), ("version", "1")])
            .await;
        assert_eq!(p.status, 403, "{who}");
        p.assert_contains("Only its assignee, a member of its group, or the release&#39;s coordinator or manager may do this.");
    }
    assert_eq!(task_by_title(&app, "Confirm funding").1, "open");
    mara_c
        .post(&path, &[("action", "start"), ("version", "1")])
        .await
        .assert_status(303);
    cora.post(&path, &[("action", "complete"), ("version", "2")])
        .await
        .assert_status(303);
    assert_eq!(task_by_title(&app, "Confirm funding").1, "done");
}
