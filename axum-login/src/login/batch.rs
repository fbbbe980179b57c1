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
};

use tokio::sync::oneshot;

use crate::{AuthError, AuthUser, UserStore, store::UserId};

/// Most users in one `load_users` call (SQL `IN` lists stay well under every database's limit
/// on parameters).
const MAX_BATCH: usize = 100;

/// A load's answer; the error is shared by every load of the batch.
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
}

impl<S: UserStore> Batcher<S> {
    pub(crate) fn new(store: S) -> Arc<Self> {
        Arc::new(Self {
            store,
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
            let answer: Result<Vec<Option<S::User>>, SharedError> =
                match self.store.load_users(&ids).await {
                    Ok(users) if users.len() == ids.len() => Ok(users
                        .into_iter()
                        .zip(&keys)
                        .map(|(user, key)| user.filter(|user| is_user(user, key)))
                        .collect()),
                    Ok(users) => {
                        tracing::error!(
                            asked = ids.len(),
                            answered = users.len(),
                            "UserStore::load_users answered a different number of users than asked"
                        );
                        Err(Arc::new(BatchFailed))
                    }
                    Err(error) => Err(Arc::new(error)),
                };
            match answer {
                Ok(mut users) => {
                    for (slot, reply) in waiting {
                        // The last request of a user takes it; the others get clones.
                        waiters[slot] -= 1;
                        let user = if waiters[slot] == 0 {
                            users[slot].take()
                        } else {
                            users[slot].clone()
                        };
                        let _ = reply.send(Ok(user));
                    }
                }
                // The whole batch fails alike: no request is answered from a wrong answer.
                Err(error) => {
                    for (_, reply) in waiting {
                        let _ = reply.send(Err(error.clone()));
                    }
                }
            }
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
