use syn::{LitStr, Token, meta::ParseNestedMeta};

use super::{Ctxt, did_you_mean, expected_one_of};

/// The key of `meta` as written: `role`, or `a::b` when it is a path.
pub(crate) fn key_of(meta: &ParseNestedMeta<'_>) -> String {
    let path = &meta.path;
    quote::quote!(#path).to_string().replace(' ', "")
}

/// Reports `key` as unknown in `attr` (as written: `#[auth(...)]`, `require!(...)`), on `on`
/// (e.g. "a field") when that helps, with
/// the nearest allowed key and the list of them, and skips its value so that parsing goes on and
/// the next mistake is reported too.
pub(crate) fn unknown_key(
    meta: &ParseNestedMeta<'_>,
    key: &str,
    attr: &str,
    on: Option<&str>,
    allowed: &[&str],
    cx: &Ctxt,
) -> syn::Result<()> {
    let place = on.map(|on| format!(" on {on}")).unwrap_or_default();
    let hint = did_you_mean(key, allowed.iter().copied())
        .map(|near| format!("did you mean `{near}`? "))
        .unwrap_or_default();
    cx.error_spanned_by(
        &meta.path,
        format!(
            "unknown key `{key}` in `{attr}`{place}; {hint}{}",
            expected_one_of(allowed)
        ),
    );
    skip_value(meta)
}

/// Skips whatever follows a key that is already reported as an error (`= value` or `(...)`), so
/// parsing goes on with the next key and reports its mistakes too.
pub(crate) fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<proc_macro2::TokenStream>()?;
    }
    Ok(())
}

/// For a flag key such as `id`: `Err` spanning the value if one was written (`id = 1`).
pub(crate) fn reject_value(meta: &ParseNestedMeta<'_>, attr: &str, key: &str) -> syn::Result<()> {
    let message = format!("`{key}` takes no value; write `#[{attr}({key})]`");
    if meta.input.peek(Token![=]) {
        let eq: Token![=] = meta.input.parse()?;
        let value: syn::Expr = meta.input.parse()?;
        return Err(syn::Error::new_spanned(quote::quote!(#eq #value), message));
    }
    if meta.input.peek(syn::token::Paren) {
        let content;
        let paren = syn::parenthesized!(content in meta.input);
        content.parse::<proc_macro2::TokenStream>()?;
        return Err(syn::Error::new(paren.span.join(), message));
    }
    Ok(())
}

/// The string of `key = "..."`, with an error that shows the expected form otherwise.
pub(crate) fn parse_lit_str(
    meta: &ParseNestedMeta<'_>,
    attr: &str,
    key: &str,
) -> syn::Result<LitStr> {
    let example = format!("expected `{key} = \"...\"`, e.g. `#[{attr}({key} = \"name\")]`");
    if !meta.input.peek(Token![=]) {
        skip_value(meta)?;
        return Err(meta.error(example));
    }
    let value: syn::Expr = meta.value()?.parse()?;
    match value {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        }) => Ok(lit),
        other => Err(syn::Error::new_spanned(other, example)),
    }
}

/// `crate = "path"`: the path through which generated code names the runtime crate.
pub(crate) fn parse_crate_path(meta: &ParseNestedMeta<'_>, attr: &str) -> syn::Result<syn::Path> {
    let lit = parse_lit_str(meta, attr, "crate")?;
    lit.parse::<syn::Path>().map_err(|_| {
        syn::Error::new(
            lit.span(),
            format!(
                "`{}` is not a path; `crate` names the axum-login crate as it is imported, e.g. `#[{attr}(crate = \"auth\")]` after `extern crate axum_login as auth;`",
                lit.value()
            ),
        )
    })
}
