//! `mysql_native_password`: the challenge-response scheme where the server
//! stores `SHA1(SHA1(password))` and the client proves knowledge of
//! `SHA1(password)` without sending it:
//!
//! ```text
//! auth_response = SHA1(password) XOR SHA1(scramble ++ SHA1(SHA1(password)))
//! ```

use rand::Rng;
use sha1::{Digest, Sha1};

/// Name of the only authentication plugin this server speaks.
pub(crate) const NATIVE_PASSWORD_PLUGIN: &str = "mysql_native_password";

fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// `SHA1(SHA1(password))`, the value a server stores; `None` for an empty
/// password.
pub fn native_password_hash(password: &str) -> Option<[u8; 20]> {
    if password.is_empty() {
        return None;
    }
    Some(sha1(&[&sha1(&[password.as_bytes()])]))
}

/// Computes the auth response a client sends for `password` (empty for an
/// empty password).
pub fn scramble_native_password(scramble: &[u8; 20], password: &str) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = sha1(&[password.as_bytes()]);
    let stage2 = sha1(&[&stage1]);
    let mask = sha1(&[scramble, &stage2]);
    stage1.iter().zip(mask).map(|(a, b)| a ^ b).collect()
}

/// Checks a `mysql_native_password` auth response against the stored
/// `SHA1(SHA1(password))`. With `stored == None` (empty password) only an
/// empty response is accepted.
pub fn verify_native_password(
    scramble: &[u8; 20],
    auth_response: &[u8],
    stored: Option<&[u8; 20]>,
) -> bool {
    let Some(stored) = stored else {
        return auth_response.is_empty();
    };
    let Ok(response) = <&[u8; 20]>::try_from(auth_response) else {
        return false;
    };
    // Unmask the response to recover the candidate SHA1(password), then hash
    // it once more and compare with what is stored.
    let mask = sha1(&[scramble, stored]);
    let mut candidate = [0u8; 20];
    for (c, (r, m)) in candidate.iter_mut().zip(response.iter().zip(mask)) {
        *c = r ^ m;
    }
    let check = sha1(&[&candidate]);
    // Constant-time comparison: do not leak how many leading bytes matched.
    check
        .iter()
        .zip(stored)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// A fresh 20-byte challenge of printable ASCII (never NUL, which would end
/// the scramble early in the handshake).
pub(crate) fn generate_scramble() -> [u8; 20] {
    let mut rng = rand::rng();
    let mut out = [0u8; 20];
    for b in &mut out {
        *b = rng.random_range(0x21..=0x7E);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn stored_hash_known_vector() {
        // SHA1("root") = dc76e9f0c0006e8f919e0c515c66dbba3982f785, and
        // SHA1 of those 20 bytes is the well-known mysql.user entry
        // *81F5E21E35407D884A6CD4A731AEBFB6AF209E1B.
        let stored = native_password_hash("root").expect("non-empty");
        assert_eq!(hex(&stored), "81f5e21e35407d884a6cd4a731aebfb6af209e1b");
        assert_eq!(native_password_hash(""), None);
    }

    #[test]
    fn scramble_known_vector() {
        // Computed independently with Python's hashlib:
        // s1 = sha1(b"root"); s2 = sha1(s1)
        // bytes(a ^ b for a, b in zip(s1, sha1(b"abcdefghijklmnopqrst" + s2)))
        let scramble = *b"abcdefghijklmnopqrst";
        let response = scramble_native_password(&scramble, "root");
        assert_eq!(hex(&response), "5d14f4172d69b6d30da98a8c52f0911e8a019132");
    }

    #[test]
    fn round_trip() {
        let scramble = generate_scramble();
        let stored = native_password_hash("p1");
        let response = scramble_native_password(&scramble, "p1");
        assert_eq!(response.len(), 20);
        assert!(verify_native_password(
            &scramble,
            &response,
            stored.as_ref()
        ));
        // Wrong password, wrong scramble, truncated response all fail.
        let wrong = scramble_native_password(&scramble, "p2");
        assert!(!verify_native_password(&scramble, &wrong, stored.as_ref()));
        let other = generate_scramble();
        if other != scramble {
            assert!(!verify_native_password(&other, &response, stored.as_ref()));
        }
        assert!(!verify_native_password(
            &scramble,
            &response[..19],
            stored.as_ref()
        ));
        assert!(!verify_native_password(&scramble, b"", stored.as_ref()));
    }

    #[test]
    fn empty_password() {
        let scramble = generate_scramble();
        assert!(scramble_native_password(&scramble, "").is_empty());
        assert!(verify_native_password(&scramble, b"", None));
        let response = scramble_native_password(&scramble, "x");
        assert!(!verify_native_password(&scramble, &response, None));
    }

    #[test]
    fn scramble_is_printable_and_fresh() {
        let a = generate_scramble();
        let b = generate_scramble();
        assert!(a.iter().all(|&c| (0x21..=0x7E).contains(&c)));
        assert_ne!(a, b, "two scrambles should differ");
    }
}
