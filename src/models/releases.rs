//! Releases: the core row, its long texts (`release_details`), phase visits, and the list query.
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use crate::schema::{release_details, release_phase_visits, releases};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, AsChangeset)]
#[diesel(table_name = releases, treat_none_as_null = true)]
pub struct Release {
    pub id: i64,
    pub number: i64,
    pub title: String,
    pub release_type: String,
    pub category_id: i64,
    pub workflow_id: i64,
    pub phase_id: i64,
    pub state: String,
    pub reason: String,
    pub registered_by: i64,
    pub coordinator_id: Option<i64>,
    pub manager_id: Option<i64>,
    pub assignment_group_id: Option<i64>,
    pub impact: String,
    pub urgency: String,
    pub risk: String,
    pub risk_override_reason: Option<String>,
    pub planned_start: Option<DateTime<Utc>>,
    pub planned_end: Option<DateTime<Utc>>,
    pub actual_start: Option<DateTime<Utc>>,
    pub actual_end: Option<DateTime<Utc>>,
    pub phase_entered_at: DateTime<Utc>,
    pub phase_due_at: Option<DateTime<Utc>>,
    pub backed_out: bool,
    pub version: i32,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub model_version_id: Option<i64>,
    pub kind: String,
    pub related_release_id: Option<i64>,
    pub package_id: Option<i64>,
}

impl Release {
    /// Its impact and urgency, which decide the phases that apply to it (low when unreadable).
    /// What the workflow's phase conditions look at.
    pub fn fit(&self) -> crate::domain::workflow::Fit {
        let (impact, urgency) = self.levels();
        crate::domain::workflow::Fit {
            impact,
            urgency,
            record_type: self.release_type.clone(),
        }
    }

    pub fn levels(&self) -> (crate::domain::risk::Level, crate::domain::risk::Level) {
        use crate::domain::risk::Level;
        (
            self.impact.parse().unwrap_or(Level::Low),
            self.urgency.parse().unwrap_or(Level::Low),
        )
    }
}

#[derive(Debug, Clone, Default, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = release_details)]
pub struct ReleaseDetails {
    pub release_id: i64,
    pub description: String,
    pub affected_services: String,
    pub release_plan: String,
    pub deployment_plan: String,
    pub test_criteria: String,
    pub test_result: String,
    pub backout_plan: String,
    pub training_needs: String,
    pub financial_impact: String,
    pub verification: String,
    pub evaluation: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = releases)]
pub struct NewRelease<'a> {
    pub kind: &'a str,
    /// None takes the next release number; changes pass theirs from `change_number_seq`.
    pub number: Option<i64>,
    pub title: &'a str,
    pub release_type: &'a str,
    pub category_id: i64,
    pub workflow_id: i64,
    pub phase_id: i64,
    pub reason: &'a str,
    pub registered_by: i64,
    pub coordinator_id: Option<i64>,
    pub manager_id: Option<i64>,
    pub impact: &'a str,
    pub urgency: &'a str,
    pub risk: &'a str,
    pub risk_override_reason: Option<&'a str>,
    pub planned_start: Option<DateTime<Utc>>,
    pub planned_end: Option<DateTime<Utc>>,
    pub phase_entered_at: DateTime<Utc>,
    pub phase_due_at: Option<DateTime<Utc>>,
    pub model_version_id: Option<i64>,
}

pub fn insert(conn: &mut PgConnection, new: &NewRelease) -> QueryResult<Release> {
    diesel::insert_into(releases::table)
        .values(new)
        .returning(Release::as_returning())
        .get_result(conn)
}

pub fn insert_details(conn: &mut PgConnection, d: &ReleaseDetails) -> QueryResult<usize> {
    diesel::insert_into(release_details::table)
        .values(d)
        .execute(conn)
}

pub fn by_number(conn: &mut PgConnection, number: i64) -> QueryResult<Release> {
    by_kind_number(conn, "release", number)
}

/// A release (`kind` "release") or a change ("change") by its number.
pub fn by_kind_number(conn: &mut PgConnection, kind: &str, number: i64) -> QueryResult<Release> {
    releases::table
        .filter(releases::kind.eq(kind))
        .filter(releases::number.eq(number))
        .select(Release::as_select())
        .first(conn)
}

/// A record with its details, in one statement.
pub fn with_details(
    conn: &mut PgConnection,
    kind: &str,
    number: i64,
) -> QueryResult<(Release, ReleaseDetails)> {
    releases::table
        .inner_join(release_details::table)
        .filter(releases::kind.eq(kind))
        .filter(releases::number.eq(number))
        .select((Release::as_select(), ReleaseDetails::as_select()))
        .first(conn)
}

/// A record locked for a change, with what the change appends to.
pub struct Locked {
    pub release: Release,
    pub details: ReleaseDetails,
    /// The configuration stamp (`services::workflow_config`) at the moment of locking.
    pub stamp: crate::services::workflow_config::Stamp,
    /// The last hash of the record's history chain ("" before its first event).
    pub last_hash: String,
    pub watchers: Vec<i64>,
    /// The open tasks of its current phase (the exit criterion "all tasks done").
    pub open_tasks: i64,
}

diesel::define_sql_function! {
    /// Migration 000032: the open tasks of a record's phase.
    fn release_open_tasks(rec: diesel::sql_types::BigInt, phase: diesel::sql_types::BigInt) -> diesel::sql_types::BigInt;
}

diesel::define_sql_function! {
    /// Migration 000026: the users watching a record.
    fn release_watchers(rec: diesel::sql_types::BigInt) -> diesel::sql_types::Array<diesel::sql_types::BigInt>;
}

/// `with_details`, both rows locked until the transaction ends, with the configuration stamp,
/// then what the change appends to: the history chain's last hash, the watchers and the open
/// tasks of its phase. Those are read by a second statement, once the lock is held: read in
/// the locking statement they would come from its snapshot, taken before it waited for the
/// lock, and miss what the previous holder committed (a forked chain, an uncounted task).
pub fn with_details_for_update(
    conn: &mut PgConnection,
    kind: &str,
    number: i64,
) -> QueryResult<Locked> {
    let (release, details, stamp) = releases::table
        .inner_join(release_details::table)
        .filter(releases::kind.eq(kind))
        .filter(releases::number.eq(number))
        .select((
            Release::as_select(),
            ReleaseDetails::as_select(),
            crate::services::workflow_config::stamp_columns(),
        ))
        .for_update()
        .first::<(Release, ReleaseDetails, (String, i64))>(conn)?;
    let (last_hash, watchers, open_tasks) = diesel::select((
        crate::models::history::history_last_hash(release.id),
        release_watchers(release.id),
        release_open_tasks(release.id, release.phase_id),
    ))
    .get_result::<(String, Vec<i64>, i64)>(conn)?;
    Ok(Locked {
        release,
        details,
        stamp,
        last_hash,
        watchers,
        open_tasks,
    })
}

pub fn next_change_number(conn: &mut PgConnection) -> QueryResult<i64> {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "nextval('change_number_seq')",
    ))
    .get_result(conn)
}

pub fn find_by_id(conn: &mut PgConnection, id: i64) -> QueryResult<Release> {
    releases::table
        .find(id)
        .select(Release::as_select())
        .first(conn)
}

pub fn find_by_id_for_update(conn: &mut PgConnection, id: i64) -> QueryResult<Release> {
    releases::table
        .find(id)
        .select(Release::as_select())
        .for_update()
        .first(conn)
}

/// The release locked for update, for transitions and saves.
pub fn by_number_for_update(conn: &mut PgConnection, number: i64) -> QueryResult<Release> {
    by_kind_number_for_update(conn, "release", number)
}

pub fn by_kind_number_for_update(
    conn: &mut PgConnection,
    kind: &str,
    number: i64,
) -> QueryResult<Release> {
    releases::table
        .filter(releases::kind.eq(kind))
        .filter(releases::number.eq(number))
        .select(Release::as_select())
        .for_update()
        .first(conn)
}

pub fn details(conn: &mut PgConnection, release_id: i64) -> QueryResult<ReleaseDetails> {
    release_details::table
        .find(release_id)
        .select(ReleaseDetails::as_select())
        .first(conn)
}

pub fn save(conn: &mut PgConnection, r: &Release, d: &ReleaseDetails) -> QueryResult<()> {
    diesel::update(releases::table.find(r.id))
        .set(r)
        .execute(conn)?;
    diesel::update(release_details::table.find(r.id))
        .set(d)
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = release_phase_visits)]
pub struct Visit {
    pub id: i64,
    pub release_id: i64,
    pub phase_id: i64,
    pub status: String,
    pub entered_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub left_at: Option<DateTime<Utc>>,
}

pub fn visits(conn: &mut PgConnection, release_id: i64) -> QueryResult<Vec<Visit>> {
    release_phase_visits::table
        .filter(release_phase_visits::release_id.eq(release_id))
        .order(release_phase_visits::id)
        .select(Visit::as_select())
        .load(conn)
}

pub fn skip_visit(
    conn: &mut PgConnection,
    release_id: i64,
    phase_id: i64,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::insert_into(release_phase_visits::table)
        .values((
            release_phase_visits::release_id.eq(release_id),
            release_phase_visits::phase_id.eq(phase_id),
            release_phase_visits::status.eq("skipped"),
            release_phase_visits::entered_at.eq(at),
            release_phase_visits::left_at.eq(Some(at)),
        ))
        .execute(conn)
}

diesel::define_sql_function! {
    /// Migration 000023: the writes of a phase move in one statement (see there).
    #[sql_name = "record_moved"]
    fn record_moved_sql(
        rec: diesel::sql_types::BigInt,
        at: diesel::sql_types::Timestamptz,
        entered: diesel::sql_types::Bool,
        new_phase: diesel::sql_types::BigInt,
        phase_since: diesel::sql_types::Timestamptz,
        phase_due: diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        new_state: diesel::sql_types::Text,
        ended: diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        is_backed_out: diesel::sql_types::Bool,
        new_version: diesel::sql_types::Integer,
    ) -> diesel::sql_types::Integer;
}

/// Store a move `r` has made in memory (its phase, state and version set, `updated_at` the
/// moment): the current phase visit is left and, when `entered`, the new phase's visit opened
/// and its open tasks dated from their offsets.
pub fn record_moved(conn: &mut PgConnection, r: &Release, entered: bool) -> QueryResult<()> {
    let moved: i32 = diesel::select(record_moved_sql(
        r.id,
        r.updated_at,
        entered,
        r.phase_id,
        r.phase_entered_at,
        r.phase_due_at,
        &r.state,
        r.closed_at,
        r.backed_out,
        r.version,
    ))
    .get_result(conn)?;
    if moved == 1 {
        Ok(())
    } else {
        Err(diesel::result::Error::NotFound)
    }
}

diesel::define_sql_function! {
    /// Migrations 000026 and 000032: a transition's writes in one statement, returning the
    /// open tasks of the phase entered with their people (see there).
    #[sql_name = "record_transition"]
    fn record_transition_sql(
        rec: diesel::sql_types::BigInt,
        at: diesel::sql_types::Timestamptz,
        entered: diesel::sql_types::Bool,
        new_phase: diesel::sql_types::BigInt,
        phase_since: diesel::sql_types::Timestamptz,
        phase_due: diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        new_state: diesel::sql_types::Text,
        ended: diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        is_backed_out: diesel::sql_types::Bool,
        new_version: diesel::sql_types::Integer,
        actor: diesel::sql_types::BigInt,
        left_phase: diesel::sql_types::BigInt,
        event_kind: diesel::sql_types::Text,
        event_summary: diesel::sql_types::Text,
        event_reason: diesel::sql_types::Nullable<diesel::sql_types::Text>,
        prev_hash: diesel::sql_types::Text,
        event_hash: diesel::sql_types::Text,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// A transition taken, as its history event tells it.
pub struct Transitioned<'a> {
    pub actor_id: i64,
    pub left_phase_id: i64,
    pub kind: &'a str,
    pub summary: &'a str,
    pub reason: Option<&'a str>,
    /// The history chain's last hash, read under the record's lock.
    pub prev_hash: &'a str,
}

/// Store transition `t` that `r` has made in memory (as `record_moved`, `updated_at` the
/// moment to the microsecond): the approval left undecided in the phase left is withdrawn, the
/// move stored and its history event appended, in one statement, which also returns the open
/// tasks of the phase entered (none when it entered none) with their people, their due dates
/// as the move set them.
pub fn record_transition(
    conn: &mut PgConnection,
    r: &Release,
    entered: bool,
    t: &Transitioned,
) -> QueryResult<Vec<crate::models::tasks::OpenTask>> {
    let event = crate::models::history::NewEvent {
        release_id: r.id,
        actor_id: Some(t.actor_id),
        record_version: r.version,
        kind: t.kind,
        summary: t.summary,
        from_phase_id: Some(t.left_phase_id),
        to_phase_id: entered.then_some(r.phase_id),
        reason: t.reason,
    };
    let hash = crate::models::history::seal(t.prev_hash, &event, r.updated_at, &[]);
    let tasks: Option<String> = diesel::select(record_transition_sql(
        r.id,
        r.updated_at,
        entered,
        r.phase_id,
        r.phase_entered_at,
        r.phase_due_at,
        &r.state,
        r.closed_at,
        r.backed_out,
        r.version,
        t.actor_id,
        t.left_phase_id,
        t.kind,
        t.summary,
        t.reason,
        t.prev_hash,
        &hash,
    ))
    .get_result(conn)?;
    let tasks = tasks.ok_or(diesel::result::Error::NotFound)?;
    serde_json::from_str(&tasks)
        .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))
}

/// Filters of the release list, as they appear in the URL.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ListFilter {
    #[serde(default, rename = "type")]
    pub release_type: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub coordinator: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub page: String,
    /// Releases that contain this change (`C-000045`).
    #[serde(default)]
    pub change: String,
    /// Releases whose planned window includes this day (the calendar's "more" links).
    #[serde(default)]
    pub on: String,
}

pub const PAGE_SIZE: i64 = 50;
/// Deepest page offered: past it, narrowing the filters is faster than paging.
pub const MAX_PAGE: i64 = 200;

impl ListFilter {
    pub fn page_number(&self) -> i64 {
        self.page.parse::<i64>().unwrap_or(1).clamp(1, MAX_PAGE)
    }

    pub fn date(s: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
    }

    /// The filters that are set, as URL parameters (no page): for the list's links and its CSV.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("type", &self.release_type),
            ("category", &self.category),
            ("phase", &self.phase),
            ("state", &self.state),
            ("coordinator", &self.coordinator),
            ("from", &self.from),
            ("to", &self.to),
            ("on", &self.on),
            ("q", &self.q),
            ("sort", &self.sort),
            ("change", &self.change),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.as_str()))
        .collect()
    }
}

/// One page of the release list (one query; `PAGE_SIZE + 1` rows tell whether more follow).
pub fn list(conn: &mut PgConnection, f: &ListFilter) -> QueryResult<Vec<Release>> {
    list_of(conn, "release", f)
}

/// One page of releases or changes.
/// Two queries on later pages: the page's ids come from an index-only scan of the list's
/// index (skipping the earlier pages costs no row reads), then only its rows are read.
pub fn list_of(conn: &mut PgConnection, kind: &str, f: &ListFilter) -> QueryResult<Vec<Release>> {
    let offset = (f.page_number() - 1) * PAGE_SIZE;
    if offset == 0 {
        return filtered(kind, f).limit(PAGE_SIZE + 1).load(conn);
    }
    let ids: Vec<i64> = with_filters(releases::table.select(releases::id).into_boxed(), kind, f)
        .offset(offset)
        .limit(PAGE_SIZE + 1)
        .load(conn)?;
    by_ids_in_order(conn, &ids)
}

/// The ids of every release the list's filters match, in the list's order, at most `cap`:
/// the CSV then reads the rows a chunk at a time (`by_ids_in_order`).
pub fn ids_for_export(conn: &mut PgConnection, f: &ListFilter, cap: i64) -> QueryResult<Vec<i64>> {
    with_filters(
        releases::table.select(releases::id).into_boxed(),
        "release",
        f,
    )
    .limit(cap)
    .load(conn)
}

/// These records in the order of `ids`.
pub fn by_ids_in_order(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<Release>> {
    let position: std::collections::HashMap<i64, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut rows = by_ids(conn, ids)?;
    rows.sort_by_key(|r| position.get(&r.id).copied().unwrap_or(usize::MAX));
    Ok(rows)
}

type ListQuery = releases::BoxedQuery<
    'static,
    diesel::pg::Pg,
    diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<Release, diesel::pg::Pg>>,
>;

/// The list's query: its filters and sort, no paging (the page and the CSV share it).
fn filtered(kind: &str, f: &ListFilter) -> ListQuery {
    with_filters(
        releases::table.select(Release::as_select()).into_boxed(),
        kind,
        f,
    )
}

/// The list's filters and order on a query selecting anything.
fn with_filters<ST: 'static>(
    q: releases::BoxedQuery<'static, diesel::pg::Pg, ST>,
    kind: &str,
    f: &ListFilter,
) -> releases::BoxedQuery<'static, diesel::pg::Pg, ST> {
    let mut q = q.filter(releases::kind.eq(kind.to_string()));
    if let Some(n) = crate::paths::parse_change_number(f.change.trim()) {
        // Releases that contain this change.
        q = q.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(
                "releases.id = (SELECT c.related_release_id FROM releases c WHERE c.kind = 'change' AND c.number = ",
            )
            .bind::<diesel::sql_types::BigInt, _>(n)
            .sql(")"),
        );
    }
    if !f.release_type.is_empty() {
        q = q.filter(releases::release_type.eq(f.release_type.clone()));
    }
    if let Ok(c) = f.category.parse::<i64>() {
        q = q.filter(releases::category_id.eq(c));
    }
    if let Ok(p) = f.phase.parse::<i64>() {
        q = q.filter(releases::phase_id.eq(p));
    }
    match f.state.as_str() {
        "" => {}
        "closed" => {
            q = q.filter(releases::state.eq_any(["closed_successful", "closed_backed_out"]))
        }
        s => q = q.filter(releases::state.eq(s.to_string())),
    }
    if let Ok(c) = f.coordinator.parse::<i64>() {
        q = q.filter(releases::coordinator_id.eq(c));
    }
    if let Some(d) = ListFilter::date(&f.from) {
        q = q.filter(releases::planned_start.ge(d.and_hms_opt(0, 0, 0).unwrap().and_utc()));
    }
    if let Some(d) = ListFilter::date(&f.to) {
        q = q.filter(
            releases::planned_start.lt((d + chrono::Days::new(1))
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()),
        );
    }
    if let Some(d) = ListFilter::date(&f.on).filter(|_| kind == "release") {
        let day = d.and_hms_opt(0, 0, 0).unwrap().and_utc();
        // The window meets the day: [day, next midnight), the end excluded as on the calendar.
        q = q
            .filter(crate::models::blackouts::touching_window(
                day,
                day + chrono::Duration::days(1),
            ))
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "coalesce(releases.planned_end, releases.planned_start) > ",
                )
                .bind::<diesel::sql_types::Timestamptz, _>(day),
            )
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "coalesce(releases.planned_start, releases.planned_end) < ",
                )
                .bind::<diesel::sql_types::Timestamptz, _>(day + chrono::Duration::days(1)),
            );
    }
    let text = f.q.trim();
    if !text.is_empty() {
        let number = if kind == "change" {
            crate::paths::parse_change_number(&text.to_uppercase())
        } else {
            crate::paths::parse_release_number(&text.to_uppercase())
        };
        match number {
            Some(n) => q = q.filter(releases::number.eq(n).or(releases::title.ilike(like(text)))),
            None => q = q.filter(releases::title.ilike(like(text))),
        }
    }
    match f.sort.as_str() {
        "number" => q.order(releases::number.asc()),
        "planned_start" => q.order((
            releases::planned_start.asc().nulls_last(),
            releases::number.desc(),
        )),
        "planned_end" => q.order((
            releases::planned_end.asc().nulls_last(),
            releases::number.desc(),
        )),
        "updated" => q.order((releases::updated_at.desc(), releases::number.desc())),
        _ => q.order(releases::number.desc()),
    }
}

fn like(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Records per state of one kind, from the counts the triggers of `releases` keep.
pub fn state_counts(conn: &mut PgConnection, kind: &str) -> QueryResult<Vec<(String, i64)>> {
    use crate::schema::record_state_counts as c;
    c::table
        .filter(c::kind.eq(kind))
        .select((c::state, c::n))
        .load(conn)
}

/// Count the records per state afresh: after a bulk load that ran with triggers off.
pub fn recount_states(conn: &mut PgConnection) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::sql_query("DELETE FROM record_state_counts").execute(conn)?;
        diesel::sql_query("INSERT INTO record_state_counts (kind, state, n) SELECT kind, state, count(*) FROM releases GROUP BY kind, state").execute(conn)?;
        Ok(())
    })
}

/// These records, in no particular order.
pub fn by_ids(conn: &mut PgConnection, ids: &[i64]) -> QueryResult<Vec<Release>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    releases::table
        .filter(releases::id.eq_any(ids))
        .select(Release::as_select())
        .load(conn)
}
