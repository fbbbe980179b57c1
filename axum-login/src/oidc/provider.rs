//! A provider as the app configures it, and what the app learns from it at run time: the
//! discovery document and the signing keys, cached with a refresh rule.

use std::{
    fmt,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use openidconnect::{
    AdditionalProviderMetadata, ClientId, IssuerUrl, JsonWebKeySet, ProviderMetadata, RedirectUrl,
    core::{
        CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
        CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
        CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
    },
    reqwest,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// How long a discovery document and its keys are used before the next use fetches them
/// again: providers announce new keys in advance, so a day old is fresh enough, and a key the
/// app has not seen yet is fetched at once anyway (see [`KEYS_REFETCH`]).
pub const METADATA_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The least time between two fetches of a provider's keys for tokens whose key (`kid`) the
/// app does not know. A provider that rotated its keys is seen on the first token it signs
/// with the new one (the first such fetch is never held back); a stream of forged tokens
/// naming unknown keys cannot make the app fetch more than once a minute.
pub const KEYS_REFETCH: Duration = Duration::from_secs(60);

/// The time limit of one request to a provider (discovery, keys, token).
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The signature algorithms accepted by default: the asymmetric ones a provider signs with.
/// Never `none`, and never `HS256`/`HS384`/`HS512`: with those the key is a shared secret, and
/// a token "signed" with the provider's public key would pass a careless check.
const DEFAULT_ALGORITHMS: [CoreJwsSigningAlgorithm; 8] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
];

/// The one field of a discovery document beyond the core ones that the flow reads: whether
/// the provider puts `iss` in its authorization responses (RFC 9207). When it says so, a
/// response without it is refused.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub(super) struct IssParameter {
    #[serde(default)]
    pub(super) authorization_response_iss_parameter_supported: bool,
}

impl AdditionalProviderMetadata for IssParameter {}

/// A discovery document with the field above.
pub(super) type Metadata = ProviderMetadata<
    IssParameter,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// A configuration the app gave that cannot work, named with the setting at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("OpenID Connect provider `{provider}`: {problem}")]
pub struct ProviderConfigError {
    provider: String,
    problem: String,
}

impl ProviderConfigError {
    fn new(provider: &str, problem: impl Into<String>) -> Self {
        Self {
            provider: provider.to_owned(),
            problem: problem.into(),
        }
    }

    pub(super) fn duplicate(provider: &str) -> Self {
        Self::new(provider, "another provider has this id")
    }
}

/// An OpenID Connect provider the app signs users in with: where it is (its issuer URL, from
/// which discovery finds the rest), who the app is to it (client id and secret), and the URL
/// of the app's callback route, which must be registered at the provider exactly.
///
/// ```
/// use axum_login::oidc::Provider;
///
/// let provider = Provider::new(
///     "example",                            // the id in the app's routes: /login/oidc/example
///     "https://accounts.example.com",       // the issuer
///     "my-client-id",
///     "my-client-secret",
///     "https://app.example.com/login/oidc/example/callback",
/// )
/// .expect("a valid configuration")
/// .name("Example");
/// # let _ = provider;
/// ```
#[derive(Clone)]
pub struct Provider {
    pub(super) kind: Kind,
    pub(super) id: String,
    pub(super) name: String,
    pub(super) issuer: IssuerUrl,
    pub(super) client_id: ClientId,
    pub(super) client_secret: SecretString,
    pub(super) scopes: Vec<String>,
    pub(super) redirect_url: RedirectUrl,
    pub(super) algorithms: Vec<CoreJwsSigningAlgorithm>,
}

/// How the app learns who signed in.
#[derive(Clone, Debug)]
pub(super) enum Kind {
    /// OpenID Connect: endpoints and keys from discovery, the account from the ID token.
    OpenId,
    /// Plain OAuth 2.0: endpoints configured, the account from the userinfo endpoint, asked
    /// with the access token the code was exchanged for.
    OAuth2(Box<OAuth2Kind>),
}

/// What a plain OAuth 2.0 provider is asked at.
#[derive(Clone, Debug)]
pub(super) struct OAuth2Kind {
    pub(super) authorization: openidconnect::AuthUrl,
    pub(super) token: openidconnect::TokenUrl,
    pub(super) userinfo: url::Url,
    pub(super) fields: UserInfoFields,
}

/// The endpoints of a plain OAuth 2.0 provider (see [`Provider::oauth2`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Endpoints {
    /// Where browsers are sent to sign in.
    pub authorization: String,
    /// Where the code is exchanged for an access token.
    pub token: String,
    /// Where the access token fetches the account, as JSON.
    pub userinfo: String,
}

/// The fields of a plain OAuth 2.0 provider's userinfo answer that name the account: by
/// default the OpenID Connect claim names (`sub`, `email`, `email_verified`, `name`,
/// `preferred_username`). A number is read as its decimal text (GitHub's `id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfoFields {
    /// The account's stable identifier: required.
    pub subject: String,
    /// The account's address.
    pub email: String,
    /// A boolean saying the address is verified; `None` when the provider says nothing, and
    /// then no address counts as verified (so none links an existing account).
    pub email_verified: Option<String>,
    /// The account holder's name.
    pub name: String,
    /// The name the holder goes by there.
    pub username: String,
}

impl Default for UserInfoFields {
    fn default() -> Self {
        Self {
            subject: "sub".to_owned(),
            email: "email".to_owned(),
            email_verified: Some("email_verified".to_owned()),
            name: "name".to_owned(),
            username: "preferred_username".to_owned(),
        }
    }
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id.as_str())
            .field("client_secret", &"[redacted]")
            .field("scopes", &self.scopes)
            .field("redirect_url", &self.redirect_url.as_str())
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A provider with the scopes `openid email profile` and the asymmetric signature
    /// algorithms; its display name is its id until [`name`](Self::name) sets one.
    ///
    /// `id` names the provider in the app's routes and in the account links: letters, digits,
    /// `-` and `_`, at most 32. `issuer` and `redirect_url` are absolute `https` URLs; plain
    /// `http` is accepted for loopback hosts only (a provider or an app on the developer's
    /// machine), since anything else would send codes and secrets in the clear.
    pub fn new(
        id: &str,
        issuer: &str,
        client_id: &str,
        client_secret: impl Into<SecretString>,
        redirect_url: &str,
    ) -> Result<Self, ProviderConfigError> {
        if id.is_empty()
            || id.len() > 32
            || !id
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        {
            return Err(ProviderConfigError::new(
                id,
                "the id must be 1 to 32 letters, digits, `-` or `_`",
            ));
        }
        check_url(id, "issuer", issuer)?;
        check_url(id, "redirect URL", redirect_url)?;
        if client_id.is_empty() {
            return Err(ProviderConfigError::new(id, "the client id is empty"));
        }
        let issuer = IssuerUrl::new(issuer.to_owned())
            .map_err(|error| ProviderConfigError::new(id, format!("issuer: {error}")))?;
        let redirect_url = RedirectUrl::new(redirect_url.to_owned())
            .map_err(|error| ProviderConfigError::new(id, format!("redirect URL: {error}")))?;
        Ok(Self {
            kind: Kind::OpenId,
            id: id.to_owned(),
            name: id.to_owned(),
            issuer,
            client_id: ClientId::new(client_id.to_owned()),
            client_secret: client_secret.into(),
            scopes: vec!["email".to_owned(), "profile".to_owned()],
            redirect_url,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
        })
    }

    /// A plain OAuth 2.0 provider, which gives no ID token: the account is what its userinfo
    /// endpoint answers for the access token (see [`userinfo_fields`](Self::userinfo_fields)).
    /// `issuer` is the provider's identifier in the links (`https://github.com`); it is checked
    /// against an `iss` in the provider's answer when there is one. No scopes until
    /// [`scopes`](Self::scopes) sets them. The endpoints follow the rule of `issuer`.
    ///
    /// With no ID token there is no signature to check: the account is as trustworthy as the
    /// TLS connection to the userinfo endpoint, which is why plain `http` is refused outside
    /// loopback.
    pub fn oauth2(
        id: &str,
        issuer: &str,
        endpoints: OAuth2Endpoints,
        client_id: &str,
        client_secret: impl Into<SecretString>,
        redirect_url: &str,
    ) -> Result<Self, ProviderConfigError> {
        let mut provider = Self::new(id, issuer, client_id, client_secret, redirect_url)?;
        for (what, url) in [
            ("authorization endpoint", &endpoints.authorization),
            ("token endpoint", &endpoints.token),
            ("userinfo endpoint", &endpoints.userinfo),
        ] {
            check_url(id, what, url)?;
        }
        let config = |what: &str, error: &dyn std::error::Error| {
            ProviderConfigError::new(id, format!("{what}: {error}"))
        };
        provider.kind = Kind::OAuth2(Box::new(OAuth2Kind {
            authorization: openidconnect::AuthUrl::new(endpoints.authorization)
                .map_err(|error| config("authorization endpoint", &error))?,
            token: openidconnect::TokenUrl::new(endpoints.token)
                .map_err(|error| config("token endpoint", &error))?,
            userinfo: url::Url::parse(&endpoints.userinfo)
                .map_err(|error| config("userinfo endpoint", &error))?,
            fields: UserInfoFields::default(),
        }));
        provider.scopes = Vec::new();
        Ok(provider)
    }

    /// GitHub, as a plain OAuth 2.0 provider: its endpoints, the scopes `read:user` and
    /// `user:email`, the account's numeric `id` as the subject and its `login` as the
    /// username. GitHub says nothing about the address on the profile being verified, so a
    /// GitHub sign-in never links an existing account by address; it signs in through a link
    /// made from a logged-in session, or signs up.
    pub fn github(
        client_id: &str,
        client_secret: impl Into<SecretString>,
        redirect_url: &str,
    ) -> Result<Self, ProviderConfigError> {
        Ok(Self::oauth2(
            "github",
            "https://github.com",
            OAuth2Endpoints {
                authorization: "https://github.com/login/oauth/authorize".to_owned(),
                token: "https://github.com/login/oauth/access_token".to_owned(),
                userinfo: "https://api.github.com/user".to_owned(),
            },
            client_id,
            client_secret,
            redirect_url,
        )?
        .name("GitHub")
        .scopes(["read:user", "user:email"])
        .userinfo_fields(UserInfoFields {
            subject: "id".to_owned(),
            email: "email".to_owned(),
            email_verified: None,
            name: "name".to_owned(),
            username: "login".to_owned(),
        }))
    }

    /// Which fields of a plain OAuth 2.0 provider's userinfo answer name the account. No
    /// effect on an OpenID Connect provider, whose ID token uses the standard claims.
    pub fn userinfo_fields(mut self, fields: UserInfoFields) -> Self {
        if let Kind::OAuth2(oauth) = &mut self.kind {
            oauth.fields = fields;
        }
        self
    }

    /// The name users see ("Sign in with {name}").
    pub fn name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.name);
        self
    }

    /// The scopes to ask for besides `openid`, which is always asked of an OpenID Connect
    /// provider. Default: `email`, `profile` (none for a plain OAuth 2.0 provider). Without
    /// `email` no account can be linked by address.
    pub fn scopes<I, T>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.scopes = scopes
            .into_iter()
            .map(Into::into)
            .filter(|scope| scope != "openid")
            .collect();
        self
    }

    /// The provider's id in the app's routes and links.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The provider's display name.
    pub fn display_name(&self) -> &str {
        &self.name
    }

    /// The provider's issuer URL, as ID tokens must name it.
    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }
}

/// Whether `url` is an absolute `https` URL, or `http` to a loopback host.
fn check_url(provider: &str, what: &str, url: &str) -> Result<(), ProviderConfigError> {
    let parsed = url::Url::parse(url)
        .map_err(|error| ProviderConfigError::new(provider, format!("{what} `{url}`: {error}")))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(host)) => host == "localhost",
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(ProviderConfigError::new(
            provider,
            format!("{what} `{url}`: plain http is for loopback hosts only; use https"),
        )),
        _ => Err(ProviderConfigError::new(
            provider,
            format!("{what} `{url}` is not an absolute https URL"),
        )),
    }
}

/// A discovery document and when it and its keys were fetched.
pub(super) struct Discovered {
    pub(super) metadata: Metadata,
    fetched: Instant,
    /// When a token with an unknown key last made the keys be fetched again.
    refetched: Option<Instant>,
}

/// Why the provider could not be asked.
#[derive(Debug)]
pub(super) struct Unreachable(pub(super) String);

/// A configured provider with its cache and the HTTP client that talks to it.
pub(super) struct Live {
    pub(super) config: Provider,
    pub(super) http: reqwest::Client,
    cache: RwLock<Option<Arc<Discovered>>>,
    /// Held while fetching, so that concurrent requests that find the cache stale wait for one
    /// fetch instead of each making their own.
    fetching: tokio::sync::Mutex<()>,
}

impl Live {
    pub(super) fn new(config: Provider) -> Result<Self, ProviderConfigError> {
        // A provider's endpoints answer directly; following a redirect would let a document
        // point the app at any URL, internal ones included.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|error| {
                ProviderConfigError::new(&config.id, format!("HTTP client: {error}"))
            })?;
        Ok(Self {
            config,
            http,
            cache: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    fn cached(&self) -> Option<Arc<Discovered>> {
        self.cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn keep(&self, discovered: Discovered) -> Arc<Discovered> {
        let discovered = Arc::new(discovered);
        *self
            .cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(discovered.clone());
        discovered
    }

    /// The discovery document and keys, fetched when there are none or they are older than
    /// [`METADATA_TTL`].
    pub(super) async fn discovered(&self) -> Result<Arc<Discovered>, Unreachable> {
        let fresh = |found: &Arc<Discovered>| found.fetched.elapsed() < METADATA_TTL;
        if let Some(found) = self.cached().filter(fresh) {
            return Ok(found);
        }
        let _fetching = self.fetching.lock().await;
        if let Some(found) = self.cached().filter(fresh) {
            return Ok(found);
        }
        let metadata = Metadata::discover_async(self.config.issuer.clone(), &self.http)
            .await
            .map_err(|error| Unreachable(format!("discovery: {}", chain(&error))))?;
        let now = Instant::now();
        tracing::debug!(provider = %self.config.id, "fetched the provider's discovery document and keys");
        Ok(self.keep(Discovered {
            metadata,
            fetched: now,
            refetched: None,
        }))
    }

    /// The keys fetched again because a token named one that `seen` lacks: `None` when an
    /// unknown key made them be fetched less than [`KEYS_REFETCH`] ago (for this request or
    /// another).
    pub(super) async fn refetch_keys(
        &self,
        seen: &Arc<Discovered>,
    ) -> Result<Option<Arc<Discovered>>, Unreachable> {
        let _fetching = self.fetching.lock().await;
        let current = self.cached().unwrap_or_else(|| seen.clone());
        if !Arc::ptr_eq(&current, seen) {
            // Another request fetched them while this one waited: worth one more try first.
            return Ok(Some(current));
        }
        if current
            .refetched
            .is_some_and(|at| at.elapsed() < KEYS_REFETCH)
        {
            return Ok(None);
        }
        let keys = JsonWebKeySet::fetch_async(current.metadata.jwks_uri(), &self.http)
            .await
            .map_err(|error| Unreachable(format!("keys: {}", chain(&error))))?;
        tracing::debug!(provider = %self.config.id, "fetched the provider's keys again for an unknown key id");
        let metadata = current.metadata.clone().set_jwks(keys);
        Ok(Some(self.keep(Discovered {
            metadata,
            fetched: current.fetched,
            refetched: Some(Instant::now()),
        })))
    }
}

/// An error with its causes, for a log line.
pub(super) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_that_cannot_work_is_refused_with_the_setting_named() {
        let new = |id: &str, issuer: &str, redirect: &str| {
            Provider::new(id, issuer, "client", "secret", redirect).map(drop)
        };
        let ok = "https://app.example/cb";
        assert!(new("google", "https://accounts.example", ok).is_ok());
        assert!(new("dev", "http://127.0.0.1:4011", "http://localhost:3000/cb").is_ok());
        let refused = |result: Result<(), ProviderConfigError>, needle: &str| {
            let error = result.expect_err("refused").to_string();
            assert!(error.contains(needle), "{error}");
        };
        refused(new("", "https://a.example", ok), "the id must be");
        refused(new("a/b", "https://a.example", ok), "the id must be");
        refused(
            new("x", "http://accounts.example", ok),
            "plain http is for loopback",
        );
        refused(
            new("x", "https://a.example", "http://app.example/cb"),
            "redirect URL",
        );
        refused(new("x", "ftp://a.example", ok), "not an absolute https URL");
        refused(new("x", "accounts.example", ok), "issuer");
    }

    #[test]
    fn github_is_a_plain_oauth2_provider_that_vouches_for_no_address() {
        let github = Provider::github("id", "secret", "https://app.example/cb").expect("valid");
        assert_eq!((github.id(), github.display_name()), ("github", "GitHub"));
        assert_eq!(github.issuer(), "https://github.com");
        assert_eq!(github.scopes, ["read:user", "user:email"]);
        let Kind::OAuth2(oauth) = &github.kind else {
            panic!("GitHub gives no ID token")
        };
        assert_eq!(oauth.userinfo.as_str(), "https://api.github.com/user");
        assert_eq!(oauth.fields.subject, "id");
        assert_eq!(oauth.fields.username, "login");
        assert_eq!(oauth.fields.email_verified, None);
        // Plain http endpoints are refused off loopback, as issuers are.
        let endpoints = OAuth2Endpoints {
            authorization: "https://a.example/authorize".to_owned(),
            token: "http://a.example/token".to_owned(),
            userinfo: "https://a.example/user".to_owned(),
        };
        let error = Provider::oauth2(
            "a",
            "https://a.example",
            endpoints,
            "id",
            "s",
            "https://app.example/cb",
        )
        .expect_err("refused")
        .to_string();
        assert!(error.contains("token endpoint"), "{error}");
    }

    #[test]
    fn the_secret_is_never_printed() {
        let provider = Provider::new(
            "x",
            "https://a.example",
            "client",
            "very-secret-value",
            "https://app.example/cb",
        )
        .expect("valid");
        assert!(!format!("{provider:?}").contains("very-secret-value"));
    }

    #[test]
    fn only_asymmetric_algorithms_are_accepted_by_default() {
        for algorithm in DEFAULT_ALGORITHMS {
            assert!(!matches!(
                algorithm,
                CoreJwsSigningAlgorithm::HmacSha256
                    | CoreJwsSigningAlgorithm::HmacSha384
                    | CoreJwsSigningAlgorithm::HmacSha512
                    | CoreJwsSigningAlgorithm::None
            ));
        }
    }
}
