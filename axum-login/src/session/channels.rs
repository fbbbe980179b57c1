//! What crosses between the layers of one request besides the request and the response
//! themselves: one type per direction, all of them here except the first, which is the
//! login's own state.
//!
//! | direction | type | carried in | why not a value passed |
//! |---|---|---|---|
//! | auth layer → extractors and guards | `RequestAuth` (`login/request.rs`) | the request's extensions | an axum extractor sees only the request |
//! | auth layer → session layer | [`AfterSave`] | the response's extensions | the session layer is outside the auth layer: the response is all that comes back |
//! | session layer ↔ its store | [`SaveContext`] | a task-local around the one save | tower-sessions' `Session::save` calls the store with the record alone |
//!
//! Each is set in one place and read in one place: `RequestAuth` by `AuthService::call` and
//! the extractors; `AfterSave` by `AuthFuture` (from a feature's
//! [`set_after_save`](crate::login::RequestAuth::set_after_save)) and the session layer's
//! `finish`; `SaveContext` by `finish` and [`GuardedStore`](super::GuardedStore).

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU8, Ordering},
    },
};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Work for after the session is saved, given the id it was saved under; answers whether the
/// session may stay (`false` deletes it at once and removes its cookie).
pub(crate) type AfterSaveFn = Box<dyn FnOnce(String) -> BoxFuture<'static, bool> + Send>;

/// The [`AfterSaveFn`] of a request that logged in, handed by the auth layer to the crate's
/// session layer in the response's extensions, so that only a login pays for it and a request
/// that logs nobody in carries nothing. Behind an `Arc<Mutex<..>>` because extensions must be
/// `Clone + Sync`; the session layer takes the work once.
#[derive(Clone)]
pub(crate) struct AfterSave(Arc<Mutex<Option<AfterSaveFn>>>);

impl fmt::Debug for AfterSave {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AfterSave")
    }
}

impl AfterSave {
    pub(crate) fn new(work: AfterSaveFn) -> Self {
        Self(Arc::new(Mutex::new(Some(work))))
    }

    /// Takes the work (once).
    pub(crate) fn take(&self) -> Option<AfterSaveFn> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

tokio::task_local! {
    /// Set by the session layer around the one save it makes at the end of a request: whether
    /// an unchanged session may be skipped, and what the store then did.
    static SAVE: SaveContext;
}

/// What the layer's save asks of the store, and hears back.
#[derive(Clone)]
pub(crate) struct SaveContext {
    skip_unchanged: bool,
    /// What the store did, [`SaveOutcome::Pending`] until it answers.
    outcome: Arc<AtomicU8>,
}

impl SaveContext {
    pub(crate) fn new(skip_unchanged: bool) -> Self {
        Self {
            skip_unchanged,
            outcome: Arc::default(),
        }
    }

    /// Runs `save` with this context visible to the store.
    pub(crate) async fn scope<F: Future>(&self, save: F) -> F::Output {
        SAVE.scope(self.clone(), save).await
    }

    /// Whether the store wrote the session (or created it): `false` when the session was gone
    /// or the write would have changed nothing.
    pub(crate) fn wrote(&self) -> bool {
        !matches!(
            SaveOutcome::from_u8(self.outcome.load(Ordering::Acquire)),
            SaveOutcome::Unchanged | SaveOutcome::Missing
        )
    }

    /// Whether the layer's save lets the store skip a write that changes nothing; `false`
    /// outside one.
    pub(super) fn skips_unchanged() -> bool {
        SAVE.try_with(|context| context.skip_unchanged)
            .unwrap_or(false)
    }

    /// Tells the layer what the store did, when the store runs inside a layer's save.
    pub(super) fn report(outcome: SaveOutcome) {
        let _ = SAVE.try_with(|context| context.outcome.store(outcome as u8, Ordering::Release));
    }
}

/// What the store did with the layer's save. Held as its `u8` in an atomic, which the store
/// (inside tower-sessions' `save`, the only way in) writes and the layer reads after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum SaveOutcome {
    Pending = 0,
    Written = 1,
    Unchanged = 2,
    Missing = 3,
}

impl SaveOutcome {
    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Written,
            2 => Self::Unchanged,
            3 => Self::Missing,
            _ => Self::Pending,
        }
    }
}
