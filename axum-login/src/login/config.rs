//! The options every request through one [`AuthLayer`](crate::AuthLayer) shares.

use std::{sync::Arc, time::Duration};

use super::{DenialResponder, Features};
use crate::{
    SessionKey, Throttle, clock::Clock, events::EventRecord, security::Scheme,
    session::SessionDeleter,
};

/// The default [`AuthLayerBuilder::absolute_timeout`](crate::layer::AuthLayerBuilder::absolute_timeout):
/// 30 days.
pub const DEFAULT_ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Options shared by every request through one layer.
pub(crate) struct Config {
    /// The layer's realm: its logins are bound to it (it keys their digests), so another layer
    /// does not accept them.
    pub(crate) realm: std::sync::Arc<str>,
    /// How far ahead of now a login time may be before its session ends.
    pub(crate) clock_skew: Duration,
    pub(crate) redirect: LoginRedirect,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) key: SessionKey,
    pub(crate) responder: Option<Arc<dyn DenialResponder>>,
    /// Origins besides this one allowed to send login and logout requests.
    pub(crate) trusted_origins: Vec<String>,
    /// Whether cross-site login and logout requests are refused.
    pub(crate) refuse_cross_site: bool,
    /// The scheme the site is served on, when the session layer says (its cookie is `Secure`
    /// or not): an `Origin` of the other scheme is another site.
    pub(crate) site_scheme: Option<Scheme>,
    pub(crate) throttle: Throttle,
    /// The longest a login lasts, however active.
    pub(crate) absolute_timeout: Option<Duration>,
    /// The longest a login lasts unused.
    pub(crate) idle_timeout: Option<Duration>,
    /// Deletes any session by id, when the session layer can (the crate's own).
    pub(crate) session_deleter: Option<Arc<dyn SessionDeleter>>,
    /// The features that take part in a login's life (see [`Feature`](super::Feature)): the
    /// session registry, remember-me, the app's event handler, ...
    pub(crate) features: Features,
    /// How often, at most, a logged-in session records a visit (and its features hear of
    /// it): a tenth of the idle timeout, or the most frequent of the features' intervals.
    pub(crate) visit_every: Option<Duration>,
}

impl Config {
    /// How often a logged-in session records a visit, for an idle timeout and `features`.
    pub(crate) fn visit_every(
        idle_timeout: Option<Duration>,
        features: &Features,
    ) -> Option<Duration> {
        [
            idle_timeout.map(|idle| idle / 10),
            features.visit_interval(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Reports `event` to the features (the app's event handler among them).
    pub(crate) fn emit(&self, event: crate::events::AuthEvent, address: Option<std::net::IpAddr>) {
        self.features.event(&EventRecord {
            event,
            address,
            at: self.clock.now(),
        });
    }
}

/// Where and how anonymous browsers are sent to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoginRedirect {
    /// The login page, a local path; `None` answers `401` to browsers too.
    pub(crate) login_url: Option<String>,
    /// The query parameter that carries the page to come back to.
    pub(crate) redirect_field: String,
    /// Where a browser goes to complete a second factor a guard asks for; `None` answers such
    /// a browser like an API client.
    pub(crate) second_factor_url: Option<String>,
    /// Where a guard that asks for a confirmed address sends a browser whose address is not:
    /// the page of the feature that confirms it, if it gives one.
    pub(crate) unverified_url: Option<String>,
}

impl Default for LoginRedirect {
    fn default() -> Self {
        Self {
            login_url: Some("/login".to_owned()),
            redirect_field: "next".to_owned(),
            second_factor_url: None,
            unverified_url: None,
        }
    }
}
