//! Approvals: the inbox, one approval's page with its log, deciding (approve, deny, retract),
//! requesting a missing approval, and delegating one's approvals.
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use super::{invalid, page, see_other, Sent};
use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::domain::roles::Role;
use crate::domain::workflow::RecordKind;
use crate::error::{AppError, AppResult};
use crate::forms::{Form, FormErrors};
use crate::models::approvals as am;
use crate::models::{releases as rel, users, workflows as wfm};
use crate::paths;
use crate::services::approvals::{
    self as svc, ApprovalView, Decision, InboxFilter, InboxItem, VoteOutcome,
};
use crate::services::submissions;
use crate::views::{self, Ctx};

use super::releases::Problem;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(inbox)
        .service(show)
        .service(decide)
        .service(request)
        .service(delegations)
        .service(add_delegation)
        .service(end_delegation);
}

pub struct RecentDecision {
    pub at: String,
    pub action: String,
    pub release: String,
    pub release_href: String,
    pub comment: String,
}

/// Rows per page of the inbox, and how many pages it reads at most.
const INBOX_PAGE: usize = 25;
const INBOX_MAX_PAGE: usize = 40;

/// One row of the inbox as shown.
pub struct InboxRow {
    pub item: InboxItem,
    /// "3 days", "5 hours", "under an hour" since the request.
    pub age: String,
    pub requested: String,
    /// (label, full text, one-line excerpt) of the phase's plans.
    pub plans: Vec<(&'static str, String, String)>,
}

#[derive(Template)]
#[template(path = "approvals/inbox.html")]
struct InboxPage {
    ctx: Ctx,
    rows: Vec<InboxRow>,
    recent: Vec<RecentDecision>,
    is_approver: bool,
    q: InboxQuery,
    groups: Vec<(String, String)>,
    types: Vec<(String, String)>,
    risks: Vec<(String, String)>,
    filtered: bool,
    page: usize,
    prev_href: String,
    next_href: String,
    /// Where a vote comes back to: this page of the inbox with its filters.
    here: String,
}

/// GET parameters of the inbox; anything unknown is ignored (the filter is "any").
#[derive(Deserialize, Default, Clone)]
struct InboxQuery {
    #[serde(default)]
    group: String,
    #[serde(default, rename = "type")]
    release_type: String,
    #[serde(default)]
    risk: String,
    #[serde(default)]
    page: String,
}

impl InboxQuery {
    fn href(&self, page: usize) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("group", &self.group),
            ("type", &self.release_type),
            ("risk", &self.risk),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", paths::encode(v)));
            }
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        if parts.is_empty() {
            paths::APPROVALS.to_string()
        } else {
            format!("{}?{}", paths::APPROVALS, parts.join("&"))
        }
    }
}

/// How long ago, in the largest whole unit that reads well in a list.
fn age(since: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> String {
    let minutes = (now - since).num_minutes().max(0);
    let (n, unit) = match minutes {
        m if m < 60 => return "under an hour".into(),
        m if m < 48 * 60 => (m / 60, "hour"),
        m if m < 14 * 24 * 60 => (m / (24 * 60), "day"),
        m => (m / (7 * 24 * 60), "week"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// The first line of a text, at most `max` characters, with an ellipsis when cut.
fn excerpt(text: &str, max: usize) -> String {
    let line = text.trim().lines().next().unwrap_or("").trim();
    let cut: String = line.chars().take(max).collect();
    if cut.chars().count() < line.chars().count() || text.trim().lines().nth(1).is_some() {
        format!("{}…", cut.trim_end())
    } else {
        cut
    }
}

/// GET /approvals: the inbox, oldest request first, filtered (`group`, `type`, `risk`) and
/// paged (`page`), each row with its one-click approve and deny.
#[get("/approvals")]
async fn inbox(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    q: web::Query<InboxQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let actor = user.actor();
    let mut types: Vec<(String, String)> = Vec::new();
    for kind in [RecordKind::Release, RecordKind::Change] {
        for (k, l) in kind.types() {
            if !types.iter().any(|(x, _)| x == k) {
                types.push((k.to_string(), l.to_string()));
            }
        }
    }
    let risks: Vec<(String, String)> = crate::domain::risk::Risk::ALL
        .iter()
        .map(|r| (r.as_str().to_string(), r.label().to_string()))
        .collect();
    let filter = InboxFilter {
        group: q.group.parse().ok(),
        release_type: types
            .iter()
            .any(|(k, _)| *k == q.release_type)
            .then(|| q.release_type.clone()),
        risk: risks
            .iter()
            .any(|(k, _)| *k == q.risk)
            .then(|| q.risk.clone()),
    };
    let page_no = q
        .page
        .parse::<usize>()
        .unwrap_or(1)
        .clamp(1, INBOX_MAX_PAGE);
    let f2 = filter.clone();
    let (items, plans, groups, recent) = db::run(&pool, move |conn| {
        // One more than this page needs: whether there is a next one.
        let items = svc::inbox_where(conn, actor, &f2, (page_no * INBOX_PAGE + 1) as i64)?;
        let shown: Vec<i64> = items
            .iter()
            .skip((page_no - 1) * INBOX_PAGE)
            .take(INBOX_PAGE)
            .map(|i| i.approval_id)
            .collect();
        let plans = svc::inbox_plans(conn, &shown)?;
        let groups = svc::inbox_groups(conn, actor)?;
        let log = am::log_by_actor(conn, actor.id, 20)?;
        let mut recent = Vec::new();
        for l in log {
            let a = am::find(conn, l.approval_id)?;
            let r = rel::find_by_id(conn, a.release_id)?;
            recent.push(RecentDecision {
                at: views::datetime(&l.at),
                action: match l.action.as_str() {
                    "approve" => "Approved",
                    "deny" => "Denied",
                    _ => "Retracted",
                }
                .into(),
                release: format!("{} {}", paths::record_number(&r.kind, r.number), r.title),
                release_href: paths::record(&r.kind, r.number),
                comment: l.comment,
            });
        }
        Ok((items, plans, groups, recent))
    })
    .await?;
    let has_more = items.len() > page_no * INBOX_PAGE && page_no < INBOX_MAX_PAGE;
    let now = chrono::Utc::now();
    let mut plans = plans;
    let rows = items
        .into_iter()
        .skip((page_no - 1) * INBOX_PAGE)
        .take(INBOX_PAGE)
        .map(|item| InboxRow {
            age: age(item.opened_at, now),
            requested: views::datetime(&item.opened_at),
            plans: plans
                .remove(&item.approval_id)
                .unwrap_or_default()
                .into_iter()
                .map(|(label, text)| (label, excerpt(&text, 48), text))
                .map(|(label, short, text)| (label, text, short))
                .collect(),
            item,
        })
        .collect();
    page(&InboxPage {
        ctx: user.ctx(),
        rows,
        recent,
        is_approver: user.has(Role::Approver),
        filtered: filter.group.is_some() || filter.release_type.is_some() || filter.risk.is_some(),
        groups: groups
            .into_iter()
            .map(|(id, n)| (id.to_string(), n))
            .collect(),
        types,
        risks,
        page: page_no,
        prev_href: if page_no > 1 {
            q.href(page_no - 1)
        } else {
            String::new()
        },
        next_href: if has_more {
            q.href(page_no + 1)
        } else {
            String::new()
        },
        here: q.href(page_no),
        q,
    })
}

#[derive(Template)]
#[template(path = "approvals/show.html")]
struct ApprovalPage {
    ctx: Ctx,
    a: ApprovalView,
    release: String,
    release_href: String,
    /// The refused decision's message (empty: none), linking to the box it is about.
    problems: Vec<Problem>,
    problems_title: String,
    comment: String,
    chosen: String,
    return_to: String,
}

/// The box a refused decision is about: the comment or reason box of the vote form for
/// `who`, when the page still offers it; else the approval's heading.
fn decision_target(a: &ApprovalView, decision: &str, who: i64) -> String {
    let offered = match decision {
        "approve" | "deny" => a.vote_as.iter().any(|(w, _)| *w == who),
        "retract" => a.may_retract_as.iter().any(|(w, _)| *w == who),
        _ => false,
    };
    if offered {
        format!("{decision}-{}-{who}", a.id)
    } else {
        "approval-title".into()
    }
}

async fn approval_page(
    user: &CurrentUser,
    pool: &DbPool,
    id: i64,
    error: String,
    comment: String,
    chosen: String,
    voter: i64,
) -> AppResult<ApprovalPage> {
    let actor = user.actor();
    let (view, r) = db::run(pool, move |conn| {
        let a = am::find(conn, id)?;
        let r = rel::find_by_id(conn, a.release_id)?;
        let wf = wfm::load(conn, r.workflow_id)?;
        let view = svc::views_for_release(conn, &r, &wf, actor)?
            .into_iter()
            .find(|v| v.id == id)
            .ok_or(AppError::NotFound)?;
        Ok((view, r))
    })
    .await?;
    let problems = if error.is_empty() {
        Vec::new()
    } else {
        vec![Problem {
            target: decision_target(&view, &chosen, voter),
            message: error,
        }]
    };
    Ok(ApprovalPage {
        ctx: user.ctx(),
        release: format!("{} {}", paths::record_number(&r.kind, r.number), r.title),
        release_href: paths::record(&r.kind, r.number),
        a: view,
        problems,
        problems_title: "Your decision was not recorded".into(),
        comment,
        chosen,
        return_to: format!("/approvals/{id}"),
    })
}

/// GET /approvals/{id}
#[get("/approvals/{id}")]
async fn show(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    page(
        &approval_page(
            &user,
            &pool,
            path.into_inner(),
            String::new(),
            String::new(),
            String::new(),
            user.id,
        )
        .await?,
    )
}

#[derive(Deserialize)]
struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    cycle: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    on_behalf_of: String,
    #[serde(default)]
    return_to: String,
}

/// POST /approvals/{id}/decision: approve, deny (reason required) or retract (reason required).
#[post("/approvals/{id}/decision")]
async fn decide(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    form: Form<DecisionForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let f = form.into_inner();
    let decision = match f.decision.as_str() {
        "approve" => Decision::Approve,
        "deny" => Decision::Deny,
        "retract" => Decision::Retract,
        _ => {
            return Err(AppError::BadRequest(
                "Unknown decision: use approve, deny or retract.".into(),
            ))
        }
    };
    let cycle: i32 = f.cycle.parse().map_err(|_| {
        AppError::BadRequest("The form has no valid round number: reload the page.".into())
    })?;
    let on_behalf_of = match f.on_behalf_of.trim() {
        "" => None,
        s => Some(
            s.parse::<i64>()
                .map_err(|_| AppError::BadRequest("Unknown approver to vote for.".into()))?,
        ),
    };
    let (actor, comment) = (user.actor(), f.comment.clone());
    let outcome = db::run(&pool, move |conn| {
        svc::decide(conn, actor, id, cycle, decision, &comment, on_behalf_of)
    })
    .await?;
    let back = paths::local_or(Some(&f.return_to), &format!("/approvals/{id}"));
    match outcome {
        VoteOutcome::Counted { summary } => {
            user.flash("success", format!("{summary}."));
            Ok(see_other(back))
        }
        VoteOutcome::Nothing(why) => {
            user.flash("info", why);
            Ok(see_other(back))
        }
        VoteOutcome::Invalid(why) => {
            let voter = on_behalf_of.unwrap_or(user.id);
            invalid(&approval_page(&user, &pool, id, why, f.comment, f.decision, voter).await?)
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct Empty {}

/// POST /releases/{number}/approvals: request the current phase's approval when it is missing.
#[post("/releases/{number}/approvals")]
async fn request(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
    _f: Form<Empty>,
) -> AppResult<HttpResponse> {
    request_kind(user, pool, RecordKind::Release, path.into_inner()).await
}

pub(crate) async fn request_kind(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    kind: RecordKind,
    path: String,
) -> AppResult<HttpResponse> {
    let number = super::releases::parse_kind_number(kind, &path)?;
    let actor = user.actor();
    let opened = db::run(&pool, move |conn| svc::request(conn, actor, kind, number)).await?;
    user.flash(
        if opened { "success" } else { "info" },
        if opened {
            "The approval was requested."
        } else {
            "No approval was needed or one is already open."
        },
    );
    Ok(see_other(format!(
        "{}#approvals",
        paths::record(kind.as_str(), number)
    )))
}

pub struct DelegationView {
    pub id: i64,
    pub direction: String,
    pub other: String,
    pub from: String,
    pub to: String,
    pub current: bool,
    pub mine: bool,
}

#[derive(Template)]
#[template(path = "approvals/delegations.html")]
struct DelegationsPage {
    ctx: Ctx,
    list: Vec<DelegationView>,
    approvers: Vec<(String, String)>,
    errors: FormErrors,
    delegate: String,
    from: String,
    to: String,
    submission_key: String,
}

async fn delegations_page(
    user: &CurrentUser,
    pool: &DbPool,
    errors: FormErrors,
    mut f: DelegationForm,
) -> AppResult<DelegationsPage> {
    submissions::issue(&mut f.submission_key);
    let uid = user.id;
    let (list, approvers, names) = db::run(pool, move |conn| {
        Ok((
            am::delegations_of(conn, uid)?,
            users::active_with_role(conn, "approver")?,
            crate::services::releases::name_book(conn)?,
        ))
    })
    .await?;
    let today = chrono::Utc::now().date_naive();
    Ok(DelegationsPage {
        ctx: user.ctx(),
        list: list
            .into_iter()
            .map(|d| {
                let mine = d.delegator_id == uid;
                let other = if mine { d.delegate_id } else { d.delegator_id };
                DelegationView {
                    id: d.id,
                    direction: if mine { "to".into() } else { "from".into() },
                    other: names.users.get(&other).cloned().unwrap_or_default(),
                    from: d.starts_on.to_string(),
                    to: d.ends_on.to_string(),
                    current: d.starts_on <= today && d.ends_on >= today,
                    mine,
                }
            })
            .collect(),
        approvers: approvers
            .into_iter()
            .filter(|(id, _)| *id != uid)
            .map(|(id, n)| (id.to_string(), n))
            .collect(),
        errors,
        delegate: f.delegate,
        from: f.from,
        to: f.to,
        submission_key: f.submission_key,
    })
}

/// GET /account/delegations
#[get("/account/delegations")]
async fn delegations(user: CurrentUser, pool: web::Data<DbPool>) -> AppResult<HttpResponse> {
    user.require(
        user.has(Role::Approver),
        "Only release approvers delegate their approvals.",
    )?;
    let today = chrono::Utc::now().date_naive().to_string();
    let f = DelegationForm {
        from: today.clone(),
        to: today,
        ..Default::default()
    };
    page(&delegations_page(&user, &pool, FormErrors::default(), f).await?)
}

#[derive(Clone, Default, Deserialize)]
struct DelegationForm {
    #[serde(default)]
    delegate: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    submission_key: String,
}

/// The delegate and the days of a delegation by `uid`, or what is wrong with the form.
fn check_delegation(
    f: &DelegationForm,
    uid: i64,
    approvers: &[(i64, String)],
) -> Result<(i64, NaiveDate, NaiveDate), FormErrors> {
    let mut errors = FormErrors::default();
    let delegate = f
        .delegate
        .parse::<i64>()
        .ok()
        .filter(|d| *d != uid && approvers.iter().any(|(id, _)| id == d));
    if delegate.is_none() {
        errors.add("delegate", "Choose another approver to delegate to.");
    }
    let from = NaiveDate::parse_from_str(f.from.trim(), "%Y-%m-%d").ok();
    let to = NaiveDate::parse_from_str(f.to.trim(), "%Y-%m-%d").ok();
    if from.is_none() {
        errors.add("from", "Enter the first day as a date like 2026-12-01.");
    }
    if to.is_none() {
        errors.add("to", "Enter the last day as a date like 2026-12-24.");
    }
    if let (Some(a), Some(b)) = (from, to) {
        if b < a {
            errors.add("to", "The last day must not be before the first day.");
        }
    }
    match (delegate, from, to) {
        (Some(d), Some(a), Some(b)) if errors.is_empty() => Ok((d, a, b)),
        _ => Err(errors),
    }
}

/// POST /account/delegations
#[post("/account/delegations")]
async fn add_delegation(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    form: Form<DelegationForm>,
) -> AppResult<HttpResponse> {
    user.require(
        user.has(Role::Approver),
        "Only release approvers delegate their approvals.",
    )?;
    let f = form.into_inner();
    let (f2, uid) = (f.clone(), user.id);
    let create = move |conn: &mut diesel::PgConnection| {
        let approvers = users::active_with_role(conn, "approver")?;
        Ok(match check_delegation(&f2, uid, &approvers) {
            Ok((d, a, b)) => {
                am::add_delegation(conn, uid, d, a, b)?;
                Ok((a, b))
            }
            Err(errors) => Err(errors),
        })
    };
    let listed = |_: &(NaiveDate, NaiveDate)| "/account/delegations".to_string();
    match super::create_once(&user, &pool, &f.submission_key, create, listed).await? {
        Sent::Again(to_first) => Ok(to_first),
        Sent::Created((a, b), path) => {
            user.flash(
                "success",
                format!("Your approvals are delegated from {a} to {b}."),
            );
            Ok(see_other(path))
        }
        Sent::Invalid(errors) => invalid(&delegations_page(&user, &pool, errors, f).await?),
    }
}

/// POST /account/delegations/{id}/end
#[post("/account/delegations/{id}/end")]
async fn end_delegation(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
    _f: Form<Empty>,
) -> AppResult<HttpResponse> {
    let (id, uid) = (path.into_inner(), user.id);
    let n = db::run(&pool, move |conn| {
        Ok(am::end_delegation(
            conn,
            id,
            uid,
            chrono::Utc::now().date_naive(),
        )?)
    })
    .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    user.flash("success", "The delegation was ended.");
    Ok(see_other("/account/delegations"))
}

#[cfg(test)]
mod tests {
    use super::{age, excerpt};
    use chrono::{Duration, Utc};

    #[test]
    fn ages_read_in_the_largest_whole_unit() {
        let now = Utc::now();
        assert_eq!(age(now - Duration::minutes(59), now), "under an hour");
        assert_eq!(age(now - Duration::minutes(61), now), "1 hour");
        assert_eq!(age(now - Duration::hours(47), now), "47 hours");
        assert_eq!(age(now - Duration::days(3), now), "3 days");
        assert_eq!(age(now - Duration::days(30), now), "4 weeks");
        assert_eq!(age(now + Duration::days(1), now), "under an hour");
    }

    #[test]
    fn an_excerpt_is_the_first_line_cut_with_an_ellipsis() {
        assert_eq!(excerpt("Restore the snapshot", 80), "Restore the snapshot");
        assert_eq!(excerpt("Step one\nStep two", 80), "Step one…");
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }
}
