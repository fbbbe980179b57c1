//! Guards: the extractor that `#[require_login]` adds to a handler, and the router-level layer
//! that `require!` builds.

use std::{
    convert::Infallible,
    fmt,
    marker::PhantomData,
    task::{Context, Poll},
};

use axum::{
    extract::{FromRequestParts, Request},
    http::request::Parts,
    response::{IntoResponse, Response},
};
use tower_layer::Layer;
use tower_service::Service;

use crate::{
    AuthRejection, DenialReason, LoginRedirect, Policy,
    context::RequestAuth,
    policy::{PolicyContext, RedirectOverride},
};

/// The extractor `#[require_login]` adds as a handler's first argument: it lets the request
/// through only if someone is logged in and policy `P` allows them.
///
/// You rarely name it: the attribute does. By hand, `_: Guard<LoggedIn>` is the same as a bare
/// `#[require_login]`.
pub struct Guard<P>(PhantomData<fn() -> P>);

impl<P> fmt::Debug for Guard<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Guard")
            .field(&std::any::type_name::<P>())
            .finish()
    }
}

impl<P> Clone for Guard<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for Guard<P> {}

fn redirect_for<P: Policy<S>, S>(layer: &LoginRedirect) -> LoginRedirect {
    let options = P::OPTIONS;
    let login_url = match options.redirect {
        RedirectOverride::Inherit => layer.login_url.clone(),
        RedirectOverride::To(url) => Some(url.to_owned()),
        RedirectOverride::Off => None,
    };
    LoginRedirect {
        login_url,
        redirect_field: options
            .redirect_field
            .map_or_else(|| layer.redirect_field.clone(), str::to_owned),
    }
}

/// Runs policy `P` on a request; `Err` is the response that turns it away.
pub(crate) async fn enforce<P: Policy<S>, S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<(), Response> {
    let auth =
        RequestAuth::from_parts(parts, "#[require_login]").map_err(IntoResponse::into_response)?;
    let denied = |reason, parts: &Parts| {
        let redirect = redirect_for::<P, S>(&auth.config().redirect);
        AuthRejection::denied(reason, parts, &redirect, auth.config().responder.as_deref())
            .into_response()
    };
    let Some(login) = auth.login().await.map_err(IntoResponse::into_response)? else {
        return Err(denied(DenialReason::Unauthenticated, parts));
    };
    if let Some(max_age) = P::OPTIONS.fresh {
        let age = auth
            .config()
            .clock
            .now()
            .duration_since(login.login_at)
            .unwrap_or_default();
        if age > max_age {
            return Err(denied(DenialReason::Stale, parts));
        }
    }
    let allowed = {
        let mut cx = PolicyContext {
            user: &*login.user,
            parts: &mut *parts,
            state,
        };
        P::check(&mut cx).await?
    };
    if allowed {
        Ok(())
    } else {
        Err(denied(DenialReason::Forbidden, parts))
    }
}

impl<P, S> FromRequestParts<S> for Guard<P>
where
    P: Policy<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        enforce::<P, S>(parts, state).await?;
        Ok(Self(PhantomData))
    }
}

/// A layer that guards every route of a router with policy `P`; built by
/// [`require!`](crate::require). Use it with `Router::route_layer`, so unmatched paths still
/// answer `404`.
pub struct GuardLayer<P>(PhantomData<fn() -> P>);

impl<P> GuardLayer<P> {
    /// A layer for policy `P`.
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<P> Default for GuardLayer<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P> Clone for GuardLayer<P> {
    fn clone(&self) -> Self {
        Self(PhantomData)
    }
}

impl<P> fmt::Debug for GuardLayer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GuardLayer")
            .field(&std::any::type_name::<P>())
            .finish()
    }
}

impl<P, I> Layer<I> for GuardLayer<P> {
    type Service = GuardService<P, I>;

    fn layer(&self, inner: I) -> Self::Service {
        GuardService {
            inner,
            _policy: PhantomData,
        }
    }
}

/// The service of a [`GuardLayer`].
pub struct GuardService<P, I> {
    inner: I,
    _policy: PhantomData<fn() -> P>,
}

impl<P, I: Clone> Clone for GuardService<P, I> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            _policy: PhantomData,
        }
    }
}

impl<P, I: fmt::Debug> fmt::Debug for GuardService<P, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardService")
            .field("policy", &std::any::type_name::<P>())
            .field("inner", &self.inner)
            .finish()
    }
}

impl<P, I> Service<Request> for GuardService<P, I>
where
    P: Policy<()>,
    I: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    I::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response, Infallible>> + Send + 'static>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // Drive the ready service; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            if let Err(response) = enforce::<P, ()>(&mut parts, &()).await {
                return Ok(response);
            }
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}
