//! Randomized runs across many accounts and symbols: the ledger invariants hold after every
//! command, and the same commands always give the same events.
//!
//! The market moves through its sessions now and then (mostly to the next one, sometimes
//! skipping ahead or naming any session), staying in continuous trading most of the time:
//! calls, uncrosses, on-open and on-close orders, extended-hours orders, orders waiting for
//! the open and the close all mix with the rest.
//!
//! Bank transfers mix in too: deposits with part credited at once, withdrawals from settled
//! cash, settlement runs, and returns — of pending and settled deposits, some of them
//! already spent, leaving an account's cash below zero.
//!
//! `BOURSE_ENGINE_FUZZ_OPS` sets the number of commands (default 20,000; millions work).
#![allow(clippy::unwrap_used)]

mod common;

use bourse_core::funding::{Direction, NewBank, ReturnCode, TransferStatus};
use bourse_core::profile::Sealed;
use bourse_core::{
    AccountId, CancelReason, Cash, ClassRequest, ClientOrderId, Command, Event, OrderClass,
    OrderId, OrderOptions, OrderRequest, OrderType, Price, Qty, RejectReason, SecretHash,
    SelfTradePrevention, Seq, Sequenced, Session, Side, StopLoss, Tagged, TimeInForce, Trail,
    UnixNanos,
};
use bourse_engine::{Engine, EngineConfig};
use common::{Rng, instruments, limit};

const ACCOUNTS: u64 = 40;
/// Accounts funded only by bank deposits (so that returns catch some already spent).
const BANK_ONLY: u64 = 6;

/// What a generated run did besides its events.
#[derive(Default)]
struct Run {
    /// Commands applied while the market was in continuous trading.
    in_continuous: usize,
    /// Trades in pre-market and after-hours (extended-hours orders).
    extended_trades: usize,
}

/// The session to move to, if the market moves before the next command: rarely out of
/// continuous trading (about one command in 500), more readily out of the others (one in
/// 40), so that most commands find the market in continuous trading. Mostly the next session
/// of the day; sometimes several ahead (a calendar skipping a session, a restart after a
/// long pause), or any session at all, the current one included (which changes nothing).
fn next_session(rng: &mut Rng, now: Session) -> Option<Session> {
    let per_mille = if now == Session::Continuous { 2 } else { 25 };
    if rng.below(1_000) >= per_mille {
        return None;
    }
    if rng.chance(5) {
        return Some(rng.pick(&Session::DAY));
    }
    let steps = if rng.chance(15) { 2 + rng.below(5) } else { 1 };
    Some((0..steps).fold(now, |s, _| s.next()))
}

/// Generates `n` commands (funding first, then trading) while running them, so cancels and
/// replaces can aim at orders the engine really accepted, and checks the invariants after
/// every command. Returns the commands and every event.
fn generate_and_run(seed: u64, n: usize) -> (Vec<Command>, Vec<Event>) {
    let (cmds, events, _) = generate_and_run_counted(seed, n);
    (cmds, events)
}

fn generate_and_run_counted(seed: u64, n: usize) -> (Vec<Command>, Vec<Event>, Run) {
    let mut run = Run::default();
    let mut engine = engine();
    let mut events = Vec::new();
    let mut out = Vec::new();
    let mut recent: Vec<(OrderId, AccountId)> = Vec::new();
    let mut transfers: Vec<(u64, AccountId)> = Vec::new();
    let mut applied = 0;
    let ins = instruments();
    let mut rng = Rng(seed);
    let mut cmds = Vec::with_capacity(n);
    for a in 1..=ACCOUNTS {
        let account = AccountId::new(a);
        cmds.push(Command::OpenAccount);
        // The first few accounts have only what their banks bring in.
        if a > BANK_ONLY {
            cmds.push(Command::Deposit {
                account,
                amount: Cash::from_dollars(i64::try_from(50_000 + rng.below(500_000)).unwrap())
                    .unwrap(),
            });
        }
        // Most accounts link a bank and most of those verify it.
        if a <= BANK_ONLY || rng.chance(80) {
            cmds.push(Command::LinkBank(Box::new(bank_of(account))));
            if a <= BANK_ONLY || rng.chance(85) {
                cmds.push(Command::VerifyBank {
                    account,
                    bank: 0, // filled in below, once the engine has numbered it
                    digest: micro_digest(account),
                });
            }
        }
        for i in &ins {
            if rng.chance(30) {
                let qty = Qty::shares(100 + rng.below(2_000));
                // A fraction on top, where the instrument takes fractions.
                let qty = if i.fractional {
                    Qty::from_raw(qty.raw() + rng.below(1_000_000))
                } else {
                    qty
                };
                cmds.push(Command::DepositShares {
                    account,
                    symbol: i.symbol,
                    qty,
                });
            }
        }
    }
    loop {
        // Apply what has been generated so far, learning the ids of accepted orders.
        while applied < cmds.len() {
            // A verification names the bank its account linked last.
            if let Command::VerifyBank { account, bank, .. } = &mut cmds[applied]
                && *bank == 0
            {
                *bank = engine
                    .profiles()
                    .get(*account)
                    .and_then(|p| p.funding.banks.last())
                    .map_or(1, |b| b.id);
            }
            let cmd = &cmds[applied];
            applied += 1;
            out.clear();
            let seq = u64::try_from(applied).unwrap();
            if engine.session() == Session::Continuous {
                run.in_continuous += 1;
            }
            engine.apply(&sequenced(seq, cmd), &mut out);
            // Every ledger invariant after every command; the books' capacity-sized scans
            // (empty ladder cells, the id ring) every 256th and at the end.
            let checked = if applied % 256 == 0 {
                engine.check_invariants()
            } else {
                engine.check_invariants_quick()
            };
            if let Err(e) = checked {
                panic!("after command {seq} {cmd:?}: {e}\nevents: {out:?}");
            }
            if engine.session().is_extended() && !matches!(cmd, Command::SetSession { .. }) {
                run.extended_trades += out
                    .iter()
                    .filter(|e| matches!(e, Event::Trade { .. }))
                    .count();
            }
            for e in &out {
                match e {
                    Event::OrderAccepted {
                        order_id, account, ..
                    } => recent.push((*order_id, *account)),
                    Event::TransferChanged {
                        transfer,
                        account,
                        status: TransferStatus::Pending,
                        ..
                    } => transfers.push((*transfer, *account)),
                    _ => {}
                }
            }
            events.extend_from_slice(&out);
        }
        if cmds.len() >= n {
            engine
                .check_invariants()
                .expect("the whole check at the end");
            return (cmds, events, run);
        }
        if let Some(session) = next_session(&mut rng, engine.session()) {
            cmds.push(Command::SetSession { session });
            continue;
        }
        let account = AccountId::new(1 + rng.below(ACCOUNTS));
        // Outside continuous trading most of the activity is in a few names (so that
        // extended-hours orders meet, and calls cross).
        let names = if engine.session() != Session::Continuous && rng.chance(70) {
            3
        } else {
            ins.len()
        };
        let i = &ins[usize::try_from(rng.below(names as u64)).unwrap()];
        let side = if rng.chance(50) {
            Side::Buy
        } else {
            Side::Sell
        };
        let tick = i.tick.raw();
        // Mostly within a few percent of the reference, sometimes outside the band.
        let spread = if rng.chance(3) { 400 } else { 60 };
        let offset = i64::try_from(rng.below(spread)).unwrap() - i64::try_from(spread / 2).unwrap();
        let price = Price::from_raw(
            i.reference_price.raw() + offset * i.reference_price.raw() / 1_000 / tick * tick,
        );
        // A recent order and, mostly, its owner (sometimes gone already, sometimes not ours).
        let mut pick = || {
            let k = usize::try_from(rng.below(200)).unwrap();
            recent
                .len()
                .checked_sub(k + 1)
                .map_or((OrderId::new(1), account), |j| recent[j])
        };
        let mut chosen = pick();
        for _ in 0..4 {
            if engine.is_working(chosen.0) {
                break;
            }
            chosen = pick();
        }
        let (target, owner) = chosen;
        let owner = if rng.chance(95) { owner } else { account };
        let cmd = match rng.below(100) {
            0..=49 => {
                let mut req = limit(
                    account,
                    i.symbol.as_str(),
                    side,
                    &price.to_string(),
                    1 + rng.below(300),
                );
                req.tif = match rng.below(20) {
                    0 | 1 => TimeInForce::Ioc,
                    2 | 3 => TimeInForce::Fok,
                    4..=6 => TimeInForce::Day,
                    7 => TimeInForce::Opg,
                    8 => TimeInForce::Cls,
                    _ => TimeInForce::Gtc,
                };
                // Extended hours: limit DAY orders (the odd other one is refused), most
                // orders in pre-market and after-hours, a few in regular hours.
                let extended = if engine.session().is_extended() {
                    60
                } else {
                    5
                };
                if rng.chance(extended) {
                    req.opts.extended_hours = true;
                    if rng.chance(95) {
                        req.tif = TimeInForce::Day;
                    }
                }
                if rng.chance(25) {
                    // A fraction of a share (refused on the whole-share instruments).
                    req.qty = Qty::from_raw(1 + rng.below(300_000_000));
                }
                req.post_only = rng.chance(5);
                req.stp = match rng.below(3) {
                    0 => SelfTradePrevention::CancelIncoming,
                    1 => SelfTradePrevention::CancelResting,
                    _ => SelfTradePrevention::CancelBoth,
                };
                if rng.chance(8) {
                    // A stop a little away from the current price, so some trigger later.
                    let away = i64::try_from(rng.below(20)).unwrap() * tick;
                    let stop_px = match side {
                        Side::Buy => Price::from_raw(i.reference_price.raw() + away),
                        Side::Sell => Price::from_raw(i.reference_price.raw() - away),
                    };
                    req.stop_price = Some(stop_px);
                    req.post_only = false;
                    // Stops are not for an auction, nor extended (but now and then).
                    if rng.chance(95) {
                        req.opts.extended_hours = false;
                        if req.tif.is_auction() {
                            req.tif = TimeInForce::Gtc;
                        }
                    }
                    if rng.chance(30) {
                        // A trailing stop: a few ticks or a few percent behind the water
                        // mark, which starts at the last trade.
                        req.order_type = OrderType::TrailingStop;
                        req.limit_price = None;
                        req.stop_price = None;
                        req.opts.trail = Some(if rng.chance(50) {
                            Trail::Price(Price::from_raw(
                                tick * i64::try_from(1 + rng.below(30)).unwrap(),
                            ))
                        } else {
                            Trail::Bps(u32::try_from(20 + rng.below(300)).unwrap())
                        });
                    } else if rng.chance(50) {
                        req.order_type = OrderType::StopLimit;
                    } else {
                        req.order_type = OrderType::Stop;
                        req.limit_price = None;
                    }
                } else if rng.chance(10) {
                    req.order_type = OrderType::Market;
                    req.limit_price = None;
                    req.post_only = false;
                    if rng.chance(95) {
                        req.opts.extended_hours = false;
                    }
                }
                if req.tif.is_auction() && rng.chance(95) {
                    req.post_only = false;
                }
                if rng.chance(5) {
                    req.client_order_id =
                        Some(ClientOrderId::new(&format!("c{}", rng.below(20))).unwrap());
                }
                if rng.chance(4) {
                    // A notional market DAY order for up to $20,000 (now and then in
                    // another shape, to be refused).
                    req.order_type = OrderType::Market;
                    req.limit_price = None;
                    req.stop_price = None;
                    req.post_only = false;
                    req.opts = bourse_core::OrderOptions {
                        notional: Some(Cash::from_raw(
                            1 + i64::try_from(rng.below(200_000_000)).unwrap(),
                        )),
                        ..Default::default()
                    };
                    if rng.chance(95) {
                        req.tif = TimeInForce::Day;
                        req.qty = Qty::ZERO;
                    }
                }
                if rng.chance(7) {
                    class_of(&mut rng, req, tick)
                } else {
                    Command::SubmitOrder(req)
                }
            }
            50..=74 => Command::CancelOrder {
                account: owner,
                order_id: target,
            },
            75..=89 => Command::ReplaceOrder {
                account: owner,
                order_id: target,
                qty: if rng.chance(25) {
                    Qty::from_raw(1 + rng.below(300_000_000))
                } else {
                    Qty::shares(1 + rng.below(300))
                },
                price: rng.chance(50).then_some(price),
            },
            92 | 93 => {
                let now = (cmds.len() as u64 + 1) * 1_000;
                // Half of them for the accounts that live on bank deposits.
                let account = if rng.chance(50) {
                    AccountId::new(1 + rng.below(BANK_ONLY))
                } else {
                    account
                };
                funding_op(&mut rng, &engine, account, &transfers, now)
            }
            90 | 91 => Command::Deposit {
                account,
                amount: Cash::from_dollars(1 + i64::try_from(rng.below(10_000)).unwrap()).unwrap(),
            },
            94 if rng.chance(50) => Command::CreateAlert {
                account,
                symbol: i.symbol,
                condition: if rng.chance(50) {
                    bourse_core::AlertCondition::Above
                } else {
                    bourse_core::AlertCondition::Below
                },
                price,
            },
            94 => Command::DeleteAlert {
                account,
                alert_id: 1 + rng.below(200),
            },
            96 => {
                let watchlist_id = 1 + rng.below(30);
                match rng.below(5) {
                    0 => Command::CreateWatchlist {
                        account,
                        name: bourse_core::WatchlistName::new(&format!("w{}", rng.below(4)))
                            .unwrap(),
                        symbols: vec![i.symbol],
                    },
                    1 => Command::AddToWatchlist {
                        account,
                        watchlist_id,
                        symbol: i.symbol,
                    },
                    2 => Command::RemoveFromWatchlist {
                        account,
                        watchlist_id,
                        symbol: i.symbol,
                    },
                    3 => Command::UpdateWatchlist {
                        account,
                        watchlist_id,
                        name: None,
                        symbols: Some(vec![i.symbol]),
                    },
                    _ => Command::DeleteWatchlist {
                        account,
                        watchlist_id,
                    },
                }
            }
            95 => {
                // Now and then a little more than the account has free (refused).
                let free = engine
                    .cash(account)
                    .and_then(|(cash, reserved)| cash.checked_sub(reserved))
                    .filter(|_| rng.chance(10));
                let amount = match free {
                    Some(free) => free
                        .checked_add(
                            Cash::from_dollars(1 + i64::try_from(rng.below(100)).unwrap()).unwrap(),
                        )
                        .unwrap(),
                    None => {
                        Cash::from_dollars(1 + i64::try_from(rng.below(20_000)).unwrap()).unwrap()
                    }
                };
                Command::Withdraw { account, amount }
            }
            97 => {
                if rng.chance(20) {
                    Command::CancelOnDisconnect {
                        account,
                        order_ids: (0..3).map(|_| OrderId::new(1 + rng.below(400))).collect(),
                    }
                } else {
                    Command::MassCancel {
                        account: rng.chance(80).then_some(account),
                        symbol: rng.chance(50).then_some(i.symbol),
                    }
                }
            }
            98 => {
                if rng.chance(20) {
                    Command::HaltSymbol { symbol: i.symbol }
                } else {
                    Command::ResumeSymbol { symbol: i.symbol }
                }
            }
            _ => Command::EndOfDay,
        };
        cmds.push(cmd);
    }
}

fn micro_digest(account: AccountId) -> SecretHash {
    SecretHash([u8::try_from(account.get() % 200).unwrap() + 1; 32])
}

fn bank_of(account: AccountId) -> NewBank {
    NewBank {
        account,
        holder: Sealed(vec![1; 24]),
        number: Sealed(vec![2; 24]),
        number_lookup: SecretHash([u8::try_from(account.get() % 200).unwrap(); 32]),
        last4: "6789".into(),
        routing: "021000021".into(),
        micro_digest: micro_digest(account),
        sealed_micro: Sealed(vec![3; 24]),
    }
}

/// A bank transfer, a settlement run, a return, or a change to the account's banks.
fn funding_op(
    rng: &mut Rng,
    engine: &Engine,
    account: AccountId,
    transfers: &[(u64, AccountId)],
    now: u64,
) -> Command {
    let bank = engine
        .profiles()
        .get(account)
        .and_then(|p| p.funding.banks.first())
        .map_or(1 + rng.below(50), |b| b.id);
    let amount = Cash::from_dollars(1 + i64::try_from(rng.below(100_000)).unwrap()).unwrap();
    let transfer = |rng: &mut Rng, direction| Command::BankTransfer {
        account,
        bank,
        direction,
        amount,
        instant_limit: Cash::from_dollars(i64::try_from(rng.below(3)).unwrap() * 50_000).unwrap(),
        // Most settle within a few hundred commands, some much later.
        settle_at: {
            let span = if rng.chance(90) { 400 } else { 5_000 };
            UnixNanos::new(now + rng.below(span) * 1_000)
        },
    };
    match rng.below(12) {
        0..=3 => transfer(rng, Direction::Deposit),
        4 | 5 => transfer(rng, Direction::Withdrawal),
        6 | 7 => Command::SettleTransfers,
        8 | 9 => {
            // Mostly one still pending.
            let pick = |rng: &mut Rng| {
                let k = usize::try_from(rng.below(60)).unwrap();
                transfers
                    .len()
                    .checked_sub(k + 1)
                    .map_or((1, account), |j| transfers[j])
            };
            let mut chosen = pick(rng);
            for _ in 0..4 {
                let pending = engine
                    .profiles()
                    .get(chosen.1)
                    .is_some_and(|p| p.funding.pending().any(|t| t.id == chosen.0));
                if pending {
                    break;
                }
                chosen = pick(rng);
            }
            let (transfer, owner) = chosen;
            Command::ReturnTransfer {
                account: owner,
                transfer,
                code: ReturnCode::R01,
            }
        }
        10 => Command::VerifyBank {
            account,
            bank,
            digest: if rng.chance(50) {
                micro_digest(account)
            } else {
                SecretHash([0xEE; 32])
            },
        },
        _ if rng.chance(50) => Command::LinkBank(Box::new(NewBank {
            number_lookup: SecretHash([u8::try_from(rng.below(250)).unwrap(); 32]),
            ..bank_of(account)
        })),
        _ => Command::UnlinkBank { account, bank },
    }
}

fn engine() -> Engine {
    let cfg = EngineConfig {
        maker_fee_bps: 5,
        taker_fee_bps: 25,
        // Small, so that forgetting ended orders' client order ids happens often and is
        // covered by the replay and snapshot equality.
        client_id_retention: 64,
        ..EngineConfig::default()
    };
    Engine::new(cfg, instruments()).unwrap()
}

fn sequenced(seq: u64, cmd: &Command) -> Sequenced {
    Sequenced {
        seq: Seq(seq),
        ts: UnixNanos::new(seq * 1_000),
        cmd: cmd.clone(),
    }
}

/// Replays `cmds` on a fresh engine and returns every event.
fn replay(cmds: &[Command]) -> Vec<Event> {
    let mut engine = engine();
    let mut all = Vec::new();
    for (n, cmd) in cmds.iter().enumerate() {
        engine.apply(&sequenced(u64::try_from(n + 1).unwrap(), cmd), &mut all);
    }
    all
}

#[test]
fn invariants_hold_after_every_command_and_replay_is_identical() {
    let n = std::env::var("BOURSE_ENGINE_FUZZ_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let (cmds, events, run) = generate_and_run_counted(0xB0_0125, n);
    let count = |f: &dyn Fn(&Event) -> bool| events.iter().filter(|e| f(e)).count();
    let fills = count(&|e| matches!(e, Event::OrderFilled { .. }));
    let cancels = count(&|e| matches!(e, Event::OrderCanceled { .. }));
    let rejects = count(&|e| matches!(e, Event::Rejected { .. }));
    let replaced = count(&|e| matches!(e, Event::OrderReplaced { .. }));
    println!(
        "{n} commands: {fills} fills, {cancels} cancels, {replaced} replaces, {rejects} rejects"
    );
    let sessions = count(&|e| matches!(e, Event::SessionChanged { .. }));
    let auctions = count(&|e| matches!(e, Event::AuctionUncrossed { price: Some(_), .. }));
    let parked = count(&|e| matches!(e, Event::OrderParked { .. }));
    let unfilled = count(&|e| {
        matches!(
            e,
            Event::OrderCanceled {
                reason: CancelReason::AuctionUnfilled,
                ..
            }
        )
    });
    println!(
        "{} of them in continuous trading; {sessions} session changes, {auctions} auctions \
         that traded, {parked} orders parked at a close, {unfilled} auction orders unfilled, \
         {} extended-hours trades",
        run.in_continuous, run.extended_trades
    );
    if std::env::var_os("BOURSE_ENGINE_FUZZ_STATS").is_some() {
        let mut by_reason = std::collections::BTreeMap::new();
        for e in &events {
            if let Event::Rejected { reason, .. } = e {
                *by_reason.entry(reason.code()).or_insert(0) += 1;
            }
        }
        println!("rejects by reason: {by_reason:?}");
    }
    let scale = n / 2_000;
    assert!(fills > 10 * scale, "{fills} fills");
    assert!(cancels > 10 * scale, "{cancels} cancels");
    assert!(rejects > 10 * scale, "{rejects} rejects");
    assert!(replaced > scale, "{replaced} replaces");
    let transfer = |st: TransferStatus, d: Direction| {
        count(&|e| {
            matches!(e, Event::TransferChanged { status, direction, .. }
                if *status == st && *direction == d)
        })
    };
    let negative = count(&|e| {
        matches!(e, Event::TransferChanged { status: TransferStatus::Returned, balance, .. }
            if balance.is_negative())
    });
    let returned_buys = count(&|e| {
        matches!(
            e,
            Event::OrderCanceled {
                reason: CancelReason::DepositReturned,
                ..
            }
        )
    });
    println!(
        "bank deposits {} pending / {} settled / {} returned ({negative} left cash below zero, {returned_buys} buys canceled); withdrawals {} / {} / {}",
        transfer(TransferStatus::Pending, Direction::Deposit),
        transfer(TransferStatus::Settled, Direction::Deposit),
        transfer(TransferStatus::Returned, Direction::Deposit),
        transfer(TransferStatus::Pending, Direction::Withdrawal),
        transfer(TransferStatus::Settled, Direction::Withdrawal),
        transfer(TransferStatus::Returned, Direction::Withdrawal),
    );
    for d in [Direction::Deposit, Direction::Withdrawal] {
        for st in [
            TransferStatus::Pending,
            TransferStatus::Settled,
            TransferStatus::Returned,
        ] {
            assert!(
                transfer(st, d) > scale / 4,
                "{d:?} {st:?}: {}",
                transfer(st, d)
            );
        }
    }
    assert!(negative > 0 || scale < 10, "no return left cash below zero");
    let triggered = count(&|e| matches!(e, Event::OrderTriggered { .. }));
    assert!(triggered > scale, "{triggered} stops triggered");
    let trailed = count(&|e| matches!(e, Event::OrderStopMoved { .. }));
    assert!(trailed > scale, "{trailed} trailing stop moves");
    // Order classes: exits held, started, shrunk or ended by their sibling, or cancelled
    // with an entry that filled nothing.
    let linked = count(&|e| matches!(e, Event::OrderLinked { .. }));
    let activated = count(&|e| matches!(e, Event::OrderActivated { .. }));
    let sibling = count(&|e| {
        matches!(
            e,
            Event::OrderCanceled {
                reason: CancelReason::SiblingExecuted,
                ..
            }
        )
    });
    let parent = count(&|e| {
        matches!(
            e,
            Event::OrderCanceled {
                reason: CancelReason::ParentUnfilled,
                ..
            }
        )
    });
    println!(
        "classes: {linked} orders linked, {activated} exits started, {sibling} ended by their \
         sibling, {parent} cancelled with an unfilled entry"
    );
    assert!(linked > scale, "{linked} orders linked");
    assert!(activated > scale / 10, "{activated} exits started");
    assert!(
        sibling > scale / 20,
        "{sibling} exits ended by their sibling"
    );
    assert!(
        parent > scale / 20,
        "{parent} exits cancelled with their entry"
    );
    let alerts = count(&|e| matches!(e, Event::AlertTriggered { .. }));
    assert!(alerts > scale / 10, "{alerts} price alerts fired");
    // Fractions and notional orders: fills of a fraction of a share, fills that moved cash
    // off the exact value's grid (rounded), notional orders that traded.
    let fractional =
        count(&|e| matches!(e, Event::OrderFilled { last_qty, .. } if !last_qty.is_whole()));
    let notional =
        count(&|e| matches!(e, Event::OrderAccepted { notional, .. } if notional.is_positive()));
    let rounded = count(&|e| {
        matches!(e, Event::OrderFilled { last_px, last_qty, value, .. }
            if value.exact() != bourse_core::exact_value(*last_px, *last_qty))
    });
    println!(
        "fractions: {fractional} fractional fills, {rounded} rounded, {notional} notional \
         orders accepted"
    );
    assert!(fractional > scale, "{fractional} fractional fills");
    assert!(rounded > scale / 10, "{rounded} rounded fills");
    assert!(notional > scale / 10, "{notional} notional orders");
    // Sessions: most commands in continuous trading, and every part of the day reached.
    assert!(
        run.in_continuous > n / 2,
        "{} in continuous",
        run.in_continuous
    );
    assert!(sessions > scale, "{sessions} session changes");
    assert!(auctions > scale / 10, "{auctions} auctions traded");
    assert!(parked > scale / 10, "{parked} orders parked");
    assert!(unfilled > scale / 10, "{unfilled} auction orders unfilled");
    assert!(
        run.extended_trades > scale / 20,
        "{} extended-hours trades",
        run.extended_trades
    );
    for reason in [
        bourse_core::RejectReason::InsufficientPosition,
        bourse_core::RejectReason::PriceOutOfBand,
        bourse_core::RejectReason::UnknownOrder,
        bourse_core::RejectReason::SymbolHalted,
        bourse_core::RejectReason::InsufficientFunds,
        RejectReason::MarketClosed,
        RejectReason::AuctionClosed,
        RejectReason::InvalidOrder,
        RejectReason::FractionalNotAllowed,
    ] {
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Rejected { reason: r, .. } if *r == reason)),
            "{reason:?} never happened"
        );
    }
    // Determinism: a second engine fed the same commands says exactly the same things.
    assert_eq!(events, replay(&cmds));
}

#[test]
fn snapshot_anywhere_then_replay_the_rest_gives_the_same_state_hash() {
    let n = std::env::var("BOURSE_ENGINE_FUZZ_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
        / 2;
    let (cmds, _) = generate_and_run(0x5EED_0002, n);
    // Events as the runner hands them on: tagged and numbered on the accounts' streams.
    let apply_all = |engine: &mut Engine, from: usize, to: usize, out: &mut Vec<Tagged>| {
        let mut scratch = Vec::new();
        for (k, cmd) in cmds.iter().enumerate().take(to).skip(from) {
            let s = sequenced(u64::try_from(k + 1).unwrap(), cmd);
            scratch.clear();
            engine.apply(&s, &mut scratch);
            out.extend(engine.tag(s.seq, s.ts, &scratch));
        }
    };
    let mut straight = engine();
    let mut straight_events = Vec::new();
    apply_all(&mut straight, 0, cmds.len(), &mut straight_events);
    let want = straight.state_hash().unwrap();
    // Each account's stream is numbered 1, 2, 3, … with no gap, and only its own events
    // are on it.
    let mut last = std::collections::HashMap::new();
    for t in &straight_events {
        match t.event.stream_account() {
            Some(a) => {
                let n = last.entry(a).or_insert(0u64);
                assert_eq!(t.aseq, *n + 1, "{a:?}'s stream at {t:?}");
                *n = t.aseq;
            }
            None => assert_eq!(t.aseq, 0, "{t:?} is on no stream"),
        }
    }
    assert!(last.len() > 3 && last.values().all(|&n| n > 10), "{last:?}");
    assert_ne!(
        engine().state_hash().unwrap(),
        want,
        "the hash sees the state"
    );

    let mut rng = Rng(99);
    // Four cuts anywhere, and one a few commands into the run's last call (its book may be
    // crossed, orders may be waiting for the close).
    let in_call = cmds
        .iter()
        .rposition(|c| matches!(c, Command::SetSession { session } if session.is_call()))
        .map(|k| {
            (k + 1..cmds.len().min(k + 10))
                .find(|&j| matches!(cmds[j], Command::SetSession { .. }))
                .unwrap_or(cmds.len().min(k + 10))
        });
    assert!(in_call.is_some(), "no call in {} commands", cmds.len());
    let cuts: Vec<usize> = (0..4)
        .map(|_| usize::try_from(rng.below(cmds.len() as u64)).unwrap())
        .chain(in_call)
        .collect();
    for cut in cuts {
        let mut first = engine();
        let mut events = Vec::new();
        apply_all(&mut first, 0, cut, &mut events);
        let bytes = bourse_core::codec::encode(&first.snapshot()).unwrap();
        let snap: bourse_engine::Snapshot = bourse_core::codec::decode(&bytes).unwrap();
        assert_eq!(snap.seq.0, u64::try_from(cut).unwrap());
        let mut restored = Engine::restore(snap).unwrap();
        assert_eq!(restored.state_hash().unwrap(), first.state_hash().unwrap());
        apply_all(&mut restored, cut, cmds.len(), &mut events);
        assert_eq!(restored.state_hash().unwrap(), want, "cut at {cut}");
        assert_eq!(
            events, straight_events,
            "cut at {cut}: same events, numbered the same, either way"
        );
    }
}

/// An order class made of `req`: a bracket or OTO with `req` as its entry, or an OCO with
/// it as the take profit; exits a few ticks either side (now and then on the wrong side,
/// refused).
fn class_of(rng: &mut Rng, mut req: OrderRequest, tick: i64) -> Command {
    let class = match rng.below(3) {
        0 => OrderClass::Bracket,
        1 => OrderClass::Oco,
        _ => OrderClass::Oto,
    };
    if rng.chance(95) {
        req.tif = if rng.chance(50) {
            TimeInForce::Day
        } else {
            TimeInForce::Gtc
        };
        req.opts = OrderOptions::default();
        req.post_only = false;
        if req.order_type == OrderType::TrailingStop {
            req.order_type = OrderType::Limit;
            req.limit_price = Some(Price::from_raw(tick * 1_000));
        }
    }
    let base = req
        .limit_price
        .or(req.stop_price)
        .unwrap_or(Price::from_raw(tick * 1_000));
    let exit_side = match class {
        OrderClass::Oco => req.side,
        _ => req.side.opposite(),
    };
    let away = |rng: &mut Rng, up: bool| {
        let k = i64::try_from(1 + rng.below(40)).unwrap() * tick;
        Price::from_raw(if up {
            base.raw() + k
        } else {
            (base.raw() - k).max(tick)
        })
    };
    // Sell exits: take profit above, stop below; buy exits the other way round.
    let wrong = rng.chance(3);
    let up = (exit_side == Side::Sell) != wrong;
    let mut tp = away(rng, up);
    let sl_stop = away(rng, !up);
    let sl = StopLoss {
        stop_price: sl_stop,
        limit_price: rng.chance(30).then(|| {
            let k = i64::try_from(rng.below(5)).unwrap() * tick;
            Price::from_raw(match exit_side {
                Side::Sell => (sl_stop.raw() - k).max(tick),
                Side::Buy => sl_stop.raw() + k,
            })
        }),
    };
    if class == OrderClass::Oco {
        // Its order is its take profit: a limit at the take-profit price.
        tp = if rng.chance(97) {
            tp
        } else {
            req.limit_price.unwrap_or(tp)
        };
        req.order_type = OrderType::Limit;
        req.limit_price = Some(tp);
        req.stop_price = None;
    }
    let (take_profit, stop_loss) = match class {
        OrderClass::Oto if rng.chance(50) => (Some(tp), None),
        OrderClass::Oto => (None, Some(sl)),
        _ => (Some(tp), Some(sl)),
    };
    Command::SubmitClass(Box::new(ClassRequest {
        class,
        order: req,
        take_profit,
        stop_loss,
    }))
}
