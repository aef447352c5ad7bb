//! Trailing stops, one rule per test, as a trader would expect them: the stop follows the
//! best trade in the order's favour by its trail and never moves back; it triggers as a
//! stop does; it is exchange state like any other order.
#![allow(clippy::unwrap_used)]

mod common;

use bourse_core::{
    AccountId, CancelReason, Command, Event, OrderId, OrderRequest, OrderType, Price, RejectReason,
    Side, Trail,
};
use bourse_engine::{Engine, EngineConfig};
use common::{Driver, limit, market, px};

/// A KO market: a seller with 10,000 shares and a buyer with $1,000,000.
fn ko() -> (Driver, AccountId, AccountId) {
    let mut d = Driver::new(EngineConfig::default());
    let seller = d.funded(0);
    d.shares(seller, "KO", 10_000);
    let buyer = d.funded(1_000_000);
    (d, seller, buyer)
}

fn trailing(account: AccountId, side: Side, qty: u64, trail: Trail) -> OrderRequest {
    let mut r = limit(account, "KO", side, "1", qty);
    r.order_type = OrderType::TrailingStop;
    r.limit_price = None;
    r.opts.trail = Some(trail);
    r
}

/// Trades `qty` KO at `price` between the two accounts (the seller rests, the buyer takes).
fn trade(d: &mut Driver, seller: AccountId, buyer: AccountId, price: &str, qty: u64) -> Vec<Event> {
    d.run(Command::SubmitOrder(limit(
        seller,
        "KO",
        Side::Sell,
        price,
        qty,
    )));
    d.run(Command::SubmitOrder(limit(
        buyer,
        "KO",
        Side::Buy,
        price,
        qty,
    )))
}

fn moves(ev: &[Event]) -> Vec<(OrderId, Price, Price)> {
    ev.iter()
        .filter_map(|e| match *e {
            Event::OrderStopMoved {
                order_id,
                stop_price,
                water,
                ..
            } => Some((order_id, stop_price, water)),
            _ => None,
        })
        .collect()
}

fn accepted(ev: &[Event]) -> OrderId {
    ev.iter()
        .find_map(|e| match e {
            Event::OrderAccepted { order_id, .. } => Some(*order_id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("not accepted: {ev:?}"))
}

#[test]
fn a_sell_trailing_stop_follows_the_high_and_triggers_the_trail_below_it() {
    let (mut d, seller, buyer) = ko();
    trade(&mut d, seller, buyer, "62.00", 100);
    let holder = buyer;
    // 1.00 below the last trade (62.00): the stop starts at 61.00.
    let ev = d.run(Command::SubmitOrder(trailing(
        holder,
        Side::Sell,
        100,
        Trail::Price(px("1.00")),
    )));
    let id = accepted(&ev);
    assert_eq!(moves(&ev), [(id, px("61.00"), px("62.00"))]);
    assert!(
        matches!(ev[0], Event::OrderAccepted { stop_price: Some(p), order_type: OrderType::TrailingStop, .. } if p == px("61.00"))
    );
    // Up to 63.50: the stop follows to 62.50.
    let ev = trade(&mut d, seller, buyer, "63.50", 10);
    assert_eq!(moves(&ev), [(id, px("62.50"), px("63.50"))]);
    // Down to 63.00: it stays (a stop never moves back).
    let ev = trade(&mut d, seller, buyer, "63.00", 10);
    assert!(moves(&ev).is_empty(), "{ev:?}");
    // A bid at 62.40 (another account's) and a trade at 62.50: triggered, it sells at
    // market into the bid.
    let bidder = d.funded(1_000_000);
    d.run(Command::SubmitOrder(limit(
        bidder,
        "KO",
        Side::Buy,
        "62.40",
        500,
    )));
    let ev = trade(&mut d, seller, buyer, "62.50", 10);
    assert!(
        ev.iter().any(|e| matches!(e, Event::OrderTriggered { order_id, last_price, .. } if *order_id == id && *last_price == px("62.50"))),
        "{ev:?}"
    );
    let filled: Vec<(Price, u64)> = ev
        .iter()
        .filter_map(|e| match *e {
            Event::OrderFilled {
                order_id,
                last_px,
                last_qty,
                ..
            } if order_id == id => Some((last_px, last_qty.whole_shares())),
            _ => None,
        })
        .collect();
    assert_eq!(filled, [(px("62.40"), 100)]);
    assert!(!d.engine.is_working(id));
}

#[test]
fn a_sweep_moves_the_stop_once_to_its_highest_trade() {
    let (mut d, seller, buyer) = ko();
    trade(&mut d, seller, buyer, "62.00", 100);
    let ev = d.run(Command::SubmitOrder(trailing(
        buyer,
        Side::Sell,
        100,
        Trail::Price(px("1.00")),
    )));
    let id = accepted(&ev);
    // Offers at 62.10, 62.20 and 62.30, then one buy through all three: one move, to the
    // trail below 62.30 (the marks end where they would trade by trade).
    for p in ["62.10", "62.20", "62.30"] {
        d.run(Command::SubmitOrder(limit(seller, "KO", Side::Sell, p, 10)));
    }
    let ev = d.run(Command::SubmitOrder(limit(
        buyer,
        "KO",
        Side::Buy,
        "62.30",
        30,
    )));
    let trades = ev
        .iter()
        .filter(|e| matches!(e, Event::Trade { .. }))
        .count();
    assert_eq!(trades, 3, "{ev:?}");
    assert_eq!(moves(&ev), [(id, px("61.30"), px("62.30"))]);
    // The move comes after the sweep's fills.
    let last_fill = ev
        .iter()
        .rposition(|e| matches!(e, Event::OrderFilled { .. }))
        .unwrap();
    let moved = ev
        .iter()
        .position(|e| matches!(e, Event::OrderStopMoved { .. }))
        .unwrap();
    assert!(moved > last_fill, "{ev:?}");
}

#[test]
fn a_buy_trailing_stop_follows_the_low_by_a_percentage() {
    let (mut d, seller, buyer) = ko();
    trade(&mut d, seller, buyer, "62.00", 100);
    // 2 % above 62.00 = 63.24.
    let ev = d.run(Command::SubmitOrder(trailing(
        buyer,
        Side::Buy,
        50,
        Trail::Bps(200),
    )));
    let id = accepted(&ev);
    assert_eq!(moves(&ev), [(id, px("63.24"), px("62.00"))]);
    // Down to 60.00: 61.20. Up to 61.00: stays.
    let ev = trade(&mut d, seller, buyer, "60.00", 10);
    assert_eq!(moves(&ev), [(id, px("61.20"), px("60.00"))]);
    assert!(moves(&trade(&mut d, seller, buyer, "61.00", 10)).is_empty());
    // 60.51: 1.02 × 60.51 = 61.7202, rounded up to 61.73 (away from the market).
    let ev = trade(&mut d, seller, buyer, "60.51", 10);
    assert!(
        moves(&ev).is_empty(),
        "60.51 is not below the low of 60.00: {ev:?}"
    );
    // An ask at 61.30 (another account's) and a trade at 61.20: triggered, it buys there.
    let asker = d.funded(0);
    d.shares(asker, "KO", 500);
    d.run(Command::SubmitOrder(limit(
        asker,
        "KO",
        Side::Sell,
        "61.30",
        500,
    )));
    let ev = trade(&mut d, seller, buyer, "61.20", 10);
    assert!(ev.iter().any(|e| matches!(e, Event::OrderFilled { order_id, last_px, .. } if *order_id == id && *last_px == px("61.30"))), "{ev:?}");
}

#[test]
fn cancelling_releases_the_reservation_and_stops_the_following() {
    let (mut d, seller, buyer) = ko();
    trade(&mut d, seller, buyer, "62.00", 100);
    let before = d.engine.cash(buyer).unwrap();
    let ev = d.run(Command::SubmitOrder(trailing(
        buyer,
        Side::Buy,
        50,
        Trail::Price(px("0.50")),
    )));
    let id = accepted(&ev);
    let (_, reserved) = d.engine.cash(buyer).unwrap();
    // Reserved like a stop buy: 50 × (62.50 + the 5 % collar, on the tick) = 50 × 65.62.
    assert_eq!(
        reserved,
        before
            .1
            .checked_add(px("65.62").notional(bourse_core::Qty::shares(50)).unwrap())
            .unwrap()
    );
    let ev = d.run(Command::CancelOrder {
        account: buyer,
        order_id: id,
    });
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::OrderCanceled {
            reason: CancelReason::Requested,
            ..
        }
    )));
    assert_eq!(d.engine.cash(buyer).unwrap(), before);
    assert!(moves(&trade(&mut d, seller, buyer, "61.00", 10)).is_empty());
}

#[test]
fn bad_trails_are_refused_and_a_resend_is_known_after_the_market_moved() {
    let (mut d, seller, buyer) = ko();
    let refused = |d: &mut Driver, r: OrderRequest| {
        d.run(Command::SubmitOrder(r)).iter().find_map(|e| match e {
            Event::Rejected { reason, .. } => Some(*reason),
            _ => None,
        })
    };
    let mut none = trailing(seller, Side::Sell, 10, Trail::Bps(100));
    none.opts.trail = None;
    assert_eq!(refused(&mut d, none), Some(RejectReason::InvalidTrail));
    let mut on_limit = limit(seller, "KO", Side::Sell, "62.00", 10);
    on_limit.opts.trail = Some(Trail::Bps(100));
    assert_eq!(refused(&mut d, on_limit), Some(RejectReason::InvalidTrail));
    for t in [
        Trail::Bps(0),
        Trail::Bps(10_000),
        Trail::Price(px("0.005")),
        Trail::Price(px("62.00")),
    ] {
        assert_eq!(
            refused(&mut d, trailing(seller, Side::Sell, 10, t)),
            Some(RejectReason::InvalidTrail),
            "{t:?}"
        );
    }
    let mut a = trailing(seller, Side::Sell, 10, Trail::Price(px("1.00")));
    a.client_order_id = Some("t-1".parse().unwrap());
    let id = accepted(&d.run(Command::SubmitOrder(a)));
    trade(&mut d, seller, buyer, "63.00", 10);
    // The same request again, with the market elsewhere: a resend, not a new order.
    let ev = d.run(Command::SubmitOrder(a));
    assert!(
        matches!(ev[..], [Event::Rejected { reason: RejectReason::ResentOrder, order_id: Some(o), .. }] if o == id),
        "{ev:?}"
    );
}

#[test]
fn a_restart_in_the_middle_follows_as_the_straight_run_does() {
    let (mut d, seller, buyer) = ko();
    trade(&mut d, seller, buyer, "62.00", 100);
    d.run(Command::SubmitOrder(trailing(
        buyer,
        Side::Sell,
        60,
        Trail::Bps(150),
    )));
    d.run(Command::SubmitOrder(trailing(
        buyer,
        Side::Buy,
        5,
        Trail::Price(px("0.30")),
    )));
    trade(&mut d, seller, buyer, "62.80", 10);
    let mut restored = Engine::restore(d.engine.snapshot()).unwrap();
    assert_eq!(
        restored.state_hash().unwrap(),
        d.engine.state_hash().unwrap()
    );
    for (p, q) in [("63.40", 10), ("61.90", 10), ("62.00", 5), ("61.00", 20)] {
        let cmds = [
            Command::SubmitOrder(limit(seller, "KO", Side::Sell, p, q)),
            Command::SubmitOrder(limit(buyer, "KO", Side::Buy, p, q)),
            Command::SubmitOrder(market(buyer, "KO", Side::Buy, 1)),
        ];
        for c in cmds {
            let seq = d.seq + 1;
            let straight = d.run(c.clone());
            let mut out = Vec::new();
            restored.apply(
                &bourse_core::Sequenced {
                    seq: bourse_core::Seq(seq),
                    ts: bourse_core::UnixNanos::new(seq * 1_000),
                    cmd: c,
                },
                &mut out,
            );
            assert_eq!(out, straight);
        }
    }
    assert_eq!(
        restored.state_hash().unwrap(),
        d.engine.state_hash().unwrap()
    );
    restored.check_invariants().unwrap();
}
