//! What the matcher knows about people and elements.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDateTime, NaiveTime, Weekday};

use crate::domain::partnership::Mode;

#[derive(Debug, Clone)]
pub struct Element {
    pub id: String,
    pub organisation_id: String,
    pub mode: Mode,
    pub sessions: Vec<(NaiveDateTime, NaiveDateTime)>,
    /// Hours each person gives in total.
    pub hours: i32,
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
    /// Hours already promised to confirmed assignments.
    pub hours_committed: i32,
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
