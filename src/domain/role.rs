use serde::{Deserialize, Serialize};

/// What a user may do (DOMAIN.md "Roles"). A user may hold several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Applicant,
    Coproducer,
    Reviewer,
    Coordinator,
    Partner,
    Admin,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Applicant,
        Role::Coproducer,
        Role::Reviewer,
        Role::Coordinator,
        Role::Partner,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Applicant => "applicant",
            Role::Coproducer => "coproducer",
            Role::Reviewer => "reviewer",
            Role::Coordinator => "coordinator",
            Role::Partner => "partner",
            Role::Admin => "admin",
        }
    }

    /// Admins may do everything a coordinator may.
    pub fn includes(self, other: Role) -> bool {
        self == other || (self == Role::Admin && other == Role::Coordinator)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == value)
            .ok_or_else(|| format!("`{value}` is not a role"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_name() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
    }

    #[test]
    fn admin_includes_coordinator_but_not_the_reverse() {
        assert!(Role::Admin.includes(Role::Coordinator));
        assert!(!Role::Coordinator.includes(Role::Admin));
        assert!(!Role::Admin.includes(Role::Partner));
    }
}
