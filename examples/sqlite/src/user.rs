//! The demo's user and its roles. `#[derive(UserStore)]` tells `SqlxStore` how to read them from
//! the `users` table.

use axum_login::{AuthUser, Role, UserStore};
use secrecy::SecretString;

/// What a user may do. Stored by name (`user`, `admin`) in `users.role`.
///
/// Not called `Role`, so that it does not shadow the `axum_login::Role` derive it uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Role)]
pub enum Access {
    /// Any logged-in user.
    User,
    /// May open `/admin`; passes every check for [`Access::User`] too.
    #[role(implies(User))]
    Admin,
}

/// A row of `users`.
///
/// The password hash is a [`SecretString`], so `{:?}` never prints it; the session keeps only a
/// keyed digest of it, so changing it ends the user's other sessions.
#[derive(Clone, Debug, AuthUser, UserStore)]
#[user_store(table = "users")]
pub struct User {
    /// The primary key.
    #[auth(id)]
    pub id: i64,
    /// The name the user logs in with.
    #[auth(username)]
    pub username: String,
    #[auth(password_hash)]
    password_hash: SecretString,
    /// What the user may do.
    #[auth(role)]
    pub role: Access,
    /// Where mail for the account goes (a password-reset link); `None` for a user without one.
    #[auth(email)]
    pub email: Option<String>,
    /// Whether the address was confirmed with the mailed link.
    #[auth(email_verified)]
    pub email_verified: bool,
}
