//! [`CsrfLayer`]: the check on every unsafe request, and the response side that keeps the
//! secret a request used where the next request will find it.

use std::{
    fmt,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use axum::{
    body::Body,
    extract::{MatchedPath, Request},
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use tower_layer::Layer;
use tower_service::Service;
use tower_sessions::Session;

use super::{
    CsrfRefused, CsrfToken,
    secret::{Presented, Secret},
};
use crate::{
    events::{AuthEvent, CsrfRefusal},
    login::{BoxFuture, RequestAuth},
    security::cookie_of,
};

/// Where the session keeps the secret.
pub(super) const SESSION_KEY: &str = "axum_login.csrf";

/// The cookie that keeps the secret of a browser without a session, on plain HTTP; over HTTPS
/// it gets the `__Host-` prefix, so a sibling subdomain cannot plant one.
const COOKIE: &str = "axum_login_csrf";
const HOST_COOKIE: &str = "__Host-axum_login_csrf";

/// [`CsrfToken::HEADER`] as a header name, made once: looking a header up by a `&str` parses
/// the name on every request.
const TOKEN_HEADER: HeaderName = HeaderName::from_static(CsrfToken::HEADER);

/// The default [`CsrfLayer::max_form_bytes`]: axum's default body limit.
const DEFAULT_MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

/// Checks a CSRF token on every request whose method is not `GET`, `HEAD`, `OPTIONS` or
/// `TRACE`, and gives [`CsrfToken`] what it needs to render one. See [`csrf`](super).
///
/// Add it with [`Router::layer`](axum::Router::layer) after the routes it protects and inside the
/// [`AuthLayer`](crate::AuthLayer) (added after it), whose session it keeps the secret in. A
/// request without a valid token gets `403` with a plain-text body saying so, and the layer's
/// [event handler](crate::layer::AuthLayerBuilder::events) hears
/// [`AuthEvent::CsrfRefused`]; the handler does not run.
///
/// The token is read from the [`X-CSRF-Token`](CsrfToken::HEADER) header, else from the
/// [`csrf_token`](CsrfToken::FIELD) field of an `application/x-www-form-urlencoded` body
/// (buffered up to [`max_form_bytes`](Self::max_form_bytes), then handed on whole). A
/// `multipart/form-data` form sends it in the header or goes through an exempt route that
/// checks it with [`CsrfToken::verify`].
///
/// ```
/// use axum::{Router, routing::post};
/// use axum_login::csrf::CsrfLayer;
///
/// # async fn save() {}
/// # async fn stripe() {}
/// let app: Router = Router::new()
///     .route("/settings", post(save))
///     // Signed by the payment provider, posted by its servers: no browser, no token.
///     .route("/webhooks/stripe", post(stripe))
///     .layer(CsrfLayer::new().exempt("/webhooks/stripe"));
/// // .layer(auth_layer) comes after, so that it runs first.
/// ```
#[derive(Clone)]
pub struct CsrfLayer {
    settings: Arc<Settings>,
}

#[derive(Debug, Clone)]
struct Settings {
    exempt: Vec<String>,
    max_form_bytes: usize,
}

impl fmt::Debug for CsrfLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfLayer")
            .field("exempt", &self.settings.exempt)
            .field("max_form_bytes", &self.settings.max_form_bytes)
            .finish()
    }
}

impl Default for CsrfLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl CsrfLayer {
    /// A layer that checks every unsafe request of the routes it wraps.
    pub fn new() -> Self {
        Self {
            settings: Arc::new(Settings {
                exempt: Vec::new(),
                max_form_bytes: DEFAULT_MAX_FORM_BYTES,
            }),
        }
    }

    /// Leaves the route `path` unchecked: a webhook, whose sender is a server that proves
    /// itself some other way (a signature), never a browser with this site's cookies. `path`
    /// is the route as given to [`Router::route`](axum::Router::route), parameters included
    /// (`"/webhooks/{provider}"`); repeat for several.
    pub fn exempt(mut self, path: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.settings).exempt.push(path.into());
        self
    }

    /// The largest form body read for its token; a larger form gets `413`. Default: 2 MiB,
    /// axum's default body limit.
    pub fn max_form_bytes(mut self, limit: usize) -> Self {
        Arc::make_mut(&mut self.settings).max_form_bytes = limit;
        self
    }
}

impl<I> Layer<I> for CsrfLayer {
    type Service = CsrfService<I>;

    fn layer(&self, inner: I) -> Self::Service {
        CsrfService {
            inner,
            settings: self.settings.clone(),
        }
    }
}

/// The service of a [`CsrfLayer`].
#[derive(Clone)]
pub struct CsrfService<I> {
    inner: I,
    settings: Arc<Settings>,
}

impl<I> fmt::Debug for CsrfService<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfService").finish_non_exhaustive()
    }
}

/// Marks a request as passing through a [`CsrfLayer`], for [`CsrfToken`]: a token that nothing
/// checks protects nothing. Zero-sized, so putting it in the request allocates nothing.
#[derive(Clone, Copy)]
pub(super) struct UnderLayer;

/// The secret this request's tokens are made of, kept with the request's auth state (which the
/// handler and the layer share) from the first [`CsrfToken`] on: a second token of the request
/// is of the same secret, and once one is rendered the layer keeps the secret where the next
/// request looks.
#[derive(Clone)]
pub(super) struct InUse {
    pub(super) secret: Secret,
    /// The secret of the request's cookie, when it has exactly one valid one.
    pub(super) from_cookie: Option<Secret>,
    /// Whether a token of it went out in this response.
    pub(super) rendered: bool,
}

/// What the check of an unsafe request found.
struct Checked {
    /// The secret whose token the request carried.
    secret: Secret,
    /// Whether that secret was the session's (not the cookie's).
    in_session: bool,
    /// The secret of the request's cookie; not read (none) when the session keeps one.
    from_cookie: Option<Secret>,
}

/// The name of the cookie that keeps the secret of a browser without a session.
pub(super) fn cookie_name(secure: bool) -> &'static str {
    if secure { HOST_COOKIE } else { COOKIE }
}

/// The secret in the request's CSRF cookie, when it has exactly one valid one. Read only when
/// the session keeps no secret: once a browser has a session, the secret moves there and the
/// cookie goes.
pub(super) fn cookie_secret(headers: &axum::http::HeaderMap, name: &str) -> Option<Secret> {
    cookie_of(headers.get_all(header::COOKIE), name).and_then(Secret::decode)
}

/// The secret the session keeps, if it keeps one.
pub(super) async fn session_secret(
    session: &Session,
) -> Result<Option<Secret>, tower_sessions::session::Error> {
    // The value itself rather than `get::<String>`, which goes through serde for a string.
    Ok(match session.get_value(SESSION_KEY).await? {
        Some(serde_json::Value::String(stored)) => Secret::decode(&stored),
        _ => None,
    })
}

impl<I> Service<Request> for CsrfService<I>
where
    I: Service<Request, Response = Response> + Clone + Send + 'static,
    I::Future: Send,
{
    type Response = Response;
    type Error = I::Error;
    type Future = CsrfFuture<I, I::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let Some(auth) = req.extensions().get::<RequestAuth>().cloned() else {
            tracing::error!(
                "CsrfLayer found no AuthLayer: add `.layer(auth_layer)` after `.layer(CsrfLayer::new())`"
            );
            return CsrfFuture {
                state: State::Failed,
            };
        };
        req.extensions_mut().insert(UnderLayer);
        // A request with credentials of its own (an API token) is never its session's: a
        // page of another site cannot make a browser send those, so there is nothing to check.
        let checked = is_unsafe(req.method())
            && !self.is_exempt(&req)
            && !auth.config().features.authenticates(&auth);
        if !checked {
            // Nothing to wait for first: the service that was ready takes the request now,
            // and the response side only looks for a token the handler rendered.
            return CsrfFuture {
                state: State::Calling {
                    future: self.inner.call(req),
                    auth,
                    checked: None,
                },
            };
        }
        // The clone that was ready serves this request once the check passes; the new one
        // waits for its own `poll_ready`.
        let clone = self.inner.clone();
        let inner = Some(std::mem::replace(&mut self.inner, clone));
        let state = match header_token(&req) {
            // A script's or a JSON client's token, in the header: only the session's secret
            // is waited for, and the request waits beside it, not moved into a boxed future.
            Some(token) => {
                let session_auth = auth.clone();
                State::Reading {
                    read: Box::pin(async move { session_secret(session_auth.session()).await }),
                    token,
                    req: Some(req),
                    inner,
                    auth,
                }
            }
            // A form's token, in the body, which is read first.
            None => State::Checking {
                check: Box::pin(check_form(req, auth.clone(), self.settings.max_form_bytes)),
                inner,
                auth,
            },
        };
        CsrfFuture { state }
    }
}

impl<I> CsrfService<I> {
    fn is_exempt(&self, req: &Request) -> bool {
        let Some(path) = req.extensions().get::<MatchedPath>() else {
            return false;
        };
        self.settings
            .exempt
            .iter()
            .any(|exempt| exempt == path.as_str())
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`CsrfService`]. A request that is not checked, and whose
    /// handler renders no token, runs the inner service's future and nothing else; only the
    /// check's session read and the keeping of a secret are boxed.
    pub struct CsrfFuture<I, F> {
        #[pin]
        state: State<I, F>,
    }
}

impl<I, F> fmt::Debug for CsrfFuture<I, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfFuture").finish_non_exhaustive()
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<I, F> {
        /// The session's secret is read, to compare the header's token with.
        Reading {
            read: BoxFuture<'static, Result<Option<Secret>, tower_sessions::session::Error>>,
            token: Option<Presented>,
            req: Option<Request>,
            inner: Option<I>,
            auth: RequestAuth,
        },
        /// The session's secret and the form's body are read, and the form's token compared
        /// with the secret.
        Checking {
            check: BoxFuture<'static, Result<(Request, Checked), Response>>,
            inner: Option<I>,
            auth: RequestAuth,
        },
        /// The request is with the inner service.
        Calling {
            #[pin]
            future: F,
            auth: RequestAuth,
            checked: Option<Checked>,
        },
        /// The secret the request used is kept where the next request looks.
        Keeping {
            future: BoxFuture<'static, Response>,
        },
        /// No `AuthLayer` around the layer: a `500`, logged in `call`.
        Failed,
    }
}

impl<I, F> Future for CsrfFuture<I, F>
where
    I: Service<Request, Response = Response, Future = F>,
    F: Future<Output = Result<Response, I::Error>>,
{
    type Output = Result<Response, I::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Reading {
                    read,
                    token,
                    req,
                    inner,
                    auth,
                } => {
                    let stored = match ready!(read.as_mut().poll(cx)) {
                        Ok(stored) => stored,
                        Err(error) => {
                            return Poll::Ready(Ok(
                                crate::AuthError::Session(error).into_response()
                            ));
                        }
                    };
                    let (Some(req), Some(mut inner)) = (req.take(), inner.take()) else {
                        return Poll::Ready(Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response()));
                    };
                    let checked = match decide(&req, auth, stored, Some(token.take())) {
                        Ok(checked) => checked,
                        Err(refused) => return Poll::Ready(Ok(refused.into_response())),
                    };
                    State::Calling {
                        future: inner.call(req),
                        auth: auth.clone(),
                        checked: Some(checked),
                    }
                }
                StateProj::Checking { check, inner, auth } => {
                    let (req, checked) = match ready!(check.as_mut().poll(cx)) {
                        Ok(passed) => passed,
                        Err(refused) => return Poll::Ready(Ok(refused)),
                    };
                    let Some(mut inner) = inner.take() else {
                        return Poll::Ready(Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response()));
                    };
                    State::Calling {
                        future: inner.call(req),
                        auth: auth.clone(),
                        checked: Some(checked),
                    }
                }
                StateProj::Calling {
                    future,
                    auth,
                    checked,
                } => {
                    let response = ready!(future.poll(cx))?;
                    match after_response(auth, checked.take(), response) {
                        Ok(response) => return Poll::Ready(Ok(response)),
                        Err(future) => State::Keeping { future },
                    }
                }
                StateProj::Keeping { future } => return future.as_mut().poll(cx).map(Ok),
                StateProj::Failed => {
                    return Poll::Ready(Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response()));
                }
            };
            self.as_mut().project().state.set(next);
        }
    }
}

/// The response as it is, when the request leaves no secret to keep; else the work that keeps
/// it (see [`keep_secret`]).
fn after_response(
    auth: &RequestAuth,
    checked: Option<Checked>,
    mut response: Response,
) -> Result<Response, BoxFuture<'static, Response>> {
    let rendered =
        auth.with_feature_state(|state| state.get::<InUse>().filter(|used| used.rendered).cloned());
    let (secret, from_cookie, rendered) = match (rendered, checked) {
        (Some(used), _) => {
            // A response that carries a token is this browser's own, never to be cached.
            let headers = response.headers_mut();
            if !headers.contains_key(header::CACHE_CONTROL) {
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
            (used.secret, used.from_cookie, true)
        }
        // A checked request whose secret was the session's, and whose session nothing
        // changed: the secret is where it was, and there is nothing to keep. The common
        // `POST` of a logged-in form or JSON client ends here, without reading the session
        // again.
        (None, Some(checked)) if checked.in_session && !auth.session().is_modified() => {
            return Ok(response);
        }
        (None, Some(checked)) => (checked.secret, checked.from_cookie, false),
        (None, None) => return Ok(response),
    };
    // A failed request saves nothing.
    if response.status().is_server_error() {
        return Ok(response);
    }
    let auth = auth.clone();
    Err(Box::pin(async move {
        keep_secret(
            &auth,
            &secret,
            from_cookie.as_ref(),
            rendered,
            &mut response,
        )
        .await;
        response
    }))
}

/// Whether a request of this method changes something, and so must carry a token. `TRACE`
/// echoes the request and changes nothing.
fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The request, its body put back, when its form carries a token of this browser's secret;
/// else the answer that refuses it.
async fn check_form(
    req: Request,
    auth: RequestAuth,
    max_form_bytes: usize,
) -> Result<(Request, Checked), Response> {
    // Before the body is read: nothing is checked without the secret.
    let stored = session_secret(auth.session())
        .await
        .map_err(|error| crate::AuthError::Session(error).into_response())?;
    let (req, token) = form_token(req, max_form_bytes).await?;
    match decide(&req, &auth, stored, token) {
        Ok(checked) => Ok((req, checked)),
        Err(refused) => Err(refused.into_response()),
    }
}

/// Whether `token` (`None`: there is none; `Some(None)`: something that is not a token) is of
/// this browser's secret: the session's (`stored`), else the cookie's. A refusal is logged and
/// reported to the event handler here.
fn decide(
    req: &Request,
    auth: &RequestAuth,
    stored: Option<Secret>,
    token: Option<Option<Presented>>,
) -> Result<Checked, CsrfRefused> {
    let (secret, in_session, from_cookie) = match stored {
        // The cookie does not matter once the session keeps the secret.
        Some(stored) => (Some(stored), true, None),
        None => {
            let from_cookie = cookie_secret(req.headers(), cookie_name(auth.secure()));
            (from_cookie.clone(), false, from_cookie)
        }
    };
    let verdict = match token {
        None => Err(CsrfRefusal::Missing),
        Some(None) => Err(CsrfRefusal::Malformed),
        Some(Some(presented)) => match secret {
            Some(secret) if presented.matches(&secret) => Ok(secret),
            _ => Err(CsrfRefusal::Mismatch),
        },
    };
    verdict
        .map(|secret| Checked {
            secret,
            in_session,
            from_cookie,
        })
        .map_err(|reason| {
            tracing::warn!(?reason, method = %req.method(), path = req.uri().path(), "refused a request without a valid CSRF token");
            auth.config()
                .emit(AuthEvent::CsrfRefused { reason }, auth.client());
            CsrfRefused(reason)
        })
}

/// The token of the request's header, parsed (`None` inside: something that is not a token),
/// if it has the header.
fn header_token(req: &Request) -> Option<Option<Presented>> {
    req.headers()
        .get(&TOKEN_HEADER)
        .map(|value| Presented::parse(value.as_bytes()))
}

/// The token of a form-encoded body, parsed as [`header_token`]'s; and the request, its body
/// put back. The body of anything else is not read.
async fn form_token(
    req: Request,
    max_form_bytes: usize,
) -> Result<(Request, Option<Option<Presented>>), Response> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Ok((req, None));
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, max_form_bytes).await {
        Ok(bytes) => bytes,
        // Past the limit; a body that broke off has nobody left to answer.
        Err(_) => {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                "Payload Too Large: the form is larger than this site accepts",
            )
                .into_response());
        }
    };
    let token =
        form_field(&bytes, CsrfToken::FIELD).map(|token| Presented::parse(token.as_bytes()));
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}

/// The first value of `name` in a form-encoded body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let decode = |text: &[u8]| {
        let spaced: Vec<u8> = text
            .iter()
            .map(|&byte| if byte == b'+' { b' ' } else { byte })
            .collect();
        percent_encoding::percent_decode(&spaced)
            .decode_utf8_lossy()
            .into_owned()
    };
    body.split(|&byte| byte == b'&').find_map(|pair| {
        let mut halves = pair.splitn(2, |&byte| byte == b'=');
        let key = halves.next()?;
        (decode(key) == name).then(|| decode(halves.next().unwrap_or_default()))
    })
}

/// The `403` of a request without a valid token: it says what is wrong and what to do, and
/// nothing about the secret.
pub(super) fn refusal() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CACHE_CONTROL, "no-store")],
        "Forbidden: this request carried no valid CSRF token. Reload the page and submit the \
         form again; an API client sends the token of its session in the X-CSRF-Token header.",
    )
        .into_response()
}

/// Keeps the secret this request used where the next request of the browser looks first: in
/// the session when the request left one (a login just wrote it: from then on the token is
/// bound to the session, no cookie can replace it, and the cookie is removed), else in the
/// cookie.
async fn keep_secret(
    auth: &RequestAuth,
    secret: &Secret,
    from_cookie: Option<&Secret>,
    rendered: bool,
    response: &mut Response,
) {
    let name = cookie_name(auth.secure());
    let session = auth.session();
    match session_secret(session).await {
        Ok(Some(_)) => {}
        Ok(None) if session.is_empty().await => {
            let ended = auth.incoming_session_id().is_some();
            if ended && !rendered {
                // The session ended (a logout): the secret goes with it, so the next user of
                // this browser gets another.
                set_cookie(response, name, None, auth.secure());
            } else if from_cookie != Some(secret) {
                set_cookie(response, name, Some(secret), auth.secure());
            }
        }
        Ok(None) => match session.insert(SESSION_KEY, secret.encode()).await {
            // The session's copy is the one checked from now on: the cookie has done its part.
            Ok(()) if from_cookie.is_some() => set_cookie(response, name, None, auth.secure()),
            Ok(()) => {}
            Err(error) => tracing::error!(%error, "could not keep the CSRF secret in the session"),
        },
        Err(error) => tracing::error!(%error, "could not read the CSRF secret of the session"),
    }
}

fn set_cookie(response: &mut Response, name: &str, secret: Option<&Secret>, secure: bool) {
    let secure = if secure { "; Secure" } else { "" };
    // A browser-session cookie, like the session's own: no `Max-Age`.
    let cookie = match secret {
        Some(secret) => format!(
            "{name}={}; Path=/; HttpOnly; SameSite=Lax{secure}",
            secret.encode()
        ),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    match HeaderValue::try_from(cookie) {
        Ok(value) => {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        Err(error) => tracing::error!(%error, "the CSRF cookie is not a valid header"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_field_is_found_decoded_and_first() {
        assert_eq!(
            form_field(b"a=1&csrf_token=abc&b=2", "csrf_token").as_deref(),
            Some("abc")
        );
        assert_eq!(
            form_field(b"csrf%5Ftoken=a%2Db+c&csrf_token=second", "csrf_token").as_deref(),
            Some("a-b c")
        );
        assert_eq!(form_field(b"csrf_token", "csrf_token").as_deref(), Some(""));
        assert_eq!(form_field(b"other=1", "csrf_token"), None);
        assert_eq!(form_field(b"", "csrf_token"), None);
    }

    #[test]
    fn only_unsafe_methods_are_checked() {
        for safe in [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE] {
            assert!(!is_unsafe(&safe), "{safe}");
        }
        for unsafe_ in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(is_unsafe(&unsafe_), "{unsafe_}");
        }
        assert!(is_unsafe(
            &Method::from_bytes(b"PROPFIND").expect("a method")
        ));
    }
}
