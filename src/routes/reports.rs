//! Reports: the management report on release progress (with server-drawn SVG charts) and
//! its CSV downloads, the release list as CSV, and the route of the printable release report
//! (`release_report`). Both reports use the nav-less `print.html` layout.
use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use askama::Template;
use chrono::{DateTime, Utc};

use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::domain::permissions;
use crate::domain::workflow::{RecordState, ReleaseType};
use crate::error::{AppError, AppResult};
use crate::models::releases::{self as rel, ListFilter};
use crate::models::workflows as wfm;
use crate::paths;
use crate::services::release_fields::Names;
use crate::services::releases as rsvc;
use crate::services::reports::{self as svc, ReportFilter, Table, CSV_MAX_ROWS};
use crate::views;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // `/releases.csv` and `/releases/{number}/report` are not matched by `/releases/{number}`
    // (a segment never holds a `/`, and `.csv` follows no slash), so the order is free.
    cfg.service(releases_csv)
        .service(super::release_report::release_report)
        .service(management)
        .service(management_csv);
}

/// The release list's CSV link: the list's filters and sort, every page.
pub fn releases_csv_href(f: &ListFilter) -> String {
    let parts: Vec<String> = f
        .pairs()
        .into_iter()
        .map(|(k, v)| format!("{k}={}", paths::encode(v)))
        .collect();
    if parts.is_empty() {
        format!("{}.csv", paths::RELEASES)
    } else {
        format!("{}.csv?{}", paths::RELEASES, parts.join("&"))
    }
}

// ---------------------------------------------------------------- CSV

/// A spreadsheet would run a cell starting with one of these as a formula: such text cells
/// get a leading apostrophe (OWASP's advice against CSV injection).
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// UTF-8's byte-order mark, first in every CSV download: without it Excel reads the file in
/// the machine's legacy code page and shows "Chloé" as "ChloÃ©". Other readers (LibreOffice,
/// Numbers, the `csv` crate, Python's `csv` with `utf-8-sig`) skip it.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A CSV body's first bytes: the byte-order mark.
fn csv_start() -> Vec<u8> {
    UTF8_BOM.to_vec()
}

fn csv_error(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("writing CSV: {e}"))
}

/// UTF-8 CSV (with a byte-order mark) with a header row, offered as a download.
fn csv_response<I>(
    filename: &str,
    header_row: &[&str],
    rows: I,
    capped: bool,
) -> AppResult<HttpResponse>
where
    I: IntoIterator<Item = Vec<String>>,
{
    let mut w = csv::Writer::from_writer(csv_start());
    w.write_record(header_row).map_err(csv_error)?;
    for r in rows {
        w.write_record(r.iter().map(|c| cell(c)))
            .map_err(csv_error)?;
    }
    let body = w.into_inner().map_err(csv_error)?;
    Ok(csv_headers(filename, capped).body(body))
}

/// A CSV download's response head.
fn csv_headers(filename: &str, capped: bool) -> actix_web::HttpResponseBuilder {
    let mut resp = HttpResponse::Ok();
    resp.content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if capped {
        // The cap is said where the link is; this tells scripts the file is not complete.
        resp.insert_header(("X-Relman-Rows-Capped", CSV_MAX_ROWS.to_string()));
    }
    resp
}

fn csv_time(t: &Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// Rows of the release CSV read and written at a time: a few hundred keep each download's
/// memory to a few hundred kilobytes, however many run at once, for a round trip per chunk.
const CSV_CHUNK: usize = 250;

/// Chunks of release CSV being read and written at once, across all downloads: many
/// downloads at once take turns instead of each holding its rows in memory.
static CSV_READERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Downloads under way at once; more wait for a turn before reading anything. Each holds its
/// ids (80 kB at 10,000 rows), the names of people, categories and phases and a chunk in
/// flight: with every download started at once (32 at once in the benchmark, timed out and
/// asked again and again) the server's memory grew with how many were waiting, not with rows.
/// Twice the readers keeps the readers busy while a download's last chunk is being sent.
static CSV_DOWNLOADS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(8);

/// GET /releases.csv: the rows of the release list with the same filters and sort, without
/// paging (at most `CSV_MAX_ROWS`). Streamed: the matching ids are read first, then the rows
/// a chunk at a time, each written out before the next is read, so memory stays flat however
/// many rows there are.
#[get("/releases.csv")]
async fn releases_csv(
    _user: CurrentUser,
    pool: web::Data<DbPool>,
    q: web::Query<ListFilter>,
) -> AppResult<HttpResponse> {
    use futures_util::StreamExt;
    let f = q.into_inner();
    // Held until the download's stream ends (or the client goes away and it is dropped).
    let turn = CSV_DOWNLOADS
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let (mut ids, categories, phases, names) = db::run(&pool, move |conn| {
        let ids = rel::ids_for_export(conn, &f, CSV_MAX_ROWS + 1)?;
        Ok((
            ids,
            wfm::categories_all(conn)?,
            wfm::phase_names(conn, "release")?,
            rsvc::name_book(conn)?,
        ))
    })
    .await?;
    let capped = ids.len() as i64 > CSV_MAX_ROWS;
    ids.truncate(CSV_MAX_ROWS as usize);
    let head = [
        "Number",
        "Title",
        "Type",
        "Category",
        "Phase",
        "State",
        "Coordinator",
        "Planned start (UTC)",
        "Planned end (UTC)",
        "Updated (UTC)",
        "Risk",
        "Registered (UTC)",
        "Ended (UTC)",
    ];
    let mut first = csv_start();
    first.extend_from_slice(&csv_bytes(std::iter::once(
        head.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
    ))?);
    let first = web::Bytes::from(first);
    let book = std::sync::Arc::new((categories, phases, names));
    let pool = pool.into_inner();
    let ids = std::sync::Arc::new(ids);
    let rows = futures_util::stream::iter(0..ids.len().div_ceil(CSV_CHUNK)).then(move |i| {
        let (pool, book, ids) = (pool.clone(), book.clone(), ids.clone());
        async move {
            let _turn = CSV_READERS
                .acquire()
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?;
            let chunk = ids[i * CSV_CHUNK..ids.len().min((i + 1) * CSV_CHUNK)].to_vec();
            let rows = db::run(&pool, move |conn| Ok(rel::by_ids_in_order(conn, &chunk)?)).await?;
            let (categories, phases, names) = &*book;
            csv_bytes(rows.iter().map(|r| {
                vec![
                    paths::release_number(r.number),
                    cell(&r.title),
                    r.release_type
                        .parse::<ReleaseType>()
                        .map(|t| t.label().to_string())
                        .unwrap_or_default(),
                    cell(
                        &categories
                            .iter()
                            .find(|c| c.id == r.category_id)
                            .map(|c| c.name.clone())
                            .unwrap_or_default(),
                    ),
                    cell(
                        &phases
                            .iter()
                            .find(|p| p.0 == r.phase_id)
                            .map(|p| p.1.clone())
                            .unwrap_or_default(),
                    ),
                    r.state
                        .parse::<RecordState>()
                        .map(|s| s.label().to_string())
                        .unwrap_or_default(),
                    cell(
                        &r.coordinator_id
                            .map(|id| names.user(id))
                            .unwrap_or_default(),
                    ),
                    csv_time(&r.planned_start),
                    csv_time(&r.planned_end),
                    csv_time(&Some(r.updated_at)),
                    r.risk
                        .parse::<crate::domain::risk::Risk>()
                        .map(|x| x.label().to_string())
                        .unwrap_or_default(),
                    csv_time(&Some(r.created_at)),
                    csv_time(&r.closed_at),
                ]
            }))
        }
    });
    let body = futures_util::stream::once(async move { Ok::<_, AppError>(first) })
        .chain(rows)
        .map(move |chunk| {
            let _turn = &turn;
            chunk
        });
    let mut resp = csv_headers(
        &format!("releases-{}.csv", Utc::now().format("%Y%m%d")),
        capped,
    );
    Ok(resp.streaming(body))
}

/// Records as CSV bytes (cells already made safe by `cell` where they hold user text).
fn csv_bytes(rows: impl Iterator<Item = Vec<String>>) -> Result<web::Bytes, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r).map_err(csv_error)?;
    }
    Ok(web::Bytes::from(w.into_inner().map_err(csv_error)?))
}

// ---------------------------------------------------------------- charts

/// A horizontal bar chart drawn as inline SVG: geometry computed here, no script, no style.
pub struct ChartView {
    pub id: String,
    pub title: String,
    pub height: i32,
    pub bars: Vec<BarView>,
}

pub struct BarView {
    pub label: String,
    pub value: String,
    pub y: i32,
    pub text_y: i32,
    pub width: i32,
    pub value_x: i32,
}

const CHART_WIDTH: i32 = 640;
const LABEL_END: i32 = 290;
const BAR_X: i32 = 300;
const BAR_MAX: i32 = 290;
const ROW: i32 = 26;
const BAR_H: i32 = 16;
const TOP: i32 = 8;

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max - 1).collect::<String>())
    }
}

fn chart(t: &Table) -> Option<ChartView> {
    let (measure, col) = t.chart?;
    // Each bar is labelled with the same text as its cell in the table.
    let bars: Vec<(&str, f64, &str)> = t
        .rows
        .iter()
        .filter(|r| !r.total)
        .filter_map(|r| {
            r.chart_value.map(|v| {
                (
                    r.cells[0].as_str(),
                    v,
                    r.cells.get(col).map(String::as_str).unwrap_or(""),
                )
            })
        })
        .collect();
    if bars.is_empty() {
        return None;
    }
    let max = bars.iter().map(|b| b.1).fold(0.0_f64, f64::max);
    Some(ChartView {
        id: format!("chart-{}", t.key),
        title: format!(
            "Bar chart: {} — {}. The same numbers are in the table below.",
            t.title,
            measure.to_lowercase()
        ),
        height: TOP * 2 + ROW * bars.len() as i32,
        bars: bars
            .iter()
            .enumerate()
            .map(|(i, (label, v, text))| {
                let width = if max > 0.0 {
                    (v / max * f64::from(BAR_MAX)).round() as i32
                } else {
                    0
                };
                let y = TOP + ROW * i as i32 + (ROW - BAR_H) / 2;
                BarView {
                    label: short(label, 40),
                    value: text.to_string(),
                    y,
                    text_y: y + BAR_H - 3,
                    width,
                    value_x: BAR_X + width + 6,
                }
            })
            .collect(),
    })
}

// ---------------------------------------------------------------- the management report

pub struct Section {
    pub table: Table,
    pub chart: Option<ChartView>,
    pub csv_href: String,
}

#[derive(Template)]
#[template(path = "reports/management.html")]
struct ManagementPage {
    printed_at: String,
    printed_by: String,
    f: ReportFilter,
    scope_text: String,
    categories: Vec<(String, String)>,
    types: Vec<(String, String)>,
    sections: Vec<Section>,
    chart_width: i32,
    bar_x: i32,
    label_end: i32,
    bar_h: i32,
}

fn require_manager(user: &CurrentUser) -> AppResult<()> {
    user.require(
        permissions::can_manage_policy(user.actor()),
        "Only release managers see the management report.",
    )
}

fn csv_href(f: &ReportFilter, key: &str) -> String {
    let q = f.query();
    if q.is_empty() {
        format!("/reports/management.csv?table={key}")
    } else {
        format!("/reports/management.csv?table={key}&{q}")
    }
}

/// GET /reports/management: the management report on release progress (managers only).
#[get("/reports/management")]
async fn management(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    q: web::Query<ReportFilter>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let slot = match super::kept_page::lookup(&user).await {
        Ok(kept) => return Ok(kept),
        Err(slot) => slot,
    };
    let f = q.into_inner();
    let scope = f.scope();
    let now = Utc::now();
    let s2 = scope.clone();
    let (tables, categories) = db::run(&pool, move |conn| {
        Ok((
            svc::management(conn, &s2, now, None, svc::OVERDUE_ROWS)?,
            wfm::categories_all(conn)?,
        ))
    })
    .await?;
    let categories: Vec<(String, String)> = categories
        .into_iter()
        .filter(|c| c.record_kind == "release")
        .map(|c| (c.id.to_string(), c.name))
        .collect();
    let mut scope_parts = vec![match (scope.from, scope.to) {
        (Some(a), Some(b)) => format!("Releases registered from {a} to {b}"),
        (Some(a), None) => format!("Releases registered on or after {a}"),
        (None, Some(b)) => format!("Releases registered on or before {b}"),
        (None, None) => "All releases".to_string(),
    }];
    if let Some(c) = scope.category {
        scope_parts.push(format!(
            "category {}",
            categories
                .iter()
                .find(|x| x.0 == c.to_string())
                .map(|x| x.1.as_str())
                .unwrap_or("(unknown)")
        ));
    }
    if let Some(t) = &scope.release_type {
        scope_parts.push(format!(
            "type {}",
            t.parse::<ReleaseType>().map(|t| t.label()).unwrap_or("")
        ));
    }
    let sections = tables
        .into_iter()
        .map(|t| Section {
            chart: chart(&t),
            csv_href: csv_href(&f, t.key),
            table: t,
        })
        .collect();
    super::kept_page::page(
        slot,
        &ManagementPage {
            printed_at: views::datetime(&now),
            printed_by: user.display_name.clone(),
            scope_text: format!("{}.", scope_parts.join(", ")),
            categories,
            types: ReleaseType::ALL
                .iter()
                .map(|t| (t.as_str().to_string(), t.label().to_string()))
                .collect(),
            sections,
            f,
            chart_width: CHART_WIDTH,
            bar_x: BAR_X,
            label_end: LABEL_END,
            bar_h: BAR_H,
        },
    )
}

/// GET /reports/management.csv?table=KEY&…: one table of the management report as CSV.
#[get("/reports/management.csv")]
async fn management_csv(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    q: web::Query<ReportFilter>,
) -> AppResult<HttpResponse> {
    require_manager(&user)?;
    let f = q.into_inner();
    let Some(key) = svc::TABLE_KEYS.iter().find(|k| **k == f.table).copied() else {
        return Err(AppError::BadRequest(format!(
            "Choose a table: {}.",
            svc::TABLE_KEYS.join(", ")
        )));
    };
    let scope = f.scope();
    let now = Utc::now();
    let mut tables = db::run(&pool, move |conn| {
        Ok(svc::management(conn, &scope, now, Some(key), CSV_MAX_ROWS)?)
    })
    .await?;
    let t = tables.pop().ok_or(AppError::NotFound)?;
    let filename = format!(
        "management-{}-{}.csv",
        key.replace('_', "-"),
        now.format("%Y%m%d")
    );
    csv_response(
        &filename,
        &t.columns,
        t.rows.into_iter().map(|r| r.cells),
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_that_look_like_formulas_are_defused() {
        assert_eq!(cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(cell("Billing, \"4.2\""), "Billing, \"4.2\"");
    }

    #[test]
    fn the_csv_link_keeps_the_filters_but_not_the_page() {
        let f = ListFilter {
            state: "active".into(),
            q: "a b".into(),
            page: "3".into(),
            ..Default::default()
        };
        assert_eq!(releases_csv_href(&f), "/releases.csv?state=active&q=a%20b");
        assert_eq!(releases_csv_href(&ListFilter::default()), "/releases.csv");
    }
}
