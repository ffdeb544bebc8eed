//! Signing in and out, throttling, CSRF, sessions, password changes, access for anonymous users.
use diesel::prelude::*;
use relman::domain::roles::Role;
use relman::schema::{login_events, users};

use crate::support::{TestApp, PASSWORD};

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in_and_healthz_answers() {
    let app = TestApp::spawn().await;
    let c = app.client();
    c.get("/").await.assert_redirect_to("/login");
    c.get("/releases")
        .await
        .assert_redirect_to("/login?next=/releases");
    c.get("/admin/users")
        .await
        .assert_redirect_to("/login?next=/admin/users");
    let login = c.get("/login").await;
    login
        .assert_status(200)
        .assert_contains("Sign in to Relman");
    let health = c.get("/healthz").await;
    health.assert_status(200);
    assert_eq!(health.body, "ok");
}

#[tokio::test]
async fn sign_in_sign_out_and_the_same_message_for_unknown_names_and_wrong_passwords() {
    let app = TestApp::spawn().await;
    app.user("carol", &[Role::Coordinator], &[]);
    let c = app.client();
    let wrong = c.login("carol", "not the password at all").await;
    wrong
        .assert_status(422)
        .assert_contains("The user name or password is not correct.");
    let unknown = c.login("nobody", "not the password at all").await;
    unknown
        .assert_status(422)
        .assert_contains("The user name or password is not correct.");
    assert_eq!(
        strip_tokens(&wrong.body),
        strip_tokens(&unknown.body).replace("nobody", "carol")
    );

    c.login("carol", PASSWORD).await.assert_redirect_to("/");
    c.get("/")
        .await
        .assert_status(200)
        .assert_contains("Welcome, carol (test)")
        .assert_contains("Release Coordinator");
    c.post("/logout", &[]).await.assert_redirect_to("/login");
    c.get("/").await.assert_redirect_to("/login");

    let mut conn = app.conn();
    let outcomes: Vec<(String, String)> = login_events::table
        .order(login_events::id)
        .select((login_events::username, login_events::outcome))
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        outcomes,
        vec![
            ("carol".into(), "failure".into()),
            ("nobody".into(), "failure".into()),
            ("carol".into(), "success".into())
        ]
    );
}

fn strip_tokens(body: &str) -> String {
    body.lines()
        .filter(|l| !l.contains("csrf_token"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn sign_in_returns_to_the_page_asked_for_but_never_off_site() {
    let app = TestApp::spawn().await;
    app.user("dora", &[Role::Manager], &[]);
    let c = app.client();
    let token = c.get("/login?next=/releases").await.csrf().unwrap();
    c.post_raw(
        "/login",
        &[
            ("csrf_token", &token),
            ("username", "dora"),
            ("password", PASSWORD),
            ("next", "/releases"),
        ],
    )
    .await
    .assert_redirect_to("/releases");
    let c2 = app.client();
    let token = c2.get("/login").await.csrf().unwrap();
    c2.post_raw(
        "/login",
        &[
            ("csrf_token", &token),
            ("username", "dora"),
            ("password", PASSWORD),
            ("next", "//evil.example/"),
        ],
    )
    .await
    .assert_redirect_to("/");
}

#[tokio::test]
async fn five_wrong_passwords_lock_this_address_out_of_the_account_and_the_right_one_is_refused_here(
) {
    // (From other addresses the account still opens, after a short wait: `hardening`.)
    let app = TestApp::spawn().await;
    app.user("eve", &[Role::Approver], &[]);
    let c = app.client();
    for i in 1..=4 {
        c.login("eve", "wrong password number")
            .await
            .assert_status(422)
            .assert_contains("not correct");
        assert!(i < 5);
    }
    c.login("eve", "wrong password number")
        .await
        .assert_status(422)
        .assert_contains("locked: try again in 15 minutes");
    let refused = c.login("eve", PASSWORD).await;
    refused.assert_status(422).assert_contains("locked");
    c.get("/").await.assert_redirect_to("/login");

    // An unknown name is throttled exactly the same way, so locking reveals nothing.
    for _ in 0..5 {
        c.login("ghost", "wrong password number").await;
    }
    c.login("ghost", "wrong password number")
        .await
        .assert_contains("locked");

    // When the lock has passed, the right password works again.
    let mut conn = app.conn();
    diesel::sql_query("UPDATE login_events SET at = at - interval '16 minutes'")
        .execute(&mut conn)
        .unwrap();
    c.login("eve", PASSWORD).await.assert_redirect_to("/");
    let locked: i64 = login_events::table
        .filter(login_events::username.eq("eve"))
        .filter(login_events::outcome.eq("locked"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(
        locked, 1,
        "the refused attempt during the lock is recorded as such"
    );
}

#[tokio::test]
async fn a_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("fred", &[Role::Coordinator]).await;
    let before: String = users::table
        .filter(users::username.eq("fred"))
        .select(users::password_hash)
        .first(&mut app.conn())
        .unwrap();
    let form = [
        ("current", PASSWORD),
        ("new_password", "a brand new password"),
        ("confirm", "a brand new password"),
    ];
    c.post_raw("/account/password", &form)
        .await
        .assert_status(403)
        .assert_contains("nothing was changed");
    let mut wrong = vec![("csrf_token", "forged-token")];
    wrong.extend_from_slice(&form);
    c.post_raw("/account/password", &wrong)
        .await
        .assert_status(403);
    let after: String = users::table
        .filter(users::username.eq("fred"))
        .select(users::password_hash)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(before, after);
    // The login form is protected too.
    app.client()
        .post_raw("/login", &[("username", "fred"), ("password", PASSWORD)])
        .await
        .assert_status(403);
}

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_ends_the_others() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("gina", &[Role::Manager]).await;
    let other = app.client();
    other.login("gina", PASSWORD).await.assert_redirect_to("/");

    let short = c
        .post(
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new_password", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    short
        .assert_status(422)
        .assert_contains("at least 12 characters");
    let wrong = c
        .post(
            "/account/password",
            &[
                ("current", "not my password"),
                ("new_password", "another good password"),
                ("confirm", "another good password"),
            ],
        )
        .await;
    wrong
        .assert_status(422)
        .assert_contains("current password is not correct");

    c.post(
        "/account/password",
        &[
            ("current", PASSWORD),
            ("new_password", "another good password"),
            ("confirm", "another good password"),
        ],
    )
    .await
    .assert_redirect_to("/");
    c.get("/")
        .await
        .assert_status(200)
        .assert_contains("Your password was changed.");
    other.get("/").await.assert_redirect_to("/login");
    app.client()
        .login("gina", PASSWORD)
        .await
        .assert_status(422);
    app.client()
        .login("gina", "another good password")
        .await
        .assert_redirect_to("/");
}

#[tokio::test]
async fn a_deactivated_users_session_stops_working_on_the_next_request() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("hank", &[Role::Coordinator]).await;
    c.get("/").await.assert_status(200);
    diesel::update(users::table.filter(users::username.eq("hank")))
        .set(users::active.eq(false))
        .execute(&mut app.conn())
        .unwrap();
    c.get("/").await.assert_redirect_to("/login");
    app.client()
        .login("hank", PASSWORD)
        .await
        .assert_status(422);
}

#[tokio::test]
async fn responses_carry_security_headers_and_a_safe_session_cookie() {
    let app = TestApp::spawn().await;
    let r = reqwest::get(format!("{}/login", app.base)).await.unwrap();
    let h = r.headers();
    let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'")
            && csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline")
    );
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
    assert!(h.get("referrer-policy").is_some());
    let cookie = h.get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "not Secure unless RELMAN_COOKIE_SECURE"
    );
}

#[tokio::test]
async fn unknown_pages_get_the_404_page_without_internal_text() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("ivy", &[]).await;
    c.get("/no/such/page")
        .await
        .assert_status(404)
        .assert_contains("Not found");
    c.get("/").await.assert_contains("You hold no role yet");
}
