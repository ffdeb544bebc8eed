//! The field catalog: every field of a record a phase's screen can show, and the rules a
//! phase applies to each (hidden, read-only, editable, required to leave, required to enter).
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// One line of text.
    Line,
    /// Several lines of text.
    Text,
    /// One of the reasons for release.
    Reason,
    /// low / medium / high.
    Level,
    /// low / medium / high / critical, overridable with a reason.
    Risk,
    /// A user (by id).
    User,
    /// A group (by id).
    Group,
    /// A date and time (UTC).
    DateTime,
}

#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    pub key: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    pub max_len: usize,
}

const fn f(key: &'static str, label: &'static str, kind: FieldKind) -> FieldDef {
    let max_len = match kind {
        FieldKind::Line => 200,
        _ => 20_000,
    };
    FieldDef {
        key,
        label,
        kind,
        max_len,
    }
}

/// Every release field a phase's screen can show, in screen order.
pub const RELEASE_FIELDS: &[FieldDef] = &[
    f("title", "Title", FieldKind::Line),
    f("description", "Description", FieldKind::Text),
    f("reason", "Reason for release", FieldKind::Reason),
    f("coordinator", "Coordinator", FieldKind::User),
    f("manager", "Release manager", FieldKind::User),
    f("assignment_group", "Assignment group", FieldKind::Group),
    f(
        "affected_services",
        "Affected services and configuration items",
        FieldKind::Text,
    ),
    f("impact", "Impact", FieldKind::Level),
    f("urgency", "Urgency", FieldKind::Level),
    f("risk", "Risk", FieldKind::Risk),
    f("planned_start", "Planned start", FieldKind::DateTime),
    f("planned_end", "Planned end", FieldKind::DateTime),
    f("actual_start", "Actual start", FieldKind::DateTime),
    f("actual_end", "Actual end", FieldKind::DateTime),
    f("release_plan", "Release plan", FieldKind::Text),
    f("deployment_plan", "Deployment plan", FieldKind::Text),
    f("test_criteria", "Test criteria", FieldKind::Text),
    f("test_result", "Test result", FieldKind::Text),
    f("backout_plan", "Back-out plan", FieldKind::Text),
    f("training_needs", "Training needs", FieldKind::Text),
    f(
        "financial_impact",
        "Funding and financial impact",
        FieldKind::Text,
    ),
    f(
        "verification",
        "Implementation verification",
        FieldKind::Text,
    ),
    f(
        "evaluation",
        "Post-implementation evaluation",
        FieldKind::Text,
    ),
];

pub fn release_field(key: &str) -> Option<&'static FieldDef> {
    RELEASE_FIELDS.iter().find(|f| f.key == key)
}

/// Every change field a phase's screen can show. Changes live in the same records as
/// releases, so each key names the same column as the release field of that key.
pub const CHANGE_FIELDS: &[FieldDef] = &[
    f("title", "Title", FieldKind::Line),
    f("description", "Description", FieldKind::Text),
    f("coordinator", "Assignee", FieldKind::User),
    f("affected_services", "Affected services", FieldKind::Text),
    f("impact", "Impact", FieldKind::Level),
    f("urgency", "Urgency", FieldKind::Level),
    f("risk", "Risk", FieldKind::Risk),
    f("planned_start", "Planned window start", FieldKind::DateTime),
    f("planned_end", "Planned window end", FieldKind::DateTime),
    f("deployment_plan", "Implementation plan", FieldKind::Text),
    f("backout_plan", "Back-out plan", FieldKind::Text),
    f("evaluation", "Review notes", FieldKind::Text),
];

/// The field catalog of a kind of record.
pub fn fields_for(kind: super::workflow::RecordKind) -> &'static [FieldDef] {
    match kind {
        super::workflow::RecordKind::Release => RELEASE_FIELDS,
        super::workflow::RecordKind::Change => CHANGE_FIELDS,
    }
}

pub fn field_of(kind: super::workflow::RecordKind, key: &str) -> Option<&'static FieldDef> {
    fields_for(kind).iter().find(|f| f.key == key)
}

pub const REASONS: &[(&str, &str)] = &[
    ("business_requirement", "Business requirement"),
    ("incident_problem", "Incident or problem resolution"),
    ("security", "Security"),
    ("regulatory", "Regulatory"),
    ("other", "Other"),
];

pub fn reason_label(key: &str) -> &str {
    REASONS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| *l)
        .unwrap_or(key)
}

/// How one phase treats one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Hidden,
    ReadOnly,
    Editable,
    /// Editable, and must be filled before the record leaves the phase.
    Required,
    /// Shown read-only, and must be filled before the record may enter the phase.
    Entry,
}

impl Rule {
    pub const ALL: [Rule; 5] = [
        Rule::Hidden,
        Rule::ReadOnly,
        Rule::Editable,
        Rule::Required,
        Rule::Entry,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Hidden => "hidden",
            Rule::ReadOnly => "readonly",
            Rule::Editable => "editable",
            Rule::Required => "required",
            Rule::Entry => "entry",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Rule::Hidden => "Hidden",
            Rule::ReadOnly => "Read-only",
            Rule::Editable => "Editable",
            Rule::Required => "Required to leave",
            Rule::Entry => "Required to enter",
        }
    }

    pub fn visible(self) -> bool {
        self != Rule::Hidden
    }

    pub fn editable(self) -> bool {
        matches!(self, Rule::Editable | Rule::Required)
    }
}

impl FromStr for Rule {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Rule::ALL.into_iter().find(|r| r.as_str() == s).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_keys_are_unique() {
        let mut keys: Vec<_> = RELEASE_FIELDS.iter().map(|f| f.key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), RELEASE_FIELDS.len());
    }

    #[test]
    fn rules_round_trip_and_know_what_is_editable() {
        for r in Rule::ALL {
            assert_eq!(r.as_str().parse::<Rule>(), Ok(r));
        }
        assert!(Rule::Required.editable() && Rule::Editable.editable());
        assert!(!Rule::Entry.editable() && Rule::Entry.visible());
        assert!(!Rule::Hidden.visible());
    }
}
