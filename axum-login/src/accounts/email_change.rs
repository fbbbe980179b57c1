//! A change of address: confirmed from the new address before it replaces the old one, and
//! the old address told once it has.

use super::{
    AccountStore, Accounts, EmailUser as _,
    reset::{Job, Work, plausible_address},
    token::{Purpose, Revoke},
};
use crate::{AuthError, AuthSession, AuthUser, events::AuthEvent};

/// What [`Accounts::request_email_change`] made of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeRequested {
    /// A link is on its way to the new address; the old one stays until it is opened. Said
    /// the same whether or not another account uses the new address (its owner is told).
    Sent,
    /// The new address is the current one.
    Unchanged,
    /// Not an email address: a form error.
    InvalidAddress,
    /// The client's address asked for too many mails: answer `429`.
    Throttled,
}

/// What [`Accounts::confirm_email_change`] came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmailChanged {
    /// The new address replaced the old one, confirmed; the old address is told.
    Done,
    /// The link is unknown, used, expired or void (the address or the password changed since
    /// it was mailed): answer `400`.
    InvalidToken,
    /// Another account took the new address in the meantime: answer `409`.
    Taken,
}

impl<S: AccountStore> Accounts<S> {
    /// Asks to change `user`'s address to `new_email`: a link goes to the new address, and
    /// only opening it makes the change, so a typo or an address that is not theirs changes
    /// nothing. Call it for the logged-in user, after a fresh login (`fresh` on the route) or
    /// their password: the change moves where reset links go.
    pub async fn request_email_change(
        &self,
        auth: &AuthSession<S>,
        user: &S::User,
        new_email: &str,
    ) -> Result<ChangeRequested, AuthError> {
        self.registered(auth)?;
        let new_email = new_email.trim();
        if !plausible_address(new_email) {
            return Ok(ChangeRequested::InvalidAddress);
        }
        if user
            .email()
            .is_some_and(|email| email.eq_ignore_ascii_case(new_email))
        {
            return Ok(ChangeRequested::Unchanged);
        }
        if !self.address_may_ask(auth).await? {
            return Ok(ChangeRequested::Throttled);
        }
        self.enqueue(Job {
            work: Work::ChangeEmail {
                user: user.id().to_string(),
                new_email: new_email.to_owned(),
            },
            backend: auth.backend.clone(),
        });
        Ok(ChangeRequested::Sent)
    }

    /// Whether `token` is a usable link to confirm a new address, for the page the link
    /// opens: it does not use the token.
    pub async fn check_email_change_token(
        &self,
        auth: &AuthSession<S>,
        token: &str,
    ) -> Result<bool, AuthError> {
        self.check(auth, token, Purpose::ChangeEmail).await
    }

    /// Makes the change the link `token` confirms: the new address replaces the old one,
    /// confirmed, every other mailed link of the user dies, and the old address is told.
    /// Needs no login: the link is the proof that the new address is the user's.
    pub async fn confirm_email_change(
        &self,
        auth: &AuthSession<S>,
        token: &str,
    ) -> Result<EmailChanged, AuthError> {
        self.registered(auth)?;
        let Some((record, user)) = self
            .take(&auth.backend, token, Purpose::ChangeEmail)
            .await?
        else {
            return Ok(EmailChanged::InvalidToken);
        };
        let Some(new_email) = record.new_email.clone() else {
            return Ok(EmailChanged::InvalidToken);
        };
        let changed = auth
            .backend
            .store()
            .change_email(&user.id(), &record.email, &new_email)
            .await
            .map_err(|error| AuthError::Store(error.into()))?;
        match changed {
            Some(true) => {}
            Some(false) => return Ok(EmailChanged::Taken),
            None => return Ok(EmailChanged::InvalidToken),
        }
        let user_key = user.id().to_string();
        auth.backend.loader.forget(&user.id());
        // Links mailed to the old address must not outlive it.
        self.inner
            .tokens
            .revoke_user(&user_key, Revoke::All)
            .await
            .map_err(AuthError::Store)?;
        self.enqueue(Job {
            work: Work::EmailChanged {
                old_email: record.email.clone(),
                new_email,
            },
            backend: auth.backend.clone(),
        });
        auth.emit(AuthEvent::EmailChanged { user: user_key });
        Ok(EmailChanged::Done)
    }
}
