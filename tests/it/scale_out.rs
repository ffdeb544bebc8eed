//! Several instances on one database: pages kept by one instance follow the writes made
//! through any of them (the `relman_writes` counter read with the signed-in user).
use diesel::prelude::*;
use relman::domain::roles::Role;

use crate::faults::start_relman;
use crate::releases::{register, save};
use crate::support::{Client, TestApp, PASSWORD};

/// Two instances keeping pages for a minute, and one browser (one cookie jar) using both.
#[tokio::test]
async fn kept_pages_follow_writes_made_through_any_instance() {
    let app = TestApp::spawn().await;
    let cora = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&cora, "Kept title", "minor", "low", "low").await;
    let keep = [
        ("RELMAN_KEEP_SECS", "60"),
        ("RELMAN_MONITOR_INTERVAL_SECS", "3600"),
    ];
    let (_a, port_a) = start_relman(&app, &keep).await;
    let (_b, port_b) = start_relman(&app, &keep).await;
    let http = app.client().http;
    let on = |port: u16| Client {
        base: format!("http://127.0.0.1:{port}"),
        http: http.clone(),
    };
    let (ca, cb) = (on(port_a), on(port_b));
    ca.login("cora", PASSWORD).await.assert_redirect_to("/");
    let page = format!("/releases/{n}");
    ca.get(&page)
        .await
        .assert_status(200)
        .assert_contains("Kept title");
    cb.get(&page)
        .await
        .assert_status(200)
        .assert_contains("Kept title");

    // Written behind Relman's back: both instances still serve the page they keep.
    diesel::sql_query("UPDATE releases SET title = 'Changed in SQL' WHERE title = 'Kept title'")
        .execute(&mut app.conn())
        .unwrap();
    ca.get(&page)
        .await
        .assert_contains("Kept title")
        .assert_lacks("Changed in SQL");
    ca.get("/releases").await.assert_status(200);

    // Written through B: B's one-time message shows on the next page (not a kept copy
    // without it), and A's next page shows the change.
    save(&app, &cb, &n, &[("title", "Renamed through B")])
        .await
        .assert_status(303);
    cb.get(&page)
        .await
        .assert_status(200)
        .assert_contains("Saved 1 change.")
        .assert_contains("Renamed through B");
    cb.get(&page)
        .await
        .assert_status(200)
        .assert_lacks("Saved 1 change.");
    ca.get(&page)
        .await
        .assert_status(200)
        .assert_contains("Renamed through B")
        .assert_lacks("Saved 1 change.");

    // Signed out on A: B serves none of its kept pages to that session.
    ca.post("/logout", &[]).await.assert_status(303);
    assert_eq!(
        cb.get(&page).await.status,
        303,
        "a signed-out session gets no kept page"
    );
}
