//! Workflow and category administration: drafts and publishing, phases, field rules,
//! transitions, categories. Each operation checks its input field by field and commits in
//! one transaction; an edit to a published workflow is validated before it commits and
//! rolled back when the validator finds a problem, so a published workflow is never broken.
//!
//! Errors: database failures are `AppError` (the outer `AppResult`); what the user must fix
//! is a [`Refusal`] (the inner `Result`), shown on the form with the input kept.
use std::collections::HashMap;

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Deserialize;

use crate::domain::approval::{self, RULE_KEYS};
use crate::domain::fields::{release_field, Rule, RELEASE_FIELDS};
use crate::domain::roles::{Role, Roles};
use crate::domain::workflow::{
    ChangeType, Condition, Outcome, RecordKind, ReleaseType, TransitionKind,
};
use crate::domain::workflow_validator;
use crate::error::AppResult;
use crate::forms::FormErrors;
use crate::models::approvals::{self as am, Requirement};
use crate::models::groups;
use crate::models::workflows::{
    self as wfm, CategoryValues, NewTransition, PhaseRow, PhaseValues, WorkflowRow,
};

mod workflows;
pub use workflows::*;
mod phases;
pub use phases::*;
mod transitions;
pub use transitions::*;
mod categories;
pub use categories::*;

/// Why an operation was refused; nothing was changed.
#[derive(Debug)]
pub enum Refusal {
    /// The input is wrong: one message per form field.
    Invalid(FormErrors),
    /// The edit would leave a published workflow unusable: the validator's messages.
    Broken(Vec<String>),
}

impl Refusal {
    fn field(field: &str, message: impl Into<String>) -> Refusal {
        let mut e = FormErrors::default();
        e.add(field, message);
        Refusal::Invalid(e)
    }
}

/// A database result whose success may still be a refusal.
pub type Checked<T> = AppResult<Result<T, Refusal>>;

enum TxError {
    Db(DieselError),
    Refused(Refusal),
}

impl From<DieselError> for TxError {
    fn from(e: DieselError) -> Self {
        TxError::Db(e)
    }
}

impl From<Refusal> for TxError {
    fn from(r: Refusal) -> Self {
        TxError::Refused(r)
    }
}

fn in_tx<T>(
    conn: &mut PgConnection,
    f: impl FnOnce(&mut PgConnection) -> Result<T, TxError>,
) -> Checked<T> {
    match conn.transaction(f) {
        Ok(t) => Ok(Ok(t)),
        Err(TxError::Refused(r)) => Ok(Err(r)),
        Err(TxError::Db(e)) => Err(e.into()),
    }
}

/// Apply `f` to one workflow (locked) in a transaction; when the workflow is published,
/// validate the result and roll everything back if the validator finds problems.
fn edit<T>(
    conn: &mut PgConnection,
    workflow_id: i64,
    f: impl FnOnce(&mut PgConnection, &WorkflowRow) -> Result<T, TxError>,
) -> Checked<T> {
    in_tx(conn, |conn| {
        let wf = wfm::lock(conn, workflow_id)?;
        let out = f(conn, &wf)?;
        wfm::touch_workflow(conn, workflow_id)?;
        if !wf.draft {
            let problems = problems(conn, workflow_id)?;
            if !problems.is_empty() {
                return Err(Refusal::Broken(problems).into());
            }
        }
        Ok(out)
    })
}

/// What the validator says about a workflow as stored now.
pub fn problems(conn: &mut PgConnection, workflow_id: i64) -> QueryResult<Vec<String>> {
    let wf = wfm::load(conn, workflow_id)?;
    let rules = wfm::rules_of(conn, workflow_id)?;
    let grid: Vec<(i64, &str, Rule)> = rules
        .iter()
        .map(|(p, f, r)| {
            (
                *p,
                release_field(f).map(|d| d.label).unwrap_or(f.as_str()),
                *r,
            )
        })
        .collect();
    Ok(workflow_validator::problems(&wf, &grid))
}

fn is_fk_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)
    )
}

const NAME_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 2000;

/// A name: trimmed, 1 to 100 characters.
fn check_name(errors: &mut FormErrors, field: &str, value: &str, what: &str) -> String {
    let v = value.trim();
    if v.is_empty() {
        errors.add(field, format!("Enter a name for the {what}."));
    } else if v.chars().count() > NAME_MAX {
        errors.add(
            field,
            format!("The {what}'s name must be at most {NAME_MAX} characters."),
        );
    }
    v.to_string()
}

fn check_description(errors: &mut FormErrors, field: &str, value: &str) -> String {
    let v = value.trim();
    if v.chars().count() > DESCRIPTION_MAX {
        errors.add(
            field,
            format!("The description must be at most {DESCRIPTION_MAX} characters."),
        );
    }
    v.to_string()
}

fn parse_id(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

// ---- Workflows ----
