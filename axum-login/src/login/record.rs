//! The login a session holds: the user's id and a keyed digest, never the password hash.

use serde::{
    Deserialize, Serialize,
    de::{self, SeqAccess, Visitor},
    ser::SerializeTuple,
};

/// The session key under which the login is kept.
pub(crate) const SESSION_KEY: &str = "axum_login.auth";

/// What the session holds about a login: never the password hash, only a keyed digest of it.
///
/// Kept as a JSON array, `[id, digest, at, seen, second_factor_at, entry, remembered]`, not an
/// object: tower-sessions hands out a clone of the stored value on every read, and an array
/// clones and decodes without the key strings an object would allocate and compare, on the
/// path of every guarded request. The fields after `seen` may be missing (a record written
/// before they existed reads as none of them set).
#[derive(Debug, Clone)]
pub(crate) struct LoginRecord<Id> {
    /// The user's id.
    pub(crate) user_id: Id,
    /// HMAC-SHA256 of the user's `session_auth_hash` under the layer's key.
    pub(crate) digest: String,
    /// When the user logged in, in Unix seconds.
    pub(crate) login_at: u64,
    /// When the session was last used, in Unix seconds, kept only with an idle timeout or a
    /// session registry, and updated at most every tenth of the one and every interval of the
    /// other.
    pub(crate) seen: Option<u64>,
    /// When a second factor was last completed on this session, in Unix seconds.
    pub(crate) second_factor_at: Option<u64>,
    /// The session's entry in the session registry.
    pub(crate) entry: Option<String>,
    /// Whether the login came from a remember-me cookie (never fresh).
    pub(crate) remembered: bool,
}

impl<Id: Serialize> Serialize for LoginRecord<Id> {
    fn serialize<Ser: serde::Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        // Trailing fields that are unset are left out, so the usual record stays four long.
        let len = if self.remembered {
            7
        } else if self.entry.is_some() {
            6
        } else if self.second_factor_at.is_some() {
            5
        } else {
            4
        };
        let mut tuple = serializer.serialize_tuple(len)?;
        tuple.serialize_element(&self.user_id)?;
        tuple.serialize_element(&self.digest)?;
        tuple.serialize_element(&self.login_at)?;
        tuple.serialize_element(&self.seen)?;
        if len > 4 {
            tuple.serialize_element(&self.second_factor_at)?;
        }
        if len > 5 {
            tuple.serialize_element(&self.entry)?;
        }
        if len > 6 {
            tuple.serialize_element(&self.remembered)?;
        }
        tuple.end()
    }
}

impl<'de, Id: Deserialize<'de>> Deserialize<'de> for LoginRecord<Id> {
    fn deserialize<De: serde::Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        struct RecordVisitor<Id>(std::marker::PhantomData<Id>);

        impl<'de, Id: Deserialize<'de>> Visitor<'de> for RecordVisitor<Id> {
            type Value = LoginRecord<Id>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a login record: [id, digest, login time, last seen, ...]")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let missing = |index| de::Error::invalid_length(index, &self);
                let user_id = seq.next_element()?.ok_or_else(|| missing(0))?;
                let digest = seq.next_element()?.ok_or_else(|| missing(1))?;
                let login_at = seq.next_element()?.ok_or_else(|| missing(2))?;
                let seen = seq.next_element()?.ok_or_else(|| missing(3))?;
                let second_factor_at = seq.next_element()?.unwrap_or_default();
                let entry = seq.next_element()?.unwrap_or_default();
                let remembered = seq.next_element()?.unwrap_or_default();
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(8, &self));
                }
                Ok(LoginRecord {
                    user_id,
                    digest,
                    login_at,
                    seen,
                    second_factor_at,
                    entry,
                    remembered,
                })
            }
        }

        deserializer.deserialize_seq(RecordVisitor(std::marker::PhantomData))
    }
}

impl<Id: serde::de::DeserializeOwned> LoginRecord<Id> {
    /// The record kept in a session as `value`, or why `value` is not one.
    pub(crate) fn from_value(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> LoginRecord<u64> {
        LoginRecord {
            user_id: 7,
            digest: "d".to_owned(),
            login_at: 100,
            seen: None,
            second_factor_at: None,
            entry: None,
            remembered: false,
        }
    }

    #[test]
    fn a_plain_record_is_four_long_and_every_field_round_trips() {
        assert_eq!(
            serde_json::to_value(record()).expect("serializes"),
            serde_json::json!([7, "d", 100, null])
        );
        let full = LoginRecord {
            seen: Some(101),
            second_factor_at: Some(102),
            entry: Some("e".to_owned()),
            remembered: true,
            ..record()
        };
        let value = serde_json::to_value(&full).expect("serializes");
        assert_eq!(value, serde_json::json!([7, "d", 100, 101, 102, "e", true]));
        let back: LoginRecord<u64> = LoginRecord::from_value(value).expect("reads back");
        assert_eq!(back.second_factor_at, Some(102));
        assert_eq!(back.entry.as_deref(), Some("e"));
        assert!(back.remembered);
    }

    #[test]
    fn short_long_and_odd_records_are_refused() {
        for bad in [
            serde_json::json!([7, "d", 100]),
            serde_json::json!([7, "d", 100, null, null, null, false, 1]),
            serde_json::json!({"user_id": 7}),
            serde_json::json!([7, "d", "soon", null]),
        ] {
            assert!(
                LoginRecord::<u64>::from_value(bad.clone()).is_err(),
                "{bad}"
            );
        }
        let entry_only = serde_json::json!([7, "d", 100, null, null, "e"]);
        let read: LoginRecord<u64> = LoginRecord::from_value(entry_only).expect("reads");
        assert_eq!(read.entry.as_deref(), Some("e"));
    }
}
