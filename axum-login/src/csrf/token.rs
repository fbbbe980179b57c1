//! [`CsrfToken`]: the token a page puts in its forms.

use std::fmt;

use axum::{
    extract::FromRequestParts,
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};

use super::{
    layer::{InUse, UnderLayer, cookie_name, cookie_secret, session_secret},
    secret::{Presented, Secret},
};
use crate::{
    events::{AuthEvent, CsrfRefusal},
    login::RequestAuth,
};

/// A CSRF token of this browser, for the page being rendered: put
/// [`hidden_field`](Self::hidden_field) in every form that posts, or give
/// [`value`](Self::value) to a script that sends it in the [`X-CSRF-Token`](Self::HEADER)
/// header. See [`csrf`](super).
///
/// Every extraction gives a new token (a fresh mask of the same secret): a page may hold many,
/// and all of them stay valid as long as the browser keeps its session, across the session id
/// changes of a login, a second factor or a password change. The route must be under a
/// [`CsrfLayer`](super::CsrfLayer); without one the extraction fails with a `500` and a log
/// line that says so, since a token nothing checks protects nothing.
///
/// ```
/// use axum::response::Html;
/// use axum_login::csrf::CsrfToken;
///
/// async fn settings_page(token: CsrfToken) -> Html<String> {
///     Html(format!(
///         r#"<form method="post" action="/settings">{}<button>Save</button></form>"#,
///         token.hidden_field()
///     ))
/// }
/// ```
#[derive(Clone)]
pub struct CsrfToken {
    token: String,
    secret: Secret,
    /// The secret of the request's cookie, when it has exactly one valid one.
    from_cookie: Option<Secret>,
    auth: RequestAuth,
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken([redacted])")
    }
}

impl CsrfToken {
    /// The form field that carries the token: `csrf_token`.
    pub const FIELD: &'static str = "csrf_token";

    /// The header that carries the token, for a script or an API client: `X-CSRF-Token`.
    pub const HEADER: &'static str = "x-csrf-token";

    /// The token, for a template's hidden field or a script's header.
    ///
    /// Only a token that is asked for is kept: a page that extracts one but renders no form
    /// (a logged-out visitor's home page) sets no cookie.
    pub fn value(&self) -> &str {
        // The layer keeps the secret where the next request will look, whatever the handler
        // did to the session meanwhile.
        self.auth.with_feature_state(|state| {
            state.insert(InUse {
                secret: self.secret.clone(),
                from_cookie: self.from_cookie.clone(),
                rendered: true,
            })
        });
        &self.token
    }

    /// The hidden form field that carries the token:
    /// `<input type="hidden" name="csrf_token" value="...">`. The token is URL-safe base64,
    /// which needs no HTML escaping.
    pub fn hidden_field(&self) -> String {
        format!(
            r#"<input type="hidden" name="{}" value="{}">"#,
            Self::FIELD,
            self.value()
        )
    }

    /// Checks a token that the [`CsrfLayer`](super::CsrfLayer) could not read, on a route it
    /// [exempts](super::CsrfLayer::exempt): the field of a `multipart/form-data` upload, once
    /// the handler has read it. `Err` is the layer's own `403` answer, and the event is
    /// reported as the layer reports it.
    pub fn verify(&self, token: &str) -> Result<(), CsrfRefused> {
        let reason = match Presented::parse(token.as_bytes()) {
            None if token.is_empty() => CsrfRefusal::Missing,
            None => CsrfRefusal::Malformed,
            Some(presented) if presented.matches(&self.secret) => return Ok(()),
            Some(_) => CsrfRefusal::Mismatch,
        };
        self.auth
            .config()
            .emit(AuthEvent::CsrfRefused { reason }, self.auth.client());
        Err(CsrfRefused(reason))
    }
}

impl<St: Send + Sync> FromRequestParts<St> for CsrfToken {
    type Rejection = CsrfTokenRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, Self::Rejection> {
        let (Some(UnderLayer), Some(auth)) = (
            parts.extensions.get::<UnderLayer>().copied(),
            parts.extensions.get::<RequestAuth>().cloned(),
        ) else {
            return Err(CsrfTokenRejection::MissingLayer);
        };
        // A second extraction on this request gives a token of the same secret.
        let chosen = auth.with_feature_state(|state| state.get::<InUse>().cloned());
        let used = match chosen {
            Some(used) => used,
            None => {
                let from_cookie = cookie_secret(&parts.headers, cookie_name(auth.secure()));
                let secret = match session_secret(auth.session()).await? {
                    Some(secret) => secret,
                    None => from_cookie.clone().unwrap_or_else(Secret::generate),
                };
                let used = InUse {
                    secret,
                    from_cookie,
                    rendered: false,
                };
                auth.with_feature_state(|state| state.get_or_insert_with(|| used).clone())
            }
        };
        Ok(Self {
            token: used.secret.token(),
            secret: used.secret,
            from_cookie: used.from_cookie,
            auth,
        })
    }
}

/// Why a [`CsrfToken`] could not be made: a `500`, the cause logged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsrfTokenRejection {
    /// The route is not under a [`CsrfLayer`](super::CsrfLayer) inside an
    /// [`AuthLayer`](crate::AuthLayer).
    #[error(
        "CsrfToken needs a CsrfLayer inside an AuthLayer on this route: `.layer(CsrfLayer::new())` after the routes, then `.layer(auth_layer)`"
    )]
    MissingLayer,
    /// The session store failed.
    #[error("the session store failed: {0}")]
    Session(#[from] tower_sessions::session::Error),
}

impl IntoResponse for CsrfTokenRejection {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "no CSRF token for this page");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CACHE_CONTROL, "no-store")],
            "Internal Server Error",
        )
            .into_response()
    }
}

/// A token refused by [`CsrfToken::verify`]: as a response, the `403` the
/// [`CsrfLayer`](super::CsrfLayer) answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request carried no valid CSRF token ({0:?})")]
pub struct CsrfRefused(pub CsrfRefusal);

impl IntoResponse for CsrfRefused {
    fn into_response(self) -> Response {
        super::layer::refusal()
    }
}
