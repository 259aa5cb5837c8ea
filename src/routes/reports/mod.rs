//! Aggregate reports for coordinators: counts only, never anyone's own answers.

pub mod equal_opportunities;
