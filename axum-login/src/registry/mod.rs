//! The session registry: which sessions each user has, so that users can see them and end
//! them ("log out other devices"), an admin can end them all, and a user can be held to a
//! number of sessions at once.
//!
//! Give the layer a [`SessionRegistry`] with
//! [`AuthLayerBuilder::session_registry`](crate::layer::AuthLayerBuilder::session_registry);
//! [`AuthSession`](crate::AuthSession) then lists and ends sessions
//! ([`sessions`](crate::AuthSession::sessions),
//! [`end_session`](crate::AuthSession::end_session),
//! [`end_other_sessions`](crate::AuthSession::end_other_sessions),
//! [`end_all_sessions`](crate::AuthSession::end_all_sessions)).
//!
//! Each login adds an entry; the entry knows the session id its session is saved under (the
//! id changes at login and on a password change, and the registry is told each time), so
//! ending an entry deletes its session from the session store: the next request on it, on any
//! instance, is anonymous. A session saved under a new id after its entry was ended is deleted
//! at that moment instead, so an end and an id change in flight together cannot leave the
//! session alive. Ending sessions needs the session layer from
//! [`session_layer`](crate::session_layer), which can delete any session by id; under an app's
//! own tower-sessions layer an ended entry ends its session at the session's next
//! [last-seen](SessionEntry::last_seen) update instead.
//!
//! [`MemorySessionRegistry`] keeps the entries in one process. Instances of an app behind a
//! load balancer share a `SqlxSessionRegistry` (feature `sqlx`: SQLite, PostgreSQL or
//! MySQL/MariaDB) or a `RedisSessionRegistry` (feature `redis`), so that ending a session on
//! one instance ends it on all of them.

mod feature;
mod memory;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlx")]
mod sql;

use std::{
    net::IpAddr,
    time::{Duration, SystemTime},
};

pub use self::feature::SessionInfo;
pub use self::memory::MemorySessionRegistry;
#[cfg(feature = "redis")]
pub use self::redis::RedisSessionRegistry;
#[cfg(feature = "sqlx")]
pub use self::sql::SqlxSessionRegistry;
use crate::error::BoxError;
/// A boxed future, as the registry's methods answer.
pub use crate::login::BoxFuture;
use crate::options::{debug_options, setters};

/// The longest user agent an entry keeps, in characters.
pub const MAX_USER_AGENT_LEN: usize = 64;

/// One session of a user, as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntry {
    /// The entry's own id: random, stable for the session's whole life (the session's id is
    /// not: it changes at login and on a password change). Safe to show and to put in a URL.
    pub id: String,
    /// The user's id, as text (its `Display` form).
    pub user: String,
    /// The session id the session is saved under, once known; never shown to anyone.
    pub session_id: Option<String>,
    /// When the user logged in on this session.
    pub created_at: SystemTime,
    /// When the session was last used, at the registry's update interval.
    pub last_seen: SystemTime,
    /// The client's address at login.
    pub address: Option<IpAddr>,
    /// A short form of the client's `User-Agent` at login (at most [`MAX_USER_AGENT_LEN`]
    /// characters, control characters dropped).
    pub user_agent: Option<String>,
    /// When the registry may forget the entry: the login's absolute timeout (its session is
    /// over by then whatever happens).
    pub expires_at: SystemTime,
    /// The selector of the remember-me token that logged this session in, if one did: ending
    /// the session revokes it too, or the browser would log straight back in.
    pub remember: Option<String>,
}

/// Which of a user's entries [`SessionRegistry::remove`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which<'a> {
    /// The entry with this id.
    One(&'a str),
    /// Every entry but the one with this id.
    AllBut(&'a str),
    /// Every entry.
    All,
}

impl Which<'_> {
    /// Whether the entry with `id` is one of these.
    pub fn matches(&self, id: &str) -> bool {
        match self {
            Self::One(one) => *one == id,
            Self::AllBut(kept) => *kept != id,
            Self::All => true,
        }
    }
}

/// Where the registry keeps its entries: [`MemorySessionRegistry`] for one process,
/// `SqlxSessionRegistry` (feature `sqlx`) or `RedisSessionRegistry` (feature `redis`) for
/// several instances.
///
/// Each method is one atomic step per entry: in particular [`bind`](Self::bind) must not
/// record a session id for an entry that [`remove`](Self::remove) took away, nor replace a
/// session id other than the one it was told the session had, whatever the interleaving, and
/// must answer `false` then.
///
/// Implement it with `#[async_trait::async_trait]`, failures as `BoxError`: see
/// [how the store traits are written](crate::store#the-store-traits).
#[async_trait::async_trait]
pub trait SessionRegistry: Send + Sync + 'static {
    /// Adds `entry`, a new login.
    async fn add(&self, entry: &SessionEntry) -> Result<(), BoxError>;

    /// Adds `entry`, a new login, holding its user to `limit.max` live entries, in one atomic
    /// step per user: when the user has `max` already, [`OnLimit::RefuseNew`] adds nothing and
    /// answers [`Admission::Refused`], and [`OnLimit::EndOldest`] removes the oldest entries
    /// (by `created_at`, ties in the order [`list`](Self::list) gives them) to make room and
    /// answers them, for the caller to end their sessions. However many logins of one user run
    /// at once, the user never has more than `max` entries.
    async fn add_within(&self, entry: &SessionEntry, limit: Limit) -> Result<Admission, BoxError>;

    /// The entries of `user` that have not expired, oldest first.
    async fn list(&self, user: &str) -> Result<Vec<SessionEntry>, BoxError>;

    /// Records that the session of the binding's entry, which was saved under its `previous`
    /// id (or under no id, or one the entry never had, for a new login), is saved under its
    /// `session_id` now: if the entry has no session id yet, or has `previous`, in one atomic
    /// step. `false` when the entry is gone (it was ended), or already follows another id: the
    /// caller then deletes that session.
    ///
    /// The comparison is what keeps one login from forking: of several requests that change
    /// the id of one session at once, each starting from `previous`, one records its new id
    /// and the others' sessions are deleted, so the entry always names every live session of
    /// its login and ending it ends them all.
    async fn bind(&self, binding: &Binding<'_>) -> Result<bool, BoxError>;

    /// Records that a remember-me token with `selector` now belongs to the session of entry
    /// `id` (the user asked to be remembered after logging in), so ending the entry revokes
    /// it. `false` when the entry is gone.
    async fn set_remember(&self, user: &str, id: &str, selector: &str) -> Result<bool, BoxError>;

    /// Records that the session of entry `id` was used at `at`. `false` when the entry is gone:
    /// the caller then ends the session.
    async fn touch(&self, user: &str, id: &str, at: SystemTime) -> Result<bool, BoxError>;

    /// Removes the entries of `user` that `which` names, and answers them (with their session
    /// ids, for the caller to delete those sessions).
    async fn remove(&self, user: &str, which: Which<'_>) -> Result<Vec<SessionEntry>, BoxError>;

    /// Whether the registry answers, for a readiness probe. Default: lists the entries of a
    /// user no one is (the empty id), a read that writes nothing; override it with something
    /// cheaper where the backend has it.
    async fn ping(&self) -> Result<(), BoxError> {
        self.list("").await.map(drop)
    }
}

/// A session's new id, for [`SessionRegistry::bind`] to record on the session's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    /// The entry's user.
    pub user: &'a str,
    /// The entry's id.
    pub id: &'a str,
    /// The session id the session was loaded under, if any.
    pub previous: Option<&'a str>,
    /// The session id the session is saved under now.
    pub session_id: &'a str,
}

/// What [`SessionRegistry::add_within`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The entry was added, after removing these (oldest first) to make room.
    Added(Vec<SessionEntry>),
    /// The user was at the limit and it refuses new logins: nothing changed.
    Refused,
}

/// The entries of one user that must go for one more to fit within `max`, oldest first:
/// `live` is every live entry of the user in the store's order, which breaks ties of
/// `created_at` (the SQL stores by id, the memory store by the order of adding).
pub(crate) fn to_make_room(mut live: Vec<SessionEntry>, max: usize) -> Vec<SessionEntry> {
    live.sort_by_key(|entry| entry.created_at);
    let excess = (live.len() + 1).saturating_sub(max.max(1));
    live.truncate(excess);
    live
}

/// How many live entries a user may have, and what a login past that does, for
/// [`SessionRegistry::add_within`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The most live entries of one user; a store treats 0 as 1.
    pub max: usize,
    /// What a login does when the user has `max` already.
    pub on_limit: OnLimit,
}

/// What a login does when the user already has [`max_sessions`](RegistryConfig::max_sessions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnLimit {
    /// End the user's oldest session(s) to make room.
    EndOldest,
    /// Refuse the new login with [`AuthError::SessionLimit`](crate::AuthError::SessionLimit).
    RefuseNew,
}

/// The registry and its options, for
/// [`AuthLayerBuilder::session_registry`](crate::layer::AuthLayerBuilder::session_registry).
#[derive(Clone)]
pub struct RegistryConfig {
    pub(crate) registry: std::sync::Arc<dyn SessionRegistry>,
    pub(crate) touch_interval: Duration,
    pub(crate) max_sessions: Option<Limit>,
}

debug_options!(RegistryConfig {
    touch_interval,
    max_sessions,
});

impl RegistryConfig {
    /// Sessions registered in `registry`, last seen updated at most every minute, no limit on
    /// sessions per user.
    pub fn new(registry: impl SessionRegistry) -> Self {
        Self {
            registry: std::sync::Arc::new(registry),
            touch_interval: Duration::from_secs(60),
            max_sessions: None,
        }
    }

    setters! {
        /// How often a session's [`last_seen`](SessionEntry::last_seen) is updated at most
        /// (each update is a write to the registry, and, under an app's own tower-sessions
        /// layer, when an ended entry ends its session). Default: one minute.
        touch_interval: Duration;
    }

    /// At most `max` sessions per user; a login past it does as `on_limit` says.
    pub fn max_sessions(mut self, max: usize, on_limit: OnLimit) -> Self {
        self.max_sessions = Some(Limit {
            max: max.max(1),
            on_limit,
        });
        self
    }
}

/// A short, printable form of a `User-Agent` header for an entry.
pub(crate) fn short_user_agent(header: &str) -> Option<String> {
    let short: String = header
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_AGENT_LEN)
        .collect();
    let short = short.trim();
    (!short.is_empty()).then(|| short.to_owned())
}

/// A new entry id: 128 random bits, URL-safe base64.
pub(crate) fn new_entry_id() -> String {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_cut_short_and_printable() {
        assert_eq!(short_user_agent("  "), None);
        assert_eq!(
            short_user_agent("curl/8\r\nX-Forged: 1").as_deref(),
            Some("curl/8X-Forged: 1")
        );
        assert_eq!(
            short_user_agent(&"a".repeat(500)).map(|s| s.chars().count()),
            Some(MAX_USER_AGENT_LEN)
        );
    }

    #[test]
    fn which_names_the_entries_it_says() {
        assert!(Which::One("a").matches("a"));
        assert!(!Which::One("a").matches("b"));
        assert!(Which::AllBut("a").matches("b"));
        assert!(!Which::AllBut("a").matches("a"));
        assert!(Which::All.matches("a"));
    }
}
