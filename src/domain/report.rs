//! What the printed release report's one-page summary says, as pure rules: who decided an
//! approval's final round, how long a window ran, and what the work of the release came to.
use chrono::{DateTime, Duration, Utc};

/// One entry of an approval's log, as far as the summary needs it.
#[derive(Debug, Clone, Copy)]
pub struct LogLine<'a> {
    pub cycle: i32,
    pub who: i64,
    /// `approve`, `deny`, `retract`, or an outcome the log also records.
    pub action: &'a str,
    pub comment: &'a str,
}

/// A decision that stands in the final round: who, approved (or denied), and their comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'a> {
    pub who: i64,
    pub approved: bool,
    pub comment: &'a str,
}

/// The decisions standing in round `cycle`, in the order they were made: each voter's last
/// approve or deny of that round, unless they retracted it afterwards.
pub fn decided_by<'a>(log: &[LogLine<'a>], cycle: i32) -> Vec<Decision<'a>> {
    let mut out: Vec<Decision<'a>> = Vec::new();
    for l in log.iter().filter(|l| l.cycle == cycle) {
        let vote = match l.action {
            "approve" => Some(true),
            "deny" => Some(false),
            "retract" => None,
            _ => continue,
        };
        out.retain(|d| d.who != l.who);
        if let Some(approved) = vote {
            out.push(Decision {
                who: l.who,
                approved,
                comment: l.comment,
            });
        }
    }
    out
}

/// "2 days 3 hours", "5 hours 12 minutes", "12 minutes", "less than a minute".
pub fn span(d: Duration) -> String {
    let mins = d.num_minutes().max(0);
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let (days, hours, minutes) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    let parts: Vec<String> = [(days, "day"), (hours, "hour"), (minutes, "minute")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .take(2)
        .map(|(n, u)| plural(*n, u))
        .collect();
    if parts.is_empty() {
        "less than a minute".into()
    } else {
        parts.join(" ")
    }
}

/// How long a window ran, `—` without both ends.
pub fn length(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> String {
    match (start, end) {
        (Some(s), Some(e)) if e >= s => span(e - s),
        _ => "—".into(),
    }
}

/// How the actual window compares with the plan: "started 2 hours late, ended on time".
pub fn against_plan(
    planned: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    actual: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
) -> String {
    let one = |what: &str, p: Option<DateTime<Utc>>, a: Option<DateTime<Utc>>| match (p, a) {
        (Some(p), Some(a)) if a > p + Duration::minutes(1) => {
            Some(format!("{what} {} late", span(a - p)))
        }
        (Some(p), Some(a)) if a + Duration::minutes(1) < p => {
            Some(format!("{what} {} early", span(p - a)))
        }
        (Some(_), Some(_)) => Some(format!("{what} as planned")),
        _ => None,
    };
    let parts: Vec<String> = [
        one("started", planned.0, actual.0),
        one("ended", planned.1, actual.1),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "—".into()
    } else {
        let s = parts.join(", ");
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    }
}

/// Tasks by what became of them: (done, open or in progress, cancelled).
pub fn work_counts<'a>(statuses: impl IntoIterator<Item = &'a str>) -> (usize, usize, usize) {
    statuses
        .into_iter()
        .fold((0, 0, 0), |(d, o, c), s| match s {
            "done" => (d + 1, o, c),
            "open" | "in_progress" => (d, o + 1, c),
            "cancelled" => (d, o, c + 1),
            _ => (d, o, c),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn l(cycle: i32, who: i64, action: &'static str) -> LogLine<'static> {
        LogLine {
            cycle,
            who,
            action,
            comment: "",
        }
    }

    #[test]
    fn the_final_round_decides_and_retractions_take_a_vote_back() {
        let log = [
            l(1, 1, "requested"),
            l(1, 2, "deny"),
            l(1, 0, "denied"),
            l(2, 1, "approve"),
            l(2, 2, "approve"),
            l(2, 3, "deny"),
            l(2, 3, "retract"),
            l(2, 3, "approve"),
            l(2, 2, "retract"),
            l(2, 0, "approved"),
        ];
        let d = decided_by(&log, 2);
        assert_eq!(
            d.iter().map(|d| (d.who, d.approved)).collect::<Vec<_>>(),
            vec![(1, true), (3, true)]
        );
        let first = decided_by(&log, 1);
        assert_eq!(first.len(), 1);
        assert!(!first[0].approved);
        assert!(decided_by(&log, 3).is_empty());
    }

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(Duration::minutes(0)), "less than a minute");
        assert_eq!(span(Duration::minutes(1)), "1 minute");
        assert_eq!(span(Duration::minutes(61)), "1 hour 1 minute");
        assert_eq!(span(Duration::hours(50)), "2 days 2 hours");
        assert_eq!(span(Duration::minutes(2 * 1440 + 5)), "2 days 5 minutes");
    }

    #[test]
    fn the_actual_window_is_read_against_the_plan() {
        let t = |h: u32| Some(Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).unwrap());
        assert_eq!(length(t(9), t(17)), "8 hours");
        assert_eq!(length(t(9), None), "—");
        assert_eq!(
            against_plan((t(9), t(17)), (t(11), t(17))),
            "Started 2 hours late, ended as planned"
        );
        assert_eq!(
            against_plan((t(9), t(17)), (t(9), t(12))),
            "Started as planned, ended 5 hours early"
        );
        assert_eq!(against_plan((t(9), t(17)), (None, None)), "—");
    }

    #[test]
    fn work_is_counted_by_what_became_of_it() {
        assert_eq!(
            work_counts(["done", "open", "in_progress", "cancelled", "done"]),
            (2, 2, 1)
        );
    }
}
