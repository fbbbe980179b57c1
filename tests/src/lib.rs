//! The helpers every integration suite in `tests/tests` uses: the environment and services, a
//! hand-written store, session stores to inspect or break, databases per test, shared user and
//! role fixtures, HTTP clients that behave like browsers, log capture, a TCP proxy that cuts a
//! service off, the security suite's apps, the app the login lifecycle's suites share, and the
//! OpenID Connect providers (the real one's driver and a fake that misbehaves on request).

// A helper library of an unpublished test package: each item says what it is for where that is
// not plain from its name, not field by field.
#![allow(missing_docs)]

pub mod apps;
pub mod db;
pub mod directory;
pub mod env;
pub mod fake_oidc;
pub mod http;
pub mod lifecycle_app;
pub mod login;
pub mod login_surface;
pub mod logs;
pub mod mail;
pub mod oidc;
pub mod proxy;
pub mod session_stores;
pub mod soft_passkey;
pub mod users;

use std::convert::Infallible;

/// `Ok(value)`, for a store or service whose error cannot happen.
pub fn infallible<T>(value: T) -> Result<T, Infallible> {
    Ok(value)
}
