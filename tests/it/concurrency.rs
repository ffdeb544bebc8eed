//! Many people at once on the same record: no lost update, no double effect.
use diesel::prelude::*;
use relman::domain::roles::Role;
use relman::schema::{history_events, release_details};

use crate::releases::{register, transition_id, version};
use crate::support::TestApp;

#[tokio::test]
async fn concurrent_saves_and_transitions_on_one_release_take_effect_once_each() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;
    let token = c.csrf().await;
    let v = version(&app, &n).to_string();

    // Sixteen saves from forms read at the same version: one wins, the others get the conflict page.
    let saves = (0..16).map(|i| {
        let body = serde_html_form::to_string([
            ("csrf_token", token.as_str()),
            ("version", v.as_str()),
            ("affected_services", &format!("Service {i}")),
        ])
        .unwrap();
        c.http
            .post(format!("{}/releases/{n}", c.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(saves)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        15,
        "{statuses:?}"
    );
    let services: String = release_details::table
        .select(release_details::affected_services)
        .first(&mut app.conn())
        .unwrap();
    let edits: i64 = history_events::table
        .filter(history_events::kind.eq("edit"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(edits, 1);
    assert!(services.starts_with("Service "));

    // Sixteen identical transitions at once: it happens once.
    let t = transition_id(&app, &n, "Advance to Plan and Design").to_string();
    let v = version(&app, &n).to_string();
    let moves = (0..16).map(|_| {
        let body = serde_html_form::to_string([
            ("csrf_token", token.as_str()),
            ("transition", t.as_str()),
            ("version", v.as_str()),
            ("reason", ""),
        ])
        .unwrap();
        c.http
            .post(format!("{}/releases/{n}/transitions", c.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(moves)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert!(statuses.iter().all(|s| *s == 303), "{statuses:?}");
    let advances: i64 = history_events::table
        .filter(history_events::kind.eq("advance"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(advances, 1);
    assert_eq!(crate::releases::phase_of(&app, &n), "Plan and Design");
}
