//! Safe redirects: validating `next` and building the login URL.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// The longest `next` that [`safe_next`] accepts, in bytes.
pub const MAX_NEXT_LEN: usize = 2048;

/// Returns `next` if it is a path on this site, and `None` for anything that could send the
/// browser elsewhere.
///
/// Accepted: an absolute path (`/a/b?c=d#e`) made of the characters RFC 3986 allows unencoded
/// in a URL, at most [`MAX_NEXT_LEN`] bytes. Refused: absolute URLs (`https://evil.example`),
/// scheme-relative URLs (`//evil.example`), backslash forms that browsers read as slashes
/// (`/\evil.example`), other schemes (`javascript:alert(1)`), relative paths, whitespace and
/// control characters (browsers strip tabs and newlines, turning `/\t/evil.example` into
/// `//evil.example`), non-ASCII characters, the ASCII characters a URL must percent-encode
/// (`"`, `<`, `>`, `` ` ``, `{`, `}`, `|`, `^`, `\`, and a `%` that does not start a `%XX`
/// escape), and percent-encoded forms of the redirects above.
///
/// So an accepted `next` cannot end a double-quoted HTML attribute or open a tag, and can be
/// put into `value="..."` or `href="..."` as it is. It is not HTML-escaped in general: it may
/// hold `'` and `&`, so a page that writes it anywhere else (a single-quoted attribute, text,
/// a script) escapes it as it escapes any other text, and every page should escape it anyway.
///
/// ```
/// use axum_login::safe_next;
///
/// assert_eq!(safe_next("/admin?tab=users"), Some("/admin?tab=users"));
/// assert_eq!(safe_next("//evil.example"), None);
/// assert_eq!(safe_next("/\\evil.example"), None);
/// assert_eq!(safe_next("https://evil.example/"), None);
/// assert_eq!(safe_next("/%2F%2Fevil.example"), None);
/// assert_eq!(safe_next("/\"><script>alert(1)</script>"), None);
/// assert_eq!(safe_next("/search?q=%22quoted%22"), Some("/search?q=%22quoted%22"));
/// ```
pub fn safe_next(next: &str) -> Option<&str> {
    if next.len() > MAX_NEXT_LEN || !is_local_path(next.as_bytes()) || leads_elsewhere(next) {
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
        if !is_local_decoded(&decoded) || leads_elsewhere(&decoded) {
            return None;
        }
        current = decoded;
    }
    // Encoded more than four times over: nothing legitimate looks like that.
    None
}

/// Whether the path of `text`, once its dot segments are resolved as a browser resolves them
/// (the WHATWG URL standard), starts with `//`: `/.//evil.example` and `/a/..//evil.example` are
/// the path `//evil.example`, which a page or server reading the path can mistake for a host.
/// `%2e` counts as a dot, as browsers count it.
fn leads_elsewhere(text: &str) -> bool {
    let path = text.split(['?', '#']).next().unwrap_or("");
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let is_dot = |segment: &str| segment == "." || segment.eq_ignore_ascii_case("%2e");
    let is_dot_dot = |segment: &str| {
        matches!(segment.len(), 2 | 4 | 6)
            && segment.to_ascii_lowercase().replace("%2e", ".").eq("..")
    };
    let mut resolved: Vec<&str> = Vec::new();
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        if is_dot_dot(segment) {
            resolved.pop();
        } else if !is_dot(segment) {
            resolved.push(segment);
            continue;
        }
        // A dot segment at the end leaves the path ending in `/`: an empty last segment.
        if last {
            resolved.push("");
        }
    }
    // The path is `/` followed by the segments joined with `/`: it starts with `//` exactly
    // when the first segment is empty and another follows it.
    resolved.len() > 1 && resolved[0].is_empty()
}

/// The raw form: an absolute path of the characters RFC 3986 allows unencoded, not starting
/// with `//`.
fn is_local_path(bytes: &[u8]) -> bool {
    match bytes {
        [b'/', b'/', ..] => false,
        [b'/', rest @ ..] => is_url_text(rest),
        _ => false,
    }
}

/// Whether `bytes` are all characters RFC 3986 allows in a URL as they are (unreserved,
/// reserved, and `%` followed by two hex digits). What it leaves out (`"`, `<`, `>`, the
/// backtick, `\`, `{`, `}`, `|`, `^`, space, controls, non-ASCII) takes in what could end an
/// HTML attribute or start a tag.
fn is_url_text(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while let [first, tail @ ..] = rest {
        match first {
            b'%' => match tail {
                [high, low, after @ ..] if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                    rest = after;
                    continue;
                }
                _ => return false,
            },
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => {}
            b'-' | b'.' | b'_' | b'~' => {}
            b':' | b'/' | b'?' | b'#' | b'[' | b']' | b'@' => {}
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => {}
            _ => return false,
        }
        rest = tail;
    }
    true
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
            "/a/../b",
            "/./a",
            "/a/.",
            "/a?x=/.//evil.example",
            "/../a",
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
            "/.//evil.example",
            "/%2e//evil.example",
            "/%2E%2E//evil.example",
            "/%2e%2e//evil.example",
            "/a/..//evil.example",
            "/a/b/../..//evil.example",
            "/..//evil.example",
            "/.%2e//evil.example",
            "/%252e%252e//evil.example",
            "/.//.",
        ];
        for payload in payloads {
            assert_eq!(safe_next(payload), None, "accepted {payload:?}");
        }
    }

    #[test]
    fn characters_a_url_must_encode_are_refused() {
        for payload in [
            "/\"><script>alert(1)</script>",
            "/a\"onmouseover=alert(1)",
            "/<img src=x onerror=alert(1)>",
            "/a>b",
            "/a`b",
            "/a{b}",
            "/a|b",
            "/a^b",
            "/a b",
            "/100%",
            "/a%2",
            "/a%zz",
            "/a?x=%",
        ] {
            assert_eq!(safe_next(payload), None, "accepted {payload:?}");
        }
        // Their encoded forms are ordinary URL text, and so are the characters RFC 3986
        // reserves.
        for path in [
            "/a%22b%3Cc%3E",
            "/a?b=%60",
            "/a!$&'()*+,;=:@b",
            "/a?x=[1]",
            "/~user/a_b-c.d",
        ] {
            assert_eq!(safe_next(path), Some(path), "{path}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// Whatever it is given, what `safe_next` accepts can go between the quotes of a
        /// double-quoted attribute without ending it or opening a tag.
        #[test]
        fn nothing_accepted_can_leave_a_double_quoted_attribute(
            next in "/[ -~\\t\\n\\x00\\u{80}-\\u{10FFFF}]{0,40}",
        ) {
            if let Some(accepted) = safe_next(&next) {
                proptest::prop_assert!(
                    !accepted.contains(['"', '<', '>', '`']),
                    "accepted {accepted:?}"
                );
            }
        }

        /// The same over text made only of the characters that matter most, so that
        /// acceptable paths around them are common.
        #[test]
        fn nothing_accepted_holds_quotes_or_angle_brackets(
            next in "/[a-z/%2e\"<>'`=?&]{0,20}",
        ) {
            if let Some(accepted) = safe_next(&next) {
                proptest::prop_assert!(
                    !accepted.contains(['"', '<', '>', '`']),
                    "accepted {accepted:?}"
                );
            }
        }
    }

    #[test]
    fn only_dot_segments_are_resolved_away() {
        // Segments as long as `..` or its encoded forms, but not dots: they stay, so what
        // follows them is not a host.
        for path in ["/ab//c", "/a%2e//c", "/abcdef//c"] {
            assert_eq!(safe_next(path), Some(path), "{path}");
        }
    }

    #[test]
    fn scheme_relative_urls_whose_path_resolves_away_are_refused() {
        // `//..` is the host `..`; its path resolving to `/` must not make it local, raw or
        // once decoded.
        for payload in ["//..", "//%2e%2e", "/%2F..", "/%2f%2e%2e"] {
            assert_eq!(safe_next(payload), None, "accepted {payload:?}");
        }
    }

    #[test]
    fn a_percent_needs_two_hex_digits() {
        for payload in ["/a%2z", "/a%z2", "/a?b=%g0"] {
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
