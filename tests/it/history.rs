//! The history is append-only and tamper-evident: `relman verify` finds an edited row.
use diesel::prelude::*;
use relman::domain::roles::Role;

use crate::releases::{register, save, take};
use crate::support::TestApp;

pub fn verify(app: &TestApp) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_relman"))
        .arg("verify")
        .env("DATABASE_URL", &app.db.url)
        .env("RELMAN_LOG", "warn")
        .output()
        .expect("run relman verify");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn verify_passes_on_untouched_history_and_names_the_first_edited_event() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let a = register(&c, "Billing", "minor", "low", "low").await;
    let b = register(&c, "Portal", "minor", "low", "low").await;
    save(
        &app,
        &c,
        &a,
        &[("title", "Billing 4.2"), ("affected_services", "Billing")],
    )
    .await
    .assert_status(303);
    take(&app, &c, &a, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    take(&app, &c, &b, "Abandon release", "Not needed")
        .await
        .assert_status(303);
    let (ok, out) = verify(&app);
    assert!(ok, "{out}");
    assert!(out.contains("History intact: 5 events checked."), "{out}");

    // The application cannot rewrite history.
    let refused = diesel::sql_query("UPDATE history_events SET summary = 'nothing happened'")
        .execute(&mut app.conn());
    assert!(refused.is_err());
    let refused = diesel::sql_query("DELETE FROM history_events").execute(&mut app.conn());
    assert!(refused.is_err());

    // Someone with the database's keys edits a field change behind its back.
    let mut conn = app.conn();
    diesel::sql_query(
        "ALTER TABLE history_field_changes DISABLE TRIGGER history_field_changes_append_only",
    )
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query(
        "UPDATE history_field_changes SET new_value = 'Billing 9' WHERE new_value = 'Billing 4.2'",
    )
    .execute(&mut conn)
    .unwrap();
    let (ok, out) = verify(&app);
    assert!(!ok, "verify must fail: {out}");
    assert!(out.contains("content does not match its hash"), "{out}");
    assert!(
        out.contains("1 record(s) with a broken history chain"),
        "{out}"
    );

    // And a deleted event breaks the link of the next one.
    diesel::sql_query("ALTER TABLE history_events DISABLE TRIGGER history_events_append_only")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query("DELETE FROM history_events WHERE id = (SELECT min(id) FROM history_events WHERE kind = 'registered')").execute(&mut conn).unwrap();
    let (ok, out) = verify(&app);
    assert!(!ok);
    assert!(
        out.contains("link to the previous event does not match"),
        "{out}"
    );
}
