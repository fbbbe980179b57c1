//! axum-login 0.18's side: an `AuthnBackend` + `AuthzBackend` over the same SQLite tables, as its
//! own examples write one (user permissions and group permissions, one query each), and its
//! server with `login_required!` and `permission_required!`.

use std::collections::HashSet;

use axum::{
    Form, Router,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_login_upstream::{
    AuthManagerLayerBuilder, AuthSession, AuthUser, AuthnBackend, AuthzBackend, login_required,
    permission_required,
};
use sqlx::SqlitePool;
use tower_sessions::{MemoryStore, SessionManagerLayer};

use crate::{
    Credentials,
    db::{Calls, verify},
};

#[derive(Clone, Debug)]
pub(crate) struct User {
    id: i64,
    password_hash: String,
}

impl AuthUser for User {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        self.password_hash.as_bytes()
    }
}

#[derive(Clone)]
pub(crate) struct Backend {
    pool: SqlitePool,
    calls: Calls,
}

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = Credentials;
    type Error = sqlx::Error;

    async fn authenticate(&self, credentials: Credentials) -> Result<Option<User>, sqlx::Error> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT id, password_hash FROM users WHERE username = ?")
                .bind(&credentials.username)
                .fetch_optional(&self.pool)
                .await?;
        let Some((id, password_hash)) = row else {
            return Ok(None);
        };
        Ok(verify(credentials.password, password_hash.clone())
            .await
            .then_some(User { id, password_hash }))
    }

    async fn get_user(&self, id: &i64) -> Result<Option<User>, sqlx::Error> {
        self.calls.bump();
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT id, password_hash FROM users WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(id, password_hash)| User { id, password_hash }))
    }
}

impl AuthzBackend for Backend {
    type Permission = String;

    async fn get_user_permissions(&self, user: &User) -> Result<HashSet<String>, sqlx::Error> {
        self.calls.bump();
        let names: Vec<(String,)> =
            sqlx::query_as("SELECT name FROM user_permissions WHERE user_id = ?")
                .bind(user.id)
                .fetch_all(&self.pool)
                .await?;
        Ok(names.into_iter().map(|(name,)| name).collect())
    }

    async fn get_group_permissions(&self, user: &User) -> Result<HashSet<String>, sqlx::Error> {
        self.calls.bump();
        let names: Vec<(String,)> = sqlx::query_as(
            "SELECT gp.name FROM group_permissions gp
                JOIN user_groups g ON g.group_name = gp.group_name
                WHERE g.user_id = ?",
        )
        .bind(user.id)
        .fetch_all(&self.pool)
        .await?;
        Ok(names.into_iter().map(|(name,)| name).collect())
    }
}

async fn login(mut auth: AuthSession<Backend>, Form(credentials): Form<Credentials>) -> Response {
    match auth.authenticate(credentials).await {
        Ok(Some(user)) => match auth.login(&user).await {
            Ok(()) => "logged in".into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Ok(None) => StatusCode::UNAUTHORIZED.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

pub(crate) fn app(pool: SqlitePool) -> (Router, Calls) {
    let calls = Calls::default();
    let backend = Backend {
        pool,
        calls: calls.clone(),
    };
    let sessions = SessionManagerLayer::new(MemoryStore::default()).with_secure(false);
    let guarded = Router::new()
        .route("/guarded", get(crate::hello))
        .route_layer(login_required!(Backend));
    let three = Router::new()
        .route("/three", get(crate::hello))
        .route_layer(permission_required!(Backend, "a", "b", "c"));
    let router = Router::new()
        .route("/login", post(login))
        .route("/public", get(crate::hello))
        .merge(guarded)
        .merge(three)
        .layer(AuthManagerLayerBuilder::new(backend, sessions).build());
    (router, calls)
}
