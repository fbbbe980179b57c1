//! The browser's CSRF secret and the tokens made from it: each token is the secret masked with a
//! fresh random pad, so no two pages carry the same bytes (a compressed response cannot be
//! probed for the secret, BREACH), and every token of one secret is accepted.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use subtle::ConstantTimeEq;

/// The length of a secret, and of a token's pad.
const LEN: usize = 32;

/// The length of a token as text: `2 * LEN` bytes in unpadded base64.
const TOKEN_CHARS: usize = (2 * LEN * 4).div_ceil(3);

/// Decodes unpadded base64 of exactly `N` bytes into an array, or none; checked on every unsafe
/// request, so it decodes in place rather than through a `Vec`.
fn decode_exact<const N: usize>(text: &str) -> Option<[u8; N]> {
    // Room for base64's estimate of a token's decoded length (whole groups of three), plus
    // one: longer input fails here or decodes to more than `N` bytes, and is none either way.
    let mut buffer = [0; 2 * LEN + 3];
    let written = URL_SAFE_NO_PAD
        .decode_slice(text.trim(), &mut buffer)
        .ok()?;
    (written == N).then(|| {
        let mut bytes = [0; N];
        bytes.copy_from_slice(&buffer[..N]);
        bytes
    })
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
        decode_exact::<LEN>(text).map(Self)
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
    /// The secret a token was made from, or `None` for text that is not a token.
    pub(super) fn parse(token: &str) -> Option<Self> {
        // Longer input cannot be a token: refuse it before decoding anything.
        if token.len() > TOKEN_CHARS {
            return None;
        }
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
        self.0.ct_eq(&secret.0).into()
    }
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
            let presented = Presented::parse(&token).expect("a token parses");
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
                Presented::parse(&not_a_token).is_none(),
                "{not_a_token:.40}"
            );
        }
    }

    #[test]
    fn secrets_round_trip_and_refuse_other_lengths() {
        let secret = Secret::generate();
        assert!(Secret::decode(&secret.encode()) == Some(secret));
        assert!(Secret::decode("c2hvcnQ").is_none());
        assert!(Secret::decode("%%%").is_none());
    }
}
