//! Mail for the flows that need it, a password reset or an address to verify (feature `mail`).
//!
//! A flow builds a [`Message`] and hands it to an [`Outbox`], which answers at once: the mail
//! server's speed or outage never reaches the request that asked for the mail, and a flood of
//! requests cannot pile up unbounded work behind it (the queue is bounded; past it,
//! [`Outbox::enqueue`] refuses). The outbox's one background task sends through a [`Mailer`]:
//!
//! - [`SmtpMailer`]: SMTP with lettre over rustls, plain to a local relay, STARTTLS, or
//!   implicit TLS, from one URL;
//! - [`ConsoleMailer`]: development, the whole message in the log;
//! - `MemoryMailer` (feature `test-util`): tests, which read what was sent.
//!
//! # Best effort
//!
//! Queued messages live in memory only: those still waiting when the process exits are lost.
//! That is the right trade here: every message these flows send is one the user can ask for
//! again (another reset link, another verification mail), and a durable queue would be a
//! database table and a second worker to run for a message that is useless after its token
//! expires anyway. A message that cannot be sent after its attempts is reported once, to
//! [`Outbox::on_failure`] and as one `tracing` error line naming its kind.
//!
//! # What is logged
//!
//! Messages carry tokens (a reset link is a password), so nothing in this module logs a body
//! except [`ConsoleMailer`], whose purpose that is; the [`Debug`] form of a [`Message`] leaves
//! the bodies out too. Logs name the message's [`kind`](Message::kind), a fixed label.
//!
//! ```
//! use axum_login::mail::{ConsoleMailer, Message, Outbox};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let outbox = Outbox::new(ConsoleMailer);
//! let link = "https://app.example/reset?token=abc";
//! outbox
//!     .enqueue(Message::new(
//!         "password_reset",
//!         "ferris@example.com",
//!         "Reset your password",
//!         format!("Open {link} to choose a new password."),
//!         format!(r#"<p><a href="{link}">Choose a new password</a></p>"#),
//!     ))
//!     .expect("the outbox has room");
//! # }
//! ```

mod console;
#[cfg(feature = "test-util")]
mod memory;
mod outbox;
mod smtp;

use std::{fmt, time::Duration};

#[cfg(feature = "test-util")]
pub use self::memory::MemoryMailer;
pub use self::{
    console::ConsoleMailer,
    outbox::{Outbox, OutboxFull},
    smtp::{MailConfigError, SmtpMailer},
};
use crate::{error::BoxError, login::BoxFuture};

/// One mail to one recipient, with a plain-text and an HTML body.
///
/// Its [`Debug`] form shows the kind, recipient and subject, and only the lengths of the bodies,
/// which carry tokens.
///
/// ```
/// use axum_login::mail::Message;
///
/// let message = Message::new("verify_email", "ferris@example.com", "Verify", "code 123456", "<p>code 123456</p>");
/// assert_eq!(message.kind(), "verify_email");
/// assert!(!format!("{message:?}").contains("123456"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    kind: &'static str,
    to: String,
    subject: String,
    text: String,
    html: String,
}

impl Message {
    /// A message to `to` (`addr@host` or `Name <addr@host>`), sent as `multipart/alternative`
    /// with both bodies. `kind` is a short fixed label of what the mail is (`"password_reset"`,
    /// `"verify_email"`, ...), used in logs and events: never user data.
    pub fn new(
        kind: &'static str,
        to: impl Into<String>,
        subject: impl Into<String>,
        text: impl Into<String>,
        html: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            to: to.into(),
            subject: subject.into(),
            text: text.into(),
            html: html.into(),
        }
    }

    /// What the mail is, as given to [`new`](Self::new).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The recipient, as given.
    pub fn to(&self) -> &str {
        &self.to
    }

    /// The subject line.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The plain-text body.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The HTML body.
    pub fn html(&self) -> &str {
        &self.html
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("kind", &self.kind)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .field("html", &format_args!("<{} bytes>", self.html.len()))
            .finish()
    }
}

/// Something that delivers one message: [`SmtpMailer`], [`ConsoleMailer`], `MemoryMailer`,
/// or one of the app's (an HTTP mail API, say).
///
/// Object-safe, so an [`Outbox`] keeps it as `dyn Mailer`. An implementation should bound its
/// own time (as [`SmtpMailer::timeout`] does): a send that never finishes holds one of the
/// outbox's few sending slots for good. Sort its errors by [`MailError::is_permanent`]: the
/// outbox retries the others.
///
/// ```
/// use axum_login::{login::BoxFuture, mail::{MailError, Mailer, Message}};
///
/// struct Discard;
///
/// impl Mailer for Discard {
///     fn send<'a>(&'a self, _message: &'a Message) -> BoxFuture<'a, Result<(), MailError>> {
///         Box::pin(async { Ok(()) })
///     }
/// }
/// ```
pub trait Mailer: Send + Sync + 'static {
    /// Delivers `message`, or says why not.
    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), MailError>>;
}

/// Why a message was not delivered.
///
/// [`is_permanent`](Self::is_permanent) sorts them: a permanent error fails the same way
/// however often it is tried, so an [`Outbox`] gives up on it at once; the others are retried.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// An address (the recipient, or the sender a mailer was given) is not a mail address.
    /// Permanent.
    #[error("`{address}` is not a valid mail address: {reason}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The message could not be put together. Permanent.
    #[error("the message could not be built: {0}")]
    InvalidMessage(#[source] BoxError),

    /// The mail server refused the message or the login with a permanent (`5xx`) reply: an
    /// unknown recipient, wrong credentials. Permanent.
    #[error("the mail server refused permanently: {0}")]
    Rejected(#[source] BoxError),

    /// The server could not be reached, the connection or TLS failed, or the server answered
    /// with a transient (`4xx`) reply. Retried.
    #[error("mail transport failed: {0}")]
    Transport(#[source] BoxError),

    /// The send took longer than its mailer allows. Retried.
    #[error("sending timed out after {0:?}")]
    Timeout(Duration),
}

impl MailError {
    /// Whether trying again cannot help: a bad address, a malformed message, a permanent
    /// refusal. An [`Outbox`] retries the rest.
    ///
    /// ```
    /// use axum_login::mail::MailError;
    ///
    /// assert!(!MailError::Transport("connection refused".into()).is_permanent());
    /// assert!(MailError::Rejected("550 no such user".into()).is_permanent());
    /// ```
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::InvalidAddress { .. } | Self::InvalidMessage(_) | Self::Rejected(_) => true,
            Self::Transport(_) | Self::Timeout(_) => false,
        }
    }
}
