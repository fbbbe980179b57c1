//! What protects a login beyond the password: the server key for session digests, the check
//! that login and logout come from this site, the throttle on failed logins, and the validation
//! of `next`.

mod key;
mod next;
mod origin;
mod throttle;

#[allow(unused_imports)] // For the accounts folder, which a build may leave out.
pub(crate) use self::throttle::MailScope;
#[cfg(feature = "redis")]
pub use self::throttle::RedisThrottleStore;
#[cfg(feature = "sqlx")]
pub use self::throttle::SqlxThrottleStore;
#[allow(unused_imports)] // For the API tokens folder, which a build may leave out.
pub(crate) use self::throttle::address_group;
pub(crate) use self::throttle::{AttemptInput, Gate, SecondFactorGate, printable, revoke_devices};
pub(crate) use self::{
    key::{Keyed, Verified},
    next::login_location,
    origin::{RequestOrigin, Scheme, cookie_of},
};
pub use self::{
    key::{MIN_KEY_LEN, SessionKey, SessionKeyError},
    next::{MAX_NEXT_LEN, safe_next},
    throttle::{
        Ended, MemoryThrottleStore, Outcome, Reservation, Revocation, Rule, Throttle, ThrottleKey,
        ThrottleStore, Verdict,
    },
};
