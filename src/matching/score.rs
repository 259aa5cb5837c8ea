//! Hard constraints and the soft score.

use chrono::Datelike;
use serde::Serialize;
use utoipa::ToSchema;

use super::model::{Candidate, Element, Weights};
use crate::domain::partnership::Mode;
use crate::domain::uk_time;

/// Why someone cannot take an element. Codes are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exclusion {
    AlreadyOnElement,
    NotActive,
    ModeMismatch,
    ConflictOfInterest,
    SessionClash,
    NoCapacity,
    EarningsLimit,
}

impl Exclusion {
    pub fn code(self) -> &'static str {
        match self {
            Self::AlreadyOnElement => "already_on_element",
            Self::NotActive => "not_active",
            Self::ModeMismatch => "mode_mismatch",
            Self::ConflictOfInterest => "conflict_of_interest",
            Self::SessionClash => "session_clash",
            Self::NoCapacity => "no_capacity",
            Self::EarningsLimit => "earnings_limit",
        }
    }
}

/// The first hard constraint `candidate` fails for `element`, if any.
pub fn exclusion(candidate: &Candidate, element: &Element) -> Option<Exclusion> {
    if element.already_on.contains(&candidate.id) {
        return Some(Exclusion::AlreadyOnElement);
    }
    if !candidate.active {
        return Some(Exclusion::NotActive);
    }
    let mode_ok = match element.mode {
        Mode::InPerson => candidate.in_person,
        Mode::Remote => candidate.remote,
        Mode::Hybrid => candidate.in_person || candidate.remote,
    };
    if !mode_ok {
        return Some(Exclusion::ModeMismatch);
    }
    if candidate.conflicts.contains(&element.organisation_id) {
        return Some(Exclusion::ConflictOfInterest);
    }
    let clash = element.sessions.iter().any(|(start, end)| {
        candidate
            .busy
            .iter()
            .any(|(b_start, b_end)| start < b_end && b_start < end)
    });
    if clash {
        return Some(Exclusion::SessionClash);
    }
    if !candidate
        .committed
        .fits(&element.monthly_hours, candidate.hours_per_month)
    {
        return Some(Exclusion::NoCapacity);
    }
    if let Some(limit) = candidate.earnings_limit_pence
        && candidate.earned_pence.saturating_add(element.pay_pence()) > limit
    {
        return Some(Exclusion::EarningsLimit);
    }
    None
}

/// Of the elements one plan gives a person, best first, the positions of those they could not
/// also do (sessions that clash, hours past a month's capacity, pay past their earnings limit):
/// each is checked as if the ones kept before it were already confirmed.
pub fn cannot_also_do(candidate: &Candidate, elements: &[&Element]) -> Vec<usize> {
    let Some((first, rest)) = elements.split_first() else {
        return Vec::new();
    };
    let mut booked = candidate.clone();
    booked.book(first);
    let mut given_up = Vec::new();
    for (position, element) in rest.iter().enumerate() {
        if exclusion(&booked, element).is_some() {
            given_up.push(position + 1);
        } else {
            booked.book(element);
        }
    }
    given_up
}

/// One factor of the score, explained.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Factor {
    pub factor: &'static str,
    pub points: f64,
    pub max: f64,
    pub reason: String,
}

/// The soft score alone, without building explanations: what ranking many people needs.
/// Always equal to `score(..).0`.
pub fn points(c: &Candidate, e: &Element, w: &Weights) -> f64 {
    let required = if e.skills_required.is_empty() {
        1.0
    } else {
        e.skills_required
            .iter()
            .filter_map(|s| c.skills.get(s))
            .map(|l| f64::from(*l) / 3.0)
            .sum::<f64>()
            / e.skills_required.len() as f64
    };
    let share_of = |wanted: &[String], held: &dyn Fn(&String) -> bool| {
        if wanted.is_empty() {
            1.0
        } else {
            wanted.iter().filter(|x| held(x)).count() as f64 / wanted.len() as f64
        }
    };
    let desired = share_of(&e.skills_desired, &|s| c.skills.contains_key(s));
    let lived = share_of(&e.lived_experience_wanted, &|x| {
        c.lived_experience.contains(x)
    });
    let themes = share_of(&e.interests, &|t| c.interests.contains(t));
    let availability = if e.sessions.is_empty() {
        1.0
    } else {
        sessions_in_availability(c, e) as f64 / e.sessions.len() as f64
    };
    let fairness = fairness_share(c);
    let part = |share: f64, max: f64| round(share.clamp(0.0, 1.0) * max);
    round(
        part(required, w.required_skills)
            + part(desired, w.desired_skills)
            + part(lived, w.lived_experience)
            + part(themes, w.interests)
            + part(availability, w.availability)
            + part(fairness, w.fairness),
    )
}

fn sessions_in_availability(c: &Candidate, e: &Element) -> usize {
    e.sessions
        .iter()
        .filter(|(start, end)| {
            // People give their availability in UK time.
            let (start, end) = (uk_time::in_uk(*start), uk_time::in_uk(*end));
            start.date() == end.date()
                && c.weekly.iter().any(|(day, from, to)| {
                    *day == start.weekday() && *from <= start.time() && end.time() <= *to
                })
        })
        .count()
}

fn fairness_share(c: &Candidate) -> f64 {
    if c.ever_placed {
        0.8 / (1.0 + f64::from(c.offers_90d) + f64::from(c.paid_hours_90d.max(0)) / 10.0)
    } else {
        1.0
    }
}

/// The soft score: the sum of the factors, with each factor's explanation.
pub fn score(candidate: &Candidate, element: &Element, weights: &Weights) -> (f64, Vec<Factor>) {
    let factors = vec![
        required_skills(candidate, element, weights.required_skills),
        desired_skills(candidate, element, weights.desired_skills),
        lived_experience(candidate, element, weights.lived_experience),
        interests(candidate, element, weights.interests),
        availability(candidate, element, weights.availability),
        fairness(candidate, weights.fairness),
    ];
    let total = factors.iter().map(|f| f.points).sum::<f64>();
    (round(total), factors)
}

/// To hundredths; `+ 0.0` turns the `-0.0` an empty float sum gives into `0.0`.
fn round(points: f64) -> f64 {
    (points * 100.0).round() / 100.0 + 0.0
}

fn factor(name: &'static str, share: f64, max: f64, reason: String) -> Factor {
    Factor {
        factor: name,
        points: round(share.clamp(0.0, 1.0) * max),
        max,
        reason,
    }
}

fn level_word(level: u8) -> &'static str {
    match level {
        3 => "experienced",
        2 => "some experience",
        _ => "interested",
    }
}

fn required_skills(c: &Candidate, e: &Element, max: f64) -> Factor {
    if e.skills_required.is_empty() {
        return factor(
            "required_skills",
            1.0,
            max,
            "No particular skills are required.".into(),
        );
    }
    let held: Vec<(&String, u8)> = e
        .skills_required
        .iter()
        .filter_map(|s| c.skills.get(s).map(|l| (s, *l)))
        .collect();
    let share = held
        .iter()
        .map(|(_, level)| f64::from(*level) / 3.0)
        .sum::<f64>()
        / e.skills_required.len() as f64;
    let reason = if held.is_empty() {
        format!(
            "Has none of the {} required skills.",
            e.skills_required.len()
        )
    } else {
        let list: Vec<String> = held
            .iter()
            .map(|(skill, level)| format!("{} ({})", skill.replace('_', " "), level_word(*level)))
            .collect();
        format!(
            "Has {} of {} required skills: {}.",
            held.len(),
            e.skills_required.len(),
            list.join(", ")
        )
    };
    factor("required_skills", share, max, reason)
}

fn desired_skills(c: &Candidate, e: &Element, max: f64) -> Factor {
    if e.skills_desired.is_empty() {
        return factor(
            "desired_skills",
            1.0,
            max,
            "No extra skills are asked for.".into(),
        );
    }
    let held = e
        .skills_desired
        .iter()
        .filter(|s| c.skills.contains_key(*s))
        .count();
    let share = held as f64 / e.skills_desired.len() as f64;
    factor(
        "desired_skills",
        share,
        max,
        format!(
            "Has {held} of {} skills that would help.",
            e.skills_desired.len()
        ),
    )
}

fn lived_experience(c: &Candidate, e: &Element, max: f64) -> Factor {
    if e.lived_experience_wanted.is_empty() {
        return factor(
            "lived_experience",
            1.0,
            max,
            "No particular lived experience is asked for.".into(),
        );
    }
    let held = e
        .lived_experience_wanted
        .iter()
        .filter(|x| c.lived_experience.contains(*x))
        .count();
    let share = held as f64 / e.lived_experience_wanted.len() as f64;
    factor(
        "lived_experience",
        share,
        max,
        format!(
            "Shares {held} of {} kinds of lived experience the element asks for.",
            e.lived_experience_wanted.len()
        ),
    )
}

fn interests(c: &Candidate, e: &Element, max: f64) -> Factor {
    if e.interests.is_empty() {
        return factor(
            "interests",
            1.0,
            max,
            "The element has no particular themes.".into(),
        );
    }
    let shared: Vec<&String> = e
        .interests
        .iter()
        .filter(|t| c.interests.contains(*t))
        .collect();
    let share = shared.len() as f64 / e.interests.len() as f64;
    let reason = if shared.is_empty() {
        "None of the element's themes are among their interests.".to_string()
    } else {
        let names: Vec<String> = shared.iter().map(|t| t.replace('_', " ")).collect();
        format!("Interested in {}.", names.join(", "))
    };
    factor("interests", share, max, reason)
}

fn availability(c: &Candidate, e: &Element, max: f64) -> Factor {
    if e.sessions.is_empty() {
        return factor(
            "availability",
            1.0,
            max,
            "No sessions are fixed yet.".into(),
        );
    }
    let fits = sessions_in_availability(c, e);
    let share = fits as f64 / e.sessions.len() as f64;
    factor(
        "availability",
        share,
        max,
        format!(
            "{fits} of {} sessions fall in the times they said they are free.",
            e.sessions.len()
        ),
    )
}

fn fairness(c: &Candidate, max: f64) -> Factor {
    if !c.ever_placed {
        return factor(
            "fairness",
            1.0,
            max,
            "Has not been placed yet: newcomers come first.".into(),
        );
    }
    let share = fairness_share(c);
    factor(
        "fairness",
        share,
        max,
        format!(
            "{} offers and {} paid hours in the last 90 days.",
            c.offers_90d, c.paid_hours_90d
        ),
    )
}

#[cfg(test)]
pub mod tests {
    use std::collections::{HashMap, HashSet};

    use chrono::{NaiveDate, NaiveTime, Weekday};

    use super::*;
    use crate::matching::model::MonthlyHours;

    pub fn at(day: u32, hour: u32) -> chrono::NaiveDateTime {
        // 2026-11-23 is a Monday.
        NaiveDate::from_ymd_opt(2026, 11, day)
            .and_then(|d| d.and_hms_opt(hour, 0, 0))
            .unwrap_or_default()
    }

    pub fn element() -> Element {
        Element {
            id: "e1".into(),
            organisation_id: "org".into(),
            mode: Mode::Hybrid,
            sessions: vec![(at(23, 10), at(23, 12))],
            hours: 6,
            monthly_hours: MonthlyHours::of(6, &[(at(23, 10), at(23, 12))]),
            skills_required: vec!["interviewing".into(), "writing".into()],
            skills_desired: vec!["facilitation".into()],
            lived_experience_wanted: vec!["homelessness".into()],
            interests: vec!["housing".into()],
            features: vec!["step_free_access".into()],
            pay_rate_pence_per_hour: 2500,
            seats_left: 2,
            already_on: HashSet::new(),
        }
    }

    pub fn candidate(id: &str) -> Candidate {
        Candidate {
            id: id.into(),
            display_name: id.into(),
            active: true,
            remote: true,
            in_person: true,
            weekly: vec![(
                Weekday::Mon,
                NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
                NaiveTime::from_hms_opt(13, 0, 0).unwrap_or_default(),
            )],
            hours_per_month: 20,
            skills: HashMap::from([
                ("interviewing".to_string(), 3),
                ("writing".to_string(), 3),
                ("facilitation".to_string(), 1),
            ]),
            interests: HashSet::from(["housing".to_string()]),
            lived_experience: HashSet::from(["homelessness".to_string()]),
            ..Candidate::default()
        }
    }

    #[test]
    fn a_perfect_newcomer_scores_the_full_hundred() {
        let (total, factors) = score(&candidate("a"), &element(), &Weights::default());
        assert_eq!(total, 100.0, "{factors:?}");
        assert_eq!(factors.len(), 6);
        assert!(factors.iter().all(|f| f.points <= f.max));
    }

    #[test]
    fn required_skills_are_weighted_by_level() {
        let mut c = candidate("a");
        c.skills.insert("writing".into(), 1);
        let (_, factors) = score(&c, &element(), &Weights::default());
        // (3/3 + 1/3) / 2 × 35
        assert_eq!(factors[0].points, 23.33);
        assert!(
            factors[0].reason.contains("writing (interested)"),
            "{}",
            factors[0].reason
        );
    }

    #[test]
    fn points_alone_equal_the_explained_score() {
        let mut varied = candidate("v");
        varied.skills.insert("writing".into(), 1);
        varied.ever_placed = true;
        varied.offers_90d = 3;
        varied.paid_hours_90d = 17;
        varied.interests.clear();
        for c in [candidate("a"), varied] {
            assert_eq!(
                points(&c, &element(), &Weights::default()),
                score(&c, &element(), &Weights::default()).0
            );
        }
    }

    #[test]
    fn no_factor_shows_negative_zero() {
        let mut none = candidate("none");
        none.skills.clear();
        let (_, factors) = score(&none, &element(), &Weights::default());
        assert!(
            factors.iter().all(|f| f.points.is_sign_positive()),
            "{factors:?}"
        );
    }

    #[test]
    fn availability_is_read_in_uk_time_so_a_summer_session_fits_the_hours_people_gave() {
        // Monday 6 July 2026, 10:00 to 12:00 in the UK (BST) is 09:00 to 11:00 UTC.
        let summer = |hour: u32| {
            NaiveDate::from_ymd_opt(2026, 7, 6)
                .and_then(|d| d.and_hms_opt(hour, 0, 0))
                .unwrap_or_default()
        };
        let mut e = element();
        e.sessions = vec![(summer(9), summer(11))];
        let mut c = candidate("a");
        c.weekly = vec![(
            Weekday::Mon,
            NaiveTime::from_hms_opt(10, 0, 0).unwrap_or_default(),
            NaiveTime::from_hms_opt(12, 0, 0).unwrap_or_default(),
        )];
        assert_eq!(sessions_in_availability(&c, &e), 1);
        e.sessions = vec![(summer(10), summer(12))];
        assert_eq!(
            sessions_in_availability(&c, &e),
            0,
            "11:00 to 13:00 in the UK"
        );
    }

    #[test]
    fn access_needs_never_change_the_score() {
        let mut needs = candidate("a");
        needs.needs = vec![
            "bsl_interpreter".into(),
            "step_free_access".into(),
            "taxi".into(),
        ];
        assert_eq!(
            score(&needs, &element(), &Weights::default()).0,
            score(&candidate("a"), &element(), &Weights::default()).0
        );
    }

    #[test]
    fn fewer_recent_offers_score_higher_and_newcomers_highest() {
        let mut busy = candidate("busy");
        busy.ever_placed = true;
        busy.offers_90d = 4;
        let mut quiet = candidate("quiet");
        quiet.ever_placed = true;
        let w = Weights::default();
        let (busy_score, _) = score(&busy, &element(), &w);
        let (quiet_score, _) = score(&quiet, &element(), &w);
        let (new_score, _) = score(&candidate("new"), &element(), &w);
        assert!(new_score > quiet_score && quiet_score > busy_score);
    }

    #[test]
    fn each_hard_constraint_excludes_with_its_reason() {
        let e = element();
        let mut cases: Vec<(Candidate, Exclusion)> = Vec::new();
        let mut c = candidate("on");
        c.id = "on".into();
        let mut on = e.clone();
        on.already_on.insert("on".into());
        assert_eq!(exclusion(&c, &on), Some(Exclusion::AlreadyOnElement));
        let mut paused = candidate("p");
        paused.active = false;
        cases.push((paused, Exclusion::NotActive));
        let mut neither = candidate("m");
        neither.remote = false;
        neither.in_person = false;
        cases.push((neither, Exclusion::ModeMismatch));
        let mut conflicted = candidate("c");
        conflicted.conflicts.insert("org".into());
        cases.push((conflicted, Exclusion::ConflictOfInterest));
        let mut clash = candidate("s");
        clash.busy = vec![(at(23, 11), at(23, 13))];
        cases.push((clash, Exclusion::SessionClash));
        let mut full = candidate("f");
        full.committed = MonthlyHours::of(16, &[(at(2, 10), at(2, 12))]);
        cases.push((full, Exclusion::NoCapacity));
        let mut limited = candidate("l");
        limited.earnings_limit_pence = Some(10_000);
        cases.push((limited, Exclusion::EarningsLimit));
        for (candidate, reason) in cases {
            assert_eq!(exclusion(&candidate, &e), Some(reason), "{}", candidate.id);
        }
        assert_eq!(exclusion(&candidate("ok"), &e), None);
    }

    #[test]
    fn remote_elements_need_remote_people_and_in_person_need_in_person() {
        let mut remote_only = candidate("r");
        remote_only.in_person = false;
        let mut e = element();
        e.mode = Mode::InPerson;
        assert_eq!(exclusion(&remote_only, &e), Some(Exclusion::ModeMismatch));
        e.mode = Mode::Remote;
        assert_eq!(exclusion(&remote_only, &e), None);
    }

    fn element_at(id: &str, day: u32, hour: u32, hours: i32) -> Element {
        let sessions = vec![(at(day, hour), at(day, hour + 2))];
        Element {
            id: id.into(),
            monthly_hours: MonthlyHours::of(hours, &sessions),
            sessions,
            hours,
            ..element()
        }
    }

    #[test]
    fn a_second_element_at_the_same_time_cannot_also_be_done() {
        let first = element_at("first", 23, 10, 6);
        let same_time = element_at("same time", 23, 11, 6);
        let next_day = element_at("next day", 24, 10, 6);
        let given_up = cannot_also_do(&candidate("a"), &[&first, &same_time, &next_day]);
        assert_eq!(given_up, [1]);
    }

    #[test]
    fn elements_that_fill_a_month_together_cannot_all_be_done() {
        let person = candidate("a"); // 20 hours a month
        let twelve = element_at("twelve", 23, 10, 12);
        let another_twelve = element_at("another twelve", 24, 10, 12);
        let six = element_at("six", 25, 10, 6);
        assert_eq!(
            cannot_also_do(&person, &[&twelve, &another_twelve, &six]),
            [1]
        );
    }

    #[test]
    fn elements_whose_pay_together_passes_the_earnings_limit_cannot_all_be_done() {
        let person = Candidate {
            earnings_limit_pence: Some(25_000),
            ..candidate("a")
        };
        let first = element_at("first", 23, 10, 6); // £150
        let second = element_at("second", 24, 10, 6);
        assert_eq!(cannot_also_do(&person, &[&first, &second]), [1]);
        assert!(cannot_also_do(&candidate("b"), &[&first, &second]).is_empty());
    }
}
