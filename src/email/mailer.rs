//! Where email goes: an SMTP relay (lettre, pooled, with timeouts; connections in smtp.rs), .eml files (the local
//! default) or memory (tests). Chosen by `email.transport`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};

use super::Attachment;
use super::smtp::SmtpRelay;
use crate::settings::{EmailSettings, EmailTransport};

/// One email as it leaves the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// `<id@domain>`, the same on every attempt so receivers can drop duplicates.
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub attachment: Option<Attachment>,
}

/// An email ready to go: what the transport sends.
pub enum Prepared {
    Formatted {
        envelope: Envelope,
        bytes: Vec<u8>,
    },
    /// The memory mailer keeps the email as it was.
    Kept(OutgoingEmail),
}

#[derive(Clone)]
pub enum Mailer {
    Smtp(SmtpRelay),
    File(AsyncFileTransport<Tokio1Executor>),
    Memory(Arc<Mutex<Vec<OutgoingEmail>>>),
}

impl Mailer {
    pub fn from_settings(settings: &EmailSettings) -> anyhow::Result<Self> {
        Ok(match settings.transport {
            EmailTransport::Smtp => {
                let timeout = Duration::from_secs(settings.smtp_timeout_secs);
                let connections = usize::try_from(settings.concurrent_sends).unwrap_or(1);
                Mailer::Smtp(
                    SmtpRelay::from_url(&settings.smtp_url, timeout, connections)
                        .map_err(|e| anyhow::anyhow!("email.smtp_url: {e}"))?,
                )
            }
            EmailTransport::File => {
                std::fs::create_dir_all(&settings.file_dir).map_err(|e| {
                    anyhow::anyhow!("email.file_dir: cannot create {}: {e}", settings.file_dir)
                })?;
                Mailer::File(AsyncFileTransport::new(&settings.file_dir))
            }
            EmailTransport::Memory => Mailer::Memory(Arc::default()),
        })
    }

    /// Builds the bytes `deliver` sends. The error text is for the outbox row, so it never holds
    /// the address.
    pub fn prepare(&self, sender: &Sender, email: &OutgoingEmail) -> Result<Prepared, String> {
        if let Mailer::Memory(_) = self {
            return Ok(Prepared::Kept(email.clone()));
        }
        let message = build_message(sender, email)?;
        Ok(Prepared::Formatted {
            envelope: message.envelope().clone(),
            bytes: message.formatted(),
        })
    }

    /// Sends what `prepare` built. The error text never holds the address.
    pub async fn deliver(&self, prepared: Prepared) -> Result<(), String> {
        let result = match (self, prepared) {
            (Mailer::Memory(sent), Prepared::Kept(email)) => {
                sent.lock()
                    .map_err(|_| "memory mailer poisoned".to_string())?
                    .push(email);
                Ok(())
            }
            (Mailer::Smtp(relay), Prepared::Formatted { envelope, bytes }) => {
                relay.send(&envelope, &bytes).await
            }
            (Mailer::File(transport), Prepared::Formatted { envelope, bytes }) => transport
                .send_raw(&envelope, &bytes)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            _ => Err("the email was prepared for another transport".to_string()),
        };
        result.map_err(|error| mask_addresses(&error))
    }

    /// What the memory mailer holds (empty for the others).
    pub fn sent(&self) -> Vec<OutgoingEmail> {
        match self {
            Mailer::Memory(sent) => sent.lock().map(|s| s.clone()).unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// Who an email is from, and where replies to it go.
#[derive(Debug, Clone)]
pub struct Sender {
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
}

impl Sender {
    pub fn of(settings: &EmailSettings) -> anyhow::Result<Self> {
        let from = settings
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("email.from: {e}"))?;
        let reply_to = match settings.reply_to.trim() {
            "" => None,
            address => Some(
                address
                    .parse()
                    .map_err(|e| anyhow::anyhow!("email.reply_to: {e}"))?,
            ),
        };
        Ok(Self { from, reply_to })
    }
}

pub fn build_message(sender: &Sender, email: &OutgoingEmail) -> Result<Message, String> {
    let to: Mailbox = email
        .to
        .parse()
        .map_err(|_| "the recipient address is not valid".to_string())?;
    let mut builder = Message::builder()
        .from(sender.from.clone())
        .to(to)
        .subject(email.subject.clone())
        .message_id(Some(email.message_id.clone()));
    if let Some(reply_to) = &sender.reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    let message = match (&email.html, &email.attachment) {
        (Some(html), None) => builder.multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            html.clone(),
        )),
        (None, None) => builder.singlepart(SinglePart::plain(email.text.clone())),
        // multipart/mixed: the words first (both forms, or plain text), then the file.
        (html, Some(attachment)) => {
            let file = attachment_part(attachment)?;
            let mixed = match html {
                Some(html) => MultiPart::mixed().multipart(MultiPart::alternative_plain_html(
                    email.text.clone(),
                    html.clone(),
                )),
                None => MultiPart::mixed().singlepart(SinglePart::plain(email.text.clone())),
            };
            builder.multipart(mixed.singlepart(file))
        }
    };
    message.map_err(|e| format!("building the message failed: {e}"))
}

/// The file as a base64 part, so its bytes (and CRLF line endings) arrive exactly as made.
fn attachment_part(attachment: &Attachment) -> Result<SinglePart, String> {
    let content_type = ContentType::parse(&attachment.content_type)
        .map_err(|e| format!("the attachment's content type is not valid: {e}"))?;
    let body = Body::new_with_encoding(attachment.bytes.clone(), ContentTransferEncoding::Base64)
        .map_err(|_| "the attachment could not be encoded".to_string())?;
    Ok(lettre::message::Attachment::new(attachment.filename.clone()).body(body, content_type))
}

/// Replaces anything that looks like an email address, so errors can be stored and shown.
pub fn mask_addresses(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains('@') {
                "<address>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_errors_are_masked() {
        assert_eq!(
            mask_addresses("550 5.1.1 <sam@example.org>: mailbox unavailable"),
            "550 5.1.1 <address> mailbox unavailable"
        );
    }

    fn sender() -> Sender {
        Sender::of(&EmailSettings {
            from: "coproduce <no-reply@coproduce.example>".into(),
            reply_to: "Coordinators <team@coproduce.example>".into(),
            ..EmailSettings::default()
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn replies_go_to_the_reply_to_address_and_nowhere_when_it_is_empty() {
        let email = OutgoingEmail {
            message_id: "<0190@coproduce.example>".into(),
            to: "sam@example.org".into(),
            subject: "Hello".into(),
            text: "plain words".into(),
            html: None,
            attachment: None,
        };
        let raw = |sender: &Sender| {
            String::from_utf8(
                build_message(sender, &email)
                    .unwrap_or_else(|e| panic!("{e}"))
                    .formatted(),
            )
            .unwrap_or_default()
        };
        assert!(raw(&sender()).contains("Reply-To: Coordinators <team@coproduce.example>"));
        let mut nowhere = sender();
        nowhere.reply_to = None;
        assert!(!raw(&nowhere).contains("Reply-To"));
    }

    #[test]
    fn message_has_both_parts_and_the_stable_message_id() {
        let from = sender();
        let email = OutgoingEmail {
            message_id: "<0190@coproduce.example>".into(),
            to: "sam@example.org".into(),
            subject: "Hello".into(),
            text: "plain words".into(),
            html: Some("<p>html words</p>".into()),
            attachment: None,
        };
        let raw = String::from_utf8(
            build_message(&from, &email)
                .unwrap_or_else(|e| panic!("{e}"))
                .formatted(),
        )
        .unwrap_or_default();
        assert!(
            raw.contains("Message-ID: <0190@coproduce.example>"),
            "{raw}"
        );
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("plain words") && raw.contains("html words"));
    }

    #[test]
    fn an_attachment_makes_a_mixed_message_with_the_words_and_the_file() {
        let from = sender();
        let email = OutgoingEmail {
            message_id: "<0190@coproduce.example>".into(),
            to: "sam@example.org".into(),
            subject: "You are booked".into(),
            text: "plain words".into(),
            html: Some("<p>html words</p>".into()),
            attachment: Some(Attachment {
                filename: "peer-interviews.ics".into(),
                content_type: "text/calendar; charset=utf-8; method=PUBLISH".into(),
                bytes: b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".to_vec(),
            }),
        };
        let raw = String::from_utf8(
            build_message(&from, &email)
                .unwrap_or_else(|e| panic!("{e}"))
                .formatted(),
        )
        .unwrap_or_default();
        let mixed = raw
            .find("multipart/mixed")
            .unwrap_or_else(|| panic!("{raw}"));
        let alternative = raw
            .find("multipart/alternative")
            .unwrap_or_else(|| panic!("{raw}"));
        let calendar = raw
            .find("Content-Type: text/calendar")
            .unwrap_or_else(|| panic!("{raw}"));
        assert!(mixed < alternative && alternative < calendar, "{raw}");
        assert!(raw.contains("method=PUBLISH"), "{raw}");
        assert!(
            raw.contains("Content-Disposition: attachment; filename=\"peer-interviews.ics\""),
            "{raw}"
        );
        // base64 of the calendar bytes
        assert!(
            raw.contains("QkVHSU46VkNBTEVOREFSDQpFTkQ6VkNBTEVOREFSDQo="),
            "{raw}"
        );
    }
}
