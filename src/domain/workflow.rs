//! The workflow state machine shared by every kind of record: which transitions leave the
//! current phase, where each really lands (conditional phases are skipped), and — in one
//! function, [`blockers`] — whether this user may take one now and, if not, why not.
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use super::risk::Level;
use super::roles::{Role, Roles};

macro_rules! text_enum {
    ($name:ident { $($variant:ident = $s:literal / $label:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $s),+ } }
            pub fn label(self) -> &'static str { match self { $($name::$variant => $label),+ } }
        }
        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($s => Ok($name::$variant),)+ _ => Err(()) }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.label()) }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use text_enum;

text_enum!(RecordKind { Release = "release" / "Release", Change = "change" / "Change" });

/// Every kind, as stored: a query on any kind names them, so the kind-led indexes serve it.
pub const RECORD_KINDS: [&str; 2] = ["release", "change"];

text_enum!(TransitionKind {
    Advance = "advance" / "Advance",
    Rework = "rework" / "Rework",
    Abandon = "abandon" / "Abandon",
    BackOut = "back_out" / "Back out",
    Close = "close" / "Close",
});

text_enum!(Outcome { Successful = "successful" / "Successful", BackedOut = "backed_out" / "Backed out" });

text_enum!(Condition {
    Always = "always" / "Always",
    ImpactAndUrgencyHigh = "impact_and_urgency_high" / "Only when impact and urgency are both high",
});

text_enum!(RecordState {
    Active = "active" / "Active",
    ClosedSuccessful = "closed_successful" / "Closed — successful",
    ClosedBackedOut = "closed_backed_out" / "Closed — backed out",
    Abandoned = "abandoned" / "Abandoned",
});

text_enum!(ReleaseType { Emergency = "emergency" / "Emergency", Major = "major" / "Major", Minor = "minor" / "Minor" });

text_enum!(ChangeType { Standard = "standard" / "Standard", Normal = "normal" / "Normal", Emergency = "emergency" / "Emergency" });

impl RecordKind {
    /// `RL-000123` or `C-000045`.
    pub fn prefix(self) -> &'static str {
        match self {
            RecordKind::Release => "RL",
            RecordKind::Change => "C",
        }
    }

    /// Labels of the record's types, by key.
    pub fn types(self) -> Vec<(&'static str, &'static str)> {
        match self {
            RecordKind::Release => ReleaseType::ALL
                .iter()
                .map(|t| (t.as_str(), t.label()))
                .collect(),
            RecordKind::Change => ChangeType::ALL
                .iter()
                .map(|t| (t.as_str(), t.label()))
                .collect(),
        }
    }

    pub fn type_label(self, key: &str) -> &'static str {
        self.types()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, l)| l)
            .unwrap_or("Unknown")
    }
}

impl Condition {
    /// Whether a phase with this condition applies to a record with this impact and urgency.
    pub fn applies(self, impact: Level, urgency: Level) -> bool {
        match self {
            Condition::Always => true,
            Condition::ImpactAndUrgencyHigh => impact == Level::High && urgency == Level::High,
        }
    }
}

impl TransitionKind {
    /// Forward moves must complete the phase being left (required fields, tasks, approvals).
    /// Backing out does not: it is what happens when the phase could not be completed.
    pub fn completes_phase(self) -> bool {
        matches!(self, TransitionKind::Advance | TransitionKind::Close)
    }
}

impl Outcome {
    pub fn final_state(self) -> RecordState {
        match self {
            Outcome::Successful => RecordState::ClosedSuccessful,
            Outcome::BackedOut => RecordState::ClosedBackedOut,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PhaseDef {
    pub id: i64,
    pub name: String,
    pub position: i32,
    pub condition: Condition,
    pub retired: bool,
    pub duration_hours: i32,
    pub emergency_duration_hours: i32,
    /// The record types ("major", "emergency", …) it applies to; empty: every type.
    pub record_types: Vec<String>,
}

/// What a phase's condition looks at in a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fit {
    pub impact: Level,
    pub urgency: Level,
    pub record_type: String,
}

impl PhaseDef {
    /// Whether the phase applies to a record: its condition, and its record types if it names any.
    pub fn applies(&self, fit: &Fit) -> bool {
        self.condition.applies(fit.impact, fit.urgency)
            && (self.record_types.is_empty() || self.record_types.contains(&fit.record_type))
    }

    /// When a record entering this phase at `entered` is due to leave it.
    pub fn due_at(&self, entered: DateTime<Utc>, emergency: bool) -> DateTime<Utc> {
        let hours = if emergency {
            self.emergency_duration_hours
        } else {
            self.duration_hours
        };
        entered + Duration::hours(i64::from(hours))
    }
}

#[derive(Debug, Clone)]
pub struct TransitionDef {
    pub id: i64,
    pub from: i64,
    pub to: Option<i64>,
    pub kind: TransitionKind,
    pub label: String,
    pub roles: Roles,
    pub reason_required: bool,
    pub outcome: Option<Outcome>,
}

/// One workflow: its phases in order and the transitions between them.
#[derive(Debug, Clone, Default)]
pub struct Workflow {
    pub phases: Vec<PhaseDef>,
    pub transitions: Vec<TransitionDef>,
}

impl Workflow {
    pub fn phase(&self, id: i64) -> Option<&PhaseDef> {
        self.phases.iter().find(|p| p.id == id)
    }

    pub fn phase_name(&self, id: i64) -> &str {
        self.phase(id)
            .map(|p| p.name.as_str())
            .unwrap_or("(unknown phase)")
    }

    /// The phase a new record starts in: the first phase that is not retired and applies.
    pub fn first_phase(&self, fit: &Fit) -> Option<&PhaseDef> {
        let mut phases: Vec<_> = self.phases.iter().filter(|p| !p.retired).collect();
        phases.sort_by_key(|p| p.position);
        phases.into_iter().find(|p| p.applies(fit))
    }

    pub fn transitions_from(&self, phase_id: i64) -> impl Iterator<Item = &TransitionDef> {
        self.transitions.iter().filter(move |t| t.from == phase_id)
    }

    pub fn transition(&self, id: i64) -> Option<&TransitionDef> {
        self.transitions.iter().find(|t| t.id == id)
    }

    /// Where a transition really lands for a record: a target phase that does not apply to it
    /// is skipped by following its advance transition. Returns the landing phase and the
    /// phases skipped on the way, or `None` when no applicable phase can be reached.
    pub fn landing(&self, t: &TransitionDef, fit: &Fit) -> Option<(i64, Vec<i64>)> {
        let mut target = t.to?;
        let mut skipped = Vec::new();
        if t.kind != TransitionKind::Advance {
            // Rework and back-out name their phase explicitly: no skipping.
            return Some((target, skipped));
        }
        loop {
            let phase = self.phase(target)?;
            if phase.applies(fit) {
                return Some((target, skipped));
            }
            if skipped.contains(&target) || skipped.len() > self.phases.len() {
                return None;
            }
            skipped.push(target);
            target = self
                .transitions_from(target)
                .find(|n| n.kind == TransitionKind::Advance)
                .and_then(|n| n.to)?;
        }
    }
}

/// What the engine needs to know about a record and the user to decide on a transition.
#[derive(Debug, Clone)]
pub struct Situation {
    pub state: RecordState,
    pub phase_id: i64,
    pub impact: Level,
    pub urgency: Level,
    /// The record's type ("major", "emergency", "normal", …).
    pub record_type: String,
    pub backed_out: bool,
    pub actor_roles: Roles,
    /// The user may work this record at all (its coordinator, registrant or a manager).
    pub actor_may_work: bool,
    /// Labels of fields required to leave the current phase that are still empty.
    pub missing_to_leave: Vec<String>,
    /// For each phase: labels of fields required to enter it that are still empty.
    pub missing_to_enter: Vec<(i64, Vec<String>)>,
    /// Gates from later parts of the process (tasks, approvals, related changes), each
    /// already evaluated for the current phase: they block the transitions that complete it.
    pub gates: Vec<Gate>,
    /// Gates that only hold closing (related changes still open, active bundle members).
    pub close_gates: Vec<Gate>,
    /// Gates on entering a phase (related changes not approved, a blackout), by phase.
    pub entry_gates: Vec<(i64, Gate)>,
}

impl Situation {
    /// What the phases' conditions look at.
    pub fn fit(&self) -> Fit {
        Fit {
            impact: self.impact,
            urgency: self.urgency,
            record_type: self.record_type.clone(),
        }
    }
}

/// An exit criterion of the current phase that is not met yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Tasks of the phase still open: how many, and the phase's name.
    OpenTasks { count: usize, phase: String },
    /// An approval still pending or denied, with what the voters see.
    Approval { group: String, status: String },
    /// Related records that hold the move, named.
    RelatedRecords {
        reason: String,
        numbers: Vec<String>,
    },
    /// Any other criterion, as a sentence (for the engine's callers to extend).
    Other(String),
}

/// Why a transition cannot be taken now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocker {
    Ended(RecordState),
    NotFromCurrentPhase,
    Role(Vec<Role>),
    NotYourRecord,
    MissingToLeave(Vec<String>),
    MissingToEnter { phase: String, fields: Vec<String> },
    DoesNotApply(String),
    TargetRetired(String),
    NoLanding,
    NotBackedOut,
    WasBackedOut,
    Gate(Gate),
}

fn list(items: &[String]) -> String {
    items.join(", ")
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::Ended(s) => write!(
                f,
                "The record is {}: nothing more can be done to it.",
                s.label().to_lowercase()
            ),
            Blocker::NotFromCurrentPhase => {
                f.write_str("This transition does not leave the current phase.")
            }
            Blocker::Role(roles) => {
                let names: Vec<_> = roles.iter().map(|r| r.label()).collect();
                write!(f, "Only these roles may take it: {}.", names.join(", "))
            }
            Blocker::NotYourRecord => f.write_str(
                "Only its coordinator, its registrant or a release manager may move it.",
            ),
            Blocker::MissingToLeave(fields) => {
                write!(f, "Required to leave this phase: {}.", list(fields))
            }
            Blocker::MissingToEnter { phase, fields } => {
                write!(f, "Required to enter {phase}: {}.", list(fields))
            }
            Blocker::DoesNotApply(phase) => write!(
                f,
                "{phase} does not apply to this record (its condition is not met)."
            ),
            Blocker::TargetRetired(phase) => write!(f, "{phase} is retired."),
            Blocker::NoLanding => {
                f.write_str("No applicable phase follows: the workflow needs fixing.")
            }
            Blocker::NotBackedOut => {
                f.write_str("The back-out plan was not activated: close it as successful.")
            }
            Blocker::WasBackedOut => {
                f.write_str("The back-out plan was activated: close it as backed out.")
            }
            Blocker::Gate(Gate::OpenTasks { count, phase }) => {
                let s = if *count == 1 { "" } else { "s" };
                write!(f, "{count} open task{s} in {phase}.")
            }
            Blocker::Gate(Gate::Approval { group, status }) => {
                write!(f, "Approval by {group} is {status}.")
            }
            Blocker::Gate(Gate::RelatedRecords { reason, numbers }) => {
                write!(f, "{reason}: {}.", list(numbers))
            }
            Blocker::Gate(Gate::Other(s)) => f.write_str(s),
        }
    }
}

/// Which of a record's gates (`Situation`) a transition is held by. `blockers` consults only
/// these, so a caller about to take one transition reads only these from the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateNeeds {
    /// The current phase's exit criteria (`Situation::gates`): moves that complete the phase.
    pub phase: bool,
    /// `Situation::close_gates`: closing.
    pub close: bool,
    /// `Situation::entry_gates`: forward moves into a phase (rework goes back to fix things).
    pub entry: bool,
    /// Only the entry gates of this phase, the one the move lands in (`landing_in`); `None`: every
    /// phase's, for a page that shows every move.
    pub entry_into: Option<i64>,
}

impl GateNeeds {
    /// Every gate, for a page that shows every transition with its reasons.
    pub const ALL: GateNeeds = GateNeeds {
        phase: true,
        close: true,
        entry: true,
        entry_into: None,
    };
    /// No gate, for a change that no gate holds (saving a phase's screen).
    pub const NONE: GateNeeds = GateNeeds {
        phase: false,
        close: false,
        entry: false,
        entry_into: None,
    };

    pub fn of(t: &TransitionDef) -> GateNeeds {
        GateNeeds {
            phase: t.kind.completes_phase(),
            close: t.kind == TransitionKind::Close,
            entry: t.to.is_some() && t.kind != TransitionKind::Rework,
            entry_into: None,
        }
    }

    /// The same, knowing where the move lands (`Workflow::landing`): `blockers` consults the
    /// entry gates of that phase only, and a move that lands nowhere is held without them.
    pub fn landing_in(self, landing: Option<i64>) -> GateNeeds {
        GateNeeds {
            entry: self.entry && landing.is_some(),
            entry_into: landing.filter(|_| self.entry),
            ..self
        }
    }

    /// Whether the entry gates of `phase` are wanted.
    pub fn entry_of(self, phase: i64) -> bool {
        self.entry && self.entry_into.is_none_or(|p| p == phase)
    }

    pub fn any(self) -> bool {
        self.phase || self.close || self.entry
    }
}

/// Whether the user may take transition `t` at all, whatever the record's state: their roles
/// and whether they may work the record. Asked before anything about the record's state (its
/// version included) is told to them.
pub fn refusal(t: &TransitionDef, actor_roles: Roles, actor_may_work: bool) -> Option<Blocker> {
    if !t.roles.iter().any(|r| actor_roles.has(r)) {
        Some(Blocker::Role(t.roles.iter().collect()))
    } else if !actor_may_work {
        Some(Blocker::NotYourRecord)
    } else {
        None
    }
}

/// May this user take this transition on this record now — and if not, every reason why not.
/// An empty list means yes.
pub fn blockers(wf: &Workflow, t: &TransitionDef, s: &Situation) -> Vec<Blocker> {
    let mut out = Vec::new();
    if s.state != RecordState::Active {
        out.push(Blocker::Ended(s.state));
        return out;
    }
    if t.from != s.phase_id {
        out.push(Blocker::NotFromCurrentPhase);
        return out;
    }
    out.extend(refusal(t, s.actor_roles, s.actor_may_work));
    match t.outcome {
        Some(Outcome::Successful) if s.backed_out => out.push(Blocker::WasBackedOut),
        Some(Outcome::BackedOut) if !s.backed_out => out.push(Blocker::NotBackedOut),
        _ => {}
    }
    let needs = GateNeeds::of(t);
    if t.kind.completes_phase() && !s.missing_to_leave.is_empty() {
        out.push(Blocker::MissingToLeave(s.missing_to_leave.clone()));
    }
    if needs.phase {
        out.extend(s.gates.iter().cloned().map(Blocker::Gate));
    }
    if needs.close {
        out.extend(s.close_gates.iter().cloned().map(Blocker::Gate));
    }
    if t.to.is_some() {
        match wf.landing(t, &s.fit()) {
            None => out.push(Blocker::NoLanding),
            Some((landing, _)) => {
                let phase = wf.phase(landing);
                let name = wf.phase_name(landing).to_string();
                if phase.is_some_and(|p| p.retired) {
                    out.push(Blocker::TargetRetired(name.clone()));
                }
                if phase.is_some_and(|p| !p.applies(&s.fit())) {
                    out.push(Blocker::DoesNotApply(name.clone()));
                }
                if let Some((_, fields)) = s
                    .missing_to_enter
                    .iter()
                    .find(|(p, f)| *p == landing && !f.is_empty())
                {
                    out.push(Blocker::MissingToEnter {
                        phase: name,
                        fields: fields.clone(),
                    });
                }
                // Rework goes back to fix things: only forward moves are held at the door.
                if needs.entry {
                    out.extend(
                        s.entry_gates
                            .iter()
                            .filter(|(p, _)| *p == landing)
                            .map(|(_, g)| Blocker::Gate(g.clone())),
                    );
                }
            }
        }
    }
    out
}

/// The state a record is in after taking `t` (closing and abandoning end it).
pub fn state_after(t: &TransitionDef) -> RecordState {
    match (t.kind, t.outcome) {
        (TransitionKind::Abandon, _) => RecordState::Abandoned,
        (TransitionKind::Close, Some(o)) => o.final_state(),
        _ => RecordState::Active,
    }
}

/// Whether a category that names `accepted` types (none: every type) takes a record of this type.
pub fn category_accepts(accepted: &[String], record_type: &str) -> bool {
    accepted.is_empty() || accepted.iter().any(|t| t == record_type)
}

/// A change is pre-approved only when it is a standard change whose workflow asks for no
/// approval and a manager marked that workflow as pre-approved.
pub fn pre_approved(
    record_type: &str,
    workflow_marked: bool,
    workflow_has_approvals: bool,
) -> bool {
    record_type == ChangeType::Standard.as_str() && workflow_marked && !workflow_has_approvals
}

/// A member of a package, as the package's entry gate compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAt {
    pub number: String,
    pub active: bool,
    /// The position of its current phase in its workflow.
    pub position: i32,
    /// The position, in its workflow, of the phase the package would enter (`None`: its
    /// workflow has no such phase, so it cannot be behind it).
    pub target_position: Option<i32>,
}

/// The active members of a package that have not yet reached the phase it would enter.
pub fn members_behind(members: &[MemberAt]) -> Vec<String> {
    members
        .iter()
        .filter(|m| m.active && m.target_position.is_some_and(|t| m.position < t))
        .map(|m| m.number.clone())
        .collect()
}

/// The open work a transition settles: which tasks it cancels and the reason they carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settling {
    /// Only the tasks of this phase (the phase a back-out leaves); `None`: every open task.
    pub phase: Option<i64>,
    pub reason: String,
}

/// Ending a record (abandon, close) cancels all its open work, saying why; a back-out cancels
/// the unfinished work of the phase it leaves. `noun` names the record ("release", "change").
pub fn settling(t: &TransitionDef, noun: &str) -> Option<Settling> {
    match t.kind {
        TransitionKind::Abandon => Some(Settling {
            phase: None,
            reason: format!("{noun} abandoned"),
        }),
        TransitionKind::Close => Some(Settling {
            phase: None,
            reason: format!("{noun} closed"),
        }),
        TransitionKind::BackOut => Some(Settling {
            phase: Some(t.from),
            reason: "backed out".into(),
        }),
        TransitionKind::Advance | TransitionKind::Rework => None,
    }
}

#[cfg(test)]
mod tests;
