//! The pages and form handlers: login (with remember-me and the second step), logout, the
//! guarded pages and the password change. The account pages are in [`crate::account`].

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::{
    Form, Router,
    extract::{FromRef, Query, State},
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthSession, CurrentUser, LoginForm, PasswordCredentials, Role as _,
    accounts::Accounts,
    clock::SystemClock,
    credentials::MAX_PASSWORD_LEN,
    csrf::{CsrfLayer, CsrfToken},
    events::{AuthEvent, SecondFactorChange},
    mfa::MfaError,
    oidc::Oidc,
    require_login, safe_next,
    second_factor::SecondFactorDue,
    sqlx::SqlxStoreError,
};
use serde::{Deserialize, Serialize};

use crate::{
    Access, SecondFactors, Store, User, account, email_login, provider, reset, signup,
    templates::Templates, tokens,
};

pub(crate) type Auth = AuthSession<Store>;

/// Where the second step of a login, and a guard that asks for a second factor, send the
/// browser.
pub(crate) const SECOND_FACTOR_URL: &str = "/login/code";

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) templates: Templates,
    pub(crate) mfa: Arc<SecondFactors>,
    pub(crate) accounts: Accounts<Store>,
    /// Sign-in with the provider, when one is configured.
    pub(crate) oidc: Option<Oidc<Store>>,
}

impl AppState {
    /// The name on the login page's "Sign in with ..." link, when a provider is configured.
    fn provider_name(&self) -> Option<&str> {
        self.oidc
            .as_ref()
            .and_then(|oidc| oidc.providers().next())
            .map(|provider| provider.display_name())
    }
}

impl FromRef<AppState> for Option<Oidc<Store>> {
    fn from_ref(state: &AppState) -> Self {
        state.oidc.clone()
    }
}

impl FromRef<AppState> for Accounts<Store> {
    fn from_ref(state: &AppState) -> Self {
        state.accounts.clone()
    }
}

impl FromRef<AppState> for Templates {
    fn from_ref(state: &AppState) -> Self {
        state.templates.clone()
    }
}

/// The one message for every failed login: it must not tell an unknown user from a wrong
/// password.
const LOGIN_FAILED: &str = "Wrong username or password.";

/// The one message for a wrong second-step code: it does not say whether it was no code, an old
/// one or a used recovery code.
const CODE_FAILED: &str = "That code is not right.";

/// Where a page keeps its one-time message between the POST and the redirect.
pub(crate) const FLASH_KEY: &str = "demo.flash";

/// The shortest new password the form accepts.
const MIN_PASSWORD_LEN: usize = 8;

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route(SECOND_FACTOR_URL, get(code_page).post(submit_code))
        .route("/login/cancel", post(cancel_code))
        .route("/logout", post(logout))
        .route("/protected", get(protected))
        .route("/admin", get(admin))
        .route("/password", get(password_page).post(change_password))
        .merge(account::router())
        .merge(tokens::router())
        .merge(reset::router())
        .merge(signup::router())
        .merge(email_login::router())
        .merge(provider::router())
        // Every `POST` above needs the token of the form it came from; the pages render it.
        .layer(CsrfLayer::new())
        .with_state(state)
}

/// Anything that makes a page fail. The framework's errors answer as the framework says: `403`
/// for a cross-site `POST` (a login, a logout, a password change, an ended session, a code), a
/// generic `500` otherwise. The rest is
/// logged with its cause and answered with a generic `500` page.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PageError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] SqlxStoreError),
    #[error(transparent)]
    Session(#[from] tower_sessions::session::Error),
    #[error(transparent)]
    SecondFactor(#[from] MfaError),
    #[error("rendering a template: {0}")]
    Template(#[from] minijinja::Error),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if let Self::Auth(error) = self {
            return error.into_response();
        }
        tracing::error!(error = %self, "request failed");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Html("<!doctype html><title>Error</title><h1>Something went wrong</h1>"),
        )
            .into_response()
    }
}

pub(crate) type PageResult = Result<Response, PageError>;

/// The logged-in user as the templates see it: never the password hash.
#[derive(Serialize)]
pub(crate) struct Who<'a> {
    username: &'a str,
    role: &'static str,
}

impl<'a> From<&'a User> for Who<'a> {
    fn from(user: &'a User) -> Self {
        Self {
            username: &user.username,
            role: user.role.as_str(),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct Page<'a> {
    pub(crate) user: Option<Who<'a>>,
    pub(crate) flash: Option<&'a str>,
    pub(crate) notice: Option<&'a str>,
    pub(crate) next: &'a str,
    /// The provider's name on the login page's sign-in link, when one is configured.
    pub(crate) provider: Option<&'a str>,
}

impl<'a> Page<'a> {
    pub(crate) fn new(user: Option<&'a User>) -> Self {
        Self {
            user: user.map(Who::from),
            flash: None,
            notice: None,
            next: "",
            provider: None,
        }
    }
}

pub(crate) fn html(status: StatusCode, body: String) -> Response {
    (status, Html(body)).into_response()
}

async fn home(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    auth: Auth,
    user: Option<CurrentUser<User>>,
) -> PageResult {
    let user = user.map(|CurrentUser(user)| user);
    // A confirmed address says so here.
    let notice: Option<String> = auth.session().remove(FLASH_KEY).await?;
    let page = Page {
        notice: notice.as_deref(),
        ..Page::new(user.as_ref())
    };
    let body = templates.render("home.html", &csrf, page)?;
    Ok(html(StatusCode::OK, body))
}

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    #[serde(default)]
    pub(crate) next: String,
}

async fn login_page(
    csrf: CsrfToken,
    State(state): State<AppState>,
    auth: Auth,
    user: Option<CurrentUser<User>>,
    Query(query): Query<NextQuery>,
) -> PageResult {
    let user = user.map(|CurrentUser(user)| user);
    // A completed password reset says so here.
    let notice: Option<String> = auth.session().remove(FLASH_KEY).await?;
    let page = Page {
        notice: notice.as_deref(),
        next: safe_next(&query.next).unwrap_or_default(),
        provider: state.provider_name(),
        ..Page::new(user.as_ref())
    };
    Ok(html(
        StatusCode::OK,
        state.templates.render("login.html", &csrf, page)?,
    ))
}

/// The login form: the framework's fields, and the "remember me" checkbox, which a browser
/// sends only when it is ticked.
#[derive(Deserialize)]
struct LoginFields {
    #[serde(flatten)]
    login: LoginForm,
    #[serde(default)]
    remember: Option<String>,
}

/// `LoginForm` takes a form with a field missing as empty credentials, so it fails like wrong
/// ones, with the same status and page; its `next` is the validated one.
///
/// A user with TOTP is not logged in by the password alone: the session waits for the code,
/// and the answer is the form that asks for it.
async fn login(
    csrf: CsrfToken,
    State(state): State<AppState>,
    mut auth: Auth,
    Form(LoginFields {
        login: form,
        remember,
    }): Form<LoginFields>,
) -> PageResult {
    let templates = &state.templates;
    let remember = remember.is_some();
    let (next, next_field) = (form.next().to_owned(), form.next_field().to_owned());
    // Unknown users, wrong passwords, over-long input and throttled attempts are all `None`.
    match auth.authenticate(form.into_credentials()).await? {
        Some(user) if state.mfa.totp_enabled(&user.id).await? => {
            auth.begin_second_factor(&user, remember).await?;
            let page = Page {
                next: &next_field,
                ..Page::new(None)
            };
            Ok(html(
                StatusCode::OK,
                templates.render("code.html", &csrf, page)?,
            ))
        }
        Some(user) => {
            auth.login(&user).await?;
            if remember {
                auth.remember_me().await?;
            }
            Ok(Redirect::to(&next).into_response())
        }
        None => {
            // The visitor's previous login, if any, is unchanged; the page does not say whose.
            let page = Page {
                flash: Some(LOGIN_FAILED),
                next: &next_field,
                provider: state.provider_name(),
                ..Page::new(None)
            };
            Ok(html(
                StatusCode::UNAUTHORIZED,
                templates.render("login.html", &csrf, page)?,
            ))
        }
    }
}

/// Said on the code form to a logged-in user who has no second factor to give.
const ENROL_FIRST: &str = "This page needs a second factor, and you have none yet: turn on two-factor authentication first.";

/// The second step: the code form, for a login waiting for its second factor or a logged-in
/// user whom a guard asked for one. Anyone else has nothing to enter a code for.
async fn code_page(
    csrf: CsrfToken,
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<NextQuery>,
) -> PageResult {
    let Some(due) = auth.second_factor_due().await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let (user, notice) = match &due {
        SecondFactorDue::Login(_) => (None, None),
        SecondFactorDue::StepUp(user) => {
            let enrolled = state.mfa.totp_enabled(&user.id).await?;
            (Some(user), (!enrolled).then_some(ENROL_FIRST))
        }
    };
    let page = Page {
        notice,
        next: safe_next(&query.next).unwrap_or_default(),
        ..Page::new(user)
    };
    Ok(html(
        StatusCode::OK,
        state.templates.render("code.html", &csrf, page)?,
    ))
}

/// "Cancel" on the code form: the login waiting for its code is dropped, so the next visitor of
/// this browser starts from the password.
async fn cancel_code(mut auth: Auth) -> Result<Redirect, PageError> {
    auth.check_same_site()?;
    auth.abandon_second_factor().await?;
    Ok(Redirect::to("/login"))
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

/// Checks a TOTP code, or else a recovery code, through the framework, which counts wrong ones
/// with the login throttle and completes the login (or the step-up) on a right one.
async fn submit_code(
    csrf: CsrfToken,
    State(state): State<AppState>,
    mut auth: Auth,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let mfa = &state.mfa;
    let code = form.code.trim();
    let recovery_used = AtomicBool::new(false);
    let passed = auth
        .complete_second_factor(|user| {
            let recovery_used = &recovery_used;
            async move {
                if mfa
                    .verify_totp(&user.id, code, &SystemClock)
                    .await?
                    .is_accepted()
                {
                    return Ok::<_, MfaError>(true);
                }
                let used = mfa.use_recovery_code(&user.id, code).await?;
                recovery_used.store(used, Ordering::Relaxed);
                Ok(used)
            }
        })
        .await?;
    if passed {
        if recovery_used.load(Ordering::Relaxed)
            && let Some(user) = auth.user().await?
        {
            auth.record_event(AuthEvent::SecondFactorChanged {
                user: user.id.to_string(),
                change: SecondFactorChange::RecoveryCodeUsed,
            });
        }
        return Ok(Redirect::to(safe_next(&form.next).unwrap_or("/")).into_response());
    }
    let Some(due) = auth.second_factor_due().await? else {
        // The wait for the code timed out: the password is due again.
        return Ok(Redirect::to("/login").into_response());
    };
    let user = match &due {
        SecondFactorDue::Login(_) => None,
        SecondFactorDue::StepUp(user) => Some(user),
    };
    let page = Page {
        flash: Some(CODE_FAILED),
        next: safe_next(&form.next).unwrap_or_default(),
        ..Page::new(user)
    };
    Ok(html(
        StatusCode::UNAUTHORIZED,
        state.templates.render("code.html", &csrf, page)?,
    ))
}

async fn logout(mut auth: Auth) -> Result<Redirect, PageError> {
    auth.logout().await?;
    Ok(Redirect::to("/login"))
}

#[require_login]
async fn protected(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    CurrentUser(user): CurrentUser<User>,
) -> PageResult {
    let body = templates.render("protected.html", &csrf, Page::new(Some(&user)))?;
    Ok(html(StatusCode::OK, body))
}

#[require_login(role = Access::Admin)]
async fn admin(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    CurrentUser(user): CurrentUser<User>,
) -> PageResult {
    let body = templates.render("admin.html", &csrf, Page::new(Some(&user)))?;
    Ok(html(StatusCode::OK, body))
}

#[require_login]
async fn password_page(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    auth: Auth,
    CurrentUser(user): CurrentUser<User>,
) -> PageResult {
    let notice: Option<String> = auth.session().remove(FLASH_KEY).await?;
    let page = Page {
        notice: notice.as_deref(),
        ..Page::new(Some(&user))
    };
    Ok(html(
        StatusCode::OK,
        templates.render("password.html", &csrf, page)?,
    ))
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

#[require_login]
async fn change_password(
    csrf: CsrfToken,
    State(templates): State<Templates>,
    mut auth: Auth,
    CurrentUser(user): CurrentUser<User>,
    Form(form): Form<PasswordForm>,
) -> PageResult {
    // Checked like a login (refused cross-site, counted by the throttle), so whoever holds a
    // session cannot use this form to guess the password.
    let current = PasswordCredentials::new(&user.username, form.current_password);
    let problem = if !auth.reauthenticate(current).await? {
        Some("The current password is wrong.")
    } else if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&form.new_password.len()) {
        Some("The new password must be 8 to 1024 bytes long.")
    } else {
        None
    };
    if let Some(problem) = problem {
        let page = Page {
            flash: Some(problem),
            ..Page::new(Some(&user))
        };
        return Ok(html(
            StatusCode::UNPROCESSABLE_ENTITY,
            templates.render("password.html", &csrf, page)?,
        ));
    }
    let new = form.new_password.into();
    let Some(user) = auth.store().set_password(&user.id, new).await? else {
        // Deleted between loading and saving: nothing left to keep logged in.
        auth.logout().await?;
        return Ok(Redirect::to("/login").into_response());
    };
    // The new hash ends every session of this user; this one is carried over to it.
    auth.update_session_auth_hash(&user).await?;
    auth.session()
        .insert(
            FLASH_KEY,
            "Password changed. Your other sessions have been logged out.",
        )
        .await?;
    Ok(Redirect::to("/password").into_response())
}
