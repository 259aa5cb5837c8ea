//! Operations for coordinators and admins.

pub mod outbox;
