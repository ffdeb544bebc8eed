//! The page context every template receives: who is signed in, their navigation, the CSRF
//! token for forms, and flash messages; plus small formatting helpers for templates.
use chrono::{DateTime, Utc};

use crate::domain::roles::{Role, Roles};
use crate::paths;

#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
    /// A count shown beside the label (approvals waiting), 0 for none.
    pub count: usize,
}

#[derive(Debug, Clone)]
pub struct Flash {
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Ctx {
    /// Display name of the signed-in user, if any.
    pub user_name: Option<String>,
    pub username: String,
    pub roles: Roles,
    pub csrf: String,
    pub flash: Vec<Flash>,
    pub nav: Vec<NavItem>,
    pub pending_approvals: usize,
    pub unread: i64,
}

impl Ctx {
    pub fn anonymous(csrf: String, flash: Vec<Flash>) -> Ctx {
        Ctx {
            user_name: None,
            username: String::new(),
            roles: Roles::default(),
            csrf,
            flash,
            nav: Vec::new(),
            pending_approvals: 0,
            unread: 0,
        }
    }

    pub fn signed_in(
        display_name: &str,
        username: &str,
        roles: Roles,
        path: &str,
        csrf: String,
        flash: Vec<Flash>,
    ) -> Ctx {
        Ctx {
            user_name: Some(display_name.to_string()),
            username: username.to_string(),
            roles,
            csrf,
            flash,
            nav: nav_for(roles, path),
            pending_approvals: 0,
            unread: 0,
        }
    }

    pub fn has(&self, role: &str) -> bool {
        role.parse::<Role>().is_ok_and(|r| self.roles.has(r))
    }
}

/// The navigation shows only what the user's roles allow.
fn nav_for(roles: Roles, path: &str) -> Vec<NavItem> {
    let mut items: Vec<(&'static str, &'static str)> = vec![
        (paths::DASHBOARD, "Dashboard"),
        (paths::RELEASES, "Releases"),
        (paths::CHANGES, "Changes"),
        (paths::MY_TASKS, "My tasks"),
        (paths::CALENDAR, "Calendar"),
        (paths::KNOWLEDGE, "Knowledge"),
    ];
    if roles.has(Role::Approver) {
        items.push((paths::APPROVALS, "Approvals"));
    }
    if roles.has(Role::Manager) {
        items.push((paths::ADMIN_WORKFLOWS, "Workflows"));
        items.push((paths::ADMIN_CATEGORIES, "Categories"));
        items.push((paths::ADMIN_MODELS, "Release models"));
        items.push((paths::MANAGEMENT_REPORT, "Reports"));
        items.push((paths::ADMIN_BLACKOUTS, "Blackouts"));
    }
    if roles.has(Role::Admin) {
        items.push((paths::ADMIN_USERS, "Users"));
        items.push((paths::ADMIN_GROUPS, "Groups"));
        items.push(("/admin/audit", "Audit"));
    }
    items
        .into_iter()
        .map(|(href, label)| NavItem {
            count: 0,
            href,
            label,
            current: if href == "/" {
                path == "/"
            } else {
                path == href || path.starts_with(&format!("{href}/"))
            },
        })
        .collect()
}

/// `2026-11-26 14:05 UTC`.
/// "a" or "an" before a word, as it is spoken: "an Emergency release", "a Minor release".
pub fn article(word: &str) -> &'static str {
    match word.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

pub fn datetime(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub fn opt_datetime(t: &Option<DateTime<Utc>>) -> String {
    t.as_ref().map(datetime).unwrap_or_else(|| "—".to_string())
}

/// The value of a `datetime-local` input.
pub fn datetime_input(t: &Option<DateTime<Utc>>) -> String {
    t.as_ref()
        .map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// "3 days" or "4 hours", for durations kept in hours.
pub fn duration_hours(h: i32) -> String {
    if h % 24 == 0 {
        let d = h / 24;
        format!("{d} day{}", if d == 1 { "" } else { "s" })
    } else {
        format!("{h} hour{}", if h == 1 { "" } else { "s" })
    }
}
