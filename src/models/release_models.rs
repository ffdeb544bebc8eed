//! Release models: versioned task plans applied when a release is registered.
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::{model_tasks, release_model_versions, release_models};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = release_models)]
pub struct Model {
    pub id: i64,
    pub name: String,
    pub retired: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = release_model_versions)]
pub struct ModelVersion {
    pub id: i64,
    pub model_id: i64,
    pub version: i32,
    pub description: String,
    pub release_type: String,
    pub category_id: i64,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = model_tasks)]
pub struct ModelTask {
    pub id: i64,
    pub model_version_id: i64,
    pub phase_id: i64,
    pub position: i32,
    pub title: String,
    pub description: String,
    pub assignee_role: Option<String>,
    pub group_id: Option<i64>,
    pub due_offset_hours: i32,
}

pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<Model>> {
    release_models::table
        .order((release_models::retired, release_models::name))
        .select(Model::as_select())
        .load(conn)
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Model> {
    release_models::table
        .find(id)
        .select(Model::as_select())
        .first(conn)
}

/// The newest version of every model that is not retired: (model, its latest version).
pub fn active_latest(conn: &mut PgConnection) -> QueryResult<Vec<(Model, ModelVersion)>> {
    let models = release_models::table
        .filter(release_models::retired.eq(false))
        .order(release_models::name)
        .select(Model::as_select())
        .load(conn)?;
    let mut out = Vec::with_capacity(models.len());
    for m in models {
        out.push((m.clone(), latest_version(conn, m.id)?));
    }
    Ok(out)
}

pub fn latest_version(conn: &mut PgConnection, model_id: i64) -> QueryResult<ModelVersion> {
    release_model_versions::table
        .filter(release_model_versions::model_id.eq(model_id))
        .order(release_model_versions::version.desc())
        .select(ModelVersion::as_select())
        .first(conn)
}

pub fn versions(conn: &mut PgConnection, model_id: i64) -> QueryResult<Vec<ModelVersion>> {
    release_model_versions::table
        .filter(release_model_versions::model_id.eq(model_id))
        .order(release_model_versions::version.desc())
        .select(ModelVersion::as_select())
        .load(conn)
}

pub fn version(conn: &mut PgConnection, version_id: i64) -> QueryResult<ModelVersion> {
    release_model_versions::table
        .find(version_id)
        .select(ModelVersion::as_select())
        .first(conn)
}

pub fn tasks_of(conn: &mut PgConnection, version_id: i64) -> QueryResult<Vec<ModelTask>> {
    model_tasks::table
        .filter(model_tasks::model_version_id.eq(version_id))
        .order((model_tasks::position, model_tasks::id))
        .select(ModelTask::as_select())
        .load(conn)
}

// ---- Administration: what the model editor reads and writes. ----

/// The model, locked until the transaction ends: saves of one model run one at a time, so two
/// managers saving at once cannot both make "version N + 1".
pub fn lock(conn: &mut PgConnection, id: i64) -> QueryResult<Model> {
    release_models::table
        .find(id)
        .select(Model::as_select())
        .for_update()
        .first(conn)
}

/// The newest version of every model (retired ones too), in one query.
pub fn latest_versions(conn: &mut PgConnection) -> QueryResult<Vec<ModelVersion>> {
    release_model_versions::table
        .distinct_on(release_model_versions::model_id)
        .order((
            release_model_versions::model_id,
            release_model_versions::version.desc(),
        ))
        .select(ModelVersion::as_select())
        .load(conn)
}

/// Number of planned tasks per version: (version id, count).
pub fn task_counts(conn: &mut PgConnection, version_ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    model_tasks::table
        .filter(model_tasks::model_version_id.eq_any(version_ids))
        .group_by(model_tasks::model_version_id)
        .select((model_tasks::model_version_id, diesel::dsl::count_star()))
        .load(conn)
}

/// One version of a model by its number (1, 2, …).
pub fn version_numbered(
    conn: &mut PgConnection,
    model_id: i64,
    version: i32,
) -> QueryResult<ModelVersion> {
    release_model_versions::table
        .filter(release_model_versions::model_id.eq(model_id))
        .filter(release_model_versions::version.eq(version))
        .select(ModelVersion::as_select())
        .first(conn)
}

/// Whether another model has this name (ignoring case).
pub fn name_taken(conn: &mut PgConnection, name: &str) -> QueryResult<bool> {
    use diesel::dsl::{exists, select};
    use diesel::sql_types::Text;
    select(exists(
        release_models::table.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(name) = lower(")
                .bind::<Text, _>(name)
                .sql(")"),
        ),
    ))
    .get_result(conn)
}

pub fn insert_model(conn: &mut PgConnection, name: &str) -> QueryResult<Model> {
    diesel::insert_into(release_models::table)
        .values(release_models::name.eq(name))
        .returning(Model::as_returning())
        .get_result(conn)
}

pub fn set_retired(conn: &mut PgConnection, id: i64, retired: bool) -> QueryResult<usize> {
    diesel::update(release_models::table.find(id))
        .set(release_models::retired.eq(retired))
        .execute(conn)
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = release_model_versions)]
pub struct NewVersion<'a> {
    pub model_id: i64,
    pub version: i32,
    pub description: &'a str,
    pub release_type: &'a str,
    pub category_id: i64,
    pub created_by: Option<i64>,
}

pub fn insert_version(conn: &mut PgConnection, v: &NewVersion) -> QueryResult<ModelVersion> {
    diesel::insert_into(release_model_versions::table)
        .values(v)
        .returning(ModelVersion::as_returning())
        .get_result(conn)
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = model_tasks)]
pub struct NewModelTask {
    pub model_version_id: i64,
    pub phase_id: i64,
    pub position: i32,
    pub title: String,
    pub description: String,
    pub assignee_role: Option<String>,
    pub group_id: Option<i64>,
    pub due_offset_hours: i32,
}

pub fn insert_tasks(conn: &mut PgConnection, rows: &[NewModelTask]) -> QueryResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    diesel::insert_into(model_tasks::table)
        .values(rows)
        .execute(conn)
}

/// Display names of the users who saved versions: (user id, display name).
pub fn author_names(conn: &mut PgConnection, user_ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    use crate::schema::users;
    users::table
        .filter(users::id.eq_any(user_ids))
        .select((users::id, users::display_name))
        .load(conn)
}
