//! Removing the session cookie with the attributes it was set with.
//!
//! tower-sessions removes the cookie at logout with only its name, `Path` and `Domain`. Browsers
//! delete it all the same, but a removal that drops `Secure`, `HttpOnly` and `SameSite` is a
//! cookie the app never meant to send. With a `SessionManagerLayer` the app built itself, the
//! layer remembers the attributes of the session cookies it has set and gives them to the
//! removal cookie too. (A [`session_layer`](crate::session_layer) knows its cookie's attributes
//! and writes the removal cookie itself.)

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll, ready},
};

use axum::http::{HeaderValue, Response, header};
use tower_service::Service;

/// The most cookie names whose attributes are remembered.
const MAX_COOKIE_NAMES: usize = 64;

/// The attributes of each cookie name the layer has set, shared by its services.
#[derive(Clone, Default)]
pub(crate) struct CookieAttributes(Arc<Mutex<HashMap<String, Vec<String>>>>);

/// Attributes that a removal cookie should repeat; `Path` and `Domain` tower-sessions sets
/// itself, and `Max-Age`/`Expires` are the removal's own.
fn is_repeated(attribute: &str) -> bool {
    let name = attribute.split('=').next().unwrap_or("").trim();
    ["secure", "httponly", "samesite", "partitioned"]
        .iter()
        .any(|repeated| name.eq_ignore_ascii_case(repeated))
}

impl CookieAttributes {
    fn fix<B>(&self, response: &mut Response<B>) {
        if !response.headers().contains_key(header::SET_COOKIE) {
            return;
        }
        let mut known = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut fixed = Vec::new();
        for value in response.headers().get_all(header::SET_COOKIE) {
            let Ok(text) = value.to_str() else {
                fixed.push(value.clone());
                continue;
            };
            let mut parts = text.split(';').map(str::trim);
            let (name, cookie_value) = parts
                .next()
                .and_then(|pair| pair.split_once('='))
                .unwrap_or(("", ""));
            let attributes: Vec<&str> = parts.collect();
            let removal = cookie_value.is_empty()
                && attributes
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case("max-age=0"));
            if !removal {
                let repeated = attributes
                    .iter()
                    .filter(|a| is_repeated(a))
                    .map(|a| (*a).to_owned())
                    .collect();
                // Apps set a handful of cookie names; a bound keeps a response that sets
                // ever new names (echoing request input, say) from growing this map forever.
                if known.len() < MAX_COOKIE_NAMES || known.contains_key(name) {
                    known.insert(name.to_owned(), repeated);
                }
                fixed.push(value.clone());
                continue;
            }
            let Some(repeated) = known.get(name) else {
                fixed.push(value.clone());
                continue;
            };
            let mut text = text.to_owned();
            for attribute in repeated {
                let present = attributes.iter().any(|a| {
                    a.split('=').next().map(str::trim) == attribute.split('=').next().map(str::trim)
                });
                if !present {
                    text.push_str("; ");
                    text.push_str(attribute);
                }
            }
            fixed.push(HeaderValue::from_str(&text).unwrap_or_else(|_| value.clone()));
        }
        let headers = response.headers_mut();
        headers.remove(header::SET_COOKIE);
        for value in fixed {
            headers.append(header::SET_COOKIE, value);
        }
    }
}

/// Wraps tower-sessions' `SessionManager` inside an [`AuthLayer`](crate::AuthLayer) built on
/// an app's own `SessionManagerLayer`, so that removal cookies repeat the attributes the session
/// cookie was set with.
#[derive(Clone)]
pub struct CookieRemoval<S> {
    inner: S,
    attributes: CookieAttributes,
}

impl<S> CookieRemoval<S> {
    pub(crate) fn new(inner: S, attributes: CookieAttributes) -> Self {
        Self { inner, attributes }
    }
}

impl<S> std::fmt::Debug for CookieRemoval<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieRemoval").finish_non_exhaustive()
    }
}

impl<S, Req, B> Service<Req> for CookieRemoval<S>
where
    S: Service<Req, Response = Response<B>>,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = CookieRemovalFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        CookieRemovalFuture {
            future: self.inner.call(request),
            attributes: self.attributes.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`CookieRemoval`].
    pub struct CookieRemovalFuture<F> {
        #[pin]
        future: F,
        attributes: CookieAttributes,
    }
}

impl<F, B, E> Future for CookieRemovalFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.future.poll(cx))?;
        this.attributes.fix(&mut response);
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(cookies: &[&str]) -> Response<()> {
        let mut response = Response::new(());
        for cookie in cookies {
            response.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_str(cookie).expect("header"),
            );
        }
        response
    }

    fn cookies(response: &Response<()>) -> Vec<String> {
        response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect()
    }

    #[test]
    fn removal_repeats_the_attributes_the_cookie_was_set_with() {
        let attributes = CookieAttributes::default();
        let mut set = response(&["id=abc; HttpOnly; SameSite=Lax; Secure; Path=/"]);
        attributes.fix(&mut set);
        let mut removal =
            response(&["id=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"]);
        attributes.fix(&mut removal);
        assert_eq!(
            cookies(&removal),
            [
                "id=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax; Secure"
            ]
        );
    }

    #[test]
    fn the_memory_of_cookie_names_is_bounded() {
        let attributes = CookieAttributes::default();
        for n in 0..MAX_COOKIE_NAMES * 4 {
            let mut set = response(&[&format!("c{n}=v; Secure")]);
            attributes.fix(&mut set);
        }
        let known = attributes.0.lock().expect("lock").len();
        assert_eq!(known, MAX_COOKIE_NAMES);
    }

    #[test]
    fn a_removal_keeps_its_own_expiry_and_no_other_attribute_of_the_set_cookie() {
        let attributes = CookieAttributes::default();
        let mut set = response(&[
            "id=abc; Max-Age=3600; Expires=Wed, 01 Jan 2031 00:00:00 GMT; Domain=app.example; Secure",
        ]);
        attributes.fix(&mut set);
        let mut removal = response(&["id=; Path=/; Max-Age=0"]);
        attributes.fix(&mut removal);
        assert_eq!(cookies(&removal), ["id=; Path=/; Max-Age=0; Secure"]);
    }

    #[test]
    fn only_an_empty_cookie_that_expires_now_is_a_removal() {
        let attributes = CookieAttributes::default();
        let mut set = response(&["id=abc; HttpOnly; Secure"]);
        attributes.fix(&mut set);
        // A value with `Max-Age=0` is a cookie the app set, not a removal to complete.
        let mut expired = response(&["id=old; Max-Age=0"]);
        attributes.fix(&mut expired);
        assert_eq!(cookies(&expired), ["id=old; Max-Age=0"]);
        // And an empty value without it is a cookie set empty, whose attributes count.
        let mut empty = response(&["flag=; SameSite=Strict"]);
        attributes.fix(&mut empty);
        let mut removal = response(&["flag=; Max-Age=0"]);
        attributes.fix(&mut removal);
        assert_eq!(cookies(&removal), ["flag=; Max-Age=0; SameSite=Strict"]);
    }

    /// A service that is never ready, to see readiness passed through.
    struct NeverReady;

    impl Service<()> for NeverReady {
        type Response = Response<()>;
        type Error = ();
        type Future = std::future::Ready<Result<Response<()>, ()>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
            Poll::Pending
        }

        fn call(&mut self, (): ()) -> Self::Future {
            std::future::ready(Ok(Response::new(())))
        }
    }

    #[test]
    fn the_wrapper_is_ready_only_when_the_session_layer_is() {
        let mut service = CookieRemoval::new(NeverReady, CookieAttributes::default());
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(service.poll_ready(&mut cx).is_pending());
        assert_eq!(format!("{service:?}"), "CookieRemoval { .. }");
    }

    #[test]
    fn unknown_cookies_are_left_alone() {
        let attributes = CookieAttributes::default();
        let mut removal = response(&["other=; Path=/; Max-Age=0", "id=x; Path=/"]);
        attributes.fix(&mut removal);
        assert_eq!(
            cookies(&removal),
            ["other=; Path=/; Max-Age=0", "id=x; Path=/"]
        );
    }
}
