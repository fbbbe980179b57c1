//! The test OpenID Connect provider (`tests/oidc/start-oidc.sh`): where it is, and a driver that
//! signs in at its pages as a browser would.
//!
//! The provider knows the confidential clients `app-a` and `app-b`, accepts any `http` redirect
//! URI on `127.0.0.1` or `localhost`, requires PKCE with S256, and has these users:
//!
//! | username | password         | `sub`       | email             | verified |
//! |----------|------------------|-------------|-------------------|----------|
//! | alice    | `alice-password` | `alice-sub` | alice@example.com | yes      |
//! | bob      | `bob-password`   | `bob-sub`   | bob@example.com   | no       |
//! | carol    | `carol-password` | `carol-sub` | carol@example.com | yes      |

use std::time::Duration;

use url::Url;

use crate::env::{env_or, skipped};

/// Where the provider is and the clients it knows, from the variables `start-oidc.sh` writes
/// to `$OIDC_DIR/env`, else that script's defaults.
#[derive(Clone, Debug)]
pub struct ProviderEnv {
    /// `http://127.0.0.1:4011`, with no trailing slash, as the ID tokens' `iss` says it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub client_b_id: String,
    pub client_b_secret: String,
}

impl ProviderEnv {
    pub fn read() -> Self {
        Self {
            issuer: env_or("OIDC_ISSUER", "http://127.0.0.1:4011"),
            client_id: env_or("OIDC_CLIENT_ID", "app-a"),
            client_secret: env_or("OIDC_CLIENT_SECRET", "app-a-secret"),
            client_b_id: env_or("OIDC_CLIENT_B_ID", "app-b"),
            client_b_secret: env_or("OIDC_CLIENT_B_SECRET", "app-b-secret"),
        }
    }

    /// The discovery document's URL.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }
}

/// The provider, or `None` after a loud `SKIPPED` when its discovery document does not answer
/// outside CI (under CI, a failure).
pub async fn provider(test: &str) -> Option<ProviderEnv> {
    let env = ProviderEnv::read();
    let answer = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client builds")
        .get(env.discovery_url())
        .send()
        .await;
    let why = match answer {
        Ok(response) if response.status().is_success() => return Some(env),
        Ok(response) => format!("{} answered {}", env.discovery_url(), response.status()),
        Err(error) => format!("{} is unreachable ({error})", env.discovery_url()),
    };
    skipped(
        test,
        &format!("the OpenID Connect provider: {why}; tests/oidc/start-oidc.sh starts one"),
    );
    None
}

/// How a sign-in at the provider's pages did not reach a redirect away from it.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The login page came back with the provider's complaint: a wrong username or password.
    #[error("the provider refused the login: {message}")]
    LoginRefused { message: String },
    #[error("the request to {url} failed: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// A page or status the driver does not know: an error page of the provider (an unknown
    /// client, a redirect URI it refused), or a page without the form the step needs.
    #[error("unexpected answer from {url}: {status}: {body}")]
    Unexpected {
        url: String,
        status: u16,
        body: String,
    },
    #[error("not a URL: {0}")]
    BadUrl(String),
    #[error("still at the provider after {0} steps")]
    TooManySteps(usize),
}

/// What the driver answers on the consent page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Consent {
    Allow,
    Deny,
}

/// Enough for login, consent and the redirects between them, with room to spare.
const MAX_STEPS: usize = 12;

/// Opens `authorize_url` in a fresh browser (its own cookie jar), signs in as `username` with
/// `password`, allows the client's request, and follows the provider's redirects until one
/// leaves the provider's origin. Returns that URL (the app's callback, with `code`, `state` and
/// `iss`, or with `error` when the provider refused the request) without requesting it.
///
/// A wrong password is [`DriverError::LoginRefused`].
pub async fn sign_in_at_provider(
    authorize_url: &str,
    username: &str,
    password: &str,
) -> Result<Url, DriverError> {
    drive(authorize_url, username, password, Consent::Allow).await
}

/// As [`sign_in_at_provider`], but denies the client's request on the consent page: the URL
/// returned is the app's callback with `error=access_denied`.
pub async fn deny_at_provider(
    authorize_url: &str,
    username: &str,
    password: &str,
) -> Result<Url, DriverError> {
    drive(authorize_url, username, password, Consent::Deny).await
}

enum Step {
    Get(Url),
    Post(Url, Vec<(&'static str, String)>),
}

async fn drive(
    authorize_url: &str,
    username: &str,
    password: &str,
    consent: Consent,
) -> Result<Url, DriverError> {
    let start = Url::parse(authorize_url).map_err(|_| DriverError::BadUrl(authorize_url.into()))?;
    let provider = start.origin();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client builds");
    let mut step = Step::Get(start);
    let mut signed_in = false;

    for _ in 0..MAX_STEPS {
        let (url, request) = match step {
            Step::Get(url) => (url.clone(), client.get(url)),
            Step::Post(url, form) => (url.clone(), client.post(url).form(&form)),
        };
        let http = |source| DriverError::Http {
            url: url.to_string(),
            source,
        };
        let response = request.send().await.map_err(http)?;
        let status = response.status();

        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .ok_or_else(|| DriverError::Unexpected {
                    url: url.to_string(),
                    status: status.as_u16(),
                    body: "a redirect without a Location".into(),
                })?;
            let target = url
                .join(location)
                .map_err(|_| DriverError::BadUrl(location.into()))?;
            if target.origin() != provider {
                return Ok(target);
            }
            step = Step::Get(target);
            continue;
        }

        let body = response.text().await.map_err(http)?;
        let unexpected = |body: &str| DriverError::Unexpected {
            url: url.to_string(),
            status: status.as_u16(),
            body: body.chars().take(500).collect(),
        };
        let forms = forms(&body);
        let login = forms.iter().find(|form| form.has_field("password"));
        if let Some(login) = login {
            // The provider answers a wrong password with the form again (401 from
            // tests/oidc/server.js); a form shown again after the credentials went in is a
            // refusal whatever its status.
            if signed_in || status == reqwest::StatusCode::UNAUTHORIZED {
                return Err(DriverError::LoginRefused {
                    message: alert(&body).unwrap_or_else(|| format!("status {status}")),
                });
            }
            signed_in = true;
            let action = url
                .join(&login.action)
                .map_err(|_| DriverError::BadUrl(login.action.clone()))?;
            step = Step::Post(
                action,
                vec![("username", username.into()), ("password", password.into())],
            );
            continue;
        }
        if !status.is_success() {
            return Err(unexpected(&body));
        }
        let wanted = match consent {
            Consent::Allow => "/confirm",
            Consent::Deny => "/abort",
        };
        let Some(answer) = forms.iter().find(|form| form.action.ends_with(wanted)) else {
            return Err(unexpected(&body));
        };
        let action = url
            .join(&answer.action)
            .map_err(|_| DriverError::BadUrl(answer.action.clone()))?;
        step = Step::Post(action, Vec::new());
    }
    Err(DriverError::TooManySteps(MAX_STEPS))
}

/// A `<form>` of the provider's pages: where it posts, and its markup.
struct Form<'a> {
    action: String,
    markup: &'a str,
}

impl Form<'_> {
    fn has_field(&self, name: &str) -> bool {
        self.markup.contains(&format!("name=\"{name}\""))
    }
}

/// The forms of a page, read just well enough for the provider's own plain markup (double-quoted
/// attributes, no nesting).
fn forms(html: &str) -> Vec<Form<'_>> {
    html.split("<form")
        .skip(1)
        .filter_map(|rest| {
            let markup = rest.split("</form>").next().unwrap_or(rest);
            let tag = markup.split('>').next()?;
            let action = attribute(tag, "action")?;
            Some(Form {
                action: unescape(action),
                markup,
            })
        })
        .collect()
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let (_, rest) = tag.split_once(&format!("{name}=\""))?;
    rest.split('"').next()
}

/// The text of the page's `role="alert"` element, where the provider says why it refused.
fn alert(html: &str) -> Option<String> {
    let (_, rest) = html.split_once("role=\"alert\">")?;
    rest.split('<').next().map(|text| unescape(text.trim()))
}

/// HTML character references as `tests/oidc/server.js` writes them (`&#NN;`), and the named ones
/// for the same characters.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix('#')
                .and_then(|code| code.parse::<u32>().ok())
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}
