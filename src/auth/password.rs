//! argon2id hashing and verification. Both are slow on purpose: call them inside `web::block`.
use std::sync::OnceLock;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 256;

pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail on a generated salt")
        .to_string()
}

/// Whether `password` matches `hash`. A malformed hash never matches.
pub fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Verify against a real hash of a random password, so an unknown user name costs the
/// same time as a wrong password and reveals nothing.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let h = DUMMY.get_or_init(|| hash(&random_password()));
    let _ = verify(h, password);
}

/// Passwords people pick first; refused whatever their length (lower-cased comparison).
const COMMON: &[&str] = &[
    "password1234",
    "123456789012",
    "qwertyuiopas",
    "passwordpassword",
    "letmeinletmein",
    "iloveyou1234",
    "administrator",
    "welcome12345",
    "changeme1234",
    "qwerty123456",
    "111111111111",
    "abcdefghijkl",
    "relmanrelman",
    "releasemanager",
    "password123!",
    "p@ssw0rd1234",
    "trustno1trustno1",
    "000000000000",
];

/// Why a new password is refused, if it is.
pub fn weakness(password: &str) -> Option<String> {
    weakness_for(password, "")
}

/// Why a new password for `username` is refused, if it is: length, the user name in it, or
/// one of the most common passwords.
pub fn weakness_for(password: &str, username: &str) -> Option<String> {
    let n = password.chars().count();
    let lower = password.to_lowercase();
    if n < MIN_LENGTH {
        Some(format!(
            "The password must be at least {MIN_LENGTH} characters long."
        ))
    } else if n > MAX_LENGTH {
        Some(format!(
            "The password must be at most {MAX_LENGTH} characters long."
        ))
    } else if username.len() >= 3 && lower.contains(&username.to_lowercase()) {
        Some("The password must not contain the user name.".into())
    } else if COMMON.contains(&lower.as_str())
        || lower
            .chars()
            .all(|c| c == lower.chars().next().unwrap_or(' '))
    {
        Some("This password is too common: choose another.".into())
    } else {
        None
    }
}

/// A random password for new administrators: 20 characters, easy to copy.
pub fn random_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_and_is_argon2id() {
        let h = hash("correct horse battery");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(&h, "correct horse battery"));
        assert!(!verify(&h, "wrong horse battery"));
        assert!(!verify("not a hash", "x"));
    }

    #[test]
    fn short_passwords_are_weak() {
        assert!(weakness("short").is_some());
        assert!(weakness("twelve chars").is_none());
    }

    #[test]
    fn the_user_name_and_common_passwords_are_refused() {
        assert!(weakness_for("carol-is-great-2026", "carol")
            .unwrap()
            .contains("user name"));
        assert!(weakness_for("Password1234", "bob")
            .unwrap()
            .contains("too common"));
        assert!(weakness_for("aaaaaaaaaaaaaa", "bob")
            .unwrap()
            .contains("too common"));
        assert!(weakness_for("correct horse battery", "carol").is_none());
    }
}
