//! A co-producer's place on an element (DOMAIN.md: `confirmed → completed | withdrawn | no_show`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The actor of a step the service made by itself (a booking from the waiting list), in place
/// of a user id.
pub const SERVICE_ACTOR: &str = "service";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentStatus {
    /// Booked: they are coming.
    Confirmed,
    /// They did the work.
    Completed,
    /// They, or a coordinator, ended it before the work was done; the seat is free again.
    Withdrawn,
    /// They did not come.
    NoShow,
}

impl AssignmentStatus {
    pub const ALL: [AssignmentStatus; 4] = [
        Self::Confirmed,
        Self::Completed,
        Self::Withdrawn,
        Self::NoShow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Completed => "completed",
            Self::Withdrawn => "withdrawn",
            Self::NoShow => "no_show",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Only a confirmed assignment moves, and every move is final.
    pub fn can_become(self, next: Self) -> bool {
        self == Self::Confirmed && next != Self::Confirmed
    }

    /// Whether the assignment counts against the element's seats. Only withdrawing frees a
    /// seat: a completed or missed place was used, and re-offering it would overfill the element.
    pub fn holds_seat(self) -> bool {
        self != Self::Withdrawn
    }

    /// Plain words for messages ("no show", not "no_show").
    pub fn words(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Completed => "completed",
            Self::Withdrawn => "withdrawn",
            Self::NoShow => "marked as a no-show",
        }
    }
}

/// The statuses that hold a seat, for queries.
pub fn seat_holding() -> Vec<&'static str> {
    AssignmentStatus::ALL
        .into_iter()
        .filter(|s| s.holds_seat())
        .map(AssignmentStatus::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::AssignmentStatus as S;
    use super::*;

    #[test]
    fn a_confirmed_assignment_can_end_each_way() {
        assert!(S::Confirmed.can_become(S::Completed));
        assert!(S::Confirmed.can_become(S::Withdrawn));
        assert!(S::Confirmed.can_become(S::NoShow));
        assert!(!S::Confirmed.can_become(S::Confirmed));
    }

    #[test]
    fn an_ended_assignment_never_moves_again() {
        for from in [S::Completed, S::Withdrawn, S::NoShow] {
            for to in S::ALL {
                assert!(!from.can_become(to), "{from:?} → {to:?}");
            }
        }
    }

    #[test]
    fn only_withdrawing_frees_the_seat() {
        assert_eq!(seat_holding(), ["confirmed", "completed", "no_show"]);
    }

    #[test]
    fn codes_round_trip() {
        for status in S::ALL {
            assert_eq!(S::parse(status.as_str()), Some(status));
        }
        assert_eq!(S::parse("cancelled"), None);
    }
}
