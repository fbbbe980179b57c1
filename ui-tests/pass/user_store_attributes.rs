//! Every `#[user_store(...)]` option together; the `SqlxUser` impl itself is exercised against
//! real databases in `axum-login/tests/sqlx_store.rs`.

use axum_login::{AuthUser, Role, UserStore};
use secrecy::SecretString;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Role)]
enum Access {
    #[role(implies(Viewer))]
    Admin,
    Viewer,
}

#[derive(Clone, Debug, AuthUser, UserStore)]
#[user_store(
    table = "auth.accounts",
    roles_table = "account_roles",
    permissions_table = "account_grants",
    user_id_column = "account_id",
    role_column = "role_name",
    permission_column = "grant_name",
    load_query = "SELECT * FROM auth.accounts WHERE account_id = $1",
    authenticate_query = "SELECT * FROM auth.accounts WHERE lower(email) = lower($1)"
)]
struct Account {
    #[auth(id, column = "account_id")]
    id: i64,
    #[auth(username, column = "email")]
    email: String,
    #[auth(password_hash, column = "pw")]
    password_hash: SecretString,
    #[auth(roles)]
    roles: Vec<Access>,
    #[auth(permissions)]
    permissions: Vec<String>,
    #[auth(column = "shown_name")]
    display_name: String,
    #[user_store(skip)]
    cached_avatar: Option<Vec<u8>>,
}

// The role column form.
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

fn main() {
    let _ = (Account::id, User::id);
}
