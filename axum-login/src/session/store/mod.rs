//! Session stores that cannot bring a deleted session back.
//!
//! tower-sessions writes a changed session back with `SessionStore::save`. Most stores make that
//! an upsert, so a request that loaded a session before a logout (or an id change) deleted it
//! would write it back afterwards, logged in: a stolen cookie outlives the victim's logout. A
//! [`SessionBackend`] instead writes a session only while it still exists, in one atomic step of
//! the store (a conditional `UPDATE`, Redis `SET ... XX` inside a script, a check under the
//! memory store's lock), and can skip a write that would change nothing.
//!
//! [`session_layer`](crate::session_layer) takes any `SessionBackend`:
//!
//! | store | where it keeps sessions |
//! | --- | --- |
//! | [`MemoryStore`] | this process, bounded, expired sessions dropped |
//! | `SqlxSessionStore` (feature `sqlx`) | a table in SQLite, PostgreSQL or MySQL/MariaDB |
//! | `RedisSessionStore` (feature `redis`) | Redis, with key expiry |
//! | [`CheckThenSave`] around any tower-sessions store | wherever that store keeps them; **not atomic** |

mod memory;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlx")]
mod sql;

#[cfg(any(feature = "sqlx", feature = "redis"))]
use std::collections::HashMap;
use std::fmt;

use tower_sessions::{SessionStore, session::Record, session_store};

pub use self::memory::MemoryStore;
#[cfg(feature = "redis")]
pub use self::redis::RedisSessionStore;
#[cfg(feature = "sqlx")]
pub use self::sql::SqlxSessionStore;

/// What an [`update`](SessionBackend::update) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// The session was written.
    Written,
    /// The stored session already holds this data; nothing was written.
    Unchanged,
    /// No such session (deleted or expired); nothing was written.
    Missing,
}

/// A session store whose writes never bring a deleted session back: what
/// [`session_layer`](crate::session_layer) needs.
///
/// Besides tower-sessions' operations, in which `save` must not insert a session that is not
/// there (`create` does that), a backend can [`update`](Self::update) a session only while it
/// exists and, when asked, only when its data changed, each as one atomic step of the store.
///
/// Implement it with `#[async_trait::async_trait]`, failures as tower-sessions' `session_store::Error`: see
/// [how the store traits are written](crate::store#the-store-traits).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a session store that `session_layer` can guard against resurrection",
    label = "its writes could bring a logged-out session back",
    note = "use `axum_login::session::MemoryStore`, `SqlxSessionStore` (feature `sqlx`) or `RedisSessionStore` (feature `redis`); any other tower-sessions store works wrapped in `CheckThenSave`, which leaves a window of one round trip"
)]
#[async_trait::async_trait]
pub trait SessionBackend: SessionStore {
    /// Writes `record` over the stored session with its id, in one atomic step: only if that
    /// session exists (not deleted, not expired) and, when `skip_unchanged`, only if its data
    /// differ from the stored data.
    async fn update(&self, record: &Record, skip_unchanged: bool) -> session_store::Result<Update>;
}

/// Any tower-sessions store as a [`SessionBackend`], by checking and then writing: **not
/// atomic**.
///
/// An update loads the stored session, compares, and then saves through the store, which for
/// most stores is an upsert. A logout that deletes the session between the load and the save
/// is undone by the save: for one round trip to the store, a stolen cookie can outlive its
/// owner's logout. Use it only for a store this crate has no atomic backend for, and prefer
/// one that has.
#[derive(Clone, Default)]
pub struct CheckThenSave<S> {
    inner: S,
}

impl<S> CheckThenSave<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: fmt::Debug> fmt::Debug for CheckThenSave<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CheckThenSave").field(&self.inner).finish()
    }
}

#[async_trait::async_trait]
impl<S: SessionStore> SessionStore for CheckThenSave<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.inner.create(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.update(record, false).await.map(|_| ())
    }

    async fn load(
        &self,
        id: &tower_sessions::session::Id,
    ) -> session_store::Result<Option<Record>> {
        self.inner.load(id).await
    }

    async fn delete(&self, id: &tower_sessions::session::Id) -> session_store::Result<()> {
        self.inner.delete(id).await
    }
}

#[async_trait::async_trait]
impl<S: SessionStore> SessionBackend for CheckThenSave<S> {
    async fn update(&self, record: &Record, skip_unchanged: bool) -> session_store::Result<Update> {
        let Some(stored) = self.inner.load(&record.id).await? else {
            return Ok(Update::Missing);
        };
        if skip_unchanged && stored.data == record.data {
            return Ok(Update::Unchanged);
        }
        self.inner.save(record).await?;
        Ok(Update::Written)
    }
}

/// The session's data as JSON with its keys in order, so that equal data always encode to equal
/// text and a store can compare them.
#[cfg(any(feature = "sqlx", feature = "redis"))]
pub(crate) fn encode_data(
    data: &HashMap<String, serde_json::Value>,
) -> session_store::Result<String> {
    let ordered: std::collections::BTreeMap<&String, &serde_json::Value> = data.iter().collect();
    serde_json::to_string(&ordered).map_err(|error| session_store::Error::Encode(error.to_string()))
}

/// The data [`encode_data`] wrote.
#[cfg(any(feature = "sqlx", feature = "redis"))]
pub(crate) fn decode_data(text: &str) -> session_store::Result<HashMap<String, serde_json::Value>> {
    serde_json::from_str(text).map_err(|error| session_store::Error::Decode(error.to_string()))
}
