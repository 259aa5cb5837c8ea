//! Background jobs that close the loop: reminding coordinators about applications still
//! waiting for an answer as a round's answer-by date nears.

use std::time::Duration;

use chrono::{NaiveDateTime, Utc};

use crate::db::queries::{recruitment as queries, users};
use crate::domain::recruitment::answer_by;
use crate::email::{Email, Recipient};
use crate::error::AppError;
use crate::routes::rounds::waiting;
use crate::state::AppState;

/// Emails every coordinator once a day per round whose answer-by date is within
/// `rounds.reminder_days_before` days and that still has applications waiting.
/// Returns how many rounds prompted a reminder.
pub async fn send_decision_reminders(
    state: &AppState,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    let app = state.clone();
    let reminded = state
        .db
        .write(move |conn| {
            let lead = chrono::Duration::days(i64::from(app.settings.rounds.reminder_days_before));
            let today = now.date().to_string();
            let coordinators = users::staff(conn)?;
            if coordinators.is_empty() {
                tracing::warn!(
                    "applications are waiting but there is no coordinator or admin to remind"
                );
                return Ok(0);
            }
            let mut reminded = 0;
            for round in queries::list_rounds(conn, None)? {
                let due = answer_by(round.closes_at, round.closed_at, round.answer_by_days);
                if now + lead < due {
                    continue;
                }
                let waiting = waiting(&queries::applications_in_round(conn, &round.id, None)?, now);
                if waiting.applications == 0 || !queries::mark_reminded(conn, &round.id, &today)? {
                    continue;
                }
                for coordinator in &coordinators {
                    let email = Email::DecisionReminder {
                        name: coordinator.display_name().to_string(),
                        round_title: round.title.clone(),
                        waiting: waiting.applications,
                        oldest_days: waiting.oldest_wait_days.unwrap_or(0),
                        answer_by: due.format("%-d %B %Y").to_string(),
                        link: app.settings.server.link(&format!("/rounds/{}", round.id)),
                    };
                    let to = Recipient::user(coordinator);
                    app.outbox.enqueue(conn, &to, &email)?;
                }
                reminded += 1;
            }
            Ok(reminded)
        })
        .await?;
    if reminded > 0 {
        state.outbox.wake();
    }
    Ok(reminded)
}

/// Expires unanswered invitations and tells coordinators; returns how many expired.
pub async fn expire_invitations(state: &AppState, now: NaiveDateTime) -> Result<usize, AppError> {
    let app = state.clone();
    let expired = state
        .db
        .write(move |conn| {
            crate::routes::matching::invitations::expire_invitations(conn, &app, now)
        })
        .await?;
    if expired > 0 {
        state.outbox.wake();
    }
    Ok(expired)
}

/// Runs the reminder check every `rounds.reminder_check_secs`.
pub async fn run(state: AppState) {
    let every = Duration::from_secs(state.settings.rounds.reminder_check_secs.max(60));
    loop {
        if let Err(error) = send_decision_reminders(&state, Utc::now().naive_utc()).await {
            tracing::warn!(error = %error, "decision reminders failed; will try again");
        }
        if let Err(error) = expire_invitations(&state, Utc::now().naive_utc()).await {
            tracing::warn!(error = %error, "expiring invitations failed; will try again");
        }
        tokio::time::sleep(every).await;
    }
}
