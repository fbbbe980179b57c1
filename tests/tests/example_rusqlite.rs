//! `examples/rusqlite` over HTTP: its login surface on a SQLite file in a temporary directory,
//! users through rusqlite and sessions through sqlx in the same file.

use axum_login::{PasswordCredentials, UserStore};
use axum_login_tests::{
    http::serve_with_addr as serve, login_surface::Browser, login_surface::check_login_surface,
};
use example_rusqlite::{Access, App, Config};

async fn start(dir: &tempfile::TempDir) -> App {
    App::new(Config {
        path: dir.path().join("example.db"),
        session_key: None,
    })
    .await
    .expect("the example starts on a fresh file")
}

#[tokio::test]
async fn rusqlite_example_serves_the_login_surface() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let app = start(&dir).await;
    check_login_surface(serve(app.router()).await).await;
}

#[tokio::test]
async fn rusqlite_example_shares_its_file_between_rusqlite_and_sqlx() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let app = start(&dir).await;
    let browser = Browser::new(serve(app.router()).await);
    let response = browser
        .login("admin", "correct-horse-battery", "/admin")
        .await;
    assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER);

    // The users table (rusqlite) and the session (sqlx) are in the one file.
    let file = dir.path().join("example.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("open the example's file");
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&pool)
        .await
        .expect("count users");
    assert_eq!(users, 2);
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tower_sessions")
        .fetch_one(&pool)
        .await
        .expect("count sessions");
    assert_eq!(
        sessions, 1,
        "the login's session is stored in the same file"
    );

    let admin = app
        .store()
        .authenticate(PasswordCredentials::new("admin", "correct-horse-battery"))
        .await
        .expect("authenticate")
        .expect("admin is seeded");
    assert_eq!(admin.role, Access::Admin);
    let users = app
        .store()
        .load_users(&[admin.id, -1])
        .await
        .expect("load_users");
    assert_eq!(users[0].as_ref().map(|user| user.id), Some(admin.id));
    assert!(users[1].is_none());
}
