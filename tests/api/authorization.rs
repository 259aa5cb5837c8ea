//! The authorisation matrix: every route of the OpenAPI document (generated from the one route
//! table) × every role × ours / someone else's resource. A route with no row in `MATRIX` fails
//! the test, so a new route cannot ship without saying who may use it.
//!
//! How a row reads: `ours` is the status each actor gets on a resource of "our" side (the
//! applicant's application, the partner's organisation's request, the co-producer's
//! invitation, a round whose review panel holds our reviewer); `theirs` the same on a resource
//! of the other side (another applicant, another organisation, another co-producer). `=` means
//! the route has no owner, so both sides answer alike. Columns are the actors in `ACTORS`.
//!
//! Statuses follow API.md: 401 not signed in, 403 a role that may never use the route, 404 a
//! resource that is not yours (never 403: no existence leak). A 409 is listed where the caller
//! is allowed but the resource's state says no (e.g. reviewing your own application).
//!
//! Cells stay independent: a cell expected to succeed (2xx) on a changing method runs on a
//! freshly built resource, so it consumes nothing another cell uses; every other cell is
//! refused and must change nothing. Request bodies are valid, so authorisation decides.

use std::collections::{BTreeSet, HashMap};

use chrono::{Duration, Utc};
use coproduce::domain::role::Role;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::matching::fitting_profile;
use crate::partners::{coproducer, element, organisation, partner_of, submit_request, triage};
use crate::people::{passport_body, profile_body, put};

const ACTORS: [&str; 7] = [
    "anonymous",
    "applicant",
    "coproducer",
    "reviewer",
    "coordinator",
    "admin",
    "partner",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    None,
    Round,
    /// Complete (answers and consent) but not yet submitted.
    Draft,
    Submitted,
    Request,
    RequestNeedingInfo,
    Project,
    Element,
    Invitation,
    /// A confirmed booking: the invitation accepted with a seat free.
    Assignment,
    /// A claim for time on an assignment, waiting for a decision.
    Claim,
    ApprovedClaim,
    /// A payment run holding an approved claim, not yet recorded as paid.
    PaymentRun,
    PoolMember,
    /// A co-producer a coordinator has archived.
    ArchivedPoolMember,
    Organisation,
    DeclaredConflict,
    OutboxEmail,
}

#[derive(Debug, Clone, Copy)]
enum Body {
    None,
    Empty,
    Register,
    MagicLink,
    RefreshGrant,
    Logout,
    Names,
    Preferences,
    Profile,
    Passport,
    EqualOpportunities,
    Round,
    RoundChanges,
    Panel,
    Review,
    Decision,
    Organisation,
    OrganisationChanges,
    Request,
    Triage,
    Element,
    ElementChanges,
    WhatChanged,
    Archive,
    Conflict,
    Invite,
    Decline,
    Claim,
    ClaimDecision,
    Arrange,
    StaffInvitation,
    AcceptStaffInvitation,
    Erase,
}

struct Row {
    method: &'static str,
    path: &'static str,
    target: Target,
    body: Body,
    ours: &'static str,
    theirs: &'static str,
}

const fn row(
    method: &'static str,
    path: &'static str,
    target: Target,
    body: Body,
    ours: &'static str,
    theirs: &'static str,
) -> Row {
    Row {
        method,
        path,
        target,
        body,
        ours,
        theirs,
    }
}

use Body as B;
use Target as T;

/// The one table. Columns: anonymous applicant coproducer reviewer coordinator admin partner.
#[rustfmt::skip]
const MATRIX: &[Row] = &[
    // Service: public.
    row("GET", "/health/live", T::None, B::None, "200 200 200 200 200 200 200", "="),
    row("GET", "/health/ready", T::None, B::None, "200 200 200 200 200 200 200", "="),
    row("GET", "/metrics", T::None, B::None, "200 200 200 200 200 200 200", "="),
    row("GET", "/api/v1/catalogue", T::None, B::None, "200 200 200 200 200 200 200", "="),
    // Signing in: public; the body is the credential.
    row("POST", "/api/v1/auth/register", T::None, B::Register, "202 202 202 202 202 202 202", "="),
    row("POST", "/api/v1/auth/magic-link", T::None, B::MagicLink, "202 202 202 202 202 202 202", "="),
    row("POST", "/api/v1/auth/token", T::None, B::RefreshGrant, "200 200 200 200 200 200 200", "="),
    row("POST", "/api/v1/auth/logout", T::None, B::Logout, "204 204 204 204 204 204 204", "="),
    row("POST", "/api/v1/users/invitations/accept", T::None, B::AcceptStaffInvitation, "200 200 200 200 200 200 200", "="),
    // The signed-in person's own data.
    row("GET", "/api/v1/me", T::None, B::None, "401 200 200 200 200 200 200", "="),
    row("PATCH", "/api/v1/me", T::None, B::Names, "401 200 200 200 200 200 200", "="),
    row("GET", "/api/v1/me/notification-preferences", T::None, B::None, "401 200 200 200 200 200 200", "="),
    row("PUT", "/api/v1/me/notification-preferences", T::None, B::Preferences, "401 200 200 200 200 200 200", "="),
    row("GET", "/api/v1/me/profile", T::None, B::None, "401 200 200 200 200 200 200", "="),
    row("PUT", "/api/v1/me/profile", T::None, B::Profile, "401 200 200 200 200 200 200", "="),
    row("GET", "/api/v1/me/access-passport", T::None, B::None, "401 200 200 200 200 200 200", "="),
    row("PUT", "/api/v1/me/access-passport", T::None, B::Passport, "401 200 200 200 200 200 200", "="),
    row("GET", "/api/v1/me/equal-opportunities", T::None, B::None, "401 200 200 200 200 200 200", "="),
    row("PUT", "/api/v1/me/equal-opportunities", T::None, B::EqualOpportunities, "401 200 200 200 200 200 200", "="),
    row("GET", "/api/v1/me/applications", T::None, B::None, "401 200 200 200 200 200 200", "="),
    row("GET", "/api/v1/me/invitations", T::None, B::None, "401 200 200 200 200 200 200", "="),
    row("GET", "/api/v1/me/assignments", T::None, B::None, "401 200 200 200 200 200 200", "="),
    row("GET", "/api/v1/me/claims", T::None, B::None, "401 200 200 200 200 200 200", "="),
    row("GET", "/api/v1/me/export", T::None, B::None, "401 200 200 200 200 200 200", "="),
    row("GET", "/api/v1/me/conflicts", T::None, B::None, "401 403 200 403 403 403 403", "="),
    row("PUT", "/api/v1/me/conflicts/{organisation_id}", T::Organisation, B::Conflict, "401 403 200 403 403 403 403", "="),
    row("DELETE", "/api/v1/me/conflicts/{organisation_id}", T::DeclaredConflict, B::None, "401 403 204 403 403 403 403", "401 403 404 403 403 403 403"),
    // Rounds: public to read; coordinators run them. Our round has our reviewer on its panel.
    row("GET", "/api/v1/rounds", T::None, B::None, "200 200 200 200 200 200 200", "="),
    row("POST", "/api/v1/rounds", T::None, B::Round, "401 403 403 403 201 201 403", "="),
    row("GET", "/api/v1/rounds/{id}", T::Round, B::None, "200 200 200 200 200 200 200", "="),
    row("PATCH", "/api/v1/rounds/{id}", T::Round, B::RoundChanges, "401 403 403 403 200 200 403", "="),
    row("POST", "/api/v1/rounds/{id}/close", T::Round, B::None, "401 403 403 403 200 200 403", "="),
    row("PUT", "/api/v1/rounds/{id}/reviewers", T::Round, B::Panel, "401 403 403 403 200 200 403", "="),
    row("POST", "/api/v1/rounds/{id}/applications", T::Round, B::None, "401 201 201 409 201 201 201", "401 201 201 201 201 201 201"),
    row("GET", "/api/v1/rounds/{id}/applications", T::Round, B::None, "401 403 403 403 200 200 403", "401 403 403 404 200 200 403"),
    // Applications: ours is our applicant's, in the round our reviewer reviews.
    row("GET", "/api/v1/applications/{id}", T::Submitted, B::None, "401 200 404 200 200 200 404", "401 404 404 404 200 200 404"),
    row("PATCH", "/api/v1/applications/{id}", T::Draft, B::Empty, "401 200 404 404 404 404 404", "401 404 404 404 404 404 404"),
    row("POST", "/api/v1/applications/{id}/submit", T::Draft, B::None, "401 200 404 404 404 404 404", "401 404 404 404 404 404 404"),
    row("POST", "/api/v1/applications/{id}/withdraw", T::Submitted, B::None, "401 200 404 404 404 404 404", "401 404 404 404 404 404 404"),
    row("GET", "/api/v1/applications/{id}/history", T::Submitted, B::None, "401 200 404 404 200 200 404", "401 404 404 404 200 200 404"),
    row("POST", "/api/v1/applications/{id}/reviews", T::Submitted, B::Review, "401 409 404 201 201 201 404", "401 404 404 404 201 201 404"),
    row("POST", "/api/v1/applications/{id}/decision", T::Submitted, B::Decision, "401 403 403 403 200 200 403", "="),
    // Partners: ours is our partner's organisation's.
    row("POST", "/api/v1/organisations", T::None, B::Organisation, "401 403 403 403 201 201 403", "="),
    row("GET", "/api/v1/organisations", T::None, B::None, "401 403 200 403 200 200 200", "="),
    row("PATCH", "/api/v1/organisations/{id}", T::Organisation, B::OrganisationChanges, "401 403 403 403 200 200 403", "="),
    row("POST", "/api/v1/requests", T::None, B::Request, "401 403 403 403 403 403 201", "="),
    row("GET", "/api/v1/requests", T::None, B::None, "401 403 403 403 200 200 200", "="),
    row("GET", "/api/v1/requests/{id}", T::Request, B::None, "401 404 404 404 200 200 200", "401 404 404 404 200 200 404"),
    row("PUT", "/api/v1/requests/{id}", T::RequestNeedingInfo, B::Request, "401 403 403 403 403 403 200", "401 403 403 403 403 403 404"),
    row("POST", "/api/v1/requests/{id}/triage", T::Request, B::Triage, "401 403 403 403 200 200 403", "="),
    row("GET", "/api/v1/projects", T::None, B::None, "401 403 403 403 200 200 200", "="),
    row("GET", "/api/v1/projects/{id}", T::Project, B::None, "401 404 404 404 200 200 200", "401 404 404 404 200 200 404"),
    row("POST", "/api/v1/projects/{id}/elements", T::Project, B::Element, "401 403 403 403 201 201 201", "401 403 403 403 201 201 404"),
    row("PATCH", "/api/v1/elements/{id}", T::Element, B::ElementChanges, "401 403 403 403 200 200 200", "401 403 403 403 200 200 404"),
    // The pool and matching: coordinators; the invitee answers their own invitation.
    row("GET", "/api/v1/coproducers", T::None, B::None, "401 403 403 403 200 200 403", "="),
    row("POST", "/api/v1/coproducers/{id}/archive", T::PoolMember, B::Archive, "401 403 403 403 200 200 403", "="),
    row("POST", "/api/v1/coproducers/{id}/reinstate", T::ArchivedPoolMember, B::None, "401 403 403 403 200 200 403", "="),
    row("GET", "/api/v1/elements/{id}/candidates", T::Element, B::None, "401 403 403 403 200 200 403", "="),
    row("POST", "/api/v1/projects/{id}/match-plan", T::Project, B::None, "401 403 403 403 200 200 403", "="),
    row("POST", "/api/v1/match-plan", T::None, B::None, "401 403 403 403 200 200 403", "="),
    row("POST", "/api/v1/elements/{id}/invitations", T::Element, B::Invite, "401 403 403 403 201 201 403", "="),
    row("GET", "/api/v1/invitations/{id}", T::Invitation, B::None, "401 404 200 404 404 404 404", "401 404 404 404 404 404 404"),
    row("POST", "/api/v1/invitations/{id}/accept", T::Invitation, B::None, "401 404 200 404 404 404 404", "401 404 404 404 404 404 404"),
    row("POST", "/api/v1/invitations/{id}/decline", T::Invitation, B::Decline, "401 404 200 404 404 404 404", "401 404 404 404 404 404 404"),
    row("GET", "/api/v1/elements/{id}/assignments", T::Element, B::None, "401 403 403 403 200 200 200", "401 403 403 403 200 200 404"),
    // 409: what changed is written once the element is completed; ours is still open.
    row("PUT", "/api/v1/elements/{id}/what-changed", T::Element, B::WhatChanged, "401 403 403 403 409 409 409", "401 403 403 403 409 409 404"),
    // 404 for all: nothing is written yet; who may ask is the point.
    row("GET", "/api/v1/elements/{id}/what-changed", T::Element, B::None, "401 403 403 403 404 404 404", "="),
    row("POST", "/api/v1/assignments/{id}/withdraw", T::Assignment, B::Empty, "401 404 200 404 200 200 404", "401 404 404 404 200 200 404"),
    row("POST", "/api/v1/assignments/{id}/complete", T::Assignment, B::Empty, "401 403 403 403 200 200 403", "="),
    row("POST", "/api/v1/assignments/{id}/no-show", T::Assignment, B::Empty, "401 403 403 403 200 200 403", "="),
    row("GET", "/api/v1/assignments/{id}/history", T::Assignment, B::None, "401 404 200 404 200 200 404", "401 404 404 404 200 200 404"),
    // Everyone's passport lists a BSL interpreter, which is always to arrange.
    row("GET", "/api/v1/assignments/{id}/adjustments", T::Assignment, B::None, "401 404 200 404 200 200 404", "401 404 404 404 200 200 404"),
    row("POST", "/api/v1/assignments/{id}/arrangements", T::Assignment, B::Arrange, "401 403 403 403 200 200 403", "="),
    // Claims: the co-producer claims on their own assignment; coordinators decide and pay.
    row("POST", "/api/v1/assignments/{id}/claims", T::Assignment, B::Claim, "401 404 201 404 404 404 404", "401 404 404 404 404 404 404"),
    row("GET", "/api/v1/claims", T::None, B::None, "401 403 403 403 200 200 403", "="),
    row("GET", "/api/v1/claims/payments.csv", T::None, B::None, "401 403 403 403 200 200 403", "="),
    row("POST", "/api/v1/claims/{id}/decision", T::Claim, B::ClaimDecision, "401 403 403 403 200 200 403", "="),
    row("POST", "/api/v1/claims/{id}/paid", T::ApprovedClaim, B::None, "401 403 403 403 200 200 403", "="),
    // An approved claim waiting, for the run to take.
    row("POST", "/api/v1/claims/payment-runs", T::ApprovedClaim, B::None, "401 403 403 403 201 201 403", "="),
    row("GET", "/api/v1/claims/payment-runs", T::None, B::None, "401 403 403 403 200 200 403", "="),
    row("GET", "/api/v1/claims/payment-runs/{id}", T::PaymentRun, B::None, "401 403 403 403 200 200 403", "="),
    row("GET", "/api/v1/claims/payment-runs/{id}/payments.csv", T::PaymentRun, B::None, "401 403 403 403 200 200 403", "="),
    row("POST", "/api/v1/claims/payment-runs/{id}/paid", T::PaymentRun, B::None, "401 403 403 403 200 200 403", "="),
    // Staff.
    row("POST", "/api/v1/users/invitations", T::None, B::StaffInvitation, "401 403 403 403 201 201 403", "="),
    row("GET", "/api/v1/reports/equal-opportunities", T::None, B::None, "401 403 403 403 200 200 403", "="),
    row("GET", "/api/v1/admin/outbox", T::None, B::None, "401 403 403 403 200 200 403", "="),
    // 409: the email was sent, so there is nothing to retry; reaching that check is the point.
    row("POST", "/api/v1/admin/outbox/{id}/retry", T::OutboxEmail, B::None, "401 403 403 403 409 409 403", "="),
    // Last, as it erases each actor in turn. 409: the only active admin cannot leave.
    row("DELETE", "/api/v1/me", T::None, B::Erase, "401 204 204 204 204 409 204", "="),
];

fn statuses(cells: &str) -> Vec<u16> {
    let parsed: Vec<u16> = cells
        .split_whitespace()
        .map(|s| s.parse().expect("a status code"))
        .collect();
    assert_eq!(
        parsed.len(),
        ACTORS.len(),
        "a row needs one status per actor: {cells}"
    );
    parsed
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Side {
    Ours,
    Theirs,
}

/// Everyone and everything the cells act on.
struct World<'a> {
    app: &'a TestApp,
    coordinator: TestUser,
    admin: TestUser,
    applicant: TestUser,
    coproducer: TestUser,
    reviewer: TestUser,
    partner: TestUser,
    other_applicant: TestUser,
    other_coproducer: TestUser,
    other_partner: TestUser,
    /// In the pool, invited by the `Invite` body; never answers, so never busy.
    invitee: TestUser,
    our_organisation: String,
    their_organisation: String,
    built: HashMap<(Target, Side), String>,
    /// The first question of each application's round, for review bodies.
    question_of: HashMap<String, String>,
    serial: i64,
}

impl<'a> World<'a> {
    async fn new(app: &'a TestApp) -> World<'a> {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let our_organisation = organisation(app, &coordinator, "Northside Housing").await;
        let their_organisation = organisation(app, &coordinator, "Southside Health").await;
        let world = World {
            admin: app.signed_in(Role::Admin).await,
            applicant: app.signed_in(Role::Applicant).await,
            coproducer: coproducer(app, fitting_profile()).await,
            reviewer: app.signed_in(Role::Reviewer).await,
            partner: partner_of(app, &our_organisation).await,
            other_applicant: app.signed_in(Role::Applicant).await,
            other_coproducer: coproducer(app, fitting_profile()).await,
            other_partner: partner_of(app, &their_organisation).await,
            invitee: coproducer(app, fitting_profile()).await,
            app,
            coordinator,
            our_organisation,
            their_organisation,
            built: HashMap::new(),
            question_of: HashMap::new(),
            serial: 0,
        };
        // Everyone has their own data, so reading it is decided by who asks, not by absence.
        let others = [
            &world.other_applicant,
            &world.other_coproducer,
            &world.other_partner,
        ];
        for user in world.signed_in_actors().into_iter().chain(others) {
            for (path, body) in [
                ("/api/v1/me/profile", fitting_profile()),
                ("/api/v1/me/access-passport", passport_body()),
                (
                    "/api/v1/me/equal-opportunities",
                    json!({"age_band": "prefer_not_to_say"}),
                ),
            ] {
                assert_eq!(put(app, user, path, &body).await.status(), 200, "{path}");
            }
        }
        world
    }

    fn signed_in_actors(&self) -> [&TestUser; 6] {
        [
            &self.applicant,
            &self.coproducer,
            &self.reviewer,
            &self.coordinator,
            &self.admin,
            &self.partner,
        ]
    }

    /// The token of the actor in column `column` (none for anonymous).
    fn token(&self, column: usize) -> Option<&str> {
        match column {
            0 => None,
            n => Some(self.signed_in_actors()[n - 1].token.as_str()),
        }
    }

    fn next(&mut self) -> i64 {
        self.serial += 1;
        self.serial
    }

    /// The shared resource for `target` on `side`, built the first time it is asked for.
    async fn shared(&mut self, target: Target, side: Side) -> Option<String> {
        if target == Target::None {
            return None;
        }
        if let Some(id) = self.built.get(&(target, side)) {
            return Some(id.clone());
        }
        let ours = side == Side::Ours;
        let id = match target {
            // The actors' own: cells that would change them get a fresh one from `build`.
            Target::PoolMember if ours => self.coproducer.id.clone(),
            Target::PoolMember => self.other_coproducer.id.clone(),
            Target::Organisation if ours => self.our_organisation.clone(),
            Target::Organisation => self.their_organisation.clone(),
            _ => self.build(target, side).await,
        };
        self.built.insert((target, side), id.clone());
        Some(id)
    }

    /// A new resource of `target` on `side`, for a cell that will change it.
    async fn build(&mut self, target: Target, side: Side) -> String {
        let ours = side == Side::Ours;
        match target {
            Target::None => unreachable!("nothing to build"),
            Target::Round => self.round(ours).await["id"].as_str().unwrap().to_string(),
            Target::Draft => self.application(ours, false).await,
            Target::Submitted => self.application(ours, true).await,
            Target::Request => self.request(ours).await,
            Target::RequestNeedingInfo => {
                let id = self.request(ours).await;
                let response = triage(
                    self.app,
                    &self.coordinator,
                    &id,
                    "needs_info",
                    "Please tell us the budget.",
                )
                .await;
                assert_eq!(response.status(), 200);
                id
            }
            Target::Project => self.project(ours).await,
            Target::Element => {
                let project = self.project(ours).await;
                let found: Value = self
                    .app
                    .get_as(&self.coordinator, &format!("/api/v1/projects/{project}"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                found["elements"][0]["id"].as_str().unwrap().to_string()
            }
            Target::Invitation => {
                let element = Box::pin(self.build(Target::Element, side)).await;
                let who = if ours {
                    self.coproducer.id.clone()
                } else {
                    self.other_coproducer.id.clone()
                };
                let body = json!({"coproducer_ids": [who], "respond_by": (Utc::now() + Duration::days(5)).to_rfc3339()});
                let response = self
                    .app
                    .post_as(
                        &self.coordinator,
                        &format!("/api/v1/elements/{element}/invitations"),
                    )
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    response.status(),
                    201,
                    "invitation built: {}",
                    response.text().await.unwrap()
                );
                let created: Value = response.json().await.unwrap();
                created[0]["id"].as_str().unwrap().to_string()
            }
            Target::Assignment => {
                let invitation = Box::pin(self.build(Target::Invitation, side)).await;
                let who = if ours {
                    &self.coproducer
                } else {
                    &self.other_coproducer
                };
                let response = self
                    .app
                    .post_as(who, &format!("/api/v1/invitations/{invitation}/accept"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                let accepted: Value = response.json().await.unwrap();
                accepted["assignment"]["id"].as_str().unwrap().to_string()
            }
            Target::Claim | Target::ApprovedClaim => {
                let assignment = Box::pin(self.build(Target::Assignment, side)).await;
                let who = if ours {
                    &self.coproducer
                } else {
                    &self.other_coproducer
                };
                let response = self
                    .app
                    .post_as(who, &format!("/api/v1/assignments/{assignment}/claims"))
                    .json(&json!({"minutes_worked": 120}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                let claim = response.json::<Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string();
                if target == Target::ApprovedClaim {
                    let response = self
                        .app
                        .post_as(
                            &self.coordinator,
                            &format!("/api/v1/claims/{claim}/decision"),
                        )
                        .json(&json!({"decision": "approve"}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200);
                }
                claim
            }
            Target::PaymentRun => {
                Box::pin(self.build(Target::ApprovedClaim, side)).await;
                let response = self
                    .app
                    .post_as(&self.coordinator, "/api/v1/claims/payment-runs")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                response.json::<Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }
            Target::PoolMember => coproducer(self.app, fitting_profile()).await.id,
            Target::ArchivedPoolMember => {
                let id = coproducer(self.app, fitting_profile()).await.id;
                let response = self
                    .app
                    .post_as(
                        &self.coordinator,
                        &format!("/api/v1/coproducers/{id}/archive"),
                    )
                    .json(&json!({"reason": "Asked for a break"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                id
            }
            Target::Organisation => {
                let name = format!("Organisation {}", self.next());
                organisation(self.app, &self.coordinator, &name).await
            }
            Target::DeclaredConflict => {
                let name = format!("Former employer {}", self.next());
                let id = organisation(self.app, &self.coordinator, &name).await;
                let who = if ours {
                    &self.coproducer
                } else {
                    &self.other_coproducer
                };
                let response = put(
                    self.app,
                    who,
                    &format!("/api/v1/me/conflicts/{id}"),
                    &json!({"note": null}),
                )
                .await;
                assert_eq!(response.status(), 200);
                id
            }
            Target::OutboxEmail => {
                self.app.drain_outbox().await;
                let listed = items(
                    self.app
                        .get_as(&self.coordinator, "/api/v1/admin/outbox?status=sent")
                        .send()
                        .await
                        .unwrap(),
                )
                .await;
                listed[0]["id"].as_str().unwrap().to_string()
            }
        }
    }

    async fn round(&mut self, with_our_reviewer: bool) -> Value {
        let now = Utc::now();
        let body = json!({
            "title": format!("Round {}", self.next()), "summary": "Join us.", "description": "Peer research.",
            "opens_at": (now - Duration::days(1)).to_rfc3339(), "closes_at": (now + Duration::days(14)).to_rfc3339(),
            "questions": [{"prompt": "Why do you want to join?", "required": true}]
        });
        let response = self
            .app
            .post_as(&self.coordinator, "/api/v1/rounds")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let round: Value = response.json().await.unwrap();
        if with_our_reviewer {
            let path = format!("/api/v1/rounds/{}/reviewers", round["id"].as_str().unwrap());
            let response = self
                .app
                .client
                .put(self.app.url(&path))
                .bearer_auth(&self.coordinator.token)
                .json(&json!({"user_ids": [self.reviewer.id]}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
        round
    }

    /// A complete application by our applicant (in a round our reviewer reviews) or theirs.
    async fn application(&mut self, ours: bool, submit: bool) -> String {
        let round = self.round(ours).await;
        let applicant = if ours {
            &self.applicant
        } else {
            &self.other_applicant
        };
        let path = format!(
            "/api/v1/rounds/{}/applications",
            round["id"].as_str().unwrap()
        );
        let response = self.app.post_as(applicant, &path).send().await.unwrap();
        assert_eq!(response.status(), 201);
        let id = response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let question = round["questions"][0]["id"].as_str().unwrap().to_string();
        let answers = json!({"answers": [{"question_id": question, "text": "I want to help."}], "consents": {"privacy_notice": true, "future_opportunities": false}});
        let response = self
            .app
            .patch_as(applicant, &format!("/api/v1/applications/{id}"))
            .json(&answers)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        if submit {
            let response = self
                .app
                .post_as(applicant, &format!("/api/v1/applications/{id}/submit"))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                200,
                "submitted: {}",
                response.text().await.unwrap()
            );
        }
        self.question_of.insert(id.clone(), question);
        id
    }

    /// An element whose one session is on a day of its own, so invitations never clash.
    fn element_spec(&mut self) -> Value {
        let mut spec = element(&format!("Element {}", self.next()));
        let start = (Utc::now() + Duration::days(30 + self.serial))
            .date_naive()
            .and_hms_opt(10, 0, 0)
            .unwrap()
            .and_utc();
        spec["sessions"] = json!([{"starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339()}]);
        spec["hours_estimate"] = json!(2);
        spec
    }

    fn request_body(&mut self) -> Value {
        json!({
            "title": format!("Request {}", self.next()),
            "summary": "We want people with lived experience to shape our review.",
            "engagement_level": "co_produce",
            "budget_pence": 500000,
            "elements": [self.element_spec()]
        })
    }

    async fn request(&mut self, ours: bool) -> String {
        let body = self.request_body();
        let partner = if ours {
            &self.partner
        } else {
            &self.other_partner
        };
        let response = submit_request(self.app, partner, &body).await;
        assert_eq!(response.status(), 201);
        response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn project(&mut self, ours: bool) -> String {
        let request = self.request(ours).await;
        let response = triage(
            self.app,
            &self.coordinator,
            &request,
            "accept",
            "Thank you, we can help.",
        )
        .await;
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()["project_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A valid body for the row, fresh where it is spent (tokens, addresses).
    async fn body(&mut self, body: Body, target: Option<&str>) -> Option<Value> {
        let n = self.next();
        Some(match body {
            Body::None => return None,
            Body::Empty => json!({}),
            Body::Register => {
                json!({"email": format!("new.{n}@example.org"), "full_name": "New Person"})
            }
            Body::MagicLink => json!({"email": format!("someone.{n}@example.org")}),
            Body::RefreshGrant => {
                let signed_in = self
                    .app
                    .register_and_sign_in(&format!("returning.{n}@example.org"))
                    .await;
                json!({"grant_type": "refresh_token", "refresh_token": signed_in["refresh_token"]})
            }
            Body::Logout => {
                let signed_in = self
                    .app
                    .register_and_sign_in(&format!("leaving.{n}@example.org"))
                    .await;
                json!({"refresh_token": signed_in["refresh_token"]})
            }
            Body::Names => json!({"preferred_name": "Sam"}),
            Body::Preferences => json!({"format": "standard", "digest": false}),
            Body::Profile => profile_body(),
            Body::Passport => passport_body(),
            Body::EqualOpportunities => json!({"age_band": "prefer_not_to_say"}),
            Body::Round => {
                let now = Utc::now();
                json!({"title": "A new round", "summary": "Join us.", "description": "Peer research.",
                       "opens_at": now.to_rfc3339(), "closes_at": (now + Duration::days(7)).to_rfc3339(), "questions": []})
            }
            Body::RoundChanges => json!({"title": "A clearer title"}),
            Body::Panel => json!({"user_ids": [self.reviewer.id]}),
            Body::Review => {
                let question = &self.question_of[target.expect("an application")];
                json!({"scores": [{"question_id": question, "score": 3, "note": "Clear"}]})
            }
            Body::Decision => {
                json!({"outcome": "not_this_time", "feedback": "Thank you for applying."})
            }
            Body::Organisation => {
                json!({"name": format!("New organisation {n}"), "kind": "charity", "contact_email": "hello@org.example"})
            }
            Body::OrganisationChanges => json!({"contact_email": "office@org.example"}),
            Body::Request => self.request_body(),
            Body::Triage => json!({"decision": "needs_info", "note": "Please tell us the budget."}),
            Body::Element => self.element_spec(),
            Body::ElementChanges => json!({"title": "A clearer element title"}),
            Body::WhatChanged => json!({"summary": "The council changed how it answers calls."}),
            Body::Archive => json!({"reason": "You asked to leave the pool."}),
            Body::Conflict => json!({"note": "I worked there until last year."}),
            Body::Invite => {
                json!({"coproducer_ids": [self.invitee.id], "respond_by": (Utc::now() + Duration::days(5)).to_rfc3339()})
            }
            Body::Decline => json!({"reason": "Too busy this month"}),
            Body::Claim => {
                json!({"minutes_worked": 90, "expenses_pence": 840, "expenses_note": "Bus fare"})
            }
            Body::ClaimDecision => json!({"decision": "approve"}),
            Body::Arrange => {
                json!({"need": "bsl_interpreter", "arranged": true, "note": "Interpreter booked"})
            }
            Body::Erase => json!({"confirm": "delete my account"}),
            Body::StaffInvitation => {
                json!({"email": format!("partner.{n}@org.example"), "role": "partner", "organisation_id": self.our_organisation})
            }
            Body::AcceptStaffInvitation => {
                let email = format!("invited.{n}@org.example");
                let invite = json!({"email": email, "role": "partner", "organisation_id": self.their_organisation});
                let response = self
                    .app
                    .post_as(&self.coordinator, "/api/v1/users/invitations")
                    .json(&invite)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                json!({"token": self.app.link_token_sent_to(&email).await, "full_name": "Invited Partner"})
            }
        })
    }
}

/// Every (METHOD, path) of the OpenAPI document served by the app.
/// The stable code every refusal of a status carries.
fn refusal_code(status: u16) -> Option<&'static str> {
    match status {
        401 => Some("unauthorized"),
        403 => Some("forbidden"),
        404 => Some("not_found"),
        _ => None,
    }
}

async fn documented_routes(app: &TestApp) -> BTreeSet<(String, String)> {
    let doc: Value = app
        .get("/api-docs/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let mut routes = BTreeSet::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

both_backends! {
    async fn every_route_answers_every_role_as_the_matrix_says(app, |s| {
        // The matrix fires many sign-in requests from one address; limits are tested in auth.rs.
        s.rate_limit.per_ip_per_minute = 100_000;
        s.rate_limit.per_email_per_hour = 100_000;
    }) {
        let documented = documented_routes(&app).await;
        let listed: BTreeSet<(String, String)> = MATRIX.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
        let missing: Vec<_> = documented.difference(&listed).collect();
        assert!(missing.is_empty(), "routes with no row in the authorisation MATRIX (add one saying who may use each): {missing:?}");
        let stale: Vec<_> = listed.difference(&documented).collect();
        assert!(stale.is_empty(), "MATRIX rows for routes that no longer exist: {stale:?}");
        assert_eq!(listed.len(), MATRIX.len(), "one row per route");

        let mut world = World::new(&app).await;
        let mut failures = Vec::new();
        let mut fired = 0;
        for row in MATRIX {
            let ours = statuses(row.ours);
            let theirs = if row.theirs == "=" { ours.clone() } else { statuses(row.theirs) };
            let sides: &[(Side, &Vec<u16>)] = if row.theirs == "=" && row.target == Target::None {
                &[(Side::Ours, &ours)]
            } else {
                &[(Side::Ours, &ours), (Side::Theirs, &theirs)]
            };
            for (side, expected) in sides {
                for (column, want) in expected.iter().enumerate() {
                    let changes = row.method != "GET" && (200..300).contains(want);
                    let target = if changes && row.target != Target::None {
                        Some(world.build(row.target, *side).await)
                    } else {
                        world.shared(row.target, *side).await
                    };
                    // A target with no place in the path only sets the scene (an approved claim
                    // for a payment run to take).
                    let path = match (&target, row.path.find('{'), row.path.find('}')) {
                        (Some(id), Some(start), Some(end)) => {
                            format!("{}{id}{}", &row.path[..start], &row.path[end + 1..])
                        }
                        _ => row.path.to_string(),
                    };
                    let body = world.body(row.body, target.as_deref()).await;
                    let mut request = app.client.request(row.method.parse().unwrap(), app.url(&path));
                    if let Some(token) = world.token(column) {
                        request = request.bearer_auth(token);
                    }
                    if let Some(body) = &body {
                        request = request.json(body);
                    }
                    let response = request.send().await.unwrap();
                    fired += 1;
                    let got = response.status().as_u16();
                    if got != *want {
                        let detail = response.text().await.unwrap_or_default();
                        failures.push(format!(
                            "{} {} as {} on {:?}: expected {want}, got {got}: {detail}",
                            row.method, row.path, ACTORS[column], side
                        ));
                    } else if let Some(code) = refusal_code(got) {
                        // A refusal says only that, in the one shape, and shows nothing it guards.
                        let problem_json = response.headers().get("content-type").is_some_and(|t| t == "application/problem+json");
                        let refusal: Value = response.json().await.unwrap_or_default();
                        let shows_data = ["id", "items", "status_history", "email"].iter().any(|key| refusal.get(key).is_some());
                        if !problem_json || refusal["code"] != code || shows_data {
                            failures.push(format!(
                                "{} {} as {} on {:?}: a {got} that is not a plain `{code}` problem: {refusal}",
                                row.method, row.path, ACTORS[column], side
                            ));
                        }
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{} of {fired} cells disagree with the matrix:\n{}", failures.len(), failures.join("\n"));
        assert!(fired > MATRIX.len() * ACTORS.len(), "every row fired for every actor");
    }
}
