//! What the auth layer needs of the crate's own session layer beyond the request's `Session`:
//! deleting another session by id (ending it from the session registry), and asking the store
//! whether it answers (a readiness probe). Learning the id a session was saved under goes
//! through [`AfterSave`](super::channels::AfterSave).

use std::{future::Future, pin::Pin, str::FromStr, sync::Arc};

use tower_sessions::{SessionStore, session::Id};

use crate::error::BoxError;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Deletes a session from the session store by its id.
pub(crate) trait SessionDeleter: Send + Sync + 'static {
    fn delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), BoxError>>;

    /// Whether the store answers: it loads a random session id, which no session has, so the
    /// round trip reads one key and writes nothing, on any tower-sessions store.
    fn ping(&self) -> BoxFuture<'_, Result<(), BoxError>>;
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

    fn ping(&self) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(async move {
            self.0
                .load(&Id::default())
                .await
                .map(drop)
                .map_err(BoxError::from)
        })
    }
}
