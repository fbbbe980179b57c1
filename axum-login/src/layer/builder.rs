//! [`AuthLayerBuilder`]: the options of an [`AuthLayer`].

use std::{sync::Arc, time::Duration};

use tower_sessions::{SessionStore, service::CookieController};

use super::AuthLayer;

/// The default [`AuthLayerBuilder::store_timeout`].
const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// The default [`AuthLayerBuilder::clock_skew`].
const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(30);

/// The realm a layer gets when none is named: its store's type, and how many layers over that
/// type this process built before it. Two layers of one app differ, and the same app built the
/// same way on every instance gets the same realms there.
fn default_realm<S>() -> String {
    static BUILT: std::sync::Mutex<Vec<(&str, usize)>> = std::sync::Mutex::new(Vec::new());
    let store = std::any::type_name::<S>();
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let before = match built.iter_mut().find(|(name, _)| *name == store) {
        Some((_, count)) => {
            *count += 1;
            *count - 1
        }
        None => {
            built.push((store, 1));
            0
        }
    };
    format!("{store}#{before}")
}
use crate::{
    SessionKey, Throttle, UserStore,
    cache::{CacheSlot, Loader},
    clock::{Clock, SystemClock},
    events::AuthEvents,
    guard::{UserKinds, check_guard_names},
    login::{
        Backend, Config, DEFAULT_ABSOLUTE_TIMEOUT, DenialResponder, Events, Feature, Features,
        LoginRedirect,
    },
    second_factor::{SecondFactorLookup, TwoStep},
    security::Scheme,
    session::{IntoSessionManager, Sessions},
};

impl<SS: SessionStore, C: CookieController> AuthLayer<SS, C> {
    /// Starts building a layer over `store` and `sessions`: a [`session_layer`] (safe cookie
    /// defaults) or any tower-sessions `SessionManagerLayer`.
    ///
    /// [`session_layer`]: crate::session_layer
    pub fn builder<S: UserStore>(
        store: S,
        sessions: impl IntoSessionManager<SS, C>,
    ) -> AuthLayerBuilder<S, SS, C> {
        AuthLayerBuilder {
            store,
            sessions: sessions.into_session_manager(),
            key: None,
            redirect: LoginRedirect::default(),
            clock: Arc::new(SystemClock),
            responder: None,
            trusted_origins: Vec::new(),
            refuse_cross_site: true,
            throttle: crate::Throttle::default(),
            absolute_timeout: Some(DEFAULT_ABSOLUTE_TIMEOUT),
            idle_timeout: None,
            cache: Default::default(),
            batch_loads: None,
            store_timeout: DEFAULT_STORE_TIMEOUT,
            realm: None,
            clock_skew: DEFAULT_CLOCK_SKEW,
            // The two-step login is always there: a handler may begin one without a lookup.
            features: vec![Arc::new(TwoStep::default())],
            other_user_types: Vec::new(),
        }
    }
}

/// Options for an [`AuthLayer`]; from [`AuthLayer::builder`].
#[must_use = "call `.build()` to get the layer"]
pub struct AuthLayerBuilder<S, SS: SessionStore, C: CookieController> {
    store: S,
    sessions: Sessions<SS, C>,
    key: Option<SessionKey>,
    redirect: LoginRedirect,
    clock: Arc<dyn Clock>,
    responder: Option<Arc<dyn DenialResponder>>,
    trusted_origins: Vec<String>,
    refuse_cross_site: bool,
    throttle: Throttle,
    absolute_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    pub(crate) cache: CacheSlot,
    batch_loads: Option<bool>,
    store_timeout: Duration,
    realm: Option<String>,
    clock_skew: Duration,
    /// The features that take part in a login's life, in the order registered.
    features: Vec<Arc<dyn Feature>>,
    other_user_types: Vec<UserKinds>,
}

impl<S: UserStore, SS: SessionStore, C: CookieController> AuthLayerBuilder<S, SS, C> {
    /// The server key for the session digests. Default: a random key per process, so logins do
    /// not survive a restart and are not shared between instances; see [`SessionKey`].
    pub fn session_key(mut self, key: SessionKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Where anonymous browsers are sent to log in. Default: `/login`.
    ///
    /// # Panics
    ///
    /// If `url` is not a local path (it must start with a single `/`), since a login page on
    /// another site would be an open redirect.
    pub fn login_url(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        assert!(
            url.starts_with('/') && !url.starts_with("//") && !url.contains('\\'),
            "AuthLayer: login_url must be a local path such as \"/login\", got {url:?}"
        );
        self.redirect.login_url = Some(url);
        self
    }

    /// Answer anonymous browsers with `401` like API clients, instead of redirecting them.
    pub fn no_login_redirect(mut self) -> Self {
        self.redirect.login_url = None;
        self
    }

    /// The query parameter that carries the page to come back to after login. Default: `next`.
    pub fn redirect_field(mut self, field: impl Into<String>) -> Self {
        self.redirect.redirect_field = field.into();
        self
    }

    /// Another origin allowed to send login and logout requests, e.g. a front end served from
    /// `https://app.example` talking to this API; repeat for several. By default only requests
    /// from this site may log in or out: a `POST` whose `Sec-Fetch-Site` is `cross-site` or
    /// `same-site`, or whose `Origin` is not this host, gets `403`.
    pub fn trusted_origin(mut self, origin: impl Into<String>) -> Self {
        self.trusted_origins
            .push(origin.into().trim_end_matches('/').to_owned());
        self
    }

    /// Lets other sites send login and logout requests. This opens the app to login CSRF (a
    /// site logs the visitor in as the attacker) and logout CSRF; only for apps that protect
    /// those routes with their own CSRF tokens.
    pub fn allow_cross_site_auth(mut self) -> Self {
        self.refuse_cross_site = false;
        self
    }

    /// How failed logins are throttled. Default: [`Throttle::default`](Throttle): per account
    /// 10 failures (5 free, then a doubling wait), per client address 50, per 15 minutes, in
    /// memory, with device cookies for browsers that logged in before.
    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = throttle;
        self
    }

    /// The longest a login lasts, however active: after it the session ends and the user logs
    /// in again. Default: [`DEFAULT_ABSOLUTE_TIMEOUT`] (30 days); `None` for no limit.
    pub fn absolute_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.absolute_timeout = timeout;
        self
    }

    /// The longest a login lasts unused. Default: `None`, leaving idle expiry to the session
    /// layer's own expiry. With a timeout, the session is written at most every tenth of it to
    /// record activity.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Answers turned-away requests (anonymous, stale login, forbidden) the app's own way, e.g.
    /// a branded 403 page; returning `None` keeps the default answer. See [`DenialResponder`].
    ///
    /// [`DenialResponder`]: DenialResponder
    pub fn on_denied(mut self, responder: impl DenialResponder) -> Self {
        self.responder = Some(Arc::new(responder));
        self
    }

    /// Whether the users of concurrent requests are loaded together, through
    /// [`UserStore::load_users`]. Default: [`UserStore::BATCHED_LOADS`], so on for a store that
    /// says its `load_users` is one query, otherwise one [`UserStore::load_user`] per request.
    ///
    /// The first load starts at once; loads that arrive while it runs go together in the next
    /// call (at most 100 users each), so a load waits at most for the batch in flight, reads
    /// the store after its request arrived, and a quiet server loads one user at a time. Under
    /// load this trades one query per request for one query per batch: with a store whose
    /// `load_users` is one `WHERE id IN (...)` query, the `cargo run --release -p bench` guarded
    /// route without a cache serves 1.6–1.8x the requests of one load per request (see the
    /// README's benchmarks). Each user is checked to be the one asked for, so a store that
    /// answers out of order logs no one in as someone else.
    ///
    /// The store's `load_users` runs on a task of its own, outside the request's tracing span.
    pub fn batch_user_loads(mut self, on: bool) -> Self {
        self.batch_loads = Some(on);
        self
    }

    /// The longest loading a user from the store may take; past it the request fails with a
    /// `500` (the cause logged) instead of waiting. Default: 2 seconds, so that while the user
    /// database is unreachable guarded routes fail fast rather than hold every connection for
    /// the store's own timeouts (sqlx waits 30 seconds for a pooled connection by default). A
    /// batched load counts as one load. `authenticate` is not bounded here: it includes the
    /// password hash, whose time depends on the load of the password threads.
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = timeout;
        self
    }

    /// The realm of this layer's logins: a login is bound to it (it keys the session's digest),
    /// so a session made by a layer of another realm is not accepted here, even with the same
    /// session store, key and user ids (two tenants, an admin area and a public one).
    ///
    /// Default: a name made from the store's type and how many layers over that type the
    /// process built before this one, so two layers of one app differ and every instance of the
    /// same app agrees. Name it when that order may change between deployments (sessions of
    /// the old order would end), or to let two layers accept each other's logins.
    pub fn realm(mut self, name: impl Into<String>) -> Self {
        self.realm = Some(name.into());
        self
    }

    /// How far in the future a session's login time may be before the session ends, for
    /// clocks that differ a little between instances. Default: 30 seconds.
    ///
    /// A login time further ahead means a clock was wrong when it was written (or is wrong
    /// now); counting its age as zero would stretch `fresh` and both timeouts by however far
    /// it is ahead, so the session ends instead.
    pub fn clock_skew(mut self, tolerance: Duration) -> Self {
        self.clock_skew = tolerance;
        self
    }

    /// Registers a feature that takes part in the life of each login (see
    /// [`Feature`](crate::login::Feature)); one of each type, a later one replacing an
    /// earlier one. Each feature's folder offers its own builder method that calls this.
    pub(crate) fn feature(mut self, feature: impl Feature) -> Self {
        self.features.push(Arc::new(feature));
        self
    }

    /// The feature of type `F` registered last, for a builder method that changes one option
    /// of it.
    pub(crate) fn registered<F: Feature>(&self) -> Option<&F> {
        self.features
            .iter()
            .rev()
            .find_map(|feature| feature.as_any().downcast_ref())
    }

    /// Sends auth events (logins, failures, logouts, ended sessions, password changes,
    /// remember-me) to `events` (see [`events`](crate::events)). Default: none.
    pub fn events(self, events: impl AuthEvents) -> Self {
        self.feature(Events(Arc::new(events)))
    }

    /// Where a browser is sent when a guard asks for a second factor this session has not
    /// completed (`#[require_login(mfa)]`), with the page to come back to in the redirect
    /// field. Default: none, so the browser gets a `401` page that says a second factor is
    /// required.
    ///
    /// # Panics
    ///
    /// If `url` is not a local path, as for [`login_url`](Self::login_url).
    pub fn second_factor_url(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        assert!(
            url.starts_with('/') && !url.starts_with("//") && !url.contains('\\'),
            "AuthLayer: second_factor_url must be a local path such as \"/login/code\", got {url:?}"
        );
        self.redirect.second_factor_url = Some(url);
        self
    }

    /// How long a login whose first factor was right waits for its second factor
    /// ([`AuthSession::begin_second_factor`](crate::AuthSession::begin_second_factor)) before
    /// the password must be entered again. Default: 5 minutes.
    pub fn second_factor_timeout(self, timeout: Duration) -> Self {
        let two_step = self.registered::<TwoStep>().cloned().unwrap_or_default();
        self.feature(two_step.with_timeout(timeout))
    }

    /// Where the layer learns whether a user has a second factor: an
    /// [`Mfa`](crate::mfa::Mfa) (feature `totp`), or the app's own [`SecondFactorLookup`].
    /// Default: none, and the layer takes every user to have none.
    ///
    /// With it, a remembered login of a user who has a second factor, from a remember-me
    /// token not issued after a completed second factor, is only the first factor: the
    /// visit waits for the second (see [`remember`](crate::remember)); and a guard with
    /// `fresh_mfa` asks such a user for the second factor itself.
    pub fn second_factors(self, lookup: impl SecondFactorLookup) -> Self {
        let two_step = self.registered::<TwoStep>().cloned().unwrap_or_default();
        self.feature(two_step.with_lookup(lookup))
    }

    /// The clock for login times and timeouts. Default: [`SystemClock`]. Tests use
    /// [`ManualClock`](crate::clock::ManualClock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Another user type whose guards share this program, for a program with several layers
    /// over different user types where that type implements [`AuthUser`](crate::AuthUser) by
    /// hand: the role and permission names its guards give as strings are then not refused by
    /// [`build`](Self::build). A type that derives `AuthUser` is known without it.
    pub fn other_user_type<U: crate::AuthUser>(mut self) -> Self {
        self.other_user_types.push(UserKinds::of::<U>());
        self
    }

    /// Builds the layer.
    ///
    /// # Panics
    ///
    /// If a guard of the program (`#[require_login]`, `require!`) asks for a role or permission
    /// by a name (`role = "admin"`) that the layer's user type can never hold, nor any other
    /// user type the program knows of (see [`other_user_type`](Self::other_user_type)): the
    /// message lists each such name with its file and line, and the names that exist. Found
    /// here, at start-up, rather than as a `500` on every request that reaches the guard.
    pub fn build(self) -> AuthLayer<SS, C> {
        if let Err(message) = check_guard_names(UserKinds::of::<S::User>(), &self.other_user_types)
        {
            panic!("{message}");
        }
        let key = self.key.unwrap_or_else(|| {
            tracing::warn!(
                "AuthLayer: no session key given, using a random one; logins will not survive a restart or be shared between instances (see `AuthLayerBuilder::session_key`)"
            );
            SessionKey::generate()
        });
        let batch = self.batch_loads.unwrap_or(S::BATCHED_LOADS);
        let mut features = self.features;
        if self.throttle.is_enabled() {
            features.insert(0, Arc::new(crate::devices::DeviceCookies));
        }
        let features = Features::new(features);
        let mut redirect = self.redirect;
        redirect.unverified_url = features.unverified_url().map(str::to_owned);
        let backend = Backend {
            loader: Loader::new(self.store, batch, self.cache, self.store_timeout),
            config: Config {
                realm: self.realm.unwrap_or_else(default_realm::<S>).into(),
                clock_skew: self.clock_skew,
                redirect,
                clock: self.clock,
                responder: self.responder,
                trusted_origins: self.trusted_origins,
                refuse_cross_site: self.refuse_cross_site,
                site_scheme: self
                    .sessions
                    .secure()
                    .map(|secure| if secure { Scheme::Https } else { Scheme::Http }),
                throttle: self.throttle,
                absolute_timeout: self.absolute_timeout,
                idle_timeout: self.idle_timeout,
                visit_every: Config::visit_every(self.idle_timeout, &features),
                features,
                session_deleter: self.sessions.deleter(),
                key,
            },
        };
        AuthLayer {
            backend: Arc::new(backend),
            sessions: self.sessions,
        }
    }
}

#[cfg(feature = "cache")]
impl<S, SS, C> AuthLayerBuilder<S, SS, C>
where
    S: UserStore,
    SS: SessionStore,
    C: CookieController,
{
    /// Caches loaded users in `cache` (feature `cache`), so a guarded request on a warm cache
    /// makes no user-store call. Default: no cache.
    ///
    /// The session's digest is still verified on every request against the cached user. What
    /// the cache changes is how soon a change to a user is seen:
    ///
    /// - On this instance, at once for changes made through
    ///   [`AuthSession::update_session_auth_hash`](crate::AuthSession::update_session_auth_hash)
    ///   or announced with [`UserCache::invalidate`](crate::UserCache::invalidate) (or
    ///   [`AuthSession::forget_cached_user`](crate::AuthSession::forget_cached_user)): the user's
    ///   other sessions end on their next request, a deleted user's sessions too.
    /// - Anywhere else (another instance, a SQL console), after at most the cache's
    ///   [`ttl`](crate::UserCache::ttl): until then a session of a user whose password changed or who
    ///   was deleted there may still pass on this instance. Pick the TTL as the longest such
    ///   window you accept, or invalidate on every instance (e.g. over a pub/sub channel).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use axum_login::{AuthLayer, UserCache};
    /// use axum_login::{session::MemoryStore, session_layer};
    /// # use axum_login::{AuthUser, UserStore};
    /// # #[derive(Clone)] struct User;
    /// # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { 1 } fn session_auth_hash(&self) -> &[u8] { b"" } }
    /// # #[derive(Clone)] struct MyStore;
    /// # impl UserStore for MyStore {
    /// #     type User = User; type Credentials = (); type Error = std::convert::Infallible;
    /// #     async fn authenticate(&self, _: ()) -> Result<Option<User>, Self::Error> { Ok(None) }
    /// #     async fn load_user(&self, _: &u64) -> Result<Option<User>, Self::Error> { Ok(None) }
    /// # }
    ///
    /// let cache = UserCache::new(10_000, Duration::from_secs(30));
    /// let sessions = session_layer(MemoryStore::default());
    /// let layer = AuthLayer::builder(MyStore, sessions)
    ///     .user_cache(cache.clone())
    ///     .build();
    /// // Later, after the app changed user 1 in the database:
    /// cache.invalidate(&1);
    /// ```
    pub fn user_cache(mut self, cache: crate::UserCache) -> Self {
        self.cache = Some(cache);
        self
    }
}
