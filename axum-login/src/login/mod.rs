//! Who is logged in.
//!
//! A session holds a [login record](record) — the user's id and a keyed digest of their
//! credentials, never the password hash. Each request gets a [`RequestAuth`] that every
//! extractor and guard on it shares; the first to ask who the user is makes the
//! [`Backend`] check the record and the [`Loader`] fetch the user (cache → batch → store).
//! Handlers see the result through [`AuthSession`] and [`CurrentUser`].

mod auth_session;
mod backend;
mod batch;
mod cache;
mod current_user;
mod loader;
mod record;
mod request;

#[cfg(feature = "cache")]
pub use self::cache::UserCache;
pub use self::{auth_session::AuthSession, current_user::CurrentUser};
pub(crate) use self::{
    backend::{Backend, ErasedBackend, ErasedUser},
    cache::CacheSlot,
    loader::Loader,
    request::RequestAuth,
};
