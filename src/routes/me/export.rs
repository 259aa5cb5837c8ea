//! `GET /me/export`: everything held about the signed-in person, as one readable JSON file
//! (a subject access request). Their own special-category data is decrypted with no audit row,
//! as on `GET /me/profile`. Secrets (password and token hashes, live links in unsent email) and
//! other people's personal data (who reviewed them, whose data they read) are left out.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::crypto::Field;
use crate::db::DbConn;
use crate::db::queries::{
    audit, claims, matching, organisations, partnership, people, privacy, recruitment, users,
};
use crate::domain::assignment::SERVICE_ACTOR;
use crate::domain::profile::{AccessPassport, EqualOpportunities, Profile};
use crate::domain::role::Role;
use crate::error::{AppError, Problem};
use crate::matching::adjustments::Arrangement;
use crate::routes::matching::adjustments::arrangements_of;
use crate::routes::matching::invitation_details::why_suggested;
use crate::state::AppState;

fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

fn internal(error: impl Into<anyhow::Error>) -> AppError {
    AppError::Internal(error.into())
}

/// Everything held about you, grouped by kind. Dates are ISO 8601 in UTC.
#[derive(Debug, Serialize, ToSchema)]
pub struct Export {
    pub about_this_export: AboutExport,
    pub account: Account,
    pub email_preferences: EmailPreferences,
    pub sign_ins: SignIns,
    pub invitations_to_join: Vec<JoinInvitation>,
    pub organisations: Vec<String>,
    /// Your profile (lived experience included), or null if you have not filled it in.
    pub profile: Option<Profile>,
    /// Your access needs, or null if you have not recorded them.
    pub access_passport: Option<AccessPassport>,
    /// Question code → your answer; empty if you gave none.
    #[schema(value_type = Object)]
    pub equal_opportunities: EqualOpportunities,
    pub coproducer: Option<CoproducerRecord>,
    pub conflicts_of_interest: Vec<ConflictRecord>,
    pub applications: Vec<ApplicationRecord>,
    pub review_panels: Vec<String>,
    pub reviews_you_wrote: Vec<ReviewWritten>,
    pub work_invitations: Vec<WorkInvitation>,
    pub assignments: Vec<AssignmentRecord>,
    /// Your claims for time and expenses.
    pub claims: Vec<ClaimRecord>,
    pub partner_requests_you_sent: Vec<RequestRecord>,
    pub emails_to_you: Vec<EmailRecord>,
    /// Every time someone else read your access needs, lived experience or equal-opportunities answers.
    pub who_read_your_sensitive_information: Vec<ReadOfYourData>,
    /// Every time you read someone else's sensitive information (whose is left out).
    pub sensitive_information_you_read: Vec<ReadByYou>,
    pub repeat_request_keys: Vec<RepeatKey>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AboutExport {
    pub generated_at: DateTime<Utc>,
    pub account_id: String,
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Account {
    pub email: String,
    pub full_name: String,
    pub preferred_name: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub email_confirmed_at: Option<DateTime<Utc>>,
    /// Whether you set a password (the password itself is never stored, only a one-way hash).
    pub has_password: bool,
    pub roles: Vec<RoleGrant>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleGrant {
    pub role: String,
    pub granted_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailPreferences {
    pub format: String,
    pub digest: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignIns {
    pub sessions: Vec<SessionRecord>,
    pub sign_in_links: Vec<SignInLinkRecord>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionRecord {
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_because: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignInLinkRecord {
    pub sent_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JoinInvitation {
    pub role: String,
    pub organisation: Option<String>,
    pub sent_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CoproducerRecord {
    pub status: String,
    pub paused_until: Option<DateTime<Utc>>,
    pub archived_reason: Option<String>,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictRecord {
    pub organisation: Option<String>,
    pub note: Option<String>,
    pub declared_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationRecord {
    pub id: String,
    pub round: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub answer_by: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub feedback: Option<String>,
    #[schema(value_type = Object)]
    pub consents: serde_json::Value,
    pub answers: Vec<AnswerRecord>,
    pub history: Vec<HistoryRecord>,
    /// Scores and notes from reviewers; who reviewed is not shown.
    pub reviews: Vec<ReviewOfYou>,
    /// When the answers and notes were removed (by the retention rules), if they were.
    pub content_removed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnswerRecord {
    pub question: String,
    pub answer: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryRecord {
    pub from: Option<String>,
    pub to: String,
    /// `you`, `staff`, or `the service` (a booking from the waiting list).
    pub by: String,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewOfYou {
    pub question: String,
    pub score: i32,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewWritten {
    pub round: String,
    pub written_at: DateTime<Utc>,
    pub scores: Vec<ScoreGiven>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreGiven {
    pub question: String,
    pub score: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkInvitation {
    pub project: Option<String>,
    pub element: Option<String>,
    pub status: String,
    /// When it was last sent.
    pub invited_at: DateTime<Utc>,
    /// Every time it was sent, oldest first (more than once when sent again after running out;
    /// sendings before 2026-12-10 show only the latest).
    pub sendings: Vec<DateTime<Utc>>,
    pub respond_by: DateTime<Utc>,
    pub responded_at: Option<DateTime<Utc>>,
    pub score: f64,
    /// Why you were suggested, factor by factor, as recorded when you were invited (empty once
    /// removed).
    #[schema(value_type = Vec<crate::matching::score::Factor>)]
    pub why_you_were_suggested: Vec<serde_json::Value>,
    pub message: Option<String>,
    pub your_reason_for_declining: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentRecord {
    pub project: Option<String>,
    pub element: Option<String>,
    pub status: String,
    pub since: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every step, with the note (your reason for leaving, or a coordinator's words about it).
    pub history: Vec<HistoryRecord>,
    /// What was arranged for your access needs on this booking, by need.
    pub arranged_for_your_access_needs: BTreeMap<String, Arrangement>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimRecord {
    pub project: Option<String>,
    pub element: Option<String>,
    pub minutes_worked: i32,
    pub fee_pence: i64,
    pub expenses_pence: i64,
    pub expenses_note: Option<String>,
    pub your_note: Option<String>,
    pub status: String,
    pub coordinators_note: Option<String>,
    pub made_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestRecord {
    pub title: String,
    pub status: String,
    pub sent_at: DateTime<Utc>,
    /// Every step of the request, with the coordinators' notes.
    pub history: Vec<RequestStep>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestStep {
    pub status: String,
    /// `you` or `staff`.
    pub by: String,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailRecord {
    pub kind: String,
    pub subject: String,
    pub status: String,
    pub queued_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadOfYourData {
    /// A coordinator's or administrator's name; for anyone else (a reviewer, a partner) only
    /// their role, as reviewing is anonymous both ways; `Deleted account` for a reader who has
    /// since deleted their account.
    pub who: String,
    pub their_roles: Vec<String>,
    pub what: String,
    pub when: DateTime<Utc>,
    pub through: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadByYou {
    pub what: String,
    pub when: DateTime<Utc>,
    pub through: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RepeatKey {
    pub key: String,
    pub request: String,
    pub stored_at: DateTime<Utc>,
}

const NOTE: &str = "Everything coproduce holds about you. Your access needs, lived experience and \
equal-opportunities answers are stored encrypted and shown here in full. Password and sign-in \
secrets are never included, nor anything that names other people. To have your account deleted, \
use DELETE /api/v1/me.";

/// Download everything held about you, as a JSON file.
#[utoipa::path(tag = "me", security(("bearer" = [])), responses(
    (status = 200, body = Export, description = "A JSON file (Content-Disposition: attachment)"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
#[get("/export")]
pub async fn export(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, AppError> {
    let app = state.clone();
    let export = state
        .db
        .read(move |conn| gather(conn, &app, &user.id))
        .await?;
    let body = serde_json::to_vec_pretty(&export).map_err(internal)?;
    let filename = format!(
        "coproduce-export-{}.json",
        export.about_this_export.generated_at.format("%Y-%m-%d")
    );
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(body))
}

fn gather(conn: &mut DbConn, state: &AppState, user_id: &str) -> Result<Export, AppError> {
    let me = users::find_by_id(conn, user_id)?.ok_or(AppError::NotFound)?;
    let mut titles = Titles::default();

    let account = Account {
        email: me.email.clone(),
        full_name: me.full_name.clone(),
        preferred_name: me.preferred_name.clone(),
        status: me.status.clone(),
        created_at: utc(me.created_at),
        updated_at: utc(me.updated_at),
        email_confirmed_at: me.email_verified_at.map(utc),
        has_password: me.password_hash.is_some(),
        roles: privacy::role_grants(conn, user_id)?
            .into_iter()
            .map(|(role, at)| RoleGrant {
                role,
                granted_at: utc(at),
            })
            .collect(),
    };
    let sign_ins = SignIns {
        sessions: privacy::sessions_of(conn, user_id)?
            .into_iter()
            .map(|s| SessionRecord {
                started_at: utc(s.created_at),
                ended_at: s.revoked_at.map(utc),
                ended_because: s.revoked_reason,
            })
            .collect(),
        sign_in_links: privacy::sign_in_links_of(conn, user_id)?
            .into_iter()
            .map(|(sent, expires, used)| SignInLinkRecord {
                sent_at: utc(sent),
                expires_at: utc(expires),
                used_at: used.map(utc),
            })
            .collect(),
    };
    let mut invitations_to_join = Vec::new();
    for (role, organisation, sent, expires, accepted) in
        privacy::staff_invitations_to(conn, &me.email)?
    {
        invitations_to_join.push(JoinInvitation {
            role,
            organisation: titles.organisation(conn, organisation.as_deref())?,
            sent_at: utc(sent),
            expires_at: utc(expires),
            accepted_at: accepted.map(utc),
        });
    }
    let mut member_of = Vec::new();
    for id in partnership::memberships(conn, user_id)? {
        member_of.extend(titles.organisation(conn, Some(&id))?);
    }

    let profile = super::profile::load(conn, state, user_id)?;
    let access_passport = match people::access_passport_of(conn, user_id)? {
        Some(ciphertext) => Some(
            state
                .cipher
                .decrypt_json(user_id, Field::AccessPassport, &ciphertext)
                .map_err(internal)?,
        ),
        None => None,
    };
    let equal_opportunities = match people::equal_opportunities_of(conn, user_id)? {
        Some(ciphertext) => state
            .cipher
            .decrypt_json(user_id, Field::EqualOpportunities, &ciphertext)
            .map_err(internal)?,
        None => EqualOpportunities::new(),
    };
    let coproducer = privacy::coproducer_of(conn, user_id)?.map(
        |(status, paused_until, archived_reason, joined)| CoproducerRecord {
            status,
            paused_until: paused_until.map(utc),
            archived_reason,
            joined_at: utc(joined),
        },
    );
    let mut conflicts_of_interest = Vec::new();
    for (organisation, note, declared) in partnership::conflicts_of(conn, user_id)? {
        conflicts_of_interest.push(ConflictRecord {
            organisation: titles.organisation(conn, Some(&organisation))?,
            note,
            declared_at: utc(declared),
        });
    }

    let mut applications = Vec::new();
    for a in recruitment::applications_of_user(conn, user_id)? {
        let round = recruitment::find_round(conn, &a.round_id)?
            .map(|r| r.title)
            .unwrap_or_default();
        let history = recruitment::history(conn, &a.id)?
            .into_iter()
            .map(|t| HistoryRecord {
                from: t.from_status,
                to: t.to_status,
                by: by_whom(&t.actor_id, user_id),
                at: utc(t.at),
                note: t.note,
            })
            .collect();
        applications.push(ApplicationRecord {
            round,
            status: a.status,
            started_at: utc(a.created_at),
            submitted_at: a.submitted_at.map(utc),
            decided_at: a.decided_at.map(utc),
            answer_by: a.answer_by.map(utc),
            outcome: a.outcome,
            feedback: a.feedback,
            consents: serde_json::from_str(&a.consents).unwrap_or(serde_json::Value::Null),
            answers: privacy::answers_with_prompts(conn, &a.id)?
                .into_iter()
                .map(|(question, answer)| AnswerRecord { question, answer })
                .collect(),
            history,
            reviews: privacy::reviews_of_application(conn, &a.id)?
                .into_iter()
                .map(|(question, score, note)| ReviewOfYou {
                    question,
                    score,
                    note,
                })
                .collect(),
            content_removed_at: privacy::content_removed_at(conn, &a.id)?.map(utc),
            id: a.id,
        });
    }
    let review_panels = recruitment::rounds_reviewed_by(conn, user_id)?
        .into_iter()
        .map(|r| r.title)
        .collect();
    let reviews_you_wrote = privacy::reviews_written_by(conn, user_id)?
        .into_iter()
        .map(|(round, at, scores)| ReviewWritten {
            round,
            written_at: utc(at),
            scores: scores
                .into_iter()
                .map(|(question, score)| ScoreGiven { question, score })
                .collect(),
        })
        .collect();

    let mut work_invitations = Vec::new();
    for i in matching::invitations_of_user(conn, user_id)? {
        let (project, element) = titles.element(conn, &i.element_id)?;
        let why_you_were_suggested = why_suggested(state, &i)?;
        work_invitations.push(WorkInvitation {
            project,
            element,
            invited_at: utc(i.created_at),
            sendings: matching::sendings_of(conn, &i.id)?
                .into_iter()
                .map(utc)
                .collect(),
            status: i.status,
            respond_by: utc(i.respond_by),
            responded_at: i.responded_at.map(utc),
            score: f64::from(i.score_hundredths) / 100.0,
            why_you_were_suggested,
            message: i.message,
            your_reason_for_declining: i.decline_reason,
        });
    }
    let mut assignments = Vec::new();
    for a in matching::assignments_of_user(conn, user_id)? {
        let (project, element) = titles.element(conn, &a.element_id)?;
        let history = matching::assignment_events(conn, &a.id)?
            .into_iter()
            .map(|(_, from, to, actor, note, at)| HistoryRecord {
                from,
                to,
                by: by_whom(&actor, user_id),
                at: utc(at),
                note,
            })
            .collect();
        assignments.push(AssignmentRecord {
            project,
            element,
            status: a.status,
            since: utc(a.created_at),
            updated_at: utc(a.updated_at),
            history,
            arranged_for_your_access_needs: arrangements_of(conn, state, &a.id)?,
        });
    }
    let mut claims_made = Vec::new();
    for c in claims::of_user(conn, user_id)? {
        let element_id = matching::find_assignment(conn, &c.assignment_id)?
            .map(|a| a.element_id)
            .unwrap_or_default();
        let (project, element) = titles.element(conn, &element_id)?;
        claims_made.push(ClaimRecord {
            project,
            element,
            minutes_worked: c.minutes_worked,
            fee_pence: c.fee_pence,
            expenses_pence: c.expenses_pence,
            expenses_note: c.expenses_note,
            your_note: c.note,
            status: c.status,
            coordinators_note: c.decision_note,
            made_at: utc(c.created_at),
            decided_at: c.decided_at.map(utc),
            paid_at: c.paid_at.map(utc),
        });
    }
    let mut partner_requests_you_sent = Vec::new();
    for (id, title, status, sent) in privacy::requests_sent_by(conn, user_id)? {
        let history = partnership::request_events(conn, &id)?
            .into_iter()
            .map(|(status, actor, note, at)| RequestStep {
                status,
                by: by_whom(&actor, user_id),
                at: utc(at),
                note,
            })
            .collect();
        partner_requests_you_sent.push(RequestRecord {
            title,
            status,
            sent_at: utc(sent),
            history,
        });
    }
    let emails_to_you = privacy::emails_to(conn, user_id, &me.email)?
        .into_iter()
        .map(|(kind, subject, status, queued, sent)| EmailRecord {
            kind,
            subject,
            status,
            queued_at: utc(queued),
            sent_at: sent.map(utc),
        })
        .collect();

    let mut readers: HashMap<String, (String, Vec<String>)> = HashMap::new();
    let mut who_read = Vec::new();
    for row in audit::reads_of(conn, user_id)? {
        if !readers.contains_key(&row.actor_id) {
            let roles = users::roles_of(conn, &row.actor_id)?;
            // Staff are named; reviewers and partners stay anonymous, as in reviewing itself.
            let staff = roles.contains(&Role::Coordinator) || roles.contains(&Role::Admin);
            let name = match users::find_by_id(conn, &row.actor_id)? {
                // Their roles went with the account: say so rather than "former member of staff".
                Some(reader) if reader.status == privacy::ERASED => {
                    privacy::ERASED_NAME.to_string()
                }
                Some(reader) if staff => reader.full_name,
                Some(_) => format!(
                    "a {}",
                    roles
                        .first()
                        .map_or("former member of staff", |r| r.as_str())
                ),
                None => privacy::ERASED_NAME.to_string(),
            };
            let roles = roles.iter().map(|r| r.as_str().to_string()).collect();
            readers.insert(row.actor_id.clone(), (name, roles));
        }
        let (who, their_roles) = readers.get(&row.actor_id).cloned().unwrap_or_default();
        who_read.push(ReadOfYourData {
            who,
            their_roles,
            what: describe_data(&row.data),
            when: utc(row.at),
            through: row.route,
        });
    }
    let sensitive_information_you_read = privacy::reads_made_by(conn, user_id)?
        .into_iter()
        .map(|(data, route, at)| ReadByYou {
            what: describe_data(&data),
            when: utc(at),
            through: route,
        })
        .collect();
    let repeat_request_keys = privacy::idempotency_keys_of(conn, user_id)?
        .into_iter()
        .map(|(key, request, at)| RepeatKey {
            key,
            request,
            stored_at: utc(at),
        })
        .collect();

    Ok(Export {
        about_this_export: AboutExport {
            generated_at: Utc::now(),
            account_id: me.id.clone(),
            note: NOTE.into(),
        },
        account,
        email_preferences: EmailPreferences {
            format: me.email_format,
            digest: me.email_digest,
        },
        sign_ins,
        invitations_to_join,
        organisations: member_of,
        profile,
        access_passport,
        equal_opportunities,
        coproducer,
        conflicts_of_interest,
        applications,
        review_panels,
        reviews_you_wrote,
        work_invitations,
        assignments,
        claims: claims_made,
        partner_requests_you_sent,
        emails_to_you,
        who_read_your_sensitive_information: who_read,
        sensitive_information_you_read,
        repeat_request_keys,
    })
}

/// The plain-English name of an audited kind of data.
/// Who made a step, without naming staff: `you`, `the service` or `staff`.
fn by_whom(actor: &str, user_id: &str) -> String {
    match actor {
        _ if actor == user_id => "you",
        SERVICE_ACTOR => "the service",
        _ => "staff",
    }
    .into()
}

fn describe_data(code: &str) -> String {
    match code {
        "access_passport" => "access needs (access passport)",
        "lived_experience" => "lived experience",
        "equal_opportunities" => "equal-opportunities answers",
        other => other,
    }
    .to_string()
}

/// Names of organisations, projects and elements, looked up once each.
#[derive(Default)]
struct Titles {
    organisations: HashMap<String, Option<String>>,
    elements: HashMap<String, (Option<String>, Option<String>)>,
}

impl Titles {
    fn organisation(
        &mut self,
        conn: &mut DbConn,
        id: Option<&str>,
    ) -> Result<Option<String>, AppError> {
        let Some(id) = id else { return Ok(None) };
        if let Some(name) = self.organisations.get(id) {
            return Ok(name.clone());
        }
        let name = organisations::name_of(conn, id)?;
        self.organisations.insert(id.to_string(), name.clone());
        Ok(name)
    }

    /// (project title, element title).
    fn element(
        &mut self,
        conn: &mut DbConn,
        id: &str,
    ) -> Result<(Option<String>, Option<String>), AppError> {
        if let Some(found) = self.elements.get(id) {
            return Ok(found.clone());
        }
        let found = match partnership::find_element(conn, id)? {
            Some(row) => {
                let project = partnership::find_project(conn, &row.project_id)?.map(|p| p.title);
                let element = crate::routes::matching::spec_of(&row).ok().map(|s| s.title);
                (project, element)
            }
            None => (None, None),
        };
        self.elements.insert(id.to_string(), found.clone());
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audited_data_kinds_read_as_plain_english() {
        assert_eq!(
            describe_data("access_passport"),
            "access needs (access passport)"
        );
        assert_eq!(describe_data("lived_experience"), "lived experience");
        assert_eq!(
            describe_data("equal_opportunities"),
            "equal-opportunities answers"
        );
    }
}
