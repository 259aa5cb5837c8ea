//! Integration tests: each spawns the real application on port 0 with its own database.
//! `both_backends!` runs a test on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod helpers;

mod adjustments;
mod assignments;
mod auth;
mod authorization;
mod claims;
mod cli;
mod digest;
mod email;
mod errors;
mod idempotency;
mod invitations;
mod logs;
mod matching;
mod me;
mod migrations;
mod openapi;
mod owner_views;
mod partners;
mod payment_runs;
mod people;
mod privacy;
mod recruitment;
mod reports;
mod security;
mod service;
mod smtp_sink;
mod tokens;
