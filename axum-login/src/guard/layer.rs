//! [`GuardLayer`]: the policy of a guard applied to every route of a router.

use std::{
    convert::Infallible,
    fmt,
    marker::PhantomData,
    task::{Context, Poll},
};

use axum::{extract::Request, response::Response};
use tower_layer::Layer;
use tower_service::Service;

use super::{Policy, enforce};

/// A layer that guards every route of a router with policy `P`; built by
/// [`require!`](crate::require). Use it with `Router::route_layer`, so unmatched paths still
/// answer `404`.
///
/// `.route_layer(require!(..))` guards only the routes added to the router **before** it: a
/// route added after it and the router's fallback are not guarded (axum's rule for
/// `route_layer`). Add it last, after every route it must guard, or give a router that must be
/// closed whole its own `Router` with the guard as `.layer(require!(..))`, nested under a prefix.
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
