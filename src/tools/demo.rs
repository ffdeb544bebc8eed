//! `relman demo`: a realistic demo data set built through the same services the pages use —
//! users for every role, releases of every type in every phase and state, tasks, approvals
//! in every state, related changes, a bundle, overdue alerts, a blackout and published lessons.
use std::collections::HashMap;

use chrono::{Duration, Utc};
use diesel::prelude::*;

use crate::auth::password;
use crate::domain::fields::{fields_for, FieldKind};
use crate::domain::permissions::Actor;
use crate::domain::roles::{Role, Roles};
use crate::domain::workflow::{RecordKind, TransitionKind};
use crate::error::{AppError, AppResult};
use crate::models::{approvals as am, groups, releases as rel, tasks as tm, workflows as wfm};
use crate::paths;
use crate::services::approvals::{self as ap, Decision};
use crate::services::releases::{self as rs, RegisterInput, TakeOutcome};
use crate::services::{accounts, knowledge, related, tasks};

/// The demo's people: (user name, display name, roles, groups).
const PEOPLE: &[(&str, &str, &[Role], &[&str])] = &[
    ("mara", "Mara Lindqvist (manager)", &[Role::Manager], &[]),
    (
        "colin",
        "Colin Abara (coordinator)",
        &[Role::Coordinator],
        &[],
    ),
    (
        "chloe",
        "Chloé Martin (coordinator)",
        &[Role::Coordinator],
        &[],
    ),
    (
        "ada",
        "Ada Novak (CAB)",
        &[Role::Approver],
        &["CAB", "ECAB"],
    ),
    ("bram", "Bram de Vries (CAB)", &[Role::Approver], &["CAB"]),
    (
        "cyra",
        "Cyra Osei (CAB)",
        &[Role::Approver],
        &["CAB", "ECAB"],
    ),
    ("ivan", "Ivan Petrov (administrator)", &[Role::Admin], &[]),
];

pub struct Demo {
    /// (user name, password) of the users created.
    pub users: Vec<(String, String)>,
    pub releases: usize,
    pub changes: usize,
}

struct Cast {
    manager: Actor,
    coordinators: Vec<Actor>,
    approvers: Vec<Actor>,
}

fn actor(conn: &mut PgConnection, name: &str) -> AppResult<Actor> {
    let u = crate::models::users::find_by_username(conn, name)?.ok_or(AppError::NotFound)?;
    Ok(Actor {
        id: u.id,
        roles: u.role_set(),
    })
}

/// Load the demo. Refuses when demo users already exist (run it on a fresh database).
pub fn load(conn: &mut PgConnection) -> AppResult<Demo> {
    if crate::models::users::find_by_username(conn, "mara")?.is_some() {
        return Err(AppError::BadRequest(
            "The demo data is already loaded (user mara exists).".into(),
        ));
    }
    let all_groups = groups::all(conn)?;
    let mut users = Vec::new();
    for (name, display, roles, gs) in PEOPLE {
        let pw = password::random_password();
        let ids: Vec<i64> = gs
            .iter()
            .filter_map(|g| all_groups.iter().find(|x| x.name == *g).map(|x| x.id))
            .collect();
        let email = format!("{name}@example.org");
        accounts::create_user(
            conn,
            &accounts::NewAccount {
                username: name,
                display_name: display,
                email: Some(&email),
                password: &pw,
                roles: Roles::of(roles),
                groups: &ids,
            },
        )
        .map_err(|e| AppError::Internal(e.to_string()))?;
        users.push((name.to_string(), pw));
    }
    let cast = Cast {
        manager: actor(conn, "mara")?,
        coordinators: vec![actor(conn, "colin")?, actor(conn, "chloe")?],
        approvers: vec![
            actor(conn, "ada")?,
            actor(conn, "bram")?,
            actor(conn, "cyra")?,
        ],
    };
    let now = Utc::now();
    // A blackout over the year-end freeze.
    let freeze_start = now + Duration::days(60);
    crate::models::blackouts::insert(
        conn,
        &crate::models::blackouts::BlackoutInput {
            name: "Year-end freeze",
            starts_at: freeze_start,
            ends_at: freeze_start + Duration::days(5),
            category_id: None,
        },
        cast.manager.id,
    )?;

    // Releases: every type, spread over every phase and outcome.
    let titles = [
        "Billing platform 4.2",
        "Customer portal redesign",
        "Payroll year-end update",
        "Core banking patch",
        "Mobile app 3.0",
        "Data warehouse refresh",
        "CRM upgrade",
        "Identity provider migration",
        "Network firmware rollout",
        "Email gateway hardening",
        "HR self-service",
        "Logistics tracking API",
    ];
    // (target, impact/urgency high?)
    let targets: &[(&str, bool)] = &[
        ("Assess", false),
        ("Plan and Design", false),
        ("Plan and Design:denied", false),
        ("Build and Test", false),
        ("Training", true),
        ("Distribution and Rollout", false),
        ("Back Out", false),
        ("Verification", false),
        ("closed", false),
        ("closed:backed_out", false),
        ("abandoned", false),
        ("Build and Test:overdue", false),
    ];
    let types = ["major", "minor", "emergency"];
    let mut numbers = Vec::new();
    let mut i = 0;
    for ty in types {
        for (target, high) in targets {
            let title = format!("{} ({ty})", titles[i % titles.len()]);
            let coordinator = cast.coordinators[i % 2];
            let overdue = target.ends_with(":overdue");
            let start = if overdue {
                now - Duration::days(40)
            } else {
                now + Duration::days((i as i64 % 9) * 6 - 10)
            };
            let end = start + Duration::days(if ty == "emergency" { 1 } else { 12 });
            let level = if *high {
                "high"
            } else {
                ["low", "medium"][i % 2]
            };
            let input = RegisterInput {
                category: "1".into(),
                release_type: ty.into(),
                title,
                description: "Scope, rationale and the services it touches are described in the release plan.".into(),
                reason: ["business_requirement", "security", "incident_problem", "regulatory"][i % 4].into(),
                impact: level.into(),
                urgency: if *high { "high".into() } else { "medium".into() },
                planned_start: start.format("%Y-%m-%dT%H:%M").to_string(),
                planned_end: end.format("%Y-%m-%dT%H:%M").to_string(),
                coordinator: coordinator.id.to_string(),
                manager: cast.manager.id.to_string(),
                model: match ty {
                    "major" => "1",
                    "minor" => "2",
                    _ => "3",
                }
                .into(),
                ..Default::default()
            };
            let n = rs::register_kind(conn, RecordKind::Release, coordinator, &input)?
                .map_err(|e| AppError::Internal(format!("demo release: {:?}", e.0)))?;
            drive(conn, &cast, coordinator, RecordKind::Release, n, target)?;
            if overdue {
                // Make it late: its phase was due long ago.
                diesel::update(
                    crate::schema::releases::table
                        .filter(crate::schema::releases::kind.eq("release"))
                        .filter(crate::schema::releases::number.eq(n)),
                )
                .set(crate::schema::releases::phase_due_at.eq(Some(now - Duration::days(3))))
                .execute(conn)?;
            }
            numbers.push((n, target.to_string()));
            i += 1;
        }
    }

    // Changes in their own workflows, most related to releases that are still on their way.
    let change_targets = [
        ("Normal change", "normal", "Approve"),
        ("Normal change", "normal", "Implement"),
        ("Standard change", "standard", "Implement"),
        ("Emergency change", "emergency", "Review"),
        ("Normal change", "normal", "Registered"),
        ("Normal change", "normal", "closed"),
    ];
    let cats = wfm::categories_all(conn)?;
    let open_releases: Vec<i64> = numbers
        .iter()
        .filter(|(_, t)| t.starts_with("Assess") || t.starts_with("Plan") || t.starts_with("Build"))
        .map(|(n, _)| *n)
        .collect();
    let mut changes = 0;
    for (k, (cat, ty, target)) in change_targets.iter().enumerate() {
        let category = cats
            .iter()
            .find(|c| c.name == *cat)
            .map(|c| c.id)
            .unwrap_or(0);
        let coordinator = cast.coordinators[k % 2];
        let input = RegisterInput {
            category: category.to_string(),
            release_type: ty.to_string(),
            title: [
                "Upgrade the database driver",
                "Open firewall port for the API",
                "Rotate TLS certificates",
                "Hotfix the payment timeout",
                "Add a read replica",
                "Retire the old SFTP server",
            ][k]
                .into(),
            description: "Implementation and back-out steps are in the plan.".into(),
            impact: "medium".into(),
            urgency: "medium".into(),
            planned_start: (now + Duration::days(k as i64 * 3))
                .format("%Y-%m-%dT%H:%M")
                .to_string(),
            planned_end: (now + Duration::days(k as i64 * 3 + 1))
                .format("%Y-%m-%dT%H:%M")
                .to_string(),
            coordinator: coordinator.id.to_string(),
            ..Default::default()
        };
        let n = rs::register_kind(conn, RecordKind::Change, coordinator, &input)?
            .map_err(|e| AppError::Internal(format!("demo change: {:?}", e.0)))?;
        if let Some(r) = open_releases.get(k % open_releases.len().max(1)) {
            let owner = rel::by_number(conn, *r)?;
            let who = if owner.coordinator_id == Some(cast.coordinators[0].id) {
                cast.coordinators[0]
            } else {
                cast.coordinators[1]
            };
            let _ = related::relate_change(conn, who, *r, &paths::change_number(n), false)?;
        }
        drive(conn, &cast, coordinator, RecordKind::Change, n, target)?;
        changes += 1;
    }

    // A package bundling two releases.
    if let (Some(p), Some(a), Some(b)) = (numbers.get(0), numbers.get(1), numbers.get(3)) {
        let owner = rel::by_number(conn, p.0)?;
        let who = if owner.coordinator_id == Some(cast.coordinators[0].id) {
            cast.coordinators[0]
        } else {
            cast.coordinators[1]
        };
        let _ = related::bundle(conn, who, p.0, &paths::release_number(a.0), false)?;
        let _ = related::bundle(conn, cast.manager, p.0, &paths::release_number(b.0), false)?;
    }

    // Lessons from the closed releases.
    for (n, target) in numbers.iter().filter(|(_, t)| t.starts_with("closed")) {
        let r = rel::by_number(conn, *n)?;
        let input = knowledge::ArticleInput {
            title: format!("Lessons learned: {}", r.title),
            body: if target.contains("backed_out") {
                "The rollout was backed out: the test data did not cover the production volumes. Test with a production-sized copy.".into()
            } else {
                "Book the database administrator a week ahead; the index rebuild took three hours, not one.".into()
            },
            affected_services: "Billing, Customer portal".into(),
            ..Default::default()
        };
        let _ = knowledge::publish(conn, cast.manager, *n, &input)?;
    }

    // The monitor raises the alerts of what is late.
    crate::services::monitor::run_once(conn, Utc::now())?;
    Ok(Demo {
        users,
        releases: numbers.len(),
        changes,
    })
}

/// Move a record forward until it reaches `target` (a phase name, "closed", "closed:backed_out",
/// "abandoned", or "<phase>:denied" to stop with a denied approval).
fn drive(
    conn: &mut PgConnection,
    cast: &Cast,
    who: Actor,
    kind: RecordKind,
    number: i64,
    target: &str,
) -> AppResult<()> {
    let (goal, twist) = target.split_once(':').unwrap_or((target, ""));
    for _ in 0..20 {
        let l = rs::load_kind(conn, kind, number)?;
        if l.state() != crate::domain::workflow::RecordState::Active {
            return Ok(());
        }
        let phase = l
            .workflow()
            .phase_name(l.record.release.phase_id)
            .to_string();
        if goal == "abandoned" {
            let t = l
                .workflow()
                .transitions_from(l.record.release.phase_id)
                .find(|t| t.kind == TransitionKind::Abandon)
                .cloned();
            if let Some(t) = t {
                rs::take_transition_kind(
                    conn,
                    kind,
                    who,
                    number,
                    t.id,
                    l.record.release.version,
                    "No longer needed: folded into another release.",
                )?;
            }
            return Ok(());
        }
        if phase == goal {
            if twist == "denied" {
                vote_all(conn, cast, &l, false)?;
            }
            return Ok(());
        }
        fill_fields(conn, who, kind, number)?;
        complete_tasks(conn, who, kind, number)?;
        let l = rs::load_kind(conn, kind, number)?;
        vote_all(conn, cast, &l, true)?;
        let l = rs::load_kind(conn, kind, number)?;
        let wants_back_out = twist == "backed_out" || goal == "Back Out";
        let from = l.record.release.phase_id;
        let choice = l
            .workflow()
            .transitions_from(from)
            .filter(|t| match t.kind {
                TransitionKind::BackOut => wants_back_out,
                TransitionKind::Advance => {
                    !(wants_back_out
                        && l.workflow()
                            .transitions_from(from)
                            .any(|x| x.kind == TransitionKind::BackOut))
                }
                TransitionKind::Close => {
                    goal == "closed"
                        && t.outcome
                            .map(|o| {
                                o.as_str()
                                    == if twist == "backed_out" {
                                        "backed_out"
                                    } else {
                                        "successful"
                                    }
                            })
                            .unwrap_or(false)
                }
                _ => false,
            })
            .max_by_key(|t| t.kind == TransitionKind::BackOut)
            .cloned();
        let Some(t) = choice else { return Ok(()) };
        let reason = if t.kind == TransitionKind::BackOut {
            "The deployment failed its smoke tests."
        } else {
            ""
        };
        match rs::take_transition_kind(
            conn,
            kind,
            who,
            number,
            t.id,
            l.record.release.version,
            reason,
        )? {
            TakeOutcome::Done(_) => {}
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// Fill every empty editable field of the current phase with plausible text.
fn fill_fields(
    conn: &mut PgConnection,
    who: Actor,
    kind: RecordKind,
    number: i64,
) -> AppResult<()> {
    let l = rs::load_kind(conn, kind, number)?;
    let r = &l.record.release;
    let mut values = HashMap::new();
    for f in fields_for(kind) {
        if !l.current_rule(f.key).editable() || !l.record.is_empty(f.key) {
            continue;
        }
        let v = match f.kind {
            // Services differ between releases, so only some of them clash in the calendar.
            FieldKind::Text if f.key == "affected_services" => {
                SERVICES[(number as usize) % SERVICES.len()].to_string()
            }
            FieldKind::Text => sample(f.key).to_string(),
            FieldKind::DateTime => {
                let base = r.planned_start.unwrap_or_else(Utc::now);
                match f.key {
                    "actual_end" | "planned_end" => (base + Duration::days(1))
                        .format("%Y-%m-%dT%H:%M")
                        .to_string(),
                    _ => base.format("%Y-%m-%dT%H:%M").to_string(),
                }
            }
            _ => continue,
        };
        values.insert(f.key.to_string(), v);
    }
    if !values.is_empty() {
        rs::save_screen_kind(conn, kind, who, number, r.version, &values)?;
    }
    Ok(())
}

const SERVICES: &[&str] = &[
    "Billing",
    "Customer portal",
    "Payroll",
    "Core banking",
    "Mobile app",
    "Data warehouse",
    "CRM",
    "Identity provider",
    "Network",
    "E-mail gateway",
    "HR self-service",
    "Logistics API",
    "Billing, CRM",
];

fn sample(key: &str) -> &'static str {
    match key {
        "release_plan" => "Scope agreed with the service owner; two sprints of build; deploy on a Tuesday evening.",
        "deployment_plan" => "Blue-green deployment: switch the load balancer after smoke tests pass.",
        "test_criteria" => "All regression tests green; p95 latency within 10 % of the current release.",
        "test_result" => "Regression suite passed (1,284 tests); latency within 4 %.",
        "backout_plan" => "Switch the load balancer back to the blue pool; restore the database snapshot if the schema changed.",
        "training_needs" => "A one-hour briefing for the service desk; updated knowledge articles.",
        "financial_impact" => "Within the approved budget; licences renewed at the same price.",
        "verification" => "Smoke tests and a week of monitoring showed no regressions.",
        "evaluation" => "Went to plan. Book the database administrator a week ahead next time.",
        "affected_services" => "Billing, Customer portal",
        "description" => "Described in the plan.",
        _ => "Recorded for the demo.",
    }
}

fn complete_tasks(
    conn: &mut PgConnection,
    who: Actor,
    kind: RecordKind,
    number: i64,
) -> AppResult<()> {
    let r = rel::by_kind_number(conn, kind.as_str(), number)?;
    for t in tm::of_release(conn, r.id)?
        .into_iter()
        .filter(|t| t.phase_id == r.phase_id && t.is_open())
    {
        tasks::act(
            conn,
            who,
            t.id,
            t.version,
            tasks::TaskAction::Complete,
            &|c, w| wfm::load(c, w),
        )?;
    }
    Ok(())
}

/// Every eligible demo approver votes on the live approval: all approve, or all deny.
fn vote_all(conn: &mut PgConnection, cast: &Cast, l: &rs::Loaded, approve: bool) -> AppResult<()> {
    let r = &l.record.release;
    let Some(a) = am::live(conn, r.id, r.phase_id)? else {
        return Ok(());
    };
    if a.status != "pending" {
        return Ok(());
    }
    let eligible = ap::read_now(conn, &a, r)?.reading.eligible;
    for v in cast.approvers.iter().filter(|v| eligible.contains(&v.id)) {
        let decision = if approve {
            Decision::Approve
        } else {
            Decision::Deny
        };
        let comment = if approve {
            ""
        } else {
            "The back-out plan does not cover the database migration."
        };
        ap::decide(conn, *v, a.id, a.cycle, decision, comment, None)?;
    }
    Ok(())
}
