//! Crash recovery with the real server process: clients send orders with unique client order
//! ids and record every acknowledgement; the server is killed with SIGKILL at a random
//! moment under load; the journal must then hold every acknowledged order exactly once, and
//! the restarted server must recover exactly the state a fresh replay of the journal gives.
//!
//! `BOURSE_CRASH_ROUNDS` (default 3) sets the number of kills per backend; hundreds run
//! the same way. `BOURSE_CRASH_SEED` picks the kill moments and the order flow.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use support::load::{Ledger, SYMBOLS, check_acks, env_u64, retry_unknown, spawn_load};
use support::{Client, Rng, Server, Store, database_url, fresh_schema, replay_journal};

fn crash_rounds(store: &Store) {
    let rounds = usize::try_from(env_u64("BOURSE_CRASH_ROUNDS", 3)).unwrap();
    let seed = env_u64("BOURSE_CRASH_SEED", 0x5eed);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Frequent snapshots, so recoveries start from one and replay only the tail.
    let extra = [("BOURSE__ENGINE__SNAPSHOT_EVERY", "400")];
    let mut server = Server::start(store, &extra);
    assert_eq!(server.recovered_seq, 0);
    let symbols: Vec<&str> = SYMBOLS.iter().map(|s| s.0).collect();
    let accounts = rt.block_on(Client::new(&server.base).setup_accounts(4, &symbols));
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut rng = Rng(seed);
    let mut total_sent = 0;
    for round in 0..rounds {
        let client = Client::new(&server.base);
        let (_stop, tasks) = spawn_load(&rt, &client, &accounts, round, seed, &ledger);
        std::thread::sleep(Duration::from_millis(300 + rng.below(1_200)));
        server.kill();
        for t in tasks {
            total_sent += rt.block_on(t).unwrap();
        }
        let replayed = replay_journal(store);
        check_acks(&ledger.lock(), &replayed);
        server = Server::start(store, &extra);
        assert_eq!(
            (server.recovered_seq, server.recovered_hash.clone()),
            (replayed.seq, replayed.hash.to_string()),
            "round {round}: the restarted server recovered a different state than a fresh replay"
        );
        let (_, health) = rt
            .block_on(Client::new(&server.base).get("/healthz"))
            .unwrap();
        let from = health["recovered"]["snapshot_seq"].as_u64().unwrap();
        assert!(
            from > 0 && from <= replayed.seq,
            "recovery starts from a snapshot: {health}"
        );
        // Retry what had no answer, with the same client order id: it is either new (the
        // command never became durable) or a duplicate of the journaled one — never twice.
        let client = Client::new(&server.base);
        retry_unknown(&rt, &client, &ledger, &replayed);
        let l = ledger.lock();
        eprintln!(
            "round {round}: seq {} recovered (snapshot at {from} + tail), {} acknowledged so far, {} sent",
            replayed.seq,
            l.acked.len(),
            total_sent
        );
    }
    // A clean stop commits and snapshots; its hash is a fresh replay's, and `bourse replay`
    // (a separate process) agrees.
    let said = server.stop();
    let replayed = replay_journal(store);
    check_acks(&ledger.lock(), &replayed);
    assert!(
        said.contains(&format!(
            "stopped at seq {} (state hash {})",
            replayed.seq, replayed.hash
        )),
        "{said}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bourse"))
        .arg("replay")
        .envs(store.env())
        .env("BOURSE__LOG__LEVEL", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "seq {} state hash {}",
            replayed.seq, replayed.hash
        )) && text.contains(&format!("matched the snapshot at seq {}", replayed.seq)),
        "{text}"
    );
    let acked = ledger.lock().acked.len();
    assert!(
        acked > 100 * rounds,
        "too little load to mean anything: {acked} acks"
    );
}

#[test]
fn sigkill_under_load_loses_nothing_acknowledged_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    crash_rounds(&store);
}

#[test]
fn sigkill_under_load_loses_nothing_acknowledged_postgres_journal() {
    let store = Store::Postgres {
        url: database_url(),
        schema: fresh_schema("crash"),
    };
    crash_rounds(&store);
    store.cleanup();
}
