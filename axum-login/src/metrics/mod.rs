//! Metrics (feature `metrics`): counters of what happens to logins, the time password
//! verification takes, and the time of store calls, through the
//! [`metrics`](https://docs.rs/metrics) facade.
//!
//! Register them with [`AuthLayerBuilder::metrics`]; the app installs the exporter it wants
//! (Prometheus, StatsD, OpenTelemetry, ...) as the `metrics` recorder, before building the
//! layer so that every series is there, at zero, from the start. Without a recorder every
//! call is a no-op.
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `axum_login_logins_total` | counter | `method`: `password`, `second_factor`, `remember_me`, `passkey`, `password_reset`, `email`, `provider` | completed logins |
//! | `axum_login_login_failures_total` | counter | `reason`: `wrong_credentials`, `throttled`, `inactive`, `second_factor` | failed login attempts (an unknown user and a wrong password are one reason, as for the visitor) |
//! | `axum_login_throttled_total` | counter | none | login attempts the throttle refused before any check (also counted as failures with `reason="throttled"`) |
//! | `axum_login_second_factor_total` | counter | `result`: `success`, `failure`, `locked` | second factors completed (a login or a step-up), refused, and locks after too many failures |
//! | `axum_login_remember_me_uses_total` | counter | none | browsers logged in again by their remember-me cookie |
//! | `axum_login_remember_me_thefts_total` | counter | none | replaced remember-me cookies that came back (a copy was stolen; the user's sessions all ended) |
//! | `axum_login_sessions_ended_total` | counter | `cause`: `logout`, `ended` | logouts, and sessions ended through the session registry (by their user or an admin) |
//! | `axum_login_reauthentications_total` | counter | `result`: `success`, `failure` | passwords entered again (a password change, a step-up) |
//! | `axum_login_password_changes_total` | counter | none | passwords changed |
//! | `axum_login_password_resets_total` | counter | none | passwords set from a mailed reset link (feature `accounts`) |
//! | `axum_login_sign_ups_total` | counter | none | accounts created by sign-up (feature `accounts`) |
//! | `axum_login_emails_verified_total` | counter | none | addresses confirmed with a mailed link (feature `accounts`) |
//! | `axum_login_mail_failures_total` | counter | `kind`: `password_reset`, `verify_email`, `already_registered`, `sign_in`, `change_email`, `email_changed` | mails given up after every attempt (feature `accounts`): the user has to ask again |
//! | `axum_login_provider_sign_in_failures_total` | counter | `reason`: `unknown_provider`, `denied`, `invalid_state`, `expired`, `mix_up`, `unreachable`, `token_refused`, `invalid_id_token`, `invalid_user_info`, `no_account`, `email_not_verified`, `linked_elsewhere`, `provider_already_linked`, `not_logged_in`, `wrong_password`, `inactive` | sign-ins with an OpenID Connect provider that did not happen (feature `oidc`; see [`SignInFailure`](crate::oidc::SignInFailure)) |
//! | `axum_login_second_factor_changes_total` | counter | `change`: `totp_enrolled`, `passkey_added`, `removed`, `recovery_code_used`, `recovery_codes_regenerated` | changes to second factors the app reported |
//! | `axum_login_csrf_refusals_total` | counter | `reason`: `missing`, `malformed`, `mismatch` | unsafe requests [`CsrfLayer`](crate::csrf::CsrfLayer) refused: no token, not a token, another browser's token |
//! | `axum_login_token_refusals_total` | counter | `reason`: `malformed`, `unknown`, `expired`, `inactive_user`, `throttled` | API tokens refused (feature `tokens`): not a token, not held (never issued or revoked), expired, of a deactivated user, from an address that sent too many unknown ones |
//! | `axum_login_password_verify_seconds` | histogram | none | the time of one password verification (argon2, feature `password`: `SqlxStore`, `verify_password`) on the password threads, the wait in their queue excluded; unknown users too |
//! | `axum_login_store_call_seconds` | histogram | `store`: `users`, `sessions`, `registry`, `remember_me`, `throttle`, `second_factors`, `api_tokens`; `call`: the trait method; `outcome`: `ok`, `error`, `cancelled` | the time of one call of a store wrapped in [`Timed`] |
//!
//! Every label takes one of the values listed: none carries a user, an address or anything
//! else a visitor controls, so the number of series is fixed.
//!
//! The counters are read from the layer's [auth events](crate::events), so they count what
//! the events report, on every layer built with `.metrics()`. The password histogram is
//! process-wide (the password threads are shared by every layer) and recorded whenever the
//! feature is on, `.metrics()` or not.
//!
//! Store calls are timed only for the stores the app wraps in [`Timed`] (any of the user
//! store, the session store, the registry, remember-me, throttle and second-factor stores):
//! the layer holds its stores behind its own types and the core has no clock around their
//! calls, so timing is the app's choice, store by store.
//!
//! **Not measured:** sessions the core ended on its own (an absolute or idle timeout, a
//! password changed elsewhere), which report no event; calls of stores not wrapped in
//! [`Timed`], and of the passkey store; the wait of a login for the password threads.
//!
//! ```
//! use axum_login::{AuthLayer, session::MemoryStore, session_layer};
//! # use axum_login::{AuthUser, UserStore};
//! # #[derive(Clone)] struct User;
//! # impl AuthUser for User { type Id = u64; fn id(&self) -> u64 { 1 } fn session_auth_hash(&self) -> &[u8] { b"" } }
//! # #[derive(Clone)] struct MyStore;
//! # impl UserStore for MyStore {
//! #     type User = User; type Credentials = (); type Error = std::convert::Infallible;
//! #     async fn authenticate(&self, _: ()) -> Result<Option<User>, Self::Error> { Ok(None) }
//! #     async fn load_user(&self, _: &u64) -> Result<Option<User>, Self::Error> { Ok(None) }
//! # }
//!
//! // Install the app's recorder first (e.g. metrics-exporter-prometheus), then:
//! let layer = AuthLayer::builder(MyStore, session_layer(MemoryStore::default()))
//!     .metrics()
//!     .build();
//! # let _ = layer;
//! ```
//!
//! [`AuthLayerBuilder::metrics`]: crate::layer::AuthLayerBuilder::metrics

mod timed;

use std::any::Any;

use ::metrics::{Unit, counter, describe_counter, describe_histogram};
use tower_sessions::{SessionStore, service::CookieController};

pub use self::timed::{STORE_CALL_SECONDS, Timed};
use crate::{
    UserStore,
    events::{
        AuthEvent, CsrfRefusal, EventRecord, LoginFailure, LoginMethod, SecondFactorChange,
        TokenRefusal,
    },
    layer::AuthLayerBuilder,
    login::Feature,
};

/// Completed logins, by `method`.
pub const LOGINS: &str = "axum_login_logins_total";
/// Failed login attempts, by `reason`.
pub const LOGIN_FAILURES: &str = "axum_login_login_failures_total";
/// Login attempts the throttle refused.
pub const THROTTLED: &str = "axum_login_throttled_total";
/// Second factors, by `result`.
pub const SECOND_FACTOR: &str = "axum_login_second_factor_total";
/// Remember-me logins.
pub const REMEMBER_ME_USES: &str = "axum_login_remember_me_uses_total";
/// Stolen remember-me cookies that came back.
pub const REMEMBER_ME_THEFTS: &str = "axum_login_remember_me_thefts_total";
/// Logouts and sessions ended through the registry, by `cause`.
pub const SESSIONS_ENDED: &str = "axum_login_sessions_ended_total";
/// Passwords entered again, by `result`.
pub const REAUTHENTICATIONS: &str = "axum_login_reauthentications_total";
/// Passwords changed.
pub const PASSWORD_CHANGES: &str = "axum_login_password_changes_total";
/// Passwords set from a mailed reset link.
pub const PASSWORD_RESETS: &str = "axum_login_password_resets_total";
/// Accounts created by sign-up.
pub const SIGN_UPS: &str = "axum_login_sign_ups_total";
/// Addresses confirmed with a mailed link.
pub const EMAILS_VERIFIED: &str = "axum_login_emails_verified_total";
/// Mails given up after every attempt, by `kind`.
pub const MAIL_FAILURES: &str = "axum_login_mail_failures_total";
/// Provider sign-ins that did not happen, by `reason`.
pub const PROVIDER_FAILURES: &str = "axum_login_provider_sign_in_failures_total";
/// Changes to second factors, by `change`.
pub const SECOND_FACTOR_CHANGES: &str = "axum_login_second_factor_changes_total";
/// Requests the CSRF check refused, by `reason`.
pub const CSRF_REFUSALS: &str = "axum_login_csrf_refusals_total";
/// API tokens refused, by `reason`.
pub const TOKEN_REFUSALS: &str = "axum_login_token_refusals_total";
/// The time of one password verification, in seconds (with feature `password`).
#[cfg(feature = "password")]
pub const PASSWORD_VERIFY_SECONDS: &str = crate::password::VERIFY_SECONDS;

impl<S: UserStore, SS: SessionStore, C: CookieController> AuthLayerBuilder<S, SS, C> {
    /// Records the layer's [auth events](crate::events) as counters through the `metrics`
    /// facade (feature `metrics`; see [`metrics`](crate::metrics) for the names). Default:
    /// none.
    ///
    /// Describes every metric to the installed recorder and sets each series to zero if it
    /// is not there yet, so a dashboard sees `0`, not a missing series, before the first
    /// login: install the recorder before calling this.
    pub fn metrics(self) -> Self {
        describe();
        self.feature(Metrics)
    }
}

/// The metrics as a feature of the layer: it hears every event.
struct Metrics;

impl Feature for Metrics {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn event(&self, record: &EventRecord) {
        record_event(&record.event);
    }
}

fn record_event(event: &AuthEvent) {
    match event {
        AuthEvent::LoggedIn { method, .. } => {
            counter!(LOGINS, "method" => method_label(*method)).increment(1);
            if *method == LoginMethod::SecondFactor {
                counter!(SECOND_FACTOR, "result" => "success").increment(1);
            }
        }
        AuthEvent::LoginFailed { reason, .. } => {
            counter!(LOGIN_FAILURES, "reason" => failure_label(*reason)).increment(1);
            match reason {
                LoginFailure::Throttled => counter!(THROTTLED).increment(1),
                LoginFailure::SecondFactor => {
                    counter!(SECOND_FACTOR, "result" => "failure").increment(1);
                }
                LoginFailure::WrongCredentials | LoginFailure::Inactive => {}
            }
        }
        AuthEvent::Reauthenticated { .. } => {
            counter!(REAUTHENTICATIONS, "result" => "success").increment(1);
        }
        AuthEvent::ReauthenticationFailed { .. } => {
            counter!(REAUTHENTICATIONS, "result" => "failure").increment(1);
        }
        AuthEvent::LoggedOut { .. } => {
            counter!(SESSIONS_ENDED, "cause" => "logout").increment(1);
        }
        AuthEvent::SessionEnded { .. } => {
            counter!(SESSIONS_ENDED, "cause" => "ended").increment(1);
        }
        AuthEvent::PasswordChanged { .. } => counter!(PASSWORD_CHANGES).increment(1),
        AuthEvent::PasswordReset { .. } => counter!(PASSWORD_RESETS).increment(1),
        // The kind is one of the crate's fixed labels, never user data.
        AuthEvent::MailFailed { kind } => counter!(MAIL_FAILURES, "kind" => *kind).increment(1),
        AuthEvent::RememberUsed { .. } => counter!(REMEMBER_ME_USES).increment(1),
        AuthEvent::RememberTheft { .. } => counter!(REMEMBER_ME_THEFTS).increment(1),
        AuthEvent::SecondFactorCompleted { .. } => {
            counter!(SECOND_FACTOR, "result" => "success").increment(1);
        }
        AuthEvent::SecondFactorLocked { .. } => {
            counter!(SECOND_FACTOR, "result" => "locked").increment(1);
        }
        AuthEvent::SecondFactorChanged { change, .. } => {
            counter!(SECOND_FACTOR_CHANGES, "change" => change_label(*change)).increment(1);
        }
        AuthEvent::CsrfRefused { reason } => {
            counter!(CSRF_REFUSALS, "reason" => csrf_label(*reason)).increment(1);
        }
        AuthEvent::TokenRefused { reason, .. } => {
            counter!(TOKEN_REFUSALS, "reason" => token_label(*reason)).increment(1);
        }
        AuthEvent::SignedUp { .. } => counter!(SIGN_UPS).increment(1),
        AuthEvent::EmailVerified { .. } => counter!(EMAILS_VERIFIED).increment(1),
        // The reason is one of the crate's fixed names, never the provider's text.
        AuthEvent::ProviderSignInFailed { reason, .. } => {
            counter!(PROVIDER_FAILURES, "reason" => *reason).increment(1);
        }
        AuthEvent::TokenCreated { .. }
        | AuthEvent::TokensRevoked { .. }
        | AuthEvent::EmailChanged { .. }
        | AuthEvent::ProviderLinked { .. }
        | AuthEvent::ProviderUnlinked { .. } => {}
    }
}

/// Every method, reason and change, for the series set to zero at start.
const METHODS: [LoginMethod; 7] = [
    LoginMethod::Password,
    LoginMethod::SecondFactor,
    LoginMethod::RememberMe,
    LoginMethod::Passkey,
    LoginMethod::PasswordReset,
    LoginMethod::Email,
    LoginMethod::Provider,
];
const FAILURES: [LoginFailure; 4] = [
    LoginFailure::WrongCredentials,
    LoginFailure::Throttled,
    LoginFailure::Inactive,
    LoginFailure::SecondFactor,
];
const TOKEN_REFUSAL_REASONS: [TokenRefusal; 5] = [
    TokenRefusal::Malformed,
    TokenRefusal::Unknown,
    TokenRefusal::Expired,
    TokenRefusal::InactiveUser,
    TokenRefusal::Throttled,
];
const CSRF_REFUSAL_REASONS: [CsrfRefusal; 3] = [
    CsrfRefusal::Missing,
    CsrfRefusal::Malformed,
    CsrfRefusal::Mismatch,
];
const CHANGES: [SecondFactorChange; 5] = [
    SecondFactorChange::TotpEnrolled,
    SecondFactorChange::PasskeyAdded,
    SecondFactorChange::Removed,
    SecondFactorChange::RecoveryCodeUsed,
    SecondFactorChange::RecoveryCodesRegenerated,
];

// The matches below name every variant: a new one fails to compile here until it has a label.
fn method_label(method: LoginMethod) -> &'static str {
    match method {
        LoginMethod::Password => "password",
        LoginMethod::SecondFactor => "second_factor",
        LoginMethod::RememberMe => "remember_me",
        LoginMethod::Passkey => "passkey",
        LoginMethod::PasswordReset => "password_reset",
        LoginMethod::Email => "email",
        LoginMethod::Provider => "provider",
    }
}

fn failure_label(reason: LoginFailure) -> &'static str {
    match reason {
        LoginFailure::WrongCredentials => "wrong_credentials",
        LoginFailure::Throttled => "throttled",
        LoginFailure::Inactive => "inactive",
        LoginFailure::SecondFactor => "second_factor",
    }
}

fn csrf_label(reason: CsrfRefusal) -> &'static str {
    match reason {
        CsrfRefusal::Missing => "missing",
        CsrfRefusal::Malformed => "malformed",
        CsrfRefusal::Mismatch => "mismatch",
    }
}

fn token_label(reason: TokenRefusal) -> &'static str {
    match reason {
        TokenRefusal::Malformed => "malformed",
        TokenRefusal::Unknown => "unknown",
        TokenRefusal::Expired => "expired",
        TokenRefusal::InactiveUser => "inactive_user",
        TokenRefusal::Throttled => "throttled",
    }
}

fn change_label(change: SecondFactorChange) -> &'static str {
    match change {
        SecondFactorChange::TotpEnrolled => "totp_enrolled",
        SecondFactorChange::PasskeyAdded => "passkey_added",
        SecondFactorChange::Removed => "removed",
        SecondFactorChange::RecoveryCodeUsed => "recovery_code_used",
        SecondFactorChange::RecoveryCodesRegenerated => "recovery_codes_regenerated",
    }
}

/// Describes every metric to the recorder and registers each series at zero.
fn describe() {
    describe_counter!(LOGINS, Unit::Count, "Completed logins, by method.");
    describe_counter!(
        LOGIN_FAILURES,
        Unit::Count,
        "Failed login attempts, by reason."
    );
    describe_counter!(
        THROTTLED,
        Unit::Count,
        "Login attempts the throttle refused before any check."
    );
    describe_counter!(
        SECOND_FACTOR,
        Unit::Count,
        "Second factors completed, refused, and locked."
    );
    describe_counter!(
        REMEMBER_ME_USES,
        Unit::Count,
        "Browsers logged in again by their remember-me cookie."
    );
    describe_counter!(
        REMEMBER_ME_THEFTS,
        Unit::Count,
        "Replaced remember-me cookies that came back (stolen copies)."
    );
    describe_counter!(
        SESSIONS_ENDED,
        Unit::Count,
        "Logouts, and sessions ended through the session registry."
    );
    describe_counter!(
        REAUTHENTICATIONS,
        Unit::Count,
        "Passwords entered again, by result."
    );
    describe_counter!(PASSWORD_CHANGES, Unit::Count, "Passwords changed.");
    describe_counter!(
        PASSWORD_RESETS,
        Unit::Count,
        "Passwords set from a mailed reset link."
    );
    describe_counter!(SIGN_UPS, Unit::Count, "Accounts created by sign-up.");
    describe_counter!(
        EMAILS_VERIFIED,
        Unit::Count,
        "Addresses confirmed with a mailed link."
    );
    describe_counter!(
        MAIL_FAILURES,
        Unit::Count,
        "Mails given up after every attempt, by kind."
    );
    describe_counter!(
        PROVIDER_FAILURES,
        Unit::Count,
        "Sign-ins with an OpenID Connect provider that did not happen, by reason."
    );
    describe_counter!(
        SECOND_FACTOR_CHANGES,
        Unit::Count,
        "Changes to second factors, by change."
    );
    describe_counter!(
        CSRF_REFUSALS,
        Unit::Count,
        "Unsafe requests the CSRF check refused, by reason."
    );
    describe_counter!(
        TOKEN_REFUSALS,
        Unit::Count,
        "API tokens refused, by reason."
    );
    #[cfg(feature = "password")]
    describe_histogram!(
        PASSWORD_VERIFY_SECONDS,
        Unit::Seconds,
        "Time of one password verification on the password threads."
    );
    describe_histogram!(
        STORE_CALL_SECONDS,
        Unit::Seconds,
        "Time of one call of a store wrapped in Timed, by store, call and outcome."
    );
    for method in METHODS {
        counter!(LOGINS, "method" => method_label(method)).increment(0);
    }
    for reason in FAILURES {
        counter!(LOGIN_FAILURES, "reason" => failure_label(reason)).increment(0);
    }
    for reason in CSRF_REFUSAL_REASONS {
        counter!(CSRF_REFUSALS, "reason" => csrf_label(reason)).increment(0);
    }
    for reason in TOKEN_REFUSAL_REASONS {
        counter!(TOKEN_REFUSALS, "reason" => token_label(reason)).increment(0);
    }
    for result in ["success", "failure", "locked"] {
        counter!(SECOND_FACTOR, "result" => result).increment(0);
    }
    for cause in ["logout", "ended"] {
        counter!(SESSIONS_ENDED, "cause" => cause).increment(0);
    }
    for result in ["success", "failure"] {
        counter!(REAUTHENTICATIONS, "result" => result).increment(0);
    }
    for change in CHANGES {
        counter!(SECOND_FACTOR_CHANGES, "change" => change_label(change)).increment(0);
    }
    for name in [
        THROTTLED,
        REMEMBER_ME_USES,
        REMEMBER_ME_THEFTS,
        PASSWORD_CHANGES,
        PASSWORD_RESETS,
        SIGN_UPS,
        EMAILS_VERIFIED,
    ] {
        counter!(name).increment(0);
    }
    for kind in [
        "password_reset",
        "verify_email",
        "already_registered",
        "sign_in",
        "change_email",
        "email_changed",
    ] {
        counter!(MAIL_FAILURES, "kind" => kind).increment(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_is_snake_case_and_bounded() {
        let labels = METHODS
            .map(method_label)
            .into_iter()
            .chain(FAILURES.map(failure_label))
            .chain(CHANGES.map(change_label));
        for label in labels {
            assert!(
                !label.is_empty() && label.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{label}"
            );
        }
    }
}
