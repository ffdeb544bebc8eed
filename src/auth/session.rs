//! `TypedSession`: the only code that knows the session's keys.
use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use base64::Engine;
use chrono::Utc;
use std::future::{ready, Ready};

use crate::error::AppError;
use crate::views::Flash;

const USER_ID: &str = "uid";
const EPOCH: &str = "epoch";
const SESSION_ID: &str = "sid";
const CSRF: &str = "csrf";
const SEEN: &str = "seen";
const FLASH: &str = "flash";

/// At most this many flash messages wait in the session (the newest are kept): the session
/// lives in a cookie, and a client that posts again and again without viewing a page (a
/// script, a retrying client) would otherwise grow it past what a cookie can hold.
pub const FLASH_MAX_MESSAGES: usize = 5;
/// A flash message longer than this many characters is cut (with "…").
pub const FLASH_MAX_CHARS: usize = 300;
/// The flash messages together stay under this many bytes as the session stores them (JSON
/// inside the session's JSON): with the rest of the session (about 250 bytes), encryption
/// and base64 (4/3) the cookie stays near 3 KB, under the 4 KB a browser keeps.
pub const FLASH_MAX_BYTES: usize = 2_000;

/// Sessions end after this long without a request.
pub const IDLE_LIMIT_SECS: i64 = 8 * 3600;

#[derive(Clone)]
pub struct TypedSession(Session);

fn internal<E: std::fmt::Display>(e: E) -> AppError {
    AppError::Internal(format!("session: {e}"))
}

impl TypedSession {
    /// A new, unguessable session id, to record (`models::sessions::open`) before `sign_in`.
    pub fn new_id() -> String {
        new_token()
    }

    /// Start a fresh session for a signed-in user (a new id and a new CSRF token).
    pub fn sign_in(&self, user_id: i64, epoch: i32, session_id: &str) -> Result<(), AppError> {
        self.0.renew();
        self.0.clear();
        self.0.insert(USER_ID, user_id).map_err(internal)?;
        self.0.insert(SESSION_ID, session_id).map_err(internal)?;
        self.0.insert(EPOCH, epoch).map_err(internal)?;
        self.0
            .insert(SEEN, Utc::now().timestamp())
            .map_err(internal)?;
        self.0.insert(CSRF, new_token()).map_err(internal)?;
        Ok(())
    }

    pub fn sign_out(&self) {
        self.0.purge();
    }

    pub fn user_id(&self) -> Option<i64> {
        self.0.get(USER_ID).ok().flatten()
    }

    /// The id of the session's row in `user_sessions`.
    pub fn session_id(&self) -> Option<String> {
        self.0.get(SESSION_ID).ok().flatten()
    }

    pub fn epoch(&self) -> Option<i32> {
        self.0.get(EPOCH).ok().flatten()
    }

    /// Seconds since the last request, or None when never seen.
    pub fn idle_secs(&self) -> Option<i64> {
        let seen: i64 = self.0.get(SEEN).ok().flatten()?;
        Some(Utc::now().timestamp() - seen)
    }

    /// Note activity; written at most once a minute so most responses carry no new cookie.
    pub fn touch(&self) {
        if self.idle_secs().is_none_or(|s| s >= 60) {
            let _ = self.0.insert(SEEN, Utc::now().timestamp());
        }
    }

    pub fn set_epoch(&self, epoch: i32) {
        let _ = self.0.insert(EPOCH, epoch);
    }

    /// The CSRF token of this session, created on first use.
    pub fn csrf_token(&self) -> String {
        if let Ok(Some(t)) = self.0.get::<String>(CSRF) {
            return t;
        }
        let t = new_token();
        let _ = self.0.insert(CSRF, &t);
        t
    }

    /// Whether `candidate` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, candidate: &str) -> bool {
        match self.0.get::<String>(CSRF) {
            Ok(Some(t)) => constant_time_eq(t.as_bytes(), candidate.as_bytes()),
            _ => false,
        }
    }

    pub fn flash(&self, kind: &str, message: impl Into<String>) {
        let all: Vec<(String, String)> = self.0.get(FLASH).ok().flatten().unwrap_or_default();
        let _ = self.0.insert(FLASH, with_flash(all, kind, &message.into()));
    }

    /// Whether a message waits to be shown on the next page.
    pub fn has_flash(&self) -> bool {
        self.0
            .get::<Vec<(String, String)>>(FLASH)
            .ok()
            .flatten()
            .is_some_and(|all| !all.is_empty())
    }

    pub fn take_flash(&self) -> Vec<Flash> {
        let all: Vec<(String, String)> = self
            .0
            .remove_as(FLASH)
            .and_then(|r| r.ok())
            .unwrap_or_default();
        all.into_iter()
            .map(|(kind, message)| Flash { kind, message })
            .collect()
    }
}

/// The waiting messages with one more: the newest [`FLASH_MAX_MESSAGES`], each cut to
/// [`FLASH_MAX_CHARS`], together under [`FLASH_MAX_BYTES`].
fn with_flash(mut all: Vec<(String, String)>, kind: &str, message: &str) -> Vec<(String, String)> {
    let message = if message.chars().count() > FLASH_MAX_CHARS {
        let cut: String = message.chars().take(FLASH_MAX_CHARS - 1).collect();
        format!("{}…", cut.trim_end())
    } else {
        message.to_string()
    };
    all.push((kind.chars().take(20).collect(), message));
    let excess = all.len().saturating_sub(FLASH_MAX_MESSAGES);
    all.drain(..excess);
    let size = |all: &[(String, String)]| {
        serde_json::to_string(all)
            .and_then(|inner| serde_json::to_string(&inner))
            .map_or(0, |j| j.len())
    };
    while all.len() > 1 && size(&all) > FLASH_MAX_BYTES {
        all.remove(0);
    }
    all
}

fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequest for TypedSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<TypedSession, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(TypedSession(req.get_session())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_few_messages_wait() {
        let mut all = Vec::new();
        for i in 0..100 {
            all = with_flash(all, "success", &format!("Saved change {i}."));
        }
        assert_eq!(all.len(), FLASH_MAX_MESSAGES);
        assert_eq!(all.last().unwrap().1, "Saved change 99.");
        assert_eq!(
            all[0].1,
            format!("Saved change {}.", 100 - FLASH_MAX_MESSAGES)
        );
    }

    #[test]
    fn long_messages_are_cut_and_the_total_stays_small() {
        let mut all = Vec::new();
        for _ in 0..10 {
            // Quotes and non-ASCII grow as JSON (and as JSON inside the session's JSON).
            all = with_flash(all, "error", &"\"ü\u{1f600}".repeat(2_000));
        }
        assert!(all
            .iter()
            .all(|(_, m)| m.chars().count() <= FLASH_MAX_CHARS));
        assert!(all[0].1.ends_with('…'));
        let stored = serde_json::to_string(&serde_json::to_string(&all).unwrap()).unwrap();
        assert!(stored.len() <= FLASH_MAX_BYTES, "{}", stored.len());
        assert!(!all.is_empty());
    }
}
