//! Each workflow's configuration kept in memory — phases, transitions, field rules, phase
//! flags, approval requirements, categories, group names — and read afresh when `config_generation` (moved
//! by triggers on every configuration table, migration 000021) has moved since. Deciding on a
//! transition then reads one row instead of a dozen; an edit by any instance is seen by the
//! next request of every instance, as the counter is read in the caller's transaction.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use diesel::prelude::*;

use crate::domain::fields::Rule;
use crate::domain::workflow::Workflow;
use crate::models::approvals::Requirement;
use crate::models::groups;
use crate::models::workflows::{self as wfm, CategoryRow};
use crate::schema::{config_generation, phase_approvals, phases};

/// What a phase asks of the records in it, beyond its definition in the engine.
#[derive(Debug, Clone, Copy, Queryable)]
pub struct PhaseFlags {
    pub id: i64,
    pub require_tasks_done: bool,
    pub entry_requires_changes_approved: bool,
    pub close_requires_changes_closed: bool,
    pub blocked_by_blackouts: bool,
    /// A package enters it only once its active members have reached it.
    pub entry_requires_members_reached: bool,
}

/// A workflow's configuration as read at `generation`.
pub struct WorkflowConfig {
    pub generation: i64,
    pub workflow: Workflow,
    pub rules: Vec<(i64, String, Rule)>,
    pub flags: Vec<PhaseFlags>,
    pub requirements: Vec<Requirement>,
    pub categories: Vec<CategoryRow>,
    /// Every group's name (approvals name the group they go to).
    pub group_names: Vec<(i64, String)>,
}

impl WorkflowConfig {
    pub fn flags_of(&self, phase_id: i64) -> Option<&PhaseFlags> {
        self.flags.iter().find(|f| f.id == phase_id)
    }

    /// The approval a phase asks for, if any.
    pub fn requirement(&self, phase_id: i64) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.phase_id == phase_id)
    }

    pub fn category(&self, id: i64) -> Option<&CategoryRow> {
        self.categories.iter().find(|c| c.id == id)
    }

    /// A group's name, read from the database for a group newer than this configuration.
    pub fn group_name(&self, conn: &mut PgConnection, id: i64) -> QueryResult<String> {
        match self.group_names.iter().find(|(g, _)| *g == id) {
            Some((_, name)) => Ok(name.clone()),
            None => groups::find(conn, id).map(|g| g.name),
        }
    }
}

diesel::define_sql_function! {
    fn current_database() -> Text;
}

/// Workflows of every database this process has used (tests run many), by database name.
type Key = (String, i64);
static KEPT: OnceLock<Mutex<HashMap<Key, Arc<WorkflowConfig>>>> = OnceLock::new();
/// Past this many the map starts afresh (there are a handful of workflows per database).
const MAX_KEPT: usize = 1024;

/// Which configuration a database holds now: its name and its `config_generation`.
pub type Stamp = (String, i64);

/// The columns of a `Stamp`, to read it within another statement (the record a transition
/// locks comes with it: one round trip fewer on every move).
#[allow(clippy::type_complexity)]
pub fn stamp_columns() -> (
    current_database,
    diesel::dsl::AssumeNotNull<
        diesel::dsl::SingleValue<
            diesel::dsl::Select<config_generation::table, config_generation::n>,
        >,
    >,
) {
    (
        current_database(),
        config_generation::table
            .select(config_generation::n)
            .single_value()
            .assume_not_null(),
    )
}

/// The configuration of a workflow, from memory when nothing has been edited since it was read.
pub fn of(conn: &mut PgConnection, workflow_id: i64) -> QueryResult<Arc<WorkflowConfig>> {
    let stamp: Stamp = diesel::select(stamp_columns()).get_result(conn)?;
    at(conn, workflow_id, stamp)
}

/// The configuration of a workflow as of `stamp`, read in the caller's transaction.
pub fn at(
    conn: &mut PgConnection,
    workflow_id: i64,
    (database, generation): Stamp,
) -> QueryResult<Arc<WorkflowConfig>> {
    let key = (database, workflow_id);
    let kept = KEPT.get_or_init(Default::default);
    if let Some(c) = kept.lock().expect("config map").get(&key) {
        // Equal, not "at least": a database restored from a backup counts from an older value.
        if c.generation == generation {
            return Ok(c.clone());
        }
    }
    // Read after the counter: what is read is at least as new as `generation`.
    let config = Arc::new(read(conn, workflow_id, generation)?);
    let mut map = kept.lock().expect("config map");
    if map.len() >= MAX_KEPT {
        map.clear();
    }
    map.insert(key, config.clone());
    Ok(config)
}

fn read(conn: &mut PgConnection, workflow_id: i64, generation: i64) -> QueryResult<WorkflowConfig> {
    let workflow = wfm::load(conn, workflow_id)?;
    let rules = wfm::rules_of(conn, workflow_id)?;
    let flags = phases::table
        .filter(phases::workflow_id.eq(workflow_id))
        .select((
            phases::id,
            phases::require_tasks_done,
            phases::entry_requires_changes_approved,
            phases::close_requires_changes_closed,
            phases::blocked_by_blackouts,
            phases::entry_requires_members_reached,
        ))
        .load(conn)?;
    let requirements = phase_approvals::table
        .inner_join(phases::table)
        .filter(phases::workflow_id.eq(workflow_id))
        .select(Requirement::as_select())
        .load(conn)?;
    let categories = wfm::categories_of(conn, workflow_id)?;
    let group_names = groups::all(conn)?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    Ok(WorkflowConfig {
        generation,
        workflow,
        rules,
        flags,
        requirements,
        categories,
        group_names,
    })
}
