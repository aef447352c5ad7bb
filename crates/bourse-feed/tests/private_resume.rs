//! A client of the private channels that drops its connection mid-flow and resumes
//! `since` the last `account_seq` it saw gets exactly what an uninterrupted client got,
//! message by message — from the resume window, or, once the window has moved past it,
//! after being told from where history must serve. Events come from the real engine.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

#[path = "../../bourse-engine/tests/common/mod.rs"]
mod common;

use std::sync::Arc;

use bourse_core::{AccountId, Cash, Command, Event, OrderId, Qty, Seq, Sequenced, Side, UnixNanos};
use bourse_engine::{Engine, EngineConfig};
use bourse_feed::{Behind, Conn, Feed, FeedConfig, Frame, PrivateChannel, Publisher};
use common::{Rng, instruments, limit};
use serde_json::Value;

const ORDERS_ACCOUNT: [PrivateChannel; 2] = [PrivateChannel::Orders, PrivateChannel::Account];

struct Market {
    engine: Engine,
    publisher: Publisher,
    seq: u64,
    out: Vec<Event>,
    tagged: Vec<bourse_core::Tagged>,
    accounts: Vec<AccountId>,
    working: Vec<OrderId>,
    rng: Rng,
}

impl Market {
    fn new(window: usize) -> (Market, Arc<Feed>) {
        let ins = instruments();
        let engine = Engine::new(EngineConfig::default(), ins.clone()).unwrap();
        let cfg = FeedConfig {
            hard_bytes: 256 << 20,
            private_window: window,
            ..FeedConfig::default()
        };
        let feed = Arc::new(Feed::new(
            ins.iter().map(|i| (i.symbol, i.reference_price)),
            cfg,
        ));
        let mut m = Market {
            engine,
            publisher: Publisher::new(feed.clone()),
            seq: 0,
            out: Vec::new(),
            tagged: Vec::new(),
            accounts: Vec::new(),
            working: Vec::new(),
            rng: Rng(0x5EED_A5E9),
        };
        for _ in 0..3 {
            m.run(Command::OpenAccount);
        }
        let sym = ins[0].symbol;
        for a in m.accounts.clone() {
            m.run(Command::Deposit {
                account: a,
                amount: Cash::from_dollars(10_000_000).unwrap(),
            });
            m.run(Command::DepositShares {
                account: a,
                symbol: sym,
                qty: Qty::shares(100_000),
            });
        }
        (m, feed)
    }

    fn run(&mut self, cmd: Command) {
        self.seq += 1;
        self.out.clear();
        let s = Sequenced {
            seq: Seq(self.seq),
            ts: UnixNanos::new(1_795_000_000_000_000_000 + self.seq * 1_000_000),
            cmd,
        };
        self.engine.apply(&s, &mut self.out);
        self.tagged.clear();
        self.tagged.extend(self.engine.tag(s.seq, s.ts, &self.out));
        for e in &self.out {
            match *e {
                Event::AccountOpened { account } => self.accounts.push(account),
                Event::OrderAccepted { order_id, .. } => self.working.push(order_id),
                _ => {}
            }
        }
        self.publisher.publish(&self.tagged);
    }

    /// One random step: an order from one of the accounts, or a cancel.
    fn step(&mut self) {
        let ins = instruments();
        let i = &ins[0];
        let a = self.accounts[self.rng.below(3) as usize];
        if self.rng.below(4) == 0 && !self.working.is_empty() {
            let k = self.rng.below(self.working.len() as u64) as usize;
            let order_id = self.working.swap_remove(k);
            self.run(Command::CancelOrder {
                account: a,
                order_id,
            });
            return;
        }
        let side = if self.rng.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let ticks = self.rng.below(7) as i64 - 3;
        let px = bourse_core::Price::from_raw(i.reference_price.raw() + ticks * i.tick.raw());
        let qty = i.lot.whole_shares() * (1 + self.rng.below(5));
        let req = limit(a, i.symbol.as_str(), side, &px.to_string(), qty);
        self.run(Command::SubmitOrder(req));
    }
}

fn drain(conn: &Conn) -> Vec<Value> {
    let mut frames: Vec<Frame> = Vec::new();
    conn.try_recv(&mut frames).unwrap();
    frames
        .iter()
        .map(|f| serde_json::from_str(f.as_str()).unwrap())
        .collect()
}

fn aseq(v: &Value) -> u64 {
    v["account_seq"].as_u64().unwrap()
}

#[test]
fn a_resumed_subscription_gets_exactly_what_an_uninterrupted_one_got() {
    let (mut m, feed) = Market::new(100_000);
    let who = m.accounts[0];
    let steady = feed.connect().unwrap();
    feed.subscribe_private(&steady, who, &ORDERS_ACCOUNT);
    let mut steady_got = drain(&steady);
    let mut resumer = feed.connect().unwrap();
    feed.subscribe_private(&resumer, who, &ORDERS_ACCOUNT);
    let mut resumer_got = Vec::new();
    for round in 0..6 {
        for _ in 0..300 {
            m.step();
        }
        steady_got.extend(drain(&steady));
        // Cut off: whatever was queued and not yet read is lost with the connection.
        resumer_got.extend(drain(&resumer));
        feed.disconnect(&resumer);
        for _ in 0..(50 + 40 * round) {
            m.step();
        }
        let since = resumer_got.last().map_or(0, aseq);
        resumer = feed.connect().unwrap();
        let r = feed
            .resume_private(&resumer, who, &ORDERS_ACCOUNT, Some(since))
            .unwrap();
        assert!(
            r.replayed > 0,
            "round {round}: missed messages were replayed"
        );
    }
    for _ in 0..200 {
        m.step();
    }
    steady_got.extend(drain(&steady));
    resumer_got.extend(drain(&resumer));
    assert!(steady_got.len() > 1_000, "{} messages", steady_got.len());
    assert_eq!(resumer_got, steady_got, "message by message");
    // The account's stream is numbered without a gap on these two channels (it has no
    // alerts), from where the subscription began.
    let first = aseq(&steady_got[0]);
    for (k, v) in steady_got.iter().enumerate() {
        assert_eq!(aseq(v), first + k as u64, "{v}");
    }
}

#[test]
fn a_resume_older_than_the_window_is_told_where_history_must_serve_from() {
    let (mut m, feed) = Market::new(64);
    let who = m.accounts[1];
    for _ in 0..500 {
        m.step();
    }
    let conn = feed.connect().unwrap();
    let behind = feed
        .resume_private(&conn, who, &ORDERS_ACCOUNT, Some(3))
        .unwrap_err();
    let Behind {
        from,
        oldest,
        latest,
    } = behind;
    assert_eq!(from, 4);
    assert!(oldest > 4 && oldest <= latest, "{behind:?}");
    assert!(
        drain(&conn).is_empty(),
        "nothing queued, nothing subscribed"
    );
    // From the window's oldest on, the resume is served, and then live messages follow.
    let r = feed
        .resume_private(&conn, who, &ORDERS_ACCOUNT, Some(oldest - 1))
        .unwrap();
    let got = drain(&conn);
    assert_eq!(r.replayed, got.len());
    assert_eq!(got.first().map(aseq), Some(oldest));
    assert_eq!(got.last().map(aseq), Some(latest));
    for _ in 0..100 {
        m.step();
    }
    let live = drain(&conn);
    let mut all: Vec<u64> = got.iter().chain(&live).map(aseq).collect();
    all.dedup();
    assert_eq!(
        all,
        (oldest..=aseq(live.last().unwrap())).collect::<Vec<_>>()
    );
}

#[test]
fn a_resume_ahead_of_the_feed_skips_up_to_it() {
    let (mut m, feed) = Market::new(1_000);
    let who = m.accounts[2];
    for _ in 0..50 {
        m.step();
    }
    let conn = feed.connect().unwrap();
    // A client that read further in history than the feed has sent yet.
    let r = feed
        .resume_private(&conn, who, &ORDERS_ACCOUNT, Some(u64::MAX - 1))
        .unwrap();
    assert_eq!(r.replayed, 0);
    let latest = r.latest;
    let conn2 = feed.connect().unwrap();
    feed.resume_private(&conn2, who, &ORDERS_ACCOUNT, Some(latest + 5))
        .unwrap();
    for _ in 0..300 {
        m.step();
    }
    assert!(drain(&conn).is_empty());
    let got = drain(&conn2);
    assert_eq!(got.first().map(aseq), Some(latest + 6));
}
