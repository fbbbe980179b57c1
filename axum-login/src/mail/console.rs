//! A mailer for development: the mail goes to the log, where the developer clicks the link.

use super::{MailError, Mailer, Message};
use crate::login::BoxFuture;

/// Logs each whole message (recipient, subject and text body) at info level through `tracing`,
/// and never fails. For development only: the text carries the message's tokens, so a log
/// shipped anywhere shared would hand them out.
///
/// ```
/// use axum_login::mail::{ConsoleMailer, Mailer as _, Message};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let message = Message::new("verify_email", "ferris@example.com", "Verify", "Open http://localhost/v?t=1", "");
/// ConsoleMailer.send(&message).await.unwrap();
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleMailer;

impl Mailer for ConsoleMailer {
    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), MailError>> {
        tracing::info!(
            kind = message.kind(),
            to = message.to(),
            subject = message.subject(),
            "mail (ConsoleMailer, not sent):\n{}",
            message.text(),
        );
        Box::pin(async { Ok(()) })
    }
}
