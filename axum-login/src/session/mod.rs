//! Sessions: [`session_layer`] with the defaults a login system needs, the stores it runs on
//! (which never bring a logged-out session back), the middleware that reads and writes its
//! cookie, and removal cookies that repeat the cookie's attributes.

mod channels;
mod cookie;
mod guarded;
mod hooks;
mod removal;
mod service;
pub mod store;

use std::{borrow::Cow, time::Duration};

use tower_sessions::{
    Expiry, SessionManagerLayer, SessionStore,
    cookie::SameSite,
    service::{CookieController, PlaintextCookie},
};

pub(crate) use self::channels::{AfterSave, AfterSaveFn};
use self::cookie::CookieConfig;
pub(crate) use self::hooks::SessionDeleter;
#[cfg(feature = "redis")]
pub use self::store::RedisSessionStore;
#[cfg(feature = "sqlx")]
pub use self::store::SqlxSessionStore;
pub use self::{
    guarded::GuardedStore,
    removal::{CookieRemoval, CookieRemovalFuture},
    service::{SessionFuture, SessionService, Sessions},
    store::{CheckThenSave, MemoryStore, SessionBackend},
};

/// A session layer over `store` with safe defaults, for
/// [`AuthLayer::builder`](crate::AuthLayer::builder).
///
/// - `HttpOnly`: scripts cannot read the cookie.
/// - `Secure`: the cookie travels only over HTTPS. Turn it off only for plain HTTP on loopback
///   during development, with `.with_secure(false)`, and say so.
/// - The name `__Host-id` while the cookie is `Secure`: browsers accept a cookie of that name
///   only from this host over HTTPS, with `Path=/` and no `Domain`, so a sibling subdomain or a
///   plain-HTTP page cannot plant one in its place (to log the visitor in as the attacker).
///   [`without_host_prefix`](SessionLayer::without_host_prefix) opts out.
/// - A request that carries two session cookies of that name (one planted) is treated as having
///   none, rather than guessing which is the visitor's.
/// - `SameSite=Lax`: other sites' forms and scripts do not send it, but following a link or a
///   redirect back from another site (an OAuth provider's callback) does. `Strict` would drop the
///   session on that redirect and break "log in with a provider".
/// - `Path=/` and no `Domain`: the cookie belongs to this host only, not its subdomains.
/// - The store is a [`SessionBackend`]: a slow request that still holds a session cannot write
///   it back after a logout or an id change deleted it, on any instance, and a request that
///   changed nothing (a value set to what it was, a missing key removed) writes nothing and
///   sends no cookie.
/// - Every store call is bounded ([`with_store_timeout`](SessionLayer::with_store_timeout),
///   default 2 s): an unreachable store fails the request instead of holding it.
///
/// Because the layer knows these attributes, every instance removes the cookie at logout with
/// the attributes it was set with, even one that never set it itself. The cookie is read and
/// written by this crate rather than tower-sessions' cookie manager, which parses every cookie
/// of every request; the `Session` is tower-sessions' own.
///
/// ```
/// let sessions = axum_login::session_layer(axum_login::session::MemoryStore::default());
/// # let _ = sessions;
/// ```
pub fn session_layer<S: SessionBackend>(store: S) -> SessionLayer<S> {
    SessionLayer {
        store: GuardedStore::new(store),
        config: CookieConfig::safe_defaults(),
    }
}

/// The session layer from [`session_layer`]: tower-sessions' sessions over a
/// [`SessionBackend`], with the cookie handled by this crate (see
/// [`AuthLayer`](crate::AuthLayer)). The methods are those of [`SessionManagerLayer`], with the
/// same defaults except where [`session_layer`] says otherwise.
#[derive(Debug, Clone)]
pub struct SessionLayer<S> {
    store: GuardedStore<S>,
    config: CookieConfig,
}

impl<S> SessionLayer<S> {
    /// The cookie's name. Default: `id`, sent as `__Host-id` while the cookie is `Secure` (see
    /// [`session_layer`]).
    pub fn with_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Keeps the cookie's name as given even when it is `Secure`, without the `__Host-` prefix
    /// that keeps other hosts from planting a cookie of that name. For an app that must keep a
    /// name an older deployment used; it gives up that protection.
    pub fn without_host_prefix(mut self) -> Self {
        self.config.host_prefix = false;
        self
    }

    /// The longest one call to the session store may take; past it the request fails with a
    /// `500` instead of waiting. Default: 2 seconds.
    pub fn with_store_timeout(mut self, timeout: Duration) -> Self {
        self.store.set_timeout(timeout);
        self
    }

    /// Whether scripts are kept from reading the cookie. Default: `true`.
    pub fn with_http_only(mut self, http_only: bool) -> Self {
        self.config.http_only = http_only;
        self
    }

    /// The cookie's `SameSite`. Default: `Lax`.
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.config.same_site = same_site;
        self
    }

    /// Whether the cookie travels only over HTTPS. Default: `true`.
    pub fn with_secure(mut self, secure: bool) -> Self {
        self.config.secure = secure;
        self
    }

    /// When sessions expire. Default: when the browser session ends.
    pub fn with_expiry(mut self, expiry: Expiry) -> Self {
        self.config.expiry = Some(expiry);
        self
    }

    /// The cookie's path. Default: `/`.
    pub fn with_path(mut self, path: impl Into<Cow<'static, str>>) -> Self {
        self.config.path = path.into();
        self
    }

    /// The cookie's domain. Default: none, so the cookie stays on this host.
    pub fn with_domain(mut self, domain: impl Into<Cow<'static, str>>) -> Self {
        self.config.domain = Some(domain.into());
        self
    }

    /// Whether the session is saved on every request, not only when it changed. Default: `false`.
    pub fn with_always_save(mut self, always_save: bool) -> Self {
        self.config.always_save = always_save;
        self
    }
}

impl<S: Send + Sync + 'static> SessionLayer<S> {
    /// The same settings as a tower-sessions layer, for use without [`AuthLayer`](crate::AuthLayer).
    pub fn into_inner(self) -> SessionManagerLayer<GuardedStore<S>> {
        let CookieConfig {
            name,
            http_only,
            same_site,
            secure,
            path,
            domain,
            expiry,
            always_save,
            host_prefix: _,
        } = self.config.resolved();
        let mut layer = SessionManagerLayer::new(self.store)
            .with_name(name)
            .with_http_only(http_only)
            .with_same_site(same_site)
            .with_secure(secure)
            .with_path(path)
            .with_always_save(always_save);
        if let Some(domain) = domain {
            layer = layer.with_domain(domain);
        }
        if let Some(expiry) = expiry {
            layer = layer.with_expiry(expiry);
        }
        layer
    }
}

/// What [`AuthLayer::builder`](crate::AuthLayer::builder) takes as its sessions: a
/// [`SessionLayer`] from [`session_layer`], or any tower-sessions `SessionManagerLayer`.
pub trait IntoSessionManager<S: SessionStore, C: CookieController> {
    /// The session middleware for the auth layer.
    #[doc(hidden)]
    fn into_session_manager(self) -> Sessions<S, C>;
}

impl<S: SessionStore, C: CookieController> IntoSessionManager<S, C> for SessionManagerLayer<S, C> {
    fn into_session_manager(self) -> Sessions<S, C> {
        Sessions::tower(self)
    }
}

// Without `S: SessionBackend`: `session_layer` asked already, and asking again would repeat its
// error wherever the layer goes.
impl<S: Clone + Send + Sync + 'static> IntoSessionManager<GuardedStore<S>, PlaintextCookie>
    for SessionLayer<S>
{
    fn into_session_manager(self) -> Sessions<GuardedStore<S>, PlaintextCookie> {
        Sessions::own(self.store, self.config)
    }
}
