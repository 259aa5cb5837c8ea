//! Partner requests, projects and elements (DOMAIN.md "State machines"): what an element asks
//! for, the checks on it, the plain-English quality hints, and the legal status changes.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::catalogue::{Catalogue, List};
use super::profile::Problems;
use super::{Invalid, pounds};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Remote,
    InPerson,
    Hybrid,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Remote => "remote",
            Mode::InPerson => "in_person",
            Mode::Hybrid => "hybrid",
        }
    }
}

/// How much say co-producers have (a ladder of participation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EngagementLevel {
    Consult,
    Involve,
    Collaborate,
    CoProduce,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// One part of a project that co-producers take on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ElementSpec {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(min_length = 1, max_length = 10000)]
    pub description: String,
    pub skills_required: Vec<String>,
    pub skills_desired: Vec<String>,
    pub lived_experience_wanted: Vec<String>,
    pub interests: Vec<String>,
    #[schema(minimum = 1, maximum = 100)]
    pub people_needed: i32,
    /// Hours each person is expected to give, in total.
    #[schema(minimum = 1, maximum = 2000)]
    pub hours_estimate: i32,
    pub mode: Mode,
    /// Where it happens; needed unless it is remote.
    #[schema(max_length = 300)]
    pub location: Option<String>,
    /// `features` codes the venue or element provides.
    pub features: Vec<String>,
    pub sessions: Vec<Session>,
    #[schema(minimum = 0, maximum = 100_000)]
    pub pay_rate_pence_per_hour: i64,
    /// Difficult subjects people should know about in advance.
    #[schema(max_length = 2000)]
    pub content_notes: Option<String>,
}

impl ElementSpec {
    /// Every problem, with paths under `prefix` (e.g. `elements[0]`).
    pub fn problems(&self, catalogue: &Catalogue, prefix: &str) -> Problems {
        let mut problems = Problems::new();
        let field = |name: &str| {
            if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}.{name}")
            }
        };
        let mut add = |name: String, invalid: Invalid| problems.push((name, invalid));
        text(&mut add, field("title"), &self.title, 200);
        text(&mut add, field("description"), &self.description, 10_000);
        for (name, list, codes) in [
            ("skills_required", List::Skills, &self.skills_required),
            ("skills_desired", List::Skills, &self.skills_desired),
            (
                "lived_experience_wanted",
                List::LivedExperience,
                &self.lived_experience_wanted,
            ),
            ("interests", List::Interests, &self.interests),
            ("features", List::Features, &self.features),
        ] {
            let mut seen = HashSet::new();
            for (i, code) in codes.iter().enumerate() {
                if let Err(e) = catalogue.check_code(list, code) {
                    add(format!("{}[{i}]", field(name)), e);
                } else if !seen.insert(code) {
                    add(
                        format!("{}[{i}]", field(name)),
                        Invalid::new("duplicate", format!("“{code}” is listed twice.")),
                    );
                }
            }
        }
        if !(1..=100).contains(&self.people_needed) {
            add(
                field("people_needed"),
                Invalid::new("out_of_range", "Ask for between 1 and 100 people."),
            );
        }
        if !(1..=2000).contains(&self.hours_estimate) {
            add(
                field("hours_estimate"),
                Invalid::new(
                    "out_of_range",
                    "Estimate between 1 and 2000 hours per person.",
                ),
            );
        }
        let location = self.location.as_deref().map(str::trim).unwrap_or("");
        if self.mode != Mode::Remote && location.is_empty() {
            add(
                field("location"),
                Invalid::new(
                    "required",
                    "Say where it happens, as people will meet in person.",
                ),
            );
        }
        if location.chars().count() > 300 {
            add(
                field("location"),
                Invalid::new("too_long", "Keep the location to 300 characters or fewer."),
            );
        }
        for (i, session) in self.sessions.iter().enumerate() {
            if session.ends_at <= session.starts_at {
                add(
                    format!("{}[{i}].ends_at", field("sessions")),
                    Invalid::new("before_start", "A session must end after it starts."),
                );
            }
        }
        if self.pay_rate_pence_per_hour < 0 {
            add(
                field("pay_rate_pence_per_hour"),
                Invalid::new("out_of_range", "The pay rate cannot be below zero."),
            );
        } else if self.pay_rate_pence_per_hour > MAX_PAY_RATE_PENCE_PER_HOUR {
            add(
                field("pay_rate_pence_per_hour"),
                Invalid::new(
                    "out_of_range",
                    format!(
                        "The pay rate cannot be more than {} an hour. Is it in pence? £25 an hour is 2500.",
                        pounds(MAX_PAY_RATE_PENCE_PER_HOUR)
                    ),
                ),
            );
        }
        if self
            .content_notes
            .as_deref()
            .is_some_and(|n| n.chars().count() > 2000)
        {
            add(
                field("content_notes"),
                Invalid::new(
                    "too_long",
                    "Keep content notes to 2000 characters or fewer.",
                ),
            );
        }
        problems
    }

    pub fn first_session(&self) -> Option<DateTime<Utc>> {
        self.sessions.iter().map(|s| s.starts_at).min()
    }
}

fn text(add: &mut impl FnMut(String, Invalid), field: String, value: &str, max: usize) {
    if value.trim().is_empty() {
        add(field, Invalid::new("required", "This cannot be empty."));
    } else if value.chars().count() > max {
        add(
            field,
            Invalid::new(
                "too_long",
                format!("Keep this to {max} characters or fewer."),
            ),
        );
    }
}

/// £1,000 an hour: more is a typing slip (pounds written as pence, a zero too many), and it
/// would make every claim's fee absurd.
pub const MAX_PAY_RATE_PENCE_PER_HOUR: i64 = 100_000;

/// The thresholds of the quality check (from configuration).
pub struct QualityRules {
    pub minimum_hourly_rate_pence: i64,
    pub notice_days: i64,
    pub long_commitment_hours: i32,
}

/// A suggestion, never a reason to refuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Warning {
    pub code: String,
    pub field: String,
    pub message: String,
}

/// Plain-English hints about a request: low pay, no access budget, short notice, no remote option
/// for a long in-person commitment.
pub fn quality_warnings(
    elements: &[ElementSpec],
    access_budget_pence: Option<i64>,
    rules: &QualityRules,
    now: DateTime<Utc>,
) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if access_budget_pence.unwrap_or(0) <= 0 {
        warnings.push(Warning {
            code: "no_access_budget".into(),
            field: "access_budget_pence".into(),
            message: "There is no budget for access adjustments (such as interpreters, taxis or support workers). Co-producers' access needs have to be met, so please set some money aside.".into(),
        });
    }
    for (i, element) in elements.iter().enumerate() {
        if element.pay_rate_pence_per_hour < rules.minimum_hourly_rate_pence {
            warnings.push(Warning {
                code: "low_pay".into(),
                field: format!("elements[{i}].pay_rate_pence_per_hour"),
                message: format!(
                    "\u{201c}{}\u{201d} pays {} an hour, below our minimum of {}.",
                    element.title,
                    pounds(element.pay_rate_pence_per_hour),
                    pounds(rules.minimum_hourly_rate_pence)
                ),
            });
        }
        if let Some(first) = element.first_session()
            && first < now + Duration::days(rules.notice_days)
        {
            warnings.push(Warning {
                code: "short_notice".into(),
                field: format!("elements[{i}].sessions"),
                message: format!(
                    "\u{201c}{}\u{201d} starts in less than {} days. People need time to arrange access, care and travel.",
                    element.title, rules.notice_days
                ),
            });
        }
        if element.mode == Mode::InPerson && element.hours_estimate >= rules.long_commitment_hours {
            warnings.push(Warning {
                code: "no_remote_option".into(),
                field: format!("elements[{i}].mode"),
                message: format!(
                    "\u{201c}{}\u{201d} asks for {} hours in person with no remote option. A hybrid option lets more people take part.",
                    element.title, element.hours_estimate
                ),
            });
        }
    }
    warnings
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Submitted,
    NeedsInfo,
    Accepted,
    Declined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriageDecision {
    Accept,
    NeedsInfo,
    Decline,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::NeedsInfo => "needs_info",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Submitted,
            Self::NeedsInfo,
            Self::Accepted,
            Self::Declined,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }

    pub fn triage(self, decision: TriageDecision) -> Result<Self, String> {
        match (self, decision) {
            (Self::Submitted, TriageDecision::Accept) => Ok(Self::Accepted),
            (Self::Submitted, TriageDecision::NeedsInfo) => Ok(Self::NeedsInfo),
            (Self::Submitted | Self::NeedsInfo, TriageDecision::Decline) => Ok(Self::Declined),
            (status, _) => Err(format!(
                "This request is {}, so it cannot be triaged that way.",
                status.as_str().replace('_', " ")
            )),
        }
    }

    /// The partner edits and sends it again after being asked for more information.
    pub fn resubmit(self) -> Result<Self, String> {
        match self {
            Self::NeedsInfo => Ok(Self::Submitted),
            status => Err(format!(
                "This request is {}; it can only be changed when coordinators ask for more information.",
                status.as_str().replace('_', " ")
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ElementStatus {
    Open,
    Filled,
    InProgress,
    Completed,
    Cancelled,
}

impl ElementStatus {
    /// Statuses of an element that will still run (its sessions are ahead or under way).
    pub fn going_ahead() -> [&'static str; 3] {
        [
            Self::Open.as_str(),
            Self::Filled.as_str(),
            Self::InProgress.as_str(),
        ]
    }

    pub const ALL: [ElementStatus; 5] = [
        Self::Open,
        Self::Filled,
        Self::InProgress,
        Self::Completed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Filled => "filled",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// `open → filled → in_progress → completed`; `filled → open` when a seat frees;
    /// `cancelled` from anything not finished.
    pub fn can_become(self, next: Self) -> bool {
        use ElementStatus::*;
        matches!(
            (self, next),
            (Open, Filled)
                | (Filled, Open)
                | (Filled, InProgress)
                | (InProgress, Completed)
                | (Open | Filled | InProgress, Cancelled)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::BUILT_IN;

    fn catalogue() -> Catalogue {
        Catalogue::parse(BUILT_IN).unwrap_or_else(|e| panic!("{e}"))
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    pub fn element() -> ElementSpec {
        ElementSpec {
            title: "Peer interviews".into(),
            description: "Interview people about housing support.".into(),
            skills_required: vec!["interviewing".into()],
            skills_desired: vec!["writing".into()],
            lived_experience_wanted: vec!["homelessness".into()],
            interests: vec!["housing".into()],
            people_needed: 3,
            hours_estimate: 12,
            mode: Mode::Hybrid,
            location: Some("Leeds Central Library".into()),
            features: vec!["step_free_access".into()],
            sessions: vec![Session {
                starts_at: now() + Duration::days(30),
                ends_at: now() + Duration::days(30) + Duration::hours(2),
            }],
            pay_rate_pence_per_hour: 2500,
            content_notes: None,
        }
    }

    fn rules() -> QualityRules {
        QualityRules {
            minimum_hourly_rate_pence: 1500,
            notice_days: 14,
            long_commitment_hours: 20,
        }
    }

    #[test]
    fn a_good_element_has_no_problems_and_no_warnings() {
        assert!(element().problems(&catalogue(), "elements[0]").is_empty());
        assert!(quality_warnings(&[element()], Some(50_000), &rules(), now()).is_empty());
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut bad = element();
        bad.skills_required = vec!["juggling".into()];
        bad.mode = Mode::InPerson;
        bad.location = None;
        bad.sessions[0].ends_at = bad.sessions[0].starts_at;
        bad.people_needed = 0;
        let fields: Vec<String> = bad
            .problems(&catalogue(), "elements[0]")
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            [
                "elements[0].skills_required[0]",
                "elements[0].people_needed",
                "elements[0].location",
                "elements[0].sessions[0].ends_at"
            ]
        );
    }

    #[test]
    fn a_pay_rate_over_a_thousand_pounds_an_hour_is_refused_saying_what_it_takes() {
        let mut slip = element();
        slip.pay_rate_pence_per_hour = MAX_PAY_RATE_PENCE_PER_HOUR + 1;
        let problems = slip.problems(&catalogue(), "elements[0]");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, "elements[0].pay_rate_pence_per_hour");
        assert!(
            problems[0].1.message.contains("£1,000.00 an hour"),
            "{}",
            problems[0].1.message
        );
        slip.pay_rate_pence_per_hour = MAX_PAY_RATE_PENCE_PER_HOUR;
        assert!(slip.problems(&catalogue(), "elements[0]").is_empty());
    }

    #[test]
    fn quality_check_warns_in_plain_english() {
        let mut risky = element();
        risky.pay_rate_pence_per_hour = 1000;
        risky.mode = Mode::InPerson;
        risky.hours_estimate = 40;
        risky.sessions[0].starts_at = now() + Duration::days(3);
        risky.sessions[0].ends_at = now() + Duration::days(3) + Duration::hours(1);
        let warnings = quality_warnings(&[risky], None, &rules(), now());
        let codes: Vec<&str> = warnings.iter().map(|w| w.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "no_access_budget",
                "low_pay",
                "short_notice",
                "no_remote_option"
            ]
        );
        assert!(
            warnings[1]
                .message
                .contains("£10.00 an hour, below our minimum of £15.00"),
            "{}",
            warnings[1].message
        );
    }

    #[test]
    fn request_triage_follows_the_state_machine() {
        use RequestStatus as R;
        assert_eq!(R::Submitted.triage(TriageDecision::Accept), Ok(R::Accepted));
        assert_eq!(
            R::Submitted.triage(TriageDecision::NeedsInfo),
            Ok(R::NeedsInfo)
        );
        assert_eq!(R::NeedsInfo.resubmit(), Ok(R::Submitted));
        assert!(R::NeedsInfo.triage(TriageDecision::Accept).is_err());
        assert!(R::Accepted.triage(TriageDecision::Decline).is_err());
        assert!(R::Submitted.resubmit().is_err());
    }

    #[test]
    fn element_status_changes_only_along_legal_edges() {
        use ElementStatus as E;
        assert!(E::Open.can_become(E::Filled));
        assert!(E::Filled.can_become(E::InProgress));
        assert!(E::InProgress.can_become(E::Completed));
        assert!(E::Filled.can_become(E::Open));
        assert!(E::InProgress.can_become(E::Cancelled));
        assert!(!E::Open.can_become(E::Completed));
        assert!(!E::Completed.can_become(E::Cancelled));
        assert!(!E::Cancelled.can_become(E::Open));
    }
}

/// A co-producer's place in the pool (DOMAIN.md: `active ⇄ paused`, `archived`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CoproducerStatus {
    Active,
    Paused,
    Archived,
}

impl CoproducerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Archived => "archived",
        }
    }

    /// The status as it stands at `now`: a pause whose end date has passed is over.
    pub fn effective(
        stored: &str,
        paused_until: Option<chrono::NaiveDateTime>,
        now: chrono::NaiveDateTime,
    ) -> Self {
        match stored {
            "archived" => Self::Archived,
            "paused" if paused_until.is_none_or(|until| until > now) => Self::Paused,
            _ => Self::Active,
        }
    }
}

#[cfg(test)]
mod status_tests {
    use super::*;

    #[test]
    fn a_pause_ends_on_its_date() {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 21)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .unwrap_or_default();
        let later = now + Duration::days(3);
        assert_eq!(
            CoproducerStatus::effective("paused", Some(later), now),
            CoproducerStatus::Paused
        );
        assert_eq!(
            CoproducerStatus::effective("paused", Some(now - Duration::days(1)), now),
            CoproducerStatus::Active
        );
        assert_eq!(
            CoproducerStatus::effective("paused", None, now),
            CoproducerStatus::Paused
        );
        assert_eq!(
            CoproducerStatus::effective("archived", None, now),
            CoproducerStatus::Archived
        );
    }
}
