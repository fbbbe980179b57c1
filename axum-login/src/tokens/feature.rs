//! API tokens as a [`Feature`] of the layer: it reads a request's `Authorization: Bearer`
//! header before the session, revokes a user's tokens when their password changes, and gives
//! [`AuthSession`] the methods that create, list and revoke them.

use std::{any::Any, fmt::Display, sync::Arc, time::SystemTime};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::{Rng as _, distributions::Alphanumeric};
use secrecy::SecretString;
use tower_sessions::{SessionStore, service::CookieController};

use super::{ApiToken, ApiTokens, CreatedToken, NewToken, Rehash, secret};
use crate::{
    AuthError, AuthSession, AuthUser, UserStore,
    error::PolicyError,
    events::{AuthEvent, TokenRefusal},
    layer::AuthLayerBuilder,
    login::{Bearer, Challenge, Change, Feature, RequestAuth, StoreCheck},
    security::{Keyed, Verified, address_group},
};

impl<S: UserStore, SS: SessionStore, C: CookieController> AuthLayerBuilder<S, SS, C> {
    /// Takes API tokens as well as sessions (feature `tokens`; see [`tokens`](crate::tokens)):
    /// a request with `Authorization: Bearer alt_…` is its token's user, and
    /// [`AuthSession::create_token`] and its siblings manage them. Default: off.
    pub fn api_tokens(self, tokens: ApiTokens) -> Self {
        self.feature(tokens)
    }
}

/// The most addresses kept as locked out of token lookups.
const MAX_LOCKED: usize = 10_000;

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The hash under which a store keeps, and finds, a token's secret.
fn hash_of(key: &Keyed, secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.tag("axum-login api token", &[secret.as_bytes()]))
}

/// The token in an `Authorization` header's value, if it uses the `Bearer` scheme; `Some("")`
/// (not a token) when it does with nothing usable after it.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim_matches(' '))
}

impl ApiTokens {
    /// Refuses the request's token: an event, and the answer's challenge says it was invalid.
    fn refuse(auth: &RequestAuth, reason: TokenRefusal, token: Option<&ApiToken>) -> Bearer {
        auth.set_challenge(Challenge::InvalidToken);
        auth.config().emit(
            AuthEvent::TokenRefused {
                reason,
                token: token.map(|token| token.id.clone()),
            },
            auth.client(),
        );
        Bearer::Refused
    }

    /// The stored token whose secret is `secret`, looked up under each key of the ring, and
    /// whether it was found under a previous key; every unknown token costs the same lookups.
    async fn find(
        &self,
        auth: &RequestAuth,
        secret: &str,
        now: SystemTime,
    ) -> Result<Option<(ApiToken, bool)>, AuthError> {
        for (key, verified) in auth.config().key.verifying(now) {
            let found = self
                .store
                .find(&hash_of(key, secret))
                .await
                .map_err(AuthError::Tokens)?;
            if let Some(token) = found {
                return Ok(Some((token, verified == Verified::Previous)));
            }
        }
        Ok(None)
    }

    /// Whether the request's address sent too many unknown tokens of late: its tokens are
    /// refused without a lookup until the throttle's window ends.
    fn locked_out(&self, auth: &RequestAuth, now: SystemTime) -> bool {
        let Some(address) = auth.client() else {
            return false;
        };
        let group = address_group(address);
        let mut locked = lock(&self.locked);
        match locked.get(&group) {
            Some(until) if *until > now => true,
            Some(_) => {
                locked.remove(&group);
                false
            }
            None => false,
        }
    }

    /// Counts an unknown or expired token against the request's address (never an account),
    /// and remembers the address as locked out once the throttle says so.
    async fn failed(&self, auth: &RequestAuth, now: SystemTime) -> Result<(), AuthError> {
        let Some(address) = auth.client() else {
            return Ok(());
        };
        let config = auth.config();
        let until = config
            .throttle
            .token_failed(address, now, &config.key)
            .await
            .map_err(AuthError::Throttle)?;
        if let Some(until) = until {
            let mut locked = lock(&self.locked);
            // Bounded: when full, the expired entries go, then the lock that ends first.
            if locked.len() >= MAX_LOCKED {
                locked.retain(|_, until| *until > now);
            }
            if locked.len() >= MAX_LOCKED {
                let first = locked
                    .iter()
                    .min_by_key(|(_, until)| **until)
                    .map(|(group, _)| group.clone());
                if let Some(first) = first {
                    locked.remove(&first);
                }
            }
            locked.insert(address_group(address), until);
        }
        Ok(())
    }

    /// Records a use of `token` at `now`, at most once per
    /// [`touch_interval`](ApiTokens::touch_interval); a failure is logged, never the request's.
    async fn touch(&self, token: &ApiToken, now: SystemTime) {
        let due = token.last_used_at.is_none_or(|last| {
            now.duration_since(last)
                .is_ok_and(|since| since >= self.touch_interval)
        });
        if due && let Err(error) = self.store.touch(&token.id, now).await {
            tracing::warn!(token = %token.id, %error, "could not record an API token's use");
        }
    }
}

#[async_trait::async_trait]
impl Feature for ApiTokens {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn stores(&self) -> Vec<StoreCheck<'_>> {
        vec![StoreCheck {
            name: "api_tokens",
            check: self.store.ping(),
        }]
    }

    /// A request with `Authorization: Bearer`: its token's user and scopes, or a refusal. Any
    /// other request is left to its session, and a refusal of it offers the bearer scheme.
    async fn authenticate(&self, auth: &RequestAuth) -> Result<Option<Bearer>, AuthError> {
        let Some(token) = auth.authorization().and_then(bearer_token) else {
            auth.set_challenge(Challenge::Bearer);
            return Ok(None);
        };
        if !secret::well_formed(token) {
            return Ok(Some(Self::refuse(auth, TokenRefusal::Malformed, None)));
        }
        let now = auth.config().clock.now();
        if self.locked_out(auth, now) {
            return Ok(Some(Self::refuse(auth, TokenRefusal::Throttled, None)));
        }
        let Some((stored, under_previous_key)) = self.find(auth, token, now).await? else {
            self.failed(auth, now).await?;
            return Ok(Some(Self::refuse(auth, TokenRefusal::Unknown, None)));
        };
        if stored.expires_at.is_some_and(|at| at <= now) {
            self.failed(auth, now).await?;
            let expired = Some(&stored);
            return Ok(Some(Self::refuse(auth, TokenRefusal::Expired, expired)));
        }
        if under_previous_key {
            let rehash = Rehash {
                id: &stored.id,
                from: &stored.hash,
                to: &hash_of(auth.config().key.current(), token),
            };
            self.store
                .rehash(&rehash)
                .await
                .map_err(AuthError::Tokens)?;
        }
        self.touch(&stored, now).await;
        Ok(Some(Bearer::User {
            user: stored.user,
            scopes: Arc::from(stored.scopes),
        }))
    }

    fn sessions_have_every_scope(&self) -> bool {
        self.sessions_have_every_scope
    }

    fn authenticates(&self, auth: &RequestAuth) -> bool {
        auth.authorization().and_then(bearer_token).is_some()
    }

    fn bearer_refused(&self, auth: &RequestAuth, _user: &str) {
        Self::refuse(auth, TokenRefusal::InactiveUser, None);
    }

    /// A password change revokes every token of the user: whoever learnt the old password
    /// may have made one.
    async fn changed(
        &self,
        auth: &RequestAuth,
        user: &str,
        change: Change<'_>,
    ) -> Result<(), AuthError> {
        if matches!(change, Change::Password { .. }) {
            revoke_all(self, auth, user).await?;
        }
        Ok(())
    }
}

/// Revokes every token of `user`, reporting it when there were any.
async fn revoke_all(tokens: &ApiTokens, auth: &RequestAuth, user: &str) -> Result<u64, AuthError> {
    let revoked = tokens
        .store
        .revoke_user(user)
        .await
        .map_err(AuthError::Tokens)?;
    if revoked > 0 {
        auth.config().emit(
            AuthEvent::TokensRevoked {
                user: user.to_owned(),
                token: None,
            },
            auth.client(),
        );
    }
    Ok(revoked)
}

impl<S: UserStore> AuthSession<S> {
    /// The layer's API tokens, or the error that says to add them.
    fn api_tokens(&self) -> Result<&ApiTokens, AuthError> {
        self.auth
            .config()
            .features
            .get::<ApiTokens>()
            .ok_or(AuthError::Policy(PolicyError::NoApiTokens))
    }

    /// The user logged in on this request's session (not by a token: a token cannot manage
    /// tokens), as the text of their id.
    async fn session_user(&self) -> Result<Option<String>, AuthError> {
        let Some(login) = self.auth.login().await? else {
            return Ok(None);
        };
        if login.scopes.is_some() {
            return Ok(None);
        }
        Ok(self.user().await?.map(|user| user.id().to_string()))
    }

    /// The scopes of the API token this request is authenticated by; `None` when it is a
    /// session's login, or nobody's.
    pub async fn token_scopes(&self) -> Result<Option<Vec<String>>, AuthError> {
        Ok(self
            .auth
            .login()
            .await?
            .and_then(|login| login.scopes.map(|scopes| scopes.to_vec())))
    }

    /// Creates an API token for the user logged in on this session (feature `tokens`): the
    /// answer holds its secret, to show once. `None` when nobody is logged in by a session (a
    /// token cannot create tokens). Guard the handler with `#[require_login(fresh = "10m")]`:
    /// whoever holds a session should not mint long-lived credentials from it.
    ///
    /// `Err(AuthError::InvalidToken)` (a `422`) for a name, scope or lifetime the token cannot
    /// have; a `500` when the layer has no [`api_tokens`](AuthLayerBuilder::api_tokens).
    pub async fn create_token(&self, new: NewToken) -> Result<Option<CreatedToken>, AuthError> {
        let tokens = self.api_tokens()?;
        let lifetime = new
            .check(tokens.max_lifetime)
            .map_err(AuthError::InvalidToken)?;
        let Some(user) = self.session_user().await? else {
            return Ok(None);
        };
        let config = self.auth.config();
        let now = config.clock.now();
        let secret = secret::generate();
        let token = ApiToken {
            id: rand::rngs::OsRng
                .sample_iter(&Alphanumeric)
                .take(16)
                .map(char::from)
                .collect(),
            user: user.clone(),
            name: new.name.trim().to_owned(),
            scopes: new.scopes,
            hash: hash_of(config.key.current(), &secret),
            created_at: now,
            last_used_at: None,
            expires_at: lifetime.map(|lifetime| now + lifetime),
        };
        tokens
            .store
            .insert(&token)
            .await
            .map_err(AuthError::Tokens)?;
        config.emit(
            AuthEvent::TokenCreated {
                user,
                token: token.id.clone(),
            },
            self.auth.client(),
        );
        Ok(Some(CreatedToken {
            secret: SecretString::from(secret),
            token,
        }))
    }

    /// The API tokens of the user logged in on this session, oldest first; none when nobody
    /// is.
    pub async fn tokens(&self) -> Result<Vec<ApiToken>, AuthError> {
        let tokens = self.api_tokens()?;
        let Some(user) = self.session_user().await? else {
            return Ok(Vec::new());
        };
        tokens.store.list(&user).await.map_err(AuthError::Tokens)
    }

    /// Revokes the session user's token with `id`; `false` when they have none with that id.
    pub async fn revoke_token(&self, id: &str) -> Result<bool, AuthError> {
        let tokens = self.api_tokens()?;
        let Some(user) = self.session_user().await? else {
            return Ok(false);
        };
        let revoked = tokens
            .store
            .revoke(&user, id)
            .await
            .map_err(AuthError::Tokens)?;
        if revoked {
            self.auth.config().emit(
                AuthEvent::TokensRevoked {
                    user,
                    token: Some(id.to_owned()),
                },
                self.auth.client(),
            );
        }
        Ok(revoked)
    }

    /// Revokes every API token of `user` (the session's own user, or any user for an admin
    /// page), answering how many there were. A password change through
    /// [`update_session_auth_hash`](Self::update_session_auth_hash) does it by itself.
    pub async fn revoke_tokens_of(&self, user: &(impl Display + ?Sized)) -> Result<u64, AuthError> {
        let tokens = self.api_tokens()?;
        revoke_all(tokens, &self.auth, &user.to_string()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_read_case_blind_and_others_are_not_tokens() {
        assert_eq!(bearer_token("Bearer alt_x"), Some("alt_x"));
        assert_eq!(bearer_token("bearer  alt_x "), Some("alt_x"));
        assert_eq!(bearer_token("BEARER alt_x"), Some("alt_x"));
        assert_eq!(bearer_token("Bearer"), Some(""));
        assert_eq!(bearer_token("Basic YTpi"), None);
        assert_eq!(bearer_token("Bearerx alt_x"), None);
        assert_eq!(bearer_token(""), None);
    }
}
