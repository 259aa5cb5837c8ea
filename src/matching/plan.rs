//! The optimal plan: who goes where across many elements, maximising the total score subject
//! to each element's seats and each person's limit, with a rising penalty for a person's second
//! and later seats. Solved exactly as a min-cost flow: source → person (one unit edge per seat
//! they may take, costing the penalty for that seat) → element (the pair's score, negated) →
//! sink (the element's seats).

use super::flow::MinCostFlow;

/// Scores are kept to two decimals; flows use whole hundredths.
const SCALE: f64 = 100.0;

/// A feasible (person, element) pair and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub person: usize,
    pub element: usize,
    pub score: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Seats one person may take in one plan.
    pub per_person: u32,
    /// Points lost for a person's second seat; the third loses twice that, and so on.
    pub extra_seat_penalty: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// Chosen pairs (indices into the input).
    pub chosen: Vec<usize>,
    /// Sum of the chosen pairs' scores.
    pub total_score: f64,
    /// The objective: total score minus extra-seat penalties.
    pub objective: f64,
}

pub fn solve(people: usize, seats: &[u32], pairs: &[Pair], limits: Limits) -> Solution {
    let elements = seats.len();
    let (source, sink) = (0, 1);
    let person_node = |p: usize| 2 + p;
    let element_node = |e: usize| 2 + people + e;
    let mut graph = MinCostFlow::new(2 + people + elements);
    let penalty = (limits.extra_seat_penalty * SCALE).round() as i64;
    for p in 0..people {
        for k in 0..i64::from(limits.per_person) {
            graph.add_edge(source, person_node(p), 1, k * penalty);
        }
    }
    let pair_edges: Vec<usize> = pairs
        .iter()
        .map(|pair| {
            graph.add_edge(
                person_node(pair.person),
                element_node(pair.element),
                1,
                -((pair.score * SCALE).round() as i64),
            )
        })
        .collect();
    for (e, seats) in seats.iter().enumerate() {
        graph.add_edge(element_node(e), sink, i64::from(*seats), 0);
    }
    let (_, cost) = graph.maximise_profit(source, sink);
    let chosen: Vec<usize> = pair_edges
        .iter()
        .enumerate()
        .filter(|(_, id)| graph.flow(**id) > 0)
        .map(|(i, _)| i)
        .collect();
    let total = chosen
        .iter()
        .map(|i| (pairs[*i].score * SCALE).round() as i64)
        .sum::<i64>();
    Solution {
        chosen,
        total_score: total as f64 / SCALE,
        objective: -cost as f64 / SCALE,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Tries every subset of pairs: the slow, obviously right answer.
    fn brute_force(people: usize, seats: &[u32], pairs: &[Pair], limits: Limits) -> i64 {
        let mut best = 0i64;
        let penalty = (limits.extra_seat_penalty * SCALE).round() as i64;
        for mask in 0u32..(1 << pairs.len()) {
            let mut used_seats = vec![0u32; seats.len()];
            let mut per_person = vec![0u32; people];
            let mut value = 0i64;
            let mut ok = true;
            for (i, pair) in pairs.iter().enumerate() {
                if mask & (1 << i) == 0 {
                    continue;
                }
                used_seats[pair.element] += 1;
                per_person[pair.person] += 1;
                if used_seats[pair.element] > seats[pair.element]
                    || per_person[pair.person] > limits.per_person
                {
                    ok = false;
                    break;
                }
                value += (pair.score * SCALE).round() as i64
                    - i64::from(per_person[pair.person] - 1) * penalty;
            }
            if ok {
                best = best.max(value);
            }
        }
        best
    }

    fn instance() -> impl Strategy<Value = (usize, Vec<u32>, Vec<Pair>, Limits)> {
        (1usize..=4, 1usize..=3, 1u32..=2, 0u32..=20)
            .prop_flat_map(|(people, elements, per_person, penalty)| {
                let pairs = proptest::collection::btree_map(
                    (0..people, 0..elements),
                    0u32..=10_000,
                    0..=(people * elements).min(12),
                );
                (
                    Just(people),
                    proptest::collection::vec(0u32..=2, elements),
                    pairs,
                    Just(per_person),
                    Just(penalty),
                )
            })
            .prop_map(|(people, seats, pairs, per_person, penalty)| {
                let pairs = pairs
                    .into_iter()
                    .map(|((person, element), score)| Pair {
                        person,
                        element,
                        score: f64::from(score) / 100.0,
                    })
                    .collect();
                (
                    people,
                    seats,
                    pairs,
                    Limits {
                        per_person,
                        extra_seat_penalty: f64::from(penalty),
                    },
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn the_plan_is_the_true_optimum((people, seats, pairs, limits) in instance()) {
            let solution = solve(people, &seats, &pairs, limits);
            let expected = brute_force(people, &seats, &pairs, limits);
            prop_assert_eq!((solution.objective * SCALE).round() as i64, expected);
        }

        #[test]
        fn the_plan_never_overfills_or_exceeds_a_persons_limit((people, seats, pairs, limits) in instance()) {
            let solution = solve(people, &seats, &pairs, limits);
            let mut used = vec![0u32; seats.len()];
            let mut per_person = vec![0u32; people];
            for i in &solution.chosen {
                used[pairs[*i].element] += 1;
                per_person[pairs[*i].person] += 1;
            }
            prop_assert!(used.iter().zip(&seats).all(|(u, s)| u <= s));
            prop_assert!(per_person.iter().all(|n| *n <= limits.per_person));
        }
    }

    #[test]
    fn a_rising_penalty_spreads_seats_across_people() {
        // One star and one good candidate, two elements with one seat each.
        let pairs = [
            Pair {
                person: 0,
                element: 0,
                score: 90.0,
            },
            Pair {
                person: 0,
                element: 1,
                score: 90.0,
            },
            Pair {
                person: 1,
                element: 1,
                score: 80.0,
            },
        ];
        let spread = solve(
            2,
            &[1, 1],
            &pairs,
            Limits {
                per_person: 2,
                extra_seat_penalty: 15.0,
            },
        );
        assert_eq!(spread.chosen, [0, 2]);
        let greedy = solve(
            2,
            &[1, 1],
            &pairs,
            Limits {
                per_person: 2,
                extra_seat_penalty: 0.0,
            },
        );
        assert_eq!(greedy.total_score, 180.0);
    }
}
