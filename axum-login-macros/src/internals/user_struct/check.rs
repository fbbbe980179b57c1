//! Rules of `#[derive(AuthUser)]` that span more than one field: one id, at most one of each other
//! marker, `role` and `roles` not mixed.

use proc_macro2::Span;

use super::{AuthField, AuthUserModel, Markers, ParsedUser, RolesField};
use crate::internals::Ctxt;

/// The model of a parsed struct: when it has named fields and exactly one `#[auth(id)]`, even if
/// `cx` holds other errors (a caller that only needs some fields may go on, but must still
/// report `cx`'s errors).
pub(crate) fn check<'a>(parsed: ParsedUser<'a>, cx: &Ctxt) -> Option<AuthUserModel<'a>> {
    let ParsedUser {
        input,
        container,
        fields,
    } = parsed;
    let krate = container.krate;
    let fields = fields?;
    let id = unique(&fields, |m| m.id, "id", "a user has exactly one id", cx);
    let password_hash = unique(
        &fields,
        |m| m.password_hash,
        "password_hash",
        "`session_auth_hash` returns one secret",
        cx,
    );
    let username = unique(
        &fields,
        |m| m.username,
        "username",
        "a user logs in with one name",
        cx,
    );
    let permissions = unique(
        &fields,
        |m| m.permissions,
        "permissions",
        "put every permission in one collection",
        cx,
    );

    let mut roles: Option<RolesField<'a>> = None;
    for field in &fields {
        let (role, many) = (field.markers.role, field.markers.roles);
        if let (Some(_), Some(span)) = (role, many) {
            cx.error_at(
                span,
                "a field is either `role` (it holds one role) or `roles` (a collection of roles), not both; remove one",
            );
            continue;
        }
        let Some(span) = role.or(many) else { continue };
        match &roles {
            Some(first) => cx.error_at(
                span,
                format!(
                    "`{}` already holds the user's roles, and a user has one role field; to hold several roles, make it a collection marked `#[auth(roles)]` and remove this marker",
                    first.field().ident
                ),
            ),
            None if role.is_some() => roles = Some(RolesField::One(field.clone())),
            None => roles = Some(RolesField::Many(field.clone())),
        }
    }

    let Some(id) = id else {
        cx.error_spanned_by(
            &input.ident,
            "missing `#[auth(id)]`: mark the field that identifies the user, e.g. `#[auth(id)] id: i64`",
        );
        return None;
    };
    Some(AuthUserModel {
        input,
        krate,
        id,
        password_hash,
        username,
        roles,
        permissions,
        fields,
    })
}

/// The one field marked by `marker`; every further one is an error naming the first.
fn unique<'a>(
    fields: &[AuthField<'a>],
    marker: impl Fn(&Markers) -> Option<Span>,
    key: &str,
    why: &str,
    cx: &Ctxt,
) -> Option<AuthField<'a>> {
    let mut first: Option<&AuthField<'a>> = None;
    for field in fields {
        let Some(span) = marker(&field.markers) else {
            continue;
        };
        match first {
            Some(first) => cx.error_at(
                span,
                format!(
                    "duplicate `#[auth({key})]`: `{}` is already marked `{key}`, and {why}; remove this one",
                    first.ident
                ),
            ),
            None => first = Some(field),
        }
    }
    first.cloned()
}
