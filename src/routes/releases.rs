//! Releases: the list, registering, the release page (progress, the phase's screen,
//! transitions, history), saving the screen and taking transitions.
use std::collections::HashMap;

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{invalid, kept_page, page, see_other, Sent};
use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::domain::fields::{FieldKind, Rule, REASONS};
use crate::domain::permissions;
use crate::domain::risk::{self, Level, Risk};
use crate::domain::workflow::{self, RecordKind, RecordState, TransitionKind};
use crate::error::{AppError, AppResult};
use crate::forms::{Form, FormErrors};
use crate::models::history::Event;
use crate::models::releases::{self as rel, ListFilter, PAGE_SIZE};
use crate::models::{groups, users, workflows as wfm};
use crate::paths;
use crate::services::release_fields::Names;
use crate::services::releases::{
    self as svc, Loaded, NameBook, RegisterInput, SaveOutcome, TakeOutcome,
};
use crate::services::submissions;
use crate::services::tasks::TaskInput;
use crate::views::{self, Ctx};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // `/releases/new` before `/releases/{number}`.
    cfg.service(list)
        .service(new_form)
        .service(register)
        .service(show)
        .service(save)
        .service(transition);
}

type Options = Vec<(String, String)>;

/// The number in a record's URL, for its kind.
pub(crate) fn parse_kind_number(kind: RecordKind, s: &str) -> AppResult<i64> {
    match kind {
        RecordKind::Release => paths::parse_release_number(s),
        RecordKind::Change => paths::parse_change_number(&s.to_uppercase()),
    }
    .ok_or(AppError::NotFound)
}

// ---------------------------------------------------------------- the list

struct ListRow {
    number: String,
    href: String,
    title: String,
    release_type: String,
    category: String,
    phase: String,
    state: String,
    coordinator: String,
    planned_start: String,
    planned_end: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "releases/list.html")]
struct ListPage {
    ctx: Ctx,
    f: ListFilter,
    rows: Vec<ListRow>,
    page: i64,
    prev_href: String,
    next_href: String,
    categories: Options,
    phases: Options,
    coordinators: Options,
    types: Options,
    states: Options,
    sorts: Options,
    can_register: bool,
    /// "release" or "change", and the list's path.
    kind: &'static str,
    base: &'static str,
}

fn query_string(kind: RecordKind, f: &ListFilter, page: i64) -> String {
    let mut parts: Vec<String> = f
        .pairs()
        .into_iter()
        .map(|(k, v)| format!("{k}={}", paths::encode(v)))
        .collect();
    if page > 1 {
        parts.push(format!("page={page}"));
    }
    let base = if kind == RecordKind::Change {
        "/changes"
    } else {
        paths::RELEASES
    };
    if parts.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", parts.join("&"))
    }
}

/// GET /releases
#[get("/releases")]
async fn list(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    q: web::Query<ListFilter>,
) -> AppResult<HttpResponse> {
    list_kind(user, pool, RecordKind::Release, q.into_inner()).await
}

/// The list of releases or changes.
pub(crate) async fn list_kind(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    kind: RecordKind,
    f: ListFilter,
) -> AppResult<HttpResponse> {
    let slot = match kept_page::lookup(&user).await {
        Ok(kept) => return Ok(kept),
        Err(slot) => slot,
    };
    let f2 = f.clone();
    let (releases, categories, phases, names) = db::run(&pool, move |conn| {
        let releases = rel::list_of(conn, kind.as_str(), &f2)?;
        let categories: Vec<_> = wfm::categories_all(conn)?
            .into_iter()
            .filter(|c| c.record_kind == kind.as_str())
            .collect();
        let phases = wfm::phase_names(conn, kind.as_str())?;
        let mut ids: Vec<i64> = releases.iter().filter_map(|r| r.coordinator_id).collect();
        ids.extend(
            users::active_with_role(conn, "coordinator")?
                .into_iter()
                .map(|(id, _)| id),
        );
        let names = users::names(conn, &ids)?;
        Ok((releases, categories, phases, names))
    })
    .await?;
    let page_no = f.page_number();
    let has_more = releases.len() as i64 > PAGE_SIZE && page_no < rel::MAX_PAGE;
    let name = |id: i64| {
        names
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    let rows = releases
        .iter()
        .take(PAGE_SIZE as usize)
        .map(|r| ListRow {
            number: paths::record_number(kind.as_str(), r.number),
            href: paths::record(kind.as_str(), r.number),
            title: r.title.clone(),
            release_type: kind.type_label(&r.release_type).to_string(),
            category: categories
                .iter()
                .find(|c| c.id == r.category_id)
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            phase: phases
                .iter()
                .find(|p| p.0 == r.phase_id)
                .map(|p| p.1.clone())
                .unwrap_or_default(),
            state: r
                .state
                .parse::<RecordState>()
                .map(|s| s.label().to_string())
                .unwrap_or_default(),
            coordinator: r.coordinator_id.map(name).unwrap_or_else(|| "—".into()),
            planned_start: views::opt_datetime(&r.planned_start),
            planned_end: views::opt_datetime(&r.planned_end),
            updated: views::datetime(&r.updated_at),
        })
        .collect();
    let multi_workflow = phases
        .iter()
        .map(|p| &p.2)
        .collect::<std::collections::HashSet<_>>()
        .len()
        > 1;
    let mut coordinators: Options = names
        .iter()
        .map(|(id, n)| (id.to_string(), n.clone()))
        .collect();
    coordinators.sort_by(|a, b| a.1.cmp(&b.1));
    coordinators.dedup();
    let list_page = ListPage {
        ctx: user.ctx(),
        page: page_no,
        prev_href: if page_no > 1 {
            query_string(kind, &f, page_no - 1)
        } else {
            String::new()
        },
        next_href: if has_more {
            query_string(kind, &f, page_no + 1)
        } else {
            String::new()
        },
        kind: kind.as_str(),
        base: if kind == RecordKind::Change {
            "/changes"
        } else {
            paths::RELEASES
        },
        rows,
        categories: categories
            .iter()
            .map(|c| (c.id.to_string(), c.name.clone()))
            .collect(),
        phases: phases
            .iter()
            .map(|(id, name, wf)| {
                (
                    id.to_string(),
                    if multi_workflow {
                        format!("{name} ({wf})")
                    } else {
                        name.clone()
                    },
                )
            })
            .collect(),
        coordinators,
        types: kind
            .types()
            .into_iter()
            .map(|(k, l)| (k.to_string(), l.to_string()))
            .collect(),
        states: vec![
            ("active".into(), "Active".into()),
            ("closed".into(), "Closed (any outcome)".into()),
            ("closed_successful".into(), "Closed — successful".into()),
            ("closed_backed_out".into(), "Closed — backed out".into()),
            ("abandoned".into(), "Abandoned".into()),
        ],
        sorts: vec![
            ("".into(), "Newest first".into()),
            ("number".into(), "Number, oldest first".into()),
            ("planned_start".into(), "Planned start".into()),
            ("planned_end".into(), "Planned end".into()),
            ("updated".into(), "Last updated".into()),
        ],
        can_register: permissions::can_register(user.actor()),
        f,
    };
    kept_page::page(slot, &list_page)
}

// ---------------------------------------------------------------- registering

#[derive(Template)]
#[template(path = "releases/new.html")]
struct NewPage {
    ctx: Ctx,
    input: RegisterInput,
    errors: FormErrors,
    categories: Options,
    types: Options,
    reasons: Options,
    levels: Options,
    risks: Options,
    coordinators: Options,
    managers: Options,
    models: Options,
    /// Per model offered: (id, release type, category id), for the category it implies.
    model_facts: Vec<(String, String, String)>,
    /// Per category offered: (id, the record types it takes; empty: every type).
    category_types: Vec<(String, Vec<String>)>,
    kind: &'static str,
}

/// The category a blank category field starts with: the model's when one is chosen, else
/// the only category every model of the chosen type uses, else the only category there is;
/// none (the user chooses) when nothing decides between two or more.
fn implied_category(
    categories: &Options,
    model_facts: &[(String, String, String)],
    model: &str,
    release_type: &str,
) -> Option<String> {
    let offered = |c: &String| categories.iter().any(|(id, _)| id == c);
    if let Some((_, _, c)) = model_facts.iter().find(|(id, _, _)| id == model) {
        return offered(c).then(|| c.clone());
    }
    let mut of_type: Vec<&String> = model_facts
        .iter()
        .filter(|(_, t, _)| t == release_type)
        .map(|(_, _, c)| c)
        .filter(|c| offered(c))
        .collect();
    of_type.sort();
    of_type.dedup();
    match (of_type.as_slice(), categories.as_slice()) {
        ([only], _) => Some((*only).clone()),
        (_, [(only, _)]) => Some(only.clone()),
        _ => None,
    }
}

impl NewPage {
    /// Fill a blank category with the one the model, the type or the list implies.
    fn preselect_category(&mut self) {
        if self.input.category.trim().is_empty() && self.input.model.trim().is_empty() {
            // The one category that takes this type, when categories name their types.
            let t = self.input.release_type.as_str();
            let taking: Vec<&String> = self
                .category_types
                .iter()
                .filter(|(_, types)| crate::domain::workflow::category_accepts(types, t))
                .map(|(id, _)| id)
                .collect();
            if let ([only], true) = (
                taking.as_slice(),
                self.category_types.iter().any(|(_, ty)| !ty.is_empty()),
            ) {
                self.input.category = (*only).clone();
            }
        }
        if self.input.category.trim().is_empty() {
            if let Some(c) = implied_category(
                &self.categories,
                &self.model_facts,
                self.input.model.trim(),
                &self.input.release_type,
            ) {
                self.input.category = c;
            }
        }
    }
}

fn level_options() -> Options {
    Level::ALL
        .iter()
        .map(|l| (l.as_str().to_string(), l.label().to_string()))
        .collect()
}

fn risk_options() -> Options {
    Risk::ALL
        .iter()
        .map(|l| (l.as_str().to_string(), l.label().to_string()))
        .collect()
}

fn pairs(v: Vec<(i64, String)>) -> Options {
    v.into_iter().map(|(id, n)| (id.to_string(), n)).collect()
}

async fn new_page(
    user: &CurrentUser,
    pool: &DbPool,
    input: RegisterInput,
    errors: FormErrors,
) -> AppResult<NewPage> {
    new_page_kind(user, pool, RecordKind::Release, input, errors).await
}

async fn new_page_kind(
    user: &CurrentUser,
    pool: &DbPool,
    kind: RecordKind,
    input: RegisterInput,
    errors: FormErrors,
) -> AppResult<NewPage> {
    let mut input = input;
    submissions::issue(&mut input.submission_key);
    let (categories, coordinators, managers, models) = db::run(pool, move |conn| {
        Ok((
            wfm::active_categories(conn, kind.as_str())?,
            users::active_with_role(conn, "coordinator")?,
            users::active_with_role(conn, "manager")?,
            crate::models::release_models::active_latest(conn)?,
        ))
    })
    .await?;
    let category_types = categories
        .iter()
        .map(|c| (c.id.to_string(), c.record_types.clone()))
        .collect();
    Ok(NewPage {
        ctx: user.ctx(),
        input,
        errors,
        category_types,
        categories: categories
            .into_iter()
            .map(|c| {
                // A category that takes some types only says which, next to its name.
                let only: Vec<&str> = kind
                    .types()
                    .into_iter()
                    .filter(|(k, _)| !c.record_types.is_empty() && c.accepts(k))
                    .map(|(_, l)| l)
                    .collect();
                let label = if only.is_empty() {
                    c.name
                } else {
                    format!("{} ({} only)", c.name, only.join(", ").to_lowercase())
                };
                (c.id.to_string(), label)
            })
            .collect(),
        kind: kind.as_str(),
        types: kind
            .types()
            .into_iter()
            .map(|(k, l)| (k.to_string(), l.to_string()))
            .collect(),
        reasons: REASONS
            .iter()
            .map(|(k, l)| (k.to_string(), l.to_string()))
            .collect(),
        levels: level_options(),
        risks: risk_options(),
        coordinators: pairs(coordinators),
        managers: pairs(managers),
        model_facts: models
            .iter()
            .filter(|_| kind == RecordKind::Release)
            .map(|(m, v)| {
                (
                    m.id.to_string(),
                    v.release_type.clone(),
                    v.category_id.to_string(),
                )
            })
            .collect(),
        models: models
            .into_iter()
            .filter(|_| kind == RecordKind::Release)
            .map(|(m, v)| {
                (
                    m.id.to_string(),
                    format!("{} (version {}): {}", m.name, v.version, v.description),
                )
            })
            .collect(),
    })
}

#[derive(Deserialize)]
struct NewQuery {
    model: Option<String>,
}

/// GET /releases/new (`?model=ID` starts from a release model's defaults)
#[get("/releases/new")]
async fn new_form(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    q: web::Query<NewQuery>,
) -> AppResult<HttpResponse> {
    user.require(
        permissions::can_register(user.actor()),
        "Only release coordinators and managers register releases.",
    )?;
    let mut input = RegisterInput {
        release_type: "minor".into(),
        reason: "business_requirement".into(),
        impact: "medium".into(),
        urgency: "medium".into(),
        ..Default::default()
    };
    if user.has(crate::domain::roles::Role::Coordinator) {
        input.coordinator = user.id.to_string();
    }
    if let Some(model) = q.model.as_deref().and_then(|m| m.parse::<i64>().ok()) {
        let found = db::run(&pool, move |conn| {
            Ok(crate::models::release_models::active_latest(conn)?
                .into_iter()
                .find(|(m, _)| m.id == model))
        })
        .await?;
        if let Some((m, v)) = found {
            input.model = m.id.to_string();
            input.release_type = v.release_type;
            input.category = v.category_id.to_string();
        }
    }
    let mut p = new_page(&user, &pool, input, FormErrors::default()).await?;
    p.preselect_category();
    page(&p)
}

/// POST /releases/new
#[post("/releases/new")]
async fn register(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    form: Form<RegisterInput>,
) -> AppResult<HttpResponse> {
    register_kind(user, pool, RecordKind::Release, form.into_inner()).await
}

pub(crate) async fn register_kind(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    kind: RecordKind,
    input: RegisterInput,
) -> AppResult<HttpResponse> {
    user.require(
        permissions::can_register(user.actor()),
        &format!(
            "Only release coordinators and managers register {}s.",
            kind.as_str()
        ),
    )?;
    let mut input = input;
    if kind == RecordKind::Release
        && input.category.trim().is_empty()
        && !input.model.trim().is_empty()
    {
        // The model implies its category (the form offers one model picker, no JavaScript).
        let model = input.model.trim().parse::<i64>().ok();
        if let Some(c) = db::run(&pool, move |conn| {
            Ok(crate::models::release_models::active_latest(conn)?
                .into_iter()
                .find(|(m, _)| Some(m.id) == model)
                .map(|(_, v)| v.category_id))
        })
        .await?
        {
            input.category = c.to_string();
        }
    }
    let (actor, i2) = (user.actor(), input.clone());
    match super::create_once(
        &user,
        &pool,
        &input.submission_key,
        move |conn| svc::register_kind(conn, kind, actor, &i2),
        move |n| paths::record(kind.as_str(), *n),
    )
    .await?
    {
        Sent::Again(to_first) => Ok(to_first),
        Sent::Invalid(errors) => invalid(&new_page_kind(&user, &pool, kind, input, errors).await?),
        Sent::Created(number, path) => {
            user.flash(
                "success",
                format!(
                    "{} was registered.",
                    paths::record_number(kind.as_str(), number)
                ),
            );
            Ok(see_other(path))
        }
    }
}

/// The new-change form (changes have no model, reason or manager).
pub(crate) async fn new_change_form(
    user: CurrentUser,
    pool: web::Data<DbPool>,
) -> AppResult<HttpResponse> {
    user.require(
        permissions::can_register(user.actor()),
        "Only release coordinators and managers register changes.",
    )?;
    let mut input = RegisterInput {
        release_type: "normal".into(),
        impact: "medium".into(),
        urgency: "medium".into(),
        ..Default::default()
    };
    if user.has(crate::domain::roles::Role::Coordinator) {
        input.coordinator = user.id.to_string();
    }
    let mut p = new_page_kind(
        &user,
        &pool,
        RecordKind::Change,
        input,
        FormErrors::default(),
    )
    .await?;
    p.preselect_category();
    page(&p)
}

// ---------------------------------------------------------------- the release page

pub struct Step {
    pub name: String,
    /// done, current, skipped, upcoming, not-applicable, retired
    pub status: &'static str,
    pub status_text: String,
}

pub struct FieldView {
    pub key: &'static str,
    pub label: &'static str,
    pub widget: &'static str,
    pub editable: bool,
    pub required: bool,
    pub entry: bool,
    pub value: String,
    pub display: String,
    pub options: Options,
    pub error: String,
    /// On a conflict: what the field holds now, when it differs from the user's input.
    pub now: String,
}

pub struct TransitionView {
    pub id: i64,
    pub label: String,
    pub kind: &'static str,
    /// The phase it goes to ("" when it ends the record).
    pub to_phase: String,
    pub reason_required: bool,
    pub blockers: Vec<String>,
    pub note: String,
}

/// One message of a page's error summary, linking to the field or control it is about.
pub struct Problem {
    /// The id of the element the message links to (without `#`).
    pub target: String,
    pub message: String,
}

/// The transitions panel: the moves forward (advance, close, back out) first, then one
/// "Send back to…" form for every rework, one form per abandon, and what cannot be taken
/// now with its reasons.
#[derive(Default)]
pub struct Moves {
    pub primary: Vec<TransitionView>,
    pub rework: Vec<TransitionView>,
    /// The send-back form's reason box is required (every rework offered requires one).
    pub rework_reason_required: bool,
    pub abandon: Vec<TransitionView>,
    pub blocked: Vec<TransitionView>,
}

impl Moves {
    fn of(all: Vec<TransitionView>) -> Moves {
        let mut m = Moves::default();
        for t in all {
            if !t.blockers.is_empty() {
                m.blocked.push(t);
            } else {
                match t.kind.parse::<TransitionKind>() {
                    Ok(TransitionKind::Rework) => m.rework.push(t),
                    Ok(TransitionKind::Abandon) => m.abandon.push(t),
                    _ => m.primary.push(t),
                }
            }
        }
        m.rework_reason_required =
            !m.rework.is_empty() && m.rework.iter().all(|t| t.reason_required);
        m
    }

    pub fn is_empty(&self) -> bool {
        self.primary.is_empty()
            && self.rework.is_empty()
            && self.abandon.is_empty()
            && self.blocked.is_empty()
    }

    /// Where a refused transition's message points: its entry among the blocked ones, its
    /// reason box when the reason was missing, else its form.
    fn target(&self, id: i64, reason_missing: bool) -> String {
        if self.blocked.iter().any(|t| t.id == id) {
            format!("transition-{id}")
        } else if self.rework.iter().any(|t| t.id == id) {
            if reason_missing {
                "send-back-reason"
            } else {
                "send-back-to"
            }
            .to_string()
        } else if self.primary.iter().chain(&self.abandon).any(|t| t.id == id) {
            if reason_missing {
                format!("reason-{id}")
            } else {
                format!("transition-{id}")
            }
        } else {
            "transitions-title".to_string()
        }
    }
}

pub struct HistoryView {
    pub at: String,
    pub actor: String,
    pub summary: String,
    pub from_to: String,
    pub reason: String,
    pub changes: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "releases/show.html")]
pub struct ReleasePage {
    ctx: Ctx,
    /// Lessons from similar releases: (title, link, where from).
    lessons: Vec<(String, String, String)>,
    /// A manager may publish this release's lessons.
    can_publish: bool,
    /// Open deadline alerts: (what, when raised).
    alerts: Vec<(String, String)>,
    watching: bool,
    /// "release" or "change".
    kind: &'static str,
    related: Vec<crate::services::related::ChangeRow>,
    members: Vec<crate::services::related::MemberRow>,
    package: Option<crate::services::related::MemberRow>,
    parent: Option<crate::services::related::MemberRow>,
    relation_error: String,
    /// The field the related-records message is about.
    relation_target: &'static str,
    number: String,
    href: String,
    title: String,
    release_type: String,
    category: String,
    state: String,
    active: bool,
    phase: String,
    phase_due: String,
    overdue: bool,
    risk: String,
    risk_override: String,
    coordinator: String,
    manager: String,
    planned: String,
    version: i32,
    steps: Vec<Step>,
    fields: Vec<FieldView>,
    can_edit: bool,
    derived_risk: String,
    risk_reason: String,
    errors: FormErrors,
    moves: Moves,
    /// The error summary at the top of the page (empty: none), and its heading.
    problems: Vec<Problem>,
    problems_title: String,
    /// A refused transition: its id, and whether its reason was what was missing.
    chosen_transition: i64,
    reason_missing: bool,
    /// The refused transition was one of the send-back form's.
    rework_chosen: bool,
    typed_reason: String,
    conflict: Vec<HistoryView>,
    /// Schedule conflicts: blackouts and overlapping releases sharing a service.
    conflicts: Vec<String>,
    history: Vec<HistoryView>,
    task_groups: Vec<TaskGroup>,
    approvals: Vec<crate::services::approvals::ApprovalView>,
    approval_missing: bool,
    /// Where vote forms on this page come back to, and what they start with.
    return_to: String,
    comment: String,
    chosen: String,
    task_input: TaskInput,
    task_errors: FormErrors,
    people: Options,
    group_options: Options,
    phase_options: Options,
}

pub struct TaskView {
    pub id: i64,
    pub title: String,
    pub assignee: String,
    pub status: String,
    pub is_open: bool,
    pub can_start: bool,
    pub can_act: bool,
    pub due: String,
    pub overdue: bool,
    pub version: i32,
}

pub struct TaskGroup {
    pub phase: String,
    pub current: bool,
    pub open: usize,
    pub tasks: Vec<TaskView>,
}

struct PageData {
    loaded: Loaded,
    lessons: Vec<crate::services::knowledge::Article>,
    alerts: Vec<(String, String, chrono::DateTime<chrono::Utc>)>,
    watching: bool,
    related: Vec<crate::services::related::ChangeRow>,
    members: Vec<crate::services::related::MemberRow>,
    package: Option<crate::services::related::MemberRow>,
    parent: Option<crate::services::related::MemberRow>,
    approvals: Vec<crate::services::approvals::ApprovalView>,
    tasks: Vec<crate::models::tasks::Task>,
    people: Vec<(i64, String)>,
    my_groups: Vec<i64>,
    visits: Vec<rel::Visit>,
    history: Vec<Event>,
    names: NameBook,
    coordinators: Vec<(i64, String)>,
    managers: Vec<(i64, String)>,
    groups: Vec<(i64, String)>,
    conflict: Vec<Event>,
    conflicts: Vec<String>,
}

async fn load_page(
    pool: &DbPool,
    kind: RecordKind,
    number: i64,
    conflict_since: Option<i32>,
    viewer: crate::domain::permissions::Actor,
) -> AppResult<PageData> {
    let user_id = viewer.id;
    db::run(pool, move |conn| {
        let loaded = svc::load_kind(conn, kind, number)?;
        let r = &loaded.record.release;
        let (related, members, package, parent) = if kind == RecordKind::Release {
            (
                crate::services::related::changes_of(conn, r.id)?,
                crate::services::related::members_of(conn, r.id)?,
                crate::services::related::package_of(conn, r)?,
                None,
            )
        } else {
            (
                Vec::new(),
                Vec::new(),
                None,
                crate::services::related::release_of(conn, r)?,
            )
        };
        let id = loaded.record.release.id;
        let conflict = match conflict_since {
            Some(v) => crate::models::history::of_release(conn, id, Some(v))?,
            None => Vec::new(),
        };
        Ok(PageData {
            lessons: if kind == RecordKind::Release {
                crate::services::knowledge::for_release(
                    conn,
                    r,
                    &loaded.record.details.affected_services,
                    5,
                )?
            } else {
                Vec::new()
            },
            alerts: crate::services::monitor::open_alerts(conn, r.id)?,
            watching: crate::services::notify::watchers_of(conn, r.id)?.contains(&user_id),
            related,
            members,
            package,
            parent,
            approvals: crate::services::approvals::views_for_release(
                conn,
                &loaded.record.release,
                &loaded.workflow(),
                viewer,
            )?,
            tasks: crate::models::tasks::of_release(conn, id)?,
            people: users::active(conn)?,
            my_groups: groups::of_user(conn, user_id)?,
            visits: rel::visits(conn, id)?,
            history: crate::models::history::of_release(conn, id, None)?,
            names: svc::name_book(conn)?,
            coordinators: users::active_with_role(conn, "coordinator")?,
            managers: users::active_with_role(conn, "manager")?,
            groups: groups::all(conn)?
                .into_iter()
                .map(|g| (g.id, g.name))
                .collect(),
            conflicts: if kind == RecordKind::Release {
                crate::services::conflicts::warnings(conn, id)?
            } else {
                Vec::new()
            },
            loaded,
            conflict,
        })
    })
    .await
}

fn history_views(events: &[Event], loaded: &Loaded) -> Vec<HistoryView> {
    history_views_of(events, &loaded.workflow())
}

/// History events as pages show them (the release page and its printed report).
pub(crate) fn history_views_of(
    events: &[Event],
    wf: &crate::domain::workflow::Workflow,
) -> Vec<HistoryView> {
    events
        .iter()
        .map(|e| HistoryView {
            at: views::datetime(&e.at),
            actor: e.actor.clone().unwrap_or_else(|| "System".into()),
            summary: e.summary.clone(),
            from_to: match (e.from_phase_id, e.to_phase_id) {
                (Some(a), Some(b)) => format!("{} → {}", wf.phase_name(a), wf.phase_name(b)),
                (Some(a), None) => format!("{} → (ended)", wf.phase_name(a)),
                (None, Some(b)) => format!("→ {}", wf.phase_name(b)),
                (None, None) => String::new(),
            },
            reason: e.reason.clone().unwrap_or_default(),
            changes: e.changes.clone(),
        })
        .collect()
}

/// The phase progress bar: every phase in order, what happened in each.
fn steps(loaded: &Loaded, visits: &[rel::Visit]) -> Vec<Step> {
    let r = &loaded.record.release;
    let fit = r.fit();
    let mut phases: Vec<_> = loaded
        .workflow()
        .phases
        .iter()
        .filter(|p| !p.retired || p.id == r.phase_id)
        .collect();
    phases.sort_by_key(|p| p.position);
    phases
        .iter()
        .map(|p| {
            let last = visits.iter().rev().find(|v| v.phase_id == p.id);
            let (status, text) = match last {
                Some(v) if v.status == "current" && r.state == RecordState::Active.as_str() => {
                    ("current", "current phase".to_string())
                }
                Some(v) if v.status == "current" => ("done", "where it ended".to_string()),
                Some(v) if v.status == "skipped" => {
                    ("skipped", "skipped: does not apply".to_string())
                }
                Some(v) => (
                    "done",
                    format!(
                        "left {}",
                        v.left_at
                            .as_ref()
                            .map(|t| t.format("%Y-%m-%d").to_string())
                            .unwrap_or_default()
                    ),
                ),
                None if p.retired => ("retired", "retired".to_string()),
                None if !p.applies(&fit) => ("skipped", "does not apply".to_string()),
                None => ("upcoming", "not reached".to_string()),
            };
            Step {
                name: p.name.clone(),
                status,
                status_text: text,
            }
        })
        .collect()
}

/// `conflict`: the input is shown again because someone else saved first, so each field
/// whose saved value differs says what it holds now; after a plain validation error the
/// saved values are the user's own and are not repeated.
fn field_views(
    d: &PageData,
    input: Option<&HashMap<String, String>>,
    errors: &FormErrors,
    conflict: bool,
) -> Vec<FieldView> {
    let l = &d.loaded;
    let active = l.state() == RecordState::Active;
    crate::domain::fields::fields_for(l.kind())
        .iter()
        .filter_map(|f| {
            let rule = l.current_rule(f.key);
            if !rule.visible() {
                return None;
            }
            let current = l.record.raw(f.key);
            let value = input
                .and_then(|i| i.get(f.key).cloned())
                .unwrap_or_else(|| current.clone());
            let (widget, options): (&'static str, Options) = match f.kind {
                FieldKind::Line => ("line", vec![]),
                FieldKind::Text => ("text", vec![]),
                FieldKind::DateTime => ("datetime", vec![]),
                FieldKind::Reason => (
                    "select",
                    REASONS
                        .iter()
                        .map(|(k, l)| (k.to_string(), l.to_string()))
                        .collect(),
                ),
                FieldKind::Level => ("select", level_options()),
                FieldKind::Risk => ("select", risk_options()),
                FieldKind::User => {
                    let pool = if f.key == "manager" {
                        &d.managers
                    } else {
                        &d.coordinators
                    };
                    let mut o: Options = vec![(String::new(), "(nobody)".into())];
                    o.extend(pool.iter().map(|(id, n)| (id.to_string(), n.clone())));
                    if !current.is_empty() && !o.iter().any(|(k, _)| *k == current) {
                        o.push((current.clone(), l.record.display(f.key, &d.names)));
                    }
                    ("select", o)
                }
                FieldKind::Group => {
                    let mut o: Options = vec![(String::new(), "(none)".into())];
                    o.extend(d.groups.iter().map(|(id, n)| (id.to_string(), n.clone())));
                    ("select", o)
                }
            };
            let now = match input {
                Some(i) if conflict && i.get(f.key).is_some_and(|v| *v != current) => {
                    let shown = l.record.display(f.key, &d.names);
                    if shown.is_empty() {
                        "(empty)".to_string()
                    } else {
                        shown
                    }
                }
                _ => String::new(),
            };
            Some(FieldView {
                key: f.key,
                label: f.label,
                widget,
                editable: active && rule.editable(),
                required: rule == Rule::Required,
                entry: rule == Rule::Entry,
                display: l.record.display(f.key, &d.names),
                value,
                options,
                error: errors.get(f.key).to_string(),
                now,
            })
        })
        .collect()
}

struct Extras<'a> {
    input: Option<&'a HashMap<String, String>>,
    /// The input comes back from a conflict (someone else saved first).
    conflict: bool,
    relation_error: String,
    relation_target: &'static str,
    task_input: Option<TaskInput>,
    task_errors: FormErrors,
    errors: FormErrors,
    transition_errors: Vec<String>,
    chosen_transition: i64,
    reason_missing: bool,
    typed_reason: String,
}

fn release_page(user: &CurrentUser, mut d: PageData, x: Extras) -> ReleasePage {
    let l = &d.loaded;
    let r = &l.record.release;
    let actor = user.actor();
    let situation = l.situation(actor);
    let ended = l.state() != RecordState::Active;
    let mut transitions: Vec<TransitionView> = l
        .workflow()
        .transitions_from(r.phase_id)
        .filter(|_| !ended)
        .map(|t| {
            let blockers = workflow::blockers(&l.workflow(), t, &situation);
            let landing = l.workflow().landing(t, &situation.fit());
            let note = match &landing {
                Some((landing, skipped)) if !skipped.is_empty() => format!(
                    "Goes to {}: {} does not apply to this release and is skipped.",
                    l.workflow().phase_name(*landing),
                    skipped
                        .iter()
                        .map(|s| l.workflow().phase_name(*s))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => String::new(),
            };
            // An advance into a phase that does not apply is named for where it really goes.
            let label = match &landing {
                Some((to, skipped)) if t.kind == TransitionKind::Advance && !skipped.is_empty() => {
                    format!(
                        "Advance to {} ({} does not apply)",
                        l.workflow().phase_name(*to),
                        skipped
                            .iter()
                            .map(|s| l.workflow().phase_name(*s))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
                _ => t.label.clone(),
            };
            TransitionView {
                id: t.id,
                label,
                kind: t.kind.as_str(),
                to_phase: t
                    .to
                    .map(|p| l.workflow().phase_name(p).to_string())
                    .unwrap_or_default(),
                reason_required: t.reason_required,
                blockers: blockers.iter().map(|b| b.to_string()).collect(),
                note,
            }
        })
        .collect();
    // Forward moves first, then rework, then the ones that end the release.
    let order = |k: &str| match k {
        "advance" => 0,
        "close" => 1,
        "back_out" => 2,
        "rework" => 3,
        _ => 4,
    };
    transitions.sort_by_key(|t| order(t.kind));
    let moves = Moves::of(transitions);
    let kind = l.kind();
    let href = paths::record(kind.as_str(), r.number);
    // One summary at the top of the page, whichever form was refused.
    let (problems_title, problems): (String, Vec<Problem>) = if !x.errors.is_empty() {
        (
            "Your changes were not saved".into(),
            x.errors
                .0
                .iter()
                .map(|(f, m)| Problem {
                    target: format!("f-{f}"),
                    message: m.clone(),
                })
                .collect(),
        )
    } else if !x.task_errors.is_empty() {
        (
            "The task was not added".into(),
            x.task_errors
                .0
                .iter()
                .map(|(f, m)| Problem {
                    target: format!("t-{f}"),
                    message: m.clone(),
                })
                .collect(),
        )
    } else if !x.relation_error.is_empty() {
        (
            "Nothing was changed".into(),
            vec![Problem {
                target: x.relation_target.to_string(),
                message: x.relation_error.clone(),
            }],
        )
    } else if !x.transition_errors.is_empty() {
        let target = moves.target(x.chosen_transition, x.reason_missing);
        (
            format!("The {} was not moved", kind.as_str()),
            x.transition_errors
                .iter()
                .map(|m| Problem {
                    target: target.clone(),
                    message: m.clone(),
                })
                .collect(),
        )
    } else {
        (String::new(), Vec::new())
    };
    let (i, u) = (situation.impact, situation.urgency);
    let active = l.state() == RecordState::Active;
    let due = r.phase_due_at;
    let approvals = std::mem::take(&mut d.approvals);
    ReleasePage {
        lessons: d
            .lessons
            .iter()
            .map(|a| (a.title.clone(), format!("/knowledge/{}", a.id), format!("{}{}", a.category, a.release.as_ref().map(|(n, _)| format!(", from {n}")).unwrap_or_default())))
            .collect(),
        can_publish: kind == RecordKind::Release
            && crate::services::knowledge::publish_refusal(actor, r, &l.record.details.evaluation).is_none(),
        alerts: d.alerts.iter().map(|(_, detail, at)| (detail.clone(), views::datetime(at))).collect(),
        watching: d.watching,
        kind: kind.as_str(),
        related: std::mem::take(&mut d.related),
        members: std::mem::take(&mut d.members),
        package: d.package.take(),
        parent: d.parent.take(),
        relation_error: x.relation_error.clone(),
        relation_target: x.relation_target,
        approvals,
        return_to: format!("{}#approvals", paths::record(kind.as_str(), r.number)),
        comment: String::new(),
        chosen: String::new(),
        ctx: user.ctx(),
        number: paths::record_number(kind.as_str(), r.number),
        href,
        title: r.title.clone(),
        release_type: kind.type_label(&r.release_type).to_string(),
        category: l.category.name.clone(),
        state: l.state().label().to_string(),
        active,
        phase: l.workflow().phase_name(r.phase_id).to_string(),
        phase_due: if active { views::opt_datetime(&due) } else { String::new() },
        overdue: active && due.is_some_and(|d| d < chrono::Utc::now()),
        risk: r.risk.parse::<Risk>().map(|x| x.label().to_string()).unwrap_or_default(),
        risk_override: r.risk_override_reason.clone().unwrap_or_default(),
        coordinator: r.coordinator_id.map(|id| d.names.user(id)).unwrap_or_else(|| "nobody yet".into()),
        manager: r.manager_id.map(|id| d.names.user(id)).unwrap_or_else(|| "nobody yet".into()),
        planned: format!("{} to {}", views::opt_datetime(&r.planned_start), views::opt_datetime(&r.planned_end)),
        version: r.version,
        steps: steps(l, &d.visits),
        fields: field_views(&d, x.input, &x.errors, x.conflict),
        can_edit: active && permissions::can_work(actor, l.parties()),
        derived_risk: risk::derive(i, u).label().to_string(),
        risk_reason: x.input.and_then(|i| i.get("risk_reason").cloned()).unwrap_or_else(|| r.risk_override_reason.clone().unwrap_or_default()),
        errors: x.errors,
        rework_chosen: moves.rework.iter().any(|t| t.id == x.chosen_transition),
        moves,
        problems,
        problems_title,
        chosen_transition: x.chosen_transition,
        reason_missing: x.reason_missing,
        typed_reason: x.typed_reason,
        conflict: history_views(&d.conflict, l),
        conflicts: d.conflicts.clone(),
        history: history_views(&d.history, l).into_iter().rev().collect(),
        task_groups: task_groups(&d, actor),
        approval_missing: active
            && l.gates.iter().any(|g| matches!(g, workflow::Gate::Approval { status, .. } if status == "not requested yet")),
        task_input: x.task_input.unwrap_or_else(|| TaskInput {
            phase: r.phase_id.to_string(),
            submission_key: submissions::new_key(),
            ..Default::default()
        }),
        task_errors: x.task_errors,
        people: d.people.iter().map(|(i, n)| (i.to_string(), n.clone())).collect(),
        group_options: d.groups.iter().map(|(i, n)| (i.to_string(), n.clone())).collect(),
        phase_options: {
            let mut ps: Vec<_> = l.workflow().phases.iter().filter(|p| !p.retired).collect();
            ps.sort_by_key(|p| p.position);
            ps.iter().map(|p| (p.id.to_string(), p.name.clone())).collect()
        },
    }
}

/// Tasks grouped by phase: the current phase's first, then in workflow order.
fn task_groups(d: &PageData, actor: crate::domain::permissions::Actor) -> Vec<TaskGroup> {
    let l = &d.loaded;
    let r = &l.record.release;
    let active = l.state() == RecordState::Active;
    let now = chrono::Utc::now();
    let mut phases: Vec<_> = l.workflow().phases.iter().collect();
    phases.sort_by_key(|p| (p.id != r.phase_id, p.position));
    phases
        .iter()
        .filter_map(|p| {
            let tasks: Vec<TaskView> = d
                .tasks
                .iter()
                .filter(|t| t.phase_id == p.id)
                .map(|t| {
                    let in_group = t.group_id.is_some_and(|g| d.my_groups.contains(&g));
                    let who = match (t.assignee_id, t.group_id) {
                        (Some(u), _) => d.names.user(u),
                        (None, Some(g)) => format!("{} (group)", d.names.group(g)),
                        _ => "nobody".into(),
                    };
                    TaskView {
                        id: t.id,
                        title: t.title.clone(),
                        assignee: who,
                        status: super::tasks::status_text(t),
                        is_open: t.is_open(),
                        can_start: t.status == "open",
                        can_act: active
                            && permissions::can_work_task(
                                actor,
                                l.parties(),
                                t.assignee_id,
                                in_group,
                            ),
                        due: if t.due_at.is_some() {
                            views::opt_datetime(&t.due_at)
                        } else {
                            "set when the phase starts".into()
                        },
                        overdue: t.is_overdue(now),
                        version: t.version,
                    }
                })
                .collect();
            (!tasks.is_empty()).then(|| TaskGroup {
                phase: p.name.clone(),
                current: p.id == r.phase_id && active,
                open: tasks.iter().filter(|t| t.is_open).count(),
                tasks,
            })
        })
        .collect()
}

/// The release page again, with the add-task form's messages (422).
pub async fn render_with_task_errors(
    user: &CurrentUser,
    pool: &DbPool,
    kind: RecordKind,
    number: i64,
    input: TaskInput,
    errors: FormErrors,
) -> AppResult<HttpResponse> {
    let d = load_page(pool, kind, number, None, user.actor()).await?;
    invalid(&release_page(
        user,
        d,
        Extras {
            task_input: Some(input),
            task_errors: errors,
            ..no_extras()
        },
    ))
}

/// The release page again, with the related-records form's message (422) linking to
/// `target` (the id of the field it is about).
pub async fn render_with_relation_error(
    user: &CurrentUser,
    pool: &DbPool,
    number: i64,
    why: String,
    target: &'static str,
) -> AppResult<HttpResponse> {
    let d = load_page(pool, RecordKind::Release, number, None, user.actor()).await?;
    invalid(&release_page(
        user,
        d,
        Extras {
            relation_error: why,
            relation_target: target,
            ..no_extras()
        },
    ))
}

fn no_extras<'a>() -> Extras<'a> {
    Extras {
        input: None,
        conflict: false,
        relation_error: String::new(),
        relation_target: "related-title",
        task_input: None,
        task_errors: FormErrors::default(),
        errors: FormErrors::default(),
        transition_errors: vec![],
        chosen_transition: 0,
        reason_missing: false,
        typed_reason: String::new(),
    }
}

/// GET /releases/{number}
#[get("/releases/{number}")]
async fn show(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    show_kind(user, pool, RecordKind::Release, path.into_inner()).await
}

pub(crate) async fn show_kind(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    kind: RecordKind,
    path: String,
) -> AppResult<HttpResponse> {
    let number = parse_kind_number(kind, &path)?;
    let slot = match kept_page::lookup(&user).await {
        Ok(kept) => return Ok(kept),
        Err(slot) => slot,
    };
    let d = load_page(&pool, kind, number, None, user.actor()).await?;
    kept_page::page(slot, &release_page(&user, d, no_extras()))
}

/// POST /releases/{number}: save the current phase's screen.
#[post("/releases/{number}")]
async fn save(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
    form: Form<HashMap<String, String>>,
) -> AppResult<HttpResponse> {
    save_kind(
        user,
        pool,
        RecordKind::Release,
        path.into_inner(),
        form.into_inner(),
    )
    .await
}

pub(crate) async fn save_kind(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    kind: RecordKind,
    path: String,
    values: HashMap<String, String>,
) -> AppResult<HttpResponse> {
    let number = parse_kind_number(kind, &path)?;
    let mut values = values;
    values.remove("csrf_token");
    let version: i32 = values
        .remove("version")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            AppError::BadRequest(
                "The form has no version: reload the release and try again.".into(),
            )
        })?;
    let (actor, v2) = (user.actor(), values.clone());
    let outcome = db::run(&pool, move |conn| {
        svc::save_screen_kind(conn, kind, actor, number, version, &v2)
    })
    .await?;
    match outcome {
        SaveOutcome::Saved { changed } => {
            user.flash(
                "success",
                if changed == 0 {
                    "Nothing had changed.".to_string()
                } else {
                    format!(
                        "Saved {changed} change{}.",
                        if changed == 1 { "" } else { "s" }
                    )
                },
            );
            Ok(see_other(paths::record(kind.as_str(), number)))
        }
        SaveOutcome::Invalid(errors) => {
            let d = load_page(&pool, kind, number, None, user.actor()).await?;
            invalid(&release_page(
                &user,
                d,
                Extras {
                    input: Some(&values),
                    errors,
                    ..no_extras()
                },
            ))
        }
        SaveOutcome::Conflict(_) => {
            let d = load_page(&pool, kind, number, Some(version), user.actor()).await?;
            let p = release_page(
                &user,
                d,
                Extras {
                    input: Some(&values),
                    conflict: true,
                    ..no_extras()
                },
            );
            Ok(HttpResponse::Conflict()
                .content_type("text/html; charset=utf-8")
                .body(p.render()?))
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct TransitionForm {
    transition: i64,
    version: i32,
    #[serde(default)]
    reason: String,
}

/// POST /releases/{number}/transitions
#[post("/releases/{number}/transitions")]
async fn transition(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
    form: Form<TransitionForm>,
) -> AppResult<HttpResponse> {
    transition_kind(
        user,
        pool,
        RecordKind::Release,
        path.into_inner(),
        form.into_inner(),
    )
    .await
}

pub(crate) async fn transition_kind(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    kind: RecordKind,
    path: String,
    f: TransitionForm,
) -> AppResult<HttpResponse> {
    let number = parse_kind_number(kind, &path)?;
    if f.reason.chars().count() > 2000 {
        return Err(AppError::BadRequest(
            "The reason must be at most 2,000 characters.".into(),
        ));
    }
    let (actor, reason) = (user.actor(), f.reason.clone());
    let outcome = db::run(&pool, move |conn| {
        svc::take_transition_kind(conn, kind, actor, number, f.transition, f.version, &reason)
    })
    .await?;
    let mut reason_missing = false;
    let errors = match outcome {
        TakeOutcome::Done(summary) => {
            user.flash(
                "success",
                format!(
                    "{}: {summary}.",
                    paths::record_number(kind.as_str(), number)
                ),
            );
            return Ok(see_other(paths::record(kind.as_str(), number)));
        }
        TakeOutcome::Stale => {
            user.flash("info", format!("The {} had already changed since the page was loaded, so nothing was done. Check its phase below and try again if needed.", kind.as_str()));
            return Ok(see_other(paths::record(kind.as_str(), number)));
        }
        TakeOutcome::Blocked(reasons) => reasons,
        TakeOutcome::ReasonMissing => {
            reason_missing = true;
            vec!["Give a reason: this transition requires one.".to_string()]
        }
    };
    let d = load_page(&pool, kind, number, None, user.actor()).await?;
    invalid(&release_page(
        &user,
        d,
        Extras {
            transition_errors: errors,
            chosen_transition: f.transition,
            reason_missing,
            typed_reason: f.reason,
            ..no_extras()
        },
    ))
}

impl ReleasePage {
    /// Whether a transition kind ends the release (for wording and styling).
    pub fn ends(kind: &str) -> bool {
        matches!(
            kind.parse::<TransitionKind>(),
            Ok(TransitionKind::Abandon | TransitionKind::Close)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::implied_category;

    fn cats(ids: &[&str]) -> Vec<(String, String)> {
        ids.iter()
            .map(|i| (i.to_string(), format!("Category {i}")))
            .collect()
    }

    fn facts() -> Vec<(String, String, String)> {
        [
            ("1", "major", "1"),
            ("2", "minor", "1"),
            ("3", "emergency", "2"),
        ]
        .iter()
        .map(|(m, t, c)| (m.to_string(), t.to_string(), c.to_string()))
        .collect()
    }

    #[test]
    fn the_model_decides_then_the_type_then_a_lone_category() {
        let two = cats(&["1", "2"]);
        assert_eq!(
            implied_category(&two, &facts(), "3", "minor").as_deref(),
            Some("2")
        );
        assert_eq!(
            implied_category(&two, &facts(), "", "minor").as_deref(),
            Some("1")
        );
        assert_eq!(
            implied_category(&two, &facts(), "", "emergency").as_deref(),
            Some("2")
        );
        // A type no model uses: two categories, nothing decides.
        assert_eq!(implied_category(&two, &[], "", "minor"), None);
        assert_eq!(
            implied_category(&cats(&["7"]), &[], "", "minor").as_deref(),
            Some("7")
        );
        // Models of one type in two categories: nothing decides either.
        let mixed = vec![
            ("1".to_string(), "minor".to_string(), "1".to_string()),
            ("2".to_string(), "minor".to_string(), "2".to_string()),
        ];
        assert_eq!(implied_category(&two, &mixed, "", "minor"), None);
        // A model whose category is retired (not offered) implies nothing.
        assert_eq!(
            implied_category(&cats(&["1"]), &facts(), "3", "minor"),
            None
        );
    }
}
