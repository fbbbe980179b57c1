//! What the auth layer needs of the crate's own session layer beyond the request's `Session`:
//! deleting another session by id (ending it from the session registry), and learning the id
//! a session was saved under (the registry follows a session across id changes).

use std::{
    fmt,
    future::Future,
    pin::Pin,
    str::FromStr,
    sync::{Arc, Mutex, PoisonError},
};

use tower_sessions::{SessionStore, session::Id};

use crate::error::BoxError;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Deletes a session from the session store by its id.
pub(crate) trait SessionDeleter: Send + Sync + 'static {
    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), BoxError>>;
}

/// The deleter of the crate's session layer: its store.
pub(crate) struct StoreDeleter<SS>(pub(crate) Arc<SS>);

impl<SS: SessionStore> SessionDeleter for StoreDeleter<SS> {
    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            // An id that does not parse names no session there can be.
            let Ok(id) = Id::from_str(id) else {
                return Ok(());
            };
            self.0.delete(&id).await.map_err(BoxError::from)
        })
    }
}

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
