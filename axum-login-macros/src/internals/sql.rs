//! SQL names in attributes: checked where they are written, so a typo or a stray quote is a
//! compile error on the string, not a query that fails (or, on SQLite, silently matches
//! nothing) at run time.

use syn::LitStr;

use super::Ctxt;

/// Whether `part` is a plain identifier: ASCII letters, digits and `_`, not starting with a
/// digit. Stricter than any one database, so that the same name works on all of them; the store
/// quotes it, so keywords are fine.
fn is_identifier(part: &str) -> bool {
    let mut chars = part.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Records an error on `lit` unless it is an identifier, or with `dotted`, `schema.name`.
pub(crate) fn check_identifier(lit: &LitStr, key: &str, dotted: bool, cx: &Ctxt) {
    let name = lit.value();
    let valid = if dotted {
        let parts: Vec<&str> = name.split('.').collect();
        parts.len() <= 2 && parts.iter().all(|part| is_identifier(part))
    } else {
        is_identifier(&name)
    };
    if valid {
        return;
    }
    let what = if dotted {
        "a table name, optionally with its schema (`users`, `auth.users`)"
    } else {
        "a column name (`email`, `user_id`)"
    };
    let quoted = name.contains(['"', '`', '[', ']', '\'']);
    let hint = if quoted {
        "; write it without quotes: the store quotes every name for its database"
    } else {
        ""
    };
    cx.error_spanned_by(
        lit,
        format!(
            "`{key}` must be {what}: ASCII letters, digits and `_`, not starting with a digit{hint}"
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::is_identifier;

    #[test]
    fn identifiers() {
        for good in ["users", "_x", "user_id", "T2", "select"] {
            assert!(is_identifier(good), "{good}");
        }
        for bad in [
            "",
            "2fa",
            "user id",
            "users;",
            "\"users\"",
            "a-b",
            "é",
            "a.b",
        ] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }
}
