//! Refusing cross-site login and logout requests (login CSRF, logout CSRF).

use axum::http::{HeaderMap, HeaderValue, Method, header};

/// What a request says about where it comes from; captured by the layer, checked by
/// `AuthSession` before it authenticates, logs in or logs out.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestOrigin {
    unsafe_method: bool,
    sec_fetch_site: Option<HeaderValue>,
    origin: Option<HeaderValue>,
    host: Option<HeaderValue>,
}

impl RequestOrigin {
    pub(crate) fn of(method: &Method, headers: &HeaderMap) -> Self {
        let unsafe_method = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !unsafe_method {
            return Self::default();
        }
        Self {
            unsafe_method,
            sec_fetch_site: headers.get("sec-fetch-site").cloned(),
            origin: headers.get(header::ORIGIN).cloned(),
            host: headers.get(header::HOST).cloned(),
        }
    }

    /// Whether a state-changing request comes from this site or a trusted origin.
    ///
    /// `GET` requests are not checked: an OAuth provider's redirect back to the callback is a
    /// cross-site `GET` that must be able to log the user in (its `state` parameter protects
    /// it). Clients that send neither `Sec-Fetch-Site` nor `Origin` (curl, API clients, old
    /// browsers) are not browsers carrying another site's request, and pass.
    pub(crate) fn is_same_site(&self, trusted: &[String]) -> bool {
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
        match origin {
            None => true,
            Some(origin) => {
                let host = self.host.as_ref().and_then(|value| value.to_str().ok());
                let origin_host = origin
                    .split_once("://")
                    .map(|(_, rest)| rest.trim_end_matches('/'));
                matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, headers: &[(&'static str, &'static str)]) -> RequestOrigin {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_static(value));
        }
        RequestOrigin::of(&method, &map)
    }

    #[test]
    fn same_origin_and_direct_requests_pass() {
        let none: &[String] = &[];
        assert!(request(Method::POST, &[("sec-fetch-site", "same-origin")]).is_same_site(none));
        assert!(request(Method::POST, &[("sec-fetch-site", "none")]).is_same_site(none));
        assert!(request(Method::POST, &[]).is_same_site(none));
        assert!(
            request(
                Method::POST,
                &[
                    ("origin", "http://app.example:3000"),
                    ("host", "app.example:3000")
                ]
            )
            .is_same_site(none)
        );
        assert!(request(Method::GET, &[("sec-fetch-site", "cross-site")]).is_same_site(none));
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let none: &[String] = &[];
        assert!(!request(Method::POST, &[("sec-fetch-site", "cross-site")]).is_same_site(none));
        assert!(!request(Method::POST, &[("sec-fetch-site", "same-site")]).is_same_site(none));
        assert!(
            !request(
                Method::POST,
                &[("origin", "https://evil.example"), ("host", "app.example")]
            )
            .is_same_site(none)
        );
        assert!(
            !request(Method::POST, &[("origin", "null"), ("host", "app.example")])
                .is_same_site(none)
        );
        assert!(
            !request(
                Method::DELETE,
                &[
                    ("origin", "https://app.example.evil.example"),
                    ("host", "app.example")
                ]
            )
            .is_same_site(none)
        );
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
            .is_same_site(&trusted)
        );
    }
}
