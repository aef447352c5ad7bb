//! The journal's safety rails with the real `bourse` process:
//! - one writer per journal: a second `bourse serve` on the same file journal or PostgreSQL
//!   schema exits with a clear message while the first keeps serving;
//! - a damaged last record of the file journal stops the start (it may have been
//!   acknowledged) until `bourse journal repair --accept-loss` drops it;
//! - a full disk under the file journal stalls acknowledgements (clients hear
//!   `OUTCOME_UNKNOWN`, never `SHUTTING_DOWN`), service resumes by itself once space is
//!   freed, and the journal holds every acknowledged order exactly once and nothing that
//!   was refused. This one mounts a small tmpfs (the tests run as root; set
//!   `BOURSE_ALLOW_NO_TMPFS=1` to skip it where that is impossible).
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value;
use support::load::{SYMBOLS, order};
use support::{Client, Rng, Server, Store, database_url, fresh_schema, replay_journal};

/// What a finished `bourse` process said.
struct Run {
    /// `None`: it was still running at the limit and was killed.
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
}

/// Runs `bourse ARGS` against `store` for at most `limit`.
fn run_bourse(store: &Store, args: &[&str], extra: &[(&str, &str)], limit: Duration) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bourse"));
    cmd.args(args)
        .env("BOURSE__SERVER__LISTEN", "127.0.0.1:0")
        .env("BOURSE__LOG__LEVEL", "warn")
        .envs(store.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Places one order with client order id `cid`; returns the answer.
fn place(rt: &tokio::runtime::Runtime, c: &Client, account: &str, cid: &str) -> (u16, Value) {
    let body = order(&mut Rng(cid.len() as u64), account, cid);
    rt.block_on(c.post("/v1/orders", body)).unwrap()
}

/// A second `bourse serve` on the journal `store` names must exit non-zero saying why
/// (`want` in its stderr) while `first` keeps acknowledging orders.
fn second_writer_refused(store: &Store, want: &[&str], limit: Duration) {
    let rt = runtime();
    let first = Server::start(store, &[]);
    let op = Client::new(&first.base);
    let accounts = rt.block_on(op.setup_accounts(1, &["AAPL", "MSFT"]));
    let (s, before) = place(&rt, &op, &accounts[0], "before-second");
    assert_eq!(s, 200, "{before}");

    let second = run_bourse(store, &["serve"], &[], limit);
    let status = second
        .status
        .unwrap_or_else(|| panic!("the second server still runs: {}", second.stderr));
    assert!(!status.success(), "the second server exited {status}");
    assert!(
        !second.stdout.contains("listening"),
        "the second server listened: {}",
        second.stdout
    );
    for w in want {
        assert!(second.stderr.contains(w), "{w:?} not in: {}", second.stderr);
    }

    // The first one never noticed.
    let (s, after) = place(&rt, &op, &accounts[0], "after-second");
    assert_eq!(s, 200, "{after}");
    let (_, health) = rt.block_on(op.get("/healthz")).unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    first.stop();
    let replayed = replay_journal(store);
    for (cid, v) in [("before-second", &before), ("after-second", &after)] {
        let ids = &replayed.accepted[&cid.parse().unwrap()];
        assert_eq!(ids.len(), 1, "{cid}");
        assert_eq!(ids[0].get().to_string(), v["id"].as_str().unwrap(), "{cid}");
    }
}

#[test]
fn a_second_server_on_the_same_file_journal_exits_and_the_first_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let store = Store::File(journal.clone());
    let shown = journal.display().to_string();
    second_writer_refused(
        &store,
        &[
            &shown,
            "is locked: another bourse process",
            "stop that process first",
        ],
        Duration::from_secs(60),
    );
}

#[test]
fn a_second_server_on_the_same_postgres_journal_exits_and_the_first_keeps_serving() {
    let schema = fresh_schema("second_writer");
    let store = Store::Postgres {
        url: database_url(),
        schema: schema.clone(),
    };
    // The second one waits for the lease to lapse (`ha.acquire_wait_ms`), in case it is a
    // restart whose predecessor crashed; the first keeps renewing it, so it gives up.
    second_writer_refused(
        &store,
        &[
            "the journal's lease is held by",
            "another primary is running; stop it first, or start this one with --standby",
        ],
        Duration::from_secs(60),
    );
    store.cleanup();
}

fn newest_segment(dir: &Path) -> PathBuf {
    let mut logs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}

#[test]
fn a_damaged_last_record_stops_the_start_until_the_loss_is_accepted() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let store = Store::File(journal.clone());
    let server = Server::start(&store, &[]);
    let op = Client::new(&server.base);
    let accounts = rt.block_on(op.setup_accounts(1, &["AAPL", "MSFT"]));
    let mut ids = Vec::new();
    for k in 0..5 {
        let (s, v) = place(&rt, &op, &accounts[0], &format!("order-{k}"));
        assert_eq!(s, 200, "{v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    server.stop();
    let before = replay_journal(&store);
    // The last command journaled is the last order.
    assert_eq!(before.accepted.len(), 5);

    // One bit of the last record flips on disk.
    let seg = newest_segment(&journal);
    let mut bytes = fs::read(&seg).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0x04;
    fs::write(&seg, &bytes).unwrap();

    let limit = Duration::from_secs(60);
    let serve = run_bourse(&store, &["serve"], &[], limit);
    assert!(
        serve.status.is_some_and(|s| !s.success()),
        "serve must refuse: {}",
        serve.stderr
    );
    for w in [
        "journal corrupted at",
        &seg.display().to_string(),
        "refusing to start",
    ] {
        assert!(serve.stderr.contains(w), "{w:?} not in: {}", serve.stderr);
    }
    assert_eq!(fs::read(&seg).unwrap(), bytes, "serve cut nothing");

    // `repair` without the flag explains and changes nothing.
    let r = run_bourse(&store, &["journal", "repair"], &[], limit);
    assert!(r.status.is_some_and(|s| !s.success()), "{}", r.stdout);
    for w in ["is corrupt at", "Nothing was changed", "--accept-loss"] {
        assert!(r.stderr.contains(w), "{w:?} not in: {}", r.stderr);
    }
    assert_eq!(fs::read(&seg).unwrap(), bytes, "repair cut nothing");

    // With the flag: the damaged record goes, what was kept is said, the snapshot taken at
    // shutdown (which covers it) is set aside.
    let r = run_bourse(&store, &["journal", "repair", "--accept-loss"], &[], limit);
    assert!(r.status.is_some_and(|s| s.success()), "{}", r.stderr);
    let kept = before.seq - 1;
    for w in [
        "DROPPED".to_owned(),
        format!("kept seqs 1..={kept}"),
        "set aside snapshot".to_owned(),
        format!("recovers to seq {kept}"),
    ] {
        assert!(r.stdout.contains(&w), "{w:?} not in: {}", r.stdout);
    }
    assert!(r.stderr.contains("DROPPED"), "logged: {}", r.stderr);

    // The server starts; the last order is gone, the others are there; trading goes on.
    let server = Server::start(&store, &[]);
    assert_eq!(server.recovered_seq, kept);
    let op = Client::new(&server.base);
    let by_cid = |cid: &str| {
        rt.block_on(op.get(&format!(
            "/v1/orders:by_client_order_id?client_order_id={cid}&account_id={}",
            accounts[0]
        )))
        .unwrap()
    };
    let (s, v) = by_cid("order-3");
    assert_eq!((s, v["id"].as_str()), (200, Some(ids[3].as_str())), "{v}");
    assert_eq!(by_cid("order-4").0, 404);
    let (s, v) = place(&rt, &op, &accounts[0], "after-repair");
    assert_eq!(s, 200, "{v}");
    server.stop();
    let after = replay_journal(&store);
    assert_eq!(after.seq, kept + 1);
}

/// Damage in an older segment cannot be cut off (every later segment would go with it):
/// `repair` refuses with and without `--accept-loss`, and changes nothing.
#[test]
fn journal_repair_refuses_damage_in_an_older_segment() {
    use bourse_core::{AccountId, Cash, Seq, Sequenced, UnixNanos};
    use bourse_journal::{FileJournal, FileJournalOptions, Journal};
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let store = Store::File(journal.clone());
    // One-byte segments: a segment per append.
    let opts = FileJournalOptions {
        segment_bytes: 1,
        ..FileJournalOptions::default()
    };
    let mut j = FileJournal::open(&journal, opts).unwrap();
    for seq in 1..=3 {
        j.append(&[Sequenced {
            seq: Seq(seq),
            ts: UnixNanos::new(seq),
            cmd: bourse_core::Command::Deposit {
                account: AccountId::new(1),
                amount: Cash::from_raw(100),
            },
        }])
        .unwrap();
    }
    drop(j);
    let first = journal.join(format!("journal-{:020}.log", 1));
    let mut bytes = fs::read(&first).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0x04;
    fs::write(&first, &bytes).unwrap();
    let before: Vec<Vec<u8>> = (1..=3)
        .map(|s| fs::read(journal.join(format!("journal-{s:020}.log"))).unwrap())
        .collect();
    let limit = Duration::from_secs(30);
    let r = run_bourse(&store, &["journal", "repair"], &[], limit);
    assert!(r.status.is_some_and(|s| !s.success()), "{}", r.stdout);
    assert!(
        r.stderr.contains("not in the newest segment"),
        "{}",
        r.stderr
    );
    let r = run_bourse(&store, &["journal", "repair", "--accept-loss"], &[], limit);
    assert!(r.status.is_some_and(|s| !s.success()), "{}", r.stdout);
    assert!(
        r.stderr.contains("cuts only the newest segment") && r.stderr.contains("refusing"),
        "{}",
        r.stderr
    );
    let after: Vec<Vec<u8>> = (1..=3)
        .map(|s| fs::read(journal.join(format!("journal-{s:020}.log"))).unwrap())
        .collect();
    assert_eq!(after, before, "repair changed the journal");
}

#[test]
fn journal_repair_leaves_a_postgres_journal_alone() {
    let store = Store::Postgres {
        url: "postgres://nobody@127.0.0.1:1/none".to_owned(),
        schema: "unused".to_owned(),
    };
    let r = run_bourse(
        &store,
        &["journal", "repair", "--accept-loss"],
        &[],
        Duration::from_secs(30),
    );
    assert!(r.status.is_some_and(|s| !s.success()), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("PostgreSQL journal, which is not repaired this way"),
        "{}",
        r.stderr
    );
}

/// A tmpfs mounted for one test, unmounted when dropped (also when the test panics).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` when mounting is impossible here and `BOURSE_ALLOW_NO_TMPFS=1` says to skip.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        let failed = match &out {
            Ok(o) if o.status.success() => return Some(Tmpfs { dir }),
            Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
            Err(e) => e.to_string(),
        };
        if std::env::var("BOURSE_ALLOW_NO_TMPFS").as_deref() == Ok("1") {
            eprintln!("SKIPPED: cannot mount a tmpfs here ({failed}); BOURSE_ALLOW_NO_TMPFS=1");
            return None;
        }
        panic!(
            "this test mounts a small tmpfs to fill it (needs root): `mount -t tmpfs` failed: \
             {failed}; set BOURSE_ALLOW_NO_TMPFS=1 to skip it"
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Fills the file system `path` is on, leaving `leave` bytes free (give or take a page).
fn fill(path: &Path, leave: u64) {
    let mut f = File::create(path).unwrap();
    let chunk = vec![0x55u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => len += n as u64,
            Err(e) if e.kind() == ErrorKind::StorageFull => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    f.set_len(len.saturating_sub(leave)).unwrap();
}

/// One order's answer.
#[derive(Debug, Clone)]
struct Answer {
    account: String,
    status: u16,
    body: Value,
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

#[test]
#[allow(clippy::too_many_lines)]
fn a_full_disk_stalls_acknowledgements_and_service_resumes_when_space_is_freed() {
    let Some(tmpfs) = Tmpfs::mount("2m") else {
        return;
    };
    let journal = tmpfs.dir.path().join("journal");
    let filler = tmpfs.dir.path().join("filler");
    let store = Store::File(journal.clone());
    // A short request timeout so the stall shows as 504 quickly; snapshots only at shutdown
    // (the genesis one is written at start, before the disk is filled).
    let server = Server::start(
        &store,
        &[
            ("BOURSE__SERVER__REQUEST_TIMEOUT_MS", "1000"),
            ("BOURSE__ENGINE__SNAPSHOT_EVERY", "0"),
        ],
    );
    let rt = runtime();
    let op = Client::new(&server.base);
    let symbols: Vec<&str> = SYMBOLS.iter().map(|s| s.0).collect();
    let accounts = rt.block_on(op.setup_accounts(4, &symbols));
    // Room for a hundred-odd orders, then none.
    fill(&filler, 12 * 1024);

    let answers: Arc<Mutex<HashMap<String, Answer>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (op, accounts, answers, stop) =
                (op.clone(), accounts.clone(), answers.clone(), stop.clone());
            rt.spawn(async move {
                let mut rng = Rng(0xF011 + t);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let cid = format!("full-{t}-{n}");
                    n += 1;
                    let account = accounts[rng.index(accounts.len())].clone();
                    let body = order(&mut rng, &account, &cid);
                    let (status, body) = op
                        .post("/v1/orders", body)
                        .await
                        .unwrap_or_else(|e| panic!("{cid}: no answer at all: {e}"));
                    answers.lock().insert(
                        cid,
                        Answer {
                            account,
                            status,
                            body,
                        },
                    );
                }
            })
        })
        .collect();
    let count = |status: u16| {
        answers
            .lock()
            .values()
            .filter(|a| a.status == status)
            .count()
    };
    let health = || rt.block_on(op.get("/healthz")).unwrap().1;
    let wait_for = |what: &str, limit: Duration, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + limit;
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    // The disk fills: the journal fails and retries, acknowledgements stop, and the waiting
    // clients hear OUTCOME_UNKNOWN.
    wait_for("the journal to fail", Duration::from_secs(20), &|| {
        let h = health();
        h["journal"]["failing"] == true || h["journal"]["failed"] == true
    });
    let h = health();
    assert_eq!(
        h["journal"]["failed"], false,
        "the journal writer gave up on a full disk instead of retrying: {h}"
    );
    wait_for("outcome-unknown answers", Duration::from_secs(10), &|| {
        count(504) >= 8
    });
    let acked_before = count(200);
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(
        count(200),
        acked_before,
        "acknowledged while the disk was full"
    );
    let h = health();
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["journal"]["failing"], true, "{h}");
    assert!(
        acked_before > 0,
        "nothing was acknowledged before the disk filled"
    );

    // Space is freed: service resumes by itself.
    fs::remove_file(&filler).unwrap();
    wait_for(
        "acknowledgements to resume",
        Duration::from_secs(20),
        &|| count(200) >= acked_before + 50,
    );
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    let h = health();
    assert_eq!(h["status"], "ok", "{h}");
    assert!(h["journal"]["retries"].as_u64().unwrap() > 0, "{h}");

    let answers = std::mem::take(&mut *answers.lock());
    let mut by_code: HashMap<String, usize> = HashMap::new();
    for a in answers.values() {
        *by_code
            .entry(format!("{} {}", a.status, code(&a.body)))
            .or_default() += 1;
    }
    eprintln!(
        "answers: {by_code:?} ({acked_before} acknowledged before the disk was full); \
         journal {}",
        h["journal"]
    );
    assert!(
        !answers.values().any(|a| code(&a.body) == "SHUTTING_DOWN"),
        "SHUTTING_DOWN while the server was not shutting down: {by_code:?}"
    );
    // Every unknown outcome resolves by its client order id on the running server.
    let mut resolved: HashMap<String, Option<String>> = HashMap::new();
    for (cid, a) in answers.iter().filter(|(_, a)| a.status == 504) {
        assert_eq!(code(&a.body), "OUTCOME_UNKNOWN", "{cid}: {}", a.body);
        let (s, v) = rt
            .block_on(op.get(&format!(
                "/v1/orders:by_client_order_id?client_order_id={cid}&account_id={}",
                a.account
            )))
            .unwrap();
        let found = match s {
            200 => Some(v["id"].as_str().unwrap().to_owned()),
            404 => None,
            _ => panic!("{cid}: looking it up answered {s}: {v}"),
        };
        resolved.insert(cid.clone(), found);
    }
    let found = resolved.values().filter(|r| r.is_some()).count();
    eprintln!(
        "outcome unknown: {} orders, {found} found by client order id, the rest 404",
        resolved.len()
    );
    server.stop();

    let replayed = replay_journal(&store);
    for (cid, ids) in &replayed.accepted {
        assert_eq!(ids.len(), 1, "{cid} accepted {} times", ids.len());
    }
    let journaled = |cid: &str| {
        let c = cid.parse().unwrap();
        (
            replayed.accepted.get(&c).map(|v| v[0].get().to_string()),
            replayed.rejected.get(&c).cloned().unwrap_or_default(),
        )
    };
    for (cid, a) in &answers {
        let (accepted, rejected) = journaled(cid);
        match a.status {
            200 => assert_eq!(
                accepted.as_deref(),
                a.body["id"].as_str(),
                "acknowledged {cid} is not in the journal"
            ),
            504 => assert_eq!(
                accepted, resolved[cid],
                "{cid}: the lookup and the journal disagree"
            ),
            // The engine's own rejections are durable outcomes, journaled.
            404 | 409 | 422 => assert!(
                rejected.iter().any(|r| *r == code(&a.body)),
                "rejection of {cid} ({}) not journaled",
                a.body
            ),
            // Refused before the engine (OVERLOADED, …): never journaled.
            _ => assert!(
                accepted.is_none() && rejected.is_empty(),
                "{cid} was refused ({} {}) yet is in the journal",
                a.status,
                a.body
            ),
        }
    }
    drop(tmpfs);
}
