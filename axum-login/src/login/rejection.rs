//! What a visitor who may not pass gets: a redirect to the login page, a `401`, or a `403`.

use std::fmt;

use axum::{
    extract::OriginalUri,
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};

use super::LoginRedirect;
use crate::{AuthError, security::login_location};

/// Why a request was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenialReason {
    /// Nobody is logged in.
    Unauthenticated,
    /// A user is logged in but the login is older than the route allows; they must log in again.
    Stale,
    /// A user is logged in but lacks what the route requires.
    Forbidden,
    /// A user is logged in but the route asks for a second factor this session has not
    /// completed (or not recently enough).
    SecondFactor,
    /// A user is logged in but the route asks for a confirmed email address (`verified`), and
    /// theirs is not.
    EmailUnverified,
}

/// How a refusal asks an API client for credentials (RFC 6750's `WWW-Authenticate: Bearer`),
/// set on the request by the feature that reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Set by a feature folder (API tokens) that a build may leave out.
#[allow(dead_code)]
pub(crate) enum Challenge {
    /// The route takes bearer tokens; none was sent.
    Bearer,
    /// A token was sent, and it is not valid.
    InvalidToken,
    /// A valid token, without the scope the route asks for.
    InsufficientScope(&'static str),
}

impl Challenge {
    fn header(self) -> HeaderValue {
        match self {
            Self::Bearer => HeaderValue::from_static("Bearer"),
            Self::InvalidToken => HeaderValue::from_static(r#"Bearer error="invalid_token""#),
            // A scope is checked at compile time by the guard's macro to be a token of
            // RFC 6750's scope characters, so the header is valid; fall back to the bare
            // challenge if one ever is not.
            Self::InsufficientScope(scope) => HeaderValue::try_from(format!(
                r#"Bearer error="insufficient_scope", scope="{scope}""#
            ))
            .unwrap_or_else(|_| HeaderValue::from_static(r#"Bearer error="insufficient_scope""#)),
        }
    }
}

/// The rejection of [`CurrentUser`](crate::CurrentUser) and the guards: a denial answered per
/// caller, or an error.
///
/// - anonymous browser (its `Accept` prefers `text/html`): `303 See Other` to the login page,
///   with the current path and query in `next`;
/// - anonymous API client: `401 Unauthorized` with a small JSON body;
/// - logged-in user without the right: `403 Forbidden`, HTML or JSON to match, never a redirect
///   (so never a redirect loop);
/// - an error: `500` with a generic body, the cause logged.
pub struct AuthRejection {
    kind: RejectionKind,
}

enum RejectionKind {
    Custom {
        reason: DenialReason,
        response: Response,
    },
    Denied {
        reason: DenialReason,
        browser: bool,
        location: Option<String>,
        challenge: Option<Challenge>,
    },
    Error(AuthError),
}

impl AuthRejection {
    pub(crate) fn denied(
        reason: DenialReason,
        parts: &Parts,
        redirect: &LoginRedirect,
        responder: Option<&dyn DenialResponder>,
        challenge: Option<Challenge>,
    ) -> Self {
        // A client that sent a token is an API client, whatever its `Accept` says: it gets
        // the status and the challenge, never a redirect to a login page.
        let sent_token = matches!(
            challenge,
            Some(Challenge::InvalidToken | Challenge::InsufficientScope(_))
        );
        let browser = prefers_html(&parts.headers) && !sent_token;
        let target = match reason {
            DenialReason::Unauthenticated | DenialReason::Stale => redirect.login_url.as_deref(),
            DenialReason::SecondFactor => redirect.second_factor_url.as_deref(),
            DenialReason::EmailUnverified => redirect.unverified_url.as_deref(),
            DenialReason::Forbidden => None,
        };
        let location = match (browser, target) {
            (true, Some(url)) => {
                let next = parts
                    .extensions
                    .get::<OriginalUri>()
                    .map_or(&parts.uri, |original| &original.0)
                    .path_and_query()
                    .map_or("/", |pq| pq.as_str());
                Some(login_location(url, &redirect.redirect_field, next))
            }
            _ => None,
        };
        if let Some(responder) = responder {
            let denial = Denial {
                reason,
                parts,
                prefers_html: browser,
                login_location: location.as_deref(),
            };
            if let Some(response) = responder.respond(&denial) {
                return Self {
                    kind: RejectionKind::Custom { reason, response },
                };
            }
        }
        Self {
            kind: RejectionKind::Denied {
                reason,
                browser,
                location,
                challenge,
            },
        }
    }

    /// Why the request was denied, or `None` if the rejection is an error.
    pub fn reason(&self) -> Option<DenialReason> {
        match &self.kind {
            RejectionKind::Custom { reason, .. } => Some(*reason),
            RejectionKind::Denied { reason, .. } => Some(*reason),
            RejectionKind::Error(_) => None,
        }
    }

    /// The status this rejection answers with.
    pub fn status(&self) -> StatusCode {
        match &self.kind {
            RejectionKind::Custom { response, .. } => response.status(),
            RejectionKind::Denied {
                location: Some(_), ..
            } => StatusCode::SEE_OTHER,
            RejectionKind::Denied {
                reason: DenialReason::Forbidden,
                ..
            } => StatusCode::FORBIDDEN,
            RejectionKind::Denied { .. } => StatusCode::UNAUTHORIZED,
            RejectionKind::Error(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<AuthError> for AuthRejection {
    fn from(error: AuthError) -> Self {
        Self {
            kind: RejectionKind::Error(error),
        }
    }
}

impl fmt::Debug for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            RejectionKind::Denied { reason, .. } | RejectionKind::Custom { reason, .. } => {
                f.debug_tuple("AuthRejection").field(reason).finish()
            }
            RejectionKind::Error(error) => f.debug_tuple("AuthRejection").field(error).finish(),
        }
    }
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match &self.kind {
            RejectionKind::Denied { reason, .. } | RejectionKind::Custom { reason, .. } => *reason,
            RejectionKind::Error(error) => return fmt::Display::fmt(error, f),
        };
        match reason {
            DenialReason::Unauthenticated => f.write_str("login required"),
            DenialReason::Stale => f.write_str("a recent login is required"),
            DenialReason::Forbidden => f.write_str("forbidden"),
            DenialReason::SecondFactor => f.write_str("a second factor is required"),
            DenialReason::EmailUnverified => f.write_str("a confirmed email address is required"),
        }
    }
}

impl std::error::Error for AuthRejection {}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let (reason, browser, location, challenge) = match self.kind {
            RejectionKind::Error(error) => return error.into_response(),
            RejectionKind::Custom { response, .. } => return response,
            RejectionKind::Denied {
                reason,
                browser,
                location,
                challenge,
            } => (reason, browser, location, challenge),
        };
        let no_store = (header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(location) = location {
            return match HeaderValue::try_from(location) {
                Ok(location) => (
                    StatusCode::SEE_OTHER,
                    [(header::LOCATION, location), no_store],
                )
                    .into_response(),
                // The location is built from percent-encoded parts; this is unreachable in
                // practice, and a 401 is the safe answer if it ever happens.
                Err(_) => (StatusCode::UNAUTHORIZED, [no_store]).into_response(),
            };
        }
        let (status, code, message) = match reason {
            DenialReason::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "You do not have permission to access this resource.",
            ),
            DenialReason::Stale => (
                StatusCode::UNAUTHORIZED,
                "reauthentication_required",
                "Log in again to access this resource.",
            ),
            DenialReason::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Log in to access this resource.",
            ),
            DenialReason::SecondFactor => (
                StatusCode::UNAUTHORIZED,
                "second_factor_required",
                "Confirm it is you with your second factor to access this resource.",
            ),
            DenialReason::EmailUnverified => (
                StatusCode::FORBIDDEN,
                "email_unverified",
                "Confirm your email address with the link we mailed you to access this resource.",
            ),
        };
        let mut response = if browser {
            let html = format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>{status}</title></head><body><h1>{status}</h1><p>{message}</p></body></html>"
            );
            (
                status,
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=utf-8"),
                    ),
                    no_store,
                ],
                html,
            )
                .into_response()
        } else {
            let json = format!(r#"{{"error":"{code}","message":"{message}"}}"#);
            (
                status,
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    ),
                    no_store,
                ],
                json,
            )
                .into_response()
        };
        let challenge = match (status, challenge) {
            (
                StatusCode::UNAUTHORIZED,
                Some(challenge @ (Challenge::Bearer | Challenge::InvalidToken)),
            )
            | (StatusCode::FORBIDDEN, Some(challenge @ Challenge::InsufficientScope(_))) => {
                Some(challenge)
            }
            _ => None,
        };
        if let Some(challenge) = challenge {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge.header());
        }
        response
    }
}

/// A request turned away, as shown to a custom [`DenialResponder`].
#[derive(Debug)]
pub struct Denial<'a> {
    reason: DenialReason,
    parts: &'a Parts,
    prefers_html: bool,
    login_location: Option<&'a str>,
}

impl<'a> Denial<'a> {
    /// Why the request was turned away.
    pub fn reason(&self) -> DenialReason {
        self.reason
    }

    /// The request's method, URI, headers and extensions.
    pub fn parts(&self) -> &'a Parts {
        self.parts
    }

    /// Whether the client prefers HTML (a browser) to JSON.
    pub fn prefers_html(&self) -> bool {
        self.prefers_html
    }

    /// Where the default answer would redirect: the login URL with `next`, for anonymous
    /// browsers when a login URL is set.
    pub fn login_location(&self) -> Option<&'a str> {
        self.login_location
    }
}

/// Answers turned-away requests the app's own way; set it with
/// [`AuthLayerBuilder::on_denied`](crate::layer::AuthLayerBuilder::on_denied).
///
/// Return `None` to keep the default answer (`303` to login, `401` or `403`). Any
/// `Fn(&Denial<'_>) -> Option<Response>` is a responder:
///
/// ```
/// use axum::response::{Html, IntoResponse};
/// use axum_login::{guard::Denial, guard::DenialReason, guard::DenialResponder};
///
/// fn branded_forbidden_page(denial: &Denial<'_>) -> Option<axum::response::Response> {
///     (denial.reason() == DenialReason::Forbidden && denial.prefers_html()).then(|| {
///         (axum::http::StatusCode::FORBIDDEN, Html("<h1>Not for you</h1>")).into_response()
///     })
/// }
/// fn assert_responder(_: impl DenialResponder) {}
/// assert_responder(branded_forbidden_page);
/// ```
pub trait DenialResponder: Send + Sync + 'static {
    /// The response for `denial`, or `None` for the default one.
    fn respond(&self, denial: &Denial<'_>) -> Option<Response>;
}

impl<F> DenialResponder for F
where
    F: Fn(&Denial<'_>) -> Option<Response> + Send + Sync + 'static,
{
    fn respond(&self, denial: &Denial<'_>) -> Option<Response> {
        self(denial)
    }
}

/// Whether the client's `Accept` header prefers HTML to JSON, as a browser's navigation does.
///
/// No `Accept` header, or one without `text/html`, is an API client.
pub(crate) fn prefers_html(headers: &HeaderMap) -> bool {
    let mut html = None::<f32>;
    let mut json = None::<f32>;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut params = item.split(';');
            let media = params.next().unwrap_or("").trim();
            let quality = params
                .filter_map(|param| param.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let slot = if media.eq_ignore_ascii_case("text/html")
                || media.eq_ignore_ascii_case("application/xhtml+xml")
            {
                &mut html
            } else if media.eq_ignore_ascii_case("application/json") {
                &mut json
            } else {
                continue;
            };
            *slot = Some(slot.map_or(quality, |q: f32| q.max(quality)));
        }
    }
    match (html, json) {
        (Some(html), json) => html > 0.0 && html >= json.unwrap_or(0.0),
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_str(value).expect("valid header"),
        );
        headers
    }

    #[test]
    fn browsers_prefer_html() {
        assert!(prefers_html(&accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(prefers_html(&accept("TEXT/HTML")));
    }

    #[test]
    fn api_clients_do_not() {
        assert!(!prefers_html(&HeaderMap::new()));
        assert!(!prefers_html(&accept("application/json")));
        assert!(!prefers_html(&accept("*/*")));
        assert!(!prefers_html(&accept("application/json, text/html;q=0.5")));
        assert!(!prefers_html(&accept("text/html;q=0")));
    }
}
