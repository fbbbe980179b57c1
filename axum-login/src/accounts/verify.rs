//! Sign-up and email verification: a new account gets a link that confirms its address; an
//! address that already has an account gets the same answer, and its owner a notice.

use secrecy::{ExposeSecret as _, SecretString};

use super::{
    AccountStore, Accounts, EmailUser,
    reset::{Job, Work, plausible_address},
    token::Purpose,
};
use crate::{
    AuthError, AuthSession, AuthUser, credentials::MAX_USERNAME_LEN, events::AuthEvent,
    security::MailScope,
};

/// What [`Accounts::sign_up`] made of a sign-up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignUp {
    /// Answer "check your mail". A new account was created and a verification link is on its
    /// way, or the address already had an account and its owner is told: the two are not
    /// told apart, here or in the time the answer takes.
    CheckYourMail,
    /// The username is taken: the form again (`422`), saying so. (A sign-up form cannot hide
    /// which usernames exist: the user must pick a free one.)
    UsernameTaken,
    /// The username is empty or longer than
    /// [`MAX_USERNAME_LEN`](crate::credentials::MAX_USERNAME_LEN): a form error.
    InvalidUsername,
    /// Not an email address: a form error.
    InvalidAddress,
    /// The password breaks the length rule: a form error, with the rule.
    InvalidPassword {
        /// The fewest bytes allowed.
        min: usize,
        /// The most bytes allowed.
        max: usize,
    },
    /// The client's address asked for too many mails: answer `429`.
    Throttled,
}

/// What [`Accounts::verify_email`] came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verified {
    /// The address is confirmed.
    Done,
    /// The token is unknown, used, expired or void (the address or the password changed):
    /// answer `400` with a page that offers a new mail.
    InvalidToken,
}

impl<S: AccountStore> Accounts<S> {
    /// Creates an account with an unconfirmed address and mails it a verification link; see
    /// [`SignUp`] for the answers. The user is not logged in: the app sends them to a "check
    /// your mail" page, and they log in once they have confirmed (or before, if the app lets
    /// unverified users in).
    ///
    /// Every sign-up hashes the password, whether the address is taken or not, so the time of
    /// the answer does not tell; the mails go out on the background task.
    pub async fn sign_up(
        &self,
        auth: &AuthSession<S>,
        username: &str,
        email: &str,
        password: SecretString,
    ) -> Result<SignUp, AuthError> {
        self.registered(auth)?;
        let email = email.trim();
        if username.trim().is_empty() || username.len() > MAX_USERNAME_LEN {
            return Ok(SignUp::InvalidUsername);
        }
        if !plausible_address(email) {
            return Ok(SignUp::InvalidAddress);
        }
        let (min, max) = (self.inner.min_password, self.inner.max_password);
        if !(min..=max).contains(&password.expose_secret().len()) {
            return Ok(SignUp::InvalidPassword { min, max });
        }
        if !self.address_may_ask(auth).await? {
            return Ok(SignUp::Throttled);
        }
        let store = auth.backend.store();
        let store_error = |error: S::Error| AuthError::Store(error.into());
        let existing = store.find_by_email(email).await.map_err(store_error)?;
        let (work, created) = match existing {
            Some(owner) => {
                // The work a creation would have done: the password's hash.
                crate::password::hash_password(password)
                    .await
                    .map_err(|error| AuthError::Store(error.into()))?;
                (
                    Work::AlreadyRegistered {
                        user: owner.id().to_string(),
                    },
                    None,
                )
            }
            None => match store
                .create_account(username, email, password)
                .await
                .map_err(store_error)?
            {
                Some(user) => (
                    Work::Verify {
                        user: user.id().to_string(),
                    },
                    Some(user.id().to_string()),
                ),
                None => {
                    // Taken: the username, or the address by a sign-up that just won a race
                    // to it (told apart by looking again).
                    match store.find_by_email(email).await.map_err(store_error)? {
                        Some(owner) => (
                            Work::AlreadyRegistered {
                                user: owner.id().to_string(),
                            },
                            None,
                        ),
                        None => return Ok(SignUp::UsernameTaken),
                    }
                }
            },
        };
        if let Some(user) = created {
            auth.emit(AuthEvent::SignedUp { user });
        }
        self.enqueue(Job {
            work,
            backend: auth.backend.clone(),
        });
        Ok(SignUp::CheckYourMail)
    }

    /// Mails `user` a new verification link, unless their address is confirmed already.
    /// `false` when the client's address asked for too many mails (answer `429`).
    pub async fn send_verification(
        &self,
        auth: &AuthSession<S>,
        user: &S::User,
    ) -> Result<bool, AuthError> {
        self.registered(auth)?;
        if !self.address_may_ask(auth).await? {
            return Ok(false);
        }
        if !user.email_verified() {
            self.enqueue(Job {
                work: Work::Verify {
                    user: user.id().to_string(),
                },
                backend: auth.backend.clone(),
            });
        }
        Ok(true)
    }

    /// Whether `token` is a usable verification token, for the page the link opens: it does
    /// not use the token (mail scanners follow links; only the posted form uses it).
    pub async fn check_verification_token(
        &self,
        auth: &AuthSession<S>,
        token: &str,
    ) -> Result<bool, AuthError> {
        self.check(auth, token, Purpose::VerifyEmail).await
    }

    /// Confirms the address that the verification `token` was mailed to, using up the token.
    /// Needs no login: the token is the proof.
    pub async fn verify_email(
        &self,
        auth: &AuthSession<S>,
        token: &str,
    ) -> Result<Verified, AuthError> {
        self.registered(auth)?;
        let Some((record, user)) = self
            .take(&auth.backend, token, Purpose::VerifyEmail)
            .await?
        else {
            return Ok(Verified::InvalidToken);
        };
        let updated = auth
            .backend
            .store()
            .mark_email_verified(&user.id(), &record.email)
            .await
            .map_err(|error| AuthError::Store(error.into()))?;
        // A change of address between the check and the update marks nothing.
        let Some(user) = updated.filter(EmailUser::email_verified) else {
            return Ok(Verified::InvalidToken);
        };
        auth.backend.loader.forget(&user.id());
        auth.emit(AuthEvent::EmailVerified {
            user: user.id().to_string(),
        });
        Ok(Verified::Done)
    }

    /// Counts a request for a mail against the client's address: `false` past the limit.
    pub(super) async fn address_may_ask(&self, auth: &AuthSession<S>) -> Result<bool, AuthError> {
        let Some(address) = auth.auth.client() else {
            return Ok(true);
        };
        let config = auth.auth.config();
        config
            .throttle
            .mail_allowed(MailScope::Address(address), config.clock.now(), &config.key)
            .await
            .map_err(AuthError::Throttle)
    }
}
