//! The OpenID Connect fixtures themselves, checked with the `openidconnect` crate as a relying
//! party: the real provider (`tests/oidc/`) signs users in through the driver and issues ID
//! tokens that verify, and refuses a wrong password; the fake provider issues tokens that verify
//! until it is told to tamper, and each tampering is caught by the standard verifier or fails
//! the exchange.

use axum_login_tests::{
    fake_oidc::{AUTHORIZE_PATH, FakeProvider, JWKS_PATH, TOKEN_PATH, Tamper, USERINFO_PATH},
    oidc::{DriverError, deny_at_provider, provider, sign_in_at_provider},
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    SignatureVerificationError, TokenResponse,
    core::{
        CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreIdTokenClaims,
        CoreIdTokenVerifier, CoreJsonWebKeySet, CoreProviderMetadata, CoreTokenResponse,
        CoreUserInfoClaims,
    },
};
use url::Url;

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

type ExchangeError = RequestTokenError<
    openidconnect::HttpClientError<openidconnect::reqwest::Error>,
    openidconnect::StandardErrorResponse<CoreErrorResponseType>,
>;

/// The relying party's HTTP client: no redirects, so that a provider cannot send a back-channel
/// request elsewhere.
fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("client builds")
}

/// A callback on a loopback port that nothing listens on: the provider only redirects to it.
fn redirect_uri(host: &str) -> String {
    let port = 20_000 + rand::random::<u16>() % 40_000;
    format!("http://{host}:{port}/auth/oidc/callback")
}

/// One sign-in attempt as a relying party makes it: the client from discovery, and the secrets
/// of one authorization request.
struct Attempt {
    client: Client,
    redirect_uri: String,
    authorize_url: Url,
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

impl Attempt {
    async fn start(issuer: &str, client_id: &str, secret: &str, redirect_uri: String) -> Self {
        let metadata = CoreProviderMetadata::discover_async(
            IssuerUrl::new(issuer.to_owned()).expect("issuer URL"),
            &http(),
        )
        .await
        .expect("discovery succeeds");
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.to_owned()),
            Some(ClientSecret::new(secret.to_owned())),
        )
        .set_redirect_uri(RedirectUrl::new(redirect_uri.clone()).expect("redirect URL"));
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (authorize_url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        Self {
            client,
            redirect_uri,
            authorize_url,
            state,
            nonce,
            verifier,
        }
    }

    /// The code of `callback`, after checking that it is this attempt's callback with this
    /// attempt's state and the provider's `iss`.
    fn code(&self, callback: &Url, issuer: &str) -> AuthorizationCode {
        assert!(
            callback.as_str().starts_with(&self.redirect_uri),
            "{callback} is not the callback {}",
            self.redirect_uri
        );
        assert_eq!(
            query(callback, "state").as_deref(),
            Some(self.state.secret().as_str())
        );
        assert_eq!(query(callback, "iss").as_deref(), Some(issuer));
        AuthorizationCode::new(query(callback, "code").expect("a code in the callback"))
    }

    async fn exchange(
        self,
        code: AuthorizationCode,
    ) -> (Self, Result<CoreTokenResponse, ExchangeError>) {
        let verifier = PkceCodeVerifier::new(self.verifier.secret().clone());
        let result = self
            .client
            .exchange_code(code)
            .expect("discovery gave a token endpoint")
            .set_pkce_verifier(verifier)
            .request_async(&http())
            .await;
        (self, result)
    }

    fn verify(
        &self,
        token: &CoreTokenResponse,
    ) -> Result<CoreIdTokenClaims, ClaimsVerificationError> {
        token
            .id_token()
            .expect("an ID token")
            .claims(&self.client.id_token_verifier(), &self.nonce)
            .cloned()
    }
}

fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

// The real provider.

#[tokio::test]
async fn real_provider_advertises_iss_in_authorization_response_and_s256() {
    let Some(env) =
        provider("real_provider_advertises_iss_in_authorization_response_and_s256").await
    else {
        return;
    };
    let metadata: serde_json::Value = reqwest::get(env.discovery_url())
        .await
        .expect("discovery answers")
        .json()
        .await
        .expect("discovery is JSON");
    assert_eq!(metadata["issuer"], env.issuer.as_str());
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        metadata["response_types_supported"],
        serde_json::json!(["code"])
    );
}

#[tokio::test]
async fn real_provider_signs_alice_in_and_her_id_token_verifies() {
    let Some(env) = provider("real_provider_signs_alice_in_and_her_id_token_verifies").await else {
        return;
    };
    let attempt = Attempt::start(
        &env.issuer,
        &env.client_id,
        &env.client_secret,
        redirect_uri("127.0.0.1"),
    )
    .await;
    let callback = sign_in_at_provider(attempt.authorize_url.as_str(), "alice", "alice-password")
        .await
        .expect("alice signs in");
    let code = attempt.code(&callback, &env.issuer);
    let (attempt, token) = attempt.exchange(code).await;
    let token = token.expect("the code is exchanged");
    let claims = attempt.verify(&token).expect("the ID token verifies");

    assert_eq!(claims.subject().as_str(), "alice-sub");
    assert_eq!(
        claims.email().map(|email| email.as_str()),
        Some("alice@example.com")
    );
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(claims.issuer().as_str(), env.issuer);
}

#[tokio::test]
async fn real_provider_reports_bob_unverified_to_the_second_client_on_localhost() {
    let Some(env) =
        provider("real_provider_reports_bob_unverified_to_the_second_client_on_localhost").await
    else {
        return;
    };
    let attempt = Attempt::start(
        &env.issuer,
        &env.client_b_id,
        &env.client_b_secret,
        redirect_uri("localhost"),
    )
    .await;
    let callback = sign_in_at_provider(attempt.authorize_url.as_str(), "bob", "bob-password")
        .await
        .expect("bob signs in");
    let code = attempt.code(&callback, &env.issuer);
    let (attempt, token) = attempt.exchange(code).await;
    let claims = attempt
        .verify(&token.expect("the code is exchanged"))
        .expect("the ID token verifies");

    assert_eq!(claims.subject().as_str(), "bob-sub");
    assert_eq!(
        claims.email().map(|email| email.as_str()),
        Some("bob@example.com")
    );
    assert_eq!(claims.email_verified(), Some(false));
}

#[tokio::test]
async fn real_provider_refuses_a_wrong_password() {
    let Some(env) = provider("real_provider_refuses_a_wrong_password").await else {
        return;
    };
    let attempt = Attempt::start(
        &env.issuer,
        &env.client_id,
        &env.client_secret,
        redirect_uri("127.0.0.1"),
    )
    .await;
    let refused =
        sign_in_at_provider(attempt.authorize_url.as_str(), "bob", "alice-password").await;
    assert!(
        matches!(&refused, Err(DriverError::LoginRefused { message }) if message == "Wrong username or password."),
        "{refused:?}"
    );
}

#[tokio::test]
async fn real_provider_sends_access_denied_when_consent_is_refused() {
    let Some(env) = provider("real_provider_sends_access_denied_when_consent_is_refused").await
    else {
        return;
    };
    let attempt = Attempt::start(
        &env.issuer,
        &env.client_id,
        &env.client_secret,
        redirect_uri("127.0.0.1"),
    )
    .await;
    let callback = deny_at_provider(attempt.authorize_url.as_str(), "carol", "carol-password")
        .await
        .expect("the provider redirects back");

    assert!(
        callback.as_str().starts_with(&attempt.redirect_uri),
        "{callback}"
    );
    assert_eq!(query(&callback, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        query(&callback, "state").as_deref(),
        Some(attempt.state.secret().as_str())
    );
    assert_eq!(query(&callback, "code"), None);
}

/// A request the provider refuses before any page (here: no PKCE) comes back as the app's
/// callback with `error`, for the app to handle, not as a driver error.
#[tokio::test]
async fn real_provider_error_redirect_comes_back_as_the_callback_url() {
    let Some(env) = provider("real_provider_error_redirect_comes_back_as_the_callback_url").await
    else {
        return;
    };
    let redirect = redirect_uri("127.0.0.1");
    let mut authorize = Url::parse(&format!("{}/auth", env.issuer)).expect("URL");
    authorize
        .query_pairs_mut()
        .append_pair("client_id", &env.client_id)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email")
        .append_pair("redirect_uri", &redirect)
        .append_pair("state", "no-pkce");
    let callback = sign_in_at_provider(authorize.as_str(), "alice", "alice-password")
        .await
        .expect("the provider redirects back");

    assert!(callback.as_str().starts_with(&redirect), "{callback}");
    assert_eq!(
        query(&callback, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query(&callback, "state").as_deref(), Some("no-pkce"));
    assert_eq!(
        query(&callback, "iss").as_deref(),
        Some(env.issuer.as_str())
    );
}

#[tokio::test]
async fn real_provider_codes_are_bound_to_their_client() {
    let Some(env) = provider("real_provider_codes_are_bound_to_their_client").await else {
        return;
    };
    let redirect = redirect_uri("127.0.0.1");
    let attempt = Attempt::start(
        &env.issuer,
        &env.client_id,
        &env.client_secret,
        redirect.clone(),
    )
    .await;
    let callback = sign_in_at_provider(attempt.authorize_url.as_str(), "carol", "carol-password")
        .await
        .expect("carol signs in");
    let code = attempt.code(&callback, &env.issuer);

    let mut other = Attempt::start(
        &env.issuer,
        &env.client_b_id,
        &env.client_b_secret,
        redirect,
    )
    .await;
    other.verifier = PkceCodeVerifier::new(attempt.verifier.secret().clone());
    let (_, stolen) = other.exchange(code).await;
    assert!(
        matches!(&stolen, Err(RequestTokenError::ServerResponse(error)) if *error.error() == CoreErrorResponseType::InvalidGrant),
        "{stolen:?}"
    );
}

// The fake provider.

const CLIENT: (&str, &str) = ("fake-client", "fake-secret");

async fn fake() -> FakeProvider {
    FakeProvider::start(&[CLIENT, ("other-client", "other-secret")]).await
}

/// Runs `/authorize` on the fake (which redirects at once) and returns the attempt and callback.
async fn authorize_at(fake: &FakeProvider) -> (Attempt, Url) {
    let attempt = Attempt::start(&fake.issuer, CLIENT.0, CLIENT.1, redirect_uri("127.0.0.1")).await;
    let callback = fake.sign_in(attempt.authorize_url.as_str()).await;
    (attempt, callback)
}

/// The outcome of a whole sign-in at the fake after `tamper`.
async fn tampered(tamper: Tamper) -> (Attempt, Result<CoreTokenResponse, ExchangeError>) {
    let fake = fake().await;
    let (attempt, callback) = authorize_at(&fake).await;
    let code = attempt.code(&callback, &fake.issuer);
    fake.tamper_next(tamper);
    attempt.exchange(code).await
}

async fn rejected(tamper: Tamper) -> ClaimsVerificationError {
    let (attempt, token) = tampered(tamper).await;
    let token = token.expect("the exchange itself succeeds");
    attempt
        .verify(&token)
        .expect_err("the standard verifier rejects the token")
}

#[tokio::test]
async fn fake_signs_in_the_configured_user_with_pkce_nonce_and_iss() {
    let fake = fake().await;
    fake.set_user("dave-sub", Some("dave@example.com"), false);
    let (attempt, callback) = authorize_at(&fake).await;

    let sent = fake.authorize_params();
    let param = |name: &str| {
        sent.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    assert_eq!(param("code_challenge_method"), Some("S256"));
    assert!(param("code_challenge").is_some_and(|challenge| challenge.len() == 43));
    assert_eq!(param("nonce"), Some(attempt.nonce.secret().as_str()));
    assert_eq!(param("state"), Some(attempt.state.secret().as_str()));

    let code = attempt.code(&callback, &fake.issuer);
    let (attempt, token) = attempt.exchange(code).await;
    let token = token.expect("the code is exchanged");
    let claims = attempt.verify(&token).expect("the ID token verifies");
    assert_eq!(claims.subject().as_str(), "dave-sub");
    assert_eq!(
        claims.email().map(|email| email.as_str()),
        Some("dave@example.com")
    );
    assert_eq!(claims.email_verified(), Some(false));

    let userinfo: CoreUserInfoClaims = attempt
        .client
        .user_info(token.access_token().clone(), None)
        .expect("discovery gave a userinfo endpoint")
        .request_async(&http())
        .await
        .expect("userinfo answers");
    assert_eq!(userinfo.subject().as_str(), "dave-sub");
    assert_eq!(fake.requests(TOKEN_PATH), 1);
    assert_eq!(fake.requests(USERINFO_PATH), 1);
}

#[tokio::test]
async fn fake_leaves_iss_out_when_told() {
    let fake = fake().await;
    fake.send_iss(false);
    let (_, callback) = authorize_at(&fake).await;
    assert!(query(&callback, "code").is_some());
    assert_eq!(query(&callback, "iss"), None);
}

#[tokio::test]
async fn fake_requires_pkce_and_a_loopback_redirect() {
    let fake = fake().await;
    let authorize = |redirect: &str, pkce: bool| {
        let mut url = Url::parse(&format!("{}{AUTHORIZE_PATH}", fake.issuer)).expect("URL");
        url.query_pairs_mut()
            .append_pair("client_id", CLIENT.0)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid")
            .append_pair("redirect_uri", redirect)
            .append_pair("state", "s");
        if pkce {
            url.query_pairs_mut()
                .append_pair("code_challenge", &"c".repeat(43))
                .append_pair("code_challenge_method", "S256");
        }
        url
    };

    let callback = fake
        .sign_in(authorize(&redirect_uri("localhost"), false).as_str())
        .await;
    assert_eq!(
        query(&callback, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query(&callback, "code"), None);

    let off_loopback = http()
        .get(authorize("http://app.example/callback", true))
        .send()
        .await
        .expect("the fake answers");
    assert_eq!(off_loopback.status(), 400);
}

#[tokio::test]
async fn fake_refuses_a_reused_code_a_wrong_verifier_redirect_or_secret() {
    let fake = fake().await;

    let (attempt, callback) = authorize_at(&fake).await;
    let code = attempt.code(&callback, &fake.issuer);
    let (attempt, first) = attempt
        .exchange(AuthorizationCode::new(code.secret().clone()))
        .await;
    first.expect("the first exchange succeeds");
    let (_, second) = attempt.exchange(code).await;
    assert_invalid_grant(&second);

    let (mut attempt, callback) = authorize_at(&fake).await;
    let code = attempt.code(&callback, &fake.issuer);
    attempt.verifier = PkceCodeVerifier::new("a".repeat(43));
    assert_invalid_grant(&attempt.exchange(code).await.1);

    let (mut attempt, callback) = authorize_at(&fake).await;
    let code = attempt.code(&callback, &fake.issuer);
    attempt.client = attempt
        .client
        .set_redirect_uri(RedirectUrl::new(redirect_uri("127.0.0.1")).expect("redirect URL"));
    assert_invalid_grant(&attempt.exchange(code).await.1);

    let (attempt, callback) = authorize_at(&fake).await;
    let code = attempt.code(&callback, &fake.issuer);
    let wrong_secret = Attempt::start(
        &fake.issuer,
        CLIENT.0,
        "not-the-secret",
        attempt.redirect_uri.clone(),
    )
    .await;
    let (_, refused) = Attempt {
        verifier: attempt.verifier,
        ..wrong_secret
    }
    .exchange(code)
    .await;
    assert!(
        matches!(&refused, Err(RequestTokenError::ServerResponse(error)) if *error.error() == CoreErrorResponseType::InvalidClient),
        "{refused:?}"
    );
}

fn assert_invalid_grant(result: &Result<CoreTokenResponse, ExchangeError>) {
    assert!(
        matches!(result, Err(RequestTokenError::ServerResponse(error)) if *error.error() == CoreErrorResponseType::InvalidGrant),
        "{result:?}"
    );
}

#[tokio::test]
async fn fake_tampering_alg_none_is_rejected() {
    let error = rejected(Tamper::AlgNone).await;
    assert!(
        matches!(
            error,
            ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoSignature)
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn fake_tampering_hs256_with_the_public_key_is_rejected() {
    let error = rejected(Tamper::Hs256SignedWithPublicKey).await;
    assert!(
        matches!(
            error,
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::DisallowedAlg(_)
            )
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn fake_tampering_audiences_is_rejected() {
    for tamper in [Tamper::WrongAudience, Tamper::ExtraAudienceWithoutAzp] {
        let error = rejected(tamper).await;
        assert!(
            matches!(error, ClaimsVerificationError::InvalidAudience(_)),
            "{tamper:?}: {error:?}"
        );
    }
}

#[tokio::test]
async fn fake_tampering_nonce_is_rejected() {
    let error = rejected(Tamper::WrongNonce).await;
    assert!(
        matches!(error, ClaimsVerificationError::InvalidNonce(_)),
        "{error:?}"
    );
}

#[tokio::test]
async fn fake_tampering_issuer_is_rejected() {
    let error = rejected(Tamper::WrongIssuer).await;
    assert!(
        matches!(error, ClaimsVerificationError::InvalidIssuer(_)),
        "{error:?}"
    );
}

#[tokio::test]
async fn fake_tampering_expiry_is_rejected() {
    let error = rejected(Tamper::Expired).await;
    assert!(
        matches!(error, ClaimsVerificationError::Expired(_)),
        "{error:?}"
    );
}

/// openidconnect accepts any `iat` unless the relying party sets an issue-time check; with one,
/// a token from the future is refused.
#[tokio::test]
async fn fake_tampering_issue_time_needs_an_issue_time_check() {
    let (attempt, token) = tampered(Tamper::IssuedInFuture).await;
    let token = token.expect("the exchange itself succeeds");
    attempt
        .verify(&token)
        .expect("the default verifier does not look at iat");

    let checked = attempt
        .client
        .id_token_verifier()
        .set_issue_time_verifier_fn(|iat| {
            if iat.timestamp() > now_secs() + 60 {
                Err(format!("issued in the future: {iat}"))
            } else {
                Ok(())
            }
        });
    let error = token
        .id_token()
        .expect("an ID token")
        .claims(&checked, &attempt.nonce)
        .expect_err("an issue-time check refuses it");
    assert!(
        matches!(error, ClaimsVerificationError::Expired(ref message) if message.starts_with("issued in the future")),
        "{error:?}"
    );
}

fn now_secs() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since_epoch.as_secs()).expect("a timestamp fits")
}

#[tokio::test]
async fn fake_tampering_unknown_kid_is_rejected() {
    let error = rejected(Tamper::UnknownKid).await;
    assert!(
        matches!(
            error,
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey
            )
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn fake_tampering_signature_is_rejected() {
    let error = rejected(Tamper::BadSignature).await;
    assert!(
        matches!(
            error,
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::CryptoError(_)
            )
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn fake_token_error_fails_the_exchange_with_invalid_grant() {
    let (_, result) = tampered(Tamper::TokenError).await;
    assert_invalid_grant(&result);
}

#[tokio::test]
async fn fake_server_error_fails_the_exchange() {
    let (_, result) = tampered(Tamper::ServerError).await;
    assert!(
        matches!(&result, Err(RequestTokenError::Parse(_, body)) if body.as_slice() == b"internal error"),
        "{result:?}"
    );
}

#[tokio::test]
async fn fake_no_id_token_leaves_the_response_without_one() {
    let (_, result) = tampered(Tamper::NoIdToken).await;
    let token = result.expect("the exchange itself succeeds");
    assert!(token.id_token().is_none());
}

#[tokio::test]
async fn fake_tampering_applies_to_the_next_response_only() {
    let fake = fake().await;
    fake.tamper_next(Tamper::TokenError);
    let (attempt, callback) = authorize_at(&fake).await;
    let code = attempt.code(&callback, &fake.issuer);
    assert_invalid_grant(&attempt.exchange(code).await.1);

    let (attempt, callback) = authorize_at(&fake).await;
    let code = attempt.code(&callback, &fake.issuer);
    let (attempt, token) = attempt.exchange(code).await;
    attempt
        .verify(&token.expect("the code is exchanged"))
        .expect("the ID token verifies");
}

#[tokio::test]
async fn fake_rotated_keys_need_a_fresh_jwks() {
    let fake = fake().await;
    let (attempt, callback) = authorize_at(&fake).await;
    let jwks_fetches = fake.requests(JWKS_PATH);
    assert_eq!(jwks_fetches, 1, "discovery fetched the JWKS once");
    let old_kid = fake.current_kid();
    fake.rotate_keys();
    assert_ne!(fake.current_kid(), old_kid);

    let code = attempt.code(&callback, &fake.issuer);
    let (attempt, token) = attempt.exchange(code).await;
    let token = token.expect("the code is exchanged");
    let error = attempt
        .verify(&token)
        .expect_err("the cached JWKS lacks the new key");
    assert!(
        matches!(
            error,
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey
            )
        ),
        "{error:?}"
    );

    let jwks_url = openidconnect::JsonWebKeySetUrl::new(format!("{}{JWKS_PATH}", fake.issuer))
        .expect("JWKS URL");
    let fresh = CoreJsonWebKeySet::fetch_async(&jwks_url, &http())
        .await
        .expect("the JWKS answers");
    let verifier = CoreIdTokenVerifier::new_confidential_client(
        ClientId::new(CLIENT.0.into()),
        ClientSecret::new(CLIENT.1.into()),
        IssuerUrl::new(fake.issuer.clone()).expect("issuer URL"),
        fresh,
    );
    let claims = token
        .id_token()
        .expect("an ID token")
        .claims(&verifier, &attempt.nonce)
        .expect("the fresh JWKS verifies it");
    assert_eq!(claims.subject().as_str(), "alice-sub");
    assert_eq!(fake.requests(JWKS_PATH), jwks_fetches + 1);
}
