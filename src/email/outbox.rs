//! The transactional outbox: `enqueue` writes the rendered email in the caller's transaction;
//! the worker claims due rows, sends them, and records the outcome. Delivery is at least once,
//! with a stable Message-ID per row. A failed send never loses the row.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::message::{DIGEST_TEMPLATE, MentionSpot};
use super::{Attachment, Email, Mailer, OutgoingEmail, Rendered, Sender, Templates, digest};
use crate::crypto::{CryptoError, DataCipher, Field};
use crate::db::models::outbox::OutboxRow;
use crate::db::models::user::UserRow;
use crate::db::queries::outbox as queries;
use crate::db::{Database, DbConn};
use crate::domain::email_format::EmailFormat;
use crate::domain::erasure::{
    DELETED_PERSON_IN_TEXT, identifying_words, json_escaped, replace_whole,
};
use crate::error::AppError;
use crate::settings::EmailSettings;

/// Who an email goes to.
pub struct Recipient<'a> {
    pub user_id: Option<&'a str>,
    pub address: &'a str,
    pub format: EmailFormat,
    /// They chose to get routine updates together in one daily digest.
    pub digest: bool,
}

impl<'a> Recipient<'a> {
    /// A registered person, in the format and with the digest they chose.
    pub fn user(user: &'a crate::db::models::user::UserRow) -> Self {
        Self {
            user_id: Some(&user.id),
            address: &user.email,
            format: EmailFormat::from_stored(&user.email_format),
            digest: user.email_digest,
        }
    }
}

/// Renders and queues email, sealed at rest; wakes the worker.
pub struct Outbox {
    templates: Templates,
    sender: Sender,
    wakeup: Notify,
    cipher: Arc<DataCipher>,
    digest_hour: u32,
}

impl Outbox {
    pub fn new(settings: &EmailSettings, cipher: Arc<DataCipher>) -> anyhow::Result<Self> {
        let templates = Templates::load(&settings.templates_dir)?;
        // A template that cannot render must stop start-up, not fail a sign-in later.
        templates.check_every_email()?;
        Ok(Self {
            templates,
            sender: Sender::of(settings)?,
            wakeup: Notify::new(),
            cipher,
            digest_hour: settings.digest_hour,
        })
    }

    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// Queues `email` for `to` on the caller's connection, so it commits or rolls back with
    /// the change that caused it. Routine email to someone who chose a digest is held for it
    /// (see `Email::can_wait_for_digest`). Returns the outbox id.
    pub fn enqueue(
        &self,
        conn: &mut DbConn,
        to: &Recipient<'_>,
        email: &Email,
    ) -> Result<String, AppError> {
        let rendered = self.render(email, to.format)?;
        let body = Body {
            text: rendered.text,
            html: rendered.html,
            mentions: rerender_of(email, to.format)?,
        };
        let now = Utc::now().naive_utc();
        // Only an account has a digest to gather it into.
        let held = to.digest && to.user_id.is_some() && email.can_wait_for_digest();
        let (status, due) = if held {
            (queries::HELD, digest::next_digest_at(now, self.digest_hour))
        } else {
            (queries::PENDING, now)
        };
        let row = Queued {
            template: email.template(),
            to,
            subject: rendered.subject,
            body,
            attachment: email.attachment(),
            status,
            due,
        };
        self.queue(conn, row, now)
    }

    fn render(&self, email: &Email, format: EmailFormat) -> Result<Rendered, AppError> {
        self.templates.render(email, format).map_err(|e| {
            AppError::Internal(anyhow::anyhow!("rendering {}: {e:#}", email.template()))
        })
    }

    /// Writes `queued` as a new row, its body sealed.
    fn queue(
        &self,
        conn: &mut DbConn,
        queued: Queued<'_, '_>,
        now: chrono::NaiveDateTime,
    ) -> Result<String, AppError> {
        let id = uuid::Uuid::now_v7().to_string();
        let sealed_body = Some(self.seal(&id, &queued.body)?);
        let attachment = queued.attachment;
        let row = OutboxRow {
            message_id: format!("<{id}@{}>", self.sender.from.email.domain()),
            id: id.clone(),
            template: queued.template.into(),
            user_id: queued.to.user_id.map(str::to_string),
            recipient: queued.to.address.to_string(),
            subject: queued.subject,
            body_text: String::new(),
            body_html: None,
            attachment_filename: attachment.as_ref().map(|a| a.filename.clone()),
            attachment_content_type: attachment.as_ref().map(|a| a.content_type.clone()),
            attachment_body: attachment.map(|a| a.bytes),
            status: queued.status.into(),
            attempts: 0,
            next_attempt_at: queued.due,
            locked_until: None,
            last_error: None,
            created_at: now,
            sent_at: None,
            mentions: None,
            sealed_body,
        };
        queries::insert(conn, &row)?;
        Ok(id)
    }

    /// Gathers the email held for `person` into one digest, queued to send now, on the
    /// caller's connection (which must hold their account). Email held for someone who no
    /// longer wants a digest, or that does not open, goes on by itself (the worker records a
    /// failure coordinators can see). Waits for nothing: with an erasure under way (which may
    /// be rewriting what is held) it gathers nothing this time. Another replica gathering the
    /// same email at once makes this fail with `DIGEST_GATHERED_ELSEWHERE`, rolling back.
    pub fn gather_digest(
        &self,
        conn: &mut DbConn,
        person: &UserRow,
        link: String,
    ) -> Result<DigestGathered, AppError> {
        if !queries::no_erasure_under_way(conn)? {
            return Ok(DigestGathered::Nothing);
        }
        let now = Utc::now().naive_utc();
        let held = queries::held_for(conn, &person.id)?;
        if held.is_empty() {
            return Ok(DigestGathered::Nothing);
        }
        if !person.email_digest {
            queries::release_held(conn, &person.id, now)?;
            return Ok(DigestGathered::Released);
        }
        let mut parts = Vec::with_capacity(held.len());
        let mut gathered_ids = Vec::with_capacity(held.len());
        let mut unopened = Vec::new();
        for row in &held {
            let opened = self.open(&row.id, row.sealed_body.as_deref(), || Body {
                text: row.body_text.clone(),
                html: row.body_html.clone(),
                mentions: None,
            });
            match opened {
                Ok(body) => {
                    gathered_ids.push(row.id.clone());
                    parts.push(HeldPart {
                        template: row.template.clone(),
                        subject: row.subject.clone(),
                        body,
                    });
                }
                // A replica without the key it was sealed with: try again where the key is.
                Err(CryptoError::UnknownKey) => {
                    return Err(AppError::Internal(anyhow::anyhow!(
                        "held email {} is sealed with a key that is not in crypto.data_key or crypto.previous_keys",
                        row.id
                    )));
                }
                Err(_) => unopened.push(row.id.clone()),
            }
        }
        if !unopened.is_empty() {
            tracing::warn!(
                count = unopened.len(),
                "held email that does not open goes on by itself, to fail where coordinators see it"
            );
            queries::release_these(conn, &unopened, now)?;
        }
        if parts.is_empty() {
            return Ok(DigestGathered::Released);
        }
        let kept = Gathered {
            name: person.display_name().to_string(),
            format: person.email_format.clone(),
            link,
            parts,
        };
        let (subject, body) = self.compose(kept)?;
        if queries::delete_held(conn, &gathered_ids)? != gathered_ids.len() {
            return Err(AppError::Conflict {
                code: DIGEST_GATHERED_ELSEWHERE,
                detail: "Another worker gathered this digest at the same time.".into(),
                extra: None,
            });
        }
        let to = Recipient::user(person);
        let queued = Queued {
            template: DIGEST_TEMPLATE,
            to: &to,
            subject,
            body,
            attachment: None,
            status: queries::PENDING,
            due: now,
        };
        self.queue(conn, queued, now)?;
        Ok(DigestGathered::Queued)
    }

    /// The digest of `gathered`: its subject and body, which keeps the parts it was made from.
    fn compose(&self, gathered: Gathered) -> Result<(String, Body), AppError> {
        let format = EmailFormat::from_stored(&gathered.format);
        let email = Email::Digest {
            name: gathered.name.clone(),
            parts: gathered
                .parts
                .iter()
                .map(|part| {
                    digest::part_of(&part.subject, &part.body.text, part.body.html.as_deref())
                })
                .collect(),
            link: gathered.link.clone(),
        };
        let rendered = self.render(&email, format)?;
        let kept = serde_json::to_string(&gathered).map_err(|e| AppError::Internal(e.into()))?;
        Ok((
            rendered.subject,
            Body {
                text: rendered.text,
                html: rendered.html,
                mentions: Some(kept),
            },
        ))
    }

    /// Takes `person` out of unsent email to other people, in the caller's transaction (their
    /// erasure; email to them is the caller's to delete). Email naming them through a `Mention`
    /// is rendered again with `DELETED_PERSON` in their place and without the words by or about
    /// them, or deleted if it no longer renders. Then their address, and their full name when it
    /// has two words or more, are replaced by `DELETED_PERSON_IN_TEXT` wherever they are still
    /// written (a coordinator's free-text note). Email being sent at that moment goes as it was.
    pub fn forget(&self, conn: &mut DbConn, person: &UserRow) -> Result<(), AppError> {
        // Two erasures rewriting the same email must not put back the other's name.
        queries::one_erasure_at_a_time(conn)?;
        let words = identifying_words(&person.email, &person.full_name);
        let mut after = None;
        loop {
            let page = queries::unsent_bodies(conn, after.as_deref(), FORGET_PAGE)?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = Some(last.id.clone());
            for stored in page {
                self.forget_in(conn, &stored, person, &words)?;
            }
        }
    }

    /// `forget` for one unsent row.
    fn forget_in(
        &self,
        conn: &mut DbConn,
        stored: &queries::StoredBody,
        person: &UserRow,
        words: &[&str],
    ) -> Result<(), AppError> {
        let opened = self.open(&stored.id, stored.sealed_body.as_deref(), || {
            Body::plain(stored)
        });
        let mut body = match opened {
            Ok(body) => body,
            // A replica or a command without the key this was sealed with: the erasure must
            // wait for the configuration to be put right rather than lose the email.
            Err(CryptoError::UnknownKey) => {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "outbox row {} is sealed with a key that is not in crypto.data_key or crypto.previous_keys",
                    stored.id
                )));
            }
            Err(_) => {
                // Damaged beyond sending, and it may name them.
                tracing::warn!(outbox_id = %stored.id, "unsent email that does not open deleted at an erasure");
                return Ok(queries::delete_unsent(conn, &stored.id)?);
            }
        };
        let mut subject = stored.subject.clone();
        let forgotten = if stored.template == DIGEST_TEMPLATE {
            self.forget_in_digest(&mut subject, &mut body, &person.id, words)
        } else {
            self.forget_in_email(&stored.template, &mut subject, &mut body, &person.id, words)
        };
        match forgotten {
            Forgotten::NotNamed => Ok(()),
            Forgotten::Changed => Ok(queries::rewrite(
                conn,
                &stored.id,
                &subject,
                &self.seal(&stored.id, &body)?,
            )?),
            Forgotten::Unsendable => {
                // Better unsent than naming them.
                tracing::warn!(outbox_id = %stored.id, template = %stored.template, "email naming an erased person no longer renders; deleted");
                Ok(queries::delete_unsent(conn, &stored.id)?)
            }
        }
    }

    /// Takes the person `user_id` out of one email (`template`): rendered again without them
    /// where it names them through a `Mention`, then their identifying `words` replaced
    /// wherever they are still written.
    fn forget_in_email(
        &self,
        template: &str,
        subject: &mut String,
        body: &mut Body,
        user_id: &str,
        words: &[&str],
    ) -> Forgotten {
        let mut changed = false;
        if let Some(mentions) = &body.mentions {
            match self.rerender_without(template, mentions, user_id) {
                Rerendered::NotNamed => {}
                Rerendered::Again(rendered, mentions) => {
                    *subject = rendered.subject;
                    *body = Body {
                        text: rendered.text,
                        html: rendered.html,
                        mentions,
                    };
                    changed = true;
                }
                Rerendered::NoLonger => return Forgotten::Unsendable,
            }
        }
        for needle in words {
            changed |= redact(subject, body, needle);
        }
        if changed {
            Forgotten::Changed
        } else {
            Forgotten::NotNamed
        }
    }

    /// `forget_in_email` for each email a digest gathered: one that no longer renders is left
    /// out, and the digest composed again from what is left (unsendable when nothing is).
    fn forget_in_digest(
        &self,
        subject: &mut String,
        body: &mut Body,
        user_id: &str,
        words: &[&str],
    ) -> Forgotten {
        let Some(mut gathered) = body
            .mentions
            .as_deref()
            .and_then(|kept| serde_json::from_str::<Gathered>(kept).ok())
        else {
            // What it was made from no longer reads: the words alone, as for any email.
            return self.forget_in_email(DIGEST_TEMPLATE, subject, body, user_id, words);
        };
        let mut changed = false;
        gathered.parts.retain_mut(|part| {
            match self.forget_in_email(
                &part.template,
                &mut part.subject,
                &mut part.body,
                user_id,
                words,
            ) {
                Forgotten::NotNamed => true,
                Forgotten::Changed => {
                    changed = true;
                    true
                }
                Forgotten::Unsendable => {
                    changed = true;
                    false
                }
            }
        });
        if !changed {
            return Forgotten::NotNamed;
        }
        if gathered.parts.is_empty() {
            return Forgotten::Unsendable;
        }
        match self.compose(gathered) {
            Ok((composed_subject, composed)) => {
                *subject = composed_subject;
                *body = composed;
                Forgotten::Changed
            }
            Err(_) => Forgotten::Unsendable,
        }
    }

    /// The email kept as `mentions` rendered again with `DELETED_PERSON` in the place of
    /// `user_id` and without the words by or about them.
    fn rerender_without(&self, template: &str, mentions: &str, user_id: &str) -> Rerendered {
        let Ok(mut rerender) = serde_json::from_str::<Rerender>(mentions) else {
            return Rerendered::NoLonger;
        };
        let (theirs, others): (Vec<_>, Vec<_>) = rerender
            .mentions
            .into_iter()
            .partition(|spot| spot.user_id == user_id);
        if theirs.is_empty() {
            return Rerendered::NotNamed;
        }
        for spot in &theirs {
            if let Some(name) = rerender.context.pointer_mut(&spot.name_at) {
                *name = DELETED_PERSON.into();
            }
            for at in &spot.clear {
                if let Some(words) = rerender.context.pointer_mut(at) {
                    *words = "".into();
                }
            }
        }
        rerender.mentions = others;
        let format = EmailFormat::from_stored(&rerender.format);
        let Ok(rendered) = self
            .templates
            .render_json(template, &rerender.context, format)
        else {
            return Rerendered::NoLonger;
        };
        let mentions = if rerender.mentions.is_empty() {
            None
        } else {
            match serde_json::to_string(&rerender) {
                Ok(kept) => Some(kept),
                Err(_) => return Rerendered::NoLonger,
            }
        };
        Rerendered::Again(rendered, mentions)
    }

    fn seal(&self, id: &str, body: &Body) -> Result<Vec<u8>, AppError> {
        seal_with(&self.cipher, id, body)
    }

    /// What a row says: `sealed` opened, or, for a row queued before bodies were sealed, its
    /// plain columns.
    fn open(
        &self,
        id: &str,
        sealed: Option<&[u8]>,
        plain: impl FnOnce() -> Body,
    ) -> Result<Body, CryptoError> {
        match sealed {
            Some(sealed) => self.cipher.decrypt_json(id, Field::EmailBody, sealed),
            None => Ok(plain()),
        }
    }

    /// The email `row` holds, ready for the mailer.
    fn outgoing(&self, row: &OutboxRow) -> Result<OutgoingEmail, CryptoError> {
        let body = self.open(&row.id, row.sealed_body.as_deref(), || Body {
            text: row.body_text.clone(),
            html: row.body_html.clone(),
            mentions: None,
        })?;
        Ok(OutgoingEmail {
            message_id: row.message_id.clone(),
            to: row.recipient.clone(),
            subject: row.subject.clone(),
            text: body.text,
            html: body.html,
            attachment: match (
                &row.attachment_filename,
                &row.attachment_content_type,
                &row.attachment_body,
            ) {
                (Some(filename), Some(content_type), Some(bytes)) => Some(Attachment {
                    filename: filename.clone(),
                    content_type: content_type.clone(),
                    bytes: bytes.clone(),
                }),
                _ => None,
            },
        })
    }

    /// Tells the worker there is email to send (call after the transaction commits).
    pub fn wake(&self) {
        self.wakeup.notify_one();
    }
}

fn seal_with(cipher: &DataCipher, id: &str, body: &Body) -> Result<Vec<u8>, AppError> {
    cipher
        .encrypt_json(id, Field::EmailBody, body)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("sealing outbox row {id}: {e}")))
}

/// Seals the bodies of up to `limit` unsent rows queued before bodies were sealed, in id order
/// after `after` (for `coproduce reencrypt`); returns how many, and the last row's id.
pub fn seal_plain_bodies(
    conn: &mut DbConn,
    cipher: &DataCipher,
    after: &str,
    limit: i64,
) -> Result<(usize, Option<String>), AppError> {
    let page = queries::unsent_plain_bodies(conn, after, limit)?;
    let mut sealed = 0;
    for stored in &page {
        let bytes = seal_with(cipher, &stored.id, &Body::plain(stored))?;
        sealed += queries::seal_plain_body(conn, &stored.id, &bytes)?;
    }
    Ok((sealed, page.last().map(|stored| stored.id.clone())))
}

/// Unsent rows an erasure opens at a time (a backlog after an outage can be large).
const FORGET_PAGE: i64 = 500;

/// Stands in the name of an erased person in email rendered again (where templates name
/// people: at the start of a sentence, or in a list).
pub const DELETED_PERSON: &str = "Someone who has since deleted their account";

/// What an outbox row says, sealed at rest (`outbox.sealed_body`): an invitation lists the
/// person's access adjustments, and a note can say anything. For a digest, `mentions` keeps
/// the `Gathered` emails it was made from.
#[derive(Debug, Serialize, Deserialize)]
struct Body {
    text: String,
    html: Option<String>,
    /// A `Rerender`, as JSON, for email naming people other than its recipient.
    mentions: Option<String>,
}

impl Body {
    /// The plain columns of a row queued before bodies were sealed.
    fn plain(stored: &queries::StoredBody) -> Self {
        Self {
            text: stored.body_text.clone(),
            html: stored.body_html.clone(),
            mentions: stored.mentions.clone(),
        }
    }
}

/// What `Outbox::gather_digest` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestGathered {
    /// Nothing was held, or an erasure was under way.
    Nothing,
    /// One digest is queued.
    Queued,
    /// Held email was sent on by itself, and nothing gathered.
    Released,
}

/// The conflict `Outbox::gather_digest` fails with when it lost a race to another replica.
pub const DIGEST_GATHERED_ELSEWHERE: &str = "digest_gathered_elsewhere";

/// What taking an erased person out of an unsent email did to it.
enum Forgotten {
    /// It does not name them.
    NotNamed,
    /// It no longer names them.
    Changed,
    /// It cannot be sent without them.
    Unsendable,
}

/// One held email, as a digest keeps it (so an erasure can take someone out of it).
#[derive(Debug, Serialize, Deserialize)]
struct HeldPart {
    template: String,
    subject: String,
    body: Body,
}

/// What a digest was composed from, kept in its body's `mentions`.
#[derive(Debug, Serialize, Deserialize)]
struct Gathered {
    name: String,
    format: String,
    link: String,
    parts: Vec<HeldPart>,
}

/// A new row for `enqueue` or a digest.
struct Queued<'a, 'b> {
    template: &'static str,
    to: &'a Recipient<'b>,
    subject: String,
    body: Body,
    attachment: Option<Attachment>,
    status: &'static str,
    due: chrono::NaiveDateTime,
}

/// An email rendered again without someone.
enum Rerendered {
    /// It does not name them.
    NotNamed,
    /// With them taken out, and what it is now rendered from (if it still names anyone).
    Again(super::templates::Rendered, Option<String>),
    /// It no longer renders (a changed template override, or what it was rendered from no
    /// longer reads).
    NoLonger,
}

/// What an email naming people other than its recipient was rendered from.
#[derive(Debug, Serialize, Deserialize)]
struct Rerender {
    format: String,
    context: serde_json::Value,
    mentions: Vec<MentionSpot>,
}

/// The JSON kept for `email` if it names anyone but its recipient.
fn rerender_of(email: &Email, format: EmailFormat) -> Result<Option<String>, AppError> {
    let mentions = email.mentions();
    if mentions.is_empty() {
        return Ok(None);
    }
    let rerender = Rerender {
        format: format.as_str().into(),
        context: serde_json::to_value(email).map_err(|e| AppError::Internal(e.into()))?,
        mentions,
    };
    serde_json::to_string(&rerender)
        .map(Some)
        .map_err(|e| AppError::Internal(e.into()))
}

/// Replaces every whole-word `needle` in `subject` and `body` by `DELETED_PERSON_IN_TEXT`, in
/// the form each part holds it (plain, HTML-escaped, JSON-escaped); false when there is none.
fn redact(subject: &mut String, body: &mut Body, needle: &str) -> bool {
    let html_needle = minijinja::HtmlEscape(needle).to_string();
    let html_with = minijinja::HtmlEscape(DELETED_PERSON_IN_TEXT).to_string();
    let (json_needle, json_with) = (json_escaped(needle), json_escaped(DELETED_PERSON_IN_TEXT));
    let mut changed = false;
    let mut swap = |part: &mut String, needle: &str, with: &str| {
        if let Some(replaced) = replace_whole(part, needle, with) {
            *part = replaced;
            changed = true;
        }
    };
    swap(subject, needle, DELETED_PERSON_IN_TEXT);
    swap(&mut body.text, needle, DELETED_PERSON_IN_TEXT);
    if let Some(html) = &mut body.html {
        swap(html, &html_needle, &html_with);
    }
    if let Some(mentions) = &mut body.mentions {
        swap(mentions, &json_needle, &json_with);
    }
    changed
}

/// What one pass of the worker did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    pub claimed: usize,
    pub sent: usize,
    pub failed: usize,
    pub dead: usize,
}

impl DrainReport {
    /// Adds what a background write of outcomes counted.
    fn add(&mut self, written: Result<DrainReport, tokio::task::JoinError>) {
        match written {
            Ok(part) => {
                self.sent += part.sent;
                self.failed += part.failed;
                self.dead += part.dead;
            }
            Err(join_error) => {
                tracing::warn!(error = %join_error, "recording email outcomes stopped");
            }
        }
    }
}

/// Everything the worker needs; cheap to clone.
#[derive(Clone)]
pub struct Worker {
    pub db: Database,
    pub mailer: Mailer,
    pub outbox: Arc<Outbox>,
    pub settings: EmailSettings,
}

/// Why a send that ran out of `email.smtp_timeout_secs` failed (kept on the outbox row).
const NO_ANSWER_IN_TIME: &str = "the mail server did not answer in time";

/// How long outcomes wait to be written together: one transaction for all the email sent in
/// this window instead of one per email. A crash may send this window's email again (same
/// Message-ID), which at-least-once delivery already allows.
const RECORD_EVERY: Duration = Duration::from_millis(10);

/// What happened to one claimed row, waiting to be written.
struct Outcome {
    row: OutboxRow,
    result: Result<(), String>,
    /// When the send finished (the row's `sent_at`, or the base of its next attempt).
    at: chrono::NaiveDateTime,
}

impl Worker {
    /// Claims one batch of due email, sends it `email.concurrent_sends` at a time, and records
    /// each outcome; outcomes are written in the background while later email is sent.
    pub async fn drain_once(&self) -> Result<DrainReport, AppError> {
        let now = Utc::now().naive_utc();
        // Long enough for a whole batch to time out one by one before another worker may retry it.
        let lease = Duration::from_secs(self.settings.smtp_timeout_secs.saturating_mul(2))
            .saturating_mul(self.settings.batch_size.max(1));
        let lease_until =
            now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::hours(1));
        let limit = i64::from(self.settings.batch_size.max(1));
        let claimed = self
            .db
            .write(move |conn| Ok(queries::claim_due(conn, now, lease_until, limit)?))
            .await?;
        let mut report = DrainReport {
            claimed: claimed.len(),
            ..DrainReport::default()
        };
        let send_budget =
            chrono::Duration::seconds(i64::try_from(self.settings.smtp_timeout_secs).unwrap_or(60));
        let at_once = usize::try_from(self.settings.concurrent_sends.max(1)).unwrap_or(1);
        let mut sends = futures_util::stream::iter(claimed)
            .map(|row| self.send(row, lease_until - send_budget))
            .buffer_unordered(at_once);
        let mut waiting = Vec::new();
        let mut recording: Option<tokio::task::JoinHandle<DrainReport>> = None;
        let mut window = std::time::Instant::now();
        while let Some(sent) = sends.next().await {
            let Some(outcome) = sent else { continue };
            waiting.push(outcome);
            if window.elapsed() >= RECORD_EVERY {
                if let Some(previous) = recording.take() {
                    report.add(previous.await);
                }
                recording = Some(tokio::spawn(
                    self.record(std::mem::take(&mut waiting), lease_until),
                ));
                window = std::time::Instant::now();
            }
        }
        if let Some(previous) = recording.take() {
            report.add(previous.await);
        }
        if !waiting.is_empty() {
            report.add(Ok(self.record(waiting, lease_until).await));
        }
        Ok(report)
    }

    /// Sends `row`, unless it is too late to finish before `start_by` (the row then stays leased
    /// and another pass, or worker, takes it after the lease).
    async fn send(&self, row: OutboxRow, start_by: chrono::NaiveDateTime) -> Option<Outcome> {
        if Utc::now().naive_utc() >= start_by {
            return None;
        }
        // The whole send within `email.smtp_timeout_secs`, however many steps it takes
        // (checking a reused connection, connecting, sending): started by `start_by`, it ends
        // within the lease, so no other worker can take the row while it is still being sent.
        let budget = Duration::from_secs(self.settings.smtp_timeout_secs);
        let result = match self
            .outbox
            .outgoing(&row)
            .map_err(|e| format!("the email's text does not open: {e}"))
            .and_then(|email| self.mailer.prepare(self.outbox.sender(), &email))
        {
            Ok(prepared) => tokio::time::timeout(budget, self.mailer.deliver(prepared))
                .await
                .unwrap_or_else(|_| Err(NO_ANSWER_IN_TIME.to_string())),
            Err(error) => Err(error),
        };
        Some(Outcome {
            row,
            result,
            at: Utc::now().naive_utc(),
        })
    }

    /// Writes `outcomes` in one transaction, each under the lease it was claimed with, then
    /// logs and counts them (in the background task, off the sending path).
    fn record(
        &self,
        outcomes: Vec<Outcome>,
        lease_until: chrono::NaiveDateTime,
    ) -> impl std::future::Future<Output = DrainReport> + 'static {
        let db = self.db.clone();
        let settings = self.settings.clone();
        async move {
            let changes: Vec<Change> = outcomes
                .iter()
                .map(|outcome| Change::of(outcome, &settings))
                .collect();
            let recorded = db
                .write(move |conn| {
                    changes
                        .iter()
                        .map(|change| change.apply(conn, lease_until))
                        .collect::<Result<Vec<bool>, _>>()
                        .map_err(AppError::from)
                })
                .await;
            match recorded {
                Ok(kept_leases) => tally(&outcomes, &kept_leases, settings.max_attempts),
                Err(db_error) => {
                    // The rows stay leased and are retried after the lease: at least once, same Message-ID.
                    tracing::warn!(emails = outcomes.len(), error = %db_error, "could not record the outcome of emails");
                    DrainReport::default()
                }
            }
        }
    }

    /// Runs forever: drains while there is work, then waits to be woken or for the poll interval.
    pub async fn run(self) {
        let idle = Duration::from_millis(self.settings.poll_interval_ms.max(10));
        loop {
            let full_batch = match self.drain_once().await {
                Ok(report) => report.claimed >= self.settings.batch_size.max(1) as usize,
                Err(error) => {
                    tracing::warn!(error = %error, "outbox worker pass failed; will try again");
                    false
                }
            };
            if !full_batch {
                tokio::select! {
                    () = self.outbox.wakeup.notified() => {}
                    () = tokio::time::sleep(idle) => {}
                }
            }
        }
    }
}

/// The attempt a send of `row` is.
fn attempt_of(row: &OutboxRow) -> u32 {
    u32::try_from(row.attempts).unwrap_or(0).saturating_add(1)
}

/// The update one outcome makes to its row.
enum Change {
    Sent {
        id: String,
        template: String,
        at: chrono::NaiveDateTime,
    },
    Failed {
        id: String,
        status: &'static str,
        next_attempt_at: chrono::NaiveDateTime,
        error: String,
    },
}

impl Change {
    fn of(outcome: &Outcome, settings: &EmailSettings) -> Self {
        let id = outcome.row.id.clone();
        match &outcome.result {
            Ok(()) => Change::Sent {
                id,
                template: outcome.row.template.clone(),
                at: outcome.at,
            },
            Err(error) => {
                let attempt = attempt_of(&outcome.row);
                let status = if attempt >= settings.max_attempts {
                    queries::DEAD
                } else {
                    queries::FAILED
                };
                let delay = retry_delay(attempt, settings, rand::rng().random::<f64>());
                Change::Failed {
                    id,
                    status,
                    next_attempt_at: outcome.at
                        + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1)),
                    error: error.clone(),
                }
            }
        }
    }

    fn apply(
        &self,
        conn: &mut DbConn,
        lease_until: chrono::NaiveDateTime,
    ) -> diesel::QueryResult<bool> {
        match self {
            Change::Sent { id, template, at } => {
                queries::mark_sent(conn, (id, template), lease_until, *at)
            }
            Change::Failed {
                id,
                status,
                next_attempt_at,
                error,
            } => queries::mark_failed(conn, id, lease_until, status, *next_attempt_at, error),
        }
    }
}

/// Logs each recorded outcome and counts them.
fn tally(outcomes: &[Outcome], kept_leases: &[bool], max_attempts: u32) -> DrainReport {
    let mut report = DrainReport::default();
    for (outcome, kept_lease) in outcomes.iter().zip(kept_leases) {
        let row = &outcome.row;
        let domain = row.recipient.rsplit_once('@').map_or("", |(_, d)| d);
        match (&outcome.result, kept_lease) {
            (_, false) => {
                tracing::warn!(outbox_id = %row.id, "lease lost before the outcome was recorded");
            }
            (Ok(()), true) => {
                tracing::info!(outbox_id = %row.id, template = %row.template, recipient_domain = %domain, "email sent");
                report.sent += 1;
            }
            (Err(error), true) => {
                let dead = attempt_of(row) >= max_attempts;
                tracing::warn!(outbox_id = %row.id, template = %row.template, recipient_domain = %domain, dead, error = %error, "email not sent");
                if dead {
                    report.dead += 1
                } else {
                    report.failed += 1
                }
            }
        }
    }
    report
}

/// Exponential backoff with "equal jitter": half the capped delay, plus a random share of the
/// other half (`jitter` in [0, 1)), so retries from many rows spread out.
pub fn retry_delay(attempt: u32, settings: &EmailSettings, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    let capped = settings
        .retry_base_secs
        .saturating_mul(1u64 << exponent)
        .min(settings.retry_max_secs);
    let half = capped as f64 / 2.0;
    Duration::from_secs_f64(half + half * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> EmailSettings {
        EmailSettings {
            retry_base_secs: 30,
            retry_max_secs: 3600,
            ..EmailSettings::default()
        }
    }

    #[test]
    fn retry_delay_doubles_per_attempt() {
        assert_eq!(retry_delay(1, &settings(), 1.0), Duration::from_secs(30));
        assert_eq!(retry_delay(2, &settings(), 1.0), Duration::from_secs(60));
        assert_eq!(retry_delay(4, &settings(), 1.0), Duration::from_secs(240));
    }

    #[test]
    fn retry_delay_is_capped() {
        assert_eq!(retry_delay(20, &settings(), 1.0), Duration::from_secs(3600));
        assert_eq!(
            retry_delay(u32::MAX, &settings(), 1.0),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn a_row_is_redacted_in_the_form_each_part_holds_the_name() {
        let name = "Ann O'Neil";
        let mut subject = "About Ann O'Neil".to_string();
        let mut body = Body {
            text: "Ann O'Neil said hi".to_string(),
            html: Some(format!("<p>{} said hi</p>", minijinja::HtmlEscape(name))),
            mentions: Some(r#"{"context":{"note":"Ann O'Neil said \"hi\""}}"#.to_string()),
        };
        assert!(redact(&mut subject, &mut body, name));
        assert_eq!(subject, format!("About {DELETED_PERSON_IN_TEXT}"));
        assert_eq!(body.text, format!("{DELETED_PERSON_IN_TEXT} said hi"));
        assert_eq!(
            body.html,
            Some(format!("<p>{DELETED_PERSON_IN_TEXT} said hi</p>"))
        );
        assert!(!body.mentions.unwrap_or_default().contains("Neil"));
    }

    #[test]
    fn a_row_not_naming_them_is_left_alone() {
        let mut subject = "About Ann".to_string();
        let mut body = Body {
            text: "Ann said hi".to_string(),
            html: None,
            mentions: None,
        };
        assert!(!redact(&mut subject, &mut body, "Priya Shah"));
        assert_eq!(
            (subject.as_str(), body.text.as_str()),
            ("About Ann", "Ann said hi")
        );
    }

    #[test]
    fn a_stored_context_renders_as_the_email_did() {
        let templates = Templates::load("").unwrap_or_else(|e| panic!("{e}"));
        for email in Email::examples() {
            let Ok(Some(stored)) = rerender_of(&email, EmailFormat::Standard) else {
                continue;
            };
            let rerender: Rerender =
                serde_json::from_str(&stored).unwrap_or_else(|e| panic!("{e}"));
            let again = templates
                .render_json(email.template(), &rerender.context, EmailFormat::Standard)
                .unwrap_or_else(|e| panic!("{e}"));
            let first = templates
                .render(&email, EmailFormat::Standard)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(again, first, "{}", email.template());
        }
    }

    #[test]
    fn jitter_keeps_at_least_half_the_delay() {
        assert_eq!(retry_delay(2, &settings(), 0.0), Duration::from_secs(30));
        let mid = retry_delay(2, &settings(), 0.5);
        assert!(mid > Duration::from_secs(30) && mid < Duration::from_secs(60));
    }
}
