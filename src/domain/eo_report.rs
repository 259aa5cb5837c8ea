//! Equal-opportunities answers counted for a report. Only ever in aggregate, and counts are
//! blurred so that nobody can be picked out (DOMAIN.md: any cell under 5 shows "<5"): counts
//! under 5 show as "<5", the others (the total too) are rounded to the nearest 5, so that the
//! counts cannot be subtracted from the total to give a small one exactly, and a count that
//! leaves fewer than 5 people out of the total shows as "hidden" (it would tell how nearly
//! everyone answered).

use serde::Serialize;
use utoipa::ToSchema;

use super::catalogue::EoQuestion;
use super::profile::EqualOpportunities;

/// Counts below this show as [`UNDER_FIVE`]; the others are rounded to a multiple of it.
pub const SMALLEST_SHOWN: usize = 5;
pub const UNDER_FIVE: &str = "<5";
/// A count that leaves fewer than [`SMALLEST_SHOWN`] people out of the total.
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
        people: if people < SMALLEST_SHOWN {
            UNDER_FIVE.to_string()
        } else {
            rounded(people)
        },
        questions: questions
            .iter()
            .map(|question| {
                let chose = |code: &str| {
                    answers
                        .iter()
                        .filter(|a| a.get(&question.question).is_some_and(|c| c == code))
                        .count()
                };
                let mut counts: Vec<usize> =
                    question.options.iter().map(|o| chose(&o.code)).collect();
                let answered: usize = counts.iter().sum();
                counts.push(people.saturating_sub(answered));
                let mut cells = blurred(&counts, people).into_iter();
                let answers = question
                    .options
                    .iter()
                    .zip(cells.by_ref())
                    .map(|(option, shown)| AnswerCount {
                        code: option.code.clone(),
                        label: option.label.clone(),
                        people: shown,
                    })
                    .collect();
                QuestionCounts {
                    question: question.question.clone(),
                    label: question.label.clone(),
                    answers,
                    not_answered: cells.next().unwrap_or_else(|| UNDER_FIVE.to_string()),
                }
            })
            .collect(),
    }
}

/// A question's counts (which add up to `people`) as the report shows them. A lone count not
/// shown could be narrowed down from the others and an exact total (coordinators can count who
/// is in the pool), so then the smallest shown one is hidden too.
fn blurred(counts: &[usize], people: usize) -> Vec<String> {
    let mut cells: Vec<String> = counts.iter().map(|n| shown(*n, people)).collect();
    let not_shown = cells.iter().filter(|c| !is_number(c)).count();
    if not_shown == 1
        && let Some(smallest) = (0..cells.len())
            .filter(|i| is_number(&cells[*i]))
            .min_by_key(|i| counts[*i])
    {
        cells[smallest] = HIDDEN.to_string();
    }
    cells
}

fn is_number(cell: &str) -> bool {
    cell.chars().all(|c| c.is_ascii_digit())
}

/// One count of `people` as the report shows it.
fn shown(count: usize, people: usize) -> String {
    if count < SMALLEST_SHOWN {
        UNDER_FIVE.to_string()
    } else if people.saturating_sub(count) < SMALLEST_SHOWN {
        HIDDEN.to_string()
    } else {
        rounded(count)
    }
}

/// To the nearest multiple of 5 (halves up).
fn rounded(count: usize) -> String {
    let step = SMALLEST_SHOWN;
    ((count + step / 2) / step * step).to_string()
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
    fn counts_of_five_or_more_are_rounded_to_the_nearest_five() {
        let report = count(&[question()], &people(&[("woman", 12), ("man", 8)], 7));
        assert_eq!(report.people, "25");
        assert_eq!(
            cells(&report),
            ["10", "10", "<5", "hidden"],
            "a lone <5 hides the smallest"
        );
    }

    #[test]
    fn a_small_count_cannot_be_worked_out_from_the_total() {
        // yes 30, no 1, prefer not to say 5, not answered 8: 44 people. Exact counts would give
        // 44 - 30 - 5 - 8 = 1.
        let report = count(
            &[question()],
            &people(&[("woman", 30), ("man", 1), ("non_binary", 5)], 8),
        );
        assert_eq!(report.people, "45");
        assert_eq!(cells(&report), ["30", "<5", "hidden", "10"]);
    }

    #[test]
    fn with_the_exact_total_known_a_lone_small_count_still_cannot_be_worked_out() {
        // 55 people: 32, 12, 4 and 7 unanswered. Shown as 30, 10, <5 and 5, the one set of counts
        // that fits the exact total would give the 4 away; the smallest shown one is hidden too.
        let report = count(
            &[question()],
            &people(&[("woman", 32), ("man", 12), ("non_binary", 4)], 7),
        );
        assert_eq!(cells(&report), ["30", "10", "<5", "hidden"]);
    }

    #[test]
    fn a_count_leaving_fewer_than_five_out_is_hidden() {
        let report = count(&[question()], &people(&[("woman", 7)], 0));
        assert_eq!(report.people, "5");
        assert_eq!(cells(&report), ["hidden", "<5", "<5", "<5"]);
    }

    #[test]
    fn fewer_than_five_people_show_nothing_but_under_five() {
        let report = count(&[question()], &people(&[("woman", 3)], 1));
        assert_eq!(report.people, "<5");
        assert!(cells(&report).iter().all(|c| c == "<5"));
    }
}
