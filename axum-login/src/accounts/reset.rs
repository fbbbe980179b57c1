//! Password reset: the request (answered at once, worked off the request path) and the reset
//! itself.

use std::{
    sync::{Arc, atomic::Ordering},
    time::SystemTime,
};

use secrecy::{ExposeSecret as _, SecretString};

use super::{
    AccountStore, Accounts, EmailUser, Inner, QUEUE,
    templates::{ChangedMail, NoticeMail, ResetMail, SignInMail, VerifyMail},
    token::{self, AccountToken, Purpose},
};
use crate::{
    AuthError, AuthSession, AuthUser,
    events::{AuthEvent, LoginMethod},
    login::{Backend, Change},
    mail::Message,
    security::MailScope,
};

/// What [`Accounts::request_password_reset`] made of a request. Answer
/// [`Accepted`](Self::Accepted) with the same page whether or not the address has an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResetRequested {
    /// Queued: if the address has an account (and the account has not had its mails for the
    /// window), a link is on its way. Say "if an account uses this address, we sent it a link".
    Accepted,
    /// The client's address asked too often: answer `429` and ask them to wait.
    Throttled,
    /// Not an email address (a form error): answer `422` with the form again.
    InvalidAddress,
}

/// What [`Accounts::reset_password`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResetOutcome {
    /// The password is set; every session, remember-me token and device cookie of the user is
    /// ended, and every other reset link.
    Done {
        /// Whether this browser is now logged in as the user
        /// ([`Accounts::log_in_after_reset`], never for a user with a second factor).
        logged_in: bool,
    },
    /// The token is unknown, used, expired or void (a later login, a password or address
    /// change): answer `400` with a page that offers a new mail.
    InvalidToken,
    /// The new password is too short or too long; the token is not used, so the form can be
    /// posted again. Carries the length rule, to show the user.
    InvalidPassword {
        /// The fewest bytes allowed.
        min: usize,
        /// The most bytes allowed.
        max: usize,
    },
}

/// A request waiting for the background task.
pub(super) struct Job<S: crate::UserStore> {
    pub(super) work: Work,
    pub(super) backend: Arc<Backend<S>>,
}

/// What a [`Job`] is for.
pub(super) enum Work {
    /// A reset link to the account with this address, if there is one.
    Reset { email: String },
    /// A verification link to the user with this id (its text).
    Verify { user: String },
    /// A notice to the user with this id: someone tried to sign up with their address.
    AlreadyRegistered { user: String },
    /// A sign-in link and `code` to the account with this address, if there is one; the code
    /// is kept as a token under the hash of `nonce:code`, the asking session's nonce.
    SignIn {
        email: String,
        code: String,
        nonce: String,
    },
    /// A link to `new_email` that confirms it as the address of the user with this id.
    ChangeEmail { user: String, new_email: String },
    /// A notice to `old_email` that it was replaced by `new_email`.
    EmailChanged {
        old_email: String,
        new_email: String,
    },
}

/// Whether `email` looks like an address: one `@` with something on each side, no spaces or
/// control characters, at most 254 bytes (RFC 5321's limit). Deliverability is the mail
/// server's to judge.
pub(super) fn plausible_address(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"<>,;\"".contains(c))
}

fn seconds(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

impl<S: AccountStore> Accounts<S> {
    /// Asks for a reset link to be mailed to `email`: see [the module](super) for what is
    /// counted, and what the answer does not tell.
    ///
    /// Errors only when the app is misconfigured (these accounts not registered on the
    /// layer), or the throttle's store fails.
    pub async fn request_password_reset(
        &self,
        auth: &AuthSession<S>,
        email: &str,
    ) -> Result<ResetRequested, AuthError> {
        self.registered(auth)?;
        let email = email.trim();
        if !plausible_address(email) {
            return Ok(ResetRequested::InvalidAddress);
        }
        if !self.address_may_ask(auth).await? {
            return Ok(ResetRequested::Throttled);
        }
        self.enqueue(Job {
            work: Work::Reset {
                email: email.to_owned(),
            },
            backend: auth.backend.clone(),
        });
        Ok(ResetRequested::Accepted)
    }

    /// Hands `job` to the background task; past [`QUEUE`] it is dropped, with a log line
    /// once a minute.
    pub(super) fn enqueue(&self, job: Job<S>) {
        let config = &job.backend.config;
        let now = seconds(config.clock.now());
        let jobs = self.jobs.get_or_init(|| self.spawn_worker());
        if jobs.try_send(job).is_err() {
            let last = self.inner.warned_full.load(Ordering::Relaxed);
            if now >= last + 60
                && self
                    .inner
                    .warned_full
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                tracing::warn!(
                    capacity = QUEUE,
                    "mail requests arrive faster than they are worked: requests past the queue are dropped (logged once a minute)"
                );
            }
        }
    }

    /// Whether `token` is a usable reset token, for the page the link opens: it does not use
    /// the token (mail scanners follow links; only the posted form uses it).
    pub async fn check_reset_token(
        &self,
        auth: &AuthSession<S>,
        token: &str,
    ) -> Result<bool, AuthError> {
        self.check(auth, token, Purpose::PasswordReset).await
    }

    /// Sets the password of the user whose reset `token` this is, using up the token: see
    /// [the module](super) for what a reset ends.
    pub async fn reset_password(
        &self,
        auth: &mut AuthSession<S>,
        token: &str,
        password: SecretString,
    ) -> Result<ResetOutcome, AuthError> {
        self.registered(auth)?;
        let Some((record, user)) = self
            .open(&auth.backend, token, Purpose::PasswordReset)
            .await?
        else {
            return Ok(ResetOutcome::InvalidToken);
        };
        let (min, max) = (self.inner.min_password, self.inner.max_password);
        if !(min..=max).contains(&password.expose_secret().len()) {
            return Ok(ResetOutcome::InvalidPassword { min, max });
        }
        // The one conditional delete that makes the token single-use: a request that loses
        // the race to it changes nothing.
        let Some((_, user)) = self.used(record, user).await? else {
            return Ok(ResetOutcome::InvalidToken);
        };
        let Some(user) = auth
            .backend
            .store()
            .set_password(&user.id(), password)
            .await
            .map_err(|error| AuthError::Store(error.into()))?
        else {
            return Ok(ResetOutcome::InvalidToken);
        };
        let user_key = user.id().to_string();
        auth.backend.loader.forget(&user.id());
        // Every session (their digests no longer match; the registry deletes them), every
        // remember-me token and device cookie, and the user's other reset links.
        let config = auth.auth.config();
        config
            .features
            .changed(&auth.auth, &user_key, Change::Password { keep: None })
            .await?;
        auth.emit(AuthEvent::PasswordReset {
            user: user_key.clone(),
        });
        let logged_in = self.inner.log_in_after_reset
            && config.features.has_second_factor(&user_key).await? == Some(false);
        if logged_in {
            auth.complete_login(&user, LoginMethod::PasswordReset, None, false, false)
                .await?;
        }
        Ok(ResetOutcome::Done { logged_in })
    }

    /// The token `secret` stands for and its user, if it is one of `purpose` that still works:
    /// kept, unexpired, its user there with the same address and the same password.
    pub(super) async fn open(
        &self,
        backend: &Backend<S>,
        secret: &str,
        purpose: Purpose,
    ) -> Result<Option<(AccountToken, S::User)>, AuthError> {
        if !token::well_formed(secret) {
            return Ok(None);
        }
        self.open_hash(backend, &token::hash_of(secret), purpose)
            .await
    }

    /// Whether `secret` is a usable token of `purpose`, for the page a link opens: a `GET`
    /// never uses a token (mail scanners follow links; only the page's form does).
    pub(super) async fn check(
        &self,
        auth: &AuthSession<S>,
        secret: &str,
        purpose: Purpose,
    ) -> Result<bool, AuthError> {
        self.registered(auth)?;
        Ok(self.open(&auth.backend, secret, purpose).await?.is_some())
    }

    /// The token `secret` stands for and its user, as [`open`](Self::open), used up by this
    /// call: of requests presenting it at once, one gets it.
    pub(super) async fn take(
        &self,
        backend: &Backend<S>,
        secret: &str,
        purpose: Purpose,
    ) -> Result<Option<(AccountToken, S::User)>, AuthError> {
        let Some((record, user)) = self.open(backend, secret, purpose).await? else {
            return Ok(None);
        };
        self.used(record, user).await
    }

    /// `Some` of what it is given when this call used the token up (one conditional delete).
    pub(super) async fn used(
        &self,
        record: AccountToken,
        user: S::User,
    ) -> Result<Option<(AccountToken, S::User)>, AuthError> {
        let won = self
            .inner
            .tokens
            .consume(&record.hash)
            .await
            .map_err(AuthError::Store)?;
        Ok(won.then_some((record, user)))
    }

    /// As [`open`](Self::open), for the token kept under `hash`.
    pub(super) async fn open_hash(
        &self,
        backend: &Backend<S>,
        hash: &str,
        purpose: Purpose,
    ) -> Result<Option<(AccountToken, S::User)>, AuthError> {
        let tokens = &self.inner.tokens;
        let Some(record) = tokens.find(hash).await.map_err(AuthError::Store)? else {
            return Ok(None);
        };
        let config = &backend.config;
        let now = config.clock.now();
        if record.purpose != purpose || record.expires_at <= now {
            return Ok(None);
        }
        let Some(id) = crate::login::parse_id::<S>(&record.user) else {
            return Ok(None);
        };
        let user = backend
            .store()
            .load_user(&id)
            .await
            .map_err(|error| AuthError::Store(error.into()))?;
        let Some(user) = user else {
            return Ok(None);
        };
        let same_address = user
            .email()
            .is_some_and(|email| email.eq_ignore_ascii_case(&record.email));
        let same_password = config
            .key
            .verify_user(&config.realm, &user, &record.stamp, now)
            .is_some();
        Ok((same_address && same_password && user.is_active()).then_some((record, user)))
    }

    /// Refuses to run unregistered: without [`AuthLayerBuilder::accounts`], a login would not
    /// void the user's reset links.
    ///
    /// [`AuthLayerBuilder::accounts`]: crate::layer::AuthLayerBuilder::accounts
    pub(super) fn registered(&self, auth: &AuthSession<S>) -> Result<(), AuthError> {
        if auth
            .auth
            .config()
            .features
            .get::<super::feature::AccountsFeature>()
            .is_some()
        {
            self.layer.get_or_init(|| auth.backend.clone());
            return Ok(());
        }
        Err(AuthError::NotRegistered {
            feature: "Accounts",
            builder: "accounts",
        })
    }

    fn spawn_worker(&self) -> tokio::sync::mpsc::Sender<Job<S>> {
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<Job<S>>(QUEUE);
        let inner = Inner::clone(&self.inner);
        tokio::spawn(async move {
            while let Some(job) = receiver.recv().await {
                match job.work {
                    Work::Reset { email } => mail_reset_link(&inner, &job.backend, &email).await,
                    Work::Verify { user } => {
                        mail_verification_link(&inner, &job.backend, &user).await;
                    }
                    Work::AlreadyRegistered { user } => {
                        mail_notice(&inner, &job.backend, &user).await;
                    }
                    Work::SignIn { email, code, nonce } => {
                        mail_sign_in(&inner, &job.backend, &email, &code, &nonce).await;
                    }
                    Work::ChangeEmail { user, new_email } => {
                        mail_change_link(&inner, &job.backend, &user, &new_email).await;
                    }
                    Work::EmailChanged {
                        old_email,
                        new_email,
                    } => {
                        let rendered = inner.templates.email_changed(&ChangedMail {
                            to: &old_email,
                            new_email: &new_email,
                        });
                        send(&inner, "email_changed", old_email, rendered);
                    }
                }
            }
        });
        sender
    }
}

/// Works one reset request on the background task: finds the account, counts the mail against
/// it, makes the token and queues the mail. Failures are logged; nobody waits for them.
async fn mail_reset_link<S: AccountStore>(inner: &Inner, backend: &Backend<S>, email: &str) {
    let user = match backend.store().find_by_email(email).await {
        Ok(Some(user)) if user.is_active() => user,
        Ok(_) => return,
        Err(error) => {
            tracing::error!(error = %error, "password reset: the user store failed; no mail sent");
            return;
        }
    };
    let Some((to, secret)) = issue(
        inner,
        backend,
        &user,
        Purpose::PasswordReset,
        inner.reset_lifetime,
    )
    .await
    else {
        return;
    };
    let link = format!("{}{}/{}", inner.public_url, inner.reset_path, secret);
    let rendered = inner.templates.password_reset(&ResetMail {
        to: &to,
        link: &link,
        valid_for: inner.reset_lifetime,
    });
    send(inner, "password_reset", to, rendered);
}

/// Works a sign-in request: a link, and the code the asking session holds the hash of.
async fn mail_sign_in<S: AccountStore>(
    inner: &Inner,
    backend: &Backend<S>,
    email: &str,
    code: &str,
    nonce: &str,
) {
    let user = match backend.store().find_by_email(email).await {
        Ok(Some(user)) if user.is_active() => user,
        Ok(_) => return,
        Err(error) => {
            tracing::error!(error = %error, "sign-in by email: the user store failed; no mail sent");
            return;
        }
    };
    let Some((to, secret)) = issue(
        inner,
        backend,
        &user,
        Purpose::SignIn,
        inner.sign_in_lifetime,
    )
    .await
    else {
        return;
    };
    // The code works only because this mail went out: it is a token of its own, found by the
    // asking session's nonce and the code, so a code that was never mailed (the account had
    // its mails for the window) cannot be guessed into a login.
    let code_token = format!("{nonce}:{code}");
    let lifetime = inner.sign_in_lifetime;
    let kept = keep(
        inner,
        backend,
        &user,
        Purpose::SignIn,
        lifetime,
        &code_token,
        None,
    )
    .await;
    if kept.is_none() {
        return;
    }
    let link = format!("{}{}/{}", inner.public_url, inner.sign_in_path, secret);
    let rendered = inner.templates.sign_in(&SignInMail {
        to: &to,
        link: &link,
        code,
        valid_for: inner.sign_in_lifetime,
    });
    send(inner, "sign_in", to, rendered);
}

/// Works a request to change an address: a confirmation link to the new address, or, when
/// another account has it, a notice to it.
async fn mail_change_link<S: AccountStore>(
    inner: &Inner,
    backend: &Backend<S>,
    user: &str,
    new_email: &str,
) {
    let Some(user) = load(backend, user).await else {
        return;
    };
    if !account_may_be_mailed(backend, &user).await {
        return;
    }
    match backend.store().find_by_email(new_email).await {
        Ok(None) => {}
        Ok(Some(_)) => {
            let reset_link = format!("{}{}", inner.public_url, inner.reset_path);
            let rendered = inner.templates.already_registered(&NoticeMail {
                to: new_email,
                reset_link: &reset_link,
            });
            send(inner, "already_registered", new_email.to_owned(), rendered);
            return;
        }
        Err(error) => {
            tracing::error!(error = %error, "address change: the user store failed; no mail sent");
            return;
        }
    }
    let secret = token::new_secret();
    let (lifetime, change) = (inner.verify_lifetime, Some(new_email));
    let kept = keep(
        inner,
        backend,
        &user,
        Purpose::ChangeEmail,
        lifetime,
        &secret,
        change,
    )
    .await;
    if kept.is_none() {
        return;
    }
    let link = format!("{}{}/{}", inner.public_url, inner.email_change_path, secret);
    let rendered = inner.templates.verify_email(&VerifyMail {
        to: new_email,
        link: &link,
        valid_for: inner.verify_lifetime,
    });
    send(inner, "change_email", new_email.to_owned(), rendered);
}

/// Works a verification request: a new token and its link, to the user's address as it is.
async fn mail_verification_link<S: AccountStore>(inner: &Inner, backend: &Backend<S>, user: &str) {
    let Some(user) = load(backend, user).await else {
        return;
    };
    if user.email_verified() {
        return;
    }
    let Some((to, secret)) = issue(
        inner,
        backend,
        &user,
        Purpose::VerifyEmail,
        inner.verify_lifetime,
    )
    .await
    else {
        return;
    };
    let link = format!("{}{}/{}", inner.public_url, inner.verify_path, secret);
    let rendered = inner.templates.verify_email(&VerifyMail {
        to: &to,
        link: &link,
        valid_for: inner.verify_lifetime,
    });
    send(inner, "verify_email", to, rendered);
}

/// Tells the owner of an address that someone tried to sign up with it.
async fn mail_notice<S: AccountStore>(inner: &Inner, backend: &Backend<S>, user: &str) {
    let Some(user) = load(backend, user).await else {
        return;
    };
    let Some(to) = user.email().map(str::to_owned) else {
        return;
    };
    if !account_may_be_mailed(backend, &user).await {
        return;
    }
    let reset_link = format!("{}{}", inner.public_url, inner.reset_path);
    let rendered = inner.templates.already_registered(&NoticeMail {
        to: &to,
        reset_link: &reset_link,
    });
    send(inner, "already_registered", to, rendered);
}

/// The user with the id `text`, fresh from the store, if active.
async fn load<S: AccountStore>(backend: &Backend<S>, text: &str) -> Option<S::User> {
    let id = crate::login::parse_id::<S>(text)?;
    match backend.store().load_user(&id).await {
        Ok(user) => user.filter(AuthUser::is_active),
        Err(error) => {
            tracing::error!(error = %error, "account mail: the user store failed; no mail sent");
            None
        }
    }
}

/// Counts a mail against `user`'s account: `false` once it had its mails for the window.
async fn account_may_be_mailed<S: AccountStore>(backend: &Backend<S>, user: &S::User) -> bool {
    let config = &backend.config;
    let user_key = user.id().to_string();
    match config
        .throttle
        .mail_allowed(
            MailScope::Account(&user_key),
            config.clock.now(),
            &config.key,
        )
        .await
    {
        Ok(true) => true,
        Ok(false) => {
            tracing::info!(user = %user_key, "account mail: the account had its mails for this window; none sent");
            false
        }
        Err(error) => {
            tracing::error!(%error, "account mail: the throttle failed; no mail sent");
            false
        }
    }
}

/// Counts a mail against `user`'s account and keeps a new token of `purpose` for their
/// address; answers the address and the token's secret, or `None` (logged) when no mail may
/// go.
async fn issue<S: AccountStore>(
    inner: &Inner,
    backend: &Backend<S>,
    user: &S::User,
    purpose: Purpose,
    lifetime: std::time::Duration,
) -> Option<(String, String)> {
    // The address as the account has it, which is where the mail goes.
    let to = user.email()?.to_owned();
    if !account_may_be_mailed(backend, user).await {
        return None;
    }
    let secret = token::new_secret();
    keep(inner, backend, user, purpose, lifetime, &secret, None).await?;
    Some((to, secret))
}

/// Keeps a token of `purpose` whose secret is `secret` for `user`'s address (and, for an
/// address change, the address that replaces it); `None` (logged) when the store fails.
async fn keep<S: AccountStore>(
    inner: &Inner,
    backend: &Backend<S>,
    user: &S::User,
    purpose: Purpose,
    lifetime: std::time::Duration,
    secret: &str,
    new_email: Option<&str>,
) -> Option<()> {
    let config = &backend.config;
    let now = config.clock.now();
    let record = AccountToken {
        hash: token::hash_of(secret),
        purpose,
        user: user.id().to_string(),
        email: user.email()?.to_owned(),
        new_email: new_email.map(str::to_owned),
        stamp: config.key.user_digest(&config.realm, user),
        created_at: now,
        expires_at: token::expiry(now, lifetime),
    };
    if let Err(error) = inner.tokens.insert(&record).await {
        tracing::error!(%error, %purpose, "account mail: the token store failed; no mail sent");
        return None;
    }
    Some(())
}

/// Queues a rendered mail to `to`.
fn send(inner: &Inner, kind: &'static str, to: String, rendered: super::Rendered) {
    let message = Message::new(kind, to, rendered.subject, rendered.text, rendered.html);
    if inner.outbox.enqueue(message).is_err() {
        tracing::error!(kind, "account mail: the outbox is full; no mail sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_judged_by_their_shape_only() {
        for good in ["a@b", "ferris@example.com", "first.last+tag@sub.example.co"] {
            assert!(plausible_address(good), "{good}");
        }
        for bad in [
            "",
            "ferris",
            "@example.com",
            "ferris@",
            "ferris@.example.com",
            "ferris@example.com.",
            "fer ris@example.com",
            "ferris@example.com\r\nBcc: x@y",
            "\"x\"@example.com",
            "a@b,c@d",
            &format!("{}@example.com", "a".repeat(250)),
        ] {
            assert!(!plausible_address(bad), "{bad:?}");
        }
    }
}
