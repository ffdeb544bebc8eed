use super::*;

/// A fresh dir under /tmp that the postgres user can traverse; on drop, stops any cluster
/// in it and removes it together with its /tmp socket dir.
struct TempDataDir {
    /// The temp dir itself (removed on drop).
    root: PathBuf,
    /// The data dir used for a cluster: `root` or a subdirectory of it.
    path: PathBuf,
}

impl TempDataDir {
    fn new(prefix: &str) -> TempDataDir {
        Self::with_sub(prefix, None)
    }

    fn with_sub(prefix: &str, sub: Option<&str>) -> TempDataDir {
        let root = PathBuf::from(format!("/tmp/{prefix}-{:016x}", rand::random::<u64>()));
        fs::DirBuilder::new().mode(0o755).create(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let path = sub.map_or_else(|| root.clone(), |s| root.join(s));
        TempDataDir { root, path }
    }
}

impl Drop for TempDataDir {
    fn drop(&mut self) {
        let layout = Layout::new(&fs::canonicalize(&self.path).unwrap_or(self.path.clone()));
        if layout.data.join("postmaster.pid").exists() {
            if let Ok(bin) = find_bin_dir(None) {
                let owner = (unsafe { libc::geteuid() } == 0)
                    .then(|| postgres_user().ok())
                    .flatten();
                if let Ok(r) = Runner::new(bin, owner, layout.pg.clone()) {
                    let d = layout.data.to_string_lossy().into_owned();
                    let _ = r.run("pg_ctl", &["-D", &d, "-m", "immediate", "-w", "stop"]);
                }
            }
        }
        if layout
            .socket_dir
            .to_string_lossy()
            .starts_with("/tmp/relman-pg-")
        {
            let _ = fs::remove_dir_all(&layout.socket_dir);
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn select_one(url: &str) {
    let mut conn = PgConnection::establish(url).expect("connect");
    let rows: Vec<One> = diesel::sql_query("SELECT 1 AS one")
        .load(&mut conn)
        .expect("SELECT 1");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].one, 1);
}

fn is_running(pg: &EmbeddedPg) -> bool {
    pg.runner.status(&pg.data).unwrap() != Status::NotRunning
}

#[test]
fn start_reuse_stop_restart() {
    let dir = TempDataDir::new("relman-pgtest");
    let mut first = EmbeddedPg::start(&dir.path, "relman").expect("first start");
    assert!(first.started_here());
    assert!(first
        .database_url()
        .starts_with("postgres://postgres@/relman?host=/"));
    select_one(&first.database_url());
    // No TCP: postmaster.pid's listen-address line is empty.
    let pid_text = fs::read_to_string(first.data.join("postmaster.pid")).unwrap();
    assert_eq!(
        pid_text.lines().nth(5).map(str::trim),
        Some(""),
        "{pid_text}"
    );

    let mut second = EmbeddedPg::start(&dir.path, "relman").expect("second start");
    assert!(!second.started_here());
    assert_eq!(second.database_url(), first.database_url());
    second.stop().unwrap(); // not ours: a no-op
    assert!(is_running(&first));
    select_one(&second.database_url());

    // Another database, with a name that needs quoting and percent-encoding.
    first.ensure_database("other db\"x").unwrap();
    first.ensure_database("other db\"x").unwrap();
    select_one(&first.url_for("other db\"x"));

    first.stop().unwrap();
    assert!(!is_running(&first));
    first.stop().unwrap(); // idempotent

    let mut third = EmbeddedPg::start(&dir.path, "relman").expect("restart");
    assert!(third.started_here());
    select_one(&third.database_url());
    third.stop().unwrap();
    assert!(!is_running(&third));
}

#[test]
fn recovers_from_crash_with_stale_pid_file() {
    let dir = TempDataDir::new("relman-pgtest");
    let pg = EmbeddedPg::start(&dir.path, "relman").expect("start");
    let pid = read_pid_file(&pg.data).expect("pid file").pid;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while process_is_postgres(pid) == Some(true) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        pg.data.join("postmaster.pid").exists(),
        "stale pid file remains"
    );
    drop(pg);

    let mut again = EmbeddedPg::start(&dir.path, "relman").expect("start after crash");
    assert!(again.started_here());
    select_one(&again.database_url());
    again.stop().unwrap();
}

#[test]
fn long_data_dir_uses_short_socket_dir() {
    let dir = TempDataDir::with_sub(
        "relman-pgtest",
        Some("a-rather-long-directory-name-to-push-the-socket-path-past-the-limit-of-unix-sockets"),
    );
    let mut pg = EmbeddedPg::start(&dir.path, "relman").expect("start");
    assert!(
        pg.socket_dir
            .to_string_lossy()
            .starts_with("/tmp/relman-pg-"),
        "{:?}",
        pg.socket_dir
    );
    assert_eq!(
        pg.socket_dir.to_string_lossy().len(),
        "/tmp/relman-pg-".len() + 16
    );
    let meta = fs::metadata(&pg.socket_dir).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    select_one(&pg.database_url());
    pg.stop().unwrap();
}

#[test]
fn concurrent_first_starts_share_one_cluster() {
    let dir = TempDataDir::new("relman-pgtest");
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let path = dir.path.clone();
            std::thread::spawn(move || EmbeddedPg::start(&path, "relman"))
        })
        .collect();
    let mut pgs: Vec<EmbeddedPg> = handles
        .into_iter()
        .map(|h| h.join().unwrap().expect("concurrent start"))
        .collect();
    assert_eq!(pgs.iter().filter(|p| p.started_here()).count(), 1);
    for pg in &pgs {
        select_one(&pg.database_url());
    }
    for pg in &mut pgs {
        pg.stop().unwrap();
    }
    assert!(!is_running(&pgs[0]));
}

#[test]
fn unreachable_data_dir_as_root_is_explained() {
    if unsafe { libc::geteuid() } != 0 {
        return; // only root runs the server as another user
    }
    let dir = TempDataDir::with_sub("relman-pgtest", Some("data"));
    fs::set_permissions(&dir.root, fs::Permissions::from_mode(0o700)).unwrap();
    let err = EmbeddedPg::start(&dir.path, "relman")
        .err()
        .expect("must fail");
    assert!(
        matches!(err, EmbeddedPgError::DataDirNotReachable { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("RELMAN_DATA_DIR"), "{err}");
}

#[test]
fn bogus_pg_bin_gives_clear_error() {
    let err = find_bin_dir(Some("/nonexistent/bogus/bin")).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("PostgreSQL server programs (initdb, pg_ctl, postgres) not found"),
        "{msg}"
    );
    assert!(msg.contains("/nonexistent/bogus/bin"), "{msg}");
    assert!(msg.contains("RELMAN_PG_BIN"), "{msg}");
    assert!(msg.contains("DATABASE_URL"), "{msg}");
}

#[test]
fn nothing_installed_gives_clear_error() {
    let empty = TempDataDir::new("relman-pgtest");
    let path_var = Some(OsString::from(empty.path.as_os_str()));
    let err = find_bin_dir_in(None, &empty.path, path_var).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("not found"), "{msg}");
    assert!(msg.contains("install Debian's postgresql package"), "{msg}");
}

#[test]
fn picks_highest_version_numerically() {
    let root = TempDataDir::new("relman-pgtest");
    for version in ["9.6", "15", "10", "notaversion"] {
        let bin = root.path.join(version).join("bin");
        fs::create_dir_all(&bin).unwrap();
        for p in PROGRAMS {
            fs::write(bin.join(p), "#!/bin/sh\n").unwrap();
            fs::set_permissions(bin.join(p), fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    // 16 is incomplete, so it is skipped.
    fs::create_dir_all(root.path.join("16/bin")).unwrap();
    let dir = find_bin_dir_in(None, &root.path, None).unwrap();
    assert_eq!(dir, root.path.join("15/bin"));
    // An override wins when complete.
    let o = root.path.join("9.6/bin");
    assert_eq!(find_bin_dir_in(o.to_str(), &root.path, None).unwrap(), o);
}

#[test]
fn url_and_socket_dir_forms() {
    assert_eq!(percent_encode("a b/c", false), "a%20b%2Fc");
    assert_eq!(percent_encode("/tmp/x y", true), "/tmp/x%20y");
    let short = socket_dir_for(Path::new("/srv/relman"), Path::new("/srv/relman/pg"));
    assert_eq!(short, Path::new("/srv/relman/pg"));
    let spaced = socket_dir_for(Path::new("/srv/rel man"), Path::new("/srv/rel man/pg"));
    assert!(spaced.to_string_lossy().starts_with("/tmp/relman-pg-"));
    assert_eq!(
        spaced,
        socket_dir_for(Path::new("/srv/rel man"), Path::new("/srv/rel man/pg"))
    );
    assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
}
