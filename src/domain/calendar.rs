//! How a record appears in a calendar (the iCalendar feed): which window it shows, whether
//! it still happens, and how its summary names the outcome. A record that has ended shows
//! what really happened (its actual window, when one was recorded); one that did not deliver
//! (abandoned, backed out) is a cancelled event, one that closed successfully a confirmed one.
use chrono::{DateTime, Utc};

use super::workflow::RecordState;

/// A window, start to end. A record with one end only is that moment.
pub type Window = (DateTime<Utc>, DateTime<Utc>);

/// The window of a start and an end, either alone when the other is missing (and never
/// ending before it starts).
pub fn window(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Option<Window> {
    let start = start.or(end)?;
    let end = end.unwrap_or(start).max(start);
    Some((start, end))
}

/// An event's status, as RFC 5545 names them (`STATUS:CONFIRMED`, `STATUS:CANCELLED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Confirmed,
    Cancelled,
}

/// How one record is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub window: Window,
    /// Whether `window` is the actual one (else the planned one).
    pub actual: bool,
    pub status: Status,
    /// How it ended, in words for the summary (`None` while active).
    pub outcome: Option<&'static str>,
}

/// The outcome of a record in this state, in a few words ("backed out").
pub fn outcome(state: RecordState) -> Option<&'static str> {
    match state {
        RecordState::Active => None,
        RecordState::ClosedSuccessful => Some("closed successful"),
        RecordState::ClosedBackedOut => Some("backed out"),
        RecordState::Abandoned => Some("abandoned"),
    }
}

/// How a record in `state` with these planned and actual windows is shown; `None` when it
/// has no window at all. Active records show their plan (what they do is not over yet);
/// ended ones their actual window when one was recorded, else their plan.
pub fn shown(
    state: RecordState,
    planned: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    actual: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
) -> Option<Shown> {
    let ended = state != RecordState::Active;
    let (window, actual) = match ended.then(|| window(actual.0, actual.1)).flatten() {
        Some(w) => (w, true),
        None => (window(planned.0, planned.1)?, false),
    };
    let status = match state {
        RecordState::Abandoned | RecordState::ClosedBackedOut => Status::Cancelled,
        RecordState::Active | RecordState::ClosedSuccessful => Status::Confirmed,
    };
    Some(Shown {
        window,
        actual,
        status,
        outcome: outcome(state),
    })
}

/// `RL-000004 Billing 4.2`, or `RL-000004 Billing 4.2 (backed out)` once it has ended.
pub fn summary(number: &str, title: &str, outcome: Option<&str>) -> String {
    match outcome {
        Some(o) => format!("{number} {title} ({o})"),
        None => format!("{number} {title}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).unwrap())
    }

    const PLAN: (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (None, None);

    #[test]
    fn a_window_is_either_end_alone_when_the_other_is_missing() {
        assert_eq!(window(None, None), None);
        assert_eq!(window(t(9), None), Some((t(9).unwrap(), t(9).unwrap())));
        assert_eq!(window(None, t(17)), Some((t(17).unwrap(), t(17).unwrap())));
        assert_eq!(window(t(9), t(8)), Some((t(9).unwrap(), t(9).unwrap())));
    }

    #[test]
    fn active_records_show_their_plan_even_once_started() {
        let s = shown(RecordState::Active, (t(9), t(17)), (t(10), None)).unwrap();
        assert_eq!(s.window, (t(9).unwrap(), t(17).unwrap()));
        assert!(!s.actual);
        assert_eq!(s.status, Status::Confirmed);
        assert_eq!(s.outcome, None);
        assert_eq!(shown(RecordState::Active, PLAN, (t(10), t(11))), None);
    }

    #[test]
    fn ended_records_show_their_actual_window_when_they_have_one() {
        let s = shown(RecordState::ClosedSuccessful, (t(9), t(17)), (t(10), t(12))).unwrap();
        assert_eq!(s.window, (t(10).unwrap(), t(12).unwrap()));
        assert!(s.actual);
        let s = shown(RecordState::ClosedSuccessful, (t(9), t(17)), (None, None)).unwrap();
        assert_eq!(s.window, (t(9).unwrap(), t(17).unwrap()));
        assert!(!s.actual);
        // Started but never finished (backed out): that moment.
        let s = shown(RecordState::ClosedBackedOut, (t(9), t(17)), (t(11), None)).unwrap();
        assert_eq!(s.window, (t(11).unwrap(), t(11).unwrap()));
        // No plan, but an actual window.
        assert!(shown(RecordState::ClosedSuccessful, PLAN, (t(10), t(12))).is_some());
    }

    #[test]
    fn only_a_successful_closing_stays_confirmed() {
        let status = |s| shown(s, (t(9), t(17)), PLAN).unwrap().status;
        assert_eq!(status(RecordState::Active), Status::Confirmed);
        assert_eq!(status(RecordState::ClosedSuccessful), Status::Confirmed);
        assert_eq!(status(RecordState::ClosedBackedOut), Status::Cancelled);
        assert_eq!(status(RecordState::Abandoned), Status::Cancelled);
    }

    #[test]
    fn the_summary_names_the_outcome_once_ended() {
        let o = |s| shown(s, (t(9), t(17)), PLAN).unwrap().outcome;
        assert_eq!(
            summary("RL-000001", "Billing", o(RecordState::Active)),
            "RL-000001 Billing"
        );
        assert_eq!(
            summary("RL-000001", "Billing", o(RecordState::ClosedSuccessful)),
            "RL-000001 Billing (closed successful)"
        );
        assert_eq!(
            summary("C-000002", "Patch", o(RecordState::ClosedBackedOut)),
            "C-000002 Patch (backed out)"
        );
        assert_eq!(
            summary("RL-000003", "Old", o(RecordState::Abandoned)),
            "RL-000003 Old (abandoned)"
        );
    }
}
