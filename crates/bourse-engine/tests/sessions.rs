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
    Qty, RejectReason, Seq, Sequenced, Session, Side, Symbol, TimeInForce, TradeId, UnixNanos,
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
    }
}

fn rested(id: OrderId, symbol: &str, side: Side, price: &str, qty: u64) -> Event {
    Event::OrderRested {
        order_id: id,
        symbol: sym(symbol),
        side,
        price: px(price),
        qty: Qty::new(qty),
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
        volume: Qty::new(volume),
        imbalance: Qty::new(imbalance.map_or(0, |i| i.0)),
        imbalance_side: imbalance.map(|i| i.1),
    }
}

fn trade(symbol: &str, n: u64, price: &str, qty: u64, maker: OrderId, taker: OrderId) -> Event {
    // Filled in below by the caller's knowledge of sides: the aggressor is the taker's side.
    Event::Trade {
        symbol: sym(symbol),
        trade_id: TradeId::new(n),
        price: px(price),
        qty: Qty::new(qty),
        aggressor: Side::Buy,
        maker_order: maker,
        taker_order: taker,
    }
}

/// [`trade`] whose taker sold.
fn trade_sold(symbol: &str, n: u64, price: &str, qty: u64, maker: OrderId, taker: OrderId) -> Event {
    match trade(symbol, n, price, qty, maker, taker) {
        Event::Trade {
            symbol,
            trade_id,
            price,
            qty,
            maker_order,
            taker_order,
            ..
        } => Event::Trade {
            symbol,
            trade_id,
            price,
            qty,
            aggressor: Side::Sell,
            maker_order,
            taker_order,
        },
        _ => unreachable!(),
    }
}

/// One execution report, the fields that vary: (order, price, qty, cum, leaves, liquidity, fee).
type Fill = (OrderId, Cash, u64, u64, u64, Liquidity, Cash);

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
                Cash::from_raw(last_px.raw()),
                last_qty.get(),
                cum_qty.get(),
                leaves_qty.get(),
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
        qty: Qty::new(qty),
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
        qty: Qty::new(qty),
        resting_price: Some(px(price)),
    }
}

fn cash(d: &Driver, a: AccountId) -> (Cash, Cash) {
    d.engine.cash(a).unwrap()
}

fn position(d: &Driver, a: AccountId, symbol: &str) -> (u64, u64) {
    let (q, r) = d.engine.position(a, sym(symbol)).unwrap();
    (q.get(), r.get())
}

fn book(d: &Driver, symbol: &str) -> &bourse_book::OrderBook {
    d.engine.book(sym(symbol)).unwrap()
}

/// The book's orders, bids best first then asks, in priority: (id, price, open quantity).
fn orders(d: &Driver, symbol: &str) -> Vec<(OrderId, Cash, u64)> {
    [Side::Buy, Side::Sell]
        .into_iter()
        .flat_map(|s| book(d, symbol).orders(s))
        .map(|o| (o.id, Cash::from_raw(o.price.raw()), o.qty.get()))
        .collect()
}

fn p(s: &str) -> Cash {
    usd(s)
}

// ------------------------------------------------------------------------------- the day

#[test]
fn a_day_walks_every_session_in_order_and_an_order_placed_overnight_trades_at_the_open() {
    let mut d = driver();
    assert_eq!(d.engine.session(), Continuous, "without a calendar: always open");
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
            trade_sold("AAPL", 1, "189.00", 100, bid, sid),
            Event::OrderFilled {
                order_id: bid,
                account: b,
                symbol: sym("AAPL"),
                side: Side::Buy,
                trade_id: TradeId::new(1),
                last_px: px("189.00"),
                last_qty: Qty::new(100),
                cum_qty: Qty::new(100),
                leaves_qty: Qty::ZERO,
                cum_notional: usd("18900"),
                liquidity: Liquidity::Maker,
                fee: Cash::ZERO,
            },
            Event::OrderFilled {
                order_id: sid,
                account: s,
                symbol: sym("AAPL"),
                side: Side::Sell,
                trade_id: TradeId::new(1),
                last_px: px("189.00"),
                last_qty: Qty::new(100),
                cum_qty: Qty::new(100),
                leaves_qty: Qty::ZERO,
                cum_notional: usd("18900"),
                liquidity: Liquidity::Taker,
                fee: Cash::ZERO,
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
                qty: Qty::new(100),
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
            (rid, p("189.50"), 40, 40, 0, Liquidity::Maker, Cash::ZERO),
            (tid, p("189.50"), 40, 40, 0, Liquidity::Taker, Cash::ZERO),
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
                rested(id, "AAPL", r.side, &price, r.qty.get())
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
        (indicative.price, indicative.volume.get()),
        (px("190.50"), 250)
    );
    // The buys reserve their limit value plus the worst fee (30 bps) and a unit per share.
    assert_eq!(cash(&d, b1), (usd("100000"), usd("28735.965")));

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
            last_qty: Qty::new(qty),
            cum_qty: Qty::new(cum),
            leaves_qty: Qty::new(leaves),
            cum_notional: usd(notional),
            liquidity: if maker {
                Liquidity::Maker
            } else {
                Liquidity::Taker
            },
            fee: usd(fee),
        }
    };
    let (buy, sell) = (Side::Buy, Side::Sell);
    assert_eq!(
        core(&ev),
        vec![
            trade("AAPL", 1, "190.50", 100, s1o, b1o),
            fill(s1o, s1, sell, 1, 100, 100, 0, "19050", true, "19.05"),
            fill(b1o, b1, buy, 1, 100, 100, 50, "19050", false, "57.15"),
            trade_sold("AAPL", 2, "190.50", 50, b1o, s2o),
            fill(b1o, b1, buy, 2, 50, 150, 0, "28575", true, "9.525"),
            fill(s2o, s2, sell, 2, 50, 50, 50, "9525", false, "28.575"),
            trade("AAPL", 3, "190.50", 50, s2o, b2o),
            fill(s2o, s2, sell, 3, 50, 100, 0, "19050", true, "9.525"),
            fill(b2o, b2, buy, 3, 50, 50, 50, "9525", false, "28.575"),
            trade_sold("AAPL", 4, "190.50", 50, b2o, s3o),
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
    assert_eq!(cash(&d, b3), (usd("100000"), usd("18956.71")));
    assert_eq!(position(&d, s1, "AAPL"), (900, 0));
    assert_eq!(position(&d, s2, "AAPL"), (900, 0));
    assert_eq!(position(&d, s3, "AAPL"), (950, 150));
    assert_eq!(position(&d, b1, "AAPL"), (150, 0));
    assert_eq!(position(&d, b2, "AAPL"), (100, 0));
    assert_eq!(d.engine.fees_collected(), usd("190.50"));
    // Continuous trading goes on from the uncrossed book.
    assert_eq!(
        orders(&d, "AAPL"),
        vec![(b3o, p("189.00"), 100), (s3o, p("190.50"), 150)]
    );
    let ev = d.run(Command::SubmitOrder(market(b1, "AAPL", Side::Buy, 10)));
    assert_eq!(fills(&ev)[0], (s3o, p("190.50"), 10, 60, 140, Liquidity::Maker, usd("1.905")));
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
            (bid, p("190.00"), 60, 60, 40, Liquidity::Maker, Cash::ZERO),
            (sid, p("190.00"), 60, 60, 0, Liquidity::Taker, Cash::ZERO),
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
            trade("AAPL", 1, "190.00", 50, cid, bid),
            Event::OrderFilled {
                order_id: cid,
                account: s,
                symbol: sym("AAPL"),
                side: Side::Sell,
                trade_id: TradeId::new(1),
                last_px: px("190.00"),
                last_qty: Qty::new(50),
                cum_qty: Qty::new(50),
                leaves_qty: Qty::ZERO,
                cum_notional: usd("9500"),
                liquidity: Liquidity::Maker,
                fee: Cash::ZERO,
            },
            Event::OrderFilled {
                order_id: bid,
                account: b,
                symbol: sym("AAPL"),
                side: Side::Buy,
                trade_id: TradeId::new(1),
                last_px: px("190.00"),
                last_qty: Qty::new(50),
                cum_qty: Qty::new(50),
                leaves_qty: Qty::ZERO,
                cum_notional: usd("9500"),
                liquidity: Liquidity::Taker,
                fee: Cash::ZERO,
            },
            canceled(lid, &late, 30, Some("189.00"), CancelReason::AuctionUnfilled),
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
            no_auction("AAPL", OpeningCall),
            no_auction("KO", OpeningCall),
            changed(Closed),
            changed(PreMarket),
            changed(OpeningCall),
            changed(Continuous),
        ]
        .into_iter()
        .filter(|e| !matches!(e, Event::AuctionUncrossed { .. }))
        .chain([])
        .collect::<Vec<_>>()
        .is_empty()
        .then(Vec::new)
        .unwrap_or_else(|| {
            vec![
                changed(Closed),
                changed(PreMarket),
                changed(OpeningCall),
                no_auction("AAPL", OpeningCall),
                no_auction("KO", OpeningCall),
                changed(Continuous),
            ]
        })
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
