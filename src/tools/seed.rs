//! `relman seed`: a generated data set at scale, for load tests and the query-plan checks.
//!
//! Every release follows the out-of-box Release Management workflow through time: it is
//! registered from its type's release model some day in the last four years and spends a
//! random multiple of each phase's expected duration in it, so where it is *now* (active in a
//! phase, closed, backed out or abandoned) follows from its age. Its rows are consistent with
//! what the application would have written on that path: phase visits (Training skipped unless
//! impact and urgency are both high), tasks from the model (done in phases left, mixed in the
//! current one, open and undated ahead, cancelled in a skipped phase) plus a few ad-hoc ones,
//! the fields each phase requires filled before it was left, CAB or ECAB approvals only in
//! phases that require one (approved with their votes and log, over one to three rounds, or
//! pending in the current phase, or withdrawn on abandon), the history of every step, and two
//! related changes that run their own workflows inside the release's dates (approved before it
//! deploys, closed before it closes).
//!
//! Randomness comes from the seed and the release's index alone, so the same `--seed` gives
//! the same data (relative to the day it is generated on) whatever the batch size. Rows go in
//! with `COPY FROM STDIN`, one transaction per batch of releases.
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use diesel::pg::CopyFormat;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::domain::approval::Rule;
use crate::domain::fields::field_of;
use crate::domain::risk::{self, Level, Risk};
use crate::domain::workflow::RecordKind;
use crate::schema::{
    approval_log, approval_votes, approvals, history_events, history_field_changes, notifications,
    release_details, release_phase_visits, releases, tasks, watchers,
};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub releases: u64,
    pub seed: u64,
    /// Releases per transaction.
    pub batch: u64,
    /// Password of the generated accounts; `None`: a random one nobody knows.
    pub password: Option<String>,
    /// Let PostgreSQL check every foreign key row by row (slower); otherwise they are skipped
    /// when the database user may (a superuser).
    pub check_references: bool,
}

impl Options {
    pub fn new(releases: u64, seed: u64) -> Options {
        Options {
            releases,
            seed,
            batch: 5_000,
            password: None,
            check_references: true,
        }
    }
}

/// What was loaded.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub users: usize,
    pub releases: u64,
    pub changes: u64,
    pub tasks: u64,
    pub history: u64,
    pub approvals: u64,
    pub visits: u64,
}

/// The account the load benchmark signs in as: a release manager who also coordinates and
/// sits on the CAB (so every per-user panel has work to do).
pub const LEAD_USERNAME: &str = "rm.lead";

const SPAN_DAYS: f64 = 4.0 * 365.0;

pub type Error = String;

fn db(what: &str) -> impl Fn(diesel::result::Error) -> Error + '_ {
    move |e| format!("{what}: {e}")
}

// ---------------------------------------------------------------- random numbers

/// SplitMix64: small, fast, and the same everywhere; one stream per record.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, index: u64, stream: u64) -> Rng {
        let mut r = Rng(seed
            ^ 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(index.wrapping_add(1))
            ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn f(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.f() * n as f64) as usize % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        self.f() < p
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    /// An index chosen with these weights.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = (self.f() * f64::from(total)) as u32;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
    /// How much of its expected duration a step takes: mostly less, sometimes far more.
    fn factor(&mut self) -> f64 {
        let late = if self.chance(0.22) {
            self.f() * 1.6
        } else {
            0.0
        };
        0.35 + self.f() * 0.8 + late
    }
}

fn secs(h: f64) -> Duration {
    Duration::seconds((h * 3600.0) as i64)
}

// ---------------------------------------------------------------- the configuration it follows

#[derive(Debug, Clone)]
struct Phase {
    id: i64,
    name: String,
    hours: i64,
    emergency_hours: i64,
}

impl Phase {
    fn expected(&self, emergency: bool) -> f64 {
        (if emergency {
            self.emergency_hours
        } else {
            self.hours
        }) as f64
    }
}

#[derive(Debug, Clone)]
struct Requirement {
    group: i64,
    rule: String,
    quorum: Option<i32>,
    emergency_group: Option<i64>,
    emergency_rule: String,
}

#[derive(Debug, Clone)]
struct ModelTask {
    phase_id: i64,
    title: String,
    description: String,
    role: Option<String>,
    group_id: Option<i64>,
    offset: i32,
}

#[derive(Debug, Clone)]
struct Model {
    name: String,
    version_id: i64,
    version: i32,
    tasks: Vec<ModelTask>,
}

struct ChangeFlow {
    workflow_id: i64,
    category_id: i64,
    phases: Vec<Phase>,
}

struct World {
    anchor: DateTime<Utc>,
    rm_workflow: i64,
    /// Assess, Plan and Design, Build and Test, Training, Distribution and Rollout, Back Out, Verification.
    rm: [Phase; 7],
    release_categories: Vec<(i64, u32)>,
    /// Standard, normal, emergency.
    change_flows: [ChangeFlow; 3],
    /// Major, minor, emergency.
    models: [Option<Model>; 3],
    requirements: HashMap<i64, Requirement>,
    group_names: HashMap<i64, String>,
    /// Seeded voters of each approving group.
    voters: HashMap<i64, Vec<i64>>,
    teams: Vec<(i64, Vec<i64>)>,
    coordinators: Vec<i64>,
    managers: Vec<i64>,
    lead: i64,
    accounts: usize,
    superuser: bool,
}

const ASSESS: usize = 0;
const PLAN: usize = 1;
const BUILD: usize = 2;
const TRAINING: usize = 3;
const DISTRIBUTION: usize = 4;
const BACK_OUT: usize = 5;
const VERIFICATION: usize = 6;
const RM_PHASES: [&str; 7] = [
    "Assess",
    "Plan and Design",
    "Build and Test",
    "Training",
    "Distribution and Rollout",
    "Back Out",
    "Verification",
];

const FIRST: &[&str] = &[
    "Anna", "Ben", "Carla", "David", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kira",
    "Lars", "Maya", "Nils", "Olga", "Pavel", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Viktor",
    "Wen", "Xavier", "Yara", "Zoe", "Amir", "Bea", "Chen", "Dora",
];
const LAST: &[&str] = &[
    "Berg",
    "Costa",
    "Dahl",
    "Engel",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Quist",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ulrich",
    "Varga",
    "Weber",
    "Yilmaz",
    "Zhang",
    "Nakamura",
    "Silva",
];
const TEAMS: &[(&str, &str)] = &[
    (
        "Applications",
        "Business applications: build, test and deploy.",
    ),
    ("Infrastructure", "Servers, storage and platforms."),
    ("Network", "Networks, firewalls and load balancers."),
    ("Database", "Database administration."),
    ("Service Desk", "First-line support and user communication."),
    ("Security", "Security operations and patching."),
];
const EXTRA_CATEGORIES: &[(&str, &str)] = &[
    (
        "Application release",
        "Releases of business applications (same process as Release Management).",
    ),
    (
        "Infrastructure release",
        "Platform, network and database releases (same process as Release Management).",
    ),
];
const SERVICES: &[&str] = &[
    "Billing",
    "CRM",
    "Web shop",
    "Payroll",
    "E-mail",
    "Data warehouse",
    "Identity",
    "Intranet",
    "Mobile app",
    "Payments",
    "ERP",
    "Service desk",
    "VPN",
    "Monitoring",
    "Document store",
    "Reporting",
];
const VERBS: &[&str] = &[
    "Upgrade",
    "Roll out",
    "Patch",
    "Migrate",
    "Extend",
    "Harden",
    "Replace",
    "Decommission part of",
    "Scale",
    "Refresh",
];
const AD_HOC: &[(&str, &str)] = &[
    (
        "Update the CMDB",
        "Record the new configuration items and their relations.",
    ),
    (
        "Notify the service desk",
        "Brief first-line support on what changes for users.",
    ),
    (
        "Schedule the change window",
        "Agree the window with the service owners.",
    ),
    (
        "Prepare release notes",
        "Write what is new, what is fixed and known issues.",
    ),
    (
        "Run the performance tests",
        "Load-test the release against the agreed targets.",
    ),
    (
        "Review access rights",
        "Check the accounts and roles the release needs.",
    ),
];
const REASONS: &[&str] = &[
    "business_requirement",
    "incident_problem",
    "security",
    "regulatory",
    "other",
];

fn username(first: &str, last: &str, i: usize) -> String {
    format!("{}.{}{}", first.to_lowercase(), last.to_lowercase(), i)
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Create (or find) the accounts, groups and categories, and read the workflows and models.
fn prepare(conn: &mut PgConnection, opts: &Options) -> Result<World, Error> {
    use crate::schema::{
        categories, group_members, groups, model_tasks, phase_approvals, phases,
        release_model_versions, release_models, users, workflows,
    };
    let anchor = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let rm_workflow: i64 = workflows::table
        .filter(workflows::name.eq("Release Management"))
        .filter(workflows::record_kind.eq("release"))
        .select(workflows::id)
        .first(conn)
        .map_err(db("the Release Management workflow"))?;
    let load_phases = |conn: &mut PgConnection, wf: i64| -> Result<Vec<Phase>, Error> {
        let rows: Vec<(i64, String, i32, i32)> = phases::table
            .filter(phases::workflow_id.eq(wf))
            .filter(phases::retired.eq(false))
            .order(phases::position)
            .select((
                phases::id,
                phases::name,
                phases::duration_hours,
                phases::emergency_duration_hours,
            ))
            .load(conn)
            .map_err(db("phases"))?;
        Ok(rows
            .into_iter()
            .map(|(id, name, h, e)| Phase {
                id,
                name,
                hours: h.into(),
                emergency_hours: e.into(),
            })
            .collect())
    };
    let all = load_phases(conn, rm_workflow)?;
    let find = |name: &str| {
        all.iter().find(|p| p.name == name).cloned().ok_or_else(|| format!("the Release Management workflow has no phase {name:?}: seed needs the out-of-box workflow"))
    };
    let rm = [
        find(RM_PHASES[0])?,
        find(RM_PHASES[1])?,
        find(RM_PHASES[2])?,
        find(RM_PHASES[3])?,
        find(RM_PHASES[4])?,
        find(RM_PHASES[5])?,
        find(RM_PHASES[6])?,
    ];

    // Categories: the out-of-box one plus two more on the same workflow.
    for (name, description) in EXTRA_CATEGORIES {
        diesel::insert_into(categories::table)
            .values((
                categories::name.eq(name),
                categories::description.eq(description),
                categories::record_kind.eq("release"),
                categories::workflow_id.eq(rm_workflow),
            ))
            .on_conflict(categories::name)
            .do_nothing()
            .execute(conn)
            .map_err(db("categories"))?;
    }
    let cats: Vec<(i64, String)> = categories::table
        .filter(categories::workflow_id.eq(rm_workflow))
        .filter(categories::retired.eq(false))
        .order(categories::id)
        .select((categories::id, categories::name))
        .load(conn)
        .map_err(db("categories"))?;
    let release_categories = cats
        .iter()
        .map(|(id, name)| (*id, if name == "Release Management" { 50 } else { 25 }))
        .collect();

    let flow = |conn: &mut PgConnection, name: &str| -> Result<ChangeFlow, Error> {
        let (workflow_id, category_id): (i64, i64) = categories::table
            .inner_join(workflows::table)
            .filter(workflows::name.eq(name))
            .filter(categories::record_kind.eq("change"))
            .select((workflows::id, categories::id))
            .first(conn)
            .map_err(|e| format!("the {name} workflow and category: {e}"))?;
        Ok(ChangeFlow {
            workflow_id,
            category_id,
            phases: load_phases(conn, workflow_id)?,
        })
    };
    let change_flows = [
        flow(conn, "Standard change")?,
        flow(conn, "Normal change")?,
        flow(conn, "Emergency change")?,
    ];

    let mut models: [Option<Model>; 3] = [None, None, None];
    for (slot, name) in ["Major release", "Minor release", "Emergency fix"]
        .iter()
        .enumerate()
    {
        let v: Option<(i64, i32)> = release_model_versions::table
            .inner_join(release_models::table)
            .filter(release_models::name.eq(name))
            .order(release_model_versions::version.desc())
            .select((release_model_versions::id, release_model_versions::version))
            .first(conn)
            .optional()
            .map_err(db("release models"))?;
        if let Some((version_id, version)) = v {
            let rows: Vec<(i64, String, String, Option<String>, Option<i64>, i32)> =
                model_tasks::table
                    .filter(model_tasks::model_version_id.eq(version_id))
                    .order(model_tasks::position)
                    .select((
                        model_tasks::phase_id,
                        model_tasks::title,
                        model_tasks::description,
                        model_tasks::assignee_role,
                        model_tasks::group_id,
                        model_tasks::due_offset_hours,
                    ))
                    .load(conn)
                    .map_err(db("model tasks"))?;
            let tasks = rows
                .into_iter()
                .map(
                    |(phase_id, title, description, role, group_id, offset)| ModelTask {
                        phase_id,
                        title,
                        description,
                        role,
                        group_id,
                        offset,
                    },
                )
                .collect();
            models[slot] = Some(Model {
                name: name.to_string(),
                version_id,
                version,
                tasks,
            });
        }
    }

    let reqs: Vec<(i64, i64, String, Option<i32>, Option<i64>, String)> = phase_approvals::table
        .select((
            phase_approvals::phase_id,
            phase_approvals::group_id,
            phase_approvals::rule,
            phase_approvals::quorum_count,
            phase_approvals::emergency_group_id,
            phase_approvals::emergency_rule,
        ))
        .load(conn)
        .map_err(db("approval requirements"))?;
    let requirements = reqs
        .into_iter()
        .map(
            |(p, group, rule, quorum, emergency_group, emergency_rule)| {
                (
                    p,
                    Requirement {
                        group,
                        rule,
                        quorum,
                        emergency_group,
                        emergency_rule,
                    },
                )
            },
        )
        .collect();

    // Groups: CAB and ECAB exist out of the box; the teams are added.
    for (name, description) in TEAMS {
        diesel::insert_into(groups::table)
            .values((groups::name.eq(name), groups::description.eq(description)))
            .on_conflict(groups::name)
            .do_nothing()
            .execute(conn)
            .map_err(db("groups"))?;
    }
    let group_ids: Vec<(i64, String)> = groups::table
        .select((groups::id, groups::name))
        .load(conn)
        .map_err(db("groups"))?;
    let group = |n: &str| {
        group_ids
            .iter()
            .find(|(_, x)| x == n)
            .map(|(id, _)| *id)
            .ok_or_else(|| format!("no group {n:?}"))
    };
    let (cab, ecab) = (group("CAB")?, group("ECAB")?);

    // Accounts: about one per 2,000 releases (40 to 500), by role as in a release organisation.
    let n_users = ((opts.releases / 2_000) as usize).clamp(40, 500);
    let hash = crate::auth::password::hash(
        &opts
            .password
            .clone()
            .unwrap_or_else(crate::auth::password::random_password),
    );
    struct Account {
        username: String,
        display: String,
        roles: Vec<&'static str>,
        groups: Vec<i64>,
    }
    let mut accounts = vec![Account {
        username: LEAD_USERNAME.into(),
        display: "Robin Lead".into(),
        roles: vec!["manager", "coordinator", "approver"],
        groups: vec![cab],
    }];
    let n_managers = (n_users / 40).max(3);
    let n_coordinators = (n_users / 5).max(8);
    for i in 0..n_users {
        let (first, last) = (
            FIRST[i % FIRST.len()],
            LAST[(i / FIRST.len() + i * 7) % LAST.len()],
        );
        let team = group(TEAMS[i % TEAMS.len()].0)?;
        let (roles, groups): (Vec<&'static str>, Vec<i64>) = if i < 2 {
            // The CAB's voting members, who also sit on the ECAB (with the lead, the CAB has three).
            (vec!["approver"], vec![cab, ecab, team])
        } else if i < 2 + n_managers {
            (vec!["manager"], vec![team])
        } else if i < 2 + n_managers + n_coordinators {
            (vec!["coordinator"], vec![team])
        } else if i == n_users - 1 {
            (vec!["admin"], vec![])
        } else {
            (vec![], vec![team])
        };
        accounts.push(Account {
            username: username(first, last, i),
            display: format!("{first} {last}"),
            roles,
            groups,
        });
    }
    for a in &accounts {
        let email = format!("{}@example.org", a.username);
        diesel::insert_into(users::table)
            .values((
                users::username.eq(&a.username),
                users::display_name.eq(&a.display),
                users::email.eq(Some(email)),
                users::password_hash.eq(&hash),
                users::roles.eq(a.roles.iter().map(|r| r.to_string()).collect::<Vec<_>>()),
            ))
            .on_conflict(users::username)
            .do_nothing()
            .execute(conn)
            .map_err(db("users"))?;
    }
    let names: Vec<String> = accounts.iter().map(|a| a.username.clone()).collect();
    let ids: HashMap<String, i64> = users::table
        .filter(users::username.eq_any(&names))
        .select((users::username, users::id))
        .load::<(String, i64)>(conn)
        .map_err(db("users"))?
        .into_iter()
        .collect();
    let id_of = |a: &Account| ids[&a.username];
    for a in &accounts {
        for g in &a.groups {
            diesel::insert_into(group_members::table)
                .values((
                    group_members::group_id.eq(g),
                    group_members::user_id.eq(id_of(a)),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .map_err(db("group members"))?;
        }
    }
    let lead = id_of(&accounts[0]);
    let seeded = &accounts[1..];
    let voters_of = |g: i64| {
        seeded
            .iter()
            .filter(|a| a.roles.contains(&"approver") && a.groups.contains(&g))
            .map(id_of)
            .collect::<Vec<_>>()
    };
    let voters = HashMap::from([(cab, voters_of(cab)), (ecab, voters_of(ecab))]);
    let mut managers: Vec<i64> = seeded
        .iter()
        .filter(|a| a.roles.contains(&"manager"))
        .map(id_of)
        .collect();
    managers.push(lead);
    let coordinators = seeded
        .iter()
        .filter(|a| a.roles.contains(&"coordinator"))
        .map(id_of)
        .collect();
    let teams = TEAMS
        .iter()
        .map(|(name, _)| {
            let g = group(name).expect("team created above");
            (
                g,
                seeded
                    .iter()
                    .filter(|a| a.roles.is_empty() && a.groups.contains(&g))
                    .map(id_of)
                    .collect(),
            )
        })
        .collect();
    Ok(World {
        anchor,
        rm_workflow,
        rm,
        release_categories,
        change_flows,
        models,
        requirements,
        group_names: group_ids.into_iter().collect(),
        voters,
        teams,
        coordinators,
        managers,
        lead,
        accounts: accounts.len(),
        superuser: diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
        ))
        .get_result(conn)
        .map_err(db("role"))?,
    })
}

// ---------------------------------------------------------------- rows, as COPY text

/// One table's rows in COPY's binary format (no text to format or parse on either side).
#[derive(Default)]
struct Rows {
    buf: Vec<u8>,
    n: u64,
    /// Where the current row's field count goes, and how many fields it has so far.
    at: usize,
    fields: i16,
}

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

impl Rows {
    fn row(&mut self) -> &mut Self {
        self.n += 1;
        self.at = self.buf.len();
        self.fields = 0;
        self.buf.extend_from_slice(&[0, 0]);
        self
    }
    fn end(&mut self) {
        self.buf[self.at..self.at + 2].copy_from_slice(&self.fields.to_be_bytes());
    }
    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.fields += 1;
        self.buf
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
        self
    }
    fn s(&mut self, v: &str) -> &mut Self {
        self.field(v.as_bytes())
    }
    fn null(&mut self) -> &mut Self {
        self.fields += 1;
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }
    fn os(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.s(v),
            None => self.null(),
        }
    }
    /// A BIGINT.
    fn i(&mut self, v: i64) -> &mut Self {
        self.field(&v.to_be_bytes())
    }
    fn oi(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.i(v),
            None => self.null(),
        }
    }
    /// An INTEGER.
    fn i4(&mut self, v: i32) -> &mut Self {
        self.field(&v.to_be_bytes())
    }
    fn oi4(&mut self, v: Option<i32>) -> &mut Self {
        match v {
            Some(v) => self.i4(v),
            None => self.null(),
        }
    }
    fn b(&mut self, v: bool) -> &mut Self {
        self.field(&[u8::from(v)])
    }
    fn t(&mut self, v: DateTime<Utc>) -> &mut Self {
        self.field(&(v.timestamp_micros() - PG_EPOCH_MICROS).to_be_bytes())
    }
    fn ot(&mut self, v: Option<DateTime<Utc>>) -> &mut Self {
        match v {
            Some(v) => self.t(v),
            None => self.null(),
        }
    }
}

struct Event {
    release: i64,
    actor: Option<i64>,
    at: DateTime<Utc>,
    version: i32,
    kind: &'static str,
    summary: String,
    from: Option<i64>,
    to: Option<i64>,
    reason: Option<String>,
    changes: Vec<(String, String, String)>,
}

struct Approval {
    release: i64,
    phase: i64,
    group: i64,
    rule: String,
    quorum: Option<i32>,
    cycle: i32,
    status: &'static str,
    opened: DateTime<Utc>,
    decided: Option<DateTime<Utc>>,
    votes: Vec<(i32, i64, DateTime<Utc>)>,
    log: Vec<(i32, Option<i64>, &'static str, String, DateTime<Utc>)>,
}

/// Everything one batch writes.
#[derive(Default)]
struct Batch {
    releases: Rows,
    details: Rows,
    visits: Rows,
    tasks: Rows,
    watchers: Rows,
    notifications: Rows,
    events: Vec<Event>,
    approvals: Vec<Approval>,
    changes: u64,
}

/// A record's life so far: where it went and when.
struct Path {
    /// (phase index in the flow, entered, left); the last is the current phase of an active record.
    steps: Vec<(usize, DateTime<Utc>, Option<DateTime<Utc>>)>,
    ended: Option<(&'static str, DateTime<Utc>)>,
}

/// A record's version and history as events are added in time order.
struct Story<'b> {
    batch: &'b mut Batch,
    release: i64,
    version: i32,
    last: DateTime<Utc>,
}

impl Story<'_> {
    #[allow(clippy::too_many_arguments)]
    fn event(
        &mut self,
        actor: i64,
        at: DateTime<Utc>,
        kind: &'static str,
        summary: String,
        from: Option<i64>,
        to: Option<i64>,
        reason: Option<String>,
        changes: Vec<(String, String, String)>,
        bumps: bool,
    ) {
        if bumps {
            self.version += 1;
        }
        self.last = self.last.max(at);
        self.batch.events.push(Event {
            release: self.release,
            actor: Some(actor),
            at,
            version: self.version,
            kind,
            summary,
            from,
            to,
            reason,
            changes,
        });
    }
}

fn label(kind: RecordKind, key: &str) -> String {
    field_of(kind, key)
        .map(|f| f.label.to_string())
        .unwrap_or_else(|| key.to_string())
}

fn shown(t: DateTime<Utc>) -> String {
    crate::views::datetime(&t)
}

/// Votes, log and history of one approval over its rounds; returns when it was decided.
#[allow(clippy::too_many_arguments)]
fn approval(
    w: &World,
    rng: &mut Rng,
    story: &mut Story,
    phase_id: i64,
    emergency: bool,
    opened_by: i64,
    opened: DateTime<Utc>,
    until: DateTime<Utc>,
    outcome: &'static str,
) {
    let Some(req) = w.requirements.get(&phase_id) else {
        return;
    };
    let (group, rule, quorum) = match (emergency, req.emergency_group) {
        (true, Some(g)) => (g, req.emergency_rule.clone(), None),
        _ => (req.group, req.rule.clone(), req.quorum),
    };
    let voters = w.voters.get(&group).cloned().unwrap_or_default();
    let needed = Rule::from_parts(&rule, quorum)
        .map(|r| r.needed(voters.len()))
        .unwrap_or(1)
        .min(voters.len())
        .max(usize::from(!voters.is_empty()));
    let gname = w.group_names.get(&group).cloned().unwrap_or_default();
    let span = (until - opened).num_seconds().max(60) as f64;
    let at = |x: f64| opened + Duration::seconds((span * x) as i64);
    let rounds = match rng.weighted(&[85, 12, 3]) {
        0 => 1,
        1 => 2,
        _ => 3,
    };
    let mut a = Approval {
        release: story.release,
        phase: phase_id,
        group,
        rule,
        quorum,
        cycle: rounds,
        status: outcome,
        opened,
        decided: None,
        votes: vec![],
        log: vec![(1, Some(opened_by), "requested", String::new(), opened)],
    };
    let mut x = 0.25;
    for cycle in 1..rounds {
        if let Some(v) = voters.first().copied() {
            let (t1, t2) = (at(x), at(x + 0.05));
            a.votes.push((cycle, v, t1));
            a.log.push((cycle, Some(v), "approve", String::new(), t1));
            story.event(
                v,
                t1,
                "approval",
                format!("Approved for the {gname} approval"),
                None,
                None,
                None,
                vec![],
                false,
            );
            let why = "New information on the test results: voting again.".to_string();
            a.log.push((cycle, Some(v), "retract", why.clone(), t2));
            story.event(
                v,
                t2,
                "approval",
                format!(
                    "Retracted a decision on the {gname} approval: a new round of votes starts"
                ),
                None,
                None,
                Some(why),
                vec![],
                false,
            );
            x += 0.1;
        }
    }
    let cast = match outcome {
        "approved" => needed,
        _ if needed == 0 => 0,
        _ => rng.below(needed),
    };
    for (k, v) in voters.iter().take(cast).enumerate() {
        let t = if outcome == "approved" && k + 1 == cast {
            at(0.85)
        } else {
            at(x + (0.8 - x) * (k as f64 + 1.0) / (cast as f64 + 1.0))
        };
        a.votes.push((rounds, *v, t));
        a.log.push((rounds, Some(*v), "approve", String::new(), t));
        let mut summary = format!("Approved for the {gname} approval");
        if outcome == "approved" && k + 1 == cast {
            summary.push_str(&format!("; the {gname} approval is now approved"));
            a.log.push((rounds, None, "approved", String::new(), t));
            a.decided = Some(t);
        }
        story.event(*v, t, "approval", summary, None, None, None, vec![], false);
    }
    if outcome == "withdrawn" {
        a.decided = Some(until);
        a.log.push((
            rounds,
            Some(opened_by),
            "withdrawn",
            "The release left the phase.".into(),
            until,
        ));
    }
    story.batch.approvals.push(a);
}

/// Walk a flow's steps from `start`: each takes a random multiple of its expected duration
/// times `scale`; stops at the step running at `now`.
fn walk(
    rng: &mut Rng,
    steps: &[(usize, f64)],
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    scale: f64,
    stop_after: Option<usize>,
) -> Path {
    let mut t = start;
    let mut out = Vec::new();
    for (k, (idx, expected)) in steps.iter().enumerate() {
        let d = secs(expected * rng.factor() * scale).max(Duration::seconds(60));
        let leave = t + d;
        if leave > now {
            out.push((*idx, t, None));
            return Path {
                steps: out,
                ended: None,
            };
        }
        out.push((*idx, t, Some(leave)));
        if stop_after == Some(k) {
            return Path {
                steps: out,
                ended: Some(("abandoned", leave)),
            };
        }
        t = leave;
    }
    Path {
        steps: out,
        ended: Some(("closed_successful", t)),
    }
}

fn level(rng: &mut Rng) -> Level {
    [Level::Low, Level::Medium, Level::High][rng.weighted(&[45, 40, 15])]
}

/// One release, its tasks, approvals, history and two changes.
fn release(
    w: &World,
    seed: u64,
    g: u64,
    id: i64,
    number: i64,
    change_ids: &[(i64, i64)],
    b: &mut Batch,
) {
    let mut rng = Rng::new(seed, g, 0);
    let created = w.anchor - Duration::seconds((rng.f() * SPAN_DAYS * 86_400.0) as i64);
    let slot = rng.weighted(&[22, 70, 8]);
    let rtype = ["major", "minor", "emergency"][slot];
    let emergency = rtype == "emergency";
    let model = w.models[slot].as_ref();
    let cat_weights: Vec<u32> = w.release_categories.iter().map(|c| c.1).collect();
    let category = w.release_categories[rng.weighted(&cat_weights)].0;
    let (impact, urgency) = (level(&mut rng), level(&mut rng));
    let derived = risk::derive(impact, urgency);
    let (risk_value, override_reason) = if rng.chance(0.03) {
        let other = Risk::ALL[(derived as usize + 1) % 4];
        (
            other,
            Some("The service owner's assessment after the last incident."),
        )
    } else {
        (derived, None)
    };
    let reason = REASONS[rng.weighted(&[50, 20, 15, 8, 7])];
    let coordinator = *rng.pick(&w.coordinators);
    let manager = *rng.pick(&w.managers);
    let registered_by = if rng.chance(0.9) {
        coordinator
    } else {
        manager
    };
    let (team, members) = rng.pick(&w.teams).clone();
    let service = *rng.pick(SERVICES);
    let services = format!("{service}, {}", rng.pick(SERVICES));
    let title = format!(
        "{} {service} {}.{}",
        rng.pick(VERBS),
        1 + rng.below(9),
        rng.below(20)
    );
    let training = impact == Level::High && urgency == Level::High;
    let backs_out = rng.chance(0.04);
    let abandons = rng.chance(0.07).then(|| rng.below(3));

    // The path: Training only when it applies (else skipped on the way), Back Out when the
    // back-out plan was activated.
    let mut plan: Vec<(usize, f64)> = vec![ASSESS, PLAN, BUILD]
        .into_iter()
        .map(|i| (i, w.rm[i].expected(emergency)))
        .collect();
    if training {
        plan.push((TRAINING, w.rm[TRAINING].expected(emergency)));
    }
    plan.push((DISTRIBUTION, w.rm[DISTRIBUTION].expected(emergency)));
    if backs_out {
        plan.push((BACK_OUT, w.rm[BACK_OUT].expected(emergency)));
    }
    plan.push((VERIFICATION, w.rm[VERIFICATION].expected(emergency)));
    let mut path = walk(&mut rng, &plan, created, w.anchor, 1.0, abandons);
    if let Some(("closed_successful", _)) = path.ended {
        if backs_out {
            path.ended = path.ended.map(|(_, t)| ("closed_backed_out", t));
        }
    }
    let (cur_idx, cur_entered, _) = *path.steps.last().expect("a path has a step");
    let active = path.ended.is_none();
    let reached = |i: usize| path.steps.iter().any(|s| s.0 == i);
    let step = |i: usize| path.steps.iter().find(|s| s.0 == i).copied();

    // Planned dates: set at registration or while planning.
    let expected_to_deploy: f64 = [ASSESS, PLAN, BUILD]
        .iter()
        .map(|i| w.rm[*i].expected(emergency))
        .sum::<f64>()
        * (0.8 + rng.f() * 0.4);
    let planned_start = created + secs(expected_to_deploy);
    let planned_end = planned_start
        + secs(
            (w.rm[DISTRIBUTION].expected(emergency) + w.rm[VERIFICATION].expected(emergency))
                * (0.8 + rng.f() * 0.4),
        );
    let dated_at_registration = rng.chance(0.6);

    let mut d = crate::models::releases::ReleaseDetails {
        release_id: id,
        description: format!(
            "{} of {service}: {}.",
            title,
            [
                "new features",
                "security fixes",
                "performance work",
                "a supplier upgrade",
                "regulatory changes"
            ][rng.below(5)]
        ),
        affected_services: services.clone(),
        ..Default::default()
    };
    let mut story = Story {
        batch: b,
        release: id,
        version: 1,
        last: created,
    };
    let registered = match model {
        Some(m) => format!("Registered as a {} release in Assess from the model {} (version {}), with {} planned tasks", label_type(rtype), m.name, m.version, m.tasks.iter().filter(|t| t.phase_id != w.rm[BACK_OUT].id).count()),
        None => format!("Registered as a {} release in Assess", label_type(rtype)),
    };
    story.batch.events.push(Event {
        release: id,
        actor: Some(registered_by),
        at: created,
        version: 1,
        kind: "registered",
        summary: registered,
        from: None,
        to: Some(w.rm[ASSESS].id),
        reason: None,
        changes: vec![],
    });

    let mut planned = dated_at_registration.then_some((planned_start, planned_end));
    let (mut actual_start, mut actual_end) = (None, None);
    let fk = RecordKind::Release;
    let mut prev_phase: Option<usize> = None;
    for (k, (idx, entered, leave)) in path.steps.clone().into_iter().enumerate() {
        let phase = &w.rm[idx];
        let until = leave.unwrap_or(w.anchor);
        let span = (until - entered).num_seconds().max(60) as f64;
        let frac = |x: f64| entered + Duration::seconds((span * x) as i64);
        if let Some(p) = prev_phase {
            // The transition into this phase.
            let (kind, summary, reason) = if idx == BACK_OUT {
                (
                    "back_out",
                    "Activate back-out plan".to_string(),
                    Some("The smoke tests failed after deployment.".to_string()),
                )
            } else if p == BUILD && idx == DISTRIBUTION && !training {
                let cancelled = model
                    .map(|m| {
                        m.tasks
                            .iter()
                            .filter(|t| t.phase_id == w.rm[TRAINING].id)
                            .map(|t| t.title.clone())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                let mut s = "Advance to Training (Training skipped: it does not apply".to_string();
                if !cancelled.is_empty() {
                    s.push_str(&format!(
                        "; its tasks were cancelled: {}",
                        cancelled.join(", ")
                    ));
                }
                s.push(')');
                ("advance", s, None)
            } else {
                ("advance", format!("Advance to {}", phase.name), None)
            };
            story.event(
                coordinator,
                entered,
                kind,
                summary,
                Some(w.rm[p].id),
                Some(phase.id),
                reason,
                vec![],
                true,
            );
        }
        // Work in the phase: the fields it requires, edited early in it (votes come later).
        match idx {
            PLAN if leave.is_some() || (active && rng.chance(0.5)) => {
                let t = frac(0.15);
                let (ps, pe) = planned.unwrap_or((planned_start.max(t), planned_end.max(t)));
                d.release_plan = format!("Scope: {service} components; schedule in the planned window; resources from {}.", w.group_names.get(&team).cloned().unwrap_or_default());
                d.deployment_plan =
                    "Deploy to staging, run the smoke tests, then production in the change window."
                        .into();
                d.test_criteria =
                    "All regression tests pass; no priority 1 or 2 defects open.".into();
                d.backout_plan = "Restore the previous version from the release archive and the database snapshot.".into();
                let mut changes = vec![];
                if planned.is_none() {
                    changes.push((label(fk, "planned_start"), String::new(), shown(ps)));
                    changes.push((label(fk, "planned_end"), String::new(), shown(pe)));
                    planned = Some((ps, pe));
                }
                for key in [
                    "release_plan",
                    "deployment_plan",
                    "test_criteria",
                    "backout_plan",
                ] {
                    changes.push((label(fk, key), String::new(), raw_detail(&d, key)));
                }
                if rtype == "major" {
                    d.financial_impact =
                        "Within the approved budget; licences renewed for three years.".into();
                    changes.push((
                        label(fk, "financial_impact"),
                        String::new(),
                        d.financial_impact.clone(),
                    ));
                }
                let summary = format!(
                    "Changed {}",
                    changes
                        .iter()
                        .map(|c| c.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                story.event(
                    coordinator,
                    t,
                    "edit",
                    summary,
                    None,
                    None,
                    None,
                    changes,
                    true,
                );
            }
            BUILD if leave.is_some() || (active && rng.chance(0.4)) => {
                d.test_result = "Passed: regression and acceptance tests green.".into();
                story.event(
                    coordinator,
                    frac(0.2),
                    "edit",
                    format!("Changed {}", label(fk, "test_result")),
                    None,
                    None,
                    None,
                    vec![(
                        label(fk, "test_result"),
                        String::new(),
                        d.test_result.clone(),
                    )],
                    true,
                );
            }
            TRAINING if leave.is_some() => {
                d.training_needs = "Short briefing for the service desk and key users.".into();
                story.event(
                    coordinator,
                    frac(0.2),
                    "edit",
                    format!("Changed {}", label(fk, "training_needs")),
                    None,
                    None,
                    None,
                    vec![(
                        label(fk, "training_needs"),
                        String::new(),
                        d.training_needs.clone(),
                    )],
                    true,
                );
            }
            DISTRIBUTION if leave.is_some() || (active && rng.chance(0.6)) => {
                let t = frac(0.1);
                actual_start = Some(t);
                story.event(
                    coordinator,
                    t,
                    "edit",
                    format!("Changed {}", label(fk, "actual_start")),
                    None,
                    None,
                    None,
                    vec![(label(fk, "actual_start"), String::new(), shown(t))],
                    true,
                );
            }
            VERIFICATION if leave.is_some() || (active && rng.chance(0.3)) => {
                let t = frac(0.2);
                actual_end = Some(t.max(actual_start.unwrap_or(t)));
                d.verification =
                    "Verified in production: monitoring green, users confirmed.".into();
                d.evaluation =
                    "Delivered as planned; lessons: start the performance tests earlier.".into();
                let changes = vec![
                    (
                        label(fk, "actual_end"),
                        String::new(),
                        shown(actual_end.expect("set above")),
                    ),
                    (
                        label(fk, "verification"),
                        String::new(),
                        d.verification.clone(),
                    ),
                    (label(fk, "evaluation"), String::new(), d.evaluation.clone()),
                ];
                story.event(
                    coordinator,
                    t,
                    "edit",
                    format!(
                        "Changed {}",
                        changes
                            .iter()
                            .map(|c| c.0.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None,
                    None,
                    None,
                    changes,
                    true,
                );
            }
            _ => {}
        }
        // The approval to leave the phase, if it needs one.
        let outcome = match (leave, path.ended) {
            (Some(_), Some(("abandoned", _))) if k + 1 == path.steps.len() => "withdrawn",
            (Some(_), _) => "approved",
            (None, _) => "pending",
        };
        approval(
            w,
            &mut rng,
            &mut story,
            phase.id,
            emergency,
            coordinator,
            entered,
            until,
            outcome,
        );
        prev_phase = Some(idx);
    }
    // The transition that ended it.
    if let Some((state, at)) = path.ended {
        let last = &w.rm[cur_idx];
        let (kind, summary, reason) = match state {
            "abandoned" => (
                "abandon",
                "Abandon release".to_string(),
                Some("No longer needed: superseded by another release.".to_string()),
            ),
            "closed_backed_out" => ("close", "Close as backed out".to_string(), None),
            _ => ("close", "Close as successful".to_string(), None),
        };
        story.event(
            coordinator,
            at,
            kind,
            summary,
            Some(last.id),
            None,
            reason,
            vec![],
            true,
        );
    }
    let (version, updated) = (story.version, story.last);
    let b = story.batch;

    // Phase visits (Training skipped on the way from Build and Test when it does not apply).
    for (idx, entered, leave) in &path.steps {
        if *idx == DISTRIBUTION && !training && reached(BUILD) {
            b.visits
                .row()
                .i(id)
                .i(w.rm[TRAINING].id)
                .s("skipped")
                .t(*entered)
                .null()
                .t(*entered)
                .end();
        }
        let status = if leave.is_some() || !active {
            "left"
        } else {
            "current"
        };
        let due = *entered + secs(w.rm[*idx].expected(emergency));
        let left_at = leave.or(path.ended.map(|e| e.1).filter(|_| !active));
        b.visits
            .row()
            .i(id)
            .i(w.rm[*idx].id)
            .s(status)
            .t(*entered)
            .t(due)
            .ot(left_at)
            .end();
    }

    // Tasks: the model's plan, plus a few added by hand.
    let assignee = |role: Option<&str>| match role {
        Some("coordinator") => Some(coordinator),
        Some("manager") => Some(manager),
        _ => None,
    };
    let mut task_rows: Vec<(
        i64,
        String,
        String,
        Option<i64>,
        Option<i64>,
        Option<i32>,
        Option<DateTime<Utc>>,
        DateTime<Utc>,
    )> = Vec::new();
    if let Some(m) = model {
        for t in &m.tasks {
            if t.phase_id == w.rm[BACK_OUT].id {
                if let Some((_, e, _)) = step(BACK_OUT) {
                    task_rows.push((
                        t.phase_id,
                        t.title.clone(),
                        t.description.clone(),
                        assignee(t.role.as_deref()),
                        t.group_id.filter(|_| t.role.is_none()),
                        Some(t.offset),
                        None,
                        e,
                    ));
                }
                continue;
            }
            task_rows.push((
                t.phase_id,
                t.title.clone(),
                t.description.clone(),
                assignee(t.role.as_deref()),
                t.group_id.filter(|_| t.role.is_none()),
                Some(t.offset),
                None,
                created,
            ));
        }
    }
    for _ in 0..rng.weighted(&[30, 30, 25, 15]) {
        let (title, description) = *rng.pick(AD_HOC);
        let (pidx, e, _) = *rng.pick(&path.steps);
        let (who, group) = if !members.is_empty() && rng.chance(0.7) {
            (Some(*rng.pick(&members)), None)
        } else {
            (None, Some(team))
        };
        let at = e + Duration::hours(1);
        task_rows.push((
            w.rm[pidx].id,
            title.to_string(),
            description.to_string(),
            who,
            group,
            None,
            Some(at + Duration::days(2 + rng.below(5) as i64)),
            at,
        ));
    }
    for (phase_id, title, description, who, group, offset, fixed_due, created_at) in task_rows {
        let visit = path
            .steps
            .iter()
            .find(|s| w.rm[s.0].id == phase_id)
            .copied();
        let skipped = phase_id == w.rm[TRAINING].id && !training && reached(DISTRIBUTION);
        let due = fixed_due
            .or_else(|| visit.and_then(|(_, e, _)| offset.map(|o| e + Duration::hours(o.into()))));
        let r = b.tasks.row();
        r.i(id)
            .i(phase_id)
            .s(&title)
            .s(&description)
            .oi(who)
            .oi(group);
        match visit {
            _ if skipped => {
                let at = step(DISTRIBUTION).map(|s| s.1).unwrap_or(created_at);
                r.s("cancelled")
                    .oi4(offset)
                    .null()
                    .null()
                    .null()
                    .i4(2)
                    .t(created_at)
                    .t(at)
                    .end();
            }
            Some((_, e, Some(l))) => {
                let done_at = e + Duration::seconds(
                    ((l - e).num_seconds() as f64 * (0.2 + rng.f() * 0.75)) as i64,
                );
                let by = who.unwrap_or(coordinator);
                r.s("done")
                    .oi4(offset)
                    .ot(due)
                    .i(by)
                    .t(done_at)
                    .i4(3)
                    .t(created_at.min(done_at))
                    .t(done_at)
                    .end();
            }
            Some((_, e, None)) => {
                let stop = path.ended.map(|x| x.1).unwrap_or(w.anchor);
                match rng.weighted(&[35, 30, 35]) {
                    0 => {
                        let done_at = e + Duration::seconds(
                            ((stop - e).num_seconds().max(60) as f64 * rng.f()) as i64,
                        );
                        r.s("done")
                            .oi4(offset)
                            .ot(due)
                            .i(who.unwrap_or(coordinator))
                            .t(done_at)
                            .i4(3)
                            .t(created_at.min(done_at))
                            .t(done_at)
                            .end();
                    }
                    1 => {
                        r.s("in_progress")
                            .oi4(offset)
                            .ot(due)
                            .null()
                            .null()
                            .i4(2)
                            .t(created_at)
                            .t(e.max(created_at))
                            .end();
                    }
                    _ => {
                        r.s("open")
                            .oi4(offset)
                            .ot(due)
                            .null()
                            .null()
                            .i4(1)
                            .t(created_at)
                            .t(e.max(created_at))
                            .end();
                    }
                }
            }
            None => {
                r.s("open")
                    .oi4(offset)
                    .null()
                    .null()
                    .null()
                    .i4(1)
                    .t(created_at)
                    .t(created_at)
                    .end();
            }
        }
    }

    let (state, closed_at) = match path.ended {
        Some((s, t)) => (s, Some(t)),
        None => ("active", None),
    };
    let phase = &w.rm[cur_idx];
    let r = b.releases.row();
    r.i(id)
        .i(number)
        .s(&title)
        .s(rtype)
        .i(category)
        .i(w.rm_workflow)
        .i(phase.id)
        .s(state)
        .s(reason)
        .i(registered_by);
    r.i(coordinator)
        .i(manager)
        .i(team)
        .s(impact.as_str())
        .s(urgency.as_str())
        .s(risk_value.as_str())
        .os(override_reason);
    r.ot(planned.map(|p| p.0))
        .ot(planned.map(|p| p.1))
        .ot(actual_start)
        .ot(actual_end);
    r.t(cur_entered)
        .ot(active.then(|| cur_entered + secs(phase.expected(emergency))))
        .b(state == "closed_backed_out" || (backs_out && reached(BACK_OUT)));
    r.i4(version)
        .ot(closed_at)
        .t(created)
        .t(updated)
        .oi(model.map(|m| m.version_id))
        .s("release")
        .null()
        .null()
        .end();
    detail_row(&mut b.details, &d);

    if rng.chance(0.05) && !members.is_empty() {
        b.watchers
            .row()
            .i(id)
            .i(*rng.pick(&members))
            .t(created)
            .end();
    }
    // Recent news: the coordinator heard of the current phase; the CAB of approvals requested.
    if active && w.anchor - cur_entered < Duration::days(14) {
        let link = crate::paths::release(number);
        let subject = format!(
            "{} {title}: entered {}",
            crate::paths::release_number(number),
            phase.name
        );
        b.notifications
            .row()
            .i(coordinator)
            .i(id)
            .s("phase_entered")
            .s(&subject)
            .s("")
            .s(&link)
            .ot(rng.chance(0.5).then_some(cur_entered + Duration::hours(2)))
            .t(cur_entered)
            .end();
        if let Some(req) = w.requirements.get(&phase.id) {
            let group = if emergency {
                req.emergency_group.unwrap_or(req.group)
            } else {
                req.group
            };
            let subject = format!(
                "{} {title}: your approval is requested",
                crate::paths::release_number(number)
            );
            let mut to = w.voters.get(&group).cloned().unwrap_or_default();
            if group == req.group && manager != w.lead {
                to.push(w.lead);
            }
            for u in to {
                b.notifications
                    .row()
                    .i(u)
                    .i(id)
                    .s("approval_requested")
                    .s(&subject)
                    .s("")
                    .s(&link)
                    .ot(rng.chance(0.6).then_some(cur_entered + Duration::hours(3)))
                    .t(cur_entered)
                    .end();
            }
        }
    }

    // Two related changes, inside the release's dates.
    let deploy = step(DISTRIBUTION).map(|s| s.1);
    for (k, (cid, cnumber)) in change_ids.iter().enumerate() {
        change(
            w,
            &mut Rng::new(seed, g, 1 + k as u64),
            *cid,
            *cnumber,
            id,
            created,
            coordinator,
            emergency,
            deploy,
            path.ended,
            &services,
            b,
        );
    }
}

fn label_type(t: &str) -> &'static str {
    RecordKind::Release.type_label(t)
}

fn raw_detail(d: &crate::models::releases::ReleaseDetails, key: &str) -> String {
    match key {
        "release_plan" => d.release_plan.clone(),
        "deployment_plan" => d.deployment_plan.clone(),
        "test_criteria" => d.test_criteria.clone(),
        "backout_plan" => d.backout_plan.clone(),
        _ => String::new(),
    }
}

fn detail_row(rows: &mut Rows, d: &crate::models::releases::ReleaseDetails) {
    rows.row()
        .i(d.release_id)
        .s(&d.description)
        .s(&d.affected_services)
        .s(&d.release_plan)
        .s(&d.deployment_plan)
        .s(&d.test_criteria)
        .s(&d.test_result)
        .s(&d.backout_plan)
        .s(&d.training_needs)
        .s(&d.financial_impact)
        .s(&d.verification)
        .s(&d.evaluation)
        .end();
}

/// A change of the release: approved before the release deploys, closed before it closes,
/// abandoned with it when still before Implement.
#[allow(clippy::too_many_arguments)]
fn change(
    w: &World,
    rng: &mut Rng,
    id: i64,
    number: i64,
    release_id: i64,
    release_created: DateTime<Utc>,
    coordinator: i64,
    emergency_release: bool,
    deploy: Option<DateTime<Utc>>,
    ended: Option<(&'static str, DateTime<Utc>)>,
    services: &str,
    b: &mut Batch,
) {
    let slot = if emergency_release {
        2
    } else {
        rng.weighted(&[50, 45, 5])
    };
    let flow = &w.change_flows[slot];
    let ctype = ["standard", "normal", "emergency"][slot];
    let emergency = ctype == "emergency";
    let created = release_created + Duration::minutes(5 + rng.below(120) as i64);
    let steps: Vec<(usize, f64)> = flow
        .phases
        .iter()
        .enumerate()
        .map(|(i, p)| (i, p.expected(emergency)))
        .collect();
    let implement = flow
        .phases
        .iter()
        .position(|p| p.name == "Implement")
        .unwrap_or(flow.phases.len());
    // Fit the natural durations into the release's dates.
    let natural_total: f64 = steps.iter().map(|s| s.1).sum::<f64>() * 1.2;
    let before_implement: f64 = steps.iter().take(implement).map(|s| s.1).sum::<f64>() * 1.2;
    let mut scale: f64 = 1.0;
    if let Some((state, at)) = ended.filter(|e| e.0 != "abandoned") {
        let _ = state;
        let room = (at - created).num_seconds() as f64 / 3600.0 * 0.9;
        scale = scale.min(room / (natural_total * 2.8));
    }
    if let Some(d) = deploy {
        let room = (d - created).num_seconds() as f64 / 3600.0 * 0.9;
        scale = scale.min(room / (before_implement * 2.8).max(0.01));
    }
    let scale = scale.max(0.0001);
    let mut path = walk(rng, &steps, created, w.anchor, scale, None);
    // The release was abandoned: so is the change, if it had not reached Implement.
    if let Some(("abandoned", at)) = ended {
        let pos = path.steps.iter().position(|s| s.2.is_none_or(|l| l > at));
        if let Some(p) = pos {
            if path.steps[p].0 < implement && path.steps[p].1 < at {
                path.steps.truncate(p + 1);
                path.steps[p].2 = Some(at);
                path.ended = Some(("abandoned", at));
            }
        }
    }
    let active = path.ended.is_none();
    let impact = level(rng);
    let urgency = level(rng);
    let service = services.split(", ").next().unwrap_or("Billing");
    let title = format!(
        "{} change for {service}: {}",
        [
            "Configuration",
            "Firewall",
            "Schema",
            "Certificate",
            "Capacity"
        ][rng.below(5)],
        ["apply", "update", "extend", "renew"][rng.below(4)]
    );
    let ps = created + Duration::days(1);
    let pe = ps + Duration::hours(4);
    let mut story = Story {
        batch: b,
        release: id,
        version: 1,
        last: created,
    };
    story.batch.events.push(Event {
        release: id,
        actor: Some(coordinator),
        at: created,
        version: 1,
        kind: "registered",
        summary: format!(
            "Registered as a {} change in {}",
            RecordKind::Change.type_label(ctype),
            flow.phases[0].name
        ),
        from: None,
        to: Some(flow.phases[0].id),
        reason: None,
        changes: vec![],
    });
    let mut prev: Option<usize> = None;
    for (k, (idx, entered, leave)) in path.steps.clone().into_iter().enumerate() {
        let phase = &flow.phases[idx];
        if let Some(p) = prev {
            story.event(
                coordinator,
                entered,
                "advance",
                format!("Advance to {}", phase.name),
                Some(flow.phases[p].id),
                Some(phase.id),
                None,
                vec![],
                true,
            );
        }
        let outcome = match (leave, path.ended) {
            (Some(_), Some(("abandoned", _))) if k + 1 == path.steps.len() => "withdrawn",
            (Some(_), _) => "approved",
            (None, _) => "pending",
        };
        approval(
            w,
            rng,
            &mut story,
            phase.id,
            emergency,
            coordinator,
            entered,
            leave.unwrap_or(w.anchor),
            outcome,
        );
        prev = Some(idx);
    }
    let (cur, cur_entered, _) = *path.steps.last().expect("a step");
    if let Some((state, at)) = path.ended {
        let (kind, summary, reason) = if state == "abandoned" {
            (
                "abandon",
                "Abandon change",
                Some("The release it belongs to was abandoned.".to_string()),
            )
        } else {
            ("close", "Close change", None)
        };
        story.event(
            coordinator,
            at,
            kind,
            summary.into(),
            Some(flow.phases[cur].id),
            None,
            reason,
            vec![],
            true,
        );
    }
    let (version, updated) = (story.version, story.last);
    let b = story.batch;
    for (idx, entered, leave) in &path.steps {
        let status = if leave.is_some() || !active {
            "left"
        } else {
            "current"
        };
        b.visits
            .row()
            .i(id)
            .i(flow.phases[*idx].id)
            .s(status)
            .t(*entered)
            .t(*entered + secs(flow.phases[*idx].expected(emergency)))
            .ot(leave.or(path.ended.map(|e| e.1)))
            .end();
    }
    let (state, closed_at) = match path.ended {
        Some((s, t)) => (s, Some(t)),
        None => ("active", None),
    };
    let phase = &flow.phases[cur];
    let risk_value = risk::derive(impact, urgency);
    let r = b.releases.row();
    r.i(id)
        .i(number)
        .s(&title)
        .s(ctype)
        .i(flow.category_id)
        .i(flow.workflow_id)
        .i(phase.id)
        .s(state)
        .s("other")
        .i(coordinator);
    r.i(coordinator)
        .null()
        .null()
        .s(impact.as_str())
        .s(urgency.as_str())
        .s(risk_value.as_str())
        .null();
    r.t(ps).t(pe).null().null();
    r.t(cur_entered)
        .ot(active.then(|| cur_entered + secs(phase.expected(emergency))))
        .b(false);
    r.i4(version)
        .ot(closed_at)
        .t(created)
        .t(updated)
        .null()
        .s("change")
        .i(release_id)
        .null()
        .end();
    let d = crate::models::releases::ReleaseDetails {
        release_id: id,
        description: format!("{title}, as part of the release."),
        affected_services: service.to_string(),
        deployment_plan: "Apply in the release's change window; verify with the service owner."
            .into(),
        backout_plan: "Revert the configuration from the saved copy.".into(),
        evaluation: if state == "closed_successful" {
            "Implemented as planned.".into()
        } else {
            String::new()
        },
        ..Default::default()
    };
    detail_row(&mut b.details, &d);
    b.changes += 1;
}

// ---------------------------------------------------------------- loading

/// `n` consecutive values of a sequence: one `nextval` moved on by `n - 1`, under a lock on
/// the table the sequence numbers, so the application (whose inserts take that table's lock
/// before drawing their value) cannot draw one in between.
fn reserve(
    conn: &mut PgConnection,
    table: &str,
    sequence: &str,
    n: usize,
) -> QueryResult<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let first = conn.transaction(|conn| {
        diesel::sql_query(format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
            .execute(conn)?;
        diesel::sql_query(format!(
            "SELECT setval('{sequence}', nextval('{sequence}') + $1 - 1) - $1 + 1 AS id"
        ))
        .bind::<BigInt, _>(n as i64)
        .get_result::<IdRow>(conn)
    })?;
    Ok((first.id..first.id + n as i64).collect())
}

macro_rules! copy_in {
    ($conn:expr, $table:expr, $cols:expr, $rows:expr) => {{
        let data = &$rows.buf;
        if !data.is_empty() {
            diesel::copy_from($table)
                .from_raw_data($cols, |w: &mut dyn std::io::Write| {
                    // Signature, flags, header extension; the rows; the trailer.
                    w.write_all(b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0")
                        .and_then(|()| w.write_all(data))
                        .and_then(|()| w.write_all(&(-1i16).to_be_bytes()))
                        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
                })
                .with_format(CopyFormat::Binary)
                .execute($conn)?;
        }
    }};
}

/// One batch, generated and serialised, ready to copy in.
struct Ready {
    releases: u64,
    changes: u64,
    tables: Vec<(&'static str, Rows)>,
}

/// Reserve the batch's ids and numbers and generate its rows (no transaction needed:
/// sequences hand out each value once).
fn generate_batch(
    conn: &mut PgConnection,
    w: &World,
    opts: &Options,
    from: u64,
    n: u64,
) -> QueryResult<Ready> {
    // Changes draw their numbers from `change_number_seq` before inserting (outside any
    // lock): a registration racing a seed may, rarely, be told to try again.
    let reserve_pairs =
        |conn: &mut PgConnection, number_seq: &str, k: usize| -> QueryResult<Vec<(i64, i64)>> {
            let ids = reserve(conn, "releases", "releases_id_seq", k)?;
            let numbers = reserve(conn, "releases", number_seq, k)?;
            Ok(ids.into_iter().zip(numbers).collect())
        };
    let n_us = n as usize;
    let rel_ids = reserve_pairs(conn, "release_number_seq", n_us)?;
    let change_ids = reserve_pairs(conn, "change_number_seq", 2 * n_us)?;
    let mut b = Batch::default();
    for (k, (id, number)) in rel_ids.iter().enumerate() {
        release(
            w,
            opts.seed,
            from + k as u64,
            *id,
            *number,
            &change_ids[2 * k..2 * k + 2],
            &mut b,
        );
    }
    let event_ids = reserve(
        conn,
        "history_events",
        "history_events_id_seq",
        b.events.len(),
    )?;
    let approval_ids = reserve(conn, "approvals", "approvals_id_seq", b.approvals.len())?;
    let (mut ev, mut fc) = (Rows::default(), Rows::default());
    // Each record's events are in time order: chain their hashes as `history::record` does.
    let mut last_hash: HashMap<i64, String> = HashMap::new();
    for (e, eid) in b.events.iter().zip(&event_ids) {
        let prev = last_hash.get(&e.release).cloned().unwrap_or_default();
        let hash = crate::domain::chain::hash(
            &prev,
            &crate::domain::chain::EventContent {
                release_id: e.release,
                actor_id: e.actor,
                at: e.at,
                record_version: e.version,
                kind: e.kind,
                summary: &e.summary,
                from_phase_id: e.from,
                to_phase_id: e.to,
                reason: e.reason.as_deref(),
                changes: &e.changes,
            },
        );
        ev.row()
            .i(*eid)
            .i(e.release)
            .oi(e.actor)
            .t(e.at)
            .i4(e.version)
            .s(e.kind)
            .s(&e.summary)
            .oi(e.from)
            .oi(e.to)
            .os(e.reason.as_deref())
            .s(&prev)
            .s(&hash)
            .end();
        last_hash.insert(e.release, hash);
        for (f, o, nv) in &e.changes {
            fc.row().i(*eid).s(f).s(o).s(nv).end();
        }
    }
    let (mut ap, mut votes, mut log) = (Rows::default(), Rows::default(), Rows::default());
    for (a, aid) in b.approvals.iter().zip(&approval_ids) {
        ap.row()
            .i(*aid)
            .i(a.release)
            .i(a.phase)
            .i(a.group)
            .s(&a.rule)
            .oi4(a.quorum)
            .i4(a.cycle)
            .s(a.status)
            .t(a.opened)
            .ot(a.decided)
            .end();
        for (cycle, voter, at) in &a.votes {
            votes
                .row()
                .i(*aid)
                .i4(*cycle)
                .i(*voter)
                .i(*voter)
                .s("approve")
                .s("")
                .t(*at)
                .end();
        }
        for (cycle, actor, action, comment, at) in &a.log {
            log.row()
                .i(*aid)
                .i4(*cycle)
                .oi(*actor)
                .null()
                .s(action)
                .s(comment)
                .t(*at)
                .end();
        }
    }
    Ok(Ready {
        releases: n,
        changes: b.changes,
        tables: vec![
            ("releases", b.releases),
            ("release_details", b.details),
            ("release_phase_visits", b.visits),
            ("tasks", b.tasks),
            ("history_events", ev),
            ("history_field_changes", fc),
            ("approvals", ap),
            ("approval_votes", votes),
            ("approval_log", log),
            ("watchers", b.watchers),
            ("notifications", b.notifications),
        ],
    })
}

/// Copy a generated batch in, in one transaction (only the tables `only` names, if given).
fn copy_batch(
    conn: &mut PgConnection,
    w: &World,
    opts: &Options,
    ready: &Ready,
    only: Option<&[&str]>,
    sum: &mut Summary,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        if !opts.check_references && w.superuser {
            // The generator writes only rows whose references exist (the tests load with the
            // checks on); skipping the per-row foreign-key triggers makes the load several
            // times faster. Needs a superuser: others load with the checks.
            diesel::sql_query("SET LOCAL session_replication_role = replica").execute(conn)?;
        }
        for (table, rows) in ready
            .tables
            .iter()
            .filter(|t| only.is_none_or(|o| o.contains(&t.0)))
        {
            match *table {
                "releases" => {
                    use releases as r;
                    copy_in!(
                        conn,
                        r::table,
                        (
                            r::id,
                            r::number,
                            r::title,
                            r::release_type,
                            r::category_id,
                            r::workflow_id,
                            r::phase_id,
                            r::state,
                            r::reason,
                            r::registered_by,
                            r::coordinator_id,
                            r::manager_id,
                            r::assignment_group_id,
                            r::impact,
                            r::urgency,
                            r::risk,
                            r::risk_override_reason,
                            r::planned_start,
                            r::planned_end,
                            r::actual_start,
                            r::actual_end,
                            r::phase_entered_at,
                            r::phase_due_at,
                            r::backed_out,
                            r::version,
                            r::closed_at,
                            r::created_at,
                            r::updated_at,
                            r::model_version_id,
                            r::kind,
                            r::related_release_id,
                            r::package_id
                        ),
                        rows
                    );
                }
                "release_details" => {
                    use release_details as d;
                    copy_in!(
                        conn,
                        d::table,
                        (
                            d::release_id,
                            d::description,
                            d::affected_services,
                            d::release_plan,
                            d::deployment_plan,
                            d::test_criteria,
                            d::test_result,
                            d::backout_plan,
                            d::training_needs,
                            d::financial_impact,
                            d::verification,
                            d::evaluation
                        ),
                        rows
                    );
                }
                "release_phase_visits" => {
                    use release_phase_visits as v;
                    copy_in!(
                        conn,
                        v::table,
                        (
                            v::release_id,
                            v::phase_id,
                            v::status,
                            v::entered_at,
                            v::due_at,
                            v::left_at
                        ),
                        rows
                    );
                }
                "tasks" => {
                    use tasks as t;
                    copy_in!(
                        conn,
                        t::table,
                        (
                            t::release_id,
                            t::phase_id,
                            t::title,
                            t::description,
                            t::assignee_id,
                            t::group_id,
                            t::status,
                            t::due_offset_hours,
                            t::due_at,
                            t::completed_by,
                            t::completed_at,
                            t::version,
                            t::created_at,
                            t::updated_at
                        ),
                        rows
                    );
                }
                "history_events" => {
                    use history_events as h;
                    copy_in!(
                        conn,
                        h::table,
                        (
                            h::id,
                            h::release_id,
                            h::actor_id,
                            h::at,
                            h::record_version,
                            h::kind,
                            h::summary,
                            h::from_phase_id,
                            h::to_phase_id,
                            h::reason,
                            h::prev_hash,
                            h::hash
                        ),
                        rows
                    );
                }
                "history_field_changes" => {
                    use history_field_changes as hf;
                    copy_in!(
                        conn,
                        hf::table,
                        (hf::event_id, hf::field, hf::old_value, hf::new_value),
                        rows
                    );
                }
                "approvals" => {
                    use approvals as a;
                    copy_in!(
                        conn,
                        a::table,
                        (
                            a::id,
                            a::release_id,
                            a::phase_id,
                            a::group_id,
                            a::rule,
                            a::quorum_count,
                            a::cycle,
                            a::status,
                            a::opened_at,
                            a::decided_at
                        ),
                        rows
                    );
                }
                "approval_votes" => {
                    use approval_votes as av;
                    copy_in!(
                        conn,
                        av::table,
                        (
                            av::approval_id,
                            av::cycle,
                            av::voter_id,
                            av::cast_by,
                            av::decision,
                            av::comment,
                            av::at
                        ),
                        rows
                    );
                }
                "approval_log" => {
                    use approval_log as al;
                    copy_in!(
                        conn,
                        al::table,
                        (
                            al::approval_id,
                            al::cycle,
                            al::actor_id,
                            al::on_behalf_of_id,
                            al::action,
                            al::comment,
                            al::at
                        ),
                        rows
                    );
                }
                "watchers" => {
                    use watchers as wa;
                    copy_in!(
                        conn,
                        wa::table,
                        (wa::release_id, wa::user_id, wa::created_at),
                        rows
                    );
                }
                _ => {
                    use notifications as no;
                    copy_in!(
                        conn,
                        no::table,
                        (
                            no::user_id,
                            no::release_id,
                            no::kind,
                            no::subject,
                            no::body,
                            no::link,
                            no::read_at,
                            no::created_at
                        ),
                        rows
                    );
                }
            }
        }
        let count = |name: &str| {
            ready
                .tables
                .iter()
                .filter(|t| only.is_none_or(|o| o.contains(&t.0)))
                .find(|t| t.0 == name)
                .map(|t| t.1.n)
                .unwrap_or(0)
        };
        if only.is_none_or(|o| o.contains(&"releases")) {
            sum.releases += ready.releases;
            sum.changes += ready.changes;
        }
        sum.tasks += count("tasks");
        sum.history += count("history_events");
        sum.approvals += count("approvals");
        sum.visits += count("release_phase_visits");
        Ok(())
    })
}

/// Generate and load `opts.releases` releases on one connection (what the tests call);
/// `progress` hears how many are in so far. Ends with `VACUUM ANALYZE` of the tables it
/// filled when `analyze`.
pub fn run(
    conn: &mut PgConnection,
    opts: &Options,
    analyze: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, Error> {
    let w = prepare(conn, opts)?;
    let mut sum = Summary {
        users: w.accounts,
        ..Default::default()
    };
    let batch = opts.batch.max(1);
    let mut done = 0;
    while done < opts.releases {
        let n = batch.min(opts.releases - done);
        let ready = generate_batch(conn, &w, opts, done, n).map_err(db("generating releases"))?;
        copy_batch(conn, &w, opts, &ready, None, &mut sum).map_err(db("loading releases"))?;
        done += n;
        progress(done);
    }
    // Loads with triggers off (see `copy_batch`) leave the per-state counts behind.
    crate::models::releases::recount_states(conn).map_err(db("counting records per state"))?;
    crate::services::reports::rebuild_cells(conn)
        .map_err(db("counting the management report's figures"))?;
    if analyze {
        analyze_on(&mut [conn])?;
    }
    Ok(sum)
}

/// The fast path of `relman seed` (a superuser, so foreign keys are not checked row by row):
/// one thread generates batches on its own connection while two others copy them in, each
/// into its own half of the tables (two COPYs into one table only queue on each other's
/// relation extension); a load of at least `REBUILD_INDEXES_FROM` releases builds its
/// secondary indexes afterwards, two at a time. Without superuser rights it loads as `run`.
pub fn run_pipelined(
    url: &str,
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Summary, Error> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    const FIRST_HALF: &[&str] = &[
        "releases",
        "release_details",
        "release_phase_visits",
        "tasks",
        "watchers",
    ];
    const SECOND_HALF: &[&str] = &[
        "history_events",
        "history_field_changes",
        "approvals",
        "approval_votes",
        "approval_log",
        "notifications",
    ];
    let connect =
        || PgConnection::establish(url).map_err(|e| format!("cannot connect to the database: {e}"));
    let mut conn = connect()?;
    let mut second = connect()?;
    let mut third = connect()?;
    let w = prepare(&mut conn, opts)?;
    if !w.superuser || opts.check_references {
        let mut p = |n| progress(n);
        return run(&mut conn, opts, true, &mut p);
    }
    if opts.releases >= REBUILD_INDEXES_FROM {
        drop_indexes(&mut conn)?;
    } else {
        restore_indexes(&mut [&mut conn, &mut second])?;
    }
    // Autovacuum would scan the growing tables again and again while they fill, on the same
    // two cores: off for the load, on again (and ANALYZE run) at the end.
    autovacuum(&mut conn, false)?;
    let batch = opts.batch.max(1);
    let sum = Mutex::new(Summary {
        users: w.accounts,
        ..Default::default()
    });
    let copied = AtomicU64::new(0);
    let loaded = std::thread::scope(|scope| -> Result<(), Error> {
        let (tx1, rx1) = std::sync::mpsc::sync_channel::<Arc<Ready>>(2);
        let (tx2, rx2) = std::sync::mpsc::sync_channel::<Arc<Ready>>(2);
        let w = &w;
        let generator = scope.spawn(move || -> Result<(), Error> {
            let mut from = 0;
            while from < opts.releases {
                let n = batch.min(opts.releases - from);
                let r = Arc::new(
                    generate_batch(&mut third, w, opts, from, n)
                        .map_err(db("generating releases"))?,
                );
                if tx1.send(r.clone()).is_err() || tx2.send(r).is_err() {
                    return Ok(());
                }
                from += n;
            }
            Ok(())
        });
        let loaders: Vec<_> = [
            (&mut conn, rx1, FIRST_HALF),
            (&mut second, rx2, SECOND_HALF),
        ]
        .into_iter()
        .map(|(c, rx, half)| {
            let (sum, copied) = (&sum, &copied);
            scope.spawn(move || -> Result<(), Error> {
                let mut mine = Summary::default();
                for ready in rx {
                    copy_batch(c, w, opts, &ready, Some(half), &mut mine)
                        .map_err(db("loading releases"))?;
                    // A batch is in when both halves are: count it on its second half.
                    let before = copied.fetch_add(ready.releases, Ordering::SeqCst);
                    progress((before + ready.releases) / 2);
                }
                let mut t = sum.lock().expect("no loader panicked");
                t.releases += mine.releases;
                t.changes += mine.changes;
                t.tasks += mine.tasks;
                t.history += mine.history;
                t.approvals += mine.approvals;
                t.visits += mine.visits;
                Ok(())
            })
        })
        .collect();
        let mut result = Ok(());
        for h in loaders {
            let r = h
                .join()
                .map_err(|_| "a loader thread panicked".to_string())
                .and_then(|r| r);
            result = result.and(r);
        }
        let g = generator
            .join()
            .map_err(|_| "the generator thread panicked".to_string())
            .and_then(|r| r);
        result.and(g)
    });
    let rebuilt = loaded.and_then(|()| {
        progress_note("building the indexes");
        restore_indexes(&mut [&mut conn, &mut second])
    });
    if let Err(e) = rebuilt {
        let _ = autovacuum(&mut conn, true);
        return Err(match restore_indexes(&mut [&mut conn, &mut second]) {
            Ok(()) => e,
            Err(r) => format!("{e}; and rebuilding the indexes failed too ({r}): run `relman seed --releases 0` to finish"),
        });
    }
    autovacuum(&mut conn, true)?;
    // The loaders ran with triggers off (see `copy_batch`): count records per state afresh.
    crate::models::releases::recount_states(&mut conn).map_err(db("counting records per state"))?;
    progress_note("report figures");
    crate::services::reports::rebuild_cells(&mut conn)
        .map_err(db("counting the management report's figures"))?;
    progress_note("analyze");
    analyze_on(&mut [&mut conn, &mut second])?;
    Ok(sum.into_inner().expect("no loader panicked"))
}

/// The tables a seed fills.
const FILLED: [&str; 13] = [
    "releases",
    "release_details",
    "release_phase_visits",
    "tasks",
    "history_events",
    "history_field_changes",
    "approvals",
    "approval_votes",
    "approval_log",
    "watchers",
    "notifications",
    "users",
    "group_members",
];

#[derive(QueryableByName)]
struct IndexDef {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    def: String,
}

/// For a large load: drop the secondary indexes of the filled tables (their definitions kept
/// in `seed_index_backlog`) so rows go in without index upkeep; `restore_indexes` builds them
/// again afterwards, sorted and in parallel — much faster than row by row. Unique indexes and
/// keys stay, so constraints hold throughout. An interrupted seed leaves the backlog, and the
/// next seed restores it first.
fn drop_indexes(conn: &mut PgConnection) -> Result<(), Error> {
    restore_indexes(&mut [&mut *conn])?;
    diesel::sql_query("CREATE TABLE seed_index_backlog (name TEXT PRIMARY KEY, def TEXT NOT NULL)")
        .execute(conn)
        .map_err(db("index backlog"))?;
    let defs: Vec<IndexDef> = diesel::sql_query(
        "SELECT c.relname::text AS name, pg_get_indexdef(i.indexrelid) AS def
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
         WHERE t.relnamespace = current_schema()::regnamespace AND t.relname::text = ANY($1)
           AND NOT i.indisunique AND NOT i.indisprimary",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(FILLED.iter().map(|t| t.to_string()).collect::<Vec<_>>())
    .load(conn)
    .map_err(db("reading index definitions"))?;
    conn.transaction(|conn| {
        for d in &defs {
            diesel::sql_query("INSERT INTO seed_index_backlog (name, def) VALUES ($1, $2)")
                .bind::<diesel::sql_types::Text, _>(&d.name)
                .bind::<diesel::sql_types::Text, _>(&d.def)
                .execute(conn)?;
            diesel::sql_query(format!("DROP INDEX \"{}\"", d.name.replace('"', "")))
                .execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    })
    .map_err(db("dropping indexes for the load"))
}

/// Build the indexes `drop_indexes` set aside (if any), one per connection at a time.
fn restore_indexes(conns: &mut [&mut PgConnection]) -> Result<(), Error> {
    let conn = &mut *conns[0];
    let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
        "to_regclass('seed_index_backlog') IS NOT NULL",
    ))
    .get_result(conn)
    .map_err(db("index backlog"))?;
    if !exists {
        return Ok(());
    }
    let defs: Vec<IndexDef> =
        diesel::sql_query("SELECT name, def FROM seed_index_backlog ORDER BY name")
            .load(conn)
            .map_err(db("index backlog"))?;
    let statements: Vec<String> = defs
        .iter()
        .map(|d| {
            d.def
                .replacen("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1)
        })
        .collect();
    side_by_side(conns, "SET maintenance_work_mem = '512MB'", &statements)?;
    let conn = &mut *conns[0];
    diesel::sql_query("DROP TABLE seed_index_backlog")
        .execute(conn)
        .map_err(db("index backlog"))?;
    Ok(())
}

/// Run `statements` spread over the connections (each first runs `setup`).
fn side_by_side(
    conns: &mut [&mut PgConnection],
    setup: &str,
    statements: &[String],
) -> Result<(), Error> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = conns
            .iter_mut()
            .map(|conn| {
                let next = &next;
                scope.spawn(move || -> Result<(), Error> {
                    diesel::sql_query(setup)
                        .execute(&mut **conn)
                        .map_err(db("settings"))?;
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(sql) = statements.get(i) else {
                            return Ok(());
                        };
                        diesel::sql_query(sql.as_str())
                            .execute(&mut **conn)
                            .map_err(|e| format!("{sql}: {e}"))?;
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().map_err(|_| "a seed thread panicked".to_string())?)
    })
}

/// Loads at least this big drop and rebuild the secondary indexes.
pub const REBUILD_INDEXES_FROM: u64 = 50_000;

fn autovacuum(conn: &mut PgConnection, on: bool) -> Result<(), Error> {
    for t in FILLED {
        let sql = if on {
            format!("ALTER TABLE {t} RESET (autovacuum_enabled)")
        } else {
            format!("ALTER TABLE {t} SET (autovacuum_enabled = false)")
        };
        diesel::sql_query(sql)
            .execute(conn)
            .map_err(db("autovacuum setting"))?;
    }
    Ok(())
}

fn progress_note(what: &str) {
    tracing::info!("seed: {what}");
}

fn analyze_on(conns: &mut [&mut PgConnection]) -> Result<(), Error> {
    // VACUUM sets the visibility map that index-only scans of the lists and counts need;
    // the other tables get their statistics (autovacuum follows inserts on its own).
    let statements: Vec<String> = FILLED
        .iter()
        .map(|t| {
            if *t == "releases" {
                format!("VACUUM (ANALYZE) {t}")
            } else {
                format!("ANALYZE {t}")
            }
        })
        .collect();
    side_by_side(conns, "SELECT 1", &statements)
}

/// The users `relman seed` creates are found by this name pattern (for tests and the bench).
pub fn lead_id(conn: &mut PgConnection) -> QueryResult<i64> {
    use crate::schema::users;
    users::table
        .filter(users::username.eq(LEAD_USERNAME))
        .select(users::id)
        .first(conn)
}
