//! The links from a provider's accounts to the app's users, and the stores that keep them.

use std::time::SystemTime;

use crate::error::BoxError;

/// One provider account linked to one user of the app: the provider's `iss` and `sub`, which
/// together name the account for good (an address can change hands; a subject cannot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderLink {
    /// The provider's issuer URL.
    pub issuer: String,
    /// The account's subject at the provider.
    pub subject: String,
    /// The user's id, as text.
    pub user: String,
    /// The provider's id in the app's configuration when the link was made.
    pub provider: String,
    /// The address the provider gave for the account when it was linked, if any: for the
    /// account page ("alice@example.com at Example"), never for finding a user.
    pub email: Option<String>,
    /// When the link was made.
    pub linked_at: SystemTime,
}

/// Where provider links are kept: in memory ([`MemoryLinkStore`](super::MemoryLinkStore)),
/// or (with `sqlx`) in SQLite, PostgreSQL or MySQL ([`SqlxLinkStore`](super::SqlxLinkStore)).
///
/// Written with `#[async_trait]` and [`BoxError`] like every store trait the layer keeps as a
/// trait object; `(issuer, subject)` is unique, and [`insert`](Self::insert) says whether it
/// was free, so two first sign-ins of one account at once link it once.
#[async_trait::async_trait]
pub trait LinkStore: Send + Sync + 'static {
    /// The link of the provider account `(issuer, subject)`, if there is one.
    async fn find(&self, issuer: &str, subject: &str) -> Result<Option<ProviderLink>, BoxError>;

    /// Keeps `link`, unless its `(issuer, subject)` is linked already: answers whether it was
    /// kept.
    async fn insert(&self, link: &ProviderLink) -> Result<bool, BoxError>;

    /// Every link of `user`, oldest first.
    async fn for_user(&self, user: &str) -> Result<Vec<ProviderLink>, BoxError>;

    /// Removes the link `(issuer, subject)` of `user`, answering whether there was one.
    async fn remove(&self, user: &str, issuer: &str, subject: &str) -> Result<bool, BoxError>;

    /// Whether the store answers, for a readiness probe. Default: looks up an account no
    /// provider has (the empty one), a read that writes nothing.
    async fn ping(&self) -> Result<(), BoxError> {
        self.find("", "").await.map(drop)
    }
}
