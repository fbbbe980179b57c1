//! Sessions: [`session_layer`] with the defaults a login system needs, the middleware that
//! reads and writes its cookie, removal cookies that repeat the cookie's attributes, and a
//! store wrapper that keeps deleted sessions deleted.

mod cookie;
mod no_resurrection;
mod removal;
mod service;

use std::borrow::Cow;

use tower_sessions::{
    Expiry, SessionManagerLayer, SessionStore,
    cookie::SameSite,
    service::{CookieController, PlaintextCookie},
};

use self::cookie::CookieConfig;
pub use self::{
    no_resurrection::NoResurrection,
    removal::{CookieRemoval, CookieRemovalFuture},
    service::{SessionFuture, SessionService, Sessions},
};

/// A tower-sessions layer over `store` with safe cookie defaults, for
/// [`AuthLayer::builder`](crate::AuthLayer::builder).
///
/// - `HttpOnly`: scripts cannot read the cookie.
/// - `Secure`: the cookie travels only over HTTPS. Turn it off only for plain HTTP on loopback
///   during development, with `.with_secure(false)`, and say so.
/// - `SameSite=Lax`: other sites' forms and scripts do not send it, but following a link or a
///   redirect back from another site (an OAuth provider's callback) does. `Strict` would drop the
///   session on that redirect and break "log in with a provider".
/// - `Path=/` and no `Domain`: the cookie belongs to this host only, not its subdomains.
/// - The store is wrapped in [`NoResurrection`], so a slow request that still holds a session
///   cannot save it back after a logout or id change deleted it.
///
/// Because the layer knows these attributes, every instance removes the cookie at logout with
/// the attributes it was set with, even one that never set it itself. The cookie is read and
/// written by this crate rather than tower-sessions' cookie manager, which parses every cookie
/// of every request; the `Session` and the store are tower-sessions' own.
///
/// ```
/// use tower_sessions::MemoryStore;
///
/// let sessions = axum_login::session_layer(MemoryStore::default());
/// # let _ = sessions;
/// ```
pub fn session_layer<S: SessionStore>(store: S) -> SessionLayer<S> {
    SessionLayer {
        store: NoResurrection::new(store),
        config: CookieConfig::safe_defaults(),
    }
}

/// The session layer from [`session_layer`]: tower-sessions' sessions and store, with the cookie
/// handled by this crate (see [`AuthLayer`](crate::AuthLayer)). The methods are those of
/// [`SessionManagerLayer`], with the same defaults except
/// where [`session_layer`] says otherwise.
#[derive(Debug, Clone)]
pub struct SessionLayer<S: SessionStore> {
    store: NoResurrection<S>,
    config: CookieConfig,
}

impl<S: SessionStore> SessionLayer<S> {
    /// The cookie's name. Default: `id`.
    pub fn with_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.config.name = name.into();
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

    /// The same settings as a tower-sessions layer, for use without [`AuthLayer`](crate::AuthLayer).
    pub fn into_inner(self) -> SessionManagerLayer<NoResurrection<S>> {
        let CookieConfig {
            name,
            http_only,
            same_site,
            secure,
            path,
            domain,
            expiry,
            always_save,
        } = self.config;
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

impl<S: SessionStore> IntoSessionManager<NoResurrection<S>, PlaintextCookie> for SessionLayer<S> {
    fn into_session_manager(self) -> Sessions<NoResurrection<S>, PlaintextCookie> {
        Sessions::own(self.store, self.config)
    }
}
