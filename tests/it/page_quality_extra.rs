//! Pages of later features for the page-quality list, with the records they need.
use relman::domain::permissions::Actor;
use relman::domain::roles::{Role, Roles};
use relman::services::releases::{self as svc, RegisterInput};

use crate::support::TestApp;

pub async fn pages(app: &TestApp) -> Vec<(String, Option<&'static str>)> {
    let mut conn = app.conn();
    let coordinator: i64 = {
        use diesel::prelude::*;
        use relman::schema::users;
        users::table
            .filter(users::username.eq("coordinator"))
            .select(users::id)
            .first(&mut conn)
            .unwrap()
    };
    let actor = Actor {
        id: coordinator,
        roles: Roles::of(&[Role::Coordinator]),
    };
    let input = RegisterInput {
        category: "1".into(),
        release_type: "major".into(),
        title: "Billing platform 4.2".into(),
        description: "Quarterly update".into(),
        reason: "business_requirement".into(),
        impact: "high".into(),
        urgency: "high".into(),
        planned_start: "2026-12-01T09:00".into(),
        planned_end: "2026-12-20T17:00".into(),
        ..Default::default()
    };
    let n = svc::register(&mut conn, actor, &input).unwrap().unwrap();
    {
        // Failed sign-ins (accounts being attacked) and an administrator's change to their own
        // access (flagged on the audit page), so those tables are checked too.
        use diesel::prelude::*;
        diesel::sql_query(
            "INSERT INTO login_events (username, outcome, address) VALUES \
             ('coordinator', 'failure', '203.0.113.9'), ('nosuchname', 'failure', '203.0.113.9')",
        )
        .execute(&mut conn)
        .unwrap();
        diesel::sql_query(
            "INSERT INTO admin_audit (actor_id, action, address, own_access_change) \
             SELECT id, 'POST /admin/users/' || id, '127.0.0.1', \
                    'Self-granted: the Release Approver role, membership of CAB' \
             FROM users WHERE username = 'admin'",
        )
        .execute(&mut conn)
        .unwrap();
    }
    let release = relman::paths::release(n);
    // A second release from a model, in Plan and Design, so it has tasks and a pending approval.
    let planned = RegisterInput {
        model: "1".into(),
        title: "Payroll 7".into(),
        impact: "low".into(),
        urgency: "low".into(),
        ..input.clone()
    };
    let p = svc::register(&mut conn, actor, &planned).unwrap().unwrap();
    {
        use diesel::prelude::*;
        use relman::schema::{tasks, transitions};
        diesel::update(tasks::table)
            .set(tasks::status.eq("done"))
            .execute(&mut conn)
            .unwrap();
        let t: i64 = transitions::table
            .filter(transitions::label.eq("Advance to Plan and Design"))
            .select(transitions::id)
            .first(&mut conn)
            .unwrap();
        let v = relman::models::releases::by_number(&mut conn, p)
            .unwrap()
            .version;
        let done = svc::take_transition(&mut conn, actor, p, t, v, "").unwrap();
        assert!(matches!(done, svc::TakeOutcome::Done(_)));
    }
    // A change related to the planned release, and a published lesson.
    let change = RegisterInput {
        category: {
            use diesel::prelude::*;
            relman::schema::categories::table
                .filter(relman::schema::categories::name.eq("Normal change"))
                .select(relman::schema::categories::id)
                .first::<i64>(&mut conn)
                .unwrap()
                .to_string()
        },
        release_type: "normal".into(),
        title: "Database driver upgrade".into(),
        ..input.clone()
    };
    let ch = svc::register_kind(
        &mut conn,
        relman::domain::workflow::RecordKind::Change,
        actor,
        &change,
    )
    .unwrap()
    .unwrap();
    relman::services::related::relate_change(
        &mut conn,
        actor,
        p,
        &relman::paths::change_number(ch),
        false,
    )
    .unwrap()
    .unwrap();
    {
        use diesel::prelude::*;
        use relman::schema::knowledge_articles as k;
        diesel::insert_into(k::table)
            .values((
                k::title.eq("Book the DBA early"),
                k::body.eq("Lessons"),
                k::category_id.eq(1),
                k::published_by.eq(coordinator),
            ))
            .execute(&mut conn)
            .unwrap();
    }
    let task_id: i64 = {
        use diesel::prelude::*;
        relman::schema::tasks::table
            .select(relman::schema::tasks::id)
            .first(&mut conn)
            .unwrap()
    };
    let approval_id: i64 = {
        use diesel::prelude::*;
        relman::schema::approvals::table
            .select(relman::schema::approvals::id)
            .first(&mut conn)
            .unwrap()
    };
    let workflow_id = 1;
    let phase_id: i64 = 1;
    // The calendar's pages: a blackout and a shared service, so both releases show conflicts.
    let blackout_id = {
        use diesel::prelude::*;
        use relman::models::blackouts::{self as blk, BlackoutInput};
        let at = |s: &str| relman::services::release_fields::parse_datetime(s).unwrap();
        diesel::update(relman::schema::release_details::table)
            .set(relman::schema::release_details::affected_services.eq("Billing, CRM"))
            .execute(&mut conn)
            .unwrap();
        let b = BlackoutInput {
            name: "Year-end freeze",
            starts_at: at("2026-12-10T00:00"),
            ends_at: at("2026-12-12T00:00"),
            category_id: None,
        };
        blk::insert(&mut conn, &b, coordinator).unwrap()
    };
    vec![
        ("/tasks".into(), Some("coordinator")),
        ("/notifications".into(), Some("coordinator")),
        ("/notifications".into(), Some("manager")),
        ("/knowledge".into(), Some("coordinator")),
        ("/changes".into(), Some("coordinator")),
        ("/changes/new".into(), Some("coordinator")),
        (relman::paths::change(ch), Some("coordinator")),
        ("/knowledge/1".into(), Some("coordinator")),
        ("/admin/models".into(), Some("manager")),
        ("/admin/models/2".into(), Some("manager")),
        ("/admin/models/2/versions/1".into(), Some("manager")),
        ("/admin/models/2/retire".into(), Some("manager")),
        (format!("/tasks/{task_id}"), Some("coordinator")),
        ("/approvals".into(), Some("approver")),
        ("/approvals?type=major&risk=medium".into(), Some("approver")),
        ("/notifications?show=unread&page=2".into(), Some("manager")),
        (format!("/approvals/{approval_id}"), Some("approver")),
        ("/account/delegations".into(), Some("approver")),
        (relman::paths::release(p), Some("approver")),
        (relman::paths::release(p), Some("manager")),
        ("/admin/workflows".into(), Some("manager")),
        (format!("/admin/workflows/{workflow_id}"), Some("manager")),
        (
            format!("/admin/workflows/{workflow_id}/fields"),
            Some("manager"),
        ),
        (
            format!("/admin/workflows/{workflow_id}/phases/{phase_id}"),
            Some("manager"),
        ),
        (
            format!("/admin/workflows/{workflow_id}/retire"),
            Some("manager"),
        ),
        ("/admin/categories".into(), Some("manager")),
        ("/admin/categories/1".into(), Some("manager")),
        ("/admin/users/sign-ins".into(), Some("admin")),
        ("/admin/audit".into(), Some("admin")),
        ("/releases".into(), Some("coordinator")),
        (
            "/releases?type=major&state=active&q=billing".into(),
            Some("manager"),
        ),
        ("/releases/new".into(), Some("coordinator")),
        (release.clone(), Some("coordinator")),
        (release, Some("approver")),
        ("/".into(), Some("coordinator")),
        ("/".into(), Some("approver")),
        ("/reports/management".into(), Some("manager")),
        (
            "/reports/management?type=major&category=1".into(),
            Some("manager"),
        ),
        (
            format!("{}/report", relman::paths::release(p)),
            Some("approver"),
        ),
        (
            format!("{}/report", relman::paths::release(n)),
            Some("manager"),
        ),
        ("/calendar?month=2026-12".into(), Some("coordinator")),
        (
            "/calendar?month=2026-12&type=major&category=1".into(),
            Some("manager"),
        ),
        ("/calendar".into(), Some("nobody")),
        ("/account/calendar".into(), Some("coordinator")),
        ("/admin/blackouts".into(), Some("manager")),
        (format!("/admin/blackouts/{blackout_id}"), Some("manager")),
        (
            format!("/admin/blackouts/{blackout_id}/delete"),
            Some("manager"),
        ),
    ]
}
