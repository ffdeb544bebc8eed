//! The command line: `relman [serve]`, `migrate`, `user add`, `user unlock`, `demo`, `verify`,
//! `seed`.
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{Application, HttpSettings};
use crate::config::Config;
use crate::db;
use crate::domain::roles::{Role, Roles};
use crate::services::accounts;
use crate::tools::embedded_pg::EmbeddedPg;

#[derive(Parser)]
#[command(name = "relman", version, about = "Release and Deployment Management")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (the default).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: String,
    },
    /// Apply pending migrations and the out-of-box configuration, then exit.
    Migrate,
    /// Load a realistic demo data set (users for every role, releases in every phase).
    Demo,
    /// Recompute every record's history hash chain; report the first broken link of each.
    Verify,
    /// Load N generated releases (with tasks, approvals, history and changes) for scale tests.
    Seed {
        /// How many releases (each comes with two related changes).
        #[arg(long)]
        releases: u64,
        /// Random seed: the same seed gives the same data (relative to the day it runs).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Releases per transaction.
        #[arg(long, default_value_t = 5_000)]
        batch: u64,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input.
    Add {
        name: String,
        /// manager, coordinator, approver or admin; repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long = "display-name")]
        display_name: Option<String>,
        /// Group to join (by name); repeat for several.
        #[arg(long = "group")]
        groups: Vec<String>,
    },
    /// Clear an account's failed sign-ins: its sign-ins are no longer slowed down and no
    /// address stays locked out of it (an address locked for every name keeps its lock).
    Unlock { name: String },
}

pub fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let config = Config::from_env();
    let result = match cli.command.unwrap_or(Command::Serve {
        bind: "127.0.0.1:8080".into(),
    }) {
        Command::Serve { bind } => serve(&config, &bind),
        Command::Demo => with_database(&config, |url| {
            let mut conn = connect(url)?;
            db::migrate(&mut conn)?;
            let demo = crate::tools::demo::load(&mut conn).map_err(|e| match e {
                crate::error::AppError::BadRequest(m) => m,
                e => format!("loading the demo failed: {e}"),
            })?;
            println!("Loaded the demo: {} releases and {} changes.\n\nDemo users (passwords shown once):", demo.releases, demo.changes);
            for (name, pw) in &demo.users {
                println!("  {name:<8} {pw}");
            }
            println!("\nSign in as mara (manager), colin (coordinator), ada (CAB approver) or ivan (administrator).");
            Ok(())
        }),
        Command::Verify => with_database(&config, |url| {
            let mut conn = connect(url)?;
            let (checked, broken) = crate::models::history::verify(&mut conn)
                .map_err(|e| format!("reading the history: {e}"))?;
            if broken.is_empty() {
                println!("History intact: {checked} events checked.");
                return Ok(());
            }
            for (record, event, why) in &broken {
                println!("record #{record}: event #{event}: {why}");
            }
            Err(format!(
                "{} record(s) with a broken history chain ({checked} events checked)",
                broken.len()
            ))
        }),
        Command::Seed {
            releases,
            seed,
            batch,
        } => with_database(&config, |url| seed_data(url, releases, seed, batch)),
        Command::Migrate => with_database(&config, |url| {
            let mut conn = connect(url)?;
            let done = db::migrate(&mut conn)?;
            println!(
                "{} migration(s) applied; the database is up to date.",
                done.len()
            );
            Ok(())
        }),
        Command::User {
            command:
                UserCommand::Add {
                    name,
                    roles,
                    email,
                    display_name,
                    groups,
                },
        } => with_database(&config, |url| {
            add_user(
                url,
                &name,
                &roles,
                email.as_deref(),
                display_name.as_deref(),
                &groups,
            )
        }),
        Command::User {
            command: UserCommand::Unlock { name },
        } => with_database(&config, |url| unlock_user(url, &name)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relman: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RELMAN_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

fn connect(url: &str) -> Result<diesel::PgConnection, String> {
    use diesel::Connection;
    diesel::PgConnection::establish(url).map_err(|e| format!("cannot connect to the database: {e}"))
}

/// Run `f` with a database URL: `DATABASE_URL`, or the private PostgreSQL under the data dir
/// (started for the duration, and stopped afterwards if this process started it).
fn with_database<F>(config: &Config, f: F) -> Result<(), String>
where
    F: FnOnce(&str) -> Result<(), String>,
{
    if let Some(url) = &config.database_url {
        return f(url);
    }
    let mut pg = start_embedded(&config.data_dir)?;
    let result = f(&pg.database_url());
    if let Err(e) = pg.stop() {
        eprintln!("relman: stopping PostgreSQL: {e}");
    }
    result
}

fn start_embedded(data_dir: &Path) -> Result<EmbeddedPg, String> {
    EmbeddedPg::start(data_dir, "relman").map_err(|e| e.to_string())
}

/// glibc gives each thread that allocates its own heap arena (up to eight per core) and keeps
/// their memory: with the blocking pool's many threads the server's RSS grows far past what it
/// uses. Two arenas are plenty for a server whose work is mostly waiting on PostgreSQL.
/// Fixed thresholds also stop glibc from raising them after the first large page or result
/// set is freed (its default, up to 32 MiB): a large block is then mapped on its own and
/// returned when freed, and freed memory at the top of a heap goes back past 256 KiB, so a
/// burst of big pages does not leave the process holding its peak.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before the server's threads start.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 * 1024);
    }
}

fn serve(config: &Config, bind: &str) -> Result<(), String> {
    let session_key = session_key(config)?;
    let trusted_proxies = crate::auth::TrustedProxies::parse(&config.trusted_proxies)?;
    crate::kept::set_ttl_secs(config.keep_secs);
    crate::app::set_slow_request_ms(config.slow_request_ms);
    limit_malloc_arenas();
    with_database(config, |url| {
        let mut conn = connect(url)?;
        let applied = db::migrate(&mut conn)?;
        if !applied.is_empty() {
            tracing::info!("applied {} migration(s)", applied.len());
        }
        match accounts::ensure_first_admin(&mut conn, config.admin_password.as_deref()) {
            Ok(Some(pw)) => {
                println!("\nCreated the first administrator.\n  user name: admin\n  password:  {pw}\nSign in and change it at /account/password. It is not shown again.\n");
            }
            Ok(None) => {}
            Err(e) => return Err(format!("creating the first administrator: {e}")),
        }
        drop(conn);
        let pool = db::pool(url, config.pool_size, config.smtp_url.is_some())
            .map_err(|e| format!("database pool: {e}"))?;
        crate::services::monitor::spawn(
            pool.clone(),
            std::time::Duration::from_secs(config.monitor_interval_secs),
        );
        if let Some(smtp) = &config.smtp_url {
            let mailer =
                crate::services::mailer::Mailer::new(smtp, &config.mail_from, &config.base_url)?;
            mailer.spawn(pool.clone(), std::time::Duration::from_secs(5));
            tracing::info!(
                "notification e-mail goes out through {}",
                smtp.split('@').next_back().unwrap_or(smtp)
            );
        }
        let settings = HttpSettings {
            session_key,
            cookie_secure: config.cookie_secure,
            base_url: crate::app::BaseUrl::new(&config.base_url),
            trusted_proxies,
        };
        let rt = actix_web::rt::System::new();
        rt.block_on(async move {
            let app = Application::build(bind, pool, settings, None)
                .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
            println!(
                "Relman is serving on http://{} (Ctrl-C to stop)",
                bind_display(bind, app.port())
            );
            app.run_until_stopped()
                .await
                .map_err(|e| format!("server: {e}"))
        })
    })
}

fn bind_display(bind: &str, port: u16) -> String {
    match bind.rsplit_once(':') {
        Some((host, _)) => format!("{host}:{port}"),
        None => bind.to_string(),
    }
}

/// The session cookie key: `RELMAN_SESSION_KEY`, or one generated once and kept in the data dir.
fn session_key(config: &Config) -> Result<actix_web::cookie::Key, String> {
    use actix_web::cookie::Key;
    if let Some(k) = &config.session_key {
        if k.len() < 64 {
            return Err("RELMAN_SESSION_KEY must be at least 64 characters long.".into());
        }
        return Ok(Key::derive_from(k.as_bytes()));
    }
    let path = config.data_dir.join("session.key");
    if let Ok(k) = std::fs::read_to_string(&path) {
        if k.trim().len() >= 64 {
            return Ok(Key::derive_from(k.trim().as_bytes()));
        }
    }
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", config.data_dir.display()))?;
    let halves: [[u8; 32]; 2] = [rand::random(), rand::random()];
    let hex: String = halves
        .iter()
        .flatten()
        .map(|b| format!("{b:02x}"))
        .collect();
    write_private(&path, &hex).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Key::derive_from(hex.as_bytes()))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}

/// `relman seed`: the generated accounts get `RELMAN_SEED_PASSWORD` (or a random password
/// nobody knows); progress on standard error.
fn seed_data(url: &str, releases: u64, seed: u64, batch: u64) -> Result<(), String> {
    let mut conn = connect(url)?;
    db::migrate(&mut conn)?;
    let password = std::env::var("RELMAN_SEED_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let opts = crate::tools::seed::Options {
        releases,
        seed,
        batch,
        password,
        check_references: false,
    };
    // indicatif: a rate and an ETA for a load that takes minutes, drawn only on a terminal.
    let bar = indicatif::ProgressBar::new(releases);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} releases  {per_sec}  {elapsed_precise} (ETA {eta})",
        )
        .map_err(|e| e.to_string())?,
    );
    let started = std::time::Instant::now();
    drop(conn);
    let sum = crate::tools::seed::run_pipelined(url, &opts, &|done| bar.set_position(done))?;
    bar.finish_and_clear();
    println!(
        "Seeded {} releases and {} changes with {} tasks, {} phase visits, {} history events and {} approvals ({} accounts) in {:.0?}.",
        sum.releases, sum.changes, sum.tasks, sum.visits, sum.history, sum.approvals, sum.users, started.elapsed()
    );
    println!(
        "The release manager `{}` also coordinates and sits on the CAB.",
        crate::tools::seed::LEAD_USERNAME
    );
    Ok(())
}

fn add_user(
    url: &str,
    name: &str,
    roles: &[String],
    email: Option<&str>,
    display_name: Option<&str>,
    groups: &[String],
) -> Result<(), String> {
    let parsed: Result<Vec<Role>, String> = roles.iter().map(|r| r.parse::<Role>()).collect();
    let roles = Roles::of(&parsed?);
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .map_err(|e| format!("reading the password from standard input: {e}"))?;
    let password = password.lines().next().unwrap_or("").to_string();
    let mut conn = connect(url)?;
    db::migrate(&mut conn)?;
    let all_groups = crate::models::groups::all(&mut conn).map_err(|e| e.to_string())?;
    let mut group_ids = Vec::new();
    for g in groups {
        let found = all_groups
            .iter()
            .find(|x| x.name.eq_ignore_ascii_case(g))
            .ok_or_else(|| format!("no group named {g:?}"))?;
        group_ids.push(found.id);
    }
    let user = accounts::create_user(
        &mut conn,
        &accounts::NewAccount {
            username: name,
            display_name: display_name.unwrap_or(name),
            email,
            password: &password,
            roles,
            groups: &group_ids,
        },
    )
    .map_err(|e| e.to_string())?;
    println!(
        "Created user {} with roles: {}.",
        user.username,
        user.roles.join(", ")
    );
    Ok(())
}

fn unlock_user(url: &str, name: &str) -> Result<(), String> {
    let mut conn = connect(url)?;
    db::migrate(&mut conn)?;
    match accounts::unlock(&mut conn, name) {
        Ok(done) => {
            println!(
                "Unlocked {}: {} recent failed sign-in(s) no longer count.",
                done.username, done.failures_cleared
            );
            Ok(())
        }
        Err(crate::error::AppError::NotFound) => Err(format!("no user named {name:?}")),
        Err(e) => Err(format!("unlocking {name}: {e}")),
    }
}
