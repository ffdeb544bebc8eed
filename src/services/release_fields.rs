//! Reading and writing a release's fields by their catalog key: the raw value a form carries,
//! the text people read, and validation of what a form sends.
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::domain::fields::{field_of, FieldKind, REASONS};
use crate::domain::risk::{Level, Risk};
use crate::domain::workflow::RecordKind;
use crate::models::releases::{Release, ReleaseDetails};
use crate::views;

/// A release with its long texts: everything a phase's screen shows.
#[derive(Debug, Clone)]
pub struct ReleaseRecord {
    pub release: Release,
    pub details: ReleaseDetails,
}

/// Names for ids shown in fields (users, groups).
pub trait Names {
    fn user(&self, id: i64) -> String;
    fn group(&self, id: i64) -> String;
}

fn id_raw(v: Option<i64>) -> String {
    v.map(|i| i.to_string()).unwrap_or_default()
}

pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .map(|n| n.and_utc())
}

impl ReleaseRecord {
    pub fn kind(&self) -> RecordKind {
        if self.release.kind == "change" {
            RecordKind::Change
        } else {
            RecordKind::Release
        }
    }

    /// The value as a form carries it ("" when empty).
    pub fn raw(&self, key: &str) -> String {
        let (r, d) = (&self.release, &self.details);
        match key {
            "title" => r.title.clone(),
            "description" => d.description.clone(),
            "reason" => r.reason.clone(),
            "coordinator" => id_raw(r.coordinator_id),
            "manager" => id_raw(r.manager_id),
            "assignment_group" => id_raw(r.assignment_group_id),
            "affected_services" => d.affected_services.clone(),
            "impact" => r.impact.clone(),
            "urgency" => r.urgency.clone(),
            "risk" => r.risk.clone(),
            "planned_start" => views::datetime_input(&r.planned_start),
            "planned_end" => views::datetime_input(&r.planned_end),
            "actual_start" => views::datetime_input(&r.actual_start),
            "actual_end" => views::datetime_input(&r.actual_end),
            "release_plan" => d.release_plan.clone(),
            "deployment_plan" => d.deployment_plan.clone(),
            "test_criteria" => d.test_criteria.clone(),
            "test_result" => d.test_result.clone(),
            "backout_plan" => d.backout_plan.clone(),
            "training_needs" => d.training_needs.clone(),
            "financial_impact" => d.financial_impact.clone(),
            "verification" => d.verification.clone(),
            "evaluation" => d.evaluation.clone(),
            _ => String::new(),
        }
    }

    pub fn is_empty(&self, key: &str) -> bool {
        self.raw(key).trim().is_empty()
    }

    /// The value as people read it.
    pub fn display(&self, key: &str, names: &dyn Names) -> String {
        let raw = self.raw(key);
        let Some(def) = field_of(self.kind(), key) else {
            return raw;
        };
        if raw.is_empty() {
            return String::new();
        }
        match def.kind {
            FieldKind::User => raw.parse().map(|id| names.user(id)).unwrap_or(raw),
            FieldKind::Group => raw.parse().map(|id| names.group(id)).unwrap_or(raw),
            FieldKind::Reason => crate::domain::fields::reason_label(&raw).to_string(),
            FieldKind::Level => raw
                .parse::<Level>()
                .map(|l| l.label().to_string())
                .unwrap_or(raw),
            FieldKind::Risk => raw
                .parse::<Risk>()
                .map(|l| l.label().to_string())
                .unwrap_or(raw),
            FieldKind::DateTime => parse_datetime(&raw)
                .map(|t| views::datetime(&t))
                .unwrap_or(raw),
            FieldKind::Line | FieldKind::Text => raw,
        }
    }

    /// Set a field from a validated raw value.
    pub fn set(&mut self, key: &str, raw: &str) {
        let (r, d) = (&mut self.release, &mut self.details);
        let id = || raw.parse::<i64>().ok();
        let dt = || parse_datetime(raw);
        match key {
            "title" => r.title = raw.trim().to_string(),
            "description" => d.description = raw.to_string(),
            "reason" => r.reason = raw.to_string(),
            "coordinator" => r.coordinator_id = id(),
            "manager" => r.manager_id = id(),
            "assignment_group" => r.assignment_group_id = id(),
            "affected_services" => d.affected_services = raw.to_string(),
            "impact" => r.impact = raw.to_string(),
            "urgency" => r.urgency = raw.to_string(),
            "risk" => r.risk = raw.to_string(),
            "planned_start" => r.planned_start = dt(),
            "planned_end" => r.planned_end = dt(),
            "actual_start" => r.actual_start = dt(),
            "actual_end" => r.actual_end = dt(),
            "release_plan" => d.release_plan = raw.to_string(),
            "deployment_plan" => d.deployment_plan = raw.to_string(),
            "test_criteria" => d.test_criteria = raw.to_string(),
            "test_result" => d.test_result = raw.to_string(),
            "backout_plan" => d.backout_plan = raw.to_string(),
            "training_needs" => d.training_needs = raw.to_string(),
            "financial_impact" => d.financial_impact = raw.to_string(),
            "verification" => d.verification = raw.to_string(),
            "evaluation" => d.evaluation = raw.to_string(),
            _ => {}
        }
    }
}

/// Check one submitted value against its field's kind; the message says what to fix.
/// `user_ok` / `group_ok` tell whether an id names an active user / an existing group.
pub fn validate(
    kind: RecordKind,
    key: &str,
    raw: &str,
    user_ok: &dyn Fn(i64) -> bool,
    group_ok: &dyn Fn(i64) -> bool,
) -> Result<(), String> {
    let Some(def) = field_of(kind, key) else {
        return Err("Unknown field.".into());
    };
    let v = raw.trim();
    if raw.chars().count() > def.max_len {
        return Err(format!(
            "{} must be at most {} characters.",
            def.label, def.max_len
        ));
    }
    if v.is_empty() {
        return match def.kind {
            FieldKind::Reason | FieldKind::Level | FieldKind::Risk => {
                Err(format!("Choose the {}.", def.label.to_lowercase()))
            }
            _ if key == "title" => Err("Enter a title.".into()),
            _ => Ok(()),
        };
    }
    let ok = match def.kind {
        FieldKind::Line | FieldKind::Text => true,
        FieldKind::Reason => REASONS.iter().any(|(k, _)| *k == v),
        FieldKind::Level => v.parse::<Level>().is_ok(),
        FieldKind::Risk => v.parse::<Risk>().is_ok(),
        FieldKind::User => v.parse::<i64>().is_ok_and(user_ok),
        FieldKind::Group => v.parse::<i64>().is_ok_and(group_ok),
        FieldKind::DateTime => parse_datetime(v).is_some(),
    };
    if ok {
        Ok(())
    } else {
        Err(match def.kind {
            FieldKind::DateTime => format!(
                "{} must be a date and time like 2026-12-01 09:00.",
                def.label
            ),
            FieldKind::User => format!("Choose a {} from the list.", def.label.to_lowercase()),
            _ => format!("Choose a {} from the list.", def.label.to_lowercase()),
        })
    }
}
