//! The sqlx store behind `AuthLayer`: a password change through `SqlxStore::set_password` ends the
//! user's other sessions and keeps the one that made it.
#![allow(clippy::unwrap_used)]

use axum::{
    Router,
    body::Body,
    extract::Path,
    http::{Request, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use axum_login::{AuthLayer, AuthSession, CurrentUser, PasswordCredentials, SessionKey, SqlxStore};
use tower_sessions::{MemoryStore, SessionManagerLayer};

use axum_login_tests::{login::log_in, users::User};

type Store = SqlxStore<User, sqlx::Sqlite>;

async fn login(
    mut auth: AuthSession<Store>,
    Path((username, password)): Path<(String, String)>,
) -> Response {
    let credentials = PasswordCredentials::new(username, password);
    match log_in(&mut auth, credentials).await.unwrap() {
        Some(_) => "logged in".into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn me(CurrentUser(user): CurrentUser<User>) -> String {
    user.username
}

async fn change_password(
    mut auth: AuthSession<Store>,
    CurrentUser(user): CurrentUser<User>,
    Path(new): Path<String>,
) -> &'static str {
    let user = auth
        .store()
        .set_password(&user.id, new.into())
        .await
        .unwrap()
        .unwrap();
    auth.update_session_auth_hash(&user).await.unwrap();
    "changed"
}

/// A browser with one cookie, talking to the router in process.
struct Client {
    router: Router,
    cookie: Option<String>,
}

impl Client {
    async fn get(&mut self, path: &str) -> StatusCode {
        use tower_service::Service;
        let mut request = Request::get(path).header(header::ACCEPT, "application/json");
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let mut service = self.router.clone();
        std::future::poll_fn(|cx| Service::<Request<Body>>::poll_ready(&mut service, cx))
            .await
            .unwrap();
        let response = service
            .call(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        // The session cookie (tower-sessions' `id`); a login also sets a device cookie.
        let session = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|cookie| cookie.to_str().unwrap().split(';').next())
            .find(|pair| pair.starts_with("id="));
        if let Some(pair) = session {
            self.cookie = Some(pair.to_owned());
        }
        response.status()
    }
}

#[tokio::test]
async fn set_password_ends_the_other_sessions_and_keeps_this_one() {
    let db = axum_login_tests::db::sqlite_file().await.unwrap();
    let store = Store::new(db.pool.clone());
    sqlx::raw_sql(store.schema())
        .execute(store.pool())
        .await
        .unwrap();
    store
        .create_user("ferris", "hunter42".to_owned().into())
        .await
        .unwrap();
    let router = Router::new()
        .route("/login/{username}/{password}", get(login))
        .route("/me", get(me))
        .route("/password/{new}", get(change_password))
        .layer(
            AuthLayer::builder(
                store.clone(),
                SessionManagerLayer::new(MemoryStore::default()).with_secure(false),
            )
            .session_key(SessionKey::generate())
            .build(),
        );
    let mut laptop = Client {
        router: router.clone(),
        cookie: None,
    };
    let mut phone = Client {
        router,
        cookie: None,
    };
    assert_eq!(laptop.get("/login/ferris/hunter42").await, StatusCode::OK);
    assert_eq!(phone.get("/login/ferris/hunter42").await, StatusCode::OK);
    assert_eq!(phone.get("/me").await, StatusCode::OK);

    assert_eq!(laptop.get("/password/correct-horse").await, StatusCode::OK);

    assert_eq!(
        laptop.get("/me").await,
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(
        phone.get("/me").await,
        StatusCode::UNAUTHORIZED,
        "the other session ended"
    );
    assert_eq!(
        phone.get("/login/ferris/hunter42").await,
        StatusCode::UNAUTHORIZED,
        "the old password no longer works"
    );
    assert_eq!(
        phone.get("/login/ferris/correct-horse").await,
        StatusCode::OK
    );
    assert_eq!(phone.get("/me").await, StatusCode::OK);
    db.finish().await;
}
