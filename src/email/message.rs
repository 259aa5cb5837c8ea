//! Every email the service sends. Each variant has a folder in `templates/email/<template>/`
//! and its fields are the template's variables.

use serde::{Deserialize, Serialize};

use super::ics::{self, Calendar};

/// A file sent with an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    /// The full MIME type with its parameters, e.g. `text/calendar; charset=utf-8; method=PUBLISH`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Someone an email names who is not its recipient. Templates see only `name`; the outbox keeps
/// `user_id` (see `Email::mentions`) so that erasing the person renders a waiting email again
/// without them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    pub user_id: String,
    pub name: String,
}

impl Mention {
    /// `user` by the name they go by.
    pub fn of(user: &crate::db::models::user::UserRow) -> Self {
        Self {
            user_id: user.id.clone(),
            name: user.display_name().to_string(),
        }
    }
}

impl Serialize for Mention {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

/// Where an email names someone other than its recipient, as JSON pointers into its template
/// context: `name_at` holds their name, and each of `clear` holds words by or about them (a
/// note), which go with the name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MentionSpot {
    pub user_id: String,
    pub name_at: String,
    pub clear: Vec<String>,
}

/// Tells a template whether a calendar file goes with the email, so its words can say so.
fn is_attached<S: serde::Serializer>(
    calendar: &Option<Calendar>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_bool(calendar.is_some())
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Email {
    SignInLink {
        name: String,
        link: String,
        minutes: u64,
    },
    AlreadyRegistered {
        name: String,
        link: String,
        minutes: u64,
    },
    StaffInvitation {
        inviter: Mention,
        role_label: String,
        organisation: Option<String>,
        link: String,
        days: u64,
    },
    ApplicationReceived {
        name: String,
        round_title: String,
        /// Already formatted, e.g. "12 December 2026".
        answer_by: String,
        link: String,
    },
    ApplicationDecision {
        name: String,
        round_title: String,
        /// An `Outcome` code: the template words each one differently.
        outcome: String,
        feedback: String,
        link: String,
    },
    RequestUpdate {
        name: String,
        request_title: String,
        /// `received`, `needs_info`, `declined` or `accepted`.
        step: String,
        note: String,
        /// Quality-check hints (shown for `received`).
        warnings: Vec<String>,
        link: String,
    },
    ElementInvitation {
        name: String,
        project_title: String,
        element_title: String,
        description: String,
        /// Why they were suggested, factor by factor.
        reasons: Vec<String>,
        /// Already formatted, e.g. "£25.00 an hour".
        pay: String,
        hours: i32,
        sessions: Vec<String>,
        /// Access adjustments already planned for them.
        adjustments: Vec<String>,
        respond_by: String,
        message: String,
        link: String,
    },
    InvitationOutcome {
        name: String,
        element_title: String,
        /// `confirmed`, `confirmed_from_waiting_list` (a seat freed up) or `waitlisted`.
        outcome: String,
        sessions: Vec<String>,
        link: String,
        /// The sessions as an .ics attachment (for a confirmed place with sessions).
        #[serde(skip)]
        calendar: Option<Calendar>,
    },
    /// To the co-producer: they are no longer on an element (they withdrew, or a coordinator
    /// withdrew them).
    AssignmentWithdrawn {
        name: String,
        element_title: String,
        /// True when they withdrew themselves.
        by_you: bool,
        /// Their reason, or the coordinator's note.
        note: String,
        link: String,
        /// The sessions still to come, marked cancelled (.ics attachment). Templates see
        /// `calendar_attached`.
        #[serde(rename = "calendar_attached", serialize_with = "is_attached")]
        calendar: Option<Calendar>,
    },
    /// To a co-producer whose invitation, or place on a waiting list, closed without a place:
    /// nobody is left waiting for an answer that will not come.
    InvitationLapsed {
        name: String,
        element_title: String,
        /// `invited` (they had not answered) or `waiting` (on the waiting list).
        was: String,
        /// `time_passed` (the time to answer ran out), `under_way` (the element started) or
        /// `finished` (it ended).
        why: String,
        link: String,
    },
    /// To a co-producer who did an element's work, once it has ended: what changed because of it.
    WhatChanged {
        name: String,
        element_title: String,
        project_title: String,
        /// In the writer's words.
        summary: String,
        /// The same in easy read, when the writer gave one (the easy-read email uses it).
        easy_read: String,
        link: String,
    },
    /// To a co-producer booked on, invited to or waiting for an element that was cancelled.
    ElementCancelled {
        name: String,
        element_title: String,
        /// `booked`, `invited` or `waiting` (on the waiting list).
        was: String,
        /// The sessions had begun: their booking stays so they can claim for work done.
        under_way: bool,
        link: String,
        /// For people booked: the sessions still to come, marked cancelled (.ics attachment).
        /// Templates see `calendar_attached`.
        #[serde(rename = "calendar_attached", serialize_with = "is_attached")]
        calendar: Option<Calendar>,
    },
    /// To the other coordinators and the project's partner contacts: an element was cancelled,
    /// and what became of the people on it. Names nobody.
    ElementCancelledForTeam {
        name: String,
        element_title: String,
        project_title: String,
        /// People booked who were withdrawn and told.
        withdrawn: usize,
        /// Bookings kept so people can claim for work done (the sessions had begun).
        kept: usize,
        /// Invitations and waiting-list places that lapsed.
        lapsed: usize,
        /// Coordinators and admins: what is left for them to do.
        staff: bool,
        link: String,
    },
    /// To the co-producer: a coordinator marked their booking as done, or as missed.
    AssignmentClosed {
        name: String,
        element_title: String,
        /// `completed` or `no_show`.
        outcome: String,
        /// The coordinator's note, if any.
        note: String,
        link: String,
    },
    /// To coordinators: someone left an element, and who (if anyone) took the seat.
    SeatFreed {
        name: String,
        element_title: String,
        /// Who left, by display name.
        who: Mention,
        /// True when they withdrew themselves, false when a coordinator did.
        by_themselves: bool,
        /// Their reason, or the coordinator's note about them.
        note: String,
        /// Who was confirmed from the waiting list in their place.
        replacements: Vec<Mention>,
        seats_left: i64,
        link: String,
    },
    /// To coordinators and admins: the background sweep booked people from an element's
    /// waiting list into a place that was still free.
    WaitingListBooked {
        name: String,
        element_title: String,
        booked: Vec<Mention>,
        seats_left: i64,
        link: String,
    },
    InvitationsExpired {
        name: String,
        element_title: String,
        expired: usize,
        link: String,
    },
    DecisionReminder {
        name: String,
        round_title: String,
        waiting: usize,
        oldest_days: i64,
        answer_by: String,
        /// The answer-by date has passed: the words say the promise is broken, not coming up.
        overdue: bool,
        link: String,
    },
    /// To coordinators: an organisation's contact address was the address of someone who has
    /// deleted their account, so it was replaced (by another contact's) or removed.
    OrganisationContactChanged {
        name: String,
        organisation: String,
        /// The address now used; empty when nobody else could take over.
        new_contact: String,
        link: String,
    },
    /// To a co-producer: a coordinator archived their place in the pool (with the reason), or
    /// reinstated it.
    PoolPlaceChanged {
        name: String,
        /// True when archived, false when reinstated.
        archived: bool,
        /// The coordinator's reason for archiving; empty when reinstated.
        reason: String,
        /// Elements whose invitation or waiting-list place closed with the archiving.
        closed: Vec<String>,
        link: String,
    },
    /// To the co-producer: a coordinator approved, rejected or paid their claim for time and
    /// expenses.
    ClaimUpdate {
        name: String,
        element_title: String,
        /// `approved`, `rejected` or `paid`.
        outcome: String,
        /// Amounts already formatted, e.g. "£41.67".
        fee: String,
        expenses: String,
        total: String,
        /// The coordinator's note: why, for a rejected claim.
        note: String,
        link: String,
    },
    /// To coordinators, once a day: claims for time and expenses have waited too long for a
    /// decision, or for payment.
    ClaimsWaiting {
        name: String,
        /// Claims waiting for a decision, and the oldest one's wait in days.
        to_decide: i64,
        decide_oldest_days: i64,
        /// Approved claims waiting to be paid, and the oldest one's wait in days.
        to_pay: i64,
        pay_oldest_days: i64,
        /// `claims.remind_after_days`.
        after_days: u32,
        link: String,
    },
    /// To the co-producer: one of their access adjustments for a booking is arranged, or an
    /// arrangement fell through and it is being arranged again.
    AdjustmentUpdate {
        name: String,
        element_title: String,
        /// The need's plain-English label, e.g. "British Sign Language interpreter". In the
        /// (sealed) body only, never the subject, which stays readable in the outbox.
        need: String,
        arranged: bool,
        /// What was arranged, in the coordinator's words; may be empty.
        note: String,
        link: String,
    },
    /// To coordinators, once a day: bookings starting soon still have access adjustments to
    /// arrange. Names no person and no need (each line: element, date, how many).
    AdjustmentsWaiting {
        name: String,
        /// e.g. "Peer interviews, Monday 7 December 2026: 2 still to arrange".
        bookings: Vec<String>,
        /// `adjustments.remind_days_before`.
        within_days: u32,
        link: String,
    },
    /// To coordinators and admins: completed elements whose people have not been told what
    /// changed because of their work.
    WhatChangedWaiting {
        name: String,
        /// e.g. "Peer interviews (Housing support review)".
        elements: Vec<String>,
        /// `what_changed.remind_after_days`.
        after_days: u32,
        link: String,
    },
    /// To a partner organisation's contacts: every place on one of their elements is taken.
    ElementFilled {
        name: String,
        element_title: String,
        project_title: String,
        places: i32,
        link: String,
    },
    /// To coordinators and admins: open elements still short of people, starting soon.
    ElementsShortOfPeople {
        name: String,
        /// e.g. "Peer interviews (Housing support review): 2 of 3 places free, first session on
        /// Monday 7 December 2026".
        elements: Vec<String>,
        /// `bookings.short_remind_days_before`.
        within_days: u32,
        link: String,
    },
    /// To someone whose access passport's review-by date has come: check it is still right.
    PassportReview {
        name: String,
        /// The review-by date, e.g. "Monday 7 December 2026".
        review_by: String,
        link: String,
    },
    /// To a co-producer booked on an element: one of its sessions is coming up.
    SessionReminder {
        name: String,
        element_title: String,
        /// e.g. "Monday 7 December 2026, 10:00 to 12:00 UK time".
        session: String,
        /// `remote`, `in_person` or `hybrid`.
        mode: String,
        /// Where, for in-person and hybrid elements; empty when not given.
        location: String,
        link: String,
    },
    /// To someone who started an application and has not sent it: their round closes soon
    /// (`closed` false), or it closed before they sent it (`closed` true).
    ApplicationNotSent {
        name: String,
        round_title: String,
        /// When the round closes, or closed, in UK time.
        closes: String,
        closed: bool,
        /// It closed before the date it gave (a coordinator closed it early).
        early: bool,
        link: String,
    },
    /// To coordinators and admins: bookings still `confirmed` some days after their element's
    /// last session (work done, or missed, but nobody marked it), so nobody is thanked or told
    /// what changed until someone does.
    BookingsToClose {
        name: String,
        /// e.g. "Peer interviews (Housing support review): 2 bookings, last session on Thursday 3 December 2026".
        elements: Vec<String>,
        /// `bookings.remind_after_days`.
        after_days: u32,
        link: String,
    },
    /// Routine updates held for someone who chose one digest, sent together once a day.
    Digest {
        name: String,
        /// Each held email: its subject, its text without the footer, and the content of its
        /// HTML (for the HTML part; empty for plain text).
        parts: Vec<DigestPart>,
        link: String,
    },
    /// The last email to an erased account; its address is cleared once it is sent.
    AccountDeleted {
        name: String,
        /// Where to sign up again.
        link: String,
    },
}

/// The template of the farewell email, whose outbox row is scrubbed as it is sent.
pub const ACCOUNT_DELETED_TEMPLATE: &str = "account_deleted";

/// The template of the daily digest, whose row keeps the emails it gathers (`outbox::digest`).
pub const DIGEST_TEMPLATE: &str = "digest";

/// One email inside a digest, as rendered for its recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestPart {
    pub subject: String,
    pub text: String,
    /// Already-escaped HTML from the email's own template.
    pub html: String,
}

impl Email {
    pub fn template(&self) -> &'static str {
        match self {
            Email::SignInLink { .. } => "sign_in_link",
            Email::AlreadyRegistered { .. } => "already_registered",
            Email::StaffInvitation { .. } => "staff_invitation",
            Email::ApplicationReceived { .. } => "application_received",
            Email::ApplicationDecision { .. } => "application_decision",
            Email::DecisionReminder { .. } => "decision_reminder",
            Email::RequestUpdate { .. } => "request_update",
            Email::ElementInvitation { .. } => "element_invitation",
            Email::InvitationOutcome { .. } => "invitation_outcome",
            Email::InvitationsExpired { .. } => "invitations_expired",
            Email::AccountDeleted { .. } => ACCOUNT_DELETED_TEMPLATE,
            Email::AssignmentWithdrawn { .. } => "assignment_withdrawn",
            Email::InvitationLapsed { .. } => "invitation_lapsed",
            Email::WhatChanged { .. } => "what_changed",
            Email::ElementCancelled { .. } => "element_cancelled",
            Email::ElementCancelledForTeam { .. } => "element_cancelled_for_team",
            Email::AssignmentClosed { .. } => "assignment_closed",
            Email::SeatFreed { .. } => "seat_freed",
            Email::WaitingListBooked { .. } => "waiting_list_booked",
            Email::OrganisationContactChanged { .. } => "organisation_contact_changed",
            Email::PoolPlaceChanged { .. } => "pool_place_changed",
            Email::ClaimUpdate { .. } => "claim_update",
            Email::ClaimsWaiting { .. } => "claims_waiting",
            Email::AdjustmentUpdate { .. } => "adjustment_update",
            Email::AdjustmentsWaiting { .. } => "adjustments_waiting",
            Email::WhatChangedWaiting { .. } => "what_changed_waiting",
            Email::BookingsToClose { .. } => "bookings_to_close",
            Email::ApplicationNotSent { .. } => "application_not_sent",
            Email::SessionReminder { .. } => "session_reminder",
            Email::PassportReview { .. } => "passport_review",
            Email::ElementsShortOfPeople { .. } => "elements_short_of_people",
            Email::ElementFilled { .. } => "element_filled",
            Email::Digest { .. } => DIGEST_TEMPLATE,
        }
    }

    /// Whether this email may wait for the daily digest of someone who chose one: routine news
    /// that asks nothing of them. Anything with a date to answer by, a decision about them or
    /// their money, a booking made or cancelled, or something a coordinator must now act on
    /// goes straight away.
    pub fn can_wait_for_digest(&self) -> bool {
        match self {
            Email::ApplicationReceived { .. } => true,
            // Nothing for them to do.
            Email::InvitationLapsed { .. } | Email::WhatChanged { .. } => true,
            // A gentle check with no date to act by; good news that asks nothing.
            Email::PassportReview { .. } | Email::ElementFilled { .. } => true,
            // `needs_info` asks for an answer; `accepted` and `declined` are decisions.
            Email::RequestUpdate { step, .. } => step == "received",
            // A seat still empty needs someone found for it.
            Email::SeatFreed { seats_left, .. } => *seats_left == 0,
            // A missed session may need them to tell us what happened.
            Email::AssignmentClosed { outcome, .. } => outcome == "completed",
            // A rejected claim is money they expected, and they may claim again.
            Email::ClaimUpdate { outcome, .. } => outcome == "approved" || outcome == "paid",
            // Archiving is a decision about them; reinstating is good news.
            Email::PoolPlaceChanged { archived, .. } => !archived,
            // With nobody to take over, a coordinator must set a contact.
            Email::OrganisationContactChanged { new_contact, .. } => !new_contact.is_empty(),
            Email::SignInLink { .. }
            | Email::AlreadyRegistered { .. }
            | Email::StaffInvitation { .. }
            | Email::ApplicationDecision { .. }
            | Email::DecisionReminder { .. }
            | Email::ClaimsWaiting { .. }
            | Email::AdjustmentsWaiting { .. }
            | Email::WhatChangedWaiting { .. }
            | Email::BookingsToClose { .. }
            | Email::ElementsShortOfPeople { .. }
            // A booking made: coordinators check its access adjustments.
            | Email::WaitingListBooked { .. }
            // A date to act by, or the answer to an application.
            | Email::ApplicationNotSent { .. }
            // A digest could arrive after the session.
            | Email::SessionReminder { .. }
            // A later "being arranged again" must not arrive before the "arranged" it undoes.
            | Email::AdjustmentUpdate { .. }
            | Email::ElementInvitation { .. }
            | Email::InvitationOutcome { .. }
            | Email::InvitationsExpired { .. }
            | Email::AssignmentWithdrawn { .. }
            | Email::ElementCancelled { .. }
            | Email::ElementCancelledForTeam { .. }
            | Email::AccountDeleted { .. }
            | Email::Digest { .. } => false,
        }
    }

    /// Where the email names people other than its recipient.
    pub fn mentions(&self) -> Vec<MentionSpot> {
        let spot = |mention: &Mention, at: String, clear: &[&str]| MentionSpot {
            user_id: mention.user_id.clone(),
            name_at: at,
            clear: clear.iter().map(|c| (*c).to_string()).collect(),
        };
        match self {
            Email::StaffInvitation { inviter, .. } => vec![spot(inviter, "/inviter".into(), &[])],
            Email::SeatFreed {
                who, replacements, ..
            } => std::iter::once(spot(who, "/who".into(), &["/note"]))
                .chain(
                    replacements
                        .iter()
                        .enumerate()
                        .map(|(i, r)| spot(r, format!("/replacements/{i}"), &[])),
                )
                .collect(),
            Email::WaitingListBooked { booked, .. } => booked
                .iter()
                .enumerate()
                .map(|(i, b)| spot(b, format!("/booked/{i}"), &[]))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A file sent with the email, made from the variant's data when it is queued.
    pub fn attachment(&self) -> Option<Attachment> {
        match self {
            Email::InvitationOutcome {
                element_title,
                calendar: Some(calendar),
                ..
            }
            | Email::AssignmentWithdrawn {
                element_title,
                calendar: Some(calendar),
                ..
            }
            | Email::ElementCancelled {
                element_title,
                calendar: Some(calendar),
                ..
            } => Some(Attachment {
                filename: ics::file_name(element_title),
                content_type: ics::CONTENT_TYPE.into(),
                bytes: calendar.to_ics().into_bytes(),
            }),
            _ => None,
        }
    }

    /// One example of every variant, for template tests and previews.
    pub fn examples() -> Vec<Email> {
        let link = "https://coproduce.example/sign-in?token=abc".to_string();
        vec![
            Email::SignInLink {
                name: "Sam".into(),
                link: link.clone(),
                minutes: 15,
            },
            Email::AlreadyRegistered {
                name: "Sam".into(),
                link: link.clone(),
                minutes: 15,
            },
            Email::StaffInvitation {
                inviter: example_mention("Priya Shah"),
                role_label: "a partner contact".into(),
                organisation: Some("Northside Housing".into()),
                link: link.clone(),
                days: 7,
            },
            Email::ApplicationReceived {
                name: "Sam".into(),
                round_title: "Peer researchers 2027".into(),
                answer_by: "12 December 2026".into(),
                link: "https://coproduce.example/applications/0190".into(),
            },
            Email::ApplicationDecision {
                name: "Sam".into(),
                round_title: "Peer researchers 2027".into(),
                outcome: "not_this_time".into(),
                feedback: "Thank you for your answers.\nWe had many strong applications.".into(),
                link: "https://coproduce.example/applications/0190".into(),
            },
            Email::RequestUpdate {
                name: "Lee".into(),
                request_title: "Housing support review".into(),
                step: "received".into(),
                note: String::new(),
                warnings: vec!["There is no budget for access adjustments.".into()],
                link: "https://coproduce.example/requests/0190".into(),
            },
                        Email::ElementInvitation {
                name: "Sam".into(),
                project_title: "Housing support review".into(),
                element_title: "Peer interviews".into(),
                description: "Interview people about housing support.".into(),
                reasons: vec!["Has 2 of 2 required skills: interviewing (experienced), writing (some experience).".into()],
                pay: "£25.00 an hour".into(),
                hours: 12,
                sessions: vec!["Monday 7 December 2026, 10:00 to 12:00 UK time".into()],
                adjustments: vec!["Step-free access: the venue has it.".into()],
                respond_by: "Friday 27 November 2026".into(),
                message: String::new(),
                link: "https://coproduce.example/invitations/0190".into(),
            },
            Email::InvitationOutcome {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                outcome: "confirmed".into(),
                sessions: vec!["Monday 7 December 2026, 10:00 to 12:00 UK time".into()],
                link: "https://coproduce.example/me/assignments".into(),
                calendar: Some(example_calendar()),
            },
            Email::InvitationOutcome {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                outcome: "confirmed_from_waiting_list".into(),
                sessions: vec!["Monday 7 December 2026, 10:00 to 12:00 UK time".into()],
                link: "https://coproduce.example/me/assignments".into(),
                calendar: Some(example_calendar()),
            },
            Email::InvitationOutcome {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                outcome: "waitlisted".into(),
                sessions: vec!["Monday 7 December 2026, 10:00 to 12:00 UK time".into()],
                link: "https://coproduce.example/me/assignments".into(),
                calendar: None,
            },
            Email::AssignmentWithdrawn {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                by_you: true,
                note: "I have a hospital appointment that week.".into(),
                link: "https://coproduce.example/me/assignments".into(),
                calendar: Some(example_cancelled_calendar()),
            },
            Email::AssignmentWithdrawn {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                by_you: false,
                note: "The partner moved the sessions online.".into(),
                link: "https://coproduce.example/me/assignments".into(),
                calendar: None,
            },
            Email::AssignmentClosed {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                outcome: "completed".into(),
                note: "Your interviews were a great help to the project.".into(),
                link: "https://coproduce.example/me/assignments".into(),
            },
            Email::AssignmentClosed {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                outcome: "no_show".into(),
                note: String::new(),
                link: "https://coproduce.example/me/assignments".into(),
            },
            Email::SeatFreed {
                name: "Priya".into(),
                element_title: "Peer interviews".into(),
                who: example_mention("Sam"),
                by_themselves: true,
                note: String::new(),
                replacements: vec![example_mention("Alex")],
                seats_left: 0,
                link: "https://coproduce.example/elements/0190".into(),
            },
            Email::SeatFreed {
                name: "Priya".into(),
                element_title: "Peer interviews".into(),
                who: example_mention("Sam"),
                by_themselves: false,
                note: "Moved to another project.".into(),
                replacements: Vec::new(),
                seats_left: 1,
                link: "https://coproduce.example/elements/0190".into(),
            },
            Email::WaitingListBooked {
                name: "Priya".into(),
                element_title: "Peer interviews".into(),
                booked: vec![example_mention("Alex")],
                seats_left: 1,
                link: "https://coproduce.example/elements/0190".into(),
            },
            Email::InvitationsExpired {
                name: "Priya".into(),
                element_title: "Peer interviews".into(),
                expired: 2,
                link: "https://coproduce.example/elements/0190".into(),
            },
            Email::DecisionReminder {
                name: "Priya".into(),
                round_title: "Peer researchers 2027".into(),
                waiting: 4,
                oldest_days: 19,
                answer_by: "12 December 2026".into(),
                overdue: false,
                link: "https://coproduce.example/rounds/0190".into(),
            },
            Email::DecisionReminder {
                name: "Priya".into(),
                round_title: "Peer researchers 2027".into(),
                waiting: 1,
                oldest_days: 40,
                answer_by: "12 December 2026".into(),
                overdue: true,
                link: "https://coproduce.example/rounds/0190".into(),
            },
            Email::OrganisationContactChanged {
                name: "Priya".into(),
                organisation: "Northside Housing".into(),
                new_contact: "lee@northside.example".into(),
                link: "https://coproduce.example/organisations/0190".into(),
            },
            Email::OrganisationContactChanged {
                name: "Priya".into(),
                organisation: "Northside Housing".into(),
                new_contact: String::new(),
                link: "https://coproduce.example/organisations/0190".into(),
            },
            Email::PoolPlaceChanged {
                name: "Sam".into(),
                archived: true,
                reason: "You told us you are moving abroad for a year.".into(),
                closed: vec!["Peer interviews (Housing support review)".into()],
                link: "https://coproduce.example/me".into(),
            },
            Email::PoolPlaceChanged {
                name: "Sam".into(),
                archived: false,
                reason: String::new(),
                closed: Vec::new(),
                link: "https://coproduce.example/me".into(),
            },
            Email::AccountDeleted {
                name: "Sam".into(),
                link: "https://coproduce.example/".into(),
            },
            Email::ClaimUpdate {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                outcome: "approved".into(),
                fee: "£50.00".into(),
                expenses: "£8.40".into(),
                total: "£58.40".into(),
                note: String::new(),
                link: "https://coproduce.example/me/claims".into(),
            },
            Email::ClaimUpdate {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                outcome: "rejected".into(),
                fee: "£50.00".into(),
                expenses: "£8.40".into(),
                total: "£58.40".into(),
                note: "The sessions were two hours, not three. Please claim again for two.".into(),
                link: "https://coproduce.example/me/claims".into(),
            },
            Email::ClaimUpdate {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                outcome: "paid".into(),
                fee: "£50.00".into(),
                expenses: "£8.40".into(),
                total: "£58.40".into(),
                note: String::new(),
                link: "https://coproduce.example/me/claims".into(),
            },
            Email::ClaimsWaiting {
                name: "Priya".into(),
                to_decide: 3,
                decide_oldest_days: 9,
                to_pay: 1,
                pay_oldest_days: 6,
                after_days: 5,
                link: "https://coproduce.example/claims".into(),
            },
            Email::ClaimsWaiting {
                name: "Priya".into(),
                to_decide: 0,
                decide_oldest_days: 0,
                to_pay: 2,
                pay_oldest_days: 5,
                after_days: 5,
                link: "https://coproduce.example/claims".into(),
            },
            Email::WhatChanged {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                project_title: "Housing support review".into(),
                summary: "The council now answers every housing support call within two days, as you suggested.".into(),
                easy_read: "The council now calls people back in 2 days.".into(),
                link: "https://coproduce.example/me/assignments".into(),
            },
            Email::WhatChanged {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                project_title: "Housing support review".into(),
                summary: "The report went to the board, who agreed to the three changes.".into(),
                easy_read: String::new(),
                link: "https://coproduce.example/me/assignments".into(),
            },
            Email::InvitationLapsed {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                was: "invited".into(),
                why: "time_passed".into(),
                link: "https://coproduce.example/me/invitations".into(),
            },
            Email::InvitationLapsed {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                was: "invited".into(),
                why: "under_way".into(),
                link: "https://coproduce.example/me/invitations".into(),
            },
            Email::InvitationLapsed {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                was: "waiting".into(),
                why: "finished".into(),
                link: "https://coproduce.example/me/invitations".into(),
            },
            Email::ElementCancelled {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                was: "booked".into(),
                under_way: false,
                link: "https://coproduce.example/me/assignments".into(),
                calendar: Some(example_cancelled_calendar()),
            },
            Email::ElementCancelled {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                was: "booked".into(),
                under_way: true,
                link: "https://coproduce.example/me/claims".into(),
                calendar: None,
            },
            Email::ElementCancelled {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                was: "invited".into(),
                under_way: false,
                link: "https://coproduce.example/me/invitations".into(),
                calendar: None,
            },
            Email::ElementCancelledForTeam {
                name: "Priya".into(),
                element_title: "Peer interviews".into(),
                project_title: "Housing support review".into(),
                withdrawn: 0,
                kept: 2,
                lapsed: 1,
                staff: true,
                link: "https://coproduce.example/elements/0190".into(),
            },
            Email::ElementCancelledForTeam {
                name: "Lee".into(),
                element_title: "Peer interviews".into(),
                project_title: "Housing support review".into(),
                withdrawn: 3,
                kept: 0,
                lapsed: 2,
                staff: false,
                link: "https://coproduce.example/projects/0190".into(),
            },
            Email::AdjustmentUpdate {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                need: "British Sign Language interpreter".into(),
                arranged: true,
                note: "Jo, a registered interpreter, will be at both sessions.".into(),
                link: "https://coproduce.example/me/assignments".into(),
            },
            Email::AdjustmentUpdate {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                need: "Quiet room".into(),
                arranged: false,
                note: String::new(),
                link: "https://coproduce.example/me/assignments".into(),
            },
            Email::AdjustmentsWaiting {
                name: "Priya".into(),
                bookings: vec![
                    "Peer interviews, Monday 7 December 2026: 2 still to arrange".into(),
                    "Survey design workshop, Wednesday 9 December 2026: 1 still to arrange".into(),
                ],
                within_days: 7,
                link: "https://coproduce.example/elements".into(),
            },
            Email::WhatChangedWaiting {
                name: "Priya".into(),
                elements: vec![
                    "Peer interviews (Housing support review)".into(),
                ],
                after_days: 14,
                link: "https://coproduce.example/elements".into(),
            },
            Email::ElementFilled {
                name: "Jo".into(),
                element_title: "Peer interviews".into(),
                project_title: "Housing support review".into(),
                places: 3,
                link: "https://coproduce.example/elements/0190".into(),
            },
            Email::ElementsShortOfPeople {
                name: "Priya".into(),
                elements: vec![
                    "Peer interviews (Housing support review): 2 of 3 places free, first session on Monday 7 December 2026".into(),
                ],
                within_days: 7,
                link: "https://coproduce.example/elements".into(),
            },
            Email::PassportReview {
                name: "Sam".into(),
                review_by: "Monday 7 December 2026".into(),
                link: "https://coproduce.example/me/access-passport".into(),
            },
            Email::SessionReminder {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                session: "Monday 7 December 2026, 10:00 to 12:00 UK time".into(),
                mode: "hybrid".into(),
                location: "Leeds Central Library".into(),
                link: "https://coproduce.example/me/assignments".into(),
            },
            Email::SessionReminder {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                session: "Monday 7 December 2026, 10:00 to 12:00 UK time".into(),
                mode: "remote".into(),
                location: String::new(),
                link: "https://coproduce.example/me/assignments".into(),
            },
            Email::ApplicationNotSent {
                name: "Sam".into(),
                round_title: "Co-producers 2027".into(),
                closes: "Monday 7 December 2026, 17:00 UK time".into(),
                closed: false,
                early: false,
                link: "https://coproduce.example/applications/0190".into(),
            },
            Email::ApplicationNotSent {
                name: "Sam".into(),
                round_title: "Co-producers 2027".into(),
                closes: "Monday 7 December 2026, 17:00 UK time".into(),
                closed: true,
                early: true,
                link: "https://coproduce.example/rounds".into(),
            },
            Email::ApplicationNotSent {
                name: "Sam".into(),
                round_title: "Co-producers 2027".into(),
                closes: "Monday 7 December 2026, 17:00 UK time".into(),
                closed: true,
                early: false,
                link: "https://coproduce.example/rounds".into(),
            },
            Email::BookingsToClose {
                name: "Priya".into(),
                elements: vec![
                    "Peer interviews (Housing support review): 2 bookings, last session on Thursday 3 December 2026".into(),
                ],
                after_days: 2,
                link: "https://coproduce.example/elements".into(),
            },
            Email::Digest {
                name: "Sam".into(),
                parts: vec![
                    DigestPart {
                        subject: "We have paid your claim for Peer interviews".into(),
                        text: "Hello Sam,\n\nWe have paid your claim for “Peer interviews”.\n".into(),
                        html: "<p>Hello Sam,</p>\n<p>We have paid your claim for “Peer interviews”.</p>".into(),
                    },
                    DigestPart {
                        subject: "Your booking for Peer interviews is done".into(),
                        text: "Hello Sam,\n\nThank you for your work on “Peer interviews”.\n".into(),
                        html: "<p>Hello Sam,</p>\n<p>Thank you for your work on “Peer interviews”.</p>".into(),
                    },
                ],
                link: "https://coproduce.example/me/notification-preferences".into(),
            },
        ]
    }
}

fn example_mention(name: &str) -> Mention {
    Mention {
        user_id: "0190-example".into(),
        name: name.into(),
    }
}

/// Two sessions of an example element, for template tests and previews.
fn example_cancelled_calendar() -> Calendar {
    Calendar {
        cancelled: true,
        ..example_calendar()
    }
}

fn example_calendar() -> Calendar {
    let at = |day: u32, hour: u32| {
        chrono::NaiveDate::from_ymd_opt(2026, 12, day)
            .and_then(|d| d.and_hms_opt(hour, 0, 0))
            .unwrap_or_default()
            .and_utc()
    };
    Calendar {
        cancelled: false,
        stamp: at(1, 9),
        events: (1..=2)
            .map(|n| ics::Event {
                uid: format!("0190-{n}@coproduce.example"),
                starts_at: at(n * 7, 10),
                ends_at: at(n * 7, 12),
                summary: "Peer interviews".into(),
                location: "Leeds Central Library".into(),
                description: format!("Session {n} of 2."),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of `template` that may wait for a digest, in order.
    fn waits(template: &str) -> Vec<bool> {
        Email::examples()
            .iter()
            .filter(|email| email.template() == template)
            .map(Email::can_wait_for_digest)
            .collect()
    }

    #[test]
    fn a_claim_approved_or_paid_may_wait_but_a_rejected_one_goes_straight_away() {
        assert_eq!(waits("claim_update"), [true, false, true]);
    }

    #[test]
    fn a_place_archived_goes_straight_away_and_one_reinstated_may_wait() {
        assert_eq!(waits("pool_place_changed"), [false, true]);
    }

    #[test]
    fn links_invitations_and_decisions_never_wait() {
        for template in [
            "sign_in_link",
            "staff_invitation",
            "element_invitation",
            "application_decision",
            "invitation_outcome",
        ] {
            assert!(waits(template).iter().all(|w| !w), "{template}");
        }
    }
}
