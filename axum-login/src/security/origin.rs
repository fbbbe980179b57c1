//! Refusing cross-site login and logout requests (login CSRF, logout CSRF).

use axum::http::{HeaderMap, HeaderValue, Method, header};

/// What a request says about where it comes from; captured by the layer, checked by
/// `AuthSession` before it authenticates, logs in or logs out. For a state-changing request it
/// also keeps what a login attempt needs: the cookies (the device cookie) and the forwarded
/// client address headers (read only from a trusted proxy).
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestOrigin {
    unsafe_method: bool,
    sec_fetch_site: Option<HeaderValue>,
    origin: Option<HeaderValue>,
    host: Option<HeaderValue>,
    cookies: Vec<HeaderValue>,
    forwarded: Option<HeaderValue>,
    forwarded_for: Option<HeaderValue>,
}

/// The value of the cookie `name` in the `Cookie` headers `headers`, when they carry exactly one
/// of that name: of two, neither can be told to be the site's own rather than one a sibling
/// subdomain planted.
pub(crate) fn cookie_of<'a>(
    headers: impl IntoIterator<Item = &'a HeaderValue>,
    name: &str,
) -> Option<&'a str> {
    let mut found = None;
    for header in headers {
        let Ok(text) = header.to_str() else {
            continue;
        };
        for pair in text.split(';') {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            if key.trim() == name {
                if found.is_some() {
                    return None;
                }
                found = Some(value.trim());
            }
        }
    }
    found
}

impl RequestOrigin {
    /// `keep_cookies` keeps the cookies of a safe request too, for a layer that logs a visitor
    /// in from a remember-me cookie on any request.
    pub(crate) fn of(method: &Method, headers: &HeaderMap, keep_cookies: bool) -> Self {
        let unsafe_method = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !unsafe_method {
            return Self {
                cookies: if keep_cookies {
                    headers.get_all(header::COOKIE).iter().cloned().collect()
                } else {
                    Vec::new()
                },
                ..Self::default()
            };
        }
        Self {
            unsafe_method,
            sec_fetch_site: headers.get("sec-fetch-site").cloned(),
            origin: headers.get(header::ORIGIN).cloned(),
            host: headers.get(header::HOST).cloned(),
            cookies: headers.get_all(header::COOKIE).iter().cloned().collect(),
            forwarded: headers.get(header::FORWARDED).cloned(),
            forwarded_for: headers.get("x-forwarded-for").cloned(),
        }
    }

    /// The value of the cookie `name`, when the request carries exactly one of that name.
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        cookie_of(&self.cookies, name)
    }

    /// The `Forwarded` header.
    pub(crate) fn forwarded(&self) -> Option<&str> {
        self.forwarded
            .as_ref()
            .and_then(|value| value.to_str().ok())
    }

    /// The `X-Forwarded-For` header.
    pub(crate) fn forwarded_for(&self) -> Option<&str> {
        self.forwarded_for
            .as_ref()
            .and_then(|value| value.to_str().ok())
    }

    /// Whether a state-changing request comes from this site or a trusted origin.
    ///
    /// `GET` requests are not checked: an OAuth provider's redirect back to the callback is a
    /// cross-site `GET` that must be able to log the user in (its `state` parameter protects
    /// it). Clients that send neither `Sec-Fetch-Site` nor `Origin` (curl, API clients, old
    /// browsers) are not browsers carrying another site's request, and pass.
    ///
    /// Without `Sec-Fetch-Site`, the `Origin` must be this site: the same host and port as the
    /// `Host` header, and the site's scheme (`https` when the session cookie is `Secure`, `http`
    /// when it is not; either of the two when the layer does not know).
    pub(crate) fn is_same_site(&self, trusted: &[String], scheme: Option<Scheme>) -> bool {
        if !self.unsafe_method {
            return true;
        }
        let origin = self.origin.as_ref().and_then(|value| value.to_str().ok());
        if let Some(origin) = origin
            && trusted
                .iter()
                .any(|trusted| trusted.eq_ignore_ascii_case(origin))
        {
            return true;
        }
        if let Some(site) = &self.sec_fetch_site {
            return matches!(site.as_bytes(), b"same-origin" | b"none");
        }
        let Some(origin) = origin else {
            return true;
        };
        let host = self.host.as_ref().and_then(|value| value.to_str().ok());
        match (Site::origin(origin), host) {
            (Some(origin), Some(host)) => origin.is_host(host, scheme),
            _ => false,
        }
    }
}

/// The scheme a site is served on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("https") {
            Some(Self::Https)
        } else if text.eq_ignore_ascii_case("http") {
            Some(Self::Http)
        } else {
            None
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// An origin taken apart: `scheme://host[:port]`.
#[derive(Debug, PartialEq, Eq)]
struct Site<'a> {
    scheme: Scheme,
    host: &'a str,
    port: u16,
}

impl<'a> Site<'a> {
    /// An `Origin` header's value; `None` for `null`, another scheme, a path or anything else.
    fn origin(text: &'a str) -> Option<Self> {
        let (scheme, rest) = text.split_once("://")?;
        let scheme = Scheme::parse(scheme)?;
        let (host, port) = split_port(rest)?;
        Some(Self {
            scheme,
            host,
            port: port.unwrap_or(scheme.default_port()),
        })
    }

    /// Whether this origin is the site that `Host` names, served on `scheme` when known.
    fn is_host(&self, host: &str, scheme: Option<Scheme>) -> bool {
        if scheme.is_some_and(|scheme| scheme != self.scheme) {
            return false;
        }
        let Some((name, port)) = split_port(host) else {
            return false;
        };
        let port = port.unwrap_or(scheme.unwrap_or(self.scheme).default_port());
        name.eq_ignore_ascii_case(self.host) && port == self.port
    }
}

/// `host[:port]`, with the brackets of an IPv6 address kept; `None` when the port is not a
/// number, or there is a path, user info or nothing.
fn split_port(text: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = match text.rfind(':') {
        Some(colon) if !text[colon..].contains(']') => (&text[..colon], Some(&text[colon + 1..])),
        _ => (text, None),
    };
    if host.is_empty() || host.contains(['/', '@', '?', '#', '\\']) {
        return None;
    }
    let port = match port {
        Some(port) => Some(port.parse::<u16>().ok()?),
        None => None,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, headers: &[(&'static str, &'static str)]) -> RequestOrigin {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_static(value));
        }
        RequestOrigin::of(&method, &map, false)
    }

    #[test]
    fn same_origin_and_direct_requests_pass() {
        let none: &[String] = &[];
        assert!(
            request(Method::POST, &[("sec-fetch-site", "same-origin")]).is_same_site(none, None)
        );
        assert!(request(Method::POST, &[("sec-fetch-site", "none")]).is_same_site(none, None));
        assert!(request(Method::POST, &[]).is_same_site(none, None));
        assert!(
            request(
                Method::POST,
                &[
                    ("origin", "http://app.example:3000"),
                    ("host", "app.example:3000")
                ]
            )
            .is_same_site(none, None)
        );
        assert!(request(Method::GET, &[("sec-fetch-site", "cross-site")]).is_same_site(none, None));
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let none: &[String] = &[];
        assert!(
            !request(Method::POST, &[("sec-fetch-site", "cross-site")]).is_same_site(none, None)
        );
        assert!(
            !request(Method::POST, &[("sec-fetch-site", "same-site")]).is_same_site(none, None)
        );
        assert!(
            !request(
                Method::POST,
                &[("origin", "https://evil.example"), ("host", "app.example")]
            )
            .is_same_site(none, None)
        );
        assert!(
            !request(Method::POST, &[("origin", "null"), ("host", "app.example")])
                .is_same_site(none, None)
        );
        assert!(
            !request(
                Method::DELETE,
                &[
                    ("origin", "https://app.example.evil.example"),
                    ("host", "app.example")
                ]
            )
            .is_same_site(none, None)
        );
    }

    #[test]
    fn the_origin_must_have_the_sites_scheme_host_and_port() {
        let none: &[String] = &[];
        let post = |origin: &'static str, host: &'static str| {
            request(Method::POST, &[("origin", origin), ("host", host)])
        };
        let http = Some(Scheme::Http);
        let https = Some(Scheme::Https);
        assert!(post("http://app.example", "app.example").is_same_site(none, http));
        assert!(post("http://app.example:80", "app.example").is_same_site(none, http));
        assert!(post("https://app.example", "app.example:443").is_same_site(none, https));
        assert!(post("HTTP://APP.example:8080", "app.example:8080").is_same_site(none, http));
        assert!(post("http://[::1]:3000", "[::1]:3000").is_same_site(none, http));
        // Another scheme than the site's, even on the same host.
        assert!(!post("https://app.example", "app.example").is_same_site(none, http));
        assert!(!post("http://app.example", "app.example").is_same_site(none, https));
        assert!(!post("ftp://app.example", "app.example").is_same_site(none, http));
        assert!(!post("ftp://app.example", "app.example").is_same_site(none, None));
        // Another port, or the host's default against an explicit other one.
        assert!(!post("http://app.example:8080", "app.example").is_same_site(none, http));
        assert!(!post("http://app.example", "app.example:8080").is_same_site(none, http));
        assert!(!post("https://app.example:8443", "app.example:443").is_same_site(none, None));
        // Not an origin at all.
        assert!(!post("http://app.example/path", "app.example").is_same_site(none, http));
        assert!(!post("http://user@app.example", "app.example").is_same_site(none, http));
        assert!(!post("app.example", "app.example").is_same_site(none, None));
        assert!(!post("http://app.example:x", "app.example").is_same_site(none, None));
    }

    #[test]
    fn a_cookie_is_read_only_when_the_request_has_exactly_one_of_its_name() {
        let post = request(
            Method::POST,
            &[("cookie", "a=1; device = signed ; b=2; twice=x; twice=y")],
        );
        assert_eq!(post.cookie("device"), Some("signed"));
        assert_eq!(post.cookie("b"), Some("2"));
        assert_eq!(post.cookie("missing"), None);
        // Two cookies of one name: one was planted, and which is unknown.
        assert_eq!(post.cookie("twice"), None);
    }

    #[test]
    fn a_safe_request_keeps_its_cookies_only_when_asked() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("remember=token"));
        let kept = RequestOrigin::of(&Method::GET, &headers, true);
        assert_eq!(kept.cookie("remember"), Some("token"));
        let dropped = RequestOrigin::of(&Method::GET, &headers, false);
        assert_eq!(dropped.cookie("remember"), None);
    }

    #[test]
    fn forwarded_headers_are_kept_for_a_login_attempt() {
        let post = request(
            Method::POST,
            &[
                ("forwarded", "for=192.0.2.60"),
                ("x-forwarded-for", "198.51.100.7"),
            ],
        );
        assert_eq!(post.forwarded(), Some("for=192.0.2.60"));
        assert_eq!(post.forwarded_for(), Some("198.51.100.7"));
        let bare = request(Method::POST, &[]);
        assert_eq!(bare.forwarded(), None);
        assert_eq!(bare.forwarded_for(), None);
    }

    #[test]
    fn hosts_split_from_their_ports() {
        assert_eq!(split_port("app.example"), Some(("app.example", None)));
        assert_eq!(
            split_port("app.example:8080"),
            Some(("app.example", Some(8080)))
        );
        assert_eq!(split_port("[::1]"), Some(("[::1]", None)));
        assert_eq!(split_port("[::1]:3000"), Some(("[::1]", Some(3000))));
        for not_a_host in [
            ":80",
            "",
            "app.example/x",
            "user@app.example",
            "app.example:x",
        ] {
            assert_eq!(split_port(not_a_host), None, "{not_a_host:?}");
        }
    }

    #[test]
    fn trusted_origins_pass() {
        let trusted = vec!["https://front.example".to_owned()];
        assert!(
            request(
                Method::POST,
                &[
                    ("origin", "https://front.example"),
                    ("sec-fetch-site", "cross-site")
                ]
            )
            .is_same_site(&trusted, None)
        );
    }
}
