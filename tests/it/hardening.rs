//! What the security scans found, kept found: no open redirect through control characters or
//! backslashes, NUL characters in any input never reach PostgreSQL, signing out ends a copied
//! session cookie, signed-in pages are not cached, wrong current passwords are throttled.
use std::sync::Arc;

use diesel::prelude::*;
use relman::domain::roles::Role;
use relman::schema::{releases, user_sessions};

use crate::releases::register;
use crate::support::{TestApp, PASSWORD};

#[tokio::test]
async fn next_and_return_targets_with_control_characters_or_backslashes_stay_on_site() {
    let app = TestApp::spawn().await;
    app.user("olga", &[Role::Manager], &[]);
    for hostile in [
        "/\t/evil.example",
        "/\\evil.example",
        "/\r\nSet-Cookie: x=1",
        "/\n/evil.example",
        "\\\\evil.example",
    ] {
        let c = app.client();
        let token = c.get("/login").await.csrf().unwrap();
        c.post_raw(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", "olga"),
                ("password", PASSWORD),
                ("next", hostile),
            ],
        )
        .await
        .assert_redirect_to("/");
        // Signed in already: the sign-in page sends on to `next`, which must be refused too.
        let encoded: String = hostile.bytes().map(|b| format!("%{b:02X}")).collect();
        c.get(&format!("/login?next={encoded}"))
            .await
            .assert_redirect_to("/");
    }
}

#[tokio::test]
async fn nul_characters_in_filters_and_forms_are_dropped_not_a_server_error() {
    let app = TestApp::spawn().await;
    let c = app
        .signed_in("nina", &[Role::Manager, Role::Coordinator])
        .await;
    for path in [
        "/releases?q=%00",
        "/releases?type=%00&state=%00",
        "/changes?q=a%00b",
        "/knowledge?q=%00",
        "/releases.csv?q=%00",
        "/tasks?status=%00",
    ] {
        let p = c.get(path).await;
        assert!(p.status < 500, "{path} answered {}:\n{}", p.status, p.body);
    }
    // The filter still works with the NUL taken out.
    let number = register(&c, "Billing \0update", "minor", "low", "low").await;
    c.get("/releases?q=Bill%00ing")
        .await
        .assert_status(200)
        .assert_contains(&number);
    let title: String = releases::table
        .filter(releases::kind.eq("release"))
        .select(releases::title)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(title, "Billing update");
    // Unauthenticated too: the sign-in form answers as for any wrong name.
    let anon = app.client();
    anon.login("ni\0na", "wrong password\0")
        .await
        .assert_status(422)
        .assert_contains("not correct");
}

/// Sign in with a client whose cookie jar the test can read; returns the session cookie.
async fn sign_in_and_copy_cookie(app: &TestApp, username: &str) -> (reqwest::Client, String) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let c = crate::support::Client {
        base: app.base.clone(),
        http: http.clone(),
    };
    c.login(username, PASSWORD).await.assert_redirect_to("/");
    use reqwest::cookie::CookieStore;
    let cookie = jar
        .cookies(&app.base.parse().unwrap())
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_string();
    (http, cookie)
}

async fn status_with_cookie(app: &TestApp, cookie: &str, path: &str) -> (u16, Option<String>) {
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = plain
        .get(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (
        r.status().as_u16(),
        r.headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string()),
    )
}

#[tokio::test]
async fn signing_out_ends_a_copied_session_cookie_but_not_other_sessions() {
    let app = TestApp::spawn().await;
    app.user("otto", &[Role::Coordinator], &[]);
    let (http, copied) = sign_in_and_copy_cookie(&app, "otto").await;
    let other = app.client();
    other.login("otto", PASSWORD).await.assert_redirect_to("/");
    assert_eq!(
        status_with_cookie(&app, &copied, "/").await.0,
        200,
        "the copy works while the session is open"
    );

    let c = crate::support::Client {
        base: app.base.clone(),
        http,
    };
    c.post("/logout", &[]).await.assert_redirect_to("/login");
    assert_eq!(
        status_with_cookie(&app, &copied, "/releases").await,
        (303, Some("/login?next=/releases".to_string()))
    );
    // The same person's session in another browser carries on.
    other.get("/").await.assert_status(200);
    let open: i64 = user_sessions::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(open, 1);
}

#[tokio::test]
async fn signed_in_pages_are_not_cached() {
    let app = TestApp::spawn().await;
    app.user("pia", &[Role::Manager], &[]);
    let (_, cookie) = sign_in_and_copy_cookie(&app, "pia").await;
    let plain = reqwest::Client::new();
    for path in ["/", "/releases", "/account/password"] {
        let r = plain
            .get(format!("{}{path}", app.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(
            r.headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path}"
        );
    }
    let css = plain
        .get(format!("{}/static/app.css", app.base))
        .send()
        .await
        .unwrap();
    assert_ne!(
        css.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled_like_sign_ins() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("quinn", &[Role::Approver]).await;
    let guess = |pw: &'static str| {
        [
            ("current", pw),
            ("new_password", "a brand new passphrase"),
            ("confirm", "a brand new passphrase"),
        ]
    };
    for _ in 0..5 {
        c.post("/account/password", &guess("a wrong guess"))
            .await
            .assert_status(422)
            .assert_contains("not correct");
    }
    // Locked now: even the right password is refused, and the account's sign-in is locked too.
    c.post("/account/password", &guess(PASSWORD))
        .await
        .assert_status(422)
        .assert_contains("Too many wrong passwords");
    app.client()
        .login("quinn", PASSWORD)
        .await
        .assert_status(422)
        .assert_contains("locked");
}

#[tokio::test]
async fn many_failures_from_one_address_lock_it_and_the_message_says_so() {
    let app = TestApp::spawn().await;
    app.user("rita", &[Role::Manager], &[]);
    // Thirty failures for thirty names from this address (password spraying), written directly:
    // argon2 in a debug build makes thirty real attempts slow.
    diesel::sql_query("INSERT INTO login_events (username, outcome, address) SELECT 'name' || n, 'failure', '127.0.0.1' FROM generate_series(1, 30) n")
        .execute(&mut app.conn())
        .unwrap();
    let refused = app.client().login("rita", PASSWORD).await;
    refused
        .assert_status(422)
        .assert_contains("from your network address, for any account")
        .assert_lacks("for this account");
}
