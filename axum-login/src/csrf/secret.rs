//! The browser's CSRF secret and the tokens made from it: each token is the secret masked with a
//! fresh random pad, so no two pages carry the same bytes (a compressed response cannot be
//! probed for the secret, BREACH), and every token of one secret is accepted.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use subtle::ConstantTimeEq;

/// The length of a secret, and of a token's pad.
const LEN: usize = 32;

/// Each byte's value as a digit of URL-safe base64, or [`NOT_A_DIGIT`].
const DIGITS: [u8; 256] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut digits = [NOT_A_DIGIT; 256];
    let mut value = 0;
    while value < alphabet.len() {
        digits[alphabet[value] as usize] = value as u8;
        value += 1;
    }
    digits
};

/// The mark of a byte outside the alphabet: the one value with its top bit set.
const NOT_A_DIGIT: u8 = 0x80;

/// Decodes unpadded URL-safe base64 of exactly `N` bytes into an array, or none: text of
/// another length, with a byte outside the alphabet, or whose last digit has bits set past the
/// data (every array has one encoding, so a token cannot be varied).
///
/// Written out rather than through the `base64` crate, because every unsafe request decodes a
/// token and a secret: the crate's general decoder spends most of its steps on the length
/// checks and the tail handling that a fixed length makes unnecessary.
fn decode_exact<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    let text = text.trim_ascii();
    if text.len() != (N * 4).div_ceil(3) {
        return None;
    }
    let mut bytes = [0; N];
    // Every digit's bits ORed together: a byte outside the alphabet shows in the top bit.
    let mut seen = 0;
    let digit = |byte: u8| u32::from(DIGITS[usize::from(byte)]);
    let (groups, tail) = text.split_at(text.len() / 4 * 4);
    let (whole, rest) = bytes.split_at_mut(groups.len() / 4 * 3);
    for (group, out) in groups.chunks_exact(4).zip(whole.chunks_exact_mut(3)) {
        let digits = [
            digit(group[0]),
            digit(group[1]),
            digit(group[2]),
            digit(group[3]),
        ];
        seen |= digits[0] | digits[1] | digits[2] | digits[3];
        let word = digits[0] << 18 | digits[1] << 12 | digits[2] << 6 | digits[3];
        out.copy_from_slice(&word.to_be_bytes()[1..]);
    }
    // Two or three digits left: one or two bytes, and bits past them that must be zero.
    let mut word = 0;
    for &byte in tail {
        let value = digit(byte);
        seen |= value;
        word = word << 6 | value;
    }
    let spare = tail.len() * 6 - rest.len() * 8;
    if seen & u32::from(NOT_A_DIGIT) != 0 || word & ((1 << spare) - 1) != 0 {
        return None;
    }
    let word = word >> spare;
    let last = rest.len().saturating_sub(1);
    for (index, out) in rest.iter_mut().enumerate() {
        *out = (word >> (8 * (last - index))) as u8;
    }
    Some(bytes)
}

/// The secret that this browser's tokens are made from: in the session when there is one, else
/// in the CSRF cookie.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Secret([u8; LEN]);

impl Secret {
    pub(super) fn generate() -> Self {
        let mut bytes = [0; LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The secret as the session and the cookie keep it.
    pub(super) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// A secret read back from [`encode`](Self::encode); anything else is none.
    pub(super) fn decode(text: &str) -> Option<Self> {
        decode_exact::<LEN>(text.as_bytes()).map(Self)
    }

    /// A new token of this secret: the pad, then the secret XORed with it.
    pub(super) fn token(&self) -> String {
        let mut token = [0; 2 * LEN];
        let (pad, masked) = token.split_at_mut(LEN);
        rand::rngs::OsRng.fill_bytes(pad);
        for ((out, secret), pad) in masked.iter_mut().zip(self.0).zip(pad.iter()) {
            *out = secret ^ pad;
        }
        URL_SAFE_NO_PAD.encode(token)
    }
}

/// A token as a request presented it, unmasked.
pub(super) struct Presented([u8; LEN]);

impl Presented {
    /// The secret a token was made from, or `None` for text that is not a token. Bytes rather
    /// than text, so a header's value is not first checked for being text: a byte outside the
    /// alphabet fails the decoding anyway.
    pub(super) fn parse(token: &[u8]) -> Option<Self> {
        let bytes = decode_exact::<{ 2 * LEN }>(token)?;
        let (pad, masked) = bytes.split_at(LEN);
        let mut secret = [0; LEN];
        for ((out, masked), pad) in secret.iter_mut().zip(masked).zip(pad) {
            *out = masked ^ pad;
        }
        Some(Self(secret))
    }

    /// Whether the token was made from `secret`, compared in constant time.
    pub(super) fn matches(&self, secret: &Secret) -> bool {
        words(&self.0).ct_eq(&words(&secret.0)).into()
    }
}

/// A secret as words: `subtle` hides every element's comparison from the optimiser, so four
/// words compare in an eighth of the steps that 32 bytes take, as constant in time.
fn words(bytes: &[u8; LEN]) -> [u64; LEN / 8] {
    let mut words = [0; LEN / 8];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
        *word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_of_a_secret_matches_it_and_no_two_are_alike() {
        let secret = Secret::generate();
        let (first, second) = (secret.token(), secret.token());
        assert_ne!(first, second, "a fresh pad per token");
        for token in [first, second] {
            let presented = Presented::parse(token.as_bytes()).expect("a token parses");
            assert!(presented.matches(&secret));
            assert!(!presented.matches(&Secret::generate()));
        }
    }

    #[test]
    fn a_token_does_not_show_its_secret() {
        let secret = Secret::generate();
        assert!(!secret.token().contains(&secret.encode()));
    }

    #[test]
    fn what_is_not_a_token_does_not_parse() {
        let token = Secret::generate().token();
        for not_a_token in [
            String::new(),
            "not base64 !".to_owned(),
            token[..token.len() - 4].to_owned(),
            format!("{token}AAAA"),
            "A".repeat(100_000),
            Secret::generate().encode(),
        ] {
            assert!(
                Presented::parse(not_a_token.as_bytes()).is_none(),
                "{not_a_token:.40}"
            );
        }
    }

    /// The decoder agrees with the `base64` crate's strict one, on encodings and on every
    /// text one byte away from an encoding.
    fn agrees_with_the_base64_crate<const N: usize>() {
        let strict = |text: &str| {
            URL_SAFE_NO_PAD
                .decode(text)
                .ok()
                .and_then(|bytes| <[u8; N]>::try_from(bytes).ok())
        };
        for _ in 0..50 {
            let mut bytes = [0; N];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let encoded = URL_SAFE_NO_PAD.encode(bytes);
            assert_eq!(decode_exact::<N>(encoded.as_bytes()), Some(bytes));
            for position in 0..encoded.len() {
                for replacement in [
                    b'A', b'B', b'P', b'Q', b'g', b'w', b'-', b'_', b'=', b'+', b'/', b'.', 0xC3,
                ] {
                    let mut varied = encoded.clone().into_bytes();
                    varied[position] = replacement;
                    let Ok(varied) = String::from_utf8(varied) else {
                        continue;
                    };
                    assert_eq!(
                        decode_exact::<N>(varied.as_bytes()),
                        strict(&varied),
                        "{varied}"
                    );
                }
            }
            assert_eq!(decode_exact::<N>(&encoded.as_bytes()[1..]), None);
            assert_eq!(decode_exact::<N>(format!("{encoded}A").as_bytes()), None);
        }
    }

    #[test]
    fn the_decoder_agrees_with_the_base64_crate() {
        agrees_with_the_base64_crate::<32>();
        agrees_with_the_base64_crate::<64>();
    }

    #[test]
    fn secrets_round_trip_and_refuse_other_lengths() {
        let secret = Secret::generate();
        assert!(Secret::decode(&secret.encode()) == Some(secret));
        assert!(Secret::decode("c2hvcnQ").is_none());
        assert!(Secret::decode("%%%").is_none());
    }
}
