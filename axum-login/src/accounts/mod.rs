//! Accounts that recover themselves: password reset by mail (feature `accounts`).
//!
//! [`Accounts`] sends a user a link with a one-time token and sets their new password when the
//! link's form is posted back. The mail goes through an [`Outbox`], so
//! sending never holds up or fails the request that asked for it.
//!
//! [`Outbox`]: crate::mail::Outbox
//!
//! # What the user store gives
//!
//! The user type says what its address is ([`EmailUser`]), and the store finds a user by it and
//! saves a new password ([`AccountStore`]). `SqlxStore` does both for a user type whose
//! `SqlxUser` table names an email column; a hand-written store implements the two methods.
//!
//! # The guarantees
//!
//! - **No enumeration.** [`request_password_reset`](Accounts::request_password_reset) answers
//!   the same whether the address belongs to an account or not, and does the same work before
//!   answering: it counts the request against the client's address and queues it. The lookup,
//!   the token and the mail happen on a background task, so neither the answer nor its timing
//!   depends on the account.
//! - **Links from configuration.** A link is the configured public URL, a path and the token;
//!   nothing of the request (`Host`, `X-Forwarded-Host`) goes into it, so a forged header cannot
//!   send a user's token to another site.
//! - **Tokens.** 256 random bits, mailed once; the store keeps only a SHA-256 of them (a reader
//!   of the database or the logs cannot use one). A token is bound to its user, its
//!   [`Purpose`] and the address it was mailed to, expires (one hour by default), works once
//!   (using it is one conditional delete: of two requests presenting it, one wins), and is void
//!   after a password change (the user's session digest is part of it, however the password
//!   changed), a later login of the user, or a change of their address. A `GET` of the link
//!   only checks the token: mail scanners follow links, so only the posted form uses it.
//! - **Bounded.** Requests are counted per client address (`429` past the
//!   [throttle's](crate::Throttle::max_mails_per_address) limit) and mails per account (past
//!   [its limit](crate::Throttle::max_mails_per_account) the request is answered as always and
//!   nothing is sent). The queue of requests waiting for the background task holds at most
//!   [`QUEUE`] of them; past that a request is dropped with a log line, like a mail that
//!   could not be delivered: the user asks again. No request ever hashes a password.
//! - **A reset ends everything.** The new password ends every session of the user (their
//!   digests no longer match, and with a session registry the sessions are deleted), every
//!   remember-me token and every device cookie, and any other reset link. The user is logged in
//!   afterwards only if the app asks for it ([`log_in_after_reset`](Accounts::log_in_after_reset)),
//!   and never when they have a second factor: they log in through it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use axum_login::{
//!     AuthLayer, SqlxStore,
//!     accounts::{Accounts, MemoryAccountTokenStore},
//!     mail::{ConsoleMailer, Outbox},
//!     session::MemoryStore,
//!     session_layer,
//! };
//! use axum_login::{AuthUser, UserStore};
//!
//! #[derive(Clone, Debug, AuthUser, UserStore)]
//! #[user_store(table = "users")]
//! struct User {
//!     #[auth(id)]
//!     id: i64,
//!     #[auth(username)]
//!     username: String,
//!     #[auth(password_hash)]
//!     password_hash: secrecy::SecretString,
//!     // `find_by_email` searches this column; mail goes to it.
//!     #[auth(email)]
//!     email: String,
//! }
//!
//! # let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
//! let users = SqlxStore::<User, sqlx::Sqlite>::new(pool);
//! let accounts = Accounts::new(
//!     MemoryAccountTokenStore::default(),
//!     Outbox::new(ConsoleMailer),
//!     "https://app.example.com",
//! )
//! .expect("an absolute http(s) URL");
//! let layer = AuthLayer::builder(users, session_layer(MemoryStore::default()))
//!     .accounts(&accounts)
//!     .build();
//! # let _ = layer; }
//! ```

mod email_change;
mod feature;
mod memory;
mod reset;
mod sign_in;
#[cfg(feature = "sqlx")]
mod sql;
mod templates;
mod token;
mod verify;

use std::{
    fmt,
    future::Future,
    marker::PhantomData,
    sync::{Arc, OnceLock, atomic::AtomicU64},
    time::Duration,
};

use secrecy::SecretString;

pub use self::email_change::{ChangeRequested, EmailChanged};
pub use self::memory::MemoryAccountTokenStore;
pub use self::reset::{ResetOutcome, ResetRequested};
pub use self::sign_in::{SignInRequested, SignedIn};
#[cfg(feature = "sqlx")]
pub use self::sql::SqlxAccountTokenStore;
pub use self::templates::{
    ChangedMail, DefaultTemplates, MailTemplates, NoticeMail, Rendered, ResetMail, SignInMail,
    VerifyMail, escape_html,
};
pub use self::token::{AccountToken, AccountTokenStore, Purpose, Revoke};
pub use self::verify::{SignUp, Verified};
use crate::{AuthUser, UserStore, mail::Outbox, store::UserId};

/// A user with an email address, which mail for their account goes to.
///
/// `#[derive(AuthUser)]` implements it when a field is marked `#[auth(email)]` (a `String` or
/// an `Option<String>`); by hand it is one method. `None` is a user without an address, who
/// gets no mail.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no email address for `Accounts`",
    label = "this user type does not implement `EmailUser`",
    note = "implement `axum_login::accounts::EmailUser` for it: `fn email(&self) -> Option<&str>`"
)]
pub trait EmailUser: AuthUser {
    /// The user's address, if they have one.
    fn email(&self) -> Option<&str>;

    /// Whether the user confirmed the address (a mailed link,
    /// [`Accounts::verify_email`]). `#[auth(email_verified)]` on a `bool` field implements
    /// it; without one, no address counts as confirmed.
    fn email_verified(&self) -> bool {
        false
    }
}

/// A field type that says an address is confirmed, for `#[auth(email_verified)]`: a `bool`, or
/// an `Option` of anything (a confirmation time: `Some` is confirmed). `SqlxStore` sets a
/// `bool` column only.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot say whether an address is confirmed, for `#[auth(email_verified)]`",
    label = "the `#[auth(email_verified)]` field must be a `bool` (or an `Option` of a confirmation time)",
    note = "make the field a `bool`, or implement `axum_login::accounts::EmailVerifiedField` for its type"
)]
pub trait EmailVerifiedField {
    /// Whether the address is confirmed.
    fn is_verified(&self) -> bool;
}

impl EmailVerifiedField for bool {
    fn is_verified(&self) -> bool {
        *self
    }
}

impl<T> EmailVerifiedField for Option<T> {
    fn is_verified(&self) -> bool {
        self.is_some()
    }
}

/// A field type that holds a user's email address, for `#[auth(email)]`: `String` (every
/// user has one) or `Option<String>` (some have none, and get no mail).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold an email address for `#[auth(email)]`",
    label = "the `#[auth(email)]` field must be a `String` or an `Option<String>`",
    note = "make the field a `String` or an `Option<String>`, or implement `axum_login::accounts::EmailAddress` for its type"
)]
pub trait EmailAddress {
    /// The address, if there is one.
    fn address(&self) -> Option<&str>;
}

impl EmailAddress for String {
    fn address(&self) -> Option<&str> {
        Some(self)
    }
}

impl EmailAddress for Option<String> {
    fn address(&self) -> Option<&str> {
        self.as_deref()
    }
}

/// What [`Accounts`] needs of a user store beyond logins: finding a user by address and saving
/// a new password.
///
/// Written with native `async fn`, as [`UserStore`] is, since the layer keeps the store by
/// its type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot find users by email or set their password",
    label = "this user store does not implement `AccountStore`",
    note = "`SqlxStore` implements it for a user type whose table names an email column (`UserTable::with_email`); a hand-written store implements `find_by_email` and `set_password`"
)]
pub trait AccountStore: UserStore<User: EmailUser> {
    /// The user whose address is `email` (as the user typed it; the store compares it as its
    /// column does), if any.
    fn find_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<Self::User>, Self::Error>> + Send;

    /// Saves a hash of `password` as the user's password, and answers the user as it is now
    /// (`None` when there is no such user any more). The new hash must change
    /// [`AuthUser::session_auth_hash`], which is what ends the user's other sessions.
    fn set_password(
        &self,
        id: &UserId<Self>,
        password: SecretString,
    ) -> impl Future<Output = Result<Option<Self::User>, Self::Error>> + Send;

    /// Creates a user with `username`, the unconfirmed address `email` and a hash of
    /// `password`, and answers them; `None` when the username or the address is taken.
    fn create_account(
        &self,
        username: &str,
        email: &str,
        password: SecretString,
    ) -> impl Future<Output = Result<Option<Self::User>, Self::Error>> + Send;

    /// Marks `email` confirmed as the address of the user with `id`, if it is still theirs,
    /// and answers the user as it is now (`None` when there is no such user).
    fn mark_email_verified(
        &self,
        id: &UserId<Self>,
        email: &str,
    ) -> impl Future<Output = Result<Option<Self::User>, Self::Error>> + Send;

    /// Replaces the address `old` of the user with `id` with `new`, confirmed: `Some(true)`
    /// when it did, `Some(false)` when another account has `new`, `None` when the user is gone
    /// or `old` is no longer their address.
    fn change_email(
        &self,
        id: &UserId<Self>,
        old: &str,
        new: &str,
    ) -> impl Future<Output = Result<Option<bool>, Self::Error>> + Send;
}

/// The most reset requests that wait for the background task; see [the module](self).
pub const QUEUE: usize = 1024;

/// Password reset by mail, for users of store `S`: see [the module](self).
///
/// Cheap to clone: clones share the queue and the settings. Register it on the layer with
/// [`AuthLayerBuilder::accounts`](crate::layer::AuthLayerBuilder::accounts) (which makes a
/// later login void the user's reset links), and give it to the handlers (as state or an
/// `Extension`).
pub struct Accounts<S: UserStore> {
    inner: Arc<Inner>,
    /// The background task's queue, made by the first request that needs it (inside the
    /// runtime).
    jobs: Arc<OnceLock<tokio::sync::mpsc::Sender<reset::Job<S>>>>,
    /// The layer these accounts serve, known from their first request: the outbox's failure
    /// hook reports through its event handler.
    layer: Arc<OnceLock<Arc<crate::login::Backend<S>>>>,
    store: PhantomData<fn() -> S>,
}

impl<S: UserStore> Clone for Accounts<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            jobs: self.jobs.clone(),
            layer: self.layer.clone(),
            store: PhantomData,
        }
    }
}

impl<S: UserStore> fmt::Debug for Accounts<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accounts")
            .field("public_url", &self.inner.public_url)
            .field("reset_path", &self.inner.reset_path)
            .field("reset_lifetime", &self.inner.reset_lifetime)
            .field("verify_path", &self.inner.verify_path)
            .field("verify_lifetime", &self.inner.verify_lifetime)
            .field("log_in_after_reset", &self.inner.log_in_after_reset)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Inner {
    tokens: Arc<dyn AccountTokenStore>,
    outbox: Outbox,
    templates: Arc<dyn MailTemplates>,
    public_url: String,
    reset_path: String,
    reset_lifetime: Duration,
    verify_path: String,
    verify_lifetime: Duration,
    sign_in_path: String,
    sign_in_lifetime: Duration,
    email_change_path: String,
    unverified_url: Option<String>,
    log_in_after_reset: bool,
    min_password: usize,
    max_password: usize,
    /// When a full queue was last logged (seconds since the epoch), so a flood logs once a
    /// minute rather than once a request.
    warned_full: Arc<AtomicU64>,
}

/// Why [`Accounts::new`] refused its public URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the public URL {url:?} is not an absolute http:// or https:// URL with a host and without a query or fragment (e.g. \"https://app.example.com\"); links in mail are built from it"
)]
pub struct PublicUrlError {
    url: String,
}

impl<S: UserStore> Accounts<S> {
    /// Password reset with tokens in `tokens`, mail through `outbox`, and links under
    /// `public_url`: the app's address as its users reach it (`https://app.example.com`, or
    /// with a path prefix), never taken from a request.
    ///
    /// Sets the outbox's [failure hook](Outbox::on_failure): a mail given up on is reported to
    /// the layer's event handler as [`AuthEvent::MailFailed`](crate::events::AuthEvent::MailFailed)
    /// (the outbox logs it too).
    ///
    /// Defaults: reset links `{public_url}/password-reset/{token}`, valid for an hour;
    /// verification links `{public_url}/verify-email/{token}`, valid for three days; no login
    /// after a reset; new passwords of 8 to 1024 bytes; [`DefaultTemplates`].
    pub fn new(
        tokens: impl AccountTokenStore,
        outbox: Outbox,
        public_url: &str,
    ) -> Result<Self, PublicUrlError> {
        let public_url = public_url_of(public_url).ok_or_else(|| PublicUrlError {
            url: public_url.to_owned(),
        })?;
        let layer: Arc<OnceLock<Arc<crate::login::Backend<S>>>> = Arc::default();
        let outbox = outbox.on_failure({
            let layer = Arc::downgrade(&layer);
            move |message, _error| {
                let Some(layer) = layer.upgrade() else { return };
                if let Some(backend) = layer.get() {
                    backend.config.emit(
                        crate::events::AuthEvent::MailFailed {
                            kind: message.kind(),
                        },
                        None,
                    );
                }
            }
        });
        Ok(Self {
            inner: Arc::new(Inner {
                tokens: Arc::new(tokens),
                outbox,
                templates: Arc::new(DefaultTemplates::default()),
                public_url,
                reset_path: "/password-reset".to_owned(),
                reset_lifetime: Duration::from_secs(60 * 60),
                verify_path: "/verify-email".to_owned(),
                verify_lifetime: Duration::from_secs(3 * 24 * 60 * 60),
                sign_in_path: "/login/email".to_owned(),
                sign_in_lifetime: Duration::from_secs(15 * 60),
                email_change_path: "/account/email".to_owned(),
                unverified_url: None,
                log_in_after_reset: false,
                min_password: 8,
                max_password: 1024,
                warned_full: Arc::default(),
            }),
            jobs: Arc::default(),
            layer,
            store: PhantomData,
        })
    }

    fn settings(&mut self) -> &mut Inner {
        Arc::make_mut(&mut self.inner)
    }

    /// The subjects and bodies of the mails. Default: [`DefaultTemplates`].
    pub fn templates(mut self, templates: impl MailTemplates) -> Self {
        self.settings().templates = Arc::new(templates);
        self
    }

    /// The path of the reset page under the public URL; the link is `{public_url}{path}/{token}`.
    /// Default: `/password-reset`.
    pub fn reset_path(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.settings().reset_path = format!("/{}", path.trim_matches('/'));
        self
    }

    /// The path of the verification page under the public URL; the link is
    /// `{public_url}{path}/{token}`. Default: `/verify-email`.
    pub fn verify_path(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.settings().verify_path = format!("/{}", path.trim_matches('/'));
        self
    }

    /// How long a verification link works. Default: three days.
    pub fn verify_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings().verify_lifetime = lifetime;
        self
    }

    /// Where a guard with `verified` sends a browser whose user's address is not confirmed: a
    /// page that says so and can mail a new link
    /// ([`send_verification`](Self::send_verification)), given the page to come back to in
    /// the layer's redirect field. Default: none, a `403` page. An API client always gets
    /// `403`. Set it before [`AuthLayerBuilder::accounts`](crate::layer::AuthLayerBuilder::accounts).
    pub fn unverified_url(mut self, url: impl Into<String>) -> Self {
        self.settings().unverified_url = Some(url.into());
        self
    }

    /// The path of the sign-in link's page under the public URL; the link is
    /// `{public_url}{path}/{token}`. Default: `/login/email`.
    pub fn sign_in_path(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.settings().sign_in_path = format!("/{}", path.trim_matches('/'));
        self
    }

    /// The path of the page that confirms a new address, under the public URL; the link is
    /// `{public_url}{path}/{token}`, valid as long as a verification link. Default:
    /// `/account/email`.
    pub fn email_change_path(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.settings().email_change_path = format!("/{}", path.trim_matches('/'));
        self
    }

    /// How long a sign-in link and code work. Default: 15 minutes.
    pub fn sign_in_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings().sign_in_lifetime = lifetime;
        self
    }

    /// How long a reset link works. Default: one hour.
    pub fn reset_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings().reset_lifetime = lifetime;
        self
    }

    /// Whether a completed reset logs the user in on the browser that completed it; never for
    /// a user with a second factor, who logs in through it. Default: no, the user logs in with
    /// the new password.
    pub fn log_in_after_reset(mut self, on: bool) -> Self {
        self.settings().log_in_after_reset = on;
        self
    }

    /// The lengths, in bytes, a new password may have. Default: 8 to 1024 (argon2 hashes any
    /// length, but an unbounded one is a cheap way to make the server hash megabytes).
    pub fn password_length(mut self, min: usize, max: usize) -> Self {
        let settings = self.settings();
        settings.min_password = min;
        settings.max_password = max.max(min);
        self
    }

    /// How many reset requests wait for the background task (at most [`QUEUE`]).
    pub fn queued_requests(&self) -> usize {
        self.jobs
            .get()
            .map_or(0, |jobs| jobs.max_capacity() - jobs.capacity())
    }

    /// The token store, for a periodic
    /// [`delete_expired`](AccountTokenStore::delete_expired).
    pub fn token_store(&self) -> &dyn AccountTokenStore {
        &*self.inner.tokens
    }
}

/// `url` without a trailing slash, if it is an absolute `http`/`https` URL with a host, no
/// query, fragment or characters that would need escaping in a link.
fn public_url_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let host = rest.split('/').next().unwrap_or_default();
    let plain = |c: char| c.is_ascii_graphic() && !"?#\"'<>\\`{}|^".contains(c);
    (!host.is_empty() && !host.contains('@') && url.chars().all(plain))
        .then(|| url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_absolute_http_and_plain() {
        for (url, kept) in [
            ("https://app.example.com", "https://app.example.com"),
            ("https://app.example.com/", "https://app.example.com"),
            ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("https://example.com/app/", "https://example.com/app"),
        ] {
            assert_eq!(public_url_of(url).as_deref(), Some(kept), "{url}");
        }
        for url in [
            "",
            "app.example.com",
            "ftp://example.com",
            "https://",
            "https:///path",
            "https://example.com/?next=x",
            "https://example.com/#top",
            "https://user@example.com",
            "https://example.com/a b",
            "https://example.com/\"><script>",
            "javascript:alert(1)",
        ] {
            assert_eq!(public_url_of(url), None, "{url}");
        }
    }
}
