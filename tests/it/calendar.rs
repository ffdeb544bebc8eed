//! The release calendar: the month view and its filters, the iCalendar feed behind a secret
//! token (read back with an independent parser), blackout windows and schedule conflicts.
use chrono::{Datelike, Duration, Utc};
use diesel::prelude::*;
use relman::domain::roles::Role;
use relman::schema::{blackouts, users};

use crate::releases::save;
use crate::support::{Client, Page, TestApp};

/// Register a release in `category` planned from `start` to `end` (`2026-12-01T09:00`);
/// returns its number (`RL-…`).
async fn register_planned(
    c: &Client,
    title: &str,
    release_type: &str,
    category: &str,
    start: &str,
    end: &str,
) -> String {
    let p = c
        .post(
            "/releases/new",
            &[
                ("category", category),
                ("type", release_type),
                ("title", title),
                ("description", "Scheduled work"),
                ("reason", "business_requirement"),
                ("impact", "low"),
                ("urgency", "low"),
                ("risk", ""),
                ("planned_start", start),
                ("planned_end", end),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "registering failed:\n{}", p.body);
    p.location
        .as_deref()
        .unwrap()
        .trim_start_matches("/releases/")
        .to_string()
}

/// A second release category on the Release Management workflow; returns its id.
async fn new_category(m: &Client, name: &str) -> String {
    m.post(
        "/admin/categories",
        &[
            ("name", name),
            ("description", ""),
            ("record_kind", "release"),
            ("workflow_id", "1"),
        ],
    )
    .await
    .assert_status(303);
    let p = m.get("/admin/categories").await;
    let at = p
        .body
        .find(&format!(">{name}<"))
        .expect("the new category is listed");
    let href = p.body[..at].rfind("/admin/categories/").unwrap();
    p.body[href + "/admin/categories/".len()..at]
        .trim_end_matches('"')
        .to_string()
}

/// The feed's address as the account page shows it.
async fn feed_url(c: &Client) -> String {
    let p = c.get("/account/calendar").await;
    p.assert_status(200);
    let marker = "id=\"f-feed\" type=\"url\" value=\"";
    let start = p.body.find(marker).expect("the feed address is shown") + marker.len();
    let end = p.body[start..].find('"').unwrap() + start;
    p.body[start..end].replace("&amp;", "&")
}

/// GET an absolute URL without any session, as a calendar app would.
async fn fetch(url: &str) -> Page {
    let r = reqwest::get(url).await.expect("GET");
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = r.text().await.unwrap_or_default();
    if status == 200 {
        assert!(
            content_type.starts_with("text/calendar"),
            "content type {content_type}"
        );
    }
    Page {
        status,
        location: None,
        body,
    }
}

fn month_of(t: chrono::DateTime<Utc>) -> String {
    format!("{:04}-{:02}", t.year(), t.month())
}

#[tokio::test]
async fn the_month_view_lists_the_months_releases_and_filters_by_type_and_category() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("max", &[Role::Manager]).await;
    let other = new_category(&m, "Hardware").await;
    let major = register_planned(
        &m,
        "Billing 4.2",
        "major",
        "1",
        "2026-12-01T09:00",
        "2026-12-03T17:00",
    )
    .await;
    let minor = register_planned(
        &m,
        "Portal fixes",
        "minor",
        "1",
        "2026-12-15T08:00",
        "2026-12-15T12:00",
    )
    .await;
    let later = register_planned(
        &m,
        "Payroll 8",
        "minor",
        "1",
        "2027-02-02T09:00",
        "2027-02-02T17:00",
    )
    .await;
    let hardware = register_planned(
        &m,
        "Server refresh",
        "major",
        &other,
        "2026-12-20T09:00",
        "2026-12-21T17:00",
    )
    .await;
    // Over a month's end: shown in both months.
    let spanning = register_planned(
        &m,
        "Data centre move",
        "major",
        "1",
        "2026-11-28T09:00",
        "2026-12-02T17:00",
    )
    .await;

    // Any signed-in user, whatever their roles.
    let c = app.signed_in("nobody", &[]).await;
    let dec = c.get("/calendar?month=2026-12").await;
    dec.assert_status(200)
        .assert_contains("Release calendar: December 2026")
        .assert_contains("<caption id=\"cal-caption\">Releases planned in December 2026</caption>")
        .assert_contains(&format!("{major} Billing 4.2"))
        .assert_contains(&format!("href=\"/releases/{major}\""))
        .assert_contains(&format!("{minor} Portal fixes"))
        .assert_contains(&format!("{hardware} Server refresh"))
        .assert_contains(&format!("{spanning} Data centre move"))
        .assert_lacks(&later)
        .assert_contains("Major · starts 09:00")
        .assert_contains("Minor · 08:00 to 12:00")
        .assert_contains("4 releases are planned in December 2026.")
        // Previous and next months keep the filters (none here).
        .assert_contains("href=\"/calendar?month=2026-11\"")
        .assert_contains("November 2026")
        .assert_contains("href=\"/calendar?month=2027-01\"")
        .assert_contains("January 2027");
    // Weekday headers for the grid.
    assert!(
        dec.body.contains("<th scope=\"col\">Monday</th>")
            && dec.body.contains("<th scope=\"col\">Sunday</th>")
    );
    // The three-day release is on each of its days (grid and list by day).
    assert_eq!(
        dec.body.matches(&format!("{major} Billing 4.2")).count(),
        6,
        "three days, twice each"
    );

    let nov = c.get("/calendar?month=2026-11").await;
    nov.assert_contains(&format!("{spanning} Data centre move"))
        .assert_lacks(&major);
    let feb = c.get("/calendar?month=2027-02").await;
    feb.assert_contains(&format!("{later} Payroll 8"))
        .assert_lacks(&major)
        .assert_lacks(&minor);

    let minors = c.get("/calendar?month=2026-12&type=minor").await;
    minors
        .assert_status(200)
        .assert_contains(&minor)
        .assert_lacks(&major)
        .assert_lacks(&hardware)
        .assert_contains("<option value=\"minor\" selected>Minor</option>")
        .assert_contains("href=\"/calendar?month=2027-01&#38;type=minor\"")
        .assert_contains("href=\"/calendar?month=2026-11&#38;type=minor\"");

    let hw = c
        .get(&format!("/calendar?month=2026-12&category={other}"))
        .await;
    hw.assert_contains(&hardware)
        .assert_lacks(&major)
        .assert_lacks(&minor)
        .assert_contains(&format!("category={other}"));
    let standard = c.get("/calendar?month=2026-12&category=1&type=major").await;
    standard
        .assert_contains(&major)
        .assert_contains(&spanning)
        .assert_lacks(&hardware)
        .assert_lacks(&minor);

    // A month nobody can read falls back to this one, and says so.
    c.get("/calendar?month=someday")
        .await
        .assert_status(200)
        .assert_contains("is not a month like 2026-12");
    // Signing in is required.
    app.client()
        .get("/calendar")
        .await
        .assert_redirect_to("/login?next=/calendar");
}

#[tokio::test]
async fn overdue_releases_say_so_in_words() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let past = Utc::now() - Duration::days(40);
    let start = past.format("%Y-%m-%dT09:00").to_string();
    let end = past.format("%Y-%m-%dT17:00").to_string();
    let late = register_planned(&c, "Late one", "minor", "1", &start, &end).await;
    let p = c.get(&format!("/calendar?month={}", month_of(past))).await;
    p.assert_contains(&format!("{late} Late one"))
        .assert_contains("Overdue");
}

#[tokio::test]
async fn the_ical_feed_holds_the_releases_with_stable_uids_and_parses_elsewhere() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let soon = Utc::now() + Duration::days(10);
    let later = Utc::now() + Duration::days(45);
    let far = Utc::now() + Duration::days(800);
    let fmt = |t: chrono::DateTime<Utc>, h: &str| format!("{}T{h}", t.format("%Y-%m-%d"));
    let a = register_planned(
        &c,
        "Billing, 4.2; \"quoted\"",
        "major",
        "1",
        &fmt(soon, "09:00"),
        &fmt(soon + Duration::days(2), "17:00"),
    )
    .await;
    let b = register_planned(
        &c,
        "Portal fixes",
        "emergency",
        "1",
        &fmt(later, "08:00"),
        &fmt(later, "12:00"),
    )
    .await;
    let _too_far = register_planned(
        &c,
        "Far away",
        "minor",
        "1",
        &fmt(far, "08:00"),
        &fmt(far, "12:00"),
    )
    .await;

    let url = feed_url(&c).await;
    assert!(
        url.starts_with(&format!("{}/calendar.ics?token=", app.base)),
        "{url}"
    );
    let feed = fetch(&url).await;
    feed.assert_status(200);
    // RFC 5545 framing: CRLF line ends, lines folded at 75 octets.
    assert!(
        feed.body.starts_with("BEGIN:VCALENDAR\r\n") && feed.body.ends_with("END:VCALENDAR\r\n")
    );
    for line in feed.body.split("\r\n") {
        assert!(line.len() <= 75, "line longer than 75 octets: {line:?}");
    }

    let mut parser = ical::IcalParser::new(std::io::BufReader::new(feed.body.as_bytes()));
    let cal = parser
        .next()
        .expect("one calendar")
        .expect("the feed parses");
    assert!(parser.next().is_none(), "exactly one calendar");
    let prop = |props: &[ical::property::Property], name: &str| -> String {
        props
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.value.clone())
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(prop(&cal.properties, "VERSION"), "2.0");
    let mut uids: Vec<String> = cal
        .events
        .iter()
        .map(|e| prop(&e.properties, "UID"))
        .collect();
    uids.sort();
    assert_eq!(uids, vec![format!("{a}@relman"), format!("{b}@relman")]);

    let ev = cal
        .events
        .iter()
        .find(|e| prop(&e.properties, "UID") == format!("{a}@relman"))
        .unwrap();
    // Text values come back escaped as RFC 5545 says (commas, semicolons, new lines).
    assert_eq!(
        prop(&ev.properties, "SUMMARY"),
        format!("{a} Billing\\, 4.2\\; \"quoted\"")
    );
    assert_eq!(
        prop(&ev.properties, "DTSTART"),
        format!("{}T090000Z", soon.format("%Y%m%d"))
    );
    assert_eq!(
        prop(&ev.properties, "DTEND"),
        format!("{}T170000Z", (soon + Duration::days(2)).format("%Y%m%d"))
    );
    assert_eq!(
        prop(&ev.properties, "URL"),
        format!("{}/releases/{a}", app.base)
    );
    let description = prop(&ev.properties, "DESCRIPTION");
    for part in [
        "Type: Major",
        "Phase: Assess",
        "State: Active",
        "Category: Release Management",
    ] {
        assert!(
            description.contains(part),
            "{part} missing from {description}"
        );
    }
    let ev = cal
        .events
        .iter()
        .find(|e| prop(&e.properties, "UID") == format!("{b}@relman"))
        .unwrap();
    assert!(prop(&ev.properties, "DESCRIPTION").contains("Type: Emergency"));

    // The same URL twice gives the same events (the UIDs are stable).
    let again = fetch(&url).await;
    assert_eq!(again.body.matches("UID:").count(), 2);

    // Filters work on the feed as on the month view.
    let emergencies = fetch(&format!("{url}&type=emergency")).await;
    assert!(
        emergencies.body.contains(&format!("UID:{b}@relman"))
            && !emergencies.body.contains(&format!("UID:{a}@relman"))
    );
}

#[tokio::test]
async fn a_regenerated_token_retires_the_old_address_and_wrong_tokens_find_nothing() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let old = feed_url(&c).await;
    assert_eq!(
        feed_url(&c).await,
        old,
        "the address stays the same until regenerated"
    );
    fetch(&old).await.assert_status(200);

    c.post("/account/calendar/token", &[])
        .await
        .assert_redirect_to("/account/calendar");
    let page = c.get("/account/calendar").await;
    page.assert_contains("The old address no longer works");
    let new = feed_url(&c).await;
    assert_ne!(new, old);
    fetch(&old).await.assert_status(404);
    fetch(&new).await.assert_status(200);

    // Regenerating needs the form's CSRF token.
    c.post_raw("/account/calendar/token", &[])
        .await
        .assert_status(403);

    // Wrong, malformed and missing tokens.
    let base = format!("{}/calendar.ics", app.base);
    fetch(&format!("{base}?token={}", "A".repeat(43)))
        .await
        .assert_status(404);
    fetch(&format!("{base}?token=short"))
        .await
        .assert_status(404);
    fetch(&base).await.assert_status(404);

    // Another user's token is theirs alone, and a deactivated user's feed is gone.
    let d = app.signed_in("dora", &[Role::Coordinator]).await;
    let hers = feed_url(&d).await;
    assert_ne!(hers, new);
    fetch(&hers).await.assert_status(200);
    diesel::update(users::table.filter(users::username.eq("dora")))
        .set(users::active.eq(false))
        .execute(&mut app.conn())
        .unwrap();
    fetch(&hers).await.assert_status(404);
    fetch(&new).await.assert_status(200);
}

#[tokio::test]
async fn a_release_planned_in_a_blackout_shows_a_warning_on_its_page_and_in_the_calendar() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("max", &[Role::Manager]).await;
    let hardware = new_category(&m, "Hardware").await;
    m.post(
        "/admin/blackouts",
        &[
            ("name", "Year-end freeze"),
            ("starts_at", "2026-12-10T00:00"),
            ("ends_at", "2026-12-12T00:00"),
            ("category", ""),
        ],
    )
    .await
    .assert_redirect_to("/admin/blackouts");
    m.post(
        "/admin/blackouts",
        &[
            ("name", "Rack works"),
            ("starts_at", "2026-12-01T00:00"),
            ("ends_at", "2026-12-31T00:00"),
            ("category", &hardware),
        ],
    )
    .await
    .assert_status(303);

    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let inside = register_planned(
        &c,
        "Billing 4.2",
        "major",
        "1",
        "2026-12-11T09:00",
        "2026-12-11T17:00",
    )
    .await;
    let after = register_planned(
        &c,
        "Portal fixes",
        "minor",
        "1",
        "2026-12-12T00:00",
        "2026-12-12T06:00",
    )
    .await;

    let p = c.get(&format!("/releases/{inside}")).await;
    p.assert_status(200)
        .assert_contains("<div class=\"warning\" role=\"note\"")
        .assert_contains("Schedule conflicts")
        .assert_contains("overlaps the blackout “Year-end freeze” (2026-12-10 00:00 UTC to 2026-12-12 00:00 UTC, for all categories)")
        // Another category's blackout does not apply.
        .assert_lacks("Rack works");
    // A blackout's end is exclusive: a release starting then is clear.
    c.get(&format!("/releases/{after}"))
        .await
        .assert_status(200)
        .assert_lacks("class=\"warning\"")
        .assert_lacks("Year-end freeze");

    let cal = c.get("/calendar?month=2026-12").await;
    cal.assert_contains("Blackout: Year-end freeze")
        .assert_contains("Blackout: Rack works (Hardware only)")
        .assert_contains("Conflicts in December 2026")
        .assert_contains("badge-warning\">Conflict</strong>");
    // Filtered to the release category, the other category's blackout is not shown.
    c.get("/calendar?month=2026-12&category=1")
        .await
        .assert_lacks("Rack works")
        .assert_contains("Blackout: Year-end freeze");

    // Moving the release out of the blackout clears the warning.
    save(
        &app,
        &c,
        &inside,
        &[
            ("planned_start", "2027-01-05T09:00"),
            ("planned_end", "2027-01-05T17:00"),
        ],
    )
    .await
    .assert_status(303);
    c.get(&format!("/releases/{inside}"))
        .await
        .assert_lacks("Year-end freeze");
}

#[tokio::test]
async fn overlapping_active_releases_sharing_a_service_warn_naming_each_other() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let first = register_planned(
        &c,
        "Billing 4.2",
        "major",
        "1",
        "2026-12-01T09:00",
        "2026-12-20T17:00",
    )
    .await;
    let second = register_planned(
        &c,
        "CRM upgrade",
        "minor",
        "1",
        "2026-12-15T09:00",
        "2026-12-22T17:00",
    )
    .await;
    let unrelated = register_planned(
        &c,
        "Web shop",
        "minor",
        "1",
        "2026-12-10T09:00",
        "2026-12-12T17:00",
    )
    .await;
    let later = register_planned(
        &c,
        "CRM again",
        "minor",
        "1",
        "2027-03-01T09:00",
        "2027-03-02T17:00",
    )
    .await;
    save(&app, &c, &first, &[("affected_services", "Billing, CRM")])
        .await
        .assert_status(303);
    save(
        &app,
        &c,
        &second,
        &[("affected_services", "  crm \nPayroll")],
    )
    .await
    .assert_status(303);
    save(
        &app,
        &c,
        &unrelated,
        &[("affected_services", "Web shop, Billing portal")],
    )
    .await
    .assert_status(303);
    save(&app, &c, &later, &[("affected_services", "CRM")])
        .await
        .assert_status(303);

    let p = c.get(&format!("/releases/{first}")).await;
    p.assert_contains("class=\"warning\"")
        .assert_contains(&format!("The planned window overlaps {second} CRM upgrade (2026-12-15 09:00 UTC to 2026-12-22 17:00 UTC), which also affects CRM."))
        .assert_lacks(&format!("overlaps {unrelated}"))
        .assert_lacks(&format!("overlaps {later}"));
    c.get(&format!("/releases/{second}"))
        .await
        .assert_contains(&format!("The planned window overlaps {first} Billing 4.2"));
    c.get(&format!("/releases/{unrelated}"))
        .await
        .assert_lacks("class=\"warning\"");
    c.get(&format!("/releases/{later}"))
        .await
        .assert_lacks("class=\"warning\"");
    c.get("/calendar?month=2026-12")
        .await
        .assert_contains(&format!("overlaps {second} CRM upgrade"));
}

#[tokio::test]
async fn managers_keep_blackouts_and_nobody_else_may() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    c.get("/admin/blackouts").await.assert_status(403);
    c.post(
        "/admin/blackouts",
        &[
            ("name", "Sneaky"),
            ("starts_at", "2026-12-01T00:00"),
            ("ends_at", "2026-12-02T00:00"),
            ("category", ""),
        ],
    )
    .await
    .assert_status(403);
    c.get("/calendar")
        .await
        .assert_status(200)
        .assert_lacks("href=\"/admin/blackouts\"");

    let m = app.signed_in("max", &[Role::Manager]).await;
    m.get("/calendar")
        .await
        .assert_contains("href=\"/admin/blackouts\"");
    m.get("/admin/blackouts")
        .await
        .assert_status(200)
        .assert_contains("No blackout is in effect or planned.");
    // Invalid input is refused with messages and kept.
    let bad = m
        .post(
            "/admin/blackouts",
            &[
                ("name", "Freeze"),
                ("starts_at", "2026-12-10T00:00"),
                ("ends_at", "2026-12-09T00:00"),
                ("category", ""),
            ],
        )
        .await;
    bad.assert_status(422)
        .assert_contains("The end must be after the start.")
        .assert_contains("value=\"Freeze\"");
    m.post(
        "/admin/blackouts",
        &[
            ("name", ""),
            ("starts_at", "soon"),
            ("ends_at", ""),
            ("category", "99"),
        ],
    )
    .await
    .assert_status(422)
    .assert_contains("Enter a name")
    .assert_contains("Enter when the blackout starts")
    .assert_contains("Choose a release category");

    let far = (Utc::now() + Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let far_end = (Utc::now() + Duration::days(32))
        .format("%Y-%m-%d")
        .to_string();
    m.post(
        "/admin/blackouts",
        &[
            ("name", "Freeze"),
            ("starts_at", &format!("{far}T00:00")),
            ("ends_at", &format!("{far_end}T00:00")),
            ("category", ""),
        ],
    )
    .await
    .assert_redirect_to("/admin/blackouts");
    let id: i64 = blackouts::table
        .select(blackouts::id)
        .first(&mut app.conn())
        .unwrap();
    m.get("/admin/blackouts")
        .await
        .assert_contains("Freeze")
        .assert_contains("Upcoming")
        .assert_contains("All categories");
    c.get(&format!("/admin/blackouts/{id}"))
        .await
        .assert_status(403);

    m.get(&format!("/admin/blackouts/{id}"))
        .await
        .assert_status(200)
        .assert_contains(&format!("value=\"{far}T00:00\""));
    m.post(
        &format!("/admin/blackouts/{id}"),
        &[
            ("name", "Holiday freeze"),
            ("starts_at", &format!("{far}T06:00")),
            ("ends_at", &format!("{far_end}T00:00")),
            ("category", "1"),
        ],
    )
    .await
    .assert_redirect_to("/admin/blackouts");
    let (name, category): (String, Option<i64>) = blackouts::table
        .find(id)
        .select((blackouts::name, blackouts::category_id))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!((name.as_str(), category), ("Holiday freeze", Some(1)));
    m.get("/admin/blackouts")
        .await
        .assert_contains("Release Management");

    c.post(&format!("/admin/blackouts/{id}/delete"), &[])
        .await
        .assert_status(403);
    m.get(&format!("/admin/blackouts/{id}/delete"))
        .await
        .assert_status(200)
        .assert_contains("Delete the blackout “Holiday freeze”?");
    m.post(&format!("/admin/blackouts/{id}/delete"), &[])
        .await
        .assert_redirect_to("/admin/blackouts");
    let left: i64 = blackouts::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(left, 0);
    m.get(&format!("/admin/blackouts/{id}"))
        .await
        .assert_status(404);
}

#[tokio::test]
async fn a_release_planned_in_a_blackout_cannot_enter_distribution_unless_it_is_an_emergency() {
    use crate::releases::{cab_approves, save, take};
    let app = TestApp::spawn().await;
    let m = app.signed_in("max", &[Role::Manager]).await;
    m.post(
        "/admin/blackouts",
        &[
            ("name", "Year-end freeze"),
            ("starts_at", "2026-12-10T00:00"),
            ("ends_at", "2026-12-12T00:00"),
            ("category", ""),
        ],
    )
    .await
    .assert_redirect_to("/admin/blackouts");
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    app.user("cab-chair", &[Role::Approver], &["CAB", "ECAB"]);
    for (title, ty, expect) in [("Billing 4.2", "major", 422), ("Hotfix", "emergency", 303)] {
        let n = register_planned(&c, title, ty, "1", "2026-12-11T09:00", "2026-12-11T17:00").await;
        c.get(&format!("/releases/{n}"))
            .await
            .assert_contains("Year-end freeze");
        take(&app, &c, &n, "Advance to Plan and Design", "")
            .await
            .assert_status(303);
        save(
            &app,
            &c,
            &n,
            &[
                ("release_plan", "P"),
                ("deployment_plan", "D"),
                ("test_criteria", "T"),
                ("backout_plan", "B"),
            ],
        )
        .await
        .assert_status(303);
        cab_approves(&app, &n).await;
        take(&app, &c, &n, "Advance to Build and Test", "")
            .await
            .assert_status(303);
        save(&app, &c, &n, &[("test_result", "Passed")])
            .await
            .assert_status(303);
        cab_approves(&app, &n).await;
        let p = take(&app, &c, &n, "Advance to Training", "").await;
        p.assert_status(expect);
        if expect == 422 {
            p.assert_contains("falls in the blackout Year-end freeze");
            assert_eq!(crate::releases::phase_of(&app, &n), "Build and Test");
        } else {
            assert_eq!(
                crate::releases::phase_of(&app, &n),
                "Distribution and Rollout"
            );
        }
    }
}

#[tokio::test]
async fn a_busy_day_shows_its_first_releases_and_links_to_the_list_of_all_of_them() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let mut numbers = Vec::new();
    for i in 0..8 {
        // Planned 1 to 20 December 2026, every one of them.
        numbers
            .push(crate::releases::register(&c, &format!("Busy {i}"), "minor", "low", "low").await);
    }
    let page = c.get("/calendar?month=2026-12").await;
    page.assert_status(200)
        .assert_contains("8 releases are planned in December 2026")
        .assert_contains("Each day shows its first 6")
        .assert_contains("<a href=\"/releases?on=2026-12-05&#38;sort=planned_start\">2 more<span class=\"visually-hidden\"> releases planned on Saturday 5 December 2026</span></a>");
    // A day holds six in the grid and six in the day-by-day list.
    let grid_day = page
        .body
        .split("Saturday 5 December 2026")
        .nth(1)
        .unwrap()
        .split("</td>")
        .next()
        .unwrap();
    assert_eq!(grid_day.matches("class=\"cal-entry ").count(), 6);

    let list = c.get("/releases?on=2026-12-05&sort=planned_start").await;
    list.assert_status(200)
        .assert_contains("value=\"2026-12-05\"");
    for n in &numbers {
        list.assert_contains(&format!(">{n}<"));
    }
    let other_day = c.get("/releases?on=2026-12-21").await;
    for n in &numbers {
        other_day.assert_lacks(&format!(">{n}<"));
    }
}

// ---------------------------------------------------------------- the feed, read by two parsers

/// One event of the feed as a parser gives it back: property name → value.
type Event = std::collections::BTreeMap<String, String>;

/// The events of a feed through the Rust `ical` parser.
fn events_by_ical(body: &str) -> Vec<Event> {
    let mut parser = ical::IcalParser::new(std::io::BufReader::new(body.as_bytes()));
    let cal = parser
        .next()
        .expect("one calendar")
        .expect("the feed parses with ical");
    assert!(parser.next().is_none(), "exactly one calendar");
    cal.events
        .iter()
        .map(|e| {
            e.properties
                .iter()
                .map(|p| (p.name.clone(), p.value.clone().unwrap_or_default()))
                .collect()
        })
        .collect()
}

/// Debian's Python (where `python3-icalendar` is installed by tests/run), else any `python3`.
fn python() -> String {
    std::env::var("RELMAN_TEST_PYTHON").unwrap_or_else(|_| {
        if std::path::Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3".into()
        } else {
            "python3".into()
        }
    })
}

/// The events of a feed through Python's `icalendar` (a third-party RFC 5545 parser): each
/// event's properties as text, datetimes as `20261201T090000Z`.
fn events_by_python(body: &str) -> Vec<Event> {
    use std::io::Write;
    const SCRIPT: &str = r#"
import sys, json, datetime
from icalendar import Calendar
cal = Calendar.from_ical(sys.stdin.buffer.read())
out = []
for ev in cal.walk('VEVENT'):
    e = {}
    for name, value in ev.property_items(recursive=False):
        if name in ('BEGIN', 'END'):
            continue
        if name in ('DTSTART', 'DTEND', 'DTSTAMP', 'CREATED', 'LAST-MODIFIED'):
            d = ev.decoded(name)
            if isinstance(d, datetime.datetime):
                d = d.astimezone(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
            e[name] = str(d)
        elif name == 'CATEGORIES':
            e[name] = value.to_ical().decode() if hasattr(value, 'to_ical') else str(value)
        else:
            e[name] = str(value)
    out.append(e)
print(json.dumps(out))
"#;
    let mut child = std::process::Command::new(python())
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (tests/run installs python3-icalendar)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "Python's icalendar could not read the feed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

#[track_caller]
fn event<'a>(events: &'a [Event], uid: &str) -> &'a Event {
    events
        .iter()
        .find(|e| e.get("UID").is_some_and(|u| u == uid))
        .unwrap_or_else(|| panic!("no event {uid} in {events:#?}"))
}

fn uids(events: &[Event]) -> Vec<String> {
    let mut u: Vec<String> = events.iter().map(|e| e["UID"].clone()).collect();
    u.sort();
    u
}

#[tokio::test]
async fn the_feed_shows_outcomes_actual_windows_blackouts_and_changes_and_two_parsers_read_it() {
    use crate::releases::{cab_approves, take, to_distribution};
    let app = TestApp::spawn().await;
    let m = app.signed_in("max", &[Role::Manager]).await;
    let day = |d: i64| Utc::now() + Duration::days(d);
    let at = |d: i64, h: &str| format!("{}T{h}", day(d).format("%Y-%m-%d"));
    let ics = |d: i64, h: &str| format!("{}T{}00Z", day(d).format("%Y%m%d"), h.replace(':', ""));

    let active = register_planned(
        &m,
        "Still planned",
        "minor",
        "1",
        &at(10, "09:00"),
        &at(10, "17:00"),
    )
    .await;
    let abandoned = register_planned(
        &m,
        "Given up",
        "minor",
        "1",
        &at(12, "09:00"),
        &at(12, "17:00"),
    )
    .await;
    take(&app, &m, &abandoned, "Abandon release", "Not needed")
        .await
        .assert_status(303);
    // Ended through Distribution and Rollout and Verification, with an actual window.
    let end_through = |n: String, outcome: &'static str| {
        let (app, m) = (&app, &m);
        async move {
            to_distribution(app, m, &n).await;
            save(app, m, &n, &[("actual_start", &at(-3, "10:00"))])
                .await
                .assert_status(303);
            if outcome == "backed out" {
                take(app, m, &n, "Activate back-out plan", "Payments failing")
                    .await
                    .assert_status(303);
            } else {
                cab_approves(app, &n).await;
            }
            take(app, m, &n, "Advance to Verification", "")
                .await
                .assert_status(303);
            save(
                app,
                m,
                &n,
                &[
                    ("actual_end", &at(-3, "12:30")),
                    ("verification", "Checked"),
                    ("evaluation", "Fine"),
                ],
            )
            .await
            .assert_status(303);
            let label = if outcome == "backed out" {
                "Close as backed out"
            } else {
                "Close as successful"
            };
            take(app, m, &n, label, "").await.assert_status(303);
            n
        }
    };
    let successful = end_through(
        register_planned(
            &m,
            "Went well",
            "major",
            "1",
            &at(-4, "09:00"),
            &at(-2, "17:00"),
        )
        .await,
        "successful",
    )
    .await;
    let backed_out = end_through(
        register_planned(
            &m,
            "Rolled back",
            "minor",
            "1",
            &at(-4, "09:00"),
            &at(-2, "17:00"),
        )
        .await,
        "backed out",
    )
    .await;
    // A change with a planned window.
    let normal: i64 = relman::schema::categories::table
        .filter(relman::schema::categories::name.eq("Normal change"))
        .select(relman::schema::categories::id)
        .first(&mut app.conn())
        .unwrap();
    let p = m
        .post(
            "/changes/new",
            &[
                ("category", normal.to_string().as_str()),
                ("type", "normal"),
                ("title", "Database driver"),
                ("description", "Upgrade the database driver"),
                ("impact", "medium"),
                ("urgency", "medium"),
                ("planned_start", &at(5, "08:00")),
                ("planned_end", &at(5, "10:00")),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let change = p
        .location
        .unwrap()
        .trim_start_matches("/changes/")
        .to_string();
    // A blackout.
    m.post(
        "/admin/blackouts",
        &[
            ("name", "Year-end freeze"),
            ("starts_at", &at(20, "00:00")),
            ("ends_at", &at(22, "00:00")),
            ("category", ""),
        ],
    )
    .await
    .assert_redirect_to("/admin/blackouts");
    let blackout: i64 = blackouts::table
        .select(blackouts::id)
        .first(&mut app.conn())
        .unwrap();

    let url = feed_url(&m).await;
    let feed = fetch(&url).await;
    feed.assert_status(200);
    for line in feed.body.split("\r\n") {
        assert!(line.len() <= 75, "line longer than 75 octets: {line:?}");
    }
    let by_ical = events_by_ical(&feed.body);
    let by_python = events_by_python(&feed.body);
    let expected = {
        let mut u = vec![
            format!("{active}@relman"),
            format!("{abandoned}@relman"),
            format!("{successful}@relman"),
            format!("{backed_out}@relman"),
            format!("{change}@relman"),
            format!("blackout-{blackout}@relman"),
        ];
        u.sort();
        u
    };
    assert_eq!(
        uids(&by_ical),
        expected,
        "releases, the change and the blackout (ical)"
    );
    assert_eq!(
        uids(&by_python),
        expected,
        "the same for Python's icalendar"
    );

    for (events, parser) in [(&by_ical, "ical"), (&by_python, "icalendar")] {
        // ical gives text values escaped as written; icalendar unescapes them.
        let summary = |uid: &str| event(events, uid)["SUMMARY"].replace('\\', "");
        let status = |uid: &str| event(events, uid)["STATUS"].clone();
        let start = |uid: &str| event(events, uid)["DTSTART"].clone();
        let end = |uid: &str| event(events, uid)["DTEND"].clone();

        let a = format!("{active}@relman");
        assert_eq!(summary(&a), format!("{active} Still planned"), "{parser}");
        assert_eq!(status(&a), "CONFIRMED", "{parser}");
        assert_eq!(start(&a), ics(10, "09:00"), "{parser}");

        let s = format!("{successful}@relman");
        assert_eq!(
            summary(&s),
            format!("{successful} Went well (closed successful)"),
            "{parser}"
        );
        assert_eq!(
            status(&s),
            "CONFIRMED",
            "a successful closing stays confirmed ({parser})"
        );
        assert_eq!(
            start(&s),
            ics(-3, "10:00"),
            "the actual window, not the plan ({parser})"
        );
        assert_eq!(end(&s), ics(-3, "12:30"), "{parser}");

        let b = format!("{backed_out}@relman");
        assert_eq!(
            summary(&b),
            format!("{backed_out} Rolled back (backed out)"),
            "{parser}"
        );
        assert_eq!(status(&b), "CANCELLED", "{parser}");
        assert_eq!(start(&b), ics(-3, "10:00"), "{parser}");

        let x = format!("{abandoned}@relman");
        assert_eq!(
            summary(&x),
            format!("{abandoned} Given up (abandoned)"),
            "{parser}"
        );
        assert_eq!(status(&x), "CANCELLED", "{parser}");
        assert_eq!(
            start(&x),
            ics(12, "09:00"),
            "no actual window: the plan ({parser})"
        );

        let c = format!("{change}@relman");
        assert_eq!(summary(&c), format!("{change} Database driver"), "{parser}");
        assert_eq!(start(&c), ics(5, "08:00"), "{parser}");
        assert_eq!(end(&c), ics(5, "10:00"), "{parser}");
        assert!(
            event(events, &c)["URL"].ends_with(&format!("/changes/{change}")),
            "{parser}"
        );

        let k = format!("blackout-{blackout}@relman");
        assert_eq!(summary(&k), "Blackout: Year-end freeze", "{parser}");
        assert_eq!(event(events, &k)["TRANSP"], "OPAQUE", "{parser}");
        assert_eq!(event(events, &k)["CATEGORIES"], "Blackout", "{parser}");
        assert_eq!(start(&k), ics(20, "00:00"), "{parser}");
        assert_eq!(end(&k), ics(22, "00:00"), "{parser}");
    }
    let description = &event(&by_python, &format!("{successful}@relman"))["DESCRIPTION"];
    assert!(
        description.contains(&format!(
            "Actual: {} 10:00 UTC to",
            day(-3).format("%Y-%m-%d")
        )) && description.contains("State: Closed — successful"),
        "{description}"
    );

    // ?include= chooses releases, changes or both; the blackout is in every one.
    let releases_only = events_by_python(&fetch(&format!("{url}&include=releases")).await.body);
    let mut want: Vec<String> = expected
        .iter()
        .filter(|u| **u != format!("{change}@relman"))
        .cloned()
        .collect();
    want.sort();
    assert_eq!(uids(&releases_only), want);
    let changes_only = events_by_ical(&fetch(&format!("{url}&include=changes")).await.body);
    let mut want = vec![
        format!("{change}@relman"),
        format!("blackout-{blackout}@relman"),
    ];
    want.sort();
    assert_eq!(uids(&changes_only), want);
    let both = events_by_ical(&fetch(&format!("{url}&include=both")).await.body);
    assert_eq!(uids(&both), expected, "both, as without the parameter");
}
