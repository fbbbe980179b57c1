//! [`Oidc`] as a [`Feature`] of the layer: its link store takes part in readiness checks, and
//! its presence tells the handlers that the layer was built with it.

use std::{any::Any, sync::Arc};

use tower_sessions::{SessionStore, service::CookieController};

use super::{LinkStore, Oidc, ProviderUserStore};
use crate::{
    layer::AuthLayerBuilder,
    login::{Feature, StoreCheck},
};

impl<S: ProviderUserStore, SS: SessionStore, C: CookieController> AuthLayerBuilder<S, SS, C> {
    /// Sign-in with OpenID Connect providers (feature `oidc`; see [`oidc`](crate::oidc)). The
    /// handlers call `oidc`, which refuses to work on a layer it is not registered on.
    pub fn oidc(self, oidc: &Oidc<S>) -> Self {
        self.feature(OidcFeature {
            links: oidc.links.clone(),
        })
    }
}

/// The part of [`Oidc`] the layer keeps: its link store.
pub(super) struct OidcFeature {
    links: Arc<dyn LinkStore>,
}

#[async_trait::async_trait]
impl Feature for OidcFeature {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn stores(&self) -> Vec<StoreCheck<'_>> {
        vec![StoreCheck {
            name: "provider_links",
            check: self.links.ping(),
        }]
    }
}
