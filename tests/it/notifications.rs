//! Notifications at the key points, the e-mail outbox against a real SMTP listener on
//! loopback, and the deadline monitor (alerts raised once, even by two monitors at once).
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use diesel::prelude::*;
use relman::domain::roles::Role;
use relman::schema::{alerts, mail_outbox, notifications, tasks, users};
use relman::services::{mailer::Mailer, monitor};

use crate::releases::{cab_approves, register, save, take};
use crate::support::{TestApp, PASSWORD};

/// (recipient user name, kind) of every notification, sorted.
fn sent(app: &TestApp) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = notifications::table
        .inner_join(users::table)
        .select((users::username, notifications::kind))
        .load(&mut app.conn())
        .unwrap();
    v.sort();
    v
}

fn clear(app: &TestApp) {
    diesel::delete(mail_outbox::table)
        .execute(&mut app.conn())
        .unwrap();
    diesel::delete(notifications::table)
        .execute(&mut app.conn())
        .unwrap();
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = v
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn each_key_point_tells_the_right_people_and_nobody_else() {
    let app = TestApp::spawn().await;
    let mona_id = app.user("mona", &[Role::Manager], &[]);
    app.user("max", &[Role::Manager], &[]);
    app.user("ann", &[Role::Approver], &["CAB"]);
    app.user("bystander", &[Role::Coordinator], &[]);
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let watcher = app.signed_in("wes", &[]).await;

    // Registered: its manager.
    let p = c
        .post(
            "/releases/new",
            &[
                ("category", "1"),
                ("type", "minor"),
                ("title", "Billing"),
                ("description", "d"),
                ("reason", "security"),
                ("impact", "low"),
                ("urgency", "low"),
                ("manager", &mona_id.to_string()),
            ],
        )
        .await;
    let n = p
        .location
        .unwrap()
        .trim_start_matches("/releases/")
        .to_string();
    assert_eq!(sent(&app), pairs(&[("mona", "registered")]));
    clear(&app);

    // Phase entered: the coordinator (unless they moved it) and the watchers; approval requested: each eligible voter.
    watcher
        .post(&format!("/releases/{n}/watch"), &[("action", "watch")])
        .await
        .assert_status(303);
    take(&app, &c, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    assert_eq!(
        sent(&app),
        pairs(&[("wes", "phase_entered"), ("ann", "approval_requested")])
    );
    clear(&app);

    // Task assigned: its assignee.
    let bystander: i64 = users::table
        .filter(users::username.eq("ann"))
        .select(users::id)
        .first(&mut app.conn())
        .unwrap();
    c.post(
        &format!("/releases/{n}/tasks"),
        &[
            ("title", "Review the plan"),
            ("assignee", &bystander.to_string()),
        ],
    )
    .await
    .assert_status(303);
    assert_eq!(sent(&app), pairs(&[("ann", "task_assigned")]));
    diesel::update(tasks::table)
        .set(tasks::status.eq("done"))
        .execute(&mut app.conn())
        .unwrap();
    clear(&app);

    // Approval decided: the coordinator and the named manager. (Ann is now excluded as a task assignee; the CAB chair votes.)
    save(
        &app,
        &c,
        &n,
        &[
            ("release_plan", "P"),
            ("deployment_plan", "D"),
            ("test_criteria", "T"),
            ("backout_plan", "B"),
            ("planned_start", "2026-12-01T09:00"),
            ("planned_end", "2026-12-20T09:00"),
        ],
    )
    .await;
    clear(&app);
    cab_approves(&app, &n).await;
    assert_eq!(
        sent(&app),
        pairs(&[("cora", "approval_decided"), ("mona", "approval_decided")])
    );
    clear(&app);

    // Back-out activated: the managers; abandoned: everyone involved.
    take(&app, &c, &n, "Advance to Build and Test", "")
        .await
        .assert_status(303);
    save(&app, &c, &n, &[("test_result", "Passed")]).await;
    cab_approves(&app, &n).await;
    take(&app, &c, &n, "Advance to Training", "")
        .await
        .assert_status(303);
    clear(&app);
    take(&app, &c, &n, "Activate back-out plan", "It broke")
        .await
        .assert_status(303);
    let got = sent(&app);
    assert!(
        got.contains(&("mona".into(), "back_out".into()))
            && got.contains(&("max".into(), "back_out".into())),
        "{got:?}"
    );
    assert!(
        !got.iter().any(|(u, _)| u == "bystander" || u == "cora"),
        "{got:?}"
    );
    clear(&app);
    take(&app, &c, &n, "Abandon release", "Not worth it")
        .await
        .assert_status(303);
    assert_eq!(
        sent(&app),
        pairs(&[("mona", "ended"), ("ann", "ended"), ("wes", "ended")])
    );

    // The inbox shows them, newest first, and marks them read.
    let ann = app.client();
    ann.login("ann", PASSWORD).await;
    let page = ann.get("/notifications").await;
    page.assert_status(200)
        .assert_contains("abandoned")
        .assert_contains("Unread")
        .assert_contains("Notifications <span class=\"count\">");
    ann.post("/notifications/read-all", &[])
        .await
        .assert_redirect_to("/notifications");
    ann.get("/notifications")
        .await
        .assert_lacks("<strong class=\"badge\">Unread</strong>");
    // Nobody reads another user's notification.
    let mona_note: i64 = notifications::table
        .inner_join(users::table)
        .filter(users::username.eq("mona"))
        .select(notifications::id)
        .first(&mut app.conn())
        .unwrap();
    ann.post(&format!("/notifications/{mona_note}/read"), &[])
        .await
        .assert_status(404);
}

/// A minimal SMTP server on loopback that records every message it accepts.
struct SmtpSink {
    messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    fn start_on(listener: TcpListener) -> SmtpSink {
        let messages = Arc::new(Mutex::new(Vec::new()));
        let store = messages.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let store = store.clone();
                std::thread::spawn(move || {
                    let mut w = stream.try_clone().unwrap();
                    let mut r = BufReader::new(stream);
                    let _ = w.write_all(b"220 sink ESMTP\r\n");
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let cmd = line.to_ascii_uppercase();
                        if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                            let _ = w.write_all(b"250-sink\r\n250 8BITMIME\r\n");
                        } else if cmd.starts_with("DATA") {
                            let _ = w.write_all(b"354 go on\r\n");
                            let mut body = String::new();
                            loop {
                                line.clear();
                                if r.read_line(&mut line).unwrap_or(0) == 0 || line == ".\r\n" {
                                    break;
                                }
                                body.push_str(&line);
                            }
                            store.lock().unwrap().push(body);
                            let _ = w.write_all(b"250 queued\r\n");
                        } else if cmd.starts_with("QUIT") {
                            let _ = w.write_all(b"221 bye\r\n");
                            return;
                        } else {
                            let _ = w.write_all(b"250 ok\r\n");
                        }
                    }
                });
            }
        });
        SmtpSink { messages }
    }
}

#[tokio::test]
async fn an_instance_without_a_mail_server_notifies_in_the_app_and_queues_no_mail() {
    let app = TestApp::spawn_without_mail().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let m = app.signed_in("mona", &[Role::Manager]).await;
    diesel::update(users::table.filter(users::username.eq("cora")))
        .set(users::email.eq(Some("cora@example.org")))
        .execute(&mut app.conn())
        .unwrap();
    let n = register(&c, "Billing", "minor", "low", "low").await;
    take(&app, &m, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    assert!(
        sent(&app).contains(&("cora".to_string(), "phase_entered".to_string())),
        "{:?}",
        sent(&app)
    );
    let queued: i64 = mail_outbox::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(queued, 0, "nothing would ever send it");
}

#[tokio::test]
async fn a_phase_change_is_mailed_once_even_when_the_mail_server_was_down_at_first() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let m = app.signed_in("mona", &[Role::Manager]).await;
    diesel::update(users::table.filter(users::username.eq("cora")))
        .set(users::email.eq(Some("cora@example.org")))
        .execute(&mut app.conn())
        .unwrap();
    let n = register(&c, "Billing", "minor", "low", "low").await;
    // The manager moves it: the coordinator hears of it, by e-mail too.
    crate::releases::take(&app, &m, &n, "Advance to Plan and Design", "")
        .await
        .assert_status(303);
    let queued: i64 = mail_outbox::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(queued, 1);

    // The mail server is down: nothing is lost, the row waits with an error.
    let reserved = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);
    let mailer = Mailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        "Relman <relman@example.org>",
        "http://relman.example",
    )
    .unwrap();
    let pool = app.pool.clone();
    let first = tokio::task::spawn_blocking({
        let pool = pool.clone();
        let mailer = Mailer::new(
            &format!("smtp://127.0.0.1:{port}"),
            "Relman <relman@example.org>",
            "http://relman.example",
        )
        .unwrap();
        move || mailer.send_due(&mut pool.get().unwrap()).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(first, 0);
    let (attempts, err): (i32, Option<String>) = mail_outbox::table
        .select((mail_outbox::attempts, mail_outbox::last_error))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(attempts, 1);
    assert!(err.is_some());

    // The server comes back; once the retry is due, the mail goes out once.
    let sink = SmtpSink::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap());
    diesel::update(mail_outbox::table)
        .set(mail_outbox::next_attempt_at.eq(Utc::now()))
        .execute(&mut app.conn())
        .unwrap();
    let (a, b) = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().unwrap();
        (
            mailer.send_due(&mut conn).unwrap(),
            mailer.send_due(&mut conn).unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!((a, b), (1, 0));
    let messages = sink.messages.lock().unwrap().clone();
    assert_eq!(messages.len(), 1, "sent exactly once");
    assert!(
        messages[0].contains("Subject: RL-000001 Billing: entered Plan and Design"),
        "{}",
        messages[0]
    );
    assert!(messages[0].contains("http://relman.example/releases/RL-000001"));
    assert!(messages[0].contains("text/plain") && messages[0].contains("text/html"));
}

#[tokio::test]
async fn a_late_task_raises_one_alert_even_with_two_monitors_and_completing_it_clears_it() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;
    c.post(
        &format!("/releases/{n}/tasks"),
        &[("title", "Order licences"), ("due", "2020-01-01T09:00")],
    )
    .await
    .assert_status(303);
    let task: i64 = tasks::table
        .select(tasks::id)
        .first(&mut app.conn())
        .unwrap();

    // Several runs, two monitors at once each time.
    for _ in 0..3 {
        let (p1, p2) = (app.pool.clone(), app.pool.clone());
        let a = std::thread::spawn(move || {
            monitor::run_once(&mut p1.get().unwrap(), Utc::now()).unwrap()
        });
        let b = std::thread::spawn(move || {
            monitor::run_once(&mut p2.get().unwrap(), Utc::now()).unwrap()
        });
        a.join().unwrap();
        b.join().unwrap();
    }
    let task_alerts: i64 = alerts::table
        .filter(alerts::kind.eq("task_overdue"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(task_alerts, 1);
    let notes: i64 = notifications::table
        .filter(notifications::kind.eq("deadline_missed"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(notes, 1, "the coordinator is told once");
    let page = c.get(&format!("/releases/{n}")).await;
    page.assert_contains("Deadline alerts")
        .assert_contains("The task “Order licences” was due 2020-01-01 09:00 UTC");

    let v: i32 = tasks::table
        .find(task)
        .select(tasks::version)
        .first(&mut app.conn())
        .unwrap();
    c.post(
        &format!("/tasks/{task}"),
        &[("action", "complete"), ("version", &v.to_string())],
    )
    .await
    .assert_status(303);
    // Completing it cleared the alert at once (migration 000034), with no monitor pass.
    c.get(&format!("/releases/{n}"))
        .await
        .assert_lacks("Deadline alerts");
    let open: i64 = alerts::table
        .filter(alerts::cleared_at.is_null())
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(open, 0);
    let run = monitor::run_once(&mut app.conn(), Utc::now()).unwrap();
    assert_eq!(run, monitor::Run::default(), "nothing left for the monitor");
}

/// A release past its planned end has an alert until the change that resolves it: moving the
/// planned end clears it in the same request. What is changed with triggers off (a bulk load,
/// a restore) the monitor's sweep clears.
#[tokio::test]
async fn moving_the_planned_end_clears_its_alert_at_once_and_the_sweep_catches_the_rest() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;
    let number = relman::paths::parse_release_number(&n).unwrap();
    let set_planned_end = |sql_end: &str, triggers: bool| {
        let mut conn = app.conn();
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            if !triggers {
                diesel::sql_query("SET LOCAL session_replication_role = replica").execute(conn)?;
            }
            diesel::sql_query(format!(
                "UPDATE releases SET planned_start = {sql_end} - interval '1 day', planned_end = {sql_end} WHERE number = {number} AND kind = 'release'"
            ))
            .execute(conn)
        })
        .unwrap();
    };
    let open = || -> Vec<String> {
        alerts::table
            .filter(alerts::cleared_at.is_null())
            .select(alerts::kind)
            .load(&mut app.conn())
            .unwrap()
    };
    set_planned_end("now() - interval '2 days'", true);
    let run = monitor::run_once(&mut app.conn(), Utc::now()).unwrap();
    assert_eq!(run.raised, 1);
    assert_eq!(open(), ["release_overdue"]);
    c.get(&format!("/releases/{n}"))
        .await
        .assert_contains("Deadline alerts")
        .assert_contains("The planned end was");

    // Moved to next week through the database as an edit would: cleared in that transaction.
    set_planned_end("now() + interval '7 days'", true);
    assert!(open().is_empty(), "the change cleared its alert");
    c.get(&format!("/releases/{n}"))
        .await
        .assert_lacks("Deadline alerts");

    // Late again: raised again. Then moved with triggers off: the sweep clears it.
    set_planned_end("now() - interval '1 day'", true);
    assert_eq!(
        monitor::run_once(&mut app.conn(), Utc::now())
            .unwrap()
            .raised,
        1
    );
    set_planned_end("now() + interval '7 days'", false);
    assert_eq!(open(), ["release_overdue"], "nothing cleared it yet");
    let run = monitor::run_once(&mut app.conn(), Utc::now()).unwrap();
    assert_eq!(
        run,
        monitor::Run {
            raised: 0,
            cleared: 1
        }
    );
    assert!(open().is_empty());
}

#[tokio::test]
async fn a_missed_phase_deadline_notifies_coordinator_and_manager_once() {
    let app = TestApp::spawn().await;
    let mona = app.user("mona", &[Role::Manager], &[]);
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let p = c
        .post(
            "/releases/new",
            &[
                ("category", "1"),
                ("type", "minor"),
                ("title", "Billing"),
                ("reason", "security"),
                ("impact", "low"),
                ("urgency", "low"),
                ("manager", &mona.to_string()),
            ],
        )
        .await;
    assert_eq!(p.status, 303);
    clear(&app);
    let later = Utc::now() + chrono::Duration::days(30);
    monitor::run_once(&mut app.conn(), later).unwrap();
    monitor::run_once(&mut app.conn(), later).unwrap();
    assert_eq!(
        sent(&app),
        pairs(&[("cora", "deadline_missed"), ("mona", "deadline_missed")])
    );
}

/// Notifications carry no foreign keys (migration 000031: they cost a move a tenth of its
/// CPU); what they guarded holds otherwise: a note is written only for a user who exists and
/// is active, a user who has notes cannot be deleted (only deactivated), and releases are
/// never deleted.
#[tokio::test]
async fn notes_only_reach_existing_users_and_what_they_refer_to_is_never_deleted() {
    let app = TestApp::spawn().await;
    let mona_id = app.user("mona", &[Role::Manager], &[]);
    let idle_id = app.user("idle", &[Role::Coordinator], &[]);
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let n = register(&c, "Billing", "minor", "low", "low").await;
    let release_id: i64 = relman::schema::releases::table
        .filter(
            relman::schema::releases::number.eq(relman::paths::parse_release_number(&n).unwrap()),
        )
        .select(relman::schema::releases::id)
        .first(&mut app.conn())
        .unwrap();
    clear(&app);

    let written: i32 = diesel::sql_query(format!(
        "SELECT notify_notes(ARRAY[{mona_id}, 987654321]::bigint[], ARRAY[1, 1], ARRAY[{release_id}]::bigint[], \
         ARRAY['phase_entered'], ARRAY['s'], ARRAY['b'], ARRAY['/']) AS written"
    ))
    .get_result::<Written>(&mut app.conn())
    .unwrap()
    .written;
    assert_eq!(written, 1, "the unknown user gets nothing");
    assert_eq!(sent(&app), pairs(&[("mona", "phase_entered")]));

    let refused = |sql: &str, says: &str| {
        let e = diesel::sql_query(sql)
            .execute(&mut app.conn())
            .expect_err(sql);
        assert!(
            matches!(
                e,
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                    _
                )
            ),
            "{sql}: {e:?}"
        );
        assert!(e.to_string().contains(says), "{sql}: {e}");
    };
    refused(
        &format!("DELETE FROM users WHERE id = {mona_id}"),
        "deactivate the account",
    );
    refused(
        &format!("DELETE FROM releases WHERE id = {release_id}"),
        "never deleted",
    );
    // A user nobody ever notified can still be removed.
    assert_eq!(
        diesel::delete(users::table.find(idle_id))
            .execute(&mut app.conn())
            .unwrap(),
        1
    );
}

#[derive(diesel::QueryableByName)]
struct Written {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    written: i32,
}
