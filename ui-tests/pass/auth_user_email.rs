//! `#[auth(email)]`: a `String` or an `Option<String>` field, alone or on the username field,
//! gives `EmailUser`; with `#[derive(UserStore)]` the store finds users by it.

use axum_login::{AuthUser, SqlxStore, UserStore, accounts::EmailUser};
use secrecy::SecretString;

#[derive(Clone, Debug, AuthUser, UserStore)]
#[user_store(table = "users")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
    #[auth(email, column = "mail")]
    email: Option<String>,
}

/// Logs in by address: one field is both.
#[derive(Clone, Debug, AuthUser, UserStore)]
#[user_store(table = "members")]
struct Member {
    #[auth(id)]
    id: i64,
    #[auth(username, email)]
    email: String,
    #[auth(password_hash)]
    password_hash: SecretString,
}

fn email_of<U: EmailUser>(user: &U) -> Option<&str> {
    user.email()
}

async fn find(store: &SqlxStore<User, sqlx::Sqlite>) -> Option<User> {
    store.find_by_email("ferris@example.com").await.ok().flatten()
}

fn main() {
    let member = Member {
        id: 1,
        email: "ferris@example.com".to_owned(),
        password_hash: SecretString::from("hash"),
    };
    assert_eq!(email_of(&member), Some("ferris@example.com"));
    let user = User {
        id: 2,
        username: "ferris".to_owned(),
        password_hash: SecretString::from("hash"),
        email: None,
    };
    assert_eq!(email_of(&user), None);
    let _ = find;
}
