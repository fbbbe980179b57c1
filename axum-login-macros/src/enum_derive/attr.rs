//! The attribute grammar of `#[derive(Role)]` and `#[derive(Permission)]`.

use proc_macro2::Span;
use syn::{Data, DeriveInput, Fields, parse::Parse};

use crate::internals::{
    Ctxt, RenameRule, did_you_mean, expected_one_of, key_of, parse_crate_path, parse_lit_str,
    skip_value, snake_case, unknown_key,
};

/// Which of the two derives is running: they share everything but the names and `implies`.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Role,
    Permission,
}

impl Kind {
    /// The attribute, and the noun in messages: `role`, `permission`.
    pub(super) fn attr(self) -> &'static str {
        match self {
            Self::Role => "role",
            Self::Permission => "permission",
        }
    }

    pub(super) fn trait_name(self) -> &'static str {
        match self {
            Self::Role => "Role",
            Self::Permission => "Permission",
        }
    }

    fn variant_keys(self) -> &'static [&'static str] {
        match self {
            Self::Role => &["rename", "implies"],
            Self::Permission => &["rename"],
        }
    }
}

const CONTAINER_KEYS: &[&str] = &["rename_all", "crate"];

pub(super) struct EnumModel<'a> {
    pub(super) input: &'a DeriveInput,
    pub(super) kind: Kind,
    pub(super) krate: syn::Path,
    pub(super) variants: Vec<VariantModel<'a>>,
}

pub(super) struct VariantModel<'a> {
    pub(super) ident: &'a syn::Ident,
    /// The stable name.
    pub(super) name: String,
    /// Where the name comes from: the `rename` string, or the variant.
    pub(super) name_span: Span,
    /// The variants named in `#[role(implies(...))]`, as written.
    pub(super) implies: Vec<syn::Ident>,
    /// Strings in `implies(...)`, a mistake: `implies` names variants.
    pub(super) implied_names: Vec<syn::LitStr>,
}

/// The crate path alone, for the stub impl of an input in error.
pub(super) fn krate(input: &DeriveInput, kind: Kind) -> syn::Path {
    let cx = Ctxt::new();
    let (krate, _) = parse_container(input, kind, &cx);
    // Already reported by `parse`.
    let _ = cx.check();
    krate
}

pub(super) fn parse<'a>(input: &'a DeriveInput, kind: Kind, cx: &Ctxt) -> Option<EnumModel<'a>> {
    let (krate, rename_all) = parse_container(input, kind, cx);
    let trait_name = kind.trait_name();
    let example = match kind {
        Kind::Role => {
            "e.g. `#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)] enum Role { Admin, Editor }`"
        }
        Kind::Permission => {
            "e.g. `#[derive(Clone, Copy, Debug, PartialEq, Eq, Permission)] enum Permission { PostsRead, PostsWrite }`"
        }
    };
    let data = match &input.data {
        Data::Enum(data) => data,
        Data::Struct(data) => {
            cx.error_spanned_by(
                data.struct_token,
                format!("`#[derive({trait_name})]` works on a fieldless enum, not on a struct; {example}"),
            );
            return None;
        }
        Data::Union(data) => {
            cx.error_spanned_by(
                data.union_token,
                format!(
                    "`#[derive({trait_name})]` works on a fieldless enum, not on a union; {example}"
                ),
            );
            return None;
        }
    };
    let variants = data
        .variants
        .iter()
        .map(|variant| {
            if !matches!(variant.fields, Fields::Unit) {
                cx.error_spanned_by(
                    &variant.fields,
                    format!(
                        "a `{trait_name}` variant cannot have fields: each variant is one {} with a fixed name; remove the fields of `{}`",
                        kind.attr(),
                        variant.ident
                    ),
                );
            }
            parse_variant(variant, kind, rename_all, cx)
        })
        .collect();
    Some(EnumModel {
        input,
        kind,
        krate,
        variants,
    })
}

fn parse_container(input: &DeriveInput, kind: Kind, cx: &Ctxt) -> (syn::Path, Option<RenameRule>) {
    let attr_name = kind.attr();
    let mut krate = None;
    let mut rename_all = None;
    let mut seen: Vec<String> = Vec::new();
    for attr in input
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident(attr_name))
    {
        let result = attr.parse_nested_meta(|meta| {
            let key = key_of(&meta);
            if seen.contains(&key) {
                cx.error_spanned_by(&meta.path, format!("duplicate `{key}` in `#[{attr_name}(...)]`; remove one"));
                return skip_value(&meta);
            }
            seen.push(key.clone());
            match key.as_str() {
                "crate" => match parse_crate_path(&meta, attr_name) {
                    Ok(path) => krate = Some(path),
                    Err(error) => cx.syn_error(error),
                },
                "rename_all" => match parse_lit_str(&meta, attr_name, "rename_all") {
                    Ok(lit) => match RenameRule::from_name(&lit.value()) {
                        Some(rule) => rename_all = Some(rule),
                        None => cx.error_spanned_by(
                            &lit,
                            format!(
                                "unknown `rename_all` rule \"{}\"; {}{}",
                                lit.value(),
                                expected_one_of(RenameRule::NAMES),
                                hint(&lit.value(), RenameRule::NAMES)
                            ),
                        ),
                    },
                    Err(error) => cx.syn_error(error),
                },
                _ if kind.variant_keys().contains(&key.as_str()) => {
                    cx.error_spanned_by(
                        &meta.path,
                        format!("`{key}` belongs on a variant, not on the enum: put `#[{attr_name}({key}...)]` above the variant"),
                    );
                    return skip_value(&meta);
                }
                _ => return unknown_key(&meta, &key, &format!("#[{attr_name}(...)]"), Some("the enum"), CONTAINER_KEYS, cx),
            }
            Ok(())
        });
        if let Err(error) = result {
            cx.syn_error(error);
        }
    }
    (
        krate.unwrap_or_else(|| syn::parse_quote!(::axum_login)),
        rename_all,
    )
}

fn parse_variant<'a>(
    variant: &'a syn::Variant,
    kind: Kind,
    rename_all: Option<RenameRule>,
    cx: &Ctxt,
) -> VariantModel<'a> {
    let attr_name = kind.attr();
    let mut rename: Option<syn::LitStr> = None;
    let mut implies = Vec::new();
    let mut implied_names = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for attr in variant
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident(attr_name))
    {
        let result = attr.parse_nested_meta(|meta| {
            let key = key_of(&meta);
            if seen.contains(&key) {
                cx.error_spanned_by(
                    &meta.path,
                    format!(
                        "duplicate `{key}` on this variant; remove one{}",
                        if key == "implies" {
                            ", and list every implied role in the other"
                        } else {
                            ""
                        }
                    ),
                );
                return skip_value(&meta);
            }
            seen.push(key.clone());
            match key.as_str() {
                "rename" => match parse_lit_str(&meta, attr_name, "rename") {
                    Ok(lit) if lit.value().is_empty() => {
                        cx.error_spanned_by(&lit, format!("a {attr_name} name cannot be empty"));
                    }
                    Ok(lit) => rename = Some(lit),
                    Err(error) => cx.syn_error(error),
                },
                "implies" if matches!(kind, Kind::Role) => {
                    let example =
                        "write the variants it implies: `#[role(implies(Editor, Viewer))]`";
                    if !meta.input.peek(syn::token::Paren) {
                        skip_value(&meta)?;
                        cx.error_spanned_by(
                            &meta.path,
                            format!("`implies` needs a list; {example}"),
                        );
                        return Ok(());
                    }
                    let content;
                    syn::parenthesized!(content in meta.input);
                    let list = content.parse_terminated(syn::Expr::parse, syn::Token![,])?;
                    for item in list {
                        match item {
                            syn::Expr::Path(path)
                                if path.qself.is_none() && path.path.get_ident().is_some() =>
                            {
                                implies.extend(path.path.get_ident().cloned());
                            }
                            // Resolved in `check`, which knows every variant's name.
                            syn::Expr::Lit(syn::ExprLit {
                                lit: syn::Lit::Str(lit),
                                ..
                            }) => implied_names.push(lit),
                            other => cx.error_spanned_by(
                                other,
                                format!("expected a variant of this enum; {example}"),
                            ),
                        }
                    }
                }
                _ => {
                    return unknown_key(
                        &meta,
                        &key,
                        &format!("#[{attr_name}(...)]"),
                        Some("a variant"),
                        kind.variant_keys(),
                        cx,
                    );
                }
            }
            Ok(())
        });
        if let Err(error) = result {
            cx.syn_error(error);
        }
    }
    let ident = &variant.ident;
    let (name, name_span) = match rename {
        Some(lit) => (lit.value(), lit.span()),
        None => {
            let name = ident.to_string();
            let name = name.strip_prefix("r#").unwrap_or(&name);
            let name = rename_all.map_or_else(|| snake_case(name), |rule| rule.apply(name));
            (name, ident.span())
        }
    };
    VariantModel {
        ident,
        name,
        name_span,
        implies,
        implied_names,
    }
}

fn hint(given: &str, allowed: &[&str]) -> String {
    did_you_mean(given, allowed.iter().copied())
        .map(|name| format!("; did you mean `{name}`?"))
        .unwrap_or_default()
}
