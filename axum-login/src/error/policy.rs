//! [`PolicyError`]: a guard's setup mistake, found on the first request. It lives with the other
//! errors, not in `guard`, so that [`AuthError`](super::AuthError) can hold it while `guard`
//! depends on `error` and not the other way round.

use axum::http::StatusCode;

/// A guard's question that the user type can never answer, or a check's answer a guard cannot
/// give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// An API token method on a layer without API tokens.
    #[error(
        "the handler manages API tokens, but the layer takes none; call `AuthLayerBuilder::api_tokens` (feature `tokens`)"
    )]
    NoApiTokens,

    /// A `fresh_mfa` guard on a layer that cannot tell whether a user has a second factor.
    #[error(
        "the guard has `fresh_mfa`, which must know whether the user has a second factor, but the layer was given no lookup; call `AuthLayerBuilder::second_factors` (with the app's `Mfa`, say)"
    )]
    NoSecondFactorLookup,

    /// A role of another type than the user type's roles.
    #[error(
        "the guard asks for role `{role}` of type `{role_type}`, but users of type `{user_type}` hold roles of type `{held_type}`, so it can never be held; write a variant of `{held_type}`"
    )]
    RoleOfAnotherType {
        /// The role's name.
        role: String,
        /// The role's type.
        role_type: &'static str,
        /// The user type's role type.
        held_type: &'static str,
        /// The user type.
        user_type: &'static str,
    },

    /// A role name that no role of the user type has.
    #[error(
        "the guard asks for role \"{name}\", but no role of `{held_type}` (the roles of users of type `{user_type}`) has that name; expected one of: {expected}"
    )]
    UnknownRoleName {
        /// The name asked for.
        name: String,
        /// The user type's role type.
        held_type: &'static str,
        /// The user type.
        user_type: &'static str,
        /// The valid names, quoted and comma-separated.
        expected: String,
    },

    /// A role, for a user type without roles.
    #[error(
        "the guard asks for role `{role}`, but users of type `{user_type}` hold no roles; mark the field that holds them `#[auth(role)]` or `#[auth(roles)]`"
    )]
    NoRoles {
        /// The role's name.
        role: String,
        /// The user type.
        user_type: &'static str,
    },

    /// A permission of another type than the user type's permissions.
    #[error(
        "the guard asks for permission `{permission}` of type `{permission_type}`, but users of type `{user_type}` hold permissions of type `{held_type}`, so it can never be held; write a variant of `{held_type}`"
    )]
    PermissionOfAnotherType {
        /// The permission's name.
        permission: String,
        /// The permission's type.
        permission_type: &'static str,
        /// The user type's permission type.
        held_type: &'static str,
        /// The user type.
        user_type: &'static str,
    },

    /// A permission name that no permission of the user type has.
    #[error(
        "the guard asks for permission \"{name}\", but no permission of `{held_type}` (the permissions of users of type `{user_type}`) has that name; expected one of: {expected}"
    )]
    UnknownPermissionName {
        /// The name asked for.
        name: String,
        /// The user type's permission type.
        held_type: &'static str,
        /// The user type.
        user_type: &'static str,
        /// The valid names, quoted and comma-separated.
        expected: String,
    },

    /// A permission, for a user type without permissions.
    #[error(
        "the guard asks for permission `{permission}`, but users of type `{user_type}` hold no permissions; mark the field that holds them `#[auth(permissions)]`"
    )]
    NoPermissions {
        /// The permission's name.
        permission: String,
        /// The user type.
        user_type: &'static str,
    },

    /// A check refused the request with a response that is not a refusal.
    #[error(
        "the check `{check}` answered its error with status {status}; a check's error must be a refusal, a 4xx or 5xx response, so the request was answered with 500"
    )]
    CheckErrorNotARefusal {
        /// The check function.
        check: &'static str,
        /// The status it answered with.
        status: StatusCode,
    },
}
