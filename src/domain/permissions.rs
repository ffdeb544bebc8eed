//! Who may do what: every permission check on the server asks one of these functions.
use super::roles::{Role, Roles};

/// The signed-in user as the rules see them.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub id: i64,
    pub roles: Roles,
}

/// The people a release (or change) belongs to, for ownership and separation of duties.
#[derive(Debug, Clone, Copy)]
pub struct Parties {
    pub registered_by: i64,
    pub coordinator_id: Option<i64>,
    pub manager_id: Option<i64>,
}

/// User accounts, roles and group memberships.
pub fn can_administer_users(actor: Actor) -> bool {
    actor.roles.has(Role::Admin)
}

/// The release policy: categories, workflows, phases, transitions, field rules, models.
pub fn can_manage_policy(actor: Actor) -> bool {
    actor.roles.has(Role::Manager)
}

/// Registering a release or a change.
pub fn can_register(actor: Actor) -> bool {
    actor.roles.any(&[Role::Coordinator, Role::Manager])
}

/// Editing a record's screen and moving it through its workflow.
///
/// Managers may work every record; a coordinator the records they coordinate or registered,
/// and records nobody coordinates yet (so a new release is never orphaned).
pub fn can_work(actor: Actor, parties: Parties) -> bool {
    if actor.roles.has(Role::Manager) {
        return true;
    }
    actor.roles.has(Role::Coordinator)
        && match parties.coordinator_id {
            Some(c) => c == actor.id || parties.registered_by == actor.id,
            None => true,
        }
}

/// Starting and completing a task: its assignee, a member of its group, the record's named
/// coordinator or its named manager; nobody else (another coordinator or manager edits the
/// task's assignee first, which leaves a trace).
pub fn can_work_task(
    actor: Actor,
    release: Parties,
    assignee_id: Option<i64>,
    in_task_group: bool,
) -> bool {
    assignee_id == Some(actor.id)
        || in_task_group
        || release.coordinator_id == Some(actor.id)
        || release.manager_id == Some(actor.id)
}

/// Who may start and complete a task, in words: the rule of `can_work_task`.
pub const TASK_WORKERS: &str =
    "its assignee, a member of its group, or the release's coordinator or manager";

/// Why an administrator may not make this change to an account, if they may not.
///
/// Administrators cannot lock themselves out: they keep their own admin role and stay active.
pub fn admin_self_edit_refusal(
    actor: Actor,
    target_id: i64,
    new_roles: Roles,
    active: bool,
) -> Option<&'static str> {
    if actor.id != target_id {
        return None;
    }
    if !new_roles.has(Role::Admin) {
        return Some("You cannot remove your own administrator role.");
    }
    if !active {
        return Some("You cannot deactivate your own account.");
    }
    None
}

/// What an administrator changed about their own access, for the audit to flag: roles and
/// groups gained (self-granted) and given up. Allowed — a team may have one administrator who
/// also approves — but never unseen. `None` for someone else's account, or when neither the
/// roles nor the groups changed. Groups are given by name.
pub fn own_access_change(
    actor: Actor,
    target_id: i64,
    roles: (Roles, Roles),
    groups: (&[&str], &[&str]),
) -> Option<OwnAccessChange> {
    if actor.id != target_id {
        return None;
    }
    let (roles_before, roles_after) = roles;
    let (groups_before, groups_after) = groups;
    let mut granted: Vec<String> = roles_after
        .iter()
        .filter(|r| !roles_before.has(*r))
        .map(|r| format!("the {} role", r.label()))
        .collect();
    granted.extend(
        groups_after
            .iter()
            .filter(|g| !groups_before.contains(g))
            .map(|g| format!("membership of {g}")),
    );
    let mut given_up: Vec<String> = roles_before
        .iter()
        .filter(|r| !roles_after.has(*r))
        .map(|r| format!("the {} role", r.label()))
        .collect();
    given_up.extend(
        groups_before
            .iter()
            .filter(|g| !groups_after.contains(g))
            .map(|g| format!("membership of {g}")),
    );
    (!granted.is_empty() || !given_up.is_empty()).then_some(OwnAccessChange { granted, given_up })
}

/// An administrator's change to their own roles or groups (`own_access_change`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnAccessChange {
    pub granted: Vec<String>,
    pub given_up: Vec<String>,
}

impl OwnAccessChange {
    /// As the audit records it: "Self-granted: the Approver role, membership of CAB" and/or
    /// "Gave up: …". An entry starting "Self-granted" is the one to look at.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.granted.is_empty() {
            parts.push(format!("Self-granted: {}", self.granted.join(", ")));
        }
        if !self.given_up.is_empty() {
            parts.push(format!("Gave up: {}", self.given_up.join(", ")));
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_administrator_granting_themself_approver_and_cab_is_flagged() {
        let admin = actor(1, &[Role::Admin]);
        let change = own_access_change(
            admin,
            1,
            (
                Roles::of(&[Role::Admin]),
                Roles::of(&[Role::Admin, Role::Approver]),
            ),
            (&[], &["CAB"]),
        )
        .expect("flagged");
        assert_eq!(
            change.describe(),
            "Self-granted: the Release Approver role, membership of CAB"
        );
        let gave_up = own_access_change(
            admin,
            1,
            (
                Roles::of(&[Role::Admin, Role::Manager]),
                Roles::of(&[Role::Admin]),
            ),
            (&["CAB", "ECAB"], &["CAB"]),
        )
        .unwrap();
        assert!(gave_up.granted.is_empty());
        assert!(
            gave_up.describe().starts_with("Gave up: "),
            "{}",
            gave_up.describe()
        );
    }

    #[test]
    fn others_accounts_and_unchanged_access_are_not_flagged() {
        let admin = actor(1, &[Role::Admin]);
        let both = Roles::of(&[Role::Admin, Role::Approver]);
        assert_eq!(
            own_access_change(admin, 2, (Roles::default(), both), (&[], &["CAB"])),
            None
        );
        assert_eq!(
            own_access_change(admin, 1, (both, both), (&["CAB"], &["CAB"])),
            None
        );
    }

    fn actor(id: i64, roles: &[Role]) -> Actor {
        Actor {
            id,
            roles: Roles::of(roles),
        }
    }

    const PARTIES: Parties = Parties {
        registered_by: 1,
        coordinator_id: Some(2),
        manager_id: Some(3),
    };

    #[test]
    fn only_admins_administer_users() {
        assert!(can_administer_users(actor(9, &[Role::Admin])));
        for r in [Role::Manager, Role::Coordinator, Role::Approver] {
            assert!(!can_administer_users(actor(9, &[r])), "{r}");
        }
    }

    #[test]
    fn only_managers_manage_policy() {
        assert!(can_manage_policy(actor(9, &[Role::Manager])));
        for r in [Role::Admin, Role::Coordinator, Role::Approver] {
            assert!(!can_manage_policy(actor(9, &[r])), "{r}");
        }
    }

    #[test]
    fn coordinators_and_managers_register() {
        assert!(can_register(actor(9, &[Role::Coordinator])));
        assert!(can_register(actor(9, &[Role::Manager])));
        assert!(!can_register(actor(9, &[Role::Approver])));
        assert!(!can_register(actor(9, &[Role::Admin])));
        assert!(!can_register(actor(9, &[])));
    }

    #[test]
    fn who_works_a_release() {
        assert!(
            can_work(actor(9, &[Role::Manager]), PARTIES),
            "managers work every release"
        );
        assert!(
            can_work(actor(2, &[Role::Coordinator]), PARTIES),
            "its coordinator"
        );
        assert!(
            can_work(actor(1, &[Role::Coordinator]), PARTIES),
            "its registrant"
        );
        assert!(
            !can_work(actor(9, &[Role::Coordinator]), PARTIES),
            "another coordinator's release"
        );
        assert!(
            !can_work(actor(2, &[Role::Approver]), PARTIES),
            "coordinator named but without the role"
        );
        let unassigned = Parties {
            coordinator_id: None,
            ..PARTIES
        };
        assert!(can_work(actor(9, &[Role::Coordinator]), unassigned));
        assert!(!can_work(actor(9, &[Role::Admin]), unassigned));
    }

    #[test]
    fn who_works_a_task() {
        let stranger = actor(9, &[Role::Approver]);
        assert!(!can_work_task(stranger, PARTIES, Some(8), false));
        assert!(
            can_work_task(stranger, PARTIES, Some(9), false),
            "its assignee"
        );
        assert!(
            can_work_task(stranger, PARTIES, None, true),
            "a member of its group"
        );
        assert!(
            can_work_task(actor(2, &[Role::Coordinator]), PARTIES, Some(8), false),
            "the release's coordinator"
        );
        assert!(
            can_work_task(actor(3, &[Role::Manager]), PARTIES, Some(8), false),
            "the release's manager"
        );
        assert!(
            !can_work_task(actor(7, &[Role::Manager]), PARTIES, Some(8), false),
            "another manager"
        );
        let unassigned = Parties {
            coordinator_id: None,
            ..PARTIES
        };
        assert!(
            !can_work_task(actor(7, &[Role::Coordinator]), unassigned, Some(8), false),
            "a coordinator of a release nobody coordinates, on someone's task"
        );
        assert!(
            !can_work_task(actor(7, &[Role::Coordinator]), PARTIES, Some(8), false),
            "another coordinator"
        );
    }

    #[test]
    fn admins_cannot_lock_themselves_out() {
        let me = actor(5, &[Role::Admin]);
        assert!(admin_self_edit_refusal(me, 5, Roles::of(&[Role::Manager]), true).is_some());
        assert!(admin_self_edit_refusal(me, 5, Roles::of(&[Role::Admin]), false).is_some());
        assert!(admin_self_edit_refusal(me, 5, Roles::of(&[Role::Admin]), true).is_none());
        assert!(admin_self_edit_refusal(me, 6, Roles::of(&[]), false).is_none());
    }
}
