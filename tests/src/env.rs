//! What the environment says: whether this is CI (where a missing service is a failure, not a
//! skip), and the URLs of the services the tests talk to.

/// Whether the tests run under CI: `CI` is set to anything but empty, `0` or `false`. There a
/// test whose service is missing fails; elsewhere it says loudly that it was skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false" && value != "0")
}

/// Says loudly that `test` did not run, and why; under CI, fails it instead.
///
/// Written straight to the process's stderr: the test harness swallows `eprintln!` of a test
/// that passes, and a skip must not go unseen.
pub fn skipped(test: &str, why: &str) {
    use std::io::Write as _;

    assert!(!in_ci(), "{test} cannot run under CI: {why}");
    let _ = writeln!(
        std::io::stderr(),
        "\n**********\nSKIPPED {test}: {why}; start the service, or set CI=true to make this a failure\n**********\n"
    );
}

/// The value of `var`, or `default` when it is unset or empty.
pub fn env_or(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The PostgreSQL server: `DATABASE_URL_POSTGRES`, else the local default.
pub fn postgres_url() -> String {
    env_or(
        "DATABASE_URL_POSTGRES",
        "postgres://postgres@127.0.0.1:5432/test",
    )
}

/// The MariaDB/MySQL server: `DATABASE_URL_MYSQL`, else the local default.
pub fn mysql_url() -> String {
    env_or("DATABASE_URL_MYSQL", "mysql://root@127.0.0.1:3306/test")
}

/// The Redis server: `REDIS_URL`, else the local default.
pub fn redis_url() -> String {
    env_or("REDIS_URL", "redis://127.0.0.1:6379")
}
