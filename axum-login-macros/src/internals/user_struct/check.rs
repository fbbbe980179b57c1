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
    let security_stamp = unique(
        &fields,
        |m| m.security_stamp,
        "security_stamp",
        "a session is bound to one stamp",
        cx,
    );
    let username = unique(
        &fields,
        |m| m.username,
        "username",
        "a user logs in with one name",
        cx,
    );
    let email = unique(
        &fields,
        |m| m.email,
        "email",
        "mail for an account goes to one address",
        cx,
    );
    let email_verified = unique(
        &fields,
        |m| m.email_verified,
        "email_verified",
        "an account has one address to confirm",
        cx,
    );
    if let (Some(verified), None) = (&email_verified, &email) {
        cx.error_at(
            verified.markers.email_verified.unwrap_or_else(Span::call_site),
            "`email_verified` says whether the `#[auth(email)]` field's address is confirmed, and there is none: mark the address field `#[auth(email)]`, or remove `email_verified`",
        );
    }
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

    for field in &fields {
        let (Some(allow), None) = (
            field.markers.allow_plain_string,
            field.markers.password_hash,
        ) else {
            continue;
        };
        cx.error_at(
            allow,
            "`allow_plain_string` goes with `password_hash`: write `#[auth(password_hash, allow_plain_string)]` on the field that holds the hash, or remove it",
        );
    }
    if let Some(hash) = &password_hash
        && hash.markers.allow_plain_string.is_none()
        && is_plain_string(hash.ty)
    {
        cx.error_spanned_by(
            hash.ty,
            "a `String` password hash is printed wherever the user is printed with `{:?}` (a `#[derive(Debug)]`, a log line); make the field a `secrecy::SecretString`, whose `Debug` shows `[REDACTED]`, or, if it must be a `String`, say so: `#[auth(password_hash, allow_plain_string)]`",
        );
    }

    let Some(id) = id else {
        // An earlier error may be the misspelt `id` (`#[auth(idd)]`): one error for it, not two.
        if cx.has_errors() {
            return None;
        }
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
        security_stamp,
        username,
        email,
        email_verified,
        roles,
        permissions,
        fields,
    })
}

/// Whether `ty` is written as `String` or `Option<String>` (also with a path to `String`): the
/// types whose `Debug` prints the hash. A type alias escapes this; it is a guard against the
/// common mistake, not a proof.
fn is_plain_string(ty: &syn::Type) -> bool {
    let syn::Type::Path(path) = ty else {
        return false;
    };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    match &last.arguments {
        syn::PathArguments::None => last.ident == "String",
        syn::PathArguments::AngleBracketed(args) if last.ident == "Option" => {
            matches!(
                args.args.first(),
                Some(syn::GenericArgument::Type(inner)) if args.args.len() == 1 && is_plain_string(inner)
            )
        }
        _ => false,
    }
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
