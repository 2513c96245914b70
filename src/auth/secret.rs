//! Random secrets for session cookies, CSRF tokens, API tokens and setup
//! links, and the form they are stored in. Each carries 256 bits from the
//! OS, so a plain SHA-256 is enough to store it: there is nothing to guess.

use anyhow::Context;
use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

/// Every API token starts with this, so that a leaked one is easy to spot
/// and a bootstrap token is never looked up as one.
pub const API_TOKEN_PREFIX: &str = "cpt_";

/// Characters of a secret's text: 32 bytes in unpadded URL-safe base64.
const SECRET_CHARS: usize = 43;

/// A fresh secret: 32 bytes from the OS, as 43 URL-safe characters.
pub fn random() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).context("failed to read OS randomness")?;
    Ok(Base64UrlUnpadded::encode_string(&bytes))
}

/// A fresh API token: the prefix, then a secret.
pub fn new_api_token() -> anyhow::Result<String> {
    Ok(format!("{API_TOKEN_PREFIX}{}", random()?))
}

/// Whether `text` has the shape of a secret from [`random`]; anything else
/// is not worth a database lookup.
pub fn is_secret(text: &str) -> bool {
    text.len() == SECRET_CHARS
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `text` has the shape of an API token from [`new_api_token`].
pub fn is_api_token(text: &str) -> bool {
    text.strip_prefix(API_TOKEN_PREFIX).is_some_and(is_secret)
}

/// How a secret is stored and looked up: SHA-256, in hex.
pub fn digest(secret: &str) -> String {
    let hash = Sha256::digest(secret.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without returning early, so timing does not reveal how much of
/// a guessed secret was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_fresh_and_url_safe() {
        let (a, b) = (random().unwrap(), random().unwrap());
        assert_ne!(a, b);
        assert!(is_secret(&a) && is_secret(&b), "{a} {b}");
    }

    #[test]
    fn api_tokens_are_told_from_other_text() {
        let token = new_api_token().unwrap();
        assert!(is_api_token(&token), "{token}");
        assert!(!is_api_token(&token[API_TOKEN_PREFIX.len()..]), "no prefix");
        assert!(!is_api_token(&format!("{token}x")), "too long");
        assert!(!is_api_token(&token[..token.len() - 1]), "too short");
        let with_space = format!("{API_TOKEN_PREFIX}{}", " ".repeat(SECRET_CHARS));
        assert!(!is_api_token(&with_space));
        assert!(!is_api_token("try-me"));
        assert!(!is_api_token(""));
    }

    #[test]
    fn digests_are_sha256_in_hex() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn equal_means_equal() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
