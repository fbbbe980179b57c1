//! [`LdapStore`]: users from an LDAP directory (OpenLDAP, Active Directory, 389 Directory
//! Server, ...), which checks the password itself. Feature `ldap`.
//!
//! The directory never hands out a password hash: a login is a bind with the user's DN and
//! password, and the store learns only whether the directory accepted it.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use axum_login::{
//!     AuthLayer, CurrentUser, Role, require_login, session_layer,
//!     ldap::{LdapConfig, LdapStore, LdapUser},
//! };
//! use axum_login::session::MemoryStore;
//!
//! #[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
//! enum Access {
//!     #[role(implies(Staff))]
//!     Admin,
//!     Staff,
//! }
//!
//! type User = LdapUser<Access>;
//!
//! #[require_login(role = Access::Admin)]
//! async fn admin(CurrentUser(user): CurrentUser<User>) -> String {
//!     format!("hello {}", user.attribute("cn").unwrap_or(&user.uid))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = LdapConfig::builder("ldaps://ldap.example.test")
//!     .service_account("cn=service,dc=example,dc=test", "service-secret")
//!     .user_search("ou=people,dc=example,dc=test", "(&(objectClass=inetOrgPerson)(uid={}))")
//!     .attributes(["cn", "mail"])
//!     .group_attribute("memberOf")
//!     .group_role("cn=admins,ou=groups,dc=example,dc=test", Access::Admin)
//!     .group_role("cn=staff,ou=groups,dc=example,dc=test", Access::Staff)
//!     .build()?;
//! let store = LdapStore::<User>::new(config);
//! store.connect().await?; // fail at startup, not at the first login, if the directory is wrong
//!
//! let app: Router = Router::new()
//!     .route("/admin", get(admin))
//!     .layer(AuthLayer::builder(store, session_layer(MemoryStore::default())).build());
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! # Finding the user
//!
//! - **Search-then-bind** ([`user_search`](LdapConfigBuilder::user_search)): the store searches
//!   for the login name with a filter such as `(&(objectClass=inetOrgPerson)(uid={}))` as the
//!   service account, then binds as the one entry found with the password. Users may live
//!   anywhere under the base, and log in with any attribute (`mail`, `uid`, AD's
//!   `sAMAccountName`).
//! - **DN template** ([`user_dn_template`](LdapConfigBuilder::user_dn_template)): the store binds
//!   directly as `uid={},ou=people,dc=example,dc=test`, then reads the entry.
//!
//! The user's id, kept in the session, is the entry's [`id_attribute`](LdapConfigBuilder::id_attribute)
//! (`uid` by default) as the directory spells it. On later requests
//! [`load_user`](crate::UserStore::load_user) finds the entry by that id with a search as the
//! service account: it never binds as the user, and the password is used for the login's one
//! bind and dropped.
//!
//! # Roles and permissions
//!
//! A user's groups come from an attribute of their entry
//! ([`group_attribute`](LdapConfigBuilder::group_attribute), e.g. `memberOf`) or from a search
//! ([`group_search`](LdapConfigBuilder::group_search), e.g.
//! `(&(objectClass=groupOfNames)(member={dn}))`); [`group_role`](LdapConfigBuilder::group_role)
//! and [`group_permission`](LdapConfigBuilder::group_permission) say what each group grants.
//! Groups are read again on every load, so a change in the directory shows on the user's next
//! request (or after the user cache's TTL).
//!
//! [`LdapUser<R>`](LdapUser) is a ready user type with roles of the app's `#[derive(Role)]` enum;
//! an app's own type implements [`FromLdapEntry`].
//!
//! # Sessions end when the password changes
//!
//! [`AuthUser::session_auth_hash`](crate::AuthUser::session_auth_hash) is made of the entry's DN
//! and attributes that change with the password
//! ([`session_stamp_attributes`](LdapConfigBuilder::session_stamp_attributes):
//! `modifyTimestamp` and OpenLDAP's `entryCSN` by default), so a password change in the
//! directory, by any tool, ends the user's sessions on their next request.
//!
//! # Security choices
//!
//! - **An empty password is refused before any network call.** A simple bind with a DN and an
//!   empty password is an "unauthenticated bind" (RFC 4513, 5.1.2), which many servers answer
//!   with success, as an anonymous login. An empty login name, and credentials over
//!   [`MAX_USERNAME_LEN`] or [`MAX_PASSWORD_LEN`](crate::credentials::MAX_PASSWORD_LEN), are
//!   refused the same way.
//! - **Every value is escaped where it goes**: into a search filter with
//!   [`escape_filter_value`] (so `*`, `)(uid=*` or a NUL match nothing but themselves), into a
//!   DN with [`escape_dn_value`] (so a `,` or `+` cannot add an RDN). A search that finds more
//!   than one entry for a login name is a failed login, never a choice.
//! - **Surrounding spaces are trimmed** from the login name, which the directory ignores too;
//!   [`throttle_key`](crate::UserStore::throttle_key) is the trimmed, lower-cased login name, so
//!   every spelling of an account counts against one limit.
//! - **Pooled connections are never bound as a user.** Searches run on a small pool of
//!   connections bound as the service account; each user's bind runs on a connection of its
//!   own, closed right after.
//! - **TLS** with rustls: `ldaps://` URLs, or StartTLS on `ldap://`
//!   ([`starttls`](LdapConfigBuilder::starttls)), verified against the system's roots or the
//!   directory's own CA ([`tls_ca_pem`](LdapConfigBuilder::tls_ca_pem)). Without either, the
//!   password crosses the network in clear text: use plain `ldap://` on loopback only.
//! - **Outages fail closed, within a bound.** Opening a connection (TCP and TLS) is bounded by
//!   [`connect_timeout`](LdapConfigBuilder::connect_timeout), each bind and search by
//!   [`operation_timeout`](LdapConfigBuilder::operation_timeout) (2 s each by default), and
//!   so is the wait for a pooled connection when all are busy. A directory that refuses
//!   connections fails the store call at once; one that accepts them and never answers fails
//!   it after one timeout (the first step that waits in vain ends the call). Either way the
//!   call answers an [`LdapError`], which the layer turns into a `500` with nobody logged in. A
//!   stale pooled connection is replaced on its first failure, so the store works again as
//!   soon as the directory does, without a restart.
//!
//! # Timing: unknown users and wrong passwords
//!
//! Both cost the same steps: with search-then-bind, one search and one bind on a new
//! connection (for an unknown name, a bind to a DN that does not exist, with the password
//! given); with a DN template, one bind. The directory answers both binds with the same
//! `invalidCredentials` (49). What the store cannot make equal is the directory's own work: a
//! server checks a hash only for an entry that exists, and skips it for a DN that does not.
//! With the salted SHA hashes that OpenLDAP uses by default the check takes microseconds,
//! lost in the network round trip (against slapd on loopback, 100 logins of each kind measured
//! the same p50 within the noise, about 2 ms over HTTP); with a deliberately slow hash in the directory (PBKDF2,
//! argon2, Active Directory's policies), a wrong password can take measurably longer than an
//! unknown name. Throttling (per account and per address) bounds how many such measurements
//! anyone gets.

mod config;
mod escape;
mod pool;
mod user;

use std::{
    collections::HashMap,
    fmt,
    marker::PhantomData,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use ldap3::{Scope, SearchEntry};
use secrecy::ExposeSecret;

pub use self::{
    config::{
        DEFAULT_CONNECT_TIMEOUT, DEFAULT_OPERATION_TIMEOUT, DEFAULT_POOL_SIZE, LdapConfig,
        LdapConfigBuilder, LdapConfigError,
    },
    escape::{escape_dn_value, escape_filter_value},
    user::{FromLdapEntry, LdapEntry, LdapUser},
};
use self::{
    config::{Grant, GroupSource, UserLookup},
    escape::{fill, normalize_dn},
    pool::{Pool, Search},
};
use crate::{
    UserStore,
    credentials::{MAX_USERNAME_LEN, PasswordCredentials},
    error::BoxError,
};

/// A [`UserStore`] over an LDAP directory: logins are binds, users are read by the service
/// account. See the [module documentation](self).
pub struct LdapStore<U> {
    inner: Arc<Inner>,
    _user: PhantomData<fn() -> U>,
}

struct Inner {
    config: LdapConfig,
    pool: Pool,
    counters: Counters,
    /// What a user search asks for.
    attributes: Vec<String>,
    /// Bound with the given password when a login name matches no entry, so an unknown name
    /// costs the steps of a wrong password. No entry has this DN.
    absent_dn: String,
}

impl<U> Clone for LdapStore<U> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            _user: PhantomData,
        }
    }
}

impl<U> fmt::Debug for LdapStore<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapStore")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// How much work an [`LdapStore`] has done, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LdapStoreStats {
    /// Connections opened (pooled ones and those of users' binds).
    pub connections: u64,
    /// Binds as the service account (one per pooled connection opened).
    pub service_binds: u64,
    /// Binds with a password a user gave, including those for unknown login names.
    pub user_binds: u64,
    /// Searches (finding a login name, loading a user, groups).
    pub searches: u64,
}

#[derive(Default)]
pub(super) struct Counters {
    connections: AtomicU64,
    service_binds: AtomicU64,
    user_binds: AtomicU64,
    searches: AtomicU64,
}

impl Counters {
    fn count(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why an [`LdapStore`] could not answer. The layer turns it into a `500` with a generic body and
/// logs it; nobody is logged in because of it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LdapError {
    /// No connection to the directory could be opened (refused, unresolvable, TLS failed).
    #[error("cannot connect to the directory at {url}: {source}")]
    Unreachable {
        /// The directory's URL.
        url: String,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
    /// The directory did not answer in time.
    #[error("the directory did not answer in time ({operation}, after {after:?})")]
    Timeout {
        /// What was waited for.
        operation: &'static str,
        /// How long.
        after: Duration,
    },
    /// The connection failed during an operation.
    #[error("the connection to the directory failed during a {operation}: {source}")]
    Connection {
        /// The operation.
        operation: &'static str,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
    /// The service account's bind was refused: check its DN and password.
    #[error(
        "the directory refused the service account {dn:?} (result code {code}: {message}); check `service_account`"
    )]
    ServiceBind {
        /// The service account's DN.
        dn: String,
        /// The LDAP result code.
        code: u32,
        /// The directory's message.
        message: String,
    },
    /// The directory answered an operation with an error.
    #[error("the directory refused a {operation} (result code {code}: {message})")]
    Refused {
        /// The operation.
        operation: &'static str,
        /// The LDAP result code.
        code: u32,
        /// The directory's message.
        message: String,
    },
    /// The directory sent something that does not decode.
    #[error("the directory sent {what} that does not decode")]
    Malformed {
        /// What did not decode.
        what: &'static str,
    },
    /// An entry lacks what the configuration needs, or cannot be read.
    #[error("entry {dn:?}: {problem}")]
    Entry {
        /// The entry's DN.
        dn: String,
        /// What is wrong, and what to change.
        problem: String,
    },
    /// [`FromLdapEntry::from_entry`] failed.
    #[error("making the user from the entry failed: {0}")]
    User(#[source] BoxError),
}

impl<U: FromLdapEntry> LdapStore<U> {
    /// A store for the directory that `config` describes. Nothing is opened until the first
    /// login, load or [`connect`](Self::connect).
    pub fn new(config: LdapConfig) -> Self {
        let attributes = config.requested_attributes();
        let base = match &config.lookup {
            UserLookup::Search { base, .. } => base.as_str(),
            UserLookup::DnTemplate { .. } => "",
        };
        let absent_dn = if base.is_empty() {
            "cn=axum-login absent user".to_owned()
        } else {
            format!("cn=axum-login absent user,{base}")
        };
        Self {
            inner: Arc::new(Inner {
                pool: Pool::new(config.pool_size),
                config,
                counters: Counters::default(),
                attributes,
                absent_dn,
            }),
            _user: PhantomData,
        }
    }

    /// Opens and binds one pooled connection now: an unreachable directory or a wrong service
    /// password shows at startup instead of at the first login.
    pub async fn connect(&self) -> Result<(), LdapError> {
        let inner = &*self.inner;
        inner.pool.warm_up(&inner.config, &inner.counters).await
    }

    /// The configuration.
    pub fn config(&self) -> &LdapConfig {
        &self.inner.config
    }

    /// What the store has done so far.
    pub fn stats(&self) -> LdapStoreStats {
        let counters = &self.inner.counters;
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        LdapStoreStats {
            connections: read(&counters.connections),
            service_binds: read(&counters.service_binds),
            user_binds: read(&counters.user_binds),
            searches: read(&counters.searches),
        }
    }

    async fn check(&self, credentials: PasswordCredentials) -> Result<Option<U>, LdapError> {
        if !credentials.is_within_limits() {
            return Ok(None);
        }
        let username = credentials.username.trim();
        if username.is_empty() || credentials.password.expose_secret().is_empty() {
            return Ok(None);
        }
        let inner = &*self.inner;
        let config = &inner.config;
        match &config.lookup {
            UserLookup::Search { base, filter, .. } => {
                let filter = fill(filter, &[("{}", &escape_filter_value(username))]);
                let found = inner.find_one(base, Scope::Subtree, &filter).await?;
                let dn = found.as_ref().map_or(&inner.absent_dn, |entry| &entry.dn);
                let bound =
                    pool::user_bind(config, &inner.counters, dn, &credentials.password).await?;
                match found {
                    Some(entry) if bound => inner.make_user(entry).await.map(Some),
                    _ => Ok(None),
                }
            }
            UserLookup::DnTemplate { template } => {
                let dn = fill(template, &[("{}", &escape_dn_value(username))]);
                if !pool::user_bind(config, &inner.counters, &dn, &credentials.password).await? {
                    return Ok(None);
                }
                match inner.find_one(&dn, Scope::Base, "(objectClass=*)").await? {
                    Some(entry) => inner.make_user(entry).await.map(Some),
                    None => Err(LdapError::Entry {
                        dn,
                        problem: "the user's bind succeeded but the entry cannot be read; give the service account read access to it"
                            .to_owned(),
                    }),
                }
            }
        }
    }

    async fn load(&self, id: &str) -> Result<Option<U>, LdapError> {
        if id.is_empty() || id.len() > MAX_USERNAME_LEN {
            return Ok(None);
        }
        let inner = &*self.inner;
        let found = match &inner.config.lookup {
            UserLookup::Search {
                base, id_filter, ..
            } => {
                let filter = fill(id_filter, &[("{}", &escape_filter_value(id))]);
                inner.find_one(base, Scope::Subtree, &filter).await?
            }
            UserLookup::DnTemplate { template } => {
                let dn = fill(template, &[("{}", &escape_dn_value(id))]);
                inner.find_one(&dn, Scope::Base, "(objectClass=*)").await?
            }
        };
        let Some(entry) = found else {
            return Ok(None);
        };
        let user: U = inner.make_user(entry).await?;
        // The session's id must name this very entry: a filter that matched by another
        // attribute, or an id that changed, ends the session rather than switching users.
        Ok((user.id() == id).then_some(user))
    }
}

impl Inner {
    /// The one entry that a user search finds: `None` for none, and for more than one (a
    /// filter that is not specific enough must not pick a user).
    async fn find_one(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
    ) -> Result<Option<SearchEntry>, LdapError> {
        let search = Search {
            base,
            scope,
            filter,
            attributes: &self.attributes,
            size_limit: 2,
        };
        let found = self
            .pool
            .search(&self.config, &self.counters, &search)
            .await?;
        if found.no_base {
            return match scope {
                // A DN made from a login name or id that names no entry.
                Scope::Base => Ok(None),
                _ => Err(LdapError::Entry {
                    dn: base.to_owned(),
                    problem: "the user search base does not exist; check `user_search`".to_owned(),
                }),
            };
        }
        let mut entries = found.entries;
        if found.truncated || entries.len() > 1 {
            tracing::warn!(
                filter,
                "an LDAP user search matched more than one entry; treated as no match (make the filter specific)"
            );
            return Ok(None);
        }
        Ok(entries.pop())
    }

    /// The user from their entry: id, stamp, groups, and what the groups grant.
    async fn make_user<U: FromLdapEntry>(&self, entry: SearchEntry) -> Result<U, LdapError> {
        let config = &self.config;
        let SearchEntry { dn, attrs, .. } = entry;
        let attributes: HashMap<String, Vec<String>> = attrs
            .into_iter()
            .map(|(name, values)| (name.to_ascii_lowercase(), values))
            .collect();
        let values = |name: &str| {
            attributes
                .get(&name.to_ascii_lowercase())
                .filter(|values| !values.is_empty())
        };
        let Some(id) = values(&config.id_attribute).and_then(|values| values.first()) else {
            return Err(LdapError::Entry {
                dn,
                problem: format!(
                    "it has no `{}` attribute (the id); check `id_attribute` and that the service account may read it",
                    config.id_attribute
                ),
            });
        };
        let id = id.clone();
        let mut stamp = dn.as_bytes().to_vec();
        let mut stamped = false;
        for attribute in &config.stamp_attributes {
            let Some(found) = values(attribute) else {
                continue;
            };
            stamped = true;
            stamp.push(0);
            stamp.extend_from_slice(attribute.to_ascii_lowercase().as_bytes());
            for value in found {
                stamp.push(0);
                stamp.extend_from_slice(value.as_bytes());
            }
        }
        if !stamped {
            return Err(LdapError::Entry {
                dn,
                problem: format!(
                    "it has none of {:?}, from which sessions end when the password changes; choose others with `session_stamp_attributes`",
                    config.stamp_attributes
                ),
            });
        }
        let groups = match &config.groups {
            None => Vec::new(),
            Some(GroupSource::Attribute(attribute)) => {
                values(attribute).cloned().unwrap_or_default()
            }
            Some(GroupSource::Search { base, filter }) => {
                self.search_groups(base, filter, &dn, &id).await?
            }
        };
        let normalized: Vec<String> = groups.iter().map(|group| normalize_dn(group)).collect();
        let mut roles = Vec::new();
        let mut permissions: Vec<String> = Vec::new();
        for grant in &config.grants {
            if !normalized.contains(&grant.group) {
                continue;
            }
            match &grant.grant {
                Grant::Role { name, enum_type } => roles.push((*name, *enum_type)),
                Grant::Permission(name) => {
                    if !permissions.contains(name) {
                        permissions.push(name.clone());
                    }
                }
            }
        }
        U::from_entry(LdapEntry {
            dn,
            id,
            attributes,
            groups,
            roles,
            permissions,
            stamp,
        })
        .map_err(LdapError::User)
    }

    /// The DNs of the groups that the group search finds for this user.
    async fn search_groups(
        &self,
        base: &str,
        filter: &str,
        dn: &str,
        id: &str,
    ) -> Result<Vec<String>, LdapError> {
        let filter = fill(
            filter,
            &[
                ("{dn}", &escape_filter_value(dn)),
                ("{uid}", &escape_filter_value(id)),
            ],
        );
        // "1.1": no attributes, the DNs are enough.
        let no_attributes = ["1.1".to_owned()];
        let search = Search {
            base,
            scope: Scope::Subtree,
            filter: &filter,
            attributes: &no_attributes,
            size_limit: 0,
        };
        let found = self
            .pool
            .search(&self.config, &self.counters, &search)
            .await?;
        if found.no_base || found.truncated {
            return Err(LdapError::Entry {
                dn: base.to_owned(),
                problem: if found.no_base {
                    "the group search base does not exist; check `group_search`".to_owned()
                } else {
                    "the group search found more groups than the directory's size limit; a user's groups must be complete".to_owned()
                },
            });
        }
        Ok(found.entries.into_iter().map(|entry| entry.dn).collect())
    }
}

impl<U: FromLdapEntry> UserStore for LdapStore<U> {
    type User = U;
    type Credentials = PasswordCredentials;
    type Error = LdapError;

    async fn authenticate(&self, credentials: PasswordCredentials) -> Result<Option<U>, LdapError> {
        self.check(credentials).await
    }

    async fn load_user(&self, id: &String) -> Result<Option<U>, LdapError> {
        self.load(id).await
    }

    /// The trimmed, lower-cased login name: the directory matches names ignoring case and
    /// surrounding spaces, so every spelling of an account counts against one limit.
    fn throttle_key(&self, credentials: &PasswordCredentials) -> Option<String> {
        Some(
            credentials
                .username
                .trim()
                .chars()
                .take(MAX_USERNAME_LEN + 1)
                .flat_map(char::to_lowercase)
                .collect(),
        )
    }
}
