//! Equal-opportunities answers counted for a report. Only ever in aggregate, and small counts are
//! hidden so that nobody can be picked out (DOMAIN.md: any cell under 5 shows "<5").

use serde::Serialize;
use utoipa::ToSchema;

use super::catalogue::EoQuestion;
use super::profile::EqualOpportunities;

/// Counts below this show as [`UNDER_FIVE`].
pub const SMALLEST_SHOWN: usize = 5;
pub const UNDER_FIVE: &str = "<5";
/// A count of 5 or more hidden because, with the total, it would give away a small one.
pub const HIDDEN: &str = "hidden";

/// Every question's answers counted over `people` people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EoCounts {
    /// How many people the report covers: a number, or "<5".
    pub people: String,
    pub questions: Vec<QuestionCounts>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct QuestionCounts {
    pub question: String,
    pub label: String,
    pub answers: Vec<AnswerCount>,
    /// People who left the question out: a number, "<5" or "hidden".
    pub not_answered: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AnswerCount {
    pub code: String,
    pub label: String,
    /// A number, "<5" or "hidden".
    pub people: String,
}

/// Counts each answer to each of `questions` over `answers` (one map per person).
pub fn count(questions: &[EoQuestion], answers: &[EqualOpportunities]) -> EoCounts {
    let people = answers.len();
    EoCounts {
        people: shown(people, false),
        questions: questions
            .iter()
            .map(|question| {
                let given = |code: &str| {
                    answers
                        .iter()
                        .filter(|a| a.get(&question.question).is_some_and(|c| c == code))
                        .count()
                };
                let mut counts: Vec<usize> =
                    question.options.iter().map(|o| given(&o.code)).collect();
                let answered: usize = counts.iter().sum();
                counts.push(people.saturating_sub(answered));
                let hidden = also_hidden(&counts);
                let mut cells = counts
                    .iter()
                    .enumerate()
                    .map(|(i, n)| shown(*n, hidden == Some(i)));
                let answers = question
                    .options
                    .iter()
                    .zip(cells.by_ref())
                    .map(|(option, people)| AnswerCount {
                        code: option.code.clone(),
                        label: option.label.clone(),
                        people,
                    })
                    .collect();
                QuestionCounts {
                    question: question.question.clone(),
                    label: question.label.clone(),
                    answers,
                    not_answered: cells.next().unwrap_or_else(|| UNDER_FIVE.into()),
                }
            })
            .collect(),
    }
}

fn shown(count: usize, hidden: bool) -> String {
    if count < SMALLEST_SHOWN {
        UNDER_FIVE.into()
    } else if hidden {
        HIDDEN.into()
    } else {
        count.to_string()
    }
}

/// With the total shown, one small count among shown ones could be worked out by subtraction:
/// then the smallest shown count is hidden too. None is needed when no small count holds anyone.
fn also_hidden(counts: &[usize]) -> Option<usize> {
    let small: Vec<usize> = counts
        .iter()
        .copied()
        .filter(|n| *n < SMALLEST_SHOWN)
        .collect();
    if small.len() != 1 || small[0] == 0 {
        return None;
    }
    counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n >= SMALLEST_SHOWN)
        .min_by_key(|(_, n)| **n)
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::Item;

    fn question() -> EoQuestion {
        let option = |code: &str| Item {
            code: code.into(),
            label: code.into(),
            easy_read: code.into(),
        };
        EoQuestion {
            question: "gender".into(),
            label: "What is your gender?".into(),
            easy_read: "What is your gender?".into(),
            options: vec![option("woman"), option("man"), option("non_binary")],
        }
    }

    fn people(answers: &[(&str, usize)], silent: usize) -> Vec<EqualOpportunities> {
        let mut all = Vec::new();
        for (code, n) in answers {
            for _ in 0..*n {
                all.push(EqualOpportunities::from([(
                    "gender".into(),
                    (*code).into(),
                )]));
            }
        }
        all.extend((0..silent).map(|_| EqualOpportunities::new()));
        all
    }

    fn cells(report: &EoCounts) -> Vec<String> {
        let q = &report.questions[0];
        q.answers
            .iter()
            .map(|a| a.people.clone())
            .chain(std::iter::once(q.not_answered.clone()))
            .collect()
    }

    #[test]
    fn counts_of_five_or_more_are_shown() {
        let report = count(&[question()], &people(&[("woman", 9), ("man", 7)], 5));
        assert_eq!(report.people, "21");
        assert_eq!(cells(&report), ["9", "7", "<5", "5"]);
    }

    #[test]
    fn a_lone_small_count_also_hides_the_smallest_shown_so_it_cannot_be_worked_out() {
        let report = count(
            &[question()],
            &people(&[("woman", 9), ("man", 7), ("non_binary", 2)], 6),
        );
        assert_eq!(cells(&report), ["9", "7", "<5", "hidden"]);
    }

    #[test]
    fn fewer_than_five_people_show_nothing_but_under_five() {
        let report = count(&[question()], &people(&[("woman", 3)], 1));
        assert_eq!(report.people, "<5");
        assert!(cells(&report).iter().all(|c| c == "<5"));
    }
}
