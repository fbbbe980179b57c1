//! The policy grammar shared by `#[require_login(...)]` and `require!(...)`.

use proc_macro2::{Span, TokenStream};
use syn::{
    Expr, ExprLit, Lit, LitStr, Token, meta::ParseNestedMeta, parse::Parser, spanned::Spanned,
};

use crate::internals::{Ctxt, key_of, parse_crate_path, skip_value, unknown_key};

const CONDITIONS: &[&str] = &["role", "permission", "scope", "any", "all", "not", "check"];
const OPTIONS: &[&str] = &[
    "fresh",
    "mfa",
    "fresh_mfa",
    "redirect",
    "redirect_field",
    "session_only",
    "token_only",
    "verified",
];

/// A condition on the logged-in user; each leaf keeps the key it was written with, for errors.
#[derive(Clone)]
pub(crate) enum Cond {
    /// `role = Role::Admin` or `role = "admin"`.
    Role(Expr),
    /// `permission = Perm::PostsWrite` or `permission = "posts.write"`.
    Permission(Expr),
    /// `scope = "posts:write"`: an API token that carries it, or a session.
    Scope(LitStr),
    Check(Expr),
    Any(Vec<Cond>),
    All(Vec<Cond>),
    Not(Box<Cond>),
}

/// Where an anonymous browser goes, overriding the layer.
pub(crate) enum Redirect {
    To(LitStr),
    Off,
}

/// Everything between the parentheses.
#[derive(Default)]
pub(crate) struct Args {
    /// All of these must hold.
    pub(crate) conds: Vec<Cond>,
    pub(crate) redirect: Option<Redirect>,
    pub(crate) redirect_field: Option<LitStr>,
    /// Maximum age of the login, in seconds.
    pub(crate) fresh: Option<u64>,
    /// A second factor is required: `Some(None)` at any time since login, `Some(Some(s))`
    /// within `s` seconds.
    pub(crate) mfa: Option<Option<u64>>,
    /// `fresh_mfa = "10m"`: a login at most this many seconds old and, for a user who has a
    /// second factor, one completed within as long.
    pub(crate) fresh_mfa: Option<u64>,
    /// `session_only` or `token_only`, with where it was written.
    pub(crate) via: Option<(Via, Span)>,
    /// `verified`: the user's email address must be confirmed.
    pub(crate) verified: bool,
    /// `crate = "..."`: the runtime crate under another name.
    pub(crate) krate: Option<syn::Path>,
}

/// Which logins a guard takes, when not either.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Session,
    Token,
}

impl Args {
    /// The path of the runtime crate in the generated code.
    pub(crate) fn krate(&self) -> syn::Path {
        self.krate
            .clone()
            .unwrap_or_else(|| syn::parse_quote!(::axum_login))
    }

    pub(crate) fn has_options(&self) -> bool {
        self.redirect.is_some()
            || self.redirect_field.is_some()
            || self.fresh.is_some()
            || self.mfa.is_some()
            || self.fresh_mfa.is_some()
            || self.via.is_some()
            || self.verified
    }
}

/// Parses the arguments, recording every mistake in `cx`.
pub(crate) fn parse(args: TokenStream, macro_name: &str, cx: &Ctxt) -> Args {
    // How the user wrote the macro, for error messages.
    let attr = if macro_name == "require" {
        "require!(...)".to_owned()
    } else {
        format!("#[{macro_name}(...)]")
    };
    let mut out = Args::default();
    let mut seen_options: Vec<String> = Vec::new();
    let parser = syn::meta::parser(|meta| {
        let key = key_of(&meta);
        if key == "crate" {
            if out.krate.is_some() {
                cx.error_spanned_by(&meta.path, "duplicate key `crate`; give it once");
                return skip_value(&meta);
            }
            match parse_crate_path(&meta, macro_name) {
                Ok(path) => out.krate = Some(path),
                Err(error) => cx.syn_error(error),
            }
            return Ok(());
        }
        if OPTIONS.contains(&key.as_str()) {
            if seen_options.contains(&key) {
                cx.error_spanned_by(&meta.path, format!("duplicate key `{key}`; give it once"));
                return skip_value(&meta);
            }
            seen_options.push(key.clone());
            return parse_option(&meta, &key, &mut out, &attr, cx);
        }
        if let Some(cond) = parse_cond(&meta, &key, &attr, None, cx)? {
            out.conds.push(cond);
        }
        Ok(())
    });
    if let Err(error) = parser.parse2(args) {
        cx.syn_error(error);
    }
    if let Some((Via::Token, span)) = out.via {
        let asked = [
            (out.fresh.is_some(), "fresh"),
            (out.mfa.is_some(), "mfa"),
            (out.fresh_mfa.is_some(), "fresh_mfa"),
        ];
        if let Some((_, key)) = asked.iter().find(|(set, _)| *set) {
            cx.error_at(
                span,
                format!("`token_only` with `{key}` refuses every request: an API token is never a fresh login and never passed a second factor; remove one of them"),
            );
        }
    }
    if let (Some(Redirect::Off), Some(field)) = (&out.redirect, &out.redirect_field) {
        cx.error_spanned_by(
            field,
            "`redirect_field` has no effect with `redirect = false`, which sends no one to a login page; remove one of them",
        );
    }
    out
}

fn all_keys() -> Vec<&'static str> {
    CONDITIONS
        .iter()
        .chain(OPTIONS)
        .chain(&["crate"])
        .copied()
        .collect()
}

fn value_expr(
    meta: &ParseNestedMeta<'_>,
    key: &str,
    example: &str,
    cx: &Ctxt,
) -> syn::Result<Option<Expr>> {
    if meta.input.peek(Token![=]) {
        return Ok(Some(meta.value()?.parse()?));
    }
    cx.error_spanned_by(&meta.path, format!("`{key}` needs a value: `{example}`"));
    skip_value(meta)?;
    Ok(None)
}

/// `group` is the `any`, `all` or `not` that the condition is written in, the nearest `any` or
/// `not` when there is one (what an option there would change the meaning of).
fn parse_cond(
    meta: &ParseNestedMeta<'_>,
    key: &str,
    attr: &str,
    group: Option<&str>,
    cx: &Ctxt,
) -> syn::Result<Option<Cond>> {
    match key {
        "role" => {
            let Some(value) = value_expr(meta, key, "role = Role::Admin", cx)? else {
                return Ok(None);
            };
            match &value {
                Expr::Path(_) => Ok(Some(Cond::Role(value))),
                Expr::Lit(ExprLit {
                    lit: Lit::Str(lit), ..
                }) if lit.value().trim().is_empty() => {
                    cx.error_spanned_by(
                        lit,
                        "`role = \"\"` names no role; write the role's variant, `role = Role::Admin` (checked when this compiles), or its name, `role = \"admin\"`",
                    );
                    Ok(None)
                }
                Expr::Lit(ExprLit {
                    lit: Lit::Str(_), ..
                }) => Ok(Some(Cond::Role(value))),
                _ => {
                    cx.error_spanned_by(
                        &value,
                        "`role` expects a variant of an enum that derives `Role`, `role = Role::Admin`, or a role's name, `role = \"admin\"`",
                    );
                    Ok(None)
                }
            }
        }
        "permission" => {
            let Some(value) = value_expr(meta, key, "permission = Perm::PostsWrite", cx)? else {
                return Ok(None);
            };
            match &value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(lit), ..
                }) if lit.value().trim().is_empty() => {
                    cx.error_spanned_by(
                        lit,
                        "`permission = \"\"` names no permission; write its name, `permission = \"posts.write\"`, or its variant, `permission = Perm::PostsWrite`",
                    );
                    Ok(None)
                }
                Expr::Path(_)
                | Expr::Lit(ExprLit {
                    lit: Lit::Str(_), ..
                }) => Ok(Some(Cond::Permission(value))),
                _ => {
                    cx.error_spanned_by(
                        &value,
                        "`permission` expects a variant of an enum that derives `Permission` (`permission = Perm::PostsWrite`) or a string (`permission = \"posts.write\"`)",
                    );
                    Ok(None)
                }
            }
        }
        "scope" => {
            let Some(value) = value_expr(meta, key, "scope = \"posts:write\"", cx)? else {
                return Ok(None);
            };
            match &value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(lit), ..
                }) if valid_scope(&lit.value()) => Ok(Some(Cond::Scope(lit.clone()))),
                _ => {
                    cx.error_spanned_by(
                        &value,
                        "`scope` expects a string of 1 to 100 of the characters A-Z a-z 0-9 : . _ -, e.g. `scope = \"posts:write\"`",
                    );
                    Ok(None)
                }
            }
        }
        "check" => {
            let Some(value) = value_expr(meta, key, "check = path::to::async_fn", cx)? else {
                return Ok(None);
            };
            if let Expr::Path(_) = &value {
                Ok(Some(Cond::Check(value)))
            } else {
                cx.error_spanned_by(
                    &value,
                    "`check` expects the path of an async fn, e.g. `check = is_owner`",
                );
                Ok(None)
            }
        }
        "any" | "all" | "not" => parse_group(meta, key, attr, group, cx),
        // Moved to the top level, these would be asked of every request: an "and" where
        // `any` said "or", or the opposite of what `not` said.
        "mfa" | "fresh" if matches!(group, Some("any" | "not")) => {
            let what = if key == "mfa" {
                "a second factor"
            } else {
                "a recent login"
            };
            let message = if group == Some("any") {
                format!(
                    "`{key}` cannot be one option of `any(...)`: it applies to the whole guard, so written at the top level it would be asked of every request (an \"and\", not an \"or\"); to accept {what} as one option, write that option as a check: `check = path::to::async_fn`"
                )
            } else {
                format!(
                    "`{key}` cannot be negated with `not(...)`: it applies to the whole guard and only asks for {what}; to refuse requests by how the user logged in, write a check: `check = path::to::async_fn`"
                )
            };
            cx.error_spanned_by(&meta.path, message);
            skip_value(meta)?;
            Ok(None)
        }
        _ if OPTIONS.contains(&key) || key == "crate" => {
            cx.error_spanned_by(
                &meta.path,
                format!("`{key}` applies to the whole guard; move it out of `any`/`all`/`not` to the top level"),
            );
            skip_value(meta)?;
            Ok(None)
        }
        _ => {
            unknown_key(meta, key, attr, None, &all_keys(), cx)?;
            Ok(None)
        }
    }
}

fn parse_group(
    meta: &ParseNestedMeta<'_>,
    key: &str,
    attr: &str,
    group: Option<&str>,
    cx: &Ctxt,
) -> syn::Result<Option<Cond>> {
    // An `any` or `not` outside this group still decides what an option inside would mean.
    let inner_group = match (key, group) {
        ("all", Some(outer)) => Some(outer),
        _ => Some(match key {
            "not" => "not",
            "any" => "any",
            _ => "all",
        }),
    };
    let example = match key {
        "not" => "not(role = Role::Viewer)",
        "all" => "all(role = Role::Editor, permission = \"posts.write\")",
        _ => "any(role = Role::Editor, permission = \"posts.write\")",
    };
    if !meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(
            &meta.path,
            format!("`{key}` takes a list of conditions: `{example}`"),
        );
        skip_value(meta)?;
        return Ok(None);
    }
    let content;
    syn::parenthesized!(content in meta.input);
    let tokens: TokenStream = content.parse()?;
    let mut inner = Vec::new();
    let mut mistakes = false;
    if !tokens.is_empty() {
        let parser = syn::meta::parser(|nested| {
            let nested_key = key_of(&nested);
            match parse_cond(&nested, &nested_key, attr, inner_group, cx)? {
                Some(cond) => inner.push(cond),
                None => mistakes = true,
            }
            Ok(())
        });
        parser.parse2(tokens)?;
    }
    if mistakes {
        return Ok(None);
    }
    let span: Span = meta.path.span();
    match (key, inner.len()) {
        (_, 0) => {
            cx.error_at(
                span,
                format!("`{key}()` is empty; give it at least one condition: `{example}`"),
            );
            Ok(None)
        }
        ("not", 1) => Ok(inner.pop().map(|cond| Cond::Not(Box::new(cond)))),
        ("not", n) => {
            cx.error_at(
                span,
                format!("`not` takes exactly one condition, got {n}; to forbid any of several, write `not(any(...))`"),
            );
            Ok(None)
        }
        ("any", _) => Ok(Some(Cond::Any(inner))),
        _ => Ok(Some(Cond::All(inner))),
    }
}

/// `attr` is the macro as the user wrote it, `#[require_login(...)]` or `require!(...)`.
fn parse_option(
    meta: &ParseNestedMeta<'_>,
    key: &str,
    out: &mut Args,
    attr: &str,
    cx: &Ctxt,
) -> syn::Result<()> {
    if key == "verified" {
        if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
            cx.error_spanned_by(
                &meta.path,
                "`verified` takes no value: write `verified` alone to require a confirmed email address",
            );
            return skip_value(meta);
        }
        out.verified = true;
        return Ok(());
    }
    if key == "session_only" || key == "token_only" {
        if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
            cx.error_spanned_by(
                &meta.path,
                format!("`{key}` takes no value: write `{key}` alone"),
            );
            return skip_value(meta);
        }
        let via = if key == "token_only" {
            Via::Token
        } else {
            Via::Session
        };
        if out.via.is_some_and(|(other, _)| other != via) {
            cx.error_spanned_by(
                &meta.path,
                "`session_only` and `token_only` together refuse every request; keep one",
            );
            return Ok(());
        }
        out.via = Some((via, meta.path.span()));
        return Ok(());
    }
    let example = match key {
        "fresh" => "fresh = \"15m\"",
        "mfa" => "mfa = \"10m\"",
        "fresh_mfa" => "fresh_mfa = \"10m\"",
        "redirect" => "redirect = \"/login\"",
        _ => "redirect_field = \"next\"",
    };
    if meta.input.peek(syn::token::Paren) {
        let message = if key == "mfa" {
            "`mfa` takes no list: write `mfa` alone to require a second factor, or `mfa = \"10m\"` for one completed within the last 10 minutes".to_owned()
        } else {
            format!("`{key}` takes a value, not a list: `{example}`")
        };
        cx.error_spanned_by(&meta.path, message);
        return skip_value(meta);
    }
    // A bare `mfa`: a second factor at any time since login.
    if key == "mfa" && !meta.input.peek(Token![=]) {
        out.mfa = Some(None);
        return Ok(());
    }
    // Unlike `mfa`, a bare `fresh` would ask nothing: every login is fresh at some age.
    if key == "fresh" && !meta.input.peek(Token![=]) {
        cx.error_spanned_by(
            &meta.path,
            "`fresh` needs the longest age a login may have: `fresh = \"15m\"`; unlike `mfa`, which alone asks for a second factor at any time since login, `fresh` alone would ask nothing, since every login is fresh at some age",
        );
        return skip_value(meta);
    }
    let Some(value) = value_expr(meta, key, example, cx)? else {
        return Ok(());
    };
    match (key, &value) {
        (
            "fresh",
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }),
        ) => match parse_duration(&lit.value(), "fresh") {
            Ok(seconds) => out.fresh = Some(seconds),
            Err(message) => cx.error_spanned_by(lit, message),
        },
        (
            "mfa",
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }),
        ) => match parse_duration(&lit.value(), "mfa") {
            Ok(seconds) => out.mfa = Some(Some(seconds)),
            Err(message) => cx.error_spanned_by(lit, message),
        },
        (
            "fresh_mfa",
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }),
        ) => match parse_duration(&lit.value(), "fresh_mfa") {
            Ok(seconds) => out.fresh_mfa = Some(seconds),
            Err(message) => cx.error_spanned_by(lit, message),
        },
        (
            "mfa",
            Expr::Lit(ExprLit {
                lit: Lit::Bool(flag),
                ..
            }),
        ) => cx.error_spanned_by(
            flag,
            if flag.value {
                "write `mfa` alone to require a second factor (or `mfa = \"10m\"` for one completed within 10 minutes), not `mfa = true`"
            } else {
                "`mfa = false` is the default; remove it"
            },
        ),
        (
            "redirect",
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }),
        ) => {
            let path = lit.value();
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && path.bytes().all(|b| b.is_ascii_graphic())
            {
                out.redirect = Some(Redirect::To(lit.clone()));
            } else {
                cx.error_spanned_by(
                    lit,
                    format!("`redirect` must be a local path such as \"/login\" (starting with one `/`), got \"{path}\"; to answer with a bare 401 instead, write `redirect = false`"),
                );
            }
        }
        (
            "redirect",
            Expr::Lit(ExprLit {
                lit: Lit::Bool(flag),
                ..
            }),
        ) => {
            if flag.value {
                cx.error_spanned_by(
                    flag,
                    "`redirect = true` is the default; remove it, or give the login path: `redirect = \"/login\"`",
                );
            } else {
                out.redirect = Some(Redirect::Off);
            }
        }
        (
            "redirect_field",
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }),
        ) => {
            let field = lit.value();
            if !field.is_empty()
                && field
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                out.redirect_field = Some(lit.clone());
            } else {
                cx.error_spanned_by(
                    lit,
                    "`redirect_field` must be a query parameter name made of letters, digits, `-`, `_` or `.`, e.g. \"next\"",
                );
            }
        }
        _ => cx.error_spanned_by(&value, format!("expected `{example}` in {attr}")),
    }
    Ok(())
}

/// Whether `scope` is one an API token can carry: 1 to 100 of `A-Za-z0-9:._-` (a subset of
/// RFC 6750's scope characters, so it goes into a `WWW-Authenticate` header as it is).
fn valid_scope(scope: &str) -> bool {
    (1..=100).contains(&scope.len())
        && scope
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":._-".contains(&b))
}

/// `"15m"`, `"30s"`, `"2h"`, `"1d"`, `"1h30m"` as seconds; `key` names the option in errors.
pub(crate) fn parse_duration(text: &str, key: &str) -> Result<u64, String> {
    let invalid = || {
        format!(
            "invalid duration \"{text}\"; write a number and a unit (`s`, `m`, `h` or `d`): \"30s\", \"15m\", \"2h\", \"1d\", or combined like \"1h30m\""
        )
    };
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut any_unit = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(invalid()),
        };
        let number: u64 = digits.parse().map_err(|_| invalid())?;
        total = number
            .checked_mul(unit)
            .and_then(|seconds| total.checked_add(seconds))
            .ok_or_else(invalid)?;
        digits.clear();
        any_unit = true;
    }
    if !digits.is_empty() || !any_unit {
        return Err(invalid());
    }
    if total == 0 {
        let what = if key == "mfa" {
            "since the second factor"
        } else {
            "a login may have"
        };
        return Err(format!(
            "`{key} = \"{text}\"` is zero; give the longest age {what}, e.g. \"15m\""
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s", "fresh"), Ok(30));
        assert_eq!(parse_duration("15m", "fresh"), Ok(900));
        assert_eq!(parse_duration("2h", "mfa"), Ok(7200));
        assert_eq!(parse_duration("1d", "fresh"), Ok(86_400));
        assert_eq!(parse_duration("1h30m", "fresh"), Ok(5400));
    }

    #[test]
    fn bad_durations_are_refused() {
        for bad in [
            "",
            "15",
            "m",
            "15 minutes",
            "-5m",
            "1.5h",
            "0s",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad, "fresh").is_err(), "{bad}");
        }
    }
}
