//! The code `#[derive(UserStore)]` generates is lint-clean under the lints a strict app denies,
//! in every form: role column, roles and permissions tables, renamed columns, custom queries,
//! skipped fields, a generic struct.
#![cfg(feature = "sqlx")]
#![deny(
    warnings,
    unused,
    nonstandard_style,
    rust_2018_idioms,
    missing_docs,
    unreachable_pub,
    unused_qualifications,
    unused_results,
    trivial_casts,
    single_use_lifetimes,
    let_underscore_drop,
    missing_debug_implementations
)]

/// Types that derive the store, as an app's would.
pub mod model {
    use axum_login::{AuthUser, Role, UserStore};
    use secrecy::SecretString;

    /// Roles.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Role)]
    pub enum Access {
        /// Everything.
        Admin,
        /// Some things.
        Member,
    }

    /// The role in a column.
    #[derive(Clone, Debug, AuthUser, UserStore)]
    #[user_store(table = "users")]
    pub struct User {
        /// Id.
        #[auth(id)]
        pub id: i64,
        /// Login name.
        #[auth(username)]
        pub username: String,
        /// Hash.
        #[auth(password_hash)]
        pub password_hash: SecretString,
        /// Role.
        #[auth(role)]
        pub role: Access,
    }

    /// Everything else.
    #[derive(Clone, Debug, AuthUser, UserStore)]
    #[user_store(
        table = "auth.accounts",
        roles_table = "account_roles",
        permissions_table = "account_permissions",
        user_id_column = "account",
        role_column = "name",
        permission_column = "name",
        load_query = "SELECT * FROM auth.accounts WHERE account_id = $1",
        authenticate_query = "SELECT * FROM auth.accounts WHERE lower(email) = lower($1)"
    )]
    pub struct Account {
        /// Id.
        #[auth(id, column = "account_id")]
        pub id: i64,
        /// Login name.
        #[auth(username, column = "email")]
        pub email: String,
        /// Hash, `NULL` for accounts that log in elsewhere.
        #[auth(password_hash, column = "pw", allow_plain_string)]
        pub password_hash: Option<String>,
        /// Roles.
        #[auth(roles)]
        pub roles: Vec<Access>,
        /// Permissions.
        #[auth(permissions)]
        pub permissions: std::collections::HashSet<String>,
        /// Not stored.
        #[user_store(skip)]
        pub scratch: Option<u32>,
    }

    /// A generic user.
    #[derive(Clone, Debug, AuthUser, UserStore)]
    #[user_store(table = "members")]
    pub struct Member<T: Clone + Send + Sync + Unpin + 'static> {
        /// Id.
        #[auth(id)]
        pub id: i64,
        /// Login name.
        #[auth(username)]
        pub username: String,
        /// Hash.
        #[auth(password_hash, allow_plain_string)]
        pub password_hash: String,
        /// Extra.
        pub extra: T,
    }
}

#[test]
fn derived_stores_are_stores_on_every_database() {
    fn is_store<S: axum_login::UserStore>() {}
    is_store::<axum_login::SqlxStore<model::User, sqlx::Sqlite>>();
    is_store::<axum_login::SqlxStore<model::Account, sqlx::Postgres>>();
    is_store::<axum_login::SqlxStore<model::Member<String>, sqlx::MySql>>();
    assert_eq!(
        <model::Account as axum_login::sqlx::SqlxUser<sqlx::Postgres>>::TABLE.username_column(),
        "email"
    );
}
