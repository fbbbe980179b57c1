//! Auth events: what happened to whom, for an audit log or alerts.
//!
//! Give the layer an [`AuthEvents`] with
//! [`AuthLayerBuilder::events`](crate::layer::AuthLayerBuilder::events): a closure, a channel's
//! sender, or a type of the app's. It is called on the request that caused the event, before
//! the response is sent, so it must not block: hand the event to a channel or a task for
//! anything slow. Events never carry a password, a code or a token.

use std::{fmt, net::IpAddr, time::SystemTime};

/// Why a login failed, as far as the framework may say. The visitor always sees one failure;
/// this is for the app's own log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginFailure {
    /// An unknown user or a wrong password (never told apart).
    WrongCredentials,
    /// The throttle refused the attempt before any check.
    Throttled,
    /// The credentials were right but the user is not active.
    Inactive,
    /// A second factor was wrong, replayed or missing.
    SecondFactor,
}

/// Something that happened to a login or a session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthEvent {
    /// A user logged in (with `method`: a password, a second factor completing the login,
    /// remember-me, a passkey).
    LoggedIn {
        /// The user's id, as text.
        user: String,
        /// How they logged in.
        method: LoginMethod,
    },
    /// A login attempt failed. `user` is known only when the credentials were right (an
    /// inactive user, a wrong second factor).
    LoginFailed {
        /// Why, as far as the framework may say.
        reason: LoginFailure,
        /// The user's id, when the credentials identified one.
        user: Option<String>,
    },
    /// A password was checked again (a password change, a step-up) and was right.
    Reauthenticated {
        /// The user's id.
        user: String,
    },
    /// The password was checked again and was wrong (or throttled).
    ReauthenticationFailed {
        /// The user's id.
        user: String,
    },
    /// A user logged out.
    LoggedOut {
        /// The user's id.
        user: String,
    },
    /// A session was ended through the session registry (by its user or an admin).
    SessionEnded {
        /// The user's id.
        user: String,
        /// The ended session's registry entry.
        entry: String,
    },
    /// A user's password changed ([`AuthSession::update_session_auth_hash`](crate::AuthSession::update_session_auth_hash)).
    PasswordChanged {
        /// The user's id.
        user: String,
    },
    /// A browser was logged in again by its remember-me cookie.
    RememberUsed {
        /// The user's id.
        user: String,
    },
    /// A remember-me cookie came back after it had been replaced: a copy of it was stolen.
    /// Every remember-me token and session of the user has ended.
    RememberTheft {
        /// The user's id.
        user: String,
    },
    /// A second factor was completed on a session already logged in (a step-up).
    SecondFactorCompleted {
        /// The user's id.
        user: String,
    },
    /// Too many wrong second factors: the user's second factor is locked until the login
    /// throttle's window ends (every check refused, a right one too), whatever password is
    /// entered before it. Reported once per lock.
    SecondFactorLocked {
        /// The user's id.
        user: String,
    },
    /// The app reports a change to a user's second factors (enrolled, removed, a recovery code
    /// used) with [`AuthSession::record_event`](crate::AuthSession::record_event).
    SecondFactorChanged {
        /// The user's id.
        user: String,
        /// What changed, in the app's words.
        change: SecondFactorChange,
    },
    /// A request that changes something came without a valid CSRF token and was refused with
    /// `403` (see [`csrf`](crate::csrf)). Nobody is named: the request was not let near a login.
    CsrfRefused {
        /// What was wrong with the token.
        reason: CsrfRefusal,
    },
    /// A request's API token was refused (see [`tokens`](crate::tokens)): the request is
    /// anonymous. The token is not named; a known one is by its id.
    TokenRefused {
        /// What was wrong with it.
        reason: TokenRefusal,
        /// The id of the token, when it was one the store knows.
        token: Option<String>,
    },
    /// `user` set a new password through a mailed reset link (see
    /// [`accounts`](crate::accounts)): every session, remember-me token and device cookie of
    /// theirs ended.
    PasswordReset {
        /// The user's id.
        user: String,
    },
    /// A new account signed up (see [`accounts`](crate::accounts)); its address is not
    /// confirmed yet.
    SignedUp {
        /// The new user's id.
        user: String,
    },
    /// `user` confirmed their email address with a mailed link.
    EmailVerified {
        /// The user's id.
        user: String,
    },
    /// `user`'s address was replaced by a new one, confirmed from it; the old one is told.
    EmailChanged {
        /// The user's id.
        user: String,
    },
    /// A mail could not be delivered after every attempt (see [`mail`](crate::mail)): the
    /// user's request is lost and they have to ask again. Names the kind of mail only.
    MailFailed {
        /// What the mail was (`"password_reset"`, ...).
        kind: &'static str,
    },
    /// A sign-in with a provider did not happen (see [`oidc`](crate::oidc)).
    ProviderSignInFailed {
        /// The provider's id in the app's configuration (`"unknown"` for an id that names
        /// none).
        provider: String,
        /// Why, as [`SignInFailure::as_str`](crate::oidc::SignInFailure::as_str) names it.
        reason: &'static str,
    },
    /// A provider account was linked to `user`.
    ProviderLinked {
        /// The user's id.
        user: String,
        /// The provider's id in the app's configuration.
        provider: String,
    },
    /// `user` unlinked their account at a provider.
    ProviderUnlinked {
        /// The user's id.
        user: String,
        /// The provider's id in the app's configuration.
        provider: String,
    },
    /// An API token was created for `user`.
    TokenCreated {
        /// The user's id.
        user: String,
        /// The token's id.
        token: String,
    },
    /// API tokens of `user` were revoked: one by its id, or all of them.
    TokensRevoked {
        /// The user's id.
        user: String,
        /// The revoked token's id; `None` when all of them were.
        token: Option<String>,
    },
}

/// Why a request's API token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenRefusal {
    /// Not a token: the wrong form, or a checksum that does not match (a typo, a cut).
    Malformed,
    /// A well-formed token the store does not hold: never issued, or revoked.
    Unknown,
    /// A token past its expiry.
    Expired,
    /// The token of a user who is gone or deactivated.
    InactiveUser,
    /// The request's address sent too many unknown tokens: refused without a lookup until
    /// the throttle's window ends.
    Throttled,
}

/// Why a request's CSRF token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsrfRefusal {
    /// The request carried no token: no header, no form field.
    Missing,
    /// What the request carried is not a token.
    Malformed,
    /// A token, but not of this browser's secret (another session's, an expired session's).
    Mismatch,
}

/// How a user logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginMethod {
    /// Credentials through [`AuthSession::login`](crate::AuthSession::login).
    Password,
    /// A second factor completed a login that was waiting for it.
    SecondFactor,
    /// A remember-me cookie.
    RememberMe,
    /// A passkey, without a password
    /// ([`AuthSession::login_with_passkey`](crate::AuthSession::login_with_passkey)).
    Passkey,
    /// A mailed sign-in link or code
    /// ([`Accounts::sign_in_with_link`](crate::accounts::Accounts::sign_in_with_link)).
    Email,
    /// The new password of a mailed reset link, when the app logs the user in after it
    /// ([`Accounts::log_in_after_reset`](crate::accounts::Accounts::log_in_after_reset)).
    PasswordReset,
    /// An OpenID Connect provider ([`Oidc::callback`](crate::oidc::Oidc::callback)).
    Provider,
}

/// A change to a user's second factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecondFactorChange {
    /// TOTP was enrolled and confirmed.
    TotpEnrolled,
    /// A passkey was registered.
    PasskeyAdded,
    /// A second factor was removed.
    Removed,
    /// A recovery code was used.
    RecoveryCodeUsed,
    /// New recovery codes replaced the old ones.
    RecoveryCodesRegenerated,
}

/// An event with where and when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// What happened.
    pub event: AuthEvent,
    /// The client's address, when the layer knows it.
    pub address: Option<IpAddr>,
    /// When, by the layer's clock.
    pub at: SystemTime,
}

/// Receives auth events. Implemented for closures `Fn(&EventRecord)` and for
/// `tokio::sync::mpsc::UnboundedSender<EventRecord>`.
pub trait AuthEvents: Send + Sync + 'static {
    /// Called once per event, on the request that caused it. Must not block.
    fn on_event(&self, record: &EventRecord);
}

impl<F: Fn(&EventRecord) + Send + Sync + 'static> AuthEvents for F {
    fn on_event(&self, record: &EventRecord) {
        self(record);
    }
}

impl AuthEvents for tokio::sync::mpsc::UnboundedSender<EventRecord> {
    fn on_event(&self, record: &EventRecord) {
        // A closed receiver means the app stopped listening: nothing to tell.
        let _ = self.send(record.clone());
    }
}

impl fmt::Display for AuthEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LoggedIn { user, method } => write!(f, "user {user} logged in ({method:?})"),
            Self::LoginFailed { reason, user } => match user {
                Some(user) => write!(f, "login of user {user} failed ({reason:?})"),
                None => write!(f, "login failed ({reason:?})"),
            },
            Self::Reauthenticated { user } => write!(f, "user {user} re-entered their password"),
            Self::ReauthenticationFailed { user } => {
                write!(f, "user {user} failed to re-enter their password")
            }
            Self::LoggedOut { user } => write!(f, "user {user} logged out"),
            Self::SessionEnded { user, entry } => {
                write!(f, "session {entry} of user {user} was ended")
            }
            Self::PasswordChanged { user } => write!(f, "user {user} changed their password"),
            Self::RememberUsed { user } => write!(f, "user {user} was remembered"),
            Self::RememberTheft { user } => write!(
                f,
                "a stolen remember-me cookie of user {user} came back; all their sessions ended"
            ),
            Self::SecondFactorCompleted { user } => {
                write!(f, "user {user} completed a second factor")
            }
            Self::SecondFactorLocked { user } => write!(
                f,
                "too many wrong second factors of user {user}: their second factor is locked"
            ),
            Self::SecondFactorChanged { user, change } => {
                write!(f, "second factor of user {user}: {change:?}")
            }
            Self::CsrfRefused { reason } => {
                write!(
                    f,
                    "refused a request without a valid CSRF token ({reason:?})"
                )
            }
            Self::TokenRefused { reason, token } => match token {
                Some(token) => write!(f, "refused API token {token} ({reason:?})"),
                None => write!(f, "refused an API token ({reason:?})"),
            },
            Self::PasswordReset { user } => {
                write!(f, "user {user} reset their password from a mailed link")
            }
            Self::SignedUp { user } => write!(f, "user {user} signed up"),
            Self::EmailVerified { user } => write!(f, "user {user} confirmed their address"),
            Self::EmailChanged { user } => write!(f, "user {user} changed their address"),
            Self::MailFailed { kind } => write!(f, "a {kind} mail could not be delivered"),
            Self::ProviderSignInFailed { provider, reason } => {
                write!(f, "a sign-in with provider {provider} failed ({reason})")
            }
            Self::ProviderLinked { user, provider } => {
                write!(f, "user {user} linked an account at provider {provider}")
            }
            Self::ProviderUnlinked { user, provider } => {
                write!(
                    f,
                    "user {user} unlinked their account at provider {provider}"
                )
            }
            Self::TokenCreated { user, token } => {
                write!(f, "user {user} created API token {token}")
            }
            Self::TokensRevoked { user, token } => match token {
                Some(token) => write!(f, "API token {token} of user {user} was revoked"),
                None => write!(f, "every API token of user {user} was revoked"),
            },
        }
    }
}
