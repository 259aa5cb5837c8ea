//! coproduce: recruitment and matching of freelance co-producers.
//!
//! Layering: `routes` (HTTP) → `db` (queries in one unit of work) and `domain` (pure rules).
//! `domain` never imports actix or diesel.

pub mod auth;
pub mod commands;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod email;
pub mod error;
pub mod idempotency;
pub mod jobs;
pub mod matching;
pub mod metrics;
pub mod middleware;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
