//! The test harness: one PostgreSQL per test run (the same embedded mechanism the product
//! uses, or `TEST_DATABASE_URL`), a template database migrated once, and per test a database
//! cloned from it (dropped when the test ends) behind a real server on port 0.
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use diesel::prelude::*;
use diesel::PgConnection;
use relman::app::{Application, HttpSettings};
use relman::db::{self, DbPool};
use relman::domain::roles::{Role, Roles};
use relman::services::accounts;
use relman::tools::embedded_pg::EmbeddedPg;

pub const PASSWORD: &str = "correct horse battery staple";

struct Cluster {
    /// URL of a database on the server, with `{db}` where the database name goes.
    url_pattern: String,
    template: String,
}

fn admin_url(c: &Cluster) -> String {
    c.url_pattern.replace("{db}", "postgres")
}

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let url_pattern = match std::env::var("TEST_DATABASE_URL") {
            // A server URL: its database name is replaced by each test's own.
            Ok(url) => match url.rsplit_once('/') {
                Some((server, _)) => format!("{server}/{{db}}"),
                None => panic!("TEST_DATABASE_URL must end with /DBNAME"),
            },
            Err(_) => {
                let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("target")
                    .join("test-pg");
                let pg = EmbeddedPg::start(&dir, "postgres")
                    .unwrap_or_else(|e| panic!("test PostgreSQL: {e}"));
                // Left running for the next test run; `.ci/run` stops it.
                pg.url_for("RELMANTESTDB").replace("RELMANTESTDB", "{db}")
            }
        };
        let c = Cluster {
            url_pattern,
            template: format!("relman_tpl_{}", std::process::id()),
        };
        let mut admin =
            PgConnection::establish(&admin_url(&c)).expect("connect to the test server");
        drop_stale_databases(&mut admin);
        diesel::sql_query(format!("CREATE DATABASE {}", c.template))
            .execute(&mut admin)
            .expect("create template");
        let mut tpl = PgConnection::establish(&c.url_pattern.replace("{db}", &c.template))
            .expect("connect to template");
        db::migrate(&mut tpl).expect("migrate template");
        c
    })
}

#[derive(QueryableByName)]
struct DbName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
}

/// Databases left behind by test processes that no longer run (killed, crashed).
fn drop_stale_databases(admin: &mut PgConnection) {
    let names: Vec<DbName> =
        diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'relman\\_t%'")
            .load(admin)
            .unwrap_or_default();
    for n in names {
        let pid: Option<i32> = n.datname.split('_').nth(2).and_then(|p| p.parse().ok());
        let alive = pid.is_some_and(|p| unsafe { libc::kill(p, 0) } == 0);
        if !alive {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                n.datname
            ))
            .execute(admin);
        }
    }
}

/// A database of one test's own, dropped when it goes out of scope.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn new() -> TestDb {
        static N: AtomicUsize = AtomicUsize::new(0);
        let c = cluster();
        let name = format!(
            "relman_t_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = PgConnection::establish(&admin_url(c)).expect("connect");
        diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {}", c.template))
            .execute(&mut admin)
            .expect("clone template");
        TestDb {
            url: c.url_pattern.replace("{db}", &name),
            name,
        }
    }

    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&admin_url(cluster())) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

/// The application running on a free port over its own database.
pub struct TestApp {
    pub base: String,
    pub db: TestDb,
    pub pool: DbPool,
}

impl TestApp {
    /// An instance that sends e-mail (its notifications queue mail), as most deployments are.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(true).await
    }

    /// An instance run without `RELMAN_SMTP_URL`.
    pub async fn spawn_without_mail() -> TestApp {
        TestApp::spawn_with(false).await
    }

    /// An instance whose `RELMAN_BASE_URL` is `base_url` instead of its own address.
    pub async fn spawn_with_base_url(base_url: &str) -> TestApp {
        TestApp::spawn_configured(true, Some(base_url)).await
    }

    async fn spawn_with(mail: bool) -> TestApp {
        TestApp::spawn_configured(mail, None).await
    }

    async fn spawn_configured(mail: bool, base_url: Option<&str>) -> TestApp {
        let db = tokio::task::spawn_blocking(TestDb::new)
            .await
            .expect("create db");
        let pool = db::pool(&db.url, 4, mail).expect("pool");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let settings = HttpSettings {
            session_key: actix_web::cookie::Key::generate(),
            cookie_secure: false,
            // By default the address it serves on, as a deployment configures it.
            base_url: relman::app::BaseUrl::new(base_url.unwrap_or(&base)),
            trusted_proxies: relman::auth::TrustedProxies::parse("127.0.0.1").unwrap(),
        };
        let app =
            Application::from_listener(listener, pool.clone(), settings, Some(1)).expect("serve");
        tokio::spawn(app.into_server());
        TestApp { base, db, pool }
    }

    pub fn conn(&self) -> db::DbConn {
        self.pool.get().expect("connection")
    }

    /// Create a user with these roles (and groups by name); the password is [`PASSWORD`].
    pub fn user(&self, username: &str, roles: &[Role], groups: &[&str]) -> i64 {
        let mut conn = self.conn();
        let all = relman::models::groups::all(&mut conn).unwrap();
        let ids: Vec<i64> = groups
            .iter()
            .map(|g| {
                all.iter()
                    .find(|x| x.name == *g)
                    .unwrap_or_else(|| panic!("no group {g}"))
                    .id
            })
            .collect();
        accounts::create_user(
            &mut conn,
            &accounts::NewAccount {
                username,
                display_name: &format!("{username} (test)"),
                email: None,
                password: PASSWORD,
                roles: Roles::of(roles),
                groups: &ids,
            },
        )
        .expect("create user")
        .id
    }

    /// A fresh browser-like client: cookies kept, redirects not followed.
    pub fn client(&self) -> Client {
        Client {
            base: self.base.clone(),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                // Shorter than the server's keep-alive (5 s): a connection left idle while a
                // test loads data is not reused just as the server closes it.
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .build()
                .unwrap(),
        }
    }

    /// A fresh browser-like client connecting from another loopback address (`127.0.0.2`…), as
    /// someone elsewhere on the network would.
    pub fn client_from(&self, ip: &str) -> Client {
        Client {
            base: self.base.clone(),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .local_address(ip.parse::<std::net::IpAddr>().expect("an IP address"))
                .build()
                .unwrap(),
        }
    }

    /// A client signed in as a new user with these roles.
    pub async fn signed_in(&self, username: &str, roles: &[Role]) -> Client {
        self.user(username, roles, &[]);
        let c = self.client();
        c.login(username, PASSWORD).await.assert_redirect_to("/");
        c
    }
}

pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Page {
        assert_eq!(
            self.status, status,
            "unexpected status; body:\n{}",
            self.body
        );
        self
    }

    #[track_caller]
    pub fn assert_redirect_to(&self, to: &str) -> &Page {
        assert_eq!(
            self.status, 303,
            "expected a redirect to {to}; body:\n{}",
            self.body
        );
        assert_eq!(self.location.as_deref(), Some(to));
        self
    }

    #[track_caller]
    pub fn assert_contains(&self, text: &str) -> &Page {
        assert!(
            self.body.contains(text),
            "page does not contain {text:?}:\n{}",
            self.body
        );
        self
    }

    #[track_caller]
    pub fn assert_lacks(&self, text: &str) -> &Page {
        assert!(
            !self.body.contains(text),
            "page should not contain {text:?}:\n{}",
            self.body
        );
        self
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> Option<String> {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(self.body[start..end].to_string())
    }
}

impl Client {
    /// Another handle on the same signed-in session.
    pub fn clone_session(&self) -> Client {
        Client {
            base: self.base.clone(),
            http: self.http.clone(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        to_page(r).await
    }

    /// POST a form exactly as given (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_html_form::to_string(fields).unwrap();
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST");
        to_page(r).await
    }

    /// POST a body exactly as encoded here (`title=%%0000`), after the session's CSRF token.
    pub async fn post_encoded(&self, path: &str, encoded: &str) -> Page {
        let token = self.csrf().await;
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf_token={token}&{encoded}"))
            .send()
            .await
            .expect("POST");
        to_page(r).await
    }

    /// The session's CSRF token, read from a page as a browser would.
    pub async fn csrf(&self) -> String {
        for path in ["/account/password", "/login"] {
            if let Some(t) = self.get(path).await.csrf() {
                return t;
            }
        }
        panic!("no CSRF token on any page");
    }

    /// POST a form with the session's CSRF token, as a browser submitting the page's form.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    pub async fn login(&self, username: &str, password: &str) -> Page {
        let token = self
            .get("/login")
            .await
            .csrf()
            .expect("login form has a CSRF token");
        self.post_raw(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }
}

async fn to_page(r: reqwest::Response) -> Page {
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = r.text().await.unwrap_or_default();
    Page {
        status,
        location,
        body,
    }
}
