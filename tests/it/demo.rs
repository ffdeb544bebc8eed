//! `relman demo`: a newcomer sees every screen populated.
use crate::support::TestApp;

#[tokio::test]
async fn the_demo_populates_every_screen() {
    let app = TestApp::spawn().await;
    let demo = relman::tools::demo::load(&mut app.conn()).expect("demo loads");
    assert_eq!(demo.releases, 36);
    let pw = |name: &str| {
        demo.users
            .iter()
            .find(|(u, _)| u == name)
            .unwrap()
            .1
            .clone()
    };
    let mara = app.client();
    mara.login("mara", &pw("mara"))
        .await
        .assert_redirect_to("/");
    let list = mara.get("/releases").await;
    list.assert_status(200)
        .assert_contains("Billing platform 4.2")
        .assert_lacks("No releases match");
    for phase in [
        "Assess",
        "Plan and Design",
        "Build and Test",
        "Training",
        "Distribution and Rollout",
        "Back Out",
        "Verification",
    ] {
        list.assert_contains(phase);
    }
    mara.get("/releases?state=closed_backed_out")
        .await
        .assert_lacks("No releases match");
    mara.get("/releases?state=abandoned")
        .await
        .assert_lacks("No releases match");
    mara.get("/changes")
        .await
        .assert_contains("Upgrade the database driver");
    mara.get("/knowledge")
        .await
        .assert_contains("Lessons learned:");
    mara.get("/admin/blackouts")
        .await
        .assert_contains("Year-end freeze");
    mara.get("/").await.assert_status(200);
    let ada = app.client();
    ada.login("ada", &pw("ada")).await.assert_redirect_to("/");
    ada.get("/approvals")
        .await
        .assert_lacks("Nothing waits for your decision");
    let colin = app.client();
    colin
        .login("colin", &pw("colin"))
        .await
        .assert_redirect_to("/");
    colin
        .get("/tasks")
        .await
        .assert_lacks("You have no open tasks");
    colin
        .get("/notifications")
        .await
        .assert_lacks("Nothing yet");
    // Loading it twice is refused rather than duplicated.
    assert!(relman::tools::demo::load(&mut app.conn()).is_err());
}
