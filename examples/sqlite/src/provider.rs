//! Sign-in with an OpenID Connect provider, when `OIDC_ISSUER`, `OIDC_CLIENT_ID` and
//! `OIDC_CLIENT_SECRET` name one: the login page's "Sign in with ..." link, the callback, the
//! form that confirms a link by password, and the account page that lists, links and unlinks
//! providers.

use axum::{
    Form, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect},
    routing::{get, post},
};
use axum_login::{
    CurrentUser, PasswordCredentials, UserStore as _,
    csrf::CsrfToken,
    oidc::{Callback, NewProviderUser, Oidc, ProviderSignIn, SignInFailure, Started, Unlinked},
    require_login, safe_next,
};
use serde::{Deserialize, Serialize};

use crate::{
    Store, User,
    routes::{AppState, Auth, FLASH_KEY, NextQuery, Page, PageResult, SECOND_FACTOR_URL, html},
    templates::Templates,
};

/// The provider's id in the demo's routes and links: one provider, so a fixed one.
pub(crate) const PROVIDER_ID: &str = "oidc";

/// The provider the demo signs users in with.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer URL (`OIDC_ISSUER`).
    pub issuer: String,
    /// The demo's client id there (`OIDC_CLIENT_ID`).
    pub client_id: String,
    /// The demo's client secret there (`OIDC_CLIENT_SECRET`).
    pub client_secret: String,
    /// The name on the button (`OIDC_NAME`; default "your provider").
    pub name: Option<String>,
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/login/oidc", get(start))
        .route("/login/oidc/callback", get(callback))
        .route("/login/oidc/confirm", get(confirm_page).post(confirm))
        .route("/account/providers", get(providers_page))
        .route("/account/providers/{id}/link", post(link))
        .route("/account/providers/{id}/unlink", post(unlink))
}

/// Makes a user of a provider account that is nobody's yet: named after the provider's
/// preferred username or the address's local part (with a number when taken), with the
/// provider's address (confirmed only if the provider says so), and no password (`!`, which
/// no password matches): the account signs in through its provider until the user sets one
/// by a reset link.
pub(crate) async fn sign_up(
    store: Store,
    account: NewProviderUser,
) -> Result<Option<User>, axum_login::sqlx::SqlxStoreError> {
    let base: String = account
        .preferred_username
        .clone()
        .or_else(|| {
            account
                .email
                .as_deref()
                .and_then(|email| email.split('@').next())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "user".to_owned())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(32)
        .collect();
    let base = if base.is_empty() {
        "user".to_owned()
    } else {
        base
    };
    for attempt in 0..20u32 {
        let username = if attempt == 0 {
            base.clone()
        } else {
            format!("{base}{}", attempt + 1)
        };
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO users (username, password_hash, email, email_verified) VALUES (?, '!', ?, ?) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&username)
        .bind(&account.email)
        .bind(account.email_verified)
        .fetch_optional(store.pool())
        .await
        .map_err(axum_login::sqlx::SqlxStoreError::from)?;
        if let Some(id) = id {
            return store.load_user(&id).await;
        }
    }
    Ok(None)
}

#[derive(Serialize)]
struct FailedPage<'a> {
    #[serde(flatten)]
    page: Page<'a>,
    message: &'a str,
}

fn failed(templates: &Templates, csrf: &CsrfToken, failure: SignInFailure) -> PageResult {
    let page = FailedPage {
        page: Page::new(None),
        message: failure.message(),
    };
    Ok(html(
        failure.status(),
        templates.render("provider_failed.html", csrf, page)?,
    ))
}

/// `GET /login/oidc?next=...`: to the provider.
async fn start(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    State(oidc): State<Option<Oidc<Store>>>,
    auth: Auth,
    Query(query): Query<NextQuery>,
) -> PageResult {
    let Some(oidc) = oidc else {
        return failed(&templates, &csrf, SignInFailure::UnknownProvider);
    };
    match oidc.start(&auth, PROVIDER_ID, Some(&query.next)).await? {
        Started::Redirect(url) => Ok(Redirect::to(&url).into_response()),
        Started::Failed(failure) => failed(&templates, &csrf, failure),
        _ => failed(&templates, &csrf, SignInFailure::Unreachable),
    }
}

/// `GET /login/oidc/callback`: the provider's answer.
async fn callback(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    State(oidc): State<Option<Oidc<Store>>>,
    mut auth: Auth,
    Query(answer): Query<Callback>,
) -> PageResult {
    let Some(oidc) = oidc else {
        return failed(&templates, &csrf, SignInFailure::UnknownProvider);
    };
    let outcome = oidc.callback(&mut auth, PROVIDER_ID, &answer).await?;
    Ok(match outcome {
        ProviderSignIn::LoggedIn { .. } => Redirect::to(outcome.next_or_home()).into_response(),
        ProviderSignIn::Linked { .. } => {
            auth.session()
                .insert(FLASH_KEY, "The provider is linked to your account.")
                .await?;
            Redirect::to("/account/providers").into_response()
        }
        ProviderSignIn::SecondFactorDue { next } => {
            let target = match next.as_deref().and_then(safe_next) {
                Some(next) => format!(
                    "{SECOND_FACTOR_URL}?next={}",
                    percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
                ),
                None => SECOND_FACTOR_URL.to_owned(),
            };
            Redirect::to(&target).into_response()
        }
        ProviderSignIn::ConfirmLink { .. } => Redirect::to("/login/oidc/confirm").into_response(),
        ProviderSignIn::Failed(failure) => return failed(&templates, &csrf, failure),
        _ => return failed(&templates, &csrf, SignInFailure::Denied),
    })
}

#[derive(Serialize)]
struct ConfirmPage<'a> {
    #[serde(flatten)]
    page: Page<'a>,
    email: &'a str,
    provider: &'a str,
}

fn confirm_render(
    templates: &Templates,
    csrf: &CsrfToken,
    status: StatusCode,
    flash: Option<&str>,
    (email, provider): (&str, &str),
) -> PageResult {
    let page = ConfirmPage {
        page: Page {
            flash,
            ..Page::new(None)
        },
        email,
        provider,
    };
    Ok(html(
        status,
        templates.render("provider_confirm.html", csrf, page)?,
    ))
}

/// `GET /login/oidc/confirm`: the password form for the account the provider's address names.
async fn confirm_page(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    State(oidc): State<Option<Oidc<Store>>>,
    auth: Auth,
) -> PageResult {
    let pending = match &oidc {
        Some(oidc) => oidc.pending_link(&auth).await?,
        None => None,
    };
    let Some((email, provider)) = pending else {
        return failed(&templates, &csrf, SignInFailure::InvalidState);
    };
    confirm_render(&templates, &csrf, StatusCode::OK, None, (&email, &provider))
}

#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// `POST /login/oidc/confirm`: the account's password; links and logs in.
async fn confirm(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    State(oidc): State<Option<Oidc<Store>>>,
    mut auth: Auth,
    Form(form): Form<ConfirmForm>,
) -> PageResult {
    let Some(oidc) = oidc else {
        return failed(&templates, &csrf, SignInFailure::UnknownProvider);
    };
    let pending = oidc.pending_link(&auth).await?;
    let credentials = PasswordCredentials::new(form.username, form.password);
    let outcome = oidc.confirm_link(&mut auth, credentials).await?;
    Ok(match outcome {
        ProviderSignIn::LoggedIn { .. } => Redirect::to(outcome.next_or_home()).into_response(),
        ProviderSignIn::SecondFactorDue { .. } => Redirect::to(SECOND_FACTOR_URL).into_response(),
        ProviderSignIn::Failed(SignInFailure::WrongPassword) => {
            let Some((email, provider)) = pending else {
                return failed(&templates, &csrf, SignInFailure::InvalidState);
            };
            return confirm_render(
                &templates,
                &csrf,
                StatusCode::UNAUTHORIZED,
                Some("Wrong username or password."),
                (&email, &provider),
            );
        }
        ProviderSignIn::Failed(failure) => return failed(&templates, &csrf, failure),
        _ => Redirect::to("/").into_response(),
    })
}

#[derive(Serialize)]
struct LinkRow {
    id: Option<String>,
    name: String,
    email: Option<String>,
}

#[derive(Serialize)]
struct ProvidersPage<'a> {
    #[serde(flatten)]
    page: Page<'a>,
    links: Vec<LinkRow>,
    /// The provider to offer a link to, when the user has none there.
    offer: Option<&'a str>,
}

/// `GET /account/providers`: the linked providers, each with an unlink button, and a link
/// button for the configured one when it is not linked.
#[require_login]
async fn providers_page(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    State(oidc): State<Option<Oidc<Store>>>,
    auth: Auth,
    CurrentUser(user): CurrentUser<User>,
) -> PageResult {
    let notice: Option<String> = auth.session().remove(FLASH_KEY).await?;
    let links = match &oidc {
        Some(oidc) => oidc.links(&auth).await?,
        None => Vec::new(),
    };
    let offer = oidc.as_ref().and_then(|oidc| {
        oidc.providers()
            .find(|provider| {
                !links
                    .iter()
                    .any(|link| link.provider.as_deref() == Some(provider.id()))
            })
            .map(|provider| provider.display_name().to_owned())
    });
    let page = ProvidersPage {
        page: Page {
            notice: notice.as_deref(),
            ..Page::new(Some(&user))
        },
        links: links
            .into_iter()
            .map(|link| LinkRow {
                id: link.provider,
                name: link.name,
                email: link.email,
            })
            .collect(),
        offer: offer.as_deref(),
    };
    Ok(html(
        StatusCode::OK,
        templates.render("providers.html", &csrf, page)?,
    ))
}

/// `POST /account/providers/{id}/link`: to the provider, to link the account it answers with.
async fn link(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    State(oidc): State<Option<Oidc<Store>>>,
    auth: Auth,
    Path(id): Path<String>,
) -> PageResult {
    auth.check_same_site()?;
    let Some(oidc) = oidc else {
        return failed(&templates, &csrf, SignInFailure::UnknownProvider);
    };
    match oidc
        .start_link(&auth, &id, Some("/account/providers"))
        .await?
    {
        Started::Redirect(url) => Ok(Redirect::to(&url).into_response()),
        Started::Failed(failure) => failed(&templates, &csrf, failure),
        _ => failed(&templates, &csrf, SignInFailure::Unreachable),
    }
}

/// `POST /account/providers/{id}/unlink`.
async fn unlink(
    State(oidc): State<Option<Oidc<Store>>>,
    mut auth: Auth,
    Path(id): Path<String>,
) -> PageResult {
    let Some(oidc) = oidc else {
        return Ok(Redirect::to("/account/providers").into_response());
    };
    let message = match oidc.unlink(&mut auth, &id).await? {
        Unlinked::Done => "The provider is unlinked.",
        Unlinked::LastWayToSignIn => {
            "This provider is how you sign in: set a password (Forgot your password?) before unlinking it."
        }
        Unlinked::NotLoggedIn => return Ok(Redirect::to("/login").into_response()),
        _ => "That provider is not linked to your account.",
    };
    auth.session().insert(FLASH_KEY, message).await?;
    Ok(Redirect::to("/account/providers").into_response())
}
