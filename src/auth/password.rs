//! Passwords: Argon2id with the library's defaults (19 MiB, two passes),
//! stored as PHC strings, so that stronger settings later still verify
//! what was stored before. Hashing takes tens of milliseconds of CPU, so
//! the async forms run it on the blocking pool.

use std::sync::OnceLock;

use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Fewer characters than this are refused.
pub const MIN_CHARS: usize = 8;
/// More bytes than this are refused: hashing cost grows with the length.
pub const MAX_BYTES: usize = 1024;

/// Says what is wrong with a new password, if anything.
pub fn check_new(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_CHARS {
        return Err(format!("a password needs at least {MIN_CHARS} characters"));
    }
    if password.len() > MAX_BYTES {
        return Err(format!("a password may have at most {MAX_BYTES} bytes"));
    }
    Ok(())
}

/// The PHC string of `password` with a fresh random salt.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).context("failed to read OS randomness for a salt")?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| anyhow::anyhow!("failed to encode a salt: {e}"))?;
    let hashed = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("failed to hash a password: {e}"))?;
    Ok(hashed.to_string())
}

/// Whether `password` is the one `phc` was made from. A stored value that
/// cannot be read verifies nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_BYTES {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// [`hash`] on the blocking pool.
pub async fn hash_blocking(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .context("password hashing stopped")?
}

/// [`verify`] on the blocking pool. Without a stored hash (no such user,
/// or one without a password) it verifies against a stand-in and refuses,
/// so that the time taken does not tell which usernames exist.
pub async fn verify_blocking(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify(&password, &phc),
        None => {
            verify(&password, stand_in());
            false
        }
    })
    .await
    .unwrap_or(false)
}

fn stand_in() -> &'static str {
    static STAND_IN: OnceLock<String> = OnceLock::new();
    STAND_IN.get_or_init(|| hash("no user has this password").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify("correct horse", &phc));
        assert!(!verify("correct horsE", &phc));
        assert!(!verify("", &phc));
    }

    #[test]
    fn each_hash_has_its_own_salt() {
        assert_ne!(
            hash("same password").unwrap(),
            hash("same password").unwrap()
        );
    }

    #[test]
    fn unreadable_stored_values_verify_nothing() {
        assert!(!verify("anything", ""));
        assert!(!verify("anything", "plaintext"));
        assert!(!verify("anything", "$argon2id$v=19$broken"));
    }

    #[test]
    fn new_passwords_are_checked_for_length() {
        assert!(check_new("1234567").unwrap_err().contains("8 characters"));
        assert!(check_new("12345678").is_ok());
        assert!(check_new("éééééééé").is_ok(), "characters, not bytes");
        assert!(check_new(&"x".repeat(MAX_BYTES + 1)).is_err());
    }

    #[tokio::test]
    async fn the_blocking_forms_agree() {
        let phc = hash_blocking("pa55word!".into()).await.unwrap();
        assert!(verify_blocking("pa55word!".into(), Some(phc.clone())).await);
        assert!(!verify_blocking("nope".into(), Some(phc)).await);
        assert!(!verify_blocking("pa55word!".into(), None).await);
    }
}
