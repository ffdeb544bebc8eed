//! Building the HTTP application: middleware (sessions, security headers), the route table,
//! and `Application`, which binds (port 0 in tests) and runs the server.
use std::net::TcpListener;

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_session::SessionMiddleware;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, App, HttpServer};

use crate::db::DbPool;
use crate::routes;

/// Settings the HTTP layer needs.
#[derive(Clone)]
pub struct HttpSettings {
    pub session_key: Key,
    pub cookie_secure: bool,
    /// `RELMAN_BASE_URL`: the only source of absolute links (the calendar feed's); never the
    /// request's `Host` or `X-Forwarded-Host`, which a client chooses.
    pub base_url: BaseUrl,
    /// `RELMAN_TRUSTED_PROXIES`: whose `X-Forwarded-For` names the client (`auth::address`).
    pub trusted_proxies: crate::auth::TrustedProxies,
}

/// How people reach Relman (`https://relman.example.com`, no trailing slash), from the
/// configuration; handed to handlers as `web::Data<BaseUrl>`.
#[derive(Clone, Debug)]
pub struct BaseUrl(String);

impl BaseUrl {
    pub fn new(url: &str) -> BaseUrl {
        BaseUrl(url.trim().trim_end_matches('/').to_string())
    }

    /// The absolute URL of a path of Relman's (`path` starts with `/`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Bind `addr` (use port 0 for any free port) and build the server; `run` serves it.
    pub fn build(
        addr: &str,
        pool: DbPool,
        settings: HttpSettings,
        workers: Option<usize>,
    ) -> std::io::Result<Application> {
        Application::from_listener(TcpListener::bind(addr)?, pool, settings, workers)
    }

    /// Serve on a socket already bound (tests bind first to know the address beforehand).
    pub fn from_listener(
        listener: TcpListener,
        pool: DbPool,
        settings: HttpSettings,
        workers: Option<usize>,
    ) -> std::io::Result<Application> {
        let port = listener.local_addr()?.port();
        let pool = web::Data::new(pool);
        let base_url = web::Data::new(settings.base_url.clone());
        let trusted_proxies = web::Data::new(settings.trusted_proxies.clone());
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(audit_admin_actions))
                .wrap(actix_web::middleware::from_fn(refuse_nul_in_query))
                .wrap(actix_web::middleware::from_fn(note_writes))
                .wrap(security_headers(settings.cookie_secure))
                .wrap(session_middleware(&settings))
                .wrap(actix_web::middleware::from_fn(log_slow_requests))
                .wrap(actix_web::middleware::from_fn(log_server_errors))
                .app_data(pool.clone())
                .app_data(base_url.clone())
                .app_data(trusted_proxies.clone())
                .app_data(web::PayloadConfig::new(256 * 1024))
                .app_data(web::FormConfig::default().limit(256 * 1024))
                .configure(routes::configure)
                .service(actix_files_static())
                .default_service(web::to(not_found))
        })
        .listen(listener)?;
        if let Some(n) = workers {
            server = server.workers(n);
        }
        Ok(Application {
            port,
            server: server.run(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    pub fn into_server(self) -> Server {
        self.server
    }
}

/// Requests slower than this many milliseconds are logged (0: none); set by `relman serve`.
static SLOW_REQUEST_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn set_slow_request_ms(ms: u64) {
    SLOW_REQUEST_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
}

/// Log a warning for each request slower than `RELMAN_SLOW_REQUEST_MS`, with its method,
/// path, status and time: what an engineer running Relman looks for first when people say
/// it is slow (the handler's time, the session middleware's included; time spent queued
/// before a worker picked the request up is not).
async fn log_slow_requests(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let limit = SLOW_REQUEST_MS.load(std::sync::atomic::Ordering::Relaxed);
    if limit == 0 {
        return next.call(req).await;
    }
    let started = std::time::Instant::now();
    // Cheap copies (the URI shares its bytes), formatted only when it was slow. Not a clone
    // of the `HttpRequest`: middleware inside changes the request, which needs it unshared.
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let res = next.call(req).await;
    let ms = started.elapsed().as_millis();
    if ms >= u128::from(limit) {
        let status = match &res {
            Ok(r) => r.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        tracing::warn!(
            request = %format_args!("{method} {}", uri.path()),
            status,
            ms = ms as u64,
            "slow request"
        );
    }
    res
}

/// Record every successful administrative change (a POST under /admin answered with a
/// redirect) with who made it, from where and when; marked when it changed the
/// administrator's own roles or groups (`routes::OwnAccessChange`).
async fn audit_admin_actions(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_session::SessionExt;
    let audited =
        req.method() == actix_web::http::Method::POST && req.path().starts_with("/admin/");
    let context = audited.then(|| {
        let uid: Option<i64> = req.get_session().get("uid").ok().flatten();
        let action = format!("POST {}", req.path());
        let address = crate::auth::client_address(req.request());
        (
            uid,
            action,
            address,
            req.app_data::<web::Data<DbPool>>().cloned(),
        )
    });
    let res = next.call(req).await?;
    if let Some((Some(uid), action, address, Some(pool))) = context {
        // A form sent again changed nothing: no action to record.
        let repeated = res
            .response()
            .extensions()
            .get::<crate::routes::Repeated>()
            .is_some();
        if res.status() == actix_web::http::StatusCode::SEE_OTHER && !repeated {
            // A change to one's own roles or groups, as the handler described it: flagged.
            let own = res
                .response()
                .extensions()
                .get::<crate::routes::OwnAccessChange>()
                .map(|c| c.0.clone());
            let saved = crate::db::run(&pool, move |conn| {
                Ok(crate::models::audit::record(
                    conn,
                    uid,
                    &action,
                    &address,
                    own.as_deref(),
                )?)
            })
            .await;
            if let Err(e) = saved {
                tracing::error!(error = %e, "could not write the administrative audit");
            }
        }
    }
    Ok(res)
}

/// A NUL character can be typed into no form and PostgreSQL cannot store one in text, so a
/// query string holding one is refused (400) before any handler reads it. It is decoded first
/// and then checked: taking `%00` out of the raw string would turn `%%0000` into a new `%00`.
/// Forms get the same treatment (422) in `forms::Form`.
async fn refuse_nul_in_query(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    if query_has_nul(req.query_string()) {
        return Err(crate::error::AppError::BadRequest(
            "The address contains a NUL character (an encoded %00), which no page accepts. \
             Remove it and try again."
                .into(),
        )
        .into());
    }
    next.call(req).await
}

/// Whether a raw query string holds a NUL once decoded as handlers decode it (`%XX` and `+`).
pub fn query_has_nul(query: &str) -> bool {
    // Only a `%` can turn into a NUL once decoded (a raw NUL cannot reach a request line).
    query.contains('%')
        && serde_html_form::from_str::<Vec<(String, String)>>(query)
            .map(|pairs| {
                pairs
                    .iter()
                    .any(|(k, v)| k.contains('\0') || v.contains('\0'))
            })
            .unwrap_or(false)
}

/// Log every answer of 500 or above with its cause: the `AppError` a handler returned, or an
/// error from the middleware around it (the session store failing to write its cookie answers
/// an empty 500 that nothing else would log).
async fn log_server_errors(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let res = next.call(req).await;
    let (status, cause) = match &res {
        Ok(r) => (r.status(), r.response().error().map(|e| e.to_string())),
        Err(e) => (e.as_response_error().status_code(), Some(e.to_string())),
    };
    if status.is_server_error() {
        tracing::error!(
            request = %format_args!("{method} {}", uri.path()),
            status = status.as_u16(),
            error = cause.as_deref().unwrap_or("(no error recorded)"),
            "request failed"
        );
    }
    res
}

/// After any request that may have written (not GET or HEAD), what is kept from the database
/// is stale (`kept`).
async fn note_writes(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let writes = !matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    let pool = if writes {
        req.app_data::<web::Data<crate::db::DbPool>>().cloned()
    } else {
        None
    };
    let res = next.call(req).await;
    if writes {
        crate::kept::written();
        // The handler's transaction has committed: let the other instances know.
        if let Some(pool) = pool {
            if let Err(e) =
                crate::db::run(&pool, |c| Ok(crate::kept::count_database_write(c)?)).await
            {
                tracing::warn!("could not count a write for the other instances: {e}");
            }
        }
    }
    res
}

async fn not_found() -> Result<actix_web::HttpResponse, crate::error::AppError> {
    Err(crate::error::AppError::NotFound)
}

/// Sessions live in a signed and encrypted cookie; idle expiry is checked in `CurrentUser`.
fn session_middleware(s: &HttpSettings) -> SessionMiddleware<CookieSessionStore> {
    SessionMiddleware::builder(CookieSessionStore::default(), s.session_key.clone())
        .cookie_name("relman_session".into())
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_secure(s.cookie_secure)
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(
            PersistentSession::default().session_ttl(actix_web::cookie::time::Duration::hours(8)),
        )
        .build()
}

fn security_headers(secure: bool) -> DefaultHeaders {
    let mut h = DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ))
        // Signed-in pages hold release data: no copy stays in a shared or back-button cache.
        // (Static files and the calendar feed set their own.)
        .add(("Cache-Control", "no-store"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add((
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=()",
        ));
    if secure {
        h = h.add((
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        ));
    }
    h
}

/// The stylesheet and other static files, compiled into the binary so it runs from anywhere.
fn actix_files_static() -> actix_web::Resource {
    web::resource("/static/{file}").route(web::get().to(crate::routes::static_file))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use actix_web::middleware::from_fn;
    use actix_web::{test, web, App, HttpResponse};

    use crate::error::AppError;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Fails after the handler, as the session middleware does when it cannot write its cookie.
    async fn failing_store(
        req: actix_web::dev::ServiceRequest,
        next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
    ) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error>
    {
        let fail = req.path() == "/middleware";
        let res = next.call(req).await?;
        if fail {
            return Err(actix_web::error::InternalError::from_response(
                "the session state is too large for a cookie",
                HttpResponse::InternalServerError().finish(),
            )
            .into());
        }
        Ok(res)
    }

    #[actix_web::test]
    async fn every_server_error_is_logged_with_its_cause() {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = test::init_service(
            App::new()
                .wrap(from_fn(failing_store))
                .wrap(from_fn(super::log_server_errors))
                .route(
                    "/handler",
                    web::get().to(|| async {
                        Err::<HttpResponse, _>(AppError::Internal("the handler's cause".into()))
                    }),
                )
                .route("/middleware", web::get().to(HttpResponse::SeeOther))
                .route(
                    "/missing",
                    web::get().to(|| async { Err::<HttpResponse, _>(AppError::NotFound) }),
                ),
        )
        .await;
        for (path, status) in [("/handler", 500), ("/middleware", 500), ("/missing", 404)] {
            let req = test::TestRequest::get().uri(path).to_request();
            let answered = match test::try_call_service(&app, req).await {
                Ok(res) => res.status(),
                // The server turns a middleware's error into an (empty) response.
                Err(e) => e.as_response_error().status_code(),
            };
            assert_eq!(answered.as_u16(), status, "{path}");
        }
        let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.contains("GET /handler") && text.contains("the handler's cause"),
            "{text}"
        );
        assert!(
            text.contains("GET /middleware") && text.contains("too large for a cookie"),
            "{text}"
        );
        assert!(!text.contains("/missing"), "{text}");
    }
}
