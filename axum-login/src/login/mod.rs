//! Who is logged in.
//!
//! A session holds a login record: the user's id and a keyed digest of their credentials, never
//! the password hash. Each request gets one authentication state that every extractor and guard
//! on it shares; the first to ask who the user is has the record checked (timeouts, the user
//! still there and active, the digest) and the user loaded: from the user cache when it
//! holds a current copy, else from the store, in a batch when loads are batched. Handlers see
//! the result through [`AuthSession`] and [`CurrentUser`].

mod auth_session;
mod backend;
mod config;
mod current_user;
mod form;
mod lifecycle;
mod rejection;
mod request;

#[allow(unused_imports)] // For the accounts folder, which a build may leave out.
pub(crate) use self::backend::parse_id;
pub use self::config::DEFAULT_ABSOLUTE_TIMEOUT;
pub(crate) use self::config::{Config, LoginRedirect};
pub use self::lifecycle::BoxFuture;
pub(crate) use self::lifecycle::{
    Bearer, Change, EndedSession, Events, Feature, Features, Held, Logout, NewLogin, Restored,
    StoreCheck, Verdict,
};
pub(crate) use self::rejection::Challenge;
pub use self::rejection::{AuthRejection, Denial, DenialReason, DenialResponder};
pub use self::{auth_session::AuthSession, current_user::CurrentUser, form::LoginForm};
pub(crate) use self::{
    backend::{Backend, ErasedBackend, ErasedUser},
    request::{RequestAuth, RequestInfo, UserId},
};
