//! `SqlxStore` against real databases: SQLite (a file and in memory), PostgreSQL and MariaDB.
//!
//! Every test runs on each database, in a schema (PostgreSQL), database (MariaDB) or file of its
//! own. The servers come from `DATABASE_URL_POSTGRES` and `DATABASE_URL_MYSQL`; without them the
//! tests use the local defaults. Outside CI an unreachable server skips its tests loudly; under
//! `CI` it fails them.
#![allow(clippy::unwrap_used)]

use axum_login::{AuthUser, PasswordCredentials, SqlxStore, UserStore, sqlx::SqlxStoreError};
use secrecy::SecretString;

use axum_login_tests::{
    users::Access, users::Account, users::GrantsUser, users::HandUser, users::Level,
    users::TeamUser, users::User,
};

fn creds(username: &str, password: &str) -> PasswordCredentials {
    PasswordCredentials::new(username, password)
}

fn secret(password: &str) -> SecretString {
    SecretString::from(password.to_owned())
}

/// An argon2id hash at weaker parameters than today's, as an older release would have stored.
fn weak_hash(password: &str) -> String {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version, password_hash::SaltString};
    let salt = SaltString::encode_b64(b"fixed-test-salt!").unwrap();
    let params = Params::new(8192, 1, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

fn assert_decode_error(error: SqlxStoreError, column: &str, value: &str) {
    let message = error.to_string();
    match &error {
        SqlxStoreError::Decode { column: c, .. } => assert_eq!(c, column, "{message}"),
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert!(message.contains(column), "{message}");
    assert!(message.contains(value), "{message}");
}

/// The tests, once per database: `$db` is the sqlx database, `$connect` makes a fresh, empty
/// database of that kind (or `None` to skip).
macro_rules! store_tests {
    ($module:ident, $db:ty, $connect:expr) => {
        mod $module {
            use super::*;

            type Db = $db;

            async fn setup() -> Option<(axum_login_tests::db::TestDb<Db>, SqlxStore<User, Db>)> {
                let db = $connect.await?;
                let store = SqlxStore::<User, Db>::new(db.pool.clone());
                sqlx::raw_sql(store.schema())
                    .execute(store.pool())
                    .await
                    .unwrap();
                Some((db, store))
            }

            #[tokio::test]
            async fn authenticate_answers_the_user_for_the_right_password() {
                let Some((db, store)) = setup().await else {
                    return;
                };
                let created = store
                    .create_user("ferris", secret("hunter42"))
                    .await
                    .unwrap();
                let before = store.stats();

                let user = store
                    .authenticate(creds("ferris", "hunter42"))
                    .await
                    .unwrap()
                    .expect("the right password logs in");

                assert_eq!(user.id, created.id);
                assert_eq!(user.username, "ferris");
                assert_eq!(user.role, Level::User, "the column default");
                let after = store.stats();
                assert_eq!(
                    after.queries - before.queries,
                    1,
                    "one query, no join tables"
                );
                assert_eq!(after.hash_verifications - before.hash_verifications, 1);
                db.finish().await;
            }

            #[tokio::test]
            async fn a_wrong_password_and_an_unknown_user_are_none_for_the_same_hash_work() {
                let Some((db, store)) = setup().await else {
                    return;
                };
                store
                    .create_user("ferris", secret("hunter42"))
                    .await
                    .unwrap();

                let before = store.stats();
                assert!(
                    store
                        .authenticate(creds("ferris", "hunter43"))
                        .await
                        .unwrap()
                        .is_none()
                );
                let wrong = store.stats();
                assert!(
                    store
                        .authenticate(creds("nobody", "hunter42"))
                        .await
                        .unwrap()
                        .is_none()
                );
                let unknown = store.stats();

                let wrong_work = wrong.hash_verifications - before.hash_verifications;
                let unknown_work = unknown.hash_verifications - wrong.hash_verifications;
                assert_eq!(wrong_work, 1);
                assert_eq!(
                    unknown_work, wrong_work,
                    "an unknown user costs a verification too"
                );
                assert_eq!(
                    wrong.queries - before.queries,
                    unknown.queries - wrong.queries
                );
                db.finish().await;
            }

            #[tokio::test]
            async fn over_long_credentials_are_refused_without_a_query_or_a_hash() {
                let Some((db, store)) = setup().await else {
                    return;
                };
                store
                    .create_user("ferris", secret("hunter42"))
                    .await
                    .unwrap();
                let before = store.stats();

                let long_password = "x".repeat(axum_login::credentials::MAX_PASSWORD_LEN + 1);
                assert!(
                    store
                        .authenticate(creds("ferris", &long_password))
                        .await
                        .unwrap()
                        .is_none()
                );
                let long_name = "u".repeat(axum_login::credentials::MAX_USERNAME_LEN + 1);
                assert!(
                    store
                        .authenticate(creds(&long_name, "hunter42"))
                        .await
                        .unwrap()
                        .is_none()
                );

                assert_eq!(store.stats(), before, "nothing was queried or hashed");
                db.finish().await;
            }

            #[tokio::test]
            async fn load_user_is_one_query_and_none_for_an_unknown_id() {
                let Some((db, store)) = setup().await else {
                    return;
                };
                let created = store
                    .create_user("ferris", secret("hunter42"))
                    .await
                    .unwrap();
                let before = store.stats();

                let user = store
                    .load_user(&created.id)
                    .await
                    .unwrap()
                    .expect("the user exists");
                assert_eq!(user.username, "ferris");
                assert_eq!(user.session_auth_hash(), created.session_auth_hash());
                assert_eq!(store.stats().queries - before.queries, 1);
                assert!(
                    store
                        .load_user(&(created.id + 1000))
                        .await
                        .unwrap()
                        .is_none()
                );
                db.finish().await;
            }

            #[tokio::test]
            async fn create_user_stores_an_argon2id_hash_and_refuses_a_taken_name() {
                let Some((db, store)) = setup().await else {
                    return;
                };
                let user = store
                    .create_user("ferris", secret("hunter42"))
                    .await
                    .unwrap();
                assert!(
                    user.password_hash
                        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
                );
                assert!(!user.password_hash.contains("hunter42"));

                let again = store.create_user("ferris", secret("other")).await;
                assert!(
                    matches!(again, Err(SqlxStoreError::Database(_))),
                    "{again:?}"
                );
                db.finish().await;
            }

            #[tokio::test]
            async fn set_password_changes_the_session_hash_and_the_old_password_stops_working() {
                let Some((db, store)) = setup().await else {
                    return;
                };
                let user = store
                    .create_user("ferris", secret("hunter42"))
                    .await
                    .unwrap();

                let changed = store
                    .set_password(&user.id, secret("correct-horse"))
                    .await
                    .unwrap()
                    .expect("the user exists");

                assert_ne!(changed.session_auth_hash(), user.session_auth_hash());
                assert!(
                    store
                        .authenticate(creds("ferris", "hunter42"))
                        .await
                        .unwrap()
                        .is_none()
                );
                let again = store
                    .authenticate(creds("ferris", "correct-horse"))
                    .await
                    .unwrap();
                assert_eq!(again.map(|u| u.password_hash), Some(changed.password_hash));
                assert!(
                    store
                        .set_password(&(user.id + 1000), secret("x"))
                        .await
                        .unwrap()
                        .is_none()
                );
                db.finish().await;
            }

            #[tokio::test]
            async fn an_obsolete_hash_is_replaced_on_successful_login() {
                let Some((db, store)) = setup().await else {
                    return;
                };
                let user = store.create_user("ferris", secret("unused")).await.unwrap();
                let old = weak_hash("hunter42");
                sqlx::query::<Db>(&axum_login_tests::db::sql::<Db>(
                    "UPDATE users SET password_hash = $1 WHERE id = $2",
                ))
                .bind(&old)
                .bind(user.id)
                .execute(store.pool())
                .await
                .unwrap();

                assert!(
                    store
                        .authenticate(creds("ferris", "wrong"))
                        .await
                        .unwrap()
                        .is_none()
                );
                let stored = store.load_user(&user.id).await.unwrap().unwrap();
                assert_eq!(stored.password_hash, old, "a failed login rehashes nothing");

                let logged_in = store
                    .authenticate(creds("ferris", "hunter42"))
                    .await
                    .unwrap()
                    .unwrap();
                assert!(
                    logged_in.password_hash.contains("m=19456,t=2,p=1"),
                    "{}",
                    logged_in.password_hash
                );
                let stored = store.load_user(&user.id).await.unwrap().unwrap();
                assert_eq!(
                    stored.password_hash, logged_in.password_hash,
                    "the new hash is saved"
                );
                assert!(
                    store
                        .authenticate(creds("ferris", "hunter42"))
                        .await
                        .unwrap()
                        .is_some()
                );
                db.finish().await;
            }

            #[tokio::test]
            async fn an_unknown_role_in_the_column_is_an_error_naming_column_and_value() {
                let Some((db, store)) = setup().await else {
                    return;
                };
                let user = store
                    .create_user("ferris", secret("hunter42"))
                    .await
                    .unwrap();
                sqlx::query::<Db>("UPDATE users SET role = 'superuser'")
                    .execute(store.pool())
                    .await
                    .unwrap();

                let error = store.load_user(&user.id).await.unwrap_err();
                assert_decode_error(error, "role", "superuser");
                let error = store
                    .authenticate(creds("ferris", "hunter42"))
                    .await
                    .unwrap_err();
                assert_decode_error(error, "role", "superuser");
                db.finish().await;
            }

            #[tokio::test]
            async fn a_database_error_reaches_the_caller_with_its_cause() {
                let Some((db, store)) = setup().await else {
                    return;
                };
                sqlx::raw_sql(
                    "DROP TABLE user_roles; DROP TABLE user_permissions; DROP TABLE users",
                )
                .execute(store.pool())
                .await
                .unwrap();
                let error = store.load_user(&1).await.unwrap_err();
                assert!(matches!(error, SqlxStoreError::Database(_)), "{error:?}");
                assert!(std::error::Error::source(&error).is_some());
                db.finish().await;
            }

            #[tokio::test]
            async fn roles_and_permissions_come_from_their_tables() {
                let Some((db, store)) = setup().await else {
                    return;
                };
                let user = store
                    .create_user("ferris", secret("hunter42"))
                    .await
                    .unwrap();
                let pool = store.pool().clone();
                for (table, column, value) in [
                    ("user_roles", "role", "admin"),
                    ("user_roles", "role", "user"),
                    ("user_permissions", "permission", "posts.read"),
                    ("user_permissions", "permission", "posts.write"),
                    ("user_permissions", "permission", "users.delete"),
                ] {
                    let sql = format!("INSERT INTO {table} (user_id, {column}) VALUES ($1, $2)");
                    sqlx::query::<Db>(&axum_login_tests::db::sql::<Db>(&sql))
                        .bind(user.id)
                        .bind(value)
                        .execute(&pool)
                        .await
                        .unwrap();
                }
                let store = SqlxStore::<GrantsUser, Db>::new(pool);

                let loaded = store.load_user(&user.id).await.unwrap().unwrap();
                assert_eq!(
                    store.stats().queries,
                    3,
                    "the user, its roles, its permissions"
                );
                let mut roles = loaded.roles.clone();
                roles.sort_by_key(|r| axum_login::Role::as_str(r));
                assert_eq!(roles, [Level::Admin, Level::User]);
                let mut permissions = loaded.permissions.clone();
                permissions.sort();
                assert_eq!(permissions, ["posts.read", "posts.write", "users.delete"]);
                assert!(loaded.has_role(axum_login::authz::RoleRef::new(&Level::Admin)));
                assert!(
                    loaded
                        .has_permission(axum_login::authz::PermissionRef::from_name("posts.write"))
                );
                assert!(
                    !loaded
                        .has_permission(axum_login::authz::PermissionRef::from_name("posts.nuke"))
                );

                let logged_in = store
                    .authenticate(creds("ferris", "hunter42"))
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(logged_in.permissions.len(), 3);
                assert_eq!(
                    store.stats().queries,
                    4,
                    "the generated find selects the grants with the user"
                );

                // The generated load query selects them with the user, in one round trip.
                let team = SqlxStore::<TeamUser, Db>::new(store.pool().clone());
                let inline = team.load_user(&user.id).await.unwrap().unwrap();
                assert_eq!(
                    team.stats().queries,
                    1,
                    "the user with its roles and permissions"
                );
                let mut roles: Vec<&str> =
                    inline.roles.iter().map(axum_login::Role::as_str).collect();
                roles.sort_unstable();
                assert_eq!(roles, ["admin", "user"]);
                let mut inline_permissions = inline.permissions.clone();
                inline_permissions.sort();
                assert_eq!(inline_permissions, permissions);
                db.finish().await;
            }

            #[tokio::test]
            async fn load_users_answers_in_order_in_one_query() {
                let Some((db, store)) = setup().await else {
                    return;
                };
                let mut ids = Vec::new();
                for name in ["ann", "bob", "cy"] {
                    ids.push(
                        store
                            .create_user(name, secret("hunter42"))
                            .await
                            .unwrap()
                            .id,
                    );
                }
                let pool = store.pool().clone();
                for (user, table, column, value) in [
                    (ids[0], "user_roles", "role", "admin"),
                    (ids[0], "user_permissions", "permission", "posts.read"),
                    (ids[0], "user_permissions", "permission", "posts.write"),
                    (ids[2], "user_roles", "role", "user"),
                    (ids[2], "user_permissions", "permission", "users.delete"),
                ] {
                    let sql = format!("INSERT INTO {table} (user_id, {column}) VALUES ($1, $2)");
                    sqlx::query::<Db>(&axum_login_tests::db::sql::<Db>(&sql))
                        .bind(user)
                        .bind(value)
                        .execute(&pool)
                        .await
                        .unwrap();
                }
                let store = SqlxStore::<TeamUser, Db>::new(pool.clone());
                assert!(<SqlxStore<TeamUser, Db> as UserStore>::BATCHED_LOADS);

                let missing = ids[2] + 1000;
                let asked = [ids[2], missing, ids[0], ids[1]];
                let users = store.load_users(&asked).await.unwrap();
                assert_eq!(
                    store.stats().queries,
                    1,
                    "the users with their roles and permissions"
                );
                let summary = |u: &TeamUser| {
                    let mut roles: Vec<&str> =
                        u.roles.iter().map(axum_login::Role::as_str).collect();
                    roles.sort_unstable();
                    let mut permissions = u.permissions.clone();
                    permissions.sort();
                    (u.id, u.username.clone(), roles, permissions)
                };
                let batched: Vec<_> = users.iter().map(|u| u.as_ref().map(summary)).collect();
                assert_eq!(
                    batched,
                    [
                        Some((
                            ids[2],
                            "cy".into(),
                            vec!["user"],
                            vec!["users.delete".into()]
                        )),
                        None,
                        Some((
                            ids[0],
                            "ann".into(),
                            vec!["admin"],
                            vec!["posts.read".into(), "posts.write".into()]
                        )),
                        Some((ids[1], "bob".into(), vec![], vec![])),
                    ]
                );
                // Each user is what one load_user gives.
                for (id, user) in asked.iter().zip(&batched) {
                    let alone = store.load_user(id).await.unwrap();
                    assert_eq!(user, &alone.as_ref().map(summary), "user {id}");
                }

                // One id is one load; nobody found is one query.
                let before = store.stats().queries;
                let alone = store.load_users(&[ids[1]]).await.unwrap();
                assert_eq!(alone[0].as_ref().unwrap().username, "bob");
                assert_eq!(store.stats().queries - before, 1);
                let before = store.stats().queries;
                let none = store.load_users(&[missing, missing + 1]).await.unwrap();
                assert!(none.iter().all(Option::is_none));
                assert_eq!(store.stats().queries - before, 1);

                // A custom load query takes one id: a load (three queries) per user found.
                let custom = SqlxStore::<GrantsUser, Db>::new(pool);
                let users = custom.load_users(&asked).await.unwrap();
                assert_eq!(custom.stats().queries, 3 * 3 + 1);
                let found: Vec<Option<(i64, usize)>> = users
                    .iter()
                    .map(|u| u.as_ref().map(|u| (u.id, u.permissions.len())))
                    .collect();
                assert_eq!(
                    found,
                    [
                        Some((ids[2], 1)),
                        None,
                        Some((ids[0], 2)),
                        Some((ids[1], 0))
                    ]
                );
                db.finish().await;
            }

            #[tokio::test]
            async fn an_unknown_role_in_the_roles_table_is_an_error_naming_it() {
                let Some((db, store)) = setup().await else {
                    return;
                };
                let user = store
                    .create_user("ferris", secret("hunter42"))
                    .await
                    .unwrap();
                sqlx::query::<Db>(&axum_login_tests::db::sql::<Db>(
                    "INSERT INTO user_roles (user_id, role) VALUES ($1, 'wizard')",
                ))
                .bind(user.id)
                .execute(store.pool())
                .await
                .unwrap();
                let store = SqlxStore::<GrantsUser, Db>::new(store.pool().clone());

                let error = store.load_user(&user.id).await.unwrap_err();
                assert_decode_error(error, "user_roles.role", "wizard");
                // The same when the roles come in the user's row.
                let team = SqlxStore::<TeamUser, Db>::new(store.pool().clone());
                let error = team.load_user(&user.id).await.unwrap_err();
                assert_decode_error(error, "user_roles.role", "wizard");
                db.finish().await;
            }

            #[tokio::test]
            async fn a_hand_written_sqlx_user_works_like_a_derived_one() {
                let Some(db) = $connect.await else { return };
                let store = SqlxStore::<HandUser, Db>::new(db.pool.clone());
                sqlx::raw_sql(store.schema())
                    .execute(store.pool())
                    .await
                    .unwrap();
                let created = store
                    .create_user("ferris", secret("hunter42"))
                    .await
                    .unwrap();
                assert_eq!(created.role, Access::User);

                let user = store
                    .authenticate(creds("ferris", "hunter42"))
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(user.id, created.id);
                assert!(
                    store
                        .authenticate(creds("ferris", "hunter4"))
                        .await
                        .unwrap()
                        .is_none()
                );
                let loaded = store.load_user(&created.id).await.unwrap().unwrap();
                assert_eq!(loaded.username, "ferris");
                db.finish().await;
            }

            #[tokio::test]
            async fn renamed_columns_and_custom_queries_are_used_everywhere() {
                let Some(db) = $connect.await else { return };
                let store = SqlxStore::<Account, Db>::new(db.pool.clone());
                sqlx::raw_sql(axum_login_tests::db::renamed_schema::<Db>())
                    .execute(store.pool())
                    .await
                    .unwrap();
                assert!(
                    store.authenticate_sql().contains("lower"),
                    "{}",
                    store.authenticate_sql()
                );

                let created = store
                    .create_user("Ferris@Example.com", secret("hunter42"))
                    .await;
                // The custom authenticate query matches case-insensitively, so the lookup after
                // the insert finds the row whatever the case.
                let created = created.unwrap();
                assert_eq!(created.email, "Ferris@Example.com");
                let user = store
                    .authenticate(creds("ferris@example.COM", "hunter42"))
                    .await
                    .unwrap()
                    .expect("the custom query matches case-insensitively");
                assert_eq!(user.id, created.id);
                let loaded = store.load_user(&created.id).await.unwrap().unwrap();
                assert_eq!(loaded.email, "Ferris@Example.com");
                // Several users, renamed columns: one `IN` query.
                let loaded = store
                    .load_users(&[created.id + 1000, created.id])
                    .await
                    .unwrap();
                assert!(loaded[0].is_none());
                assert_eq!(loaded[1].as_ref().unwrap().email, "Ferris@Example.com");

                let changed = store
                    .set_password(&created.id, secret("new-password"))
                    .await
                    .unwrap()
                    .unwrap();
                assert_ne!(changed.pw, created.pw);
                assert!(
                    store
                        .authenticate(creds("ferris@example.com", "new-password"))
                        .await
                        .unwrap()
                        .is_some()
                );
                db.finish().await;
            }
        }
    };
}

store_tests!(
    sqlite_memory,
    sqlx::Sqlite,
    axum_login_tests::db::sqlite_memory()
);
store_tests!(
    sqlite_file,
    sqlx::Sqlite,
    axum_login_tests::db::sqlite_file()
);
store_tests!(postgres, sqlx::Postgres, axum_login_tests::db::postgres());
store_tests!(mysql, sqlx::MySql, axum_login_tests::db::mysql());

#[tokio::test]
async fn generated_sql_is_written_for_each_database() {
    let sqlite = SqlxStore::<User, sqlx::Sqlite>::new(
        sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap(),
    );
    assert_eq!(
        sqlite.authenticate_sql(),
        // Backquoted: SQLite would read a double-quoted unknown column as a string.
        "SELECT `id`, `username`, `password_hash`, `role` FROM `users` WHERE `username` = ?"
    );
    let postgres = SqlxStore::<User, sqlx::Postgres>::new(
        sqlx::PgPool::connect_lazy("postgres://localhost/unused").unwrap(),
    );
    assert_eq!(
        postgres.load_sql(),
        r#"SELECT "id", "username", "password_hash", "role" FROM "users" WHERE "id" = $1"#
    );
    let mysql = SqlxStore::<User, sqlx::MySql>::new(
        sqlx::MySqlPool::connect_lazy("mysql://localhost/unused").unwrap(),
    );
    assert_eq!(
        mysql.load_sql(),
        "SELECT `id`, `username`, `password_hash`, `role` FROM `users` WHERE `id` = ?"
    );
}

#[tokio::test]
async fn every_spelling_of_a_username_is_throttled_as_one_account() {
    let store = SqlxStore::<User, sqlx::Sqlite>::new(
        sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap(),
    );
    let key = |name: &str| store.throttle_key(&creds(name, "x"));
    assert_eq!(key("Ferris"), Some("ferris".to_owned()));
    assert_eq!(key("FERRIS"), key("ferris"));
    assert_ne!(key("ferris"), key("admin"));
    // Credentials over the length limits make no counter at all.
    assert_eq!(key(&"A".repeat(10_000)), None);
    assert_eq!(
        key("ＦＥＲＲＩＳ  "),
        key("ferris"),
        "full-width letters and trailing spaces"
    );
}
