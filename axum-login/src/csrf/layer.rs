//! [`CsrfLayer`]: the check on every unsafe request, and the response side that keeps the
//! secret a request used where the next request will find it.

use std::{
    fmt,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
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
    CsrfToken,
    secret::{Presented, Secret},
};
use crate::{
    events::{AuthEvent, CsrfRefusal},
    login::{BoxFuture, RequestAuth},
    security::RequestOrigin,
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

/// What a request's check and its [`CsrfToken`]s share.
#[derive(Clone)]
pub(super) struct RequestCsrf(Arc<RequestState>);

struct RequestState {
    cookie_name: &'static str,
    /// The secret of the request's cookie, when it has exactly one valid one.
    from_cookie: Option<Secret>,
    /// The secret this request's check accepted or its tokens were made from.
    in_use: Mutex<Option<InUse>>,
    /// Whether the check found the secret in the session (not in the cookie).
    checked_in_session: std::sync::atomic::AtomicBool,
}

struct InUse {
    secret: Secret,
    /// Whether the check accepted a token of it.
    checked: bool,
    /// Whether a token of it went out in this response.
    rendered: bool,
}

/// What a request did with its secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Use {
    /// A [`CsrfToken`] was extracted: the secret is chosen, but nothing shows it yet.
    Chosen,
    /// The check accepted a token of it.
    Checked,
    /// A token of it is on the page.
    Rendered,
}

impl RequestCsrf {
    pub(super) fn cookie_secret(&self) -> Option<&Secret> {
        self.0.from_cookie.as_ref()
    }

    pub(super) fn in_use(&self) -> Option<Secret> {
        lock(&self.0.in_use)
            .as_ref()
            .map(|used| used.secret.clone())
    }

    pub(super) fn use_secret(&self, secret: Secret, how: Use) {
        let mut in_use = lock(&self.0.in_use);
        let (checked, rendered) = in_use
            .as_ref()
            .map_or((false, false), |used| (used.checked, used.rendered));
        *in_use = Some(InUse {
            secret,
            checked: checked || how == Use::Checked,
            rendered: rendered || how == Use::Rendered,
        });
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
    type Future = BoxFuture<'static, Result<Response, I::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        // The clone that was ready serves this request; the new one waits for its own
        // `poll_ready`.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let Some(auth) = req.extensions().get::<RequestAuth>().cloned() else {
            tracing::error!(
                "CsrfLayer found no AuthLayer: add `.layer(auth_layer)` after `.layer(CsrfLayer::new())`"
            );
            return Box::pin(async { Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response()) });
        };
        let cookie_name = if auth.secure() { HOST_COOKIE } else { COOKIE };
        // Most requests carry no CSRF cookie (once a browser has a session, the secret moves
        // there and the cookie goes): those are not parsed.
        let has_cookie = req
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .any(|value| value.to_str().is_ok_and(|text| text.contains(cookie_name)));
        let from_cookie = if has_cookie {
            RequestOrigin::of(&Method::POST, req.headers(), true)
                .cookie(cookie_name)
                .and_then(Secret::decode)
        } else {
            None
        };
        let state = RequestCsrf(Arc::new(RequestState {
            cookie_name,
            from_cookie,
            in_use: Mutex::new(None),
            checked_in_session: std::sync::atomic::AtomicBool::new(false),
        }));
        req.extensions_mut().insert(state.clone());
        // A request with credentials of its own (an API token) is never its session's: a
        // page of another site cannot make a browser send those, so there is nothing to check.
        let checked = is_unsafe(req.method())
            && !self.is_exempt(&req)
            && !auth.config().features.authenticates(&auth);
        let settings = self.settings.clone();
        Box::pin(async move {
            if checked {
                req = match check(req, &auth, &state, settings.max_form_bytes).await {
                    Ok(req) => req,
                    Err(refused) => return Ok(refused),
                };
            }
            let mut response = inner.call(req).await?;
            keep_secret(&auth, &state, &mut response).await;
            Ok(response)
        })
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

/// Whether a request of this method changes something, and so must carry a token. `TRACE`
/// echoes the request and changes nothing.
fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The request, its body put back, when it carries a token of this browser's secret; else the
/// answer that refuses it.
async fn check(
    req: Request,
    auth: &RequestAuth,
    state: &RequestCsrf,
    max_form_bytes: usize,
) -> Result<Request, Response> {
    let secret = match session_secret(auth.session()).await {
        Ok(Some(stored)) => {
            state
                .0
                .checked_in_session
                .store(true, std::sync::atomic::Ordering::Relaxed);
            Some(stored)
        }
        Ok(None) => state.cookie_secret().cloned(),
        Err(error) => return Err(crate::AuthError::Session(error).into_response()),
    };
    let (req, token) = token_of(req, max_form_bytes).await?;
    let verdict = match token {
        None => Err(CsrfRefusal::Missing),
        Some(None) => Err(CsrfRefusal::Malformed),
        Some(Some(presented)) => match secret {
            Some(secret) if presented.matches(&secret) => Ok(secret),
            _ => Err(CsrfRefusal::Mismatch),
        },
    };
    match verdict {
        Ok(secret) => {
            state.use_secret(secret, Use::Checked);
            Ok(req)
        }
        Err(reason) => {
            tracing::warn!(?reason, method = %req.method(), path = req.uri().path(), "refused a request without a valid CSRF token");
            auth.config()
                .emit(AuthEvent::CsrfRefused { reason }, auth.client());
            Err(refusal())
        }
    }
}

/// The token the request carries, parsed (`Some(None)`: something that is not a token): its
/// header, else its form's field; and the request, whose body is read only for a form.
async fn token_of(
    req: Request,
    max_form_bytes: usize,
) -> Result<(Request, Option<Option<Presented>>), Response> {
    if let Some(value) = req.headers().get(&TOKEN_HEADER) {
        let token = Presented::parse(value.to_str().unwrap_or_default());
        return Ok((req, Some(token)));
    }
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
    let token = form_field(&bytes, CsrfToken::FIELD).map(|token| Presented::parse(&token));
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
/// cookie. A response that
/// carries a token is this browser's own, never to be cached.
async fn keep_secret(auth: &RequestAuth, state: &RequestCsrf, response: &mut Response) {
    let Some((secret, rendered)) = lock(&state.0.in_use)
        .as_ref()
        .filter(|used| used.checked || used.rendered)
        .map(|used| (used.secret.clone(), used.rendered))
    else {
        return;
    };
    // A checked request whose secret was the session's, and whose session nothing changed:
    // the secret is where it was, and there is nothing to keep. The common `POST` of a
    // logged-in form or JSON client ends here, without reading the session again.
    let checked_in_session = state
        .0
        .checked_in_session
        .load(std::sync::atomic::Ordering::Relaxed);
    if !rendered && checked_in_session && !auth.session().is_modified() {
        return;
    }
    if rendered {
        let headers = response.headers_mut();
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
    // A failed request saves nothing.
    if response.status().is_server_error() {
        return;
    }
    let session = auth.session();
    match session_secret(session).await {
        Ok(Some(_)) => {}
        Ok(None) if session.is_empty().await => {
            let ended = auth.incoming_session_id().is_some();
            if ended && !rendered {
                // The session ended (a logout): the secret goes with it, so the next user of
                // this browser gets another.
                set_cookie(response, state, None, auth.secure());
            } else if state.cookie_secret() != Some(&secret) {
                set_cookie(response, state, Some(&secret), auth.secure());
            }
        }
        Ok(None) => match session.insert(SESSION_KEY, secret.encode()).await {
            // The session's copy is the one checked from now on: the cookie has done its part.
            Ok(()) if state.cookie_secret().is_some() => {
                set_cookie(response, state, None, auth.secure());
            }
            Ok(()) => {}
            Err(error) => tracing::error!(%error, "could not keep the CSRF secret in the session"),
        },
        Err(error) => tracing::error!(%error, "could not read the CSRF secret of the session"),
    }
}

fn set_cookie(response: &mut Response, state: &RequestCsrf, secret: Option<&Secret>, secure: bool) {
    let name = state.0.cookie_name;
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
