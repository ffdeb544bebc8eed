//! The page-quality test: every page in the list, signed in as the right role, checked in
//! headless Chromium with axe-core (WCAG 2.2 AA) and by the Nu HTML Checker
//! (`tests/pages/check.mjs`). Later features add their pages to `pages()`.
use std::process::Command;

use relman::domain::roles::Role;

use crate::support::{TestApp, PASSWORD};

/// (path, signed in as) — `None` for an anonymous visitor.
fn pages(fixture: &Fixture) -> Vec<(String, Option<&'static str>)> {
    let mut p: Vec<(String, Option<&'static str>)> = vec![
        ("/login".into(), None),
        ("/".into(), Some("manager")),
        ("/".into(), Some("nobody")),
        ("/account/password".into(), Some("coordinator")),
        ("/admin/users".into(), Some("admin")),
        ("/admin/users/new".into(), Some("admin")),
        (
            format!("/admin/users/{}", fixture.coordinator_id),
            Some("admin"),
        ),
        (
            format!("/admin/users/{}/deactivate", fixture.coordinator_id),
            Some("admin"),
        ),
        ("/admin/groups".into(), Some("admin")),
        (format!("/admin/groups/{}", fixture.cab_id), Some("admin")),
    ];
    p.extend(fixture.extra.iter().cloned());
    p
}

struct Fixture {
    coordinator_id: i64,
    cab_id: i64,
    extra: Vec<(String, Option<&'static str>)>,
}

#[tokio::test]
async fn every_page_passes_axe_and_the_html_checker() {
    let app = TestApp::spawn().await;
    // The demo data set first, so every page is checked with real content on it.
    relman::tools::demo::load(&mut app.conn()).expect("demo loads");
    app.user("manager", &[Role::Manager], &[]);
    let coordinator_id = app.user("coordinator", &[Role::Coordinator], &[]);
    app.user("approver", &[Role::Approver], &["CAB"]);
    app.user("admin", &[Role::Admin], &[]);
    app.user("nobody", &[], &[]);
    let cab_id = relman::models::groups::all(&mut app.conn())
        .unwrap()
        .into_iter()
        .find(|g| g.name == "CAB")
        .unwrap()
        .id;
    let fixture = Fixture {
        coordinator_id,
        cab_id,
        extra: crate::page_quality_extra::pages(&app).await,
    };

    let out = std::env::temp_dir().join(format!("relman-pages-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let users: serde_json_lite::Object = ["manager", "coordinator", "approver", "admin", "nobody"]
        .iter()
        .map(|u| {
            (
                u.to_string(),
                format!(r#"{{"username":"{u}","password":"{PASSWORD}"}}"#),
            )
        })
        .collect();
    let pages_json: Vec<String> = pages(&fixture)
        .iter()
        .map(|(path, who)| match who {
            Some(u) => format!(r#"{{"path":"{path}","as":"{u}"}}"#),
            None => format!(r#"{{"path":"{path}","as":null}}"#),
        })
        .collect();
    let config = format!(
        r#"{{"baseUrl":"{}","outDir":"{}","users":{{{}}},"pages":[{}]}}"#,
        app.base,
        out.display(),
        users
            .iter()
            .map(|(k, v)| format!(r#""{k}":{v}"#))
            .collect::<Vec<_>>()
            .join(","),
        pages_json.join(",")
    );
    let config_path = out.join("config.json");
    std::fs::write(&config_path, config).unwrap();

    let root = env!("CARGO_MANIFEST_DIR");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(format!("{root}/tests/pages/check.mjs"))
            .arg(&config_path)
            .output()
    })
    .await
    .unwrap()
    .expect("node must be installed: run the tests with `bash tests/run`");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "page-quality check failed:\n{report}"
    );
    assert!(
        report.contains("0 axe violations, 0 HTML errors"),
        "{report}"
    );
}

/// A tiny ordered map type for building the config above without a JSON crate.
mod serde_json_lite {
    pub type Object = Vec<(String, String)>;
}
