//! Organisations, partner requests, projects, elements and their sessions; conflicts of interest.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::models::partnership::{ElementRow, OutcomeRow, ProjectRow, RequestRow};
use crate::db::schema::{
    assignments, conflicts_of_interest, element_outcomes, element_sessions, elements, invitations,
    organisation_members, organisations, partner_requests, projects, request_events, users,
};
use crate::domain::partnership::ElementStatus;
use crate::per_backend;

pub type OrganisationRow = (String, String, String, String, NaiveDateTime);

pub fn insert_organisation(
    conn: &mut DbConn,
    id: &str,
    name: &str,
    kind: &str,
    contact_email: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(organisations::table)
        .values((
            organisations::id.eq(id),
            organisations::name.eq(name),
            organisations::kind.eq(kind),
            organisations::contact_email.eq(contact_email),
            organisations::created_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// The columns of an `OrganisationRow`, in its order.
const ORGANISATION_COLUMNS: (
    organisations::id,
    organisations::name,
    organisations::kind,
    organisations::contact_email,
    organisations::created_at,
) = (
    organisations::id,
    organisations::name,
    organisations::kind,
    organisations::contact_email,
    organisations::created_at,
);

pub fn list_organisations(
    conn: &mut DbConn,
    only: Option<&[String]>,
) -> QueryResult<Vec<OrganisationRow>> {
    let mut query = organisations::table
        .select(ORGANISATION_COLUMNS)
        .into_boxed();
    if let Some(ids) = only {
        query = query.filter(organisations::id.eq_any(ids.to_vec()));
    }
    query.order(organisations::id).load(conn)
}

/// What stands in an organisation's contact address when nobody is left to take it over (see
/// `privacy::erase_person`): `.invalid` can never be delivered, and the organisation shows
/// `contact_needed` until a coordinator sets a new address.
pub const NO_CONTACT_EMAIL: &str = "contact-needed@organisation.invalid";

pub fn find_organisation(conn: &mut DbConn, id: &str) -> QueryResult<Option<OrganisationRow>> {
    organisations::table
        .find(id)
        .select(ORGANISATION_COLUMNS)
        .first(conn)
        .optional()
}

/// [`find_organisation`], its row held shared until the transaction ends on PostgreSQL (an
/// erasure changing its contact address finishes first, or waits).
pub fn hold_organisation(conn: &mut DbConn, id: &str) -> QueryResult<Option<OrganisationRow>> {
    let DbConn::Postgres(pg) = conn else {
        return find_organisation(conn, id);
    };
    organisations::table
        .find(id)
        .select(ORGANISATION_COLUMNS)
        .for_share()
        .first(pg)
        .optional()
}

pub fn rename_organisation(conn: &mut DbConn, id: &str, name: &str) -> QueryResult<()> {
    diesel::update(organisations::table.find(id))
        .set(organisations::name.eq(name))
        .execute(conn)
        .map(drop)
}

/// Replaces the contact address only if it is still `old`; false when it had changed (someone
/// set a new one meanwhile, which stands).
pub fn replace_contact_email(
    conn: &mut DbConn,
    id: &str,
    old: &str,
    new: &str,
) -> QueryResult<bool> {
    let changed = diesel::update(
        organisations::table
            .find(id)
            .filter(organisations::contact_email.eq(old)),
    )
    .set(organisations::contact_email.eq(new))
    .execute(conn)?;
    Ok(changed == 1)
}

pub fn set_contact_email(conn: &mut DbConn, id: &str, contact_email: &str) -> QueryResult<()> {
    diesel::update(organisations::table.find(id))
        .set(organisations::contact_email.eq(contact_email))
        .execute(conn)
        .map(drop)
}

/// (id, name) of the organisations whose contact address is `email` (both are stored
/// lower-cased).
pub fn organisations_with_contact(
    conn: &mut DbConn,
    email: &str,
) -> QueryResult<Vec<(String, String)>> {
    organisations::table
        .filter(organisations::contact_email.eq(email.to_lowercase()))
        .order(organisations::id)
        .select((organisations::id, organisations::name))
        .load(conn)
}

/// The address of the organisation's longest-standing partner contact other than `except`
/// whose account is active.
pub fn other_contact_address(
    conn: &mut DbConn,
    organisation_id: &str,
    except: &str,
) -> QueryResult<Option<String>> {
    organisation_members::table
        .inner_join(users::table.on(users::id.eq(organisation_members::user_id)))
        .filter(organisation_members::organisation_id.eq(organisation_id))
        .filter(organisation_members::user_id.ne(except))
        .filter(users::status.eq("active"))
        .order((
            organisation_members::created_at,
            organisation_members::user_id,
        ))
        .select(users::email)
        .first(conn)
        .optional()
}

/// The organisation's partner contacts, by user id.
pub fn contacts_of(conn: &mut DbConn, organisation_id: &str) -> QueryResult<Vec<String>> {
    organisation_members::table
        .filter(organisation_members::organisation_id.eq(organisation_id))
        .order(organisation_members::user_id)
        .select(organisation_members::user_id)
        .load(conn)
}

/// Organisations the user is a partner contact of.
pub fn memberships(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<String>> {
    organisation_members::table
        .filter(organisation_members::user_id.eq(user_id))
        .order(organisation_members::organisation_id)
        .select(organisation_members::organisation_id)
        .load(conn)
}

pub fn organisation_exists(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(organisations::table.find(id))).get_result(conn)
}

pub fn insert_request(conn: &mut DbConn, row: &RequestRow) -> QueryResult<()> {
    diesel::insert_into(partner_requests::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

pub fn find_request(conn: &mut DbConn, id: &str) -> QueryResult<Option<RequestRow>> {
    partner_requests::table
        .find(id)
        .select(RequestRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_requests(
    conn: &mut DbConn,
    organisations: Option<&[String]>,
    status: Option<&str>,
) -> QueryResult<Vec<RequestRow>> {
    let mut query = partner_requests::table
        .select(RequestRow::as_select())
        .into_boxed();
    if let Some(ids) = organisations {
        query = query.filter(partner_requests::organisation_id.eq_any(ids.to_vec()));
    }
    if let Some(status) = status {
        query = query.filter(partner_requests::status.eq(status.to_string()));
    }
    query.order(partner_requests::id).load(conn)
}

/// Replaces a request's content (the partner's edit after `needs_info`).
pub fn update_request_content(conn: &mut DbConn, row: &RequestRow) -> QueryResult<()> {
    diesel::update(partner_requests::table.find(&row.id))
        .set((
            partner_requests::title.eq(&row.title),
            partner_requests::summary.eq(&row.summary),
            partner_requests::engagement_level.eq(&row.engagement_level),
            partner_requests::budget_pence.eq(row.budget_pence),
            partner_requests::access_budget_pence.eq(row.access_budget_pence),
            partner_requests::elements.eq(&row.elements),
            partner_requests::updated_at.eq(row.updated_at),
        ))
        .execute(conn)
        .map(drop)
}

/// Moves the request from `from` to `to`, recording the step; false if it changed meanwhile.
pub fn move_request(
    conn: &mut DbConn,
    id: &str,
    from: &str,
    to: &str,
    actor: &str,
    note: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        partner_requests::table
            .find(id)
            .filter(partner_requests::status.eq(from)),
    )
    .set((
        partner_requests::status.eq(to),
        partner_requests::updated_at.eq(now),
    ))
    .execute(conn)?;
    if changed != 1 {
        return Ok(false);
    }
    record_request_event(conn, id, to, actor, note, now)?;
    Ok(true)
}

pub fn record_request_event(
    conn: &mut DbConn,
    request_id: &str,
    status: &str,
    actor: &str,
    note: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(request_events::table)
        .values((
            request_events::id.eq(uuid::Uuid::now_v7().to_string()),
            request_events::request_id.eq(request_id),
            request_events::status.eq(status),
            request_events::actor_id.eq(actor),
            request_events::note.eq(note),
            request_events::at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// (status, actor, note, at): one step of a request.
pub type RequestEvent = (String, String, Option<String>, NaiveDateTime);

pub fn request_events(conn: &mut DbConn, request_id: &str) -> QueryResult<Vec<RequestEvent>> {
    request_events::table
        .filter(request_events::request_id.eq(request_id))
        .order((request_events::at, request_events::id))
        .select((
            request_events::status,
            request_events::actor_id,
            request_events::note,
            request_events::at,
        ))
        .load(conn)
}

pub fn insert_project(conn: &mut DbConn, row: &ProjectRow) -> QueryResult<()> {
    diesel::insert_into(projects::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

pub fn find_project(conn: &mut DbConn, id: &str) -> QueryResult<Option<ProjectRow>> {
    projects::table
        .find(id)
        .select(ProjectRow::as_select())
        .first(conn)
        .optional()
}

pub fn project_of_request(conn: &mut DbConn, request_id: &str) -> QueryResult<Option<String>> {
    projects::table
        .filter(projects::request_id.eq(request_id))
        .select(projects::id)
        .first(conn)
        .optional()
}

pub fn list_projects(
    conn: &mut DbConn,
    organisations: Option<&[String]>,
) -> QueryResult<Vec<ProjectRow>> {
    let mut query = projects::table.select(ProjectRow::as_select()).into_boxed();
    if let Some(ids) = organisations {
        query = query.filter(projects::organisation_id.eq_any(ids.to_vec()));
    }
    query.order(projects::id).load(conn)
}

/// Stores an element and its sessions.
pub fn insert_element(
    conn: &mut DbConn,
    row: &ElementRow,
    sessions: &[(NaiveDateTime, NaiveDateTime)],
) -> QueryResult<()> {
    diesel::insert_into(elements::table)
        .values(row)
        .execute(conn)?;
    replace_sessions(conn, &row.id, sessions)
}

pub fn replace_sessions(
    conn: &mut DbConn,
    element_id: &str,
    sessions: &[(NaiveDateTime, NaiveDateTime)],
) -> QueryResult<()> {
    diesel::delete(element_sessions::table.filter(element_sessions::element_id.eq(element_id)))
        .execute(conn)?;
    for (starts_at, ends_at) in sessions {
        diesel::insert_into(element_sessions::table)
            .values((
                element_sessions::id.eq(uuid::Uuid::now_v7().to_string()),
                element_sessions::element_id.eq(element_id),
                element_sessions::starts_at.eq(starts_at),
                element_sessions::ends_at.eq(ends_at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn find_element(conn: &mut DbConn, id: &str) -> QueryResult<Option<ElementRow>> {
    elements::table
        .find(id)
        .select(ElementRow::as_select())
        .first(conn)
        .optional()
}

pub fn elements_of(conn: &mut DbConn, project_id: &str) -> QueryResult<Vec<ElementRow>> {
    elements::table
        .filter(elements::project_id.eq(project_id))
        .order((elements::position, elements::id))
        .select(ElementRow::as_select())
        .load(conn)
}

/// Every element still `open`, project by project, in each project's order.
pub fn open_elements(conn: &mut DbConn) -> QueryResult<Vec<ElementRow>> {
    elements::table
        .filter(elements::status.eq(ElementStatus::Open.as_str()))
        .order((elements::project_id, elements::position, elements::id))
        .select(ElementRow::as_select())
        .load(conn)
}

/// The position after the project's last element. The project's row is taken first, so two
/// elements added at once wait for each other and get positions of their own (on SQLite the
/// write transaction already does this).
pub fn next_position(conn: &mut DbConn, project_id: &str) -> QueryResult<i32> {
    if let DbConn::Postgres(pg) = conn {
        projects::table
            .find(project_id)
            .select(projects::id)
            .for_no_key_update()
            .first::<String>(pg)
            .optional()?;
    }
    let last: Option<i32> = elements::table
        .filter(elements::project_id.eq(project_id))
        .select(diesel::dsl::max(elements::position))
        .first(conn)?;
    Ok(last.map_or(0, |p| p + 1))
}

/// Saves the element's spec if its status is still `row.status`; false when it changed.
pub fn update_element(conn: &mut DbConn, row: &ElementRow) -> QueryResult<bool> {
    diesel::update(
        elements::table
            .find(&row.id)
            .filter(elements::status.eq(&row.status)),
    )
    .set((
        elements::spec.eq(&row.spec),
        elements::mode.eq(&row.mode),
        elements::people_needed.eq(row.people_needed),
        elements::updated_at.eq(row.updated_at),
    ))
    .execute(conn)
    .map(|changed| changed == 1)
}

/// Changes the status if it is still `from`; false if it changed meanwhile.
pub fn move_element(
    conn: &mut DbConn,
    id: &str,
    from: &str,
    to: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(elements::table.find(id).filter(elements::status.eq(from)))
        .set((
            elements::status.eq(to),
            elements::updated_at.eq(now),
            elements::status_changed_at.eq(now),
        ))
        .execute(conn)?;
    if changed == 1 && to == ElementStatus::Open.as_str() {
        // A place freed: the partner hears again once it is filled again.
        diesel::update(elements::table.find(id))
            .set(elements::partner_told_filled_at.eq(None::<NaiveDateTime>))
            .execute(conn)?;
    }
    Ok(changed == 1)
}

pub fn declare_conflict(
    conn: &mut DbConn,
    user_id: &str,
    organisation_id: &str,
    note: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let row = (
        conflicts_of_interest::user_id.eq(user_id),
        conflicts_of_interest::organisation_id.eq(organisation_id),
        conflicts_of_interest::note.eq(note),
        conflicts_of_interest::declared_at.eq(now),
    );
    per_backend!(conn, |c| diesel::insert_into(conflicts_of_interest::table)
        .values(row)
        .on_conflict((
            conflicts_of_interest::user_id,
            conflicts_of_interest::organisation_id
        ))
        .do_update()
        .set((
            conflicts_of_interest::note.eq(note),
            conflicts_of_interest::declared_at.eq(now)
        ))
        .execute(c))
    .map(drop)
}

pub fn withdraw_conflict(
    conn: &mut DbConn,
    user_id: &str,
    organisation_id: &str,
) -> QueryResult<bool> {
    let removed = diesel::delete(
        conflicts_of_interest::table
            .filter(conflicts_of_interest::user_id.eq(user_id))
            .filter(conflicts_of_interest::organisation_id.eq(organisation_id)),
    )
    .execute(conn)?;
    Ok(removed == 1)
}

/// (organisation, note, declared_at) for each of the user's declarations.
pub fn conflicts_of(
    conn: &mut DbConn,
    user_id: &str,
) -> QueryResult<Vec<(String, Option<String>, NaiveDateTime)>> {
    conflicts_of_interest::table
        .filter(conflicts_of_interest::user_id.eq(user_id))
        .order(conflicts_of_interest::organisation_id)
        .select((
            conflicts_of_interest::organisation_id,
            conflicts_of_interest::note,
            conflicts_of_interest::declared_at,
        ))
        .load(conn)
}

pub fn outcome_of(conn: &mut DbConn, element_id: &str) -> QueryResult<Option<OutcomeRow>> {
    element_outcomes::table
        .find(element_id)
        .select(OutcomeRow::as_select())
        .first(conn)
        .optional()
}

/// Stores `row` as the element's outcome: true when it is the first, false when it replaced
/// the words of one written before (keeping when and by whom it was first written).
pub fn save_outcome(conn: &mut DbConn, row: &OutcomeRow) -> QueryResult<bool> {
    let inserted = per_backend!(conn, |c| diesel::insert_into(element_outcomes::table)
        .values(row)
        .on_conflict(element_outcomes::element_id)
        .do_nothing()
        .execute(c))?;
    if inserted == 1 {
        return Ok(true);
    }
    diesel::update(element_outcomes::table.find(&row.element_id))
        .set((
            element_outcomes::summary.eq(&row.summary),
            element_outcomes::easy_read.eq(&row.easy_read),
            element_outcomes::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    Ok(false)
}

/// Elements completed between `since` and `before`, with work completed on them, whose people
/// have not been told what changed, oldest first.
pub fn completed_without_what_changed(
    conn: &mut DbConn,
    since: NaiveDateTime,
    before: NaiveDateTime,
) -> QueryResult<Vec<ElementRow>> {
    let told = element_outcomes::table.select(element_outcomes::element_id);
    let worked = assignments::table
        .filter(assignments::status.eq("completed"))
        .select(assignments::element_id);
    elements::table
        .filter(elements::status.eq("completed"))
        .filter(elements::status_changed_at.le(before))
        .filter(elements::status_changed_at.ge(since))
        .filter(elements::id.ne_all(told))
        .filter(elements::id.eq_any(worked))
        .order(elements::status_changed_at)
        .select(ElementRow::as_select())
        .load(conn)
}

/// Open elements with someone on their waiting list and no session begun by `now`, in id
/// order: seats someone passed over may take later.
pub fn open_with_people_waiting(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Vec<String>> {
    let waiting = invitations::table
        .filter(invitations::status.eq("waitlisted"))
        .select(invitations::element_id);
    let begun = element_sessions::table
        .filter(element_sessions::starts_at.le(now))
        .select(element_sessions::element_id);
    elements::table
        .filter(elements::status.eq(ElementStatus::Open.as_str()))
        .filter(elements::id.eq_any(waiting))
        .filter(diesel::dsl::not(elements::id.eq_any(begun)))
        .order(elements::id)
        .select(elements::id)
        .load(conn)
}

/// Filled, or under way since (an element can fill and start between two runs of the job).
fn filled_or_under_way() -> [&'static str; 2] {
    [
        ElementStatus::Filled.as_str(),
        ElementStatus::InProgress.as_str(),
    ]
}

/// Up to `limit` elements filled (or under way since) whose partner organisation has not been
/// told.
pub fn filled_untold(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<ElementRow>> {
    elements::table
        .filter(elements::status.eq_any(filled_or_under_way()))
        .filter(elements::partner_told_filled_at.is_null())
        .order(elements::id)
        .limit(limit)
        .select(ElementRow::as_select())
        .load(conn)
}

/// Records that the partner was told the element filled; false when done meanwhile, or when it
/// is no longer filled (a place freed, or it was cancelled, meanwhile).
pub fn mark_partner_told_filled(
    conn: &mut DbConn,
    id: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        elements::table
            .find(id)
            .filter(elements::status.eq_any(filled_or_under_way()))
            .filter(elements::partner_told_filled_at.is_null()),
    )
    .set(elements::partner_told_filled_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}
