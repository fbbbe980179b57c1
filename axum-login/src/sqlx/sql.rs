//! The SQL the crate's sqlx stores run, rendered once per database: quoting, placeholders,
//! the parts of a statement that differ between databases, and the statements for a
//! [`UserTable`](super::UserTable).

use std::fmt::Write as _;

use sqlx::{Database, Encode, Type};

use super::{JoinTable, UserTable};

/// The placeholder and identifier syntax of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Postgres,
    Sqlite,
    MySql,
}

impl Dialect {
    pub(crate) fn of<DB: Database>() -> Self {
        match DB::NAME {
            "PostgreSQL" => Self::Postgres,
            "MySQL" => Self::MySql,
            _ => Self::Sqlite,
        }
    }

    /// The column type of a whole number of up to 64 bits: times in milliseconds, counters.
    pub(crate) fn int_type(self) -> &'static str {
        if self == Self::Sqlite {
            "INTEGER"
        } else {
            "BIGINT"
        }
    }

    /// The column type of a short text that is kept and compared byte for byte: user ids,
    /// token selectors and hashes. MySQL's text collations all ignore case, accents or
    /// trailing spaces, so two different ids could match one row; there it is bytes.
    pub(crate) fn exact_text_type(self) -> &'static str {
        if self == Self::MySql {
            "VARBINARY(255)"
        } else {
            "TEXT"
        }
    }

    /// The column type of a text of any length that is no key: names, user agents, scopes. On
    /// MySQL it is bytes, compared byte for byte like the exact columns, and
    /// [`Db::text`](super::db::Db::text) reads it as it reads those.
    pub(crate) fn text_type(self) -> &'static str {
        if self == Self::MySql { "BLOB" } else { "TEXT" }
    }

    /// The column type of bytes of any length.
    pub(crate) fn bytes_type(self) -> &'static str {
        if self == Self::Postgres {
            "BYTEA"
        } else {
            "BLOB"
        }
    }

    /// `name` as an identifier of this database, part by part (`auth.users`).
    ///
    /// SQLite reads a double-quoted name that is no column as a string literal, so a misspelt
    /// column would compare against its own name and match nothing (a silent "no such user");
    /// backquoted, it is "no such column", naming it, at the first query.
    pub(crate) fn quote(self, name: &str) -> String {
        let quote = if self == Self::Postgres { '"' } else { '`' };
        name.split('.')
            .map(|part| {
                let escaped = part.replace(quote, &format!("{quote}{quote}"));
                format!("{quote}{escaped}{quote}")
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// `sql`, a conditional `UPDATE` or `DELETE`, rendered so that
    /// [`Db::matched`](super::db::Db::matched) can tell whether it matched a row: ending in
    /// ` RETURNING 1`, except on MySQL, which has no `RETURNING` and is asked for
    /// `ROW_COUNT()` instead.
    pub(crate) fn render_matched(self, sql: &str) -> Matched {
        let returning = if self == Self::MySql {
            ""
        } else {
            " RETURNING 1"
        };
        Matched {
            statement: self.render(&format!("{sql}{returning}")),
        }
    }

    /// `CREATE TABLE IF NOT EXISTS table (columns)` and an index `name` on each `(name,
    /// column)` of `indexes`, unless they exist.
    pub(crate) fn create_table(
        self,
        table: &str,
        columns: &str,
        indexes: &[(&str, &str)],
    ) -> String {
        // MySQL has no `CREATE INDEX IF NOT EXISTS`: there the indexes go with the table.
        if self == Self::MySql {
            let mut sql = format!("CREATE TABLE IF NOT EXISTS {table} ({columns}");
            for (name, column) in indexes {
                let _ = write!(sql, ", INDEX {name} ({column})");
            }
            sql.push(')');
            return sql;
        }
        let mut sql = format!("CREATE TABLE IF NOT EXISTS {table} ({columns})");
        for (name, column) in indexes {
            let _ = write!(
                sql,
                "; CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})"
            );
        }
        sql
    }

    /// An aggregate of `column` over a group of rows as the text of a JSON array of its values,
    /// `[]` for no rows: how a user's roles and permissions ride in the user's own row.
    pub(crate) fn json_array_agg(self, column: &str) -> String {
        match self {
            Self::Postgres => format!("COALESCE(json_agg({column})::text, '[]')"),
            // MariaDB's `JSON_ARRAYAGG` answers `NULL` for no rows, and MySQL's is of type JSON,
            // which not every client decodes as text: both end as plain text.
            Self::MySql => format!("CAST(COALESCE(JSON_ARRAYAGG({column}), '[]') AS CHAR)"),
            Self::Sqlite => format!("json_group_array({column})"),
        }
    }

    /// `INSERT INTO table (columns) VALUES ($1, ...)` that, where a row with the same `key`
    /// exists, sets its other columns to the inserted values instead.
    pub(crate) fn upsert(self, table: &str, columns: &[&str], key: &str) -> String {
        let insert = insert(table, columns);
        let others = columns.iter().filter(|column| **column != key);
        if self == Self::MySql {
            let set: Vec<_> = others.map(|c| format!("{c} = VALUES({c})")).collect();
            format!("{insert} ON DUPLICATE KEY UPDATE {}", set.join(", "))
        } else {
            let set: Vec<_> = others.map(|c| format!("{c} = excluded.{c}")).collect();
            format!(
                "{insert} ON CONFLICT ({key}) DO UPDATE SET {}",
                set.join(", ")
            )
        }
    }

    /// `INSERT INTO table (columns) VALUES ($1, ...)` that inserts nothing, and fails not,
    /// where the row would break a unique key.
    #[cfg(feature = "passkeys")]
    pub(crate) fn insert_or_ignore(self, table: &str, columns: &[&str]) -> String {
        let insert = insert(table, columns);
        if self == Self::MySql {
            insert.replacen("INSERT INTO", "INSERT IGNORE INTO", 1)
        } else {
            format!("{insert} ON CONFLICT DO NOTHING")
        }
    }

    /// `sql` with its `$n` placeholders in this database's syntax, and the parameter each
    /// placeholder takes, in order (positional `?` needs a value per occurrence).
    pub(crate) fn render(self, sql: &str) -> Statement {
        let mut out = String::with_capacity(sql.len());
        let mut params = Vec::new();
        let mut quote: Option<char> = None;
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            match quote {
                Some(q) => {
                    if c == q {
                        quote = None;
                    }
                    out.push(c);
                }
                None if matches!(c, '\'' | '"' | '`') => {
                    quote = Some(c);
                    out.push(c);
                }
                None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                    let mut digits = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        digits.push(d);
                        chars.next();
                    }
                    let index: usize = digits.parse().unwrap_or(usize::MAX);
                    params.push(index);
                    if self == Self::Postgres {
                        out.push('$');
                        out.push_str(&digits);
                    } else {
                        out.push('?');
                    }
                }
                None => out.push(c),
            }
        }
        if self == Self::Postgres {
            params.sort_unstable();
            params.dedup();
        }
        Statement { sql: out, params }
    }
}

/// A statement rendered for one database.
#[derive(Debug)]
pub(crate) struct Statement {
    pub(crate) sql: String,
    /// The 1-based parameter of each bind, in bind order.
    pub(crate) params: Vec<usize>,
}

/// A conditional `UPDATE` or `DELETE` rendered by [`Dialect::render_matched`]: the only kind
/// of statement [`Db::matched`](super::db::Db::matched) runs, so that no store asks whether a
/// statement matched a row without the clause that answers it.
#[derive(Debug)]
pub(crate) struct Matched {
    pub(crate) statement: Statement,
}

/// Declares a store's statement table: `struct $name` (with `Debug`) and `$name::new`, which
/// renders it for one database, the `Dialect` named after `fn new(`.
///
/// The body of `fn new` sets up what the statements share (the quoted table, the database's
/// column types and clauses); then each field is one of
///
/// - `name = "SQL"`: a [`Statement`] of the SQL, formatted with the setup's names (`{t}`);
/// - `name = text`: a [`Statement`] of SQL text built another way (an upsert, a statement that
///   differs between databases);
/// - `name: Matched = "SQL"`: a conditional statement whose match is read (see [`Matched`]);
/// - `name: Type = value`: any other value (the schema, a statement some databases need).
///
/// Each statement is named once, where its SQL is, and rendered the same way in every store.
/// A sqlx store declares its table in [`sqlx_store!`](super::db::sqlx_store), which passes it
/// on here.
macro_rules! statements {
    (
        $(#[$meta:meta])*
        struct $name:ident;
        fn new($dialect:ident $(, $arg:ident: $arg_ty:ty)* $(,)?) {
            $($setup:tt)*
        }
        $($fields:tt)*
    ) => {
        $crate::sqlx::sql::statements!(
            @field $dialect [$(#[$meta])* $name ($($arg: $arg_ty),*) { $($setup)* }] [] $($fields)*
        );
    };
    // One field at a time, kept as `(name, type, value)` until none is left.
    (@field $d:ident $head:tt [$($done:tt)*]
        $(#[$m:meta])* $field:ident = $sql:literal $(, $($rest:tt)*)?
    ) => {
        $crate::sqlx::sql::statements!(@field $d $head [$($done)*
            ($(#[$m])* $field, $crate::sqlx::sql::Statement, $d.render(&::std::format!($sql)))
        ] $($($rest)*)?);
    };
    (@field $d:ident $head:tt [$($done:tt)*]
        $(#[$m:meta])* $field:ident = $sql:expr $(, $($rest:tt)*)?
    ) => {
        $crate::sqlx::sql::statements!(@field $d $head [$($done)*
            ($(#[$m])* $field, $crate::sqlx::sql::Statement, $d.render(&$sql))
        ] $($($rest)*)?);
    };
    (@field $d:ident $head:tt [$($done:tt)*]
        $(#[$m:meta])* $field:ident: Matched = $sql:literal $(, $($rest:tt)*)?
    ) => {
        $crate::sqlx::sql::statements!(@field $d $head [$($done)*
            ($(#[$m])* $field, $crate::sqlx::sql::Matched, $d.render_matched(&::std::format!($sql)))
        ] $($($rest)*)?);
    };
    (@field $d:ident $head:tt [$($done:tt)*]
        $(#[$m:meta])* $field:ident: $ty:ty = $value:expr $(, $($rest:tt)*)?
    ) => {
        $crate::sqlx::sql::statements!(@field $d $head [$($done)* ($(#[$m])* $field, $ty, $value)]
            $($($rest)*)?);
    };
    (@field $d:ident
        [$(#[$meta:meta])* $name:ident ($($arg:ident: $arg_ty:ty),*) { $($setup:tt)* }]
        [$(($(#[$m:meta])* $field:ident, $ty:ty, $value:expr))*]
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        struct $name {
            $($(#[$m])* $field: $ty,)*
        }

        impl $name {
            fn new($d: $crate::sqlx::sql::Dialect $(, $arg: $arg_ty)*) -> Self {
                $($setup)*
                Self {
                    $($field: $value,)*
                }
            }
        }
    };
}

pub(crate) use statements;

/// `$1, $2, ..., $n`.
pub(super) fn placeholders(n: usize) -> String {
    let mut list = String::with_capacity(4 * n);
    for i in 1..=n {
        if i > 1 {
            list.push_str(", ");
        }
        let _ = write!(list, "${i}");
    }
    list
}

/// `statement` with each placeholder bound to its id.
pub(super) fn bind_ids<'q, DB, Id>(
    statement: &'q Statement,
    ids: &[Id],
) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    Id: for<'e> Encode<'e, DB> + Type<DB> + Clone + Send + 'q,
{
    let mut query = sqlx::query::<DB>(&statement.sql);
    for param in &statement.params {
        query = query.bind(ids[param - 1].clone());
    }
    query
}

/// The statements of a roles or permissions table.
#[derive(Debug)]
pub(super) struct JoinSql {
    /// The names one user holds.
    pub(super) one: Statement,
    /// `table.column`, for errors.
    pub(super) column: String,
}

/// What a join table grants.
#[derive(Debug, Clone, Copy)]
pub(super) enum Grant {
    Roles,
    Permissions,
}

impl Grant {
    /// The column of a user's load that holds the names, as a JSON array.
    pub(super) fn column(self) -> &'static str {
        match self {
            Self::Roles => "axum_login_roles",
            Self::Permissions => "axum_login_permissions",
        }
    }
}

/// The name the users table goes by in a load that selects roles or permissions, so that
/// their subqueries can name the user's row whatever the table is called.
const USER_ALIAS: &str = "axum_login_user";

/// Every statement the store runs, rendered once at construction.
#[derive(Debug)]
pub(super) struct Statements {
    pub(super) dialect: Dialect,
    pub(super) load: Statement,
    /// Whether [`load`](Self::load) selects the roles and permissions too, in the columns
    /// [`Grant::column`] names; not with a custom load query, which then needs one more per
    /// table.
    pub(super) load_grants: bool,
    /// `SELECT ... WHERE id IN (`, for loads of several users, with their roles and permissions;
    /// `None` with a custom load query, which takes one id.
    pub(super) load_many: Option<String>,
    pub(super) find: Statement,
    /// As [`load_grants`](Self::load_grants), for [`find`](Self::find).
    pub(super) find_grants: bool,
    /// The user by email address, when the table names an email column, with their roles and
    /// permissions in the row when the table has any (the query is always the generated one).
    pub(super) find_by_email: Option<Statement>,
    pub(super) find_by_email_grants: bool,
    /// `INSERT` of a username, an email address and a password hash, with an email column.
    pub(super) insert_with_email: Option<Statement>,
    /// Marks the address `$2` of user `$1` confirmed, if it is still theirs.
    pub(super) mark_email_verified: Option<Statement>,
    /// Replaces the address `$3` of user `$2` with `$1` (confirmed, with a verified column).
    pub(super) change_email: Option<Statement>,
    pub(super) update_hash: Statement,
    pub(super) insert: Statement,
    pub(super) roles: Option<JoinSql>,
    pub(super) permissions: Option<JoinSql>,
}

impl Statements {
    /// The roles and permissions tables the user type has.
    pub(super) fn joins(&self) -> impl Iterator<Item = (&JoinSql, Grant)> {
        let roles = self.roles.as_ref().map(|join| (join, Grant::Roles));
        let permissions = self
            .permissions
            .as_ref()
            .map(|join| (join, Grant::Permissions));
        roles.into_iter().chain(permissions)
    }

    pub(super) fn new(dialect: Dialect, table: &UserTable) -> Self {
        let q = |name: &str| dialect.quote(name);
        let alias = q(USER_ALIAS);
        let join = |join: &JoinTable| JoinSql {
            one: dialect.render(&format!(
                "SELECT {} FROM {} WHERE {} = $1",
                q(join.value_column),
                q(join.table),
                q(join.user_id_column)
            )),
            column: format!("{}.{}", join.table, join.value_column),
        };
        // The user's roles and permissions come in the user's own row, one round trip for a
        // load instead of one per table: on a database across the network that is most of a
        // guarded request's wait for a user that is not cached. Each is a subquery of the
        // names the user of the row holds, as a JSON array.
        let mut grants = String::new();
        for (join, grant) in [
            (&table.roles, Grant::Roles),
            (&table.permissions, Grant::Permissions),
        ] {
            if let Some(join) = join {
                let _ = write!(
                    grants,
                    ", (SELECT {} FROM {} WHERE {} = {alias}.{}) AS {}",
                    dialect.json_array_agg(&q(join.value_column)),
                    q(join.table),
                    q(join.user_id_column),
                    q(table.id_column),
                    q(grant.column())
                );
            }
        }
        let (all, from) = if grants.is_empty() {
            ("*".to_owned(), q(table.table))
        } else {
            // MySQL takes a bare `*` only alone; qualified, it goes with other columns.
            (
                format!("{alias}.*"),
                format!("{} AS {alias}", q(table.table)),
            )
        };
        let columns = if table.columns.is_empty() {
            all
        } else {
            table
                .columns
                .iter()
                .map(|c| q(c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let select = |column: &str| {
            format!(
                "SELECT {columns}{grants} FROM {from} WHERE {} = $1",
                q(column)
            )
        };
        let has_grants = !grants.is_empty();
        Self {
            dialect,
            load: dialect.render(
                &table
                    .load_query
                    .map_or_else(|| select(table.id_column), str::to_owned),
            ),
            load_grants: has_grants && table.load_query.is_none(),
            load_many: table.load_query.is_none().then(|| {
                format!(
                    "SELECT {columns}{grants} FROM {from} WHERE {} IN (",
                    q(table.id_column)
                )
            }),
            find: dialect.render(
                &table
                    .authenticate_query
                    .map_or_else(|| select(table.username_column), str::to_owned),
            ),
            find_grants: has_grants && table.authenticate_query.is_none(),
            find_by_email: table
                .email_column
                .map(|column| dialect.render(&select(column))),
            find_by_email_grants: has_grants,
            insert_with_email: table.email_column.map(|email| {
                dialect.render(&format!(
                    "INSERT INTO {} ({}, {}, {}) VALUES ($1, $2, $3)",
                    q(table.table),
                    q(table.username_column),
                    q(email),
                    q(table.password_hash_column)
                ))
            }),
            change_email: table.email_column.map(|email| {
                let verified = table
                    .email_verified_column
                    .map(|verified| format!(", {} = TRUE", q(verified)))
                    .unwrap_or_default();
                dialect.render(&format!(
                    "UPDATE {} SET {} = $1{verified} WHERE {} = $2 AND {} = $3",
                    q(table.table),
                    q(email),
                    q(table.id_column),
                    q(email)
                ))
            }),
            mark_email_verified: table.email_column.zip(table.email_verified_column).map(
                |(email, verified)| {
                    dialect.render(&format!(
                        "UPDATE {} SET {} = TRUE WHERE {} = $1 AND {} = $2",
                        q(table.table),
                        q(verified),
                        q(table.id_column),
                        q(email)
                    ))
                },
            ),
            update_hash: dialect.render(&format!(
                "UPDATE {} SET {} = $1 WHERE {} = $2",
                q(table.table),
                q(table.password_hash_column),
                q(table.id_column)
            )),
            insert: dialect.render(&format!(
                "INSERT INTO {} ({}, {}) VALUES ($1, $2)",
                q(table.table),
                q(table.username_column),
                q(table.password_hash_column)
            )),
            roles: table.roles.as_ref().map(join),
            permissions: table.permissions.as_ref().map(join),
        }
    }
}

/// `INSERT INTO table (columns) VALUES ($1, ...)`, a placeholder per column.
pub(crate) fn insert(table: &str, columns: &[&str]) -> String {
    let values: Vec<_> = (1..=columns.len()).map(|n| format!("${n}")).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        columns.join(", "),
        values.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rendered_per_database() {
        let sql = "SELECT a FROM t WHERE x = $1 AND y = '$2' AND z = $1";
        let pg = Dialect::Postgres.render(sql);
        assert_eq!(pg.sql, sql);
        assert_eq!(pg.params, [1]);
        let my = Dialect::MySql.render(sql);
        assert_eq!(my.sql, "SELECT a FROM t WHERE x = ? AND y = '$2' AND z = ?");
        assert_eq!(my.params, [1, 1]);
    }

    #[test]
    fn upserts_replace_all_but_the_key_per_database() {
        let columns = ["user_id", "pending", "step"];
        assert_eq!(
            Dialect::MySql.upsert("t", &columns, "user_id"),
            "INSERT INTO t (user_id, pending, step) VALUES ($1, $2, $3) ON DUPLICATE KEY UPDATE pending = VALUES(pending), step = VALUES(step)"
        );
        assert_eq!(
            Dialect::Sqlite.upsert("t", &columns, "user_id"),
            "INSERT INTO t (user_id, pending, step) VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE SET pending = excluded.pending, step = excluded.step"
        );
    }

    #[test]
    #[cfg(feature = "passkeys")]
    fn ignoring_inserts_per_database() {
        assert_eq!(
            Dialect::MySql.insert_or_ignore("t", &["a", "b"]),
            "INSERT IGNORE INTO t (a, b) VALUES ($1, $2)"
        );
        assert_eq!(
            Dialect::Postgres.insert_or_ignore("t", &["a", "b"]),
            "INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        );
    }

    #[test]
    fn identifiers_are_quoted_per_database() {
        assert_eq!(Dialect::Postgres.quote("auth.users"), r#""auth"."users""#);
        assert_eq!(Dialect::Sqlite.quote("we`ird"), "`we``ird`");
        assert_eq!(Dialect::Sqlite.quote("auth.users"), "`auth`.`users`");
        assert_eq!(Dialect::MySql.quote("users"), "`users`");
    }

    #[test]
    fn generated_statements_use_the_table_description() {
        let table = UserTable::new("users", "user_id", "email", "hash")
            .with_columns(&["user_id", "email", "hash"])
            .with_roles(JoinTable::new("user_roles", "uid", "role"));
        let sql = Statements::new(Dialect::MySql, &table);
        assert_eq!(
            sql.update_hash.sql,
            "UPDATE `users` SET `hash` = ? WHERE `user_id` = ?"
        );
        assert_eq!(sql.update_hash.params, [1, 2]);
        assert_eq!(
            sql.roles.as_ref().map(|s| s.one.sql.as_str()),
            Some("SELECT `role` FROM `user_roles` WHERE `uid` = ?")
        );
        let roles = sql.roles.as_ref().expect("a roles table");
        assert_eq!(roles.column, "user_roles.role");
        assert!(sql.load_grants && sql.find_grants);
        let grants = "(SELECT CAST(COALESCE(JSON_ARRAYAGG(`role`), '[]') AS CHAR) FROM `user_roles` \
             WHERE `uid` = `axum_login_user`.`user_id`) AS `axum_login_roles`";
        assert_eq!(
            sql.load.sql,
            format!(
                "SELECT `user_id`, `email`, `hash`, {grants} FROM `users` AS `axum_login_user` \
                 WHERE `user_id` = ?"
            )
        );
        assert_eq!(
            sql.find.sql,
            format!(
                "SELECT `user_id`, `email`, `hash`, {grants} FROM `users` AS `axum_login_user` \
                 WHERE `email` = ?"
            )
        );
        assert_eq!(
            sql.load_many.as_deref(),
            Some(
                format!(
                    "SELECT `user_id`, `email`, `hash`, {grants} FROM `users` AS `axum_login_user` \
                     WHERE `user_id` IN ("
                )
                .as_str()
            )
        );
    }

    #[test]
    fn without_join_tables_a_load_selects_the_row_alone() {
        let table = UserTable::new("users", "id", "name", "hash");
        let sql = Statements::new(Dialect::Postgres, &table);
        assert_eq!(sql.load.sql, r#"SELECT * FROM "users" WHERE "id" = $1"#);
        assert!(!sql.load_grants && !sql.find_grants);
        let table = table
            .with_permissions(JoinTable::new("grants", "user_id", "name"))
            .with_load_query("SELECT * FROM users WHERE id = $1");
        let sql = Statements::new(Dialect::Postgres, &table);
        assert!(!sql.load_grants, "a custom load query selects no grants");
        assert!(sql.find_grants);
        assert_eq!(
            sql.find.sql,
            "SELECT \"axum_login_user\".*, (SELECT COALESCE(json_agg(\"name\")::text, '[]') \
             FROM \"grants\" WHERE \"user_id\" = \"axum_login_user\".\"id\") AS \
             \"axum_login_permissions\" FROM \"users\" AS \"axum_login_user\" WHERE \"name\" = $1"
        );
    }
}
