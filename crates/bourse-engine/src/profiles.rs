//! Each person's [`Profile`] (contacts, one-time codes, second factor, devices, notification
//! settings, webhooks) as exchange state, with the index that finds an account by the keyed
//! digest of an address. Ordered maps keep every walk deterministic.

use std::collections::{BTreeMap, BTreeSet};

use bourse_core::profile::{Contact, Profile};
use bourse_core::{AccountId, SecretHash, UnixNanos};
use serde::{Deserialize, Serialize};

/// Every profile, by account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profiles {
    by_account: BTreeMap<AccountId, Profile>,
    /// Webhook ids are exchange-wide, so one id names one endpoint.
    next_webhook_id: u64,
    /// Bank and transfer ids likewise.
    next_bank_id: u64,
    next_transfer_id: u64,
    /// Address digest → account (verified or not, and addresses waiting for a change code):
    /// derived, rebuilt by [`Profiles::reindex`].
    #[serde(skip)]
    by_lookup: BTreeMap<SecretHash, AccountId>,
    /// Accounts that may not trade or withdraw yet: derived likewise.
    #[serde(skip)]
    unverified: BTreeSet<AccountId>,
    /// Pending transfers by when they settle: derived likewise.
    #[serde(skip)]
    due: BTreeSet<(UnixNanos, u64, AccountId)>,
}

impl Profiles {
    #[must_use]
    pub fn get(&self, account: AccountId) -> Option<&Profile> {
        self.by_account.get(&account)
    }

    /// Every profile, in account order.
    pub fn iter(&self) -> impl Iterator<Item = (AccountId, &Profile)> + '_ {
        self.by_account.iter().map(|(a, p)| (*a, p))
    }

    /// The account an address belongs to (or is being changed to).
    #[must_use]
    pub fn account_by_lookup(&self, lookup: &SecretHash) -> Option<AccountId> {
        self.by_lookup.get(lookup).copied()
    }

    /// Whether `account` signed up with an address it has not verified.
    #[must_use]
    pub fn is_unverified(&self, account: AccountId) -> bool {
        !self.unverified.is_empty() && self.unverified.contains(&account)
    }

    pub(crate) fn take_webhook_id(&mut self) -> u64 {
        self.next_webhook_id += 1;
        self.next_webhook_id
    }

    pub(crate) fn take_bank_id(&mut self) -> u64 {
        self.next_bank_id += 1;
        self.next_bank_id
    }

    pub(crate) fn take_transfer_id(&mut self) -> u64 {
        self.next_transfer_id += 1;
        self.next_transfer_id
    }

    /// The pending transfer that settles first, if it is due by `ts`.
    pub(crate) fn first_due(&self, ts: UnixNanos) -> Option<(AccountId, u64)> {
        self.due
            .first()
            .filter(|(at, _, _)| *at <= ts)
            .map(|(_, id, a)| (*a, *id))
    }

    pub(crate) fn is_due_indexed(&self, at: UnixNanos, id: u64, account: AccountId) -> bool {
        self.due.contains(&(at, id, account))
    }

    pub(crate) fn due_len(&self) -> usize {
        self.due.len()
    }

    /// Whether `lookup` is free for `account` (unused, or already its own).
    pub(crate) fn lookup_free(&self, lookup: &SecretHash, account: Option<AccountId>) -> bool {
        match self.by_lookup.get(lookup) {
            None => true,
            Some(a) => Some(*a) == account,
        }
    }

    /// Runs `f` on the account's profile (made if missing) and re-indexes it.
    pub(crate) fn edit<R>(&mut self, account: AccountId, f: impl FnOnce(&mut Profile) -> R) -> R {
        let p = self.by_account.entry(account).or_default();
        let before: Vec<SecretHash> = lookups(p).collect();
        let was_due: Vec<_> = due(p, account).collect();
        let r = f(p);
        let after: Vec<SecretHash> = lookups(p).collect();
        for d in was_due {
            self.due.remove(&d);
        }
        self.due.extend(due(p, account));
        let unverified = p.unverified();
        for l in before {
            if !after.contains(&l) && self.by_lookup.get(&l) == Some(&account) {
                self.by_lookup.remove(&l);
            }
        }
        for l in after {
            self.by_lookup.insert(l, account);
        }
        if unverified {
            self.unverified.insert(account);
        } else {
            self.unverified.remove(&account);
        }
        r
    }

    /// Rebuilds what is derived (after a restore).
    pub(crate) fn reindex(&mut self) {
        self.by_lookup.clear();
        self.unverified.clear();
        self.due.clear();
        for (a, p) in &self.by_account {
            self.due.extend(due(p, *a));
            for l in lookups(p) {
                self.by_lookup.insert(l, *a);
            }
            if p.unverified() {
                self.unverified.insert(*a);
            }
        }
    }
}

/// The person's pending transfers as the due index keys them.
fn due(p: &Profile, account: AccountId) -> impl Iterator<Item = (UnixNanos, u64, AccountId)> + '_ {
    p.funding
        .pending()
        .map(move |t| (t.settle_at, t.id, account))
}

fn lookups(p: &Profile) -> impl Iterator<Item = SecretHash> + '_ {
    [&p.email, &p.phone, &p.pending]
        .into_iter()
        .flatten()
        .map(|c: &Contact| c.lookup)
}
