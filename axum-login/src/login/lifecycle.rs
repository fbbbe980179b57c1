//! The seam between the login core and the features that take part in a login's life.
//!
//! The core (this folder) knows how a session holds a login, checks it on every request,
//! and writes it at login, logout and a password change. Everything else a login may involve
//! (the session registry, remember-me, the two-step login, the login throttle's device
//! cookies, the app's event handler) is a [`Feature`]: it lives
//! in its own folder, is registered by the builder method of that folder, and hears the
//! moments below through [`Features`], the list the layer's [`Config`](super::Config)
//! keeps. The core never names a feature, and a feature reaches another only through a
//! moment, so adding one adds no field to `Config` and no branch to this folder.
//!
//! The moments, in the order a login meets them:
//!
//! | moment | when | who listens today |
//! |---|---|---|
//! | [`restore`](Feature::restore), [`settle`](Feature::settle) | a request whose session holds no login | remember-me |
//! | [`hold`](Feature::hold) | a restored visitor is about to be logged in | two-step login |
//! | [`visit`](Feature::visit) | a logged-in request, at most every [`visit_interval`](Feature::visit_interval) | session registry |
//! | [`register`](Feature::register) | a login is about to be written | session registry |
//! | [`installed`](Feature::installed) | a login was written to the session (its id will change) | session registry, device cookies, two-step login |
//! | [`linked`](Feature::linked) | a token was linked to a registered login | session registry |
//! | [`logged_in`](Feature::logged_in) | a login is complete | remember-me |
//! | [`logged_out`](Feature::logged_out) | a logout | session registry, remember-me, device cookies, two-step login |
//! | [`login_ended`](Feature::login_ended) | the core ended a login (timeout, stale digest) | session registry |
//! | [`changed`](Feature::changed) | the user's credentials changed, or a token was stolen | session registry, remember-me, device cookies |
//! | [`session_ended`](Feature::session_ended) | a feature ended a session of the user | remember-me |
//! | [`event`](Feature::event) | an [`AuthEvent`] happened | the app's event handler, metrics |
//! | [`has_second_factor`](Feature::has_second_factor) | a guard with `fresh_mfa` asks about the user | two-step login |
//! | [`email_verified`](Feature::email_verified), [`unverified_url`](Feature::unverified_url) | a guard with `verified` asks about the user, and where to send them | accounts |
//! | [`stores`](Feature::stores) | a readiness probe asks whether the stores answer | session registry, remember-me, two-step login |
//!
//! Every moment has a default that does nothing, so a feature writes only the ones it needs.

use std::{
    any::Any,
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    time::{Duration, SystemTime},
};

use super::{ErasedUser, RequestAuth};
use crate::{
    AuthError,
    error::BoxError,
    events::{AuthEvent, AuthEvents, EventRecord, LoginMethod},
};

/// A boxed future, the type the crate's `dyn` traits answer (`#[async_trait]` writes the same
/// one): object-safe, so an implementation can be kept as `dyn`, which generic `async fn`s in
/// traits are not.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A visitor whose session holds no login, whom a feature recognises (a remember-me cookie).
/// The core decides what it is worth: it loads the user, refuses an inactive or unknown one,
/// lets the features [`hold`](Feature::hold) the login back (the two-step login, when the
/// user has a second factor and [`second_factor`](Self::second_factor) is not set); then
/// tells the feature with [`Feature::settle`].
pub(crate) struct Restored {
    /// The user's id, as text.
    pub(crate) user: String,
    /// How the visitor is logged in, for the event.
    pub(crate) method: LoginMethod,
    /// Whether what the visitor presented carries a completed second factor.
    pub(crate) second_factor: bool,
    /// Whether a login that waits for the second factor is remembered once complete.
    pub(crate) remember: bool,
    /// What the session registry links the new session to (a remember-me token's selector),
    /// so that ending the session revokes it.
    pub(crate) link: Option<String>,
    /// Reported when the visitor is logged in, before the login's own event.
    pub(crate) event: Option<AuthEvent>,
    /// The feature's own state, for its [`settle`](Feature::settle).
    pub(crate) state: Box<dyn Any + Send + Sync>,
}

/// What a request's own credentials say (an API token in `Authorization`), checked before its
/// session, which such a request neither reads nor writes.
// Made by a feature folder (API tokens) that a build may leave out.
#[allow(dead_code)]
pub(crate) enum Bearer {
    /// Valid credentials of `user`, allowed `scopes`.
    User {
        /// The user's id, as text.
        user: String,
        /// What the credentials may do.
        scopes: Arc<[String]>,
    },
    /// Credentials that are not valid (malformed, unknown, expired, revoked): the request is
    /// anonymous, and a refusal says the credentials were wrong.
    Refused,
}

/// A [`Restored`] visitor of an active user, about to be logged in.
pub(crate) struct Held<'a> {
    /// The user's id, as text.
    pub(crate) user: &'a str,
    /// The user's id, as the session keeps it.
    pub(crate) id: serde_json::Value,
    /// The keyed digest of the user's credentials, as a login keeps it.
    pub(crate) digest: &'a str,
    pub(crate) restored: &'a Restored,
}

/// What the core made of a [`Restored`] visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Logged in.
    LoggedIn,
    /// A feature held the login back (see [`Feature::hold`]): the user has a second factor that
    /// what was presented does not carry, and the session waits for it, as after a right
    /// password.
    FirstFactorOnly,
    /// The user is unknown or inactive: nobody is logged in.
    Refused,
}

/// A login about to be written, or just completed.
pub(crate) struct NewLogin<'a> {
    /// The user's id, as text.
    pub(crate) user: &'a str,
    pub(crate) method: LoginMethod,
    /// Whether the visitor asked to be remembered.
    pub(crate) remember: bool,
    /// Whether a second factor completed this login.
    pub(crate) second_factor: bool,
    /// See [`Restored::link`].
    pub(crate) link: Option<&'a str>,
    /// The session registry's entry of the login, once registered.
    pub(crate) entry: Option<&'a str>,
}

/// A logout.
pub(crate) struct Logout<'a> {
    /// Who was logged in, as text; `None` when nobody was (a logout also ends a login that
    /// waits for its second factor).
    pub(crate) user: Option<&'a str>,
    /// The session registry's entry of the login, if it has one.
    pub(crate) entry: Option<&'a str>,
}

/// A change to what a user's sessions rest on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change<'a> {
    /// The password changed; the session with entry `keep` (this one) stays logged in.
    Password {
        /// This session's registry entry.
        keep: Option<&'a str>,
    },
    /// The user's second factors changed (enrolled, removed, new recovery codes).
    SecondFactors,
    /// The user's sessions other than this one, or all of them, were ended on request.
    SessionsEnded,
    /// A replaced remember-me cookie came back: a copy of it was stolen. Everything ends.
    Stolen,
}

/// A session of the user that a feature ended (through the session registry).
pub(crate) struct EndedSession<'a> {
    /// What the session was linked to (see [`Restored::link`]).
    pub(crate) link: Option<&'a str>,
}

/// One store of a feature and a cheap check that it answers (see [`Feature::stores`]).
pub(crate) struct StoreCheck<'a> {
    /// The store's name in a readiness report: `registry`, `remember_me`, ...
    pub(crate) name: &'static str,
    /// Resolves once the store answered, or failed to. The caller bounds it in time.
    pub(crate) check: BoxFuture<'a, Result<(), BoxError>>,
}

/// A capability that takes part in the life of a login. See the [module](self).
///
/// Written with `#[async_trait]`, as the store traits are (see [`crate::store`]) and for the
/// same reason: the layer keeps its features as `dyn Feature`.
#[async_trait::async_trait]
pub(crate) trait Feature: Send + Sync + 'static {
    /// The feature, for [`Features::get`].
    fn as_any(&self) -> &dyn Any;

    /// Whether the feature reads the request's cookies on any method (remember-me logs a
    /// visitor in on a `GET`); the layer keeps them only for unsafe methods otherwise.
    fn reads_cookies(&self) -> bool {
        false
    }

    /// A request that may carry credentials of its own (an API token): what they say, or
    /// `None` to leave the request to its session. Asked before the session is read.
    async fn authenticate(&self, auth: &RequestAuth) -> Result<Option<Bearer>, AuthError> {
        let _ = auth;
        Ok(None)
    }

    /// Whether the request carries credentials of its own that this feature reads (an API
    /// token): the layer then never uses its session, so a page of another site cannot have
    /// sent it with the browser's cookie, and the CSRF check leaves it alone.
    fn authenticates(&self, auth: &RequestAuth) -> bool {
        let _ = auth;
        false
    }

    /// Whether a session's login passes a guard's scope checks (`scope = "..."`), which are
    /// about the credentials a feature reads: `false` makes scoped routes refuse sessions.
    fn sessions_have_every_scope(&self) -> bool {
        true
    }

    /// The user of valid [`Bearer`] credentials is gone or inactive: the feature reports it
    /// (the request stays anonymous whatever it does).
    fn bearer_refused(&self, auth: &RequestAuth, user: &str) {
        let _ = (auth, user);
    }

    /// A request whose session holds no login: the visitor, if the feature recognises them.
    async fn restore(&self, auth: &RequestAuth) -> Result<Option<Restored>, AuthError> {
        let _ = auth;
        Ok(None)
    }

    /// What the core made of the visitor that [`restore`](Self::restore) answered.
    async fn settle(
        &self,
        auth: &RequestAuth,
        restored: &Restored,
        verdict: Verdict,
    ) -> Result<(), AuthError> {
        let _ = (auth, restored, verdict);
        Ok(())
    }

    /// A visitor that [`restore`](Self::restore) recognised is about to be logged in: `true`
    /// holds the login back, the feature keeping in the session what completes it.
    async fn hold(&self, auth: &RequestAuth, held: &Held<'_>) -> Result<bool, AuthError> {
        let _ = (auth, held);
        Ok(false)
    }

    /// How often, at most, the feature hears of a logged-in session's visits.
    fn visit_interval(&self) -> Option<Duration> {
        None
    }

    /// A logged-in request on the session with registry entry `entry`, at `at`; `false`
    /// ends the session. An error of the feature's own is its to log: a visit never fails.
    async fn visit(&self, user: &str, entry: Option<&str>, at: SystemTime) -> bool {
        let _ = (user, entry, at);
        true
    }

    /// A login about to be written: the feature may refuse it, or answer the registry entry
    /// the session gets.
    async fn register(
        &self,
        auth: &RequestAuth,
        login: &NewLogin<'_>,
    ) -> Result<Option<String>, AuthError> {
        let _ = (auth, login);
        Ok(None)
    }

    /// A login of `user`, with registry entry `entry` if it has one, was written to the
    /// session (a login, a re-authentication, a password change, a step-up), whose id will
    /// change when the response goes out.
    async fn installed(
        &self,
        auth: &RequestAuth,
        user: &str,
        entry: Option<&str>,
    ) -> Result<(), AuthError> {
        let _ = (auth, user, entry);
        Ok(())
    }

    /// The login of `user` with registry entry `entry` got a link after it was registered
    /// (the visitor asked to be remembered after logging in): see [`Restored::link`].
    async fn linked(&self, user: &str, entry: &str, link: &str) -> Result<(), AuthError> {
        let _ = (user, entry, link);
        Ok(())
    }

    /// A login is complete.
    async fn logged_in(&self, auth: &RequestAuth, login: &NewLogin<'_>) -> Result<(), AuthError> {
        let _ = (auth, login);
        Ok(())
    }

    /// A logout.
    async fn logged_out(&self, auth: &RequestAuth, logout: &Logout<'_>) -> Result<(), AuthError> {
        let _ = (auth, logout);
        Ok(())
    }

    /// The core ended the session with registry entry `entry` (a timeout, a stale digest, a
    /// deleted or inactive user). The session ends whatever the feature does.
    async fn login_ended(&self, user: &str, entry: &str) {
        let _ = (user, entry);
    }

    /// What `user`'s sessions rest on changed.
    async fn changed(
        &self,
        auth: &RequestAuth,
        user: &str,
        change: Change<'_>,
    ) -> Result<(), AuthError> {
        let _ = (auth, user, change);
        Ok(())
    }

    /// A feature ended a session of a user.
    async fn session_ended(
        &self,
        auth: &RequestAuth,
        ended: &EndedSession<'_>,
    ) -> Result<(), AuthError> {
        let _ = (auth, ended);
        Ok(())
    }

    /// An auth event happened.
    fn event(&self, record: &EventRecord) {
        let _ = record;
    }

    /// Whether `user`'s email address is confirmed, if the feature knows (guards with
    /// `verified`).
    fn email_verified(&self, user: &dyn ErasedUser) -> Option<bool> {
        let _ = user;
        None
    }

    /// Where a browser goes to confirm its user's address, if the feature has such a page.
    fn unverified_url(&self) -> Option<&str> {
        None
    }

    /// Whether `user` has a second factor, if the feature knows.
    async fn has_second_factor(&self, user: &str) -> Result<Option<bool>, AuthError> {
        let _ = user;
        Ok(None)
    }

    /// The stores the feature keeps, each with a cheap check that it answers, for a readiness
    /// probe; none by default.
    fn stores(&self) -> Vec<StoreCheck<'_>> {
        Vec::new()
    }
}

/// The features of one layer, in the order they were registered; each moment is heard by
/// each of them in that order.
#[derive(Clone, Default)]
pub(crate) struct Features(Arc<[Arc<dyn Feature>]>);

impl fmt::Debug for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Features(")?;
        f.write_str(&self.0.len().to_string())?;
        f.write_str(")")
    }
}

impl Features {
    /// The features registered, one of each type: a feature registered again replaces the
    /// earlier one in its place.
    pub(crate) fn new(registered: Vec<Arc<dyn Feature>>) -> Self {
        let mut kept: Vec<Arc<dyn Feature>> = Vec::with_capacity(registered.len());
        for feature in registered {
            let id = feature.as_any().type_id();
            match kept.iter_mut().find(|old| old.as_any().type_id() == id) {
                Some(old) => *old = feature,
                None => kept.push(feature),
            }
        }
        Self(kept.into())
    }

    /// The registered feature of type `F`.
    pub(crate) fn get<F: Feature>(&self) -> Option<&F> {
        self.0
            .iter()
            .find_map(|feature| feature.as_any().downcast_ref())
    }

    pub(crate) fn reads_cookies(&self) -> bool {
        self.0.iter().any(|feature| feature.reads_cookies())
    }

    /// Whether a session's login passes scope checks: unless a feature says otherwise.
    pub(crate) fn sessions_have_every_scope(&self) -> bool {
        self.0
            .iter()
            .all(|feature| feature.sessions_have_every_scope())
    }

    /// Whether a feature reads credentials the request carries (see
    /// [`Feature::authenticates`]).
    pub(crate) fn authenticates(&self, auth: &RequestAuth) -> bool {
        self.0.iter().any(|feature| feature.authenticates(auth))
    }

    /// What the first feature that reads a request's own credentials made of them, and that
    /// feature.
    pub(crate) async fn authenticate(
        &self,
        auth: &RequestAuth,
    ) -> Result<Option<(&dyn Feature, Bearer)>, AuthError> {
        for feature in self.0.iter() {
            if let Some(bearer) = feature.authenticate(auth).await? {
                return Ok(Some((&**feature, bearer)));
            }
        }
        Ok(None)
    }

    /// The first feature that recognises the visitor, and what it answered.
    pub(crate) async fn restore(
        &self,
        auth: &RequestAuth,
    ) -> Result<Option<(&dyn Feature, Restored)>, AuthError> {
        for feature in self.0.iter() {
            if let Some(restored) = feature.restore(auth).await? {
                return Ok(Some((&**feature, restored)));
            }
        }
        Ok(None)
    }

    /// Whether a feature held the restored visitor's login back.
    pub(crate) async fn hold(
        &self,
        auth: &RequestAuth,
        held: &Held<'_>,
    ) -> Result<bool, AuthError> {
        for feature in self.0.iter() {
            if feature.hold(auth, held).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The first feature's answer to whether `user`'s address is confirmed.
    pub(crate) fn email_verified(&self, user: &dyn ErasedUser) -> Option<bool> {
        self.0
            .iter()
            .find_map(|feature| feature.email_verified(user))
    }

    /// The first feature's page that confirms an address.
    pub(crate) fn unverified_url(&self) -> Option<&str> {
        self.0.iter().find_map(|feature| feature.unverified_url())
    }

    pub(crate) fn visit_interval(&self) -> Option<Duration> {
        self.0
            .iter()
            .filter_map(|feature| feature.visit_interval())
            .min()
    }

    /// Whether every feature lets the session go on.
    pub(crate) async fn visit(&self, user: &str, entry: Option<&str>, at: SystemTime) -> bool {
        for feature in self.0.iter() {
            if !feature.visit(user, entry, at).await {
                return false;
            }
        }
        true
    }

    /// The registry entry the new login gets, if a feature gives one.
    pub(crate) async fn register(
        &self,
        auth: &RequestAuth,
        login: &NewLogin<'_>,
    ) -> Result<Option<String>, AuthError> {
        let mut entry = None;
        for feature in self.0.iter() {
            if let Some(given) = feature.register(auth, login).await? {
                entry = Some(given);
            }
        }
        Ok(entry)
    }

    pub(crate) async fn installed(
        &self,
        auth: &RequestAuth,
        user: &str,
        entry: Option<&str>,
    ) -> Result<(), AuthError> {
        for feature in self.0.iter() {
            feature.installed(auth, user, entry).await?;
        }
        Ok(())
    }

    pub(crate) async fn linked(
        &self,
        user: &str,
        entry: &str,
        link: &str,
    ) -> Result<(), AuthError> {
        for feature in self.0.iter() {
            feature.linked(user, entry, link).await?;
        }
        Ok(())
    }

    pub(crate) async fn logged_in(
        &self,
        auth: &RequestAuth,
        login: &NewLogin<'_>,
    ) -> Result<(), AuthError> {
        for feature in self.0.iter() {
            feature.logged_in(auth, login).await?;
        }
        Ok(())
    }

    pub(crate) async fn logged_out(
        &self,
        auth: &RequestAuth,
        logout: &Logout<'_>,
    ) -> Result<(), AuthError> {
        for feature in self.0.iter() {
            feature.logged_out(auth, logout).await?;
        }
        Ok(())
    }

    pub(crate) async fn login_ended(&self, user: &str, entry: &str) {
        for feature in self.0.iter() {
            feature.login_ended(user, entry).await;
        }
    }

    pub(crate) async fn changed(
        &self,
        auth: &RequestAuth,
        user: &str,
        change: Change<'_>,
    ) -> Result<(), AuthError> {
        for feature in self.0.iter() {
            feature.changed(auth, user, change).await?;
        }
        Ok(())
    }

    pub(crate) async fn session_ended(
        &self,
        auth: &RequestAuth,
        ended: &EndedSession<'_>,
    ) -> Result<(), AuthError> {
        for feature in self.0.iter() {
            feature.session_ended(auth, ended).await?;
        }
        Ok(())
    }

    /// Whether `user` has a second factor, as the first feature that knows answers; `None`
    /// when none does (the app gave no lookup).
    pub(crate) async fn has_second_factor(&self, user: &str) -> Result<Option<bool>, AuthError> {
        for feature in self.0.iter() {
            if let Some(enrolled) = feature.has_second_factor(user).await? {
                return Ok(Some(enrolled));
            }
        }
        Ok(None)
    }

    /// The stores of every feature, with their checks.
    pub(crate) fn stores(&self) -> Vec<StoreCheck<'_>> {
        self.0.iter().flat_map(|feature| feature.stores()).collect()
    }

    pub(crate) fn event(&self, record: &EventRecord) {
        for feature in self.0.iter() {
            feature.event(record);
        }
    }
}

/// The app's event handler, as a feature: it hears every event.
pub(crate) struct Events(pub(crate) Arc<dyn AuthEvents>);

#[async_trait::async_trait]
impl Feature for Events {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn event(&self, record: &EventRecord) {
        self.0.on_event(record);
    }
}
