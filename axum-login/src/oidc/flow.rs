//! The authorization-code flow: [`Oidc::start`] sends the browser to the provider, and
//! [`Oidc::callback`] checks what comes back, exchanges the code and checks the ID token.

use std::time::SystemTime;

use openidconnect::{
    AuthorizationCode, ClientSecret, CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RequestTokenError, Scope, TokenResponse as _,
    core::{
        CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier,
    },
};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

use super::{
    Oidc, ProviderUserStore, SignInFailure,
    provider::{Discovered, Kind, Live, UserInfoFields, chain},
};
use crate::{
    AuthSession, AuthUser as _, clock::unix_seconds, error::AuthError, events::AuthEvent, safe_next,
};

/// Where a session keeps the sign-ins it started and has not finished.
const FLOWS_KEY: &str = "axum_login.oidc.flows";

/// The most sign-ins one session waits for at once (several tabs, a provider page left open);
/// starting one more forgets the oldest.
const MAX_FLOWS: usize = 4;

/// A sign-in this session started: everything the callback needs to check the answer.
#[derive(Serialize, Deserialize)]
struct PendingFlow {
    provider: String,
    state: String,
    nonce: String,
    verifier: String,
    next: Option<String>,
    /// Unix seconds.
    started: u64,
    /// The user a link is for, when a logged-in user started this to link a provider.
    link_for: Option<String>,
}

/// The query of a provider's answer on the callback route, as `Query<Callback>` extracts it.
/// Every field is optional: what is missing is the flow's to judge, not the extractor's.
#[derive(Debug, Default, Clone, Deserialize)]
#[non_exhaustive]
pub struct Callback {
    /// The authorization code.
    pub code: Option<String>,
    /// The `state` that [`Oidc::start`] sent.
    pub state: Option<String>,
    /// The issuer, from a provider that sends it (RFC 9207).
    pub iss: Option<String>,
    /// The provider's error code (`access_denied`, ...).
    pub error: Option<String>,
    /// The provider's explanation of the error, for the log.
    pub error_description: Option<String>,
}

impl Callback {
    /// A callback query from its parts, for tests and apps that parse the query themselves.
    pub fn new(code: Option<&str>, state: Option<&str>, iss: Option<&str>) -> Self {
        Self {
            code: code.map(str::to_owned),
            state: state.map(str::to_owned),
            iss: iss.map(str::to_owned),
            error: None,
            error_description: None,
        }
    }
}

/// What [`Oidc::start`] made of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Started {
    /// Send the browser here (`303`): the provider's authorization endpoint.
    Redirect(String),
    /// Nothing to send the browser to: show the failure.
    Failed(SignInFailure),
}

/// What a provider's answer came to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderSignIn {
    /// The user is logged in on this session; send them to `next` (validated when the sign-in
    /// started), or the app's home.
    LoggedIn {
        /// Where the sign-in was started from.
        next: Option<String>,
    },
    /// The user has a second factor: the session waits for it, as after a password.
    SecondFactorDue {
        /// Where the sign-in was started from.
        next: Option<String>,
    },
    /// The provider account is now linked to the logged-in user.
    Linked {
        /// Where the link was started from.
        next: Option<String>,
    },
    /// The provider's verified address belongs to an account with no link to this provider
    /// account: ask for that account's password and give it to
    /// [`Oidc::confirm_link`](super::Oidc::confirm_link).
    ConfirmLink {
        /// The address, to show on the form.
        email: String,
        /// The provider's display name.
        provider: String,
    },
    /// No sign-in: answer with the failure's status and message.
    Failed(SignInFailure),
}

impl ProviderSignIn {
    /// Where to send the browser after a sign-in that needs nothing more: `next`, or `/`.
    pub fn next_or_home(&self) -> &str {
        match self {
            Self::LoggedIn { next } | Self::Linked { next } | Self::SecondFactorDue { next } => {
                next.as_deref().unwrap_or("/")
            }
            _ => "/",
        }
    }
}

/// What the provider said about the account, from a checked ID token: what a sign-up
/// function (see [`Oidc::sign_up`](super::Oidc::sign_up)) makes a user of.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewProviderUser {
    /// The provider's id in the app's configuration.
    pub provider: String,
    /// The provider's issuer URL.
    pub issuer: String,
    /// The account's subject at the provider.
    pub subject: String,
    /// The account's address, if the provider gave one.
    pub email: Option<String>,
    /// Whether the provider says the address is the account holder's.
    pub email_verified: bool,
    /// The account holder's name, if given.
    pub name: Option<String>,
    /// The name the account holder goes by at the provider, if given: a hint for a username,
    /// which the app must still check is free and acceptable.
    pub preferred_username: Option<String>,
}

/// Why an ID token was refused: the key it names is unknown (worth fetching the keys again),
/// or anything else.
enum Refused {
    UnknownKey,
    Invalid(String),
}

impl<S: ProviderUserStore> Oidc<S> {
    /// Starts a sign-in with the provider `provider`: keeps a new flow in the session and
    /// answers the provider's URL to send the browser to. `next` is where to go afterwards; it
    /// is kept only if [`safe_next`] accepts it.
    pub async fn start(
        &self,
        auth: &AuthSession<S>,
        provider: &str,
        next: Option<&str>,
    ) -> Result<Started, AuthError> {
        self.begin(auth, provider, next, None).await
    }

    /// Starts linking the provider `provider` to the logged-in user: like [`start`](Self::start),
    /// and the callback links the account it comes back with instead of logging in.
    pub async fn start_link(
        &self,
        auth: &AuthSession<S>,
        provider: &str,
        next: Option<&str>,
    ) -> Result<Started, AuthError> {
        self.registered(auth)?;
        let Some(user) = auth.user().await? else {
            return Ok(Started::Failed(self.failed(
                auth,
                provider,
                SignInFailure::NotLoggedIn,
            )));
        };
        self.begin(auth, provider, next, Some(user.id().to_string()))
            .await
    }

    async fn begin(
        &self,
        auth: &AuthSession<S>,
        provider: &str,
        next: Option<&str>,
        link_for: Option<String>,
    ) -> Result<Started, AuthError> {
        self.registered(auth)?;
        let Some(live) = self.find(provider) else {
            return Ok(Started::Failed(self.failed(
                auth,
                provider,
                SignInFailure::UnknownProvider,
            )));
        };
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = match &live.config.kind {
            Kind::OpenId => {
                let discovered = match live.discovered().await {
                    Ok(discovered) => discovered,
                    Err(unreachable) => {
                        tracing::warn!(provider, cause = %unreachable.0, "a sign-in could not start: the provider cannot be reached");
                        return Ok(Started::Failed(self.failed(
                            auth,
                            provider,
                            SignInFailure::Unreachable,
                        )));
                    }
                };
                let client = client(live, &discovered);
                let mut request = client.authorize_url(
                    CoreAuthenticationFlow::AuthorizationCode,
                    CsrfToken::new_random,
                    Nonce::new_random,
                );
                for scope in &live.config.scopes {
                    request = request.add_scope(Scope::new(scope.clone()));
                }
                let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
                (url, state, nonce.secret().clone())
            }
            Kind::OAuth2(oauth) => {
                let client = oauth2_client(live, &oauth.authorization, &oauth.token);
                let mut request = client.authorize_url(CsrfToken::new_random);
                for scope in &live.config.scopes {
                    request = request.add_scope(Scope::new(scope.clone()));
                }
                let (url, state) = request.set_pkce_challenge(challenge).url();
                // No ID token, so no nonce: the state and PKCE bind the answer to this flow.
                (url, state, String::new())
            }
        };
        let config = auth.auth.config();
        let now = unix_seconds(config.clock.now());
        let session = auth.auth.session();
        let mut flows = self.flows(auth).await?;
        flows.retain(|flow| now.saturating_sub(flow.started) < self.timeout.as_secs());
        if flows.len() >= MAX_FLOWS {
            flows.remove(0);
        }
        flows.push(PendingFlow {
            provider: provider.to_owned(),
            state: state.secret().clone(),
            nonce,
            verifier: verifier.secret().clone(),
            next: next.and_then(safe_next).map(str::to_owned),
            started: now,
            link_for,
        });
        session.insert(FLOWS_KEY, &flows).await?;
        Ok(Started::Redirect(url.to_string()))
    }

    /// The flows this session waits for; a value that does not parse is none.
    async fn flows(&self, auth: &AuthSession<S>) -> Result<Vec<PendingFlow>, AuthError> {
        Ok(auth
            .auth
            .session()
            .get_value(FLOWS_KEY)
            .await?
            .and_then(|value| serde_json::from_value(value).ok())
            .unwrap_or_default())
    }

    /// Takes the provider's answer on the callback route of `provider`: checks it, exchanges
    /// the code, checks the ID token, and logs in (or links, or asks to confirm a link) the
    /// account it names. See [the module](super) for every check.
    ///
    /// The callback is a navigation from the provider's site, so it is not refused as
    /// cross-site: the `state`, which only this browser's session holds, is what proves this
    /// browser started the sign-in.
    pub async fn callback(
        &self,
        auth: &mut AuthSession<S>,
        provider: &str,
        answer: &Callback,
    ) -> Result<ProviderSignIn, AuthError> {
        self.registered(auth)?;
        let Some(flow) = self.take_flow(auth, answer.state.as_deref()).await? else {
            return Ok(self.refuse(auth, provider, SignInFailure::InvalidState));
        };
        if flow.provider != provider {
            tracing::warn!(
                provider,
                started_with = %flow.provider,
                "a provider's answer came to another provider's callback"
            );
            return Ok(self.refuse(auth, provider, SignInFailure::MixUp));
        }
        let config = auth.auth.config();
        let now = config.clock.now();
        if unix_seconds(now).saturating_sub(flow.started) >= self.timeout.as_secs() {
            return Ok(self.refuse(auth, provider, SignInFailure::Expired));
        }
        let Some(live) = self.find(provider).cloned() else {
            return Ok(self.refuse(auth, provider, SignInFailure::UnknownProvider));
        };
        if let Some(error) = &answer.error {
            tracing::info!(
                provider,
                error = %printable(error),
                description = %answer.error_description.as_deref().map(printable).unwrap_or_default(),
                "the provider answered a sign-in with an error"
            );
            return Ok(self.refuse(auth, provider, SignInFailure::Denied));
        }
        let account = match &live.config.kind {
            Kind::OpenId => {
                openid_account(&live, &flow, answer, now, config.clock_skew, self.timeout).await
            }
            Kind::OAuth2(oauth) => {
                let client = oauth2_client(&live, &oauth.authorization, &oauth.token);
                oauth2_account(
                    &live,
                    &client,
                    &oauth.userinfo,
                    &oauth.fields,
                    &flow,
                    answer,
                )
                .await
            }
        };
        let identity = match account {
            Ok(identity) => identity,
            Err(failure) => return Ok(self.refuse(auth, provider, failure)),
        };
        self.settle(auth, &live, identity, flow.next, flow.link_for)
            .await
    }

    /// Removes and answers the flow whose `state` is `state`, if the session has one.
    async fn take_flow(
        &self,
        auth: &AuthSession<S>,
        state: Option<&str>,
    ) -> Result<Option<PendingFlow>, AuthError> {
        let Some(state) = state else {
            return Ok(None);
        };
        let mut flows = self.flows(auth).await?;
        let Some(index) = flows
            .iter()
            .position(|flow| bool::from(flow.state.as_bytes().ct_eq(state.as_bytes())))
        else {
            return Ok(None);
        };
        let flow = flows.remove(index);
        let session = auth.auth.session();
        if flows.is_empty() {
            session.remove_value(FLOWS_KEY).await?;
        } else {
            session.insert(FLOWS_KEY, &flows).await?;
        }
        Ok(Some(flow))
    }

    /// Reports `failure` and answers it as a sign-in outcome.
    pub(super) fn refuse(
        &self,
        auth: &AuthSession<S>,
        provider: &str,
        failure: SignInFailure,
    ) -> ProviderSignIn {
        ProviderSignIn::Failed(self.failed(auth, provider, failure))
    }

    /// Reports `failure` as an event, naming the provider only if it is configured (the id in
    /// a callback's path is the visitor's to choose, and events feed metrics' labels).
    pub(super) fn failed(
        &self,
        auth: &AuthSession<S>,
        provider: &str,
        failure: SignInFailure,
    ) -> SignInFailure {
        let provider = self
            .find(provider)
            .map_or_else(|| "unknown".to_owned(), |live| live.config.id.clone());
        auth.emit(AuthEvent::ProviderSignInFailed {
            provider,
            reason: failure.as_str(),
        });
        failure
    }
}

/// The account an OpenID Connect provider's answer names: `iss` checked, the code exchanged,
/// the ID token checked (see [the module](super)).
async fn openid_account(
    live: &Live,
    flow: &PendingFlow,
    answer: &Callback,
    now: SystemTime,
    skew: std::time::Duration,
    timeout: std::time::Duration,
) -> Result<NewProviderUser, SignInFailure> {
    let provider = live.config.id.as_str();
    let discovered = match live.discovered().await {
        Ok(discovered) => discovered,
        Err(unreachable) => {
            tracing::warn!(provider, cause = %unreachable.0, "a sign-in could not finish: the provider cannot be reached");
            return Err(SignInFailure::Unreachable);
        }
    };
    let announces_iss = discovered
        .metadata
        .additional_metadata()
        .authorization_response_iss_parameter_supported;
    match &answer.iss {
        Some(iss) if iss != live.config.issuer.as_str() => {
            tracing::warn!(provider, iss = %printable(iss), "a provider's answer names another issuer");
            return Err(SignInFailure::MixUp);
        }
        None if announces_iss => {
            tracing::warn!(
                provider,
                "a provider's answer lacks the `iss` its discovery document announces"
            );
            return Err(SignInFailure::MixUp);
        }
        _ => {}
    }
    let Some(code) = &answer.code else {
        return Err(SignInFailure::TokenRefused);
    };
    let client = client(live, &discovered);
    let Ok(request) = client.exchange_code(AuthorizationCode::new(code.clone())) else {
        tracing::warn!(
            provider,
            "the provider's discovery document has no token endpoint"
        );
        return Err(SignInFailure::TokenRefused);
    };
    let response = match request
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
        .request_async(&live.http)
        .await
    {
        Ok(response) => response,
        Err(RequestTokenError::ServerResponse(refusal)) => {
            tracing::info!(provider, error = %refusal.error(), "the provider refused the code");
            return Err(SignInFailure::TokenRefused);
        }
        Err(RequestTokenError::Request(error)) => {
            tracing::warn!(provider, cause = %chain(&error), "the provider's token endpoint cannot be reached");
            return Err(SignInFailure::Unreachable);
        }
        Err(error) => {
            tracing::warn!(provider, cause = %chain(&error), "the provider's token response is not one");
            return Err(SignInFailure::TokenRefused);
        }
    };
    let Some(id_token) = response.id_token() else {
        tracing::warn!(provider, "the provider's token response has no ID token");
        return Err(SignInFailure::InvalidIdToken);
    };
    let mut checked = check_id_token(live, &discovered, id_token, &flow.nonce, now, skew, timeout);
    if matches!(checked, Err(Refused::UnknownKey)) {
        match live.refetch_keys(&discovered).await {
            Ok(Some(newer)) => {
                checked = check_id_token(live, &newer, id_token, &flow.nonce, now, skew, timeout);
            }
            Ok(None) => {}
            Err(unreachable) => {
                tracing::warn!(provider, cause = %unreachable.0, "the provider's keys cannot be fetched");
                return Err(SignInFailure::Unreachable);
            }
        }
    }
    let identity = match checked {
        Ok(identity) => identity,
        Err(Refused::UnknownKey) => {
            tracing::warn!(
                provider,
                "an ID token is signed with a key the provider does not publish"
            );
            return Err(SignInFailure::InvalidIdToken);
        }
        Err(Refused::Invalid(why)) => {
            tracing::warn!(provider, why = %why, "an ID token failed a check");
            return Err(SignInFailure::InvalidIdToken);
        }
    };
    Ok(identity)
}

/// A plain OAuth 2.0 client of `live`.
type OAuth2Client = oauth2::basic::BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn oauth2_client(
    live: &Live,
    authorization: &openidconnect::AuthUrl,
    token: &openidconnect::TokenUrl,
) -> OAuth2Client {
    oauth2::basic::BasicClient::new(oauth2::ClientId::new(
        live.config.client_id.as_str().to_owned(),
    ))
    .set_client_secret(oauth2::ClientSecret::new(
        live.config.client_secret.expose_secret().to_owned(),
    ))
    .set_auth_uri(
        oauth2::AuthUrl::new(authorization.as_str().to_owned())
            .unwrap_or_else(|_| unreachable!("parsed when the provider was configured")),
    )
    .set_token_uri(
        oauth2::TokenUrl::new(token.as_str().to_owned())
            .unwrap_or_else(|_| unreachable!("parsed when the provider was configured")),
    )
    .set_redirect_uri(
        oauth2::RedirectUrl::new(live.config.redirect_url.as_str().to_owned())
            .unwrap_or_else(|_| unreachable!("parsed when the provider was configured")),
    )
}

/// The account a plain OAuth 2.0 provider's answer names: an `iss` (if sent) checked, the
/// code exchanged, and the userinfo endpoint asked with the access token.
async fn oauth2_account(
    live: &Live,
    client: &OAuth2Client,
    userinfo: &url::Url,
    fields: &UserInfoFields,
    flow: &PendingFlow,
    answer: &Callback,
) -> Result<NewProviderUser, SignInFailure> {
    use oauth2::TokenResponse as _;

    let provider = live.config.id.as_str();
    if let Some(iss) = &answer.iss
        && iss != live.config.issuer.as_str()
    {
        tracing::warn!(provider, iss = %printable(iss), "a provider's answer names another issuer");
        return Err(SignInFailure::MixUp);
    }
    let Some(code) = &answer.code else {
        return Err(SignInFailure::TokenRefused);
    };
    let response = client
        .exchange_code(oauth2::AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(oauth2::PkceCodeVerifier::new(flow.verifier.clone()))
        .request_async(&live.http)
        .await
        .map_err(|error| match error {
            oauth2::RequestTokenError::ServerResponse(refusal) => {
                tracing::info!(provider, error = %refusal.error(), "the provider refused the code");
                SignInFailure::TokenRefused
            }
            oauth2::RequestTokenError::Request(error) => {
                tracing::warn!(provider, cause = %chain(&error), "the provider's token endpoint cannot be reached");
                SignInFailure::Unreachable
            }
            error => {
                tracing::warn!(provider, cause = %chain(&error), "the provider's token response is not one");
                SignInFailure::TokenRefused
            }
        })?;
    let asked = live
        .http
        .get(userinfo.clone())
        .bearer_auth(response.access_token().secret())
        .header(http::header::ACCEPT, "application/json")
        // GitHub's API refuses requests without one.
        .header(http::header::USER_AGENT, "axum-login")
        .send()
        .await
        .map_err(|error| {
            tracing::warn!(provider, cause = %chain(&error), "the provider's userinfo endpoint cannot be reached");
            SignInFailure::Unreachable
        })?;
    if !asked.status().is_success() {
        tracing::warn!(provider, status = %asked.status(), "the provider's userinfo endpoint refused the access token");
        return Err(SignInFailure::TokenRefused);
    }
    let body = asked.bytes().await.map_err(|error| {
        tracing::warn!(provider, cause = %chain(&error), "the provider's userinfo answer was cut off");
        SignInFailure::Unreachable
    })?;
    let Ok(info) = serde_json::from_slice::<serde_json::Value>(&body) else {
        tracing::warn!(provider, "the provider's userinfo answer is not JSON");
        return Err(SignInFailure::InvalidUserInfo);
    };
    let text = |field: &str| match info.get(field) {
        Some(serde_json::Value::String(text)) if !text.is_empty() => Some(text.clone()),
        Some(serde_json::Value::Number(number)) => Some(number.to_string()),
        _ => None,
    };
    let Some(subject) = text(&fields.subject) else {
        tracing::warn!(provider, field = %fields.subject, "the provider's userinfo answer has no subject");
        return Err(SignInFailure::InvalidUserInfo);
    };
    Ok(NewProviderUser {
        provider: provider.to_owned(),
        issuer: live.config.issuer.as_str().to_owned(),
        subject,
        email: text(&fields.email),
        email_verified: fields
            .email_verified
            .as_deref()
            .is_some_and(|field| info.get(field) == Some(&serde_json::Value::Bool(true))),
        name: text(&fields.name),
        preferred_username: text(&fields.username),
    })
}

/// A client of `live` as `discovered` describes it.
fn client(
    live: &Live,
    discovered: &Discovered,
) -> CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
> {
    CoreClient::from_provider_metadata(
        discovered.metadata.clone(),
        live.config.client_id.clone(),
        Some(ClientSecret::new(
            live.config.client_secret.expose_secret().to_owned(),
        )),
    )
    .set_redirect_uri(live.config.redirect_url.clone())
}

/// `id_token` checked against `discovered`'s keys and the flow: see [the module](super).
fn check_id_token(
    live: &Live,
    discovered: &Discovered,
    id_token: &CoreIdToken,
    nonce: &str,
    now: SystemTime,
    skew: std::time::Duration,
    timeout: std::time::Duration,
) -> Result<NewProviderUser, Refused> {
    let now = chrono::DateTime::<chrono::Utc>::from(now);
    let skew = chrono::Duration::from_std(skew).unwrap_or_else(|_| chrono::Duration::zero());
    let timeout = chrono::Duration::from_std(timeout).unwrap_or_else(|_| chrono::Duration::zero());
    let verifier = CoreIdTokenVerifier::new_public_client(
        live.config.client_id.clone(),
        live.config.issuer.clone(),
        discovered.metadata.jwks().clone(),
    )
    .set_allowed_algs(live.config.algorithms.iter().cloned())
    // `exp` must be after now, give or take the skew.
    .set_time_fn(move || now - skew)
    // The token is made at the code exchange, a moment ago: one from the future, or from
    // before the flow could have started, is someone else's.
    .set_issue_time_verifier_fn(move |issued| {
        if issued > now + skew {
            Err(format!("issued in the future ({issued})"))
        } else if issued < now - timeout - skew {
            Err(format!("issued too long ago ({issued})"))
        } else {
            Ok(())
        }
    });
    let nonce_check = |found: Option<&Nonce>| match found {
        Some(found) if bool::from(found.secret().as_bytes().ct_eq(nonce.as_bytes())) => Ok(()),
        Some(_) => Err("the nonce is not this sign-in's".to_owned()),
        None => Err("the token has no nonce".to_owned()),
    };
    let claims: &CoreIdTokenClaims = id_token.claims(&verifier, nonce_check).map_err(|error| {
        use openidconnect::{ClaimsVerificationError, SignatureVerificationError};
        match error {
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            ) => Refused::UnknownKey,
            other => Refused::Invalid(chain(&other)),
        }
    })?;
    // `azp`, which the library leaves to its users: when present it must be this client, and
    // a token for several audiences must say which of them it was issued to.
    let client_id = live.config.client_id.as_str();
    match claims.authorized_party() {
        Some(party) if party.as_str() != client_id => {
            return Err(Refused::Invalid(format!(
                "issued to another party (`azp` {})",
                party.as_str()
            )));
        }
        None if claims.audiences().len() > 1 => {
            return Err(Refused::Invalid(
                "several audiences and no `azp`".to_owned(),
            ));
        }
        _ => {}
    }
    Ok(NewProviderUser {
        provider: live.config.id.clone(),
        issuer: claims.issuer().as_str().to_owned(),
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|email| email.as_str().to_owned()),
        email_verified: claims.email_verified().unwrap_or(false),
        name: claims
            .name()
            .and_then(|name| name.get(None))
            .map(|name| name.as_str().to_owned()),
        preferred_username: claims
            .preferred_username()
            .map(|name| name.as_str().to_owned()),
    })
}

/// `text` cut short and stripped of control characters, for a log line: it came from the
/// query string.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(100).collect()
}
