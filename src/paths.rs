//! URL paths in one place: links, redirects and tests build them here, never by hand.

pub const LOGIN: &str = "/login";
pub const LOGOUT: &str = "/logout";
pub const PASSWORD: &str = "/account/password";
pub const DASHBOARD: &str = "/";
pub const RELEASES: &str = "/releases";
pub const NEW_RELEASE: &str = "/releases/new";
pub const MY_TASKS: &str = "/tasks";
pub const CHANGES: &str = "/changes";
pub const KNOWLEDGE: &str = "/knowledge";
pub const APPROVALS: &str = "/approvals";
pub const ADMIN_USERS: &str = "/admin/users";
pub const ADMIN_GROUPS: &str = "/admin/groups";
pub const ADMIN_WORKFLOWS: &str = "/admin/workflows";
pub const ADMIN_CATEGORIES: &str = "/admin/categories";

/// One lessons-learned article.
pub fn knowledge_article(id: i64) -> String {
    format!("{KNOWLEDGE}/{id}")
}

/// `RL-000123`: a release's number as people read and type it.
pub fn release_number(n: i64) -> String {
    format!("RL-{n:06}")
}

/// The number inside `RL-000123` (the prefix is optional, case-insensitive).
pub fn parse_release_number(s: &str) -> Option<i64> {
    let digits = s
        .strip_prefix("RL-")
        .or_else(|| s.strip_prefix("rl-"))
        .unwrap_or(s);
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `C-000045`: a change's number.
pub fn change_number(n: i64) -> String {
    format!("C-{n:06}")
}

pub fn parse_change_number(s: &str) -> Option<i64> {
    let digits = s.strip_prefix("C-").or_else(|| s.strip_prefix("c-"))?;
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub fn change(n: i64) -> String {
    format!("/changes/{}", change_number(n))
}

/// The number and page of a record of either kind.
pub fn record_number(kind: &str, n: i64) -> String {
    if kind == "change" {
        change_number(n)
    } else {
        release_number(n)
    }
}

pub fn record(kind: &str, n: i64) -> String {
    if kind == "change" {
        change(n)
    } else {
        release(n)
    }
}

pub fn release(n: i64) -> String {
    format!("/releases/{}", release_number(n))
}

pub fn release_transitions(n: i64) -> String {
    format!("{}/transitions", release(n))
}

pub fn admin_user(id: i64) -> String {
    format!("/admin/users/{id}")
}

pub fn admin_group(id: i64) -> String {
    format!("/admin/groups/{id}")
}

pub fn admin_workflow(id: i64) -> String {
    format!("/admin/workflows/{id}")
}

/// Percent-encode a value for a query string.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A `next=` target is only followed when it is a local path (no open redirects).
pub fn safe_next(next: Option<&str>) -> String {
    local_or(next, DASHBOARD)
}

/// `target` when it is a path on this site, else `fallback`. Browsers drop tabs and line
/// breaks from a `Location` and read a backslash as a slash, so `/\tevil.example` or
/// `/\\evil.example` would leave the site like `//evil.example`: any control character or
/// backslash refuses the target (and a line break could not go into a header anyway).
pub fn local_or(target: Option<&str>, fallback: &str) -> String {
    match target {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.chars().any(|c| c == '\\' || c.is_control()) =>
        {
            n.to_string()
        }
        _ => fallback.to_string(),
    }
}

pub const ADMIN_NEW_USER: &str = "/admin/users/new";
pub const ADMIN_SIGN_INS: &str = "/admin/users/sign-ins";

pub fn admin_user_password(id: i64) -> String {
    format!("/admin/users/{id}/password")
}

pub fn admin_user_deactivate(id: i64) -> String {
    format!("/admin/users/{id}/deactivate")
}

pub fn admin_user_reactivate(id: i64) -> String {
    format!("/admin/users/{id}/reactivate")
}

pub fn admin_group_members(id: i64) -> String {
    format!("/admin/groups/{id}/members")
}

pub fn admin_group_member_remove(group_id: i64, user_id: i64) -> String {
    format!("/admin/groups/{group_id}/members/{user_id}/remove")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_numbers_round_trip() {
        assert_eq!(release_number(123), "RL-000123");
        assert_eq!(parse_release_number("RL-000123"), Some(123));
        assert_eq!(parse_release_number("123"), Some(123));
        assert_eq!(parse_release_number("RL-"), None);
        assert_eq!(parse_release_number("RL-12a"), None);
        assert_eq!(parse_release_number("C-000001"), None);
    }

    #[test]
    fn next_targets_stay_local() {
        assert_eq!(safe_next(Some("/releases")), "/releases");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("/releases\r\nSet-Cookie: x=1")), "/");
        assert_eq!(
            safe_next(Some("/releases?q=a%20b#top")),
            "/releases?q=a%20b#top"
        );
        assert_eq!(
            local_or(Some("https://evil.example"), "/tasks/1"),
            "/tasks/1"
        );
    }
}

pub const ADMIN_WORKFLOW_COPY: &str = "/admin/workflows/copy";

pub fn admin_workflow_publish(id: i64) -> String {
    format!("/admin/workflows/{id}/publish")
}

pub fn admin_workflow_retire(id: i64) -> String {
    format!("/admin/workflows/{id}/retire")
}

pub fn admin_workflow_restore(id: i64) -> String {
    format!("/admin/workflows/{id}/restore")
}

pub fn admin_workflow_fields(id: i64) -> String {
    format!("/admin/workflows/{id}/fields")
}

pub fn admin_workflow_phases(id: i64) -> String {
    format!("/admin/workflows/{id}/phases")
}

pub fn admin_workflow_phase(id: i64, phase_id: i64) -> String {
    format!("/admin/workflows/{id}/phases/{phase_id}")
}

pub fn admin_workflow_phase_move(id: i64, phase_id: i64) -> String {
    format!("/admin/workflows/{id}/phases/{phase_id}/move")
}

pub fn admin_workflow_phase_retire(id: i64, phase_id: i64) -> String {
    format!("/admin/workflows/{id}/phases/{phase_id}/retire")
}

pub fn admin_workflow_phase_restore(id: i64, phase_id: i64) -> String {
    format!("/admin/workflows/{id}/phases/{phase_id}/restore")
}

pub fn admin_workflow_transitions(id: i64) -> String {
    format!("/admin/workflows/{id}/transitions")
}

pub fn admin_workflow_transition_remove(id: i64, transition_id: i64) -> String {
    format!("/admin/workflows/{id}/transitions/{transition_id}/remove")
}

pub fn admin_category(id: i64) -> String {
    format!("/admin/categories/{id}")
}

pub fn admin_category_retire(id: i64) -> String {
    format!("/admin/categories/{id}/retire")
}

pub fn admin_category_restore(id: i64) -> String {
    format!("/admin/categories/{id}/restore")
}

pub const ADMIN_MODELS: &str = "/admin/models";

pub fn admin_model(id: i64) -> String {
    format!("/admin/models/{id}")
}

pub fn admin_model_version(id: i64, version: i32) -> String {
    format!("/admin/models/{id}/versions/{version}")
}

pub fn admin_model_retire(id: i64) -> String {
    format!("/admin/models/{id}/retire")
}

pub fn admin_model_restore(id: i64) -> String {
    format!("/admin/models/{id}/restore")
}

pub const CALENDAR: &str = "/calendar";
pub const CALENDAR_FEED: &str = "/calendar.ics";
pub const ACCOUNT_CALENDAR: &str = "/account/calendar";
pub const ACCOUNT_CALENDAR_TOKEN: &str = "/account/calendar/token";
pub const ADMIN_BLACKOUTS: &str = "/admin/blackouts";

pub fn admin_blackout(id: i64) -> String {
    format!("/admin/blackouts/{id}")
}

pub fn admin_blackout_delete(id: i64) -> String {
    format!("/admin/blackouts/{id}/delete")
}

pub const MANAGEMENT_REPORT: &str = "/reports/management";
