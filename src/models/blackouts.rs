//! Blackout windows: times when no release should be rolled out, for one category or (with
//! no category) for all; releases by planned window (the calendar's query and the conflict
//! checks'); and each user's calendar-feed token, which lives on `users`.
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::releases::Release;
use crate::domain::workflow::RecordKind;
use crate::schema::{blackouts, release_details, releases, users};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = blackouts)]
pub struct Blackout {
    pub id: i64,
    pub name: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// `None`: every category.
    pub category_id: Option<i64>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
}

impl Blackout {
    /// Whether it applies to releases of this category.
    pub fn applies_to(&self, category_id: i64) -> bool {
        self.category_id.is_none_or(|c| c == category_id)
    }
}

#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = blackouts, treat_none_as_null = true)]
pub struct BlackoutInput<'a> {
    pub name: &'a str,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub category_id: Option<i64>,
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Blackout> {
    blackouts::table
        .find(id)
        .select(Blackout::as_select())
        .first(conn)
}

pub fn insert(conn: &mut PgConnection, b: &BlackoutInput, created_by: i64) -> QueryResult<i64> {
    diesel::insert_into(blackouts::table)
        .values((b, blackouts::created_by.eq(created_by)))
        .returning(blackouts::id)
        .get_result(conn)
}

pub fn update(conn: &mut PgConnection, id: i64, b: &BlackoutInput) -> QueryResult<usize> {
    diesel::update(blackouts::table.find(id))
        .set(b)
        .execute(conn)
}

pub fn delete(conn: &mut PgConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(blackouts::table.find(id)).execute(conn)
}

/// Blackouts not over yet at `now`, soonest first.
pub fn current_and_upcoming(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> QueryResult<Vec<Blackout>> {
    blackouts::table
        .filter(blackouts::ends_at.gt(now))
        .order((blackouts::starts_at, blackouts::id))
        .select(Blackout::as_select())
        .load(conn)
}

/// The most recent `limit` blackouts over at `now`, latest first.
pub fn past(conn: &mut PgConnection, now: DateTime<Utc>, limit: i64) -> QueryResult<Vec<Blackout>> {
    blackouts::table
        .filter(blackouts::ends_at.le(now))
        .order((blackouts::ends_at.desc(), blackouts::id.desc()))
        .limit(limit)
        .select(Blackout::as_select())
        .load(conn)
}

/// Blackouts touching `[from, to]` (both ends included: callers refine the overlap exactly).
pub fn touching(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<Blackout>> {
    blackouts::table
        .filter(blackouts::starts_at.le(to))
        .filter(blackouts::ends_at.ge(from))
        .order((blackouts::starts_at, blackouts::id))
        .select(Blackout::as_select())
        .load(conn)
}

// ---------------------------------------------------------------- calendar-feed tokens

/// The user's feed token, made now if they have none yet.
pub fn calendar_token(conn: &mut PgConnection, user_id: i64) -> QueryResult<String> {
    let current: Option<String> = users::table
        .find(user_id)
        .select(users::calendar_token)
        .first(conn)?;
    if let Some(t) = current {
        return Ok(t);
    }
    // Only where still empty: two first visits at once agree on one token.
    diesel::update(
        users::table
            .find(user_id)
            .filter(users::calendar_token.is_null()),
    )
    .set(users::calendar_token.eq(new_token()))
    .execute(conn)?;
    users::table
        .find(user_id)
        .select(users::calendar_token)
        .first::<Option<String>>(conn)?
        .ok_or(diesel::result::Error::NotFound)
}

/// Replace the user's feed token: the old address stops working at once.
pub fn regenerate_calendar_token(conn: &mut PgConnection, user_id: i64) -> QueryResult<String> {
    diesel::update(users::table.find(user_id))
        .set(users::calendar_token.eq(new_token()))
        .returning(users::calendar_token)
        .get_result::<Option<String>>(conn)?
        .ok_or(diesel::result::Error::NotFound)
}

/// The active user owning this feed token, if any.
pub fn user_by_calendar_token(conn: &mut PgConnection, token: &str) -> QueryResult<Option<i64>> {
    users::table
        .filter(users::calendar_token.eq(token))
        .filter(users::active.eq(true))
        .select(users::id)
        .first(conn)
        .optional()
}

/// 32 random bytes, base64url without padding (43 characters).
fn new_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `s` could be a token at all (checked before asking the database).
pub fn looks_like_token(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

// ---------------------------------------------------------------- releases by planned window

/// A release's place in the schedule: what the calendar and the conflict checks need.
#[derive(Debug, Clone, Queryable)]
pub struct Slot {
    pub id: i64,
    pub number: i64,
    pub title: String,
    pub category_id: i64,
    pub planned_start: Option<DateTime<Utc>>,
    pub planned_end: Option<DateTime<Utc>>,
}

type Touching = Box<dyn BoxableExpression<releases::table, Pg, SqlType = Bool>>;

/// Releases (not changes) whose planned window touches `[from, to]` (both ends included:
/// callers refine the overlap exactly). A release with only one planned end counts as that
/// moment. Written exactly as the `releases_planned_window` GiST index is, so it is used.
pub(crate) fn touching_window(from: DateTime<Utc>, to: DateTime<Utc>) -> Touching {
    touching_window_of(RecordKind::Release, from, to)
}

/// Records of `kind` whose planned window touches `[from, to]`, as `touching_window`. The
/// kind is written into the SQL (it is one of two constants) so that the planner can use the
/// partial index of releases' windows.
pub(crate) fn touching_window_of(
    kind: RecordKind,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Touching {
    use diesel::sql_types::Timestamptz;
    Box::new(
        diesel::dsl::sql::<Bool>(&format!(
            "releases.kind = '{}' AND (releases.planned_start IS NOT NULL OR releases.planned_end IS NOT NULL) AND tstzrange(\
             least(coalesce(releases.planned_start, releases.planned_end), coalesce(releases.planned_end, releases.planned_start)), \
             greatest(coalesce(releases.planned_start, releases.planned_end), coalesce(releases.planned_end, releases.planned_start)), \
             '[]') && tstzrange(",
            kind.as_str()
        ))
        .bind::<Timestamptz, _>(from)
        .sql(", ")
        .bind::<Timestamptz, _>(to)
        .sql(", '[]')"),
    )
}

/// A release as the calendar first sees it: enough to place it on days and rank it.
#[derive(Debug, Clone, Queryable)]
pub struct Placed {
    pub id: i64,
    pub state: String,
    pub planned_start: Option<DateTime<Utc>>,
    pub planned_end: Option<DateTime<Utc>>,
}

/// Every release touching `[from, to]`, of this type and category when given, in order of
/// planned start: only what places it (the calendar then loads the few it shows).
pub fn placed_touching(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    release_type: Option<&str>,
    category_id: Option<i64>,
) -> QueryResult<Vec<Placed>> {
    let mut q = releases::table
        .select((
            releases::id,
            releases::state,
            releases::planned_start,
            releases::planned_end,
        ))
        .into_boxed()
        .filter(touching_window(from, to));
    if let Some(t) = release_type {
        q = q.filter(releases::release_type.eq(t.to_string()));
    }
    if let Some(c) = category_id {
        q = q.filter(releases::category_id.eq(c));
    }
    q.order((releases::planned_start.asc().nulls_last(), releases::number))
        .load(conn)
}

/// The feed's query, once per kind: every record of `kind` whose planned window touches
/// `[from, to]`, of this type and category when given, in order of planned start.
#[allow(clippy::too_many_arguments)]
pub fn records_touching(
    conn: &mut PgConnection,
    kind: RecordKind,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    release_type: Option<&str>,
    category_id: Option<i64>,
    around: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Release>> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Double, Timestamptz};
    let mut q = releases::table
        .select(Release::as_select())
        .into_boxed()
        .filter(touching_window_of(kind, from, to));
    if let Some(t) = release_type {
        q = q.filter(releases::release_type.eq(t.to_string()));
    }
    if let Some(c) = category_id {
        q = q.filter(releases::category_id.eq(c));
    }
    // At most `limit`: the active ones first, then those whose window starts nearest `around`.
    let distance = sql::<Double>(
        "abs(extract(epoch FROM coalesce(releases.planned_start, releases.planned_end) - ",
    )
    .bind::<Timestamptz, _>(around)
    .sql("))::float8");
    let mut found: Vec<Release> = q
        .order(sql::<Bool>("releases.state <> 'active'"))
        .then_order_by(distance)
        .then_order_by(releases::number)
        .limit(limit)
        .load(conn)?;
    found.sort_by(|a, b| {
        (a.planned_start.is_none(), a.planned_start, a.number).cmp(&(
            b.planned_start.is_none(),
            b.planned_start,
            b.number,
        ))
    });
    Ok(found)
}

/// Active releases (not changes, not `except`) touching `[from, to]` that name one of
/// `services` (lower case) among their affected services, by number, with their
/// affected-services text. The services are split as `conflicts::services` splits them. With
/// a `limit`, any that many (with no order to keep, the scan stops there instead of checking
/// thousands of overlapping releases).
pub fn active_sharing_a_service(
    conn: &mut PgConnection,
    except: Option<i64>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    services: &[String],
    limit: Option<i64>,
) -> QueryResult<Vec<(Slot, String)>> {
    use diesel::sql_types::{Array, Text};
    if services.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = releases::table
        .into_boxed()
        .filter(touching_window(from, to))
        .filter(releases::state.eq("active"))
        .filter(
            diesel::dsl::sql::<Bool>(
                "EXISTS (SELECT 1 FROM release_details d, regexp_split_to_table(d.affected_services, '[,\\r\\n]') AS s(name) \
                 WHERE d.release_id = releases.id AND lower(btrim(s.name)) = ANY(",
            )
            .bind::<Array<Text>, _>(services.to_vec())
            .sql("))"),
        )
        .select((releases::id, releases::number, releases::title, releases::category_id, releases::planned_start, releases::planned_end));
    if let Some(id) = except {
        q = q.filter(releases::id.ne(id));
    }
    if let Some(n) = limit {
        q = q.limit(n);
    }
    let mut slots: Vec<Slot> = q.load(conn)?;
    slots.sort_by_key(|s| s.number);
    let ids: Vec<i64> = slots.iter().map(|s| s.id).collect();
    let texts: std::collections::HashMap<i64, String> =
        affected_services(conn, &ids)?.into_iter().collect();
    Ok(slots
        .into_iter()
        .filter_map(|s| texts.get(&s.id).cloned().map(|t| (s, t)))
        .collect())
}

/// The affected services of these releases (only those that name any): (release id, text).
pub fn affected_services(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    release_details::table
        .filter(release_details::release_id.eq_any(ids))
        .filter(release_details::affected_services.ne(""))
        .select((
            release_details::release_id,
            release_details::affected_services,
        ))
        .load(conn)
}
