//! The workflow validator: refuses a workflow that cannot carry a record from its first
//! phase to a close, with one clear message per problem.
use std::collections::{HashMap, HashSet};

use super::fields::Rule;
use super::workflow::{TransitionKind, Workflow};

/// Field rules of one workflow: (phase id, field label, rule).
pub type RuleGrid<'a> = [(i64, &'a str, Rule)];

/// Every problem that stops this workflow from being used; empty when it is sound.
pub fn problems(wf: &Workflow, rules: &RuleGrid) -> Vec<String> {
    let mut out = Vec::new();
    let mut phases: Vec<_> = wf.phases.iter().filter(|p| !p.retired).collect();
    phases.sort_by_key(|p| p.position);
    let Some(first) = phases.first() else {
        out.push("The workflow has no phases: add at least one.".to_string());
        return out;
    };
    let active: HashSet<i64> = phases.iter().map(|p| p.id).collect();
    let live = wf
        .transitions
        .iter()
        .filter(|t| active.contains(&t.from) && t.to.is_none_or(|to| active.contains(&to)));
    let mut edges: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut closes: HashSet<i64> = HashSet::new();
    let mut way_out: HashSet<i64> = HashSet::new();
    for t in live {
        match t.to {
            Some(to) => {
                edges.entry(t.from).or_default().push(to);
                way_out.insert(t.from);
            }
            None if t.kind == TransitionKind::Close => {
                closes.insert(t.from);
                way_out.insert(t.from);
            }
            None => {}
        }
    }
    for t in &wf.transitions {
        if let Some(to) = t.to {
            if active.contains(&t.from) && !active.contains(&to) {
                out.push(format!(
                    "“{}” from {} leads to the retired phase {}: remove it or restore the phase.",
                    t.label,
                    wf.phase_name(t.from),
                    wf.phase_name(to)
                ));
            }
        }
    }

    let reached = reachable(first.id, &edges);
    for p in &phases {
        if !reached.contains(&p.id) {
            out.push(format!(
                "{} cannot be reached from the first phase, {}.",
                p.name, first.name
            ));
        }
    }
    if closes.is_empty() {
        out.push("No phase can close the record: add a close transition.".to_string());
    } else if !reached.iter().any(|p| closes.contains(p)) {
        out.push(format!(
            "No path leads from {} to a phase that closes the record.",
            first.name
        ));
    }
    for p in &phases {
        if !way_out.contains(&p.id) {
            out.push(format!(
                "{} has no way out: add a transition that leaves it or closes the record.",
                p.name
            ));
        } else if !closes.is_empty()
            && reached.contains(&p.id)
            && !reachable(p.id, &edges).iter().any(|q| closes.contains(q))
        {
            out.push(format!("From {} no path leads to a close.", p.name));
        }
    }

    // A field required to enter a phase must be editable in some phase that leads to it,
    // or nobody could ever fill it.
    for (phase, label, rule) in rules {
        if *rule != Rule::Entry || !active.contains(phase) {
            continue;
        }
        let fillable = rules.iter().any(|(q, l, r)| {
            l == label && r.editable() && q != phase && reachable(*q, &edges).contains(phase)
        });
        if !fillable {
            out.push(format!(
                "{label} is required to enter {} but no phase before it lets anyone fill it in.",
                wf.phase_name(*phase)
            ));
        }
    }
    out
}

fn reachable(start: i64, edges: &HashMap<i64, Vec<i64>>) -> HashSet<i64> {
    let mut seen = HashSet::from([start]);
    let mut stack = vec![start];
    while let Some(p) = stack.pop() {
        for n in edges.get(&p).into_iter().flatten() {
            if seen.insert(*n) {
                stack.push(*n);
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::roles::{Role, Roles};
    use crate::domain::workflow::{Condition, Outcome, PhaseDef, TransitionDef};

    fn phase(id: i64, name: &str) -> PhaseDef {
        PhaseDef {
            id,
            name: name.into(),
            position: id as i32,
            condition: Condition::Always,
            retired: false,
            duration_hours: 24,
            emergency_duration_hours: 2,
            record_types: Vec::new(),
        }
    }

    fn t(id: i64, from: i64, to: Option<i64>, kind: TransitionKind) -> TransitionDef {
        TransitionDef {
            id,
            from,
            to,
            kind,
            label: format!("t{id}"),
            roles: Roles::of(&[Role::Coordinator]),
            reason_required: false,
            outcome: (kind == TransitionKind::Close).then_some(Outcome::Successful),
        }
    }

    fn four_phases() -> Workflow {
        Workflow {
            phases: vec![
                phase(1, "Order"),
                phase(2, "Install"),
                phase(3, "Test"),
                phase(4, "Handover"),
            ],
            transitions: vec![
                t(1, 1, Some(2), TransitionKind::Advance),
                t(2, 2, Some(3), TransitionKind::Advance),
                t(3, 3, Some(4), TransitionKind::Advance),
                t(4, 4, None, TransitionKind::Close),
                t(5, 3, Some(2), TransitionKind::Rework),
            ],
        }
    }

    #[test]
    fn a_sound_workflow_has_no_problems() {
        assert_eq!(problems(&four_phases(), &[]), Vec::<String>::new());
    }

    #[test]
    fn an_unreachable_phase_is_named() {
        let mut wf = four_phases();
        wf.phases.push(phase(5, "Island"));
        wf.transitions.push(t(6, 5, None, TransitionKind::Close));
        let p = problems(&wf, &[]);
        assert!(
            p.iter().any(|m| m.contains("Island cannot be reached")),
            "{p:?}"
        );
    }

    #[test]
    fn a_dead_end_is_named() {
        let mut wf = four_phases();
        wf.transitions.retain(|t| t.id != 3);
        let p = problems(&wf, &[]);
        assert!(
            p.iter()
                .any(|m| m.contains("Test has no way out") || m.contains("From Test no path")),
            "{p:?}"
        );
        assert!(
            p.iter().any(|m| m.contains("Handover cannot be reached")),
            "{p:?}"
        );
    }

    #[test]
    fn no_close_is_named() {
        let mut wf = four_phases();
        wf.transitions.retain(|t| t.kind != TransitionKind::Close);
        let p = problems(&wf, &[]);
        assert!(p.iter().any(|m| m.contains("No phase can close")), "{p:?}");
    }

    #[test]
    fn an_empty_workflow_is_refused() {
        let p = problems(&Workflow::default(), &[]);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn a_field_required_on_entry_must_be_fillable_before() {
        let wf = four_phases();
        let ok = [
            (2, "Back-out plan", Rule::Editable),
            (3, "Back-out plan", Rule::Entry),
        ];
        assert!(problems(&wf, &ok).is_empty());
        let bad = [
            (1, "Back-out plan", Rule::Hidden),
            (3, "Back-out plan", Rule::Entry),
        ];
        let p = problems(&wf, &bad);
        assert!(
            p.iter()
                .any(|m| m.contains("Back-out plan is required to enter Test")),
            "{p:?}"
        );
    }

    #[test]
    fn a_transition_into_a_retired_phase_is_named() {
        let mut wf = four_phases();
        wf.phases[3].retired = true;
        let p = problems(&wf, &[]);
        assert!(
            p.iter().any(|m| m.contains("retired phase Handover")),
            "{p:?}"
        );
    }
}
