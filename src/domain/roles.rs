//! The four roles a user may hold (several at once).
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Manager,
    Coordinator,
    Approver,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Manager,
        Role::Coordinator,
        Role::Approver,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Manager => "manager",
            Role::Coordinator => "coordinator",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Manager => "Release Manager",
            Role::Coordinator => "Release Coordinator",
            Role::Approver => "Release Approver",
            Role::Admin => "Administrator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?}: use manager, coordinator, approver or admin")
            })
    }
}

/// The set of roles one user holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles(u8);

impl Roles {
    pub fn from_strs<S: AsRef<str>>(items: &[S]) -> Roles {
        Roles(
            items
                .iter()
                .filter_map(|s| s.as_ref().parse::<Role>().ok())
                .fold(0, |acc, r| acc | Self::bit(r)),
        )
    }

    pub fn of(roles: &[Role]) -> Roles {
        Roles(roles.iter().fold(0, |acc, r| acc | Self::bit(*r)))
    }

    fn bit(r: Role) -> u8 {
        1 << (r as u8)
    }

    pub fn has(self, r: Role) -> bool {
        self.0 & Self::bit(r) != 0
    }

    pub fn any(self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.has(*r))
    }

    pub fn to_strings(self) -> Vec<String> {
        self.iter().map(|r| r.as_str().to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_roles_and_ignores_unknown_ones() {
        let roles = Roles::from_strs(&["manager", "approver", "bogus"]);
        assert!(roles.has(Role::Manager));
        assert!(roles.has(Role::Approver));
        assert!(!roles.has(Role::Admin));
        assert_eq!(roles.to_strings(), vec!["manager", "approver"]);
    }

    #[test]
    fn unknown_role_is_a_clear_error() {
        let err = "root".parse::<Role>().unwrap_err();
        assert!(err.contains("unknown role"));
    }
}
