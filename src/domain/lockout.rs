//! Sign-in throttling, in two parts, so that nobody can lock someone else out of their account.
//!
//! - Per account, a slowdown and never a lock: from the fifth failure within fifteen minutes
//!   every attempt for the name waits before it is answered (one second, then two, then four
//!   at most), whoever makes it and from wherever. Guessing gets slow; the owner, typing the
//!   right password, still gets in after a few seconds.
//! - Per address, a lock: five failures for one name from one address within fifteen minutes
//!   lock that address out of that name for fifteen minutes, and thirty failures over all names
//!   (password spraying) lock it out of every name.
use chrono::{DateTime, Duration, Utc};

/// Failures within the window after which attempts are slowed (per name) or an address is
/// locked out of the name.
pub const MAX_FAILURES: usize = 5;

/// Failed sign-ins from one address within the window, over all names, before it is refused.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 30;

/// The longest an attempt waits, however many failures the name has had.
pub const MAX_DELAY_SECS: u64 = 4;

pub fn window() -> Duration {
    Duration::minutes(15)
}

pub fn lock_length() -> Duration {
    Duration::minutes(15)
}

/// How long an attempt for a name waits before it is answered, at `now`.
///
/// `failures` are the name's failed attempts (from any address) since its last successful
/// sign-in or unlock, newest first. Only those within the window count: none up to four, then
/// one second for the fifth and doubling with each further failure, never more than
/// [`MAX_DELAY_SECS`].
pub fn delay(failures: &[DateTime<Utc>], now: DateTime<Utc>) -> std::time::Duration {
    let recent = failures.iter().filter(|at| now - **at <= window()).count();
    if recent < MAX_FAILURES {
        return std::time::Duration::ZERO;
    }
    let doublings = u32::try_from(recent - MAX_FAILURES)
        .unwrap_or(u32::MAX)
        .min(8);
    std::time::Duration::from_secs((1u64 << doublings).min(MAX_DELAY_SECS))
}

/// When an address is locked out of a name at `now`, the time the lock ends.
///
/// `failures` are the failed attempts for the name from that address since the last success
/// from there (or the name's unlock), newest first. The lock starts at the failure that made
/// five within the window, so attempts made while locked (recorded as "locked", not as
/// failures) never extend it.
pub fn locked_until(failures: &[DateTime<Utc>], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // Walk every run of five consecutive failures, newest first; the newest run that fits
    // in the window started a lock.
    failures
        .windows(MAX_FAILURES)
        .find_map(|run| {
            let (newest, oldest) = (run[0], run[MAX_FAILURES - 1]);
            (newest - oldest <= window()).then(|| newest + lock_length())
        })
        .filter(|until| *until > now)
}

/// Whole minutes left until `until` (rounded up), as the messages say it.
pub fn minutes_left(until: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    ((until - now).num_seconds() + 59) / 60
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ago(now: DateTime<Utc>, minutes: &[i64]) -> Vec<DateTime<Utc>> {
        minutes
            .iter()
            .map(|m| now - Duration::minutes(*m))
            .collect()
    }

    fn secs(s: u64) -> std::time::Duration {
        std::time::Duration::from_secs(s)
    }

    #[test]
    fn four_failures_do_not_lock() {
        let now = Utc::now();
        assert_eq!(locked_until(&ago(now, &[0, 1, 2, 3]), now), None);
    }

    #[test]
    fn five_failures_within_fifteen_minutes_lock_for_fifteen_minutes() {
        let now = Utc::now();
        let until = locked_until(&ago(now, &[0, 1, 2, 3, 4]), now).expect("locked");
        assert_eq!(until, now + Duration::minutes(15));
        assert_eq!(minutes_left(until, now), 15);
    }

    #[test]
    fn five_failures_spread_over_more_than_fifteen_minutes_do_not_lock() {
        let now = Utc::now();
        assert_eq!(locked_until(&ago(now, &[0, 4, 8, 12, 16]), now), None);
    }

    #[test]
    fn the_lock_ends_after_fifteen_minutes() {
        let now = Utc::now();
        assert_eq!(locked_until(&ago(now, &[16, 17, 18, 19, 20]), now), None);
        assert!(locked_until(&ago(now, &[14, 17, 18, 19, 20]), now).is_some());
    }

    #[test]
    fn the_first_four_failures_cost_nothing() {
        let now = Utc::now();
        for n in 0..MAX_FAILURES {
            let failures = ago(now, &vec![1; n]);
            assert_eq!(delay(&failures, now), std::time::Duration::ZERO, "{n}");
        }
    }

    #[test]
    fn from_the_fifth_failure_attempts_wait_one_two_then_four_seconds_at_most() {
        let now = Utc::now();
        let waits: Vec<_> = (5..=40)
            .map(|n| delay(&ago(now, &vec![1; n]), now))
            .collect();
        assert_eq!(&waits[..4], &[secs(1), secs(2), secs(4), secs(4)]);
        assert!(waits.iter().all(|w| *w <= secs(MAX_DELAY_SECS)));
        // However many failures, the owner's right password is answered within seconds.
        assert_eq!(
            delay(&ago(now, &vec![0; 10_000]), now),
            secs(MAX_DELAY_SECS)
        );
    }

    #[test]
    fn failures_older_than_the_window_do_not_slow_anything() {
        let now = Utc::now();
        assert_eq!(
            delay(&ago(now, &[1, 2, 3, 4, 16, 17, 18, 19]), now),
            std::time::Duration::ZERO
        );
        assert_eq!(delay(&ago(now, &[1, 2, 3, 4, 14, 17, 18]), now), secs(1));
    }
}
