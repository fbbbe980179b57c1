//! A fake OpenID Connect provider on an ephemeral loopback port, for what a real provider will not
//! do: sign a token with `alg: none`, for the wrong audience or nonce, with a key the JWKS does not
//! list, or answer the token request with an error.
//!
//! It speaks just enough of the protocol for a relying party built on `openidconnect`: discovery,
//! a JWKS, an authorization endpoint that signs in a configured user at once (no page) and
//! redirects back, a token endpoint that checks the client's secret, the code, the redirect URI
//! and the PKCE verifier, and a userinfo endpoint. Tokens are signed with the test-only keys in
//! `tests/oidc/fake/`.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    Form, Json, Router,
    extract::{Query, Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use openidconnect::{
    JsonWebKeyId, PrivateSigningKey,
    core::{CoreHmacKey, CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey},
};
use rand::{Rng as _, distributions::Alphanumeric};
use serde_json::{Value, json};

/// The paths the fake serves; [`FakeProvider::requests`] counts requests by them.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
pub const JWKS_PATH: &str = "/jwks";
pub const AUTHORIZE_PATH: &str = "/authorize";
pub const TOKEN_PATH: &str = "/token";
pub const USERINFO_PATH: &str = "/userinfo";

/// How long an untampered ID token and access token live.
const TOKEN_LIFETIME_SECS: u64 = 300;

/// One change to the next token response, for an attack or failure a real provider would not
/// stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// An unsigned token: header `alg: none`, empty signature.
    AlgNone,
    /// `alg: HS256` with the RSA key's `kid`, MACed with the public key's PEM as the secret: the
    /// key-confusion attack on verifiers that take the algorithm from the header.
    Hs256SignedWithPublicKey,
    /// `aud` names another client only.
    WrongAudience,
    /// `aud` names this client and another, without `azp`.
    ExtraAudienceWithoutAzp,
    /// `nonce` is not the one the authorization request sent.
    WrongNonce,
    /// `iss` is another issuer.
    WrongIssuer,
    /// `exp` an hour ago by the system clock.
    Expired,
    /// `iat` an hour ahead by the system clock (and `exp` after it).
    IssuedInFuture,
    /// Signed by a key that the JWKS does not serve, under that key's own `kid`.
    UnknownKid,
    /// A valid token with one bit of its signature flipped.
    BadSignature,
    /// The token request fails with `400 invalid_grant`.
    TokenError,
    /// The token response has no `id_token`.
    NoIdToken,
    /// The token request fails with a `500` and a body that is not JSON.
    ServerError,
}

/// One of the test-only signing keys in `tests/oidc/fake/`.
struct Key {
    kid: &'static str,
    signing: CoreRsaPrivateSigningKey,
    public_pem: &'static str,
}

impl Key {
    fn load(kid: &'static str, private_pem: &str, public_pem: &'static str) -> Self {
        let signing =
            CoreRsaPrivateSigningKey::from_pem(private_pem, Some(JsonWebKeyId::new(kid.into())))
                .unwrap_or_else(|error| panic!("test key {kid}: {error}"));
        Self {
            kid,
            signing,
            public_pem,
        }
    }
}

#[derive(Clone, Debug)]
struct User {
    sub: String,
    email: Option<String>,
    email_verified: bool,
}

/// What `/authorize` recorded with a code, for `/token` to check.
struct Grant {
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    code_challenge: String,
    user: User,
}

struct Shared {
    issuer: String,
    keys: [Key; 2],
    clients: HashMap<String, String>,
    state: Mutex<FakeState>,
}

struct FakeState {
    user: User,
    current_key: usize,
    send_iss: bool,
    tamper: Option<Tamper>,
    codes: HashMap<String, Grant>,
    access_tokens: HashMap<String, User>,
    requests: HashMap<String, usize>,
    authorize_params: Vec<(String, String)>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().expect("fake provider state lock")
    }
}

/// A fake provider serving on `127.0.0.1` until the test process ends.
pub struct FakeProvider {
    /// `http://127.0.0.1:PORT`, with no trailing slash: the issuer and the base of every
    /// endpoint.
    pub issuer: String,
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FakeProvider {
    /// Starts a provider that knows the confidential clients `(client_id, secret)`. It signs in
    /// `alice-sub` (alice@example.com, verified) until [`set_user`](Self::set_user) says
    /// otherwise, and sends `iss` in the authorization response.
    pub async fn start(clients: &[(&str, &str)]) -> FakeProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral loopback port");
        let addr = listener.local_addr().expect("local address");
        let issuer = format!("http://{addr}");
        let shared = Arc::new(Shared {
            issuer: issuer.clone(),
            keys: [
                Key::load(
                    "fake-key-1",
                    include_str!("../oidc/fake/key-1.pem"),
                    include_str!("../oidc/fake/key-1.pub.pem"),
                ),
                Key::load(
                    "fake-key-2",
                    include_str!("../oidc/fake/key-2.pem"),
                    include_str!("../oidc/fake/key-2.pub.pem"),
                ),
            ],
            clients: clients
                .iter()
                .map(|&(id, secret)| (id.to_owned(), secret.to_owned()))
                .collect(),
            state: Mutex::new(FakeState {
                user: User {
                    sub: "alice-sub".to_owned(),
                    email: Some("alice@example.com".to_owned()),
                    email_verified: true,
                },
                current_key: 0,
                send_iss: true,
                tamper: None,
                codes: HashMap::new(),
                access_tokens: HashMap::new(),
                requests: HashMap::new(),
                authorize_params: Vec::new(),
            }),
        });
        let app = Router::new()
            .route(DISCOVERY_PATH, get(discovery))
            .route(JWKS_PATH, get(jwks))
            .route(AUTHORIZE_PATH, get(authorize))
            .route(TOKEN_PATH, post(token))
            .route(USERINFO_PATH, get(userinfo).post(userinfo))
            .layer(middleware::from_fn_with_state(shared.clone(), count))
            .with_state(shared.clone());
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("fake provider serves");
        });
        FakeProvider {
            issuer,
            addr,
            shared,
        }
    }

    /// What a browser does at the fake: requests `authorize_url` and returns where the fake
    /// sends it (the app's callback with `code`, `state` and `iss`, or with `error`), without
    /// following. Panics when the fake answers anything but a redirect (an unknown client, a
    /// redirect URI off loopback): the test built a wrong URL.
    pub async fn sign_in(&self, authorize_url: &str) -> url::Url {
        let response = crate::http::bare_client()
            .get(authorize_url)
            .send()
            .await
            .expect("the fake provider answers");
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "the fake provider did not redirect from {authorize_url}"
        );
        let location = response.headers()[header::LOCATION]
            .to_str()
            .expect("an ASCII Location");
        url::Url::parse(location).expect("an absolute callback URL")
    }

    /// The user that every following `/authorize` signs in.
    pub fn set_user(&self, sub: &str, email: Option<&str>, email_verified: bool) {
        self.shared.state().user = User {
            sub: sub.to_owned(),
            email: email.map(str::to_owned),
            email_verified,
        };
    }

    /// Changes the next token response, and only that one (the next that passes the client,
    /// code and PKCE checks).
    pub fn tamper_next(&self, tamper: Tamper) {
        self.shared.state().tamper = Some(tamper);
    }

    /// Whether the authorization response carries `iss` (RFC 9207); on by default.
    pub fn send_iss(&self, on: bool) {
        self.shared.state().send_iss = on;
    }

    /// From now on the JWKS serves only the second key, under a new `kid`, and tokens are signed
    /// with it: a relying party that cached the first key must fetch the JWKS again.
    pub fn rotate_keys(&self) {
        self.shared.state().current_key = 1;
    }

    /// How many requests `path` (one of the `*_PATH` constants) has had.
    pub fn requests(&self, path: &str) -> usize {
        self.shared.state().requests.get(path).copied().unwrap_or(0)
    }

    /// The query of the last request to `/authorize`, in order.
    pub fn authorize_params(&self) -> Vec<(String, String)> {
        self.shared.state().authorize_params.clone()
    }

    /// The value of `name` in the last `/authorize` query.
    pub fn authorize_param(&self, name: &str) -> Option<String> {
        self.shared
            .state()
            .authorize_params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }

    /// The `kid` that tokens are signed with now.
    pub fn current_kid(&self) -> &'static str {
        let current = self.shared.state().current_key;
        self.shared.keys[current].kid
    }
}

async fn count(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    *shared
        .state()
        .requests
        .entry(request.uri().path().to_owned())
        .or_default() += 1;
    next.run(request).await
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let issuer = &shared.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
        "userinfo_endpoint": format!("{issuer}{USERINFO_PATH}"),
        "jwks_uri": format!("{issuer}{JWKS_PATH}"),
        "scopes_supported": ["openid", "email", "profile"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
    }))
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Json<CoreJsonWebKeySet> {
    let current = shared.state().current_key;
    Json(CoreJsonWebKeySet::new(vec![
        shared.keys[current].signing.as_verification_key(),
    ]))
}

fn random_token() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, message.to_owned()).into_response()
}

/// Signs in the configured user at once and sends the browser back with a code, as a provider
/// does for a user who is signed in there and consented before. Requests it cannot redirect
/// (unknown client, missing or non-loopback redirect URI) get a 400 page, as at a real one.
async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let mut state = shared.state();
    state.authorize_params = params.clone();

    let Some(client_id) = param("client_id").filter(|id| shared.clients.contains_key(id)) else {
        return bad_request("unknown client_id");
    };
    let Some(redirect_uri) = param("redirect_uri") else {
        return bad_request("redirect_uri is required");
    };
    let Ok(mut back) = url::Url::parse(&redirect_uri) else {
        return bad_request("redirect_uri is not a URL");
    };
    if back.scheme() != "http" || !matches!(back.host_str(), Some("127.0.0.1" | "localhost")) {
        return bad_request("redirect_uri must be http on a loopback host");
    }

    let mut reply: Vec<(&str, String)> = Vec::new();
    let challenge = param("code_challenge");
    if param("response_type").as_deref() != Some("code") {
        reply.push(("error", "unsupported_response_type".to_owned()));
    } else if challenge.is_none() || param("code_challenge_method").as_deref() != Some("S256") {
        reply.push(("error", "invalid_request".to_owned()));
        reply.push(("error_description", "PKCE with S256 is required".to_owned()));
    } else {
        let code = random_token();
        let grant = Grant {
            client_id,
            redirect_uri,
            nonce: param("nonce"),
            code_challenge: challenge.unwrap_or_default(),
            user: state.user.clone(),
        };
        state.codes.insert(code.clone(), grant);
        reply.push(("code", code));
    }
    if let Some(client_state) = param("state") {
        reply.push(("state", client_state));
    }
    if state.send_iss {
        reply.push(("iss", shared.issuer.clone()));
    }
    back.query_pairs_mut().extend_pairs(reply);
    Redirect::to(back.as_str()).into_response()
}

fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"fake-oidc\""),
        );
    }
    response
}

/// `client_secret_basic` (RFC 6749, 2.3.1): Base64 of `id:secret`, each form-urlencoded first.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

fn form_decode(component: &str) -> String {
    // A one-pair form is the shortest way to `url`'s form decoding of a single component.
    url::form_urlencoded::parse(format!("v={component}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// The S256 challenge of `verifier`, or `None` when it is not a verifier by RFC 7636, 4.1 (43 to
/// 128 unreserved characters).
fn pkce_s256(verifier: &str) -> Option<String> {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte));
    // Checked first: openidconnect's challenge panics on a verifier of the wrong length.
    well_formed.then(|| {
        openidconnect::PkceCodeChallenge::from_code_verifier_sha256(
            &openidconnect::PkceCodeVerifier::new(verifier.to_owned()),
        )
        .as_str()
        .to_owned()
    })
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some((client_id, secret)) = basic_credentials(&headers) else {
        return token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_secret_basic is required",
        );
    };
    if shared.clients.get(&client_id) != Some(&secret) {
        return token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return token_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code",
        );
    }
    let mut state = shared.state();
    // Removed whatever follows: a code is good for one request, even a failed one.
    let Some(grant) = form.get("code").and_then(|code| state.codes.remove(code)) else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown or used code",
        );
    };
    if grant.client_id != client_id {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the code was issued to another client",
        );
    }
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri does not match",
        );
    }
    let Some(verifier) = form.get("code_verifier") else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "code_verifier is required",
        );
    };
    if pkce_s256(verifier).as_ref() != Some(&grant.code_challenge) {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "code_verifier does not match code_challenge",
        );
    }

    let tamper = state.tamper.take();
    match tamper {
        Some(Tamper::TokenError) => {
            return token_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the fake was told to refuse",
            );
        }
        Some(Tamper::ServerError) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
        _ => {}
    }
    let access_token = random_token();
    state
        .access_tokens
        .insert(access_token.clone(), grant.user.clone());
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
        "scope": "openid email profile",
    });
    if tamper != Some(Tamper::NoIdToken) {
        body["id_token"] = json!(id_token(
            &shared,
            state.current_key,
            &grant,
            &client_id,
            tamper
        ));
    }
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

fn id_token(
    shared: &Shared,
    current_key: usize,
    grant: &Grant,
    client_id: &str,
    tamper: Option<Tamper>,
) -> String {
    let now = now_secs();
    let mut claims = json!({
        "iss": shared.issuer,
        "sub": grant.user.sub,
        "aud": client_id,
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECS,
    });
    if let Some(nonce) = &grant.nonce {
        claims["nonce"] = json!(nonce);
    }
    if let Some(email) = &grant.user.email {
        claims["email"] = json!(email);
        claims["email_verified"] = json!(grant.user.email_verified);
    }
    match tamper {
        Some(Tamper::WrongAudience) => claims["aud"] = json!("someone-else"),
        Some(Tamper::ExtraAudienceWithoutAzp) => claims["aud"] = json!([client_id, "someone-else"]),
        Some(Tamper::WrongNonce) => claims["nonce"] = json!("not-the-nonce-that-was-sent"),
        Some(Tamper::WrongIssuer) => claims["iss"] = json!("https://issuer.invalid"),
        Some(Tamper::Expired) => {
            claims["iat"] = json!(now - 2 * 3600);
            claims["exp"] = json!(now - 3600);
        }
        Some(Tamper::IssuedInFuture) => {
            claims["iat"] = json!(now + 3600);
            claims["exp"] = json!(now + 3600 + TOKEN_LIFETIME_SECS);
        }
        _ => {}
    }

    let current = &shared.keys[current_key];
    let other = &shared.keys[1 - current_key];
    match tamper {
        Some(Tamper::AlgNone) => compact(&json!({ "alg": "none", "typ": "JWT" }), &claims, |_| {
            Vec::new()
        }),
        Some(Tamper::Hs256SignedWithPublicKey) => {
            let secret = CoreHmacKey::new(current.public_pem.as_bytes());
            compact(
                &json!({ "alg": "HS256", "typ": "JWT", "kid": current.kid }),
                &claims,
                |input| {
                    secret
                        .sign(&CoreJwsSigningAlgorithm::HmacSha256, input)
                        .expect("HMAC signs")
                },
            )
        }
        Some(Tamper::UnknownKid) => rs256(other, &claims),
        Some(Tamper::BadSignature) => {
            let token = rs256(current, &claims);
            let (signed, signature) = token.rsplit_once('.').expect("three parts");
            let mut signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
            signature[0] ^= 0x01;
            format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
        }
        _ => rs256(current, &claims),
    }
}

fn rs256(key: &Key, claims: &Value) -> String {
    compact(
        &json!({ "alg": "RS256", "typ": "JWT", "kid": key.kid }),
        claims,
        |input| {
            key.signing
                .sign(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, input)
                .expect("RSA signs")
        },
    )
}

/// A JWS in compact serialisation: `header.payload.signature`, each base64url without padding.
fn compact(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

async fn userinfo(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let user = token.and_then(|token| shared.state().access_tokens.get(&token).cloned());
    let Some(user) = user else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response();
    };
    let mut claims = json!({ "sub": user.sub });
    if let Some(email) = user.email {
        claims["email"] = json!(email);
        claims["email_verified"] = json!(user.email_verified);
    }
    Json(claims).into_response()
}
