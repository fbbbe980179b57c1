//! Errors, and how they become responses.

use std::error::Error as StdError;

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

mod policy;
#[cfg(feature = "tokens")]
mod token;

pub use self::policy::PolicyError;
#[cfg(feature = "tokens")]
pub use self::token::NewTokenError;
use crate::credentials::InvalidPassword;

/// A boxed error from a user store.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Something went wrong while finding out who the user is, or logging them in or out.
///
/// As a response it is a `500 Internal Server Error` with a generic body (a refused new password
/// is a `422`, a cross-site request a `403`, a session limit a `409`); the cause is logged with
/// `tracing` at error level, never sent. Nobody is ever treated as logged in because of an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The user store failed.
    #[error("the user store failed: {0}")]
    Store(#[source] BoxError),

    /// The session store failed.
    #[error("the session store failed: {0}")]
    Session(#[from] tower_sessions::session::Error),

    /// A login, logout or authentication came from another site (login or logout CSRF).
    #[error(
        "refused a cross-site authentication request; if the app's front end is on another origin, add it with `AuthLayerBuilder::trusted_origin`"
    )]
    CrossSiteRequest,

    /// The session registry or the remember-me store failed.
    #[error("the session registry or remember-me store failed: {0}")]
    Registry(#[source] BoxError),

    /// A login would exceed the user's
    /// [`max_sessions`](crate::registry::RegistryConfig::max_sessions), set to refuse new
    /// logins: a `409 Conflict` as a response.
    #[error("the user has as many sessions as they may have; end one to log in here")]
    SessionLimit,

    /// The throttle's counter store failed.
    #[error("the login throttle's store failed: {0}")]
    Throttle(#[source] BoxError),

    /// An extractor ran on a route that `AuthLayer` does not wrap.
    #[error(
        "`{extractor}` was used on a route without `AuthLayer`; add `.layer(AuthLayer::builder(store, session_layer).build())` to the router that serves this route"
    )]
    MissingLayer {
        /// The extractor that found no layer.
        extractor: &'static str,
    },

    /// A capability's handle (such as `Accounts`) was used on a route whose layer was not
    /// given it: a mistake in the app, found on the first request that uses it.
    #[error(
        "`{feature}` is used on a route whose AuthLayer was built without it; add `.{builder}(..)` to `AuthLayer::builder(..)`"
    )]
    NotRegistered {
        /// The capability.
        feature: &'static str,
        /// The builder method that registers it.
        builder: &'static str,
    },

    /// `AuthSession<S>` or `CurrentUser<U>` names another store or user type than the layer's.
    #[error(
        "`{extractor}` does not match the `AuthLayer` on this route, whose store is `{layer_store}` with users of type `{layer_user}`"
    )]
    TypeMismatch {
        /// The extractor, with the type it asked for.
        extractor: String,
        /// The layer's store type.
        layer_store: &'static str,
        /// The layer's user type.
        layer_user: &'static str,
    },

    /// A guard asked about a role or permission that the user type can never hold, or a check
    /// refused with a response that is not a refusal: a mistake in the app, found on the first
    /// request that reaches the guard.
    #[error(transparent)]
    Policy(#[from] PolicyError),

    /// A new password was refused before it was hashed: empty, or longer than
    /// [`MAX_PASSWORD_LEN`](crate::credentials::MAX_PASSWORD_LEN). The request's mistake, not
    /// the server's: a `422 Unprocessable Entity` as a response, which an app that shows its
    /// form again matches on to say what is wrong.
    #[error(transparent)]
    InvalidPassword(#[from] InvalidPassword),

    /// The API token store failed (feature `tokens`).
    #[error("the API token store failed: {0}")]
    Tokens(#[source] BoxError),

    /// An API token cannot be created as asked (feature `tokens`): the request's mistake, a
    /// `422` that says which rule it broke.
    #[cfg(feature = "tokens")]
    #[error(transparent)]
    InvalidToken(#[from] NewTokenError),
}

impl AuthError {
    /// A failure of the user store, for a handler that calls the store itself (a password
    /// change): answered as a `500` with a generic body, the cause logged, like the layer's own.
    ///
    /// Except a new password that the store refused before hashing it (empty, or over
    /// [`MAX_PASSWORD_LEN`](crate::credentials::MAX_PASSWORD_LEN) bytes): that is the request's
    /// mistake, [`AuthError::InvalidPassword`], a `422`.
    pub fn store(error: impl StdError + Send + Sync + 'static) -> Self {
        let error: BoxError = Box::new(error);
        match invalid_password(&*error) {
            Some(invalid) => Self::InvalidPassword(invalid),
            None => Self::Store(error),
        }
    }

    /// Whether this error is a mistake in how the app is put together (a missing layer, a wrong
    /// type), rather than a failure at run time.
    pub fn is_setup_error(&self) -> bool {
        matches!(
            self,
            Self::MissingLayer { .. }
                | Self::NotRegistered { .. }
                | Self::TypeMismatch { .. }
                | Self::Policy(_)
        )
    }
}

/// The refused new password that `error` is, or is caused by: the crate's own errors say it
/// in their type, whatever store wraps them.
fn invalid_password(error: &(dyn StdError + 'static)) -> Option<InvalidPassword> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(invalid) = error.downcast_ref::<InvalidPassword>() {
            return Some(*invalid);
        }
        #[cfg(feature = "password")]
        if let Some(crate::password::PasswordError::Invalid(invalid)) = error.downcast_ref() {
            return Some(*invalid);
        }
        next = error.source();
    }
    None
}

#[cfg(feature = "password")]
impl From<crate::password::PasswordError> for AuthError {
    fn from(error: crate::password::PasswordError) -> Self {
        Self::store(error)
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        #[cfg(feature = "tokens")]
        if let Self::InvalidToken(invalid) = &self {
            tracing::info!(error = %self, "refused a new API token");
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                [(header::CACHE_CONTROL, "no-store")],
                format!("Unprocessable Entity: {invalid}"),
            )
                .into_response();
        }
        if let Self::InvalidPassword(invalid) = &self {
            tracing::info!(error = %self, "refused a new password");
            // The rule, in the words of `InvalidPassword`: the request's own input, no internals.
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                [(header::CACHE_CONTROL, "no-store")],
                format!("Unprocessable Entity: {invalid}"),
            )
                .into_response();
        }
        if matches!(self, Self::SessionLimit) {
            tracing::info!(error = %self, "refused a login");
            return (
                StatusCode::CONFLICT,
                [(header::CACHE_CONTROL, "no-store")],
                "Too many sessions: log out somewhere else first",
            )
                .into_response();
        }
        if matches!(self, Self::CrossSiteRequest) {
            tracing::warn!(error = %self, "refused a cross-site request");
            return (
                StatusCode::FORBIDDEN,
                [(header::CACHE_CONTROL, "no-store")],
                "Forbidden: cross-site request",
            )
                .into_response();
        }
        // The body never carries the error itself: it names the app's types and the crate's,
        // which are nobody's business outside the server. The log says what to fix.
        let body = if self.is_setup_error() {
            tracing::error!(error = %self, "axum-login is not set up right for this route");
            "Internal Server Error: axum-login is not set up right for this route; the server's log says what to fix (at error level)"
        } else {
            tracing::error!(error = %self, cause = ?StdError::source(&self), "authentication failed with an error");
            "Internal Server Error"
        };
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CACHE_CONTROL, "no-store")],
            body,
        )
            .into_response()
    }
}
