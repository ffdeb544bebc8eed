//! Configuration from environment variables, read once into one typed struct and passed in.
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`; when unset Relman runs its own PostgreSQL under the data dir.
    pub database_url: Option<String>,
    /// `RELMAN_DATA_DIR` (default `./var`).
    pub data_dir: PathBuf,
    /// `RELMAN_SESSION_KEY`: at least 64 bytes; generated and kept under the data dir when unset.
    pub session_key: Option<String>,
    /// `RELMAN_SMTP_URL`: no e-mail when unset.
    pub smtp_url: Option<String>,
    /// `RELMAN_COOKIE_SECURE`: mark the session cookie Secure (and send HSTS).
    pub cookie_secure: bool,
    /// `RELMAN_ADMIN_PASSWORD`: the first administrator's password instead of a random one.
    pub admin_password: Option<String>,
    /// `RELMAN_POOL_SIZE` (default 10).
    pub pool_size: u32,
    /// `RELMAN_BASE_URL`: how people reach Relman; the only source of absolute links (e-mail,
    /// the calendar feed).
    pub base_url: String,
    /// `RELMAN_TRUSTED_PROXIES` (default `127.0.0.1,::1`, a reverse proxy on the same host;
    /// `none` for none): connections from these addresses are a reverse proxy's, and the
    /// client is the address it appends to `X-Forwarded-For`.
    pub trusted_proxies: String,
    /// `RELMAN_MAIL_FROM`: the sender of notification e-mail.
    pub mail_from: String,
    /// `RELMAN_MONITOR_INTERVAL_SECS` (default 60): how often the deadline monitor runs.
    pub monitor_interval_secs: u64,
    /// `RELMAN_KEEP_SECS` (default 5; 0 turns it off): how long values read from the database
    /// are kept when nothing is written meanwhile (see `kept`).
    pub keep_secs: u64,
    /// `RELMAN_SLOW_REQUEST_MS` (default 1000; 0 turns it off): a request that takes longer
    /// is logged as a warning with its path and time (`app::log_slow_requests`).
    pub slow_request_ms: u64,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Config {
    pub fn from_env() -> Config {
        Config {
            database_url: var("DATABASE_URL"),
            data_dir: var("RELMAN_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("var")),
            session_key: var("RELMAN_SESSION_KEY"),
            smtp_url: var("RELMAN_SMTP_URL"),
            cookie_secure: var("RELMAN_COOKIE_SECURE").is_some_and(|v| {
                matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
            }),
            admin_password: var("RELMAN_ADMIN_PASSWORD"),
            pool_size: var("RELMAN_POOL_SIZE")
                .and_then(|v| v.parse().ok())
                .unwrap_or(10),
            base_url: var("RELMAN_BASE_URL").unwrap_or_else(|| "http://127.0.0.1:8080".into()),
            trusted_proxies: var("RELMAN_TRUSTED_PROXIES")
                .unwrap_or_else(|| "127.0.0.1,::1".into()),
            mail_from: var("RELMAN_MAIL_FROM")
                .unwrap_or_else(|| "Relman <relman@localhost>".into()),
            monitor_interval_secs: var("RELMAN_MONITOR_INTERVAL_SECS")
                .and_then(|v| v.parse().ok())
                .filter(|s| *s > 0)
                .unwrap_or(60),
            keep_secs: var("RELMAN_KEEP_SECS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(5),
            slow_request_ms: var("RELMAN_SLOW_REQUEST_MS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000),
        }
    }
}
