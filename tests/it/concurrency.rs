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

/// One POST as a browser sends it, with the session's token already read.
fn form_post(
    c: &crate::support::Client,
    token: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> impl std::future::Future<Output = u16> {
    let mut all = vec![("csrf_token", token)];
    all.extend_from_slice(fields);
    let req = c
        .http
        .post(format!("{}{path}", c.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_html_form::to_string(&all).unwrap());
    async move { req.send().await.unwrap().status().as_u16() }
}

#[tokio::test]
async fn fifty_writers_of_every_kind_on_one_record_keep_its_history_chain_whole() {
    use crate::releases::take;
    use relman::schema::{history_events as he, releases, tasks};
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;
    take(&app, &c, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    for i in 0..20 {
        c.post(
            &format!("/releases/{n}/tasks"),
            &[("title", &format!("Task {i}"))],
        )
        .await
        .assert_status(303);
    }
    let mut changes = Vec::new();
    for i in 0..3 {
        changes.push(crate::changes::new_change(&app, &c, &format!("Change {i}"), "normal").await);
    }
    let mut approvers = Vec::new();
    for i in 0..10 {
        let name = format!("cab{i}");
        app.user(&name, &[Role::Approver], &["CAB"]);
        let a = app.client();
        a.login(&name, crate::support::PASSWORD).await;
        let token = a.csrf().await;
        approvers.push((a, token));
    }
    let token = c.csrf().await;
    let task_ids: Vec<i64> = tasks::table
        .inner_join(releases::table)
        .filter(tasks::title.like("Task %"))
        .select(tasks::id)
        .load(&mut app.conn())
        .unwrap();
    let (approval, cycle) = crate::releases::live_approval(&app, &n);
    let (approval, cycle) = (approval.to_string(), cycle.to_string());
    let v = version(&app, &n).to_string();
    let advance = transition_id(&app, &n, "Advance to Build and Test").to_string();

    let mut writers = Vec::new();
    for t in &task_ids {
        writers.push(form_post(
            &c,
            &token,
            &format!("/tasks/{t}"),
            &[("action", "start"), ("version", "1")],
        ));
    }
    for (a, t) in &approvers {
        writers.push(form_post(
            a,
            t,
            &format!("/approvals/{approval}/decision"),
            &[("decision", "approve"), ("cycle", &cycle), ("comment", "")],
        ));
    }
    let services: Vec<String> = (0..12).map(|i| format!("Service {i}")).collect();
    for s in &services {
        writers.push(form_post(
            &c,
            &token,
            &format!("/releases/{n}"),
            &[("version", &v), ("affected_services", s)],
        ));
    }
    for ch in &changes {
        writers.push(form_post(
            &c,
            &token,
            &format!("/releases/{n}/changes"),
            &[("number", ch), ("action", "add")],
        ));
    }
    for _ in 0..5 {
        writers.push(form_post(
            &c,
            &token,
            &format!("/releases/{n}/transitions"),
            &[("transition", &advance), ("version", &v), ("reason", "")],
        ));
    }
    assert_eq!(writers.len(), 50);
    let statuses = futures_util::future::join_all(writers).await;
    assert!(statuses.iter().all(|s| *s < 500), "{statuses:?}");

    let (checked, broken) = relman::models::history::verify(&mut app.conn()).unwrap();
    assert!(broken.is_empty(), "{broken:?}");
    let (ok, out) = crate::history::verify(&app);
    assert!(ok, "relman verify: {out}");
    assert!(out.contains("History intact"), "{out}");
    let kinds: Vec<String> = he::table.select(he::kind).load(&mut app.conn()).unwrap();
    let count = |k: &str| kinds.iter().filter(|x| *x == k).count();
    assert_eq!(count("approval"), 10, "{kinds:?}");
    assert_eq!(count("edit"), 1, "{kinds:?}");
    assert!(count("task") >= 40, "{kinds:?}");
    assert!(checked >= 60, "{checked}");

    // Tampering is still caught: an event taken out of the middle of the chain.
    let mut conn = app.conn();
    diesel::sql_query("ALTER TABLE history_events DISABLE TRIGGER history_events_append_only")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query(
        "DELETE FROM history_events WHERE id = (SELECT id FROM history_events WHERE kind = 'approval' ORDER BY id LIMIT 1 OFFSET 4)",
    )
    .execute(&mut conn)
    .unwrap();
    let (_, broken) = relman::models::history::verify(&mut conn).unwrap();
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(
        broken[0]
            .2
            .contains("link to the previous event does not match"),
        "{broken:?}"
    );
}
