//! Talking to a server as a browser would: a server on an ephemeral loopback port, clients with
//! and without a cookie jar, a one-cookie jar that ignores `Secure` (the suites speak plain HTTP on
//! loopback while the cookie keeps its production attributes), and `Set-Cookie` taken apart.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::Router;
use reqwest::header::{COOKIE, SET_COOKIE};
use tokio::net::TcpListener;
use tower_sessions::session::Id;

/// The session cookie's name (tower-sessions' default).
pub const COOKIE_NAME: &str = "id";

/// Serves `app` on an ephemeral loopback port until the test process ends.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("server runs");
    });
    addr
}

/// A client with its own cookie jar, like one browser, that does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client builds")
}

/// A client without a cookie jar; cookies are set by hand.
pub fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client builds")
}

/// The value of the cookie `name` in the response's `Set-Cookie` headers.
pub fn set_cookie_value(response: &reqwest::Response, name: &str) -> Option<String> {
    set_cookie_headers(response).into_iter().find_map(|header| {
        let (pair, _) = header.split_once(';').unwrap_or((&header, ""));
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| value.trim().to_owned())
    })
}

/// Every `Set-Cookie` header of the response.
pub fn set_cookie_headers(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok().map(str::to_owned))
        .collect()
}

/// Serves `app` on an ephemeral loopback port, giving handlers `ConnectInfo<SocketAddr>`.
pub async fn serve_with_addr(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("server runs");
    });
    addr
}

/// A one-cookie jar over a client without one: keeps the session cookie whatever its `Secure`
/// flag, and forgets it when the server removes it.
#[derive(Clone)]
pub struct Visitor {
    pub client: reqwest::Client,
    pub base: String,
    cookie: Arc<Mutex<Option<String>>>,
}

impl Visitor {
    pub fn new(base: &str) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client builds"),
            base: base.to_owned(),
            cookie: Arc::default(),
        }
    }

    /// A visitor holding `cookie` (the value of the session cookie).
    pub fn with_cookie(base: &str, cookie: &str) -> Self {
        let visitor = Self::new(base);
        visitor.set_cookie(Some(cookie.to_owned()));
        visitor
    }

    pub fn cookie(&self) -> Option<String> {
        self.cookie.lock().expect("jar lock").clone()
    }

    pub fn set_cookie(&self, cookie: Option<String>) {
        *self.cookie.lock().expect("jar lock") = cookie;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `request` with the cookie, and takes in any `Set-Cookie` for it.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let request = match self.cookie() {
            Some(cookie) => request.header(COOKIE, format!("{COOKIE_NAME}={cookie}")),
            None => request,
        };
        let response = request.send().await.expect("request is answered");
        if let Some(cookie) = session_set_cookie(&response) {
            if cookie.removes() {
                self.set_cookie(None);
            } else {
                self.set_cookie(Some(cookie.value.clone()));
            }
        }
        response
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str) -> reqwest::Response {
        self.send(self.client.post(self.url(path))).await
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.send(self.client.post(self.url(path)).form(form)).await
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_form("/login", &[("username", username), ("password", password)])
            .await
    }

    /// The body of `GET /me`: the logged-in user's name, or `anonymous`.
    pub async fn whoami(&self) -> String {
        let response = self.get("/me").await;
        assert!(
            response.status().is_success(),
            "GET /me answered {}",
            response.status()
        );
        response.text().await.expect("body")
    }
}

/// A `Set-Cookie` header, taken apart.
#[derive(Debug, Clone)]
pub struct SetCookie {
    pub raw: String,
    pub value: String,
    /// Attribute names (lower-cased) with their values (`""` for flags).
    pub attributes: Vec<(String, String)>,
}

impl SetCookie {
    pub fn parse(raw: &str) -> Option<(String, Self)> {
        let mut parts = raw.split(';');
        let (name, value) = parts.next()?.split_once('=')?;
        let attributes = parts
            .map(|part| {
                let (key, value) = part.split_once('=').unwrap_or((part, ""));
                (key.trim().to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        Some((
            name.trim().to_owned(),
            Self {
                raw: raw.to_owned(),
                value: value.trim().to_owned(),
                attributes,
            },
        ))
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }

    /// Whether this header deletes the cookie (empty value, `Max-Age=0` or a past expiry).
    pub fn removes(&self) -> bool {
        self.value.is_empty() || self.attribute("max-age") == Some("0")
    }
}

/// The response's `Set-Cookie` for the session cookie, if any.
pub fn session_set_cookie(response: &reqwest::Response) -> Option<SetCookie> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(SetCookie::parse)
        .find(|(name, _)| name == COOKIE_NAME)
        .map(|(_, cookie)| cookie)
}

/// A random, well-formed session id (16 bytes, base64url without padding: 22 characters) that
/// no server issued.
pub fn forged_session_id() -> String {
    Id(rand::random::<i128>()).to_string()
}
