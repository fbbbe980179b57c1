//! The form of a token's secret: `alt_`, 40 random characters and a 6-character checksum.
//!
//! The fixed prefix lets secret scanners (GitHub's, a pre-commit hook) recognise a leaked token;
//! the checksum lets the layer refuse a mistyped or truncated token without asking the store,
//! and a scanner tell a token from random text. Both are alphanumeric, so a double click selects
//! the whole token.

use rand::{Rng as _, distributions::Alphanumeric};

/// The prefix of every token.
pub(crate) const PREFIX: &str = "alt_";
/// Random characters after the prefix: 40 of 62 symbols, about 238 bits.
const RANDOM_LEN: usize = 40;
/// The checksum's characters: CRC-32 of the random part in base 62.
const CHECKSUM_LEN: usize = 6;
/// A token's length.
pub(crate) const LEN: usize = PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new token secret.
pub(crate) fn generate() -> String {
    let random: String = rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(RANDOM_LEN)
        .map(char::from)
        .collect();
    let checksum = checksum(random.as_bytes());
    format!("{PREFIX}{random}{checksum}")
}

/// Whether `text` has the form of a token and its checksum matches: no store is asked about
/// anything else.
pub(crate) fn well_formed(text: &str) -> bool {
    if text.len() != LEN {
        return false;
    }
    let Some(body) = text.strip_prefix(PREFIX) else {
        return false;
    };
    if !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (random, check) = body.split_at(RANDOM_LEN);
    checksum(random.as_bytes()) == check
}

/// CRC-32 (IEEE) of `bytes` in base 62, six characters, most significant first.
fn checksum(bytes: &[u8]) -> String {
    let mut value = crc32(bytes);
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// CRC-32 with the IEEE polynomial, bit by bit: a token is 40 bytes, so a table buys nothing.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_ieee_one() {
        // The check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn generated_tokens_are_well_formed_and_distinct() {
        let token = generate();
        assert_eq!(token.len(), LEN);
        assert!(token.starts_with("alt_"));
        assert!(well_formed(&token));
        assert_ne!(generate(), token);
    }

    #[test]
    fn a_typo_or_a_cut_fails_the_checksum() {
        let token = generate();
        // Every single-character substitution in the random part or the checksum is caught.
        for index in PREFIX.len()..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[index] = if bytes[index] == b'a' { b'b' } else { b'a' };
            let typo = String::from_utf8(bytes).expect("ASCII");
            assert!(!well_formed(&typo), "{typo}");
        }
        assert!(!well_formed(&token[..token.len() - 1]));
        assert!(!well_formed(&format!("{token}x")));
        assert!(!well_formed(&token.replacen("alt_", "alx_", 1)));
        assert!(!well_formed(""));
        assert!(!well_formed("alt_"));
        let non_ascii = format!("{}é", &token[..token.len() - 2]);
        assert!(!well_formed(&non_ascii));
    }
}
