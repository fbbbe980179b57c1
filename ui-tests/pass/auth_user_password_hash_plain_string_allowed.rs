//! A `String` password hash, knowingly: no `Debug` here prints it.

use axum_login::{AuthUser, UserStore};

#[derive(Clone, AuthUser, UserStore)]
#[user_store(table = "users")]
struct User {
    #[auth(id)]
    id: i64,
    #[auth(username)]
    username: String,
    #[auth(password_hash, allow_plain_string)]
    password_hash: String,
}

fn main() {
    let user = User {
        id: 1,
        username: "ferris".into(),
        password_hash: "$argon2id$...".into(),
    };
    assert_eq!(user.session_auth_hash(), b"$argon2id$...");
    assert_eq!(user.username, "ferris");
}
