//! Schedule conflicts: a release whose planned window overlaps a blackout (of its category or
//! of all categories), or overlaps another active release that shares an affected service.
//! The rules are the pure functions at the bottom; the queries above gather their input in a
//! fixed number of round trips, for one release (its page) or a month of them (the calendar).
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::domain::workflow::RecordState;
use crate::models::blackouts::{self as blk, Blackout, Slot};
use crate::models::releases::{self as rel, Release};
use crate::paths;
use crate::views;

/// A planned window, start to end. A release with one planned end only is that moment.
pub type Window = (DateTime<Utc>, DateTime<Utc>);

/// The release's planned window, if it has one.
pub fn window(
    planned_start: Option<DateTime<Utc>>,
    planned_end: Option<DateTime<Utc>>,
) -> Option<Window> {
    crate::domain::calendar::window(planned_start, planned_end)
}

/// Whether two windows share time. Ends are exclusive (a blackout ending at noon does not
/// touch a release starting at noon); a window of no length is its first second.
pub fn overlaps(a: Window, b: Window) -> bool {
    let end = |w: Window| w.1.max(w.0 + Duration::seconds(1));
    a.0 < end(b) && b.0 < end(a)
}

/// The services named in an affected-services text: split on commas and new lines, trimmed,
/// empty ones dropped, each once (compared case-insensitively, first spelling kept).
pub fn services(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in text
        .split([',', '\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if !out.iter().any(|o| o.to_lowercase() == s.to_lowercase()) {
            out.push(s.to_string());
        }
    }
    out
}

/// Blackouts whose window overlaps the release's planned window and that apply to its
/// category (or to all), in order of start. None when the release has no planned window.
/// Whatever the release's state: callers decide whether that matters.
pub fn blackouts_overlapping(
    conn: &mut PgConnection,
    release: &Release,
) -> QueryResult<Vec<Blackout>> {
    let Some(w) = window(release.planned_start, release.planned_end) else {
        return Ok(Vec::new());
    };
    Ok(blk::touching(conn, w.0, w.1)?
        .into_iter()
        .filter(|b| b.applies_to(release.category_id) && overlaps(w, (b.starts_at, b.ends_at)))
        .collect())
}

/// The conflict warnings of one release, as sentences for its page: none unless it is an
/// active release (not a change) with a planned window.
/// Only a few other releases are read (`MAX_LISTED` and one more, whichever the index finds
/// first; they are listed by number): at scale an active release can overlap thousands that
/// share a service, and the page names a handful.
pub fn warnings(conn: &mut PgConnection, release_id: i64) -> QueryResult<Vec<String>> {
    let r = rel::find_by_id(conn, release_id)?;
    let Some(w) = window(r.planned_start, r.planned_end)
        .filter(|_| r.kind == "release" && r.state == RecordState::Active.as_str())
    else {
        return Ok(Vec::new());
    };
    let blackouts = blk::touching(conn, w.0, w.1)?;
    let text = blk::affected_services(conn, &[r.id])?
        .pop()
        .map(|(_, t)| t)
        .unwrap_or_default();
    let me = Scheduled::new(slot_of(&r), w, services(&text));
    let others: Vec<Scheduled> = blk::active_sharing_a_service(
        conn,
        Some(r.id),
        w.0,
        w.1,
        &me.lower,
        Some(MAX_LISTED as i64 + 1),
    )?
    .into_iter()
    .filter_map(Scheduled::of_slot)
    .collect();
    // More candidates than are listed: some were not read, so the count is unknown.
    let unknown_more = others.len() > MAX_LISTED;
    let mut out = conflicts(&me, &blackouts, &others);
    if let Some(last) = out
        .last_mut()
        .filter(|l| unknown_more && l.starts_with("It also overlaps "))
    {
        *last = "It also overlaps more active releases that share a service with it: the calendar shows them.".to_string();
    }
    Ok(out)
}

/// Other releases named in a release's warnings; past these, one sentence says how many more.
pub const MAX_LISTED: usize = 5;

/// The conflict warnings of many releases at once (the calendar's month), by release id;
/// releases without any are left out. Four queries, however many releases.
pub fn warnings_for_releases(
    conn: &mut PgConnection,
    releases: &[Release],
) -> QueryResult<HashMap<i64, Vec<String>>> {
    let mine: Vec<(Slot, Window)> = releases
        .iter()
        .filter(|r| r.kind == "release" && r.state == RecordState::Active.as_str())
        .filter_map(|r| window(r.planned_start, r.planned_end).map(|w| (slot_of(r), w)))
        .collect();
    let Some(hull) = hull(mine.iter().map(|(_, w)| *w)) else {
        return Ok(HashMap::new());
    };
    let blackouts = blk::touching(conn, hull.0, hull.1)?;
    let ids: Vec<i64> = mine.iter().map(|(s, _)| s.id).collect();
    let texts: HashMap<i64, String> = blk::affected_services(conn, &ids)?.into_iter().collect();
    // Only releases naming one of these services can share one: found in SQL, not by reading
    // every active release in the window (thousands at scale).
    let mut named: Vec<String> = texts
        .values()
        .flat_map(|t| services(t))
        .map(|s| s.to_lowercase())
        .collect();
    named.sort_unstable();
    named.dedup();
    let others: Vec<Scheduled> =
        blk::active_sharing_a_service(conn, None, hull.0, hull.1, &named, None)?
            .into_iter()
            .filter_map(Scheduled::of_slot)
            .collect();
    let mut out = HashMap::new();
    for (slot, w) in mine {
        let mine = texts.get(&slot.id).map(|t| services(t)).unwrap_or_default();
        let me = Scheduled::new(slot, w, mine);
        let found = conflicts(&me, &blackouts, &others);
        if !found.is_empty() {
            out.insert(me.slot.id, found);
        }
    }
    Ok(out)
}

fn slot_of(r: &Release) -> Slot {
    Slot {
        id: r.id,
        number: r.number,
        title: r.title.clone(),
        category_id: r.category_id,
        planned_start: r.planned_start,
        planned_end: r.planned_end,
    }
}

fn hull(windows: impl Iterator<Item = Window>) -> Option<Window> {
    windows.fold(None, |acc, w| {
        Some(match acc {
            None => w,
            Some((s, e)) => (s.min(w.0), e.max(w.1)),
        })
    })
}

/// A release with its window and services, as the rules see it.
pub struct Scheduled {
    pub slot: Slot,
    pub window: Window,
    pub services: Vec<String>,
    /// `services` lower-cased, once: a calendar month compares each release shown with
    /// thousands of others, and lower-casing at every comparison was most of its time.
    lower: Vec<String>,
}

impl Scheduled {
    pub fn new(slot: Slot, window: Window, services: Vec<String>) -> Self {
        let lower = services.iter().map(|s| s.to_lowercase()).collect();
        Scheduled {
            slot,
            window,
            services,
            lower,
        }
    }

    /// A release as read with its affected-services text; none without a planned window.
    fn of_slot((slot, text): (Slot, String)) -> Option<Self> {
        let w = window(slot.planned_start, slot.planned_end)?;
        Some(Scheduled::new(slot, w, services(&text)))
    }
}

/// The warnings of `me`: each blackout of its category (or of all) it overlaps, then each
/// other active release it overlaps that shares an affected service.
pub fn conflicts(me: &Scheduled, blackouts: &[Blackout], others: &[Scheduled]) -> Vec<String> {
    let mut out = Vec::new();
    for b in blackouts.iter().filter(|b| {
        b.applies_to(me.slot.category_id) && overlaps(me.window, (b.starts_at, b.ends_at))
    }) {
        out.push(format!(
            "The planned window overlaps the blackout “{}” ({} to {}{}).",
            b.name,
            views::datetime(&b.starts_at),
            views::datetime(&b.ends_at),
            if b.category_id.is_some() {
                ", for this release's category"
            } else {
                ", for all categories"
            }
        ));
    }
    let shares = |o: &Scheduled| me.lower.iter().any(|m| o.lower.contains(m));
    let mut others: Vec<&Scheduled> = others
        .iter()
        .filter(|o| o.slot.id != me.slot.id && shares(o) && overlaps(me.window, o.window))
        .collect();
    others.sort_by_key(|o| o.slot.number);
    let mut listed = 0;
    let mut more = 0;
    for o in others {
        let shared: Vec<&str> = me
            .services
            .iter()
            .zip(&me.lower)
            .filter(|(_, m)| o.lower.contains(m))
            .map(|(s, _)| s.as_str())
            .collect();
        if listed == MAX_LISTED {
            more += 1;
            continue;
        }
        listed += 1;
        out.push(format!(
            "The planned window overlaps {} {} ({} to {}), which also affects {}.",
            paths::release_number(o.slot.number),
            o.slot.title,
            views::datetime(&o.window.0),
            views::datetime(&o.window.1),
            and_list(&shared)
        ));
    }
    if more > 0 {
        out.push(format!(
            "It also overlaps {more} more active release{} that share{} a service with it.",
            if more == 1 { "" } else { "s" },
            if more == 1 { "s" } else { "" }
        ));
    }
    out
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Entry gates from blackout windows: a release whose planned window overlaps a blackout may
/// not enter a phase marked `blocked_by_blackouts`, unless it is an emergency (of the phases
/// `needs` asks about).
pub fn blackout_gates(
    conn: &mut diesel::PgConnection,
    r: &crate::models::releases::Release,
    config: &super::workflow_config::WorkflowConfig,
    needs: crate::domain::workflow::GateNeeds,
) -> diesel::QueryResult<Vec<(i64, crate::domain::workflow::Gate)>> {
    if r.release_type == "emergency" {
        return Ok(Vec::new());
    }
    let held: Vec<i64> = config
        .flags
        .iter()
        .filter(|f| f.blocked_by_blackouts && needs.entry_of(f.id))
        .map(|f| f.id)
        .collect();
    if held.is_empty() {
        return Ok(Vec::new());
    }
    let blackouts = blackouts_overlapping(conn, r)?;
    if blackouts.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = blackouts.iter().map(|b| b.name.clone()).collect();
    Ok(held
        .into_iter()
        .map(|p| {
            let why = format!("The planned window falls in the blackout {}: only an emergency release may deploy then.", names.join(", "));
            (p, crate::domain::workflow::Gate::Other(why))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap()
    }

    fn blackout(
        name: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        category_id: Option<i64>,
    ) -> Blackout {
        Blackout {
            id: 1,
            name: name.into(),
            starts_at: from,
            ends_at: to,
            category_id,
            created_by: 1,
            created_at: from,
        }
    }

    fn sched(id: i64, w: Window, services_text: &str) -> Scheduled {
        Scheduled::new(
            Slot {
                id,
                number: id,
                title: format!("Release {id}"),
                category_id: 1,
                planned_start: Some(w.0),
                planned_end: Some(w.1),
            },
            w,
            services(services_text),
        )
    }

    #[test]
    fn services_split_on_commas_and_lines_and_compare_without_case() {
        assert_eq!(
            services(" Billing, CRM\n\ncrm\r\n  Payroll ,"),
            vec!["Billing", "CRM", "Payroll"]
        );
        assert!(services(" , \n").is_empty());
    }

    #[test]
    fn windows_with_exclusive_ends() {
        assert!(overlaps((t(1, 9), t(2, 9)), (t(2, 8), t(3, 0))));
        assert!(!overlaps((t(1, 9), t(2, 9)), (t(2, 9), t(3, 0))));
        // A moment inside a window, and at its start, overlaps; at its end it does not.
        assert!(overlaps((t(2, 9), t(2, 9)), (t(2, 9), t(3, 0))));
        assert!(!overlaps((t(3, 0), t(3, 0)), (t(2, 9), t(3, 0))));
        assert_eq!(window(None, Some(t(4, 1))), Some((t(4, 1), t(4, 1))));
        assert_eq!(window(None, None), None);
    }

    #[test]
    fn blackouts_of_the_category_or_of_all_are_named() {
        let me = sched(1, (t(10, 9), t(12, 17)), "");
        let bs = vec![
            blackout("Year-end freeze", t(11, 0), t(20, 0), None),
            blackout("Payroll run", t(12, 0), t(13, 0), Some(1)),
            blackout("Other category", t(12, 0), t(13, 0), Some(2)),
            blackout("Too early", t(1, 0), t(10, 9), None),
        ];
        let w = conflicts(&me, &bs, &[]);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("“Year-end freeze”") && w[0].contains("all categories"));
        assert!(w[1].contains("“Payroll run”") && w[1].contains("this release's category"));
    }

    #[test]
    fn overlapping_releases_conflict_only_when_they_share_a_service() {
        let me = sched(1, (t(10, 9), t(12, 17)), "Billing, CRM, Web shop");
        let others = vec![
            sched(2, (t(12, 0), t(14, 0)), "crm\nweb SHOP"),
            sched(3, (t(11, 0), t(11, 5)), "Payroll"),
            sched(4, (t(13, 0), t(14, 0)), "Billing"),
            sched(1, (t(10, 9), t(12, 17)), "Billing"),
        ];
        let w = conflicts(&me, &[], &others);
        assert_eq!(w, vec!["The planned window overlaps RL-000002 Release 2 (2026-12-12 00:00 UTC to 2026-12-14 00:00 UTC), which also affects CRM and Web shop.".to_string()]);
    }

    #[test]
    fn past_the_first_few_the_rest_are_counted_in_one_sentence() {
        let me = sched(1, (t(10, 9), t(12, 17)), "Billing");
        let others: Vec<Scheduled> = (2..10)
            .map(|i| sched(i, (t(11, 0), t(11, 5)), "billing"))
            .collect();
        let w = conflicts(&me, &[], &others);
        assert_eq!(w.len(), MAX_LISTED + 1, "{w:?}");
        assert!(w[0].contains("RL-000002") && w[4].contains("RL-000006"));
        assert_eq!(
            w[5],
            "It also overlaps 3 more active releases that share a service with it."
        );
    }
}
