//! CAB approvals: opening a cycle when a record enters a phase that needs one, who may vote,
//! voting, denying and retracting under a row lock (each outcome recorded once), the gate a
//! live approval puts on leaving the phase, and the approvals inbox.
use std::collections::HashMap;

use chrono::Utc;
use diesel::prelude::*;

use super::notify::Outbox;
use super::workflow_config::WorkflowConfig;
use crate::domain::approval::{self as rules, Involvement, Outcome, Part, Reading, Rule};
use crate::domain::permissions::{Actor, Parties};
use crate::domain::roles::Role;
use crate::domain::workflow::{Gate, RecordState, ReleaseType};
use crate::error::{AppError, AppResult};
use crate::models::approvals::{self as am, Approval};
use crate::models::groups;
use crate::models::history::{self, NewEvent};
use crate::models::releases::{self as rel, Release};

/// The group and rule a requirement puts on this record: its emergency group for an emergency.
fn chosen(r: Option<&am::Requirement>, emergency: bool) -> Option<(i64, Rule, Option<i32>)> {
    r.and_then(|r| {
        let (group, rule, quorum) = match (emergency, r.emergency_group_id) {
            (true, Some(g)) => (g, r.emergency_rule.as_str(), None),
            _ => (r.group_id, r.rule.as_str(), r.quorum_count),
        };
        Rule::from_parts(rule, quorum).map(|rule| (group, rule, quorum))
    })
}

fn is_emergency(r: &Release) -> bool {
    r.release_type == ReleaseType::Emergency.as_str()
}

/// A record entered a phase: open its approval when the phase needs one (its id).
pub fn open_on_entry(
    conn: &mut PgConnection,
    r: &Release,
    phase_id: i64,
    actor: Option<i64>,
) -> QueryResult<Option<i64>> {
    let config = super::workflow_config::of(conn, r.workflow_id)?;
    let mut out = Outbox::default();
    let opened = open_as_configured(conn, r, phase_id, actor, &config, &mut out)?;
    out.send(conn)?;
    Ok(opened)
}

/// `open_on_entry` with the workflow's configuration at hand; the approvers' note goes to `out`.
pub fn open_as_configured(
    conn: &mut PgConnection,
    r: &Release,
    phase_id: i64,
    actor: Option<i64>,
    config: &WorkflowConfig,
    out: &mut Outbox,
) -> QueryResult<Option<i64>> {
    let Some((group, rule, quorum)) = chosen(config.requirement(phase_id), is_emergency(r)) else {
        return Ok(None);
    };
    let own_group = config
        .requirement(phase_id)
        .is_some_and(|q| q.own_group_may_approve);
    // The approval, its log entry and the approvers its voters are chosen from, in one statement.
    let (id, approvers) = am::open(
        conn,
        r.id,
        phase_id,
        group,
        rule.key(),
        quorum,
        actor,
        own_group,
    )?;
    let inv = involvement(conn, r, own_group)?;
    let voters: Vec<i64> = approvers
        .into_iter()
        .filter(|v| inv.ineligibility(*v).is_none())
        .collect();
    let group_name = config.group_name(conn, group)?;
    let note = super::notify::Note::about(
        r,
        "approval_requested",
        "your approval is requested",
        format!(
            "The {group_name} is asked to approve ({}). Vote in your approvals inbox.",
            rule.label()
        ),
    );
    out.add(&voters, actor, note);
    Ok(Some(id))
}

// A record leaving a phase withdraws its undecided approval there, with a log entry: the
// transition's own statement does it (`models::releases::record_transition`, migration 000026).

/// Everyone separation of duties looks at on record `r`: its registrant, coordinator and
/// manager, and of its tasks (whatever their status) the assignees, whoever started or
/// completed one, and the members of the groups they are assigned to. Two statements.
pub fn involvement(
    conn: &mut PgConnection,
    r: &Release,
    own_group_may_approve: bool,
) -> QueryResult<Involvement> {
    let parties = Parties {
        registered_by: r.registered_by,
        coordinator_id: r.coordinator_id,
        manager_id: r.manager_id,
    };
    Ok(
        involvements(conn, &[(r.id, parties, own_group_may_approve)])?
            .remove(&r.id)
            .unwrap_or_default(),
    )
}

/// `involvement` of several records at once, each (id, its parties, whether its approval lets
/// task groups approve their own work): two statements whatever their number.
fn involvements(
    conn: &mut PgConnection,
    records: &[(i64, Parties, bool)],
) -> QueryResult<HashMap<i64, Involvement>> {
    use crate::schema::{group_members as gm, tasks};
    let ids: Vec<i64> = records.iter().map(|r| r.0).collect();
    let rows: Vec<(i64, Option<i64>, Option<i64>, Option<i64>, Option<i64>)> = tasks::table
        .filter(tasks::release_id.eq_any(&ids))
        .select((
            tasks::release_id,
            tasks::assignee_id,
            tasks::started_by,
            tasks::completed_by,
            tasks::group_id,
        ))
        .load(conn)?;
    let mut task_groups: Vec<i64> = rows.iter().filter_map(|t| t.4).collect();
    task_groups.sort_unstable();
    task_groups.dedup();
    let members: Vec<(i64, i64)> = if task_groups.is_empty() {
        Vec::new()
    } else {
        gm::table
            .filter(gm::group_id.eq_any(&task_groups))
            .select((gm::group_id, gm::user_id))
            .load(conn)?
    };
    let mut out = HashMap::new();
    for (id, parties, own_group_may_approve) in records {
        let mine = rows.iter().filter(|t| t.0 == *id);
        let groups: Vec<i64> = mine.clone().filter_map(|t| t.4).collect();
        out.insert(
            *id,
            Involvement {
                registered_by: parties.registered_by,
                coordinator: parties.coordinator_id,
                manager: parties.manager_id,
                assignees: mine.clone().filter_map(|t| t.1).collect(),
                workers: mine.flat_map(|t| [t.2, t.3]).flatten().collect(),
                group_members: members
                    .iter()
                    .filter(|(g, _)| groups.contains(g))
                    .map(|(_, u)| *u)
                    .collect(),
                own_group_may_approve: *own_group_may_approve,
            },
        );
    }
    Ok(out)
}

/// The votes of an approval's current round, as the rule reads them.
fn ballots(a: &Approval, votes: &[am::Vote]) -> Vec<rules::Ballot> {
    votes
        .iter()
        .filter(|v| v.approval_id == a.id && v.cycle == a.cycle)
        .map(|v| rules::Ballot {
            voter: v.voter_id,
            approve: v.decision == "approve",
            held_then: v
                .voter_parts
                .iter()
                .filter_map(|p| Part::from_key(p))
                .collect(),
            voided: v.void_part.as_deref().and_then(Part::from_key),
        })
        .collect()
}

fn rule_of(a: &Approval) -> Rule {
    Rule::from_parts(&a.rule, a.quorum_count).unwrap_or(Rule::All)
}

/// An approval's current round read afresh from the votes and who is who on the record now.
pub struct RoundNow {
    pub reading: Reading,
    /// Active approvers of the approval's group: (id, display name), by name.
    pub approvers: Vec<(i64, String)>,
    pub involvement: Involvement,
    /// Every vote of the approval (all rounds).
    pub votes: Vec<am::Vote>,
}

impl RoundNow {
    /// The eligible voters with their names, in the order of the group's approvers.
    pub fn eligible(&self) -> Vec<(i64, String)> {
        self.approvers
            .iter()
            .filter(|(id, _)| self.reading.eligible.contains(id))
            .cloned()
            .collect()
    }
}

/// Read approval `a` of record `r` now (`domain::approval::read_round`): three statements.
pub fn read_now(conn: &mut PgConnection, a: &Approval, r: &Release) -> QueryResult<RoundNow> {
    let votes = am::votes(conn, &[a.id])?;
    read_with_votes(conn, a, r, votes)
}

/// `read_now` for a caller that has read the approval's votes already.
fn read_with_votes(
    conn: &mut PgConnection,
    a: &Approval,
    r: &Release,
    votes: Vec<am::Vote>,
) -> QueryResult<RoundNow> {
    let approvers = am::group_approvers(conn, a.group_id)?;
    let involvement = involvement(conn, r, a.own_group_may_approve)?;
    let ids: Vec<i64> = approvers.iter().map(|(id, _)| *id).collect();
    let reading = rules::read_round(rule_of(a), &ids, &involvement, &ballots(a, &votes));
    Ok(RoundNow {
        reading,
        approvers,
        involvement,
        votes,
    })
}

/// The approval of a record's current phase whose round can still change what the record may
/// do: pending, denied, or approved while the record is still in that phase.
fn current(conn: &mut PgConnection, r: &Release) -> QueryResult<Option<Approval>> {
    if r.state != RecordState::Active.as_str() {
        return Ok(None);
    }
    Ok(am::latest(conn, r.id, r.phase_id)?
        .filter(|a| matches!(a.status.as_str(), "pending" | "approved" | "denied")))
}

/// The exit criterion an approval puts on the current phase, if it is not approved now. The
/// stored status is not trusted: the round is read afresh from its votes.
pub fn gate(
    conn: &mut PgConnection,
    r: &Release,
    config: &WorkflowConfig,
) -> QueryResult<Option<Gate>> {
    let Some((group, _, _)) = chosen(config.requirement(r.phase_id), is_emergency(r)) else {
        return Ok(None);
    };
    let Some(a) = current(conn, r)? else {
        return Ok(Some(Gate::Approval {
            group: config.group_name(conn, group)?,
            status: "not requested yet".into(),
        }));
    };
    let now = read_now(conn, &a, r)?;
    Ok(match now.reading.outcome {
        Outcome::Approved => None,
        _ => Some(Gate::Approval {
            group: config.group_name(conn, a.group_id)?,
            status: rules::describe(&now.reading),
        }),
    })
}

/// Read the current round of record `r` again after a change of who is who on it (its
/// coordinator or manager, a task's assignee, group or worker): a vote whose voter took a part
/// in the record is void for the rest of the round, logged, and its voter, the coordinator and
/// the manager are told; a changed outcome is stored and logged. `actor` made the change.
pub fn reevaluate(conn: &mut PgConnection, r: &Release, actor: i64) -> QueryResult<()> {
    let Some(a) = current(conn, r)? else {
        return Ok(());
    };
    let now = read_now(conn, &a, r)?;
    let status = now.reading.outcome.status().as_str();
    let newly_void: Vec<(&rules::Void, &am::Vote)> = now
        .reading
        .void
        .iter()
        .filter_map(|void| {
            now.votes
                .iter()
                .find(|v| v.cycle == a.cycle && v.voter_id == void.voter && v.void_part.is_none())
                .map(|vote| (void, vote))
        })
        .collect();
    if newly_void.is_empty() && status == a.status {
        return Ok(());
    }
    let group = groups::find(conn, a.group_id)?.name;
    let mut told: Vec<String> = Vec::new();
    for (void, vote) in newly_void {
        let name = crate::models::users::find(conn, void.voter)?.display_name;
        am::void_vote(conn, vote.id, void.part.key())?;
        let what = if vote.decision == "approve" {
            "approval"
        } else {
            "denial"
        };
        let line = format!(
            "{name}'s {what} for the {group} approval no longer counts: {}",
            void.reason()
        );
        am::log(
            conn,
            a.id,
            a.cycle,
            None,
            Some(void.voter),
            "void",
            &format!("This {what} no longer counts: {}.", void.reason()),
        )?;
        let mut to = vec![void.voter];
        to.extend(r.coordinator_id);
        to.extend(r.manager_id);
        let note = super::notify::Note::about(
            r,
            "approval_void",
            &format!("a vote on the {group} approval no longer counts"),
            format!("{line}."),
        );
        super::notify::send(conn, &to, None, &note)?;
        told.push(line);
    }
    if status != a.status {
        let decided = (status != "pending").then(Utc::now);
        am::set_status(conn, a.id, status, decided)?;
        am::log(
            conn,
            a.id,
            a.cycle,
            None,
            None,
            if status == "pending" {
                "reopened"
            } else {
                status
            },
            "",
        )?;
        let line = format!("the {group} approval is {}", rules::describe(&now.reading));
        let mut to: Vec<i64> = r.coordinator_id.into_iter().collect();
        to.extend(r.manager_id);
        let note = super::notify::Note::about(
            r,
            "approval_decided",
            &format!("the {group} approval is {status}"),
            format!("Read again after a change to who works on the release: {line}."),
        );
        super::notify::send(conn, &to, None, &note)?;
        told.push(line);
    }
    if told.is_empty() {
        return Ok(());
    }
    let mut summary = told.join("; ");
    if let Some(first) = summary.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    history::record(
        conn,
        &NewEvent {
            release_id: r.id,
            actor_id: Some(actor),
            record_version: r.version,
            kind: "approval",
            summary: &summary,
            from_phase_id: None,
            to_phase_id: None,
            reason: None,
        },
        &[],
    )?;
    Ok(())
}

/// Read again every open round a person has a counted vote in, after a change to who they are
/// (their roles or groups): a vote whose voter now shares a task's group is void, and an
/// outcome that changed is stored, as `reevaluate` does for a change on a record.
pub fn reevaluate_votes_of(conn: &mut PgConnection, voter: i64, actor: i64) -> QueryResult<()> {
    use crate::schema::{approval_votes as v, approvals as ap, releases as r};
    let ids: Vec<i64> = v::table
        .inner_join(ap::table.on(ap::id.eq(v::approval_id).and(ap::cycle.eq(v::cycle))))
        .inner_join(r::table.on(r::id.eq(ap::release_id).and(r::phase_id.eq(ap::phase_id))))
        .filter(v::voter_id.eq(voter))
        .filter(v::void_part.is_null())
        .filter(ap::status.eq_any(["pending", "approved", "denied"]))
        .filter(r::state.eq(RecordState::Active.as_str()))
        .select(r::id)
        .distinct()
        .load(conn)?;
    for id in ids {
        conn.transaction(|conn| {
            let record = rel::find_by_id_for_update(conn, id)?;
            reevaluate(conn, &record, actor)
        })?;
    }
    Ok(())
}

/// Open the approval of the current phase when it was never requested (a requirement added
/// after the release entered the phase, or the release was reworked into it).
pub fn request(
    conn: &mut PgConnection,
    actor: Actor,
    kind: crate::domain::workflow::RecordKind,
    number: i64,
) -> AppResult<bool> {
    conn.transaction(|conn| {
        let r = rel::by_kind_number_for_update(conn, kind.as_str(), number)?;
        if r.state != RecordState::Active.as_str() {
            return Err(AppError::Forbidden("The release has ended.".into()));
        }
        let parties = crate::domain::permissions::Parties {
            registered_by: r.registered_by,
            coordinator_id: r.coordinator_id,
            manager_id: r.manager_id,
        };
        if !crate::domain::permissions::can_work(actor, parties) {
            return Err(AppError::Forbidden(
                "Only this release's coordinator or a release manager may request its approval."
                    .into(),
            ));
        }
        match am::live(conn, r.id, r.phase_id)? {
            // Denied: the coordinator stays in the phase and asks again, in a new round.
            Some(a) if a.status == "denied" => {
                am::new_cycle(conn, a.id, a.cycle + 1)?;
                am::log(conn, a.id, a.cycle + 1, Some(actor.id), None, "requested", "Requested again after a denial.")?;
                let now = read_now(conn, &Approval { cycle: a.cycle + 1, ..a.clone() }, &r)?;
                let group = groups::find(conn, a.group_id)?.name;
                let note = super::notify::Note::about(
                    &r,
                    "approval_requested",
                    "your approval is requested again",
                    format!("The {group} is asked again to approve ({}), after a denial. Vote in your approvals inbox.", rule_of(&a).label()),
                );
                super::notify::send(conn, &now.reading.eligible, Some(actor.id), &note)?;
                let summary = format!("Requested the {group} approval again after a denial: a new round of votes starts");
                history::record(
                    conn,
                    &NewEvent { release_id: r.id, actor_id: Some(actor.id), record_version: r.version, kind: "approval", summary: &summary, from_phase_id: None, to_phase_id: None, reason: None },
                    &[],
                )?;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Ok(open_on_entry(conn, &r, r.phase_id, Some(actor.id))?.is_some()),
        }
    })
}

pub enum Decision {
    Approve,
    Deny,
    Retract,
}

pub enum VoteOutcome {
    Counted {
        summary: String,
    },
    /// Already voted in this cycle, or the form was for an earlier cycle: nothing was done.
    Nothing(String),
    Invalid(String),
}

/// Vote on an approval (for oneself, or for whoever delegated to the actor today).
pub fn decide(
    conn: &mut PgConnection,
    actor: Actor,
    approval_id: i64,
    cycle: i32,
    decision: Decision,
    comment: &str,
    on_behalf_of: Option<i64>,
) -> AppResult<VoteOutcome> {
    let comment = comment.trim();
    if comment.chars().count() > 2000 {
        return Ok(VoteOutcome::Invalid(
            "The comment must be at most 2,000 characters.".into(),
        ));
    }
    if matches!(decision, Decision::Deny | Decision::Retract) && comment.is_empty() {
        let what = if matches!(decision, Decision::Deny) {
            "deny"
        } else {
            "retract"
        };
        return Ok(VoteOutcome::Invalid(format!("Give a reason to {what}.")));
    }
    conn.transaction(|conn| {
        // Lock the record before its approval: every transaction takes them in that order.
        let release_id = am::find(conn, approval_id)?.release_id;
        let r = rel::find_by_id_for_update(conn, release_id)?;
        let a = am::find_for_update(conn, approval_id)?;
        if r.state != RecordState::Active.as_str() || a.status == "withdrawn" || a.phase_id != r.phase_id {
            return Err(AppError::Forbidden("This approval is closed: the release has moved on.".into()));
        }
        if a.cycle != cycle {
            return Ok(VoteOutcome::Nothing("The approval started a new round of votes since the page was loaded, so nothing was done. Vote again below.".into()));
        }
        if !actor.roles.has(Role::Approver) {
            return Err(AppError::Forbidden("Only release approvers vote on approvals.".into()));
        }
        let voter = match on_behalf_of {
            None => actor.id,
            Some(d) if d == actor.id => actor.id,
            Some(d) => {
                if !am::delegators_of(conn, actor.id, Utc::now().date_naive())?.contains(&d) {
                    return Err(AppError::Forbidden("You hold no delegation from that approver today.".into()));
                }
                d
            }
        };
        let round = read_now(conn, &a, &r)?;
        // Delegation never lets anyone vote on a release they are excluded from.
        for who in [actor.id, voter] {
            if let Some(part) = round.involvement.ineligibility(who) {
                let whose = if who == actor.id { "You are".to_string() } else { "The approver you vote for is".to_string() };
                let why = if who == actor.id { part.you().to_string() } else { format!("they are {}", part.became()) };
                return Err(AppError::Forbidden(format!("{whose} not eligible to vote on this release: {why}.")));
            }
        }
        if let Some(void) = round.reading.void.iter().find(|v| v.voter == voter) {
            return Err(AppError::Forbidden(format!("Not eligible in this round: a vote of this round no longer counts ({}).", void.reason())));
        }
        if !round.reading.eligible.contains(&voter) {
            return Err(AppError::Forbidden("Not eligible: only approvers of the group this approval was requested from may vote.".into()));
        }
        let group = groups::find(conn, a.group_id)?.name;
        let number = crate::paths::record_number(&r.kind, r.number);
        let voter_name = if voter != actor.id { Some(crate::models::users::find(conn, voter)?.display_name) } else { None };
        let for_whom = |s: String| match &voter_name {
            Some(n) => format!("{s} (for {n})"),
            None => s,
        };
        let (action, summary) = match decision {
            Decision::Retract => {
                if !round.votes.iter().any(|v| v.cycle == a.cycle && v.voter_id == voter) {
                    return Ok(VoteOutcome::Nothing("There is no decision of yours in this round to retract.".into()));
                }
                am::new_cycle(conn, a.id, a.cycle + 1)?;
                am::log(conn, a.id, a.cycle, Some(actor.id), (voter != actor.id).then_some(voter), "retract", comment)?;
                ("retract", for_whom(format!("Retracted a decision on the {group} approval: a new round of votes starts")))
            }
            Decision::Approve | Decision::Deny => {
                if a.status != "pending" {
                    return Ok(VoteOutcome::Nothing(format!(
                        "This approval is already {} in this round: nothing was counted. To vote again, a decision must be retracted first.",
                        a.status
                    )));
                }
                let key = if matches!(decision, Decision::Approve) { "approve" } else { "deny" };
                let parts: Vec<&str> = round.involvement.parts_of(voter).iter().map(|p| p.key()).collect();
                if !am::insert_vote(conn, a.id, a.cycle, voter, actor.id, key, comment, &parts)? {
                    return Ok(VoteOutcome::Nothing("That vote was already counted.".into()));
                }
                am::log(conn, a.id, a.cycle, Some(actor.id), (voter != actor.id).then_some(voter), key, comment)?;
                let verb = if key == "approve" { "Approved" } else { "Denied" };
                (key, for_whom(format!("{verb} for the {group} approval")))
            }
        };
        let mut summary = summary;
        if action != "retract" {
            let votes = am::votes(conn, &[a.id])?;
            let ids: Vec<i64> = round.approvers.iter().map(|(id, _)| *id).collect();
            let reading = rules::read_round(rule_of(&a), &ids, &round.involvement, &ballots(&a, &votes));
            let decided = match reading.outcome {
                Outcome::Approved => Some("approved"),
                Outcome::Denied => Some("denied"),
                Outcome::Pending { .. } => None,
            };
            if let Some(status) = decided {
                am::set_status(conn, a.id, status, Some(Utc::now()))?;
                am::log(conn, a.id, a.cycle, None, None, status, "")?;
                summary.push_str(&format!("; the {group} approval is now {status}"));
                let by = voter_name.clone().unwrap_or(crate::models::users::find(conn, actor.id)?.display_name);
                let mut body = format!("{summary} (decided by {by}).");
                if !comment.is_empty() {
                    body.push_str(&format!(" Reason: {comment}"));
                }
                if status == "denied" {
                    body.push_str(" The release stays in its phase: a voter may retract their decision, the approval may be requested again, or the release sent back for rework.");
                }
                let mut to: Vec<i64> = r.coordinator_id.into_iter().collect();
                to.extend(r.manager_id);
                let note = super::notify::Note::about(&r, "approval_decided", &format!("the {group} approval is {status}"), body);
                super::notify::send(conn, &to, Some(actor.id), &note)?;
            }
        }
        history::record(
            conn,
            &NewEvent { release_id: r.id, actor_id: Some(actor.id), record_version: r.version, kind: "approval", summary: &summary, from_phase_id: None, to_phase_id: None, reason: (!comment.is_empty()).then_some(comment) },
            &[],
        )?;
        Ok(VoteOutcome::Counted { summary: format!("{number}: {summary}") })
    })
}

/// One approval as the release page and the inbox show it.
pub struct ApprovalView {
    pub id: i64,
    pub cycle: i32,
    pub phase: String,
    pub group: String,
    pub rule: String,
    pub status: String,
    pub live: bool,
    pub waiting_for: String,
    pub eligible: Vec<String>,
    pub not_voted: Vec<String>,
    pub log: Vec<LogView>,
    /// People the current user may vote as now: (user id, label); empty when they may not.
    pub vote_as: Vec<(i64, String)>,
    /// Why the current user may not vote, when they are in the group but excluded.
    pub not_eligible: String,
    /// The current user has a decision in this round they may retract (as themselves or a delegator).
    pub may_retract_as: Vec<(i64, String)>,
    /// Votes of the current round that no longer count, and why.
    pub void_votes: Vec<String>,
    /// The denials that count in the current round: (who, their reason).
    pub denied_by: Vec<(String, String)>,
}

pub struct LogView {
    pub at: String,
    pub cycle: i32,
    pub who: String,
    pub action: String,
    pub comment: String,
}

fn action_label(a: &str) -> &'static str {
    match a {
        "requested" => "Approval requested",
        "approve" => "Approved",
        "deny" => "Denied",
        "retract" => "Retracted their decision",
        "approved" => "Outcome: approved",
        "denied" => "Outcome: denied",
        "withdrawn" => "Withdrawn",
        "void" => "A vote no longer counts",
        "reopened" => "Outcome: pending again",
        _ => "Other",
    }
}

/// The approvals of a release for the release page, with what `viewer` may do on each.
pub fn views_for_release(
    conn: &mut PgConnection,
    r: &Release,
    wf: &crate::domain::workflow::Workflow,
    viewer: Actor,
) -> QueryResult<Vec<ApprovalView>> {
    let list = am::of_release(conn, r.id)?;
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = list.iter().map(|a| a.id).collect();
    let votes = am::votes(conn, &ids)?;
    let log = am::log_of(conn, &ids)?;
    let names: HashMap<i64, String> = super::people::name_book(conn)?.users;
    let group_names: HashMap<i64, String> = groups::all(conn)?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    let delegators = am::delegators_of(conn, viewer.id, Utc::now().date_naive())?;
    let name = |id: i64| {
        names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("user #{id}"))
    };
    let mut out = Vec::new();
    for a in &list {
        // The round of the current phase is read afresh: its status is what its votes make now.
        let round = if a.phase_id == r.phase_id
            && r.state == RecordState::Active.as_str()
            && matches!(a.status.as_str(), "pending" | "approved" | "denied")
        {
            let mine = votes
                .iter()
                .filter(|v| v.approval_id == a.id)
                .cloned()
                .collect();
            Some(read_with_votes(conn, a, r, mine)?)
        } else {
            None
        };
        let status = match &round {
            Some(now) => now.reading.outcome.status().as_str().to_string(),
            None => a.status.clone(),
        };
        let live = round.is_some() && status != "approved";
        let el = match &round {
            Some(now) if live => now.eligible(),
            _ => Vec::new(),
        };
        let voted_now: Vec<i64> = votes
            .iter()
            .filter(|v| v.approval_id == a.id && v.cycle == a.cycle)
            .map(|v| v.voter_id)
            .collect();
        let void_votes: Vec<String> = round
            .iter()
            .flat_map(|now| now.reading.void.iter())
            .map(|v| {
                let approved = votes.iter().any(|x| {
                    x.approval_id == a.id
                        && x.cycle == a.cycle
                        && x.voter_id == v.voter
                        && x.decision == "approve"
                });
                let what = if approved { "approval" } else { "denial" };
                format!(
                    "{}: this {what} no longer counts: {}.",
                    name(v.voter),
                    v.reason()
                )
            })
            .collect();
        let denied_by: Vec<(String, String)> = match &round {
            Some(now) => votes
                .iter()
                .filter(|v| v.approval_id == a.id && v.cycle == a.cycle && v.decision == "deny")
                .filter(|v| now.reading.eligible.contains(&v.voter_id))
                .map(|v| (name(v.voter_id), v.comment.clone()))
                .collect(),
            None => Vec::new(),
        };
        let rule = rule_of(a);
        let mut vote_as = Vec::new();
        let mut may_retract_as = Vec::new();
        let mut not_eligible = String::new();
        if let (true, Some(now)) = (live && viewer.roles.has(Role::Approver), &round) {
            let in_group = now.approvers.iter().any(|(id, _)| *id == viewer.id);
            if let Some(part) = now.involvement.ineligibility(viewer.id) {
                if in_group || delegators.iter().any(|d| el.iter().any(|(e, _)| e == d)) {
                    not_eligible = format!("Not eligible: {}.", part.you());
                }
            } else {
                for (who, label) in std::iter::once((viewer.id, "yourself".to_string())).chain(
                    delegators
                        .iter()
                        .map(|d| (*d, format!("{} (delegated to you)", name(*d)))),
                ) {
                    if !el.iter().any(|(e, _)| *e == who) {
                        continue;
                    }
                    if voted_now.contains(&who) {
                        may_retract_as.push((who, label));
                    } else if status == "pending" {
                        vote_as.push((who, label));
                    }
                }
            }
        }
        out.push(ApprovalView {
            id: a.id,
            cycle: a.cycle,
            phase: wf.phase_name(a.phase_id).to_string(),
            group: group_names.get(&a.group_id).cloned().unwrap_or_default(),
            rule: rule.label(),
            waiting_for: match &round {
                Some(now) if live && status == "pending" => rules::describe(&now.reading),
                _ => String::new(),
            },
            status,
            live,
            void_votes,
            denied_by,
            not_voted: el
                .iter()
                .filter(|(id, _)| !voted_now.contains(id))
                .map(|(_, n)| n.clone())
                .collect(),
            eligible: el.iter().map(|(_, n)| n.clone()).collect(),
            log: log
                .iter()
                .filter(|l| l.approval_id == a.id)
                .map(|l| LogView {
                    at: crate::views::datetime(&l.at),
                    cycle: l.cycle,
                    who: match (l.actor_id, l.on_behalf_of_id) {
                        (Some(x), Some(y)) => format!("{} for {}", name(x), name(y)),
                        (Some(x), None) => name(x),
                        _ => "Relman".into(),
                    },
                    action: action_label(&l.action).into(),
                    comment: l.comment.clone(),
                })
                .collect(),
            vote_as,
            not_eligible,
            may_retract_as,
        });
    }
    Ok(out)
}

/// A row of the approvals inbox.
pub struct InboxItem {
    pub approval_id: i64,
    pub cycle: i32,
    pub release_number: String,
    pub release_href: String,
    pub title: String,
    pub release_type: String,
    pub risk: String,
    pub planned: String,
    pub phase: String,
    pub group: String,
    pub rule: String,
    /// (user id, label) the viewer may vote as.
    pub vote_as: Vec<(i64, String)>,
    /// When the approval was requested (the inbox is oldest first), and by which group.
    pub opened_at: chrono::DateTime<Utc>,
    pub group_id: i64,
}

/// The inbox's filters (GET parameters of `/approvals`); `None` is any.
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    pub group: Option<i64>,
    /// A release or change type key (`emergency` matches both kinds).
    pub release_type: Option<String>,
    pub risk: Option<String>,
}

impl InboxFilter {
    fn on_records(&self) -> bool {
        self.release_type.is_some() || self.risk.is_some()
    }
}

/// How many items `inbox(conn, viewer, limit)` would hold, in one statement: the count in
/// every approver's navigation (the same rules, written in SQL: the first `limit` pending
/// approvals of the voters' groups, less those the viewer is excluded from or nobody they
/// may vote as still has a vote in).
pub fn inbox_count(conn: &mut PgConnection, viewer: Actor, limit: i64) -> QueryResult<usize> {
    use diesel::sql_types::{BigInt, Date};
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    if !viewer.roles.has(Role::Approver) {
        return Ok(0);
    }
    let n: N = diesel::sql_query(
        "WITH voters AS (
             SELECT $1::bigint AS id
             UNION SELECT d.delegator_id FROM delegations d WHERE d.delegate_id = $1 AND d.starts_on <= $2 AND d.ends_on >= $2),
         mem AS (
             SELECT gm.user_id, gm.group_id FROM group_members gm JOIN users u ON u.id = gm.user_id
             WHERE gm.user_id IN (SELECT id FROM voters) AND u.active AND 'approver' = ANY(u.roles)),
         cand AS (
             -- Per group, as `inbox` reads them: its oldest pending approvals by the (group,
             -- opened_at) index, four times the limit of them, those whose release is still in
             -- their phase, the first `limit`; then the oldest of those. The candidates are
             -- read on their own: joined to the releases at once, the planner expects few rows
             -- to pass and sorts every pending approval of the group instead (at a million
             -- releases, 11,000 of them: 0.2 s alone, seconds when every page of a busy
             -- approver asked for it at once after a write).
             SELECT c.* FROM (SELECT DISTINCT group_id FROM mem) g
             CROSS JOIN LATERAL (
                 SELECT a.id, a.cycle, a.group_id, a.opened_at, a.own_group_may_approve, r.id AS rid,
                        r.registered_by, r.coordinator_id, r.manager_id
                 FROM (SELECT p.id, p.cycle, p.group_id, p.opened_at, p.release_id, p.phase_id, p.own_group_may_approve FROM approvals p
                       WHERE p.status = 'pending' AND p.group_id = g.group_id
                       ORDER BY p.opened_at LIMIT $3 * 4) a
                 JOIN releases r ON r.id = a.release_id AND r.phase_id = a.phase_id
                 WHERE r.state = 'active'
                 ORDER BY a.opened_at LIMIT $3) c
             ORDER BY c.opened_at LIMIT $3),
         -- Separation of duties as domain::approval::Involvement has it: the registrant, the
         -- coordinator, the manager, and of the record's tasks the assignees, whoever started or
         -- completed one and (unless the approval lets them) the members of their groups.
         barred AS (
             SELECT c.id, p.user_id FROM cand c
             CROSS JOIN LATERAL (SELECT id AS user_id FROM voters) p
             WHERE p.user_id IN (c.registered_by, c.coordinator_id, c.manager_id)
                OR EXISTS (SELECT 1 FROM tasks t WHERE t.release_id = c.rid
                           AND (p.user_id IN (t.assignee_id, t.started_by, t.completed_by)
                                OR (NOT c.own_group_may_approve AND EXISTS (
                                    SELECT 1 FROM group_members tg WHERE tg.group_id = t.group_id AND tg.user_id = p.user_id)))))
         SELECT count(*) AS n FROM cand c
         WHERE NOT EXISTS (SELECT 1 FROM barred b WHERE b.id = c.id AND b.user_id = $1)
           AND EXISTS (
               SELECT 1 FROM mem m
               WHERE m.group_id = c.group_id
                 AND NOT EXISTS (SELECT 1 FROM barred b WHERE b.id = c.id AND b.user_id = m.user_id)
                 AND NOT EXISTS (SELECT 1 FROM approval_votes v WHERE v.approval_id = c.id AND v.cycle = c.cycle AND v.voter_id = m.user_id))",
    )
    .bind::<BigInt, _>(viewer.id)
    .bind::<Date, _>(Utc::now().date_naive())
    .bind::<BigInt, _>(limit)
    .get_result(conn)?;
    Ok(n.n as usize)
}

/// Pending approvals the user may vote on now, as themselves or as a delegate.
/// A fixed number of queries, whatever the number of approvals.
pub fn inbox(conn: &mut PgConnection, viewer: Actor, limit: i64) -> QueryResult<Vec<InboxItem>> {
    inbox_where(conn, viewer, &InboxFilter::default(), limit)
}

/// The groups the viewer votes in, as themselves or for a delegator (the inbox's filter).
pub fn inbox_groups(conn: &mut PgConnection, viewer: Actor) -> QueryResult<Vec<(i64, String)>> {
    use crate::schema::{group_members as gm, groups as g, users as u};
    if !viewer.roles.has(Role::Approver) {
        return Ok(Vec::new());
    }
    let mut voters = vec![viewer.id];
    voters.extend(am::delegators_of(conn, viewer.id, Utc::now().date_naive())?);
    gm::table
        .inner_join(u::table)
        .inner_join(g::table)
        .filter(gm::user_id.eq_any(&voters))
        .filter(u::active.eq(true))
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "'approver' = ANY(users.roles)",
        ))
        .select((g::id, g::name))
        .distinct()
        .order(g::name)
        .load(conn)
}

/// The plans an approver reads before deciding, per approval: of the release plan, the
/// deployment plan and the back-out plan, those filled in and editable in the phase the
/// approval is for (what that phase's work produced), else every one filled in.
pub fn inbox_plans(
    conn: &mut PgConnection,
    approval_ids: &[i64],
) -> QueryResult<HashMap<i64, Vec<(&'static str, String)>>> {
    use crate::schema::{approvals as ap, phase_field_rules as pfr, release_details as d};
    const PLANS: [(&str, &str); 3] = [
        ("release_plan", "Release plan"),
        ("deployment_plan", "Deployment plan"),
        ("backout_plan", "Back-out plan"),
    ];
    let rows: Vec<(i64, i64, String, String, String)> = ap::table
        .inner_join(d::table.on(d::release_id.eq(ap::release_id)))
        .filter(ap::id.eq_any(approval_ids))
        .select((
            ap::id,
            ap::phase_id,
            d::release_plan,
            d::deployment_plan,
            d::backout_plan,
        ))
        .load(conn)?;
    let phases: Vec<i64> = rows.iter().map(|r| r.1).collect();
    let rules: Vec<(i64, String, String)> = pfr::table
        .filter(pfr::phase_id.eq_any(&phases))
        .filter(pfr::field.eq_any(PLANS.iter().map(|p| p.0)))
        .select((pfr::phase_id, pfr::field, pfr::rule))
        .load(conn)?;
    let mut out = HashMap::new();
    for (id, phase, release, deployment, backout) in rows {
        let filled: Vec<(&str, &'static str, String)> = PLANS
            .iter()
            .zip([release, deployment, backout])
            .filter(|(_, text)| !text.trim().is_empty())
            .map(|((key, label), text)| (*key, *label, text))
            .collect();
        let of_phase = |key: &str| {
            rules
                .iter()
                .any(|(p, f, r)| *p == phase && f == key && (r == "editable" || r == "required"))
        };
        let chosen: Vec<(&'static str, String)> = if filled.iter().any(|(k, _, _)| of_phase(k)) {
            filled
                .into_iter()
                .filter(|(k, _, _)| of_phase(k))
                .map(|(_, l, t)| (l, t))
                .collect()
        } else {
            filled.into_iter().map(|(_, l, t)| (l, t)).collect()
        };
        out.insert(id, chosen);
    }
    Ok(out)
}

/// [`inbox`] narrowed by `filter` (the group before reading, the type and risk in the
/// query), oldest request first.
pub fn inbox_where(
    conn: &mut PgConnection,
    viewer: Actor,
    filter: &InboxFilter,
    limit: i64,
) -> QueryResult<Vec<InboxItem>> {
    use crate::schema::{
        approval_votes as v, approvals as ap, group_members as gm, phases, releases as r,
        users as u,
    };
    if !viewer.roles.has(Role::Approver) {
        return Ok(Vec::new());
    }
    let mut voters = vec![viewer.id];
    voters.extend(am::delegators_of(conn, viewer.id, Utc::now().date_naive())?);
    // Voters (the viewer and delegators) who are approvers, with their groups.
    let memberships: Vec<(i64, i64)> = gm::table
        .inner_join(u::table)
        .filter(gm::user_id.eq_any(&voters))
        .filter(u::active.eq(true))
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "'approver' = ANY(users.roles)",
        ))
        .select((gm::user_id, gm::group_id))
        .load(conn)?;
    let mut group_ids: Vec<i64> = memberships.iter().map(|(_, g)| *g).collect();
    group_ids.sort_unstable();
    group_ids.dedup();
    group_ids.retain(|g| filter.group.is_none_or(|f| f == *g));
    type Row = (
        i64,
        i32,
        i64,
        i64,
        String,
        String,
        String,
        String,
        Option<chrono::DateTime<Utc>>,
        Option<chrono::DateTime<Utc>>,
        i64,
        Option<i64>,
        String,
        i64,
        String,
        Option<i32>,
        chrono::DateTime<Utc>,
        Option<i64>,
        bool,
    );
    // One query per group (by the (group, opened_at) index, stopping at the limit: with
    // `group_id = ANY(…)` PostgreSQL would join and sort every pending approval first), then
    // the oldest `limit` of them.
    let mut rows: Vec<Row> = Vec::new();
    for g in &group_ids {
        let candidates: Vec<i64> = if filter.on_records() {
            // Filtered by type or risk: the candidates are those of matching records, or a
            // page of other records' approvals would crowd them out.
            let mut q = ap::table
                .inner_join(r::table.on(r::id.eq(ap::release_id)))
                .filter(ap::status.eq("pending"))
                .filter(ap::group_id.eq(*g))
                .into_boxed();
            if let Some(t) = &filter.release_type {
                q = q.filter(r::release_type.eq(t.clone()));
            }
            if let Some(k) = &filter.risk {
                q = q.filter(r::risk.eq(k.clone()));
            }
            q.order(ap::opened_at)
                .limit(limit.max(0) * 4)
                .select(ap::id)
                .load(conn)?
        } else {
            ap::table
                .filter(ap::status.eq("pending"))
                .filter(ap::group_id.eq(*g))
                .order(ap::opened_at)
                .limit(limit.max(0) * 4)
                .select(ap::id)
                .load(conn)?
        };
        rows.extend(
            ap::table
                .inner_join(r::table.on(r::id.eq(ap::release_id).and(r::phase_id.eq(ap::phase_id))))
                .inner_join(phases::table.on(phases::id.eq(ap::phase_id)))
                // The group's oldest pending approvals first, by the index, as a small
                // candidate set: left to itself the planner joins and sorts every one of them.
                // (A pending approval of a release that moved on is rare: four times the limit.)
                .filter(ap::id.eq_any(&candidates))
                .filter(r::state.eq("active"))
                .order(ap::opened_at)
                .limit(limit)
                .select((
                    ap::id,
                    ap::cycle,
                    r::id,
                    r::number,
                    r::kind,
                    r::title,
                    r::release_type,
                    r::risk,
                    r::planned_start,
                    r::planned_end,
                    r::registered_by,
                    r::coordinator_id,
                    phases::name,
                    ap::group_id,
                    ap::rule,
                    ap::quorum_count,
                    ap::opened_at,
                    r::manager_id,
                    ap::own_group_may_approve,
                ))
                .load::<Row>(conn)?,
        );
    }
    rows.sort_by_key(|x| x.16);
    rows.truncate(limit.max(0) as usize);
    let approval_ids: Vec<i64> = rows.iter().map(|x| x.0).collect();
    let records: Vec<(i64, Parties, bool)> = rows
        .iter()
        .map(|x| {
            let parties = Parties {
                registered_by: x.10,
                coordinator_id: x.11,
                manager_id: x.17,
            };
            (x.2, parties, x.18)
        })
        .collect();
    let involved = involvements(conn, &records)?;
    let voted: Vec<(i64, i32, i64)> = v::table
        .filter(v::approval_id.eq_any(&approval_ids))
        .select((v::approval_id, v::cycle, v::voter_id))
        .load(conn)?;
    let names: HashMap<i64, String> = u::table
        .filter(u::id.eq_any(&voters))
        .select((u::id, u::display_name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let group_names: HashMap<i64, String> = groups::all(conn)?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    let mut out = Vec::new();
    for (
        aid,
        cycle,
        rid,
        number,
        kind,
        title,
        rtype,
        risk,
        ps,
        pe,
        _reg,
        _coord,
        phase,
        group,
        rule,
        quorum,
        opened_at,
        _manager,
        _own_group,
    ) in rows
    {
        let Some(inv) = involved.get(&rid) else {
            continue;
        };
        if inv.ineligibility(viewer.id).is_some() {
            continue;
        }
        let vote_as: Vec<(i64, String)> = voters
            .iter()
            .filter(|who| memberships.contains(&(**who, group)))
            .filter(|who| inv.ineligibility(**who).is_none())
            .filter(|who| !voted.contains(&(aid, cycle, **who)))
            .map(|who| {
                (
                    *who,
                    if *who == viewer.id {
                        "yourself".to_string()
                    } else {
                        format!(
                            "{} (delegated to you)",
                            names.get(who).cloned().unwrap_or_default()
                        )
                    },
                )
            })
            .collect();
        if vote_as.is_empty() {
            continue;
        }
        out.push(InboxItem {
            approval_id: aid,
            cycle,
            release_number: crate::paths::record_number(&kind, number),
            release_href: crate::paths::record(&kind, number),
            title,
            release_type: if kind == "change" {
                crate::domain::workflow::RecordKind::Change
            } else {
                crate::domain::workflow::RecordKind::Release
            }
            .type_label(&rtype)
            .to_string(),
            risk: risk
                .parse::<crate::domain::risk::Risk>()
                .map(|x| x.label().to_string())
                .unwrap_or_default(),
            planned: format!(
                "{} to {}",
                crate::views::opt_datetime(&ps),
                crate::views::opt_datetime(&pe)
            ),
            phase,
            group: group_names.get(&group).cloned().unwrap_or_default(),
            rule: Rule::from_parts(&rule, quorum).unwrap_or(Rule::All).label(),
            vote_as,
            opened_at,
            group_id: group,
        });
    }
    Ok(out)
}
