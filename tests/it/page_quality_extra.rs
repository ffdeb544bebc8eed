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
        users::table.filter(users::username.eq("coordinator")).select(users::id).first(&mut conn).unwrap()
    };
    let actor = Actor { id: coordinator, roles: Roles::of(&[Role::Coordinator]) };
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
    let release = relman::paths::release(n);
    vec![
        ("/releases".into(), Some("coordinator")),
        ("/releases?type=major&state=active&q=billing".into(), Some("manager")),
        ("/releases/new".into(), Some("coordinator")),
        (release.clone(), Some("coordinator")),
        (release, Some("approver")),
    ]
}
