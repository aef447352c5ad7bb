//! The threaded runner against the state machine it drives: same commands, same events,
//! same seqs; producers' order preserved; overload answered, never blocked on; shutdown
//! drains; every wait strategy wakes up.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bourse_core::{
    AccountId, CancelReason, Cash, ClientOrderId, Command, Event, OrderId, OrderRequest, OrderType,
    Price, Qty, SelfTradePrevention, Seq, Sequenced, Side, Symbol, Tagged, TimeInForce, UnixNanos,
};
use bourse_engine::{
    Clock, Engine, EngineConfig, Instrument, Output, Outputs, Runner, RunnerConfig, RunnerError,
    RunnerHandle, Snapshot, SubmitError, Ticket, WaitStrategy,
};
use common::{Rng, instruments};

fn engine() -> Engine {
    Engine::new(EngineConfig::default(), instruments()).unwrap()
}

/// `1000, 2000, 3000, …`: the runner's timestamps equal `seq × 1000` from a fresh start.
fn counter_clock() -> Clock {
    let mut t = 0;
    Box::new(move || {
        t += 1_000;
        UnixNanos::new(t)
    })
}

fn config(wait: WaitStrategy) -> RunnerConfig {
    RunnerConfig {
        core: None,
        wait,
        inbound_capacity: 1_024,
        journal_capacity: 16,
        events_capacity: 16,
        max_batch: 64,
        last_seq: None,
        clock: counter_clock(),
        clock_every: 1,
        snapshot_every: None,
    }
}

const STRATEGIES: [WaitStrategy; 4] = [
    WaitStrategy::BusySpin,
    WaitStrategy::SpinThenYield {
        spin: Duration::from_micros(20),
    },
    WaitStrategy::SpinThenPark {
        spin: Duration::from_micros(20),
    },
    // Parks at the first empty poll: every idle moment is a sleep and a wake-up.
    WaitStrategy::SpinThenPark {
        spin: Duration::ZERO,
    },
];

/// Generates commands while applying them to its own engine, so cancels and replaces aim
/// at orders that engine really accepted. Trades on the first `SYMBOLS` instruments.
struct Gen {
    rng: Rng,
    shadow: Engine,
    seq: u64,
    out: Vec<Event>,
    /// What the shadow engine answered, per command, numbered on the accounts' streams.
    record: Vec<Vec<Tagged>>,
    accounts: Vec<AccountId>,
    open_accounts: bool,
    live: Vec<(OrderId, AccountId)>,
    ins: Vec<Listed>,
    tag: u64,
    next_cid: u64,
    /// Funding for accounts opened mid-stream, sent next.
    pending: Vec<Command>,
}

const SYMBOLS: usize = 6;

/// What the generator needs of an instrument.
#[derive(Clone, Copy)]
struct Listed {
    symbol: Symbol,
    reference: Price,
    tick: Price,
    lot: Qty,
}

impl Listed {
    fn of(i: &Instrument) -> Self {
        Self {
            symbol: i.symbol,
            reference: i.reference_price,
            tick: i.tick,
            lot: i.lot,
        }
    }
}

impl Gen {
    fn new(seed: u64, tag: u64) -> Self {
        Self {
            rng: Rng(seed),
            shadow: engine(),
            seq: 0,
            out: Vec::new(),
            record: Vec::new(),
            accounts: Vec::new(),
            open_accounts: false,
            live: Vec::new(),
            ins: instruments().iter().take(SYMBOLS).map(Listed::of).collect(),
            tag,
            next_cid: 0,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self, cmd: Command) -> Command {
        self.seq += 1;
        self.out.clear();
        let s = Sequenced {
            seq: Seq(self.seq),
            ts: UnixNanos::new(self.seq * 1_000),
            cmd,
        };
        self.shadow.apply(&s, &mut self.out);
        for e in &self.out {
            match *e {
                Event::OrderAccepted {
                    order_id, account, ..
                } => self.live.push((order_id, account)),
                Event::AccountOpened { account } if self.open_accounts => {
                    self.accounts.push(account);
                    let symbol = self.ins[0].symbol;
                    self.pending.push(Command::DepositShares {
                        account,
                        symbol,
                        qty: Qty::shares(5_000),
                    });
                    let amount = Cash::from_dollars(1_000_000).unwrap();
                    self.pending.push(Command::Deposit { account, amount });
                }
                _ => {}
            }
        }
        self.record
            .push(self.shadow.tag(s.seq, s.ts, &self.out).collect());
        s.cmd
    }

    /// Opens `n` accounts, funds them and gives them shares of every traded symbol.
    fn setup(&mut self, n: u64) -> Vec<Command> {
        let mut cmds = Vec::new();
        for _ in 0..n {
            cmds.push(self.emit(Command::OpenAccount));
        }
        for a in 1..=n {
            let account = AccountId::new(a);
            let amount = Cash::from_dollars(1_000_000).unwrap();
            cmds.push(self.emit(Command::Deposit { account, amount }));
            for i in 0..SYMBOLS {
                let symbol = self.ins[i].symbol;
                let qty = Qty::shares(5_000);
                cmds.push(self.emit(Command::DepositShares {
                    account,
                    symbol,
                    qty,
                }));
            }
        }
        cmds
    }

    fn order(&mut self, order_type: OrderType, tif: TimeInForce, cross: bool) -> OrderRequest {
        let ins = self.rng.pick(&self.ins);
        let account = self.rng.pick(&self.accounts);
        let side = if self.rng.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let tick = ins.tick.raw();
        let depth = i64::try_from(self.rng.below(15)).unwrap();
        // Passive orders rest a few ticks off the reference; crossing ones reach through it.
        let off = if cross { 5 + depth } else { -depth };
        let raw = match side {
            Side::Buy => ins.reference.raw() + off * tick,
            Side::Sell => ins.reference.raw() - off * tick,
        };
        let client_order_id = if self.rng.below(3) == 0 {
            self.next_cid += 1;
            Some(ClientOrderId::new(&format!("t{}-{}", self.tag, self.next_cid)).unwrap())
        } else {
            None
        };
        OrderRequest {
            account,
            symbol: ins.symbol,
            client_order_id,
            side,
            order_type,
            tif,
            qty: Qty::shares(ins.lot.whole_shares() * (1 + self.rng.below(200))),
            limit_price: (order_type == OrderType::Limit).then(|| Price::from_raw(raw)),
            stop_price: None,
            post_only: false,
            stp: SelfTradePrevention::CancelIncoming,
            opts: Default::default(),
        }
    }

    /// A working order of the shadow engine, forgetting the ones that stopped working.
    fn working(&mut self) -> Option<(OrderId, AccountId)> {
        while !self.live.is_empty() {
            let i = usize::try_from(self.rng.below(self.live.len() as u64)).unwrap();
            let (id, account) = self.live[i];
            if self.shadow.is_working(id) {
                return Some((id, account));
            }
            self.live.swap_remove(i);
        }
        None
    }

    fn next(&mut self) -> Command {
        if let Some(cmd) = self.pending.pop() {
            return self.emit(cmd);
        }
        let cmd = match self.rng.below(100) {
            0..=1 if self.open_accounts => Command::OpenAccount,
            0..=5 => Command::Deposit {
                account: self.rng.pick(&self.accounts),
                amount: Cash::from_dollars(i64::try_from(1 + self.rng.below(50_000)).unwrap())
                    .unwrap(),
            },
            6..=8 => Command::DepositShares {
                account: self.rng.pick(&self.accounts),
                symbol: self.rng.pick(&self.ins).symbol,
                qty: Qty::shares(1 + self.rng.below(500)),
            },
            9..=55 => {
                let tif = match self.rng.below(10) {
                    0 => TimeInForce::Ioc,
                    1 => TimeInForce::Day,
                    _ => TimeInForce::Gtc,
                };
                Command::SubmitOrder(self.order(OrderType::Limit, tif, false))
            }
            56..=65 => Command::SubmitOrder(self.order(OrderType::Limit, TimeInForce::Ioc, true)),
            66..=71 => Command::SubmitOrder(self.order(OrderType::Market, TimeInForce::Ioc, true)),
            72..=93 => match self.working() {
                // Mostly the owner; sometimes someone else (rejected).
                Some((order_id, owner)) => Command::CancelOrder {
                    account: if self.rng.below(10) == 0 {
                        self.rng.pick(&self.accounts)
                    } else {
                        owner
                    },
                    order_id,
                },
                None => Command::CancelOrder {
                    account: self.rng.pick(&self.accounts),
                    order_id: OrderId::new(1 + self.rng.below(100_000)),
                },
            },
            _ => match self.working() {
                Some((order_id, account)) => Command::ReplaceOrder {
                    account,
                    order_id,
                    qty: Qty::shares(1 + self.rng.below(100)),
                    price: None,
                },
                None => Command::Deposit {
                    account: self.rng.pick(&self.accounts),
                    amount: Cash::from_dollars(1).unwrap(),
                },
            },
        };
        self.emit(cmd)
    }
}

/// One published command: its seq, its events, and whether it closed its batch.
type Published = Vec<Vec<(Seq, Vec<Tagged>)>>;

/// Drains both outputs on their own threads until the engine stops.
/// A journaled command as the journal writer sees it: `end_of_batch` on a batch's last.
struct JournalEntry {
    sequenced: Sequenced,
    end_of_batch: bool,
}

fn collect(outputs: Outputs) -> (JoinHandle<Vec<JournalEntry>>, JoinHandle<Published>) {
    let Outputs { journal, events } = outputs;
    let j = thread::spawn(move || {
        let mut v = Vec::new();
        while let Ok(mut b) = journal.recv() {
            assert!(!b.is_empty());
            let n = b.len();
            v.extend(b.drain().enumerate().map(|(i, sequenced)| JournalEntry {
                sequenced,
                end_of_batch: i + 1 == n,
            }));
            journal.recycle(b);
        }
        v
    });
    let e = thread::spawn(move || {
        let mut batches = Vec::new();
        while let Ok(b) = events.recv() {
            batches.push(
                b.commands()
                    .map(|o| {
                        assert!(o.events.iter().all(|t| t.ts == o.ts));
                        (o.seq, o.events.to_vec())
                    })
                    .collect(),
            );
            events.recycle(b);
        }
        batches
    });
    (j, e)
}

fn submit_all(h: &RunnerHandle, cmds: impl IntoIterator<Item = Command>) {
    for c in cmds {
        h.submit_timeout(c, Duration::from_secs(10)).unwrap();
    }
}

/// Checks what the consumers saw against each other: seqs gap-free from `first`, the same
/// seqs on both sides, `end_of_batch` exactly at each event batch's end.
fn check_streams(journal: &[JournalEntry], batches: &Published, first: u64) {
    for (i, e) in journal.iter().enumerate() {
        assert_eq!(
            e.sequenced.seq,
            Seq(first + i as u64),
            "journal seqs gap-free"
        );
    }
    let published: Vec<Seq> = batches.iter().flatten().map(|c| c.0).collect();
    let journaled: Vec<Seq> = journal.iter().map(|e| e.sequenced.seq).collect();
    assert_eq!(
        published, journaled,
        "publisher saw every journaled seq, in order"
    );
    let ends: Vec<Seq> = journal
        .iter()
        .filter(|e| e.end_of_batch)
        .map(|e| e.sequenced.seq)
        .collect();
    let batch_ends: Vec<Seq> = batches.iter().map(|b| b.last().unwrap().0).collect();
    assert_eq!(
        ends, batch_ends,
        "end_of_batch marks each event batch's last command"
    );
    for b in batches {
        for (seq, evs) in b {
            assert!(
                evs.iter().all(|t| t.seq == *seq),
                "events tagged with their seq"
            );
        }
    }
}

/// The runner, fed by one producer, against the state machine applied directly.
fn exact_run(wait: WaitStrategy, idle_gaps: bool) {
    let mut g = Gen::new(7, 0);
    let mut cmds = g.setup(20);
    g.open_accounts = true;
    g.accounts = (1..=20).map(AccountId::new).collect();
    for _ in 0..4_000 {
        cmds.push(g.next());
    }
    let (runner, outputs) = Runner::start(engine(), config(wait)).unwrap();
    let (jt, et) = collect(outputs);
    let h = runner.handle();
    let mut rng = Rng(11);
    for (i, c) in cmds.iter().enumerate() {
        h.submit_timeout(c.clone(), Duration::from_secs(10))
            .unwrap();
        if idle_gaps && rng.below(50) == 0 {
            // Let the engine run dry and sleep; the next submit must wake it.
            let want = Seq(i as u64 + 1);
            let deadline = Instant::now() + Duration::from_secs(5);
            while h.status().last_seq < want {
                assert!(
                    Instant::now() < deadline,
                    "engine never woke for seq {want:?}"
                );
                thread::yield_now();
            }
            thread::sleep(Duration::from_micros(rng.below(300)));
        }
    }
    let status = runner.status();
    let stopped = runner.shutdown().unwrap();
    let journal = jt.join().unwrap();
    let batches = et.join().unwrap();

    let n = cmds.len() as u64;
    assert_eq!(stopped.last_seq, Seq(n));
    assert_eq!(journal.len(), cmds.len());
    check_streams(&journal, &batches, 1);
    for (i, e) in journal.iter().enumerate() {
        assert_eq!(
            e.sequenced.cmd, cmds[i],
            "journal holds the commands in order"
        );
        assert_eq!(e.sequenced.ts, UnixNanos::new((i as u64 + 1) * 1_000));
    }
    let mut k = 0;
    for (seq, evs) in batches.iter().flatten() {
        let want = &g.record[k];
        assert_eq!(
            evs, want,
            "events of seq {seq:?} differ from the direct run"
        );
        k += 1;
    }
    assert_eq!(k, cmds.len());
    assert_eq!(
        stopped.engine.state_hash().unwrap(),
        g.shadow.state_hash().unwrap()
    );
    // Batches came back for reuse: allocation stopped once the pool was full.
    let allocated = status.batches_allocated;
    assert!(allocated <= 2 * (16 + 8), "{allocated} batches allocated");
    // The mix really exercised the engine.
    let all = || {
        batches
            .iter()
            .flatten()
            .flat_map(|c| &c.1)
            .map(|t| &t.event)
    };
    let count = |f: fn(&Event) -> bool| all().filter(|e| f(e)).count();
    let trades = count(|e| matches!(e, Event::Trade { .. }));
    let cancels = count(|e| {
        matches!(
            e,
            Event::OrderCanceled {
                reason: CancelReason::Requested,
                ..
            }
        )
    });
    let rejects = count(|e| matches!(e, Event::Rejected { .. }));

    let opened = count(|e| matches!(e, Event::AccountOpened { .. }));
    assert!(
        trades > 300 && cancels > 300 && rejects > 20 && opened > 40,
        "{trades} trades, {cancels} cancels, {rejects} rejects, {opened} accounts"
    );
}

#[test]
fn one_producer_gets_exactly_the_direct_state_machine_events_busy_spin() {
    exact_run(STRATEGIES[0], false);
}

#[test]
fn one_producer_gets_exactly_the_direct_state_machine_events_spin_yield() {
    exact_run(STRATEGIES[1], false);
}

#[test]
fn one_producer_gets_exactly_the_direct_state_machine_events_spin_park() {
    exact_run(STRATEGIES[2], false);
}

#[test]
fn every_wait_strategy_wakes_after_idle_gaps() {
    for wait in STRATEGIES {
        exact_run(wait, true);
    }
}

/// The owner of a trading command, for telling the producers apart.
fn account_of(c: &Command) -> AccountId {
    match c {
        Command::Deposit { account, .. }
        | Command::DepositShares { account, .. }
        | Command::CancelOrder { account, .. }
        | Command::ReplaceOrder { account, .. } => *account,
        Command::SubmitOrder(r) => r.account,
        other => panic!("unexpected command from a producer: {other:?}"),
    }
}

#[test]
fn several_producers_keep_their_order_and_the_journal_replays_to_the_same_events() {
    const PRODUCERS: u64 = 4;
    const PER: u64 = 10;
    for wait in [STRATEGIES[0], STRATEGIES[3]] {
        let mut setup_gen = Gen::new(1, 99);
        let setup = setup_gen.setup(PRODUCERS * PER);
        let streams: Vec<Vec<Command>> = (0..PRODUCERS)
            .map(|p| {
                let mut g = Gen::new(100 + p, p);
                let _ = g.setup(PRODUCERS * PER);
                g.accounts = (p * PER + 1..=p * PER + PER).map(AccountId::new).collect();
                (0..2_000).map(|_| g.next()).collect()
            })
            .collect();

        let (runner, outputs) = Runner::start(engine(), config(wait)).unwrap();
        let (jt, et) = collect(outputs);
        let h = runner.handle();
        submit_all(&h, setup.iter().cloned());
        let barrier = Arc::new(Barrier::new(streams.len()));
        let producers: Vec<_> = streams
            .iter()
            .cloned()
            .map(|s| {
                let h = h.clone();
                let b = Arc::clone(&barrier);
                thread::spawn(move || {
                    b.wait();
                    submit_all(&h, s);
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let stopped = runner.shutdown().unwrap();
        let journal = jt.join().unwrap();
        let batches = et.join().unwrap();

        let total = setup.len() + streams.iter().map(Vec::len).sum::<usize>();
        assert_eq!(journal.len(), total);
        assert_eq!(stopped.last_seq, Seq(total as u64));
        check_streams(&journal, &batches, 1);
        // The setup came first, as submitted.
        for (e, c) in journal.iter().zip(&setup) {
            assert_eq!(&e.sequenced.cmd, c);
        }
        // Each producer's commands, picked out of the interleaving, are in its order.
        let mut per: Vec<Vec<Command>> = vec![Vec::new(); streams.len()];
        for e in &journal[setup.len()..] {
            let a = account_of(&e.sequenced.cmd).get();
            let p = usize::try_from((a - 1) / PER).unwrap();
            per[p].push(e.sequenced.cmd.clone());
        }
        assert_eq!(per, streams, "per-producer order preserved ({wait})");
        // The journal, re-applied to a fresh engine, gives what was published.
        let mut fresh = engine();
        let mut out = Vec::new();
        let mut published = batches.iter().flatten();
        for e in &journal {
            out.clear();
            fresh.apply(&e.sequenced, &mut out);
            let (seq, evs) = published.next().unwrap();
            assert_eq!(*seq, e.sequenced.seq);
            let got: Vec<Event> = evs.iter().map(|t| t.event).collect();
            assert_eq!(got, out, "replay of seq {seq:?} differs");
            assert!(evs.iter().all(|t| t.ts == e.sequenced.ts));
        }
        assert_eq!(
            fresh.state_hash().unwrap(),
            stopped.engine.state_hash().unwrap()
        );
        // The producers' streams were generated against private engines, so many of
        // their cancels missed here; they still must have traded.
        let fills = batches
            .iter()
            .flatten()
            .flat_map(|c| &c.1)
            .filter(|t| matches!(t.event, Event::Trade { .. }))
            .count();
        assert!(fills > 100, "{fills} trades");
    }
}

#[test]
fn a_full_queue_answers_overloaded_at_once_and_nothing_accepted_is_lost() {
    let cfg = RunnerConfig {
        inbound_capacity: 8,
        journal_capacity: 2,
        events_capacity: 1,
        max_batch: 4,
        ..config(WaitStrategy::default())
    };
    let (runner, outputs) = Runner::start(engine(), cfg).unwrap();
    let h = runner.handle();
    // Nobody reads the outputs yet: the engine stalls, the inbound queue fills.
    let mut accepted = 0u64;
    let mut slowest = Duration::ZERO;
    let refused = loop {
        let cmd = Command::OpenAccount;
        let t0 = Instant::now();
        let r = h.submit(cmd.clone());
        slowest = slowest.max(t0.elapsed());
        match r {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 1_000, "never overloaded");
    };
    assert!(matches!(refused, SubmitError::Overloaded(_)), "{refused:?}");
    assert_eq!(refused.into_command(), Command::OpenAccount);
    assert!(
        slowest < Duration::from_millis(50),
        "a submit blocked {slowest:?}"
    );
    assert!(
        accepted <= 8 + 2 + 4 + 4,
        "{accepted} accepted behind a stalled engine"
    );
    // Once the engine has stalled on a full outbound queue it takes nothing more (nobody
    // reads): top the queue up again, and the timed variant must wait, then give up with
    // the command back.
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.status().stalls == 0 {
        assert!(Instant::now() < deadline, "the engine never stalled");
        thread::yield_now();
    }
    while h.submit(Command::OpenAccount).is_ok() {
        accepted += 1;
    }
    let t0 = Instant::now();
    let r = h.submit_timeout(Command::EndOfDay, Duration::from_millis(30));
    assert!(t0.elapsed() >= Duration::from_millis(30));
    assert_eq!(r, Err(SubmitError::Overloaded(Command::EndOfDay)));
    let s = h.status();
    assert!(s.overloaded >= 2, "{s:?}");
    assert!(s.stalls >= 1, "{s:?}");
    assert!(s.running);

    // Readers arrive: everything accepted comes through.
    let (jt, et) = collect(outputs);
    let stopped = runner.shutdown().unwrap();
    let journal = jt.join().unwrap();
    let batches = et.join().unwrap();
    assert_eq!(journal.len() as u64, accepted);
    check_streams(&journal, &batches, 1);
    assert_eq!(stopped.engine.account_count() as u64, accepted);
    assert!(matches!(
        h.submit(Command::OpenAccount),
        Err(SubmitError::Closed(_))
    ));
    assert!(h.is_closed());
    assert!(!h.status().running);
}

#[test]
fn shutdown_drains_everything_already_accepted() {
    let mut g = Gen::new(3, 0);
    let mut cmds = g.setup(10);
    g.accounts = (1..=10).map(AccountId::new).collect();
    for _ in 0..20_000 {
        cmds.push(g.next());
    }
    let cfg = RunnerConfig {
        inbound_capacity: 32_768,
        ..config(WaitStrategy::default())
    };
    let (runner, outputs) = Runner::start(engine(), cfg).unwrap();
    let h = runner.handle();
    for c in &cmds {
        h.submit(c.clone()).unwrap();
    }
    // Slow readers start only now: nearly everything is still queued at shutdown.
    let Outputs { journal, events } = outputs;
    let jt = thread::spawn(move || {
        let mut v = Vec::new();
        while let Ok(b) = journal.recv() {
            thread::sleep(Duration::from_micros(200));
            v.extend(b.entries().iter().cloned());
        }
        v
    });
    let et = thread::spawn(move || {
        let mut last = None;
        let mut n = 0;
        while let Ok(b) = events.recv() {
            n += b.len();
            last = b.last_seq();
        }
        (n, last)
    });
    let stopped = runner.shutdown().unwrap();
    let journal = jt.join().unwrap();
    let (published, last) = et.join().unwrap();
    let n = cmds.len();
    assert_eq!(stopped.last_seq, Seq(n as u64));
    assert_eq!(journal.len(), n);
    assert!(
        journal
            .iter()
            .enumerate()
            .all(|(i, s)| s.seq == Seq(i as u64 + 1))
    );
    assert_eq!(published, n);
    assert_eq!(last, Some(Seq(n as u64)));
    assert_eq!(
        stopped.engine.state_hash().unwrap(),
        g.shadow.state_hash().unwrap()
    );
    // Every command applied was timed, once.
    let t = h.apply_latency();
    assert_eq!(t.count(), n as u64);
    assert_eq!(t.bounds, &bourse_engine::APPLY_NS_BOUNDS[..]);
    assert!(t.sum > 0);
    let cumulative: Vec<_> = t.cumulative().collect();
    assert_eq!(cumulative.last(), Some(&(None, n as u64)));
}

#[test]
fn shutdown_racing_producers_processes_exactly_the_accepted_commands() {
    for wait in [STRATEGIES[0], STRATEGIES[3]] {
        let (runner, outputs) = Runner::start(engine(), config(wait)).unwrap();
        let (jt, et) = collect(outputs);
        let producers: Vec<_> = (0..3)
            .map(|_| {
                let h = runner.handle();
                thread::spawn(move || {
                    let mut ok = 0u64;
                    loop {
                        match h.submit(Command::OpenAccount) {
                            Ok(()) => ok += 1,
                            Err(SubmitError::Overloaded(_)) => thread::yield_now(),
                            Err(SubmitError::Closed(_)) => return ok,
                        }
                    }
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(30));
        let stopped = runner.shutdown().unwrap();
        let accepted: u64 = producers.into_iter().map(|p| p.join().unwrap()).sum();
        let journal = jt.join().unwrap();
        let batches = et.join().unwrap();
        assert!(accepted > 0);
        assert_eq!(journal.len() as u64, accepted, "{wait}");
        assert_eq!(stopped.last_seq, Seq(accepted));
        assert_eq!(stopped.engine.account_count() as u64, accepted);
        check_streams(&journal, &batches, 1);
    }
}

#[test]
fn resumes_after_the_last_seq() {
    // Explicitly.
    let cfg = RunnerConfig {
        last_seq: Some(Seq(41)),
        ..config(WaitStrategy::default())
    };
    let (runner, outputs) = Runner::start(engine(), cfg).unwrap();
    assert_eq!(runner.status().last_seq, Seq(41));
    let (jt, et) = collect(outputs);
    submit_all(
        &runner.handle(),
        [Command::OpenAccount, Command::OpenAccount],
    );
    let stopped = runner.shutdown().unwrap();
    assert_eq!(stopped.last_seq, Seq(43));
    let journal = jt.join().unwrap();
    check_streams(&journal, &et.join().unwrap(), 42);

    // From the engine's own last seq (a recovered engine).
    let mut e = engine();
    let s = Sequenced {
        seq: Seq(5),
        ts: UnixNanos::new(1),
        cmd: Command::OpenAccount,
    };
    e.apply(&s, &mut Vec::new());
    let bad = RunnerConfig {
        last_seq: Some(Seq(3)),
        ..config(WaitStrategy::default())
    };
    let err = Runner::start(e, bad).map(|_| ()).unwrap_err();
    assert!(matches!(err, RunnerError::Config(_)), "{err}");
    let mut e = engine();
    e.apply(&s, &mut Vec::new());
    let (runner, outputs) = Runner::start(e, config(WaitStrategy::default())).unwrap();
    let (jt, et) = collect(outputs);
    submit_all(&runner.handle(), [Command::OpenAccount]);
    let stopped = runner.shutdown().unwrap();
    assert_eq!(stopped.last_seq, Seq(6));
    assert_eq!(stopped.engine.last_seq(), Seq(6));
    check_streams(&jt.join().unwrap(), &et.join().unwrap(), 6);
}

#[test]
fn timestamps_never_go_backwards() {
    let mut t = 10_000_000;
    let cfg = RunnerConfig {
        clock: Box::new(move || {
            t -= 1_000;
            UnixNanos::new(t)
        }),
        ..config(WaitStrategy::default())
    };
    let (runner, outputs) = Runner::start(engine(), cfg).unwrap();
    let (jt, et) = collect(outputs);
    submit_all(&runner.handle(), (0..100).map(|_| Command::OpenAccount));
    runner.shutdown().unwrap();
    let journal = jt.join().unwrap();
    et.join().unwrap();
    assert!(
        journal
            .iter()
            .all(|e| e.sequenced.ts == UnixNanos::new(9_999_000))
    );
}

#[test]
fn the_clock_is_read_at_each_batch_start_and_every_nth_command() {
    let cfg = RunnerConfig {
        clock_every: 4,
        max_batch: 10,
        ..config(WaitStrategy::BusySpin)
    };
    let (runner, outputs) = Runner::start(engine(), cfg).unwrap();
    let Outputs { journal, events } = outputs;
    // Nobody reads yet: the engine stalls and the rest queues up, so batches are long.
    let h = runner.handle();
    for _ in 0..1_000 {
        h.submit(Command::OpenAccount).unwrap();
    }
    let et = thread::spawn(move || while events.recv().is_ok() {});
    let jt = thread::spawn(move || {
        let mut v = Vec::new();
        while let Ok(b) = journal.recv() {
            v.push(b.entries().iter().map(|s| s.ts).collect::<Vec<_>>());
        }
        v
    });
    let stopped = runner.shutdown().unwrap();
    assert_eq!(stopped.last_seq, Seq(1_000));
    let mut prev = 0;
    let mut long = 0;
    for b in jt.join().unwrap() {
        long += usize::from(b.len() > 4);
        for (i, ts) in b.iter().enumerate() {
            let ts = ts.get();
            if i % 4 == 0 {
                assert!(ts > prev, "a fresh reading at {i} of a batch");
            } else {
                assert_eq!(ts, prev, "the last reading shared at {i} of a batch");
            }
            prev = ts;
        }
    }
    et.join().unwrap();
    assert!(long > 0, "no batch longer than 4");
}

#[test]
fn pinning_is_reported_and_its_failure_is_harmless() {
    for (core, may_pin) in [(None, false), (Some(usize::MAX), false), (Some(0), true)] {
        let cfg = RunnerConfig {
            core,
            ..config(WaitStrategy::default())
        };
        let (runner, outputs) = Runner::start(engine(), cfg).unwrap();
        let s = runner.status();
        assert_eq!(s.core, core);
        if !may_pin {
            assert!(!s.pinned, "{s:?}");
        } else if cpu0_allowed() {
            assert!(s.pinned, "{s:?}");
        }
        let (jt, et) = collect(outputs);
        submit_all(&runner.handle(), [Command::OpenAccount]);
        assert_eq!(runner.shutdown().unwrap().last_seq, Seq(1));
        check_streams(&jt.join().unwrap(), &et.join().unwrap(), 1);
    }
}

/// Whether this process may run on CPU 0 (Linux; elsewhere assume not, to skip the check).
fn cpu0_allowed() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .is_some_and(|v| v.trim().starts_with('0'))
    })
}

#[test]
fn a_consumer_that_goes_away_stops_the_engine() {
    let (runner, outputs) = Runner::start(engine(), config(WaitStrategy::default())).unwrap();
    let Outputs { journal, events } = outputs;
    drop(journal);
    let h = runner.handle();
    h.submit(Command::OpenAccount).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !h.is_closed() {
        assert!(Instant::now() < deadline, "engine kept running");
        thread::yield_now();
    }
    assert!(matches!(
        h.submit(Command::OpenAccount),
        Err(SubmitError::Closed(_))
    ));
    assert!(!h.status().running);
    match runner.shutdown() {
        Err(RunnerError::ConsumerGone { queue, last_seq }) => {
            assert_eq!(queue, Output::Journal);
            assert_eq!(last_seq, Seq(1));
        }
        other => panic!("{other:?}"),
    }
    // Nothing of the failed command was published.
    assert!(events.recv().is_err());
}

#[test]
fn invalid_configs_are_refused() {
    for cfg in [
        RunnerConfig {
            inbound_capacity: 0,
            ..config(WaitStrategy::BusySpin)
        },
        RunnerConfig {
            events_capacity: 0,
            ..config(WaitStrategy::BusySpin)
        },
        RunnerConfig {
            max_batch: 0,
            ..config(WaitStrategy::BusySpin)
        },
    ] {
        let err = Runner::start(engine(), cfg).map(|_| ()).unwrap_err();
        assert!(matches!(err, RunnerError::Config(_)), "{err}");
    }
}

/// Every command's ticket comes back with its outcome, untouched by batching.
#[test]
fn tickets_come_back_with_their_outcomes() {
    let (runner, outputs) = Runner::start(engine(), config(WaitStrategy::default())).unwrap();
    let Outputs { journal, events } = outputs;
    let drain = thread::spawn(move || while journal.recv().is_ok() {});
    let h = runner.handle();
    for i in 1..=500u64 {
        let ticket = if i % 3 == 0 {
            Ticket::NONE
        } else {
            Ticket(i * 7)
        };
        while h.submit_with(Command::OpenAccount, ticket).is_err() {
            thread::yield_now();
        }
    }
    runner.shutdown().unwrap();
    drain.join().unwrap();
    let mut seen = Vec::new();
    while let Ok(b) = events.recv() {
        for o in b.commands() {
            // OpenAccount opens account n at seq n: the events say which command this was.
            let Event::AccountOpened { account } = o.events[0].event else {
                panic!("{:?}", o.events)
            };
            assert_eq!(account.get(), o.seq.0);
            seen.push((o.seq.0, o.ticket));
        }
    }
    assert_eq!(seen.len(), 500);
    for (seq, ticket) in seen {
        let want = if seq % 3 == 0 {
            Ticket::NONE
        } else {
            Ticket(seq * 7)
        };
        assert_eq!(ticket, want, "seq {seq}");
    }
}

/// Drains the journal side, returning every snapshot with the seq of the last command
/// journaled before it arrived.
fn snapshots_seen(journal: bourse_engine::JournalReceiver) -> Vec<(Seq, Box<Snapshot>)> {
    let mut last = Seq(0);
    let mut out = Vec::new();
    while let Ok(mut b) = journal.recv() {
        if let Some(s) = b.last_seq() {
            last = s;
        }
        if let Some(snap) = b.take_snapshot() {
            out.push((last, snap));
        }
    }
    out
}

/// A snapshot arrives at the end of its batch and holds exactly the state after the
/// batch's last command: restored, it hashes like the engine that applied those commands.
#[test]
fn periodic_snapshots_cover_exactly_the_commands_before_them() {
    let cfg = RunnerConfig {
        snapshot_every: Some(100),
        ..config(WaitStrategy::default())
    };
    let (runner, outputs) = Runner::start(engine(), cfg).unwrap();
    let Outputs { journal, events } = outputs;
    let ev = thread::spawn(move || while events.recv().is_ok() {});
    let js = thread::spawn(move || snapshots_seen(journal));
    let mut g = Gen::new(11, 0);
    let mut all = g.setup(20);
    g.accounts = (1..=20).map(AccountId::new).collect();
    for _ in 0..2_000 {
        all.push(g.next());
    }
    submit_all(&runner.handle(), all.iter().cloned());
    runner.shutdown().unwrap();
    ev.join().unwrap();
    let snaps = js.join().unwrap();
    assert!(snaps.len() >= 10, "{} snapshots", snaps.len());
    let mut direct = engine();
    let mut applied = 0u64;
    let mut clock = counter_clock();
    for (at, snap) in snaps {
        assert_eq!(snap.seq, at, "a snapshot covers its batch's last command");
        while applied < at.0 {
            let c = all[usize::try_from(applied).unwrap()].clone();
            applied += 1;
            let s = Sequenced {
                seq: Seq(applied),
                ts: clock(),
                cmd: c,
            };
            direct.apply(&s, &mut Vec::new());
        }
        let restored = Engine::restore(*snap).unwrap();
        assert_eq!(restored.state_hash().unwrap(), direct.state_hash().unwrap());
    }
}

/// A snapshot asked for while the engine idles comes at once, alone in an empty batch.
#[test]
fn a_requested_snapshot_arrives_while_idle() {
    for wait in STRATEGIES {
        let (runner, outputs) = Runner::start(engine(), config(wait)).unwrap();
        let Outputs { journal, events } = outputs;
        let ev = thread::spawn(move || while events.recv().is_ok() {});
        let h = runner.handle();
        submit_all(&h, [Command::OpenAccount, Command::OpenAccount]);
        let mut got = None;
        let mut journaled = Seq(0);
        while got.is_none() {
            let mut b = journal.recv().unwrap();
            if let Some(s) = b.last_seq() {
                journaled = s;
                if s == Seq(2) {
                    h.request_snapshot();
                }
            } else {
                assert!(b.has_snapshot(), "an empty batch carries a snapshot");
            }
            got = b.take_snapshot();
        }
        let snap = got.unwrap();
        assert_eq!((snap.seq, journaled), (Seq(2), Seq(2)), "{wait}");
        let restored = Engine::restore(*snap).unwrap();
        assert_eq!(restored.account_count(), 2);
        runner.shutdown().unwrap();
        while journal.recv().is_ok() {}
        ev.join().unwrap();
    }
}
