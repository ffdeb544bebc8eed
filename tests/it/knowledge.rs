//! Lessons learned: publishing a release's evaluation and finding it later.
use relman::domain::roles::Role;

use crate::releases::{cab_approves, register, save, take, to_distribution};
use crate::support::TestApp;

#[tokio::test]
async fn a_published_lesson_shows_up_on_a_later_release_of_the_same_category() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let m = app.signed_in("mona", &[Role::Manager]).await;
    let n = register(&c, "Billing 4.2", "minor", "low", "low").await;
    // Nothing to publish before the evaluation is written.
    m.get(&format!("/releases/{n}/publish"))
        .await
        .assert_status(403)
        .assert_contains("no post-implementation evaluation");
    to_distribution(&app, &c, &n).await;
    save(&app, &c, &n, &[("actual_start", "2026-12-02T10:00")]).await;
    cab_approves(&app, &n).await;
    take(&app, &c, &n, "Advance to Verification", "")
        .await
        .assert_status(303);
    save(
        &app,
        &c,
        &n,
        &[
            ("actual_end", "2026-12-03T10:00"),
            ("verification", "OK"),
            (
                "evaluation",
                "Book the DBA a week ahead; the index rebuild took 3 hours.",
            ),
        ],
    )
    .await;
    take(&app, &c, &n, "Close as successful", "")
        .await
        .assert_status(303);

    c.get(&format!("/releases/{n}/publish"))
        .await
        .assert_status(403);
    let form = m.get(&format!("/releases/{n}/publish")).await;
    form.assert_status(200)
        .assert_contains("Lessons learned: Billing 4.2")
        .assert_contains("index rebuild took 3 hours");
    m.post(
        &format!("/releases/{n}/publish"),
        &[("title", ""), ("body", "x")],
    )
    .await
    .assert_status(422)
    .assert_contains("Enter a title");
    let p = m
        .post(
            &format!("/releases/{n}/publish"),
            &[
                ("title", "Book the DBA early"),
                (
                    "body",
                    "Book the DBA a week ahead; the index rebuild took 3 hours.",
                ),
                ("affected_services", "Billing"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let article = p.location.unwrap();
    c.get(&article)
        .await
        .assert_contains("Book the DBA early")
        .assert_contains(&n);
    m.post(
        &format!("/releases/{n}/publish"),
        &[("title", "Again"), ("body", "Again")],
    )
    .await
    .assert_status(422)
    .assert_contains("already published");

    let later = register(&c, "Billing 4.3", "minor", "low", "low").await;
    c.get(&format!("/releases/{later}"))
        .await
        .assert_contains("Book the DBA early");
    c.get("/knowledge?q=index+rebuild")
        .await
        .assert_contains("Book the DBA early");
    c.get("/knowledge?q=nothing+like+this")
        .await
        .assert_contains("No lessons match");
}
