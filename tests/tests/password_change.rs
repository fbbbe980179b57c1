//! The README's password change, over HTTP: a new password the store refuses (empty, over
//! `MAX_PASSWORD_LEN`) is the request's mistake, a `422`, and a change that fails after the
//! current password was checked (`reauthenticate`) leaves the user logged in.
#![allow(clippy::unwrap_used)]

use axum::{
    Form, Router,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_login::{
    AuthError, AuthLayer, AuthSession, AuthUser, CurrentUser, PasswordCredentials, Role, SqlxStore,
    UserStore, credentials::MAX_PASSWORD_LEN, require_login, session::MemoryStore, session_layer,
};
use axum_login_tests::{
    http::{browser, serve},
    login::{Ok200, login},
};
use secrecy::SecretString;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    #[role(implies(User))]
    Admin,
    User,
}

#[derive(Clone, Debug, AuthUser, UserStore)]
#[user_store(table = "users")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
    #[auth(role)]
    role: Access,
}

type Store = SqlxStore<User, sqlx::Sqlite>;

#[require_login]
async fn dashboard(CurrentUser(user): CurrentUser<User>) -> String {
    format!("hello {}", user.username)
}

#[derive(serde::Deserialize)]
struct PasswordChange {
    current_password: SecretString,
    new_password: SecretString,
}

/// The README's handler, as written there.
#[require_login]
async fn change_password(
    mut auth: AuthSession<Store>,
    CurrentUser(user): CurrentUser<User>,
    Form(form): Form<PasswordChange>,
) -> Result<Response, AuthError> {
    let current = PasswordCredentials {
        username: user.username.clone(),
        password: form.current_password,
    };
    if !auth.reauthenticate(current).await? {
        return Ok((StatusCode::UNAUTHORIZED, "wrong password").into_response());
    }
    let changed = auth.store().set_password(&user.id, form.new_password).await;
    match changed.map_err(AuthError::store)? {
        Some(user) => auth.update_session_auth_hash(&user).await?,
        None => return Ok(StatusCode::NOT_FOUND.into_response()),
    }
    Ok("changed".into_response())
}

/// The same change with `?` straight on the store's error.
#[require_login]
async fn change_password_with_question_mark(
    mut auth: AuthSession<Store>,
    CurrentUser(user): CurrentUser<User>,
    Form(form): Form<PasswordChange>,
) -> Result<Response, AuthError> {
    let current = PasswordCredentials {
        username: user.username.clone(),
        password: form.current_password,
    };
    if !auth.reauthenticate(current).await? {
        return Ok((StatusCode::UNAUTHORIZED, "wrong password").into_response());
    }
    let Some(user) = auth
        .store()
        .set_password(&user.id, form.new_password)
        .await?
    else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    auth.update_session_auth_hash(&user).await?;
    Ok("changed".into_response())
}

struct App {
    base: String,
    store: Store,
}

impl App {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn logged_in(&self) -> reqwest::Client {
        let client = browser();
        let response = client
            .post(self.url("/login"))
            .form(&[("username", "ferris"), ("password", "hunter42")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        client
    }

    async fn change(
        &self,
        client: &reqwest::Client,
        path: &str,
        new: &str,
    ) -> (StatusCode, String) {
        let response = client
            .post(self.url(path))
            .form(&[("current_password", "hunter42"), ("new_password", new)])
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// The dashboard as `client` sees it: its status and body.
    async fn dashboard(&self, client: &reqwest::Client) -> (StatusCode, String) {
        let response = client
            .get(self.url("/"))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }
}

async fn app() -> App {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, \
         username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, role TEXT NOT NULL DEFAULT 'user')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let store = Store::new(pool);
    store
        .create_user("ferris", SecretString::from("hunter42"))
        .await
        .unwrap();
    let layer = AuthLayer::builder(
        store.clone(),
        session_layer(MemoryStore::default()).with_secure(false),
    )
    .build();
    let router = Router::new()
        .route("/", get(dashboard))
        .route("/login", post(login::<Store, Ok200>))
        .route("/password", post(change_password))
        .route("/password-q", post(change_password_with_question_mark))
        .layer(layer);
    App {
        base: format!("http://{}", serve(router).await),
        store,
    }
}

#[tokio::test]
async fn an_over_long_or_empty_new_password_is_a_422_and_the_user_stays_logged_in() {
    let app = app().await;
    let too_long = "x".repeat(MAX_PASSWORD_LEN + 1);
    for path in ["/password", "/password-q"] {
        for (new, says) in [(too_long.as_str(), "longer than 1024 bytes"), ("", "empty")] {
            let client = app.logged_in().await;
            let (status, body) = app.change(&client, path, new).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
            assert!(body.contains(says), "{path}: {body}");
            assert_eq!(
                app.dashboard(&client).await,
                (StatusCode::OK, "hello ferris".to_owned()),
                "{path}: still logged in"
            );
        }
    }
    // The password did not change.
    app.logged_in().await;
}

#[tokio::test]
async fn a_password_change_that_fails_after_reauthenticating_keeps_the_user_logged_in() {
    let app = app().await;
    let client = app.logged_in().await;
    // The database refuses the new hash: the change fails after the current password passed.
    sqlx::query(
        "CREATE TRIGGER no_new_hashes BEFORE UPDATE OF password_hash ON users \
         BEGIN SELECT RAISE(FAIL, 'read-only for this test'); END",
    )
    .execute(app.store.pool())
    .await
    .unwrap();
    let (status, body) = app.change(&client, "/password", "a-new-password").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body, "Internal Server Error", "no internals in the body");
    assert_eq!(
        app.dashboard(&client).await,
        (StatusCode::OK, "hello ferris".to_owned()),
        "the failed change left the user logged in"
    );
}
