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
}

impl Email {
    pub fn template(&self) -> &'static str {
        match self {
            Email::SignInLink { .. } => "sign_in_link",
            Email::AlreadyRegistered { .. } => "already_registered",
            Email::StaffInvitation { .. } => "staff_invitation",
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
                link,
                days: 7,
            },
        ]
    }
}
