//! The release calendar: the month view of releases by planned window (a grid on wide
//! screens, a list by day on narrow ones), and the account page that shows the iCalendar
//! feed's address (`calendar_feed`) and regenerates its per-user secret token.
use std::collections::HashMap;

use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use serde::Deserialize;

use super::{page, see_other};
use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::domain::workflow::{RecordState, ReleaseType};
use crate::error::AppResult;
use crate::forms::Form;
use crate::models::blackouts::{self as blk, Blackout};
use crate::models::releases::Release;
use crate::models::workflows as wfm;
use crate::paths;
use crate::services::conflicts::{self, Window};
use crate::views::Ctx;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(month)
        .service(account_calendar)
        .service(regenerate_token);
}

type Options = Vec<(String, String)>;

/// The filters, as they appear in the URL.
#[derive(Debug, Clone, Default, Deserialize)]
struct CalendarQuery {
    #[serde(default)]
    month: String,
    #[serde(default, rename = "type")]
    release_type: String,
    #[serde(default)]
    category: String,
}

impl CalendarQuery {
    fn release_type(&self) -> Option<ReleaseType> {
        self.release_type.parse().ok()
    }

    fn category(&self) -> Option<i64> {
        self.category.trim().parse().ok()
    }

    /// The URL of this month with these filters.
    fn href(&self, first: NaiveDate) -> String {
        let mut q = vec![format!("month={}", first.format("%Y-%m"))];
        if let Some(t) = self.release_type() {
            q.push(format!("type={}", t.as_str()));
        }
        if let Some(c) = self.category() {
            q.push(format!("category={c}"));
        }
        format!("{}?{}", paths::CALENDAR, q.join("&"))
    }
}

/// The first day of `2026-12`, if it is a month people plan in.
fn parse_month(s: &str) -> Option<NaiveDate> {
    let (y, m) = s.trim().split_once('-')?;
    let (y, m) = (y.parse::<i32>().ok()?, m.parse::<u32>().ok()?);
    (1970..=9998)
        .contains(&y)
        .then(|| NaiveDate::from_ymd_opt(y, m, 1))
        .flatten()
}

pub(super) fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn month_name(d: NaiveDate) -> String {
    format!("{} {}", MONTHS[d.month0() as usize], d.year())
}

/// Whether the release is running late: active, and its planned end or phase due date past.
fn is_overdue(r: &Release, now: DateTime<Utc>) -> bool {
    r.state == RecordState::Active.as_str()
        && (r.planned_end.is_some_and(|e| e < now) || r.phase_due_at.is_some_and(|d| d < now))
}

fn type_label(r: &Release) -> &'static str {
    r.release_type
        .parse::<ReleaseType>()
        .map(|t| t.label())
        .unwrap_or("Unknown type")
}

fn state_label(r: &Release) -> &'static str {
    r.state
        .parse::<RecordState>()
        .map(|s| s.label())
        .unwrap_or("Unknown state")
}

// ---------------------------------------------------------------- the month view

/// One release on one day.
#[derive(Clone)]
pub struct Entry {
    pub number: String,
    pub title: String,
    pub href: String,
    /// `emergency`, `major` or `minor`: the colour; the words are in `type_label`.
    pub type_key: &'static str,
    pub type_label: &'static str,
    /// The state, when not active ("Closed — successful").
    pub ended: String,
    pub overdue: bool,
    pub conflict: bool,
    /// "09:00 to 17:00", "starts 09:00", "ends 17:00" or "all day".
    pub when: String,
}

pub struct Day {
    pub day: u32,
    /// "Tuesday 1 December 2026".
    pub label: String,
    pub in_month: bool,
    pub today: bool,
    pub entries: Vec<Entry>,
    /// Releases on this day beyond those shown, and the list of all of them.
    pub more: usize,
    pub more_href: String,
    pub blackouts: Vec<String>,
}

pub struct ConflictItem {
    pub number: String,
    pub title: String,
    pub href: String,
    pub warnings: Vec<String>,
}

#[derive(Template)]
#[template(path = "calendar/month.html")]
struct MonthPage {
    ctx: Ctx,
    title: String,
    month: String,
    release_type: String,
    category: String,
    types: Options,
    categories: Options,
    notice: String,
    weeks: Vec<Vec<Day>>,
    /// The days of the month with anything on them, for the list on narrow screens.
    busy_days: Vec<Day>,
    releases: usize,
    /// Whether some day shows only its first `DAY_LIMIT` releases.
    capped: bool,
    conflicts: Vec<ConflictItem>,
    prev_href: String,
    prev_label: String,
    next_href: String,
    next_label: String,
    this_month_href: String,
}

/// What the month view shows, read from the database: the same for everyone who asks for
/// this month with these filters, so it is kept until the next write (`kept`).
struct MonthData {
    /// Releases planned in the month in all.
    total: usize,
    /// Per day of the month: the releases shown and how many meet the day.
    picks: Vec<(Vec<i64>, usize)>,
    /// The records shown.
    releases: Vec<Release>,
    categories: Vec<crate::models::workflows::CategoryRow>,
    blackouts: Vec<Blackout>,
    warnings: HashMap<i64, Vec<String>>,
}

/// One month is read at a time: requests that arrive meanwhile wait and take it kept, instead
/// of each reading the tens of thousands of releases of a month at a million.
static MONTH_READER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Months kept, by (first day, type, category).
static KEPT_MONTHS: crate::kept::Kept<
    (NaiveDate, Option<&'static str>, Option<i64>),
    std::sync::Arc<MonthData>,
> = crate::kept::Kept::new(64);

/// Where every release of the month falls (four columns each), then the whole record of only
/// those shown: a month holds tens of thousands of releases at a million.
fn month_data(
    conn: &mut diesel::PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    days: &[NaiveDate],
    release_type: Option<ReleaseType>,
    category: Option<i64>,
) -> diesel::QueryResult<MonthData> {
    let placed = blk::placed_touching(conn, from, to, release_type.map(|t| t.as_str()), category)?;
    let placed: Vec<(i64, bool, Window)> = placed
        .into_iter()
        .filter_map(|p| {
            let w = conflicts::window(p.planned_start, p.planned_end)?;
            conflicts::overlaps(w, (from, to)).then_some((
                p.id,
                p.state == RecordState::Active.as_str(),
                w,
            ))
        })
        .collect();
    let picks = pick_per_day(&placed, days, DAY_LIMIT);
    let mut ids: Vec<i64> = picks
        .iter()
        .flat_map(|(shown, _)| shown.iter().copied())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let releases = crate::models::releases::by_ids(conn, &ids)?;
    let warnings = conflicts::warnings_for_releases(conn, &releases)?;
    Ok(MonthData {
        total: placed.len(),
        picks,
        releases,
        categories: wfm::categories_all(conn)?,
        blackouts: blk::touching(conn, from, to)?,
        warnings,
    })
}

/// Releases shown on one day of the month; the rest are counted and linked to the list.
pub const DAY_LIMIT: usize = 6;

/// For each day, the releases to show (active ones first, then in the order given: by planned
/// start) and how many meet the day in all. `placed` holds (id, active, window).
fn pick_per_day(
    placed: &[(i64, bool, Window)],
    days: &[NaiveDate],
    limit: usize,
) -> Vec<(Vec<i64>, usize)> {
    days.iter()
        .map(|d| {
            let day_window = (midnight(*d), midnight(*d + Days::new(1)));
            let on_day: Vec<&(i64, bool, Window)> = placed
                .iter()
                .filter(|(_, _, w)| conflicts::overlaps(*w, day_window))
                .collect();
            let mut shown: Vec<i64> = on_day
                .iter()
                .filter(|p| p.1)
                .map(|p| p.0)
                .take(limit)
                .collect();
            if shown.len() < limit {
                shown.extend(
                    on_day
                        .iter()
                        .filter(|p| !p.1)
                        .map(|p| p.0)
                        .take(limit - shown.len()),
                );
            }
            (shown, on_day.len())
        })
        .collect()
}

/// The release list of every release planned on `day`, with the calendar's filters.
fn more_href(day: NaiveDate, release_type: Option<ReleaseType>, category: Option<i64>) -> String {
    let mut href = format!("{}?on={day}&sort=planned_start", paths::RELEASES);
    if let Some(t) = release_type {
        href.push_str(&format!("&type={}", t.as_str()));
    }
    if let Some(c) = category {
        href.push_str(&format!("&category={c}"));
    }
    href
}

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// When the release happens on `day`, in words.
fn when_on(w: Window, day: NaiveDate) -> String {
    let (starts, ends) = (w.0.date_naive() == day, w.1.date_naive() == day);
    let hm = |t: DateTime<Utc>| t.format("%H:%M").to_string();
    match (starts, ends) {
        (true, true) if w.0 == w.1 => format!("at {}", hm(w.0)),
        (true, true) => format!("{} to {}", hm(w.0), hm(w.1)),
        (true, false) => format!("starts {}", hm(w.0)),
        (false, true) => format!("ends {}", hm(w.1)),
        (false, false) => "all day".to_string(),
    }
}

fn blackout_label(b: &Blackout, categories: &HashMap<i64, String>) -> String {
    match b.category_id.and_then(|c| categories.get(&c)) {
        Some(c) => format!("Blackout: {} ({c} only)", b.name),
        None => format!("Blackout: {}", b.name),
    }
}

/// GET /calendar (`?month=2026-12&type=major&category=1`)
#[get("/calendar")]
async fn month(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    q: web::Query<CalendarQuery>,
) -> AppResult<HttpResponse> {
    let slot = match super::kept_page::lookup(&user).await {
        Ok(kept) => return Ok(kept),
        Err(slot) => slot,
    };
    let f = q.into_inner();
    let now = Utc::now();
    let this_month = now.date_naive().with_day(1).expect("day 1 exists");
    let parsed = parse_month(&f.month);
    let notice = if parsed.is_none() && !f.month.trim().is_empty() {
        format!(
            "“{}” is not a month like 2026-12, so this month is shown.",
            f.month.trim()
        )
    } else {
        String::new()
    };
    let first = parsed.unwrap_or(this_month);
    let next_first = first + Months::new(1);
    let last = next_first.pred_opt().expect("a day before");
    let (from, to) = (midnight(first), midnight(next_first));
    let (release_type, category) = (f.release_type(), f.category());
    let month_days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
    let key = (first, release_type.map(|t| t.as_str()), category);
    let data = match KEPT_MONTHS.get(&key) {
        Some(d) => d,
        None => match KEPT_MONTHS.after_turn(&key, MONTH_READER.lock()).await {
            Ok(d) => d,
            Err(_turn) => {
                let days = month_days.clone();
                let reading = crate::kept::reading();
                let d = std::sync::Arc::new(
                    db::run(&pool, move |conn| {
                        Ok(month_data(conn, from, to, &days, release_type, category)?)
                    })
                    .await?,
                );
                KEPT_MONTHS.put(key, reading, d.clone());
                d
            }
        },
    };
    let MonthData {
        total,
        picks,
        releases,
        categories,
        blackouts,
        warnings,
    } = &*data;
    let category_names: HashMap<i64, String> =
        categories.iter().map(|c| (c.id, c.name.clone())).collect();
    let by_id: HashMap<i64, (&Release, Window, Entry)> = releases
        .iter()
        .filter_map(|r| {
            let w = conflicts::window(r.planned_start, r.planned_end)?;
            let active = r.state == RecordState::Active.as_str();
            let e = Entry {
                number: paths::release_number(r.number),
                title: r.title.clone(),
                href: paths::release(r.number),
                type_key: r
                    .release_type
                    .parse::<ReleaseType>()
                    .map(|t| t.as_str())
                    .unwrap_or("other"),
                type_label: type_label(r),
                ended: if active {
                    String::new()
                } else {
                    state_label(r).to_string()
                },
                overdue: is_overdue(r, now),
                conflict: warnings.contains_key(&r.id),
                when: String::new(),
            };
            Some((r.id, (r, w, e)))
        })
        .collect();
    let picked: HashMap<NaiveDate, &(Vec<i64>, usize)> =
        month_days.iter().copied().zip(picks.iter()).collect();
    let blackouts: Vec<&Blackout> = blackouts
        .iter()
        .filter(|b| category.is_none_or(|c| b.applies_to(c)))
        .collect();
    let day_of = |d: NaiveDate| -> Day {
        let in_month = d.month() == first.month() && d.year() == first.year();
        let day_window = (midnight(d), midnight(d + Days::new(1)));
        let (entries, more) = match picked.get(&d).filter(|_| in_month) {
            Some((shown, all)) => (
                shown
                    .iter()
                    .filter_map(|id| by_id.get(id))
                    .map(|(_, w, e)| Entry {
                        when: when_on(*w, d),
                        ..e.clone()
                    })
                    .collect::<Vec<_>>(),
                all - shown.len(),
            ),
            None => (Vec::new(), 0),
        };
        let more_href = if more > 0 {
            more_href(d, release_type, category)
        } else {
            String::new()
        };
        let blackouts = if in_month {
            blackouts
                .iter()
                .filter(|b| conflicts::overlaps((b.starts_at, b.ends_at), day_window))
                .map(|b| blackout_label(b, &category_names))
                .collect()
        } else {
            Vec::new()
        };
        Day {
            day: d.day(),
            label: format!(
                "{} {} {}",
                WEEKDAYS[d.weekday().num_days_from_monday() as usize],
                d.day(),
                month_name(d)
            ),
            in_month,
            today: d == now.date_naive(),
            entries,
            more,
            more_href,
            blackouts,
        }
    };
    let grid_start = first - Days::new(u64::from(first.weekday().num_days_from_monday()));
    let grid_end = last + Days::new(u64::from(6 - last.weekday().num_days_from_monday()));
    let mut weeks = Vec::new();
    let mut d = grid_start;
    while d <= grid_end {
        let week: Vec<Day> = (0..7).map(|i| day_of(d + Days::new(i))).collect();
        weeks.push(week);
        d = d + Days::new(7);
    }
    let busy_days: Vec<Day> = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(day_of)
        .filter(|d| !d.entries.is_empty() || !d.blackouts.is_empty())
        .collect();
    let mut shown: Vec<&(&Release, Window, Entry)> = by_id.values().collect();
    shown.sort_by_key(|(r, _, _)| (r.planned_start.or(r.planned_end), r.number));
    let conflicts = shown
        .iter()
        .filter_map(|(r, _, e)| {
            warnings.get(&r.id).map(|w| ConflictItem {
                number: e.number.clone(),
                title: e.title.clone(),
                href: e.href.clone(),
                warnings: w.clone(),
            })
        })
        .collect();
    let capped = picks.iter().any(|(shown, all)| shown.len() < *all);
    let prev = first - Months::new(1);
    let p = MonthPage {
        ctx: user.ctx(),
        title: month_name(first),
        month: first.format("%Y-%m").to_string(),
        release_type: release_type
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        category: category.map(|c| c.to_string()).unwrap_or_default(),
        types: ReleaseType::ALL
            .iter()
            .map(|t| (t.as_str().to_string(), t.label().to_string()))
            .collect(),
        categories: categories
            .iter()
            .filter(|c| c.record_kind == "release")
            .map(|c| {
                (
                    c.id.to_string(),
                    if c.retired {
                        format!("{} (retired)", c.name)
                    } else {
                        c.name.clone()
                    },
                )
            })
            .collect(),
        notice,
        weeks,
        busy_days,
        releases: *total,
        capped,
        conflicts,
        prev_href: f.href(prev),
        prev_label: month_name(prev),
        next_href: f.href(next_first),
        next_label: month_name(next_first),
        this_month_href: f.href(this_month),
    };
    super::kept_page::page(slot, &p)
}

// ---------------------------------------------------------------- the account page

#[derive(Template)]
#[template(path = "account/calendar.html")]
struct AccountCalendarPage {
    ctx: Ctx,
    feed_url: String,
}

/// GET /account/calendar: the feed's address (the token is made on the first visit).
#[get("/account/calendar")]
async fn account_calendar(
    base: web::Data<crate::app::BaseUrl>,
    user: CurrentUser,
    pool: web::Data<DbPool>,
) -> AppResult<HttpResponse> {
    let uid = user.id;
    let token = db::run(&pool, move |conn| Ok(blk::calendar_token(conn, uid)?)).await?;
    let feed_url = base.join(&format!("{}?token={token}", paths::CALENDAR_FEED));
    page(&AccountCalendarPage {
        ctx: user.ctx(),
        feed_url,
    })
}

#[derive(Deserialize)]
struct Empty {}

/// POST /account/calendar/token: a new address; the old one stops working.
#[post("/account/calendar/token")]
async fn regenerate_token(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    _form: Form<Empty>,
) -> AppResult<HttpResponse> {
    let uid = user.id;
    db::run(&pool, move |conn| {
        Ok(blk::regenerate_calendar_token(conn, uid)?)
    })
    .await?;
    user.flash("success", "Your calendar feed has a new address. The old address no longer works: update your calendar app.");
    Ok(see_other(paths::ACCOUNT_CALENDAR))
}
