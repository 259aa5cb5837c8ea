//! Accounts managed by staff.

pub mod invitations;
