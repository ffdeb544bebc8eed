//! The connection pool, embedded migrations, and `run`, which moves Diesel work off actix's
//! async threads (and turns a panic in it into a 500, not a dead worker).
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{AppError, AppResult};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbPool = Pool<ConnectionManager<PgConnection>>;
pub type DbConn = PooledConnection<ConnectionManager<PgConnection>>;

/// The pool of an instance; `mail` when it sends e-mail (`RELMAN_SMTP_URL`): its connections
/// then queue an e-mail with each notification (migration 000028).
pub fn pool(url: &str, size: u32, mail: bool) -> Result<DbPool, diesel::r2d2::PoolError> {
    Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        // No `SELECT 1` before every checkout (a round trip per request): a connection that
        // broke fails its query, is marked broken by Diesel and replaced by the pool.
        .test_on_check_out(false)
        .connection_timeout(std::time::Duration::from_secs(10))
        .connection_customizer(Box::new(SessionSettings { mail }))
        .build(ConnectionManager::new(url))
}

/// Settings for each of the pool's connections. Relman's statements are short and many:
/// PostgreSQL's JIT compiler, which starts on statements it estimates as costly (the deadline
/// monitor's sweep, a report's part months), spends more compiling them than it saves (the
/// sweep at a million releases: 0.57 s with it, 0.35 s without). `relman.mail` tells the
/// database functions that notify whether this instance sends e-mail.
#[derive(Debug)]
struct SessionSettings {
    mail: bool,
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        let settings = if self.mail {
            "SET jit = off; SET relman.mail = on"
        } else {
            "SET jit = off; SET relman.mail = off"
        };
        conn.batch_execute(settings)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Apply pending migrations (the out-of-box configuration comes with them).
pub fn migrate(conn: &mut PgConnection) -> Result<Vec<String>, String> {
    conn.run_pending_migrations(MIGRATIONS)
        .map(|done| done.iter().map(|v| v.to_string()).collect())
        .map_err(|e| format!("migrations failed: {e}"))
}

/// Run `f` with a pooled connection on the blocking thread pool.
pub async fn run<T, F>(pool: &DbPool, f: F) -> AppResult<T>
where
    F: FnOnce(&mut PgConnection) -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        f(&mut conn)
    })
    .await
    .map_err(AppError::from)?
}
