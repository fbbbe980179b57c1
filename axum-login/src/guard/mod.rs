//! Guards: the extractor that `#[require_login]` adds to a handler, the router-level layer
//! that `require!` builds, the policies both run, and the answer a visitor who may not pass
//! gets.

mod key;
mod layer;
mod names;
mod policy;
mod setup;

use std::{fmt, marker::PhantomData};

use axum::{
    extract::FromRequestParts,
    http::request::Parts,
    response::{IntoResponse, Response},
};

#[doc(hidden)]
pub use self::key::{
    PermissionKey, PermissionKeyIsOther, PermissionKeyIsPermission, PermissionKeyIsRole, RoleKey,
    RoleKeyIsOther, RoleKeyIsPermission, RoleKeyIsRole, WrittenAsPermission, WrittenAsRole,
};
#[doc(hidden)]
pub use self::names::{DerivedUserType, GuardName, NameKind};
pub(crate) use self::names::{UserKinds, check_guard_names};
pub use self::{
    layer::{GuardLayer, GuardService},
    policy::{
        Check, CheckOutcome, GuardOptions, IntoPermissionRef, Policy, PolicyContext,
        RedirectOverride, Via,
    },
};
use crate::{
    AuthError,
    login::{Challenge, LoginRedirect, RequestAuth},
};
pub use crate::{
    error::PolicyError,
    login::{AuthRejection, Denial, DenialReason, DenialResponder},
};

/// The extractor `#[require_login]` adds as a handler's first argument: it lets the request
/// through only if someone is logged in and policy `P` allows them.
///
/// You rarely name it: the attribute does. By hand, `_: Guard<LoggedIn>` is the same as a bare
/// `#[require_login]`.
pub struct Guard<P>(PhantomData<fn() -> P>);

/// The policy of a bare `#[require_login]`: anyone logged in.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoggedIn;

impl<S: Send + Sync> Policy<S> for LoggedIn {
    async fn check(_cx: &mut PolicyContext<'_, S>) -> Result<bool, Response> {
        Ok(true)
    }
}

impl<P> fmt::Debug for Guard<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Guard")
            .field(&std::any::type_name::<P>())
            .finish()
    }
}

impl<P> Clone for Guard<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for Guard<P> {}

fn redirect_for<P: Policy<S>, S>(layer: &LoginRedirect) -> LoginRedirect {
    let options = P::OPTIONS;
    let login_url = match options.redirect {
        RedirectOverride::Inherit => layer.login_url.clone(),
        RedirectOverride::To(url) => Some(url.to_owned()),
        RedirectOverride::Off => None,
    };
    LoginRedirect {
        login_url,
        redirect_field: options
            .redirect_field
            .map_or_else(|| layer.redirect_field.clone(), str::to_owned),
        second_factor_url: layer.second_factor_url.clone(),
        unverified_url: layer.unverified_url.clone(),
    }
}

/// Runs policy `P` on a request; `Err` is the response that turns it away.
pub(crate) async fn enforce<P: Policy<S>, S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<(), Response> {
    let auth =
        RequestAuth::from_parts(parts, "#[require_login]").map_err(IntoResponse::into_response)?;
    let denied_with = |reason, parts: &Parts, challenge| {
        let redirect = redirect_for::<P, S>(&auth.config().redirect);
        let responder = auth.config().responder.as_deref();
        AuthRejection::denied(reason, parts, &redirect, responder, challenge).into_response()
    };
    let denied = |reason, parts: &Parts| denied_with(reason, parts, auth.challenge());
    let Some(login) = auth.login().await.map_err(IntoResponse::into_response)? else {
        return Err(denied(DenialReason::Unauthenticated, parts));
    };
    match (P::OPTIONS.via, &login.scopes) {
        // A token on a route for sessions: it does not count here.
        (Via::Session, Some(_)) => {
            return Err(denied_with(DenialReason::Unauthenticated, parts, None));
        }
        (Via::Token, None) => {
            return Err(denied_with(
                DenialReason::Unauthenticated,
                parts,
                Some(Challenge::Bearer),
            ));
        }
        _ => {}
    }
    if let Some(scopes) = &login.scopes {
        // A token is not a fresh login, and never passed a second factor.
        let options = P::OPTIONS;
        if options.fresh.is_some() || options.fresh_second_factor.is_some() {
            return Err(denied_with(DenialReason::Stale, parts, None));
        }
        if options.second_factor.is_some() {
            return Err(denied_with(DenialReason::SecondFactor, parts, None));
        }
        if let Some(missing) = options
            .scopes
            .iter()
            .find(|scope| !scopes.iter().any(|held| held == *scope))
        {
            let challenge = Some(Challenge::InsufficientScope(missing));
            return Err(denied_with(DenialReason::Forbidden, parts, challenge));
        }
    } else if !P::OPTIONS.scopes.is_empty() {
        // A session's login: it carries every scope, unless the app said sessions carry none.
        if !auth.config().features.sessions_have_every_scope() {
            return Err(denied(DenialReason::Forbidden, parts));
        }
    }
    let now = auth.config().clock.now();
    if let Some(max_age) = P::OPTIONS.fresh {
        let age = now.duration_since(login.login_at).unwrap_or_default();
        if login.remembered || age > max_age {
            return Err(denied(DenialReason::Stale, parts));
        }
    }
    if let Some(max_age) = P::OPTIONS.fresh_second_factor {
        let age = now.duration_since(login.login_at).unwrap_or_default();
        if login.remembered || age > max_age {
            return Err(denied(DenialReason::Stale, parts));
        }
        let user = crate::login::UserId(&*login.user).to_string();
        let enrolled = match auth.config().features.has_second_factor(&user).await {
            Ok(Some(enrolled)) => enrolled,
            Ok(None) => {
                return Err(AuthError::from(PolicyError::NoSecondFactorLookup).into_response());
            }
            Err(error) => return Err(error.into_response()),
        };
        let recent = login
            .second_factor_at
            .is_some_and(|at| now.duration_since(at).unwrap_or_default() <= max_age);
        if enrolled && !recent {
            return Err(denied(DenialReason::SecondFactor, parts));
        }
    }
    if let Some(max_age) = P::OPTIONS.second_factor {
        let recent = login
            .second_factor_at
            .is_some_and(|at| now.duration_since(at).unwrap_or_default() <= max_age);
        if !recent {
            return Err(denied(DenialReason::SecondFactor, parts));
        }
    }
    if P::OPTIONS.email_verified {
        match auth.config().features.email_verified(&*login.user) {
            Some(true) => {}
            Some(false) => return Err(denied(DenialReason::EmailUnverified, parts)),
            None => {
                return Err(AuthError::NotRegistered {
                    feature: "Accounts, which `verified` asks about the user's address,",
                    builder: "accounts",
                }
                .into_response());
            }
        }
    }
    let allowed = {
        let mut cx = PolicyContext {
            user: &*login.user,
            scopes: login.scopes.as_deref(),
            sessions_have_every_scope: login.scopes.is_none()
                && auth.config().features.sessions_have_every_scope(),
            parts: &mut *parts,
            state,
        };
        P::check(&mut cx).await?
    };
    if allowed {
        Ok(())
    } else {
        Err(denied(DenialReason::Forbidden, parts))
    }
}

impl<P, S> FromRequestParts<S> for Guard<P>
where
    P: Policy<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        enforce::<P, S>(parts, state).await?;
        Ok(Self(PhantomData))
    }
}
