//! CAB approvals: the four rules with real voters, separation of duties, deny and retract
//! with the log, the ECAB for emergencies, delegation, concurrent votes, the inbox.
use diesel::prelude::*;
use relman::domain::roles::Role;
use relman::schema::{approval_log, approval_votes, approvals, phase_approvals, phases};

use crate::releases::{live_approval, phase_of, register, save, take, vote};
use crate::support::{Client, TestApp, PASSWORD};

/// A release in Plan and Design with everything but the approval done.
async fn in_plan_and_design(app: &TestApp, c: &Client, release_type: &str) -> String {
    let n = register(c, "Billing 4.2", release_type, "low", "low").await;
    take(app, c, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    save(
        app,
        c,
        &n,
        &[
            ("release_plan", "P"),
            ("deployment_plan", "D"),
            ("test_criteria", "T"),
        ],
    )
    .await
    .assert_status(303);
    n
}

fn set_plan_rule(app: &TestApp, rule: &str, quorum: Option<i32>) {
    let phase: i64 = phases::table
        .filter(phases::name.eq("Plan and Design"))
        .select(phases::id)
        .first(&mut app.conn())
        .unwrap();
    diesel::update(phase_approvals::table.find(phase))
        .set((
            phase_approvals::rule.eq(rule),
            phase_approvals::quorum_count.eq(quorum),
        ))
        .execute(&mut app.conn())
        .unwrap();
}

async fn approvers(app: &TestApp, names: &[&str], group: &str) -> Vec<Client> {
    let mut out = Vec::new();
    for n in names {
        app.user(n, &[Role::Approver], &[group]);
        let c = app.client();
        c.login(n, PASSWORD).await.assert_redirect_to("/");
        out.push(c);
    }
    out
}

fn status(app: &TestApp) -> String {
    approvals::table
        .order(approvals::id.desc())
        .select(approvals::status)
        .first(&mut app.conn())
        .unwrap()
}

async fn advance_status(app: &TestApp, c: &Client, n: &str) -> u16 {
    take(app, c, n, "Advance to Build and Test", "")
        .await
        .status
}

#[tokio::test]
async fn all_must_approve_needs_every_eligible_voter() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let cab = approvers(&app, &["ann", "ben", "cat"], "CAB").await;
    set_plan_rule(&app, "all", None);
    let n = in_plan_and_design(&app, &c, "minor").await;
    let page = c.get(&format!("/releases/{n}")).await;
    page.assert_contains(
        "Approval by CAB is pending: 0 of 3 eligible approved so far, 3 more needed.",
    )
    .assert_contains("Not voted yet: ann (test), ben (test), cat (test).");
    vote(&app, &cab[0], &n, "approve", "")
        .await
        .assert_status(303);
    vote(&app, &cab[1], &n, "approve", "Looks fine")
        .await
        .assert_status(303);
    assert_eq!(advance_status(&app, &c, &n).await, 422);
    vote(&app, &cab[2], &n, "approve", "")
        .await
        .assert_status(303);
    assert_eq!(status(&app), "approved");
    assert_eq!(advance_status(&app, &c, &n).await, 303);
    assert_eq!(phase_of(&app, &n), "Build and Test");
}

#[tokio::test]
async fn a_denial_under_all_must_approve_ends_the_round_and_tells_the_coordinator_and_manager() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let mara = app.user("mara", &[Role::Manager], &[]);
    let cab = approvers(&app, &["ann", "ben", "cat"], "CAB").await;
    set_plan_rule(&app, "all", None);
    let n = in_plan_and_design(&app, &c, "minor").await;
    save(&app, &c, &n, &[("manager", &mara.to_string())])
        .await
        .assert_status(303);
    vote(&app, &cab[0], &n, "approve", "")
        .await
        .assert_status(303);
    vote(&app, &cab[1], &n, "deny", "The back-out plan is missing")
        .await
        .assert_status(303);
    assert_eq!(status(&app), "denied");
    let page = c.get(&format!("/releases/{n}")).await;
    page.assert_contains("Approval by CAB is denied.")
        .assert_contains("<strong>Denied by ben (test)</strong>: The back-out plan is missing")
        .assert_lacks("more needed")
        .assert_contains("Request the approval again");
    // The third voter has nothing left to vote on in this round.
    cab[2]
        .get(&format!("/releases/{n}"))
        .await
        .assert_lacks("Vote as yourself");
    for who in ["cora", "mara"] {
        use relman::schema::{notifications as no, users};
        let bodies: Vec<String> = no::table
            .inner_join(users::table.on(users::id.eq(no::user_id)))
            .filter(users::username.eq(who))
            .filter(no::kind.eq("approval_decided"))
            .select(no::body)
            .load(&mut app.conn())
            .unwrap();
        assert_eq!(bodies.len(), 1, "{who}: {bodies:?}");
        assert!(bodies[0].contains("decided by ben (test)"), "{bodies:?}");
        assert!(
            bodies[0].contains("Reason: The back-out plan is missing"),
            "{bodies:?}"
        );
    }

    // The workflow lets the coordinator stay and ask again: a new round.
    c.post(&format!("/releases/{n}/approvals"), &[])
        .await
        .assert_status(303);
    assert_eq!(status(&app), "pending");
    let page = c.get(&format!("/releases/{n}")).await;
    page.assert_contains("pending: 0 of 3 eligible approved so far, 3 more needed");
    for v in &cab {
        vote(&app, v, &n, "approve", "").await.assert_status(303);
    }
    assert_eq!(advance_status(&app, &c, &n).await, 303);
}

#[tokio::test]
async fn one_must_approve_is_decided_by_the_first_approval() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let cab = approvers(&app, &["ann", "ben", "cat"], "CAB").await;
    set_plan_rule(&app, "one", None);
    let n = in_plan_and_design(&app, &c, "minor").await;
    vote(&app, &cab[0], &n, "deny", "Not yet")
        .await
        .assert_status(303);
    assert_eq!(
        status(&app),
        "pending",
        "one denial of three does not decide 'one must approve'"
    );
    assert_eq!(advance_status(&app, &c, &n).await, 422);
    vote(&app, &cab[1], &n, "approve", "")
        .await
        .assert_status(303);
    assert_eq!(status(&app), "approved");
    assert_eq!(advance_status(&app, &c, &n).await, 303);
}

#[tokio::test]
async fn a_quorum_of_more_than_half_needs_two_of_three() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let cab = approvers(&app, &["ann", "ben", "cat"], "CAB").await;
    set_plan_rule(&app, "quorum", None);
    let n = in_plan_and_design(&app, &c, "minor").await;
    vote(&app, &cab[0], &n, "approve", "").await;
    assert_eq!(advance_status(&app, &c, &n).await, 422);
    vote(&app, &cab[1], &n, "deny", "Risky").await;
    assert_eq!(status(&app), "pending");
    vote(&app, &cab[2], &n, "approve", "").await;
    assert_eq!(status(&app), "approved");
    assert_eq!(advance_status(&app, &c, &n).await, 303);
}

#[tokio::test]
async fn immediate_denial_ends_the_round_at_the_first_deny_and_blocks_further_votes() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let cab = approvers(&app, &["ann", "ben", "cat"], "CAB").await;
    set_plan_rule(&app, "all_immediate_denial", None);
    let n = in_plan_and_design(&app, &c, "minor").await;
    vote(&app, &cab[0], &n, "approve", "").await;
    vote(&app, &cab[1], &n, "deny", "No back-out plan yet").await;
    assert_eq!(status(&app), "denied");
    let refused = vote(&app, &cab[2], &n, "approve", "").await;
    refused.assert_status(303);
    cab[2]
        .get(refused.location.as_deref().unwrap())
        .await
        .assert_contains("already denied in this round");
    let votes: i64 = approval_votes::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(votes, 2);
    let page = take(&app, &c, &n, "Advance to Build and Test", "").await;
    page.assert_status(422)
        .assert_contains("Approval by CAB is denied.");
    // After a denial the coordinator may rework; re-entering opens a fresh round.
    take(&app, &c, &n, "Rework in Assess", "Needs a back-out plan")
        .await
        .assert_status(303);
    assert_eq!(status(&app), "withdrawn");
    take(&app, &c, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    assert_eq!(status(&app), "pending");
    let count: i64 = approvals::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(count, 2);
}

#[tokio::test]
async fn the_coordinator_is_not_eligible_and_a_direct_vote_is_refused() {
    let app = TestApp::spawn().await;
    app.user("cora", &[Role::Coordinator, Role::Approver], &["CAB"]);
    let c = app.client();
    c.login("cora", PASSWORD).await;
    let _cab = approvers(&app, &["ann"], "CAB").await;
    let n = in_plan_and_design(&app, &c, "minor").await;
    let page = c.get(&format!("/releases/{n}")).await;
    page.assert_contains("Not eligible: you registered this release.")
        .assert_lacks("Vote as yourself");
    vote(&app, &c, &n, "approve", "")
        .await
        .assert_status(403)
        .assert_contains("not eligible");
    let votes: i64 = approval_votes::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(votes, 0);
    c.get("/approvals")
        .await
        .assert_contains("Nothing waits for your decision");
}

#[tokio::test]
async fn deny_needs_a_reason_and_deny_then_retract_starts_a_new_round_kept_in_the_log() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let cab = approvers(&app, &["ann", "ben"], "CAB").await;
    set_plan_rule(&app, "all", None);
    let n = in_plan_and_design(&app, &c, "minor").await;
    vote(&app, &cab[0], &n, "deny", "   ")
        .await
        .assert_status(422)
        .assert_contains("Give a reason to deny.");
    vote(&app, &cab[0], &n, "deny", "Test criteria are vague")
        .await
        .assert_status(303);
    assert_eq!(status(&app), "denied", "all can no longer approve");
    // A vote after the denial counts for nothing in this round.
    vote(&app, &cab[1], &n, "approve", "")
        .await
        .assert_status(303);
    assert_eq!(status(&app), "denied");
    vote(&app, &cab[0], &n, "retract", "")
        .await
        .assert_status(422)
        .assert_contains("Give a reason to retract.");
    vote(&app, &cab[0], &n, "retract", "Criteria were clarified")
        .await
        .assert_status(303);
    assert_eq!(status(&app), "pending");
    let (_, cycle) = live_approval(&app, &n);
    assert_eq!(cycle, 2);
    // Everyone votes again in the new round.
    vote(&app, &cab[0], &n, "approve", "").await;
    assert_eq!(status(&app), "pending");
    vote(&app, &cab[1], &n, "approve", "").await;
    assert_eq!(status(&app), "approved");
    let log: Vec<(i32, String)> = approval_log::table
        .order(approval_log::id)
        .select((approval_log::cycle, approval_log::action))
        .load(&mut app.conn())
        .unwrap();
    let actions: Vec<String> = log.iter().map(|(c, a)| format!("{c}:{a}")).collect();
    assert_eq!(
        actions,
        [
            "1:requested",
            "1:deny",
            "1:denied",
            "1:retract",
            "2:approve",
            "2:approve",
            "2:approved"
        ]
    );
    let page = c.get(&format!("/releases/{n}")).await;
    page.assert_contains("Retracted their decision")
        .assert_contains("Criteria were clarified")
        .assert_contains("Test criteria are vague");
}

#[tokio::test]
async fn an_emergency_release_goes_to_the_ecab_where_one_approval_is_enough() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let cab = approvers(&app, &["ann"], "CAB").await;
    let ecab = approvers(&app, &["eli", "eva"], "ECAB").await;
    let n = in_plan_and_design(&app, &c, "emergency").await;
    c.get(&format!("/releases/{n}"))
        .await
        .assert_contains("ECAB approval to leave Plan and Design")
        .assert_contains("One must approve");
    vote(&app, &cab[0], &n, "approve", "")
        .await
        .assert_status(403);
    vote(&app, &ecab[1], &n, "approve", "Go")
        .await
        .assert_status(303);
    assert_eq!(status(&app), "approved");
    assert_eq!(advance_status(&app, &c, &n).await, 303);
}

#[tokio::test]
async fn a_delegates_vote_is_logged_as_by_the_delegate_for_the_delegator() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let cab = approvers(&app, &["ann"], "CAB").await;
    // Dan is an approver but not in the CAB: he votes only for Ann.
    let dan_id = app.user("dan", &[Role::Approver], &[]);
    let dan = app.client();
    dan.login("dan", PASSWORD).await;
    let today = chrono::Utc::now().date_naive().to_string();
    cab[0]
        .post(
            "/account/delegations",
            &[
                ("delegate", &dan_id.to_string()),
                ("from", &today),
                ("to", &today),
            ],
        )
        .await
        .assert_redirect_to("/account/delegations");
    let n = in_plan_and_design(&app, &c, "minor").await;
    dan.get("/approvals")
        .await
        .assert_contains(&n)
        .assert_contains("ann (test) (delegated to you)");
    let ann_id: i64 = relman::schema::users::table
        .filter(relman::schema::users::username.eq("ann"))
        .select(relman::schema::users::id)
        .first(&mut app.conn())
        .unwrap();
    let (id, cycle) = live_approval(&app, &n);
    // Voting as himself is refused: he is not in the group.
    dan.post(
        &format!("/approvals/{id}/decision"),
        &[("decision", "approve"), ("cycle", &cycle.to_string())],
    )
    .await
    .assert_status(403);
    dan.post(
        &format!("/approvals/{id}/decision"),
        &[
            ("decision", "approve"),
            ("cycle", &cycle.to_string()),
            ("on_behalf_of", &ann_id.to_string()),
        ],
    )
    .await
    .assert_status(303);
    assert_eq!(status(&app), "approved");
    let (voter, cast_by): (i64, i64) = approval_votes::table
        .select((approval_votes::voter_id, approval_votes::cast_by))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!((voter, cast_by), (ann_id, dan_id));
    c.get(&format!("/releases/{n}"))
        .await
        .assert_contains("dan (test) for ann (test)");
}

#[tokio::test]
async fn delegation_never_lets_anyone_vote_on_a_release_they_are_excluded_from() {
    let app = TestApp::spawn().await;
    // The coordinator is an approver too and holds Ann's delegation.
    let cora_id = app.user("cora", &[Role::Coordinator, Role::Approver], &[]);
    let c = app.client();
    c.login("cora", PASSWORD).await;
    let cab = approvers(&app, &["ann"], "CAB").await;
    let today = chrono::Utc::now().date_naive().to_string();
    cab[0]
        .post(
            "/account/delegations",
            &[
                ("delegate", &cora_id.to_string()),
                ("from", &today),
                ("to", &today),
            ],
        )
        .await
        .assert_status(303);
    let n = in_plan_and_design(&app, &c, "minor").await;
    let ann_id: i64 = relman::schema::users::table
        .filter(relman::schema::users::username.eq("ann"))
        .select(relman::schema::users::id)
        .first(&mut app.conn())
        .unwrap();
    let (id, cycle) = live_approval(&app, &n);
    c.post(
        &format!("/approvals/{id}/decision"),
        &[
            ("decision", "approve"),
            ("cycle", &cycle.to_string()),
            ("on_behalf_of", &ann_id.to_string()),
        ],
    )
    .await
    .assert_status(403);
    assert_eq!(status(&app), "pending");
}

#[tokio::test]
async fn twenty_concurrent_votes_count_once_each_and_the_outcome_is_recorded_once() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let names: Vec<String> = (1..=20).map(|i| format!("cab{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let cab = approvers(&app, &refs, "CAB").await;
    set_plan_rule(&app, "quorum", None);
    let n = in_plan_and_design(&app, &c, "minor").await;
    let (id, cycle) = live_approval(&app, &n);
    let path = format!("/approvals/{id}/decision");
    let cycle = cycle.to_string();
    // Every voter submits twice, all at once.
    let mut tokens = Vec::new();
    for v in &cab {
        tokens.push(v.csrf().await);
    }
    let posts = cab.iter().zip(&tokens).flat_map(|(v, t)| {
        let form = [
            ("csrf_token", t.as_str()),
            ("decision", "approve"),
            ("cycle", cycle.as_str()),
        ];
        let body = serde_html_form::to_string(form).unwrap();
        let url = format!("{}{}", v.base, path);
        (0..2).map(move |_| {
            v.http
                .post(url.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
        })
    });
    let results = futures_util::future::join_all(posts).await;
    assert!(results
        .iter()
        .all(|r| r.as_ref().is_ok_and(|r| r.status().as_u16() == 303)));
    let voters: Vec<i64> = approval_votes::table
        .select(approval_votes::voter_id)
        .load(&mut app.conn())
        .unwrap();
    let mut distinct = voters.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        voters.len(),
        distinct.len(),
        "every counted vote is a different voter"
    );
    assert_eq!(
        voters.len(),
        11,
        "more than half of 20, then the round was decided"
    );
    let outcomes: i64 = approval_log::table
        .filter(approval_log::action.eq("approved"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(outcomes, 1);
    assert_eq!(status(&app), "approved");
}

#[tokio::test]
async fn the_inbox_lists_what_waits_and_votes_in_one_click() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let cab = approvers(&app, &["ann", "ben"], "CAB").await;
    let n = in_plan_and_design(&app, &c, "minor").await;
    let inbox = cab[0].get("/approvals").await;
    inbox
        .assert_status(200)
        .assert_contains(&n)
        .assert_contains("Billing 4.2")
        .assert_contains("Minor")
        .assert_contains("All must approve");
    inbox.assert_contains("Approvals <span class=\"count\">1");
    let (id, cycle) = live_approval(&app, &n);
    cab[0]
        .post(
            &format!("/approvals/{id}/decision"),
            &[
                ("decision", "approve"),
                ("cycle", &cycle.to_string()),
                ("return_to", "/approvals"),
            ],
        )
        .await
        .assert_redirect_to("/approvals");
    let after = cab[0].get("/approvals").await;
    after
        .assert_contains("Nothing waits for your decision")
        .assert_contains("Your recent decisions")
        .assert_contains("Approved");
    // Non-approvers have no inbox entries and no vote.
    c.get("/approvals")
        .await
        .assert_contains("You are not a release approver");
}

#[tokio::test]
async fn joining_the_group_a_task_is_assigned_to_voids_an_earlier_approval() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let admin = app.signed_in("ivan", &[Role::Admin]).await;
    let cab = approvers(&app, &["ann", "ben"], "CAB").await;
    set_plan_rule(&app, "one", None);
    let ops = {
        use relman::schema::groups;
        diesel::insert_into(groups::table)
            .values((
                groups::name.eq("Operations"),
                groups::description.eq("Runs the services"),
            ))
            .returning(groups::id)
            .get_result::<i64>(&mut app.conn())
            .unwrap()
    };
    let n = in_plan_and_design(&app, &c, "minor").await;
    c.post(
        &format!("/releases/{n}/tasks"),
        &[
            ("title", "Prepare the servers"),
            ("group", &ops.to_string()),
        ],
    )
    .await
    .assert_status(303);
    vote(&app, &cab[0], &n, "approve", "")
        .await
        .assert_status(303);
    assert_eq!(status(&app), "approved");
    let ann: i64 = {
        use relman::schema::users;
        users::table
            .filter(users::username.eq("ann"))
            .select(users::id)
            .first(&mut app.conn())
            .unwrap()
    };
    admin
        .post(
            &format!("/admin/groups/{ops}/members"),
            &[("user_id", &ann.to_string())],
        )
        .await
        .assert_status(303);
    assert_eq!(status(&app), "pending", "the round is read again");
    c.get(&format!("/releases/{n}")).await.assert_contains(
        "ann (test): this approval no longer counts: its voter became a member of a group one of its tasks is assigned to.",
    );
    assert_eq!(advance_status(&app, &c, &n).await, 422);
    vote(&app, &cab[1], &n, "approve", "")
        .await
        .assert_status(303);
    let task: i64 = relman::schema::tasks::table
        .select(relman::schema::tasks::id)
        .first(&mut app.conn())
        .unwrap();
    c.post(
        &format!("/tasks/{task}"),
        &[("action", "cancel"), ("version", "1")],
    )
    .await
    .assert_status(303);
    assert_eq!(advance_status(&app, &c, &n).await, 303);
}
