//! The `#[auth(...)]` grammar, on the struct and on its fields.

use syn::{Data, DeriveInput, Fields, spanned::Spanned};

use super::{AuthField, Container, Markers, ParsedUser};
use crate::internals::{
    Ctxt, check_identifier, key_of, parse_crate_path, parse_lit_str, reject_value, skip_value,
    unknown_key,
};

/// The keys `#[auth(...)]` accepts on a field.
const FIELD_KEYS: &[&str] = &[
    "id",
    "password_hash",
    "security_stamp",
    "username",
    "email",
    "email_verified",
    "role",
    "roles",
    "permissions",
    "column",
    "allow_plain_string",
];

/// The keys `#[auth(...)]` accepts on the struct.
const CONTAINER_KEYS: &[&str] = &["crate"];

/// The path of the runtime crate when no `#[auth(crate = "...")]` is given.
fn default_crate() -> syn::Path {
    syn::parse_quote!(::axum_login)
}

/// Parses the `#[auth(...)]` attributes of `input`, recording every mistake in `cx`.
pub(crate) fn parse<'a>(input: &'a DeriveInput, cx: &Ctxt) -> ParsedUser<'a> {
    let container = parse_container(input, cx);
    let fields = named_fields(input, cx)
        .map(|named| named.iter().map(|field| parse_field(field, cx)).collect());
    ParsedUser {
        input,
        container,
        fields,
    }
}

/// The struct-level attributes alone; never fails, so even an input in error has a crate path for
/// its stub impl.
fn parse_container(input: &DeriveInput, cx: &Ctxt) -> Container {
    let mut krate: Option<syn::Path> = None;
    let mut crate_seen = false;
    for attr in input
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("auth"))
    {
        let result = attr.parse_nested_meta(|meta| {
            let Some(key) = meta.path.get_ident().map(ToString::to_string) else {
                return unknown_key(&meta, &key_of(&meta), "#[auth(...)]", Some("the struct"), CONTAINER_KEYS, cx);
            };
            match key.as_str() {
                "crate" => {
                    if crate_seen {
                        cx.error_spanned_by(&meta.path, "duplicate `crate` in `#[auth(...)]`; remove one");
                        return skip_value(&meta);
                    }
                    crate_seen = true;
                    match parse_crate_path(&meta, "auth") {
                        Ok(path) => krate = Some(path),
                        Err(error) => cx.syn_error(error),
                    }
                    Ok(())
                }
                _ if FIELD_KEYS.contains(&key.as_str()) => {
                    cx.error_spanned_by(
                        &meta.path,
                        format!("`{key}` belongs on a field, not on the struct: put `#[auth({key})]` above the field it describes"),
                    );
                    skip_value(&meta)
                }
                _ => unknown_key(&meta, &key, "#[auth(...)]", Some("the struct"), CONTAINER_KEYS, cx),
            }
        });
        if let Err(error) = result {
            cx.syn_error(error);
        }
    }
    Container {
        krate: krate.unwrap_or_else(default_crate),
    }
}

fn named_fields<'a>(
    input: &'a DeriveInput,
    cx: &Ctxt,
) -> Option<&'a syn::punctuated::Punctuated<syn::Field, syn::Token![,]>> {
    // The same words for `#[derive(AuthUser)]` and `#[derive(UserStore)]`, which both read the
    // struct: when both are derived, rustc shows the identical error once.
    let example = "e.g. `struct User { #[auth(id)] id: i64, #[auth(password_hash)] password_hash: SecretString }`";
    let derives = "`#[derive(AuthUser)]` and `#[derive(UserStore)]`";
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => Some(&fields.named),
            Fields::Unnamed(fields) => {
                cx.error_spanned_by(
                    fields,
                    format!("{derives} need named fields to mark with `#[auth(...)]`, not a tuple struct; {example}"),
                );
                None
            }
            Fields::Unit => {
                cx.error_spanned_by(
                    &input.ident,
                    format!("{derives} need a struct with fields, one of them marked `#[auth(id)]`; {example}"),
                );
                None
            }
        },
        Data::Enum(data) => {
            cx.error_spanned_by(
                data.enum_token,
                format!("{derives} work on a struct with named fields, not on an enum; {example}"),
            );
            None
        }
        Data::Union(data) => {
            cx.error_spanned_by(
                data.union_token,
                format!("{derives} work on a struct with named fields, not on a union; {example}"),
            );
            None
        }
    }
}

fn parse_field<'a>(field: &'a syn::Field, cx: &Ctxt) -> AuthField<'a> {
    let mut markers = Markers::default();
    let mut column: Option<syn::LitStr> = None;
    let mut column_seen = false;
    for attr in field
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("auth"))
    {
        let result = attr.parse_nested_meta(|meta| {
            let Some(key) = meta.path.get_ident().map(ToString::to_string) else {
                return unknown_key(&meta, &key_of(&meta), "#[auth(...)]", Some("a field"), FIELD_KEYS, cx);
            };
            let slot = match key.as_str() {
                "id" => &mut markers.id,
                "password_hash" => &mut markers.password_hash,
                "security_stamp" => &mut markers.security_stamp,
                "username" => &mut markers.username,
                "email" => &mut markers.email,
                "email_verified" => &mut markers.email_verified,
                "role" => &mut markers.role,
                "roles" => &mut markers.roles,
                "permissions" => &mut markers.permissions,
                "allow_plain_string" => &mut markers.allow_plain_string,
                "column" => {
                    if column_seen {
                        cx.error_spanned_by(&meta.path, "duplicate `column` on this field; remove one");
                        return skip_value(&meta);
                    }
                    column_seen = true;
                    match parse_lit_str(&meta, "auth", "column") {
                        Ok(lit) if lit.value().is_empty() => {
                            cx.error_spanned_by(&lit, "`column` is empty; write the column's name, or remove `column` to use the field's name");
                        }
                        Ok(lit) => {
                            check_identifier(&lit, "column", false, cx);
                            column = Some(lit);
                        }
                        Err(error) => cx.syn_error(error),
                    }
                    return Ok(());
                }
                "crate" => {
                    cx.error_spanned_by(
                        &meta.path,
                        "`crate` belongs on the struct, not on a field: write `#[auth(crate = \"...\")]` above `struct`",
                    );
                    return skip_value(&meta);
                }
                _ => return unknown_key(&meta, &key, "#[auth(...)]", Some("a field"), FIELD_KEYS, cx),
            };
            if slot.is_some() {
                cx.error_spanned_by(&meta.path, format!("duplicate `{key}` on this field; remove one"));
                return skip_value(&meta);
            }
            *slot = Some(meta.path.span());
            if let Err(error) = reject_value(&meta, "auth", &key) {
                cx.syn_error(error);
            }
            Ok(())
        });
        if let Err(error) = result {
            cx.syn_error(error);
        }
    }
    AuthField {
        field,
        ident: field.ident.as_ref().expect("named field"),
        ty: &field.ty,
        markers,
        column,
    }
}

/// The crate path of `input` for a stub impl, ignoring errors (they are reported already).
pub(crate) fn crate_path_quiet(input: &DeriveInput) -> syn::Path {
    let cx = Ctxt::new();
    let container = parse_container(input, &cx);
    // Already reported by the `parse` that failed.
    let _ = cx.check();
    container.krate
}
