//! Who is calling: passwords (argon2, hashed off the async threads), session tokens and API
//! keys (random 256-bit secrets, stored only as BLAKE3 digests), and the directory the
//! gateway checks them against.
//!
//! The engine's identity state (journaled) is the source of truth; the directory mirrors it.
//! It is seeded from the recovered engine at start and updated by this process's own
//! identity commands once they are durable, which are the only way identity changes.
//!
//! Must never: keep or log a password or a secret in clear; tell an unknown user from a
//! wrong password; accept an expired session.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use bourse_core::{AccountId, Role, SecretHash, UnixNanos};
use parking_lot::RwLock;

use crate::error::ApiError;

/// The wall clock as the API reads it (session expiry).
#[must_use]
pub fn now() -> UnixNanos {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    UnixNanos::new(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A fresh random 256-bit secret as 64 hex characters, and its digest.
pub fn new_secret() -> Result<(String, SecretHash), ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "no randomness available",
        )
    })?;
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let digest = digest(&text);
    Ok((text, digest))
}

/// What the directory stores of a secret.
#[must_use]
pub fn digest(secret: &str) -> SecretHash {
    SecretHash(*blake3::hash(secret.as_bytes()).as_bytes())
}

/// Usernames: 3–32 of `a-z`, `0-9`, `_`, `-`, `.` (the engine checks the same rule).
#[must_use]
pub fn valid_username(name: &str) -> bool {
    (3..=32).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
        })
}

/// Passwords: 8–128 characters.
#[must_use]
pub fn valid_password(p: &str) -> bool {
    (8..=128).contains(&p.chars().count())
}

/// Hashes a password with argon2id (default parameters) on a blocking thread.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
    })
    .await
    .ok()
    .and_then(Result::ok)
    .ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "could not hash the password",
        )
    })
}

/// A real hash no password is checked against successfully, verified for unknown users so
/// that a wrong username costs as long as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    Argon2::default()
        .hash_password(b"no user has this password")
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// Checks a password against a PHC string (`None`: an unknown user, always false but just
/// as slow) on a blocking thread.
pub async fn verify_password(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| DUMMY_HASH.clone());
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), phc.as_str())
            .is_ok();
        ok && known
    })
    .await
    .unwrap_or(false)
}

/// A user as the directory knows them.
#[derive(Debug, Clone)]
pub struct UserEntry {
    pub account: AccountId,
    pub role: Role,
    pub password_hash: String,
}

/// The state to start from (the recovered engine's identity).
#[derive(Debug, Clone, Default)]
pub struct DirectorySeed {
    pub users: Vec<(String, UserEntry)>,
    /// Token digest, account, expiry.
    pub sessions: Vec<(SecretHash, AccountId, UnixNanos)>,
    /// Key id, account, secret digest.
    pub keys: Vec<(u64, AccountId, SecretHash)>,
}

#[derive(Debug, Default)]
struct Inner {
    users: HashMap<String, UserEntry>,
    roles: HashMap<AccountId, Role>,
    sessions: HashMap<SecretHash, (AccountId, UnixNanos)>,
    keys: HashMap<SecretHash, (u64, AccountId)>,
}

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Session(SecretHash),
    ApiKey(u64),
    /// The configured operator token.
    Operator,
}

/// The authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// `None` for the operator token, which acts for no account of its own.
    pub account: Option<AccountId>,
    pub role: Role,
    pub credential: Credential,
}

/// Users, sessions and API keys, for checking credentials without the engine.
#[derive(Debug, Default)]
pub struct Directory {
    inner: RwLock<Inner>,
    operator: Option<SecretHash>,
}

impl Directory {
    #[must_use]
    pub fn new(seed: DirectorySeed, operator_token: Option<&str>) -> Self {
        let mut inner = Inner::default();
        for (name, u) in seed.users {
            inner.roles.insert(u.account, u.role);
            inner.users.insert(name, u);
        }
        for (t, a, e) in seed.sessions {
            inner.sessions.insert(t, (a, e));
        }
        for (id, a, s) in seed.keys {
            inner.keys.insert(s, (id, a));
        }
        Self {
            inner: RwLock::new(inner),
            operator: operator_token.map(digest),
        }
    }

    #[must_use]
    pub fn user(&self, name: &str) -> Option<UserEntry> {
        self.inner.read().users.get(name).cloned()
    }

    pub fn add_user(&self, name: &str, entry: UserEntry) {
        let mut g = self.inner.write();
        g.roles.insert(entry.account, entry.role);
        g.users.insert(name.to_owned(), entry);
    }

    pub fn add_session(&self, token: SecretHash, account: AccountId, expires_at: UnixNanos) {
        self.inner
            .write()
            .sessions
            .insert(token, (account, expires_at));
    }

    pub fn end_session(&self, token: &SecretHash) {
        self.inner.write().sessions.remove(token);
    }

    pub fn add_key(&self, secret: SecretHash, key_id: u64, account: AccountId) {
        self.inner.write().keys.insert(secret, (key_id, account));
    }

    pub fn revoke_key(&self, account: AccountId, key_id: u64) {
        self.inner
            .write()
            .keys
            .retain(|_, (id, a)| !(*id == key_id && *a == account));
    }

    /// The caller a bearer token stands for at `now`, if any.
    #[must_use]
    pub fn authenticate(&self, token: &str, now: UnixNanos) -> Option<Principal> {
        let d = digest(token);
        if self.operator == Some(d) {
            return Some(Principal {
                account: None,
                role: Role::Operator,
                credential: Credential::Operator,
            });
        }
        let g = self.inner.read();
        let role = |a: AccountId| g.roles.get(&a).copied().unwrap_or(Role::Trader);
        if let Some(&(account, expires)) = g.sessions.get(&d) {
            return (expires > now).then(|| Principal {
                account: Some(account),
                role: role(account),
                credential: Credential::Session(d),
            });
        }
        g.keys.get(&d).map(|&(id, account)| Principal {
            account: Some(account),
            role: role(account),
            credential: Credential::ApiKey(id),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_hash_and_verify() {
        let h = hash_password("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert!(verify_password("correct horse".into(), Some(h.clone())).await);
        assert!(!verify_password("wrong horse!".into(), Some(h.clone())).await);
        assert!(!verify_password("correct horse".into(), Some("not a hash".into())).await);
        assert!(!verify_password("no user has this password".into(), None).await);
    }

    #[test]
    fn secrets_are_random_and_only_digests_are_kept() {
        let (a, da) = new_secret().unwrap();
        let (b, db) = new_secret().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_ne!(da, db);
        assert_eq!(digest(&a), da);
    }

    #[test]
    fn tokens_resolve_to_their_principal_until_they_expire_or_are_revoked() {
        let dir = Directory::new(DirectorySeed::default(), Some("op-token"));
        let acct = AccountId::new(7);
        dir.add_user(
            "alice",
            UserEntry {
                account: acct,
                role: Role::Trader,
                password_hash: String::new(),
            },
        );
        let (session, sd) = new_secret().unwrap();
        dir.add_session(sd, acct, UnixNanos::new(1_000));
        let (key, kd) = new_secret().unwrap();
        dir.add_key(kd, 3, acct);
        let at = |t| UnixNanos::new(t);
        let p = dir.authenticate(&session, at(999)).unwrap();
        assert_eq!((p.account, p.role), (Some(acct), Role::Trader));
        assert_eq!(dir.authenticate(&session, at(1_000)), None, "expired");
        assert_eq!(
            dir.authenticate(&key, at(5_000)).unwrap().credential,
            Credential::ApiKey(3)
        );
        assert_eq!(
            dir.authenticate("op-token", at(0)).unwrap().role,
            Role::Operator
        );
        assert_eq!(dir.authenticate("guess", at(0)), None);
        dir.revoke_key(AccountId::new(8), 3);
        assert!(dir.authenticate(&key, at(0)).is_some(), "not the owner");
        dir.revoke_key(acct, 3);
        assert_eq!(dir.authenticate(&key, at(0)), None);
        dir.end_session(&sd);
        assert_eq!(dir.authenticate(&session, at(0)), None);
    }
}
