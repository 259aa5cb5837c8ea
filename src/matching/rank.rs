//! Ranking candidates for one element.

use std::collections::BTreeMap;

use super::adjustments::{Adjustment, adjustments};
use super::model::{Candidate, Element, Weights};
use super::score::{Factor, exclusion, points, score};
use crate::domain::catalogue::Catalogue;

#[derive(Debug, Clone)]
pub struct Ranked<'a> {
    pub candidate: &'a Candidate,
    pub score: f64,
    pub breakdown: Vec<Factor>,
    pub adjustments: Vec<Adjustment>,
}

#[derive(Debug, Clone)]
pub struct Ranking<'a> {
    /// Best first, at most `limit`.
    pub items: Vec<Ranked<'a>>,
    /// How many were excluded, by reason code.
    pub excluded: BTreeMap<&'static str, usize>,
}

/// Scores everyone who passes the hard constraints and keeps the best `limit`.
/// Ties: fewer offers in the last 90 days first, then a lottery drawn from `seed`.
pub fn rank<'a>(
    element: &Element,
    candidates: &'a [Candidate],
    weights: &Weights,
    catalogue: &Catalogue,
    seed: u64,
    limit: usize,
) -> Ranking<'a> {
    let mut excluded: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut eligible: Vec<(f64, u32, u64, &'a Candidate)> = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        if let Some(reason) = exclusion(candidate, element) {
            *excluded.entry(reason.code()).or_default() += 1;
            continue;
        }
        let total = points(candidate, element, weights);
        eligible.push((
            total,
            candidate.offers_90d,
            lottery(seed, &candidate.id),
            candidate,
        ));
    }
    let order = |a: &(f64, u32, u64, &Candidate), b: &(f64, u32, u64, &Candidate)| {
        b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
    };
    // Partial selection keeps ranking 100,000 people for one element cheap.
    if eligible.len() > limit && limit > 0 {
        eligible.select_nth_unstable_by(limit - 1, order);
        eligible.truncate(limit);
    }
    eligible.sort_by(order);
    eligible.truncate(limit);
    let items = eligible
        .into_iter()
        .map(|(total, _, _, candidate)| {
            let (_, breakdown) = score(candidate, element, weights);
            Ranked {
                candidate,
                score: total,
                breakdown,
                adjustments: adjustments(&candidate.needs, element, catalogue),
            }
        })
        .collect();
    Ranking { items, excluded }
}

/// A stable pseudo-random draw per (seed, person): FNV-1a, so the order is the same on every
/// machine and release, and changes only when the seed does.
pub fn lottery(seed: u64, id: &str) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::BUILT_IN;
    use crate::matching::score::tests::{candidate, element};

    fn catalogue() -> Catalogue {
        Catalogue::parse(BUILT_IN).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn best_first_with_exclusions_counted_by_reason() {
        let mut weak = candidate("weak");
        weak.skills.clear();
        let mut paused = candidate("paused");
        paused.active = false;
        let mut conflicted = candidate("conflicted");
        conflicted.conflicts.insert("org".into());
        let people = vec![weak, candidate("strong"), paused, conflicted];
        let ranking = rank(
            &element(),
            &people,
            &Weights::default(),
            &catalogue(),
            1,
            10,
        );
        let order: Vec<&str> = ranking
            .items
            .iter()
            .map(|r| r.candidate.id.as_str())
            .collect();
        assert_eq!(order, ["strong", "weak"]);
        assert_eq!(ranking.excluded.get("not_active"), Some(&1));
        assert_eq!(ranking.excluded.get("conflict_of_interest"), Some(&1));
    }

    #[test]
    fn ties_go_to_fewer_recent_offers_then_the_lottery() {
        let mut offered = candidate("offered");
        offered.offers_90d = 2;
        let people = vec![offered, candidate("b"), candidate("a")];
        let first = rank(
            &element(),
            &people,
            &Weights {
                fairness: 0.0,
                ..Weights::default()
            },
            &catalogue(),
            7,
            10,
        );
        let order: Vec<&str> = first
            .items
            .iter()
            .map(|r| r.candidate.id.as_str())
            .collect();
        assert_eq!(order.last(), Some(&"offered"));
        let again = rank(
            &element(),
            &people,
            &Weights {
                fairness: 0.0,
                ..Weights::default()
            },
            &catalogue(),
            7,
            10,
        );
        let same: Vec<&str> = again
            .items
            .iter()
            .map(|r| r.candidate.id.as_str())
            .collect();
        assert_eq!(order, same, "the same seed draws the same lottery");
        let draws: std::collections::HashSet<Vec<String>> = (0..20)
            .map(|seed| {
                rank(
                    &element(),
                    &people,
                    &Weights {
                        fairness: 0.0,
                        ..Weights::default()
                    },
                    &catalogue(),
                    seed,
                    10,
                )
                .items
                .iter()
                .map(|r| r.candidate.id.clone())
                .collect()
            })
            .collect();
        assert!(
            draws.len() > 1,
            "different seeds can change the order of equals"
        );
    }

    #[test]
    fn limit_keeps_the_best() {
        let mut people: Vec<Candidate> = (0..50).map(|i| candidate(&format!("p{i:02}"))).collect();
        people[17].skills.insert("writing".into(), 1);
        let ranking = rank(&element(), &people, &Weights::default(), &catalogue(), 3, 5);
        assert_eq!(ranking.items.len(), 5);
        assert!(
            ranking.items.iter().all(|r| r.candidate.id != "p17"),
            "the weaker one is not in the top five"
        );
    }
}
