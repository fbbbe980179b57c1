//! Time-based one-time passwords (RFC 6238) over HMAC-SHA-1, on the `hmac` crate the session key
//! already uses, with the `sha1` digest: no second HMAC stack and no `totp-rs`.
//!
//! Everything here is pure: [`Totp`] holds the parameters and turns a [`TotpSecret`] and a time
//! into codes; [`Mfa`](super::Mfa) adds the store, the replay guard and the enrolment flow.

use std::{fmt, time::SystemTime};

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::MfaError;
use crate::clock::{Clock, unix_seconds};

/// The length of a secret from [`TotpSecret::generate`]: 160 bits, RFC 4226's recommendation
/// and what authenticator apps expect for SHA-1.
pub const SECRET_LEN: usize = 20;

/// The shortest secret [`TotpSecret::from_bytes`] accepts: RFC 4226's minimum of 128 bits.
pub const MIN_SECRET_LEN: usize = 16;

/// A TOTP shared secret, zeroed when dropped and redacted in `Debug`.
///
/// ```
/// use axum_login::mfa::TotpSecret;
/// use secrecy::ExposeSecret;
///
/// let secret = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
/// assert_eq!(secret.expose_secret(), b"12345678901234567890");
/// assert_eq!(secret.to_base32().expose_secret(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
/// assert_eq!(format!("{secret:?}"), "TotpSecret([redacted])");
/// ```
pub struct TotpSecret(SecretSlice<u8>);

impl TotpSecret {
    /// A new random secret of [`SECRET_LEN`] bytes from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes.into())
    }

    /// A secret from raw bytes, at least [`MIN_SECRET_LEN`] of them.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, MfaError> {
        let secret = SecretSlice::from(bytes);
        if secret.expose_secret().len() < MIN_SECRET_LEN {
            return Err(MfaError::SecretTooShort(secret.expose_secret().len()));
        }
        Ok(Self(secret))
    }

    /// A secret from its base32 text (RFC 4648, as in an `otpauth://` URI): letters in either
    /// case, padding and spaces allowed.
    pub fn from_base32(text: &str) -> Result<Self, MfaError> {
        let bytes = base32_decode(text).ok_or(MfaError::NotBase32)?;
        Self::from_bytes(bytes)
    }

    /// The secret as unpadded upper-case base32, for manual entry in an authenticator app.
    pub fn to_base32(&self) -> SecretString {
        base32_encode(self.0.expose_secret()).into()
    }
}

impl ExposeSecret<[u8]> for TotpSecret {
    fn expose_secret(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl Clone for TotpSecret {
    fn clone(&self) -> Self {
        Self(self.0.expose_secret().to_vec().into())
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

/// The TOTP parameters of an app: SHA-1, 6 digits, 30-second steps, codes of one step before and
/// after accepted (for clock drift and typing time), and the issuer name shown in authenticator
/// apps.
///
/// These are the defaults every authenticator app supports; keep them once users have enrolled,
/// since a stored secret does not record them.
///
/// ```
/// use axum_login::mfa::{Totp, TotpSecret};
///
/// let totp = Totp::new("Example");
/// let secret = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
/// // RFC 6238 appendix B, T = 59 s, 6 digits.
/// assert_eq!(totp.code_at_step(&secret, 1), "287082");
/// ```
#[derive(Debug, Clone)]
pub struct Totp {
    issuer: String,
    digits: u32,
    period: u64,
}

impl Totp {
    /// SHA-1, 6 digits, 30-second steps, under `issuer` (the app's name, shown by authenticator
    /// apps above the code).
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            digits: 6,
            period: 30,
        }
    }

    /// Codes of `digits` digits, 6 to 8 (out of range values are clamped). Some authenticator
    /// apps ignore anything but 6.
    pub fn digits(mut self, digits: u32) -> Self {
        self.digits = digits.clamp(6, 8);
        self
    }

    /// Steps of `seconds` seconds (at least 1). Some authenticator apps ignore anything but 30.
    pub fn period(mut self, seconds: u64) -> Self {
        self.period = seconds.max(1);
        self
    }

    /// The issuer name.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The time step that `time` falls in.
    pub fn step_at(&self, time: SystemTime) -> u64 {
        unix_seconds(time) / self.period
    }

    /// The code for time step `step` (RFC 4226's HOTP of the step counter).
    pub fn code_at_step(&self, secret: &TotpSecret, step: u64) -> String {
        let value = hotp(secret.expose_secret(), step, self.digits);
        format!("{value:0width$}", width = self.digits as usize)
    }

    /// The code for the current time of `clock`, as an authenticator app shows it.
    pub fn code(&self, secret: &TotpSecret, clock: &dyn Clock) -> String {
        self.code_at_step(secret, self.step_at(clock.now()))
    }

    /// The highest step within one of `now_step` whose code is `code`, among the steps after
    /// `after`; `Err(true)` when `code` is right only for a step at or before `after` (a
    /// replay), `Err(false)` when it is wrong.
    ///
    /// Every candidate is computed and compared in constant time, so the answer's timing says
    /// nothing about how much of the code was right.
    pub(crate) fn matching_step(
        &self,
        secret: &TotpSecret,
        code: &str,
        now_step: u64,
        after: Option<u64>,
    ) -> Result<u64, bool> {
        let Some(code) = normalize_code(code, self.digits) else {
            return Err(false);
        };
        let mut fresh = None;
        let mut replayed = false;
        for step in now_step.saturating_sub(1)..=now_step.saturating_add(1) {
            let expected = self.code_at_step(secret, step);
            let matches: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
            if matches {
                if after.is_some_and(|last| step <= last) {
                    replayed = true;
                } else {
                    fresh = Some(step);
                }
            }
        }
        fresh.ok_or(replayed)
    }

    /// The `otpauth://totp/` URI of `secret` for `account` (the user's login name, shown under
    /// the issuer), which authenticator apps read from a QR code (Google's Key Uri Format).
    ///
    /// ```
    /// use axum_login::mfa::{Totp, TotpSecret};
    /// use secrecy::ExposeSecret;
    ///
    /// let secret = TotpSecret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").unwrap();
    /// let uri = Totp::new("Acme Co").uri(&secret, "ferris@example.com");
    /// assert_eq!(
    ///     uri.expose_secret(),
    ///     "otpauth://totp/Acme%20Co:ferris%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Acme%20Co&algorithm=SHA1&digits=6&period=30"
    /// );
    /// ```
    pub fn uri(&self, secret: &TotpSecret, account: &str) -> SecretString {
        let issuer = utf8_percent_encode(&self.issuer, URI_COMPONENT);
        let account = utf8_percent_encode(account, URI_COMPONENT);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={}&period={}",
            base32_encode(secret.expose_secret()),
            self.digits,
            self.period,
        )
        .into()
    }
}

/// What percent-encoding leaves alone in a URI's label and query values: RFC 3986's unreserved
/// characters. A space becomes `%20`, which every app reads, where `+` is read as a plus by some.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `code` without the spaces or dashes people type into it, if it is then `digits` ASCII digits.
fn normalize_code(code: &str, digits: u32) -> Option<String> {
    let code: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (code.len() == digits as usize && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// RFC 4226 HOTP with HMAC-SHA-1: the dynamically truncated MAC of `counter`, modulo 10^digits.
pub(crate) fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        unreachable!("HMAC accepts keys of every length")
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32, upper case, without padding (as authenticator apps expect it).
pub(crate) fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[((buffer >> bits) & 31) as usize],
            ));
        }
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize],
        ));
    }
    out
}

/// RFC 4648 base32 in either case, ignoring spaces, dashes and trailing `=`; `None` for any other
/// character or for leftover bits that are not zero (a truncated or mistyped secret).
pub(crate) fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches(|c: char| c == '=' || c.is_whitespace());
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in text.chars() {
        if c.is_whitespace() || c == '-' {
            continue;
        }
        let upper = c.to_ascii_uppercase();
        let value = BASE32_ALPHABET
            .iter()
            .position(|&a| char::from(a) == upper)?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    (bits < 5 && buffer == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec()).expect("20 bytes")
    }

    #[test]
    fn rfc_6238_appendix_b_sha1_vectors() {
        let totp = Totp::new("RFC").digits(8);
        let secret = rfc_secret();
        for (time, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(time);
            assert_eq!(
                totp.code_at_step(&secret, totp.step_at(at)),
                code,
                "T = {time}"
            );
        }
    }

    #[test]
    fn rfc_4226_appendix_d_hotp_values() {
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (counter, value) in expected.into_iter().enumerate() {
            assert_eq!(hotp(b"12345678901234567890", counter as u64, 6), value);
        }
    }

    #[test]
    fn codes_follow_the_manual_clock() {
        let clock = ManualClock::new();
        let totp = Totp::new("App");
        let secret = TotpSecret::generate();
        let step = totp.step_at(clock.now());
        assert_eq!(totp.code(&secret, &clock), totp.code_at_step(&secret, step));
        clock.advance(Duration::from_secs(30));
        assert_eq!(
            totp.code(&secret, &clock),
            totp.code_at_step(&secret, step + 1)
        );
    }

    #[test]
    fn the_window_is_one_step_either_side() {
        let totp = Totp::new("App");
        let secret = TotpSecret::generate();
        let now: u64 = 1_000_000;
        for offset in [-1_i64, 0, 1] {
            let step = now.checked_add_signed(offset).expect("in range");
            let code = totp.code_at_step(&secret, step);
            assert_eq!(totp.matching_step(&secret, &code, now, None), Ok(step));
        }
        for step in [now - 2, now + 2] {
            let code = totp.code_at_step(&secret, step);
            // A code two steps away could collide with a near one by chance (1 in 10^6 each).
            if (now - 1..=now + 1).all(|near| totp.code_at_step(&secret, near) != code) {
                assert_eq!(totp.matching_step(&secret, &code, now, None), Err(false));
            }
        }
    }

    #[test]
    fn a_step_at_or_before_the_last_accepted_one_is_a_replay() {
        let totp = Totp::new("App");
        let secret = TotpSecret::generate();
        let now = 1_000_000;
        let code = totp.code_at_step(&secret, now);
        assert_eq!(
            totp.matching_step(&secret, &code, now, Some(now)),
            Err(true)
        );
        assert_eq!(
            totp.matching_step(&secret, &code, now, Some(now + 1)),
            Err(true)
        );
        assert_eq!(
            totp.matching_step(&secret, &code, now, Some(now - 1)),
            Ok(now)
        );
        let previous = totp.code_at_step(&secret, now - 1);
        assert_eq!(
            totp.matching_step(&secret, &previous, now, Some(now)),
            Err(true),
            "an older code is refused once a newer one was accepted"
        );
    }

    #[test]
    fn codes_are_normalised_and_anything_else_refused() {
        let totp = Totp::new("App");
        let secret = rfc_secret();
        assert_eq!(totp.matching_step(&secret, "287 082", 1, None), Ok(1));
        assert_eq!(totp.matching_step(&secret, " 287-082\n", 1, None), Ok(1));
        for wrong in ["", "28708", "2870820", "28708x", "２８７０８２", "287082 1"] {
            assert_eq!(
                totp.matching_step(&secret, wrong, 1, None),
                Err(false),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        for (plain, encoded) in [
            (&b""[..], ""),
            (b"f", "MY"),
            (b"fo", "MZXQ"),
            (b"foo", "MZXW6"),
            (b"foob", "MZXW6YQ"),
            (b"fooba", "MZXW6YTB"),
            (b"foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain), encoded);
            assert_eq!(base32_decode(encoded).as_deref(), Some(plain));
        }
        assert_eq!(
            base32_decode("mzxw6ytboi======").as_deref(),
            Some(&b"foobar"[..])
        );
        assert_eq!(
            base32_decode("MZXW 6YTB-OI").as_deref(),
            Some(&b"foobar"[..])
        );
        assert_eq!(base32_decode("MZXW1"), None, "1 is not base32");
        assert_eq!(base32_decode("MZ="), None, "leftover bits must be zero");
        let secret = TotpSecret::generate();
        assert_eq!(
            TotpSecret::from_base32(secret.to_base32().expose_secret())
                .expect("round trip")
                .expose_secret(),
            secret.expose_secret()
        );
    }

    #[test]
    fn short_or_malformed_secrets_are_refused() {
        assert!(matches!(
            TotpSecret::from_bytes(vec![1; 15]),
            Err(MfaError::SecretTooShort(15))
        ));
        assert!(matches!(
            TotpSecret::from_base32("not base32!"),
            Err(MfaError::NotBase32)
        ));
        assert_eq!(TotpSecret::generate().expose_secret().len(), SECRET_LEN);
    }

    #[test]
    fn the_uri_carries_every_parameter() {
        let secret = rfc_secret();
        let uri = Totp::new("Acme & Co")
            .digits(8)
            .period(60)
            .uri(&secret, "a:b c");
        assert_eq!(
            uri.expose_secret(),
            "otpauth://totp/Acme%20%26%20Co:a%3Ab%20c?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20%26%20Co&algorithm=SHA1&digits=8&period=60"
        );
    }
}
