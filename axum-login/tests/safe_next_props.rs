//! Property tests for `safe_next`: whatever it accepts stays on this site, however a browser or
//! a decoding proxy reads it.

use axum_login::safe_next;
use proptest::prelude::*;
use url::Url;

const BASE: &str = "https://app.example/account/login";

/// Whether a browser following `next` from the login page stays on this site: the same origin,
/// and a path that, with its dot segments resolved (the WHATWG URL parser does it, as browsers
/// do), does not start with `//`, which a page or server reading the path would take for a
/// host.
fn resolves_to_same_origin(next: &str) -> bool {
    let base = Url::parse(BASE).expect("base parses");
    match base.join(next) {
        Ok(target) => target.origin() == base.origin() && !target.path().starts_with("//"),
        Err(_) => false,
    }
}

/// Strings built from the pieces that open-redirect payloads are made of.
fn payload() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "/",
        "//",
        "\\",
        "%2F",
        "%2f",
        "%5C",
        "%5c",
        "%25",
        "%252F",
        "%09",
        "%0A",
        "%0D",
        "%00",
        "\t",
        "\n",
        "\r",
        " ",
        "\u{0}",
        "\u{7f}",
        "@",
        ":",
        "http:",
        "https:",
        "javascript:",
        "evil.example",
        ".",
        "..",
        "%2e",
        "%2E",
        "%252e",
        "./",
        "/.",
        "/..",
        "?",
        "#",
        "&",
        "=",
        "a",
        "b1",
        "\u{FF0F}",
        "\u{2215}",
        "é",
        "%E2%80%A8",
        "%C0%AF",
        "\u{200B}",
    ]);
    prop::collection::vec(pieces, 0..8).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn accepted_payloads_stay_on_this_site(input in payload()) {
        if let Some(next) = safe_next(&input) {
            prop_assert_eq!(next, input.as_str(), "safe_next returns its input unchanged");
            prop_assert!(resolves_to_same_origin(next), "{:?} leaves the site", next);
            // A proxy that percent-decodes before redirecting again must not leave either.
            let mut layer = next.to_owned();
            for _ in 0..4 {
                let decoded = percent_encoding::percent_decode_str(&layer)
                    .decode_utf8_lossy()
                    .into_owned();
                prop_assert!(
                    !decoded.starts_with("//") && !decoded.contains('\\'),
                    "{:?} decodes to {:?}", next, decoded
                );
                prop_assert!(resolves_to_same_origin(&decoded), "{:?} decodes to {:?}", next, decoded);
                layer = decoded;
            }
        }
    }

    #[test]
    fn arbitrary_strings_never_leave_the_site(input in any::<String>()) {
        if let Some(next) = safe_next(&input) {
            prop_assert!(resolves_to_same_origin(next), "{:?} leaves the site", next);
        }
    }

    #[test]
    fn plain_paths_are_accepted(segments in prop::collection::vec("[a-zA-Z0-9_.~-]{1,12}", 1..6),
                                query in proptest::option::of("[a-z]{1,8}=[a-z0-9]{0,8}")) {
        let mut path = format!("/{}", segments.join("/"));
        if let Some(query) = query {
            path.push('?');
            path.push_str(&query);
        }
        prop_assert_eq!(safe_next(&path), Some(path.as_str()));
    }
}
