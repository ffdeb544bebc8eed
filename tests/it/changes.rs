//! Change requests on the same engine: their own workflow, approvals, tasks and history;
//! relating them to releases and the gates they put there; bundles of releases.
use diesel::prelude::*;
use relman::domain::roles::Role;
use relman::schema::{categories, history_events, releases};

use crate::releases::{cab_approves, register, save, take, to_distribution};
use crate::support::{Client, TestApp, PASSWORD};

fn category(app: &TestApp, name: &str) -> String {
    categories::table
        .filter(categories::name.eq(name))
        .select(categories::id)
        .first::<i64>(&mut app.conn())
        .unwrap()
        .to_string()
}

/// Register a change through the form; returns its number (`C-…`).
pub async fn new_change(app: &TestApp, c: &Client, title: &str, kind: &str) -> String {
    let (cat, ty) = match kind {
        "standard" => ("Standard change", "standard"),
        _ => ("Normal change", "normal"),
    };
    let cat = category(app, cat);
    let p = c
        .post(
            "/changes/new",
            &[
                ("category", cat.as_str()),
                ("type", ty),
                ("title", title),
                ("description", "Upgrade the database driver"),
                ("impact", "medium"),
                ("urgency", "medium"),
                ("planned_start", "2026-12-02T09:00"),
                ("planned_end", "2026-12-02T12:00"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    p.location
        .unwrap()
        .trim_start_matches("/changes/")
        .to_string()
}

async fn change_take(
    c: &Client,
    app: &TestApp,
    n: &str,
    label: &str,
    reason: &str,
) -> crate::support::Page {
    let number = relman::paths::parse_change_number(n).unwrap();
    let (phase, version): (i64, i32) = releases::table
        .filter(releases::kind.eq("change"))
        .filter(releases::number.eq(number))
        .select((releases::phase_id, releases::version))
        .first(&mut app.conn())
        .unwrap();
    use relman::schema::transitions;
    let t: i64 = transitions::table
        .filter(transitions::from_phase_id.eq(phase))
        .filter(transitions::label.eq(label))
        .select(transitions::id)
        .first(&mut app.conn())
        .unwrap_or_else(|_| panic!("no transition {label}"));
    c.post(
        &format!("/changes/{n}/transitions"),
        &[
            ("transition", &t.to_string()),
            ("version", &version.to_string()),
            ("reason", reason),
        ],
    )
    .await
}

async fn change_save(
    c: &Client,
    app: &TestApp,
    n: &str,
    fields: &[(&str, &str)],
) -> crate::support::Page {
    let number = relman::paths::parse_change_number(n).unwrap();
    let version: i32 = releases::table
        .filter(releases::kind.eq("change"))
        .filter(releases::number.eq(number))
        .select(releases::version)
        .first(&mut app.conn())
        .unwrap();
    let v = version.to_string();
    let mut all = vec![("version", v.as_str())];
    all.extend_from_slice(fields);
    c.post(&format!("/changes/{n}"), &all).await
}

fn change_phase(app: &TestApp, n: &str) -> String {
    use relman::schema::phases;
    let number = relman::paths::parse_change_number(n).unwrap();
    releases::table
        .inner_join(phases::table)
        .filter(releases::kind.eq("change"))
        .filter(releases::number.eq(number))
        .select(phases::name)
        .first(&mut app.conn())
        .unwrap()
}

/// Carry a normal change to its Approve phase.
async fn to_approve(app: &TestApp, c: &Client, n: &str) {
    change_take(c, app, n, "Advance to Assess", "")
        .await
        .assert_status(303);
    change_save(
        c,
        app,
        n,
        &[
            ("deployment_plan", "Run the upgrade script"),
            ("backout_plan", "Restore the old driver"),
        ],
    )
    .await
    .assert_status(303);
    change_take(c, app, n, "Advance to Approve", "")
        .await
        .assert_status(303);
    assert_eq!(change_phase(app, n), "Approve");
}

#[tokio::test]
async fn a_change_runs_its_own_workflow_with_its_own_approval_tasks_and_history() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = new_change(&app, &c, "Driver upgrade", "normal").await;
    assert_eq!(n, "C-000001");
    let page = c.get(&format!("/changes/{n}")).await;
    page.assert_status(200)
        .assert_contains("C-000001")
        .assert_contains("Driver upgrade")
        .assert_contains("Registered")
        .assert_contains("Normal");
    // Its own task, holding its own phase.
    c.post(
        &format!("/changes/{n}/tasks"),
        &[("title", "Book the maintenance window")],
    )
    .await
    .assert_status(303);
    change_take(&c, &app, &n, "Advance to Assess", "")
        .await
        .assert_status(422)
        .assert_contains("1 open task in Registered.");
    let task: i64 = relman::schema::tasks::table
        .select(relman::schema::tasks::id)
        .first(&mut app.conn())
        .unwrap();
    c.post(
        &format!("/tasks/{task}"),
        &[("action", "complete"), ("version", "1")],
    )
    .await
    .assert_status(303);
    to_approve(&app, &c, &n).await;
    change_take(&c, &app, &n, "Advance to Implement", "")
        .await
        .assert_status(422)
        .assert_contains("Approval by CAB is pending");
    app.user("ann", &[Role::Approver], &["CAB"]);
    let ann = app.client();
    ann.login("ann", PASSWORD).await;
    ann.get("/approvals")
        .await
        .assert_contains(&n)
        .assert_contains("/changes/C-000001");
    let (id, cycle) = {
        use relman::schema::approvals;
        approvals::table
            .select((approvals::id, approvals::cycle))
            .first::<(i64, i32)>(&mut app.conn())
            .unwrap()
    };
    ann.post(
        &format!("/approvals/{id}/decision"),
        &[("decision", "approve"), ("cycle", &cycle.to_string())],
    )
    .await
    .assert_status(303);
    change_take(&c, &app, &n, "Advance to Implement", "")
        .await
        .assert_status(303);
    change_take(&c, &app, &n, "Advance to Review", "")
        .await
        .assert_status(303);
    change_take(&c, &app, &n, "Close change", "")
        .await
        .assert_status(422)
        .assert_contains("Review notes");
    change_save(&c, &app, &n, &[("evaluation", "Smooth")])
        .await
        .assert_status(303);
    change_take(&c, &app, &n, "Close change", "")
        .await
        .assert_status(303);
    let page = c.get(&format!("/changes/{n}")).await;
    page.assert_contains("Closed — successful")
        .assert_contains("Registered as a Normal change")
        .assert_contains("Completed task “Book the maintenance window”");
    // Its history is its own: no release has any.
    let release_events: i64 = history_events::table
        .inner_join(releases::table.on(releases::id.nullable().eq(history_events::release_id)))
        .filter(releases::kind.eq("release"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(release_events, 0);
    // The change list shows it, the release list does not.
    c.get("/changes").await.assert_contains("Driver upgrade");
    c.get("/releases").await.assert_lacks("Driver upgrade");
    c.get("/releases/RL-000001").await.assert_status(404);
}

#[tokio::test]
async fn an_unapproved_related_change_holds_distribution_until_it_is_approved() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let r = register(&c, "Billing 4.2", "minor", "low", "low").await;
    let a = new_change(&app, &c, "Schema change", "standard").await;
    let b = new_change(&app, &c, "Config change", "standard").await;
    let held = new_change(&app, &c, "Driver upgrade", "normal").await;
    for ch in [&a, &b, &held] {
        c.post(
            &format!("/releases/{r}/changes"),
            &[("number", ch.as_str()), ("action", "add")],
        )
        .await
        .assert_status(303);
    }
    let page = c.get(&format!("/releases/{r}")).await;
    page.assert_contains("Related records")
        .assert_contains("Schema change")
        .assert_contains("pre-approved")
        .assert_contains("not requested yet");
    c.get(&format!("/changes/{held}"))
        .await
        .assert_contains(&r)
        .assert_contains("Billing 4.2");
    c.get(&format!("/releases/{r}/report"))
        .await
        .assert_contains("Related changes")
        .assert_contains(&held)
        .assert_contains("Driver upgrade");
    // Up to Build and Test; entering Distribution and Rollout is held by the normal change.
    take(&app, &c, &r, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    save(
        &app,
        &c,
        &r,
        &[
            ("release_plan", "P"),
            ("deployment_plan", "D"),
            ("test_criteria", "T"),
            ("backout_plan", "B"),
        ],
    )
    .await;
    cab_approves(&app, &r).await;
    take(&app, &c, &r, "Advance to Build and Test", "")
        .await
        .assert_status(303);
    save(&app, &c, &r, &[("test_result", "Passed")]).await;
    cab_approves(&app, &r).await;
    let refused = take(&app, &c, &r, "Advance to Training", "").await;
    refused
        .assert_status(422)
        .assert_contains(&format!("Related changes not approved yet: {held}."));
    assert!(!refused.body.contains(&format!("not approved yet: {a}")));
    // The change gets its CAB approval; now the release may enter.
    to_approve(&app, &c, &held).await;
    // The CAB member `cab_approves` created is the only eligible voter: all must approve.
    let ann = app.client();
    ann.login("cab-chair", PASSWORD).await;
    let (id, cycle) = {
        use relman::schema::approvals;
        approvals::table
            .filter(approvals::status.eq("pending"))
            .select((approvals::id, approvals::cycle))
            .first::<(i64, i32)>(&mut app.conn())
            .unwrap()
    };
    ann.post(
        &format!("/approvals/{id}/decision"),
        &[("decision", "approve"), ("cycle", &cycle.to_string())],
    )
    .await
    .assert_status(303);
    take(&app, &c, &r, "Advance to Training", "")
        .await
        .assert_status(303);
    assert_eq!(
        crate::releases::phase_of(&app, &r),
        "Distribution and Rollout"
    );
    // The list finds releases by a change they contain.
    c.get(&format!("/releases?change={held}"))
        .await
        .assert_contains("Billing 4.2");
    c.get("/releases?change=C-000999")
        .await
        .assert_contains("No releases match");
}

#[tokio::test]
async fn a_change_belongs_to_one_active_release_and_bundles_refuse_cycles() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let r1 = register(&c, "Package", "major", "low", "low").await;
    let r2 = register(&c, "Member", "minor", "low", "low").await;
    let r3 = register(&c, "Inner member", "minor", "low", "low").await;
    let ch = new_change(&app, &c, "Driver upgrade", "standard").await;
    c.post(
        &format!("/releases/{r1}/changes"),
        &[("number", &ch), ("action", "add")],
    )
    .await
    .assert_status(303);
    c.post(
        &format!("/releases/{r2}/changes"),
        &[("number", &ch), ("action", "add")],
    )
    .await
    .assert_status(422)
    .assert_contains("already belongs to the active release RL-000001");
    c.post(
        &format!("/releases/{r2}/changes"),
        &[("number", "C-000777"), ("action", "add")],
    )
    .await
    .assert_status(422)
    .assert_contains("There is no change C-000777");
    // Bundles: r1 contains r2 contains r3; r3 cannot contain r1.
    c.post(
        &format!("/releases/{r1}/bundle"),
        &[("number", &r2), ("action", "add")],
    )
    .await
    .assert_status(303);
    c.post(
        &format!("/releases/{r2}/bundle"),
        &[("number", &r3), ("action", "add")],
    )
    .await
    .assert_status(303);
    c.post(
        &format!("/releases/{r3}/bundle"),
        &[("number", &r1), ("action", "add")],
    )
    .await
    .assert_status(422)
    .assert_contains("would make a cycle");
    c.post(
        &format!("/releases/{r1}/bundle"),
        &[("number", &r1), ("action", "add")],
    )
    .await
    .assert_status(422)
    .assert_contains("cannot contain itself");
    c.post(
        &format!("/releases/{r3}/bundle"),
        &[("number", &r2), ("action", "add")],
    )
    .await
    .assert_status(422);
    c.get(&format!("/releases/{r1}"))
        .await
        .assert_contains("Releases in this package")
        .assert_contains("Member");
    c.get(&format!("/releases/{r2}"))
        .await
        .assert_contains("Part of package");
    // Another coordinator cannot touch the relations.
    let o = app.signed_in("otto", &[Role::Coordinator]).await;
    o.post(
        &format!("/releases/{r1}/changes"),
        &[("number", &ch), ("action", "remove")],
    )
    .await
    .assert_status(403);
    let holder: Option<i64> = releases::table
        .filter(releases::kind.eq("change"))
        .select(releases::related_release_id)
        .first(&mut app.conn())
        .unwrap();
    assert!(holder.is_some());
}

#[tokio::test]
async fn a_package_with_an_active_member_cannot_close() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let pkg = register(&c, "Package", "minor", "low", "low").await;
    let member = register(&c, "Member", "minor", "low", "low").await;
    c.post(
        &format!("/releases/{pkg}/bundle"),
        &[("number", &member), ("action", "add")],
    )
    .await
    .assert_status(303);
    // A package does not run ahead of its members.
    take(&app, &c, &pkg, "Advance to Plan and Design", "")
        .await
        .assert_status(422)
        .assert_contains(&format!(
            "Bundled releases not yet in Plan and Design: {member}."
        ));
    for r in [&member, &pkg] {
        to_distribution(&app, &c, r).await;
        save(&app, &c, r, &[("actual_start", "2026-12-02T10:00")]).await;
        cab_approves(&app, r).await;
        take(&app, &c, r, "Advance to Verification", "")
            .await
            .assert_status(303);
    }
    save(
        &app,
        &c,
        &pkg,
        &[
            ("actual_end", "2026-12-03T10:00"),
            ("verification", "Fine"),
            ("evaluation", "Fine"),
        ],
    )
    .await;
    take(&app, &c, &pkg, "Close as successful", "")
        .await
        .assert_status(422)
        .assert_contains(&format!("Bundled releases still active: {member}."));
    take(
        &app,
        &c,
        &member,
        "Abandon release",
        "Folded into the package",
    )
    .await
    .assert_status(303);
    take(&app, &c, &pkg, "Close as successful", "")
        .await
        .assert_status(303);
}

#[tokio::test]
async fn a_change_type_must_fit_its_category_and_only_a_standard_change_is_pre_approved() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let standard = category(&app, "Standard change");
    let form = |ty: &'static str| {
        vec![
            ("category", standard.clone()),
            ("type", ty.to_string()),
            ("title", "Restart the queue".to_string()),
            ("description", "Weekly restart".to_string()),
            ("impact", "low".to_string()),
            ("urgency", "low".to_string()),
        ]
    };
    c.get("/changes/new")
        .await
        .assert_contains("Standard change (standard only)");
    let fields = form("emergency");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = c.post("/changes/new", &fields).await;
    page.assert_status(422).assert_contains(
        "The category Standard change takes standard changes only: choose that type, or the category for an emergency change.",
    );
    let n: i64 = releases::table
        .filter(releases::kind.eq("change"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(n, 0, "nothing was registered");

    // A standard change under its category is pre-approved on the release it belongs to.
    let ch = new_change(&app, &c, "Restart the queue", "standard").await;
    let r = crate::releases::register(&c, "Billing", "minor", "low", "low").await;
    c.post(
        &format!("/releases/{r}/changes"),
        &[("number", &ch), ("action", "add")],
    )
    .await
    .assert_status(303);
    c.get(&format!("/releases/{r}"))
        .await
        .assert_contains("pre-approved");

    // Unmarked, its workflow pre-approves nothing: the release waits for an approval.
    diesel::sql_query("UPDATE workflows SET pre_approved = false")
        .execute(&mut app.conn())
        .unwrap();
    c.get(&format!("/releases/{r}"))
        .await
        .assert_lacks("pre-approved");
}
