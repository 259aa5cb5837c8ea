//! What the matcher knows about people and elements.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Weekday};

use crate::domain::partnership::Mode;
use crate::domain::uk_time;

#[derive(Debug, Clone)]
pub struct Element {
    pub id: String,
    pub organisation_id: String,
    pub mode: Mode,
    pub sessions: Vec<(NaiveDateTime, NaiveDateTime)>,
    /// Hours each person gives in total.
    pub hours: i32,
    /// `hours` over the months of `sessions` (`MonthlyHours::of`), worked out once.
    pub monthly_hours: MonthlyHours,
    pub skills_required: Vec<String>,
    pub skills_desired: Vec<String>,
    pub lived_experience_wanted: Vec<String>,
    pub interests: Vec<String>,
    pub features: Vec<String>,
    pub pay_rate_pence_per_hour: i64,
    pub seats_left: u32,
    /// People already invited to or confirmed on it.
    pub already_on: HashSet<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Candidate {
    pub id: String,
    pub display_name: String,
    /// Active now (not paused or archived).
    pub active: bool,
    pub remote: bool,
    pub in_person: bool,
    pub weekly: Vec<(Weekday, NaiveTime, NaiveTime)>,
    pub hours_per_month: i32,
    /// Hours already promised to confirmed assignments, by the months they fall in.
    pub committed: MonthlyHours,
    /// Skill code → level (1–3).
    pub skills: HashMap<String, u8>,
    pub interests: HashSet<String>,
    pub lived_experience: HashSet<String>,
    /// Access need codes from the passport.
    pub needs: Vec<String>,
    /// Organisations they declared a conflict of interest with.
    pub conflicts: HashSet<String>,
    /// Sessions of their confirmed assignments.
    pub busy: Vec<(NaiveDateTime, NaiveDateTime)>,
    pub earnings_limit_pence: Option<i64>,
    /// Earned from us this tax year, including confirmed work.
    pub earned_pence: i64,
    pub offers_90d: u32,
    pub paid_hours_90d: i32,
    pub ever_placed: bool,
}

impl Element {
    /// What one person is paid for it.
    pub fn pay_pence(&self) -> i64 {
        self.pay_rate_pence_per_hour
            .saturating_mul(i64::from(self.hours))
    }
}

impl Candidate {
    /// Counts `element` as confirmed work: its sessions busy, its hours and pay promised.
    pub fn book(&mut self, element: &Element) {
        self.busy.extend(element.sessions.iter().copied());
        self.committed.add(&element.monthly_hours);
        self.earned_pence = self.earned_pence.saturating_add(element.pay_pence());
    }
}

/// Hours of work spread over calendar months, in proportion to the time of its sessions in each.
/// Hours of work without sessions belong to no month, so they count against every month.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonthlyHours {
    pub undated: f64,
    /// (year, month) → hours.
    pub by_month: BTreeMap<(i32, u32), f64>,
}

impl MonthlyHours {
    pub fn of(hours: i32, sessions: &[(NaiveDateTime, NaiveDateTime)]) -> Self {
        let hours = f64::from(hours.max(0));
        let mut seconds: BTreeMap<(i32, u32), i64> = BTreeMap::new();
        for &(start, end) in sessions {
            // Months as people in the UK count them.
            let (start, end) = (uk_time::in_uk(start), uk_time::in_uk(end));
            let mut from = start;
            while from < end {
                let until = next_month_start(from).min(end);
                *seconds.entry((from.year(), from.month())).or_default() +=
                    (until - from).num_seconds();
                from = until;
            }
        }
        let total: i64 = seconds.values().sum();
        if total <= 0 {
            return Self {
                undated: hours,
                by_month: BTreeMap::new(),
            };
        }
        Self {
            undated: 0.0,
            by_month: seconds
                .into_iter()
                .map(|(month, s)| (month, hours * s as f64 / total as f64))
                .collect(),
        }
    }

    pub fn add(&mut self, other: &MonthlyHours) {
        self.undated += other.undated;
        for (month, hours) in &other.by_month {
            *self.by_month.entry(*month).or_default() += hours;
        }
    }

    /// Whether `extra` on top of these hours stays within `per_month` in every month it falls
    /// in (every month at all, for hours without sessions).
    pub fn fits(&self, extra: &MonthlyHours, per_month: i32) -> bool {
        let limit = f64::from(per_month) + 1e-9;
        let in_month = |month: &(i32, u32)| {
            self.undated
                + extra.undated
                + self.by_month.get(month).copied().unwrap_or(0.0)
                + extra.by_month.get(month).copied().unwrap_or(0.0)
        };
        let months = if extra.by_month.is_empty() {
            &self.by_month
        } else {
            &extra.by_month
        };
        self.undated + extra.undated <= limit && months.keys().all(|m| in_month(m) <= limit)
    }
}

fn next_month_start(at: NaiveDateTime) -> NaiveDateTime {
    let (year, month) = if at.month() == 12 {
        (at.year() + 1, 1)
    } else {
        (at.year(), at.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or(NaiveDateTime::MAX)
}

/// Points per factor; the defaults sum to 100 (DOMAIN.md).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    pub required_skills: f64,
    pub desired_skills: f64,
    pub lived_experience: f64,
    pub interests: f64,
    pub availability: f64,
    pub fairness: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            required_skills: 35.0,
            desired_skills: 10.0,
            lived_experience: 25.0,
            interests: 10.0,
            availability: 10.0,
            fairness: 10.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(month: u32, day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2027, month, day)
            .and_then(|d| d.and_hms_opt(hour, 0, 0))
            .unwrap_or_default()
    }

    #[test]
    fn hours_are_shared_between_months_by_session_time() {
        let sessions = [(at(1, 31, 10), at(1, 31, 12)), (at(2, 1, 10), at(2, 1, 14))];
        let split = MonthlyHours::of(6, &sessions);
        assert_eq!(split.undated, 0.0);
        assert_eq!(
            split.by_month,
            BTreeMap::from([((2027, 1), 2.0), ((2027, 2), 4.0)])
        );
    }

    #[test]
    fn a_session_across_the_turn_of_a_month_is_split_at_midnight() {
        let split = MonthlyHours::of(4, &[(at(1, 31, 23), at(2, 1, 1))]);
        assert_eq!(
            split.by_month,
            BTreeMap::from([((2027, 1), 2.0), ((2027, 2), 2.0)])
        );
    }

    #[test]
    fn hours_booked_in_another_month_leave_this_month_free() {
        let booked = MonthlyHours::of(16, &[(at(1, 10, 10), at(1, 10, 12))]);
        let in_march = MonthlyHours::of(6, &[(at(3, 3, 10), at(3, 3, 12))]);
        let in_january = MonthlyHours::of(6, &[(at(1, 20, 10), at(1, 20, 12))]);
        assert!(booked.fits(&in_march, 20));
        assert!(!booked.fits(&in_january, 20));
        assert!(booked.fits(&in_january, 22), "exactly full fits");
    }

    #[test]
    fn work_without_sessions_counts_against_every_month() {
        let undated = MonthlyHours::of(10, &[]);
        assert_eq!(undated.undated, 10.0);
        let booked = MonthlyHours::of(16, &[(at(1, 10, 10), at(1, 10, 12))]);
        assert!(!booked.fits(&undated, 20), "January would hold 26 hours");
        let mut flexible = MonthlyHours::default();
        flexible.add(&undated);
        let in_march = MonthlyHours::of(12, &[(at(3, 3, 10), at(3, 3, 12))]);
        assert!(!flexible.fits(&in_march, 20), "March would hold 22 hours");
        assert!(flexible.fits(&in_march, 22));
    }
}
