//! Every email the service sends. Each variant has a folder in `templates/email/<template>/`
//! and its fields are the template's variables.

use serde::Serialize;

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
    DecisionReminder {
        name: String,
        round_title: String,
        waiting: usize,
        oldest_days: i64,
        answer_by: String,
        link: String,
    },
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
            Email::DecisionReminder {
                name: "Priya".into(),
                round_title: "Peer researchers 2027".into(),
                waiting: 4,
                oldest_days: 19,
                answer_by: "12 December 2026".into(),
                link: "https://coproduce.example/rounds/0190".into(),
            },
        ]
    }
}
