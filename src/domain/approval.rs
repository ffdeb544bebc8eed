//! CAB approval rules: one pure function per rule decides, from the votes so far, whether an
//! approval is approved, denied or still pending — and what it is waiting for.
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Every eligible voter approves. Denied once everyone has voted and someone denied.
    All,
    /// One approval is enough. Denied when every eligible voter denied.
    One,
    /// A number of approvals (`Some(n)`), or more than half of the eligible voters (`None`).
    /// Denied as soon as the quorum can no longer be reached.
    Quorum(Option<u32>),
    /// Every eligible voter approves; the first denial ends the cycle.
    AllImmediateDenial,
}

impl Rule {
    pub fn from_parts(rule: &str, quorum: Option<i32>) -> Option<Rule> {
        Some(match rule {
            "all" => Rule::All,
            "one" => Rule::One,
            "quorum" => Rule::Quorum(
                quorum
                    .and_then(|q| u32::try_from(q).ok())
                    .filter(|q| *q > 0),
            ),
            "all_immediate_denial" => Rule::AllImmediateDenial,
            _ => return None,
        })
    }

    pub fn key(self) -> &'static str {
        match self {
            Rule::All => "all",
            Rule::One => "one",
            Rule::Quorum(_) => "quorum",
            Rule::AllImmediateDenial => "all_immediate_denial",
        }
    }

    pub fn label(self) -> String {
        match self {
            Rule::All => "All must approve".into(),
            Rule::One => "One must approve".into(),
            Rule::Quorum(None) => "Quorum: more than half must approve".into(),
            Rule::Quorum(Some(n)) => format!("Quorum: {n} must approve"),
            Rule::AllImmediateDenial => "All must approve — immediate denial".into(),
        }
    }

    /// Approvals needed out of `eligible` voters.
    pub fn needed(self, eligible: usize) -> usize {
        match self {
            Rule::All | Rule::AllImmediateDenial => eligible,
            Rule::One => 1,
            Rule::Quorum(None) => eligible / 2 + 1,
            Rule::Quorum(Some(n)) => n as usize,
        }
    }
}

pub const RULE_KEYS: [(&str, &str); 4] = [
    ("all", "All must approve"),
    ("one", "One must approve"),
    ("quorum", "Quorum"),
    (
        "all_immediate_denial",
        "All must approve — immediate denial",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Approved,
    Denied,
    Withdrawn,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Denied => "denied",
            Status::Withdrawn => "withdrawn",
        }
    }
}

impl FromStr for Status {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "pending" => Ok(Status::Pending),
            "approved" => Ok(Status::Approved),
            "denied" => Ok(Status::Denied),
            "withdrawn" => Ok(Status::Withdrawn),
            _ => Err(()),
        }
    }
}

/// Votes of the current cycle by eligible voters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub eligible: usize,
    pub approvals: usize,
    pub denials: usize,
}

/// The decision the votes so far make under a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Approved,
    Denied,
    /// Still open: how many more approvals are needed.
    Pending {
        more_needed: usize,
    },
}

pub fn outcome(rule: Rule, t: Tally) -> Outcome {
    let needed = rule.needed(t.eligible);
    let pending = Outcome::Pending {
        more_needed: needed.saturating_sub(t.approvals),
    };
    if t.eligible == 0 {
        // Nobody may vote: it can never be approved until the group changes.
        return Outcome::Pending {
            more_needed: needed.max(1),
        };
    }
    let voted = t.approvals + t.denials;
    match rule {
        Rule::AllImmediateDenial if t.denials > 0 => Outcome::Denied,
        Rule::All | Rule::AllImmediateDenial => {
            if t.approvals >= t.eligible {
                Outcome::Approved
            } else if voted >= t.eligible && t.denials > 0 {
                Outcome::Denied
            } else {
                pending
            }
        }
        Rule::One => {
            if t.approvals >= 1 {
                Outcome::Approved
            } else if t.denials >= t.eligible {
                Outcome::Denied
            } else {
                pending
            }
        }
        Rule::Quorum(_) => {
            if t.approvals >= needed {
                Outcome::Approved
            } else if t.denials > 0 && t.eligible.saturating_sub(t.denials) < needed {
                Outcome::Denied
            } else {
                pending
            }
        }
    }
}

/// Why someone may not vote on a record, if they may not (separation of duties).
pub fn ineligibility(
    voter: i64,
    registered_by: i64,
    coordinator: Option<i64>,
    task_assignees: &[i64],
) -> Option<&'static str> {
    if voter == registered_by {
        Some("you registered this release")
    } else if coordinator == Some(voter) {
        Some("you coordinate this release")
    } else if task_assignees.contains(&voter) {
        Some("you are assigned a task of this release")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Outcome::*;

    fn t(eligible: usize, approvals: usize, denials: usize) -> Tally {
        Tally {
            eligible,
            approvals,
            denials,
        }
    }

    #[test]
    fn all_must_approve() {
        let r = Rule::All;
        // 1 voter
        assert_eq!(outcome(r, t(1, 0, 0)), Pending { more_needed: 1 });
        assert_eq!(outcome(r, t(1, 1, 0)), Approved);
        assert_eq!(outcome(r, t(1, 0, 1)), Denied);
        // 2 voters
        assert_eq!(outcome(r, t(2, 1, 0)), Pending { more_needed: 1 });
        assert_eq!(
            outcome(r, t(2, 0, 1)),
            Pending { more_needed: 2 },
            "waits for everyone"
        );
        assert_eq!(outcome(r, t(2, 1, 1)), Denied);
        assert_eq!(outcome(r, t(2, 2, 0)), Approved);
        // 3 voters
        assert_eq!(outcome(r, t(3, 2, 0)), Pending { more_needed: 1 });
        assert_eq!(outcome(r, t(3, 2, 1)), Denied);
        assert_eq!(outcome(r, t(3, 3, 0)), Approved);
        // 5 voters
        assert_eq!(outcome(r, t(5, 4, 0)), Pending { more_needed: 1 });
        assert_eq!(outcome(r, t(5, 3, 1)), Pending { more_needed: 2 });
        assert_eq!(outcome(r, t(5, 4, 1)), Denied);
        assert_eq!(outcome(r, t(5, 5, 0)), Approved);
    }

    #[test]
    fn one_must_approve() {
        let r = Rule::One;
        assert_eq!(outcome(r, t(1, 0, 0)), Pending { more_needed: 1 });
        assert_eq!(outcome(r, t(1, 1, 0)), Approved);
        assert_eq!(outcome(r, t(1, 0, 1)), Denied);
        assert_eq!(outcome(r, t(2, 0, 1)), Pending { more_needed: 1 });
        assert_eq!(outcome(r, t(2, 1, 1)), Approved);
        assert_eq!(outcome(r, t(2, 0, 2)), Denied);
        assert_eq!(outcome(r, t(3, 0, 2)), Pending { more_needed: 1 });
        assert_eq!(outcome(r, t(3, 1, 0)), Approved);
        assert_eq!(outcome(r, t(3, 0, 3)), Denied);
        assert_eq!(outcome(r, t(5, 0, 4)), Pending { more_needed: 1 });
        assert_eq!(outcome(r, t(5, 1, 4)), Approved);
        assert_eq!(outcome(r, t(5, 0, 5)), Denied);
    }

    #[test]
    fn quorum_of_more_than_half() {
        let r = Rule::Quorum(None);
        assert_eq!(r.needed(1), 1);
        assert_eq!(r.needed(2), 2);
        assert_eq!(r.needed(3), 2);
        assert_eq!(r.needed(5), 3);
        assert_eq!(outcome(r, t(1, 1, 0)), Approved);
        assert_eq!(outcome(r, t(1, 0, 1)), Denied);
        assert_eq!(outcome(r, t(2, 1, 0)), Pending { more_needed: 1 });
        assert_eq!(
            outcome(r, t(2, 1, 1)),
            Denied,
            "2 of 2 can no longer be reached"
        );
        assert_eq!(outcome(r, t(3, 1, 0)), Pending { more_needed: 1 });
        assert_eq!(outcome(r, t(3, 1, 1)), Pending { more_needed: 1 });
        assert_eq!(outcome(r, t(3, 2, 1)), Approved);
        assert_eq!(outcome(r, t(3, 0, 2)), Denied);
        assert_eq!(outcome(r, t(5, 2, 2)), Pending { more_needed: 1 });
        assert_eq!(outcome(r, t(5, 3, 0)), Approved);
        assert_eq!(outcome(r, t(5, 2, 3)), Denied);
    }

    #[test]
    fn quorum_of_a_set_count() {
        let r = Rule::Quorum(Some(2));
        assert_eq!(
            outcome(r, t(1, 1, 0)),
            Pending { more_needed: 1 },
            "cannot be reached with one voter, but nobody denied"
        );
        assert_eq!(outcome(r, t(2, 2, 0)), Approved);
        assert_eq!(outcome(r, t(3, 1, 1)), Pending { more_needed: 1 });
        assert_eq!(outcome(r, t(3, 0, 2)), Denied);
        assert_eq!(outcome(r, t(5, 2, 3)), Approved);
        assert_eq!(outcome(r, t(5, 1, 4)), Denied);
    }

    #[test]
    fn all_must_approve_with_immediate_denial() {
        let r = Rule::AllImmediateDenial;
        assert_eq!(outcome(r, t(1, 1, 0)), Approved);
        assert_eq!(outcome(r, t(1, 0, 1)), Denied);
        assert_eq!(outcome(r, t(2, 0, 1)), Denied, "the first denial ends it");
        assert_eq!(outcome(r, t(2, 1, 0)), Pending { more_needed: 1 });
        assert_eq!(outcome(r, t(3, 2, 0)), Pending { more_needed: 1 });
        assert_eq!(outcome(r, t(3, 1, 1)), Denied);
        assert_eq!(outcome(r, t(3, 3, 0)), Approved);
        assert_eq!(outcome(r, t(5, 4, 1)), Denied);
        assert_eq!(outcome(r, t(5, 5, 0)), Approved);
    }

    #[test]
    fn nobody_eligible_is_never_approved() {
        for r in [
            Rule::All,
            Rule::One,
            Rule::Quorum(None),
            Rule::AllImmediateDenial,
        ] {
            assert!(matches!(outcome(r, t(0, 0, 0)), Pending { .. }), "{r:?}");
        }
    }

    #[test]
    fn separation_of_duties() {
        assert!(ineligibility(1, 1, Some(2), &[]).is_some());
        assert!(ineligibility(2, 1, Some(2), &[]).is_some());
        assert!(ineligibility(3, 1, Some(2), &[3]).is_some());
        assert!(ineligibility(4, 1, Some(2), &[3]).is_none());
    }

    #[test]
    fn rules_round_trip() {
        for (k, _) in RULE_KEYS {
            assert_eq!(Rule::from_parts(k, Some(2)).unwrap().key(), k);
        }
        assert_eq!(Rule::from_parts("quorum", None), Some(Rule::Quorum(None)));
        assert_eq!(Rule::from_parts("bogus", None), None);
    }
}
