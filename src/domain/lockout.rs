//! Sign-in throttling: five failures within fifteen minutes lock the name for fifteen minutes.
use chrono::{DateTime, Duration, Utc};

pub const MAX_FAILURES: usize = 5;

/// Failed sign-ins from one address within the window, over all names, before it is refused.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 30;

pub fn window() -> Duration {
    Duration::minutes(15)
}

pub fn lock_length() -> Duration {
    Duration::minutes(15)
}

/// When the account is locked at `now`, the time the lock ends.
///
/// `failures` are the failed attempts since the last successful sign-in, newest first.
/// The lock starts at the failure that made five within the window, so attempts made
/// while locked (recorded as "locked", not as failures) never extend it.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ago(now: DateTime<Utc>, minutes: &[i64]) -> Vec<DateTime<Utc>> {
        minutes
            .iter()
            .map(|m| now - Duration::minutes(*m))
            .collect()
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
}
