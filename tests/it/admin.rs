//! Administration of users and groups: only administrators, every form validated with its
//! input kept, changes effective on the affected user's very next request, no self-lock-out.
use relman::domain::roles::Role;
use relman::models::{groups, users};

use crate::support::{TestApp, PASSWORD};

const NEW_PASSWORD: &str = "a brand new passphrase";

fn user_named(app: &TestApp, name: &str) -> Option<users::User> {
    users::find_by_username(&mut app.conn(), name).unwrap()
}

fn group_id(app: &TestApp, name: &str) -> i64 {
    groups::all(&mut app.conn())
        .unwrap()
        .into_iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("no group {name}"))
        .id
}

fn group_names_of(app: &TestApp, user_id: i64) -> Vec<String> {
    let mut conn = app.conn();
    let ids = groups::of_user(&mut conn, user_id).unwrap();
    let mut names: Vec<String> = groups::all(&mut conn)
        .unwrap()
        .into_iter()
        .filter(|g| ids.contains(&g.id))
        .map(|g| g.name)
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn an_admin_creates_a_user_who_can_then_sign_in_and_sees_them_listed() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in("ada", &[Role::Admin]).await;
    let cab = group_id(&app, "CAB").to_string();

    let form = admin.get("/admin/users/new").await;
    form.assert_status(200)
        .assert_contains("New user")
        .assert_contains(r#"name="role" value="coordinator""#)
        .assert_contains(">CAB</label>");

    admin
        .post(
            "/admin/users/new",
            &[
                ("username", "bob"),
                ("display_name", "Bob Builder"),
                ("email", "bob@example.org"),
                ("password", NEW_PASSWORD),
                ("role", "coordinator"),
                ("role", "approver"),
                ("group", &cab),
            ],
        )
        .await
        .assert_redirect_to("/admin/users");

    let bob = user_named(&app, "bob").expect("bob was created");
    assert_eq!(bob.display_name, "Bob Builder");
    assert_eq!(bob.email.as_deref(), Some("bob@example.org"));
    assert_eq!(bob.roles, vec!["coordinator", "approver"]);
    assert!(bob.active);
    assert_eq!(group_names_of(&app, bob.id), vec!["CAB"]);

    let list = admin.get("/admin/users").await;
    list.assert_status(200)
        .assert_contains("The account bob was created.")
        .assert_contains(&format!(r#"<a href="/admin/users/{}">bob</a>"#, bob.id))
        .assert_contains("Bob Builder")
        .assert_contains("bob@example.org")
        .assert_contains("Release Coordinator, Release Approver")
        .assert_contains("<td>CAB</td>")
        .assert_contains("Active");

    let c = app.client();
    c.login("bob", NEW_PASSWORD).await.assert_redirect_to("/");
    c.get("/")
        .await
        .assert_status(200)
        .assert_contains("Welcome, Bob Builder");
}

#[tokio::test]
async fn a_short_password_is_refused_with_its_message_and_the_typed_input_kept() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in("ada", &[Role::Admin]).await;
    let page = admin
        .post(
            "/admin/users/new",
            &[
                ("username", "bob"),
                ("display_name", "Bob Builder"),
                ("password", "short"),
                ("role", "manager"),
            ],
        )
        .await;
    page.assert_status(422)
        .assert_contains("There is a problem")
        .assert_contains(
            r##"<a href="#f-password">The password must be at least 12 characters long.</a>"##,
        )
        .assert_contains(r#"id="e-password""#)
        .assert_contains(r#"value="bob""#)
        .assert_contains(r#"value="Bob Builder""#)
        .assert_contains(r#"value="manager" checked"#)
        .assert_lacks(r#"value="short""#);
    assert!(user_named(&app, "bob").is_none(), "nothing was created");
}

#[tokio::test]
async fn the_new_user_form_refuses_bad_names_e_mails_unknown_roles_and_taken_names() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in("ada", &[Role::Admin]).await;
    let page = admin
        .post(
            "/admin/users/new",
            &[
                ("username", "Bob Smith"),
                ("email", "not-an-address"),
                ("password", NEW_PASSWORD),
                ("role", "root"),
            ],
        )
        .await;
    page.assert_status(422)
        .assert_contains("Use lower-case letters, digits, dots, dashes and underscores")
        .assert_contains("Enter an e-mail address like name@example.org.")
        .assert_contains("is not a role. Choose from the roles listed.")
        .assert_contains(r#"value="Bob Smith""#)
        .assert_contains(r#"value="not-an-address""#);
    let page = admin
        .post(
            "/admin/users/new",
            &[("username", "ada"), ("password", NEW_PASSWORD)],
        )
        .await;
    page.assert_status(422)
        .assert_contains("The user name ada is already taken.");
    let page = admin
        .post(
            "/admin/users/new",
            &[
                ("username", "bob"),
                ("password", NEW_PASSWORD),
                ("group", "999999"),
            ],
        )
        .await;
    page.assert_status(422)
        .assert_contains("One of the chosen groups does not exist");
    assert_eq!(
        users::all(&mut app.conn()).unwrap().len(),
        1,
        "only ada exists"
    );
}

#[tokio::test]
async fn non_admins_are_refused_every_admin_page_and_action_and_anonymous_visitors_sent_to_sign_in()
{
    let app = TestApp::spawn().await;
    let target = app.user("tina", &[Role::Approver], &["CAB"]);
    let cab = group_id(&app, "CAB");
    let manager = app
        .signed_in("mona", &[Role::Manager, Role::Coordinator, Role::Approver])
        .await;

    let gets = [
        "/admin/users".to_string(),
        "/admin/users/sign-ins".to_string(),
        "/admin/users/new".to_string(),
        format!("/admin/users/{target}"),
        format!("/admin/users/{target}/deactivate"),
        "/admin/groups".to_string(),
        format!("/admin/groups/{cab}"),
        format!("/admin/groups/{cab}/members/{target}/remove"),
    ];
    for path in &gets {
        manager
            .get(path)
            .await
            .assert_status(403)
            .assert_contains("Only administrators");
    }
    let t = target.to_string();
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/admin/users/new".into(),
            vec![
                ("username", "mallory"),
                ("password", NEW_PASSWORD),
                ("role", "admin"),
            ],
        ),
        (
            format!("/admin/users/{target}"),
            vec![("display_name", "Hacked"), ("role", "admin")],
        ),
        (
            format!("/admin/users/{target}/password"),
            vec![("new_password", NEW_PASSWORD)],
        ),
        (format!("/admin/users/{target}/deactivate"), vec![]),
        (format!("/admin/users/{target}/reactivate"), vec![]),
        ("/admin/groups".into(), vec![("name", "Shadow CAB")]),
        (
            format!("/admin/groups/{cab}/members"),
            vec![("user_id", &t)],
        ),
        (
            format!("/admin/groups/{cab}/members/{target}/remove"),
            vec![],
        ),
    ];
    for (path, fields) in &posts {
        manager.post(path, fields).await.assert_status(403);
    }
    // Nothing changed.
    assert!(user_named(&app, "mallory").is_none());
    let tina = users::find(&mut app.conn(), target).unwrap();
    assert_eq!(tina.display_name, "tina (test)");
    assert_eq!(tina.roles, vec!["approver"]);
    assert!(tina.active);
    assert_eq!(group_names_of(&app, target), vec!["CAB"]);
    assert!(!groups::all(&mut app.conn())
        .unwrap()
        .iter()
        .any(|g| g.name == "Shadow CAB"));
    let c = app.client();
    c.login("tina", PASSWORD).await.assert_redirect_to("/");

    let anonymous = app.client();
    for path in &gets {
        anonymous
            .get(path)
            .await
            .assert_redirect_to(&format!("/login?next={path}"));
    }
    for (path, fields) in &posts {
        anonymous
            .post(path, fields)
            .await
            .assert_redirect_to("/login");
    }
    assert!(user_named(&app, "mallory").is_none());
}

#[tokio::test]
async fn editing_details_roles_and_groups_takes_effect_on_the_users_next_request() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in("ada", &[Role::Admin]).await;
    let carol = app.signed_in("carol", &[Role::Coordinator]).await;
    let id = user_named(&app, "carol").unwrap().id;
    let (cab, ecab) = (
        group_id(&app, "CAB").to_string(),
        group_id(&app, "ECAB").to_string(),
    );
    carol.get("/admin/users").await.assert_status(403);

    let form = admin.get(&format!("/admin/users/{id}")).await;
    form.assert_status(200)
        .assert_contains("User carol")
        .assert_contains(r#"value="carol (test)""#)
        .assert_contains(r#"value="coordinator" checked"#);

    admin
        .post(
            &format!("/admin/users/{id}"),
            &[
                ("display_name", "Carol Jones"),
                ("email", "carol@example.org"),
                ("role", "admin"),
                ("role", "approver"),
                ("group", &cab),
                ("group", &ecab),
            ],
        )
        .await
        .assert_redirect_to("/admin/users");
    let u = users::find(&mut app.conn(), id).unwrap();
    assert_eq!(
        (u.display_name.as_str(), u.email.as_deref()),
        ("Carol Jones", Some("carol@example.org"))
    );
    assert_eq!(u.roles, vec!["approver", "admin"]);
    assert_eq!(group_names_of(&app, id), vec!["CAB", "ECAB"]);
    // Carol's existing session sees her new role at once.
    carol
        .get("/admin/users")
        .await
        .assert_status(200)
        .assert_contains("Carol Jones");

    // Unchecking every box removes every role and group; a display name is required on edit.
    admin
        .post(
            &format!("/admin/users/{id}"),
            &[("display_name", "Carol Jones")],
        )
        .await
        .assert_redirect_to("/admin/users");
    assert!(users::find(&mut app.conn(), id).unwrap().roles.is_empty());
    assert!(group_names_of(&app, id).is_empty());
    carol.get("/admin/users").await.assert_status(403);

    let page = admin
        .post(
            &format!("/admin/users/{id}"),
            &[
                ("display_name", "  "),
                ("email", "carol@"),
                ("role", "manager"),
            ],
        )
        .await;
    page.assert_status(422)
        .assert_contains("Enter a display name.")
        .assert_contains("Enter an e-mail address like name@example.org.")
        .assert_contains(r#"value="carol@""#)
        .assert_contains(r#"value="manager" checked"#);
    assert_eq!(
        users::find(&mut app.conn(), id).unwrap().display_name,
        "Carol Jones"
    );

    admin.get("/admin/users/999999").await.assert_status(404);
    admin
        .post("/admin/users/999999", &[("display_name", "X")])
        .await
        .assert_status(404);
}

#[tokio::test]
async fn deactivating_after_confirmation_ends_the_users_session_and_reactivating_lets_them_back() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in("ada", &[Role::Admin]).await;
    let dave = app.signed_in("dave", &[Role::Coordinator]).await;
    let id = user_named(&app, "dave").unwrap().id;

    admin
        .get(&format!("/admin/users/{id}"))
        .await
        .assert_contains(&format!(r#"href="/admin/users/{id}/deactivate""#));
    let confirm = admin.get(&format!("/admin/users/{id}/deactivate")).await;
    confirm
        .assert_status(200)
        .assert_contains("Deactivate dave?")
        .assert_contains(&format!(r#"action="/admin/users/{id}/deactivate""#))
        .assert_contains(&format!(r#"href="/admin/users/{id}">Cancel</a>"#));
    assert!(
        users::find(&mut app.conn(), id).unwrap().active,
        "the confirmation page changes nothing"
    );
    dave.get("/").await.assert_status(200);

    admin
        .post(&format!("/admin/users/{id}/deactivate"), &[])
        .await
        .assert_redirect_to(&format!("/admin/users/{id}"));
    assert!(!users::find(&mut app.conn(), id).unwrap().active);
    dave.get("/").await.assert_redirect_to("/login");
    app.client()
        .login("dave", PASSWORD)
        .await
        .assert_status(422);
    admin
        .get(&format!("/admin/users/{id}"))
        .await
        .assert_contains("dave was deactivated.")
        .assert_contains("The account is <strong>deactivated</strong>")
        .assert_contains(&format!(r#"action="/admin/users/{id}/reactivate""#));
    admin
        .get("/admin/users")
        .await
        .assert_contains(r#"<span class="badge inactive">Inactive</span>"#);

    admin
        .post(&format!("/admin/users/{id}/reactivate"), &[])
        .await
        .assert_redirect_to(&format!("/admin/users/{id}"));
    assert!(users::find(&mut app.conn(), id).unwrap().active);
    app.client()
        .login("dave", PASSWORD)
        .await
        .assert_redirect_to("/");
}

#[tokio::test]
async fn an_admin_cannot_remove_their_own_admin_role_nor_deactivate_themselves() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in("ada", &[Role::Admin, Role::Manager]).await;
    let id = user_named(&app, "ada").unwrap().id;

    let page = admin
        .post(
            &format!("/admin/users/{id}"),
            &[("display_name", "Ada L."), ("role", "manager")],
        )
        .await;
    page.assert_status(422)
        .assert_contains("You cannot remove your own administrator role.")
        .assert_contains(r#"value="Ada L.""#);
    let page = admin
        .post(&format!("/admin/users/{id}/deactivate"), &[])
        .await;
    page.assert_status(422)
        .assert_contains("You cannot deactivate your own account.");
    admin
        .get(&format!("/admin/users/{id}/deactivate"))
        .await
        .assert_redirect_to(&format!("/admin/users/{id}"));
    admin
        .get(&format!("/admin/users/{id}"))
        .await
        .assert_contains("You cannot deactivate your own account.")
        .assert_lacks(&format!(r#"href="/admin/users/{id}/deactivate""#));

    let ada = users::find(&mut app.conn(), id).unwrap();
    assert_eq!(ada.display_name, "ada (test)");
    assert_eq!(ada.roles, vec!["manager", "admin"]);
    assert!(ada.active);
    admin.get("/admin/users").await.assert_status(200);

    // Keeping the admin role, the rest of one's own account can be edited.
    admin
        .post(
            &format!("/admin/users/{id}"),
            &[("display_name", "Ada L."), ("role", "admin")],
        )
        .await
        .assert_redirect_to("/admin/users");
    assert_eq!(
        users::find(&mut app.conn(), id).unwrap().roles,
        vec!["admin"]
    );
}

#[tokio::test]
async fn resetting_a_password_makes_the_old_one_fail_the_new_one_work_and_ends_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in("ada", &[Role::Admin]).await;
    let erin = app.signed_in("erin", &[Role::Approver]).await;
    let id = user_named(&app, "erin").unwrap().id;

    let page = admin
        .post(
            &format!("/admin/users/{id}/password"),
            &[("new_password", "too short")],
        )
        .await;
    page.assert_status(422)
        .assert_contains(
            r##"<a href="#f-new_password">The password must be at least 12 characters long.</a>"##,
        )
        .assert_contains(r#"id="e-new_password""#);
    erin.get("/").await.assert_status(200);

    admin
        .post(
            &format!("/admin/users/{id}/password"),
            &[("new_password", NEW_PASSWORD)],
        )
        .await
        .assert_redirect_to(&format!("/admin/users/{id}"));
    admin
        .get(&format!("/admin/users/{id}"))
        .await
        .assert_contains("The password of erin was reset.");
    erin.get("/").await.assert_redirect_to("/login");
    app.client()
        .login("erin", PASSWORD)
        .await
        .assert_status(422);
    app.client()
        .login("erin", NEW_PASSWORD)
        .await
        .assert_redirect_to("/");

    // An administrator resetting their own password stays signed in.
    let me = user_named(&app, "ada").unwrap().id;
    admin
        .post(
            &format!("/admin/users/{me}/password"),
            &[("new_password", NEW_PASSWORD)],
        )
        .await
        .assert_redirect_to(&format!("/admin/users/{me}"));
    admin.get("/admin/users").await.assert_status(200);
}

#[tokio::test]
async fn the_sign_in_log_shows_recent_attempts_to_administrators() {
    let app = TestApp::spawn().await;
    app.user("gail", &[Role::Coordinator], &[]);
    app.client()
        .login("gail", "not the right password")
        .await
        .assert_status(422);
    let admin = app.signed_in("ada", &[Role::Admin]).await;
    for path in ["/admin/users", "/admin/users/sign-ins"] {
        admin
            .get(path)
            .await
            .assert_status(200)
            .assert_contains("<td>gail</td><td>Failed: wrong name or password</td>")
            .assert_contains("<td>ada</td><td>Signed in</td>");
    }
}

#[tokio::test]
async fn groups_are_created_and_members_added_and_removed_after_confirmation() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in("ada", &[Role::Admin]).await;
    let frank = app.user("frank", &[Role::Approver], &[]);

    let list = admin.get("/admin/groups").await;
    list.assert_status(200)
        .assert_contains(">CAB</a>")
        .assert_contains("New group");

    let created = admin
        .post(
            "/admin/groups",
            &[
                ("name", "  Network CAB "),
                ("description", "Approves network changes"),
            ],
        )
        .await;
    let gid = group_id(&app, "Network CAB");
    created.assert_redirect_to(&format!("/admin/groups/{gid}"));
    let page = admin.get(&format!("/admin/groups/{gid}")).await;
    page.assert_status(200)
        .assert_contains("Group Network CAB")
        .assert_contains("Approves network changes")
        .assert_contains("This group has no members yet.")
        .assert_contains(&format!(
            r#"<option value="{frank}">frank (test) (frank)</option>"#
        ));

    let dup = admin
        .post(
            "/admin/groups",
            &[("name", "network cab"), ("description", "Second try")],
        )
        .await;
    dup.assert_status(422)
        .assert_contains("There is already a group named network cab.")
        .assert_contains(r#"value="network cab""#)
        .assert_contains(">Second try</textarea>");
    admin
        .post("/admin/groups", &[("name", "")])
        .await
        .assert_status(422)
        .assert_contains("Enter a group name.");

    let bad = admin
        .post(&format!("/admin/groups/{gid}/members"), &[("user_id", "")])
        .await;
    bad.assert_status(422)
        .assert_contains("Choose a user from the list.");
    admin
        .post(
            &format!("/admin/groups/{gid}/members"),
            &[("user_id", &frank.to_string())],
        )
        .await
        .assert_redirect_to(&format!("/admin/groups/{gid}"));
    assert_eq!(group_names_of(&app, frank), vec!["Network CAB"]);
    admin
        .get(&format!("/admin/groups/{gid}"))
        .await
        .assert_contains("frank (test) is a member of Network CAB.")
        .assert_contains("<td>frank</td>")
        .assert_contains(&format!(
            r#"href="/admin/groups/{gid}/members/{frank}/remove""#
        ));
    admin
        .get("/admin/groups")
        .await
        .assert_contains("<td>1</td>");

    let confirm = admin
        .get(&format!("/admin/groups/{gid}/members/{frank}/remove"))
        .await;
    confirm
        .assert_status(200)
        .assert_contains("Remove frank (test) from Network CAB?")
        .assert_contains(&format!(
            r#"action="/admin/groups/{gid}/members/{frank}/remove""#
        ))
        .assert_contains(&format!(r#"href="/admin/groups/{gid}">Cancel</a>"#));
    assert_eq!(
        group_names_of(&app, frank),
        vec!["Network CAB"],
        "the confirmation page changes nothing"
    );

    admin
        .post(&format!("/admin/groups/{gid}/members/{frank}/remove"), &[])
        .await
        .assert_redirect_to(&format!("/admin/groups/{gid}"));
    assert!(group_names_of(&app, frank).is_empty());
    admin
        .get(&format!("/admin/groups/{gid}"))
        .await
        .assert_contains("frank (test) was removed from Network CAB.");
    admin
        .get(&format!("/admin/groups/{gid}/members/{frank}/remove"))
        .await
        .assert_status(404);
    admin.get("/admin/groups/999999").await.assert_status(404);
}
