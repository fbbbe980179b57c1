//! [`LoginForm`]: the login form as a browser posts it, with the page to return to, validated
//! by [`safe_next`].

use std::fmt;

use secrecy::SecretString;
use serde::Deserialize;

use crate::{credentials::PasswordCredentials, security::safe_next};

/// A login form as a browser posts it: `username`, `password` and a hidden `next` (the page to
/// return to), for `axum::Form<LoginForm>`.
///
/// Every field may be missing: a form without one is answered like wrong credentials, with the
/// same status and page, instead of a `422` from the extractor that would tell the two apart.
/// [`next`](Self::next) is the validated return target.
///
/// ```
/// use axum::{Form, response::{IntoResponse, Redirect, Response}};
/// use axum_login::{AuthError, AuthSession, LoginForm, UserStore, PasswordCredentials};
///
/// async fn login<S>(mut auth: AuthSession<S>, Form(form): Form<LoginForm>) -> Result<Response, AuthError>
/// where
///     S: UserStore<Credentials = PasswordCredentials>,
/// {
///     let next = form.next().to_owned();
///     match auth.authenticate(form.into_credentials()).await? {
///         Some(user) => {
///             auth.login(&user).await?;
///             Ok(Redirect::to(&next).into_response())
///         }
///         None => Ok((axum::http::StatusCode::UNAUTHORIZED, "wrong username or password").into_response()),
///     }
/// }
/// ```
#[derive(Clone, Deserialize)]
pub struct LoginForm {
    /// The name the user logs in with; empty when the form has none.
    #[serde(default)]
    pub username: String,
    /// The password; empty when the form has none.
    #[serde(default = "empty_secret")]
    pub password: SecretString,
    /// The page to return to after login, as the form sent it: read it through
    /// [`next`](Self::next), which validates it.
    #[serde(default)]
    pub next: String,
}

fn empty_secret() -> SecretString {
    SecretString::from(String::new())
}

impl LoginForm {
    /// Where to send the user after login: the form's `next` if [`safe_next`] accepts it, else
    /// `/`.
    pub fn next(&self) -> &str {
        safe_next(&self.next).unwrap_or("/")
    }

    /// The form's `next` if it is safe, else the empty string: for the hidden field of a login
    /// page shown again. It holds no `"`, `<` or `>` (see [`safe_next`]), but it is not
    /// HTML-escaped: write it into the page through your template's escaping, as any value.
    pub fn next_field(&self) -> &str {
        safe_next(&self.next).unwrap_or_default()
    }

    /// The username and password, for [`AuthSession::authenticate`](crate::AuthSession::authenticate).
    pub fn into_credentials(self) -> PasswordCredentials {
        PasswordCredentials {
            username: self.username,
            password: self.password,
        }
    }
}

impl fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginForm")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .field("next", &self.next)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn a_login_form_with_fields_missing_is_empty_credentials() {
        let form: LoginForm = serde_json::from_value(serde_json::json!({})).expect("all optional");
        assert_eq!(form.username, "");
        assert_eq!(form.password.expose_secret(), "");
        assert_eq!(form.next(), "/");
    }

    #[test]
    fn a_login_form_returns_only_to_a_safe_next() {
        let form = |next: &str| LoginForm {
            username: "ferris".into(),
            password: SecretString::from("hunter42"),
            next: next.into(),
        };
        assert_eq!(form("/admin?tab=1").next(), "/admin?tab=1");
        assert_eq!(form("//evil.example").next(), "/");
        assert_eq!(form("//evil.example").next_field(), "");
        assert!(!format!("{:?}", form("/")).contains("hunter42"));
        let credentials = form("/").into_credentials();
        assert_eq!(credentials.username, "ferris");
    }
}
