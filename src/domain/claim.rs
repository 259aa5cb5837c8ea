//! Claims for time worked and expenses on an assignment (DOMAIN.md: co-producers log time and
//! expenses; pay promptly). `submitted → approved → paid`, or `submitted → rejected`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Invalid, non_blank, pounds};

/// The most time one claim can log: about 166 hours.
pub const MAX_MINUTES: i32 = 10_000;
/// The most one claim's expenses can come to: £10,000.
pub const MAX_EXPENSES_PENCE: i64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// Waiting for a coordinator.
    Submitted,
    /// Agreed, to be paid.
    Approved,
    /// Not agreed; the coordinator's note says why.
    Rejected,
    /// Paid.
    Paid,
}

impl ClaimStatus {
    pub const ALL: [ClaimStatus; 4] = [Self::Submitted, Self::Approved, Self::Rejected, Self::Paid];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Paid => "paid",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// Whether people paid by `payment_method` are paid fees for their time: not those who decline
/// fees or take expenses only.
pub fn takes_fees(payment_method: &str) -> bool {
    !matches!(payment_method, "decline_fee" | "expenses_only")
}

/// What a person may claim on an assignment, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimAmounts {
    pub minutes_worked: i32,
    pub expenses_pence: i64,
    /// What the expenses were for; required with any expenses.
    pub expenses_note: Option<String>,
}

impl ClaimAmounts {
    /// Each problem with the field it belongs to.
    pub fn parse(
        minutes_worked: i32,
        expenses_pence: i64,
        expenses_note: Option<String>,
    ) -> Result<Self, Vec<(&'static str, Invalid)>> {
        let mut problems = Vec::new();
        if !(0..=MAX_MINUTES).contains(&minutes_worked) {
            problems.push((
                "minutes_worked",
                Invalid::new(
                    "out_of_range",
                    format!("Give the time you worked in minutes, from 0 to {MAX_MINUTES}."),
                ),
            ));
        }
        if !(0..=MAX_EXPENSES_PENCE).contains(&expenses_pence) {
            problems.push((
                "expenses_pence",
                Invalid::new(
                    "out_of_range",
                    format!(
                        "Give your expenses in pence, from 0 to {MAX_EXPENSES_PENCE} ({}).",
                        pounds(MAX_EXPENSES_PENCE)
                    ),
                ),
            ));
        }
        let expenses_note = non_blank(expenses_note);
        if expenses_pence > 0 && expenses_note.is_none() {
            problems.push((
                "expenses_note",
                Invalid::new(
                    "required",
                    "Say what the expenses were for, such as a train ticket or childcare.",
                ),
            ));
        }
        if problems.is_empty() && minutes_worked == 0 && expenses_pence == 0 {
            problems.push((
                "minutes_worked",
                Invalid::new(
                    "nothing_to_claim",
                    "Give the time you worked, your expenses, or both.",
                ),
            ));
        }
        if problems.is_empty() {
            Ok(Self {
                minutes_worked,
                expenses_pence,
                expenses_note,
            })
        } else {
            Err(problems)
        }
    }

    /// The fee for the time at `rate_pence_per_hour`, to the nearest penny. People who decline
    /// fees or take expenses only (their `payment_method`) are paid no fee.
    pub fn fee_pence(&self, rate_pence_per_hour: i64, payment_method: &str) -> i64 {
        if !takes_fees(payment_method) {
            return 0;
        }
        i64::from(self.minutes_worked)
            .saturating_mul(rate_pence_per_hour.max(0))
            .saturating_add(30)
            / 60
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(result: Result<ClaimAmounts, Vec<(&'static str, Invalid)>>) -> Vec<&'static str> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|(f, _)| f)
            .collect()
    }

    #[test]
    fn time_is_paid_at_the_hourly_rate_to_the_nearest_penny() {
        let claim = ClaimAmounts::parse(100, 0, None).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(claim.fee_pence(2500, "bank_transfer"), 4167);
        assert_eq!(claim.fee_pence(2500, "voucher"), 4167);
    }

    #[test]
    fn a_huge_rate_saturates_instead_of_overflowing() {
        let claim = ClaimAmounts::parse(MAX_MINUTES, 0, None).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(claim.fee_pence(i64::MAX, "bank_transfer"), i64::MAX / 60);
    }

    #[test]
    fn people_who_take_no_fee_are_paid_none() {
        let claim = ClaimAmounts::parse(120, 900, Some("Bus fare".into()))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(claim.fee_pence(2500, "decline_fee"), 0);
        assert_eq!(claim.fee_pence(2500, "expenses_only"), 0);
    }

    #[test]
    fn expenses_need_a_note_saying_what_they_were_for() {
        assert_eq!(
            fields(ClaimAmounts::parse(0, 900, Some("  ".into()))),
            ["expenses_note"]
        );
    }

    #[test]
    fn a_claim_for_nothing_is_refused_naming_the_time() {
        let problems = ClaimAmounts::parse(0, 0, None).err().unwrap_or_default();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, "minutes_worked");
        assert_eq!(problems[0].1.code, "nothing_to_claim");
    }

    #[test]
    fn amounts_out_of_range_are_refused_each_by_name() {
        assert_eq!(
            fields(ClaimAmounts::parse(
                -1,
                MAX_EXPENSES_PENCE + 1,
                Some("Taxi".into())
            )),
            ["minutes_worked", "expenses_pence"]
        );
        assert!(ClaimAmounts::parse(MAX_MINUTES, MAX_EXPENSES_PENCE, Some("Hotel".into())).is_ok());
    }
}
