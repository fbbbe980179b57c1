//! The session cookie of a [`session_layer`](crate::session_layer): its settings, the cookie
//! and removal cookie they make, and reading the session id from a request's `Cookie` header.

use std::borrow::Cow;

use axum::http::{HeaderMap, header};
use tower_sessions::{
    Expiry,
    cookie::{Cookie, SameSite, time::OffsetDateTime},
    session::Id,
};

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
        }
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

/// The value of the cookie called `name`, the last one when the request repeats it (as a
/// cookie jar would keep it), without surrounding double quotes.
///
/// A plain scan of `name=value; name=value` pairs: the session id needs no decoding, and a
/// full parse of every cookie (`cookie::Cookie::split_parse`) would cost a tenth of a cached
/// request.
pub(super) fn session_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = None;
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
                found = Some(pair[eq + 1..].trim_ascii());
            }
            start = end + 1;
        }
    }
    found.map(|value| {
        value
            .strip_prefix('"')
            .and_then(|inner| inner.strip_suffix('"'))
            .unwrap_or(value)
    })
}

/// The session id in a cookie value, exactly as tower-sessions' `Id::from_str` reads it
/// (22 characters of URL-safe base64 without padding, the 4 bits past the 16 bytes zero), with a
/// lookup table instead of a base64 engine; `None` for anything else.
pub(super) fn parse_id(value: &str) -> Option<Id> {
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
    use axum::http::HeaderValue;

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
    fn the_session_cookie_is_found_among_others_and_the_last_one_wins() {
        assert_eq!(
            session_cookie(&headers(&["a=1; id=abc; b=2"]), "id"),
            Some("abc")
        );
        assert_eq!(
            session_cookie(&headers(&["a=1", "id=x", "id=y"]), "id"),
            Some("y")
        );
        assert_eq!(session_cookie(&headers(&["ids=1; xid=2"]), "id"), None);
        assert_eq!(session_cookie(&headers(&[]), "id"), None);
        assert_eq!(session_cookie(&headers(&["id="]), "id"), Some(""));
        assert_eq!(
            session_cookie(&headers(&[" id = \"abc\" ;x"]), "id"),
            Some("abc")
        );
        assert_eq!(session_cookie(&headers(&["id; a=b"]), "id"), None);
        assert_eq!(session_cookie(&headers(&["a=id=1"]), "id"), None);
    }

    /// Every string `Id::from_str` accepts is read to the same id, and every other is refused.
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

    #[test]
    fn the_removal_cookie_carries_the_attributes_of_the_cookie() {
        let removal = CookieConfig::safe_defaults().removal().to_string();
        for part in [
            "id=;",
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
