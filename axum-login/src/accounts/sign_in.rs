//! Sign-in by email: a one-time link, and a six-digit code for the browser that asked.

use rand::Rng as _;
use serde::{Deserialize, Serialize};

use super::{
    AccountStore, Accounts,
    reset::{Job, Work, plausible_address},
    token::{self, Purpose},
};
use crate::{AuthError, AuthSession, AuthUser, clock::unix_seconds, events::LoginMethod};

/// Where the session keeps the code it asked for: never the code, a keyed hash of it.
const CODE_KEY: &str = "axum_login.email_code";

/// Wrong codes a session may try before its code is void and it must ask again.
const CODE_ATTEMPTS: u32 = 5;

/// What [`Accounts::request_sign_in`] made of a request. Answer
/// [`Sent`](Self::Sent) with the same page whether or not the address has an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignInRequested {
    /// If the address has an account, a link and a code are on their way: show the form that
    /// takes the code.
    Sent,
    /// The client's address asked too often: answer `429`.
    Throttled,
    /// Not an email address: a form error.
    InvalidAddress,
}

/// What a sign-in by email came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignedIn {
    /// The user is logged in on this session.
    LoggedIn,
    /// The user has a second factor: the session waits for it, as after a password; send the
    /// browser to the second-factor page.
    SecondFactorDue,
    /// The link is unknown, used, expired or void: answer `400` with a page that offers a
    /// new one.
    InvalidLink,
    /// The code is wrong, or this session asked for none (or for one that expired or was
    /// tried too often): answer `401` with the form again.
    WrongCode,
}

/// The code a session asked for: a nonce, never the code. The code is kept, hashed with the
/// nonce, as a token in the store, by the mail that carries it.
#[derive(Serialize, Deserialize)]
struct PendingCode {
    nonce: String,
    /// Unix seconds.
    expires_at: u64,
    attempts: u32,
}

impl<S: AccountStore> Accounts<S> {
    /// Asks for a sign-in link and code to be mailed to `email`, for this browser: the code
    /// works only on the session that asked (its keyed hash is kept there), the link on any.
    /// The answer is the same whether the address has an account; the lookup and the mail are
    /// on the background task. Counted per client address, and per account, like a reset.
    pub async fn request_sign_in(
        &self,
        auth: &AuthSession<S>,
        email: &str,
    ) -> Result<SignInRequested, AuthError> {
        self.registered(auth)?;
        let email = email.trim();
        if !plausible_address(email) {
            return Ok(SignInRequested::InvalidAddress);
        }
        if !self.address_may_ask(auth).await? {
            return Ok(SignInRequested::Throttled);
        }
        let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000));
        let nonce = token::new_secret();
        let now = unix_seconds(auth.auth.config().clock.now());
        let pending = PendingCode {
            nonce: nonce.clone(),
            expires_at: now + self.inner.sign_in_lifetime.as_secs(),
            attempts: 0,
        };
        auth.auth.session().insert(CODE_KEY, pending).await?;
        self.enqueue(Job {
            work: Work::SignIn {
                email: email.to_owned(),
                code,
                nonce,
            },
            backend: auth.backend.clone(),
        });
        Ok(SignInRequested::Sent)
    }

    /// Whether `token` is a usable sign-in link, for the page the link opens: it does not use
    /// the token.
    pub async fn check_sign_in_link(
        &self,
        auth: &AuthSession<S>,
        token: &str,
    ) -> Result<bool, AuthError> {
        self.check(auth, token, Purpose::SignIn).await
    }

    /// Logs in the user whose sign-in link `token` is, using it up; a user with a second
    /// factor is left waiting for it.
    pub async fn sign_in_with_link(
        &self,
        auth: &mut AuthSession<S>,
        token: &str,
    ) -> Result<SignedIn, AuthError> {
        self.registered(auth)?;
        auth.auth.check_same_site()?;
        let Some((_, user)) = self.take(&auth.backend, token, Purpose::SignIn).await? else {
            return Ok(SignedIn::InvalidLink);
        };
        finish(auth, &user).await
    }

    /// Logs in the user whose address this session asked a code for, if `code` is the one
    /// mailed to it. Each wrong code counts against the session's few tries; past them the
    /// code is void. A code that was never mailed (no account, or the account had its mails
    /// for the window) matches nothing: only mailed codes are kept.
    pub async fn sign_in_with_code(
        &self,
        auth: &mut AuthSession<S>,
        code: &str,
    ) -> Result<SignedIn, AuthError> {
        self.registered(auth)?;
        auth.auth.check_same_site()?;
        let session = auth.auth.session().clone();
        let Some(mut pending) = session.get::<PendingCode>(CODE_KEY).await? else {
            return Ok(SignedIn::WrongCode);
        };
        let config = auth.auth.config();
        let now = unix_seconds(config.clock.now());
        if now >= pending.expires_at || pending.attempts >= CODE_ATTEMPTS {
            session.remove_value(CODE_KEY).await?;
            return Ok(SignedIn::WrongCode);
        }
        let code = code.trim();
        let found = if code.len() == 6 && code.bytes().all(|byte| byte.is_ascii_digit()) {
            let hash = token::hash_of(&format!("{}:{code}", pending.nonce));
            self.open_hash(&auth.backend, &hash, Purpose::SignIn)
                .await?
        } else {
            None
        };
        let Some((record, user)) = found else {
            pending.attempts += 1;
            session.insert(CODE_KEY, &pending).await?;
            return Ok(SignedIn::WrongCode);
        };
        session.remove_value(CODE_KEY).await?;
        let Some((_, user)) = self.used(record, user).await? else {
            return Ok(SignedIn::WrongCode);
        };
        finish(auth, &user).await
    }
}

/// Logs `user` in after a link or a code, or leaves the session waiting for their second
/// factor.
async fn finish<S: AccountStore>(
    auth: &mut AuthSession<S>,
    user: &S::User,
) -> Result<SignedIn, AuthError> {
    let user_key = user.id().to_string();
    if auth
        .auth
        .config()
        .features
        .has_second_factor(&user_key)
        .await?
        == Some(true)
    {
        auth.begin_second_factor(user, false).await?;
        return Ok(SignedIn::SecondFactorDue);
    }
    auth.complete_login(user, LoginMethod::Email, None, false, false)
        .await?;
    Ok(SignedIn::LoggedIn)
}
