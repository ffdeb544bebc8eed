//! CAB approval rules: one pure function per rule decides, from the votes so far, whether an
//! approval is approved, denied or still pending — and what it is waiting for.
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Every eligible voter approves: a denial ends the round as denied, since all can no
    /// longer approve.
    All,
    /// One approval is enough. Denied when every eligible voter denied.
    One,
    /// A number of approvals (`Some(n)`), or more than half of the eligible voters (`None`).
    /// Denied as soon as the quorum can no longer be reached.
    Quorum(Option<u32>),
    /// Every eligible voter approves; the first denial ends the cycle. Decides as `All` does
    /// (kept for the workflows configured with it).
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
    match rule {
        Rule::All | Rule::AllImmediateDenial => {
            if t.denials > 0 {
                Outcome::Denied
            } else if t.approvals >= t.eligible {
                Outcome::Approved
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

/// A part someone plays in a record that bars them from approving it (separation of duties:
/// nobody approves what they registered, coordinate, manage, are assigned or worked on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    Registrant,
    Coordinator,
    Manager,
    Assignee,
    Worker,
    GroupMember,
}

impl Part {
    pub const ALL: [Part; 6] = [
        Part::Registrant,
        Part::Coordinator,
        Part::Manager,
        Part::Assignee,
        Part::Worker,
        Part::GroupMember,
    ];

    /// How the part is stored with a vote.
    pub fn key(self) -> &'static str {
        match self {
            Part::Registrant => "registrant",
            Part::Coordinator => "coordinator",
            Part::Manager => "manager",
            Part::Assignee => "assignee",
            Part::Worker => "worker",
            Part::GroupMember => "group_member",
        }
    }

    pub fn from_key(key: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.key() == key)
    }

    /// Why the person themself may not vote: "you coordinate this release".
    pub fn you(self) -> &'static str {
        match self {
            Part::Registrant => "you registered this release",
            Part::Coordinator => "you coordinate this release",
            Part::Manager => "you are this release's manager",
            Part::Assignee => "you are assigned a task of this release",
            Part::Worker => "you worked on a task of this release",
            Part::GroupMember => "you are in a group a task of this release is assigned to",
        }
    }

    /// What a voter became: "the coordinator" in "its voter became the coordinator".
    pub fn became(self) -> &'static str {
        match self {
            Part::Registrant => "the registrant",
            Part::Coordinator => "the coordinator",
            Part::Manager => "the release manager",
            Part::Assignee => "the assignee of one of its tasks",
            Part::Worker => "someone who worked on one of its tasks",
            Part::GroupMember => "a member of a group one of its tasks is assigned to",
        }
    }
}

/// Everyone separation of duties looks at on one record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Involvement {
    pub registered_by: i64,
    pub coordinator: Option<i64>,
    pub manager: Option<i64>,
    /// Named assignees of its tasks.
    pub assignees: Vec<i64>,
    /// Whoever started or completed one of its tasks.
    pub workers: Vec<i64>,
    /// Members of the groups its tasks are assigned to.
    pub group_members: Vec<i64>,
    /// The approval rule lets the members of a task's group approve their group's work (the
    /// people who started or completed a task stay excluded).
    pub own_group_may_approve: bool,
}

impl Involvement {
    /// Every part `who` plays in the record, in `Part` order.
    pub fn parts_of(&self, who: i64) -> Vec<Part> {
        let mut parts = Vec::new();
        let mut add = |holds: bool, p: Part| {
            if holds {
                parts.push(p)
            }
        };
        add(self.registered_by == who, Part::Registrant);
        add(self.coordinator == Some(who), Part::Coordinator);
        add(self.manager == Some(who), Part::Manager);
        add(self.assignees.contains(&who), Part::Assignee);
        add(self.workers.contains(&who), Part::Worker);
        add(self.group_members.contains(&who), Part::GroupMember);
        parts
    }

    /// The parts of `who` that bar them from voting.
    pub fn barring(&self, who: i64) -> Vec<Part> {
        self.parts_of(who)
            .into_iter()
            .filter(|p| !(*p == Part::GroupMember && self.own_group_may_approve))
            .collect()
    }

    /// Why `who` may not vote on the record, if they may not.
    pub fn ineligibility(&self, who: i64) -> Option<Part> {
        self.barring(who).first().copied()
    }
}

/// A vote of the current round as it was cast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ballot {
    pub voter: i64,
    pub approve: bool,
    /// The parts its voter played in the record when it was cast.
    pub held_then: Vec<Part>,
    /// Found void earlier in the round (it stays void: a round's vote never revives).
    pub voided: Option<Part>,
}

/// A vote that no longer counts, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Void {
    pub voter: i64,
    pub part: Part,
    /// The voter took the part after voting (otherwise they held it then, which only a vote
    /// from before this rule can show).
    pub became: bool,
}

impl Void {
    /// What the approval's page says of it.
    pub fn reason(&self) -> String {
        if self.became {
            format!("its voter became {}", self.part.became())
        } else {
            format!("its voter is {}", self.part.became())
        }
    }
}

/// A round of votes read afresh from who is who on the record now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// Who may vote in the round now: approvers of the group less those barred by a part in
    /// the record and those whose vote of this round was voided.
    pub eligible: Vec<i64>,
    pub tally: Tally,
    pub outcome: Outcome,
    /// Votes of the round that do not count.
    pub void: Vec<Void>,
}

/// Separation of duties over the life of a round: the votes of the current round that count,
/// and the outcome they make under `rule`. A vote counts only while its voter plays no barring
/// part in the record; once void it stays void for the round, and its voter is no longer
/// eligible in it. Nothing stored as "approved" is trusted: every reading starts here.
pub fn read_round(rule: Rule, approvers: &[i64], inv: &Involvement, ballots: &[Ballot]) -> Reading {
    let void: Vec<Void> = ballots
        .iter()
        .filter_map(|b| {
            if let Some(part) = b.voided {
                return Some(Void {
                    voter: b.voter,
                    part,
                    became: !b.held_then.contains(&part),
                });
            }
            inv.barring(b.voter).into_iter().next().map(|part| Void {
                voter: b.voter,
                part,
                became: !b.held_then.contains(&part),
            })
        })
        .collect();
    let eligible: Vec<i64> = approvers
        .iter()
        .copied()
        .filter(|a| inv.ineligibility(*a).is_none() && !void.iter().any(|v| v.voter == *a))
        .collect();
    let counted = |approve: bool| {
        ballots
            .iter()
            .filter(|b| b.approve == approve && eligible.contains(&b.voter))
            .count()
    };
    let tally = Tally {
        eligible: eligible.len(),
        approvals: counted(true),
        denials: counted(false),
    };
    Reading {
        eligible,
        tally,
        outcome: outcome(rule, tally),
        void,
    }
}

/// How a round reads in words: "pending: 1 of 3 eligible approved so far, 2 more needed".
pub fn describe(reading: &Reading) -> String {
    let t = reading.tally;
    match reading.outcome {
        Outcome::Pending { more_needed } if t.eligible == 0 => {
            format!("pending: the group has no eligible approvers ({more_needed} approval needed)")
        }
        Outcome::Pending { more_needed } => format!(
            "pending: {} of {} eligible approved so far, {more_needed} more needed",
            t.approvals, t.eligible
        ),
        Outcome::Approved => "approved".into(),
        Outcome::Denied => "denied".into(),
    }
}

impl Outcome {
    /// The approval's stored status for this outcome.
    pub fn status(self) -> Status {
        match self {
            Outcome::Approved => Status::Approved,
            Outcome::Denied => Status::Denied,
            Outcome::Pending { .. } => Status::Pending,
        }
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
        assert_eq!(outcome(r, t(2, 0, 1)), Denied, "all can no longer approve");
        assert_eq!(outcome(r, t(2, 1, 1)), Denied);
        assert_eq!(outcome(r, t(2, 2, 0)), Approved);
        // 3 voters
        assert_eq!(outcome(r, t(3, 2, 0)), Pending { more_needed: 1 });
        assert_eq!(outcome(r, t(3, 2, 1)), Denied);
        assert_eq!(outcome(r, t(3, 3, 0)), Approved);
        // 5 voters
        assert_eq!(outcome(r, t(5, 4, 0)), Pending { more_needed: 1 });
        assert_eq!(outcome(r, t(5, 3, 1)), Denied);
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

    fn involving(who: i64, part: Part) -> Involvement {
        let mut inv = Involvement {
            registered_by: 100,
            ..Default::default()
        };
        match part {
            Part::Registrant => inv.registered_by = who,
            Part::Coordinator => inv.coordinator = Some(who),
            Part::Manager => inv.manager = Some(who),
            Part::Assignee => inv.assignees.push(who),
            Part::Worker => inv.workers.push(who),
            Part::GroupMember => inv.group_members.push(who),
        }
        inv
    }

    fn ballot(voter: i64, approve: bool) -> Ballot {
        Ballot {
            voter,
            approve,
            held_then: Vec::new(),
            voided: None,
        }
    }

    #[test]
    fn every_part_bars_a_voter_and_names_itself() {
        for part in Part::ALL {
            let inv = involving(7, part);
            assert_eq!(inv.ineligibility(7), Some(part), "{part:?}");
            assert_eq!(inv.ineligibility(8), None, "{part:?}");
            assert_eq!(Part::from_key(part.key()), Some(part));
        }
        let mut inv = involving(7, Part::GroupMember);
        inv.own_group_may_approve = true;
        assert_eq!(
            inv.ineligibility(7),
            None,
            "the rule lets the group approve its own work"
        );
        inv.workers.push(7);
        assert_eq!(
            inv.ineligibility(7),
            Some(Part::Worker),
            "who worked the task never may"
        );
    }

    #[test]
    fn a_vote_stops_counting_when_its_voter_takes_any_part_afterwards() {
        let approvers = [1, 2, 3];
        for rule in [
            Rule::One,
            Rule::All,
            Rule::Quorum(None),
            Rule::Quorum(Some(1)),
            Rule::AllImmediateDenial,
        ] {
            for approve in [true, false] {
                for part in Part::ALL {
                    let ballots = [ballot(2, approve)];
                    let before = read_round(
                        rule,
                        &approvers,
                        &involving(100, Part::Registrant),
                        &ballots,
                    );
                    assert_eq!(
                        before.tally.approvals + before.tally.denials,
                        1,
                        "{rule:?} {part:?}"
                    );
                    assert!(before.void.is_empty());
                    let after = read_round(rule, &approvers, &involving(2, part), &ballots);
                    assert_eq!(
                        after.tally,
                        Tally {
                            eligible: 2,
                            approvals: 0,
                            denials: 0
                        },
                        "{rule:?} {approve} {part:?}"
                    );
                    assert!(
                        matches!(after.outcome, Outcome::Pending { .. }),
                        "{rule:?} {approve} {part:?}"
                    );
                    assert_eq!(
                        after.void,
                        vec![Void {
                            voter: 2,
                            part,
                            became: true
                        }]
                    );
                    assert_eq!(
                        after.void[0].reason(),
                        format!("its voter became {}", part.became())
                    );
                    assert_eq!(after.eligible, vec![1, 3]);
                }
            }
        }
    }

    #[test]
    fn the_coordinator_who_stepped_aside_to_approve_is_not_counted() {
        // Clears the coordinator field, approves under "one must approve", takes it back.
        let approvers = [5, 6];
        let nobody = Involvement {
            registered_by: 9,
            ..Default::default()
        };
        let ballots = [ballot(5, true)];
        assert_eq!(
            read_round(Rule::One, &approvers, &nobody, &ballots).outcome,
            Outcome::Approved
        );
        let back = Involvement {
            coordinator: Some(5),
            ..nobody.clone()
        };
        let r = read_round(Rule::One, &approvers, &back, &ballots);
        assert_eq!(r.outcome, Outcome::Pending { more_needed: 1 });
        assert_eq!(r.void[0].reason(), "its voter became the coordinator");
        assert_eq!(
            describe(&r),
            "pending: 0 of 1 eligible approved so far, 1 more needed"
        );
    }

    #[test]
    fn a_void_vote_stays_void_when_the_part_is_given_up_again() {
        let voided = Ballot {
            voided: Some(Part::Coordinator),
            ..ballot(5, true)
        };
        let nobody = Involvement {
            registered_by: 9,
            ..Default::default()
        };
        let r = read_round(Rule::One, &[5, 6], &nobody, &[voided]);
        assert_eq!(r.outcome, Outcome::Pending { more_needed: 1 });
        assert_eq!(r.eligible, vec![6]);
        assert_eq!(
            r.void,
            vec![Void {
                voter: 5,
                part: Part::Coordinator,
                became: true
            }]
        );
    }

    #[test]
    fn taking_a_part_without_having_voted_only_shrinks_the_eligible() {
        // All must approve: 1 and 3 approved; 2 becomes an assignee, so the round is approved.
        let ballots = [ballot(1, true), ballot(3, true)];
        let r = read_round(
            Rule::All,
            &[1, 2, 3],
            &involving(2, Part::Assignee),
            &ballots,
        );
        assert_eq!(r.outcome, Outcome::Approved);
        assert!(r.void.is_empty());
        // A group member allowed by the rule keeps a vote cast as one.
        let mut inv = involving(2, Part::GroupMember);
        inv.own_group_may_approve = true;
        let held = Ballot {
            held_then: vec![Part::GroupMember],
            ..ballot(2, true)
        };
        assert_eq!(
            read_round(Rule::One, &[1, 2], &inv, &[held]).outcome,
            Outcome::Approved
        );
    }

    /// The words and the outcome of a round come from one reading: after a first approval,
    /// after a first denial, and after a retraction (a new round with no votes).
    #[test]
    fn every_rule_reads_the_same_in_words_and_outcome_after_approve_deny_and_retract() {
        let nobody = Involvement {
            registered_by: 100,
            ..Default::default()
        };
        let rules = [
            Rule::All,
            Rule::AllImmediateDenial,
            Rule::One,
            Rule::Quorum(None),
            Rule::Quorum(Some(2)),
        ];
        for rule in rules {
            for n in [1usize, 2, 3, 5] {
                let approvers: Vec<i64> = (1..=n as i64).collect();
                let needed = rule.needed(n);
                let read = |ballots: &[Ballot]| read_round(rule, &approvers, &nobody, ballots);
                let fresh = read(&[]);
                assert_eq!(
                    fresh.outcome,
                    Outcome::Pending {
                        more_needed: needed
                    }
                );
                assert_eq!(
                    describe(&fresh),
                    format!("pending: 0 of {n} eligible approved so far, {needed} more needed"),
                    "{rule:?} {n}"
                );

                let approved = read(&[ballot(1, true)]);
                if needed <= 1 {
                    assert_eq!(approved.outcome, Outcome::Approved, "{rule:?} {n}");
                    assert_eq!(describe(&approved), "approved");
                } else {
                    assert_eq!(
                        approved.outcome,
                        Outcome::Pending {
                            more_needed: needed - 1
                        },
                        "{rule:?} {n}"
                    );
                    assert_eq!(
                        describe(&approved),
                        format!(
                            "pending: 1 of {n} eligible approved so far, {} more needed",
                            needed - 1
                        )
                    );
                }

                let denied = read(&[ballot(1, false)]);
                let expect_denied = match rule {
                    Rule::All | Rule::AllImmediateDenial => true,
                    Rule::One => n == 1,
                    Rule::Quorum(_) => n - 1 < needed,
                };
                if expect_denied {
                    assert_eq!(denied.outcome, Outcome::Denied, "{rule:?} {n}");
                    assert_eq!(describe(&denied), "denied");
                } else {
                    assert_eq!(
                        denied.outcome,
                        Outcome::Pending {
                            more_needed: needed
                        },
                        "{rule:?} {n}"
                    );
                    assert_eq!(
                        describe(&denied),
                        format!("pending: 0 of {n} eligible approved so far, {needed} more needed")
                    );
                }

                // A retraction starts a new round: no votes, as fresh.
                assert_eq!(read(&[]), fresh);
            }
        }
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
