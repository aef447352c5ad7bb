//! A primary and a hot standby on one PostgreSQL journal (DESIGN §9), with the real server
//! processes. Clients send orders with unique client order ids to the primary and record
//! every acknowledgement; each round the primary is either killed (SIGKILL) or paused
//! (SIGSTOP) under that load, the standby takes over, and then:
//! - every acknowledged order is in the journal exactly once, and every unanswered one,
//!   retried on the new primary with its client order id, is resolved (its journaled order,
//!   or a new one) — never twice;
//! - the journal's writer tokens never go back: no two writers ever;
//! - a paused primary woken after the takeover writes nothing and exits with status 3;
//! - a new standby follows the new primary, and at the end its state hash, the primary's
//!   clean-stop hash and a fresh replay's agree.
//!
//! `BOURSE_FAILOVER_ROUNDS` (default 2: one kill, one pause) sets the rounds; each prints
//! its takeover time ("takeover: …"), which `scripts/failover-bench.sh` summarises.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value;
use support::load::{Ledger, SYMBOLS, check_acks, env_u64, record, retry_unknown, spawn_load};
use support::{Client, Rng, Server, Store, database_url, fresh_schema, pg_reader, replay_journal};

const EXTRA: [(&str, &str); 4] = [
    // Frequent snapshots, so a standby starts from one.
    ("BOURSE__ENGINE__SNAPSHOT_EVERY", "400"),
    ("BOURSE__HA__LEASE_TTL_MS", "1000"),
    ("BOURSE__HA__RENEW_MS", "250"),
    ("BOURSE__HA__POLL_MS", "50"),
];

fn signal(server: &Server, sig: &str) {
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success()
    );
}

/// The writers' fencing tokens, row by row, never go back (and the seqs have no gap).
fn check_tokens(store: &Store) -> Vec<i64> {
    let j = pg_reader(store);
    let end = j.refresh_end().unwrap();
    let rows = j.writer_tokens(bourse_core::Seq(1), end).unwrap();
    assert_eq!(rows.len() as u64, end.0, "one row per seq");
    let mut writers = Vec::new();
    for (i, (seq, token)) in rows.iter().enumerate() {
        assert_eq!(seq.0, i as u64 + 1);
        if writers.last() != Some(token) {
            assert!(
                writers.last().is_none_or(|t| t < token),
                "seq {}: token {token} after {writers:?}: two writers",
                seq.0
            );
            writers.push(*token);
        }
    }
    writers
}

/// Waits until the standby has applied the whole journal and hashed that state.
fn caught_up_hash(rt: &tokio::runtime::Runtime, standby: &Server) -> (u64, String) {
    let c = Client::new(&standby.base);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, h) = rt.block_on(c.get("/healthz")).unwrap();
        assert_eq!(s, 503, "{h}");
        assert_eq!(h["status"], "standby", "{h}");
        let sb = &h["standby"];
        let applied = sb["applied_seq"].as_u64().unwrap();
        if applied == sb["journal_end"].as_u64().unwrap()
            && sb["state_hash_seq"].as_u64() == Some(applied)
        {
            return (applied, sb["state_hash"].as_str().unwrap().to_owned());
        }
        assert!(
            Instant::now() < deadline,
            "the standby did not catch up: {h}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn failover_under_load_loses_and_doubles_nothing() {
    let rounds = usize::try_from(env_u64("BOURSE_FAILOVER_ROUNDS", 2)).unwrap();
    let seed = env_u64("BOURSE_FAILOVER_SEED", 0xfa11);
    let store = Store::Postgres {
        url: database_url(),
        schema: fresh_schema("failover"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut primary = Server::start(&store, &EXTRA);
    let symbols: Vec<&str> = SYMBOLS.iter().map(|s| s.0).collect();
    let accounts = rt.block_on(Client::new(&primary.base).setup_accounts(4, &symbols));
    let mut standby = Server::start_standby(&store, &EXTRA);
    // Before any takeover: the standby answers only its health and metrics, and refuses the
    // rest of the API.
    let scrape = || {
        rt.block_on(async {
            reqwest::get(format!("{}/metrics", standby.base))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    };
    // Its first look at the lease comes just after it prints its address.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut metrics = scrape();
    while !(metrics.contains("bourse_lease_token 1") && metrics.contains("state_hash"))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
        metrics = scrape();
    }
    for m in [
        "bourse_standby 1",
        "bourse_standby_applied_seq ",
        "bourse_lease_token 1",
        "bourse_standby_state_info{state_hash=\"",
    ] {
        assert!(metrics.contains(m), "{m:?} not in {metrics}");
    }
    let (s, v) = rt
        .block_on(Client::new(&standby.base).get("/v1/assets"))
        .unwrap();
    assert_eq!((s, v["code"].as_str()), (503, Some("STANDBY")), "{v}");
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut rng = Rng(seed);
    for round in 0..rounds {
        let client = Client::new(&primary.base);
        let (stop, tasks) = spawn_load(&rt, &client, &accounts, round, seed, &ledger);
        std::thread::sleep(Duration::from_millis(500 + rng.below(1_000)));
        let paused = round % 2 == 1;
        let t0 = Instant::now();
        signal(&primary, if paused { "-STOP" } else { "-KILL" });
        let line = standby.wait_takeover(Duration::from_secs(30));
        let listening = t0.elapsed();
        assert!(line.contains("took over at seq"), "{line}");
        // The first order the new primary answers.
        let new = Client::new(&standby.base);
        let body = support::load::order(&mut rng, &accounts[0], &format!("probe-{round}"));
        let answered = loop {
            let r = rt.block_on(new.post("/v1/orders", body.clone()));
            if let Ok((200, _)) = r {
                let t = t0.elapsed();
                assert!(record(&ledger, &format!("probe-{round}"), &body, r));
                break t;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "{r:?}");
            std::thread::sleep(Duration::from_millis(5));
        };
        eprintln!(
            "takeover: round {round} ({}) listening after {} ms, first order answered after {} ms",
            if paused { "SIGSTOP" } else { "SIGKILL" },
            listening.as_millis(),
            answered.as_millis()
        );
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if paused {
            // Woken after its lease was taken: it must not write, and it steps down.
            signal(&primary, "-CONT");
            let deadline = Instant::now() + Duration::from_secs(20);
            let status = loop {
                if let Some(s) = primary.child.try_wait().unwrap() {
                    break s;
                }
                assert!(Instant::now() < deadline, "the deposed primary still runs");
                std::thread::sleep(Duration::from_millis(20));
            };
            assert_eq!(
                status.code(),
                Some(3),
                "the deposed primary exited {status}"
            );
        } else {
            primary.child.wait().unwrap();
        }
        for t in tasks {
            rt.block_on(t).unwrap();
        }
        let writers = check_tokens(&store);
        assert_eq!(writers.len(), round + 2, "one writer per term: {writers:?}");
        let replayed = replay_journal(&store);
        check_acks(&ledger.lock(), &replayed);
        // What had no answer, retried with its client order id on the new primary: the
        // journaled order if the old primary made it durable, else a new one.
        retry_unknown(&rt, &new, &ledger, &replayed);
        let (_, health) = rt.block_on(new.get("/healthz")).unwrap();
        assert_eq!(health["role"], "primary", "{health}");
        assert_eq!(
            health["took_over"]["token"].as_i64(),
            writers.last().copied(),
            "{health}"
        );
        // The promoted standby leads; a new standby follows it.
        primary = std::mem::replace(&mut standby, Server::start_standby(&store, &EXTRA));
    }
    // The standby's state is the primary's: same hash at the same seq as a fresh replay.
    let (seq, hash) = caught_up_hash(&rt, &standby);
    let replayed = replay_journal(&store);
    check_acks(&ledger.lock(), &replayed);
    assert_eq!((seq, hash), (replayed.seq, replayed.hash.to_string()));
    let (_, h): (u16, Value) = rt
        .block_on(Client::new(&primary.base).get("/healthz"))
        .unwrap();
    assert_eq!(h["status"], "ok", "{h}");
    // A standby stops on SIGTERM without taking over; then the primary's clean stop.
    let said = standby.stop();
    assert!(said.contains("bourse standby stopped"), "{said}");
    let said = primary.stop();
    assert!(
        said.contains(&format!(
            "stopped at seq {} (state hash {})",
            replayed.seq, replayed.hash
        )),
        "{said}"
    );
    store.cleanup();
}
