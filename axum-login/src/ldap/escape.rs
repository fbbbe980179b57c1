//! Escaping of values that go into search filters (RFC 4515) and DNs (RFC 4514), and the
//! placeholder templates of the configuration.

use std::fmt::Write as _;

/// Escapes `value` for use as an assertion value in an LDAP search filter (RFC 4515), so it
/// matches itself and nothing else: `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`, `\29`,
/// `\5c` and `\00`. Other control characters are escaped too, so a filter never carries a raw
/// one.
///
/// ```
/// use axum_login::ldap::escape_filter_value;
///
/// assert_eq!(escape_filter_value("ferris"), "ferris");
/// assert_eq!(escape_filter_value("*"), r"\2a");
/// assert_eq!(escape_filter_value("a)(uid=*"), r"a\29\28uid=\2a");
/// ```
pub fn escape_filter_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' | '(' | ')' | '\\' => push_hex(&mut escaped, c),
            c if c.is_ascii_control() => push_hex(&mut escaped, c),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Escapes `value` for use as an attribute value in a DN (RFC 4514), so it stays one value of
/// one RDN: `,`, `+`, `"`, `\`, `<`, `>`, `;`, `=`, NUL and other control characters anywhere,
/// `#` and space at the start, and space at the end become `\xx` hex pairs.
///
/// ```
/// use axum_login::ldap::escape_dn_value;
///
/// assert_eq!(escape_dn_value("ferris"), "ferris");
/// assert_eq!(escape_dn_value("a,ou=admins"), r"a\2cou\3dadmins");
/// assert_eq!(escape_dn_value(" #x "), r"\20#x\20");
/// ```
pub fn escape_dn_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || c.is_ascii_control()
            || (i == 0 && matches!(c, ' ' | '#'))
            || (i == last && c == ' ');
        if special {
            push_hex(&mut escaped, c);
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// Appends `\xx` for an ASCII character.
fn push_hex(out: &mut String, c: char) {
    // Only ASCII characters are escaped here, so one byte each.
    let _ = write!(out, "\\{:02x}", c as u32);
}

/// Replaces each placeholder of `template` by its value in one pass over the template, so a
/// value that itself contains a placeholder is never replaced again.
pub(crate) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    'scan: while !rest.is_empty() {
        for (placeholder, value) in values {
            if let Some(after) = rest.strip_prefix(placeholder) {
                out.push_str(value);
                rest = after;
                continue 'scan;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// A DN reduced for comparison: ASCII case folded and the spaces around `,`, `=` and `+`
/// removed, so `cn=Admins, ou=Groups` and `cn=admins,ou=groups` compare equal. Escaped
/// characters are kept as they are.
pub(crate) fn normalize_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    // Where the last escaped character ends: an escaped space is never trimmed.
    let mut kept = 0;
    let mut chars = dn.trim_start().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push('\\');
                if let Some(next) = chars.next() {
                    out.push(next.to_ascii_lowercase());
                }
                kept = out.len();
            }
            ',' | '=' | '+' => {
                while out.len() > kept && out.ends_with(' ') {
                    out.pop();
                }
                out.push(c);
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
            }
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    while out.len() > kept && out.ends_with(' ') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_match_only_themselves() {
        assert_eq!(escape_filter_value("ferris"), "ferris");
        assert_eq!(escape_filter_value("*"), r"\2a");
        assert_eq!(escape_filter_value("fer*"), r"fer\2a");
        assert_eq!(escape_filter_value(")(uid=*"), r"\29\28uid=\2a");
        assert_eq!(escape_filter_value(r"a\2a"), r"a\5c2a");
        assert_eq!(escape_filter_value("a\0b"), r"a\00b");
        assert_eq!(escape_filter_value("a\nb\x7f"), r"a\0ab\7f");
        assert_eq!(escape_filter_value("jürgen"), "jürgen");
        assert_eq!(escape_filter_value(""), "");
    }

    #[test]
    fn escaped_filters_parse_and_keep_one_assertion() {
        for hostile in [
            "*",
            ")(uid=*",
            "a)(|(uid=*",
            r"\",
            "\0",
            "(",
            "x)(objectClass=*",
        ] {
            let filter = format!("(uid={})", escape_filter_value(hostile));
            ldap3::parse_filter(&filter).unwrap_or_else(|error| panic!("{filter}: {error:?}"));
            assert!(!filter[5..filter.len() - 1].contains(['(', ')', '*']));
        }
    }

    #[test]
    fn dn_values_stay_one_value() {
        assert_eq!(escape_dn_value("ferris"), "ferris");
        assert_eq!(escape_dn_value("a,ou=admins"), r"a\2cou\3dadmins");
        assert_eq!(escape_dn_value("a+cn=b"), r"a\2bcn\3db");
        assert_eq!(escape_dn_value(r#""q"\;<>"#), r"\22q\22\5c\3b\3c\3e");
        assert_eq!(escape_dn_value("#lead"), r"\23lead");
        assert_eq!(escape_dn_value("mid#dle"), "mid#dle");
        assert_eq!(escape_dn_value(" both "), r"\20both\20");
        assert_eq!(escape_dn_value("in side"), "in side");
        assert_eq!(escape_dn_value(" "), r"\20");
        assert_eq!(escape_dn_value("nul\0"), r"nul\00");
        assert_eq!(escape_dn_value("jürgen"), "jürgen");
    }

    #[test]
    fn templates_are_filled_once() {
        assert_eq!(
            fill("uid={},ou=people", &[("{}", "ferris")]),
            "uid=ferris,ou=people"
        );
        assert_eq!(fill("(|(a={})(b={}))", &[("{}", "x")]), "(|(a=x)(b=x))");
        // A value holding a placeholder is not filled again.
        assert_eq!(
            fill(
                "(&(member={dn})(memberUid={uid}))",
                &[("{dn}", "cn={uid}"), ("{uid}", "u")]
            ),
            "(&(member=cn={uid})(memberUid=u))"
        );
        assert_eq!(fill("é{}ü", &[("{}", "x")]), "éxü");
    }

    #[test]
    fn dns_compare_without_case_and_spaces() {
        assert_eq!(
            normalize_dn(" cn=Admins, ou=Groups ,dc=Example,dc=test "),
            "cn=admins,ou=groups,dc=example,dc=test"
        );
        assert_eq!(normalize_dn("cn = a + sn = b"), "cn=a+sn=b");
        assert_eq!(normalize_dn(r"cn=a\, B,dc=x"), r"cn=a\, b,dc=x");
        assert_eq!(normalize_dn(r"cn=a\ , dc=x"), r"cn=a\ ,dc=x");
        assert_eq!(normalize_dn(r"cn=a\ "), r"cn=a\ ");
        assert_ne!(normalize_dn("cn=a,dc=x"), normalize_dn("cn=b,dc=x"));
    }
}
