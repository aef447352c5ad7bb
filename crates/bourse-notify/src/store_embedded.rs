//! The outbox in one `redb` file, next to a file journal: the same semantics as the
//! PostgreSQL store, one write transaction per batch.
//!
//! Tables: `records` (id → the delivery, bincode with a version byte), `keys` (idempotency
//! key → id), `due` ((next attempt ns, id): the pending deliveries not in flight),
//! `inflight` (id: claimed by this process; moved back to `due` at open), `by_account`
//! ((account, id): listing), `meta` (`derived_through`, `next_id`).

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use bourse_core::profile::Channel;
use parking_lot::RwLock;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::store::{Claimed, Finish, ListQuery, Opened, to_i64, to_u64};
use crate::{DeliveryView, NewDelivery, NotifyError, Status, channel_code, channel_from_code};

const RECORDS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("records");
const KEYS: TableDefinition<'_, &str, u64> = TableDefinition::new("keys");
const DUE: TableDefinition<'_, (u64, u64), ()> = TableDefinition::new("due");
const INFLIGHT: TableDefinition<'_, u64, ()> = TableDefinition::new("inflight");
const BY_ACCOUNT: TableDefinition<'_, (u64, u64), ()> = TableDefinition::new("by_account");
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");

const FORMAT: u8 = 1;
/// How many of an account's rows one listing looks at, at most (filters may skip many).
const LIST_SCAN_MAX: usize = 100_000;

#[derive(Serialize, Deserialize, Debug)]
struct Rec {
    key: String,
    seq: u64,
    account: u64,
    kind: String,
    channel: i16,
    endpoint: u64,
    status: i16,
    attempts: u32,
    next_ns: u64,
    last_error: Option<String>,
    created_ns: u64,
    delivered_ns: Option<u64>,
    payload: String,
}

fn err<E: Display>(what: &'static str) -> impl Fn(E) -> NotifyError {
    move |e| NotifyError::Store {
        what,
        detail: e.to_string(),
    }
}

fn encode(r: &Rec) -> Result<Vec<u8>, NotifyError> {
    let mut out = vec![FORMAT];
    bincode::serde::encode_into_std_write(r, &mut out, bincode::config::standard())
        .map_err(err("encode a delivery"))?;
    Ok(out)
}

fn decode(bytes: &[u8]) -> Result<Rec, NotifyError> {
    match bytes.split_first() {
        Some((&FORMAT, body)) => {
            bincode::serde::decode_from_slice(body, bincode::config::standard())
                .map(|(r, _)| r)
                .map_err(err("decode a delivery"))
        }
        _ => Err(NotifyError::Store {
            what: "decode a delivery",
            detail: "unknown format version".to_owned(),
        }),
    }
}

#[derive(Debug)]
pub(crate) struct EmbeddedStore {
    path: PathBuf,
    /// `None` once closed (the file's lock is released at shutdown, not when the last
    /// aborted task lets go of the store), or while a reopen after an I/O error is pending.
    db: RwLock<Option<Database>>,
    closed: AtomicBool,
}

impl EmbeddedStore {
    pub(crate) fn open(path: &Path) -> Result<(EmbeddedStore, Opened), NotifyError> {
        const WHAT: &str = "open the embedded outbox";
        let db = Database::create(path).map_err(err(WHAT))?;
        let tx = db.begin_write().map_err(err(WHAT))?;
        let opened = {
            let mut records = tx.open_table(RECORDS).map_err(err(WHAT))?;
            tx.open_table(KEYS).map_err(err(WHAT))?;
            tx.open_table(BY_ACCOUNT).map_err(err(WHAT))?;
            let mut due = tx.open_table(DUE).map_err(err(WHAT))?;
            let mut inflight = tx.open_table(INFLIGHT).map_err(err(WHAT))?;
            let meta = tx.open_table(META).map_err(err(WHAT))?;
            // What the previous process had in flight is attempted again.
            while let Some((id, ())) = inflight
                .pop_first()
                .map_err(err(WHAT))?
                .map(|(k, v)| (k.value(), v.value()))
            {
                let next = match records.get(id).map_err(err(WHAT))? {
                    Some(g) => decode(g.value())?.next_ns,
                    None => continue,
                };
                due.insert((next, id), ()).map_err(err(WHAT))?;
            }
            let _ = &mut records;
            let derived = meta
                .get("derived_through")
                .map_err(err(WHAT))?
                .map_or(0, |g| g.value());
            Opened {
                derived_through: derived,
                pending: due.len().map_err(err(WHAT))?,
            }
        };
        tx.commit().map_err(err(WHAT))?;
        Ok((
            EmbeddedStore {
                path: path.to_owned(),
                db: RwLock::new(Some(db)),
                closed: AtomicBool::new(false),
            },
            opened,
        ))
    }

    /// Closes the file after the operations under way.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        drop(self.db.write().take());
    }

    /// The open database, or why there is none.
    fn opened<'a>(
        &self,
        guard: &'a parking_lot::RwLockReadGuard<'_, Option<Database>>,
    ) -> Result<&'a Database, NotifyError> {
        match guard.as_ref() {
            Some(db) => Ok(db),
            None if self.closed.load(Ordering::Acquire) => Err(NotifyError::Shutdown),
            None => Err(NotifyError::Store {
                what: "reopen the embedded outbox",
                detail: "not reopened yet".to_owned(),
            }),
        }
    }

    /// After a failed operation: a write that failed on I/O (a full disk) leaves redb
    /// refusing every later one ("previous I/O error") until the file is reopened, so it
    /// is reopened here — on a later call, if the disk is still full. What was committed
    /// stays; rows this process holds in flight stay its own.
    pub(crate) fn heal(&self) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let mut g = self.db.write();
        let poisoned = match g.as_ref().map(Database::begin_write) {
            None => true,
            Some(Ok(tx)) => {
                let _ = tx.abort();
                false
            }
            Some(Err(redb::TransactionError::Storage(
                redb::StorageError::PreviousIo | redb::StorageError::Io(_),
            ))) => true,
            Some(Err(_)) => false,
        };
        if !poisoned {
            return;
        }
        drop(g.take());
        match Database::create(&self.path) {
            Ok(db) => {
                tracing::info!("notify: the embedded outbox was reopened after an I/O error");
                *g = Some(db);
            }
            Err(e) => tracing::warn!(error = %e, "notify: reopening the embedded outbox failed"),
        }
    }

    pub(crate) fn commit(
        &self,
        batch: &[NewDelivery],
        through: u64,
        hand_off: bool,
    ) -> Result<(u64, Vec<Claimed>), NotifyError> {
        const WHAT: &str = "enqueue deliveries";
        let now = crate::now_ns();
        let guard = self.db.read();
        let db = self.opened(&guard)?;
        let tx = db.begin_write().map_err(err(WHAT))?;
        let mut inserted = 0;
        let mut claimed = Vec::new();
        {
            let mut records = tx.open_table(RECORDS).map_err(err(WHAT))?;
            let mut keys = tx.open_table(KEYS).map_err(err(WHAT))?;
            let mut due = tx.open_table(DUE).map_err(err(WHAT))?;
            let mut inflight = tx.open_table(INFLIGHT).map_err(err(WHAT))?;
            let mut by_account = tx.open_table(BY_ACCOUNT).map_err(err(WHAT))?;
            let mut meta = tx.open_table(META).map_err(err(WHAT))?;
            let mut next_id = meta
                .get("next_id")
                .map_err(err(WHAT))?
                .map_or(1, |g| g.value());
            for d in batch {
                if keys.get(d.key.as_str()).map_err(err(WHAT))?.is_some() {
                    continue;
                }
                let id = next_id;
                next_id += 1;
                let rec = Rec {
                    key: d.key.clone(),
                    seq: d.seq,
                    account: d.account,
                    kind: d.kind.clone(),
                    channel: channel_code(d.channel),
                    endpoint: d.endpoint,
                    status: Status::Pending.code(),
                    attempts: 0,
                    next_ns: now,
                    last_error: None,
                    created_ns: d.created_at_ns,
                    delivered_ns: None,
                    payload: d.payload.to_string(),
                };
                records
                    .insert(id, encode(&rec)?.as_slice())
                    .map_err(err(WHAT))?;
                keys.insert(d.key.as_str(), id).map_err(err(WHAT))?;
                if hand_off {
                    inflight.insert(id, ()).map_err(err(WHAT))?;
                    claimed.push(Claimed {
                        id: to_i64(id),
                        key: rec.key,
                        account: rec.account,
                        kind: rec.kind,
                        channel: d.channel,
                        endpoint: rec.endpoint,
                        attempts: 0,
                        payload: rec.payload,
                        created_at_ns: rec.created_ns,
                    });
                } else {
                    due.insert((now, id), ()).map_err(err(WHAT))?;
                }
                by_account.insert((d.account, id), ()).map_err(err(WHAT))?;
                inserted += 1;
            }
            meta.insert("next_id", next_id).map_err(err(WHAT))?;
            let derived = meta
                .get("derived_through")
                .map_err(err(WHAT))?
                .map_or(0, |g| g.value());
            meta.insert("derived_through", derived.max(through))
                .map_err(err(WHAT))?;
        }
        tx.commit().map_err(err(WHAT))?;
        Ok((inserted, claimed))
    }

    pub(crate) fn claim(&self, now_ns: u64, limit: u32) -> Result<Vec<Claimed>, NotifyError> {
        const WHAT: &str = "claim due deliveries";
        let guard = self.db.read();
        let db = self.opened(&guard)?;
        let tx = db.begin_write().map_err(err(WHAT))?;
        let mut out = Vec::new();
        {
            let records = tx.open_table(RECORDS).map_err(err(WHAT))?;
            let mut due = tx.open_table(DUE).map_err(err(WHAT))?;
            let mut inflight = tx.open_table(INFLIGHT).map_err(err(WHAT))?;
            let mut picked = Vec::new();
            for entry in due.range((0, 0)..=(now_ns, u64::MAX)).map_err(err(WHAT))? {
                if picked.len() >= usize::try_from(limit).unwrap_or(usize::MAX) {
                    break;
                }
                let (k, _) = entry.map_err(err(WHAT))?;
                picked.push(k.value());
            }
            for (next, id) in picked {
                due.remove((next, id)).map_err(err(WHAT))?;
                let Some(g) = records.get(id).map_err(err(WHAT))? else {
                    continue;
                };
                let r = decode(g.value())?;
                inflight.insert(id, ()).map_err(err(WHAT))?;
                out.push(Claimed {
                    id: to_i64(id),
                    key: r.key,
                    account: r.account,
                    kind: r.kind,
                    channel: channel_from_code(r.channel).unwrap_or(Channel::InApp),
                    endpoint: r.endpoint,
                    attempts: r.attempts,
                    payload: r.payload,
                    created_at_ns: r.created_ns,
                });
            }
        }
        tx.commit().map_err(err(WHAT))?;
        Ok(out)
    }

    pub(crate) fn finish(&self, batch: &[Finish]) -> Result<(), NotifyError> {
        const WHAT: &str = "record delivery outcomes";
        let guard = self.db.read();
        let db = self.opened(&guard)?;
        let tx = db.begin_write().map_err(err(WHAT))?;
        {
            let mut records = tx.open_table(RECORDS).map_err(err(WHAT))?;
            let mut due = tx.open_table(DUE).map_err(err(WHAT))?;
            let mut inflight = tx.open_table(INFLIGHT).map_err(err(WHAT))?;
            for f in batch {
                let id = to_u64(f.id);
                let Some(mut r) = records
                    .get(id)
                    .map_err(err(WHAT))?
                    .map(|g| decode(g.value()))
                    .transpose()?
                else {
                    continue;
                };
                inflight.remove(id).map_err(err(WHAT))?;
                if r.status == Status::Pending.code() {
                    due.remove((r.next_ns, id)).map_err(err(WHAT))?;
                }
                r.status = f.status.code();
                r.attempts = f.attempts;
                r.next_ns = f.next_ns;
                if f.error.is_some() {
                    r.last_error.clone_from(&f.error);
                }
                if f.delivered_ns.is_some() {
                    r.delivered_ns = f.delivered_ns;
                }
                if f.status == Status::Pending {
                    due.insert((r.next_ns, id), ()).map_err(err(WHAT))?;
                }
                records
                    .insert(id, encode(&r)?.as_slice())
                    .map_err(err(WHAT))?;
            }
        }
        tx.commit().map_err(err(WHAT))?;
        Ok(())
    }

    pub(crate) fn list(&self, q: ListQuery) -> Result<Vec<DeliveryView>, NotifyError> {
        const WHAT: &str = "list deliveries";
        let guard = self.db.read();
        let db = self.opened(&guard)?;
        let tx = db.begin_read().map_err(err(WHAT))?;
        let records = tx.open_table(RECORDS).map_err(err(WHAT))?;
        let by_account = tx.open_table(BY_ACCOUNT).map_err(err(WHAT))?;
        let end = q.before_id.map_or(u64::MAX, to_u64);
        let mut out = Vec::new();
        let range = by_account
            .range((q.account, 0)..(q.account, end))
            .map_err(err(WHAT))?;
        for entry in range.rev().take(LIST_SCAN_MAX) {
            if out.len() >= usize::try_from(q.limit).unwrap_or(usize::MAX) {
                break;
            }
            let (k, _) = entry.map_err(err(WHAT))?;
            let id = k.value().1;
            let Some(g) = records.get(id).map_err(err(WHAT))? else {
                continue;
            };
            let r = decode(g.value())?;
            let channel = channel_from_code(r.channel).unwrap_or(Channel::InApp);
            let status = Status::from_code(r.status).unwrap_or(Status::Pending);
            if q.endpoint.is_some_and(|e| e != (channel, r.endpoint))
                || q.status.is_some_and(|s| s != status)
            {
                continue;
            }
            out.push(DeliveryView {
                id: to_i64(id),
                key: r.key,
                kind: r.kind,
                channel,
                endpoint: r.endpoint,
                status,
                attempts: r.attempts,
                last_error: r.last_error,
                created_at_ns: r.created_ns,
                next_attempt_at_ns: (status == Status::Pending).then_some(r.next_ns),
                delivered_at_ns: r.delivered_ns,
            });
        }
        Ok(out)
    }

    /// Puts the delivery `id` back to pending if `ok` says so; whether it did.
    fn revive(
        records: &mut redb::Table<'_, u64, &[u8]>,
        due: &mut redb::Table<'_, (u64, u64), ()>,
        id: u64,
        now_ns: u64,
        ok: impl Fn(&Rec) -> bool,
    ) -> Result<bool, NotifyError> {
        const WHAT: &str = "replay deliveries";
        let Some(mut r) = records
            .get(id)
            .map_err(err(WHAT))?
            .map(|g| decode(g.value()))
            .transpose()?
        else {
            return Ok(false);
        };
        if !ok(&r) {
            return Ok(false);
        }
        r.status = Status::Pending.code();
        r.attempts = 0;
        r.next_ns = now_ns;
        due.insert((now_ns, id), ()).map_err(err(WHAT))?;
        records
            .insert(id, encode(&r)?.as_slice())
            .map_err(err(WHAT))?;
        Ok(true)
    }

    pub(crate) fn replay(&self, account: u64, id: i64, now_ns: u64) -> Result<bool, NotifyError> {
        const WHAT: &str = "replay a delivery";
        let guard = self.db.read();
        let db = self.opened(&guard)?;
        let tx = db.begin_write().map_err(err(WHAT))?;
        let done = {
            let mut records = tx.open_table(RECORDS).map_err(err(WHAT))?;
            let mut due = tx.open_table(DUE).map_err(err(WHAT))?;
            let ended = [Status::Dead.code(), Status::Canceled.code()];
            Self::revive(&mut records, &mut due, to_u64(id), now_ns, |r| {
                r.account == account && ended.contains(&r.status)
            })?
        };
        tx.commit().map_err(err(WHAT))?;
        Ok(done)
    }

    pub(crate) fn replay_dead(
        &self,
        account: u64,
        channel: Channel,
        endpoint: u64,
        now_ns: u64,
    ) -> Result<u64, NotifyError> {
        const WHAT: &str = "replay dead deliveries";
        let guard = self.db.read();
        let db = self.opened(&guard)?;
        let tx = db.begin_write().map_err(err(WHAT))?;
        let mut n = 0;
        {
            let mut records = tx.open_table(RECORDS).map_err(err(WHAT))?;
            let mut due = tx.open_table(DUE).map_err(err(WHAT))?;
            let by_account = tx.open_table(BY_ACCOUNT).map_err(err(WHAT))?;
            let mut ids = Vec::new();
            for entry in by_account
                .range((account, 0)..=(account, u64::MAX))
                .map_err(err(WHAT))?
            {
                ids.push(entry.map_err(err(WHAT))?.0.value().1);
            }
            let code = channel_code(channel);
            for id in ids {
                if Self::revive(&mut records, &mut due, id, now_ns, |r| {
                    r.channel == code && r.endpoint == endpoint && r.status == Status::Dead.code()
                })? {
                    n += 1;
                }
            }
        }
        tx.commit().map_err(err(WHAT))?;
        Ok(n)
    }
}
