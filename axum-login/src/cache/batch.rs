//! Batched user loads ([`UserStore::BATCHED_LOADS`], [`AuthLayerBuilder::batch_user_loads`]):
//! concurrent requests of different users share one [`UserStore::load_users`] call.
//!
//! The first load finds no batch running, starts a task that loads it at once, and returns when
//! its user is back. Loads that arrive while that query runs wait for it to finish and go
//! together in the next one. So a load never waits for more than the batch in flight, and on a
//! quiet server every load is a batch of one.

use std::{
    mem,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::sync::oneshot;

use super::TimedOut;
use crate::{AuthError, AuthUser, UserStore, store::UserId};

/// Most users in one `load_users` call (SQL `IN` lists stay well under every database's limit
/// on parameters).
const MAX_BATCH: usize = 100;

/// A load's answer; an error may be shared by the loads of a batch.
type Answer<S> = Result<Option<<S as UserStore>::User>, SharedError>;
type SharedError = Arc<dyn std::error::Error + Send + Sync>;

/// The loads waiting for the next batch, and whether a batch is running.
struct Queue<S: UserStore> {
    waiting: Vec<(UserId<S>, oneshot::Sender<Answer<S>>)>,
    running: bool,
}

/// A layer's batcher: its own clone of the store and the queue.
pub(crate) struct Batcher<S: UserStore> {
    store: S,
    queue: Mutex<Queue<S>>,
    /// The longest one store call may take: a call that hangs must not hold every later load
    /// behind it.
    timeout: Duration,
}

impl<S: UserStore> Batcher<S> {
    pub(crate) fn new(store: S, timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            store,
            timeout,
            queue: Mutex::new(Queue {
                waiting: Vec::new(),
                running: false,
            }),
        })
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue<S>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The user with `id`, loaded in the next batch.
    pub(crate) async fn load(
        self: &Arc<Self>,
        id: &UserId<S>,
    ) -> Result<Option<S::User>, AuthError> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.queue();
            queue.waiting.push((id.clone(), reply));
            !mem::replace(&mut queue.running, true)
        };
        if start {
            tokio::spawn(self.clone().run());
        }
        match answer.await {
            Ok(Ok(user)) => Ok(user),
            Ok(Err(error)) => Err(AuthError::store(error)),
            // The batch task went away without answering (the store panicked).
            Err(_) => Err(AuthError::store(BatchFailed)),
        }
    }

    /// Loads batches until no load is waiting.
    async fn run(self: Arc<Self>) {
        // Whatever ends this task, even a panic in the store, it must not leave the queue
        // marked running with nobody to run it.
        let mut running = Running {
            batcher: &self,
            finished: false,
        };
        loop {
            let batch = {
                let mut queue = running.batcher.queue();
                if queue.waiting.is_empty() {
                    queue.running = false;
                    running.finished = true;
                    return;
                }
                let take = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..take).collect::<Vec<_>>()
            };
            // Two requests of one user ask once: the store sees each id at most once.
            let mut ids: Vec<UserId<S>> = Vec::new();
            let mut keys: Vec<String> = Vec::new();
            let mut waiters: Vec<usize> = Vec::new();
            let mut waiting = Vec::with_capacity(batch.len());
            for (id, reply) in batch {
                let key = id.to_string();
                let slot = match keys.iter().position(|known| *known == key) {
                    Some(slot) => slot,
                    None => {
                        keys.push(key);
                        ids.push(id);
                        waiters.push(0);
                        ids.len() - 1
                    }
                };
                waiters[slot] += 1;
                waiting.push((slot, reply));
            }
            let answers = self.answers(&ids, &keys).await;
            let mut answers: Vec<Option<Answer<S>>> = answers.into_iter().map(Some).collect();
            for (slot, reply) in waiting {
                // The last request of a user takes its answer; the others get clones.
                waiters[slot] -= 1;
                let answer = if waiters[slot] == 0 {
                    answers[slot].take()
                } else {
                    answers[slot].clone()
                };
                if let Some(answer) = answer {
                    let _ = reply.send(answer);
                }
            }
        }
    }

    /// The answer for each of `ids` (whose `Display` forms are `keys`), in their order: one
    /// `load_users` call, each call bounded in time.
    async fn answers(&self, ids: &[UserId<S>], keys: &[String]) -> Vec<Answer<S>> {
        let loaded = match tokio::time::timeout(self.timeout, self.store.load_users(ids)).await {
            Ok(loaded) => loaded,
            Err(_) => {
                let timed_out: SharedError = Arc::new(TimedOut(self.timeout));
                return ids.iter().map(|_| Err(timed_out.clone())).collect();
            }
        };
        match loaded {
            Ok(users) if users.len() == ids.len() => users
                .into_iter()
                .zip(keys)
                .map(|(user, key)| Ok(user.filter(|user| is_user(user, key))))
                .collect(),
            // A store that answers a different number of users than asked is broken: no request
            // is answered from a wrong answer.
            Ok(users) => {
                tracing::error!(
                    asked = ids.len(),
                    answered = users.len(),
                    "UserStore::load_users answered a different number of users than asked"
                );
                let failed: SharedError = Arc::new(BatchFailed);
                ids.iter().map(|_| Err(failed.clone())).collect()
            }
            // One user the store cannot load (a row that does not decode, say) must not fail
            // everyone else's request: load them one by one, so only the requests whose own
            // user fails get an error.
            Err(error) if ids.len() > 1 => {
                tracing::warn!(%error, users = ids.len(), "a batched user load failed; loading its users one by one");
                let (store, timeout) = (&self.store, self.timeout);
                futures_util::future::join_all(ids.iter().zip(keys).map(|(id, key)| async move {
                    match tokio::time::timeout(timeout, store.load_user(id)).await {
                        Ok(Ok(user)) => Ok(user.filter(|user| is_user(user, key))),
                        Ok(Err(error)) => Err(Arc::new(error) as SharedError),
                        Err(_) => Err(Arc::new(TimedOut(timeout)) as SharedError),
                    }
                }))
                .await
            }
            Err(error) => vec![Err(Arc::new(error))],
        }
    }
}

/// Whether `user` is the one whose id displays as `asked`: a store that answers out of order
/// must not log one visitor in as another. (Ids compare by their `Display` form, the only
/// comparison the `Id` bounds allow.)
fn is_user<U: AuthUser>(user: &U, asked: &str) -> bool {
    let answered = user.id().to_string();
    let matches = answered == asked;
    if !matches {
        tracing::error!(
            asked,
            answered,
            "UserStore::load_users answered another user than asked; treating it as not found"
        );
    }
    matches
}

/// Marks the queue idle if the batch task ends early (a panic in the store, the runtime shutting
/// down); the loads still waiting see their replies dropped and answer an error.
struct Running<'a, S: UserStore> {
    batcher: &'a Batcher<S>,
    finished: bool,
}

impl<S: UserStore> Drop for Running<'_, S> {
    fn drop(&mut self) {
        if !self.finished {
            let mut queue = self.batcher.queue();
            queue.running = false;
            queue.waiting.clear();
        }
    }
}

/// The store's own error type cannot say "wrong number of users"; the waiting loads get this
/// instead, through the same `AuthError::Store` path.
#[derive(Debug, thiserror::Error)]
#[error("the user store's batched load failed (see the log)")]
struct BatchFailed;
