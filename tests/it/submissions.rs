//! Double submission (issue 23 item 6) for the create forms beyond "Register" and "Add task"
//! (those are in `bypass`): each form carries a one-time key; sent twice at once and once more,
//! it creates one record and every answer leads to it; a refused form keeps its key.
use diesel::prelude::*;
use relman::domain::roles::Role;
use relman::schema::{
    admin_audit, blackouts, delegations, groups, knowledge_articles, phases, release_details,
    transitions, users, workflows,
};

use crate::support::{Client, Page, TestApp};

/// The submission key of the form on `page` whose action starts with `action` (end it with
/// `"` for an exact match).
fn key_of(page: &Page, action: &str) -> String {
    let at = page
        .body
        .find(&format!("action=\"{action}"))
        .unwrap_or_else(|| panic!("no form to {action}:\n{}", page.body));
    let form = &page.body[at..];
    let form = &form[..form.find("</form>").expect("the form ends")];
    let marker = "name=\"submission_key\" value=\"";
    let k = form
        .find(marker)
        .unwrap_or_else(|| panic!("the form to {action} carries no submission key"))
        + marker.len();
    let key = form[k..].split('"').next().unwrap().to_string();
    assert_eq!(key.len(), 32, "a fresh key: {key:?}");
    key
}

/// Send a form as a browser whose user clicks twice and then reloads: twice at once, then once
/// more. Every answer is a 303; their places.
async fn send_thrice(c: &Client, path: &str, fields: &[(&str, &str)]) -> Vec<String> {
    let token = c.csrf().await;
    let mut all = vec![("csrf_token", token.as_str())];
    all.extend_from_slice(fields);
    let body = serde_html_form::to_string(&all).unwrap();
    let send = || {
        c.http
            .post(format!("{}{path}", c.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
    };
    let (a, b) = tokio::join!(send(), send());
    let third = send().await.unwrap();
    [a.unwrap(), b.unwrap(), third]
        .iter()
        .map(|r| {
            assert_eq!(r.status().as_u16(), 303, "{path} answered {}", r.status());
            r.headers()["location"].to_str().unwrap().to_string()
        })
        .collect()
}

#[track_caller]
fn all_to(places: &[String], to: &str) {
    assert_eq!(
        places,
        vec![to.to_string(); places.len()],
        "every answer leads to {to}"
    );
}

#[tokio::test]
async fn a_new_blackout_sent_three_times_is_created_once_and_audited_once() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mona", &[Role::Manager]).await;
    let key = key_of(&m.get("/admin/blackouts").await, "/admin/blackouts");
    let form = [
        ("submission_key", key.as_str()),
        ("name", "Year-end freeze"),
        ("starts_at", "2027-12-20T00:00"),
        ("ends_at", "2028-01-02T00:00"),
        ("category", ""),
    ];
    all_to(
        &send_thrice(&m, "/admin/blackouts", &form).await,
        "/admin/blackouts",
    );
    let count: i64 = blackouts::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(count, 1);
    m.get("/admin/blackouts")
        .await
        .assert_contains("Year-end freeze")
        .assert_contains("That form was already sent");
    // The administrative audit records the one action, not the repeats that did nothing.
    let audited: i64 = admin_audit::table
        .filter(admin_audit::action.eq("POST /admin/blackouts"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(audited, 1);
    // A fresh form is a new submission.
    let again = key_of(&m.get("/admin/blackouts").await, "/admin/blackouts");
    assert_ne!(again, key);
}

#[tokio::test]
async fn a_delegation_sent_three_times_is_made_once_and_a_refused_form_keeps_its_key() {
    let app = TestApp::spawn().await;
    let a = app.signed_in("ava", &[Role::Approver]).await;
    let abe = app.user("abe", &[Role::Approver], &[]).to_string();
    let key = key_of(&a.get("/account/delegations").await, "/account/delegations");

    // Refused (the last day before the first): 422, the same key in the form again, nothing made.
    let refused = a
        .post(
            "/account/delegations",
            &[
                ("submission_key", key.as_str()),
                ("delegate", abe.as_str()),
                ("from", "2027-03-10"),
                ("to", "2027-03-01"),
            ],
        )
        .await;
    refused
        .assert_status(422)
        .assert_contains("must not be before");
    assert_eq!(key_of(&refused, "/account/delegations"), key);

    let form = [
        ("submission_key", key.as_str()),
        ("delegate", abe.as_str()),
        ("from", "2027-03-01"),
        ("to", "2027-03-10"),
    ];
    all_to(
        &send_thrice(&a, "/account/delegations", &form).await,
        "/account/delegations",
    );
    let count: i64 = delegations::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn lessons_published_three_times_make_one_article_and_every_answer_leads_to_it() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let m = app.signed_in("mona", &[Role::Manager]).await;
    let n = crate::releases::register(&c, "Billing 4.2", "minor", "low", "low").await;
    diesel::update(release_details::table)
        .set(release_details::evaluation.eq("Book the DBA a week ahead."))
        .execute(&mut app.conn())
        .unwrap();
    let publish = format!("/releases/{n}/publish");
    let key = key_of(&m.get(&publish).await, &publish);
    let form = [
        ("submission_key", key.as_str()),
        ("title", "Book the DBA early"),
        ("body", "Book the DBA a week ahead."),
        ("affected_services", "Billing"),
    ];
    let places = send_thrice(&m, &publish, &form).await;
    let id: i64 = knowledge_articles::table
        .select(knowledge_articles::id)
        .get_result(&mut app.conn())
        .expect("exactly one article");
    all_to(&places, &format!("/knowledge/{id}"));
    m.get(&places[0])
        .await
        .assert_contains("Book the DBA early")
        .assert_contains("That form was already sent");
}

#[tokio::test]
async fn a_new_group_or_user_sent_three_times_is_created_once() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in("ada", &[Role::Admin]).await;

    let key = key_of(&admin.get("/admin/groups").await, "/admin/groups");
    let places = send_thrice(
        &admin,
        "/admin/groups",
        &[
            ("submission_key", key.as_str()),
            ("name", "Network team"),
            ("description", "Switches and firewalls"),
        ],
    )
    .await;
    let ids: Vec<i64> = groups::table
        .filter(groups::name.eq("Network team"))
        .select(groups::id)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(ids.len(), 1, "one group");
    all_to(&places, &format!("/admin/groups/{}", ids[0]));

    let key = key_of(&admin.get("/admin/users/new").await, "/admin/users/new");
    let places = send_thrice(
        &admin,
        "/admin/users/new",
        &[
            ("submission_key", key.as_str()),
            ("username", "bob"),
            ("display_name", "Bob Builder"),
            ("email", "bob@example.org"),
            ("password", "a brand new passphrase"),
            ("role", "coordinator"),
        ],
    )
    .await;
    all_to(&places, "/admin/users");
    let bobs: i64 = users::table
        .filter(users::username.eq("bob"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(bobs, 1);
    // Not "the user name bob is already taken": the repeat is told it was sent before.
    admin
        .get("/admin/users")
        .await
        .assert_contains("That form was already sent")
        .assert_lacks("already taken");
}

#[tokio::test]
async fn a_workflow_its_copy_a_phase_and_a_transition_sent_three_times_are_each_added_once() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mona", &[Role::Manager]).await;
    let list = m.get("/admin/workflows").await;
    let (create_key, copy_key) = (
        key_of(&list, "/admin/workflows\""),
        key_of(&list, "/admin/workflows/copy"),
    );
    assert_ne!(create_key, copy_key, "each form its own key");
    let places = send_thrice(
        &m,
        "/admin/workflows",
        &[
            ("submission_key", create_key.as_str()),
            ("name", "Hardware release"),
            ("description", "Servers and network kit"),
            ("record_kind", "release"),
        ],
    )
    .await;
    let wf: i64 = workflows::table
        .filter(workflows::name.eq("Hardware release"))
        .select(workflows::id)
        .get_result(&mut app.conn())
        .expect("one workflow");
    let page = format!("/admin/workflows/{wf}");
    all_to(&places, &page);

    let wf_s = wf.to_string();
    let places = send_thrice(
        &m,
        "/admin/workflows/copy",
        &[
            ("submission_key", copy_key.as_str()),
            ("copy_source", wf_s.as_str()),
            ("copy_name", "Hardware release (copy)"),
        ],
    )
    .await;
    let copy: i64 = workflows::table
        .filter(workflows::name.eq("Hardware release (copy)"))
        .select(workflows::id)
        .get_result(&mut app.conn())
        .expect("one copy");
    all_to(&places, &format!("/admin/workflows/{copy}"));

    // Two phases, each sent three times from its own form.
    let phases_action = format!("{page}/phases");
    for name in ["Order", "Install"] {
        let key = key_of(&m.get(&page).await, &format!("{phases_action}\""));
        let places = send_thrice(
            &m,
            &phases_action,
            &[
                ("submission_key", key.as_str()),
                ("phase_name", name),
                ("phase_description", ""),
                ("phase_duration", "3"),
                ("phase_duration_unit", "days"),
                ("phase_emergency_duration", "6"),
                ("phase_emergency_unit", "hours"),
                ("phase_condition", "always"),
                ("phase_from", ""),
                ("phase_to", ""),
            ],
        )
        .await;
        all_to(&places, &page);
    }
    let ids: Vec<i64> = phases::table
        .filter(phases::workflow_id.eq(wf))
        .order(phases::position)
        .select(phases::id)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(ids.len(), 2, "two phases, not six");

    let transitions_action = format!("{page}/transitions");
    let shown = m.get(&page).await;
    let key = key_of(&shown, &format!("{transitions_action}\""));
    assert_ne!(key, key_of(&shown, &format!("{phases_action}\"")));
    let (from, to) = (ids[0].to_string(), ids[1].to_string());
    let places = send_thrice(
        &m,
        &transitions_action,
        &[
            ("submission_key", key.as_str()),
            ("t_from", from.as_str()),
            ("t_to", to.as_str()),
            ("t_kind", "advance"),
            ("t_label", ""),
            ("t_roles", "coordinator"),
            ("t_outcome", ""),
        ],
    )
    .await;
    all_to(&places, &page);
    let count: i64 = transitions::table
        .filter(transitions::workflow_id.eq(wf))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn a_new_category_or_release_model_sent_three_times_is_created_once() {
    use relman::schema::{categories, release_models};
    let app = TestApp::spawn().await;
    let m = app.signed_in("mona", &[Role::Manager]).await;

    let key = key_of(&m.get("/admin/categories").await, "/admin/categories\"");
    let places = send_thrice(
        &m,
        "/admin/categories",
        &[
            ("submission_key", key.as_str()),
            ("name", "Scratch"),
            ("description", ""),
            ("record_kind", "release"),
            ("workflow_id", "1"),
        ],
    )
    .await;
    all_to(&places, "/admin/categories");
    let count: i64 = categories::table
        .filter(categories::name.eq("Scratch"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(count, 1);

    let key = key_of(&m.get("/admin/models").await, "/admin/models\"");
    let places = send_thrice(
        &m,
        "/admin/models",
        &[
            ("submission_key", key.as_str()),
            ("name", "Mine"),
            ("description", ""),
            ("release_type", "minor"),
            ("category", "1"),
            ("copy_from", ""),
        ],
    )
    .await;
    let id: i64 = release_models::table
        .filter(release_models::name.eq("Mine"))
        .select(release_models::id)
        .get_result(&mut app.conn())
        .expect("one model");
    all_to(&places, &format!("/admin/models/{id}"));
}
