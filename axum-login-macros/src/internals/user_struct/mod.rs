//! The user struct that `#[derive(AuthUser)]` and `#[derive(UserStore)]` both read: the
//! `#[auth(...)]` grammar in `attr`, the rules that span fields in `check`, and the model they
//! produce, so both derives agree on which field is the id, the username, the hash, and on each
//! field's column.

mod attr;
mod check;

use proc_macro2::Span;
use syn::DeriveInput;

pub(crate) use self::{
    attr::{crate_path_quiet, parse},
    check::check,
};

/// Where each `#[auth(...)]` marker of one field was written; `None` when absent.
#[derive(Clone, Default)]
pub(crate) struct Markers {
    pub(crate) id: Option<Span>,
    pub(crate) password_hash: Option<Span>,
    pub(crate) security_stamp: Option<Span>,
    pub(crate) username: Option<Span>,
    pub(crate) email: Option<Span>,
    pub(crate) email_verified: Option<Span>,
    pub(crate) role: Option<Span>,
    pub(crate) roles: Option<Span>,
    pub(crate) permissions: Option<Span>,
    /// `allow_plain_string`: a `String` password hash, knowingly.
    pub(crate) allow_plain_string: Option<Span>,
}

/// One named field of the user struct, with what its `#[auth(...)]` attributes say about it.
#[derive(Clone)]
pub(crate) struct AuthField<'a> {
    pub(crate) field: &'a syn::Field,
    pub(crate) ident: &'a syn::Ident,
    pub(crate) ty: &'a syn::Type,
    pub(crate) markers: Markers,
    /// `column = "..."`, if given.
    pub(crate) column: Option<syn::LitStr>,
}

impl AuthField<'_> {
    /// The database column of this field: `column = "..."`, or the field's name (`r#type` is
    /// `type`).
    pub(crate) fn column_name(&self) -> String {
        match &self.column {
            Some(column) => column.value(),
            None => {
                let name = self.ident.to_string();
                name.strip_prefix("r#").map_or(name.clone(), str::to_owned)
            }
        }
    }
}

/// The role field: one role (`#[auth(role)]`) or a collection (`#[auth(roles)]`).
#[derive(Clone)]
pub(crate) enum RolesField<'a> {
    One(AuthField<'a>),
    Many(AuthField<'a>),
}

impl<'a> RolesField<'a> {
    pub(crate) fn field(&self) -> &AuthField<'a> {
        match self {
            Self::One(field) | Self::Many(field) => field,
        }
    }
}

/// The struct-level `#[auth(...)]` attributes.
pub(crate) struct Container {
    /// The runtime crate, `::axum_login` unless `#[auth(crate = "...")]` says otherwise (also when
    /// that attribute is in error, so that stubs still name a crate that exists).
    pub(crate) krate: syn::Path,
}

/// A user struct as `#[derive(AuthUser)]` and `#[derive(UserStore)]` see it, after `check`.
pub(crate) struct AuthUserModel<'a> {
    pub(crate) input: &'a DeriveInput,
    pub(crate) krate: syn::Path,
    /// Every named field in declaration order, marked or not.
    pub(crate) fields: Vec<AuthField<'a>>,
    pub(crate) id: AuthField<'a>,
    pub(crate) password_hash: Option<AuthField<'a>>,
    pub(crate) security_stamp: Option<AuthField<'a>>,
    pub(crate) username: Option<AuthField<'a>>,
    pub(crate) email: Option<AuthField<'a>>,
    pub(crate) email_verified: Option<AuthField<'a>>,
    pub(crate) roles: Option<RolesField<'a>>,
    pub(crate) permissions: Option<AuthField<'a>>,
}

/// The `#[auth(...)]` attributes of a struct as parsed, before the rules that span fields.
pub(crate) struct ParsedUser<'a> {
    pub(crate) input: &'a DeriveInput,
    pub(crate) container: Container,
    /// Every named field, or `None` when the input has none (an error already recorded).
    pub(crate) fields: Option<Vec<AuthField<'a>>>,
}
