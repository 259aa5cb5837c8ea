//! Checks again, together, the sessions of the tokens in use (see `verified_tokens`), so that
//! requests with a token in steady use never wait on a session check of their own.

use std::time::Instant;

use tokio::time::MissedTickBehavior;

use crate::auth::verified_tokens::{RECHECK_AFTER, revocation_epoch};
use crate::db::queries::auth;
use crate::error::AppError;
use crate::state::AppState;

/// Runs for as long as the server does: a recheck every half [`RECHECK_AFTER`].
pub async fn run(state: AppState) {
    let mut every = tokio::time::interval(RECHECK_AFTER / 2);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        // A failed recheck leaves the entries to lapse: their requests then check on their own.
        if let Err(error) = recheck(&state).await {
            tracing::warn!(error = %error, "rechecking the sessions in use failed");
        }
    }
}

/// One recheck of every session whose token was used since its last check.
pub async fn recheck(state: &AppState) -> Result<(), AppError> {
    let asked = state.verified_tokens.sessions_in_use();
    if asked.is_empty() {
        return Ok(());
    }
    // Read before asking, as a request's own check does: a revocation meanwhile voids the answer.
    let epoch = revocation_epoch();
    let asked_at = Instant::now();
    let ids: Vec<String> = asked.iter().map(|(id, _)| id.clone()).collect();
    // Pairs, so a session found live for another user than the token names counts as not live.
    let live = state
        .db
        .read(move |conn| Ok(auth::live_sessions(conn, &ids)?))
        .await?;
    state
        .verified_tokens
        .confirm(&asked, &live, asked_at, epoch);
    Ok(())
}
