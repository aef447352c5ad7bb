//! Sessions and call auctions, one rule per test, each as a trader would expect it: which
//! orders a session admits, what waits for which auction, how a call uncrosses (one price,
//! price-time priority, who is maker), what the close does to DAY and GTC orders, and that a
//! restart or a replay in the middle of it all changes nothing.
//!
//! The driver lists two symbols only (AAPL, reference 190.00, and KO, 62.00; ticks of a
//! cent, bands of 10 %): every uncross reports on every book, so the events of a session
//! change are short enough to assert whole.
#![allow(clippy::unwrap_used)]

mod common;

use bourse_core::{
    AccountId, CancelReason, Cash, Command, Event, Liquidity, OrderId, OrderRequest, OrderType,
    Price, Qty, RejectReason, Seq, Sequenced, Session, Side, Symbol, TimeInForce, TradeId,
    UnixNanos,
};
use bourse_engine::{Engine, EngineConfig};
use common::{Driver, limit, market, px, sym};

use Session::{AfterHours, Closed, ClosingCall, Continuous, OpeningCall, PreMarket};

fn driver() -> Driver {
    Driver::with_symbols(EngineConfig::default(), &["AAPL", "KO"])
}

/// Moves the market to `session`; returns the command's events.
fn to(d: &mut Driver, session: Session) -> Vec<Event> {
    let ev = d.run(Command::SetSession { session });
    assert_eq!(d.engine.session(), session);
    ev
}

/// Submits `req`, which must be accepted: its id and the command's events.
fn place(d: &mut Driver, req: OrderRequest) -> (OrderId, Vec<Event>) {
    let ev = d.run(Command::SubmitOrder(req));
    let id = ev
        .iter()
        .find_map(|e| match e {
            Event::OrderAccepted { order_id, .. } => Some(*order_id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("not accepted: {ev:?}"));
    (id, ev)
}

/// Submits `req`, which must be refused with nothing else happening: the reason.
fn refused(d: &mut Driver, req: OrderRequest) -> RejectReason {
    let ev = d.run(Command::SubmitOrder(req));
    match ev[..] {
        [Event::Rejected { reason, .. }] => reason,
        _ => panic!("not refused: {ev:?}"),
    }
}

fn rejected(ev: &[Event]) -> Option<RejectReason> {
    ev.iter().find_map(|e| match e {
        Event::Rejected { reason, .. } => Some(*reason),
        _ => None,
    })
}

/// The command's events without the closing balance and position reports.
fn core(ev: &[Event]) -> Vec<Event> {
    ev.iter()
        .filter(|e| {
            !matches!(
                e,
                Event::BalanceChanged { .. } | Event::PositionChanged { .. }
            )
        })
        .copied()
        .collect()
}

fn usd(s: &str) -> Cash {
    s.parse().unwrap()
}

fn tif(mut r: OrderRequest, tif: TimeInForce) -> OrderRequest {
    r.tif = tif;
    r
}

/// A limit DAY order that also trades in pre-market and after-hours.
fn extended(mut r: OrderRequest) -> OrderRequest {
    r.tif = TimeInForce::Day;
    r.opts.extended_hours = true;
    r
}

fn accepted(id: OrderId, r: &OrderRequest) -> Event {
    Event::OrderAccepted {
        order_id: id,
        account: r.account,
        symbol: r.symbol,
        client_order_id: r.client_order_id,
        side: r.side,
        order_type: r.order_type,
        tif: r.tif,
        qty: r.qty,
        limit_price: r.limit_price,
        stop_price: r.stop_price,
        notional: Cash::ZERO,
        extended_hours: r.opts.extended_hours,
    }
}

fn rested(id: OrderId, symbol: &str, side: Side, price: &str, qty: u64) -> Event {
    Event::OrderRested {
        order_id: id,
        symbol: sym(symbol),
        side,
        price: px(price),
        qty: Qty::shares(qty),
    }
}

fn changed(session: Session) -> Event {
    Event::SessionChanged { session }
}

/// The report of an auction that had nothing to match.
fn no_auction(symbol: &str, session: Session) -> Event {
    Event::AuctionUncrossed {
        symbol: sym(symbol),
        session,
        price: None,
        volume: Qty::ZERO,
        imbalance: Qty::ZERO,
        imbalance_side: None,
    }
}

fn auction(
    symbol: &str,
    session: Session,
    price: &str,
    volume: u64,
    imbalance: Option<(u64, Side)>,
) -> Event {
    Event::AuctionUncrossed {
        symbol: sym(symbol),
        session,
        price: Some(px(price)),
        volume: Qty::shares(volume),
        imbalance: Qty::shares(imbalance.map_or(0, |i| i.0)),
        imbalance_side: imbalance.map(|i| i.1),
    }
}

fn trade(
    symbol: &str,
    n: u64,
    price: &str,
    qty: u64,
    aggressor: Side,
    maker: OrderId,
    taker: OrderId,
) -> Event {
    Event::Trade {
        symbol: sym(symbol),
        trade_id: TradeId::new(n),
        price: px(price),
        qty: Qty::shares(qty),
        aggressor,
        maker_order: maker,
        taker_order: taker,
    }
}

/// One execution report, the fields that vary: (order, price, qty, cum, leaves, liquidity, fee).
type Fill = (OrderId, Price, u64, u64, u64, Liquidity, Cash);

fn fills(ev: &[Event]) -> Vec<Fill> {
    ev.iter()
        .filter_map(|e| match *e {
            Event::OrderFilled {
                order_id,
                last_px,
                last_qty,
                cum_qty,
                leaves_qty,
                liquidity,
                fee,
                ..
            } => Some((
                order_id,
                last_px,
                last_qty.whole_shares(),
                cum_qty.whole_shares(),
                leaves_qty.whole_shares(),
                liquidity,
                fee,
            )),
            _ => None,
        })
        .collect()
}

fn canceled(
    id: OrderId,
    r: &OrderRequest,
    qty: u64,
    resting_price: Option<&str>,
    reason: CancelReason,
) -> Event {
    Event::OrderCanceled {
        order_id: id,
        account: r.account,
        symbol: r.symbol,
        side: r.side,
        qty: Qty::shares(qty),
        resting_price: resting_price.map(px),
        reason,
    }
}

fn parked(id: OrderId, r: &OrderRequest, qty: u64, price: &str) -> Event {
    Event::OrderParked {
        order_id: id,
        account: r.account,
        symbol: r.symbol,
        side: r.side,
        qty: Qty::shares(qty),
        resting_price: Some(px(price)),
    }
}

fn cash(d: &Driver, a: AccountId) -> (Cash, Cash) {
    d.engine.cash(a).unwrap()
}

fn position(d: &Driver, a: AccountId, symbol: &str) -> (u64, u64) {
    let (q, r) = d.engine.position(a, sym(symbol)).unwrap();
    (q.whole_shares(), r.whole_shares())
}

fn book<'a>(d: &'a Driver, symbol: &str) -> &'a bourse_book::OrderBook {
    d.engine.book(sym(symbol)).unwrap()
}

/// The book's orders, bids best first then asks, in priority: (id, price, open quantity).
fn orders(d: &Driver, symbol: &str) -> Vec<(OrderId, Price, u64)> {
    [Side::Buy, Side::Sell]
        .into_iter()
        .flat_map(|s| book(d, symbol).orders(s))
        .map(|o| (o.id, o.price, o.qty.whole_shares()))
        .collect()
}

// ------------------------------------------------------------------------------- the day

#[test]
fn a_day_walks_every_session_in_order_and_an_order_placed_overnight_trades_at_the_open() {
    let mut d = driver();
    assert_eq!(
        d.engine.session(),
        Continuous,
        "without a calendar: always open"
    );
    let b = d.funded(100_000);
    let s = d.funded(0);
    d.shares(s, "AAPL", 100);

    // The close and the night in one command: an (empty) closing call, after-hours, closed.
    let ev = to(&mut d, Closed);
    assert_eq!(
        ev,
        vec![
            changed(ClosingCall),
            no_auction("AAPL", ClosingCall),
            no_auction("KO", ClosingCall),
            changed(AfterHours),
            changed(Closed),
        ]
    );

    // Closed: a regular order is accepted and waits for the open, its cash reserved.
    let buy = limit(b, "AAPL", Side::Buy, "191.00", 100);
    let (bid, ev) = place(&mut d, buy);
    assert_eq!(core(&ev), vec![accepted(bid, &buy)]);
    assert!(book(&d, "AAPL").is_empty());
    assert_eq!(cash(&d, b), (usd("100000"), usd("19100")));

    assert_eq!(to(&mut d, PreMarket), vec![changed(PreMarket)]);
    // Pre-market: a regular (not extended-hours) order waits too.
    let sell = limit(s, "AAPL", Side::Sell, "189.00", 100);
    let (sid, ev) = place(&mut d, sell);
    assert_eq!(core(&ev), vec![accepted(sid, &sell)]);
    assert_eq!(position(&d, s, "AAPL"), (100, 100));

    // The opening call: both enter the book in the order they came, crossed, nothing trades.
    let ev = to(&mut d, OpeningCall);
    assert_eq!(
        ev,
        vec![
            rested(bid, "AAPL", Side::Buy, "191.00", 100),
            rested(sid, "AAPL", Side::Sell, "189.00", 100),
            changed(OpeningCall),
        ]
    );
    assert!(book(&d, "AAPL").in_call() && book(&d, "AAPL").is_crossed());

    // The open: 100 at one price. 189.00 and 191.00 match as much and are as near the
    // reference (190.00): the lower wins. The earlier order (the buy) is the maker.
    let ev = to(&mut d, Continuous);
    assert_eq!(
        ev,
        vec![
            trade("AAPL", 1, "189.00", 100, Side::Sell, bid, sid),
            Event::OrderFilled {
                order_id: bid,
                account: b,
                symbol: sym("AAPL"),
                side: Side::Buy,
                trade_id: TradeId::new(1),
                last_px: px("189.00"),
                last_qty: Qty::shares(100),
                cum_qty: Qty::shares(100),
                leaves_qty: Qty::ZERO,
                cum_notional: usd("18900"),
                liquidity: Liquidity::Maker,
                fee: Cash::ZERO,
                value: px("189.00").notional(Qty::shares(100)).unwrap(),
            },
            Event::OrderFilled {
                order_id: sid,
                account: s,
                symbol: sym("AAPL"),
                side: Side::Sell,
                trade_id: TradeId::new(1),
                last_px: px("189.00"),
                last_qty: Qty::shares(100),
                cum_qty: Qty::shares(100),
                leaves_qty: Qty::ZERO,
                cum_notional: usd("18900"),
                liquidity: Liquidity::Taker,
                fee: Cash::ZERO,
                value: px("189.00").notional(Qty::shares(100)).unwrap(),
            },
            auction("AAPL", OpeningCall, "189.00", 100, None),
            no_auction("KO", OpeningCall),
            changed(Continuous),
            Event::BalanceChanged {
                account: b,
                cash: usd("81100"),
                reserved: Cash::ZERO,
            },
            Event::PositionChanged {
                account: b,
                symbol: sym("AAPL"),
                qty: Qty::shares(100),
                reserved: Qty::ZERO,
            },
            Event::BalanceChanged {
                account: s,
                cash: usd("18900"),
                reserved: Cash::ZERO,
            },
            Event::PositionChanged {
                account: s,
                symbol: sym("AAPL"),
                qty: Qty::ZERO,
                reserved: Qty::ZERO,
            },
        ]
    );
    assert!(!book(&d, "AAPL").in_call());

    // Continuous trading matches on arrival again.
    let resting = limit(b, "AAPL", Side::Sell, "189.50", 40);
    let (rid, _) = place(&mut d, resting);
    let (tid, ev) = place(&mut d, limit(s, "AAPL", Side::Buy, "189.50", 40));
    assert_eq!(
        fills(&ev),
        vec![
            (rid, px("189.50"), 40, 40, 0, Liquidity::Maker, Cash::ZERO),
            (tid, px("189.50"), 40, 40, 0, Liquidity::Taker, Cash::ZERO),
        ]
    );

    assert_eq!(to(&mut d, ClosingCall), vec![changed(ClosingCall)]);
    assert_eq!(
        to(&mut d, AfterHours),
        vec![
            no_auction("AAPL", ClosingCall),
            no_auction("KO", ClosingCall),
            changed(AfterHours),
        ]
    );
    assert_eq!(to(&mut d, Closed), vec![changed(Closed)]);
    assert_eq!(position(&d, b, "AAPL"), (60, 0));
    assert_eq!(position(&d, s, "AAPL"), (40, 0));
}

#[test]
fn the_opening_call_rests_crossing_orders_then_uncrosses_at_one_price_in_price_time_priority() {
    let mut d = Driver::with_symbols(
        EngineConfig {
            maker_fee_bps: 10,
            taker_fee_bps: 30,
            ..EngineConfig::default()
        },
        &["AAPL", "KO"],
    );
    let (s1, s2, s3) = (d.funded(0), d.funded(0), d.funded(0));
    for s in [s1, s2, s3] {
        d.shares(s, "AAPL", 1_000);
    }
    let (b1, b2, b3) = (d.funded(100_000), d.funded(100_000), d.funded(100_000));
    // From continuous trading to the next morning's opening call in one command.
    to(&mut d, OpeningCall);

    // Six orders, interleaved, many crossing: each rests as it comes, nothing trades.
    let reqs = [
        limit(s1, "AAPL", Side::Sell, "189.50", 100),
        limit(b1, "AAPL", Side::Buy, "191.00", 150),
        limit(s2, "AAPL", Side::Sell, "190.00", 100),
        limit(b2, "AAPL", Side::Buy, "190.50", 100),
        limit(s3, "AAPL", Side::Sell, "190.50", 200),
        limit(b3, "AAPL", Side::Buy, "189.00", 100),
    ];
    let mut ids = Vec::new();
    for r in reqs {
        let (id, ev) = place(&mut d, r);
        let price = r.limit_price.unwrap().to_string();
        assert_eq!(
            core(&ev),
            vec![
                accepted(id, &r),
                rested(id, "AAPL", r.side, &price, r.qty.whole_shares())
            ]
        );
        ids.push(id);
    }
    let [s1o, b1o, s2o, b2o, s3o, b3o] = ids[..] else {
        unreachable!()
    };
    assert!(book(&d, "AAPL").is_crossed());
    let indicative = book(&d, "AAPL").indicative(px("190.00")).unwrap();
    assert_eq!(
        (indicative.price, indicative.volume.whole_shares()),
        (px("190.50"), 250)
    );
    // The buys reserve their limit value plus the worst fee (30 bps).
    assert_eq!(cash(&d, b1), (usd("100000"), usd("28735.95")));

    // Volume at 189.00: 0; 189.50: 100; 190.00: 200; 190.50: 250; 191.00: 150. So 190.50,
    // with 150 more to sell than to buy there. Best price first, then time; the earlier of
    // the two orders of each trade is the maker: s1 (100 to b1), b1 (its last 50 to s2),
    // s2 (its last 50 to b2), b2 (its last 50 to s3, which keeps 150 of its 200). b3 at
    // 189.00 is below the price.
    let ev = to(&mut d, Continuous);
    let aapl = sym("AAPL");
    let fill = |order_id, account, side, n, qty, cum, leaves, notional: &str, maker, fee: &str| {
        Event::OrderFilled {
            order_id,
            account,
            symbol: aapl,
            side,
            trade_id: TradeId::new(n),
            last_px: px("190.50"),
            last_qty: Qty::shares(qty),
            cum_qty: Qty::shares(cum),
            leaves_qty: Qty::shares(leaves),
            cum_notional: usd(notional),
            liquidity: if maker {
                Liquidity::Maker
            } else {
                Liquidity::Taker
            },
            fee: usd(fee),
            value: px("190.50").notional(Qty::shares(qty)).unwrap(),
        }
    };
    let (buy, sell) = (Side::Buy, Side::Sell);
    assert_eq!(
        core(&ev),
        vec![
            trade("AAPL", 1, "190.50", 100, buy, s1o, b1o),
            fill(s1o, s1, sell, 1, 100, 100, 0, "19050", true, "19.05"),
            fill(b1o, b1, buy, 1, 100, 100, 50, "19050", false, "57.15"),
            trade("AAPL", 2, "190.50", 50, sell, b1o, s2o),
            fill(b1o, b1, buy, 2, 50, 150, 0, "28575", true, "9.525"),
            fill(s2o, s2, sell, 2, 50, 50, 50, "9525", false, "28.575"),
            trade("AAPL", 3, "190.50", 50, buy, s2o, b2o),
            fill(s2o, s2, sell, 3, 50, 100, 0, "19050", true, "9.525"),
            fill(b2o, b2, buy, 3, 50, 50, 50, "9525", false, "28.575"),
            trade("AAPL", 4, "190.50", 50, sell, b2o, s3o),
            fill(b2o, b2, buy, 4, 50, 100, 0, "19050", true, "9.525"),
            fill(s3o, s3, sell, 4, 50, 50, 150, "9525", false, "28.575"),
            auction("AAPL", OpeningCall, "190.50", 250, Some((150, Side::Sell))),
            // The book as the auction left it, in priority order.
            rested(b3o, "AAPL", Side::Buy, "189.00", 100),
            rested(s3o, "AAPL", Side::Sell, "190.50", 150),
            no_auction("KO", OpeningCall),
            changed(Continuous),
        ]
    );
    // Balances: value and fee moved, what filled no longer reserved.
    assert_eq!(cash(&d, s1), (usd("19030.95"), Cash::ZERO));
    assert_eq!(cash(&d, b1), (usd("71358.325"), Cash::ZERO));
    assert_eq!(cash(&d, s2), (usd("19011.90"), Cash::ZERO));
    assert_eq!(cash(&d, b2), (usd("80911.90"), Cash::ZERO));
    assert_eq!(cash(&d, s3), (usd("9496.425"), Cash::ZERO));
    assert_eq!(cash(&d, b3), (usd("100000"), usd("18956.70")));
    assert_eq!(position(&d, s1, "AAPL"), (900, 0));
    assert_eq!(position(&d, s2, "AAPL"), (900, 0));
    assert_eq!(position(&d, s3, "AAPL"), (950, 150));
    assert_eq!(position(&d, b1, "AAPL"), (150, 0));
    assert_eq!(position(&d, b2, "AAPL"), (100, 0));
    assert_eq!(d.engine.fees_collected(), usd("190.50"));
    // Continuous trading goes on from the uncrossed book.
    assert_eq!(
        orders(&d, "AAPL"),
        vec![(b3o, px("189.00"), 100), (s3o, px("190.50"), 150)]
    );
    let ev = d.run(Command::SubmitOrder(market(b1, "AAPL", Side::Buy, 10)));
    assert_eq!(
        fills(&ev)[0],
        (
            s3o,
            px("190.50"),
            10,
            60,
            140,
            Liquidity::Maker,
            usd("1.905")
        )
    );
}

#[test]
fn an_on_open_remainder_is_cancelled_auction_unfilled_at_the_open() {
    let mut d = driver();
    let b = d.funded(100_000);
    let s = d.funded(0);
    d.shares(s, "AAPL", 100);
    to(&mut d, PreMarket);
    let opg = tif(limit(b, "AAPL", Side::Buy, "190.00", 100), TimeInForce::Opg);
    let (bid, ev) = place(&mut d, opg);
    assert_eq!(core(&ev), vec![accepted(bid, &opg)], "waits for the open");
    let sell = limit(s, "AAPL", Side::Sell, "190.00", 60);
    let (sid, _) = place(&mut d, sell);
    to(&mut d, OpeningCall);
    let ev = to(&mut d, Continuous);
    assert_eq!(
        fills(&ev),
        vec![
            (bid, px("190.00"), 60, 60, 40, Liquidity::Maker, Cash::ZERO),
            (sid, px("190.00"), 60, 60, 0, Liquidity::Taker, Cash::ZERO),
        ]
    );
    let after: Vec<Event> = core(&ev)
        .into_iter()
        .skip_while(|e| !matches!(e, Event::OrderCanceled { .. }))
        .collect();
    assert_eq!(
        after,
        vec![
            canceled(bid, &opg, 40, Some("190.00"), CancelReason::AuctionUnfilled),
            auction("AAPL", OpeningCall, "190.00", 60, Some((40, Side::Buy))),
            no_auction("KO", OpeningCall),
            changed(Continuous),
        ]
    );
    assert!(!d.engine.is_working(bid));
    assert_eq!(cash(&d, b), (usd("88600"), Cash::ZERO));
    assert!(book(&d, "AAPL").is_empty());
}

#[test]
fn on_close_orders_wait_through_continuous_trading_and_join_the_closing_call() {
    let mut d = driver();
    let b = d.funded(100_000);
    let s = d.funded(0);
    d.shares(s, "AAPL", 100);
    // Continuous: the on-close sell waits; a crossing buy rests beside it, no trade.
    let cls = tif(limit(s, "AAPL", Side::Sell, "190.00", 50), TimeInForce::Cls);
    let (cid, ev) = place(&mut d, cls);
    assert_eq!(core(&ev), vec![accepted(cid, &cls)]);
    assert_eq!(position(&d, s, "AAPL"), (100, 50), "reserved while waiting");
    let buy = limit(b, "AAPL", Side::Buy, "190.50", 50);
    let (bid, ev) = place(&mut d, buy);
    assert_eq!(
        core(&ev),
        vec![
            accepted(bid, &buy),
            rested(bid, "AAPL", Side::Buy, "190.50", 50)
        ]
    );
    // The closing call: the on-close order enters the book.
    assert_eq!(
        to(&mut d, ClosingCall),
        vec![
            rested(cid, "AAPL", Side::Sell, "190.00", 50),
            changed(ClosingCall)
        ]
    );
    // In the call an on-close order goes straight in.
    let late = tif(limit(b, "AAPL", Side::Buy, "189.00", 30), TimeInForce::Cls);
    let (lid, ev) = place(&mut d, late);
    assert_eq!(
        core(&ev),
        vec![
            accepted(lid, &late),
            rested(lid, "AAPL", Side::Buy, "189.00", 30)
        ]
    );
    // The close: 50 at 190.00 (as much at 190.50, but 190.00 is the reference); the
    // on-close order came first and is the maker. The late one is unfilled: cancelled, not
    // kept for tomorrow.
    let ev = to(&mut d, AfterHours);
    assert_eq!(
        core(&ev),
        vec![
            trade("AAPL", 1, "190.00", 50, Side::Buy, cid, bid),
            Event::OrderFilled {
                order_id: cid,
                account: s,
                symbol: sym("AAPL"),
                side: Side::Sell,
                trade_id: TradeId::new(1),
                last_px: px("190.00"),
                last_qty: Qty::shares(50),
                cum_qty: Qty::shares(50),
                leaves_qty: Qty::ZERO,
                cum_notional: usd("9500"),
                liquidity: Liquidity::Maker,
                fee: Cash::ZERO,
                value: px("190.00").notional(Qty::shares(50)).unwrap(),
            },
            Event::OrderFilled {
                order_id: bid,
                account: b,
                symbol: sym("AAPL"),
                side: Side::Buy,
                trade_id: TradeId::new(1),
                last_px: px("190.00"),
                last_qty: Qty::shares(50),
                cum_qty: Qty::shares(50),
                leaves_qty: Qty::ZERO,
                cum_notional: usd("9500"),
                liquidity: Liquidity::Taker,
                fee: Cash::ZERO,
                value: px("190.00").notional(Qty::shares(50)).unwrap(),
            },
            canceled(
                lid,
                &late,
                30,
                Some("189.00"),
                CancelReason::AuctionUnfilled
            ),
            auction("AAPL", ClosingCall, "190.00", 50, None),
            no_auction("KO", ClosingCall),
            changed(AfterHours),
        ]
    );
    assert_eq!(cash(&d, b), (usd("90500"), Cash::ZERO));
    assert_eq!(cash(&d, s), (usd("9500"), Cash::ZERO));
    assert_eq!(position(&d, s, "AAPL"), (50, 0));
    // After the close an on-close order waits for the next day's closing call.
    let next = tif(limit(s, "AAPL", Side::Sell, "191.00", 10), TimeInForce::Cls);
    let (nid, ev) = place(&mut d, next);
    assert_eq!(core(&ev), vec![accepted(nid, &next)]);
    assert_eq!(
        to(&mut d, Continuous),
        vec![
            changed(Closed),
            changed(PreMarket),
            changed(OpeningCall),
            no_auction("AAPL", OpeningCall),
            no_auction("KO", OpeningCall),
            changed(Continuous),
        ]
    );
    assert!(d.engine.is_working(nid) && book(&d, "AAPL").is_empty());
    assert_eq!(
        to(&mut d, ClosingCall),
        vec![
            rested(nid, "AAPL", Side::Sell, "191.00", 10),
            changed(ClosingCall)
        ]
    );
}

#[test]
fn a_market_order_for_the_open_rests_at_the_collar_and_its_remainder_is_cancelled() {
    let mut d = driver();
    let b = d.funded(100_000);
    let s = d.funded(0);
    d.shares(s, "AAPL", 100);
    d.shares(s, "KO", 100);
    let k = d.funded(10_000);
    to(&mut d, PreMarket);
    // Nothing to price it from yet: the market collar around the reference, 190.00 + 5 %.
    let moo = tif(market(b, "AAPL", Side::Buy, 100), TimeInForce::Opg);
    let (mid, ev) = place(&mut d, moo);
    assert_eq!(core(&ev), vec![accepted(mid, &moo)]);
    assert_eq!(cash(&d, b), (usd("100000"), usd("19950")));
    let sell = tif(limit(s, "AAPL", Side::Sell, "189.00", 50), TimeInForce::Opg);
    let (sid, _) = place(&mut d, sell);
    // A market DAY sell waiting for the open: 62.00 − 5 % = 58.90.
    let mday = tif(market(s, "KO", Side::Sell, 30), TimeInForce::Day);
    let (mdid, _) = place(&mut d, mday);
    let (kid, _) = place(&mut d, limit(k, "KO", Side::Buy, "62.00", 20));
    assert_eq!(
        to(&mut d, OpeningCall),
        vec![
            rested(mid, "AAPL", Side::Buy, "199.50", 100),
            rested(sid, "AAPL", Side::Sell, "189.00", 50),
            rested(mdid, "KO", Side::Sell, "58.90", 30),
            rested(kid, "KO", Side::Buy, "62.00", 20),
            changed(OpeningCall),
        ]
    );
    // AAPL: 50 trade at 189.00 or at 199.50; 189.00 is nearer the reference. What the
    // market-on-open did not get is cancelled as an auction order's. KO: 20 at 58.90 or
    // 62.00; 62.00 is the reference. The market DAY order's remainder goes as a market
    // order's.
    let ev = to(&mut d, Continuous);
    assert_eq!(
        fills(&ev),
        vec![
            (mid, px("189.00"), 50, 50, 50, Liquidity::Maker, Cash::ZERO),
            (sid, px("189.00"), 50, 50, 0, Liquidity::Taker, Cash::ZERO),
            (mdid, px("62.00"), 20, 20, 10, Liquidity::Maker, Cash::ZERO),
            (kid, px("62.00"), 20, 20, 0, Liquidity::Taker, Cash::ZERO),
        ]
    );
    let rest: Vec<Event> = core(&ev)
        .into_iter()
        .filter(|e| !matches!(e, Event::OrderFilled { .. } | Event::Trade { .. }))
        .collect();
    assert_eq!(
        rest,
        vec![
            canceled(mid, &moo, 50, Some("199.50"), CancelReason::AuctionUnfilled),
            auction("AAPL", OpeningCall, "189.00", 50, Some((50, Side::Buy))),
            canceled(
                mdid,
                &mday,
                10,
                Some("58.90"),
                CancelReason::MarketRemainder
            ),
            auction("KO", OpeningCall, "62.00", 20, Some((10, Side::Sell))),
            changed(Continuous),
        ]
    );
    assert_eq!(cash(&d, b), (usd("90550"), Cash::ZERO));
    assert_eq!(cash(&d, s), (usd("10690"), Cash::ZERO));
    assert_eq!(cash(&d, k), (usd("8760"), Cash::ZERO));
    assert_eq!(position(&d, s, "AAPL"), (50, 0));
    assert_eq!(position(&d, s, "KO"), (80, 0));
    assert!(book(&d, "AAPL").is_empty() && book(&d, "KO").is_empty());
}

#[test]
fn ioc_and_fok_orders_are_refused_market_closed_outside_continuous_trading() {
    let mut d = driver();
    let b = d.funded(100_000);
    let s = d.funded(0);
    d.shares(s, "AAPL", 100);
    d.run(Command::SubmitOrder(limit(
        s,
        "AAPL",
        Side::Sell,
        "190.00",
        50,
    )));
    let ioc = tif(limit(b, "AAPL", Side::Buy, "190.00", 10), TimeInForce::Ioc);
    let fok = tif(limit(b, "AAPL", Side::Buy, "190.00", 10), TimeInForce::Fok);
    let mkt = market(b, "AAPL", Side::Buy, 10);
    for session in [ClosingCall, AfterHours, Closed, PreMarket, OpeningCall] {
        to(&mut d, session);
        for req in [ioc, fok, mkt] {
            assert_eq!(
                refused(&mut d, req),
                RejectReason::MarketClosed,
                "{session}: {req:?}"
            );
        }
        assert_eq!(cash(&d, b).1, Cash::ZERO);
    }
    // In continuous trading they trade as ever (the resting sell came back at the open).
    to(&mut d, Continuous);
    for req in [ioc, fok, mkt] {
        let (_, ev) = place(&mut d, req);
        assert_eq!(fills(&ev).len(), 2, "{req:?}: {ev:?}");
    }
}

#[test]
fn an_on_open_order_is_refused_auction_closed_once_the_open_has_passed() {
    let mut d = driver();
    let b = d.funded(100_000);
    let opg = tif(limit(b, "AAPL", Side::Buy, "190.00", 10), TimeInForce::Opg);
    let moo = tif(market(b, "AAPL", Side::Buy, 10), TimeInForce::Opg);
    for session in [Continuous, ClosingCall] {
        to(&mut d, session);
        assert_eq!(refused(&mut d, opg), RejectReason::AuctionClosed);
        assert_eq!(refused(&mut d, moo), RejectReason::AuctionClosed);
    }
    // After the close it is for tomorrow's open: it waits for it.
    to(&mut d, AfterHours);
    let (id, ev) = place(&mut d, opg);
    assert_eq!(core(&ev), vec![accepted(id, &opg)]);
    assert_eq!(cash(&d, b).1, usd("1900"));
    let ev = to(&mut d, OpeningCall);
    assert_eq!(
        ev[..3],
        [
            changed(Closed),
            changed(PreMarket),
            rested(id, "AAPL", Side::Buy, "190.00", 10)
        ]
    );
}

#[test]
fn order_shapes_the_sessions_do_not_allow_are_invalid() {
    let mut d = driver();
    let b = d.funded(100_000);
    let base = limit(b, "AAPL", Side::Buy, "190.00", 10);
    let mut ext_gtc = base;
    ext_gtc.opts.extended_hours = true;
    let ext_market = extended(market(b, "AAPL", Side::Buy, 10));
    let mut opg_stop = tif(base, TimeInForce::Opg);
    opg_stop.order_type = OrderType::StopLimit;
    opg_stop.stop_price = Some(px("189.00"));
    let mut cls_post = tif(base, TimeInForce::Cls);
    cls_post.post_only = true;
    let ext_ioc = tif(extended(base), TimeInForce::Ioc);
    let ext_opg = tif(extended(base), TimeInForce::Opg);
    for session in [PreMarket, Continuous] {
        to(&mut d, session);
        for req in [ext_gtc, ext_market, opg_stop, cls_post, ext_ioc, ext_opg] {
            assert_eq!(refused(&mut d, req), RejectReason::InvalidOrder, "{req:?}");
        }
    }
}

#[test]
fn extended_hours_orders_trade_in_pre_market_while_a_regular_order_waits_for_the_open() {
    let mut d = driver();
    let x = d.funded(0);
    d.shares(x, "AAPL", 100);
    let (y, z) = (d.funded(100_000), d.funded(100_000));
    to(&mut d, PreMarket);
    let xs = extended(limit(x, "AAPL", Side::Sell, "190.00", 100));
    let (xid, ev) = place(&mut d, xs);
    assert_eq!(
        core(&ev),
        vec![
            accepted(xid, &xs),
            rested(xid, "AAPL", Side::Sell, "190.00", 100)
        ]
    );
    // Two extended-hours orders trade continuously, at the resting order's price.
    let yb = extended(limit(y, "AAPL", Side::Buy, "190.10", 60));
    let (yid, ev) = place(&mut d, yb);
    assert_eq!(
        core(&ev)[..2],
        [
            accepted(yid, &yb),
            trade("AAPL", 1, "190.00", 60, Side::Buy, xid, yid)
        ]
    );
    assert_eq!(
        fills(&ev),
        vec![
            (xid, px("190.00"), 60, 60, 40, Liquidity::Maker, Cash::ZERO),
            (yid, px("190.00"), 60, 60, 0, Liquidity::Taker, Cash::ZERO),
        ]
    );
    // A regular DAY order crossing it is accepted and waits: nothing trades.
    let zb = tif(limit(z, "AAPL", Side::Buy, "190.50", 40), TimeInForce::Day);
    let (zid, ev) = place(&mut d, zb);
    assert_eq!(core(&ev), vec![accepted(zid, &zb)]);
    assert_eq!(orders(&d, "AAPL"), vec![(xid, px("190.00"), 40)]);
    assert_eq!(cash(&d, z), (usd("100000"), usd("7620")));
    // It enters the opening call (the extended order is already on the book) and trades
    // at the open: 190.00 is the last trade, so the reference.
    assert_eq!(
        to(&mut d, OpeningCall),
        vec![
            rested(zid, "AAPL", Side::Buy, "190.50", 40),
            changed(OpeningCall)
        ]
    );
    let ev = to(&mut d, Continuous);
    assert_eq!(
        core(&ev),
        vec![
            trade("AAPL", 2, "190.00", 40, Side::Buy, xid, zid),
            Event::OrderFilled {
                order_id: xid,
                account: x,
                symbol: sym("AAPL"),
                side: Side::Sell,
                trade_id: TradeId::new(2),
                last_px: px("190.00"),
                last_qty: Qty::shares(40),
                cum_qty: Qty::shares(100),
                leaves_qty: Qty::ZERO,
                cum_notional: usd("19000"),
                liquidity: Liquidity::Maker,
                fee: Cash::ZERO,
                value: px("190.00").notional(Qty::shares(40)).unwrap(),
            },
            Event::OrderFilled {
                order_id: zid,
                account: z,
                symbol: sym("AAPL"),
                side: Side::Buy,
                trade_id: TradeId::new(2),
                last_px: px("190.00"),
                last_qty: Qty::shares(40),
                cum_qty: Qty::shares(40),
                leaves_qty: Qty::ZERO,
                cum_notional: usd("7600"),
                liquidity: Liquidity::Taker,
                fee: Cash::ZERO,
                value: px("190.00").notional(Qty::shares(40)).unwrap(),
            },
            auction("AAPL", OpeningCall, "190.00", 40, None),
            no_auction("KO", OpeningCall),
            changed(Continuous),
        ]
    );
    assert_eq!(cash(&d, z), (usd("92400"), Cash::ZERO));
    assert_eq!(cash(&d, x), (usd("19000"), Cash::ZERO));
}

#[test]
fn at_the_close_day_orders_expire_and_gtc_orders_step_off_until_the_next_open_in_their_priority() {
    let mut d = driver();
    let (a, b, c, e) = (
        d.funded(100_000),
        d.funded(100_000),
        d.funded(100_000),
        d.funded(100_000),
    );
    let (s, t) = (d.funded(0), d.funded(0));
    d.shares(s, "AAPL", 100);
    d.shares(t, "AAPL", 100);
    let g1 = limit(a, "AAPL", Side::Buy, "189.00", 10);
    let dy = tif(limit(b, "AAPL", Side::Buy, "189.00", 10), TimeInForce::Day);
    let g2 = limit(c, "AAPL", Side::Buy, "189.00", 10);
    let sg = limit(s, "AAPL", Side::Sell, "191.00", 10);
    let (g1id, _) = place(&mut d, g1);
    let (dyid, _) = place(&mut d, dy);
    let (g2id, _) = place(&mut d, g2);
    let (sgid, _) = place(&mut d, sg);
    // The close: nothing crosses. Then the DAY order expires and the GTC orders step off
    // the book, bids best first then asks, each in time priority; the uncross's report
    // comes after, with the book as the close left it (empty: no `OrderRested`).
    let ev = to(&mut d, AfterHours);
    assert_eq!(
        core(&ev),
        vec![
            changed(ClosingCall),
            canceled(dyid, &dy, 10, Some("189.00"), CancelReason::Expired),
            parked(g1id, &g1, 10, "189.00"),
            parked(g2id, &g2, 10, "189.00"),
            parked(sgid, &sg, 10, "191.00"),
            no_auction("AAPL", ClosingCall),
            no_auction("KO", ClosingCall),
            changed(AfterHours),
        ]
    );
    assert!(book(&d, "AAPL").is_empty());
    // Parked orders keep their reservations; the expired one's is released.
    assert_eq!(cash(&d, a), (usd("100000"), usd("1890")));
    assert_eq!(cash(&d, b), (usd("100000"), Cash::ZERO));
    assert_eq!(position(&d, s, "AAPL"), (100, 10));
    assert!(d.engine.is_working(g1id) && !d.engine.is_working(dyid));

    assert_eq!(
        to(&mut d, PreMarket),
        vec![changed(Closed), changed(PreMarket)]
    );
    // A new order at the same price, placed before the open, comes after them.
    let late = limit(e, "AAPL", Side::Buy, "189.00", 10);
    let (lid, _) = place(&mut d, late);
    assert_eq!(
        to(&mut d, OpeningCall),
        vec![
            rested(g1id, "AAPL", Side::Buy, "189.00", 10),
            rested(g2id, "AAPL", Side::Buy, "189.00", 10),
            rested(sgid, "AAPL", Side::Sell, "191.00", 10),
            rested(lid, "AAPL", Side::Buy, "189.00", 10),
            changed(OpeningCall),
        ]
    );
    let (tid, _) = place(&mut d, limit(t, "AAPL", Side::Sell, "189.00", 15));
    let ev = to(&mut d, Continuous);
    assert_eq!(
        fills(&ev),
        vec![
            (g1id, px("189.00"), 10, 10, 0, Liquidity::Maker, Cash::ZERO),
            (tid, px("189.00"), 10, 10, 5, Liquidity::Taker, Cash::ZERO),
            (g2id, px("189.00"), 5, 5, 5, Liquidity::Maker, Cash::ZERO),
            (tid, px("189.00"), 5, 15, 0, Liquidity::Taker, Cash::ZERO),
        ]
    );
    assert!(core(&ev).contains(&auction(
        "AAPL",
        OpeningCall,
        "189.00",
        15,
        Some((15, Side::Buy))
    )));
    assert_eq!(
        orders(&d, "AAPL"),
        vec![
            (g2id, px("189.00"), 5),
            (lid, px("189.00"), 10),
            (sgid, px("191.00"), 10)
        ]
    );
    assert_eq!(cash(&d, a), (usd("98110"), Cash::ZERO));
    assert_eq!(cash(&d, e), (usd("100000"), usd("1890")));
}

#[test]
fn an_extended_hours_day_order_trades_after_the_close_and_expires_entering_closed() {
    let mut d = driver();
    let b = d.funded(100_000);
    let s = d.funded(0);
    d.shares(s, "AAPL", 100);
    let e = extended(limit(b, "AAPL", Side::Buy, "189.00", 10));
    let (eid, _) = place(&mut d, e);
    // The close neither expires nor parks it.
    assert_eq!(
        to(&mut d, AfterHours),
        vec![
            changed(ClosingCall),
            no_auction("AAPL", ClosingCall),
            rested(eid, "AAPL", Side::Buy, "189.00", 10),
            no_auction("KO", ClosingCall),
            changed(AfterHours),
        ]
    );
    let x = extended(limit(s, "AAPL", Side::Sell, "189.00", 4));
    let (xid, ev) = place(&mut d, x);
    assert_eq!(
        fills(&ev),
        vec![
            (eid, px("189.00"), 4, 4, 6, Liquidity::Maker, Cash::ZERO),
            (xid, px("189.00"), 4, 4, 0, Liquidity::Taker, Cash::ZERO),
        ]
    );
    // A regular DAY sell placed now waits for tomorrow's open: it does not meet the bid.
    let r = tif(limit(s, "AAPL", Side::Sell, "189.00", 3), TimeInForce::Day);
    let (rid, ev) = place(&mut d, r);
    assert_eq!(core(&ev), vec![accepted(rid, &r)]);
    // The end of after-hours: the extended DAY order's remainder expires; the one waiting
    // for the open does not.
    assert_eq!(
        core(&to(&mut d, Closed)),
        vec![
            canceled(eid, &e, 6, Some("189.00"), CancelReason::Expired),
            changed(Closed)
        ]
    );
    assert!(d.engine.is_working(rid));
    assert_eq!(cash(&d, b), (usd("99244"), Cash::ZERO));
    assert_eq!(position(&d, s, "AAPL"), (96, 3));
}

#[test]
fn a_stop_reached_in_after_hours_waits_for_continuous_trading_to_trigger() {
    let mut d = driver();
    let h = d.funded(0);
    d.shares(h, "AAPL", 100);
    let (x, y) = (d.funded(100_000), d.funded(0));
    d.shares(y, "AAPL", 100);
    let b = d.funded(100_000);
    let mut stop = limit(h, "AAPL", Side::Sell, "1", 10);
    stop.order_type = OrderType::Stop;
    stop.limit_price = None;
    stop.stop_price = Some(px("188.00"));
    let (hid, _) = place(&mut d, stop);
    // Held stops do not step off at the close.
    assert_eq!(
        to(&mut d, AfterHours),
        vec![
            changed(ClosingCall),
            no_auction("AAPL", ClosingCall),
            no_auction("KO", ClosingCall),
            changed(AfterHours),
        ]
    );
    // An extended-hours trade at 187.50 passes the stop: it does not trigger.
    place(&mut d, extended(limit(x, "AAPL", Side::Buy, "187.50", 10)));
    let (_, ev) = place(&mut d, extended(limit(y, "AAPL", Side::Sell, "187.50", 10)));
    assert_eq!(fills(&ev).len(), 2);
    assert!(!ev.iter().any(|e| matches!(e, Event::OrderTriggered { .. })));
    // Not overnight, nor in the opening call.
    let ev = to(&mut d, OpeningCall);
    assert!(!ev.iter().any(|e| matches!(e, Event::OrderTriggered { .. })));
    let bid = limit(b, "AAPL", Side::Buy, "187.00", 10);
    let (bidid, _) = place(&mut d, bid);
    // Continuous trading starts: the stop triggers on the last trade (187.50) and sells
    // into the bid at once.
    let ev = to(&mut d, Continuous);
    assert_eq!(
        core(&ev),
        vec![
            no_auction("AAPL", OpeningCall),
            rested(bidid, "AAPL", Side::Buy, "187.00", 10),
            no_auction("KO", OpeningCall),
            changed(Continuous),
            Event::OrderTriggered {
                order_id: hid,
                account: h,
                symbol: sym("AAPL"),
                last_price: px("187.50"),
            },
            trade("AAPL", 2, "187.00", 10, Side::Sell, bidid, hid),
            Event::OrderFilled {
                order_id: bidid,
                account: b,
                symbol: sym("AAPL"),
                side: Side::Buy,
                trade_id: TradeId::new(2),
                last_px: px("187.00"),
                last_qty: Qty::shares(10),
                cum_qty: Qty::shares(10),
                leaves_qty: Qty::ZERO,
                cum_notional: usd("1870"),
                liquidity: Liquidity::Maker,
                fee: Cash::ZERO,
                value: px("187.00").notional(Qty::shares(10)).unwrap(),
            },
            Event::OrderFilled {
                order_id: hid,
                account: h,
                symbol: sym("AAPL"),
                side: Side::Sell,
                trade_id: TradeId::new(2),
                last_px: px("187.00"),
                last_qty: Qty::shares(10),
                cum_qty: Qty::shares(10),
                leaves_qty: Qty::ZERO,
                cum_notional: usd("1870"),
                liquidity: Liquidity::Taker,
                fee: Cash::ZERO,
                value: px("187.00").notional(Qty::shares(10)).unwrap(),
            },
        ]
    );
    assert_eq!(cash(&d, h), (usd("1870"), Cash::ZERO));
    assert_eq!(position(&d, h, "AAPL"), (90, 0));
}

#[test]
fn cancelling_waiting_orders_releases_their_reservations() {
    let mut d = driver();
    let a = d.funded(10_000);
    let other = d.funded(10_000);
    d.shares(a, "KO", 100);
    to(&mut d, Closed);
    let gtc = limit(a, "AAPL", Side::Buy, "190.00", 10);
    let opg = tif(limit(a, "KO", Side::Buy, "62.00", 10), TimeInForce::Opg);
    let cls = tif(limit(a, "KO", Side::Sell, "62.50", 20), TimeInForce::Cls);
    let day = tif(limit(a, "KO", Side::Buy, "61.00", 10), TimeInForce::Day);
    let (gid, _) = place(&mut d, gtc);
    let (oid, _) = place(&mut d, opg);
    let (cid, _) = place(&mut d, cls);
    let (did, _) = place(&mut d, day);
    assert_eq!(cash(&d, a), (usd("10000"), usd("3130")));
    assert_eq!(position(&d, a, "KO"), (100, 20));
    // Another account's waiting order is as unknown to it as any.
    let ev = d.run(Command::CancelOrder {
        account: other,
        order_id: gid,
    });
    assert_eq!(rejected(&ev), Some(RejectReason::UnknownOrder));
    let ev = d.run(Command::CancelOrder {
        account: a,
        order_id: gid,
    });
    assert_eq!(
        core(&ev),
        vec![canceled(gid, &gtc, 10, None, CancelReason::Requested)]
    );
    assert_eq!(cash(&d, a), (usd("10000"), usd("1230")));
    let ev = d.run(Command::CancelOnDisconnect {
        account: a,
        order_ids: vec![did],
    });
    assert_eq!(
        core(&ev),
        vec![canceled(
            did,
            &day,
            10,
            None,
            CancelReason::CancelOnDisconnect
        )]
    );
    // A mass cancel takes the rest, the open's line before the close's.
    let ev = d.run(Command::MassCancel {
        account: Some(a),
        symbol: None,
    });
    assert_eq!(
        core(&ev),
        vec![
            canceled(oid, &opg, 10, None, CancelReason::MassCancel),
            canceled(cid, &cls, 20, None, CancelReason::MassCancel),
        ]
    );
    assert_eq!(cash(&d, a), (usd("10000"), Cash::ZERO));
    assert_eq!(position(&d, a, "KO"), (100, 0));
    // Nothing is left to enter the calls.
    assert_eq!(
        to(&mut d, OpeningCall),
        vec![changed(PreMarket), changed(OpeningCall)]
    );
    assert_eq!(
        core(&to(&mut d, ClosingCall)),
        vec![
            no_auction("AAPL", OpeningCall),
            no_auction("KO", OpeningCall),
            changed(Continuous),
            changed(ClosingCall)
        ]
    );
}

#[test]
fn a_waiting_order_or_a_market_order_in_a_call_cannot_be_replaced() {
    let mut d = driver();
    let a = d.funded(100_000);
    d.shares(a, "AAPL", 10);
    to(&mut d, PreMarket);
    let (wid, _) = place(&mut d, limit(a, "AAPL", Side::Buy, "190.00", 10));
    let replace = |order_id| Command::ReplaceOrder {
        account: a,
        order_id,
        qty: Qty::shares(5),
        price: Some(px("189.00")),
    };
    let ev = d.run(replace(wid));
    assert_eq!(ev.len(), 1);
    assert_eq!(rejected(&ev), Some(RejectReason::InvalidOrder));
    assert_eq!(cash(&d, a), (usd("100000"), usd("1900")), "unchanged");
    to(&mut d, OpeningCall);
    // In the call: the market order rests at its collar, but cannot be amended; a limit
    // order can, and rests at its new price without matching.
    let (mid, _) = place(
        &mut d,
        tif(market(a, "AAPL", Side::Sell, 10), TimeInForce::Day),
    );
    let ev = d.run(replace(mid));
    assert_eq!(rejected(&ev), Some(RejectReason::InvalidOrder));
    let ev = d.run(Command::ReplaceOrder {
        account: a,
        order_id: wid,
        qty: Qty::shares(10),
        price: Some(px("191.00")),
    });
    assert!(
        matches!(
            core(&ev)[..],
            [
                Event::OrderReplaced {
                    priority_kept: false,
                    ..
                },
                Event::OrderRested { .. }
            ]
        ),
        "{ev:?}"
    );
    assert!(book(&d, "AAPL").is_crossed());
}

#[test]
fn a_halted_symbol_misses_the_uncross_and_uncrosses_when_it_resumes() {
    let mut d = driver();
    let (b, s) = (d.funded(100_000), d.funded(0));
    d.shares(s, "AAPL", 100);
    d.shares(s, "KO", 100);
    to(&mut d, OpeningCall);
    let (abid, _) = place(&mut d, limit(b, "AAPL", Side::Buy, "190.20", 10));
    let (aask, _) = place(&mut d, limit(s, "AAPL", Side::Sell, "190.00", 10));
    let (kbid, _) = place(&mut d, limit(b, "KO", Side::Buy, "62.00", 5));
    let (kask, _) = place(&mut d, limit(s, "KO", Side::Sell, "62.00", 5));
    assert_eq!(
        d.run(Command::HaltSymbol {
            symbol: sym("AAPL")
        }),
        vec![Event::SymbolHalted {
            symbol: sym("AAPL")
        }]
    );
    // The open: KO uncrosses; AAPL, halted, does not, and stays in its call.
    let ev = to(&mut d, Continuous);
    assert_eq!(
        core(&ev)
            .into_iter()
            .filter(|e| !matches!(e, Event::OrderFilled { .. }))
            .collect::<Vec<_>>(),
        vec![
            trade("KO", 1, "62.00", 5, Side::Sell, kbid, kask),
            auction("KO", OpeningCall, "62.00", 5, None),
            changed(Continuous),
        ]
    );
    assert!(book(&d, "AAPL").in_call() && book(&d, "AAPL").is_crossed());
    assert_eq!(
        refused(&mut d, limit(b, "AAPL", Side::Buy, "190.00", 1)),
        RejectReason::SymbolHalted
    );
    // Resumed in continuous trading: the missed opening auction runs then.
    let ev = d.run(Command::ResumeSymbol {
        symbol: sym("AAPL"),
    });
    assert_eq!(
        core(&ev)
            .into_iter()
            .filter(|e| !matches!(e, Event::OrderFilled { .. }))
            .collect::<Vec<_>>(),
        vec![
            Event::SymbolResumed {
                symbol: sym("AAPL")
            },
            trade("AAPL", 2, "190.00", 10, Side::Sell, abid, aask),
            auction("AAPL", OpeningCall, "190.00", 10, None),
        ]
    );
    assert_eq!(fills(&ev).len(), 2);
    assert!(!book(&d, "AAPL").in_call() && book(&d, "AAPL").is_empty());
    // 10 AAPL at 190.00 and 5 KO at 62.00 bought.
    assert_eq!(cash(&d, b), (usd("97790"), Cash::ZERO));
}

#[test]
fn a_self_match_in_the_uncross_cancels_the_later_order() {
    let mut d = driver();
    let a = d.funded(100_000);
    let b = d.funded(100_000);
    d.shares(a, "AAPL", 100);
    d.shares(a, "KO", 100);
    to(&mut d, OpeningCall);
    let sell = limit(a, "AAPL", Side::Sell, "190.00", 10);
    let own = limit(a, "AAPL", Side::Buy, "190.50", 10);
    let other = limit(b, "AAPL", Side::Buy, "190.00", 10);
    let (sid, _) = place(&mut d, sell);
    let (oid, _) = place(&mut d, own);
    let (bid, _) = place(&mut d, other);
    // KO: an account crossing only itself.
    let (ks, _) = place(&mut d, limit(a, "KO", Side::Sell, "62.00", 5));
    let kb = limit(a, "KO", Side::Buy, "62.00", 5);
    let (kbid, _) = place(&mut d, kb);
    // AAPL would uncross at 190.50, where a's own buy meets a's sell: the later of the two,
    // the buy, is cancelled, and the rest uncrosses at 190.00 with b. The auction reports
    // the price the shares traded at.
    let ev = to(&mut d, Continuous);
    assert_eq!(
        core(&ev)
            .into_iter()
            .filter(|e| !matches!(e, Event::OrderFilled { .. }))
            .collect::<Vec<_>>(),
        vec![
            canceled(oid, &own, 10, Some("190.50"), CancelReason::SelfTrade),
            trade("AAPL", 1, "190.00", 10, Side::Buy, sid, bid),
            auction("AAPL", OpeningCall, "190.00", 10, None),
            canceled(kbid, &kb, 5, Some("62.00"), CancelReason::SelfTrade),
            no_auction("KO", OpeningCall),
            rested(ks, "KO", Side::Sell, "62.00", 5),
            changed(Continuous),
        ]
    );
    assert_eq!(
        fills(&ev),
        vec![
            (sid, px("190.00"), 10, 10, 0, Liquidity::Maker, Cash::ZERO),
            (bid, px("190.00"), 10, 10, 0, Liquidity::Taker, Cash::ZERO),
        ]
    );
    assert_eq!(cash(&d, a), (usd("101900"), Cash::ZERO));
    assert_eq!(position(&d, a, "KO"), (100, 5));
}

#[test]
fn skipping_from_closed_straight_to_continuous_runs_the_opening_auction() {
    let mut d = driver();
    let (b, s) = (d.funded(100_000), d.funded(0));
    d.shares(s, "AAPL", 100);
    to(&mut d, Closed);
    let (bid, _) = place(&mut d, limit(b, "AAPL", Side::Buy, "190.00", 10));
    let (sid, _) = place(&mut d, limit(s, "AAPL", Side::Sell, "190.00", 10));
    let ev = to(&mut d, Continuous);
    assert_eq!(
        core(&ev)
            .into_iter()
            .filter(|e| !matches!(e, Event::OrderFilled { .. }))
            .collect::<Vec<_>>(),
        vec![
            changed(PreMarket),
            rested(bid, "AAPL", Side::Buy, "190.00", 10),
            rested(sid, "AAPL", Side::Sell, "190.00", 10),
            changed(OpeningCall),
            trade("AAPL", 1, "190.00", 10, Side::Sell, bid, sid),
            auction("AAPL", OpeningCall, "190.00", 10, None),
            no_auction("KO", OpeningCall),
            changed(Continuous),
        ]
    );
    // And from continuous trading to pre-market goes through the close: the closing call,
    // after-hours (where regular orders step off), closed.
    let (gid, _) = place(&mut d, limit(b, "AAPL", Side::Buy, "189.00", 10));
    let ev = to(&mut d, PreMarket);
    let sessions: Vec<Session> = ev
        .iter()
        .filter_map(|e| match e {
            Event::SessionChanged { session } => Some(*session),
            _ => None,
        })
        .collect();
    assert_eq!(sessions, vec![ClosingCall, AfterHours, Closed, PreMarket]);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::OrderParked { order_id, .. } if *order_id == gid))
    );
}

/// The whole state but for the last command's number (every command moves that).
fn state(d: &Driver) -> bourse_engine::Snapshot {
    let mut snap = d.engine.snapshot();
    snap.seq = Seq(0);
    snap
}

#[test]
fn the_same_session_again_changes_nothing() {
    let mut d = driver();
    let (b, s) = (d.funded(100_000), d.funded(0));
    d.shares(s, "AAPL", 100);
    let mut stop = limit(b, "AAPL", Side::Buy, "1", 10);
    stop.order_type = OrderType::Stop;
    stop.limit_price = None;
    stop.stop_price = Some(px("195.00"));
    place(&mut d, stop);
    let before = state(&d);
    assert_eq!(to(&mut d, Continuous), vec![]);
    assert_eq!(state(&d), before);
    to(&mut d, PreMarket);
    place(&mut d, limit(b, "AAPL", Side::Buy, "190.00", 10));
    to(&mut d, OpeningCall);
    place(&mut d, limit(s, "AAPL", Side::Sell, "190.00", 10));
    for _ in 0..2 {
        let before = state(&d);
        assert_eq!(
            to(&mut d, OpeningCall),
            vec![],
            "no second call, no re-entry"
        );
        assert_eq!(state(&d), before);
    }
    assert!(book(&d, "AAPL").is_crossed());
}

#[test]
fn the_operators_end_of_day_expires_day_orders_waiting_for_the_open() {
    let mut d = driver();
    let a = d.funded(100_000);
    to(&mut d, AfterHours);
    let day = tif(limit(a, "AAPL", Side::Buy, "190.00", 10), TimeInForce::Day);
    let (did, ev) = place(&mut d, day);
    assert_eq!(core(&ev), vec![accepted(did, &day)], "waits for the open");
    let (gid, _) = place(&mut d, limit(a, "AAPL", Side::Buy, "189.00", 10));
    let opg = tif(limit(a, "KO", Side::Buy, "62.00", 10), TimeInForce::Opg);
    let (oid, _) = place(&mut d, opg);
    let ev = d.run(Command::EndOfDay);
    let Some(Event::DayEnded { .. }) = core(&ev).last().copied() else {
        panic!("{ev:?}")
    };
    assert_eq!(
        core(&ev)[..1],
        [canceled(did, &day, 10, None, CancelReason::Expired)]
    );
    assert!(!d.engine.is_working(did) && d.engine.is_working(gid) && d.engine.is_working(oid));
    assert_eq!(cash(&d, a), (usd("100000"), usd("2510")));
    // The GTC and on-open orders still enter the next opening call.
    assert_eq!(
        to(&mut d, OpeningCall),
        vec![
            changed(Closed),
            changed(PreMarket),
            rested(gid, "AAPL", Side::Buy, "189.00", 10),
            rested(oid, "KO", Side::Buy, "62.00", 10),
            changed(OpeningCall),
        ]
    );
}

#[test]
fn a_symbol_halted_through_the_close_has_no_closing_auction_and_keeps_no_on_close_order() {
    let mut d = driver();
    let (b, s) = (d.funded(100_000), d.funded(0));
    d.shares(s, "AAPL", 100);
    let cls = tif(limit(s, "AAPL", Side::Sell, "190.00", 10), TimeInForce::Cls);
    let gtc = limit(b, "AAPL", Side::Buy, "190.00", 10);
    let day = tif(limit(b, "AAPL", Side::Buy, "189.00", 10), TimeInForce::Day);
    let (cid, _) = place(&mut d, cls);
    let (gid, _) = place(&mut d, gtc);
    let (did, _) = place(&mut d, day);
    to(&mut d, ClosingCall);
    d.run(Command::HaltSymbol {
        symbol: sym("AAPL"),
    });
    // The close: no AAPL auction. The on-close order's auction is over (it is not kept for
    // tomorrow's open), the DAY order expires, the GTC order steps off as any other night.
    assert_eq!(
        core(&to(&mut d, AfterHours)),
        vec![
            canceled(cid, &cls, 10, Some("190.00"), CancelReason::AuctionUnfilled),
            canceled(did, &day, 10, Some("189.00"), CancelReason::Expired),
            parked(gid, &gtc, 10, "190.00"),
            no_auction("KO", ClosingCall),
            changed(AfterHours),
        ]
    );
    assert_eq!(position(&d, s, "AAPL"), (100, 0));
    assert_eq!(cash(&d, b), (usd("100000"), usd("1900")));
    // Resumed after the close: the missed auction has nothing left to match.
    assert_eq!(
        d.run(Command::ResumeSymbol {
            symbol: sym("AAPL")
        }),
        vec![
            Event::SymbolResumed {
                symbol: sym("AAPL")
            },
            no_auction("AAPL", ClosingCall),
        ]
    );
    assert!(!book(&d, "AAPL").in_call());
    assert_eq!(
        to(&mut d, OpeningCall),
        vec![
            changed(Closed),
            changed(PreMarket),
            rested(gid, "AAPL", Side::Buy, "190.00", 10),
            changed(OpeningCall),
        ]
    );
}

#[test]
fn an_on_open_order_halted_through_the_whole_morning_does_not_join_the_closing_call() {
    let mut d = driver();
    let (b, s) = (d.funded(100_000), d.funded(0));
    d.shares(s, "AAPL", 100);
    to(&mut d, OpeningCall);
    let opg = tif(limit(b, "AAPL", Side::Buy, "190.00", 10), TimeInForce::Opg);
    let (oid, _) = place(&mut d, opg);
    let sell = limit(s, "AAPL", Side::Sell, "190.00", 10);
    let (sid, _) = place(&mut d, sell);
    d.run(Command::HaltSymbol {
        symbol: sym("AAPL"),
    });
    assert_eq!(
        to(&mut d, Continuous),
        vec![no_auction("KO", OpeningCall), changed(Continuous)]
    );
    assert!(book(&d, "AAPL").in_call());
    // Still halted when the closing call starts: the on-open order's auction is over.
    assert_eq!(
        core(&to(&mut d, ClosingCall)),
        vec![
            canceled(oid, &opg, 10, Some("190.00"), CancelReason::AuctionUnfilled),
            changed(ClosingCall),
        ]
    );
    assert_eq!(cash(&d, b), (usd("100000"), Cash::ZERO));
    // Resumed in the closing call, AAPL uncrosses at the close: the sell finds no buyer.
    let ev = d.run(Command::ResumeSymbol {
        symbol: sym("AAPL"),
    });
    assert_eq!(
        ev,
        vec![Event::SymbolResumed {
            symbol: sym("AAPL")
        }]
    );
    // The sell (GTC, regular hours) steps off at the close, before the uncross's report.
    let ev = to(&mut d, AfterHours);
    assert_eq!(
        ev[..2],
        [
            parked(sid, &sell, 10, "190.00"),
            no_auction("AAPL", ClosingCall),
        ]
    );
    assert!(!ev.iter().any(|e| matches!(e, Event::Trade { .. })));
}

// ------------------------------------------------------------------ restarts and replays

/// Two trading days and a bit, as commands: opening and closing calls with crossing
/// orders, on-open, on-close and market orders waiting for them, extended hours, parked
/// orders, a stop, a halt through the open, cancels and the operator's end of day.
fn two_days() -> Vec<Command> {
    let a = |n| AccountId::new(n);
    let (a1, a2, a3, a4) = (a(1), a(2), a(3), a(4));
    let submit = Command::SubmitOrder;
    let session = |session| Command::SetSession { session };
    let mut stop = limit(a3, "AAPL", Side::Sell, "1", 10);
    stop.order_type = OrderType::Stop;
    stop.limit_price = None;
    stop.stop_price = Some(px("188.00"));
    let mut cmds = vec![Command::OpenAccount; 4];
    for acc in [a1, a2, a3, a4] {
        cmds.push(Command::Deposit {
            account: acc,
            amount: usd("1000000"),
        });
    }
    for (acc, s) in [(a3, "AAPL"), (a3, "KO"), (a4, "AAPL"), (a4, "KO")] {
        cmds.push(Command::DepositShares {
            account: acc,
            symbol: sym(s),
            qty: Qty::shares(1_000),
        });
    }
    cmds.extend([
        // Day one, continuous trading.
        submit(limit(a1, "AAPL", Side::Buy, "189.00", 50)),
        submit(limit(a3, "AAPL", Side::Sell, "191.00", 30)),
        submit(tif(
            limit(a4, "AAPL", Side::Sell, "190.00", 20),
            TimeInForce::Cls,
        )),
        submit(tif(
            limit(a2, "AAPL", Side::Buy, "190.50", 20),
            TimeInForce::Cls,
        )),
        submit(stop),
        submit(limit(a2, "KO", Side::Buy, "62.00", 40)),
        submit(market(a4, "KO", Side::Sell, 15)),
        // The close: the on-close orders trade; the GTC orders step off.
        session(ClosingCall),
        submit(tif(
            limit(a1, "KO", Side::Buy, "62.10", 5),
            TimeInForce::Cls,
        )),
        session(AfterHours),
        submit(extended(limit(a2, "KO", Side::Buy, "62.00", 10))),
        submit(extended(limit(a4, "KO", Side::Sell, "61.90", 6))),
        submit(tif(
            limit(a1, "AAPL", Side::Buy, "190.00", 10),
            TimeInForce::Day,
        )),
        session(PreMarket),
        // Day two: orders for the open, an extended-hours trade.
        submit(tif(
            limit(a2, "AAPL", Side::Buy, "192.00", 40),
            TimeInForce::Opg,
        )),
        submit(tif(market(a4, "AAPL", Side::Sell, 15), TimeInForce::Opg)),
        submit(tif(
            limit(a4, "AAPL", Side::Sell, "190.00", 5),
            TimeInForce::Cls,
        )),
        submit(tif(
            limit(a1, "KO", Side::Buy, "62.50", 5),
            TimeInForce::Opg,
        )),
        submit(limit(a4, "KO", Side::Sell, "61.50", 5)),
        submit(extended(limit(a3, "AAPL", Side::Sell, "190.20", 3))),
        submit(extended(limit(a2, "AAPL", Side::Buy, "190.30", 2))),
        session(OpeningCall),
        submit(limit(a3, "AAPL", Side::Sell, "189.50", 20)),
        submit(tif(market(a1, "AAPL", Side::Buy, 5), TimeInForce::Day)),
        Command::HaltSymbol { symbol: sym("KO") },
        // (A restart here finds a crossed book in a call and orders waiting for the close.)
        session(Continuous),
        Command::ResumeSymbol { symbol: sym("KO") },
        submit(market(a2, "AAPL", Side::Buy, 10)),
        submit(limit(a4, "AAPL", Side::Sell, "187.50", 10)),
        Command::CancelOrder {
            account: a1,
            order_id: OrderId::new(1),
        },
        Command::MassCancel {
            account: Some(a2),
            symbol: None,
        },
        // A trade at 187.90 reaches the stop; it finds no bid left.
        submit(limit(a1, "AAPL", Side::Buy, "187.90", 5)),
        submit(limit(a4, "AAPL", Side::Sell, "187.90", 5)),
        session(AfterHours),
        Command::EndOfDay,
        // Straight to the next day's continuous trading: the open runs on the way.
        session(Continuous),
        submit(limit(a1, "AAPL", Side::Buy, "190.00", 10)),
        session(Closed),
    ]);
    cmds
}

fn sequenced(n: usize, cmd: &Command) -> Sequenced {
    let seq = u64::try_from(n + 1).unwrap();
    Sequenced {
        seq: Seq(seq),
        ts: UnixNanos::new(seq * 1_000),
        cmd: cmd.clone(),
    }
}

fn fresh() -> Engine {
    let ins = common::instruments()
        .into_iter()
        .filter(|i| ["AAPL", "KO"].contains(&i.symbol.as_str()))
        .collect();
    Engine::new(
        EngineConfig {
            maker_fee_bps: 5,
            taker_fee_bps: 20,
            ..EngineConfig::default()
        },
        ins,
    )
    .unwrap()
}

/// Applies `cmds[from..]` (numbered from `from`), checking the invariants after each;
/// returns the events, tagged and numbered on the accounts' streams as the runner would.
fn apply(engine: &mut Engine, cmds: &[Command], from: usize) -> Vec<bourse_core::Tagged> {
    let mut tagged = Vec::new();
    let mut out = Vec::new();
    for (k, cmd) in cmds.iter().enumerate().skip(from) {
        let s = sequenced(k, cmd);
        out.clear();
        engine.apply(&s, &mut out);
        if let Err(e) = engine.check_invariants() {
            panic!("after {cmd:?}: {e}");
        }
        tagged.extend(engine.tag(s.seq, s.ts, &out));
    }
    tagged
}

#[test]
fn the_two_day_script_does_what_it_says() {
    let cmds = two_days();
    let mut engine = fresh();
    let events: Vec<Event> = apply(&mut engine, &cmds, 0)
        .into_iter()
        .map(|t| t.event)
        .collect();
    let count = |f: &dyn Fn(&Event) -> bool| events.iter().filter(|e| f(e)).count();
    assert_eq!(
        count(&|e| matches!(e, Event::Rejected { .. })),
        0,
        "{events:?}"
    );
    let auctions: Vec<(Symbol, Session, Option<Price>, u64)> = events
        .iter()
        .filter_map(|e| match *e {
            Event::AuctionUncrossed {
                symbol,
                session,
                price,
                volume,
                ..
            } if price.is_some() => Some((symbol, session, price, volume.whole_shares())),
            _ => None,
        })
        .collect();
    assert_eq!(
        auctions,
        vec![
            (sym("AAPL"), ClosingCall, Some(px("190.00")), 20),
            // 45 trade at 191.00 or 192.00 with 21 shares more to sell: 191.00 is nearer
            // the last trade (190.20, in pre-market).
            (sym("AAPL"), OpeningCall, Some(px("191.00")), 45),
            // Halted through the open, KO uncrosses when it resumes.
            (sym("KO"), OpeningCall, Some(px("62.50")), 5),
        ]
    );
    for reason in [
        CancelReason::AuctionUnfilled,
        CancelReason::MarketRemainder,
        CancelReason::Expired,
        CancelReason::Requested,
        CancelReason::MassCancel,
    ] {
        assert!(
            count(&|e| matches!(e, Event::OrderCanceled { reason: r, .. } if *r == reason)) > 0,
            "{reason:?}"
        );
    }
    assert!(count(&|e| matches!(e, Event::OrderParked { .. })) >= 2);
    assert_eq!(count(&|e| matches!(e, Event::OrderTriggered { .. })), 1);
    assert_eq!(engine.session(), Closed);
}

#[test]
fn a_restart_from_a_snapshot_taken_in_the_opening_call_continues_exactly() {
    let cmds = two_days();
    let mut straight = fresh();
    let all = apply(&mut straight, &cmds, 0);
    let want = straight.state_hash().unwrap();
    // Every cut, and especially the one in the opening call with the market halted for KO.
    let in_call = cmds
        .iter()
        .position(|c| matches!(c, Command::HaltSymbol { .. }))
        .unwrap()
        + 1;
    for cut in 0..=cmds.len() {
        let mut first = fresh();
        let mut events = apply(&mut first, &cmds[..cut], 0);
        let bytes = bourse_core::codec::encode(&first.snapshot()).unwrap();
        let snap: bourse_engine::Snapshot = bourse_core::codec::decode(&bytes).unwrap();
        let mut restored = Engine::restore(snap).unwrap();
        assert_eq!(restored.state_hash().unwrap(), first.state_hash().unwrap());
        if cut == in_call {
            assert_eq!(restored.session(), OpeningCall);
            let aapl = restored.book(sym("AAPL")).unwrap();
            assert!(aapl.in_call() && aapl.is_crossed());
            assert!(restored.book(sym("KO")).unwrap().in_call());
            // The day's on-close order waits, on no book.
            let cls = events
                .iter()
                .rev()
                .find_map(|t| match t.event {
                    Event::OrderAccepted {
                        order_id,
                        tif: TimeInForce::Cls,
                        ..
                    } => Some(order_id),
                    _ => None,
                })
                .unwrap();
            assert!(restored.is_working(cls) && aapl.order(cls).is_none());
        }
        events.extend(apply(&mut restored, &cmds, cut));
        assert_eq!(events, all, "cut at {cut}");
        assert_eq!(restored.state_hash().unwrap(), want, "cut at {cut}");
    }
}

#[test]
fn replaying_the_same_commands_gives_the_same_events_and_state() {
    let cmds = two_days();
    let (mut one, mut two) = (fresh(), fresh());
    let first = apply(&mut one, &cmds, 0);
    let second = apply(&mut two, &cmds, 0);
    assert_eq!(first, second);
    assert_eq!(one.state_hash().unwrap(), two.state_hash().unwrap());
    assert_eq!(one.snapshot(), two.snapshot());
}
