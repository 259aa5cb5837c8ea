//! Solves one plan instance from JSON on stdin and prints the optimum and the time taken, for
//! scripts/plan_oracle.py to compare against OR-Tools and scipy.
//! Input: {"people": n, "seats": [..], "pairs": [[person, element, score], ..], "per_person": k, "penalty": p}
//! Usage: `solve_plan [repeats]` (default 1): solves that many times, prints the median time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::time::Instant;

use coproduce::matching::plan::{Limits, Pair, solve};
use serde::Deserialize;

#[derive(Deserialize)]
struct Instance {
    people: usize,
    seats: Vec<u32>,
    pairs: Vec<(usize, usize, f64)>,
    per_person: u32,
    penalty: f64,
}

fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).expect("stdin");
    let instance: Instance = serde_json::from_str(&input).expect("an instance");
    let pairs: Vec<Pair> = instance
        .pairs
        .iter()
        .map(|&(person, element, score)| Pair {
            person,
            element,
            score,
        })
        .collect();
    let limits = Limits {
        per_person: instance.per_person,
        extra_seat_penalty: instance.penalty,
    };
    let repeats: usize = std::env::args()
        .nth(1)
        .map(|r| r.parse().expect("a number of repeats"))
        .unwrap_or(1)
        .max(1);
    let mut times = Vec::with_capacity(repeats);
    let mut solution = None;
    for _ in 0..repeats {
        let started = Instant::now();
        solution = Some(solve(instance.people, &instance.seats, &pairs, limits));
        times.push(started.elapsed().as_secs_f64());
    }
    let solution = solution.expect("at least one solve");
    times.sort_by(f64::total_cmp);
    let seconds = times[times.len() / 2];
    println!(
        "{}",
        serde_json::json!({"objective": solution.objective, "total_score": solution.total_score, "chosen": solution.chosen.len(), "seconds": seconds})
    );
}
