//! People's own keys, kept beside the journal wrapped by the data key (see `crate::vault`):
//! table `person_keys` in the journal's PostgreSQL schema (migration 0016), or
//! `person_keys.json` beside the file journal. A key is stored (durably) before anything is
//! sealed with it, and deleted when its person is erased — a real delete, which is what
//! makes everything sealed with it unreadable wherever it was copied.

use std::path::PathBuf;
use std::sync::Arc;

use bourse_core::AccountId;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgPool;

use bourse_core::profile::Sealed;

use crate::sidestore::StoreError;
use crate::vault::{KeyId, Vault};

/// The row that keeps the lookup key (what addresses' digests are keyed by), wrapped like
/// the people's keys, so that it outlives a rotation of the data key.
const LOOKUP_ID: KeyId = [0; 16];

/// One stored key.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Stored {
    #[serde(with = "hex::serde")]
    id: KeyId,
    account: Option<u64>,
    #[serde(with = "hex::serde")]
    wrapped: Vec<u8>,
}

enum Store {
    Postgres(PgPool),
    /// The whole set, rewritten (to a new file, synced, renamed over) at each change: one
    /// small entry per person.
    File(PathBuf, tokio::sync::Mutex<Vec<Stored>>),
    Memory,
}

/// The key store and the vault its keys are installed in.
pub struct PersonKeys {
    store: Store,
    vault: Arc<Vault>,
}

impl std::fmt::Debug for PersonKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonKeys(..)")
    }
}

impl PersonKeys {
    /// In table `person_keys` through `pool` ([`crate::sidestore::pool`]); every key
    /// installed.
    ///
    /// # Errors
    /// The table cannot be read (not migrated, the database away).
    pub async fn postgres(pool: PgPool, vault: Arc<Vault>) -> Result<PersonKeys, StoreError> {
        crate::sidestore::probe(&pool, "SELECT 1 FROM person_keys LIMIT 1").await?;
        let keys = PersonKeys {
            store: Store::Postgres(pool),
            vault,
        };
        keys.reload().await?;
        Ok(keys)
    }

    /// In the JSON file at `path`; every key installed.
    ///
    /// # Errors
    /// The file cannot be read or is malformed.
    pub fn file(path: PathBuf, vault: Arc<Vault>) -> Result<PersonKeys, StoreError> {
        let all: Vec<Stored> = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|_| StoreError::Malformed(0))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let writes = settle(&vault, &all);
        let mut all = all;
        if !writes.is_empty() {
            merge(&mut all, writes);
            write_file(&path, &all)?;
        }
        Ok(PersonKeys {
            store: Store::File(path, tokio::sync::Mutex::new(all)),
            vault,
        })
    }

    /// Kept in memory only (an edge, tests): values sealed for a person are lost with it.
    #[must_use]
    pub fn memory(vault: Arc<Vault>) -> PersonKeys {
        PersonKeys {
            store: Store::Memory,
            vault,
        }
    }

    /// Installs every stored key again (a standby taking over: the primary made keys
    /// since this one started).
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn reload(&self) -> Result<(), StoreError> {
        if let Store::Postgres(pool) = &self.store {
            let rows = sqlx::query("SELECT key_id, account, wrapped FROM person_keys")
                .fetch_all(pool)
                .await?;
            let mut all = Vec::with_capacity(rows.len());
            for r in rows {
                let id: Vec<u8> = r.try_get("key_id")?;
                let account: Option<i64> = r.try_get("account")?;
                all.push(Stored {
                    id: id.try_into().map_err(|_| StoreError::Malformed(0))?,
                    account: account.and_then(|a| u64::try_from(a).ok()),
                    wrapped: r.try_get("wrapped")?,
                });
            }
            for w in settle(&self.vault, &all) {
                sqlx::query(
                    "INSERT INTO person_keys (key_id, account, wrapped, created_at) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (key_id) DO UPDATE SET wrapped = EXCLUDED.wrapped",
                )
                .bind(w.id.as_slice())
                .bind(w.account.and_then(|a| i64::try_from(a).ok()))
                .bind(&w.wrapped)
                .bind(i64::try_from(crate::auth::now().get()).unwrap_or(i64::MAX))
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }

    /// The person's key, made and stored first if they have none (`account` `None`: a
    /// person signing up, whose account is not numbered yet; see [`PersonKeys::bind`]).
    ///
    /// # Errors
    /// The new key cannot be stored (nothing may be sealed with it then).
    pub async fn key_for(&self, account: Option<AccountId>) -> Result<KeyId, StoreError> {
        if let Some(id) = account.and_then(|a| self.vault.key_of(a)) {
            return Ok(id);
        }
        let (id, _, wrapped) = self
            .vault
            .new_person_key()
            .map_err(|e| StoreError::Config(format!("no randomness: {e}")))?;
        let row = Stored {
            id,
            account: account.map(AccountId::get),
            wrapped,
        };
        match &self.store {
            Store::Postgres(pool) => {
                sqlx::query(
                    "INSERT INTO person_keys (key_id, account, wrapped, created_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(row.id.as_slice())
                .bind(row.account.and_then(|a| i64::try_from(a).ok()))
                .bind(&row.wrapped)
                .bind(i64::try_from(crate::auth::now().get()).unwrap_or(i64::MAX))
                .execute(pool)
                .await?;
            }
            Store::File(path, all) => {
                let mut g = all.lock().await;
                g.push(row.clone());
                if let Err(e) = rewrite(path, &g).await {
                    g.pop();
                    return Err(e);
                }
            }
            Store::Memory => {}
        }
        install(&self.vault, std::slice::from_ref(&row));
        Ok(id)
    }

    /// Records whose key `id` is, once their account has a number. Best effort: an
    /// erasure also finds a person's keys in what their profile holds.
    pub async fn bind(&self, id: KeyId, account: AccountId) {
        self.vault.bind(id, account);
        let done = match &self.store {
            Store::Postgres(pool) => {
                sqlx::query("UPDATE person_keys SET account = $1 WHERE key_id = $2")
                    .bind(i64::try_from(account.get()).unwrap_or(i64::MAX))
                    .bind(id.as_slice())
                    .execute(pool)
                    .await
                    .map(|_| ())
                    .map_err(StoreError::from)
            }
            Store::File(path, all) => {
                let mut g = all.lock().await;
                for s in g.iter_mut().filter(|s| s.id == id) {
                    s.account = Some(account.get());
                }
                rewrite(path, &g).await
            }
            Store::Memory => Ok(()),
        };
        if let Err(e) = done {
            tracing::warn!(
                account = account.get(),
                "could not record whose key is whose: {e}"
            );
        }
    }

    /// Drops a key that sealed nothing kept (a sign-up refused).
    pub async fn discard(&self, id: KeyId) {
        if let Err(e) = self.erase(None, &[id]).await {
            tracing::warn!("could not drop an unused key: {e}");
        }
    }

    /// Deletes `ids` and every key bound to `account` from the store, then from the vault:
    /// what they sealed is gone for good.
    ///
    /// # Errors
    /// The store cannot be written (the keys stay; try again).
    pub async fn erase(
        &self,
        account: Option<AccountId>,
        ids: &[KeyId],
    ) -> Result<usize, StoreError> {
        let mut ids: Vec<KeyId> = ids.to_vec();
        ids.extend(account.and_then(|a| self.vault.key_of(a)));
        // Nothing the vault holds (an account erased at an earlier start): nothing to do. A
        // stored key the data key could not unwrap seals nothing readable already.
        if ids.is_empty() {
            return Ok(0);
        }
        // No account is numbered 0: binds nothing.
        let owner = account.map_or(0, AccountId::get);
        let n = match &self.store {
            Store::Postgres(pool) => {
                let list: Vec<Vec<u8>> = ids.iter().map(|i| i.to_vec()).collect();
                let done =
                    sqlx::query("DELETE FROM person_keys WHERE key_id = ANY($1) OR account = $2")
                        .bind(&list)
                        .bind(i64::try_from(owner).unwrap_or(i64::MAX))
                        .execute(pool)
                        .await?;
                usize::try_from(done.rows_affected()).unwrap_or(usize::MAX)
            }
            Store::File(path, all) => {
                let mut g = all.lock().await;
                let before = g.len();
                let kept: Vec<Stored> = g
                    .iter()
                    .filter(|s| !ids.contains(&s.id) && (owner == 0 || s.account != Some(owner)))
                    .cloned()
                    .collect();
                rewrite(path, &kept).await?;
                *g = kept;
                before - g.len()
            }
            Store::Memory => ids.len(),
        };
        for id in &ids {
            self.vault.forget(id);
        }
        Ok(n)
    }
}

fn install(vault: &Vault, all: &[Stored]) {
    for s in all {
        if !vault.install(s.id, &s.wrapped, s.account.map(AccountId::new)) {
            tracing::warn!(
                "a person's key is wrapped by another data key; their data stays sealed"
            );
        }
    }
}

/// Installs every stored key and the lookup key; what to write back: keys still wrapped by
/// the previous data key, wrapped again by the current one (a rotation), and the lookup key
/// the first time.
fn settle(vault: &Vault, all: &[Stored]) -> Vec<Stored> {
    let mut writes = Vec::new();
    let mut lookup = false;
    for s in all {
        let Some(key) = vault.open(&Sealed(s.wrapped.clone())) else {
            tracing::warn!(
                "a stored key is wrapped by another data key; what it seals stays sealed"
            );
            continue;
        };
        if s.id == LOOKUP_ID {
            lookup = true;
            match <[u8; 32]>::try_from(key.as_slice()) {
                Ok(k) => vault.set_lookup_key(k),
                Err(_) => tracing::error!("the stored lookup key is malformed"),
            }
        } else {
            install(vault, std::slice::from_ref(s));
        }
        if !vault.sealed_with_current(&s.wrapped) {
            writes.push(Stored {
                wrapped: vault.seal(&key).0,
                ..s.clone()
            });
        }
    }
    if !lookup {
        writes.push(Stored {
            id: LOOKUP_ID,
            account: None,
            wrapped: vault.seal(&vault.lookup_key()).0,
        });
    }
    writes
}

/// `writes` replacing the rows of the same id, or added.
fn merge(all: &mut Vec<Stored>, writes: Vec<Stored>) {
    for w in writes {
        match all.iter_mut().find(|s| s.id == w.id) {
            Some(s) => *s = w,
            None => all.push(w),
        }
    }
}

fn write_file(path: &std::path::Path, all: &[Stored]) -> Result<(), StoreError> {
    use std::io::Write;
    let bytes = serde_json::to_vec(all).map_err(|_| StoreError::Malformed(0))?;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Writes `all` to a new file beside `path`, syncs it and renames it over `path`, off the
/// async threads.
async fn rewrite(path: &std::path::Path, all: &[Stored]) -> Result<(), StoreError> {
    let all = all.to_vec();
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || write_file(&path, &all))
        .await
        .map_err(|e| StoreError::Config(e.to_string()))?
}
