//! Whole pages kept per session and address until anything is written (`kept`): the release
//! list, a release, the dashboard, the calendar and the management report are asked for again
//! and again between writes, and a kept page costs only the statement that loads the
//! signed-in user (which also tells whether any instance has written since).
//!
//! Kept per session, not per person: a page carries its session's form token. A page that
//! shows a one-time message is not kept, and none is served while a message waits.
//!
//! When a page has to be read (the first time, or after a write), one request reads it while
//! the others asking for the same page wait and are given it: a write does not send every
//! waiting request to the database at once.

use actix_web::web::Bytes;
use actix_web::HttpResponse;
use tokio::sync::OwnedMutexGuard;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::kept::{self, Kept};

/// At most this many pages (a list page at a million releases is about 30 kB).
const MAX_PAGES: usize = 64;

/// Bytes, so a kept page is handed to each response by reference, not copied.
static PAGES: Kept<(String, String), Bytes> = Kept::new(MAX_PAGES);

/// Turns for reading a page.
static READING: kept::Turns = kept::Turns::new();

/// Where a page about to be read would be kept, when its reading began, and the lock that
/// makes the others asking for it wait.
pub struct Slot {
    key: Option<(String, String)>,
    reading: kept::Reading,
    _reading: Option<OwnedMutexGuard<()>>,
}

/// Before reading the database: the page kept for this session and address (`Ok`), or the
/// slot to keep the page in once it is rendered (`Err`).
pub async fn lookup(user: &CurrentUser) -> Result<HttpResponse, Slot> {
    let key = match user.session.session_id() {
        Some(sid) if kept::enabled() && !user.address.is_empty() && !user.session.has_flash() => {
            (sid, user.address.clone())
        }
        _ => {
            return Err(Slot {
                key: None,
                reading: kept::reading(),
                _reading: None,
            })
        }
    };
    if let Some(body) = PAGES.get(&key) {
        return Ok(html(body));
    }
    // Read by the request that held the lock meanwhile?
    let reading = match PAGES.after_turn(&key, READING.take(&key)).await {
        Ok(body) => return Ok(html(body)),
        Err(turn) => turn,
    };
    Err(Slot {
        key: Some(key),
        reading: kept::reading(),
        _reading: Some(reading),
    })
}

/// Render a page with 200, and keep it in its slot.
pub fn page<T: askama::Template>(slot: Slot, t: &T) -> Result<HttpResponse, AppError> {
    let body = Bytes::from(t.render()?);
    if let Some(key) = slot.key {
        PAGES.put(key, slot.reading, body.clone());
    }
    Ok(html(body))
}

fn html(body: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}
