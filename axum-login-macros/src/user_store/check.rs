//! The rules of `#[derive(UserStore)]` that need both attribute grammars: what the store loads
//! from where, and which combinations make no sense.

use proc_macro2::Span;
use syn::{DeriveInput, LitStr};

use super::attr::StoreAttrs;
use crate::internals::{
    Ctxt,
    user_struct::{AuthField, AuthUserModel, RolesField},
};

/// How the store fills one field.
pub(crate) enum Source {
    /// A column of the users table.
    Column(String),
    /// The password hash column, read as optional text.
    Hash(String),
    /// Not a column: `Default::default()`, then filled from a roles or permissions table or left
    /// alone (`#[user_store(skip)]`).
    Default,
}

/// A `(user id, name)` table and the field it fills.
pub(crate) struct Join<'a> {
    pub(crate) field: AuthField<'a>,
    pub(crate) table: LitStr,
    pub(crate) user_id_column: String,
    pub(crate) value_column: String,
}

/// Everything the expansion needs.
pub(crate) struct StoreModel<'a> {
    pub(crate) input: &'a DeriveInput,
    pub(crate) krate: syn::Path,
    pub(crate) table: LitStr,
    pub(crate) id_column: String,
    pub(crate) username_column: String,
    /// The `#[auth(email)]` field's column, if any.
    pub(crate) email_column: Option<String>,
    /// The `#[auth(email_verified)]` field's column, if any.
    pub(crate) email_verified_column: Option<String>,
    pub(crate) password_hash: AuthField<'a>,
    pub(crate) fields: Vec<(AuthField<'a>, Source)>,
    pub(crate) roles: Option<Join<'a>>,
    pub(crate) permissions: Option<Join<'a>>,
    pub(crate) load_query: Option<LitStr>,
    pub(crate) authenticate_query: Option<LitStr>,
}

pub(crate) fn check<'a>(
    input: &'a DeriveInput,
    auth: AuthUserModel<'a>,
    attrs: StoreAttrs,
    skips: &[Option<Span>],
    auth_failed: bool,
    cx: &Ctxt,
) -> Option<StoreModel<'a>> {
    let table = attrs.table.clone();
    if table.is_none() && !attrs.unknown_key {
        let span = attrs.span.unwrap_or_else(|| input.ident.span());
        cx.error_at(
            span,
            "missing `table`: name the users table, e.g. `#[user_store(table = \"users\")]` above the struct",
        );
    }
    if auth.username.is_none() && !auth_failed {
        cx.error_spanned_by(
            &input.ident,
            "`#[derive(UserStore)]` needs the field that users log in with: mark it `#[auth(username)]`, e.g. `#[auth(username)] email: String`",
        );
    }
    if auth.password_hash.is_none() && !auth_failed {
        cx.error_spanned_by(
            &input.ident,
            "`#[derive(UserStore)]` needs the field that holds the password hash: mark it `#[auth(password_hash)]`, e.g. `#[auth(password_hash)] password_hash: SecretString`",
        );
    }

    let roles_from_table = match &auth.roles {
        Some(RolesField::Many(field)) => Some(field.clone()),
        _ => None,
    };
    let roles = join(
        roles_from_table,
        "roles",
        &attrs.roles_table,
        "roles_table",
        "user_roles",
        &attrs.role_column,
        "role_column",
        "role",
        &attrs.user_id_column,
        matches!(auth.roles, Some(RolesField::One(_))),
        cx,
    );
    if let (Some(table), Some(RolesField::One(field))) = (&attrs.roles_table, &auth.roles) {
        cx.error_spanned_by(
            table,
            format!(
                "`roles_table` has nothing to fill: `{}` is `#[auth(role)]`, one role read from a column of the users table; remove `roles_table`, or make the field a collection marked `#[auth(roles)]`",
                field.ident
            ),
        );
    }
    let permissions = join(
        auth.permissions.clone(),
        "permissions",
        &attrs.permissions_table,
        "permissions_table",
        "user_permissions",
        &attrs.permission_column,
        "permission_column",
        "permission",
        &attrs.user_id_column,
        false,
        cx,
    );
    if let Some(column) = &attrs.user_id_column
        && attrs.roles_table.is_none()
        && attrs.permissions_table.is_none()
    {
        cx.error_spanned_by(
            column,
            "`user_id_column` names the user id column of `roles_table` and `permissions_table`, and neither is given; remove it, or add the table it belongs to",
        );
    }

    for (query, key, what) in [
        (&attrs.load_query, "load_query", "the user's id"),
        (
            &attrs.authenticate_query,
            "authenticate_query",
            "the username",
        ),
    ] {
        if let Some(query) = query {
            check_query(query, key, what, cx);
        }
    }

    let mut fields = Vec::with_capacity(auth.fields.len());
    for (field, skip) in auth.fields.iter().zip(skips) {
        let joined = [&roles, &permissions]
            .into_iter()
            .flatten()
            .find(|join| join.field.ident == field.ident);
        let marked = |span: Option<Span>| span.is_some();
        if let Some(skip) = skip {
            let m = &field.markers;
            if marked(m.id) || marked(m.username) || marked(m.password_hash) || marked(m.role) {
                cx.error_at(
                    *skip,
                    "`skip` cannot apply here: the store reads this field from its column; remove `#[user_store(skip)]`",
                );
            } else if joined.is_some() {
                cx.error_at(
                    *skip,
                    "`skip` cannot apply here: the store fills this field from its table; remove `#[user_store(skip)]`",
                );
            }
        }
        let source = if let Some(join) = joined {
            if let Some(column) = &field.column {
                cx.error_spanned_by(
                    column,
                    format!(
                        "`column` has no effect: `{}` is loaded from `{}`, not from a column of the users table; name that table's column with `{}` in `#[user_store(...)]`",
                        field.ident,
                        join.table.value(),
                        if joined_is(&roles, join) { "role_column = \"...\"" } else { "permission_column = \"...\"" },
                    ),
                );
            }
            Source::Default
        } else if skip.is_some() {
            if let Some(column) = &field.column {
                cx.error_spanned_by(
                    column,
                    format!(
                        "`column` has no effect: `{}` is `#[user_store(skip)]`, so the store never loads it; remove `column`, or remove `skip` to load the field from that column",
                        field.ident
                    ),
                );
            }
            Source::Default
        } else if field.markers.password_hash.is_some() {
            Source::Hash(field.column_name())
        } else {
            Source::Column(field.column_name())
        };
        fields.push((field.clone(), source));
    }

    Some(StoreModel {
        input,
        krate: auth.krate.clone(),
        table: table?,
        id_column: auth.id.column_name(),
        username_column: auth.username.as_ref()?.column_name(),
        email_column: auth.email.as_ref().map(AuthField::column_name),
        email_verified_column: auth.email_verified.as_ref().map(AuthField::column_name),
        password_hash: auth.password_hash.clone()?,
        fields,
        roles,
        permissions,
        load_query: attrs.load_query,
        authenticate_query: attrs.authenticate_query,
    })
}

fn joined_is(roles: &Option<Join<'_>>, join: &Join<'_>) -> bool {
    roles
        .as_ref()
        .is_some_and(|roles| roles.field.ident == join.field.ident)
}

/// Pairs a field filled from a table with the table's options, reporting either one alone.
#[allow(clippy::too_many_arguments)]
fn join<'a>(
    field: Option<AuthField<'a>>,
    marker: &str,
    table: &Option<LitStr>,
    table_key: &str,
    example_table: &str,
    column: &Option<LitStr>,
    column_key: &str,
    default_column: &str,
    user_id_column: &Option<LitStr>,
    table_explained: bool,
    cx: &Ctxt,
) -> Option<Join<'a>> {
    match (field, table) {
        (Some(field), Some(table)) => Some(Join {
            field,
            table: table.clone(),
            user_id_column: user_id_column
                .as_ref()
                .map_or_else(|| "user_id".to_owned(), LitStr::value),
            value_column: column
                .as_ref()
                .map_or_else(|| default_column.to_owned(), LitStr::value),
        }),
        (Some(field), None) => {
            let span = match marker {
                "roles" => field.markers.roles,
                _ => field.markers.permissions,
            }
            .unwrap_or_else(|| field.ident.span());
            cx.error_at(
                span,
                format!(
                    "`#[auth({marker})]` is loaded from a table of (user id, name) rows: add `{table_key} = \"{example_table}\"` to `#[user_store(...)]`"
                ),
            );
            None
        }
        (None, Some(table)) => {
            if !table_explained {
                let example = match marker {
                    "roles" => "#[auth(roles)] roles: Vec<Role>",
                    _ => "#[auth(permissions)] permissions: Vec<String>",
                };
                cx.error_spanned_by(
                    table,
                    format!("`{table_key}` has no field to fill: mark a collection field `#[auth({marker})]`, e.g. `{example}`"),
                );
            }
            None
        }
        (None, None) => {
            if let Some(column) = column {
                cx.error_spanned_by(
                    column,
                    format!("`{column_key}` names a column of `{table_key}`, which is not given; remove `{column_key}`, or add `{table_key} = \"{example_table}\"`"),
                );
            }
            None
        }
    }
}

/// A custom query takes one parameter, written `$1`.
fn check_query(query: &LitStr, key: &str, what: &str, cx: &Ctxt) {
    let sql = query.value();
    let mut found_one = false;
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '\'' | '"' | '`') => quote = Some(c),
            None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                if digits == "1" {
                    found_one = true;
                } else {
                    cx.error_spanned_by(
                        query,
                        format!("`{key}` takes one parameter, {what}, written `$1`; `${digits}` has no value"),
                    );
                    return;
                }
            }
            None if c == '?' => {
                cx.error_spanned_by(
                    query,
                    format!("write the parameter of `{key}` as `$1`, on every database: the store renders it as `?` for SQLite and MySQL"),
                );
                return;
            }
            None => {}
        }
    }
    if !found_one {
        cx.error_spanned_by(
            query,
            format!("`{key}` must use its parameter, {what}, written `$1`"),
        );
    }
}
