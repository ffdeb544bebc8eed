//! Names of users and groups, read once for showing fields, tasks and history: used by the
//! release, task and approval services alike, so it sits below all three.
use std::collections::HashMap;

use diesel::prelude::*;

use super::release_fields;
use crate::models::groups;

/// Names of users and groups, for showing fields and history.
pub struct NameBook {
    pub users: HashMap<i64, String>,
    pub groups: HashMap<i64, String>,
}

impl release_fields::Names for NameBook {
    fn user(&self, id: i64) -> String {
        self.users
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("user #{id}"))
    }
    fn group(&self, id: i64) -> String {
        self.groups
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("group #{id}"))
    }
}

pub fn name_book(conn: &mut PgConnection) -> QueryResult<NameBook> {
    use crate::schema::users as u;
    let users: Vec<(i64, String)> = u::table.select((u::id, u::display_name)).load(conn)?;
    let groups = groups::all(conn)?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    Ok(NameBook {
        users: users.into_iter().collect(),
        groups,
    })
}
