//! The queue between a request and the mailer.
//!
//! A request only puts the message in memory ([`Outbox::enqueue`] is a plain function, never
//! a future), so neither a slow nor a down mail server makes a login page slow. The queue is
//! bounded by a count of messages accepted and not yet finished (waiting, being sent, or
//! waiting to be retried): memory stays bounded however the server behaves, and a flood of
//! reset requests is refused past it instead of growing a backlog that would be sent hours late.
//!
//! One task, spawned by [`Outbox::new`], sends. It sends up to [`CONCURRENT_SENDS`] messages at
//! a time, and a message waiting for its retry waits outside those slots: a message whose
//! recipient's server is down, or a transient refusal, delays nothing queued behind it. Only a
//! send in progress holds a slot, and mailers bound their sends (the SMTP one by its timeout),
//! so the queue always moves. A few slots rather than one task per message keep a burst from
//! opening hundreds of connections to the relay at once.

use std::{
    fmt,
    panic::AssertUnwindSafe,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures_util::{StreamExt as _, stream::FuturesUnordered};
use tokio::sync::{Semaphore, mpsc};

use super::{MailError, Mailer, Message};

/// How many messages the worker sends at the same time.
pub(crate) const CONCURRENT_SENDS: usize = 4;

type FailureHook = Arc<dyn Fn(&Message, &MailError) + Send + Sync>;

/// A bounded queue in front of a [`Mailer`], drained by one background tokio task, so that
/// sending mail never blocks or fails the request that caused it.
///
/// A transport error (the server is down, a `4xx` reply, a timeout) is retried after a backoff
/// that doubles each time, up to a maximum, while attempts remain; a permanent one (a bad
/// address, a `5xx` reply) is not. A message that finally fails is logged once at error level,
/// with its kind and the error and never its body, and given to the
/// [`on_failure`](Self::on_failure) hook. Messages still queued when the process exits are
/// lost (see [the module](super#best-effort)).
///
/// Defaults: room for 1000 messages, 5 attempts, a backoff of 1 s doubling up to 5 min. The
/// settings are shared by every clone and apply to messages queued after they are set: set
/// them where the outbox is made.
///
/// ```
/// use std::time::Duration;
///
/// use axum_login::mail::{ConsoleMailer, Outbox};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let outbox = Outbox::new(ConsoleMailer)
///     .capacity(100)
///     .attempts(3)
///     .backoff(Duration::from_secs(2), Duration::from_secs(60))
///     .on_failure(|message, error| {
///         eprintln!("could not send a {} mail: {error}", message.kind());
///     });
/// assert_eq!(outbox.queued(), 0);
/// # }
/// ```
#[derive(Clone)]
pub struct Outbox {
    sender: mpsc::UnboundedSender<Message>,
    shared: Arc<Shared>,
}

/// What the handles and the worker share.
struct Shared {
    /// Messages accepted and not finished; the queue's bound applies to it.
    pending: AtomicUsize,
    settings: Mutex<Settings>,
}

#[derive(Clone)]
struct Settings {
    capacity: usize,
    attempts: u32,
    first_backoff: Duration,
    max_backoff: Duration,
    on_failure: Option<FailureHook>,
}

impl Shared {
    fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn finished(&self) {
        self.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// [`Outbox::enqueue`] refused a message: the queue holds as many as it may (or, while the
/// process shuts down, its worker has stopped). The message was dropped; the user can ask for
/// it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the mail outbox is full ({capacity} messages wait to be sent); the message was dropped")]
#[non_exhaustive]
pub struct OutboxFull {
    /// The outbox's capacity.
    pub capacity: usize,
}

impl Outbox {
    /// An outbox that sends through `mailer`, with the default settings. Spawns its worker:
    /// call it inside a tokio runtime. The worker ends once every clone of the outbox is
    /// dropped and what they queued is done.
    pub fn new(mailer: impl Mailer) -> Self {
        let shared = Arc::new(Shared {
            pending: AtomicUsize::new(0),
            settings: Mutex::new(Settings {
                capacity: 1000,
                attempts: 5,
                first_backoff: Duration::from_secs(1),
                max_backoff: Duration::from_secs(5 * 60),
                on_failure: None,
            }),
        });
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(run(Box::new(mailer), Arc::clone(&shared), receiver));
        Self { sender, shared }
    }

    /// How many messages may be queued (waiting, being sent or waiting for a retry) at once;
    /// past it, [`enqueue`](Self::enqueue) refuses. Default: 1000.
    pub fn capacity(self, n: usize) -> Self {
        self.shared.settings().capacity = n;
        self
    }

    /// How many times a message is tried before it is given up on (at least once). Default: 5.
    pub fn attempts(self, n: u32) -> Self {
        self.shared.settings().attempts = n.max(1);
        self
    }

    /// The wait before the first retry, doubled before each next one up to `max`. Default:
    /// 1 s, up to 5 min.
    pub fn backoff(self, first: Duration, max: Duration) -> Self {
        let mut settings = self.shared.settings();
        settings.first_backoff = first;
        settings.max_backoff = max.max(first);
        drop(settings);
        self
    }

    /// Called from the worker task, once, for each message that finally failed (every attempt
    /// used, or a permanent error); replaces an earlier hook. Keep it quick: the worker waits
    /// for it. A panic in it is caught and logged.
    pub fn on_failure(self, hook: impl Fn(&Message, &MailError) + Send + Sync + 'static) -> Self {
        self.shared.settings().on_failure = Some(Arc::new(hook));
        self
    }

    /// Queues `message` and returns at once; never waits, and works outside the runtime too.
    ///
    /// When the queue is full the message is dropped, logged at warn level (its kind,
    /// recipient and subject, not its body), and [`OutboxFull`] returned for the caller to
    /// count; the request should go on as if the mail had been sent, which also tells nobody
    /// whether an account exists.
    pub fn enqueue(&self, message: Message) -> Result<(), OutboxFull> {
        let capacity = self.shared.settings().capacity;
        let reserved = self
            .shared
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |pending| {
                (pending < capacity).then_some(pending + 1)
            })
            .is_ok();
        if !reserved {
            tracing::warn!(
                kind = message.kind(),
                to = message.to(),
                subject = message.subject(),
                capacity,
                "the mail outbox is full; message dropped"
            );
            return Err(OutboxFull { capacity });
        }
        if let Err(mpsc::error::SendError(message)) = self.sender.send(message) {
            self.shared.finished();
            tracing::warn!(
                kind = message.kind(),
                to = message.to(),
                subject = message.subject(),
                "the mail outbox's worker has stopped (its runtime shut down); message dropped"
            );
            return Err(OutboxFull { capacity });
        }
        Ok(())
    }

    /// How many messages are queued: waiting, being sent, or waiting for a retry.
    pub fn queued(&self) -> usize {
        self.shared.pending.load(Ordering::Acquire)
    }
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = self.shared.settings();
        f.debug_struct("Outbox")
            .field("queued", &self.queued())
            .field("capacity", &settings.capacity)
            .field("attempts", &settings.attempts)
            .field("first_backoff", &settings.first_backoff)
            .field("max_backoff", &settings.max_backoff)
            .finish_non_exhaustive()
    }
}

/// The worker: takes messages as they come and delivers them, up to [`CONCURRENT_SENDS`] at
/// a time, until every handle is gone and nothing is left.
async fn run(
    mailer: Box<dyn Mailer>,
    shared: Arc<Shared>,
    mut receiver: mpsc::UnboundedReceiver<Message>,
) {
    let slots = Semaphore::new(CONCURRENT_SENDS);
    let mut delivering = FuturesUnordered::new();
    let mut open = true;
    while open || !delivering.is_empty() {
        tokio::select! {
            message = receiver.recv(), if open => match message {
                Some(message) => delivering.push(deliver(&*mailer, &shared, &slots, message)),
                None => open = false,
            },
            Some(()) = delivering.next(), if !delivering.is_empty() => {}
        }
    }
}

/// Tries `message` until it is sent, fails permanently, or has used its attempts; only a send
/// in progress holds one of the `slots`.
async fn deliver(mailer: &dyn Mailer, shared: &Shared, slots: &Semaphore, message: Message) {
    let settings = shared.settings().clone();
    let mut backoff = settings.first_backoff;
    let mut attempt = 1;
    let error = loop {
        let result = {
            // The semaphore is never closed, so this always holds a slot.
            let _slot = slots.acquire().await.ok();
            mailer.send(&message).await
        };
        match result {
            Ok(()) => {
                tracing::debug!(kind = message.kind(), attempt, "mail sent");
                shared.finished();
                return;
            }
            Err(error) if error.is_permanent() || attempt >= settings.attempts => break error,
            Err(error) => {
                tracing::warn!(
                    kind = message.kind(),
                    attempt,
                    error = %error,
                    retry_in = ?backoff,
                    "mail not sent; will retry"
                );
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2).min(settings.max_backoff);
                attempt += 1;
            }
        }
    };
    tracing::error!(
        kind = message.kind(),
        attempts = attempt,
        error = %error,
        "mail not sent; giving up"
    );
    shared.finished();
    if let Some(hook) = &settings.on_failure
        && std::panic::catch_unwind(AssertUnwindSafe(|| hook(&message, &error))).is_err()
    {
        tracing::error!(
            kind = message.kind(),
            "the mail outbox's on_failure hook panicked"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use tokio::time::Instant;

    use super::*;
    use crate::login::BoxFuture;

    /// A mailer that answers from a script (then `Ok`), records when it was called, and can be
    /// held shut until the test opens its gate.
    #[derive(Clone)]
    struct Scripted {
        /// How many more sends fail.
        failures: Arc<AtomicUsize>,
        /// What they fail with.
        error: fn() -> MailError,
        calls: Arc<Mutex<Vec<(String, Instant)>>>,
        gate: Arc<Semaphore>,
        sent: mpsc::UnboundedSender<Message>,
        /// Recipients whose every send fails with a transport error.
        down: &'static str,
    }

    impl Scripted {
        /// Fails the first `failures` sends with `error`.
        fn new(
            failures: usize,
            error: fn() -> MailError,
        ) -> (Self, mpsc::UnboundedReceiver<Message>) {
            let (sent, receiver) = mpsc::unbounded_channel();
            let mailer = Self {
                failures: Arc::new(AtomicUsize::new(failures)),
                error,
                calls: Arc::default(),
                gate: Arc::new(Semaphore::new(Semaphore::MAX_PERMITS)),
                sent,
                down: "",
            };
            (mailer, receiver)
        }

        fn shut(self) -> Self {
            Self {
                gate: Arc::new(Semaphore::new(0)),
                ..self
            }
        }

        /// The times of the calls, from the first.
        fn call_offsets(&self) -> Vec<Duration> {
            let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
            calls.iter().map(|(_, at)| *at - calls[0].1).collect()
        }

        fn call_count(&self) -> usize {
            self.calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
        }
    }

    impl Mailer for Scripted {
        fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<(), MailError>> {
            Box::pin(async move {
                self.gate
                    .acquire()
                    .await
                    .expect("the gate is open")
                    .forget();
                self.calls
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((message.to().to_owned(), Instant::now()));
                if message.to() == self.down {
                    return Err(MailError::Transport("down".into()));
                }
                let failing = self
                    .failures
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if failing {
                    return Err((self.error)());
                }
                let _ = self.sent.send(message.clone());
                Ok(())
            })
        }
    }

    fn transport() -> MailError {
        MailError::Transport("connection refused".into())
    }

    fn invalid_address() -> MailError {
        MailError::InvalidAddress {
            address: "nobody".into(),
            reason: "missing domain".into(),
        }
    }

    fn message(to: &str) -> Message {
        Message::new("test", to, "Subject", "text", "<p>html</p>")
    }

    /// A hook that counts its calls and sends each error out.
    fn counting_hook(
        outbox: Outbox,
    ) -> (
        Outbox,
        Arc<AtomicU32>,
        mpsc::UnboundedReceiver<(String, bool, Instant)>,
    ) {
        let count = Arc::new(AtomicU32::new(0));
        let (sender, receiver) = mpsc::unbounded_channel();
        let counted = Arc::clone(&count);
        let outbox = outbox.on_failure(move |message, error| {
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = sender.send((
                message.to().to_owned(),
                error.is_permanent(),
                Instant::now(),
            ));
        });
        (outbox, count, receiver)
    }

    #[tokio::test]
    async fn enqueue_past_capacity_is_refused_until_the_queue_drains() {
        let (mailer, mut sent) = Scripted::new(0, transport);
        let mailer = mailer.shut();
        let gate = Arc::clone(&mailer.gate);
        let outbox = Outbox::new(mailer).capacity(3);

        for i in 0..3 {
            outbox
                .enqueue(message(&format!("user{i}@example.test")))
                .expect("room for three");
        }
        assert_eq!(
            outbox.enqueue(message("fourth@example.test")),
            Err(OutboxFull { capacity: 3 })
        );
        assert_eq!(outbox.queued(), 3);

        gate.add_permits(3);
        for _ in 0..3 {
            sent.recv().await.expect("each queued message is sent");
        }
        // The count drops just after the send returns.
        while outbox.queued() > 0 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(1);
        outbox
            .enqueue(message("fifth@example.test"))
            .expect("room again once the queue drained");
        assert_eq!(
            sent.recv().await.expect("sent").to(),
            "fifth@example.test",
            "the refused message was dropped, not kept"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn enqueue_never_waits_for_the_mailer_or_the_runtime() {
        let (mailer, _sent) = Scripted::new(0, transport);
        let outbox = Outbox::new(mailer.shut());
        // The mailer never answers and, on this one-thread runtime with no `.await` here, the
        // worker never even runs: enqueue returns without either.
        for i in 0..100 {
            outbox
                .enqueue(message(&format!("user{i}@example.test")))
                .expect("room");
        }
        let handle = outbox.clone();
        std::thread::spawn(move || handle.enqueue(message("thread@example.test")))
            .join()
            .expect("the thread ran")
            .expect("enqueue works outside the runtime");
        assert_eq!(outbox.queued(), 101);
    }

    #[tokio::test(start_paused = true)]
    async fn a_transport_error_is_retried_with_a_doubling_backoff_until_sent() {
        let (mailer, mut sent) = Scripted::new(3, transport);
        let outbox = Outbox::new(mailer.clone())
            .attempts(5)
            .backoff(Duration::from_secs(1), Duration::from_secs(3));
        let (outbox, failures, _) = counting_hook(outbox);

        outbox
            .enqueue(message("ferris@example.test"))
            .expect("room");
        let delivered = sent.recv().await.expect("sent on the fourth attempt");
        assert_eq!(delivered.to(), "ferris@example.test");
        // 1 s, then 2 s, then the 3 s cap instead of 4 s.
        assert_eq!(
            mailer.call_offsets(),
            [0, 1, 3, 6].map(Duration::from_secs).to_vec()
        );
        assert_eq!(failures.load(Ordering::SeqCst), 0, "no failure reported");
        assert_eq!(outbox.queued(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_hook_is_called_once_after_the_last_attempt() {
        let (mailer, _sent) = Scripted::new(10, transport);
        let outbox = Outbox::new(mailer.clone())
            .attempts(3)
            .backoff(Duration::from_secs(1), Duration::from_secs(60));
        let (outbox, failures, mut failed) = counting_hook(outbox);

        let start = Instant::now();
        outbox
            .enqueue(message("ferris@example.test"))
            .expect("room");
        let (to, permanent, at) = failed.recv().await.expect("the hook is called");
        assert_eq!(to, "ferris@example.test");
        assert!(!permanent);
        assert_eq!(mailer.call_count(), 3);
        assert_eq!(
            at - start,
            Duration::from_secs(3),
            "after the third attempt"
        );

        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(mailer.call_count(), 3, "no attempt after the last");
        assert_eq!(failures.load(Ordering::SeqCst), 1, "the hook ran once");
        assert_eq!(outbox.queued(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_permanent_error_is_not_retried() {
        let (mailer, _sent) = Scripted::new(1, invalid_address);
        let outbox = Outbox::new(mailer.clone()).attempts(5);
        let (outbox, failures, mut failed) = counting_hook(outbox);

        let start = Instant::now();
        outbox.enqueue(message("nobody")).expect("room");
        let (_, permanent, at) = failed.recv().await.expect("the hook is called");
        assert!(permanent);
        assert_eq!(at, start, "given up on at once, without a backoff");

        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(mailer.call_count(), 1, "tried once");
        assert_eq!(failures.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_waiting_for_its_retry_does_not_hold_up_the_queue() {
        let (mailer, mut sent) = Scripted::new(0, transport);
        let mailer = Scripted {
            down: "down@example.test",
            ..mailer
        };
        let outbox = Outbox::new(mailer.clone())
            .attempts(5)
            .backoff(Duration::from_secs(60), Duration::from_secs(60));

        let start = Instant::now();
        // More failing messages than there are sending slots.
        for _ in 0..CONCURRENT_SENDS + 1 {
            outbox.enqueue(message("down@example.test")).expect("room");
        }
        outbox.enqueue(message("up@example.test")).expect("room");
        let delivered = sent.recv().await.expect("the later message is sent");
        assert_eq!(delivered.to(), "up@example.test");
        assert_eq!(Instant::now(), start, "sent before any retry was due");
        assert_eq!(
            outbox.queued(),
            CONCURRENT_SENDS + 1,
            "the others still wait"
        );
    }
}
