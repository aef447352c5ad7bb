//! The audit log: security events and operator actions (log-ins and their failures, API
//! keys, second factors, password resets, halts, the end of day, snapshots, operators'
//! accounts and deposits, the data key in use), append-only and readable by operators
//! (`GET /v1/admin/audit`). No route writes to it.
//!
//! Each entry is chained to the one before by a BLAKE3 hash over its fields and the previous
//! hash, so a deleted or edited entry breaks the chain ([`verify`]). It lives in PostgreSQL
//! (table `audit_log`, where a trigger refuses updates, deletes and truncation) when the
//! journal does, else in an append-only JSON-lines file beside the file journal, else
//! (tests, an edge) in memory, the newest [`MEMORY_KEPT`] entries.
//!
//! What it never holds: a password, token, code, key or secret; an email address or phone
//! number (an entry names the account, not the person).
//! Writing is part of the request that caused it but never fails it: a write that fails is
//! logged and counted (`failed()`), the action stands.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use bourse_core::UnixNanos;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPool;
use utoipa::ToSchema;

/// The entries an in-memory log keeps (its retention).
pub const MEMORY_KEPT: usize = 100_000;
/// Most entries one query returns.
pub const MAX_PAGE: usize = 500;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    UserRegistered,
    LogIn,
    LogInFailed,
    LogInLocked,
    LogOut,
    ApiKeyCreated,
    ApiKeyRevoked,
    TotpEnrolled,
    TotpEnabled,
    TotpDisabled,
    RecoveryCodesRenewed,
    PasswordResetRequested,
    PasswordReset,
    ContactChangeRequested,
    SymbolHalted,
    SymbolResumed,
    EndOfDay,
    SnapshotTaken,
    AccountOpenedByOperator,
    DepositByOperator,
    SharesDepositedByOperator,
    BrokerRegistered,
    NewsPublished,
    PersonalDataExported,
    SupportAnswered,
    /// A person erased their personal data.
    PersonalDataErased,
    /// An operator recorded a bank's return of a transfer.
    TransferReturnedByOperator,
    /// The server started with a data key other than the one in use before (its
    /// fingerprint, never the key).
    DataKeyChanged,
}

impl AuditKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::UserRegistered => "user_registered",
            AuditKind::LogIn => "log_in",
            AuditKind::LogInFailed => "log_in_failed",
            AuditKind::LogInLocked => "log_in_locked",
            AuditKind::LogOut => "log_out",
            AuditKind::ApiKeyCreated => "api_key_created",
            AuditKind::ApiKeyRevoked => "api_key_revoked",
            AuditKind::TotpEnrolled => "totp_enrolled",
            AuditKind::TotpEnabled => "totp_enabled",
            AuditKind::TotpDisabled => "totp_disabled",
            AuditKind::RecoveryCodesRenewed => "recovery_codes_renewed",
            AuditKind::PasswordResetRequested => "password_reset_requested",
            AuditKind::PasswordReset => "password_reset",
            AuditKind::ContactChangeRequested => "contact_change_requested",
            AuditKind::SymbolHalted => "symbol_halted",
            AuditKind::SymbolResumed => "symbol_resumed",
            AuditKind::EndOfDay => "end_of_day",
            AuditKind::SnapshotTaken => "snapshot_taken",
            AuditKind::AccountOpenedByOperator => "account_opened_by_operator",
            AuditKind::DepositByOperator => "deposit_by_operator",
            AuditKind::SharesDepositedByOperator => "shares_deposited_by_operator",
            AuditKind::BrokerRegistered => "broker_registered",
            AuditKind::NewsPublished => "news_published",
            AuditKind::PersonalDataExported => "personal_data_exported",
            AuditKind::SupportAnswered => "support_answered",
            AuditKind::TransferReturnedByOperator => "transfer_returned_by_operator",
            AuditKind::PersonalDataErased => "personal_data_erased",
            AuditKind::DataKeyChanged => "data_key_changed",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<AuditKind> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// Who did it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    Operator,
    Account(bourse_core::AccountId),
    /// Not logged in (a failed log-in, a sign-up, a reset) or the server itself.
    Anonymous,
    System,
}

impl Actor {
    fn render(self) -> String {
        match self {
            Actor::Operator => "operator".into(),
            Actor::Account(a) => format!("account:{}", a.get()),
            Actor::Anonymous => "anonymous".into(),
            Actor::System => "system".into(),
        }
    }

    /// The actor a principal acts as.
    #[must_use]
    pub fn of(p: &crate::auth::Principal) -> Actor {
        match p.account {
            _ if p.role == bourse_core::Role::Operator => Actor::Operator,
            Some(a) => Actor::Account(a),
            None => Actor::Anonymous,
        }
    }
}

/// One entry, as stored and as `GET /v1/admin/audit` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Rises by one per entry.
    pub id: u64,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The same instant in nanoseconds since the Unix epoch (what the hash covers).
    pub ts: u64,
    #[schema(value_type = String)]
    pub kind: String,
    /// `operator`, `account:<id>`, `anonymous` or `system`.
    pub actor: String,
    /// The account the event is about, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<u64>,
    /// The client's address, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Details (never a secret): a symbol, a key id, an amount, a reason.
    pub detail: BTreeMap<String, String>,
    /// The previous entry's hash (hex; zeros before the first).
    pub prev: String,
    /// BLAKE3 over this entry's fields and `prev` (hex).
    pub hash: String,
}

/// A new entry's content.
#[derive(Clone, Debug)]
pub struct Record {
    pub kind: AuditKind,
    pub actor: Actor,
    pub account: Option<bourse_core::AccountId>,
    pub ip: Option<IpAddr>,
    pub detail: Vec<(&'static str, String)>,
}

impl Record {
    #[must_use]
    pub fn new(kind: AuditKind, actor: Actor) -> Record {
        Record {
            kind,
            actor,
            account: match actor {
                Actor::Account(a) => Some(a),
                _ => None,
            },
            ip: None,
            detail: Vec::new(),
        }
    }

    #[must_use]
    pub fn account(mut self, a: bourse_core::AccountId) -> Record {
        self.account = Some(a);
        self
    }

    #[must_use]
    pub fn ip(mut self, ip: Option<IpAddr>) -> Record {
        self.ip = ip;
        self
    }

    #[must_use]
    pub fn detail(mut self, k: &'static str, v: impl Into<String>) -> Record {
        self.detail.push((k, v.into()));
        self
    }
}

/// Which entries a query wants, newest first.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub kind: Option<AuditKind>,
    pub account: Option<u64>,
    pub actor: Option<String>,
    /// Only entries with a lower id (the page before).
    pub before: Option<u64>,
    /// Only entries at or after this instant.
    pub since: Option<UnixNanos>,
    pub limit: usize,
}

impl AuditQuery {
    fn admits(&self, e: &AuditEntry, at: UnixNanos) -> bool {
        self.kind.is_none_or(|k| e.kind == k.as_str())
            && self.account.is_none_or(|a| e.account == Some(a))
            && self.actor.as_ref().is_none_or(|a| &e.actor == a)
            && self.before.is_none_or(|b| e.id < b)
            && self.since.is_none_or(|s| at >= s)
    }
}

/// Why the log could not be read or opened.
pub use crate::sidestore::StoreError as AuditError;

enum Store {
    Pg(PgPool),
    File(PathBuf),
    Memory(parking_lot::Mutex<VecDeque<(AuditEntry, UnixNanos)>>),
}

/// The last entry's id and hash: what the next one chains to.
struct Chain {
    next: u64,
    last: [u8; 32],
}

/// The append-only, hash-chained log.
pub struct AuditLog {
    store: Store,
    /// Held across a write: entries are numbered and chained one at a time (they are rare:
    /// security events, not orders).
    chain: tokio::sync::Mutex<Chain>,
    failed: AtomicU64,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

/// What an entry's hash covers, besides the previous hash.
struct Fields<'a> {
    id: u64,
    at: UnixNanos,
    kind: &'a str,
    actor: &'a str,
    account: Option<u64>,
    ip: Option<&'a str>,
    detail: &'a BTreeMap<String, String>,
}

/// The hash an entry carries: BLAKE3 over `prev` and its fields, each length-prefixed.
fn entry_hash(prev: &[u8; 32], f: &Fields<'_>) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("bourse 2026-12 audit log chain");
    h.update(prev);
    h.update(&f.id.to_le_bytes());
    h.update(&f.at.get().to_le_bytes());
    let mut field = |s: &str| {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    field(f.kind);
    field(f.actor);
    field(&f.account.map_or(String::new(), |a| a.to_string()));
    field(f.ip.unwrap_or(""));
    for (k, v) in f.detail {
        field(k);
        field(v);
    }
    *h.finalize().as_bytes()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    hex::decode(s).ok()?.try_into().ok()
}

/// Whether `entries` (in id order, consecutive) are each what their hash says and chained to
/// the one before; the first may chain to anything (a page need not start at entry 1).
#[must_use]
pub fn verify(entries: &[AuditEntry]) -> bool {
    let mut prev: Option<[u8; 32]> = None;
    for e in entries {
        let (Some(p), Some(h)) = (unhex(&e.prev), unhex(&e.hash)) else {
            return false;
        };
        let at = UnixNanos::new(e.ts);
        if prev.is_some_and(|q| q != p) {
            return false;
        }
        let want = entry_hash(
            &p,
            &Fields {
                id: e.id,
                at,
                kind: &e.kind,
                actor: &e.actor,
                account: e.account,
                ip: e.ip.as_deref(),
                detail: &e.detail,
            },
        );
        if want != h {
            return false;
        }
        prev = Some(h);
    }
    true
}

impl AuditLog {
    fn with(store: Store, chain: Chain) -> AuditLog {
        AuditLog {
            store,
            chain: tokio::sync::Mutex::new(chain),
            failed: AtomicU64::new(0),
        }
    }

    /// In memory only, the newest [`MEMORY_KEPT`] entries (tests, an edge).
    #[must_use]
    pub fn memory() -> AuditLog {
        AuditLog::with(
            Store::Memory(parking_lot::Mutex::default()),
            Chain {
                next: 1,
                last: [0; 32],
            },
        )
    }

    /// In table `audit_log` (migration 0012) through `pool` ([`crate::sidestore::pool`]).
    ///
    /// # Errors
    /// The table cannot be read.
    pub async fn postgres(pool: PgPool) -> Result<AuditLog, AuditError> {
        crate::sidestore::probe(&pool, "SELECT 1 FROM audit_log LIMIT 1").await?;
        // The chain's end is read from the table at each write, not kept here.
        Ok(AuditLog::with(
            Store::Pg(pool),
            Chain {
                next: 1,
                last: [0; 32],
            },
        ))
    }

    /// In the JSON-lines file at `path` (created if missing), continuing the chain from its
    /// last line.
    ///
    /// # Errors
    /// The file could not be read or its last line is not an entry.
    pub fn file(path: PathBuf) -> Result<AuditLog, AuditError> {
        let mut last: Option<AuditEntry> = None;
        crate::sidestore::read_lines(&path, |e: AuditEntry| {
            last = Some(e);
            Ok(())
        })?;
        let chain = match last {
            Some(e) => Chain {
                next: e.id + 1,
                last: unhex(&e.hash).ok_or(AuditError::Malformed(e.id))?,
            },
            None => Chain {
                next: 1,
                last: [0; 32],
            },
        };
        Ok(AuditLog::with(Store::File(path), chain))
    }

    /// Writes that failed since start.
    #[must_use]
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Appends `r` (logged, never propagated, if it cannot be written).
    pub async fn record(&self, r: Record) {
        if let Err(e) = self.append(r, bourse_api_now()).await {
            self.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!("audit log: an entry was not written: {e}");
        }
    }

    async fn append(&self, r: Record, at: UnixNanos) -> Result<(), AuditError> {
        let mut chain = self.chain.lock().await;
        let detail: BTreeMap<String, String> = r
            .detail
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.chars().take(200).collect()))
            .collect();
        let actor = r.actor.render();
        let account = r.account.map(|a| a.get());
        let ip = r.ip.map(|i| i.to_string());
        let make = |next: u64, last: &[u8; 32]| {
            let hash = entry_hash(
                last,
                &Fields {
                    id: next,
                    at,
                    kind: r.kind.as_str(),
                    actor: &actor,
                    account,
                    ip: ip.as_deref(),
                    detail: &detail,
                },
            );
            let entry = AuditEntry {
                id: next,
                at: at.to_rfc3339(),
                ts: at.get(),
                kind: r.kind.as_str().to_owned(),
                actor: actor.clone(),
                account,
                ip: ip.clone(),
                detail: detail.clone(),
                prev: hex::encode(last),
                hash: hex::encode(hash),
            };
            (entry, hash)
        };
        match &self.store {
            Store::Pg(pool) => {
                // The chain's end is read under a lock on the table, in the transaction that
                // extends it: a standby that took over (or any other writer) continues the
                // same chain, never a copy of it.
                let mut tx = pool.begin().await?;
                sqlx::query("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
                let last: Option<(i64, Vec<u8>)> =
                    sqlx::query_as("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
                        .fetch_optional(&mut *tx)
                        .await?;
                let (next, prev) = match last {
                    Some((id, h)) => (
                        u64::try_from(id).unwrap_or(0) + 1,
                        h.try_into().map_err(|_| AuditError::Malformed(0))?,
                    ),
                    None => (1, [0; 32]),
                };
                let (entry, hash) = make(next, &prev);
                let detail = serde_json::to_string(&entry.detail).unwrap_or_default();
                sqlx::query(
                    "INSERT INTO audit_log (id, at, kind, actor, account, ip, detail, prev, hash) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(i64::try_from(next).unwrap_or(i64::MAX))
                .bind(i64::try_from(at.get()).unwrap_or(i64::MAX))
                .bind(&entry.kind)
                .bind(&entry.actor)
                .bind(account.and_then(|a| i64::try_from(a).ok()))
                .bind(&entry.ip)
                .bind(detail)
                .bind(prev.as_slice())
                .bind(hash.as_slice())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
            Store::File(path) => {
                let (entry, hash) = make(chain.next, &chain.last);
                let line = serde_json::to_vec(&entry).unwrap_or_default();
                crate::sidestore::append_line(path, line).await?;
                chain.next += 1;
                chain.last = hash;
            }
            Store::Memory(m) => {
                let (entry, hash) = make(chain.next, &chain.last);
                let mut m = m.lock();
                if m.len() == MEMORY_KEPT {
                    m.pop_front();
                }
                m.push_back((entry, at));
                chain.next += 1;
                chain.last = hash;
            }
        }
        Ok(())
    }

    /// The entries `q` wants, newest first, at most `q.limit` (capped at one more than
    /// [`MAX_PAGE`]).
    ///
    /// # Errors
    /// The store could not be read.
    pub async fn query(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, AuditError> {
        // One more than a page, so a caller can tell whether another follows.
        let limit = q.limit.clamp(1, MAX_PAGE + 1);
        match &self.store {
            Store::Pg(pool) => {
                type Row = (
                    i64,
                    i64,
                    String,
                    String,
                    Option<i64>,
                    Option<String>,
                    String,
                    Vec<u8>,
                    Vec<u8>,
                );
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT id, at, kind, actor, account, ip, detail, prev, hash FROM audit_log \
                     WHERE ($1::text IS NULL OR kind = $1) \
                       AND ($2::bigint IS NULL OR account = $2) \
                       AND ($3::text IS NULL OR actor = $3) \
                       AND ($4::bigint IS NULL OR id < $4) \
                       AND ($5::bigint IS NULL OR at >= $5) \
                     ORDER BY id DESC LIMIT $6",
                )
                .bind(q.kind.map(AuditKind::as_str))
                .bind(q.account.and_then(|a| i64::try_from(a).ok()))
                .bind(q.actor.as_deref())
                .bind(q.before.map(|b| i64::try_from(b).unwrap_or(i64::MAX)))
                .bind(q.since.map(|s| i64::try_from(s.get()).unwrap_or(i64::MAX)))
                .bind(i64::try_from(limit).unwrap_or(500))
                .fetch_all(pool)
                .await?;
                rows.into_iter()
                    .map(|(id, at, kind, actor, account, ip, detail, prev, hash)| {
                        let id = u64::try_from(id).unwrap_or(0);
                        let bad = || AuditError::Malformed(id);
                        Ok(AuditEntry {
                            id,
                            at: UnixNanos::new(u64::try_from(at).unwrap_or(0)).to_rfc3339(),
                            ts: u64::try_from(at).unwrap_or(0),
                            kind,
                            actor,
                            account: account.and_then(|a| u64::try_from(a).ok()),
                            ip,
                            detail: serde_json::from_str(&detail).map_err(|_| bad())?,
                            prev: hex::encode(<[u8; 32]>::try_from(prev).map_err(|_| bad())?),
                            hash: hex::encode(<[u8; 32]>::try_from(hash).map_err(|_| bad())?),
                        })
                    })
                    .collect()
            }
            Store::File(path) => {
                let path = path.clone();
                let q = q.clone();
                tokio::task::spawn_blocking(move || -> Result<Vec<AuditEntry>, AuditError> {
                    // Oldest first in the file: keep the newest `limit` that match.
                    let mut out = VecDeque::with_capacity(limit);
                    crate::sidestore::read_lines(&path, |e: AuditEntry| {
                        if q.admits(&e, UnixNanos::new(e.ts)) {
                            if out.len() == limit {
                                out.pop_front();
                            }
                            out.push_back(e);
                        }
                        Ok(())
                    })?;
                    Ok(out.into_iter().rev().collect())
                })
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))?
            }
            Store::Memory(m) => Ok(m
                .lock()
                .iter()
                .rev()
                .filter(|(e, at)| q.admits(e, *at))
                .take(limit)
                .map(|(e, _)| e.clone())
                .collect()),
        }
    }

    /// Records [`AuditKind::DataKeyChanged`] unless the newest such entry names
    /// `fingerprint` (with none, the first key comes into use: recorded too). Called at
    /// start.
    pub async fn note_data_key(&self, fingerprint: &str) {
        let q = AuditQuery {
            kind: Some(AuditKind::DataKeyChanged),
            limit: 1,
            ..AuditQuery::default()
        };
        let last = match self.query(&q).await {
            Ok(v) => v.into_iter().next(),
            Err(e) => {
                tracing::error!("audit log: could not read the data key in use: {e}");
                return;
            }
        };
        if last
            .as_ref()
            .and_then(|e| e.detail.get("fingerprint"))
            .is_some_and(|f| f == fingerprint)
        {
            return;
        }
        self.record(
            Record::new(AuditKind::DataKeyChanged, Actor::System)
                .detail("fingerprint", fingerprint),
        )
        .await;
    }
}

fn bourse_api_now() -> UnixNanos {
    crate::auth::now()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bourse_core::AccountId;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn entries_chain_and_an_edit_or_a_gap_breaks_the_chain() {
        rt().block_on(async {
            let log = AuditLog::memory();
            for k in [
                AuditKind::LogIn,
                AuditKind::LogInFailed,
                AuditKind::SymbolHalted,
            ] {
                log.record(
                    Record::new(k, Actor::Account(AccountId::new(7)))
                        .detail("symbol", "AAPL")
                        .ip(Some(
                            "10.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
                        )),
                )
                .await;
            }
            let mut all = log
                .query(&AuditQuery {
                    limit: 10,
                    ..AuditQuery::default()
                })
                .await
                .unwrap_or_default();
            all.reverse();
            assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 2, 3]);
            assert!(verify(&all));
            let mut edited = all.clone();
            edited[1].detail.insert("symbol".into(), "MSFT".into());
            assert!(!verify(&edited));
            let gap = vec![all[0].clone(), all[2].clone()];
            assert!(!verify(&gap));
            // Filters.
            let failed = log
                .query(&AuditQuery {
                    kind: Some(AuditKind::LogInFailed),
                    limit: 10,
                    ..AuditQuery::default()
                })
                .await
                .unwrap_or_default();
            assert_eq!(failed.len(), 1);
            assert_eq!(failed[0].id, 2);
        });
    }

    #[test]
    fn a_file_log_continues_its_chain_after_a_restart() {
        rt().block_on(async {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let path = dir.path().join("audit.jsonl");
            let log = AuditLog::file(path.clone()).unwrap_or_else(|e| panic!("{e}"));
            log.record(Record::new(AuditKind::EndOfDay, Actor::Operator))
                .await;
            drop(log);
            let log = AuditLog::file(path).unwrap_or_else(|e| panic!("{e}"));
            log.record(Record::new(AuditKind::SnapshotTaken, Actor::Operator))
                .await;
            let mut all = log
                .query(&AuditQuery {
                    limit: 10,
                    ..AuditQuery::default()
                })
                .await
                .unwrap_or_default();
            all.reverse();
            assert_eq!(all.len(), 2);
            assert_eq!(all[1].id, 2);
            assert!(verify(&all));
            assert_eq!(log.failed(), 0);
        });
    }
}
