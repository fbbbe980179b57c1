//! Recovery codes: ten single-use codes that stand in for the second factor when the
//! authenticator is lost, shown once and stored only as hashes.

use std::fmt;

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// How many codes [`RecoveryCodes::generate`] makes.
pub const RECOVERY_CODE_COUNT: usize = 10;

/// Crockford's base32 in lower case: no `i`, `l`, `o` or `u`, so nothing reads as another
/// character on paper.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Characters per code: 16 of 5 bits, 80 bits of entropy.
const CODE_CHARS: usize = 16;

/// Freshly generated recovery codes, to show the user once: they cannot be cloned, serialized
/// or printed with `Debug`, and only their hashes ([`hashes`](Self::hashes)) are stored.
///
/// Each code is 16 characters of Crockford base32 in four groups (`7kq2-x9mf-...`), 80 random
/// bits. That is why a fast hash is enough to store them: a slow password hash protects
/// guessable secrets, and 2^80 candidates cannot be enumerated however fast the hash is. The
/// hash is SHA-256 over a domain label, the user's id and the code, so equal codes of two users
/// (were that ever to happen) have different hashes and no table serves two users.
///
/// ```
/// use axum_login::mfa::{RECOVERY_CODE_COUNT, RecoveryCodes, recovery_code_hash};
///
/// let codes = RecoveryCodes::generate();
/// assert_eq!(codes.iter().count(), RECOVERY_CODE_COUNT);
/// let first = codes.iter().next().unwrap();
/// assert_eq!(first.len(), 19);
/// // What the user types back is hashed the same way, whatever its case or spacing.
/// let typed = first.to_uppercase().replace('-', " ");
/// assert_eq!(recovery_code_hash("42", &typed), Some(codes.hashes("42")[0]));
/// assert_eq!(format!("{codes:?}"), "RecoveryCodes([10 redacted])");
/// ```
pub struct RecoveryCodes(Vec<SecretString>);

impl RecoveryCodes {
    /// [`RECOVERY_CODE_COUNT`] new codes from the operating system's generator.
    pub fn generate() -> Self {
        Self((0..RECOVERY_CODE_COUNT).map(|_| generate_code()).collect())
    }

    /// The codes as the user should see them, `xxxx-xxxx-xxxx-xxxx`.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|code| code.expose_secret())
    }

    /// The hashes to store for `user`, in the order of [`iter`](Self::iter).
    pub fn hashes(&self, user: &str) -> Vec<RecoveryCodeHash> {
        self.iter()
            .filter_map(|code| recovery_code_hash(user, code))
            .collect()
    }
}

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryCodes([{} redacted])", self.0.len())
    }
}

/// The stored form of one recovery code: see [`RecoveryCodes`] for why SHA-256 suffices.
///
/// ```
/// use axum_login::mfa::recovery_code_hash;
///
/// let hash = recovery_code_hash("7", "abcd-efgh-jkmn-pqrs").unwrap();
/// assert_eq!(hash.as_bytes().len(), 32);
/// assert!(format!("{hash:?}").starts_with("RecoveryCodeHash("));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecoveryCodeHash(pub [u8; 32]);

impl RecoveryCodeHash {
    /// The hash's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for RecoveryCodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCodeHash(")?;
        for byte in &self.0[..4] {
            write!(f, "{byte:02x}")?;
        }
        f.write_str("..)")
    }
}

/// The hash of `code` as typed by `user` (the user id's text): case, spaces and dashes do not
/// matter, and `i`, `l` read as `1`, `o` as `0`, as Crockford's base32 says. `None` when what
/// remains is not a code's 16 characters, so nothing else ever reaches the store.
///
/// ```
/// use axum_login::mfa::recovery_code_hash;
///
/// assert_eq!(
///     recovery_code_hash("7", "ABCD EFGH JKMN PQRS"),
///     recovery_code_hash("7", "abcd-efgh-jkmn-pqrs"),
/// );
/// assert_eq!(recovery_code_hash("7", "not a code"), None);
/// ```
pub fn recovery_code_hash(user: &str, code: &str) -> Option<RecoveryCodeHash> {
    let mut normalized = Vec::with_capacity(CODE_CHARS);
    for c in code.chars() {
        if c.is_whitespace() || c == '-' {
            continue;
        }
        let c = match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            c => c,
        };
        let byte = u8::try_from(c).ok().filter(|b| ALPHABET.contains(b))?;
        normalized.push(byte);
    }
    if normalized.len() != CODE_CHARS {
        return None;
    }
    let mut hash = Sha256::new();
    hash.update(b"axum-login recovery code v1\0");
    hash.update((user.len() as u64).to_le_bytes());
    hash.update(user.as_bytes());
    hash.update(&normalized);
    Some(RecoveryCodeHash(hash.finalize().into()))
}

fn generate_code() -> SecretString {
    let mut random = [0u8; CODE_CHARS];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let mut code = String::with_capacity(CODE_CHARS + 3);
    for (i, byte) in random.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        // 256 is a multiple of 32, so keeping the low five bits is uniform.
        code.push(char::from(ALPHABET[usize::from(byte & 31)]));
    }
    code.into()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_distinct_well_formed_and_hash_per_user() {
        let codes = RecoveryCodes::generate();
        let all: HashSet<&str> = codes.iter().collect();
        assert_eq!(all.len(), RECOVERY_CODE_COUNT);
        for code in codes.iter() {
            assert_eq!(code.len(), 19);
            assert_eq!(code.matches('-').count(), 3);
            assert!(code.bytes().all(|b| b == b'-' || ALPHABET.contains(&b)));
        }
        let alice = codes.hashes("alice");
        let bob = codes.hashes("bob");
        assert_eq!(alice.len(), RECOVERY_CODE_COUNT);
        assert!(alice.iter().all(|hash| !bob.contains(hash)));
    }

    #[test]
    fn typing_variants_hash_alike_and_garbage_hashes_to_nothing() {
        let code = "7kq2-x9mf-0a1b-zzzz";
        let hash = recovery_code_hash("u", code);
        assert!(hash.is_some());
        for variant in [
            "7KQ2X9MF0A1BZZZZ",
            " 7kq2 x9mf oaib zzzz ",
            "7kq2-x9mf-0alb-zzzz",
        ] {
            assert_eq!(recovery_code_hash("u", variant), hash, "{variant}");
        }
        assert_ne!(recovery_code_hash("v", code), hash);
        for garbage in [
            "",
            "7kq2-x9mf-0a1b-zzz",
            "7kq2-x9mf-0a1b-zzzzz",
            "7kq2-x9mf-0a1b-zzzu",
        ] {
            assert_eq!(recovery_code_hash("u", garbage), None, "{garbage}");
        }
    }
}
