//! Device cookies: a browser that logged in to an account before carries a signed cookie saying
//! so, and its attempts on that account are counted per device instead of against the account's
//! shared lock, so a stranger who locks the account out does not lock its owner out.

use std::time::{Duration, SystemTime};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use subtle::ConstantTimeEq;

use super::store::ThrottleKey;
use crate::security::SessionKey;

/// The label of the cookie's signature, so no other digest under the session key can pass
/// for one.
const LABEL: &str = "axum-login device cookie v1";

/// The most accounts one browser's cookie remembers; the least recently used goes first.
const MAX_ENTRIES: usize = 5;

const ENTRY_LEN: usize = 16 + 16 + 8;
const TAG_LEN: usize = 16;

/// One account this browser logged in to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Device {
    /// The account's throttle key.
    pub(crate) account: ThrottleKey,
    /// A random id for this browser, which its attempts are counted by.
    pub(crate) id: [u8; 16],
    /// When the cookie entry was written.
    pub(crate) issued: SystemTime,
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// The entries of a device cookie's value, if a key of the ring that verifies at `now` signed
/// it; anything else (tampered, truncated, another key's) is no cookie at all. One signed under
/// a previous key is signed again under the current one when it is next written (the next
/// login).
pub(crate) fn read(value: &str, key: &SessionKey, now: SystemTime) -> Vec<Device> {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(value.trim()) else {
        return Vec::new();
    };
    let Some((payload, tag)) = bytes.split_last_chunk::<TAG_LEN>() else {
        return Vec::new();
    };
    let signed = key
        .verifying(now)
        .any(|(key, _)| bool::from(key.tag(LABEL, &[payload])[..TAG_LEN].ct_eq(tag)));
    if !signed || payload.len() % ENTRY_LEN != 0 {
        return Vec::new();
    }
    payload
        .chunks_exact(ENTRY_LEN)
        .map(|entry| {
            let mut account = [0; 16];
            let mut id = [0; 16];
            let mut issued = [0; 8];
            account.copy_from_slice(&entry[..16]);
            id.copy_from_slice(&entry[16..32]);
            issued.copy_from_slice(&entry[32..]);
            Device {
                account: ThrottleKey(account),
                id,
                issued: SystemTime::UNIX_EPOCH + Duration::from_millis(u64::from_le_bytes(issued)),
            }
        })
        .collect()
}

/// The cookie value for `devices`, signed with `key`.
pub(crate) fn write(devices: &[Device], key: &SessionKey) -> String {
    let mut payload = Vec::with_capacity(devices.len() * ENTRY_LEN + TAG_LEN);
    for device in devices.iter().take(MAX_ENTRIES) {
        payload.extend_from_slice(device.account.as_bytes());
        payload.extend_from_slice(&device.id);
        payload.extend_from_slice(&millis(device.issued).to_le_bytes());
    }
    let tag = key.tag(LABEL, &[&payload]);
    payload.extend_from_slice(&tag[..TAG_LEN]);
    URL_SAFE_NO_PAD.encode(payload)
}

/// `devices` with `device` first, in place of any other entry for its account, and at most
/// [`MAX_ENTRIES`] in all.
pub(crate) fn with(mut devices: Vec<Device>, device: Device) -> Vec<Device> {
    devices.retain(|known| known.account != device.account);
    devices.insert(0, device);
    devices.truncate(MAX_ENTRIES);
    devices
}

/// A new random device id.
pub(crate) fn new_id() -> [u8; 16] {
    rand::random()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;

    fn device(n: u8) -> Device {
        Device {
            account: ThrottleKey([n; 16]),
            id: [n.wrapping_add(100); 16],
            issued: SystemTime::UNIX_EPOCH
                + Duration::from_millis(1_700_000_000_000 + u64::from(n)),
        }
    }

    #[test]
    fn a_cookie_reads_back_only_under_its_key_and_untouched() {
        let key = SessionKey::generate();
        let value = write(&[device(1), device(2)], &key);
        assert_eq!(read(&value, &key, NOW), [device(1), device(2)]);
        assert!(read(&value, &SessionKey::generate(), NOW).is_empty());
        let mut bytes = URL_SAFE_NO_PAD.decode(&value).expect("base64");
        bytes[3] ^= 1;
        assert!(read(&URL_SAFE_NO_PAD.encode(&bytes), &key, NOW).is_empty());
        assert!(read(&value[..value.len() - 4], &key, NOW).is_empty());
        assert!(read("", &key, NOW).is_empty());
        assert!(read("%%%", &key, NOW).is_empty());
    }

    #[test]
    fn a_cookie_signed_under_a_previous_key_reads_until_its_deadline() {
        let (old, new) = (SessionKey::generate(), SessionKey::generate());
        let value = write(&[device(1)], &old);
        let until = NOW + Duration::from_secs(60);
        let ring = new.with_previous(old, until);
        assert_eq!(read(&value, &ring, NOW), [device(1)]);
        assert!(read(&value, &ring, until).is_empty());
        // What the ring writes is the current key's.
        let rewritten = write(&[device(1)], &ring);
        assert_ne!(rewritten, value);
        assert_eq!(read(&rewritten, &ring, until), [device(1)]);
    }

    #[test]
    fn each_browser_gets_its_own_device_id() {
        // Attempts are counted per device id: two browsers sharing one would share a lock.
        assert_ne!(new_id(), new_id());
    }

    #[test]
    fn a_cookie_keeps_the_latest_entry_per_account_and_a_few_accounts() {
        let mut devices = Vec::new();
        for n in 0..8 {
            devices = with(devices, device(n));
        }
        assert_eq!(devices.len(), MAX_ENTRIES);
        assert_eq!(devices[0], device(7));
        let renewed = Device {
            issued: SystemTime::UNIX_EPOCH,
            ..device(5)
        };
        let devices = with(devices, renewed);
        assert_eq!(devices.len(), MAX_ENTRIES);
        assert_eq!(devices[0], renewed);
        assert_eq!(
            devices
                .iter()
                .filter(|d| d.account == renewed.account)
                .count(),
            1
        );
    }
}
