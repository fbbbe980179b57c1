//! The session cookie of a [`session_layer`](crate::session_layer): its settings, and the cookie
//! and removal cookie they make. Reading it from a request is the session service's.

use std::borrow::Cow;

use tower_sessions::{
    Expiry,
    cookie::{Cookie, SameSite, time::OffsetDateTime},
    session::Id,
};

/// The name prefix that browsers accept only on a cookie set by this host over HTTPS, with
/// `Path=/` and no `Domain`.
const HOST_PREFIX: &str = "__Host-";

/// The cookie settings of a [`session_layer`](crate::session_layer).
#[derive(Debug, Clone)]
pub(crate) struct CookieConfig {
    pub(crate) name: Cow<'static, str>,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSite,
    pub(crate) secure: bool,
    pub(crate) path: Cow<'static, str>,
    pub(crate) domain: Option<Cow<'static, str>>,
    pub(crate) expiry: Option<Expiry>,
    pub(crate) always_save: bool,
    /// Whether a `Secure` cookie's name gets the `__Host-` prefix.
    pub(crate) host_prefix: bool,
}

impl CookieConfig {
    /// The settings [`session_layer`](crate::session_layer) starts from: `id`, `HttpOnly`,
    /// `SameSite=Lax`, `Secure`, `Path=/`, no `Domain`, no expiry, saved only when changed.
    pub(crate) fn safe_defaults() -> Self {
        Self {
            name: "id".into(),
            http_only: true,
            same_site: SameSite::Lax,
            secure: true,
            path: "/".into(),
            domain: None,
            expiry: None,
            always_save: false,
            host_prefix: true,
        }
    }

    /// The settings as the cookie is sent: with the `__Host-` prefix on its name while it is
    /// `Secure` (which browsers honour only with `Path=/` and no `Domain`, so a cookie that
    /// names a domain or a path keeps its name).
    pub(crate) fn resolved(mut self) -> Self {
        let prefixable = self.secure && self.path == "/" && self.domain.is_none();
        if self.host_prefix && prefixable && !self.name.starts_with(HOST_PREFIX) {
            self.name = format!("{HOST_PREFIX}{}", self.name).into();
        }
        self
    }

    /// The cookie that carries session `id`, which expires as `expiry` says.
    pub(super) fn cookie(&self, id: Id, expiry: Option<Expiry>) -> Cookie<'static> {
        let mut cookie = self.base(id.to_string());
        match expiry {
            Some(Expiry::OnInactivity(duration)) => cookie.set_max_age(duration),
            Some(Expiry::AtDateTime(at)) => cookie.set_max_age(at - OffsetDateTime::now_utc()),
            Some(Expiry::OnSessionEnd) | None => {}
        }
        cookie
    }

    /// The cookie that makes the browser forget the session cookie: same name, path, domain
    /// and attributes, empty, expired.
    pub(super) fn removal(&self) -> Cookie<'static> {
        let mut cookie = self.base(String::new());
        cookie.make_removal();
        cookie
    }

    fn base(&self, value: String) -> Cookie<'static> {
        let mut cookie = Cookie::build((self.name.clone(), value))
            .http_only(self.http_only)
            .same_site(self.same_site)
            .secure(self.secure)
            .path(self.path.clone())
            .build();
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.clone());
        }
        cookie
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secure_cookie_gets_the_host_prefix_unless_it_cannot_have_it() {
        let name = |config: CookieConfig| config.resolved().name.into_owned();
        assert_eq!(name(CookieConfig::safe_defaults()), "__Host-id");
        let plain = CookieConfig {
            secure: false,
            ..CookieConfig::safe_defaults()
        };
        assert_eq!(name(plain), "id");
        let opted_out = CookieConfig {
            host_prefix: false,
            ..CookieConfig::safe_defaults()
        };
        assert_eq!(name(opted_out), "id");
        let shared = CookieConfig {
            domain: Some("example.com".into()),
            ..CookieConfig::safe_defaults()
        };
        assert_eq!(name(shared), "id");
    }

    /// Every string `Id::from_str` accepts is read to the same id, and every other is refused.
    #[test]
    fn the_removal_cookie_carries_the_attributes_of_the_cookie() {
        let removal = CookieConfig::safe_defaults()
            .resolved()
            .removal()
            .to_string();
        for part in [
            "__Host-id=;",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=0",
        ] {
            assert!(removal.contains(part), "{part} missing from {removal}");
        }
        let expiring = CookieConfig {
            expiry: Some(Expiry::OnInactivity(
                tower_sessions::cookie::time::Duration::hours(1),
            )),
            domain: Some("example.com".into()),
            ..CookieConfig::safe_defaults()
        };
        let cookie = expiring.cookie(Id::default(), expiring.expiry).to_string();
        assert!(cookie.contains("Max-Age=3600"), "{cookie}");
        assert!(cookie.contains("Domain=example.com"), "{cookie}");
    }
}
