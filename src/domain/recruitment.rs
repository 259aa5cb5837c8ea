//! Recruitment rounds and applications (DOMAIN.md "State machines"): round status, the
//! application state machine, answer checks, and what a submission needs.

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Invalid;
use super::profile::Problems;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoundStatus {
    /// Not open yet.
    Scheduled,
    Open,
    Closed,
}

impl RoundStatus {
    pub fn at(
        now: NaiveDateTime,
        opens_at: NaiveDateTime,
        closes_at: NaiveDateTime,
        closed_at: Option<NaiveDateTime>,
    ) -> Self {
        if closed_at.is_some() || now >= closes_at {
            RoundStatus::Closed
        } else if now < opens_at {
            RoundStatus::Scheduled
        } else {
            RoundStatus::Open
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RoundStatus::Scheduled => "scheduled",
            RoundStatus::Open => "open",
            RoundStatus::Closed => "closed",
        }
    }
}

/// Everyone who applied hears by this time: `answer_by_days` after the round closed (or will close).
pub fn answer_by(
    closes_at: NaiveDateTime,
    closed_at: Option<NaiveDateTime>,
    answer_by_days: i32,
) -> NaiveDateTime {
    let closed = closed_at.map_or(closes_at, |at| at.min(closes_at));
    closed + Duration::days(i64::from(answer_by_days))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    Draft,
    Submitted,
    InReview,
    InvitedToConversation,
    Accepted,
    Waitlisted,
    NotThisTime,
    Withdrawn,
}

/// A coordinator's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    InvitedToConversation,
    Accepted,
    Waitlisted,
    NotThisTime,
}

impl Outcome {
    pub fn status(self) -> ApplicationStatus {
        match self {
            Outcome::InvitedToConversation => ApplicationStatus::InvitedToConversation,
            Outcome::Accepted => ApplicationStatus::Accepted,
            Outcome::Waitlisted => ApplicationStatus::Waitlisted,
            Outcome::NotThisTime => ApplicationStatus::NotThisTime,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.status().as_str()
    }

    /// What the decision does, for messages: "it cannot {verb} now".
    pub fn verb(self) -> &'static str {
        match self {
            Outcome::InvitedToConversation => "be invited to a conversation",
            Outcome::Accepted => "be accepted",
            Outcome::Waitlisted => "go on the waiting list",
            Outcome::NotThisTime => "be turned down",
        }
    }
}

impl ApplicationStatus {
    pub const ALL: [ApplicationStatus; 8] = [
        Self::Draft,
        Self::Submitted,
        Self::InReview,
        Self::InvitedToConversation,
        Self::Accepted,
        Self::Waitlisted,
        Self::NotThisTime,
        Self::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::InReview => "in_review",
            Self::InvitedToConversation => "invited_to_conversation",
            Self::Accepted => "accepted",
            Self::Waitlisted => "waitlisted",
            Self::NotThisTime => "not_this_time",
            Self::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Waiting for a coordinator's answer (counts towards "waiting" on a round).
    pub fn awaits_decision(self) -> bool {
        matches!(
            self,
            Self::Submitted | Self::InReview | Self::InvitedToConversation
        )
    }

    /// Withdrawing is possible any time before a decision.
    pub fn withdraw(self) -> Result<Self, String> {
        match self {
            Self::Draft | Self::Submitted | Self::InReview | Self::InvitedToConversation => {
                Ok(Self::Withdrawn)
            }
            other => Err(format!(
                "This application is {}, so it can no longer be withdrawn.",
                other.describe()
            )),
        }
    }

    pub fn submit(self) -> Result<Self, String> {
        match self {
            Self::Draft => Ok(Self::Submitted),
            other => Err(format!(
                "This application is {}; only a draft can be submitted.",
                other.describe()
            )),
        }
    }

    /// The first review moves a submitted application into review.
    pub fn review(self) -> Result<Self, String> {
        match self {
            Self::Submitted | Self::InReview => Ok(Self::InReview),
            other => Err(format!(
                "This application is {}; only submitted applications are reviewed.",
                other.describe()
            )),
        }
    }

    /// A decision is made on an application in review (DOMAIN.md: `submitted → in_review →`);
    /// one still `submitted` goes into review first ([`Self::review`]).
    pub fn decide(self, outcome: Outcome) -> Result<Self, String> {
        let allowed = match self {
            Self::InReview => true,
            Self::InvitedToConversation => outcome != Outcome::InvitedToConversation,
            // A place may come up later.
            Self::Waitlisted => matches!(outcome, Outcome::Accepted | Outcome::NotThisTime),
            _ => false,
        };
        if allowed {
            Ok(outcome.status())
        } else {
            Err(format!(
                "This application is {}, so it cannot {} now.",
                self.describe(),
                outcome.verb()
            ))
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::Draft => "a draft",
            Self::Submitted => "submitted",
            Self::InReview => "in review",
            Self::InvitedToConversation => "invited to a conversation",
            Self::Accepted => "accepted",
            Self::Waitlisted => "on the waiting list",
            Self::NotThisTime => "not successful this time",
            Self::Withdrawn => "withdrawn",
        }
    }
}

/// A question of a round, as the checks need it.
pub struct QuestionRule<'a> {
    pub id: &'a str,
    pub prompt: &'a str,
    pub required: bool,
    pub max_words: Option<i32>,
}

pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Problems with saved answers: unknown questions and answers over the word limit.
pub fn answer_problems(questions: &[QuestionRule<'_>], answers: &[(String, String)]) -> Problems {
    let mut problems = Problems::new();
    for (i, (question_id, text)) in answers.iter().enumerate() {
        match questions.iter().find(|q| q.id == question_id) {
            None => problems.push((
                format!("answers[{i}].question_id"),
                Invalid::new(
                    "unknown_question",
                    "That question is not part of this round.",
                ),
            )),
            Some(question) => {
                if let Some(max) = question.max_words
                    && word_count(text) > usize::try_from(max).unwrap_or(usize::MAX)
                {
                    problems.push((
                        format!("answers[{i}].text"),
                        Invalid::new(
                            "too_long",
                            format!(
                                "Please use {max} words or fewer; this answer has {}.",
                                word_count(text)
                            ),
                        ),
                    ));
                }
                if text.chars().count() > 20_000 {
                    problems.push((
                        format!("answers[{i}].text"),
                        Invalid::new("too_long", "This answer is too long."),
                    ));
                }
            }
        }
    }
    problems
}

/// Everything a submission still needs, listed at once in plain English.
pub fn submission_problems(
    questions: &[QuestionRule<'_>],
    answers: &[(String, String)],
    privacy_notice_accepted: bool,
    has_profile: bool,
) -> Problems {
    let mut problems = Problems::new();
    for question in questions {
        let answer = answers
            .iter()
            .find(|(id, _)| id == question.id)
            .map(|(_, text)| text.trim());
        if question.required && answer.is_none_or(str::is_empty) {
            problems.push((
                format!("answers.{}", question.id),
                Invalid::new(
                    "required",
                    format!("Answer the question \u{201c}{}\u{201d}.", question.prompt),
                ),
            ));
        }
        if let (Some(text), Some(max)) = (answer, question.max_words)
            && word_count(text) > usize::try_from(max).unwrap_or(usize::MAX)
        {
            problems.push((
                format!("answers.{}", question.id),
                Invalid::new(
                    "too_long",
                    format!(
                        "Please answer \u{201c}{}\u{201d} in {max} words or fewer.",
                        question.prompt
                    ),
                ),
            ));
        }
    }
    if !privacy_notice_accepted {
        problems.push((
            "consents.privacy_notice".into(),
            Invalid::new(
                "required",
                "Please read the privacy notice and say you agree to it.",
            ),
        ));
    }
    if !has_profile {
        problems.push((
            "profile".into(),
            Invalid::new("required", "Fill in your profile first: how to contact you, when you are free and how you want to be paid."),
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(day: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .unwrap_or_default()
    }

    #[test]
    fn round_is_scheduled_then_open_then_closed() {
        assert_eq!(
            RoundStatus::at(at(1), at(2), at(10), None),
            RoundStatus::Scheduled
        );
        assert_eq!(
            RoundStatus::at(at(5), at(2), at(10), None),
            RoundStatus::Open
        );
        assert_eq!(
            RoundStatus::at(at(10), at(2), at(10), None),
            RoundStatus::Closed
        );
        assert_eq!(
            RoundStatus::at(at(5), at(2), at(10), Some(at(4))),
            RoundStatus::Closed
        );
    }

    #[test]
    fn answer_by_counts_from_the_earlier_close() {
        assert_eq!(answer_by(at(10), None, 21), at(10) + Duration::days(21));
        assert_eq!(
            answer_by(at(10), Some(at(4)), 21),
            at(4) + Duration::days(21)
        );
    }

    #[test]
    fn legal_transitions_follow_the_state_machine() {
        use ApplicationStatus as S;
        assert_eq!(S::Draft.submit(), Ok(S::Submitted));
        assert!(S::Submitted.submit().is_err());
        assert_eq!(S::Submitted.review(), Ok(S::InReview));
        assert!(S::Draft.review().is_err());
        assert_eq!(S::InReview.decide(Outcome::Accepted), Ok(S::Accepted));
        assert!(
            S::Submitted.decide(Outcome::Accepted).is_err(),
            "into review first"
        );
        assert_eq!(
            S::InvitedToConversation.decide(Outcome::NotThisTime),
            Ok(S::NotThisTime)
        );
        assert!(
            S::InvitedToConversation
                .decide(Outcome::InvitedToConversation)
                .is_err()
        );
        assert_eq!(S::Waitlisted.decide(Outcome::Accepted), Ok(S::Accepted));
        assert!(S::Accepted.decide(Outcome::NotThisTime).is_err());
        assert!(S::Draft.decide(Outcome::Accepted).is_err());
        assert!(S::Withdrawn.decide(Outcome::Accepted).is_err());
    }

    #[test]
    fn withdrawing_is_possible_only_before_a_decision() {
        use ApplicationStatus as S;
        for status in [
            S::Draft,
            S::Submitted,
            S::InReview,
            S::InvitedToConversation,
        ] {
            assert_eq!(status.withdraw(), Ok(S::Withdrawn));
        }
        for status in [S::Accepted, S::Waitlisted, S::NotThisTime, S::Withdrawn] {
            assert!(status.withdraw().is_err());
        }
    }

    #[test]
    fn every_status_round_trips_through_its_name() {
        for status in ApplicationStatus::ALL {
            assert_eq!(ApplicationStatus::parse(status.as_str()), Some(status));
        }
    }

    #[test]
    fn submission_lists_every_missing_piece() {
        let questions = [
            QuestionRule {
                id: "q1",
                prompt: "Why?",
                required: true,
                max_words: None,
            },
            QuestionRule {
                id: "q2",
                prompt: "How?",
                required: true,
                max_words: Some(3),
            },
            QuestionRule {
                id: "q3",
                prompt: "Anything else?",
                required: false,
                max_words: None,
            },
        ];
        let answers = vec![("q2".to_string(), "one two three four".to_string())];
        let problems = submission_problems(&questions, &answers, false, false);
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "answers.q1",
                "answers.q2",
                "consents.privacy_notice",
                "profile"
            ]
        );
        assert!(problems[0].1.message.contains("Why?"));
    }

    #[test]
    fn answers_to_other_questions_are_refused() {
        let questions = [QuestionRule {
            id: "q1",
            prompt: "Why?",
            required: true,
            max_words: Some(2),
        }];
        let answers = vec![
            ("q9".to_string(), "x".to_string()),
            ("q1".to_string(), "a b c".to_string()),
        ];
        let fields: Vec<String> = answer_problems(&questions, &answers)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, ["answers[0].question_id", "answers[1].text"]);
    }
}
