//! The feed's L2 book equals the engine's own book after every command of a long random
//! flow (rests, fills, cancels, replaces kept and lost, stops, markets, mass cancels,
//! halts, end of day, and the sessions of a trading day: calls whose books cross, their
//! uncross, orders waiting for an auction and stepping off at the close), and so do the books of two subscribers built from snapshot +
//! deltas: one that reads after every command, and one that reads rarely through a tiny
//! outbox, so its deltas are conflated and resynced by snapshots.
//!
//! `BOURSE_FEED_FUZZ_OPS` sets the number of commands (default 20,000).
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

#[path = "../../bourse-engine/tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use bourse_core::{
    AccountId, Cash, Command, Event, OrderId, OrderType, Price, Qty, Seq, Sequenced, Side, Symbol,
    TimeInForce, UnixNanos,
};
use bourse_engine::{Engine, EngineConfig};
use bourse_feed::{Conn, Feed, FeedConfig, Frame, Publisher};
use common::{Rng, instruments, limit};
use serde_json::Value;

type Levels = BTreeMap<(u8, i64), (u64, u32)>;

/// The engine's book of `sym` as (side, price) → (qty, orders).
fn engine_levels(engine: &Engine, sym: Symbol) -> Levels {
    let book = engine.book(sym).unwrap();
    let mut m = Levels::new();
    for (k, side) in [(0u8, Side::Buy), (1, Side::Sell)] {
        for l in book.depth(side, usize::MAX) {
            m.insert((k, l.price.raw()), (l.qty.raw(), l.orders));
        }
    }
    m
}

fn feed_levels(feed: &Feed, sym: Symbol) -> Levels {
    feed.with_symbol(sym.as_str(), |s| {
        let mut m = Levels::new();
        for (p, l) in s.book.bids_best_first() {
            m.insert((0, p.raw()), (l.qty, l.orders));
        }
        for (p, l) in s.book.asks_best_first() {
            m.insert((1, p.raw()), (l.qty, l.orders));
        }
        m
    })
    .unwrap()
}

/// A subscriber's view: per symbol, the book and the last seq seen.
#[derive(Default)]
struct Client {
    books: BTreeMap<String, (Levels, u64)>,
    snapshots: u64,
    deltas: u64,
}

impl Client {
    fn apply(&mut self, frames: &[Frame]) {
        for f in frames {
            let v: Value = serde_json::from_str(f.as_str()).unwrap();
            let sym = v["symbol"].as_str().unwrap().to_owned();
            let seq = v["seq"].as_u64().unwrap();
            let levels = |key: &str, side: u8, into: &mut Levels| {
                for l in v[key].as_array().unwrap() {
                    let p: Price = l[0].as_str().unwrap().parse().unwrap();
                    let q = l[1]
                        .as_str()
                        .unwrap()
                        .parse::<bourse_core::Qty>()
                        .unwrap()
                        .raw();
                    let n: u32 = l[2].as_str().unwrap().parse().unwrap();
                    if q == 0 {
                        into.remove(&(side, p.raw()));
                    } else {
                        into.insert((side, p.raw()), (q, n));
                    }
                }
            };
            match v["type"].as_str().unwrap() {
                "book_snapshot" => {
                    let mut m = Levels::new();
                    levels("bids", 0, &mut m);
                    levels("asks", 1, &mut m);
                    self.books.insert(sym, (m, seq));
                    self.snapshots += 1;
                }
                "book" => {
                    let (m, last) = self.books.get_mut(&sym).expect("a delta before a snapshot");
                    assert_eq!(seq, *last + 1, "{sym}: seq gap {last} → {seq}");
                    *last = seq;
                    levels("bids", 0, m);
                    levels("asks", 1, m);
                    self.deltas += 1;
                }
                other => panic!("unexpected {other}"),
            }
        }
    }
}

fn drain(feed: &Feed, conn: &Arc<Conn>, client: &mut Client) {
    let mut frames = Vec::new();
    loop {
        frames.clear();
        conn.try_recv(&mut frames).unwrap();
        if frames.is_empty() {
            break;
        }
        client.apply(&frames);
        feed.resync(conn);
    }
}

#[test]
fn feed_books_match_the_engine_after_every_command() {
    let ops: usize = std::env::var("BOURSE_FEED_FUZZ_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let ins = instruments();
    let symbols: Vec<Symbol> = ins.iter().map(|i| i.symbol).collect();
    let names: Vec<String> = symbols.iter().map(|s| s.as_str().to_owned()).collect();
    let mut engine = Engine::new(EngineConfig::default(), ins.clone()).unwrap();
    let cfg = FeedConfig {
        soft_bytes: 8_192,
        hard_bytes: 64 << 20,
        max_behind: std::time::Duration::from_secs(3_600),
        ..FeedConfig::default()
    };
    let feed = Arc::new(Feed::new(
        ins.iter().map(|i| (i.symbol, i.reference_price)),
        cfg,
    ));
    let mut publisher = Publisher::new(feed.clone());
    let (eager, lazy) = (feed.connect().unwrap(), feed.connect().unwrap());
    let book = vec!["book".to_owned()];
    feed.subscribe(&eager, &book, &names).unwrap();
    feed.subscribe(&lazy, &book, &names).unwrap();
    let (mut eager_view, mut lazy_view) = (Client::default(), Client::default());

    let mut rng = Rng(0x00FE_ED00);
    let mut seq = 0u64;
    let mut out = Vec::new();
    let mut tagged = Vec::new();
    let mut working: Vec<(OrderId, AccountId)> = Vec::new();
    let mut run = |engine: &mut Engine, cmd: Command, working: &mut Vec<(OrderId, AccountId)>| {
        seq += 1;
        out.clear();
        let ts = UnixNanos::new(1_795_000_000_000_000_000 + seq * 7_000_000);
        engine.apply(
            &Sequenced {
                seq: Seq(seq),
                ts,
                cmd,
            },
            &mut out,
        );
        tagged.clear();
        tagged.extend(engine.tag(Seq(seq), ts, &out));
        for e in &out {
            if let Event::OrderAccepted {
                order_id, account, ..
            } = e
            {
                working.push((*order_id, *account));
            }
        }
        publisher.publish(&tagged);
        out.clone()
    };

    let accounts: Vec<AccountId> = (1..=30).map(AccountId::new).collect();
    for &a in &accounts {
        run(&mut engine, Command::OpenAccount, &mut working);
        run(
            &mut engine,
            Command::Deposit {
                account: a,
                amount: Cash::from_dollars(50_000_000).unwrap(),
            },
            &mut working,
        );
        for &s in &symbols {
            run(
                &mut engine,
                Command::DepositShares {
                    account: a,
                    symbol: s,
                    qty: Qty::shares(1_000_000),
                },
                &mut working,
            );
        }
    }
    for n in 0..ops {
        // A few hot symbols get most of the flow, so books grow deep and cross often.
        let i = &ins[if rng.chance(70) {
            rng.below(3) as usize
        } else {
            rng.below(ins.len() as u64) as usize
        }];
        let account = rng.pick(&accounts);
        let side = if rng.chance(50) {
            Side::Buy
        } else {
            Side::Sell
        };
        let tick = i.tick.raw();
        let off = i64::try_from(rng.below(41)).unwrap() - 20;
        let price = Price::from_raw(i.reference_price.raw() + off * tick * 5);
        working.retain(|(id, _)| engine.is_working(*id));
        let target =
            (!working.is_empty()).then(|| working[rng.below(working.len() as u64) as usize]);
        let cmd = match rng.below(100) {
            0..=54 => {
                let mut req = limit(
                    account,
                    i.symbol.as_str(),
                    side,
                    &price.to_string(),
                    1 + rng.below(400),
                );
                req.tif = match rng.below(14) {
                    0 => TimeInForce::Ioc,
                    1 => TimeInForce::Fok,
                    2..=3 => TimeInForce::Day,
                    4 => TimeInForce::Opg,
                    5 => TimeInForce::Cls,
                    _ => TimeInForce::Gtc,
                };
                if req.tif == TimeInForce::Day && rng.chance(50) {
                    req.opts.extended_hours = true;
                }
                match rng.below(20) {
                    0 => {
                        req.order_type = OrderType::Market;
                        req.limit_price = None;
                        req.tif = TimeInForce::Ioc;
                    }
                    1 => {
                        req.order_type = OrderType::StopLimit;
                        req.stop_price = Some(price);
                    }
                    2 => req.post_only = true,
                    _ => {}
                }
                Command::SubmitOrder(req)
            }
            55..=74 => match target {
                Some((order_id, owner)) => Command::CancelOrder {
                    account: owner,
                    order_id,
                },
                None => continue,
            },
            75..=93 => match target {
                Some((order_id, owner)) => Command::ReplaceOrder {
                    account: owner,
                    order_id,
                    qty: Qty::shares(1 + rng.below(400)),
                    // Same price (priority kept when smaller) or a new one (which may cross).
                    price: rng.chance(60).then_some(price),
                },
                None => continue,
            },
            94..=95 => Command::MassCancel {
                account: Some(account),
                symbol: rng.chance(50).then_some(i.symbol),
            },
            96 => Command::HaltSymbol { symbol: i.symbol },
            97 => Command::ResumeSymbol { symbol: i.symbol },
            98 if rng.chance(20) => Command::EndOfDay,
            // Mostly on to the next session; now and then a jump over several.
            99 if rng.chance(60) => Command::SetSession {
                session: (0..=rng.below(3)).fold(engine.session(), |s, _| s.next()),
            },
            _ => Command::ResumeSymbol { symbol: i.symbol },
        };
        let events = run(&mut engine, cmd, &mut working);
        // Every symbol whose book the command touched must match the engine's exactly.
        let mut touched: Vec<Symbol> = events
            .iter()
            .filter_map(|e| match *e {
                Event::OrderRested { symbol, .. }
                | Event::OrderFilled { symbol, .. }
                | Event::OrderCanceled { symbol, .. }
                | Event::OrderParked { symbol, .. }
                | Event::AuctionUncrossed { symbol, .. }
                | Event::OrderReplaced { symbol, .. } => Some(symbol),
                _ => None,
            })
            .collect();
        touched.dedup();
        for s in touched {
            assert_eq!(
                feed_levels(&feed, s),
                engine_levels(&engine, s),
                "{s} after command {n}"
            );
        }
        drain(&feed, &eager, &mut eager_view);
        if n % 500 == 499 {
            drain(&feed, &lazy, &mut lazy_view);
        }
    }
    drain(&feed, &lazy, &mut lazy_view);
    for &s in &symbols {
        let want = engine_levels(&engine, s);
        assert_eq!(feed_levels(&feed, s), want, "{s} at the end");
        let seq = feed.with_symbol(s.as_str(), |st| st.seq).unwrap();
        for (who, view) in [("eager", &eager_view), ("lazy", &lazy_view)] {
            let (levels, last) = &view.books[s.as_str()];
            assert_eq!(levels, &want, "{who} client's {s}");
            assert_eq!(*last, seq, "{who} client's {s} seq");
        }
    }
    // The eager client lived on deltas; the lazy one was conflated and brought back by
    // snapshots.
    assert!(eager_view.deltas > ops as u64 / 2, "{}", eager_view.deltas);
    assert!(
        lazy_view.snapshots > eager_view.snapshots + symbols.len() as u64,
        "never conflated: {} vs {}",
        lazy_view.snapshots,
        eager_view.snapshots
    );
    assert!(
        feed.stats
            .conflated
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
}
