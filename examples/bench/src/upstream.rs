//! axum-login 0.18's side: an `AuthnBackend` + `AuthzBackend` over the same user tables, as its
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
use tower_sessions::{SessionManagerLayer, SessionStore};

use crate::{
    Credentials,
    db::{Calls, Users, verify},
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
    pool: Users,
    calls: Calls,
}

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = Credentials;
    type Error = sqlx::Error;

    async fn authenticate(&self, credentials: Credentials) -> Result<Option<User>, sqlx::Error> {
        let row = self.pool.user_by_name(&credentials.username).await?;
        let Some((id, password_hash)) = row else {
            return Ok(None);
        };
        Ok(verify(credentials.password, password_hash.clone())
            .await
            .then_some(User { id, password_hash }))
    }

    async fn get_user(&self, id: &i64) -> Result<Option<User>, sqlx::Error> {
        self.calls.bump();
        let row = self.pool.user_by_id(*id).await?;
        Ok(row.map(|(id, password_hash)| User { id, password_hash }))
    }
}

impl AuthzBackend for Backend {
    type Permission = String;

    async fn get_user_permissions(&self, user: &User) -> Result<HashSet<String>, sqlx::Error> {
        self.calls.bump();
        Ok(self
            .pool
            .user_permissions(user.id)
            .await?
            .into_iter()
            .collect())
    }

    async fn get_group_permissions(&self, user: &User) -> Result<HashSet<String>, sqlx::Error> {
        self.calls.bump();
        Ok(self
            .pool
            .group_permissions(user.id)
            .await?
            .into_iter()
            .collect())
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

/// The app over `sessions`.
pub(crate) fn app<S>(pool: Users, sessions: S) -> (Router, Calls)
where
    S: SessionStore + Clone,
{
    let calls = Calls::default();
    let backend = Backend {
        pool,
        calls: calls.clone(),
    };
    let sessions = SessionManagerLayer::new(sessions).with_secure(false);
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
