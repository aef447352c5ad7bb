//! Identity commands (users, sessions, API keys); the state they edit is [`crate::identity`].

use bourse_core::{AccountId, Event, RejectReason, Role, Scopes, SecretHash, UnixNanos};

use super::{Engine, refuse, reject};
use crate::identity::{Identity, User};

impl Engine {
    /// Users, sessions and API keys, for the gateway's lookups.
    #[must_use]
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub(super) fn register_user(
        &mut self,
        username: &str,
        password_hash: &str,
        role: Role,
        out: &mut Vec<Event>,
    ) {
        if let Err(reason) = self.identity.check_new_user(username) {
            return out.push(reject(None, None, None, reason));
        }
        let account = self.open_account(out);
        let user = User {
            account,
            password_hash: password_hash.to_owned(),
            role,
        };
        self.identity.add_user(username, user);
        out.push(Event::UserRegistered { account, role });
    }

    pub(super) fn open_customer_account(&mut self, broker: AccountId, out: &mut Vec<Event>) {
        if let Err(reason) = self.identity.check_new_customer(broker) {
            return out.push(refuse(broker, reason));
        }
        let account = self.open_account(out);
        self.identity.add_customer(account, broker);
        out.push(Event::CustomerAccountOpened { account, broker });
    }

    pub(super) fn register_customer_login(
        &mut self,
        broker: AccountId,
        account: AccountId,
        username: &str,
        password_hash: &str,
        out: &mut Vec<Event>,
    ) {
        // Another broker's customer, or no customer at all: as if it did not exist.
        if self.identity.broker_of(account) != Some(broker) {
            return out.push(refuse(broker, RejectReason::UnknownAccount));
        }
        if self.identity.role(account).is_some() {
            return out.push(refuse(broker, RejectReason::AccountHasLogin));
        }
        if let Err(reason) = self.identity.check_new_user(username) {
            return out.push(refuse(broker, reason));
        }
        let user = User {
            account,
            password_hash: password_hash.to_owned(),
            role: Role::Trader,
        };
        self.identity.add_user(username, user);
        out.push(Event::UserRegistered {
            account,
            role: Role::Trader,
        });
    }

    pub(super) fn create_session(
        &mut self,
        account: AccountId,
        token: SecretHash,
        expires_at: UnixNanos,
        out: &mut Vec<Event>,
    ) {
        if self.account(account).is_none() {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        }
        self.identity.add_session(token, account, expires_at);
        out.push(Event::SessionCreated {
            account,
            expires_at,
        });
    }

    pub(super) fn end_session(&mut self, token: &SecretHash, out: &mut Vec<Event>) {
        match self.identity.end_session(token) {
            Some(account) => out.push(Event::SessionEnded {
                account,
                token: *token,
            }),
            None => out.push(reject(None, None, None, RejectReason::UnknownSession)),
        }
    }

    pub(super) fn create_key(
        &mut self,
        account: AccountId,
        secret: SecretHash,
        label: &str,
        scopes: Scopes,
        out: &mut Vec<Event>,
    ) {
        if self.account(account).is_none() {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        }
        if let Err(r) = self.identity.check_new_key(account) {
            return out.push(refuse(account, r));
        }
        let key_id = self
            .identity
            .add_key(account, secret, label.to_owned(), scopes);
        out.push(Event::ApiKeyCreated {
            account,
            key_id,
            scopes,
        });
    }

    pub(super) fn create_scoped_key(
        &mut self,
        account: AccountId,
        secret: SecretHash,
        label: &str,
        scopes: Scopes,
        out: &mut Vec<Event>,
    ) {
        // The gateway sends only known, non-empty scopes; whatever a journal holds,
        // a key never gets more than it names, and never nothing.
        let scopes = Scopes::from_bits(scopes.bits());
        let scopes = if scopes.is_empty() {
            Scopes::READ
        } else {
            scopes
        };
        self.create_key(account, secret, label, scopes, out);
    }

    pub(super) fn revoke_key(&mut self, account: AccountId, key_id: u64, out: &mut Vec<Event>) {
        if self.identity.revoke_key(account, key_id) {
            out.push(Event::ApiKeyRevoked { account, key_id });
        } else {
            out.push(refuse(account, RejectReason::UnknownApiKey));
        }
    }
}
