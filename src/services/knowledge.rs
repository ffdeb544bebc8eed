//! Lessons learned: a manager publishes a release's evaluation as a knowledge article that later
//! releases of the same category or services find on their page and in `/knowledge`.
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::domain::permissions::{self, Actor};
use crate::domain::workflow::RecordState;
use crate::error::{AppError, AppResult};
use crate::forms::FormErrors;
use crate::models::history::{self, NewEvent};
use crate::models::releases::{self as rel, Release};
use crate::paths;
use crate::schema::{categories, knowledge_articles as k, releases, users};

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ArticleInput {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub affected_services: String,
    /// The form's one-time key (`services::submissions`).
    #[serde(default)]
    pub submission_key: String,
}

pub struct Article {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub category: String,
    pub affected_services: String,
    pub release: Option<(String, String)>,
    pub published_by: String,
    pub published_at: DateTime<Utc>,
}

/// Whether the release's evaluation may be published now, and if not why not.
pub fn publish_refusal(actor: Actor, r: &Release, evaluation: &str) -> Option<&'static str> {
    if !permissions::can_manage_policy(actor) {
        Some("Only release managers publish lessons learned.")
    } else if r.kind != "release" {
        Some("Only releases have lessons learned.")
    } else if evaluation.trim().is_empty() {
        Some("The release has no post-implementation evaluation yet: its coordinator writes it in Verification.")
    } else if r.state == RecordState::Abandoned.as_str() {
        Some("The release was abandoned.")
    } else {
        None
    }
}

/// Publish a release's lessons as an article; Err(messages) on bad input.
pub fn publish(
    conn: &mut PgConnection,
    actor: Actor,
    number: i64,
    input: &ArticleInput,
) -> AppResult<Result<i64, FormErrors>> {
    conn.transaction(|conn| {
        let r = rel::by_kind_number_for_update(conn, "release", number)?;
        let details = rel::details(conn, r.id)?;
        if let Some(why) = publish_refusal(actor, &r, &details.evaluation) {
            return Err(AppError::Forbidden(why.into()));
        }
        let mut e = FormErrors::default();
        let title = input.title.trim();
        if title.is_empty() || title.chars().count() > 200 {
            e.add("title", "Enter a title of at most 200 characters.");
        }
        if input.body.trim().is_empty() || input.body.chars().count() > 50_000 {
            e.add("body", "Write the lessons (at most 50,000 characters).");
        }
        if input.affected_services.chars().count() > 2000 {
            e.add(
                "affected_services",
                "The affected services must be at most 2,000 characters.",
            );
        }
        if !e.is_empty() {
            return Ok(Err(e));
        }
        let exists: i64 = k::table
            .filter(k::release_id.eq(r.id))
            .count()
            .get_result(conn)?;
        if exists > 0 {
            e.add(
                "title",
                format!(
                    "The lessons of {} are already published.",
                    paths::release_number(r.number)
                ),
            );
            return Ok(Err(e));
        }
        let id: i64 = diesel::insert_into(k::table)
            .values((
                k::title.eq(title),
                k::body.eq(input.body.trim()),
                k::category_id.eq(r.category_id),
                k::affected_services.eq(input.affected_services.trim()),
                k::release_id.eq(Some(r.id)),
                k::published_by.eq(actor.id),
            ))
            .returning(k::id)
            .get_result(conn)?;
        history::record(
            conn,
            &NewEvent {
                release_id: r.id,
                actor_id: Some(actor.id),
                record_version: r.version,
                kind: "knowledge",
                summary: &format!("Published the lessons learned as “{title}”"),
                from_phase_id: None,
                to_phase_id: None,
                reason: None,
            },
            &[],
        )?;
        Ok(Ok(id))
    })
}

fn articles(
    conn: &mut PgConnection,
    q: k::BoxedQuery<'static, diesel::pg::Pg>,
    limit: i64,
) -> QueryResult<Vec<Article>> {
    let rows: Vec<(
        i64,
        String,
        String,
        i64,
        String,
        Option<i64>,
        i64,
        DateTime<Utc>,
    )> = q
        .order(k::published_at.desc())
        .limit(limit)
        .select((
            k::id,
            k::title,
            k::body,
            k::category_id,
            k::affected_services,
            k::release_id,
            k::published_by,
            k::published_at,
        ))
        .load(conn)?;
    let cats: Vec<(i64, String)> = categories::table
        .select((categories::id, categories::name))
        .load(conn)?;
    let rel_ids: Vec<i64> = rows.iter().filter_map(|r| r.5).collect();
    let rels: Vec<(i64, i64)> = releases::table
        .filter(releases::id.eq_any(&rel_ids))
        .select((releases::id, releases::number))
        .load(conn)?;
    let people: Vec<i64> = rows.iter().map(|r| r.6).collect();
    let names: Vec<(i64, String)> = users::table
        .filter(users::id.eq_any(&people))
        .select((users::id, users::display_name))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, title, body, cat, services, rid, by, at)| Article {
            id,
            title,
            body,
            category: cats
                .iter()
                .find(|c| c.0 == cat)
                .map(|c| c.1.clone())
                .unwrap_or_default(),
            affected_services: services,
            release: rid
                .and_then(|rid| rels.iter().find(|r| r.0 == rid))
                .map(|(_, n)| (paths::release_number(*n), paths::release(*n))),
            published_by: names
                .iter()
                .find(|n| n.0 == by)
                .map(|n| n.1.clone())
                .unwrap_or_default(),
            published_at: at,
        })
        .collect())
}

/// Articles matching `text` in title or body (all when empty), newest first.
pub fn search(conn: &mut PgConnection, text: &str, limit: i64) -> QueryResult<Vec<Article>> {
    let mut q = k::table.into_boxed();
    let t = text.trim();
    if !t.is_empty() {
        let pattern = format!(
            "%{}%",
            t.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        q = q.filter(k::title.ilike(pattern.clone()).or(k::body.ilike(pattern)));
    }
    articles(conn, q, limit)
}

pub fn find(conn: &mut PgConnection, id: i64) -> AppResult<Article> {
    articles(conn, k::table.filter(k::id.eq(id)).into_boxed(), 1)?
        .pop()
        .ok_or(AppError::NotFound)
}

/// Lessons from other releases of the same category or sharing an affected service.
pub fn for_release(
    conn: &mut PgConnection,
    r: &Release,
    services: &str,
    limit: i64,
) -> QueryResult<Vec<Article>> {
    let mut q = k::table
        .filter(k::release_id.is_distinct_from(Some(r.id)))
        .into_boxed();
    let words: Vec<String> = services
        .split([',', '\n', ';'])
        .map(|s| s.trim().to_string())
        .filter(|s| s.len() >= 2)
        .take(10)
        .collect();
    let mut cond: Box<
        dyn BoxableExpression<k::table, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>,
    > = Box::new(k::category_id.eq(r.category_id));
    for w in words {
        let pattern = format!(
            "%{}%",
            w.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        cond = Box::new(cond.or(k::affected_services.ilike(pattern)));
    }
    q = q.filter(cond);
    articles(conn, q, limit)
}
