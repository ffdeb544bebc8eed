//! Workflow and category administration through the real HTTP surface: building and publishing
//! a workflow, the validator refusing broken ones (and broken edits of published ones),
//! retiring what releases use, the field-rules grid, what leaving a phase needs (its tasks
//! done, an approval), and managers only.
use diesel::prelude::*;
use relman::domain::fields::RELEASE_FIELDS;
use relman::domain::roles::Role;
use relman::schema::{
    categories, groups, phase_approvals, phase_field_rules, phases, releases, transitions,
    workflows,
};

use crate::support::{Client, TestApp};

fn workflow_id(app: &TestApp, name: &str) -> i64 {
    workflows::table
        .filter(workflows::name.eq(name))
        .select(workflows::id)
        .first(&mut app.conn())
        .expect("workflow")
}

fn phase_id(app: &TestApp, wf: i64, name: &str) -> i64 {
    phases::table
        .filter(phases::workflow_id.eq(wf))
        .filter(phases::name.eq(name))
        .select(phases::id)
        .first(&mut app.conn())
        .expect("phase")
}

fn is_draft(app: &TestApp, wf: i64) -> bool {
    workflows::table
        .find(wf)
        .select(workflows::draft)
        .first(&mut app.conn())
        .unwrap()
}

/// (from, to, kind) of every transition of a workflow, by phase name.
fn transition_rows(app: &TestApp, wf: i64) -> Vec<(String, Option<String>, String)> {
    let names: Vec<(i64, String)> = phases::table
        .filter(phases::workflow_id.eq(wf))
        .select((phases::id, phases::name))
        .load(&mut app.conn())
        .unwrap();
    let name = |id: i64| names.iter().find(|(p, _)| *p == id).unwrap().1.clone();
    let rows: Vec<(i64, Option<i64>, String)> = transitions::table
        .filter(transitions::workflow_id.eq(wf))
        .order(transitions::id)
        .select((
            transitions::from_phase_id,
            transitions::to_phase_id,
            transitions::kind,
        ))
        .load(&mut app.conn())
        .unwrap();
    rows.into_iter()
        .map(|(f, t, k)| (name(f), t.map(name), k))
        .collect()
}

async fn add_phase(m: &Client, wf: i64, name: &str, days: &str) {
    m.post(
        &format!("/admin/workflows/{wf}/phases"),
        &[
            ("phase_name", name),
            ("phase_description", ""),
            ("phase_duration", days),
            ("phase_duration_unit", "days"),
            ("phase_emergency_duration", "6"),
            ("phase_emergency_unit", "hours"),
            ("phase_condition", "always"),
            ("phase_from", ""),
            ("phase_to", ""),
        ],
    )
    .await
    .assert_redirect_to(&format!("/admin/workflows/{wf}"));
}

async fn add_transition(
    m: &Client,
    wf: i64,
    from: i64,
    to: Option<i64>,
    kind: &str,
    outcome: &str,
) -> crate::support::Page {
    let (from, to) = (
        from.to_string(),
        to.map(|t| t.to_string()).unwrap_or_default(),
    );
    m.post(
        &format!("/admin/workflows/{wf}/transitions"),
        &[
            ("t_from", from.as_str()),
            ("t_to", to.as_str()),
            ("t_kind", kind),
            ("t_label", ""),
            ("t_roles", "coordinator"),
            ("t_roles", "manager"),
            ("t_outcome", outcome),
        ],
    )
    .await
}

/// Build the Hardware release workflow through the pages: Order → Install → Test → Handover,
/// close from Handover, rework from Test to Install; publish it. Returns its id.
async fn build_hardware(app: &TestApp, m: &Client) -> i64 {
    let created = m
        .post(
            "/admin/workflows",
            &[
                ("name", "Hardware release"),
                ("description", "Servers and network kit"),
                ("record_kind", "release"),
            ],
        )
        .await;
    let wf = workflow_id(app, "Hardware release");
    created.assert_redirect_to(&format!("/admin/workflows/{wf}"));
    assert!(is_draft(app, wf), "a new workflow starts as a draft");
    for (name, days) in [
        ("Order", "10"),
        ("Install", "3"),
        ("Test", "2"),
        ("Handover", "1"),
    ] {
        add_phase(m, wf, name, days).await;
    }
    let page = m.get(&format!("/admin/workflows/{wf}")).await;
    page.assert_status(200)
        .assert_contains("Draft")
        .assert_contains("Before it can be published")
        .assert_contains("Install cannot be reached from the first phase, Order.");
    let [order, install, test, handover] =
        ["Order", "Install", "Test", "Handover"].map(|n| phase_id(app, wf, n));
    let back = format!("/admin/workflows/{wf}");
    for (from, to) in [(order, install), (install, test), (test, handover)] {
        add_transition(m, wf, from, Some(to), "advance", "")
            .await
            .assert_redirect_to(&back);
    }
    add_transition(m, wf, handover, None, "close", "successful")
        .await
        .assert_redirect_to(&back);
    add_transition(m, wf, test, Some(install), "rework", "")
        .await
        .assert_redirect_to(&back);
    m.post(&format!("/admin/workflows/{wf}/publish"), &[])
        .await
        .assert_redirect_to(&back);
    wf
}

#[tokio::test]
async fn a_manager_builds_publishes_and_uses_a_hardware_release_workflow() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    m.get("/admin/workflows")
        .await
        .assert_status(200)
        .assert_contains("Release Management");
    let wf = build_hardware(&app, &m).await;

    assert!(!is_draft(&app, wf), "published");
    let page = m.get(&format!("/admin/workflows/{wf}")).await;
    page.assert_status(200)
        .assert_contains("Published")
        .assert_lacks("Before it can be published");
    let mut conn = app.conn();
    let rows: Vec<(String, i32, i32, i32, bool)> = phases::table
        .filter(phases::workflow_id.eq(wf))
        .order(phases::position)
        .select((
            phases::name,
            phases::position,
            phases::duration_hours,
            phases::emergency_duration_hours,
            phases::retired,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        rows,
        vec![
            ("Order".into(), 1, 240, 6, false),
            ("Install".into(), 2, 72, 6, false),
            ("Test".into(), 3, 48, 6, false),
            ("Handover".into(), 4, 24, 6, false),
        ]
    );
    let s = |x: &str| x.to_string();
    assert_eq!(
        transition_rows(&app, wf),
        vec![
            (s("Order"), Some(s("Install")), s("advance")),
            (s("Install"), Some(s("Test")), s("advance")),
            (s("Test"), Some(s("Handover")), s("advance")),
            (s("Handover"), None, s("close")),
            (s("Test"), Some(s("Install")), s("rework")),
        ]
    );
    let (label, reason, outcome): (String, bool, Option<String>) = transitions::table
        .filter(transitions::workflow_id.eq(wf))
        .filter(transitions::kind.eq("close"))
        .select((
            transitions::label,
            transitions::reason_required,
            transitions::outcome,
        ))
        .first(&mut conn)
        .unwrap();
    assert_eq!(
        (label.as_str(), reason, outcome.as_deref()),
        ("Close as successful", false, Some("successful"))
    );
    let rework_reason: bool = transitions::table
        .filter(transitions::workflow_id.eq(wf))
        .filter(transitions::kind.eq("rework"))
        .select(transitions::reason_required)
        .first(&mut conn)
        .unwrap();
    assert!(rework_reason, "rework always asks for a reason");
    let rules: i64 = phase_field_rules::table
        .inner_join(phases::table)
        .filter(phases::workflow_id.eq(wf))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(
        rules,
        4 * RELEASE_FIELDS.len() as i64,
        "every new phase has a rule for every field"
    );

    m.get("/admin/categories")
        .await
        .assert_status(200)
        .assert_contains("Hardware release (releases)");
    let wf_s = wf.to_string();
    m.post(
        "/admin/categories",
        &[
            ("name", "Hardware release"),
            ("description", "New and replaced hardware"),
            ("record_kind", "release"),
            ("workflow_id", &wf_s),
        ],
    )
    .await
    .assert_redirect_to("/admin/categories");
    let (kind, workflow, retired): (String, i64, bool) = categories::table
        .filter(categories::name.eq("Hardware release"))
        .select((
            categories::record_kind,
            categories::workflow_id,
            categories::retired,
        ))
        .first(&mut conn)
        .unwrap();
    assert_eq!((kind.as_str(), workflow, retired), ("release", wf, false));
    m.get("/admin/categories")
        .await
        .assert_contains("Hardware release")
        .assert_contains("Active");
    m.get("/admin/workflows")
        .await
        .assert_contains("Published")
        .assert_contains("Hardware release");
}

#[tokio::test]
async fn publishing_a_workflow_with_an_unreachable_phase_is_refused_and_it_stays_a_draft() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    m.post(
        "/admin/workflows",
        &[
            ("name", "Island hopping"),
            ("description", ""),
            ("record_kind", "release"),
        ],
    )
    .await;
    let wf = workflow_id(&app, "Island hopping");
    for name in ["Start", "Finish", "Island"] {
        add_phase(&m, wf, name, "1").await;
    }
    let [start, finish, island] = ["Start", "Finish", "Island"].map(|n| phase_id(&app, wf, n));
    add_transition(&m, wf, start, Some(finish), "advance", "")
        .await
        .assert_status(303);
    add_transition(&m, wf, finish, None, "close", "successful")
        .await
        .assert_status(303);
    add_transition(&m, wf, island, None, "close", "successful")
        .await
        .assert_status(303);

    let refused = m.post(&format!("/admin/workflows/{wf}/publish"), &[]).await;
    refused
        .assert_status(422)
        .assert_contains("The workflow was not published")
        .assert_contains("Island cannot be reached from the first phase, Start.");
    assert!(is_draft(&app, wf), "still a draft");

    // A draft cannot be chosen by a category.
    let wf_s = wf.to_string();
    m.post(
        "/admin/categories",
        &[
            ("name", "Islands"),
            ("description", ""),
            ("record_kind", "release"),
            ("workflow_id", &wf_s),
        ],
    )
    .await
    .assert_status(422)
    .assert_contains("Island hopping is a draft");
    let n: i64 = categories::table
        .filter(categories::name.eq("Islands"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn removing_the_only_way_into_a_phase_of_a_published_workflow_is_refused() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    let wf = build_hardware(&app, &m).await;
    let (order, install) = (phase_id(&app, wf, "Order"), phase_id(&app, wf, "Install"));
    let only_way: i64 = transitions::table
        .filter(transitions::from_phase_id.eq(order))
        .filter(transitions::to_phase_id.eq(install))
        .select(transitions::id)
        .first(&mut app.conn())
        .unwrap();
    let path = format!("/admin/workflows/{wf}/transitions/{only_way}/remove");
    m.get(&path)
        .await
        .assert_status(200)
        .assert_contains("Remove the transition");
    m.post(&path, &[("action", "remove")])
        .await
        .assert_status(422)
        .assert_contains("Nothing was changed")
        .assert_contains("Install cannot be reached from the first phase, Order.");
    let still: i64 = transitions::table
        .find(only_way)
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(still, 1, "the transition is still there");
    assert!(!is_draft(&app, wf));

    // Moving Handover first would strand the others: refused too, order unchanged.
    let handover = phase_id(&app, wf, "Handover");
    for _ in 0..3 {
        let r = m
            .post(
                &format!("/admin/workflows/{wf}/phases/{handover}/move"),
                &[("direction", "up")],
            )
            .await;
        if r.status == 422 {
            r.assert_contains("cannot be reached from the first phase, Handover");
            break;
        }
        r.assert_redirect_to(&format!("/admin/workflows/{wf}"));
    }
    let first: String = phases::table
        .filter(phases::workflow_id.eq(wf))
        .order(phases::position)
        .select(phases::name)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(first, "Order");

    // A transition that is not needed can go.
    let rework: i64 = transitions::table
        .filter(transitions::workflow_id.eq(wf))
        .filter(transitions::kind.eq("rework"))
        .select(transitions::id)
        .first(&mut app.conn())
        .unwrap();
    m.post(
        &format!("/admin/workflows/{wf}/transitions/{rework}/remove"),
        &[("action", "remove")],
    )
    .await
    .assert_redirect_to(&format!("/admin/workflows/{wf}"));
    assert_eq!(
        transitions::table
            .find(rework)
            .count()
            .get_result::<i64>(&mut app.conn())
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_phase_a_release_is_in_is_retired_not_deleted_and_the_release_stays() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    let wf = build_hardware(&app, &m).await;
    let wf_s = wf.to_string();
    m.post(
        "/admin/categories",
        &[
            ("name", "Hardware release"),
            ("description", ""),
            ("record_kind", "release"),
            ("workflow_id", &wf_s),
        ],
    )
    .await
    .assert_redirect_to("/admin/categories");
    let category: i64 = categories::table
        .filter(categories::name.eq("Hardware release"))
        .select(categories::id)
        .first(&mut app.conn())
        .unwrap();
    let [order, install, test] = ["Order", "Install", "Test"].map(|n| phase_id(&app, wf, n));
    let registrant = app.user("rita", &[Role::Coordinator], &[]);
    let release: i64 = diesel::insert_into(releases::table)
        .values((
            releases::title.eq("New core switches"),
            releases::release_type.eq("major"),
            releases::category_id.eq(category),
            releases::workflow_id.eq(wf),
            releases::phase_id.eq(install),
            releases::reason.eq("business_requirement"),
            releases::registered_by.eq(registrant),
            releases::impact.eq("low"),
            releases::urgency.eq("low"),
            releases::risk.eq("low"),
        ))
        .returning(releases::id)
        .get_result(&mut app.conn())
        .unwrap();

    let confirm = format!("/admin/workflows/{wf}/phases/{install}/retire");
    m.get(&confirm)
        .await
        .assert_status(200)
        .assert_contains("One release is in it now")
        .assert_contains("Retire Install")
        .assert_lacks("Delete Install");
    m.post(&confirm, &[("action", "delete")])
        .await
        .assert_status(422)
        .assert_contains("it can be retired, never deleted");
    // Retiring removes the ways into Install: Order would be a dead end, so it is refused
    // until Order has another way on.
    m.post(&confirm, &[("action", "retire")])
        .await
        .assert_status(422)
        .assert_contains("Order has no way out");
    let retired: bool = phases::table
        .find(install)
        .select(phases::retired)
        .first(&mut app.conn())
        .unwrap();
    assert!(!retired);

    add_transition(&m, wf, order, Some(test), "advance", "")
        .await
        .assert_redirect_to(&format!("/admin/workflows/{wf}"));
    m.post(&confirm, &[("action", "retire")])
        .await
        .assert_redirect_to(&format!("/admin/workflows/{wf}"));
    let retired: bool = phases::table
        .find(install)
        .select(phases::retired)
        .first(&mut app.conn())
        .unwrap();
    assert!(retired, "retired, and the row is still there");
    let still_in: i64 = releases::table
        .find(release)
        .select(releases::phase_id)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(
        still_in, install,
        "the release stays in the retired phase until it is moved"
    );
    let out_of_install: i64 = transitions::table
        .filter(transitions::from_phase_id.eq(install))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(
        out_of_install, 1,
        "its way out stays so the release can leave"
    );
    m.get(&format!("/admin/workflows/{wf}"))
        .await
        .assert_status(200)
        .assert_contains("Retired phases")
        .assert_contains("Edit or restore");
    assert!(!is_draft(&app, wf));

    // A category that a release uses can be retired, not deleted.
    let cat_confirm = format!("/admin/categories/{category}/retire");
    m.get(&cat_confirm)
        .await
        .assert_status(200)
        .assert_lacks("Delete Hardware release");
    m.post(&cat_confirm, &[("action", "delete")])
        .await
        .assert_status(422)
        .assert_contains("never deleted");
    m.post(&cat_confirm, &[("action", "retire")])
        .await
        .assert_redirect_to("/admin/categories");
    let retired: bool = categories::table
        .find(category)
        .select(categories::retired)
        .first(&mut app.conn())
        .unwrap();
    assert!(retired);
}

#[tokio::test]
async fn an_unused_phase_added_to_a_published_workflow_can_be_deleted() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    let wf = build_hardware(&app, &m).await;
    let handover = phase_id(&app, wf, "Handover").to_string();
    let path = format!("/admin/workflows/{wf}/phases");
    let mut fields = vec![
        ("phase_name", "Audit"),
        ("phase_description", "Check the asset register"),
        ("phase_duration", "12"),
        ("phase_duration_unit", "hours"),
        ("phase_emergency_duration", "2"),
        ("phase_emergency_unit", "hours"),
        ("phase_condition", "impact_and_urgency_high"),
        ("phase_from", ""),
        ("phase_to", ""),
        ("phase_record_types", "minor"),
        ("phase_record_types", "major"),
    ];
    // Unconnected, it would be unreachable: refused, nothing added, input kept.
    m.post(&path, &fields)
        .await
        .assert_status(422)
        .assert_contains("Audit cannot be reached from the first phase, Order.")
        .assert_contains("Check the asset register");
    assert_eq!(
        phases::table
            .filter(phases::name.eq("Audit"))
            .count()
            .get_result::<i64>(&mut app.conn())
            .unwrap(),
        0
    );
    fields[7] = ("phase_from", handover.as_str());
    fields[8] = ("phase_to", "close");
    m.post(&path, &fields)
        .await
        .assert_redirect_to(&format!("/admin/workflows/{wf}"));
    let audit = phase_id(&app, wf, "Audit");
    let (hours, condition, types): (i32, String, Vec<String>) = phases::table
        .find(audit)
        .select((
            phases::duration_hours,
            phases::condition,
            phases::record_types,
        ))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!((hours, condition.as_str()), (12, "impact_and_urgency_high"));
    assert_eq!(
        types,
        ["major", "minor"],
        "the phase is for the types ticked"
    );
    m.get(&format!("/admin/workflows/{wf}/phases/{audit}"))
        .await
        .assert_contains(r#"name="phase_record_types" value="major" checked"#)
        .assert_contains(r#"name="phase_record_types" value="emergency">"#);

    let confirm = format!("/admin/workflows/{wf}/phases/{audit}/retire");
    m.get(&confirm)
        .await
        .assert_status(200)
        .assert_contains("Delete Audit");
    m.post(&confirm, &[("action", "delete")])
        .await
        .assert_redirect_to(&format!("/admin/workflows/{wf}"));
    assert_eq!(
        phases::table
            .find(audit)
            .count()
            .get_result::<i64>(&mut app.conn())
            .unwrap(),
        0
    );
    let touching: i64 = transitions::table
        .filter(
            transitions::from_phase_id
                .eq(audit)
                .or(transitions::to_phase_id.eq(audit)),
        )
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(touching, 0);
}

#[tokio::test]
async fn the_field_rules_grid_saves_and_refuses_a_field_nobody_can_fill() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    let wf = build_hardware(&app, &m).await;
    let ids = ["Order", "Install", "Test", "Handover"].map(|n| phase_id(&app, wf, n));
    let path = format!("/admin/workflows/{wf}/fields");
    let page = m.get(&path).await;
    page.assert_status(200)
        .assert_contains("Title in Order")
        .assert_contains(&format!("name=\"rule_{}_test_result\"", ids[2]));

    // The whole grid, as the browser sends it: Test result required to leave Test, hidden in Order.
    let mut cells: Vec<(String, &str)> = Vec::new();
    for (i, p) in ids.iter().enumerate() {
        for f in RELEASE_FIELDS {
            let rule = match (i, f.key) {
                (0, "test_result") => "hidden",
                (2, "test_result") => "required",
                (3, "backout_plan") => "entry",
                (3, _) => "readonly",
                _ => "editable",
            };
            cells.push((format!("rule_{p}_{}", f.key), rule));
        }
    }
    let form: Vec<(&str, &str)> = cells.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    m.post(&path, &form).await.assert_redirect_to(&path);
    let rule = |phase: i64, field: &str| -> String {
        phase_field_rules::table
            .filter(phase_field_rules::phase_id.eq(phase))
            .filter(phase_field_rules::field.eq(field))
            .select(phase_field_rules::rule)
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!(rule(ids[0], "test_result"), "hidden");
    assert_eq!(rule(ids[2], "test_result"), "required");
    assert_eq!(rule(ids[3], "backout_plan"), "entry");
    assert_eq!(rule(ids[3], "title"), "readonly");
    m.get(&path)
        .await
        .assert_contains("The field rules were saved.");

    // Required to enter Order, but no phase leads into Order: nobody could ever fill it.
    let key = format!("rule_{}_test_criteria", ids[0]);
    m.post(&path, &[(key.as_str(), "entry")])
        .await
        .assert_status(422)
        .assert_contains("Test criteria is required to enter Order but no phase before it lets anyone fill it in.");
    assert_eq!(rule(ids[0], "test_criteria"), "editable");
    m.post(&path, &[(key.as_str(), "mandatory")])
        .await
        .assert_status(422)
        .assert_contains("Choose a rule for Test criteria in Order.");
}

#[tokio::test]
async fn a_copy_starts_as_a_draft_with_the_phases_rules_and_transitions() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    let rm = workflow_id(&app, "Release Management");
    let rm_s = rm.to_string();
    m.post(
        "/admin/workflows/copy",
        &[("copy_source", rm_s.as_str()), ("copy_name", "")],
    )
    .await
    .assert_status(303);
    let copy = workflow_id(&app, "Copy of Release Management");
    assert!(is_draft(&app, copy));
    let count_phases = |wf: i64| {
        phases::table
            .filter(phases::workflow_id.eq(wf))
            .count()
            .get_result::<i64>(&mut app.conn())
            .unwrap()
    };
    let count_rules = |wf: i64| {
        phase_field_rules::table
            .inner_join(phases::table)
            .filter(phases::workflow_id.eq(wf))
            .count()
            .get_result::<i64>(&mut app.conn())
            .unwrap()
    };
    assert_eq!(count_phases(copy), 7);
    assert_eq!(count_rules(copy), count_rules(rm));
    assert_eq!(transition_rows(&app, copy), transition_rows(&app, rm));
    let assess = phase_id(&app, copy, "Assess");
    assert_ne!(
        assess,
        phase_id(&app, rm, "Assess"),
        "the copy has phases of its own"
    );
    m.post(&format!("/admin/workflows/{copy}/publish"), &[])
        .await
        .assert_redirect_to(&format!("/admin/workflows/{copy}"));
    assert!(!is_draft(&app, copy));
    // A second copy gets a name of its own.
    m.post(
        "/admin/workflows/copy",
        &[("copy_source", rm_s.as_str()), ("copy_name", "")],
    )
    .await
    .assert_status(303);
    workflow_id(&app, "Copy of Release Management (2)");
}

#[tokio::test]
async fn the_transition_form_checks_targets_and_outcomes() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    let wf = build_hardware(&app, &m).await;
    let [order, test] = ["Order", "Test"].map(|n| phase_id(&app, wf, n));
    let before = transition_rows(&app, wf).len();
    add_transition(&m, wf, test, Some(order), "abandon", "")
        .await
        .assert_status(422)
        .assert_contains("Abandon and close end the record: leave the target phase empty.");
    add_transition(&m, wf, test, None, "close", "")
        .await
        .assert_status(422)
        .assert_contains("Choose how a close ends the record");
    add_transition(&m, wf, test, None, "advance", "")
        .await
        .assert_status(422)
        .assert_contains("Choose the phase the transition leads to");
    add_transition(&m, wf, test, Some(order), "advance", "successful")
        .await
        .assert_status(422)
        .assert_contains("Only a close transition has an outcome");
    assert_eq!(transition_rows(&app, wf).len(), before);
    add_transition(&m, wf, test, None, "abandon", "")
        .await
        .assert_redirect_to(&format!("/admin/workflows/{wf}"));
    m.get(&format!("/admin/workflows/{wf}"))
        .await
        .assert_contains("Abandon")
        .assert_contains("Ends the record");
}

#[tokio::test]
async fn only_managers_reach_workflow_and_category_administration() {
    let app = TestApp::spawn().await;
    let rm = workflow_id(&app, "Release Management");
    let assess = phase_id(&app, rm, "Assess");
    let category: i64 = categories::table
        .select(categories::id)
        .first(&mut app.conn())
        .unwrap();
    let t: i64 = transitions::table
        .filter(transitions::workflow_id.eq(rm))
        .select(transitions::id)
        .first(&mut app.conn())
        .unwrap();
    let workflows_before: i64 = workflows::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    let active_categories = || -> i64 {
        categories::table
            .filter(categories::retired.eq(false))
            .count()
            .get_result(&mut app.conn())
            .unwrap()
    };
    let categories_before = active_categories();
    let c = app
        .signed_in("cody", &[Role::Coordinator, Role::Approver, Role::Admin])
        .await;
    let gets = [
        "/admin/workflows".to_string(),
        format!("/admin/workflows/{rm}"),
        format!("/admin/workflows/{rm}/fields"),
        format!("/admin/workflows/{rm}/retire"),
        format!("/admin/workflows/{rm}/phases/{assess}"),
        format!("/admin/workflows/{rm}/phases/{assess}/retire"),
        format!("/admin/workflows/{rm}/transitions/{t}/remove"),
        "/admin/categories".to_string(),
        format!("/admin/categories/{category}"),
        format!("/admin/categories/{category}/retire"),
    ];
    for path in &gets {
        c.get(path).await.assert_status(403);
    }
    let rm_s = rm.to_string();
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/admin/workflows".into(),
            vec![("name", "Sneaky"), ("record_kind", "release")],
        ),
        (
            "/admin/workflows/copy".into(),
            vec![("copy_source", rm_s.as_str())],
        ),
        (
            format!("/admin/workflows/{rm}"),
            vec![("name", "Renamed"), ("description", "")],
        ),
        (
            format!("/admin/workflows/{rm}/retire"),
            vec![("action", "retire")],
        ),
        (
            format!("/admin/workflows/{rm}/phases"),
            vec![("phase_name", "Sneaky")],
        ),
        (
            format!("/admin/workflows/{rm}/phases/{assess}/move"),
            vec![("direction", "down")],
        ),
        (
            format!("/admin/workflows/{rm}/phases/{assess}/retire"),
            vec![("action", "retire")],
        ),
        (format!("/admin/workflows/{rm}/fields"), vec![]),
        (
            format!("/admin/workflows/{rm}/transitions/{t}/remove"),
            vec![("action", "remove")],
        ),
        (
            "/admin/categories".into(),
            vec![
                ("name", "Sneaky"),
                ("record_kind", "release"),
                ("workflow_id", rm_s.as_str()),
            ],
        ),
        (
            format!("/admin/categories/{category}/retire"),
            vec![("action", "retire")],
        ),
    ];
    for (path, fields) in &posts {
        c.post(path, fields).await.assert_status(403);
    }
    let mut conn = app.conn();
    assert_eq!(
        workflows::table
            .count()
            .get_result::<i64>(&mut conn)
            .unwrap(),
        workflows_before
    );
    assert_eq!(active_categories(), categories_before);
    assert_eq!(
        transitions::table
            .find(t)
            .count()
            .get_result::<i64>(&mut conn)
            .unwrap(),
        1
    );
    assert_eq!(workflow_id(&app, "Release Management"), rm);
}

fn group_id(app: &TestApp, name: &str) -> i64 {
    groups::table
        .filter(groups::name.eq(name))
        .select(groups::id)
        .first(&mut app.conn())
        .expect("group")
}

/// (phase name, group, rule, quorum, emergency group, emergency rule) of a workflow's approval
/// requirements, by phase position.
type RequirementRow = (String, String, String, Option<i32>, Option<String>, String);
/// The same with group ids, as stored.
type StoredRequirement = (String, i64, String, Option<i32>, Option<i64>, String);

fn requirement_rows(app: &TestApp, wf: i64) -> Vec<RequirementRow> {
    let names: Vec<(i64, String)> = groups::table
        .select((groups::id, groups::name))
        .load(&mut app.conn())
        .unwrap();
    let name = |id: i64| names.iter().find(|(g, _)| *g == id).unwrap().1.clone();
    let rows: Vec<StoredRequirement> = phase_approvals::table
        .inner_join(phases::table.on(phases::id.eq(phase_approvals::phase_id)))
        .filter(phases::workflow_id.eq(wf))
        .order(phases::position)
        .select((
            phases::name,
            phase_approvals::group_id,
            phase_approvals::rule,
            phase_approvals::quorum_count,
            phase_approvals::emergency_group_id,
            phase_approvals::emergency_rule,
        ))
        .load(&mut app.conn())
        .unwrap();
    rows.into_iter()
        .map(|(p, g, r, q, e, er)| (p, name(g), r, q, e.map(name), er))
        .collect()
}

fn tasks_criterion(app: &TestApp, phase: i64) -> bool {
    phases::table
        .find(phase)
        .select(phases::require_tasks_done)
        .first(&mut app.conn())
        .unwrap()
}

/// The phase page's form as a browser sends it: the phase's own fields, then `extra`.
async fn save_phase<'a>(
    m: &Client,
    wf: i64,
    phase: i64,
    name: &'a str,
    extra: &[(&'a str, &'a str)],
) -> crate::support::Page {
    let mut fields = vec![
        ("phase_name", name),
        ("phase_description", ""),
        ("phase_duration", "2"),
        ("phase_duration_unit", "days"),
        ("phase_emergency_duration", "6"),
        ("phase_emergency_unit", "hours"),
        ("phase_condition", "always"),
    ];
    fields.extend_from_slice(extra);
    m.post(&format!("/admin/workflows/{wf}/phases/{phase}"), &fields)
        .await
}

#[tokio::test]
async fn a_manager_sets_and_removes_what_leaving_a_phase_needs() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    let wf = build_hardware(&app, &m).await;
    let test = phase_id(&app, wf, "Test");
    let (cab, ecab) = (
        group_id(&app, "CAB").to_string(),
        group_id(&app, "ECAB").to_string(),
    );
    let page_path = format!("/admin/workflows/{wf}/phases/{test}");
    // Out of the box: tasks done, no approval; the form offers CAB and ECAB, ready to switch on.
    m.get(&page_path)
        .await
        .assert_status(200)
        .assert_contains("<legend>Approval to leave the phase</legend>")
        .assert_contains(r#"id="f-phase_require_tasks_done" name="phase_require_tasks_done" value="on" checked"#)
        .assert_contains(r#"id="f-phase_needs_approval" name="phase_needs_approval" value="on" aria-describedby"#)
        .assert_contains(&format!(r#"<option value="{cab}" selected>CAB</option>"#));
    assert!(tasks_criterion(&app, test));

    // Tasks criterion off; CAB must approve by a quorum of 2, emergencies go to the ECAB, one must approve.
    let approval = [
        ("phase_needs_approval", "on"),
        ("phase_approval_group", cab.as_str()),
        ("phase_approval_rule", "quorum"),
        ("phase_quorum_count", "2"),
        ("phase_emergency_group", ecab.as_str()),
        ("phase_emergency_rule", "one"),
    ];
    save_phase(&m, wf, test, "Test", &approval)
        .await
        .assert_redirect_to(&format!("/admin/workflows/{wf}"));
    assert!(!tasks_criterion(&app, test));
    let s = |x: &str| x.to_string();
    assert_eq!(
        requirement_rows(&app, wf),
        vec![(
            s("Test"),
            s("CAB"),
            s("quorum"),
            Some(2),
            Some(s("ECAB")),
            s("one")
        )]
    );
    m.get(&format!("/admin/workflows/{wf}"))
        .await
        .assert_status(200)
        .assert_contains("<th scope=\"col\">Leaving needs</th>")
        .assert_contains(
            "<td>CAB approval (Quorum: 2 must approve; emergency: ECAB, One must approve)</td>",
        )
        .assert_contains("<td>all tasks done</td>");
    m.get(&page_path)
        .await
        .assert_contains(
            r#"id="f-phase_needs_approval" name="phase_needs_approval" value="on" checked"#,
        )
        .assert_contains(r#"value="2""#)
        .assert_contains(r#"<option value="quorum" selected>"#)
        .assert_contains(&format!(r#"<option value="{ecab}" selected>ECAB</option>"#));

    // Tasks back on, approval unchecked: the requirement goes (the other fields are ignored).
    let mut off = approval.to_vec();
    off[0] = ("phase_require_tasks_done", "on");
    save_phase(&m, wf, test, "Test", &off)
        .await
        .assert_redirect_to(&format!("/admin/workflows/{wf}"));
    assert!(tasks_criterion(&app, test));
    assert_eq!(requirement_rows(&app, wf), vec![]);
    m.get(&format!("/admin/workflows/{wf}"))
        .await
        .assert_lacks("CAB approval");

    // Neither: nothing is needed to leave it. "Same as above" for emergencies is NULL.
    let same_for_emergencies = [
        ("phase_needs_approval", "on"),
        ("phase_approval_group", cab.as_str()),
        ("phase_approval_rule", "all"),
        ("phase_quorum_count", ""),
        ("phase_emergency_group", ""),
        ("phase_emergency_rule", "one"),
    ];
    save_phase(&m, wf, test, "Test", &same_for_emergencies)
        .await
        .assert_redirect_to(&format!("/admin/workflows/{wf}"));
    assert_eq!(
        requirement_rows(&app, wf),
        vec![(s("Test"), s("CAB"), s("all"), None, None, s("one"))]
    );
    m.get(&format!("/admin/workflows/{wf}"))
        .await
        .assert_contains(
            "<td>CAB approval (All must approve; emergency: same group and rule)</td>",
        );
    save_phase(&m, wf, test, "Test", &[])
        .await
        .assert_redirect_to(&format!("/admin/workflows/{wf}"));
    assert!(!tasks_criterion(&app, test));
    assert_eq!(requirement_rows(&app, wf), vec![]);
    m.get(&format!("/admin/workflows/{wf}"))
        .await
        .assert_contains(r#"<td><span class="muted">nothing</span></td>"#);
}

#[tokio::test]
async fn a_bad_quorum_or_group_is_refused_with_the_input_kept() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    let rm = workflow_id(&app, "Release Management");
    let build = phase_id(&app, rm, "Build and Test");
    let cab = group_id(&app, "CAB").to_string();
    let before = requirement_rows(&app, rm);
    for bad in ["0", "abc", "1001"] {
        save_phase(
            &m,
            rm,
            build,
            "Build and Test renamed",
            &[
                ("phase_needs_approval", "on"),
                ("phase_approval_group", cab.as_str()),
                ("phase_approval_rule", "quorum"),
                ("phase_quorum_count", bad),
                ("phase_emergency_group", ""),
                ("phase_emergency_rule", "all"),
            ],
        )
        .await
        .assert_status(422)
        .assert_contains("Enter the quorum as a whole number from 1 to 1000, or leave it empty for more than half of the group.")
        .assert_contains(r##"href="#f-phase_quorum_count""##)
        .assert_contains(r#"id="e-phase_quorum_count""#)
        .assert_contains(&format!(r#"value="{bad}" aria-describedby="h-phase_quorum_count e-phase_quorum_count" aria-invalid="true""#))
        .assert_contains(r#"value="Build and Test renamed""#)
        .assert_contains(r#"<option value="" selected>Same as above (group and rule)</option>"#)
        .assert_contains(r#"id="f-phase_require_tasks_done" name="phase_require_tasks_done" value="on" aria-describedby"#);
    }
    let unknown = [
        ("phase_needs_approval", "on"),
        ("phase_approval_group", "999999"),
        ("phase_approval_rule", "most"),
        ("phase_emergency_rule", "one"),
    ];
    save_phase(&m, rm, build, "Build and Test", &unknown)
        .await
        .assert_status(422)
        .assert_contains("Choose the group that approves leaving the phase.")
        .assert_contains("Choose how the group decides.");
    assert_eq!(requirement_rows(&app, rm), before, "nothing changed");
    assert!(tasks_criterion(&app, build));
    let name: String = phases::table
        .find(build)
        .select(phases::name)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(name, "Build and Test");
}

#[tokio::test]
async fn release_management_needs_cab_approvals_out_of_the_box_and_a_copy_keeps_them() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    let rm = workflow_id(&app, "Release Management");
    let s = |x: &str| x.to_string();
    let out_of_box = vec![
        (
            s("Plan and Design"),
            s("CAB"),
            s("all"),
            None,
            Some(s("ECAB")),
            s("one"),
        ),
        (
            s("Build and Test"),
            s("CAB"),
            s("quorum"),
            None,
            Some(s("ECAB")),
            s("one"),
        ),
        (
            s("Distribution and Rollout"),
            s("CAB"),
            s("one"),
            None,
            Some(s("ECAB")),
            s("one"),
        ),
    ];
    assert_eq!(requirement_rows(&app, rm), out_of_box);
    m.get(&format!("/admin/workflows/{rm}"))
        .await
        .assert_contains("<td>all tasks done; CAB approval (All must approve; emergency: ECAB, One must approve)</td>")
        .assert_contains("<td>all tasks done; CAB approval (Quorum: more than half must approve; emergency: ECAB, One must approve)</td>")
        .assert_contains("<td>all tasks done; CAB approval (One must approve; emergency: ECAB, One must approve)</td>");

    // One phase without the tasks criterion, one with a set quorum: the copy carries both.
    let (assess, build) = (
        phase_id(&app, rm, "Assess"),
        phase_id(&app, rm, "Build and Test"),
    );
    diesel::update(phases::table.find(assess))
        .set(phases::require_tasks_done.eq(false))
        .execute(&mut app.conn())
        .unwrap();
    diesel::update(phase_approvals::table.find(build))
        .set(phase_approvals::quorum_count.eq(Some(3)))
        .execute(&mut app.conn())
        .unwrap();
    let rm_s = rm.to_string();
    m.post(
        "/admin/workflows/copy",
        &[
            ("copy_source", rm_s.as_str()),
            ("copy_name", "Release Management 2"),
        ],
    )
    .await
    .assert_status(303);
    let copy = workflow_id(&app, "Release Management 2");
    let criteria = |wf: i64| -> Vec<(String, bool)> {
        phases::table
            .filter(phases::workflow_id.eq(wf))
            .order(phases::position)
            .select((phases::name, phases::require_tasks_done))
            .load(&mut app.conn())
            .unwrap()
    };
    assert_eq!(criteria(copy), criteria(rm));
    assert_eq!(criteria(copy)[0], (s("Assess"), false));
    let copied = requirement_rows(&app, copy);
    assert_eq!(copied, requirement_rows(&app, rm));
    assert_eq!(copied[1].3, Some(3));
    let copied_phases: i64 = phase_approvals::table
        .inner_join(phases::table.on(phases::id.eq(phase_approvals::phase_id)))
        .filter(phases::workflow_id.eq(copy))
        .filter(phase_approvals::phase_id.ne(build))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(
        copied_phases, 3,
        "the copy's requirements point at its own phases"
    );
    m.get(&format!("/admin/workflows/{copy}"))
        .await
        .assert_contains("<td>all tasks done; CAB approval (Quorum: 3 must approve; emergency: ECAB, One must approve)</td>");
}

/// Each instance keeps a workflow's configuration in memory (`services::workflow_config`): an
/// edit must hold the very next transition, with nothing waited for.
#[tokio::test]
async fn an_edit_to_a_published_workflow_holds_the_very_next_transition() {
    use crate::releases::{phase_of, register, take};
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let wf = workflow_id(&app, "Release Management");
    let assess = phase_id(&app, wf, "Assess");
    let first = register(&c, "Billing", "minor", "low", "low").await;
    let second = register(&c, "Billing", "minor", "low", "low").await;
    // This move reads the configuration, and it is kept.
    take(&app, &c, &first, "Advance to Plan and Design", "")
        .await
        .assert_status(303);

    // Leaving Assess now needs the CAB's approval (what the phase asked before is kept).
    let (cab, ecab) = (
        group_id(&app, "CAB").to_string(),
        group_id(&app, "ECAB").to_string(),
    );
    let mut fields = vec![
        ("phase_needs_approval", "on"),
        ("phase_approval_group", cab.as_str()),
        ("phase_approval_rule", "one"),
        ("phase_emergency_group", ecab.as_str()),
        ("phase_emergency_rule", "one"),
    ];
    if tasks_criterion(&app, assess) {
        fields.push(("phase_require_tasks_done", "on"));
    }
    save_phase(&m, wf, assess, "Assess", &fields)
        .await
        .assert_redirect_to(&format!("/admin/workflows/{wf}"));

    take(&app, &c, &second, "Advance to Plan and Design", "")
        .await
        .assert_status(422)
        .assert_contains("CAB");
    assert_eq!(phase_of(&app, &second), "Assess");
    // And the requirement taken off again frees it at once.
    let off: Vec<(&str, &str)> = fields
        .iter()
        .copied()
        .filter(|(k, _)| *k == "phase_require_tasks_done")
        .collect();
    save_phase(&m, wf, assess, "Assess", &off)
        .await
        .assert_redirect_to(&format!("/admin/workflows/{wf}"));
    take(&app, &c, &second, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    assert_eq!(phase_of(&app, &second), "Plan and Design");
}
