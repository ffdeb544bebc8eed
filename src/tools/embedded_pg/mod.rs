//! A private PostgreSQL cluster under the data dir, reachable on a unix socket only
//! (the embedded default used when no `DATABASE_URL` is given).
//!
//! Layout: cluster data in `<data_dir>/pg/data`, server log in `<data_dir>/pg/server.log`,
//! socket in `<data_dir>/pg` (or a short private directory under `/tmp` when that path would
//! be too long for a unix socket). As root, PostgreSQL's programs run as the `postgres`
//! system user through `runuser`, since `initdb` refuses to run as root.

use std::ffi::{CString, OsString};
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;

/// Port in the socket file name; there is no TCP listener, so it never conflicts.
const PORT: u16 = 5432;
/// Longest socket file path we accept (the kernel limit is 107 bytes).
const MAX_SOCKET_PATH: usize = 100;
/// How long to keep retrying to connect to a server that was found running.
const CONNECT_PATIENCE: Duration = Duration::from_secs(20);
/// Environment variables that could redirect PostgreSQL's programs elsewhere.
const SCRUBBED_ENV: &[&str] = &[
    "PGDATA",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGOPTIONS",
    "PGSERVICE",
    "PGSERVICEFILE",
];
const NOT_FOUND_HELP: &str =
    "install Debian's postgresql package, set RELMAN_PG_BIN to their folder, or set DATABASE_URL";

/// A PostgreSQL cluster private to one data dir.
pub struct EmbeddedPg {
    runner: Runner,
    data: PathBuf,
    socket_dir: PathBuf,
    port: u16,
    db_name: String,
    started_here: bool,
    stopped: bool,
}

/// What can go wrong while preparing, starting or stopping the private cluster.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedPgError {
    #[error("PostgreSQL server programs (initdb, pg_ctl, postgres) not found ({detail}): {help}", help = NOT_FOUND_HELP)]
    ProgramsNotFound { detail: String },

    #[error("running as root, but there is no `postgres` system user to run PostgreSQL as (initdb refuses to run as root): create that user, run Relman as an ordinary user, or set DATABASE_URL")]
    NoPostgresUser,

    #[error("running as root, but `runuser` (needed to run PostgreSQL as the `postgres` user) was not found: install util-linux, run Relman as an ordinary user, or set DATABASE_URL")]
    NoRunuser,

    #[error("the `postgres` system user cannot reach {path} (a parent directory does not let it through, e.g. a data dir under /root with mode 700): set RELMAN_DATA_DIR to a directory it can traverse (e.g. under /var/lib or /srv), or set DATABASE_URL")]
    DataDirNotReachable { path: PathBuf },

    #[error("{path} exists but is not a PostgreSQL cluster (no PG_VERSION, and not empty): move it away or choose another RELMAN_DATA_DIR")]
    NotACluster { path: PathBuf },

    #[error("unusable PostgreSQL socket directory {path}: {reason}")]
    SocketDir { path: PathBuf, reason: String },

    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },

    #[error("{what} failed ({status}): {output}")]
    Command {
        what: String,
        status: String,
        output: String,
    },

    #[error("could not connect to the private PostgreSQL at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: diesel::ConnectionError,
    },

    #[error("{what}: {source}")]
    Query {
        what: String,
        #[source]
        source: diesel::result::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> EmbeddedPgError {
    let what = what.into();
    move |source| EmbeddedPgError::Io { what, source }
}

impl EmbeddedPg {
    /// Initialise if needed, start if not running, ensure database `db_name` exists.
    pub fn start(data_dir: &Path, db_name: &str) -> Result<EmbeddedPg, EmbeddedPgError> {
        let env_bin = std::env::var("RELMAN_PG_BIN").ok();
        let bin_dir = find_bin_dir(env_bin.as_deref())?;
        Self::start_with(data_dir, db_name, bin_dir)
    }

    fn start_with(
        data_dir: &Path,
        db_name: &str,
        bin_dir: PathBuf,
    ) -> Result<EmbeddedPg, EmbeddedPgError> {
        fs::create_dir_all(data_dir).map_err(io_err(format!(
            "could not create data dir {}",
            data_dir.display()
        )))?;
        let data_dir = fs::canonicalize(data_dir).map_err(io_err(format!(
            "could not resolve data dir {}",
            data_dir.display()
        )))?;
        let layout = Layout::new(&data_dir);

        let owner = if unsafe { libc::geteuid() } == 0 {
            Some(postgres_user()?)
        } else {
            None
        };
        let runner = Runner::new(bin_dir, owner, layout.pg.clone())?;

        // <data_dir>/pg, private to whoever runs the server.
        fs::create_dir_all(&layout.pg)
            .map_err(io_err(format!("could not create {}", layout.pg.display())))?;
        runner.own(&layout.pg)?;
        fs::set_permissions(&layout.pg, fs::Permissions::from_mode(0o700)).map_err(io_err(
            format!("could not set permissions of {}", layout.pg.display()),
        ))?;
        if runner.owner.is_some() {
            runner.check_reachable(&layout.pg)?;
        }

        // Serialise concurrent starts of the same cluster by several Relman processes.
        let _lock = StartLock::acquire(&layout.pg.join(".relman-start.lock"))?;

        if !layout.data.join("PG_VERSION").exists() {
            runner.initdb(&layout.data)?;
        }
        if runner.owner.is_some() && layout.log.exists() {
            runner.own(&layout.log)?;
        }

        let mut socket_dir = layout.socket_dir.clone();
        let mut port = PORT;
        let started_here = match runner.status(&layout.data)? {
            Status::Running(pid) => {
                tracing::info!(
                    "reusing running PostgreSQL (pid {pid}) in {}",
                    layout.data.display()
                );
                // The running server says where its socket is; trust it over our computation.
                if let Some(info) = read_pid_file(&layout.data) {
                    if let Some(dir) = info.socket_dir {
                        socket_dir = dir;
                    }
                    if let Some(p) = info.port {
                        port = p;
                    }
                }
                false
            }
            Status::NotRunning => {
                prepare_socket_dir(&layout.socket_dir, runner.server_uid())?;
                let had_stale = remove_stale_files(&layout.data, &layout.socket_dir)?;
                match runner.start_server(&layout, had_stale) {
                    Ok(()) => true,
                    Err(e) => {
                        // Someone outside our lock may have started it meanwhile.
                        if let Status::Running(pid) = runner.status(&layout.data)? {
                            tracing::info!(
                                "reusing PostgreSQL (pid {pid}) started concurrently in {}",
                                layout.data.display()
                            );
                            false
                        } else {
                            return Err(e);
                        }
                    }
                }
            }
        };
        drop(_lock);

        let mut pg = EmbeddedPg {
            runner,
            data: layout.data,
            socket_dir,
            port,
            db_name: db_name.to_owned(),
            started_here,
            stopped: false,
        };
        if let Err(e) = pg.ensure_database(db_name) {
            if pg.started_here {
                let _ = pg.stop();
            }
            return Err(e);
        }
        Ok(pg)
    }

    /// URL of database `db_name` on this cluster (libpq form, unix socket).
    pub fn url_for(&self, db_name: &str) -> String {
        format!(
            "postgres://postgres@/{}?host={}&port={}",
            percent_encode(db_name, false),
            percent_encode(&self.socket_dir.to_string_lossy(), true),
            self.port
        )
    }

    /// URL of the database given to start().
    pub fn database_url(&self) -> String {
        self.url_for(&self.db_name)
    }

    /// Ensure another database exists.
    pub fn ensure_database(&self, db_name: &str) -> Result<(), EmbeddedPgError> {
        let url = self.url_for("postgres");
        let mut conn = connect_patiently(&url)?;
        if database_exists(&mut conn, db_name)? {
            return Ok(());
        }
        tracing::info!("creating database {db_name:?}");
        let sql = format!("CREATE DATABASE {}", quote_ident(db_name));
        match diesel::sql_query(sql).execute(&mut conn) {
            Ok(_) => Ok(()),
            // Another process may have created it between our check and our CREATE.
            Err(_) if database_exists(&mut conn, db_name)? => Ok(()),
            Err(source) => Err(EmbeddedPgError::Query {
                what: format!("could not create database {db_name:?}"),
                source,
            }),
        }
    }

    /// Stop the cluster with `pg_ctl stop -m fast`, only if this process started it. Idempotent.
    pub fn stop(&mut self) -> Result<(), EmbeddedPgError> {
        if !self.started_here || self.stopped {
            return Ok(());
        }
        tracing::info!("stopping PostgreSQL in {}", self.data.display());
        let data = self.data.to_string_lossy().into_owned();
        let out = self.runner.run(
            "pg_ctl",
            &["-D", &data, "-m", "fast", "-w", "-t", "60", "stop"],
        )?;
        if !out.status.success() && self.runner.status(&self.data)? != Status::NotRunning {
            return Err(command_error("pg_ctl stop", &out));
        }
        self.stopped = true;
        Ok(())
    }

    /// Whether this process started the server (false when it reused a running one).
    pub fn started_here(&self) -> bool {
        self.started_here
    }
}

// ---------------------------------------------------------------------------------------------
// Finding the programs

/// The folder holding `initdb`, `pg_ctl` and `postgres`: `override_dir` (RELMAN_PG_BIN) if
/// given, else the highest version under /usr/lib/postgresql/*/bin, else `pg_ctl`'s on PATH.
pub(crate) fn find_bin_dir(override_dir: Option<&str>) -> Result<PathBuf, EmbeddedPgError> {
    find_bin_dir_in(
        override_dir,
        Path::new("/usr/lib/postgresql"),
        std::env::var_os("PATH"),
    )
}

const PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

fn missing_programs(dir: &Path) -> Vec<&'static str> {
    PROGRAMS
        .iter()
        .copied()
        .filter(|p| !is_executable(&dir.join(p)))
        .collect()
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn find_bin_dir_in(
    override_dir: Option<&str>,
    lib_root: &Path,
    path_var: Option<OsString>,
) -> Result<PathBuf, EmbeddedPgError> {
    if let Some(dir) = override_dir.filter(|d| !d.trim().is_empty()) {
        let dir = PathBuf::from(dir);
        let missing = missing_programs(&dir);
        if missing.is_empty() {
            return Ok(dir);
        }
        return Err(EmbeddedPgError::ProgramsNotFound {
            detail: format!(
                "RELMAN_PG_BIN={} lacks {}",
                dir.display(),
                missing.join(", ")
            ),
        });
    }

    // /usr/lib/postgresql/<version>/bin, highest version first.
    let mut versions: Vec<(Vec<u64>, PathBuf)> = fs::read_dir(lib_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let key = name
                .split('.')
                .map(|part| part.parse::<u64>().ok())
                .collect::<Option<Vec<u64>>>()?;
            Some((key, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions
        .into_iter()
        .rev()
        .find(|(_, dir)| missing_programs(dir).is_empty())
    {
        return Ok(dir);
    }

    // pg_ctl on PATH: its folder, or (through symlinks) the folder it really lives in.
    if let Some(path_var) = path_var {
        for dir in std::env::split_paths(&path_var) {
            let pg_ctl = dir.join("pg_ctl");
            if !is_executable(&pg_ctl) {
                continue;
            }
            if missing_programs(&dir).is_empty() {
                return Ok(dir);
            }
            if let Some(real_dir) = fs::canonicalize(&pg_ctl)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
            {
                if missing_programs(&real_dir).is_empty() {
                    return Ok(real_dir);
                }
            }
        }
    }

    Err(EmbeddedPgError::ProgramsNotFound {
        detail: format!(
            "looked in RELMAN_PG_BIN (unset), {}/*/bin and PATH",
            lib_root.display()
        ),
    })
}

// ---------------------------------------------------------------------------------------------
// Layout

struct Layout {
    pg: PathBuf,
    data: PathBuf,
    log: PathBuf,
    socket_dir: PathBuf,
}

impl Layout {
    fn new(data_dir: &Path) -> Layout {
        let pg = data_dir.join("pg");
        Layout {
            data: pg.join("data"),
            log: pg.join("server.log"),
            socket_dir: socket_dir_for(data_dir, &pg),
            pg,
        }
    }
}

/// `pg` unless the socket path would be too long (or awkward to pass through pg_ctl's shell
/// and unix_socket_directories' list syntax): then /tmp/relman-pg-<hash of data dir>.
fn socket_dir_for(data_dir: &Path, pg: &Path) -> PathBuf {
    let socket = pg.join(format!(".s.PGSQL.{PORT}"));
    let plain = pg.to_str().is_some_and(|s| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+@=".contains(&b))
    });
    if plain && socket.as_os_str().len() <= MAX_SOCKET_PATH {
        pg.to_path_buf()
    } else {
        PathBuf::from(format!(
            "/tmp/relman-pg-{:016x}",
            fnv1a64(data_dir.as_os_str().as_encoded_bytes())
        ))
    }
}

/// FNV-1a: stable across Rust versions (unlike DefaultHasher), which matters because the
/// socket dir must be the same for every process using the same data dir.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Create the socket dir (mode 0700, owned by the server user) or check an existing one.
fn prepare_socket_dir(dir: &Path, server_uid: Option<(u32, u32)>) -> Result<(), EmbeddedPgError> {
    let want_uid = server_uid.map_or_else(|| unsafe { libc::geteuid() }, |(u, _)| u);
    let bad = |reason: String| EmbeddedPgError::SocketDir {
        path: dir.to_path_buf(),
        reason,
    };
    match fs::symlink_metadata(dir) {
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(bad("exists and is not a directory".into()));
            }
            if meta.uid() != want_uid {
                if let (Some((uid, gid)), 0) = (server_uid, unsafe { libc::geteuid() }) {
                    // Root may hand over a dir it created earlier (e.g. before a failed start).
                    if meta.uid() == 0 {
                        std::os::unix::fs::chown(dir, Some(uid), Some(gid)).map_err(|e| {
                            bad(format!("could not give it to the postgres user: {e}"))
                        })?;
                    } else {
                        return Err(bad(format!("owned by uid {}, not {uid}", meta.uid())));
                    }
                } else {
                    return Err(bad(format!("owned by uid {}, not {want_uid}", meta.uid())));
                }
            }
            if meta.permissions().mode() & 0o777 != 0o700 {
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                    .map_err(|e| bad(format!("could not set mode 0700: {e}")))?;
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .map_err(|e| bad(format!("could not create it: {e}")))?;
            if let Some((uid, gid)) = server_uid {
                std::os::unix::fs::chown(dir, Some(uid), Some(gid))
                    .map_err(|e| bad(format!("could not give it to the postgres user: {e}")))?;
            }
        }
        Err(e) => return Err(bad(e.to_string())),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Running PostgreSQL's programs

struct Runner {
    bin_dir: PathBuf,
    /// Some((uid, gid)) of `postgres` when running as root.
    owner: Option<(u32, u32)>,
    runuser: PathBuf,
    cwd: PathBuf,
}

#[derive(Debug, PartialEq, Eq)]
enum Status {
    Running(i32),
    NotRunning,
}

impl Runner {
    fn new(
        bin_dir: PathBuf,
        owner: Option<(u32, u32)>,
        cwd: PathBuf,
    ) -> Result<Runner, EmbeddedPgError> {
        let runuser = if owner.is_some() {
            find_runuser().ok_or(EmbeddedPgError::NoRunuser)?
        } else {
            PathBuf::from("runuser")
        };
        Ok(Runner {
            bin_dir,
            owner,
            runuser,
            cwd,
        })
    }

    fn server_uid(&self) -> Option<(u32, u32)> {
        self.owner
    }

    fn command(&self, program: &str) -> Command {
        let program = if program.contains('/') {
            PathBuf::from(program)
        } else if PROGRAMS.contains(&program) {
            self.bin_dir.join(program)
        } else {
            PathBuf::from(program)
        };
        let mut cmd = if self.owner.is_some() {
            let mut c = Command::new(&self.runuser);
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        for var in SCRUBBED_ENV {
            cmd.env_remove(var);
        }
        // A directory the server user can enter (the caller's cwd may be /root).
        if self.cwd.is_dir() {
            cmd.current_dir(&self.cwd);
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<Output, EmbeddedPgError> {
        self.command(program)
            .args(args)
            .output()
            .map_err(io_err(format!("could not run {program}")))
    }

    /// Give `path` to the postgres user when running as root.
    fn own(&self, path: &Path) -> Result<(), EmbeddedPgError> {
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io_err(format!(
                "could not give {} to the postgres user",
                path.display()
            )))?;
        }
        Ok(())
    }

    fn check_reachable(&self, path: &Path) -> Result<(), EmbeddedPgError> {
        let p = path.to_string_lossy().into_owned();
        let out = self.run("test", &["-x", &p, "-a", "-w", &p])?;
        if out.status.success() {
            Ok(())
        } else {
            Err(EmbeddedPgError::DataDirNotReachable {
                path: path.to_path_buf(),
            })
        }
    }

    fn initdb(&self, data: &Path) -> Result<(), EmbeddedPgError> {
        let existed = match fs::read_dir(data) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(EmbeddedPgError::NotACluster {
                        path: data.to_path_buf(),
                    });
                }
                self.own(data)?;
                true
            }
            Err(_) => false,
        };
        tracing::info!("initialising PostgreSQL cluster in {}", data.display());
        let d = data.to_string_lossy().into_owned();
        let mut last = None;
        for locale in ["--locale=C.UTF-8", "--locale=C"] {
            let out = self.run(
                "initdb",
                &[
                    "-D", &d, "-U", "postgres", "-A", "trust", "-E", "UTF8", locale,
                ],
            )?;
            if out.status.success() {
                return Ok(());
            }
            tracing::info!("initdb with {locale} failed; {}", output_text(&out));
            // initdb cleans up after itself, but make sure the next attempt starts afresh.
            if !existed && data.exists() {
                let _ = fs::remove_dir_all(data);
            }
            last = Some(out);
        }
        Err(command_error("initdb", &last.expect("initdb ran")))
    }

    fn status(&self, data: &Path) -> Result<Status, EmbeddedPgError> {
        if !data.join("postmaster.pid").exists() {
            return Ok(Status::NotRunning);
        }
        let d = data.to_string_lossy().into_owned();
        let out = self.run("pg_ctl", &["-D", &d, "status"])?;
        match out.status.code() {
            Some(0) => {
                // pg_ctl only checks kill(pid, 0): a zombie or a recycled pid (common in
                // containers after a restart) would look like a running server.
                match read_pid_file(data).map(|i| i.pid) {
                    Some(pid) if process_is_postgres(pid) != Some(false) => {
                        Ok(Status::Running(pid))
                    }
                    Some(_) => Ok(Status::NotRunning),
                    None => Ok(Status::Running(0)),
                }
            }
            Some(3) | Some(4) => Ok(Status::NotRunning),
            _ => Err(command_error("pg_ctl status", &out)),
        }
    }

    fn start_server(&self, layout: &Layout, had_stale: bool) -> Result<(), EmbeddedPgError> {
        tracing::info!(
            "starting PostgreSQL in {} (socket in {}, log in {})",
            layout.data.display(),
            layout.socket_dir.display(),
            layout.log.display()
        );
        let d = layout.data.to_string_lossy().into_owned();
        let l = layout.log.to_string_lossy().into_owned();
        // pg_ctl hands -o to /bin/sh, hence the shell quoting.
        let opts = format!(
            "-c listen_addresses='' -k {} -c unix_socket_permissions=0700",
            shell_quote(&layout.socket_dir.to_string_lossy())
        );
        // After a crash, orphaned backends may hold the old shared memory for a moment.
        let deadline = Instant::now() + Duration::from_secs(if had_stale { 15 } else { 0 });
        loop {
            let out = self.run(
                "pg_ctl",
                &["-D", &d, "-l", &l, "-w", "-t", "60", "start", "-o", &opts],
            )?;
            if out.status.success() {
                return Ok(());
            }
            if Instant::now() >= deadline || self.status(&layout.data)? != Status::NotRunning {
                let mut err = command_error("pg_ctl start", &out);
                if let EmbeddedPgError::Command { output, .. } = &mut err {
                    let tail = log_tail(&layout.log, 15);
                    if !tail.is_empty() {
                        output.push_str(&format!(
                            "\nlast lines of {}:\n{tail}",
                            layout.log.display()
                        ));
                    }
                }
                return Err(err);
            }
            tracing::info!("PostgreSQL did not start yet after a crash; retrying");
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

fn find_runuser() -> Option<PathBuf> {
    [
        "/usr/sbin/runuser",
        "/sbin/runuser",
        "/usr/bin/runuser",
        "/bin/runuser",
    ]
    .iter()
    .map(PathBuf::from)
    .chain::<Vec<PathBuf>>(
        std::env::var_os("PATH")
            .map(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("runuser"))
                    .collect()
            })
            .unwrap_or_default(),
    )
    .find(|p| is_executable(p))
}

/// uid and gid of the `postgres` system user.
fn postgres_user() -> Result<(u32, u32), EmbeddedPgError> {
    let name = CString::new("postgres").expect("no NUL");
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(EmbeddedPgError::NoPostgresUser);
    }
    Ok((pwd.pw_uid, pwd.pw_gid))
}

/// Whether `pid` is a live (not zombie) postgres process; None when /proc cannot tell.
fn process_is_postgres(pid: i32) -> Option<bool> {
    if pid <= 0 {
        return Some(false);
    }
    let stat = match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return if Path::new("/proc/self/stat").exists() {
                Some(false)
            } else {
                None
            };
        }
        Err(_) => return None,
    };
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = &stat[open + 1..close];
    let state = stat[close + 1..].trim_start().chars().next()?;
    Some(!matches!(state, 'Z' | 'X' | 'x') && (comm == "postgres" || comm == "postmaster"))
}

struct PidFile {
    pid: i32,
    port: Option<u16>,
    socket_dir: Option<PathBuf>,
}

/// postmaster.pid: pid, data dir, start time, port, first socket dir, listen address, …
fn read_pid_file(data: &Path) -> Option<PidFile> {
    let text = fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let pid = lines.first()?.trim().parse().ok()?;
    let port = lines.get(3).and_then(|l| l.trim().parse().ok());
    let socket_dir = lines
        .get(4)
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .map(PathBuf::from);
    Some(PidFile {
        pid,
        port,
        socket_dir,
    })
}

/// Remove what a crashed server left behind. Returns whether there was anything.
fn remove_stale_files(data: &Path, socket_dir: &Path) -> Result<bool, EmbeddedPgError> {
    let mut found = false;
    let pid_file = data.join("postmaster.pid");
    if pid_file.exists() {
        tracing::info!("removing stale {} (server not running)", pid_file.display());
        fs::remove_file(&pid_file).map_err(io_err(format!(
            "could not remove stale {}",
            pid_file.display()
        )))?;
        found = true;
    }
    for name in [format!(".s.PGSQL.{PORT}.lock"), format!(".s.PGSQL.{PORT}")] {
        let path = socket_dir.join(name);
        if fs::symlink_metadata(&path).is_ok() {
            fs::remove_file(&path)
                .map_err(io_err(format!("could not remove stale {}", path.display())))?;
            found = true;
        }
    }
    Ok(found)
}

/// An exclusive flock held while initialising/starting, released on drop.
struct StartLock(fs::File);

impl StartLock {
    fn acquire(path: &Path) -> Result<StartLock, EmbeddedPgError> {
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(io_err(format!(
                "could not open lock file {}",
                path.display()
            )))?;
        loop {
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(StartLock(file));
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(io_err(format!("could not lock {}", path.display()))(e));
            }
        }
    }
}

impl Drop for StartLock {
    fn drop(&mut self) {
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

fn output_text(out: &Output) -> String {
    let mut s = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.trim().is_empty() {
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str(stdout.trim());
    }
    s
}

fn command_error(what: &str, out: &Output) -> EmbeddedPgError {
    EmbeddedPgError::Command {
        what: what.to_owned(),
        status: out.status.to_string(),
        output: output_text(out),
    }
}

fn log_tail(log: &Path, lines: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

// ---------------------------------------------------------------------------------------------
// SQL

fn connect_patiently(url: &str) -> Result<PgConnection, EmbeddedPgError> {
    let deadline = Instant::now() + CONNECT_PATIENCE;
    loop {
        match PgConnection::establish(url) {
            Ok(conn) => return Ok(conn),
            Err(source) if Instant::now() >= deadline => {
                return Err(EmbeddedPgError::Connect {
                    url: url.to_owned(),
                    source,
                })
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

#[derive(QueryableByName)]
struct One {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    #[allow(dead_code)]
    one: i32,
}

fn database_exists(conn: &mut PgConnection, db_name: &str) -> Result<bool, EmbeddedPgError> {
    diesel::sql_query("SELECT 1 AS one FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(db_name)
        .load::<One>(conn)
        .map(|rows| !rows.is_empty())
        .map_err(|source| EmbeddedPgError::Query {
            what: format!("could not look up database {db_name:?}"),
            source,
        })
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Percent-encode for a URL path segment or (with `keep_slash`) a query value.
fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests;
