//! The login a session holds: the user's id and a keyed digest, never the password hash.

use serde::{Deserialize, Serialize};

/// The session key under which the login is kept.
pub(crate) const SESSION_KEY: &str = "axum_login.auth";

/// What the session holds about a login: never the password hash, only a keyed digest of it.
///
/// Kept as a JSON array, `[id, digest, at, seen]`, not an object: tower-sessions hands out a
/// clone of the stored value on every read, and an array clones and decodes without the four
/// key strings an object would allocate and compare, on the path of every guarded request.
#[derive(Debug)]
pub(crate) struct LoginRecord<Id> {
    /// The user's id.
    pub(crate) user_id: Id,
    /// HMAC-SHA256 of the user's `session_auth_hash` under the layer's key.
    pub(crate) digest: String,
    /// When the user logged in, in Unix seconds.
    pub(crate) login_at: u64,
    /// When the session was last used, in Unix seconds, kept only with an idle timeout and
    /// updated at most every tenth of it.
    pub(crate) seen: Option<u64>,
}

impl<Id: Serialize> Serialize for LoginRecord<Id> {
    fn serialize<Ser: serde::Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        (&self.user_id, &self.digest, self.login_at, self.seen).serialize(serializer)
    }
}

impl<'de, Id: Deserialize<'de>> Deserialize<'de> for LoginRecord<Id> {
    fn deserialize<De: serde::Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        let (user_id, digest, login_at, seen) = Deserialize::deserialize(deserializer)?;
        Ok(Self {
            user_id,
            digest,
            login_at,
            seen,
        })
    }
}

impl<Id: serde::de::DeserializeOwned> LoginRecord<Id> {
    /// The record kept in a session as `value`, or why `value` is not one.
    pub(crate) fn from_value(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value)
    }
}
