//! The session middleware inside [`AuthLayer`](crate::AuthLayer): tower-sessions' own
//! `SessionManager` for a `SessionManagerLayer` the app built itself, or, for
//! [`session_layer`](crate::session_layer), this crate's cookie handling over the same
//! tower-sessions `Session` and store.
//!
//! The two behave alike: the same `Session` in the request's extensions, saved when modified,
//! the same cookie. The crate's own version reads the session cookie straight from the `Cookie`
//! header and writes `Set-Cookie` itself, where tower-sessions parses every cookie of every
//! request into a tower-cookies jar behind a lock, which is most of what the layer would cost a
//! route that never asks for the user. It also removes the cookie with the attributes it was set
//! with, on every instance.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use tower_layer::Layer;
use tower_service::Service;
use tower_sessions::{
    Session, SessionManagerLayer, SessionStore, service::CookieController, session::Id,
};

use super::{
    channels::{AfterSave, SaveContext},
    cookie::CookieConfig,
    hooks::{SessionDeleter, StoreDeleter},
    removal::{CookieAttributes, CookieRemoval},
};

/// The session middleware an [`AuthLayer`](crate::AuthLayer) puts around its own service.
#[doc(hidden)]
pub struct Sessions<SS: SessionStore, C: CookieController>(SessionsKind<SS, C>);

enum SessionsKind<SS: SessionStore, C: CookieController> {
    /// A `SessionManagerLayer` the app configured; `attributes` are what the cookie removal
    /// fix-up knows of its cookie.
    Tower {
        layer: SessionManagerLayer<SS, C>,
        attributes: CookieAttributes,
    },
    /// A [`session_layer`](crate::session_layer).
    Own {
        store: Arc<SS>,
        config: Arc<CookieConfig>,
    },
}

impl<SS: SessionStore + Clone, C: CookieController + Clone> Clone for Sessions<SS, C> {
    fn clone(&self) -> Self {
        Self(match &self.0 {
            SessionsKind::Tower { layer, attributes } => SessionsKind::Tower {
                layer: layer.clone(),
                attributes: attributes.clone(),
            },
            SessionsKind::Own { store, config } => SessionsKind::Own {
                store: store.clone(),
                config: config.clone(),
            },
        })
    }
}

impl<SS: SessionStore, C: CookieController> fmt::Debug for Sessions<SS, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            SessionsKind::Tower { .. } => f.write_str("Sessions(tower-sessions SessionManager)"),
            SessionsKind::Own { config, .. } => f.debug_tuple("Sessions").field(config).finish(),
        }
    }
}

impl<SS: SessionStore, C: CookieController> Sessions<SS, C> {
    pub(crate) fn tower(layer: SessionManagerLayer<SS, C>) -> Self {
        Self(SessionsKind::Tower {
            layer,
            attributes: CookieAttributes::default(),
        })
    }

    pub(crate) fn own(store: SS, config: CookieConfig) -> Self {
        Self(SessionsKind::Own {
            store: Arc::new(store),
            config: Arc::new(config.resolved()),
        })
    }

    /// What deletes a session by id, when this layer can: the crate's own layer holds its
    /// store; a tower-sessions layer keeps its store to itself.
    pub(crate) fn deleter(&self) -> Option<Arc<dyn SessionDeleter>>
    where
        SS: SessionStore,
    {
        match &self.0 {
            SessionsKind::Tower { .. } => None,
            SessionsKind::Own { store, .. } => Some(Arc::new(StoreDeleter(store.clone()))),
        }
    }

    /// Whether the session cookie is `Secure`, when this layer knows (it made the cookie).
    pub(crate) fn secure(&self) -> Option<bool> {
        match &self.0 {
            SessionsKind::Tower { .. } => None,
            SessionsKind::Own { config, .. } => Some(config.secure),
        }
    }

    pub(crate) fn layer<I>(&self, inner: I) -> SessionService<I, SS, C> {
        SessionService(match &self.0 {
            SessionsKind::Tower { layer, attributes } => {
                ServiceKind::Tower(CookieRemoval::new(layer.layer(inner), attributes.clone()))
            }
            SessionsKind::Own { store, config } => ServiceKind::Own {
                inner,
                store: store.clone(),
                config: config.clone(),
            },
        })
    }
}

type TowerService<I, SS, C> = CookieRemoval<<SessionManagerLayer<SS, C> as Layer<I>>::Service>;

/// The session middleware's service (see [`AuthLayer`](crate::AuthLayer)).
#[doc(hidden)]
pub struct SessionService<I, SS: SessionStore, C: CookieController>(ServiceKind<I, SS, C>);

enum ServiceKind<I, SS: SessionStore, C: CookieController> {
    Tower(TowerService<I, SS, C>),
    Own {
        inner: I,
        store: Arc<SS>,
        config: Arc<CookieConfig>,
    },
}

impl<I: Clone, SS: SessionStore + Clone, C: CookieController + Clone> Clone
    for SessionService<I, SS, C>
{
    fn clone(&self) -> Self {
        Self(match &self.0 {
            ServiceKind::Tower(service) => ServiceKind::Tower(service.clone()),
            ServiceKind::Own {
                inner,
                store,
                config,
            } => ServiceKind::Own {
                inner: inner.clone(),
                store: store.clone(),
                config: config.clone(),
            },
        })
    }
}

impl<I, SS: SessionStore, C: CookieController> fmt::Debug for SessionService<I, SS, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService").finish_non_exhaustive()
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<I, SS, C, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<I, SS, C>
where
    I: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    I::Future: Send,
    SS: SessionStore,
    C: CookieController,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
    TowerService<I, SS, C>:
        Service<Request<ReqBody>, Response = Response<ResBody>, Error = I::Error>,
{
    type Response = Response<ResBody>;
    type Error = I::Error;
    type Future = SessionFuture<
        <TowerService<I, SS, C> as Service<Request<ReqBody>>>::Future,
        OwnFuture<I::Future, ResBody>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match &mut self.0 {
            ServiceKind::Tower(service) => service.poll_ready(cx),
            ServiceKind::Own { inner, .. } => inner.poll_ready(cx),
        }
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let (inner, store, config) = match &mut self.0 {
            ServiceKind::Tower(service) => {
                return SessionFuture::Tower {
                    future: service.call(request),
                };
            }
            ServiceKind::Own {
                inner,
                store,
                config,
            } => (inner, store, config),
        };
        let (id, had_cookie) = match session_cookie(request.headers(), &config.name) {
            Found::None => (None, false),
            Found::One(value) => {
                let id = parse_id(value);
                if id.is_none() {
                    tracing::debug!("malformed session id in the cookie; a new session");
                }
                (id, true)
            }
            // Neither is used, and neither is removed: a removal would reach only the cookie
            // set with this layer's attributes, the visitor's own, and leave the planted one.
            Found::Several => {
                tracing::debug!("several session cookies in one request; treated as none");
                (None, false)
            }
        };
        let session = Session::new(id, store.clone(), config.expiry);
        request.extensions_mut().insert(session.clone());
        // `inner` was polled ready and its future does not borrow it, so it takes the request
        // now: no clone of the service, no boxed future around it.
        SessionFuture::Own {
            future: OwnFuture {
                state: OwnState::Inner {
                    future: inner.call(request),
                    after: Some(After {
                        session,
                        config: config.clone(),
                        had_cookie,
                    }),
                },
            },
        }
    }
}

/// What happens to the session once the response is ready.
struct After {
    session: Session,
    config: Arc<CookieConfig>,
    had_cookie: bool,
}

impl After {
    /// Whether the session needs neither saving nor its cookie removed, known without waiting:
    /// unchanged (and not saved every time), and not a cookie whose session turned out empty.
    fn nothing_to_do(&self) -> bool {
        let saves = self.session.is_modified() || self.config.always_save;
        let may_remove = self.had_cookie && self.session.id().is_none();
        !saves && !may_remove
    }
}

pin_project_lite::pin_project! {
    /// The response future of a [`session_layer`](crate::session_layer)'s service.
    #[doc(hidden)]
    pub struct OwnFuture<F, B> {
        #[pin]
        state: OwnState<F, B>,
    }
}

pin_project_lite::pin_project! {
    #[project = OwnStateProj]
    enum OwnState<F, B> {
        Inner {
            #[pin]
            future: F,
            after: Option<After>,
        },
        Finishing {
            future: BoxFuture<Response<B>>,
        },
    }
}

impl<F, B, E> Future for OwnFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default + Send + 'static,
{
    type Output = Result<Response<B>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project().state.project() {
                OwnStateProj::Inner { future, after } => {
                    let mut response = ready!(future.poll(cx))?;
                    let Some(after) = after.take() else {
                        return Poll::Ready(Ok(response));
                    };
                    if after.nothing_to_do() {
                        return Poll::Ready(Ok(response));
                    }
                    let finishing = Box::pin(async move {
                        finish(&after, &mut response).await;
                        response
                    });
                    self.as_mut()
                        .project()
                        .state
                        .set(OwnState::Finishing { future: finishing });
                }
                OwnStateProj::Finishing { future } => {
                    return future.as_mut().poll(cx).map(Ok);
                }
            }
        }
    }
}

/// Saves a modified session and sets its cookie, or removes the cookie of a session that ended;
/// as tower-sessions' `SessionManager` does.
async fn finish<B: Default>(after: &After, response: &mut Response<B>) {
    let (session, config, had_cookie) = (&after.session, &*after.config, after.had_cookie);
    // The auth layer's work for after the save, when this request logged in.
    let after_save = response
        .extensions_mut()
        .remove::<AfterSave>()
        .and_then(|slot| slot.take());
    let modified = session.is_modified();
    // A session with an id is never empty (tower-sessions' `is_empty` asks for no id first), so
    // the usual request, which kept its session, skips the lock `is_empty` takes.
    let empty = session.id().is_none() && session.is_empty().await;
    let cookie = if had_cookie && empty {
        config.removal()
    } else if (modified || config.always_save) && !empty && !response.status().is_server_error() {
        // An equal write is skipped unless the session must be written to refresh its expiry:
        // every time (`always_save`), or because the app changed it.
        let skip_unchanged = !config.always_save && session.expiry() == config.expiry;
        let context = SaveContext::new(skip_unchanged);
        if let Err(error) = context.scope(session.save()).await {
            tracing::error!(%error, "could not save the session");
            *response = failure();
            return;
        }
        if !context.wrote() {
            return;
        }
        let Some(id) = session.id() else {
            tracing::error!("a saved session has no id");
            *response = failure();
            return;
        };
        if let Some(work) = after_save
            && !work(id.to_string()).await
        {
            // The session was ended (from the session registry) while this request ran: it
            // must not live on under its new id.
            if let Err(error) = session.delete().await {
                tracing::error!(%error, "could not delete an ended session");
                *response = failure();
                return;
            }
            if had_cookie {
                config.removal()
            } else {
                return;
            }
        } else {
            config.cookie(id, session.expiry())
        }
    } else {
        return;
    };
    match HeaderValue::try_from(cookie.to_string()) {
        Ok(value) => {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        Err(error) => tracing::error!(%error, "the session cookie is not a valid header"),
    }
}

fn failure<B: Default>() -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

pin_project_lite::pin_project! {
    /// The response future of [`SessionService`].
    #[doc(hidden)]
    #[project = SessionFutureProj]
    pub enum SessionFuture<T, O> {
        Tower { #[pin] future: T },
        Own { #[pin] future: O },
    }
}

impl<T, O, R> Future for SessionFuture<T, O>
where
    T: Future<Output = R>,
    O: Future<Output = R>,
{
    type Output = R;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        match self.project() {
            SessionFutureProj::Tower { future } => future.poll(cx),
            SessionFutureProj::Own { future } => future.poll(cx),
        }
    }
}

/// What a request's `Cookie` headers hold under the session cookie's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found<'a> {
    /// No such cookie.
    None,
    /// One, its value without surrounding double quotes.
    One(&'a str),
    /// Several: one of them was planted (by a sibling subdomain, a plain-HTTP page or another
    /// path), and nothing tells which is the visitor's own.
    Several,
}

/// The session cookie called `name` among the request's cookies.
///
/// A plain scan of `name=value; name=value` pairs: the session id needs no decoding, and a
/// full parse of every cookie (`cookie::Cookie::split_parse`) would cost a tenth of a cached
/// request.
fn session_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Found<'a> {
    let mut found = Found::None;
    for text in headers.get_all(header::COOKIE).iter() {
        let Ok(text) = text.to_str() else {
            continue;
        };
        // Visible ASCII and tabs only (`to_str` checked): byte offsets are char boundaries, and
        // the only whitespace to trim is spaces and tabs.
        let bytes = text.as_bytes();
        let mut start = 0;
        while start <= bytes.len() {
            let end = bytes[start..]
                .iter()
                .position(|&b| b == b';')
                .map_or(bytes.len(), |at| start + at);
            let pair = &text[start..end];
            if let Some(eq) = pair.bytes().position(|b| b == b'=')
                && pair[..eq].trim_ascii() == name
            {
                let value = pair[eq + 1..].trim_ascii();
                let value = value
                    .strip_prefix('"')
                    .and_then(|inner| inner.strip_suffix('"'))
                    .unwrap_or(value);
                found = match found {
                    Found::None => Found::One(value),
                    _ => Found::Several,
                };
            }
            start = end + 1;
        }
    }
    found
}

/// The session id in a cookie value, exactly as tower-sessions' `Id::from_str` reads it
/// (22 characters of URL-safe base64 without padding, the 4 bits past the 16 bytes zero), with a
/// lookup table instead of a base64 engine; `None` for anything else.
fn parse_id(value: &str) -> Option<Id> {
    const INVALID: u8 = 0xff;
    const DIGITS: [u8; 256] = {
        let mut table = [INVALID; 256];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut i = 0;
        while i < alphabet.len() {
            table[alphabet[i] as usize] = i as u8;
            i += 1;
        }
        table
    };
    let bytes: &[u8; 22] = value.as_bytes().try_into().ok()?;
    // The 132 bits, most significant first, are the 16 bytes in order and 4 zero bits.
    let mut bits: u128 = 0;
    for &byte in &bytes[..21] {
        let digit = DIGITS[usize::from(byte)];
        if digit == INVALID {
            return None;
        }
        bits = (bits << 6) | u128::from(digit);
    }
    let last = DIGITS[usize::from(bytes[21])];
    if last == INVALID || last & 0x0f != 0 {
        return None;
    }
    bits = (bits << 2) | u128::from(last >> 4);
    Some(Id(i128::from_le_bytes(bits.to_be_bytes())))
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::*;

    fn headers(cookies: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for cookie in cookies {
            headers.append(
                header::COOKIE,
                HeaderValue::from_str(cookie).expect("a header"),
            );
        }
        headers
    }

    #[test]
    fn the_session_cookie_is_found_among_others_and_two_of_it_are_none_of_them() {
        assert_eq!(
            session_cookie(&headers(&["a=1; id=abc; b=2"]), "id"),
            Found::One("abc")
        );
        assert_eq!(
            session_cookie(&headers(&["a=1", "id=x", "id=y"]), "id"),
            Found::Several
        );
        assert_eq!(
            session_cookie(&headers(&["id=x; id=x"]), "id"),
            Found::Several
        );
        assert_eq!(
            session_cookie(&headers(&["ids=1; xid=2"]), "id"),
            Found::None
        );
        assert_eq!(session_cookie(&headers(&[]), "id"), Found::None);
        assert_eq!(session_cookie(&headers(&["id="]), "id"), Found::One(""));
        assert_eq!(
            session_cookie(&headers(&[" id = \"abc\" ;x"]), "id"),
            Found::One("abc")
        );
        assert_eq!(session_cookie(&headers(&["id; a=b"]), "id"), Found::None);
        assert_eq!(session_cookie(&headers(&["a=id=1"]), "id"), Found::None);
        assert_eq!(
            session_cookie(&headers(&["id=planted; __Host-id=own"]), "__Host-id"),
            Found::One("own")
        );
    }

    fn same_as_tower_sessions(value: &str) {
        assert_eq!(parse_id(value), value.parse::<Id>().ok(), "{value:?}");
    }

    #[test]
    fn a_session_id_is_read_exactly_as_tower_sessions_reads_it() {
        for id in [0, 1, -1, i128::MAX, i128::MIN, 0x0123_4567_89ab_cdef] {
            let text = Id(id).to_string();
            assert_eq!(parse_id(&text), Some(Id(id)), "{text}");
        }
        for value in [
            "",
            "AAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAB",
            "AAAAAAAAAAAAAAAAAAAAAQ",
            "AAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAA==",
            "AAAAAAAAAAAAAAAAAAAAA+",
            "AAAAAAAAAAAAAAAAAAAAA/",
            "____________________w",
            "_____________________w",
            "AAAAAAAAAAAAAAAAAAAA\u{e9}",
        ] {
            same_as_tower_sessions(value);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_cookie_value_is_read_as_tower_sessions_reads_it(
            value in "[A-Za-z0-9_+/=.-]{20,24}",
        ) {
            same_as_tower_sessions(&value);
        }

        #[test]
        fn any_id_round_trips(id in proptest::num::i128::ANY) {
            same_as_tower_sessions(&Id(id).to_string());
            proptest::prop_assert_eq!(parse_id(&Id(id).to_string()), Some(Id(id)));
        }

        #[test]
        fn any_valid_looking_value_is_read_as_tower_sessions_reads_it(
            value in "[A-Za-z0-9_-]{21}[A-Za-z0-9_-]",
        ) {
            same_as_tower_sessions(&value);
        }
    }
}
