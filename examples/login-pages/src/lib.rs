//! The login surface the store examples serve, written once for any store: a home page that
//! says who is logged in, the login form and its handler, logout, a page for any logged-in user
//! and one for admins.
//!
//! The examples that use it differ in how they keep users, not in their pages: each implements
//! [`PageUser`] for its user type and mounts [`router`] under its `AuthLayer`.
//!
//! ```
//! use axum_login::{PasswordCredentials, UserStore};
//! use example_login_pages::PageUser;
//!
//! // The pages for any store whose users they can show; the app puts its `AuthLayer` over them.
//! fn pages<S>() -> axum::Router
//! where
//!     S: UserStore<Credentials = PasswordCredentials>,
//!     S::User: PageUser,
//! {
//!     example_login_pages::router::<S>()
//! }
//! ```

use axum::{
    Form, Router,
    extract::Query,
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthSession, AuthUser, CurrentUser, PasswordCredentials, UserStore, require_login,
    safe_next,
};
use secrecy::SecretString;
use serde::Deserialize;

/// What the pages show of a user.
pub trait PageUser: AuthUser {
    /// The name the user logs in with.
    fn username(&self) -> &str;
    /// The name of the user's role, as the role's `#[derive(Role)]` spells it.
    fn role_name(&self) -> &'static str;
}

/// The one message for every failed login: it must not tell an unknown user from a wrong
/// password.
const LOGIN_FAILED: &str = "Wrong username or password.";

/// The routes, for an app whose layer runs on store `S`.
///
/// Serve them with `into_make_service_with_connect_info::<SocketAddr>()`, so that failed
/// logins are also throttled per client address.
pub fn router<S>() -> Router
where
    S: UserStore<Credentials = PasswordCredentials>,
    S::User: PageUser,
{
    Router::new()
        .route("/", get(home::<S::User>))
        .route("/login", get(login_page).post(login::<S>))
        .route("/logout", post(logout::<S>))
        .route("/protected", get(protected::<S::User>))
        .route("/admin", get(admin::<S::User>))
}

/// `text` with the characters that mean something in HTML replaced by entities.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: navigation (with the logout form when `user`, a username, is logged in) and
/// `content`.
fn page(status: StatusCode, title: &str, user: Option<&str>, content: &str) -> Response {
    let account = match user {
        Some(user) => format!(
            r#"<form method="post" action="/logout"><span id="who">{}</span> <button type="submit">Log out</button></form>"#,
            escape(user)
        ),
        None => r#"<a href="/login">Log in</a>"#.to_owned(),
    };
    let body = format!(
        r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title} - axum-login</title></head>
<body>
<nav><a href="/">Home</a> <a href="/protected">Protected</a> <a href="/admin">Admin</a> {account}</nav>
<main>
{content}
</main>
</body>
</html>
"#
    );
    (status, Html(body)).into_response()
}

fn who<U: PageUser>(user: &U) -> String {
    format!(
        "Logged in as <strong>{}</strong> (role: {}).",
        escape(user.username()),
        user.role_name()
    )
}

async fn home<U: PageUser>(user: Option<CurrentUser<U>>) -> Response {
    let user = user.map(|CurrentUser(user)| user);
    let content = match &user {
        Some(user) => format!("<h1>Home</h1>\n<p>{}</p>", who(user)),
        None => "<h1>Home</h1>\n<p>Nobody is logged in.</p>".to_owned(),
    };
    page(
        StatusCode::OK,
        "Home",
        user.as_ref().map(PageUser::username),
        &content,
    )
}

/// The login form; `next` is put into the hidden field only when it is safe to redirect to.
fn login_form(status: StatusCode, flash: Option<&str>, next: &str) -> Response {
    let flash = flash.map_or_else(String::new, |message| {
        format!(r#"<p class="flash" role="alert">{}</p>"#, escape(message))
    });
    let next = escape(safe_next(next).unwrap_or_default());
    let content = format!(
        r#"<h1>Log in</h1>
{flash}
<form method="post" action="/login">
<input type="hidden" name="next" value="{next}">
<label>Username <input type="text" name="username" autocomplete="username" required autofocus></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form>"#
    );
    page(status, "Log in", None, &content)
}

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

async fn login_page(Query(query): Query<NextQuery>) -> Response {
    login_form(StatusCode::OK, None, &query.next)
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

/// `AuthError` answers for itself: `403` for a cross-site login, `500` with a generic body
/// (the cause logged) for a failing store.
async fn login<S>(
    mut auth: AuthSession<S>,
    Form(form): Form<LoginForm>,
) -> Result<Response, AuthError>
where
    S: UserStore<Credentials = PasswordCredentials>,
{
    let credentials = PasswordCredentials {
        username: form.username,
        password: form.password.unwrap_or_else(|| SecretString::from("")),
    };
    // Unknown users, wrong passwords, over-long input and throttled attempts are all `None`.
    match auth.authenticate(credentials).await? {
        Some(user) => {
            auth.login(&user).await?;
            let to = safe_next(&form.next).unwrap_or("/");
            Ok(Redirect::to(to).into_response())
        }
        None => Ok(login_form(
            StatusCode::UNAUTHORIZED,
            Some(LOGIN_FAILED),
            &form.next,
        )),
    }
}

async fn logout<S: UserStore>(mut auth: AuthSession<S>) -> Result<Redirect, AuthError> {
    auth.logout().await?;
    Ok(Redirect::to("/login"))
}

#[require_login]
async fn protected<U: PageUser>(CurrentUser(user): CurrentUser<U>) -> Response {
    let content = format!(
        "<h1>Protected</h1>\n<p>Any logged-in user sees this page. {}</p>",
        who(&user)
    );
    page(StatusCode::OK, "Protected", Some(user.username()), &content)
}

// By name: the pages serve user types of several crates, each with a role enum of its own.
#[require_login(role = "admin")]
async fn admin<U: PageUser>(CurrentUser(user): CurrentUser<U>) -> Response {
    let content = format!(
        "<h1>Admin</h1>\n<p>Only admins see this page. {}</p>",
        who(&user)
    );
    page(StatusCode::OK, "Admin", Some(user.username()), &content)
}
