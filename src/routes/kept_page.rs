//! Whole pages kept per session and address until anything is written (`kept`): the release
//! list, a release, the dashboard, the calendar and the management report are asked for again
//! and again between writes, and a kept page costs only the statement that loads the
//! signed-in user (which also tells whether any instance has written since).
//!
//! Kept per session, not per person: a page carries its session's form token. A page that
//! shows a one-time message is not kept, and none is served while a message waits.
use std::sync::Arc;

use actix_web::HttpResponse;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::kept::{self, Kept};

/// At most this many pages (a list page at a million releases is about 60 kB).
const MAX_PAGES: usize = 64;

static PAGES: Kept<(String, String), Arc<str>> = Kept::new(MAX_PAGES);

/// Where a page about to be read would be kept, and the generation it is read in.
pub struct Slot {
    key: Option<(String, String)>,
    generation: u64,
}

/// Before reading the database: the page kept for this session and address (`Ok`), or the
/// slot to keep the page in once it is rendered (`Err`).
pub fn lookup(user: &CurrentUser) -> Result<HttpResponse, Slot> {
    let generation = kept::generation();
    let key = match user.session.session_id() {
        Some(sid) if kept::enabled() && !user.address.is_empty() && !user.session.has_flash() => Some((sid, user.address.clone())),
        _ => None,
    };
    if let Some(body) = key.as_ref().and_then(|k| PAGES.get(k)) {
        return Ok(html(body.to_string()));
    }
    Err(Slot { key, generation })
}

/// Render a page with 200, and keep it in its slot.
pub fn page<T: askama::Template>(slot: Slot, t: &T) -> Result<HttpResponse, AppError> {
    let body = t.render()?;
    if let Some(key) = slot.key {
        PAGES.put(key, slot.generation, Arc::from(body.as_str()));
    }
    Ok(html(body))
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body)
}
