//! A person's profile and access passport, recorded once and reused by every application and
//! match. Checked against the catalogue; every problem is reported with its field path.

use std::collections::BTreeMap;
use std::collections::HashSet;

use chrono::{Datelike, NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Invalid;
use super::catalogue::{Catalogue, List};

/// Problems found, as (field path, reason).
pub type Problems = Vec<(String, Invalid)>;

const MAX_HOURS_PER_MONTH: u32 = 200;
const MAX_SHORT_TEXT: usize = 200;
const MAX_LONG_TEXT: usize = 4000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub contact: Contact,
    pub skills: Vec<Skill>,
    pub interests: Vec<String>,
    /// Special category: encrypted at rest; reads by anyone else are audited.
    pub lived_experience: Vec<String>,
    pub availability: Availability,
    pub payment: Payment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// A `contact_channels` code.
    pub preferred_channel: String,
    /// Digits and spaces (7 to 15 digits), with an optional `+` at the start.
    pub phone: Option<String>,
    /// When to get in touch, in your words ("weekday mornings").
    #[schema(max_length = 200)]
    pub best_times: Option<String>,
    /// `contact_formats` codes, e.g. `easy_read`, `large_print`.
    pub formats: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Skill {
    pub code: String,
    /// 1 interested, 2 some experience, 3 experienced.
    #[schema(minimum = 1, maximum = 3)]
    pub level: u8,
}

impl Skill {
    /// A skill as stored: (code, level). A level outside 1–3 cannot be stored; read as 1.
    pub fn from_stored((code, level): (String, i32)) -> Self {
        Self {
            code,
            level: u8::try_from(level).unwrap_or(1),
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    pub day: Day,
    /// `HH:MM`, 24-hour.
    #[schema(example = "09:30", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub from: String,
    #[schema(example = "13:00", pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Availability {
    pub weekly: Vec<Slot>,
    #[schema(maximum = 200)]
    pub hours_per_month: u32,
    pub remote: bool,
    pub in_person: bool,
    /// A `regions` code.
    pub region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    /// A `payment_methods` code.
    pub method: String,
    /// Most you can earn from us in a tax year, in pence (benefit rules).
    #[schema(minimum = 0)]
    pub earnings_limit_pence: Option<i64>,
    pub benefits_advice_wanted: bool,
}

impl Profile {
    pub fn problems(&self, catalogue: &Catalogue) -> Problems {
        let mut problems = Problems::new();
        let mut add = |field: String, invalid: Invalid| problems.push((field, invalid));

        let contact = &self.contact;
        if let Err(e) = catalogue.check_code(List::ContactChannels, &contact.preferred_channel) {
            add("contact.preferred_channel".into(), e);
        }
        let needs_phone = matches!(contact.preferred_channel.as_str(), "phone" | "text_message");
        match contact.phone.as_deref().map(str::trim) {
            Some(phone) if !is_phone_number(phone) => add(
                "contact.phone".into(),
                Invalid::new(
                    "invalid_phone",
                    "Enter a phone number using digits, spaces and an optional + at the start.",
                ),
            ),
            None | Some("") if needs_phone => add(
                "contact.phone".into(),
                Invalid::new(
                    "required",
                    "Enter a phone number, as you asked us to phone or text you.",
                ),
            ),
            _ => {}
        }
        if let Some(times) = &contact.best_times {
            check_length(&mut add, "contact.best_times", times, MAX_SHORT_TEXT);
        }
        check_codes(
            &mut add,
            catalogue,
            List::ContactFormats,
            "contact.formats",
            &contact.formats,
        );

        let mut seen = HashSet::new();
        for (i, skill) in self.skills.iter().enumerate() {
            if let Err(e) = catalogue.check_code(List::Skills, &skill.code) {
                add(format!("skills[{i}].code"), e);
            } else if !seen.insert(skill.code.as_str()) {
                add(
                    format!("skills[{i}].code"),
                    Invalid::new("duplicate", format!("“{}” is listed twice.", skill.code)),
                );
            }
            if catalogue.skill_level(skill.level).is_none() {
                add(
                    format!("skills[{i}].level"),
                    Invalid::new(
                        "out_of_range",
                        "Choose a level from 1 (interested) to 3 (experienced).",
                    ),
                );
            }
        }
        check_codes(
            &mut add,
            catalogue,
            List::Interests,
            "interests",
            &self.interests,
        );
        check_codes(
            &mut add,
            catalogue,
            List::LivedExperience,
            "lived_experience",
            &self.lived_experience,
        );

        let availability = &self.availability;
        for (i, slot) in availability.weekly.iter().enumerate() {
            let from = parse_time(&slot.from);
            let to = parse_time(&slot.to);
            if from.is_none() {
                add(format!("availability.weekly[{i}].from"), time_format());
            }
            if to.is_none() {
                add(format!("availability.weekly[{i}].to"), time_format());
            }
            if let (Some(from), Some(to)) = (from, to)
                && to <= from
            {
                add(
                    format!("availability.weekly[{i}].to"),
                    Invalid::new("before_start", "The end time must be after the start time."),
                );
            }
        }
        if availability.hours_per_month > MAX_HOURS_PER_MONTH {
            add(
                "availability.hours_per_month".into(),
                Invalid::new(
                    "out_of_range",
                    format!("Enter up to {MAX_HOURS_PER_MONTH} hours a month."),
                ),
            );
        }
        if !availability.remote && !availability.in_person {
            add(
                "availability.remote".into(),
                Invalid::new(
                    "required",
                    "Say whether you can take part remotely, in person, or both.",
                ),
            );
        }
        if let Some(region) = &availability.region
            && let Err(e) = catalogue.check_code(List::Regions, region)
        {
            add("availability.region".into(), e);
        }

        if let Err(e) = catalogue.check_code(List::PaymentMethods, &self.payment.method) {
            add("payment.method".into(), e);
        }
        if self
            .payment
            .earnings_limit_pence
            .is_some_and(|limit| limit < 0)
        {
            add(
                "payment.earnings_limit_pence".into(),
                Invalid::new("out_of_range", "The earnings limit cannot be below zero."),
            );
        }
        problems
    }
}

/// Access needs, recorded once; every element gets an adjustment plan from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessPassport {
    pub needs: Vec<Need>,
    /// What a good day and a bad day look like for you, and what helps.
    #[schema(max_length = 4000)]
    pub good_day_bad_day: Option<String>,
    /// You have an Access to Work grant.
    pub access_to_work: bool,
    /// Project teams may see your needs to arrange them.
    pub share_with_project_teams: bool,
    /// When to look at this again together (`YYYY-MM-DD`).
    pub review_by: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Need {
    /// An `access_needs` code.
    pub code: String,
    #[schema(max_length = 4000)]
    pub detail: Option<String>,
}

impl AccessPassport {
    pub fn problems(&self, catalogue: &Catalogue) -> Problems {
        let mut problems = Problems::new();
        let mut add = |field: String, invalid: Invalid| problems.push((field, invalid));
        let mut seen = HashSet::new();
        for (i, need) in self.needs.iter().enumerate() {
            if let Err(e) = catalogue.check_code(List::AccessNeeds, &need.code) {
                add(format!("needs[{i}].code"), e);
            } else if !seen.insert(need.code.as_str()) {
                add(
                    format!("needs[{i}].code"),
                    Invalid::new(
                        "duplicate",
                        format!(
                            "“{}” is listed twice; put everything in one detail.",
                            need.code
                        ),
                    ),
                );
            }
            if let Some(detail) = &need.detail {
                check_length(
                    &mut add,
                    &format!("needs[{i}].detail"),
                    detail,
                    MAX_LONG_TEXT,
                );
            }
        }
        if let Some(text) = &self.good_day_bad_day {
            check_length(&mut add, "good_day_bad_day", text, MAX_LONG_TEXT);
        }
        let years = REVIEW_BY_YEARS;
        if self
            .review_by
            .is_some_and(|date| !years.contains(&date.year()))
        {
            add(
                "review_by".into(),
                Invalid::new(
                    "out_of_range",
                    format!(
                        "Choose a date from the year {} to {}.",
                        years.start(),
                        years.end()
                    ),
                ),
            );
        }
        problems
    }
}

/// The years a passport's review-by date may fall in: a real date to check by, which both
/// databases store and order the same way.
const REVIEW_BY_YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// Equal-opportunities answers: question code → option code. Every question is optional and
/// each offers `prefer_not_to_say`. Stored apart, encrypted, never shown to anyone else.
pub type EqualOpportunities = BTreeMap<String, String>;

pub fn equal_opportunities_problems(
    answers: &EqualOpportunities,
    catalogue: &Catalogue,
) -> Problems {
    let mut problems = Problems::new();
    for (question, answer) in answers {
        match catalogue.eo_question(question) {
            None => problems.push((
                question.clone(),
                Invalid::new("unknown_field", format!("“{question}” is not one of the equal-opportunities questions. The catalogue lists them.")),
            )),
            Some(q) if !q.options.iter().any(|o| &o.code == answer) => problems.push((
                question.clone(),
                Invalid::new("unknown_code", format!("“{answer}” is not one of the answers to this question.")),
            )),
            Some(_) => {}
        }
    }
    problems
}

fn check_codes(
    add: &mut impl FnMut(String, Invalid),
    catalogue: &Catalogue,
    list: List,
    field: &str,
    codes: &[String],
) {
    let mut seen = HashSet::new();
    for (i, code) in codes.iter().enumerate() {
        if let Err(e) = catalogue.check_code(list, code) {
            add(format!("{field}[{i}]"), e);
        } else if !seen.insert(code.as_str()) {
            add(
                format!("{field}[{i}]"),
                Invalid::new("duplicate", format!("“{code}” is listed twice.")),
            );
        }
    }
}

fn check_length(add: &mut impl FnMut(String, Invalid), field: &str, text: &str, max: usize) {
    if text.chars().count() > max {
        add(
            field.into(),
            Invalid::new(
                "too_long",
                format!("Keep this to {max} characters or fewer."),
            ),
        );
    }
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M")
        .ok()
        .filter(|_| text.len() == 5)
}

fn time_format() -> Invalid {
    Invalid::new("invalid_time", "Enter a time as HH:MM, for example 09:30.")
}

fn is_phone_number(text: &str) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let allowed = text
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || c == ' ' || (c == '+' && i == 0));
    allowed && (7..=15).contains(&digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::BUILT_IN;

    fn catalogue() -> Catalogue {
        Catalogue::parse(BUILT_IN).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn example_profile() -> Profile {
        Profile {
            contact: Contact {
                preferred_channel: "email".into(),
                phone: None,
                best_times: Some("Weekday mornings".into()),
                formats: vec!["easy_read".into()],
            },
            skills: vec![Skill {
                code: "facilitation".into(),
                level: 3,
            }],
            interests: vec!["housing".into()],
            lived_experience: vec!["homelessness".into()],
            availability: Availability {
                weekly: vec![Slot {
                    day: Day::Mon,
                    from: "09:30".into(),
                    to: "13:00".into(),
                }],
                hours_per_month: 12,
                remote: true,
                in_person: false,
                region: Some("london".into()),
            },
            payment: Payment {
                method: "bank_transfer".into(),
                earnings_limit_pence: Some(100_000),
                benefits_advice_wanted: true,
            },
        }
    }

    fn fields(problems: &Problems) -> Vec<&str> {
        problems.iter().map(|(field, _)| field.as_str()).collect()
    }

    #[test]
    fn complete_profile_has_no_problems() {
        assert!(example_profile().problems(&catalogue()).is_empty());
    }

    #[test]
    fn every_problem_is_named_by_its_path() {
        let mut profile = example_profile();
        profile.contact.preferred_channel = "text_message".into();
        profile.skills.push(Skill {
            code: "juggling".into(),
            level: 4,
        });
        profile.availability.weekly[0].to = "09:00".into();
        profile.availability.remote = false;
        profile.payment.method = "cash".into();
        assert_eq!(
            fields(&profile.problems(&catalogue())),
            [
                "contact.phone",
                "skills[1].code",
                "skills[1].level",
                "availability.weekly[0].to",
                "availability.remote",
                "payment.method"
            ]
        );
    }

    #[test]
    fn phone_numbers_take_digits_spaces_and_a_leading_plus() {
        assert!(is_phone_number("+44 20 7946 0000"));
        assert!(is_phone_number("07700 900123"));
        assert!(!is_phone_number("call me"));
        assert!(!is_phone_number("44+20"));
    }

    #[test]
    fn times_must_be_hh_mm() {
        assert!(parse_time("09:30").is_some());
        assert!(parse_time("9:30").is_none());
        assert!(parse_time("25:00").is_none());
    }

    #[test]
    fn passport_refuses_unknown_and_repeated_needs() {
        let passport = AccessPassport {
            needs: vec![
                Need {
                    code: "bsl_interpreter".into(),
                    detail: None,
                },
                Need {
                    code: "bsl_interpreter".into(),
                    detail: None,
                },
                Need {
                    code: "telepathy".into(),
                    detail: None,
                },
            ],
            good_day_bad_day: None,
            access_to_work: false,
            share_with_project_teams: true,
            review_by: None,
        };
        assert_eq!(
            fields(&passport.problems(&catalogue())),
            ["needs[1].code", "needs[2].code"]
        );
    }

    #[test]
    fn equal_opportunities_answers_must_match_the_questions() {
        let answers = EqualOpportunities::from([
            ("age_band".to_string(), "prefer_not_to_say".to_string()),
            ("gender".to_string(), "not-an-option".to_string()),
            ("shoe_size".to_string(), "9".to_string()),
        ]);
        assert_eq!(
            fields(&equal_opportunities_problems(&answers, &catalogue())),
            ["gender", "shoe_size"]
        );
    }
}
