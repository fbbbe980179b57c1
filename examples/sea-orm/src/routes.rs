//! The pages and form handlers: the demo app's login surface, on either store.

use axum::{
    Form, Router,
    extract::Query,
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthSession, CurrentUser, PasswordCredentials, Role as _, UserStore, require_login,
    safe_next,
};
use secrecy::SecretString;
use serde::Deserialize;

use crate::{Access, User};

/// The one message for every failed login: it must not tell an unknown user from a wrong
/// password.
const LOGIN_FAILED: &str = "Wrong username or password.";

/// The routes, for an app whose layer runs on store `S`: only logging in and out name the store;
/// the other pages ask for the user, whichever store loaded it.
pub(crate) fn router<S>() -> Router
where
    S: UserStore<User = User, Credentials = PasswordCredentials>,
{
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login::<S>))
        .route("/logout", post(logout::<S>))
        .route("/protected", get(protected))
        .route("/admin", get(admin))
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

/// A whole page: navigation (with the logout form when someone is logged in) and `content`.
fn page(status: StatusCode, title: &str, user: Option<&User>, content: &str) -> Response {
    let account = match user {
        Some(user) => format!(
            r#"<form method="post" action="/logout"><span id="who">{}</span> <button type="submit">Log out</button></form>"#,
            escape(&user.username)
        ),
        None => r#"<a href="/login">Log in</a>"#.to_owned(),
    };
    let body = format!(
        r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title} - axum-login on Sea-ORM</title></head>
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

fn who(user: &User) -> String {
    format!(
        "Logged in as <strong>{}</strong> (role: {}).",
        escape(&user.username),
        user.role.as_str()
    )
}

async fn home(user: Option<CurrentUser<User>>) -> Response {
    let user = user.map(|CurrentUser(user)| user);
    let content = match &user {
        Some(user) => format!("<h1>Home</h1>\n<p>{}</p>", who(user)),
        None => "<h1>Home</h1>\n<p>Nobody is logged in.</p>".to_owned(),
    };
    page(StatusCode::OK, "Home", user.as_ref(), &content)
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
    S: UserStore<User = User, Credentials = PasswordCredentials>,
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
async fn protected(CurrentUser(user): CurrentUser<User>) -> Response {
    let content = format!(
        "<h1>Protected</h1>\n<p>Any logged-in user sees this page. {}</p>",
        who(&user)
    );
    page(StatusCode::OK, "Protected", Some(&user), &content)
}

#[require_login(role = Access::Admin)]
async fn admin(CurrentUser(user): CurrentUser<User>) -> Response {
    let content = format!(
        "<h1>Admin</h1>\n<p>Only admins see this page. {}</p>",
        who(&user)
    );
    page(StatusCode::OK, "Admin", Some(&user), &content)
}
