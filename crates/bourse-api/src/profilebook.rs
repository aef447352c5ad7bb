//! The API's copy of every person's profile: seeded from the recovered engine, then each
//! released change (the profile after the command, carried beside its events) replaces the
//! account's entry, so what the routes read is durable.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use bourse_core::profile::Profile;
use bourse_core::{AccountId, SecretHash, Seq, UnixNanos};
use parking_lot::RwLock;

#[derive(Debug, Default)]
struct Inner {
    by_account: HashMap<AccountId, Arc<Profile>>,
    by_lookup: HashMap<SecretHash, AccountId>,
    /// Pending bank transfers by when they settle (for the settlement clock).
    due: BTreeSet<(UnixNanos, u64, AccountId)>,
}

/// Profiles by account, and accounts by address digest.
#[derive(Debug, Default)]
pub struct ProfileBook(RwLock<Inner>);

impl ProfileBook {
    /// A book holding `profiles` (a recovered engine's).
    pub fn seeded<'a>(profiles: impl IntoIterator<Item = (AccountId, &'a Profile)>) -> Self {
        let book = ProfileBook::default();
        {
            let mut g = book.0.write();
            for (a, p) in profiles {
                index(&mut g, a, Arc::new(p.clone()));
            }
        }
        book
    }

    /// Takes released changes, in order (retention: one entry per account with a profile,
    /// replaced at each change, as the engine keeps it).
    pub fn apply(&self, changes: &[(Seq, AccountId, Arc<Profile>)]) {
        if changes.is_empty() {
            return;
        }
        let mut g = self.0.write();
        for (_, a, p) in changes {
            index(&mut g, *a, p.clone());
        }
    }

    #[must_use]
    pub fn get(&self, account: AccountId) -> Option<Arc<Profile>> {
        self.0.read().by_account.get(&account).cloned()
    }

    /// The accounts whose people erased their data.
    #[must_use]
    pub fn erased(&self) -> Vec<AccountId> {
        let g = self.0.read();
        g.by_account
            .iter()
            .filter(|(_, p)| p.erased)
            .map(|(a, _)| *a)
            .collect()
    }

    /// When the first pending bank transfer settles.
    #[must_use]
    pub fn next_due(&self) -> Option<UnixNanos> {
        self.0.read().due.first().map(|d| d.0)
    }

    /// The account an address (or an address being changed to) belongs to.
    #[must_use]
    pub fn account_by_lookup(&self, lookup: &SecretHash) -> Option<AccountId> {
        self.0.read().by_lookup.get(lookup).copied()
    }
}

fn index(g: &mut Inner, account: AccountId, p: Arc<Profile>) {
    if let Some(old) = g.by_account.get(&account) {
        for t in old.funding.pending() {
            g.due.remove(&(t.settle_at, t.id, account));
        }
        for c in [&old.email, &old.phone, &old.pending].into_iter().flatten() {
            if g.by_lookup.get(&c.lookup) == Some(&account) {
                g.by_lookup.remove(&c.lookup);
            }
        }
    }
    for c in [&p.email, &p.phone, &p.pending].into_iter().flatten() {
        g.by_lookup.insert(c.lookup, account);
    }
    for t in p.funding.pending() {
        g.due.insert((t.settle_at, t.id, account));
    }
    g.by_account.insert(account, p);
}
