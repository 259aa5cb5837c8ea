//! Invitations and assignments. Accepting counts seats under the element's lock, so however
//! many accept at once, an element never has more confirmed people than seats, and one
//! invitation never makes two assignments (a unique key backs this up).

use std::collections::HashMap;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::assignments::{book, booking_email, settle_element, tell_invitation_lapsed};
use super::{cannot_take, load_candidates, load_element, open, spec_of};
use crate::auth::AuthUser;
use crate::crypto::Field;
use crate::db::DbConn;
use crate::db::models::matching::InvitationRow;
use crate::db::queries::matching::Pool;
use crate::db::queries::{
    audit, matching as queries, outbox as outbox_queries, partnership, users,
};
use crate::domain::Invalid;
use crate::domain::partnership::{CoproducerStatus, ElementSpec, ElementStatus};
use crate::domain::role::Role;
use crate::domain::{pounds_an_hour, uk_time};
use crate::email::{Email, Recipient};
use crate::error::{AppError, FieldError, Problem};
use crate::matching::adjustments::{Adjustment, AdjustmentStatus, adjustments};
use crate::matching::score::{Exclusion, exclusion, score};
use crate::routes::extract::{FieldErrors, OptionalJson, Query, ValidJson, Validate};
use crate::routes::pagination::{Page, PageQuery};
use crate::state::AppState;

const INVITE_ROUTE: &str = "POST /api/v1/elements/{id}/invitations";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteInput {
    #[schema(min_items = 1)]
    pub coproducer_ids: Vec<String>,
    /// When they must answer by.
    pub respond_by: DateTime<Utc>,
    /// A personal note, included in each email.
    #[schema(max_length = 2000)]
    pub message: Option<String>,
}

impl Validate for InviteInput {
    type Valid = Self;

    fn validate(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        if self.coproducer_ids.is_empty() {
            errors.add(
                "coproducer_ids",
                Invalid::new("required", "Choose at least one person to invite."),
            );
        }
        if self.respond_by <= Utc::now() {
            errors.add(
                "respond_by",
                Invalid::new(
                    "in_the_past",
                    "Give people time to answer: choose a time in the future.",
                ),
            );
        }
        errors.optional_text("message", self.message.as_deref(), 2000);
        errors.finish(self)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub element_id: String,
    pub coproducer_id: String,
    /// `invited`, `accepted`, `waitlisted`, `declined` or `expired`.
    pub status: String,
    pub respond_by: DateTime<Utc>,
    /// The score when invited.
    pub score: f64,
    pub created_at: DateTime<Utc>,
}

impl From<InvitationRow> for InvitationView {
    fn from(row: InvitationRow) -> Self {
        Self {
            id: row.id,
            element_id: row.element_id,
            coproducer_id: row.coproducer_id,
            status: row.status,
            respond_by: row.respond_by.and_utc(),
            score: f64::from(row.score_hundredths) / 100.0,
            created_at: row.created_at.and_utc(),
        }
    }
}

/// Invite chosen co-producers to an element. Each is emailed why they were suggested, what it
/// involves, the pay, and the access adjustments already planned for them.
#[utoipa::path(tag = "matching", security(("bearer" = [])), params(("id" = String, Path)), request_body = InviteInput, responses(
    (status = 201, body = Vec<InvitationView>),
    (status = 403, description = "Coordinators only", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The element is not open", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Someone cannot take the element (the reason is named), or was invited already (an invitation that ran out may be sent again)", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/invitations")]
pub async fn invite(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<InviteInput>,
) -> Result<HttpResponse, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let input = body.0;
    let app = state.clone();
    let created = state
        .db
        .write(move |conn| {
            let row = partnership::find_element(conn, &id)?.ok_or(AppError::NotFound)?;
            if !open(&row) {
                return Err(AppError::conflict(
                    "element_not_open",
                    format!(
                        "This element is {}, so nobody can be invited to it.",
                        row.status.replace('_', " ")
                    ),
                ));
            }
            let project =
                partnership::find_project(conn, &row.project_id)?.ok_or(AppError::NotFound)?;
            let mut element = load_element(conn, &row)?;
            let spec = spec_of(&row)?;
            let now = Utc::now().naive_utc();
            // Held before the pool is read: an erasure running now finishes first (and they
            // are no longer in the pool), or waits, so nobody erased is sent an invitation.
            let active = users::hold_those_active(conn, &input.coproducer_ids)?;
            // Their bookings next, in id order, as accept and archive take them (before the
            // element): someone archived at this moment is seen as out of the pool, or their
            // archive waits for this invitation and then closes it.
            let mut invitees: Vec<&String> = active.iter().collect();
            invitees.sort();
            for person in invitees {
                queries::hold_bookings_of(conn, person)?;
            }
            // Accounts first, then the element (as an erasure and a cancellation take them):
            // an element cancelled meanwhile takes no invitation it would never close.
            queries::lock_element(conn, &row.id)?;
            let still = partnership::find_element(conn, &row.id)?.ok_or(AppError::NotFound)?;
            if !open(&still) {
                return Err(AppError::conflict(
                    "element_not_open",
                    format!(
                        "This element is {}, so nobody can be invited to it.",
                        still.status.replace('_', " ")
                    ),
                ));
            }
            let pool = load_candidates(conn, &app, now, Pool::Only(&input.coproducer_ids))?;
            // An invitation that ran out is sent again as the same invitation, also one whose
            // time passed before the hourly job marked it.
            let mut lapsed: HashMap<String, String> = HashMap::new();
            for invitation in queries::invitations_of_element(conn, &row.id)? {
                let listed = input.coproducer_ids.contains(&invitation.coproducer_id);
                let ran_out = invitation.status == "expired"
                    || (listed && queries::expire_if_due(conn, &invitation.id, now)?);
                if ran_out {
                    element.already_on.remove(&invitation.coproducer_id);
                    lapsed.insert(invitation.coproducer_id, invitation.id);
                }
            }
            let mut errors = FieldErrors::default();
            let mut invitations = Vec::new();
            for (i, coproducer_id) in input.coproducer_ids.iter().enumerate() {
                let field = format!("coproducer_ids[{i}]");
                let in_pool = pool
                    .iter()
                    .find(|c| &c.id == coproducer_id && active.contains(&c.id));
                let Some(candidate) = in_pool else {
                    errors.add(
                        &field,
                        Invalid::new(
                            "not_a_coproducer",
                            "This person is not in the co-producer pool.",
                        ),
                    );
                    continue;
                };
                if let Some(reason) = exclusion(candidate, &element) {
                    errors.add(
                        &field,
                        Invalid::new(
                            reason.code(),
                            format!(
                                "{} cannot take this element: {}.",
                                candidate.display_name,
                                explain(reason.code())
                            ),
                        ),
                    );
                    continue;
                }
                if invitations
                    .iter()
                    .any(|(inv, _): &(InvitationRow, _)| &inv.coproducer_id == coproducer_id)
                {
                    errors.add(
                        &field,
                        Invalid::new("duplicate", "This person is listed twice."),
                    );
                    continue;
                }
                let (total, breakdown) = score(candidate, &element, &app.settings.matching.weights);
                let id = lapsed
                    .get(&candidate.id)
                    .cloned()
                    .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
                let sealed_breakdown = app
                    .cipher
                    .encrypt_json(&id, Field::InvitationReasons, &breakdown)
                    .map_err(|e| AppError::Internal(anyhow::anyhow!("sealing reasons: {e}")))?;
                let invitation = InvitationRow {
                    id,
                    element_id: row.id.clone(),
                    coproducer_id: candidate.id.clone(),
                    status: "invited".into(),
                    respond_by: input.respond_by.naive_utc(),
                    message: input
                        .message
                        .clone()
                        .map(|m| m.trim().to_string())
                        .filter(|m| !m.is_empty()),
                    score_hundredths: (total * 100.0).round() as i32,
                    breakdown: "[]".into(),
                    invited_by: user.id.clone(),
                    decline_reason: None,
                    created_at: now,
                    responded_at: None,
                    sealed_breakdown: Some(sealed_breakdown),
                };
                let planned = adjustments(&candidate.needs, &element, &app.catalogue);
                invitations.push((invitation, (breakdown, planned)));
            }
            errors.finish(()).map_err(AppError::Validation)?;
            // Each invitation shows the coordinator its score reasons, lived experience among them.
            let invitees: Vec<String> = invitations
                .iter()
                .map(|(invitation, _)| invitation.coproducer_id.clone())
                .collect();
            audit::record_reads(
                conn,
                &user.id,
                &invitees,
                Field::LivedExperience,
                INVITE_ROUTE,
            )?;
            let mut views = Vec::new();
            for (invitation, (breakdown, planned)) in invitations {
                let stored = if lapsed.contains_key(&invitation.coproducer_id) {
                    queries::reopen_invitation(conn, &invitation)?
                } else {
                    queries::insert_invitation(conn, &invitation)?
                };
                if !stored {
                    return Err(AppError::conflict(
                        "already_invited",
                        "Someone on the list was invited meanwhile. Reload and try again.",
                    ));
                }
                let person = users::find_by_id(conn, &invitation.coproducer_id)?
                    .ok_or(AppError::NotFound)?;
                let email = Email::ElementInvitation {
                    name: person.display_name().to_string(),
                    project_title: project.title.clone(),
                    element_title: spec.title.clone(),
                    description: spec.description.clone(),
                    reasons: breakdown
                        .iter()
                        .filter(|f| f.points > 0.0)
                        .map(|f| f.reason.clone())
                        .collect(),
                    pay: pounds_an_hour(spec.pay_rate_pence_per_hour),
                    hours: spec.hours_estimate,
                    sessions: session_lines(&spec),
                    adjustments: planned.iter().map(|a| adjustment_line(a, &app)).collect(),
                    respond_by: uk_time::moment(input.respond_by.naive_utc()),
                    message: invitation.message.clone().unwrap_or_default(),
                    link: app
                        .settings
                        .server
                        .link(&format!("/invitations/{}", invitation.id)),
                };
                app.outbox
                    .enqueue(conn, &Recipient::user(&person), &email)?;
                views.push(InvitationView::from(invitation));
            }
            Ok(views)
        })
        .await?;
    state.outbox.wake();
    Ok(HttpResponse::Created().json(created))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AssignmentRef {
    pub id: String,
    /// `confirmed`.
    pub status: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AcceptResult {
    /// `accepted` (with the assignment) or `waitlisted` (every seat was taken).
    pub status: String,
    pub assignment: Option<AssignmentRef>,
}

enum Acceptance {
    Confirmed(String),
    Waitlisted,
    Expired,
}

/// Accept an invitation: a confirmed place while seats remain, otherwise the waiting list.
#[utoipa::path(tag = "matching", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = AcceptResult),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`invitation_expired`, `invitation_closed` (closed before its date), already answered, the element closed, `not_in_pool` (archived), or a hard constraint it no longer meets (`session_clash`, `no_capacity`, `earnings_limit`, `mode_mismatch`, `conflict_of_interest`): the invitation stays open", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/accept")]
pub async fn accept(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<web::Json<AcceptResult>, AppError> {
    let app = state.clone();
    let outcome = state
        .db
        .write(move |conn| {
            user.still_signed_in(conn)?;
            // Before the element: two answers of theirs at once take turns, and the second sees
            // the first's booking (`cannot_take`).
            queries::hold_bookings_of(conn, &user.id)?;
            let invitation = own_invitation(conn, &user, &id)?;
            let now = Utc::now().naive_utc();
            // First: archiving closed their invitations, and "it ran out" would be wrong.
            refuse_if_archived(conn, &user.id)?;
            if invitation.status != "invited" {
                return Err(no_longer_open(conn, &invitation)?);
            }
            if now > invitation.respond_by {
                // Recorded even though the answer is an error.
                queries::respond(conn, &invitation.id, "invited", "expired", None, now)?;
                return Ok(Acceptance::Expired);
            }
            queries::lock_element(conn, &invitation.element_id)?;
            let element = partnership::find_element(conn, &invitation.element_id)?
                .ok_or(AppError::NotFound)?;
            if !matches!(
                ElementStatus::parse(&element.status),
                Some(ElementStatus::Open | ElementStatus::Filled)
            ) {
                return Err(AppError::conflict(
                    "element_closed",
                    "This element is no longer taking people.",
                ));
            }
            // Checked again: since the invitation they may have taken other work.
            let offered = load_element(conn, &element)?;
            if let Some(reason) = cannot_take(conn, &app, &offered, &user.id, now)? {
                return Err(AppError::conflict(
                    reason.code(),
                    cannot_take_message(reason),
                ));
            }
            let taken = queries::seats_taken(conn, &element.id)?;
            let acceptance = if taken < i64::from(element.people_needed) {
                if !queries::respond(conn, &invitation.id, "invited", "accepted", None, now)? {
                    return Err(already_answered(&invitation));
                }
                let assignment = book(conn, &invitation, &user.id, None, now)?;
                settle_element(conn, &element, now)?;
                Acceptance::Confirmed(assignment.id)
            } else {
                if !queries::respond(conn, &invitation.id, "invited", "waitlisted", None, now)? {
                    return Err(already_answered(&invitation));
                }
                Acceptance::Waitlisted
            };
            let outcome = if matches!(acceptance, Acceptance::Confirmed(_)) {
                "confirmed"
            } else {
                "waitlisted"
            };
            let person = users::find_by_id(conn, &user.id)?.ok_or(AppError::NotFound)?;
            booking_email(conn, &app, &person, &element, outcome, now)?;
            Ok(acceptance)
        })
        .await?;
    state.outbox.wake();
    match outcome {
        Acceptance::Confirmed(id) => Ok(web::Json(AcceptResult {
            status: "accepted".into(),
            assignment: Some(AssignmentRef {
                id,
                status: "confirmed".into(),
            }),
        })),
        Acceptance::Waitlisted => Ok(web::Json(AcceptResult {
            status: "waitlisted".into(),
            assignment: None,
        })),
        Acceptance::Expired => Err(expired()),
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineInput {
    /// Optional, and never held against you.
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

impl Validate for DeclineInput {
    type Valid = Self;

    fn validate(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.optional_text("reason", self.reason.as_deref(), 2000);
        errors.finish(self)
    }
}

/// Say no to an invitation, with a reason if you like (the body may be left out); also takes
/// you off the waiting list. After `respond_by` an unanswered invitation has expired (409).
#[utoipa::path(tag = "matching", security(("bearer" = [])), params(("id" = String, Path)), request_body = Option<DeclineInput>, responses(
    (status = 200, body = InvitationView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`invitation_expired`, `invitation_closed` (closed before its date), or already answered", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/decline")]
pub async fn decline(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: OptionalJson<DeclineInput>,
) -> Result<web::Json<InvitationView>, AppError> {
    let reason = body
        .0
        .and_then(|input| input.reason)
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let declined = state
        .db
        .write(move |conn| {
            user.still_signed_in(conn)?;
            let invitation = own_invitation(conn, &user, &id)?;
            let now = Utc::now().naive_utc();
            if invitation.status == "invited" && now > invitation.respond_by {
                // Recorded even though the answer is an error.
                queries::respond(conn, &invitation.id, "invited", "expired", None, now)?;
                return Ok(None);
            }
            // Saying no before answering, or leaving the waiting list.
            let mut declined = false;
            for from in ["invited", "waitlisted"] {
                if !declined {
                    declined = queries::respond(
                        conn,
                        &invitation.id,
                        from,
                        "declined",
                        reason.as_deref(),
                        now,
                    )?;
                }
            }
            if !declined {
                return Err(no_longer_open(conn, &invitation)?);
            }
            let row = queries::find_invitation(conn, &invitation.id)?.ok_or(AppError::NotFound)?;
            Ok(Some(InvitationView::from(row)))
        })
        .await?;
    declined.map(web::Json).ok_or_else(expired)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MyInvitation {
    #[serde(flatten)]
    pub invitation: InvitationView,
    pub element_title: String,
}

/// Your invitations, oldest first; `GET /invitations/{id}` tells what each is for.
#[utoipa::path(tag = "me", security(("bearer" = [])), params(PageQuery), responses((status = 200, body = Page<MyInvitation>)))]
#[get("/invitations")]
pub async fn my_invitations(
    state: web::Data<AppState>,
    user: AuthUser,
    page: Query<PageQuery>,
) -> Result<web::Json<Page<MyInvitation>>, AppError> {
    let page = state
        .db
        .read(move |conn| {
            let rows = queries::invitations_of_user(conn, &user.id)?;
            Page::of(rows, &page, |i| i.id.clone())?.try_map(|row| {
                let element =
                    partnership::find_element(conn, &row.element_id)?.ok_or(AppError::NotFound)?;
                Ok::<_, AppError>(MyInvitation {
                    element_title: spec_of(&element)?.title,
                    invitation: InvitationView::from(row),
                })
            })
        })
        .await?;
    Ok(web::Json(page))
}

fn own_invitation(conn: &mut DbConn, user: &AuthUser, id: &str) -> Result<InvitationRow, AppError> {
    queries::find_invitation(conn, id)?
        .filter(|i| i.coproducer_id == user.id)
        .ok_or(AppError::NotFound)
}

/// Someone taken out of the pool cannot take up work offered before, whatever the reason was.
/// A pause is the person's own choice, so accepting while paused is theirs to make.
fn refuse_if_archived(conn: &mut DbConn, user_id: &str) -> Result<(), AppError> {
    let archived = queries::coproducer_status(conn, user_id)?
        .is_none_or(|(status, _)| status == CoproducerStatus::Archived.as_str());
    if archived {
        return Err(AppError::conflict(
            "not_in_pool",
            "You are no longer in the pool of co-producers, so you cannot accept this invitation. \
             If you think this is a mistake, please contact the coordinators.",
        ));
    }
    Ok(())
}

fn expired() -> AppError {
    AppError::conflict(
        "invitation_expired",
        "The time to answer this invitation has passed.",
    )
}

/// 409 for an invitation that no longer takes an answer, saying why: its element was cancelled
/// or started (that lapsed it, not the person's time running out), or it was answered or ran out.
fn no_longer_open(conn: &mut DbConn, invitation: &InvitationRow) -> Result<AppError, AppError> {
    let element = partnership::find_element(conn, &invitation.element_id)?;
    let status = element.and_then(|e| ElementStatus::parse(&e.status));
    Ok(match status {
        Some(ElementStatus::Cancelled) => AppError::conflict(
            "element_cancelled",
            "This element was cancelled, so the invitation no longer stands.",
        ),
        Some(next @ (ElementStatus::InProgress | ElementStatus::Completed))
            if invitation.status == "expired" =>
        {
            let done = if next == ElementStatus::InProgress {
                "started"
            } else {
                "finished"
            };
            AppError::conflict(
                "element_closed",
                format!(
                    "This element has {done}, so it is not taking anyone else and the invitation no longer stands."
                ),
            )
        }
        _ => already_answered(invitation),
    })
}

fn already_answered(invitation: &InvitationRow) -> AppError {
    if invitation.status == "expired" {
        // Before its answer-by date, it was closed (their place in the pool archived), not run
        // out; after it, `invitation_expired` as API.md has it.
        let closed_early = invitation
            .responded_at
            .is_some_and(|closed| closed < invitation.respond_by)
            && crate::db::now() <= invitation.respond_by;
        if closed_early {
            return AppError::conflict(
                "invitation_closed",
                "This invitation was closed before its answer-by date, so it cannot be answered now.",
            );
        }
        return expired();
    }
    AppError::conflict(
        "already_answered",
        format!("This invitation is already {}.", invitation.status),
    )
}

pub(super) fn session_lines(spec: &ElementSpec) -> Vec<String> {
    spec.sessions
        .iter()
        .map(|s| uk_time::session(s.starts_at.naive_utc(), s.ends_at.naive_utc()))
        .collect()
}

fn adjustment_line(adjustment: &Adjustment, state: &AppState) -> String {
    let label = state
        .catalogue
        .access_need(&adjustment.need)
        .map_or(adjustment.need.clone(), |n| n.label.clone());
    match (&adjustment.status, &adjustment.action) {
        (AdjustmentStatus::Met, _) => format!("{label}: already in place."),
        (AdjustmentStatus::ToArrange, Some(action)) => format!("{label}: {action}."),
        (AdjustmentStatus::ToArrange, None) => format!("{label}: we will arrange it."),
        (AdjustmentStatus::Arranged, _) => format!("{label}: arranged."),
    }
}

fn explain(code: &str) -> &'static str {
    match code {
        "already_on_element" => "they were already invited to it",
        "not_active" => "they are paused or archived",
        "mode_mismatch" => "they cannot take part in the way it runs (remote or in person)",
        "conflict_of_interest" => "they declared a conflict of interest with this organisation",
        "session_clash" => "its sessions clash with work they already have",
        "no_capacity" => "it needs more hours than they have left this month",
        "earnings_limit" => "the pay would take them over their earnings limit",
        _ => "it does not fit",
    }
}

/// Why the person invited cannot take the place now, and what they can do, said to them.
fn cannot_take_message(reason: Exclusion) -> String {
    let (why, what_to_do) = match reason {
        Exclusion::SessionClash => (
            "its sessions are at the same time as work you are already booked on",
            "If you would rather do this one, withdraw from the other booking first, then accept this invitation.",
        ),
        Exclusion::NoCapacity => (
            "it needs more hours in a month than you told us you can give, with the work you already have",
            "You can change your hours a month in your profile, then accept this invitation.",
        ),
        Exclusion::EarningsLimit => (
            "the pay would take you over the earnings limit you set to protect your benefits",
            "You can change your earnings limit in your profile, or reply to your invitation email to talk to us.",
        ),
        Exclusion::ModeMismatch => (
            "your profile says you cannot take part in the way it runs (online or in person)",
            "If that has changed, update your profile, then accept this invitation.",
        ),
        Exclusion::ConflictOfInterest => (
            "you told us you have a conflict of interest with the organisation it is for",
            "If that has changed, update your conflicts of interest, then accept this invitation.",
        ),
        Exclusion::AlreadyOnElement | Exclusion::NotActive => (
            "it no longer fits the work you can take",
            "Please reply to your invitation email and we will help.",
        ),
    };
    format!("You cannot take this place yet: {why}. {what_to_do} Your invitation is still open.")
}

/// Expires unanswered invitations and tells coordinators, element by element.
pub fn expire_invitations(
    conn: &mut DbConn,
    state: &AppState,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    // Before the invitations: an erasure under way ends first and is seen, and the next waits,
    // so each invitee can be told without holding their account first.
    outbox_queries::no_erasure_meanwhile(conn)?;
    // Accounts before the invitations, as an erasure takes them (see `users::staff`).
    let staff = users::staff(conn)?;
    let expired = queries::expire_due(conn, now)?;
    let mut by_element: std::collections::BTreeMap<String, usize> =
        std::collections::BTreeMap::new();
    for invitation in &expired {
        *by_element.entry(invitation.element_id.clone()).or_default() += 1;
    }
    for (element_id, count) in by_element {
        let Some(element) = partnership::find_element(conn, &element_id)? else {
            continue;
        };
        let title = spec_of(&element)?.title;
        for invitation in expired.iter().filter(|i| i.element_id == element_id) {
            tell_invitation_lapsed(
                conn,
                state,
                &invitation.coproducer_id,
                &title,
                "invited",
                "time_passed",
            )?;
        }
        for person in &staff {
            let email = Email::InvitationsExpired {
                name: person.display_name().to_string(),
                element_title: title.clone(),
                expired: count,
                link: state
                    .settings
                    .server
                    .link(&format!("/elements/{}", element_id)),
            };
            state
                .outbox
                .enqueue(conn, &Recipient::user(person), &email)?;
        }
    }
    Ok(expired.len())
}
