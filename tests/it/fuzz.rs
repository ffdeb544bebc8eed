//! Bad input: hand-made hostile bodies on every POST route, hostile query strings on every GET
//! route, then 10,000 random forms (some with fields as raw wire bytes: NUL encoded twice over,
//! raw CR); nothing may answer 5xx, and hostile text is shown escaped.
use rand::{Rng, SeedableRng};

use crate::authz::{fixture, matrix};
use crate::support::TestApp;

const FIELDS: &[&str] = &[
    "title",
    "description",
    "version",
    "transition",
    "reason",
    "action",
    "decision",
    "cycle",
    "comment",
    "number",
    "phase",
    "assignee",
    "group",
    "due",
    "name",
    "starts_at",
    "ends_at",
    "category",
    "type",
    "impact",
    "urgency",
    "risk",
    "risk_reason",
    "planned_start",
    "planned_end",
    "coordinator",
    "manager",
    "model",
    "username",
    "password",
    "display_name",
    "email",
    "role",
    "record_kind",
    "workflow_id",
    "direction",
    "rows",
    "t0_title",
    "t0_offset",
    "delegate",
    "from",
    "to",
    "on_behalf_of",
    "body",
    "affected_services",
    "test_result",
    "new_password",
    "confirm",
    "current",
    "copy_source",
    "duration",
    "condition",
    "rule",
    "quorum_count",
    "kind",
    "label",
    "to_phase",
    "open",
];

/// Bytes as they go on the wire, not encoded again: NUL encoded twice over (`%%0000` is a NUL
/// once decoded, and a filter that takes `%00` out of the raw text makes a new one), a raw and
/// an encoded CR (iCalendar injection), ESC (ANSI escapes), CR-LF in a text area.
const RAW: &[&str] = &[
    "%%0000",
    "%0%000",
    "a%%0000b",
    "%00",
    "Fix\rEND:VEVENT",
    "Fix%0DEND:VEVENT%0DBEGIN:VEVENT",
    "%1B%5B31mred",
    "one%0D%0Atwo",
    "%0A",
];

fn value(rng: &mut rand::rngs::StdRng) -> String {
    match rng.gen_range(0..17) {
        0 => String::new(),
        1 => "x".repeat(rng.gen_range(1..25_000)),
        2 => "<script>alert('x')</script>".into(),
        3 => "'; DROP TABLE releases; --".into(),
        4 => "-1".into(),
        5 => "99999999999999999999999999".into(),
        6 => i64::MIN.to_string(),
        7 => "2026-02-30T25:61".into(),
        8 => "RL-000001".into(),
        9 => "\u{0}\u{202e}\u{1f600}ÿ".into(),
        10 => "%00%ff".into(),
        14 => "Title\rDTSTART:19700101T000000Z".into(),
        15 => "\u{1b}[2J\u{7}".into(),
        16 => "\r\n\r".into(),
        11 => rng.gen_range(-5i64..50).to_string(),
        12 => [
            "approve", "deny", "retract", "edit", "complete", "start", "add", "remove", "watch",
            "up", "down",
        ][rng.gen_range(0..11)]
        .into(),
        _ => (0..rng.gen_range(0..40))
            .map(|_| rng.gen_range(' '..'~'))
            .collect(),
    }
}

#[tokio::test]
async fn hostile_bodies_on_every_post_route_get_a_4xx_never_a_5xx() {
    let app = TestApp::spawn().await;
    let (clients, ids) = fixture(&app).await;
    let rows = matrix(&ids);
    let http = reqwest::Client::new();
    let mut failures = Vec::new();
    for r in rows.iter().filter(|r| r.method == "POST") {
        // As the manager (or the administrator for account pages), so the checks reach the input.
        let c = if r.path.starts_with("/admin/users") || r.path.starts_with("/admin/groups") {
            &clients[3]
        } else {
            &clients[0]
        };
        let token = c.csrf().await;
        let bodies: Vec<(&str, Vec<u8>)> = vec![
            (
                "malformed url-encoding",
                format!("csrf_token={token}&title=%ZZ%&version=%").into_bytes(),
            ),
            (
                "invalid UTF-8",
                [
                    format!("csrf_token={token}&title=").into_bytes(),
                    vec![0xff, 0xfe, 0xc3],
                ]
                .concat(),
            ),
            (
                "repeated fields",
                format!("csrf_token={token}&version=1&version=2&title=a&title=b&action=x&action=y")
                    .into_bytes(),
            ),
            (
                "over the size limit",
                [
                    format!("csrf_token={token}&title=").into_bytes(),
                    vec![b'a'; 300 * 1024],
                ]
                .concat(),
            ),
            ("not a form", b"{\"title\": \"json\"}".to_vec()),
            (
                "NUL encoded twice over",
                format!("csrf_token={token}&title=%%0000&name=%0%000&description=a%%0000b&username=%%0000&body=%0%000")
                    .into_bytes(),
            ),
            (
                "raw and encoded CR",
                format!("csrf_token={token}&title=Fix\rEND:VEVENT&name=a%0Db&description=x%0Dy&display_name=%1B%5B31m")
                    .into_bytes(),
            ),
        ];
        for (what, body) in bodies {
            let ct = if what == "not a form" {
                "application/json"
            } else {
                "application/x-www-form-urlencoded"
            };
            let resp = c
                .http
                .post(format!("{}{}", c.base, r.path))
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            let s = resp.status().as_u16();
            if s >= 500 {
                failures.push(format!("POST {} with {what}: {s}", r.path));
            }
        }
    }
    let _ = http;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn hostile_query_strings_on_every_get_route_get_a_4xx_never_a_5xx() {
    let app = TestApp::spawn().await;
    let (clients, ids) = fixture(&app).await;
    let mut failures = Vec::new();
    for r in matrix(&ids).iter().filter(|r| r.method == "GET") {
        let c = if r.path.starts_with("/admin/users") || r.path.starts_with("/admin/groups") {
            &clients[3]
        } else {
            &clients[0]
        };
        for query in [
            "q=%%0000",
            "q=%0%000&type=%%0000",
            "q=a%00b&state=%0%000&status=%%0000",
            "q=Fix%0DEND:VEVENT&next=%0D%0A",
            "q=%1B%5B31m&token=%%0000",
        ] {
            let sep = if r.path.contains('?') { '&' } else { '?' };
            let p = c.get(&format!("{}{sep}{query}", r.path)).await;
            if p.status >= 500 {
                failures.push(format!("GET {}{sep}{query}: {}", r.path, p.status));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn ten_thousand_random_forms_never_get_a_5xx() {
    let app = TestApp::spawn().await;
    let (clients, ids) = fixture(&app).await;
    let posts: Vec<String> = matrix(&ids)
        .into_iter()
        .filter(|r| r.method == "POST" && r.path != "/logout")
        .map(|r| r.path)
        .collect();
    let total: usize = std::env::var("RELMAN_FUZZ_FORMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261126);
    let tokens = {
        let mut t = Vec::new();
        for c in &clients {
            t.push(c.csrf().await);
        }
        t
    };
    let mut jobs = Vec::with_capacity(total);
    for _ in 0..total {
        let who = rng.gen_range(0..clients.len());
        let path = posts[rng.gen_range(0..posts.len())].clone();
        let mut form: Vec<(String, String)> = vec![("csrf_token".into(), tokens[who].clone())];
        for _ in 0..rng.gen_range(0..8) {
            form.push((
                FIELDS[rng.gen_range(0..FIELDS.len())].to_string(),
                value(&mut rng),
            ));
        }
        let mut body = serde_html_form::to_string(&form).unwrap();
        // One form in four also carries a field as raw wire bytes (`RAW`).
        if rng.gen_range(0..4) == 0 {
            let field = FIELDS[rng.gen_range(0..FIELDS.len())];
            body.push_str(&format!("&{field}={}", RAW[rng.gen_range(0..RAW.len())]));
            form.push((field.to_string(), "(raw)".into()));
        }
        jobs.push((who, path, form, body));
    }
    let mut failures = Vec::new();
    for chunk in jobs.chunks(16) {
        let sends = chunk.iter().map(|(who, path, _, body)| {
            let c = &clients[*who];
            c.http
                .post(format!("{}{}", c.base, path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
        });
        for (res, (_, path, form, _)) in futures_util::future::join_all(sends)
            .await
            .into_iter()
            .zip(chunk)
        {
            match res {
                Ok(r) if r.status().as_u16() >= 500 => {
                    let keys: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
                    failures.push(format!("POST {path} {keys:?}: {}", r.status()));
                }
                Ok(_) => {}
                Err(e) => failures.push(format!("POST {path}: {e}")),
            }
        }
    }
    failures.sort();
    failures.dedup();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
