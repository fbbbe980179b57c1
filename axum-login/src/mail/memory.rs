//! A mailer for tests: it keeps what it is given, so a test reads the link a flow sent.

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::sync::Notify;

use super::{MailError, Mailer, Message};
use crate::login::BoxFuture;

/// Keeps every message sent through it in memory (feature `test-util`). Clones share the
/// messages, so a test keeps one clone and gives the other to the [`Outbox`](super::Outbox).
///
/// ```
/// use std::time::Duration;
///
/// use axum_login::mail::{MemoryMailer, Message, Outbox};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mailer = MemoryMailer::default();
/// let outbox = Outbox::new(mailer.clone());
/// outbox.enqueue(Message::new("verify_email", "ferris@example.com", "Verify", "code 42", "")).unwrap();
/// let message = mailer.wait_for("ferris@example.com", Duration::from_secs(5)).await.unwrap();
/// assert_eq!(message.text(), "code 42");
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryMailer {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    sent: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// Every message sent, with whether `wait_for` has handed it out.
    sent: Vec<(Message, bool)>,
    fail_next: usize,
}

impl MemoryMailer {
    fn state(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every message sent so far, oldest first (including those `wait_for` returned).
    pub fn sent(&self) -> Vec<Message> {
        self.state()
            .sent
            .iter()
            .map(|(message, _)| message.clone())
            .collect()
    }

    /// The oldest message to `to` that no earlier call returned, waiting up to `timeout` for
    /// it to be sent; `None` if none came.
    pub async fn wait_for(&self, to: &str, timeout: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before the check, so a send between the check and the wait still
            // wakes it.
            let sent = self.shared.sent.notified();
            tokio::pin!(sent);
            sent.as_mut().enable();
            {
                let mut state = self.state();
                if let Some((message, taken)) = state
                    .sent
                    .iter_mut()
                    .find(|(message, taken)| !*taken && message.to() == to)
                {
                    *taken = true;
                    return Some(message.clone());
                }
            }
            tokio::time::timeout_at(deadline, sent).await.ok()?;
        }
    }

    /// Makes the next `n` sends fail with a [`MailError::Transport`] (which an outbox retries).
    pub fn fail_next(&self, n: usize) {
        self.state().fail_next = n;
    }
}

impl Mailer for MemoryMailer {
    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), MailError>> {
        let result = {
            let mut state = self.state();
            if state.fail_next > 0 {
                state.fail_next -= 1;
                Err(MailError::Transport(
                    "MemoryMailer::fail_next: failing as asked".into(),
                ))
            } else {
                state.sent.push((message.clone(), false));
                Ok(())
            }
        };
        if result.is_ok() {
            self.shared.sent.notify_waiters();
        }
        Box::pin(async { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(to: &str, text: &str) -> Message {
        Message::new("test", to, "Subject", text, "")
    }

    #[tokio::test]
    async fn wait_for_hands_out_each_message_once_in_order() {
        let mailer = MemoryMailer::default();
        let waiting = tokio::spawn({
            let mailer = mailer.clone();
            async move {
                mailer
                    .wait_for("a@example.test", Duration::from_secs(5))
                    .await
            }
        });
        tokio::task::yield_now().await;
        mailer
            .send(&message("b@example.test", "to b"))
            .await
            .expect("sent");
        mailer
            .send(&message("a@example.test", "first"))
            .await
            .expect("sent");
        mailer
            .send(&message("a@example.test", "second"))
            .await
            .expect("sent");

        let first = waiting.await.expect("joined").expect("woken by the send");
        assert_eq!(first.text(), "first");
        let second = mailer
            .wait_for("a@example.test", Duration::from_secs(5))
            .await;
        assert_eq!(second.expect("the next one").text(), "second");
        assert_eq!(
            mailer
                .wait_for("a@example.test", Duration::from_millis(10))
                .await,
            None,
            "both were taken"
        );
        assert_eq!(mailer.sent().len(), 3, "sent() still lists every message");
    }

    #[tokio::test]
    async fn fail_next_fails_that_many_sends_with_a_retryable_error() {
        let mailer = MemoryMailer::default();
        mailer.fail_next(2);
        for _ in 0..2 {
            let error = mailer
                .send(&message("a@example.test", "x"))
                .await
                .expect_err("failing as asked");
            assert!(!error.is_permanent());
        }
        mailer
            .send(&message("a@example.test", "x"))
            .await
            .expect("the third is sent");
        assert_eq!(mailer.sent().len(), 1);
    }
}
