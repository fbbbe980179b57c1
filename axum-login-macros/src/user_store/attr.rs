//! The grammar of `#[user_store(...)]`: on the struct, the table and its options; on a field,
//! `skip`.

use proc_macro2::Span;
use syn::{DeriveInput, LitStr};

use crate::internals::{
    Ctxt, check_identifier, key_of, parse_lit_str, reject_value, skip_value, unknown_key,
};

/// The keys `#[user_store(...)]` accepts on the struct.
pub(crate) const CONTAINER_KEYS: &[&str] = &[
    "table",
    "roles_table",
    "permissions_table",
    "user_id_column",
    "role_column",
    "permission_column",
    "load_query",
    "authenticate_query",
];

/// The keys `#[user_store(...)]` accepts on a field.
pub(crate) const FIELD_KEYS: &[&str] = &["skip"];

/// The struct-level `#[user_store(...)]` options, each with the literal it was written as.
#[derive(Default)]
pub(crate) struct StoreAttrs {
    /// The first `user_store` attribute's path, for errors about a missing key.
    pub(crate) span: Option<Span>,
    /// Whether an unknown key was reported: it may be the misspelt `table`, so a missing `table`
    /// is not reported on top of it.
    pub(crate) unknown_key: bool,
    pub(crate) table: Option<LitStr>,
    pub(crate) roles_table: Option<LitStr>,
    pub(crate) permissions_table: Option<LitStr>,
    pub(crate) user_id_column: Option<LitStr>,
    pub(crate) role_column: Option<LitStr>,
    pub(crate) permission_column: Option<LitStr>,
    pub(crate) load_query: Option<LitStr>,
    pub(crate) authenticate_query: Option<LitStr>,
}

impl StoreAttrs {
    fn slot(&mut self, key: &str) -> Option<&mut Option<LitStr>> {
        Some(match key {
            "table" => &mut self.table,
            "roles_table" => &mut self.roles_table,
            "permissions_table" => &mut self.permissions_table,
            "user_id_column" => &mut self.user_id_column,
            "role_column" => &mut self.role_column,
            "permission_column" => &mut self.permission_column,
            "load_query" => &mut self.load_query,
            "authenticate_query" => &mut self.authenticate_query,
            _ => return None,
        })
    }
}

pub(crate) fn parse_container(input: &DeriveInput, cx: &Ctxt) -> StoreAttrs {
    let mut attrs = StoreAttrs::default();
    for attr in input
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("user_store"))
    {
        attrs
            .span
            .get_or_insert_with(|| syn::spanned::Spanned::span(attr.path()));
        let result = attr.parse_nested_meta(|meta| {
            let key = key_of(&meta);
            let Some(slot) = attrs.slot(&key) else {
                if FIELD_KEYS.contains(&key.as_str()) {
                    cx.error_spanned_by(
                        &meta.path,
                        format!("`{key}` belongs on a field, not on the struct: put `#[user_store({key})]` above the field"),
                    );
                    return skip_value(&meta);
                }
                attrs.unknown_key = true;
                return unknown_key(&meta, &key, "#[user_store(...)]", Some("the struct"), CONTAINER_KEYS, cx);
            };
            if slot.is_some() {
                cx.error_spanned_by(&meta.path, format!("duplicate `{key}` in `#[user_store(...)]`; remove one"));
                return skip_value(&meta);
            }
            match parse_lit_str(&meta, "user_store", &key) {
                Ok(lit) if lit.value().trim().is_empty() => {
                    cx.error_spanned_by(&lit, format!("`{key}` is empty; write a name, or remove `{key}`"));
                }
                Ok(lit) => {
                    match key.as_str() {
                        "table" | "roles_table" | "permissions_table" => {
                            check_identifier(&lit, &key, true, cx);
                        }
                        "user_id_column" | "role_column" | "permission_column" => {
                            check_identifier(&lit, &key, false, cx);
                        }
                        // Queries are SQL of the app's own; `check` reads their parameters.
                        _ => {}
                    }
                    *slot = Some(lit);
                }
                Err(error) => cx.syn_error(error),
            }
            Ok(())
        });
        if let Err(error) = result {
            cx.syn_error(error);
        }
    }
    attrs
}

/// Where `#[user_store(skip)]` was written on `field`, if it was.
pub(crate) fn parse_field(field: &syn::Field, cx: &Ctxt) -> Option<Span> {
    let mut skip = None;
    for attr in field
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("user_store"))
    {
        let result = attr.parse_nested_meta(|meta| {
            let key = key_of(&meta);
            match key.as_str() {
                "skip" => {
                    if skip.is_some() {
                        cx.error_spanned_by(&meta.path, "duplicate `skip` on this field; remove one");
                    }
                    skip = Some(syn::spanned::Spanned::span(&meta.path));
                    if let Err(error) = reject_value(&meta, "user_store", "skip") {
                        cx.syn_error(error);
                    }
                    Ok(())
                }
                _ if CONTAINER_KEYS.contains(&key.as_str()) => {
                    cx.error_spanned_by(
                        &meta.path,
                        format!("`{key}` belongs on the struct, not on a field: write `#[user_store({key} = \"...\")]` above `struct`; a field's column is `#[auth(column = \"...\")]`"),
                    );
                    skip_value(&meta)
                }
                _ => unknown_key(&meta, &key, "#[user_store(...)]", Some("a field"), FIELD_KEYS, cx),
            }
        });
        if let Err(error) = result {
            cx.syn_error(error);
        }
    }
    skip
}
