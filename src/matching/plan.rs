//! The optimal plan: who goes where across many elements, maximising the total score subject
//! to each element's seats and each person's limit, with a rising penalty for a person's second
//! and later seats. Solved exactly as a min-cost flow (`flow`): people (a unit per seat they may
//! take, the k-th costing (k−1)·penalty) → elements (the pair's score) → seats. When every
//! person may take one seat and every element has one, the plan is an assignment problem and a
//! dense Jonker–Volgenant solver (`assignment`) is used instead if most pairs are feasible.

use std::collections::{BTreeMap, HashSet};

use super::{assignment, flow};

/// Scores are kept to two decimals; the solvers use whole hundredths.
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
    /// A negative penalty counts as none.
    pub extra_seat_penalty: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// Chosen pairs (indices into the input). Pairs worth nothing (score ≤ 0) are never chosen,
    /// and of repeated (person, element) pairs at most one is.
    pub chosen: Vec<usize>,
    /// Sum of the chosen pairs' scores.
    pub total_score: f64,
    /// The objective: total score minus extra-seat penalties.
    pub objective: f64,
}

/// Whole hundredths; far out of range scores are clamped so sums cannot overflow.
fn hundredths(points: f64) -> i64 {
    (points * SCALE).round().clamp(-1e12, 1e12) as i64
}

pub fn solve(people: usize, seats: &[u32], pairs: &[Pair], limits: Limits) -> Solution {
    let penalty = hundredths(limits.extra_seat_penalty).max(0);
    let arcs: Vec<flow::Arc> = pairs
        .iter()
        .map(|pair| flow::Arc {
            person: pair.person,
            element: pair.element,
            value: hundredths(pair.score),
        })
        .collect();
    let picked = if assignment::suits(people, seats, arcs.len(), limits.per_person) {
        assignment::maximise_value(people, seats, &arcs)
    } else {
        flow::maximise_value(people, seats, &arcs, limits.per_person, penalty)
    };
    let chosen: Vec<usize> = (0..pairs.len()).filter(|i| picked[*i]).collect();
    let mut held = vec![0i64; people];
    let mut total = 0i64;
    for i in &chosen {
        total += arcs[*i].value;
        held[arcs[*i].person] += 1;
    }
    let penalties: i64 = held.iter().map(|h| penalty * h * (h - 1).max(0) / 2).sum();
    Solution {
        chosen,
        total_score: total as f64 / SCALE,
        objective: (total - penalties) as f64 / SCALE,
    }
}

/// `solve`, then, while someone's seats could not all be done by one person (`cannot_also_do`
/// gets the person and their elements, best first, and names the positions to give up), leaves
/// those pairs out and solves again. Each round leaves out at least one pair, so it ends. The
/// plan keeps every rule, but once a pair is given up it may fall short of the best plan that
/// does: checking combinations exactly is a much harder problem than the flow.
pub fn solve_together(
    people: usize,
    seats: &[u32],
    pairs: &[Pair],
    limits: Limits,
    mut cannot_also_do: impl FnMut(usize, &[usize]) -> Vec<usize>,
) -> Solution {
    let mut allowed: Vec<usize> = (0..pairs.len()).collect();
    loop {
        let offered: Vec<Pair> = allowed.iter().map(|i| pairs[*i]).collect();
        let mut solution = solve(people, seats, &offered, limits);
        for chosen in &mut solution.chosen {
            *chosen = allowed[*chosen];
        }
        let mut held: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in &solution.chosen {
            held.entry(pairs[*i].person).or_default().push(*i);
        }
        let mut given_up = HashSet::new();
        for (person, mut own) in held.into_iter().filter(|(_, own)| own.len() > 1) {
            own.sort_by(|a, b| pairs[*b].score.total_cmp(&pairs[*a].score));
            let elements: Vec<usize> = own.iter().map(|i| pairs[*i].element).collect();
            given_up.extend(
                cannot_also_do(person, &elements)
                    .into_iter()
                    .filter_map(|position| own.get(position).copied()),
            );
        }
        if given_up.is_empty() {
            return solution;
        }
        allowed.retain(|i| !given_up.contains(i));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    fn limits(per_person: u32, penalty: f64) -> Limits {
        Limits {
            per_person,
            extra_seat_penalty: penalty,
        }
    }

    /// Tries every subset of pairs (never the same person twice on one element): the slow,
    /// obviously right answer, in hundredths.
    fn brute_force(people: usize, seats: &[u32], pairs: &[Pair], limits: Limits) -> i64 {
        let mut best = 0i64;
        let penalty = hundredths(limits.extra_seat_penalty).max(0);
        'subsets: for mask in 0u32..(1 << pairs.len()) {
            let mut used_seats = vec![0u32; seats.len()];
            let mut per_person = vec![0u32; people];
            let mut seated = HashSet::new();
            let mut value = 0i64;
            for (i, pair) in pairs.iter().enumerate() {
                if mask & (1 << i) == 0 {
                    continue;
                }
                used_seats[pair.element] += 1;
                per_person[pair.person] += 1;
                if used_seats[pair.element] > seats[pair.element]
                    || per_person[pair.person] > limits.per_person
                    || !seated.insert((pair.person, pair.element))
                {
                    continue 'subsets;
                }
                value += hundredths(pair.score) - i64::from(per_person[pair.person] - 1) * penalty;
            }
            best = best.max(value);
        }
        best
    }

    /// What a set of chosen pairs is worth, in hundredths, after the extra-seat penalties.
    fn worth(people: usize, pairs: &[Pair], chosen: &[usize], limits: Limits) -> i64 {
        let penalty = hundredths(limits.extra_seat_penalty).max(0);
        let mut held = vec![0i64; people];
        let mut value = 0;
        for i in chosen {
            value += hundredths(pairs[*i].score) - held[pairs[*i].person] * penalty;
            held[pairs[*i].person] += 1;
        }
        value
    }

    /// The plan's rules: seats, per-person limits, one seat per (person, element), nothing
    /// worthless chosen.
    fn respects_the_rules(
        people: usize,
        seats: &[u32],
        pairs: &[Pair],
        chosen: &[usize],
        limits: Limits,
    ) -> bool {
        let mut used = vec![0u32; seats.len()];
        let mut per_person = vec![0u32; people];
        let mut seated = HashSet::new();
        for i in chosen {
            let pair = pairs[*i];
            used[pair.element] += 1;
            per_person[pair.person] += 1;
            if !seated.insert((pair.person, pair.element)) || hundredths(pair.score) <= 0 {
                return false;
            }
        }
        used.iter().zip(seats).all(|(u, s)| u <= s)
            && per_person.iter().all(|n| *n <= limits.per_person)
    }

    fn arcs(pairs: &[Pair]) -> Vec<flow::Arc> {
        pairs
            .iter()
            .map(|pair| flow::Arc {
                person: pair.person,
                element: pair.element,
                value: hundredths(pair.score),
            })
            .collect()
    }

    fn picked(mask: &[bool]) -> Vec<usize> {
        (0..mask.len()).filter(|i| mask[*i]).collect()
    }

    /// Scores drawn often from a few values (ties), sometimes ≤ 0, otherwise anything to
    /// the hundredth.
    fn score() -> impl Strategy<Value = f64> {
        prop_oneof![
            prop::sample::select(vec![-5.0, 0.0, 10.0, 15.0, 30.0, 50.0]),
            (0u32..=10_000).prop_map(|s| f64::from(s) / 100.0),
        ]
    }

    /// Up to 12 pairs (brute force tries every subset), repeats of a (person, element) allowed.
    fn instance_with(
        per_person: impl Strategy<Value = u32>,
        max_seats: u32,
    ) -> impl Strategy<Value = (usize, Vec<u32>, Vec<Pair>, Limits)> {
        (
            1usize..=4,
            1usize..=4,
            per_person,
            prop_oneof![Just(0u32), 0u32..=40],
        )
            .prop_flat_map(move |(people, elements, per_person, penalty)| {
                let pair =
                    (0..people, 0..elements, score()).prop_map(|(person, element, score)| Pair {
                        person,
                        element,
                        score,
                    });
                (
                    Just(people),
                    proptest::collection::vec(0u32..=max_seats, elements),
                    proptest::collection::vec(pair, 0..=12),
                    Just(limits(per_person, f64::from(penalty) / 2.0)),
                )
            })
    }

    fn instance() -> impl Strategy<Value = (usize, Vec<u32>, Vec<Pair>, Limits)> {
        instance_with(1u32..=3, 3)
    }

    fn one_seat_instance() -> impl Strategy<Value = (usize, Vec<u32>, Vec<Pair>, Limits)> {
        instance_with(Just(1u32), 1)
    }

    /// One seat each, up to 30 × 30, most pairs feasible: too big for brute force.
    fn dense_one_seat_instance() -> impl Strategy<Value = (usize, Vec<u32>, Vec<Pair>)> {
        (1usize..=30, 1usize..=30, any::<bool>()).prop_flat_map(|(people, elements, square)| {
            // Half of them square: the full Jonker–Volgenant start-up only runs on those.
            let elements = if square { people } else { elements };
            (
                Just(people),
                proptest::collection::vec(prop_oneof![9 => Just(1u32), 1 => Just(0u32)], elements),
                proptest::collection::vec(
                    prop_oneof![1 => Just(None), 4 => score().prop_map(Some)],
                    people * elements,
                ),
            )
                .prop_map(move |(people, seats, cells)| {
                    let pairs = cells
                        .into_iter()
                        .enumerate()
                        .filter_map(|(cell, score)| {
                            score.map(|score| Pair {
                                person: cell / elements,
                                element: cell % elements,
                                score,
                            })
                        })
                        .collect();
                    (people, seats, pairs)
                })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn the_plan_is_the_true_optimum((people, seats, pairs, limits) in instance()) {
            let solution = solve(people, &seats, &pairs, limits);
            let expected = brute_force(people, &seats, &pairs, limits);
            prop_assert_eq!(hundredths(solution.objective), expected);
            prop_assert_eq!(worth(people, &pairs, &solution.chosen, limits), expected);
        }

        #[test]
        fn the_plan_keeps_every_rule((people, seats, pairs, limits) in instance()) {
            let solution = solve(people, &seats, &pairs, limits);
            prop_assert!(respects_the_rules(people, &seats, &pairs, &solution.chosen, limits));
            let total: i64 = solution.chosen.iter().map(|i| hundredths(pairs[*i].score)).sum();
            prop_assert_eq!(hundredths(solution.total_score), total);
        }

        #[test]
        fn the_flow_solver_is_the_true_optimum((people, seats, pairs, limits) in instance()) {
            let penalty = hundredths(limits.extra_seat_penalty);
            let chosen = picked(&flow::maximise_value(people, &seats, &arcs(&pairs), limits.per_person, penalty));
            prop_assert!(respects_the_rules(people, &seats, &pairs, &chosen, limits));
            prop_assert_eq!(worth(people, &pairs, &chosen, limits), brute_force(people, &seats, &pairs, limits));
        }

        #[test]
        fn the_flow_solver_is_the_true_optimum_from_either_side((people, seats, pairs, limits) in instance()) {
            let penalty = hundredths(limits.extra_seat_penalty);
            let expected = brute_force(people, &seats, &pairs, limits);
            for roots in [flow::Roots::People, flow::Roots::Elements] {
                let chosen = picked(&flow::maximise_value_from(roots, people, &seats, &arcs(&pairs), limits.per_person, penalty));
                prop_assert!(respects_the_rules(people, &seats, &pairs, &chosen, limits));
                prop_assert_eq!(worth(people, &pairs, &chosen, limits), expected);
            }
        }

        #[test]
        fn the_one_seat_assignment_is_the_true_optimum((people, seats, pairs, limits) in one_seat_instance()) {
            let chosen = picked(&assignment::maximise_value(people, &seats, &arcs(&pairs)));
            prop_assert!(respects_the_rules(people, &seats, &pairs, &chosen, limits));
            prop_assert_eq!(worth(people, &pairs, &chosen, limits), brute_force(people, &seats, &pairs, limits));
        }
    }

    /// Whether the plan's residual network (source → person seats → elements → sink, plus
    /// source → sink for units left unused) has a negative cycle, i.e. the plan could be
    /// improved. None means optimal: an independent certificate for instances too big for brute
    /// force. Pairs must not repeat a (person, element).
    fn has_improving_cycle(
        people: usize,
        seats: &[u32],
        pairs: &[Pair],
        chosen: &[usize],
        limits: Limits,
    ) -> bool {
        let penalty = hundredths(limits.extra_seat_penalty).max(0);
        let (source, sink) = (people + seats.len(), people + seats.len() + 1);
        let element = |e: usize| people + e;
        let mut held = vec![0i64; people];
        let mut used = vec![0u32; seats.len()];
        let mut is_chosen = vec![false; pairs.len()];
        for i in chosen {
            held[pairs[*i].person] += 1;
            used[pairs[*i].element] += 1;
            is_chosen[*i] = true;
        }
        let mut residual: Vec<(usize, usize, i64)> = Vec::new();
        for (p, held) in held.iter().enumerate() {
            for k in 0..i64::from(limits.per_person) {
                if k < *held {
                    residual.push((p, source, -k * penalty));
                } else {
                    residual.push((source, p, k * penalty));
                }
            }
        }
        for (i, pair) in pairs.iter().enumerate() {
            let value = hundredths(pair.score);
            if is_chosen[i] {
                residual.push((element(pair.element), pair.person, value));
            } else {
                residual.push((pair.person, element(pair.element), -value));
            }
        }
        for (e, seats) in seats.iter().enumerate() {
            if used[e] < *seats {
                residual.push((element(e), sink, 0));
            }
            if used[e] > 0 {
                residual.push((sink, element(e), 0));
            }
        }
        let unused = people as i64 * i64::from(limits.per_person) - held.iter().sum::<i64>();
        residual.push((source, sink, 0));
        if unused > 0 {
            residual.push((sink, source, 0));
        }
        // Bellman–Ford from every node at once: still relaxing after n rounds means a cycle.
        let mut dist = vec![0i64; sink + 1];
        for _ in 0..=sink {
            let mut changed = false;
            for &(from, to, cost) in &residual {
                if dist[from] + cost < dist[to] {
                    dist[to] = dist[from] + cost;
                    changed = true;
                }
            }
            if !changed {
                return false;
            }
        }
        true
    }

    /// Up to 25 people × 10 elements, limits up to 3, no repeated pairs.
    fn larger_instance() -> impl Strategy<Value = (usize, Vec<u32>, Vec<Pair>, Limits)> {
        (1usize..=25, 1usize..=10, 1u32..=3, 0u32..=40).prop_flat_map(
            |(people, elements, per_person, penalty)| {
                (
                    Just(people),
                    proptest::collection::vec(0u32..=4, elements),
                    proptest::collection::btree_map(
                        (0..people, 0..elements),
                        score(),
                        0..=(people * elements).min(120),
                    ),
                    Just(limits(per_person, f64::from(penalty) / 2.0)),
                )
                    .prop_map(|(people, seats, pairs, limits)| {
                        let pairs = pairs
                            .into_iter()
                            .map(|((person, element), score)| Pair {
                                person,
                                element,
                                score,
                            })
                            .collect();
                        (people, seats, pairs, limits)
                    })
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn the_assignment_and_the_flow_agree_on_larger_one_seat_plans((people, seats, pairs) in dense_one_seat_instance()) {
            let one = limits(1, 15.0);
            let by_assignment = picked(&assignment::maximise_value(people, &seats, &arcs(&pairs)));
            let by_flow = picked(&flow::maximise_value(people, &seats, &arcs(&pairs), 1, 1500));
            prop_assert!(respects_the_rules(people, &seats, &pairs, &by_assignment, one));
            prop_assert!(respects_the_rules(people, &seats, &pairs, &by_flow, one));
            prop_assert_eq!(worth(people, &pairs, &by_assignment, one), worth(people, &pairs, &by_flow, one));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn larger_plans_leave_no_improving_cycle((people, seats, pairs, limits) in larger_instance()) {
            let solution = solve(people, &seats, &pairs, limits);
            prop_assert!(respects_the_rules(people, &seats, &pairs, &solution.chosen, limits));
            prop_assert!(!has_improving_cycle(people, &seats, &pairs, &solution.chosen, limits));
            let penalty = hundredths(limits.extra_seat_penalty);
            for roots in [flow::Roots::People, flow::Roots::Elements] {
                let chosen = picked(&flow::maximise_value_from(roots, people, &seats, &arcs(&pairs), limits.per_person, penalty));
                prop_assert!(respects_the_rules(people, &seats, &pairs, &chosen, limits));
                prop_assert!(!has_improving_cycle(people, &seats, &pairs, &chosen, limits));
            }
        }
    }

    #[test]
    fn a_plan_that_can_be_improved_has_an_improving_cycle() {
        // The check itself must catch a poor plan: one person on the worse of two elements.
        let pairs = [
            Pair {
                person: 0,
                element: 0,
                score: 10.0,
            },
            Pair {
                person: 0,
                element: 1,
                score: 20.0,
            },
        ];
        let one = limits(1, 0.0);
        assert!(has_improving_cycle(1, &[1, 1], &pairs, &[0], one));
        assert!(!has_improving_cycle(1, &[1, 1], &pairs, &[1], one));
        assert!(has_improving_cycle(1, &[1, 1], &pairs, &[], one));
    }

    #[test]
    fn dense_one_seat_plans_use_the_assignment_solver() {
        assert!(assignment::suits(1_000, &[1; 1_000], 1_000_000, 1));
        assert!(!assignment::suits(1_000, &[1; 1_000], 1_000_000, 2));
        assert!(!assignment::suits(1_000, &[3; 1_000], 1_000_000, 1));
        assert!(!assignment::suits(5_000, &[1; 1_000], 100_000, 1));
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
        let spread = solve(2, &[1, 1], &pairs, limits(2, 15.0));
        assert_eq!(spread.chosen, [0, 2]);
        assert_eq!(spread.objective, 170.0);
        let greedy = solve(2, &[1, 1], &pairs, limits(2, 0.0));
        assert_eq!(greedy.total_score, 180.0);
        assert_eq!(greedy.objective, 180.0);
    }

    #[test]
    fn a_second_seat_costs_the_penalty_and_a_third_twice_that() {
        let pairs: Vec<Pair> = (0..3)
            .map(|element| Pair {
                person: 0,
                element,
                score: 50.0,
            })
            .collect();
        let solution = solve(1, &[1, 1, 1], &pairs, limits(3, 10.0));
        assert_eq!(solution.chosen.len(), 3);
        assert_eq!(solution.total_score, 150.0);
        assert_eq!(solution.objective, 150.0 - 10.0 - 20.0);
    }

    #[test]
    fn a_person_is_never_seated_twice_on_one_element() {
        let pair = Pair {
            person: 0,
            element: 0,
            score: 40.0,
        };
        let solution = solve(1, &[2], &[pair, pair], limits(2, 0.0));
        assert_eq!(solution.chosen.len(), 1);
        assert_eq!(solution.objective, 40.0);
    }

    #[test]
    fn a_negative_penalty_counts_as_none() {
        let pairs: Vec<Pair> = (0..2)
            .map(|element| Pair {
                person: 0,
                element,
                score: 10.0,
            })
            .collect();
        let solution = solve(1, &[1, 1], &pairs, limits(2, -5.0));
        assert_eq!(solution.objective, 20.0);
    }

    #[test]
    fn pairs_worth_nothing_are_left_out() {
        let pairs = [
            Pair {
                person: 0,
                element: 0,
                score: 0.0,
            },
            Pair {
                person: 1,
                element: 1,
                score: -3.0,
            },
        ];
        let solution = solve(2, &[1, 1], &pairs, limits(1, 15.0));
        assert!(solution.chosen.is_empty());
        assert_eq!(solution.objective, 0.0);
    }

    /// Greedy, as `score::cannot_also_do` is: an element is given up when it clashes with
    /// one kept before it.
    fn giving_up(clashing: &HashSet<(usize, usize)>, elements: &[usize]) -> Vec<usize> {
        let mut kept: Vec<usize> = Vec::new();
        let mut given_up = Vec::new();
        for (position, element) in elements.iter().enumerate() {
            let clashes = |e: &usize| {
                clashing.contains(&(*e, *element)) || clashing.contains(&(*element, *e))
            };
            if kept.iter().any(clashes) {
                given_up.push(position);
            } else {
                kept.push(*element);
            }
        }
        given_up
    }

    #[test]
    fn a_seat_its_person_cannot_also_take_goes_to_the_next_best() {
        let pairs = [
            Pair {
                person: 0,
                element: 0,
                score: 90.0,
            },
            Pair {
                person: 0,
                element: 1,
                score: 80.0,
            },
            Pair {
                person: 1,
                element: 1,
                score: 50.0,
            },
        ];
        let clashing = HashSet::from([(0, 1)]);
        let alone = solve(2, &[1, 1], &pairs, limits(2, 0.0));
        assert_eq!(
            alone.chosen,
            [0, 1],
            "without the check one person takes both"
        );
        let together = solve_together(2, &[1, 1], &pairs, limits(2, 0.0), |_, elements| {
            giving_up(&clashing, elements)
        });
        assert_eq!(together.chosen, [0, 2]);
        assert_eq!(together.total_score, 140.0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn nobody_is_given_seats_they_cannot_take_together(
            (people, seats, pairs, limits) in instance(),
            clashing in proptest::collection::hash_set((0usize..4, 0usize..4), 0..=6),
        ) {
            let solution = solve_together(people, &seats, &pairs, limits, |_, elements| {
                giving_up(&clashing, elements)
            });
            prop_assert!(respects_the_rules(people, &seats, &pairs, &solution.chosen, limits));
            for person in 0..people {
                let held: Vec<usize> = solution
                    .chosen
                    .iter()
                    .filter(|i| pairs[**i].person == person)
                    .map(|i| pairs[*i].element)
                    .collect();
                for a in &held {
                    prop_assert!(!held.iter().any(|b| b != a && clashing.contains(&(*a, *b))), "{held:?}");
                }
            }
            prop_assert!(
                hundredths(solution.objective) <= brute_force(people, &seats, &pairs, limits)
            );
        }

        #[test]
        fn with_nothing_clashing_the_plan_is_the_plain_optimum(
            (people, seats, pairs, limits) in instance(),
        ) {
            let together = solve_together(people, &seats, &pairs, limits, |_, _| Vec::new());
            prop_assert_eq!(together, solve(people, &seats, &pairs, limits));
        }
    }
}
