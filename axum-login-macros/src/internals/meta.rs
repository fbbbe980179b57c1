use syn::{LitStr, Token, meta::ParseNestedMeta};

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
