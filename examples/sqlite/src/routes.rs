//! The pages and form handlers.

use axum::{
    Form, Router,
    extract::{Query, State},
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthSession, CurrentUser, PasswordCredentials, credentials::MAX_PASSWORD_LEN,
    password::PasswordError, require_login, safe_next, sqlx::SqlxStoreError, sqlx::SqlxUser,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sqlx::Sqlite;

use crate::{Role, Store, User, templates::Templates};

type Auth = AuthSession<Store>;

/// The one message for every failed login: it must not tell an unknown user from a wrong
/// password.
const LOGIN_FAILED: &str = "Wrong username or password.";

/// Where the password page keeps its one-time message between the POST and the redirect.
const FLASH_KEY: &str = "demo.flash";

/// The shortest new password the form accepts.
const MIN_PASSWORD_LEN: usize = 8;

pub(crate) fn router(templates: Templates) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/protected", get(protected))
        .route("/admin", get(admin))
        .route("/password", get(password_page).post(change_password))
        .with_state(templates)
}

/// Anything that makes a page fail: logged with its cause, answered with a generic `500`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PageError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] SqlxStoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Session(#[from] tower_sessions::session::Error),
    #[error("rendering a template: {0}")]
    Template(#[from] minijinja::Error),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "request failed");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Html("<!doctype html><title>Error</title><h1>Something went wrong</h1>"),
        )
            .into_response()
    }
}

type PageResult = Result<Response, PageError>;

/// The logged-in user as the templates see it: never the password hash.
#[derive(Serialize)]
struct Who<'a> {
    username: &'a str,
    role: &'static str,
}

impl<'a> From<&'a User> for Who<'a> {
    fn from(user: &'a User) -> Self {
        Self {
            username: &user.username,
            role: axum_login::Role::as_str(&user.role),
        }
    }
}

#[derive(Serialize)]
struct Page<'a> {
    user: Option<Who<'a>>,
    flash: Option<&'a str>,
    notice: Option<&'a str>,
    next: &'a str,
}

impl<'a> Page<'a> {
    fn new(user: Option<&'a User>) -> Self {
        Self {
            user: user.map(Who::from),
            flash: None,
            notice: None,
            next: "",
        }
    }
}

fn html(status: StatusCode, body: String) -> Response {
    (status, Html(body)).into_response()
}

async fn home(State(templates): State<Templates>, user: Option<CurrentUser<User>>) -> PageResult {
    let user = user.map(|CurrentUser(user)| user);
    let body = templates.render("home.html", Page::new(user.as_ref()))?;
    Ok(html(StatusCode::OK, body))
}

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

async fn login_page(
    State(templates): State<Templates>,
    user: Option<CurrentUser<User>>,
    Query(query): Query<NextQuery>,
) -> PageResult {
    let user = user.map(|CurrentUser(user)| user);
    let page = Page {
        next: safe_next(&query.next).unwrap_or_default(),
        ..Page::new(user.as_ref())
    };
    Ok(html(StatusCode::OK, templates.render("login.html", page)?))
}

/// Every field defaults, so a form with a field missing fails like wrong credentials, with the
/// same status and page.
#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: Option<SecretString>,
    #[serde(default)]
    next: String,
}

async fn login(
    State(templates): State<Templates>,
    mut auth: Auth,
    Form(form): Form<LoginForm>,
) -> PageResult {
    let credentials = PasswordCredentials {
        username: form.username,
        password: form.password.unwrap_or_else(|| SecretString::from("")),
    };
    // The store refuses over-long input, unknown users and wrong passwords alike with `None`.
    match auth.authenticate(credentials).await? {
        Some(user) => {
            auth.login(&user).await?;
            let to = safe_next(&form.next).unwrap_or("/");
            Ok(Redirect::to(to).into_response())
        }
        None => {
            // The visitor's previous login, if any, is unchanged; the page does not say whose.
            let page = Page {
                flash: Some(LOGIN_FAILED),
                next: safe_next(&form.next).unwrap_or_default(),
                ..Page::new(None)
            };
            Ok(html(
                StatusCode::UNPROCESSABLE_ENTITY,
                templates.render("login.html", page)?,
            ))
        }
    }
}

async fn logout(mut auth: Auth) -> Result<Redirect, PageError> {
    auth.logout().await?;
    Ok(Redirect::to("/login"))
}

#[require_login]
async fn protected(
    State(templates): State<Templates>,
    CurrentUser(user): CurrentUser<User>,
) -> PageResult {
    let body = templates.render("protected.html", Page::new(Some(&user)))?;
    Ok(html(StatusCode::OK, body))
}

#[require_login(role = Role::Admin)]
async fn admin(
    State(templates): State<Templates>,
    CurrentUser(user): CurrentUser<User>,
) -> PageResult {
    let body = templates.render("admin.html", Page::new(Some(&user)))?;
    Ok(html(StatusCode::OK, body))
}

#[require_login]
async fn password_page(
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
        templates.render("password.html", page)?,
    ))
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current_password: Option<SecretString>,
    #[serde(default)]
    new_password: Option<SecretString>,
}

#[require_login]
async fn change_password(
    State(templates): State<Templates>,
    mut auth: Auth,
    CurrentUser(user): CurrentUser<User>,
    Form(form): Form<PasswordForm>,
) -> PageResult {
    let empty = || SecretString::from("");
    let current = form.current_password.unwrap_or_else(empty);
    let new = form.new_password.unwrap_or_else(empty);
    let hash = SqlxUser::<Sqlite>::password_hash(&user).to_owned();
    let problem = if !axum_login::password::verify_password(current, hash).await? {
        Some("The current password is wrong.")
    } else if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&new.expose_secret().len()) {
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
            templates.render("password.html", page)?,
        ));
    }
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
