//! The matcher: pure code, no IO (DOMAIN.md "Matching").
//!
//! - `score`: hard constraints (excluded with a reason code) and the soft score, factor by
//!   factor with plain-English reasons;
//! - `adjustments`: what each person's access needs mean for an element (never part of the score);
//! - `rank`: candidates for one element, ties broken by fewer recent offers then a seeded lottery;
//! - `plan`: the optimal plan for many elements, as a min-cost flow (`flow`), or as an
//!   assignment problem (`assignment`) when everyone takes one seat and every element has one.

pub mod adjustments;
pub mod assignment;
pub mod flow;
pub mod model;
pub mod plan;
pub mod rank;
pub mod score;

pub use model::{Candidate, Element, MonthlyHours, Weights};
