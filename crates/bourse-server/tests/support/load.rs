//! Order-flow load over HTTP with a ledger of every acknowledgement, and the check that
//! the journal holds each acknowledged outcome exactly once.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use serde_json::{Value, json};

use super::{Client, Replayed, Rng};

pub const SYMBOLS: [(&str, i64); 2] = [("AAPL", 19_000), ("MSFT", 42_000)]; // reference, cents
pub const CLIENTS: usize = 24;

/// What a client was told about each client order id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    /// Accepted as this order id.
    Accepted(String),
    /// Rejected by the engine with this code (durable too: the command was journaled).
    Rejected(String),
}

#[derive(Default)]
pub struct Ledger {
    pub acked: HashMap<String, Ack>,
    /// Sent, but no answer (connection cut by the kill, or 503/504): outcome unknown.
    pub unknown: Vec<(String, Value)>,
}

pub fn order(rng: &mut Rng, account: &str, cid: &str) -> Value {
    let (symbol, reference) = SYMBOLS[rng.index(SYMBOLS.len())];
    let side = if rng.below(2) == 0 { "buy" } else { "sell" };
    // Within ±2% of the reference, so orders cross often and trades happen.
    let off = i64::try_from(rng.below(81)).unwrap() - 40;
    let cents = reference + reference * off / 2_000;
    let price = format!("{}.{:02}", cents / 100, cents % 100);
    let tif = if rng.below(5) == 0 { "ioc" } else { "gtc" };
    json!({
        "account_id": account,
        "symbol": symbol,
        "side": side,
        "type": "limit",
        "time_in_force": tif,
        "qty": (1 + rng.below(20)).to_string(),
        "limit_price": price,
        "client_order_id": cid,
    })
}

/// Records what one answer said. False if the server is gone.
pub fn record(
    ledger: &Mutex<Ledger>,
    cid: &str,
    body: &Value,
    r: reqwest::Result<(u16, Value)>,
) -> bool {
    let mut l = ledger.lock();
    match r {
        Ok((200, v)) => {
            let id = v["id"].as_str().unwrap().to_owned();
            assert_eq!(v["client_order_id"], cid, "{v}");
            let prev = l.acked.insert(cid.to_owned(), Ack::Accepted(id));
            assert!(prev.is_none(), "{cid} acknowledged twice");
            true
        }
        Ok((404 | 409 | 422, v)) => {
            let code = v["code"].as_str().unwrap().to_owned();
            l.acked.insert(cid.to_owned(), Ack::Rejected(code));
            true
        }
        Ok((503 | 504, _)) => {
            l.unknown.push((cid.to_owned(), body.clone()));
            true
        }
        Ok((s, v)) => panic!("unexpected answer {s}: {v}"),
        Err(_) => {
            l.unknown.push((cid.to_owned(), body.clone()));
            false
        }
    }
}

pub async fn load(
    client: Client,
    accounts: Vec<String>,
    round: usize,
    task: usize,
    seed: u64,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
) -> usize {
    let mut rng = Rng(seed ^ ((round as u64) << 32) ^ task as u64);
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) {
        let cid = format!("r{round}-t{task}-{sent}");
        let account = &accounts[rng.index(accounts.len())];
        let body = order(&mut rng, account, &cid);
        let r = client.post("/v1/orders", body.clone()).await;
        sent += 1;
        if !record(&ledger, &cid, &body, r) {
            break;
        }
    }
    sent
}

/// Every acknowledgement is in the journal, and no order is there twice.
pub fn check_acks(ledger: &Ledger, r: &Replayed) {
    for (cid, ids) in &r.accepted {
        assert_eq!(ids.len(), 1, "{cid} accepted {} times", ids.len());
    }
    let c = |s: &str| s.parse::<bourse_core::ClientOrderId>().unwrap();
    for (cid, ack) in &ledger.acked {
        match ack {
            Ack::Accepted(id) => {
                let got = r.accepted.get(&c(cid));
                assert_eq!(
                    got.map(|v| v[0].get().to_string()),
                    Some(id.clone()),
                    "acknowledged order {cid} (id {id}) is not in the journal"
                );
            }
            Ack::Rejected(code) => {
                let got = r.rejected.get(&c(cid)).cloned().unwrap_or_default();
                assert!(
                    got.iter().any(|g| g == code),
                    "acknowledged rejection {cid} ({code}) is not in the journal: {got:?}"
                );
            }
        }
    }
}

/// `CLIENTS` tasks of [`load`] against `client` on `rt`; set the flag to stop them, then
/// join the tasks (each returns how many orders it sent).
pub fn spawn_load(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    accounts: &[String],
    round: usize,
    seed: u64,
    ledger: &Arc<Mutex<Ledger>>,
) -> (Arc<AtomicBool>, Vec<tokio::task::JoinHandle<usize>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = (0..CLIENTS)
        .map(|t| {
            rt.spawn(load(
                client.clone(),
                accounts.to_vec(),
                round,
                t,
                seed,
                ledger.clone(),
                stop.clone(),
            ))
        })
        .collect();
    (stop, tasks)
}

/// Resends every order that had no answer, with its client order id, to `client` (a
/// restarted or new primary): an order the journal holds is answered as that same order
/// (or refused as a duplicate), one it does not is placed now — never twice.
pub fn retry_unknown(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    ledger: &Arc<Mutex<Ledger>>,
    replayed: &Replayed,
) {
    let unknown = std::mem::take(&mut ledger.lock().unknown);
    for (cid, body) in unknown {
        let r = rt.block_on(client.post("/v1/orders", body.clone()));
        let journaled = replayed
            .accepted
            .get(&cid.parse().unwrap())
            .map(|ids| ids[0]);
        match (&r, journaled) {
            (Ok((200, v)), Some(id)) => {
                assert_eq!(v["id"], id.get().to_string(), "{cid}: a different order");
            }
            (Ok((409, v)), Some(_)) => {
                assert_eq!(v["code"], "DUPLICATE_CLIENT_ORDER_ID");
                continue;
            }
            (Ok((409, _)), None) => panic!("{cid} refused as a duplicate but never journaled"),
            _ => {}
        }
        assert!(record(ledger, &cid, &body, r));
    }
}

/// A whole-number knob from the environment.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
