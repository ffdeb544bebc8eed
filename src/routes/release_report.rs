//! The printable release report (`/releases/{number}/report`, nav-less `print.html` layout):
//! a one-page summary a manager takes to a meeting (outcome and state, planned against actual
//! window, phase timeline, approvals and who decided, open and cancelled work, the reason it
//! was backed out or abandoned, related changes), then the details (every field, the full
//! timeline, tasks by phase, approval logs, package and alerts, history). `static/print.css`
//! breaks pages only where a part would split badly.
use actix_web::{get, web, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};

use super::page;
use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::domain::fields::{FieldKind, RELEASE_FIELDS};
use crate::domain::report::{self as rp, span};
use crate::domain::workflow::{RecordState, ReleaseType};
use crate::error::{AppError, AppResult};
use crate::models::releases as rel;
use crate::models::{approvals as am, history, tasks as tm, users};
use crate::paths;
use crate::services::approvals::ApprovalView;
use crate::services::release_fields::Names;
use crate::services::releases as rsvc;

/// `2026-12-01 09:00` (the report says once that its times are UTC).
fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn opt_when(t: &Option<DateTime<Utc>>) -> String {
    t.as_ref().map(when).unwrap_or_else(|| "—".into())
}

/// One box of the summary's facts; `nowrap` for a date, which must not break over lines.
struct Fact {
    label: &'static str,
    value: String,
    nowrap: bool,
}

fn fact(label: &'static str, value: impl Into<String>) -> Fact {
    Fact {
        label,
        value: value.into(),
        nowrap: false,
    }
}

fn date_fact(label: &'static str, value: String) -> Fact {
    Fact {
        label,
        value,
        nowrap: true,
    }
}

/// Planned or actual: start, end, how long.
struct WindowRow {
    label: &'static str,
    start: String,
    end: String,
    length: String,
}

struct FieldRow {
    label: &'static str,
    value: String,
    long: bool,
}

struct VisitRow {
    phase: String,
    skipped: bool,
    status: &'static str,
    entered: String,
    left: String,
    time_in: String,
    timing: String,
    overdue: bool,
}

struct TaskRow {
    title: String,
    assignee: String,
    status: String,
    due: String,
    completed: String,
    /// Who completed it, when not its assignee (`""` otherwise).
    completed_by: String,
}

struct TaskGroupRow {
    phase: String,
    tasks: Vec<TaskRow>,
}

/// An open or cancelled task, for the summary.
struct WorkRow {
    phase: String,
    title: String,
    assignee: String,
    status: String,
}

struct ApprovalRow {
    view: ApprovalView,
    opened: String,
    decided: String,
    /// "Ada Novak (CAB) approved; Bram de Vries (CAB) denied: too risky", or "—".
    decided_by: String,
}

#[derive(Template)]
#[template(path = "reports/release.html")]
struct ReleaseReportPage {
    printed_at: String,
    printed_by: String,
    number: String,
    href: String,
    title: String,
    /// The summary: facts, the windows, why it was backed out or abandoned.
    facts: Vec<Fact>,
    windows: Vec<WindowRow>,
    against_plan: String,
    /// ("Back-out reason", "Payments failing"), ("Abandoned because", …).
    reasons: Vec<(&'static str, String)>,
    /// Tasks: done, open, cancelled; and the open and cancelled ones.
    work: (usize, usize, usize),
    open_work: Vec<WorkRow>,
    /// The details: what the summary does not say already, as (label, value).
    summary: Vec<(&'static str, String)>,
    fields: Vec<FieldRow>,
    timeline: Vec<VisitRow>,
    task_groups: Vec<TaskGroupRow>,
    approvals: Vec<ApprovalRow>,
    history: Vec<super::releases::HistoryView>,
    related: Vec<crate::services::related::ChangeRow>,
    members: Vec<crate::services::related::MemberRow>,
    /// Open deadline alerts: (what, raised at).
    alerts: Vec<(String, String)>,
}

fn visit_row(
    v: &rel::Visit,
    wf: &crate::domain::workflow::Workflow,
    active: bool,
    now: DateTime<Utc>,
) -> VisitRow {
    let (status, timing, overdue) = match v.status.as_str() {
        "skipped" => ("Skipped: does not apply", String::new(), false),
        "current" if active => match v.due_at {
            Some(due) if now > due => (
                "Current phase",
                format!("Overdue by {}", span(now - due)),
                true,
            ),
            Some(due) => (
                "Current phase",
                format!("Due in {}", span(due - now)),
                false,
            ),
            None => ("Current phase", "No due date".into(), false),
        },
        "current" => ("Where it ended", String::new(), false),
        _ => match (v.due_at, v.left_at) {
            (Some(due), Some(left)) if left > due => (
                "Left",
                format!("Overdue: left {} after its due date", span(left - due)),
                true,
            ),
            (Some(_), Some(_)) => ("Left", "On time".into(), false),
            _ => ("Left", "No due date".into(), false),
        },
    };
    let end = v.left_at.unwrap_or(now);
    VisitRow {
        phase: wf.phase_name(v.phase_id).to_string(),
        skipped: v.status == "skipped",
        status,
        entered: when(&v.entered_at),
        // The phase it is in (or ended in) has not been left: say so where the time would be.
        left: match v.left_at {
            Some(t) => when(&t),
            None => status.to_string(),
        },
        time_in: if v.status == "skipped" {
            "—".into()
        } else {
            span(end - v.entered_at)
        },
        timing: if timing.is_empty() {
            "—".into()
        } else {
            timing
        },
        overdue,
    }
}

/// GET /releases/{number}/report: the printable release report.
#[get("/releases/{number}/report")]
pub async fn release_report(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let number = paths::parse_release_number(&path).ok_or(AppError::NotFound)?;
    let viewer = user.actor();
    let (related, members, alerts) = db::run(&pool, move |conn| {
        let r = rel::by_number(conn, number)?;
        Ok((
            crate::services::related::changes_of(conn, r.id)?,
            crate::services::related::members_of(conn, r.id)?,
            crate::services::monitor::open_alerts(conn, r.id)?
                .into_iter()
                .map(|(_, detail, at)| (detail, when(&at)))
                .collect::<Vec<_>>(),
        ))
    })
    .await?;
    let (names, visits, tasks, approvals, approval_rows, log, events, registered_by, loaded) =
        db::run(&pool, move |conn| {
            let loaded = rsvc::load(conn, number)?;
            let r = &loaded.record.release;
            let views =
                crate::services::approvals::views_for_release(conn, r, &loaded.workflow(), viewer)?;
            let rows = am::of_release(conn, r.id)?;
            let ids: Vec<i64> = rows.iter().map(|a| a.id).collect();
            Ok((
                rsvc::name_book(conn)?,
                rel::visits(conn, r.id)?,
                tm::of_release(conn, r.id)?,
                views,
                rows,
                am::log_of(conn, &ids)?,
                history::of_release(conn, r.id, None)?,
                users::find(conn, r.registered_by)?.display_name,
                loaded,
            ))
        })
        .await?;
    let now = Utc::now();
    let r = &loaded.record.release;
    let wf = &loaded.workflow();
    let state = loaded.state();
    let active = state == RecordState::Active;
    let type_label = r
        .release_type
        .parse::<ReleaseType>()
        .map(|t| t.label().to_string())
        .unwrap_or_default();
    let phase = wf.phase_name(r.phase_id).to_string();
    let shown = |key: &str| {
        let v = loaded.record.display(key, &names);
        if v.is_empty() {
            "—".to_string()
        } else {
            v
        }
    };

    // ---- the summary
    let mut facts = vec![
        fact(
            "Outcome",
            if active {
                format!("Under way, in {phase}")
            } else {
                state.label().to_string()
            },
        ),
        fact(if active { "Phase now" } else { "Ended in" }, phase.clone()),
        fact("Type", type_label.clone()),
        fact("Category", loaded.category.name.clone()),
        fact("Risk", shown("risk")),
        fact("Coordinator", shown("coordinator")),
        fact("Release manager", shown("manager")),
        fact("Registered by", registered_by.clone()),
    ];
    if active {
        let due = opt_when(&r.phase_due_at);
        facts.push(date_fact(
            "Phase due",
            if r.phase_due_at.is_some_and(|d| d < now) {
                format!("{due} (overdue)")
            } else {
                due
            },
        ));
    } else {
        facts.push(date_fact("Ended", opt_when(&r.closed_at)));
    }
    let windows = vec![
        WindowRow {
            label: "Planned",
            start: opt_when(&r.planned_start),
            end: opt_when(&r.planned_end),
            length: rp::length(r.planned_start, r.planned_end),
        },
        WindowRow {
            label: "Actual",
            start: opt_when(&r.actual_start),
            end: opt_when(&r.actual_end),
            length: rp::length(r.actual_start, r.actual_end),
        },
    ];
    let against_plan = rp::against_plan(
        (r.planned_start, r.planned_end),
        (r.actual_start, r.actual_end),
    );
    // The reason given when the back-out plan was activated, or when it was abandoned.
    let reason_of = |kind: &str| {
        events
            .iter()
            .rev()
            .find(|e| e.kind == kind)
            .and_then(|e| e.reason.clone())
            .filter(|r| !r.trim().is_empty())
    };
    let mut reasons = Vec::new();
    if r.backed_out {
        reasons.push((
            "Back-out reason",
            reason_of("back_out").unwrap_or_else(|| "No reason was recorded.".into()),
        ));
    }
    if state == RecordState::Abandoned {
        reasons.push((
            "Abandoned because",
            reason_of("abandon").unwrap_or_else(|| "No reason was recorded.".into()),
        ));
    }
    let mut phases: Vec<_> = wf.phases.iter().collect();
    phases.sort_by_key(|p| p.position);
    let assignee = |t: &crate::models::tasks::Task| match (t.assignee_id, t.group_id) {
        (Some(u), _) => names.user(u),
        (None, Some(g)) => format!("{} (group)", names.group(g)),
        _ => "Nobody".into(),
    };
    let work = rp::work_counts(tasks.iter().map(|t| t.status.as_str()));
    let open_work: Vec<WorkRow> = phases
        .iter()
        .flat_map(|p| tasks.iter().filter(move |t| t.phase_id == p.id))
        .filter(|t| t.is_open() || t.status == "cancelled")
        .map(|t| WorkRow {
            phase: wf.phase_name(t.phase_id).to_string(),
            title: t.title.clone(),
            assignee: assignee(t),
            status: super::tasks::status_text(t),
        })
        .collect();

    // ---- the details
    // What the summary does not say already.
    let mut summary: Vec<(&'static str, String)> = vec![(
        "Registered",
        format!("{} by {registered_by}", when(&r.created_at)),
    )];
    if let Some(why) = &r.risk_override_reason {
        summary.push(("Risk overridden because", why.clone()));
    }
    let fields = RELEASE_FIELDS
        .iter()
        .map(|f| {
            let value = loaded.record.display(f.key, &names);
            FieldRow {
                label: f.label,
                value: if value.is_empty() {
                    "Not filled in".into()
                } else {
                    value
                },
                long: f.kind == FieldKind::Text,
            }
        })
        .collect();
    let task_groups = phases
        .iter()
        .filter_map(|p| {
            let rows: Vec<TaskRow> = tasks
                .iter()
                .filter(|t| t.phase_id == p.id)
                .map(|t| TaskRow {
                    title: t.title.clone(),
                    assignee: assignee(t),
                    status: super::tasks::status_text(t),
                    due: if t.is_overdue(now) {
                        format!("{} (overdue)", opt_when(&t.due_at))
                    } else {
                        opt_when(&t.due_at)
                    },
                    completed: opt_when(&t.completed_at),
                    // Named only when someone else than the assignee completed it.
                    completed_by: t
                        .completed_by
                        .filter(|by| Some(*by) != t.assignee_id)
                        .map(|by| names.user(by))
                        .unwrap_or_default(),
                })
                .collect();
            (!rows.is_empty()).then(|| TaskGroupRow {
                phase: p.name.clone(),
                tasks: rows,
            })
        })
        .collect();
    let approvals = approvals
        .into_iter()
        .map(|mut view| {
            for l in &mut view.log {
                l.at = l.at.trim_end_matches(" UTC").to_string();
            }
            let row = approval_rows.iter().find(|a| a.id == view.id);
            let lines: Vec<rp::LogLine> = log
                .iter()
                .filter(|l| l.approval_id == view.id)
                .filter_map(|l| {
                    Some(rp::LogLine {
                        cycle: l.cycle,
                        // A vote counts for whom it was cast (a delegate votes for another).
                        who: l.on_behalf_of_id.or(l.actor_id)?,
                        action: &l.action,
                        comment: &l.comment,
                    })
                })
                .collect();
            let decided: Vec<String> = rp::decided_by(&lines, view.cycle)
                .iter()
                .map(|d| {
                    let verb = if d.approved { "approved" } else { "denied" };
                    if d.comment.trim().is_empty() {
                        format!("{} {verb}", names.user(d.who))
                    } else {
                        format!("{} {verb}: {}", names.user(d.who), d.comment.trim())
                    }
                })
                .collect();
            ApprovalRow {
                opened: row.map(|a| when(&a.opened_at)).unwrap_or_default(),
                decided: row.map(|a| opt_when(&a.decided_at)).unwrap_or_default(),
                decided_by: if decided.is_empty() {
                    "—".into()
                } else {
                    decided.join("; ")
                },
                view,
            }
        })
        .collect();
    let mut history = super::releases::history_views_of(&events, wf);
    // The report says once that its times are UTC.
    for e in &mut history {
        e.at = e.at.trim_end_matches(" UTC").to_string();
    }
    page(&ReleaseReportPage {
        printed_at: crate::views::datetime(&now),
        printed_by: user.display_name.clone(),
        number: paths::release_number(r.number),
        href: paths::release(r.number),
        title: r.title.clone(),
        facts,
        windows,
        against_plan,
        reasons,
        work,
        open_work,
        summary,
        fields,
        timeline: visits
            .iter()
            .map(|v| visit_row(v, wf, active, now))
            .collect(),
        task_groups,
        approvals,
        history,
        related,
        members,
        alerts,
    })
}
