//! Identity as exchange state: users (with the argon2 hash the gateway computed), sessions
//! and API keys (digests of their secrets only), so that one journal holds everything and a
//! replay restores logins exactly. Ordered maps keep every walk deterministic.

use std::collections::BTreeMap;

use bourse_core::{AccountId, RejectReason, Role, Scopes, SecretHash, UnixNanos};
use serde::{Deserialize, Serialize};

/// A registered user and their account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub account: AccountId,
    /// argon2 PHC string; verified by the gateway, never on the engine thread.
    pub password_hash: String,
    pub role: Role,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Session {
    account: AccountId,
    expires_at: UnixNanos,
}

/// A live API key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub account: AccountId,
    pub secret: SecretHash,
    pub label: String,
    /// What the key may do.
    pub scopes: Scopes,
}

/// Users, sessions and API keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    users: BTreeMap<String, User>,
    roles: BTreeMap<AccountId, Role>,
    sessions: BTreeMap<SecretHash, Session>,
    keys: BTreeMap<u64, ApiKey>,
    key_by_secret: BTreeMap<SecretHash, u64>,
    next_key_id: u64,
    /// Each broker's customer accounts: customer → broker.
    customers: BTreeMap<AccountId, AccountId>,
    /// Live keys per account: derived from `keys`, so not part of the snapshot (and of its
    /// hash); rebuilt by [`Identity::reindex`] on restore.
    #[serde(skip)]
    keys_per_account: BTreeMap<AccountId, u32>,
    /// Customers per broker: derived from `customers` likewise.
    #[serde(skip)]
    customers_per_broker: BTreeMap<AccountId, u32>,
}

/// Customer accounts a broker may open: enough for a broker's book of clients, while no
/// broker can grow the exchange's state (every account has a row per instrument) without
/// end.
pub const MAX_CUSTOMERS_PER_BROKER: u32 = 100_000;

/// Live API keys an account may hold at once: what a person or a broker's systems need,
/// while no account can grow the exchange's state (and every replay) without end.
pub const MAX_API_KEYS_PER_ACCOUNT: u32 = 100;

/// Usernames: 3–32 of `a-z`, `0-9`, `_`, `-`, `.`.
#[must_use]
pub fn valid_username(name: &str) -> bool {
    (3..=32).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
        })
}

impl Identity {
    /// Whether `name` can be registered.
    pub(crate) fn check_new_user(&self, name: &str) -> Result<(), RejectReason> {
        if !valid_username(name) {
            return Err(RejectReason::InvalidUsername);
        }
        if self.users.contains_key(name) {
            return Err(RejectReason::UsernameTaken);
        }
        Ok(())
    }

    pub(crate) fn add_user(&mut self, name: &str, user: User) {
        self.roles.insert(user.account, user.role);
        self.users.insert(name.to_owned(), user);
    }

    pub(crate) fn add_session(
        &mut self,
        token: SecretHash,
        account: AccountId,
        expires_at: UnixNanos,
    ) {
        self.sessions.insert(
            token,
            Session {
                account,
                expires_at,
            },
        );
    }

    pub(crate) fn end_session(&mut self, token: &SecretHash) -> Option<AccountId> {
        self.sessions.remove(token).map(|s| s.account)
    }

    /// Replaces the password of the account's user; false if it has none.
    pub(crate) fn set_password(&mut self, account: AccountId, hash: &str) -> bool {
        match self.users.values_mut().find(|u| u.account == account) {
            Some(u) => {
                hash.clone_into(&mut u.password_hash);
                true
            }
            None => false,
        }
    }

    /// Ends every session of `account`, returning their digests (in digest order).
    pub(crate) fn end_sessions_of(&mut self, account: AccountId) -> Vec<SecretHash> {
        let ended: Vec<SecretHash> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.account == account)
            .map(|(t, _)| *t)
            .collect();
        for t in &ended {
            self.sessions.remove(t);
        }
        ended
    }

    /// Forgets sessions that expired before `now`.
    pub(crate) fn prune_sessions(&mut self, now: UnixNanos) {
        self.sessions.retain(|_, s| s.expires_at > now);
    }

    /// Whether `account` may have one more key.
    pub(crate) fn check_new_key(&self, account: AccountId) -> Result<(), RejectReason> {
        match self.keys_per_account.get(&account) {
            Some(&n) if n >= MAX_API_KEYS_PER_ACCOUNT => Err(RejectReason::TooManyApiKeys),
            _ => Ok(()),
        }
    }

    /// Rebuilds what is derived from the keys and customers (after a restore).
    pub(crate) fn reindex(&mut self) {
        self.keys_per_account.clear();
        for k in self.keys.values() {
            *self.keys_per_account.entry(k.account).or_default() += 1;
        }
        self.customers_per_broker.clear();
        for b in self.customers.values() {
            *self.customers_per_broker.entry(*b).or_default() += 1;
        }
    }

    /// Whether `broker` may open one more customer account.
    pub(crate) fn check_new_customer(&self, broker: AccountId) -> Result<(), RejectReason> {
        if self.role(broker) != Some(Role::Broker) {
            return Err(RejectReason::NotABroker);
        }
        match self.customers_per_broker.get(&broker) {
            Some(&n) if n >= MAX_CUSTOMERS_PER_BROKER => Err(RejectReason::TooManyCustomers),
            _ => Ok(()),
        }
    }

    pub(crate) fn add_customer(&mut self, customer: AccountId, broker: AccountId) {
        self.customers.insert(customer, broker);
        *self.customers_per_broker.entry(broker).or_default() += 1;
    }

    /// The broker whose customer `account` is.
    #[must_use]
    pub fn broker_of(&self, account: AccountId) -> Option<AccountId> {
        self.customers.get(&account).copied()
    }

    /// Every customer account with its broker.
    pub fn customers(&self) -> impl Iterator<Item = (AccountId, AccountId)> + '_ {
        self.customers.iter().map(|(c, b)| (*c, *b))
    }

    pub(crate) fn add_key(
        &mut self,
        account: AccountId,
        secret: SecretHash,
        label: String,
        scopes: Scopes,
    ) -> u64 {
        self.next_key_id += 1;
        let id = self.next_key_id;
        self.keys.insert(
            id,
            ApiKey {
                account,
                secret,
                label,
                scopes,
            },
        );
        self.key_by_secret.insert(secret, id);
        *self.keys_per_account.entry(account).or_default() += 1;
        id
    }

    pub(crate) fn revoke_key(&mut self, account: AccountId, key_id: u64) -> bool {
        match self.keys.get(&key_id) {
            Some(k) if k.account == account => {
                self.key_by_secret.remove(&k.secret);
                if let Some(n) = self.keys_per_account.get_mut(&account) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.keys_per_account.remove(&account);
                    }
                }
                self.keys.remove(&key_id);
                true
            }
            _ => false,
        }
    }

    /// Forgets the account's user (its name is free again), ending its sessions and
    /// revoking its keys: what ended, in digest and id order.
    pub(crate) fn erase_user(&mut self, account: AccountId) -> (Vec<SecretHash>, Vec<u64>) {
        self.users.retain(|_, u| u.account != account);
        let sessions = self.end_sessions_of(account);
        let keys: Vec<u64> = self
            .keys
            .iter()
            .filter(|(_, k)| k.account == account)
            .map(|(id, _)| *id)
            .collect();
        for id in &keys {
            self.revoke_key(account, *id);
        }
        (sessions, keys)
    }

    /// Every user with their name, in name order (to seed the gateway's directory).
    pub fn users(&self) -> impl Iterator<Item = (&str, &User)> + '_ {
        self.users.iter().map(|(n, u)| (n.as_str(), u))
    }

    /// Every session: token digest, account, expiry.
    pub fn sessions(&self) -> impl Iterator<Item = (SecretHash, AccountId, UnixNanos)> + '_ {
        self.sessions
            .iter()
            .map(|(t, s)| (*t, s.account, s.expires_at))
    }

    /// Every live API key with its id.
    pub fn keys(&self) -> impl Iterator<Item = (u64, &ApiKey)> + '_ {
        self.keys.iter().map(|(id, k)| (*id, k))
    }

    /// The user registered as `name`.
    #[must_use]
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    /// The role of an account's user (accounts opened without a user have none).
    #[must_use]
    pub fn role(&self, account: AccountId) -> Option<Role> {
        self.roles.get(&account).copied()
    }

    /// The account a session token belongs to, if the session is live at `now`.
    #[must_use]
    pub fn session(&self, token: &SecretHash, now: UnixNanos) -> Option<AccountId> {
        self.sessions
            .get(token)
            .filter(|s| s.expires_at > now)
            .map(|s| s.account)
    }

    /// The key id and account an API key secret belongs to.
    #[must_use]
    pub fn api_key(&self, secret: &SecretHash) -> Option<(u64, AccountId)> {
        let id = *self.key_by_secret.get(secret)?;
        self.keys.get(&id).map(|k| (id, k.account))
    }

    #[must_use]
    pub fn user_count(&self) -> usize {
        self.users.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        assert!(valid_username("alice"));
        assert!(valid_username("a.b-c_9"));
        assert!(!valid_username("al"));
        assert!(!valid_username("Alice"));
        assert!(!valid_username("has space"));
        assert!(!valid_username(&"x".repeat(33)));
    }
}
