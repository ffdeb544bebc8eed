//! The iCalendar feed (RFC 5545) behind a per-user secret token: releases, changes or both
//! (`?include=`), each shown as `domain::calendar` says (an ended record on its actual window,
//! with its outcome, cancelled when it did not deliver), and the blackout windows as busy
//! events of their own.
use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Days, Utc};

use super::calendar::midnight;
use icalendar::{Calendar, Component, EventLike, EventStatus};
use serde::Deserialize;

use crate::app::BaseUrl;
use crate::db::{self, DbPool};
use crate::domain::calendar::{self as cal, Status};
use crate::domain::workflow::{ChangeType, RecordKind, RecordState, ReleaseType};
use crate::error::{AppError, AppResult};
use crate::models::blackouts::{self as blk, Blackout};
use crate::models::releases::Release;
use crate::models::workflows as wfm;
use crate::paths;
use crate::services::conflicts;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(feed);
}

#[derive(Deserialize)]
struct FeedQuery {
    #[serde(default)]
    token: String,
    #[serde(default, rename = "type")]
    record_type: String,
    #[serde(default)]
    category: String,
    /// `releases`, `changes` or `both` (the default, and what anything else means: the
    /// addresses given out before there was a choice keep working).
    #[serde(default)]
    include: String,
}

impl FeedQuery {
    fn kinds(&self) -> &'static [RecordKind] {
        match self.include.trim() {
            "releases" => &[RecordKind::Release],
            "changes" => &[RecordKind::Change],
            _ => &[RecordKind::Release, RecordKind::Change],
        }
    }

    /// A type of release or of change (`emergency` is both).
    fn record_type(&self) -> Option<&'static str> {
        let t = self.record_type.trim();
        t.parse::<ReleaseType>()
            .map(|t| t.as_str())
            .or_else(|_| t.parse::<ChangeType>().map(|t| t.as_str()))
            .ok()
    }
}

/// How far back and ahead the feed reaches: calendar apps fetch it whole, again and again.
const FEED_DAYS_BACK: u64 = 92;
const FEED_DAYS_AHEAD: u64 = 366;
/// Most records of each kind in a feed (calendar apps choke on more; at a million releases
/// those 15 months hold hundreds of thousands): the active ones first, then those nearest
/// today.
pub const FEED_MAX_EVENTS: i64 = 2_000;

/// What the feed shows, read in one go.
struct FeedData {
    records: Vec<Release>,
    /// Phase names of both kinds, by id.
    phases: HashMap<i64, String>,
    categories: HashMap<i64, String>,
    /// Conflict warnings of the active releases.
    warnings: HashMap<i64, Vec<String>>,
    /// The numbers of the releases that changes belong to, by id.
    related: HashMap<i64, i64>,
    blackouts: Vec<Blackout>,
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn window_words((start, end): cal::Window) -> String {
    if start == end {
        when(start)
    } else {
        format!("{} to {}", when(start), when(end))
    }
}

/// One record's event, `None` when it has no window at all.
fn record_event(
    r: &Release,
    d: &FeedData,
    base: &str,
    now: DateTime<Utc>,
) -> Option<icalendar::Event> {
    let kind = r.kind.parse::<RecordKind>().unwrap_or(RecordKind::Release);
    let state = r
        .state
        .parse::<RecordState>()
        .unwrap_or(RecordState::Active);
    let shown = cal::shown(
        state,
        (r.planned_start, r.planned_end),
        (r.actual_start, r.actual_end),
    )?;
    let number = paths::record_number(&r.kind, r.number);
    let type_label = kind.type_label(&r.release_type);
    let mut description = vec![
        format!("Type: {type_label}"),
        format!(
            "Category: {}",
            d.categories
                .get(&r.category_id)
                .map(String::as_str)
                .unwrap_or("")
        ),
        format!(
            "Phase: {}",
            d.phases.get(&r.phase_id).map(String::as_str).unwrap_or("")
        ),
        format!("State: {}", state.label()),
    ];
    if let Some(planned) = cal::window(r.planned_start, r.planned_end) {
        description.push(format!("Planned: {}", window_words(planned)));
    }
    if shown.actual {
        description.push(format!("Actual: {}", window_words(shown.window)));
    }
    if let Some(n) = r.related_release_id.and_then(|id| d.related.get(&id)) {
        description.push(format!("Release: {}", paths::release_number(*n)));
    }
    let overdue = state == RecordState::Active
        && (r.planned_end.is_some_and(|e| e < now) || r.phase_due_at.is_some_and(|t| t < now));
    if overdue {
        description.push("Overdue".to_string());
    }
    for w in d.warnings.get(&r.id).into_iter().flatten() {
        description.push(format!("Conflict: {w}"));
    }
    let (start, end) = shown.window;
    let mut event = icalendar::Event::new();
    event
        .uid(&format!("{number}@relman"))
        .timestamp(r.updated_at)
        .last_modified(r.updated_at)
        .created(r.created_at)
        .sequence(u32::try_from(r.version).unwrap_or(0))
        .summary(&feed_text(&cal::summary(&number, &r.title, shown.outcome)))
        .description(&feed_text(&description.join("\n")))
        .categories([kind.label(), type_label])
        .url(&format!("{base}{}", paths::record(&r.kind, r.number)))
        .status(match shown.status {
            Status::Confirmed => EventStatus::Confirmed,
            Status::Cancelled => EventStatus::Cancelled,
        })
        .starts(start);
    // A moment, not a window, when only one end is known: DTEND is left out (RFC 5545).
    if end > start {
        event.ends(end);
    }
    Some(event.done())
}

/// Text as an iCalendar TEXT value may hold it. The `icalendar` crate escapes LF (as `\n`)
/// but writes a CR as it is, and a client that ends lines at a bare CR would read what follows
/// as a new property or event: every line break (CR-LF, CR or LF) becomes one LF, and any other
/// control character but a tab (which forms no longer accept, but older data may hold) is shown
/// as U+FFFD.
fn feed_text(s: &str) -> String {
    s.replace("\r\n", "\n")
        .chars()
        .map(|c| match c {
            '\r' => '\n',
            '\n' | '\t' => c,
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// A blackout window: busy time of its own.
fn blackout_event(b: &Blackout, d: &FeedData) -> icalendar::Event {
    let applies = match b.category_id.and_then(|c| d.categories.get(&c)) {
        Some(c) => format!("Applies to: {c}"),
        None => "Applies to: every category".to_string(),
    };
    icalendar::Event::new()
        .uid(&format!("blackout-{}@relman", b.id))
        .timestamp(b.created_at)
        .created(b.created_at)
        .summary(&feed_text(&format!("Blackout: {}", b.name)))
        .description(&feed_text(&format!(
            "No release should be rolled out in this window.\n{applies}"
        )))
        .categories(["Blackout"])
        .add_property("TRANSP", "OPAQUE")
        .status(EventStatus::Confirmed)
        .starts(b.starts_at)
        .ends(b.ends_at)
        .done()
}

/// GET /calendar.ics?token=…[&include=releases|changes|both][&type=…][&category=…]: from
/// three months back to a year ahead, one event per release or change with a window, and one
/// per blackout. The token stands for the user (calendar apps cannot sign in): a wrong one,
/// or a deactivated user's, is a 404.
#[get("/calendar.ics")]
async fn feed(
    base: web::Data<BaseUrl>,
    pool: web::Data<DbPool>,
    q: web::Query<FeedQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    if !blk::looks_like_token(&q.token) {
        return Err(AppError::NotFound);
    }
    let now = Utc::now();
    let from = midnight(now.date_naive() - Days::new(FEED_DAYS_BACK));
    let to = midnight(now.date_naive() + Days::new(FEED_DAYS_AHEAD));
    let (kinds, record_type) = (q.kinds(), q.record_type());
    let category = q.category.trim().parse::<i64>().ok();
    let token = q.token.clone();
    let found = db::run(&pool, move |conn| {
        // Every signed-in user may read every record; the token only has to be a live one.
        if blk::user_by_calendar_token(conn, &token)?.is_none() {
            return Ok(None);
        }
        let mut records = Vec::new();
        let mut phases = HashMap::new();
        for kind in kinds {
            records.extend(blk::records_touching(
                conn,
                *kind,
                from,
                to,
                record_type,
                category,
                now,
                FEED_MAX_EVENTS,
            )?);
            phases.extend(
                wfm::phase_names(conn, kind.as_str())?
                    .into_iter()
                    .map(|(id, name, _)| (id, name)),
            );
        }
        let categories: HashMap<i64, String> = wfm::categories_all(conn)?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        let releases: Vec<Release> = records
            .iter()
            .filter(|r| r.kind == RecordKind::Release.as_str())
            .cloned()
            .collect();
        let warnings = conflicts::warnings_for_releases(conn, &releases)?;
        let mut related_ids: Vec<i64> = records
            .iter()
            .filter_map(|r| r.related_release_id)
            .collect();
        related_ids.sort_unstable();
        related_ids.dedup();
        let related = crate::models::releases::by_ids(conn, &related_ids)?
            .into_iter()
            .map(|r| (r.id, r.number))
            .collect();
        let blackouts = blk::touching(conn, from, to)?
            .into_iter()
            .filter(|b| category.is_none_or(|c| b.applies_to(c)))
            .collect();
        Ok(Some(FeedData {
            records,
            phases,
            categories,
            warnings,
            related,
            blackouts,
        }))
    })
    .await?;
    let Some(data) = found else {
        return Err(AppError::NotFound);
    };
    // Absolute links come from RELMAN_BASE_URL only, never from the request's host.
    let base = base.join("");
    let name = match kinds {
        [RecordKind::Release] => "Relman releases",
        [RecordKind::Change] => "Relman changes",
        _ => "Relman releases and changes",
    };
    let mut calendar = Calendar::empty();
    calendar
        .append_property(("VERSION", "2.0"))
        .append_property(("PRODID", "-//Relman//Release calendar//EN"))
        .append_property(("CALSCALE", "GREGORIAN"))
        .append_property(("METHOD", "PUBLISH"))
        .name(name)
        .description(
            "Windows of releases and changes in Relman (ended ones on their actual window), \
             and blackout windows (times in UTC)",
        )
        .ttl(&chrono::Duration::hours(1));
    for r in &data.records {
        if let Some(e) = record_event(r, &data, &base, now) {
            calendar.push(e);
        }
    }
    for b in &data.blackouts {
        calendar.push(blackout_event(b, &data));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "inline; filename=\"relman-releases.ics\"",
        ))
        .body(calendar.to_string()))
}

#[cfg(test)]
mod tests {
    use super::feed_text;

    #[test]
    fn no_carriage_return_or_control_character_reaches_the_feed() {
        assert_eq!(
            feed_text("RL-1 Fix\rEND:VEVENT\r\nBEGIN:VEVENT"),
            "RL-1 Fix\nEND:VEVENT\nBEGIN:VEVENT"
        );
        assert_eq!(
            feed_text("a\u{1b}[31mb\u{0}c\td"),
            "a\u{fffd}[31mb\u{fffd}c\td"
        );
        assert_eq!(feed_text("plain, text; as is"), "plain, text; as is");
    }
}
