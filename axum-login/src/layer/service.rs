//! [`AuthService`]: the service an [`AuthLayer`](super::AuthLayer) puts around the router,
//! which gives each request its authentication state and marks responses that depended on it
//! as private.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use axum::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use tower_service::Service;
use tower_sessions::Session;

use crate::{
    login::{ErasedBackend, RequestAuth, RequestInfo},
    security::RequestOrigin,
    session::AfterSave,
};

/// The service that [`AuthLayer`](super::AuthLayer) puts inside the session manager.
#[derive(Clone)]
pub struct AuthService<I> {
    pub(super) inner: I,
    pub(super) backend: Arc<dyn ErasedBackend>,
}

impl<I> fmt::Debug for AuthService<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("store", &self.backend.store_type())
            .finish_non_exhaustive()
    }
}

impl<I, ReqBody, ResBody> Service<Request<ReqBody>> for AuthService<I>
where
    I: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = I::Error;
    type Future = AuthFuture<I::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let Some(session) = req.extensions().get::<Session>().cloned() else {
            // The session layer wraps this service, so this only happens if someone builds an
            // `AuthService` by hand; answer rather than panic.
            tracing::error!("AuthService without a session: build it through `AuthLayer`");
            return AuthFuture::failed();
        };
        // Every log line of the request, the handler's included, carries the user's id once
        // anything asked who the user is.
        let span = tracing::info_span!("auth", user_id = tracing::field::Empty);
        let reads_cookies = self.backend.config().features.reads_cookies();
        // A `GET` is never checked for its origin, so unless a feature reads the cookies of
        // every request (remember-me) it keeps nothing of its headers: what `of` would answer.
        let origin = if req.method() == Method::GET && !reads_cookies {
            RequestOrigin::default()
        } else {
            RequestOrigin::of(req.method(), req.headers(), reads_cookies)
        };
        let info = RequestInfo {
            origin,
            client: req
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip()),
            user_agent: req.headers().get(header::USER_AGENT).cloned(),
            own_sessions: self.backend.config().session_deleter.is_some(),
            span: span.clone(),
            authorization: req.headers().get(header::AUTHORIZATION).cloned(),
            #[cfg(feature = "test-util")]
            test_user: req.extensions().get::<crate::test_util::LoginAs>().cloned(),
        };
        let auth = RequestAuth::new(session, self.backend.clone(), info);
        req.extensions_mut().insert(auth.clone());
        let future = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        AuthFuture::running(future, auth, span)
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

pin_project_lite::pin_project! {
    /// The response future of [`AuthService`].
    pub struct AuthFuture<F, B> {
        #[pin]
        state: FutureState<F, B>,
    }
}

pin_project_lite::pin_project! {
    #[project = FutureStateProj]
    enum FutureState<F, B> {
        Running {
            #[pin]
            future: F,
            auth: RequestAuth,
            span: tracing::Span,
        },
        /// The session's id changes now that the response is known (a re-authentication).
        CyclingId {
            future: BoxFuture<Response<B>>,
        },
        Failed,
    }
}

impl<F, B> AuthFuture<F, B> {
    fn running(future: F, auth: RequestAuth, span: tracing::Span) -> Self {
        Self {
            state: FutureState::Running { future, auth, span },
        }
    }

    fn failed() -> Self {
        Self {
            state: FutureState::Failed,
        }
    }
}

impl<F, ResBody, E> Future for AuthFuture<F, ResBody>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Default + Send + 'static,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (response, session) = match self.as_mut().project().state.project() {
            FutureStateProj::Running { future, auth, span } => {
                let mut response = {
                    let _entered = span.enter();
                    ready!(future.poll(cx))?
                };
                if let Some(work) = auth.take_after_save() {
                    response.extensions_mut().insert(AfterSave::new(work));
                }
                if auth.was_consulted() {
                    mark_private(&mut response);
                    for cookie in auth.take_cookies() {
                        match HeaderValue::try_from(cookie) {
                            Ok(value) => {
                                response.headers_mut().append(header::SET_COOKIE, value);
                            }
                            Err(error) => tracing::error!(%error, "a cookie is not a valid header"),
                        }
                    }
                }
                // A session without an id was already given a new one, or ended, on this
                // request; and a server error saves nothing, so the old session stands.
                let cycle = auth.take_cycle_with_response()
                    && !response.status().is_server_error()
                    && auth.session().id().is_some();
                if !cycle {
                    return Poll::Ready(Ok(response));
                }
                (response, auth.session().clone())
            }
            FutureStateProj::CyclingId { future } => return future.as_mut().poll(cx).map(Ok),
            FutureStateProj::Failed => return Poll::Ready(Ok(server_error())),
        };
        let future = Box::pin(async move {
            match session.cycle_id().await {
                Ok(()) => response,
                Err(error) => {
                    // The old id may still name a session: the new one must not be saved
                    // beside it, so the request fails and the session stays as it was.
                    tracing::error!(%error, "could not give the session a new id");
                    server_error()
                }
            }
        });
        self.as_mut()
            .project()
            .state
            .set(FutureState::CyclingId { future });
        self.poll(cx)
    }
}

fn server_error<B: Default>() -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// A response that depends on who is logged in must not be cached and served to someone else.
fn mark_private<B>(response: &mut Response<B>) {
    let headers = response.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let varies_on_cookie = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|name| {
            let name = name.trim();
            name == "*" || name.eq_ignore_ascii_case("cookie")
        });
    if !varies_on_cookie {
        headers.append(header::VARY, HeaderValue::from_static("Cookie"));
    }
}
