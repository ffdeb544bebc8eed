//! Releases through the Release Management workflow: registering, each phase's screen,
//! transitions and their refusals, conflicts, history.
use diesel::prelude::*;
use relman::domain::roles::Role;
use relman::schema::{
    history_events, phases, release_details, release_phase_visits, releases, transitions,
};

use crate::support::{Client, TestApp};

/// Register a release through the form; returns its number (`RL-…`).
pub async fn register(
    c: &Client,
    title: &str,
    release_type: &str,
    impact: &str,
    urgency: &str,
) -> String {
    let p = c
        .post(
            "/releases/new",
            &[
                ("category", "1"),
                ("type", release_type),
                ("title", title),
                ("description", "Quarterly update of the billing service"),
                ("reason", "business_requirement"),
                ("impact", impact),
                ("urgency", urgency),
                ("risk", ""),
                ("planned_start", "2026-12-01T09:00"),
                ("planned_end", "2026-12-20T17:00"),
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

fn number_of(n: &str) -> i64 {
    relman::paths::parse_release_number(n).unwrap()
}

pub fn version(app: &TestApp, n: &str) -> i32 {
    releases::table
        .filter(releases::kind.eq("release"))
        .filter(releases::number.eq(number_of(n)))
        .select(releases::version)
        .first(&mut app.conn())
        .unwrap()
}

pub fn phase_of(app: &TestApp, n: &str) -> String {
    releases::table
        .inner_join(phases::table)
        .filter(releases::kind.eq("release"))
        .filter(releases::number.eq(number_of(n)))
        .select(phases::name)
        .first(&mut app.conn())
        .unwrap()
}

pub fn state_of(app: &TestApp, n: &str) -> String {
    releases::table
        .filter(releases::kind.eq("release"))
        .filter(releases::number.eq(number_of(n)))
        .select(releases::state)
        .first(&mut app.conn())
        .unwrap()
}

/// The id of the transition with this label leaving the release's current phase.
pub fn transition_id(app: &TestApp, n: &str, label: &str) -> i64 {
    let phase: i64 = releases::table
        .filter(releases::kind.eq("release"))
        .filter(releases::number.eq(number_of(n)))
        .select(releases::phase_id)
        .first(&mut app.conn())
        .unwrap();
    transitions::table
        .filter(transitions::from_phase_id.eq(phase))
        .filter(transitions::label.eq(label))
        .select(transitions::id)
        .first(&mut app.conn())
        .unwrap_or_else(|_| panic!("no transition {label:?} from the current phase"))
}

/// Take a transition through the release page's form.
pub async fn take(
    app: &TestApp,
    c: &Client,
    n: &str,
    label: &str,
    reason: &str,
) -> crate::support::Page {
    let id = transition_id(app, n, label).to_string();
    let v = version(app, n).to_string();
    c.post(
        &format!("/releases/{n}/transitions"),
        &[("transition", &id), ("version", &v), ("reason", reason)],
    )
    .await
}

/// Save fields of the current phase's screen.
pub async fn save(
    app: &TestApp,
    c: &Client,
    n: &str,
    fields: &[(&str, &str)],
) -> crate::support::Page {
    let v = version(app, n).to_string();
    let mut all = vec![("version", v.as_str())];
    all.extend_from_slice(fields);
    c.post(&format!("/releases/{n}"), &all).await
}

/// The live approval of the release's current phase.
pub fn live_approval(app: &TestApp, n: &str) -> (i64, i32) {
    use relman::schema::approvals;
    let (id, phase): (i64, i64) = releases::table
        .filter(releases::kind.eq("release"))
        .filter(releases::number.eq(number_of(n)))
        .select((releases::id, releases::phase_id))
        .first(&mut app.conn())
        .unwrap();
    approvals::table
        .filter(approvals::release_id.eq(id))
        .filter(approvals::phase_id.eq(phase))
        .filter(approvals::status.eq_any(["pending", "denied"]))
        .select((approvals::id, approvals::cycle))
        .first(&mut app.conn())
        .expect("a live approval")
}

/// Vote on the release's live approval as `c`.
pub async fn vote(
    app: &TestApp,
    c: &Client,
    n: &str,
    decision: &str,
    comment: &str,
) -> crate::support::Page {
    let (id, cycle) = live_approval(app, n);
    c.post(
        &format!("/approvals/{id}/decision"),
        &[
            ("decision", decision),
            ("cycle", &cycle.to_string()),
            ("comment", comment),
        ],
    )
    .await
}

/// Approve the current phase's approval as a CAB (and ECAB) member created on first use.
pub async fn cab_approves(app: &TestApp, n: &str) {
    use relman::schema::users;
    let exists: i64 = users::table
        .filter(users::username.eq("cab-chair"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    if exists == 0 {
        app.user(
            "cab-chair",
            &[relman::domain::roles::Role::Approver],
            &["CAB", "ECAB"],
        );
    }
    let c = app.client();
    c.login("cab-chair", crate::support::PASSWORD)
        .await
        .assert_redirect_to("/");
    vote(app, &c, n, "approve", "").await.assert_status(303);
}

/// Carry a release from Assess to Distribution and Rollout (through Training when it applies).
pub async fn to_distribution(app: &TestApp, c: &Client, n: &str) {
    take(app, c, n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    save(
        app,
        c,
        n,
        &[
            ("release_plan", "Plan"),
            ("deployment_plan", "Deploy"),
            ("test_criteria", "All green"),
            ("backout_plan", "Restore the snapshot"),
        ],
    )
    .await
    .assert_status(303);
    cab_approves(app, n).await;
    take(app, c, n, "Advance to Build and Test", "")
        .await
        .assert_status(303);
    save(app, c, n, &[("test_result", "Passed")])
        .await
        .assert_status(303);
    cab_approves(app, n).await;
    take(app, c, n, "Advance to Training", "")
        .await
        .assert_status(303);
    if phase_of(app, n) == "Training" {
        save(app, c, n, &[("training_needs", "Service desk briefing")])
            .await
            .assert_status(303);
        take(app, c, n, "Advance to Distribution and Rollout", "")
            .await
            .assert_status(303);
    }
    assert_eq!(phase_of(app, n), "Distribution and Rollout");
}

#[tokio::test]
async fn a_major_release_goes_through_every_phase_and_closes_with_training_skipped() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing 4.2", "major", "medium", "high").await;
    assert_eq!(n, "RL-000001");
    let page = c.get(&format!("/releases/{n}")).await;
    page.assert_status(200)
        .assert_contains("RL-000001")
        .assert_contains("Billing 4.2")
        .assert_contains("RL-000001 was registered.")
        .assert_contains("High")
        .assert_contains("Training");
    assert_eq!(phase_of(&app, &n), "Assess");

    to_distribution(&app, &c, &n).await;
    let page = c.get(&format!("/releases/{n}")).await;
    page.assert_contains("skipped: does not apply");

    save(&app, &c, &n, &[("actual_start", "2026-12-02T10:00")])
        .await
        .assert_status(303);
    cab_approves(&app, &n).await;
    take(&app, &c, &n, "Advance to Verification", "")
        .await
        .assert_status(303);
    assert_eq!(phase_of(&app, &n), "Verification");
    save(
        &app,
        &c,
        &n,
        &[
            ("actual_end", "2026-12-03T10:00"),
            ("verification", "Smoke tests green"),
            ("evaluation", "Went well"),
        ],
    )
    .await
    .assert_status(303);
    take(&app, &c, &n, "Close as successful", "")
        .await
        .assert_status(303);
    assert_eq!(state_of(&app, &n), "closed_successful");

    let page = c.get(&format!("/releases/{n}")).await;
    page.assert_contains("Closed — successful")
        .assert_contains("read-only")
        .assert_lacks("<button type=\"submit\">Save</button>");
    for step in [
        "Advance to Plan and Design",
        "Advance to Build and Test",
        "Training skipped",
        "Advance to Verification",
        "Close as successful",
        "cora (test)",
    ] {
        page.assert_contains(step);
    }
    let kinds: Vec<String> = history_events::table
        .order(history_events::id)
        .select(history_events::kind)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(kinds.iter().filter(|k| *k == "advance").count(), 4);
    assert_eq!(kinds.first().map(String::as_str), Some("registered"));
    assert_eq!(kinds.last().map(String::as_str), Some("close"));
    let skipped: i64 = release_phase_visits::table
        .filter(release_phase_visits::status.eq("skipped"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(skipped, 1);

    // Closed releases are read-only: saving is refused and changes nothing.
    save(&app, &c, &n, &[("evaluation", "Changed after closing")])
        .await
        .assert_status(403);
    let eval: String = release_details::table
        .select(release_details::evaluation)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(eval, "Went well");
}

#[tokio::test]
async fn high_impact_and_urgency_go_through_training_where_abandon_and_back_out_are_refused() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Core banking", "major", "high", "high").await;
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
    cab_approves(&app, &n).await;
    take(&app, &c, &n, "Advance to Build and Test", "")
        .await
        .assert_status(303);
    save(&app, &c, &n, &[("test_result", "Passed")]).await;
    cab_approves(&app, &n).await;
    take(&app, &c, &n, "Advance to Training", "")
        .await
        .assert_status(303);
    assert_eq!(phase_of(&app, &n), "Training");

    let page = c.get(&format!("/releases/{n}")).await;
    page.assert_lacks("Abandon release")
        .assert_lacks("Activate back-out plan");
    // Direct POSTs with the abandon and back-out transitions of other phases are refused.
    let mut conn = app.conn();
    for label in ["Abandon release", "Activate back-out plan"] {
        let id: i64 = transitions::table
            .filter(transitions::label.eq(label))
            .select(transitions::id)
            .first(&mut conn)
            .unwrap();
        let v = version(&app, &n).to_string();
        let p = c
            .post(
                &format!("/releases/{n}/transitions"),
                &[
                    ("transition", &id.to_string()),
                    ("version", &v),
                    ("reason", "try it"),
                ],
            )
            .await;
        p.assert_status(422)
            .assert_contains("does not leave the current phase");
    }
    assert_eq!(phase_of(&app, &n), "Training");
    assert_eq!(state_of(&app, &n), "active");
    save(&app, &c, &n, &[("training_needs", "Briefing")]).await;
    take(&app, &c, &n, "Advance to Distribution and Rollout", "")
        .await
        .assert_status(303);
}

#[tokio::test]
async fn an_approver_only_user_cannot_register_save_or_move_a_release() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;
    let a = app.signed_in("abe", &[Role::Approver]).await;
    a.get("/releases/new").await.assert_status(403);
    a.post(
        "/releases/new",
        &[("category", "1"), ("type", "minor"), ("title", "Sneaky")],
    )
    .await
    .assert_status(403);
    save(&app, &a, &n, &[("title", "Hijacked")])
        .await
        .assert_status(403);
    take(&app, &a, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(403);
    // Reading is allowed to any signed-in user.
    a.get(&format!("/releases/{n}"))
        .await
        .assert_status(200)
        .assert_lacks("Hijacked");
    assert_eq!(phase_of(&app, &n), "Assess");
    let count: i64 = releases::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn another_coordinators_release_is_read_only_for_a_coordinator_but_not_for_a_manager() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;
    let other = app.signed_in("otto", &[Role::Coordinator]).await;
    save(&app, &other, &n, &[("title", "Mine now")])
        .await
        .assert_status(403);
    let m = app.signed_in("mona", &[Role::Manager]).await;
    save(&app, &m, &n, &[("title", "Billing 5")])
        .await
        .assert_status(303);
    c.get(&format!("/releases/{n}"))
        .await
        .assert_contains("Billing 5");
}

#[tokio::test]
async fn two_sessions_editing_one_release_lose_nothing() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let m = app.signed_in("mona", &[Role::Manager]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;
    let read_version = version(&app, &n).to_string();
    // Both opened the page at this version; the manager saves first.
    m.post(
        &format!("/releases/{n}"),
        &[
            ("version", &read_version),
            ("affected_services", "Billing API"),
        ],
    )
    .await
    .assert_status(303);
    let p = c
        .post(
            &format!("/releases/{n}"),
            &[
                ("version", &read_version),
                ("affected_services", "Billing web"),
                ("title", "Billing, renamed"),
            ],
        )
        .await;
    p.assert_status(409)
        .assert_contains("Someone else changed this release")
        .assert_contains("Billing web")
        .assert_contains("Billing, renamed")
        .assert_contains("Now saved as: Billing API");
    let (title, services): (String, String) = releases::table
        .inner_join(release_details::table)
        .select((releases::title, release_details::affected_services))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(
        (title.as_str(), services.as_str()),
        ("Billing", "Billing API")
    );
    // Saving again from the conflict page (which carries the new version) applies the input.
    save(
        &app,
        &c,
        &n,
        &[
            ("affected_services", "Billing API, Billing web"),
            ("title", "Billing, renamed"),
        ],
    )
    .await
    .assert_status(303);
    let page = c.get(&format!("/releases/{n}")).await;
    page.assert_contains("Billing API, Billing web")
        .assert_contains("mona (test)");
}

#[tokio::test]
async fn rework_needs_a_reason_and_records_it() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;
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
        ],
    )
    .await;
    cab_approves(&app, &n).await;
    take(&app, &c, &n, "Advance to Build and Test", "")
        .await
        .assert_status(303);
    take(&app, &c, &n, "Rework in Plan and Design", "  ")
        .await
        .assert_status(422)
        .assert_contains("Give a reason");
    assert_eq!(phase_of(&app, &n), "Build and Test");
    take(
        &app,
        &c,
        &n,
        "Rework in Plan and Design",
        "Test criteria were incomplete",
    )
    .await
    .assert_status(303);
    assert_eq!(phase_of(&app, &n), "Plan and Design");
    c.get(&format!("/releases/{n}"))
        .await
        .assert_contains("Reason: Test criteria were incomplete");
}

#[tokio::test]
async fn leaving_build_and_test_without_a_test_result_is_refused_with_the_reason() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;
    take(&app, &c, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    take(&app, &c, &n, "Advance to Build and Test", "")
        .await
        .assert_status(422)
        .assert_contains(
            "Required to leave this phase: Release plan, Deployment plan, Test criteria.",
        );
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
    .await;
    cab_approves(&app, &n).await;
    take(&app, &c, &n, "Advance to Build and Test", "")
        .await
        .assert_status(303);
    cab_approves(&app, &n).await;
    let page = c.get(&format!("/releases/{n}")).await;
    page.assert_contains("Required to leave this phase: Test result.");
    take(&app, &c, &n, "Advance to Training", "")
        .await
        .assert_status(422)
        .assert_contains("Test result");
    assert_eq!(phase_of(&app, &n), "Build and Test");
}

#[tokio::test]
async fn the_back_out_plan_is_required_to_enter_distribution_and_a_backed_out_release_closes_as_backed_out(
) {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;
    take(&app, &c, &n, "Advance to Plan and Design", "").await;
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
    .await;
    cab_approves(&app, &n).await;
    take(&app, &c, &n, "Advance to Build and Test", "").await;
    save(&app, &c, &n, &[("test_result", "Passed")]).await;
    cab_approves(&app, &n).await;
    take(&app, &c, &n, "Advance to Training", "")
        .await
        .assert_status(422)
        .assert_contains("Required to enter Distribution and Rollout: Back-out plan");
    save(&app, &c, &n, &[("backout_plan", "Restore")]).await;
    take(&app, &c, &n, "Advance to Training", "")
        .await
        .assert_status(303);
    save(&app, &c, &n, &[("actual_start", "2026-12-02T10:00")]).await;
    take(&app, &c, &n, "Activate back-out plan", "")
        .await
        .assert_status(422)
        .assert_contains("Give a reason");
    take(&app, &c, &n, "Activate back-out plan", "Payments failing")
        .await
        .assert_status(303);
    assert_eq!(
        live_approval_count(&app),
        0,
        "the Distribution approval was withdrawn"
    );
    assert_eq!(phase_of(&app, &n), "Back Out");
    take(&app, &c, &n, "Advance to Verification", "")
        .await
        .assert_status(303);
    save(
        &app,
        &c,
        &n,
        &[
            ("actual_end", "2026-12-03T10:00"),
            ("verification", "Old version back"),
            ("evaluation", "Test data was thin"),
        ],
    )
    .await;
    take(&app, &c, &n, "Close as successful", "")
        .await
        .assert_status(422)
        .assert_contains("close it as backed out");
    take(&app, &c, &n, "Close as backed out", "")
        .await
        .assert_status(303);
    assert_eq!(state_of(&app, &n), "closed_backed_out");
}

#[tokio::test]
async fn a_double_submitted_transition_takes_effect_once() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;
    let id = transition_id(&app, &n, "Advance to Plan and Design").to_string();
    let v = version(&app, &n).to_string();
    let form = [
        ("transition", id.as_str()),
        ("version", v.as_str()),
        ("reason", ""),
    ];
    c.post(&format!("/releases/{n}/transitions"), &form)
        .await
        .assert_status(303);
    c.post(&format!("/releases/{n}/transitions"), &form)
        .await
        .assert_status(303);
    c.get(&format!("/releases/{n}"))
        .await
        .assert_contains("had already changed");
    let advances: i64 = history_events::table
        .filter(history_events::kind.eq("advance"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(advances, 1);
    assert_eq!(phase_of(&app, &n), "Plan and Design");
}

#[tokio::test]
async fn a_field_that_is_read_only_or_hidden_in_this_phase_cannot_be_posted() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;
    save(&app, &c, &n, &[("test_result", "Passed")])
        .await
        .assert_status(403)
        .assert_contains("Test result cannot be changed in Assess");
    let r: String = release_details::table
        .select(release_details::test_result)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(r, "");
}

#[tokio::test]
async fn registering_with_bad_input_keeps_it_and_explains() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let p = c
        .post(
            "/releases/new",
            &[
                ("category", "1"),
                ("type", "gigantic"),
                ("title", "<script>alert(1)</script>"),
                ("reason", "business_requirement"),
                ("impact", "low"),
                ("urgency", "low"),
                ("risk", "critical"),
                ("planned_start", "2026-12-20T09:00"),
                ("planned_end", "2026-12-01T09:00"),
            ],
        )
        .await;
    p.assert_status(422)
        .assert_contains("Choose the release type")
        .assert_contains("must not be before the planned start")
        .assert_contains("Say why the risk is Critical rather than Low")
        .assert_contains("&#60;script&#62;alert(1)&#60;/script&#62;")
        .assert_lacks("<script>alert(1)</script>");
    let count: i64 = releases::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn risk_is_derived_from_impact_and_urgency_unless_overridden_with_a_reason() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "high", "medium").await;
    let risk = || {
        releases::table
            .select((releases::risk, releases::risk_override_reason))
            .first::<(String, Option<String>)>(&mut app.conn())
            .unwrap()
    };
    assert_eq!(risk(), ("high".into(), None));
    save(
        &app,
        &c,
        &n,
        &[("impact", "low"), ("urgency", "low"), ("risk", "critical")],
    )
    .await
    .assert_status(422)
    .assert_contains("Say why the risk is Critical");
    save(
        &app,
        &c,
        &n,
        &[
            ("impact", "low"),
            ("urgency", "low"),
            ("risk", "critical"),
            ("risk_reason", "Touches payments"),
        ],
    )
    .await
    .assert_status(303);
    assert_eq!(risk(), ("critical".into(), Some("Touches payments".into())));
    save(
        &app,
        &c,
        &n,
        &[("impact", "low"), ("urgency", "low"), ("risk", "low")],
    )
    .await
    .assert_status(303);
    assert_eq!(risk(), ("low".into(), None));
}

#[tokio::test]
async fn the_list_filters_sorts_and_keeps_filters_in_the_url() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let a = register(&c, "Alpha payroll", "major", "low", "low").await;
    let b = register(&c, "Beta billing", "minor", "low", "low").await;
    take(&app, &c, &b, "Abandon release", "No longer needed")
        .await
        .assert_status(303);
    let all = c.get("/releases").await;
    all.assert_status(200)
        .assert_contains(&a)
        .assert_contains(&b);
    let majors = c.get("/releases?type=major").await;
    majors.assert_contains(&a).assert_lacks(&format!(">{b}<"));
    let abandoned = c.get("/releases?state=abandoned").await;
    abandoned
        .assert_contains("Beta billing")
        .assert_lacks("Alpha payroll");
    c.get("/releases?q=payroll")
        .await
        .assert_contains("Alpha payroll")
        .assert_lacks("Beta billing");
    c.get(&format!("/releases?q={a}"))
        .await
        .assert_contains("Alpha payroll")
        .assert_lacks("Beta billing");
    let sorted = c.get("/releases?sort=number").await;
    assert!(sorted.body.find("Alpha payroll").unwrap() < sorted.body.find("Beta billing").unwrap());
    c.get("/releases?q=%25_%27%3B--")
        .await
        .assert_status(200)
        .assert_contains("No releases match");
    c.get("/releases?type=major&q=payroll")
        .await
        .assert_contains("value=\"payroll\"")
        .assert_contains("value=\"major\" selected");
}

fn live_approval_count(app: &TestApp) -> i64 {
    use relman::schema::approvals;
    approvals::table
        .filter(approvals::status.eq_any(["pending", "denied"]))
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

/// The database's own rules (CHECK constraints) stand behind the forms' validation: what
/// Relman would never write is refused under the rule's name, and valid rows pass. They cost
/// every write (PostgreSQL prepares a table's checks again in each statement), and this
/// keeps a change made for speed from dropping one unnoticed.
#[tokio::test]
async fn the_database_refuses_rows_that_break_the_rules_of_releases_tasks_and_approvals() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;
    let id: i64 = releases::table
        .filter(releases::kind.eq("release"))
        .filter(releases::number.eq(number_of(&n)))
        .select(releases::id)
        .first(&mut app.conn())
        .unwrap();
    let refused = |sql: String, rule: &str| {
        let e = diesel::sql_query(&sql)
            .execute(&mut app.conn())
            .expect_err(&sql);
        let text = e.to_string();
        assert!(
            text.contains(&format!("violates check constraint \"{rule}\"")),
            "{sql}: {text}"
        );
        if let diesel::result::Error::DatabaseError(_, info) = &e {
            assert_eq!(info.constraint_name(), Some(rule), "{sql}");
        }
        assert!(
            matches!(
                e,
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::CheckViolation,
                    _
                )
            ),
            "{sql}: {e:?}"
        );
    };
    for (set, rule) in [
        ("state = 'gone'", "releases_state_check"),
        ("release_type = 'normal'", "releases_type_check"),
        ("kind = 'other'", "releases_kind_check"),
        ("title = ''", "releases_title_check"),
        ("reason = 'whim'", "releases_reason_check"),
        ("impact = 'huge'", "releases_impact_check"),
        ("urgency = 'now'", "releases_urgency_check"),
        ("risk = 'none'", "releases_risk_check"),
        (
            "planned_start = now(), planned_end = now() - interval '1 day'",
            "releases_check",
        ),
        (
            "actual_start = now(), actual_end = now() - interval '1 day'",
            "releases_check1",
        ),
        ("package_id = id", "releases_relation_kinds"),
    ] {
        refused(format!("UPDATE releases SET {set} WHERE id = {id}"), rule);
    }
    diesel::sql_query(format!(
        "INSERT INTO tasks (release_id, phase_id, title, description, status, due_offset_hours) SELECT {id}, phase_id, 'Check the plan', '', 'open', 24 FROM releases WHERE id = {id}"
    ))
    .execute(&mut app.conn())
    .unwrap();
    refused(
        format!("UPDATE tasks SET status = 'maybe' WHERE release_id = {id}"),
        "tasks_status_check",
    );
    refused(
        format!("UPDATE tasks SET title = '' WHERE release_id = {id}"),
        "tasks_title_check",
    );
    refused(
        format!("UPDATE tasks SET due_offset_hours = -1 WHERE release_id = {id}"),
        "tasks_due_offset_hours_check",
    );
    refused(
        format!("INSERT INTO approvals (release_id, phase_id, group_id, rule) SELECT {id}, phase_id, (SELECT min(id) FROM groups), 'most' FROM releases WHERE id = {id}"),
        "approvals_rule_check",
    );
    refused(
        format!("INSERT INTO approvals (release_id, phase_id, group_id, rule, status) SELECT {id}, phase_id, (SELECT min(id) FROM groups), 'all', 'lost' FROM releases WHERE id = {id}"),
        "approvals_status_check",
    );
    diesel::sql_query(format!(
        "INSERT INTO approvals (release_id, phase_id, group_id, rule) SELECT {id}, phase_id, (SELECT min(id) FROM groups), 'one' FROM releases WHERE id = {id}"
    ))
    .execute(&mut app.conn())
    .unwrap();
    let approval: i64 = relman::schema::approvals::table
        .filter(relman::schema::approvals::release_id.eq(id))
        .select(relman::schema::approvals::id)
        .first(&mut app.conn())
        .unwrap();
    refused(
        format!("UPDATE approvals SET cycle = 0 WHERE id = {approval}"),
        "approvals_cycle_check",
    );
    refused(
        format!(
            "INSERT INTO approval_log (approval_id, cycle, action) VALUES ({approval}, 1, 'shrug')"
        ),
        "approval_log_action_check",
    );
    // Rows within the rules pass, and a NULL passes as it does a CHECK.
    let ok = diesel::sql_query(format!("UPDATE releases SET risk = 'critical', planned_start = NULL, planned_end = now() WHERE id = {id}")).execute(&mut app.conn());
    assert_eq!(ok, Ok(1));
    let tasks = diesel::sql_query(format!(
        "UPDATE tasks SET due_offset_hours = NULL WHERE release_id = {id}"
    ))
    .execute(&mut app.conn())
    .unwrap();
    assert_eq!(tasks, 1);
}

#[tokio::test]
async fn an_emergency_of_high_impact_and_urgency_skips_training_and_its_button_says_where_it_goes()
{
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Hotfix", "emergency", "high", "high").await;
    take(&app, &c, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    save(
        &app,
        &c,
        &n,
        &[
            ("release_plan", "Plan"),
            ("deployment_plan", "Deploy"),
            ("test_criteria", "Green"),
            ("backout_plan", "Restore"),
        ],
    )
    .await
    .assert_status(303);
    cab_approves(&app, &n).await;
    take(&app, &c, &n, "Advance to Build and Test", "")
        .await
        .assert_status(303);
    save(&app, &c, &n, &[("test_result", "Passed")])
        .await
        .assert_status(303);
    cab_approves(&app, &n).await;
    c.get(&format!("/releases/{n}"))
        .await
        .assert_contains("Advance to Distribution and Rollout (Training does not apply)")
        .assert_lacks("Required to leave Training");
    take(&app, &c, &n, "Advance to Training", "")
        .await
        .assert_status(303);
    assert_eq!(phase_of(&app, &n), "Distribution and Rollout");

    // A major release of high impact and urgency still goes through Training.
    let m = register(&c, "Billing 5", "major", "high", "high").await;
    to_distribution(&app, &c, &m).await;
    assert!(
        history_events::table
            .filter(
                history_events::to_phase_id.eq(phases::table
                    .filter(phases::name.eq("Training"))
                    .select(phases::id)
                    .single_value())
            )
            .count()
            .get_result::<i64>(&mut app.conn())
            .unwrap()
            == 1
    );
}
