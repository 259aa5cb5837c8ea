//! Matcher speed. Run: `cargo bench --bench matching`. Figures and comparisons with OR-Tools
//! and scipy (scripts/plan_oracle.py) are recorded in docs/PERFORMANCE.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveTime, Weekday};
use coproduce::domain::catalogue::{BUILT_IN, Catalogue};
use coproduce::domain::partnership::Mode;
use coproduce::matching::plan::{Limits, Pair, solve};
use coproduce::matching::rank::rank;
use coproduce::matching::{Candidate, Element, MonthlyHours, Weights};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SKILLS: [&str; 20] = [
    "facilitation",
    "peer_research",
    "interviewing",
    "survey_design",
    "co_design",
    "writing",
    "editing",
    "easy_read_writing",
    "public_speaking",
    "training_delivery",
    "data_analysis",
    "evaluation",
    "social_media",
    "graphic_design",
    "video_making",
    "event_planning",
    "recruitment_panels",
    "grant_review",
    "mentoring",
    "translation",
];
const THEMES: [&str; 6] = [
    "housing",
    "mental_health",
    "disability",
    "youth",
    "carers",
    "poverty",
];
const LIVED: [&str; 5] = [
    "homelessness",
    "disability",
    "carer",
    "poverty",
    "neurodivergence",
];

fn candidates(n: usize, rng: &mut StdRng) -> Vec<Candidate> {
    (0..n)
        .map(|i| Candidate {
            id: format!("p{i:06}"),
            display_name: format!("Person {i}"),
            active: rng.random_bool(0.9),
            remote: rng.random_bool(0.8),
            in_person: rng.random_bool(0.6),
            weekly: vec![(
                Weekday::Mon,
                NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
            )],
            hours_per_month: rng.random_range(5..40),
            skills: (0..4)
                .map(|_| {
                    (
                        SKILLS[rng.random_range(0..20)].to_string(),
                        rng.random_range(1..=3),
                    )
                })
                .collect::<HashMap<_, _>>(),
            interests: (0..2)
                .map(|_| THEMES[rng.random_range(0..6)].to_string())
                .collect::<HashSet<_>>(),
            lived_experience: (0..2)
                .map(|_| LIVED[rng.random_range(0..5)].to_string())
                .collect::<HashSet<_>>(),
            needs: vec!["step_free_access".into(), "bsl_interpreter".into()],
            offers_90d: rng.random_range(0..4),
            ever_placed: rng.random_bool(0.5),
            ..Candidate::default()
        })
        .collect()
}

fn element() -> Element {
    let day = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
    Element {
        id: "e1".into(),
        organisation_id: "org".into(),
        mode: Mode::Hybrid,
        sessions: vec![(
            day.and_hms_opt(10, 0, 0).unwrap(),
            day.and_hms_opt(12, 0, 0).unwrap(),
        )],
        hours: 4,
        monthly_hours: MonthlyHours::of(
            4,
            &[(
                day.and_hms_opt(10, 0, 0).unwrap(),
                day.and_hms_opt(12, 0, 0).unwrap(),
            )],
        ),
        skills_required: vec!["interviewing".into(), "writing".into()],
        skills_desired: vec!["facilitation".into()],
        lived_experience_wanted: vec!["homelessness".into()],
        interests: vec!["housing".into()],
        features: vec!["step_free_access".into()],
        pay_rate_pence_per_hour: 2500,
        seats_left: 3,
        already_on: HashSet::new(),
    }
}

/// `people × elements` with each person feasible for `per_person` random elements, scores 0–100.
pub fn plan_instance(
    people: usize,
    elements: usize,
    per_person: usize,
    rng: &mut StdRng,
) -> Vec<Pair> {
    let mut pairs = Vec::with_capacity(people * per_person);
    for person in 0..people {
        let mut chosen = HashSet::new();
        while chosen.len() < per_person.min(elements) {
            chosen.insert(rng.random_range(0..elements));
        }
        for element in chosen {
            pairs.push(Pair {
                person,
                element,
                score: f64::from(rng.random_range(0..10_000u32)) / 100.0,
            });
        }
    }
    pairs
}

fn bench_rank(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(7);
    let pool = candidates(100_000, &mut rng);
    let catalogue = Catalogue::parse(BUILT_IN).unwrap();
    let element = element();
    let weights = Weights::default();
    c.bench_function("rank 100k co-producers for one element", |b| {
        b.iter(|| rank(&element, &pool, &weights, &catalogue, 42, 20));
    });
}

fn bench_plan(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(11);
    let pairs = plan_instance(5_000, 1_000, 20, &mut rng);
    let seats = vec![3u32; 1_000];
    let limits = Limits {
        per_person: 1,
        extra_seat_penalty: 15.0,
    };
    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    group.bench_function(
        "5000 people x 1000 elements x 3 seats, 20 candidate elements each",
        |b| {
            b.iter(|| solve(5_000, &seats, &pairs, limits));
        },
    );
    let two_each = Limits {
        per_person: 2,
        ..limits
    };
    group.bench_function(
        "5000 people x 1000 elements x 3 seats, 20 candidate elements each, limit 2",
        |b| {
            b.iter(|| solve(5_000, &seats, &pairs, two_each));
        },
    );
    let mut rng = StdRng::seed_from_u64(13);
    let dense: Vec<Pair> = (0..1_000)
        .flat_map(|person| (0..1_000).map(move |element| (person, element)))
        .map(|(person, element)| Pair {
            person,
            element,
            score: f64::from(rng.random_range(0..10_000u32)) / 100.0,
        })
        .collect();
    let one_seat = vec![1u32; 1_000];
    group.bench_function("dense 1000 x 1000 one-seat assignment", |b| {
        b.iter(|| solve(1_000, &one_seat, &dense, limits));
    });
    group.finish();
}

criterion_group!(benches, bench_rank, bench_plan);
criterion_main!(benches);
