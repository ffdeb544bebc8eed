//! The counts in every signed-in page's navigation (approvals waiting for the user, unread
//! notifications), kept per user for a few seconds: counting an approver's inbox is the
//! dearest statement of a request, and the same person asks again on their next click.
//!
//! Any write through this process (a request other than GET or HEAD, a deadline-monitor run)
//! starts a new generation and so drops every kept count: what a user does is reflected on
//! their next page. What another instance does shows within the time limit. A form post does
//! not count at all (it mostly answers with a redirect): a form shown again with its errors
//! carries the counts last kept for the user. The limit is
//! set by `relman serve` (`RELMAN_NAV_COUNT_SECS`, default 5); it is 0 — nothing kept —
//! until then, so tests built on `Application` see exact counts.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static TTL_SECS: AtomicU64 = AtomicU64::new(0);
static GENERATION: AtomicU64 = AtomicU64::new(0);
static KEPT: Mutex<Option<HashMap<i64, Kept>>> = Mutex::new(None);

/// Users whose counts are kept at most: past it the oldest half is dropped.
const MAX_USERS: usize = 10_000;

#[derive(Clone, Copy)]
struct Kept {
    at: Instant,
    generation: u64,
    counts: (usize, i64),
}

pub fn set_ttl_secs(secs: u64) {
    TTL_SECS.store(secs, Ordering::Relaxed);
}

/// Something was written: every kept count may be wrong now.
pub fn written() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The kept (approvals waiting, unread notifications) of this user, if still good.
pub fn get(user_id: i64) -> Option<(usize, i64)> {
    let ttl = TTL_SECS.load(Ordering::Relaxed);
    if ttl == 0 {
        return None;
    }
    let generation = GENERATION.load(Ordering::Relaxed);
    let kept = KEPT.lock().ok()?;
    let k = kept.as_ref()?.get(&user_id)?;
    (k.generation == generation && k.at.elapsed() < Duration::from_secs(ttl)).then_some(k.counts)
}

/// Whether counts are kept at all (`relman serve`; not in tests building `Application`).
pub fn enabled() -> bool {
    TTL_SECS.load(Ordering::Relaxed) > 0
}

/// The last counts kept for this user, however old: for a form post's page, which shows
/// what the user saw on the page they posted from.
pub fn last(user_id: i64) -> Option<(usize, i64)> {
    KEPT.lock().ok()?.as_ref()?.get(&user_id).map(|k| k.counts)
}

/// Keep counts read from the database, tagged with the generation read before reading them
/// (a write meanwhile makes them stale at once).
pub fn put(user_id: i64, generation: u64, counts: (usize, i64)) {
    if TTL_SECS.load(Ordering::Relaxed) == 0 {
        return;
    }
    let Ok(mut kept) = KEPT.lock() else { return };
    let map = kept.get_or_insert_with(HashMap::new);
    if map.len() >= MAX_USERS {
        let mut ages: Vec<Instant> = map.values().map(|k| k.at).collect();
        ages.sort_unstable();
        let cut = ages[ages.len() / 2];
        map.retain(|_, k| k.at > cut);
    }
    map.insert(user_id, Kept { at: Instant::now(), generation, counts });
}

/// The generation now, to pass to `put` after reading.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_kept_until_a_write_or_the_time_limit() {
        set_ttl_secs(0);
        put(1, generation(), (3, 4));
        assert_eq!(get(1), None, "nothing is kept while the limit is 0");
        set_ttl_secs(60);
        put(1, generation(), (3, 4));
        assert_eq!(get(1), Some((3, 4)));
        assert_eq!(get(2), None);
        written();
        assert_eq!(get(1), None, "a write drops what was kept");
        assert_eq!(last(1), Some((3, 4)), "but a form post's page may still show them");
        // Read before a write, kept after it: never served.
        let before = generation();
        written();
        put(1, before, (5, 6));
        assert_eq!(get(1), None);
        set_ttl_secs(0);
    }
}
