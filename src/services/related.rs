//! Related records: the changes a release is made of (with the gates they put on it) and the
//! releases bundled in a package. Every relation change is history on both records.
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::workflow_config::WorkflowConfig;
use crate::domain::permissions::{self, Actor, Parties};
use crate::domain::workflow::{members_behind, Gate, GateNeeds, MemberAt, RecordState};
use crate::error::{AppError, AppResult};
use crate::models::history::{self, NewEvent};
use crate::models::releases::{self as rel, Release};
use crate::paths;
use crate::schema::{approvals, phase_approvals, phases, releases};

/// A related change as the release page and report show it.
pub struct ChangeRow {
    pub number: String,
    pub href: String,
    pub title: String,
    pub phase: String,
    pub state: String,
    pub approval: String,
    pub approved: bool,
    pub closed: bool,
    pub active: bool,
    pub window: String,
}

/// A bundled release (or the package) as the release page shows it.
pub struct MemberRow {
    pub number: String,
    pub href: String,
    pub title: String,
    pub phase: String,
    pub state: String,
}

type Head = (
    i64,
    i64,
    String,
    i64,
    i64,
    String,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    String,
);

fn heads(
    conn: &mut PgConnection,
    filter: impl FnOnce(
        crate::schema::releases::BoxedQuery<'static, diesel::pg::Pg>,
    ) -> crate::schema::releases::BoxedQuery<'static, diesel::pg::Pg>,
) -> QueryResult<Vec<Head>> {
    let q = releases::table.into_boxed();
    filter(q)
        .order(releases::number)
        .select((
            releases::id,
            releases::number,
            releases::title,
            releases::workflow_id,
            releases::phase_id,
            releases::state,
            releases::planned_start,
            releases::planned_end,
            releases::release_type,
        ))
        .load(conn)
}

/// The approval status of changes, by id: approved, pending, denied, not requested yet, or
/// pre-approved (its workflow asks for no approval).
fn approval_status(conn: &mut PgConnection, changes: &[Head]) -> QueryResult<Vec<(i64, String)>> {
    let ids: Vec<i64> = changes.iter().map(|c| c.0).collect();
    let rows: Vec<(i64, String)> = approvals::table
        .filter(approvals::release_id.eq_any(&ids))
        .order(approvals::id)
        .select((approvals::release_id, approvals::status))
        .load(conn)?;
    let wf_ids: Vec<i64> = changes.iter().map(|c| c.3).collect();
    let with_approvals: Vec<i64> = phases::table
        .inner_join(phase_approvals::table)
        .filter(phases::workflow_id.eq_any(&wf_ids))
        .select(phases::workflow_id)
        .distinct()
        .load(conn)?;
    let marked: Vec<i64> = crate::schema::workflows::table
        .filter(crate::schema::workflows::id.eq_any(&wf_ids))
        .filter(crate::schema::workflows::pre_approved.eq(true))
        .select(crate::schema::workflows::id)
        .load(conn)?;
    Ok(changes
        .iter()
        .map(|c| {
            let mine: Vec<&String> = rows
                .iter()
                .filter(|(id, _)| *id == c.0)
                .map(|(_, s)| s)
                .collect();
            let status = if mine.iter().any(|s| *s == "approved") {
                "approved"
            } else if crate::domain::workflow::pre_approved(
                &c.8,
                marked.contains(&c.3),
                with_approvals.contains(&c.3),
            ) {
                "pre-approved"
            } else {
                match mine.iter().rev().find(|s| **s != "withdrawn") {
                    Some(s) => s.as_str(),
                    None => "not requested yet",
                }
            };
            (c.0, status.to_string())
        })
        .collect())
}

fn phase_names(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    phases::table
        .filter(phases::id.eq_any(ids))
        .select((phases::id, phases::name))
        .load(conn)
}

/// The changes related to a release.
pub fn changes_of(conn: &mut PgConnection, release_id: i64) -> QueryResult<Vec<ChangeRow>> {
    let (list, status) = changes_with_status(conn, release_id)?;
    let names = phase_names(conn, &list.iter().map(|c| c.4).collect::<Vec<_>>())?;
    Ok(list
        .iter()
        .map(|c| {
            change_row(
                c,
                &status,
                names
                    .iter()
                    .find(|(id, _)| *id == c.4)
                    .map(|(_, n)| n.as_str())
                    .unwrap_or_default(),
            )
        })
        .collect())
}

/// The changes related to a release with their approval status (no phase names: the gates
/// need only which are active and approved).
fn changes_with_status(
    conn: &mut PgConnection,
    release_id: i64,
) -> QueryResult<(Vec<Head>, Vec<(i64, String)>)> {
    let list = heads(conn, |q| {
        q.filter(releases::kind.eq("change"))
            .filter(releases::related_release_id.eq(release_id))
    })?;
    let status = approval_status(conn, &list)?;
    Ok((list, status))
}

fn change_row(c: &Head, status: &[(i64, String)], phase: &str) -> ChangeRow {
    let approval = status
        .iter()
        .find(|(id, _)| *id == c.0)
        .map(|(_, s)| s.clone())
        .unwrap_or_default();
    let state: RecordState = c.5.parse().unwrap_or(RecordState::Active);
    ChangeRow {
        number: paths::change_number(c.1),
        href: paths::change(c.1),
        title: c.2.clone(),
        phase: phase.to_string(),
        state: state.label().to_string(),
        approved: approval == "approved"
            || approval == "pre-approved"
            || state == RecordState::ClosedSuccessful,
        closed: state != RecordState::Active,
        active: state == RecordState::Active,
        approval,
        window: format!(
            "{} to {}",
            crate::views::opt_datetime(&c.6),
            crate::views::opt_datetime(&c.7)
        ),
    }
}

/// Releases bundled in a package.
pub fn members_of(conn: &mut PgConnection, package_id: i64) -> QueryResult<Vec<MemberRow>> {
    let list = member_heads(conn, package_id)?;
    member_rows(conn, &list)
}

fn member_heads(conn: &mut PgConnection, package_id: i64) -> QueryResult<Vec<Head>> {
    heads(conn, |q| {
        q.filter(releases::kind.eq("release"))
            .filter(releases::package_id.eq(package_id))
    })
}

fn member_rows(conn: &mut PgConnection, list: &[Head]) -> QueryResult<Vec<MemberRow>> {
    let names = phase_names(conn, &list.iter().map(|c| c.4).collect::<Vec<_>>())?;
    Ok(list
        .iter()
        .map(|c| MemberRow {
            number: paths::release_number(c.1),
            href: paths::release(c.1),
            title: c.2.clone(),
            phase: names
                .iter()
                .find(|(id, _)| *id == c.4)
                .map(|(_, n)| n.clone())
                .unwrap_or_default(),
            state: c
                .5
                .parse::<RecordState>()
                .map(|s| s.label().to_string())
                .unwrap_or_default(),
        })
        .collect())
}

/// The package a release belongs to, if any.
pub fn package_of(conn: &mut PgConnection, r: &Release) -> QueryResult<Option<MemberRow>> {
    let Some(p) = r.package_id else {
        return Ok(None);
    };
    let list = heads(conn, |q| q.filter(releases::id.eq(p)))?;
    Ok(member_rows(conn, &list)?.pop())
}

/// The release a change belongs to, if any.
pub fn release_of(conn: &mut PgConnection, change: &Release) -> QueryResult<Option<MemberRow>> {
    let Some(p) = change.related_release_id else {
        return Ok(None);
    };
    let list = heads(conn, |q| q.filter(releases::id.eq(p)))?;
    Ok(member_rows(conn, &list)?.pop())
}

/// The gates related records put on a release: (on closing, on entering phases).
pub fn gates(
    conn: &mut PgConnection,
    r: &Release,
    config: &WorkflowConfig,
    needs: GateNeeds,
) -> QueryResult<(Vec<Gate>, Vec<(i64, Gate)>)> {
    let mut close = Vec::new();
    let mut entry = Vec::new();
    let entry_phases: Vec<i64> = config
        .flags
        .iter()
        .filter(|f| f.entry_requires_changes_approved && needs.entry_of(f.id))
        .map(|f| f.id)
        .collect();
    let close_here = needs.close
        && config
            .flags_of(r.phase_id)
            .is_some_and(|f| f.close_requires_changes_closed);
    // Changes matter only to a workflow with a phase that asks about them.
    if !entry_phases.is_empty() || close_here {
        let (list, status) = changes_with_status(conn, r.id)?;
        let changes: Vec<ChangeRow> = list.iter().map(|c| change_row(c, &status, "")).collect();
        let unapproved: Vec<String> = changes
            .iter()
            .filter(|c| c.active && !c.approved)
            .map(|c| c.number.clone())
            .collect();
        if !unapproved.is_empty() {
            for phase in &entry_phases {
                entry.push((
                    *phase,
                    Gate::RelatedRecords {
                        reason: "Related changes not approved yet".into(),
                        numbers: unapproved.clone(),
                    },
                ));
            }
        }
        let open: Vec<String> = changes
            .iter()
            .filter(|c| c.active)
            .map(|c| c.number.clone())
            .collect();
        if !open.is_empty() && close_here {
            close.push(Gate::RelatedRecords {
                reason: "Related changes not closed yet".into(),
                numbers: open,
            });
        }
    }
    if needs.close {
        let members: Vec<String> = member_heads(conn, r.id)?
            .into_iter()
            .filter(|m| m.5 == RecordState::Active.as_str())
            .map(|m| paths::release_number(m.1))
            .collect();
        if !members.is_empty() {
            close.push(Gate::RelatedRecords {
                reason: "Bundled releases still active".into(),
                numbers: members,
            });
        }
    }
    let members_phases: Vec<i64> = config
        .flags
        .iter()
        .filter(|f| f.entry_requires_members_reached && needs.entry_of(f.id))
        .map(|f| f.id)
        .collect();
    if !members_phases.is_empty() {
        entry.extend(members_gates(conn, r, config, &members_phases)?);
    }
    if needs.entry {
        // Blackouts hold entering the phases they apply to, unless the release is an emergency.
        entry.extend(super::conflicts::blackout_gates(conn, r, config, needs)?);
    }
    Ok((close, entry))
}

/// The entry gates a package's members put on `phases`: members still behind the phase.
fn members_gates(
    conn: &mut PgConnection,
    r: &Release,
    config: &WorkflowConfig,
    phase_ids: &[i64],
) -> QueryResult<Vec<(i64, Gate)>> {
    let members = member_heads(conn, r.id)?;
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let workflows: Vec<i64> = members.iter().map(|m| m.3).collect();
    // Every phase of the members' workflows: (id, workflow, name, position).
    let known: Vec<(i64, i64, String, i32)> = phases::table
        .filter(phases::workflow_id.eq_any(&workflows))
        .select((
            phases::id,
            phases::workflow_id,
            phases::name,
            phases::position,
        ))
        .load(conn)?;
    let mut out = Vec::new();
    for target in phase_ids {
        let Some(t) = config.workflow.phase(*target) else {
            continue;
        };
        let at: Vec<MemberAt> = members
            .iter()
            .map(|m| MemberAt {
                number: paths::release_number(m.1),
                active: m.5 == RecordState::Active.as_str(),
                position: known
                    .iter()
                    .find(|k| k.0 == m.4)
                    .map(|k| k.3)
                    .unwrap_or(i32::MAX),
                target_position: known
                    .iter()
                    .find(|k| k.1 == m.3 && (k.0 == t.id || k.2 == t.name))
                    .map(|k| k.3),
            })
            .collect();
        let behind = members_behind(&at);
        if !behind.is_empty() {
            out.push((
                *target,
                Gate::RelatedRecords {
                    reason: format!("Bundled releases not yet in {}", t.name),
                    numbers: behind,
                },
            ));
        }
    }
    Ok(out)
}

fn parties(r: &Release) -> Parties {
    Parties {
        registered_by: r.registered_by,
        coordinator_id: r.coordinator_id,
        manager_id: r.manager_id,
    }
}

fn note(conn: &mut PgConnection, r: &Release, actor: Actor, summary: &str) -> QueryResult<i64> {
    history::record(
        conn,
        &NewEvent {
            release_id: r.id,
            actor_id: Some(actor.id),
            record_version: r.version,
            kind: "relation",
            summary,
            from_phase_id: None,
            to_phase_id: None,
            reason: None,
        },
        &[],
    )
}

fn may_work_active(actor: Actor, r: &Release) -> AppResult<()> {
    if r.state != RecordState::Active.as_str() {
        return Err(AppError::Forbidden(format!(
            "{} has ended: its related records can no longer change.",
            paths::record_number(&r.kind, r.number)
        )));
    }
    if !permissions::can_work(actor, parties(r)) {
        return Err(AppError::Forbidden("Only this release's coordinator, its registrant or a release manager may change its related records.".into()));
    }
    Ok(())
}

/// Relate a change to a release, or remove it. Err(message) for the user when refused.
pub fn relate_change(
    conn: &mut PgConnection,
    actor: Actor,
    release_number: i64,
    change: &str,
    remove: bool,
) -> AppResult<Result<String, String>> {
    conn.transaction(|conn| {
        let r = rel::by_kind_number_for_update(conn, "release", release_number)?;
        may_work_active(actor, &r)?;
        let Some(cn) = paths::parse_change_number(change.trim().to_uppercase().as_str()) else {
            return Ok(Err("Enter a change number like C-000045.".into()));
        };
        let Ok(c) = rel::by_kind_number_for_update(conn, "change", cn) else {
            return Ok(Err(format!("There is no change {}.", paths::change_number(cn))));
        };
        let (rn, cnum) = (paths::release_number(r.number), paths::change_number(c.number));
        if remove {
            if c.related_release_id != Some(r.id) {
                return Ok(Err(format!("{cnum} is not related to {rn}.")));
            }
            diesel::update(releases::table.find(c.id)).set(releases::related_release_id.eq(None::<i64>)).execute(conn)?;
            note(conn, &r, actor, &format!("Removed the related change {cnum}"))?;
            note(conn, &c, actor, &format!("No longer related to {rn}"))?;
            return Ok(Ok(format!("{cnum} is no longer related to {rn}.")));
        }
        if c.related_release_id == Some(r.id) {
            return Ok(Err(format!("{cnum} is already related to {rn}.")));
        }
        if let Some(other) = c.related_release_id {
            let o = rel::find_by_id(conn, other)?;
            if o.state == RecordState::Active.as_str() {
                return Ok(Err(format!("{cnum} already belongs to the active release {}: a change belongs to one active release at most.", paths::release_number(o.number))));
            }
        }
        if c.state == RecordState::Abandoned.as_str() {
            return Ok(Err(format!("{cnum} was abandoned.")));
        }
        diesel::update(releases::table.find(c.id)).set(releases::related_release_id.eq(Some(r.id))).execute(conn)?;
        note(conn, &r, actor, &format!("Related the change {cnum}"))?;
        note(conn, &c, actor, &format!("Related to the release {rn}"))?;
        Ok(Ok(format!("{cnum} is now related to {rn}.")))
    })
}

/// Bundle a release into a package release, or take it out.
pub fn bundle(
    conn: &mut PgConnection,
    actor: Actor,
    package_number: i64,
    member: &str,
    remove: bool,
) -> AppResult<Result<String, String>> {
    conn.transaction(|conn| {
        let p = rel::by_kind_number_for_update(conn, "release", package_number)?;
        may_work_active(actor, &p)?;
        let Some(mn) = paths::parse_release_number(member.trim().to_uppercase().as_str()) else {
            return Ok(Err("Enter a release number like RL-000123.".into()));
        };
        let Ok(m) = rel::by_kind_number_for_update(conn, "release", mn) else {
            return Ok(Err(format!("There is no release {}.", paths::release_number(mn))));
        };
        let (pn, mnum) = (paths::release_number(p.number), paths::release_number(m.number));
        if remove {
            if m.package_id != Some(p.id) {
                return Ok(Err(format!("{mnum} is not in the package {pn}.")));
            }
            diesel::update(releases::table.find(m.id)).set(releases::package_id.eq(None::<i64>)).execute(conn)?;
            note(conn, &p, actor, &format!("Took {mnum} out of the package"))?;
            note(conn, &m, actor, &format!("Taken out of the package {pn}"))?;
            return Ok(Ok(format!("{mnum} is no longer in {pn}.")));
        }
        if m.id == p.id {
            return Ok(Err("A release cannot contain itself.".into()));
        }
        if m.package_id == Some(p.id) {
            return Ok(Err(format!("{mnum} is already in {pn}.")));
        }
        if m.state != RecordState::Active.as_str() {
            let state = m.state.parse::<RecordState>().map(|s| s.label().to_lowercase()).unwrap_or_default();
            return Ok(Err(format!("{mnum} is {state}: only an active release can be bundled into a package.")));
        }
        if let Some(other) = m.package_id {
            let o = rel::find_by_id(conn, other)?;
            return Ok(Err(format!("{mnum} already belongs to the package {}: a release belongs to one package at most.", paths::release_number(o.number))));
        }
        // No cycles: the member must not contain the package, however deep.
        let mut up = p.package_id;
        let mut hops = 0;
        while let Some(id) = up {
            if id == m.id {
                return Ok(Err(format!("{mnum} contains {pn}: bundling it would make a cycle.")));
            }
            up = rel::find_by_id(conn, id)?.package_id;
            hops += 1;
            if hops > 1000 {
                break;
            }
        }
        diesel::update(releases::table.find(m.id)).set(releases::package_id.eq(Some(p.id))).execute(conn)?;
        note(conn, &p, actor, &format!("Bundled {mnum} into this package"))?;
        note(conn, &m, actor, &format!("Bundled into the package {pn}"))?;
        Ok(Ok(format!("{mnum} is now part of {pn}.")))
    })
}
