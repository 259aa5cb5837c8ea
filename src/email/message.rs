//! Every email the service sends. Each variant has a folder in `templates/email/<template>/`
//! and its fields are the template's variables.

use serde::Serialize;

use super::ics::{self, Calendar};

/// A file sent with an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    /// The full MIME type with its parameters, e.g. `text/calendar; charset=utf-8; method=PUBLISH`.
    pub content_type: String,
    pub bytes: Vec<u8>,
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
        inviter: String,
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
    },
    /// To coordinators: someone left an element, and who (if anyone) took the seat.
    SeatFreed {
        name: String,
        element_title: String,
        /// The display name of who left.
        who: String,
        /// True when they withdrew themselves, false when a coordinator did.
        by_themselves: bool,
        note: String,
        /// Display names confirmed from the waiting list in their place.
        replacements: Vec<String>,
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
            Email::SeatFreed { .. } => "seat_freed",
        }
    }

    /// A file sent with the email, made from the variant's data when it is queued.
    pub fn attachment(&self) -> Option<Attachment> {
        match self {
            Email::InvitationOutcome {
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
                inviter: "Priya Shah".into(),
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
                sessions: vec!["Monday 7 December 2026, 10:00 to 12:00".into()],
                adjustments: vec!["Step-free access: the venue has it.".into()],
                respond_by: "Friday 27 November 2026".into(),
                message: String::new(),
                link: "https://coproduce.example/invitations/0190".into(),
            },
            Email::InvitationOutcome {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                outcome: "confirmed".into(),
                sessions: vec!["Monday 7 December 2026, 10:00 to 12:00".into()],
                link: "https://coproduce.example/me/assignments".into(),
                calendar: Some(example_calendar()),
            },
            Email::InvitationOutcome {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                outcome: "confirmed_from_waiting_list".into(),
                sessions: vec!["Monday 7 December 2026, 10:00 to 12:00".into()],
                link: "https://coproduce.example/me/assignments".into(),
                calendar: Some(example_calendar()),
            },
            Email::InvitationOutcome {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                outcome: "waitlisted".into(),
                sessions: vec!["Monday 7 December 2026, 10:00 to 12:00".into()],
                link: "https://coproduce.example/me/assignments".into(),
                calendar: None,
            },
            Email::AssignmentWithdrawn {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                by_you: true,
                note: "I have a hospital appointment that week.".into(),
                link: "https://coproduce.example/me/assignments".into(),
            },
            Email::AssignmentWithdrawn {
                name: "Sam".into(),
                element_title: "Peer interviews".into(),
                by_you: false,
                note: "The partner moved the sessions online.".into(),
                link: "https://coproduce.example/me/assignments".into(),
            },
            Email::SeatFreed {
                name: "Priya".into(),
                element_title: "Peer interviews".into(),
                who: "Sam".into(),
                by_themselves: true,
                note: String::new(),
                replacements: vec!["Alex".into()],
                seats_left: 0,
                link: "https://coproduce.example/elements/0190".into(),
            },
            Email::SeatFreed {
                name: "Priya".into(),
                element_title: "Peer interviews".into(),
                who: "Sam".into(),
                by_themselves: false,
                note: "Moved to another project.".into(),
                replacements: Vec::new(),
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
                link: "https://coproduce.example/rounds/0190".into(),
            },
            Email::AccountDeleted {
                name: "Sam".into(),
                link: "https://coproduce.example/".into(),
            },
        ]
    }
}

/// Two sessions of an example element, for template tests and previews.
fn example_calendar() -> Calendar {
    let at = |day: u32, hour: u32| {
        chrono::NaiveDate::from_ymd_opt(2026, 12, day)
            .and_then(|d| d.and_hms_opt(hour, 0, 0))
            .unwrap_or_default()
            .and_utc()
    };
    Calendar {
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
