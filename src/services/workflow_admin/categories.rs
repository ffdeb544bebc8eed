//! Categories of releases and changes: create, edit, retire, restore and delete.
use super::*;

/// The category form (create and edit).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CategoryInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub record_kind: String,
    #[serde(default)]
    pub workflow_id: String,
    /// The create form's one-time key (`services::submissions`).
    #[serde(default)]
    pub submission_key: String,
}

fn check_category(
    conn: &mut PgConnection,
    input: &CategoryInput,
    existing: Option<i64>,
) -> Result<CategoryValues, TxError> {
    let mut errors = FormErrors::default();
    let name = check_name(&mut errors, "name", &input.name, "category");
    if !name.is_empty() && wfm::category_name_taken(conn, &name, existing)? {
        errors.add(
            "name",
            format!("A category named {name} already exists: choose another name."),
        );
    }
    let description = check_description(&mut errors, "description", &input.description);
    let kind = input.record_kind.parse::<RecordKind>().ok();
    if kind.is_none() {
        errors.add(
            "record_kind",
            "Choose whether the category is for releases or changes.",
        );
    }
    let workflow = match parse_id(&input.workflow_id) {
        Some(id) => wfm::find(conn, id).optional()?,
        None => None,
    };
    match &workflow {
        None => errors.add("workflow_id", "Choose the workflow the category uses."),
        Some(w) if w.retired => errors.add(
            "workflow_id",
            format!("{} is retired: choose another workflow.", w.name),
        ),
        Some(w) if w.draft => errors.add(
            "workflow_id",
            format!(
                "{} is a draft: publish it first, or choose another workflow.",
                w.name
            ),
        ),
        Some(w) => {
            if let Some(k) = kind.filter(|k| k.as_str() != w.record_kind) {
                errors.add(
                    "workflow_id",
                    format!(
                        "{} drives {}s, but this category is for {}s: choose a {} workflow.",
                        w.name,
                        w.record_kind,
                        k.as_str(),
                        k.as_str()
                    ),
                );
            }
        }
    }
    if let (Some(id), Some(k)) = (existing, kind) {
        let current = wfm::category(conn, id)?;
        if current.record_kind != k.as_str() && wfm::releases_of_category(conn, id)? > 0 {
            errors.add(
                "record_kind",
                "Records already use this category: its kind cannot change.",
            );
        }
    }
    if !errors.is_empty() {
        return Err(Refusal::Invalid(errors).into());
    }
    Ok(CategoryValues {
        name,
        description,
        record_kind: kind.expect("checked").as_str().into(),
        workflow_id: workflow.expect("checked").id,
    })
}

pub fn create_category(conn: &mut PgConnection, input: &CategoryInput) -> Checked<i64> {
    in_tx(conn, |conn| {
        let values = check_category(conn, input, None)?;
        Ok(wfm::insert_category(conn, &values)?)
    })
}

/// Change a category. Releases already registered keep the workflow they started with.
pub fn update_category(
    conn: &mut PgConnection,
    category_id: i64,
    input: &CategoryInput,
) -> Checked<()> {
    in_tx(conn, |conn| {
        wfm::category(conn, category_id)?;
        let values = check_category(conn, input, Some(category_id))?;
        wfm::update_category(conn, category_id, &values)?;
        Ok(())
    })
}

pub fn retire_category(conn: &mut PgConnection, category_id: i64) -> Checked<()> {
    in_tx(conn, |conn| {
        wfm::category(conn, category_id)?;
        wfm::set_category_retired(conn, category_id, true)?;
        Ok(())
    })
}

/// Restore a retired category: its workflow must be usable.
pub fn restore_category(conn: &mut PgConnection, category_id: i64) -> Checked<()> {
    in_tx(conn, |conn| {
        let c = wfm::category(conn, category_id)?;
        let w = wfm::find(conn, c.workflow_id)?;
        if w.retired || w.draft {
            return Err(Refusal::Broken(vec![format!(
                "{} is {}: point the category at a published workflow before restoring it.",
                w.name,
                if w.retired { "retired" } else { "a draft" }
            )])
            .into());
        }
        wfm::set_category_retired(conn, category_id, false)?;
        Ok(())
    })
}

/// Delete a category no release uses; one in use is refused (retire it instead).
pub fn delete_category(conn: &mut PgConnection, category_id: i64) -> Checked<()> {
    in_tx(conn, |conn| {
        let c = wfm::category(conn, category_id)?;
        if wfm::releases_of_category(conn, category_id)? > 0 {
            return Err(Refusal::Broken(vec![format!(
                "Releases use {}: it can be retired, never deleted.",
                c.name
            )])
            .into());
        }
        match conn.transaction(|conn| wfm::delete_category(conn, category_id)) {
            Ok(_) => Ok(()),
            Err(e) if is_fk_violation(&e) => Err(Refusal::Broken(vec![format!(
                "Other records still refer to {}: retire it instead.",
                c.name
            )])
            .into()),
            Err(e) => Err(e.into()),
        }
    })
}
