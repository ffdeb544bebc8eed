//! The dashboard at `/`: what needs the user now, by role — their open tasks, approvals
//! waiting for them, overdue releases, active releases by phase, the coming two weeks, and
//! for managers the totals.
use actix_web::{get, web, HttpResponse};
use askama::Template;
use chrono::Utc;

use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::domain::roles::Role;
use crate::domain::workflow::{RecordState, ReleaseType};
use crate::error::AppResult;
use crate::paths;
use crate::services::approvals::InboxItem;
use crate::services::reports::{self as svc, ReleaseLine, DASHBOARD_ROWS};
use crate::views::{self, Ctx};

use super::tasks::{my_task_views, MyTaskView};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(dashboard);
}

/// A release row of the overdue and schedule panels.
struct LineView {
    number: String,
    href: String,
    title: String,
    release_type: String,
    phase: String,
    coordinator: String,
    planned_start: String,
    planned_end: String,
    /// Why it is overdue ("phase due …", "planned end …").
    late: String,
}

/// The phases of one release workflow with their counts of active releases.
struct WorkflowCounts {
    workflow: String,
    phases: Vec<svc::PhaseCount>,
    total: i64,
}

struct StateTotal {
    label: &'static str,
    count: i64,
    href: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    ctx: Ctx,
    role_labels: Vec<&'static str>,
    is_manager: bool,
    is_approver: bool,
    tasks: Vec<MyTaskView>,
    more_tasks: bool,
    approvals: Vec<InboxItem>,
    approvals_waiting: usize,
    show_overdue: bool,
    overdue: Vec<LineView>,
    more_overdue: bool,
    overdue_href: String,
    by_phase: Vec<WorkflowCounts>,
    schedule: Vec<LineView>,
    more_schedule: bool,
    schedule_until: String,
    schedule_href: String,
    totals: Vec<StateTotal>,
    overdue_count: i64,
}

/// GET /
#[get("/")]
async fn dashboard(user: CurrentUser, pool: web::Data<DbPool>) -> AppResult<HttpResponse> {
    let slot = match super::kept_page::lookup(&user).await {
        Ok(kept) => return Ok(kept),
        Err(slot) => slot,
    };
    let role_labels = user.roles.iter().map(|r| r.label()).collect();
    let (actor, now) = (user.actor(), Utc::now());
    let d = db::run(&pool, move |conn| Ok(svc::dashboard(conn, actor, now)?)).await?;
    let name = |id: Option<i64>| {
        id.and_then(|id| d.names.iter().find(|(i, _)| *i == id))
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    let line = |r: &ReleaseLine| {
        let mut late = Vec::new();
        if let Some(due) = r.phase_due_at.filter(|t| *t < now) {
            late.push(format!("phase due {}", views::datetime(&due)));
        }
        if let Some(end) = r.planned_end.filter(|t| *t < now) {
            late.push(format!("planned end {}", views::datetime(&end)));
        }
        LineView {
            number: paths::release_number(r.number),
            href: paths::release(r.number),
            title: r.title.clone(),
            release_type: r
                .release_type
                .parse::<ReleaseType>()
                .map(|t| t.label().to_string())
                .unwrap_or_default(),
            phase: r.phase.clone(),
            coordinator: name(r.coordinator_id),
            planned_start: views::opt_datetime(&r.planned_start),
            planned_end: views::opt_datetime(&r.planned_end),
            late: late.join("; "),
        }
    };
    let is_manager = user.has(Role::Manager);
    let mut tasks = my_task_views(d.tasks.clone(), user.id);
    let more_tasks = tasks.len() > DASHBOARD_ROWS;
    tasks.truncate(DASHBOARD_ROWS);
    let overdue_rows = d.overdue.clone().unwrap_or_default();
    let mut by_phase: Vec<WorkflowCounts> = Vec::new();
    for p in d.by_phase {
        match by_phase.last_mut() {
            Some(w) if w.workflow == p.workflow => {
                w.total += p.count;
                w.phases.push(p);
            }
            _ => by_phase.push(WorkflowCounts {
                workflow: p.workflow.clone(),
                total: p.count,
                phases: vec![p],
            }),
        }
    }
    let today = svc::day_start(now);
    let (_, until) = svc::schedule_window(now);
    let (totals, overdue_count) = match &d.totals {
        Some((by_state, overdue)) => (
            by_state
                .iter()
                .map(|(s, n)| {
                    let state = s.parse::<RecordState>().unwrap_or(RecordState::Active);
                    StateTotal {
                        label: state.label(),
                        count: *n,
                        href: format!("{}?state={}", paths::RELEASES, state.as_str()),
                    }
                })
                .collect(),
            *overdue,
        ),
        None => (Vec::new(), 0),
    };
    super::kept_page::page(
        slot,
        &DashboardPage {
            ctx: user.ctx(),
            role_labels,
            is_manager,
            is_approver: user.has(Role::Approver),
            more_tasks,
            tasks,
            approvals_waiting: user.pending_approvals.max(d.approvals.len()),
            approvals: d.approvals,
            show_overdue: d.overdue.is_some(),
            more_overdue: overdue_rows.len() > DASHBOARD_ROWS,
            overdue: overdue_rows
                .iter()
                .take(DASHBOARD_ROWS)
                .map(&line)
                .collect(),
            overdue_href: if is_manager {
                format!("{}#overdue", paths::MANAGEMENT_REPORT)
            } else {
                format!(
                    "{}?state=active&coordinator={}&sort=planned_end",
                    paths::RELEASES,
                    user.id
                )
            },
            by_phase,
            more_schedule: d.schedule.len() > DASHBOARD_ROWS,
            schedule: d.schedule.iter().take(DASHBOARD_ROWS).map(&line).collect(),
            schedule_until: until.format("%Y-%m-%d").to_string(),
            schedule_href: format!(
                "{}?state=active&sort=planned_start&from={}&to={}",
                paths::RELEASES,
                today.format("%Y-%m-%d"),
                until.format("%Y-%m-%d")
            ),
            totals,
            overdue_count,
        },
    )
}
