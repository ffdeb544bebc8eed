//! Where the user is looking (issue 23, items 12, 13, 15, 16): a refused form answers 422 with
//! its error summary first on the page, linked to the field, at an address that reloads
//! harmlessly; the transitions panel; the approvals inbox and the notifications page; the
//! register form.
use diesel::prelude::*;
use relman::domain::roles::Role;

use crate::releases::{cab_approves, live_approval, phase_of, register, save, take, transition_id};
use crate::support::{Page, TestApp, PASSWORD};

/// Where `needle` starts in the page (panics when it is not there).
#[track_caller]
fn at(p: &Page, needle: &str) -> usize {
    p.body
        .find(needle)
        .unwrap_or_else(|| panic!("page does not contain {needle:?}:\n{}", p.body))
}

/// The summary is the first thing in <main>: before the page's heading.
#[track_caller]
fn summary_first(p: &Page, heading: &str) {
    let summary = at(p, r#"<div class="error-summary" id="errors" role="alert""#);
    assert!(summary > at(p, r#"<main id="main">"#));
    assert!(
        summary < at(p, "<h1"),
        "the summary must come before the heading"
    );
    p.assert_contains(&format!(r#"<h2 id="errors-title">{heading}</h2>"#))
        .assert_contains("<title>Error: ");
}

fn in_section<'a>(p: &'a Page, id: &str) -> &'a str {
    let start = at(p, &format!(r#"id="{id}""#));
    let end = p.body[start..].find("</section>").unwrap() + start;
    &p.body[start..end]
}

#[tokio::test]
async fn a_refused_transition_answers_422_with_the_summary_on_top_and_its_address_reloads_harmlessly(
) {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;
    let page = c.get(&format!("/releases/{n}")).await;
    page.assert_contains(&format!(r#"action="/releases/{n}/transitions#errors""#))
        .assert_contains(&format!(r#"action="/releases/{n}#errors""#));
    take(&app, &c, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);

    // Blocked: the message links to the blocked move's entry, which lists why.
    let id = transition_id(&app, &n, "Advance to Build and Test");
    let p = take(&app, &c, &n, "Advance to Build and Test", "").await;
    p.assert_status(422)
        .assert_contains(&format!(
            r##"<a href="#transition-{id}">Required to leave this phase"##
        ))
        .assert_contains(&format!(
            r#"<li class="move-advance" id="transition-{id}" tabindex="-1">"#
        ));
    summary_first(&p, "The release was not moved");

    // The address the refusal was shown at: a GET goes back to the release, doing nothing.
    let before = crate::releases::version(&app, &n);
    c.get(&format!("/releases/{n}/transitions"))
        .await
        .assert_redirect_to(&format!("/releases/{n}#transitions"));
    assert_eq!(crate::releases::version(&app, &n), before);
    assert_eq!(phase_of(&app, &n), "Plan and Design");

    // A reason missing: the message links to the send-back form's reason box, which keeps
    // the phase chosen.
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
    cab_approves(&app, &n).await;
    take(&app, &c, &n, "Advance to Build and Test", "")
        .await
        .assert_status(303);
    let rework = transition_id(&app, &n, "Rework in Plan and Design");
    let p = take(&app, &c, &n, "Rework in Plan and Design", " ").await;
    p.assert_status(422)
        .assert_contains(r##"<a href="#send-back-reason">Give a reason"##)
        .assert_contains(&format!(
            r#"<option value="{rework}" selected>Plan and Design</option>"#
        ))
        .assert_contains(r#"aria-invalid="true" aria-describedby="e-send-back-reason""#);
    summary_first(&p, "The release was not moved");

    // The same for changes.
    c.get("/changes/C-000001/transitions")
        .await
        .assert_redirect_to("/changes/C-000001#transitions");
}

#[tokio::test]
async fn refused_tasks_fields_relations_and_votes_are_summarised_on_top_and_reload_harmlessly() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;

    // Add a task without a title.
    let p = c
        .post(
            &format!("/releases/{n}/tasks"),
            &[("title", " "), ("phase", "")],
        )
        .await;
    p.assert_status(422)
        .assert_contains(r##"<a href="#t-title">Enter a title"##);
    summary_first(&p, "The task was not added");
    c.get(&format!("/releases/{n}/tasks"))
        .await
        .assert_redirect_to(&format!("/releases/{n}#tasks"));

    // Save the phase's screen with the end before the start: the summary links to the field,
    // and the saved values are not repeated as "Now saved as" (that is the conflict screen's).
    let p = save(
        &app,
        &c,
        &n,
        &[
            ("title", "Billing 2"),
            ("planned_start", "2026-12-20T09:00"),
            ("planned_end", "2026-12-01T09:00"),
        ],
    )
    .await;
    p.assert_status(422)
        .assert_contains(r##"<a href="#f-planned_end">"##)
        .assert_lacks("Now saved as");
    summary_first(&p, "Your changes were not saved");

    // Relate a change that does not exist.
    let p = c
        .post(
            &format!("/releases/{n}/changes"),
            &[("number", "C-999999"), ("action", "add")],
        )
        .await;
    p.assert_status(422)
        .assert_contains(r##"<a href="#relate-number">"##);
    summary_first(&p, "Nothing was changed");
    for form in ["changes", "bundle"] {
        c.get(&format!("/releases/{n}/{form}"))
            .await
            .assert_redirect_to(&format!("/releases/{n}#related"));
    }

    // Deny without a reason: the approval's page, its summary linking to the reason box.
    take(&app, &c, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    let ada = app.user("ada", &[Role::Approver], &["CAB"]);
    let a = app.client();
    a.login("ada", PASSWORD).await.assert_redirect_to("/");
    let (id, cycle) = live_approval(&app, &n);
    a.get(&format!("/approvals/{id}"))
        .await
        .assert_contains(&format!(r#"action="/approvals/{id}/decision#errors""#));
    let p = a
        .post(
            &format!("/approvals/{id}/decision"),
            &[
                ("decision", "deny"),
                ("cycle", &cycle.to_string()),
                ("comment", ""),
                ("on_behalf_of", &ada.to_string()),
            ],
        )
        .await;
    p.assert_status(422)
        .assert_contains(&format!(r##"<a href="#deny-{id}-{ada}">Give a reason"##));
    summary_first(&p, "Your decision was not recorded");
    a.get(&format!("/approvals/{id}/decision"))
        .await
        .assert_redirect_to(&format!("/approvals/{id}"));
}

#[tokio::test]
async fn posts_that_re_render_an_admin_page_have_an_address_that_reloads_harmlessly() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mara", &[Role::Manager]).await;
    let admin = app.signed_in("ivan", &[Role::Admin]).await;
    for (path, to) in [
        ("/admin/workflows/copy", "/admin/workflows"),
        ("/admin/workflows/1/phases", "/admin/workflows/1"),
        ("/admin/workflows/1/transitions", "/admin/workflows/1"),
        ("/admin/workflows/1/publish", "/admin/workflows/1"),
        ("/admin/workflows/1/restore", "/admin/workflows/1"),
        ("/admin/workflows/1/phases/2/move", "/admin/workflows/1"),
        (
            "/admin/workflows/1/phases/2/restore",
            "/admin/workflows/1/phases/2",
        ),
        ("/admin/categories/1/restore", "/admin/categories/1"),
    ] {
        m.get(path).await.assert_redirect_to(to);
        admin.get(path).await.assert_status(403);
    }
    for (path, to) in [
        ("/admin/groups/1/members", "/admin/groups/1"),
        ("/admin/users/1/password", "/admin/users/1"),
        ("/admin/users/1/reactivate", "/admin/users/1"),
    ] {
        admin.get(path).await.assert_redirect_to(to);
        m.get(path).await.assert_status(403);
    }
}

#[tokio::test]
async fn the_transitions_panel_has_one_send_back_form_one_abandon_form_and_the_moves_forward_first()
{
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
            ("backout_plan", "Restore the snapshot"),
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

    let page = c.get(&format!("/releases/{n}")).await;
    let panel = in_section(&page, "transitions");
    // One form per kind of move: the advance, one "Send back to…" with a choice of phase
    // and one reason box, one abandon; no button per rework.
    assert_eq!(panel.matches("<form ").count(), 3, "{panel}");
    assert_eq!(panel.matches(r#"name="reason""#).count(), 2, "{panel}");
    assert_eq!(
        panel
            .matches(r#"<select id="send-back-to" name="transition">"#)
            .count(),
        1
    );
    let assess = transition_id(&app, &n, "Rework in Assess");
    let plan = transition_id(&app, &n, "Rework in Plan and Design");
    assert!(
        panel.contains(&format!(r#"<option value="{assess}">Assess</option>"#)),
        "{panel}"
    );
    assert!(panel.contains(&format!(
        r#"<option value="{plan}">Plan and Design</option>"#
    )));
    assert!(!panel.contains(">Rework in"), "{panel}");
    let advance = panel
        .find(">Advance to Distribution and Rollout (Training does not apply)")
        .expect("the advance button");
    assert!(
        advance < panel.find("Send back to…").unwrap(),
        "the advance comes first"
    );
    assert!(panel.contains(r#"<button type="submit" class="danger">Abandon release</button>"#));

    // The send-back form posts the chosen phase's rework transition.
    take(
        &app,
        &c,
        &n,
        "Rework in Plan and Design",
        "The test criteria were incomplete",
    )
    .await
    .assert_status(303);
    assert_eq!(phase_of(&app, &n), "Plan and Design");
}

#[tokio::test]
async fn the_register_form_has_one_model_picker_and_preselects_the_category_that_fits() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let m = app.signed_in("mara", &[Role::Manager]).await;
    let p = c.get("/releases/new").await;
    assert_eq!(p.body.matches(r#"name="model""#).count(), 1, "{}", p.body);
    p.assert_lacks("Use this model")
        .assert_contains(r#"<option value="1" selected>Release Management</option>"#);

    // A second release category: the default type's models all use the first, so it stays
    // chosen; a model chosen implies its own.
    m.post(
        "/admin/categories",
        &[
            ("name", "Infrastructure"),
            ("description", ""),
            ("record_kind", "release"),
            ("workflow_id", "1"),
        ],
    )
    .await
    .assert_status(303);
    c.get("/releases/new")
        .await
        .assert_contains("Infrastructure")
        .assert_contains(r#"<option value="1" selected>Release Management</option>"#);
    let emergency: i64 = {
        use relman::schema::release_models as rm;
        rm::table
            .filter(rm::name.eq("Emergency fix"))
            .select(rm::id)
            .first(&mut app.conn())
            .unwrap()
    };
    c.get(&format!("/releases/new?model={emergency}"))
        .await
        .assert_contains(r#"<option value="1" selected>Release Management</option>"#)
        .assert_contains(&format!(
            r#"<option value="{emergency}" selected>Emergency fix"#
        ));

    // A model chosen with the category left blank registers under the model's category.
    let p = c
        .post(
            "/releases/new",
            &[
                ("category", ""),
                ("type", "emergency"),
                ("model", &emergency.to_string()),
                ("title", "Hotfix"),
                ("reason", "incident_problem"),
                ("impact", "low"),
                ("urgency", "low"),
                ("risk", ""),
            ],
        )
        .await;
    p.assert_status(303);
}

/// A release registered and moved into Plan and Design through the services, so its CAB
/// approval is requested now; returns its number.
fn pending_in_plan_and_design(
    app: &TestApp,
    coordinator: i64,
    title: &str,
    release_type: &str,
) -> String {
    use relman::domain::permissions::Actor;
    use relman::domain::roles::Roles;
    use relman::services::releases::{self as svc, RegisterInput, TakeOutcome};
    let mut conn = app.conn();
    let actor = Actor {
        id: coordinator,
        roles: Roles::of(&[Role::Coordinator]),
    };
    let input = RegisterInput {
        category: "1".into(),
        release_type: release_type.into(),
        title: title.into(),
        description: "Quarterly update".into(),
        reason: "business_requirement".into(),
        impact: "low".into(),
        urgency: "low".into(),
        planned_start: "2026-12-01T09:00".into(),
        planned_end: "2026-12-20T17:00".into(),
        ..Default::default()
    };
    let n = svc::register(&mut conn, actor, &input).unwrap().unwrap();
    let number = relman::paths::release(n);
    let number = number.trim_start_matches("/releases/").to_string();
    let t = transition_id(app, &number, "Advance to Plan and Design");
    let v = crate::releases::version(app, &number);
    let done = svc::take_transition(&mut conn, actor, n, t, v, "").unwrap();
    assert!(
        matches!(done, TakeOutcome::Done(_)),
        "{title}: {:?}",
        match done {
            TakeOutcome::Blocked(b) => b,
            _ => vec![],
        }
    );
    diesel::update(relman::schema::release_details::table)
        .filter(
            relman::schema::release_details::release_id.eq(relman::models::releases::by_number(
                &mut conn, n,
            )
            .unwrap()
            .id),
        )
        .set(relman::schema::release_details::release_plan.eq(format!("Plan of {title}\nStep two")))
        .execute(&mut conn)
        .unwrap();
    number
}

#[tokio::test]
async fn the_inbox_is_a_table_oldest_request_first_filtered_paged_and_decided_in_the_row() {
    let app = TestApp::spawn().await;
    let cora = app.user("cora", &[Role::Coordinator], &[]);
    let ann = app.user("ann", &[Role::Approver], &["CAB"]);
    let a = app.client();
    a.login("ann", PASSWORD).await.assert_redirect_to("/");
    // The higher number asked first: the inbox is in the order of the requests.
    let first = pending_in_plan_and_design(&app, cora, "Payroll", "minor");
    let major = pending_in_plan_and_design(&app, cora, "Billing", "major");
    diesel::update(relman::schema::approvals::table)
        .filter(
            relman::schema::approvals::release_id.eq(relman::models::releases::by_number(
                &mut app.conn(),
                2,
            )
            .unwrap()
            .id),
        )
        .set(
            relman::schema::approvals::opened_at.eq(chrono::Utc::now() - chrono::Duration::days(3)),
        )
        .execute(&mut app.conn())
        .unwrap();
    let p = a.get("/approvals").await;
    p.assert_status(200)
        .assert_contains(r#"<table class="list inbox-list">"#)
        .assert_contains("<td>3 days<span class=\"requested\">")
        .assert_contains("<td>under an hour<span class=\"requested\">")
        .assert_contains(r#"<details class="plan"><summary><strong>Release plan</strong>"#)
        .assert_contains(&format!(
            ": Plan of Billing…</summary><p class=\"prewrap\">Plan of Billing\nStep two</p>"
        ))
        .assert_contains("Window: 2026-12-01 09:00 UTC to 2026-12-20 17:00 UTC")
        .assert_lacks("Vote as");
    assert!(
        at(&p, &format!(">{major}</a>")) < at(&p, &format!(">{first}</a>")),
        "oldest request first"
    );

    // Filters: by type, by risk, by group; unknown values are ignored.
    a.get("/approvals?type=major")
        .await
        .assert_contains(&major)
        .assert_lacks(&format!(">{first}</a>"))
        .assert_contains(r#"<option value="major" selected>Major</option>"#);
    a.get("/approvals?risk=high")
        .await
        .assert_contains("Nothing that matches these filters waits for your decision.");
    let cab: i64 = relman::models::groups::all(&mut app.conn())
        .unwrap()
        .into_iter()
        .find(|g| g.name == "CAB")
        .unwrap()
        .id;
    a.get(&format!("/approvals?group={cab}&risk=low&type=nonsense"))
        .await
        .assert_contains(&major)
        .assert_contains(&first);

    // Paging: 25 a page, oldest first.
    for i in 0..24 {
        pending_in_plan_and_design(&app, cora, &format!("Release {i}"), "minor");
    }
    let p1 = a.get("/approvals").await;
    assert_eq!(p1.body.matches(r#"<td class="decide">"#).count(), 25);
    p1.assert_contains(r#"<a href="/approvals?page=2" rel="next">Next page</a>"#)
        .assert_lacks("Release 23</td>");
    let p2 = a.get("/approvals?page=2").await;
    assert_eq!(p2.body.matches(r#"<td class="decide">"#).count(), 1);
    p2.assert_contains("Release 23")
        .assert_contains(r#"<a href="/approvals" rel="prev">Previous page</a>"#);

    // One click approves from the row and comes back to the same filtered page; deny takes
    // a reason in the row.
    let filtered = a.get("/approvals?type=major").await;
    filtered
        .assert_contains(r#"<input type="hidden" name="return_to" value="/approvals?type=major">"#);
    let (id, cycle) = live_approval(&app, &major);
    a.post(
        &format!("/approvals/{id}/decision"),
        &[
            ("decision", "approve"),
            ("cycle", &cycle.to_string()),
            ("on_behalf_of", &ann.to_string()),
            ("return_to", "/approvals?type=major"),
        ],
    )
    .await
    .assert_redirect_to("/approvals?type=major");
    let (id, cycle) = live_approval(&app, &first);
    a.post(
        &format!("/approvals/{id}/decision"),
        &[
            ("decision", "deny"),
            ("cycle", &cycle.to_string()),
            ("on_behalf_of", &ann.to_string()),
            ("comment", "No rollback rehearsal"),
            ("return_to", "/approvals"),
        ],
    )
    .await
    .assert_redirect_to("/approvals");
    a.get("/approvals")
        .await
        .assert_lacks(&format!(">{first}</a>"))
        .assert_lacks(&format!(">{major}</a>"));
}

#[tokio::test]
async fn notifications_are_paged_filtered_by_unread_and_kind_and_marked_read_back_where_they_were()
{
    use relman::schema::notifications as n;
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let cora: i64 = relman::schema::users::table
        .filter(relman::schema::users::username.eq("cora"))
        .select(relman::schema::users::id)
        .first(&mut app.conn())
        .unwrap();
    for i in 0..30 {
        diesel::insert_into(n::table)
            .values((
                n::user_id.eq(cora),
                n::kind.eq("task_assigned"),
                n::subject.eq(format!("Task number {i} is yours")),
                n::link.eq("/tasks"),
            ))
            .execute(&mut app.conn())
            .unwrap();
    }
    for i in 0..3 {
        diesel::insert_into(n::table)
            .values((
                n::user_id.eq(cora),
                n::kind.eq("approval_decided"),
                n::subject.eq(format!("Approval {i} decided")),
                n::link.eq("/approvals"),
            ))
            .execute(&mut app.conn())
            .unwrap();
    }
    let entries = |p: &Page| p.body.matches(r#"<li class="notification"#).count();
    let p = c.get("/notifications").await;
    assert_eq!(entries(&p), 25);
    p.assert_contains(r#"<ul class="notifications""#)
        .assert_contains(r#"<a href="/notifications?page=2" rel="next">Next page</a>"#)
        .assert_contains(r#"<option value="approval_decided">Approval decided</option>"#)
        .assert_contains("Mark all 33 as read");
    let p2 = c.get("/notifications?page=2").await;
    assert_eq!(entries(&p2), 8);
    p2.assert_contains("Task number 0 is yours");
    // No stray bullets: the list is unstyled.
    let css = c.get("/static/app.css").await;
    let rule = at(&css, ".notifications {\n");
    assert!(css.body[rule..]
        .split('}')
        .next()
        .unwrap()
        .contains("list-style: none"));

    let kind = c.get("/notifications?kind=approval_decided").await;
    assert_eq!(entries(&kind), 3);
    kind.assert_lacks("Task number");

    // Mark one read from a filtered page: back to that page, and gone from "unread only".
    let id: i64 = n::table
        .filter(n::subject.eq("Approval 2 decided"))
        .select(n::id)
        .first(&mut app.conn())
        .unwrap();
    c.post(
        &format!("/notifications/{id}/read"),
        &[(
            "return_to",
            "/notifications?show=unread&kind=approval_decided",
        )],
    )
    .await
    .assert_redirect_to("/notifications?show=unread&kind=approval_decided");
    let unread = c
        .get("/notifications?show=unread&kind=approval_decided")
        .await;
    assert_eq!(entries(&unread), 2);
    unread.assert_lacks("Approval 2 decided");

    // Mark all read (POST with the CSRF token): back where it was asked, nothing unread.
    c.post_raw(
        "/notifications/read-all",
        &[("return_to", "/notifications")],
    )
    .await
    .assert_status(403);
    c.post(
        "/notifications/read-all",
        &[("return_to", "/notifications?show=unread")],
    )
    .await
    .assert_redirect_to("/notifications?show=unread");
    c.get("/notifications?show=unread")
        .await
        .assert_contains("No notifications match these filters.")
        .assert_lacks("Mark all");
    // Only back to a notifications page.
    c.post(
        "/notifications/read-all",
        &[("return_to", "https://evil.example/")],
    )
    .await
    .assert_redirect_to("/notifications");
}

#[tokio::test]
async fn a_refused_registration_puts_its_summary_first_and_keeps_its_address() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    c.get("/releases/new")
        .await
        .assert_contains(r#"action="/releases/new#errors""#);
    let p = c
        .post(
            "/releases/new",
            &[
                ("category", "1"),
                ("type", "minor"),
                ("title", ""),
                ("impact", "low"),
                ("urgency", "low"),
            ],
        )
        .await;
    p.assert_status(422)
        .assert_contains(r##"<a href="#f-title">"##);
    let summary = at(&p, r#"<div class="error-summary" id="errors" role="alert""#);
    assert!(summary < at(&p, "<h1"));
    p.assert_contains("<title>Error: Register a release");
}
