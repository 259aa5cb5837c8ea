//! Email: a closed set of messages, rendered from templates in the person's format, written to
//! the outbox in the same transaction as the change that causes them, and sent by a worker.

pub mod digest;
pub mod ics;
pub mod mailer;
pub mod message;
pub mod outbox;
pub mod smtp;
pub mod templates;

pub use mailer::{Mailer, OutgoingEmail, Sender};
pub use message::{Attachment, DigestPart, Email, Mention};
pub use outbox::{Outbox, Recipient};
pub use templates::{Rendered, Templates};
