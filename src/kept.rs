//! Values computed from the database and kept for a few seconds, until anything is written.
//!
//! Any write through this process (a request other than GET or HEAD, a deadline-monitor run)
//! starts a new generation, and a value is only served in the generation it was read in: what
//! a user does is reflected on their next page. Writes through other instances reach here
//! through the database: each write advances the sequence `relman_writes` after it commits,
//! every request reads it with the signed-in user, and a value it has not seen starts a new
//! generation too. What is written behind Relman's back (SQL, other commands) shows within
//! the time limit. The limit is set by `relman serve` (`RELMAN_KEEP_SECS`, default 5); it is
//! 0 — nothing kept — until then, so tests built on `Application` always read afresh unless
//! they set it. Used for the navigation counts (`auth::nav_counts`), the calendar's month and
//! whole pages (`routes::kept_page`).
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

static TTL_SECS: AtomicU64 = AtomicU64::new(0);
static GENERATION: AtomicU64 = AtomicU64::new(0);

pub fn set_ttl_secs(secs: u64) {
    TTL_SECS.store(secs, Ordering::Relaxed);
}

/// Whether anything is kept at all.
pub fn enabled() -> bool {
    TTL_SECS.load(Ordering::Relaxed) > 0
}

/// Something was written: every kept value may be wrong now.
pub fn written() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The last value of `relman_writes` this process has seen.
static DATABASE_WRITES: AtomicI64 = AtomicI64::new(i64::MIN);

/// The database's count of writes, read with the signed-in user: when any instance has
/// written since the last one seen here, what is kept may be wrong.
pub fn saw_database_writes(n: i64) {
    if n > DATABASE_WRITES.fetch_max(n, Ordering::Relaxed) {
        written();
    }
}

diesel::define_sql_function! {
    /// Migration 000024: the last value of `relman_writes`.
    fn relman_writes_seen() -> diesel::sql_types::BigInt;
}

diesel::define_sql_function! {
    /// Migration 000024: advances `relman_writes`.
    fn relman_write_done() -> diesel::sql_types::BigInt;
}

/// Counts a committed write in the database, for every instance to see (`saw_database_writes`).
pub fn count_database_write(conn: &mut diesel::PgConnection) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    diesel::select(relman_write_done())
        .execute(conn)
        .map(|_| ())
}

/// The generation now (`reading` takes it before reading the database).
fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// When a value was read: taken just before reading the database, passed to `Kept::put`.
#[derive(Clone, Copy, Debug)]
pub struct Reading {
    generation: u64,
    began: Instant,
}

/// A reading begins now.
pub fn reading() -> Reading {
    Reading {
        generation: generation(),
        began: Instant::now(),
    }
}

/// Turns for reading a value afresh, by a hash of its key (a few keys may share one): while
/// one caller reads, the others asking for the same value wait for its turn to end and then
/// take what it kept (`Kept::after_turn`), instead of all reading at once after a write.
pub struct Turns(LazyLock<Vec<Arc<tokio::sync::Mutex<()>>>>);

fn turn_locks() -> Vec<Arc<tokio::sync::Mutex<()>>> {
    (0..64)
        .map(|_| Arc::new(tokio::sync::Mutex::new(())))
        .collect()
}

impl Turns {
    pub const fn new() -> Turns {
        Turns(LazyLock::new(turn_locks))
    }

    /// Wait for the turn of `key`; it ends when the guard is dropped.
    pub async fn take<K: Hash>(&self, key: &K) -> tokio::sync::OwnedMutexGuard<()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        self.0[(h.finish() % self.0.len() as u64) as usize]
            .clone()
            .lock_owned()
            .await
    }
}

struct Entry<V> {
    at: Instant,
    generation: u64,
    /// When its reading of the database began.
    began: Instant,
    value: V,
    /// When a caller set out to read it afresh after the time limit.
    refreshing: Option<Instant>,
}

/// A map of kept values, at most `max` of them (past it the older half is dropped).
pub struct Kept<K, V> {
    max: usize,
    map: Mutex<Option<HashMap<K, Entry<V>>>>,
}

impl<K: Eq + Hash, V: Clone> Kept<K, V> {
    pub const fn new(max: usize) -> Kept<K, V> {
        Kept {
            max,
            map: Mutex::new(None),
        }
    }

    /// The value kept for `key`, if it was read in this generation and is young enough.
    ///
    /// Past the time limit with nothing written, the first caller gets `None` and reads
    /// afresh, while the others are still given the kept value until that caller keeps the
    /// new one (or for one more limit, should it never come back): one reading instead of
    /// one per waiting request. After a write nothing kept is given out.
    pub fn get(&self, key: &K) -> Option<V> {
        let ttl = Duration::from_secs(TTL_SECS.load(Ordering::Relaxed));
        if ttl.is_zero() {
            return None;
        }
        let mut map = self.map.lock().ok()?;
        let e = map.as_mut()?.get_mut(key)?;
        if e.generation != generation() {
            return None;
        }
        if e.at.elapsed() < ttl {
            return Some(e.value.clone());
        }
        match e.refreshing {
            Some(since) if since.elapsed() < ttl => Some(e.value.clone()),
            _ => {
                e.refreshing = Some(Instant::now());
                None
            }
        }
    }

    /// Wait for `turn` (the lock that lets one caller at a time read `key` afresh), then: the
    /// value the caller that held it meanwhile kept (`Ok`), or the turn, to read and `put`
    /// the value now (`Err`).
    pub async fn after_turn<G>(
        &self,
        key: &K,
        turn: impl std::future::Future<Output = G>,
    ) -> Result<V, G> {
        let arrived = Instant::now();
        let turn = turn.await;
        match self.fresh(key, arrived) {
            Some(v) => Ok(v),
            None => Err(turn),
        }
    }

    /// For a caller that waited its turn to read: the value kept for `key` if it was read in
    /// this generation within the time limit, or if its reading began after the caller
    /// `arrived` (no value past the limit is handed out, and no refresh is claimed).
    ///
    /// The second case matters under load: a write landing while one request reads (the
    /// deadline monitor's pass, another instance's write seen a moment later) made the value
    /// stale before it was kept, and every request waiting behind it read the page again,
    /// one after the other. A value read after a request arrived holds everything committed
    /// before it was sent, which is all that request may expect.
    fn fresh(&self, key: &K, arrived: Instant) -> Option<V> {
        let ttl = Duration::from_secs(TTL_SECS.load(Ordering::Relaxed));
        let map = self.map.lock().ok()?;
        let e = map.as_ref()?.get(key)?;
        (!ttl.is_zero()
            && e.at.elapsed() < ttl
            && (e.generation == generation() || e.began > arrived))
            .then(|| e.value.clone())
    }

    /// The value last kept for `key`, however old or stale.
    pub fn last(&self, key: &K) -> Option<V> {
        self.map
            .lock()
            .ok()?
            .as_ref()?
            .get(key)
            .map(|e| e.value.clone())
    }

    /// Keep a value read from `reading` on (a write since then makes it stale at once for
    /// new requests).
    pub fn put(&self, key: K, reading: Reading, value: V) {
        if !enabled() {
            return;
        }
        let Ok(mut map) = self.map.lock() else { return };
        let map = map.get_or_insert_with(HashMap::new);
        if map.len() >= self.max {
            let mut ages: Vec<Instant> = map.values().map(|e| e.at).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            map.retain(|_, e| e.at > cut);
        }
        map.insert(
            key,
            Entry {
                at: Instant::now(),
                generation: reading.generation,
                began: reading.began,
                value,
                refreshing: None,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The time limit is one for the process: these tests take turns.
    static TURN: Mutex<()> = Mutex::new(());

    #[test]
    fn values_are_kept_until_a_write_or_the_time_limit() {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let kept: Kept<i64, (usize, i64)> = Kept::new(10);
        set_ttl_secs(0);
        kept.put(1, reading(), (3, 4));
        assert_eq!(kept.get(&1), None, "nothing is kept while the limit is 0");
        set_ttl_secs(60);
        kept.put(1, reading(), (3, 4));
        assert_eq!(kept.get(&1), Some((3, 4)));
        assert_eq!(kept.get(&2), None);
        written();
        assert_eq!(kept.get(&1), None, "a write drops what was kept");
        assert_eq!(
            kept.last(&1),
            Some((3, 4)),
            "but the last value is still there to show"
        );
        // Read before a write, kept after it: never served.
        let before = reading();
        written();
        kept.put(1, before, (5, 6));
        assert_eq!(kept.get(&1), None);
        for k in 0..25 {
            kept.put(k, reading(), (0, 0));
        }
        assert!(kept.map.lock().unwrap().as_ref().unwrap().len() <= 10);
        // Another instance wrote: the database's count moved.
        kept.put(1, reading(), (7, 8));
        saw_database_writes(41);
        kept.put(1, reading(), (7, 8));
        saw_database_writes(41);
        assert_eq!(
            kept.get(&1),
            Some((7, 8)),
            "the same count again is no new write"
        );
        saw_database_writes(40);
        assert_eq!(
            kept.get(&1),
            Some((7, 8)),
            "nor is an older one read by a slower request"
        );
        saw_database_writes(42);
        assert_eq!(kept.get(&1), None);
        set_ttl_secs(0);
    }

    #[test]
    fn past_the_time_limit_one_caller_reads_afresh_while_the_others_get_the_kept_value() {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let kept: Kept<i64, i64> = Kept::new(10);
        let g = generation();
        kept.map
            .lock()
            .unwrap()
            .get_or_insert_with(HashMap::new)
            .insert(
                1,
                Entry {
                    at: Instant::now() - Duration::from_secs(120),
                    generation: g,
                    began: Instant::now() - Duration::from_secs(120),
                    value: 5,
                    refreshing: None,
                },
            );
        set_ttl_secs(60);
        assert_eq!(kept.get(&1), None, "the first caller reads afresh");
        assert_eq!(
            kept.get(&1),
            Some(5),
            "the others get the kept value meanwhile"
        );
        kept.put(1, reading(), 6);
        assert_eq!(kept.get(&1), Some(6));
        set_ttl_secs(0);
    }

    #[test]
    fn a_waiting_caller_takes_a_value_read_after_it_arrived_even_if_a_write_came_meanwhile() {
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        set_ttl_secs(60);
        let kept: Kept<i64, i64> = Kept::new(10);
        let early = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        let read = reading();
        written();
        kept.put(1, read, 7);
        assert_eq!(
            kept.get(&1),
            None,
            "a new request reads afresh after the write"
        );
        assert_eq!(
            kept.fresh(&1, early),
            Some(7),
            "one that arrived before the reading began takes what it read"
        );
        let late = Instant::now();
        assert_eq!(
            kept.fresh(&1, late),
            None,
            "one that arrived after it began (and so may have written) does not"
        );
        set_ttl_secs(0);
    }
}
