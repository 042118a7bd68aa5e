//! Local accounts: who may approve, review, pause and set autonomy, with
//! which roles. Passwords are stored as Argon2id PHC strings only.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use time::OffsetDateTime;
use warden_store::{Person, Store, StoreError};

use crate::control::ROLES;

/// Why an account could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{0:?} is not a role (roles: {roles})", roles = ROLES.join(", "))]
    UnknownRole(String),
    #[error("a name is 1-64 characters of letters, digits, '.', '-', '_' or '@'")]
    BadName,
    #[error("a password needs at least 12 characters")]
    WeakPassword,
    #[error("an account named {0} exists")]
    Exists(String),
    #[error("wrong name or password")]
    BadCredentials,
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// Hash `password` with Argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// Whether `password` matches the stored PHC string.
pub fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// Create an account with `roles`.
pub async fn add_person(
    store: &dyn Store,
    name: &str,
    roles: &[String],
    password: &str,
    now: OffsetDateTime,
) -> Result<Person, AccountError> {
    let person = new_person(name, roles, password, now)?;
    if !store.add_person(&person).await? {
        return Err(AccountError::Exists(person.name));
    }
    Ok(person)
}

/// A checked account with its password hashed, not yet stored (so the
/// audit log can record it before it exists).
pub fn new_person(
    name: &str,
    roles: &[String],
    password: &str,
    now: OffsetDateTime,
) -> Result<Person, AccountError> {
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
    if !valid_name {
        return Err(AccountError::BadName);
    }
    if let Some(role) = roles.iter().find(|r| !ROLES.contains(&r.as_str())) {
        return Err(AccountError::UnknownRole(role.clone()));
    }
    if password.chars().count() < 12 {
        return Err(AccountError::WeakPassword);
    }
    Ok(Person {
        name: name.to_lowercase(),
        roles: roles.to_vec(),
        password_hash: hash_password(password)?,
        created_at: now,
    })
}

/// The account `name` if `password` is right (the same error either way).
pub async fn authenticate(
    store: &dyn Store,
    name: &str,
    password: &str,
) -> Result<Person, AccountError> {
    match store.person(name).await? {
        Some(person) if password_matches(password, &person.password_hash) => Ok(person),
        Some(_) => Err(AccountError::BadCredentials),
        None => {
            // Spend the same time as a real check, so timing does not say
            // which names exist.
            let _ = password_matches(password, &DUMMY_HASH);
            Err(AccountError::BadCredentials)
        }
    }
}

/// A real Argon2id hash of nothing anyone knows, checked against when the
/// name does not exist.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("no account has this password").unwrap_or_default());

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accounts_hash_passwords_and_check_them() {
        let store = warden_store::SqliteStore::in_memory()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let now = OffsetDateTime::now_utc();
        let roles = vec!["soc_lead".to_owned()];
        let alice = add_person(&store, "Alice", &roles, "correct horse battery", now)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(alice.name, "alice");
        assert!(alice.password_hash.starts_with("$argon2id$"));
        assert!(!alice.password_hash.contains("correct horse"));
        assert!(
            authenticate(&store, "ALICE", "correct horse battery")
                .await
                .is_ok()
        );
        assert!(matches!(
            authenticate(&store, "alice", "wrong password!!").await,
            Err(AccountError::BadCredentials)
        ));
        assert!(matches!(
            authenticate(&store, "mallory", "correct horse battery").await,
            Err(AccountError::BadCredentials)
        ));
        assert!(matches!(
            add_person(&store, "alice", &roles, "another long one", now).await,
            Err(AccountError::Exists(_))
        ));
        assert!(matches!(
            add_person(&store, "bob", &["root".to_owned()], "another long one", now).await,
            Err(AccountError::UnknownRole(_))
        ));
        assert!(matches!(
            add_person(&store, "bob", &roles, "short", now).await,
            Err(AccountError::WeakPassword)
        ));
        assert!(matches!(
            add_person(&store, "bob smith", &roles, "another long one", now).await,
            Err(AccountError::BadName)
        ));
    }
}
