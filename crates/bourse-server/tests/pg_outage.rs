//! PostgreSQL trouble under load: the journal's connection is terminated several times and
//! the journal table is locked for a while (commits stall). Acknowledgements must stop
//! while the journal cannot commit — clients see 504 / 503, never a false success — and
//! resume by themselves; nothing acknowledged is lost, nothing is journaled twice, no seq
//! is skipped.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use support::load::{Ack, CLIENTS, Ledger, SYMBOLS, check_acks, load};
use support::{Client, Server, Store, database_url, fresh_schema, replay_journal};

fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-XtAqc", sql])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Terminates the server's journal connection: the session holding the journal's writer
/// lock for this schema. Returns how many sessions were terminated.
fn terminate_writer(url: &str, schema: &str) -> usize {
    let sql = format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks \
         WHERE locktype = 'advisory' AND objsubid = 2 \
         AND objid = ((hashtext('{schema}')::bigint + 4294967296) % 4294967296)::oid"
    );
    psql(url, &sql).parse().unwrap()
}

fn acked(ledger: &Mutex<Ledger>) -> usize {
    ledger
        .lock()
        .acked
        .values()
        .filter(|a| matches!(a, Ack::Accepted(_)))
        .count()
}

#[test]
fn connection_loss_and_a_stalled_database_lose_nothing_and_service_resumes() {
    let url = database_url();
    let schema = fresh_schema("outage");
    let store = Store::Postgres {
        url: url.clone(),
        schema: schema.clone(),
    };
    // A short request timeout, so the stall shows as 504 OUTCOME_UNKNOWN quickly.
    let server = Server::start(&store, &[("BOURSE__SERVER__REQUEST_TIMEOUT_MS", "1000")]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = Client::new(&server.base);
    let symbols: Vec<&str> = SYMBOLS.iter().map(|s| s.0).collect();
    let accounts = rt.block_on(client.setup_accounts(4, &symbols));
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|t| {
            rt.spawn(load(
                client.clone(),
                accounts.clone(),
                0,
                t,
                0x07a6e,
                ledger.clone(),
                stop.clone(),
            ))
        })
        .collect();

    // Waits (bounded) until acknowledgements have moved on by `n`.
    let progress = |n: usize, what: &str| {
        let start = acked(&ledger);
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked(&ledger) < start + n {
            assert!(Instant::now() < deadline, "no progress {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    progress(200, "before the first outage");

    // 1. The journal's connection is cut, three times, under load.
    let mut terminated = 0;
    for i in 0..3 {
        terminated += terminate_writer(&url, &schema);
        progress(
            200,
            &format!("after terminating the journal connection ({i})"),
        );
    }
    assert!(terminated >= 3, "terminated {terminated} sessions");

    // 2. The journal table is locked for 3 s: commits stall, acknowledgements stop, and
    // the clients are told the outcome is unknown (504) or the exchange is overloaded (503).
    let lock = {
        let url = url.clone();
        let sql = format!(
            "BEGIN; LOCK TABLE {schema}.journal IN ACCESS EXCLUSIVE MODE; \
             SELECT pg_sleep(3); COMMIT;"
        );
        std::thread::spawn(move || psql(&url, &sql))
    };
    // Once the lock is granted no commit can happen (a commit in progress would have kept it
    // from being granted); acknowledgements of commits made just before still arrive, so
    // count from a moment later.
    let granted = format!(
        "SELECT count(*) FROM pg_locks WHERE relation = '{schema}.journal'::regclass \
         AND mode = 'AccessExclusiveLock' AND granted"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while psql(&url, &granted) != "1" {
        assert!(Instant::now() < deadline, "the lock was never granted");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(500));
    let before = acked(&ledger);
    std::thread::sleep(Duration::from_millis(1_000));
    let during = acked(&ledger);
    // Mid-stall, cut the blocked writer's connection too.
    terminated += terminate_writer(&url, &schema);
    lock.join().unwrap();
    let (_, health_after_stall) = rt.block_on(client.get("/healthz")).unwrap();
    progress(200, "after the stall");
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    assert_eq!(
        during - before,
        0,
        "acknowledgements while the journal could not commit"
    );
    let unknown = ledger.lock().unknown.len();
    assert!(unknown > 0, "the stall should have left outcomes unknown");

    let (_, health) = rt.block_on(client.get("/healthz")).unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    assert!(
        health["journal"]["retries"].as_u64().unwrap() > 0,
        "the writer never had to retry: {health}"
    );
    eprintln!(
        "acknowledged {} orders, {} with unknown outcome, {terminated} connections terminated, \
         journal {}; after the stall: {}",
        acked(&ledger),
        unknown,
        health["journal"],
        health_after_stall["journal"]
    );

    server.stop();
    let replayed = replay_journal(&store);
    check_acks(&ledger.lock(), &replayed);
    store.cleanup();
}
