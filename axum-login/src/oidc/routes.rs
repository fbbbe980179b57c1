//! [`Oidc::router`]: the start and callback routes, ready to nest, for an app that needs no
//! pages of its own around them.

use axum::{
    Extension, Router,
    extract::{Path, Query},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use serde::Deserialize;

use super::{Callback, Oidc, ProviderSignIn, ProviderUserStore, SignInFailure, Started};
use crate::{AuthSession, error::AuthError};

/// The answer to a sign-in whose address is an account's, when the app has no page that asks
/// for the account's password.
const LOG_IN_TO_LINK: &str = "An account with this address exists: log in with its password, then link the provider from your account page.";

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

impl<S: ProviderUserStore> Oidc<S> {
    /// `GET /{provider}?next=...` (to the provider) and `GET /{provider}/callback` (back from
    /// it), to nest where the providers' callback URLs point: `Router::new().nest("/login/oidc",
    /// oidc.router())` for callbacks `https://app.example/login/oidc/{id}/callback`.
    ///
    /// The callback answers a login with `303` to the sign-in's `next` (or `/`), a login
    /// waiting for a second factor with `303` to the layer's
    /// [`second_factor_url`](crate::layer::AuthLayerBuilder::second_factor_url) (or `/`), a link
    /// that needs the account's password with `303` to [`confirm_url`](Self::confirm_url) (or,
    /// without one, `401` saying to log in and link from the account page), and a failure with
    /// its [status](SignInFailure::status) and [message](SignInFailure::message) as plain text.
    /// An app that wants its own pages calls [`start`](Self::start) and
    /// [`callback`](Self::callback) from its own handlers instead.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/{provider}", get(start::<S>))
            .route("/{provider}/callback", get(callback::<S>))
            .layer(Extension(self.clone()))
    }
}

fn failure(failure: SignInFailure) -> Response {
    (
        failure.status(),
        [(header::CACHE_CONTROL, "no-store")],
        failure.message(),
    )
        .into_response()
}

async fn start<S: ProviderUserStore>(
    auth: AuthSession<S>,
    Extension(oidc): Extension<Oidc<S>>,
    Path(provider): Path<String>,
    Query(query): Query<NextQuery>,
) -> Result<Response, AuthError> {
    Ok(
        match oidc.start(&auth, &provider, query.next.as_deref()).await? {
            Started::Redirect(url) => Redirect::to(&url).into_response(),
            Started::Failed(refused) => failure(refused),
        },
    )
}

async fn callback<S: ProviderUserStore>(
    mut auth: AuthSession<S>,
    Extension(oidc): Extension<Oidc<S>>,
    Path(provider): Path<String>,
    Query(answer): Query<Callback>,
) -> Result<Response, AuthError> {
    let outcome = oidc.callback(&mut auth, &provider, &answer).await?;
    Ok(match outcome {
        ProviderSignIn::LoggedIn { .. } | ProviderSignIn::Linked { .. } => {
            Redirect::to(outcome.next_or_home()).into_response()
        }
        ProviderSignIn::SecondFactorDue { .. } => {
            let to = auth
                .auth
                .config()
                .redirect
                .second_factor_url
                .as_deref()
                .unwrap_or("/");
            Redirect::to(to).into_response()
        }
        ProviderSignIn::ConfirmLink { .. } => match &oidc.confirm_url {
            Some(url) => Redirect::to(url).into_response(),
            None => (
                StatusCode::UNAUTHORIZED,
                [(header::CACHE_CONTROL, "no-store")],
                LOG_IN_TO_LINK,
            )
                .into_response(),
        },
        ProviderSignIn::Failed(refused) => failure(refused),
    })
}
