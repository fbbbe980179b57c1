//! The login route of the suites' apps, written once: the credentials authenticated, the user
//! logged in, and an answer the suite picks. An [`AuthError`] answers for itself, as in an app
//! (`403` for a cross-site login, `500` for a failing store).

use axum::{
    Form,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use axum_login::{AuthError, AuthSession, UserStore};
use serde::de::DeserializeOwned;

/// Authenticates `credentials` and logs the user in: the user, or `None` when the credentials
/// are refused.
pub async fn log_in<S: UserStore>(
    auth: &mut AuthSession<S>,
    credentials: S::Credentials,
) -> Result<Option<S::User>, AuthError> {
    let Some(user) = auth.authenticate(credentials).await? else {
        return Ok(None);
    };
    auth.login(&user).await?;
    Ok(Some(user))
}

/// What a login route answers when the user is logged in, and when the credentials are refused.
pub trait Answers<U> {
    fn logged_in(user: &U) -> Response;

    fn refused() -> Response {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

/// `303 See Other`, as a browser's form login is answered; `401` when refused.
pub struct SeeOther;

impl<U> Answers<U> for SeeOther {
    fn logged_in(_: &U) -> Response {
        StatusCode::SEE_OTHER.into_response()
    }
}

/// `200 OK`; `401` when refused.
pub struct Ok200;

impl<U> Answers<U> for Ok200 {
    fn logged_in(_: &U) -> Response {
        StatusCode::OK.into_response()
    }
}

/// `POST /login` with the store's credentials as a form, answering as `A` says:
/// `.route("/login", post(login::<Store, SeeOther>))`.
pub async fn login<S, A>(
    mut auth: AuthSession<S>,
    Form(credentials): Form<S::Credentials>,
) -> Result<Response, AuthError>
where
    S: UserStore,
    S::Credentials: DeserializeOwned,
    A: Answers<S::User>,
{
    Ok(match log_in(&mut auth, credentials).await? {
        Some(user) => A::logged_in(&user),
        None => A::refused(),
    })
}
