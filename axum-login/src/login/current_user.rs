//! [`CurrentUser`]: the logged-in user as an extractor.

use std::{any::type_name, ops::Deref};

use axum::{
    extract::{FromRequestParts, OptionalFromRequestParts},
    http::request::Parts,
};

use super::{AuthRejection, DenialReason, backend::Login, request::RequestAuth};
use crate::{AuthError, AuthUser};

/// The logged-in user.
///
/// Rejects anonymous visitors: a browser is redirected to the login page with `next` set to
/// the current page, an API client gets `401` (see [`AuthRejection`]). Use
/// `Option<CurrentUser<U>>` on pages that anonymous visitors may see too.
///
/// ```
/// use axum_login::CurrentUser;
/// # use axum_login::AuthUser;
/// # #[derive(Clone)] struct User { name: String }
/// # impl AuthUser for User { type Id = String; fn id(&self) -> String { self.name.clone() } fn session_auth_hash(&self) -> &[u8] { b"" } }
///
/// async fn dashboard(CurrentUser(user): CurrentUser<User>) -> String {
///     format!("hello {}", user.name)
/// }
///
/// async fn home(user: Option<CurrentUser<User>>) -> String {
///     match user {
///         Some(CurrentUser(user)) => format!("hello {}", user.name),
///         None => "hello, stranger".to_owned(),
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct CurrentUser<U>(pub U);

impl<U> Deref for CurrentUser<U> {
    type Target = U;

    fn deref(&self) -> &U {
        &self.0
    }
}

fn downcast<U: AuthUser>(auth: &RequestAuth, login: &Login) -> Result<U, AuthError> {
    login
        .user
        .as_any()
        .downcast_ref::<U>()
        .cloned()
        .ok_or_else(|| AuthError::TypeMismatch {
            extractor: format!("CurrentUser<{}>", type_name::<U>()),
            layer_store: auth.backend().store_type(),
            layer_user: auth.backend().user_type(),
        })
}

impl<U, S> FromRequestParts<S> for CurrentUser<U>
where
    U: AuthUser,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = RequestAuth::from_parts(parts, "CurrentUser")?;
        match auth.login().await? {
            Some(login) => Ok(Self(downcast(&auth, &login)?)),
            None => Err(AuthRejection::denied(
                DenialReason::Unauthenticated,
                parts,
                &auth.config().redirect,
                auth.config().responder.as_deref(),
                auth.challenge(),
            )),
        }
    }
}

impl<U, S> OptionalFromRequestParts<S> for CurrentUser<U>
where
    U: AuthUser,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let auth = RequestAuth::from_parts(parts, "Option<CurrentUser>")?;
        match auth.login().await? {
            Some(login) => Ok(Some(Self(downcast(&auth, &login)?))),
            None => Ok(None),
        }
    }
}
