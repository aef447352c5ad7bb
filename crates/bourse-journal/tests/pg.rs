//! PostgreSQL-specific journal tests: damage in the tables, lost acknowledgements, a
//! connection killed in the middle of an append, the single-writer lock. Every test works
//! in a schema of its own (see `support`), against the real server.
#![allow(clippy::unwrap_used)]

mod support;

use std::thread;
use std::time::Duration;

use bourse_core::{
    AccountId, ClientOrderId, Command, OrderRequest, OrderType, Price, Qty, SelfTradePrevention,
    Seq, Sequenced, Side, Symbol, TimeInForce, UnixNanos, codec,
};
use bourse_journal::{Journal, JournalError, Location, PgJournal, PgJournalOptions, PgWrite};
use support::Schema;

fn cmd(seq: u64) -> Sequenced {
    Sequenced {
        seq: Seq(seq),
        ts: UnixNanos::new(1_700_000_000_000_000_000 + seq),
        cmd: Command::SubmitOrder(OrderRequest {
            account: AccountId::new(seq % 50 + 1),
            symbol: Symbol::new("ACME").unwrap(),
            client_order_id: Some(ClientOrderId::new(&format!("c{seq}")).unwrap()),
            side: if seq.is_multiple_of(2) {
                Side::Buy
            } else {
                Side::Sell
            },
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            qty: Qty::shares(100),
            limit_price: Some(Price::from_raw(
                1_000_000 + i64::try_from(seq % 100).unwrap(),
            )),
            stop_price: None,
            post_only: false,
            stp: SelfTradePrevention::CancelIncoming,
            opts: Default::default(),
        }),
    }
}

fn batch(from: u64, to: u64) -> Vec<Sequenced> {
    (from..=to).map(cmd).collect()
}

/// Calls `op` until it succeeds, as the journal writer does: retrying only what the journal
/// calls retryable. Bounded, so a journal that never recovers fails the test.
fn retry<T>(mut op: impl FnMut() -> Result<T, JournalError>) -> (T, usize) {
    let mut failures = 0;
    loop {
        match op() {
            Ok(v) => return (v, failures),
            Err(e) if e.is_retryable() && failures < 100 => {
                failures += 1;
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("after {failures} retries: {e}"),
        }
    }
}

/// A journal of seqs 1..=n in a fresh schema.
fn journal_of(schema: &Schema, n: u64) -> PgJournal {
    let mut j = PgJournal::open(schema.options()).unwrap();
    j.append(&batch(1, n)).unwrap();
    j
}

#[test]
fn the_connection_is_named_and_migrations_are_idempotent() {
    let schema = Schema::fresh("named");
    let j = journal_of(&schema, 3);
    let pid = j.backend_pid().unwrap();
    let mut side = schema.side();
    assert_eq!(
        side.text(&format!(
            "SELECT application_name::text FROM pg_stat_activity WHERE pid = {pid}"
        ))
        .as_deref(),
        Some(bourse_journal::pg::APPLICATION_NAME)
    );
    drop(j);
    // Opening again applies nothing new and finds the journal as it was.
    let j = PgJournal::open(schema.options()).unwrap();
    assert_eq!(j.durable_seq(), Seq(3));
    // Every migration of the repository, once.
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".sql"))
        })
        .count();
    assert_eq!(
        side.i64("SELECT count(*) FROM _sqlx_migrations WHERE success"),
        Some(i64::try_from(files).unwrap())
    );
}

#[test]
fn a_gap_in_the_table_refuses_to_open() {
    let schema = Schema::fresh("gap");
    drop(journal_of(&schema, 20));
    schema
        .side()
        .exec("DELETE FROM journal WHERE seq IN (7, 8)");
    let err = PgJournal::open(schema.options()).unwrap_err();
    assert!(
        matches!(
            &err,
            JournalError::Gap { expected: 7, found: 9, at: Location::Row { table, seq: 9 } }
                if table == &format!("{}.journal", schema.name)
        ),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("refusing to start"), "{err}");

    // A journal whose first rows are gone has a gap at its start.
    schema.side().exec("DELETE FROM journal WHERE seq < 7");
    let err = PgJournal::open(schema.options()).unwrap_err();
    assert!(
        matches!(
            err,
            JournalError::Gap {
                expected: 1,
                found: 9,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_corrupt_payload_is_refused_naming_its_seq() {
    let schema = Schema::fresh("corrupt");
    drop(journal_of(&schema, 20));
    let mut side = schema.side();
    // The newest record is decoded at open.
    side.exec("UPDATE journal SET payload = '\\x01ff' WHERE seq = 20");
    let err = PgJournal::open(schema.options()).unwrap_err();
    assert!(
        matches!(
            &err,
            JournalError::Corrupt {
                at: Location::Row { seq: 20, .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.is_retryable());

    // An older one when it is read; records before it still read.
    side.exec(&format!(
        "UPDATE journal SET payload = '\\x{}' WHERE seq = 20",
        hex(&codec::encode(&cmd(20)).unwrap())
    ));
    side.exec(&format!(
        "UPDATE journal SET payload = '\\x{}' WHERE seq = 10",
        hex(&codec::encode(&cmd(11)).unwrap())
    ));
    let j = PgJournal::open(schema.options()).unwrap();
    let err = j.read_from(Seq(1)).unwrap_err();
    assert!(
        matches!(&err, JournalError::Corrupt { at: Location::Row { seq: 10, .. }, what }
            if what.contains("holds seq 11")),
        "{err}"
    );
    assert_eq!(j.read_from(Seq(11)).unwrap(), batch(11, 20));
    let mut upto_9 = Vec::new();
    let err = j
        .for_each_from(Seq(1), &mut |r| {
            upto_9.push(r);
            Ok(())
        })
        .unwrap_err();
    assert!(matches!(err, JournalError::Corrupt { .. }), "{err}");
    assert_eq!(
        upto_9,
        batch(1, 9),
        "everything before the damage was handed over"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The commit of seqs 11..=15 lands but its acknowledgement is lost: simulated by the rows
/// appearing (written by a side connection, as the journal's own COPY/INSERT would have)
/// without the journal knowing. Its append then fails (the rows exist), the journal is in
/// doubt, and the retry learns the commit happened and skips it.
#[test]
fn a_lost_acknowledgement_is_retried_without_duplicates_or_gaps() {
    for write in [PgWrite::Unnest, PgWrite::Copy] {
        let schema = Schema::fresh(&format!("lostack_{write:?}"));
        let mut j = PgJournal::open(schema.options().write(write)).unwrap();
        j.append(&batch(1, 10)).unwrap();
        let mut side = schema.side();
        for rec in batch(11, 15) {
            side.insert_row(
                i64::try_from(rec.seq.0).unwrap(),
                i64::try_from(rec.ts.get()).unwrap(),
                &codec::encode(&rec).unwrap(),
            );
        }
        let err = j.append(&batch(11, 15)).unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert!(j.in_doubt());
        assert_eq!(j.durable_seq(), Seq(10), "unknown is not durable");
        let ((), retries) = retry(|| j.append(&batch(11, 15)));
        assert_eq!(retries, 0);
        assert!(!j.in_doubt());
        assert_eq!(j.durable_seq(), Seq(15));
        // The writer's next batch overlaps what it retried; only the new part is added.
        j.append(&batch(11, 18)).unwrap();
        assert_eq!(j.read_from(Seq(1)).unwrap(), batch(1, 18));
        assert_eq!(side.i64("SELECT count(*) FROM journal"), Some(18));
        drop(j);
        let j = PgJournal::open(schema.options()).unwrap();
        assert_eq!(j.read_from(Seq(1)).unwrap(), batch(1, 18));
    }
}

/// Waits (bounded) until the backend `pid` is blocked on a lock.
fn wait_until_blocked(side: &mut support::Side, pid: u32) {
    for _ in 0..1000 {
        let waiting = side.text(&format!(
            "SELECT wait_event_type::text FROM pg_stat_activity WHERE pid = {pid}"
        ));
        if waiting.as_deref() == Some("Lock") {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    panic!("backend {pid} never blocked on the table lock");
}

/// The journal's connection is terminated while an append is in flight (held up by a table
/// lock, so the kill lands inside the statement, before any commit), and again while the
/// connection is idle. Each time the append fails as retryable, the retry reconnects and
/// settles what committed, and the journal reads back exactly 1..=n.
#[test]
fn a_terminated_connection_is_survived_exactly() {
    for write in [PgWrite::Unnest, PgWrite::Copy] {
        let schema = Schema::fresh(&format!("terminate_{write:?}"));
        let mut j = PgJournal::open(schema.options().write(write)).unwrap();
        j.append(&batch(1, 100)).unwrap();
        let pid = j.backend_pid().unwrap();

        // Mid-append: an operator holds a lock the append needs, kills the journal's
        // backend while it waits, then lets go.
        let mut operator = schema.side();
        operator.exec("BEGIN; LOCK TABLE journal IN SHARE MODE");
        let writer = thread::spawn(move || {
            let first = j.append(&batch(101, 200));
            (j, first)
        });
        wait_until_blocked(&mut operator, pid);
        let mut killer = schema.side();
        assert_eq!(
            killer.text(&format!("SELECT pg_terminate_backend({pid}, 5000)::text")),
            Some("true".to_owned())
        );
        operator.exec("ROLLBACK");
        let (mut j, first) = writer.join().unwrap();
        let err = first.unwrap_err();
        assert!(err.is_retryable(), "{write:?}: {err}");
        assert!(j.in_doubt());
        assert_eq!(j.durable_seq(), Seq(100));
        retry(|| j.append(&batch(101, 200)));
        assert_eq!(j.durable_seq(), Seq(200));
        let new_pid = j.backend_pid().unwrap();
        assert_ne!(new_pid, pid);

        // Idle: the next append finds the connection dead.
        assert_eq!(
            killer.text(&format!(
                "SELECT pg_terminate_backend({new_pid}, 5000)::text"
            )),
            Some("true".to_owned())
        );
        let err = j.append(&batch(201, 250)).unwrap_err();
        assert!(err.is_retryable(), "{write:?}: {err}");
        retry(|| j.append(&batch(201, 250)));

        // Reads survive a killed connection too (they reconnect on the retry).
        let pid = j.backend_pid().unwrap();
        killer.text(&format!("SELECT pg_terminate_backend({pid}, 5000)::text"));
        let (all, _) = retry(|| j.read_from(Seq(1)));
        assert_eq!(all, batch(1, 250), "{write:?}");
        assert_eq!(killer.i64("SELECT count(*) FROM journal"), Some(250));
        assert_eq!(killer.i64("SELECT max(seq) FROM journal"), Some(250));
    }
}

#[test]
fn a_second_writer_is_locked_out() {
    let schema = Schema::fresh("second_writer");
    let j = journal_of(&schema, 5);
    let mut opts = schema.options();
    opts.lock_wait = Duration::from_millis(100);
    let err = PgJournal::open(opts.clone()).unwrap_err();
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");
    drop(j);
    let j = PgJournal::open(opts).unwrap();
    assert_eq!(j.durable_seq(), Seq(5));
}

/// Someone else appended behind the writer's back: the journal notices when it next has to
/// settle a doubt, and refuses to go on.
#[test]
fn a_foreign_writer_is_detected_as_divergence() {
    let schema = Schema::fresh("diverged");
    let mut j = journal_of(&schema, 10);
    let mut side = schema.side();
    for rec in batch(11, 30) {
        side.insert_row(
            i64::try_from(rec.seq.0).unwrap(),
            i64::try_from(rec.ts.get()).unwrap(),
            &codec::encode(&rec).unwrap(),
        );
    }
    // The writer's own next batch collides with the foreign rows (so it is in doubt about
    // 11..=15), and the end it then finds (30) is neither its acknowledged end nor its own.
    let err = j.append(&batch(11, 15)).unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let err = j.append(&batch(11, 15)).unwrap_err();
    assert!(
        matches!(
            err,
            JournalError::Diverged {
                acknowledged: 10,
                in_flight: 15,
                found: 30,
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.is_retryable());
}

#[test]
fn a_damaged_newest_snapshot_falls_back_to_the_one_before() {
    let schema = Schema::fresh("snapshot");
    let mut j = PgJournal::open(schema.options()).unwrap();
    j.save_snapshot(Seq(10), b"ten").unwrap();
    j.save_snapshot(Seq(20), b"twenty").unwrap();
    schema
        .side()
        .exec("UPDATE snapshots SET payload = 'twentz'::bytea WHERE seq = 20");
    assert_eq!(
        j.latest_snapshot().unwrap(),
        Some((Seq(10), b"ten".to_vec()))
    );
}

#[test]
fn bad_options_are_refused_before_connecting() {
    let opts = PgJournalOptions::new("postgres://u:secret@127.0.0.1:1/none").schema("Not-OK");
    let err = PgJournal::open(opts.clone()).unwrap_err();
    assert!(matches!(err, JournalError::Config(_)), "{err}");
    assert!(!format!("{opts:?}").contains("secret"), "{opts:?}");
    let err = PgJournal::open(PgJournalOptions::new("not a url")).unwrap_err();
    assert!(matches!(err, JournalError::Config(_)), "{err}");
}

#[test]
fn an_unreachable_server_is_a_retryable_connect_error() {
    // Port 1 on localhost: nothing listens, the connection is refused at once.
    let err = PgJournal::open(PgJournalOptions::new(
        "postgres://postgres@127.0.0.1:1/test",
    ))
    .unwrap_err();
    assert!(
        matches!(
            err,
            JournalError::Database {
                what: "connect",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_retryable());
}

fn lease(schema: &Schema, holder: &str, ttl_ms: u64) -> bourse_journal::Lease {
    bourse_journal::Lease::connect(bourse_journal::LeaseOptions {
        url: support::database_url(),
        schema: Some(schema.name.clone()),
        holder: holder.to_owned(),
        ttl: Duration::from_millis(ttl_ms),
        io_timeout: Duration::from_secs(10),
    })
    .unwrap()
}

fn fenced(schema: &Schema, token: i64) -> PgJournal {
    let mut o = schema.options();
    o.fence = Some(token);
    PgJournal::open(o).unwrap()
}

/// A writer whose lease was taken over can append nothing more — not when its session is
/// still open, not after reconnecting — and the rows say who wrote them.
#[test]
fn a_deposed_writer_is_fenced_off_and_the_rows_record_their_writer() {
    let schema = Schema::fresh("fenced");
    let mut a = lease(&schema, "a", 300);
    let mut b = lease(&schema, "b", 300);
    let ta = a.try_acquire().unwrap().expect("a free lease is taken");
    assert_eq!(b.try_acquire().unwrap(), None, "a live lease is not taken");
    assert_eq!(b.view().unwrap().unwrap().holder, "a");
    let mut ja = fenced(&schema, ta);
    ja.append(&batch(1, 3)).unwrap();
    // A renews in time; then it stops renewing (a pause), and the lease lapses.
    thread::sleep(Duration::from_millis(150));
    assert!(a.renew(ta).unwrap());
    assert_eq!(b.try_acquire().unwrap(), None);
    thread::sleep(Duration::from_millis(450));
    let tb = b.try_acquire().unwrap().expect("a lapsed lease is taken");
    assert_eq!(tb, ta + 1, "the token rises by one");
    // A wakes up: its renewal and its append (on its old, still open session) both fail.
    assert!(!a.renew(ta).unwrap());
    let e = ja.append(&batch(4, 4)).unwrap_err();
    assert!(
        matches!(e, JournalError::Fenced { token, current } if token == ta && current == tb),
        "{e}"
    );
    assert!(!e.is_retryable());
    assert_eq!(ja.durable_seq(), Seq(3));
    let e = ja.save_snapshot(Seq(3), b"state").unwrap_err();
    assert!(matches!(e, JournalError::Fenced { .. }), "{e}");
    // B ends A's session (it holds the writer lock) and writes on.
    assert_eq!(b.fence_out().unwrap(), 1);
    let mut jb = fenced(&schema, tb);
    assert_eq!(jb.durable_seq(), Seq(3));
    jb.append(&batch(4, 5)).unwrap();
    // A's next try finds its session ended (retryable: the outcome is in doubt); its retry
    // reconnects and is refused before it could wait for B's lock.
    let e = ja.append(&batch(4, 4)).unwrap_err();
    assert!(e.is_retryable(), "{e}");
    let e = ja.append(&batch(4, 4)).unwrap_err();
    assert!(matches!(e, JournalError::Fenced { .. }), "{e}");
    let tokens: Vec<i64> = jb
        .writer_tokens(Seq(1), Seq(5))
        .unwrap()
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert_eq!(tokens, vec![ta, ta, ta, tb, tb]);
    // A clean stop releases the lease: anyone may take it at once.
    b.release(tb).unwrap();
    assert_eq!(a.try_acquire().unwrap(), Some(tb + 1));
}

/// A reader follows a writer without its lock: woken by the append's notification, it
/// reads up to the new end; it can neither append nor save snapshots.
#[test]
fn a_reader_follows_the_writer_and_is_woken_by_each_append() {
    let schema = Schema::fresh("reader");
    let mut writer = PgJournal::open(schema.options()).unwrap();
    writer.append(&batch(1, 2)).unwrap();
    let mut reader = PgJournal::open_reader(schema.options()).unwrap();
    assert_eq!(reader.durable_seq(), Seq(2));
    let signal = bourse_journal::AppendSignal::start(&support::database_url());
    // The listener may still be connecting: append until a wake-up comes (bounded).
    let mut next = 3;
    let woke = (0..50).any(|_| {
        writer.append(&batch(next, next)).unwrap();
        next += 1;
        signal.wait(Duration::from_millis(200))
    });
    assert!(woke, "no notification after {} appends", next - 3);
    assert_eq!(reader.refresh_end().unwrap(), Seq(next - 1));
    let seqs: Vec<u64> = reader
        .read_from(Seq(1))
        .unwrap()
        .iter()
        .map(|r| r.seq.0)
        .collect();
    assert_eq!(seqs, (1..next).collect::<Vec<_>>());
    assert!(matches!(
        reader.append(&batch(next, next)),
        Err(JournalError::Config(_))
    ));
    assert!(reader.save_snapshot(Seq(1), b"x").is_err());
}
