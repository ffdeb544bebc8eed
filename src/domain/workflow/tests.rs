//! The workflow engine's rules: every role × every transition kind × every blocking reason,
//! on the out-of-box Release Management workflow.
use super::*;
use crate::domain::risk::Level;
use crate::domain::roles::{Role, Roles};

const ASSESS: i64 = 1;
const PLAN: i64 = 2;
const BUILD: i64 = 3;
const TRAINING: i64 = 4;
const ROLLOUT: i64 = 5;
const BACK_OUT: i64 = 6;
const VERIFY: i64 = 7;

fn phase(id: i64, name: &str, condition: Condition) -> PhaseDef {
    PhaseDef {
        id,
        name: name.into(),
        position: id as i32,
        condition,
        retired: false,
        duration_hours: 24 * id as i32,
        emergency_duration_hours: id as i32,
        record_types: if name == "Training" {
            vec!["major".into(), "minor".into()]
        } else {
            vec![]
        },
    }
}

fn t(
    id: i64,
    from: i64,
    to: Option<i64>,
    kind: TransitionKind,
    outcome: Option<Outcome>,
) -> TransitionDef {
    TransitionDef {
        id,
        from,
        to,
        kind,
        label: format!("{kind:?} {from}→{to:?}"),
        roles: Roles::of(&[Role::Coordinator, Role::Manager]),
        reason_required: matches!(
            kind,
            TransitionKind::Rework | TransitionKind::Abandon | TransitionKind::BackOut
        ),
        outcome,
    }
}

/// The out-of-box release workflow, as the migration creates it.
fn release_workflow() -> Workflow {
    use TransitionKind::*;
    let phases = vec![
        phase(ASSESS, "Assess", Condition::Always),
        phase(PLAN, "Plan and Design", Condition::Always),
        phase(BUILD, "Build and Test", Condition::Always),
        phase(TRAINING, "Training", Condition::ImpactAndUrgencyHigh),
        phase(ROLLOUT, "Distribution and Rollout", Condition::Always),
        phase(BACK_OUT, "Back Out", Condition::Always),
        phase(VERIFY, "Verification", Condition::Always),
    ];
    let mut ts = vec![
        t(1, ASSESS, Some(PLAN), Advance, None),
        t(2, PLAN, Some(BUILD), Advance, None),
        t(3, BUILD, Some(TRAINING), Advance, None),
        t(4, TRAINING, Some(ROLLOUT), Advance, None),
        t(5, ROLLOUT, Some(VERIFY), Advance, None),
        t(6, BACK_OUT, Some(VERIFY), Advance, None),
        t(7, ROLLOUT, Some(BACK_OUT), BackOut, None),
        t(8, VERIFY, None, Close, Some(Outcome::Successful)),
        t(9, VERIFY, None, Close, Some(Outcome::BackedOut)),
    ];
    let mut id = 100;
    for from in [ASSESS, PLAN, BUILD, ROLLOUT, BACK_OUT, VERIFY] {
        ts.push(t(id, from, None, Abandon, None));
        id += 1;
    }
    for from in ASSESS..=VERIFY {
        for to in ASSESS..from {
            if to != BACK_OUT {
                ts.push(t(id, from, Some(to), Rework, None));
                id += 1;
            }
        }
    }
    Workflow {
        phases,
        transitions: ts,
    }
}

fn fit(impact: Level, urgency: Level, record_type: &str) -> Fit {
    Fit {
        impact,
        urgency,
        record_type: record_type.into(),
    }
}

fn situation(phase_id: i64, roles: &[Role]) -> Situation {
    Situation {
        state: RecordState::Active,
        phase_id,
        impact: Level::Medium,
        urgency: Level::Medium,
        record_type: "major".into(),
        backed_out: false,
        actor_roles: Roles::of(roles),
        actor_may_work: true,
        missing_to_leave: vec![],
        missing_to_enter: vec![],
        gates: vec![],
        close_gates: vec![],
        entry_gates: vec![],
    }
}

fn first_of(wf: &Workflow, from: i64, kind: TransitionKind) -> TransitionDef {
    wf.transitions_from(from)
        .find(|t| t.kind == kind)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind:?} from {from}"))
}

/// One transition of every kind, each from a phase it leaves, with a situation that allows it.
fn every_kind(wf: &Workflow) -> Vec<(TransitionDef, Situation)> {
    let mut out = vec![
        (
            first_of(wf, ASSESS, TransitionKind::Advance),
            situation(ASSESS, &[]),
        ),
        (
            first_of(wf, PLAN, TransitionKind::Rework),
            situation(PLAN, &[]),
        ),
        (
            first_of(wf, ASSESS, TransitionKind::Abandon),
            situation(ASSESS, &[]),
        ),
        (
            first_of(wf, ROLLOUT, TransitionKind::BackOut),
            situation(ROLLOUT, &[]),
        ),
        (wf.transition(8).unwrap().clone(), situation(VERIFY, &[])),
    ];
    let mut backed_out = situation(VERIFY, &[]);
    backed_out.backed_out = true;
    out.push((wf.transition(9).unwrap().clone(), backed_out));
    out
}

#[test]
fn every_role_against_every_transition_kind() {
    let wf = release_workflow();
    for (tr, base) in every_kind(&wf) {
        for role in Role::ALL {
            let mut s = base.clone();
            s.actor_roles = Roles::of(&[role]);
            let b = blockers(&wf, &tr, &s);
            let allowed = matches!(role, Role::Coordinator | Role::Manager);
            assert_eq!(b.is_empty(), allowed, "{role} taking {:?}: {b:?}", tr.kind);
            if !allowed {
                assert!(matches!(b[0], Blocker::Role(_)), "{b:?}");
                assert!(b[0].to_string().contains("Only these roles"));
            }
        }
        let mut nobody = base.clone();
        nobody.actor_roles = Roles::default();
        assert!(matches!(blockers(&wf, &tr, &nobody)[0], Blocker::Role(_)));
    }
}

#[test]
fn a_coordinator_who_may_not_work_the_record_is_told_so() {
    let wf = release_workflow();
    for (tr, mut s) in every_kind(&wf) {
        s.actor_roles = Roles::of(&[Role::Coordinator]);
        s.actor_may_work = false;
        assert_eq!(
            blockers(&wf, &tr, &s),
            vec![Blocker::NotYourRecord],
            "{:?}",
            tr.kind
        );
    }
}

#[test]
fn ended_records_refuse_every_transition() {
    let wf = release_workflow();
    for state in [
        RecordState::ClosedSuccessful,
        RecordState::ClosedBackedOut,
        RecordState::Abandoned,
    ] {
        for (tr, mut s) in every_kind(&wf) {
            s.actor_roles = Roles::of(&[Role::Manager]);
            s.state = state;
            let b = blockers(&wf, &tr, &s);
            assert_eq!(b, vec![Blocker::Ended(state)]);
            assert!(b[0].to_string().contains("nothing more can be done"));
        }
    }
}

#[test]
fn a_transition_from_another_phase_is_refused() {
    let wf = release_workflow();
    for (tr, mut s) in every_kind(&wf) {
        s.actor_roles = Roles::of(&[Role::Manager]);
        s.phase_id = if tr.from == ASSESS { PLAN } else { ASSESS };
        assert_eq!(blockers(&wf, &tr, &s), vec![Blocker::NotFromCurrentPhase]);
    }
}

#[test]
fn missing_required_fields_block_only_moves_that_complete_the_phase() {
    let wf = release_workflow();
    for (tr, mut s) in every_kind(&wf) {
        s.actor_roles = Roles::of(&[Role::Coordinator]);
        s.missing_to_leave = vec!["Test result".into()];
        let b = blockers(&wf, &tr, &s);
        if tr.kind.completes_phase() {
            assert_eq!(
                b,
                vec![Blocker::MissingToLeave(vec!["Test result".into()])],
                "{:?}",
                tr.kind
            );
            assert_eq!(
                b[0].to_string(),
                "Required to leave this phase: Test result."
            );
        } else {
            assert!(b.is_empty(), "{:?} is not held by fields: {b:?}", tr.kind);
        }
    }
}

#[test]
fn gates_block_only_moves_that_complete_the_phase() {
    let wf = release_workflow();
    let gates = [
        Gate::OpenTasks {
            count: 3,
            phase: "Build and Test".into(),
        },
        Gate::Approval {
            group: "CAB".into(),
            status: "pending".into(),
        },
        Gate::RelatedRecords {
            reason: "Related changes not approved".into(),
            numbers: vec!["C-000001".into()],
        },
        Gate::Other("Waiting for the freeze to end.".into()),
    ];
    for gate in gates {
        for (tr, mut s) in every_kind(&wf) {
            s.actor_roles = Roles::of(&[Role::Manager]);
            s.gates = vec![gate.clone()];
            let b = blockers(&wf, &tr, &s);
            assert_eq!(
                b.is_empty(),
                !tr.kind.completes_phase(),
                "{gate:?} on {:?}",
                tr.kind
            );
        }
    }
    let open = Blocker::Gate(Gate::OpenTasks {
        count: 3,
        phase: "Build and Test".into(),
    });
    assert_eq!(open.to_string(), "3 open tasks in Build and Test.");
}

#[test]
fn a_field_required_to_enter_the_target_blocks_moves_into_it() {
    let wf = release_workflow();
    let mut s = situation(BUILD, &[Role::Coordinator]);
    s.missing_to_enter = vec![(ROLLOUT, vec!["Back-out plan".into()])];
    // Advancing from Build and Test skips Training (impact and urgency are medium) into Rollout.
    let advance = first_of(&wf, BUILD, TransitionKind::Advance);
    let b = blockers(&wf, &advance, &s);
    assert_eq!(
        b,
        vec![Blocker::MissingToEnter {
            phase: "Distribution and Rollout".into(),
            fields: vec!["Back-out plan".into()]
        }]
    );
    assert_eq!(
        b[0].to_string(),
        "Required to enter Distribution and Rollout: Back-out plan."
    );
    // Rework into Plan and Design is not held.
    let rework = wf
        .transitions_from(BUILD)
        .find(|t| t.kind == TransitionKind::Rework && t.to == Some(PLAN))
        .unwrap()
        .clone();
    assert!(blockers(&wf, &rework, &s).is_empty());
}

#[test]
fn training_is_skipped_unless_impact_and_urgency_are_both_high() {
    let wf = release_workflow();
    let advance = first_of(&wf, BUILD, TransitionKind::Advance);
    assert_eq!(
        wf.landing(&advance, &fit(Level::High, Level::Medium, "major")),
        Some((ROLLOUT, vec![TRAINING]))
    );
    assert_eq!(
        wf.landing(&advance, &fit(Level::Low, Level::High, "major")),
        Some((ROLLOUT, vec![TRAINING]))
    );
    assert_eq!(
        wf.landing(&advance, &fit(Level::High, Level::High, "major")),
        Some((TRAINING, vec![]))
    );
}

#[test]
fn reworking_into_a_phase_that_does_not_apply_is_refused() {
    let mut wf = release_workflow();
    // A rework into Training, as a manager might configure it.
    wf.transitions.push(t(
        999,
        ROLLOUT,
        Some(TRAINING),
        TransitionKind::Rework,
        None,
    ));
    let tr = wf.transition(999).unwrap().clone();
    let s = situation(ROLLOUT, &[Role::Manager]);
    assert_eq!(
        blockers(&wf, &tr, &s),
        vec![Blocker::DoesNotApply("Training".into())]
    );
}

#[test]
fn training_cannot_be_abandoned_or_backed_out() {
    let wf = release_workflow();
    let kinds: Vec<_> = wf.transitions_from(TRAINING).map(|t| t.kind).collect();
    assert!(!kinds.contains(&TransitionKind::Abandon));
    assert!(!kinds.contains(&TransitionKind::BackOut));
    let abandon = first_of(&wf, ASSESS, TransitionKind::Abandon);
    let s = situation(TRAINING, &[Role::Manager]);
    assert_eq!(
        blockers(&wf, &abandon, &s),
        vec![Blocker::NotFromCurrentPhase]
    );
}

#[test]
fn closing_must_match_whether_the_back_out_plan_was_activated() {
    let wf = release_workflow();
    let ok = wf.transition(8).unwrap().clone();
    let backed = wf.transition(9).unwrap().clone();
    let mut s = situation(VERIFY, &[Role::Coordinator]);
    assert!(blockers(&wf, &ok, &s).is_empty());
    assert_eq!(blockers(&wf, &backed, &s), vec![Blocker::NotBackedOut]);
    s.backed_out = true;
    assert_eq!(blockers(&wf, &ok, &s), vec![Blocker::WasBackedOut]);
    assert!(blockers(&wf, &backed, &s).is_empty());
    assert_eq!(state_after(&ok), RecordState::ClosedSuccessful);
    assert_eq!(state_after(&backed), RecordState::ClosedBackedOut);
    assert_eq!(
        state_after(&first_of(&wf, ASSESS, TransitionKind::Abandon)),
        RecordState::Abandoned
    );
    assert_eq!(
        state_after(&first_of(&wf, ASSESS, TransitionKind::Advance)),
        RecordState::Active
    );
}

#[test]
fn a_retired_target_phase_is_refused() {
    let mut wf = release_workflow();
    wf.phases.iter_mut().find(|p| p.id == PLAN).unwrap().retired = true;
    let advance = first_of(&wf, ASSESS, TransitionKind::Advance);
    let s = situation(ASSESS, &[Role::Manager]);
    assert_eq!(
        blockers(&wf, &advance, &s),
        vec![Blocker::TargetRetired("Plan and Design".into())]
    );
}

#[test]
fn several_reasons_are_all_reported() {
    let wf = release_workflow();
    let advance = first_of(&wf, ASSESS, TransitionKind::Advance);
    let mut s = situation(ASSESS, &[Role::Approver]);
    s.missing_to_leave = vec!["Title".into()];
    s.gates = vec![Gate::OpenTasks {
        count: 1,
        phase: "Assess".into(),
    }];
    let b = blockers(&wf, &advance, &s);
    assert_eq!(b.len(), 3, "{b:?}");
    assert_eq!(b[2].to_string(), "1 open task in Assess.");
}

#[test]
fn due_dates_use_days_or_emergency_hours() {
    let wf = release_workflow();
    let p = wf.phase(PLAN).unwrap();
    let now = chrono::Utc::now();
    assert_eq!(p.due_at(now, false), now + chrono::Duration::hours(48));
    assert_eq!(p.due_at(now, true), now + chrono::Duration::hours(2));
}

#[test]
fn the_first_phase_is_the_first_that_applies() {
    let mut wf = release_workflow();
    assert_eq!(
        wf.first_phase(&fit(Level::Low, Level::Low, "major"))
            .unwrap()
            .id,
        ASSESS
    );
    wf.phases[0].condition = Condition::ImpactAndUrgencyHigh;
    assert_eq!(
        wf.first_phase(&fit(Level::Low, Level::Low, "major"))
            .unwrap()
            .id,
        PLAN
    );
    assert_eq!(
        wf.first_phase(&fit(Level::High, Level::High, "major"))
            .unwrap()
            .id,
        ASSESS
    );
}

#[test]
fn close_gates_hold_only_closing_and_entry_gates_only_moves_into_their_phase() {
    let wf = release_workflow();
    let held = Gate::RelatedRecords {
        reason: "Related changes not closed".into(),
        numbers: vec!["C-000002".into()],
    };
    let mut s = situation(VERIFY, &[Role::Coordinator]);
    s.close_gates = vec![held.clone()];
    let close = wf.transition(8).unwrap().clone();
    assert_eq!(blockers(&wf, &close, &s), vec![Blocker::Gate(held.clone())]);
    assert_eq!(
        Blocker::Gate(held).to_string(),
        "Related changes not closed: C-000002."
    );
    let rework = first_of(&wf, VERIFY, TransitionKind::Rework);
    assert!(blockers(&wf, &rework, &s).is_empty());

    let unapproved = Gate::RelatedRecords {
        reason: "Related changes not approved".into(),
        numbers: vec!["C-000001".into()],
    };
    let mut s = situation(BUILD, &[Role::Coordinator]);
    s.entry_gates = vec![(ROLLOUT, unapproved.clone())];
    let advance = first_of(&wf, BUILD, TransitionKind::Advance);
    assert_eq!(
        blockers(&wf, &advance, &s),
        vec![Blocker::Gate(unapproved.clone())]
    );
    // Rework into the held phase is not held at the door.
    let mut s = situation(VERIFY, &[Role::Coordinator]);
    s.entry_gates = vec![(ROLLOUT, unapproved)];
    let back = wf
        .transitions_from(VERIFY)
        .find(|t| t.kind == TransitionKind::Rework && t.to == Some(ROLLOUT))
        .unwrap()
        .clone();
    assert!(blockers(&wf, &back, &s).is_empty());
}

#[test]
fn gates_a_transition_does_not_need_never_change_its_blockers() {
    // Taking one transition reads only the gates `GateNeeds::of` names: leaving the others
    // out must give the very same answer as reading them all.
    let wf = release_workflow();
    let gate = |s: &str| Gate::Other(s.into());
    for (tr, mut s) in every_kind(&wf) {
        s.actor_roles = Roles::of(&[Role::Manager]);
        s.gates = vec![gate("phase")];
        s.close_gates = vec![gate("close")];
        s.entry_gates = wf.phases.iter().map(|p| (p.id, gate("entry"))).collect();
        let needs = GateNeeds::of(&tr);
        // Taking it, only the phase it lands in is asked for its entry gates.
        let landing = wf.landing(&tr, &s.fit()).map(|(p, _)| p);
        let taking = needs.landing_in(landing);
        let mut only = s.clone();
        if !taking.phase {
            only.gates.clear();
        }
        if !taking.close {
            only.close_gates.clear();
        }
        only.entry_gates.retain(|(p, _)| taking.entry_of(*p));
        if needs.entry && landing.is_some() {
            assert_eq!(only.entry_gates.len(), 1, "{:?}", tr.kind);
        }
        assert_eq!(
            blockers(&wf, &tr, &s),
            blockers(&wf, &tr, &only),
            "{:?}",
            tr.kind
        );
        assert_eq!(
            needs.any(),
            !blockers(&wf, &tr, &s).is_empty(),
            "{:?}",
            tr.kind
        );
    }
}

#[test]
fn ending_settles_all_open_work_and_a_back_out_the_phase_it_leaves() {
    use TransitionKind::*;
    let wf = release_workflow();
    let abandon = first_of(&wf, PLAN, Abandon);
    assert_eq!(
        settling(&abandon, "release"),
        Some(Settling {
            phase: None,
            reason: "release abandoned".into()
        })
    );
    let close = first_of(&wf, VERIFY, Close);
    assert_eq!(
        settling(&close, "change").map(|s| s.reason),
        Some("change closed".into())
    );
    let back_out = first_of(&wf, ROLLOUT, BackOut);
    assert_eq!(
        settling(&back_out, "release"),
        Some(Settling {
            phase: Some(ROLLOUT),
            reason: "backed out".into()
        })
    );
    assert_eq!(settling(&first_of(&wf, PLAN, Advance), "release"), None);
    assert_eq!(settling(&first_of(&wf, PLAN, Rework), "release"), None);
}

#[test]
fn training_applies_to_major_and_minor_releases_of_high_impact_and_urgency_only() {
    let wf = release_workflow();
    let advance = first_of(&wf, BUILD, TransitionKind::Advance);
    let high = |t: &str| wf.landing(&advance, &fit(Level::High, Level::High, t));
    assert_eq!(high("major"), Some((TRAINING, vec![])));
    assert_eq!(high("minor"), Some((TRAINING, vec![])));
    assert_eq!(
        high("emergency"),
        Some((ROLLOUT, vec![TRAINING])),
        "an emergency skips Training"
    );
    assert_eq!(
        wf.landing(&advance, &fit(Level::High, Level::Low, "major")),
        Some((ROLLOUT, vec![TRAINING]))
    );
}

#[test]
fn a_package_waits_for_members_behind_the_phase_it_enters() {
    let m = |n: &str, active, position, target| MemberAt {
        number: n.into(),
        active,
        position,
        target_position: target,
    };
    let members = [
        m("RL-1", true, 1, Some(5)),
        m("RL-2", true, 5, Some(5)),
        m("RL-3", false, 1, Some(5)),
        m("RL-4", true, 6, Some(5)),
        m("RL-5", true, 1, None),
    ];
    assert_eq!(members_behind(&members), vec!["RL-1".to_string()]);
}

#[test]
fn a_category_takes_the_types_it_names_and_only_a_marked_standard_workflow_pre_approves() {
    let standard = vec!["standard".to_string()];
    assert!(category_accepts(&standard, "standard"));
    assert!(!category_accepts(&standard, "emergency"));
    assert!(
        category_accepts(&[], "emergency"),
        "a category naming no type takes every type"
    );
    assert!(pre_approved("standard", true, false));
    assert!(
        !pre_approved("emergency", true, false),
        "an emergency is never pre-approved"
    );
    assert!(
        !pre_approved("standard", false, false),
        "the workflow must be marked"
    );
    assert!(
        !pre_approved("standard", true, true),
        "a workflow with approvals is not pre-approved"
    );
}
