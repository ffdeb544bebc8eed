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

/// With counts kept, the navigation's count of approvals waiting follows a vote on every one
/// of an approver's pages asked for at once (one of them counts, the others wait for it and
/// take what it kept), and a write through the database's counter reaches them too.
#[tokio::test]
async fn kept_navigation_counts_follow_a_vote_on_pages_asked_for_at_once() {
    let app = TestApp::spawn().await;
    let cora = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&cora, "Counted", "minor", "low", "low").await;
    crate::releases::take(&app, &cora, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    app.user("ann", &[Role::Approver], &["CAB"]);
    let (_a, port) = start_relman(
        &app,
        &[
            ("RELMAN_KEEP_SECS", "60"),
            ("RELMAN_MONITOR_INTERVAL_SECS", "3600"),
        ],
    )
    .await;
    let ann = Client {
        base: format!("http://127.0.0.1:{port}"),
        http: app.client().http,
    };
    ann.login("ann", PASSWORD).await.assert_redirect_to("/");
    let counted = "Approvals <span class=\"count\">1";
    let at_once = |paths: [&'static str; 8]| {
        let ann = &ann;
        futures_util::future::join_all(paths.map(|p| async move { ann.get(p).await }))
    };
    let pages = [
        "/",
        "/releases",
        "/approvals",
        "/tasks",
        "/notifications",
        "/calendar",
        "/",
        "/releases",
    ];
    for page in at_once(pages).await {
        page.assert_status(200).assert_contains(counted);
    }
    let (id, cycle) = crate::releases::live_approval(&app, &n);
    ann.post(
        &format!("/approvals/{id}/decision"),
        &[
            ("decision", "approve"),
            ("cycle", &cycle.to_string()),
            ("return_to", "/approvals"),
        ],
    )
    .await
    .assert_redirect_to("/approvals");
    for page in at_once(pages).await {
        page.assert_status(200)
            .assert_lacks("Approvals <span class=\"count\">");
    }
    // A new approval opened behind this instance's back (another instance's write moves the
    // counter): the next pages count it.
    let m = register(&cora, "Counted too", "minor", "low", "low").await;
    crate::releases::take(&app, &cora, &m, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    for page in at_once(pages).await {
        page.assert_status(200).assert_contains(counted);
    }
}
