//! A user type without a password hash (single sign-on, a directory) binds its sessions to a
//! security stamp: when an account is deleted and its id handed to a new account, the old
//! account's sessions do not become the new one's; changing the stamp ends the sessions.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex},
};

use axum::{
    Form, Router,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use axum_login::{
    AuthLayer, AuthSession, AuthUser, CurrentUser, UserStore, session::MemoryStore, session_layer,
};
use axum_login_tests::http::{Visitor, serve_with_addr};
use reqwest::StatusCode;

/// A user signed in by an identity provider: no password hash here.
#[derive(Clone, Debug, AuthUser)]
struct SsoUser {
    #[auth(id)]
    id: u64,
    name: String,
    /// A random token set when the account is made.
    #[auth(security_stamp)]
    stamp: String,
}

/// The same without a stamp: what the stamp guards against.
#[derive(Clone, Debug, AuthUser)]
struct StamplessUser {
    #[auth(id)]
    id: u64,
    name: String,
}

/// Accounts by id; `authenticate` takes the id (the provider vouched for it).
#[derive(Clone)]
struct Directory<U> {
    users: Arc<Mutex<HashMap<u64, U>>>,
}

impl<U: AuthUser<Id = u64>> Directory<U> {
    fn new() -> Self {
        Self {
            users: Arc::default(),
        }
    }

    fn put(&self, user: U) {
        self.users.lock().expect("lock").insert(user.id(), user);
    }

    fn delete(&self, id: u64) {
        self.users.lock().expect("lock").remove(&id);
    }
}

impl<U: AuthUser<Id = u64>> UserStore for Directory<U> {
    type User = U;
    type Credentials = u64;
    type Error = Infallible;

    async fn authenticate(&self, id: u64) -> Result<Option<U>, Infallible> {
        Ok(self.users.lock().expect("lock").get(&id).cloned())
    }

    async fn load_user(&self, id: &u64) -> Result<Option<U>, Infallible> {
        Ok(self.users.lock().expect("lock").get(id).cloned())
    }
}

#[derive(serde::Deserialize)]
struct Login {
    username: u64,
}

async fn login<U: AuthUser<Id = u64>>(
    mut auth: AuthSession<Directory<U>>,
    Form(form): Form<Login>,
) -> Response {
    match auth.authenticate(form.username).await {
        Ok(Some(user)) => match auth.login(&user).await {
            Ok(()) => StatusCode::SEE_OTHER.into_response(),
            Err(error) => error.into_response(),
        },
        Ok(None) => StatusCode::UNAUTHORIZED.into_response(),
        Err(error) => error.into_response(),
    }
}

async fn sso_me(user: Option<CurrentUser<SsoUser>>) -> String {
    user.map_or_else(|| "anonymous".to_owned(), |CurrentUser(user)| user.name)
}

async fn stampless_me(user: Option<CurrentUser<StamplessUser>>) -> String {
    user.map_or_else(|| "anonymous".to_owned(), |CurrentUser(user)| user.name)
}

async fn serve(router: Router) -> String {
    format!("http://{}", serve_with_addr(router).await)
}

#[tokio::test]
async fn a_reused_id_does_not_inherit_the_deleted_accounts_sessions() {
    let directory = Directory::<SsoUser>::new();
    directory.put(SsoUser {
        id: 1,
        name: "alice".into(),
        stamp: "stamp-of-alice".into(),
    });
    let layer =
        AuthLayer::builder(directory.clone(), session_layer(MemoryStore::default())).build();
    let base = serve(
        Router::new()
            .route("/login", post(login::<SsoUser>))
            .route("/me", get(sso_me))
            .layer(layer),
    )
    .await;
    let alice = Visitor::new(&base);
    alice.login("1", "").await;
    assert_eq!(alice.whoami().await, "alice");

    directory.delete(1);
    directory.put(SsoUser {
        id: 1,
        name: "bob".into(),
        stamp: "stamp-of-bob".into(),
    });
    assert_eq!(
        alice.whoami().await,
        "anonymous",
        "the deleted account's session became the new account's"
    );

    // A new stamp on a live account ends its sessions too.
    let bob = Visitor::new(&base);
    bob.login("1", "").await;
    assert_eq!(bob.whoami().await, "bob");
    directory.put(SsoUser {
        id: 1,
        name: "bob".into(),
        stamp: "new-stamp".into(),
    });
    assert_eq!(bob.whoami().await, "anonymous");
}

/// The control: with neither a hash nor a stamp, the old session passes as the new account.
#[tokio::test]
async fn without_a_stamp_a_reused_id_would_inherit_the_sessions() {
    let directory = Directory::<StamplessUser>::new();
    directory.put(StamplessUser {
        id: 1,
        name: "alice".into(),
    });
    let layer =
        AuthLayer::builder(directory.clone(), session_layer(MemoryStore::default())).build();
    let base = serve(
        Router::new()
            .route("/login", post(login::<StamplessUser>))
            .route("/me", get(stampless_me))
            .layer(layer),
    )
    .await;
    let alice = Visitor::new(&base);
    alice.login("1", "").await;
    directory.delete(1);
    directory.put(StamplessUser {
        id: 1,
        name: "bob".into(),
    });
    assert_eq!(alice.whoami().await, "bob");
}
