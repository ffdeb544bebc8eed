//! Faults: the database going away and coming back, the server killed mid-load, and the
//! server asked to stop (SIGTERM) while a request is in flight.
use std::process::{Command, Stdio};
use std::time::Duration;

use diesel::prelude::*;
use relman::app::{Application, HttpSettings};
use relman::domain::roles::Role;
use relman::tools::embedded_pg::EmbeddedPg;

use crate::support::{TestApp, PASSWORD};

#[tokio::test]
async fn while_the_database_is_down_pages_answer_503_and_serve_again_when_it_is_back() {
    // A PostgreSQL of this test's own, so it can be stopped.
    let dir = std::env::temp_dir().join(format!("relman-fault-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
    }
    let mut pg = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || EmbeddedPg::start(&dir, "relman").expect("start a private PostgreSQL")
    })
    .await
    .unwrap();
    let url = pg.database_url();
    relman::db::migrate(&mut diesel::PgConnection::establish(&url).unwrap()).unwrap();
    let pool = diesel::r2d2::Pool::builder()
        .max_size(4)
        .connection_timeout(Duration::from_secs(2))
        .build(diesel::r2d2::ConnectionManager::<diesel::PgConnection>::new(&url))
        .unwrap();
    {
        let mut conn = pool.get().unwrap();
        relman::services::accounts::create_user(
            &mut conn,
            &relman::services::accounts::NewAccount {
                username: "olga",
                display_name: "Olga",
                email: None,
                password: PASSWORD,
                roles: relman::domain::roles::Roles::of(&[Role::Manager]),
                groups: &[],
            },
        )
        .unwrap();
    }
    let app = Application::build(
        "127.0.0.1:0",
        pool,
        HttpSettings {
            session_key: actix_web::cookie::Key::generate(),
            cookie_secure: false,
            base_url: relman::app::BaseUrl::new("http://127.0.0.1:8080"),
            trusted_proxies: Default::default(),
        },
        Some(1),
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.into_server());
    let c = crate::support::Client {
        base: base.clone(),
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    c.login("olga", PASSWORD).await.assert_redirect_to("/");
    c.get("/releases").await.assert_status(200);

    tokio::task::spawn_blocking(move || {
        pg.stop().unwrap();
        pg
    })
    .await
    .unwrap();
    let health = c.get("/healthz").await;
    assert_eq!(health.status, 503);
    let page = c.get("/releases").await;
    page.assert_status(503)
        .assert_contains("briefly unavailable")
        .assert_lacks("connection");

    // Back again: the same server serves without a restart.
    let _pg = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || EmbeddedPg::start(&dir, "relman").unwrap()
    })
    .await
    .unwrap();
    let mut ok = false;
    for _ in 0..20 {
        if c.get("/healthz").await.status == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(ok, "healthz never recovered");
    c.get("/releases").await.assert_status(200);
    let mut pg = _pg;
    let _ = tokio::task::spawn_blocking(move || pg.stop()).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn kill_9_during_a_load_of_transitions_loses_no_answered_transition() {
    let app = TestApp::spawn().await;
    let coordinator = app.signed_in("cora", &[Role::Coordinator]).await;
    let mut numbers = Vec::new();
    for i in 0..24 {
        numbers.push(
            crate::releases::register(&coordinator, &format!("Load {i}"), "minor", "low", "low")
                .await,
        );
    }
    // A real relman process on the test database.
    let (mut child, port) = start_relman(&app, &[]).await;
    let base = format!("http://127.0.0.1:{port}");
    let c = crate::support::Client {
        base: base.clone(),
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    c.login("cora", PASSWORD).await.assert_redirect_to("/");
    let token = c.csrf().await;
    // Advance and rework every release in a loop, many at once; kill the server meanwhile.
    let mut answered = Vec::new();
    let pid = child.id() as i32;
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    'outer: for round in 0..40 {
        let mut sends = Vec::new();
        for n in &numbers {
            let label = if round % 2 == 0 {
                "Advance to Plan and Design"
            } else {
                "Rework in Assess"
            };
            let t = crate::releases::transition_id(&app, n, label).to_string();
            let v = crate::releases::version(&app, n).to_string();
            let form = serde_html_form::to_string([
                ("csrf_token", token.as_str()),
                ("transition", &t),
                ("version", &v),
                ("reason", "load"),
            ])
            .unwrap();
            let url = format!("{base}/releases/{n}/transitions");
            sends.push((
                n.clone(),
                v.clone(),
                c.http
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form)
                    .send(),
            ));
        }
        for (n, v, s) in sends {
            match s.await {
                Ok(r) if r.status().as_u16() == 303 => {
                    answered.push((n, v.parse::<i32>().unwrap() + 1))
                }
                Ok(_) => {}
                Err(_) => break 'outer,
            }
        }
    }
    killer.await.unwrap();
    let _ = child.wait();
    assert!(
        !answered.is_empty(),
        "some transitions were answered before the kill"
    );
    // Every transition answered with success is in the database: its version and its history.
    let mut conn = app.conn();
    for (n, v) in &answered {
        let id: i64 = {
            use relman::schema::releases;
            releases::table
                .filter(releases::kind.eq("release"))
                .filter(releases::number.eq(relman::paths::parse_release_number(n).unwrap()))
                .select(releases::id)
                .first(&mut conn)
                .unwrap()
        };
        use relman::schema::history_events as h;
        let found: i64 = h::table
            .filter(h::release_id.eq(id))
            .filter(h::record_version.eq(*v))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(found, 1, "{n} version {v} was answered but is not recorded");
    }
}

#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish_and_then_stops() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let coordinator = app.signed_in("cleo", &[Role::Coordinator]).await;
    let n = crate::releases::register(&coordinator, "In flight", "minor", "low", "low").await;
    let (mut child, port) = start_relman(&app, &[]).await;
    let base = format!("http://127.0.0.1:{port}");
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let c = crate::support::Client {
        base: base.clone(),
        http,
    };
    c.login("cleo", PASSWORD).await.assert_redirect_to("/");
    let token = c.csrf().await;
    let cookie = {
        use reqwest::cookie::CookieStore;
        jar.cookies(&base.parse().unwrap())
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    };

    // A transition whose body is still arriving when the server is told to stop.
    let t = crate::releases::transition_id(&app, &n, "Advance to Plan and Design").to_string();
    let v = crate::releases::version(&app, &n).to_string();
    let body = serde_html_form::to_string([
        ("csrf_token", token.as_str()),
        ("transition", &t),
        ("version", &v),
        ("reason", "in flight"),
    ])
    .unwrap();
    let head = format!(
        "POST /releases/{n}/transitions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Stopping: no new connection is taken…
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "a new connection was served after SIGTERM"
    );
    // …but the request in flight is finished and answered.
    stream.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_string(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 303"),
        "the request in flight was not answered:\n{answer}"
    );
    assert_eq!(crate::releases::phase_of(&app, &n), "Plan and Design");
    // And then the process ends, cleanly.
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "relman exited with {status}");
}

/// A `relman serve` process, killed when dropped: a failing test leaves no server behind.
pub struct Instance(pub std::process::Child);

impl std::ops::Deref for Instance {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Instance {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `relman serve` as its own process on the test's database (with these settings too), once
/// it answers `/healthz`.
pub async fn start_relman(app: &TestApp, settings: &[(&str, &str)]) -> (Instance, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_relman"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &app.db.url)
        .env("RELMAN_SESSION_KEY", "k".repeat(64))
        .env("RELMAN_LOG", "warn")
        .envs(settings.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{base}/healthz"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (Instance(child), port)
}
