//! What the Redis stores share: how they write times.

use std::time::SystemTime;

use crate::clock::to_millis;

/// A time as the scripts take it: milliseconds since the Unix epoch, in decimal.
pub(crate) fn millis_text(time: SystemTime) -> String {
    to_millis(time).to_string()
}
