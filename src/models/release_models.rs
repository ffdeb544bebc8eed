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
    release_models::table.order((release_models::retired, release_models::name)).select(Model::as_select()).load(conn)
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Model> {
    release_models::table.find(id).select(Model::as_select()).first(conn)
}

/// The newest version of every model that is not retired: (model, its latest version).
pub fn active_latest(conn: &mut PgConnection) -> QueryResult<Vec<(Model, ModelVersion)>> {
    let models = release_models::table.filter(release_models::retired.eq(false)).order(release_models::name).select(Model::as_select()).load(conn)?;
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
    release_model_versions::table.find(version_id).select(ModelVersion::as_select()).first(conn)
}

pub fn tasks_of(conn: &mut PgConnection, version_id: i64) -> QueryResult<Vec<ModelTask>> {
    model_tasks::table
        .filter(model_tasks::model_version_id.eq(version_id))
        .order((model_tasks::position, model_tasks::id))
        .select(ModelTask::as_select())
        .load(conn)
}
