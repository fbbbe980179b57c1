//! CSRF tokens for the app's own forms: [`CsrfLayer`] checks every unsafe request, [`CsrfToken`]
//! renders the field.
//!
//! The origin check of login and logout ([`AuthSession::check_same_site`](crate::AuthSession::check_same_site))
//! rests on the `Origin` and `Sec-Fetch-Site` headers, which old browsers and some proxies do
//! not send. A token does not: a page of another site cannot read this site's pages, so it
//! cannot know the token, and a request without it gets `403` whatever its headers say.
//!
//! ```
//! use axum::{Router, response::Html, routing::get};
//! use axum_login::csrf::{CsrfLayer, CsrfToken};
//!
//! async fn page(token: CsrfToken) -> Html<String> {
//!     Html(format!(r#"<form method="post">{}<button>Go</button></form>"#, token.hidden_field()))
//! }
//! # async fn act() {}
//!
//! let app: Router = Router::new()
//!     .route("/", get(page).post(act))
//!     .layer(CsrfLayer::new());
//! // Then `.layer(auth_layer)`: the check runs inside the AuthLayer, whose session it uses.
//! ```
//!
//! # Why a secret in the session
//!
//! Each browser has one random secret, and every token is that secret masked with a fresh
//! random pad (so a compressed page never repeats the same bytes, against BREACH); a token is
//! accepted when it unmasks to the secret, compared in constant time.
//!
//! The secret lives in the session (the synchronizer pattern) rather than in a cookie checked
//! against the form (double-submit), because a cookie is what a sibling subdomain or a
//! plain-HTTP page can plant: with a planted cookie and the token it pairs with, double-submit
//! accepts the attacker's request. The session's data is on the server, and the session cookie
//! carries the `__Host-` prefix (see [`session_layer`](crate::session_layer)). Nothing is
//! signed, so no server key is involved: rotating the [`SessionKey`](crate::SessionKey)
//! invalidates no form.
//!
//! A visitor who has no session yet (the login page) keeps the secret in a cookie of its own
//! (`axum_login_csrf`, `__Host-` prefixed over HTTPS, `HttpOnly`, `SameSite=Lax`), so that
//! showing a form to a new visitor writes no session: a flood of anonymous visits does not fill
//! the session store. The first response that leaves a session (the login) moves the secret into
//! it and removes the cookie; from then on the session's copy is the one checked. So:
//!
//! - a token survives the session id changes the crate makes (a login, a second factor, a
//!   remembered login, a password change), which keep the session's data: a form fetched before
//!   logging in still posts after it, in the same browser;
//! - a token of one session is refused in another: each has its own secret;
//! - the secret ends with the session: a logout removes it, and the next
//!   visitor of the browser gets another. A login as another user on a browser that was logged
//!   in keeps the secret of the browser that posted the login form.
//!
//! # What is checked
//!
//! Every request whose method is not `GET`, `HEAD`, `OPTIONS` or `TRACE`, on the routes the
//! layer wraps, except those it [exempts](CsrfLayer::exempt) (webhooks) and those with an API
//! token in `Authorization: Bearer` when the layer takes tokens (feature `tokens`: such a request
//! is its token's, never its session's, and no page of another site can make a browser send
//! that header). The token is read from
//! the `X-CSRF-Token` header (scripts, JSON clients: they read it once from a page or an
//! endpoint that extracts [`CsrfToken`]), else from the `csrf_token` field of a form-encoded
//! body. A missing, malformed or wrong token gets `403` with a plain-text body, and
//! [`AuthEvent::CsrfRefused`](crate::events::AuthEvent::CsrfRefused) with the
//! [reason](crate::events::CsrfRefusal); the handler does not run.

mod layer;
mod secret;
mod token;

pub use self::{
    layer::{CsrfFuture, CsrfLayer, CsrfService},
    token::{CsrfRefused, CsrfToken, CsrfTokenRejection},
};
pub use crate::events::CsrfRefusal;
