//! `examples/sled` over HTTP: its login surface on a sled database in a temporary directory, and
//! what the store keeps there.

use axum_login::{PasswordCredentials, UserStore};
use axum_login_tests::{http::serve_with_addr as serve, login_surface::check_login_surface};
use example_sled::{Access, App, Config};

async fn start(dir: &tempfile::TempDir) -> App {
    App::new(Config {
        path: dir.path().join("db"),
        session_key: None,
    })
    .await
    .expect("the example starts on a fresh directory")
}

#[tokio::test]
async fn sled_example_serves_the_login_surface() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let app = start(&dir).await;
    check_login_surface(serve(app.router()).await).await;
}

#[tokio::test]
async fn sled_example_keeps_its_users_across_restarts_and_loads_them_in_one_batch() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let app = start(&dir).await;
    let store = app.store().clone();
    let ferris = store
        .authenticate(PasswordCredentials::new("ferris", "hunter42"))
        .await
        .expect("authenticate")
        .expect("ferris is seeded");
    assert_eq!(ferris.role, Access::User);
    drop((store, app));

    // sled holds a lock on its directory until every handle is gone: the cleanup task's ends
    // when the app drops it, shortly after.
    let mut reopened = None;
    for _ in 0..50 {
        match App::new(Config {
            path: dir.path().join("db"),
            session_key: None,
        })
        .await
        {
            Ok(app) => {
                reopened = Some(app);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    let app = reopened.expect("the database opens again");
    let users = app
        .store()
        .load_users(&[ferris.id, u64::MAX, ferris.id + 1_000_000])
        .await
        .expect("load_users");
    assert_eq!(
        users
            .iter()
            .map(|user| user.as_ref().map(|user| user.username.as_str()))
            .collect::<Vec<_>>(),
        [Some("ferris"), None, None],
        "the seeded user is still there, and seeding did not create it twice"
    );
    const { assert!(<example_sled::SledStore as UserStore>::BATCHED_LOADS) };
}
