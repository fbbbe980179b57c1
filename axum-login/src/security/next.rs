//! Safe redirects: validating `next` and building the login URL.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// The longest `next` that [`safe_next`] accepts, in bytes.
pub const MAX_NEXT_LEN: usize = 2048;

/// Returns `next` if it is a path on this site, and `None` for anything that could send the
/// browser elsewhere.
///
/// Accepted: an absolute path (`/a/b?c=d#e`) made of printable ASCII, at most
/// [`MAX_NEXT_LEN`] bytes. Refused: absolute URLs (`https://evil.example`), scheme-relative
/// URLs (`//evil.example`), backslash forms that browsers read as slashes (`/\evil.example`),
/// other schemes (`javascript:alert(1)`), relative paths, whitespace and control characters
/// (browsers strip tabs and newlines, turning `/\t/evil.example` into `//evil.example`),
/// non-ASCII characters, and percent-encoded forms of all of these.
///
/// ```
/// use axum_login::safe_next;
///
/// assert_eq!(safe_next("/admin?tab=users"), Some("/admin?tab=users"));
/// assert_eq!(safe_next("//evil.example"), None);
/// assert_eq!(safe_next("/\\evil.example"), None);
/// assert_eq!(safe_next("https://evil.example/"), None);
/// assert_eq!(safe_next("/%2F%2Fevil.example"), None);
/// ```
pub fn safe_next(next: &str) -> Option<&str> {
    if next.len() > MAX_NEXT_LEN || !is_local_path(next.as_bytes()) {
        return None;
    }
    // A server or proxy that decodes the path before redirecting again must not find a URL to
    // another site inside it either: check every layer of percent-encoding, up to a bound.
    let mut current = next.to_owned();
    for _ in 0..4 {
        let decoded = percent_decode_str(&current)
            .decode_utf8_lossy()
            .into_owned();
        if decoded == current {
            return Some(next);
        }
        if !is_local_decoded(&decoded) {
            return None;
        }
        current = decoded;
    }
    // Encoded more than four times over: nothing legitimate looks like that.
    None
}

/// The raw form: an absolute path of printable ASCII, not starting with `//` or `/\`.
fn is_local_path(bytes: &[u8]) -> bool {
    match bytes {
        [b'/', b'/' | b'\\', ..] => false,
        [b'/', rest @ ..] => rest.iter().all(|&b| b.is_ascii_graphic() && b != b'\\'),
        _ => false,
    }
}

/// A decoded layer: non-ASCII text and spaces are fine there (`%20` in a query is common);
/// slashes, backslashes and the invisible characters that browsers strip from URLs (which turn
/// `/\t/evil.example` into `//evil.example`) are not.
fn is_local_decoded(text: &str) -> bool {
    text.starts_with('/')
        && !text[1..].starts_with(['/', '\\'])
        && !text
            .chars()
            .any(|c| c == '\\' || c.is_control() || c == '\u{FFFD}')
}

/// Characters kept as they are in the `next` query value; everything else is percent-encoded.
const NEXT_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `login_url` with `field=next` appended to its query, `next` percent-encoded.
pub(crate) fn login_location(login_url: &str, field: &str, next: &str) -> String {
    let separator = if login_url.contains('?') { '&' } else { '?' };
    format!(
        "{login_url}{separator}{}={}",
        utf8_percent_encode(field, NEXT_VALUE),
        utf8_percent_encode(next, NEXT_VALUE)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_pass_unchanged() {
        for path in [
            "/",
            "/protected",
            "/a/b/c?x=1&y=2",
            "/search?q=a%20b",
            "/page#section",
            "/%E2%9C%93",
            "/:colon",
            "/@user",
            "/a//b",
            "/a?next=https://elsewhere.example",
        ] {
            assert_eq!(safe_next(path), Some(path), "{path}");
        }
    }

    #[test]
    fn open_redirect_payloads_are_refused() {
        let payloads = [
            "",
            "protected",
            "./protected",
            "../protected",
            "http://evil.example",
            "https://evil.example/path",
            "HTTPS://evil.example",
            "//evil.example",
            "//evil.example/path",
            "///evil.example",
            "////evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "\\/evil.example",
            "/\\/evil.example",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/ /evil.example",
            " /protected",
            "/protected ",
            "/\u{0}/evil.example",
            "/\u{7f}",
            "/%2F%2Fevil.example",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "/%5cevil.example",
            "/%09/evil.example",
            "/%0A/evil.example",
            "/%00",
            "/%252F%252Fevil.example",
            "/%25252F%25252Fevil.example",
            "%2F%2Fevil.example",
            "/\u{FF0F}evil.example",
            "/\u{2215}evil.example",
            "/\u{3000}",
            "/é",
            "/%FF",
            "/%C0%AF%C0%AFevil.example",
            "http:/evil.example",
            "http:\\\\evil.example",
            "//user:pass@evil.example",
            "https://trusted.example@evil.example",
            "/\\@evil.example",
        ];
        for payload in payloads {
            assert_eq!(safe_next(payload), None, "accepted {payload:?}");
        }
    }

    #[test]
    fn overlong_next_is_refused() {
        let long = format!("/{}", "a".repeat(MAX_NEXT_LEN));
        assert_eq!(safe_next(&long), None);
        let fits = format!("/{}", "a".repeat(MAX_NEXT_LEN - 1));
        assert_eq!(safe_next(&fits), Some(fits.as_str()));
    }

    #[test]
    fn login_location_encodes_next() {
        assert_eq!(
            login_location("/login", "next", "/protected"),
            "/login?next=%2Fprotected"
        );
        assert_eq!(
            login_location("/login?lang=en", "next", "/a?b=c&d=e"),
            "/login?lang=en&next=%2Fa%3Fb%3Dc%26d%3De"
        );
    }
}
